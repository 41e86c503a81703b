//! Running a program on a pseudo-terminal, as a person would in a pane.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A child process whose stdin, stdout and stderr are a pty it controls.
pub struct Pty {
    master: std::fs::File,
    output: Arc<Mutex<Vec<u8>>>,
    /// The child.
    pub child: Child,
}

impl Pty {
    /// Waits (at most `timeout`) until the child is blocked waiting for its terminal, as a
    /// program waiting for a key is (`read` on fd 0, or a `poll`/`select` before it, from
    /// `/proc/PID/syscall`), and fails when it ends first or never does.
    #[track_caller]
    pub fn wait_reading(&mut self, timeout: Duration) {
        let read = libc::SYS_read.to_string();
        let waits = [libc::SYS_ppoll, libc::SYS_pselect6]
            .into_iter()
            .chain(waits_old())
            .map(|n| n.to_string())
            .collect::<Vec<_>>();
        let path = format!("/proc/{}/syscall", self.child.id());
        let t = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!("it ended ({st}) instead of waiting:\n{}", self.text());
            }
            let now = std::fs::read_to_string(&path).unwrap_or_default();
            let mut f = now.split_whitespace();
            let (call, fd) = (f.next().unwrap_or(""), f.next());
            if (call == read && fd == Some("0x0")) || waits.iter().any(|w| w == call) {
                return;
            }
            assert!(
                t.elapsed() < timeout,
                "it never waited on its terminal ({now:?}):\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts `cmd` as a session leader with a 120×40 pty as its controlling terminal.
    pub fn spawn(cmd: Command) -> Pty {
        Pty::spawn_sized(cmd, 120, 40)
    }

    /// Starts `cmd` as a session leader with a `cols`×`rows` pty as its controlling terminal.
    pub fn spawn_sized(mut cmd: Command, cols: u16, rows: u16) -> Pty {
        let ws = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pair = nix::pty::openpty(Some(&ws), None).expect("openpty");
        let slave: OwnedFd = pair.slave;
        let slave_fd = slave.as_raw_fd();
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        if !cmd.get_envs().any(|(k, _)| k == "TERM") {
            cmd.env("TERM", "xterm-256color");
        }
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let _ = slave_fd;
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawning on a pty");
        drop(cmd);
        let master = std::fs::File::from(pair.master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let out = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out.lock().unwrap().extend_from_slice(&buf[..n]),
                }
            }
        });
        Pty {
            master,
            output,
            child,
        }
    }

    /// Everything the program wrote so far.
    pub fn output(&self) -> Vec<u8> {
        self.output.lock().unwrap().clone()
    }

    /// The output as lossy text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output()).into_owned()
    }

    /// Waits until the output contains `needle`; panics with the output after `timeout`.
    #[track_caller]
    pub fn expect(&self, needle: &str, timeout: Duration) {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if self.text().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "timed out waiting for {needle:?}; output so far:\n{}",
            self.text()
        );
    }

    /// Waits until a row of the output, without its terminal sequences (see [`Pty::rows`]),
    /// contains `needle`: text a program styles character by character, such as a filter as
    /// typed; panics with the rows after `timeout`.
    #[track_caller]
    pub fn expect_row(&self, needle: &str, timeout: Duration) {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if self.rows().iter().any(|r| r.contains(needle)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "timed out waiting for a row with {needle:?}; rows so far:\n{}",
            self.rows().join("\n")
        );
    }

    /// The output as text without terminal sequences (CSI, OSC), split into rows at newlines
    /// and carriage returns: what each redraw wrote on a row.
    pub fn rows(&self) -> Vec<String> {
        let text = self.text();
        let mut plain = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\x1b' => match chars.next() {
                    Some('[') => {
                        for c in chars.by_ref() {
                            if ('@'..='~').contains(&c) {
                                break;
                            }
                        }
                    }
                    Some(']') => {
                        while let Some(c) = chars.next() {
                            if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                                break;
                            }
                        }
                    }
                    _ => {}
                },
                '\r' | '\n' => plain.push('\n'),
                c if c.is_control() => {}
                c => plain.push(c),
            }
        }
        plain.split('\n').map(str::to_string).collect()
    }

    /// Types bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
        self.master.flush().unwrap();
    }

    /// Waits for the child to exit (panics after `timeout`), returning its exit code.
    #[track_caller]
    pub fn wait(&mut self, timeout: Duration) -> i32 {
        let t = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                // Let the reader drain.
                std::thread::sleep(Duration::from_millis(50));
                return st.code().unwrap_or(-1);
            }
            if t.elapsed() > timeout {
                let _ = self.child.kill();
                panic!("the program did not exit; output:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// `poll` and `select`, on architectures that still have them.
fn waits_old() -> Vec<libc::c_long> {
    #[cfg(target_arch = "x86_64")]
    {
        vec![libc::SYS_poll, libc::SYS_select]
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Vec::new()
    }
}
