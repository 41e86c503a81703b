//! `panechat rm`: delete conversations.
//!
//! The store stays consistent: every session that had a removed conversation active falls back
//! to its most recent earlier one (as `prev` would) or to none, its panes are republished, and
//! the command says which panes it affected. A conversation that a live pane shows is only
//! removed after a warning (and a confirmation on a terminal).

use std::time::Duration;

use panechat::lock::{self, LockGuard, WaitOutcome, Waiter};
use panechat::runs::{self, Registration, RunState};
use panechat::schema::{Fallback, RmResult};
use panechat::session::SessionKey;
use panechat::state::SCHEMA;
use panechat::store::conversation::ConversationId;
use panechat::store::mapping;
use panechat::{Error, Result};

use super::ctx::Ctx;
use super::output::out_json;
use super::{show, ui};

/// `panechat rm TARGET... [--yes] [--json]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Conversations: ids or unique prefixes (or last, prev, pick).
    #[arg(required = true)]
    targets: Vec<String>,
    /// Do not ask for confirmation (required when not on a terminal).
    #[arg(short, long)]
    yes: bool,
    /// Print what was deleted and which sessions fell back to what, as JSON.
    #[arg(long)]
    json: bool,
}

/// Takes a conversation's lock for a short write, waiting up to `wait` (exit 75 after).
pub fn lock_for_write(ctx: &Ctx, id: &ConversationId, wait: Duration) -> Result<LockGuard> {
    ctx.store.ensure_dirs()?;
    let path = ctx.store.lock_path(id);
    if let Some(g) = lock::try_acquire(&path)? {
        return Ok(g);
    }
    let holder = lock::read_holder(&path)
        .map(|h| h.describe())
        .unwrap_or_else(|| "another process".into());
    ctx.note(&format!(
        "panechat: waiting for conversation {id}, held by {holder}"
    ));
    match Waiter::start(&path)?.wait(Some(wait))? {
        WaitOutcome::Acquired(g) => Ok(g),
        WaitOutcome::TimedOut => Err(Error::Locked(format!(
            "conversation {id} is still locked by {holder} after {}",
            humantime::format_duration(wait)
        ))),
    }
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let mut ids = Vec::new();
    for t in &args.targets {
        let id = show::resolve(ctx, Some(t))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let records = mapping::all(&ctx.paths)?;
    let live = runs::live(&ctx.paths)?;
    let here = ctx.session()?;
    // Panes (other than this one) that show a conversation about to go.
    let in_use: Vec<String> = records
        .iter()
        .filter(|r| r.pane.session != here.key)
        .filter(|r| r.active.as_ref().is_some_and(|a| ids.contains(a)))
        .map(|r| r.pane.place())
        .chain(
            live.iter()
                .filter(|r| {
                    r.pane.session != here.key && ids.iter().any(|i| i.as_str() == r.conversation)
                })
                .map(|r| r.pane.place()),
        )
        .collect();
    let mut in_use_note = String::new();
    if !in_use.is_empty() {
        let mut panes = in_use.clone();
        panes.sort();
        panes.dedup();
        in_use_note = format!("in use by {}", panes.join(", "));
        ctx.note(&format!("panechat: warning: {in_use_note}"));
    }
    if !args.yes {
        if !ui::can_ask() {
            return Err(Error::Unavailable {
                message: "refusing to delete without confirmation; pass --yes".into(),
            });
        }
        let names: Vec<String> = ids
            .iter()
            .map(|id| {
                format!(
                    "{} \"{}\"",
                    id.short(),
                    ctx.store
                        .summary(id)
                        .map(|s| ui::truncate(&s.display_title(), 30))
                        .unwrap_or_default()
                )
            })
            .collect();
        let extra = if in_use_note.is_empty() {
            String::new()
        } else {
            format!(" ({in_use_note})")
        };
        match ui::confirm(&format!("{}{extra}", names.join(", ")), "Delete?")? {
            Some(true) => {}
            // "No" is an answer, not an error.
            Some(false) => {
                ctx.note("nothing removed");
                return Ok(0);
            }
            None => return Err(Error::Cancelled("nothing removed".into())),
        }
    }
    let cfg = ctx.config()?;
    let mut result = RmResult {
        schema: SCHEMA,
        deleted: Vec::new(),
        sessions: Vec::new(),
    };
    for id in &ids {
        let mut guard = lock_for_write(ctx, id, cfg.lock_wait)?;
        guard.write_holder(&lock::Holder::this_process(
            &here,
            panechat::runs::RunKind::Rm,
        ))?;
        let reg = Registration::register(
            &ctx.paths,
            &here,
            panechat::runs::RunKind::Rm,
            id.as_str(),
            RunState::Writing,
            "",
            "",
        )?;
        if let Some(e) = ctx.store.remove(&guard, id)? {
            ctx.log("WARN", &format!("{id} is deleted; the index is stale: {e}"));
            eprintln!("panechat: warning: {id} is deleted, but the list of conversations could not be updated ({e}); `panechat doctor --repair` rebuilds it");
        }
        // The delete is durable from here: whatever fails after it is said as a warning, and
        // the command still succeeds (the conversation is gone).
        let mut affected = Vec::new();
        let forgot = forget_everywhere(ctx, id, &mut affected, &mut result.sessions);
        // Unlink while holding, whatever happened above: waiters see the conversation is gone
        // instead of taking the lock of a deleted one.
        drop(reg);
        let unlinked = guard.unlink();
        let after = forgot.and(unlinked);
        ctx.publish_sessions(&affected);
        if !args.json {
            ctx.note(&format!("deleted {id}"));
        }
        if let Err(e) = after {
            ctx.log(
                "WARN",
                &format!("{id} is deleted; tidying up after it failed: {e}"),
            );
            eprintln!("panechat: warning: {id} is deleted, but tidying up after it failed ({e}); `panechat doctor --repair` finishes it");
        }
        result.deleted.push(id.clone());
    }
    if args.json {
        out_json(&result)?;
    }
    Ok(0)
}

/// Every session that knew `id` forgets it; those that showed it fall back (recorded in
/// `affected` and `fallbacks`, and said on stderr).
fn forget_everywhere(
    ctx: &Ctx,
    id: &ConversationId,
    affected: &mut Vec<SessionKey>,
    fallbacks: &mut Vec<Fallback>,
) -> Result<()> {
    for rec in mapping::all(&ctx.paths)? {
        let had_active = rec.active.as_ref() == Some(id);
        if !had_active && !rec.previous.contains(id) {
            continue;
        }
        let session = rec.pane.to_session(rec.server.clone());
        let now = mapping::forget(&ctx.paths, &session, id, &|c| ctx.store.exists(c))?;
        if had_active {
            affected.push(rec.pane.session.clone());
            let shown = match &now {
                Some(c) => format!("now shows {}", c.short()),
                None => "now has no conversation".into(),
            };
            ctx.note(&format!("{}: {shown}", rec.pane.place()));
            fallbacks.push(Fallback {
                session: rec.pane.session.to_string(),
                conversation: now,
            });
        }
    }
    Ok(())
}
