//! All advisory locking lives here.
//!
//! Each lock is an exclusive `flock` (through `fs4`) on a file that is never unlinked while
//! another process may hold it, except when the conversation itself is removed: `rm` unlinks the
//! lock file while holding it, and every acquirer re-checks after locking that its descriptor
//! is still the file at the path (same device and inode, link count > 0). So there is no window
//! in which two processes both believe they hold the lock. A crashed holder's lock is released by
//! the kernel.
//!
//! The holder writes who it is ([`Holder`]) into the lock file, so a waiter can say what it is
//! waiting for. Waiting is a blocking `flock` on a helper thread and a channel with a deadline,
//! so a waiter wakes the moment the holder releases (no polling).

use std::fs::{self, File};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Process start time (clock ticks since boot), to detect a recycled pid.
    #[serde(default)]
    pub start: u64,
    /// The holder's pane.
    #[serde(flatten)]
    pub pane: crate::session::PaneRef,
    /// When it took the lock (RFC 3339).
    pub since: String,
    /// What it is doing.
    pub command: crate::runs::RunKind,
}

impl Holder {
    /// This process, holding a lock for `command` in `session`.
    pub fn this_process(
        session: &crate::session::Session,
        command: crate::runs::RunKind,
    ) -> Holder {
        let pid = std::process::id();
        Holder {
            pid,
            start: crate::session::process_start_time(pid).unwrap_or(0),
            pane: session.pane_ref(),
            since: crate::time::now_rfc3339(),
            command,
        }
    }

    /// `tmux pane %3, pid 4242, query, 12s`.
    pub fn describe(&self) -> String {
        format!(
            "{}, pid {}, {}, {}",
            self.pane.place(),
            self.pid,
            self.command,
            crate::time::ago(&self.since)
        )
    }
}

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    path: PathBuf,
}

impl LockGuard {
    /// Records the holder in the lock file for waiters to read.
    pub fn write_holder(&mut self, holder: &Holder) -> Result<()> {
        let mut bytes = serde_json::to_vec(holder).expect("holder serialises");
        bytes.push(b'\n');
        self.file.set_len(0).ctx(&self.path)?;
        self.file.seek(SeekFrom::Start(0)).ctx(&self.path)?;
        self.file.write_all(&bytes).ctx(&self.path)
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the lock file while still holding it (only when deleting what it guards).
    /// Waiters then find it gone and report that instead of proceeding.
    pub fn unlink(self) -> Result<()> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&self.path, e)),
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Clear the holder record first so nobody reads a stale one, then release.
        let _ = self.file.set_len(0);
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

fn open(path: &Path) -> Result<File> {
    crate::files::open_private_file(path, crate::files::Access::Lock).ctx(path)
}

/// Checks that `file` is still the file at `path` (it was not unlinked and replaced).
fn still_current(file: &File, path: &Path) -> Result<bool> {
    let held = file.metadata().ctx(path)?;
    if held.nlink() == 0 {
        return Ok(false);
    }
    match fs::symlink_metadata(path) {
        Ok(now) => Ok(now.ino() == held.ino() && now.dev() == held.dev()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn removed(path: &Path) -> Error {
    Error::NotFound(format!(
        "{} was removed while waiting for its lock",
        path.file_stem()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default()
    ))
}

fn unsupported(path: &Path, e: std::io::Error) -> Error {
    Error::LockUnsupported {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Takes the lock if it is free. `Ok(None)` when someone else holds it.
/// `create` = false refuses to create a missing lock file (the thing it guards is gone).
pub fn try_acquire(path: &Path) -> Result<Option<LockGuard>> {
    let file = open(path)?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => return Ok(None),
        Err(fs4::TryLockError::Error(e)) => return Err(unsupported(path, e)),
    }
    if !still_current(&file, path)? {
        return Err(removed(path));
    }
    Ok(Some(LockGuard {
        file,
        path: path.to_path_buf(),
    }))
}

/// Blocks until the lock is free (for short internal critical sections).
pub fn acquire(path: &Path) -> Result<LockGuard> {
    loop {
        let file = open(path)?;
        fs4::FileExt::lock(&file).map_err(|e| unsupported(path, e))?;
        if still_current(&file, path)? {
            return Ok(LockGuard {
                file,
                path: path.to_path_buf(),
            });
        }
        // The file was unlinked under us (a session's lock, by `mapping::remove` while it held
        // it, or a manual cleanup): lock the file now at the path instead.
    }
}

/// Takes a shared lock, blocking (many holders at once; excludes [`acquire`]).
pub fn acquire_shared(path: &Path) -> Result<LockGuard> {
    let file = open(path)?;
    fs4::FileExt::lock_shared(&file).map_err(|e| unsupported(path, e))?;
    Ok(LockGuard {
        file,
        path: path.to_path_buf(),
    })
}

/// Reads the holder record of a lock file (no locking; may be empty or stale).
pub fn read_holder(path: &Path) -> Option<Holder> {
    let s = crate::files::read_to_string(path).ok()?;
    serde_json::from_str(s.trim()).ok()
}

/// A blocking acquisition running on a helper thread.
pub struct Waiter {
    rx: Receiver<Result<LockGuard>>,
}

/// How a wait ended.
#[derive(Debug)]
pub enum WaitOutcome {
    /// The lock is ours.
    Acquired(LockGuard),
    /// The deadline passed; the waiter is still queued and can be waited on again.
    TimedOut,
}

impl Waiter {
    /// Starts blocking on `path` in the background.
    pub fn start(path: &Path) -> Result<Waiter> {
        let file = open(path)?;
        let path = path.to_path_buf();
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("lock-wait".into())
            .spawn(move || {
                let res = fs4::FileExt::lock(&file)
                    .map_err(|e| unsupported(&path, e))
                    .and_then(|()| match still_current(&file, &path)? {
                        true => Ok(LockGuard {
                            file,
                            path: path.clone(),
                        }),
                        false => Err(removed(&path)),
                    });
                // If nobody listens any more the guard comes back in the error and is
                // dropped here, which releases the lock at once.
                let _ = tx.send(res);
            })
            .map_err(|e| Error::Spawn {
                message: format!("cannot start a thread: {e}"),
                source: Some(e),
            })?;
        Ok(Waiter { rx })
    }

    /// Waits up to `timeout` (`None` = for ever).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<WaitOutcome> {
        let res = match timeout {
            Some(t) => match self.rx.recv_timeout(t) {
                Ok(r) => r,
                Err(RecvTimeoutError::Timeout) => return Ok(WaitOutcome::TimedOut),
                Err(RecvTimeoutError::Disconnected) => return Err(Error::LockWaiterEnded),
            },
            None => self.rx.recv().map_err(|_| Error::LockWaiterEnded)?,
        };
        res.map(WaitOutcome::Acquired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pc-lock-{}-{name}", std::process::id()));
        fs::create_dir_all(&d).unwrap();
        d.join("x.lock")
    }

    #[test]
    fn exclusive_and_released_on_drop() {
        let p = tmp("excl");
        let mut g = try_acquire(&p).unwrap().unwrap();
        assert!(try_acquire(&p).unwrap().is_none());
        let h = Holder {
            pid: 1,
            start: 0,
            pane: crate::session::PaneRef {
                session: crate::session::SessionKey::normalize("tmux:h:%3").unwrap(),
                multiplexer: crate::session::Multiplexer::Tmux,
                pane: Some("%3".into()),
            },
            since: crate::time::now_rfc3339(),
            command: crate::runs::RunKind::Query,
        };
        g.write_holder(&h).unwrap();
        assert_eq!(read_holder(&p).unwrap(), h);
        // Holders written by earlier versions (flat string fields) still read.
        std::fs::write(
            &p,
            r#"{"pid":1,"start":0,"session":"s","multiplexer":"tmux","pane":"%3","since":"x","command":"query"}"#,
        )
        .unwrap();
        assert_eq!(read_holder(&p).unwrap().pane.pane.as_deref(), Some("%3"));
        g.write_holder(&h).unwrap();
        assert!(h.describe().starts_with("tmux pane %3, pid 1, query"));
        drop(g);
        assert!(read_holder(&p).is_none());
        assert!(try_acquire(&p).unwrap().is_some());
    }

    #[test]
    fn waiter_wakes_on_release() {
        let p = tmp("wake");
        let g = try_acquire(&p).unwrap().unwrap();
        let w = Waiter::start(&p).unwrap();
        assert!(matches!(
            w.wait(Some(Duration::from_millis(50))).unwrap(),
            WaitOutcome::TimedOut
        ));
        let t = Instant::now();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            drop(g);
            Instant::now()
        });
        let WaitOutcome::Acquired(_g2) = w.wait(Some(Duration::from_secs(5))).unwrap() else {
            panic!()
        };
        let released = releaser.join().unwrap();
        assert!(
            released.elapsed() < Duration::from_millis(20),
            "hand-off took {:?}",
            released.elapsed()
        );
        assert!(t.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn removal_is_seen_by_waiters() {
        let p = tmp("rm");
        let g = try_acquire(&p).unwrap().unwrap();
        let w = Waiter::start(&p).unwrap();
        g.unlink().unwrap();
        let err = w.wait(Some(Duration::from_secs(5))).unwrap_err();
        assert!(err.to_string().contains("removed"), "{err}");
    }

    #[test]
    fn counter_under_lock_from_threads() {
        let p = tmp("count");
        let counter = p.with_file_name("counter");
        fs::write(&counter, "0").unwrap();
        let done = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (p, counter, done) = (p.clone(), counter.clone(), done.clone());
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        let _g = acquire(&p).unwrap();
                        let n: u32 = fs::read_to_string(&counter).unwrap().parse().unwrap();
                        fs::write(&counter, (n + 1).to_string()).unwrap();
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(fs::read_to_string(&counter).unwrap(), "200");
    }
}
