//! What every adapter says about panes: which pane `--pane` names, how neighbours are found
//! from the panes' geometry, a pane's captured text, and whether a recorded pane still exists.

use crate::error::{Error, Result};
use crate::session::Multiplexer;

/// Which pane `--pane` means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// The pane the command runs in.
    Own,
    /// The neighbour to the left.
    Left,
    /// The neighbour to the right.
    Right,
    /// The neighbour above.
    Up,
    /// The neighbour below.
    Down,
    /// The previously active pane.
    Last,
    /// A pane id of the current multiplexer (`%3` or `3` in tmux, `terminal_3` or `3` in Zellij,
    /// `3` in WezTerm).
    Id(String),
}

impl Which {
    /// Parses the `--pane` argument (empty = this pane).
    pub fn parse(s: &str) -> Result<Which> {
        Ok(match s {
            "" | "self" | "this" => Which::Own,
            "left" => Which::Left,
            "right" => Which::Right,
            "up" => Which::Up,
            "down" => Which::Down,
            "last" => Which::Last,
            id if is_pane_id(id) => Which::Id(id.to_string()),
            other => {
                return Err(Error::BadArgument {
                    message: format!(
                        "`--pane {}` names no pane: use left, right, up, down, last, or a pane id (%3 in tmux, 3 or terminal_3 in Zellij, 3 in WezTerm); `--pane` alone means this pane",
                        crate::title::sanitize_title(other)
                    ),
                })
            }
        })
    }

    pub(crate) fn direction(&self) -> Option<Dir> {
        match self {
            Which::Left => Some(Dir::Left),
            Which::Right => Some(Dir::Right),
            Which::Up => Some(Dir::Up),
            Which::Down => Some(Dir::Down),
            _ => None,
        }
    }
}

pub(crate) fn is_pane_id(s: &str) -> bool {
    let digits = s
        .strip_prefix('%')
        .or_else(|| s.strip_prefix("terminal_"))
        .unwrap_or(s);
    !digits.is_empty() && digits.len() <= 10 && digits.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn digits_of(s: &str) -> &str {
    s.strip_prefix('%')
        .or_else(|| s.strip_prefix("terminal_"))
        .unwrap_or(s)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Left,
    Right,
    Up,
    Down,
}

/// A pane's rectangle in cells: columns `x0..x1`, rows `y0..y1` (ends exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rect {
    /// The pane's id.
    pub id: String,
    /// First column.
    pub x0: i64,
    /// First row.
    pub y0: i64,
    /// Column after the last.
    pub x1: i64,
    /// Row after the last.
    pub y1: i64,
    /// Whether it was the active pane before.
    pub last: bool,
}

/// The neighbour of `me` in direction `dir`: a pane whose facing edge lies within two cells
/// (borders, separators) and which overlaps `me` along the other axis; among several, the one
/// sharing the longest edge, then the top-most or left-most.
pub(crate) fn neighbour<'a>(me: &Rect, panes: &'a [Rect], dir: Dir) -> Option<&'a Rect> {
    let overlap = |a0: i64, a1: i64, b0: i64, b1: i64| (a1.min(b1) - a0.max(b0)).max(0);
    panes
        .iter()
        .filter(|p| p.id != me.id)
        .filter_map(|p| {
            let (gap, shared, order) = match dir {
                Dir::Left => (me.x0 - p.x1, overlap(me.y0, me.y1, p.y0, p.y1), p.y0),
                Dir::Right => (p.x0 - me.x1, overlap(me.y0, me.y1, p.y0, p.y1), p.y0),
                Dir::Up => (me.y0 - p.y1, overlap(me.x0, me.x1, p.x0, p.x1), p.x0),
                Dir::Down => (p.y0 - me.y1, overlap(me.x0, me.x1, p.x0, p.x1), p.x0),
            };
            ((0..=2).contains(&gap) && shared > 0).then_some((p, shared, order))
        })
        .max_by_key(|(_, shared, order)| (*shared, -*order))
        .map(|(p, _, _)| p)
}

/// Parses `tmux list-panes -F '#{pane_id} #{pane_left} #{pane_top} #{pane_right}
/// #{pane_bottom} #{pane_last}'` output (right and bottom inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneText {
    /// Which multiplexer.
    pub multiplexer: Multiplexer,
    /// The pane, as that multiplexer names it (`%3`, `terminal_3`, `3`).
    pub pane: String,
    /// Whether it is the pane the command runs in.
    pub own: bool,
    /// The raw text the tool printed.
    pub raw: String,
}

pub(crate) fn outside_error() -> Error {
    Error::Unavailable {
        message: "--pane needs a multiplexer pane (tmux, Zellij or WezTerm), and this command does not run in one; \
         pipe the text instead (`make 2>&1 | panechat q \"why did this fail?\"`) or attach a file with -f PATH"
            .into(),
    }
}

/// Captures the text of the pane `which` names, at most `lines` lines of screen and scrollback,
/// with the multiplexer the command runs in (innermost, when nested).
pub(crate) fn no_neighbour(which: &Which, own: &str, tool: &str) -> Error {
    Error::NotFound(format!(
        "there is no pane {} of {own} in this {tool} window; `--pane` alone takes this pane, or name a pane by its id",
        match which {
            Which::Left => "to the left",
            Which::Right => "to the right",
            Which::Up => "above",
            Which::Down => "below",
            _ => "before",
        }
    ))
}

/// What a check of a recorded pane found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// The pane exists (or cannot be gone).
    Alive,
    /// The pane is gone, and why.
    Gone(String),
    /// Cannot tell (kept).
    Unknown,
}
