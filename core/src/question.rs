//! The lock question asked through a multiplexer plugin (WezTerm): a query that finds its
//! conversation locked creates a [`Question`] here, signals the plugin (the pane's user var
//! `panechat_question`), and waits for `panechat lock-answer TOKEN ANSWER`.
//!
//! Each question is a record `questions/<token>.json` in the private state directory (0700, so
//! no other user can read a token or answer); the token is 128 random bits, in hex. The answer is
//! a file `questions/<token>.answer` created exclusively (the first answer wins). The waiting
//! side removes both files when it is done, answered or not.

use std::fs;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::adapters::LockAnswer;
use crate::error::{Error, IoContext, Result};
use crate::paths::{ensure_dir, Paths};

/// Length of a token: 128 bits in lower-case hex.
pub const TOKEN_LEN: usize = 32;

/// What the plugin is told about a question (the JSON value of the user var
/// `panechat_question`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Question {
    /// The secret that answers it.
    pub token: String,
    /// The locked conversation's id.
    pub conversation: String,
    /// Its title (or id while untitled), free of control characters.
    pub title: String,
    /// Who holds the lock, as shown to a person (`pane %3, pid 4242, 12s`).
    pub holder: String,
    /// The pane the question is asked in (`$WEZTERM_PANE`), when known.
    pub pane: Option<String>,
    /// The asking process (pid, start time in clock ticks since boot): a question whose asker
    /// died without taking it back (SIGKILL) answers nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asker: Option<(u32, u64)>,
}

/// A question waiting for its answer; dropping it withdraws the question.
#[derive(Debug)]
pub struct Pending {
    question: Question,
    dir: PathBuf,
}

fn dir(paths: &Paths) -> PathBuf {
    paths.state.join("questions")
}

/// Whether `token` has the shape of a token (so it can name a file safely).
pub fn is_token(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn new_token() -> Result<String> {
    let mut buf = [0u8; TOKEN_LEN / 2];
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n != buf.len() as isize {
        let path = std::path::Path::new("/dev/urandom");
        fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut buf))
            .ctx(path)?;
    }
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

impl Question {
    /// A question about `conversation` with a fresh token.
    pub fn new(conversation: &str, title: &str, holder: &str, pane: Option<&str>) -> Result<Self> {
        Ok(Question {
            token: new_token()?,
            conversation: conversation.to_string(),
            title: crate::title::sanitize_title(title),
            holder: crate::title::sanitize_title(holder),
            pane: pane.map(crate::title::sanitize_title),
            asker: {
                let pid = std::process::id();
                Some((pid, crate::session::process_start_time(pid).unwrap_or(0)))
            },
        })
    }

    /// The JSON the plugin receives.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a question serialises")
    }

    /// Records the question so that `answer` can find it.
    pub fn ask(self, paths: &Paths) -> Result<Pending> {
        let dir = dir(paths);
        ensure_dir(&dir)?;
        let path = dir.join(format!("{}.json", self.token));
        let mut f =
            crate::files::open_private_file(&path, crate::files::Access::CreateNew).ctx(&path)?;
        f.write_all(self.to_json().as_bytes()).ctx(&path)?;
        Ok(Pending {
            question: self,
            dir,
        })
    }
}

impl Pending {
    /// The question.
    pub fn question(&self) -> &Question {
        &self.question
    }

    /// Waits up to `timeout` for the answer (checking every 50 ms; a person is answering).
    /// `None` when nobody answered in time.
    pub fn wait(
        &self,
        timeout: Duration,
        mut keep_going: impl FnMut() -> bool,
    ) -> Option<LockAnswer> {
        let path = self.dir.join(format!("{}.answer", self.question.token));
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(text) = crate::files::read_to_string(&path) {
                if let Some(a) = parse_answer(text.trim()) {
                    return Some(a);
                }
            }
            if Instant::now() >= deadline || !keep_going() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Pending {
    /// Whether a popup showed the question ([`mark_shown`]).
    pub fn shown(&self) -> bool {
        self.dir
            .join(format!("{}.shown", self.question.token))
            .exists()
    }
}

/// Notes that the question with `token` is on screen (a popup that runs `lock-prompt --token`):
/// when its pane then goes without an answer, it was closed, not cut off before it showed.
pub fn mark_shown(paths: &Paths, token: &str) {
    if is_waiting(paths, token) {
        let path = dir(paths).join(format!("{token}.shown"));
        let _ = crate::files::open_private_file(&path, crate::files::Access::CreateNew);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let _ = fs::remove_file(self.dir.join(format!("{}.shown", self.question.token)));
        let _ = fs::remove_file(self.dir.join(format!("{}.json", self.question.token)));
        let _ = fs::remove_file(self.dir.join(format!("{}.answer", self.question.token)));
    }
}

/// Whether the question with `token` still waits for its answer (its query has not taken it
/// back: answered elsewhere, the lock freed, or the query ended).
pub fn is_waiting(paths: &Paths, token: &str) -> bool {
    is_token(token)
        && dir(paths).join(format!("{token}.json")).exists()
        && !dir(paths).join(format!("{token}.answer")).exists()
}

/// `wait`, `new`, `fork` or `cancel`.
pub fn parse_answer(s: &str) -> Option<LockAnswer> {
    match s {
        "wait" => Some(LockAnswer::Wait),
        "new" => Some(LockAnswer::New),
        "fork" => Some(LockAnswer::Fork),
        "cancel" => Some(LockAnswer::Cancel),
        _ => None,
    }
}

/// The word for an answer (the inverse of [`parse_answer`]).
pub fn answer_word(a: LockAnswer) -> &'static str {
    match a {
        LockAnswer::Wait => "wait",
        LockAnswer::New => "new",
        LockAnswer::Fork => "fork",
        LockAnswer::Cancel => "cancel",
    }
}

/// Answers the question with `token`. Errors when the token is malformed, when no such
/// question is waiting (answered, timed out, never asked, or its query died), or when it was
/// already answered.
pub fn answer(paths: &Paths, token: &str, answer: LockAnswer) -> Result<Question> {
    if !is_token(token) {
        return Err(Error::BadArgument {
            message: format!(
                "`{token}` is not a question token (expected {TOKEN_LEN} hex digits, from the user var panechat_question)"
            ),
        });
    }
    let dir = dir(paths);
    let qpath = dir.join(format!("{token}.json"));
    let gone = || Error::NoQuestion;
    let text = match crate::files::read_to_string(&qpath) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(gone()),
        Err(e) => return Err(Error::io(&qpath, e)),
    };
    let q: Question = serde_json::from_str(&text).map_err(|source| Error::DamagedQuestion {
        path: qpath.clone(),
        source,
    })?;
    let apath = dir.join(format!("{token}.answer"));
    if let Some((pid, start)) = q.asker {
        if !crate::session::process_alive(pid, start) {
            // Killed before it could take the question back: nobody reads the answer.
            let _ = fs::remove_file(&qpath);
            let _ = fs::remove_file(&apath);
            return Err(gone());
        }
    }
    let mut f = match crate::files::open_private_file(&apath, crate::files::Access::CreateNew) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::AlreadyAnswered)
        }
        Err(e) => return Err(Error::io(&apath, e)),
    };
    f.write_all(answer_word(answer).as_bytes()).ctx(&apath)?;
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> (Paths, PathBuf) {
        let root = std::env::temp_dir().join(format!(
            "panechat-question-{}-{}",
            std::process::id(),
            crate::time::now_ms()
        ));
        let p = Paths {
            data: root.join("data"),
            state: root.join("state"),
            config_file: root.join("config.toml"),
        };
        (p, root)
    }

    #[test]
    fn an_answer_reaches_the_waiting_side_once() {
        let (p, root) = paths();
        let q = Question::new("01abc", "t\x1b]0;x\x07", "pane %3", Some("4")).unwrap();
        assert!(is_token(&q.token));
        assert!(!q.title.contains('\x1b'));
        let token = q.token.clone();
        let pending = q.ask(&p).unwrap();
        let mode = fs::metadata(dir(&p)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o700);
        assert_eq!(
            answer(&p, &token, LockAnswer::Fork).unwrap().conversation,
            "01abc"
        );
        assert!(answer(&p, &token, LockAnswer::New).is_err());
        assert_eq!(
            pending.wait(Duration::from_secs(1), || true),
            Some(LockAnswer::Fork)
        );
        drop(pending);
        assert!(matches!(
            answer(&p, &token, LockAnswer::Wait),
            Err(Error::NoQuestion)
        ));
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn a_popup_sees_whether_its_question_still_waits_and_marks_it_shown() {
        let (p, root) = paths();
        let q = Question::new("01abc", "t", "pane %3", None).unwrap();
        let token = q.token.clone();
        let pending = q.ask(&p).unwrap();
        assert!(is_waiting(&p, &token) && !pending.shown());
        mark_shown(&p, &token);
        assert!(pending.shown());
        answer(&p, &token, LockAnswer::New).unwrap();
        assert!(!is_waiting(&p, &token));
        drop(pending);
        // Taken back: nothing waits, and a late popup marks nothing.
        assert!(!is_waiting(&p, &token));
        mark_shown(&p, &token);
        assert!(!dir(&p).join(format!("{token}.shown")).exists());
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn a_question_whose_query_died_answers_nothing() {
        let (p, root) = paths();
        let mut q = Question::new("01abc", "t", "pane %3", None).unwrap();
        assert_eq!(q.asker.unwrap().0, std::process::id());
        // A process that has exited (and been reaped).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        q.asker = Some((dead, 0));
        let token = q.token.clone();
        let pending = q.ask(&p).unwrap();
        let err = answer(&p, &token, LockAnswer::New).unwrap_err().to_string();
        assert!(err.contains("no query is waiting"), "{err}");
        assert_eq!(pending.wait(Duration::ZERO, || false), None);
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn tokens_are_checked_and_unanswered_questions_time_out() {
        let (p, root) = paths();
        assert!(matches!(
            answer(&p, "../../etc/passwd", LockAnswer::Wait),
            Err(Error::BadArgument { .. })
        ));
        let a = Question::new("x", "t", "h", None).unwrap();
        let b = Question::new("x", "t", "h", None).unwrap();
        assert_ne!(a.token, b.token);
        let pending = a.ask(&p).unwrap();
        let t = Instant::now();
        assert_eq!(pending.wait(Duration::from_millis(200), || true), None);
        assert!(t.elapsed() >= Duration::from_millis(200));
        let _ = fs::remove_dir_all(root);
    }
}
