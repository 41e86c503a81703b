//! The `anthropic` provider: the Messages API.
//!
//! Request: `POST {base_url}/v1/messages` (the default base URL is `https://api.anthropic.com`;
//! a base URL that already ends with `/v1` is not doubled) with headers `x-api-key`,
//! `anthropic-version: 2023-06-01` and the body
//! `{"model", "max_tokens", "system"?, "messages": [{"role", "content"}…], "stream": true}`.
//! The system prompt goes in the top-level `system` field; `system`-role messages in the
//! transcript (which the API does not accept in `messages`) are appended to it. `max_tokens` is
//! `ProviderConfig::max_tokens` (4096 when that is 0). A key is always required (`MissingKey`
//! otherwise).
//!
//! Stream: SSE with `event:` names. `message_start` carries the model and the input tokens
//! (`input_tokens` plus any cache read/creation tokens); `content_block_delta` with
//! `delta.type == "text_delta"` is reply text (thinking, signature and tool-input deltas are
//! ignored); `message_delta` carries `stop_reason` and the output tokens; `message_stop` ends the
//! reply; `ping` and unknown events are ignored; an `error` event
//! (`{"type":"error","error":{"type","message"}}`) is a `Stream` error with the server's message.
//! A stream that ends without `message_stop` is a `Protocol` error.
//!
//! Without streaming the body is one message object: the `text` of its `content` blocks, joined,
//! and its `usage`.

use serde_json::{json, Value};

use super::http::{self, Decoder, Flow};
use super::sse::SseParser;
use super::types::*;

/// The API version sent in `anthropic-version`.
pub const API_VERSION: &str = "2023-06-01";

/// The `anthropic` provider.
pub struct Anthropic {
    cfg: ProviderConfig,
}

impl Anthropic {
    /// Builds it.
    pub fn new(cfg: ProviderConfig) -> Self {
        Anthropic { cfg }
    }

    /// The endpoint: `{base_url}/v1/messages`, or `{base_url}/messages` when the base URL
    /// already ends with `/v1`.
    pub fn url(&self) -> String {
        let base = self.cfg.base_url.trim().trim_end_matches('/');
        if base.ends_with("/v1") {
            join_url(base, "messages")
        } else {
            join_url(base, "v1/messages")
        }
    }
}

/// The request body.
pub(crate) fn request_body(req: &ChatRequest, max_tokens: u32) -> RequestBody {
    let mut system: Vec<&str> = Vec::new();
    if let Some(s) = req.system.as_deref().filter(|s| !s.is_empty()) {
        system.push(s);
    }
    for m in &req.messages {
        if m.role == Role::System {
            system.push(&m.content);
        }
    }
    let mut head = json!({
        "model": req.model,
        "max_tokens": max_tokens,
        "stream": req.stream,
    });
    if !system.is_empty() {
        head["system"] = json!(system.join("\n\n"));
    }
    req.body_shaped(&head, false, true, AttachmentShape::TextParts)
}

impl Provider for Anthropic {
    fn stream(
        &self,
        req: &ChatRequest,
        cancel: &CancelToken,
        emit: &mut dyn FnMut(StreamEvent) -> bool,
    ) -> Result<(), ProviderError> {
        let Some(key) = http::key(&self.cfg) else {
            return Err(http::missing_key(&self.cfg, "the Anthropic API"));
        };
        let mut headers = vec![("x-api-key", key), ("anthropic-version", API_VERSION)];
        if req.stream {
            headers.push(("accept", "text/event-stream"));
        }
        let max_tokens = if self.cfg.max_tokens == 0 {
            4096
        } else {
            self.cfg.max_tokens
        };
        let url = self.url();
        let body = http::post_json(
            &self.cfg,
            &url,
            &headers,
            request_body(req, max_tokens),
            http::error_message,
        )?;
        if req.stream {
            let mut decoder = StreamDecoder::new(&req.model);
            http::drive(body, cancel, &mut decoder, emit)
        } else {
            let bytes = http::read_all(body)?;
            parse_full(&bytes, &req.model, emit)
        }
    }
}

/// Decodes the event stream.
pub(crate) struct StreamDecoder {
    sse: SseParser,
    requested_model: String,
    stop_reason: Option<String>,
}

impl StreamDecoder {
    /// A decoder for a request that asked for `model`.
    pub(crate) fn new(model: &str) -> StreamDecoder {
        StreamDecoder {
            sse: SseParser::new(),
            requested_model: model.to_owned(),
            stop_reason: None,
        }
    }

    fn event(
        &mut self,
        name: Option<&str>,
        data: &str,
        emit: &mut dyn FnMut(StreamEvent) -> bool,
    ) -> Result<Flow, ProviderError> {
        if data.trim().is_empty() {
            return Ok(Flow::Continue);
        }
        let v = http::parse_json(data.as_bytes(), "a stream event")?;
        // The `event:` name and the data's `type` agree; either may be missing.
        let kind = name
            .filter(|n| !n.is_empty())
            .or_else(|| v.get("type").and_then(Value::as_str))
            .unwrap_or("");
        let mut out = Vec::new();
        match kind {
            "message_start" => {
                if let Some(m) = http::str_at(&v, "/message/model") {
                    if !m.is_empty() && m != self.requested_model {
                        out.push(StreamEvent::Model(m.to_owned()));
                    }
                }
                if let Some(u) = v.pointer("/message/usage") {
                    out.extend(usage_event(u));
                }
            }
            // A text block may start with text already in it (normally empty).
            "content_block_start" => out.extend(text_event(
                &v,
                "/content_block/type",
                "text",
                "/content_block/text",
            )),
            "content_block_delta" => {
                out.extend(text_event(&v, "/delta/type", "text_delta", "/delta/text"))
            }
            "message_delta" => {
                if let Some(r) = http::str_at(&v, "/delta/stop_reason") {
                    self.stop_reason = Some(r.to_owned());
                }
                if let Some(u) = v.get("usage") {
                    out.extend(usage_event(u));
                }
            }
            "message_stop" => {
                let finish_reason = self.stop_reason.take();
                return Ok(if emit(StreamEvent::Done { finish_reason }) {
                    Flow::Done
                } else {
                    Flow::Stop
                });
            }
            "error" => return Err(stream_error(&v)),
            // ping, content_block_stop and anything new
            _ => {}
        }
        for ev in out {
            if !emit(ev) {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }
}

/// The text at `text_ptr` as a `Delta`, when the string at `type_ptr` is `ty` and the text is
/// not empty.
fn text_event(v: &Value, type_ptr: &str, ty: &str, text_ptr: &str) -> Option<StreamEvent> {
    if http::str_at(v, type_ptr) != Some(ty) {
        return None;
    }
    http::str_at(v, text_ptr)
        .filter(|t| !t.is_empty())
        .map(|t| StreamEvent::Delta(t.to_owned()))
}

/// A usage object as an event: input = `input_tokens` + cache creation + cache read tokens.
fn usage_event(u: &Value) -> Option<StreamEvent> {
    let base = http::u64_at(u, "/input_tokens");
    // Saturating: absurd counts from a server must not overflow (a panic in debug builds).
    let cached = ["/cache_creation_input_tokens", "/cache_read_input_tokens"]
        .iter()
        .filter_map(|p| http::u64_at(u, p))
        .fold(0u64, u64::saturating_add);
    let usage = Usage {
        input_tokens: base.map(|b| b.saturating_add(cached)),
        output_tokens: http::u64_at(u, "/output_tokens"),
    };
    (usage != Usage::default()).then_some(StreamEvent::Usage(usage))
}

/// The error for an `error` event (or an error object on HTTP 200).
fn stream_error(v: &Value) -> ProviderError {
    let message = http::str_at(v, "/error/message")
        .map(|m| http::clean(m, 1000))
        .unwrap_or_else(|| http::clean(&v.to_string(), 200));
    let message = match http::str_at(v, "/error/type") {
        Some(t) => format!(
            "the server reported an error: {message} ({})",
            http::clean(t, 100)
        ),
        None => format!("the server reported an error: {message}"),
    };
    ProviderError::new(ProviderErrorKind::Stream, message)
}

impl Decoder for StreamDecoder {
    fn feed(
        &mut self,
        bytes: &[u8],
        emit: &mut dyn FnMut(StreamEvent) -> bool,
    ) -> Result<Flow, ProviderError> {
        let events = self.sse.feed(bytes).map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::Protocol,
                format!("bad event stream: {e}"),
            )
        })?;
        for ev in events {
            match self.event(ev.event.as_deref(), &ev.data, emit)? {
                Flow::Continue => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Continue)
    }

    fn finish(&mut self, emit: &mut dyn FnMut(StreamEvent) -> bool) -> Result<Flow, ProviderError> {
        match self.sse.finish() {
            Some(ev) => self.event(ev.event.as_deref(), &ev.data, emit),
            None => Ok(Flow::Continue),
        }
    }
}

/// Handles a non-streamed reply.
fn parse_full(
    bytes: &[u8],
    requested_model: &str,
    emit: &mut dyn FnMut(StreamEvent) -> bool,
) -> Result<(), ProviderError> {
    let v = http::parse_json(bytes, "a reply")?;
    if v.get("type").and_then(Value::as_str) == Some("error") || v.get("error").is_some() {
        return Err(stream_error(&v));
    }
    let Some(content) = v.get("content").and_then(Value::as_array) else {
        return Err(ProviderError::new(
            ProviderErrorKind::Protocol,
            format!(
                "the reply has no content: {}",
                http::clean(&String::from_utf8_lossy(bytes), 200)
            ),
        ));
    };
    let text: String = content
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let mut out = Vec::new();
    if let Some(m) = v.get("model").and_then(Value::as_str) {
        if !m.is_empty() && m != requested_model {
            out.push(StreamEvent::Model(m.to_owned()));
        }
    }
    if !text.is_empty() {
        out.push(StreamEvent::Delta(text));
    }
    if let Some(u) = v.get("usage") {
        out.extend(usage_event(u));
    }
    out.push(StreamEvent::Done {
        finish_reason: v
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(str::to_owned),
    });
    for ev in out {
        if !emit(ev) {
            break;
        }
    }
    Ok(())
}

/// Decodes a whole streamed body, given as `chunks` split anywhere, exactly as a live response
/// to a request for `model` is decoded: the events emitted and how the stream ended (a body that
/// stops before its terminal event is a `Protocol` error). Pure; for fuzzing and tests, not a
/// stable API.
#[doc(hidden)]
pub fn decode_stream(
    model: &str,
    chunks: &[&[u8]],
) -> (Vec<StreamEvent>, Result<(), ProviderError>) {
    http::decode_chunks(&mut StreamDecoder::new(model), chunks)
}

/// Decodes a whole non-streamed reply body to a request for `model`: the events emitted and the
/// result. Pure; for fuzzing and tests, not a stable API.
#[doc(hidden)]
pub fn decode_full(model: &str, body: &[u8]) -> (Vec<StreamEvent>, Result<(), ProviderError>) {
    let mut events = Vec::new();
    let res = parse_full(body, model, &mut |ev| {
        events.push(ev);
        true
    });
    (events, res)
}

#[cfg(test)]
mod tests {
    use super::super::http::decode_chunks;
    use super::*;
    use std::time::Duration;

    /// The basic streaming example from Anthropic's documentation ("Streaming Messages").
    const SAMPLE: &str = r#"event: message_start
data: {"type": "message_start", "message": {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant", "content": [], "model": "claude-opus-4-1-20250805", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "output_tokens": 1}}}

event: content_block_start
data: {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}

event: content_block_stop
data: {"type": "content_block_stop", "index": 0}

event: message_delta
data: {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence":null}, "usage": {"output_tokens": 15}}

event: message_stop
data: {"type": "message_stop"}

"#;

    fn expected() -> Vec<StreamEvent> {
        vec![
            StreamEvent::Usage(Usage {
                input_tokens: Some(25),
                output_tokens: Some(1),
            }),
            StreamEvent::Delta("Hello".into()),
            StreamEvent::Delta("!".into()),
            StreamEvent::Usage(Usage {
                input_tokens: None,
                output_tokens: Some(15),
            }),
            StreamEvent::Done {
                finish_reason: Some("end_turn".into()),
            },
        ]
    }

    #[test]
    fn sample_stream() {
        let model = "claude-opus-4-1-20250805";
        let (ev, res) = decode_chunks(&mut StreamDecoder::new(model), &[SAMPLE.as_bytes()]);
        res.unwrap();
        assert_eq!(ev, expected());
        let bytes: Vec<&[u8]> = SAMPLE.as_bytes().chunks(1).collect();
        let (ev, res) = decode_chunks(&mut StreamDecoder::new(model), &bytes);
        res.unwrap();
        assert_eq!(ev, expected());
        let crlf = SAMPLE.replace('\n', "\r\n");
        let bytes: Vec<&[u8]> = crlf.as_bytes().chunks(5).collect();
        let (ev, res) = decode_chunks(&mut StreamDecoder::new(model), &bytes);
        res.unwrap();
        assert_eq!(ev, expected());
        let (ev, _) = decode_chunks(
            &mut StreamDecoder::new("claude-opus-4-1"),
            &[SAMPLE.as_bytes()],
        );
        assert_eq!(ev[0], StreamEvent::Model(model.into()));
    }

    /// Extended thinking and tool use (from the same documentation page): only text counts.
    #[test]
    fn thinking_and_tool_deltas_are_ignored() {
        let s = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],"model":"m","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":7,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me solve this step by step"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"27 * 453 = 12231"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"location\": \"San Fra"}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: some_future_event
data: {"type":"some_future_event","x":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}

"#;
        let (ev, res) = decode_chunks(&mut StreamDecoder::new("m"), &[s.as_bytes()]);
        res.unwrap();
        assert_eq!(
            ev,
            vec![
                StreamEvent::Usage(Usage {
                    input_tokens: Some(22),
                    output_tokens: Some(1)
                }),
                StreamEvent::Delta("27 * 453 = 12231".into()),
                StreamEvent::Usage(Usage {
                    input_tokens: None,
                    output_tokens: Some(89)
                }),
                StreamEvent::Done {
                    finish_reason: Some("tool_use".into())
                },
            ]
        );
    }

    #[test]
    fn error_event() {
        let s = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n\
                 event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n";
        let (ev, res) = decode_chunks(&mut StreamDecoder::new("m"), &[s.as_bytes()]);
        assert_eq!(ev, vec![StreamEvent::Delta("Hi".into())]);
        let err = res.unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Stream);
        assert!(err.message.contains("Overloaded"), "{}", err.message);
        assert!(err.message.contains("overloaded_error"), "{}", err.message);
    }

    #[test]
    fn huge_token_counts_saturate() {
        // Found while writing the `provider_streams` fuzz target: the sum overflowed.
        let s = "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":18446744073709551615,\"cache_creation_input_tokens\":18446744073709551615,\"cache_read_input_tokens\":1}}}\n\n";
        let (ev, _) = decode_chunks(&mut StreamDecoder::new("m"), &[s.as_bytes()]);
        assert_eq!(
            ev,
            vec![StreamEvent::Usage(Usage {
                input_tokens: Some(u64::MAX),
                output_tokens: None
            })]
        );
    }

    #[test]
    fn events_without_names_use_the_data_type() {
        let s = "data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\ndata: {\"type\":\"message_stop\"}\n\n";
        let (ev, res) = decode_chunks(&mut StreamDecoder::new("m"), &[s.as_bytes()]);
        res.unwrap();
        assert_eq!(ev.len(), 2);
    }

    #[test]
    fn ends_without_message_stop_is_incomplete() {
        let cut = &SAMPLE[..SAMPLE.find("event: message_stop").unwrap()];
        let (_, res) = decode_chunks(&mut StreamDecoder::new("m"), &[cut.as_bytes()]);
        let err = res.unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Protocol);
        assert!(err
            .message
            .contains("stream ended before the reply was complete"));
    }

    #[test]
    fn full_reply() {
        let body = r#"{"content":[{"text":"Hi! My name is Claude.","type":"text"},{"type":"text","text":" Bye."}],"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","model":"claude-opus-4-1-20250805","role":"assistant","stop_reason":"end_turn","stop_sequence":null,"type":"message","usage":{"input_tokens":2095,"output_tokens":503}}"#;
        let mut ev = Vec::new();
        parse_full(body.as_bytes(), "claude-opus-4-1-20250805", &mut |e| {
            ev.push(e);
            true
        })
        .unwrap();
        assert_eq!(
            ev,
            vec![
                StreamEvent::Delta("Hi! My name is Claude. Bye.".into()),
                StreamEvent::Usage(Usage {
                    input_tokens: Some(2095),
                    output_tokens: Some(503)
                }),
                StreamEvent::Done {
                    finish_reason: Some("end_turn".into())
                }
            ]
        );
    }

    #[test]
    fn url_and_body() {
        let mk = |base: &str| {
            Anthropic::new(ProviderConfig {
                agent: Default::default(),
                kind: ProviderKind::Anthropic,
                base_url: base.into(),
                model: "m".into(),
                api_key: None,
                api_key_env: "ANTHROPIC_API_KEY".into(),
                command: vec![],
                connect_timeout: Duration::from_secs(5),
                max_tokens: 1024,
            })
            .url()
        };
        assert_eq!(
            mk("https://api.anthropic.com"),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(
            mk("https://api.anthropic.com/"),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(
            mk("https://api.anthropic.com/v1"),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(mk("http://h:1/v1/"), "http://h:1/v1/messages");

        let req = ChatRequest {
            agent: None,
            history: None,
            model: "m".into(),
            system: Some("sys".into()),
            messages: vec![
                Message {
                    role: Role::System,
                    content: "more".into(),
                    attachments: Vec::new(),
                },
                Message {
                    role: Role::User,
                    content: "q".into(),
                    attachments: Vec::new(),
                },
            ],
            stream: true,
        };
        let b: Value = serde_json::from_slice(&request_body(&req, 1024).to_vec().unwrap()).unwrap();
        assert_eq!(b["system"], json!("sys\n\nmore"));
        assert_eq!(b["messages"], json!([{"role":"user","content":"q"}]));
        assert_eq!(b["max_tokens"], json!(1024));
        let req = ChatRequest {
            history: None,
            system: None,
            messages: vec![],
            ..req
        };
        assert!(
            serde_json::from_slice::<Value>(&request_body(&req, 1).to_vec().unwrap())
                .unwrap()
                .get("system")
                .is_none()
        );
    }
}
