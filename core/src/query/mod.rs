//! The query workflow: ask in a pane's conversation.
//!
//! Order of work ([`run`]): take the message (or, for `--retry`, the session's newest
//! unanswered one), resolve the conversation once (a new one is only reserved: it is created
//! with its first turn), save the message as a draft of its own with its message id (so nothing
//! typed is lost), register the run (from then on the pane shows that conversation and what the
//! run does: see [`crate::state`]), take the conversation's lock (waiting, asking or failing per
//! [`OnLocked`]), for a retry look for the message's id in the log (a stored message is not sent
//! again), load the history, stream the reply, append the turn durably, clear the draft, make the
//! conversation the session's active one, then generate a title. Once the turn is stored,
//! nothing that follows makes the query fail: a step that fails after it is a warning. Each
//! change of the run's state is published once to every pane that shows the conversation; a
//! watcher process republishes if this process is killed.
//!
//! The session's mapping changes only once the turn is stored: a query that gives up, is
//! cancelled or fails leaves the session's active and previous conversations as they were.
//!
//! A failed run (provider error, a reply cut short, timeout, Ctrl-C, `panechat kill`) appends
//! nothing: the conversation stays exactly as it was, and the message (with any partial reply)
//! stays in the draft, which `panechat query --retry` sends again.
//!
//! Everything outside the store goes through seams the caller injects: the provider
//! ([`Connect`]), where the reply's text goes ([`Sink`]), the person ([`Ui`]: notes, the wait
//! line, the picker, the lock question, cancellation), the clock ([`Clock`]) and the panes
//! ([`Publish`]). The binary passes the terminal and the real multiplexers; tests pass fakes.

mod agent;
mod fork;
mod lock;
mod resolve;
mod stream;
#[cfg(test)]
mod tests;
mod types;
mod zellij;

use std::time::Instant;

use crate::agents::AgentState;
use crate::error::{Error, Result};
use crate::lock::LockGuard;
use crate::provider::{ChatRequest, Message, Role};
use crate::runs::{Registration, RunKind, RunState};
use crate::store::conversation::{new_message_id, snippet, ConversationId, Summary, Turn};
use crate::store::{mapping, Draft, NewConversation, NewSettings};

pub use fork::{fork, Forked};
pub use resolve::{resolve_target, turns};
pub use stream::Reply;
use types::Attempt;
pub use types::{
    Asked, Clock, Connect, Input, LockAnswer, LockQuestion, OnLocked, Outcome, Publish, Query,
    Request, Resolved, Sink, SystemClock, Ui, Where,
};
pub use zellij::zellij_question;

/// The marker text in the title request (also what test servers look for).
pub const TITLE_MARKER: &str = "Reply with the title only";

/// Runs one query.
pub fn run(q: &mut Query<'_>, req: Request) -> Result<Outcome> {
    let (message, attachments, retried) = match &req.input {
        Input::New { text, attachments } => (text.clone(), attachments.clone(), None),
        Input::Retry => match retry_draft(q)? {
            Retried::Answered(outcome) => return Ok(outcome),
            Retried::Send(d) => (d.message.clone(), d.attachments.clone(), Some(*d)),
        },
    };
    q.store.ensure_dirs()?;
    // The message's identity, kept by a retry: stored with its turn, it is how a second
    // attempt of a stored message is recognised.
    let message_id = retried
        .as_ref()
        .map(|d| d.message_id.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(new_message_id);
    let (summary, fresh) = resolve::resolve(q, &req, retried.as_ref())?;
    let pid = std::process::id();
    let draft = Draft {
        session: q.session.key.clone(),
        message_id,
        conversation: Some(summary.id.clone()),
        new_conversation: fresh.as_ref().map(new_settings),
        message,
        attachments,
        partial_reply: String::new(),
        error: String::new(),
        at: retried
            .as_ref()
            .map(|d| d.at.clone())
            .unwrap_or_else(|| q.clock.stamp()),
        pid,
        start: crate::session::process_start_time(pid).unwrap_or(0),
    };
    q.store.save_draft(&draft)?;
    if let Some(old) = retried.as_ref().filter(|d| d.message_id.is_empty()) {
        // A draft of an older version, now kept under the message's identity.
        q.store.clear_draft(old)?;
    }
    let reg = Registration::register(
        q.paths,
        q.session,
        RunKind::Query,
        summary.id.as_str(),
        RunState::WaitingForLock,
        q.provider.kind(),
        &q.cfg.model,
    )?;
    let _watcher = q.publish.watch(reg.run());
    let attempt = Attempt {
        summary,
        fresh,
        draft,
        reg,
        _watcher,
    };
    locked_run(q, &req, attempt, retried.is_some())
}

/// What `--retry` sends.
enum Retried {
    /// This draft's message.
    Send(Box<Draft>),
    /// Nothing: its turn is stored already.
    Answered(Outcome),
}

/// The newest unanswered message of this pane (one that no running query is sending).
fn retry_draft(q: &mut Query<'_>) -> Result<Retried> {
    let mut kept = q.store.drafts(&q.session.key);
    let d = kept
        .pop()
        .ok_or_else(|| Error::NotFound("this session has no unanswered message to retry".into()))?;
    if !kept.is_empty() {
        q.ui.note(&format!(
            "panechat: sending again your newest unanswered message (\"{}\", {}); {} older one(s) kept: `panechat q --retry` again sends the next",
            snippet(&d.message),
            crate::time::ago(&d.at),
            kept.len()
        ));
    }
    if let Some(id) = d
        .conversation
        .as_ref()
        .filter(|_| q.store.draft_answered(&d))
    {
        // Stored already (wherever this retry would go now): nothing is sent again.
        if let Some(turn) = q.store.find_message(id, &d.message_id)? {
            return already_answered(q, None, None, id, &d, turn).map(Retried::Answered);
        }
    }
    Ok(Retried::Send(Box::new(d)))
}

/// The rest of the run, from taking the lock on: a failure to lock is published (the pane
/// stops showing the wait) and returned.
fn locked_run(q: &mut Query<'_>, req: &Request, mut a: Attempt, retry: bool) -> Result<Outcome> {
    let mut guard = match lock::lock(q, &mut a, req.on_locked) {
        Ok(g) => g,
        Err(e) => {
            let id = a.reg.run().conversation.clone();
            drop(a);
            if let Some(id) = ConversationId::from_trusted(&id) {
                q.publish.publish(&id);
            }
            return Err(e);
        }
    };
    guard.write_holder(&crate::lock::Holder::this_process(
        q.session,
        RunKind::Query,
    ))?;
    if a.fresh.is_some() && q.store.exists(&a.summary.id) {
        // Created meanwhile by another attempt at the same message.
        a.fresh = None;
        a.summary = q.store.summary(&a.summary.id)?;
    }
    if a.draft.conversation.as_ref() != Some(&a.summary.id) {
        a.draft.conversation = Some(a.summary.id.clone());
        a.draft.new_conversation = a.fresh.as_ref().map(new_settings);
        q.store.save_draft(&a.draft)?;
    }
    if retry && a.fresh.is_none() {
        if let Some(turn) = q.store.find_message(&a.summary.id, &a.draft.message_id)? {
            let id = a.summary.id.clone();
            return already_answered(q, Some(guard), Some(a.reg), &id, &a.draft, turn);
        }
    }
    ask(q, req, a, guard)
}

/// Sends the message and stores the turn (the lock is held).
fn ask(q: &mut Query<'_>, req: &Request, mut a: Attempt, guard: LockGuard) -> Result<Outcome> {
    let agent_kind = agent::kind(q);
    let (mut conv, request) = match prepare(q, req, &mut a, &guard, agent_kind.as_deref()) {
        Ok(x) => x,
        Err(e) => {
            keep_draft(q, a, guard, String::new(), &e);
            return Err(e);
        }
    };
    // A coding agent: the pane shows what it does until the turn ends (`prepare` recorded it
    // working).
    let mut run = agent_kind.map(|kind| agent::AgentRun {
        kind,
        id: a.summary.id.clone(),
        session: request.agent.clone().filter(|s| !s.fork),
    });
    let model = request.model.clone();
    q.ui.log(
        "DEBUG",
        &format!(
            "query in {} ({} turns) via {} model {}: message of {} bytes",
            a.summary.id,
            conv.turns,
            q.provider.kind(),
            model,
            a.draft.message.len()
        ),
    );
    let started_at = q.clock.stamp();
    let t0 = q.clock.now();
    let reply = match stream::stream(q, request, req.stream, run.as_mut(), &mut a.reg) {
        Ok(r) => r,
        Err((err, partial)) => {
            if let Some(r) = &run {
                r.show(q, AgentState::Idle, None, None);
            }
            return Err(failed(q, a, guard, t0, err, partial));
        }
    };
    let agent_session = match (&run, reply.session) {
        (Some(_), Some(s)) => Some(crate::model::AgentSession { fork: false, ..s }),
        (Some(r), None) => {
            q.ui.warn(&format!(
                "panechat: warning: {} did not name its session: the next question in this conversation starts a new one",
                r.kind
            ));
            // Still an agent's conversation (no session id: the next turn starts one).
            Some(crate::model::AgentSession {
                backend: r.kind.clone(),
                ..Default::default()
            })
        }
        (None, _) => None,
    };
    let turn = Turn {
        user: a.draft.message.clone(),
        assistant: reply.text,
        // An agent left on its own default model says which (Claude Code), or is named.
        model: reply
            .model
            .filter(|m| !m.is_empty())
            .or_else(|| Some(model.clone()).filter(|m| !m.is_empty()))
            .or_else(|| run.as_ref().map(|r| r.kind.clone()))
            .unwrap_or(model),
        usage: reply.usage,
        started_at,
        finished_at: q.clock.stamp(),
        finish_reason: reply.finish_reason,
        truncated: reply.truncated,
        attachments: a.draft.attachments.clone(),
        message_id: Some(a.draft.message_id.clone()),
        agent: agent_session,
        cost_usd: reply.cost,
    };
    q.ui.log(
        "INFO",
        &reply_line(&a.summary.id, conv.turns, &turn, t0, q.clock),
    );
    if let Err(e) = store_turn(q, &mut a, &guard, &mut conv, &turn) {
        if let Some(r) = &run {
            r.show(q, AgentState::Idle, None, None);
        }
        finish(q, a, Some(guard));
        return Err(e);
    }
    // From here on the turn is stored: nothing that follows turns this into a failure.
    answered(q, &a.summary.id, &a.draft);
    if let Some(r) = &mut run {
        r.session = turn.agent.clone();
        let last = turn.assistant.lines().rev().find(|l| !l.trim().is_empty());
        r.show(q, AgentState::Done, None, last);
    }
    if conv.title.is_none() && q.cfg.title_generate && q.ui.interrupted().is_none() {
        match run {
            // An agent is not asked for a title (it would start a session of its own).
            Some(_) => title_from_message(q, &a, &guard, &turn),
            None => title(q, &mut a, &guard, &conv, turn),
        }
    }
    let id = finish(q, a, Some(guard));
    Ok(Outcome::Answered { id })
}

/// Ends the run: the lock is let go, the run's record removed, and the panes told.
fn finish(q: &mut Query<'_>, a: Attempt, guard: Option<LockGuard>) -> ConversationId {
    drop(guard);
    let id = a.summary.id.clone();
    drop(a);
    q.publish.publish(&id);
    id
}

/// The one line an answered query leaves in the log (at the default level): the conversation,
/// the turn's number and model, the sizes sent and received, the time to the whole reply and
/// the tokens.
fn reply_line(
    id: &ConversationId,
    turns: u64,
    turn: &Turn,
    t0: Instant,
    clock: &dyn Clock,
) -> String {
    let tokens = |n: Option<u64>| n.map_or("?".to_string(), |n| n.to_string());
    format!(
        "query in {id} (turn {}, {}): {} B sent, reply in {} ms: {} B, tokens {}/{}{}",
        turns + 1,
        turn.model,
        turn.user.len(),
        clock.now().saturating_duration_since(t0).as_millis(),
        turn.assistant.len(),
        tokens(turn.usage.input_tokens),
        tokens(turn.usage.output_tokens),
        if turn.truncated { ", truncated" } else { "" }
    ) + &agent_note(turn)
}

/// For a coding agent's turn, what the log line adds: the agent's session and the cost.
fn agent_note(turn: &Turn) -> String {
    let Some(a) = &turn.agent else {
        return String::new();
    };
    let cost = turn
        .cost_usd
        .as_ref()
        .map(|c| format!(", ${c}"))
        .unwrap_or_default();
    format!(", {} session {}{cost}", a.backend, a.id)
}

/// Loads the history, records new settings, and builds the request; the run is then
/// streaming (published). For a coding agent (`agent_kind`) the request names the agent
/// session to continue instead of carrying the history.
fn prepare(
    q: &mut Query<'_>,
    req: &Request,
    a: &mut Attempt,
    guard: &LockGuard,
    agent_kind: Option<&str>,
) -> Result<(Summary, ChatRequest)> {
    let opened = match &a.fresh {
        Some(_) => crate::store::Opened {
            summary: a.summary.clone(),
            history: crate::provider::History::Bytes(std::sync::Arc::new(Vec::new())),
            rebuilt: false,
        },
        None => q.store.open_for_query(&a.summary.id)?,
    };
    if opened.rebuilt {
        let id = &a.summary.id;
        q.ui.log(
            "DEBUG",
            &format!("conversation {id}: history rebuilt from its log"),
        );
    }
    let mut conv = opened.summary;
    let session = match agent_kind {
        Some(kind) => agent::session_of(kind, &conv)?,
        None => {
            agent::model_may_continue(&conv)?;
            None
        }
    };
    let new_model = req.model.clone().filter(|m| conv.model.as_ref() != Some(m));
    let new_system = req
        .system
        .clone()
        .filter(|s| conv.system.as_ref() != Some(s));
    match a.fresh.as_mut() {
        // A conversation created with this turn records them in its header.
        Some(new) => {
            if new_model.is_some() {
                new.model = new_model.clone();
                conv.model = new_model;
            }
            if new_system.is_some() {
                new.system = new_system.clone();
                conv.system = new_system;
            }
        }
        None => {
            let stale = q
                .store
                .set_settings(guard, &mut conv, new_model, new_system)?;
            if let Some(e) = &stale {
                q.ui.stale("the conversation's new settings", e);
            }
        }
    }
    let model = conv.model.clone().unwrap_or_else(|| q.cfg.model.clone());
    a.reg.set_model(q.provider.kind(), &model);
    a.reg.set(a.summary.id.as_str(), RunState::Streaming)?;
    if let Some(kind) = agent_kind {
        // Told to the panes with the run's state, below.
        let run = agent::AgentRun {
            kind: kind.to_string(),
            id: a.summary.id.clone(),
            session: session.clone().filter(|s| !s.fork),
        };
        run.record(q, AgentState::Working, None, None);
    }
    q.publish.publish(&a.summary.id);
    let request = ChatRequest {
        model,
        system: conv.system.clone(),
        // An agent has the history in its own session.
        history: agent_kind.is_none().then_some(opened.history),
        messages: vec![Message {
            role: Role::User,
            content: a.draft.message.clone(),
            attachments: a.draft.attachments.clone(),
        }],
        stream: req.stream,
        agent: session,
    };
    Ok((conv, request))
}

/// A run that failed before its turn was stored: the draft keeps the message, what was
/// received and why; nothing is added to the conversation.
fn failed(
    q: &mut Query<'_>,
    a: Attempt,
    guard: LockGuard,
    t0: Instant,
    err: Error,
    partial: String,
) -> Error {
    q.ui.log(
        "ERROR",
        &format!(
            "query in {} failed after {:?} with {} bytes received: {err}",
            a.summary.id,
            q.clock.now().saturating_duration_since(t0),
            partial.len()
        ),
    );
    keep_draft(q, a, guard, partial, &err);
    match err {
        Error::Cancelled(m) => Error::Cancelled(format!("{m}; nothing was added to the conversation, your message is kept: `panechat q --retry` sends it again")),
        other => Error::RunFailed {
            source: Box::new(other),
        },
    }
}

/// Records in the draft what a run that stored nothing received and why, lets go of the
/// conversation and publishes that the run ended.
fn keep_draft(q: &mut Query<'_>, mut a: Attempt, guard: LockGuard, partial: String, err: &Error) {
    a.draft.partial_reply = partial;
    a.draft.error = err.to_string();
    let _ = q.store.save_draft(&a.draft);
    let guard = match a.fresh {
        // The conversation it was to start does not exist: nothing to leave locked.
        Some(_) => {
            let _ = guard.unlink();
            None
        }
        None => Some(guard),
    };
    finish(q, a, guard);
}

/// Appends the turn (creating the conversation it starts). Nothing stored: the message stays
/// kept in the draft, as for a failed run, and the error says so.
fn store_turn(
    q: &mut Query<'_>,
    a: &mut Attempt,
    guard: &LockGuard,
    conv: &mut Summary,
    turn: &Turn,
) -> Result<()> {
    let stored = match a.fresh.take() {
        Some(new) => q
            .store
            .create(NewConversation {
                turns: vec![turn.clone()],
                ..new
            })
            .map(|d| {
                *conv = d.value;
                d.stale
            }),
        None => q.store.append_turn(guard, conv, turn),
    };
    match stored {
        Ok(stale) => {
            if let Some(e) = &stale {
                q.ui.stale("the reply", e);
            }
            Ok(())
        }
        Err(e) => {
            q.ui.log(
                "ERROR",
                &format!("the reply in {} could not be stored: {e}", a.summary.id),
            );
            a.draft.partial_reply = turn.assistant.clone();
            a.draft.error = e.to_string();
            let _ = q.store.save_draft(&a.draft);
            Err(Error::Unfinished {
                message: format!(
                    "the reply could not be stored: {e}\nnothing was added to the conversation, your message is kept: `panechat q --retry` sends it again"
                ),
                source: Box::new(e),
            })
        }
    }
}

/// Asks the model for a title for a conversation that has none, and stores it (the turn is
/// stored: a failure is only logged).
fn title(q: &mut Query<'_>, a: &mut Attempt, guard: &LockGuard, conv: &Summary, turn: Turn) {
    if let Err(e) = a.reg.set(a.summary.id.as_str(), RunState::GeneratingTitle) {
        q.ui.log("DEBUG", &format!("cannot record the run's state: {e}"));
    }
    q.publish.publish(&a.summary.id);
    let model = turn.model.clone();
    let first = if conv.turns == 1 {
        Some(turn)
    } else {
        q.store.first_turn(&a.summary.id).ok().flatten()
    };
    let Some(first) = first else {
        q.ui.log("DEBUG", "the model's title was empty");
        return;
    };
    match generate_title(q, &model, &first) {
        Ok(t) if !t.is_empty() => match q.store.set_title(guard, &a.summary.id, &t, "model") {
            Ok(d) => {
                if let Some(e) = &d.stale {
                    q.ui.stale("the title", e);
                }
            }
            Err(e) => {
                q.ui.log("DEBUG", &format!("the generated title was not stored: {e}"))
            }
        },
        Ok(_) => q.ui.log("DEBUG", "the model's title was empty"),
        Err(e) => q.ui.log("DEBUG", &format!("no title generated: {e}")),
    }
}

/// A title from the first message, for a conversation held with a coding agent (the turn is
/// stored: a failure is only logged).
fn title_from_message(q: &mut Query<'_>, a: &Attempt, guard: &LockGuard, first: &Turn) {
    let words: Vec<&str> = first.user.split_whitespace().take(8).collect();
    let t = crate::title::clean_generated_title(&words.join(" "));
    if t.is_empty() {
        return;
    }
    match q.store.set_title(guard, &a.summary.id, &t, "message") {
        Ok(d) => {
            if let Some(e) = &d.stale {
                q.ui.stale("the title", e);
            }
        }
        Err(e) => q.ui.log("DEBUG", &format!("the title was not stored: {e}")),
    }
}

/// The title the model gives the conversation that begins with `first`.
fn generate_title(q: &Query<'_>, model: &str, first: &Turn) -> Result<String> {
    let cut = |s: &str| s.chars().take(2000).collect::<String>();
    let prompt = format!(
        "Write a short title (at most 6 words) for a conversation that begins as follows. {TITLE_MARKER}, without quotes.\n\nUser: {}\n\nAssistant: {}",
        cut(&first.user),
        cut(&first.assistant)
    );
    let req = ChatRequest {
        model: model.to_string(),
        system: None,
        messages: vec![Message {
            role: Role::User,
            content: prompt,
            attachments: Vec::new(),
        }],
        history: None,
        stream: true,
        agent: None,
    };
    let handle = q.provider.start(req);
    let reply = crate::provider::collect(&handle, q.cfg.title_timeout)?;
    Ok(crate::title::clean_generated_title(&reply.text))
}

/// What follows a stored turn: its draft is removed and the conversation becomes the session's
/// active one. The turn is stored already, so a failure here is a warning.
fn answered(q: &mut Query<'_>, id: &ConversationId, draft: &Draft) {
    if let Err(e) = q.store.clear_draft(draft) {
        q.ui.warn(&format!("panechat: warning: the reply is stored, but its draft could not be removed ({e});\n  `panechat q --retry` recognises it as answered and does not send it again"));
    }
    if let Err(e) = mapping::activate(q.paths, q.session, id) {
        q.ui.warn(&format!("panechat: warning: the reply is stored in {id}, but it could not be made this pane's conversation ({e}); `panechat use {id}` does it"));
    }
}

/// `--retry` of a message whose turn is stored already: nothing is sent or stored again.
fn already_answered(
    q: &mut Query<'_>,
    guard: Option<LockGuard>,
    reg: Option<Registration>,
    id: &ConversationId,
    draft: &Draft,
    turn: Turn,
) -> Result<Outcome> {
    answered(q, id, draft);
    drop(guard);
    drop(reg);
    q.publish.publish(id);
    Ok(Outcome::AlreadyAnswered {
        id: id.clone(),
        turn: Box::new(turn),
    })
}

/// The settings a draft keeps for the conversation its message starts.
fn new_settings(new: &NewConversation) -> NewSettings {
    NewSettings {
        model: new.model.clone(),
        system: new.system.clone(),
    }
}
