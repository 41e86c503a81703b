//! Zellij: whether a recorded pane still exists (asked only when `deep`):
//! `zellij list-sessions` whether its session does, then one `zellij --session NAME action
//! list-panes --json` per session (when the [`Exec`] caches) whether the pane does.

use crate::adapters::exec::Exec;
use crate::adapters::pane::Liveness;
use crate::session::Server;

/// Whether pane `pane` of Zellij session `server` still exists; nothing is asked (`Unknown`)
/// unless `deep`.
pub fn check(server: &Server, pane: Option<&str>, deep: bool, exec: &dyn Exec) -> Liveness {
    let Server::Zellij { session } = server else {
        return Liveness::Unknown;
    };
    if !deep {
        return Liveness::Unknown;
    }
    let out = |args: &[&str]| {
        exec.run(&super::argv(args), &[])
            .ok()
            .filter(|o| o.success())
            .map(|o| o.text())
    };
    match out(&["list-sessions", "--no-formatting", "--short"]) {
        Some(list) if !list.lines().any(|l| l.trim() == session) => {
            Liveness::Gone(format!("Zellij session {session} no longer exists"))
        }
        Some(_) => {
            let Some(pane) = pane else {
                return Liveness::Alive;
            };
            let Some(list) = out(&["--session", session, "action", "list-panes", "--json"]) else {
                return Liveness::Unknown;
            };
            pane_in(&list, session, pane)
        }
        None => Liveness::Unknown,
    }
}

/// Whether `zellij action list-panes --json` output `list` of session `session` lists pane
/// `pane`.
fn pane_in(list: &str, session: &str, pane: &str) -> Liveness {
    let id = pane.strip_prefix("terminal_").unwrap_or(pane);
    let Ok(serde_json::Value::Array(panes)) = serde_json::from_str::<serde_json::Value>(list)
    else {
        // (Zellij may cut a command off and print nothing)
        return Liveness::Unknown;
    };
    let open = panes
        .iter()
        .any(|p| p["is_plugin"] == false && p["id"].as_u64().is_some_and(|n| n.to_string() == id));
    if open || panes.is_empty() {
        Liveness::Alive
    } else {
        Liveness::Gone(format!(
            "Zellij pane {} of session {session} was closed",
            crate::session::zellij_pane_number(pane)
        ))
    }
}
