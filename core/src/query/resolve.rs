//! Which conversation a query goes to, decided once: an existing one (created now for
//! `--fork`), or one to create with the query's turn (`--new` and the like: returned with what it
//! starts with, so a first turn that fails leaves no conversation).

use crate::config::DefaultId;
use crate::error::{Error, Result};
use crate::session::Session;
use crate::store::conversation::{ConversationId, Summary};
use crate::store::{mapping, Draft, NewConversation, Store};
use crate::target::{self, Target};

use super::types::{Query, Request, Resolved, Ui, Where};

/// Resolves `--id`'s target: the picker for `pick`, else the keyword or id prefix.
pub fn resolve_target(
    store: &Store,
    paths: &crate::paths::Paths,
    session: &Session,
    ui: &mut dyn Ui,
    t: &Target,
) -> Result<Resolved> {
    match t {
        Target::Pick => {
            let active = mapping::read(paths, &session.key)
                .ok()
                .flatten()
                .and_then(|r| r.active);
            ui.pick(active.as_ref())
        }
        other => Ok(Resolved::Id(target::resolve_keyword(
            store,
            &session.key,
            other,
        )?)),
    }
}

/// The conversation of this query, and what it starts with when the query creates it.
pub(super) fn resolve(
    q: &mut Query<'_>,
    req: &Request,
    retry: Option<&Draft>,
) -> Result<(Summary, Option<NewConversation>)> {
    let base = match &req.target {
        Where::New => return Ok(new_conversation(q, req)),
        Where::Chosen(r) => r.clone(),
        Where::Default => {
            if let Some(d) = retry {
                if let Some(found) = retry_target(q, req, d) {
                    return Ok(found);
                }
            }
            match retry.and_then(|d| d.conversation.clone()) {
                Some(id) if q.store.exists(&id) => Resolved::Id(id),
                _ => default(q)?,
            }
        }
    };
    match (base, req.fork) {
        (Resolved::New, _) => Ok(new_conversation(q, req)),
        (Resolved::Id(id), None) => Ok((q.store.summary(&id)?, None)),
        (Resolved::Id(id), Some(keep)) => {
            let forked = q.store.fork(&id, keep)?;
            if let Some(e) = &forked.stale {
                q.ui.stale("the fork", e);
            }
            let s = forked.value;
            q.ui.note(&format!(
                "panechat: forked {} into {} ({} kept)",
                id,
                s.id,
                turns(s.turns)
            ));
            Ok((s, None))
        }
    }
}

/// "1 turn", "2 turns".
pub fn turns(n: u64) -> String {
    if n == 1 {
        "1 turn".into()
    } else {
        format!("{n} turns")
    }
}

/// A retried message that was to start a conversation still starts it, under the same id.
fn retry_target(
    q: &mut Query<'_>,
    req: &Request,
    d: &Draft,
) -> Option<(Summary, Option<NewConversation>)> {
    let id = d.conversation.as_ref()?;
    let settings = d.new_conversation.as_ref()?;
    if q.store.exists(id) {
        return None;
    }
    let new = NewConversation {
        id: Some(id.clone()),
        model: req.model.clone().or_else(|| settings.model.clone()),
        system: req.system.clone().or_else(|| settings.system.clone()),
        ..Default::default()
    };
    Some((q.store.reserve(&new), Some(new)))
}

/// The session's active conversation; without one, `panechat new`'s request or what
/// `conversation.default_id` says.
fn default(q: &mut Query<'_>) -> Result<Resolved> {
    // A corrupt record is as good as none; a file that cannot be read is an error.
    let rec = match mapping::read(q.paths, &q.session.key) {
        Err(e @ Error::Io { .. }) => return Err(e),
        other => other.ok().flatten(),
    };
    let pending_new = rec.as_ref().is_some_and(|r| r.pending_new);
    if let Some(id) = rec.and_then(|r| r.active).filter(|id| q.store.exists(id)) {
        return Ok(Resolved::Id(id));
    }
    if pending_new {
        // `panechat new`: this pane's next question starts a new conversation.
        return Ok(Resolved::New);
    }
    let any = |id: Option<ConversationId>| id.map_or(Resolved::New, Resolved::Id);
    Ok(match &q.cfg.default_id {
        DefaultId::New => Resolved::New,
        DefaultId::Last => any(mapping::last(q.paths).filter(|id| q.store.exists(id))),
        DefaultId::Prev => {
            any(target::resolve_keyword(q.store, &q.session.key, &Target::Prev).ok())
        }
        DefaultId::Id(p) => resolve_target(q.store, q.paths, q.session, q.ui, &Target::parse(p)?)?,
        DefaultId::Ask => {
            if q.store.ids()?.is_empty() {
                Resolved::New
            } else if q.ui.can_ask() {
                resolve_target(q.store, q.paths, q.session, q.ui, &Target::Pick)?
            } else {
                return Err(Error::Unavailable {
                    message: "this session has no conversation yet and there is no terminal to pick one; pass --new, --id last or --id ID, or set conversation.default_id".into(),
                });
            }
        }
    })
}

/// A new conversation, reserved: it is created with its first turn.
fn new_conversation(q: &mut Query<'_>, req: &Request) -> (Summary, Option<NewConversation>) {
    let mut new = NewConversation {
        model: req.model.clone(),
        system: req.system.clone().or_else(|| q.cfg.system.clone()),
        ..Default::default()
    };
    let s = q.store.reserve(&new);
    new.id = Some(s.id.clone());
    q.ui.log(
        "DEBUG",
        &format!("new conversation {} (created with its first turn)", s.id),
    );
    (s, Some(new))
}
