//! The conversation store.
//!
//! Layout under the data directory:
//! - `conversations/<id>.jsonl`: the append-only log (header, turns, titles, settings);
//! - `conversations/<id>.json`: the conversation's summary, replaced atomically on each change,
//!   so `status` and pickers read one small file;
//! - `index.jsonl`: every summary change appended, for `ls` (see [`index`]).
//!
//! Under the state directory: `sessions/` ([`mapping`]), `locks/<id>.lock` (one per
//! conversation, see [`crate::lock`]), `drafts/` (unanswered messages), `last`.
//!
//! Writers hold the conversation's lock. The log is the truth; summaries and the index are
//! derived from it and rebuilt by `doctor --repair`.

pub mod atomic;
pub mod conversation;
pub mod index;
pub mod log;
pub mod mapping;

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::lock::LockGuard;
use crate::model::History;
use crate::paths::{ensure_dir, Paths};
use crate::session::SessionKey;
use conversation::{Conversation, ConversationId, Header, Parent, Record, Summary, Turn};

/// The store, rooted at resolved [`Paths`].
#[derive(Debug, Clone)]
pub struct Store {
    /// Where everything is.
    pub paths: Paths,
}

/// What a new conversation starts with.
#[derive(Debug, Clone, Default)]
pub struct NewConversation {
    /// Its id, when reserved beforehand ([`Store::reserve`]); else a fresh one.
    pub id: Option<ConversationId>,
    /// The parent, for a fork.
    pub parent: Option<Parent>,
    /// Per-conversation model.
    pub model: Option<String>,
    /// Per-conversation system prompt.
    pub system: Option<String>,
    /// Title to start with.
    pub title: Option<String>,
    /// Turns copied from the parent.
    pub turns: Vec<Turn>,
    /// For a fork of a coding agent's conversation: the agent session its first question forks.
    pub agent: Option<crate::model::AgentSession>,
}

/// A conversation opened for a query: see [`Store::open_for_query`].
#[derive(Debug, Clone)]
pub struct Opened {
    /// Its summary (title, turns, settings, recorded sizes).
    pub summary: Summary,
    /// Its earlier messages as comma-separated JSON objects, ready to send.
    pub history: History,
    /// Whether the history had to be rebuilt from the log.
    pub rebuilt: bool,
}

/// A change that is durable in the log, and what could not be brought up to date after it:
/// the summary, the history cache or the index, files derived from the log that the next query
/// and `doctor --repair` rebuild. A command reports such a failure as a warning, never as the
/// change having failed.
#[derive(Debug)]
pub struct Durable<T> {
    /// What was stored.
    pub value: T,
    /// The derived file that could not be updated, and why.
    pub stale: Option<Error>,
}

/// The settings of a conversation that a message is to start: it is created with the message's
/// turn, so a first turn that fails leaves no conversation behind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSettings {
    /// Per-conversation model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Per-conversation system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
}

/// A message that was not answered, kept so it is not lost (see `panechat query --retry`): one
/// file per message, written before the message is sent and removed once its turn is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// The session that wrote it.
    pub session: SessionKey,
    /// The message's identity, stored with its turn (empty in drafts of older versions).
    #[serde(default)]
    pub message_id: String,
    /// The conversation it was for.
    pub conversation: Option<ConversationId>,
    /// Set when the message starts `conversation`, which exists only once its turn is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_conversation: Option<NewSettings>,
    /// The message.
    pub message: String,
    /// What was attached to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::model::Attachment>,
    /// Reply text received before the run ended, if any.
    #[serde(default)]
    pub partial_reply: String,
    /// Why it was not answered (empty while the run is in progress).
    #[serde(default)]
    pub error: String,
    /// When it was written.
    pub at: String,
    /// The process sending it, with its start time: while that process runs, the message is
    /// in progress, not unanswered.
    #[serde(default)]
    pub pid: u32,
    /// The start time of `pid` ([`crate::session::process_start_time`]).
    #[serde(default)]
    pub start: u64,
}

impl Draft {
    /// Whether the process that sends it is still running.
    pub fn in_progress(&self) -> bool {
        self.pid != 0 && crate::session::process_alive(self.pid, self.start)
    }
}

impl Store {
    /// A store over `paths` (nothing is created until something is written).
    pub fn new(paths: Paths) -> Store {
        Store { paths }
    }

    /// The log of `id`.
    pub fn log_path(&self, id: &ConversationId) -> PathBuf {
        self.paths.conversations().join(format!("{id}.jsonl"))
    }

    /// The summary file of `id`.
    pub fn summary_path(&self, id: &ConversationId) -> PathBuf {
        self.paths.conversations().join(format!("{id}.json"))
    }

    /// The pre-encoded history of `id` (see [`conversation::encode_history`]), a cache of
    /// the log's turns kept in step with it by the summary's `log_len`/`history_len`.
    pub fn history_path(&self, id: &ConversationId) -> PathBuf {
        self.paths.conversations().join(format!("{id}.history"))
    }

    /// The lock file of `id`.
    pub fn lock_path(&self, id: &ConversationId) -> PathBuf {
        self.paths.locks().join(format!("{id}.lock"))
    }

    /// Checks that `guard` is the lock of conversation `id` (every write to an existing
    /// conversation takes it, so two writers never interleave).
    fn check_guard(&self, guard: &LockGuard, id: &ConversationId) -> Result<()> {
        if guard.path() == self.lock_path(id) {
            Ok(())
        } else {
            Err(Error::Internal {
                message: format!(
                    "writing conversation {id} under the lock {}",
                    guard.path().display()
                ),
            })
        }
    }

    /// Creates the directories writers need.
    pub fn ensure_dirs(&self) -> Result<()> {
        ensure_dir(&self.paths.conversations())?;
        ensure_dir(&self.paths.locks())?;
        ensure_dir(&self.paths.sessions())
    }

    /// Whether conversation `id` exists.
    pub fn exists(&self, id: &ConversationId) -> bool {
        // Whatever is there counts (a link or a FIFO is then refused, by name, when read).
        fs::symlink_metadata(self.log_path(id)).is_ok_and(|m| !m.is_dir())
    }

    /// An id and summary for a conversation not written yet: [`create`](Self::create) with
    /// `id` set writes it.
    pub fn reserve(&self, new: &NewConversation) -> Summary {
        Summary::from_header(&Header {
            v: 1,
            id: new.id.clone().unwrap_or_else(ConversationId::generate),
            created_at: crate::time::now_rfc3339(),
            parent: new.parent.clone(),
            model: new.model.clone(),
            system: new.system.clone(),
            agent: new.agent.clone(),
        })
    }

    /// Creates a conversation; its log is durable when this returns (its summary, history
    /// cache and index line follow; see [`Durable`]).
    pub fn create(&self, new: NewConversation) -> Result<Durable<Summary>> {
        self.ensure_dirs()?;
        let now = crate::time::now_rfc3339();
        for attempt in 0..8 {
            let id = match &new.id {
                Some(id) if attempt == 0 => id.clone(),
                Some(id) => return Err(Error::Exists { id: id.to_string() }),
                None => ConversationId::generate(),
            };
            let header = Header {
                v: 1,
                id: id.clone(),
                created_at: now.clone(),
                parent: new.parent.clone(),
                model: new.model.clone(),
                system: new.system.clone(),
                agent: new.agent.clone(),
            };
            let mut recs = vec![Record::Header(header.clone())];
            recs.extend(new.turns.iter().cloned().map(Record::Turn));
            if let Some(t) = &new.title {
                recs.push(Record::Title {
                    title: t.clone(),
                    at: now.clone(),
                    source: "fork".into(),
                });
            }
            match log::create(&self.log_path(&id), &recs) {
                Ok(()) => {}
                Err(Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists =>
                {
                    continue
                }
                Err(e) => return Err(e),
            }
            let conv = Conversation {
                header,
                turns: new.turns.clone(),
                title: new.title.clone(),
                model: new.model.clone(),
                system: new.system.clone(),
                updated_at: now.clone(),
                torn_tail: None,
            };
            let mut summary = conv.summary();
            let stale = self
                .write_history(&conv, &mut summary)
                .and_then(|_| self.write_summary(&summary))
                .err();
            return Ok(Durable {
                value: summary,
                stale,
            });
        }
        Err(Error::NoFreeId)
    }

    /// Forks `id` into a new conversation that records its parent, keeping the last `keep`
    /// turns (all when `None`; the last N are read from the end of the log, so the work is
    /// proportional to N). No lock is needed: only completed records are read.
    pub fn fork(&self, id: &ConversationId, keep: Option<usize>) -> Result<Durable<Summary>> {
        let src = self.summary(id)?;
        let mut turns = match keep {
            Some(n) => self.last_turns(id, n)?,
            None => self.load(id)?.turns,
        };
        // A coding agent's conversation: the fork's first question forks the agent's session
        // (which has the whole history); the copied turns are the parent's, not the fork's.
        for t in &mut turns {
            t.agent = None;
        }
        let agent = src
            .agent
            .clone()
            .map(|a| crate::model::AgentSession { fork: true, ..a });
        self.create(NewConversation {
            id: None,
            parent: Some(Parent {
                id: id.clone(),
                turns_kept: turns.len() as u64,
            }),
            model: src.model.clone(),
            system: src.system.clone(),
            // "notes (fork)", and a fork of that is "notes (fork)" again, not "(fork) (fork)":
            // the short id (pickers, `ls`) tells the forks apart.
            title: src.title.as_ref().map(|t| {
                if t.ends_with(" (fork)") {
                    t.clone()
                } else {
                    crate::title::sanitize_title(&format!("{t} (fork)"))
                }
            }),
            turns,
            agent,
        })
    }

    /// Loads a whole conversation.
    pub fn load(&self, id: &ConversationId) -> Result<Conversation> {
        let p = self.log_path(id);
        match log::load(&p) {
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::NotFound(format!("conversation {id} does not exist")))
            }
            other => other,
        }
    }

    /// The summary of `id`, from its summary file, rebuilt from the log when missing or bad.
    pub fn summary(&self, id: &ConversationId) -> Result<Summary> {
        if let Some(s) = self.read_summary_file(id) {
            return Ok(s);
        }
        Ok(self.load(id)?.summary())
    }

    /// The summary file only (no fallback): for fast paths such as `status`.
    pub fn read_summary_file(&self, id: &ConversationId) -> Option<Summary> {
        let b = crate::files::read(&self.summary_path(id)).ok()?;
        serde_json::from_slice::<Summary>(&b)
            .ok()
            .filter(|s| s.id == *id)
    }

    /// Writes a summary file and appends it to the index.
    pub fn write_summary(&self, s: &Summary) -> Result<()> {
        let bytes = serde_json::to_vec(s).expect("summary serialises");
        atomic::write_atomic(&self.summary_path(&s.id), &bytes)?;
        index::append(&self.paths, s)
    }

    /// Rewrites the history cache of a loaded conversation and records its size and the log's
    /// in `summary` (caller holds the lock, or owns a new conversation).
    fn write_history(&self, conv: &Conversation, summary: &mut Summary) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        for t in &conv.turns {
            bytes.extend_from_slice(&conversation::encode_history(t));
        }
        atomic::write_atomic(&self.history_path(&conv.header.id), &bytes)?;
        summary.history_len = bytes.len() as u64;
        summary.log_len = self.log_len(&conv.header.id)?;
        Ok(bytes)
    }

    fn log_len(&self, id: &ConversationId) -> Result<u64> {
        let p = self.log_path(id);
        Ok(fs::metadata(&p).ctx(&p)?.len())
    }

    /// Opens a conversation for a query (caller holds the lock): its summary and its history,
    /// pre-encoded. When the summary's recorded sizes match the log and the history cache, only
    /// those two small reads happen; otherwise the log is loaded (an interrupted write is
    /// moved aside) and the cache rebuilt.
    pub fn open_for_query(&self, id: &ConversationId) -> Result<Opened> {
        use std::os::unix::fs::FileExt;
        if let Some(s) = self.read_summary_file(id) {
            if s.log_len > 0 && self.log_len(id).ok() == Some(s.log_len) {
                if let Ok(f) = crate::files::open_private_file(
                    &self.history_path(id),
                    crate::files::Access::Read,
                ) {
                    if f.metadata().map(|m| m.len()).ok() == Some(s.history_len) {
                        let mut first = [0u8; 1];
                        let skip = u64::from(
                            s.history_len > 0
                                && f.read_at(&mut first, 0).ok() == Some(1)
                                && first[0] == b',',
                        );
                        let history = History::File {
                            file: Arc::new(f),
                            offset: skip,
                            len: s.history_len - skip,
                        };
                        return Ok(Opened {
                            summary: s,
                            history,
                            rebuilt: false,
                        });
                    }
                }
            }
        }
        let path = self.log_path(id);
        let mut conv = self.load(id)?;
        if conv.torn_tail.take().is_some() {
            log::repair_torn_tail(&path)?;
        }
        let mut summary = conv.summary();
        let mut bytes = self.write_history(&conv, &mut summary)?;
        self.write_summary(&summary)?;
        if bytes.first() == Some(&b',') {
            bytes.remove(0);
        }
        Ok(Opened {
            summary,
            history: History::Bytes(Arc::new(bytes)),
            rebuilt: true,
        })
    }

    /// Appends a completed turn (caller holds the lock and opened the conversation with
    /// [`open_for_query`](Self::open_for_query)): one write and an fsync of the log, then the
    /// history cache and the summary. The cost does not depend on the conversation's length.
    ///
    /// Once the log's fsync succeeded the turn is stored, whatever follows: a failure to update
    /// the derived files is returned as `Ok(Some(error))` (they are rebuilt from the log).
    pub fn append_turn(
        &self,
        guard: &LockGuard,
        summary: &mut Summary,
        turn: &Turn,
    ) -> Result<Option<Error>> {
        let id = summary.id.clone();
        self.check_guard(guard, &id)?;
        let rec = Record::Turn(turn.clone());
        log::append(&self.log_path(&id), std::slice::from_ref(&rec))?;
        summary.apply(&rec);
        let stale = (|| {
            let log_len = self.log_len(&id)?;
            let enc = conversation::encode_history(turn);
            let hp = self.history_path(&id);
            let mut f = atomic::open_append(&hp)?;
            use std::io::Write;
            f.write_all(&enc).ctx(&hp)?;
            summary.log_len = log_len;
            summary.history_len += enc.len() as u64;
            self.write_summary(summary)
        })()
        .err();
        if stale.is_some() {
            // The cache no longer matches: the next query rebuilds it from the log.
            summary.log_len = 0;
        }
        Ok(stale)
    }

    /// The stored turn of message `message_id` in conversation `id`, if any (reads the log).
    pub fn find_message(&self, id: &ConversationId, message_id: &str) -> Result<Option<Turn>> {
        if message_id.is_empty() {
            return Ok(None);
        }
        Ok(self
            .load(id)?
            .turns
            .into_iter()
            .find(|t| t.message_id.as_deref() == Some(message_id)))
    }

    /// Appends a title record (caller holds the lock) and updates the summary (see
    /// [`Durable`]: the title is stored once the record's fsync succeeded).
    pub fn set_title(
        &self,
        guard: &LockGuard,
        id: &ConversationId,
        title: &str,
        source: &str,
    ) -> Result<Durable<Summary>> {
        self.check_guard(guard, id)?;
        let path = self.log_path(id);
        let mut s = self.summary(id)?;
        let in_step = s.log_len > 0 && self.log_len(id).ok() == Some(s.log_len);
        if !in_step {
            log::repair_torn_tail(&path)?;
        }
        let rec = Record::Title {
            title: title.to_string(),
            at: crate::time::now_rfc3339(),
            source: source.into(),
        };
        log::append(&path, std::slice::from_ref(&rec))?;
        s.apply(&rec);
        // Keep the history cache valid only if it was valid before this record.
        let stale = (|| {
            s.log_len = if in_step { self.log_len(id)? } else { 0 };
            self.write_summary(&s)
        })()
        .err();
        Ok(Durable { value: s, stale })
    }

    /// Records per-conversation settings (caller holds the lock, conversation opened with
    /// [`open_for_query`](Self::open_for_query)).
    /// Like [`append_turn`](Self::append_turn), a failure after the record is durable is
    /// returned as `Ok(Some(error))`.
    pub fn set_settings(
        &self,
        guard: &LockGuard,
        summary: &mut Summary,
        model: Option<String>,
        system: Option<String>,
    ) -> Result<Option<Error>> {
        if model.is_none() && system.is_none() {
            return Ok(None);
        }
        self.check_guard(guard, &summary.id)?;
        let path = self.log_path(&summary.id);
        let rec = Record::Settings {
            model,
            system,
            at: crate::time::now_rfc3339(),
        };
        log::append(&path, std::slice::from_ref(&rec))?;
        summary.apply(&rec);
        let stale = (|| {
            summary.log_len = self.log_len(&summary.id)?;
            self.write_summary(summary)
        })()
        .err();
        if stale.is_some() {
            summary.log_len = 0;
        }
        Ok(stale)
    }

    /// The first turn of a conversation, reading only the start of its log.
    pub fn first_turn(&self, id: &ConversationId) -> Result<Option<Turn>> {
        use std::io::BufRead;
        let p = self.log_path(id);
        let f = crate::files::open_private_file(&p, crate::files::Access::Read).ctx(&p)?;
        for line in std::io::BufReader::new(f).split(b'\n') {
            let line = line.ctx(&p)?;
            if let Ok(Some(Record::Turn(t))) = log::parse_record(&line) {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }

    /// Deletes a conversation's files (caller holds the lock and unlinks it afterwards). Once
    /// the files are gone, a failure to record it in the index is returned as `Ok(Some(error))`.
    pub fn remove(&self, guard: &LockGuard, id: &ConversationId) -> Result<Option<Error>> {
        self.check_guard(guard, id)?;
        let mut tomb = self.summary(id).unwrap_or_else(|_| Summary {
            id: id.clone(),
            title: None,
            turns: 0,
            created_at: String::new(),
            updated_at: String::new(),
            parent: None,
            model: None,
            system: None,
            last_message: None,
            deleted: false,
            log_len: 0,
            history_len: 0,
            attachments: 0,
            agent: None,
        });
        // The log goes last: until it is gone the conversation is whole (its derived files
        // are rebuilt from it), so a command killed here leaves it there or gone.
        for p in [
            self.summary_path(id),
            self.history_path(id),
            self.log_path(id),
        ] {
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&p, e)),
            }
        }
        tomb.deleted = true;
        tomb.updated_at = crate::time::now_rfc3339();
        Ok(atomic::sync_dir(&self.paths.conversations())
            .and_then(|_| index::append(&self.paths, &tomb))
            .err())
    }

    /// Every conversation, most recently updated first, from the index. Rebuilds a missing index
    /// and compacts a bloated one.
    pub fn list(&self) -> Result<Vec<Summary>> {
        let read = index::read(&self.paths.index())?;
        if read.lines == 0 {
            let ids = self.ids()?;
            if !ids.is_empty() {
                return self.rebuild_index();
            }
        }
        if index::needs_compaction(&read) {
            let _ = index::compact(&self.paths);
        }
        Ok(read.summaries)
    }

    /// Rebuilds the index from every conversation's summary (or log), listed under the index
    /// lock.
    pub fn rebuild_index(&self) -> Result<Vec<Summary>> {
        ensure_dir(&self.paths.locks())?;
        let mut listed = None;
        index::rewrite_with(&self.paths, || {
            let out = self.summaries()?;
            listed = Some(out.clone());
            Ok(out)
        })?;
        let mut out = match listed {
            Some(l) => l,
            None => self.summaries()?,
        };
        out.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
        Ok(out)
    }

    /// Every conversation's summary (from its summary file, or its log).
    fn summaries(&self) -> Result<Vec<Summary>> {
        let mut out = Vec::new();
        for id in self.ids()? {
            if let Ok(s) = self.summary(&id) {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Every conversation id, from the directory listing (no file is parsed).
    pub fn ids(&self) -> Result<Vec<ConversationId>> {
        let mut ids = Vec::new();
        for e in crate::paths::list_dir(&self.paths.conversations())? {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(stem) = name.strip_suffix(".jsonl") {
                if let Some(id) = ConversationId::from_trusted(stem) {
                    ids.push(id);
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// The last `n` turns of `id` without reading the whole log.
    pub fn last_turns(&self, id: &ConversationId, n: usize) -> Result<Vec<Turn>> {
        log::last_turns(&self.log_path(id), n)
    }

    fn draft_path(&self, key: &SessionKey, message_id: &str) -> PathBuf {
        let name = if message_id.is_empty() {
            format!("{}.json", key.file_stem())
        } else {
            format!("{}.{message_id}.json", key.file_stem())
        };
        self.paths.drafts().join(name)
    }

    /// Saves (replaces) the draft of a message.
    pub fn save_draft(&self, d: &Draft) -> Result<()> {
        if !d.message_id.is_empty() && !conversation::is_id_text(&d.message_id) {
            return Err(Error::Internal {
                message: format!("`{}` is not a message id", d.message_id),
            });
        }
        ensure_dir(&self.paths.drafts())?;
        atomic::write_atomic(
            &self.draft_path(&d.session, &d.message_id),
            &serde_json::to_vec_pretty(d).expect("draft serialises"),
        )
    }

    /// Every kept draft, with its file, oldest first.
    pub fn all_drafts(&self) -> Vec<(PathBuf, Draft)> {
        let mut out = Vec::new();
        let Ok(rd) = fs::read_dir(self.paths.drafts()) else {
            return out;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            let Ok(b) = crate::files::read(&e.path()) else {
                continue;
            };
            if let Ok(d) = serde_json::from_slice::<Draft>(&b) {
                if e.path() == self.draft_path(&d.session, &d.message_id) {
                    out.push((e.path(), d));
                }
            }
        }
        out.sort_by(|a, b| (&a.1.at, &a.1.message_id).cmp(&(&b.1.at, &b.1.message_id)));
        out
    }

    /// The session's unanswered messages (those no running process is sending), oldest first.
    pub fn drafts(&self, key: &SessionKey) -> Vec<Draft> {
        self.all_drafts()
            .into_iter()
            .map(|(_, d)| d)
            .filter(|d| d.session == *key && !d.in_progress())
            .collect()
    }

    /// Removes a message's draft (after its message was answered).
    pub fn clear_draft(&self, d: &Draft) -> Result<()> {
        let p = self.draft_path(&d.session, &d.message_id);
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&p, e)),
        }
    }

    /// Whether a draft's message is already stored in its conversation (a command was killed
    /// after storing its turn and before removing the draft).
    pub fn draft_answered(&self, d: &Draft) -> bool {
        d.conversation.as_ref().is_some_and(|id| {
            self.exists(id)
                && self
                    .find_message(id, &d.message_id)
                    .ok()
                    .flatten()
                    .is_some()
        })
    }
}

/// A store of its own under the temp directory for a unit test (`prefix`, `name` and the pid
/// name it), emptied and with its directories made.
#[cfg(test)]
pub(crate) fn temp_store(prefix: &str, name: &str) -> Store {
    let root =
        std::env::temp_dir().join(format!("panechat-{prefix}-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let env =
        crate::env::Env::from_pairs([("PANECHAT_HOME".to_string(), root.display().to_string())]);
    let st = Store::new(Paths::resolve(&env).unwrap());
    st.ensure_dirs().unwrap();
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(name: &str) -> Store {
        let root =
            std::env::temp_dir().join(format!("panechat-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let env = crate::env::Env::from_pairs([(
            "PANECHAT_HOME".to_string(),
            root.display().to_string(),
        )]);
        Store::new(Paths::resolve(&env).unwrap())
    }

    fn turn(user: &str, finished: &str) -> Turn {
        Turn {
            agent: None,
            cost_usd: None,
            user: user.into(),
            assistant: format!("re: {user}"),
            model: "m".into(),
            usage: Default::default(),
            started_at: String::new(),
            finished_at: finished.into(),
            finish_reason: None,
            truncated: false,
            attachments: Vec::new(),
            message_id: None,
        }
    }

    #[test]
    fn an_agent_conversation_records_its_session_and_a_fork_forks_it() {
        let st = store("agent");
        let session = |id: &str| crate::model::AgentSession {
            backend: "claude-code".into(),
            id: id.into(),
            cwd: Some("/w".into()),
            ..Default::default()
        };
        let mut t1 = turn("one", "t1");
        t1.agent = Some(session("S1"));
        let mut t2 = turn("two", "t2");
        t2.agent = Some(session("S2"));
        t2.cost_usd = serde_json::Number::from_f64(0.5);
        let created = st
            .create(NewConversation {
                turns: vec![t1, t2],
                ..Default::default()
            })
            .unwrap()
            .value;
        assert_eq!(created.agent, Some(session("S2")));
        assert_eq!(
            st.load(&created.id).unwrap().summary().agent,
            Some(session("S2"))
        );
        assert_eq!(st.load(&created.id).unwrap().turns[1].cost_usd, t2_cost());
        let fork = st.fork(&created.id, Some(1)).unwrap().value;
        let forked = crate::model::AgentSession {
            fork: true,
            ..session("S2")
        };
        assert_eq!(fork.agent, Some(forked.clone()));
        let loaded = st.load(&fork.id).unwrap();
        assert_eq!(loaded.summary().agent, Some(forked.clone()));
        assert!(loaded.turns.iter().all(|t| t.agent.is_none()));
        // The fork's first turn records the agent's new session.
        let guard = crate::lock::acquire(&st.lock_path(&fork.id)).unwrap();
        let mut s = st.open_for_query(&fork.id).unwrap().summary;
        let mut t3 = turn("three", "t3");
        t3.agent = Some(session("S3"));
        st.append_turn(&guard, &mut s, &t3).unwrap();
        assert_eq!(st.summary(&fork.id).unwrap().agent, Some(session("S3")));
        assert_eq!(
            st.load(&fork.id).unwrap().summary().agent,
            Some(session("S3"))
        );
        // Conversations stored before agents read as before: no agent.
        let old = st.create(NewConversation::default()).unwrap().value;
        assert_eq!(old.agent, None);
        assert!(!crate::files::read(&st.log_path(&old.id))
            .map(|b| String::from_utf8_lossy(&b).contains("agent"))
            .unwrap());
    }

    fn t2_cost() -> Option<serde_json::Number> {
        serde_json::Number::from_f64(0.5)
    }

    #[test]
    fn the_summary_written_on_append_is_the_one_the_log_implies() {
        let st = store("apply");
        let created = st.create(NewConversation::default()).unwrap().value;
        let id = created.id.clone();
        let guard = crate::lock::acquire(&st.lock_path(&id)).unwrap();
        let mut s = st.open_for_query(&id).unwrap().summary;
        assert!(st
            .append_turn(&guard, &mut s, &turn("one", "2030-01-01T00:00:00Z"))
            .unwrap()
            .is_none());
        // A turn without a finish time keeps the last change time, on both paths.
        st.append_turn(&guard, &mut s, &turn("two\nlines", ""))
            .unwrap();
        st.set_settings(&guard, &mut s, Some("m2".into()), None)
            .unwrap();
        st.set_title(&guard, &id, "A title", "user").unwrap();
        let mut written = st.read_summary_file(&id).unwrap();
        let mut derived = st.load(&id).unwrap().summary();
        written.log_len = 0;
        written.history_len = 0;
        derived.log_len = 0;
        derived.history_len = 0;
        assert_eq!(written, derived);
        assert_eq!(written.turns, 2);
        assert_eq!(written.model.as_deref(), Some("m2"));
        assert_eq!(written.last_message.as_deref(), Some("two lines"));
        // A guard for another conversation is refused.
        let other = st.create(NewConversation::default()).unwrap().value;
        assert!(st.set_title(&guard, &other.id, "x", "user").is_err());
        let _ = fs::remove_dir_all(st.paths.data.parent().unwrap());
    }
}
