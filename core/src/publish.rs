//! Publishing pane states to the multiplexers: the one place that decides what each channel
//! is told, and when a change reaches every pane it concerns.
//!
//! Callers say *what changed* (a conversation, or some sessions); [`Publisher`] finds every pane
//! that shows it (its mapping, or a live run in it), computes each pane's [`PaneState`] and sends
//! it to every channel that pane has (see `docs/integration.md`):
//! - tmux: the pane options `@panechat_id`, `@panechat_title`, `@panechat_state`,
//!   `@panechat_held` and the pane title, through argv only ([`crate::adapters::tmux`]);
//! - WezTerm: the user vars of the same names, written to the pane's terminal;
//! - every terminal: the OSC 2 title `panechat: <title>`;
//! - Zellij: a `panechat::state` message to the plugin ([`crate::adapters::zellij`]).
//!
//! How each multiplexer is told is in its adapter ([`crate::adapters::channels`]); every call to
//! a multiplexer or terminal goes through [`Sink`], which tests replace with a recorder.

use std::collections::BTreeMap;

use crate::adapters::exec::Exec;
use crate::adapters::{self, tmux};
use crate::env::Env;
use crate::error::Result;
use crate::runs::{self, Run};
use crate::session::{PaneRef, Session, SessionKey};
use crate::state::{self, PaneState};
use crate::store::conversation::ConversationId;
use crate::store::mapping::{self, SessionRecord};
use crate::store::Store;

pub use crate::adapters::channels::{RealSink, Sink};

/// Publishes pane states (see the module docs).
pub struct Publisher<'a> {
    /// The store.
    pub store: &'a Store,
    /// This process's environment.
    pub env: &'a Env,
    /// This process's own session, when it has one: its terminal is written directly.
    pub here: Option<&'a Session>,
    /// Where everything goes.
    pub sink: &'a dyn Sink,
}

impl Publisher<'_> {
    /// Publishes to every pane that shows conversation `id` (its active one, or a live run's).
    pub fn conversation(&self, id: &ConversationId) -> Result<()> {
        self.conversation_and(id, &[])
    }

    /// Publishes to every pane that shows conversation `id`, and to the sessions `also` (e.g. a
    /// pane whose failed query no longer shows it).
    pub fn conversation_and(&self, id: &ConversationId, also: &[SessionKey]) -> Result<()> {
        let stamp = adapters::zellij::stamp_now();
        let runs = runs::live_readonly(&self.store.paths).unwrap_or_default();
        let mut targets: BTreeMap<SessionKey, Option<SessionRecord>> = BTreeMap::new();
        for rec in mapping::all(&self.store.paths)? {
            if rec.active.as_ref() == Some(id) {
                targets.insert(rec.pane.session.clone(), Some(rec));
            }
        }
        for r in runs.iter().filter(|r| r.conversation == id.as_str()) {
            targets.entry(r.pane.session.clone()).or_insert(None);
        }
        for k in also {
            targets.entry(k.clone()).or_insert(None);
        }
        self.send_all(targets, &runs, stamp)
    }

    /// Publishes the states of these sessions.
    pub fn sessions(&self, keys: &[SessionKey]) -> Result<()> {
        let stamp = adapters::zellij::stamp_now();
        let runs = runs::live_readonly(&self.store.paths).unwrap_or_default();
        let targets = keys.iter().map(|k| (k.clone(), None)).collect();
        self.send_all(targets, &runs, stamp)
    }

    /// Publishes the state of every known session (after a multiplexer restart, a plugin load).
    pub fn everything(&self) -> Result<usize> {
        let stamp = adapters::zellij::stamp_now();
        let runs = runs::live_readonly(&self.store.paths).unwrap_or_default();
        let mut targets: BTreeMap<SessionKey, Option<SessionRecord>> = BTreeMap::new();
        for rec in mapping::all(&self.store.paths)? {
            targets.insert(rec.pane.session.clone(), Some(rec));
        }
        let n = targets.len();
        self.send_all(targets, &runs, stamp)?;
        Ok(n)
    }

    /// Clears what panes of the tmux server this process runs in show when nothing gives it to
    /// them: a pane whose `@panechat_id` names a conversation that neither its mapping nor a
    /// live run in it has (set by an older panechat on a pane whose id an earlier server had
    /// used). Each such pane is published its true state. Returns how many there were; nothing
    /// is asked outside tmux.
    pub fn tmux_strays(&self, exec: &dyn Exec) -> Result<usize> {
        if self.env.get("TMUX").is_none() {
            return Ok(0);
        }
        let Some(list) = tmux::output(exec, &tmux::shown_ids_args()) else {
            return Ok(0);
        };
        let runs = runs::live_readonly(&self.store.paths).unwrap_or_default();
        let mut strays = Vec::new();
        for (pane, shown) in tmux::parse_shown_ids(&list) {
            let Ok(Some(session)) = crate::session::key_for_pane(self.env, &pane) else {
                continue;
            };
            let rec = mapping::read(&self.store.paths, &session.key)
                .ok()
                .flatten();
            let st = state::pane_state(
                &session.pane_ref(),
                rec.as_ref().and_then(|r| r.active.as_ref()),
                &runs,
                &|_| None,
            );
            if st.conversation.as_ref().map(|c| c.as_str()) != Some(shown.as_str()) {
                strays.push(session.key);
            }
        }
        self.sessions(&strays)?;
        Ok(strays.len())
    }

    /// `stamp`: [`adapters::zellij::stamp_now`] taken before the store was read for these states.
    fn send_all(
        &self,
        targets: BTreeMap<SessionKey, Option<SessionRecord>>,
        runs: &[Run],
        stamp: u64,
    ) -> Result<()> {
        // Every tmux pane of one server is told with one tmux invocation.
        let batch = adapters::channels::TmuxBatch::new(self.sink);
        for (key, rec) in targets {
            let rec = match rec {
                Some(r) => Some(r),
                None => mapping::read(&self.store.paths, &key).ok().flatten(),
            };
            // A pane of a multiplexer instance that has stopped is never published to: its
            // pane id may now belong to an unrelated pane of a new server or session.
            let live_run = runs.iter().any(|r| r.pane.session == key);
            if rec.as_ref().is_some_and(|r| !r.instance_live()) && !live_run {
                continue;
            }
            let pane = match (&rec, self.here) {
                (Some(r), _) => r.pane.clone(),
                (None, Some(h)) if h.key == key => h.pane_ref(),
                (None, _) => match runs.iter().find(|r| r.pane.session == key) {
                    Some(r) => r.pane.clone(),
                    None => PaneRef::from_key(key.clone()),
                },
            };
            let active = rec.as_ref().and_then(|r| r.active.clone());
            let st = state::from_store(self.store, &pane, active.as_ref(), runs);
            let server = rec
                .as_ref()
                .and_then(|r| r.server.clone())
                .or_else(|| {
                    self.here
                        .filter(|h| h.key == key)
                        .and_then(|h| h.server.clone())
                })
                .or_else(|| adapters::zellij::session_of_key(self.env, &key));
            let tty = rec.as_ref().and_then(|r| r.tty.clone());
            let is_here = self.here.is_some_and(|h| h.key == st.pane.session);
            adapters::channels::deliver(
                &batch,
                self.env,
                &st,
                is_here,
                server.as_deref(),
                tty.as_deref(),
                stamp,
            );
        }
        batch.flush();
        Ok(())
    }

    /// Sends one pane's state to its channels. `stamp` orders the states of one pane that
    /// reach the Zellij plugin (see `docs/integration.md`): take it with
    /// [`adapters::zellij::stamp_now`] before reading what `st` was computed from.
    pub fn send(&self, st: &PaneState, server: Option<&str>, tty: Option<&str>, stamp: u64) {
        let is_here = self.here.is_some_and(|h| h.key == st.pane.session);
        adapters::channels::deliver(self.sink, self.env, st, is_here, server, tty, stamp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Multiplexer;
    use std::cell::RefCell;

    /// Records every call.
    #[derive(Default)]
    pub struct Recorder {
        pub calls: RefCell<Vec<String>>,
    }

    impl Sink for Recorder {
        fn tmux(&self, socket: Option<&str>, args: &[String]) {
            self.calls
                .borrow_mut()
                .push(format!("tmux {socket:?} {}", args.join(" ")));
        }
        fn own_terminal(&self, bytes: &[u8]) {
            self.calls.borrow_mut().push(format!(
                "own {}",
                String::from_utf8_lossy(bytes).escape_debug()
            ));
        }
        fn tty(&self, path: &str, bytes: &[u8]) {
            self.calls.borrow_mut().push(format!(
                "tty {path} {}",
                String::from_utf8_lossy(bytes).escape_debug()
            ));
        }
        fn zellij(&self, name: &str, payload: &str) {
            self.calls
                .borrow_mut()
                .push(format!("zellij {name} {payload}"));
        }
    }

    fn st(mux: Multiplexer, key: &str, pane: &str, title: &str) -> PaneState {
        PaneState {
            schema: 1,
            pane: PaneRef {
                session: SessionKey::normalize(key).unwrap(),
                multiplexer: mux,
                pane: Some(pane.into()),
            },
            conversation: ConversationId::from_trusted("01m7yd5d6e4q2r8kzz"),
            title: Some(title.into()),
            turns: 1,
            updated_at: None,
            activity: state::Activity::Streaming,
            held_by: None,
            agent: None,
            backend: None,
        }
    }

    fn publisher<'a>(store: &'a Store, env: &'a Env, sink: &'a Recorder) -> Publisher<'a> {
        Publisher {
            store,
            env,
            here: None,
            sink,
        }
    }

    fn store() -> Store {
        let env = Env::from_pairs([("PANECHAT_HOME".to_string(), "/nonexistent".to_string())]);
        Store::new(crate::paths::Paths::resolve(&env).unwrap())
    }

    #[test]
    fn a_batch_tells_each_tmux_server_once_with_every_pane() {
        let rec = Recorder::default();
        let batch = crate::adapters::channels::TmuxBatch::new(&rec);
        let env = Env::default();
        let old = st(Multiplexer::Tmux, "tmux:h:%1", "%1", "old");
        for (s, sock) in [
            (&old, "/a,1"),
            (&st(Multiplexer::Tmux, "tmux:h:%2", "%2", "b"), "/b,1"),
            (&st(Multiplexer::Tmux, "tmux:h:%3", "%3", "c"), "/a,1"),
            (&st(Multiplexer::Tmux, "tmux:h:%1", "%1", "new"), "/a,1"),
        ] {
            crate::adapters::channels::deliver(&batch, &env, s, false, Some(sock), None, 1);
        }
        assert!(rec.calls.borrow().is_empty(), "held until flushed");
        batch.flush();
        let calls = rec.calls.borrow();
        assert_eq!(calls.len(), 2, "{calls:#?}");
        assert!(calls[0].starts_with("tmux Some(\"/a\") set-option -p -q -t %1"));
        assert!(calls[0].contains("-t %3"), "{}", calls[0]);
        assert!(calls[0].contains("panechat: new"), "{}", calls[0]);
        assert!(!calls[0].contains("old"), "{}", calls[0]);
        assert!(calls[1].starts_with("tmux Some(\"/b\") set-option -p -t %2"));
    }

    #[test]
    fn each_multiplexer_gets_its_channels() {
        let (store, env, rec) = (store(), Env::default(), Recorder::default());
        let p = publisher(&store, &env, &rec);
        p.send(
            &st(Multiplexer::Tmux, "tmux:h:%3", "%3", "t #(x)"),
            Some("/tmp/sock,42"),
            Some("/dev/pts/9"),
            1,
        );
        p.send(
            &st(Multiplexer::Wezterm, "wezterm:h:7", "7", "w"),
            Some("/sock"),
            Some("/dev/pts/8"),
            2,
        );
        p.send(
            &st(Multiplexer::Zellij, "zellij:s:4", "4", "z"),
            Some("s"),
            Some("/dev/pts/7"),
            3,
        );
        let calls = rec.calls.borrow();
        assert_eq!(calls.len(), 4, "{calls:#?}");
        assert!(calls[0].starts_with("tmux Some(\"/tmp/sock\") set-option -p -t %3 @panechat_id"));
        assert!(calls[0].contains("@panechat_state streaming"));
        assert!(calls[0].contains("-T panechat: t ♯(x)"), "{}", calls[0]);
        assert!(
            !calls[0]
                .replace(tmux::NEEDS_YOU_WINDOW_FORMAT, "")
                .contains('#'),
            "no `#` is left in tmux: {}",
            calls[0]
        );
        assert!(calls[1].starts_with("tty /dev/pts/8 "));
        assert!(calls[1].contains("SetUserVar=panechat_state="));
        assert!(calls[2].starts_with("tty /dev/pts/7 "));
        assert!(calls[3].starts_with("zellij s {\"schema\":1"));
        assert!(calls[3].contains("\"activity\":\"streaming\""));
        assert!(calls[3].ends_with(",\"stamp\":3}"), "{}", calls[3]);
    }

    #[test]
    fn zellij_is_told_of_an_agent_what_it_shows_and_nothing_else() {
        let (store, env, rec) = (store(), Env::default(), Recorder::default());
        let p = publisher(&store, &env, &rec);
        let mut s = st(Multiplexer::Zellij, "zellij:s:4", "4", "z");
        s.agent = Some(crate::agents::Agent {
            kind: "claude-code".into(),
            state: crate::agents::AgentState::Working,
            tool: Some("Bash #(x)".into()),
            session: Some("5f0c-secret".into()),
            cwd: Some("/home/me/private".into()),
            message: Some("the last thing it said".into()),
            since: Some("2026-01-01T00:00:00Z".into()),
        });
        p.send(&s, Some("s"), None, 1);
        let calls = rec.calls.borrow();
        let z = calls.iter().find(|c| c.starts_with("zellij ")).unwrap();
        assert!(z.contains("\"tool\":\"Bash ♯(x)\""), "{z}");
        assert!(z.contains("\"state\":\"working\""), "{z}");
        for kept_out in [
            "5f0c-secret",
            "/home/me/private",
            "the last thing",
            "2026-01-01",
        ] {
            assert!(!z.contains(kept_out), "{kept_out} in {z}");
        }
    }
}
