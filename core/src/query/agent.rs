//! A query whose back-end is a coding agent: which agent session the conversation continues,
//! and the pane's agent state while the agent works ([`crate::agents`]), published to the panes.

use crate::agents::{Agent, AgentState};
use crate::error::{Error, Result};
use crate::model::AgentSession;
use crate::provider::ProviderKind;
use crate::store::conversation::{ConversationId, Summary};

use super::types::Query;

/// The agent back-end of a run, and what the pane is told about it.
pub(super) struct AgentRun {
    /// `claude-code`, `codex` or `agent`.
    pub(super) kind: String,
    /// The conversation.
    pub(super) id: ConversationId,
    /// The agent session, once known.
    pub(super) session: Option<AgentSession>,
}

/// The agent kind of the query's provider, if it is one.
pub(super) fn kind(q: &Query<'_>) -> Option<String> {
    ProviderKind::parse(q.provider.kind())
        .filter(|k| k.is_agent())
        .map(|k| k.as_str().to_string())
}

/// The agent session a question in `conv` continues (`None`: a new one), or why the agent
/// cannot continue it.
pub(super) fn session_of(kind: &str, conv: &Summary) -> Result<Option<AgentSession>> {
    match &conv.agent {
        Some(a) if a.backend != kind => Err(Error::Config(format!(
            "conversation {} is a {} session and provider.kind is \"{kind}\": set provider.kind = \"{}\" to continue it (e.g. `--cfg provider.kind={}`), or ask in a new conversation (`panechat q --new`)",
            conv.id, a.backend, a.backend, a.backend
        ))),
        // (an empty id: the agent named no session, the question starts a new one)
        Some(a) => Ok(Some(a.clone()).filter(|a| !a.id.is_empty())),
        None if conv.turns > 0 => Err(Error::Config(format!(
            "conversation {} was held with a model, and {kind} keeps its own history, so it cannot continue it; ask in a new conversation (`panechat q --new`), or keep this one with a model provider",
            conv.id
        ))),
        None => Ok(None),
    }
}

/// Refuses a model provider's turn in a conversation a coding agent holds: the agent keeps the
/// history it answers from, so a model's turn would be missing from it the next time the agent
/// is asked (the session resumed without it).
pub(super) fn model_may_continue(conv: &Summary) -> Result<()> {
    match &conv.agent {
        Some(a) if !a.id.is_empty() => Err(Error::Config(format!(
            "conversation {} is a {} session, which keeps its own history, so a model provider cannot continue it; set provider.kind = \"{}\" to continue it (e.g. `--cfg provider.kind={}`), or ask in a new conversation (`panechat q --new`)",
            conv.id, a.backend, a.backend, a.backend
        ))),
        _ => Ok(()),
    }
}

impl AgentRun {
    /// Records the pane's agent as `state` (running `tool`) and tells the panes.
    pub(super) fn show(
        &self,
        q: &mut Query<'_>,
        state: AgentState,
        tool: Option<&str>,
        message: Option<&str>,
    ) {
        self.record(q, state, tool, message);
        q.publish.publish(&self.id);
    }

    /// Records the pane's agent as `state` (running `tool`), for the next publication.
    pub(super) fn record(
        &self,
        q: &mut Query<'_>,
        state: AgentState,
        tool: Option<&str>,
        message: Option<&str>,
    ) {
        let agent = Agent {
            kind: self.kind.clone(),
            state,
            tool: tool.map(str::to_string),
            session: self.session.as_ref().map(|s| s.id.clone()),
            cwd: self.session.as_ref().and_then(|s| s.cwd.clone()),
            message: message
                .map(|m| panechat_vocab::text::inert_to(m, 80))
                .filter(|m| !m.is_empty()),
            since: Some(q.clock.stamp()),
        };
        if let Err(e) = crate::agents::record(q.paths, &q.session.key, &agent) {
            q.ui.log("DEBUG", &format!("cannot record the agent's state: {e}"));
        }
    }
}
