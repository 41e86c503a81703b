//! The `command` provider: runs a local program and streams its standard output as the reply.
//!
//! `provider.command` is an argv: the program first, then its arguments. It is run directly,
//! never through a shell; a program name without `/` is looked up in `PATH`.
//!
//! **Input.** The program's standard input receives the transcript as one JSON object followed by
//! a newline, then end-of-file:
//!
//! ```json
//! {"model":"the-model","system":"the system prompt or null","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"},{"role":"user","content":"the new message"}]}
//! ```
//!
//! `model` is a string, `system` a string or `null`, and `messages` the turns oldest first, each
//! with `role` (`"user"`, `"assistant"` or `"system"`) and `content`, ending with the new user
//! message.
//!
//! A message with attachments (a pane, piped input, files: `panechat q --pane`, `-f`) has them
//! framed in its `content` before the question (`--- stdin ---` … `--- end of stdin ---`), so a
//! program that knows nothing of attachments still sees them, and lists them beside it:
//! `"attachments": [{"source": "pane tmux %3, 120 lines", "bytes": 5123}]`. Earlier messages
//! carry theirs in `content` only.
//!
//! **Output.** Everything the program writes to standard output is the reply, streamed as it
//! arrives (UTF-8; a character split across writes is held back until complete, invalid bytes
//! become `U+FFFD`). Standard error is captured. Exit status 0 means the reply is complete
//! (`Done`); any other status is a `Command` error with the status and the last lines of standard
//! error.
//!
//! **Process.** The program runs in its own process group, so a Ctrl-C typed in the terminal
//! reaches panechat and not the program directly (the caller decides what to do). Its pid is
//! registered with the [`CancelToken`]: cancelling sends SIGTERM to the group, and SIGKILL follows
//! if it has not exited two seconds later.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::http::clean;
use super::types::*;

/// How much of standard error is kept for the error message.
pub(super) const STDERR_KEEP: usize = 16 * 1024;

/// How many lines of standard error an error message shows.
const STDERR_LINES: usize = 8;

/// How long a cancelled program gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// The `command` provider.
pub struct CommandProvider {
    cfg: ProviderConfig,
}

impl CommandProvider {
    /// Builds it.
    pub fn new(cfg: ProviderConfig) -> Self {
        CommandProvider { cfg }
    }
}

/// The JSON document written to the program's standard input (see the module docs), with its
/// trailing newline.
pub fn transcript_json(req: &ChatRequest) -> String {
    let mut s = String::from_utf8(
        req.body_shaped(
            &transcript_head(req),
            false,
            false,
            AttachmentShape::JoinedWithSources,
        )
        .to_vec()
        .expect("in-memory bodies read"),
    )
    .expect("JSON is UTF-8");
    s.push('\n');
    s
}

fn transcript_head(req: &ChatRequest) -> serde_json::Value {
    json!({
        "model": req.model,
        "system": req.system,
    })
}

fn command_error(message: String) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Command, message)
}

impl Provider for CommandProvider {
    fn stream(
        &self,
        req: &ChatRequest,
        cancel: &CancelToken,
        emit: &mut dyn FnMut(StreamEvent) -> bool,
    ) -> Result<(), ProviderError> {
        let Some((program, args)) = self.cfg.command.split_first() else {
            return Err(command_error(
                "provider.command is empty: set it to the program and its arguments, \
                 e.g. command = [\"llm\", \"-m\", \"gpt-4o-mini\"]"
                    .to_owned(),
            ));
        };
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| spawn_error(program, e))?;
        let pid = child.id() as i32;
        cancel.set_child(pid);
        if cancel.is_cancelled() {
            // Cancelled before the pid was registered.
            kill_group(pid, libc::SIGTERM);
        }

        // Feed stdin on its own thread: a program may write before it reads, and a large
        // transcript must not deadlock against a full stdout pipe.
        if let Some(mut stdin) = child.stdin.take() {
            // Streamed, so a long history goes from its file to the pipe without a copy.
            let mut input = req
                .body_shaped(
                    &transcript_head(req),
                    false,
                    false,
                    AttachmentShape::JoinedWithSources,
                )
                .into_reader();
            let _ = std::thread::Builder::new()
                .name("command-stdin".into())
                .spawn(move || {
                    // A program that exits without reading its input is fine (EPIPE).
                    if std::io::copy(&mut input, &mut stdin).is_ok() {
                        let _ = stdin.write_all(b"\n");
                    }
                });
        }
        let err_rx = keep_stderr(child.stderr.take());

        let mut stopped = false; // the receiver went away
        let mut read_error = None;
        if let Some(mut stdout) = child.stdout.take() {
            let mut utf8 = Utf8Stream::default();
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                if cancel.is_cancelled() {
                    break;
                }
                let n = match stdout.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        read_error = Some(e);
                        break;
                    }
                };
                let text = utf8.push(&buf[..n]);
                if !text.is_empty() && !emit(StreamEvent::Delta(text)) {
                    stopped = true;
                    break;
                }
            }
            let rest = utf8.finish();
            if !stopped && !cancel.is_cancelled() && !rest.is_empty() {
                stopped = !emit(StreamEvent::Delta(rest));
            }
        }
        if stopped {
            kill_group(pid, libc::SIGTERM);
        }

        wait_exit(pid, cancel, stopped, None);
        // The process has exited but is not reaped yet: its pid cannot be reused until
        // `wait` below, so clearing it first means `cancel` never signals a stranger.
        cancel.set_child(0);
        let status = child.wait();
        if stopped || cancel.is_cancelled() {
            return Ok(());
        }
        let status = status.map_err(|e| {
            command_error(format!("`{program}`: could not get its exit status: {e}"))
        })?;
        if let Some(e) = read_error {
            return Err(ProviderError::new(
                ProviderErrorKind::Io,
                format!("reading the output of `{program}`: {e}"),
            ));
        }
        if status.success() {
            emit(StreamEvent::Done {
                finish_reason: None,
            });
            return Ok(());
        }
        let how = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(sig)) => format!("was killed by signal {sig}"),
            (None, None) => format!("failed ({status})"),
        };
        // Grandchildren may still hold stderr open: don't wait for them long.
        let stderr = err_rx
            .recv_timeout(Duration::from_millis(500))
            .unwrap_or_default();
        let tail = stderr_tail(&stderr);
        let message = if tail.is_empty() {
            format!("the command provider `{program}` {how} (no error output)")
        } else {
            format!("the command provider `{program}` {how}:\n{tail}")
        };
        Err(command_error(message))
    }
}

/// Reads a child's standard error on a thread of its own, keeping its last
/// [`STDERR_KEEP`] bytes, sent once it closes.
pub(super) fn keep_stderr(stderr: Option<std::process::ChildStderr>) -> mpsc::Receiver<Vec<u8>> {
    let (err_tx, err_rx) = mpsc::channel();
    if let Some(mut stderr) = stderr {
        let _ = std::thread::Builder::new()
            .name("command-stderr".into())
            .spawn(move || {
                let mut kept = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    match stderr.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            kept.extend_from_slice(&buf[..n]);
                            if kept.len() > 2 * STDERR_KEEP {
                                kept.drain(..kept.len() - STDERR_KEEP);
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                let _ = err_tx.send(kept);
            });
    }
    err_rx
}

/// A clear message for a program that could not start.
fn spawn_error(program: &str, e: std::io::Error) -> ProviderError {
    let shown = clean(program, 200);
    let message = match e.kind() {
        std::io::ErrorKind::NotFound if program.contains('/') => {
            format!("the command provider's program `{shown}` does not exist; fix provider.command")
        }
        std::io::ErrorKind::NotFound => format!(
            "the command provider's program `{shown}` was not found in PATH; install it, or set \
             provider.command to its full path"
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "the command provider's program `{shown}` cannot be run (permission denied); make it \
             executable or fix provider.command"
        ),
        _ => format!("could not start the command provider's program `{shown}`: {e}"),
    };
    command_error(message)
}

/// Sends `sig` to the process group led by `pid` (or the process alone if it leads none).
pub(super) fn kill_group(pid: i32, sig: libc::c_int) {
    if pid <= 0 {
        return;
    }
    // SAFETY: kill(2) on a child this thread has not reaped yet.
    unsafe {
        if libc::kill(-pid, sig) != 0 {
            libc::kill(pid, sig);
        }
    }
}

/// Waits until `pid` has exited, without reaping it (so the pid stays ours). When the run is
/// cancelled or stopped, escalates to SIGKILL after [`KILL_GRACE`] (to every process of the
/// coding agent `pid` leads, marked `agent`).
pub(super) fn wait_exit(pid: i32, cancel: &CancelToken, stopped: bool, agent: Option<&str>) {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("command-wait".into())
        .spawn(move || {
            loop {
                // SAFETY: waitid(2) with WNOWAIT only observes the child's state; `info` is a
                // plain C struct it fills in.
                let rc = unsafe {
                    let mut info: libc::siginfo_t = std::mem::zeroed();
                    libc::waitid(
                        libc::P_PID,
                        pid as libc::id_t,
                        &mut info,
                        libc::WEXITED | libc::WNOWAIT,
                    )
                };
                if rc == 0
                    || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                {
                    break;
                }
            }
            let _ = tx.send(());
        });
    if spawned.is_err() {
        return; // `Child::wait` will block instead.
    }
    let mut term_sent: Option<Instant> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if stopped || cancel.is_cancelled() {
            match term_sent {
                None => term_sent = Some(Instant::now()),
                Some(t) if t.elapsed() >= KILL_GRACE => {
                    kill_group(pid, libc::SIGKILL);
                    if let Some(mark) = agent {
                        signal_agent(pid, mark, libc::SIGKILL);
                    }
                }
                Some(_) => {}
            }
        }
    }
}

/// The last lines of standard error, cleaned for printing.
pub(super) fn stderr_tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<String> = text
        .lines()
        .map(|l| clean(l, 300))
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines.len().saturating_sub(STDERR_LINES);
    lines[start..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Decodes UTF-8 that arrives in arbitrary pieces: a character split across pieces is held back
/// until it is complete; invalid bytes become `U+FFFD`.
#[derive(Debug, Default)]
struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// Decodes as much as is complete.
    fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        let mut input = &self.pending[..];
        loop {
            match std::str::from_utf8(input) {
                Ok(s) => {
                    out.push_str(s);
                    input = &[];
                    break;
                }
                Err(e) => {
                    let (valid, rest) = input.split_at(e.valid_up_to());
                    out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        Some(n) => {
                            out.push('\u{FFFD}');
                            input = &rest[n..];
                        }
                        None => {
                            input = rest; // an incomplete character at the end: keep it
                            break;
                        }
                    }
                }
            }
        }
        self.pending = input.to_vec();
        out
    }

    /// The end of the input: an incomplete character left over becomes `U+FFFD`.
    fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        String::from_utf8_lossy(&rest).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_split_anywhere() {
        let text = "héllo ✓ 🎉 done";
        let bytes = text.as_bytes();
        for size in 1..=5 {
            let mut d = Utf8Stream::default();
            let mut out = String::new();
            for piece in bytes.chunks(size) {
                let s = d.push(piece);
                // Never a replacement character for a valid, merely split, sequence.
                assert!(!s.contains('\u{FFFD}'), "size {size}: {s:?}");
                out.push_str(&s);
            }
            out.push_str(&d.finish());
            assert_eq!(out, text, "size {size}");
        }
    }

    #[test]
    fn utf8_invalid_and_truncated() {
        let mut d = Utf8Stream::default();
        assert_eq!(d.push(b"a\xFFb"), "a\u{FFFD}b");
        assert_eq!(d.push(b"\xE2\x9C"), "");
        assert_eq!(d.finish(), "\u{FFFD}");
        let mut d = Utf8Stream::default();
        assert_eq!(d.push(b"\xE2\x9Cx"), "\u{FFFD}x");
    }

    #[test]
    fn transcript_format() {
        let req = ChatRequest {
            agent: None,
            history: None,
            model: "m".into(),
            system: None,
            messages: vec![Message {
                role: Role::User,
                content: "hi \"there\"\n".into(),
                attachments: Vec::new(),
            }],
            stream: true,
        };
        let s = transcript_json(&req);
        assert!(s.ends_with("}\n"));
        assert_eq!(s.matches('\n').count(), 1);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(
            v,
            json!({"model":"m","system":null,"messages":[{"role":"user","content":"hi \"there\"\n"}]})
        );
    }

    #[test]
    fn tail_keeps_last_lines() {
        let s: String = (0..20).map(|i| format!("line {i}\n")).collect();
        let t = stderr_tail(s.as_bytes());
        assert!(t.starts_with("  line 12"));
        assert!(t.ends_with("line 19"));
        assert_eq!(stderr_tail(b"\n\n"), "");
        assert_eq!(stderr_tail(b"bad \x1b[31mred\n"), "  bad [31mred");
    }

    fn cfg(argv: &[&str]) -> ProviderConfig {
        ProviderConfig {
            agent: Default::default(),
            kind: ProviderKind::Command,
            base_url: String::new(),
            model: "m".into(),
            api_key: None,
            api_key_env: String::new(),
            command: argv.iter().map(|s| s.to_string()).collect(),
            connect_timeout: Duration::from_secs(1),
            max_tokens: 0,
        }
    }

    fn run(argv: &[&str]) -> (Vec<StreamEvent>, Result<(), ProviderError>) {
        let req = ChatRequest {
            agent: None,
            history: None,
            model: "m".into(),
            system: None,
            messages: vec![Message {
                role: Role::User,
                content: "hello".into(),
                attachments: Vec::new(),
            }],
            stream: true,
        };
        let mut events = Vec::new();
        let res = CommandProvider::new(cfg(argv)).stream(&req, &CancelToken::default(), &mut |e| {
            events.push(e);
            true
        });
        (events, res)
    }

    #[test]
    fn cat_echoes_the_transcript() {
        let (events, res) = run(&["cat"]);
        res.unwrap();
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Delta(d) => Some(d.as_str()),
                _ => None,
            })
            .collect();
        assert!(text.contains("\"content\":\"hello\""), "{text}");
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Done {
                finish_reason: None
            })
        );
    }

    #[test]
    fn failures() {
        let (_, res) = run(&[]);
        assert_eq!(res.unwrap_err().kind, ProviderErrorKind::Command);
        let (_, res) = run(&["panechat-no-such-program-xyz"]);
        let err = res.unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Command);
        assert!(err.message.contains("panechat-no-such-program-xyz"));
        assert!(err.message.contains("PATH"));
        let (_, res) = run(&["false"]);
        let err = res.unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Command);
        assert!(err.message.contains("status 1"), "{}", err.message);
    }
}
