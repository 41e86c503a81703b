//! `panechat rm`: delete conversations.
//!
//! The store stays consistent (see [`panechat::writes`]): every session that had a removed
//! conversation active falls back to its most recent earlier one (as `prev` would) or to none,
//! its panes are republished, and the command says which panes it affected. A conversation
//! that a live pane shows is only removed after a warning (and a confirmation on a terminal).

use panechat::schema::{Fallback, RmResult};
use panechat::state::SCHEMA;
use panechat::store::conversation::ConversationId;
use panechat::writes::{self, Removed};
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

/// Says that the command waits for conversation `id`'s lock, held by `holder`.
pub fn waiting(ctx: &Ctx, id: &ConversationId, holder: &str) {
    ctx.note(&format!(
        "panechat: waiting for conversation {id}, held by {holder}"
    ));
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
    let here = ctx.session()?;
    let in_use = writes::in_use(&ctx.paths, &ids, &here.key)?;
    let in_use_note = if in_use.is_empty() {
        String::new()
    } else {
        let note = format!("in use by {}", in_use.join(", "));
        ctx.note(&format!("panechat: warning: {note}"));
        note
    };
    if !args.yes && !confirmed(ctx, &ids, &in_use_note)? {
        ctx.note("nothing removed");
        return Ok(0);
    }
    let cfg = ctx.config()?;
    let mut result = RmResult {
        schema: SCHEMA,
        deleted: Vec::new(),
        sessions: Vec::new(),
    };
    for id in &ids {
        let removed = writes::remove(&ctx.store, &here, id, cfg.lock_wait, &|holder| {
            waiting(ctx, id, holder)
        })?;
        report(ctx, id, removed, !args.json, &mut result.sessions);
        result.deleted.push(id.clone());
    }
    if args.json {
        out_json(&result)?;
    }
    Ok(0)
}

/// Asks before deleting; false for "no". Without a terminal to ask on, an error (`--yes`).
fn confirmed(ctx: &Ctx, ids: &[ConversationId], in_use_note: &str) -> Result<bool> {
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
        Some(answer) => Ok(answer),
        None => Err(Error::Cancelled("nothing removed".into())),
    }
}

/// Says what a removal did (warnings on stderr: the conversation is gone either way),
/// republishes the panes that showed it, and records their fallbacks for `--json`.
fn report(
    ctx: &Ctx,
    id: &ConversationId,
    removed: Removed,
    say_deleted: bool,
    fallbacks: &mut Vec<Fallback>,
) {
    if let Some(e) = removed.index_stale {
        ctx.log("WARN", &format!("{id} is deleted; the index is stale: {e}"));
        eprintln!("panechat: warning: {id} is deleted, but the list of conversations could not be updated ({e}); `panechat doctor --repair` rebuilds it");
    }
    let mut affected = Vec::new();
    for f in removed.fallbacks {
        let shown = match &f.now {
            Some(c) => format!("now shows {}", c.short()),
            None => "now has no conversation".into(),
        };
        ctx.note(&format!("{}: {shown}", f.pane.place()));
        affected.push(f.pane.session.clone());
        fallbacks.push(Fallback {
            session: f.pane.session.to_string(),
            conversation: f.now,
        });
    }
    ctx.publish_sessions(&affected);
    if say_deleted {
        ctx.note(&format!("deleted {id}"));
    }
    if let Some(e) = removed.untidy {
        ctx.log(
            "WARN",
            &format!("{id} is deleted; tidying up after it failed: {e}"),
        );
        eprintln!("panechat: warning: {id} is deleted, but tidying up after it failed ({e}); `panechat doctor --repair` finishes it");
    }
}
