//! The pane-state document: what panechat tells plugins about a pane (the `panechat::state`
//! pipe message to Zellij, each element of `sessions --json`, `status --format json`), as
//! specified in `docs/integration.md`.
//!
//! The core fills it with its own types (a validated session key, a conversation id, the lock
//! holder); a plugin reads it with plain ones and every field optional, ignoring the fields it
//! does not know. Field names live only here.

use serde::{Deserialize, Serialize};

/// Version of every JSON document panechat prints; bumped when a field is renamed or removed.
pub const SCHEMA: u32 = 1;

/// Checks the `schema` a document carries against [`SCHEMA`], for a reader: a newer one is an
/// error that says what to do.
pub fn check_schema(found: Option<u64>) -> Result<(), String> {
    match found {
        Some(n) if n > u64::from(SCHEMA) => Err(format!(
            "panechat speaks JSON schema {n}, this plugin only {SCHEMA}: update the plugin"
        )),
        _ => Ok(()),
    }
}

/// What a pane's own query is doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activity {
    /// No query runs in the pane.
    #[default]
    Idle,
    /// Its query waits for the conversation's lock.
    Waiting,
    /// Its query receives the reply.
    Streaming,
    /// Its query asks the model for a title.
    Titling,
}

impl Activity {
    /// The lower-case name (`idle`, `waiting`, `streaming`, `titling`).
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Idle => "idle",
            Activity::Waiting => "waiting",
            Activity::Streaming => "streaming",
            Activity::Titling => "titling",
        }
    }
}

/// What a pane's coding agent is doing: reported by the agent's hooks (an agent run by hand) or
/// seen by panechat (an agent it runs as a back-end).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentState {
    /// Nothing to do, or its "done" has been seen (the pane was focused).
    #[default]
    Idle,
    /// It works on a prompt (thinking, or running the tool in [`Agent::tool`]).
    Working,
    /// It waits for the user (a permission prompt, a question).
    NeedsYou,
    /// It finished a turn the user has not looked at yet.
    Done,
}

impl AgentState {
    /// The name in documents (`idle`, `working`, `needs-you`, `done`).
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Idle => "idle",
            AgentState::Working => "working",
            AgentState::NeedsYou => "needs-you",
            AgentState::Done => "done",
        }
    }

    /// The words shown to a person (`idle`, `working`, `needs you`, `done`).
    pub fn words(self) -> &'static str {
        match self {
            AgentState::NeedsYou => "needs you",
            s => s.as_str(),
        }
    }

    /// The marker shown before the state where attention is wanted: `⚑` for needs-you, `✓` for
    /// done, nothing else. Status bars, pane names and window or tab marks use it.
    pub fn marker(self) -> &'static str {
        match self {
            AgentState::NeedsYou => NEEDS_YOU_MARK,
            AgentState::Done => DONE_MARK,
            _ => "",
        }
    }

    /// Parses [`AgentState::as_str`]'s names.
    pub fn parse(s: &str) -> Option<AgentState> {
        [
            AgentState::Idle,
            AgentState::Working,
            AgentState::NeedsYou,
            AgentState::Done,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// The marker of a pane (and of its window or tab) whose agent needs you.
pub const NEEDS_YOU_MARK: &str = "⚑";
/// The marker of a pane whose agent finished a turn not yet looked at.
pub const DONE_MARK: &str = "✓";

/// A pane's coding agent (Claude Code, Codex, or a configured `agent` back-end).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Which agent: `claude-code`, `codex`, or the name of a configured agent back-end.
    #[serde(default)]
    pub kind: String,
    /// What it is doing.
    #[serde(default)]
    pub state: AgentState,
    /// The tool it runs while working (`Bash`, `exec_command`), inert text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The agent's own session (Claude Code) or thread (Codex) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The directory it runs in (Claude Code resumes a session only from there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// The first line of its last message, inert text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the state last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// The short name shown for an agent kind or back-end: `claude` for Claude Code, `agent` when
/// unnamed, else the kind itself.
pub fn short_backend(kind: &str) -> &str {
    match kind {
        "claude-code" | "claude" => "claude",
        "" => "agent",
        k => k,
    }
}

impl Agent {
    /// The short name shown for the agent: `claude` for Claude Code, else its kind.
    pub fn short_kind(&self) -> &str {
        short_backend(&self.kind)
    }

    /// One line for status bars and pickers: `claude: running Bash`, `codex: needs you`,
    /// `claude: done`, `claude: working`, `claude: idle`.
    pub fn summary(&self) -> String {
        let what = match (self.state, self.tool.as_deref()) {
            (AgentState::Working, Some(t)) if !t.is_empty() => format!("running {t}"),
            (s, _) => s.words().to_string(),
        };
        format!("{}: {what}", self.short_kind())
    }

    /// [`Agent::summary`] behind its state's marker, when it has one: `⚑ codex: needs you`,
    /// `✓ claude: done`, `claude: running Bash`.
    pub fn line(&self) -> String {
        match self.state.marker() {
            "" => self.summary(),
            m => format!("{m} {}", self.summary()),
        }
    }
}

/// One pane's state. `P` is the pane (its fields `session`, `multiplexer`, `pane` are members
/// of this object), `I` a conversation id, `H` the process holding the conversation's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaneState<P, I, H> {
    /// Always [`SCHEMA`] when written.
    #[serde(default)]
    pub schema: u32,
    /// The pane.
    #[serde(flatten)]
    pub pane: P,
    /// The conversation the pane shows: the one its query is writing to while one runs, else
    /// its active one.
    #[serde(default = "none")]
    pub conversation: Option<I>,
    /// Its title (inert), `None` while untitled.
    #[serde(default)]
    pub title: Option<String>,
    /// Its number of turns.
    #[serde(default)]
    pub turns: u64,
    /// When it last changed (RFC 3339).
    #[serde(default)]
    pub updated_at: Option<String>,
    /// What the pane's own query is doing.
    #[serde(default)]
    pub activity: Activity,
    /// Another process holding the conversation's lock.
    #[serde(default = "none")]
    pub held_by: Option<H>,
    /// The pane's coding agent, when one reports to panechat or panechat runs one there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Agent>,
    /// The coding agent back-end holding the conversation (`claude-code`, `codex`, a configured
    /// agent's kind), when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
}

fn none<T>() -> Option<T> {
    None
}

impl<P, I: std::fmt::Display, H> PaneState<P, I, H> {
    /// The label channels show: the title, or the id while untitled (empty without a
    /// conversation).
    pub fn label(&self) -> String {
        match (&self.title, &self.conversation) {
            (Some(t), _) if !t.is_empty() => t.clone(),
            (_, Some(id)) => id.to_string(),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Pane {
        #[serde(default)]
        session: Option<String>,
    }

    #[test]
    fn a_reader_takes_what_it_knows_and_defaults_the_rest() {
        let s: PaneState<Pane, String, ()> =
            serde_json::from_str(r#"{"session":"tmux:x:%1","activity":"streaming","new":[1]}"#)
                .unwrap();
        assert_eq!(s.pane.session.as_deref(), Some("tmux:x:%1"));
        assert_eq!(s.activity, Activity::Streaming);
        assert_eq!((s.turns, s.title, s.conversation), (0, None, None));
        assert_eq!(check_schema(Some(1)), Ok(()));
        assert!(check_schema(Some(2)).unwrap_err().contains("schema 2"));
    }

    #[test]
    fn labels() {
        let mut s = PaneState::<Pane, String, ()> {
            schema: SCHEMA,
            pane: Pane::default(),
            conversation: Some("01m7yd5d6e4q2r8kzz".into()),
            title: Some(String::new()),
            turns: 0,
            updated_at: None,
            activity: Activity::Idle,
            held_by: None,
            agent: None,
            backend: None,
        };
        assert_eq!(s.label(), "01m7yd5d6e4q2r8kzz");
        s.title = Some("Zellij layouts".into());
        assert_eq!(s.label(), "Zellij layouts");
        s.conversation = None;
        s.title = None;
        assert_eq!(s.label(), "");
    }

    #[test]
    fn agent_states_read_and_say_themselves() {
        let s: PaneState<Pane, String, ()> = serde_json::from_str(
            r#"{"agent":{"kind":"claude-code","state":"needs-you","session":"s1"}}"#,
        )
        .unwrap();
        let a = s.agent.unwrap();
        assert_eq!(a.state, AgentState::NeedsYou);
        assert_eq!(a.summary(), "claude: needs you");
        let working = Agent {
            kind: "codex".into(),
            state: AgentState::Working,
            tool: Some("exec_command".into()),
            ..Agent::default()
        };
        assert_eq!(working.summary(), "codex: running exec_command");
        assert_eq!(working.line(), "codex: running exec_command");
        assert_eq!(a.line(), "⚑ claude: needs you");
        let done = Agent {
            state: AgentState::Done,
            ..a
        };
        assert_eq!(done.line(), "✓ claude: done");
        for st in ["idle", "working", "needs-you", "done"] {
            assert_eq!(AgentState::parse(st).unwrap().as_str(), st);
        }
        assert_eq!(AgentState::parse("busy"), None);
        let none: PaneState<Pane, String, ()> = serde_json::from_str("{}").unwrap();
        assert_eq!(none.agent, None);
    }
}
