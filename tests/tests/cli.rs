//! End-to-end tests of the `panechat` binary against the fake provider.

use std::process::Stdio;
use std::time::{Duration, Instant};

use panechat_e2e::env::TestEnv;
use panechat_e2e::fake::FakeProvider;
use panechat_e2e::helpers::{active, hold, json, setup, show};
use serde_json::Value;

fn no_panic(r: &panechat_e2e::env::Run) {
    assert!(!r.stderr.contains("panicked"), "panic: {}", r.stderr);
}

#[test]
fn two_sessions_keep_separate_conversations() {
    let (env, fake) = setup();
    let a = env.run_in("pane-a", ["q", "alpha", "one"]).ok();
    assert_eq!(a.stdout, "echo: alpha one\n");
    env.run_in("pane-b", ["q", "--new", "beta"]).ok();
    fake.clear_requests();
    let a2 = env.run_in("pane-a", ["q", "alpha two"]).ok();
    assert_eq!(a2.stdout, "echo: alpha two\n");
    let reqs = fake.requests();
    let chat: Vec<_> = reqs
        .iter()
        .filter(|r| !r.raw_body.contains("Reply with the title only"))
        .collect();
    assert_eq!(chat.len(), 1);
    let msgs = chat[0].messages();
    assert_eq!(
        msgs,
        vec![
            ("user".into(), "alpha one".into()),
            ("assistant".into(), "echo: alpha one".into()),
            ("user".into(), "alpha two".into())
        ]
    );
    assert_ne!(active(&env, "pane-a"), active(&env, "pane-b"));
    let ls = json(&env.run(["ls", "--json"]).ok().stdout);
    assert_eq!(ls.as_array().unwrap().len(), 2);
    // The first turn produced a generated title.
    let st = env.run(["status", "--session", "pane-a"]).ok();
    assert_eq!(st.stdout, "Fake title\n");
    assert_eq!(
        show(&env, "pane-a", None)["messages"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn prev_last_and_default_id() {
    let (env, fake) = setup();
    env.run_in("a", ["q", "--new", "first"]).ok();
    let first = active(&env, "a");
    env.run_in("a", ["q", "--new", "second"]).ok();
    let second = active(&env, "a");
    assert_ne!(first, second);
    // prev works like cd -.
    env.run_in("a", ["use", "prev"]).ok();
    assert_eq!(active(&env, "a"), first);
    env.run_in("a", ["use", "prev"]).ok();
    assert_eq!(active(&env, "a"), second);
    env.run_in("a", ["q", "--id", "prev", "to first"]).ok();
    assert_eq!(active(&env, "a"), first);
    // last: the conversation activated last, from another session.
    fake.clear_requests();
    env.run_in("b", ["q", "--id", "last", "from b"]).ok();
    assert_eq!(active(&env, "b"), first);
    let msgs = fake.requests()[0].messages();
    assert_eq!(msgs[0].1, "first");
    // default_id: without an active conversation and no terminal, `ask` explains what to do.
    let r = env.run_in("c", ["q", "hello"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--new") && r.stderr.contains("default_id"),
        "{}",
        r.stderr
    );
    let r = env
        .run_in("c", ["--cfg", "conversation.default_id=last", "q", "hello"])
        .ok();
    assert_eq!(r.stdout, "echo: hello\n");
    assert_eq!(active(&env, "c"), first);
    env.run_in("d", ["--cfg", "conversation.default_id=new", "q", "hi"])
        .ok();
    let d = active(&env, "d");
    assert!(![first.as_str(), second.as_str()].contains(&d.as_str()));
    // A fixed id prefix as default.
    env.run_in(
        "e",
        [
            "--cfg",
            &format!("conversation.default_id={}", &second[..12]),
            "q",
            "x",
        ],
    )
    .ok();
    assert_eq!(active(&env, "e"), second);
}

#[test]
fn fork_keeps_only_the_last_n_turns() {
    let (env, fake) = setup();
    for i in 1..=4 {
        env.run_in("a", ["q", &format!("turn {i}")]).ok();
    }
    let parent = active(&env, "a");
    fake.clear_requests();
    let r = env.run_in("a", ["q", "--fork=2", "after fork"]).ok();
    assert_eq!(r.stdout, "echo: after fork\n");
    let child = active(&env, "a");
    assert_ne!(child, parent);
    let msgs = fake.requests()[0].messages();
    let users: Vec<_> = msgs
        .iter()
        .filter(|(r, _)| r == "user")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(users, ["turn 3", "turn 4", "after fork"]);
    let v = show(&env, "a", None);
    assert_eq!(v["parent"]["id"], parent.as_str());
    assert_eq!(v["parent"]["turns_kept"], 2);
    // The parent is untouched.
    assert_eq!(
        show(&env, "a", Some(&parent))["messages"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    // `fork` prints the new id and can hand it to another session.
    let out = env
        .run_in("a", ["fork", &parent, "--last", "1", "--session", "other"])
        .ok()
        .stdout;
    let id = out.trim();
    assert_eq!(id.len(), 18);
    assert_eq!(active(&env, "other"), id);
    let ls = json(&env.run(["ls", "--json"]).ok().stdout);
    let item = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap();
    assert_eq!(item["parent"]["turns_kept"], 1);
    assert_eq!(item["turns"], 1);
    assert_eq!(item["active_in"][0], "other");
}

#[test]
fn contention_modes_off_a_terminal() {
    let (mut env, fake) = setup();
    env.run_in("a", ["q", "start"]).ok();
    let id = active(&env, "a");
    env.env
        .insert("PANECHAT_LOCK_DURATION".into(), "300ms".into());

    // fail (the default off a terminal): exit 75 naming the holder.
    let holder = hold(&env, "a", &id);
    let t = Instant::now();
    let r = env.run_in("b", ["q", "--id", &id, "second"]).code(75);
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(
        r.stderr.contains("held by") && r.stderr.contains("pid"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--on-locked"), "{}", r.stderr);
    // new: continues in a new conversation.
    env.run_in("c", ["q", "--id", &id, "--on-locked", "new", "third"])
        .ok();
    let c = active(&env, "c");
    assert_ne!(c, id);
    assert_eq!(
        show(&env, "c", None)["messages"].as_array().unwrap().len(),
        2
    );
    // fork: continues in a copy with the persisted turns.
    env.run_in("d", ["q", "--id", &id, "--on-locked", "fork", "fourth"])
        .ok();
    let d = show(&env, "d", None);
    assert_eq!(d["parent"]["id"], id.as_str());
    assert_eq!(d["messages"][0]["content"], "start");
    assert!(holder.release(&fake).success());

    // wait: queues behind the holder and both turns are kept, in order.
    let holder = hold(&env, "a", &id);
    let queued = env
        .cmd(["q", "--id", &id, "--on-locked", "wait", "queued"])
        .env("PANECHAT_SESSION", "e")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while json(
        &env.run(["status", "--session", "e", "--format", "json"])
            .ok()
            .stdout,
    )["activity"]
        != "waiting"
    {
        assert!(t.elapsed() < Duration::from_secs(20), "never queued");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(holder.release(&fake).success());
    let o = queued.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = show(&env, "a", Some(&id));
    let users: Vec<_> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect();
    // start, the first holder's turn, the second holder's turn, then the queued one.
    assert_eq!(users.len(), 4);
    assert_eq!(users[0], "start");
    assert!(users[1].starts_with("hold") && users[2].starts_with("hold"));
    assert_eq!(users[3], "queued");
}

#[test]
fn sixteen_writers_lose_no_turn() {
    let (env, fake) = setup();
    env.run_in("a", ["--cfg", "title.generate=false", "q", "seed"])
        .ok();
    let id = active(&env, "a");
    fake.clear_requests();
    let children: Vec<_> = (0..16)
        .map(|i| {
            env.cmd([
                "--cfg",
                "title.generate=false",
                "q",
                "--id",
                &id,
                "--on-locked",
                "wait",
                &format!("writer {i} [[slow:5]]"),
            ])
            .env("PANECHAT_SESSION", format!("w{i}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let v = show(&env, "a", Some(&id));
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 34);
    // Every turn's reply answers its own question, and each request saw exactly the turns
    // before it: the turns are kept in the order they were written.
    for pair in msgs.chunks(2) {
        assert_eq!(
            pair[1]["content"].as_str().unwrap(),
            format!("echo: {}", pair[0]["content"].as_str().unwrap())
        );
    }
    let mut counts: Vec<usize> = fake.requests().iter().map(|r| r.messages().len()).collect();
    counts.sort();
    assert_eq!(counts, (1..=16).map(|k| 2 * k + 1).collect::<Vec<_>>());
    for r in fake.requests() {
        let m = r.messages();
        let n = (m.len() - 1) / 2; // turns before this one
        assert_eq!(
            m[..m.len() - 1],
            msgs[..2 * n]
                .iter()
                .map(|x| (
                    x["role"].as_str().unwrap().to_string(),
                    x["content"].as_str().unwrap().to_string()
                ))
                .collect::<Vec<_>>()[..]
        );
    }
}

#[test]
fn sigkill_mid_stream_leaves_a_loadable_store_and_a_free_lock() {
    let (env, _fake) = setup();
    env.run_in("a", ["q", "seed"]).ok();
    let id = active(&env, "a");
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut turns = 1;
    for _ in 0..8 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(seed % 400);
        let mut child = env
            .cmd(["q", "--id", &id, "victim [[slow:20]] [[chunks:15]]"])
            .env("PANECHAT_SESSION", "a")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let st = child.wait().unwrap();
        let v = show(&env, "a", Some(&id));
        let n = v["messages"].as_array().unwrap().len() / 2;
        // Either the turn was not acknowledged (nothing written) or it was written whole
        // (the kill came after the append, e.g. while the title was generated).
        assert!(n == turns || n == turns + 1, "turns {n}, before {turns}");
        if st.success() {
            assert_eq!(n, turns + 1);
        }
        turns = n;
        // The lock is free at once.
        let r = env.run_in(
            "a",
            [
                "--cfg",
                "lock.wait=0",
                "--cfg",
                "title.generate=false",
                "q",
                "--id",
                &id,
                "--on-locked",
                "fail",
                "after",
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        turns += 1;
    }
    let d = env.run(["doctor"]);
    assert_eq!(d.code, 0, "{}{}", d.stdout, d.stderr);
    let s = json(&env.run(["sessions", "--json"]).ok().stdout);
    assert!(
        s.as_array()
            .unwrap()
            .iter()
            .all(|x| x["runs"].as_array().unwrap().is_empty()),
        "{s}"
    );
}

#[test]
fn corrupt_and_truncated_files_are_reported_and_repaired() {
    let (env, _fake) = setup();
    env.run_in("a", ["q", "one"]).ok();
    env.run_in("a", ["q", "two"]).ok();
    env.run_in("a", ["q", "three"]).ok();
    let id = active(&env, "a");
    env.run_in("b", ["q", "--new", "other"]).ok();
    let log = env
        .home()
        .join("data/conversations")
        .join(format!("{id}.jsonl"));
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Corrupt a middle line: header, turn, title, turn, turn.
    assert!(lines[3].contains("\"two\""));
    let mut bad = lines.clone();
    bad[3] = "{\"type\":\"turn\",\"user\":";
    std::fs::write(&log, bad.join("\n") + "\n").unwrap();
    let r = env.run_in("a", ["show"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains(&format!("{id}.jsonl:4")), "{}", r.stderr);
    assert!(r.stderr.contains("doctor --repair"), "{}", r.stderr);
    no_panic(&r);
    // Other conversations still work, and so does ls.
    env.run_in("b", ["q", "still fine"]).ok();
    env.run(["ls"]).ok();
    let d = env.run(["doctor"]);
    assert_eq!(d.code, 1);
    assert!(d.stdout.contains(":4:"), "{}", d.stdout);
    let d = env.run(["doctor", "--repair"]).ok();
    assert!(d.stdout.contains("fixed"), "{}", d.stdout);
    let v = show(&env, "a", None);
    assert_eq!(v["messages"].as_array().unwrap().len(), 4);
    let side: Vec<_> = std::fs::read_dir(log.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .collect();
    assert_eq!(side.len(), 1, "the bad line is kept in a side file");
    assert!(std::fs::read_to_string(side[0].path())
        .unwrap()
        .contains("\"user\":"));
    env.run(["doctor"]).ok();

    // A truncated last line (an interrupted write) is ignored, then moved aside.
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, &text[..text.len() - 20]).unwrap();
    let v = show(&env, "a", None);
    assert_eq!(v["messages"].as_array().unwrap().len(), 2);
    let d = env.run(["doctor"]);
    assert_eq!(d.code, 1);
    assert!(d.stdout.contains("incomplete last record"), "{}", d.stdout);
    env.run(["doctor", "--repair"]).ok();
    env.run(["doctor"]).ok();
    // Appending after a torn tail never glues onto it.
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, format!("{text}{{\"type\":\"tu")).unwrap();
    env.run_in("a", ["q", "after tear"]).ok();
    let v = show(&env, "a", None);
    assert_eq!(v["messages"].as_array().unwrap().len(), 4);
}

#[test]
fn bad_inputs_get_clear_errors_and_write_nothing_outside_home() {
    let (env, _fake) = setup();
    env.run_in("a", ["q", "one"]).ok();
    env.run_in("a", ["q", "--new", "two"]).ok();
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["show", "zzzzzz"], 1, "no conversation id starts with"),
        (vec!["show", "0"], 2, "ambiguous"),
        (vec!["show", "../x"], 2, "not a conversation"),
        (
            vec!["q", "--id=../../etc/passwd", "hi"],
            2,
            "not a conversation",
        ),
        // With a space, a word that cannot be a conversation starts the message.
        (
            vec!["q", "--id", "../../etc/passwd", "hi"],
            2,
            "picker needs a terminal",
        ),
        (vec!["use", "a/b"], 2, "not a conversation"),
        (vec!["q", "--fork=x", "hi"], 2, "--fork"),
        (vec!["--cfg", "lock.wait=soon", "q", "hi"], 1, "lock.wait"),
        (vec!["--cfg", "nope", "q", "hi"], 2, "KEY=VALUE"),
        (
            vec!["--cfg", "provider.kind=gemini", "q", "hi"],
            1,
            "\"openai\"",
        ),
        (vec!["q", "--on-locked", "maybe", "x"], 2, "possible values"),
        (vec!["rm", "0"], 2, "ambiguous"),
        (vec!["q", "   "], 2, "empty"),
    ];
    for (args, code, needle) in cases {
        let r = env.run_in("a", &args);
        assert_eq!(r.code, code, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        no_panic(&r);
    }
    // rm refuses to delete without --yes off a terminal.
    let r = env.run_in("a", ["rm", "last"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--yes"));
    // stdin: empty, not UTF-8, too large.
    let r = env.run_stdin(["q"], b"");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("empty"));
    let r = env.run_stdin(["q"], b"caf\xe9\n");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("UTF-8"), "{}", r.stderr);
    let r = env.run_stdin(["q"], &vec![b'a'; 5 * 1024 * 1024]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("larger than"), "{}", r.stderr);
    // Message arguments that are not UTF-8.
    {
        use std::os::unix::ffi::OsStrExt;
        let bad = std::ffi::OsStr::from_bytes(b"\xff\xfe");
        let r = env.cmd(["q".as_ref(), bad]).output().unwrap();
        assert_eq!(r.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&r.stderr).contains("UTF-8"));
    }
    // Odd session keys: slashes, newlines, 10 KB, control characters.
    let long = "k".repeat(10 * 1024);
    for key in [
        "../../escape",
        "a/b/c",
        "line\nbreak",
        long.as_str(),
        "\x1b]2;x\x07",
        "%0",
    ] {
        let r = env.run_in(key, ["q", "--new", "hello"]);
        assert_eq!(r.code, 0, "{key:?}: {}", r.stderr);
        let st = env.run_in(key, ["status"]).ok();
        assert_eq!(st.stdout, "Fake title\n");
    }
    // A bad config file names the file, the line and the fix.
    env.write_config("[provider]\nkind = \"openai\"\nmodle = \"x\"\n");
    let r = env.run_in("a", ["q", "hi"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("config.toml")
            && r.stderr.contains("provider.modle")
            && r.stderr.contains("provider.model"),
        "{}",
        r.stderr
    );
    // Nothing was written outside PANECHAT_HOME.
    assert!(env.stray_files().is_empty(), "{:?}", env.stray_files());
    assert!(std::fs::read_dir(env.root.join("home"))
        .unwrap()
        .next()
        .is_none());
    assert!(std::fs::read_dir(env.root.join("work"))
        .unwrap()
        .next()
        .is_none());
    // Files are private.
    use std::os::unix::fs::PermissionsExt;
    for entry in walk(&env.home()) {
        let mode = std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777;
        if entry.is_dir() {
            assert_eq!(mode, 0o700, "{}", entry.display());
        } else if !entry.ends_with("config.toml") {
            assert_eq!(mode, 0o600, "{}", entry.display());
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn failed_runs_leave_the_conversation_as_it_was_and_keep_the_message() {
    let (env, fake) = setup();
    env.run_in("a", ["q", "one"]).ok();
    let id = active(&env, "a");
    let before = std::fs::read(
        env.home()
            .join("data/conversations")
            .join(format!("{id}.jsonl")),
    )
    .unwrap();
    for (msg, needle) in [
        ("boom [[error-mid]]", "fake mid-stream error"),
        ("nope [[http:500]]", "500"),
        ("cut [[cut]]", "before the reply was complete"),
    ] {
        let r = env.run_in("a", ["q", msg]);
        assert_eq!(r.code, 1, "{msg}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{msg}: {}", r.stderr);
        assert!(r.stderr.contains("--retry"), "{}", r.stderr);
        let after = std::fs::read(
            env.home()
                .join("data/conversations")
                .join(format!("{id}.jsonl")),
        )
        .unwrap();
        assert_eq!(before, after, "{msg}: the log changed");
    }
    // An idle stream ends with a clear message.
    let t = Instant::now();
    let r = env.run_in(
        "a",
        [
            "--cfg",
            "provider.idle_timeout=700ms",
            "q",
            "quiet [[stall]]",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("idle_timeout"), "{}", r.stderr);
    assert!(t.elapsed() < Duration::from_secs(5));
    // A refused connection.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = env.run_in(
        "a",
        [
            "--cfg",
            &format!("provider.base_url=http://127.0.0.1:{port}/v1"),
            "q",
            "hello?",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        r.stderr
    );
    no_panic(&r);
    // --retry sends the newest kept message again, to the same conversation; each failed
    // message is kept, and the retry says how many older ones remain.
    fake.clear_requests();
    let r = env.run_in("a", ["q", "--retry"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "echo: hello?\n");
    assert!(r.stderr.contains("4 older one(s) kept"), "{}", r.stderr);
    assert_eq!(fake.requests()[0].last_user_message().unwrap(), "hello?");
    assert_eq!(
        show(&env, "a", None)["messages"].as_array().unwrap().len(),
        4
    );
    let d = env.run(["doctor"]).ok();
    // Each is named with its session and the command that sends it from anywhere (its pane
    // may be gone with a restarted multiplexer).
    assert_eq!(
        d.stdout
            .matches("note: an unanswered message of session a for ")
            .count(),
        4,
        "{}",
        d.stdout
    );
    assert!(
        d.stdout
            .contains("from anywhere: PANECHAT_SESSION='a' panechat q --retry"),
        "{}",
        d.stdout
    );
    // Another session has nothing to retry.
    let r = env.run_in("b", ["q", "--retry"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no unanswered message"));
    no_panic(&r);
}

#[test]
fn every_provider_kind_works_end_to_end() {
    let fake = FakeProvider::start();
    let env = TestEnv::new();
    for (kind, url) in [
        ("anthropic", fake.base_url_anthropic()),
        ("ollama", fake.base_url_ollama()),
    ] {
        fake.clear_requests();
        env.write_config(&format!("[provider]\nkind = \"{kind}\"\nbase_url = \"{url}\"\nmodel = \"m\"\napi_key_env = \"K\"\n"));
        let r = env
            .cmd(["q", "--new", "hi there"])
            .env("K", "secret")
            .output()
            .unwrap();
        assert!(
            r.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&r.stdout), "echo: hi there\n");
        let r = env.cmd(["q", "again"]).env("K", "secret").output().unwrap();
        assert!(r.status.success());
        let reqs = fake.requests();
        let last = reqs
            .iter()
            .rev()
            .find(|r| r.raw_body.contains("again"))
            .unwrap();
        assert_eq!(last.messages().len(), 3, "{kind}");
        let v = show(&env, "test", None);
        assert!(
            v["messages"][1]["usage"]["output_tokens"]
                .as_u64()
                .is_some(),
            "{kind}: usage kept"
        );
    }
    // The API key is never written anywhere.
    for f in walk(&env.home()) {
        if f.is_file() {
            assert!(
                !std::fs::read_to_string(&f)
                    .unwrap_or_default()
                    .contains("secret"),
                "{}",
                f.display()
            );
        }
    }
    // The command provider.
    let cmd = panechat_e2e::env::panechat_bin().with_file_name("fake_llm_command");
    env.write_config(&format!(
        "[provider]\nkind = \"command\"\ncommand = [\"{}\"]\n[title]\ngenerate = false\n",
        cmd.display()
    ));
    let r = env.run(["q", "--new", "via a program"]).ok();
    assert_eq!(r.stdout, "echo: via a program\n");
    let r = env.run(["q", "fail [[error-mid]]"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("exit"), "{}", r.stderr);
}

#[test]
fn json_outputs_and_commands() {
    let (env, _fake) = setup();
    let empty = env.run(["ls"]).ok();
    assert!(empty.stdout.is_empty());
    env.run_in("a", ["q", "--system", "be brief", "hello"]).ok();
    let id = active(&env, "a");
    let ls = json(&env.run_in("a", ["ls", "--json"]).ok().stdout);
    let item = &ls[0];
    for key in [
        "id",
        "title",
        "turns",
        "created_at",
        "updated_at",
        "parent",
        "locked",
        "active_in",
    ] {
        assert!(item.get(key).is_some(), "ls --json lacks {key}: {item}");
    }
    assert_eq!(item["locked"], false);
    assert!(
        item.get("log_len").is_none() && item.get("history_len").is_none(),
        "{item}"
    );
    assert_eq!(item["parent"], Value::Null);
    let v = show(&env, "a", None);
    assert_eq!(
        v["messages"][0],
        serde_json::json!({"role": "system", "content": "be brief"})
    );
    assert_eq!(v["title"], "Fake title");
    // Human ls marks this session's conversation.
    let ls = env.run_in("a", ["ls"]).ok().stdout;
    assert!(ls.starts_with(&format!("* {}", &id[..8])), "{ls}");
    // rename, then the title shows everywhere.
    env.run_in("a", ["rename", "My chat"]).ok();
    assert_eq!(env.run_in("a", ["status"]).ok().stdout, "My chat\n");
    env.run_in("a", ["rename", &id[..8], "Chat #1 #(x)"]).ok();
    assert_eq!(
        env.run_in("a", ["status", "--format", "tmux"]).ok().stdout,
        "Chat ♯1 ♯(x)\n"
    );
    // sessions --json.
    let s = json(&env.run(["sessions", "--json"]).ok().stdout);
    let a = s
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["key"] == "a")
        .unwrap();
    for key in [
        "key",
        "multiplexer",
        "pane",
        "conversation",
        "previous",
        "runs",
    ] {
        assert!(a.get(key).is_some(), "sessions --json lacks {key}");
    }
    assert_eq!(a["conversation"], id.as_str());
    // rm with --yes.
    env.run_in("a", ["rm", &id, "--yes"]).ok();
    assert!(json(&env.run(["ls", "--json"]).ok().stdout)
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(env.run_in("a", ["status"]).ok().stdout, "\n");
    // completions
    let c = env.run(["completions", "bash"]).ok();
    assert!(c.stdout.contains("panechat"));
}

#[test]
fn a_damaged_history_cache_is_found_and_rebuilt_from_the_log() {
    let (env, fake) = setup();
    env.run_in("a", ["q", "one"]).ok();
    env.run_in("a", ["q", "two"]).ok();
    let id = active(&env, "a");
    let hist = env
        .home()
        .join("data/conversations")
        .join(format!("{id}.history"));
    let bytes = std::fs::read(&hist).unwrap();
    // Same size, different bytes: only doctor's comparison can tell.
    let damaged: Vec<u8> = bytes
        .iter()
        .map(|&b| if b == b'o' { b'0' } else { b })
        .collect();
    std::fs::write(&hist, &damaged).unwrap();
    let d = env.run(["doctor"]);
    assert_eq!(d.code, 1, "{}", d.stdout);
    assert!(d.stdout.contains("history cache"), "{}", d.stdout);
    env.run(["doctor", "--repair"]).ok();
    fake.clear_requests();
    env.run_in("a", ["q", "three"]).ok();
    let users: Vec<_> = fake.requests()[0]
        .messages()
        .into_iter()
        .filter(|(r, _)| r == "user")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(users, ["one", "two", "three"]);
    assert_eq!(
        std::fs::read(&hist).unwrap().len(),
        bytes.len() + (std::fs::read(&hist).unwrap().len() - bytes.len())
    );
    env.run(["doctor"]).ok();
}

#[test]
fn a_missing_api_key_is_reported_before_anything_is_created() {
    let env = TestEnv::new();
    env.write_config(
        "[provider]\nkind = \"anthropic\"\napi_key_env = \"PANECHAT_TEST_NO_SUCH_KEY\"\n",
    );
    let r = env.run(["q", "--new", "hello"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("PANECHAT_TEST_NO_SUCH_KEY"),
        "{}",
        r.stderr
    );
    assert!(json(&env.run(["ls", "--json"]).ok().stdout)
        .as_array()
        .unwrap()
        .is_empty());
    assert!(
        !env.home().join("state/drafts").exists(),
        "no message was taken"
    );
}

/// The chat requests the fake received (title requests left out).
fn chats(fake: &FakeProvider) -> Vec<Vec<(String, String)>> {
    fake.requests()
        .iter()
        .filter(|r| !r.raw_body.contains("Reply with the title only"))
        .map(|r| r.messages())
        .collect()
}

/// An `$EDITOR` that leaves a mark when it runs (so a test can say it never opened).
fn marking_editor(env: &mut TestEnv) -> std::path::PathBuf {
    let mark = env.root.join("editor-ran");
    let script = env.root.join("editor.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ntouch '{}'\necho from-editor > \"$1\"\n",
            mark.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    env.env
        .insert("EDITOR".into(), script.display().to_string());
    mark
}

/// What each example of `panechat q --help` and of the README's everyday block must do (the
/// test below fails when an example is added to either without a line here).
const QUERY_EXAMPLES: &[&str] = &[
    r#"panechat q "question""#,
    r#"panechat q --new "question""#,
    r#"panechat q --fork=2 "question""#,
    r#"panechat q --fork 2 "question""#,
    r#"panechat q --id "question""#,
    r#"panechat q --id prev "question""#,
    r#"panechat q --id last "question""#,
    r#"panechat q --id -- 2 "question""#,
    // Attachments: tests/tests/context.rs runs each of these.
    r#"panechat q --pane "why did this fail?""#,
    r#"panechat q --pane left "what is wrong there?""#,
    r#"panechat q --pane --lines 50 "why?""#,
    r#"panechat q -f src/main.rs -f Cargo.toml "why does this not build?""#,
];

/// The `panechat q …` example commands in `text` (each up to its first `  ` or `#`).
fn examples_in(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("panechat q "))
        .map(|l| {
            let end = l.find("  ").or_else(|| l.find('#')).unwrap_or(l.len());
            l[..end].trim_end().to_string()
        })
        .collect()
}

#[test]
fn readme_and_help_examples_of_query_are_all_tested() {
    let env = TestEnv::new();
    let help = env.run(["q", "--help"]).ok().stdout;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let mut all = examples_in(&help);
    assert!(all.len() >= 5, "no examples in `q --help`:\n{help}");
    let everyday = readme
        .split("## Everyday use")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the README's everyday section");
    let from_readme = examples_in(everyday);
    assert!(from_readme.len() >= 5, "{everyday}");
    all.extend(from_readme);
    for ex in &all {
        assert!(
            QUERY_EXAMPLES.contains(&ex.as_str()),
            "example `{ex}` has no test"
        );
    }
}

/// Runs one example (the words after `panechat`, shell-quoted as in the docs) in `session`.
fn run_example(env: &TestEnv, session: &str, example: &str) -> panechat_e2e::env::Run {
    let words: Vec<String> = example
        .strip_prefix("panechat ")
        .unwrap()
        .split_whitespace()
        .map(|w| w.trim_matches('"').to_string())
        .collect();
    env.run_in(session, &words)
}

#[test]
fn optional_values_of_id_and_fork_read_as_written() {
    let (mut env, fake) = setup();
    let mark = marking_editor(&mut env);
    for i in 1..=3 {
        env.run_in("a", ["q", &format!("turn {i}")]).ok();
    }
    let first = active(&env, "a");
    env.run_in("a", ["q", "--new", "other"]).ok();
    let second = active(&env, "a");

    // `--id prev "question"`: the previous conversation.
    fake.clear_requests();
    let r = run_example(&env, "a", r#"panechat q --id prev "question""#).ok();
    assert_eq!(r.stdout, "echo: question\n");
    assert_eq!(active(&env, "a"), first);
    assert_eq!(
        chats(&fake)[0].len(),
        7,
        "three turns of history, then the question"
    );

    // `--fork 2 "question"` keeps the last 2 turns and sends "question", like `--fork=2`.
    for (n, ex) in [
        r#"panechat q --fork 2 "question""#,
        r#"panechat q --fork=2 "question""#,
    ]
    .iter()
    .enumerate()
    {
        env.run_in("a", ["use", &first]).ok();
        fake.clear_requests();
        let r = run_example(&env, "a", ex).ok();
        assert_eq!(r.stdout, "echo: question\n", "{ex}");
        assert!(r.stderr.contains("(2 turns kept)"), "{ex}: {}", r.stderr);
        let msgs = &chats(&fake)[0];
        assert_eq!(msgs.len(), 5, "{ex}: {msgs:?}");
        assert_eq!(msgs[0].1, "turn 3", "{ex}");
        assert_eq!(msgs.last().unwrap().1, "question", "{ex} (#{n})");
    }
    // Options may follow the value; `1 turn` is singular.
    env.run_in("a", ["use", &first]).ok();
    fake.clear_requests();
    let r = env
        .run_in("a", ["q", "--fork", "1", "--model", "m2", "after", "fork"])
        .ok();
    assert!(r.stderr.contains("(1 turn kept)"), "{}", r.stderr);
    assert_eq!(r.stdout, "echo: after fork\n");
    assert!(fake.requests()[0].raw_body.contains("\"m2\""));
    let shown = env.run_in("a", ["show"]).ok().stdout;
    assert!(
        shown.contains("· 2 turns ·") && shown.contains("(1 turn kept)"),
        "{shown}"
    );
    // `--id prev --fork 2 "question"`: both values with spaces.
    env.run_in("a", ["use", &second]).ok();
    env.run_in("a", ["use", &first]).ok();
    fake.clear_requests();
    env.run_in("a", ["q", "--id", "prev", "--fork", "1", "q2"])
        .ok();
    let msgs = &chats(&fake)[0];
    assert_eq!(
        msgs[0].1, "other",
        "forked from prev, keeping 1 turn: {msgs:?}"
    );
    // After `--`, every word is the message.
    env.run_in("a", ["use", &first]).ok();
    fake.clear_requests();
    let r = env.run_in("a", ["q", "--fork", "--", "3", "reasons"]).ok();
    assert_eq!(r.stdout, "echo: 3 reasons\n");
    assert_eq!(chats(&fake)[0].len(), 9, "all four turns kept");

    // `--id "question"` means the picker, never the id "question": off a terminal it says
    // so, and nothing is sent.
    fake.clear_requests();
    let r = run_example(&env, "a", r#"panechat q --id "question""#).code(2);
    assert!(r.stderr.contains("picker needs a terminal"), "{}", r.stderr);
    let r = env.run_in("a", ["q", "--id", "what", "is", "this"]).code(2);
    assert!(r.stderr.contains("picker needs a terminal"), "{}", r.stderr);
    // A word that can only be an id is one; when no conversation has it, the error shows how
    // to send it as text instead.
    let r = env.run_in("a", ["q", "--id", "01zz", "question"]).code(1);
    assert!(
        r.stderr.contains("no conversation id starts with `01zz`")
            && r.stderr.contains("panechat q --id -- 01zz"),
        "{}",
        r.stderr
    );
    // Values that are not values: errors that show the right form, exit 2.
    let r = env.run_in("a", ["q", "--fork=two", "question"]).code(2);
    assert!(r.stderr.contains("--fork=2"), "{}", r.stderr);
    let r = env.run_in("a", ["q", "--id=hello", "question"]).code(2);
    assert!(
        r.stderr.contains("except i, l, o, u") && !r.stderr.contains("0-9, a-z"),
        "{}",
        r.stderr
    );
    let r = env.run_in("a", ["use", "0lo1"]).code(2);
    assert!(r.stderr.contains("except i, l, o, u"), "{}", r.stderr);
    assert!(chats(&fake).is_empty(), "nothing was sent");
    assert!(!mark.exists(), "no editor opened");
}

#[test]
fn the_conversation_id_last_names_when_the_editor_opens_is_the_one_asked() {
    let (env, fake) = setup();
    env.run_in("a", ["q", "first"]).ok();
    let first = active(&env, "a");
    // While the message is written, another pane's query makes another conversation the last.
    let editor = env.root.join("editor.sh");
    std::fs::write(
        &editor,
        format!(
            "#!/bin/sh\nPANECHAT_SESSION=b '{}' q --new meanwhile >/dev/null 2>&1\nprintf 'from the editor' > \"$1\"\n",
            panechat_e2e::env::panechat_bin().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut cmd = env.cmd(["q", "--id", "last"]);
    cmd.env("PANECHAT_SESSION", "a").env("EDITOR", &editor);
    let mut pty = panechat_e2e::pty::Pty::spawn(cmd);
    assert_eq!(pty.wait(Duration::from_secs(15)), 0, "{}", pty.text());
    let meanwhile = active(&env, "b");
    assert_ne!(
        meanwhile, first,
        "the editor's query made a conversation of its own"
    );
    let asked = chats(&fake);
    let last = asked.last().unwrap();
    assert_eq!(
        last.iter()
            .map(|(_, text)| text.as_str())
            .collect::<Vec<_>>(),
        ["first", "echo: first", "from the editor"],
        "sent with the history of the conversation that was last when the editor opened"
    );
    assert_eq!(active(&env, "a"), first);
}

#[test]
fn a_bad_target_fails_before_the_editor_opens() {
    // No message and no stdin: the message would come from $EDITOR, but the target is wrong.
    let (mut env, fake) = setup();
    let mark = marking_editor(&mut env);
    env.run_in("a", ["q", "hello"]).ok();
    // `script` gives the command a terminal on stdin, as in a pane.
    for (args, code, says) in [
        (
            vec!["q", "--id", "01zzzz"],
            1,
            "no conversation id starts with `01zzzz`",
        ),
        (vec!["q", "--id=prev"], 1, "no previous conversation"),
    ] {
        let mut cmd = env.cmd(&args);
        cmd.env("PANECHAT_SESSION", "a");
        let mut pty = panechat_e2e::pty::Pty::spawn(cmd);
        assert_eq!(pty.wait(Duration::from_secs(15)), code, "{}", pty.text());
        assert!(pty.text().contains(says), "{args:?}: {}", pty.text());
        assert!(!mark.exists(), "{args:?} opened the editor");
    }
    // With a target that exists, the editor does open and its text is sent.
    let mut cmd = env.cmd(["q", "--id", "last"]);
    cmd.env("PANECHAT_SESSION", "a");
    let mut pty = panechat_e2e::pty::Pty::spawn(cmd);
    assert_eq!(pty.wait(Duration::from_secs(15)), 0, "{}", pty.text());
    assert!(mark.exists());
    assert!(pty.text().contains("echo: from-editor"), "{}", pty.text());
    let _ = fake;
}

#[test]
fn signals_end_a_query_with_their_conventional_status() {
    let (env, _fake) = setup();
    for (sig, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let child = env
            .cmd(["q", "--new", "slow [[slow:300]] [[chunks:20]]"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let t = Instant::now();
        loop {
            let s = json(&env.run(["sessions", "--json"]).ok().stdout);
            let streaming = s.as_array().unwrap().iter().any(|x| {
                x["runs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["state"] == "streaming")
            });
            if streaming {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(15), "never streamed");
            std::thread::sleep(Duration::from_millis(20));
        }
        unsafe { libc::kill(child.id() as i32, sig) };
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "signal {sig}: {err}");
        assert!(err.contains("--retry"), "{err}");
    }
    // The documented table says the same.
    let help = env.run(["--help"]).ok().stdout;
    assert!(help.contains("143  stopped by `panechat kill`"), "{help}");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    assert!(
        readme.contains("| 143 |"),
        "the README documents exit codes"
    );
}

#[test]
fn config_mistakes_are_exact_and_never_silent() {
    let (env, _fake) = setup();
    let good = std::fs::read_to_string(env.home().join("config.toml")).unwrap();
    env.write_config(&format!("{good}[title]\ngenerat = false\n"));
    let line = good.lines().count() + 2;
    let r = env.run(["q", "hi"]).code(1);
    assert!(
        r.stderr.contains(&format!(
            "config.toml:{line}: unknown config key `title.generat`"
        )) && r.stderr.contains("did you mean `title.generate`?"),
        "{}",
        r.stderr
    );
    // Commands that do not need the config still say, once, that it is broken.
    for args in [vec!["ls"], vec!["status"], vec!["sessions"]] {
        let r = env.run(&args).ok();
        assert_eq!(
            r.stderr.matches("unknown config key").count(),
            1,
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains(&format!("config.toml:{line}:")),
            "{}",
            r.stderr
        );
    }
    // A bad value names its line too.
    env.write_config(&format!("{good}[title]\ntimeout = \"soon\"\n"));
    let r = env.run(["q", "hi"]).code(1);
    assert!(
        r.stderr.contains(&format!(
            "config.toml:{line}: `title.timeout` must be a duration"
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn numbers_out_of_their_range_are_refused_not_clamped() {
    let (env, fake) = setup();
    let good = std::fs::read_to_string(env.home().join("config.toml")).unwrap();
    let line = good.lines().count() + 2;
    for (key, value, range) in [
        ("max_bytes", "0", "from 1024 to 67108864"),
        ("max_bytes", "1023", "from 1024 to 67108864"),
        ("max_bytes", "9223372036854775807", "from 1024 to 67108864"),
        ("lines", "0", "from 1 to 1000000"),
        ("lines", "1000001", "from 1 to 1000000"),
    ] {
        env.write_config(&format!("{good}[context]\n{key} = {value}\n"));
        let r = env.run(["q", "--new", "hi"]).code(1);
        no_panic(&r);
        assert!(
            r.stderr.contains(&format!(
                "config.toml:{line}: `context.{key}` must be an integer {range}, got {value}"
            )),
            "{key} = {value}: {}",
            r.stderr
        );
        // `--cfg` is refused the same way, naming the flag.
        env.write_config(&good);
        let r = env
            .run(["--cfg", &format!("context.{key}={value}"), "q", "hi"])
            .code(1);
        assert!(
            r.stderr.contains(&format!(
                "--cfg context.{key}: `context.{key}` must be an integer {range}"
            )),
            "{}",
            r.stderr
        );
    }
    for value in ["0", "4294967296"] {
        let r = env
            .run(["--cfg", &format!("provider.max_tokens={value}"), "q", "hi"])
            .code(1);
        assert!(
            r.stderr.contains(&format!(
                "`provider.max_tokens` must be an integer from 1 to 4294967295, got {value}"
            )),
            "{}",
            r.stderr
        );
    }
    assert!(
        fake.requests().is_empty(),
        "nothing is sent with a bad config"
    );
    // The limits themselves are accepted.
    env.write_config(&format!("{good}[context]\nmax_bytes = 1024\nlines = 1\n"));
    env.run(["q", "--new", "hi"]).ok();
    env.write_config(&format!("{good}[context]\nmax_bytes = 67108864\n"));
    env.run(["q", "hi"]).ok();
}

#[test]
fn api_key_errors_say_which_variable_once() {
    let (mut env, fake) = setup();
    // A custom base_url with api_key_env naming an unset variable: a warning, then the query.
    env.env.remove("PANECHAT_FAKE_API_KEY");
    let r = env.run(["q", "--new", "hi"]).ok();
    assert_eq!(r.stdout, "echo: hi\n");
    assert_eq!(r.stderr.matches("warning").count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("PANECHAT_FAKE_API_KEY is not set"),
        "{}",
        r.stderr
    );
    // Set: no warning.
    env.env.insert("PANECHAT_FAKE_API_KEY".into(), "k".into());
    let r = env.run(["q", "hi"]).ok();
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    // The official URL without a key: one clear error, said once, nothing sent.
    fake.clear_requests();
    env.env.remove("OPENAI_API_KEY");
    env.write_config("[provider]\nkind = \"openai\"\n");
    let r = env.run(["q", "--new", "hi"]).code(1);
    assert_eq!(
        r.stderr.matches("no API key for the OpenAI API").count(),
        1,
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("OPENAI_API_KEY"), "{}", r.stderr);
    assert!(fake.requests().is_empty());
}

#[test]
fn the_man_page_comes_from_the_help_definitions() {
    let env = TestEnv::new();
    let page = env.run(["man"]).ok().stdout;
    assert!(
        page.starts_with(".ie") || page.contains(".TH panechat 1"),
        "{page}"
    );
    assert!(
        page.contains(".SH \"EXIT STATUS\"") && page.contains("\n143\n"),
        "{page}"
    );
    let q = env.run(["man", "query"]).ok().stdout;
    assert!(q.contains(".TH panechat-query 1"), "{q}");
    // Every long option of `q --help` is in the page.
    let help = env.run(["q", "--help"]).ok().stdout;
    for word in help.split_whitespace() {
        if let Some(opt) = word.strip_prefix("--") {
            let name: String = opt
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if !name.is_empty() {
                assert!(
                    q.contains(&format!("\\-\\-{}", name.replace('-', "\\-"))),
                    "--{name} is missing from the man page"
                );
            }
        }
    }
    let dir = env.root.join("man1");
    let r = env.run(["man", "--dir", dir.to_str().unwrap()]).ok();
    assert!(r.stdout.contains("panechat.1") && r.stdout.contains("panechat-query.1"));
    assert!(dir.join("panechat-sessions.1").is_file());
    assert!(
        !dir.join("panechat-lock-prompt.1").exists(),
        "hidden commands have no page"
    );
    let r = env.run(["man", "nope"]).code(2);
    assert!(r.stderr.contains("query"), "{}", r.stderr);
}

#[test]
fn provider_failures_keep_their_kind_hint_and_exit_code() {
    let (env, _fake) = setup();
    let r = env.run(["q", "--new", "hi [[http:401]]"]).code(1);
    assert!(r.stderr.contains("401"), "{}", r.stderr);
    assert!(
        r.stderr.contains("hint: the server refused the API key"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--retry"), "{}", r.stderr);
    // (counted as `HTTP 401`: the fake provider's port may hold "401" too)
    assert_eq!(
        r.stderr.matches("HTTP 401").count(),
        1,
        "the cause is said once: {}",
        r.stderr
    );
    let r = env.run(["q", "--new", "hi [[http:429]]"]).code(1);
    assert!(
        r.stderr.contains("hint: the provider is rate-limiting"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_refused_or_failed_query_leaves_the_mapping_as_it_was() {
    let (env, fake) = setup();
    env.run_in("a", ["q", "--new", "one"]).ok();
    let x = active(&env, "a");
    env.run_in("b", ["q", "--new", "two"]).ok();
    env.run_in("b", ["q", "--new", "three"]).ok();
    let mine = active(&env, "b");
    let prev_before = json(&env.run(["sessions", "--json"]).ok().stdout)
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "b")
        .unwrap()["previous"]
        .clone();
    // Gives up on a locked conversation (exit 75): b still shows its own.
    let holder = hold(&env, "a", &x);
    env.run_in(
        "b",
        [
            "--cfg",
            "lock.wait=200ms",
            "q",
            "--id",
            &x,
            "--on-locked",
            "fail",
            "hi",
        ],
    )
    .code(75);
    assert_eq!(active(&env, "b"), mine);
    assert!(holder.release(&fake).success());
    // Fails at the provider: still unchanged, previous included.
    env.run_in("b", ["q", "--id", &x, "boom [[http:500]]"])
        .code(1);
    assert_eq!(active(&env, "b"), mine);
    let after = json(&env.run(["sessions", "--json"]).ok().stdout);
    let b = after
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "b")
        .unwrap();
    assert_eq!(b["previous"], prev_before);
    assert_eq!(b["activity"], "idle");
    // The same question once it succeeds switches the pane.
    env.run_in("b", ["q", "--id", &x, "fine now"]).ok();
    assert_eq!(active(&env, "b"), x);
}

/// `panechat search` finds conversations by what was said in them, best match first (the
/// words together before the words apart), in any case, in JSON too; a fork of a fork is
/// titled with one "(fork)".
#[test]
fn search_finds_conversations_by_what_was_said_best_match_first() {
    let (env, _fake) = setup();
    env.run_in(
        "a",
        [
            "q",
            "--new",
            "the borrow rules [[reply:a checker for borrows]] [[title:Rules]]",
        ],
    )
    .ok();
    env.run_in(
        "b",
        [
            "q",
            "--new",
            "How does the Borrow Checker work? [[reply:it checks\u{1b}[31m]] [[title:Lifetimes]]",
        ],
    )
    .ok();
    env.run_in("c", ["q", "--new", "zellij layouts [[title:Layouts]]"])
        .ok();
    let r = env.run(["search", "borrow", "checker"]).ok();
    no_panic(&r);
    let lines: Vec<&str> = r.stdout.lines().collect();
    let lifetimes = lines.iter().position(|l| l.contains("Lifetimes"));
    let rules = lines.iter().position(|l| l.contains("Rules"));
    assert!(
        lifetimes.is_some() && rules.is_some() && lifetimes < rules,
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("Layouts"), "{}", r.stdout);
    assert!(
        r.stdout.contains("you: How does the Borrow Checker"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains('\u{1b}'), "{:?}", r.stdout);
    let j = json(&env.run(["search", "--json", "BORROW CHECKER"]).ok().stdout);
    let titles: Vec<&str> = j
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Lifetimes", "Rules"]);
    assert!(j[0]["id"].as_str().unwrap().len() == 18);
    // Nothing found: said so, and nothing printed on stdout.
    let none = env.run(["search", "nowhere-said"]).ok();
    assert_eq!(none.stdout, "");
    assert!(
        none.stderr.contains("no conversation mentions"),
        "{}",
        none.stderr
    );
    // No words: a usage error that says what to give.
    let bad = env.run(["search", " "]).code(2);
    assert!(bad.stderr.contains("panechat search"), "{}", bad.stderr);

    // A fork of a fork: "(fork)" once.
    let id = json(&env.run(["search", "--json", "zellij"]).ok().stdout)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let f1 = env.run(["fork", &id]).ok().stdout.trim().to_string();
    let f2 = env.run(["fork", &f1]).ok().stdout.trim().to_string();
    assert_eq!(show(&env, "a", Some(&f1))["title"], "Layouts (fork)");
    assert_eq!(show(&env, "a", Some(&f2))["title"], "Layouts (fork)");
}

#[test]
fn shell_completion_offers_conversation_ids_and_no_internal_command() {
    let (env, _fake) = setup();
    env.run_in("a", ["q", "--new", "one"]).ok();
    env.run_in("a", ["q", "--new", "two"]).ok();
    let ids: Vec<String> = json(&env.run(["ls", "--json"]).ok().stdout)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(
        env.run(["ls", "--ids"]).ok().stdout,
        format!("{}\n{}\n", ids[0], ids[1])
    );
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let s = env.run(["completions", shell]).ok().stdout;
        for hidden in [
            "lock-prompt",
            "lock-answer",
            "lock_prompt",
            "lock__subcmd",
            "tmux-plugin",
        ] {
            assert!(!s.contains(hidden), "{shell} offers {hidden}");
        }
    }
    // zsh and fish ask `ls --ids` for the targets (both are run for real in the tty tests).
    let zsh = env.run(["completions", "zsh"]).ok().stdout;
    assert_eq!(zsh.matches(":_panechat_ids' \\").count(), 5, "{zsh}");
    assert!(zsh.contains("ls --ids 2>/dev/null"));
    let fish = env.run(["completions", "fish"]).ok().stdout;
    assert!(fish.contains("__fish_panechat_using_subcommand show; or"));
    assert!(fish.contains("(panechat ls --ids 2>/dev/null)"));

    // Bash, for real: what a Tab after each line offers.
    let script = env.root.join("panechat.bash");
    std::fs::write(&script, env.run(["completions", "bash"]).ok().stdout).unwrap();
    let bin_dir = panechat_e2e::env::panechat_bin()
        .parent()
        .unwrap()
        .display()
        .to_string();
    let complete = |words: &[&str]| -> Vec<String> {
        let line = words.join(" ");
        let prog = format!(
            ". {}\nCOMP_WORDS=({line}); COMP_CWORD={}\n_panechat_with_ids panechat \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            words.len() - 1
        );
        let o = std::process::Command::new("bash")
            .arg("-c")
            .arg(prog)
            .env_clear()
            .envs(&env.env)
            .env("PATH", format!("{bin_dir}:{}", env.env["PATH"]))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    let commands = complete(&["panechat", "''"]);
    assert!(commands.contains(&"show".to_string()), "{commands:?}");
    assert!(
        !commands.iter().any(|c| c.starts_with("lock")),
        "{commands:?}"
    );
    for cmd in ["use", "show", "rm"] {
        let mut got = complete(&["panechat", cmd, "''"]);
        got.sort();
        let mut want = vec!["last".to_string(), "pick".into(), "prev".into()];
        want.extend(ids.iter().cloned());
        want.sort();
        assert_eq!(got, want, "{cmd}");
    }
    // A prefix narrows them; options and their values are still clap's.
    let prefix = &ids[0][..ids[0].len() - 2];
    assert!(complete(&["panechat", "--cfg", "a=b", "show", prefix]).contains(&ids[0]));
    assert_eq!(complete(&["panechat", "show", "--ra"]), ["--raw"]);
}

#[test]
fn ls_counts_other_panes_and_other_sessions_apart() {
    let (env, _fake) = setup();
    env.run_in("a", ["q", "--new", "one"]).ok();
    let id = active(&env, "a");
    // A plain terminal session (no multiplexer pane) shows it too.
    env.run_in("b", ["use", &id]).ok();
    let ls = env.run_in("a", ["ls"]).ok().stdout;
    assert!(ls.contains("[1 other session]"), "{ls}");
    assert!(!ls.contains("pane"), "{ls}");
    // A tmux pane is a pane (no server answers at this socket: publishing fails quietly).
    let r = env
        .cmd(["use", &id])
        .env_remove("PANECHAT_SESSION")
        .env("TMUX", env.root.join("no-tmux-socket,1,0"))
        .env("TMUX_PANE", "%4")
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    env.run_in("c", ["use", &id]).ok();
    let ls = env.run_in("a", ["ls"]).ok().stdout;
    assert!(ls.contains("[1 other pane, 2 other sessions]"), "{ls}");
}

/// The README's install block, one command per line, comments cut.
fn readme_install_lines() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let block = readme
        .split("## Install\n\n```sh\n")
        .nth(1)
        .and_then(|r| r.split("```").next())
        .expect("README has an Install block");
    block
        .lines()
        .map(|l| l.split("   #").next().unwrap().trim().to_string())
        .collect()
}

#[test]
fn man_panechat_works_after_the_readme_install_steps() {
    let env = TestEnv::new();
    let lines = readme_install_lines();
    let man_dir = lines
        .iter()
        .find(|l| l.starts_with("panechat man --dir "))
        .expect("the README installs the man pages");
    let manpath = lines
        .iter()
        .find(|l| l.starts_with("export MANPATH="))
        .expect("the README says how to put them on MANPATH");
    let bin_dir = panechat_e2e::env::panechat_bin()
        .parent()
        .unwrap()
        .display()
        .to_string();
    // A user whose PATH has no ~/.local/bin: man-db does not look in ~/.local/share/man.
    let run = |script: &str| {
        std::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .env_clear()
            .envs(&env.env)
            .env("PATH", format!("{bin_dir}:/usr/bin:/bin"))
            .output()
            .expect("bash")
    };
    let o = run(&format!("{man_dir} >/dev/null && man -w panechat"));
    assert!(!o.status.success(), "found without MANPATH?");
    let o = run(&format!(
        "{man_dir} >/dev/null && {manpath} && man -w panechat panechat-query && man -w ls"
    ));
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let found = String::from_utf8_lossy(&o.stdout);
    assert!(
        found.contains(&format!(
            "{}/.local/share/man/man1/panechat.1",
            env.env["HOME"]
        )),
        "{found}"
    );
    assert!(
        found.contains("/usr/share/man"),
        "the system's pages stay: {found}"
    );
}

/// `panechat doctor` checks the WezTerm plugin file `init wezterm --plugin FILE` wrote: current
/// until it differs from the plugin this binary carries, then how to write it again.
#[test]
fn doctor_checks_the_wezterm_plugin_file_init_wrote() {
    let env = TestEnv::new();
    let file = env.root.join("wez/panechat.lua");
    let out = env
        .cmd(["init", "wezterm", "--plugin"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report = env.run(["doctor"]).ok().stdout;
    assert!(
        report.contains(&format!(
            "ok  WezTerm plugin file: {} is the plugin this panechat carries",
            file.display()
        )),
        "{report}"
    );
    std::fs::write(&file, "-- an older plugin\n").unwrap();
    let report = env.run(["doctor"]).ok().stdout;
    assert!(
        report.contains("fix WezTerm plugin file: ")
            && report.contains(&format!(
                "panechat init wezterm --plugin {}",
                file.display()
            )),
        "{report}"
    );
}

/// `panechat agent-seen` (what the plugins run when a pane is focused): a done agent becomes
/// idle, any other state is left as it is, and `--wezterm-vars` prints the pane's user vars.
#[test]
fn agent_seen_makes_a_done_agent_idle_and_leaves_others_alone() {
    use panechat_vocab::state::{Agent, AgentState};
    let env = TestEnv::new();
    let penv = panechat::env::Env::from_pairs(env.env.clone());
    let paths = panechat::paths::Paths::resolve(&penv).unwrap();
    let key = panechat::session::SessionKey::normalize("test").unwrap();
    let agent = |state| Agent {
        kind: "codex".into(),
        state,
        session: Some("t1".into()),
        ..Agent::default()
    };
    panechat::agents::record(&paths, &key, &agent(AgentState::Working)).unwrap();
    env.run(["agent-seen"]).ok();
    assert_eq!(
        panechat::agents::read(&paths, &key).unwrap().state,
        AgentState::Working
    );
    panechat::agents::record(&paths, &key, &agent(AgentState::Done)).unwrap();
    let out = env.run(["agent-seen", "--wezterm-vars"]).ok().stdout;
    let now = panechat::agents::read(&paths, &key).unwrap();
    assert_eq!(
        (now.state, now.session.as_deref()),
        (AgentState::Idle, Some("t1"))
    );
    // `idle` and `codex: idle`, base64.
    assert!(
        out.contains("SetUserVar=panechat_agent=aWRsZQ==\u{7}"),
        "{out:?}"
    );
    assert!(
        out.contains("SetUserVar=panechat_agent_text=Y29kZXg6IGlkbGU=\u{7}"),
        "{out:?}"
    );
    // No agent: nothing to do, no error.
    panechat::agents::clear(&paths, &key).unwrap();
    env.run(["agent-seen"]).ok();
    assert_eq!(panechat::agents::read(&paths, &key), None);
}
