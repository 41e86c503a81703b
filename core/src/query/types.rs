//! What the query workflow and its parts share: the request and its outcome, the seams the
//! caller injects, and the state of a run in progress. It depends on no other part of the
//! workflow.

use std::os::fd::OwnedFd;
use std::time::Instant;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::lock::{LockGuard, Waiter};
use crate::model::Attachment;
use crate::paths::Paths;
use crate::provider::{ChatRequest, ProviderConfig, StreamHandle};
use crate::runs::{Registration, Run};
use crate::session::Session;
use crate::store::conversation::{ConversationId, Summary, Turn};
use crate::store::{Draft, NewConversation, Store};

pub use crate::adapters::LockAnswer;

/// Which conversation a query names.
#[derive(Debug, Clone)]
pub enum Where {
    /// The session's active one; without one, what `conversation.default_id` says (for a
    /// retry: the conversation its message was for).
    Default,
    /// A new one (`--new`).
    New,
    /// One resolved already (`--id`, through [`resolve_target`]).
    Chosen(Resolved),
}

/// A resolved target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A new conversation.
    New,
    /// This conversation.
    Id(ConversationId),
}

/// What to do when the conversation is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnLocked {
    /// Wait `lock.wait`, then ask (popup in a multiplexer, else in this terminal).
    Ask,
    /// Wait until it is free, however long.
    Wait,
    /// Wait `lock.wait`, then start a new conversation.
    New,
    /// Wait `lock.wait`, then fork the conversation and continue in the copy.
    Fork,
    /// Wait `lock.wait`, then give up (exit 75).
    Fail,
}

/// The message a query sends.
#[derive(Debug, Clone)]
pub enum Input {
    /// A new message with what is attached to it.
    New {
        /// The text.
        text: String,
        /// The attachments.
        attachments: Vec<Attachment>,
    },
    /// The session's newest unanswered message, again (`--retry`).
    Retry,
}

/// What one query asks for.
#[derive(Debug, Clone)]
pub struct Request {
    /// The message.
    pub input: Input,
    /// The conversation it goes to.
    pub target: Where,
    /// `--fork`: fork the target first, keeping every turn (`Some(None)`) or the last N.
    pub fork: Option<Option<usize>>,
    /// `--model`: the conversation's model from now on.
    pub model: Option<String>,
    /// `--system`: the conversation's system prompt from now on.
    pub system: Option<String>,
    /// Whether the reply goes to the sink as it streams (else whole, once complete).
    pub stream: bool,
    /// What to do when the conversation is locked.
    pub on_locked: OnLocked,
}

/// How a query ended well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The reply went to the sink and is stored in conversation `id`.
    Answered {
        /// The conversation.
        id: ConversationId,
    },
    /// `--retry` of a message whose turn is stored already (a query was killed after storing
    /// it): nothing was sent or stored again; the caller shows the stored turn.
    AlreadyAnswered {
        /// The conversation holding it.
        id: ConversationId,
        /// The stored turn.
        turn: Box<Turn>,
    },
}

/// Starts requests at the provider.
pub trait Connect {
    /// The provider's kind, as runs record it (`openai`, …).
    fn kind(&self) -> &str;
    /// Starts `req`.
    fn start(&self, req: ChatRequest) -> StreamHandle;
}

impl Connect for ProviderConfig {
    fn kind(&self) -> &str {
        self.kind.as_str()
    }

    fn start(&self, req: ChatRequest) -> StreamHandle {
        crate::provider::start(self, req)
    }
}

/// Where the reply's text goes.
pub trait Sink {
    /// More of the reply, as the provider sent it (the sink makes it inert where it shows it).
    fn text(&mut self, text: &str);
    /// The reply ended, `complete` or not: the sink ends what it showed.
    fn end(&mut self, complete: bool);
}

/// The person behind the query.
pub trait Ui {
    /// Something worth saying (not shown with `--quiet`).
    fn note(&mut self, text: &str);
    /// A warning: the query goes on.
    fn warn(&mut self, text: &str);
    /// `what` is stored, but files derived from the log are stale (`error`).
    fn stale(&mut self, what: &str, error: &Error);
    /// A line for the log (`INFO`, `DEBUG`, `ERROR`).
    fn log(&mut self, level: &str, text: &str);
    /// Why the query must stop now (Ctrl-C, `panechat kill`, a closed terminal), if it must.
    fn interrupted(&self) -> Option<Error>;
    /// Shows the line saying what the query waits for (`Some`), or clears it (`None`).
    fn waiting(&mut self, line: Option<&str>);
    /// Whether the person can be asked here (a terminal).
    fn can_ask(&self) -> bool;
    /// The picker: a conversation, or a new one.
    fn pick(&mut self, active: Option<&ConversationId>) -> Result<Resolved>;
    /// The lock question about `q.summary`, held by `q.holder`.
    fn lock_question(&mut self, q: &LockQuestion<'_>) -> Result<Asked>;
}

/// The lock question, as [`Ui::lock_question`] is given it.
pub struct LockQuestion<'a> {
    /// The locked conversation.
    pub summary: &'a Summary,
    /// The conversation as the question names it.
    pub what: &'a str,
    /// Who holds it (`tmux pane %3, pid 4242, query, 12s`).
    pub holder: &'a str,
    /// The query's place in the lock's queue: the lock may be freed while the question is up.
    pub waiter: &'a Waiter,
}

/// How the lock question ended.
pub enum Asked {
    /// Answered.
    Answer(LockAnswer),
    /// The lock was freed while the question was up: the query has it (the question is gone).
    Acquired(LockGuard),
}

/// The clock.
pub trait Clock {
    /// Now, for timeouts and deadlines.
    fn now(&self) -> Instant;
    /// Now, as stored (RFC 3339).
    fn stamp(&self) -> String;
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn stamp(&self) -> String {
        crate::time::now_rfc3339()
    }
}

/// The panes that show the query.
pub trait Publish {
    /// Tells every pane that shows conversation `id`, and this session's pane, its state.
    fn publish(&self, id: &ConversationId);
    /// Starts what removes `run` and republishes if this process dies before the run ends;
    /// the returned descriptor is kept open for as long as the run lives.
    fn watch(&self, run: &Run) -> Option<OwnedFd>;
}

/// A query's world: the store, the session, the config and the seams.
pub struct Query<'a> {
    /// Where panechat's files are.
    pub paths: &'a Paths,
    /// The store.
    pub store: &'a Store,
    /// The session asking.
    pub session: &'a Session,
    /// The config.
    pub cfg: &'a Config,
    /// The provider.
    pub provider: &'a dyn Connect,
    /// Where the reply's text goes.
    pub sink: &'a mut dyn Sink,
    /// The person.
    pub ui: &'a mut dyn Ui,
    /// The clock.
    pub clock: &'a dyn Clock,
    /// The panes.
    pub publish: &'a dyn Publish,
}

/// A query once its message is drafted and its run registered.
pub(super) struct Attempt {
    /// The conversation.
    pub(super) summary: Summary,
    /// The conversation this message starts (created with its turn), if it starts one.
    pub(super) fresh: Option<NewConversation>,
    /// The message, kept until its turn is stored.
    pub(super) draft: Draft,
    /// The run, as panes and `sessions` see it.
    pub(super) reg: Registration,
    /// Open while the run lives (see [`Publish::watch`]).
    pub(super) _watcher: Option<OwnedFd>,
}
