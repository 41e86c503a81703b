//! The runs registry: every live query registers itself under `state/runs/` while it runs.
//!
//! A run file is named `<pid>-<start>.json` and holds its session, conversation and state. A run
//! is live only while its process is alive *and* has the recorded start time, so a recycled pid
//! is never mistaken for it. Files of dead runs are removed by whoever notices them.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::paths::{ensure_dir, list_dir, Paths};
use crate::session::{process_alive, process_start_time, PaneRef, Session, SessionKey};
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
    /// The coding agent it runs, if any: the pid that leads the agent's own session (every
    /// process the agent started is in it), with its start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_pid: Option<u32>,
    /// The start time of `agent_pid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_start: Option<u64>,
    /// The mark every process of the agent's run carries
    /// ([`crate::provider::AGENT_MARK_VAR`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_mark: Option<String>,
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
            agent_pid: None,
            agent_start: None,
            agent_mark: None,
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

    /// Records the coding agent the run started (the leader of its session), so that what the
    /// agent started is ended even if this process is killed outright.
    pub fn set_agent(&mut self, pid: u32, mark: Option<String>) -> Result<()> {
        self.run.agent_pid = Some(pid);
        self.run.agent_start = process_start_time(pid);
        self.run.agent_mark = mark;
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
                if let Some(run) = crate::files::read(&p)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Run>(&b).ok())
                {
                    end_orphaned_agent_of(paths, &run);
                }
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

/// The record of the run of process `pid` started at `start`, when it is there and reads.
pub fn read(paths: &Paths, pid: u32, start: u64) -> Option<Run> {
    crate::files::read(&run_file(paths, pid, start))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// After the run of process `pid` (started at `start`) closed its end of its watcher's pipe:
/// waits up to 2 s for the process to be gone (its descriptors close just before it becomes
/// a zombie). If it left its record behind (SIGKILL), removes it and returns the run as the
/// record last said (its conversation may have changed since it started), or as `before`
/// said when the record no longer reads. `None` when the run cleaned up after itself, or
/// still runs.
pub fn reap(paths: &Paths, pid: u32, start: u64, before: Option<Run>) -> Option<Run> {
    let file = run_file(paths, pid, start);
    let t = Instant::now();
    while process_alive(pid, start) && t.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(5));
    }
    if !file.exists() || process_alive(pid, start) {
        return None;
    }
    let run = read(paths, pid, start).or(before);
    if let Some(r) = &run {
        end_orphaned_agent_of(paths, r);
    }
    let _ = fs::remove_file(&file);
    run
}

/// [`end_orphaned_agent`], and the pane's agent, which the run showed working, is idle again
/// (what the pane shows once it is published: the run is over).
fn end_orphaned_agent_of(paths: &Paths, r: &Run) {
    if r.agent_pid.is_none() {
        return;
    }
    end_orphaned_agent(r);
    let Some(mut rec) = crate::agents::read_record(paths, &r.pane.session) else {
        return;
    };
    use crate::agents::AgentState;
    if matches!(rec.agent.state, AgentState::Working | AgentState::NeedsYou) {
        rec.agent.state = AgentState::Idle;
        rec.agent.tool = None;
        rec.agent.since = Some(crate::time::now_rfc3339());
        let _ = crate::agents::write_record(paths, &rec);
    }
}

/// Ends what is left of the coding agent of a run whose process died without ending it
/// (killed outright): every process of the agent's session or with its mark that started no
/// earlier than the agent, SIGKILL (the run is gone: nothing would read what they write, and
/// they would go on writing to the agent's session while another query resumes it).
///
/// A process the agent was starting as the others were listed (its parent not yet killed) is
/// found by the next pass: passes repeat until none is left (for at most two seconds).
pub fn end_orphaned_agent(r: &Run) {
    let (Some(pid), Some(start)) = (r.agent_pid, r.agent_start) else {
        return;
    };
    // The session's number is the agent's pid: once the agent is gone and the pid given to
    // another process that leads a session of its own (a new shell, another run's agent),
    // that session is not the agent's; only the mark then tells the agent's processes.
    let sid = if session_still_the_agents(pid, start) {
        pid as i32
    } else {
        -1
    };
    let mark = r.agent_mark.as_deref().unwrap_or("");
    let t = Instant::now();
    loop {
        let left: Vec<i32> = crate::provider::agent_processes(sid, mark)
            .into_iter()
            .filter(|m| process_start_time(*m as u32).is_some_and(|s| s >= start))
            .collect();
        if left.is_empty() || t.elapsed() > Duration::from_secs(2) {
            return;
        }
        for member in left {
            // SAFETY: kill(2) on a process of the agent's session (checked just above).
            unsafe {
                libc::kill(member, libc::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether session `pid` can still be the agent's that was `pid` started at `start`: no process
/// has that pid now (its session lives on in what the agent left), or the agent itself still
/// does. A pid is not given again while a session or group of that number remains, so the
/// leftovers of the agent's session are safe to find by it.
fn session_still_the_agents(pid: u32, start: u64) -> bool {
    process_start_time(pid).is_none_or(|now| now == start)
}

/// Whether `r`'s process is a `panechat` of this user (so signalling it ends a run, never
/// someone else's process that got a recycled pid).
pub fn is_our_panechat(r: &Run) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::metadata(format!("/proc/{}", r.pid)) else {
        return false;
    };
    // SAFETY: getuid has no preconditions.
    if meta.uid() != unsafe { libc::getuid() } {
        return false;
    }
    let Ok(exe) = fs::read_link(format!("/proc/{}/exe", r.pid)) else {
        return false;
    };
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name == "panechat" || name.starts_with("panechat ") || name.starts_with("panechat-")
}

/// The live runs of session `key` (of every session when `None`), this process's own excepted.
pub fn of_session(paths: &Paths, key: Option<&SessionKey>) -> Result<Vec<Run>> {
    let me = std::process::id();
    Ok(live(paths)?
        .into_iter()
        .filter(|r| key.is_none_or(|k| r.pane.session == *k) && r.pid != me)
        .collect())
}

/// What [`end`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ended {
    /// Runs no longer running.
    pub ended: usize,
    /// Runs that needed SIGKILL.
    pub forced: usize,
}

/// Ends `targets`: SIGTERM to each, SIGKILL to those still running after `grace`, then waits
/// up to 2 s for them to go and removes the registry files of those gone (their own ends, or
/// their watchers after SIGKILL, republish; this makes sure the panes are idle again even if
/// neither could). `log` is told of each signal (level, message).
pub fn end(paths: &Paths, targets: &[Run], grace: Duration, log: &dyn Fn(&str, &str)) -> Ended {
    let running = |r: &&Run| process_alive(r.pid, r.start);
    for r in targets {
        log(
            "INFO",
            &format!(
                "kill: SIGTERM to run pid {} (session {}, conversation {})",
                r.pid, r.pane.session, r.conversation
            ),
        );
        signal(r, libc::SIGTERM);
    }
    wait_until_gone(targets, grace, Duration::from_millis(20));
    let mut forced = 0;
    for r in targets.iter().filter(running) {
        log(
            "WARN",
            &format!(
                "kill: run pid {} ignored SIGTERM for {grace:?}; SIGKILL",
                r.pid
            ),
        );
        signal(r, libc::SIGKILL);
        forced += 1;
    }
    wait_until_gone(targets, Duration::from_secs(2), Duration::from_millis(10));
    let mut ended = 0;
    for r in targets.iter().filter(|r| !running(r)) {
        // The record as the run left it (it names its agent once it started one).
        let last = read(paths, r.pid, r.start).unwrap_or_else(|| r.clone());
        end_orphaned_agent_of(paths, &last);
        let _ = fs::remove_file(run_file(paths, r.pid, r.start));
        ended += 1;
    }
    Ended { ended, forced }
}

/// Sends `sig` to a run's process.
fn signal(r: &Run, sig: i32) {
    // SAFETY: kill(2) with a pid and a signal number has no memory-safety preconditions; the
    // callers pass runs verified to be this user's panechat processes.
    unsafe {
        libc::kill(r.pid as i32, sig);
    }
}

/// Waits until none of `runs` is running, or `limit` passed.
fn wait_until_gone(runs: &[Run], limit: Duration, step: Duration) {
    let t = Instant::now();
    while t.elapsed() < limit && runs.iter().any(|r| process_alive(r.pid, r.start)) {
        std::thread::sleep(step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Multiplexer;

    fn paths(name: &str) -> Paths {
        let root =
            std::env::temp_dir().join(format!("panechat-runs-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let env = crate::env::Env::from_pairs([(
            "PANECHAT_HOME".to_string(),
            root.display().to_string(),
        )]);
        let p = Paths::resolve(&env).unwrap();
        ensure_dir(&p.runs()).unwrap();
        p
    }

    /// A child running `script` in `sh`, registered as a run of session `key`; reaped by a
    /// thread of its own once it ends (a zombie would still look alive).
    fn child(p: &Paths, key: &str, script: &str) -> Run {
        let c = std::process::Command::new("sh")
            .args(["-c", script])
            .spawn()
            .unwrap();
        let pid = c.id();
        std::thread::spawn(move || {
            let mut c = c;
            let _ = c.wait();
        });
        let start = process_start_time(pid).unwrap();
        let run = Run {
            agent_mark: None,
            agent_pid: None,
            agent_start: None,
            pid,
            start,
            pane: PaneRef {
                session: SessionKey::normalize(key).unwrap(),
                multiplexer: Multiplexer::Unix,
                pane: None,
            },
            command: RunKind::Query,
            conversation: "01abc".into(),
            state: RunState::Streaming,
            since: crate::time::now_rfc3339(),
            state_since: String::new(),
            provider: String::new(),
            model: String::new(),
        };
        atomic::write_replace(&run_file(p, pid, start), &serde_json::to_vec(&run).unwrap())
            .unwrap();
        run
    }

    #[test]
    fn an_orphaned_agents_session_number_given_to_another_session_is_left_alone() {
        use std::os::unix::process::{CommandExt, ExitStatusExt};
        let p = paths("reused");
        // A process leading a session of its own whose number was once a dead agent's pid
        // (started later than that agent did).
        let mut other = std::process::Command::new("sleep");
        other.arg("30");
        // SAFETY: setsid(2) in the child before exec.
        unsafe {
            other.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let mut other = other.spawn().unwrap();
        let pid = other.id();
        let start = process_start_time(pid).unwrap();
        let mut run = child(&p, "unix:a", "exit 0");
        run.agent_pid = Some(pid);
        run.agent_start = Some(start - 1);
        end_orphaned_agent(&run);
        assert!(
            matches!(other.try_wait(), Ok(None)),
            "another session with the agent's old number was killed"
        );
        // The agent itself (its start time recorded) is ended.
        run.agent_start = Some(start);
        end_orphaned_agent(&run);
        assert!(other.wait().unwrap().signal().is_some());
    }

    #[test]
    fn ending_runs_signals_then_forces_and_forgets_them() {
        let p = paths("end");
        let ready =
            std::env::temp_dir().join(format!("panechat-runs-ready-{}", std::process::id()));
        let _ = fs::remove_file(&ready);
        let polite = child(&p, "unix:a", "exec sleep 30");
        let stubborn = child(
            &p,
            "unix:b",
            &format!(
                "trap '' TERM; touch {}; while :; do sleep 1; done",
                ready.display()
            ),
        );
        let t = Instant::now();
        while !ready.exists() && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(ready.exists(), "the stubborn child set its trap");
        let key = SessionKey::normalize("unix:b").unwrap();
        assert_eq!(of_session(&p, Some(&key)).unwrap(), vec![stubborn.clone()]);
        assert_eq!(of_session(&p, None).unwrap().len(), 2);
        // A test process is no panechat: `panechat kill` would leave it alone.
        assert!(!is_our_panechat(&polite));

        let logged = std::cell::RefCell::new(Vec::new());
        let done = end(
            &p,
            &[polite, stubborn.clone()],
            Duration::from_millis(300),
            &|level, msg| logged.borrow_mut().push(format!("{level} {msg}")),
        );
        assert_eq!(
            done,
            Ended {
                ended: 2,
                forced: 1
            }
        );
        let logged = logged.into_inner();
        assert_eq!(
            logged
                .iter()
                .filter(|l| l.starts_with("INFO kill: SIGTERM"))
                .count(),
            2
        );
        assert_eq!(
            logged.last().unwrap(),
            &format!(
                "WARN kill: run pid {} ignored SIGTERM for 300ms; SIGKILL",
                stubborn.pid
            )
        );
        assert!(of_session(&p, None).unwrap().is_empty());
        assert!(list_dir(&p.runs()).unwrap().is_empty());
        let _ = fs::remove_file(&ready);
        let _ = fs::remove_dir_all(p.data.parent().unwrap());
    }

    #[test]
    fn a_killed_run_s_record_is_reaped_once() {
        let p = paths("reap");
        let run = child(&p, "unix:k", "exec sleep 30");
        assert_eq!(read(&p, run.pid, run.start).as_ref(), Some(&run));
        // Still running: left alone (after the 2 s it is given to end).
        assert_eq!(reap(&p, run.pid, run.start, None), None);
        assert!(run_file(&p, run.pid, run.start).exists());
        signal(&run, libc::SIGKILL);
        assert_eq!(reap(&p, run.pid, run.start, None).as_ref(), Some(&run));
        assert!(!run_file(&p, run.pid, run.start).exists());
        assert_eq!(reap(&p, run.pid, run.start, Some(run.clone())), None);
        let _ = fs::remove_dir_all(p.data.parent().unwrap());
    }
}
