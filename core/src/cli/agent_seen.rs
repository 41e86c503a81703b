//! `panechat agent-seen`: the user looked at a pane (a plugin saw it focused), so the pane's
//! coding agent, when it is done, is now idle and the pane's state is published again. Hidden:
//! the WezTerm and Zellij plugins run it (tmux's focus hook runs `tmux-plugin seen`).

use panechat::Result;

use super::ctx::Ctx;
use super::output::{out, out_raw};

/// `panechat agent-seen [--session KEY] [--wezterm-vars]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Whose (default: this session): a key from `panechat sessions`, or `pane:<id>` of this
    /// multiplexer.
    #[arg(long, value_name = "KEY")]
    session: Option<String>,
    /// Print the pane's state as WezTerm user-var sequences (as `status --format wezterm`),
    /// for the WezTerm plugin to inject: a pane panechat has no terminal recorded for is
    /// told that way.
    #[arg(long)]
    wezterm_vars: bool,
}

/// Runs the command: a pane whose agent is not done is left as it is.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let target = match &args.session {
        Some(k) => ctx.named_session(k)?,
        None => ctx.session()?,
    };
    if panechat::agents::seen(&ctx.paths, &target.key)? {
        ctx.publish_sessions(std::slice::from_ref(&target.key));
    }
    if args.wezterm_vars {
        let st = panechat::state::of_pane(&ctx.store, &target.pane_ref());
        let vars = panechat::adapters::wezterm::state_vars(&st, false);
        return out_raw(&String::from_utf8_lossy(&vars)).map(|()| 0);
    }
    out("")?;
    Ok(0)
}
