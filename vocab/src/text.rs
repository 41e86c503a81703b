//! Text that came from elsewhere (a model's title, a pane's title, an error from another
//! program) made inert before it reaches a terminal, a pane frame or a status bar.

/// The longest title panechat stores or shows, in characters.
pub const MAX_TITLE_CHARS: usize = 80;

/// Whether a terminal interprets `c`: a C0 control, DEL or a C1 control.
pub fn is_terminal_control(c: char) -> bool {
    c.is_control()
}

/// Whether `c` must never be left in a one-line text on screen: a terminal control
/// ([`is_terminal_control`]) or a Unicode bidirectional mark, override or isolate (which
/// reorder the rest of a line).
pub fn is_control(c: char) -> bool {
    is_terminal_control(c)
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` as one inert line of at most `max` characters: whitespace (line breaks, tabs) and ESC
/// separate words, every other control ([`is_control`]) is dropped, runs of spaces become one
/// and the ends are trimmed. What remains is kept exactly as written. Stops reading `s` once
/// `max` characters are out.
pub fn inert_to(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(4 * max.min(1 << 16)));
    let mut pending_space = false;
    let mut count = 0;
    for c in s.chars() {
        if c.is_whitespace() || is_control(c) {
            // ESC separates too, so "a\x1b]2;b" cannot glue words into what looked like one.
            if c.is_whitespace() || c == '\u{1b}' {
                pending_space = count > 0;
            }
            continue;
        }
        if pending_space {
            if count + 1 >= max {
                break;
            }
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        if count >= max {
            break;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// `s` as one inert line ([`inert_to`] without a limit).
pub fn inert(s: &str) -> String {
    inert_to(s, usize::MAX)
}

/// `s` without terminal controls, keeping its line breaks and tabs: text with several lines
/// (a streamed reply) bound for a terminal.
pub fn strip_terminal_controls(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| is_terminal_control(c) && c != '\n' && c != '\t';
    if !s.chars().any(bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(s.chars().filter(|&c| !bad(c)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_goes_and_the_rest_stays_literally() {
        let hostile =
            "#(touch M1) #[fg=red] ; kill-server $(touch M2)\x1b]2;pwned\x07\u{9b}31m\x7f\u{202e}x";
        let s = inert(hostile);
        assert_eq!(
            s,
            "#(touch M1) #[fg=red] ; kill-server $(touch M2) ]2;pwned31mx"
        );
        assert!(!s.chars().any(is_control));
        let s = inert("a\x1b]2;evil\x07b\u{9b}31mc\x7fd\r\ne\u{85}f\u{2066}g");
        assert_eq!(s, "a ]2;evilb31mcd e fg");
    }

    #[test]
    fn whitespace_folds_to_single_spaces() {
        assert_eq!(inert("  a\n\n\tb \r\n c  "), "a b c");
        assert_eq!(inert("a\u{a0}\u{2003}b"), "a b");
        assert_eq!(inert("\x1b\x1b"), "");
        let kdl = "pane { plugin location=\"file:/x.wasm\" }; \"quoted\" // comment";
        assert_eq!(inert(kdl), kdl);
    }

    #[test]
    fn the_limit_counts_characters_and_never_ends_in_a_space() {
        assert_eq!(
            inert_to(&"x".repeat(500), MAX_TITLE_CHARS).chars().count(),
            80
        );
        let words = inert_to(&"word ".repeat(100), MAX_TITLE_CHARS);
        assert!(words.chars().count() <= MAX_TITLE_CHARS && !words.ends_with(' '));
        assert_eq!(inert_to("日本語", 2), "日本");
        assert_eq!(inert_to("ab cd", 3), "ab");
        assert_eq!(inert_to("abc", 0), "");
    }

    #[test]
    fn multi_line_text_keeps_its_lines() {
        assert_eq!(strip_terminal_controls("a\nb\tc"), "a\nb\tc");
        assert_eq!(strip_terminal_controls("a\x1b[2Jb\x07"), "a[2Jb");
        assert_eq!(strip_terminal_controls("\u{202e}x"), "\u{202e}x");
    }
}
