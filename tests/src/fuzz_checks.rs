//! Invariant checks for panechat's parsers, shared by the cargo-fuzz targets
//! (`fuzz/fuzz_targets/*.rs`, one per entry of [`TARGETS`]) and the stable smoke test
//! (`tests/tests/fuzz_smoke.rs`), which runs them on the committed seeds
//! (`fuzz/seeds/<target>/`) and on deterministic mutations of them ([`Mutator`]).
//!
//! Every check takes arbitrary bytes and panics when an invariant does not hold; a parser that
//! panics by itself fails the check the same way. Where a check needs chunk boundaries (the
//! incremental parsers), they are derived from the input's hash, so a fuzzer exploring inputs
//! explores splits too and every failure replays from the input alone.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use panechat::config::{self, Config, DefaultId, LoadOptions};
use panechat::env::Env;
use panechat::error::Error;
use panechat::provider::sse::{LineTooLong, NdjsonSplitter, SseEvent, SseParser};
use panechat::provider::{
    anthropic, ollama, openai, ProviderError, ProviderErrorKind, StreamEvent,
};
use panechat::session::{self, Multiplexer, SessionKey, MAX_KEY_LEN};
use panechat::store::conversation::{is_id_text, snippet, Record, Summary, ID_LEN};
use panechat::store::index::{self, IndexRead};
use panechat::store::log;
use panechat::target::Target;
use panechat::title::{self, MAX_TITLE_CHARS};

/// A check: panics when an invariant fails for the input.
pub type Check = fn(&[u8]);

/// Every fuzz target by name (the name of its `fuzz/fuzz_targets/<name>.rs` and seed folder).
pub const TARGETS: &[(&str, Check)] = &[
    ("sse", check_sse),
    ("ndjson", check_ndjson),
    ("provider_streams", check_provider_streams),
    ("log", check_log),
    ("index", check_index),
    ("target", check_target),
    ("session", check_session),
    ("config", check_config),
    ("title", check_title),
];

// ---------------------------------------------------------------------------------------------
// Randomness and chunking

/// SplitMix64: a small deterministic generator (no dependency, same sequence everywhere).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `1/n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Inputs longer than this are not also fed one byte at a time (random small chunks cover it).
const BYTEWISE_MAX: usize = 128;

/// Ways to cut `data` into chunks: whole first, then one byte at a time (short inputs), a cut in
/// two, and random chunk sizes (down to 0–3 bytes when `fine`), all derived from the input's
/// hash.
pub fn chunkings(data: &[u8], fine: bool) -> Vec<Vec<&[u8]>> {
    let mut rng = Rng::new(panechat_vocab::key::fnv1a(data));
    let mut out = vec![vec![data]];
    if data.len() <= BYTEWISE_MAX {
        out.push(data.chunks(1).collect());
    }
    let cut = rng.below(data.len() + 1);
    out.push(vec![&data[..cut], &data[cut..]]);
    let sizes: &[usize] = if fine { &[3, 17, 257] } else { &[29] };
    for &max in sizes {
        let mut chunks = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            // Empty chunks too: a read may return nothing new.
            let n = rng.below(max + 1).min(rest.len());
            chunks.push(&rest[..n]);
            rest = &rest[n..];
        }
        out.push(chunks);
    }
    out
}

fn layout(chunks: &[&[u8]]) -> Vec<usize> {
    chunks.iter().map(|c| c.len()).collect()
}

/// Length of the longest run of bytes that are not line terminators.
fn longest_line(data: &[u8], is_terminator: impl Fn(u8) -> bool) -> usize {
    data.split(|&b| is_terminator(b))
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0)
}

fn assert_no_controls(what: &str, s: &str, allowed: &[char]) {
    if let Some(c) = s
        .chars()
        .find(|&c| title::is_control(c) && !allowed.contains(&c))
    {
        panic!("{what} contains the control character {c:?}: {s:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// sse

/// Feeds `chunks` to an SSE parser; stops at the first error. Returns the events and the error.
fn run_sse(chunks: &[&[u8]], max_line: Option<usize>) -> (Vec<SseEvent>, Option<LineTooLong>) {
    let mut p = match max_line {
        Some(m) => SseParser::with_max_line(m),
        None => SseParser::new(),
    };
    let mut out = Vec::new();
    for c in chunks {
        match p.feed(c) {
            Ok(evs) => out.extend(evs),
            Err(e) => return (out, Some(e)),
        }
    }
    out.extend(p.finish());
    assert_eq!(p.finish(), None, "a second finish() returned an event");
    (out, None)
}

/// A plain, whole-input reading of the event-stream rules (the parser's module docs), to compare
/// the incremental parser against.
fn reference_sse(data: &[u8]) -> Vec<SseEvent> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let mut lines: Vec<&[u8]> = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < data.len() {
        match data[i] {
            b'\n' => {
                lines.push(&data[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&data[start..i]);
                if data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < data.len() {
        lines.push(&data[start..]);
    }
    let mut out = Vec::new();
    let (mut event, mut data_lines, mut id): (Option<String>, Option<Vec<String>>, Option<String>) =
        (None, None, None);
    let dispatch = |event: &mut Option<String>,
                    data_lines: &mut Option<Vec<String>>,
                    id: &Option<String>,
                    out: &mut Vec<SseEvent>| {
        let event = event.take();
        if let Some(d) = data_lines.take() {
            out.push(SseEvent {
                event,
                data: d.join("\n"),
                id: id.clone(),
            });
        }
    };
    for line in lines {
        if line.is_empty() {
            dispatch(&mut event, &mut data_lines, &id, &mut out);
            continue;
        }
        if line[0] == b':' {
            continue;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value).into_owned();
        match name {
            b"data" => data_lines.get_or_insert_with(Vec::new).push(value),
            b"event" => event = Some(value),
            b"id" if !value.contains('\0') => id = Some(value),
            _ => {}
        }
    }
    dispatch(&mut event, &mut data_lines, &id, &mut out);
    out
}

/// `SseParser`: never panics; every way of splitting the input gives the events of a plain
/// whole-input reading of the rules; a line limit fails exactly when some line is longer, after
/// a prefix of the same events.
pub fn check_sse(data: &[u8]) {
    let expected = reference_sse(data);
    for ev in &expected {
        assert!(!ev.data.contains('\r'), "data keeps a line break: {ev:?}");
        let bad = |s: &Option<String>| s.as_deref().is_some_and(|s| s.contains(['\r', '\n']));
        assert!(
            !bad(&ev.event) && !bad(&ev.id),
            "a field keeps a line break: {ev:?}"
        );
        assert!(!ev.id.as_deref().unwrap_or("").contains('\0'), "{ev:?}");
    }
    let limit = 1 + (panechat_vocab::key::fnv1a(data) % 48) as usize;
    let too_long = longest_line(data, |b| b == b'\n' || b == b'\r') > limit;
    for chunks in chunkings(data, true) {
        let (events, err) = run_sse(&chunks, None);
        assert!(err.is_none());
        assert_eq!(events, expected, "chunks {:?}", layout(&chunks));
        let (events, err) = run_sse(&chunks, Some(limit));
        assert_eq!(
            err.is_some(),
            too_long,
            "line limit {limit}, chunks {:?}",
            layout(&chunks)
        );
        assert!(
            expected.starts_with(&events),
            "events before the line-limit error are not a prefix: {events:?}"
        );
        if let Some(e) = err {
            assert_eq!(e, LineTooLong { limit });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ndjson

fn run_ndjson(chunks: &[&[u8]], max_line: Option<usize>) -> (Vec<String>, Option<LineTooLong>) {
    let mut s = match max_line {
        Some(m) => NdjsonSplitter::with_max_line(m),
        None => NdjsonSplitter::new(),
    };
    let mut out = Vec::new();
    for c in chunks {
        match s.feed(c) {
            Ok(lines) => out.extend(lines),
            Err(e) => return (out, Some(e)),
        }
    }
    out.extend(s.finish());
    assert_eq!(s.finish(), None, "a second finish() returned a line");
    (out, None)
}

/// `NdjsonSplitter`: never panics; every split gives the trimmed, non-blank `\n`-separated lines
/// (the last one even without its newline); a line limit fails exactly when a line is longer.
pub fn check_ndjson(data: &[u8]) {
    let expected: Vec<String> = data
        .split(|&b| b == b'\n')
        .map(|l| String::from_utf8_lossy(l).trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    let limit = 1 + (panechat_vocab::key::fnv1a(data) % 48) as usize;
    let too_long = longest_line(data, |b| b == b'\n') > limit;
    for chunks in chunkings(data, true) {
        let (lines, err) = run_ndjson(&chunks, None);
        assert!(err.is_none());
        assert_eq!(lines, expected, "chunks {:?}", layout(&chunks));
        let (lines, err) = run_ndjson(&chunks, Some(limit));
        assert_eq!(
            err.is_some(),
            too_long,
            "line limit {limit}, chunks {:?}",
            layout(&chunks)
        );
        assert!(expected.starts_with(&lines), "{lines:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// provider_streams

/// The model the decoded requests asked for (the seeds' OpenAI samples use it).
pub const REQUESTED_MODEL: &str = "gpt-4o-mini";

type Outcome = (Vec<StreamEvent>, Result<(), ProviderError>);

/// What every decoded body must satisfy, streamed or not.
fn check_outcome(what: &str, (events, res): &Outcome) {
    let dones = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Done { .. }))
        .count();
    let ends_done = matches!(events.last(), Some(StreamEvent::Done { .. }));
    match res {
        Ok(()) => assert!(
            dones == 1 && ends_done,
            "{what}: success must end with exactly one Done: {events:?}"
        ),
        Err(e) => {
            assert_eq!(dones, 0, "{what}: failed after Done: {e:?} {events:?}");
            assert!(
                matches!(
                    e.kind,
                    ProviderErrorKind::Protocol | ProviderErrorKind::Stream
                ),
                "{what}: unexpected error kind {e:?}"
            );
            // The message is printed to the terminal: server text must have been cleaned.
            assert_no_controls(what, &e.message, &[]);
            assert!(!e.message.contains(['\n', '\t']), "{what}: {:?}", e.message);
            assert!(
                e.message.chars().count() <= 1500,
                "{what}: error message of {} characters",
                e.message.chars().count()
            );
        }
    }
    for ev in events {
        match ev {
            StreamEvent::Delta(t) => assert!(!t.is_empty(), "{what}: empty delta"),
            StreamEvent::Model(m) => assert!(
                !m.is_empty() && m != REQUESTED_MODEL,
                "{what}: Model event for {m:?}"
            ),
            StreamEvent::Usage(u) => assert!(
                u.input_tokens.is_some() || u.output_tokens.is_some(),
                "{what}: empty usage"
            ),
            StreamEvent::Done { .. } => {}
            StreamEvent::Session(_)
            | StreamEvent::Tool(_)
            | StreamEvent::Cost(_)
            | StreamEvent::Alive => {
                panic!("{what}: a coding agent's event from a wire format: {ev:?}")
            }
        }
    }
}

/// The three HTTP wire formats: for each, the streamed decoder over every split of the input
/// gives the same events and result, and both the streamed and the non-streamed decoder keep
/// the outcome invariants (success iff exactly one final `Done`; errors are clean, bounded,
/// `Protocol` or `Stream`; no empty deltas or usage).
pub fn check_provider_streams(data: &[u8]) {
    type Decode = fn(&str, &[&[u8]]) -> Outcome;
    type DecodeFull = fn(&str, &[u8]) -> Outcome;
    let formats: [(&str, Decode, DecodeFull); 3] = [
        ("openai", openai::decode_stream, openai::decode_full),
        (
            "anthropic",
            anthropic::decode_stream,
            anthropic::decode_full,
        ),
        ("ollama", ollama::decode_stream, ollama::decode_full),
    ];
    // Splits inside lines are the `sse` and `ndjson` targets' business; coarser ones suffice.
    let splits = chunkings(data, false);
    for (name, stream, full) in formats {
        let whole = stream(REQUESTED_MODEL, &splits[0]);
        check_outcome(name, &whole);
        for chunks in &splits[1..] {
            assert_eq!(
                stream(REQUESTED_MODEL, chunks),
                whole,
                "{name}: chunks {:?}",
                layout(chunks)
            );
        }
        check_outcome(
            &format!("{name} (not streamed)"),
            &full(REQUESTED_MODEL, data),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// log

/// Where parsed logs claim to come from (only used in messages).
pub const LOG_PATH: &str = "/fuzz/conversations/01fuzz00000000000.jsonl";

fn assert_valid_id(what: &str, id: &str) {
    assert!(
        id.len() == ID_LEN && is_id_text(id),
        "{what}: {id:?} is not a valid conversation id"
    );
}

/// `parse_record` / `parse_log`: never panic; every record re-encodes as one line that parses
/// back to itself; a log that parses has the turns of its turn lines, valid ids, and its torn
/// tail (bytes after the last newline) is noted and otherwise ignored; a log that does not parse
/// is a `Corrupt` error naming the file and an existing line.
pub fn check_log(data: &[u8]) {
    let path = Path::new(LOG_PATH);
    let complete = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line_count = data[..complete].split(|&b| b == b'\n').count();
    let mut turns = Vec::new();
    for line in data[..complete].split(|&b| b == b'\n') {
        if let Ok(Some(rec)) = log::parse_record(line) {
            let enc = log::encode(&rec);
            assert_eq!(
                enc.iter().position(|&b| b == b'\n'),
                Some(enc.len() - 1),
                "a record must encode as exactly one line: {rec:?}"
            );
            assert_eq!(
                log::parse_record(&enc[..enc.len() - 1]),
                Ok(Some(rec.clone())),
                "record does not round-trip"
            );
            if let Record::Turn(t) = rec {
                turns.push(t);
            }
        }
    }
    match log::parse_log(path, data) {
        Ok(conv) => {
            let torn = (complete < data.len()).then_some(complete as u64);
            assert_eq!(conv.torn_tail, torn);
            assert_eq!(conv.turns, turns, "turns differ from the turn lines");
            assert_valid_id("header id", conv.header.id.as_str());
            if let Some(p) = &conv.header.parent {
                assert_valid_id("parent id", p.id.as_str());
            }
            assert!(conv.title.as_deref() != Some(""), "empty title kept");
            let _ = panechat::time::ago(&conv.updated_at);
            let _ = panechat::time::parse(&conv.header.created_at);
            let mut whole = log::parse_log(path, &data[..complete]).expect("complete lines parse");
            assert_eq!(whole.torn_tail, None);
            whole.torn_tail = conv.torn_tail;
            assert_eq!(whole, conv, "the torn tail changed what parsed");
            let s = conv.summary();
            assert_eq!(s.turns, conv.turns.len() as u64);
            if let Some(m) = &s.last_message {
                assert!(m.chars().count() <= 60, "{m:?}");
                assert_no_controls("last_message", m, &[]);
            }
        }
        Err(Error::Corrupt { path: p, line, msg }) => {
            assert_eq!(p, path);
            assert!(
                line >= 1 && line <= line_count.max(1),
                "line {line} of {line_count}: {msg}"
            );
        }
        Err(e) => panic!("parse_log failed with a non-Corrupt error: {e:?}"),
    }
}

/// Stable-test companion of [`check_log`] (needs a file, too slow for libFuzzer): for a log that
/// parses, `last_turns(n)` is the last `n` turns `parse_log` sees, for several `n`. `file` is a
/// scratch path it may overwrite.
pub fn check_last_turns_file(data: &[u8], file: &Path) {
    let Ok(conv) = log::parse_log(file, data) else {
        return;
    };
    std::fs::write(file, data).expect("writing the scratch log");
    let len = conv.turns.len();
    let mut ns = vec![0, 1, 2, 3, 7, len, len + 1, len + 10];
    ns.extend(len.checked_sub(1));
    ns.extend(len.checked_sub(2));
    for n in ns {
        let got = log::last_turns(file, n).expect("last_turns");
        assert_eq!(
            got,
            conv.turns[len.saturating_sub(n)..],
            "last_turns({n}) of {len} turns"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// index

/// `parse_index`: never panics; counts complete non-empty lines and the ones that do not parse;
/// keeps, for each id, the summary of its last line unless that is a tombstone; sorted most
/// recently updated first; ids valid.
pub fn check_index(data: &[u8]) {
    let r = index::parse_index(data);
    let complete = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut lines = 0;
    let mut bad = Vec::new();
    let mut last: HashMap<String, Summary> = HashMap::new();
    for (i, line) in data[..complete].split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        lines += 1;
        match serde_json::from_slice::<Summary>(line) {
            Ok(s) => {
                last.insert(s.id.as_str().to_owned(), s);
            }
            Err(_) => bad.push(i + 1),
        }
    }
    assert_eq!(r.lines, lines);
    assert_eq!(r.bad_lines, bad);
    let mut want: Vec<&Summary> = last.values().filter(|s| !s.deleted).collect();
    want.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    assert_eq!(r.summaries.iter().collect::<Vec<_>>(), want);
    for s in &r.summaries {
        assert_valid_id("summary id", s.id.as_str());
        let _ = s.display_title();
        let _ = panechat::time::ago(&s.updated_at);
        let _ = panechat::time::parse(&s.created_at);
    }
    let _ = index::needs_compaction(&r);
}

/// Stable-test companion of [`check_index`]: `read` of a file holding `data` is `parse_index` of
/// it. `file` is a scratch path it may overwrite.
pub fn check_index_file(data: &[u8], file: &Path) {
    std::fs::write(file, data).expect("writing the scratch index");
    let from_file = index::read(file).expect("reading the index");
    let from_bytes = index::parse_index(data);
    let key = |r: &IndexRead| (r.summaries.clone(), r.lines, r.bad_lines.clone());
    assert_eq!(key(&from_file), key(&from_bytes));
}

// ---------------------------------------------------------------------------------------------
// target

/// `Target::parse`: keywords (in any ASCII case) only as themselves; ids are lower-cased id text
/// of at most [`ID_LEN`] characters that parse back to themselves; anything else is a usage
/// error whose message has no control characters and a bounded length.
pub fn check_target(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let t = s.trim().to_ascii_lowercase();
    match Target::parse(&s) {
        Ok(Target::Last) => assert_eq!(t, "last"),
        Ok(Target::Prev) => assert!(t == "prev" || t == "-", "{t:?}"),
        Ok(Target::Pick) => assert_eq!(t, "pick"),
        Ok(Target::Id(p)) => {
            assert!(p.len() <= ID_LEN && is_id_text(&p), "{p:?}");
            assert_eq!(p, t);
            assert_eq!(Target::parse(&p).ok(), Some(Target::Id(p.clone())));
        }
        Err(Error::BadArgument { message: m }) => {
            assert_no_controls("usage error", &m, &[]);
            assert!(m.chars().count() <= 250, "{m:?}");
        }
        Err(e) => panic!("Target::parse failed with a non-usage error: {e:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// session

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._:%@+=,-~".contains(&b)
}

fn check_key(what: &str, k: &SessionKey) {
    let s = k.as_str();
    assert!(!s.is_empty() && s.len() <= MAX_KEY_LEN, "{what}: {s:?}");
    assert!(s.bytes().all(is_key_byte), "{what}: unsafe key {s:?}");
    assert_eq!(
        SessionKey::normalize(s).ok().as_ref(),
        Some(k),
        "{what}: a key is not its own normal form"
    );
    let stem = k.file_stem();
    assert!(
        stem.len() <= 65
            && stem
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "{what}: unsafe file stem {stem:?}"
    );
}

/// Builds an environment from `NAME=VALUE` lines (values are raw bytes, so not always UTF-8).
/// A line `@pane=VALUE` names a pane for [`session::key_for_pane`] instead.
fn env_from_lines(data: &[u8]) -> (Env, Option<String>) {
    let mut pairs: Vec<(String, OsString)> = Vec::new();
    let mut pane = None;
    for line in data.split(|&b| b == b'\n') {
        let (name, value) = match line.iter().position(|&b| b == b'=') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        let name = String::from_utf8_lossy(name).into_owned();
        if name == "@pane" {
            pane = Some(String::from_utf8_lossy(value).into_owned());
        } else {
            pairs.push((name, OsString::from_vec(value.to_vec())));
        }
    }
    (Env::from_pairs(pairs), pane)
}

/// `SessionKey::normalize` and `resolve`: keys are non-empty, at most [`MAX_KEY_LEN`] bytes of
/// safe characters, their own normal form, with safe file stems; distinct raw keys stay
/// distinct; `resolve` over any environment succeeds with a key whose prefix names its
/// multiplexer (or the normalised `PANECHAT_SESSION`).
pub fn check_session(data: &[u8]) {
    let whole = String::from_utf8_lossy(data);
    match SessionKey::normalize(&whole) {
        Ok(k) => check_key("normalize", &k),
        Err(e) => assert!(
            whole.is_empty() && matches!(e, Error::BadArgument { .. }),
            "normalize({whole:?}) failed: {e:?}"
        ),
    }
    let raw_lines: Vec<Cow<str>> = data
        .split(|&b| b == b'\n')
        .take(16)
        .map(String::from_utf8_lossy)
        .filter(|l| !l.is_empty())
        .collect();
    for w in raw_lines.windows(2) {
        // A key is its own normal form (keys printed by `sessions` are passed back with
        // `--session`), so a raw key and its normal form rightly share it; any other two
        // distinct raw keys must not.
        let (a, b) = (
            SessionKey::normalize(&w[0]).ok(),
            SessionKey::normalize(&w[1]).ok(),
        );
        let one_is_the_others_form = a.as_ref().is_some_and(|k| k.as_str() == w[1])
            || b.as_ref().is_some_and(|k| k.as_str() == w[0]);
        if w[0] != w[1] && !one_is_the_others_form {
            assert_ne!(
                SessionKey::normalize(&w[0]).ok(),
                SessionKey::normalize(&w[1]).ok(),
                "distinct raw keys collide"
            );
        }
    }

    let (env, pane) = env_from_lines(data);
    let s = session::resolve(&env).expect("resolve never fails here");
    check_key("resolve", &s.key);
    if let Some(p) = &s.pane {
        assert!(p.chars().count() <= 64, "pane {p:?}");
    }
    let explicit = env
        .get_os("PANECHAT_SESSION")
        .filter(|v| !v.is_empty())
        .map(|v| v.to_string_lossy().into_owned());
    match explicit {
        Some(raw) => {
            assert_eq!(s.multiplexer, Multiplexer::Explicit);
            assert_eq!(SessionKey::normalize(&raw).ok(), Some(s.key.clone()));
        }
        None => assert_eq!(
            Multiplexer::from_key(s.key.as_str()),
            s.multiplexer,
            "key {} from {:?}",
            s.key,
            s.multiplexer
        ),
    }
    if let Some(pane) = pane {
        // Panes are named in the multiplexer this runs in; in a tmux popup only `TMUX` is set
        // (and tmux panes are named `%N`); a command the Zellij plugin runs has only the
        // session's name (and names panes `terminal_N`); in the WezTerm GUI (the plugin's
        // commands) only WezTerm's socket is set.
        let popup =
            (env.get("TMUX").is_some() && pane.starts_with('%')).then_some(Multiplexer::Tmux);
        let plugin = (env.get("ZELLIJ_SESSION_NAME").is_some() && pane.starts_with("terminal_"))
            .then_some(Multiplexer::Zellij);
        let expected = session::innermost_multiplexer(&env)
            .or(popup)
            .or(plugin)
            .or(env.get("WEZTERM_UNIX_SOCKET").map(|_| Multiplexer::Wezterm));
        match session::key_for_pane(&env, &pane) {
            Ok(Some(other)) => {
                check_key("key_for_pane", &other.key);
                assert_eq!(Some(other.multiplexer), expected);
                assert_eq!(Multiplexer::from_key(other.key.as_str()), other.multiplexer);
            }
            Ok(None) => assert_eq!(expected, None),
            Err(e) => assert!(matches!(e, Error::BadArgument { .. }), "{e:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// config

/// Where fuzzed config text claims to come from.
pub const CONFIG_PATH: &str = "/fuzz/home/.config/panechat/config.toml";

/// Keys a project file may not set.
const PROJECT_FORBIDDEN: [&str; 4] = [
    "provider.kind",
    "provider.base_url",
    "provider.api_key_env",
    "provider.command",
];

fn check_config_value(what: &str, c: &Config) {
    let now = std::time::Instant::now();
    for d in [
        c.idle_timeout,
        c.timeout,
        c.connect_timeout,
        c.lock_wait,
        c.title_timeout,
    ] {
        assert!(
            now.checked_add(d).is_some(),
            "{what}: a duration of {d:?} overflows a deadline"
        );
    }
    assert!(
        c.base_url.is_empty()
            || c.base_url.starts_with("http://")
            || c.base_url.starts_with("https://"),
        "{what}: base_url {:?}",
        c.base_url
    );
    if c.kind == panechat::provider::ProviderKind::Command {
        assert!(!c.command.is_empty(), "{what}: command kind without argv");
    }
    if let DefaultId::Id(id) = &c.default_id {
        assert!(
            !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{what}: default_id {id:?}"
        );
    }
    let _ = c.provider();
}

/// One config layer (`parse_layer_for_fuzz`, the code path of config files) and each line as a
/// `--cfg` flag and as an environment variable (`Config::load`): never panics; errors are config
/// or usage errors that name their source; a project file can never set where requests go or
/// what runs; anything accepted as a project file is accepted as a user file, with the same
/// result.
pub fn check_config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let path = Path::new(CONFIG_PATH);
    let mut results = Vec::new();
    for project in [false, true] {
        let what = if project { "project file" } else { "user file" };
        match config::parse_layer_for_fuzz(path, &text, project) {
            Ok(c) => {
                check_config_value(what, &c);
                for key in config::keys().map(|k| k.0) {
                    let src = c
                        .source(key)
                        .unwrap_or_else(|| panic!("no source for {key}"));
                    assert!(src == "default" || src == CONFIG_PATH, "{key} from {src:?}");
                    if project && PROJECT_FORBIDDEN.contains(&key) {
                        assert_eq!(src, "default", "a project file set {key}");
                    }
                }
                results.push(Some(format!("{c:?}")));
            }
            Err(Error::Config(m)) => {
                assert!(
                    m.contains(CONFIG_PATH),
                    "{what}: error without its source: {m}"
                );
                results.push(None);
            }
            Err(e) => panic!("{what}: non-config error {e:?}"),
        }
    }
    if results[1].is_some() {
        assert_eq!(
            results[0], results[1],
            "project file accepted, user file not"
        );
    }

    let vars = [
        "PANECHAT_LOCK_DURATION",
        "PANECHAT_PROVIDER",
        "PANECHAT_MODEL",
        "PANECHAT_BASE_URL",
    ];
    for (i, line) in text.lines().take(8).enumerate() {
        let var = vars[i % vars.len()];
        let env = Env::from_pairs([(var, line)]);
        match Config::load(&env, &LoadOptions::default()) {
            Ok(c) => check_config_value(var, &c),
            Err(Error::Config(m)) => assert!(m.contains(var), "error without its source: {m}"),
            Err(e) => panic!("{var}: unexpected error {e:?}"),
        }
        let opts = LoadOptions {
            overrides: vec![line.to_owned()],
            ..LoadOptions::default()
        };
        match Config::load(&Env::default(), &opts) {
            Ok(c) => check_config_value("--cfg", &c),
            Err(Error::Config(m) | Error::BadArgument { message: m }) => {
                assert!(m.contains("--cfg"), "error without its source: {m}")
            }
            Err(e) => panic!("--cfg: unexpected error {e:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// title

/// The form every sanitised title has.
fn check_title_form(what: &str, t: &str) {
    assert_no_controls(what, t, &[]);
    assert!(
        !t.chars().any(|c| c.is_whitespace() && c != ' '),
        "{what}: whitespace other than spaces: {t:?}"
    );
    assert!(
        !t.starts_with(' ') && !t.ends_with(' ') && !t.contains("  "),
        "{what}: spaces not folded: {t:?}"
    );
    assert!(t.chars().count() <= MAX_TITLE_CHARS, "{what}: too long");
    assert_eq!(
        title::sanitize_title(t),
        t,
        "{what}: sanitising is not idempotent"
    );
}

/// Whether `small`'s characters appear in `big` in order.
fn is_subsequence(small: impl Iterator<Item = char>, big: &str) -> bool {
    let mut big = big.chars();
    small.into_iter().all(|c| big.any(|b| b == c))
}

/// `sanitize_title`, `clean_generated_title`, `strip_terminal_controls` and `snippet`: no
/// control characters (but `\n` and `\t` in reply text), folded whitespace, bounded length,
/// idempotent, and nothing added that was not in the input.
pub fn check_title(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let t = title::sanitize_title(&s);
    check_title_form("sanitize_title", &t);
    assert!(is_subsequence(t.chars().filter(|&c| c != ' '), &s), "{t:?}");

    let g = title::clean_generated_title(&s);
    check_title_form("clean_generated_title", &g);
    assert!(is_subsequence(g.chars().filter(|&c| c != ' '), &s), "{g:?}");

    let x = title::strip_terminal_controls(&s);
    assert_no_controls("strip_terminal_controls", &x, &['\n', '\t']);
    let unchanged = !s
        .chars()
        .any(|c| title::is_control(c) && c != '\n' && c != '\t');
    assert_eq!(matches!(x, Cow::Borrowed(_)), unchanged);
    assert!(is_subsequence(x.chars(), &s));
    assert_eq!(
        x.chars().count(),
        s.chars()
            .filter(|&c| !title::is_control(c) || c == '\n' || c == '\t')
            .count()
    );
    assert!(matches!(
        title::strip_terminal_controls(&x),
        Cow::Borrowed(_)
    ));

    let sn = snippet(&s);
    assert_no_controls("snippet", &sn, &[]);
    assert!(sn.chars().count() <= 60);
}

// ---------------------------------------------------------------------------------------------
// Mutation, for the stable smoke test

/// Byte strings worth inserting: line endings, SSE fields, JSON and TOML punctuation, big
/// numbers, escapes, controls, a BOM and non-UTF-8 bytes.
const TOKENS: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b"\r",
    b"\n\n",
    b"data: ",
    b"data:",
    b"event: ",
    b"id: ",
    b"retry: 5",
    b": ",
    b"\xEF\xBB\xBF",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b":",
    b"null",
    b"true",
    b"0",
    b"-1",
    b"18446744073709551615",
    b"18446744073709551616",
    b"9223372036854775807",
    b"1e999",
    b"\\u0000",
    b"\\u001b[31m",
    b"\\ud800",
    b"[DONE]",
    b"\"done\":true",
    b"\"type\":\"turn\"",
    b"\"type\":\"header\"",
    b"\"type\":\"message_stop\"",
    b"\"error\":",
    b"\x1b]2;x\x07",
    b"\xC2\x9B",
    b"\x7f",
    b"\xff",
    b"\xe2\x80",
    b"\0",
    b"=",
    b"%",
    b" ",
    b"\t",
    b"\xC2\xA0",
    "é✓".as_bytes(),
    b"[provider]",
    b"provider.kind",
    b"command",
    b"PANECHAT_SESSION=",
    b"TMUX_PANE=%",
    b"Title: ",
];

/// Deterministic seed mutations: bit flips, byte changes, truncations, deletions, duplications,
/// token and random-byte insertions, and splices with other seeds.
#[derive(Debug)]
pub struct Mutator {
    rng: Rng,
    seeds: Vec<Vec<u8>>,
    max_len: usize,
}

impl Mutator {
    /// Mutates `seeds` (at least one), keeping inputs at most `max_len` bytes.
    pub fn new(seed: u64, seeds: Vec<Vec<u8>>, max_len: usize) -> Mutator {
        assert!(!seeds.is_empty(), "no seeds");
        Mutator {
            rng: Rng::new(seed),
            seeds,
            max_len,
        }
    }

    /// The next input: a seed with one to six mutations applied.
    pub fn next_input(&mut self) -> Vec<u8> {
        let i = self.rng.below(self.seeds.len());
        let mut v = self.seeds[i].clone();
        for _ in 0..1 + self.rng.below(6) {
            self.mutate(&mut v);
        }
        v.truncate(self.max_len);
        v
    }

    fn range(&mut self, len: usize) -> (usize, usize) {
        let a = self.rng.below(len + 1);
        let b = a + self.rng.below(len - a + 1).min(64);
        (a, b)
    }

    fn mutate(&mut self, v: &mut Vec<u8>) {
        let r = &mut self.rng;
        match r.below(10) {
            0 if !v.is_empty() => {
                let i = r.below(v.len());
                v[i] ^= 1 << r.below(8);
            }
            1 if !v.is_empty() => {
                let i = r.below(v.len());
                v[i] = r.next_u64() as u8;
            }
            2 => {
                let n = r.below(v.len() + 1);
                v.truncate(n);
            }
            3 => {
                let (a, b) = self.range(v.len());
                v.drain(a..b);
            }
            4 => {
                let (a, b) = self.range(v.len());
                let copy = v[a..b].to_vec();
                let at = self.rng.below(v.len() + 1);
                v.splice(at..at, copy);
            }
            5 | 6 => {
                let tok = TOKENS[r.below(TOKENS.len())];
                let at = r.below(v.len() + 1);
                v.splice(at..at, tok.iter().copied());
            }
            7 => {
                let n = 1 + r.below(8);
                let at = r.below(v.len() + 1);
                let bytes: Vec<u8> = (0..n).map(|_| r.next_u64() as u8).collect();
                v.splice(at..at, bytes);
            }
            8 => {
                // Splice: our head, another seed's tail.
                let other = self.seeds[r.below(self.seeds.len())].clone();
                let at = r.below(v.len() + 1);
                let from = r.below(other.len() + 1);
                v.truncate(at);
                v.extend_from_slice(&other[from..]);
            }
            _ => {
                // Replace a line ending or quote region with a token (structure-aware-ish).
                let from = r.below(v.len() + 1);
                if let Some(i) = v[from..]
                    .iter()
                    .position(|&b| b == b'\n' || b == b'"')
                    .map(|i| from + i)
                {
                    let tok = TOKENS[r.below(TOKENS.len())];
                    v.splice(i..i + 1, tok.iter().copied());
                }
            }
        }
    }
}
