//! Runs the fake LLM provider server for manual testing.
//!
//! `fake_provider [PORT]` (default 0 = any free port) prints the port on the first line of
//! standard output, then serves until killed, logging each request to standard error.
//! Point panechat at it with e.g. `--cfg provider.base_url=http://127.0.0.1:PORT/v1`.

use std::io::Write;
use std::time::Duration;

use panechat_e2e::fake::FakeProvider;

fn main() {
    let port = match std::env::args().nth(1) {
        None => 0,
        Some(a) => match a.parse::<u16>() {
            Ok(p) => p,
            Err(_) => {
                eprintln!("usage: fake_provider [PORT]   (PORT = 0..65535; 0 picks a free port)");
                std::process::exit(2);
            }
        },
    };
    let fake = match FakeProvider::start_on(port) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fake_provider: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    println!("{}", fake.port());
    let _ = std::io::stdout().flush();
    eprintln!(
        "fake provider on {} (openai: {}, anthropic: {}, ollama: {})",
        fake.base_url(),
        fake.base_url_openai(),
        fake.base_url_anthropic(),
        fake.base_url_ollama()
    );
    let mut seen = 0;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let reqs = fake.requests();
        for r in &reqs[seen.min(reqs.len())..] {
            eprintln!(
                "{} {} last user message: {:?}",
                r.method,
                r.path,
                r.last_user_message().unwrap_or_default()
            );
        }
        seen = reqs.len();
    }
}
