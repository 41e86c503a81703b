//! The state of a pane, computed in one place from the store and the live runs.
//!
//! A pane's state is its conversation (id, title, turns), what its own query is doing
//! ([`Activity`]), and who else holds the conversation's lock ([`HeldBy`]). `status`,
//! `sessions`, `ls` and every channel to the multiplexers ([`crate::publish`]) use these
//! functions, so there is one vocabulary (documented in `docs/integration.md`).
//!
//! While a pane's query runs, the pane shows the conversation that query is writing to (the
//! mapping itself changes only once the turn is stored, so a failed query changes nothing).

use crate::runs::{Run, RunState};
use crate::session::PaneRef;
use crate::store::conversation::{ConversationId, Summary};
use crate::store::mapping::SessionRecord;
use crate::store::Store;
use crate::title::pane_text;

pub use panechat_vocab::state::{Activity, SCHEMA};

impl From<RunState> for Activity {
    /// The activity a run in `state` shows (a short write such as `rename` shows as idle).
    fn from(state: RunState) -> Activity {
        match state {
            RunState::WaitingForLock => Activity::Waiting,
            RunState::Streaming => Activity::Streaming,
            RunState::GeneratingTitle => Activity::Titling,
            RunState::Writing | RunState::Done => Activity::Idle,
        }
    }
}

/// Another process holding a conversation's lock: the lock's [`Holder`](crate::lock::Holder),
/// as the runs tell it.
pub type HeldBy = crate::lock::Holder;

/// The run holding conversation `id`'s lock, if any, other than one of `except`'s session.
pub fn holder(runs: &[Run], id: &str, except: Option<&PaneRef>) -> Option<HeldBy> {
    runs.iter()
        .filter(|r| r.conversation == id && r.state.holds_lock())
        .find(|r| except.is_none_or(|e| e.session != r.pane.session))
        .map(|r| HeldBy {
            pane: r.pane.clone(),
            pid: r.pid,
            start: r.start,
            command: r.command,
            since: if r.state_since.is_empty() {
                r.since.clone()
            } else {
                r.state_since.clone()
            },
        })
}

/// The activity of conversation `id` as a whole: that of the run holding its lock, else of a
/// run waiting for it.
pub fn conversation_activity(runs: &[Run], id: &str) -> Activity {
    let on: Vec<&Run> = runs.iter().filter(|r| r.conversation == id).collect();
    on.iter()
        .find(|r| r.state.holds_lock())
        .or_else(|| on.first())
        .map_or(Activity::Idle, |r| Activity::from(r.state))
}

/// One pane's state: the document plugins read (`panechat_vocab::state::PaneState`, whose
/// `label()` is the title, or the id while untitled), with the core's types.
pub type PaneState = panechat_vocab::state::PaneState<PaneRef, ConversationId, HeldBy>;

/// Computes the state of `pane`, whose mapping says `active`, given the live `runs` (from
/// [`crate::runs::live`]), without its agent ([`from_store`] adds it). `summary` reads a
/// conversation's summary (the store's summary file: no log is parsed).
pub fn pane_state(
    pane: &PaneRef,
    active: Option<&ConversationId>,
    runs: &[Run],
    summary: &dyn Fn(&ConversationId) -> Option<Summary>,
) -> PaneState {
    let own = runs
        .iter()
        .rev()
        .filter(|r| r.pane.session == pane.session && r.command == crate::runs::RunKind::Query)
        .find_map(|r| ConversationId::from_trusted(&r.conversation).map(|id| (id, r.state)));
    let (conversation, activity) = match own {
        Some((id, state)) => (Some(id), Activity::from(state)),
        None => (active.cloned(), Activity::Idle),
    };
    let s = conversation.as_ref().and_then(summary);
    let held_by = conversation
        .as_ref()
        .and_then(|id| holder(runs, id.as_str(), Some(pane)));
    PaneState {
        schema: SCHEMA,
        pane: pane.clone(),
        title: s
            .as_ref()
            .and_then(|s| s.title.as_deref())
            .map(pane_text)
            .filter(|t| !t.is_empty()),
        turns: s.as_ref().map_or(0, |s| s.turns),
        updated_at: s.as_ref().map(|s| s.updated_at.clone()),
        conversation,
        activity,
        held_by,
        agent: None,
        backend: s
            .as_ref()
            .and_then(|s| s.agent.as_ref())
            .map(|a| a.backend.clone()),
    }
}

/// The state of `pane` as its session's record and the live runs say, read without writing
/// anything (no lock, no config; dead runs' files are left for others to remove): what status
/// lines show.
pub fn of_pane(store: &Store, pane: &PaneRef) -> PaneState {
    let active = crate::store::mapping::read(&store.paths, &pane.session)
        .ok()
        .flatten()
        .and_then(|r| r.active);
    let live = crate::runs::live_readonly(&store.paths).unwrap_or_default();
    from_store(store, pane, active.as_ref(), &live)
}

/// The state of `pane`, whose mapping says `active`, given the live `runs`, as the store tells
/// it: its conversation's summary file and its agent's record.
pub fn from_store(
    store: &Store,
    pane: &PaneRef,
    active: Option<&ConversationId>,
    runs: &[Run],
) -> PaneState {
    let mut s = pane_state(pane, active, runs, &|id| store.read_summary_file(id));
    s.agent = crate::agents::read(&store.paths, &pane.session);
    s
}

/// The state of the session recorded in `rec`.
pub fn of_record(store: &Store, rec: &SessionRecord, runs: &[Run]) -> PaneState {
    from_store(store, &rec.pane, rec.active.as_ref(), runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Multiplexer, SessionKey};

    fn pane(key: &str, p: &str) -> PaneRef {
        PaneRef {
            session: SessionKey::normalize(key).unwrap(),
            multiplexer: Multiplexer::Tmux,
            pane: Some(p.into()),
        }
    }

    fn run(p: &PaneRef, conv: &str, state: RunState, command: crate::runs::RunKind) -> Run {
        Run {
            agent_mark: None,
            agent_pid: None,
            agent_start: None,
            pid: 42,
            start: 1,
            pane: p.clone(),
            command,
            conversation: conv.into(),
            state,
            since: "2026-01-01T00:00:00Z".into(),
            state_since: "2026-01-01T00:00:01Z".into(),
            provider: String::new(),
            model: String::new(),
        }
    }

    const A: &str = "01m7yd5d6e4q2r8kzz";
    const B: &str = "01m7yd5aqv00000000";

    fn summary(id: &ConversationId) -> Option<Summary> {
        (id.as_str() == A).then(|| Summary {
            agent: None,
            id: id.clone(),
            title: Some("tmux \x1b[31mnotes".into()),
            turns: 3,
            created_at: String::new(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            parent: None,
            model: None,
            system: None,
            last_message: None,
            deleted: false,
            log_len: 0,
            history_len: 0,
            attachments: 0,
        })
    }

    #[test]
    fn idle_pane_shows_its_active_conversation() {
        let p = pane("tmux:x:%1", "%1");
        let a = ConversationId::from_trusted(A).unwrap();
        let s = pane_state(&p, Some(&a), &[], &summary);
        assert_eq!(s.conversation.as_ref(), Some(&a));
        assert_eq!(s.title.as_deref(), Some("tmux [31mnotes"));
        assert_eq!(s.turns, 3);
        assert_eq!(s.activity, Activity::Idle);
        assert_eq!(s.held_by, None);
        assert_eq!(s.label(), "tmux [31mnotes");
    }

    #[test]
    fn a_running_query_decides_the_conversation_and_activity() {
        let p = pane("tmux:x:%1", "%1");
        let a = ConversationId::from_trusted(A).unwrap();
        let b = ConversationId::from_trusted(B).unwrap();
        for (state, act) in [
            (RunState::WaitingForLock, Activity::Waiting),
            (RunState::Streaming, Activity::Streaming),
            (RunState::GeneratingTitle, Activity::Titling),
        ] {
            let s = pane_state(
                &p,
                Some(&b),
                &[run(&p, A, state, crate::runs::RunKind::Query)],
                &summary,
            );
            assert_eq!(s.conversation.as_ref(), Some(&a));
            assert_eq!(s.activity, act);
            assert_eq!(s.held_by, None, "its own run is not another holder");
        }
    }

    #[test]
    fn another_panes_run_or_write_holds_the_conversation() {
        let me = pane("tmux:x:%1", "%1");
        let other = pane("tmux:x:%2", "%2");
        let a = ConversationId::from_trusted(A).unwrap();
        let s = pane_state(
            &me,
            Some(&a),
            &[run(
                &other,
                A,
                RunState::Streaming,
                crate::runs::RunKind::Query,
            )],
            &summary,
        );
        assert_eq!(s.activity, Activity::Idle);
        let h = s.held_by.expect("held");
        assert_eq!(h.pane.pane.as_deref(), Some("%2"));
        assert_eq!(h.since, "2026-01-01T00:00:01Z");
        // A rename holds the lock without a query.
        let s = pane_state(
            &me,
            Some(&a),
            &[run(
                &other,
                A,
                RunState::Writing,
                crate::runs::RunKind::Rename,
            )],
            &summary,
        );
        assert_eq!(
            s.held_by.expect("held by rename").command,
            crate::runs::RunKind::Rename
        );
        // Waiting for the lock is not holding it.
        let s = pane_state(
            &me,
            Some(&a),
            &[run(
                &other,
                A,
                RunState::WaitingForLock,
                crate::runs::RunKind::Query,
            )],
            &summary,
        );
        assert_eq!(s.held_by, None);
        assert_eq!(
            conversation_activity(
                &[run(
                    &other,
                    A,
                    RunState::WaitingForLock,
                    crate::runs::RunKind::Query
                )],
                A
            ),
            Activity::Waiting
        );
    }

    #[test]
    fn a_pane_without_conversation_is_empty() {
        let p = pane("tmux:x:%1", "%1");
        let s = pane_state(&p, None, &[], &summary);
        assert_eq!(s.conversation, None);
        assert_eq!(s.label(), "");
        let j = serde_json::to_value(&s).unwrap();
        assert_eq!(j["schema"], 1);
        assert_eq!(j["session"], "tmux:x:%1");
        assert_eq!(j["multiplexer"], "tmux");
        assert_eq!(j["activity"], "idle");
    }

    #[test]
    fn a_pane_s_state_is_read_from_its_record_without_writing() {
        let root =
            std::env::temp_dir().join(format!("panechat-state-of-pane-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let env = crate::env::Env::from_pairs([(
            "PANECHAT_HOME".to_string(),
            root.display().to_string(),
        )]);
        let store = Store::new(crate::paths::Paths::resolve(&env).unwrap());
        let p = pane("unix:p", "%1");
        let st = of_pane(&store, &p);
        assert_eq!((st.conversation, st.activity), (None, Activity::Idle));
        assert!(!root.exists(), "nothing was written");
        store.ensure_dirs().unwrap();
        let made = store
            .create(crate::store::NewConversation {
                title: Some("A #title".into()),
                ..Default::default()
            })
            .unwrap()
            .value;
        let session = p.to_session(None);
        crate::store::mapping::activate(&store.paths, &session, &made.id).unwrap();
        let st = of_pane(&store, &p);
        assert_eq!(st.conversation.as_ref(), Some(&made.id));
        assert_eq!(st.title.as_deref(), Some("A \u{266f}title"));
        assert_eq!(st.activity, Activity::Idle);
        let _ = std::fs::remove_dir_all(&root);
    }
}
