//! tmux: pane options, titles and popups, always through argv vectors.
//!
//! Untrusted text never reaches a tmux format or a shell unescaped: options are set from argv
//! elements (not expanded), `select-pane -T` (a format) gets every `#` doubled, and an argument
//! ending in `;` (which tmux would take as a command separator) is escaped as `\;`.

use std::process::{Command, Stdio};

use crate::state::PaneState;
use crate::title::sanitize_title;

/// Runs tmux commands; tests substitute a recorder.
pub trait Tmux {
    /// Runs `tmux ARGS…` and returns its exit status (`None` if it could not run).
    fn run(&self, args: &[String]) -> Option<i32>;
    /// Starts `tmux ARGS…` without waiting for it.
    fn spawn(&self, args: &[String]);
}

/// The real tmux binary, talking to the server named by `$TMUX`.
#[derive(Debug, Default)]
pub struct RealTmux;

impl Tmux for RealTmux {
    fn run(&self, args: &[String]) -> Option<i32> {
        Command::new("tmux")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()
            .and_then(|s| s.code())
    }

    fn spawn(&self, args: &[String]) {
        if let Ok(mut child) = Command::new("tmux")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            // Reap it in the background so the caller does not wait.
            std::thread::spawn(move || child.wait());
        }
    }
}

/// Escapes `#` for text tmux will expand and then draw (status segments, like `#{q/h:…}`):
/// every `#` doubled, so `#(…)`, `#{…}` and `#[style]` all show literally.
pub fn format_escape(s: &str) -> String {
    s.replace('#', "##")
}

/// Escapes text for an argument tmux expands once and stores (`select-pane -T`), so that it is
/// stored exactly: a run of `#` is doubled, except a run just before `[`, which tmux keeps as it
/// is (style markers survive expansion). Checked against tmux 3.3a in the end-to-end tests.
pub fn title_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '#' {
            out.push(c);
            continue;
        }
        let mut run = 1;
        while chars.peek() == Some(&'#') {
            chars.next();
            run += 1;
        }
        let keep = chars.peek() == Some(&'[');
        for _ in 0..(if keep { run } else { 2 * run }) {
            out.push('#');
        }
    }
    out
}

/// Protects an argv element from tmux's `;` command separator.
pub fn arg_escape(s: &str) -> String {
    match s.strip_suffix(';') {
        Some(head) => format!("{head}\\;"),
        None => s.to_string(),
    }
}

/// The argv (one tmux invocation, commands joined by `;`) that publishes a pane's state on
/// tmux pane `pane`: the options `@panechat_id`, `@panechat_title`, `@panechat_state`,
/// `@panechat_held` (unset while the pane has no conversation) and the pane title.
pub fn state_args(pane: &str, st: &PaneState) -> Vec<String> {
    let held = st
        .held_by
        .as_ref()
        .map(|h| sanitize_title(&h.pane.place()))
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
            st.title.as_deref().map(sanitize_title).unwrap_or_default(),
        ),
        ("@panechat_state", st.activity.as_str().to_string()),
        ("@panechat_held", held),
    ];
    let mut args: Vec<String> = Vec::new();
    for (name, value) in values {
        if !args.is_empty() {
            args.push(";".into());
        }
        args.extend(["set-option".into(), "-p".into()]);
        if st.conversation.is_none() && name != "@panechat_state" {
            args.extend(["-u".into(), "-t".into(), pane.into(), name.into()]);
        } else {
            args.extend(["-t".into(), pane.into(), name.into(), arg_escape(&value)]);
        }
    }
    let title = if st.conversation.is_some() {
        format!("panechat: {}", sanitize_title(&st.label()))
    } else {
        String::new()
    };
    args.extend([
        ";".into(),
        "select-pane".into(),
        "-t".into(),
        pane.into(),
        "-T".into(),
        arg_escape(&title_escape(&title)),
    ]);
    args
}

/// Quotes a string for `/bin/sh` (single quotes).
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Shows `argv` in `display-popup -E` over this process's pane and returns its exit status
/// (`None` when no popup could be shown, e.g. no client is attached).
///
/// tmux does not expand the popup's command as a format (3.2 to 3.5), so it is only
/// shell-quoted; `-e` values are not expanded either. A popup has no `TMUX_PANE` of its own:
/// the waiting pane's is passed, so the prompt knows its multiplexer and pane.
pub fn popup(
    tmux: &dyn Tmux,
    pane: Option<&str>,
    argv: &[String],
    env_pass: &[(String, String)],
) -> Option<i32> {
    let code = tmux.run(&popup_args(pane, argv, env_pass))?;
    // display-popup itself fails with 1 when it cannot open; the prompt never exits 1.
    (code != 1).then_some(code)
}

/// The `display-popup` argv that runs `argv` over `pane` (a popup has no pane of its own, so
/// the pane is passed on as `TMUX_PANE`). The command is one shell-quoted string; tmux runs it
/// with `/bin/sh` without expanding formats in it, and a trailing `;` is escaped.
pub fn popup_args(
    pane: Option<&str>,
    argv: &[String],
    env_pass: &[(String, String)],
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "display-popup".into(),
        "-E".into(),
        "-w".into(),
        "72".into(),
        "-h".into(),
        "12".into(),
        "-T".into(),
        " panechat ".into(),
    ];
    if let Some(pane) = pane.filter(|p| !p.is_empty()) {
        args.extend([
            "-t".into(),
            pane.to_string(),
            "-e".into(),
            format!("TMUX_PANE={pane}"),
        ]);
    }
    for (k, v) in env_pass {
        args.push("-e".into());
        args.push(arg_escape(&format!("{k}={v}")));
    }
    let cmd = argv
        .iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    args.push(arg_escape(&cmd));
    args
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
                command: "query".into(),
                since: String::new(),
            }),
        };
        let a = state_args("%3", &st);
        assert_eq!(a[5], "01m7yd5d6e4q2r8kzz");
        assert_eq!(a[12], "x #(touch PWNED) [31m\\;");
        assert_eq!(a[19], "idle");
        assert_eq!(a[26], "tmux pane %4");
        assert_eq!(a.last().unwrap(), "panechat: x ##(touch PWNED) [31m\\;");
        assert_eq!(title_escape("a #[x] ##[ #{y} ##"), "a #[x] ##[ ##{y} ####");
        assert_eq!(a.iter().filter(|s| *s == ";").count(), 4);
        // Without a conversation the options are unset and the title cleared.
        let none = PaneState {
            conversation: None,
            title: None,
            held_by: None,
            ..st
        };
        let a = state_args("%3", &none);
        assert!(a.starts_with(&["set-option".into(), "-p".into(), "-u".into()]));
        assert_eq!(a.last().unwrap(), "");
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
        let a = popup_args(Some("%3"), &argv, &env);
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
        assert_eq!(a[8..12], ["-t", "%3", "-e", "TMUX_PANE=%3"]);
        assert_eq!(a[12..14], ["-e", "PANECHAT_HOME=/home/u/it's\\;"]);
        assert_eq!(
            a[14],
            "'/opt/my #1 build/panechat' 'lock-prompt' '--id' '01m7yd5d6e4q2r8kzz'"
        );
        assert_eq!(popup_args(None, &argv, &[]).len(), 9);
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("a'b"), "'a'\\''b'");
    }
}
