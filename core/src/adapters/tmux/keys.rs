//! tmux: what the plugin's keys and tmux-resurrect hooks do (`panechat tmux-plugin ACTION…`):
//! fork a pane's conversation into a new split, start a new conversation, open the picker in a
//! popup, save and restore which pane had which conversation. panechat itself is run again as
//! the pane concerned (run-shell gives no `TMUX_PANE`), through the same [`Exec`].

use super::actions::{self, tell};
use super::format_escape;
use crate::adapters::exec::Exec;
use crate::adapters::tmux_plugin::{Action, RESURRECT_FILE};
use crate::env::Env;
use crate::error::Result;
use crate::paths::Paths;

/// Runs `panechat ARGS` as the pane `pane` (run-shell gives no `TMUX_PANE`; the pane's tells
/// panechat which tmux it runs in); `Err` holds the first line of what it said on failure.
fn panechat_in(exec: &dyn Exec, pane: &str, args: &[&str]) -> std::result::Result<(), String> {
    let mut argv = vec![crate::env::this_binary().to_string_lossy().into_owned()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let out = exec
        .run(&argv, &[("TMUX_PANE".into(), pane.into())])
        .map_err(|e| format!("cannot run panechat: {e}"))?;
    if out.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(err.lines().next().unwrap_or("failed").to_string())
}

/// Does what a key or a tmux-resurrect hook asked (`panechat tmux-plugin ACTION…`).
pub fn run(action: Action, exec: &dyn Exec) -> Result<i32> {
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
                    exec,
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
                        exec,
                        &pane,
                        &format!("panechat: @panechat-fork-keep must be a number of turns or empty (all), not '{keep}'"),
                    );
                    return Ok(0);
                }
            };
            let Ok(new) = actions::split(exec, &pane, split == "v") else {
                return Ok(0);
            };
            let new = new.as_str();
            let session = format!("pane:{new}");
            let mut a = vec!["fork", id.as_str()];
            if let Some(n) = &last {
                a.extend(["--last", n.as_str()]);
            }
            a.extend(["--session", session.as_str()]);
            if let Err(e) = panechat_in(exec, new, &a) {
                tell(
                    exec,
                    new,
                    &format!("panechat: {}", e.trim_start_matches("panechat: ")),
                );
            }
            Ok(0)
        }
        Action::New { pane } => {
            let session = format!("pane:{pane}");
            match panechat_in(exec, &pane, &["new", "--session", &session]) {
                Ok(()) => tell(
                    exec,
                    &pane,
                    "panechat: the next question in this pane starts a new conversation",
                ),
                Err(e) => tell(
                    exec,
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
            let bin = crate::env::this_binary();
            super::status(
                exec,
                &crate::adapters::tmux_plugin::pick_popup_args(
                    &bin.to_string_lossy(),
                    &width,
                    &height,
                    modern,
                    &pane,
                    &client,
                ),
            );
            Ok(0)
        }
        Action::ResurrectSave => resurrect_save(exec),
        Action::ResurrectRestore => resurrect_restore(exec),
    }
}

/// The table tmux-resurrect support keeps: `@panechat-resurrect-file`, else beside the
/// conversations (under `$PANECHAT_HOME` when it is set, as panechat's own files are).
fn resurrect_file(exec: &dyn Exec) -> Result<std::path::PathBuf> {
    let set = super::output(
        exec,
        &["show-option", "-gqv", RESURRECT_FILE.name].map(String::from),
    )
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
fn resurrect_save(exec: &dyn Exec) -> Result<i32> {
    let file = resurrect_file(exec)?;
    let Some(list) = super::output(
        exec,
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
        crate::paths::ensure_dir(dir)?;
    }
    crate::store::atomic::write_atomic(&file, table.as_bytes())?;
    Ok(0)
}

/// Gives each restored pane the conversation its place had.
fn resurrect_restore(exec: &dyn Exec) -> Result<i32> {
    let file = resurrect_file(exec)?;
    // The user may keep the table anywhere, through a link too; only a regular file is read
    // (a FIFO would hang the hook).
    if !std::fs::metadata(&file).is_ok_and(|m| m.is_file()) {
        return Ok(0);
    }
    let Ok(table) = std::fs::read_to_string(&file) else {
        return Ok(0);
    };
    let Some(list) = super::output(
        exec,
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
        if panechat_in(exec, pane, &["use", &id, "--session", &session]).is_err() {
            failed += 1;
        }
    }
    if failed > 0 {
        super::status(
            exec,
            &[
                "display-message".into(),
                format_escape(&format!(
                "panechat: {failed} pane(s) could not get their conversation back (see panechat ls)"
            )),
            ],
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::exec::Recorder;

    fn fork(keep: &str, id: &str) -> Action {
        Action::Fork {
            split: "v".into(),
            keep: keep.into(),
            pick: "prefix + P".into(),
            pane: "%3".into(),
            id: id.into(),
        }
    }

    #[test]
    fn a_fork_key_splits_the_pane_and_forks_into_the_new_one() {
        let r = Recorder::new(&["%9\n"]);
        assert_eq!(run(fork("2", "01m7yd5d6e4q2r8kzz"), &r).unwrap(), 0);
        let calls = r.calls.borrow();
        assert_eq!(calls[0][..4], ["tmux", "split-window", "-v", "-t"]);
        assert_eq!(calls[1][0], "TMUX_PANE=%9");
        assert_eq!(
            calls[1][2..],
            [
                "fork",
                "01m7yd5d6e4q2r8kzz",
                "--last",
                "2",
                "--session",
                "pane:%9"
            ]
        );
        assert_eq!(calls.len(), 2);
    }

    #[test]
    fn a_fork_key_without_a_conversation_or_with_a_bad_keep_only_says_so() {
        for (keep, id, says) in [
            ("", "", "pick one with the picker (prefix + P)"),
            ("x", "01m7yd5d6e4q2r8kzz", "not 'x'"),
        ] {
            let r = Recorder::default();
            assert_eq!(run(fork(keep, id), &r).unwrap(), 0);
            let calls = r.calls.borrow();
            assert_eq!(calls.len(), 1, "{calls:?}");
            assert_eq!(calls[0][..4], ["tmux", "display-message", "-t", "%3"]);
            assert!(calls[0][4].contains(says), "{:?}", calls[0]);
        }
    }
}
