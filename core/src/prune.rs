//! Telling whether a session's pane still exists, so mappings of closed panes can be pruned
//! (never their conversations).
//!
//! Cheap checks spawn nothing: a tmux server's pid, a WezTerm socket, a Unix session leader's
//! pid and start time. Deep checks (for `panechat sessions --prune`) ask the multiplexer:
//! `tmux list-panes -a`, `wezterm cli list`, `zellij list-sessions`.

use std::process::{Command, Stdio};

use crate::session::{process_alive, Multiplexer};
use crate::store::mapping::SessionRecord;

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// The pane exists (or cannot be gone).
    Alive,
    /// The pane is gone, and why.
    Gone(String),
    /// Cannot tell (kept).
    Unknown,
}

fn run(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Checks a session record; `deep` allows asking the multiplexer.
pub fn check(rec: &SessionRecord, deep: bool) -> Liveness {
    let server = rec.server.as_deref().unwrap_or("");
    match rec.pane.multiplexer {
        Multiplexer::Tmux => {
            let Some((socket, pid)) = server.rsplit_once(',') else {
                return Liveness::Unknown;
            };
            let pid: u32 = pid.parse().unwrap_or(0);
            if !process_alive(pid, 0) {
                return Liveness::Gone(format!("tmux server (pid {pid}) is gone"));
            }
            if !std::path::Path::new(socket).exists() {
                return Liveness::Gone(format!("tmux socket {socket} is gone"));
            }
            if deep {
                if let (Some(pane), Some(list)) = (
                    &rec.pane.pane,
                    run(Command::new("tmux").args([
                        "-S",
                        socket,
                        "list-panes",
                        "-a",
                        "-F",
                        "#{pane_id}",
                    ])),
                ) {
                    if !list.lines().any(|l| l == pane) {
                        return Liveness::Gone(format!("tmux pane {pane} was closed"));
                    }
                }
            }
            Liveness::Alive
        }
        Multiplexer::Wezterm => {
            if !server.is_empty() && !std::path::Path::new(server).exists() {
                return Liveness::Gone("the WezTerm instance is gone".into());
            }
            if deep {
                let list = run(Command::new("wezterm")
                    .args(["cli", "list", "--format", "json"])
                    .env("WEZTERM_UNIX_SOCKET", server));
                if let (Some(pane), Some(list)) = (&rec.pane.pane, list) {
                    let ids: Vec<String> = serde_json::from_str::<serde_json::Value>(&list)
                        .ok()
                        .and_then(|v| v.as_array().cloned())
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|p| p.get("pane_id").map(|x| x.to_string()))
                        .collect();
                    if !ids.is_empty() && !ids.contains(pane) {
                        return Liveness::Gone(format!("WezTerm pane {pane} was closed"));
                    }
                }
            }
            Liveness::Unknown
        }
        Multiplexer::Zellij if deep => {
            match run(Command::new("zellij").args(["list-sessions", "--no-formatting", "--short"]))
            {
                Some(list) if !list.lines().any(|l| l.trim() == server) => {
                    Liveness::Gone(format!("Zellij session {server} no longer exists"))
                }
                Some(_) => Liveness::Alive,
                None => Liveness::Unknown,
            }
        }
        Multiplexer::Unix => {
            let Some((sid, start)) = server.split_once('-') else {
                return Liveness::Unknown;
            };
            match (sid.parse::<u32>(), start.parse::<u64>()) {
                (Ok(sid), Ok(start)) if !process_alive(sid, start) => {
                    Liveness::Gone(format!("terminal session {sid} ended"))
                }
                (Ok(_), Ok(_)) => Liveness::Alive,
                _ => Liveness::Unknown,
            }
        }
        _ => Liveness::Unknown,
    }
}
