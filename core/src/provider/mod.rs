//! LLM providers: one wire format per module, one streaming runner for all.
//!
//! A provider turns a [`ChatRequest`] into a stream of [`StreamEvent`]s. Every provider runs on a
//! worker thread started by [`start`]; the caller receives events through a [`StreamHandle`] and
//! owns every policy decision (idle timeout, overall timeout, reply cap, Ctrl-C), so that all four
//! providers end a run the same way.
//!
//! | kind | wire format |
//! |---|---|
//! | `openai` | Chat Completions, SSE (`data:` chunks, `data: [DONE]`, usage chunk, mid-stream `error`) |
//! | `anthropic` | Messages API streaming events (`message_start`, `content_block_delta`, …) |
//! | `ollama` | native `/api/chat`, NDJSON lines (`done: true` carries the counts) |
//! | `command` | a program run with an argv (never a shell); transcript on stdin, reply from stdout |
//! | `claude-code`, `codex`, `agent` | a coding agent run with an argv; its JSON lines on stdout (see [`agent`]) |

pub mod agent;
pub mod anthropic;
pub mod command;
mod http;
pub mod ollama;
pub mod openai;
pub mod sse;

use std::sync::mpsc;
use std::time::Duration;

mod types;

pub use types::*;

/// Checks what can be checked before anything is sent (a required API key is set), so a
/// missing key is reported before a conversation is created or a message typed.
pub fn preflight(cfg: &ProviderConfig) -> Result<(), ProviderError> {
    let has_key = http::key(cfg).is_some();
    match cfg.kind {
        ProviderKind::Anthropic if !has_key => Err(http::missing_key(cfg, "the Anthropic API")),
        ProviderKind::Openai if !has_key && openai::is_official(&cfg.base_url) => {
            Err(http::missing_key(cfg, "the OpenAI API"))
        }
        _ => Ok(()),
    }
}

/// Builds the provider for a config.
pub fn build(cfg: &ProviderConfig) -> Box<dyn Provider> {
    match cfg.kind {
        ProviderKind::Openai => Box::new(openai::OpenAi::new(cfg.clone())),
        ProviderKind::Anthropic => Box::new(anthropic::Anthropic::new(cfg.clone())),
        ProviderKind::Ollama => Box::new(ollama::Ollama::new(cfg.clone())),
        ProviderKind::Command => Box::new(command::CommandProvider::new(cfg.clone())),
        ProviderKind::ClaudeCode | ProviderKind::Codex | ProviderKind::Agent => {
            Box::new(agent::AgentProvider::new(cfg.clone()))
        }
    }
}

/// Starts `req` on a worker thread and returns the handle that receives its events.
pub fn start(cfg: &ProviderConfig, req: ChatRequest) -> StreamHandle {
    start_with(build(cfg), req)
}

/// Starts `req` with `provider` on a worker thread (what [`start`] does with the configured
/// one; tests pass their own).
pub fn start_with(provider: Box<dyn Provider>, req: ChatRequest) -> StreamHandle {
    let (tx, rx) = mpsc::channel();
    let cancel = CancelToken::default();
    let worker_cancel = cancel.clone();
    std::thread::Builder::new()
        .name("provider".into())
        .spawn(move || {
            let mut emit = |ev: StreamEvent| tx.send(StreamItem::Event(ev)).is_ok();
            let res = provider.stream(&req, &worker_cancel, &mut emit);
            let _ = match res {
                Ok(()) => tx.send(StreamItem::Ended),
                Err(e) => tx.send(StreamItem::Failed(e)),
            };
        })
        .expect("spawning a thread");
    StreamHandle { rx, cancel }
}

/// A finished reply collected without streaming to the terminal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collected {
    /// The full text.
    pub text: String,
    /// Usage, if reported.
    pub usage: Usage,
}

/// Runs `req` to completion within `timeout` (used for titles).
pub fn complete(
    cfg: &ProviderConfig,
    req: ChatRequest,
    timeout: Duration,
) -> Result<Collected, ProviderError> {
    collect(&start(cfg, req), timeout)
}

/// Reads a started request to its end within `timeout`; a reply that ends before its `Done`
/// event is an error ([`StreamHandle::next_event`]).
pub fn collect(handle: &StreamHandle, timeout: Duration) -> Result<Collected, ProviderError> {
    let deadline = std::time::Instant::now() + timeout;
    let mut out = Collected::default();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match handle.next_event(left)? {
            Some(StreamEvent::Delta(d)) => out.text.push_str(&d),
            Some(StreamEvent::Usage(u)) => merge_usage(&mut out.usage, u),
            Some(
                StreamEvent::Model(_)
                | StreamEvent::Session(_)
                | StreamEvent::Tool(_)
                | StreamEvent::Cost(_)
                | StreamEvent::Alive,
            ) => {}
            Some(StreamEvent::Done { .. }) => return Ok(out),
            None => {
                handle.cancel();
                return Err(ProviderError::new(
                    ProviderErrorKind::Io,
                    format!(
                        "no complete reply within {}",
                        humantime::format_duration(timeout)
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::sync::Arc;

    fn request() -> ChatRequest {
        ChatRequest {
            agent: None,
            model: "m".into(),
            system: None,
            history: Some(History::Bytes(Arc::new(
                br#"{"role":"user","content":"earlier"},{"role":"assistant","content":"ok"}"#
                    .to_vec(),
            ))),
            messages: vec![Message {
                role: Role::User,
                content: "why?".into(),
                attachments: vec![
                    Attachment {
                        source: "pane tmux %3, 2 lines".into(),
                        text: "$ make\nerror: x".into(),
                    },
                    Attachment {
                        source: "stdin".into(),
                        text: "piped".into(),
                    },
                ],
            }],
            stream: true,
        }
    }

    fn last_message(body: RequestBody) -> Value {
        let v: Value = serde_json::from_slice(&body.to_vec().unwrap()).unwrap();
        let msgs = v["messages"].as_array().unwrap();
        assert_eq!(msgs[0]["content"], "earlier", "history first");
        msgs.last().unwrap().clone()
    }

    /// A provider that sends `text`, then ends as `end` says.
    struct Cut {
        text: &'static str,
        done: bool,
        panic: bool,
    }

    impl Provider for Cut {
        fn stream(
            &self,
            _req: &ChatRequest,
            _cancel: &CancelToken,
            emit: &mut dyn FnMut(StreamEvent) -> bool,
        ) -> Result<(), ProviderError> {
            emit(StreamEvent::Delta(self.text.into()));
            if self.panic {
                panic!("the worker dies (a test's doing)");
            }
            if self.done {
                emit(StreamEvent::Done {
                    finish_reason: None,
                });
            }
            Ok(())
        }
    }

    #[test]
    fn a_stream_that_ends_before_its_final_event_is_an_interrupted_reply() {
        let run = |done, panic| {
            let cut = Cut {
                text: "half",
                done,
                panic,
            };
            collect(
                &start_with(Box::new(cut), request()),
                Duration::from_secs(10),
            )
        };
        assert_eq!(run(true, false).unwrap().text, "half");
        for panic in [false, true] {
            let e = run(false, panic).unwrap_err();
            assert_eq!(e.message, INTERRUPTED, "panic: {panic}");
            assert_eq!(e.kind, ProviderErrorKind::Protocol);
        }
    }

    #[test]
    fn each_shape_carries_the_attachments() {
        let req = request();
        let head = json!({"model": "m"});
        let parts = last_message(req.body_shaped(&head, true, false, AttachmentShape::TextParts));
        assert_eq!(
            parts,
            json!({"role": "user", "content": [
                {"type": "text", "text": "--- pane tmux %3, 2 lines ---\n$ make\nerror: x\n--- end of pane tmux %3, 2 lines ---"},
                {"type": "text", "text": "--- stdin ---\npiped\n--- end of stdin ---"},
                {"type": "text", "text": "why?"},
            ]})
        );
        let joined = last_message(req.body_shaped(&head, true, false, AttachmentShape::Joined));
        assert_eq!(
            joined,
            json!({"role": "user", "content": "--- pane tmux %3, 2 lines ---\n$ make\nerror: x\n--- end of pane tmux %3, 2 lines ---\n\n--- stdin ---\npiped\n--- end of stdin ---\n\nwhy?"})
        );
        let with_sources =
            last_message(req.body_shaped(&head, true, false, AttachmentShape::JoinedWithSources));
        assert_eq!(with_sources["content"], joined["content"]);
        assert_eq!(
            with_sources["attachments"],
            json!([{"source": "pane tmux %3, 2 lines", "bytes": 15}, {"source": "stdin", "bytes": 5}])
        );
        // Without attachments every shape is the plain string form.
        let mut plain = req.clone();
        plain.messages[0].attachments.clear();
        for shape in [
            AttachmentShape::TextParts,
            AttachmentShape::Joined,
            AttachmentShape::JoinedWithSources,
        ] {
            assert_eq!(
                last_message(plain.body_shaped(&head, true, false, shape)),
                json!({"role": "user", "content": "why?"})
            );
        }
    }
}
