//! `panechat init TOOL`: prints ready-to-paste integration for a multiplexer or shell.
//!
//! Each snippet is a template under `core/templates/`, compiled into the binary, with
//! `{{panechat}}` replaced by this binary's path (shell-quoted for the tool that reads it).

use panechat::env::Env;
use panechat::{Error, Result};

use super::output::out;

/// The tools `init` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tool {
    /// Lines for ~/.tmux.conf.
    Tmux,
    /// Lines for wezterm.lua.
    Wezterm,
    /// Lines for Zellij's config.kdl.
    Zellij,
    /// Lines for ~/.bashrc.
    Bash,
    /// Lines for ~/.zshrc.
    Zsh,
    /// Lines for fish's config.fish.
    Fish,
}

/// `panechat init TOOL [--plugin URL]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// tmux, wezterm, zellij, bash, zsh or fish.
    #[arg(value_enum)]
    tool: Tool,
    /// Zellij: where the plugin's .wasm lives (a `file:/abs/path.wasm` or `https://` URL);
    /// without it, the plugin this binary carries is written to
    /// `<Zellij config dir>/plugins/panechat.wasm`.
    /// WezTerm: a file to write the plugin to (loaded with `dofile` instead of `plugin.require`).
    #[arg(long, value_name = "URL")]
    plugin: Option<String>,
    /// tmux only: write the plugin carried in this binary and run its loader (what the line
    /// printed by `init tmux` does).
    #[arg(long, hide = true)]
    load: bool,
}

/// This binary's path, for the snippets (falls back to `panechat` on PATH).
fn exe() -> String {
    let p = panechat::env::this_binary();
    p.to_str().map_or_else(|| "panechat".into(), str::to_string)
}

/// Installs the plugin this binary carries at its default place for `init zellij` and returns
/// its `file:` URL: written when missing, replaced when it is panechat's plugin of another
/// build (an upgrade), replaced after asking when it is some other file.
fn install_zellij_plugin(env: &Env) -> Result<String> {
    use panechat::adapters::zellij_plugin::{self as plugin, Installed};
    let path = plugin::default_location(env).ok_or_else(|| {
        Error::Unavailable {
            message: "cannot tell where Zellij's configuration is (no $ZELLIJ_CONFIG_DIR, $XDG_CONFIG_HOME or $HOME); pass --plugin file:/path/panechat.wasm".into(),
        }
    })?;
    let shown = panechat::adapters::integrations::shown_path(&path);
    match plugin::installed(&path) {
        Installed::Current => {}
        Installed::Missing => {
            plugin::install(&path)?;
            eprintln!("panechat: wrote the Zellij plugin to {shown}");
        }
        Installed::Other { build } => {
            plugin::install(&path)?;
            eprintln!(
                "panechat: updated the Zellij plugin at {shown} (build {build} -> {}); restart Zellij, or run `zellij action start-or-reload-plugin panechat` in each session",
                plugin::carried_build()
            );
        }
        Installed::Foreign => {
            let about = format!("{shown} is not panechat's Zellij plugin.");
            let replace = super::ui::can_ask()
                && super::ui::confirm(&about, "Replace it with panechat's plugin?")? == Some(true);
            if !replace {
                return Err(Error::Unavailable {
                    message: format!(
                        "{shown} is a file that is not panechat's Zellij plugin; move it away, or pass --plugin file:/other/path/panechat.wasm to use a plugin you put elsewhere"
                    ),
                });
            }
            plugin::install(&path)?;
            eprintln!("panechat: wrote the Zellij plugin to {shown}");
        }
    }
    Ok(format!("file:{}", path.display()))
}

/// `s` as the inside of a KDL string (backslashes, quotes and controls escaped).
fn kdl_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Checks a `--plugin` URL: `file:/absolute/path`, `https://…`, `http://…` or `zellij:…`.
fn check_plugin_url(url: &str) -> Result<()> {
    let ok = match url.split_once(':') {
        Some(("file", rest)) => rest.starts_with('/') || rest.starts_with('~'),
        Some(("https" | "http", rest)) => rest.starts_with("//"),
        Some(("zellij", rest)) => !rest.is_empty(),
        _ => false,
    };
    if ok && !url.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(Error::BadArgument {
            message: format!(
                "`--plugin {url}` is not a plugin location Zellij loads; give `file:/absolute/path/panechat.wasm` or an `https://` URL"
            ),
        })
    }
}

/// Renders the snippet for `tool`.
pub fn render(tool: Tool, plugin: Option<&str>) -> Result<String> {
    if plugin.is_some() && !matches!(tool, Tool::Zellij | Tool::Wezterm) {
        return Err(Error::BadArgument {
            message: "`--plugin` is for `panechat init zellij` and `panechat init wezterm` only"
                .into(),
        });
    }
    let bin = exe();
    let text = match tool {
        Tool::Tmux => include_str!("../../templates/tmux.conf")
            .replace("{{panechat}}", &super::tmux_load::quote_for_run_shell(&bin)),
        Tool::Wezterm => wezterm(&bin, plugin)?,
        Tool::Zellij => {
            let url = match plugin {
                Some(u) => {
                    check_plugin_url(u)?;
                    u.to_string()
                }
                None => install_zellij_plugin(&Env::capture())?,
            };
            include_str!("../../templates/zellij.kdl")
                .replace("{{panechat}}", &kdl_escape(&bin))
                .replace("{{plugin}}", &kdl_escape(&url))
        }
        Tool::Bash => include_str!("../../templates/bash.sh").replace("{{panechat}}", &bin),
        Tool::Zsh => include_str!("../../templates/zsh.zsh").replace("{{panechat}}", &bin),
        Tool::Fish => include_str!("../../templates/fish.fish").replace("{{panechat}}", &bin),
    };
    Ok(text)
}

/// The WezTerm plugin, carried by the binary for `init wezterm --plugin FILE`.
pub const WEZTERM_PLUGIN: &str = panechat::adapters::wezterm::PLUGIN;

/// The project's repository, which `wezterm.plugin.require` clones.
const REPOSITORY: &str = "https://github.com/panechat/panechat";

/// A Lua string literal for `s`.
fn lua_quote(s: &str) -> String {
    let mut out = String::from("'");
    for b in s.bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('\'');
    out
}

/// Notes where `init wezterm --plugin` wrote the plugin, for `panechat doctor` to check it
/// after an upgrade (best effort: the snippet is what matters).
fn record_wezterm_file(path: &std::path::Path) {
    let Ok(paths) = panechat::paths::Paths::resolve(&Env::capture()) else {
        return;
    };
    if panechat::paths::ensure_dir(&paths.state).is_ok() {
        let record = panechat::adapters::integrations::wezterm_record(&paths.state);
        let _ = panechat::store::atomic::write_atomic(&record, path.to_string_lossy().as_bytes());
    }
}

/// The WezTerm lines: `plugin.require` of the repository, or (with `--plugin FILE`) the plugin
/// written to FILE and loaded with `dofile`.
fn wezterm(bin: &str, plugin: Option<&str>) -> Result<String> {
    let load = match plugin {
        None => format!("wezterm.plugin.require {}", lua_quote(REPOSITORY)),
        Some(file) => {
            let path = std::path::absolute(file).map_err(|e| panechat::Error::BadArgument {
                message: format!("--plugin {file}: not a usable path ({e})"),
            })?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| panechat::Error::io(dir, e))?;
            }
            panechat::store::atomic::write_atomic(&path, WEZTERM_PLUGIN.as_bytes())?;
            record_wezterm_file(&path);
            format!("dofile({})", lua_quote(&path.to_string_lossy()))
        }
    };
    Ok(include_str!("../../templates/wezterm.lua")
        .replace("{{load}}", &load)
        .replace("{{panechat_lua}}", &lua_quote(bin)))
}

/// Runs the command.
pub fn run(args: Args) -> Result<i32> {
    if args.load {
        if args.tool != Tool::Tmux {
            return Err(panechat::Error::BadArgument {
                message: "--load is for `panechat init tmux` only".into(),
            });
        }
        return super::tmux_load::load(&exe());
    }
    out(&render(args.tool, args.plugin.as_deref())?)?;
    Ok(0)
}
