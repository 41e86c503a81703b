//! Running child processes: whole-process wall time, and peak memory.

use std::fs::File;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A finished child.
#[derive(Debug)]
pub struct Timed {
    /// Just before it was spawned.
    pub spawned: Instant,
    /// From spawn until it had been reaped.
    pub wall: Duration,
    /// Its output (standard output is only captured when the command asked for it).
    pub output: Output,
}

/// Runs `cmd` to completion and times it from spawn to exit. Standard error is captured;
/// an unsuccessful exit is an error showing it.
pub fn run_timed(cmd: &mut Command) -> Result<Timed, String> {
    cmd.stderr(Stdio::piped());
    let spawned = Instant::now();
    let child = cmd.spawn().map_err(|e| format!("{}: {e}", show(cmd)))?;
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{}: {e}", show(cmd)))?;
    let wall = spawned.elapsed();
    check(cmd, &output)?;
    Ok(Timed {
        spawned,
        wall,
        output,
    })
}

/// An error unless `output` is a successful exit.
pub fn check(cmd: &Command, output: &Output) -> Result<(), String> {
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{} exited with {}:\n{}",
        show(cmd),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim_end()
    ))
}

/// The command line, for messages.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// How the peak was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RssSource {
    /// `VmHWM` of the child's own address space, read at its exit under ptrace: exact.
    Ptrace,
    /// `ru_maxrss` from `wait4`: on Linux it can include the part of the parent's memory the
    /// forked child started with, so it is an upper bound.
    Rusage,
}

/// Runs the command `make` builds to completion and returns its peak resident set size in KiB.
///
/// The child is traced (`PTRACE_TRACEME`, then `PTRACE_O_TRACEEXIT`) so that its `VmHWM` can be
/// read at the moment it exits, before its memory is released. `ru_maxrss` is only the fallback
/// (where ptrace is refused), because Linux seeds a spawned child's figure with memory of its
/// parent: a benchmark process holding a few megabytes would inflate every reading. Standard
/// error goes to `stderr_file` so a failure can be shown.
pub fn peak_rss_kib(
    make: &dyn Fn() -> Command,
    stderr_file: &Path,
) -> Result<(u64, RssSource), String> {
    match traced_run(make(), stderr_file, true) {
        Err(Spawn::Refused) => match traced_run(make(), stderr_file, false) {
            Err(Spawn::Refused) => unreachable!("only a traced spawn is refused"),
            Err(Spawn::Failed(e)) => Err(e),
            Ok(r) => Ok(r),
        },
        Err(Spawn::Failed(e)) => Err(e),
        Ok(r) => Ok(r),
    }
}

enum Spawn {
    /// ptrace(PTRACE_TRACEME) was refused.
    Refused,
    /// Anything else.
    Failed(String),
}

fn traced_run(
    mut cmd: Command,
    stderr_file: &Path,
    trace: bool,
) -> Result<(u64, RssSource), Spawn> {
    let err = File::create(stderr_file)
        .map_err(|e| Spawn::Failed(format!("{}: {e}", stderr_file.display())))?;
    cmd.stderr(err);
    // SAFETY: the closure only calls ptrace(2), which is async-signal-safe. Even when not
    // tracing, having a closure makes std fork rather than vfork, which keeps the parent's peak
    // out of the child's ru_maxrss.
    unsafe {
        cmd.pre_exec(move || {
            let null = std::ptr::null_mut::<libc::c_void>();
            if trace && libc::ptrace(libc::PTRACE_TRACEME, 0, null, null) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if trace && e.raw_os_error() == Some(libc::EPERM) => return Err(Spawn::Refused),
        Err(e) => return Err(Spawn::Failed(format!("{}: {e}", show(&cmd)))),
    };
    let pid = child.id() as libc::pid_t;
    let mut hwm: Option<u64> = None;
    let mut status: libc::c_int = 0;
    // SAFETY: all-zero is a valid rusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut first_stop = trace;
    let null = std::ptr::null_mut::<libc::c_void>();
    let code = loop {
        // SAFETY: waits for our own child; status and usage are valid for writes.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == -1 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Spawn::Failed(format!("waiting for {}: {e}", show(&cmd))));
        }
        if libc::WIFEXITED(status) {
            break libc::WEXITSTATUS(status);
        }
        if libc::WIFSIGNALED(status) {
            break 128 + libc::WTERMSIG(status);
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        let mut deliver: libc::c_int = 0;
        if first_stop {
            // The SIGTRAP after the traced exec: ask to be stopped again at exit.
            first_stop = false;
            let opts = (libc::PTRACE_O_TRACEEXIT | libc::PTRACE_O_EXITKILL) as usize;
            // SAFETY: pid is our stopped tracee.
            unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, null, opts) };
        } else if status >> 8 == (libc::SIGTRAP | (libc::PTRACE_EVENT_EXIT << 8)) {
            hwm = read_hwm(pid);
        } else {
            deliver = libc::WSTOPSIG(status);
        }
        // SAFETY: pid is our stopped tracee; `deliver` is the signal it stopped with, or 0.
        unsafe { libc::ptrace(libc::PTRACE_CONT, pid, null, deliver as usize) };
    };
    drop(child);
    if code != 0 {
        let mut text = String::new();
        let _ = File::open(stderr_file).and_then(|mut f| f.read_to_string(&mut text));
        return Err(Spawn::Failed(format!(
            "{} exited with {code}:\n{}",
            show(&cmd),
            text.trim_end()
        )));
    }
    Ok(match hwm {
        Some(k) => (k, RssSource::Ptrace),
        None => (usage.ru_maxrss as u64, RssSource::Rusage),
    })
}

/// `VmHWM` of a process, in KiB.
fn read_hwm(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
