//! `panechat fork`: copy a conversation (all turns or the last N) and print the new id.

use panechat::store::mapping;
use panechat::Result;

use super::{out, show, ui, Ctx};

/// `panechat fork [TARGET] [--last N] [--session KEY]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// last, prev, pick, or an id or unique prefix (default: this session's active one).
    target: Option<String>,
    /// Keep only the last N turns.
    #[arg(long, value_name = "N")]
    last: Option<usize>,
    /// Make the fork the active conversation of this session: a key from `panechat sessions`,
    /// or `pane:<id>` for a pane of the current multiplexer (e.g. `pane:%7`).
    #[arg(long, value_name = "KEY")]
    session: Option<String>,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let src = show::resolve(ctx, args.target.as_deref())?;
    ctx.store.ensure_dirs()?;
    let s = ctx.store.fork(&src, args.last)?;
    if let Some(raw) = &args.session {
        let target = ctx.named_session(raw)?;
        mapping::activate(&ctx.paths, &target, &s.id)?;
        let here = ctx.session().ok();
        if here.as_ref().map(|h| &h.key) == Some(&target.key) {
            ui::publish_here(ctx, &target, &s);
        } else {
            ui::publish_other(ctx, &target, &s);
        }
    }
    out(&format!("{}\n", s.id))?;
    Ok(0)
}
