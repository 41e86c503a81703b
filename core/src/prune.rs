//! Telling whether a session's pane still exists, so mappings of closed panes can be pruned
//! (never their conversations).
//!
//! Cheap checks spawn nothing: a tmux server's pid, a WezTerm socket, a Unix session leader's
//! pid and start time. Deep checks (for `panechat sessions --prune`) ask the multiplexer:
//! `tmux list-panes -a`, `zellij list-sessions`. WezTerm is always asked (`wezterm cli list`,
//! while its socket is there): nothing else tells a closed WezTerm pane, and a [`Cached`] probe
//! asks each instance once.

use std::cell::RefCell;
use std::collections::HashMap;
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

/// Asks a multiplexer something (the seam tests replace with a recorder).
pub trait Probe {
    /// Runs `program ARGS…` with the extra environment `env` and returns its stdout when it
    /// succeeds.
    fn run(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> Option<String>;
}

/// Runs the real programs.
#[derive(Debug, Default)]
pub struct RealProbe;

impl Probe for RealProbe {
    fn run(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> Option<String> {
        let out = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Remembers what another probe answered, so each multiplexer instance is asked once.
pub struct Cached<'a> {
    inner: &'a dyn Probe,
    answers: RefCell<HashMap<String, Option<String>>>,
}

impl<'a> Cached<'a> {
    /// A cache in front of `inner`.
    pub fn new(inner: &'a dyn Probe) -> Self {
        Cached {
            inner,
            answers: RefCell::default(),
        }
    }
}

impl Probe for Cached<'_> {
    fn run(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> Option<String> {
        let key = format!("{env:?} {program} {args:?}");
        if let Some(a) = self.answers.borrow().get(&key) {
            return a.clone();
        }
        let a = self.inner.run(program, args, env);
        self.answers.borrow_mut().insert(key, a.clone());
        a
    }
}

/// The `wezterm` program: next to the WezTerm that started this process
/// (`$WEZTERM_EXECUTABLE_DIR`, which WezTerm sets for what it runs), else from `PATH`.
fn wezterm_program() -> String {
    std::env::var_os("WEZTERM_EXECUTABLE_DIR")
        .map(|d| std::path::Path::new(&d).join("wezterm"))
        .filter(|p| p.is_file())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "wezterm".into())
}

/// Checks a session record; `deep` allows asking the multiplexer.
pub fn check(rec: &SessionRecord, deep: bool) -> Liveness {
    check_with(rec, deep, &RealProbe)
}

/// [`check`] through `probe`.
pub fn check_with(rec: &SessionRecord, deep: bool, probe: &dyn Probe) -> Liveness {
    let run = |program: &str, args: &[&str], env: &[(&str, &str)]| probe.run(program, args, env);
    let server = rec.server.as_deref().unwrap_or("");
    // The instance first: a restarted server reuses pane ids, a killed Zellij session's name
    // and a WezTerm socket path can be reused, and none of those panes is this one.
    if !rec.instance_live() {
        return Liveness::Gone(match (&rec.instance, rec.pane.multiplexer) {
            (None, _) => "recorded before panes were keyed by their multiplexer's instance".into(),
            (Some(_), Multiplexer::Tmux) => "its tmux server has stopped".into(),
            (Some(_), Multiplexer::Zellij) => format!("its Zellij session {server} has ended"),
            (Some(_), Multiplexer::Wezterm) => "its WezTerm instance has stopped".into(),
            (Some(_), _) => "its terminal session has ended".into(),
        });
    }
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
                    run(
                        "tmux",
                        &["-S", socket, "list-panes", "-a", "-F", "#{pane_id}"],
                        &[],
                    ),
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
            if !server.is_empty() {
                let list = run(
                    &wezterm_program(),
                    &["cli", "list", "--format", "json"],
                    &[("WEZTERM_UNIX_SOCKET", server)],
                );
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
            match run(
                "zellij",
                &["list-sessions", "--no-formatting", "--short"],
                &[],
            ) {
                Some(list) if !list.lines().any(|l| l.trim() == server) => {
                    Liveness::Gone(format!("Zellij session {server} no longer exists"))
                }
                Some(_) => zellij_pane(rec, server, probe),
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

/// Whether the Zellij pane of `rec` is still open in its (running) session `session`: one
/// `zellij --session NAME action list-panes --json` per session when `probe` caches.
fn zellij_pane(rec: &SessionRecord, session: &str, probe: &dyn Probe) -> Liveness {
    let Some(pane) = rec.pane.pane.as_deref() else {
        return Liveness::Alive;
    };
    let id = pane.strip_prefix("terminal_").unwrap_or(pane);
    let Some(list) = probe.run(
        "zellij",
        &["--session", session, "action", "list-panes", "--json"],
        &[],
    ) else {
        return Liveness::Unknown;
    };
    let Ok(serde_json::Value::Array(panes)) = serde_json::from_str::<serde_json::Value>(&list)
    else {
        // (Zellij may cut a command off and print nothing)
        return Liveness::Unknown;
    };
    let open = panes
        .iter()
        .any(|p| p["is_plugin"] == false && p["id"].as_u64().is_some_and(|n| n.to_string() == id));
    if open || panes.is_empty() {
        Liveness::Alive
    } else {
        Liveness::Gone(format!(
            "Zellij pane {} of session {session} was closed",
            crate::session::zellij_pane_number(pane)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Instance, PaneRef, SessionKey};
    use std::cell::RefCell;

    struct Canned {
        out: &'static str,
        calls: RefCell<Vec<String>>,
    }

    impl Probe for Canned {
        fn run(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> Option<String> {
            self.calls
                .borrow_mut()
                .push(format!("{env:?} {program} {}", args.join(" ")));
            Some(self.out.to_string())
        }
    }

    fn me() -> Instance {
        let pid = std::process::id();
        Instance::Process {
            pid,
            start: crate::session::process_start_time(pid).unwrap(),
        }
    }

    #[test]
    fn a_pane_of_a_stopped_instance_is_gone_without_asking_anyone() {
        let quiet = Canned {
            out: "%3\n",
            calls: RefCell::default(),
        };
        let Instance::Process { pid, start } = me() else {
            unreachable!()
        };
        for mux in [Multiplexer::Tmux, Multiplexer::Zellij, Multiplexer::Wezterm] {
            // The same pid, started at another time: a recycled pid, not the server.
            let mut r = rec(mux, "tmux:h:%3", "%3", "/tmp/s,1");
            r.instance = Some(Instance::Process {
                pid,
                start: start + 1,
            });
            assert!(matches!(check_with(&r, true, &quiet), Liveness::Gone(_)));
            // Recorded before instances were: its key is never resolved again.
            r.instance = None;
            assert!(matches!(check_with(&r, false, &quiet), Liveness::Gone(_)));
        }
        assert!(quiet.calls.borrow().is_empty(), "nothing is spawned");
    }

    fn rec(mux: Multiplexer, key: &str, pane: &str, server: &str) -> SessionRecord {
        SessionRecord {
            pane: PaneRef {
                session: SessionKey::normalize(key).unwrap(),
                multiplexer: mux,
                pane: Some(pane.into()),
            },
            server: Some(server.into()),
            // This test process stands for the multiplexer's server: alive.
            instance: Some(me()),
            tty: None,
            pending_new: false,
            active: None,
            previous: Vec::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn deep_checks_ask_each_multiplexer_and_spot_closed_panes() {
        let me = std::process::id();
        let sock = std::env::temp_dir().display().to_string();
        let tmux = rec(
            Multiplexer::Tmux,
            "tmux:h:%3",
            "%3",
            &format!("{sock},{me}"),
        );
        let probe = Canned {
            out: "%1\n%2\n",
            calls: RefCell::default(),
        };
        assert_eq!(
            check_with(&tmux, true, &probe),
            Liveness::Gone("tmux pane %3 was closed".into())
        );
        assert_eq!(
            probe.calls.borrow()[0],
            format!("[] tmux -S {sock} list-panes -a -F #{{pane_id}}")
        );
        // Without `deep`, nothing is run.
        let quiet = Canned {
            out: "",
            calls: RefCell::default(),
        };
        assert_eq!(check_with(&tmux, false, &quiet), Liveness::Alive);
        assert!(quiet.calls.borrow().is_empty());

        let wez = rec(Multiplexer::Wezterm, "wezterm:h:7", "7", &sock);
        let probe = Canned {
            out: r#"[{"pane_id": 1}, {"pane_id": 2}]"#,
            calls: RefCell::default(),
        };
        assert_eq!(
            check_with(&wez, true, &probe),
            Liveness::Gone("WezTerm pane 7 was closed".into())
        );
        assert!(probe.calls.borrow()[0].contains("WEZTERM_UNIX_SOCKET"));
        // A closed WezTerm pane is found without `deep` too (nothing else tells), and a cached
        // probe asks each instance once.
        let probe = Canned {
            out: r#"[{"pane_id": 1}, {"pane_id": 7}]"#,
            calls: RefCell::default(),
        };
        let cached = Cached::new(&probe);
        let other = rec(Multiplexer::Wezterm, "wezterm:h:2", "2", &sock);
        assert_eq!(
            check_with(&other, false, &cached),
            Liveness::Gone("WezTerm pane 2 was closed".into())
        );
        assert_eq!(check_with(&wez, false, &cached), Liveness::Unknown);
        assert_eq!(probe.calls.borrow().len(), 1);

        let zj = rec(Multiplexer::Zellij, "zellij:gone:4", "4", "gone");
        let probe = Canned {
            out: "other\n",
            calls: RefCell::default(),
        };
        assert_eq!(
            check_with(&zj, true, &probe),
            Liveness::Gone("Zellij session gone no longer exists".into())
        );
    }
}
