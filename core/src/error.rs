//! The library's error type. Every variant names the id, key, path or line at fault; the CLI maps
//! each to an exit code and a hint.

use std::io;
use std::path::{Path, PathBuf};

use crate::provider::ProviderError;

/// Everything that can go wrong in panechat.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line or an input is malformed (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A conversation stayed locked (exit 75).
    #[error("{0}")]
    Locked(String),
    /// The user cancelled (exit 130).
    #[error("{0}")]
    Cancelled(String),
    /// Stopped by a signal other than Ctrl-C: `panechat kill` (SIGTERM, exit 143) or a closed
    /// terminal (SIGHUP, exit 129): the shell's 128 + the signal's number.
    #[error("{message}")]
    Signalled {
        /// The signal's number.
        signal: i32,
        /// What happened.
        message: String,
    },
    /// No conversation or session matches.
    #[error("{0}")]
    NotFound(String),
    /// A prefix matches several conversations.
    #[error("id prefix `{prefix}` is ambiguous; it matches:\n{}", candidates.join("\n"))]
    Ambiguous {
        /// What the user typed.
        prefix: String,
        /// One line per matching conversation.
        candidates: Vec<String>,
    },
    /// A config file, variable or `--cfg` value is wrong.
    #[error("{0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A stored file does not parse.
    #[error("{}:{line}: {msg}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// The provider failed.
    #[error("{0}")]
    Provider(#[from] ProviderError),
    /// Anything else, already worded for the user.
    #[error("{0}")]
    Other(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: io::Error) -> Error {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// The process exit code for this error (SPEC §2).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Ambiguous { .. } => 2,
            Error::Locked(_) => 75,
            Error::Cancelled(_) => 130,
            Error::Signalled { signal, .. } => 128 + signal,
            _ => 1,
        }
    }

    /// A suggestion of what to do next.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::Locked(_) => "--on-locked=wait queues behind it; --fork continues in a copy; --new starts afresh".into(),
            Error::Ambiguous { .. } => "type more characters of the id".into(),
            Error::NotFound(_) => "`panechat ls` lists conversations".into(),
            Error::Corrupt { .. } => "`panechat doctor` explains; `panechat doctor --repair` fixes what it can without losing data".into(),
            Error::Config(_) => "see docs/config.md for every key and its form".into(),
            Error::Io { source, .. } if source.kind() == io::ErrorKind::PermissionDenied => {
                "check the ownership of panechat's directories (PANECHAT_HOME or the XDG dirs)".into()
            }
            _ => return None,
        })
    }
}

/// Attaches a path to I/O errors.
pub trait IoContext<T> {
    /// Wraps an I/O error with the path it happened on.
    fn ctx(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
