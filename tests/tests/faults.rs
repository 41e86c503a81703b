//! The fault suite: a few hundred kills, each placed by strace at an exact syscall (every
//! occurrence of each syscall that writes, renames, links, removes, opens or locks), across
//! `q`, `q --new`, `fork`, `rename` and `rm`. After each kill, `q --retry`, then
//! `doctor --repair`, and then:
//!
//! - no conversation holds a message twice;
//! - every turn whose query exited 0 is in its conversation exactly once (until it is removed);
//! - a killed query's message is stored once, or was retryable and is stored once after the
//!   retry (or was killed before it was kept, and so never sent);
//! - `doctor` finds no problem, no temp file is left, and `ls` lists exactly the conversations
//!   with their logs' turn counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use panechat_e2e::env::TestEnv;
use panechat_e2e::helpers::{active, assert_doctor_clean, json, litter, setup};

/// The syscalls a kill is placed at.
const SYSCALLS: &[&str] = &[
    "write",
    "fsync",
    "fdatasync",
    "rename",
    "renameat2",
    "linkat",
    "unlink",
    "ftruncate",
    "flock",
    "openat",
];

/// Every conversation's user messages, from the logs themselves.
fn logs(env: &TestEnv) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let dir = env.home().join("data/conversations");
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".jsonl") else {
            continue;
        };
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        let users = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["type"] == "turn")
            .map(|v| v["user"].as_str().unwrap_or_default().to_string())
            .collect();
        out.insert(id.to_string(), users);
    }
    out
}

fn drafted(home: &Path, msg: &str) -> bool {
    std::fs::read_dir(home.join("state/drafts"))
        .into_iter()
        .flatten()
        .flatten()
        // (a temp file is not a kept draft until it is renamed into place)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .any(|d| d["message"] == msg)
}

struct Suite {
    env: TestEnv,
    /// Acknowledged messages, by conversation.
    acked: BTreeMap<String, Vec<String>>,
    kills: usize,
    retried: usize,
    stored_before_retry: usize,
    never_kept: usize,
    n: usize,
}

impl Suite {
    fn next_msg(&mut self) -> String {
        self.n += 1;
        format!("m{}", self.n)
    }

    /// Where `msg` is stored (each test message is unique; forks copy it later).
    fn stored_in(&self, msg: &str) -> Vec<String> {
        logs(&self.env)
            .into_iter()
            .filter(|(_, users)| users.iter().any(|u| u == msg))
            .map(|(id, _)| id)
            .collect()
    }

    /// The invariants after a kill (or a completed command), then the repair.
    fn check(&mut self, what: &str, killed_msg: Option<&str>) {
        let env = &self.env;
        if let Some(msg) = killed_msg {
            let stored = self.stored_in(msg).len();
            let kept = drafted(&env.home(), msg);
            assert!(stored <= 1, "{what}: {msg} stored {stored} times");
            let r = env.run(["q", "--retry"]);
            match (stored, kept) {
                (1, _) => {
                    self.stored_before_retry += 1;
                    assert!(
                        r.code == 1 || r.stderr.contains("already answered"),
                        "{what}: a stored message was sent again:\n{}",
                        r.stderr
                    );
                }
                (_, true) => {
                    self.retried += 1;
                    assert_eq!(r.code, 0, "{what}: the retry failed:\n{}", r.stderr);
                }
                _ => {
                    self.never_kept += 1;
                    assert_eq!(r.code, 1, "{what}: {}", r.stderr);
                }
            }
            let now = self.stored_in(msg);
            assert!(now.len() <= 1, "{what}: {msg} stored in {now:?}");
            if let Some(c) = now.first() {
                self.acked
                    .entry(c.clone())
                    .or_default()
                    .push(msg.to_string());
            }
        }
        let d = env.run(["doctor", "--repair"]);
        assert_eq!(
            d.code, 0,
            "{what}: doctor --repair:\n{}{}",
            d.stdout, d.stderr
        );
        assert_doctor_clean(env, what);
        assert_eq!(
            litter(&env.home()),
            Vec::<std::path::PathBuf>::new(),
            "{what}"
        );
        let logs = logs(env);
        for (id, users) in &logs {
            let set: BTreeSet<&String> = users.iter().collect();
            assert_eq!(
                set.len(),
                users.len(),
                "{what}: {id} holds a message twice: {users:?}"
            );
        }
        for (id, msgs) in &self.acked {
            let users = logs.get(id).unwrap_or_else(|| {
                panic!("{what}: conversation {id} with acknowledged turns is gone")
            });
            for m in msgs {
                let n = users.iter().filter(|u| *u == m).count();
                assert_eq!(n, 1, "{what}: acknowledged {m} is in {id} {n} times");
            }
        }
        let ls = json(&env.run(["ls", "--json"]).ok().stdout);
        let listed: BTreeMap<String, u64> = ls
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().to_string(),
                    c["turns"].as_u64().unwrap(),
                )
            })
            .collect();
        let actual: BTreeMap<String, u64> = logs
            .iter()
            .map(|(id, u)| (id.clone(), u.len() as u64))
            .collect();
        assert_eq!(listed, actual, "{what}: ls does not match the logs");
    }

    /// Runs `args` killed at each occurrence of each syscall, until it completes untouched.
    fn kill_everywhere(
        &mut self,
        op: &str,
        mut args: impl FnMut(&mut Suite) -> (Vec<String>, Option<String>),
    ) {
        for syscall in SYSCALLS {
            for when in 1..=60 {
                let (argv, msg) = args(self);
                let strace = [
                    "-o".to_string(),
                    "/dev/null".into(),
                    "-e".into(),
                    format!("trace={syscall}"),
                    "-e".into(),
                    format!("inject={syscall}:signal=SIGKILL:when={when}"),
                ];
                let strace: Vec<&str> = strace.iter().map(String::as_str).collect();
                let r = self.env.run_traced(&strace, &argv);
                let what = format!("{op} killed at {syscall} #{when}");
                if r.code == 0 {
                    if let Some(m) = &msg {
                        let c = active(&self.env, "test");
                        self.acked.entry(c).or_default().push(m.clone());
                    }
                    self.check(&format!("{op} completed ({syscall} #{when})"), None);
                    break;
                }
                self.kills += 1;
                self.check(&what, msg.as_deref());
                if op == "rm" {
                    // Removed or whole: either way no longer tracked.
                    let gone: Vec<String> = argv[2..].to_vec();
                    for id in gone {
                        self.acked.remove(&id);
                    }
                }
            }
        }
    }
}

#[test]
fn hundreds_of_placed_kills_leave_every_message_once_and_the_store_clean() {
    panechat_e2e::needs!("strace");
    let (env, _fake) = setup();
    env.run(["q", "--new", "m0"]).ok();
    let first = active(&env, "test");
    let mut s = Suite {
        env,
        acked: BTreeMap::from([(first, vec!["m0".to_string()])]),
        kills: 0,
        retried: 0,
        stored_before_retry: 0,
        never_kept: 0,
        n: 0,
    };
    s.kill_everywhere("q", |s| {
        let m = s.next_msg();
        (vec!["q".into(), m.clone()], Some(m))
    });
    s.kill_everywhere("q --new", |s| {
        let m = s.next_msg();
        (vec!["q".into(), "--new".into(), m.clone()], Some(m))
    });
    s.kill_everywhere("fork", |s| {
        (vec!["fork".into(), active(&s.env, "test")], None)
    });
    s.kill_everywhere("rename", |s| {
        let t = s.next_msg();
        (
            vec![
                "rename".into(),
                active(&s.env, "test"),
                format!("Title {t}"),
            ],
            None,
        )
    });
    s.kill_everywhere("rm", |s| {
        let victim = s.env.run(["fork", &active(&s.env, "test")]).ok().stdout;
        (
            vec!["rm".into(), "--yes".into(), victim.trim().to_string()],
            None,
        )
    });
    eprintln!(
        "{} kills: {} messages stored before the retry, {} retried, {} killed before they were kept",
        s.kills, s.stored_before_retry, s.retried, s.never_kept
    );
    assert!(s.kills >= 250, "only {} kills were placed", s.kills);
    assert!(
        s.stored_before_retry > 0 && s.retried > 0,
        "both outcomes of a kill are exercised"
    );
}
