//! tmux: a pane's text (`capture-pane -p -J -S -N -t PANE`, wrapped lines joined), its
//! neighbours from the geometry `list-panes` reports (the focus does not move), and the
//! selection a copy-mode key left in a paste buffer.

use crate::adapters::exec::Exec;
use crate::adapters::pane::{
    digits_of, neighbour, no_neighbour, outside_error, PaneText, Rect, Which,
};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::session::Multiplexer;

/// Parses `tmux list-panes -F '#{pane_id} #{pane_left} #{pane_top} #{pane_right}
/// #{pane_bottom} #{pane_last}'` output (right and bottom inclusive).
pub(crate) fn parse_tmux_panes(out: &str) -> Vec<Rect> {
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 6 {
                return None;
            }
            let n = |i: usize| f[i].parse::<i64>().ok();
            Some(Rect {
                id: f[0].to_string(),
                x0: n(1)?,
                y0: n(2)?,
                x1: n(3)? + 1,
                y1: n(4)? + 1,
                last: f[5] == "1",
            })
        })
        .collect()
}

/// Captures the text of the tmux pane `which` names, at most `lines` lines (see
/// [`crate::context::capture_pane`]).
pub fn capture(env: &Env, exec: &dyn Exec, which: &Which, lines: usize) -> Result<PaneText> {
    let own = env.get("TMUX_PANE").unwrap_or_default().to_string();
    let pane = match which {
        Which::Own if own.is_empty() => return Err(outside_error()),
        Which::Own => own.clone(),
        Which::Id(id) => format!("%{}", digits_of(id)),
        _ => {
            if own.is_empty() {
                return Err(outside_error());
            }
            let listing = super::run(
                exec,
                vec![
                    "list-panes".into(),
                    "-t".into(),
                    own.clone(),
                    "-F".into(),
                    "#{pane_id} #{pane_left} #{pane_top} #{pane_right} #{pane_bottom} #{pane_last}"
                        .into(),
                ],
                "list the panes of this window",
            )?;
            let panes = parse_tmux_panes(&listing);
            let me = panes
                .iter()
                .find(|p| p.id == own)
                .ok_or_else(|| Error::NotFound(format!("tmux does not list this pane ({own})")))?;
            let found = match which.direction() {
                Some(d) => neighbour(me, &panes, d),
                None => panes.iter().find(|p| p.last && p.id != own),
            };
            found
                .ok_or_else(|| no_neighbour(which, &own, "tmux"))?
                .id
                .clone()
        }
    };
    let raw = super::run(
        exec,
        vec![
            "capture-pane".into(),
            "-p".into(),
            "-J".into(),
            "-S".into(),
            format!("-{lines}"),
            "-t".into(),
            pane.clone(),
        ],
        &format!("capture pane {pane}"),
    )?;
    Ok(PaneText {
        multiplexer: Multiplexer::Tmux,
        own: pane == own,
        pane,
        raw,
    })
}

/// The prefix of the tmux paste buffers a copy-mode binding fills for `--selection`
/// (`send -X copy-selection-and-cancel panechat-selection` names them `panechat-selectionN`).
pub const SELECTION_BUFFER_PREFIX: &str = "panechat-selection";

/// Takes the selection a tmux copy-mode binding copied for pane `pane`: the newest paste buffer
/// named [`SELECTION_BUFFER_PREFIX`]`N`, deleted once read (the user's own buffers are left
/// alone). Returns its text and its label (`selection tmux %3`).
pub fn take_selection(env: &Env, exec: &dyn Exec, pane: Option<&str>) -> Result<(String, String)> {
    if env.get("TMUX").is_none() {
        return Err(Error::Unavailable {
            message: "--selection takes what a tmux copy-mode key copied, and this command does not run inside tmux; \
             pipe the text instead (`… | panechat q \"question\"`) or attach a file with -f PATH"
                .into(),
        });
    }
    // Newest first.
    let names = super::run(
        exec,
        vec!["list-buffers".into(), "-F".into(), "#{buffer_name}".into()],
        "list the paste buffers",
    )?;
    let name = names
        .lines()
        .find(|n| {
            n.strip_prefix(SELECTION_BUFFER_PREFIX)
                .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
        })
        .ok_or_else(|| {
            Error::NotFound(
                "no selection to attach: select text in copy mode, then press panechat's ask key there (see docs/tmux.md)".into(),
            )
        })?
        .to_string();
    let raw = super::run(
        exec,
        vec!["show-buffer".into(), "-b".into(), name.clone()],
        "read the selection",
    );
    // Deleted whatever happened, so a stale selection is never attached to a later question.
    let _ = exec.run(&super::argv(&["delete-buffer", "-b", &name]), &[]);
    let raw = raw?;
    let source = match pane {
        Some(p) => format!("selection tmux %{}", digits_of(p)),
        None => "selection tmux".to_string(),
    };
    Ok((raw, source))
}
