//! The runs registry: every live query registers itself under `state/runs/` while it runs.
//!
//! A run file is named `<pid>-<start>.json` and holds its session, conversation and state. A run
//! is live only while its process is alive *and* has the recorded start time, so a recycled pid
//! is never mistaken for it. Files of dead runs are removed by whoever notices them.

use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::paths::{ensure_dir, list_dir, Paths};
use crate::session::{process_alive, process_start_time, PaneRef, Session};
use crate::store::atomic;

/// What a run is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Waiting for the conversation's lock.
    WaitingForLock,
    /// Receiving the reply.
    Streaming,
    /// Asking the model for a title.
    GeneratingTitle,
    /// A short write under the lock (`rename`, `rm`).
    Writing,
    /// Finished (briefly visible before the file is removed).
    Done,
}

impl RunState {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::WaitingForLock => "waiting-for-lock",
            RunState::Streaming => "streaming",
            RunState::GeneratingTitle => "generating-title",
            RunState::Writing => "writing",
            RunState::Done => "done",
        }
    }

    /// Whether a run in this state holds its conversation's lock.
    pub fn holds_lock(self) -> bool {
        matches!(
            self,
            RunState::Streaming | RunState::GeneratingTitle | RunState::Writing
        )
    }
}

/// What a run (or a lock's holder) is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// `panechat q`: a question and its reply.
    #[default]
    Query,
    /// `panechat rename`.
    Rename,
    /// `panechat rm`.
    Rm,
    /// Something a newer panechat does.
    #[serde(other)]
    Other,
}

impl RunKind {
    /// `query`, `rename`, `rm`, `other`: as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Query => "query",
            RunKind::Rename => "rename",
            RunKind::Rm => "rm",
            RunKind::Other => "other",
        }
    }
}

impl std::fmt::Display for RunKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Process id.
    pub pid: u32,
    /// Process start time (clock ticks since boot).
    pub start: u64,
    /// The pane it runs in.
    #[serde(flatten)]
    pub pane: PaneRef,
    /// What it does: `query`, or a short write (`rename`, `rm`).
    #[serde(default)]
    pub command: RunKind,
    /// Conversation id (empty until resolved).
    pub conversation: String,
    /// State.
    pub state: RunState,
    /// When the run started (RFC 3339).
    pub since: String,
    /// When the state last changed.
    #[serde(default)]
    pub state_since: String,
    /// Provider kind.
    #[serde(default)]
    pub provider: String,
    /// Model.
    #[serde(default)]
    pub model: String,
}

/// This process's registration; removed on drop.
#[derive(Debug)]
pub struct Registration {
    path: PathBuf,
    run: Run,
}

impl Registration {
    /// Registers this process as a run.
    pub fn register(
        paths: &Paths,
        session: &Session,
        command: RunKind,
        conversation: &str,
        state: RunState,
        provider: &str,
        model: &str,
    ) -> Result<Registration> {
        ensure_dir(&paths.runs())?;
        let pid = std::process::id();
        let start = process_start_time(pid).unwrap_or(0);
        let now = crate::time::now_rfc3339();
        let run = Run {
            pid,
            start,
            pane: session.pane_ref(),
            command,
            conversation: conversation.to_string(),
            state,
            since: now.clone(),
            state_since: now,
            provider: provider.to_string(),
            model: model.to_string(),
        };
        let reg = Registration {
            path: run_file(paths, pid, start),
            run,
        };
        reg.write()?;
        Ok(reg)
    }

    fn write(&self) -> Result<()> {
        atomic::write_replace(
            &self.path,
            &serde_json::to_vec(&self.run).expect("run serialises"),
        )
    }

    /// Updates the state (and conversation) of the run.
    pub fn set(&mut self, conversation: &str, state: RunState) -> Result<()> {
        if self.run.state != state {
            self.run.state_since = crate::time::now_rfc3339();
        }
        self.run.conversation = conversation.to_string();
        self.run.state = state;
        self.write()
    }

    /// Updates provider and model.
    pub fn set_model(&mut self, provider: &str, model: &str) {
        self.run.provider = provider.to_string();
        self.run.model = model.to_string();
    }
}

impl Registration {
    /// The run as registered.
    pub fn run(&self) -> &Run {
        &self.run
    }

    /// The registry file of this run.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

/// The registry file of the run of process `pid` started at `start`.
pub fn run_file(paths: &Paths, pid: u32, start: u64) -> PathBuf {
    paths.runs().join(format!("{pid}-{start}.json"))
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Every live run; files of dead runs are removed on the way.
pub fn live(paths: &Paths) -> Result<Vec<Run>> {
    scan(paths, true)
}

/// Every live run, without touching the files of dead ones (for read-only paths: `status`).
pub fn live_readonly(paths: &Paths) -> Result<Vec<Run>> {
    scan(paths, false)
}

fn scan(paths: &Paths, remove_dead: bool) -> Result<Vec<Run>> {
    let mut out = Vec::new();
    for e in list_dir(&paths.runs())? {
        let p = e.path();
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let Some((pid, start)) = stem.split_once('-') else {
            continue;
        };
        let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
            continue;
        };
        if !process_alive(pid, start) {
            if remove_dead {
                let _ = fs::remove_file(&p);
            }
            continue;
        }
        if let Ok(b) = crate::files::read(&p) {
            if let Ok(run) = serde_json::from_slice::<Run>(&b) {
                if run.pid == pid && run.start == start {
                    out.push(run);
                }
            }
        }
    }
    out.sort_by(|a, b| a.since.cmp(&b.since));
    Ok(out)
}
