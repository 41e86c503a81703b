//! Context attached to a question: a pane's text in real tmux (`--pane`, `--pane left`), piped
//! input with a message, `-f` files and their errors. The fake provider records each request.

use std::time::{Duration, Instant};

use panechat_e2e::env::{panechat_bin, TestEnv};
use panechat_e2e::fake::FakeProvider;
use panechat_e2e::helpers::{json, setup};
use panechat_e2e::tmux::Server;
use panechat_e2e::zellij::{Opts, Zellij};

/// A build that fails: coloured output, a title sequence, a secret in the environment dump.
const FAIL_SCRIPT: &str = r#"printf '\033]2;building\007\033[1m   Compiling\033[0m demo v0.1.0\n'
printf '\033[1;31merror[E0425]\033[0m: cannot find value `count` in this scope\n'
printf ' --> src/main.rs:3:20\n'
printf 'OPENAI_API_KEY=sk-proj-Zq3vX9aB7cD1eF5gH2iJ4kL6mN8oP0qR\n'
exit 101
"#;

/// What a person sees of that build on the screen, the secret masked (the command line first).
const SEEN: &str = "$ bash fail.sh\n   Compiling demo v0.1.0\nerror[E0425]: cannot find value `count` in this scope\n --> src/main.rs:3:20\nOPENAI_API_KEY=[REDACTED OpenAI key]";

#[test]
fn a_pane_and_its_neighbour_are_attached_as_seen() {
    panechat_e2e::needs!("tmux");
    let fake = FakeProvider::start();
    let env = TestEnv::new();
    env.use_openai(&fake.base_url_openai());
    std::fs::write(env.root.join("work/fail.sh"), FAIL_SCRIPT).unwrap();
    let tmux = Server::start(&env, "ctx", 150, 40);
    let p0 = tmux.ok(&["display-message", "-p", "-t", "t", "#{pane_id}"]);
    let p0 = p0.trim().to_string();
    let p1 = tmux
        .ok(&[
            "split-window",
            "-h",
            "-t",
            &p0,
            "-P",
            "-F",
            "#{pane_id}",
            "-c",
            &env.root.join("work").display().to_string(),
            "bash --norc --noprofile",
        ])
        .trim()
        .to_string();
    let pc = panechat_bin().display().to_string();
    for p in [&p0, &p1] {
        tmux.quiet_prompt(p);
    }
    tmux.type_line(&p0, "bash fail.sh");
    tmux.wait_for_joined(&p0, "OPENAI_API_KEY");

    // From the neighbour on the right: `--pane left` takes the first pane's screen as it is.
    tmux.type_line(
        &p1,
        &format!("{pc} q --new --pane left 'what broke there? [[reply:a typo]]'; echo DONE-$((1))"),
    );
    let screen1 = tmux.wait_for_joined(&p1, "DONE-1");
    let r = fake.request_for("what broke there? [[reply:a typo]]");
    let got = r.text_parts();
    assert_eq!(got.len(), 2, "{got:?}");
    let lines = SEEN.lines().count() + 1;
    assert_eq!(
        got[0],
        format!("--- pane tmux {p0}, {lines} lines ---\n{SEEN}\n$\n--- end of pane tmux {p0}, {lines} lines ---")
    );
    assert_eq!(got[1], "what broke there? [[reply:a typo]]");
    assert!(
        screen1.contains(&format!(
            "panechat: attached pane tmux {p0}, {lines} lines ("
        )) && screen1.contains("masked 1 secret"),
        "{screen1}"
    );
    assert!(screen1.contains("a typo"), "{screen1}");
    // `--pane --lines N`: only the last N lines of this pane (the command line left out).
    tmux.type_line(
        &p1,
        &format!("{pc} q --pane --lines 3 'those three? [[reply:yes]]'; echo DONE-$((3))"),
    );
    tmux.wait_for_joined(&p1, "DONE-3");
    let got = fake.request_for("those three? [[reply:yes]]").text_parts();
    assert!(
        got[0].starts_with(&format!(
            "--- pane tmux {p1}, 3 lines ---\npanechat: attached pane tmux {p0}"
        )) && got[0].ends_with(&format!(
            "a typo\nDONE-1\n--- end of pane tmux {p1}, 3 lines ---"
        )),
        "{}",
        got[0]
    );
    // The focus never moved.
    assert_eq!(
        tmux.ok(&["display-message", "-p", "-t", "t", "#{pane_id}"])
            .trim(),
        p1
    );

    // In the pane itself: the screen without the command line that asks.
    tmux.type_line(
        &p0,
        &format!("{pc} q --new --pane 'why did this fail? [[reply:count is undefined]]'; echo DONE-$((2))"),
    );
    tmux.wait_for_joined(&p0, "DONE-2");
    let r = fake.request_for("why did this fail? [[reply:count is undefined]]");
    let got = r.text_parts();
    let n = SEEN.lines().count();
    assert_eq!(
        got[0],
        format!(
            "--- pane tmux {p0}, {n} lines ---\n{SEEN}\n--- end of pane tmux {p0}, {n} lines ---"
        )
    );
    assert!(!r.raw_body.contains("\\u001b"), "escape sequences sent");
    assert!(!r.raw_body.contains("Zq3vX9aB7cD1"), "the secret was sent");
    assert!(
        !r.raw_body.contains("building"),
        "the title sequence was sent"
    );

    // The stored turn carries the attachment; a follow-up sends it again as history.
    let ls = json(&env.run(["ls", "--json"]).ok().stdout);
    let mine = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["panes"][0]["pane"] == p0.as_str())
        .unwrap_or_else(|| panic!("{ls}"))
        .clone();
    assert_eq!(mine["attachments"], 1);
    let id = mine["id"].as_str().unwrap();
    let shown = json(&env.run(["show", id, "--json"]).ok().stdout);
    let att = &shown["messages"][0]["attachments"][0];
    assert_eq!(att["source"], format!("pane tmux {p0}, {n} lines"));
    assert_eq!(att["text"], SEEN);
    let text = env.run(["show", id]).ok().stdout;
    assert!(
        text.contains(&format!("[attached: pane tmux {p0}, {n} lines, "))
            && !text.contains("cannot find value"),
        "collapsed by default:\n{text}"
    );
    let full = env.run(["show", id, "--attachments"]).ok().stdout;
    assert!(full.contains("error[E0425]: cannot find value"), "{full}");

    tmux.type_line(
        &p0,
        &format!("{pc} q 'and how do I fix it? [[reply:declare it]]'; echo DONE-$((4))"),
    );
    tmux.wait_for_joined(&p0, "DONE-4");
    let r = fake.request_for("and how do I fix it? [[reply:declare it]]");
    let msgs = r.body["messages"].as_array().unwrap();
    assert_eq!(
        msgs[0]["content"],
        format!("--- pane tmux {p0}, {n} lines ---\n{SEEN}\n--- end of pane tmux {p0}, {n} lines ---\n\nwhy did this fail? [[reply:count is undefined]]")
    );
    assert_eq!(msgs[1]["content"], "count is undefined");
    assert_eq!(
        msgs[2]["content"],
        "and how do I fix it? [[reply:declare it]]"
    );
}

#[test]
fn pane_outside_a_multiplexer_says_what_works() {
    let (env, fake) = setup();
    let r = env.run(["q", "--new", "--pane", "why?"]).code(2);
    assert!(
        r.stderr.contains("does not run in one")
            && r.stderr.contains("panechat q \"why did this fail?\"")
            && r.stderr.contains("-f PATH"),
        "{}",
        r.stderr
    );
    let r = env.run(["q", "--new", "--pane=sideways", "why?"]).code(2);
    assert!(
        r.stderr.contains("left, right, up, down, last"),
        "{}",
        r.stderr
    );
    assert!(fake.requests().is_empty());
}

#[test]
fn piped_output_and_the_message_are_both_sent() {
    let (env, fake) = setup();
    let make = b"cc -c main.c\n\x1b[01;31merror:\x1b[0m 'x' undeclared\r\nmake: *** [Makefile:2: all] Error 1\n\n\n";
    let r = env.run_stdin(["q", "--new", "why [[reply:x is undeclared]]"], make);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("x is undeclared"));
    assert!(
        r.stderr.contains("panechat: attached stdin (70 B)"),
        "{}",
        r.stderr
    );
    let got = fake
        .request_for("why [[reply:x is undeclared]]")
        .text_parts();
    assert_eq!(
        got,
        [
            "--- stdin ---\ncc -c main.c\nerror: 'x' undeclared\nmake: *** [Makefile:2: all] Error 1\n--- end of stdin ---",
            "why [[reply:x is undeclared]]"
        ]
    );
    // A fork keeps the attachment with its turn.
    let fork = json(&env.run(["fork", "--json"]).ok().stdout);
    let shown = json(
        &env.run(["show", fork["id"].as_str().unwrap(), "--json"])
            .ok()
            .stdout,
    );
    assert_eq!(shown["messages"][0]["attachments"][0]["source"], "stdin");
    assert_eq!(
        shown["messages"][0]["attachments"][0]["text"],
        "cc -c main.c\nerror: 'x' undeclared\nmake: *** [Makefile:2: all] Error 1"
    );
    // Without a message, stdin is the message (as before), not an attachment.
    fake.clear_requests();
    let r = env.run_stdin(["q", "[[reply:ok]] just text"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("attached"), "{}", r.stderr);
    let r = env.run_stdin(["q"], b"the question itself");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("attached"), "{}", r.stderr);
    let last = fake.requests().last().unwrap().body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["content"], "the question itself");
}

#[test]
fn files_are_attached_and_bad_ones_refused() {
    let (env, fake) = setup();
    let work = env.root.join("work");
    std::fs::write(work.join("main.c"), "int main() { return x; }\n").unwrap();
    std::fs::write(work.join("prog"), b"\x7fELF\x02\x01\x01\x00\x00").unwrap();
    std::fs::create_dir_all(work.join("src")).unwrap();

    let r = env.run([
        "q",
        "--new",
        "-f",
        "main.c",
        "--file",
        "src/../main.c",
        "what is wrong?",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = fake.request_for("what is wrong?").text_parts();
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[0],
        "--- file main.c ---\nint main() { return x; }\n--- end of file main.c ---"
    );
    assert!(got[1].starts_with("--- file src/../main.c ---\n"));

    // The README's example, word for word.
    std::fs::write(work.join("src/main.rs"), "fn main() { let x: u8 = 256; }\n").unwrap();
    std::fs::write(work.join("Cargo.toml"), "[package]\nname = \"demo\"\n").unwrap();
    let r = env.run([
        "q",
        "-f",
        "src/main.rs",
        "-f",
        "Cargo.toml",
        "why does this not build?",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = fake.request_for("why does this not build?").text_parts();
    assert_eq!(
        got,
        [
            "--- file src/main.rs ---\nfn main() { let x: u8 = 256; }\n--- end of file src/main.rs ---",
            "--- file Cargo.toml ---\n[package]\nname = \"demo\"\n--- end of file Cargo.toml ---",
            "why does this not build?",
        ]
    );

    let before = fake.requests().len();
    for (args, want) in [
        (
            vec!["-f", "missing.c"],
            "cannot attach missing.c: no such file",
        ),
        (vec!["-f", "src"], "cannot attach src: it is a directory"),
        (
            vec!["-f", "prog"],
            "file prog looks binary (a NUL byte at offset 7)",
        ),
        (vec!["-f", "/dev/zero"], "not a regular file"),
    ] {
        let mut argv = vec!["q", "--new"];
        argv.extend(args);
        argv.push("why?");
        let r = env.run(&argv).code(2);
        assert!(r.stderr.contains(want), "{argv:?}: {}", r.stderr);
        // One line: the reason is said once, in the user's words, not again as the OS says it.
        assert_eq!(r.stderr.lines().count(), 1, "{argv:?}: {}", r.stderr);
    }
    assert_eq!(fake.requests().len(), before, "nothing was sent");

    // A 50 MB file: read only up to the cap, cut visibly, quickly.
    let big = work.join("big.log");
    let line = "2026-12-02T10:00:00Z INFO a log line of a long build, padded to be wide\n";
    let chunk = line.repeat(1024 * 1024 / line.len() + 1);
    let mut data = Vec::with_capacity(51 * 1024 * 1024);
    while data.len() < 50 * 1024 * 1024 {
        data.extend_from_slice(chunk.as_bytes());
    }
    std::fs::write(&big, &data).unwrap();
    let t = Instant::now();
    let r = env.run(["q", "--new", "-f", "big.log", "summarise [[reply:long]]"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    assert!(
        r.stderr.contains("big.log (262.") && r.stderr.contains("cut at context.max_bytes"),
        "{}",
        r.stderr
    );
    let got = fake.request_for("summarise [[reply:long]]").text_parts();
    assert!(got[0].len() < 270_000, "{}", got[0].len());
    assert!(
        got[0].contains("MB cut here: context.max_bytes is 262144 …]\n--- end of file big.log ---"),
        "{}",
        &got[0][got[0].len() - 200..]
    );
}

#[test]
fn zellij_panes_are_attached_with_dump_screen() {
    panechat_e2e::needs!("zellij");
    let fake = FakeProvider::start();
    let env = TestEnv::new();
    env.use_openai(&fake.base_url_openai());
    std::fs::write(env.root.join("work/fail.sh"), FAIL_SCRIPT).unwrap();
    let zj = Zellij::start(
        &env,
        Opts {
            size: (200, 50),
            ..Opts::default()
        },
    );
    zj.wait_prompt(0);
    let right = zj.new_pane_with(&["--direction", "right"]);
    let left = 0;
    let wait_for = |pane: u64, needle: &str| -> String {
        zj.wait_for(
            &format!("terminal_{pane} showing {needle:?}"),
            Duration::from_secs(30),
            |z| z.full_screen(pane).contains(needle),
        );
        zj.full_screen(pane)
    };
    for p in [left, right] {
        zj.type_line(p, "clear");
        zj.wait_for("a bare prompt", Duration::from_secs(30), |z| {
            z.full_screen(p).trim() == "$"
        });
    }
    zj.type_line(left, "bash fail.sh");
    wait_for(left, "OPENAI_API_KEY");
    let pc = panechat_bin().display().to_string();

    zj.type_line(
        right,
        &format!("{pc} q --new --pane left 'what broke there? [[reply:a typo]]'; echo DONE-$((1))"),
    );
    let screen = wait_for(right, "DONE-1");
    assert!(screen.contains("a typo"), "{screen}");
    let got = fake
        .request_for("what broke there? [[reply:a typo]]")
        .text_parts();
    let lines = SEEN.lines().count() + 1;
    assert!(
        got[0].starts_with(&format!("--- pane zellij terminal_0, {lines} lines ---\n")),
        "{}",
        got[0]
    );
    assert!(
        got[0].ends_with(&format!(
            "{SEEN}\n$\n--- end of pane zellij terminal_0, {lines} lines ---"
        )),
        "{}",
        got[0]
    );

    zj.type_line(
        left,
        &format!(
            "{pc} q --new --pane 'why did this fail? [[reply:count is undefined]]'; echo DONE-$((2))"
        ),
    );
    wait_for(left, "DONE-2");
    let r = fake.request_for("why did this fail? [[reply:count is undefined]]");
    let got = r.text_parts();
    let n = SEEN.lines().count();
    assert_eq!(
        got[0],
        format!("--- pane zellij terminal_0, {n} lines ---\n{SEEN}\n--- end of pane zellij terminal_0, {n} lines ---")
    );
    assert!(!r.raw_body.contains("\\u001b"), "escape sequences sent");
    assert!(!r.raw_body.contains("Zq3vX9aB7cD1"), "the secret was sent");

    // A line that wraps right after a blank: dump-screen drops the blank ("xx…xtail"), the
    // attachment keeps it.
    let width = zj.pane(0)["pane_content_columns"]
        .as_u64()
        .expect("terminal_0's width") as usize;
    let xs = "x".repeat(width - 1);
    zj.type_line(left, "clear");
    zj.type_line(
        left,
        &format!(
            "printf '%s %s\\n' \"$(printf 'x%.0s' $(seq {}))\" tail",
            width - 1
        ),
    );
    let screen = wait_for(left, &format!("{xs}tail"));
    assert!(!screen.contains(&format!("{xs} tail")), "{screen}");
    assert!(screen.lines().any(|l| l == format!("{xs}tail")), "{screen}");
    zj.type_line(
        right,
        &format!("{pc} q --new --pane left 'and this? [[reply:ok]]'; echo DONE-$((3))"),
    );
    let screen = wait_for(right, "DONE-3");
    assert!(screen.contains("ok\n"), "no answer shown:\n{screen}");
    let got = fake.request_for("and this? [[reply:ok]]").text_parts();
    assert!(got[0].contains(&format!("\n{xs} tail\n")), "{}", got[0]);
}

/// The secrets fixture: every shape to mask, each secret between « and ». Returns the text
/// without the marks and the secrets.
fn marked_secrets() -> (String, Vec<String>) {
    let marked = include_str!("../fixtures/redact/secrets.txt");
    let mut text = String::new();
    let mut secrets = Vec::new();
    let mut rest = marked;
    while let Some(i) = rest.find('«') {
        text.push_str(&rest[..i]);
        let after = &rest[i + '«'.len_utf8()..];
        let j = after.find('»').expect("a secret ends with »");
        text.push_str(&after[..j]);
        secrets.push(after[..j].to_string());
        rest = &after[j + '»'.len_utf8()..];
    }
    text.push_str(rest);
    (text, secrets)
}

/// Build and test output as it appears in a pane: cargo, rustc, npm, vitest, pytest, pip, go,
/// git, docker, make, kubectl, terraform, curl, digests, UUIDs and base64.
const CLEAN_CORPUS: &[(&str, &str)] = &[
    (
        "cargo.log",
        include_str!("../fixtures/redact/clean/cargo.log"),
    ),
    ("npm.log", include_str!("../fixtures/redact/clean/npm.log")),
    (
        "pytest.log",
        include_str!("../fixtures/redact/clean/pytest.log"),
    ),
    (
        "gotest.log",
        include_str!("../fixtures/redact/clean/gotest.log"),
    ),
    ("git.log", include_str!("../fixtures/redact/clean/git.log")),
    (
        "docker.log",
        include_str!("../fixtures/redact/clean/docker.log"),
    ),
    (
        "misc.log",
        include_str!("../fixtures/redact/clean/misc.log"),
    ),
];

#[test]
fn every_secret_shape_is_masked_and_build_output_is_left_alone() {
    use panechat::context::redact;
    let (text, secrets) = marked_secrets();
    let (out, n) = redact(&text);
    for s in &secrets {
        assert!(!out.contains(s.as_str()), "{s} left in:\n{out}");
    }
    assert_eq!(n, secrets.len(), "one mask per secret:\n{out}");
    // What is around a secret stays: the header name, the URL, the key name.
    for kept in [
        "aws_secret_access_key = [REDACTED AWS secret key]",
        "\"Authorization\": \"Bearer [REDACTED credential]\"",
        "\"X-Api-Key\": \"[REDACTED credential]\"",
        "MY_KEY_[REDACTED OpenAI key]",
        "config:\\n[REDACTED OpenAI key]\\nend",
        "postgres://app:[REDACTED password]@db.internal:5432/app",
        "PRIVATE-TOKEN: [REDACTED credential]",
        "Cookie: [REDACTED credential]",
        "session = [REDACTED JWT]",
    ] {
        assert!(out.contains(kept), "{kept:?} not in:\n{out}");
    }
    assert_eq!(redact(&out).1, 0, "masking twice masks nothing more");

    for (name, log) in CLEAN_CORPUS {
        let (out, n) = redact(log);
        assert_eq!(n, 0, "{name}: a false positive:\n{out}");
        assert_eq!(&out, log);
    }
}

#[test]
fn masking_256_kib_is_fast() {
    use panechat::context::redact;
    let (secrets, _) = marked_secrets();
    let mut text = String::new();
    while text.len() < 256 * 1024 {
        for (_, log) in CLEAN_CORPUS {
            text.push_str(log);
        }
        text.push_str(&secrets);
    }
    // Texts made to make a matcher look far ahead again and again, and one without a newline.
    let fill = |unit: &str| unit.repeat(256 * 1024 / unit.len());
    let hostile = [
        text,
        fill("xAIzaAIza"),
        fill("ghp_"),
        fill("Cookie: a b "),
        fill("password:\""),
        fill("aws_session_token=AAAA"),
        fill("eyJaaaaaaaaaa."),
        fill("u:p@x://"),
        fill("é"),
    ];
    for (i, t) in hostile.iter().enumerate() {
        let start = Instant::now();
        let (out, _) = redact(t);
        let took = start.elapsed();
        assert!(!out.is_empty());
        // Unoptimised test builds on a busy machine: the bound catches a matcher that goes
        // quadratic (minutes), not a slow run.
        assert!(
            took < Duration::from_secs(2),
            "masking text {i} ({} KiB) took {took:?}",
            t.len() / 1024
        );
        eprintln!("masking text {i} ({} KiB) took {took:?}", t.len() / 1024);
    }
}

#[test]
fn secrets_in_a_file_are_masked_before_they_are_sent_or_stored() {
    let (env, fake) = setup();
    let (text, secrets) = marked_secrets();
    std::fs::write(env.root.join("work/creds.txt"), &text).unwrap();
    let r = env.run(["q", "--new", "-f", "creds.txt", "what is configured?"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sent = fake
        .request_for("what is configured?")
        .text_parts()
        .join("\n");
    let stored = env.run(["show", "--json", "--attachments"]).ok().stdout;
    for s in &secrets {
        assert!(!sent.contains(s.as_str()), "{s} was sent:\n{sent}");
        assert!(!stored.contains(s.as_str()), "{s} was stored");
    }
    assert!(sent.contains("[REDACTED AWS secret key]"), "{sent}");
}

/// `clear; echo x; panechat q --pane …` typed as one line: the screen shows `x` and no command
/// line (clear erased it), so nothing but `x` is there to attach, and it is attached. The same
/// after each way a screen gets cleared (`clear`, the erase-scrollback sequence `clear` sends
/// for terminals with E3, tmux's `clear-history`), through a shell function whose name is not
/// panechat's, and with the command typed on a line of its own (which is left out). In real
/// tmux with an attached client.
#[test]
fn what_is_on_screen_after_clear_is_attached() {
    panechat_e2e::needs!("tmux");
    let fake = FakeProvider::start();
    let env = TestEnv::new();
    env.use_openai(&fake.base_url_openai());
    let mut w = panechat_e2e::tmux::World::start(&env, 100, 30);
    w.attach(&env, 100, 30);
    let p0 = w.pane0();
    w.tmux.quiet_prompt(&p0);
    let pc = panechat_bin().display().to_string();
    w.tmux
        .type_line(&p0, &format!("ask() {{ {pc} q --new --pane \"$@\"; }}"));
    let cases = [
        ("clear; echo x1; {pc} q --new --pane", "x1"),
        (
            "printf '\\033[H\\033[2J\\033[3J'; echo x2; {pc} q --new --pane",
            "x2",
        ),
        (
            "tmux clear-history; clear; echo x3; {pc} q --new --pane",
            "x3",
        ),
        ("clear; echo x4; ask", "x4"),
    ];
    for (n, (line, seen)) in cases.iter().enumerate() {
        let question = format!("what is on screen {n}? [[reply:ok]]");
        w.tmux.type_line(
            &p0,
            &format!(
                "{} '{question}'; echo DONE-$(({n}+100))",
                line.replace("{pc}", &pc)
            ),
        );
        let screen = w.tmux.wait_for_joined(&p0, &format!("DONE-{}", n + 100));
        assert!(
            !screen.contains("no text to attach"),
            "after `{line}`:\n{screen}"
        );
        let got = fake.request_for(&question).text_parts();
        assert_eq!(
            got[0],
            format!(
                "--- pane tmux {p0}, 1 line ---\n{seen}\n--- end of pane tmux {p0}, 1 line ---"
            ),
            "after `{line}`"
        );
    }
    // The command on a line of its own after `clear; echo x`: that line is left out.
    w.tmux.type_line(&p0, "clear; echo x5");
    w.tmux.wait_for_joined(&p0, "x5\n$");
    w.tmux.type_line(
        &p0,
        &format!("{pc} q --new --pane 'and now? [[reply:ok]]'; echo DONE-$((200))"),
    );
    w.tmux.wait_for_joined(&p0, "DONE-200");
    let got = fake.request_for("and now? [[reply:ok]]").text_parts();
    assert_eq!(
        got[0],
        format!("--- pane tmux {p0}, 1 line ---\nx5\n--- end of pane tmux {p0}, 1 line ---")
    );
    // What the person saw: the attachment named, no error.
    let screen = w.screen();
    assert!(!screen.contains("no text to attach"), "{screen}");
}
