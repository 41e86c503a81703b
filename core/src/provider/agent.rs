//! The coding agents as back-ends: `claude-code` (Claude Code, `claude -p`), `codex` (Codex CLI,
//! `codex exec`) and `agent` (any agent that prints JSON lines, configured by an argv template
//! and an event mapping).
//!
//! An agent keeps the conversation's history in a session of its own: a turn sends only the new
//! message (with its attachments framed before it), and the request names the session to
//! continue ([`ChatRequest::agent`]): a new one, a resumed one (`claude --resume ID`, `codex exec
//! resume ID`) or a fork (`claude --resume ID --fork-session`, `codex exec fork ID`).
//!
//! **Process.** The agent is run with an argv, never through a shell, with standard input from
//! `/dev/null` (an open pipe stalls both CLIs), in a session of its own (`setsid`), every process
//! of the run marked by a variable ([`AGENT_MARK_VAR`]), so everything it starts (tools,
//! shells), whatever process group or session it makes (Claude Code detaches its tools'
//! shells), is found and ended with it: a cancel sends SIGTERM to all of them, SIGKILL after two
//! seconds. Claude Code
//! runs in the directory its session belongs to.
//!
//! **Output.** Standard output is read line by line, each line one JSON object. Text is sent as
//! it arrives; each tool call becomes one inert line (`▸ Bash: cargo test`) followed by one line
//! for its outcome (`  ✓ 12 lines`, `  ✗ exit 1: …`); the agent's session id is reported
//! ([`StreamEvent::Session`]), and so are the tokens and the cost. A turn is complete only when
//! the agent said so (Claude Code's `result`, Codex's `turn.completed`, the mapping's `done`) and
//! exited with status 0; anything else is an error that says what to do.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::command::{keep_stderr, kill_group, stderr_tail, wait_exit};
use super::http::clean;
use super::types::*;

/// The longest JSON line read from an agent; a longer one is an error.
const MAX_LINE: usize = 64 << 20;

/// How much of a tool's input or outcome its line shows.
const TOOL_LINE: usize = 160;

/// A coding agent run as the provider.
pub struct AgentProvider {
    cfg: ProviderConfig,
}

impl AgentProvider {
    /// Builds it.
    pub fn new(cfg: ProviderConfig) -> Self {
        AgentProvider { cfg }
    }
}

/// The prompt a turn sends: the new message with its attachments framed before it.
fn prompt(req: &ChatRequest) -> String {
    req.messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| crate::model::joined_content(&m.content, &m.attachments))
        .unwrap_or_default()
}

/// The program of a kind: `provider.binary`, else the agent's usual name.
pub fn program(cfg: &ProviderConfig) -> String {
    if !cfg.agent.binary.is_empty() {
        return cfg.agent.binary.clone();
    }
    match cfg.kind {
        ProviderKind::ClaudeCode => "claude".into(),
        ProviderKind::Codex => "codex".into(),
        _ => cfg.command.first().cloned().unwrap_or_default(),
    }
}

/// Whether Claude Code's file of session `s` (`$CLAUDE_CONFIG_DIR`, else `~/.claude`, then
/// `projects/<its directory, each character but letters and digits as ->/<id>.jsonl`) ends with
/// the message the last stored turn ended with (`s.at`): then resuming it as it is gives the
/// stored history. `false` when that cannot be told (no such file, another layout): the caller
/// then resumes from `s.at` explicitly.
pub fn claude_session_ends_at(env: &crate::env::Env, s: &AgentSession) -> bool {
    let (Some(at), Some(cwd)) = (s.at.as_deref(), s.cwd.as_deref()) else {
        return false;
    };
    let base = match (env.get("CLAUDE_CONFIG_DIR"), env.get("HOME")) {
        (Some(d), _) if !d.is_empty() => std::path::PathBuf::from(d),
        (_, Some(h)) if !h.is_empty() => Path::new(h).join(".claude"),
        _ => return false,
    };
    if !crate::agents::plain_id(&s.id) {
        return false;
    }
    let dir: String = cwd
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let path = base
        .join("projects")
        .join(dir)
        .join(format!("{}.jsonl", s.id));
    let Some(tail) = file_tail(&path, 256 * 1024) else {
        return false;
    };
    // (the first line of a tail may be cut: it does not parse, and is skipped)
    String::from_utf8_lossy(&tail)
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| matches!(v["type"].as_str(), Some("user" | "assistant")))
        .is_some_and(|v| v["uuid"].as_str() == Some(at))
}

/// The last `max` bytes of regular file `path` (opened without blocking, so a FIFO in its place
/// is refused rather than waited on).
fn file_tail(path: &Path, max: u64) -> Option<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    let meta = f.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    f.seek(SeekFrom::Start(meta.len().saturating_sub(max)))
        .ok()?;
    let mut buf = Vec::new();
    f.take(max).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// The agent's name in messages.
fn agent_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::ClaudeCode => "Claude Code",
        ProviderKind::Codex => "Codex",
        _ => "the agent",
    }
}

/// The argv of a turn (program first) and the directory to run it in (`None`: here).
pub fn argv(
    cfg: &ProviderConfig,
    req: &ChatRequest,
) -> Result<(Vec<String>, Option<String>), ProviderError> {
    let prompt = prompt(req);
    let model = req.model.trim();
    let o = &cfg.agent;
    let session = req.agent.as_ref().filter(|s| !s.id.is_empty());
    let mut v = vec![program(cfg)];
    let cwd = session.and_then(|s| s.cwd.clone());
    match cfg.kind {
        ProviderKind::ClaudeCode => {
            v.extend(
                [
                    "-p",
                    "--output-format",
                    "stream-json",
                    "--verbose",
                    "--include-partial-messages",
                ]
                .map(String::from),
            );
            if !model.is_empty() && model != "default" {
                v.extend(["--model".into(), model.into()]);
            }
            if !o.permission_mode.is_empty() {
                v.extend(["--permission-mode".into(), o.permission_mode.clone()]);
            }
            if let Some(s) = session {
                v.extend(["--resume".into(), s.id.clone()]);
                // From the end of the last stored turn: not what a killed or failed turn left.
                if let Some(at) = &s.at {
                    v.extend(["--resume-session-at".into(), at.clone()]);
                }
                if s.fork {
                    v.push("--fork-session".into());
                }
            }
            v.extend(o.args.iter().cloned());
            v.extend(["--".into(), prompt]);
            Ok((v, cwd))
        }
        ProviderKind::Codex => {
            v.push("exec".into());
            match session {
                Some(s) if s.fork => v.push("fork".into()),
                Some(_) => v.push("resume".into()),
                None => {}
            }
            v.extend(["--json", "--skip-git-repo-check"].map(String::from));
            if !model.is_empty() && model != "default" {
                v.extend(["--model".into(), model.into()]);
            }
            if !o.sandbox.is_empty() {
                v.extend(["-c".into(), format!("sandbox_mode=\"{}\"", o.sandbox)]);
            }
            v.extend(o.args.iter().cloned());
            v.push("--".into());
            if let Some(s) = session {
                v.push(s.id.clone());
            }
            v.push(prompt);
            // Codex resumes a thread from anywhere.
            Ok((v, None))
        }
        _ => {
            let template = match session {
                None => &cfg.command,
                Some(s) if s.fork => &o.fork_command,
                Some(_) => &o.resume_command,
            };
            if template.is_empty() {
                let key = if session.is_some_and(|s| s.fork) {
                    "provider.fork_command"
                } else {
                    "provider.resume_command"
                };
                return Err(agent_error(format!(
                    "this conversation continues an agent session, but {key} is not set; set it to the agent's argv with {{session}} and {{prompt}} (see docs/config.md), or ask in a new conversation (`panechat q --new`)"
                )));
            }
            let id = session.map_or("", |s| s.id.as_str());
            let filled: Vec<String> = template
                .iter()
                .map(|a| {
                    a.replace("{session}", id)
                        .replace("{model}", model)
                        .replace("{prompt}", &prompt)
                })
                .collect();
            Ok((filled, cwd))
        }
    }
}

fn agent_error(message: String) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Agent, message)
}

impl Provider for AgentProvider {
    fn stream(
        &self,
        req: &ChatRequest,
        cancel: &CancelToken,
        emit: &mut dyn FnMut(StreamEvent) -> bool,
    ) -> Result<(), ProviderError> {
        let mut parser = Parser::new(&self.cfg, req)?;
        // `--resume-session-at` (a flag Claude Code does not list in its help) only when the
        // session holds more than the stored turns: after a killed or failed turn.
        let trimmed;
        let req = match req.agent.as_ref() {
            Some(s)
                if self.cfg.kind == ProviderKind::ClaudeCode
                    && claude_session_ends_at(&crate::env::Env::capture(), s) =>
            {
                let mut r = req.clone();
                if let Some(a) = r.agent.as_mut() {
                    a.at = None;
                }
                trimmed = r;
                &trimmed
            }
            _ => req,
        };
        let (argv, cwd) = argv(&self.cfg, req)?;
        let (program, args) = argv.split_first().expect("a program");
        let name = agent_name(self.cfg.kind);
        if let Some(dir) = &cwd {
            if !Path::new(dir).is_dir() {
                return Err(agent_error(format!(
                    "{name} resumes session {} only from its directory {}, which no longer exists; recreate it, or ask in a new conversation (`panechat q --new`)",
                    clean(req.agent.as_ref().map_or("", |s| s.id.as_str()), 80),
                    clean(dir, 300)
                )));
            }
        }
        // Every process of the run carries its mark, so it is found however it detaches.
        let mark = format!(
            "{}.{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env(AGENT_MARK_VAR, &mark)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &cwd {
            cmd.current_dir(dir);
        }
        // SAFETY: setsid(2) is async-signal-safe and touches nothing of this process.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| spawn_error(self.cfg.kind, program, e))?;
        let pid = child.id() as i32;
        cancel.set_child_agent(pid, &mark);
        if cancel.is_cancelled() {
            signal_agent(pid, &mark, libc::SIGTERM);
        }
        let err_rx = keep_stderr(child.stderr.take());

        let mut stopped = false;
        let mut read_error = None;
        if let Some(stdout) = child.stdout.take() {
            let mut r = BufReader::with_capacity(64 * 1024, stdout);
            let mut line = Vec::new();
            loop {
                if cancel.is_cancelled() {
                    break;
                }
                line.clear();
                match (&mut r)
                    .take(MAX_LINE as u64 + 1)
                    .read_until(b'\n', &mut line)
                {
                    Ok(0) => break,
                    Ok(_) if line.len() > MAX_LINE => {
                        read_error = Some(format!(
                            "{name} wrote a line longer than {} MiB",
                            MAX_LINE >> 20
                        ));
                        stopped = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        read_error = Some(format!("reading the output of {name}: {e}"));
                        break;
                    }
                }
                let mut events = Vec::new();
                // (a line that is not JSON is a warning printed to stdout: not an event)
                if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                    parser.line(&v, &mut events);
                }
                if events.is_empty() {
                    // Thinking, progress, an event panechat does not show: the agent is alive.
                    events.push(StreamEvent::Alive);
                }
                if events.into_iter().any(|ev| !emit(ev)) {
                    stopped = true;
                    break;
                }
            }
        }
        if stopped {
            signal_agent(pid, &mark, libc::SIGTERM);
        }
        wait_exit(pid, cancel, stopped, Some(&mark));
        cancel.set_child(0);
        let status = child.wait();
        if cancel.is_cancelled() {
            // Every process of its session goes with it (a tool's may outlive the agent).
            end_agent(pid, &mark);
            return Ok(());
        }
        if stopped && read_error.is_none() {
            end_agent(pid, &mark);
            return Ok(());
        }
        let status = status
            .map_err(|e| agent_error(format!("`{program}`: could not get its exit status: {e}")))?;
        if let Some(e) = read_error {
            return Err(ProviderError::new(ProviderErrorKind::Io, e));
        }
        let stderr = err_rx
            .recv_timeout(Duration::from_millis(500))
            .unwrap_or_default();
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        if let Some(e) = parser.failure(status.code(), &stderr) {
            return Err(e);
        }
        if status.success() && parser.done {
            for ev in parser.finish() {
                emit(ev);
            }
            emit(StreamEvent::Done {
                finish_reason: None,
            });
            return Ok(());
        }
        let how = match (status.code(), status.signal()) {
            (Some(0), _) => "exited before its turn was complete".to_string(),
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(sig)) => format!("was killed by signal {sig}"),
            (None, None) => format!("failed ({status})"),
        };
        let tail = stderr_tail(stderr.as_bytes());
        let program = clean(program, 200);
        Err(agent_error(if tail.is_empty() {
            format!("{name} (`{program}`) {how} (no error output)")
        } else {
            format!("{name} (`{program}`) {how}:\n{tail}")
        }))
    }
}

/// Ends what is left of the agent `sid` leads, marked `mark` (SIGTERM, then SIGKILL), once the
/// agent itself exited.
fn end_agent(sid: i32, mark: &str) {
    if signal_agent(sid, mark, libc::SIGTERM) == 0 {
        return;
    }
    let t = std::time::Instant::now();
    while t.elapsed() < super::command::KILL_GRACE {
        if agent_processes(sid, mark).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    kill_group(sid, libc::SIGKILL);
    signal_agent(sid, mark, libc::SIGKILL);
}

/// A clear message for an agent that could not start.
fn spawn_error(kind: ProviderKind, program: &str, e: std::io::Error) -> ProviderError {
    let shown = clean(program, 200);
    let name = agent_name(kind);
    let install = match kind {
        ProviderKind::ClaudeCode => {
            "install Claude Code (npm install -g @anthropic-ai/claude-code)"
        }
        ProviderKind::Codex => "install Codex (npm install -g @openai/codex)",
        _ => "install it",
    };
    let key = match kind {
        ProviderKind::Agent => "provider.command",
        _ => "provider.binary",
    };
    agent_error(match e.kind() {
        std::io::ErrorKind::NotFound if program.contains('/') => {
            format!("{name}'s program `{shown}` does not exist; fix {key}")
        }
        std::io::ErrorKind::NotFound => format!(
            "{name}'s program `{shown}` was not found in PATH; {install}, or set {key} to its full path"
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "{name}'s program `{shown}` cannot be run (permission denied); make it executable or fix {key}"
        ),
        _ => format!("could not start {name}'s program `{shown}`: {e}"),
    })
}

/// The text of a JSON value for a line: a string as is, anything else as JSON.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One tool call as one inert line: `▸ Bash: cargo test`.
pub fn tool_line(name: &str, detail: &str) -> String {
    let name = panechat_vocab::text::inert_to(name, 40);
    let detail = panechat_vocab::text::inert_to(detail, TOOL_LINE);
    if detail.is_empty() {
        format!("▸ {name}\n")
    } else {
        format!("▸ {name}: {detail}\n")
    }
}

/// A tool's outcome as one inert line: `  ✓ 3 lines`, `  ✗ exit 1: no such file`.
pub fn outcome_line(ok: bool, what: &str, output: &str) -> String {
    let first = output.lines().map(str::trim).find(|l| !l.is_empty());
    let lines = output.lines().filter(|l| !l.trim().is_empty()).count();
    let mark = if ok { '✓' } else { '✗' };
    let mut s = String::from(what);
    match (ok, first) {
        (true, Some(_)) => {
            if !s.is_empty() {
                s.push_str(", ");
            }
            s.push_str(&if lines == 1 {
                "1 line".to_string()
            } else {
                format!("{lines} lines")
            });
        }
        (false, Some(f)) => {
            if !s.is_empty() {
                s.push_str(": ");
            }
            s.push_str(f);
        }
        (_, None) => {}
    }
    if s.is_empty() {
        s.push_str(if ok { "done" } else { "failed" });
    }
    format!(
        "  {mark} {}\n",
        panechat_vocab::text::inert_to(&s, TOOL_LINE)
    )
}

/// The detail shown for a Claude Code tool's input: the command, the file, the pattern…
fn claude_detail(input: &Value) -> String {
    for key in [
        "command",
        "file_path",
        "path",
        "pattern",
        "url",
        "query",
        "description",
        "prompt",
    ] {
        if let Some(s) = input.get(key).and_then(Value::as_str) {
            return s.to_string();
        }
    }
    input
        .as_object()
        .and_then(|o| o.values().find_map(Value::as_str))
        .unwrap_or_default()
        .to_string()
}

/// One rule of an `agent` event mapping: lines whose type is `ty` (and, with `when`, whose
/// value at a pointer is the given text) carry the value at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The line's type.
    pub ty: String,
    /// Where the value is (a JSON pointer), if the rule takes one.
    pub at: Option<String>,
    /// A condition: the value at this pointer must be this text.
    pub when: Option<(String, String)>,
}

/// The names an `agent` event mapping may give (`provider.events`).
pub const EVENT_NAMES: &[&str] = &[
    "type",
    "session",
    "text",
    "tool",
    "tool_detail",
    "tool_result",
    "tool_error",
    "error",
    "done",
    "input_tokens",
    "output_tokens",
    "cost",
];

/// Parses one mapping entry, `TYPE [/pointer] [/pointer=value]` (for `type`: a pointer alone).
pub fn parse_rule(name: &str, spec: &str) -> Result<Rule, String> {
    let form = "\"TYPE /pointer\" (the line's type, then a JSON pointer to the value), optionally followed by a condition \"/pointer=value\"";
    let mut words = spec.split_whitespace();
    let Some(ty) = words.next() else {
        return Err(format!("`{name}` must be {form}"));
    };
    if name == "type" {
        if !ty.starts_with('/') || words.next().is_some() {
            return Err(format!(
                "`type` must be the JSON pointer to the field naming a line's type, e.g. \"/type\", got \"{spec}\""
            ));
        }
        return Ok(Rule {
            ty: String::new(),
            at: Some(ty.to_string()),
            when: None,
        });
    }
    let mut rule = Rule {
        ty: ty.to_string(),
        at: None,
        when: None,
    };
    for w in words {
        match w.split_once('=') {
            Some((p, v)) if p.starts_with('/') && rule.when.is_none() => {
                rule.when = Some((p.to_string(), v.to_string()))
            }
            None if w.starts_with('/') && rule.at.is_none() && rule.when.is_none() => {
                rule.at = Some(w.to_string())
            }
            _ => return Err(format!("`{name}` must be {form}, got \"{spec}\"")),
        }
    }
    let needs_value = !matches!(name, "done" | "tool_result" | "tool_error");
    if needs_value && rule.at.is_none() {
        return Err(format!(
            "`{name}` must be {form}: it needs the pointer to its value, got \"{spec}\""
        ));
    }
    Ok(rule)
}

/// What a back-end's lines mean.
enum Flavor {
    Claude,
    Codex,
    Mapped {
        ty: String,
        rules: Vec<(String, Rule)>,
    },
}

/// Reads an agent's JSON lines into stream events, and remembers how the turn ended.
struct Parser {
    flavor: Flavor,
    backend: String,
    session: Option<AgentSession>,
    /// The session's running total before this turn (Codex).
    before: Usage,
    /// The session's running total now.
    total: Usage,
    /// Whether the turn said it is complete.
    done: bool,
    /// The agent's own error, if it reported one.
    error: Option<String>,
    /// Claude Code's HTTP status of a failed request.
    api_status: Option<u64>,
    /// Text arrived as partial deltas (Claude Code): whole messages repeat it.
    partial: bool,
    /// Whether the text so far ends a line.
    at_line_start: bool,
    /// Whether any text was sent.
    any_text: bool,
    /// The tool running, if any.
    tool: Option<String>,
    /// Codex items whose tool line was shown.
    started: Vec<String>,
    /// The final text of a Claude Code `result`, sent when nothing else was.
    result_text: Option<String>,
}

impl Parser {
    fn new(cfg: &ProviderConfig, req: &ChatRequest) -> Result<Parser, ProviderError> {
        let flavor = match cfg.kind {
            ProviderKind::ClaudeCode => Flavor::Claude,
            ProviderKind::Codex => Flavor::Codex,
            _ => {
                let mut ty = "/type".to_string();
                let mut rules = Vec::new();
                for (name, spec) in &cfg.agent.events {
                    let rule = parse_rule(name, spec)
                        .map_err(|e| agent_error(format!("provider.events: {e}")))?;
                    if name == "type" {
                        ty = rule.at.unwrap_or_default();
                    } else {
                        rules.push((name.clone(), rule));
                    }
                }
                if !rules.iter().any(|(n, _)| n == "done") {
                    return Err(agent_error(
                        "provider.events has no `done` entry: set it to the type of the line that ends a turn, e.g. done = \"result\" (see docs/config.md)".into(),
                    ));
                }
                Flavor::Mapped { ty, rules }
            }
        };
        // A resumed session carries its running total on; a fork inherits its parent's.
        let before = req.agent.as_ref().map(|s| s.total).unwrap_or_default();
        Ok(Parser {
            flavor,
            backend: cfg.kind.as_str().to_string(),
            session: None,
            before,
            total: before,
            done: false,
            error: None,
            api_status: None,
            partial: false,
            at_line_start: true,
            any_text: false,
            tool: None,
            started: Vec::new(),
            result_text: None,
        })
    }

    fn text(&mut self, out: &mut Vec<StreamEvent>, t: &str) {
        if t.is_empty() {
            return;
        }
        self.at_line_start = t.ends_with('\n');
        self.any_text = true;
        out.push(StreamEvent::Delta(t.to_string()));
    }

    /// A whole message after tool lines or other messages starts on a line of its own.
    fn block(&mut self, out: &mut Vec<StreamEvent>, t: &str) {
        if t.is_empty() {
            return;
        }
        if !self.at_line_start {
            self.text(out, "\n\n");
        }
        self.text(out, t);
    }

    fn tool_start(&mut self, out: &mut Vec<StreamEvent>, name: &str, detail: &str) {
        if !self.at_line_start {
            self.text(out, "\n");
        }
        let line = tool_line(name, detail);
        self.text(out, &line);
        let shown = panechat_vocab::text::inert_to(name, 40);
        self.tool = Some(shown.clone());
        out.push(StreamEvent::Tool(Some(shown)));
    }

    fn tool_end(&mut self, out: &mut Vec<StreamEvent>, ok: bool, what: &str, output: &str) {
        if !self.at_line_start {
            self.text(out, "\n");
        }
        let line = outcome_line(ok, what, output);
        self.text(out, &line);
        self.tool = None;
        out.push(StreamEvent::Tool(None));
    }

    fn session(&mut self, out: &mut Vec<StreamEvent>, id: &str, cwd: Option<&str>) {
        // (an id that is not plain would reach the next turn's command line, where a leading
        // `-` reads as an option: such a session is not kept)
        if !crate::agents::plain_id(id) {
            return;
        }
        let s = AgentSession {
            backend: self.backend.clone(),
            id: id.to_string(),
            cwd: cwd.map(str::to_string),
            total: self.total,
            fork: false,
            at: self.session.as_ref().and_then(|s| s.at.clone()),
        };
        if self.session.as_ref() != Some(&s) {
            self.session = Some(s.clone());
            out.push(StreamEvent::Session(s));
        }
    }

    fn line(&mut self, v: &Value, out: &mut Vec<StreamEvent>) {
        match &self.flavor {
            Flavor::Claude => self.claude(v, out),
            Flavor::Codex => self.codex(v, out),
            Flavor::Mapped { .. } => self.mapped(v, out),
        }
    }

    fn claude(&mut self, v: &Value, out: &mut Vec<StreamEvent>) {
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("");
        match s("/type") {
            "system" if s("/subtype") == "init" => {
                let cwd = Some(s("/cwd")).filter(|c| !c.is_empty());
                self.session(out, s("/session_id"), cwd);
                if !s("/model").is_empty() {
                    out.push(StreamEvent::Model(s("/model").to_string()));
                }
            }
            "stream_event" => {
                if s("/event/type") == "content_block_delta"
                    && s("/event/delta/type") == "text_delta"
                {
                    let t = s("/event/delta/text").to_string();
                    if !self.partial && !self.at_line_start {
                        // A new message after tool lines.
                        self.text(out, "\n");
                    }
                    self.partial = true;
                    self.text(out, &t);
                } else if s("/event/type") == "message_start" {
                    self.partial = false;
                }
            }
            "assistant" => {
                // The message's id in the session: a complete turn's last one is where the
                // next question resumes from.
                let uuid = s("/uuid");
                if let Some(sess) = self.session.as_mut().filter(|_| !uuid.is_empty()) {
                    sess.at = Some(uuid.to_string());
                    out.push(StreamEvent::Session(sess.clone()));
                }
                let Some(parts) = v.pointer("/message/content").and_then(Value::as_array) else {
                    return;
                };
                let streamed = self.partial;
                for p in parts {
                    match p.get("type").and_then(Value::as_str) {
                        Some("text") if !streamed => {
                            let t = p.get("text").and_then(Value::as_str).unwrap_or("");
                            self.block(out, t);
                        }
                        Some("tool_use") => {
                            let name = p.get("name").and_then(Value::as_str).unwrap_or("tool");
                            let detail = claude_detail(p.get("input").unwrap_or(&Value::Null));
                            self.tool_start(out, name, &detail);
                        }
                        _ => {}
                    }
                }
            }
            "user" => {
                let Some(parts) = v.pointer("/message/content").and_then(Value::as_array) else {
                    return;
                };
                for p in parts {
                    if p.get("type").and_then(Value::as_str) != Some("tool_result") {
                        continue;
                    }
                    let failed = p.get("is_error").and_then(Value::as_bool) == Some(true);
                    let output = match p.get("content") {
                        Some(Value::Array(items)) => items
                            .iter()
                            .filter_map(|i| i.get("text").and_then(Value::as_str))
                            .collect::<Vec<_>>()
                            .join("\n"),
                        Some(other) => text_of(other),
                        None => String::new(),
                    };
                    self.tool_end(out, !failed, "", &output);
                }
            }
            "result" => {
                let cwd = self.session.as_ref().and_then(|x| x.cwd.clone());
                self.session(out, s("/session_id"), cwd.as_deref());
                let n = |p: &str| v.pointer(p).and_then(Value::as_u64);
                let input = [
                    "/usage/input_tokens",
                    "/usage/cache_creation_input_tokens",
                    "/usage/cache_read_input_tokens",
                ]
                .iter()
                .filter_map(|p| n(p))
                .reduce(|a, b| a + b);
                out.push(StreamEvent::Usage(Usage {
                    input_tokens: input,
                    output_tokens: n("/usage/output_tokens"),
                }));
                if let Some(Value::Number(c)) = v.get("total_cost_usd") {
                    out.push(StreamEvent::Cost(c.clone()));
                }
                if v.get("is_error").and_then(Value::as_bool) == Some(true)
                    || s("/subtype").starts_with("error")
                {
                    self.api_status = n("/api_error_status");
                    let mut e = s("/result").to_string();
                    if e.is_empty() {
                        e = match v.get("errors") {
                            Some(Value::Array(a)) => {
                                a.iter().map(text_of).collect::<Vec<_>>().join("; ")
                            }
                            Some(other) => text_of(other),
                            None => s("/subtype").to_string(),
                        };
                    }
                    self.error = Some(e);
                } else {
                    self.result_text = Some(s("/result").to_string());
                    self.done = true;
                }
            }
            _ => {}
        }
    }

    fn codex(&mut self, v: &Value, out: &mut Vec<StreamEvent>) {
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("");
        match s("/type") {
            "thread.started" => self.session(out, s("/thread_id"), None),
            "item.started" | "item.updated" | "item.completed" => {
                let item = v.get("item").cloned().unwrap_or(Value::Null);
                let is = |p: &str| item.pointer(p).and_then(Value::as_str).unwrap_or("");
                let id = is("/id").to_string();
                let completed = s("/type") == "item.completed";
                match is("/type") {
                    "agent_message" if completed => {
                        let t = is("/text").to_string();
                        self.block(out, &t);
                    }
                    "command_execution" => {
                        if !self.started.contains(&id) {
                            self.started.push(id.clone());
                            let cmd = is("/command").to_string();
                            self.tool_start(out, "shell", &cmd);
                        }
                        if completed {
                            let code = item.get("exit_code").and_then(Value::as_i64);
                            let ok = code == Some(0) && is("/status") != "failed";
                            let what = match code {
                                Some(c) => format!("exit {c}"),
                                None => is("/status").to_string(),
                            };
                            let output = is("/aggregated_output").to_string();
                            self.tool_end(out, ok, &what, &output);
                        }
                    }
                    _ => {}
                }
            }
            "turn.completed" => {
                let n = |p: &str| v.pointer(p).and_then(Value::as_u64);
                let total = Usage {
                    input_tokens: n("/usage/input_tokens"),
                    output_tokens: n("/usage/output_tokens"),
                };
                let diff = |now: Option<u64>, before: Option<u64>| {
                    now.map(|n| n.saturating_sub(before.unwrap_or(0)))
                };
                out.push(StreamEvent::Usage(Usage {
                    input_tokens: diff(total.input_tokens, self.before.input_tokens),
                    output_tokens: diff(total.output_tokens, self.before.output_tokens),
                }));
                self.total = total;
                self.done = true;
            }
            "turn.failed" => {
                let m = s("/error/message");
                self.error = Some(if m.is_empty() {
                    v.get("error").map(text_of).unwrap_or_default()
                } else {
                    m.to_string()
                });
            }
            // Retries report errors too; the last one says why a failed turn failed.
            "error" if self.error.is_none() && !s("/message").is_empty() => {
                self.result_text = Some(s("/message").to_string());
            }
            _ => {}
        }
    }

    fn mapped(&mut self, v: &Value, out: &mut Vec<StreamEvent>) {
        let Flavor::Mapped { ty, rules } = &self.flavor else {
            return;
        };
        let line_ty = v.pointer(ty).map(text_of).unwrap_or_default();
        let mut hits: Vec<(String, Option<Value>)> = Vec::new();
        for (name, r) in rules {
            if r.ty != line_ty {
                continue;
            }
            if let Some((p, want)) = &r.when {
                if v.pointer(p).map(text_of).as_deref() != Some(want.as_str()) {
                    continue;
                }
            }
            let val = match &r.at {
                Some(p) => match v.pointer(p) {
                    Some(x) => Some(x.clone()),
                    None => continue,
                },
                None => None,
            };
            hits.push((name.clone(), val));
        }
        let value = |name: &str| {
            hits.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone().unwrap_or(Value::Null))
        };
        if let Some(id) = value("session") {
            self.session(out, &text_of(&id), None);
        }
        if let Some(t) = value("text") {
            let t = text_of(&t);
            self.text(out, &t);
        }
        if let Some(name) = value("tool") {
            let detail = value("tool_detail")
                .map(|d| text_of(&d))
                .unwrap_or_default();
            self.tool_start(out, &text_of(&name), &detail);
        }
        for (name, ok) in [("tool_result", true), ("tool_error", false)] {
            if let Some(r) = value(name) {
                self.tool_end(out, ok, "", &text_of(&r));
            }
        }
        let n = |name: &str| value(name).and_then(|v| v.as_u64());
        if n("input_tokens").is_some() || n("output_tokens").is_some() {
            out.push(StreamEvent::Usage(Usage {
                input_tokens: n("input_tokens"),
                output_tokens: n("output_tokens"),
            }));
        }
        if let Some(Value::Number(c)) = value("cost") {
            out.push(StreamEvent::Cost(c));
        }
        if let Some(e) = value("error") {
            self.error = Some(text_of(&e));
        }
        if value("done").is_some() {
            self.done = true;
        }
    }

    /// What remains to send once the turn is complete: Claude Code's final text when no text
    /// came before it, and the session with its new running total.
    fn finish(&mut self) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if let Some(t) = self.result_text.take().filter(|_| !self.any_text) {
            if matches!(self.flavor, Flavor::Claude) {
                self.text(&mut out, &t);
            }
        }
        if let Some(mut s) = self.session.clone() {
            s.total = self.total;
            out.push(StreamEvent::Session(s));
        }
        out
    }

    /// The turn's failure, from what the agent said and its standard error, with the fix.
    fn failure(&self, code: Option<i32>, stderr: &str) -> Option<ProviderError> {
        let said = self
            .error
            .clone()
            .or_else(|| {
                (code != Some(0))
                    .then(|| self.result_text.clone())
                    .flatten()
            })
            .unwrap_or_default();
        let both = format!("{said}\n{stderr}");
        let lower = both.to_lowercase();
        let name = match &self.flavor {
            Flavor::Claude => "Claude Code",
            Flavor::Codex => "Codex",
            Flavor::Mapped { .. } => "the agent",
        };
        if lower.contains("no conversation found") || lower.contains("no rollout found") {
            let where_ = match &self.flavor {
                Flavor::Claude => " (its file under ~/.claude/projects/ is gone, or it belongs to another directory)",
                Flavor::Codex => " (its rollout under $CODEX_HOME/sessions/ is gone)",
                Flavor::Mapped { .. } => "",
            };
            return Some(agent_error(format!(
                "{name} no longer has this conversation's session{where_}: {}; ask in a new conversation (`panechat q --new`)",
                first_line(&both)
            )));
        }
        if self.error.is_none() && (self.done || code == Some(0)) {
            return None;
        }
        if said.is_empty() {
            return None; // the exit status says it
        }
        // An API's JSON error body: its message.
        let said = serde_json::from_str::<Value>(said.trim())
            .ok()
            .and_then(|v| {
                v.pointer("/error/message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or(said);
        let fix = if self.api_status == Some(401)
            || self.api_status == Some(403)
            || lower.contains("invalid api key")
            || lower.contains("/login")
            || lower.contains("not logged in")
            || lower.contains("unauthorized")
            || lower.contains("401")
        {
            match &self.flavor {
                Flavor::Claude => "; log in (run `claude` and /login) or set ANTHROPIC_API_KEY",
                Flavor::Codex => {
                    "; log in (`codex login`) or set the provider's key in $CODEX_HOME/config.toml"
                }
                Flavor::Mapped { .. } => "; log the agent in",
            }
        } else if self.api_status.is_some_and(|s| s >= 500)
            || lower.contains("500")
            || lower.contains("overloaded")
        {
            "; the service failed, try again later"
        } else {
            ""
        };
        let status = self
            .api_status
            .map(|s| format!(" (HTTP {s})"))
            .unwrap_or_default();
        Some(agent_error(format!(
            "{name} reported an error{status}: {}{fix}",
            clean(&said, 500)
        )))
    }
}

fn first_line(s: &str) -> String {
    clean(
        s.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or(""),
        300,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(kind: ProviderKind) -> ProviderConfig {
        ProviderConfig {
            kind,
            base_url: String::new(),
            model: String::new(),
            api_key: None,
            api_key_env: String::new(),
            command: Vec::new(),
            connect_timeout: Duration::from_secs(1),
            max_tokens: 0,
            agent: AgentOptions::default(),
        }
    }

    fn req(session: Option<AgentSession>) -> ChatRequest {
        ChatRequest {
            model: String::new(),
            messages: vec![Message {
                role: Role::User,
                content: "-why?".into(),
                attachments: Vec::new(),
            }],
            agent: session,
            ..ChatRequest::default()
        }
    }

    fn session(id: &str, fork: bool) -> AgentSession {
        AgentSession {
            backend: "x".into(),
            id: id.into(),
            cwd: Some("/w".into()),
            total: Usage::default(),
            fork,
            at: Some("U1".into()),
        }
    }

    #[test]
    fn a_claude_session_ending_with_the_stored_turn_is_told_from_one_that_holds_more() {
        let root =
            std::env::temp_dir().join(format!("panechat-claude-tail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let projects = root.join(".claude/projects/-tmp-w-x-y");
        std::fs::create_dir_all(&projects).unwrap();
        let env = crate::env::Env::from_pairs([("HOME".to_string(), root.display().to_string())]);
        let s = AgentSession {
            backend: "claude-code".into(),
            id: "5f0c-1".into(),
            cwd: Some("/tmp/w.x_y".into()),
            at: Some("A2".into()),
            ..AgentSession::default()
        };
        let file = projects.join("5f0c-1.jsonl");
        assert!(
            !claude_session_ends_at(&env, &s),
            "no file: resume from `at`"
        );
        let lines = |l: &[&str]| std::fs::write(&file, l.join("\n") + "\n").unwrap();
        lines(&[
            r#"{"type":"user","uuid":"U1"}"#,
            r#"{"type":"assistant","uuid":"A2"}"#,
            r#"{"type":"last-prompt"}"#,
        ]);
        assert!(claude_session_ends_at(&env, &s));
        // A killed turn left its message in the session.
        lines(&[
            r#"{"type":"assistant","uuid":"A2"}"#,
            r#"{"type":"user","uuid":"U3"}"#,
        ]);
        assert!(!claude_session_ends_at(&env, &s));
        let _ = std::fs::remove_file(&file);
        nix::unistd::mkfifo(&file, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(!claude_session_ends_at(&env, &s), "a FIFO is not waited on");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn argv_of_each_agent_for_new_resumed_and_forked_sessions() {
        let c = cfg(ProviderKind::ClaudeCode);
        let (v, cwd) = argv(&c, &req(None)).unwrap();
        assert_eq!(v[0], "claude");
        assert_eq!(&v[v.len() - 2..], ["--", "-why?"]);
        assert!(!v.contains(&"--resume".to_string()));
        assert_eq!(cwd, None);
        let (v, cwd) = argv(&c, &req(Some(session("S1", true)))).unwrap();
        let at = v.iter().position(|a| a == "--resume").unwrap();
        assert_eq!(v[at + 1], "S1");
        assert!(v.contains(&"--fork-session".to_string()));
        let at = v.iter().position(|a| a == "--resume-session-at").unwrap();
        assert_eq!(v[at + 1], "U1");
        assert_eq!(cwd.as_deref(), Some("/w"));
        let x = cfg(ProviderKind::Codex);
        let (v, cwd) = argv(&x, &req(None)).unwrap();
        assert_eq!(&v[..2], ["codex", "exec"]);
        assert_eq!(&v[v.len() - 2..], ["--", "-why?"]);
        assert_eq!(cwd, None);
        let (v, _) = argv(&x, &req(Some(session("T", false)))).unwrap();
        assert_eq!(&v[..3], ["codex", "exec", "resume"]);
        assert_eq!(&v[v.len() - 3..], ["--", "T", "-why?"]);
        assert!(!v.contains(&"--resume-session-at".to_string()));
        let (v, _) = argv(&x, &req(Some(session("T", true)))).unwrap();
        assert_eq!(v[2], "fork");
        let mut g = cfg(ProviderKind::Agent);
        g.command = vec!["a".into(), "-p".into(), "{prompt}".into()];
        g.agent.resume_command = vec!["a".into(), "--resume={session}".into(), "{prompt}".into()];
        assert_eq!(argv(&g, &req(None)).unwrap().0, ["a", "-p", "-why?"]);
        assert_eq!(
            argv(&g, &req(Some(session("S", false)))).unwrap().0,
            ["a", "--resume=S", "-why?"]
        );
        let e = argv(&g, &req(Some(session("S", true)))).unwrap_err();
        assert!(e.message.contains("provider.fork_command"), "{}", e.message);
    }

    fn parse(kind: ProviderKind, before: Usage, lines: &[Value]) -> (Parser, Vec<StreamEvent>) {
        let mut s = session("old", false);
        s.total = before;
        let mut p = Parser::new(&cfg(kind), &req(Some(s))).unwrap();
        let mut out = Vec::new();
        for l in lines {
            p.line(l, &mut out);
        }
        out.extend(p.finish());
        (p, out)
    }

    fn text(evs: &[StreamEvent]) -> String {
        evs.iter()
            .filter_map(|e| match e {
                StreamEvent::Delta(d) => Some(d.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_session_id_that_would_read_as_an_option_is_not_kept() {
        for (kind, line) in [
            (
                ProviderKind::ClaudeCode,
                json!({"type":"system","subtype":"init","session_id":"--dangerously-skip-permissions","cwd":"/w"}),
            ),
            (
                ProviderKind::Codex,
                json!({"type":"thread.started","thread_id":"-c evil"}),
            ),
        ] {
            let (_, evs) = parse(kind, Usage::default(), &[line]);
            assert!(
                !evs.iter().any(|e| matches!(e, StreamEvent::Session(_))),
                "{kind:?}: {evs:?}"
            );
        }
        let (_, evs) = parse(
            ProviderKind::Codex,
            Usage::default(),
            &[json!({"type":"thread.started","thread_id":"01a2-b3"})],
        );
        assert!(evs
            .iter()
            .any(|e| matches!(e, StreamEvent::Session(s) if s.id == "01a2-b3")));
    }

    #[test]
    fn claude_code_lines_stream_text_tools_session_usage_and_cost() {
        let lines = [
            json!({"type":"system","subtype":"init","session_id":"S","cwd":"/w","model":"claude-x"}),
            json!({"type":"stream_event","event":{"type":"message_start"}}),
            json!({"type":"stream_event","event":{"type":"content_block_delta","delta":{"type":"text_delta","text":"Let me "}}}),
            json!({"type":"stream_event","event":{"type":"content_block_delta","delta":{"type":"text_delta","text":"look."}}}),
            json!({"type":"assistant","uuid":"U1","message":{"content":[{"type":"text","text":"Let me look."},{"type":"tool_use","name":"Bash","input":{"command":"cargo\ntest \u{1b}[31m"}}]}}),
            json!({"type":"user","message":{"content":[{"type":"tool_result","content":"ok\nfine","is_error":false}]}}),
            json!({"type":"stream_event","event":{"type":"message_start"}}),
            json!({"type":"stream_event","event":{"type":"content_block_delta","delta":{"type":"text_delta","text":"All good."}}}),
            json!({"type":"assistant","uuid":"U2","message":{"content":[{"type":"text","text":"All good."}]}}),
            json!({"type":"result","subtype":"success","is_error":false,"result":"All good.","session_id":"S","usage":{"input_tokens":3,"cache_read_input_tokens":4,"output_tokens":5},"total_cost_usd":0.0125}),
        ];
        let (p, evs) = parse(ProviderKind::ClaudeCode, Usage::default(), &lines);
        assert!(p.done);
        assert_eq!(
            text(&evs),
            "Let me look.\n▸ Bash: cargo test [31m\n  ✓ 2 lines\nAll good."
        );
        assert!(evs.contains(&StreamEvent::Tool(Some("Bash".into()))));
        assert!(evs.contains(&StreamEvent::Tool(None)));
        assert!(evs.contains(&StreamEvent::Usage(Usage {
            input_tokens: Some(7),
            output_tokens: Some(5)
        })));
        assert!(evs.contains(&StreamEvent::Cost(
            serde_json::Number::from_f64(0.0125).unwrap()
        )));
        let Some(StreamEvent::Session(s)) = evs.last() else {
            panic!("{evs:?}")
        };
        assert_eq!((s.id.as_str(), s.cwd.as_deref()), ("S", Some("/w")));
        // The next question resumes from the turn's last message.
        assert_eq!(s.at.as_deref(), Some("U2"));
        assert!(p.failure(Some(0), "").is_none());
    }

    #[test]
    fn claude_code_errors_name_the_fix() {
        let lines = [
            json!({"type":"result","subtype":"success","is_error":true,"api_error_status":401,"result":"Invalid API key · Please run /login","session_id":"S"}),
        ];
        let (p, _) = parse(ProviderKind::ClaudeCode, Usage::default(), &lines);
        let e = p.failure(Some(1), "").unwrap().message;
        assert!(e.contains("Invalid API key") && e.contains("log in"), "{e}");
        let (p, _) = parse(ProviderKind::ClaudeCode, Usage::default(), &[]);
        let e = p
            .failure(Some(1), "No conversation found with session ID: S\n")
            .unwrap()
            .message;
        assert!(e.contains("no longer has") && e.contains("--new"), "{e}");
        assert!(p.failure(Some(143), "").is_none(), "the status says it");
    }

    #[test]
    fn codex_lines_count_a_turns_own_tokens() {
        let before = Usage {
            input_tokens: Some(100),
            output_tokens: Some(10),
        };
        let lines = [
            json!({"type":"thread.started","thread_id":"T"}),
            json!({"type":"turn.started"}),
            json!({"type":"item.started","item":{"id":"i1","type":"command_execution","command":"bash -lc ls","status":"in_progress"}}),
            json!({"type":"item.completed","item":{"id":"i1","type":"command_execution","command":"bash -lc ls","exit_code":2,"aggregated_output":"ls: nope\n","status":"failed"}}),
            json!({"type":"item.completed","item":{"id":"i2","type":"agent_message","text":"Done."}}),
            json!({"type":"turn.completed","usage":{"input_tokens":150,"cached_input_tokens":0,"output_tokens":25}}),
        ];
        let (p, evs) = parse(ProviderKind::Codex, before, &lines);
        assert!(p.done);
        assert_eq!(
            text(&evs),
            "▸ shell: bash -lc ls\n  ✗ exit 2: ls: nope\nDone."
        );
        assert!(evs.contains(&StreamEvent::Usage(Usage {
            input_tokens: Some(50),
            output_tokens: Some(15)
        })));
        let Some(StreamEvent::Session(s)) = evs.last() else {
            panic!()
        };
        assert_eq!(s.total.input_tokens, Some(150));
        let (p, _) = parse(
            ProviderKind::Codex,
            Usage::default(),
            &[
                json!({"type":"turn.failed","error":{"message":"unexpected status 401 Unauthorized"}}),
            ],
        );
        let e = p.failure(Some(1), "").unwrap().message;
        assert!(e.contains("401") && e.contains("codex login"), "{e}");
    }

    #[test]
    fn a_mapping_reads_any_agents_lines() {
        let mut c = cfg(ProviderKind::Agent);
        c.command = vec!["gemini".into()];
        for (k, v) in [
            ("session", "init /session_id"),
            ("text", "message /content /role=assistant"),
            ("tool", "tool_use /tool_name"),
            ("tool_detail", "tool_use /parameters/command"),
            ("tool_result", "tool_result /output"),
            ("done", "result"),
            ("output_tokens", "result /stats/output_tokens"),
        ] {
            c.agent.events.push((k.into(), v.into()));
        }
        let mut p = Parser::new(&c, &req(None)).unwrap();
        let mut out = Vec::new();
        for l in [
            json!({"type":"init","session_id":"G"}),
            json!({"type":"message","role":"user","content":"-why?"}),
            json!({"type":"message","role":"assistant","content":"Hi "}),
            json!({"type":"tool_use","tool_name":"run_shell","parameters":{"command":"ls"}}),
            json!({"type":"tool_result","output":"a"}),
            json!({"type":"message","role":"assistant","content":"there"}),
            json!({"type":"result","stats":{"output_tokens":9}}),
        ] {
            p.line(&l, &mut out);
        }
        assert!(p.done);
        assert_eq!(text(&out), "Hi \n▸ run_shell: ls\n  ✓ 1 line\nthere");
        assert!(out.contains(&StreamEvent::Usage(Usage {
            input_tokens: None,
            output_tokens: Some(9)
        })));
        c.agent.events.retain(|(k, _)| k != "done");
        assert!(Parser::new(&c, &req(None)).is_err());
        assert!(parse_rule("text", "message").is_err());
        assert!(parse_rule("type", "type").is_err());
        assert_eq!(
            parse_rule("text", "m /a /b=c").unwrap(),
            Rule {
                ty: "m".into(),
                at: Some("/a".into()),
                when: Some(("/b".into(), "c".into()))
            }
        );
    }
}
