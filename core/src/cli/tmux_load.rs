//! The tmux plugin carried inside the binary, for users who have only `panechat`:
//! `panechat init tmux` prints a `run-shell` line that calls `panechat init tmux --load`, which
//! writes the plugin's scripts under panechat's data directory (only when they changed) and
//! runs its loader, exactly as TPM would run a clone's.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use panechat::env::Env;
use panechat::paths::Paths;
use panechat::{Error, Result};

/// The plugin's files (path under the plugin directory, content), from `tmux-scripts/`.
const FILES: &[(&str, &str)] = &[
    (
        "panechat.tmux",
        include_str!("../../../tmux-scripts/panechat.tmux"),
    ),
    (
        "scripts/variables.sh",
        include_str!("../../../tmux-scripts/scripts/variables.sh"),
    ),
    (
        "scripts/helpers.sh",
        include_str!("../../../tmux-scripts/scripts/helpers.sh"),
    ),
    (
        "scripts/fork.sh",
        include_str!("../../../tmux-scripts/scripts/fork.sh"),
    ),
    (
        "scripts/pick.sh",
        include_str!("../../../tmux-scripts/scripts/pick.sh"),
    ),
    (
        "scripts/new.sh",
        include_str!("../../../tmux-scripts/scripts/new.sh"),
    ),
    (
        "scripts/resurrect.sh",
        include_str!("../../../tmux-scripts/scripts/resurrect.sh"),
    ),
];

/// Quotes `bin` for the `run-shell "…"` line of the tmux template: shell single quotes, `#`
/// doubled (run-shell expands formats), then `\`, `"` and `$` escaped for tmux's double quotes.
pub fn quote_for_run_shell(bin: &str) -> String {
    let sh = format!("'{}'", bin.replace('\'', "'\\''")).replace('#', "##");
    sh.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('$', "\\$")
}

/// Writes `text` to `path` unless it already holds it (temp file + rename, mode 0755; never
/// through a link, see `panechat::files`).
fn install(path: &Path, text: &str) -> Result<()> {
    if panechat::files::read_to_string(path).is_ok_and(|t| t == text) {
        return Ok(());
    }
    let dir = path.parent().expect("a file under the plugin directory");
    panechat::paths::ensure_dir(dir)?;
    panechat::store::atomic::write_atomic(path, text.as_bytes())?;
    panechat::files::open_private_file(path, panechat::files::Access::Read)
        .and_then(|f| f.set_permissions(fs::Permissions::from_mode(0o755)))
        .map_err(|e| Error::io(path, e))
}

/// Where the carried plugin is written.
pub fn plugin_dir(paths: &Paths) -> PathBuf {
    paths.data.join("tmux-plugin")
}

/// Writes the plugin and replaces this process with its loader.
pub fn load(bin: &str) -> Result<i32> {
    let paths = Paths::resolve(&Env::capture())?;
    let dir = plugin_dir(&paths);
    for (rel, text) in FILES {
        install(&dir.join(rel), text)?;
    }
    let loader = dir.join("panechat.tmux");
    let err = std::process::Command::new("bash")
        .arg(&loader)
        .env("PANECHAT_BIN", bin)
        .exec();
    Err(Error::Other(format!(
        "cannot run the tmux plugin's loader {} with bash: {err}",
        loader.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_for_run_shell() {
        assert_eq!(
            quote_for_run_shell("/usr/bin/panechat"),
            "'/usr/bin/panechat'"
        );
        assert_eq!(
            quote_for_run_shell("/a b/it's #1 \"$x\"\\"),
            "'/a b/it'\\\\''s ##1 \\\"\\$x\\\"\\\\'"
        );
    }
}
