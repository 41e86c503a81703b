//! tmux: whether a recorded pane still exists. Spawns nothing unless `deep`: the server's pid
//! and socket tell whether the server runs; `tmux -S SOCKET list-panes -a` whether the pane does.

use crate::adapters::exec::Exec;
use crate::adapters::pane::Liveness;
use crate::session::{process_alive, Server};

/// Whether pane `pane` of tmux server `server` still exists; `deep` allows asking tmux.
pub fn check(server: &Server, pane: Option<&str>, deep: bool, exec: &dyn Exec) -> Liveness {
    let Server::Tmux { socket, pid } = server else {
        return Liveness::Unknown;
    };
    if !process_alive(*pid, 0) {
        return Liveness::Gone(format!("tmux server (pid {pid}) is gone"));
    }
    if !std::path::Path::new(socket).exists() {
        return Liveness::Gone(format!("tmux socket {socket} is gone"));
    }
    if deep {
        if let (Some(pane), Some(list)) = (
            pane,
            super::output(
                exec,
                &super::exec::argv(&["-S", socket, "list-panes", "-a", "-F", "#{pane_id}"]),
            ),
        ) {
            if !list.lines().any(|l| l == pane) {
                return Liveness::Gone(format!("tmux pane {pane} was closed"));
            }
        }
    }
    Liveness::Alive
}
