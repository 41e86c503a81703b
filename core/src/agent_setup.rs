//! What `panechat init claude|codex` adds to an agent's own configuration, and takes out again:
//! Claude Code's hooks in its `settings.json`, Codex's `notify` program in its `config.toml`.
//!
//! Both edits are pure functions of the file's text (the command reads and writes the file):
//! everything else in the file is kept as it is (JSON keys in their order, TOML text
//! untouched), adding twice changes nothing, and removing takes out exactly what was added. A
//! user's own Codex `notify` program is kept: panechat's hook runs it (`--then`).

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// The Claude Code hook events panechat listens to.
pub const CLAUDE_EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PermissionRequest",
    "Notification",
    "Stop",
    "SessionEnd",
];

/// How long Claude Code lets panechat's hook run, in seconds (it takes milliseconds).
pub const CLAUDE_HOOK_TIMEOUT: u64 = 10;

/// The line panechat writes above its `notify` in Codex's config.
pub const CODEX_MARK: &str =
    "# panechat: agent state in the pane (`panechat init codex --remove` takes it out)";

/// A JSON value that keeps its objects' keys in their order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true`, `false`
    Bool(bool),
    /// A number, as parsed.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, its members in order.
    Object(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        match self {
            Json::Object(m) => m.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    fn obj(members: Vec<(&str, Json)>) -> Json {
        Json::Object(
            members
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Json, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> std::result::Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, b: bool) -> std::result::Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> std::result::Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> std::result::Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> std::result::Result<Json, E> {
                serde_json::Number::from_f64(n)
                    .map(Json::Number)
                    .ok_or_else(|| E::custom("a number JSON cannot hold"))
            }
            fn visit_str<E>(self, s: &str) -> std::result::Result<Json, E> {
                Ok(Json::String(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> std::result::Result<Json, E> {
                Ok(Json::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> std::result::Result<Json, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Json::Array(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> std::result::Result<Json, A::Error> {
                let mut m: Vec<(String, Json)> = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, Json>()? {
                    // (a repeated key: the last one counts, as for every JSON reader Claude uses)
                    match m.iter_mut().find(|(key, _)| *key == k) {
                        Some(e) => e.1 = v,
                        None => m.push((k, v)),
                    }
                }
                Ok(Json::Object(m))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(x) => s.serialize_str(x),
            Json::Array(v) => {
                let mut seq = s.serialize_seq(Some(v.len()))?;
                for x in v {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            Json::Object(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Why a configuration file cannot be edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// The hook command `panechat` writes into Claude Code's settings: `bin` shell-quoted (Claude
/// Code runs it through a shell).
pub fn claude_command(bin: &str) -> String {
    format!("{} hook claude", crate::shell::quote(bin))
}

/// Whether `command` is a panechat hook for Claude Code (any binary path, quoted or not),
/// also when the user put variables before it (`PANECHAT_LOG=debug panechat hook claude`,
/// `env PANECHAT_LOG=debug …`).
fn is_claude_hook(command: &str) -> bool {
    let Some(rest) = command.trim_end().strip_suffix(" hook claude") else {
        return false;
    };
    let rest = rest.trim();
    let split_quoted = |q: char| {
        let inner = rest.strip_suffix(q)?;
        let i = inner.rfind(q)?;
        Some((&inner[..i], &inner[i + 1..]))
    };
    let (before, prog) = match rest.chars().last() {
        Some(q @ ('\'' | '"')) => match split_quoted(q) {
            Some(parts) => parts,
            None => return false,
        },
        _ => match rest.rfind(char::is_whitespace) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => ("", rest),
        },
    };
    let assignment = |w: &str| {
        w == "env"
            || w.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
    };
    !prog.contains(['\'', '"']) && before.split_whitespace().all(assignment) && is_panechat(prog)
}

/// Whether `prog` (a path) is a panechat binary: its file is named `panechat`, or so with
/// something after it (`panechat-0.3`), or hidden (Nix runs `.panechat-wrapped`). This
/// binary may be any of them: what `--write` added is recognised again (not added twice) and
/// taken out by `--remove`.
fn is_panechat(prog: &str) -> bool {
    let name = prog.rsplit('/').next().unwrap_or(prog);
    let name = name.strip_prefix('.').unwrap_or(name);
    name.strip_prefix("panechat")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '.', '_']))
}

fn hook_entry(command: &str) -> Json {
    Json::obj(vec![
        ("type", Json::String("command".into())),
        ("command", Json::String(command.into())),
        ("timeout", Json::Number(CLAUDE_HOOK_TIMEOUT.into())),
    ])
}

/// The hooks object panechat adds (what `init claude` prints).
pub fn claude_snippet(command: &str) -> String {
    let hooks = CLAUDE_EVENTS
        .iter()
        .map(|e| {
            (
                e.to_string(),
                Json::Array(vec![Json::obj(vec![
                    ("matcher", Json::String(String::new())),
                    ("hooks", Json::Array(vec![hook_entry(command)])),
                ])]),
            )
        })
        .collect();
    let doc = Json::obj(vec![("hooks", Json::Object(hooks))]);
    pretty(&doc)
}

fn pretty(doc: &Json) -> String {
    let mut s = serde_json::to_string_pretty(doc).expect("JSON serialises");
    s.push('\n');
    s
}

fn parse_settings(text: &str) -> Result<Json, Refusal> {
    if text.trim().is_empty() {
        return Ok(Json::Object(Vec::new()));
    }
    let doc: Json = serde_json::from_str(text).map_err(|e| {
        Refusal(format!(
            "is not valid JSON ({e}); fix it (or move it away), then run this again: nothing was changed"
        ))
    })?;
    if !matches!(doc, Json::Object(_)) {
        return Err(Refusal(
            "is not a JSON object; fix it (or move it away), then run this again: nothing was changed".into(),
        ));
    }
    Ok(doc)
}

/// Every hook command inside one event's list of matcher groups.
fn commands_of(groups: &Json) -> Vec<&str> {
    let Json::Array(groups) = groups else {
        return Vec::new();
    };
    groups
        .iter()
        .filter_map(|g| match g.get("hooks") {
            Some(Json::Array(h)) => Some(h),
            _ => None,
        })
        .flatten()
        .filter_map(|h| h.get("command").and_then(Json::str))
        .collect()
}

/// Claude Code's settings (`text`, empty when the file is missing) with panechat's hooks
/// (`command`) added to each of [`CLAUDE_EVENTS`]: `None` when they are all there already. A
/// panechat hook of another binary path is updated in place; every other key and hook stays.
pub fn claude_add(text: &str, command: &str) -> Result<Option<String>, Refusal> {
    let mut doc = parse_settings(text)?;
    let Json::Object(root) = &mut doc else {
        unreachable!("checked")
    };
    if !root.iter().any(|(k, _)| k == "hooks") {
        root.push(("hooks".into(), Json::Object(Vec::new())));
    }
    let Some(Json::Object(hooks)) = doc.get_mut("hooks") else {
        return Err(Refusal(
            "has a \"hooks\" member that is not an object; fix it, then run this again: nothing was changed".into(),
        ));
    };
    let mut changed = false;
    for event in CLAUDE_EVENTS {
        if !hooks.iter().any(|(k, _)| k == event) {
            hooks.push((event.to_string(), Json::Array(Vec::new())));
        }
        let (_, groups) = hooks.iter_mut().find(|(k, _)| k == event).expect("added");
        let Json::Array(list) = groups else {
            return Err(Refusal(format!(
                "has hooks for {event} that are not a list; fix it, then run this again: nothing was changed"
            )));
        };
        let mut found = false;
        for g in list.iter_mut() {
            if let Some(Json::Array(hs)) = g.get_mut("hooks") {
                for h in hs.iter_mut() {
                    let ours = h
                        .get("command")
                        .and_then(Json::str)
                        .is_some_and(is_claude_hook);
                    if ours {
                        found = true;
                        if h.get("command").and_then(Json::str) != Some(command) {
                            if let Some(c) = h.get_mut("command") {
                                *c = Json::String(command.into());
                                changed = true;
                            }
                        }
                    }
                }
            }
        }
        if !found {
            list.push(Json::obj(vec![
                ("matcher", Json::String(String::new())),
                ("hooks", Json::Array(vec![hook_entry(command)])),
            ]));
            changed = true;
        }
    }
    Ok(changed.then(|| pretty(&doc)))
}

/// Claude Code's settings without panechat's hooks: `None` when there are none. A matcher
/// group, an event's list or the `hooks` object left empty by the removal goes too.
pub fn claude_remove(text: &str) -> Result<Option<String>, Refusal> {
    let mut doc = parse_settings(text)?;
    let mut changed = false;
    let mut hooks_emptied = false;
    if let Some(Json::Object(hooks)) = doc.get_mut("hooks") {
        let mut emptied: Vec<String> = Vec::new();
        for (event, groups) in hooks.iter_mut() {
            let Json::Array(list) = groups else { continue };
            let before = list.len();
            let mut removed = 0;
            list.retain_mut(|g| {
                let Some(Json::Array(hs)) = g.get_mut("hooks") else {
                    return true;
                };
                let n = hs.len();
                hs.retain(|h| {
                    !h.get("command")
                        .and_then(Json::str)
                        .is_some_and(is_claude_hook)
                });
                removed += n - hs.len();
                n == hs.len() || !hs.is_empty()
            });
            changed |= removed > 0;
            if removed > 0 && list.is_empty() && before > 0 {
                emptied.push(event.clone());
            }
        }
        hooks.retain(|(k, _)| !emptied.contains(k));
        hooks_emptied = !emptied.is_empty() && hooks.is_empty();
    }
    if hooks_emptied {
        if let Json::Object(root) = &mut doc {
            root.retain(|(k, _)| k != "hooks");
        }
    }
    Ok(changed.then(|| pretty(&doc)))
}

/// Whether Claude Code's settings (`text`) hold panechat's hook for every event.
pub fn claude_installed(text: &str) -> bool {
    let Ok(doc) = parse_settings(text) else {
        return false;
    };
    let Some(hooks) = doc.get("hooks") else {
        return false;
    };
    CLAUDE_EVENTS.iter().all(|e| {
        hooks
            .get(e)
            .is_some_and(|g| commands_of(g).into_iter().any(is_claude_hook))
    })
}

/// A TOML string literal for `s`.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The `notify` line: `[bin, "hook", "codex", ("--then", then…)]`.
pub fn codex_notify_line(bin: &str, then: &[String]) -> String {
    let words: Vec<String> = notify_words(bin, then)
        .iter()
        .map(|w| toml_string(w))
        .collect();
    format!("notify = [{}]", words.join(", "))
}

/// What `init codex` prints.
pub fn codex_snippet(bin: &str) -> String {
    format!(
        "# panechat: add to $CODEX_HOME/config.toml (default ~/.codex/config.toml), above any [table]\n{}\n",
        codex_notify_line(bin, &[])
    )
}

/// The line ending `text` uses: `\r\n` when its first line ends so, else `\n`.
fn line_end(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// A `notify` argv that is panechat's hook: `Some(the chained program's argv)`.
fn ours(argv: &[String]) -> Option<Vec<String>> {
    let [prog, hook, codex, rest @ ..] = argv else {
        return None;
    };
    if !is_panechat(prog) || hook != "hook" || codex != "codex" {
        return None;
    }
    match rest {
        [] => Some(Vec::new()),
        [then, chained @ ..] if then == "--then" && !chained.is_empty() => Some(chained.to_vec()),
        _ => None,
    }
}

/// The lines of `text` that hold the top-level `notify` (its first and last), if any.
fn notify_lines(lines: &[&str]) -> Option<(usize, usize)> {
    let mut start = None;
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        if t.starts_with('[') {
            // (a table: top-level keys are all above it)
            return None;
        }
        let key = t.strip_prefix("notify").map(str::trim_start);
        if key.is_some_and(|r| r.starts_with('=')) {
            start = Some(i);
            break;
        }
    }
    let start = start?;
    for end in start..lines.len() {
        let chunk = lines[start..=end].join("\n");
        if toml::from_str::<toml::Table>(&chunk).is_ok_and(|t| t.contains_key("notify")) {
            return Some((start, end));
        }
    }
    None
}

fn parse_codex(text: &str) -> Result<toml::Table, Refusal> {
    toml::from_str::<toml::Table>(text).map_err(|e| {
        Refusal(format!(
            "is not valid TOML ({}); fix it, then run this again: nothing was changed",
            e.to_string().trim()
        ))
    })
}

/// The user's `notify` argv, when there is one.
fn notify_argv(table: &toml::Table) -> Result<Option<Vec<String>>, Refusal> {
    let Some(v) = table.get("notify") else {
        return Ok(None);
    };
    let argv: Option<Vec<String>> = v
        .as_array()
        .and_then(|a| a.iter().map(|w| w.as_str().map(str::to_string)).collect());
    match argv {
        Some(a) => Ok(Some(a)),
        None => Err(Refusal(
            "has a `notify` that is not a list of strings; fix it, then run this again: nothing was changed".into(),
        )),
    }
}

/// `text`, the edited config, when it holds exactly `old` with `notify` set to `notify` (or
/// taken out): the edit is made on the text's lines, and a line that only looks like the
/// `notify` (inside a multi-line string) must never be what changes.
fn verified(old: &toml::Table, text: String, notify: Option<&[String]>) -> Result<String, Refusal> {
    let mut want = old.clone();
    match notify {
        Some(argv) => {
            let argv = argv
                .iter()
                .map(|w| toml::Value::String(w.clone()))
                .collect();
            want.insert("notify".into(), toml::Value::Array(argv));
        }
        None => {
            want.remove("notify");
        }
    }
    match toml::from_str::<toml::Table>(&text) {
        Ok(got) if got == want => Ok(text),
        _ => Err(Refusal(
            "sets `notify` in a way panechat cannot edit safely (a line that looks like it inside a multi-line string?); nothing was changed: set the line `panechat init codex` prints yourself".into(),
        )),
    }
}

/// The argv of [`codex_notify_line`].
fn notify_words(bin: &str, then: &[String]) -> Vec<String> {
    let mut words = vec![bin.to_string(), "hook".into(), "codex".into()];
    if !then.is_empty() {
        words.push("--then".into());
        words.extend(then.iter().cloned());
    }
    words
}

/// What adding panechat's notify to Codex's config did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodexAdded {
    /// The new text.
    pub text: String,
    /// The user's own notify program, now run by panechat's hook after it (`--then`).
    pub chained: Option<Vec<String>>,
}

/// Codex's config (`text`, empty when missing) with panechat's `notify` (binary `bin`):
/// `None` when it is there already. A `notify` of the user's is kept: panechat's hook runs it
/// (`--then`), and [`codex_remove`] puts it back.
pub fn codex_add(text: &str, bin: &str) -> Result<Option<CodexAdded>, Refusal> {
    let table = parse_codex(text)?;
    let lines: Vec<&str> = text.lines().collect();
    let eol = line_end(text);
    let Some(argv) = notify_argv(&table)? else {
        let mut out = format!("{CODEX_MARK}{eol}{}{eol}", codex_notify_line(bin, &[]));
        if !text.is_empty() {
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push_str(eol);
            }
        }
        return Ok(Some(CodexAdded {
            text: verified(&table, out, Some(&notify_words(bin, &[])))?,
            chained: None,
        }));
    };
    let (fresh, chained) = match ours(&argv) {
        Some(then) => (then.clone(), (!then.is_empty()).then_some(then)),
        None => (argv.clone(), Some(argv)),
    };
    let line = codex_notify_line(bin, &fresh);
    let (start, end) = notify_lines(&lines).ok_or_else(|| {
        Refusal(
            "sets `notify` in a way panechat cannot edit (inside a table, or a dotted key); add the line `panechat init codex` prints yourself".into(),
        )
    })?;
    if start == end && lines[start].trim() == line {
        return Ok(None);
    }
    let mut out: Vec<String> = lines[..start].iter().map(|l| l.to_string()).collect();
    if start == 0 || lines[start - 1].trim() != CODEX_MARK {
        out.push(CODEX_MARK.to_string());
    }
    out.push(line);
    out.extend(lines[end + 1..].iter().map(|l| l.to_string()));
    let mut text = out.join(eol);
    text.push_str(eol);
    let text = verified(&table, text, Some(&notify_words(bin, &fresh)))?;
    Ok(Some(CodexAdded { text, chained }))
}

/// Codex's config without panechat's `notify` (a chained program of the user's becomes the
/// `notify` again): `None` when there is none.
pub fn codex_remove(text: &str) -> Result<Option<String>, Refusal> {
    let table = parse_codex(text)?;
    let Some(argv) = notify_argv(&table)? else {
        return Ok(None);
    };
    let Some(then) = ours(&argv) else {
        return Ok(None);
    };
    let lines: Vec<&str> = text.lines().collect();
    let Some((start, end)) = notify_lines(&lines) else {
        return Ok(None);
    };
    let from = if start > 0 && lines[start - 1].trim() == CODEX_MARK {
        start - 1
    } else {
        start
    };
    let mut out: Vec<String> = lines[..from].iter().map(|l| l.to_string()).collect();
    if !then.is_empty() {
        let words: Vec<String> = then.iter().map(|w| toml_string(w)).collect();
        out.push(format!("notify = [{}]", words.join(", ")));
    }
    out.extend(lines[end + 1..].iter().map(|l| l.to_string()));
    let eol = line_end(text);
    let mut text = out.join(eol);
    if !text.is_empty() {
        text.push_str(eol);
    }
    let notify = (!then.is_empty()).then_some(then.as_slice());
    verified(&table, text, notify).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CMD: &str = "'/opt/bin/panechat' hook claude";

    #[test]
    fn claude_hooks_are_added_once_beside_everything_else() {
        let user = r#"{
  "theme": "dark",
  "hooks": {
    "Stop": [{"matcher": "", "hooks": [{"type": "command", "command": "notify-send done"}]}],
    "PreCompact": [{"hooks": [{"type": "command", "command": "echo x"}]}]
  },
  "permissions": {"allow": ["Bash(ls:*)"], "deny": []},
  "zeta": 1.5
}"#;
        let added = claude_add(user, CMD).unwrap().expect("changed");
        let v: serde_json::Value = serde_json::from_str(&added).unwrap();
        assert_eq!(v["theme"], "dark");
        assert_eq!(v["permissions"]["allow"][0], "Bash(ls:*)");
        assert_eq!(v["zeta"], 1.5);
        assert_eq!(
            v["hooks"]["Stop"][0]["hooks"][0]["command"],
            "notify-send done"
        );
        assert_eq!(v["hooks"]["Stop"][1]["hooks"][0]["command"], CMD);
        assert_eq!(v["hooks"]["PreCompact"][0]["hooks"][0]["command"], "echo x");
        for e in CLAUDE_EVENTS {
            let n = v["hooks"][e].as_array().unwrap().len();
            assert_eq!(n, if *e == "Stop" { 2 } else { 1 }, "{e}");
        }
        // The user's keys keep their order.
        let order: Vec<usize> = ["\"theme\"", "\"hooks\"", "\"permissions\"", "\"zeta\""]
            .iter()
            .map(|k| added.find(k).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{added}");
        assert!(claude_installed(&added));
        assert!(!claude_installed(user));
        assert_eq!(claude_add(&added, CMD).unwrap(), None, "idempotent");
        // Another binary path: updated in place, not added twice.
        let moved = claude_add(&added, "'/usr/bin/panechat' hook claude")
            .unwrap()
            .unwrap();
        assert_eq!(moved.matches("hook claude").count(), CLAUDE_EVENTS.len());
        // Removing gives back what the user had (same members, same order).
        let removed = claude_remove(&added).unwrap().unwrap();
        let back: Json = serde_json::from_str(&removed).unwrap();
        let orig: Json = serde_json::from_str(user).unwrap();
        assert_eq!(back, orig);
        assert_eq!(claude_remove(&removed).unwrap(), None);
    }

    #[test]
    fn claude_settings_from_nothing_and_back_to_nothing() {
        let added = claude_add("", CMD).unwrap().unwrap();
        assert!(claude_installed(&added));
        assert_eq!(claude_remove(&added).unwrap().unwrap(), "{}\n");
        assert_eq!(claude_snippet(CMD), added);
        // A list that holds only panechat's hook goes with it (an empty list means nothing).
        let user = r#"{"hooks": {"Stop": []}, "model": "opus"}"#;
        let back = claude_remove(&claude_add(user, CMD).unwrap().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(back, "{\n  \"model\": \"opus\"\n}\n");
    }

    #[test]
    fn broken_claude_settings_are_refused() {
        for bad in [
            "{",
            "[1]",
            "\"x\"",
            r#"{"hooks": []}"#,
            r#"{"hooks": {"Stop": {}}}"#,
        ] {
            let e = claude_add(bad, CMD).unwrap_err();
            assert!(e.0.contains("nothing was changed"), "{bad}: {}", e.0);
        }
        assert!(claude_remove("{").is_err());
    }

    const BIN: &str = "/opt/bin/panechat";

    #[test]
    fn codex_notify_is_added_above_the_tables_and_removed_again() {
        let user = "# my config\nmodel = \"o3\"\n\n[profiles.x]\nmodel = \"y\"\n";
        let added = codex_add(user, BIN).unwrap().unwrap();
        assert_eq!(added.chained, None);
        let t: toml::Table = toml::from_str(&added.text).unwrap();
        let argv: Vec<&str> = t["notify"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(argv, [BIN, "hook", "codex"]);
        assert_eq!(t["profiles"]["x"]["model"].as_str(), Some("y"));
        assert!(added.text.ends_with(user), "the user's text untouched");
        assert_eq!(codex_add(&added.text, BIN).unwrap(), None, "idempotent");
        assert_eq!(codex_remove(&added.text).unwrap().unwrap(), user);
        assert_eq!(codex_remove(user).unwrap(), None);
        let empty = codex_add("", BIN).unwrap().unwrap();
        assert_eq!(codex_remove(&empty.text).unwrap().unwrap(), "");
    }

    #[test]
    fn a_users_notify_is_chained_and_given_back() {
        let user = "model = \"o3\"\nnotify = [\n  \"python3\",\n  \"/home/me/notify.py\",\n]\napproval_policy = \"never\"\n";
        let added = codex_add(user, BIN).unwrap().unwrap();
        assert_eq!(
            added.chained,
            Some(vec![
                "python3".to_string(),
                "/home/me/notify.py".to_string()
            ])
        );
        let t: toml::Table = toml::from_str(&added.text).unwrap();
        let argv: Vec<&str> = t["notify"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            argv,
            [
                BIN,
                "hook",
                "codex",
                "--then",
                "python3",
                "/home/me/notify.py"
            ]
        );
        assert_eq!(t["approval_policy"].as_str(), Some("never"));
        assert_eq!(codex_add(&added.text, BIN).unwrap(), None, "idempotent");
        let back = codex_remove(&added.text).unwrap().unwrap();
        let t: toml::Table = toml::from_str(&back).unwrap();
        let u: toml::Table = toml::from_str(user).unwrap();
        assert_eq!(t, u, "{back}");
        assert!(!back.contains("panechat"));
    }

    #[test]
    fn a_notify_line_inside_a_multi_line_string_is_never_edited() {
        let user = "instructions = \"\"\"\nnotify = [\"say\", \"hi\"]\n\"\"\"\nnotify = [\"python3\", \"n.py\"]\n";
        let before: toml::Table = toml::from_str(user).unwrap();
        match codex_add(user, BIN) {
            Err(e) => assert!(e.0.contains("nothing was changed"), "{}", e.0),
            Ok(added) => {
                let text = added.unwrap().text;
                let after: toml::Table = toml::from_str(&text).unwrap();
                assert_eq!(after["instructions"], before["instructions"], "{text}");
                let argv = after["notify"].as_array().unwrap();
                assert_eq!(argv[0].as_str(), Some(BIN), "{text}");
            }
        }
        let ours = format!("instructions = \"\"\"\nnotify = [\"{BIN}\", \"hook\", \"codex\"]\n\"\"\"\nnotify = [\"{BIN}\", \"hook\", \"codex\"]\n");
        let before: toml::Table = toml::from_str(&ours).unwrap();
        match codex_remove(&ours) {
            Err(e) => assert!(e.0.contains("nothing was changed"), "{}", e.0),
            Ok(removed) => {
                let text = removed.unwrap();
                let after: toml::Table = toml::from_str(&text).unwrap();
                assert_eq!(after["instructions"], before["instructions"], "{text}");
                assert!(!after.contains_key("notify"), "{text}");
            }
        }
    }

    #[test]
    fn hook_commands_the_user_prefixed_with_variables_are_still_panechats() {
        for yes in [
            "'/usr/bin/panechat' hook claude",
            "panechat hook claude",
            "PANECHAT_LOG=debug panechat hook claude",
            "env PANECHAT_LOG=debug '/opt/my tools/panechat' hook claude",
            "A=1 B=2 \"/usr/bin/panechat\" hook claude ",
        ] {
            assert!(is_claude_hook(yes), "{yes}");
        }
        for no in [
            "echo hi; panechat hook claude",
            "my-notifier hook claude",
            "panechat hook codex",
            "'/usr/bin/panechat hook claude",
        ] {
            assert!(!is_claude_hook(no), "{no}");
        }
        // `--write` adds nothing to settings holding such an entry; `--remove` takes it out.
        let settings = r#"{"hooks": {"Stop": [{"matcher": "", "hooks": [{"type": "command", "command": "PANECHAT_LOG=debug panechat hook claude"}]}]}}"#;
        assert!(claude_installed(settings) || claude_remove(settings).unwrap().is_some());
        let removed = claude_remove(settings).unwrap().expect("taken out");
        assert!(!removed.contains("hook claude"), "{removed}");
    }

    #[test]
    fn panechat_binaries_are_told_by_their_file_name() {
        for yes in [
            "panechat",
            "/usr/bin/panechat",
            "/nix/store/x-panechat-0.3/bin/.panechat-wrapped",
            "/opt/panechat-0.3.1",
        ] {
            assert!(is_panechat(yes), "{yes}");
        }
        for no in ["panechatter", "/bin/my-panechat", "/panechat/bin/say", ""] {
            assert!(!is_panechat(no), "{no}");
        }
    }

    #[test]
    fn a_config_with_crlf_line_ends_keeps_them() {
        let user =
            "model = \"m\"\r\nnotify = [\"notify-send\"]\r\n[features]\r\nplugins = false\r\n";
        let added = codex_add(user, BIN).unwrap().unwrap().text;
        assert!(!added.replace("\r\n", "").contains('\n'), "{added:?}");
        let back = codex_remove(&added).unwrap().unwrap();
        assert!(!back.replace("\r\n", "").contains('\n'), "{back:?}");
        assert!(back.contains("notify = [\"notify-send\"]\r\n"), "{back:?}");
        let fresh = codex_add("model = \"m\"\r\n", BIN).unwrap().unwrap().text;
        assert!(!fresh.replace("\r\n", "").contains('\n'), "{fresh:?}");
    }

    #[test]
    fn codex_configs_panechat_cannot_edit_are_refused() {
        for bad in [
            "model = ",
            "notify = \"just a string\"\n",
            "notify = [1, 2]\n",
        ] {
            let e = codex_add(bad, BIN).unwrap_err();
            assert!(e.0.contains("nothing was changed"), "{bad}: {}", e.0);
        }
    }
}
