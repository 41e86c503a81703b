//! Whose name a pane shows. Zellij shows a pane's given name (from `rename-pane`, `Ctrl p c`,
//! this plugin, or a layout such as the one that brings a session back) and otherwise the title
//! its program set; the plugin sees only the result. The session's layout lists the given
//! names ([`given_names`]), and a given name is the plugin's when it has the shape of
//! `title_format` ([`Format::is_ours`]); any other given name is the user's.

use crate::config::Config;
use crate::text;

/// The fixed text around the conversation's title in the names the plugin gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    /// (before, after) the title, for each form a name can take (plain, busy, held, both).
    shapes: Vec<(String, String)>,
}

/// The text of `format` before its first placeholder and after its last one (`None` when it
/// has none).
fn around(format: &str) -> Option<(String, String)> {
    let places = ["{title}", "{id}"];
    let first = places.iter().filter_map(|p| format.find(p)).min()?;
    let (last, len) = places
        .iter()
        .filter_map(|p| format.rfind(p).map(|i| (i, p.len())))
        .max()?;
    Some((
        text::inert(&format[..first]),
        text::inert(&format[last + len..]),
    ))
}

impl Format {
    /// The shapes of the names the plugin gives with these options.
    pub fn new(cfg: &Config) -> Format {
        let mut shapes = Vec::new();
        for (running, held) in [(false, false), (true, false), (false, true), (true, true)] {
            if let Some(s) = around(&cfg.name_format(running, held)) {
                shapes.push(s);
            }
        }
        Format { shapes }
    }

    /// Whether `name` is one the plugin gives (or gave, for a conversation since gone): it
    /// starts with the format's text before the title and ends with the text after it (or was
    /// cut, ending in `…`). A format with no text of its own around `{title}` matches nothing:
    /// every given name is then the user's.
    pub fn is_ours(&self, name: &str) -> bool {
        self.shapes.iter().any(|(before, after)| {
            let (before, after) = (before.trim(), after.trim());
            if before.is_empty() && after.is_empty() {
                return false;
            }
            let Some(rest) = name.strip_prefix(before) else {
                return false;
            };
            rest.ends_with(after) || rest.ends_with('…')
        })
    }
}

/// The names given to panes in a session layout (KDL, as `dump_session_layout` and `zellij
/// action dump-layout` write it): each `pane` node's `name="…"`. Tab names and plugin panes'
/// names are not pane names of interest and are skipped.
pub fn given_names(kdl: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in kdl.lines() {
        let line = line.trim_start();
        if !(line.starts_with("pane ") || line.starts_with("pane\t")) {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("name=") {
            let before = rest[..i].chars().last();
            rest = &rest[i + 5..];
            if before.is_some_and(|c| !c.is_whitespace()) {
                continue;
            }
            if let Some((value, tail)) = kdl_string(rest) {
                out.push(value);
                rest = tail;
            }
        }
    }
    out
}

/// The KDL string at the start of `s` (`"…"` with escapes, or a raw `r#"…"#`) and what follows.
fn kdl_string(s: &str) -> Option<(String, &str)> {
    if let Some(raw) = s.strip_prefix('r') {
        let hashes = raw.chars().take_while(|&c| c == '#').count();
        let body = raw[hashes..].strip_prefix('"')?;
        let close = format!("\"{}", "#".repeat(hashes));
        let end = body.find(&close)?;
        return Some((body[..end].to_string(), &body[end + close.len()..]));
    }
    let body = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut it = body.char_indices();
    while let Some((i, c)) = it.next() {
        match c {
            '"' => return Some((out, &body[i + 1..])),
            '\\' => match it.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let (_, open) = it.next()?;
                    if open != '{' {
                        return None;
                    }
                    let mut hex = String::new();
                    for (_, h) in it.by_ref() {
                        if h == '}' {
                            break;
                        }
                        hex.push(h);
                    }
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_names_are_read_from_pane_nodes_only() {
        let kdl = r##"layout {
    cwd "/tmp"
    tab name="Tab #1" focus=true {
        pane size=1 borderless=true {
            plugin location="zellij:tab-bar"
        }
        pane split_direction="vertical" {
            pane name="💬 Alpha \"topic\"" cwd="x" focus=true
            pane command="bash" name="my build" {
                args "-c" "x name=\"no\""
            }
            pane cwd="y"
        }
    }
    floating_panes {
        pane name=r#"raw "one""# x=1
    }
}"##;
        assert_eq!(
            given_names(kdl),
            ["💬 Alpha \"topic\"", "my build", "raw \"one\""]
        );
    }

    #[test]
    fn names_of_the_plugins_shape_are_its_own() {
        let f = Format::new(&Config::default());
        assert!(f.is_ours("💬 Alpha topic"));
        assert!(f.is_ours("💬 a very long title that was cut…"));
        assert!(!f.is_ours("build"));
        assert!(!f.is_ours("Pane #1"));
        let cfg = Config {
            title_format: "[{title}] chat".into(),
            ..Config::default()
        };
        let f = Format::new(&cfg);
        assert!(f.is_ours("[x] chat"));
        assert!(f.is_ours("[x] chat ●"), "busy");
        assert!(
            f.is_ours("[x] chat ● 🔒"),
            "waiting for another pane's query"
        );
        assert!(!f.is_ours("[x] other"));
        let bare = Config {
            title_format: "{title}".into(),
            running_format: "{name}".into(),
            held_format: "{name}".into(),
            ..Config::default()
        };
        assert!(!Format::new(&bare).is_ours("anything"));
    }
}
