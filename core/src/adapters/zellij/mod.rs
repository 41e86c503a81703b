//! Zellij: the pane-state channel (a `panechat::state` pipe message) and the lock question in a
//! floating pane.
//!
//! Both were checked against a real Zellij 0.45.1:
//! - `zellij pipe --name N -- PAYLOAD` (no `--plugin`) broadcasts to the session's plugins and
//!   returns at once (~30 ms) whether or not a plugin listens, and also when the session does not
//!   exist. It blocks, however, while a listening plugin still waits for its permissions to be
//!   granted. So the message is sent by a detached `zellij` process that the caller does not
//!   wait for, with an alarm set before `exec` that ends it after [`PIPE_DEADLINE_SECS`] at most.
//! - That process gets a pseudo-terminal as its stdin. With any other stdin (`/dev/null`, a
//!   pipe) `zellij pipe` reads stdin to its end and then sends a second, empty message and exits
//!   at once, without waiting for it to be taken. Once the plugins have taken that message, the
//!   Zellij 0.45.1 server acknowledges it to the pipe's client; that client is gone, so the server
//!   sends the acknowledgement to *every* client connected at that moment. Each `zellij` command
//!   (`zellij action …`, another `zellij pipe`) starts by checking that the session answers
//!   (it connects and expects "connected" as the first reply); one that receives the stray
//!   acknowledgement instead concludes "There is no active session!" and fails. With a terminal on
//!   stdin, `zellij pipe` sends the payload alone and exits when the plugins have taken it, so no
//!   acknowledgement goes astray.
//! - Messages from different processes (a query, its watcher, a query in another pane that shares
//!   the conversation) can arrive in any order; each payload carries a `stamp` (see
//!   [`stamp_now`]) so that the plugin keeps the newest state of each pane.
//! - `zellij run --floating --close-on-exit --block-until-exit -- CMD` returns CMD's exit
//!   status, but in a session without an attached client it runs the command where nobody can
//!   see it. So the popup is only used when `zellij action list-clients` lists a client.
//! - Zellij 0.45.1 ends every command's connection twice; a connection that starts in between
//!   can be given the same client number and is then dropped with it. A `zellij run` dropped
//!   that way ends with status 0 while its pane stays on screen, so the lock question's answer
//!   also goes through a question channel (`lock-prompt --token`), read while the pane that
//!   runs it is listed ([`panes_running`]). A `zellij pipe` dropped that way also ends with status
//!   0, having sent nothing: the plugin prints [`ACK`] for every state message it takes, and a
//!   message without it is sent again ([`again`]).

pub mod capture;
pub mod identity;
pub mod liveness;

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::adapters::exec::{cannot_run, failed, Exec, Output, RealExec};
use crate::env::Env;
use crate::error::{Error, Result};

/// The program.
pub const PROGRAM: &str = "zellij";

/// `zellij ARGS…` as an argv.
pub fn argv<S: AsRef<str>>(args: &[S]) -> Vec<String> {
    let mut v = vec![PROGRAM.to_string()];
    v.extend(args.iter().map(|a| a.as_ref().to_string()));
    v
}

/// How many times one `zellij` command is run at most when Zellij turns it away or cuts it off
/// (see [`retrying`]).
pub const ATTEMPTS: u32 = 3;

/// What one attempt of a `zellij` command came to (see [`retrying`]).
pub enum Attempt<T> {
    /// Done: this is the outcome.
    Done(T),
    /// Turned away or cut off: run it again, or take this outcome if it was the last attempt.
    Again(T),
}

/// The pause after attempt `attempt` (1 for the first) before the next one.
pub fn pause(attempt: u32) {
    std::thread::sleep(Duration::from_millis(25 * u64::from(attempt)));
}

/// The one retry policy for `zellij` commands. Zellij 0.45.1 reuses a client's number as soon as
/// it is free and may still act on the previous holder's disconnection afterwards, so a command
/// that starts while others end is now and then turned away ("There is no active session!",
/// see [`turned_away`]) although the session is there, or dropped after it was accepted (it then
/// ends with status 0 having done nothing). `attempt` (given its number, 1 first) is run until
/// it is [`Attempt::Done`], at most [`ATTEMPTS`] times, with a short [`pause`] in between; the
/// last outcome is returned.
pub fn retrying<T>(mut attempt: impl FnMut(u32) -> Attempt<T>) -> T {
    let mut n = 1;
    loop {
        match attempt(n) {
            Attempt::Done(t) => return t,
            Attempt::Again(t) if n >= ATTEMPTS => return t,
            Attempt::Again(_) => {
                pause(n);
                n += 1;
            }
        }
    }
}

/// Runs `zellij ARGS…`, a command that only reads (`action list-panes`, `action list-clients`,
/// `action dump-screen`), for at most `deadline` each time, and returns what it printed (`what`
/// names it in errors). Such a command always prints something: one that printed nothing was
/// cut off and is run again, as is one turned away ([`retrying`]).
pub fn read(exec: &dyn Exec, args: &[String], what: &str, deadline: Duration) -> Result<String> {
    let argv = argv(args);
    retrying(|_| match exec.run_within(&argv, deadline) {
        Err(e) => Attempt::Done(Err(cannot_run(&argv, what, &e))),
        Ok(None) => Attempt::Done(Err(Error::ToolFailed {
            message: format!(
                "`{}` did not answer within {} s",
                argv.join(" "),
                deadline.as_secs()
            ),
            source: None,
        })),
        Ok(Some(out)) if out.success() && !out.stdout.is_empty() => Attempt::Done(Ok(out.text())),
        Ok(Some(out)) if out.success() => Attempt::Again(Ok(String::new())),
        Ok(Some(out)) if turned(&out) => Attempt::Again(Err(failed(&argv, &out))),
        Ok(Some(out)) => Attempt::Done(Err(failed(&argv, &out))),
    })
}

/// Whether a `zellij` command that ended as `out` was turned away.
fn turned(out: &Output) -> bool {
    out.status == Some(1) && turned_away(&String::from_utf8_lossy(&out.stderr))
}

/// How long a listing may take.
const LIST_DEADLINE: Duration = Duration::from_secs(2);

/// Name of the pipe message that carries a pane's state.
pub const PIPE_NAME: &str = "panechat::state";

/// Longest life of a publishing `zellij pipe` process, in seconds.
pub const PIPE_DEADLINE_SECS: u32 = 5;

/// The Zellij session a pane-state payload is about: the middle of its `zellij:<name>:<pane>`
/// key when that is the session's real name (panechat keeps short names of `[A-Za-z0-9._-]`
/// as they are and hashes other names, which then only `ZELLIJ_SESSION_NAME` can tell).
fn session_of(payload: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(payload).ok()?;
    let key = v.get("session").or_else(|| v.get("key"))?.as_str()?;
    let mut parts = key.splitn(3, ':');
    if parts.next()? != "zellij" {
        return None;
    }
    let name = parts.next()?;
    parts.next()?;
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    // A hashed name is `h` + 12 hex digits; a real name may look the same, so prefer the
    // environment's name when there is one.
    let hashed = name.len() == 13
        && name.starts_with('h')
        && name[1..].bytes().all(|b| b.is_ascii_hexdigit());
    (plain && !hashed).then(|| name.to_string())
}

/// The Zellij session of pane key `key` when it is the one named by `ZELLIJ_SESSION_NAME` in
/// `env` (a command the plugin runs about a pane of its session that has no record, so no
/// recorded server): its name, to publish to.
pub fn session_of_key(env: &Env, key: &crate::session::SessionKey) -> Option<String> {
    let name = env.get("ZELLIJ_SESSION_NAME")?;
    let mut parts = key.as_str().splitn(3, ':');
    if parts.next()? != "zellij" {
        return None;
    }
    let part = parts.next()?;
    let part = part.split_once('~').map_or(part, |(p, _instance)| p);
    (part == panechat_vocab::key::zellij_session_part(name)).then(|| name.to_string())
}

/// The argv (after `zellij`) that delivers `payload` to the plugins of `session`
/// (`None`: the session named by `ZELLIJ_SESSION_NAME`).
pub fn publish_args(payload: &str, session: Option<&str>) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(s) = session {
        args.push("--session".to_string());
        args.push(s.to_string());
    }
    args.extend(["pipe", "--name", PIPE_NAME, "--"].map(String::from));
    args.push(payload.to_string());
    args
}

/// A number that grows with time, the same for every process on this machine: nanoseconds of
/// the monotonic clock (`CLOCK_MONOTONIC`, which never steps back). A pane state stamped before
/// the store was read for it is never newer than a state stamped later.
pub fn stamp_now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// A pseudo-terminal for a `zellij pipe`'s stdin: (master, slave), both close-on-exec.
fn stdin_terminal() -> Option<(OwnedFd, OwnedFd)> {
    let pty = nix::pty::openpty(None, None).ok()?;
    for fd in [&pty.master, &pty.slave] {
        // SAFETY: fcntl on a descriptor we own.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Some((pty.master, pty.slave))
}

/// Delivers one `panechat::state` message with `payload` (the pane-state JSON of
/// `docs/integration.md`) to the plugins of Zellij session `session` (when `None`: the session
/// named in the payload's key, else the one of `ZELLIJ_SESSION_NAME` in `env`). Never blocks:
/// the message goes out from a detached `zellij pipe` process that ends within
/// [`PIPE_DEADLINE_SECS`] even when a plugin never takes it. Does nothing when the session
/// cannot be told or when `zellij` is not installed.
pub fn publish_payload(env: &Env, session: Option<&str>, payload: &str) {
    let from_env = env.get("ZELLIJ_SESSION_NAME");
    let session = match session.filter(|s| !s.is_empty()) {
        Some(s) => Some(s.to_string()),
        None => match (session_of(payload), from_env) {
            (Some(s), _) => Some(s),
            (None, Some(_)) => None,
            (None, None) => return,
        },
    };
    let args = publish_args(payload, session.as_deref());
    let unheard = Unheard::of(env, session.as_deref().or(from_env));
    HANDED_OVER.store(true, Ordering::Relaxed);
    let Some(first) = spawn_pipe(&args) else {
        return;
    };
    if let Ok(mut n) = IN_FLIGHT.0.lock() {
        *n += 1;
    }
    // Reap it without waiting for it (a caller that exits first leaves it to init), and send
    // the message again when it did not arrive (see [`again`]).
    let reaper = std::thread::Builder::new()
        .name("zellij-pipe".into())
        .spawn(move || {
            let mut first = Some(first);
            retrying(|attempt| {
                let Some(mut child) = first.take().or_else(|| spawn_pipe(&args)) else {
                    return Attempt::Done(());
                };
                let mut out = String::new();
                if let Some(mut so) = child.stdout.take() {
                    let _ = so.read_to_string(&mut out);
                }
                let code = child.wait().ok().and_then(|s| s.code());
                let heard = code == Some(0) && acknowledged(&out);
                if let Some(u) = &unheard {
                    match (heard, code) {
                        (true, _) => u.forget(),
                        (false, Some(0)) if attempt == ATTEMPTS => u.note(),
                        _ => {}
                    }
                }
                let known_unheard = unheard.as_ref().is_some_and(Unheard::recent);
                if again(code, heard, known_unheard) {
                    Attempt::Again(())
                } else {
                    Attempt::Done(())
                }
            });
            let (n, cv) = &IN_FLIGHT;
            if let Ok(mut n) = n.lock() {
                *n = n.saturating_sub(1);
            }
            cv.notify_all();
        });
    if reaper.is_err() {
        if let Ok(mut n) = IN_FLIGHT.0.lock() {
            *n = n.saturating_sub(1);
        }
    }
}

/// What the plugin prints for each `panechat::state` message it takes.
pub const ACK: &str = "ok";

/// Whether a `zellij pipe`'s output holds a plugin's acknowledgement ([`ACK`]).
pub fn acknowledged(out: &str) -> bool {
    out.lines().any(|l| l.trim() == ACK)
}

/// Whether a message whose `zellij pipe` ended with `code` is sent again:
/// - status 1: the session's check failed ("There is no active session!"), nothing was sent.
///   Zellij 0.45.1 reuses a client's number as soon as it is free and may still act on the
///   previous holder's disconnection afterwards, so a `zellij` command that starts while
///   others end is now and then turned away although the session is there;
/// - status 0 without the plugin's acknowledgement: the same race can drop the connection
///   after it was accepted (the command then ends with status 0 having sent nothing), or no
///   plugin listens. Not sent again when recently no attempt in this session was acknowledged
///   (`known_unheard`: the plugin is not loaded there), so that panechat without the plugin
///   costs one `zellij pipe` per message.
///
/// A process ended by its alarm (a plugin still asking for its permissions) is not.
pub fn again(code: Option<i32>, heard: bool, known_unheard: bool) -> bool {
    match code {
        Some(1) => true,
        Some(0) => !heard && !known_unheard,
        _ => false,
    }
}

/// The mark that messages to one Zellij session went unacknowledged lately: a file under
/// panechat's state directory whose age says when, holding the session's name.
struct Unheard {
    path: std::path::PathBuf,
    name: String,
}

/// The folder of the [`Unheard`] marks, under panechat's state directory.
const UNHEARD_DIR: &str = "zellij";
/// The start of an [`Unheard`] mark's file name.
const UNHEARD_PREFIX: &str = "unacknowledged-";

/// The Zellij sessions whose last `panechat::state` message no plugin answered, in the last ten
/// minutes (the plugin is not loaded there, was closed, or crashed): each session's name and how
/// long ago, newest first. `state` is panechat's state directory.
pub fn unanswered(state: &std::path::Path) -> Vec<(String, Duration)> {
    let Ok(dir) = crate::paths::list_dir(&state.join(UNHEARD_DIR)) else {
        return Vec::new();
    };
    let mut found: Vec<(String, Duration)> = dir
        .into_iter()
        .filter(|e| e.file_name().to_string_lossy().starts_with(UNHEARD_PREFIX))
        .filter_map(|e| {
            let age = e.metadata().ok()?.modified().ok()?.elapsed().ok()?;
            (age < Unheard::FOR).then_some(())?;
            let name = crate::files::read(&e.path()).ok()?;
            let name = String::from_utf8_lossy(&name).trim().to_string();
            let name = if name.is_empty() {
                e.file_name().to_string_lossy()[UNHEARD_PREFIX.len()..].to_string()
            } else {
                name
            };
            Some((name, age))
        })
        .collect();
    found.sort_by_key(|(_, age)| *age);
    found
}

impl Unheard {
    /// How long the mark counts.
    const FOR: Duration = Duration::from_secs(600);

    /// The mark of session `name` (`None` when panechat's directories cannot be told).
    fn of(env: &Env, name: Option<&str>) -> Option<Unheard> {
        let paths = crate::paths::Paths::resolve(env).ok()?;
        let name = name.unwrap_or("").to_string();
        let mut file = String::from(UNHEARD_PREFIX);
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' {
                file.push(b as char);
            } else {
                file.push_str(&format!("_{b:02x}"));
            }
        }
        Some(Unheard {
            path: paths.state.join(UNHEARD_DIR).join(file),
            name,
        })
    }

    fn recent(&self) -> bool {
        std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < Self::FOR))
    }

    fn note(&self) {
        if let Some(dir) = self.path.parent() {
            let _ = crate::paths::ensure_dir(dir);
        }
        let _ = crate::store::atomic::write_replace(&self.path, self.name.as_bytes());
    }

    fn forget(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Publications of this process whose `zellij pipe` has not ended yet.
static IN_FLIGHT: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// Whether this process handed anything to Zellij (see [`handed_over`]).
static HANDED_OVER: AtomicBool = AtomicBool::new(false);

/// Whether this process handed a message to Zellij, which may still be on its way: only then
/// is there anything for [`settle`] to wait for.
pub fn handed_over() -> bool {
    HANDED_OVER.load(Ordering::Relaxed)
}

/// Waits, at most `max`, until every message this process published has been taken by the
/// plugins or given up on, so that a command that ends right after publishing does not cut
/// short a second attempt. Returns at once when nothing is on its way.
pub fn settle(max: Duration) {
    let (n, cv) = &IN_FLIGHT;
    let Ok(guard) = n.lock() else {
        return;
    };
    let _ = cv.wait_timeout_while(guard, max, |n| *n > 0);
}

/// Starts one detached `zellij ARGS` that sends a message: its own session, an alarm that ends
/// it after [`PIPE_DEADLINE_SECS`], a terminal on stdin (see the module docs).
fn spawn_pipe(args: &[String]) -> Option<Child> {
    let mut cmd = Command::new(crate::adapters::exec::resolve(PROGRAM));
    std::os::unix::process::CommandExt::arg0(&mut cmd, PROGRAM);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::null());
    // The child also keeps the master side open, so that the terminal stays usable when this
    // process exits first. Without a pseudo-terminal the message still goes out, from /dev/null.
    let pty = stdin_terminal();
    let master = pty.as_ref().map(|(m, _)| m.as_raw_fd());
    match pty.as_ref().and_then(|(_, s)| s.try_clone().ok()) {
        Some(slave) => cmd.stdin(Stdio::from(slave)),
        None => cmd.stdin(Stdio::null()),
    };
    // SAFETY: setsid, fcntl and alarm are async-signal-safe; the alarm survives exec and its
    // default action ends the process.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if let Some(fd) = master {
                libc::fcntl(fd, libc::F_SETFD, 0);
            }
            libc::alarm(PIPE_DEADLINE_SECS);
            Ok(())
        });
    }
    cmd.spawn().ok()
}

/// What `zellij ARGS…` (a command that only reads) printed; `None` when Zellij did not answer
/// (see [`read`]).
fn listing(exec: &dyn Exec, args: &[&str]) -> Option<String> {
    read(
        exec,
        &crate::adapters::exec::argv(args),
        "list",
        LIST_DEADLINE,
    )
    .ok()
}

/// How many panes of the session run a command that contains `marker` (`zellij action
/// list-panes --json`); `None` when Zellij did not answer.
pub fn panes_running(marker: &str) -> Option<usize> {
    panes_running_with(&RealExec, marker)
}

/// [`panes_running`], asking through `exec`.
pub fn panes_running_with(exec: &dyn Exec, marker: &str) -> Option<usize> {
    let panes: Vec<serde_json::Value> =
        serde_json::from_str(&listing(exec, &["action", "list-panes", "--json"])?).ok()?;
    Some(
        panes
            .iter()
            .filter(|p| {
                ["pane_command", "terminal_command"]
                    .iter()
                    .any(|k| p[k].as_str().is_some_and(|c| c.contains(marker)))
            })
            .count(),
    )
}

/// Whether `zellij action list-clients` output lists at least one client.
pub fn has_client(list_clients: &str) -> bool {
    list_clients
        .lines()
        .filter(|l| !l.trim().is_empty())
        .any(|l| !l.trim_start().starts_with("CLIENT_ID"))
}

/// Starts `argv` in a floating pane named `name` over the tab of pane `pane` (this process's
/// `ZELLIJ_PANE_ID`; `zellij run --floating --tab-id T --close-on-exit --block-until-exit`: the
/// pane has the focus in that tab, and a client looking at another tab stays where it is) and
/// returns the `zellij run`, which ends with `argv`'s exit status (0 when its pane was closed);
/// `None` when no client is attached (nobody would see the pane) or it could not be started.
/// `env_pass` reaches `argv` through `env(1)`.
pub fn spawn_popup(
    argv: &[String],
    env_pass: &[(String, String)],
    name: &str,
    pane: Option<&str>,
) -> Option<Child> {
    let clients = listing(&RealExec, &["action", "list-clients"])?;
    if !has_client(&clients) {
        return None;
    }
    // (`--near-current-pane` would open it unfocused, behind hidden floating panes)
    let tab = pane.and_then(|pane| {
        let panes: Vec<serde_json::Value> =
            serde_json::from_str(&listing(&RealExec, &["action", "list-panes", "--json"])?).ok()?;
        panes
            .iter()
            .find(|p| {
                p["is_plugin"] == false
                    && p["id"].as_u64().map(|i| i.to_string()) == Some(pane.to_string())
            })
            .and_then(|p| p["tab_id"].as_u64())
    });
    let mut args: Vec<String> = ["run", "--floating"].map(String::from).to_vec();
    if let Some(t) = tab {
        args.extend(["--tab-id".to_string(), t.to_string()]);
    }
    args.extend(
        [
            "--close-on-exit",
            "--block-until-exit",
            "--name",
            name,
            "--",
            "env",
        ]
        .map(String::from),
    );
    args.extend(env_pass.iter().map(|(k, v)| format!("{k}={v}")));
    args.extend(argv.iter().cloned());
    let mut cmd = Command::new(crate::adapters::exec::resolve(PROGRAM));
    std::os::unix::process::CommandExt::arg0(&mut cmd, PROGRAM)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()
}

/// Closes the panes of the session whose command contains `marker` (`zellij action
/// close-pane`); whether Zellij listed the panes.
pub fn close_panes_running(marker: &str) -> bool {
    close_panes_running_with(&RealExec, marker)
}

/// [`close_panes_running`], through `exec`.
pub fn close_panes_running_with(exec: &dyn Exec, marker: &str) -> bool {
    let Some(out) = listing(exec, &["action", "list-panes", "--json"]) else {
        return false;
    };
    let panes: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap_or_default();
    for p in panes {
        let runs = ["pane_command", "terminal_command"]
            .iter()
            .any(|k| p[k].as_str().is_some_and(|c| c.contains(marker)));
        if let (true, Some(id), false) = (runs, p["id"].as_u64(), p["is_plugin"] == true) {
            let pane = format!("terminal_{id}");
            let _ = exec.run_within(
                &argv(&["action", "close-pane", "--pane-id", &pane]),
                LIST_DEADLINE,
            );
        }
    }
    true
}

/// Whether a `zellij` command's stderr says it was turned away before doing anything (the
/// session did not answer its check).
pub fn turned_away(stderr: &str) -> bool {
    stderr.contains("There is no active session!")
        || stderr.contains("not found. The following sessions are active")
}

/// What each instance of panechat's plugin in this command's Zellij session says of itself
/// (its answer to `zellij pipe --name panechat::list -- all`: one JSON object per instance);
/// empty when none answered within `deadline`.
pub fn plugin_views(exec: &dyn Exec, deadline: Duration) -> Vec<serde_json::Value> {
    let argv = argv(&["pipe", "--name", "panechat::list", "--", "all"]);
    match exec.run_within(&argv, deadline) {
        Ok(Some(out)) if out.success() => out
            .text()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_pane_key_of_this_session_names_the_session_to_publish_to() {
        let env = Env::from_pairs([("ZELLIJ_SESSION_NAME", "dev")]);
        let key = |k: &str| crate::session::SessionKey::normalize(k).unwrap();
        assert_eq!(
            session_of_key(&env, &key("zellij:dev~0a1b:3")).as_deref(),
            Some("dev")
        );
        assert_eq!(
            session_of_key(&env, &key("zellij:dev:3")).as_deref(),
            Some("dev")
        );
        assert_eq!(session_of_key(&env, &key("zellij:other~0a1b:3")), None);
        assert_eq!(session_of_key(&env, &key("tmux:dev:%3")), None);
        assert_eq!(
            session_of_key(&Env::default(), &key("zellij:dev:3")),
            None,
            "outside Zellij: none"
        );
    }

    use super::*;
    use std::time::Instant;

    #[test]
    fn unanswered_sessions_are_listed_newest_first_by_name() {
        let state = std::env::temp_dir().join(format!("panechat-unheard-{}", std::process::id()));
        let dir = state.join(UNHEARD_DIR);
        std::fs::create_dir_all(&dir).unwrap();
        assert!(unanswered(&state.join("none")).is_empty());
        // A mark holds the session's name (the file name is an escaped form of it); an empty
        // mark, as older versions wrote them, is read from its file name.
        std::fs::write(dir.join("unacknowledged-old"), b"").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(dir.join("unacknowledged-my_20work"), b"my work").unwrap();
        std::fs::write(dir.join("something-else"), b"x").unwrap();
        let found: Vec<String> = unanswered(&state).into_iter().map(|(n, _)| n).collect();
        assert_eq!(found, ["my work", "old"]);
        std::fs::remove_dir_all(&state).unwrap();
    }

    #[test]
    fn a_message_goes_again_when_turned_away_or_not_acknowledged() {
        assert!(acknowledged("ok\n") && acknowledged("ok\nok\n") && !acknowledged(""));
        assert!(!acknowledged("okay\n"));
        // Turned away: always again.
        assert!(again(Some(1), false, true));
        // Ended without the plugin's word: again, unless the session lately never answered.
        assert!(again(Some(0), false, false));
        assert!(!again(Some(0), false, true));
        assert!(!again(Some(0), true, false));
        // Ended by its alarm (a plugin waiting for its permissions), or failed otherwise.
        assert!(!again(None, false, false));
        assert!(!again(Some(2), false, false));
    }

    #[test]
    fn the_session_comes_from_the_key_when_it_is_the_real_name() {
        let p = r#"{"schema":1,"session":"zellij:work-1:3","pane":"3"}"#;
        assert_eq!(session_of(p).as_deref(), Some("work-1"));
        assert_eq!(session_of(r#"{"session":"zellij:h0123456789ab:3"}"#), None);
        assert_eq!(session_of(r#"{"session":"tmux:abc:%3"}"#), None);
        assert_eq!(session_of("not json"), None);
    }

    #[test]
    fn the_payload_is_one_argv_element_after_the_separator() {
        let hostile = r#"{"title":"--plugin x; $(touch M2) -- \u001b"}"#;
        let a = publish_args(hostile, Some("dev"));
        assert_eq!(
            a[..6],
            [
                "--session",
                "dev",
                "pipe",
                "--name",
                "panechat::state",
                "--"
            ]
        );
        assert_eq!(a[6], hostile);
        assert_eq!(a.len(), 7);
        assert_eq!(publish_args("{}", None)[0], "pipe");
    }

    #[test]
    fn a_command_turned_away_is_told_from_one_that_ran() {
        assert!(turned_away("There is no active session!\n"));
        assert!(turned_away(
            "Session 'dev' not found. The following sessions are active:\nother\n"
        ));
        assert!(!turned_away(""));
        assert!(!turned_away("Error: could not open a pane"));
    }

    #[test]
    fn stamps_grow() {
        let a = stamp_now();
        let b = stamp_now();
        assert!(a > 0 && b >= a, "{a} {b}");
    }

    #[test]
    fn the_pipes_stdin_is_a_terminal() {
        let (master, slave) = stdin_terminal().expect("a pseudo-terminal");
        // SAFETY: isatty and fcntl on descriptors we own.
        unsafe {
            assert_eq!(libc::isatty(slave.as_raw_fd()), 1);
            assert_ne!(
                libc::fcntl(master.as_raw_fd(), libc::F_GETFD) & libc::FD_CLOEXEC,
                0
            );
            assert_ne!(
                libc::fcntl(slave.as_raw_fd(), libc::F_GETFD) & libc::FD_CLOEXEC,
                0
            );
        }
    }

    #[test]
    fn settling_with_nothing_on_its_way_returns_at_once() {
        let t = Instant::now();
        settle(Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn the_question_s_panes_are_counted_and_closed_by_their_marker() {
        use crate::adapters::exec::{Output, Recorder};
        let panes = r#"[
            {"id": 2, "is_plugin": false, "pane_command": "panechat lock-prompt --token T1"},
            {"id": 2, "is_plugin": true, "pane_command": "panechat lock-prompt --token T1"},
            {"id": 5, "is_plugin": false, "terminal_command": "bash"}
        ]"#;
        let r = Recorder::new(&[panes]);
        assert_eq!(panes_running_with(&r, "T1"), Some(2));
        // A listing cut off (nothing printed) or turned away is asked again.
        let r = Recorder::answering(vec![
            Output::printed(""),
            Output::failed(1, "There is no active session!\n"),
            Output::printed(panes),
        ]);
        assert!(close_panes_running_with(&r, "T1"));
        assert_eq!(
            r.lines(),
            [
                "zellij action list-panes --json",
                "zellij action list-panes --json",
                "zellij action list-panes --json",
                "zellij action close-pane --pane-id terminal_2",
            ]
        );
        // Another failure is not.
        let r = Recorder::answering(vec![Output::failed(2, "bad")]);
        assert!(!close_panes_running_with(&r, "T1"));
        assert_eq!(r.calls.borrow().len(), 1);
    }

    #[test]
    fn client_lists() {
        assert!(!has_client("CLIENT_ID ZELLIJ_PANE_ID RUNNING_COMMAND\n"));
        assert!(!has_client(""));
        assert!(has_client(
            "CLIENT_ID ZELLIJ_PANE_ID RUNNING_COMMAND\n1         terminal_0     N/A\n"
        ));
    }
}
