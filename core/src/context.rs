//! Context attached to a question: the text of a pane, piped input, files.
//!
//! Every attachment goes through the same steps before it is stored or sent:
//! 1. **capture** — a pane's text, asked of its multiplexer ([`capture_pane`]; how each one is
//!    asked is in its adapter, `crate::adapters::<multiplexer>::capture`). Neighbours (`left`,
//!    `right`, `up`, `down`, `last`) are found without moving the focus. Every program is run
//!    through an [`Exec`], so tests record the exact argv.
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

use crate::adapters::exec::Exec;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::session::Multiplexer;

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
// Panes

pub use crate::adapters::pane::{PaneText, Which};
pub use crate::adapters::tmux::capture::SELECTION_BUFFER_PREFIX;

/// Captures the text of the pane `which` names, at most `lines` lines of screen and scrollback,
/// with the multiplexer the command runs in (innermost, when nested).
pub fn capture_pane(env: &Env, exec: &dyn Exec, which: &Which, lines: usize) -> Result<PaneText> {
    crate::adapters::capture(env, exec, which, lines.max(1))
}

/// The environment `env` as seen from pane `pane` of multiplexer `mux` (`%3`, `3`), so `--pane`
/// and its directions are taken from a pane other than the one the command runs in (a popup, a
/// floating pane or a split opened to ask about it).
pub fn env_in_pane(env: &Env, mux: Multiplexer, pane: &str) -> Env {
    crate::adapters::env_in_pane(env, mux, pane)
}

/// Takes the selection a tmux copy-mode binding copied for pane `pane` (see
/// [`crate::adapters::tmux::capture::take_selection`]) as an attachment labelled
/// `selection tmux %3`.
pub fn tmux_selection(
    env: &Env,
    exec: &dyn Exec,
    pane: Option<&str>,
    limits: Limits,
) -> Result<Prepared> {
    let (raw, source) = crate::adapters::tmux::capture::take_selection(env, exec, pane)?;
    if raw.as_bytes().iter().take(BINARY_PROBE).any(|&b| b == 0) {
        return Err(binary_error("the selection", 0));
    }
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
    let tool = p.multiplexer.as_str();
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

    use crate::adapters::exec::{Output, Recorder};
    use crate::adapters::pane::{neighbour, Dir};
    use crate::adapters::tmux::capture::parse_tmux_panes;
    use crate::adapters::zellij::capture::{rejoin_wrapped, zellij_rows};
    use crate::session::Multiplexer;

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
        let r = Recorder::answering(vec![
            Output::failed(1, "There is no active session!\n"),
            Output::printed("$ make\nerror\n"),
        ]);
        let p = capture_pane(&env, &r, &Which::Own, 10).unwrap();
        assert_eq!(p.raw, "$ make\nerror\n");
        // Another failure is said at once.
        let r = Recorder::answering(vec![Output::failed(2, "bad pane id\n")]);
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
        let fails = Recorder::answering(vec![Output::failed(1, "can't find pane: %9\n")]);
        let e = capture_pane(&tmux_env(), &fails, &Which::Id("%9".into()), 10).unwrap_err();
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
