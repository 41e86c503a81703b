//! Where panechat keeps things.
//!
//! With `PANECHAT_HOME=ROOT` everything lives under ROOT (`ROOT/config.toml`, `ROOT/data`,
//! `ROOT/state`). Otherwise the XDG base directories are used: data in
//! `$XDG_DATA_HOME/panechat`, state (sessions, locks, runs, logs, drafts) in
//! `$XDG_STATE_HOME/panechat`, config in `$XDG_CONFIG_HOME/panechat/config.toml`.
//! Directories are created 0700 and files 0600; the rules every file and directory below these
//! roots must meet (no links, no FIFOs, private directories) are in [`crate::files`].

use std::fs;
use std::path::{Path, PathBuf};

use crate::env::Env;
use crate::error::{Error, Result};

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
            crate::files::add_root(&root);
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
        let (data_base, state_base) = (
            xdg("XDG_DATA_HOME", ".local/share")?,
            xdg("XDG_STATE_HOME", ".local/state")?,
        );
        crate::files::add_root(&data_base);
        crate::files::add_root(&state_base);
        Ok(Paths {
            data: data_base.join("panechat"),
            state: state_base.join("panechat"),
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
    /// `state/agents`: each pane's coding agent, one file per pane ([`crate::agents`]).
    pub fn agents(&self) -> PathBuf {
        self.state.join("agents")
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

/// Creates `dir` and its parents with mode 0700 (existing directories are left as they are)
/// and checks that every directory below panechat's root is private (see [`crate::files`]).
pub fn ensure_dir(dir: &Path) -> Result<()> {
    crate::files::ensure_private_dir(dir)
}

/// The entries of `dir`, or none when it does not exist yet (unreadable entries are skipped).
/// `dir` is checked as [`crate::files`] requires (no link, private).
pub fn list_dir(dir: &Path) -> Result<Vec<fs::DirEntry>> {
    if let Err(e) = crate::files::open_dir(dir) {
        return match e.kind() {
            std::io::ErrorKind::NotFound => Ok(Vec::new()),
            _ => Err(Error::io(dir, e)),
        };
    }
    match fs::read_dir(dir) {
        Ok(entries) => Ok(entries.flatten().collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(dir, e)),
    }
}
