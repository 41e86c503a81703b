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

/// The user messages of conversation `id`, in order, from `show --json`.
pub fn users(env: &TestEnv, id: &str) -> Vec<String> {
    show(env, "test", Some(id))["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The conversations `ls --json` lists, as (id, turns).
pub fn listed(env: &TestEnv) -> Vec<(String, u64)> {
    json(&env.run(["ls", "--json"]).ok().stdout)
        .as_array()
        .expect("ls --json is an array")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_string(),
                c["turns"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Temp files of interrupted writes (`.NAME.tmp.PID.N`) anywhere under `dir`.
pub fn litter(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(litter(&p));
        } else if e.file_name().to_string_lossy().contains(".tmp.") {
            out.push(p);
        }
    }
    out
}

/// Panics (with `what` and doctor's report) unless `panechat doctor` finds no problem.
#[track_caller]
pub fn assert_doctor_clean(env: &TestEnv, what: &str) {
    let d = env.run(["doctor"]);
    assert!(
        d.code == 0 && d.stdout.contains("ok: no problems found"),
        "{what}: doctor is not clean (exit {}):\n{}{}",
        d.code,
        d.stdout,
        d.stderr
    );
}

/// A small tmpfs mounted for one test (disk-full cases); unmounted when dropped.
pub struct Tmpfs {
    /// The mount point.
    pub dir: std::path::PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `200k`) on `dir` (created).
    ///
    /// # Panics
    /// When the mount is refused (the disk-full tests need root, as in CI): the message says
    /// so, the test is never skipped silently.
    pub fn mount(dir: &std::path::Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let o = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .expect("running mount");
        assert!(
            o.status.success(),
            "this test needs a real tmpfs to fill up (run it as root); `mount -t tmpfs` was refused: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Tmpfs {
            dir: dir.to_path_buf(),
        }
    }

    /// Free bytes on the file system.
    pub fn free(&self) -> u64 {
        let c = std::ffi::CString::new(self.dir.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: statvfs writes into the zeroed struct; the path is a valid C string.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0);
        st.f_bavail as u64 * st.f_frsize as u64
    }

    /// Fills the file system with `filler` so that about `left` bytes stay free.
    pub fn fill_to(&self, filler: &std::path::Path, left: u64) {
        let _ = std::fs::remove_file(filler);
        let n = self.free().saturating_sub(left);
        let f = std::fs::File::create(filler).unwrap();
        use std::io::Write;
        let mut w = std::io::BufWriter::new(f);
        let block = vec![b'x'; 4096];
        let mut left_to_write = n as usize;
        while left_to_write > 0 {
            let k = left_to_write.min(block.len());
            if w.write_all(&block[..k]).is_err() {
                break;
            }
            left_to_write -= k;
        }
        let _ = w.flush();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
    }
}

/// Polls `f` until it is true (20 s at most).
#[track_caller]
pub fn wait_until(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(20), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(40));
    }
}
