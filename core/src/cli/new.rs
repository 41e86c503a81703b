//! `panechat new`: the session's next `panechat q` starts a new conversation.

use panechat::state;
use panechat::store::mapping;
use panechat::Result;

use super::ctx::Ctx;
use super::output::{out, out_json};

/// `panechat new [--session KEY] [--json]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Whose (default: this session): a key from `panechat sessions`, or `pane:<id>` for a pane
    /// of the current multiplexer.
    #[arg(long, value_name = "KEY")]
    session: Option<String>,
    /// Print the session's pane state as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let here = ctx.session()?;
    let target = match &args.session {
        Some(k) => ctx.named_session(k)?,
        None => here,
    };
    ctx.store.ensure_dirs()?;
    mapping::detach(&ctx.paths, &target)?;
    ctx.publish_sessions(std::slice::from_ref(&target.key));
    if args.json {
        let rec = mapping::read(&ctx.paths, &target.key)?.expect("just written");
        let live = panechat::runs::live_readonly(&ctx.paths).unwrap_or_default();
        out_json(&state::of_record(&ctx.store, &rec, &live))?;
    } else {
        ctx.note(&format!(
            "the next `panechat q` in {} starts a new conversation",
            target.pane_ref().place()
        ));
        out("")?;
    }
    Ok(0)
}
