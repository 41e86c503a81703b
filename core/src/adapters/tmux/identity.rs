//! tmux: how its panes are named and their server told (used by the session layer, so this file
//! uses nothing of the crate but [`crate::hash`]).

use crate::hash::short_hash;

/// The session key of pane `%n` of the server `$TMUX` (`tmux_var`) names, in the server
/// instance whose tag is `tag`: `tmux:<hash>:%n`, the hash of the server's socket and pid (and
/// instance), so a restarted server does not inherit pane `%n`, and the session index is not
/// part of it.
pub fn key(tmux_var: &str, n: &str, tag: Option<&str>) -> String {
    let mut parts = tmux_var.rsplitn(3, ',');
    let _session_idx = parts.next();
    let pid = parts.next().unwrap_or("");
    let socket = parts.next().unwrap_or(tmux_var);
    let mut hash = short_hash(&format!("{socket},{pid}"));
    if let Some(tag) = tag {
        hash = short_hash(&format!("{hash},{tag}"));
    }
    format!("tmux:{hash}:{}", pane_id(n))
}

/// tmux's name of pane number `n`: `%n`.
pub fn pane_id(n: &str) -> String {
    format!("%{n}")
}

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
