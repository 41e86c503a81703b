//! What the core tells the multiplexers, and the hook through which they ask the lock question.
//!
//! Whenever a pane's conversation is resolved or retitled, [`publish`] sets:
//! - the OSC 2 title `panechat: <title>` (the id while untitled) on the terminal;
//! - inside tmux, the pane options `@panechat_id` and `@panechat_title` ([`tmux`]);
//! - inside WezTerm, the user vars `panechat_id` and `panechat_title` ([`wezterm`]).
//!
//! All text is sanitised first ([`crate::title::sanitize_title`]).

pub mod tmux;
pub mod wezterm;
pub mod zellij;

use std::io::Write;

use crate::env::Env;
use crate::session::{innermost_multiplexer, Multiplexer, Session};
use crate::title::sanitize_title;

/// What to show for a conversation.
#[derive(Debug, Clone)]
pub struct Published {
    /// The conversation id.
    pub id: String,
    /// Its title, if it has one.
    pub title: Option<String>,
}

impl Published {
    /// The title, or the id while untitled, sanitised.
    pub fn label(&self) -> String {
        match &self.title {
            Some(t) if !t.is_empty() => sanitize_title(t),
            _ => sanitize_title(&self.id),
        }
    }
}

/// The bytes that set the terminal title to `panechat: <label>`.
pub fn osc2(label: &str) -> Vec<u8> {
    format!("\x1b]2;panechat: {}\x07", sanitize_title(label)).into_bytes()
}

/// Publishes the conversation of this process's own pane: OSC 2 and WezTerm user vars are
/// written to `term` (the terminal, when there is one), tmux options are set through `tmux`.
pub fn publish(
    env: &Env,
    session: &Session,
    p: &Published,
    term: Option<&mut dyn Write>,
    tmux: &dyn tmux::Tmux,
) {
    if let Some(term) = term {
        let mut bytes = osc2(&p.label());
        if env.get("WEZTERM_PANE").is_some() || env.get("TERM_PROGRAM") == Some("WezTerm") {
            let inside_tmux = env.get("TMUX").is_some();
            bytes.extend(wezterm::set_user_var("panechat_id", &p.id, inside_tmux));
            bytes.extend(wezterm::set_user_var(
                "panechat_title",
                &p.title
                    .clone()
                    .map(|t| sanitize_title(&t))
                    .unwrap_or_default(),
                inside_tmux,
            ));
        }
        let _ = term.write_all(&bytes);
        let _ = term.flush();
    }
    if session.multiplexer == Multiplexer::Tmux {
        if let Some(pane) = &session.pane {
            tmux::publish(tmux, pane, p, false);
        }
    }
    publish_zellij(session, p);
}

/// The Zellij channel: a `panechat::state` pipe message for the session's pane.
fn publish_zellij(session: &Session, p: &Published) {
    if session.multiplexer == Multiplexer::Zellij {
        if let Some(pane) = &session.pane {
            zellij::publish_payload(&zellij::published_payload(session.key.as_str(), pane, p));
        }
    }
}

/// Publishes to another pane of the same multiplexer (e.g. the new split of a fork): only the
/// channels that do not need that pane's terminal.
pub fn publish_other(env: &Env, session: &Session, p: &Published, tmux: &dyn tmux::Tmux) {
    publish_zellij(session, p);
    if session.multiplexer == Multiplexer::Tmux
        && innermost_multiplexer(env) == Some(Multiplexer::Tmux)
    {
        if let Some(pane) = &session.pane {
            tmux::publish(tmux, pane, p, true);
        }
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

/// Asks the lock question in a multiplexer popup that runs `argv` (`panechat lock-prompt …`).
/// `None` when this multiplexer has no popup here or it could not be shown (the caller then
/// asks inline).
pub fn popup_prompt(
    env: &Env,
    argv: &[String],
    env_pass: &[(String, String)],
) -> Option<LockAnswer> {
    let code = match innermost_multiplexer(env)? {
        Multiplexer::Tmux => tmux::popup(argv, env_pass)?,
        Multiplexer::Zellij => zellij::popup(argv, env_pass)?,
        _ => return None,
    };
    LockAnswer::from_exit_code(code)
}
