//! `panechat agent-seen`: the user looked at a pane (a plugin saw it focused), so the pane's
//! coding agent, when it is done, is now idle and the pane's state is published again. Hidden:
//! the WezTerm and Zellij plugins run it (tmux's focus hook runs `tmux-plugin seen`).

use panechat::Result;

use super::ctx::Ctx;
use super::output::out;

/// `panechat agent-seen [--session KEY]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Whose (default: this session): a key from `panechat sessions`, or `pane:<id>` of this
    /// multiplexer.
    #[arg(long, value_name = "KEY")]
    session: Option<String>,
}

/// Runs the command: nothing is printed; a pane whose agent is not done is left as it is.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let target = match &args.session {
        Some(k) => ctx.named_session(k)?,
        None => ctx.session()?,
    };
    if panechat::agents::seen(&ctx.paths, &target.key)? {
        ctx.publish_sessions(std::slice::from_ref(&target.key));
    }
    out("")?;
    Ok(0)
}
