//! Zellij: how its panes' server is told (used by the session layer, so this file uses nothing
//! else of the crate).

/// Whether a process named `comm` is a Zellij server (a shell in a Zellij pane, a command the
/// plugin runs and a floating pane are all its children).
pub fn is_server_process(comm: &str) -> bool {
    comm == "zellij"
}
