//! Everything panechat knows about each multiplexer, one module each (`tmux`, `zellij`,
//! `wezterm`): how a pane's text and neighbours are read (`capture`), whether a recorded pane
//! still exists (`liveness`), what the core tells the multiplexers (what is sent when is decided
//! in [`crate::publish`]), the popups through which they ask the lock question, and the tmux
//! actions of the picker and the plugin. The rest of the core speaks to this module's functions,
//! which choose the multiplexer; every program is run through one [`exec::Exec`].
//!
//! All text goes through [`crate::title::pane_text`] first: no controls, and no `#` that a later
//! reader of what panechat left (tmux-resurrect, a user's status line) could expand.

pub mod channels;
pub mod exec;
pub mod integrations;
pub mod pane;
pub mod tmux;
pub mod tmux_plugin;
pub mod wezterm;
pub mod zellij;
pub mod zellij_plugin;

use crate::env::Env;
use crate::error::Result;
use crate::session::{innermost_multiplexer, Multiplexer, Server};
use crate::title::pane_text;
use exec::Exec;
use pane::{digits_of, outside_error, Liveness, PaneText, Which};

/// Whether this process handed something to a multiplexer that may still be on its way (a
/// Zellij pane state sent by a detached process that may need sending again): only then has
/// [`settle`] anything to wait for.
pub fn in_flight() -> bool {
    zellij::handed_over()
}

/// Waits (at most `max`) for what this process handed to the multiplexers and is still on its
/// way (see [`in_flight`]). Returns at once when nothing is (tmux and WezTerm states are
/// delivered as they are made).
pub fn settle(max: std::time::Duration) {
    zellij::settle(max);
}

/// Captures the text of the pane `which` names, at most `lines` lines of screen and scrollback,
/// with the multiplexer the command runs in (innermost, when nested).
pub fn capture(env: &Env, exec: &dyn Exec, which: &Which, lines: usize) -> Result<PaneText> {
    let mux = innermost_multiplexer(env).or_else(|| {
        // In a tmux popup `TMUX_PANE` is empty: a pane named by id still works.
        (env.get("TMUX").is_some() && matches!(which, Which::Id(_))).then_some(Multiplexer::Tmux)
    });
    match mux {
        Some(Multiplexer::Tmux) => tmux::capture::capture(env, exec, which, lines),
        Some(Multiplexer::Zellij) => zellij::capture::capture(env, exec, which, lines),
        Some(Multiplexer::Wezterm) => wezterm::capture::capture(env, exec, which, lines),
        _ => Err(outside_error()),
    }
}

/// The environment `env` as seen from pane `pane` of multiplexer `mux` (`%3`, `3`): that pane's
/// variable set and the other multiplexers' pane variables cleared.
pub fn env_in_pane(env: &Env, mux: Multiplexer, pane: &str) -> Env {
    let mut e = env.clone();
    for v in ["TMUX_PANE", "ZELLIJ_PANE_ID", "WEZTERM_PANE"] {
        e.set(v, "");
    }
    match mux {
        Multiplexer::Tmux => e.set("TMUX_PANE", format!("%{}", digits_of(pane))),
        Multiplexer::Zellij => e.set("ZELLIJ_PANE_ID", digits_of(pane)),
        Multiplexer::Wezterm => e.set("WEZTERM_PANE", digits_of(pane)),
        _ => {}
    }
    e
}

/// Whether pane `pane` of multiplexer `mux`, living in `server`, still exists (its instance
/// known to run); `deep` allows asking the multiplexer (WezTerm is always asked: nothing else
/// tells a closed WezTerm pane).
pub fn liveness(
    mux: Multiplexer,
    server: &Server,
    pane: Option<&str>,
    deep: bool,
    exec: &dyn Exec,
) -> Liveness {
    match mux {
        Multiplexer::Tmux => tmux::liveness::check(server, pane, deep, exec),
        Multiplexer::Zellij => zellij::liveness::check(server, pane, deep, exec),
        Multiplexer::Wezterm => wezterm::liveness::check(&Env::capture(), server, pane, exec),
        _ => Liveness::Unknown,
    }
}

/// Takes the user (client `client`, else the one running this) to pane `pane` of `mux`; `Err`
/// says what to show instead (only tmux can be told to go to a pane).
pub fn switch_to(
    exec: &dyn Exec,
    mux: Multiplexer,
    client: Option<&str>,
    pane: &str,
) -> std::result::Result<(), String> {
    match mux {
        Multiplexer::Tmux => tmux::actions::switch_to(exec, client, pane)
            .map_err(|e| format!("cannot go to pane {pane}: {e}")),
        _ => Err(format!("the conversation is in pane {pane}")),
    }
}

/// Splits pane `pane` of `mux` (beside it, or below when `below`) and returns the new pane's
/// id; `Err` says why not (only tmux splits on panechat's request).
pub fn split(
    exec: &dyn Exec,
    mux: Multiplexer,
    pane: Option<&str>,
    below: bool,
) -> std::result::Result<String, String> {
    match (mux, pane) {
        (Multiplexer::Tmux, Some(pane)) => {
            tmux::actions::split(exec, pane, below).map_err(|e| format!("cannot split: {e}"))
        }
        _ => Err("forking into a split needs tmux".into()),
    }
}

/// The bytes that set the terminal title to `panechat: <label>` (nothing but `panechat` while
/// the pane has no conversation).
pub fn osc2(label: &str) -> Vec<u8> {
    let label = pane_text(label);
    if label.is_empty() {
        b"\x1b]2;panechat\x07".to_vec()
    } else {
        format!("\x1b]2;panechat: {label}\x07").into_bytes()
    }
}

/// The answer to "this conversation is locked".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockAnswer {
    /// Keep waiting.
    Wait,
    /// Start a new conversation.
    New,
    /// Fork the locked conversation.
    Fork,
    /// Give up.
    Cancel,
}

impl LockAnswer {
    /// Every answer, as written on a command line.
    pub const NAMES: [&'static str; 4] = ["wait", "new", "fork", "cancel"];

    /// The answer `name` (one of [`LockAnswer::NAMES`]) stands for.
    pub fn from_name(name: &str) -> Option<LockAnswer> {
        Some(match name {
            "wait" => LockAnswer::Wait,
            "new" => LockAnswer::New,
            "fork" => LockAnswer::Fork,
            "cancel" => LockAnswer::Cancel,
            _ => return None,
        })
    }

    /// Exit status of `panechat lock-prompt` for this answer (the popup protocol).
    pub fn exit_code(self) -> i32 {
        match self {
            LockAnswer::Wait => 10,
            LockAnswer::New => 11,
            LockAnswer::Fork => 12,
            LockAnswer::Cancel => 130,
        }
    }

    /// The answer an exit status stands for.
    pub fn from_exit_code(code: i32) -> Option<LockAnswer> {
        match code {
            10 => Some(LockAnswer::Wait),
            11 => Some(LockAnswer::New),
            12 => Some(LockAnswer::Fork),
            130 => Some(LockAnswer::Cancel),
            _ => None,
        }
    }
}

/// How a lock question asked in a multiplexer popup ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Popup {
    /// The popup answered.
    Answer(LockAnswer),
    /// No popup here, or it could not be shown (no client attached, the multiplexer did not
    /// answer): the caller asks inline.
    NotShown,
    /// The command that showed it ended without an answer (Zellij can cut it off while the
    /// popup stays on screen): the answer may still come through another channel.
    Unclear,
}

/// Asks the lock question in a multiplexer popup that runs `argv` (`panechat lock-prompt …`).
pub fn popup_prompt(env: &Env, argv: &[String], env_pass: &[(String, String)]) -> Popup {
    let code = match innermost_multiplexer(env) {
        Some(Multiplexer::Tmux) => {
            tmux::popup(&exec::RealExec, env.get("TMUX_PANE"), argv, env_pass)
        }
        // (Zellij's question is watched while it is up: `query::zellij_question`, `zellij::spawn_popup`)
        _ => None,
    };
    match code {
        None => Popup::NotShown,
        Some(code) => LockAnswer::from_exit_code(code).map_or(Popup::Unclear, Popup::Answer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exec::Recorder;

    #[test]
    fn only_tmux_is_told_to_switch_or_split() {
        let r = Recorder::new(&["", "%8\n"]);
        switch_to(&r, Multiplexer::Tmux, None, "%3").unwrap();
        assert_eq!(
            split(&r, Multiplexer::Tmux, Some("%3"), false).unwrap(),
            "%8"
        );
        assert_eq!(r.calls.borrow()[0][..2], ["tmux", "switch-client"]);
        assert_eq!(r.calls.borrow()[1][..3], ["tmux", "split-window", "-h"]);
        let quiet = Recorder::default();
        assert_eq!(
            switch_to(&quiet, Multiplexer::Zellij, None, "3").unwrap_err(),
            "the conversation is in pane 3"
        );
        assert_eq!(
            split(&quiet, Multiplexer::Wezterm, Some("3"), true).unwrap_err(),
            "forking into a split needs tmux"
        );
        assert_eq!(
            split(&quiet, Multiplexer::Tmux, None, true).unwrap_err(),
            "forking into a split needs tmux"
        );
        assert!(quiet.calls.borrow().is_empty());
    }

    #[test]
    fn capture_and_liveness_ask_the_pane_s_own_multiplexer() {
        let r = Recorder::new(&["text\n"]);
        let env = Env::from_pairs([("WEZTERM_PANE", "4")]);
        let p = capture(&env, &r, &Which::Own, 10).unwrap();
        assert_eq!(
            (p.multiplexer, p.raw.as_str()),
            (Multiplexer::Wezterm, "text\n")
        );
        assert_eq!(r.calls.borrow()[0][..3], ["wezterm", "cli", "get-text"]);
        let r = Recorder::new(&["other\n"]);
        let gone = liveness(
            Multiplexer::Zellij,
            &Server::parse(Multiplexer::Zellij, "work"),
            Some("3"),
            true,
            &r,
        );
        assert_eq!(
            gone,
            Liveness::Gone("Zellij session work no longer exists".into())
        );
        assert_eq!(r.lines(), ["zellij list-sessions --no-formatting --short"]);
        let e = capture(&Env::default(), &r, &Which::Own, 10).unwrap_err();
        assert!(e.to_string().contains("needs a multiplexer pane"), "{e}");
    }
}
