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

/// The active conversation of `session` ("" when none), from `status --format json`.
pub fn active(env: &TestEnv, session: &str) -> String {
    let v = json(
        &env.run(["status", "--session", session, "--format", "json"])
            .ok()
            .stdout,
    );
    v["conversation"].as_str().unwrap_or("").to_string()
}

/// `show --json` in `session`, of `target` or the session's active conversation.
pub fn show(env: &TestEnv, session: &str, target: Option<&str>) -> Value {
    let mut args = vec!["show", "--json"];
    if let Some(t) = target {
        args.push(t);
    }
    json(&env.run_in(session, args).ok().stdout)
}

/// Starts a slow query on `id` in `session` and returns once it holds the lock (streaming).
pub fn hold(env: &TestEnv, session: &str, id: &str, ms: u64) -> Child {
    let mut child = env
        .cmd([
            "q",
            "--id",
            id,
            &format!("hold [[slow:{ms}]] [[chunks:10]]"),
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
            return child;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the holder never started streaming");
}
