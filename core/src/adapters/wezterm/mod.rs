//! WezTerm: user vars set with OSC 1337 `SetUserVar` (base64 values), pane capture and
//! liveness through `wezterm cli`.

/// The WezTerm plugin, carried by the binary for `panechat init wezterm --plugin FILE`.
pub const PLUGIN: &str = include_str!("../../../../wezterm-lua/plugin/init.lua");

/// The line of the plugin that names its build.
const BUILD_LINE: &str = "local BUILD = '";

/// A WezTerm plugin file's build: the one it declares (`local BUILD = '…'`) and the one it is
/// (a hash of the file with the declared value left out); `None` when it declares none.
pub fn build_of(lua: &str) -> Option<(String, String)> {
    let start = lua.find(BUILD_LINE)? + BUILD_LINE.len();
    let end = start + lua[start..].find('\'')?;
    let declared = lua[start..end].to_string();
    let blank = format!("{}{}", &lua[..start], &lua[end..]);
    let hash = crate::hash::hex64(crate::hash::fnv1a(blank.as_bytes()));
    Some((declared, hash))
}

/// The build of the plugin this binary carries.
pub fn carried_build() -> String {
    build_of(PLUGIN).map(|(_, h)| h).unwrap_or_default()
}

pub mod capture;
pub mod identity;
pub mod liveness;

use base64::Engine;

use crate::adapters::exec::{self, Exec};
use crate::env::Env;
use crate::error::Result;

/// The program.
pub const PROGRAM: &str = "wezterm";

/// `wezterm ARGS…` as an argv, the program found on `PATH`.
fn path_argv(args: &[String]) -> Vec<String> {
    let mut v = vec![PROGRAM.to_string()];
    v.extend(args.iter().cloned());
    v
}

/// `wezterm ARGS…` as an argv, the program next to the WezTerm that started this process
/// (`$WEZTERM_EXECUTABLE_DIR`, which WezTerm sets for what it runs), else from `PATH`.
pub fn argv(env: &Env, args: &[&str]) -> Vec<String> {
    let program = env
        .get_os("WEZTERM_EXECUTABLE_DIR")
        .map(|d| std::path::Path::new(d).join(PROGRAM))
        .filter(|p| p.is_file())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| PROGRAM.into());
    let mut v = vec![program];
    v.extend(args.iter().map(|a| a.to_string()));
    v
}

/// Runs `wezterm ARGS…` (to `what`, for the error) and returns what it printed.
pub fn run(exec: &dyn Exec, args: Vec<String>, what: &str) -> Result<String> {
    exec::checked(exec, &path_argv(&args), what)
}

/// The escape sequence that sets user var `name` to `value`; wrapped in tmux's DCS passthrough
/// (inner ESC doubled) when WezTerm runs tmux (`allow-passthrough on` is needed there).
pub fn set_user_var(name: &str, value: &str, inside_tmux: bool) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(value.as_bytes());
    let seq = format!("\x1b]1337;SetUserVar={name}={b64}\x07");
    if inside_tmux {
        format!("\x1bPtmux;{}\x1b\\", seq.replace('\x1b', "\x1b\x1b")).into_bytes()
    } else {
        seq.into_bytes()
    }
}

/// The user vars that publish a pane's state: `panechat_id`, `panechat_title`,
/// `panechat_state` and `panechat_held` (empty values while the pane has no conversation),
/// `panechat_agent` (`idle`, `working`, `needs-you`, `done`) and `panechat_agent_text`
/// (`claude: running Bash`), empty while the pane has no agent.
pub fn state_vars(st: &crate::state::PaneState, inside_tmux: bool) -> Vec<u8> {
    use crate::title::pane_text;
    let mut out = Vec::new();
    let id = st
        .conversation
        .as_ref()
        .map(|c| c.to_string())
        .unwrap_or_default();
    let title = st.title.as_deref().map(pane_text).unwrap_or_default();
    let held = st
        .held_by
        .as_ref()
        .map(|h| pane_text(&h.pane.place()))
        .unwrap_or_default();
    out.extend(set_user_var("panechat_id", &id, inside_tmux));
    out.extend(set_user_var("panechat_title", &title, inside_tmux));
    out.extend(set_user_var(
        "panechat_state",
        st.activity.as_str(),
        inside_tmux,
    ));
    out.extend(set_user_var("panechat_held", &held, inside_tmux));
    // The agent: its state's name and its summary (empty while the pane has none).
    let (agent, text) = st
        .agent
        .as_ref()
        .map(|a| (a.state.as_str(), pane_text(&a.summary())))
        .unwrap_or_default();
    out.extend(set_user_var("panechat_agent", agent, inside_tmux));
    out.extend(set_user_var("panechat_agent_text", &text, inside_tmux));
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_carried_plugin_declares_the_build_it_is() {
        let (declared, is) =
            build_of(PLUGIN).expect("wezterm-lua/plugin/init.lua declares its build");
        assert_eq!(
            declared, is,
            "wezterm-lua/plugin/init.lua changed: set its line to `local BUILD = '{is}'`"
        );
    }

    use super::*;

    #[test]
    fn encodes_values_in_base64() {
        let s = String::from_utf8(set_user_var("panechat_title", "a\x1bb", false)).unwrap();
        assert_eq!(s, "\x1b]1337;SetUserVar=panechat_title=YRti\x07");
        let t = String::from_utf8(set_user_var("x", "y", true)).unwrap();
        assert!(t.starts_with("\x1bPtmux;\x1b\x1b]1337;") && t.ends_with("\x07\x1b\\"));
    }
}
