//! Streaming the reply, with its policies: `provider.idle_timeout` (nothing received for that
//! long), `provider.timeout` (the whole reply), `provider.max_reply_bytes` (the reply is cut,
//! with a marker), and cancellation (Ctrl-C, `panechat kill`). A stream that ends before its
//! final event is an interrupted reply ([`crate::provider::StreamHandle::next_event`]).

use std::time::Duration;

use crate::agents::AgentState;
use crate::error::Error;
use crate::model::AgentSession;
use crate::provider::{merge_usage, ChatRequest, StreamEvent, StreamHandle, Usage};

use super::agent::AgentRun;
use super::types::Query;
use crate::runs::Registration;

/// A completed reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// The text (with the truncation marker when it was cut).
    pub text: String,
    /// Token usage, as reported.
    pub usage: Usage,
    /// The model the server says answered.
    pub model: Option<String>,
    /// Why generation stopped, when given.
    pub finish_reason: Option<String>,
    /// Whether panechat cut the reply at `provider.max_reply_bytes`.
    pub truncated: bool,
    /// A coding agent's session, as it is after the turn.
    pub session: Option<AgentSession>,
    /// What the turn cost (US dollars), as a coding agent reported it.
    pub cost: Option<serde_json::Number>,
}

/// How long a cancelled coding agent (and everything it started) gets to be gone before the
/// query goes on: the agent gets `KILL_GRACE` (2 s) between SIGTERM and SIGKILL, then what it
/// left (a tool in a session of its own) gets another; a second more for the signals to land.
const AGENT_END: Duration =
    Duration::from_secs(2 * crate::provider::command::KILL_GRACE.as_secs() + 1);

/// How long one wait for the provider lasts before the signals are looked at.
const TICK: Duration = Duration::from_millis(100);

/// Sends `request` and streams the reply to the sink (whole at the end when `!live`). A
/// failure comes with the text received before it. With `agent`, the pane's agent state follows
/// the agent's tools, and a failed run returns once the agent and what it started are gone.
pub(super) fn stream(
    q: &mut Query<'_>,
    request: ChatRequest,
    live: bool,
    mut agent: Option<&mut AgentRun>,
    reg: &mut Registration,
) -> Result<Reply, (Error, String)> {
    let handle = q.provider.start(request);
    let mut reply = Reply::default();
    let res = receive(q, &handle, &mut reply, live, agent.as_deref_mut(), reg);
    if let Err(e) = res {
        handle.cancel();
        if agent.is_some() && !handle.wait_ended(AGENT_END) {
            q.ui.log("ERROR", "the agent's processes did not end in time");
        }
        q.sink.end(false);
        return Err((e, reply.text));
    }
    if reply.truncated && agent.is_some() && !handle.wait_ended(AGENT_END) {
        // Cut at the cap: the agent was stopped, and is gone before the turn is stored.
        q.ui.log("ERROR", "the agent's processes did not end in time");
    }
    if !live {
        q.sink.text(&reply.text);
    }
    q.sink.end(true);
    Ok(reply)
}

/// Receives events into `reply` until the reply is complete (or cut), or a policy ends it.
fn receive(
    q: &mut Query<'_>,
    handle: &StreamHandle,
    reply: &mut Reply,
    live: bool,
    mut agent: Option<&mut AgentRun>,
    reg: &mut Registration,
) -> Result<(), Error> {
    let cfg = q.cfg;
    // The agent's process, once recorded with the run.
    let mut agent_recorded = agent.is_none();
    let start = q.clock.now();
    let mut last_byte = start;
    // While a coding agent's tool runs, the agent is silent by design: the idle timeout counts
    // from the tool's end.
    let mut tool_running = false;
    loop {
        if let Some(e) = q.ui.interrupted() {
            return Err(e);
        }
        // (after the event that woke the loop, not on the way to it)
        if !agent_recorded {
            if let Some(pid) = handle.child() {
                agent_recorded = true;
                if let Err(e) = reg.set_agent(pid as u32, handle.mark()) {
                    q.ui.log("DEBUG", &format!("cannot record the agent's process: {e}"));
                }
            }
        }
        let now = q.clock.now();
        let mut wait = TICK;
        if tool_running {
            last_byte = now;
        }
        if !cfg.idle_timeout.is_zero() {
            let idle_left = cfg
                .idle_timeout
                .saturating_sub(now.saturating_duration_since(last_byte));
            if idle_left.is_zero() {
                return Err(Error::TimedOut {
                    message: format!(
                        "the provider sent nothing for {} (provider.idle_timeout)",
                        humantime::format_duration(cfg.idle_timeout)
                    ),
                });
            }
            wait = wait.min(idle_left);
        }
        if !cfg.timeout.is_zero() {
            let left = cfg
                .timeout
                .saturating_sub(now.saturating_duration_since(start));
            if left.is_zero() {
                return Err(Error::TimedOut {
                    message: format!(
                        "the reply took longer than {} (provider.timeout)",
                        humantime::format_duration(cfg.timeout)
                    ),
                });
            }
            wait = wait.min(left);
        }
        let Some(event) = handle.next_event(wait)? else {
            continue;
        };
        last_byte = q.clock.now();
        match event {
            StreamEvent::Delta(d) => {
                if add(q, reply, d, live) {
                    handle.cancel();
                    return Ok(());
                }
            }
            StreamEvent::Usage(u) => merge_usage(&mut reply.usage, u),
            StreamEvent::Model(m) => reply.model = Some(m),
            StreamEvent::Cost(c) => reply.cost = Some(c),
            // (the idle clock was reset above)
            StreamEvent::Alive => {}
            StreamEvent::Session(s) => {
                // Recorded for the pane with the next change of state (not on the way to the
                // reply's first byte).
                if let Some(a) = agent.as_deref_mut() {
                    a.session = Some(AgentSession {
                        cwd: s.cwd.clone().or_else(|| a.session.as_ref()?.cwd.clone()),
                        ..s.clone()
                    });
                }
                reply.session = Some(s);
            }
            StreamEvent::Tool(t) => {
                tool_running = t.is_some();
                if let Some(a) = agent.as_deref_mut() {
                    a.show(q, AgentState::Working, t.as_deref(), None);
                }
            }
            StreamEvent::Done { finish_reason } => {
                reply.finish_reason = finish_reason;
                return Ok(());
            }
        }
    }
}

/// Adds a piece of text to the reply (and the sink when `live`), cut at
/// `provider.max_reply_bytes`; true when the reply is cut (it is then complete, with its
/// marker).
fn add(q: &mut Query<'_>, reply: &mut Reply, mut d: String, live: bool) -> bool {
    let max = q.cfg.max_reply_bytes as usize;
    if max > 0 && reply.text.len() + d.len() > max {
        let mut cut = max.saturating_sub(reply.text.len());
        while cut > 0 && !d.is_char_boundary(cut) {
            cut -= 1;
        }
        d.truncate(cut);
        reply.truncated = true;
    }
    if live && !d.is_empty() {
        q.sink.text(&d);
    }
    reply.text.push_str(&d);
    if reply.truncated {
        let marker =
            format!("\n\n[reply truncated by panechat at {max} bytes: provider.max_reply_bytes]");
        if live {
            q.sink.text(&marker);
        }
        reply.text.push_str(&marker);
    }
    reply.truncated
}
