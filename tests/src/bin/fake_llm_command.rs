//! A fake program for panechat's `command` provider.
//!
//! Reads the transcript JSON (`{"model","system","messages":[{role,content}]}`) from standard
//! input and streams the reply to standard output in small pieces with small sleeps. The reply is
//! chosen like the fake server's ([`panechat_e2e::fake`]): `echo: <last user message>`, `Fake
//! title` for title requests, `[[reply:TEXT]]`, `[[chunks:N]]`, `[[slow:MS]]`. Also:
//!
//! - `[[error-mid]]`: two pieces, then a message on standard error and exit status 3;
//! - `[[stall]]`: one piece, then sleep for a minute (to test cancellation);
//! - `[[bytewise]]`: write the reply one byte at a time (multi-byte characters split across writes);
//! - `[[pgid]]`: reply `own process group` or `shared process group`.

use std::io::{Read, Write};
use std::time::Duration;

use panechat_e2e::fake::{directives, plan_for_transcript, Mode, MID_STREAM_ERROR};

fn main() {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("fake_llm_command: cannot read standard input: {e}");
        std::process::exit(2);
    }
    let v: serde_json::Value = match serde_json::from_str(&input) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("fake_llm_command: standard input is not JSON: {e}");
            std::process::exit(2);
        }
    };
    let messages = panechat_e2e::fake::messages_of(&v);
    let system = v.get("system").and_then(|s| s.as_str()).unwrap_or("");
    let model = v.get("model").and_then(|s| s.as_str()).unwrap_or("");
    let mut plan = plan_for_transcript(system, &messages, model);
    let last_user = messages
        .iter()
        .rev()
        .find(|(r, _)| r == "user")
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    let dirs = directives(&last_user);
    let has = |name: &str| dirs.iter().any(|(n, _)| n == name);
    if has("pgid") {
        // SAFETY: plain getters.
        let own = unsafe { libc::getpgrp() == libc::getpid() };
        plan.text = if own {
            "own process group"
        } else {
            "shared process group"
        }
        .to_owned();
        plan.chunks = vec![plan.text.clone()];
    }
    let pause = if plan.slow.is_zero() {
        Duration::from_millis(5)
    } else {
        plan.slow
    };
    let mut out = std::io::stdout().lock();
    let pieces: Vec<Vec<u8>> = if has("bytewise") {
        plan.text.bytes().map(|b| vec![b]).collect()
    } else {
        plan.chunks.iter().map(|c| c.as_bytes().to_vec()).collect()
    };
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(pause);
        }
        if plan.mode == Mode::ErrorMid && i == 2 {
            eprintln!("fake_llm_command: something broke ({MID_STREAM_ERROR})");
            std::process::exit(3);
        }
        if out.write_all(piece).and_then(|()| out.flush()).is_err() {
            std::process::exit(1);
        }
        if plan.mode == Mode::Stall {
            std::thread::sleep(Duration::from_secs(60));
            std::process::exit(0);
        }
    }
    if plan.mode == Mode::ErrorMid {
        eprintln!("fake_llm_command: something broke ({MID_STREAM_ERROR})");
        std::process::exit(3);
    }
}
