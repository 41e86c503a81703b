//! Making model-written text safe for terminals, titles and status bars.
//!
//! Titles come from a model, so they are hostile input. Before any of it reaches an OSC title, a
//! tmux option, a status bar or a user var, every C0 control, ESC, DEL, C1 control and bidi
//! override is removed, whitespace runs are folded to one space and the length is capped: the
//! rule is `panechat_vocab::text`'s, which the Zellij plugin shares.

/// Whether a terminal interprets `c` (C0, DEL, C1): what no text panechat prints may carry.
pub use panechat_vocab::text::is_terminal_control as is_control;
pub use panechat_vocab::text::{strip_terminal_controls, MAX_TITLE_CHARS};

/// Removes every control character and folds whitespace, keeping at most [`MAX_TITLE_CHARS`]
/// characters: the form every title is kept in ([`panechat_vocab::text::inert_to`]).
pub fn sanitize_title(raw: &str) -> String {
    panechat_vocab::text::inert_to(raw, MAX_TITLE_CHARS)
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

/// Cuts text to `n` columns with an ellipsis. Its width is measured once, and text of printable
/// ASCII alone (one column a byte) is cut without measuring again.
pub fn truncate(s: &str, n: usize) -> String {
    if s.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        if s.len() <= n {
            return s.to_string();
        }
        let mut t = String::with_capacity(n + 2);
        t.push_str(&s[..n.saturating_sub(1)]);
        t.push('…');
        return t;
    }
    if width(s) <= n {
        return s.to_string();
    }
    let mut t = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = if (' '..='~').contains(&c) {
            1
        } else {
            char_width(c)
        };
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
    fn truncate_cuts_by_columns_as_measured_char_by_char() {
        // What `truncate` did before it measured once: every character measured on its own.
        fn by_char(s: &str, n: usize) -> String {
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
        let texts = [
            "",
            "plain title",
            "exactly twelve",
            "日本語のタイトル",
            "mixed 日本 text with ascii",
            "e\u{301}te\u{301} combining",
            "tab\there",
            "esc \x1b[31mred\x1b[0m",
            "emoji 👍🏽 and ♯ sharp",
            "~~~ ascii edges !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}",
        ];
        for t in texts {
            for n in 0..30 {
                assert_eq!(truncate(t, n), by_char(t, n), "{t:?} at {n}");
            }
        }
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("日本語のタイトル", 7), "日本語…");
    }

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
}
