//! `panechat use`: make a conversation this session's active one.

use panechat::store::mapping;
use panechat::Result;

use super::{out, show, ui, Ctx};

/// `panechat use TARGET`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// last, prev, pick, or an id or unique prefix.
    target: String,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let id = show::resolve(ctx, Some(&args.target))?;
    let session = ctx.session()?;
    let s = ctx.store.summary(&id)?;
    mapping::activate(&ctx.paths, &session, &id)?;
    ui::publish_here(ctx, &session, &s);
    out(&format!("{}  {}\n", s.id, s.display_title()))?;
    Ok(0)
}
