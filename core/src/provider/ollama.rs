//! The `ollama` provider: Ollama's native chat API.
//!
//! Request: `POST {base_url}/api/chat` (a base URL ending in `/api` is not doubled) with
//! `{"model", "messages": [{"role", "content"}…], "stream": true}`; the system prompt is the first
//! message, with role `system`. No key is needed; one is sent as `Authorization: Bearer` when set
//! (for servers behind an authenticating proxy).
//!
//! Stream: NDJSON, one object per line. `message.content` is reply text; the last line has
//! `"done": true` with `prompt_eval_count` (input tokens), `eval_count` (output tokens) and
//! `done_reason`; an `{"error": "…"}` line is a `Stream` error with the server's message. A stream
//! that ends without the `done: true` line is a `Protocol` error.
//!
//! Without streaming the body is one such object with `done: true`.

use serde_json::{json, Value};

use super::http::{self, Decoder, Flow};
use super::sse::NdjsonSplitter;
use super::types::*;

/// The `ollama` provider.
pub struct Ollama {
    cfg: ProviderConfig,
}

impl Ollama {
    /// Builds it.
    pub fn new(cfg: ProviderConfig) -> Self {
        Ollama { cfg }
    }

    /// The endpoint: `{base_url}/api/chat`.
    pub fn url(&self) -> String {
        let base = self.cfg.base_url.trim().trim_end_matches('/');
        if base.ends_with("/api") {
            join_url(base, "chat")
        } else {
            join_url(base, "api/chat")
        }
    }
}

/// The request body.
pub(crate) fn request_body(req: &ChatRequest) -> RequestBody {
    let head = json!({
        "model": req.model,
        "stream": req.stream,
    });
    req.body(&head, true, false)
}

impl Provider for Ollama {
    fn stream(
        &self,
        req: &ChatRequest,
        cancel: &CancelToken,
        emit: &mut dyn FnMut(StreamEvent) -> bool,
    ) -> Result<(), ProviderError> {
        let auth = http::key(&self.cfg).map(|k| format!("Bearer {k}"));
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = auth.as_deref() {
            headers.push(("authorization", a));
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

/// Handles a non-streamed reply: one object that must have `"done": true`.
fn parse_full(
    bytes: &[u8],
    requested_model: &str,
    emit: &mut dyn FnMut(StreamEvent) -> bool,
) -> Result<(), ProviderError> {
    let text = String::from_utf8_lossy(bytes);
    match StreamDecoder::new(requested_model).line(text.trim(), emit)? {
        Flow::Done | Flow::Stop => Ok(()),
        Flow::Continue => Err(ProviderError::new(
            ProviderErrorKind::Protocol,
            format!(
                "the reply is not complete (no \"done\": true): {}",
                http::clean(&text, 200)
            ),
        )),
    }
}

/// Decodes the NDJSON stream (also used for the single non-streamed object).
pub(crate) struct StreamDecoder {
    lines: NdjsonSplitter,
    requested_model: String,
    model_reported: bool,
}

impl StreamDecoder {
    /// A decoder for a request that asked for `model`.
    pub(crate) fn new(model: &str) -> StreamDecoder {
        StreamDecoder {
            lines: NdjsonSplitter::new(),
            requested_model: model.to_owned(),
            model_reported: false,
        }
    }

    fn line(
        &mut self,
        line: &str,
        emit: &mut dyn FnMut(StreamEvent) -> bool,
    ) -> Result<Flow, ProviderError> {
        let v = http::parse_json(line.as_bytes(), "a stream line")?;
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            let message = err
                .as_str()
                .map(str::to_owned)
                .or_else(|| http::error_message(&v))
                .unwrap_or_else(|| err.to_string());
            return Err(ProviderError::new(
                ProviderErrorKind::Stream,
                format!(
                    "the server reported an error: {}",
                    http::clean(&message, 1000)
                ),
            ));
        }
        let mut out = Vec::new();
        if !self.model_reported {
            if let Some(m) = v.get("model").and_then(Value::as_str) {
                if !m.is_empty() {
                    self.model_reported = true;
                    if m != self.requested_model {
                        out.push(StreamEvent::Model(m.to_owned()));
                    }
                }
            }
        }
        if let Some(t) = http::str_at(&v, "/message/content") {
            if !t.is_empty() {
                out.push(StreamEvent::Delta(t.to_owned()));
            }
        }
        let done = v.get("done").and_then(Value::as_bool) == Some(true);
        if done {
            let usage = Usage {
                input_tokens: http::u64_at(&v, "/prompt_eval_count"),
                output_tokens: http::u64_at(&v, "/eval_count"),
            };
            if usage != Usage::default() {
                out.push(StreamEvent::Usage(usage));
            }
            out.push(StreamEvent::Done {
                finish_reason: http::str_at(&v, "/done_reason").map(str::to_owned),
            });
        }
        for ev in out {
            if !emit(ev) {
                return Ok(Flow::Stop);
            }
        }
        Ok(if done { Flow::Done } else { Flow::Continue })
    }
}

impl Decoder for StreamDecoder {
    fn feed(
        &mut self,
        bytes: &[u8],
        emit: &mut dyn FnMut(StreamEvent) -> bool,
    ) -> Result<Flow, ProviderError> {
        let lines = self.lines.feed(bytes).map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::Protocol,
                format!("bad NDJSON stream: {e}"),
            )
        })?;
        for line in lines {
            match self.line(&line, emit)? {
                Flow::Continue => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Continue)
    }

    fn finish(&mut self, emit: &mut dyn FnMut(StreamEvent) -> bool) -> Result<Flow, ProviderError> {
        match self.lines.finish() {
            Some(line) => self.line(&line, emit),
            None => Ok(Flow::Continue),
        }
    }
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

    /// The streaming example from Ollama's API documentation (`POST /api/chat`).
    const SAMPLE: &str = r#"{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":"The","images":null},"done":false}
{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":" sky"},"done":false}
{"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":282,"eval_duration":4535599000}
"#;

    fn expected() -> Vec<StreamEvent> {
        vec![
            StreamEvent::Delta("The".into()),
            StreamEvent::Delta(" sky".into()),
            StreamEvent::Usage(Usage {
                input_tokens: Some(26),
                output_tokens: Some(282),
            }),
            StreamEvent::Done {
                finish_reason: Some("stop".into()),
            },
        ]
    }

    #[test]
    fn sample_stream() {
        let (ev, res) = decode_chunks(&mut StreamDecoder::new("llama3.2"), &[SAMPLE.as_bytes()]);
        res.unwrap();
        assert_eq!(ev, expected());
        let bytes: Vec<&[u8]> = SAMPLE.as_bytes().chunks(1).collect();
        let (ev, res) = decode_chunks(&mut StreamDecoder::new("llama3.2"), &bytes);
        res.unwrap();
        assert_eq!(ev, expected());
        // Without the final newline, and with a different model.
        let (ev, res) = decode_chunks(
            &mut StreamDecoder::new("llama3"),
            &[SAMPLE.trim_end().as_bytes()],
        );
        res.unwrap();
        assert_eq!(ev[0], StreamEvent::Model("llama3.2".into()));
        assert_eq!(&ev[1..], &expected()[..]);
    }

    #[test]
    fn error_line() {
        let s = "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"done\":false}\n{\"error\":\"an error was encountered while running the model: unexpected EOF\"}\n";
        let (ev, res) = decode_chunks(&mut StreamDecoder::new("m"), &[s.as_bytes()]);
        assert_eq!(ev, vec![StreamEvent::Delta("Hi".into())]);
        let err = res.unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Stream);
        assert!(err.message.contains("unexpected EOF"), "{}", err.message);
    }

    #[test]
    fn ends_without_done_is_incomplete() {
        let first = SAMPLE.lines().next().unwrap();
        let (_, res) = decode_chunks(&mut StreamDecoder::new("m"), &[first.as_bytes()]);
        let err = res.unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Protocol);
        assert!(err
            .message
            .contains("stream ended before the reply was complete"));
        // A line cut in the middle is not JSON.
        let (_, res) = decode_chunks(&mut StreamDecoder::new("m"), &[&SAMPLE.as_bytes()[..40]]);
        assert_eq!(res.unwrap_err().kind, ProviderErrorKind::Protocol);
    }

    #[test]
    fn url_and_body() {
        let mk = |base: &str| {
            Ollama::new(ProviderConfig {
                agent: Default::default(),
                kind: ProviderKind::Ollama,
                base_url: base.into(),
                model: "m".into(),
                api_key: None,
                api_key_env: "OLLAMA_API_KEY".into(),
                command: vec![],
                connect_timeout: Duration::from_secs(5),
                max_tokens: 0,
            })
            .url()
        };
        assert_eq!(
            mk("http://127.0.0.1:11434"),
            "http://127.0.0.1:11434/api/chat"
        );
        assert_eq!(
            mk("http://127.0.0.1:11434/"),
            "http://127.0.0.1:11434/api/chat"
        );
        assert_eq!(
            mk("http://127.0.0.1:11434/api"),
            "http://127.0.0.1:11434/api/chat"
        );
        let req = ChatRequest {
            agent: None,
            history: None,
            model: "m".into(),
            system: Some("s".into()),
            messages: vec![Message {
                role: Role::User,
                content: "q".into(),
                attachments: Vec::new(),
            }],
            stream: false,
        };
        assert_eq!(
            serde_json::from_slice::<Value>(&request_body(&req).to_vec().unwrap()).unwrap(),
            json!({"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":"q"}],"stream":false})
        );
    }
}
