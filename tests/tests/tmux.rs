//! panechat in real tmux panes: a private server (`tmux -L NAME -f /dev/null`), two panes, a
//! person typing `panechat q ...` in each.

use std::path::Path;
use std::time::{Duration, Instant};

use panechat_e2e::env::{panechat_bin, TestEnv};
use panechat_e2e::fake::FakeProvider;
use panechat_e2e::helpers::wait_until;
use panechat_e2e::tmux::Server;

fn bin() -> String {
    panechat_bin().display().to_string()
}

#[test]
fn two_tmux_panes_hold_separate_conversations() {
    panechat_e2e::needs!("tmux");
    let fake = FakeProvider::start();
    let env = TestEnv::new();
    env.use_openai(&fake.base_url_openai());
    let tmux = Server::start(&env, "test", 150, 40);
    let p0 = tmux.value("t", "#{pane_id}");
    let p1 = tmux
        .ok(&[
            "split-window",
            "-h",
            "-t",
            "t",
            "-P",
            "-F",
            "#{pane_id}",
            "bash --norc --noprofile",
        ])
        .trim()
        .to_string();
    let pc = bin();

    // The first pane asks: the first conversation ever starts without a question.
    tmux.type_line(&p0, &format!("{pc} q 'what is tmux?'"));
    tmux.wait_for(&p0, "echo: what is tmux?");
    // The second pane asks: the picker offers "+ new conversation" first; Enter takes it.
    tmux.type_line(&p1, &format!("{pc} q 'what is zellij?'"));
    tmux.wait_for(&p1, "type to filter");
    tmux.ok(&["send-keys", "-t", &p1, "Enter"]);
    tmux.wait_for(&p1, "echo: what is zellij?");

    // Each pane continues its own thread without naming it.
    fake.clear_requests();
    tmux.type_line(&p0, &format!("{pc} q 'and panes?'"));
    tmux.wait_for(&p0, "echo: and panes?");
    let reqs = fake.wait_for_requests(1, Duration::from_secs(5));
    // (The title request of pane 1's first turn may arrive late; pick this pane's query.)
    let req = reqs
        .iter()
        .find(|r| r.last_user_message().as_deref() == Some("and panes?"))
        .expect("the query was sent");
    let users: Vec<_> = req
        .messages()
        .into_iter()
        .filter(|(r, _)| r == "user")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(users, ["what is tmux?", "and panes?"]);
    let screen1 = tmux.capture(&p1);
    assert!(!screen1.contains("and panes?"), "{screen1}");

    // The core published each pane's conversation: pane options and the pane title.
    wait_until("title option on pane 0", || {
        tmux.value(&p0, "#{@panechat_title}") == "Fake title"
    });
    let id0 = tmux.value(&p0, "#{@panechat_id}");
    let id1 = tmux.value(&p1, "#{@panechat_id}");
    assert_eq!(id0.len(), 18);
    assert_eq!(id1.len(), 18);
    assert_ne!(id0, id1);
    wait_until("pane title on pane 1", || {
        tmux.value(&p1, "#{pane_title}") == "panechat: Fake title"
    });

    // The session keys are the panes, qualified by the server.
    let sessions: serde_json::Value =
        serde_json::from_str(&env.run(["sessions", "--json"]).ok().stdout).unwrap();
    let panes: Vec<_> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["multiplexer"].as_str().unwrap().to_string(),
                s["pane"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(panes.contains(&("tmux".into(), p0.clone())), "{sessions}");
    assert!(panes.contains(&("tmux".into(), p1.clone())), "{sessions}");
    // status for a pane, as a status bar would ask for it.
    tmux.type_line(&p1, &format!("clear; {pc} status --format tmux"));
    tmux.wait_for(&p1, "Fake title");
}

#[test]
fn hostile_titles_never_run_in_tmux() {
    panechat_e2e::needs!("tmux");
    let fake = FakeProvider::start();
    let env = TestEnv::new();
    env.use_openai(&fake.base_url_openai());
    let tmux = Server::start(&env, "test", 150, 40);
    let p0 = tmux.value("t", "#{pane_id}");
    let marker = env.root.join("PWNED");
    let title = format!("x #(touch {}) #[fg=red]; y;", marker.display());
    tmux.type_line(&p0, &format!("{} q --new 'hi [[title:{title}]]'", bin()));
    tmux.wait_for(&p0, "echo: hi");
    wait_until("title option", || {
        tmux.value(&p0, "#{@panechat_title}").starts_with("x ♯(")
    });
    // What tmux keeps has no `#` (each is a `♯`) and no trailing `;`: inert to any reader
    // that expands it again. Nothing executed.
    let shown = format!("x ♯(touch {}) ♯[fg=red]; y", marker.display());
    assert_eq!(tmux.value(&p0, "#{@panechat_title}"), shown);
    assert_eq!(tmux.value(&p0, "#{q/h:@panechat_title}"), shown);
    assert_eq!(
        tmux.value(&p0, "#{@panechat_title}"),
        shown,
        "expanded again"
    );
    // The pane title too (set by OSC 2, read back literally).
    wait_until("pane title", || {
        tmux.value(&p0, "#{pane_title}").starts_with("panechat: x")
    });
    // A status line that shows it the safe way draws it literally, on an attached client
    // (a detached session draws no status line at all).
    tmux.ok(&[
        "set-option",
        "-g",
        "status-right",
        "[#{q/h:@panechat_title}]",
    ]);
    tmux.ok(&["set-option", "-g", "status-right-length", "200"]);
    let client = tmux.attach_pty("t");
    client.expect("♯(touch", Duration::from_secs(10));
    client.expect("♯[fg=red]; y]", Duration::from_secs(10));
    assert!(!Path::new(&marker).exists(), "a title ran a command");
    // `fork --session pane:%N` from inside tmux publishes on the other pane with select-pane -T.
    let p1 = tmux
        .ok(&[
            "split-window",
            "-t",
            "t",
            "-P",
            "-F",
            "#{pane_id}",
            "bash --norc --noprofile",
        ])
        .trim()
        .to_string();
    tmux.type_line(&p0, &format!("{} fork --session pane:{p1}", bin()));
    wait_until("fork published on the new pane", || {
        tmux.value(&p1, "#{@panechat_title}") == format!("{shown}; (fork)")
    });
    wait_until("fork pane title", || {
        tmux.value(&p1, "#{pane_title}") == format!("panechat: {shown}; (fork)")
    });
    assert!(!Path::new(&marker).exists(), "a title ran a command");
}

/// The pane states a status bar reads: (state, held, title) of a pane.
fn state_of(tmux: &Server, pane: &str) -> (String, String, String) {
    let v = tmux.value(
        pane,
        "#{@panechat_state}|#{@panechat_held}|#{@panechat_title}|#{@panechat_id}",
    );
    let mut it = v.splitn(4, '|').map(str::to_string);
    (
        it.next().unwrap_or_default(),
        it.next().unwrap_or_default(),
        it.next().unwrap_or_default(),
    )
}

fn run_pid(env: &TestEnv, pane: &str) -> Option<i32> {
    let v: serde_json::Value =
        serde_json::from_str(&env.run(["sessions", "--json"]).ok().stdout).unwrap();
    v.as_array()?.iter().find(|s| s["pane"] == pane)?["runs"]
        .as_array()?
        .iter()
        .find(|r| r["command"] == "query")
        .and_then(|r| r["pid"].as_i64())
        .map(|p| p as i32)
}

#[test]
fn pane_state_reaches_every_pane_that_shows_the_conversation() {
    panechat_e2e::needs!("tmux");
    let fake = FakeProvider::start();
    let env = TestEnv::new();
    env.use_openai(&fake.base_url_openai());
    let tmux = Server::start(&env, "test", 150, 40);
    let pc = bin();
    let p0 = tmux.value("t", "#{pane_id}");
    let p1 = tmux
        .ok(&[
            "split-window",
            "-h",
            "-t",
            "t",
            "-P",
            "-F",
            "#{pane_id}",
            "bash --norc --noprofile",
        ])
        .trim()
        .to_string();
    tmux.type_line(&p0, &format!("{pc} q --new 'first [[title:Shared]]'"));
    tmux.wait_for(&p0, "echo: first");
    wait_until("title on pane 0", || state_of(&tmux, &p0).2 == "Shared");
    let id = tmux.value(&p0, "#{@panechat_id}");
    tmux.type_line(&p1, &format!("{pc} use {id}"));
    wait_until("pane 1 shows the conversation, idle", || {
        state_of(&tmux, &p1) == ("idle".into(), String::new(), "Shared".into())
    });

    // A run in pane 0 flips both panes: streaming there, held by pane 0 here; then back.
    let slow = "slow [[slow:100]] [[chunks:30]]";
    tmux.type_line(&p0, &format!("{pc} q '{slow}'"));
    wait_until("pane 0 streaming", || state_of(&tmux, &p0).0 == "streaming");
    wait_until("pane 1 held by pane 0", || {
        state_of(&tmux, &p1).1 == format!("tmux pane {p0}")
    });
    assert_eq!(state_of(&tmux, &p1).0, "idle");
    wait_until("both panes back to idle after the run", || {
        state_of(&tmux, &p0).0 == "idle" && state_of(&tmux, &p1).1.is_empty()
    });

    // A rename from outside any multiplexer reaches both panes' options and titles.
    let hostile = format!("R #(touch {}) #[fg=red]", env.root.join("M1").display());
    env.run(["rename", &id, &hostile]).ok();
    let shown = hostile.replace('#', "♯");
    for p in [&p0, &p1] {
        wait_until("renamed option", || state_of(&tmux, p).2 == shown);
        wait_until("renamed pane title", || {
            tmux.value(p, "#{pane_title}") == format!("panechat: {shown}")
        });
    }
    assert!(!env.root.join("M1").exists(), "a title ran a command");

    // `kill` returns the panes to idle.
    tmux.type_line(&p0, &format!("{pc} q '{slow}'"));
    wait_until("a run in pane 0", || run_pid(&env, &p0).is_some());
    wait_until("streaming", || state_of(&tmux, &p0).0 == "streaming");
    tmux.type_line(&p1, &format!("{pc} kill pane:{p0}"));
    wait_until("idle after kill", || {
        state_of(&tmux, &p0).0 == "idle" && state_of(&tmux, &p1).1.is_empty()
    });

    // A SIGKILLed run cannot clean up: its watcher corrects the state.
    tmux.type_line(&p0, &format!("clear; {pc} q '{slow}'"));
    wait_until("a run in pane 0", || run_pid(&env, &p0).is_some());
    wait_until("streaming", || state_of(&tmux, &p0).0 == "streaming");
    wait_until("held", || {
        state_of(&tmux, &p1).1 == format!("tmux pane {p0}")
    });
    let pid = run_pid(&env, &p0).unwrap();
    let t = Instant::now();
    // SAFETY: signalling the test's own child process.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    wait_until("idle after SIGKILL", || {
        state_of(&tmux, &p0).0 == "idle" && state_of(&tmux, &p1).1.is_empty()
    });
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "corrected in {:?}",
        t.elapsed()
    );

    // rm clears the conversation from both panes.
    let r = env.run(["rm", &id, "--yes"]).ok();
    assert!(
        r.stderr.contains(&format!("tmux pane {p0}")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!("tmux pane {p1}")),
        "{}",
        r.stderr
    );
    for p in [&p0, &p1] {
        wait_until("id option cleared", || {
            tmux.value(p, "#{@panechat_id}").is_empty()
        });
        assert_eq!(tmux.value(p, "#{@panechat_title}"), "");
    }
}

#[test]
fn a_killed_first_query_leaves_no_pane_streaming() {
    panechat_e2e::needs!("tmux");
    let fake = FakeProvider::start();
    let env = TestEnv::new();
    env.use_openai(&fake.base_url_openai());
    let tmux = Server::start(&env, "test", 150, 40);
    let pc = bin();
    let p0 = tmux.value("t", "#{pane_id}");
    // The pane's first query creates its conversation, so no mapping points to it yet.
    tmux.type_line(&p0, &format!("{pc} q --new 'long [[gate:never]]'"));
    wait_until("pane 0 streaming", || state_of(&tmux, &p0).0 == "streaming");
    let pid = run_pid(&env, &p0).expect("the query's run");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until(
        "pane 0 no longer streaming after its query was killed",
        || {
            let st = state_of(&tmux, &p0).0;
            st.is_empty() || st == "idle"
        },
    );
    // A pane that had a conversation shows it again after a `--new` query is killed.
    tmux.type_line(&p0, &format!("{pc} q --new 'kept [[title:Kept]]'"));
    wait_until("titled", || state_of(&tmux, &p0).2 == "Kept");
    let kept = tmux.value(&p0, "#{@panechat_id}");
    tmux.type_line(&p0, &format!("{pc} q --new 'long again [[gate:never]]'"));
    wait_until("streaming the new one", || {
        state_of(&tmux, &p0).0 == "streaming" && tmux.value(&p0, "#{@panechat_id}") != kept
    });
    let pid = run_pid(&env, &p0).expect("the query's run");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("pane 0 shows its own conversation again, idle", || {
        state_of(&tmux, &p0) == ("idle".into(), String::new(), "Kept".into())
    });
    assert_eq!(tmux.value(&p0, "#{@panechat_id}"), kept);
}

/// The `tmux` programs a traced run started (`strace -f -v -e trace=execve` output in `trace`):
/// (every `execve` of a file named `tmux`, the argv of each that succeeded).
fn tmux_execs(trace: &str) -> (usize, Vec<String>) {
    // A call another process interrupted is split in two lines: joined again by pid.
    let mut open: std::collections::HashMap<&str, String> = Default::default();
    let mut calls: Vec<String> = Vec::new();
    for l in trace.lines() {
        let pid = l.split_whitespace().next().unwrap_or("");
        if let Some(head) = l.strip_suffix("<unfinished ...>") {
            open.insert(pid, head.to_string());
        } else if let Some((_, tail)) = l.split_once("<... execve resumed>") {
            if let Some(head) = open.remove(pid) {
                calls.push(head + tail);
            }
        } else {
            calls.push(l.to_string());
        }
    }
    let calls: Vec<String> = calls
        .into_iter()
        .filter(|l| {
            l.split_once("execve(\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .is_some_and(|(file, _)| file.ends_with("/tmux"))
        })
        .collect();
    let n = calls.len();
    let ok = calls
        .into_iter()
        .filter(|l| l.trim_end().ends_with("= 0"))
        .collect();
    (n, ok)
}

#[test]
fn one_tmux_call_reaches_every_pane_and_a_closed_pane_stops_none() {
    panechat_e2e::needs!("tmux");
    panechat_e2e::needs!("strace");
    let fake = FakeProvider::start();
    let env = TestEnv::new();
    env.use_openai(&fake.base_url_openai());
    let tmux = Server::start(&env, "test", 200, 50);
    let pc = bin();
    let p0 = tmux.value("t", "#{pane_id}");
    let mut panes = vec![p0.clone()];
    for _ in 0..3 {
        let p = tmux
            .ok(&[
                "split-window",
                "-t",
                "t",
                "-P",
                "-F",
                "#{pane_id}",
                "bash --norc --noprofile",
            ])
            .trim()
            .to_string();
        panes.push(p);
    }
    tmux.ok(&["select-layout", "-t", "t", "tiled"]);
    tmux.type_line(&p0, &format!("{pc} q --new 'first [[title:Shared]]'"));
    tmux.wait_for(&p0, "echo: first");
    wait_until("title on pane 0", || state_of(&tmux, &p0).2 == "Shared");
    let id = tmux.value(&p0, "#{@panechat_id}");
    for p in &panes[1..] {
        tmux.type_line(p, &format!("{pc} use {id}"));
        wait_until("the pane shows the conversation", || {
            state_of(&tmux, p) == ("idle".into(), String::new(), "Shared".into())
        });
    }
    // A pane in the middle of the others closes; its record still names it.
    let closed = panes.remove(2);
    tmux.ok(&["kill-pane", "-t", &closed]);

    // A rename (from outside tmux) is one state change: one tmux program, found without a
    // search along PATH, tells every pane, and the closed one keeps none of them from it.
    let trace = env.root.join("rename.trace");
    let name = "It's \"renamed\" $HOME ~ \\ {x}; y";
    env.run_traced(
        &[
            "-f",
            "-v",
            "-s",
            "65536",
            "-e",
            "trace=execve",
            "-o",
            trace.to_str().unwrap(),
        ],
        ["rename", &id, name],
    )
    .ok();
    for p in &panes {
        wait_until("the renamed title in every open pane", || {
            tmux.value(p, "#{pane_title}") == format!("panechat: {name}")
                && state_of(&tmux, p).2 == name
        });
    }
    let (attempts, ran) = tmux_execs(&std::fs::read_to_string(&trace).unwrap());
    assert_eq!(ran.len(), 1, "one tmux for one state change: {ran:#?}");
    assert_eq!(attempts, 1, "tmux is started by its path, not searched for");
    for p in panes.iter().chain([&closed]) {
        assert!(ran[0].contains(&format!("\"{p}\"")), "{p} in {}", ran[0]);
    }

    // A query's state changes each take one tmux program for all the panes.
    let trace = env.root.join("q.trace");
    tmux.type_line(
        &p0,
        &format!(
            "strace -f -v -s 65536 -e trace=execve -o {} {pc} q 'again'; echo \"DO\"\"NE\"",
            trace.display()
        ),
    );
    tmux.wait_for(&p0, "DONE");
    let (attempts, ran) = tmux_execs(&std::fs::read_to_string(&trace).unwrap());
    assert!(!ran.is_empty());
    assert_eq!(attempts, ran.len(), "no tmux searched for along PATH");
    for call in &ran {
        for p in &panes {
            assert!(call.contains(&format!("\"{p}\"")), "{p} in {call}");
        }
    }
    for p in &panes {
        wait_until("every open pane idle after the query", || {
            state_of(&tmux, p) == ("idle".into(), String::new(), name.into())
        });
    }
}

#[test]
fn the_final_state_arrives_when_the_querys_process_group_is_killed_as_it_exits() {
    panechat_e2e::needs!("tmux");
    let fake = FakeProvider::start();
    let env = TestEnv::new();
    env.use_openai(&fake.base_url_openai());
    let tmux = Server::start(&env, "test", 150, 40);
    let pc = bin();
    let p0 = tmux.value("t", "#{pane_id}");
    tmux.type_line(&p0, &format!("{pc} q --new 'first [[title:Group]]'"));
    tmux.wait_for(&p0, "echo: first");
    wait_until("idle and titled", || {
        state_of(&tmux, &p0) == ("idle".into(), String::new(), "Group".into())
    });
    // As a closing popup or a benchmark harness does: the query runs in a process group of
    // its own, killed whole the moment the query has exited.
    for i in 0..5 {
        tmux.type_line(
            &p0,
            &format!(
                "setsid -w sh -c '{pc} q \"slow {i} [[slow:20]] [[chunks:5]]\"; kill -9 -$$'; echo \"GO\"\"NE {i}\""
            ),
        );
        tmux.wait_for(&p0, &format!("GONE {i}"));
        wait_until("the pane idle after its query's group was killed", || {
            state_of(&tmux, &p0).0 == "idle"
        });
    }
}
