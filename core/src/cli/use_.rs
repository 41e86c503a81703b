//! `panechat use`: make a conversation a session's active one.

use panechat::state;
use panechat::store::mapping;
use panechat::Result;

use super::ctx::Ctx;
use super::output::{out, out_json};
use super::show;

/// `panechat use TARGET [--session KEY] [--json]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// last, prev, pick, or an id or unique prefix.
    target: String,
    /// Whose (default: this session): a key from `panechat sessions`, or `pane:<id>` for a pane
    /// of the current multiplexer (used by the plugins' pickers).
    #[arg(long, value_name = "KEY")]
    session: Option<String>,
    /// Print the session's pane state as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let id = show::resolve(ctx, Some(&args.target))?;
    let here = ctx.session()?;
    let target = match &args.session {
        Some(k) => ctx.named_session(k)?,
        None => here,
    };
    let s = ctx.store.summary(&id)?;
    ctx.store.ensure_dirs()?;
    mapping::activate(&ctx.paths, &target, &id)?;
    ctx.publish(&id);
    if args.json {
        let rec = mapping::read(&ctx.paths, &target.key)?.expect("just written");
        let live = panechat::runs::live_readonly(&ctx.paths).unwrap_or_default();
        out_json(&state::of_record(&ctx.store, &rec, &live))?;
    } else {
        out(&format!("{}  {}\n", s.id, s.display_title()))?;
    }
    Ok(0)
}
