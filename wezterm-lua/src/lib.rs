//! Runs the WezTerm plugin (`wezterm-lua/plugin/init.lua`) the way WezTerm does: Lua 5.4 in
//! safe mode (`Lua::new()`, no C modules, no `debug`), with `require 'wezterm'` answered by a
//! recording stub of the `wezterm` module (`src/stub.lua`) whose names, argument orders and
//! return values follow WezTerm 20240203-110809-5046fc22.
//!
//! The stub runs child processes through [`Runner`]: canned answers, or the real `panechat`
//! binary in a test environment. Every child process is counted, so a test can prove that the
//! status bar spawns nothing per tick.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine;
use mlua::{Function, Lua, MultiValue, Table, UserData, UserDataFields, UserDataMethods, Value};

/// The stub module's source.
pub const STUB: &str = include_str!("stub.lua");

/// The repository root (where `plugin/init.lua` and `wezterm-lua/` live).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate lives in the repository")
        .to_path_buf()
}

/// What `run_child_process` returns: `(success, stdout, stderr)`.
pub type ChildResult = (bool, String, String);

/// A canned answer for every argv.
pub type Canned = Arc<dyn Fn(&[String]) -> ChildResult + Send + Sync>;

/// How `wezterm.run_child_process` answers.
#[derive(Clone)]
pub enum Runner {
    /// Answers from a function of the argv: `(success, stdout, stderr)`.
    Canned(Canned),
    /// Runs the argv for real with exactly this environment (and no stdin).
    Real {
        /// The environment of the child.
        env: Vec<(String, String)>,
    },
}

impl Runner {
    /// Runs `argv`.
    pub fn run(&self, argv: &[String]) -> (bool, String, String) {
        match self {
            Runner::Canned(f) => f(argv),
            Runner::Real { env } => {
                let out = Command::new(&argv[0])
                    .args(&argv[1..])
                    .env_clear()
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .stdin(std::process::Stdio::null())
                    .output();
                match out {
                    Ok(o) => (
                        o.status.success(),
                        String::from_utf8_lossy(&o.stdout).into_owned(),
                        String::from_utf8_lossy(&o.stderr).into_owned(),
                    ),
                    Err(e) => (false, String::new(), format!("{}: {e}", argv[0])),
                }
            }
        }
    }
}

/// WezTerm's `Url` object (`wezterm.url.parse`, `pane:get_current_working_dir()` since
/// 20240127-113634-bbcac864): userdata with the fields `scheme`, `username`, `password`,
/// `host`, `port`, `path`, `query`, `fragment`, `file_path` (the path percent-decoded), and
/// `tostring` giving the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// The URL as given.
    pub text: String,
    /// `file`, `https`, ...
    pub scheme: String,
    /// The user name, or "".
    pub username: String,
    /// The password, if any.
    pub password: Option<String>,
    /// The host, if any.
    pub host: Option<String>,
    /// The port, if given.
    pub port: Option<u16>,
    /// The path, percent-encoded as written.
    pub path: String,
    /// The query, if any.
    pub query: Option<String>,
    /// The fragment, if any.
    pub fragment: Option<String>,
}

impl Url {
    /// Parses `scheme://[user[:password]@]host[:port]/path[?query][#fragment]` (or
    /// `scheme:path`).
    pub fn parse(s: &str) -> Result<Url, String> {
        let (scheme, rest) = s
            .split_once(':')
            .filter(|(sc, _)| {
                !sc.is_empty()
                    && sc.starts_with(|c: char| c.is_ascii_alphabetic())
                    && sc
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            })
            .ok_or_else(|| format!("relative URL without a base while parsing {s} as URL"))?;
        let (rest, fragment) = match rest.split_once('#') {
            Some((r, f)) => (r, Some(f.to_string())),
            None => (rest, None),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q.to_string())),
            None => (rest, None),
        };
        let (mut username, mut password, mut host, mut port) = (String::new(), None, None, None);
        let path = if let Some(after) = rest.strip_prefix("//") {
            let end = after.find('/').unwrap_or(after.len());
            let (authority, path) = after.split_at(end);
            let hostport = match authority.rsplit_once('@') {
                Some((user, hp)) => {
                    match user.split_once(':') {
                        Some((u, p)) => {
                            username = u.to_string();
                            password = Some(p.to_string());
                        }
                        None => username = user.to_string(),
                    }
                    hp
                }
                None => authority,
            };
            let h = match hostport.rsplit_once(':') {
                Some((h, p)) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
                    port = Some(
                        p.parse()
                            .map_err(|e| format!("{e} while parsing {s} as URL"))?,
                    );
                    h
                }
                _ => hostport,
            };
            if !h.is_empty() {
                host = Some(h.to_string());
            }
            if path.is_empty() {
                "/".to_string()
            } else {
                path.to_string()
            }
        } else {
            rest.to_string()
        };
        Ok(Url {
            text: s.to_string(),
            scheme: scheme.to_ascii_lowercase(),
            username,
            password,
            host,
            port,
            path,
            query,
            fragment,
        })
    }

    /// The path percent-decoded, as bytes (`None` for a URL without a hierarchical path).
    pub fn file_path(&self) -> Option<Vec<u8>> {
        if !self.path.starts_with('/') {
            return None;
        }
        let b = self.path.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if b[i] == b'%' && i + 2 < b.len() {
                if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        Some(out)
    }
}

impl UserData for Url {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("scheme", |_, u| Ok(u.scheme.clone()));
        fields.add_field_method_get("username", |_, u| Ok(u.username.clone()));
        fields.add_field_method_get("password", |_, u| Ok(u.password.clone()));
        fields.add_field_method_get("host", |_, u| Ok(u.host.clone()));
        fields.add_field_method_get("port", |_, u| Ok(u.port));
        fields.add_field_method_get("path", |_, u| Ok(u.path.clone()));
        fields.add_field_method_get("query", |_, u| Ok(u.query.clone()));
        fields.add_field_method_get("fragment", |_, u| Ok(u.fragment.clone()));
        fields.add_field_method_get("file_path", |lua, u| {
            u.file_path().map(|b| lua.create_string(b)).transpose()
        });
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method(mlua::MetaMethod::ToString, |_, u, ()| Ok(u.text.clone()));
    }
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The argv of every `run_child_process` call, in order.
pub type RunLog = Arc<Mutex<Vec<Vec<String>>>>;

/// A Lua state with the stub registered as `wezterm`.
pub struct Harness {
    /// The Lua state (safe mode).
    pub lua: Lua,
    /// The stub module.
    pub wezterm: Table,
    /// Every `run_child_process` argv.
    pub runs: RunLog,
    runner: Arc<Mutex<Runner>>,
}

fn json_to_lua(lua: &Lua, v: &serde_json::Value) -> mlua::Result<Value> {
    Ok(match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Number(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::String(lua.create_string(s)?),
        serde_json::Value::Array(a) => {
            let t = lua.create_table()?;
            for (i, x) in a.iter().enumerate() {
                t.raw_set(i + 1, json_to_lua(lua, x)?)?;
            }
            Value::Table(t)
        }
        serde_json::Value::Object(o) => {
            let t = lua.create_table()?;
            for (k, x) in o {
                t.raw_set(k.as_str(), json_to_lua(lua, x)?)?;
            }
            Value::Table(t)
        }
    })
}

/// The `(name, value)` pairs of the OSC 1337 `SetUserVar` sequences in `text`.
pub fn decode_user_vars(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("\x1b]1337;SetUserVar=") {
        rest = &rest[i + "\x1b]1337;SetUserVar=".len()..];
        let end = rest.find(['\x07', '\x1b']).unwrap_or(rest.len());
        let body = &rest[..end];
        if let Some((name, b64)) = body.split_once('=') {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) {
                out.push((
                    name.to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
        rest = &rest[end..];
    }
    out
}

impl Harness {
    /// A fresh safe-mode Lua state with the stub as `wezterm`.
    pub fn new(runner: Runner) -> mlua::Result<Harness> {
        let lua = Lua::new();
        let runner = Arc::new(Mutex::new(runner));
        let runs: RunLog = Arc::default();
        let host = lua.create_table()?;
        let (r, log) = (runner.clone(), runs.clone());
        host.set(
            "run",
            lua.create_function(move |lua, args: Table| {
                let argv: Vec<String> = args
                    .sequence_values::<String>()
                    .collect::<mlua::Result<_>>()?;
                log.lock().unwrap().push(argv.clone());
                let runner = r.lock().unwrap().clone();
                let (ok, out, err) = runner.run(&argv);
                Ok((ok, lua.create_string(out)?, lua.create_string(err)?))
            })?,
        )?;
        host.set(
            "json_parse",
            lua.create_function(|lua, s: String| {
                let v: serde_json::Value = serde_json::from_str(&s)
                    .map_err(|e| mlua::Error::external(format!("json_parse: {e}")))?;
                json_to_lua(lua, &v)
            })?,
        )?;
        host.set(
            "json_encode",
            lua.create_function(|_, v: Value| {
                serde_json::to_string(&v).map_err(mlua::Error::external)
            })?,
        )?;
        host.set(
            "decode_osc",
            lua.create_function(|lua, s: mlua::LuaString| {
                let t = lua.create_table()?;
                for (i, (n, v)) in decode_user_vars(&s.to_string_lossy())
                    .into_iter()
                    .enumerate()
                {
                    t.raw_set(i + 1, lua.create_sequence_from([n, v])?)?;
                }
                Ok(t)
            })?,
        )?;
        host.set(
            "url",
            lua.create_function(|_, s: String| Url::parse(&s).map_err(mlua::Error::external))?,
        )?;
        host.set(
            "visible",
            lua.create_function(|_, s: mlua::LuaString| Ok(visible(&s.to_string_lossy())))?,
        )?;
        // WezTerm's InputSelector filter (wezterm-gui selector.rs, 20240203 to 20250223):
        // `SkimMatcherV2::default().fuzzy_match(label, filter)` on each choice's label.
        host.set(
            "fuzzy_match",
            lua.create_function(|_, (label, filter): (mlua::LuaString, String)| {
                use fuzzy_matcher::FuzzyMatcher;
                Ok(fuzzy_matcher::skim::SkimMatcherV2::default()
                    .fuzzy_match(&label.to_string_lossy(), &filter))
            })?,
        )?;
        host.set(
            "cut_left",
            lua.create_function(|_, (s, space): (String, usize)| Ok(cut_left(&s, space)))?,
        )?;
        let plugins = std::env::temp_dir().join(format!(
            "panechat-wezterm-plugins-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        host.set(
            "checkout",
            lua.create_function(move |_, url: String| {
                let component = encode_url(&url);
                let dir = plugins.join(&component);
                copy_checkout(&repo_root(), &dir).map_err(mlua::Error::external)?;
                Ok((
                    component,
                    dir.to_string_lossy().into_owned(),
                    plugins.to_string_lossy().into_owned(),
                ))
            })?,
        )?;
        let wezterm: Table = lua.load(STUB).set_name("=wezterm-stub").call(host)?;
        lua.register_module("wezterm", &wezterm)?;
        Ok(Harness {
            lua,
            wezterm,
            runs,
            runner,
        })
    }

    /// Changes how child processes are answered.
    pub fn set_runner(&self, runner: Runner) {
        *self.runner.lock().unwrap() = runner;
    }

    /// Runs Lua code, returning its values.
    pub fn eval<R: mlua::FromLuaMulti>(&self, code: &str) -> mlua::Result<R> {
        self.lua.load(code).set_name("=test").eval()
    }

    /// The recording table (`wezterm.__rec`).
    pub fn rec(&self) -> Table {
        self.wezterm.get("__rec").expect("the stub records")
    }

    /// How many child processes the plugin started (foreground and background).
    pub fn children(&self) -> i64 {
        self.rec().get("children").expect("a counter")
    }

    /// Loads the plugin with the stub's `wezterm.plugin.require(url)` (which copies this
    /// repository to `<plugins>/<encoded url>` and requires its root `plugin/init.lua` through
    /// `package.path`, as WezTerm does). Returns the module, stored as the global `panechat`.
    pub fn plugin_require(&self, url: &str) -> mlua::Result<Table> {
        let plugin = self.wezterm.get::<Table>("plugin")?;
        let require: Function = plugin.get("require")?;
        let m: Table = require.call(url)?;
        self.lua.globals().set("panechat", &m)?;
        Ok(m)
    }

    /// Loads a plugin file with `dofile`, stored as the global `panechat`.
    pub fn dofile(&self, path: &Path) -> mlua::Result<Table> {
        let dofile: Function = self.lua.globals().get("dofile")?;
        let m: Table = dofile.call(path.to_string_lossy().as_ref())?;
        self.lua.globals().set("panechat", &m)?;
        Ok(m)
    }

    /// Calls `wezterm.emit(name, args…)`.
    pub fn emit(&self, name: &str, args: MultiValue) -> mlua::Result<bool> {
        let emit: Function = self.wezterm.get("emit")?;
        let mut all = MultiValue::new();
        all.push_back(Value::String(self.lua.create_string(name)?));
        all.extend(args);
        emit.call(all)
    }
}

/// The directory name WezTerm gives a plugin's checkout: `:` `/` `\` `.` encoded as `sCs`,
/// `sZs`, `sZs`, `sDs` (`config/src/lua.rs` / the plugin crate).
pub fn encode_url(url: &str) -> String {
    let mut s = String::new();
    for c in url.chars() {
        match c {
            ':' => s.push_str("sCs"),
            '/' | '\\' => s.push_str("sZs"),
            '.' => s.push_str("sDs"),
            c => s.push(c),
        }
    }
    s
}

/// Copies the files a checkout of the repository carries for WezTerm (`plugin/`, `wezterm-lua/plugin/`).
pub fn copy_checkout(root: &Path, to: &Path) -> std::io::Result<()> {
    for sub in ["plugin", "wezterm-lua/plugin"] {
        let from = root.join(sub);
        let dest = to.join(sub);
        std::fs::create_dir_all(&dest)?;
        for e in std::fs::read_dir(&from)? {
            let e = e?;
            if e.file_type()?.is_file() {
                std::fs::copy(e.path(), dest.join(e.file_name()))?;
            }
        }
    }
    Ok(())
}

/// How many terminal cells `s` takes (East Asian wide and fullwidth characters take 2).
pub fn cells(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// What a tab bar shows of `s` in `space` cells: characters removed from the left while it is
/// too wide, as WezTerm does with the right status.
pub fn cut_left(s: &str, space: usize) -> String {
    let mut rest = s;
    while cells(rest) > space {
        let mut it = rest.chars();
        it.next();
        rest = it.as_str();
    }
    rest.to_string()
}

/// `wezterm show-keys` of WezTerm 20250223-062404-4ff581a8 with an empty config, recorded from
/// the real program (`tests/fixtures/wezterm-default-keys.txt`).
pub const DEFAULT_KEYS: &str = include_str!("../tests/fixtures/wezterm-default-keys.txt");

/// A key as WezTerm matches it: its modifiers (sorted, aliases resolved) and the key, a letter
/// in lower case with an upper-case letter counting as SHIFT plus that letter (WezTerm binds
/// `CTRL M`, `SHIFT|CTRL M` and `SHIFT|CTRL m` to the same key press).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyPress {
    /// `ALT`, `CTRL`, `SHIFT`, `SUPER` (and `LEADER`), sorted.
    pub mods: Vec<String>,
    /// The key: a lower-case letter, another character, or a key name (`Tab`, `PageUp`, …).
    pub key: String,
}

impl KeyPress {
    /// A key from WezTerm's spelling: `mods` such as `CTRL|SHIFT` or `SHIFT | CTRL` (in any
    /// order, `OPT`/`META` for ALT, `CMD`/`WIN` for SUPER), and `key` such as `M`, `m`, `Tab` or
    /// `Space (Physical)`.
    pub fn new(mods: &str, key: &str) -> KeyPress {
        let mut m: Vec<String> = mods
            .split('|')
            .map(|x| x.trim().to_ascii_uppercase())
            .filter(|x| !x.is_empty() && x != "NONE")
            .map(|x| match x.as_str() {
                "OPT" | "META" => "ALT".to_string(),
                "CMD" | "WIN" => "SUPER".to_string(),
                _ => x,
            })
            .collect();
        let key = key.trim().trim_end_matches("(Physical)").trim();
        let mut chars = key.chars();
        let key = match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_uppercase() => {
                m.push("SHIFT".into());
                c.to_ascii_lowercase().to_string()
            }
            _ => key.to_string(),
        };
        m.sort();
        m.dedup();
        KeyPress { mods: m, key }
    }
}

impl std::fmt::Display for KeyPress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for m in &self.mods {
            write!(f, "{m}+")?;
        }
        write!(f, "{}", self.key)
    }
}

/// The default key table of a `wezterm show-keys` listing: every key with its action. Key
/// tables (copy mode, search mode) and mouse bindings are not part of it.
pub fn default_key_table(listing: &str) -> Vec<(KeyPress, String)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in listing.lines() {
        if !line.starts_with('\t') {
            let title = line.trim();
            if !title.is_empty() && !title.chars().all(|c| c == '-') {
                inside = title == "Default key table";
            }
            continue;
        }
        if !inside {
            continue;
        }
        let Some((left, action)) = line.split_once("->") else {
            continue;
        };
        let words: Vec<&str> = left.split_whitespace().collect();
        let n = words
            .iter()
            .take_while(|w| matches!(**w, "|" | "CTRL" | "SHIFT" | "ALT" | "SUPER" | "LEADER"))
            .count();
        let mods = words[..n].join(" ");
        let key = words[n..].join(" ");
        if !key.is_empty() {
            out.push((KeyPress::new(&mods, &key), action.trim().to_string()));
        }
    }
    out
}

/// Visible text of a formatted status: SGR sequences (`ESC [ … m`) removed.
pub fn visible(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_user_vars_and_encodes_urls() {
        assert_eq!(
            decode_user_vars("x\x1b]1337;SetUserVar=a=aGk=\x07y\x1b]1337;SetUserVar=b=\x07"),
            vec![("a".into(), "hi".into()), ("b".into(), "".into())]
        );
        assert_eq!(
            encode_url("https://github.com/panechat/panechat"),
            "httpssCssZssZsgithubsDscomsZspanechatsZspanechat"
        );
        assert_eq!(visible("\x1b[38;2;1;2;3mab\x1b[0mc"), "abc");
    }

    #[test]
    fn key_presses_compare_as_wezterm_matches_them() {
        assert_eq!(
            KeyPress::new("CTRL", "M"),
            KeyPress::new("SHIFT | CTRL", "m")
        );
        assert_eq!(
            KeyPress::new("CTRL|SHIFT", "M"),
            KeyPress::new("SHIFT|CTRL", "M")
        );
        assert_ne!(KeyPress::new("CTRL", "m"), KeyPress::new("CTRL", "M"));
        assert_eq!(KeyPress::new("CMD", "c"), KeyPress::new("SUPER", "c"));
        let table = default_key_table(DEFAULT_KEYS);
        let hide: Vec<String> = table
            .iter()
            .filter(|(_, a)| a == "Hide")
            .map(|(k, _)| k.to_string())
            .collect();
        assert_eq!(
            hide,
            ["CTRL+SHIFT+m", "CTRL+SHIFT+m", "CTRL+SHIFT+m", "SUPER+m"]
        );
        assert!(table
            .iter()
            .any(|(k, a)| k.to_string() == "CTRL+SHIFT+Space" && a == "QuickSelect"));
        assert!(table.iter().any(|(k, _)| k.to_string() == "Copy"));
        // Copy mode's own table is not the default table.
        assert!(!table.iter().any(|(_, a)| a.starts_with("CopyMode(")));
        assert_eq!(table.len(), 136, "every line of the default key table");
    }

    #[test]
    fn urls_read_like_wezterms() {
        let h = Harness::new(Runner::Real { env: vec![] }).unwrap();
        let got: (String, String, String, Option<String>, String, String) = h
            .eval(
                "local u = require('wezterm').url.parse 'file://myhost/some/path%20with%20spaces?x#y'
                 return type(u), u.scheme, u.file_path, u.host, u.path, tostring(u)",
            )
            .unwrap();
        assert_eq!(
            got,
            (
                "userdata".into(),
                "file".into(),
                "/some/path with spaces".into(),
                Some("myhost".into()),
                "/some/path%20with%20spaces".into(),
                "file://myhost/some/path%20with%20spaces?x#y".into()
            )
        );
        let u = Url::parse("https://me:pw@github.com:8443/rust-lang?labels=E-easy").unwrap();
        assert_eq!(
            (
                u.username.as_str(),
                u.password.as_deref(),
                u.host.as_deref(),
                u.port
            ),
            ("me", Some("pw"), Some("github.com"), Some(8443))
        );
        assert_eq!(u.query.as_deref(), Some("labels=E-easy"));
        assert!(Url::parse("/no/scheme").is_err());
        assert_eq!(
            Url::parse("file:///a%2").unwrap().file_path().unwrap(),
            b"/a%2"
        );
    }

    #[test]
    fn the_benchmark_figures_can_be_measured() {
        let (with, without, children) = bench::update_status(200, 3, true).unwrap();
        assert_eq!((with.len(), without.len(), children), (3, 3, 0));
        eprintln!(
            "update-status, changed: plugin {with:?} us/call, empty handler {without:?} us/call"
        );
        let (with, without, children) = bench::update_status(200, 3, false).unwrap();
        assert_eq!((with.len(), without.len(), children), (3, 3, 0));
        eprintln!("update-status: plugin {with:?} us/call, empty handler {without:?} us/call");
        let (with, without) = bench::load(2).unwrap();
        eprintln!("load: plugin {with:?} ms, empty {without:?} ms");
    }

    #[test]
    fn the_vm_is_safe_mode_like_wezterm() {
        let h = Harness::new(Runner::Real { env: vec![] }).unwrap();
        let has_debug: bool = h.eval("return debug ~= nil").unwrap();
        assert!(!has_debug, "WezTerm's Lua has no debug library");
        let err = h
            .eval::<Value>("return package.loadlib('libc.so.6', 'printf')")
            .map(|v| format!("{v:?}"))
            .unwrap_or_else(|e| e.to_string());
        assert!(err.contains("safe mode") || err.contains("nil"), "{err}");
    }
}

/// Figures for the benchmark command.
pub mod bench {
    use std::time::Instant;

    use super::{repo_root, Harness, Runner};

    fn harness() -> mlua::Result<Harness> {
        Harness::new(Runner::Canned(std::sync::Arc::new(|argv| {
            (
                false,
                String::new(),
                format!("no child processes here: {argv:?}"),
            )
        })))
    }

    /// One window per pane, `n` of them, each active pane with its own conversation title;
    /// every tenth pane is running, every seventh is held elsewhere.
    fn windows(h: &Harness, n: usize) -> mlua::Result<()> {
        h.eval::<()>(&format!(
            "local wezterm = require 'wezterm'
             wins, panes = {{}}, {{}}
             for i = 1, {n} do
               local w = wezterm.__new_window()
               local p = wezterm.__new_pane {{ window = w }}
               p.__vars = {{ panechat_id = string.format('01m7yd5d6e%08d', i),
                 panechat_title = 'Conversation number ' .. i .. ' about something long enough',
                 panechat_state = (i % 10 == 0) and 'streaming' or 'idle',
                 panechat_held = (i % 7 == 0) and 'wezterm pane 9' or '' }}
               wins[i], panes[i] = w, p
             end"
        ))
    }

    /// Microseconds per `update-status` call over `n` panes (one window each), per round:
    /// `(with the plugin, with an empty handler, child processes started by the plugin)`.
    /// With `changed`, every pane's title changes before each round (nothing is cached);
    /// otherwise the panes stay as they are, as between most ticks.
    pub fn update_status(
        n: usize,
        rounds: usize,
        changed: bool,
    ) -> mlua::Result<(Vec<f64>, Vec<f64>, i64)> {
        let plugin = harness()?;
        plugin.dofile(&repo_root().join("wezterm-lua/plugin/init.lua"))?;
        plugin.eval::<()>("panechat.apply_to_config(require('wezterm').config_builder(), {})")?;
        windows(&plugin, n)?;
        let empty = harness()?;
        empty.eval::<()>("require('wezterm').on('update-status', function(window, pane) end)")?;
        windows(&empty, n)?;
        let tick = "local emit = require('wezterm').emit
                    for i = 1, #wins do emit('update-status', wins[i], panes[i]) end";
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for round in 0..rounds + 3 {
            for (h, out) in [(&plugin, &mut a), (&empty, &mut b)] {
                if changed {
                    h.eval::<()>(&format!(
                        "for i = 1, #panes do
                           panes[i].__vars.panechat_title = 'Conversation number ' .. i .. ' round {round}'
                         end"
                    ))?;
                }
                let f = h.lua.load(tick).into_function()?;
                let t = Instant::now();
                f.call::<()>(())?;
                let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
                if round >= 3 {
                    out.push(us);
                }
            }
        }
        let shown: String = plugin.eval("return wins[1].__right or ''")?;
        if !super::visible(&shown).contains("Conversation number 1 ") {
            return Err(mlua::Error::external(format!(
                "the status shows {shown:?}, not the pane's conversation"
            )));
        }
        Ok((a, b, plugin.children()))
    }

    /// Milliseconds to start a Lua state and evaluate a config, per round: `(loading the
    /// plugin through its root loader and applying it, an empty config)`.
    pub fn load(rounds: usize) -> mlua::Result<(Vec<f64>, Vec<f64>)> {
        let loader = repo_root().join("plugin/init.lua");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for round in 0..rounds + 2 {
            let t = Instant::now();
            let h = harness()?;
            // As `wezterm.plugin.require` runs it: Lua's require hands the chunk its path.
            let m: mlua::Table = h
                .lua
                .load(std::fs::read_to_string(&loader).map_err(mlua::Error::external)?)
                .set_name("=loader")
                .call(("panechat", loader.to_string_lossy().into_owned()))?;
            h.lua.globals().set("panechat", m)?;
            h.eval::<()>("panechat.apply_to_config(require('wezterm').config_builder(), {})")?;
            let with = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            let h = harness()?;
            h.eval::<()>("local c = require('wezterm').config_builder() c.keys = {}")?;
            let without = t.elapsed().as_secs_f64() * 1e3;
            if round >= 2 {
                a.push(with);
                b.push(without);
            }
        }
        Ok((a, b))
    }
}
