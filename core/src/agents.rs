//! Each pane's coding agent: what it is doing ([`Agent`]), one small file per pane under
//! `state/agents/`, named like the pane's session record.
//!
//! Two writers fill it: an agent's hooks, when the user runs Claude Code or Codex by hand in a
//! pane (`panechat hook`), and panechat itself while it runs an agent as a conversation's
//! back-end. Readers ([`crate::state`]) put it in the pane's state, so every channel to the
//! multiplexers shows it. A write replaces the file atomically without taking any lock, so an
//! agent's hook never waits for panechat's store.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::paths::{ensure_dir, Paths};
use crate::session::SessionKey;
use crate::store::atomic;

pub use panechat_vocab::state::{Agent, AgentState};

/// What is stored for a pane's agent: the [`Agent`] and the pane it belongs to (a file name is
/// a hash, so the key is kept to tell a collision from the pane's own record).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgentRecord {
    /// The pane's session key.
    pub pane: SessionKey,
    /// The agent.
    #[serde(flatten)]
    pub agent: Agent,
}

fn file(paths: &Paths, key: &SessionKey) -> PathBuf {
    paths.agents().join(format!("{}.json", key.file_stem()))
}

/// The agent recorded for pane `key`, if any (an unreadable or foreign file counts as none).
pub fn read(paths: &Paths, key: &SessionKey) -> Option<Agent> {
    let bytes = crate::files::read(&file(paths, key)).ok()?;
    let rec: AgentRecord = serde_json::from_slice(&bytes).ok()?;
    (rec.pane == *key).then_some(rec.agent)
}

/// Records `agent` as pane `key`'s (replacing the file atomically, without fsync: the state is
/// worth nothing after a crash but the agent's session id, which the next hook call writes
/// again).
pub fn record(paths: &Paths, key: &SessionKey, agent: &Agent) -> Result<()> {
    let dir = paths.agents();
    ensure_dir(&dir)?;
    let rec = AgentRecord {
        pane: key.clone(),
        agent: agent.clone(),
    };
    let bytes = serde_json::to_vec(&rec).map_err(|e| Error::Corrupt {
        path: file(paths, key),
        line: 1,
        msg: e.to_string(),
    })?;
    atomic::write_replace(&file(paths, key), &bytes)
}

/// Every pane's recorded agent (a file that does not read, or is not named for its pane, is
/// left out).
pub fn all(paths: &Paths) -> Vec<AgentRecord> {
    let Ok(dir) = std::fs::read_dir(paths.agents()) else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let bytes = crate::files::read(&p).ok()?;
            let rec: AgentRecord = serde_json::from_slice(&bytes).ok()?;
            (file(paths, &rec.pane) == p).then_some(rec)
        })
        .collect()
}

/// The user looked at pane `key` (focused it): an agent there that is done is now idle.
/// Returns whether it was done (and so changed); no other state changes.
pub fn seen(paths: &Paths, key: &SessionKey) -> Result<bool> {
    match read(paths, key) {
        Some(a) if a.state == AgentState::Done => {
            let idle = Agent {
                state: AgentState::Idle,
                since: Some(crate::time::now_rfc3339()),
                ..a
            };
            record(paths, key, &idle)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Forgets pane `key`'s agent (a missing file is fine).
pub fn clear(paths: &Paths, key: &SessionKey) -> Result<()> {
    let p = file(paths, key);
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&p, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panes_agent_is_recorded_read_and_cleared() {
        let store = crate::store::temp_store("agents", "record");
        let key = SessionKey::normalize("tmux:x:%1").unwrap();
        let other = SessionKey::normalize("tmux:x:%2").unwrap();
        assert_eq!(read(&store.paths, &key), None);
        let a = Agent {
            kind: "claude-code".into(),
            state: AgentState::Working,
            tool: Some("Bash".into()),
            session: Some("5f0c".into()),
            ..Agent::default()
        };
        record(&store.paths, &key, &a).unwrap();
        assert_eq!(read(&store.paths, &key), Some(a.clone()));
        let listed = all(&store.paths);
        assert_eq!(listed.len(), 1);
        assert_eq!((&listed[0].pane, &listed[0].agent), (&key, &a));
        assert_eq!(read(&store.paths, &other), None);
        assert!(!seen(&store.paths, &key).unwrap(), "working is not done");
        let done = Agent {
            state: AgentState::Done,
            ..a.clone()
        };
        record(&store.paths, &key, &done).unwrap();
        assert!(seen(&store.paths, &key).unwrap());
        let now = read(&store.paths, &key).unwrap();
        assert_eq!(
            (now.state, now.session),
            (AgentState::Idle, a.session.clone())
        );
        assert!(!seen(&store.paths, &key).unwrap());
        assert!(!seen(&store.paths, &other).unwrap(), "no agent: nothing");
        clear(&store.paths, &key).unwrap();
        clear(&store.paths, &key).unwrap();
        assert_eq!(read(&store.paths, &key), None);
    }
}
