//! `panechat rm`: delete conversations.

use std::time::Duration;

use panechat::lock::{self, LockGuard, WaitOutcome, Waiter};
use panechat::store::conversation::ConversationId;
use panechat::store::mapping;
use panechat::{Error, Result};

use super::{show, ui, Ctx};

/// `panechat rm TARGET... [--yes]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Conversations: ids or unique prefixes (or last, prev, pick).
    #[arg(required = true)]
    targets: Vec<String>,
    /// Do not ask for confirmation (required when not on a terminal).
    #[arg(short, long)]
    yes: bool,
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
    if !args.yes {
        if !ui::can_ask() {
            return Err(Error::Usage(
                "refusing to delete without confirmation; pass --yes".into(),
            ));
        }
        let names: Vec<String> = ids
            .iter()
            .map(|id| {
                format!(
                    "{id} \"{}\"",
                    ctx.store
                        .summary(id)
                        .map(|s| s.display_title())
                        .unwrap_or_default()
                )
            })
            .collect();
        if !ui::confirm(&format!("Delete {}?", names.join(", ")))? {
            return Err(Error::Cancelled("nothing deleted".into()));
        }
    }
    let cfg = ctx.config()?;
    let session = ctx.session()?;
    for id in &ids {
        let mut guard = lock_for_write(ctx, id, cfg.lock_wait)?;
        guard.write_holder(&lock::Holder::this_process(&session, "rm"))?;
        ctx.store.remove(id)?;
        mapping::forget(&ctx.paths, &session, id)?;
        // Unlink while holding: waiters see the conversation is gone instead of recreating it.
        guard.unlink()?;
        ctx.note(&format!("deleted {id}"));
    }
    Ok(0)
}
