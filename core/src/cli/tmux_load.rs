//! The tmux plugin, carried inside the binary: `panechat init tmux --load` loads it (TPM runs it
//! through `panechat.tmux`; `panechat init tmux` prints a `run-shell` line that runs it), and
//! `panechat tmux-plugin ACTION` does what its keys and tmux-resurrect hooks ask. What to tell
//! tmux is decided in [`panechat::adapters::tmux_plugin`], what the keys do in
//! [`panechat::adapters::tmux::keys`].

use panechat::adapters::exec::RealExec;
use panechat::adapters::tmux::keys;
use panechat::adapters::tmux_plugin::{self, Action};
use panechat::{Error, Result};

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
    /// resurrect save|restore
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
    keys::run(action, &RealExec)
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
