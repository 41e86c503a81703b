//! `panechat plugin-check PLUGIN BUILD`: whether a plugin (its build as it names it) is the one
//! this binary carries; what the WezTerm plugin asks when its picker first opens.

use panechat::{Error, Result};

/// `panechat plugin-check PLUGIN BUILD`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// `wezterm` or `zellij`.
    plugin: String,
    /// The plugin's build, as it names it.
    build: String,
}

/// Exit 0 when `build` is the carried plugin's; 1 with what to do when it is not.
pub fn run(args: Args) -> Result<i32> {
    let Some((carried, fix)) = panechat::adapters::integrations::carried(&args.plugin) else {
        return Err(Error::BadArgument {
            message: format!(
                "plugin-check knows the wezterm and zellij plugins, not `{}`",
                panechat::title::sanitize_title(&args.plugin)
            ),
        });
    };
    if args.build == carried {
        return Ok(0);
    }
    eprintln!(
        "panechat: this {} plugin (build {}) is not the one this panechat carries (build {carried}): {fix}",
        args.plugin,
        panechat::title::sanitize_title(&args.build)
    );
    Ok(1)
}
