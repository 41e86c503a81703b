//! The fuzz targets' invariants on plain `cargo test`, so parsing is exercised on any machine
//! without a nightly toolchain: every check of `panechat_e2e::fuzz_checks` runs on its committed
//! seeds (`fuzz/seeds/<target>/`) and on deterministic mutations of them (20,000 per target;
//! `PANECHAT_FUZZ_SMOKE_ITERS` changes that). A failing input is saved to a file that
//! `cargo +nightly fuzz run <target> <file>` replays.
//!
//! The checks that need files (`last_turns` against `parse_log`, `index::read` against
//! `parse_index`) run here only: a file per input is too slow for libFuzzer.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

use panechat::store::conversation::{ConversationId, Header, Record, Turn};
use panechat::store::log;
use panechat_e2e::fuzz_checks::{self, Check, Mutator, TARGETS};
use panechat_vocab::key::fnv1a;

const DEFAULT_ITERATIONS: usize = 20_000;

/// Mutated inputs are cut to this many bytes (libFuzzer's default `-max_len` is 4096 too).
const MAX_LEN: usize = 4096;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn iterations() -> usize {
    match std::env::var("PANECHAT_FUZZ_SMOKE_ITERS") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("PANECHAT_FUZZ_SMOKE_ITERS={v:?} is not a number")),
        Err(_) => DEFAULT_ITERATIONS,
    }
}

/// The seed files of `target`, sorted by name.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join("seeds").join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| {
            let p = entry.expect("dir entry").path();
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

/// A scratch directory of one test (tests run in parallel).
fn scratch_dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("panechat-fuzz-smoke-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&d).expect("creating the scratch dir");
    d
}

/// Runs `check` on `data`; on failure saves the input and fails with where it is.
fn run_one(target: &str, label: &str, check: impl Fn(&[u8]), data: &[u8]) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(data))) {
        let msg = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        let file =
            std::env::temp_dir().join(format!("panechat-fuzz-smoke-{target}-{:016x}", fnv1a(data)));
        let saved = std::fs::write(&file, data).is_ok();
        panic!(
            "fuzz check `{target}` failed on {label}: {msg}\ninput ({} bytes): {:?}\n{}",
            data.len(),
            String::from_utf8_lossy(&data[..data.len().min(600)]),
            if saved {
                format!(
                    "saved to {}; replay with: cargo +nightly fuzz run {target} {}",
                    file.display(),
                    file.display()
                )
            } else {
                "(could not save it)".to_owned()
            }
        );
    }
}

/// The seeds, then mutations of them.
fn run_target(target: &str, check: Check) {
    let start = Instant::now();
    let seeds = seeds(target);
    for (name, data) in &seeds {
        run_one(target, &format!("seed {name}"), check, data);
    }
    let n = iterations();
    let mut m = Mutator::new(
        fnv1a(target.as_bytes()),
        seeds.into_iter().map(|s| s.1).collect(),
        MAX_LEN,
    );
    for i in 0..n {
        let input = m.next_input();
        run_one(target, &format!("mutation {i}"), check, &input);
    }
    eprintln!("{target}: {n} inputs in {:.1?}", start.elapsed());
}

fn check_of(target: &str) -> Check {
    TARGETS
        .iter()
        .find(|t| t.0 == target)
        .unwrap_or_else(|| panic!("no check named {target}"))
        .1
}

macro_rules! targets {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_target(stringify!($name), check_of(stringify!($name)));
            }
        )*

        #[test]
        fn every_check_has_a_test_a_fuzz_target_and_seeds() {
            let tested = [$(stringify!($name)),*];
            let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml"))
                .expect("fuzz/Cargo.toml");
            for (name, _) in TARGETS {
                assert!(tested.contains(name), "no smoke test for {name}");
                let src = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
                let text = std::fs::read_to_string(&src)
                    .unwrap_or_else(|e| panic!("{}: {e}", src.display()));
                assert!(
                    text.contains(&format!("fuzz_checks::check_{name}(")),
                    "{} does not run check_{name}",
                    src.display()
                );
                assert!(
                    manifest.contains(&format!("name = \"{name}\"")),
                    "fuzz/Cargo.toml has no [[bin]] for {name}"
                );
                assert!(!seeds(name).is_empty());
            }
            assert_eq!(tested.len(), TARGETS.len());
        }
    };
}

targets!(
    sse,
    ndjson,
    provider_streams,
    log,
    index,
    target,
    session,
    config,
    title
);

fn turn(i: usize, filler: usize) -> Turn {
    Turn {
        agent: None,
        cost_usd: None,
        user: format!("question {i} {}", "q".repeat(filler)),
        assistant: format!("answer {i}\n{}", "a".repeat(filler / 2)),
        model: "m".into(),
        usage: Default::default(),
        started_at: format!("s{i}"),
        finished_at: format!("f{i}"),
        finish_reason: (i % 3 == 0).then(|| "stop".to_owned()),
        truncated: i % 5 == 0,
        attachments: Vec::new(),
        message_id: None,
    }
}

/// Logs of several sizes around `last_turns`' 64 KiB read blocks, with lines longer than a block,
/// titles and unknown records between turns, and torn tails.
fn generated_logs() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (count, filler) in [(0, 0), (3, 10), (400, 300), (40, 70_000), (1200, 100)] {
        let mut bytes = log::encode(&Record::Header(Header {
            agent: None,
            v: 1,
            id: ConversationId::parse("01m7ychr35eb8jpned").unwrap(),
            created_at: "c".into(),
            parent: None,
            model: None,
            system: None,
        }));
        for i in 0..count {
            bytes.extend(log::encode(&Record::Turn(turn(
                i,
                (i * 37 + filler) % (filler + 1),
            ))));
            if i % 7 == 0 {
                bytes.extend(log::encode(&Record::Title {
                    title: format!("t{i}"),
                    at: "x".into(),
                    source: "user".into(),
                }));
            }
            if i % 11 == 0 {
                bytes.extend_from_slice(b"{\"type\":\"reaction\",\"emoji\":\"+1\"}\n\n");
            }
        }
        out.push(bytes.clone());
        bytes.extend_from_slice(b"{\"type\":\"turn\",\"user\":\"torn");
        out.push(bytes);
    }
    out
}

#[test]
fn last_turns_agrees_with_parse_log() {
    let dir = scratch_dir("last_turns");
    let file = dir.join("c.jsonl");
    let check = |data: &[u8]| fuzz_checks::check_last_turns_file(data, &file);
    for (i, data) in generated_logs().iter().enumerate() {
        run_one("log", &format!("generated log {i}"), check, data);
    }
    let seeds = seeds("log");
    for (name, data) in &seeds {
        run_one("log", &format!("seed {name}"), check, data);
    }
    let mut m = Mutator::new(7, seeds.into_iter().map(|s| s.1).collect(), MAX_LEN);
    for i in 0..(iterations() / 10) {
        let input = m.next_input();
        run_one("log", &format!("last_turns mutation {i}"), check, &input);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn index_read_agrees_with_parse_index() {
    let dir = scratch_dir("index");
    let file = dir.join("index.jsonl");
    let check = |data: &[u8]| fuzz_checks::check_index_file(data, &file);
    let seeds = seeds("index");
    for (name, data) in &seeds {
        run_one("index", &format!("seed {name}"), check, data);
    }
    let mut m = Mutator::new(11, seeds.into_iter().map(|s| s.1).collect(), MAX_LEN);
    for i in 0..(iterations() / 20) {
        let input = m.next_input();
        run_one("index", &format!("read mutation {i}"), check, &input);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
