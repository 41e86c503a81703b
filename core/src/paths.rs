//! Where panechat keeps things.
//!
//! With `PANECHAT_HOME=ROOT` everything lives under ROOT (`ROOT/config.toml`, `ROOT/data`,
//! `ROOT/state`). Otherwise the XDG base directories are used: data in
//! `$XDG_DATA_HOME/panechat`, state (sessions, locks, runs, logs, drafts) in
//! `$XDG_STATE_HOME/panechat`, config in `$XDG_CONFIG_HOME/panechat/config.toml`.
//! Directories are created 0700 and files 0600.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::env::Env;
use crate::error::{Error, IoContext, Result};

/// The resolved directories.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Conversations and their index.
    pub data: PathBuf,
    /// Sessions, locks, runs, logs, drafts.
    pub state: PathBuf,
    /// The user config file (may not exist).
    pub config_file: PathBuf,
}

impl Paths {
    /// Resolves the directories from the environment (nothing is created).
    pub fn resolve(env: &Env) -> Result<Paths> {
        if let Some(home) = env.get_os("PANECHAT_HOME").filter(|v| !v.is_empty()) {
            let root = PathBuf::from(home);
            if !root.is_absolute() {
                return Err(Error::Config(format!(
                    "PANECHAT_HOME must be an absolute path, got `{}`",
                    root.display()
                )));
            }
            let config_file = match env.get_os("PANECHAT_CONFIG").filter(|v| !v.is_empty()) {
                Some(p) => PathBuf::from(p),
                None => root.join("config.toml"),
            };
            return Ok(Paths {
                data: root.join("data"),
                state: root.join("state"),
                config_file,
            });
        }
        let home = env
            .get_os("HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let xdg = |var: &str, fallback: &str| -> Result<PathBuf> {
            match env.get_os(var).map(PathBuf::from).filter(|p| p.is_absolute()) {
                Some(p) => Ok(p),
                None => match &home {
                    Some(h) => Ok(h.join(fallback)),
                    None => Err(Error::Config(format!(
                        "neither {var} nor HOME is set; set PANECHAT_HOME to a directory for panechat's files"
                    ))),
                },
            }
        };
        let config_file = match env.get_os("PANECHAT_CONFIG").filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => xdg("XDG_CONFIG_HOME", ".config")?.join("panechat/config.toml"),
        };
        Ok(Paths {
            data: xdg("XDG_DATA_HOME", ".local/share")?.join("panechat"),
            state: xdg("XDG_STATE_HOME", ".local/state")?.join("panechat"),
            config_file,
        })
    }

    /// `data/conversations`.
    pub fn conversations(&self) -> PathBuf {
        self.data.join("conversations")
    }
    /// The append-only listing index.
    pub fn index(&self) -> PathBuf {
        self.data.join("index.jsonl")
    }
    /// The lock guarding index compaction.
    pub fn index_lock(&self) -> PathBuf {
        self.state.join("locks").join("index.lock")
    }
    /// `state/locks`.
    pub fn locks(&self) -> PathBuf {
        self.state.join("locks")
    }
    /// `state/sessions`.
    pub fn sessions(&self) -> PathBuf {
        self.state.join("sessions")
    }
    /// `state/runs`.
    pub fn runs(&self) -> PathBuf {
        self.state.join("runs")
    }
    /// `state/drafts`: unanswered messages, one file per message.
    pub fn drafts(&self) -> PathBuf {
        self.state.join("drafts")
    }
    /// `state/logs`.
    pub fn logs(&self) -> PathBuf {
        self.state.join("logs")
    }
    /// The file naming the conversation activated last (`last`).
    pub fn last(&self) -> PathBuf {
        self.state.join("last")
    }
}

/// Creates `dir` and its parents with mode 0700 (existing directories are left as they are).
pub fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .ctx(dir)?;
    // DirBuilder applies the umask; make the leaf private regardless.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).ctx(dir)
}

/// The entries of `dir`, or none when it does not exist yet (unreadable entries are skipped).
pub fn list_dir(dir: &Path) -> Result<Vec<fs::DirEntry>> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(entries.flatten().collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(dir, e)),
    }
}
