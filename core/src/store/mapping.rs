//! Per-session mappings: the active conversation and the ones before it (`prev` works like
//! `cd -`), plus the globally last activated conversation (`last`).
//!
//! A session's file is read-modify-written under that session's lock and replaced atomically.

use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::atomic;
use super::conversation::ConversationId;
use crate::error::{Error, Result};
use crate::lock;
use crate::paths::{ensure_dir, Paths};
use crate::session::{instances_known, Instance, Multiplexer, PaneRef, Session, SessionKey};

/// How many earlier conversations a session remembers.
pub const HISTORY_LEN: usize = 32;

/// What is stored for a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The pane (session key, multiplexer, pane id).
    #[serde(flatten)]
    pub pane: PaneRef,
    /// What the pane lives in (see [`Session::server`]), for pruning and for reaching its
    /// multiplexer from elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The multiplexer instance the pane lives in ([`Instance`]); `None` in records written by
    /// older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<Instance>,
    /// The pane's terminal device (`/dev/pts/3`), recorded when a command runs in it, so that
    /// terminal-only channels (WezTerm user vars, OSC titles) can reach the pane from elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<String>,
    /// The pane's next query starts a new conversation (`panechat new`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending_new: bool,
    /// The active conversation.
    #[serde(default)]
    pub active: Option<ConversationId>,
    /// Earlier conversations, most recent first.
    #[serde(default)]
    pub previous: Vec<ConversationId>,
    /// Last change.
    #[serde(default)]
    pub updated_at: String,
}

impl SessionRecord {
    /// Whether the multiplexer instance this pane lived in still runs (checked without spawning
    /// anything). A record of a stopped server, a killed Zellij session or a closed WezTerm is
    /// not: its pane ids may have been given to new panes, which must not be shown its
    /// conversation. A tmux, Zellij or WezTerm record written before instances were recorded
    /// (its key names no instance, so no pane resolves to it any more) is not either; one whose
    /// instance could not be found ([`Instance::Unknown`]) is.
    pub fn instance_live(&self) -> bool {
        match &self.instance {
            Some(i) => i.alive(self.server.as_deref()),
            None => {
                !(matches!(
                    self.pane.multiplexer,
                    Multiplexer::Tmux | Multiplexer::Zellij | Multiplexer::Wezterm
                ) && instances_known())
            }
        }
    }
}

fn file(paths: &Paths, key: &SessionKey) -> PathBuf {
    paths.sessions().join(format!("{}.json", key.file_stem()))
}

fn lock_file(paths: &Paths, key: &SessionKey) -> PathBuf {
    paths.sessions().join(format!("{}.lock", key.file_stem()))
}

/// Reads a session's record (`None` if it has none or it is unreadable).
pub fn read(paths: &Paths, key: &SessionKey) -> Result<Option<SessionRecord>> {
    let p = file(paths, key);
    match crate::files::read(&p) {
        Ok(b) => match serde_json::from_slice::<SessionRecord>(&b) {
            Ok(r) if r.pane.session == *key => Ok(Some(r)),
            Ok(_) => Ok(None), // hash collision: treat as no record
            Err(e) => Err(Error::Corrupt {
                path: p,
                line: 1,
                msg: format!("not a session record: {e}"),
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&p, e)),
    }
}

/// Read-modify-writes a session's record under its lock.
pub fn update<T>(
    paths: &Paths,
    session: &Session,
    f: impl FnOnce(&mut SessionRecord) -> T,
) -> Result<T> {
    ensure_dir(&paths.sessions())?;
    let _g = lock::acquire(&lock_file(paths, &session.key))?;
    let mut rec = match read(paths, &session.key) {
        Ok(Some(r)) => r,
        // A corrupt record is replaced (its content is only a pointer).
        Ok(None) | Err(Error::Corrupt { .. }) => SessionRecord {
            pane: session.pane_ref(),
            server: session.server.clone(),
            instance: session.instance,
            tty: None,
            pending_new: false,
            active: None,
            previous: Vec::new(),
            updated_at: String::new(),
        },
        Err(e) => return Err(e),
    };
    if rec.server.is_none() {
        rec.server = session.server.clone();
    }
    if rec.instance.is_none() {
        rec.instance = session.instance;
    }
    if session.tty.is_some() {
        rec.tty = session.tty.clone();
    }
    let out = f(&mut rec);
    rec.updated_at = crate::time::now_rfc3339();
    let bytes = serde_json::to_vec_pretty(&rec).expect("record serialises");
    atomic::write_atomic(&file(paths, &session.key), &bytes)?;
    Ok(out)
}

/// Makes `id` the session's active conversation; the old one becomes `prev`.
pub fn activate(paths: &Paths, session: &Session, id: &ConversationId) -> Result<()> {
    let current = read(paths, &session.key).ok().flatten();
    let unchanged = current.as_ref().is_some_and(|r| {
        r.active.as_ref() == Some(id)
            && !r.pending_new
            && (session.tty.is_none() || r.tty == session.tty)
    });
    if unchanged {
        if last(paths).as_ref() != Some(id) {
            set_last(paths, id)?;
        }
        return Ok(());
    }
    update(paths, session, |r| {
        r.pending_new = false;
        if r.active.as_ref() != Some(id) {
            if let Some(old) = r.active.take() {
                r.previous.retain(|p| p != &old);
                r.previous.insert(0, old);
            }
            r.previous.retain(|p| p != id);
            r.previous.truncate(HISTORY_LEN);
            r.active = Some(id.clone());
        }
    })?;
    set_last(paths, id)
}

/// Makes the session's next query start a new conversation (`panechat new`): the active one
/// becomes `prev`.
pub fn detach(paths: &Paths, session: &Session) -> Result<()> {
    update(paths, session, |r| {
        if let Some(old) = r.active.take() {
            r.previous.retain(|p| p != &old);
            r.previous.insert(0, old);
            r.previous.truncate(HISTORY_LEN);
        }
        r.pending_new = true;
    })
}

/// The panes (sessions) that have each conversation active, by conversation.
pub fn shown_in(paths: &Paths) -> Result<std::collections::BTreeMap<ConversationId, Vec<PaneRef>>> {
    let mut panes: std::collections::BTreeMap<ConversationId, Vec<PaneRef>> = Default::default();
    for rec in all(paths)? {
        if let Some(a) = rec.active {
            panes.entry(a).or_default().push(rec.pane);
        }
    }
    Ok(panes)
}

/// Forgets `id` in a session (after `rm`). When it was the active conversation, the session
/// falls back to its most recent earlier one that still `exists`, as `prev` would; returns the
/// session's active conversation afterwards.
pub fn forget(
    paths: &Paths,
    session: &Session,
    id: &ConversationId,
    exists: &dyn Fn(&ConversationId) -> bool,
) -> Result<Option<ConversationId>> {
    update(paths, session, |r| {
        r.previous.retain(|p| p != id && exists(p));
        if r.active.as_ref() == Some(id) {
            r.active = if r.previous.is_empty() {
                None
            } else {
                Some(r.previous.remove(0))
            };
        }
        r.active.clone()
    })
}

/// Records `id` as the conversation activated last.
pub fn set_last(paths: &Paths, id: &ConversationId) -> Result<()> {
    ensure_dir(&paths.state)?;
    atomic::write_atomic(&paths.last(), format!("{id}\n").as_bytes())
}

/// The conversation activated last, in any session.
pub fn last(paths: &Paths) -> Option<ConversationId> {
    let s = crate::files::read_to_string(&paths.last()).ok()?;
    ConversationId::from_trusted(s.trim())
}

/// Every session record on disk.
pub fn all(paths: &Paths) -> Result<Vec<SessionRecord>> {
    let mut out = Vec::new();
    for e in crate::paths::list_dir(&paths.sessions())? {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        if let Ok(b) = crate::files::read(&p) {
            if let Ok(r) = serde_json::from_slice::<SessionRecord>(&b) {
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// Removes a session's record and lock file (its conversations are never touched). The lock is
/// held while both are unlinked, so a concurrent [`update`] either finishes first or finds the
/// lock file replaced and starts over on a new one (see [`crate::lock`]).
pub fn remove(paths: &Paths, key: &SessionKey) -> Result<()> {
    let lock_path = lock_file(paths, key);
    let guard = match lock::acquire(&lock_path) {
        Ok(g) => Some(g),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let p = file(paths, key);
    match fs::remove_file(&p) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&p, e)),
    }
    match guard {
        Some(g) => g.unlink(),
        None => Ok(()),
    }
}
