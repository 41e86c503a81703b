//! The benchmark's world: a private temp root, pinned copies of the binaries under test, the
//! fake provider, and stores of the sizes the budgets name, generated through the library's own
//! types (10,000 conversations are written as files directly, not by 10,000 processes).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use panechat::env::Env;
use panechat::paths::Paths;
use panechat::provider::Usage;
use panechat::store::conversation::{Conversation, ConversationId, Header, Record, Turn};
use panechat::store::{log, mapping, NewConversation, Store};
use panechat_e2e::fake::{FakeProvider, FAKE_API_KEY, FAKE_API_KEY_ENV};

/// Conversations in the big store besides the two measured ones.
pub const BULK_CONVERSATIONS: usize = 10_000;
/// Turns of the long conversation.
pub const LONG_TURNS: usize = 10_000;
/// Turns of the short (reference) conversation.
pub const SHORT_TURNS: usize = 10;
/// Conversations in the small (reference) store.
pub const SMALL_CONVERSATIONS: usize = 10;
/// Conversations in the middle store (`ls` of as many as other tools are compared on).
pub const MID_CONVERSATIONS: usize = 1_000;
/// The session whose active conversation is the long one (in both stores).
pub const SESSION_LONG: &str = "bench-long";
/// The session whose active conversation is the short one.
pub const SESSION_SHORT: &str = "bench-short";

/// One `PANECHAT_HOME`.
pub struct Home {
    /// The directory.
    pub dir: PathBuf,
    /// Its store.
    pub store: Store,
}

impl Home {
    /// A home at `dir` (created when missing).
    pub fn new(dir: PathBuf) -> Result<Home, String> {
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let env = Env::from_pairs([("PANECHAT_HOME", dir.as_os_str())]);
        let paths = Paths::resolve(&env).map_err(|e| e.to_string())?;
        Ok(Home {
            store: Store::new(paths),
            dir,
        })
    }

    /// The size of a conversation's log.
    pub fn log_len(&self, id: &ConversationId) -> Result<u64, String> {
        let p = self.store.log_path(id);
        fs::metadata(&p)
            .map(|m| m.len())
            .map_err(|e| format!("{}: {e}", p.display()))
    }

    /// What a measured command changes in a conversation: its log and history sizes and its
    /// summary file.
    pub fn snapshot(&self, id: &ConversationId) -> Result<Snapshot, String> {
        let hp = self.store.history_path(id);
        let sp = self.store.summary_path(id);
        Ok(Snapshot {
            log: self.log_len(id)?,
            history: fs::metadata(&hp)
                .map(|m| m.len())
                .map_err(|e| format!("{}: {e}", hp.display()))?,
            summary: fs::read(&sp).map_err(|e| format!("{}: {e}", sp.display()))?,
        })
    }

    /// Undoes what a measured command appended (log, history, summary), so every sample sees
    /// the same conversation, on the same fast path.
    pub fn restore(&self, id: &ConversationId, s: &Snapshot) -> Result<(), String> {
        self.truncate_log(id, s.log)?;
        let hp = self.store.history_path(id);
        OpenOptions::new()
            .write(true)
            .open(&hp)
            .and_then(|f| f.set_len(s.history))
            .map_err(|e| format!("{}: {e}", hp.display()))?;
        let sp = self.store.summary_path(id);
        fs::write(&sp, &s.summary).map_err(|e| format!("{}: {e}", sp.display()))
    }

    /// Cuts a conversation's log back to `len` bytes, undoing the turns a measured command
    /// appended, so every sample sees the same conversation. (Its summary keeps the higher
    /// turn count; nothing measured reads it for the turns.)
    pub fn truncate_log(&self, id: &ConversationId, len: u64) -> Result<(), String> {
        let p = self.store.log_path(id);
        OpenOptions::new()
            .write(true)
            .open(&p)
            .and_then(|f| f.set_len(len))
            .map_err(|e| format!("{}: {e}", p.display()))
    }

    fn activate(&self, session: &str, id: &ConversationId) -> Result<(), String> {
        let env = Env::from_pairs([("PANECHAT_SESSION", session)]);
        let s = panechat::session::resolve(&env).map_err(|e| e.to_string())?;
        mapping::activate(&self.store.paths, &s, id).map_err(|e| e.to_string())
    }
}

/// Everything the cases run against. Dropping it removes the temp root.
pub struct World {
    /// The temp root.
    pub root: PathBuf,
    /// The `panechat` binary under test (a copy, so a rebuild elsewhere cannot swap it).
    pub panechat: PathBuf,
    /// The trivial reference binary.
    pub hello: PathBuf,
    /// The fake provider every query talks to.
    pub fake: FakeProvider,
    /// 10,000 conversations plus the long and the short one.
    pub big: Home,
    /// A store of 10 conversations (the `ls` reference).
    pub small: Home,
    /// A store of 1,000 conversations.
    pub mid: Home,
    /// The 10,000-turn conversation (in `big`).
    pub long: ConversationId,
    /// The 10-turn conversation (in `big`).
    pub short: ConversationId,
    /// What was generated, for the report.
    pub notes: Vec<String>,
    /// Keep the temp root when dropped.
    pub keep: bool,
    /// A panechat built from an earlier commit, to measure the query path against
    /// (`--baseline`), copied next to the measured binary.
    pub baseline: Option<PathBuf>,
}

impl World {
    /// Creates the temp root, copies the binaries and generates the stores.
    pub fn new(panechat: &Path, hello: &Path) -> Result<World, String> {
        let root = std::env::temp_dir().join(format!("panechat-bench-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for d in ["home", "work", "bin"] {
            fs::create_dir_all(root.join(d)).map_err(|e| format!("{}: {e}", root.display()))?;
        }
        let copy = |src: &Path| -> Result<PathBuf, String> {
            let dst = root.join("bin").join(src.file_name().expect("binary name"));
            fs::copy(src, &dst).map_err(|e| format!("copying {}: {e}", src.display()))?;
            Ok(dst)
        };
        let mut world = World {
            panechat: copy(panechat)?,
            hello: copy(hello)?,
            fake: FakeProvider::start(),
            big: Home::new(root.join("big"))?,
            small: Home::new(root.join("small"))?,
            mid: Home::new(root.join("mid"))?,
            long: ConversationId::generate(),
            short: ConversationId::generate(),
            notes: Vec::new(),
            keep: false,
            baseline: None,
            root,
        };
        world.generate()?;
        Ok(world)
    }

    fn generate(&mut self) -> Result<(), String> {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let started = std::time::Instant::now();
        for home in [&self.big, &self.small, &self.mid] {
            write_config(home, &self.fake)?;
        }
        let bulk = write_bulk(&self.big.store, BULK_CONVERSATIONS, &mut rng)?;
        let now = SystemTime::now();
        let long_turns = turns(&mut rng, LONG_TURNS, now - Duration::from_secs(3 * 86400));
        let long = self
            .big
            .store
            .create(NewConversation {
                title: Some("Long conversation".into()),
                turns: long_turns,
                ..Default::default()
            })
            .map_err(|e| e.to_string())?
            .value;
        let short = self
            .big
            .store
            .create(NewConversation {
                title: Some("Short conversation".into()),
                turns: turns(&mut rng, SHORT_TURNS, now - Duration::from_secs(3600)),
                ..Default::default()
            })
            .map_err(|e| e.to_string())?
            .value;
        self.big.activate(SESSION_LONG, &long.id)?;
        self.big.activate(SESSION_SHORT, &short.id)?;
        self.long = long.id;
        self.short = short.id;
        let small = write_bulk(&self.small.store, SMALL_CONVERSATIONS, &mut rng)?;
        self.small.activate(SESSION_LONG, &small[0])?;
        let mid = write_bulk(&self.mid.store, MID_CONVERSATIONS, &mut rng)?;
        self.mid.activate(SESSION_LONG, &mid[0])?;
        // Start every case with the generated files on disk, not in the writeback queue.
        // SAFETY: sync(2) has no preconditions.
        unsafe { libc::sync() };
        self.notes.push(format!(
            "store: {} conversations of 1-6 turns + a {}-turn conversation ({:.1} MB log) + a {}-turn one; reference store: {} conversations; middle store: {} conversations; messages 100-300 bytes; generated in {:.1} s under {}",
            bulk.len(),
            LONG_TURNS,
            self.big.log_len(&self.long)? as f64 / 1e6,
            SHORT_TURNS,
            SMALL_CONVERSATIONS,
            MID_CONVERSATIONS,
            started.elapsed().as_secs_f64(),
            self.root.display()
        ));
        Ok(())
    }

    /// Copies `bin` (a panechat from an earlier commit) next to the measured one and records it
    /// as the baseline.
    pub fn set_baseline(&mut self, bin: &Path) -> Result<(), String> {
        let dst = self.root.join("bin").join("panechat-baseline");
        fs::copy(bin, &dst).map_err(|e| format!("copying {}: {e}", bin.display()))?;
        self.baseline = Some(dst);
        Ok(())
    }

    /// A command running `program` with this world's environment for `home` and `session`:
    /// cleared environment plus `PANECHAT_HOME`, `HOME`, `PANECHAT_SESSION`, `PATH`, `LANG` and
    /// the fake's API key; stdin and stdout null, so nothing is a terminal.
    pub fn command(&self, program: &Path, home: &Home, session: &str) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PANECHAT_HOME", &home.dir)
            .env("HOME", self.root.join("home"))
            .env("PANECHAT_SESSION", session)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LANG", "C.UTF-8")
            .env(FAKE_API_KEY_ENV, FAKE_API_KEY)
            .current_dir(self.root.join("work"))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        c
    }

    /// `panechat ARGS` in `home` as `session`.
    pub fn panechat(&self, home: &Home, session: &str, args: &[&str]) -> Command {
        let mut c = self.command(&self.panechat, home, session);
        c.args(args);
        c
    }

    /// The trivial binary, with the same environment as `panechat` gets.
    pub fn hello(&self) -> Command {
        self.command(&self.hello, &self.big, SESSION_LONG)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// Writes a config for `home` that talks to `fake`.
pub fn write_config(home: &Home, fake: &FakeProvider) -> Result<(), String> {
    let text = format!(
        "[provider]\nkind = \"openai\"\nbase_url = \"{}\"\nmodel = \"fake-model\"\napi_key_env = \"{FAKE_API_KEY_ENV}\"\nidle_timeout = \"10s\"\n[lock]\nwait = \"2s\"\n",
        fake.base_url_openai()
    );
    let p = home.dir.join("config.toml");
    fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))
}

/// Writes `n` conversations (log, summary, index line each) straight to disk with the store's
/// record and summary types, without the per-write fsyncs of `Store::create`. Returns their ids.
fn write_bulk(store: &Store, n: usize, rng: &mut Rng) -> Result<Vec<ConversationId>, String> {
    store.ensure_dirs().map_err(|e| e.to_string())?;
    let span = Duration::from_secs(30 * 86400);
    let first = SystemTime::now() - span - Duration::from_secs(86400);
    let mut ids = Vec::with_capacity(n);
    let mut index = Vec::with_capacity(n * 400);
    for i in 0..n {
        let created = first + span.mul_f64(i as f64 / n as f64);
        let id = ConversationId::generate();
        let header = Header {
            agent: None,
            v: 1,
            id: id.clone(),
            created_at: rfc3339(created),
            parent: None,
            model: None,
            system: None,
        };
        let count = 1 + rng.below(6) as usize;
        let ts = turns(rng, count, created);
        let title_at = rfc3339(created + Duration::from_secs(30 * count as u64 + 5));
        let title = words(rng, 12, 40);
        let mut bytes = log::encode(&Record::Header(header.clone()));
        for t in &ts {
            bytes.extend(log::encode(&Record::Turn(t.clone())));
        }
        bytes.extend(log::encode(&Record::Title {
            title: title.clone(),
            at: title_at.clone(),
            source: "model".into(),
        }));
        write_private(&store.log_path(&id), &bytes)?;
        let summary = Conversation {
            header,
            turns: ts,
            title: Some(title),
            model: None,
            system: None,
            updated_at: title_at,
            torn_tail: None,
        }
        .summary();
        let json = serde_json::to_vec(&summary).expect("summary serialises");
        write_private(&store.summary_path(&id), &json)?;
        index.extend_from_slice(&json);
        index.push(b'\n');
        ids.push(id);
    }
    write_private(&store.paths.index(), &index)?;
    Ok(ids)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `n` turns starting at `start`, 30 s apart, with messages of 100-300 bytes.
pub fn turns(rng: &mut Rng, n: usize, start: SystemTime) -> Vec<Turn> {
    (0..n)
        .map(|i| turn(rng, start + Duration::from_secs(30 * i as u64)))
        .collect()
}

/// One turn at `at` with messages of 100-300 bytes.
pub fn turn(rng: &mut Rng, at: SystemTime) -> Turn {
    let user = words(rng, 100, 300);
    let assistant = words(rng, 100, 300);
    Turn {
        agent: None,
        cost_usd: None,
        usage: Usage {
            input_tokens: Some(user.len() as u64 / 4),
            output_tokens: Some(assistant.len() as u64 / 4),
        },
        user,
        assistant,
        model: "gpt-4o-mini".into(),
        started_at: rfc3339(at),
        finished_at: rfc3339(at + Duration::from_secs(4)),
        finish_reason: Some("stop".into()),
        truncated: false,
        attachments: Vec::new(),
        message_id: None,
    }
}

const WORDS: &[&str] = &[
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "is",
    "it",
    "that",
    "for",
    "you",
    "with",
    "on",
    "this",
    "be",
    "can",
    "function",
    "error",
    "file",
    "return",
    "value",
    "why",
    "does",
    "how",
    "should",
    "use",
    "instead",
    "`cargo",
    "build`",
    "Result<T,",
    "E>",
    "pane",
    "tmux",
    "session",
    "lock",
    "thread",
    "async",
    "buffer",
    "string",
    "because",
    "example:",
    "println!(\"{x}\");",
    "é",
    "—",
    "config",
    "path",
    "directory",
    "test",
    "fails",
    "works",
    "when",
    "then",
    "first",
    "line",
];

/// Space-separated words, between `min` and `max` bytes long.
pub fn words(rng: &mut Rng, min: usize, max: usize) -> String {
    let target = min + rng.below((max - min + 1) as u64) as usize;
    let mut s = String::with_capacity(target + 24);
    while s.len() < target {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    while s.len() > max || s.ends_with(' ') {
        s.pop();
    }
    s
}

/// A small deterministic generator (xorshift64*), so every run writes the same text.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, as the store writes timestamps.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86400) as i64);
    let s = secs % 86400;
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56.789Z");
    }

    #[test]
    fn message_sizes() {
        let mut rng = Rng(1);
        for _ in 0..1000 {
            let w = words(&mut rng, 100, 300);
            assert!((100..=300).contains(&w.len()), "{}", w.len());
        }
    }
}

/// See [`Store::snapshot`].
#[derive(Debug, Clone)]
pub struct Snapshot {
    log: u64,
    history: u64,
    summary: Vec<u8>,
}
