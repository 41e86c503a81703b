//! Context attached to a question: the text of a pane, piped input, files.
//!
//! Every attachment goes through the same steps before it is stored or sent:
//! 1. **capture** — a pane's text with its multiplexer's own tool ([`capture_pane`]): tmux
//!    `capture-pane -p -J -S -N -t PANE` (wrapped lines joined), Zellij
//!    `zellij action dump-screen --pane-id terminal_N --full`, WezTerm
//!    `wezterm cli get-text --pane-id N --start-line -N`. Neighbours (`left`, `right`, `up`,
//!    `down`, `last`) are found without moving the focus: from the pane geometry that
//!    `tmux list-panes` and `zellij action list-panes --json` report, and with
//!    `wezterm cli get-pane-direction`. Every program is run through a [`Runner`], so tests
//!    record the exact argv.
//! 2. **clean** ([`clean`]) — ANSI CSI/OSC/DCS/APC sequences, other escapes, C0 and C1
//!    controls removed (tabs and newlines kept; a carriage return keeps what was written after
//!    it, a backspace erases), trailing blanks of each line and blank lines at both ends
//!    trimmed. For the pane the command runs in, the command line that asked is dropped when it
//!    is on the screen ([`drop_asking_line`]).
//! 3. **cap** ([`cap`]) — beyond `context.max_bytes` the text is cut at a line boundary with a
//!    visible marker saying how much was left out (the end of a pane or piped output is kept,
//!    the start of a file).
//! 4. **redact** ([`redact`]) — strings that look like secrets (API keys and tokens of the
//!    common services known by their prefix, AWS secret keys by their assignment, credential
//!    headers such as `Authorization:` and `Cookie:`, passwords in URLs, JWTs, PEM private-key
//!    blocks; see the `redact` module) are replaced by `[REDACTED …]` and counted, unless
//!    `context.redact = false`.
//!
//! The result is an [`Attachment`]: a label saying where the text came from
//! (`pane tmux %3, 120 lines`, `stdin`, `file src/main.rs`) and the text itself.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::session::{innermost_multiplexer, Multiplexer};

pub use crate::model::{human_bytes, joined_content, Attachment, Limits};

/// An attachment with what happened to it on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The attachment.
    pub attachment: Attachment,
    /// How many secrets were masked.
    pub redacted: usize,
    /// Whether it was cut at `context.max_bytes`.
    pub truncated: bool,
}

/// Which end of a long text to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The start (files).
    Head,
    /// The end (panes, piped output: errors come last).
    Tail,
}

/// Cleans, caps and redacts `raw` into an attachment labelled `source`.
pub fn prepare(source: String, raw: &str, keep: Keep, limits: Limits) -> Prepared {
    let cleaned = clean(raw);
    finish(source, cleaned, keep, limits, 0)
}

fn finish(source: String, cleaned: String, keep: Keep, limits: Limits, unread: u64) -> Prepared {
    let (text, truncated) = cap_counting(&cleaned, limits.max_bytes, keep, unread);
    let (text, redacted) = if limits.redact {
        redact(&text)
    } else {
        (text, 0)
    };
    Prepared {
        attachment: Attachment { source, text },
        redacted,
        truncated,
    }
}

// ---------------------------------------------------------------------------------------------
// Cleaning

/// Removes terminal control sequences and controls from `raw` (see the module docs).
pub fn clean(raw: &str) -> String {
    #[derive(PartialEq)]
    enum St {
        Text,
        Esc,
        EscInter,
        Csi,
        Str,
        StrEsc,
    }
    let mut out = String::with_capacity(raw.len());
    let mut line_start = 0usize;
    let mut st = St::Text;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match st {
            St::Text => match c {
                '\x1b' => st = St::Esc,
                '\u{9b}' => st = St::Csi,
                '\u{90}' | '\u{9d}' | '\u{9e}' | '\u{9f}' | '\u{98}' => st = St::Str,
                '\n' => {
                    out.push('\n');
                    line_start = out.len();
                }
                '\t' => out.push('\t'),
                '\r' => {
                    if chars.peek() == Some(&'\n') {
                        continue;
                    }
                    // What follows overwrites the line (progress bars): keep the last version,
                    // unless nothing follows on this line.
                    let rest_is_eol = matches!(chars.peek(), None | Some('\r'));
                    if !rest_is_eol {
                        out.truncate(line_start);
                    }
                }
                '\x08' => {
                    if out.len() > line_start {
                        out.pop();
                    }
                }
                c if (c as u32) < 0x20 || c == '\x7f' || ('\u{80}'..='\u{9f}').contains(&c) => {}
                c => out.push(c),
            },
            St::Esc => {
                st = match c {
                    '[' => St::Csi,
                    ']' | 'P' | '_' | '^' | 'X' => St::Str,
                    ' '..='/' => St::EscInter,
                    _ => St::Text,
                }
            }
            St::EscInter => {
                if !(' '..='/').contains(&c) {
                    st = St::Text;
                }
            }
            St::Csi => {
                if ('\x40'..='\x7e').contains(&c) {
                    st = St::Text;
                } else if !(' '..='?').contains(&c) {
                    // Malformed: drop the sequence and keep the character if it is text.
                    st = St::Text;
                    if c == '\n' {
                        out.push('\n');
                        line_start = out.len();
                    }
                }
            }
            St::Str => match c {
                '\x07' | '\u{9c}' => st = St::Text,
                '\x1b' => st = St::StrEsc,
                _ => {}
            },
            St::StrEsc => {
                st = if c == '\\' { St::Text } else { St::Str };
            }
        }
    }
    trim_lines(&out)
}

/// Trailing blanks of each line removed, blank lines at both ends dropped.
fn trim_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.split('\n') {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.trim_end_matches('\n')
        .trim_start_matches('\n')
        .to_string()
}

/// Drops the command line that asked from the captured text of the pane the command runs in:
/// the last line among the last three that mentions `name` (the program as invoked) or shows
/// the start of `message` as a command's argument (the question as typed, when it has 3
/// characters or more: what a shell function or an alias was given), and everything after it.
/// An argument follows a command word: something before it on the line, then a blank or a
/// quote, and not a diagnostic's `file:line: ` prefix, so output that the question quotes (an
/// error pasted into it) is not taken for the command line. When no line asks, the command line
/// is not on the screen (`clear; echo x; panechat q --pane`, a script, a key binding) and
/// nothing is dropped: the last line is output the person sees.
pub fn drop_asking_line(text: &str, name: &str, message: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let probe: String = message.trim().chars().take(16).collect();
    let as_argument = |line: &str| {
        line.match_indices(probe.as_str()).any(|(at, _)| {
            let before = line[..at].trim_end_matches(['\'', '"']);
            let words = before.trim_end();
            // (a blank between the command word and the argument, quotes aside)
            before.len() > words.len() && !words.is_empty() && !words.ends_with(':')
        })
    };
    let asks = |line: &str| {
        (!name.is_empty() && line.contains(name))
            || (probe.chars().count() >= 3 && as_argument(line))
    };
    let from = lines.len().saturating_sub(3);
    match (from..lines.len()).rev().find(|&i| asks(lines[i])) {
        Some(cut) => trim_lines(&lines[..cut].join("\n")),
        None => text.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Capping

fn cut_marker(bytes: u64, max: usize) -> String {
    format!(
        "[… {} cut here: context.max_bytes is {max} …]",
        human_bytes(bytes)
    )
}

/// Cuts `text` to at most about `max` bytes at a line boundary, keeping its start or end, with a
/// marker line where text was left out. Returns the text and whether it was cut.
pub fn cap(text: &str, max: usize, keep: Keep) -> (String, bool) {
    cap_counting(text, max, keep, 0)
}

/// [`cap`], for a text of which `unread` more bytes were never read (at the end for
/// [`Keep::Head`], at the start for [`Keep::Tail`]): the marker counts them too.
fn cap_counting(text: &str, max: usize, keep: Keep, unread: u64) -> (String, bool) {
    if text.len() <= max && unread == 0 {
        return (text.to_string(), false);
    }
    match keep {
        Keep::Head => {
            let mut end = max.min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            if end < text.len() {
                if let Some(nl) = text[..end].rfind('\n') {
                    end = nl;
                }
            }
            let cut = (text.len() - end) as u64 + unread;
            (format!("{}\n{}", &text[..end], cut_marker(cut, max)), true)
        }
        Keep::Tail => {
            let mut start = text.len().saturating_sub(max);
            while !text.is_char_boundary(start) {
                start += 1;
            }
            if start > 0 {
                if let Some(nl) = text[start..].find('\n') {
                    start += nl + 1;
                }
            }
            let cut = start as u64 + unread;
            (
                format!("{}\n{}", cut_marker(cut, max), &text[start..]),
                true,
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Redaction

mod redact;
pub use redact::redact;

// ---------------------------------------------------------------------------------------------
// Running the multiplexers' tools

/// What a program printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOutput {
    /// Exit status (`None` when killed by a signal).
    pub status: Option<i32>,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

/// Runs a program with an argv (never a shell); tests substitute a recorder.
pub trait Runner {
    /// Runs `program ARGS…` to completion.
    fn run(&self, program: &str, args: &[String]) -> std::io::Result<RunOutput>;

    /// Starts `program ARGS…` (a command that keeps printing, such as `zellij subscribe`),
    /// returns the first line it prints within `wait` and stops it. `None` when it printed no
    /// line in time or ended first.
    fn first_line(
        &self,
        program: &str,
        args: &[String],
        _wait: Duration,
    ) -> std::io::Result<Option<String>> {
        // (this default runs it to its end: for runners whose programs end by themselves)
        let out = self.run(program, args)?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .map(str::to_string))
    }
}

/// Runs the real programs.
#[derive(Debug, Default)]
pub struct RealRunner;

impl Runner for RealRunner {
    fn run(&self, program: &str, args: &[String]) -> std::io::Result<RunOutput> {
        let out = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        Ok(RunOutput {
            status: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    fn first_line(
        &self,
        program: &str,
        args: &[String],
        wait: Duration,
    ) -> std::io::Result<Option<String>> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().expect("a piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let got = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
                .ok()
                .filter(|n| *n > 0 && line.ends_with('\n'))
                .map(|_| line.trim_end_matches('\n').to_string());
            let _ = tx.send(got);
        });
        let line = rx.recv_timeout(wait).ok().flatten();
        let _ = child.kill();
        let _ = child.wait();
        Ok(line)
    }
}

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

    fn direction(&self) -> Option<Dir> {
        match self {
            Which::Left => Some(Dir::Left),
            Which::Right => Some(Dir::Right),
            Which::Up => Some(Dir::Up),
            Which::Down => Some(Dir::Down),
            _ => None,
        }
    }
}

fn is_pane_id(s: &str) -> bool {
    let digits = s
        .strip_prefix('%')
        .or_else(|| s.strip_prefix("terminal_"))
        .unwrap_or(s);
    !digits.is_empty() && digits.len() <= 10 && digits.bytes().all(|b| b.is_ascii_digit())
}

fn digits_of(s: &str) -> &str {
    s.strip_prefix('%')
        .or_else(|| s.strip_prefix("terminal_"))
        .unwrap_or(s)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Left,
    Right,
    Up,
    Down,
}

/// A pane's rectangle in cells: columns `x0..x1`, rows `y0..y1` (ends exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rect {
    id: String,
    x0: i64,
    y0: i64,
    x1: i64,
    y1: i64,
    last: bool,
}

/// The neighbour of `me` in direction `dir`: a pane whose facing edge lies within two cells
/// (borders, separators) and which overlaps `me` along the other axis; among several, the one
/// sharing the longest edge, then the top-most or left-most.
fn neighbour<'a>(me: &Rect, panes: &'a [Rect], dir: Dir) -> Option<&'a Rect> {
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
fn parse_tmux_panes(out: &str) -> Vec<Rect> {
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

/// Parses `zellij action list-panes --json --all`: the visible tiled terminal panes of the tab
/// that holds terminal pane `own`.
fn parse_zellij_panes(out: &str, own: &str) -> Result<Vec<Rect>> {
    let v: serde_json::Value = serde_json::from_str(out).map_err(|e| Error::ToolFailed {
        message: format!("cannot read `zellij action list-panes --json`: {e}"),
        source: Some(Box::new(e)),
    })?;
    let items = v.as_array().cloned().unwrap_or_default();
    let field = |p: &serde_json::Value, k: &str| p.get(k).and_then(|x| x.as_i64());
    let is_term = |p: &serde_json::Value| {
        !p.get("is_plugin")
            .and_then(|x| x.as_bool())
            .unwrap_or(false)
    };
    let tab_of = |p: &serde_json::Value| p.get("tab_id").and_then(|x| x.as_i64());
    let own_tab = items
        .iter()
        .find(|p| is_term(p) && field(p, "id").map(|i| i.to_string()).as_deref() == Some(own))
        .and_then(tab_of);
    Ok(items
        .iter()
        .filter(|p| is_term(p) && tab_of(p) == own_tab)
        .filter(|p| {
            !p.get("is_floating")
                .and_then(|x| x.as_bool())
                .unwrap_or(false)
        })
        .filter(|p| {
            !p.get("is_suppressed")
                .and_then(|x| x.as_bool())
                .unwrap_or(false)
        })
        .filter_map(|p| {
            let x = field(p, "pane_x")?;
            let y = field(p, "pane_y")?;
            Some(Rect {
                id: field(p, "id")?.to_string(),
                x0: x,
                y0: y,
                x1: x + field(p, "pane_columns")?,
                y1: y + field(p, "pane_rows")?,
                last: false,
            })
        })
        .collect())
}

/// A pane's captured text.
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

fn run_tool(runner: &dyn Runner, program: &str, args: Vec<String>, what: &str) -> Result<String> {
    let out = runner.run(program, &args).map_err(|e| Error::Spawn {
        message: format!("cannot run `{program}` to {what}: {e}; is {program} on PATH?"),
        source: Some(e),
    })?;
    if out.status != Some(0) {
        let err = String::from_utf8_lossy(&out.stderr);
        let err = crate::title::sanitize_title(err.trim());
        return Err(Error::ToolFailed {
            message: format!(
                "`{program} {}` failed ({}){}",
                args.join(" "),
                out.status
                    .map_or("killed by a signal".to_string(), |c| format!(
                        "exit status {c}"
                    )),
                if err.is_empty() {
                    String::new()
                } else {
                    format!(": {err}")
                }
            ),
            source: None,
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a `zellij action` that reads (`list-panes`, `dump-screen`): those always print
/// something, and one that Zellij 0.45.1 cut off (it ends every connection twice and may drop a
/// new one that got the same client number in between) ends with status 0 and prints nothing,
/// so it is run again rather than taken as an empty pane; so is one turned away by the same
/// race ("There is no active session!" while the session is there). 3 times at most.
fn zellij_read(runner: &dyn Runner, args: Vec<String>, what: &str) -> Result<String> {
    for attempt in 1..=3u64 {
        let last = attempt == 3;
        match run_tool(runner, "zellij", args.clone(), what) {
            Ok(out) if !out.is_empty() || last => return Ok(out),
            Ok(_) => {}
            Err(e) if !last && crate::adapters::zellij::turned_away(&e.to_string()) => {}
            Err(e) => return Err(e),
        }
        std::thread::sleep(Duration::from_millis(25 * attempt));
    }
    unreachable!("the last attempt returns")
}

/// The rows of a pane (scrollback, then viewport) from the first `zellij subscribe --format
/// json` event.
fn zellij_rows(line: &str) -> Option<Vec<String>> {
    #[derive(Deserialize)]
    struct Update {
        #[serde(default)]
        scrollback: Option<Vec<String>>,
        viewport: Vec<String>,
    }
    let u: Update = serde_json::from_str(line).ok()?;
    let mut rows = u.scrollback.unwrap_or_default();
    rows.extend(u.viewport);
    Some(rows)
}

/// Puts back into `dump` (Zellij's dump-screen: one line per logical line, each row's trailing
/// blanks dropped) the blanks that ended a row where its line wrapped, taken from `rows` (the
/// same pane's rows as stored, blanks kept). `None` when the two do not describe the same text
/// (the pane changed in between): the dump is then used as it is.
fn rejoin_wrapped(dump: &str, rows: &[String]) -> Option<String> {
    // (the CLI ends what it prints with a newline of its own)
    let (body, end) = match dump.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (dump, ""),
    };
    let mut rows = rows.iter();
    let mut out = String::with_capacity(dump.len());
    for (n, line) in body.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let mut rest = line;
        loop {
            let row = rows.next()?;
            let seg = row.trim_end_matches(' ');
            rest = rest.strip_prefix(seg)?;
            if rest.is_empty() {
                out.push_str(seg);
                break;
            }
            // the line goes on in the next row: this row was full, blanks included
            out.push_str(row);
        }
    }
    // rows left over are blank rows below the last line the dump printed
    rows.all(|r| r.trim_end_matches(' ').is_empty())
        .then(|| out + end)
}

fn outside_error() -> Error {
    Error::Unavailable {
        message: "--pane needs a multiplexer pane (tmux, Zellij or WezTerm), and this command does not run in one; \
         pipe the text instead (`make 2>&1 | panechat q \"why did this fail?\"`) or attach a file with -f PATH"
            .into(),
    }
}

/// Captures the text of the pane `which` names, at most `lines` lines of screen and scrollback,
/// with the multiplexer the command runs in (innermost, when nested).
pub fn capture_pane(
    env: &Env,
    runner: &dyn Runner,
    which: &Which,
    lines: usize,
) -> Result<PaneText> {
    let lines = lines.max(1);
    let mux = innermost_multiplexer(env).or_else(|| {
        // In a tmux popup `TMUX_PANE` is empty: a pane named by id still works.
        (env.get("TMUX").is_some() && matches!(which, Which::Id(_))).then_some(Multiplexer::Tmux)
    });
    match mux {
        Some(Multiplexer::Tmux) => capture_tmux(env, runner, which, lines),
        Some(Multiplexer::Zellij) => capture_zellij(env, runner, which, lines),
        Some(Multiplexer::Wezterm) => capture_wezterm(env, runner, which, lines),
        _ => Err(outside_error()),
    }
}

fn no_neighbour(which: &Which, own: &str, tool: &str) -> Error {
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

fn capture_tmux(env: &Env, runner: &dyn Runner, which: &Which, lines: usize) -> Result<PaneText> {
    let own = env.get("TMUX_PANE").unwrap_or_default().to_string();
    let pane = match which {
        Which::Own if own.is_empty() => return Err(outside_error()),
        Which::Own => own.clone(),
        Which::Id(id) => format!("%{}", digits_of(id)),
        _ => {
            if own.is_empty() {
                return Err(outside_error());
            }
            let listing = run_tool(
                runner,
                "tmux",
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
    let raw = run_tool(
        runner,
        "tmux",
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

fn capture_zellij(
    env: &Env,
    runner: &dyn Runner,
    which: &Which,
    _lines: usize,
) -> Result<PaneText> {
    let own = env
        .get("ZELLIJ_PANE_ID")
        .ok_or_else(outside_error)?
        .to_string();
    let id = match which {
        Which::Own => own.clone(),
        Which::Id(id) => digits_of(id).to_string(),
        Which::Last => {
            return Err(Error::Unavailable {
                message: "Zellij does not tell which pane was active before; name the pane by its id (`zellij action list-panes`) or a direction (left, right, up, down)".into(),
            })
        }
        _ => {
            let listing = zellij_read(
                runner,
                vec![
                    "action".into(),
                    "list-panes".into(),
                    "--json".into(),
                    "--all".into(),
                ],
                "list the panes of this session",
            )?;
            let panes = parse_zellij_panes(&listing, &own)?;
            let me = panes.iter().find(|p| p.id == own).ok_or_else(|| {
                Error::NotFound(format!("Zellij does not list this pane (terminal_{own}) among the tiled panes"))
            })?;
            neighbour(me, &panes, which.direction().expect("a direction"))
                .ok_or_else(|| no_neighbour(which, &format!("terminal_{own}"), "Zellij"))?
                .id
                .clone()
        }
    };
    let pane = format!("terminal_{id}");
    let raw = zellij_read(
        runner,
        vec![
            "action".into(),
            "dump-screen".into(),
            "--pane-id".into(),
            pane.clone(),
            "--full".into(),
        ],
        &format!("capture pane {pane}"),
    )?;
    // dump-screen joins a line that wrapped but drops the blanks at the end of each row, so
    // "in this scope" wrapped after "this " reads "in thisscope". The rows as the pane holds
    // them (`zellij subscribe`, Zellij 0.45+) put those blanks back; without them the dump is
    // used as it is.
    let rows = runner
        .first_line(
            "zellij",
            &[
                "subscribe".into(),
                "--pane-id".into(),
                pane.clone(),
                "--scrollback".into(),
                "--format".into(),
                "json".into(),
            ],
            Duration::from_secs(2),
        )
        .ok()
        .flatten()
        .and_then(|line| zellij_rows(&line));
    let raw = rows
        .and_then(|rows| rejoin_wrapped(&raw, &rows))
        .unwrap_or(raw);
    Ok(PaneText {
        multiplexer: Multiplexer::Zellij,
        own: id == own,
        pane,
        raw,
    })
}

fn capture_wezterm(
    env: &Env,
    runner: &dyn Runner,
    which: &Which,
    lines: usize,
) -> Result<PaneText> {
    let own = env
        .get("WEZTERM_PANE")
        .ok_or_else(outside_error)?
        .to_string();
    let pane = match which {
        Which::Own => own.clone(),
        Which::Id(id) => digits_of(id).to_string(),
        Which::Last => {
            return Err(Error::Unavailable {
                message: "WezTerm's command line does not tell which pane was active before; name the pane by its id (`wezterm cli list`) or a direction (left, right, up, down)".into(),
            })
        }
        _ => {
            let dir = match which.direction().expect("a direction") {
                Dir::Left => "Left",
                Dir::Right => "Right",
                Dir::Up => "Up",
                Dir::Down => "Down",
            };
            let out = run_tool(
                runner,
                "wezterm",
                vec![
                    "cli".into(),
                    "get-pane-direction".into(),
                    "--pane-id".into(),
                    own.clone(),
                    dir.into(),
                ],
                "find the neighbouring pane",
            )?;
            let id = out.trim().to_string();
            if !is_pane_id(&id) {
                return Err(no_neighbour(which, &own, "WezTerm"));
            }
            id
        }
    };
    let raw = run_tool(
        runner,
        "wezterm",
        vec![
            "cli".into(),
            "get-text".into(),
            "--pane-id".into(),
            pane.clone(),
            "--start-line".into(),
            format!("-{lines}"),
        ],
        &format!("capture pane {pane}"),
    )?;
    Ok(PaneText {
        multiplexer: Multiplexer::Wezterm,
        own: pane == own,
        pane,
        raw,
    })
}

/// The environment `env` as seen from pane `pane` of multiplexer `mux` (`%3`, `3`): that pane's
/// variable set and the other multiplexers' pane variables cleared, so `--pane` and its
/// directions are taken from a pane other than the one the command runs in (a popup, a
/// floating pane or a split opened to ask about it).
pub fn env_in_pane(env: &Env, mux: Multiplexer, pane: &str) -> Env {
    let mut e = env.clone();
    for v in ["TMUX_PANE", "ZELLIJ_PANE_ID", "WEZTERM_PANE"] {
        e.set(v, "");
    }
    match mux {
        Multiplexer::Tmux => e.set("TMUX_PANE", format!("%{}", digits_of(pane))),
        Multiplexer::Zellij => e.set("ZELLIJ_PANE_ID", digits_of(pane)),
        Multiplexer::Wezterm => e.set("WEZTERM_PANE", digits_of(pane)),
        _ => {}
    }
    e
}

/// The prefix of the tmux paste buffers a copy-mode binding fills for `--selection`
/// (`send -X copy-selection-and-cancel panechat-selection` names them `panechat-selectionN`).
pub const SELECTION_BUFFER_PREFIX: &str = "panechat-selection";

/// Takes the selection a tmux copy-mode binding copied for pane `pane`: the newest paste buffer
/// named [`SELECTION_BUFFER_PREFIX`]`N`, deleted once read (the user's own buffers are left
/// alone), as an attachment labelled `selection tmux %3`.
pub fn tmux_selection(
    env: &Env,
    runner: &dyn Runner,
    pane: Option<&str>,
    limits: Limits,
) -> Result<Prepared> {
    if env.get("TMUX").is_none() {
        return Err(Error::Unavailable {
            message: "--selection takes what a tmux copy-mode key copied, and this command does not run inside tmux; \
             pipe the text instead (`… | panechat q \"question\"`) or attach a file with -f PATH"
                .into(),
        });
    }
    // Newest first.
    let names = run_tool(
        runner,
        "tmux",
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
    let raw = run_tool(
        runner,
        "tmux",
        vec!["show-buffer".into(), "-b".into(), name.clone()],
        "read the selection",
    );
    // Deleted whatever happened, so a stale selection is never attached to a later question.
    let _ = runner.run("tmux", &["delete-buffer".into(), "-b".into(), name.clone()]);
    let raw = raw?;
    if raw.as_bytes().iter().take(BINARY_PROBE).any(|&b| b == 0) {
        return Err(binary_error("the selection", 0));
    }
    let source = match pane {
        Some(p) => format!("selection tmux %{}", digits_of(p)),
        None => "selection tmux".to_string(),
    };
    let p = prepare(source, &raw, Keep::Tail, limits);
    if p.attachment.text.trim().is_empty() {
        return Err(Error::CannotAttach {
            message: "the selection is empty: select some text in copy mode first".into(),
            source: None,
        });
    }
    Ok(p)
}

/// Turns a captured pane into an attachment: cleaned, the asking command line dropped from the
/// own pane (`invoked_as` = the program name as typed, `message` the question as given), the
/// last `lines` lines kept, capped and redacted. The label reads `pane tmux %3, 120 lines`.
pub fn pane_attachment(
    p: &PaneText,
    lines: usize,
    invoked_as: &str,
    message: &str,
    limits: Limits,
) -> Prepared {
    let mut text = clean(&p.raw);
    if p.own {
        text = drop_asking_line(&text, invoked_as, message);
    }
    let total = text.lines().count();
    if total > lines {
        let skip = total - lines;
        let start = text
            .match_indices('\n')
            .nth(skip - 1)
            .map_or(0, |(i, _)| i + 1);
        text = trim_lines(&text[start..]);
    }
    let tool = match p.multiplexer {
        Multiplexer::Tmux => "tmux",
        Multiplexer::Zellij => "zellij",
        _ => "wezterm",
    };
    let mut prepared = finish(String::new(), text, Keep::Tail, limits, 0);
    let n = prepared.attachment.text.lines().count();
    prepared.attachment.source = format!(
        "pane {tool} {}, {n} line{}",
        p.pane,
        if n == 1 { "" } else { "s" }
    );
    prepared
}

// ---------------------------------------------------------------------------------------------
// Files and piped input

/// How far into a file or input to look for a NUL byte (which marks it as binary).
const BINARY_PROBE: usize = 8192;

fn binary_error(what: &str, at: usize) -> Error {
    Error::CannotAttach {
        message: format!(
            "{what} looks binary (a NUL byte at offset {at}); attach text only, e.g. the output of a tool that prints it as text"
        ),
        source: None,
    }
}

/// Reads a file for `-f PATH`: a clear error for a missing file, a directory, anything but a
/// regular file and binary content; a file beyond `context.max_bytes` is read only that far
/// and cut with a marker.
pub fn file_attachment(path: &Path, limits: Limits) -> Result<Prepared> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| Error::CannotAttach {
        message: format!("cannot attach {shown}: {}", io_reason(&e)),
        source: Some(e),
    })?;
    if meta.is_dir() {
        return Err(Error::CannotAttach {
            message: format!(
                "cannot attach {shown}: it is a directory; attach its files one by one (-f {shown}/FILE)"
            ),
            source: None,
        });
    }
    if !meta.is_file() {
        return Err(Error::CannotAttach {
            message: format!(
                "cannot attach {shown}: not a regular file (a device, pipe or socket); pipe its output instead: `cat {shown} | panechat q …`"
            ),
            source: None,
        });
    }
    let f = std::fs::File::open(path).map_err(|e| Error::CannotAttach {
        message: format!("cannot attach {shown}: {}", io_reason(&e)),
        source: Some(e),
    })?;
    // Read a little more than the cap, so cutting still ends at a line boundary.
    let want = limits.max_bytes as u64 + 4096;
    let mut buf = Vec::new();
    f.take(want)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, e))?;
    if let Some(at) = buf.iter().take(BINARY_PROBE).position(|&b| b == 0) {
        return Err(binary_error(&format!("file {shown}"), at));
    }
    let size = meta.len();
    let unread = size.saturating_sub(buf.len() as u64);
    let text = String::from_utf8_lossy(&buf);
    Ok(finish(
        format!("file {shown}"),
        clean(&text),
        Keep::Head,
        limits,
        unread,
    ))
}

/// Reads piped input completely (so the writer never blocks or gets SIGPIPE), keeping only its
/// last `4 × context.max_bytes`: memory stays bounded for any input size. Binary input is an
/// error; long input is cut at the start with a marker.
pub fn reader_attachment(source: &str, mut r: impl Read, limits: Limits) -> Result<Prepared> {
    let keep = limits.max_bytes.saturating_mul(4).max(64 * 1024);
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    let mut dropped: u64 = 0;
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::ReadInput {
                    message: format!("cannot read {source}: {e}"),
                    source: e,
                })
            }
        };
        if total < BINARY_PROBE as u64 {
            let probe = (BINARY_PROBE as u64 - total).min(n as u64) as usize;
            if let Some(at) = chunk[..probe].iter().position(|&b| b == 0) {
                return Err(binary_error(source, total as usize + at));
            }
        }
        total += n as u64;
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 2 * keep {
            let cut = buf.len() - keep;
            dropped += cut as u64;
            buf.drain(..cut);
        }
    }
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if dropped > 0 {
        // Start at a whole line.
        if let Some(nl) = text.find('\n') {
            dropped += nl as u64 + 1;
            text.drain(..=nl);
        }
    }
    Ok(finish(
        source.to_string(),
        clean(&text),
        Keep::Tail,
        limits,
        dropped,
    ))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Records every argv and answers from a script of outputs.
    struct Recorder {
        calls: RefCell<Vec<Vec<String>>>,
        answers: RefCell<Vec<RunOutput>>,
    }

    impl Recorder {
        fn new(answers: &[&str]) -> Recorder {
            Recorder {
                calls: RefCell::new(Vec::new()),
                answers: RefCell::new(
                    answers
                        .iter()
                        .rev()
                        .map(|a| RunOutput {
                            status: Some(0),
                            stdout: a.as_bytes().to_vec(),
                            stderr: Vec::new(),
                        })
                        .collect(),
                ),
            }
        }
    }

    impl Runner for Recorder {
        fn run(&self, program: &str, args: &[String]) -> std::io::Result<RunOutput> {
            let mut argv = vec![program.to_string()];
            argv.extend(args.iter().cloned());
            self.calls.borrow_mut().push(argv);
            Ok(self.answers.borrow_mut().pop().unwrap_or_default())
        }
    }

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    const TMUX_PANES: &str =
        "%0 0 0 59 14 0\n%1 61 0 119 29 1\n%2 0 16 59 29 0\n%3 120 0 130 29 0\n";

    fn tmux_env() -> Env {
        Env::from_pairs([("TMUX", "/tmp/t/default,1,0"), ("TMUX_PANE", "%2")])
    }

    #[test]
    fn tmux_own_pane_argv() {
        let r = Recorder::new(&["x\n"]);
        let p = capture_pane(&tmux_env(), &r, &Which::Own, 120).unwrap();
        assert_eq!(
            *r.calls.borrow(),
            vec![argv("tmux capture-pane -p -J -S -120 -t %2")]
        );
        assert!(p.own);
        assert_eq!(p.pane, "%2");
    }

    #[test]
    fn tmux_neighbours_from_geometry_without_moving_focus() {
        // %0 top-left, %2 bottom-left, %1 right half, %3 further right.
        for (which, want) in [(Which::Up, "%0"), (Which::Right, "%1"), (Which::Last, "%1")] {
            let r = Recorder::new(&[TMUX_PANES, "text\n"]);
            let p = capture_pane(&tmux_env(), &r, &which, 50).unwrap();
            assert_eq!(p.pane, want, "{which:?}");
            assert!(!p.own);
            let calls = r.calls.borrow();
            assert_eq!(calls[0][..4], argv("tmux list-panes -t %2")[..]);
            assert_eq!(
                calls[1],
                argv(&format!("tmux capture-pane -p -J -S -50 -t {want}"))
            );
            // Nothing that changes the focus is ever run.
            assert!(calls.iter().flatten().all(|a| a != "select-pane"));
        }
        let r = Recorder::new(&[TMUX_PANES]);
        let e = capture_pane(&tmux_env(), &r, &Which::Left, 50).unwrap_err();
        assert!(e.to_string().contains("no pane to the left of %2"), "{e}");
        let r = Recorder::new(&["x"]);
        let p = capture_pane(&tmux_env(), &r, &Which::parse("7").unwrap(), 5).unwrap();
        assert_eq!(p.pane, "%7");
        // In a popup (no TMUX_PANE) a pane named by id still works; this pane does not.
        let popup = Env::from_pairs([("TMUX", "/tmp/t/default,1,0")]);
        let r = Recorder::new(&["x"]);
        let p = capture_pane(&popup, &r, &Which::parse("%4").unwrap(), 5).unwrap();
        assert_eq!(
            r.calls.borrow()[0],
            argv("tmux capture-pane -p -J -S -5 -t %4")
        );
        assert!(!p.own);
        assert!(capture_pane(&popup, &Recorder::new(&[]), &Which::Own, 5).is_err());
    }

    #[test]
    fn a_popup_sees_the_pane_it_was_opened_from() {
        // A tmux popup has TMUX but no TMUX_PANE; asked about %1, `--pane` alone is %1 and
        // `up`/`left` are taken from %1.
        let popup = Env::from_pairs([("TMUX", "/tmp/t/default,1,0")]);
        let e = env_in_pane(&popup, Multiplexer::Tmux, "%2");
        let r = Recorder::new(&[TMUX_PANES, "text\n"]);
        let p = capture_pane(&e, &r, &Which::Up, 10).unwrap();
        assert_eq!(p.pane, "%0");
        let r = Recorder::new(&["x"]);
        assert_eq!(capture_pane(&e, &r, &Which::Own, 10).unwrap().pane, "%2");
        // A Zellij floating pane asking about terminal_4.
        let z = Env::from_pairs([("ZELLIJ", "0"), ("ZELLIJ_PANE_ID", "9")]);
        let e = env_in_pane(&z, Multiplexer::Zellij, "terminal_4");
        assert_eq!(e.get("ZELLIJ_PANE_ID"), Some("4"));
        // A WezTerm split asking about pane 3; the other pane variables are cleared.
        let w = Env::from_pairs([("WEZTERM_PANE", "8"), ("TMUX_PANE", "%1")]);
        let e = env_in_pane(&w, Multiplexer::Wezterm, "3");
        assert_eq!(e.get("WEZTERM_PANE"), Some("3"));
        assert_eq!(e.get("TMUX_PANE"), None);
    }

    #[test]
    fn the_tmux_selection_is_the_newest_panechat_buffer_and_is_deleted() {
        let r = Recorder::new(&[
            "buffer3\npanechat-selection7\npanechat-selection2\npanechat-selectionx\n",
            "error: \x1b[31mno such file\x1b[0m\n",
            "",
        ]);
        let p = tmux_selection(&tmux_env(), &r, Some("%2"), Limits::default()).unwrap();
        assert_eq!(p.attachment.source, "selection tmux %2");
        assert_eq!(p.attachment.text, "error: no such file");
        let calls = r.calls.borrow();
        assert_eq!(calls[1], argv("tmux show-buffer -b panechat-selection7"));
        assert_eq!(calls[2], argv("tmux delete-buffer -b panechat-selection7"));
        // The user's own buffers are never read.
        let r = Recorder::new(&["buffer0\nbuffer1\n"]);
        let e = tmux_selection(&tmux_env(), &r, None, Limits::default()).unwrap_err();
        assert!(e.to_string().contains("select text in copy mode"), "{e}");
        assert_eq!(r.calls.borrow().len(), 1);
        let e = tmux_selection(
            &Env::default(),
            &Recorder::new(&[]),
            None,
            Limits::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("inside tmux"), "{e}");
    }

    #[test]
    fn neighbour_prefers_longest_shared_edge() {
        let panes = parse_tmux_panes("%0 0 0 59 29 0\n%1 61 0 119 9 0\n%2 61 11 119 29 0\n");
        let me = panes[0].clone();
        assert_eq!(neighbour(&me, &panes, Dir::Right).unwrap().id, "%2");
        assert_eq!(neighbour(&panes[1], &panes, Dir::Down).unwrap().id, "%2");
        assert_eq!(neighbour(&panes[1], &panes, Dir::Left).unwrap().id, "%0");
        assert!(neighbour(&panes[1], &panes, Dir::Up).is_none());
    }

    #[test]
    fn zellij_argv_and_geometry() {
        let env = Env::from_pairs([
            ("ZELLIJ", "0"),
            ("ZELLIJ_PANE_ID", "1"),
            ("ZELLIJ_SESSION_NAME", "s"),
        ]);
        let r = Recorder::new(&["$ make\nerror\n"]);
        let p = capture_pane(&env, &r, &Which::Own, 10).unwrap();
        assert_eq!(
            *r.calls.borrow(),
            vec![
                argv("zellij action dump-screen --pane-id terminal_1 --full"),
                argv("zellij subscribe --pane-id terminal_1 --scrollback --format json"),
            ]
        );
        assert_eq!(p.pane, "terminal_1");
        // no rows from subscribe: the dump as it is
        assert_eq!(p.raw, "$ make\nerror\n");
        let listing = r#"[
          {"id":0,"is_plugin":false,"is_floating":false,"is_suppressed":false,"pane_x":0,"pane_y":1,"pane_columns":60,"pane_rows":28,"tab_id":0},
          {"id":1,"is_plugin":false,"is_floating":false,"is_suppressed":false,"pane_x":60,"pane_y":1,"pane_columns":60,"pane_rows":28,"tab_id":0},
          {"id":0,"is_plugin":true,"pane_x":0,"pane_y":0,"pane_columns":120,"pane_rows":1,"tab_id":0},
          {"id":5,"is_plugin":false,"is_floating":false,"pane_x":0,"pane_y":1,"pane_columns":60,"pane_rows":28,"tab_id":1}
        ]"#;
        let r = Recorder::new(&[listing, "x"]);
        let p = capture_pane(&env, &r, &Which::Left, 10).unwrap();
        assert_eq!(p.pane, "terminal_0");
        assert_eq!(
            r.calls.borrow()[0],
            argv("zellij action list-panes --json --all")
        );
        let e = capture_pane(&env, &Recorder::new(&[]), &Which::Last, 10).unwrap_err();
        assert!(e.to_string().contains("pane by its id"), "{e}");
    }

    #[test]
    fn zellij_reads_cut_off_by_zellij_are_run_again() {
        let env = Env::from_pairs([("ZELLIJ", "0"), ("ZELLIJ_PANE_ID", "1")]);
        // (an empty dump-screen: the command was cut off; the second one prints the pane)
        let r = Recorder::new(&["", "$ make\nerror\n"]);
        let p = capture_pane(&env, &r, &Which::Own, 10).unwrap();
        assert_eq!(p.raw, "$ make\nerror\n");
        let dumps = r
            .calls
            .borrow()
            .iter()
            .filter(|c| c[2] == "dump-screen")
            .count();
        assert_eq!(dumps, 2);
    }

    #[test]
    fn zellij_reads_turned_away_by_zellij_are_run_again() {
        let env = Env::from_pairs([("ZELLIJ", "0"), ("ZELLIJ_PANE_ID", "1")]);
        let r = Recorder::new(&["$ make\nerror\n"]);
        r.answers.borrow_mut().push(RunOutput {
            status: Some(1),
            stdout: Vec::new(),
            stderr: b"There is no active session!\n".to_vec(),
        });
        let p = capture_pane(&env, &r, &Which::Own, 10).unwrap();
        assert_eq!(p.raw, "$ make\nerror\n");
        // Another failure is said at once.
        let r = Recorder::new(&[]);
        r.answers.borrow_mut().push(RunOutput {
            status: Some(2),
            stdout: Vec::new(),
            stderr: b"bad pane id\n".to_vec(),
        });
        let e = capture_pane(&env, &r, &Which::Own, 10).unwrap_err();
        assert!(e.to_string().contains("bad pane id"), "{e}");
        assert_eq!(r.calls.borrow().len(), 1);
    }

    #[test]
    fn zellij_wrapped_rows_keep_the_blank_at_the_wrap() {
        // Recorded from Zellij 0.45.1, a 40-column pane: the line wrapped right after a blank.
        let dump = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab end\n$\n\n\n";
        let update = r#"{"event":"pane_update","is_initial":true,"pane_id":"terminal_0","scrollback":[],"viewport":["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ","b end                                   ","$                                       ","                                        ","                                        "]}"#;
        let env = Env::from_pairs([("ZELLIJ", "0"), ("ZELLIJ_PANE_ID", "0")]);
        let r = Recorder::new(&[dump, update]);
        let p = capture_pane(&env, &r, &Which::Own, 10).unwrap();
        assert_eq!(
            p.raw,
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa b end\n$\n\n\n"
        );
    }

    #[test]
    fn zellij_rejoin_checks_that_rows_and_dump_agree() {
        let rows = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // scrollback rows, a line wrapping over three rows, a blank line
        assert_eq!(
            rejoin_wrapped(
                "one\nabcdef\n\nz",
                &rows(&["one  ", "ab ", "cd ", "ef ", "   ", "z"])
            )
            .as_deref(),
            Some("one\nab cd ef\n\nz")
        );
        // a wrap in the middle of a word keeps it whole
        assert_eq!(
            rejoin_wrapped("abcdef", &rows(&["abc", "def"])).as_deref(),
            Some("abcdef")
        );
        // the pane changed between the two reads: no rejoining
        assert_eq!(rejoin_wrapped("abc\nnew", &rows(&["abc", "old"])), None);
        assert_eq!(rejoin_wrapped("abc\ndef", &rows(&["abc"])), None);
        assert_eq!(rejoin_wrapped("abc", &rows(&["abc", "more"])), None);
        assert_eq!(zellij_rows("not json"), None);
        assert_eq!(
            zellij_rows(r#"{"scrollback":["a"],"viewport":["b"]}"#),
            Some(rows(&["a", "b"]))
        );
        assert_eq!(
            zellij_rows(r#"{"scrollback":null,"viewport":["b"]}"#),
            Some(rows(&["b"]))
        );
    }

    #[test]
    fn wezterm_argv_and_recorded_output() {
        let env = Env::from_pairs([("WEZTERM_PANE", "4"), ("WEZTERM_UNIX_SOCKET", "/s")]);
        // Recorded from `wezterm cli get-text`: plain text, rows padded with blanks.
        let recorded = "$ cargo build                                   \n   Compiling x v0.1.0\nerror[E0425]: cannot find value `y` in this scope\n --> src/main.rs:2:5\n$ panechat q --pane \"why?\"\n\n\n";
        let r = Recorder::new(&[recorded]);
        let p = capture_pane(&env, &r, &Which::Own, 200).unwrap();
        assert_eq!(
            *r.calls.borrow(),
            vec![argv("wezterm cli get-text --pane-id 4 --start-line -200")]
        );
        let a = pane_attachment(&p, 200, "panechat", "why?", Limits::default());
        assert_eq!(a.attachment.source, "pane wezterm 4, 4 lines");
        assert_eq!(
            a.attachment.text,
            "$ cargo build\n   Compiling x v0.1.0\nerror[E0425]: cannot find value `y` in this scope\n --> src/main.rs:2:5"
        );
        let r = Recorder::new(&["9\n", "x"]);
        let p = capture_pane(&env, &r, &Which::Down, 3).unwrap();
        assert_eq!(
            r.calls.borrow()[0],
            argv("wezterm cli get-pane-direction --pane-id 4 Down")
        );
        assert_eq!(
            r.calls.borrow()[1],
            argv("wezterm cli get-text --pane-id 9 --start-line -3")
        );
        assert!(!p.own);
    }

    #[test]
    fn outside_a_multiplexer_says_what_works() {
        let e = capture_pane(&Env::default(), &Recorder::new(&[]), &Which::Own, 10).unwrap_err();
        assert!(matches!(e, Error::Unavailable { .. }));
        assert!(
            e.to_string().contains("-f PATH") && e.to_string().contains("pipe"),
            "{e}"
        );
        assert!(Which::parse("../x").is_err());
        assert!(Which::parse("%x").is_err());
        assert_eq!(
            Which::parse("terminal_3").unwrap(),
            Which::Id("terminal_3".into())
        );
    }

    #[test]
    fn failing_tool_is_reported() {
        struct Fails;
        impl Runner for Fails {
            fn run(&self, _: &str, _: &[String]) -> std::io::Result<RunOutput> {
                Ok(RunOutput {
                    status: Some(1),
                    stdout: vec![],
                    stderr: b"can't find pane: %9\n".to_vec(),
                })
            }
        }
        let e = capture_pane(&tmux_env(), &Fails, &Which::Id("%9".into()), 10).unwrap_err();
        assert!(e.to_string().contains("can't find pane: %9"), "{e}");
    }

    #[test]
    fn clean_removes_sequences_and_controls() {
        let raw = "\x1b[1;31merror\x1b[0m: \x1b]0;title\x07bad\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\n\
                   \x1bPq#0;2;0;0;0\x1b\\dcs gone\x1b[2K\x1b[1A\x1b(Bplain\u{9b}31mc1\u{9d}osc\u{9c}\x07\x7f\n\
                   50%\r100%\n\
                   ab\x08c\tt  \n\n\n";
        assert_eq!(clean(raw), "error: badlink\ndcs goneplainc1\n100%\nac\tt");
        assert_eq!(clean("\n\n  x\n\n"), "  x");
        assert_eq!(clean("line\r\nnext\r\n"), "line\nnext");
    }

    #[test]
    fn asking_line_is_dropped() {
        let t = "$ make\nerror: x\n$ panechat q --pane \"why\"";
        assert_eq!(drop_asking_line(t, "panechat", "why"), "$ make\nerror: x");
        // Wrapped over two rows.
        let t = "$ make\nerror: x\n$ panechat q --pane \"a very long\nquestion\"";
        assert_eq!(
            drop_asking_line(t, "panechat", "a very long question"),
            "$ make\nerror: x"
        );
        // Invoked through an alias or a function: the line with the question goes.
        assert_eq!(drop_asking_line("out\n$ ask why", "panechat", "why"), "out");
        assert_eq!(
            drop_asking_line(
                "out\n$ ask 'what is this?' | less",
                "panechat",
                "what is this?"
            ),
            "out"
        );
        // No command line on the screen (`clear; echo x; panechat q --pane`, a script): all of
        // it is output, kept.
        assert_eq!(drop_asking_line("x", "panechat", "what is x?"), "x");
        assert_eq!(drop_asking_line("a\nb", "panechat", ""), "a\nb");
        // A question of fewer than 3 characters is not looked for (it would match output).
        assert_eq!(drop_asking_line("x", "panechat", "x"), "x");
        // Output the question quotes is not its command line (`clear; make; panechat q
        // --pane "error…"`): an error at the start of a line, or after a diagnostic's prefix.
        let out = "   Compiling x\nerror[E0425]: cannot find value `count` in this scope\n --> src/main.rs:3:5";
        assert_eq!(
            drop_asking_line(
                out,
                "panechat",
                "error[E0425]: cannot find value `count`, why?"
            ),
            out
        );
        let out = "cc main.c\nmain.c:3:5: error: 'count' undeclared";
        assert_eq!(
            drop_asking_line(out, "panechat", "error: 'count' undeclared"),
            out
        );
    }

    #[test]
    fn cap_marks_what_was_cut() {
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let (t, cut) = cap(&text, 100, Keep::Tail);
        assert!(cut);
        assert!(
            t.starts_with("[… ") && t.contains("context.max_bytes is 100"),
            "{t}"
        );
        assert!(t.ends_with("line 99\n"));
        let (h, _) = cap(&text, 100, Keep::Head);
        assert!(
            h.starts_with("line 0\n") && h.ends_with("max_bytes is 100 …]"),
            "{h}"
        );
        assert!(h.len() < 200);
        // Bytes never read count in the marker.
        let (h, cut) = cap_counting("a\nb", 100, Keep::Head, 5_000_000);
        assert!(cut);
        assert_eq!(h, "a\nb\n[… 5.0 MB cut here: context.max_bytes is 100 …]");
        assert_eq!(cap("short", 100, Keep::Head), ("short".into(), false));
        // Multi-byte text is cut on a character boundary.
        let (u, _) = cap(&"é".repeat(100), 51, Keep::Tail);
        assert!(u.ends_with('é'));
    }

    #[test]
    fn files_give_clear_errors() {
        let dir = std::env::temp_dir().join(format!("panechat-ctx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let limits = Limits {
            max_bytes: 1000,
            redact: true,
        };
        let e = file_attachment(&dir.join("missing.txt"), limits).unwrap_err();
        assert!(e.to_string().contains("missing.txt: no such file"), "{e}");
        let e = file_attachment(&dir, limits).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        std::fs::write(dir.join("bin"), b"ELF\x00\x01").unwrap();
        let e = file_attachment(&dir.join("bin"), limits).unwrap_err();
        assert!(
            e.to_string()
                .contains("looks binary (a NUL byte at offset 3)"),
            "{e}"
        );
        let big: String = (0..10_000).map(|i| format!("row {i}\n")).collect();
        std::fs::write(dir.join("big"), &big).unwrap();
        let p = file_attachment(&dir.join("big"), limits).unwrap();
        assert!(p.truncated);
        assert!(p.attachment.text.starts_with("row 0\n"));
        assert!(p.attachment.text.len() < 1200);
        assert!(p.attachment.text.ends_with("context.max_bytes is 1000 …]"));
        std::fs::write(dir.join("ok.rs"), "fn main() {}\n").unwrap();
        let p = file_attachment(&dir.join("ok.rs"), limits).unwrap();
        assert_eq!(
            p.attachment.source,
            format!("file {}", dir.join("ok.rs").display())
        );
        assert_eq!(p.attachment.text, "fn main() {}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn piped_input_is_bounded() {
        let limits = Limits {
            max_bytes: 64 * 1024,
            redact: false,
        };
        let big: String = (0..2_000_000).map(|i| format!("{i}\n")).collect();
        let p = reader_attachment("stdin", big.as_bytes(), limits).unwrap();
        assert!(p.truncated);
        assert!(p.attachment.text.ends_with("1999999"));
        assert!(p.attachment.text.starts_with("[… "));
        assert!(p.attachment.text.len() < 70 * 1024);
        let e = reader_attachment("stdin", &b"abc\x00"[..], limits).unwrap_err();
        assert!(e.to_string().contains("stdin looks binary"), "{e}");
    }

    #[test]
    fn framing_and_joined_content() {
        let a = Attachment {
            source: "stdin".into(),
            text: "make: *** [all] Error 1".into(),
        };
        assert_eq!(
            joined_content("why?", std::slice::from_ref(&a)),
            "--- stdin ---\nmake: *** [all] Error 1\n--- end of stdin ---\n\nwhy?"
        );
        assert_eq!(joined_content("why?", &[]), "why?");
        assert_eq!(a.size(), "23 B");
        assert_eq!(human_bytes(14_200), "14.2 KB");
    }
}
