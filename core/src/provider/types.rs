//! What every provider module shares: the config, the request and its encodings, the events a
//! reply streams as, cancellation, and the [`Provider`] trait. The runner ([`super::start`]) and
//! the wire formats build on it; it depends on nothing of theirs.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::model::{
    AgentSession, Attachment, History, ProviderError, ProviderErrorKind, Usage,
};

/// Which wire format a provider speaks (or which coding agent it runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI Chat Completions (also Ollama `/v1`, llama.cpp, vLLM, LM Studio, OpenRouter, …).
    Openai,
    /// Anthropic Messages API.
    Anthropic,
    /// Ollama's native `/api/chat`.
    Ollama,
    /// A local program.
    Command,
    /// Claude Code, run headless (`claude -p`): a coding agent that keeps its own session.
    #[serde(rename = "claude-code")]
    ClaudeCode,
    /// Codex CLI, run headless (`codex exec`).
    Codex,
    /// Another coding agent, configured by an argv template and a JSON-lines event mapping.
    Agent,
}

impl ProviderKind {
    /// Parses a kind name as written in the config.
    pub fn parse(s: &str) -> Option<ProviderKind> {
        match s {
            "openai" => Some(ProviderKind::Openai),
            "anthropic" => Some(ProviderKind::Anthropic),
            "ollama" => Some(ProviderKind::Ollama),
            "command" => Some(ProviderKind::Command),
            "claude-code" => Some(ProviderKind::ClaudeCode),
            "codex" => Some(ProviderKind::Codex),
            "agent" => Some(ProviderKind::Agent),
            _ => None,
        }
    }

    /// The name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Ollama => "ollama",
            ProviderKind::Command => "command",
            ProviderKind::ClaudeCode => "claude-code",
            ProviderKind::Codex => "codex",
            ProviderKind::Agent => "agent",
        }
    }

    /// Whether it runs a coding agent (which keeps the conversation's history in its own
    /// session) rather than sending the transcript to a model.
    pub fn is_agent(self) -> bool {
        matches!(
            self,
            ProviderKind::ClaudeCode | ProviderKind::Codex | ProviderKind::Agent
        )
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a provider needs to reach its model; built by [`crate::config`].
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The wire format.
    pub kind: ProviderKind,
    /// Base URL, e.g. `https://api.openai.com/v1`, `https://api.anthropic.com`,
    /// `http://127.0.0.1:11434` (no trailing slash needed).
    pub base_url: String,
    /// Default model (a request carries its own).
    pub model: String,
    /// The API key, read from the environment variable named by `provider.api_key_env`.
    /// Never written anywhere.
    pub api_key: Option<String>,
    /// The name of that environment variable, for error messages.
    pub api_key_env: String,
    /// For `command`: the argv (program first).
    pub command: Vec<String>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// `max_tokens` for APIs that require it (Anthropic).
    pub max_tokens: u32,
    /// For the coding agents (`claude-code`, `codex`, `agent`): how they are run.
    pub agent: AgentOptions,
}

/// How a coding agent is run (`provider.*` keys of the agent kinds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentOptions {
    /// `provider.binary`: the program (`claude`, `codex` when empty).
    pub binary: String,
    /// `provider.permission_mode`: Claude Code's `--permission-mode` (empty: its own default).
    pub permission_mode: String,
    /// `provider.sandbox`: Codex's `sandbox_mode` (empty: its own config's).
    pub sandbox: String,
    /// `provider.args`: more arguments, put before the prompt.
    pub args: Vec<String>,
    /// `provider.resume_command` (`agent`): the argv of a later turn, with `{session}`.
    pub resume_command: Vec<String>,
    /// `provider.fork_command` (`agent`): the argv of a fork's first turn, with `{session}`.
    pub fork_command: Vec<String>,
    /// `provider.events` (`agent`): which JSON lines say what, as written in the config
    /// (`name = "TYPE /pointer [/pointer=value]"`).
    pub events: Vec<(String, String)>,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The system prompt.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// `"system"`, `"user"` or `"assistant"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of the transcript sent to a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// The text.
    pub content: String,
    /// Text attached to it (a pane, piped input, files), sent in each API's own shape (see
    /// [`AttachmentShape`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// How a wire format carries a message's attachments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentShape {
    /// `content` becomes an array of text parts: one `{"type":"text","text":…}` per attachment
    /// (framed with its source, see [`Attachment::framed`]), then the message itself. OpenAI
    /// Chat Completions and the Anthropic Messages API both take this form.
    TextParts,
    /// `content` stays one string: the framed attachments, then the message
    /// ([`crate::model::joined_content`]). Ollama's native API.
    Joined,
    /// As `Joined`, plus `"attachments": [{"source": …, "bytes": …}]` beside `content`, so a
    /// program can tell what was attached. The `command` provider.
    JoinedWithSources,
}

/// A request: the whole transcript to send.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    /// Model name.
    pub model: String,
    /// System prompt, if any (sent the way each API expects it).
    pub system: Option<String>,
    /// Earlier messages already encoded as JSON objects `{"role":…,"content":…}` separated by
    /// commas (the store keeps a conversation's history in this form beside its log, so a long
    /// conversation is neither parsed nor re-encoded for a query, and can be streamed from its
    /// file). Sent before `messages`; user and assistant roles only.
    pub history: Option<History>,
    /// The turns so far (after `history`), oldest first, ending with the new user message.
    pub messages: Vec<Message>,
    /// Ask the API to stream (`false` = one JSON response).
    pub stream: bool,
    /// For a coding agent: the session the conversation continues (`None`: a new one; with
    /// `fork` set, the agent forks it).
    pub agent: Option<AgentSession>,
}

/// A request body in three parts, so a long history is streamed from its file rather than
/// copied: `prefix`, the history, `suffix`. Its length is known before anything is sent.
#[derive(Debug)]
pub struct RequestBody {
    prefix: Vec<u8>,
    history: Option<History>,
    suffix: Vec<u8>,
}

impl RequestBody {
    /// The total length in bytes.
    pub fn len(&self) -> u64 {
        self.prefix.len() as u64
            + self.history.as_ref().map_or(0, History::len)
            + self.suffix.len() as u64
    }

    /// Whether the body is empty (never, for a JSON object).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A reader over the whole body.
    pub fn into_reader(self) -> impl std::io::Read + Send + 'static {
        use std::io::Read;
        let history: Box<dyn Read + Send> = match self.history {
            None => Box::new(std::io::empty()),
            Some(History::Bytes(b)) => Box::new(std::io::Cursor::new(ArcBytes(b))),
            Some(History::File { file, offset, len }) => Box::new(FileRange {
                file,
                pos: offset,
                end: offset + len,
            }),
        };
        std::io::Cursor::new(self.prefix)
            .chain(history)
            .chain(std::io::Cursor::new(self.suffix))
    }

    /// The whole body in memory.
    pub fn to_vec(self) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let mut v = Vec::with_capacity(self.len() as usize);
        let expected = self.len() as usize;
        self.into_reader().read_to_end(&mut v)?;
        if v.len() != expected {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the history file is shorter than recorded",
            ));
        }
        Ok(v)
    }
}

struct ArcBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

struct FileRange {
    file: Arc<std::fs::File>,
    pos: u64,
    end: u64,
}

impl std::io::Read for FileRange {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the history file is shorter than recorded",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl ChatRequest {
    /// The body: `head` (a JSON object) with `"messages": [...]` added: the system prompt first
    /// when `system_first` (OpenAI, Ollama), then the history, then `messages` (`system`-role
    /// entries of `messages` are left out when `skip_system`).
    pub fn body(
        &self,
        head: &serde_json::Value,
        system_first: bool,
        skip_system: bool,
    ) -> RequestBody {
        self.body_shaped(head, system_first, skip_system, AttachmentShape::Joined)
    }

    /// [`body`](Self::body), with attachments in `shape`.
    pub fn body_shaped(
        &self,
        head: &serde_json::Value,
        system_first: bool,
        skip_system: bool,
        shape: AttachmentShape,
    ) -> RequestBody {
        let mut prefix = serde_json::to_vec(head).expect("JSON values serialise");
        debug_assert_eq!(prefix.last(), Some(&b'}'));
        prefix.pop();
        if prefix.len() > 1 {
            prefix.push(b',');
        }
        prefix.extend_from_slice(b"\"messages\":[");
        let encode = |role: &str, content: &str| -> Vec<u8> {
            serde_json::to_vec(&serde_json::json!({"role": role, "content": content}))
                .expect("serialises")
        };
        let mut any = false;
        if system_first {
            if let Some(system) = self.system.as_deref().filter(|s| !s.is_empty()) {
                prefix.extend_from_slice(&encode("system", system));
                any = true;
            }
        }
        let history = self.history.clone().filter(|h| !h.is_empty());
        if history.is_some() {
            if any {
                prefix.push(b',');
            }
            any = true;
        }
        let mut suffix = Vec::new();
        for m in &self.messages {
            if skip_system && m.role == Role::System {
                continue;
            }
            if any {
                suffix.push(b',');
            }
            any = true;
            if m.attachments.is_empty() {
                suffix.extend_from_slice(&encode(m.role.as_str(), &m.content));
            } else {
                suffix.extend_from_slice(&encode_with_attachments(m, shape));
            }
        }
        suffix.extend_from_slice(b"]}");
        RequestBody {
            prefix,
            history,
            suffix,
        }
    }

    /// [`body`](Self::body), in memory.
    pub fn body_with_messages(
        &self,
        head: &serde_json::Value,
        system_first: bool,
        skip_system: bool,
    ) -> Vec<u8> {
        self.body(head, system_first, skip_system)
            .to_vec()
            .expect("in-memory bodies read")
    }
}

/// One message with attachments as a JSON object in `shape`.
fn encode_with_attachments(m: &Message, shape: AttachmentShape) -> Vec<u8> {
    use serde_json::json;
    let v = match shape {
        AttachmentShape::TextParts => {
            let mut parts: Vec<serde_json::Value> = m
                .attachments
                .iter()
                .map(|a| json!({"type": "text", "text": a.framed()}))
                .collect();
            parts.push(json!({"type": "text", "text": m.content}));
            json!({"role": m.role.as_str(), "content": parts})
        }
        AttachmentShape::Joined => json!({
            "role": m.role.as_str(),
            "content": crate::model::joined_content(&m.content, &m.attachments),
        }),
        AttachmentShape::JoinedWithSources => json!({
            "role": m.role.as_str(),
            "content": crate::model::joined_content(&m.content, &m.attachments),
            "attachments": m.attachments.iter().map(|a| json!({"source": a.source, "bytes": a.text.len()})).collect::<Vec<_>>(),
        }),
    };
    serde_json::to_vec(&v).expect("serialises")
}

/// What a provider reports while a reply streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// More reply text.
    Delta(String),
    /// Token usage (may arrive more than once; later values win field by field).
    Usage(Usage),
    /// The model the server says answered (if it differs from the one asked).
    Model(String),
    /// The coding agent named its session (sent again at the end with the session's running
    /// token total).
    Session(AgentSession),
    /// The coding agent started running a tool (`Some(name)`), or the tool ended (`None`).
    /// The tool's line for the reader comes as a `Delta`.
    Tool(Option<String>),
    /// What the turn cost, in US dollars, as the agent reports it.
    Cost(serde_json::Number),
    /// The coding agent said something that is not part of the reply (it thinks, reports
    /// progress, warns): it is alive, which the idle timeout counts.
    Alive,
    /// The reply is complete.
    Done {
        /// Why generation stopped (`stop`, `length`, `end_turn`, …), when given.
        finish_reason: Option<String>,
    },
}

/// Lets the caller stop a running provider (kills the command provider's child).
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    inner: Arc<CancelInner>,
}

#[derive(Debug, Default)]
struct CancelInner {
    cancelled: AtomicBool,
    child_pid: AtomicI32,
    /// The child is a coding agent leading a session of its own, its processes marked with
    /// this value of [`AGENT_MARK_VAR`]: cancelling signals every process of that session or
    /// with that mark, whatever its process group or session.
    mark: std::sync::Mutex<Option<String>>,
}

/// The environment variable that marks every process a coding agent run starts (its tools'
/// shells too, which an agent may detach into sessions of their own): its value names the run.
pub const AGENT_MARK_VAR: &str = "PANECHAT_AGENT_RUN";

impl CancelToken {
    /// Asks the provider to stop; kills a registered child process (SIGTERM to its process
    /// group when it leads one, as the command provider's child does, so its own children go
    /// too; otherwise to the process alone).
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        let pid = self.inner.child_pid.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: plain kill(2) on a pid this process spawned and has not reaped yet (the
            // command provider clears it before reaping). A process group with id `pid` can only
            // be the one that process leads.
            unsafe {
                if libc::kill(-pid, libc::SIGTERM) != 0 {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            if let Some(mark) = self.mark() {
                signal_agent(pid, &mark, libc::SIGTERM);
            }
        }
    }

    /// Registers a coding agent that leads a session of its own, its processes marked with
    /// `mark` ([`AGENT_MARK_VAR`]): cancelling then signals every one of them.
    pub fn set_child_agent(&self, pid: i32, mark: &str) {
        *self.inner.mark.lock().unwrap_or_else(|e| e.into_inner()) = Some(mark.to_string());
        self.set_child(pid);
    }

    /// The mark of a registered coding agent's processes.
    pub fn mark(&self) -> Option<String> {
        self.inner
            .mark
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// The child process registered, if any.
    pub fn child(&self) -> Option<i32> {
        Some(self.inner.child_pid.load(Ordering::SeqCst)).filter(|p| *p > 0)
    }

    /// Registers the child process to kill on cancel (0 clears it).
    pub fn set_child(&self, pid: i32) {
        self.inner.child_pid.store(pid, Ordering::SeqCst);
    }
}

/// Sends `sig` to a coding agent's processes: process group `sid`, every process of session
/// `sid`, and every process of this user whose environment has [`AGENT_MARK_VAR`]`=mark` (a
/// tool's shell an agent detached into a session of its own, even once its parent is gone).
/// The number of processes found.
pub fn signal_agent(sid: i32, mark: &str, sig: libc::c_int) -> usize {
    if sid <= 0 {
        return 0;
    }
    // SAFETY: kill(2) on a process group this process created (its leader's pid is not reused
    // while the group or session has members).
    unsafe {
        libc::kill(-sid, sig);
    }
    let found = agent_processes(sid, mark);
    for &pid in &found {
        // SAFETY: as above; a process of the agent's session, or marked as the agent's.
        unsafe {
            libc::kill(pid, sig);
        }
    }
    found.len()
}

/// The live processes of a coding agent: those of session `sid` and this user's processes
/// marked `mark` ([`AGENT_MARK_VAR`]).
pub fn agent_processes(sid: i32, mark: &str) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let want = format!("{AGENT_MARK_VAR}={mark}");
    // SAFETY: getuid(2) has no preconditions.
    let me = unsafe { libc::getuid() };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid as u32 == std::process::id() {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the command name's closing parenthesis: state ppid pgrp session …
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        if fields.next() == Some("Z") {
            continue;
        }
        if fields.nth(2).and_then(|s| s.parse::<i32>().ok()) == Some(sid) {
            out.push(pid);
            continue;
        }
        if mark.is_empty() || e.metadata().map(|m| m.uid()).ok() != Some(me) {
            continue;
        }
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|kv| kv == want.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

/// What the worker thread sends.
#[derive(Debug)]
pub enum StreamItem {
    /// An event from the provider.
    Event(StreamEvent),
    /// The provider failed; nothing more follows.
    Failed(ProviderError),
    /// The worker finished. After a `Done` event this is just the end of the channel. Without
    /// one it means the provider stopped because it was cancelled or the receiver went away:
    /// the HTTP providers report a stream that ends before its terminal event as
    /// `Failed(Protocol)` ("stream ended before the reply was complete") and the command
    /// provider reports a clean exit as `Done`, so `Ended` without `Done` is a failure
    /// ([`StreamHandle::next_event`]).
    Ended,
}

/// A running request.
pub struct StreamHandle {
    pub(super) rx: Receiver<StreamItem>,
    pub(super) cancel: CancelToken,
}

/// The message of a reply whose stream ended before its `Done` event.
pub const INTERRUPTED: &str =
    "the provider stopped before the reply was complete (the reply was interrupted)";

impl StreamHandle {
    /// Waits up to `timeout` for the next item.
    pub fn next_timeout(&self, timeout: Duration) -> Result<StreamItem, RecvTimeoutError> {
        self.rx.recv_timeout(timeout)
    }

    /// The next event, waiting up to `timeout` (`Ok(None)`: none came in time). The one policy
    /// of every consumer: a reply is complete only with its `Done` event (read nothing after
    /// it); a provider failure is an error, and so is a stream that ends before `Done` (the
    /// worker stopped or went away), so a reply cut short is never taken for a whole one.
    pub fn next_event(&self, timeout: Duration) -> Result<Option<StreamEvent>, ProviderError> {
        match self.rx.recv_timeout(timeout) {
            Ok(StreamItem::Event(ev)) => Ok(Some(ev)),
            Ok(StreamItem::Failed(e)) => Err(e),
            Ok(StreamItem::Ended) | Err(RecvTimeoutError::Disconnected) => {
                Err(ProviderError::new(ProviderErrorKind::Protocol, INTERRUPTED))
            }
            Err(RecvTimeoutError::Timeout) => Ok(None),
        }
    }

    /// Stops the provider (best effort; the worker thread may linger until process exit).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The provider's child process while it runs (the command provider's program, a coding
    /// agent).
    pub fn child(&self) -> Option<i32> {
        self.cancel.child()
    }

    /// The mark of a coding agent's processes ([`AGENT_MARK_VAR`]), once it runs.
    pub fn mark(&self) -> Option<String> {
        self.cancel.mark()
    }

    /// Waits up to `timeout` for the worker to finish (after [`cancel`](Self::cancel): a coding
    /// agent's worker ends once every process of the agent's session is gone); whether it did.
    pub fn wait_ended(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(StreamItem::Event(_)) => {}
                Ok(_) | Err(RecvTimeoutError::Disconnected) => return true,
                Err(RecvTimeoutError::Timeout) => return false,
            }
        }
    }
}

/// Implemented by each wire format.
pub trait Provider: Send + Sync {
    /// Sends `req` and reports events to `emit` until the reply is done or fails.
    /// `emit` returns `false` when the caller is gone (stop early).
    fn stream(
        &self,
        req: &ChatRequest,
        cancel: &CancelToken,
        emit: &mut dyn FnMut(StreamEvent) -> bool,
    ) -> Result<(), ProviderError>;
}

/// Merges a later usage report into an earlier one, field by field.
pub fn merge_usage(into: &mut Usage, later: Usage) {
    if later.input_tokens.is_some() {
        into.input_tokens = later.input_tokens;
    }
    if later.output_tokens.is_some() {
        into.output_tokens = later.output_tokens;
    }
}

/// Joins a base URL and a path with exactly one `/` between them.
pub fn join_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}
