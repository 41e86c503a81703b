//! What the plugin learns from `panechat`: the pane-state JSON (`panechat::state` pipe messages,
//! `panechat sessions --json`), parsed leniently (unknown fields ignored) but with the schema
//! number checked.

use serde::Deserialize;

pub use panechat_vocab::state::{Activity, SCHEMA};

/// Who holds a conversation's lock (`held_by` in the pane state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Holder {
    /// The holder's session key.
    #[serde(default)]
    pub session: Option<String>,
    /// Its multiplexer (`zellij`, `tmux`, …).
    #[serde(default)]
    pub multiplexer: Option<String>,
    /// Its pane id within that multiplexer.
    #[serde(default)]
    pub pane: Option<String>,
    /// Its process id.
    #[serde(default)]
    pub pid: Option<u64>,
}

/// The pane a state is about (the pane's members of the state object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Pane {
    /// Session key (`zellij:<session>:<pane>`).
    #[serde(default)]
    pub session: Option<String>,
    /// Session key, as `sessions --json` also names it.
    #[serde(default)]
    pub key: Option<String>,
    /// `zellij`, `tmux`, …
    #[serde(default)]
    pub multiplexer: Option<String>,
    /// The pane id within its multiplexer (`3`, `terminal_3`).
    #[serde(default)]
    pub pane: Option<String>,
    /// Orders the states of one pane (`panechat::state` messages only): a state whose stamp is
    /// smaller than one already applied to its pane is older and is dropped.
    #[serde(default)]
    pub stamp: Option<u64>,
}

/// The state of one pane (session), as published by panechat: the shared document with the
/// plugin's lenient pane and holder.
pub type PaneState = panechat_vocab::state::PaneState<Pane, String, Holder>;

impl Pane {
    /// The session key, whichever field carries it.
    pub fn key(&self) -> Option<&str> {
        self.session.as_deref().or(self.key.as_deref())
    }

    /// The Zellij terminal pane id this state is about, when it is a Zellij pane of the
    /// session whose key part is `session_part` (any session when `None`).
    pub fn zellij_pane(&self, session_part: Option<&str>) -> Option<u32> {
        let key = self.key()?;
        let mut parts = key.splitn(3, ':');
        let (mux, sess, pane) = (parts.next()?, parts.next()?, parts.next()?);
        if mux != "zellij" {
            return None;
        }
        if let Some(want) = session_part {
            // `zellij:<name>~<instance>:<pane>`: panechat names the session's run too, and
            // publishes only to panes of the run that is live, so any instance of this name is
            // this session.
            let name = sess.split_once('~').map_or(sess, |(name, _instance)| name);
            if name != want {
                return None;
            }
        }
        let pane = self.pane.as_deref().unwrap_or(pane);
        pane.strip_prefix("terminal_").unwrap_or(pane).parse().ok()
    }
}

fn check_schema(v: &serde_json::Value) -> Result<(), String> {
    panechat_vocab::state::check_schema(v.get("schema").and_then(serde_json::Value::as_u64))
        .map_err(|e| format!("{e} (see docs/zellij.md)"))
}

/// Parses one pane-state document (a `panechat::state` payload).
pub fn parse_state(text: &str) -> Result<PaneState, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    check_schema(&v)?;
    serde_json::from_value(v).map_err(|e| format!("not a pane state ({e})"))
}

/// Parses `panechat sessions --json`: elements that are not pane states are skipped.
pub fn parse_sessions(text: &str) -> Result<Vec<PaneState>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    let serde_json::Value::Array(items) = v else {
        return Err("expected a JSON array".into());
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        check_schema(&item)?;
        if let Ok(s) = serde_json::from_value::<PaneState>(item) {
            out.push(s);
        }
    }
    Ok(out)
}

/// The part of a Zellij session key that names the session, exactly as panechat builds it.
pub use panechat_vocab::key::zellij_session_part as session_part;

/// How a command the plugin runs names terminal pane `pane` of this session (`--session`):
/// panechat resolves it to the pane's key (which names the session's running instance).
pub fn pane_session(pane: u32) -> String {
    panechat_vocab::key::pane_session(&format!("terminal_{pane}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_pane_state() {
        let s = parse_state(
            r#"{"schema":1,"session":"zellij:dev:3","multiplexer":"zellij","pane":"3",
             "conversation":"01m7yd5d6e4q2r8kzz","title":"Zellij layouts","turns":3,
             "updated_at":"2026-12-02T10:00:00Z","activity":"streaming",
             "held_by":{"session":"zellij:dev:4","multiplexer":"zellij","pane":"4","pid":42,"command":"q","since":"x"},
             "future_field":[1,2]}"#,
        )
        .unwrap();
        assert_eq!(s.pane.zellij_pane(Some("dev")), Some(3));
        assert_eq!(s.pane.zellij_pane(Some("other")), None);
        assert_eq!(s.title.as_deref(), Some("Zellij layouts"));
        assert_eq!(s.activity.as_str(), "streaming");
        assert_eq!(s.held_by.unwrap().pane.as_deref(), Some("4"));
    }

    #[test]
    fn rejects_newer_schemas_and_garbage_with_a_reason() {
        assert!(parse_state(r#"{"schema":2}"#)
            .unwrap_err()
            .contains("schema 2"));
        assert!(parse_state("kdl { x }").unwrap_err().contains("not JSON"));
        assert!(parse_sessions("{}").unwrap_err().contains("array"));
    }

    #[test]
    fn sessions_list_skips_foreign_elements() {
        let v = parse_sessions(
            r#"[{"schema":1,"key":"tmux:abc:%1","conversation":"a"},
                {"schema":1,"key":"zellij:dev:7","conversation":"b","activity":"waiting","runs":[{"state":"waiting"}]},
                42]"#,
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].pane.zellij_pane(None), None);
        assert_eq!(v[1].pane.zellij_pane(Some("dev")), Some(7));
        let mut later = v[1].clone();
        later.pane.session = Some("zellij:dev~0a1b2c3d:7".into());
        assert_eq!(
            later.pane.zellij_pane(Some("dev")),
            Some(7),
            "any run of the session"
        );
        assert_eq!(later.pane.zellij_pane(Some("de")), None);
        assert_eq!(v[1].activity.as_str(), "waiting");
    }

    #[test]
    fn session_keys_match_panechats() {
        assert_eq!(pane_session(3), "pane:terminal_3");
        let odd = session_part("my session/1");
        assert!(odd.starts_with('h') && odd.len() == 13, "{odd}");
    }
}
