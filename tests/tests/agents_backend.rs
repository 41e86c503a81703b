//! Coding agents as back-ends: the real Claude Code and Codex, driven by `panechat q` against
//! the fake provider (`[[bash:COMMAND]]` makes the model call the agent's shell tool).

use std::path::PathBuf;
use std::process::Stdio;

use panechat_e2e::agents::AgentHome;
use panechat_e2e::env::TestEnv;
use panechat_e2e::fake::FakeProvider;
use panechat_e2e::helpers::{active, json, show, wait_until};
use serde_json::Value;

/// A test environment whose provider is `kind`, the agents' homes set up against a fresh fake.
pub fn agent_env(kind: &str, extra: &str) -> (TestEnv, FakeProvider, AgentHome) {
    let fake = FakeProvider::start();
    let mut env = TestEnv::new();
    let home = AgentHome::new(&PathBuf::from(&env.env["HOME"]), &fake);
    for (k, v) in home.env() {
        env.env.insert(k, v);
    }
    env.write_config(&agent_config(kind, extra));
    (env, fake, home)
}

/// The config of an agent back-end (`extra`: more `[provider]` lines).
pub fn agent_config(kind: &str, extra: &str) -> String {
    let args = match kind {
        "claude-code" => "args = [\"--allowedTools\", \"Bash\"]\n",
        _ => "",
    };
    format!(
        "[provider]\nkind = \"{kind}\"\nidle_timeout = \"60s\"\n{args}{extra}[lock]\nwait = \"2s\"\n"
    )
}

/// The last request the fake received, as (role, text) pairs.
pub fn last_request(fake: &FakeProvider) -> Vec<(String, String)> {
    fake.requests()
        .into_iter()
        .rev()
        .find(|r| r.method == "POST")
        .expect("a request")
        .messages()
}

/// The turns stored in the log of `id` (or of the active conversation of session `test`).
pub fn turns(env: &TestEnv, target: Option<&str>) -> Vec<Value> {
    let id = show(env, "test", target)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let log = env.home().join(format!("data/conversations/{id}.jsonl"));
    std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(json)
        .filter(|r| r["type"] == "turn")
        .collect()
}

/// The pids of processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
        if !zombie
            && String::from_utf8_lossy(&cmd)
                .replace('\0', " ")
                .contains(marker)
        {
            out.push(pid);
        }
    }
    out
}

/// The pane's agent as `sessions --json` shows it.
pub fn agent_of(env: &TestEnv, session: &str) -> Value {
    let all = json(&env.run(["sessions", "--json"]).ok().stdout);
    all.as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == session)
        .map(|s| s["agent"].clone())
        .unwrap_or(Value::Null)
}

fn claude_turns(kind: &str) {
    let (env, fake, _home) = agent_env(kind, "");
    let r = env.run(["q", "--new", "hello there"]).ok();
    assert!(r.stdout.contains("echo: hello there"), "{}", r.stdout);
    let t = turns(&env, None);
    assert_eq!(t.len(), 1);
    let first = t[0]["agent"]["id"]
        .as_str()
        .expect("the agent's session")
        .to_string();
    assert_eq!(t[0]["agent"]["backend"], kind);
    assert_eq!(t[0]["assistant"], "echo: hello there");
    // The model that answered: Claude Code's own default names itself; Codex's is its kind.
    let model = t[0]["model"].as_str().unwrap();
    assert!(
        if kind == "codex" {
            model == "codex"
        } else {
            !model.is_empty()
        },
        "{model}"
    );
    let id = active(&env, "test");
    // The log line of the turn names the pane, the agent's session (and Claude Code's cost).
    let log = std::fs::read_to_string(env.home().join("state/logs/panechat.log")).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains(&format!("query in {id}")))
        .unwrap();
    assert!(line.contains("[explicit test]"), "{line}");
    assert!(line.contains(&format!("{kind} session {first}")), "{line}");
    if kind == "claude-code" {
        assert!(line.contains(", $"), "{line}");
    }

    // The next question resumes the session: the agent sends the earlier turn.
    let r = env.run(["q", "list [[bash:echo from-the-tool]]"]).ok();
    let tool = if kind == "codex" {
        "▸ shell:"
    } else {
        "▸ Bash: echo from-the-tool"
    };
    assert!(r.stdout.contains(tool), "{}", r.stdout);
    assert!(
        r.stdout.contains("  ✓ "),
        "the tool's outcome: {}",
        r.stdout
    );
    assert!(
        r.stdout.contains("tool said: from-the-tool"),
        "{}",
        r.stdout
    );
    let said = last_request(&fake);
    assert!(
        said.iter().any(|(_, t)| t.contains("hello there")),
        "the resumed session carries the first turn: {said:?}"
    );
    let t = turns(&env, None);
    assert_eq!(t.len(), 2, "each turn stored once");
    assert_eq!(t[1]["agent"]["id"], first.as_str(), "the same session");
    assert!(t[1]["assistant"].as_str().unwrap().contains(tool));
    assert_eq!(active(&env, "test"), id);
    // `show` prints the tool line as it was shown.
    let shown = env.run(["show"]).ok().stdout;
    assert!(shown.contains(tool), "{shown}");

    // A fork continues a fork of the session: the agent has the history, the session is new.
    let fork = env.run(["fork"]).ok().stdout.trim().to_string();
    let r = env
        .run_in("forked", ["q", "--id", &fork, "what next?"])
        .ok();
    assert!(r.stdout.contains("echo: what next?"), "{}", r.stdout);
    let said = last_request(&fake);
    assert!(
        said.iter().any(|(_, t)| t.contains("from-the-tool")),
        "the fork carries the parent's turns: {said:?}"
    );
    let ft = turns(&env, Some(&fork));
    let forked = ft.last().unwrap()["agent"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(forked, first, "a fork is a session of its own");
    // The parent goes on in its own session, without the fork's turn.
    env.run(["q", "--id", &id, "and the parent?"]).ok();
    let said = last_request(&fake);
    assert!(
        !said.iter().any(|(_, t)| t.contains("what next?")),
        "{said:?}"
    );
    assert_eq!(
        turns(&env, Some(&id)).last().unwrap()["agent"]["id"],
        first.as_str()
    );
}

#[test]
fn claude_code_new_resume_tool_line_and_fork() {
    panechat_e2e::needs!("claude");
    claude_turns("claude-code");
}

#[test]
fn codex_new_resume_tool_line_and_fork() {
    panechat_e2e::needs!("codex");
    claude_turns("codex");
}

/// The pids of live processes whose environment has `VAR=value`.
pub fn processes_with_env(var: &str, value: &str) -> Vec<u32> {
    let want = format!("{var}={value}");
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        {
            continue;
        }
        if environ.split(|b| *b == 0).any(|kv| kv == want.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

fn kill_mid_tool(kind: &str, tool: &str, sleep: &str) {
    let (env, _fake, _home) = agent_env(kind, "");
    let mark = format!("run-{}-{kind}", std::process::id());
    let child = env
        .cmd(["q", "--new", &format!("wait [[bash:{sleep}]]")])
        .env("PANECHAT_TEST_RUN", &mark)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `sessions` shows the pane's agent running its tool, and the tool's process runs.
    wait_until("the agent runs its tool", || {
        let a = agent_of(&env, "test");
        a["state"] == "working" && a["tool"] == tool && !processes_with(sleep).is_empty()
    });
    let r = env.run(["sessions"]).ok().stdout;
    let short = if kind == "codex" { "codex" } else { "claude" };
    assert!(r.contains(&format!("{short}: running {tool}")), "{r}");
    env.run(["kill"]).ok();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing of the run is left: not the agent, not its tool's shell, not the sleep.
    assert_eq!(
        processes_with_env("PANECHAT_TEST_RUN", &mark),
        Vec::<u32>::new()
    );
    assert_eq!(processes_with(sleep), Vec::<u32>::new());
    // Nothing stored, the message kept for --retry, the pane's agent no longer working.
    assert_eq!(
        env.run(["ls", "--json"])
            .ok()
            .stdout
            .matches("\"id\"")
            .count(),
        0
    );
    assert_ne!(agent_of(&env, "test")["state"], "working");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--retry"), "{stderr}");
}

#[test]
fn claude_code_kill_mid_tool_call_ends_every_process_of_the_run() {
    panechat_e2e::needs!("claude");
    kill_mid_tool("claude-code", "Bash", "sleep 37.25");
}

#[test]
fn codex_kill_mid_tool_call_ends_every_process_of_the_run() {
    panechat_e2e::needs!("codex");
    kill_mid_tool("codex", "shell", "sleep 37.5");
}

/// How many conversations `ls` lists.
fn conversations(env: &TestEnv) -> usize {
    json(&env.run(["ls", "--json"]).ok().stdout)
        .as_array()
        .map_or(0, Vec::len)
}

fn failures(kind: &str, http_error: &str) {
    // The agent is not installed: nothing stored, the message kept, a retry once it is.
    let (env, fake, home) = agent_env(kind, "binary = \"/nonexistent/agent-cli\"\n");
    let r = env.run(["q", "--new", "hello"]).code(1);
    assert!(
        r.stderr
            .contains("`/nonexistent/agent-cli` does not exist; fix provider.binary"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--retry"), "{}", r.stderr);
    assert_eq!(conversations(&env), 0);
    env.write_config(&agent_config(kind, ""));
    let r = env.run(["q", "--retry"]).ok();
    assert!(r.stdout.contains("echo: hello"), "{}", r.stdout);
    assert_eq!(turns(&env, None).len(), 1);

    // The service fails: the agent's own error, nothing stored.
    let r = env.run(["q", &format!("now {http_error}")]).code(1);
    assert!(
        r.stderr.contains(&format!(
            "{} reported an error",
            if kind == "codex" {
                "Codex"
            } else {
                "Claude Code"
            }
        )) && r.stderr.contains("fake HTTP")
            || r.stderr.contains("HTTP 500"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--retry"), "{}", r.stderr);
    assert_eq!(
        turns(&env, None).len(),
        1,
        "nothing stored for a failed turn"
    );

    // Not logged in (the key refused): the fix is named.
    if kind == "claude-code" {
        let r = env.run(["q", "who am I [[http:401]]"]).code(1);
        assert!(r.stderr.contains("log in"), "{}", r.stderr);
        assert_eq!(turns(&env, None).len(), 1);
    }

    // The agent lost the session: the message says so and what to do.
    let files = match kind {
        "codex" => home.codex_sessions(),
        _ => home.claude_sessions(),
    };
    assert!(!files.is_empty());
    for f in files {
        std::fs::remove_file(f).unwrap();
    }
    let r = env.run(["q", "still there?"]).code(1);
    assert!(
        r.stderr
            .contains("no longer has this conversation's session")
            && r.stderr.contains("--new"),
        "{}",
        r.stderr
    );
    assert_eq!(turns(&env, None).len(), 1);
    let before = fake.requests().len();
    let r = env.run(["q", "--new", "a fresh start"]).ok();
    assert!(r.stdout.contains("echo: a fresh start"), "{}", r.stdout);
    assert!(fake.requests().len() > before);
}

#[test]
fn claude_code_failures_name_the_fix_and_store_nothing() {
    panechat_e2e::needs!("claude");
    failures("claude-code", "[[http:500]]");
}

#[test]
fn codex_failures_name_the_fix_and_store_nothing() {
    panechat_e2e::needs!("codex");
    failures("codex", "[[http:400]]");
}

fn lock_held_for_the_run(kind: &str) {
    let (env, fake, _home) = agent_env(kind, "");
    env.run(["q", "--new", "first"]).ok();
    let id = active(&env, "test");
    let a = env
        .cmd(["q", "second [[gate:hold]]"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the agent's request is held", || {
        fake.requests()
            .iter()
            .any(|r| r.raw_body.contains("second [[gate:hold]]"))
    });
    // Another pane asking in the conversation finds it locked for the whole agent run.
    let r = env
        .run_in("other", ["q", "--id", &id, "--on-locked", "fail", "third"])
        .code(75);
    assert!(
        r.stderr.contains("locked") || r.stderr.contains("held"),
        "{}",
        r.stderr
    );
    // Answering "fork": the other pane continues a fork of the agent's session.
    let r = env
        .run_in("other", ["q", "--id", &id, "--on-locked", "fork", "third"])
        .ok();
    assert!(r.stdout.contains("echo: third"), "{}", r.stdout);
    let forked = active(&env, "other");
    assert_ne!(forked, id);
    fake.open_gate("hold");
    let out = a.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("echo: second"));
    // The first pane's session has both its turns and not the fork's: nothing was split.
    env.run(["q", "fourth"]).ok();
    let said: Vec<String> = last_request(&fake).into_iter().map(|(_, t)| t).collect();
    assert!(said.iter().any(|t| t.contains("first")), "{said:?}");
    assert!(said.iter().any(|t| t.contains("echo: second")), "{said:?}");
    assert!(!said.iter().any(|t| t.contains("third")), "{said:?}");
    assert_eq!(turns(&env, Some(&id)).len(), 3);
    let other = turns(&env, Some(&forked));
    assert_ne!(
        other.last().unwrap()["agent"]["id"],
        turns(&env, Some(&id)).last().unwrap()["agent"]["id"]
    );
}

#[test]
fn claude_code_lock_is_held_for_the_agent_run_and_fork_answer_forks_the_session() {
    panechat_e2e::needs!("claude");
    lock_held_for_the_run("claude-code");
}

#[test]
fn codex_lock_is_held_for_the_agent_run_and_fork_answer_forks_the_session() {
    panechat_e2e::needs!("codex");
    lock_held_for_the_run("codex");
}

/// Real tmux with an attached client: two panes each with its own agent session; a third pane
/// asking in the first pane's conversation while its agent runs gets the lock popup, and its
/// "fork" continues a fork of the agent session; the fork key gives a pane whose next question
/// continues a forked agent session.
fn in_tmux(kind: &str) {
    use panechat_e2e::tmux::World;
    panechat_e2e::needs!("tmux");
    let (env, fake, _home) = agent_env(kind, "");
    let mut w = World::start(&env, 120, 34);
    w.load_plugin();
    w.attach(&env, 120, 34);
    let id_of = |p: &str| w.tmux.value(p, "#{@panechat_id}");
    let split = |w: &World, from: &str| {
        w.tmux
            .ok(&[
                "split-window",
                "-h",
                "-t",
                from,
                "-P",
                "-F",
                "#{pane_id}",
                "bash --norc --noprofile",
            ])
            .trim()
            .to_string()
    };
    // Asks and waits for the query to end (the marker is printed after it).
    let ask = |p: &str, q: &str, n: u32| {
        w.tmux
            .type_line(p, &format!("panechat q {q}; echo \"DO\"\"NE-{n} rc=$?\""));
        w.tmux.wait_for(p, &format!("DONE-{n} rc=0"));
    };
    let p0 = w.pane0();
    ask(&p0, "--new 'one'", 1);
    let p1 = split(&w, &p0);
    ask(&p1, "--new 'two'", 2);
    wait_until("both panes mapped", || {
        !id_of(&p0).is_empty() && !id_of(&p1).is_empty()
    });
    let (c0, c1) = (id_of(&p0), id_of(&p1));
    assert_ne!(c0, c1);
    let session = |id: &str| turns(&env, Some(id)).last().unwrap()["agent"]["id"].clone();
    let s0 = session(&c0);
    assert_ne!(s0, session(&c1), "each pane has its own agent session");

    // The first pane's agent is busy; a third pane asks in that conversation.
    w.tmux.type_line(
        &p0,
        "panechat q 'held [[gate:g]]'; echo \"DO\"\"NE-3 rc=$?\"",
    );
    wait_until("the first pane's agent asks the model", || {
        fake.requests()
            .iter()
            .any(|r| r.raw_body.contains("held [[gate:g]]"))
    });
    let p2 = split(&w, &p1);
    w.tmux.type_line(&p2, &format!("panechat use {c0}"));
    wait_until("the third pane uses it", || id_of(&p2) == c0);
    w.tmux
        .type_line(&p2, "panechat q 'mine'; echo \"DO\"\"NE-4 rc=$?\"");
    let s = w.wait_screen("Cancel");
    assert!(s.contains(&format!("tmux pane {p0}")), "{s}");
    for _ in 0..3 {
        w.keys(&["Down"]);
    }
    w.keys(&["Enter"]);
    w.tmux.wait_for(&p2, "echo: mine");
    w.tmux.wait_for(&p2, "DONE-4 rc=0");
    let c2 = id_of(&p2);
    assert_ne!(c2, c0);
    assert_eq!(show(&env, "test", Some(&c2))["parent"]["id"], c0.as_str());
    assert_ne!(session(&c2), s0, "the fork is an agent session of its own");
    fake.open_gate("g");
    w.tmux.wait_for(&p0, "DONE-3 rc=0");
    assert_eq!(session(&c0), s0, "the first pane's session goes on");

    // The fork key: a new pane whose next question continues a fork of the agent session.
    w.tmux.ok(&["select-pane", "-t", &p0]);
    let before = w.tmux.panes();
    w.prefix("F");
    wait_until("a new pane", || w.tmux.panes().len() == before.len() + 1);
    let p3 = w
        .tmux
        .panes()
        .into_iter()
        .find(|p| !before.contains(p))
        .unwrap();
    wait_until("the fork mapped", || !id_of(&p3).is_empty());
    let c3 = id_of(&p3);
    assert_ne!(c3, c0);
    ask(&p3, "'after the fork'", 5);
    let said: Vec<String> = last_request(&fake).into_iter().map(|(_, t)| t).collect();
    assert!(
        said.iter().any(|t| t.contains("echo: held")),
        "the forked session carries the first pane's turns: {said:?}"
    );
    assert!(!said.iter().any(|t| t.contains("mine")), "{said:?}");
    assert_ne!(session(&c3), s0);
}

#[test]
fn claude_code_in_tmux_panes_lock_popup_and_fork_key() {
    panechat_e2e::needs!("claude");
    in_tmux("claude-code");
}

#[test]
fn codex_in_tmux_panes_lock_popup_and_fork_key() {
    panechat_e2e::needs!("codex");
    in_tmux("codex");
}

/// A query killed outright (SIGKILL) cannot end its agent; the next command that reads the
/// runs finds the dead run and ends every process of its agent's session.
#[test]
fn claude_code_agent_of_a_query_killed_outright_is_ended_by_the_next_command() {
    panechat_e2e::needs!("claude");
    let (env, _fake, _home) = agent_env("claude-code", "");
    let mark = format!("run-{}-sigkill", std::process::id());
    let sleep = "sleep 38.75";
    let mut child = env
        .cmd(["q", "--new", &format!("wait [[bash:{sleep}]]")])
        .env("PANECHAT_TEST_RUN", &mark)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the agent runs its tool", || {
        agent_of(&env, "test")["tool"] == "Bash" && !processes_with(sleep).is_empty()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    // The agent and its tool outlive the query killed outright…
    assert!(!processes_with_env("PANECHAT_TEST_RUN", &mark).is_empty());
    // …until a command reads the runs.
    env.run(["sessions"]).ok();
    wait_until("every process of the agent's session ended", || {
        processes_with_env("PANECHAT_TEST_RUN", &mark).is_empty()
    });
    // …and the pane no longer shows its agent at work.
    let st = json(&env.run(["status", "--format", "json"]).ok().stdout);
    assert_eq!(st["agent"]["state"], "idle", "{st}");
}

/// `kind = "agent"`: any agent printing JSON lines, configured by an argv template and an event
/// mapping (here a script standing in for one).
#[test]
fn a_configured_agent_runs_resumes_and_says_what_a_fork_needs() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let script = env.root.join("my-agent");
    std::fs::write(
        &script,
        r#"#!/bin/sh
if [ "$1" = new ]; then s="s-$$"; p="$2"; else s="$2"; p="$3"; fi
printf '{"type":"init","session_id":"%s"}\n' "$s"
printf '{"type":"message","role":"user","content":"%s"}\n' "$p"
printf '{"type":"tool_use","tool_name":"run_shell","parameters":{"command":"ls -l"}}\n'
printf '{"type":"tool_result","output":"a\\nb"}\n'
printf '{"type":"message","role":"assistant","content":"%s: %s (%s)"}\n' "$s" "$p" "$1"
printf '{"type":"result","stats":{"output_tokens":9}}\n'
"#,
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = script.display();
    env.write_config(&format!(
        r#"[provider]
kind = "agent"
command = ["{s}", "new", "{{prompt}}"]
resume_command = ["{s}", "resume", "{{session}}", "{{prompt}}"]
[provider.events]
session = "init /session_id"
text = "message /content /role=assistant"
tool = "tool_use /tool_name"
tool_detail = "tool_use /parameters/command"
tool_result = "tool_result /output"
done = "result"
output_tokens = "result /stats/output_tokens"
"#
    ));
    let r = env.run(["q", "--new", "hi"]).ok();
    assert!(
        r.stdout.contains("▸ run_shell: ls -l\n  ✓ 2 lines\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(": hi (new)"), "{}", r.stdout);
    let t = turns(&env, None);
    let session = t[0]["agent"]["id"].as_str().unwrap().to_string();
    assert!(session.starts_with("s-"), "{session}");
    assert_eq!(t[0]["usage"]["output_tokens"], 9);
    let r = env.run(["q", "again"]).ok();
    assert!(
        r.stdout.contains(&format!("{session}: again (resume)")),
        "the next question resumes the agent's session: {}",
        r.stdout
    );
    // A fork needs provider.fork_command: said, nothing stored, the message kept.
    let fork = env.run(["fork"]).ok().stdout.trim().to_string();
    let r = env.run(["q", "--id", &fork, "forked?"]).code(1);
    assert!(
        r.stderr.contains("provider.fork_command is not set"),
        "{}",
        r.stderr
    );
    assert_eq!(turns(&env, Some(&fork)).len(), 2);

    // An agent whose lines name no session: each question starts a new one, said once.
    let cfg = std::fs::read_to_string(env.home().join("config.toml")).unwrap();
    env.write_config(&cfg.replace("session = \"init /session_id\"\n", ""));
    let r = env.run(["q", "--new", "first"]).ok();
    assert!(
        r.stderr.contains("did not name its session"),
        "{}",
        r.stderr
    );
    let r = env.run(["q", "second"]).ok();
    assert!(r.stdout.contains(": second (new)"), "{}", r.stdout);
    assert_eq!(turns(&env, None).len(), 2);
}

/// An agent's reply beyond `provider.max_reply_bytes` is cut with its marker and stored; the
/// agent (still running) is ended before the query returns.
#[test]
fn an_agents_reply_is_cut_at_the_cap_and_the_agent_ended() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let script = env.root.join("chatty-agent");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf '{\"type\":\"init\",\"session_id\":\"c1\"}\\n'\nprintf '{\"type\":\"message\",\"content\":\"0123456789abcdefghij\"}\\n'\nsleep 36.5\nprintf '{\"type\":\"result\"}\\n'\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.write_config(&format!(
        "[provider]\nkind = \"agent\"\ncommand = [\"{}\", \"{{prompt}}\"]\nmax_reply_bytes = 10\n[provider.events]\nsession = \"init /session_id\"\ntext = \"message /content\"\ndone = \"result\"\n",
        script.display()
    ));
    let r = env.run(["q", "--new", "talk"]).ok();
    assert!(
        r.stdout
            .contains("0123456789\n\n[reply truncated by panechat at 10 bytes"),
        "{}",
        r.stdout
    );
    let t = turns(&env, None);
    assert_eq!(t[0]["truncated"], true);
    assert_eq!(t[0]["agent"]["id"], "c1");
    assert_eq!(processes_with("sleep 36.5"), Vec::<u32>::new());
}

/// A silent agent is ended at `provider.idle_timeout`: nothing stored, the message kept, no
/// process of the run left.
#[test]
fn a_silent_agent_ends_at_the_idle_timeout() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let script = env.root.join("silent-agent");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf '{\"type\":\"init\",\"session_id\":\"q1\"}\\n'\nsleep 36.25\nprintf '{\"type\":\"result\"}\\n'\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.write_config(&format!(
        "[provider]\nkind = \"agent\"\ncommand = [\"{}\", \"{{prompt}}\"]\nidle_timeout = \"1s\"\n[provider.events]\nsession = \"init /session_id\"\ndone = \"result\"\n",
        script.display()
    ));
    let r = env.run(["q", "--new", "anyone?"]).code(1);
    assert!(r.stderr.contains("provider.idle_timeout"), "{}", r.stderr);
    assert!(r.stderr.contains("--retry"), "{}", r.stderr);
    assert_eq!(conversations(&env), 0);
    assert_eq!(processes_with("sleep 36.25"), Vec::<u32>::new());
}

/// A conversation an agent holds is not continued by a model provider (the agent would not see
/// the model's turn the next time), nor a model's conversation by an agent: each says which
/// back-end continues it, and nothing is stored.
#[test]
fn an_agents_conversation_and_a_models_are_each_continued_by_their_own_back_end() {
    use std::os::unix::fs::PermissionsExt;
    let fake = FakeProvider::start();
    let env = TestEnv::new();
    let script = env.root.join("my-agent");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf '{\"type\":\"init\",\"session_id\":\"s1\"}\\n{\"type\":\"message\",\"content\":\"agent here\"}\\n{\"type\":\"result\"}\\n'\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.write_config(&format!(
        "[provider]\nkind = \"agent\"\ncommand = [\"{}\", \"{{prompt}}\"]\nresume_command = [\"{}\", \"{{session}}\", \"{{prompt}}\"]\n[provider.events]\nsession = \"init /session_id\"\ntext = \"message /content\"\ndone = \"result\"\n",
        script.display(),
        script.display()
    ));
    env.run(["q", "--new", "hello agent"]).ok();
    let model = [
        "--cfg".to_string(),
        "provider.kind=openai".to_string(),
        "--cfg".to_string(),
        format!("provider.base_url={}", fake.base_url_openai()),
        "--cfg".to_string(),
        "provider.api_key_env=PANECHAT_FAKE_API_KEY".to_string(),
    ];
    let mut args: Vec<String> = model.to_vec();
    args.extend(["q".into(), "and you, model?".into()]);
    let r = env.run(&args);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("agent session") && r.stderr.contains("provider.kind = \"agent\""),
        "{}",
        r.stderr
    );
    assert_eq!(turns(&env, None).len(), 1, "nothing stored");
    assert!(fake.requests().is_empty(), "the model was not asked");
    // The other way round: a model's conversation, then the agent.
    let mut args: Vec<String> = model.to_vec();
    args.extend(["q".into(), "--new".into(), "hello model".into()]);
    env.run(&args).ok();
    let r = env.run(["q", "and you, agent?"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("was held with a model"), "{}", r.stderr);
}

/// An agent that thinks for longer than `provider.idle_timeout`, saying so on its output (lines
/// panechat shows nothing of: Claude Code's thinking, Codex's reasoning items), is alive: its
/// turn is not ended.
#[test]
fn an_agent_thinking_aloud_outlives_the_idle_timeout() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let script = env.root.join("thinking-agent");
    std::fs::write(
        &script,
        "#!/bin/sh
printf '{\"type\":\"init\",\"session_id\":\"t1\"}\\n'
for i in 1 2 3 4 5 6 7 8 9 10; do printf '{\"type\":\"thinking\"}\\n'; sleep 0.25; done
printf '{\"type\":\"message\",\"content\":\"thought it through\"}\\n{\"type\":\"result\"}\\n'
",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.write_config(&format!(
        "[provider]\nkind = \"agent\"\ncommand = [\"{}\", \"{{prompt}}\"]\nidle_timeout = \"1s\"\n[provider.events]\nsession = \"init /session_id\"\ntext = \"message /content\"\ndone = \"result\"\n",
        script.display()
    ));
    let r = env.run(["q", "--new", "think hard"]).ok();
    assert!(r.stdout.contains("thought it through"), "{}", r.stdout);
    assert_eq!(conversations(&env), 1);
}

/// Real tmux with an attached client: while the pane's `panechat q` has its agent run a tool,
/// the status line on the client shows it (`claude: running Bash`) and the pane option says
/// working; once the turn ends, the pane is done.
fn status_line_shows_the_tool(kind: &str, tool: &str, sleep: &str) {
    use panechat_e2e::tmux::World;
    panechat_e2e::needs!("tmux");
    let (env, _fake, _home) = agent_env(kind, "");
    let mut w = World::start(&env, 120, 30);
    w.load_plugin();
    w.attach(&env, 120, 30);
    let p0 = w.pane0();
    let last_line = |s: &str| s.lines().last().unwrap_or("").to_string();
    let short = if kind == "codex" { "codex" } else { "claude" };
    w.tmux.type_line(
        &p0,
        &format!("panechat q --new 'wait [[bash:{sleep}]]'; echo \"DO\"\"NE rc=$?\""),
    );
    let running = format!("{short}: running {tool}");
    w.wait_screen_for(
        |s| last_line(s).contains(&running),
        "the agent's tool in the status line",
    );
    assert_eq!(w.tmux.value(&p0, "#{@panechat_agent}"), "working");
    assert_eq!(w.tmux.value(&p0, "#{@panechat_agent_text}"), running);
    // The tool ends: the turn ends, the pane is done.
    // (only the `sleep` itself: the query's and the agent's command lines name it too)
    let sleeping = || -> Vec<u32> {
        processes_with(sleep)
            .into_iter()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "sleep")
            })
            .collect()
    };
    wait_until("the tool runs", || !sleeping().is_empty());
    for pid in sleeping() {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
    w.tmux.wait_for(&p0, "DONE rc=0");
    let done = format!("✓ {short}: done");
    w.wait_screen_for(|s| last_line(s).contains(&done), "done in the status line");
    assert_eq!(w.tmux.value(&p0, "#{@panechat_agent}"), "done");

    // The conversation is listed with its back-end: `ls`, `ls --json`, `show --json`.
    let id = w.tmux.value(&p0, "#{@panechat_id}");
    let session = turns(&env, Some(&id))[0]["agent"]["id"].clone();
    let want = serde_json::json!({"backend": kind, "session": session});
    let listed = json(&env.run(["ls", "--json"]).ok().stdout);
    assert_eq!(listed[0]["agent"], want, "{listed}");
    assert_eq!(show(&env, "test", Some(&id))["agent"], want);
    let ls = env.run(["ls"]).ok().stdout;
    assert!(ls.contains(&format!("  [{short}, ")), "{ls}");
    // A new conversation in the pane: the agent's one, no longer shown in a pane, keeps its
    // back-end's tag in the picker.
    w.tmux.type_line(&p0, "clear; panechat new");
    wait_until("the pane off the conversation", || {
        w.tmux.value(&p0, "#{@panechat_id}") != id
    });
    w.prefix("P");
    let s = w.wait_screen("⏎ use");
    let row = s
        .lines()
        .find(|l| l.contains(&id[..8]))
        .unwrap_or_else(|| panic!("no row of {id}:\n{s}"));
    assert!(row.contains(&format!("[{short}] ")), "{row}");
    w.keys(&["Escape"]);
}

#[test]
fn claude_code_tool_shows_in_the_tmux_status_line_then_done() {
    panechat_e2e::needs!("claude");
    status_line_shows_the_tool("claude-code", "Bash", "sleep 39.25");
}

#[test]
fn codex_tool_shows_in_the_tmux_status_line_then_done() {
    panechat_e2e::needs!("codex");
    status_line_shows_the_tool("codex", "shell", "sleep 39.5");
}

/// A Claude Code turn killed while the model answers leaves the message in Claude Code's
/// session (it writes it before answering); `--retry` resumes the session from the end of the
/// last stored turn, so the message is sent once and nothing of the killed turn is in the
/// history, then or later.
#[test]
fn claude_code_retry_after_a_killed_turn_sends_the_message_once() {
    panechat_e2e::needs!("claude");
    let (env, fake, home) = agent_env("claude-code", "");
    env.run(["q", "--new", "first"]).ok();
    let child = env
        .cmd(["q", "second [[gate:k]]"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the model is asked", || {
        fake.requests()
            .iter()
            .any(|r| r.raw_body.contains("second [[gate:k]]"))
    });
    env.run(["kill"]).ok();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--retry"));
    // Claude Code's session has the message of the killed turn.
    let files = home.claude_sessions();
    assert_eq!(files.len(), 1);
    assert!(std::fs::read_to_string(&files[0])
        .unwrap()
        .contains("second [[gate:k]]"));
    fake.open_gate("k");
    let r = env.run(["q", "--retry"]).ok();
    assert!(r.stdout.contains("echo: second [[gate:k]]"), "{}", r.stdout);
    let said = last_request(&fake);
    let asked = |said: &[(String, String)], what: &str| {
        said.iter()
            .filter(|(role, t)| role == "user" && t.contains(what))
            .count()
    };
    let replies: Vec<&str> = said
        .iter()
        .filter(|(role, _)| role == "assistant")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(asked(&said, "second"), 1, "sent once: {said:#?}");
    assert_eq!(replies, ["echo: first"], "{said:#?}");
    // The next question: the history is the stored turns, each once.
    env.run(["q", "third"]).ok();
    let said = last_request(&fake);
    assert_eq!(asked(&said, "second"), 1, "{said:#?}");
    let replies: Vec<&str> = said
        .iter()
        .filter(|(role, _)| role == "assistant")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(
        replies,
        ["echo: first", "echo: second [[gate:k]]"],
        "{said:#?}"
    );
    let t = turns(&env, None);
    assert_eq!(t.len(), 3);
    assert_eq!(t[2]["agent"]["id"], t[0]["agent"]["id"], "the same session");
}
