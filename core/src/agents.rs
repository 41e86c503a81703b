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
use crate::session::{Instance, SessionKey};
use crate::store::atomic;

pub use panechat_vocab::state::{Agent, AgentState};

/// What is stored for a pane's agent: the [`Agent`] and the pane it belongs to (a file name is
/// a hash, so the key is kept to tell a collision from the pane's own record).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgentRecord {
    /// The pane's session key.
    pub pane: SessionKey,
    /// What the pane lives in, as session records name it (see
    /// [`crate::session::Session::server`]), when a hook recorded it: `panechat sessions` lists
    /// a pane known only by its agent, and tells whether its multiplexer still runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The multiplexer instance the pane lives in, when a hook recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<Instance>,
    /// The agent process that reported last (`<pid>-<start time>`), when known: Codex reports
    /// its internal threads through the same program (see [`crate::hooks::codex`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// When it last reported (milliseconds since the epoch), when a hook recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_ms: Option<u64>,
    /// The agent.
    #[serde(flatten)]
    pub agent: Agent,
}

/// Whether `id` is a plain agent session (thread) id: letters, digits, `-`, `_`, `.`, at most
/// 200 of them, not starting with `-` (so it never reads as an option of the agent's command
/// line, and is safe in a path and a shell word).
pub fn plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn file(paths: &Paths, key: &SessionKey) -> PathBuf {
    paths.agents().join(format!("{}.json", key.file_stem()))
}

/// The agent recorded for pane `key`, if any (an unreadable or foreign file counts as none).
pub fn read(paths: &Paths, key: &SessionKey) -> Option<Agent> {
    read_record(paths, key).map(|r| r.agent)
}

/// The whole record of pane `key`'s agent, if any (an unreadable or foreign file counts as
/// none).
pub fn read_record(paths: &Paths, key: &SessionKey) -> Option<AgentRecord> {
    let bytes = crate::files::read(&file(paths, key)).ok()?;
    let rec: AgentRecord = serde_json::from_slice(&bytes).ok()?;
    (rec.pane == *key).then_some(rec)
}

/// Every recorded pane's agent (unreadable files are skipped).
pub fn all(paths: &Paths) -> Vec<AgentRecord> {
    let Ok(entries) = crate::paths::list_dir(&paths.agents()) else {
        return Vec::new();
    };
    let mut out: Vec<AgentRecord> = entries
        .into_iter()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            !n.starts_with('.') && n.ends_with(".json")
        })
        .filter_map(|e| {
            let bytes = crate::files::read(&e.path()).ok()?;
            let rec: AgentRecord = serde_json::from_slice(&bytes).ok()?;
            (file(paths, &rec.pane) == e.path()).then_some(rec)
        })
        .collect();
    out.sort_by(|a, b| a.pane.as_str().cmp(b.pane.as_str()));
    out
}

/// Records `agent` as pane `key`'s (replacing the file atomically, without fsync: the state is
/// worth nothing after a crash but the agent's session id, which the next hook call writes
/// again).
pub fn record(paths: &Paths, key: &SessionKey, agent: &Agent) -> Result<()> {
    write_record(
        paths,
        &AgentRecord {
            pane: key.clone(),
            server: None,
            instance: None,
            process: None,
            reported_ms: None,
            agent: agent.clone(),
        },
    )
}

/// Records `rec` as its pane's ([`record`] with the pane's place and the reporting process).
pub fn write_record(paths: &Paths, rec: &AgentRecord) -> Result<()> {
    let dir = paths.agents();
    ensure_dir(&dir)?;
    let bytes = serde_json::to_vec(rec).map_err(|e| Error::Corrupt {
        path: file(paths, &rec.pane),
        line: 1,
        msg: e.to_string(),
    })?;
    atomic::write_replace(&file(paths, &rec.pane), &bytes)
}

/// The user looked at pane `key` (focused it): an agent there that is done is now idle.
/// Returns whether it was done (and so changed); no other state changes.
pub fn seen(paths: &Paths, key: &SessionKey) -> Result<bool> {
    let path = file(paths, key);
    let Ok(before) = crate::files::read(&path) else {
        return Ok(false);
    };
    match serde_json::from_slice::<AgentRecord>(&before) {
        Ok(mut rec) if rec.pane == *key && rec.agent.state == AgentState::Done => {
            // (the rest of the record, its pane's place included, stays as the hook wrote it)
            rec.agent.state = AgentState::Idle;
            rec.agent.since = Some(crate::time::now_rfc3339());
            let bytes = serde_json::to_vec(&rec).map_err(|e| Error::Corrupt {
                path: path.clone(),
                line: 1,
                msg: e.to_string(),
            })?;
            // A hook that reported meanwhile (the agent works again) wins.
            let unchanged = || crate::files::read(&path).is_ok_and(|now| now == before);
            atomic::replace_if_unchanged(&path, &bytes, false, &unchanged)
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
        let rec = AgentRecord {
            pane: key.clone(),
            server: Some("/tmp/tmux-0/default,42,0".into()),
            instance: None,
            process: Some("42-7".into()),
            reported_ms: Some(1),
            agent: done,
        };
        write_record(&store.paths, &rec).unwrap();
        assert!(seen(&store.paths, &key).unwrap());
        let now = read_record(&store.paths, &key).unwrap();
        assert_eq!(
            (now.agent.state, now.agent.session),
            (AgentState::Idle, a.session.clone())
        );
        assert_eq!(
            (now.server, now.process, now.reported_ms),
            (rec.server, rec.process, rec.reported_ms),
            "the rest of the record is kept"
        );
        assert!(!seen(&store.paths, &key).unwrap());
        assert!(!seen(&store.paths, &other).unwrap(), "no agent: nothing");
        clear(&store.paths, &key).unwrap();
        clear(&store.paths, &key).unwrap();
        assert_eq!(read(&store.paths, &key), None);
    }
}
