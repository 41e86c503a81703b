//! The library's error type. Every variant names the id, key, path or line at fault; the CLI maps
//! each to an exit code and a hint.

use std::io;
use std::path::{Path, PathBuf};

use crate::model::ProviderError;

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
    /// A query failed after its message was taken: the conversation is unchanged and the
    /// message is kept for `panechat q --retry`. The cause keeps its kind (and so its hint and
    /// exit code).
    #[error("{source}\nnothing was added to the conversation; your message is kept: `panechat q --retry` sends it again")]
    RunFailed {
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// Anything else, already worded for the user.
    #[error("{0}")]
    Other(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path` (or on the directory or file that [`crate::files`] refused on
    /// the way to it, which the error then names).
    pub fn io(path: impl AsRef<Path>, source: io::Error) -> Error {
        let path = refused_path(&source).unwrap_or(path.as_ref()).to_path_buf();
        Error::Io { path, source }
    }

    /// The process exit code for this error (SPEC §2).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Ambiguous { .. } => 2,
            Error::Locked(_) => 75,
            Error::Cancelled(_) => 130,
            Error::Signalled { signal, .. } => 128 + signal,
            Error::RunFailed { source } => source.exit_code(),
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
            Error::RunFailed { source } => return source.hint(),
            Error::Provider(p) => return provider_hint(p),
            Error::Io { source, .. } if source.kind() == io::ErrorKind::PermissionDenied => {
                "check the ownership of panechat's directories (PANECHAT_HOME or the XDG dirs)".into()
            }
            _ => return None,
        })
    }
}

/// What to do about a provider failure, by its kind.
fn provider_hint(p: &ProviderError) -> Option<String> {
    use crate::model::ProviderErrorKind as K;
    Some(match p.kind {
        K::Http(401) | K::Http(403) => "the server refused the API key: check the variable named by provider.api_key_env (e.g. OPENAI_API_KEY)".into(),
        K::Http(404) => "check provider.model and provider.base_url (see docs/config.md)".into(),
        K::Http(429) => "the provider is rate-limiting you; wait a moment, then `panechat q --retry`".into(),
        K::Http(code) if code >= 500 => "the provider failed; `panechat q --retry` tries again".into(),
        K::Connect => "is the server running? check provider.base_url (see docs/config.md)".into(),
        K::MissingKey => "export the API key, or set provider.api_key_env to the variable that holds it".into(),
        K::Command => "check provider.command: run it by hand with the conversation as JSON on stdin".into(),
        _ => return None,
    })
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

/// A path panechat refuses to use: the error inside the `io::Error`, naming the path at fault
/// (which may be a directory above the file being opened), so [`Error::io`](crate::Error::io) reports that path.
#[derive(Debug)]
pub struct Refused {
    /// The link, FIFO, foreign or loose directory at fault.
    pub path: PathBuf,
    pub(crate) msg: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Refused {}

/// The path at fault when `e` is a refusal of this module.
pub fn refused_path(e: &io::Error) -> Option<&Path> {
    e.get_ref()?
        .downcast_ref::<Refused>()
        .map(|r| r.path.as_path())
}
