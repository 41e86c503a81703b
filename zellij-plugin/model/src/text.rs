//! Text that came from elsewhere (a model's title, a pane's title): made inert and fitted to
//! a width.
//!
//! Pane names are set with `rename_terminal_pane`, which Zellij stores literally (no format
//! expansion, no shell), so the only danger is terminal control sequences, which Zellij would
//! pass to every attached terminal when it draws the pane frame. [`inert`] (panechat's own,
//! from `panechat-vocab`) removes them.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

pub use panechat_vocab::text::{inert, is_control};

/// At most `max` characters of `s`, ending in `…` when it was cut.
pub fn cap_chars(s: &str, max: usize) -> String {
    if max == 0 {
        return String::new();
    }
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Display width of `s` in terminal cells (wide characters count two).
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to at most `cells` terminal cells (with `…` when cut), without padding.
pub fn truncate(s: &str, cells: usize) -> String {
    if width(s) <= cells {
        return s.to_string();
    }
    if cells == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > cells - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `s` fitted to exactly `cells` terminal cells: cut with `…`, or padded with spaces.
pub fn fit(s: &str, cells: usize) -> String {
    let mut out = truncate(s, cells);
    let w = width(&out);
    out.extend(std::iter::repeat_n(' ', cells.saturating_sub(w)));
    out
}

/// `s` right-aligned in `cells` terminal cells (cut when longer).
pub fn fit_right(s: &str, cells: usize) -> String {
    let cut = truncate(s, cells);
    let pad = cells.saturating_sub(width(&cut));
    let mut out = " ".repeat(pad);
    out.push_str(&cut);
    out
}

/// `s` broken into lines of at most `cells` terminal cells, at spaces where it can (a word
/// longer than a line is broken inside); nothing is cut.
pub fn wrap(s: &str, cells: usize) -> Vec<String> {
    let cells = cells.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let sep = usize::from(!line.is_empty());
        if !line.is_empty() && width(&line) + sep + width(word) > cells {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        for c in word.chars() {
            let w = c.width().unwrap_or(0);
            if width(&line) + w > cells && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_count_wide_characters_twice() {
        assert_eq!(width("日本語"), 6);
        assert_eq!(fit("日本語", 5), "日本…");
        assert_eq!(width(&fit("日本語", 5)), 5);
        assert_eq!(fit("ab", 4), "ab  ");
        assert_eq!(fit_right("ab", 4), "  ab");
        assert_eq!(truncate("💬 chat", 3), "💬…");
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn wrapping_keeps_every_word_within_the_width() {
        assert_eq!(wrap("ab cd ef", 5), ["ab cd", "ef"]);
        assert_eq!(wrap("abcdefg", 3), ["abc", "def", "g"]);
        assert_eq!(wrap("日本語 ok", 4), ["日本", "語", "ok"]);
        assert_eq!(wrap("", 4), [""]);
        for l in wrap(
            "permissions denied: delete ~/.cache/zellij/permissions.kdl",
            10,
        ) {
            assert!(width(&l) <= 10, "{l}");
        }
    }

    #[test]
    fn caps_count_characters() {
        assert_eq!(cap_chars("abcdef", 4), "abc…");
        assert_eq!(cap_chars("日本語", 3), "日本語");
        assert_eq!(cap_chars("x", 0), "");
    }
}
