//! Short writes to a conversation under its lock: renaming it (`panechat rename`) and
//! deleting it (`panechat rm`). Each holds the conversation's lock (its holder written for
//! waiters to show) and shows as a run while it writes.
//!
//! A removal leaves the store consistent: every session that had the conversation forgets it
//! (one that showed it falls back to its most recent earlier one, as `prev` would, or to
//! none), and the lock file goes last, while still held.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::lock::{self, LockGuard, WaitOutcome, Waiter};
use crate::paths::Paths;
use crate::runs::{self, Registration, RunKind, RunState};
use crate::session::{PaneRef, Session, SessionKey};
use crate::store::conversation::{ConversationId, Summary};
use crate::store::{mapping, Durable, Store};

/// Takes conversation `id`'s lock for a short write, waiting up to `wait` when it is held
/// (after telling `on_wait` who holds it); [`Error::Locked`] after that.
pub fn lock_for_write(
    store: &Store,
    id: &ConversationId,
    wait: Duration,
    on_wait: &dyn Fn(&str),
) -> Result<LockGuard> {
    store.ensure_dirs()?;
    let path = store.lock_path(id);
    if let Some(g) = lock::try_acquire(&path)? {
        return Ok(g);
    }
    let holder = lock::read_holder(&path)
        .map(|h| h.describe())
        .unwrap_or_else(|| "another process".into());
    on_wait(&holder);
    match Waiter::start(&path)?.wait(Some(wait))? {
        WaitOutcome::Acquired(g) => Ok(g),
        WaitOutcome::TimedOut => Err(Error::Locked(format!(
            "conversation {id} is still locked by {holder} after {}",
            humantime::format_duration(wait)
        ))),
    }
}

/// Sets conversation `id`'s title (already cleaned) for session `here`, waiting up to `wait`
/// for its lock (see [`lock_for_write`]).
pub fn rename(
    store: &Store,
    here: &Session,
    id: &ConversationId,
    title: &str,
    wait: Duration,
    on_wait: &dyn Fn(&str),
) -> Result<Durable<Summary>> {
    let mut guard = lock_for_write(store, id, wait, on_wait)?;
    guard.write_holder(&lock::Holder::this_process(here, RunKind::Rename))?;
    let _reg = Registration::register(
        &store.paths,
        here,
        RunKind::Rename,
        id.as_str(),
        RunState::Writing,
        "",
        "",
    )?;
    store.set_title(&guard, id, title, "user")
}

/// The places (as [`PaneRef::place`] says them, sorted, once each) of panes other than
/// `here` that show one of `ids` or run a query on it.
pub fn in_use(paths: &Paths, ids: &[ConversationId], here: &SessionKey) -> Result<Vec<String>> {
    let mut places: Vec<String> = mapping::all(paths)?
        .iter()
        .filter(|r| r.pane.session != *here)
        .filter(|r| r.active.as_ref().is_some_and(|a| ids.contains(a)))
        .map(|r| r.pane.place())
        .chain(
            runs::live(paths)?
                .iter()
                .filter(|r| {
                    r.pane.session != *here && ids.iter().any(|i| i.as_str() == r.conversation)
                })
                .map(|r| r.pane.place()),
        )
        .collect();
    places.sort();
    places.dedup();
    Ok(places)
}

/// A session that showed a removed conversation, and what it shows now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The session's pane.
    pub pane: PaneRef,
    /// Its active conversation now.
    pub now: Option<ConversationId>,
}

/// What a removal did. The conversation is gone whatever the fields below say.
#[derive(Debug)]
pub struct Removed {
    /// The list of conversations could not be updated (`doctor --repair` rebuilds it).
    pub index_stale: Option<Error>,
    /// The sessions that showed it, in the order they were changed.
    pub fallbacks: Vec<Fallback>,
    /// Tidying up after it failed (sessions that still name it, or its lock file); `doctor
    /// --repair` finishes it.
    pub untidy: Option<Error>,
}

/// Removes conversation `id` for session `here`, waiting up to `wait` for its lock (see
/// [`lock_for_write`]).
pub fn remove(
    store: &Store,
    here: &Session,
    id: &ConversationId,
    wait: Duration,
    on_wait: &dyn Fn(&str),
) -> Result<Removed> {
    let mut guard = lock_for_write(store, id, wait, on_wait)?;
    guard.write_holder(&lock::Holder::this_process(here, RunKind::Rm))?;
    let reg = Registration::register(
        &store.paths,
        here,
        RunKind::Rm,
        id.as_str(),
        RunState::Writing,
        "",
        "",
    )?;
    let index_stale = store.remove(&guard, id)?;
    // The delete is durable from here: whatever fails after it is reported, not an error.
    let mut fallbacks = Vec::new();
    let forgot = forget_everywhere(store, id, &mut fallbacks);
    // Unlink while holding, whatever happened above: waiters see the conversation is gone
    // instead of taking the lock of a deleted one.
    drop(reg);
    let unlinked = guard.unlink();
    Ok(Removed {
        index_stale,
        fallbacks,
        untidy: forgot.and(unlinked).err(),
    })
}

/// Every session that knew `id` forgets it; those that showed it fall back (in `fallbacks`).
fn forget_everywhere(
    store: &Store,
    id: &ConversationId,
    fallbacks: &mut Vec<Fallback>,
) -> Result<()> {
    for rec in mapping::all(&store.paths)? {
        let had_active = rec.active.as_ref() == Some(id);
        if !had_active && !rec.previous.contains(id) {
            continue;
        }
        let session = rec.pane.to_session(rec.server.clone());
        let now = mapping::forget(&store.paths, &session, id, &|c| store.exists(c))?;
        if had_active {
            fallbacks.push(Fallback {
                pane: rec.pane,
                now,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::NewConversation;
    use std::cell::RefCell;

    fn store(name: &str) -> Store {
        crate::store::temp_store("remove", name)
    }

    fn session(key: &str) -> Session {
        crate::session::this_process_session(key, true)
    }

    #[test]
    fn a_removal_leaves_every_session_consistent() {
        let st = store("consistent");
        let new = || st.create(NewConversation::default()).unwrap().value.id;
        let (older, gone, other) = (new(), new(), new());
        let (a, b, here) = (session("unix:a"), session("unix:b"), session("unix:here"));
        // a showed `older` then `gone`; b shows `other` and had `gone` before.
        mapping::activate(&st.paths, &a, &older).unwrap();
        mapping::activate(&st.paths, &a, &gone).unwrap();
        mapping::activate(&st.paths, &b, &gone).unwrap();
        mapping::activate(&st.paths, &b, &other).unwrap();
        mapping::activate(&st.paths, &here, &gone).unwrap();
        let ids = [gone.clone()];
        assert_eq!(
            in_use(&st.paths, &ids, &here.key).unwrap(),
            ["session unix:a"]
        );

        let waited = RefCell::new(false);
        let r = remove(&st, &here, &gone, Duration::from_secs(1), &|_| {
            *waited.borrow_mut() = true
        })
        .unwrap();
        assert!(!*waited.borrow(), "the lock was free");
        assert!(r.index_stale.is_none() && r.untidy.is_none(), "{r:?}");
        let mut falls: Vec<(String, Option<ConversationId>)> = r
            .fallbacks
            .iter()
            .map(|f| (f.pane.session.to_string(), f.now.clone()))
            .collect();
        falls.sort();
        assert_eq!(
            falls,
            [
                ("unix:a".to_string(), Some(older.clone())),
                ("unix:here".to_string(), None)
            ]
        );
        assert!(!st.exists(&gone));
        assert!(!st.lock_path(&gone).exists());
        let b_now = mapping::read(&st.paths, &b.key).unwrap().unwrap();
        assert_eq!((b_now.active, b_now.previous), (Some(other), vec![]));
        assert!(runs::live(&st.paths).unwrap().is_empty());
        assert!(st.list().unwrap().iter().all(|s| s.id != gone));
        let _ = std::fs::remove_dir_all(st.paths.data.parent().unwrap());
    }

    #[test]
    fn a_held_lock_is_waited_for_then_refused_with_its_holder() {
        let st = store("held");
        let id = st.create(NewConversation::default()).unwrap().value.id;
        let mut g = lock::acquire(&st.lock_path(&id)).unwrap();
        g.write_holder(&lock::Holder::this_process(
            &session("unix:busy"),
            RunKind::Query,
        ))
        .unwrap();
        let told = RefCell::new(String::new());
        let e = lock_for_write(&st, &id, Duration::from_millis(100), &|h| {
            *told.borrow_mut() = h.to_string()
        })
        .unwrap_err();
        assert!(
            told.borrow().starts_with("session unix:busy, pid "),
            "{}",
            told.borrow()
        );
        assert_eq!(e.exit_code(), 75);
        assert_eq!(
            e.to_string(),
            format!(
                "conversation {id} is still locked by {} after 100ms",
                told.borrow()
            )
        );
        drop(g);
        // (the timed-out wait's thread may take the lock for an instant as it is freed, and
        // release it at once: a wait, not a refusal)
        assert!(lock_for_write(&st, &id, Duration::from_secs(5), &|_| {}).is_ok());
        let _ = std::fs::remove_dir_all(st.paths.data.parent().unwrap());
    }
}
