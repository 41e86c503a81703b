//! Per-multiplexer encodings of what the core tells the multiplexers (what is sent when is
//! decided in [`crate::publish`]), and the popups through which they ask the lock question.
//!
//! All text goes through [`crate::title::pane_text`] first: no controls, and no `#` that a later
//! reader of what panechat left (tmux-resurrect, a user's status line) could expand.

pub mod tmux;
pub mod tmux_plugin;
pub mod wezterm;
pub mod zellij;

use crate::env::Env;
use crate::session::{innermost_multiplexer, Multiplexer};
use crate::title::pane_text;

/// Waits (at most `max`) for what this process handed to the multiplexers and is still on its
/// way: Zellij pane states sent by detached processes that may need sending again. Returns at
/// once when nothing is in flight (tmux and WezTerm states are delivered as they are made).
pub fn settle(max: std::time::Duration) {
    zellij::settle(max);
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
            tmux::popup(&tmux::RealTmux, env.get("TMUX_PANE"), argv, env_pass)
        }
        // (Zellij's question is watched while it is up: `query::zellij_question`, `zellij::spawn_popup`)
        _ => None,
    };
    match code {
        None => Popup::NotShown,
        Some(code) => LockAnswer::from_exit_code(code).map_or(Popup::Unclear, Popup::Answer),
    }
}
