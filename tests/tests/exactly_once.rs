//! Exactly once: a message is stored once whatever happens (a kill at an exact syscall, a full
//! disk, two queries in one pane, a failed first turn), and the store is left clean.

use panechat_e2e::helpers::{
    active, assert_doctor_clean, hold, json, listed, litter, setup, users, wait_until, Tmpfs,
};

/// strace arguments that kill panechat at the `when`th call of `syscall` (its main thread).
fn kill_at(syscall: &str, when: usize) -> Vec<String> {
    vec![
        "-o".into(),
        "/dev/null".into(),
        "-e".into(),
        format!("trace={syscall}"),
        "-e".into(),
        format!("inject={syscall}:signal=SIGKILL:when={when}"),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn a_retry_after_a_kill_at_the_turns_fsync_is_not_stored_twice() {
    panechat_e2e::needs!("strace");
    let (env, _fake) = setup();
    env.run(["q", "first"]).ok();
    let id = active(&env, "test");
    // Killed as the turn is made durable (the first fdatasync is the log's): the turn is in
    // the log, the command never said so.
    let r = env.run_traced(&strs(&kill_at("fdatasync", 1)), ["q", "second"]);
    assert_ne!(r.code, 0, "not killed: {}", r.stderr);
    assert_eq!(users(&env, &id), ["first", "second"]);
    // --retry recognises the stored message: it shows the stored answer and stores nothing.
    let r = env.run(["q", "--retry"]).ok();
    assert!(r.stderr.contains("already answered"), "{}", r.stderr);
    assert_eq!(r.stdout, "echo: second\n");
    assert_eq!(users(&env, &id), ["first", "second"]);
    // Nothing is offered again, and nothing else is left behind.
    let r = env.run(["q", "--retry"]).code(1);
    assert!(r.stderr.contains("no unanswered message"), "{}", r.stderr);
    let d = env.run(["doctor", "--repair"]).ok();
    assert!(!d.stdout.contains("unanswered"), "{}", d.stdout);
    assert_doctor_clean(&env, "after the retry");
}

#[test]
fn disk_full_never_reports_failure_for_a_stored_turn_or_title() {
    let (mut env, fake) = setup();
    let fs = Tmpfs::mount(&env.root.join("small"), "200k");
    env.env.insert(
        "PANECHAT_HOME".into(),
        fs.dir.join("pc").display().to_string(),
    );
    env.use_openai(&fake.base_url_openai());
    env.run(["q", "--new", "hello"]).ok();
    let id = active(&env, "test");
    let filler = fs.dir.join("filler");
    let big = "x".repeat(3000);
    let (mut stored_ok, mut refused, mut warned) = (0, 0, 0);
    for page in 0..12u64 {
        let msg = format!("m{page} {big}");
        fs.fill_to(&filler, page * 4096 + 1024);
        let r = env.run(["q", &msg]);
        let count = users(&env, &id).iter().filter(|u| **u == msg).count();
        std::fs::remove_file(&filler).unwrap();
        if r.code == 0 {
            stored_ok += 1;
            warned += usize::from(r.stderr.contains("warning"));
            assert_eq!(count, 1, "{page} pages free: exit 0\n{}", r.stderr);
        } else {
            refused += 1;
            assert_eq!(
                count, 0,
                "{page} pages free: the turn is stored, yet the query exited {}:\n{}",
                r.code, r.stderr
            );
            // The message is kept when it may have been sent: sent again with room, it is
            // stored once.
            let sent = fake
                .requests()
                .iter()
                .any(|q| q.last_user_message().as_deref() == Some(msg.as_str()));
            let retry = env.run(["q", "--retry"]);
            let count = users(&env, &id).iter().filter(|u| **u == msg).count();
            if retry.code == 0 {
                assert_eq!(count, 1, "{page} pages free, after --retry");
            } else {
                assert!(!sent, "{page} pages free: sent, not kept: {}", retry.stderr);
                assert!(retry.stderr.contains("no unanswered"), "{}", retry.stderr);
            }
        }
        let r = env.run(["q", "--retry"]).code(1);
        assert!(r.stderr.contains("no unanswered message"), "{}", r.stderr);
    }
    // Some levels stored the turn with no room left for the files derived from the log.
    assert!(
        stored_ok > 0 && refused > 0 && warned > 0,
        "{stored_ok} stored ({warned} with a warning), {refused} refused"
    );
    // rename the same: a stored title is a success.
    for page in 0..6u64 {
        let title = format!("Title {page}");
        fs.fill_to(&filler, page * 4096 + 1024);
        let r = env.run(["rename", &title]);
        std::fs::remove_file(&filler).unwrap();
        let log = std::fs::read_to_string(fs.dir.join(format!("pc/data/conversations/{id}.jsonl")))
            .unwrap();
        let stored = log
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|v| v["type"] == "title" && v["title"] == title.as_str());
        assert_eq!(
            stored,
            r.code == 0,
            "{page} pages free: rename exited {} with the title {}stored:\n{}",
            r.code,
            if stored { "" } else { "not " },
            r.stderr
        );
    }
    env.run(["doctor", "--repair"]);
    assert_doctor_clean(&env, "after the disk was full");
    let ls = listed(&env);
    assert_eq!(ls.len(), 1);
    assert_eq!(ls[0].1 as usize, users(&env, &id).len());
}

#[test]
fn two_queries_in_one_pane_keep_their_own_messages() {
    let (env, fake) = setup();
    env.run(["q", "one"]).ok();
    let id = active(&env, "test");
    let mut held = hold(&env, "test", &id);
    let second = env
        .cmd(["q", "--on-locked", "wait", "second"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the second query waits", || {
        json(&env.run(["sessions", "--json"]).ok().stdout)
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["runs"].as_array().cloned().unwrap_or_default())
            .any(|r| r["state"] == "waiting")
    });
    held.child.kill().unwrap();
    let out = second.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    held.release(&fake);
    assert_eq!(users(&env, &id), ["one", "second"]);
    // The killed query's message is still there to retry.
    let r = env.run(["q", "--retry"]).ok();
    assert!(r.stdout.starts_with("echo: hold"), "{}", r.stdout);
    let u = users(&env, &id);
    assert_eq!(u.len(), 3, "{u:?}");
    assert!(u[2].starts_with("hold"), "{u:?}");
    env.run(["q", "--retry"]).code(1);
}

#[test]
fn a_failed_first_turn_leaves_no_conversation_and_keeps_the_message() {
    let (env, fake) = setup();
    env.run(["q", "--new", "earlier"]).ok();
    let earlier = active(&env, "test");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let refused = format!("provider.base_url=http://127.0.0.1:{port}/v1");
    let failing: [&[&str]; 3] = [
        &["q", "--new", "MIDERR question [[error-mid]]"],
        &["q", "--new", "nope [[http:500]]"],
        &["--cfg", &refused, "q", "--new", "refused question"],
    ];
    for args in failing {
        let r = env.run(args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("--retry"), "{}", r.stderr);
        // Nothing lists a conversation that never had a turn; the pane is where it was.
        assert_eq!(listed(&env), [(earlier.clone(), 1)], "{args:?}");
        assert_eq!(active(&env, "test"), earlier);
        assert_doctor_clean(&env, &format!("{args:?}"));
    }
    // A bad command provider, the same.
    let r = env.run([
        "--cfg",
        "provider.kind=command",
        "--cfg",
        "provider.command=[\"/nonexistent/llm\"]",
        "q",
        "--new",
        "command question",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(listed(&env), [(earlier.clone(), 1)]);
    // --retry creates the conversation with the newest kept message as its first turn.
    fake.clear_requests();
    let r = env.run(["q", "--retry"]).ok();
    assert_eq!(r.stdout, "echo: command question\n");
    let new = active(&env, "test");
    assert_ne!(new, earlier);
    assert_eq!(users(&env, &new), ["command question"]);
    assert_eq!(fake.requests()[0].messages().len(), 1, "a new conversation");
    // The next one kept (the refused connection) also starts its own conversation.
    let r = env.run(["q", "--retry"]).ok();
    assert_eq!(r.stdout, "echo: refused question\n");
    let third = active(&env, "test");
    assert!(third != new && third != earlier);
    assert_eq!(users(&env, &third), ["refused question"]);
    assert_eq!(listed(&env).len(), 3);
    assert_doctor_clean(&env, "after the retries");
}

#[test]
fn after_kills_during_fork_and_new_the_store_is_repaired_clean() {
    panechat_e2e::needs!("strace");
    let (env, _fake) = setup();
    env.run(["q", "--new", "one"]).ok();
    env.run(["q", "two"]).ok();
    let mut kills = 0;
    for (args, syscalls) in [
        (vec!["fork"], ["write", "fsync", "rename", "fdatasync"]),
        (
            vec!["q", "--new", "fresh"],
            ["write", "fsync", "rename", "fdatasync"],
        ),
    ] {
        for syscall in syscalls {
            for when in 1..=12 {
                let r = env.run_traced(&strs(&kill_at(syscall, when)), &args);
                if r.code == 0 {
                    break;
                }
                kills += 1;
                let what = format!("{args:?} killed at {syscall} #{when}");
                let d = env.run(["doctor", "--repair"]);
                assert_eq!(d.code, 0, "{what}: {}{}", d.stdout, d.stderr);
                assert_doctor_clean(&env, &what);
                assert_eq!(
                    litter(&env.home()),
                    Vec::<std::path::PathBuf>::new(),
                    "{what}"
                );
                for (id, turns) in listed(&env) {
                    assert_eq!(turns as usize, users(&env, &id).len(), "{what}: ls of {id}");
                }
                // A message killed before it was stored is retried into its own conversation.
                let _ = env.run(["q", "--retry"]);
            }
        }
    }
    assert!(kills > 10, "only {kills} kills");
    // What older versions left after such kills is repaired too: an empty log, a log with half
    // a header, the summary of a conversation whose log was removed.
    let convs = env.home().join("data/conversations");
    std::fs::write(convs.join("01m00000000000000a.jsonl"), b"").unwrap();
    std::fs::write(convs.join("01m00000000000000b.jsonl"), b"{\"type\":\"hea").unwrap();
    std::fs::write(convs.join("01m00000000000000c.json"), b"{}").unwrap();
    let d = env.run(["doctor"]).code(1);
    assert_eq!(d.stdout.matches("problem:").count(), 3, "{}", d.stdout);
    env.run(["doctor", "--repair"]).ok();
    assert_doctor_clean(&env, "after repairing what older versions left");
    let kept: Vec<_> = std::fs::read_dir(&convs)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("01m00000000000000"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].starts_with("01m00000000000000b.jsonl.torn-"),
        "{kept:?}"
    );
}

#[test]
fn index_compaction_writes_what_it_reads_under_its_lock() {
    panechat_e2e::needs!("strace");
    let (env, _fake) = setup();
    env.run(["q", "--new", "a"]).ok();
    let a = active(&env, "test");
    env.run(["q", "--new", "b"]).ok();
    let b = active(&env, "test");
    // An index bloated with superseded lines, so that the next `ls` compacts it.
    let index = env.home().join("data/index.jsonl");
    let text = std::fs::read_to_string(&index).unwrap();
    std::fs::write(&index, text.repeat(200)).unwrap();
    // `ls` stopped just before the compaction's flock on index.lock (strace -P follows it).
    let lock = env.home().join("state/locks/index.lock");
    let mut ls = env
        .cmd_traced(
            &[
                "-o",
                "/dev/null",
                "-P",
                &lock.display().to_string(),
                "-e",
                "trace=flock",
                "-e",
                "inject=flock:delay_enter=3000000",
            ],
            ["ls", "--json"],
        )
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let strace_pid = ls.id();
    wait_until("ls reaches the compaction's flock", || {
        let children =
            std::fs::read_to_string(format!("/proc/{strace_pid}/task/{strace_pid}/children"))
                .unwrap_or_default();
        children.split_whitespace().any(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/syscall"))
                .is_ok_and(|s| s.split_whitespace().next() == Some(&libc::SYS_flock.to_string()))
        })
    });
    // Meanwhile a conversation is created and one removed.
    let c = env.run(["fork", &a]).ok().stdout.trim().to_string();
    env.run(["rm", "--yes", &b]).ok();
    assert!(ls.wait().unwrap().success());
    let ids: Vec<String> = listed(&env).into_iter().map(|(id, _)| id).collect();
    assert!(ids.contains(&c), "the new conversation is missing: {ids:?}");
    assert!(!ids.contains(&b), "the removed one is listed: {ids:?}");
    assert!(ids.contains(&a), "{ids:?}");
}

#[test]
fn rm_that_fails_after_the_delete_says_it_deleted_and_exits_0() {
    panechat_e2e::needs!("strace");
    let (env, _fake) = setup();
    env.run(["q", "--new", "doomed"]).ok();
    let id = active(&env, "test");
    env.run(["q", "--new", "kept"]).ok();
    // Every step after the delete fails: here, removing the conversation's lock file.
    let lock = env.home().join("state/locks").join(format!("{id}.lock"));
    let lock = lock.display().to_string();
    let r = env.run_traced(
        &[
            "-f",
            "-o",
            "/dev/null",
            "-P",
            &lock,
            "-e",
            "inject=unlink,unlinkat:error=EIO",
        ],
        ["rm", "--yes", &id],
    );
    assert_eq!(
        r.code, 0,
        "the delete is durable, so rm succeeded:\n{}",
        r.stderr
    );
    assert!(r.stderr.contains(&format!("deleted {id}")), "{}", r.stderr);
    assert!(
        r.stderr.contains("warning") && r.stderr.contains("Input/output error"),
        "what was left undone is said: {}",
        r.stderr
    );
    assert!(
        !listed(&env).iter().any(|(i, _)| *i == id),
        "{id} is still listed"
    );
    env.run(["doctor", "--repair"]).ok();
    assert_doctor_clean(&env, "after the repair");
}

#[test]
fn rm_that_fails_to_tidy_the_sessions_still_frees_the_lock() {
    panechat_e2e::needs!("strace");
    let (env, _fake) = setup();
    env.run(["q", "--new", "doomed"]).ok();
    let id = active(&env, "test");
    env.run_in("other", ["use", &id]).ok();
    // Making the other session forget the conversation fails.
    let mapping = std::fs::read_dir(env.home().join("state/sessions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "json")
                && std::fs::read_to_string(p).is_ok_and(|t| t.contains("\"other\""))
        })
        .expect("the other session's mapping file");
    let mapping = mapping.display().to_string();
    let r = env.run_traced(
        &[
            "-f",
            "-o",
            "/dev/null",
            "-P",
            &mapping,
            // (Its first two opens list the sessions; the third is the forgetting.)
            "-e",
            "inject=openat:error=EIO:when=3",
        ],
        ["rm", "--yes", &id],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("warning"), "{}", r.stderr);
    let lock = env.home().join("state/locks").join(format!("{id}.lock"));
    assert!(
        !lock.exists(),
        "the lock of the deleted conversation is left to take"
    );
}

#[test]
fn fork_into_a_session_it_cannot_name_makes_no_orphan() {
    let (env, _fake) = setup();
    env.run(["q", "--new", "source"]).ok();
    let before = listed(&env).len();
    // Outside any multiplexer, a pane cannot be named: refused before anything is made.
    let r = env.run(["fork", "--session", "pane:%1"]).code(2);
    assert!(
        r.stderr.contains("not running inside a multiplexer"),
        "{}",
        r.stderr
    );
    assert_eq!(listed(&env).len(), before, "an orphan fork was stored");
}

#[test]
fn fork_whose_session_cannot_be_written_says_what_was_made() {
    let (env, _fake) = setup();
    env.run(["q", "--new", "source"]).ok();
    env.run_in("other", ["new"]).ok();
    // The other session's mapping file is replaced by a link: writing it is refused.
    let dir = env.home().join("state/sessions");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "json")
                && std::fs::read_to_string(p).is_ok_and(|t| t.contains("\"other\""))
        })
        .expect("the other session's mapping file");
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(env.root.join("elsewhere"), &file).unwrap();
    let before = listed(&env).len();
    let r = env.run(["fork", "--session", "other"]);
    assert_eq!(listed(&env).len(), before + 1, "the fork is stored");
    assert_ne!(r.code, 0, "{}", r.stderr);
    let new_id = r.stdout.trim();
    assert!(
        !new_id.is_empty() && r.stderr.contains(new_id) && r.stderr.contains("panechat use"),
        "the fork's id is printed and the error says it exists and how to show it:\nstdout {:?}\nstderr {}",
        r.stdout,
        r.stderr
    );
}
