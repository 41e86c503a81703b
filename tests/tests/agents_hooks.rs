//! `panechat hook claude|codex`: a coding agent run by hand reports into the pane it runs in.
//! The hook always exits 0 at once, prints nothing, and never breaks the store, whatever state
//! the store is in; in a real tmux pane the pane's state carries the agent.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use panechat_e2e::agents::AgentHome;
use panechat_e2e::env::{Run, TestEnv};
use panechat_e2e::helpers::{json, litter};
use panechat_e2e::tmux::World;
use serde_json::Value;

/// How long any hook call may take here (the budget, 10 ms, is measured by the benchmark;
/// this bound only catches a hook that waits).
const QUICK: Duration = Duration::from_millis(1500);

/// A tmux pane's environment that names no running server: the hook computes the pane's key
/// and writes the store, and its publication goes nowhere.
fn fake_pane() -> Vec<(&'static str, String)> {
    vec![
        ("TMUX", "/nonexistent/panechat-hook-test,999999,0".into()),
        ("TMUX_PANE", "%7".into()),
    ]
}

/// The pane's session key as panechat computes it from `vars`.
fn key_of(vars: &[(&str, String)]) -> panechat::session::SessionKey {
    let env = panechat::env::Env::from_pairs(vars.iter().map(|(k, v)| (*k, v.as_str())));
    panechat::session::pane_session(&env)
        .expect("a pane's environment")
        .key
}

/// The hook command: the test's environment without an explicit session, plus `vars`.
fn hook_cmd(env: &TestEnv, vars: &[(&str, String)], args: &[&str]) -> Command {
    let mut c = env.cmd(["hook"].iter().chain(args));
    c.env_remove("PANECHAT_SESSION");
    for (k, v) in vars {
        c.env(k, v);
    }
    c
}

/// Runs the hook with `input` on stdin; checks it exited 0 within [`QUICK`] and printed
/// nothing on stdout.
#[track_caller]
fn hook(env: &TestEnv, vars: &[(&str, String)], args: &[&str], input: &[u8]) -> Run {
    let mut child = hook_cmd(env, vars, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting panechat hook");
    let t = Instant::now();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(input);
    drop(stdin);
    let run = finish(child, t);
    assert_eq!(run.code, 0, "the hook exits 0: {}", run.stderr);
    assert_eq!(run.stdout, "", "a hook prints nothing an agent would read");
    run
}

/// Waits for `child` at most [`QUICK`] after `t`, then collects its output.
#[track_caller]
fn finish(mut child: std::process::Child, t: Instant) -> Run {
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > QUICK {
            let _ = child.kill();
            panic!("the hook did not exit within {QUICK:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Run::from_output(child.wait_with_output().unwrap())
}

fn event(name: &str, extra: &str) -> Vec<u8> {
    format!(r#"{{"session_id":"5f0c7a2e-1111","transcript_path":"/x.jsonl","cwd":"/work/it's here","hook_event_name":"{name}"{extra}}}"#).into_bytes()
}

/// The agent recorded for the pane `vars` name, as `status --format json` in that pane says.
fn agent_in(env: &TestEnv, vars: &[(&str, String)]) -> Value {
    let mut c = env.cmd(["status", "--format", "json"]);
    c.env_remove("PANECHAT_SESSION");
    for (k, v) in vars {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    json(&String::from_utf8_lossy(&o.stdout))["agent"].clone()
}

fn agents_dir(env: &TestEnv) -> std::path::PathBuf {
    env.home().join("state/agents")
}

#[test]
fn claude_events_make_the_panes_agent_state() {
    let env = TestEnv::new();
    let pane = fake_pane();
    hook(
        &env,
        &pane,
        &["claude"],
        &event("SessionStart", r#","source":"startup""#),
    );
    let a = agent_in(&env, &pane);
    assert_eq!(a["kind"], "claude-code");
    assert_eq!(a["state"], "idle");
    assert_eq!(a["session"], "5f0c7a2e-1111");
    assert_eq!(a["cwd"], "/work/it's here");
    hook(
        &env,
        &pane,
        &["claude"],
        &event("UserPromptSubmit", r#","prompt":"hi""#),
    );
    assert_eq!(agent_in(&env, &pane)["state"], "working");
    hook(
        &env,
        &pane,
        &["claude"],
        &event(
            "PreToolUse",
            r#","tool_name":"Bash","tool_input":{"command":"ls"}"#,
        ),
    );
    let a = agent_in(&env, &pane);
    assert_eq!(
        (a["state"].as_str(), a["tool"].as_str()),
        (Some("working"), Some("Bash"))
    );
    hook(
        &env,
        &pane,
        &["claude"],
        &event(
            "Notification",
            r#","message":"Claude needs your permission","notification_type":"permission_prompt""#,
        ),
    );
    assert_eq!(agent_in(&env, &pane)["state"], "needs-you");
    hook(
        &env,
        &pane,
        &["claude"],
        &event("PostToolUse", r#","tool_name":"Bash""#),
    );
    assert_eq!(agent_in(&env, &pane)["state"], "working");
    hook(
        &env,
        &pane,
        &["claude"],
        &event(
            "Stop",
            r#","last_assistant_message":"\u001b]2;pwned\u0007Two files.\nmore""#,
        ),
    );
    let a = agent_in(&env, &pane);
    assert_eq!(a["state"], "done");
    assert_eq!(
        a["message"], "]2;pwnedTwo files.",
        "controls dropped, first line only"
    );
    assert_eq!(a["session"], "5f0c7a2e-1111");
    hook(
        &env,
        &pane,
        &["claude"],
        &event("SessionEnd", r#","reason":"prompt_input_exit""#),
    );
    assert_eq!(
        agent_in(&env, &pane),
        Value::Null,
        "ended by the person: forgotten"
    );
    // With PANECHAT_LOG=debug, each call says what it recorded in panechat's log.
    let mut vars = pane.clone();
    vars.push(("PANECHAT_LOG", "debug".into()));
    hook(&env, &vars, &["claude"], &event("UserPromptSubmit", ""));
    let log = std::fs::read_to_string(env.home().join("state/logs/panechat.log")).unwrap();
    assert!(
        log.contains("agent hook: claude: working (session 5f0c7a2e-1111)"),
        "{log}"
    );
    assert!(litter(&env.home()).is_empty());
}

#[test]
fn a_codex_notice_marks_the_pane_done_and_runs_a_chained_program() {
    let env = TestEnv::new();
    let pane = fake_pane();
    let script = env.root.join("their-notify.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf '%s|%s' \"$1\" \"$2\" > \"$0.out\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let notice = r#"{"type":"agent-turn-complete","thread-id":"019a-t1","turn-id":"1","cwd":"/w","input-messages":["hi"],"last-assistant-message":"Done: 3 files"}"#;
    let s = script.display().to_string();
    hook(&env, &pane, &["codex", "--then", &s, "first", notice], b"");
    let a = agent_in(&env, &pane);
    assert_eq!(a["kind"], "codex");
    assert_eq!(a["state"], "done");
    assert_eq!(a["session"], "019a-t1");
    assert_eq!(a["message"], "Done: 3 files");
    let chained = script.with_extension("sh.out");
    panechat_e2e::helpers::wait_until("the chained notify program ran", || chained.exists());
    panechat_e2e::helpers::wait_until("it wrote its arguments", || {
        std::fs::read_to_string(&chained).is_ok_and(|s| s == format!("first|{notice}"))
    });
}

#[test]
fn outside_a_multiplexer_and_with_bad_input_the_hook_does_nothing() {
    let env = TestEnv::new();
    // No pane: PANECHAT_SESSION alone names no pane.
    hook(&env, &[], &["claude"], &event("UserPromptSubmit", ""));
    let mut with_session = env.cmd(["hook", "claude"]);
    with_session.env("PANECHAT_SESSION", "scripted");
    let run = TestEnv::run_within(&mut with_session, QUICK);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""));
    assert!(
        !agents_dir(&env).exists(),
        "nothing recorded outside a pane"
    );
    let pane = fake_pane();
    for (args, input) in [
        (&[][..], &b""[..]),
        (&["bogus"][..], b""),
        (&["codex"][..], b""),
        (&["codex", "not json"][..], b""),
        (&["claude"][..], b"not json"),
        (&["claude"][..], b"\xff\xfe{"),
        (&["claude", "--help"][..], b"{}"),
    ] {
        let run = hook(&env, &pane, args, input);
        assert_eq!(run.stderr, "", "{args:?}");
    }
    assert_eq!(agent_in(&env, &pane), Value::Null);
}

#[test]
fn a_hook_never_waits_for_a_silent_stdin_and_reads_a_huge_one() {
    let env = TestEnv::new();
    let pane = fake_pane();
    // A writer that never closes its end: the hook gives up on its stdin and exits.
    let mut child = hook_cmd(&env, &pane, &["claude"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let stdin = child.stdin.take().unwrap();
    while child.try_wait().unwrap().is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the hook waits for stdin forever"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(stdin);
    assert_eq!(Run::from_output(child.wait_with_output().unwrap()).code, 0);
    // 8 MiB of a file being written: read to its end (the agent's write never fails), the
    // event still recorded.
    let mut big = br#"{"session_id":"s","cwd":"/w","hook_event_name":"PreToolUse","tool_name":"Write","tool_input":{"content":""#.to_vec();
    big.extend(std::iter::repeat_n(b'x', 8 << 20));
    big.extend(br#""}}"#);
    let mut child = hook_cmd(&env, &pane, &["claude"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(&big)
        .expect("the hook reads all of its input");
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let a = agent_in(&env, &pane);
    assert_eq!(
        (a["state"].as_str(), a["tool"].as_str()),
        (Some("working"), Some("Write"))
    );
}

/// Holds an exclusive `flock` on `path` (created) until dropped.
struct Flock {
    _file: std::fs::File,
}

impl Flock {
    fn hold(path: &std::path::Path) -> Flock {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this test owns.
        assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
        Flock { _file: f }
    }
}

#[test]
fn a_locked_store_is_not_waited_for() {
    let env = TestEnv::new();
    let pane = fake_pane();
    // The pane's mapping and the index are locked (as a long `panechat q` or a compaction
    // holds them).
    let stem = key_of(&pane).file_stem();
    let _held = [
        Flock::hold(&env.home().join(format!("state/sessions/{stem}.lock"))),
        Flock::hold(&env.home().join("state/locks/index.lock")),
    ];
    hook(&env, &pane, &["claude"], &event("UserPromptSubmit", ""));
    assert_eq!(agent_in(&env, &pane)["state"], "working");
}

#[test]
fn a_broken_or_missing_store_never_fails_the_agent() {
    let pane = fake_pane();
    let stem = key_of(&pane).file_stem();
    let start = event("UserPromptSubmit", "");
    // Each case: what to break, and a check that it is still as it was.
    type Break = fn(&std::path::Path, &str);
    let cases: &[(&str, Break)] = &[
        ("the state directory is a file", |home, _| {
            std::fs::create_dir_all(home).unwrap();
            std::fs::write(home.join("state"), "x").unwrap();
        }),
        ("the agents directory is a file", |home, _| {
            std::fs::create_dir_all(home.join("state")).unwrap();
            std::fs::write(home.join("state/agents"), "x").unwrap();
        }),
        ("the agents directory is a FIFO", |home, _| {
            std::fs::create_dir_all(home.join("state")).unwrap();
            nix::unistd::mkfifo(&home.join("state/agents"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        }),
        ("the pane's agent file is a FIFO", |home, stem| {
            std::fs::create_dir_all(home.join("state/agents")).unwrap();
            nix::unistd::mkfifo(
                &home.join(format!("state/agents/{stem}.json")),
                nix::sys::stat::Mode::S_IRWXU,
            )
            .unwrap();
        }),
        ("the pane's session record is a FIFO", |home, stem| {
            std::fs::create_dir_all(home.join("state/sessions")).unwrap();
            nix::unistd::mkfifo(
                &home.join(format!("state/sessions/{stem}.json")),
                nix::sys::stat::Mode::S_IRWXU,
            )
            .unwrap();
        }),
        ("the runs directory is a FIFO", |home, _| {
            std::fs::create_dir_all(home.join("state")).unwrap();
            nix::unistd::mkfifo(&home.join("state/runs"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        }),
        ("the agents directory is unreadable", |home, _| {
            std::fs::create_dir_all(home.join("state/agents")).unwrap();
            std::fs::set_permissions(
                home.join("state/agents"),
                std::fs::Permissions::from_mode(0o000),
            )
            .unwrap();
        }),
        ("the pane's agent file is garbage", |home, stem| {
            std::fs::create_dir_all(home.join("state/agents")).unwrap();
            std::fs::write(home.join(format!("state/agents/{stem}.json")), "\0{{{").unwrap();
        }),
        ("the store is missing", |_, _| {}),
    ];
    for (what, break_it) in cases {
        let env = TestEnv::new();
        let home = env.home();
        break_it(&home, &stem);
        let before = tree(&env.root);
        let run = hook(&env, &pane, &["claude"], &start);
        assert_eq!(run.stderr, "", "{what}: the hook says nothing");
        // What was broken is left as it was (a file, a FIFO are never replaced or opened).
        let after = tree(&env.root);
        for (path, kind) in &before {
            assert_eq!(
                after.iter().find(|(p, _)| p == path).map(|(_, k)| k),
                Some(kind),
                "{what}: {path} changed"
            );
        }
        assert!(litter(&env.root).is_empty(), "{what}: temp files left");
        let _ = std::fs::set_permissions(
            home.join("state/agents"),
            std::fs::Permissions::from_mode(0o700),
        );
    }
    // No place for a store at all: PANECHAT_HOME under a file, or no HOME.
    let env = TestEnv::new();
    let mut vars = pane.clone();
    vars.push(("PANECHAT_HOME", "/dev/null/panechat".into()));
    hook(&env, &vars, &["claude"], &start);
    let mut c = hook_cmd(&env, &pane, &["claude"]);
    c.env_remove("PANECHAT_HOME").env_remove("HOME");
    let run = TestEnv::run_within(&mut c, QUICK);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""));
}

/// Every path under `root` with its kind (`d`, `f`, `p`).
fn tree(root: &std::path::Path) -> Vec<(String, char)> {
    use std::os::unix::fs::FileTypeExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let t = e.file_type().unwrap();
            let kind = if t.is_dir() {
                stack.push(e.path());
                'd'
            } else if t.is_fifo() {
                'p'
            } else {
                'f'
            };
            out.push((e.path().display().to_string(), kind));
        }
    }
    out
}

/// The environment of tmux pane `pane` (`$TMUX`, `$TMUX_PANE`), as an agent in it has.
fn tmux_pane_env(w: &World, pane: &str) -> Vec<(&'static str, String)> {
    let tmux = w.tmux.value(pane, "#{socket_path},#{pid},#{session_id}");
    vec![
        ("TMUX", tmux.replacen(",$", ",", 1)),
        ("TMUX_PANE", pane.to_string()),
    ]
}

#[test]
fn in_a_real_tmux_pane_the_hook_reports_into_that_pane() {
    panechat_e2e::needs!("tmux");
    let env = TestEnv::new();
    let mut w = World::start(&env, 100, 30);
    w.attach(&env, 100, 30);
    let p0 = w.pane0();
    w.tmux.ok(&["split-window", "-t", &p0]);
    let p1 = w.tmux.value("t", "#{pane_id}");
    assert_ne!(p0, p1);
    // The agent in the second pane runs its hook there: the environment the agent passes on.
    let input = env.root.join("event.json");
    std::fs::write(&input, event("PreToolUse", r#","tool_name":"Bash""#)).unwrap();
    let line = format!(
        "panechat hook claude < {}; echo \"HOOK\"\"-EXIT $?\"",
        input.display()
    );
    w.tmux.type_line(&p1, &line);
    w.tmux.wait_for(&p1, "HOOK-EXIT 0");
    let here = tmux_pane_env(&w, &p1);
    let a = agent_in(&env, &here);
    assert_eq!(
        (a["state"].as_str(), a["tool"].as_str()),
        (Some("working"), Some("Bash"))
    );
    // The agent's own title is left alone in a pane without a conversation. (The hook's one
    // tmux call sets the pane's options, then its title: once the options are set, the title
    // has been set too, or not at all.)
    w.tmux
        .ok(&["select-pane", "-t", &p1, "-T", "✳ Agent at work"]);
    w.tmux
        .ok(&["set-option", "-p", "-u", "-t", &p1, "@panechat_state"]);
    // (another tool: an event that changes nothing publishes nothing)
    std::fs::write(&input, event("PreToolUse", r#","tool_name":"Read""#)).unwrap();
    w.tmux.type_line(
        &p1,
        &format!(
            "panechat hook claude < {}; echo \"HOOK\"\"-AGAIN $?\"",
            input.display()
        ),
    );
    w.tmux.wait_for(&p1, "HOOK-AGAIN 0");
    panechat_e2e::helpers::wait_until("the hook published the pane", || {
        w.tmux.value(&p1, "#{@panechat_state}") == "idle"
    });
    assert_eq!(w.tmux.value(&p1, "#{pane_title}"), "✳ Agent at work");
    assert_eq!(
        agent_in(&env, &tmux_pane_env(&w, &p0)),
        Value::Null,
        "the other pane has none"
    );
    // Back to Bash, then `sessions` lists the pane by its agent.
    std::fs::write(&input, event("PreToolUse", r#","tool_name":"Bash""#)).unwrap();
    w.tmux.type_line(
        &p1,
        &format!(
            "panechat hook claude < {}; echo \"HOOK\"\"-BASH $?\"",
            input.display()
        ),
    );
    w.tmux.wait_for(&p1, "HOOK-BASH 0");
    let list = json(&env.run(["sessions", "--json"]).ok().stdout);
    let item = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["pane"] == p1.as_str())
        .unwrap_or_else(|| panic!("the agent's pane is listed: {list}"));
    assert_eq!(item["agent"]["state"], "working");
    let table = env.run(["sessions"]).ok().stdout;
    assert!(
        table.contains("AGENT") && table.contains("claude: running Bash"),
        "{table}"
    );
    // An agent in a pane that was closed (its server still runs): `sessions --prune` forgets it.
    let p2 = w
        .tmux
        .ok(&["split-window", "-P", "-F", "#{pane_id}", "-t", &p1]);
    let p2 = p2.trim().to_string();
    w.tmux.type_line(
        &p2,
        &format!(
            "panechat hook claude < {}; echo \"HOOK\"\"-TWO $?\"",
            input.display()
        ),
    );
    w.tmux.wait_for(&p2, "HOOK-TWO 0");
    let gone = tmux_pane_env(&w, &p2);
    assert_eq!(agent_in(&env, &gone)["state"], "working");
    w.tmux.ok(&["kill-pane", "-t", &p2]);
    env.run(["sessions", "--prune"]).ok();
    assert_eq!(
        agent_in(&env, &gone),
        Value::Null,
        "the closed pane's agent is forgotten"
    );
    assert_eq!(
        agent_in(&env, &here)["state"],
        "working",
        "the open one's is kept"
    );
    // The agent's turn ends; the multiplexer restarts (a reboot, a kill-server): the pane's
    // agent session can be resumed in its directory.
    let input = env.root.join("stop.json");
    std::fs::write(
        &input,
        event("Stop", r#","last_assistant_message":"Listed."#),
    )
    .unwrap();
    w.tmux.type_line(
        &p1,
        &format!(
            "panechat hook claude < {}; echo \"STOP\"\"-EXIT $?\"",
            input.display()
        ),
    );
    w.tmux.wait_for(&p1, "STOP-EXIT 0");
    assert_eq!(agent_in(&env, &here)["state"], "done");
    w.restart_server(&env, 100, 30);
    let resume = env.run(["sessions", "--resume"]).ok().stdout;
    assert_eq!(
        resume.lines().collect::<Vec<_>>()[1],
        "cd '/work/it'\\''s here' && claude --resume '5f0c7a2e-1111'",
        "{resume}"
    );
    assert!(
        resume.starts_with(&format!(
            "# tmux pane {p1}, multiplexer stopped (claude: done"
        )),
        "{resume}"
    );
}

/// `init claude --write` in a HOME whose Claude settings have the user's own keys and hooks.
#[test]
fn init_claude_write_merges_once_and_remove_takes_out_exactly_that() {
    let env = TestEnv::new();
    let dir = env.root.join("home/.claude");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("settings.json");
    let user = "{\n  \"model\": \"opus\",\n  \"hooks\": {\n    \"Stop\": [{\"matcher\": \"\", \"hooks\": [{\"type\": \"command\", \"command\": \"say done\"}]}]\n  },\n  \"env\": {\"A\": \"1\"}\n}\n";
    std::fs::write(&file, user).unwrap();
    let run = env.run(["init", "claude", "--write"]).ok();
    assert!(
        run.stderr.contains("added panechat's hooks"),
        "{}",
        run.stderr
    );
    let written = std::fs::read_to_string(&file).unwrap();
    let v = json(&written);
    assert_eq!(v["model"], "opus");
    assert_eq!(v["env"]["A"], "1");
    assert_eq!(v["hooks"]["Stop"][0]["hooks"][0]["command"], "say done");
    let ours = format!(
        "'{}' hook claude",
        panechat_e2e::env::panechat_bin().display()
    );
    for e in panechat::agent_setup::CLAUDE_EVENTS {
        let groups = v["hooks"][e].as_array().unwrap();
        let n = groups
            .iter()
            .flat_map(|g| g["hooks"].as_array().unwrap())
            .filter(|h| h["command"] == ours.as_str())
            .count();
        assert_eq!(n, 1, "{e}: {written}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("settings.json.panechat-backup")).unwrap(),
        user,
        "the replaced file is kept"
    );
    // Twice: nothing changes.
    let run = env.run(["init", "claude", "--write"]).ok();
    assert!(run.stderr.contains("already has"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);
    // Removed: the user's settings as they were (same members, same order).
    env.run(["init", "claude", "--remove"]).ok();
    let back = std::fs::read_to_string(&file).unwrap();
    assert_eq!(json(&back), json(user));
    let keys: Vec<usize> = ["\"model\"", "\"hooks\"", "\"env\""]
        .iter()
        .map(|k| back.find(k).unwrap())
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{back}");
    // Invalid JSON: refused, nothing touched.
    std::fs::write(&file, "{ \"model\": ").unwrap();
    let run = env.run(["init", "claude", "--write"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("not valid JSON") && run.stderr.contains("nothing was changed"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{ \"model\": ");
    // CLAUDE_CONFIG_DIR moves the file.
    let other = env.root.join("claude-dir");
    let mut c = env.cmd(["init", "claude", "--write"]);
    c.env("CLAUDE_CONFIG_DIR", &other);
    assert!(c.status().unwrap().success());
    assert!(
        json(&std::fs::read_to_string(other.join("settings.json")).unwrap())["hooks"]["Stop"]
            .is_array()
    );
}

/// `init codex --write` keeps the user's config and their own notify program.
#[test]
fn init_codex_write_chains_the_users_notify_and_remove_gives_it_back() {
    let env = TestEnv::new();
    let dir = env.root.join("codex-home");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    let user = "model = \"o3\"\nnotify = [\"python3\", \"/home/me/notify.py\"]\n\n[profiles.fast]\nmodel = \"mini\"\n";
    std::fs::write(&file, user).unwrap();
    let codex = |args: &[&str]| {
        let mut c = env.cmd(args);
        c.env("CODEX_HOME", &dir);
        Run::from_output(c.output().unwrap())
    };
    let run = codex(&["init", "codex", "--write"]).ok();
    assert!(
        run.stderr.contains("python3 /home/me/notify.py"),
        "{}",
        run.stderr
    );
    let written = std::fs::read_to_string(&file).unwrap();
    let bin = panechat_e2e::env::panechat_bin().display().to_string();
    assert!(
        written.contains(&format!(
            "notify = [\"{bin}\", \"hook\", \"codex\", \"--then\", \"python3\", \"/home/me/notify.py\"]"
        )),
        "{written}"
    );
    assert!(written.contains("[profiles.fast]\nmodel = \"mini\""));
    assert!(codex(&["init", "codex", "--write"])
        .ok()
        .stderr
        .contains("already has"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);
    codex(&["init", "codex", "--remove"]).ok();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), user);
    // A missing config is created with the notify line only, and removed back to nothing.
    std::fs::remove_file(&file).unwrap();
    codex(&["init", "codex", "--write"]).ok();
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("\"hook\", \"codex\"]"));
    codex(&["init", "codex", "--remove"]).ok();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "");
    // Invalid TOML: refused, nothing touched.
    std::fs::write(&file, "model = ").unwrap();
    let run = codex(&["init", "codex", "--write"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("not valid TOML"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "model = ");
}

/// A tmux world whose panes can run the real agents against `fake`, with panechat's hooks
/// installed the way a user installs them (`panechat init claude|codex --write`) in the test's
/// own HOME: (the world, the agents' home).
fn agent_world(env: &TestEnv, fake: &panechat_e2e::fake::FakeProvider) -> (World, AgentHome) {
    let home = AgentHome::new(&env.root.join("home"), fake);
    home.trust(&env.root.join("work"));
    let mut senv = panechat_e2e::tmux::server_env(env);
    let bin_dir = panechat_e2e::env::panechat_bin()
        .parent()
        .unwrap()
        .display()
        .to_string();
    for (k, v) in home.env() {
        let v = if k == "PATH" {
            format!("{bin_dir}:{v}")
        } else {
            v
        };
        senv.retain(|(x, _)| *x != k);
        senv.push((k, v));
    }
    let w = World::start_with(env, senv, 120, 40);
    (w, home)
}

/// The pane's agent as `status --format json` in it says, once `f` holds (20 s at most).
#[track_caller]
fn wait_agent(
    env: &TestEnv,
    pane: &[(&str, String)],
    what: &str,
    f: impl Fn(&Value) -> bool,
) -> Value {
    let t = Instant::now();
    loop {
        let a = agent_in(env, pane);
        if f(&a) {
            return a;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the pane's agent never became {what}: {a}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `claude -p` in a real tmux pane, its hooks installed by `panechat init claude --write`: the
/// pane's agent is working while the model answers, then done, with Claude Code's session id.
#[test]
fn claude_p_in_a_tmux_pane_reports_working_then_done() {
    panechat_e2e::needs!("tmux", "claude");
    let fake = panechat_e2e::fake::FakeProvider::start();
    let env = TestEnv::new();
    env.run(["init", "claude", "--write"]).ok();
    let (mut w, _home) = agent_world(&env, &fake);
    w.attach(&env, 120, 40);
    let pane = w.pane0();
    let here = tmux_pane_env(&w, &pane);
    let out = env.root.join("claude.jsonl");
    w.tmux.type_line(
        &pane,
        &format!(
            "claude -p 'hello [[gate:answer]]' --output-format stream-json --verbose < /dev/null > {}; echo \"CLAUDE\"\"-EXIT $?\"",
            out.display()
        ),
    );
    let a = wait_agent(&env, &here, "working", |a| a["state"] == "working");
    assert_eq!(a["kind"], "claude-code");
    fake.open_gate("answer");
    w.tmux.wait_for(&pane, "CLAUDE-EXIT 0");
    let text = std::fs::read_to_string(&out).unwrap();
    let result = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["type"] == "result")
        .unwrap_or_else(|| panic!("no result line: {text}"));
    let a = wait_agent(&env, &here, "done", |a| a["state"] == "done");
    assert_eq!(a["session"], result["session_id"], "{a}");
    assert_eq!(a["message"], "echo: hello [[gate:answer]]");
    assert_eq!(a["cwd"], env.root.join("work").display().to_string());
    let resume = env.run(["sessions", "--resume"]).ok().stdout;
    assert!(
        resume.contains(&format!(
            "claude --resume '{}'",
            result["session_id"].as_str().unwrap()
        )),
        "{resume}"
    );
}

/// Claude Code's interactive UI in a tmux pane with a client attached: a tool call waits for
/// the person's permission (needs you), the test answers on the client, the tool runs (working)
/// and the turn ends (done).
#[test]
fn claude_ui_asks_for_permission_and_the_pane_says_it_needs_you() {
    panechat_e2e::needs!("tmux", "claude");
    let fake = panechat_e2e::fake::FakeProvider::start();
    let env = TestEnv::new();
    env.run(["init", "claude", "--write"]).ok();
    let (mut w, _home) = agent_world(&env, &fake);
    w.attach(&env, 120, 40);
    let pane = w.pane0();
    let here = tmux_pane_env(&w, &pane);
    w.tmux.type_line(&pane, "claude");
    let t = Instant::now();
    // Its prompt box: type the request once it takes input.
    loop {
        let screen = w.tmux.capture(&pane);
        if screen.contains("for shortcuts") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "Claude Code's prompt never showed:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // (as a person does, some time after it started: its SessionStart hook has reported)
    wait_agent(&env, &here, "idle with its session", |a| {
        a["state"] == "idle" && a["session"].is_string()
    });
    let made = env.root.join("work/made-by-claude");
    // (slow: the reply after the tool takes a moment, while the pane says working)
    w.text("make it [[bash:touch made-by-claude]] [[slow:300]]");
    w.tmux.wait_for(&pane, "[[slow:300]]");
    w.keys(&["Enter"]);
    wait_agent(&env, &here, "working", |a| a["state"] == "working");
    // The permission dialog, then (about 6 s later) Claude Code's notification.
    w.wait_screen("Do you want to proceed");
    let a = wait_agent(&env, &here, "needs you", |a| a["state"] == "needs-you");
    assert_eq!(a["kind"], "claude-code");
    assert!(!made.exists(), "not run before the answer");
    // The answer, typed on the client: the default choice (Yes).
    w.keys(&["Enter"]);
    let a = wait_agent(&env, &here, "working again", |a| a["state"] == "working");
    assert!(a["session"].is_string(), "{a}");
    panechat_e2e::helpers::wait_until("the tool ran", || made.exists());
    let a = wait_agent(&env, &here, "done", |a| a["state"] == "done");
    assert!(
        a["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("tool said")),
        "{a}"
    );
}

/// `codex exec` in a real Zellij pane, its notify program installed by `panechat init codex
/// --write`: after its turn, the pane's agent is done, with Codex's thread id and last message,
/// and the plugin names the pane so.
#[test]
fn codex_exec_in_a_zellij_pane_reports_done() {
    panechat_e2e::needs!("zellij", "codex");
    let fake = panechat_e2e::fake::FakeProvider::start();
    let env = TestEnv::new();
    let home = AgentHome::new(&env.root.join("home"), &fake);
    let mut init = env.cmd(["init", "codex", "--write"]);
    init.env("CODEX_HOME", &home.codex_home);
    assert!(init.status().unwrap().success());
    let bin_dir = panechat_e2e::env::panechat_bin()
        .parent()
        .unwrap()
        .display()
        .to_string();
    let vars: Vec<(String, String)> = home
        .env()
        .into_iter()
        .filter(|(k, _)| k != "TMPDIR" && k != "HOME")
        .map(|(k, v)| {
            let v = if k == "PATH" {
                format!("{bin_dir}:{v}")
            } else {
                v
            };
            (k, v)
        })
        .collect();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let z = panechat_e2e::zellij::Zellij::start(
        &env,
        panechat_e2e::zellij::Opts {
            env: &vars,
            ..Default::default()
        },
    );
    let id = z.wait_terminal_panes(1);
    z.wait_prompt(id);
    z.wait_plugin_ready();
    let out = env.root.join("codex.jsonl");
    let status = env.root.join("status.json");
    // Codex runs its notify program without waiting for it: the pane's state is read (in the
    // pane, as its own status line would) once it says done.
    z.type_line(
        id,
        &format!(
            "codex exec --json --skip-git-repo-check 'say hi' < /dev/null > {out}; for i in $(seq 100); do panechat status --format json | grep -q '\"state\":\"done\"' && break; sleep 0.1; done; panechat status --format json > {status}.tmp; mv {status}.tmp {status}",
            out = out.display(),
            status = status.display()
        ),
    );
    panechat_e2e::helpers::wait_until("codex's turn and the pane's status", || status.exists());
    let events: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let thread = events
        .iter()
        .find(|e| e["type"] == "thread.started")
        .and_then(|e| e["thread_id"].as_str())
        .unwrap_or_else(|| panic!("no thread.started: {events:?}"))
        .to_string();
    let st = json(&std::fs::read_to_string(&status).unwrap());
    assert!(
        panechat_e2e::zellij::is_pane_key(st["session"].as_str().unwrap(), &z.session, id),
        "{st}"
    );
    let a = &st["agent"];
    assert_eq!(a["kind"], "codex", "{st}");
    assert_eq!(a["state"], "done", "{st}");
    assert_eq!(a["session"], thread.as_str());
    assert_eq!(a["message"], "echo: say hi");
    assert_eq!(a["cwd"], env.root.join("work").display().to_string());
    z.wait_for(
        "the pane named done",
        std::time::Duration::from_secs(60),
        |z| z.title(id) == "💬 ✓ codex: done",
    );
}

/// Codex's interactive UI in a tmux pane, notify installed by `panechat init codex --write`
/// over the user's own notify program: its turn makes the pane done, and the notice about its
/// internal title thread (another thread id) changes nothing; the user's program gets both.
#[test]
fn codex_ui_turn_is_done_and_its_title_thread_is_ignored() {
    panechat_e2e::needs!("tmux", "codex");
    let fake = panechat_e2e::fake::FakeProvider::start();
    let env = TestEnv::new();
    let (mut w, home) = agent_world(&env, &fake);
    let work = env.root.join("work");
    let log = env.root.join("notices.log");
    let script = env.root.join("my-notify.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = home.codex_home.join("config.toml");
    let user = format!(
        "notify = [\"{}\"]\n{}\n[projects.\"{}\"]\ntrust_level = \"trusted\"\n",
        script.display(),
        home.codex_config(),
        work.display()
    );
    std::fs::write(&config, user).unwrap();
    let mut init = env.cmd(["init", "codex", "--write"]);
    init.env("CODEX_HOME", &home.codex_home);
    assert!(init.status().unwrap().success());
    w.attach(&env, 120, 40);
    let pane = w.pane0();
    let here = tmux_pane_env(&w, &pane);
    w.tmux.type_line(&pane, "codex");
    w.tmux.wait_for(&pane, "for shortcuts");
    w.text("hello there");
    w.tmux.wait_for(&pane, "hello there");
    w.keys(&["Enter"]);
    // The user's program gets each notice once panechat has taken it: both are in.
    panechat_e2e::helpers::wait_until("the turn's and the title thread's notices", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.lines().count() >= 2)
    });
    let notices: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(json)
        .collect();
    let turn = notices
        .iter()
        .find(|n| n["input-messages"][0] == "hello there")
        .unwrap_or_else(|| panic!("the turn's notice: {notices:?}"));
    assert!(
        notices.iter().any(|n| n["thread-id"] != turn["thread-id"]),
        "Codex reported its title thread too: {notices:?}"
    );
    let a = agent_in(&env, &here);
    assert_eq!(a["kind"], "codex", "{a}");
    assert_eq!(a["state"], "done");
    assert_eq!(a["session"], turn["thread-id"]);
    assert_eq!(a["message"], "echo: hello there");
    w.tmux.type_line(&pane, "/quit");
}

/// `init claude|codex --write` and `--remove` keep the permissions of the file they edit (a
/// settings file shared with a group, or kept in a dotfiles directory, stays readable as it
/// was).
#[test]
fn init_write_and_remove_keep_the_files_permissions() {
    let env = TestEnv::new();
    let dir = env.root.join("home/.claude");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("settings.json");
    std::fs::write(&file, "{\"model\": \"opus\"}\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    env.run(["init", "claude", "--write"]).ok();
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("hook claude"));
    assert_eq!(mode(&file), 0o644, "--write keeps the mode");
    env.run(["init", "claude", "--remove"]).ok();
    assert!(!std::fs::read_to_string(&file)
        .unwrap()
        .contains("hook claude"));
    assert_eq!(mode(&file), 0o644, "--remove keeps the mode");
    let codex = env.root.join("codex-home");
    std::fs::create_dir_all(&codex).unwrap();
    let config = codex.join("config.toml");
    std::fs::write(&config, "model = \"o3\"\n").unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut c = env.cmd(["init", "codex", "--write"]);
    c.env("CODEX_HOME", &codex);
    let run = Run::from_output(c.output().unwrap()).ok();
    assert!(run.stderr.contains("added"), "{}", run.stderr);
    assert_eq!(mode(&config), 0o640, "Codex's config keeps its mode");
}

/// Settings that change while `init claude --write` edits them (Claude Code saves its own
/// settings there, the user edits them) are not overwritten with the merge of their older
/// text: the command refuses, and the other writer's change is kept.
#[test]
fn init_write_refuses_settings_changed_while_it_edits_them() {
    let env = TestEnv::new();
    let dir = env.root.join("home/.claude");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("settings.json");
    std::fs::write(&file, "{\"model\": \"opus\"}\n").unwrap();
    // Stopped at its first rename (the backup's: the settings are read, the merge is made),
    // while another writer saves the settings. (The signal comes as the rename returns, and
    // strace stops it at each system call too: a stop seen once the backup is there is that
    // one, after the merge.)
    let renames = "rename,renameat,renameat2";
    let mut child = env
        .cmd_traced(
            &[
                "-f",
                "-o",
                "/dev/null",
                "-e",
                &format!("trace={renames}"),
                "-e",
                &format!("inject={renames}:signal=SIGSTOP:when=1"),
            ],
            ["init", "claude", "--write"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strace");
    let strace = child.id();
    let stopped = std::cell::Cell::new(None);
    panechat_e2e::helpers::wait_until("panechat stopped at its first rename", || {
        let kids = std::fs::read_to_string(format!("/proc/{strace}/task/{strace}/children"))
            .unwrap_or_default();
        let backup_begun = dir.join("settings.json.panechat-backup").exists();
        stopped.set(
            kids.split_whitespace()
                .next()
                .filter(|_| backup_begun)
                .and_then(|p| {
                    let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
                    let state = stat.rsplit_once(") ")?.1.chars().next()?;
                    matches!(state, 't' | 'T').then(|| p.parse::<i32>().unwrap())
                }),
        );
        stopped.get().is_some()
    });
    let theirs = "{\"model\": \"opus\", \"permissions\": {\"allow\": [\"Bash(ls:*)\"]}}\n";
    std::fs::write(&file, theirs).unwrap();
    // (Seen in strace's own stop just before the injected SIGSTOP, a single SIGCONT would
    // come first and be lost: sent until the process ends.)
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "panechat never went on"
        );
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(stopped.get().unwrap()),
            nix::sys::signal::Signal::SIGCONT,
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let run = Run::from_output(child.wait_with_output().unwrap());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        theirs,
        "the other writer's change is kept: {}",
        run.stderr
    );
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("changed while") && run.stderr.contains("run this again"),
        "{}",
        run.stderr
    );
    // Run again, it merges into what is there now.
    env.run(["init", "claude", "--write"]).ok();
    let v = json(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(v["permissions"]["allow"][0], "Bash(ls:*)");
    assert!(v["hooks"]["Stop"].is_array());
}

/// Settings that are a link leading to no file (a dotfiles link whose file is not there yet, a
/// loop): refused with what the link points to and what to do; the link is left as it was.
#[test]
fn init_write_through_a_link_to_nothing_says_what_to_do() {
    let env = TestEnv::new();
    let dir = env.root.join("home/.claude");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("settings.json");
    let missing = env.root.join("dotfiles/claude/settings.json");
    std::os::unix::fs::symlink(&missing, &file).unwrap();
    let run = env.run(["init", "claude", "--write"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains(&missing.display().to_string())
            && run.stderr.contains("does not exist")
            && run.stderr.contains("nothing was changed"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_link(&file).unwrap(), missing);
    assert!(!missing.exists());
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink("settings.json", &file).unwrap();
    let run = env.run(["init", "claude", "--remove"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("loop") && run.stderr.contains("nothing was changed"),
        "{}",
        run.stderr
    );
}

/// A hook killed at the rename of the pane's record (Claude Code ends a hook that outlives its
/// timeout): the record it replaces is still whole, the next call records again, and the temp
/// file it left is found and removed by `doctor --repair` like any other interrupted write.
#[test]
fn a_hook_killed_at_its_write_leaves_the_record_whole_and_doctor_cleans_up() {
    let env = TestEnv::new();
    let pane = fake_pane();
    hook(&env, &pane, &["claude"], &event("UserPromptSubmit", ""));
    assert_eq!(agent_in(&env, &pane)["state"], "working");
    let renames = "rename,renameat,renameat2";
    let mut c = env.cmd_traced(
        &[
            "-f",
            "-o",
            "/dev/null",
            "-e",
            &format!("trace={renames}"),
            "-e",
            &format!("inject={renames}:signal=SIGKILL:when=1"),
        ],
        ["hook", "claude"],
    );
    c.env_remove("PANECHAT_SESSION");
    for (k, v) in &pane {
        c.env(k, v);
    }
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strace");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(&event("Stop", r#","last_assistant_message":"x""#))
        .unwrap();
    drop(stdin);
    let run = Run::from_output(child.wait_with_output().unwrap());
    assert_ne!(run.code, 0, "killed at its rename: {}", run.stderr);
    assert_eq!(run.stdout, "");
    assert_eq!(
        agent_in(&env, &pane)["state"],
        "working",
        "the record before the killed call, whole"
    );
    assert_eq!(
        litter(&agents_dir(&env)).len(),
        1,
        "the killed call's temp file"
    );
    hook(&env, &pane, &["claude"], &event("Stop", ""));
    assert_eq!(agent_in(&env, &pane)["state"], "done");
    let d = env.run(["doctor"]);
    assert!(
        d.stdout.contains("interrupted write") && d.stdout.contains("agents"),
        "doctor finds the temp file: {}",
        d.stdout
    );
    env.run(["doctor", "--repair"]).ok();
    assert!(litter(&agents_dir(&env)).is_empty());
    panechat_e2e::helpers::assert_doctor_clean(&env, "after the repair");
    assert_eq!(agent_in(&env, &pane)["state"], "done");
}

/// `sessions --resume` prints commands meant to be run: a pane's agent record written by
/// something else than panechat's hook (its tool name holding a line break, a command, escapes)
/// never puts a line of its own in the output, nor a control character.
#[test]
fn sessions_resume_prints_nothing_of_a_forged_record_outside_its_comment() {
    let env = TestEnv::new();
    let pane = fake_pane();
    hook(&env, &pane, &["claude"], &event("UserPromptSubmit", ""));
    let key = key_of(&pane);
    let file = agents_dir(&env).join(format!("{}.json", key.file_stem()));
    let mut rec = json(&std::fs::read_to_string(&file).unwrap());
    rec["tool"] = "Bash)\ntouch /tmp/pwned # \u{1b}]2;x\u{7}\u{9b}31m".into();
    std::fs::write(&file, rec.to_string()).unwrap();
    let out = env.run(["sessions", "--resume"]).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "one comment, one command: {out:?}");
    assert!(lines[0].starts_with("# "), "{out:?}");
    assert_eq!(
        lines[1],
        "cd '/work/it'\\''s here' && claude --resume '5f0c7a2e-1111'"
    );
    assert!(
        !out.chars()
            .any(|c| c != '\n' && panechat_vocab::text::is_control(c)),
        "{out:?}"
    );
}

/// A panechat binary whose file is not named `panechat` (Nix runs `.panechat-wrapped`, a copy
/// may carry its version): `init claude|codex --write` twice adds nothing the second time,
/// and `--remove` takes out what it added.
#[test]
fn init_write_is_idempotent_and_removable_for_a_binary_named_otherwise() {
    let env = TestEnv::new();
    let bin_dir = env.root.join("nix-bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let bin = bin_dir.join(".panechat-wrapped");
    std::fs::copy(panechat_e2e::env::panechat_bin(), &bin).unwrap();
    let codex_home = env.root.join("codex-home");
    let run = |args: &[&str]| {
        let out = Command::new(&bin)
            .env_clear()
            .envs(&env.env)
            .env("CODEX_HOME", &codex_home)
            .args(args)
            .current_dir(env.root.join("work"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Run::from_output(out).ok()
    };
    let settings = env.root.join("home/.claude/settings.json");
    let config = codex_home.join("config.toml");
    run(&["init", "claude", "--write"]);
    run(&["init", "codex", "--write"]);
    let (s1, c1) = (
        std::fs::read_to_string(&settings).unwrap(),
        std::fs::read_to_string(&config).unwrap(),
    );
    let again = run(&["init", "claude", "--write"]);
    assert!(again.stderr.contains("already has"), "{}", again.stderr);
    let again = run(&["init", "codex", "--write"]);
    assert!(again.stderr.contains("already has"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), s1);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), c1);
    run(&["init", "claude", "--remove"]);
    run(&["init", "codex", "--remove"]);
    assert_eq!(
        json(&std::fs::read_to_string(&settings).unwrap()),
        json("{}")
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "");
}
