//! Every known session, and forgetting those whose pane is gone: what `panechat sessions`
//! lists and prunes. Listing never changes anything; pruning never touches a conversation,
//! nor a session with a live run.

use crate::adapters::exec::Exec;
use crate::error::Result;
use crate::paths::Paths;
use crate::prune::{self, Liveness};
use crate::runs::{self, Run};
use crate::session::SessionKey;
use crate::state::{self, PaneState};
use crate::store::mapping::{self, SessionRecord};
use crate::store::Store;

/// A session forgotten by [`prune`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forgotten {
    /// Its key.
    pub key: SessionKey,
    /// Why its pane is taken for gone.
    pub why: String,
}

/// Forgets the records of sessions whose pane is certainly gone (a stopped multiplexer
/// instance, a dead tmux server, a vanished WezTerm socket, an ended terminal session, …) and
/// that run nothing. `deep` also asks the multiplexers (through `probe`) which panes still
/// exist. Their conversations are kept.
pub fn prune(paths: &Paths, deep: bool, probe: &dyn Exec) -> Result<Vec<Forgotten>> {
    let runs = runs::live(paths)?;
    let mut forgotten = Vec::new();
    for rec in mapping::all(paths)? {
        if runs.iter().any(|r| r.pane.session == rec.pane.session) {
            continue;
        }
        if let Liveness::Gone(why) = prune::check_with(&rec, deep, probe) {
            mapping::remove(paths, &rec.pane.session)?;
            forgotten.push(Forgotten {
                key: rec.pane.session,
                why,
            });
        }
    }
    // A pane known only by its agent, closed in a multiplexer that still runs (asked only with
    // `deep`); one of a stopped multiplexer is kept for its resume command, for
    // [`AGENT_RESUME_KEPT`] after the agent last reported.
    if deep {
        let now_ms = crate::time::now_ms();
        for a in crate::agents::all(paths) {
            let rec = agent_only_record(&a);
            if mapping::read(paths, &a.pane).ok().flatten().is_some() {
                continue;
            }
            if !rec.instance_live() {
                let reported_ms = a.reported_ms.or_else(|| {
                    let s = panechat_vocab::time::unix_seconds(a.agent.since.as_deref()?)?;
                    u64::try_from(s).ok().map(|s| s * 1000)
                });
                let old = reported_ms.is_none_or(|t| {
                    now_ms.saturating_sub(t) > AGENT_RESUME_KEPT.as_millis() as u64
                });
                if old {
                    crate::agents::clear(paths, &a.pane)?;
                    forgotten.push(Forgotten {
                        key: a.pane,
                        why:
                            "its multiplexer stopped, and its agent last reported over 30 days ago"
                                .into(),
                    });
                }
                continue;
            }
            if let Liveness::Gone(why) = prune::check_with(&rec, deep, probe) {
                crate::agents::clear(paths, &a.pane)?;
                forgotten.push(Forgotten { key: a.pane, why });
            }
        }
    }
    Ok(forgotten)
}

/// How long the agent of a pane whose multiplexer stopped is kept (for `sessions --resume`)
/// after it last reported.
pub const AGENT_RESUME_KEPT: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// The session record of a pane known only by the agent that reported there.
pub fn agent_only_record(a: &crate::agents::AgentRecord) -> SessionRecord {
    SessionRecord {
        pane: crate::session::PaneRef::from_key(a.pane.clone()),
        server: a.server.clone(),
        instance: a.instance,
        tty: None,
        pending_new: false,
        active: None,
        previous: Vec::new(),
        updated_at: a.agent.since.clone().unwrap_or_default(),
    }
}

/// One listed session.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Its record (made up from its runs when it has none yet: a first query still waiting).
    pub record: SessionRecord,
    /// What its pane shows.
    pub state: PaneState,
    /// Its live runs.
    pub runs: Vec<Run>,
}

/// The sessions: those with live runs first, then the most recently used.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The sessions, in order.
    pub sessions: Vec<Listed>,
    /// Every live run.
    pub runs: Vec<Run>,
}

/// Every known session, as recorded, and those that only have runs so far.
pub fn list(store: &Store) -> Result<Listing> {
    let paths = &store.paths;
    let runs = runs::live(paths)?;
    let mut records = mapping::all(paths)?;
    for r in &runs {
        if !records.iter().any(|s| s.pane.session == r.pane.session) {
            records.push(SessionRecord {
                pane: r.pane.clone(),
                server: None,
                instance: None,
                tty: None,
                pending_new: false,
                active: None,
                previous: Vec::new(),
                updated_at: r.since.clone(),
            });
        }
    }
    // Panes known only by the agent running there (a hook reported it).
    for a in crate::agents::all(paths) {
        if records.iter().any(|s| s.pane.session == a.pane) {
            continue;
        }
        let rec = agent_only_record(&a);
        // (an agent of a stopped multiplexer is kept, for its resume command, but not listed)
        if a.instance.is_some() && rec.instance_live() {
            records.push(rec);
        }
    }
    let mut sessions: Vec<Listed> = records
        .into_iter()
        .map(|record| Listed {
            state: state::of_record(store, &record, &runs),
            runs: runs
                .iter()
                .filter(|r| r.pane.session == record.pane.session)
                .cloned()
                .collect(),
            record,
        })
        .collect();
    sessions.sort_by(|a, b| {
        (!b.runs.is_empty())
            .cmp(&!a.runs.is_empty())
            .then_with(|| b.record.updated_at.cmp(&a.record.updated_at))
    });
    Ok(Listing { sessions, runs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Session;
    use crate::store::conversation::ConversationId;

    struct Mute;

    impl Exec for Mute {
        fn run(
            &self,
            argv: &[String],
            _: &[(String, String)],
        ) -> std::io::Result<crate::adapters::exec::Output> {
            panic!("{argv:?} was asked; nothing should be");
        }
    }

    fn store(name: &str) -> Store {
        crate::store::temp_store("sessions", name)
    }

    fn session(key: &str, alive: bool) -> Session {
        crate::session::this_process_session(key, alive)
    }

    #[test]
    fn listing_keeps_everything_and_pruning_forgets_only_the_gone() {
        let st = store("prune");
        let id = ConversationId::generate();
        for (key, alive) in [("unix:live", true), ("unix:gone", false)] {
            mapping::activate(&st.paths, &session(key, alive), &id).unwrap();
        }
        let keys = |l: &Listing| -> Vec<String> {
            let mut k: Vec<String> = l
                .sessions
                .iter()
                .map(|s| s.record.pane.session.to_string())
                .collect();
            k.sort();
            k
        };
        assert_eq!(keys(&list(&st).unwrap()), ["unix:gone", "unix:live"]);
        assert_eq!(keys(&list(&st).unwrap()), ["unix:gone", "unix:live"]);

        let forgotten = prune(&st.paths, false, &Mute).unwrap();
        assert_eq!(forgotten.len(), 1, "{forgotten:?}");
        assert_eq!(forgotten[0].key.as_str(), "unix:gone");
        assert_eq!(forgotten[0].why, "its terminal session has ended");
        assert_eq!(keys(&list(&st).unwrap()), ["unix:live"]);
        assert!(prune(&st.paths, false, &Mute).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(st.paths.data.parent().unwrap());
    }

    #[test]
    fn the_agent_of_a_stopped_multiplexer_is_kept_for_its_resume_command_30_days() {
        let st = store("agents-age");
        let now = crate::time::now_ms();
        for (key, age_days) in [("unix:recent", 2), ("unix:old", 31)] {
            let s = session(key, false);
            crate::agents::write_record(
                &st.paths,
                &crate::agents::AgentRecord {
                    pane: s.key.clone(),
                    server: s.server.clone(),
                    instance: s.instance,
                    process: None,
                    reported_ms: Some(now - age_days * 24 * 3600 * 1000),
                    agent: crate::agents::Agent {
                        kind: "claude-code".into(),
                        session: Some("5f0c".into()),
                        ..Default::default()
                    },
                },
            )
            .unwrap();
        }
        let forgotten = prune(&st.paths, true, &Mute).unwrap();
        let keys: Vec<&str> = forgotten.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["unix:old"], "{forgotten:?}");
        let left: Vec<String> = crate::agents::all(&st.paths)
            .into_iter()
            .map(|r| r.pane.to_string())
            .collect();
        assert_eq!(left, ["unix:recent"]);
        let _ = std::fs::remove_dir_all(st.paths.data.parent().unwrap());
    }
}
