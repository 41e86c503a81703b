//! Making model-written text safe for terminals, titles and status bars.
//!
//! Titles come from a model, so they are hostile input. Before any of it reaches an OSC title, a
//! tmux option, a status bar or a user var, every C0 control, ESC, DEL and C1 control is removed,
//! whitespace runs are folded to one space and the length is capped.

/// The longest title panechat stores or shows, in characters.
pub const MAX_TITLE_CHARS: usize = 80;

/// Whether `c` is a C0 control, DEL or a C1 control.
pub fn is_control(c: char) -> bool {
    let u = c as u32;
    u < 0x20 || u == 0x7f || (0x80..=0x9f).contains(&u)
}

/// Removes every control character and folds whitespace: the form every title is kept in.
pub fn sanitize_title(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(4 * MAX_TITLE_CHARS));
    let mut pending_space = false;
    let mut count = 0;
    for c in raw.chars() {
        if c.is_whitespace() || is_control(c) {
            // Controls become separators so "a\x1b]2;b" cannot glue words into a sequence.
            if c.is_whitespace() || c == '\u{1b}' {
                pending_space = !out.is_empty();
            }
            continue;
        }
        if pending_space {
            if count + 1 >= MAX_TITLE_CHARS {
                break;
            }
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        if count >= MAX_TITLE_CHARS {
            break;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// What stands for `#` in text panechat leaves in a multiplexer: U+266F MUSIC SHARP SIGN, which
/// reads the same (`C♯ generics`) and starts no tmux format, style or command.
pub const HASH_STAND_IN: char = '\u{266f}';

/// The form of a title (or any other text derived from a model or a user) that panechat leaves
/// in a multiplexer or a terminal title: tmux pane titles and `@panechat_*` options, the OSC 2
/// title, WezTerm user vars and tab titles, Zellij pane names.
///
/// The rule holds against any later reader, not only panechat's own calls: every tmux format,
/// style and command substitution starts with `#` (`#{…}`, `#[…]`, `#(…)`), and text left in
/// tmux is expanded again by others (tmux-resurrect replays `pane_title` through
/// `select-pane -T`, a user's `status-left` draws `#{pane_title}` and parses styles in it). So
/// the text carries no `#` at all: each becomes [`HASH_STAND_IN`]. It also never ends in `;` or
/// `\` (an argument ending in `;` separates tmux commands when replayed), and carries no control
/// character ([`sanitize_title`]). Re-reading it any number of times gives it back unchanged.
pub fn pane_text(raw: &str) -> String {
    let clean = sanitize_title(raw);
    let mut out: String = clean
        .chars()
        .map(|c| if c == '#' { HASH_STAND_IN } else { c })
        .collect();
    while out.ends_with([';', '\\', ' ']) {
        out.pop();
    }
    out
}

/// Cleans a model's answer to a title request: first non-empty line, quotes, a `Title:` label and
/// trailing punctuation removed, then [`sanitize_title`].
pub fn clean_generated_title(raw: &str) -> String {
    let line = raw
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut t = line;
    for label in ["Title:", "title:", "TITLE:"] {
        if let Some(rest) = t.strip_prefix(label) {
            t = rest.trim_start();
        }
    }
    let t = t.trim_matches(|c: char| matches!(c, '"' | '\'' | '`' | '*' | '#' | '“' | '”'));
    let t = t.trim_end_matches(['.', ' ']);
    sanitize_title(t)
}

/// Removes controls from streamed reply text bound for a terminal, keeping newlines and tabs.
pub fn strip_terminal_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| is_control(c) && c != '\n' && c != '\t')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .filter(|&c| !is_control(c) || c == '\n' || c == '\t')
            .collect(),
    )
}

/// The columns `s` takes on a terminal (wide characters such as CJK take two, combining marks
/// none).
pub fn width(s: &str) -> usize {
    console::measure_text_width(s)
}

/// The columns one character takes.
pub fn char_width(c: char) -> usize {
    let mut buf = [0u8; 4];
    console::measure_text_width(c.encode_utf8(&mut buf))
}

/// Cuts text to `n` columns with an ellipsis.
pub fn truncate(s: &str, n: usize) -> String {
    if width(s) <= n {
        return s.to_string();
    }
    let mut t = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = char_width(c);
        if w + cw > n.saturating_sub(1) {
            break;
        }
        t.push(c);
        w += cw;
    }
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pane_text_carries_nothing_tmux_expands() {
        let t = pane_text("#(touch PWNED) #{pane_id} #[fg=red]C# ##x \x1b]2;y\x07 end;\\;");
        assert!(!t.contains('#'), "{t}");
        assert_eq!(t, "♯(touch PWNED) ♯{pane_id} ♯[fg=red]C♯ ♯♯x ]2;y end");
        assert_eq!(pane_text(&t), t, "re-reading changes nothing");
        assert_eq!(pane_text(";;"), "");
        assert_eq!(pane_text("plain title"), "plain title");
    }

    #[test]
    fn strips_every_control() {
        let hostile = "a\x1b]2;evil\x07b\u{9b}31mc\x7fd\r\ne\u{85}f";
        let s = sanitize_title(hostile);
        assert!(!s.chars().any(is_control), "{s:?}");
        assert_eq!(s, "a ]2;evilb31mcd e f");
    }

    #[test]
    fn folds_whitespace_and_caps_length() {
        assert_eq!(sanitize_title("  a \t\n b  "), "a b");
        let long = "x".repeat(500);
        assert_eq!(sanitize_title(&long).chars().count(), MAX_TITLE_CHARS);
        let words = "word ".repeat(100);
        assert!(sanitize_title(&words).chars().count() <= MAX_TITLE_CHARS);
    }

    #[test]
    fn generated_titles_are_cleaned() {
        assert_eq!(
            clean_generated_title("\"Rust lifetimes.\"\n"),
            "Rust lifetimes"
        );
        assert_eq!(
            clean_generated_title("Title: **Fixing tmux**"),
            "Fixing tmux"
        );
        assert_eq!(
            clean_generated_title("\n\n  \x1b[31mRed\x1b[0m "),
            "[31mRed [0m"
        );
    }

    #[test]
    fn reply_text_keeps_newlines() {
        assert_eq!(strip_terminal_controls("a\nb\tc"), "a\nb\tc");
        assert_eq!(strip_terminal_controls("a\x1b[2Jb\x07"), "a[2Jb");
    }
}
