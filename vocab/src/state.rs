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
        };
        assert_eq!(s.label(), "01m7yd5d6e4q2r8kzz");
        s.title = Some("Zellij layouts".into());
        assert_eq!(s.label(), "Zellij layouts");
        s.conversation = None;
        s.title = None;
        assert_eq!(s.label(), "");
    }
}
