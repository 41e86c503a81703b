//! The tmux plugin, carried by the binary: what `panechat init tmux --load` (run by TPM through
//! `panechat.tmux`, or by the line `panechat init tmux` prints) does at every tmux start.
//!
//! Loading costs two tmux commands: [`query_args`] reads the version, every global option, the
//! command aliases, the hooks, the attached clients and what each of the plugin's keys is bound
//! to now, at once; [`plan`] turns that into one argv of tmux commands joined by `;` that binds
//! the keys, fills the status segment and pane border and sets the tmux-resurrect hooks.
//! Loading again replaces what the previous load set; nothing stacks, and an option turned off
//! gives back what the user had.
//!
//! The keys run `panechat tmux-plugin ACTION …` ([`Action`]) or open a popup with tmux alone.
//! Every text reaches tmux as an argv element; the few strings tmux parses itself (aliases,
//! `run-shell` commands, a hook) are quoted for each layer by the functions below.

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use super::exec::{Exec, RealExec};
use super::tmux::{self, parse_version, shell_quote, Popup, KEY_PANE, POPUP_TITLE_AND_ENV};

/// One option of the plugin: its name and its default (`None`: unset means "find it").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opt {
    /// The tmux option, `@panechat-…`.
    pub name: &'static str,
    /// Its default.
    pub default: Option<&'static str>,
}

const fn opt(name: &'static str, default: &'static str) -> Opt {
    Opt {
        name,
        default: Some(default),
    }
}

/// The panechat binary the keys run (default: the one loading the plugin).
pub const BIN: Opt = Opt {
    name: "@panechat-bin",
    default: None,
};
/// prefix + KEY forks the pane's conversation into a new split.
pub const FORK_KEY: Opt = opt("@panechat-fork-key", "F");
/// prefix + KEY opens the conversation picker in a popup.
pub const PICK_KEY: Opt = opt("@panechat-pick-key", "P");
/// prefix + KEY: the pane's next `panechat q` starts a new conversation.
pub const NEW_KEY: Opt = opt("@panechat-new-key", "N");
/// prefix + KEY asks about this pane in a popup.
pub const ASK_KEY: Opt = opt("@panechat-ask-key", "A");
/// KEY in copy mode (both tables) copies the selection and asks about it.
pub const ASK_SELECTION_KEY: Opt = opt("@panechat-ask-selection-key", "Q");
/// prefix + KEY goes to the next pane whose agent needs you (across windows and sessions).
pub const NEXT_KEY: Opt = opt("@panechat-next-key", "J");
/// Where the fork goes: h (beside the pane) or v (below it).
pub const FORK_SPLIT: Opt = opt("@panechat-fork-split", "h");
/// How many turns the fork keeps: empty = all, N = the last N.
pub const FORK_KEEP: Opt = opt("@panechat-fork-keep", "");
/// The status segment: auto, placeholder or off.
pub const STATUS: Opt = opt("@panechat-status", "auto");
/// The marker while this pane's query runs.
pub const STATUS_RUNNING: Opt = opt("@panechat-status-running", "[running] ");
/// The marker while another pane holds the conversation.
pub const STATUS_HELD: Opt = opt("@panechat-status-held", "[locked] ");
/// The marker before an agent that needs you, in the status segment.
pub const STATUS_NEEDS_YOU: Opt = opt("@panechat-status-needs-you", "⚑ ");
/// The marker before an agent that is done (not yet looked at), in the status segment.
pub const STATUS_DONE: Opt = opt("@panechat-status-done", "✓ ");
/// The longest title the segment shows (characters).
pub const STATUS_MAX: Opt = opt("@panechat-status-max", "32");
/// The mark in front of the name of a window where an agent needs you (empty: none).
pub const WINDOW_MARK: Opt = opt("@panechat-window-mark", "⚑ ");
/// on: focusing a pane whose agent is done makes it idle (turns tmux's focus-events on).
pub const SEEN_ON_FOCUS: Opt = opt("@panechat-seen-on-focus", "on");
/// on: each pane's coding agent and conversation title in its border.
pub const PANE_BORDER: Opt = opt("@panechat-pane-border", "off");
/// The picker popup's size.
pub const POPUP_WIDTH: Opt = opt("@panechat-popup-width", "90%");
/// The picker popup's size.
pub const POPUP_HEIGHT: Opt = opt("@panechat-popup-height", "80%");
/// The ask popup's size.
pub const ASK_WIDTH: Opt = opt("@panechat-ask-width", "80%");
/// The ask popup's size.
pub const ASK_HEIGHT: Opt = opt("@panechat-ask-height", "60%");
/// tmux-resurrect support: on or off.
pub const RESURRECT: Opt = opt("@panechat-resurrect", "on");
/// The file tmux-resurrect support keeps each pane's conversation in.
pub const RESURRECT_FILE: Opt = Opt {
    name: "@panechat-resurrect-file",
    default: None,
};

/// Every option a user sets, in the order docs/tmux.md lists them.
pub const OPTIONS: &[Opt] = &[
    BIN,
    FORK_KEY,
    PICK_KEY,
    NEW_KEY,
    ASK_KEY,
    ASK_SELECTION_KEY,
    NEXT_KEY,
    FORK_SPLIT,
    FORK_KEEP,
    STATUS,
    STATUS_RUNNING,
    STATUS_HELD,
    STATUS_NEEDS_YOU,
    STATUS_DONE,
    STATUS_MAX,
    WINDOW_MARK,
    SEEN_ON_FOCUS,
    PANE_BORDER,
    POPUP_WIDTH,
    POPUP_HEIGHT,
    ASK_WIDTH,
    ASK_HEIGHT,
    RESURRECT,
    RESURRECT_FILE,
];

/// The older placeholder users may put in status-left/status-right (replaced by the segment).
pub const STATUS_PLACEHOLDER: &str = "#{panechat_status}";
/// What the segment is, where it is placed.
const STATUS_SEGMENT: &str = "#{E:@panechat-status-format}";
/// What the pane border segment is.
const BORDER_SEGMENT: &str = "#{E:@panechat-pane-border-format}";
/// What the window mark is, in front of the window-status formats.
const WINDOW_SEGMENT: &str = "#{E:@panechat-window-format}";
/// The window-status formats the mark goes in front of (global window options).
const WINDOW_FORMATS: [&str; 2] = ["window-status-format", "window-status-current-format"];
/// Every pane of every session, in order (`%3` each, `%3!` when its agent needs you),
/// expanded by tmux when the next-pane key is pressed.
const NEEDS_YOU_LIST: &str = "#{S:#{W:#{P:#{pane_id}#{?#{==:#{@panechat_agent},needs-you},!,} }}}";

/// The keys the plugin binds: option and table (the order [`plan`] binds them in).
const KEYS: [(Opt, &str); 7] = [
    (FORK_KEY, "prefix"),
    (PICK_KEY, "prefix"),
    (NEW_KEY, "prefix"),
    (ASK_KEY, "prefix"),
    (ASK_SELECTION_KEY, "copy-mode"),
    (ASK_SELECTION_KEY, "copy-mode-vi"),
    (NEXT_KEY, "prefix"),
];

/// tmux's own bindings a key the user chooses may replace ("TABLE KEY", the command as
/// `list-keys` prints it); any other binding of a key is the user's and is kept. The default
/// keys shadow none of tmux's (3.2 to 3.7: checked in the tests against a fresh server).
const TMUX_DEFAULT_BINDINGS: &[(&str, &str, &str)] = &[("prefix", "C", "customize-mode -Z")];

/// The argv of the one tmux call that reads what the plugin needs (see [`parse`]). Each key is
/// looked up by tmux itself: `run-shell -C` expands the key option (or its default) and runs
/// `list-keys` for that one key; an unbound key is an error there, which ends only that lookup.
pub fn query_args() -> Vec<String> {
    let mut q: Vec<String> = [
        "display-message",
        "-p",
        "version #{version}",
        ";",
        "show-options",
        "-g",
        ";",
        "show-options",
        "-gw",
        "pane-border-format",
        ";",
        "show-options",
        "-gw",
        "pane-border-status",
        ";",
        "show-options",
        "-gw",
        "window-status-format",
        ";",
        "show-options",
        "-gw",
        "window-status-current-format",
        ";",
        "show-options",
        "-s",
        "focus-events",
        ";",
        "show-hooks",
        "-g",
        "pane-focus-in",
        ";",
        "show-options",
        "-s",
        "command-alias",
        ";",
        "show-hooks",
        "-g",
        "client-session-changed",
        ";",
        "list-clients",
        "-F",
        "panechat-client #{client_name}",
    ]
    .map(String::from)
    .to_vec();
    for (i, (o, table)) in KEYS.iter().enumerate() {
        let name = o.name;
        let default = o.default.unwrap_or_default();
        q.extend([
            ";".into(),
            "display-message".into(),
            "-p".into(),
            format!("key {i}"),
            ";".into(),
            "run-shell".into(),
            "-C".into(),
            format!("list-keys -T {table} #{{?{name},#{{q:{name}}},{default}}}"),
        ]);
    }
    q
}

/// What tmux said to [`query_args`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// tmux's version ([`parse_version`]).
    pub version: u32,
    /// The global options read (`@panechat-*`, status, pane border, resurrect hooks), unquoted.
    pub opt: HashMap<String, String>,
    /// The `command-alias` index of each `panechat-*` alias.
    pub alias_at: HashMap<String, usize>,
    /// The first free `command-alias` index.
    pub alias_next: usize,
    /// The clients attached now.
    pub clients: Vec<String>,
    /// The first free `client-session-changed` hook index.
    pub hook_next: usize,
    /// The index of the hook an earlier load set to show its notice at the next attach.
    pub notice_hook: Option<usize>,
    /// The first free `pane-focus-in` hook index.
    pub focus_next: usize,
    /// The index of the `pane-focus-in` hook an earlier load set.
    pub focus_hook: Option<usize>,
    /// Index in the key list -> what that key is bound to now.
    pub bound: HashMap<usize, String>,
}

/// Reads the output of [`query_args`].
pub fn parse(out: &str) -> Found {
    let mut f = Found::default();
    let mut cur: Option<usize> = None;
    let index = |rest: &str| -> Option<usize> { rest.split(']').next()?.parse().ok() };
    for line in out.lines() {
        if let Some(v) = line.strip_prefix("version ") {
            f.version = parse_version(v);
        } else if let Some(k) = line.strip_prefix("key ") {
            cur = k.trim().parse().ok();
        } else if line.starts_with("bind-key ") {
            // bind-key [-r] -T TABLE KEY COMMAND…: the command as list-keys printed it.
            let mut rest = line;
            let mut word = || -> Option<&str> {
                let t = rest.trim_start();
                let end = t.find(' ').unwrap_or(t.len());
                rest = &t[end..];
                (!t.is_empty()).then(|| &t[..end])
            };
            word();
            let mut w = word();
            if w == Some("-r") {
                w = word();
            }
            if w == Some("-T") && word().is_some() && word().is_some() {
                if let Some(i) = cur {
                    f.bound.insert(i, rest.trim().to_string());
                }
            }
        } else if let Some(c) = line.strip_prefix("panechat-client ") {
            f.clients.push(c.to_string());
        } else if let Some(rest) = line.strip_prefix("client-session-changed[") {
            if let Some(i) = index(rest) {
                f.hook_next = f.hook_next.max(i + 1);
                if line.contains("panechat") {
                    f.notice_hook = Some(i);
                }
            }
        } else if let Some(rest) = line.strip_prefix("pane-focus-in[") {
            if let Some(i) = index(rest) {
                f.focus_next = f.focus_next.max(i + 1);
                if line.contains("panechat") {
                    f.focus_hook = Some(i);
                }
            }
        } else if let Some(rest) = line.strip_prefix("command-alias[") {
            if let Some(i) = index(rest) {
                f.alias_next = f.alias_next.max(i + 1);
                let value = rest.split_once(' ').map_or("", |(_, v)| v);
                let value = unquote(value);
                if let Some((name, _)) = value.split_once('=') {
                    if name.starts_with("panechat-") {
                        f.alias_at.insert(name.to_string(), i);
                    }
                }
            }
        } else if let Some((name, value)) = line.split_once(' ') {
            let wanted = name.starts_with("@panechat-")
                || name.starts_with("@resurrect-hook-")
                || matches!(
                    name,
                    "status-left"
                        | "status-right"
                        | "status-right-length"
                        | "pane-border-format"
                        | "pane-border-status"
                        | "window-status-format"
                        | "window-status-current-format"
                        | "focus-events"
                );
            if wanted {
                f.opt.insert(name.to_string(), unquote(value));
            }
        } else if line.starts_with("@panechat-") {
            // An option set to nothing shows as its name alone.
            f.opt.insert(line.to_string(), String::new());
        }
    }
    f
}

/// Undoes the quoting `tmux show-options` applies to a value (`"…"` with C-style escapes,
/// `'…'`, or one character after a backslash).
pub fn unquote(v: &str) -> String {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        let inner = &v[1..v.len() - 1];
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(d @ '0'..='7') => {
                    let mut n = d.to_digit(8).unwrap_or(0);
                    for _ in 0..2 {
                        match chars.peek().and_then(|c| c.to_digit(8)) {
                            Some(x) => {
                                n = n * 8 + x;
                                chars.next();
                            }
                            None => break,
                        }
                    }
                    // Octal escapes are bytes of UTF-8; those tmux writes are controls.
                    out.push(char::from_u32(n).unwrap_or('\u{fffd}'));
                }
                Some(c) => out.push(c),
                None => out.push('\\'),
            }
        }
        out
    } else if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        v[1..v.len() - 1].to_string()
    } else if let Some(rest) = v.strip_prefix('\\') {
        rest.to_string()
    } else {
        v.to_string()
    }
}

/// `#` doubled: a string tmux expands as a format comes out as it went in.
fn hash2(s: &str) -> String {
    s.replace('#', "##")
}

pub use super::tmux::dquote;

/// What [`plan`] decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The tmux argv: every command, joined by `;` elements.
    pub cmds: Vec<String>,
    /// Keys left alone because the user bound them ("prefix + F", …).
    pub skipped: Vec<String>,
}

impl Plan {
    fn add<S: Into<String>>(&mut self, args: impl IntoIterator<Item = S>) {
        if !self.cmds.is_empty() {
            self.cmds.push(";".into());
        }
        self.cmds.extend(args.into_iter().map(Into::into));
    }
}

struct Loader<'a> {
    f: &'a Found,
    bin: &'a str,
    plan: Plan,
    alias_next: usize,
}

impl Loader<'_> {
    fn get(&self, o: Opt) -> String {
        self.f
            .opt
            .get(o.name)
            .cloned()
            .unwrap_or_else(|| o.default.unwrap_or_default().to_string())
    }

    fn number(&self, o: Opt) -> usize {
        self.get(o)
            .parse()
            .unwrap_or_else(|_| o.default.and_then(|d| d.parse().ok()).unwrap_or(0))
    }

    /// Defines (or redefines, at the same index) the alias `name` as `body`.
    fn set_alias(&mut self, name: &str, body: &str) {
        let idx = match self.f.alias_at.get(name) {
            Some(i) => *i,
            None => {
                self.alias_next += 1;
                self.alias_next - 1
            }
        };
        self.plan.add([
            "set-option".to_string(),
            "-s".into(),
            format!("command-alias[{idx}]"),
            format!("{name}={body}"),
        ]);
    }

    /// Sets the global option `name` to `value`, unless it already has that value.
    fn set_global(&mut self, name: &str, value: &str) {
        if self.f.opt.get(name).map(String::as_str) != Some(value) {
            self.plan.add([
                "set-option".to_string(),
                "-g".into(),
                name.into(),
                value.into(),
            ]);
        }
    }

    /// Unsets the global option `name`, if it is set.
    fn unset_global(&mut self, name: &str) {
        if self.f.opt.contains_key(name) {
            self.plan.add(["set-option", "-gu", name]);
        }
    }

    /// An alias body running `panechat tmux-plugin ARGS… FORMATS` in the background:
    /// `run-shell -b "…"`, the literal arguments shell-quoted with `#` doubled (run-shell
    /// expands formats), then FORMATS (expanded when the key is pressed).
    fn action(&self, args: &[&str], formats: &str) -> String {
        let mut s = hash2(&shell_quote(self.bin));
        s.push_str(" tmux-plugin");
        for a in args {
            s.push(' ');
            s.push_str(&hash2(&shell_quote(a)));
        }
        s.push(' ');
        s.push_str(formats);
        format!("run-shell -b \"{}\"", dquote(&s))
    }

    /// An alias body that opens a popup over the pane the key was pressed in, on the client
    /// that pressed it, running `panechat ARGS… --session pane:PANE` in that pane's directory.
    /// Nothing but tmux runs until the popup does: `run-shell -C` expands the pane id (a
    /// format) and runs display-popup as a tmux command. Layers, innermost first: the popup's
    /// shell command (shell-quoted; display-popup does not expand it), a tmux "…" word of the
    /// display-popup command, `#` doubled for run-shell's format expansion, then a tmux "…" word
    /// of the alias. The pane reaches the command in `TMUX_PANE` through `-e`, or on tmux 3.2
    /// (no `-e`, no `-T`) through `env`.
    fn popup(&self, width: &str, height: &str, args: &[&str]) -> String {
        let size = |s: &str, default: &str| {
            let digits = s.strip_suffix('%').unwrap_or(s);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                s.to_string()
            } else {
                default.to_string()
            }
        };
        let width = size(width, ASK_WIDTH.default.unwrap_or("80%"));
        let height = size(height, ASK_HEIGHT.default.unwrap_or("60%"));
        let mut argv: Vec<String> = vec![self.bin.to_string()];
        argv.extend(args.iter().map(|a| a.to_string()));
        argv.extend(["--session".to_string(), format!("pane:{KEY_PANE}")]);
        let popup = Popup {
            size: (&width, &height),
            client: None,
            target: None,
            pane: KEY_PANE,
            dir: Some("#{pane_current_path}"),
            env: &[],
            argv: &argv,
            modern: self.f.version >= POPUP_TITLE_AND_ENV,
        };
        format!("run-shell -C \"{}\"", dquote(&popup.run_shell_command()))
    }

    /// An alias body that shows `msg`.
    fn message(msg: &str) -> String {
        format!("display-message \"{}\"", dquote(&hash2(msg)))
    }

    /// Which of the keys this load binds (index -> key): each key option's value, unless it is
    /// "" or none, or already bound to something else (named in `skipped`; a key still bound
    /// to tmux's own default, which only a key the user chose can be, is taken).
    fn choose_keys(&mut self) -> HashMap<usize, String> {
        let mut chosen = HashMap::new();
        for (i, (o, table)) in KEYS.iter().enumerate() {
            let key = self.get(*o);
            if key.is_empty() || key == "none" {
                continue;
            }
            if let Some(now) = self.f.bound.get(&i) {
                let tmux_own = TMUX_DEFAULT_BINDINGS
                    .iter()
                    .any(|(t, k, c)| *t == *table && *k == key && *c == now);
                if !now.contains("panechat") && !tmux_own {
                    self.plan.skipped.push(match *table {
                        "prefix" => format!("prefix + {key}"),
                        "copy-mode" => format!("{key} in copy mode (emacs keys)"),
                        _ => format!("{key} in copy mode (vi keys)"),
                    });
                    continue;
                }
            }
            chosen.insert(i, key);
        }
        chosen
    }

    /// Tells the user which keys were left alone where they will see it: on the clients
    /// attached now, or, while none is (tmux starting), on the first one to attach, through a
    /// `client-session-changed` hook that removes itself. `@panechat-skipped-keys` keeps the
    /// list for `panechat doctor`. Without skipped keys, an earlier load's hook is removed.
    fn notice_skipped(&mut self) {
        let notice_hook = self.f.notice_hook;
        if self.plan.skipped.is_empty() {
            self.unset_global("@panechat-skipped-keys");
            if let Some(i) = notice_hook {
                self.plan.add([
                    "set-hook".to_string(),
                    "-gu".into(),
                    format!("client-session-changed[{i}]"),
                ]);
            }
            return;
        }
        let list = self.plan.skipped.join(", ");
        self.set_global("@panechat-skipped-keys", &list);
        let msg = format!(
            "panechat: {list} already bound to something else, so left alone; choose other keys with @panechat-fork-key, @panechat-pick-key, @panechat-new-key, @panechat-ask-key, @panechat-ask-selection-key, @panechat-next-key"
        );
        let d: &[&str] = if self.f.version >= 302 {
            &["-d", "0"]
        } else {
            &[]
        };
        if !self.f.clients.is_empty() {
            if let Some(i) = notice_hook {
                self.plan.add([
                    "set-hook".to_string(),
                    "-gu".into(),
                    format!("client-session-changed[{i}]"),
                ]);
            }
            for c in &self.f.clients {
                let mut cmd = vec!["display-message".to_string(), "-c".into(), c.clone()];
                cmd.extend(d.iter().map(|s| s.to_string()));
                cmd.push(hash2(&msg));
                self.plan.add(cmd);
            }
        } else {
            let idx = notice_hook.unwrap_or(self.f.hook_next);
            self.plan.add([
                "set-hook".to_string(),
                "-g".into(),
                format!("client-session-changed[{idx}]"),
                format!(
                    "display-message {} \"{}\" ; set-hook -gu client-session-changed[{idx}]",
                    d.join(" "),
                    dquote(&hash2(&msg))
                ),
            ]);
        }
    }

    /// The format of a pane's coding agent (its marker and summary, then a space), empty
    /// without one.
    fn agent_segment(&self) -> String {
        let max = self.number(STATUS_MAX);
        let esc = |s: String| s.replace(',', "#,").replace('}', "#}");
        let needs = esc(self.get(STATUS_NEEDS_YOU));
        let done = esc(self.get(STATUS_DONE));
        format!(
            "#{{?@panechat_agent_text,#{{?#{{==:#{{@panechat_agent}},needs-you}},{needs},}}#{{?#{{==:#{{@panechat_agent}},done}},{done},}}#{{=/{max}/…:#{{q/h:@panechat_agent_text}}}} ,}}"
        )
    }

    /// The status segment's format.
    fn status_segment(&self) -> String {
        let max = self.number(STATUS_MAX);
        // Commas and braces would end the #{?…} branches early.
        let esc = |s: String| s.replace(',', "#,").replace('}', "#}");
        let running = esc(self.get(STATUS_RUNNING));
        let held = esc(self.get(STATUS_HELD));
        let agent = self.agent_segment();
        format!(
            "{agent}#{{?@panechat_id,#{{?#{{||:#{{==:#{{@panechat_state}},}},#{{==:#{{@panechat_state}},idle}}}},,{running}}}#{{?@panechat_held,{held},}}#{{?@panechat_title,#{{=/{max}/…:#{{q/h:@panechat_title}}}},#{{=8:@panechat_id}}}} ,}}"
        )
    }

    /// The status segment. In auto mode (the default), unless the user placed it
    /// (`#{E:@panechat-status-format}`, or the placeholder `#{panechat_status}`, which is
    /// filled), it goes in front of status-right, and status-right-length grows by the
    /// segment's widest (markers, the longest title, an ellipsis and a space), so the user's
    /// own status-right keeps its room. What a load added is recorded in
    /// `@panechat-status-added` ("LENGTH_BEFORE LENGTH_SET") and taken back first at every
    /// load, so loading again, or with another mode, starts from what the user had.
    fn setup_status(&mut self) {
        let mode = self.get(STATUS);
        let seg = STATUS_SEGMENT;
        let opt = |n: &str| self.f.opt.get(n).cloned();
        let mut right = opt("status-right").unwrap_or_default();
        let mut left = opt("status-left").unwrap_or_default();
        let len_now = opt("status-right-length").unwrap_or_else(|| "40".into());
        let mut len = len_now.clone();
        if let Some(added) = opt("@panechat-status-added").filter(|a| !a.is_empty()) {
            let was = added.split(' ').next().unwrap_or_default().to_string();
            let set = added.rsplit(' ').next().unwrap_or_default().to_string();
            if let Some(r) = right.strip_prefix(seg) {
                right = r.to_string();
            }
            if len == set {
                len = was;
            }
        }
        let mut added = String::new();
        if mode == "off" {
            self.unset_global("@panechat-status-format");
        } else {
            let fmt = self.status_segment();
            self.set_global("@panechat-status-format", &fmt);
            if right.contains(STATUS_PLACEHOLDER) || left.contains(STATUS_PLACEHOLDER) {
                right = right.replace(STATUS_PLACEHOLDER, seg);
                left = left.replace(STATUS_PLACEHOLDER, seg);
            } else if mode == "auto" && !right.contains(seg) && !left.contains(seg) {
                let base: usize = len.parse().unwrap_or(40);
                let agent = self
                    .get(STATUS_NEEDS_YOU)
                    .chars()
                    .count()
                    .max(self.get(STATUS_DONE).chars().count())
                    + self.number(STATUS_MAX)
                    + 2;
                let width = self.get(STATUS_RUNNING).chars().count()
                    + self.get(STATUS_HELD).chars().count()
                    + self.number(STATUS_MAX)
                    + 2
                    + agent;
                added = format!("{base} {}", base + width);
                right = format!("{seg}{right}");
                len = (base + width).to_string();
            }
        }
        self.set_global("status-right", &right);
        self.set_global("status-left", &left);
        if len != len_now {
            self.plan.add([
                "set-option".to_string(),
                "-g".into(),
                "status-right-length".into(),
                len,
            ]);
        }
        if added.is_empty() {
            self.unset_global("@panechat-status-added");
        } else {
            self.set_global("@panechat-status-added", &added);
        }
    }

    /// The pane border: `#{E:@panechat-pane-border-format}` at the end of the user's own
    /// pane-border-format (a window option), and pane-border-status top only when it was off.
    /// What a load added is recorded in `@panechat-pane-border-added` (the pane-border-status
    /// it found) and taken back first at every load.
    fn setup_pane_border(&mut self) {
        let on = self.get(PANE_BORDER) == "on";
        let fmt_now = self
            .f
            .opt
            .get("pane-border-format")
            .cloned()
            .unwrap_or_default();
        let status_now = self
            .f
            .opt
            .get("pane-border-status")
            .cloned()
            .unwrap_or_else(|| "off".into());
        let added_now = self
            .f
            .opt
            .get("@panechat-pane-border-added")
            .cloned()
            .unwrap_or_default();
        let mut fmt = fmt_now.replace(BORDER_SEGMENT, "");
        let mut status = status_now.clone();
        if !added_now.is_empty() && status == "top" {
            status = added_now;
        }
        let mut added = String::new();
        if on {
            let max = self.number(STATUS_MAX);
            let agent = self.agent_segment();
            self.set_global(
                "@panechat-pane-border-format",
                &format!(
                    "#{{?@panechat_agent_text, ,}}{agent}#{{?@panechat_id, #{{=/{max}/…:#{{q/h:@panechat_title}}}} ,}}"
                ),
            );
            fmt.push_str(BORDER_SEGMENT);
            if status == "off" {
                added = "off".into();
                status = "top".into();
            }
        } else {
            self.unset_global("@panechat-pane-border-format");
        }
        if fmt != fmt_now {
            self.plan.add([
                "set-option".to_string(),
                "-gw".into(),
                "pane-border-format".into(),
                fmt,
            ]);
        }
        if status != status_now {
            self.plan.add([
                "set-option".to_string(),
                "-gw".into(),
                "pane-border-status".into(),
                status,
            ]);
        }
        if added.is_empty() {
            self.unset_global("@panechat-pane-border-added");
        } else {
            self.set_global("@panechat-pane-border-added", &added);
        }
    }

    /// The window mark: `#{E:@panechat-window-format}` in front of the user's own
    /// window-status formats (global window options), showing `@panechat-window-mark` while an
    /// agent in one of the window's panes needs you (a format loop over the panes' options:
    /// nothing runs per status tick). An empty mark takes it out again.
    fn setup_window_mark(&mut self) {
        let mark = self.get(WINDOW_MARK);
        if mark.is_empty() || mark == "off" {
            self.unset_global("@panechat-window-format");
        } else {
            let esc = mark.replace(',', "#,").replace('}', "#}");
            // The window's panes, looked at by tmux as it draws (a closed pane takes its mark
            // with it; the window option follows state changes).
            self.set_global(
                "@panechat-window-format",
                &format!("#{{?{},{esc},}}", tmux::NEEDS_YOU_WINDOW_LOOP),
            );
        }
        for name in WINDOW_FORMATS {
            let Some(now) = self.f.opt.get(name).cloned() else {
                continue;
            };
            let mut fmt = now.replace(WINDOW_SEGMENT, "");
            if !mark.is_empty() && mark != "off" {
                fmt = format!("{WINDOW_SEGMENT}{fmt}");
            }
            if fmt != now {
                self.plan
                    .add(["set-option".to_string(), "-gw".into(), name.into(), fmt]);
            }
        }
    }

    /// "done" turns into "idle" when the pane is focused: a `pane-focus-in` hook whose
    /// condition tmux checks itself (`if-shell -F`), so only a pane whose agent is done starts
    /// `panechat tmux-plugin seen`. tmux tells panes' focus only with `focus-events` on: a load
    /// that turned it on records so in `@panechat-focus-events-added`, and gives it back when
    /// the option is turned off.
    fn setup_focus(&mut self) {
        let on = self.get(SEEN_ON_FOCUS) == "on";
        let focus_now = self.f.opt.get("focus-events").cloned().unwrap_or_default();
        let added = self
            .f
            .opt
            .get("@panechat-focus-events-added")
            .is_some_and(|a| !a.is_empty());
        if on {
            let idx = self.f.focus_hook.unwrap_or(self.f.focus_next);
            let seen = self.action(&["seen"], "#{pane_id}");
            self.plan.add([
                "set-hook".to_string(),
                "-g".into(),
                format!("pane-focus-in[{idx}]"),
                format!(
                    "if-shell -F \"#{{==:#{{@panechat_agent}},done}}\" \"{}\"",
                    dquote(&seen)
                ),
            ]);
            if focus_now == "off" {
                self.plan
                    .add(["set-option", "-s", "focus-events", "on"].map(String::from));
                self.set_global("@panechat-focus-events-added", "off");
            }
        } else {
            if let Some(i) = self.f.focus_hook {
                self.plan.add([
                    "set-hook".to_string(),
                    "-gu".into(),
                    format!("pane-focus-in[{i}]"),
                ]);
            }
            if added {
                if focus_now == "on" {
                    self.plan
                        .add(["set-option", "-s", "focus-events", "off"].map(String::from));
                }
                self.unset_global("@panechat-focus-events-added");
            }
        }
    }

    /// tmux-resurrect's hooks run `panechat tmux-plugin resurrect save|restore` (after what
    /// the user's hooks do; an earlier panechat's hook is replaced).
    fn setup_resurrect(&mut self) {
        if self.get(RESURRECT) != "on" {
            return;
        }
        for name in ["save", "restore"] {
            let hook = format!("@resurrect-hook-post-{name}-all");
            let ours = format!("{} tmux-plugin resurrect {name}", shell_quote(self.bin));
            let cur = self.f.opt.get(&hook).cloned().unwrap_or_default();
            let theirs: Vec<&str> = cur
                .split("; ")
                .filter(|c| !c.trim().is_empty())
                .filter(|c| !is_panechat_resurrect_hook(c))
                .collect();
            let mut value = theirs.join("; ");
            if !value.is_empty() {
                value.push_str("; ");
            }
            value.push_str(&ours);
            self.set_global(&hook, &value);
        }
    }
}

/// Whether `cmd` is a tmux-resurrect hook a panechat load set: this one's, or an older
/// panechat's (its bash script, from a clone's `tmux-scripts/` or the data directory's
/// `tmux-plugin/`). A hook of the user's own, whatever its name, is not.
fn is_panechat_resurrect_hook(cmd: &str) -> bool {
    cmd.contains(" tmux-plugin resurrect ")
        || [
            "tmux-scripts/scripts/resurrect.sh'",
            "tmux-plugin/scripts/resurrect.sh'",
        ]
        .iter()
        .any(|old| cmd.contains(old))
}

/// The tmux commands that load the plugin for the binary `bin` (see the module's docs).
pub fn plan(f: &Found, bin: &str) -> Plan {
    let mut l = Loader {
        f,
        bin,
        plan: Plan::default(),
        alias_next: f.alias_next,
    };
    let keys = l.choose_keys();
    l.set_global(BIN.name, bin);
    let pick_phrase = keys
        .get(&1)
        .map(|k| format!("prefix + {k}"))
        .unwrap_or_default();
    let fork = l.action(
        &["fork", &l.get(FORK_SPLIT), &l.get(FORK_KEEP), &pick_phrase],
        "#{pane_id} #{q:@panechat_id}",
    );
    l.set_alias("panechat-fork", &fork);
    let new = l.action(&["new"], "#{pane_id}");
    l.set_alias("panechat-new", &new);
    if f.version >= 302 || f.version == 0 {
        let modern = if f.version >= POPUP_TITLE_AND_ENV {
            "1"
        } else {
            "0"
        };
        let pick = l.action(
            &["pick", &l.get(POPUP_WIDTH), &l.get(POPUP_HEIGHT), modern],
            "#{pane_id} #{q:client_name}",
        );
        l.set_alias("panechat-pick", &pick);
        let (w, h) = (l.get(ASK_WIDTH), l.get(ASK_HEIGHT));
        let ask = l.popup(&w, &h, &["q", "--pane", "--prompt", "--hold"]);
        l.set_alias("panechat-ask", &ask);
        let sel = l.popup(&w, &h, &["q", "--selection", "--prompt", "--hold"]);
        l.set_alias(
            "panechat-ask-selection",
            &format!("send-keys -X copy-selection-and-cancel panechat-selection ; {sel}"),
        );
    } else {
        // display-popup is tmux 3.2.
        let m = Loader::message("panechat: the picker and the ask popups need tmux 3.2 or newer");
        for name in ["panechat-pick", "panechat-ask", "panechat-ask-selection"] {
            l.set_alias(name, &m);
        }
    }
    let next = l.action(
        &["next"],
        &format!("#{{q:client_name}} #{{pane_id}} {NEEDS_YOU_LIST}"),
    );
    l.set_alias("panechat-next", &next);
    l.setup_status();
    l.setup_pane_border();
    l.setup_window_mark();
    l.setup_focus();
    l.setup_resurrect();
    let notes = [
        (
            "panechat-fork",
            "panechat: fork this pane's conversation into a split",
        ),
        ("panechat-pick", "panechat: pick a conversation"),
        (
            "panechat-new",
            "panechat: start a new conversation in this pane",
        ),
        ("panechat-ask", "panechat: ask about this pane"),
        (
            "panechat-ask-selection",
            "panechat: ask about the selection",
        ),
        (
            "panechat-ask-selection",
            "panechat: ask about the selection",
        ),
        (
            "panechat-next",
            "panechat: go to the next pane whose agent needs you",
        ),
    ];
    for (i, (alias, note)) in notes.iter().enumerate() {
        if let Some(key) = keys.get(&i) {
            l.plan.add([
                "bind-key".to_string(),
                "-N".into(),
                (*note).into(),
                "-T".into(),
                KEYS[i].1.into(),
                key.clone(),
                (*alias).into(),
            ]);
        }
    }
    l.notice_skipped();
    l.plan
}

/// Whether `path` names an executable file.
fn executable(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Loads the plugin: one tmux call reads what it needs, one applies the plan (this process
/// becomes that tmux). `bin` is this binary; `@panechat-bin`, when set to an executable, is
/// the one the keys run.
pub fn load(bin: &str) -> crate::Result<i32> {
    let out = RealExec
        .run(&tmux::argv(&query_args()), &[])
        .map_err(|e| crate::Error::Spawn {
            message: format!("cannot run tmux: {e}"),
            source: Some(e),
        })?;
    let found = parse(&String::from_utf8_lossy(&out.stdout));
    let chosen = found
        .opt
        .get(BIN.name)
        .filter(|b| !b.is_empty() && executable(b))
        .map_or(bin, String::as_str)
        .to_string();
    let plan = plan(&found, &chosen);
    // (this process becomes that tmux: the one start not made through `Exec`)
    let mut tmux = Command::new(tmux::PROGRAM);
    tmux.args(&plan.cmds).stdin(Stdio::null());
    if !found.clients.is_empty() && !plan.skipped.is_empty() {
        // A client may go away before the notice reaches it; that is no failure of the load.
        let _ = tmux.status();
        return Ok(0);
    }
    let err = tmux.exec();
    Err(crate::Error::Spawn {
        message: format!("cannot run tmux: {err}"),
        source: Some(err),
    })
}

/// The work a key (or a tmux-resurrect hook) hands to `panechat tmux-plugin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Fork PANE's conversation into a new split (`h` beside, `v` below), keeping the last
    /// `keep` turns (empty: all); `pick` names the picker key for the message shown when the
    /// pane has no conversation.
    Fork {
        /// `h` or `v`.
        split: String,
        /// "" or a number of turns.
        keep: String,
        /// "prefix + P", or "" when the picker has no key.
        pick: String,
        /// The pane the key was pressed in.
        pane: String,
        /// Its conversation ("" when none).
        id: String,
    },
    /// PANE's next question starts a new conversation.
    New {
        /// The pane.
        pane: String,
    },
    /// The picker in a popup over PANE, on CLIENT.
    Pick {
        /// Popup width.
        width: String,
        /// Popup height.
        height: String,
        /// tmux 3.3 or newer (`-T`, `-e`).
        modern: bool,
        /// The pane.
        pane: String,
        /// The client that pressed the key.
        client: String,
    },
    /// Take CLIENT to the next pane after PANE whose agent needs you.
    Next {
        /// The client that pressed the key.
        client: String,
        /// The pane it was pressed in.
        pane: String,
        /// Every pane of the server in order, `%3!` when its agent needs you.
        panes: Vec<String>,
    },
    /// PANE was focused: an agent there that is done is now idle.
    Seen {
        /// The pane.
        pane: String,
    },
    /// tmux-resurrect saved: remember each pane's conversation.
    ResurrectSave,
    /// tmux-resurrect restored: give each pane its conversation back.
    ResurrectRestore,
}

impl Action {
    /// Reads `panechat tmux-plugin ARGS…`.
    pub fn parse(args: &[String]) -> Result<Action, String> {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let s = |x: &&str| x.to_string();
        Ok(match a.as_slice() {
            ["fork", split, keep, pick, pane, rest @ ..] if rest.len() <= 1 => Action::Fork {
                split: s(split),
                keep: s(keep),
                pick: s(pick),
                pane: s(pane),
                id: rest.first().map(s).unwrap_or_default(),
            },
            ["new", pane] => Action::New { pane: s(pane) },
            ["pick", width, height, modern, pane, client] => Action::Pick {
                width: s(width),
                height: s(height),
                modern: *modern == "1",
                pane: s(pane),
                client: s(client),
            },
            ["next", client, pane, panes @ ..] => Action::Next {
                client: s(client),
                pane: s(pane),
                panes: panes.iter().map(s).collect(),
            },
            ["seen", pane] => Action::Seen { pane: s(pane) },
            ["resurrect", "save"] => Action::ResurrectSave,
            ["resurrect", "restore"] => Action::ResurrectRestore,
            _ => {
                return Err(format!(
                    "tmux-plugin: unknown action {:?} (it is run by the tmux plugin's keys; reload the plugin: tmux source-file ~/.tmux.conf)",
                    a.join(" ")
                ))
            }
        })
    }
}

/// The argv that opens the picker for [`Action::Pick`]: a popup over the pane, on the client
/// that pressed the key, in the pane's directory. The popup's command is not expanded as a
/// format (tmux 3.2 to 3.7); `-d` is, against the pane. A popup has no `TMUX_PANE` of its own:
/// the picker gets the pane's, through `-e` on tmux 3.3 and later (which also gives the popup a
/// title), else through `env` in the command.
pub fn pick_popup_args(
    bin: &str,
    width: &str,
    height: &str,
    modern: bool,
    pane: &str,
    client: &str,
) -> Vec<String> {
    let argv = [bin, "pick", "--pane", pane, "--client", client].map(String::from);
    Popup {
        size: (width, height),
        client: Some(client),
        target: Some(pane),
        pane,
        dir: Some("#{pane_current_path}"),
        env: &[],
        argv: &argv,
        modern,
    }
    .args()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(version: u32) -> Found {
        Found {
            version,
            ..Found::default()
        }
    }

    #[test]
    fn the_query_output_is_read_back() {
        let out = "version 3.3a\n@panechat-fork-key M-f\n@panechat-status-running \"[r] \\\"x\\\"\"\nstatus-right \"#{?window_bigger,[#{window_offset_x}#,#{window_offset_y}] ,}\\\"#{=21:pane_title}\\\" %H:%M %d-%b-%y\"\nother-option 1\ncommand-alias[0] split-pane=split-window\ncommand-alias[7] \"panechat-fork=run-shell -b \\\"x\\\"\"\nclient-session-changed[3] \"display-message panechat: x\"\npanechat-client /dev/pts/4\nkey 0\nbind-key    -T prefix       M-f                  send-keys hello\nkey 1\nkey 4\nbind-key -r -T copy-mode Q panechat-ask-selection\n@panechat-fork-keep\n";
        let f = parse(out);
        assert_eq!(f.version, 303);
        assert_eq!(f.opt["@panechat-fork-key"], "M-f");
        assert_eq!(f.opt["@panechat-status-running"], "[r] \"x\"");
        assert_eq!(
            f.opt["status-right"],
            "#{?window_bigger,[#{window_offset_x}#,#{window_offset_y}] ,}\"#{=21:pane_title}\" %H:%M %d-%b-%y"
        );
        assert_eq!(f.opt["@panechat-fork-keep"], "");
        assert!(!f.opt.contains_key("other-option"));
        assert_eq!(f.alias_next, 8);
        assert_eq!(f.alias_at["panechat-fork"], 7);
        assert_eq!(f.hook_next, 4);
        assert_eq!(f.notice_hook, Some(3));
        assert_eq!(f.clients, ["/dev/pts/4"]);
        assert_eq!(f.bound[&0], "send-keys hello");
        assert_eq!(f.bound[&4], "panechat-ask-selection");
        assert!(!f.bound.contains_key(&1));
    }

    #[test]
    fn unquoting_undoes_what_show_options_does() {
        assert_eq!(unquote("plain"), "plain");
        assert_eq!(unquote("\"a \\\\ b \\$x \\\"q\\\"\""), "a \\ b $x \"q\"");
        assert_eq!(unquote("'it is'"), "it is");
        assert_eq!(unquote("\\;"), ";");
        assert_eq!(unquote("\"tab\\there\\001\""), "tab\there\u{1}");
    }

    #[test]
    fn a_first_load_binds_the_default_keys_and_sets_everything_once() {
        let p = plan(&found(303), "/usr/bin/panechat");
        let joined = p.cmds.join(" ");
        for key in [
            "prefix F",
            "prefix P",
            "prefix N",
            "prefix A",
            "copy-mode Q",
            "copy-mode-vi Q",
        ] {
            assert!(
                joined.contains(&format!("-T {key} panechat-")),
                "{key}: {joined}"
            );
        }
        assert!(p.skipped.is_empty());
        // One argv, commands joined by `;` elements, each alias at its own index.
        assert!(p.cmds.iter().filter(|a| *a == ";").count() > 10);
        for i in 0..5 {
            assert!(p.cmds.contains(&format!("command-alias[{i}]")), "{i}");
        }
        assert!(joined.contains("panechat-fork=run-shell -b \"'/usr/bin/panechat' tmux-plugin 'fork' 'h' '' 'prefix + P' #{pane_id} #{q:@panechat_id}\""));
        assert!(joined.contains(
            "@resurrect-hook-post-save-all '/usr/bin/panechat' tmux-plugin resurrect save"
        ));
    }

    #[test]
    fn keys_the_user_bound_are_left_alone_and_named() {
        let mut f = found(303);
        f.bound.insert(0, "send-keys hello".into());
        f.bound.insert(2, "panechat-new".into());
        f.clients = vec!["/dev/pts/1".into()];
        let p = plan(&f, "/b");
        assert_eq!(p.skipped, ["prefix + F"]);
        let joined = p.cmds.join(" ");
        assert!(!joined.contains("-T prefix F "), "{joined}");
        assert!(joined.contains("-T prefix N panechat-new"), "{joined}");
        assert!(joined
            .contains("display-message -c /dev/pts/1 -d 0 panechat: prefix + F already bound"));
        // tmux's own binding of a key the user chose is taken.
        let mut f = found(303);
        f.opt.insert(PICK_KEY.name.into(), "C".into());
        f.bound.insert(1, "customize-mode -Z".into());
        assert!(plan(&f, "/b")
            .cmds
            .join(" ")
            .contains("-T prefix C panechat-pick"));
    }

    #[test]
    fn hostile_binary_paths_survive_every_layer() {
        let p = plan(&found(303), "/opt/a b/it's #1 \"$x\"\\/panechat");
        let fork = p
            .cmds
            .iter()
            .find(|a| a.starts_with("panechat-fork="))
            .unwrap();
        // The shell word, `#` doubled for run-shell, then escaped for tmux's "…".
        assert!(
            fork.contains(r#"'/opt/a b/it'\\''s ##1 \"\$x\"\\/panechat' tmux-plugin"#),
            "{fork}"
        );
    }

    #[test]
    fn old_tmux_gets_popups_without_title_and_no_popups_before_3_2() {
        let p = plan(&found(302), "/b");
        let ask = p
            .cmds
            .iter()
            .find(|a| a.starts_with("panechat-ask="))
            .unwrap();
        assert!(ask.contains("exec env TMUX_PANE=#{pane_id}"), "{ask}");
        assert!(!ask.contains(" -T "), "{ask}");
        let p = plan(&found(301), "/b");
        let pick = p
            .cmds
            .iter()
            .find(|a| a.starts_with("panechat-pick="))
            .unwrap();
        assert!(pick.contains("need tmux 3.2 or newer"), "{pick}");
    }

    #[test]
    fn loading_again_takes_back_what_the_last_load_added() {
        let mut f = found(303);
        f.opt.insert("status-right".into(), "my clock".into());
        let first = plan(&f, "/b");
        // Apply the first load's global options to a second Found, as tmux would.
        let mut again = found(303);
        let mut i = 0;
        while i < first.cmds.len() {
            if first.cmds[i] == "set-option" && first.cmds[i + 1] == "-g" {
                again
                    .opt
                    .insert(first.cmds[i + 2].clone(), first.cmds[i + 3].clone());
            }
            i += 1;
        }
        assert_eq!(
            again.opt["status-right"],
            format!("{STATUS_SEGMENT}my clock")
        );
        assert_eq!(again.opt["@panechat-status-added"], "40 129");
        again.opt.insert(STATUS.name.into(), "off".into());
        let off = plan(&again, "/b");
        let joined = off.cmds.join(" ");
        assert!(
            joined.contains("set-option -g status-right my clock"),
            "{joined}"
        );
        assert!(
            joined.contains("set-option -g status-right-length 40"),
            "{joined}"
        );
        assert!(
            joined.contains("set-option -gu @panechat-status-added"),
            "{joined}"
        );
    }

    #[test]
    fn resurrect_hooks_keep_the_users_and_replace_an_older_panechats() {
        let mut f = found(303);
        f.opt.insert(
            "@resurrect-hook-post-save-all".into(),
            "my-save; ~/bin/resurrect.sh save; '/old/tmux-scripts/scripts/resurrect.sh' save"
                .into(),
        );
        let p = plan(&f, "/b");
        let i = p
            .cmds
            .iter()
            .position(|a| a == "@resurrect-hook-post-save-all")
            .unwrap();
        assert_eq!(
            p.cmds[i + 1],
            "my-save; ~/bin/resurrect.sh save; '/b' tmux-plugin resurrect save"
        );
        // Loaded again: nothing stacks.
        f.opt.insert(
            "@resurrect-hook-post-save-all".into(),
            p.cmds[i + 1].clone(),
        );
        let again = plan(&f, "/b");
        assert!(!again
            .cmds
            .contains(&"@resurrect-hook-post-save-all".to_string()));
    }

    #[test]
    fn actions_are_read_back() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            Action::parse(&v(&["fork", "h", "", "prefix + P", "%3", "01abc"])).unwrap(),
            Action::Fork {
                split: "h".into(),
                keep: "".into(),
                pick: "prefix + P".into(),
                pane: "%3".into(),
                id: "01abc".into()
            }
        );
        assert!(matches!(
            Action::parse(&v(&["fork", "h", "", "", "%3"])).unwrap(),
            Action::Fork { id, .. } if id.is_empty()
        ));
        assert_eq!(
            Action::parse(&v(&["resurrect", "save"])).unwrap(),
            Action::ResurrectSave
        );
        assert!(Action::parse(&v(&["nope"])).is_err());
    }

    #[test]
    fn the_picker_popup_quotes_its_command() {
        let a = pick_popup_args("/x y/panechat", "90%", "80%", false, "%1", "/dev/pts/2");
        assert_eq!(
            a.last().unwrap(),
            "exec env TMUX_PANE=%1 '/x y/panechat' 'pick' '--pane' '%1' '--client' '/dev/pts/2'"
        );
        let a = pick_popup_args("/b", "90%", "80%", true, "%1", "c");
        assert!(a.contains(&"TMUX_PANE=%1".to_string()));
    }

    #[test]
    fn every_option_is_documented_with_its_default() {
        let docs = include_str!("../../../docs/tmux.md");
        for o in OPTIONS {
            let row = docs
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", o.name)))
                .unwrap_or_else(|| panic!("{} is not in docs/tmux.md's option table", o.name));
            let cell = row.split('|').nth(2).unwrap().trim();
            match o.default {
                Some("") => assert!(cell.starts_with("empty"), "{}: {row}", o.name),
                Some(d) => assert_eq!(cell, format!("`{d}`"), "{}: {row}", o.name),
                None => {}
            }
        }
    }
}
