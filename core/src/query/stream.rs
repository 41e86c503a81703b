//! Streaming the reply, with its policies: `provider.idle_timeout` (nothing received for that
//! long), `provider.timeout` (the whole reply), `provider.max_reply_bytes` (the reply is cut,
//! with a marker), and cancellation (Ctrl-C, `panechat kill`). A stream that ends before its
//! final event is an interrupted reply ([`crate::provider::StreamHandle::next_event`]).

use std::time::Duration;

use crate::error::Error;
use crate::provider::{merge_usage, ChatRequest, StreamEvent, StreamHandle, Usage};

use super::types::Query;

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
}

/// How long one wait for the provider lasts before the signals are looked at.
const TICK: Duration = Duration::from_millis(100);

/// Sends `request` and streams the reply to the sink (whole at the end when `!live`). A
/// failure comes with the text received before it.
pub(super) fn stream(
    q: &mut Query<'_>,
    request: ChatRequest,
    live: bool,
) -> Result<Reply, (Error, String)> {
    let handle = q.provider.start(request);
    let mut reply = Reply::default();
    let res = receive(q, &handle, &mut reply, live);
    if let Err(e) = res {
        handle.cancel();
        q.sink.end(false);
        return Err((e, reply.text));
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
) -> Result<(), Error> {
    let cfg = q.cfg;
    let start = q.clock.now();
    let mut last_byte = start;
    loop {
        if let Some(e) = q.ui.interrupted() {
            return Err(e);
        }
        let now = q.clock.now();
        let mut wait = TICK;
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
