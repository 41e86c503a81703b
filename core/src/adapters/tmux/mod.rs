//! tmux: pane options, titles and popups, always through argv vectors.
//!
//! Untrusted text never reaches a tmux format or a shell unescaped: options are set from argv
//! elements (not expanded), and every text left in tmux (pane titles, `@panechat_*` options) is
//! [`pane_text`], which carries no `#` at all, so it stays inert whoever re-reads it later
//! (tmux-resurrect's `select-pane -T`, a user's `#{pane_title}` in a status line). An argument
//! ending in `;` (which tmux would take as a command separator) is escaped as `\;`. The one
//! place text is parsed by tmux as a command is [`batch_args`]'s `if-shell`, where it is one
//! single-quoted word ([`command_quote`]).

pub mod actions;
pub mod capture;
pub mod identity;
pub mod keys;
pub mod liveness;

use crate::adapters::exec::{self, Exec};
use crate::error::Result;
use crate::state::PaneState;
use crate::title::pane_text;

/// The program.
pub const PROGRAM: &str = "tmux";

/// `tmux ARGS…` as an argv.
pub fn argv<S: AsRef<str>>(args: &[S]) -> Vec<String> {
    let mut v = vec![PROGRAM.to_string()];
    v.extend(args.iter().map(|a| a.as_ref().to_string()));
    v
}

/// Runs `tmux ARGS…` (to `what`, for the error) and returns what it printed.
pub fn run(exec: &dyn Exec, args: Vec<String>, what: &str) -> Result<String> {
    exec::checked(exec, &argv(&args), what)
}

/// Runs `tmux ARGS…` and returns its exit status (`None` if it could not run).
pub fn status(exec: &dyn Exec, args: &[String]) -> Option<i32> {
    exec.run(&argv(args), &[]).ok().and_then(|o| o.status)
}

/// Runs `tmux ARGS…` and returns what it printed (`None` if it failed or could not run).
pub fn output(exec: &dyn Exec, args: &[String]) -> Option<String> {
    let o = exec.run(&argv(args), &[]).ok()?;
    o.success().then(|| o.text())
}

/// Starts `tmux [-S SOCKET] ARGS…` without waiting for it (but after the previous one, see
/// [`exec::RealExec`]).
pub fn spawn(exec: &dyn Exec, socket: Option<&str>, args: &[String]) {
    let mut all: Vec<String> = Vec::with_capacity(args.len() + 2);
    if let Some(s) = socket {
        all.push("-S".into());
        all.push(s.into());
    }
    all.extend(args.iter().cloned());
    exec.spawn(&argv(&all));
}

/// A tmux version as `MAJOR * 100 + MINOR`, parsed from `tmux -V` or `#{version}`: `3.3a` is
/// 303, `3.4` 304, `next-3.6` (the development version leading to 3.6) 306, `master` (built
/// from the source tree) 9999, `openbsd-7.4` the tmux that OpenBSD release carried (7.1 and
/// later: 303; 6.9 and 7.0: 302; older: 301). Anything else is 0: unknown, so only what every
/// supported tmux (3.2) has is used. The tmux plugin's loader
/// ([`super::tmux_plugin`]) uses it too.
pub fn parse_version(v: &str) -> u32 {
    let v = v.trim();
    let v = v.strip_prefix("tmux ").unwrap_or(v);
    if v == "master" || v.ends_with("-master") {
        return 9999;
    }
    let major_minor = |s: &str| -> Option<(u32, u32)> {
        let (major, rest) = s.split_once('.')?;
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        Some((major.parse().ok()?, digits.parse().ok()?))
    };
    if let Some(obsd) = v.strip_prefix("openbsd-") {
        return match major_minor(obsd) {
            Some((major, minor)) if major > 7 || (major == 7 && minor >= 1) => 303,
            Some((7, _)) | Some((6, 9)) => 302,
            Some(_) => 301,
            None => 0,
        };
    }
    let v = v.strip_prefix("next-").unwrap_or(v);
    major_minor(v).map_or(0, |(major, minor)| major * 100 + minor)
}

/// The first version whose `display-popup` has `-T` (a title) and `-e` (environment).
pub const POPUP_TITLE_AND_ENV: u32 = 303;

/// What tmux says about the waiting pane and the attached clients, asked in one call before a
/// popup: the argv of that call.
pub fn clients_args(pane: &str) -> Vec<String> {
    [
        "display-message",
        "-p",
        "-t",
        pane,
        "#{version}\t#{window_id}\t#{session_id}",
        ";",
        "list-clients",
        "-F",
        "#{client_name}\t#{window_id}\t#{session_id}\t#{client_activity}\t#{client_control_mode}#{client_readonly}",
    ]
    .map(String::from)
    .to_vec()
}

/// From the output of [`clients_args`]: tmux's version ([`parse_version`]) and the client to
/// show a popup over the waiting pane on. That is the client showing the pane's window (the
/// most recently active one when several do); else one attached to the pane's session, where
/// the person who asked is; else none (the question is then asked in the pane). Control-mode
/// and read-only clients cannot answer a popup and are never chosen.
pub fn choose_client(out: &str) -> (u32, Option<String>) {
    let mut lines = out.lines();
    let Some(head) = lines.next() else {
        return (0, None);
    };
    let mut h = head.split('\t');
    let version = parse_version(h.next().unwrap_or(""));
    let (window, session) = (h.next().unwrap_or(""), h.next().unwrap_or(""));
    let mut best: Option<(u8, u64, &str)> = None;
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let [name, w, s, activity, flags] = f[..] else {
            continue;
        };
        if name.is_empty() || flags.contains('1') {
            continue;
        }
        let rank = if !window.is_empty() && w == window {
            2
        } else if !session.is_empty() && s == session {
            1
        } else {
            continue;
        };
        let key = (rank, activity.parse().unwrap_or(0), name);
        if best.is_none_or(|b| (key.0, key.1) > (b.0, b.1)) {
            best = Some(key);
        }
    }
    (version, best.map(|b| b.2.to_string()))
}

/// From the output of [`clients_args`]: whether `client` shows the waiting pane's window.
pub fn shows_pane_window(out: &str, client: &str) -> bool {
    let mut lines = out.lines();
    let window = lines
        .next()
        .and_then(|head| head.split('\t').nth(1))
        .unwrap_or("");
    lines.any(|l| {
        let mut f = l.split('\t');
        f.next() == Some(client) && f.next() == Some(window) && !window.is_empty()
    })
}

/// Escapes `#` for text tmux will expand and then draw (status segments, like `#{q/h:…}`):
/// every `#` doubled, so `#(…)`, `#{…}` and `#[style]` all show literally.
pub fn format_escape(s: &str) -> String {
    s.replace('#', "##")
}

/// Protects an argv element from tmux's `;` command separator.
pub fn arg_escape(s: &str) -> String {
    match s.strip_suffix(';') {
        Some(head) => format!("{head}\\;"),
        None => s.to_string(),
    }
}

/// The pane title of a pane whose next question starts a new conversation.
pub const NEW_CONVERSATION_TITLE: &str = "panechat: new conversation";

/// The argv (one tmux invocation, commands joined by `;`) that publishes a pane's state on
/// tmux pane `pane`: the options `@panechat_id`, `@panechat_title`, `@panechat_state`,
/// `@panechat_held` (unset while the pane has no conversation), `@panechat_agent` and
/// `@panechat_agent_text` (unset while it has no agent), the window's `@panechat_needs_you`
/// and the pane title.
pub fn state_args(pane: &str, st: &PaneState) -> Vec<String> {
    let mut args = option_args(pane, st, false);
    if let Some(title) = title_args(pane, st) {
        args.push(";".into());
        args.extend(title);
    }
    args
}

/// The argv (one tmux invocation) that publishes the states of several panes of one server:
/// [`state_args`] for one pane. For more, a pane that has closed meanwhile must not keep the
/// others from their state, though tmux skips the rest of a `;` sequence after a command that
/// fails: every option is set with `-q` (a missing pane is then no error), then every title
/// but the last is set from an `if-shell -F -t PANE` (which runs on when its pane is missing;
/// its command, whose failure ends only itself, is tmux-quoted text: [`command_quote`]).
pub fn batch_args(states: &[(&str, &PaneState)]) -> Vec<String> {
    if let [(pane, st)] = states {
        return state_args(pane, st);
    }
    let mut args: Vec<String> = Vec::new();
    for (pane, st) in states {
        if !args.is_empty() {
            args.push(";".into());
        }
        args.extend(option_args(pane, st, true));
    }
    let titles: Vec<(&str, Vec<String>)> = states
        .iter()
        .filter_map(|(pane, st)| title_args(pane, st).map(|t| (*pane, t)))
        .collect();
    for (i, (pane, title)) in titles.iter().enumerate() {
        if !args.is_empty() {
            args.push(";".into());
        }
        if i + 1 == titles.len() {
            args.extend(title.iter().cloned());
        } else {
            let words: Vec<String> = title.iter().map(|w| command_quote(w)).collect();
            args.extend(
                ["if-shell", "-F", "-t", pane, "1"]
                    .map(String::from)
                    .into_iter()
                    .chain([words.join(" ")]),
            );
        }
    }
    args
}

/// `s` as one word of tmux's command language, taken literally: single-quoted (no `$`, `~`,
/// `\` or `;` is special inside), a `'` closed, escaped and reopened.
pub fn command_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The `set-option` commands (joined by `;`) of [`state_args`]; `quiet`: with `-q`, so that a
/// missing pane is no error.
fn option_args(pane: &str, st: &PaneState, quiet: bool) -> Vec<String> {
    let held = st
        .held_by
        .as_ref()
        .map(|h| pane_text(&h.pane.place()))
        .unwrap_or_default();
    let values = [
        (
            "@panechat_id",
            st.conversation
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default(),
        ),
        (
            "@panechat_title",
            st.title.as_deref().map(pane_text).unwrap_or_default(),
        ),
        ("@panechat_state", st.activity.as_str().to_string()),
        ("@panechat_held", held),
    ];
    let mut args: Vec<String> = Vec::new();
    let set = |args: &mut Vec<String>, name: &str, value: Option<&str>| {
        if !args.is_empty() {
            args.push(";".into());
        }
        args.extend(["set-option".into(), "-p".into()]);
        if quiet {
            args.push("-q".into());
        }
        match value {
            None => args.extend(["-u".into(), "-t".into(), pane.into(), name.into()]),
            Some(v) => args.extend(["-t".into(), pane.into(), name.into(), arg_escape(v)]),
        }
    };
    for (name, value) in values {
        let keep = st.conversation.is_some() || name == "@panechat_state";
        set(&mut args, name, keep.then_some(value.as_str()));
    }
    let agent = st.agent.as_ref();
    set(&mut args, AGENT_OPTION, agent.map(|a| a.state.as_str()));
    let text = agent.map(|a| pane_text(&a.summary()));
    set(&mut args, AGENT_TEXT_OPTION, text.as_deref());
    // The window's mark, from every pane of the window (tmux expands the loop: no process).
    args.push(";".into());
    args.extend(["set-option".into(), "-w".into()]);
    if quiet {
        args.push("-q".into());
    }
    args.extend([
        "-F".into(),
        "-t".into(),
        pane.into(),
        NEEDS_YOU_WINDOW_OPTION.into(),
        NEEDS_YOU_WINDOW_FORMAT.into(),
    ]);
    args
}

/// The pane option holding the pane's agent state (`idle`, `working`, `needs-you`, `done`),
/// unset while the pane has no agent.
pub const AGENT_OPTION: &str = "@panechat_agent";
/// The pane option holding the agent's summary (`claude: running Bash`), inert text.
pub const AGENT_TEXT_OPTION: &str = "@panechat_agent_text";
/// The window option that is `1` while an agent in one of the window's panes needs you, empty
/// otherwise.
pub const NEEDS_YOU_WINDOW_OPTION: &str = "@panechat_needs_you";
/// A format that is not empty while an agent in one of the window's panes needs you.
pub const NEEDS_YOU_WINDOW_LOOP: &str = "#{P:#{?#{==:#{@panechat_agent},needs-you},1,}}";
/// What [`NEEDS_YOU_WINDOW_OPTION`] is set from (`set-option -F`, against a pane of the window).
pub const NEEDS_YOU_WINDOW_FORMAT: &str = "#{?#{P:#{?#{==:#{@panechat_agent},needs-you},1,}},1,}";

/// The `select-pane -T` command of [`state_args`]; `None` for a pane with a coding agent and
/// no conversation, which keeps the title its agent gives it.
fn title_args(pane: &str, st: &PaneState) -> Option<Vec<String>> {
    let title = if let Some(a) = &st.agent {
        // The agent first: a status line cuts a long title at its end.
        match st.conversation.is_some() {
            true => format!("{} · {}", pane_text(&a.line()), pane_text(&st.label())),
            false => return None,
        }
    } else if st.conversation.is_some() {
        format!("panechat: {}", pane_text(&st.label()))
    } else {
        // The pane's next question starts one (`panechat new`, a removed conversation): an
        // empty title would show as `""` in tmux's default status line.
        NEW_CONVERSATION_TITLE.to_string()
    };
    Some(vec![
        "select-pane".into(),
        "-t".into(),
        pane.into(),
        "-T".into(),
        // `select-pane -T` expands formats; the text has no `#` (pane_text), doubling is a
        // second guard.
        arg_escape(&format_escape(&title)),
    ])
}

/// The argv that lists every pane of the server with the conversation it shows
/// (`@panechat_id`), one `<pane id>\t<id>` line each.
pub fn shown_ids_args() -> Vec<String> {
    ["list-panes", "-a", "-F", "#{pane_id}\t#{@panechat_id}"]
        .map(String::from)
        .to_vec()
}

/// The panes of [`shown_ids_args`]'s output that show a conversation: `(pane, id)`.
pub fn parse_shown_ids(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(pane, id)| pane.starts_with('%') && !id.is_empty())
        .map(|(pane, id)| (pane.to_string(), id.to_string()))
        .collect()
}

pub use crate::shell::quote as shell_quote;

/// Shows `argv` in `display-popup -E` over `pane` (this process's) and returns its exit status
/// (`None` when no popup could be shown: no client shows the pane or its session, or tmux
/// could not open it). One tmux call first asks for the version and the clients
/// ([`choose_client`]), so the popup goes to the client of the person who asked; a client that
/// shows another window of the pane's session is first switched to the pane.
///
/// tmux does not expand the popup's command as a format (3.2 to 3.7), so it is only
/// shell-quoted; `-e` values are not expanded either. A popup has no `TMUX_PANE` of its own:
/// the waiting pane's is passed, so the prompt knows its multiplexer and pane.
pub fn popup(
    exec: &dyn Exec,
    pane: Option<&str>,
    argv: &[String],
    env_pass: &[(String, String)],
) -> Option<i32> {
    let pane = pane.filter(|p| !p.is_empty())?;
    let out = output(exec, &clients_args(pane))?;
    let (version, client) = choose_client(&out);
    let client = client?;
    if !shows_pane_window(&out, &client) {
        // The client is on another window of the pane's session (the holder's, say): take it to
        // the asking pane, so the popup opens over the pane it is about.
        status(
            exec,
            &["switch-client", "-c", &client, "-t", pane].map(String::from),
        )?;
    }
    let code = status(exec, &popup_args(pane, &client, version, argv, env_pass))?;
    // display-popup itself fails with 1 when it cannot open; the prompt never exits 1.
    (code != 1).then_some(code)
}

/// The `display-popup` argv that runs `argv` over `pane` on `client` (see [`Popup`]): a popup
/// of 72x12, titled on tmux 3.3 and later.
pub fn popup_args(
    pane: &str,
    client: &str,
    version: u32,
    argv: &[String],
    env_pass: &[(String, String)],
) -> Vec<String> {
    Popup {
        size: ("72", "12"),
        client: Some(client),
        target: Some(pane),
        pane,
        dir: None,
        env: env_pass,
        argv,
        modern: version >= POPUP_TITLE_AND_ENV,
    }
    .args()
}

/// In a [`Popup`] rendered for `run-shell -C` ([`Popup::run_shell_command`]), the pane of the
/// key's context (`#{pane_id}`, expanded when the key is pressed). A NUL: no argument can hold
/// one, so a path with `#{pane_id}` in it stays literal.
pub const KEY_PANE: &str = "\0";

/// A `display-popup -E` that runs a command about a pane: the one builder of every popup
/// panechat opens in tmux (the lock question, the picker, the ask keys).
///
/// A popup has no pane of its own: the pane is passed on as `TMUX_PANE`. tmux does not expand
/// the popup's command as a format (3.2 to 3.7), so it is one shell-quoted string run with
/// `exec`; `-d` is expanded against the target pane. tmux 3.3 and later get a title (`-T`)
/// and the environment through `-e` (not expanded either); tmux 3.2, which has neither, gets
/// the environment through `env` in the command.
#[derive(Debug, Clone, Copy)]
pub struct Popup<'a> {
    /// Width and height (`-w`, `-h`).
    pub size: (&'a str, &'a str),
    /// The client it opens on (`-c`); `None`: the client of the command's context.
    pub client: Option<&'a str>,
    /// The pane it opens over (`-t`); `None`: the pane of the command's context.
    pub target: Option<&'a str>,
    /// The pane the command is about (`TMUX_PANE`).
    pub pane: &'a str,
    /// The command's directory (`-d`, a format).
    pub dir: Option<&'a str>,
    /// More environment for the command.
    pub env: &'a [(String, String)],
    /// The command.
    pub argv: &'a [String],
    /// tmux 3.3 or later (`-T`, `-e`).
    pub modern: bool,
}

impl Popup<'_> {
    /// The argv of `display-popup` (without `tmux`), before `;` escaping.
    fn words(&self) -> Vec<String> {
        let mut args: Vec<String> = vec!["display-popup".into(), "-E".into()];
        if let Some(dir) = self.dir {
            args.extend(["-d".into(), dir.to_string()]);
        }
        args.extend(["-w", self.size.0, "-h", self.size.1].map(String::from));
        if self.modern {
            args.extend(["-T".into(), " panechat ".into()]);
        }
        for (flag, v) in [("-c", self.client), ("-t", self.target)] {
            if let Some(v) = v {
                args.extend([flag.to_string(), v.to_string()]);
            }
        }
        let mut env: Vec<(String, String)> = vec![("TMUX_PANE".into(), self.pane.to_string())];
        env.extend(self.env.iter().cloned());
        let mut command: Vec<String> = vec!["exec".into()];
        if self.modern {
            for (k, v) in &env {
                args.push("-e".into());
                args.push(format!("{k}={v}"));
            }
        } else {
            command.push("env".into());
            // (a pane id, or the format of one, is left bare)
            let bare = |v: &str| {
                v.replace(KEY_PANE, "")
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"%_".contains(&b))
            };
            command.extend(env.iter().map(|(k, v)| {
                if k == "TMUX_PANE" && bare(v) {
                    format!("{k}={v}")
                } else {
                    shell_quote(&format!("{k}={v}"))
                }
            }));
        }
        command.extend(self.argv.iter().map(|a| shell_quote(a)));
        args.push(command.join(" "));
        args
    }

    /// The argv of `display-popup` (without `tmux`); a trailing `;` of a word is escaped.
    pub fn args(&self) -> Vec<String> {
        self.words().iter().map(|a| arg_escape(a)).collect()
    }

    /// The popup as one tmux command for `run-shell -C`, which expands formats in it once:
    /// every `#` doubled, and [`KEY_PANE`] written `#{pane_id}` (expanded then: the pane of the
    /// key's context); each word bare when it can be, else in tmux single quotes, else (when it
    /// holds one) in double quotes.
    pub fn run_shell_command(&self) -> String {
        let word = |w: &String| {
            let w = w.replace('#', "##");
            let w = if !w.is_empty()
                && w.replace(KEY_PANE, "")
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_%/.=:".contains(&b))
            {
                w
            } else if !w.contains('\'') {
                format!("'{w}'")
            } else {
                format!("\"{}\"", dquote(&w))
            };
            w.replace(KEY_PANE, "#{pane_id}")
        };
        self.words().iter().map(word).collect::<Vec<_>>().join(" ")
    }
}

/// `s` escaped for the inside of a double-quoted tmux string (`\`, `"` and `$` are special).
pub fn dquote(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('$', "\\$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_titles_are_escaped_for_tmux() {
        use crate::session::{Multiplexer, PaneRef, SessionKey};
        use crate::state::{Activity, HeldBy};
        let st = PaneState {
            schema: 1,
            pane: PaneRef {
                session: SessionKey::normalize("tmux:h:%3").unwrap(),
                multiplexer: Multiplexer::Tmux,
                pane: Some("%3".into()),
            },
            conversation: crate::store::conversation::ConversationId::from_trusted(
                "01m7yd5d6e4q2r8kzz",
            ),
            title: Some("x #(touch PWNED) \x1b[31m;".into()),
            turns: 1,
            updated_at: None,
            activity: Activity::Idle,
            held_by: Some(HeldBy {
                pane: PaneRef {
                    session: SessionKey::normalize("tmux:h:%4").unwrap(),
                    multiplexer: Multiplexer::Tmux,
                    pane: Some("%4".into()),
                },
                pid: 1,
                start: 0,
                command: crate::runs::RunKind::Query,
                since: String::new(),
            }),
            agent: None,
            backend: None,
        };
        let a = state_args("%3", &st);
        assert_eq!(a[5], "01m7yd5d6e4q2r8kzz");
        assert_eq!(a[12], "x ♯(touch PWNED) [31m");
        assert_eq!(a[19], "idle");
        assert_eq!(a[26], "tmux pane %4");
        assert_eq!(a.last().unwrap(), "panechat: x ♯(touch PWNED) [31m");
        // The one format is panechat's own (the window's mark, expanded by tmux to 1 or "").
        assert!(
            !a.iter()
                .any(|s| s.contains('#') && s != NEEDS_YOU_WINDOW_FORMAT),
            "{a:?}"
        );
        assert_eq!(a.iter().filter(|s| *s == ";").count(), 7);
        // An agent: its state and summary (inert), and the title leads with it.
        let with_agent = PaneState {
            agent: Some(crate::agents::Agent {
                kind: "claude-code".into(),
                state: crate::agents::AgentState::NeedsYou,
                tool: Some("Bash #(x)".into()),
                ..Default::default()
            }),
            ..st.clone()
        };
        let a = state_args("%3", &with_agent);
        let at = |name: &str| &a[a.iter().position(|w| w == name).unwrap() + 1];
        assert_eq!(at(AGENT_OPTION), "needs-you");
        assert_eq!(at(AGENT_TEXT_OPTION), "claude: needs you");
        assert_eq!(
            a.last().unwrap(),
            "⚑ claude: needs you · x ♯(touch PWNED) [31m"
        );
        let working = PaneState {
            conversation: None,
            agent: Some(crate::agents::Agent {
                state: crate::agents::AgentState::Working,
                ..with_agent.agent.clone().unwrap()
            }),
            ..with_agent.clone()
        };
        let a = state_args("%3", &working);
        assert_eq!(
            a[a.iter().position(|w| w == AGENT_TEXT_OPTION).unwrap() + 1],
            "claude: running Bash ♯(x)"
        );
        // Without a conversation the pane keeps the title its agent gives it.
        assert!(!a.iter().any(|w| w == "select-pane"), "{a:?}");
        assert_eq!(a.last().unwrap(), NEEDS_YOU_WINDOW_FORMAT);
        let both = batch_args(&[("%3", &working), ("%4", &with_agent)]);
        assert_eq!(both.iter().filter(|w| *w == "select-pane").count(), 1);
        assert_eq!(
            both.last().unwrap(),
            "⚑ claude: needs you · x ♯(touch PWNED) [31m"
        );
        // Without a conversation the options are unset and the title says so.
        let none = PaneState {
            conversation: None,
            title: None,
            held_by: None,
            agent: None,
            backend: None,
            ..st
        };
        let a = state_args("%3", &none);
        assert!(a.starts_with(&["set-option".into(), "-p".into(), "-u".into()]));
        assert_eq!(a.last().unwrap(), "panechat: new conversation");
    }

    #[test]
    fn several_panes_take_one_invocation_that_a_missing_pane_does_not_stop() {
        use crate::session::{Multiplexer, PaneRef, SessionKey};
        let st = |pane: &str, title: &str| PaneState {
            schema: 1,
            pane: PaneRef {
                session: SessionKey::normalize(&format!("tmux:h:{pane}")).unwrap(),
                multiplexer: Multiplexer::Tmux,
                pane: Some(pane.into()),
            },
            conversation: crate::store::conversation::ConversationId::from_trusted(
                "01m7yd5d6e4q2r8kzz",
            ),
            title: Some(title.into()),
            turns: 1,
            updated_at: None,
            activity: crate::state::Activity::Streaming,
            held_by: None,
            agent: None,
            backend: None,
        };
        let (a, b) = (st("%1", "it's $HOME ~ \\ {x}; #(y)"), st("%2", "b"));
        assert_eq!(batch_args(&[("%1", &a)]), state_args("%1", &a));
        let args = batch_args(&[("%1", &a), ("%2", &b)]);
        let commands: Vec<&[String]> = args.split(|w| w == ";").collect();
        assert_eq!(commands.len(), 16, "{args:?}");
        for c in &commands[..14] {
            assert_eq!(c[0], "set-option", "{c:?}");
            assert_eq!(c[2], "-q", "{c:?}");
        }
        assert_eq!(
            commands[14],
            [
                "if-shell",
                "-F",
                "-t",
                "%1",
                "1",
                "'select-pane' '-t' '%1' '-T' 'panechat: it'\\''s $HOME ~ \\ {x}; ♯(y)'"
            ]
        );
        assert_eq!(
            commands[15],
            ["select-pane", "-t", "%2", "-T", "panechat: b"]
        );
        assert!(
            !args
                .iter()
                .any(|s| s.contains('#') && s != NEEDS_YOU_WINDOW_FORMAT),
            "{args:?}"
        );
    }

    #[test]
    fn the_popup_runs_the_prompt_over_the_waiting_pane_as_one_quoted_command() {
        let argv: Vec<String> = vec![
            "/opt/my #1 build/panechat".into(),
            "lock-prompt".into(),
            "--id".into(),
            "01m7yd5d6e4q2r8kzz".into(),
        ];
        let env = [("PANECHAT_HOME".to_string(), "/home/u/it's;".to_string())];
        let a = popup_args("%3", "/dev/pts/4", 303, &argv, &env);
        assert_eq!(
            a[..8],
            [
                "display-popup",
                "-E",
                "-w",
                "72",
                "-h",
                "12",
                "-T",
                " panechat "
            ]
        );
        assert_eq!(a[8..12], ["-c", "/dev/pts/4", "-t", "%3"]);
        assert_eq!(a[12..14], ["-e", "TMUX_PANE=%3"]);
        assert_eq!(a[14..16], ["-e", "PANECHAT_HOME=/home/u/it's\\;"]);
        assert_eq!(
            a[16],
            "exec '/opt/my #1 build/panechat' 'lock-prompt' '--id' '01m7yd5d6e4q2r8kzz'"
        );
        assert_eq!(a.len(), 17);
        // tmux 3.2: no title, no -e; the environment goes through env in the command.
        let a = popup_args("%3", "/dev/pts/4", 302, &argv, &env);
        assert_eq!(a[..6], ["display-popup", "-E", "-w", "72", "-h", "12"]);
        assert_eq!(a[6..10], ["-c", "/dev/pts/4", "-t", "%3"]);
        assert_eq!(
            a[10],
            "exec env TMUX_PANE=%3 'PANECHAT_HOME=/home/u/it'\\''s;' '/opt/my #1 build/panechat' 'lock-prompt' '--id' '01m7yd5d6e4q2r8kzz'"
        );
        assert_eq!(a.len(), 11);
    }

    #[test]
    fn one_popup_builder_for_argv_and_for_run_shell() {
        // An alias's popup: over the key's pane, with a binary path that holds `#{pane_id}`.
        let argv: Vec<String> = vec![
            "/x #{pane_id}/it's \"$y\"".into(),
            "q".into(),
            "--session".into(),
            format!("pane:{KEY_PANE}"),
        ];
        let p = Popup {
            size: ("80%", "60%"),
            client: None,
            target: None,
            pane: KEY_PANE,
            dir: Some("#{pane_current_path}"),
            env: &[],
            argv: &argv,
            modern: true,
        };
        // For run-shell -C: every `#` doubled but the key's pane, each word a tmux word.
        assert_eq!(
            p.run_shell_command(),
            "display-popup -E -d '##{pane_current_path}' -w 80% -h 60% -T ' panechat ' \
             -e TMUX_PANE=#{pane_id} \
             \"exec '/x ##{pane_id}/it'\\\\''s \\\"\\$y\\\"' 'q' '--session' 'pane:#{pane_id}'\""
        );
        let old = Popup { modern: false, ..p };
        let c = old.run_shell_command();
        assert!(
            c.starts_with("display-popup -E -d '##{pane_current_path}' -w 80% -h 60% \""),
            "{c}"
        );
        assert!(
            c.contains("\"exec env TMUX_PANE=#{pane_id} '/x ##{pane_id}"),
            "{c}"
        );
        // The argv form (the lock question, the picker): tmux 3.2, no title, no -e; a pane
        // value that is no pane id is quoted; a word ending in `;` is escaped.
        let env = [("HOME".to_string(), "/h;".to_string())];
        let p = Popup {
            size: ("72", "12"),
            client: Some("/dev/pts/1"),
            target: Some("%3"),
            pane: "%3",
            dir: Some("/d;"),
            env: &env,
            argv: &argv[1..2],
            modern: false,
        };
        assert_eq!(
            p.args(),
            [
                "display-popup",
                "-E",
                "-d",
                "/d\\;",
                "-w",
                "72",
                "-h",
                "12",
                "-c",
                "/dev/pts/1",
                "-t",
                "%3",
                "exec env TMUX_PANE=%3 'HOME=/h;' 'q'",
            ]
        );
        let odd = Popup { pane: "%1;x", ..p };
        assert!(odd.args()[12].starts_with("exec env 'TMUX_PANE=%1;x' "));
    }

    #[test]
    fn tmux_versions() {
        for (v, n) in [
            ("3.3a", 303),
            ("tmux 3.3a", 303),
            ("3.4", 304),
            ("3.2", 302),
            ("3.10", 310),
            ("next-3.6", 306),
            ("openbsd-7.4", 303),
            ("openbsd-7.0", 302),
            ("openbsd-6.9", 302),
            ("openbsd-6.8", 301),
            ("master", 9999),
            ("", 0),
            ("unknown", 0),
            ("3", 0),
        ] {
            assert_eq!(parse_version(v), n, "{v}");
        }
    }

    #[test]
    fn the_popup_goes_to_the_client_showing_the_waiting_pane() {
        let head = "3.3a\t@2\t$1\n";
        // Two clients: one on another session (more recently active), one showing @2.
        let out = format!("{head}/dev/pts/1\t@0\t$0\t200\t00\n/dev/pts/2\t@2\t$1\t100\t00\n");
        assert_eq!(choose_client(&out), (303, Some("/dev/pts/2".into())));
        // Two showing it: the most recently active.
        let out = format!("{head}/dev/pts/1\t@2\t$1\t200\t00\n/dev/pts/2\t@2\t$1\t100\t00\n");
        assert_eq!(choose_client(&out).1.as_deref(), Some("/dev/pts/1"));
        // A client of a grouped session showing @2 beats one of the pane's session elsewhere.
        let out = format!("{head}/dev/pts/1\t@1\t$1\t300\t00\n/dev/pts/2\t@2\t$4\t100\t00\n");
        assert_eq!(choose_client(&out).1.as_deref(), Some("/dev/pts/2"));
        // None shows it: one attached to its session (on another window).
        let out = format!("{head}/dev/pts/1\t@0\t$0\t300\t00\n/dev/pts/2\t@1\t$1\t100\t00\n");
        assert_eq!(choose_client(&out).1.as_deref(), Some("/dev/pts/2"));
        assert!(!shows_pane_window(&out, "/dev/pts/2"));
        assert!(shows_pane_window(
            &format!("{head}/dev/pts/2\t@2\t$1\t100\t00\n"),
            "/dev/pts/2"
        ));
        // Only other sessions, control-mode or read-only clients, or none: no popup.
        let out = format!(
            "{head}/dev/pts/1\t@0\t$0\t300\t00\n/dev/pts/2\t@2\t$1\t100\t10\nc\t@2\t$1\t100\t01\n"
        );
        assert_eq!(choose_client(&out), (303, None));
        assert_eq!(choose_client(head), (303, None));
        assert_eq!(choose_client(""), (0, None));
    }

    #[test]
    fn the_popup_takes_the_client_to_the_pane_then_asks_over_it() {
        use crate::adapters::exec::{Output, Recorder};
        // The one client of the pane's session looks at another window.
        let clients = "3.3a\t@2\t$1\n/dev/pts/2\t@1\t$1\t100\t00\n";
        let r = Recorder::answering(vec![
            Output::printed(clients),
            Output::printed(""),
            Output::failed(11, ""),
        ]);
        let argv = vec!["panechat".to_string(), "lock-prompt".to_string()];
        assert_eq!(popup(&r, Some("%3"), &argv, &[]), Some(11));
        let calls = r.calls.borrow();
        assert_eq!(calls[0][..3], ["tmux", "display-message", "-p"]);
        assert_eq!(
            calls[1],
            ["tmux", "switch-client", "-c", "/dev/pts/2", "-t", "%3"]
        );
        assert_eq!(calls[2][..2], ["tmux", "display-popup"]);
        assert_eq!(calls[2].last().unwrap(), "exec 'panechat' 'lock-prompt'");
        // display-popup failing to open (status 1), or no client: asked in the pane instead.
        let r = Recorder::answering(vec![
            Output::printed("3.3a\t@2\t$1\n/dev/pts/2\t@2\t$1\t100\t00\n"),
            Output::failed(1, ""),
        ]);
        assert_eq!(popup(&r, Some("%3"), &argv, &[]), None);
        assert_eq!(
            r.calls.borrow().len(),
            2,
            "no switch when it shows the window"
        );
        let r = Recorder::new(&["3.3a\t@2\t$1\n"]);
        assert_eq!(popup(&r, Some("%3"), &argv, &[]), None);
        assert_eq!(r.calls.borrow().len(), 1);
        assert_eq!(popup(&Recorder::default(), None, &argv, &[]), None);
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("a'b"), "'a'\\''b'");
    }
}
