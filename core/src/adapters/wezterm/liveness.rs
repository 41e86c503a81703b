//! WezTerm: whether a recorded pane still exists. Its socket tells whether the instance runs;
//! `wezterm cli list` (always asked while the socket is there: nothing else tells a closed
//! WezTerm pane) whether the pane does.

use crate::adapters::exec::Exec;
use crate::adapters::pane::Liveness;
use crate::env::Env;
use crate::session::Server;

/// Whether pane `pane` of the WezTerm instance `server` still exists (`env`: this process's,
/// which names the WezTerm that started it).
pub fn check(env: &Env, server: &Server, pane: Option<&str>, exec: &dyn Exec) -> Liveness {
    let Server::Wezterm { socket } = server else {
        return Liveness::Unknown;
    };
    if socket.is_empty() {
        return Liveness::Unknown;
    }
    if !std::path::Path::new(socket).exists() {
        return Liveness::Gone("the WezTerm instance is gone".into());
    }
    let list = exec
        .run(
            &super::argv(env, &["cli", "list", "--format", "json"]),
            &[("WEZTERM_UNIX_SOCKET".into(), socket.clone())],
        )
        .ok()
        .filter(|o| o.success())
        .map(|o| o.text());
    if let (Some(pane), Some(list)) = (pane, list) {
        let ids: Vec<String> = serde_json::from_str::<serde_json::Value>(&list)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.get("pane_id").map(|x| x.to_string()))
            .collect();
        if !ids.is_empty() && !ids.iter().any(|i| i == pane) {
            return Liveness::Gone(format!("WezTerm pane {pane} was closed"));
        }
    }
    Liveness::Unknown
}
