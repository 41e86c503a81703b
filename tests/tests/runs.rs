//! Session runs: the registry behind `panechat sessions`, `panechat kill`, logs, caps and
//! timeouts, and pruning of closed panes.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use panechat_e2e::env::TestEnv;
use panechat_e2e::helpers::{active, json, setup, wait_until};
use serde_json::Value;

fn sessions(env: &TestEnv) -> Value {
    json(&env.run(["sessions", "--json"]).ok().stdout)
}

fn run_states(env: &TestEnv) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = sessions(env)
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        s["key"].as_str().unwrap().to_string(),
                        r["state"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    v.sort();
    v
}

fn spawn(env: &TestEnv, session: &str, args: &[&str]) -> Child {
    env.cmd(args)
        .env("PANECHAT_SESSION", session)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn sessions_show_concurrent_runs_and_kill_ends_exactly_one_session() {
    let (env, _fake) = setup();
    env.run_in("a", ["q", "one"]).ok();
    let shared = active(&env, "a");
    env.run_in("c", ["q", "--new", "other"]).ok();
    let other = active(&env, "c");

    let slow = "long [[slow:150]] [[chunks:60]]";
    let a = spawn(&env, "a", &["q", slow]);
    wait_until("a streaming", || {
        run_states(&env).contains(&("a".into(), "streaming".into()))
    });
    let b = spawn(
        &env,
        "b",
        &["q", "--id", &shared, "--on-locked", "wait", "queued"],
    );
    let c = spawn(&env, "c", &["q", "--id", &other, slow]);
    wait_until("three runs", || {
        run_states(&env)
            == vec![
                ("a".into(), "streaming".into()),
                ("b".into(), "waiting".into()),
                ("c".into(), "streaming".into()),
            ]
    });
    let s = sessions(&env);
    let run_a = &s
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["key"] == "a")
        .unwrap()["runs"][0];
    assert_eq!(run_a["conversation"], shared.as_str());
    assert_eq!(run_a["pid"], a.id());
    assert_eq!(run_a["model"], "fake-model");
    // Live sessions come first.
    assert!(s.as_array().unwrap()[..3]
        .iter()
        .all(|x| !x["runs"].as_array().unwrap().is_empty()));
    // ls and status show the lock.
    let ls = json(&env.run(["ls", "--json"]).ok().stdout);
    assert_eq!(
        ls.as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == shared.as_str())
            .unwrap()["locked"],
        true
    );
    assert_eq!(
        json(
            &env.run(["status", "--session", "b", "--format", "json"])
                .ok()
                .stdout
        )["activity"],
        "waiting"
    );
    assert_eq!(
        env.run(["status", "--session", "c"]).ok().stdout.trim_end(),
        "Fake title [running]"
    );

    // Kill session a only.
    let t = Instant::now();
    let k = env.run(["kill", "a"]).ok();
    assert!(k.stderr.contains("ended 1 of 1 run"), "{}", k.stderr);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "within the grace period"
    );
    let out_a = a.wait_with_output().unwrap();
    assert_eq!(
        out_a.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&out_a.stderr)
    );
    assert!(String::from_utf8_lossy(&out_a.stderr).contains("SIGTERM"));
    // b gets the lock and finishes; c is untouched.
    let out_b = b.wait_with_output().unwrap();
    assert!(
        out_b.status.success(),
        "{}",
        String::from_utf8_lossy(&out_b.stderr)
    );
    assert!(run_states(&env).contains(&("c".into(), "streaming".into())));
    // The killed turn was not written; its message is kept for --retry.
    let v = json(&env.run_in("a", ["show", "--json"]).ok().stdout);
    let users: Vec<_> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["one", "queued"]);
    let doctor = env.run(["doctor"]).ok();
    assert!(
        doctor.stdout.contains("unanswered message"),
        "{}",
        doctor.stdout
    );
    // kill --all ends the rest.
    let k = env.run(["kill", "--all"]).ok();
    assert!(k.stderr.contains("ended 1 of 1 run"), "{}", k.stderr);
    let _ = c.wait_with_output();
    assert!(run_states(&env).is_empty());
    let k = env.run(["kill", "c"]).ok();
    assert!(k.stderr.contains("no live runs"), "{}", k.stderr);
}

#[test]
fn dead_and_recycled_runs_are_never_live() {
    let (env, _fake) = setup();
    env.run_in("a", ["q", "one"]).ok();
    let runs = env.home().join("state/runs");
    std::fs::create_dir_all(&runs).unwrap();
    let me = std::process::id();
    let start = panechat::session::process_start_time(me).unwrap();
    let fake_run = |pid: u32, start: u64| {
        serde_json::json!({"pid": pid, "start": start, "session": "ghost", "multiplexer": "explicit", "conversation": "x", "state": "streaming", "since": "2026-01-01T00:00:00.000Z"})
            .to_string()
    };
    // This test process is alive, but with another start time it is a recycled pid.
    std::fs::write(
        runs.join(format!("{me}-{}.json", start + 7)),
        fake_run(me, start + 7),
    )
    .unwrap();
    // A pid that does not exist.
    std::fs::write(runs.join("4000000-1.json"), fake_run(4_000_000, 1)).unwrap();
    assert!(run_states(&env).is_empty());
    assert_eq!(
        std::fs::read_dir(&runs).unwrap().count(),
        0,
        "stale run files are removed"
    );
    // A live process that is not a panechat run is never signalled.
    std::fs::write(runs.join(format!("{me}-{start}.json")), fake_run(me, start)).unwrap();
    assert_eq!(run_states(&env), vec![("ghost".into(), "streaming".into())]);
    let k = env.run(["kill", "ghost"]).ok();
    assert!(k.stderr.contains("not a panechat run"), "{}", k.stderr);
    std::fs::remove_file(runs.join(format!("{me}-{start}.json"))).unwrap();
}

#[test]
fn caps_and_timeouts_end_runs_with_a_clear_message() {
    let (env, _fake) = setup();
    // Reply cap: the reply is cut with a visible marker and kept.
    let r = env
        .run_in(
            "a",
            [
                "--cfg",
                "provider.max_reply_bytes=10",
                "--cfg",
                "title.generate=false",
                "q",
                "a fairly long question",
            ],
        )
        .ok();
    assert!(r.stdout.starts_with("echo: a fa"), "{}", r.stdout);
    assert!(
        r.stdout.contains("reply truncated by panechat at 10 bytes"),
        "{}",
        r.stdout
    );
    let v = json(&env.run_in("a", ["show", "--json"]).ok().stdout);
    assert_eq!(v["messages"][1]["truncated"], true);
    assert!(v["messages"][1]["content"]
        .as_str()
        .unwrap()
        .contains("truncated"));
    // Overall timeout.
    let t = Instant::now();
    let r = env.run_in(
        "a",
        [
            "--cfg",
            "provider.timeout=600ms",
            "q",
            "slow [[slow:200]] [[chunks:20]]",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("provider.timeout"), "{}", r.stderr);
    assert!(t.elapsed() < Duration::from_secs(3));
    // Idle timeout.
    let r = env.run_in(
        "a",
        [
            "--cfg",
            "provider.idle_timeout=500ms",
            "q",
            "stall [[stall]]",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("provider.idle_timeout"), "{}", r.stderr);
    // Neither wrote a turn.
    let v = json(&env.run_in("a", ["show", "--json"]).ok().stdout);
    assert_eq!(v["turns"], 1);
}

#[test]
fn log_lines_carry_session_labels() {
    let (env, _fake) = setup();
    env.run_in("work", ["q", "hello"]).ok();
    env.run_in("work", ["q", "fail [[http:503]]"]).code(1);
    let r = env
        .cmd(["-v", "q", "--new", "hi"])
        .env("TMUX", "/nonexistent/sock,1,0")
        .env("TMUX_PANE", "%5")
        .env_remove("PANECHAT_SESSION")
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("[tmux %5]"),
        "-v mirrors the log to stderr"
    );
    let log = std::fs::read_to_string(env.home().join("state/logs/panechat.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("INFO [explicit work]") && l.contains("query in")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR [explicit work]") && l.contains("503")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("[tmux %5]") && l.contains("reply in")),
        "{log}"
    );
    assert!(!log.contains("hello"), "message text is not logged");
}

/// The log's lines since `from` bytes.
fn log_lines_after(env: &TestEnv, from: usize) -> Vec<String> {
    let text = std::fs::read_to_string(env.home().join("state/logs/panechat.log")).unwrap();
    text[from..].lines().map(str::to_string).collect()
}

#[test]
fn a_query_logs_one_short_line_and_the_log_stays_bounded() {
    let (env, _fake) = setup();
    let log = env.home().join("state/logs/panechat.log");
    let size = || std::fs::metadata(&log).map_or(0, |m| m.len() as usize);
    // A new conversation (created, titled) and turns in it: one line each, and a short one.
    let before = size();
    env.run_in("a", ["q", "--new", "first question"]).ok();
    for _ in 0..3 {
        env.run_in("a", ["q", "again"]).ok();
    }
    let lines = log_lines_after(&env, before);
    assert_eq!(lines.len(), 4, "one line per query:\n{}", lines.join("\n"));
    for l in &lines {
        assert!(l.contains(" INFO [explicit a] "), "{l}");
        assert!(l.len() <= 160, "{} bytes: {l}", l.len());
    }
    // With -v, more is said (on stderr and in the log).
    let before = size();
    let r = env.run_in("a", ["-v", "q", "again"]).ok();
    assert!(
        r.stderr.contains("DEBUG") || r.stderr.contains("INFO"),
        "{}",
        r.stderr
    );
    assert!(!log_lines_after(&env, before).is_empty());

    // Full: the log is rotated, and at most panechat::logfile::KEEP old files are kept.
    let max = panechat::logfile::MAX_LOG_BYTES as usize;
    std::fs::write(&log, "f".repeat(max + 1)).unwrap();
    for i in 1..=panechat::logfile::KEEP {
        std::fs::write(format!("{}.{i}", log.display()), format!("old {i}\n")).unwrap();
    }
    env.run_in("a", ["q", "again"]).ok();
    assert_eq!(
        log_lines_after(&env, 0).len(),
        1,
        "the new log has the query's line"
    );
    let rotated = |i: usize| std::fs::read_to_string(format!("{}.{i}", log.display())).unwrap();
    assert_eq!(rotated(1).len(), max + 1, "the full log is now .1");
    for i in 2..=panechat::logfile::KEEP {
        assert_eq!(rotated(i), format!("old {}\n", i - 1));
    }
    let extra = format!("{}.{}", log.display(), panechat::logfile::KEEP + 1);
    assert!(!std::path::Path::new(&extra).exists(), "{extra} was kept");
}

#[test]
fn sessions_of_closed_panes_are_pruned_but_conversations_kept() {
    let (env, _fake) = setup();
    // A pane of a tmux server that is gone (pid that does not exist, socket missing).
    let r = env
        .cmd(["q", "--new", "from a dead server"])
        .env("TMUX", "/nonexistent/tmux-sock,4000000,0")
        .env("TMUX_PANE", "%1")
        .env_remove("PANECHAT_SESSION")
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    env.run_in("explicit", ["q", "--new", "kept"]).ok();
    let before = json(&env.run(["ls", "--json"]).ok().stdout)
        .as_array()
        .unwrap()
        .len();
    let s = env.run(["sessions", "--json"]).ok();
    assert!(s.stderr.contains("pruned 1 session"), "{}", s.stderr);
    let keys: Vec<String> = json(&s.stdout)
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, ["explicit"]);
    assert_eq!(
        json(&env.run(["ls", "--json"]).ok().stdout)
            .as_array()
            .unwrap()
            .len(),
        before
    );
    let s = env.run(["sessions", "--prune"]).ok();
    assert!(s.stderr.contains("pruned 0"), "{}", s.stderr);
}

#[test]
fn a_query_outside_a_multiplexer_is_one_process_and_stops_running_when_killed() {
    panechat_e2e::needs!("strace");
    let (env, _fake) = setup();
    env.run(["q", "one"]).ok();
    // No pane shows it: the query starts no other program (no watcher).
    let trace = env.root.join("q.trace");
    env.run_traced(
        &["-f", "-e", "trace=execve", "-o", trace.to_str().unwrap()],
        ["q", "two"],
    )
    .ok();
    let text = std::fs::read_to_string(&trace).unwrap();
    let execs: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("execve(") && !l.contains("resumed>"))
        .collect();
    assert_eq!(execs.len(), 1, "only panechat itself: {execs:#?}");

    // SIGKILLed, it stops showing as running at once: the reader checks its process.
    let mut child = env
        .cmd(["q", "long [[gate:never]]"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the run is listed", || !run_states(&env).is_empty());
    child.kill().unwrap();
    child.wait().unwrap();
    let t = Instant::now();
    wait_until("the killed run no longer listed", || {
        run_states(&env).is_empty()
    });
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}
