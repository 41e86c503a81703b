//! The Zellij plugin this binary carries (built from `zellij-plugin/` at the same commit; a
//! test proves its build id, a hash of every source it is built from, is the one a fresh build
//! of those sources names), where `panechat init zellij` puts it, and how a plugin file's build
//! is told.

use std::path::{Path, PathBuf};

use crate::env::Env;

/// The plugin's `.wasm`.
pub const WASM: &[u8] = include_bytes!("../../assets/panechat-zellij.wasm");

/// What precedes the build id in a plugin's bytes (`zellij-plugin/src/main.rs`).
const MARK: &[u8] = b"panechat-zellij-build:";

/// The build id written into a plugin's bytes (`VERSION+HASH`, see `zellij-plugin/build.rs`),
/// or `None` for a file that is not panechat's plugin.
pub fn build_of(bytes: &[u8]) -> Option<&str> {
    let mut rest = bytes;
    while let Some(at) = memchr::memmem::find(rest, MARK) {
        rest = &rest[at + MARK.len()..];
        let Some(end) = rest.iter().take(64).position(|&b| b == b';') else {
            continue;
        };
        let id = std::str::from_utf8(&rest[..end]).ok();
        if let Some(id) = id.filter(|id| is_build_id(id)) {
            return Some(id);
        }
    }
    None
}

fn is_build_id(id: &str) -> bool {
    id.split_once('+').is_some_and(|(v, h)| {
        !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            && h.len() == 16
            && h.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// The build id of the plugin this binary carries.
pub fn carried_build() -> &'static str {
    build_of(WASM).unwrap_or("unknown")
}

/// The variable through which the plugin names its build to the commands it runs.
pub const BUILD_VAR: &str = "PANECHAT_ZELLIJ_PLUGIN_BUILD";

/// What to tell the user when the plugin running this command (its build in [`BUILD_VAR`]) is
/// not the one this binary carries: after an upgrade of either, the two may not understand
/// each other.
pub fn mismatch(env: &Env) -> Option<String> {
    let running = env.get(BUILD_VAR).filter(|b| !b.is_empty())?;
    let carried = carried_build();
    (running != carried).then(|| {
        format!(
            "this Zellij plugin (build {}) is not the one this panechat carries (build {carried}): run `panechat init zellij`, then restart Zellij or run `zellij action start-or-reload-plugin panechat`",
            crate::title::pane_text(running)
        )
    })
}

/// Zellij's configuration directory: `$ZELLIJ_CONFIG_DIR`, else `$XDG_CONFIG_HOME/zellij`,
/// else `~/.config/zellij`.
pub fn config_dir(env: &Env) -> Option<PathBuf> {
    let nonempty = |k: &str| env.get(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    nonempty("ZELLIJ_CONFIG_DIR")
        .or_else(|| nonempty("XDG_CONFIG_HOME").map(|x| x.join("zellij")))
        .or_else(|| nonempty("HOME").map(|h| h.join(".config/zellij")))
}

/// Where `panechat init zellij` installs the plugin: `<config dir>/plugins/panechat.wasm`.
pub fn default_location(env: &Env) -> Option<PathBuf> {
    config_dir(env).map(|d| d.join("plugins").join("panechat.wasm"))
}

/// What a plugin file at a location is, compared with the carried one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// No file there.
    Missing,
    /// The carried plugin, byte for byte.
    Current,
    /// panechat's plugin of another build (an older or newer panechat).
    Other {
        /// Its build id.
        build: String,
    },
    /// A file that is not panechat's plugin.
    Foreign,
}

/// What the file at `path` is (a file that cannot be read counts as foreign).
pub fn installed(path: &Path) -> Installed {
    match read_regular(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Installed::Missing,
        Err(_) | Ok(None) => Installed::Foreign,
        Ok(Some(bytes)) if bytes == WASM => Installed::Current,
        Ok(Some(bytes)) => match build_of(&bytes) {
            Some(b) => Installed::Other { build: b.into() },
            None => Installed::Foreign,
        },
    }
}

/// The bytes of a plugin file the user keeps in their configuration (a link to it is followed,
/// as for dotfiles); `None` when it is not a regular file. Opened without blocking, so a FIFO
/// put in its place never holds `init` or `doctor`.
pub fn read_regular(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Writes the carried plugin to `path` (its directory made when missing), replacing what is
/// there at once (a temporary file renamed over it, so Zellij never loads half a plugin).
pub fn install(path: &Path) -> crate::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
    }
    crate::store::atomic::write_atomic(path, WASM)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plugin's build id as its build script computes it.
    mod plugin_build {
        include!("../../../zellij-plugin/build_id.rs");
    }

    #[test]
    fn the_carried_plugin_is_built_from_the_sources_as_they_are() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../zellij-plugin");
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let version = manifest
            .lines()
            .find_map(|l| l.strip_prefix("version = \""))
            .and_then(|v| v.strip_suffix('"'))
            .expect("the plugin's version");
        assert_eq!(
            carried_build(),
            plugin_build::build_id(&root, version),
            "the plugin panechat carries is not built from zellij-plugin/ as it is now (formatted?): run `scripts/zellij-plugin.sh --update` and commit core/assets/panechat-zellij.wasm"
        );
    }

    #[test]
    fn the_carried_plugin_names_its_build() {
        let b = carried_build();
        assert!(is_build_id(b), "{b}");
        assert!(b.starts_with(env!("CARGO_PKG_VERSION")), "{b}");
    }

    #[test]
    fn a_build_id_is_found_only_in_its_shape() {
        assert_eq!(build_of(b"xx panechat-zellij-build:\nno"), None);
        let far = [
            &b"panechat-zellij-build:"[..],
            &[b'x'; 80],
            b";panechat-zellij-build:1.0.0+00000000000000ab;",
        ]
        .concat();
        assert_eq!(build_of(&far), Some("1.0.0+00000000000000ab"));
        assert_eq!(
            build_of(b"panechat-zellij-build:panechat-zellij-build:0.2.0+0123456789abcdef;x"),
            Some("0.2.0+0123456789abcdef")
        );
        assert_eq!(build_of(b"panechat-zellij-build:0.2.0+0123;"), None);
        assert_eq!(build_of(b"\0asm not ours"), None);
    }

    #[test]
    fn a_plugin_of_another_build_is_told_how_to_update() {
        let env = |b: &str| Env::from_pairs([(BUILD_VAR, b)]);
        assert_eq!(mismatch(&env(carried_build())), None);
        assert_eq!(mismatch(&env("")), None);
        let m = mismatch(&env("0.0.1+00000000000000aa")).unwrap();
        assert!(m.contains("0.0.1+00000000000000aa") && m.contains("panechat init zellij"));
    }

    #[test]
    fn installed_tells_missing_current_other_and_foreign() {
        let dir = std::env::temp_dir().join(format!("pc-zplug-{}", std::process::id()));
        let f = dir.join("plugins/panechat.wasm");
        assert_eq!(installed(&f), Installed::Missing);
        install(&f).unwrap();
        assert_eq!(installed(&f), Installed::Current);
        std::fs::write(
            &f,
            b"old panechat-zellij-build:0.0.9+00000000000000ff; plugin",
        )
        .unwrap();
        assert_eq!(
            installed(&f),
            Installed::Other {
                build: "0.0.9+00000000000000ff".into()
            }
        );
        std::fs::write(&f, b"\0asm someone else's").unwrap();
        assert_eq!(installed(&f), Installed::Foreign);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
