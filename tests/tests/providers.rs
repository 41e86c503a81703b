//! The providers against the fake server (OpenAI, Anthropic, Ollama wire formats) and the fake
//! command program, through the public `start` / `complete` API.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use panechat::provider::{
    complete, start, ChatRequest, Message, ProviderConfig, ProviderError, ProviderErrorKind,
    ProviderKind, Role, StreamEvent, StreamHandle, StreamItem, Usage,
};
use panechat_e2e::fake::{
    error_message_for, word_count, FakeProvider, Format, FAKE_API_KEY, FAKE_API_KEY_ENV,
    FAKE_MODEL, MID_STREAM_ERROR, TITLE_MARKER,
};
use serde_json::{json, Value};

const HTTP_KINDS: [ProviderKind; 3] = [
    ProviderKind::Openai,
    ProviderKind::Anthropic,
    ProviderKind::Ollama,
];

/// Generous: the machine may be busy compiling.
const WAIT: Duration = Duration::from_secs(30);

fn format_of(kind: ProviderKind) -> Format {
    match kind {
        ProviderKind::Openai => Format::OpenAi,
        ProviderKind::Anthropic => Format::Anthropic,
        ProviderKind::Ollama => Format::Ollama,
        _ => unreachable!("not a wire format: {kind}"),
    }
}

fn msg(role: Role, content: &str) -> Message {
    Message {
        role,
        content: content.to_owned(),
        attachments: Vec::new(),
    }
}

fn request(messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        agent: None,
        history: None,
        model: FAKE_MODEL.to_owned(),
        system: None,
        messages,
        stream: true,
    }
}

fn ask(text: &str) -> ChatRequest {
    request(vec![msg(Role::User, text)])
}

/// Everything a run produced.
#[derive(Debug, Default)]
struct Outcome {
    deltas: Vec<String>,
    usage: Usage,
    model: Option<String>,
    done: Option<Option<String>>,
    failed: Option<ProviderError>,
    ended: bool,
    /// When each delta arrived, and when Done arrived.
    delta_times: Vec<Instant>,
    done_time: Option<Instant>,
}

impl Outcome {
    fn text(&self) -> String {
        self.deltas.concat()
    }

    fn error(&self) -> &ProviderError {
        self.failed
            .as_ref()
            .unwrap_or_else(|| panic!("expected a failure, got {self:?}"))
    }
}

/// Collects items until the worker finishes.
fn collect(handle: &StreamHandle) -> Outcome {
    let mut out = Outcome::default();
    loop {
        let item = handle
            .next_timeout(WAIT)
            .unwrap_or_else(|e| panic!("no item within {WAIT:?} ({e}); so far {out:?}"));
        match item {
            StreamItem::Event(StreamEvent::Delta(d)) => {
                out.deltas.push(d);
                out.delta_times.push(Instant::now());
            }
            StreamItem::Event(StreamEvent::Usage(u)) => {
                panechat::provider::merge_usage(&mut out.usage, u)
            }
            StreamItem::Event(StreamEvent::Model(m)) => out.model = Some(m),
            StreamItem::Event(
                ev @ (StreamEvent::Session(_)
                | StreamEvent::Tool(_)
                | StreamEvent::Cost(_)
                | StreamEvent::Alive),
            ) => {
                panic!("a coding agent's event from a wire format: {ev:?}")
            }
            StreamItem::Event(StreamEvent::Done { finish_reason }) => {
                assert!(out.done.is_none(), "two Done events");
                out.done = Some(finish_reason);
                out.done_time = Some(Instant::now());
            }
            StreamItem::Failed(e) => {
                out.failed = Some(e);
                return out;
            }
            StreamItem::Ended => {
                out.ended = true;
                return out;
            }
        }
    }
}

fn run(cfg: &ProviderConfig, req: ChatRequest) -> Outcome {
    collect(&start(cfg, req))
}

#[test]
fn chunked_replies_reassemble_with_usage() {
    let fake = FakeProvider::start();
    for kind in HTTP_KINDS {
        let cfg = fake.provider_config(kind);
        let out = run(&cfg, ask("hello there, fake"));
        assert!(out.failed.is_none(), "{kind}: {out:?}");
        assert_eq!(out.text(), "echo: hello there, fake", "{kind}");
        assert!(
            out.deltas.len() >= 3,
            "{kind}: not streamed in chunks: {out:?}"
        );
        assert!(out.done.is_some(), "{kind}: no Done");
        assert!(out.ended, "{kind}");
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: Some(3),
                output_tokens: Some(4)
            },
            "{kind}"
        );
        assert_eq!(out.model, None, "{kind}: same model must not be reported");
        let expected_reason = match kind {
            ProviderKind::Anthropic => "end_turn",
            _ => "stop",
        };
        assert_eq!(out.done, Some(Some(expected_reason.to_owned())), "{kind}");
    }
    assert_eq!(fake.requests().len(), 3);
}

#[test]
fn chunk_count_and_unicode() {
    let fake = FakeProvider::start();
    for kind in HTTP_KINDS {
        let cfg = fake.provider_config(kind);
        let text = "héllo ✓ 🎉 [[chunks:9]]";
        let out = run(&cfg, ask(text));
        assert_eq!(out.text(), format!("echo: {text}"), "{kind}");
        assert_eq!(out.deltas.len(), 9, "{kind}: {:?}", out.deltas);
        assert!(out.done.is_some());
    }
}

#[test]
fn replies_stream_as_they_arrive() {
    let fake = FakeProvider::start();
    for kind in HTTP_KINDS {
        let cfg = fake.provider_config(kind);
        let out = run(&cfg, ask("[[chunks:4]] [[slow:150]]"));
        assert_eq!(out.deltas.len(), 4, "{kind}");
        let first = out.delta_times[0];
        let done = out.done_time.expect("done");
        // Anthropic and OpenAI add parts around the content, all paced by `slow`; the first
        // delta must arrive long before the end (not buffered until the body completes).
        assert!(
            done.duration_since(first) >= Duration::from_millis(400),
            "{kind}: first delta only {:?} before Done",
            done.duration_since(first)
        );
    }
}

#[test]
fn openai_request_body_and_headers() {
    let fake = FakeProvider::start();
    let cfg = fake.provider_config(ProviderKind::Openai);
    let mut req = request(vec![
        msg(Role::User, "first question"),
        msg(Role::Assistant, "first answer"),
        msg(Role::User, "second question"),
    ]);
    req.system = Some("You are terse.".to_owned());
    let out = run(&cfg, req);
    assert!(out.done.is_some(), "{out:?}");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {FAKE_API_KEY}").as_str())
    );
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(
        r.body,
        json!({
            "model": FAKE_MODEL,
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "first question"},
                {"role": "assistant", "content": "first answer"},
                {"role": "user", "content": "second question"},
            ],
            "stream": true,
            "stream_options": {"include_usage": true},
        })
    );
    assert_eq!(out.text(), "echo: second question");
}

#[test]
fn openai_without_key_sends_no_authorization() {
    let fake = FakeProvider::start();
    let mut cfg = fake.provider_config(ProviderKind::Openai);
    cfg.api_key = None;
    // Also: a base URL without /v1 (the `/chat/completions` route) and a trailing slash.
    cfg.base_url = format!("{}/", fake.base_url());
    let out = run(&cfg, ask("hi"));
    assert!(out.done.is_some(), "{out:?}");
    let r = &fake.requests()[0];
    assert_eq!(r.path, "/chat/completions");
    assert_eq!(r.header("authorization"), None);
}

#[test]
fn anthropic_request_body_and_headers() {
    let fake = FakeProvider::start();
    let cfg = fake.provider_config(ProviderKind::Anthropic);
    let mut req = request(vec![
        msg(Role::User, "first question"),
        msg(Role::Assistant, "first answer"),
        msg(Role::User, "second question"),
    ]);
    req.system = Some("You are terse.".to_owned());
    let out = run(&cfg, req);
    assert!(out.done.is_some(), "{out:?}");
    let r = &fake.requests()[0];
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key"), Some(FAKE_API_KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(
        r.body,
        json!({
            "model": FAKE_MODEL,
            "max_tokens": 1024,
            "system": "You are terse.",
            "messages": [
                {"role": "user", "content": "first question"},
                {"role": "assistant", "content": "first answer"},
                {"role": "user", "content": "second question"},
            ],
            "stream": true,
        })
    );
    // Input tokens count the system prompt too (the fake counts words).
    assert_eq!(out.usage.input_tokens, Some(9));

    // A base URL that already ends in /v1 is not doubled; no system prompt → no `system` field.
    fake.clear_requests();
    let mut cfg = cfg.clone();
    cfg.base_url = format!("{}/v1", fake.base_url());
    let out = run(&cfg, ask("hi"));
    assert!(out.done.is_some(), "{out:?}");
    let r = &fake.requests()[0];
    assert_eq!(r.path, "/v1/messages");
    assert!(r.body.get("system").is_none(), "{}", r.body);
}

#[test]
fn ollama_request_body() {
    let fake = FakeProvider::start();
    let cfg = fake.provider_config(ProviderKind::Ollama);
    let mut req = request(vec![
        msg(Role::User, "first question"),
        msg(Role::Assistant, "first answer"),
        msg(Role::User, "second question"),
    ]);
    req.system = Some("You are terse.".to_owned());
    let out = run(&cfg, req);
    assert!(out.done.is_some(), "{out:?}");
    let r = &fake.requests()[0];
    assert_eq!(r.path, "/api/chat");
    assert_eq!(
        r.body,
        json!({
            "model": FAKE_MODEL,
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "first question"},
                {"role": "assistant", "content": "first answer"},
                {"role": "user", "content": "second question"},
            ],
            "stream": true,
        })
    );
}

#[test]
fn non_streaming_mode() {
    let fake = FakeProvider::start();
    for kind in HTTP_KINDS {
        let cfg = fake.provider_config(kind);
        let mut req = ask("one shot please");
        req.stream = false;
        let out = run(&cfg, req);
        assert_eq!(out.text(), "echo: one shot please", "{kind}: {out:?}");
        assert_eq!(out.deltas.len(), 1, "{kind}");
        assert!(out.done.is_some(), "{kind}");
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: Some(3),
                output_tokens: Some(4)
            },
            "{kind}"
        );
        let body = fake.requests().last().unwrap().body.clone();
        assert_eq!(body["stream"], json!(false), "{kind}");
        assert!(body.get("stream_options").is_none(), "{kind}");
    }
}

#[test]
fn mid_stream_errors_carry_the_server_message() {
    let fake = FakeProvider::start();
    for kind in HTTP_KINDS {
        let cfg = fake.provider_config(kind);
        let out = run(&cfg, ask("this will break [[error-mid]]"));
        let err = out.error();
        assert_eq!(err.kind, ProviderErrorKind::Stream, "{kind}: {err:?}");
        assert!(
            err.message.contains(MID_STREAM_ERROR),
            "{kind}: {}",
            err.message
        );
        assert_eq!(
            out.deltas.len(),
            2,
            "{kind}: the chunks before the error arrive"
        );
        assert!(out.done.is_none());
    }
}

#[test]
fn http_errors_carry_the_server_message() {
    let fake = FakeProvider::start();
    for kind in HTTP_KINDS {
        let cfg = fake.provider_config(kind);
        for code in [401u16, 500, 404, 429] {
            let out = run(&cfg, ask(&format!("[[http:{code}]]")));
            let err = out.error();
            assert_eq!(
                err.kind,
                ProviderErrorKind::Http(code),
                "{kind} {code}: {err:?}"
            );
            let server = error_message_for(format_of(kind), code, FAKE_MODEL);
            assert!(
                err.message.contains(&server),
                "{kind} {code}: {:?} lacks {server:?}",
                err.message
            );
            assert!(err.message.contains("127.0.0.1"), "{kind}: names the URL");
            if code == 401 {
                assert!(
                    err.message.contains(FAKE_API_KEY_ENV),
                    "{kind}: 401 should name the key variable: {}",
                    err.message
                );
            }
            assert!(out.deltas.is_empty());
        }
        // Non-streaming requests get the same errors.
        let mut req = ask("[[http:503]]");
        req.stream = false;
        let err = run(&cfg, req).error().clone();
        assert_eq!(err.kind, ProviderErrorKind::Http(503), "{kind}");
    }
}

#[test]
fn unknown_route_is_an_http_error() {
    let fake = FakeProvider::start();
    let mut cfg = fake.provider_config(ProviderKind::Openai);
    cfg.base_url = format!("{}/nowhere", fake.base_url());
    let out = run(&cfg, ask("hi"));
    let err = out.error();
    assert_eq!(err.kind, ProviderErrorKind::Http(404));
    assert!(err.message.contains("no route"), "{}", err.message);
    assert!(err.message.contains("provider.base_url"), "{}", err.message);
}

#[test]
fn refused_connection_is_a_connect_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let fake = FakeProvider::start();
    for kind in HTTP_KINDS {
        let mut cfg = fake.provider_config(kind);
        cfg.base_url = format!("http://127.0.0.1:{port}");
        let out = run(&cfg, ask("hi"));
        let err = out.error();
        assert_eq!(err.kind, ProviderErrorKind::Connect, "{kind}: {err:?}");
        assert!(
            err.message.contains(&format!("127.0.0.1:{port}")),
            "{kind}: {}",
            err.message
        );
        assert!(err.message.contains("provider.base_url"), "{}", err.message);
    }
}

#[test]
fn unresolvable_host_is_a_connect_error() {
    let fake = FakeProvider::start();
    let mut cfg = fake.provider_config(ProviderKind::Ollama);
    cfg.base_url = "http://panechat-no-such-host.invalid:1".to_owned();
    let err = run(&cfg, ask("hi")).error().clone();
    assert_eq!(err.kind, ProviderErrorKind::Connect, "{err:?}");
    assert!(err.message.contains("panechat-no-such-host.invalid"));
}

#[test]
fn cut_and_truncated_streams_fail() {
    let fake = FakeProvider::start();
    for kind in HTTP_KINDS {
        let cfg = fake.provider_config(kind);
        for directive in ["[[cut]]", "[[truncate]]"] {
            let out = run(&cfg, ask(&format!("partial {directive}")));
            let err = out.error();
            assert_eq!(
                err.kind,
                ProviderErrorKind::Protocol,
                "{kind} {directive}: {err:?}"
            );
            assert!(
                err.message
                    .contains("stream ended before the reply was complete"),
                "{kind}: {}",
                err.message
            );
            assert!(out.done.is_none(), "{kind} {directive}");
            assert!(!out.deltas.is_empty(), "{kind} {directive}");
        }
        // Non-streamed bodies cut short fail too.
        let mut req = ask("[[cut]]");
        req.stream = false;
        let err = run(&cfg, req).error().clone();
        assert_eq!(err.kind, ProviderErrorKind::Protocol, "{kind}: {err:?}");
    }
}

#[test]
fn stalled_streams_go_quiet_and_the_server_drop_releases_them() {
    let fake = FakeProvider::start();
    let mut handles = Vec::new();
    for kind in HTTP_KINDS {
        let cfg = fake.provider_config(kind);
        let handle = start(&cfg, ask("and then nothing [[stall]]"));
        // The first chunk arrives (real streaming)…
        loop {
            match handle.next_timeout(WAIT) {
                Ok(StreamItem::Event(StreamEvent::Delta(_))) => break,
                Ok(StreamItem::Event(_)) => {}
                other => panic!("{kind}: expected a first delta, got {other:?}"),
            }
        }
        handles.push((kind, handle));
    }
    // …then nothing.
    for (kind, handle) in &handles {
        let next = handle.next_timeout(Duration::from_millis(400));
        assert!(next.is_err(), "{kind}: expected silence, got {next:?}");
    }
    // Dropping the server releases the connections: each stream then fails as incomplete.
    let t = Instant::now();
    drop(fake);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "drop took {:?}",
        t.elapsed()
    );
    for (kind, handle) in &handles {
        match handle.next_timeout(WAIT) {
            Ok(StreamItem::Failed(e)) => assert_eq!(e.kind, ProviderErrorKind::Protocol, "{kind}"),
            other => panic!("{kind}: expected a failure after the server went away, got {other:?}"),
        }
    }
}

#[test]
fn replies_with_escapes_and_model_reports() {
    let fake = FakeProvider::start();
    for kind in HTTP_KINDS {
        let cfg = fake.provider_config(kind);
        let out = run(
            &cfg,
            ask(r"[[reply:\e]0;pwned\a hi \x9b31m]] [[model:other-model]]"),
        );
        assert_eq!(out.text(), "\x1b]0;pwned\x07 hi \u{9b}31m", "{kind}");
        assert_eq!(out.model.as_deref(), Some("other-model"), "{kind}");
        assert!(out.done.is_some());
    }
}

#[test]
fn title_requests() {
    let fake = FakeProvider::start();
    for kind in HTTP_KINDS {
        let cfg = fake.provider_config(kind);
        let title_req = |first: &str| {
            let mut r = request(vec![
                msg(Role::User, first),
                msg(Role::Assistant, "an answer"),
                msg(
                    Role::User,
                    &format!("Give this conversation a short title. {TITLE_MARKER}."),
                ),
            ]);
            r.stream = false;
            r
        };
        let got = complete(&cfg, title_req("what is rust?"), WAIT).unwrap();
        assert_eq!(got.text, "Fake title", "{kind}");
        let got = complete(&cfg, title_req(r"[[title:Evil\e]2;x\a]] [[slow:1]]"), WAIT).unwrap();
        assert_eq!(got.text, "Evil\x1b]2;x\x07", "{kind}");
        let err = complete(&cfg, title_req("x [[title-http:500]]"), WAIT).unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Http(500), "{kind}");
        // Streaming title requests work the same way.
        let mut r = title_req("q");
        r.stream = true;
        assert_eq!(complete(&cfg, r, WAIT).unwrap().text, "Fake title");
    }
}

#[test]
fn complete_times_out_on_a_stall() {
    let fake = FakeProvider::start();
    let cfg = fake.provider_config(ProviderKind::Openai);
    let t = Instant::now();
    let err = complete(&cfg, ask("[[stall]]"), Duration::from_millis(500)).unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Io);
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn concurrent_requests_each_get_their_own_reply() {
    let fake = FakeProvider::start();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let cfg = fake.provider_config(HTTP_KINDS[i % 3]);
            std::thread::spawn(move || {
                let out = run(&cfg, ask(&format!("request {i} [[slow:10]]")));
                assert_eq!(out.text(), format!("echo: request {i} [[slow:10]]"));
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(fake.requests().len(), 8);
}

#[test]
fn missing_keys() {
    let fake = FakeProvider::start();
    // Official OpenAI endpoint without a key: refused before any network use.
    let mut cfg = fake.provider_config(ProviderKind::Openai);
    cfg.base_url = "https://api.openai.com/v1".to_owned();
    cfg.api_key = None;
    cfg.api_key_env = "OPENAI_API_KEY".to_owned();
    let err = run(&cfg, ask("hi")).error().clone();
    assert_eq!(err.kind, ProviderErrorKind::MissingKey);
    assert!(err.message.contains("OPENAI_API_KEY"), "{}", err.message);
    // Anthropic always needs one (an empty variable counts as unset).
    let mut cfg = fake.provider_config(ProviderKind::Anthropic);
    cfg.api_key = Some(String::new());
    let err = run(&cfg, ask("hi")).error().clone();
    assert_eq!(err.kind, ProviderErrorKind::MissingKey);
    assert!(err.message.contains(FAKE_API_KEY_ENV), "{}", err.message);
    assert!(fake.requests().is_empty());
}

#[test]
fn large_transcripts_round_trip() {
    let fake = FakeProvider::start();
    let big = "word ".repeat(200_000);
    for kind in HTTP_KINDS {
        let cfg = fake.provider_config(kind);
        let out = run(&cfg, ask(&big));
        assert_eq!(out.text(), format!("echo: {big}"), "{kind}");
        assert_eq!(out.usage.input_tokens, Some(word_count(&big) as u64));
        let recorded: Value = fake.requests().last().unwrap().body.clone();
        assert_eq!(recorded["messages"].as_array().unwrap().len(), 1);
    }
}

// ---- the command provider ----

fn command_cfg(argv: &[&str]) -> ProviderConfig {
    ProviderConfig {
        agent: Default::default(),
        kind: ProviderKind::Command,
        base_url: String::new(),
        model: FAKE_MODEL.to_owned(),
        api_key: None,
        api_key_env: "UNUSED".to_owned(),
        command: argv.iter().map(|s| s.to_string()).collect(),
        connect_timeout: Duration::from_secs(5),
        max_tokens: 0,
    }
}

const FAKE_COMMAND: &str = env!("CARGO_BIN_EXE_fake_llm_command");

#[test]
fn command_provider_streams_stdout() {
    let cfg = command_cfg(&[FAKE_COMMAND]);
    let mut req = request(vec![
        msg(Role::User, "earlier"),
        msg(Role::Assistant, "reply"),
        msg(Role::User, "hello command"),
    ]);
    req.system = Some("sys".to_owned());
    let out = run(&cfg, req);
    assert!(out.failed.is_none(), "{out:?}");
    assert_eq!(out.text(), "echo: hello command");
    assert!(
        out.deltas.len() >= 2,
        "streamed in pieces: {:?}",
        out.deltas
    );
    assert_eq!(out.done, Some(None));
}

#[test]
fn command_provider_sends_the_documented_transcript() {
    // `cat` echoes its input: the reply is the transcript JSON itself.
    let cfg = command_cfg(&["cat"]);
    let mut req = request(vec![
        msg(Role::User, "q1"),
        msg(Role::Assistant, "a1"),
        msg(Role::User, "q2"),
    ]);
    req.system = Some("be kind".to_owned());
    let out = run(&cfg, req);
    let text = out.text();
    assert!(text.ends_with('\n'));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v,
        json!({
            "model": FAKE_MODEL,
            "system": "be kind",
            "messages": [
                {"role": "user", "content": "q1"},
                {"role": "assistant", "content": "a1"},
                {"role": "user", "content": "q2"},
            ]
        })
    );
}

#[test]
fn command_provider_never_splits_characters() {
    let cfg = command_cfg(&[FAKE_COMMAND]);
    let out = run(&cfg, ask("héllo ✓ 🎉 [[bytewise]]"));
    assert_eq!(out.text(), "echo: héllo ✓ 🎉 [[bytewise]]");
    assert!(
        out.deltas.iter().all(|d| !d.contains('\u{FFFD}')),
        "{:?}",
        out.deltas
    );
    assert!(out.done.is_some());
}

#[test]
fn command_provider_nonzero_exit() {
    let cfg = command_cfg(&[FAKE_COMMAND]);
    let out = run(&cfg, ask("[[error-mid]]"));
    let err = out.error();
    assert_eq!(err.kind, ProviderErrorKind::Command);
    assert!(err.message.contains("status 3"), "{}", err.message);
    assert!(err.message.contains(MID_STREAM_ERROR), "{}", err.message);
    assert!(!out.deltas.is_empty());
    assert!(out.done.is_none());
}

#[test]
fn command_provider_missing_program() {
    let cfg = command_cfg(&["panechat-definitely-not-installed", "--flag"]);
    let err = run(&cfg, ask("hi")).error().clone();
    assert_eq!(err.kind, ProviderErrorKind::Command);
    assert!(err.message.contains("panechat-definitely-not-installed"));
    assert!(err.message.contains("provider.command"), "{}", err.message);

    let cfg = command_cfg(&["/nonexistent/dir/llm"]);
    let err = run(&cfg, ask("hi")).error().clone();
    assert_eq!(err.kind, ProviderErrorKind::Command);
    assert!(err.message.contains("/nonexistent/dir/llm"));
}

#[test]
fn command_provider_is_not_run_through_a_shell() {
    // An argument full of shell syntax arrives verbatim (printf prints its format argument).
    let cfg = command_cfg(&["printf", "%s", "$(echo no) `echo no` ; echo no"]);
    let out = run(&cfg, ask("hi"));
    assert_eq!(out.text(), "$(echo no) `echo no` ; echo no");
}

#[test]
fn command_provider_runs_in_its_own_process_group() {
    let cfg = command_cfg(&[FAKE_COMMAND]);
    let out = run(&cfg, ask("[[pgid]]"));
    assert_eq!(out.text(), "own process group");
}

#[test]
fn command_provider_cancel_kills_the_child() {
    let cfg = command_cfg(&[FAKE_COMMAND]);
    let handle = start(&cfg, ask("wait forever [[stall]]"));
    match handle.next_timeout(WAIT) {
        Ok(StreamItem::Event(StreamEvent::Delta(_))) => {}
        other => panic!("expected a first delta, got {other:?}"),
    }
    assert!(handle.next_timeout(Duration::from_millis(300)).is_err());
    let t = Instant::now();
    handle.cancel();
    // The provider waits for the child to exit before it finishes: Ended proves it was killed
    // (the fake would otherwise sleep for a minute).
    match handle.next_timeout(Duration::from_secs(10)) {
        Ok(StreamItem::Ended) => {}
        other => panic!("expected Ended after cancel, got {other:?}"),
    }
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
}

// ---- the fake's raw wire output ----

/// Sends a raw HTTP request to the fake and returns (head, de-chunked body, chunk count).
fn raw_post(fake: &FakeProvider, path: &str, body: &Value) -> (String, String, usize) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", fake.port())).unwrap();
    let body = body.to_string();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, mut rest) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    assert!(head.contains("Connection: close"), "{head}");
    let mut out = String::new();
    let mut chunks = 0;
    loop {
        let (size, after) = rest.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size, 16).unwrap();
        if size == 0 {
            assert_eq!(after, "\r\n");
            break;
        }
        out.push_str(&after[..size]);
        assert_eq!(&after[size..size + 2], "\r\n");
        rest = &after[size + 2..];
        chunks += 1;
    }
    (head.to_owned(), out, chunks)
}

#[test]
fn fake_wire_formats_look_like_the_real_ones() {
    let fake = FakeProvider::start();
    let messages = json!([{"role": "user", "content": "hi [[chunks:2]]"}]);

    let (head, body, chunks) = raw_post(
        &fake,
        "/v1/chat/completions",
        &json!({"model": "gpt-x", "messages": messages, "stream": true,
                "stream_options": {"include_usage": true}}),
    );
    assert!(head.starts_with("HTTP/1.1 200 OK"));
    assert!(head.contains("Content-Type: text/event-stream"));
    let events: Vec<&str> = body.split_terminator("\n\n").collect();
    assert_eq!(chunks, events.len(), "one HTTP chunk per event");
    assert_eq!(events.len(), 6, "{body}");
    assert!(events[0]
        .starts_with(r#"data: {"id":"chatcmpl-fake","object":"chat.completion.chunk","created":"#));
    assert!(events[0].contains(r#""delta":{"role":"assistant","content":"","refusal":null}"#));
    assert!(
        events[1].contains(r#""delta":{"content":"echo: hi [["}"#),
        "{}",
        events[1]
    );
    assert!(events[3].contains(r#""delta":{},"logprobs":null,"finish_reason":"stop""#));
    assert!(events[4].contains(r#""choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3,"#));
    assert_eq!(events[5], "data: [DONE]");
    // Without include_usage: no usage chunk and no `usage` keys.
    let (_, body, _) = raw_post(
        &fake,
        "/v1/chat/completions",
        &json!({"model": "gpt-x", "messages": messages, "stream": true}),
    );
    assert!(!body.contains("usage"), "{body}");
    assert_eq!(body.split_terminator("\n\n").count(), 5);

    let (head, body, _) = raw_post(
        &fake,
        "/v1/messages",
        &json!({"model": "claude-x", "max_tokens": 10, "messages": messages, "stream": true}),
    );
    assert!(head.contains("Content-Type: text/event-stream"));
    let names: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert!(body.starts_with(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_fake\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\""
    ));

    let (head, body, chunks) = raw_post(
        &fake,
        "/api/chat",
        &json!({"model": "llama-x", "messages": messages}),
    );
    assert!(head.contains("Content-Type: application/x-ndjson"));
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(chunks, 3);
    assert!(lines[0].starts_with(
        r#"{"model":"llama-x","created_at":"2024-01-01T00:00:00.000000Z","message":{"role":"assistant","content":"echo: hi [["},"done":false}"#
    ));
    assert!(lines[2].contains(r#""done_reason":"stop","done":true,"#));
    assert!(lines[2].contains(r#""prompt_eval_count":2,"#));
}

// ---- attachments ----

fn with_attachments() -> ChatRequest {
    let mut m = msg(Role::User, "why did this fail?");
    m.attachments = vec![
        panechat::context::Attachment {
            source: "pane tmux %3, 2 lines".to_owned(),
            text: "$ make\nerror: no rule to make target 'all'".to_owned(),
        },
        panechat::context::Attachment {
            source: "file Makefile".to_owned(),
            text: "al:\n\techo hi".to_owned(),
        },
    ];
    request(vec![
        msg(Role::User, "earlier"),
        msg(Role::Assistant, "ok"),
        m,
    ])
}

const PANE_FRAMED: &str = "--- pane tmux %3, 2 lines ---\n$ make\nerror: no rule to make target 'all'\n--- end of pane tmux %3, 2 lines ---";
const FILE_FRAMED: &str = "--- file Makefile ---\nal:\n\techo hi\n--- end of file Makefile ---";

#[test]
fn every_provider_kind_receives_attachments_in_its_wire_shape() {
    let fake = FakeProvider::start();
    for kind in HTTP_KINDS {
        fake.clear_requests();
        let out = run(&fake.provider_config(kind), with_attachments());
        assert!(out.failed.is_none(), "{kind}: {out:?}");
        let reqs = fake.wait_for_requests(1, WAIT);
        let body = &reqs[0].body;
        let msgs = body["messages"].as_array().unwrap();
        let last = msgs.last().unwrap();
        assert_eq!(last["role"], "user", "{kind}");
        let want = match kind {
            // Chat Completions content parts and Messages API text blocks: one per attachment,
            // then the question.
            ProviderKind::Openai | ProviderKind::Anthropic => json!([
                {"type": "text", "text": PANE_FRAMED},
                {"type": "text", "text": FILE_FRAMED},
                {"type": "text", "text": "why did this fail?"},
            ]),
            // Ollama's native API takes a string.
            _ => json!(format!(
                "{PANE_FRAMED}\n\n{FILE_FRAMED}\n\nwhy did this fail?"
            )),
        };
        assert_eq!(last["content"], want, "{kind}: {body}");
        // Earlier messages are untouched.
        assert_eq!(msgs[msgs.len() - 3]["content"], "earlier", "{kind}");
        assert!(out.text().starts_with("echo: "), "{kind}: {}", out.text());
    }
    // The command provider: framed text in `content`, the sources beside it.
    let out = run(&command_cfg(&["cat"]), with_attachments());
    let v: Value = serde_json::from_str(&out.text()).unwrap();
    assert_eq!(
        v["messages"][2],
        json!({
            "role": "user",
            "content": format!("{PANE_FRAMED}\n\n{FILE_FRAMED}\n\nwhy did this fail?"),
            "attachments": [
                {"source": "pane tmux %3, 2 lines", "bytes": 42},
                {"source": "file Makefile", "bytes": 12},
            ],
        })
    );
}
