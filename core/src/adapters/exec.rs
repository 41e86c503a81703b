//! Running the multiplexers' programs: every `tmux`, `zellij` and `wezterm` that panechat runs
//! and waits for goes through [`Exec`] (an argv, never a shell), which tests replace with a
//! recorder that keeps every argv and answers from a script.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// What a program printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit status (`None` when killed by a signal).
    pub status: Option<i32>,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

impl Output {
    /// A run that succeeded and printed `stdout`.
    pub fn printed(stdout: &str) -> Output {
        Output {
            status: Some(0),
            stdout: stdout.as_bytes().to_vec(),
            stderr: Vec::new(),
        }
    }

    /// A run that failed with `status`, saying `stderr`.
    pub fn failed(status: i32, stderr: &str) -> Output {
        Output {
            status: Some(status),
            stdout: Vec::new(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    /// Whether it ended with status 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// Its standard output as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs a multiplexer's program: `argv[0]` with the arguments `argv[1..]`, stdin closed.
pub trait Exec {
    /// Runs `argv` with the extra environment `env` to its end.
    fn run(&self, argv: &[String], env: &[(String, String)]) -> std::io::Result<Output>;

    /// Runs `argv` for at most `deadline` (then it is killed: `Ok(None)`).
    fn run_within(&self, argv: &[String], _deadline: Duration) -> std::io::Result<Option<Output>> {
        // (this default runs it to its end: for recorders, whose programs end by themselves)
        self.run(argv, &[]).map(Some)
    }

    /// Starts `argv` (a command that keeps printing, such as `zellij subscribe`), returns the
    /// first line it prints within `wait` and stops it. `None` when it printed no line in time
    /// or ended first.
    fn first_line(&self, argv: &[String], _wait: Duration) -> std::io::Result<Option<String>> {
        let out = self.run(argv, &[])?;
        Ok(out.text().lines().next().map(str::to_string))
    }

    /// Starts `argv` without waiting for it, but after the previous one started this way has
    /// ended (see [`RealExec`]); what it prints is dropped.
    fn spawn(&self, argv: &[String]) {
        let _ = self.run(argv, &[]);
    }
}

/// The real programs.
///
/// The commands it starts without waiting ([`Exec::spawn`]: pane states being published) reach
/// the multiplexer in the order they were made: each waits (at most [`SPAWN_ORDER_WAIT`]) for
/// the previous one to end before it starts, so a later state ("streaming") is never
/// overwritten by an earlier one ("waiting") whose program happened to run second. The last
/// one is not waited for: each runs in a process group of its own, so that it still delivers
/// its state when this process's group is killed as soon as this process has exited (a
/// closing popup, a harness that ends a job).
#[derive(Debug, Default, Clone, Copy)]
pub struct RealExec;

/// The program this process last started without waiting.
static LAST_SPAWNED: std::sync::Mutex<Option<std::process::Child>> = std::sync::Mutex::new(None);

/// How long [`RealExec::spawn`] waits for the previous one to end.
pub const SPAWN_ORDER_WAIT: Duration = Duration::from_secs(1);

/// Where each program named without a `/` was found along `PATH`, found once per process:
/// every later run starts it by its path (one `execve`, not one per `PATH` entry).
static RESOLVED: std::sync::Mutex<Vec<(String, std::path::PathBuf)>> =
    std::sync::Mutex::new(Vec::new());

/// The file `program` names: itself when it has a `/`, else the first executable file of that
/// name along `PATH` (looked up once per process), else `program` as given (then starting it
/// fails as it would have).
pub fn resolve(program: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    if program.contains('/') || program.is_empty() {
        return program.into();
    }
    let mut known = RESOLVED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = known.iter().find(|(name, _)| name == program) {
        return p.clone();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(program))
        .find(|f| {
            std::fs::metadata(f).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        });
    match found {
        Some(f) => {
            known.push((program.to_string(), f.clone()));
            f
        }
        None => program.into(),
    }
}

/// The command for `argv` (stdin closed).
fn command(argv: &[String]) -> std::io::Result<Command> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("no program to run"))?;
    let mut cmd = Command::new(resolve(program));
    // (named as asked in its argv: `ps` and tracers see `tmux`, not its path)
    std::os::unix::process::CommandExt::arg0(&mut cmd, program);
    cmd.args(args).stdin(Stdio::null());
    Ok(cmd)
}

impl Exec for RealExec {
    fn run(&self, argv: &[String], env: &[(String, String)]) -> std::io::Result<Output> {
        let out = command(argv)?
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()?;
        Ok(Output {
            status: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    fn run_within(&self, argv: &[String], deadline: Duration) -> std::io::Result<Option<Output>> {
        let mut child = command(argv)?
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        // (read while it runs: a listing can be longer than a pipe holds)
        let drain = |r: Option<Box<dyn Read + Send>>| {
            r.map(|mut r| {
                std::thread::spawn(move || {
                    let mut out = Vec::new();
                    let _ = r.read_to_end(&mut out);
                    out
                })
            })
        };
        let so = drain(child.stdout.take().map(|s| Box::new(s) as _));
        let se = drain(child.stderr.take().map(|s| Box::new(s) as _));
        let start = Instant::now();
        loop {
            match child.try_wait()? {
                Some(status) => {
                    let join = |t: Option<std::thread::JoinHandle<Vec<u8>>>| {
                        t.and_then(|t| t.join().ok()).unwrap_or_default()
                    };
                    return Ok(Some(Output {
                        status: status.code(),
                        stdout: join(so),
                        stderr: join(se),
                    }));
                }
                None if start.elapsed() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Ok(None);
                }
            }
        }
    }

    fn first_line(&self, argv: &[String], wait: Duration) -> std::io::Result<Option<String>> {
        let mut child = command(argv)?
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().expect("a piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let got = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
                .ok()
                .filter(|n| *n > 0 && line.ends_with('\n'))
                .map(|_| line.trim_end_matches('\n').to_string());
            let _ = tx.send(got);
        });
        let line = rx.recv_timeout(wait).ok().flatten();
        let _ = child.kill();
        let _ = child.wait();
        Ok(line)
    }

    fn spawn(&self, argv: &[String]) {
        let mut last = LAST_SPAWNED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut prev) = last.take() {
            let deadline = Instant::now() + SPAWN_ORDER_WAIT;
            loop {
                match prev.try_wait() {
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Ok(None) => {
                        // A program that does not end: reap it in the background.
                        std::thread::spawn(move || prev.wait());
                        break;
                    }
                    _ => break,
                }
            }
        }
        *last = command(argv).ok().and_then(|mut c| {
            use std::os::unix::process::CommandExt;
            c.stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .ok()
        });
    }
}

/// Remembers what another [`Exec`] answered, so each multiplexer instance is asked once.
pub struct Cached<'a> {
    inner: &'a dyn Exec,
    answers: RefCell<HashMap<String, Output>>,
}

impl<'a> Cached<'a> {
    /// A cache in front of `inner`.
    pub fn new(inner: &'a dyn Exec) -> Self {
        Cached {
            inner,
            answers: RefCell::default(),
        }
    }
}

impl Exec for Cached<'_> {
    fn run(&self, argv: &[String], env: &[(String, String)]) -> std::io::Result<Output> {
        let key = format!("{env:?} {argv:?}");
        if let Some(a) = self.answers.borrow().get(&key) {
            return Ok(a.clone());
        }
        let a = self.inner.run(argv, env)?;
        self.answers.borrow_mut().insert(key, a.clone());
        Ok(a)
    }
}

/// `argv` as owned strings.
pub fn argv<S: AsRef<str>>(parts: &[S]) -> Vec<String> {
    parts.iter().map(|s| s.as_ref().to_string()).collect()
}

/// Runs `argv` (to `what`, for the error) and returns what it printed; an error names the
/// command and what it said when it could not run or failed.
pub fn checked(exec: &dyn Exec, argv: &[String], what: &str) -> Result<String> {
    let out = exec
        .run(argv, &[])
        .map_err(|e| cannot_run(argv, what, &e))?;
    if !out.success() {
        return Err(failed(argv, &out));
    }
    Ok(out.text())
}

/// The error of `argv` (run to `what`) that could not be started.
pub fn cannot_run(argv: &[String], what: &str, e: &std::io::Error) -> Error {
    let program = argv.first().map_or("", String::as_str);
    Error::Spawn {
        message: format!("cannot run `{program}` to {what}: {e}; is {program} on PATH?"),
        source: Some(std::io::Error::new(e.kind(), e.to_string())),
    }
}

/// The error of `argv` that ended as `out` says.
pub fn failed(argv: &[String], out: &Output) -> Error {
    let err = String::from_utf8_lossy(&out.stderr);
    let err = crate::title::sanitize_title(err.trim());
    Error::ToolFailed {
        message: format!(
            "`{}` failed ({}){}",
            argv.join(" "),
            out.status
                .map_or("killed by a signal".to_string(), |c| format!(
                    "exit status {c}"
                )),
            if err.is_empty() {
                String::new()
            } else {
                format!(": {err}")
            }
        ),
        source: None,
    }
}

/// Records every argv (preceded by its extra environment as `NAME=VALUE` words) and answers
/// from a script of outputs, in order (then: a success that printed nothing).
#[cfg(test)]
#[derive(Default)]
pub struct Recorder {
    /// Every argv run, in order.
    pub calls: RefCell<Vec<Vec<String>>>,
    answers: RefCell<std::collections::VecDeque<Output>>,
}

#[cfg(test)]
impl Recorder {
    /// A recorder whose runs succeed printing `answers` in turn.
    pub fn new(answers: &[&str]) -> Recorder {
        Recorder::answering(answers.iter().map(|a| Output::printed(a)).collect())
    }

    /// A recorder whose runs end as `answers` in turn.
    pub fn answering(answers: Vec<Output>) -> Recorder {
        Recorder {
            calls: RefCell::default(),
            answers: RefCell::new(answers.into()),
        }
    }

    /// Every argv run, each joined by spaces.
    pub fn lines(&self) -> Vec<String> {
        self.calls.borrow().iter().map(|c| c.join(" ")).collect()
    }
}

#[cfg(test)]
impl Exec for Recorder {
    fn run(&self, argv: &[String], env: &[(String, String)]) -> std::io::Result<Output> {
        let mut call: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        call.extend(argv.iter().cloned());
        self.calls.borrow_mut().push(call);
        Ok(self
            .answers
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| Output::printed("")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_runs_report_status_output_and_deadline() {
        let out = RealExec
            .run(
                &argv(&["sh", "-c", "echo \"$X\"; echo e >&2; exit 3"]),
                &[("X".into(), "v".into())],
            )
            .unwrap();
        assert_eq!(
            (out.status, out.text(), out.stderr),
            (Some(3), "v\n".into(), b"e\n".to_vec())
        );
        let slow = RealExec
            .run_within(&argv(&["sleep", "5"]), Duration::from_millis(50))
            .unwrap();
        assert_eq!(slow, None);
        let e = checked(&RealExec, &argv(&["sh", "-c", "echo no >&2; exit 1"]), "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`sh -c echo no >&2; exit 1` failed (exit status 1): no"
        );
    }

    #[test]
    fn programs_are_found_along_path_once() {
        let sh = resolve("sh");
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{sh:?}");
        assert_eq!(resolve("sh"), sh);
        assert_eq!(resolve("/bin/true"), std::path::Path::new("/bin/true"));
        let missing = "panechat-no-such-program";
        assert_eq!(resolve(missing), std::path::Path::new(missing));
        assert!(RealExec.run(&argv(&[missing]), &[]).is_err());
    }

    #[test]
    fn a_cache_asks_once() {
        let r = Recorder::new(&["a", "b"]);
        let c = Cached::new(&r);
        assert_eq!(c.run(&argv(&["x"]), &[]).unwrap().text(), "a");
        assert_eq!(c.run(&argv(&["x"]), &[]).unwrap().text(), "a");
        assert_eq!(c.run(&argv(&["y"]), &[]).unwrap().text(), "b");
        assert_eq!(r.lines(), ["x", "y"]);
    }
}
