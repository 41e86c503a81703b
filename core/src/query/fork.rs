//! `panechat fork`'s workflow: a copy of a conversation, made a session's active one.

use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::session::Session;
use crate::store::conversation::{ConversationId, Summary};
use crate::store::{mapping, Store};

/// A fork, stored.
#[derive(Debug)]
pub struct Forked {
    /// The fork.
    pub summary: Summary,
    /// Why the files derived from its log could not be written (it is stored all the same).
    pub stale: Option<Error>,
    /// Why it could not be made the session's active conversation (it is stored all the same).
    pub not_activated: Option<Error>,
}

/// Forks `src`, keeping every turn or the last `keep`, then makes the fork `into`'s active
/// conversation. The fork is stored first: a failure to activate it is reported in
/// [`Forked::not_activated`], not as an error, so the caller can name the fork.
pub fn fork(
    store: &Store,
    paths: &Paths,
    src: &ConversationId,
    keep: Option<usize>,
    into: Option<&Session>,
) -> Result<Forked> {
    store.ensure_dirs()?;
    let forked = store.fork(src, keep)?;
    let summary = forked.value;
    let not_activated = into.and_then(|s| mapping::activate(paths, s, &summary.id).err());
    Ok(Forked {
        summary,
        stale: forked.stale,
        not_activated,
    })
}
