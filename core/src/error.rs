//! The library's error type. Every variant names the id, key, path or line at fault; the CLI maps
//! each to an exit code and a hint.

use std::io;
use std::path::{Path, PathBuf};

use crate::model::ProviderError;

/// Everything that can go wrong in panechat.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value on the command line (or handed over by a plugin) is malformed; the message
    /// says what is expected (exit 2).
    #[error("{message}")]
    BadArgument {
        /// What is wrong and what to give instead.
        message: String,
    },
    /// The command needs what the place it runs in lacks: a terminal to ask on, or a
    /// multiplexer pane (exit 2).
    #[error("{message}")]
    Unavailable {
        /// What is missing and what to do instead.
        message: String,
    },
    /// A file, pane or selection cannot be attached to a message (exit 2).
    #[error("{message}")]
    CannotAttach {
        /// What cannot be attached, why, and what to do instead.
        message: String,
        /// The I/O error behind it, when there is one.
        #[source]
        source: Option<io::Error>,
    },
    /// A lock question was answered already (exit 2).
    #[error("this question was already answered; the first answer counts")]
    AlreadyAnswered,
    /// No query waits for the answer to a lock question any more.
    #[error("no query is waiting for this answer any more (it was answered, timed out, or ended)")]
    NoQuestion,
    /// A lock question's record does not parse.
    #[error("the question record {} is damaged ({source}); the query will ask in its terminal", path.display())]
    DamagedQuestion {
        /// The record.
        path: PathBuf,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// A program or a thread could not be started, or the program failed; the message names
    /// it and what to check.
    #[error("{message}")]
    Spawn {
        /// What could not be run, and what to check.
        message: String,
        /// The error of the start, when there is one.
        #[source]
        source: Option<io::Error>,
    },
    /// A program panechat ran failed, or its output could not be read; the message names it.
    #[error("{message}")]
    ToolFailed {
        /// The program, its arguments and what it said.
        message: String,
        /// Why its output could not be read, when that is what failed.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Input piped to panechat could not be read.
    #[error("{message}")]
    ReadInput {
        /// What was being read.
        message: String,
        /// The error of the read.
        #[source]
        source: io::Error,
    },
    /// The terminal could not be read or prompted on.
    #[error("{message}")]
    Terminal {
        /// What was being done.
        message: String,
        /// The error of the terminal.
        #[source]
        source: io::Error,
    },
    /// `flock` failed on a lock file (not because it is held).
    #[error("cannot lock {}: {source}; this filesystem may not support flock (put PANECHAT_HOME on a local disk)", path.display())]
    LockUnsupported {
        /// The lock file.
        path: PathBuf,
        /// The error of `flock`.
        #[source]
        source: io::Error,
    },
    /// The thread waiting for a lock ended without an answer.
    #[error("lock waiter thread ended")]
    LockWaiterEnded,
    /// This process cannot tell which terminal it runs in.
    #[error("cannot tell which terminal this is (getsid failed); set PANECHAT_SESSION")]
    UnknownTerminal {
        /// The error of `getsid`.
        #[source]
        source: io::Error,
    },
    /// A new conversation's id is taken already.
    #[error("conversation {id} exists already; nothing was written")]
    Exists {
        /// The id.
        id: String,
    },
    /// Every id tried for a new conversation was taken.
    #[error("could not find a free conversation id")]
    NoFreeId,
    /// Some runs `panechat kill` signalled are still running.
    #[error("{count} run(s) could not be ended")]
    RunsNotEnded {
        /// How many.
        count: usize,
    },
    /// `doctor --repair` found no header record to keep in a log.
    #[error("{}: no header record; left as it is", path.display())]
    NoHeader {
        /// The log.
        path: PathBuf,
    },
    /// Something stored, but a step after it failed; the message says what to run.
    #[error("{message}")]
    Unfinished {
        /// What is stored, what failed and what to run.
        message: String,
        /// What failed.
        #[source]
        source: Box<Error>,
    },
    /// A broken promise inside panechat (a bug): the message says which.
    #[error("internal error: {message}")]
    Internal {
        /// What was broken.
        message: String,
    },
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
    /// The provider was too slow: nothing came for the idle timeout, or the whole reply took
    /// longer than the timeout (exit 1).
    #[error("{message}")]
    TimedOut {
        /// Which limit, and the option that sets it.
        message: String,
    },
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
            Error::BadArgument { .. }
            | Error::Unavailable { .. }
            | Error::CannotAttach { .. }
            | Error::AlreadyAnswered
            | Error::Ambiguous { .. } => 2,
            Error::Locked(_) => 75,
            Error::Cancelled(_) => 130,
            Error::Signalled { signal, .. } => 128 + signal,
            Error::RunFailed { source } => source.exit_code(),
            _ => 1,
        }
    }

    /// Whether the message already says the cause in the user's words (`cannot attach x: no
    /// such file`), so a report stops there instead of printing the [`source`] chain again as
    /// the system words it; the source is kept for callers that look at it.
    ///
    /// [`source`]: std::error::Error::source
    pub fn says_its_cause(&self) -> bool {
        matches!(
            self,
            Error::CannotAttach { .. }
                | Error::DamagedQuestion { .. }
                | Error::Spawn { .. }
                | Error::ToolFailed { .. }
                | Error::ReadInput { .. }
                | Error::Terminal { .. }
                | Error::LockUnsupported { .. }
                | Error::UnknownTerminal { .. }
                | Error::Unfinished { .. }
        )
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

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn io_err() -> io::Error {
        io::Error::new(io::ErrorKind::PermissionDenied, "denied")
    }

    #[test]
    fn each_kind_keeps_its_exit_code() {
        let message = || "m".to_string();
        let two = [
            Error::BadArgument { message: message() },
            Error::Unavailable { message: message() },
            Error::CannotAttach {
                message: message(),
                source: None,
            },
            Error::AlreadyAnswered,
        ];
        for e in two {
            assert_eq!(e.exit_code(), 2, "{e:?}");
        }
        let one = [
            Error::NoQuestion,
            Error::LockWaiterEnded,
            Error::NoFreeId,
            Error::RunsNotEnded { count: 2 },
            Error::Exists { id: "x".into() },
            Error::NoHeader { path: "/l".into() },
            Error::Internal { message: message() },
            Error::Spawn {
                message: message(),
                source: Some(io_err()),
            },
            Error::ToolFailed {
                message: message(),
                source: None,
            },
            Error::ReadInput {
                message: message(),
                source: io_err(),
            },
            Error::Terminal {
                message: message(),
                source: io_err(),
            },
            Error::UnknownTerminal { source: io_err() },
            Error::LockUnsupported {
                path: "/l".into(),
                source: io_err(),
            },
            // A step after a store failed: exit 1 whatever failed (the store succeeded).
            Error::Unfinished {
                message: message(),
                source: Box::new(Error::Locked("held".into())),
            },
        ];
        for e in one {
            assert_eq!(e.exit_code(), 1, "{e:?}");
        }
        let failed = Error::RunFailed {
            source: Box::new(Error::BadArgument { message: message() }),
        };
        assert_eq!(failed.exit_code(), 2);
    }

    #[test]
    fn the_cause_is_kept_as_the_source() {
        let e = Error::LockUnsupported {
            path: "/s/locks/a.lock".into(),
            source: io_err(),
        };
        assert_eq!(
            e.to_string(),
            "cannot lock /s/locks/a.lock: denied; this filesystem may not support flock (put PANECHAT_HOME on a local disk)"
        );
        let src = e.source().expect("a source");
        assert_eq!(
            src.downcast_ref::<io::Error>().map(io::Error::kind),
            Some(io::ErrorKind::PermissionDenied)
        );
        let damaged = Error::DamagedQuestion {
            path: "/q.json".into(),
            source: serde_json::from_str::<u8>("x").unwrap_err(),
        };
        assert!(damaged
            .source()
            .and_then(|s| s.downcast_ref::<serde_json::Error>())
            .is_some());
        // Two levels: an unfinished step keeps the error of the step, which keeps its own.
        let e = Error::Unfinished {
            message: "fork x is stored, but …".into(),
            source: Box::new(Error::io("/m", io_err())),
        };
        let step = e.source().expect("the step's error");
        assert_eq!(step.to_string(), "/m: denied");
        assert!(step
            .source()
            .and_then(|s| s.downcast_ref::<io::Error>())
            .is_some());
        // Its message says the cause in the user's words: a report need not repeat it.
        let worded = Error::CannotAttach {
            message: "cannot attach x: no such file".into(),
            source: Some(io::Error::from(io::ErrorKind::NotFound)),
        };
        assert!(worded.says_its_cause() && worded.source().is_some());
        assert!(!Error::io("/m", io_err()).says_its_cause());
        let plain = Error::CannotAttach {
            message: "the selection is empty".into(),
            source: None,
        };
        assert!(plain.source().is_none());
        assert_eq!(
            Error::RunsNotEnded { count: 3 }.to_string(),
            "3 run(s) could not be ended"
        );
    }
}
