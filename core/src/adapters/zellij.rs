//! Zellij: the pane-state channel (a `panechat::state` pipe message) and the lock question in a
//! floating pane.
//!
//! Both were checked against a real Zellij 0.45.1:
//! - `zellij pipe --name N -- PAYLOAD` (no `--plugin`) broadcasts to the session's plugins and
//!   returns at once (~30 ms) whether or not a plugin listens, and also when the session does not
//!   exist. It blocks, however, while a listening plugin still waits for its permissions to be
//!   granted. So the message is sent by a detached `zellij` process that the caller does not
//!   wait for, with an alarm set before `exec` that ends it after [`PIPE_DEADLINE_SECS`] at most.
//!   Only a second message from the same process waits (at most 300 ms, normally ~30 ms) for
//!   the first to be delivered, so that the plugin sees one process's states in order.
//! - `zellij run --floating --close-on-exit --block-until-exit -- CMD` returns CMD's exit
//!   status, but in a session without an attached client it runs the command where nobody can
//!   see it. So the popup is only used when `zellij action list-clients` lists a client.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Delivers one `panechat::state` message with `payload` (the pane-state JSON of
/// `docs/integration.md`) to the plugins of Zellij session `session` (when `None`: the session
/// named in the payload's key, else the one of `ZELLIJ_SESSION_NAME`). Never blocks: the
/// message goes out from a detached `zellij pipe` process that ends within
/// [`PIPE_DEADLINE_SECS`] even when a plugin never takes it. Does nothing when the session
/// cannot be told or when `zellij` is not installed.
pub fn publish_payload(session: Option<&str>, payload: &str) {
    let session = match session.filter(|s| !s.is_empty()) {
        Some(s) => Some(s.to_string()),
        None => {
            let from_env = std::env::var("ZELLIJ_SESSION_NAME")
                .ok()
                .filter(|s| !s.is_empty());
            match (session_of(payload), from_env) {
                (Some(s), _) => Some(s),
                (None, Some(_)) => None,
                (None, None) => return,
            }
        }
    };
    let mut cmd = Command::new("zellij");
    cmd.args(publish_args(payload, session.as_deref()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid and alarm are async-signal-safe; the alarm survives exec and its default
    // action ends the process.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::alarm(PIPE_DEADLINE_SECS);
            Ok(())
        });
    }
    // Messages from one process arrive in order: a state must not overtake the one sent just
    // before it (`titling`, then the title). The previous message normally takes ~30 ms; wait
    // for it at most ORDER_WAIT.
    let previous = LAST_SENT.lock().ok().and_then(|mut l| l.take());
    if let Some(done) = previous {
        let start = Instant::now();
        while !done.load(Ordering::Acquire) && start.elapsed() < ORDER_WAIT {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    if let Ok(mut child) = cmd.spawn() {
        let done = Arc::new(AtomicBool::new(false));
        if let Ok(mut l) = LAST_SENT.lock() {
            *l = Some(done.clone());
        }
        // Reap it without waiting for it (a caller that exits first leaves it to init).
        let _ = std::thread::Builder::new()
            .name("zellij-pipe".into())
            .spawn(move || {
                let _ = child.wait();
                done.store(true, Ordering::Release);
            });
    }
}

/// Longest wait for this process's previous message before sending the next.
const ORDER_WAIT: Duration = Duration::from_millis(300);

/// Whether this process's last `zellij pipe` has ended.
static LAST_SENT: Mutex<Option<Arc<AtomicBool>>> = Mutex::new(None);

/// Runs `zellij ARGS` for at most `deadline`; its exit status and stdout.
fn run_bounded(args: &[&str], deadline: Duration) -> Option<(i32, String)> {
    let mut child: Child = Command::new("zellij")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                if let Some(mut so) = child.stdout.take() {
                    let _ = so.read_to_string(&mut out);
                }
                return Some((status.code().unwrap_or(-1), out));
            }
            Ok(None) if start.elapsed() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Whether `zellij action list-clients` output lists at least one client.
pub fn has_client(list_clients: &str) -> bool {
    list_clients
        .lines()
        .filter(|l| !l.trim().is_empty())
        .any(|l| !l.trim_start().starts_with("CLIENT_ID"))
}

/// Runs `argv` in a floating pane (`zellij run --floating --block-until-exit`) and returns its
/// exit status; `None` when it could not be shown (no client is attached to the session, or
/// `zellij run` failed). `env_pass` reaches the prompt through `env(1)`, since the pane starts
/// with the Zellij server's environment.
pub fn popup(argv: &[String], env_pass: &[(String, String)]) -> Option<i32> {
    let (code, clients) = run_bounded(&["action", "list-clients"], Duration::from_secs(2))?;
    if code != 0 || !has_client(&clients) {
        return None;
    }
    let mut args: Vec<String> = vec![
        "run".into(),
        "--floating".into(),
        "--close-on-exit".into(),
        "--block-until-exit".into(),
        "--name".into(),
        "panechat".into(),
        "--".into(),
        "env".into(),
    ];
    args.extend(env_pass.iter().map(|(k, v)| format!("{k}={v}")));
    args.extend(argv.iter().cloned());
    let status = Command::new("zellij")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    let code = status.code()?;
    (code != 1 && code != 2).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn client_lists() {
        assert!(!has_client("CLIENT_ID ZELLIJ_PANE_ID RUNNING_COMMAND\n"));
        assert!(!has_client(""));
        assert!(has_client(
            "CLIENT_ID ZELLIJ_PANE_ID RUNNING_COMMAND\n1         terminal_0     N/A\n"
        ));
    }
}
