//! Taking the conversation's lock: at once when it is free, else waiting (the pane and the
//! wait line say for whom) and, after `lock.wait`, doing what [`OnLocked`] says: wait on, ask
//! (the answer may be to wait, to continue in a new conversation or a fork, or to cancel), or
//! give up.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::lock::{self, LockGuard, WaitOutcome, Waiter};
use crate::runs::RunState;
use crate::store::NewConversation;

use super::types::{Asked, Attempt, LockAnswer, LockQuestion, OnLocked, Query};

/// How long one wait for the lock lasts before the wait line is redrawn and signals are looked at.
const TICK: Duration = Duration::from_millis(100);

/// Takes the lock of `a`'s conversation, which may become another one (a new conversation or
/// a fork, as answered).
pub(super) fn lock(q: &mut Query<'_>, a: &mut Attempt, mode: OnLocked) -> Result<LockGuard> {
    loop {
        a.reg.set(a.summary.id.as_str(), RunState::WaitingForLock)?;
        let path = q.store.lock_path(&a.summary.id);
        if let Some(g) = lock::try_acquire(&path)? {
            return Ok(g);
        }
        let waiter = Waiter::start(&path)?;
        // The pane now shows that it waits (and the holder's panes nothing new).
        q.publish.publish(&a.summary.id);
        q.ui.log(
            "INFO",
            &format!(
                "conversation {} is locked by {}; on-locked={mode:?}",
                a.summary.id,
                holder(&path)
            ),
        );
        let answer = wait(q, a, mode, &waiter);
        q.ui.waiting(None);
        match answer? {
            Waited::Acquired(g) => return Ok(g),
            Waited::Moved => continue,
        }
    }
}

/// Who holds the lock at `path`, as the wait line and the errors say it.
fn holder(path: &std::path::Path) -> String {
    lock::read_holder(path)
        .map(|h| h.describe())
        .unwrap_or_else(|| "another process".into())
}

/// How a wait ended.
enum Waited {
    /// The lock is the query's.
    Acquired(LockGuard),
    /// The query moved to another conversation (new or forked), whose lock is to take.
    Moved,
}

/// Waits on `waiter`, showing the wait line, until the lock is free or `lock.wait` has passed
/// (then does what `mode` says).
fn wait(q: &mut Query<'_>, a: &mut Attempt, mode: OnLocked, waiter: &Waiter) -> Result<Waited> {
    let path = q.store.lock_path(&a.summary.id);
    let mut deadline = match mode {
        OnLocked::Wait => None,
        _ => Some(q.clock.now() + q.cfg.lock_wait),
    };
    loop {
        if let Some(e) = q.ui.interrupted() {
            return Err(e);
        }
        let holder = holder(&path);
        let left = deadline.map(|d| d.saturating_duration_since(q.clock.now()));
        q.ui.waiting(Some(&wait_line(&a.summary.display_title(), &holder, left)));
        if let WaitOutcome::Acquired(g) = waiter.wait(Some(left.map_or(TICK, |l| l.min(TICK))))? {
            return Ok(Waited::Acquired(g));
        }
        if deadline.is_none_or(|d| q.clock.now() < d) {
            continue;
        }
        q.ui.waiting(None);
        let what = what(&a.summary);
        let answer = match mode {
            OnLocked::Wait => LockAnswer::Wait,
            OnLocked::New => LockAnswer::New,
            OnLocked::Fork => LockAnswer::Fork,
            OnLocked::Fail => {
                return Err(Error::Locked(format!(
                    "{what} is still locked by {holder} after {}",
                    humantime::format_duration(q.cfg.lock_wait)
                )))
            }
            OnLocked::Ask => {
                let question = LockQuestion {
                    summary: &a.summary,
                    what: &what,
                    holder: &holder,
                    waiter,
                };
                match q.ui.lock_question(&question)? {
                    Asked::Answer(answer) => answer,
                    // (freed while the question was up: the question is gone)
                    Asked::Acquired(g) => return Ok(Waited::Acquired(g)),
                }
            }
        };
        match answer {
            LockAnswer::Wait => deadline = None,
            LockAnswer::Cancel => {
                return Err(Error::Cancelled(format!(
                    "cancelled while {what} was locked by {holder}"
                )))
            }
            other => {
                move_on(q, a, other == LockAnswer::Fork, &what)?;
                return Ok(Waited::Moved);
            }
        }
    }
}

/// The wait line: what matters first, and short (a narrow pane cuts the end of the line).
fn wait_line(title: &str, holder: &str, left: Option<Duration>) -> String {
    let busy = crate::title::truncate(title, 24);
    match left {
        Some(l) => format!(
            "panechat: waiting up to {}s (Ctrl-C cancels) for \"{busy}\", held by {holder}",
            l.as_secs_f64().ceil()
        ),
        None => format!("panechat: waiting (Ctrl-C cancels) for \"{busy}\", held by {holder}"),
    }
}

/// The busy conversation, as the question and the errors name it.
fn what(s: &crate::store::conversation::Summary) -> String {
    format!(
        "conversation \"{}\" ({})",
        crate::title::truncate(&s.display_title(), 40),
        s.id.short()
    )
}

/// Continues in a new conversation, or in a fork of the busy one.
fn move_on(q: &mut Query<'_>, a: &mut Attempt, fork: bool, what: &str) -> Result<()> {
    if fork {
        let forked = q.store.fork(&a.summary.id, None)?;
        if let Some(e) = &forked.stale {
            q.ui.stale("the fork", e);
        }
        a.summary = forked.value;
        a.fresh = None;
        q.ui.note(&format!(
            "panechat: {what} is busy; continuing in its fork {}",
            a.summary.id
        ));
    } else {
        let mut new = NewConversation {
            system: q.cfg.system.clone(),
            ..Default::default()
        };
        a.summary = q.store.reserve(&new);
        new.id = Some(a.summary.id.clone());
        a.fresh = Some(new);
        q.ui.note(&format!(
            "panechat: {what} is busy; continuing in new conversation {}",
            a.summary.id
        ));
    }
    Ok(())
}
