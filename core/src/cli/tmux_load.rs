//! The tmux plugin, carried inside the binary: `panechat init tmux --load` loads it (TPM runs it
//! through `panechat.tmux`; `panechat init tmux` prints a `run-shell` line that runs it), and
//! `panechat tmux-plugin ACTION` does what its keys and tmux-resurrect hooks ask. What to tell
//! tmux is decided in [`panechat::adapters::tmux_plugin`]; this module runs tmux and panechat.

use std::process::{Command, Stdio};

use panechat::adapters::tmux::{format_escape, RealTmux, Tmux};
use panechat::adapters::tmux_plugin::{self, Action, RESURRECT_FILE};
use panechat::env::Env;
use panechat::paths::Paths;
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

/// Runs `panechat ARGS` as the pane `pane` (run-shell gives no `TMUX_PANE`; the pane's tells
/// panechat which tmux it runs in); `Err` holds the first line of what it said on failure.
fn panechat_in(pane: &str, args: &[&str]) -> std::result::Result<(), String> {
    let out = Command::new(panechat::env::this_binary())
        .args(args)
        .env("TMUX_PANE", pane)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run panechat: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(err.lines().next().unwrap_or("failed").to_string())
}

/// Shows `msg` on the clients that show `pane` (not expanded as a format).
fn tell(tmux: &dyn Tmux, pane: &str, msg: &str) {
    tmux.run(&[
        "display-message".into(),
        "-t".into(),
        pane.into(),
        format_escape(msg),
    ]);
}

/// Runs `panechat tmux-plugin ACTION…`.
pub fn run(args: PluginArgs) -> Result<i32> {
    let action = Action::parse(&args.args).map_err(|message| Error::BadArgument { message })?;
    let tmux = RealTmux;
    match action {
        Action::Fork {
            split,
            keep,
            pick,
            pane,
            id,
        } => {
            if id.is_empty() {
                let how = if pick.is_empty() {
                    "give it one with panechat use ID".to_string()
                } else {
                    format!("pick one with the picker ({pick})")
                };
                tell(
                    &tmux,
                    &pane,
                    &format!("panechat: this pane has no conversation yet; ask something with panechat q, or {how}"),
                );
                return Ok(0);
            }
            let last = match keep.as_str() {
                "" | "all" => None,
                n if n.bytes().all(|b| b.is_ascii_digit())
                    && n.parse::<u64>().is_ok_and(|n| n > 0) =>
                {
                    Some(n.to_string())
                }
                _ => {
                    tell(
                        &tmux,
                        &pane,
                        &format!("panechat: @panechat-fork-keep must be a number of turns or empty (all), not '{keep}'"),
                    );
                    return Ok(0);
                }
            };
            let flag = if split == "v" { "-v" } else { "-h" };
            // -c is expanded by tmux against PANE, so any directory name works.
            let Some(new) = tmux.output(
                &[
                    "split-window",
                    flag,
                    "-t",
                    &pane,
                    "-c",
                    "#{pane_current_path}",
                    "-P",
                    "-F",
                    "#{pane_id}",
                ]
                .map(String::from),
            ) else {
                return Ok(0);
            };
            let new = new.trim();
            let session = format!("pane:{new}");
            let mut a = vec!["fork", id.as_str()];
            if let Some(n) = &last {
                a.extend(["--last", n.as_str()]);
            }
            a.extend(["--session", session.as_str()]);
            if let Err(e) = panechat_in(new, &a) {
                tell(
                    &tmux,
                    new,
                    &format!("panechat: {}", e.trim_start_matches("panechat: ")),
                );
            }
            Ok(0)
        }
        Action::New { pane } => {
            let session = format!("pane:{pane}");
            match panechat_in(&pane, &["new", "--session", &session]) {
                Ok(()) => tell(
                    &tmux,
                    &pane,
                    "panechat: the next question in this pane starts a new conversation",
                ),
                Err(e) => tell(
                    &tmux,
                    &pane,
                    &format!("panechat: {}", e.trim_start_matches("panechat: ")),
                ),
            }
            Ok(0)
        }
        Action::Pick {
            width,
            height,
            modern,
            pane,
            client,
        } => {
            let bin = panechat::env::this_binary();
            tmux.run(&tmux_plugin::pick_popup_args(
                &bin.to_string_lossy(),
                &width,
                &height,
                modern,
                &pane,
                &client,
            ));
            Ok(0)
        }
        Action::ResurrectSave => resurrect_save(&tmux),
        Action::ResurrectRestore => resurrect_restore(&tmux),
    }
}

/// The table tmux-resurrect support keeps: `@panechat-resurrect-file`, else beside the
/// conversations (under `$PANECHAT_HOME` when it is set, as panechat's own files are).
fn resurrect_file(tmux: &dyn Tmux) -> Result<std::path::PathBuf> {
    let set = tmux
        .output(&["show-option", "-gqv", RESURRECT_FILE.name].map(String::from))
        .map(|s| s.trim_end_matches('\n').to_string())
        .filter(|s| !s.is_empty());
    Ok(match set {
        // A table of the user's choosing may be a link (dotfiles): its target is the table.
        Some(f) => std::fs::canonicalize(&f).unwrap_or_else(|_| f.into()),
        None => Paths::resolve(&Env::capture())?
            .data
            .join("tmux-resurrect.tsv"),
    })
}

/// tmux gives panes new ids after a restart, so each pane's conversation is remembered by
/// session name, window index and pane index, from the pane options the core keeps current.
fn resurrect_save(tmux: &dyn Tmux) -> Result<i32> {
    let file = resurrect_file(tmux)?;
    let Some(list) = tmux.output(
        &[
            "list-panes",
            "-a",
            "-F",
            "#{session_name}\t#{window_index}\t#{pane_index}\t#{@panechat_id}",
        ]
        .map(String::from),
    ) else {
        return Ok(0);
    };
    let mut table = String::new();
    for line in list.lines() {
        if line.rsplit('\t').next().is_some_and(|id| !id.is_empty())
            && line.matches('\t').count() == 3
        {
            table.push_str(line);
            table.push('\n');
        }
    }
    if let Some(dir) = file.parent() {
        panechat::paths::ensure_dir(dir)?;
    }
    panechat::store::atomic::write_atomic(&file, table.as_bytes())?;
    Ok(0)
}

/// Gives each restored pane the conversation its place had.
fn resurrect_restore(tmux: &dyn Tmux) -> Result<i32> {
    let file = resurrect_file(tmux)?;
    // The user may keep the table anywhere, through a link too; only a regular file is read
    // (a FIFO would hang the hook).
    if !std::fs::metadata(&file).is_ok_and(|m| m.is_file()) {
        return Ok(0);
    }
    let Ok(table) = std::fs::read_to_string(&file) else {
        return Ok(0);
    };
    let Some(list) = tmux.output(
        &[
            "list-panes",
            "-a",
            "-F",
            "#{session_name}\t#{window_index}\t#{pane_index}\t#{pane_id}",
        ]
        .map(String::from),
    ) else {
        return Ok(0);
    };
    let place = |line: &str| {
        line.rsplit_once('\t')
            .map(|(p, last)| (p.to_string(), last.to_string()))
    };
    let panes: std::collections::HashMap<String, String> = list.lines().filter_map(place).collect();
    let mut failed = 0;
    for (at, id) in table.lines().filter_map(place) {
        let Some(pane) = panes.get(&at) else { continue };
        if id.is_empty() {
            continue;
        }
        let session = format!("pane:{pane}");
        if panechat_in(pane, &["use", &id, "--session", &session]).is_err() {
            failed += 1;
        }
    }
    if failed > 0 {
        tmux.run(&[
            "display-message".into(),
            format_escape(&format!(
                "panechat: {failed} pane(s) could not get their conversation back (see panechat ls)"
            )),
        ]);
    }
    Ok(0)
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
