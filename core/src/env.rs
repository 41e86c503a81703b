//! The one place that reads the process environment.
//!
//! Everything else receives an [`Env`] snapshot, so session resolution and config layering are
//! pure functions that tests can drive with any environment.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// A snapshot of the environment variables panechat cares about.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, OsString>,
}

/// Variables read by panechat (the snapshot only copies these).
const NAMES: &[&str] = &[
    "PANECHAT_HOME",
    "PANECHAT_CONFIG",
    "PANECHAT_SESSION",
    "PANECHAT_LOCK_DURATION",
    "PANECHAT_PROVIDER",
    "PANECHAT_MODEL",
    "PANECHAT_BASE_URL",
    "PANECHAT_LOG",
    "PANECHAT_FORK_FROM",
    "PANECHAT_ZELLIJ_PLUGIN_BUILD",
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "TMUX",
    "TMUX_PANE",
    "WEZTERM_PANE",
    "WEZTERM_UNIX_SOCKET",
    "WEZTERM_EXECUTABLE_DIR",
    "ZELLIJ",
    "ZELLIJ_PANE_ID",
    "ZELLIJ_SESSION_NAME",
    "ZELLIJ_CONFIG_DIR",
    "KITTY_WINDOW_ID",
    "KITTY_PID",
    "ITERM_SESSION_ID",
    "TERM_SESSION_ID",
    "WT_SESSION",
    "TERM",
    "TERM_PROGRAM",
    "HOME",
    "SHELL",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "EDITOR",
    "VISUAL",
    "NO_COLOR",
    "PATH",
];

impl Env {
    /// Copies the relevant variables from the process environment.
    pub fn capture() -> Env {
        let mut vars = BTreeMap::new();
        for name in NAMES {
            if let Some(v) = std::env::var_os(name) {
                vars.insert((*name).to_string(), v);
            }
        }
        Env { vars }
    }

    /// Builds a snapshot from pairs (for tests).
    pub fn from_pairs<I, K, V>(pairs: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<OsString>,
    {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Sets a variable in this snapshot only (the process environment is left alone): used to
    /// look at another pane as if running in it.
    pub fn set(&mut self, name: &str, value: impl Into<OsString>) {
        self.vars.insert(name.to_string(), value.into());
    }

    /// A variable's value when it is set, non-empty and valid UTF-8.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .and_then(|v| v.to_str())
            .filter(|s| !s.is_empty())
    }

    /// A variable's raw value (may be non-UTF-8 or empty).
    pub fn get_os(&self, name: &str) -> Option<&OsString> {
        self.vars.get(name)
    }

    /// Reads any variable named at run time, e.g. the API key variable named in the config.
    /// This is the only dynamic environment read in panechat.
    pub fn read_dynamic(name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|s| !s.is_empty())
    }
}

/// This binary's path (for what it runs again: watchers, popups, the plugins' keys), or
/// `panechat` (found on `PATH`) when the system cannot say.
pub fn this_binary() -> std::path::PathBuf {
    std::env::current_exe().unwrap_or_else(|_| "panechat".into())
}
