//! tmux: what the plugin's keys and tmux-resurrect hooks do (`panechat tmux-plugin ACTION…`):
//! fork a pane's conversation into a new split, start a new conversation, open the picker in a
//! popup, save and restore which pane had which conversation. What panechat itself does for a
//! pane (fork, new, use) is done in the same process through [`Panechat`]: one key press runs
//! panechat once.

use super::actions::{self, tell};
use super::format_escape;
use crate::adapters::exec::Exec;
use crate::adapters::tmux_plugin::{Action, RESURRECT_FILE};
use crate::env::Env;
use crate::error::Result;
use crate::paths::Paths;

/// What the keys ask of panechat for a pane, done in the calling process (run-shell gives no
/// `TMUX_PANE`: each call names the pane). The binary implements it with the library.
pub trait Panechat {
    /// `panechat fork ID [--last N] --session pane:PANE`, nothing printed.
    fn fork(&self, pane: &str, id: &str, last: Option<usize>) -> Result<()>;
    /// `panechat new --session pane:PANE`, nothing printed.
    fn new_conversation(&self, pane: &str) -> Result<()>;
    /// `panechat use ID --session pane:PANE`, nothing printed.
    fn use_conversation(&self, pane: &str, id: &str) -> Result<()>;
    /// The pane was focused: its agent, when done, is now idle (and the pane's state is
    /// published).
    fn seen(&self, pane: &str) -> Result<()>;
}

/// The pane to go to from `pane`: the first after it (in the order of `panes`, every pane of
/// the server as [`Action::Next`] lists them, wrapping around) whose agent needs you, other
/// than `pane` itself. A window linked in several sessions lists its panes again: the first
/// place counts.
pub fn next_needing_you(pane: &str, panes: &[String]) -> Option<String> {
    let mut seen: Vec<(&str, bool)> = Vec::new();
    for p in panes {
        let (id, needs) = match p.strip_suffix('!') {
            Some(id) => (id, true),
            None => (p.as_str(), false),
        };
        if !id.starts_with('%') || seen.iter().any(|(s, _)| *s == id) {
            continue;
        }
        seen.push((id, needs));
    }
    let at = seen
        .iter()
        .position(|(id, _)| *id == pane)
        .unwrap_or(seen.len());
    seen[at.min(seen.len())..]
        .iter()
        .chain(seen[..at.min(seen.len())].iter())
        .find(|(id, needs)| *needs && *id != pane)
        .map(|(id, _)| id.to_string())
}

/// An error for a pane's message line: `panechat: …`, once.
fn said(e: &crate::Error) -> String {
    format!(
        "panechat: {}",
        e.to_string().trim_start_matches("panechat: ")
    )
}

/// Does what a key or a tmux-resurrect hook asked (`panechat tmux-plugin ACTION…`).
pub fn run(action: Action, exec: &dyn Exec, panechat: &dyn Panechat) -> Result<i32> {
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
                    && n.parse::<usize>().is_ok_and(|n| n > 0) =>
                {
                    n.parse::<usize>().ok()
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
            if let Err(e) = panechat.fork(&new, &id, last) {
                tell(exec, &new, &said(&e));
            }
            Ok(0)
        }
        Action::New { pane } => {
            match panechat.new_conversation(&pane) {
                Ok(()) => tell(
                    exec,
                    &pane,
                    "panechat: the next question in this pane starts a new conversation",
                ),
                Err(e) => tell(exec, &pane, &said(&e)),
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
        Action::Next {
            client,
            pane,
            panes,
        } => {
            match next_needing_you(&pane, &panes) {
                Some(to) => {
                    if let Err(e) = actions::switch_to(exec, Some(&client), &to) {
                        tell(exec, &pane, &format!("panechat: {e}"));
                    }
                }
                None => tell(exec, &pane, "panechat: no other pane's agent needs you"),
            }
            Ok(0)
        }
        Action::Seen { pane } => {
            if let Err(e) = panechat.seen(&pane) {
                tell(exec, &pane, &said(&e));
            }
            Ok(0)
        }
        Action::ResurrectSave => resurrect_save(exec),
        Action::ResurrectRestore => resurrect_restore(exec, panechat),
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
fn resurrect_restore(exec: &dyn Exec, panechat: &dyn Panechat) -> Result<i32> {
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
        if panechat.use_conversation(pane, &id).is_err() {
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
    use std::cell::RefCell;

    /// Records what the keys asked of panechat.
    #[derive(Default)]
    struct Asked(RefCell<Vec<String>>);

    impl Panechat for Asked {
        fn fork(&self, pane: &str, id: &str, last: Option<usize>) -> Result<()> {
            self.0
                .borrow_mut()
                .push(format!("fork {pane} {id} {last:?}"));
            Ok(())
        }
        fn new_conversation(&self, pane: &str) -> Result<()> {
            self.0.borrow_mut().push(format!("new {pane}"));
            Ok(())
        }
        fn use_conversation(&self, pane: &str, id: &str) -> Result<()> {
            self.0.borrow_mut().push(format!("use {pane} {id}"));
            Ok(())
        }
        fn seen(&self, pane: &str) -> Result<()> {
            self.0.borrow_mut().push(format!("seen {pane}"));
            Ok(())
        }
    }

    #[test]
    fn the_next_key_goes_to_the_next_pane_needing_you_wrapping_around() {
        let v = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let panes = v("%0 %1! %2 %3! %4 %1! ");
        assert_eq!(next_needing_you("%0", &panes).as_deref(), Some("%1"));
        assert_eq!(next_needing_you("%1", &panes).as_deref(), Some("%3"));
        assert_eq!(next_needing_you("%2", &panes).as_deref(), Some("%3"));
        assert_eq!(next_needing_you("%4", &panes).as_deref(), Some("%1"));
        assert_eq!(next_needing_you("%9", &panes).as_deref(), Some("%1"));
        assert_eq!(next_needing_you("%1", &v("%0 %1!")), None, "only itself");
        assert_eq!(next_needing_you("%0", &v("%0 %1")), None);
        assert_eq!(next_needing_you("%0", &[]), None);
        // One tmux call: the switch of the client that pressed the key.
        let r = Recorder::default();
        let asked = Asked::default();
        let next = Action::Next {
            client: "/dev/pts/4".into(),
            pane: "%0".into(),
            panes,
        };
        assert_eq!(run(next, &r, &asked).unwrap(), 0);
        assert_eq!(
            r.calls.borrow().as_slice(),
            [["tmux", "switch-client", "-c", "/dev/pts/4", "-t", "%1"]]
        );
        let r = Recorder::default();
        let none = Action::Next {
            client: "c".into(),
            pane: "%0".into(),
            panes: v("%0"),
        };
        run(none, &r, &asked).unwrap();
        assert_eq!(r.calls.borrow()[0][1], "display-message");
        run(Action::Seen { pane: "%5".into() }, &r, &asked).unwrap();
        assert_eq!(asked.0.borrow().as_slice(), ["seen %5"]);
    }

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
        let asked = Asked::default();
        assert_eq!(run(fork("2", "01m7yd5d6e4q2r8kzz"), &r, &asked).unwrap(), 0);
        let calls = r.calls.borrow();
        assert_eq!(calls[0][..4], ["tmux", "split-window", "-v", "-t"]);
        // The fork is made in this process: no second panechat runs.
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(
            asked.0.borrow().as_slice(),
            ["fork %9 01m7yd5d6e4q2r8kzz Some(2)"]
        );
    }

    #[test]
    fn a_fork_key_without_a_conversation_or_with_a_bad_keep_only_says_so() {
        for (keep, id, says) in [
            ("", "", "pick one with the picker (prefix + P)"),
            ("x", "01m7yd5d6e4q2r8kzz", "not 'x'"),
        ] {
            let r = Recorder::default();
            let asked = Asked::default();
            assert_eq!(run(fork(keep, id), &r, &asked).unwrap(), 0);
            assert!(asked.0.borrow().is_empty());
            let calls = r.calls.borrow();
            assert_eq!(calls.len(), 1, "{calls:?}");
            assert_eq!(calls[0][..4], ["tmux", "display-message", "-t", "%3"]);
            assert!(calls[0][4].contains(says), "{:?}", calls[0]);
        }
    }
}
