//! Small helpers the end-to-end tests share.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::env::TestEnv;
use crate::fake::FakeProvider;

/// A fresh environment talking to a fresh fake OpenAI-compatible server.
pub fn setup() -> (TestEnv, FakeProvider) {
    let fake = FakeProvider::start();
    let env = TestEnv::new();
    env.use_openai(&fake.base_url_openai());
    (env, fake)
}

/// Parses JSON output, with the text in the panic message when it is not JSON.
#[track_caller]
pub fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// The conversation `session` shows, from `status --format json` (`None` when none).
pub fn shown(env: &TestEnv, session: &str) -> Option<String> {
    let v = json(
        &env.run(["status", "--session", session, "--format", "json"])
            .ok()
            .stdout,
    );
    v["conversation"].as_str().map(str::to_string)
}

/// The conversation `session` shows; panics when it shows none (so comparisons between two
/// sessions can never pass vacuously).
#[track_caller]
pub fn active(env: &TestEnv, session: &str) -> String {
    shown(env, session).unwrap_or_else(|| panic!("session {session} shows no conversation"))
}

/// `show --json` in `session`, of `target` or the session's active conversation.
pub fn show(env: &TestEnv, session: &str, target: Option<&str>) -> Value {
    let mut args = vec!["show", "--json"];
    if let Some(t) = target {
        args.push(t);
    }
    json(&env.run_in(session, args).ok().stdout)
}

/// A query holding a conversation's lock until released.
pub struct Held {
    /// The query's process.
    pub child: Child,
    gate: String,
}

impl Held {
    /// Lets the held query finish and waits for it.
    pub fn release(mut self, fake: &FakeProvider) -> std::process::ExitStatus {
        fake.open_gate(&self.gate);
        self.child.wait().expect("waiting for the holder")
    }
}

/// Starts a query on `id` in `session` whose reply stops after its first chunk until
/// [`Held::release`], and returns once it holds the lock (streaming): contention tests depend
/// on events, never on a holder outlasting a sleep.
pub fn hold(env: &TestEnv, session: &str, id: &str) -> Held {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let gate = format!(
        "hold-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let mut child = env
        .cmd([
            "q",
            "--id",
            id,
            &format!("hold [[gate:{gate}]] [[chunks:4]]"),
        ])
        .env("PANECHAT_SESSION", session)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning panechat");
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(15) {
        let s = json(&env.run(["sessions", "--json"]).ok().stdout);
        let streaming = s.as_array().unwrap().iter().any(|x| {
            x["key"] == session
                && x["runs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["state"] == "streaming")
        });
        if streaming {
            return Held { child, gate };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the holder never started streaming");
}

/// `s` quoted for a POSIX shell (single quotes).
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
