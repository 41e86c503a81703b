//! Telling whether a session's pane still exists, so mappings of closed panes can be pruned
//! (never their conversations).
//!
//! Cheap checks spawn nothing: a tmux server's pid, a WezTerm socket, a Unix session leader's
//! pid and start time. Deep checks (for `panechat sessions --prune`) ask the multiplexer:
//! `tmux list-panes -a`, `zellij list-sessions` (each multiplexer's check is in its adapter,
//! `crate::adapters::<multiplexer>::liveness`). WezTerm is always asked (`wezterm cli list`,
//! while its socket is there): nothing else tells a closed WezTerm pane, and a [`Cached`]
//! [`Exec`] asks each instance once.

use crate::adapters::exec::{Exec, RealExec};
use crate::session::{Multiplexer, Server};
use crate::store::mapping::SessionRecord;

pub use crate::adapters::exec::Cached;
pub use crate::adapters::pane::Liveness;

/// Checks a session record; `deep` allows asking the multiplexer.
pub fn check(rec: &SessionRecord, deep: bool) -> Liveness {
    check_with(rec, deep, &RealExec)
}

/// [`check`], asking the multiplexers through `exec`.
pub fn check_with(rec: &SessionRecord, deep: bool, exec: &dyn Exec) -> Liveness {
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
    let server = Server::parse(rec.pane.multiplexer, server);
    match server {
        Server::Unix { sid, start } if !crate::session::process_alive(sid, start) => {
            Liveness::Gone(format!("terminal session {sid} ended"))
        }
        Server::Unix { .. } => Liveness::Alive,
        _ => crate::adapters::liveness(
            rec.pane.multiplexer,
            &server,
            rec.pane.pane.as_deref(),
            deep,
            exec,
        ),
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

    impl Exec for Canned {
        fn run(
            &self,
            argv: &[String],
            env: &[(String, String)],
        ) -> std::io::Result<crate::adapters::exec::Output> {
            self.calls
                .borrow_mut()
                .push(format!("{env:?} {}", argv.join(" ")));
            Ok(crate::adapters::exec::Output::printed(self.out))
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
