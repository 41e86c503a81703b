//! The JSON documents panechat prints (`--json`, `status --format json`), as typed structures.
//!
//! Plugins and scripts parse these; `docs/integration.md` documents every field. Each
//! document, and each element of an array, carries `"schema": 1` ([`crate::state::SCHEMA`]);
//! a field is never renamed or removed without bumping it.

use serde::{Deserialize, Serialize};

use crate::runs::Run;
use crate::session::PaneRef;
use crate::state::{Activity, HeldBy, PaneState, SCHEMA};
use crate::store::conversation::{Conversation, ConversationId, Parent, Summary};
use crate::store::mapping::SessionRecord;

/// One conversation in `ls --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationItem {
    /// Always [`SCHEMA`].
    pub schema: u32,
    /// Its id.
    pub id: ConversationId,
    /// Its title, `null` while untitled.
    pub title: Option<String>,
    /// Number of turns.
    pub turns: u64,
    /// How many attachments (panes, piped input, files) its turns carry.
    #[serde(default)]
    pub attachments: u64,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
    /// How long ago that was, as `ls` shows it (`12s`, `5m`, `3h`, `2d`).
    #[serde(default)]
    pub age: String,
    /// The conversation it was forked from.
    pub parent: Option<Parent>,
    /// Per-conversation model.
    pub model: Option<String>,
    /// Per-conversation system prompt.
    pub system: Option<String>,
    /// The start of the last user message.
    pub last_message: Option<String>,
    /// Whether a process holds its lock (`held_by` is set).
    pub locked: bool,
    /// What the run holding (or waiting for) it does.
    pub activity: Activity,
    /// The process holding its lock.
    pub held_by: Option<HeldBy>,
    /// Keys of the sessions whose active conversation it is.
    pub active_in: Vec<String>,
    /// Those sessions' panes.
    pub panes: Vec<PaneRef>,
    /// The coding agent holding it, only for a conversation held with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentRef>,
}

/// The coding agent a conversation is held with (`ls --json`, `show --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRef {
    /// The back-end: `claude-code`, `codex` or `agent`.
    pub backend: String,
    /// The agent's session (thread) id its next question continues (for a fork that has not
    /// asked yet: the one it forks), `null` when the agent named none.
    pub session: Option<String>,
}

impl AgentRef {
    /// The reference to `a`, if any.
    pub fn of(a: Option<&crate::model::AgentSession>) -> Option<AgentRef> {
        a.map(|a| AgentRef {
            backend: a.backend.clone(),
            session: Some(a.id.clone()).filter(|s| !s.is_empty()),
        })
    }
}

impl ConversationItem {
    /// The item for `s`, given the live runs and the sessions that have it active.
    pub fn new(s: &Summary, runs: &[Run], panes: Vec<PaneRef>) -> ConversationItem {
        let held_by = crate::state::holder(runs, s.id.as_str(), None);
        ConversationItem {
            schema: SCHEMA,
            id: s.id.clone(),
            title: s.title.clone(),
            turns: s.turns,
            attachments: s.attachments,
            created_at: s.created_at.clone(),
            updated_at: s.updated_at.clone(),
            age: crate::time::ago(&s.updated_at),
            parent: s.parent.clone(),
            model: s.model.clone(),
            system: s.system.clone(),
            last_message: s.last_message.clone(),
            locked: held_by.is_some(),
            activity: crate::state::conversation_activity(runs, s.id.as_str()),
            held_by,
            active_in: panes.iter().map(|p| p.session.to_string()).collect(),
            panes,
            agent: AgentRef::of(s.agent.as_ref()),
        }
    }
}

/// A live run in `sessions --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunItem {
    /// Process id.
    pub pid: u32,
    /// The conversation it writes to.
    pub conversation: String,
    /// `waiting`, `streaming`, `titling`, or `idle` for a short write.
    pub state: Activity,
    /// What it does (`query`, `rename`, `rm`).
    pub command: crate::runs::RunKind,
    /// When it started.
    pub since: String,
    /// When its state last changed.
    pub state_since: String,
    /// Provider kind.
    pub provider: String,
    /// Model.
    pub model: String,
}

impl From<&Run> for RunItem {
    fn from(r: &Run) -> RunItem {
        RunItem {
            pid: r.pid,
            conversation: r.conversation.clone(),
            state: Activity::from(r.state),
            command: r.command,
            since: r.since.clone(),
            state_since: r.state_since.clone(),
            provider: r.provider.clone(),
            model: r.model.clone(),
        }
    }
}

/// One session in `sessions --json`: its pane state, history and live runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionItem {
    /// The pane state (with `schema`, `session`, `multiplexer`, `pane`, …).
    #[serde(flatten)]
    pub state: PaneState,
    /// The session key (same as `session`; the name the CLI contract fixes).
    pub key: String,
    /// The previous conversation (what `prev` resolves to).
    pub previous: Option<ConversationId>,
    /// Earlier conversations, most recent first.
    pub history: Vec<ConversationId>,
    /// Last change of the mapping.
    pub last_used: String,
    /// Its live runs.
    pub runs: Vec<RunItem>,
}

impl SessionItem {
    /// The item for `rec` given every live run.
    pub fn new(state: PaneState, rec: &SessionRecord, runs: &[Run]) -> SessionItem {
        SessionItem {
            key: rec.pane.session.to_string(),
            previous: rec.previous.first().cloned(),
            history: rec.previous.clone(),
            last_used: rec.updated_at.clone(),
            runs: runs
                .iter()
                .filter(|r| r.pane.session == rec.pane.session)
                .map(RunItem::from)
                .collect(),
            state,
        }
    }
}

/// One message of `show --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageItem {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
    /// When it was sent or received (absent for the system prompt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The model that wrote it (assistant messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Token usage (assistant messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::model::Usage>,
    /// The reply was cut at `provider.max_reply_bytes` (assistant messages; absent otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Text attached to a user message, each with its `source` and `text` (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::model::Attachment>,
}

/// `show --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationDoc {
    /// Always [`SCHEMA`].
    pub schema: u32,
    /// Its id.
    pub id: ConversationId,
    /// Its title.
    pub title: Option<String>,
    /// The conversation it was forked from.
    pub parent: Option<Parent>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// Per-conversation model.
    pub model: Option<String>,
    /// Per-conversation system prompt.
    pub system: Option<String>,
    /// Number of turns.
    pub turns: u64,
    /// The system prompt (if any), then each turn's user and assistant messages.
    pub messages: Vec<MessageItem>,
    /// The coding agent holding it, only for a conversation held with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentRef>,
}

impl From<&Conversation> for ConversationDoc {
    fn from(c: &Conversation) -> ConversationDoc {
        let mut messages = Vec::with_capacity(c.turns.len() * 2 + 1);
        if let Some(s) = &c.system {
            messages.push(MessageItem {
                role: "system".into(),
                content: s.clone(),
                at: None,
                model: None,
                usage: None,
                truncated: false,
                attachments: Vec::new(),
            });
        }
        for t in &c.turns {
            messages.push(MessageItem {
                role: "user".into(),
                content: t.user.clone(),
                at: Some(t.started_at.clone()),
                model: None,
                usage: None,
                truncated: false,
                attachments: t.attachments.clone(),
            });
            messages.push(MessageItem {
                role: "assistant".into(),
                content: t.assistant.clone(),
                at: Some(t.finished_at.clone()),
                model: Some(t.model.clone()),
                usage: Some(t.usage),
                truncated: t.truncated,
                attachments: Vec::new(),
            });
        }
        ConversationDoc {
            schema: SCHEMA,
            id: c.header.id.clone(),
            title: c.title.clone(),
            parent: c.header.parent.clone(),
            created_at: c.header.created_at.clone(),
            updated_at: c.updated_at.clone(),
            model: c.model.clone(),
            system: c.system.clone(),
            turns: c.turns.len() as u64,
            messages,
            agent: AgentRef::of(
                c.turns
                    .iter()
                    .rev()
                    .find_map(|t| t.agent.as_ref())
                    .or(c.header.agent.as_ref()),
            ),
        }
    }
}

/// `fork --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForkResult {
    /// Always [`SCHEMA`].
    pub schema: u32,
    /// The new conversation.
    pub id: ConversationId,
    /// Where it came from.
    pub parent: Option<Parent>,
    /// Its title.
    pub title: Option<String>,
    /// Its number of turns.
    pub turns: u64,
    /// The session it was made active in, if any.
    pub session: Option<String>,
}

/// `rename --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenameResult {
    /// Always [`SCHEMA`].
    pub schema: u32,
    /// The conversation.
    pub id: ConversationId,
    /// Its new title.
    pub title: String,
}

/// A session affected by `rm`, and what it shows now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fallback {
    /// The session key.
    pub session: String,
    /// Its active conversation after the removal (`null`: none).
    pub conversation: Option<ConversationId>,
}

/// `rm --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RmResult {
    /// Always [`SCHEMA`].
    pub schema: u32,
    /// The removed conversations.
    pub deleted: Vec<ConversationId>,
    /// The sessions that had one of them active.
    pub sessions: Vec<Fallback>,
}

/// A run `kill` signalled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KilledRun {
    /// Process id.
    pub pid: u32,
    /// Its session key.
    pub session: String,
    /// Its conversation.
    pub conversation: String,
}

/// `kill --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KillResult {
    /// Always [`SCHEMA`].
    pub schema: u32,
    /// How many runs were signalled.
    pub total: usize,
    /// How many ended.
    pub ended: usize,
    /// How many needed SIGKILL.
    pub forced: usize,
    /// The runs.
    pub runs: Vec<KilledRun>,
}
