//! Zellij: how its panes are named and their server told (used by the session layer, so this
//! file uses nothing of the crate; the session part is the shared vocabulary's, which the
//! plugin computes too).

use panechat_vocab::key::zellij_session_part;

/// The session key of pane `n` of Zellij session `name`: `zellij:<name>:<n>`, or
/// `zellij:<name>~<tag>:<n>` when the session's server is known (`tag`: a session of the same
/// name started later is another). A name that is long or has other characters than
/// `[A-Za-z0-9._-]` is hashed.
pub fn key(name: &str, n: &str, tag: Option<&str>) -> String {
    let part = zellij_session_part(name);
    match tag {
        Some(tag) => format!("zellij:{part}~{tag}:{n}"),
        None => format!("zellij:{part}:{n}"),
    }
}

/// Whether a process named `comm` is a Zellij server (a shell in a Zellij pane, a command the
/// plugin runs and a floating pane are all its children).
pub fn is_server_process(comm: &str) -> bool {
    comm == "zellij"
}
