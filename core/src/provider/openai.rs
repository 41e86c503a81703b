//! The `openai` provider: the Chat Completions API, which OpenAI, Ollama's `/v1`, llama.cpp
//! server, vLLM, LM Studio, OpenRouter and others all speak.
//!
//! Request: `POST {base_url}/chat/completions` with
//! `{"model", "messages": [{"role", "content"}…], "stream": true,
//! "stream_options": {"include_usage": true}}`; the system prompt is the first message, with
//! role `system`. `Authorization: Bearer <key>` is sent when a key is set (local servers need
//! none; the official `api.openai.com` does, so a missing key there is a `MissingKey` error).
//!
//! Stream: SSE `data:` chunks. `choices[0].delta.content` (and `delta.refusal`) is reply text;
//! `choices[0].finish_reason` is remembered; `usage.prompt_tokens` / `completion_tokens` (the
//! last chunk, with empty `choices`) is usage; `model` is reported once if it differs from the
//! requested one; `data: [DONE]` ends the reply. An `{"error": {"message": …}}` object inside the
//! stream (on HTTP 200) is a `Stream` error carrying the server's message. A stream that ends
//! without `[DONE]` is a `Protocol` error.
//!
//! Without streaming (`ChatRequest::stream == false`) the body is one JSON object:
//! `choices[0].message.content`, `usage`, `finish_reason`.

use serde_json::{json, Value};

use super::http::{self, Decoder, Flow};
use super::sse::SseParser;
use super::types::*;

/// The `openai` provider.
pub struct OpenAi {
    cfg: ProviderConfig,
}

impl OpenAi {
    /// Builds it.
    pub fn new(cfg: ProviderConfig) -> Self {
        OpenAi { cfg }
    }

    /// The endpoint: `{base_url}/chat/completions`.
    pub fn url(&self) -> String {
        join_url(&self.cfg.base_url, "chat/completions")
    }
}

/// Whether `base_url` is the official OpenAI API (which requires a key).
pub(crate) fn is_official(base_url: &str) -> bool {
    let rest = base_url
        .trim()
        .strip_prefix("https://")
        .or_else(|| base_url.trim().strip_prefix("http://"))
        .unwrap_or(base_url);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = host.split(':').next().unwrap_or(host);
    host.eq_ignore_ascii_case("api.openai.com")
}

/// The request body.
pub(crate) fn request_body(req: &ChatRequest) -> RequestBody {
    let mut head = json!({
        "model": req.model,
        "stream": req.stream,
    });
    if req.stream {
        head["stream_options"] = json!({"include_usage": true});
    }
    req.body_shaped(&head, true, false, AttachmentShape::TextParts)
}

impl Provider for OpenAi {
    fn stream(
        &self,
        req: &ChatRequest,
        cancel: &CancelToken,
        emit: &mut dyn FnMut(StreamEvent) -> bool,
    ) -> Result<(), ProviderError> {
        let key = http::key(&self.cfg);
        if key.is_none() && is_official(&self.cfg.base_url) {
            return Err(http::missing_key(&self.cfg, "the OpenAI API"));
        }
        let auth = key.map(|k| format!("Bearer {k}"));
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = auth.as_deref() {
            headers.push(("authorization", a));
        }
        if req.stream {
            headers.push(("accept", "text/event-stream"));
        }
        let url = self.url();
        let body = http::post_json(
            &self.cfg,
            &url,
            &headers,
            request_body(req),
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

/// Decodes the SSE stream.
pub(crate) struct StreamDecoder {
    sse: SseParser,
    requested_model: String,
    model_reported: bool,
    finish_reason: Option<String>,
}

impl StreamDecoder {
    /// A decoder for a request that asked for `model`.
    pub(crate) fn new(model: &str) -> StreamDecoder {
        StreamDecoder {
            sse: SseParser::new(),
            requested_model: model.to_owned(),
            model_reported: false,
            finish_reason: None,
        }
    }

    fn event(
        &mut self,
        data: &str,
        emit: &mut dyn FnMut(StreamEvent) -> bool,
    ) -> Result<Flow, ProviderError> {
        let data = data.trim();
        if data.is_empty() {
            return Ok(Flow::Continue);
        }
        if data == "[DONE]" {
            let finish_reason = self.finish_reason.take();
            return Ok(if emit(StreamEvent::Done { finish_reason }) {
                Flow::Done
            } else {
                Flow::Stop
            });
        }
        let v = http::parse_json(data.as_bytes(), "a stream chunk")?;
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            return Err(stream_error(err));
        }
        for ev in chunk_events(
            &v,
            &self.requested_model,
            &mut self.model_reported,
            &mut self.finish_reason,
            "delta",
        ) {
            if !emit(ev) {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }
}

/// The error for an `error` object received with HTTP 200.
fn stream_error(err: &Value) -> ProviderError {
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| err.as_str())
        .map(|m| http::clean(m, 1000))
        .unwrap_or_else(|| http::clean(&err.to_string(), 200));
    ProviderError::new(
        ProviderErrorKind::Stream,
        format!("the server reported an error: {message}"),
    )
}

/// The events in one chunk (streamed, `field` = `delta`) or one full reply (`message`).
fn chunk_events(
    v: &Value,
    requested_model: &str,
    model_reported: &mut bool,
    finish_reason: &mut Option<String>,
    field: &str,
) -> Vec<StreamEvent> {
    let mut out = Vec::new();
    if !*model_reported {
        if let Some(m) = v.get("model").and_then(Value::as_str) {
            if !m.is_empty() {
                *model_reported = true;
                if m != requested_model {
                    out.push(StreamEvent::Model(m.to_owned()));
                }
            }
        }
    }
    if let Some(choice) = v.get("choices").and_then(|c| c.get(0)) {
        if let Some(msg) = choice.get(field) {
            for key in ["content", "refusal"] {
                if let Some(text) = msg.get(key).and_then(Value::as_str) {
                    if !text.is_empty() {
                        out.push(StreamEvent::Delta(text.to_owned()));
                    }
                }
            }
        }
        if let Some(r) = choice.get("finish_reason").and_then(Value::as_str) {
            *finish_reason = Some(r.to_owned());
        }
    }
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        let usage = Usage {
            input_tokens: http::u64_at(u, "/prompt_tokens"),
            output_tokens: http::u64_at(u, "/completion_tokens"),
        };
        if usage != Usage::default() {
            out.push(StreamEvent::Usage(usage));
        }
    }
    out
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
            match self.event(&ev.data, emit)? {
                Flow::Continue => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Continue)
    }

    fn finish(&mut self, emit: &mut dyn FnMut(StreamEvent) -> bool) -> Result<Flow, ProviderError> {
        match self.sse.finish() {
            Some(ev) => self.event(&ev.data, emit),
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
    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
        return Err(stream_error(err));
    }
    if v.get("choices").and_then(|c| c.get(0)).is_none() {
        return Err(ProviderError::new(
            ProviderErrorKind::Protocol,
            format!(
                "the reply has no choices: {}",
                http::clean(&String::from_utf8_lossy(bytes), 200)
            ),
        ));
    }
    let mut reported = false;
    let mut finish_reason = None;
    for ev in chunk_events(
        &v,
        requested_model,
        &mut reported,
        &mut finish_reason,
        "message",
    ) {
        if !emit(ev) {
            return Ok(());
        }
    }
    emit(StreamEvent::Done { finish_reason });
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

    /// The example stream from OpenAI's API reference (chat completion chunk objects), with the
    /// usage chunk that `stream_options.include_usage` adds.
    const SAMPLE: &str = r#"data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}

data: [DONE]

"#;

    fn expected() -> Vec<StreamEvent> {
        vec![
            StreamEvent::Delta("Hello".into()),
            StreamEvent::Delta(" world".into()),
            StreamEvent::Usage(Usage {
                input_tokens: Some(9),
                output_tokens: Some(2),
            }),
            StreamEvent::Done {
                finish_reason: Some("stop".into()),
            },
        ]
    }

    #[test]
    fn sample_stream_whole_and_byte_by_byte() {
        let (ev, res) = decode_chunks(&mut StreamDecoder::new("gpt-4o-mini"), &[SAMPLE.as_bytes()]);
        res.unwrap();
        assert_eq!(ev, expected());

        let bytes: Vec<&[u8]> = SAMPLE.as_bytes().chunks(1).collect();
        let (ev, res) = decode_chunks(&mut StreamDecoder::new("gpt-4o-mini"), &bytes);
        res.unwrap();
        assert_eq!(ev, expected());

        let crlf = SAMPLE.replace('\n', "\r\n");
        let bytes: Vec<&[u8]> = crlf.as_bytes().chunks(7).collect();
        let (ev, res) = decode_chunks(&mut StreamDecoder::new("gpt-4o-mini"), &bytes);
        res.unwrap();
        assert_eq!(ev, expected());
    }

    #[test]
    fn reports_a_different_model_once() {
        let (ev, res) = decode_chunks(&mut StreamDecoder::new("gpt-4o"), &[SAMPLE.as_bytes()]);
        res.unwrap();
        assert_eq!(ev[0], StreamEvent::Model("gpt-4o-mini".into()));
        assert_eq!(&ev[1..], &expected()[..]);
    }

    #[test]
    fn error_object_mid_stream() {
        let s = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n\
                 data: {\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n";
        let (ev, res) = decode_chunks(&mut StreamDecoder::new("m"), &[s.as_bytes()]);
        assert_eq!(ev, vec![StreamEvent::Delta("Hi".into())]);
        let err = res.unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Stream);
        assert!(
            err.message.contains("The server had an error"),
            "{}",
            err.message
        );
    }

    #[test]
    fn ends_without_done_is_incomplete() {
        let s = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n";
        let (ev, res) = decode_chunks(&mut StreamDecoder::new("m"), &[s.as_bytes()]);
        assert_eq!(ev, vec![StreamEvent::Delta("Hi".into())]);
        let err = res.unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Protocol);
        assert!(err
            .message
            .contains("stream ended before the reply was complete"));
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        let (_, res) = decode_chunks(&mut StreamDecoder::new("m"), &[b"data: {nope\n\n"]);
        assert_eq!(res.unwrap_err().kind, ProviderErrorKind::Protocol);
    }

    #[test]
    fn comments_keepalives_and_done_without_blank_line() {
        // OpenRouter sends `: OPENROUTER PROCESSING` comments; some servers omit the final blank.
        let s = ": OPENROUTER PROCESSING\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\ndata: [DONE]";
        let (ev, res) = decode_chunks(&mut StreamDecoder::new("m"), &[s.as_bytes()]);
        res.unwrap();
        assert_eq!(
            ev,
            vec![
                StreamEvent::Delta("ok".into()),
                StreamEvent::Done {
                    finish_reason: None
                }
            ]
        );
    }

    #[test]
    fn full_reply() {
        // From OpenAI's API reference (chat completion object).
        let body = r#"{"id":"chatcmpl-123","object":"chat.completion","created":1677652288,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, how may I assist you today?"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}"#;
        let mut ev = Vec::new();
        parse_full(body.as_bytes(), "gpt-4o-mini", &mut |e| {
            ev.push(e);
            true
        })
        .unwrap();
        assert_eq!(
            ev,
            vec![
                StreamEvent::Delta("Hello there, how may I assist you today?".into()),
                StreamEvent::Usage(Usage {
                    input_tokens: Some(9),
                    output_tokens: Some(12)
                }),
                StreamEvent::Done {
                    finish_reason: Some("stop".into())
                }
            ]
        );
        let err = parse_full(br#"{"error":{"message":"nope"}}"#, "m", &mut |_| true).unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Stream);
    }

    #[test]
    fn body_and_official_host() {
        let req = ChatRequest {
            agent: None,
            history: None,
            model: "m".into(),
            system: Some("be brief".into()),
            messages: vec![
                Message {
                    role: Role::User,
                    content: "a".into(),
                    attachments: Vec::new(),
                },
                Message {
                    role: Role::Assistant,
                    content: "b".into(),
                    attachments: Vec::new(),
                },
            ],
            stream: true,
        };
        let b: Value = serde_json::from_slice(&request_body(&req).to_vec().unwrap()).unwrap();
        assert_eq!(
            b["messages"][0],
            json!({"role":"system","content":"be brief"})
        );
        assert_eq!(b["messages"][2], json!({"role":"assistant","content":"b"}));
        assert_eq!(b["stream_options"], json!({"include_usage": true}));
        assert!(is_official("https://api.openai.com/v1"));
        assert!(is_official("https://API.openai.com:443/v1/"));
        assert!(!is_official("http://127.0.0.1:11434/v1"));
        assert!(!is_official("https://openrouter.ai/api/v1"));
    }
}
