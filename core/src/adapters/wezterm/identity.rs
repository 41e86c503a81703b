//! WezTerm: how its panes are named (used by the session layer, so this file uses nothing of the
//! crate but [`crate::hash`]).

use crate::hash::short_hash;

/// The session key of pane `n` of the WezTerm instance listening on `socket` (`None`: the one
/// local instance), in the instance whose tag is `tag`: `wezterm:<hash>:<n>`.
pub fn key(socket: Option<&str>, n: &str, tag: Option<&str>) -> String {
    let mut server = socket.map(short_hash).unwrap_or_else(|| "local".into());
    if let Some(tag) = tag {
        server = short_hash(&format!("{server},{tag}"));
    }
    format!("wezterm:{server}:{n}")
}
