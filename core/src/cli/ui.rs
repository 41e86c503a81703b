//! Interactive pieces: the fuzzy picker, the lock question, confirmations.

use std::io::IsTerminal;

use console::Term;
use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, FuzzySelect, Select};
use panechat::adapters::LockAnswer;
use panechat::store::conversation::{ConversationId, Summary};
use panechat::{Error, Result};

use super::ctx::Ctx;

/// Whether a person can answer questions: stderr is a terminal and a terminal can be read.
pub fn can_ask() -> bool {
    std::io::stderr().is_terminal()
        && (std::io::stdin().is_terminal()
            || std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/tty")
                .is_ok())
}

fn ui_err(e: dialoguer::Error) -> Error {
    match e {
        dialoguer::Error::IO(io) if io.kind() == std::io::ErrorKind::Interrupted => {
            Error::Cancelled("cancelled".into())
        }
        dialoguer::Error::IO(io) => Error::Terminal {
            message: format!("terminal prompt failed: {io}"),
            source: io,
        },
    }
}

/// What the picker returned.
pub enum Picked {
    /// Start a new conversation.
    New,
    /// An existing one.
    Id(ConversationId),
}

/// One picker row (title, id, turns, age, fork marker), free of control characters, fitted to
/// `width` columns (a row that wraps garbles the picker's redraw): the details go first when
/// the pane is narrow, then the title is cut. Every column has the same width in every row.
pub fn row(s: &Summary, marker: &str, width: usize) -> String {
    let fork = if s.parent.is_some() { "  fork" } else { "" };
    let details = format!(
        "  {}  {:>3} {:<5}  {:>4} ago{fork:<6}",
        s.id.short(),
        s.turns,
        if s.turns == 1 { "turn" } else { "turns" },
        panechat::time::ago(&s.updated_at)
    );
    // The picker indents rows by 2 and needs a spare column.
    let room = width.saturating_sub(self::width(marker) + 3);
    let title = s.display_title();
    if room >= details.chars().count() + 16 {
        let t = room - details.chars().count();
        let row = format!("{marker}{}{details}", pad(&truncate(&title, t.min(40)), t));
        row.trim_end().to_string()
    } else {
        format!("{marker}{}", truncate(&title, room.max(8)))
    }
}

/// The shortest id prefix width (at least 8, at most 18) that tells every one of `ids` apart.
pub fn unique_prefix_width(ids: &[&str]) -> usize {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    let common = |a: &str, b: &str| a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    sorted
        .windows(2)
        .map(|w| common(w[0], w[1]) + 1)
        .max()
        .unwrap_or(0)
        .clamp(8, 18)
}

pub use panechat::query::turns;
pub use panechat::title::{char_width, truncate, width};

/// `s` followed by spaces up to `n` columns.
pub fn pad(s: &str, n: usize) -> String {
    format!("{s}{:1$}", "", n.saturating_sub(width(s)))
}

/// The interactive fuzzy picker over every conversation, with a "new conversation" entry first.
pub fn pick(ctx: &Ctx, prompt: &str, active: Option<&ConversationId>) -> Result<Picked> {
    if !can_ask() {
        return Err(Error::Unavailable {
            message: "the conversation picker needs a terminal; name one with --id ID (see `panechat ls`), or use --new".into(),
        });
    }
    let summaries = ctx.store.list()?;
    let width = Term::stderr()
        .size_checked()
        .map_or(80, |(_, w)| w as usize);
    let mut items = vec!["+ new conversation".to_string()];
    items.extend(
        summaries
            .iter()
            .map(|s| row(s, if Some(&s.id) == active { "* " } else { "  " }, width)),
    );
    // Enter on a pane without a conversation starts a new one; otherwise it keeps the active one.
    let default = summaries
        .iter()
        .position(|s| Some(&s.id) == active)
        .map_or(0, |i| i + 1);
    let choice = FuzzySelect::with_theme(&ColorfulTheme::default())
        .with_prompt(prompt)
        .items(&items)
        .default(default)
        .max_length(15)
        .interact_on_opt(&Term::stderr())
        .map_err(ui_err)?;
    match choice {
        None => Err(Error::Cancelled("no conversation picked".into())),
        Some(0) => Ok(Picked::New),
        Some(i) => Ok(Picked::Id(summaries[i - 1].id.clone())),
    }
}

/// Breaks `text` into lines of at most `width` columns (terminal cells: a wide character such
/// as CJK takes two) at spaces (a word longer than a line is cut), so that no terminal wraps it
/// mid-word.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(2);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let used = self::width(&line);
        if used > 0 && used + 1 + self::width(word) <= width {
            line.push(' ');
            line.push_str(word);
            continue;
        }
        if used > 0 {
            lines.push(std::mem::take(&mut line));
        }
        // A word wider than a line is cut by cells (a wide character takes two).
        let mut w = 0;
        for c in word.chars() {
            let cw = char_width(c);
            if w + cw > width {
                lines.push(std::mem::take(&mut line));
                w = 0;
            }
            line.push(c);
            w += cw;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The lock question, asked in this terminal (inline, or in a popup by `panechat lock-prompt`).
/// What is busy and who holds it is printed first, wrapped at spaces to the terminal's width;
/// the menu's own prompt stays one short row (a prompt that wraps makes the menu redraw over the
/// wrong rows). With `go_to` (the holder's pane, when it can be visited), a second "keep
/// waiting" row also goes there: the answer then comes with `true`. Esc is Cancel.
pub fn lock_question(what: &str, holder: &str, go_to: Option<&str>) -> Result<(LockAnswer, bool)> {
    let term = Term::stderr();
    let width = term.size_checked().map_or(80, |(_, w)| w as usize);
    let about = format!("{what} is in use ({holder}).");
    for line in wrap(&about, width.saturating_sub(1)) {
        let _ = term.write_line(&line);
    }
    let mut items: Vec<(String, LockAnswer, bool)> =
        vec![("Keep waiting".into(), LockAnswer::Wait, false)];
    if let Some(p) = go_to {
        items.push((
            format!(
                "Keep waiting, and go to pane {}",
                panechat::title::sanitize_title(p)
            ),
            LockAnswer::Wait,
            true,
        ));
    }
    items.push(("Start a new conversation".into(), LockAnswer::New, false));
    items.push((
        "Fork it and continue in the copy".into(),
        LockAnswer::Fork,
        false,
    ));
    items.push(("Cancel".into(), LockAnswer::Cancel, false));
    let labels: Vec<&str> = items.iter().map(|(l, _, _)| l.as_str()).collect();
    let choice = Select::with_theme(&ColorfulTheme::default())
        .with_prompt("What now?")
        .items(&labels)
        .default(0)
        .interact_on_opt(&term)
        .map_err(ui_err)?;
    Ok(match choice {
        Some(i) => (items[i].1, items[i].2),
        None => (LockAnswer::Cancel, false),
    })
}

/// Asks yes/no (default no) after `about`, which is printed first, wrapped at spaces to the
/// terminal's width and free of controls: the question itself stays one short row (a prompt
/// that wraps makes the prompt redraw over the wrong rows, duplicating it). Esc is `None`.
pub fn confirm(about: &str, prompt: &str) -> Result<Option<bool>> {
    let term = Term::stderr();
    let width = term.size_checked().map_or(80, |(_, w)| w as usize);
    let about = panechat::title::strip_terminal_controls(about);
    for line in wrap(&about, width.saturating_sub(1)) {
        let _ = term.write_line(&line);
    }
    Confirm::with_theme(&ColorfulTheme::default())
        .with_prompt(prompt)
        .default(false)
        .interact_on_opt(&term)
        .map_err(ui_err)
}

/// Reads one line on the terminal after `prompt` (for `panechat q --prompt` in popups): Enter
/// sends, Esc or Ctrl-C cancels (`None`), Backspace, Ctrl-U (clear) and Ctrl-W (delete a word)
/// edit. The line is redrawn on one row, showing its end when it is longer than the row.
pub fn read_line(prompt: &str) -> Result<Option<String>> {
    if !can_ask() {
        return Err(Error::Unavailable {
            message: "--prompt needs a terminal to read the question from; pass the question as arguments instead".into(),
        });
    }
    let _keys = NoEcho::start();
    let term = Term::stderr();
    let width = usize::from(term.size().1).max(20);
    let prompt = truncate(prompt, width / 2);
    let room = width.saturating_sub(prompt.chars().count() + 1).max(4);
    let mut line: Vec<char> = Vec::new();
    let draw = |line: &[char]| {
        let skip = line.len().saturating_sub(room);
        let shown: String = line[skip..].iter().collect();
        let _ = term.write_str(&format!("\r\x1b[K{prompt}{shown}"));
    };
    draw(&line);
    loop {
        let key = term.read_key().map_err(|e| {
            if e.kind() == std::io::ErrorKind::Interrupted {
                Error::Cancelled("cancelled".into())
            } else {
                Error::Terminal {
                    message: format!("cannot read the terminal: {e}"),
                    source: e,
                }
            }
        })?;
        match key {
            console::Key::Enter => {
                // The whole question stays on screen above the answer (wrapped by the terminal).
                let text: String = line.into_iter().collect();
                let _ = term.write_str(&format!("\r\x1b[K{prompt}{text}\r\n"));
                return Ok(Some(text));
            }
            console::Key::Escape | console::Key::CtrlC => {
                let _ = term.write_str("\r\n");
                return Ok(None);
            }
            console::Key::Backspace => {
                line.pop();
            }
            console::Key::Char('\u{15}') => line.clear(),
            console::Key::Char('\u{17}') => {
                while line.last().is_some_and(|c| c.is_whitespace()) {
                    line.pop();
                }
                while line.last().is_some_and(|c| !c.is_whitespace()) {
                    line.pop();
                }
            }
            console::Key::Char('\u{4}') if line.is_empty() => {
                let _ = term.write_str("\r\n");
                return Ok(None);
            }
            console::Key::Char(c) if !c.is_control() => line.push(c),
            _ => continue,
        }
        draw(&line);
    }
}

/// The terminal's echo and line editing turned off while it lives (restored when dropped), for
/// a question read with [`read_line`]: what is typed before it is asked (a question and its
/// Enter typed at once into a pane that is still starting) would otherwise be echoed, and the
/// question then shown twice; a key typed between two reads would be edited by the terminal.
pub struct NoEcho {
    saved: nix::sys::termios::Termios,
}

impl NoEcho {
    /// Turns the echo and line editing of stdin's terminal off; `None` when stdin is not a
    /// terminal.
    pub fn start() -> Option<NoEcho> {
        use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut quiet = saved.clone();
        // (and no line editing by the terminal: a Ctrl-W, Ctrl-U or Backspace typed while the
        // question is read is [`read_line`]'s to apply, even between two of its reads)
        quiet
            .local_flags
            .remove(LocalFlags::ECHO | LocalFlags::ICANON | LocalFlags::IEXTEN);
        quiet.control_chars[nix::sys::termios::SpecialCharacterIndices::VMIN as usize] = 1;
        quiet.control_chars[nix::sys::termios::SpecialCharacterIndices::VTIME as usize] = 0;
        tcsetattr(&stdin, SetArg::TCSANOW, &quiet).ok()?;
        Some(NoEcho { saved })
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        let _ = nix::sys::termios::tcsetattr(
            std::io::stdin(),
            nix::sys::termios::SetArg::TCSANOW,
            &self.saved,
        );
    }
}

/// Waits for a key before the command ends, so a popup or floating pane that closes with its
/// command stays readable (`panechat q --hold`). Does nothing when stdin is not a terminal.
pub fn hold() {
    if !std::io::stdin().is_terminal() {
        return;
    }
    let term = Term::stderr();
    let _ = term.write_str(&format!(
        "\n{}",
        console::style("press any key to close").dim()
    ));
    let _ = term.read_key();
    let _ = term.write_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_only_overlong_words() {
        assert_eq!(
            wrap(
                "conversation \"Rust\" is in use (tmux pane %3, pid 42).",
                20
            ),
            vec![
                "conversation \"Rust\"",
                "is in use (tmux pane",
                "%3, pid 42)."
            ]
        );
        assert_eq!(wrap("abcdefghij xy", 4), vec!["abcd", "efgh", "ij", "xy"]);
        assert_eq!(wrap("", 10), vec![""]);
        for line in wrap(&"word ".repeat(50), 13) {
            assert!(line.chars().count() <= 13, "{line:?}");
        }
        // Wide characters take two cells each.
        assert_eq!(
            wrap("\"日本語のタイトル\" is in use", 20),
            vec!["\"日本語のタイトル\"", "is in use"]
        );
        assert_eq!(
            wrap("日本語のタイトル", 6),
            vec!["日本語", "のタイ", "トル"]
        );
    }

    #[test]
    fn turns_are_counted_in_english() {
        assert_eq!(turns(0), "0 turns");
        assert_eq!(turns(1), "1 turn");
        assert_eq!(turns(2), "2 turns");
    }
}
