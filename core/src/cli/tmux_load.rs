//! The tmux plugin, carried inside the binary: `panechat init tmux --load` loads it (TPM runs it
//! through `panechat.tmux`; `panechat init tmux` prints a `run-shell` line that runs it), and
//! `panechat tmux-plugin ACTION` does what its keys and tmux-resurrect hooks ask. What to tell
//! tmux is decided in [`panechat::adapters::tmux_plugin`], what the keys do in
//! [`panechat::adapters::tmux::keys`].

use panechat::adapters::exec::RealExec;
use panechat::adapters::tmux::keys;
use panechat::adapters::tmux_plugin::{self, Action};
use panechat::session::Session;
use panechat::store::mapping;
use panechat::{Error, Result};

use super::ctx::Ctx;

/// Quotes `bin` for the `run-shell "…"` line of the tmux template: shell single quotes, `#`
/// doubled (run-shell expands formats), then `\`, `"` and `$` escaped for tmux's double quotes.
pub fn quote_for_run_shell(bin: &str) -> String {
    let sh = format!("'{}'", bin.replace('\'', "'\\''")).replace('#', "##");
    sh.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('$', "\\$")
}

/// `panechat tmux-plugin ACTION…` (run by the plugin's keys and tmux-resurrect hooks).
#[derive(clap::Args, Debug)]
pub struct PluginArgs {
    /// fork SPLIT KEEP PICK PANE [ID] | new PANE | pick WIDTH HEIGHT MODERN PANE CLIENT |
    /// next CLIENT PANE PANES… | seen PANE | resurrect save|restore
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Loads the plugin (see [`tmux_plugin::load`]).
pub fn load(bin: &str) -> Result<i32> {
    tmux_plugin::load(bin)
}

/// Runs `panechat tmux-plugin ACTION…`.
pub fn run(args: PluginArgs) -> Result<i32> {
    let action = Action::parse(&args.args).map_err(|message| Error::BadArgument { message })?;
    keys::run(action, &RealExec, &InProcess)
}

/// What the keys ask of panechat, done in this process with the library (as `panechat fork`,
/// `new` and `use` with `--session pane:PANE` would, printing nothing: run-shell would show it).
struct InProcess;

impl InProcess {
    /// The state for pane `pane`, and its session (the pane's `TMUX_PANE` set, as the pane's
    /// own commands have it). `here`: the command runs as the pane (`new`, `use`), which tells
    /// the publishing of its own pane's server even before the pane has a record.
    fn of(pane: &str, here: bool) -> Result<(Ctx, Session)> {
        let mut ctx = Ctx::new(Vec::new(), true, 0)?;
        ctx.env.set("TMUX_PANE", pane);
        if here {
            ctx.session()?;
        }
        let session = ctx.named_session(&format!("pane:{pane}"))?;
        Ok((ctx, session))
    }
}

impl keys::Panechat for InProcess {
    fn fork(&self, pane: &str, id: &str, last: Option<usize>) -> Result<()> {
        let (ctx, into) = InProcess::of(pane, false)?;
        let src = panechat::target::resolve_prefix(&ctx.store, id)?;
        let forked = panechat::query::fork(&ctx.store, &ctx.paths, &src, last, Some(&into))?;
        if let Some(e) = &forked.stale {
            ctx.log(
                "WARN",
                &format!("the fork is stored; derived files are stale: {e}"),
            );
        }
        let id = forked.summary.id;
        if let Some(e) = forked.not_activated {
            return Err(Error::Unfinished {
                message: format!(
                    "fork {id} is stored, but this pane could not be switched to it: {e}; run `panechat use {}`",
                    id.short()
                ),
                source: Box::new(e),
            });
        }
        ctx.publish(&id);
        Ok(())
    }

    fn new_conversation(&self, pane: &str) -> Result<()> {
        let (ctx, target) = InProcess::of(pane, true)?;
        ctx.store.ensure_dirs()?;
        mapping::detach(&ctx.paths, &target)?;
        ctx.publish_sessions(std::slice::from_ref(&target.key));
        Ok(())
    }

    fn use_conversation(&self, pane: &str, id: &str) -> Result<()> {
        let (ctx, target) = InProcess::of(pane, true)?;
        let id = panechat::target::resolve_prefix(&ctx.store, id)?;
        ctx.store.summary(&id)?;
        ctx.store.ensure_dirs()?;
        mapping::activate(&ctx.paths, &target, &id)?;
        ctx.publish(&id);
        Ok(())
    }

    fn seen(&self, pane: &str) -> Result<()> {
        let (ctx, target) = InProcess::of(pane, false)?;
        if panechat::agents::seen(&ctx.paths, &target.key)? {
            ctx.publish_sessions(std::slice::from_ref(&target.key));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_for_run_shell() {
        assert_eq!(
            quote_for_run_shell("/usr/bin/panechat"),
            "'/usr/bin/panechat'"
        );
        assert_eq!(
            quote_for_run_shell("/a b/it's #1 \"$x\"\\"),
            "'/a b/it'\\\\''s ##1 \\\"\\$x\\\"\\\\'"
        );
    }
}
