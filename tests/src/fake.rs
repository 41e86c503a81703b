//! A fake LLM provider: a small HTTP/1.1 server that speaks the real wire formats of the OpenAI
//! Chat Completions API, the Anthropic Messages API and Ollama's `/api/chat`, so that the
//! `panechat` binary and library can be tested end to end without a network.
//!
//! ```no_run
//! use panechat_e2e::fake::FakeProvider;
//! let fake = FakeProvider::start();
//! let base = fake.base_url_openai(); // http://127.0.0.1:PORT/v1
//! // … run panechat against it …
//! let reqs = fake.requests();        // every request, with its parsed JSON body
//! let t = reqs[0].first_byte_at;     // and when it arrived (an `Instant`)
//! drop(fake);                        // stops the server and releases stalled connections
//! ```
//!
//! # Routes
//!
//! | path | format |
//! |---|---|
//! | `POST /v1/chat/completions`, `POST /chat/completions` | OpenAI (SSE `data:` chunks, usage chunk with empty `choices` when `stream_options.include_usage`, `data: [DONE]`) |
//! | `POST /v1/messages` | Anthropic (`message_start`, `content_block_start`, `ping`, `content_block_delta`…, `content_block_stop`, `message_delta`, `message_stop`) |
//! | `POST /api/chat` | Ollama (NDJSON; last line `done: true` with `prompt_eval_count`, `eval_count`) |
//! | `POST /v1/responses`, `POST /responses` | OpenAI Responses API, as Codex speaks it (`response.created`, `response.output_item.added`, `response.output_text.delta`…, `response.output_item.done`, `response.completed` with usage; `response.failed` mid-stream) |
//! | `HEAD /` (any path) | 200, no body (Claude Code's connectivity check) |
//!
//! A query string is ignored (Claude Code posts to `/v1/messages?beta=true`). The
//! `<system-reminder>` blocks Claude Code adds to a user message are not part of its text.
//!
//! Streams are sent with `Transfer-Encoding: chunked`, one HTTP chunk per event, flushed, and
//! `Connection: close`. `"stream": false` gets the format's single JSON object (Ollama streams
//! unless `stream` is `false`, as the real server does).
//!
//! # Replies and directives
//!
//! By default the reply is `echo: <last user message>` (verbatim, directives included), split
//! into several small chunks, with usage: input tokens = the number of whitespace-separated words
//! in the system prompt and all messages, output tokens = the number of words in the reply
//! ([`word_count`]).
//!
//! Directives in the **last user message** choose the behaviour (so concurrent clients can each
//! pick their own):
//!
//! | directive | effect |
//! |---|---|
//! | `[[slow:MS]]` | wait MS milliseconds between the parts of the stream |
//! | `[[chunks:N]]` | send the reply text in N content chunks (empty chunks when N exceeds its length) |
//! | `[[gate:NAME]]` | after the first content chunk, wait until the test calls `open_gate(NAME)` |
//! | `[[stall]]` | send the headers, the preamble and the first content chunk, then go silent (the socket stays open until the server is dropped, or about 60 s) |
//! | `[[error-mid]]` | two content chunks, then the format's mid-stream error (OpenAI: `data: {"error":…}` on HTTP 200; Anthropic: `event: error`; Ollama: an `{"error":…}` line); the message contains [`MID_STREAM_ERROR`] |
//! | `[[http:CODE]]` | answer with that status and the format's real error body ([`error_message_for`]) |
//! | `[[cut]]` | two content chunks, then close the connection abruptly (no final HTTP chunk, no final event) |
//! | `[[truncate]]` | all content chunks, then end the HTTP body cleanly but without the format's final events |
//! | `[[reply:TEXT]]` | reply exactly TEXT, after [`unescape`] (`\e`, `\xHH`, `\u{H…}`, `\n`, `\r`, `\t`, `\a`, `\0`, `\\`) |
//! | `[[model:NAME]]` | report NAME as the answering model |
//! | `[[bash:COMMAND]]` | Anthropic and Responses only: the reply is a call of the agent's shell tool (`Bash` `tool_use` block; `exec_command` function call) running COMMAND; each such directive is one call, in order; once each has its output, the reply is `tool said: <the last output>` |
//!
//! A **title request** — the last user message contains [`TITLE_MARKER`]
//! (`Reply with the title only`) — gets `Fake title`, or TEXT (unescaped) when the transcript
//! contains `[[title:TEXT]]` anywhere. For title requests only directives prefixed with `title-`,
//! found anywhere in the transcript, apply: `[[title-http:500]]`, `[[title-slow:MS]]`,
//! `[[title-stall]]`, `[[title-error-mid]]`, `[[title-cut]]`, …

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use panechat::provider::{ProviderConfig, ProviderKind};
use serde_json::Value;

/// Text in the last user message that marks the CLI's title request.
pub const TITLE_MARKER: &str = "Reply with the title only";

/// The default reply to a title request.
pub const DEFAULT_TITLE: &str = "Fake title";

/// Contained in every mid-stream error message the fake sends (`[[error-mid]]`).
pub const MID_STREAM_ERROR: &str = "fake mid-stream error";

/// The API key [`FakeProvider::provider_config`] puts in the config.
pub const FAKE_API_KEY: &str = "fake-key";

/// The key variable name [`FakeProvider::provider_config`] puts in the config.
pub const FAKE_API_KEY_ENV: &str = "PANECHAT_FAKE_API_KEY";

/// The model [`FakeProvider::provider_config`] puts in the config.
pub const FAKE_MODEL: &str = "fake-model";

/// The `created_at` the fake's Ollama replies carry.
const OLLAMA_CREATED_AT: &str = "2024-01-01T00:00:00.000000Z";

/// How long a stalled connection stays open at most.
const STALL_MAX: Duration = Duration::from_secs(60);

/// Which wire format a request used (chosen by its path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenAI Chat Completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Ollama `/api/chat`.
    Ollama,
    /// The OpenAI Responses API (`/v1/responses`), which Codex speaks.
    Responses,
}

impl Format {
    /// The format served at `path` (query string ignored).
    pub fn for_path(path: &str) -> Option<Format> {
        let path = path.split('?').next().unwrap_or(path);
        match path.trim_end_matches('/') {
            "/v1/chat/completions" | "/chat/completions" => Some(Format::OpenAi),
            "/v1/messages" => Some(Format::Anthropic),
            "/api/chat" => Some(Format::Ollama),
            "/v1/responses" | "/responses" => Some(Format::Responses),
            _ => None,
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// `POST`, `GET`, …
    pub method: String,
    /// The request target, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Header names (lower-cased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON (`Value::Null` when it is not JSON).
    pub body: Value,
    /// The raw body, decoded lossily.
    pub raw_body: String,
    /// When the request line had arrived: the first bytes the client sent (for latency
    /// measurements, e.g. the benchmark's pre-request overhead).
    pub first_byte_at: Instant,
    /// When the whole request (headers and body) had been read.
    pub received_at: Instant,
}

impl RecordedRequest {
    /// The value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The wire format, from the path.
    pub fn format(&self) -> Option<Format> {
        Format::for_path(&self.path)
    }

    /// The `messages` array as `(role, text)` pairs (text parts of structured content joined).
    pub fn messages(&self) -> Vec<(String, String)> {
        messages_of(&self.body)
    }

    /// The text parts of the last message of an OpenAI request whose content is a list of
    /// parts (a question with attachments); panics when it is not.
    pub fn text_parts(&self) -> Vec<String> {
        let msgs = self.body["messages"].as_array().expect("messages");
        let last = msgs.last().expect("a message");
        last["content"]
            .as_array()
            .unwrap_or_else(|| panic!("content is not parts: {last}"))
            .iter()
            .map(|p| {
                assert_eq!(p["type"], "text");
                p["text"].as_str().expect("text").to_string()
            })
            .collect()
    }

    /// The text of the last `user` message, if any.
    pub fn last_user_message(&self) -> Option<String> {
        self.messages()
            .into_iter()
            .rev()
            .find(|(r, _)| r == "user")
            .map(|(_, t)| t)
    }
}

struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    shutdown: AtomicBool,
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    gates: Mutex<std::collections::HashSet<String>>,
}

impl Shared {
    fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// Waits until gate `name` is opened ([`FakeProvider::open_gate`]); false when the server
    /// shuts down first (or after [`STALL_MAX`]).
    fn wait_gate(&self, name: &str) -> bool {
        let end = Instant::now() + STALL_MAX;
        while Instant::now() < end {
            if self.is_shutdown() {
                return false;
            }
            if self.gates.lock().unwrap().contains(name) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    /// Sleeps up to `d`, returning early (false) when the server shuts down.
    fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.is_shutdown() {
                return false;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
    }
}

/// A running fake provider server. Dropping it stops the server.
pub struct FakeProvider {
    port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FakeProvider {
    /// Starts a server on `127.0.0.1` on a free port.
    ///
    /// # Panics
    /// If no port can be bound.
    pub fn start() -> FakeProvider {
        FakeProvider::start_on(0).expect("binding the fake provider to 127.0.0.1")
    }

    /// Starts a server on `127.0.0.1:port` (0 = any free port).
    pub fn start_on(port: u16) -> io::Result<FakeProvider> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            gates: Mutex::new(Default::default()),
        });
        let accept_shared = shared.clone();
        let accept = std::thread::Builder::new()
            .name("fake-provider-accept".into())
            .spawn(move || accept_loop(listener, accept_shared))?;
        Ok(FakeProvider {
            port,
            shared,
            accept: Some(accept),
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The base URL for the `openai` kind: `http://127.0.0.1:PORT/v1`.
    pub fn base_url_openai(&self) -> String {
        format!("{}/v1", self.base_url())
    }

    /// The base URL for the `anthropic` kind: `http://127.0.0.1:PORT` (the provider adds `/v1`).
    pub fn base_url_anthropic(&self) -> String {
        self.base_url()
    }

    /// The base URL for the `ollama` kind: `http://127.0.0.1:PORT`.
    pub fn base_url_ollama(&self) -> String {
        self.base_url()
    }

    /// The base URL for a provider kind (`command` has none: empty).
    pub fn base_url_for(&self, kind: ProviderKind) -> String {
        match kind {
            ProviderKind::Openai => self.base_url_openai(),
            ProviderKind::Anthropic => self.base_url_anthropic(),
            ProviderKind::Ollama => self.base_url_ollama(),
            ProviderKind::Command | ProviderKind::Agent => String::new(),
            ProviderKind::ClaudeCode => self.base_url_anthropic(),
            ProviderKind::Codex => self.base_url_openai(),
        }
    }

    /// A provider config pointing at this server: model [`FAKE_MODEL`], key [`FAKE_API_KEY`]
    /// (named [`FAKE_API_KEY_ENV`]), 5 s connect timeout, `max_tokens` 1024.
    pub fn provider_config(&self, kind: ProviderKind) -> ProviderConfig {
        ProviderConfig {
            agent: Default::default(),
            kind,
            base_url: self.base_url_for(kind),
            model: FAKE_MODEL.to_owned(),
            api_key: Some(FAKE_API_KEY.to_owned()),
            api_key_env: FAKE_API_KEY_ENV.to_owned(),
            command: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            max_tokens: 1024,
        }
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Opens gate `name`: replies held by `[[gate:NAME]]` continue.
    pub fn open_gate(&self, name: &str) {
        self.shared.gates.lock().unwrap().insert(name.to_owned());
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.shared.requests.lock().unwrap().clear();
    }

    /// Waits (30 s at most) for the request whose last user message ends with `question`.
    #[track_caller]
    pub fn request_for(&self, question: &str) -> RecordedRequest {
        let t = Instant::now();
        loop {
            if let Some(r) = self
                .requests()
                .into_iter()
                .find(|r| r.last_user_message().is_some_and(|m| m.ends_with(question)))
            {
                return r;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "no request asked {question:?}"
            );
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// Waits until at least `n` requests have arrived (or `timeout` passes) and returns them all.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        let end = Instant::now() + timeout;
        loop {
            let reqs = self.requests();
            if reqs.len() >= n || Instant::now() >= end {
                return reqs;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_secs(1),
        );
        // Release every open connection (stalled ones included).
        for (_, s) in self.shared.conns.lock().unwrap().drain() {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.is_shutdown() {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            shared.conns.lock().unwrap().insert(id, clone);
        }
        let conn_shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("fake-provider-conn".into())
            .spawn(move || {
                let _ = handle_connection(stream, &conn_shared);
                conn_shared.conns.lock().unwrap().remove(&id);
            });
        if spawned.is_err() {
            shared.conns.lock().unwrap().remove(&id);
        }
    }
}

/// A parsed HTTP request.
struct HttpRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    first_byte_at: Instant,
}

fn read_request(stream: &TcpStream) -> io::Result<HttpRequest> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let first_byte_at = Instant::now();
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad request line",
        ));
    };
    let (method, path) = (method.to_owned(), path.to_owned());
    let mut headers = Vec::new();
    let mut header_bytes = 0;
    loop {
        let mut h = String::new();
        let n = reader.read_line(&mut h)?;
        header_bytes += n;
        if n == 0 || header_bytes > 256 * 1024 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad headers"));
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if get("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        let mut w = stream;
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        w.flush()?;
    }
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            let size_hex = size_line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers, then a blank line.
                loop {
                    let mut t = String::new();
                    if reader.read_line(&mut t)? == 0 || t.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(HttpRequest {
        method,
        path,
        headers,
        body,
        first_byte_at,
    })
}

fn handle_connection(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let _ = stream.set_nodelay(true);
    let req = read_request(&stream)?;
    let received_at = Instant::now();
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    shared.requests.lock().unwrap().push(RecordedRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        headers: req.headers.clone(),
        body: body.clone(),
        raw_body: String::from_utf8_lossy(&req.body).into_owned(),
        first_byte_at: req.first_byte_at,
        received_at,
    });
    let format = match (req.method.as_str(), Format::for_path(&req.path)) {
        ("POST", Some(f)) => f,
        // Claude Code's connectivity check (`HEAD /`): any answer will do, without a body.
        ("HEAD", _) => {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            stream.write_all(head.as_bytes())?;
            stream.flush()?;
            let _ = stream.shutdown(Shutdown::Write);
            return Ok(());
        }
        _ => {
            let msg = format!("fake provider: no route for {} {}", req.method, req.path);
            let body = obj(&[(
                "error",
                obj(&[
                    ("message", jstr(&msg)),
                    ("type", jstr("invalid_request_error")),
                ]),
            )]);
            return write_full(&mut stream, 404, "application/json", body.as_bytes());
        }
    };
    if !body.is_object() {
        let msg = "fake provider: the request body is not a JSON object";
        let body = error_body(format, 400, msg);
        return write_full(&mut stream, 400, "application/json", body.as_bytes());
    }
    let plan = plan_reply(format, &body);
    let streaming = match format {
        Format::Ollama => body.get("stream").and_then(Value::as_bool) != Some(false),
        _ => body.get("stream").and_then(Value::as_bool) == Some(true),
    };
    let include_usage = format != Format::OpenAi
        || body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true);
    let ctx = Ctx {
        format,
        plan,
        include_usage,
        shared,
    };
    if let Mode::Http(code) = ctx.plan.mode {
        let msg = error_message_for(format, code, &ctx.plan.model);
        let body = error_body(format, code, &msg);
        return write_full(&mut stream, code, "application/json", body.as_bytes());
    }
    if streaming {
        ctx.stream(&mut stream)
    } else {
        ctx.single(&mut stream)
    }
}

/// What a request asked for, decided from its directives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyPlan {
    /// The whole reply text.
    pub text: String,
    /// The text cut into content chunks (concatenated they are `text`).
    pub chunks: Vec<String>,
    /// Delay between the parts of the stream.
    pub slow: Duration,
    /// How the reply ends.
    pub mode: Mode,
    /// `[[gate:NAME]]`: after the first content chunk, wait until the test opens this gate.
    pub gate: Option<String>,
    /// The model to report as the one that answered.
    pub model: String,
    /// Input tokens to report.
    pub input_tokens: u64,
    /// Output tokens to report.
    pub output_tokens: u64,
    /// `[[bash:COMMAND]]`: the reply is a call of the agent's shell tool with COMMAND instead of
    /// text (Anthropic: a `Bash` `tool_use` block; Responses: an `exec_command` function call).
    pub tool: Option<String>,
}

/// How a reply ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Completely, with the format's final events.
    Normal,
    /// First content chunk, then silence.
    Stall,
    /// Two content chunks, then the format's mid-stream error.
    ErrorMid,
    /// Two content chunks, then an abrupt close.
    Cut,
    /// All content chunks, a clean end of the HTTP body, no final events.
    Truncate,
    /// An HTTP error status with the format's error body.
    Http(u16),
}

/// The `(role, text)` pairs of a request body's `messages` (Anthropic's top-level `system` is
/// not included; see [`plan_reply`]).
pub fn messages_of(body: &Value) -> Vec<(String, String)> {
    if let Some(input) = body.get("input") {
        return responses_messages(input);
    }
    body.get("messages")
        .and_then(Value::as_array)
        .map(|msgs| {
            msgs.iter()
                .filter(|m| !is_tool_result(m))
                .map(|m| {
                    let role = m
                        .get("role")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    (role, content_text(m.get("content").unwrap_or(&Value::Null)))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The text of a message's `content`: a string, or the `text` of an array of parts, without
/// the `<system-reminder>` blocks Claude Code adds to what the user typed.
fn content_text(content: &Value) -> String {
    let text = match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    };
    without_reminders(&text)
}

/// `text` without `<system-reminder>…</system-reminder>` blocks (then trimmed at the start), as
/// the user typed it.
pub fn without_reminders(text: &str) -> String {
    const OPEN: &str = "<system-reminder>";
    const CLOSE: &str = "</system-reminder>";
    if !text.contains(OPEN) {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        match rest[i..].find(CLOSE) {
            Some(j) => rest = &rest[i + j + CLOSE.len()..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out.trim_start().to_owned()
}

/// Whether an Anthropic message carries only tool results (Claude Code's answer to a
/// `tool_use`): it is not something the user said.
fn is_tool_result(m: &Value) -> bool {
    m.get("content")
        .and_then(Value::as_array)
        .is_some_and(|parts| {
            !parts.is_empty()
                && parts
                    .iter()
                    .all(|p| p.get("type").and_then(Value::as_str) == Some("tool_result"))
        })
}

/// The `(role, text)` pairs of a Responses API `input` (a string, or items: messages are kept,
/// function calls and their outputs are not).
fn responses_messages(input: &Value) -> Vec<(String, String)> {
    match input {
        Value::String(s) => vec![("user".to_owned(), s.clone())],
        Value::Array(items) => items
            .iter()
            .filter(|i| i.get("type").and_then(Value::as_str).unwrap_or("message") == "message")
            .map(|i| {
                let role = i.get("role").and_then(Value::as_str).unwrap_or("");
                (
                    role.to_owned(),
                    content_text(i.get("content").unwrap_or(&Value::Null)),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The outputs of the tool calls answered since the last thing the user said, oldest first
/// (Anthropic `tool_result` parts, Responses `function_call_output` items).
pub fn tool_outputs(body: &Value) -> Vec<String> {
    let text_of = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let mut out = Vec::new();
    if let Some(items) = body.get("input").and_then(Value::as_array) {
        for i in items {
            match i.get("type").and_then(Value::as_str).unwrap_or("message") {
                // Codex frames a command's output (`Chunk ID: …`, `Output:` then the text).
                "function_call_output" => {
                    let o = text_of(i.get("output"));
                    out.push(match o.split_once("\nOutput:\n") {
                        Some((_, text)) => text.to_owned(),
                        None => o,
                    });
                }
                "message" if i.get("role").and_then(Value::as_str) == Some("user") => out.clear(),
                _ => {}
            }
        }
    } else if let Some(msgs) = body.get("messages").and_then(Value::as_array) {
        for m in msgs {
            if m.get("role").and_then(Value::as_str) != Some("user") {
                continue;
            }
            if is_tool_result(m) {
                for part in m["content"].as_array().into_iter().flatten() {
                    out.push(text_of(part.get("content")));
                }
            } else {
                out.clear();
            }
        }
    }
    out
}

/// Decides the reply to a request body in `format` (see the module docs).
pub fn plan_reply(format: Format, body: &Value) -> ReplyPlan {
    let messages = messages_of(body);
    let system = match format {
        Format::Anthropic => content_text(body.get("system").unwrap_or(&Value::Null)),
        Format::Responses => content_text(body.get("instructions").unwrap_or(&Value::Null)),
        _ => String::new(),
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(FAKE_MODEL)
        .to_owned();
    let mut plan = plan_for_transcript(&system, &messages, &model);
    if matches!(format, Format::Anthropic | Format::Responses) {
        // `[[bash:COMMAND]]…`: each directive is one tool call, in order; once every call has
        // its output, the reply says what the last one printed.
        let last_user = messages
            .iter()
            .rev()
            .find(|(r, _)| r == "user")
            .map(|(_, t)| t.as_str())
            .unwrap_or("");
        let calls: Vec<String> = directives(last_user)
            .into_iter()
            .filter(|(n, _)| n == "bash")
            .map(|(_, a)| unescape(a.as_deref().unwrap_or("")))
            .collect();
        let outputs = tool_outputs(body);
        if let Some(cmd) = calls.get(outputs.len()) {
            plan.tool = Some(cmd.clone());
        } else if let Some(last) = outputs.last().filter(|_| !calls.is_empty()) {
            plan.text = format!("tool said: {}", last.trim());
            plan.chunks = split_chunks(&plan.text, default_chunk_count(&plan.text));
            plan.output_tokens = word_count(&plan.text) as u64;
        }
    }
    plan
}

/// Decides the reply to a transcript: `system` (may be empty), `(role, text)` messages, and the
/// requested model. Shared by the server and the `fake_llm_command` program.
pub fn plan_for_transcript(system: &str, messages: &[(String, String)], model: &str) -> ReplyPlan {
    let last_user = messages
        .iter()
        .rev()
        .find(|(r, _)| r == "user")
        .map(|(_, t)| t.as_str())
        .unwrap_or("");
    let mut all = String::from(system);
    for (_, t) in messages {
        all.push('\n');
        all.push_str(t);
    }
    let is_title = last_user.contains(TITLE_MARKER);
    let (text, dirs): (String, Vec<(String, Option<String>)>) = if is_title {
        let all_dirs = directives(&all);
        let title = all_dirs
            .iter()
            .rev()
            .find(|(n, _)| n == "title")
            .and_then(|(_, a)| a.as_deref())
            .map(unescape)
            .unwrap_or_else(|| DEFAULT_TITLE.to_owned());
        let dirs = all_dirs
            .into_iter()
            .filter_map(|(n, a)| n.strip_prefix("title-").map(|n| (n.to_owned(), a)))
            .collect();
        (title, dirs)
    } else {
        let dirs = directives(last_user);
        let text = dirs
            .iter()
            .rev()
            .find(|(n, _)| n == "reply")
            .map(|(_, a)| unescape(a.as_deref().unwrap_or("")))
            .unwrap_or_else(|| format!("echo: {last_user}"));
        (text, dirs)
    };
    let mut mode = Mode::Normal;
    let mut slow = Duration::ZERO;
    let mut chunks = None;
    let mut answered_model = model.to_owned();
    let mut gate = None;
    for (name, arg) in &dirs {
        let num = || arg.as_deref().and_then(|a| a.trim().parse::<u64>().ok());
        match name.as_str() {
            "slow" => slow = Duration::from_millis(num().unwrap_or(100)),
            "chunks" => chunks = num().map(|n| n.clamp(1, 1_000_000) as usize),
            "stall" => mode = Mode::Stall,
            "gate" => gate = arg.clone(),
            "error-mid" => mode = Mode::ErrorMid,
            "cut" => mode = Mode::Cut,
            "truncate" => mode = Mode::Truncate,
            "http" => {
                mode = Mode::Http(num().filter(|c| (100..=999).contains(c)).unwrap_or(500) as u16)
            }
            "model" => {
                if let Some(m) = arg.as_deref().filter(|m| !m.is_empty()) {
                    answered_model = m.to_owned();
                }
            }
            _ => {}
        }
    }
    let n = chunks.unwrap_or_else(|| default_chunk_count(&text));
    let chunks = split_chunks(&text, n);
    let input_tokens = word_count(&all) as u64;
    let output_tokens = word_count(&text) as u64;
    ReplyPlan {
        text,
        chunks,
        slow,
        mode,
        gate,
        model: answered_model,
        input_tokens,
        output_tokens,
        tool: None,
    }
}

/// The number of whitespace-separated words: the fake's token count.
pub fn word_count(s: &str) -> usize {
    s.split_whitespace().count()
}

/// How many chunks a reply is split into by default: about four characters each, at least 3
/// (when the text is that long) and at most 16.
pub fn default_chunk_count(text: &str) -> usize {
    let n = text.chars().count();
    (n / 4).clamp(3, 16).min(n).max(1)
}

/// Splits `text` into `n` pieces of nearly equal length in characters; when `n` exceeds the
/// number of characters the extra pieces are empty.
pub fn split_chunks(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let n = n.max(1);
    let mut out = Vec::with_capacity(n);
    let (base, extra) = (chars.len() / n, chars.len() % n);
    let mut at = 0;
    for i in 0..n {
        let len = base + usize::from(i < extra);
        out.push(chars[at..at + len].iter().collect());
        at += len;
    }
    out
}

/// Finds the `[[name]]` and `[[name:arg]]` directives in `text`, in order. Names are lower-case
/// letters, digits and `-`; anything else between `[[` and `]]` is not a directive.
pub fn directives(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("[[") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("]]") else { break };
        let inner = &after[..end];
        let (name, arg) = match inner.split_once(':') {
            Some((n, a)) => (n, Some(a.to_owned())),
            None => (inner, None),
        };
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if valid {
            out.push((name.to_owned(), arg));
            rest = &after[end + 2..];
        } else {
            rest = after;
        }
    }
    out
}

/// Turns the backslash escapes tests write into the characters they stand for: `\e` (ESC),
/// `\xHH` (the character U+00HH, so `\x1b` is ESC and `\x9b` is the C1 CSI), `\u{H…}`, `\n`,
/// `\r`, `\t`, `\a` (BEL), `\0`, `\\`. Anything else is kept as written.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.peek().copied() {
            Some('e') => {
                it.next();
                out.push('\x1b');
            }
            Some('n') => {
                it.next();
                out.push('\n');
            }
            Some('r') => {
                it.next();
                out.push('\r');
            }
            Some('t') => {
                it.next();
                out.push('\t');
            }
            Some('a') => {
                it.next();
                out.push('\x07');
            }
            Some('0') => {
                it.next();
                out.push('\0');
            }
            Some('\\') => {
                it.next();
                out.push('\\');
            }
            Some('x') => {
                let mut look = it.clone();
                look.next();
                let hex: String = look.by_ref().take(2).collect();
                match u8::from_str_radix(&hex, 16) {
                    Ok(b) if hex.len() == 2 => {
                        out.push(char::from(b));
                        it = look;
                    }
                    _ => out.push('\\'),
                }
            }
            Some('u') => {
                let mut look = it.clone();
                look.next();
                if look.next() == Some('{') {
                    let hex: String = look.by_ref().take_while(|&c| c != '}').collect();
                    if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        out.push(ch);
                        it = look;
                        continue;
                    }
                }
                out.push('\\');
            }
            _ => out.push('\\'),
        }
    }
    out
}

/// The message the fake puts in an HTTP error body for `status` (modelled on the real ones).
pub fn error_message_for(format: Format, status: u16, model: &str) -> String {
    match (format, status) {
        (Format::OpenAi | Format::Responses, 401) => "Incorrect API key provided: fake-key. You can find your API key at https://platform.openai.com/account/api-keys.".to_owned(),
        (Format::OpenAi, 404) => format!("The model `{model}` does not exist or you do not have access to it."),
        (Format::OpenAi, 429) => "Rate limit reached for requests (fake)".to_owned(),
        (Format::OpenAi | Format::Responses, 500) => "The server had an error while processing your request. Sorry about that!".to_owned(),
        (Format::OpenAi, 503) => "The engine is currently overloaded, please try again later.".to_owned(),
        (Format::Anthropic, 401) => "invalid x-api-key".to_owned(),
        (Format::Anthropic, 403) => "Your API key does not have permission to use the specified resource.".to_owned(),
        (Format::Anthropic, 404) => format!("model: {model}"),
        (Format::Anthropic, 429) => "Number of request tokens has exceeded your per-minute rate limit (fake)".to_owned(),
        (Format::Anthropic, 500) => "Internal server error".to_owned(),
        (Format::Anthropic, 529) => "Overloaded".to_owned(),
        (Format::Ollama, 404) => format!("model \"{model}\" not found, try pulling it first"),
        (Format::Ollama, 401) => "unauthorized".to_owned(),
        (Format::Ollama, 500) => "llama runner process has terminated: exit status 2".to_owned(),
        (_, code) => format!("fake HTTP {code} error"),
    }
}

/// The format's JSON error body, keys in the real services' order.
fn error_body(format: Format, status: u16, message: &str) -> String {
    match format {
        Format::OpenAi | Format::Responses => {
            let (ty, code) = match status {
                401 => ("invalid_request_error", jstr("invalid_api_key")),
                404 => ("invalid_request_error", jstr("model_not_found")),
                429 => ("requests", jstr("rate_limit_exceeded")),
                500..=599 => ("server_error", NULL.to_owned()),
                _ => ("invalid_request_error", NULL.to_owned()),
            };
            obj(&[(
                "error",
                obj(&[
                    ("message", jstr(message)),
                    ("type", jstr(ty)),
                    ("param", NULL.to_owned()),
                    ("code", code),
                ]),
            )])
        }
        Format::Anthropic => {
            let ty = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            obj(&[
                ("type", jstr("error")),
                (
                    "error",
                    obj(&[("type", jstr(ty)), ("message", jstr(message))]),
                ),
                ("request_id", jstr("req_fake")),
            ])
        }
        Format::Ollama => obj(&[("error", jstr(message))]),
    }
}

/// `null` in JSON.
const NULL: &str = "null";

/// A JSON string literal.
fn jstr(s: &str) -> String {
    serde_json::to_string(s).expect("strings always serialise")
}

/// A JSON object with its keys in the given order (values already rendered as JSON), so the
/// fake's bodies look like the real services' byte for byte in structure.
fn obj(pairs: &[(&str, String)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&jstr(k));
        out.push(':');
        out.push_str(v);
    }
    out.push('}');
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}

/// Writes a complete response with a Content-Length.
fn write_full(stream: &mut TcpStream, status: u16, ctype: &str, body: &[u8]) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

/// Writes one HTTP chunk and flushes it.
fn write_chunk(stream: &mut TcpStream, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(()); // an empty chunk would end the body
    }
    let mut buf = format!("{:x}\r\n", data.len()).into_bytes();
    buf.extend_from_slice(data);
    buf.extend_from_slice(b"\r\n");
    stream.write_all(&buf)?;
    stream.flush()
}

/// A number no earlier reply of this process used (tool call and item ids).
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One response being produced.
struct Ctx<'a> {
    format: Format,
    plan: ReplyPlan,
    include_usage: bool,
    shared: &'a Shared,
}

/// The parts of a stream, split by role.
struct Parts {
    preamble: Vec<String>,
    content: Vec<String>,
    ending: Vec<String>,
    error: String,
}

impl Ctx<'_> {
    fn sse(event: Option<&str>, data: &str) -> String {
        match event {
            Some(e) => format!("event: {e}\ndata: {data}\n\n"),
            None => format!("data: {data}\n\n"),
        }
    }

    fn openai_usage(&self) -> String {
        let p = &self.plan;
        obj(&[
            ("prompt_tokens", p.input_tokens.to_string()),
            ("completion_tokens", p.output_tokens.to_string()),
            (
                "total_tokens",
                (p.input_tokens + p.output_tokens).to_string(),
            ),
            (
                "prompt_tokens_details",
                obj(&[("cached_tokens", "0".into()), ("audio_tokens", "0".into())]),
            ),
            (
                "completion_tokens_details",
                obj(&[
                    ("reasoning_tokens", "0".into()),
                    ("audio_tokens", "0".into()),
                    ("accepted_prediction_tokens", "0".into()),
                    ("rejected_prediction_tokens", "0".into()),
                ]),
            ),
        ])
    }

    /// Ollama's final object (`content` is empty when streaming, the reply otherwise).
    fn ollama_final(&self, content: &str) -> String {
        let p = &self.plan;
        obj(&[
            ("model", jstr(&p.model)),
            ("created_at", jstr(OLLAMA_CREATED_AT)),
            (
                "message",
                obj(&[("role", jstr("assistant")), ("content", jstr(content))]),
            ),
            ("done_reason", jstr("stop")),
            ("done", "true".into()),
            ("total_duration", "4883583458".into()),
            ("load_duration", "1334875".into()),
            ("prompt_eval_count", p.input_tokens.to_string()),
            ("prompt_eval_duration", "342546000".into()),
            ("eval_count", p.output_tokens.to_string()),
            ("eval_duration", "4535599000".into()),
        ])
    }

    fn parts(&self) -> Parts {
        let p = &self.plan;
        let model = jstr(&p.model);
        if self.format == Format::Responses {
            return self.responses_parts();
        }
        if let (Format::Anthropic, Some(cmd)) = (self.format, &p.tool) {
            return self.anthropic_tool_parts(cmd);
        }
        match self.format {
            Format::OpenAi => {
                let created = now_secs().to_string();
                let chunk = |choices: String, usage: Option<String>| {
                    let mut pairs = vec![
                        ("id", jstr("chatcmpl-fake")),
                        ("object", jstr("chat.completion.chunk")),
                        ("created", created.clone()),
                        ("model", model.clone()),
                        ("system_fingerprint", jstr("fp_fake")),
                        ("choices", choices),
                    ];
                    if self.include_usage {
                        pairs.push(("usage", usage.unwrap_or_else(|| NULL.to_owned())));
                    }
                    Self::sse(None, &obj(&pairs))
                };
                let choice = |delta: String, finish: &str| {
                    format!(
                        "[{}]",
                        obj(&[
                            ("index", "0".into()),
                            ("delta", delta),
                            ("logprobs", NULL.into()),
                            ("finish_reason", finish.to_owned()),
                        ])
                    )
                };
                let preamble = vec![chunk(
                    choice(
                        obj(&[
                            ("role", jstr("assistant")),
                            ("content", jstr("")),
                            ("refusal", NULL.into()),
                        ]),
                        NULL,
                    ),
                    None,
                )];
                let content = p
                    .chunks
                    .iter()
                    .map(|c| chunk(choice(obj(&[("content", jstr(c))]), NULL), None))
                    .collect();
                let mut ending = vec![chunk(choice("{}".into(), &jstr("stop")), None)];
                if self.include_usage {
                    ending.push(chunk("[]".into(), Some(self.openai_usage())));
                }
                ending.push("data: [DONE]\n\n".to_owned());
                let message = format!(
                    "The server had an error while processing your request. Sorry about that! \
                     ({MID_STREAM_ERROR})"
                );
                let error = Self::sse(
                    None,
                    &obj(&[(
                        "error",
                        obj(&[
                            ("message", jstr(&message)),
                            ("type", jstr("server_error")),
                            ("param", NULL.into()),
                            ("code", NULL.into()),
                        ]),
                    )]),
                );
                Parts {
                    preamble,
                    content,
                    ending,
                    error,
                }
            }
            Format::Anthropic => {
                let usage = obj(&[
                    ("input_tokens", p.input_tokens.to_string()),
                    ("cache_creation_input_tokens", "0".into()),
                    ("cache_read_input_tokens", "0".into()),
                    ("output_tokens", "1".into()),
                ]);
                let message = obj(&[
                    ("id", jstr("msg_fake")),
                    ("type", jstr("message")),
                    ("role", jstr("assistant")),
                    ("model", model.clone()),
                    ("content", "[]".into()),
                    ("stop_reason", NULL.into()),
                    ("stop_sequence", NULL.into()),
                    ("usage", usage),
                ]);
                let preamble = vec![
                    Self::sse(
                        Some("message_start"),
                        &obj(&[("type", jstr("message_start")), ("message", message)]),
                    ),
                    Self::sse(
                        Some("content_block_start"),
                        &obj(&[
                            ("type", jstr("content_block_start")),
                            ("index", "0".into()),
                            (
                                "content_block",
                                obj(&[("type", jstr("text")), ("text", jstr(""))]),
                            ),
                        ]),
                    ),
                    // The real service writes this one with spaces.
                    Self::sse(Some("ping"), r#"{"type": "ping"}"#),
                ];
                let content = p
                    .chunks
                    .iter()
                    .map(|c| {
                        Self::sse(
                            Some("content_block_delta"),
                            &obj(&[
                                ("type", jstr("content_block_delta")),
                                ("index", "0".into()),
                                (
                                    "delta",
                                    obj(&[("type", jstr("text_delta")), ("text", jstr(c))]),
                                ),
                            ]),
                        )
                    })
                    .collect();
                let ending = vec![
                    Self::sse(
                        Some("content_block_stop"),
                        &obj(&[("type", jstr("content_block_stop")), ("index", "0".into())]),
                    ),
                    Self::sse(
                        Some("message_delta"),
                        &obj(&[
                            ("type", jstr("message_delta")),
                            (
                                "delta",
                                obj(&[
                                    ("stop_reason", jstr("end_turn")),
                                    ("stop_sequence", NULL.into()),
                                ]),
                            ),
                            (
                                "usage",
                                obj(&[("output_tokens", p.output_tokens.to_string())]),
                            ),
                        ]),
                    ),
                    Self::sse(
                        Some("message_stop"),
                        &obj(&[("type", jstr("message_stop"))]),
                    ),
                ];
                let error = Self::sse(
                    Some("error"),
                    &format!(
                        r#"{{"type": "error", "error": {{"type": "overloaded_error", "message": {}}}}}"#,
                        jstr(&format!("Overloaded ({MID_STREAM_ERROR})"))
                    ),
                );
                Parts {
                    preamble,
                    content,
                    ending,
                    error,
                }
            }
            Format::Responses => unreachable!("handled above"),
            Format::Ollama => {
                let content = p
                    .chunks
                    .iter()
                    .map(|c| {
                        let line = obj(&[
                            ("model", model.clone()),
                            ("created_at", jstr(OLLAMA_CREATED_AT)),
                            (
                                "message",
                                obj(&[("role", jstr("assistant")), ("content", jstr(c))]),
                            ),
                            ("done", "false".into()),
                        ]);
                        format!("{line}\n")
                    })
                    .collect();
                let ending = vec![format!("{}\n", self.ollama_final(""))];
                let error = format!(
                    "{}\n",
                    obj(&[(
                        "error",
                        jstr(&format!(
                            "an error was encountered while running the model: {MID_STREAM_ERROR}"
                        ))
                    )])
                );
                Parts {
                    preamble: Vec::new(),
                    content,
                    ending,
                    error,
                }
            }
        }
    }

    /// An Anthropic stream whose reply is one `Bash` tool call running `cmd`.
    fn anthropic_tool_parts(&self, cmd: &str) -> Parts {
        let p = &self.plan;
        let n = next_id();
        let usage = obj(&[
            ("input_tokens", p.input_tokens.to_string()),
            ("cache_creation_input_tokens", "0".into()),
            ("cache_read_input_tokens", "0".into()),
            ("output_tokens", "1".into()),
        ]);
        let message = obj(&[
            ("id", jstr(&format!("msg_fake{n}"))),
            ("type", jstr("message")),
            ("role", jstr("assistant")),
            ("model", jstr(&p.model)),
            ("content", "[]".into()),
            ("stop_reason", NULL.into()),
            ("stop_sequence", NULL.into()),
            ("usage", usage),
        ]);
        let input = obj(&[
            ("command", jstr(cmd)),
            ("description", jstr("Run the command the test asked for")),
        ]);
        let preamble = vec![
            Self::sse(
                Some("message_start"),
                &obj(&[("type", jstr("message_start")), ("message", message)]),
            ),
            Self::sse(
                Some("content_block_start"),
                &obj(&[
                    ("type", jstr("content_block_start")),
                    ("index", "0".into()),
                    (
                        "content_block",
                        obj(&[
                            ("type", jstr("tool_use")),
                            ("id", jstr(&format!("toolu_fake{n}"))),
                            ("name", jstr("Bash")),
                            ("input", "{}".into()),
                        ]),
                    ),
                ]),
            ),
        ];
        let content = split_chunks(&input, 3)
            .iter()
            .map(|c| {
                Self::sse(
                    Some("content_block_delta"),
                    &obj(&[
                        ("type", jstr("content_block_delta")),
                        ("index", "0".into()),
                        (
                            "delta",
                            obj(&[
                                ("type", jstr("input_json_delta")),
                                ("partial_json", jstr(c)),
                            ]),
                        ),
                    ]),
                )
            })
            .collect();
        let ending = vec![
            Self::sse(
                Some("content_block_stop"),
                &obj(&[("type", jstr("content_block_stop")), ("index", "0".into())]),
            ),
            Self::sse(
                Some("message_delta"),
                &obj(&[
                    ("type", jstr("message_delta")),
                    (
                        "delta",
                        obj(&[
                            ("stop_reason", jstr("tool_use")),
                            ("stop_sequence", NULL.into()),
                        ]),
                    ),
                    ("usage", obj(&[("output_tokens", "12".into())])),
                ]),
            ),
            Self::sse(
                Some("message_stop"),
                &obj(&[("type", jstr("message_stop"))]),
            ),
        ];
        Parts {
            preamble,
            content,
            ending,
            error: self.anthropic_error(),
        }
    }

    fn anthropic_error(&self) -> String {
        Self::sse(
            Some("error"),
            &format!(
                r#"{{"type": "error", "error": {{"type": "overloaded_error", "message": {}}}}}"#,
                jstr(&format!("Overloaded ({MID_STREAM_ERROR})"))
            ),
        )
    }

    /// The Responses API's usage object.
    fn responses_usage(&self) -> String {
        let p = &self.plan;
        obj(&[
            ("input_tokens", p.input_tokens.to_string()),
            (
                "input_tokens_details",
                obj(&[("cached_tokens", "0".into())]),
            ),
            ("output_tokens", p.output_tokens.to_string()),
            (
                "output_tokens_details",
                obj(&[("reasoning_tokens", "0".into())]),
            ),
            (
                "total_tokens",
                (p.input_tokens + p.output_tokens).to_string(),
            ),
        ])
    }

    /// A Responses API stream: one message item with the reply text, or one `exec_command`
    /// function call (`[[bash:…]]`), then `response.completed`.
    fn responses_parts(&self) -> Parts {
        let p = &self.plan;
        let n = next_id();
        let resp_id = format!("resp_fake{n}");
        let created = now_secs().to_string();
        let response = |status: &str, output: String, usage: Option<String>| {
            let mut pairs = vec![
                ("id", jstr(&resp_id)),
                ("object", jstr("response")),
                ("created_at", created.clone()),
                ("status", jstr(status)),
                ("model", jstr(&p.model)),
                ("output", output),
            ];
            if let Some(u) = usage {
                pairs.push(("usage", u));
            }
            obj(&pairs)
        };
        let ev = |name: &str, mut pairs: Vec<(&str, String)>| {
            pairs.insert(0, ("type", jstr(name)));
            Self::sse(Some(name), &obj(&pairs))
        };
        let created_ev = ev(
            "response.created",
            vec![("response", response("in_progress", "[]".into(), None))],
        );
        let (preamble, content, done_item) = match &p.tool {
            Some(cmd) => {
                let item_id = format!("fc_fake{n}");
                let call_id = format!("call_fake{n}");
                let args = obj(&[("cmd", jstr(cmd))]);
                let item = |status: &str, arguments: &str| {
                    obj(&[
                        ("id", jstr(&item_id)),
                        ("type", jstr("function_call")),
                        ("status", jstr(status)),
                        ("arguments", jstr(arguments)),
                        ("call_id", jstr(&call_id)),
                        ("name", jstr("exec_command")),
                    ])
                };
                let mut content: Vec<String> = split_chunks(&args, 3)
                    .iter()
                    .map(|c| {
                        ev(
                            "response.function_call_arguments.delta",
                            vec![
                                ("item_id", jstr(&item_id)),
                                ("output_index", "0".into()),
                                ("delta", jstr(c)),
                            ],
                        )
                    })
                    .collect();
                content.push(ev(
                    "response.function_call_arguments.done",
                    vec![
                        ("item_id", jstr(&item_id)),
                        ("output_index", "0".into()),
                        ("arguments", jstr(&args)),
                    ],
                ));
                let added = ev(
                    "response.output_item.added",
                    vec![
                        ("output_index", "0".into()),
                        ("item", item("in_progress", "")),
                    ],
                );
                (vec![created_ev, added], content, item("completed", &args))
            }
            None => {
                let item_id = format!("msg_fake{n}");
                let part = |text: &str| {
                    obj(&[
                        ("type", jstr("output_text")),
                        ("annotations", "[]".into()),
                        ("text", jstr(text)),
                    ])
                };
                let item = |status: &str, content: String| {
                    obj(&[
                        ("id", jstr(&item_id)),
                        ("type", jstr("message")),
                        ("status", jstr(status)),
                        ("content", content),
                        ("role", jstr("assistant")),
                    ])
                };
                let added = ev(
                    "response.output_item.added",
                    vec![
                        ("output_index", "0".into()),
                        ("item", item("in_progress", "[]".into())),
                    ],
                );
                let part_added = ev(
                    "response.content_part.added",
                    vec![
                        ("item_id", jstr(&item_id)),
                        ("output_index", "0".into()),
                        ("content_index", "0".into()),
                        ("part", part("")),
                    ],
                );
                let mut content: Vec<String> = p
                    .chunks
                    .iter()
                    .map(|c| {
                        ev(
                            "response.output_text.delta",
                            vec![
                                ("item_id", jstr(&item_id)),
                                ("output_index", "0".into()),
                                ("content_index", "0".into()),
                                ("delta", jstr(c)),
                            ],
                        )
                    })
                    .collect();
                content.push(ev(
                    "response.output_text.done",
                    vec![
                        ("item_id", jstr(&item_id)),
                        ("output_index", "0".into()),
                        ("content_index", "0".into()),
                        ("text", jstr(&p.text)),
                    ],
                ));
                content.push(ev(
                    "response.content_part.done",
                    vec![
                        ("item_id", jstr(&item_id)),
                        ("output_index", "0".into()),
                        ("content_index", "0".into()),
                        ("part", part(&p.text)),
                    ],
                ));
                let done = item("completed", format!("[{}]", part(&p.text)));
                (vec![created_ev, added, part_added], content, done)
            }
        };
        let ending = vec![
            ev(
                "response.output_item.done",
                vec![("output_index", "0".into()), ("item", done_item.clone())],
            ),
            ev(
                "response.completed",
                vec![(
                    "response",
                    response(
                        "completed",
                        format!("[{done_item}]"),
                        Some(self.responses_usage()),
                    ),
                )],
            ),
        ];
        let error = ev(
            "response.failed",
            vec![(
                "response",
                obj(&[
                    ("id", jstr(&resp_id)),
                    ("object", jstr("response")),
                    ("status", jstr("failed")),
                    (
                        "error",
                        obj(&[
                            ("code", jstr("server_error")),
                            (
                                "message",
                                jstr(&format!("The server had an error ({MID_STREAM_ERROR})")),
                            ),
                        ]),
                    ),
                ]),
            )],
        );
        Parts {
            preamble,
            content,
            ending,
            error,
        }
    }

    fn content_type(&self) -> &'static str {
        match self.format {
            Format::OpenAi | Format::Anthropic | Format::Responses => {
                "text/event-stream; charset=utf-8"
            }
            Format::Ollama => "application/x-ndjson",
        }
    }

    /// Keeps a connection open, silent, until the server stops (or [`STALL_MAX`]).
    fn stall(&self) {
        self.shared.sleep(STALL_MAX);
    }

    fn stream(&self, stream: &mut TcpStream) -> io::Result<()> {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            self.content_type()
        );
        stream.write_all(head.as_bytes())?;
        stream.flush()?;
        let parts = self.parts();
        let mut first = true;
        let mut send = |stream: &mut TcpStream, part: &str| -> io::Result<bool> {
            if !first && !self.plan.slow.is_zero() && !self.shared.sleep(self.plan.slow) {
                return Ok(false);
            }
            first = false;
            write_chunk(stream, part.as_bytes())?;
            Ok(!self.shared.is_shutdown())
        };
        for part in &parts.preamble {
            if !send(stream, part)? {
                return Ok(());
            }
        }
        let limit = match self.plan.mode {
            Mode::Stall => 1,
            Mode::ErrorMid | Mode::Cut => 2,
            _ => usize::MAX,
        };
        for (i, part) in parts.content.iter().take(limit).enumerate() {
            if !send(stream, part)? {
                return Ok(());
            }
            if i == 0 {
                if let Some(g) = &self.plan.gate {
                    if !self.shared.wait_gate(g) {
                        return Ok(());
                    }
                }
            }
        }
        match self.plan.mode {
            Mode::Stall => {
                self.stall();
                let _ = stream.shutdown(Shutdown::Both);
                return Ok(());
            }
            Mode::Cut => {
                let _ = stream.shutdown(Shutdown::Both);
                return Ok(());
            }
            Mode::ErrorMid => {
                if !send(stream, &parts.error)? {
                    return Ok(());
                }
            }
            Mode::Truncate => {}
            Mode::Normal | Mode::Http(_) => {
                for part in &parts.ending {
                    if !send(stream, part)? {
                        return Ok(());
                    }
                }
            }
        }
        stream.write_all(b"0\r\n\r\n")?;
        stream.flush()?;
        let _ = stream.shutdown(Shutdown::Write);
        Ok(())
    }

    /// The non-streamed reply.
    fn single(&self, stream: &mut TcpStream) -> io::Result<()> {
        let p = &self.plan;
        if p.mode == Mode::ErrorMid {
            let msg = format!("fake server error ({MID_STREAM_ERROR})");
            let body = error_body(self.format, 500, &msg);
            return write_full(stream, 500, "application/json", body.as_bytes());
        }
        if !p.slow.is_zero() && !self.shared.sleep(p.slow) {
            return Ok(());
        }
        let body = match self.format {
            Format::OpenAi => obj(&[
                ("id", jstr("chatcmpl-fake")),
                ("object", jstr("chat.completion")),
                ("created", now_secs().to_string()),
                ("model", jstr(&p.model)),
                (
                    "choices",
                    format!(
                        "[{}]",
                        obj(&[
                            ("index", "0".into()),
                            (
                                "message",
                                obj(&[
                                    ("role", jstr("assistant")),
                                    ("content", jstr(&p.text)),
                                    ("refusal", NULL.into()),
                                ]),
                            ),
                            ("logprobs", NULL.into()),
                            ("finish_reason", jstr("stop")),
                        ])
                    ),
                ),
                ("usage", self.openai_usage()),
                ("system_fingerprint", jstr("fp_fake")),
            ]),
            Format::Anthropic => obj(&[
                ("id", jstr("msg_fake")),
                ("type", jstr("message")),
                ("role", jstr("assistant")),
                ("model", jstr(&p.model)),
                (
                    "content",
                    format!(
                        "[{}]",
                        obj(&[("type", jstr("text")), ("text", jstr(&p.text))])
                    ),
                ),
                ("stop_reason", jstr("end_turn")),
                ("stop_sequence", NULL.into()),
                (
                    "usage",
                    obj(&[
                        ("input_tokens", p.input_tokens.to_string()),
                        ("cache_creation_input_tokens", "0".into()),
                        ("cache_read_input_tokens", "0".into()),
                        ("output_tokens", p.output_tokens.to_string()),
                    ]),
                ),
            ]),
            Format::Ollama => self.ollama_final(&p.text),
            Format::Responses => obj(&[
                ("id", jstr("resp_fake")),
                ("object", jstr("response")),
                ("created_at", now_secs().to_string()),
                ("status", jstr("completed")),
                ("model", jstr(&p.model)),
                (
                    "output",
                    format!(
                        "[{}]",
                        obj(&[
                            ("id", jstr("msg_fake")),
                            ("type", jstr("message")),
                            ("status", jstr("completed")),
                            (
                                "content",
                                format!(
                                    "[{}]",
                                    obj(&[
                                        ("type", jstr("output_text")),
                                        ("annotations", "[]".into()),
                                        ("text", jstr(&p.text)),
                                    ])
                                ),
                            ),
                            ("role", jstr("assistant")),
                        ])
                    ),
                ),
                ("usage", self.responses_usage()),
            ]),
        };
        let body = body.into_bytes();
        match p.mode {
            Mode::Stall | Mode::Cut | Mode::Truncate => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes())?;
                if p.mode != Mode::Stall {
                    stream.write_all(&body[..body.len() / 2])?;
                }
                stream.flush()?;
                if p.mode == Mode::Stall {
                    self.stall();
                }
                let _ = stream.shutdown(Shutdown::Both);
                Ok(())
            }
            _ => write_full(stream, 200, "application/json", &body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_are_planned_in_order_then_the_last_output_is_said() {
        let anthropic = |results: &[&str]| {
            let mut msgs = vec![serde_json::json!({"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>ctx</system-reminder>\n\ngo [[bash:echo a]] [[bash:echo b]]"}
            ]})];
            for r in results {
                msgs.push(serde_json::json!({"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]}));
                msgs.push(serde_json::json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": r}]}));
            }
            plan_reply(Format::Anthropic, &serde_json::json!({"messages": msgs}))
        };
        assert_eq!(anthropic(&[]).tool.as_deref(), Some("echo a"));
        assert_eq!(anthropic(&["a"]).tool.as_deref(), Some("echo b"));
        let done = anthropic(&["a", "b\n"]);
        assert_eq!((done.tool, done.text.as_str()), (None, "tool said: b"));
        let responses = serde_json::json!({"input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "run [[bash:ls]]"}]},
            {"type": "function_call", "name": "exec_command", "arguments": "{}", "call_id": "c"},
            {"type": "function_call_output", "call_id": "c", "output": "Chunk ID: 1\nOutput:\nfile"},
        ]});
        let p = plan_reply(Format::Responses, &responses);
        assert_eq!((p.tool, p.text.as_str()), (None, "tool said: file"));
        let asked = serde_json::json!({"input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "run [[bash:ls]]"}]},
        ]});
        assert_eq!(
            plan_reply(Format::Responses, &asked).tool.as_deref(),
            Some("ls")
        );
        assert_eq!(
            without_reminders("<system-reminder>x</system-reminder>\n\nhi"),
            "hi"
        );
    }

    #[test]
    fn directive_parsing() {
        assert_eq!(
            directives("hi [[slow:20]] and [[stall]] [[Not]] [[reply:a]b]]"),
            vec![
                ("slow".to_owned(), Some("20".to_owned())),
                ("stall".to_owned(), None),
                ("reply".to_owned(), Some("a]b".to_owned())),
            ]
        );
        assert!(directives("[[ no ]] [[").is_empty());
    }

    #[test]
    fn unescaping() {
        assert_eq!(unescape(r"a\eb"), "a\x1bb");
        assert_eq!(unescape(r"\x1b]0;x\a"), "\x1b]0;x\x07");
        assert_eq!(unescape(r"\x9b"), "\u{9b}");
        assert_eq!(unescape(r"\u{202e}"), "\u{202e}");
        assert_eq!(unescape(r"\\e \q \x \xZZ"), r"\e \q \x \xZZ");
    }

    #[test]
    fn chunks() {
        assert_eq!(split_chunks("abcdefg", 3), vec!["abc", "de", "fg"]);
        assert_eq!(split_chunks("ab", 4), vec!["a", "b", "", ""]);
        assert_eq!(split_chunks("é✓x", 3), vec!["é", "✓", "x"]);
        assert_eq!(default_chunk_count("echo: hi"), 3);
        assert_eq!(default_chunk_count("ab"), 2);
        assert_eq!(default_chunk_count(""), 1);
        assert_eq!(default_chunk_count(&"x".repeat(1000)), 16);
    }

    #[test]
    fn plans() {
        let msgs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(r, t)| (r.to_string(), t.to_string()))
                .collect()
        };
        let p = plan_for_transcript("", &msgs(&[("user", "hello [[chunks:2]]")]), "m");
        assert_eq!(p.text, "echo: hello [[chunks:2]]");
        assert_eq!(p.chunks.len(), 2);
        assert_eq!(p.chunks.concat(), p.text);
        assert_eq!(p.input_tokens, 2);
        let p = plan_for_transcript(
            "",
            &msgs(&[
                ("user", "first [[title:Evil\\e]0;x\\a]] [[title-http:503]]"),
                ("assistant", "ok"),
                (
                    "user",
                    "Summarise. Reply with the title only. [[error-mid]]",
                ),
            ]),
            "m",
        );
        assert_eq!(p.text, "Evil\x1b]0;x\x07");
        assert_eq!(p.mode, Mode::Http(503));
        let p = plan_for_transcript("", &msgs(&[("user", "Reply with the title only")]), "m");
        assert_eq!(p.text, DEFAULT_TITLE);
        assert_eq!(p.mode, Mode::Normal);
    }
}
