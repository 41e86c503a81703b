//! `panechat init TOOL`: prints ready-to-paste integration for a multiplexer or shell.
//!
//! Each snippet is a template under `core/templates/`, compiled into the binary, with
//! `{{panechat}}` replaced by this binary's path (shell-quoted for the tool that reads it).

use std::path::{Path, PathBuf};

use panechat::agent_setup::{self, Refusal};
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
    /// Claude Code's hooks (for ~/.claude/settings.json) that report its state into the pane.
    Claude,
    /// Codex's notify program (for ~/.codex/config.toml) that reports its turns into the pane.
    Codex,
}

/// `panechat init TOOL [--plugin URL]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// tmux, wezterm, zellij, bash, zsh, fish, claude or codex.
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
    /// claude, codex: add the configuration to the agent's own file
    /// ($CLAUDE_CONFIG_DIR/settings.json, default ~/.claude/settings.json;
    /// $CODEX_HOME/config.toml, default ~/.codex/config.toml) instead of printing it.
    #[arg(long, conflicts_with = "remove")]
    write: bool,
    /// claude, codex: take out of the agent's file what --write added.
    #[arg(long)]
    remove: bool,
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
        Tool::Claude => agent_setup::claude_snippet(&agent_setup::claude_command(&bin)),
        Tool::Codex => agent_setup::codex_snippet(&bin),
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
    let agent = matches!(args.tool, Tool::Claude | Tool::Codex);
    if (args.write || args.remove) && !agent {
        return Err(Error::BadArgument {
            message:
                "--write and --remove are for `panechat init claude` and `panechat init codex` only"
                    .into(),
        });
    }
    if args.write || args.remove {
        return agent_file(args.tool, args.remove, &Env::capture());
    }
    out(&render(args.tool, args.plugin.as_deref())?)?;
    if agent {
        let (file, flag) = match args.tool {
            Tool::Claude => ("~/.claude/settings.json", "claude"),
            _ => ("~/.codex/config.toml", "codex"),
        };
        eprintln!("panechat: merge this into {file}, or run `panechat init {flag} --write` (and `--remove` to take it out)");
    }
    Ok(0)
}

/// The agent's own configuration file: Claude Code's settings or Codex's config.
fn agent_config_file(tool: Tool, env: &Env) -> Result<PathBuf> {
    let (var, default, name) = match tool {
        Tool::Claude => ("CLAUDE_CONFIG_DIR", ".claude", "settings.json"),
        _ => ("CODEX_HOME", ".codex", "config.toml"),
    };
    let dir = match env.get_os(var).filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => env
            .get_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|h| PathBuf::from(h).join(default))
            .ok_or_else(|| Error::Unavailable {
                message: format!(
                    "neither {var} nor HOME is set: cannot tell where the agent's configuration is"
                ),
            })?,
    };
    Ok(dir.join(name))
}

/// `init claude|codex --write` (or `--remove`): edits the agent's file, keeping a backup of
/// what it replaces.
fn agent_file(tool: Tool, remove: bool, env: &Env) -> Result<i32> {
    let path = agent_config_file(tool, env)?;
    // A linked file (dotfiles) is edited where it lives.
    let target = match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(&path).map_err(|e| {
            let shown = panechat::adapters::integrations::shown_path(&path);
            let to = std::fs::read_link(&path)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            let why = match e.raw_os_error() {
                Some(libc::ELOOP) => "a loop of links".to_string(),
                _ if e.kind() == std::io::ErrorKind::NotFound => "which does not exist".into(),
                _ => e.to_string(),
            };
            Error::Unavailable {
                message: format!(
                    "{shown} is a link to {to}, {why}; nothing was changed: make the link lead to your settings file (an empty one will do), or remove it, then run this again"
                ),
            }
        })?,
        _ => path.clone(),
    };
    let shown = panechat::adapters::integrations::shown_path(&path);
    let text = match panechat::files::read_regular(&target) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Error::Unavailable {
                message: format!("cannot read {shown}: {e}; nothing was changed"),
            })
        }
    };
    // The file's permissions, kept by the new one (a file shared with a group stays so).
    let mode = text.as_ref().and_then(|_| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(&target)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    });
    let refused = |r: Refusal| Error::Unavailable {
        message: format!("{shown} {}", r.0),
    };
    let old = text.as_deref().unwrap_or("");
    let bin = exe();
    let mut chained = None;
    let new = match (tool, remove) {
        (Tool::Claude, false) => {
            agent_setup::claude_add(old, &agent_setup::claude_command(&bin)).map_err(refused)?
        }
        (Tool::Claude, true) => agent_setup::claude_remove(old).map_err(refused)?,
        (_, false) => agent_setup::codex_add(old, &bin)
            .map_err(refused)?
            .map(|a| {
                chained = a.chained;
                a.text
            }),
        (_, true) => agent_setup::codex_remove(old).map_err(refused)?,
    };
    let what = match tool {
        Tool::Claude => "panechat's hooks",
        _ => "panechat's notify program",
    };
    let Some(new) = new else {
        eprintln!(
            "panechat: {shown} {} {what}; nothing to do",
            if remove {
                "does not have"
            } else {
                "already has"
            }
        );
        return Ok(0);
    };
    let backup = match &text {
        Some(old) => Some(write_backup(&target, old)?),
        None => {
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            None
        }
    };
    // Another writer (Claude Code saving its settings, the user) may have changed the file
    // since it was read: its change is not overwritten with a merge of the older text.
    let unchanged = || match panechat::files::read_regular(&target) {
        Ok(t) => Some(t) == text,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound && text.is_none(),
    };
    if !panechat::store::atomic::replace_if_unchanged(&target, new.as_bytes(), true, &unchanged)? {
        return Err(Error::Unavailable {
            message: format!(
                "{shown} changed while panechat was editing it (or could not be read again); nothing was changed: run this again"
            ),
        });
    }
    if let Some(mode) = mode {
        // (written 0600 first: never readable by more than the old file was)
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(&target, e))?;
    }
    let verb = if remove { "took" } else { "added" };
    let prep = if remove { "out of" } else { "to" };
    let mut msg = format!("panechat: {verb} {what} {prep} {shown}");
    if let Some(b) = backup {
        msg.push_str(&format!(
            " (the previous file is kept as {})",
            panechat::adapters::integrations::shown_path(&b)
        ));
    }
    eprintln!("{msg}");
    if let Some(c) = chained {
        eprintln!(
            "panechat: your own notify program ({}) still gets every notice: panechat's hook passes it on (`--then`); `panechat init codex --remove` makes it the notify program again",
            panechat::title::sanitize_title(&c.join(" "))
        );
    }
    if !remove {
        eprintln!("panechat: agents started from now on report into their pane");
    }
    Ok(0)
}

/// Copies `old` (the file's text) to `<file>.panechat-backup` beside it.
fn write_backup(target: &Path, old: &str) -> Result<PathBuf> {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".panechat-backup");
    let backup = target.with_file_name(name);
    panechat::store::atomic::write_atomic(&backup, old.as_bytes())?;
    Ok(backup)
}
