//! The vocabulary every layer shares, with no dependency on any other module of the crate:
//! attachments and how they join a message, token usage, provider failures, pre-encoded
//! history, attachment limits. The store, the providers, the context capture and the errors
//! all speak these types; nothing here knows about files, multiplexers or the CLI.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Text attached to a user's message, stored with the turn and sent with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Where it came from: `pane tmux %3, 120 lines`, `stdin`, `file src/main.rs`.
    pub source: String,
    /// The text, cleaned, capped and redacted.
    pub text: String,
}

impl Attachment {
    /// The attachment as one delimited block of text: a header line naming the source, the
    /// text, a closing line.
    pub fn framed(&self) -> String {
        let mut s = String::with_capacity(self.text.len() + 2 * self.source.len() + 32);
        s.push_str("--- ");
        s.push_str(&self.source);
        s.push_str(" ---\n");
        s.push_str(&self.text);
        if !self.text.ends_with('\n') {
            s.push('\n');
        }
        s.push_str("--- end of ");
        s.push_str(&self.source);
        s.push_str(" ---");
        s
    }

    /// Its size for people: `812 B`, `14.2 KB`, `1.3 MB`.
    pub fn size(&self) -> String {
        human_bytes(self.text.len() as u64)
    }
}

/// A user's message with its attachments as one text: each attachment framed (see
/// [`Attachment::framed`]), then the message. This is the form for APIs whose message
/// content is a single string (Ollama's native API, the `command` provider, the stored history).
pub fn joined_content(message: &str, attachments: &[Attachment]) -> String {
    if attachments.is_empty() {
        return message.to_string();
    }
    let mut s = String::new();
    for a in attachments {
        s.push_str(&a.framed());
        s.push_str("\n\n");
    }
    s.push_str(message);
    s
}

/// A byte count for people.
pub fn human_bytes(n: u64) -> String {
    if n < 1000 {
        format!("{n} B")
    } else if n < 1_000_000 {
        format!("{:.1} KB", n as f64 / 1000.0)
    } else {
        format!("{:.1} MB", n as f64 / 1_000_000.0)
    }
}

/// How attachments are prepared (`context.*` config keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `context.max_bytes`: the most bytes one attachment keeps.
    pub max_bytes: usize,
    /// `context.redact`: mask strings that look like secrets.
    pub redact: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 256 * 1024,
            redact: true,
        }
    }
}

/// Pre-encoded earlier messages (see `provider::ChatRequest::history`).
#[derive(Debug, Clone)]
pub enum History {
    /// In memory.
    Bytes(Arc<Vec<u8>>),
    /// `len` bytes of `file` from `offset`, read while the request is sent.
    File {
        /// The open history file.
        file: Arc<std::fs::File>,
        /// Where the first object starts.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
}

impl History {
    /// Whether there is nothing in it.
    pub fn is_empty(&self) -> bool {
        match self {
            History::Bytes(b) => b.is_empty(),
            History::File { len, .. } => *len == 0,
        }
    }

    /// How many bytes.
    pub fn len(&self) -> u64 {
        match self {
            History::Bytes(b) => b.len() as u64,
            History::File { len, .. } => *len,
        }
    }
}

/// Token counts, when the provider reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Completion tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
}

impl Usage {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.input_tokens.is_none() && self.output_tokens.is_none()
    }
}

/// A coding agent's own session that a conversation continues (Claude Code's session, Codex's
/// thread): which back-end holds it, its id, and for Claude Code the directory it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSession {
    /// The back-end: `claude-code`, `codex` or `agent`.
    pub backend: String,
    /// The agent's session (thread) id.
    pub id: String,
    /// The directory the session belongs to (Claude Code resumes a session only from there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// The session's running token total after its last turn (Codex reports totals, not a
    /// turn's own use: a turn's use is the difference).
    #[serde(default, skip_serializing_if = "Usage::is_empty")]
    pub total: Usage,
    /// Set on a fork that has not asked yet: its first question forks the session with the
    /// agent's own fork, and the new session is recorded with that turn.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fork: bool,
    /// Claude Code: the id (`uuid`) of the session's last message of the last stored turn. The
    /// next question resumes the session from there (`--resume-session-at`), so what a turn
    /// that was killed or failed left in the session (its message, Claude Code writes it
    /// before answering) is not part of the history: `--retry` sends that message once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

impl AgentSession {
    /// The short name shown for its back-end (`claude` for Claude Code, else the back-end as
    /// stored), free of control characters.
    pub fn tag(&self) -> String {
        panechat_vocab::text::inert_to(panechat_vocab::state::short_backend(&self.backend), 24)
    }
}

/// Why a provider failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderErrorKind {
    /// Could not connect (refused, DNS, TLS).
    Connect,
    /// The server answered with an HTTP error status.
    Http(u16),
    /// The server sent an error inside the stream (e.g. OpenAI `error` object on HTTP 200).
    Stream,
    /// The bytes received do not follow the wire format.
    Protocol,
    /// The command provider's program could not start or failed.
    Command,
    /// No API key in the environment.
    MissingKey,
    /// Reading or writing failed.
    Io,
    /// A coding agent (Claude Code, Codex, an `agent` back-end) could not start or failed.
    Agent,
}

/// A provider failure, with a message that says what the server said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    /// The category.
    pub kind: ProviderErrorKind,
    /// Human-readable detail, including the server's own message when it gave one.
    pub message: String,
}

impl ProviderError {
    /// Builds an error.
    pub fn new(kind: ProviderErrorKind, message: impl Into<String>) -> ProviderError {
        ProviderError {
            kind,
            message: message.into(),
        }
    }
}
