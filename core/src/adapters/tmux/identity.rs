//! tmux: how its panes' server is told (used by the session layer, so this file uses nothing
//! else of the crate).

/// The server `$TMUX` names, `<socket>,<pid>` (`$TMUX` is `<socket>,<pid>,<session index>`).
pub fn server_of(tmux_var: &str) -> &str {
    tmux_var
        .rsplit_once(',')
        .map_or(tmux_var, |(head, _idx)| head)
}

/// The pid of the server `$TMUX` names.
pub fn server_pid(tmux_var: &str) -> Option<u32> {
    tmux_var.split(',').nth(1)?.parse().ok()
}

/// Whether a process named `comm` is a tmux server.
pub fn is_server_process(comm: &str) -> bool {
    comm.starts_with("tmux: server")
}

/// Whether `TERM` is one tmux sets in its panes (`screen*`, `tmux*`).
pub fn is_pane_term(term: &str) -> bool {
    term.starts_with("screen") || term.starts_with("tmux")
}
