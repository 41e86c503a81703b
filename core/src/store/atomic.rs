//! Durable file writes: write a temp file beside the target, fsync it, rename it over the target,
//! fsync the directory. Readers see the old or the new file, never a mix; an acknowledged write
//! survives power loss.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::files::{self, Access};

/// Opens (creating 0600) a file for appending (never through a link; see [`crate::files`]).
pub fn open_append(path: &Path) -> Result<File> {
    files::open_private_file(path, Access::Append).ctx(path)
}

/// Replaces `path` with `bytes` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, true, None).map(|_| ())
}

/// Replaces `path` with `bytes` atomically but without fsync: for ephemeral state (run
/// registrations) that is worthless after a crash anyway.
pub fn write_replace(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, false, None).map(|_| ())
}

/// A temp file name beside `path` for this process: `.NAME.tmp.PID.N`. Such a file is left
/// behind only when its writer dies; [`litter`] finds it then.
pub fn temp_path(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    dir.join(format!(".{name}.tmp.{}.{}", std::process::id(), unique()))
}

/// The pid of the writer of temp file `name` ([`temp_path`]), if it is one.
fn temp_writer(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let at = rest.rfind(".tmp.")?;
    let (pid, n) = rest[at + 5..].split_once('.')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Temp files in `dirs` whose writer is no longer running (it was killed between creating
/// and renaming them): they hold nothing that was acknowledged.
pub fn litter(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(rd) = fs::read_dir(dir) else { continue };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(pid) = name.to_str().and_then(temp_writer) else {
                continue;
            };
            if !crate::session::process_alive(pid, 0) {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// Writes `bytes` to a temp file beside `path` (fsynced when `durable`), asks `still` (when
/// given) whether the file may still be replaced, and renames it over `path`. `Ok(false)`:
/// `still` said no and nothing changed.
fn replace(
    path: &Path,
    bytes: &[u8],
    durable: bool,
    still: Option<&dyn Fn() -> bool>,
) -> Result<bool> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_path(path);
    files::check_replace_target(path).ctx(path)?;
    let res = (|| {
        let mut f = files::open_private_file(&tmp, Access::CreateNew).ctx(&tmp)?;
        f.write_all(bytes).ctx(&tmp)?;
        if durable {
            f.sync_all().ctx(&tmp)?;
        }
        drop(f);
        if still.is_some_and(|ok| !ok()) {
            return Ok(false);
        }
        fs::rename(&tmp, path).ctx(path)?;
        if durable {
            sync_dir(dir)?;
        }
        Ok(true)
    })();
    if !matches!(res, Ok(true)) {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// A read-modify-write without a lock: replaces `path` with `bytes` (durably when `durable`)
/// only if `unchanged` says, just before the rename, that the file still holds what was read.
/// This gives way to a writer that changed it since, except in the instant between that last
/// check and the rename (a write landing there is lost): for files whose other writers must
/// never wait (an agent's hook) or that panechat does not own (an agent's settings). Returns
/// whether it replaced.
pub fn replace_if_unchanged(
    path: &Path,
    bytes: &[u8],
    durable: bool,
    unchanged: &dyn Fn() -> bool,
) -> Result<bool> {
    replace(path, bytes, durable, Some(unchanged))
}

/// fsyncs a directory so a rename or create in it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    files::open_dir(dir).and_then(|d| d.sync_all()).ctx(dir)
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_conditional_replace_gives_way_to_a_change_made_meanwhile() {
        let dir = std::env::temp_dir().join(format!("pc-atomic-cond-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.json");
        write_replace(&p, b"done").unwrap();
        let holds = |want: &'static [u8]| {
            let p = p.clone();
            move || fs::read(&p).is_ok_and(|b| b == want)
        };
        assert!(!replace_if_unchanged(&p, b"idle", false, &holds(b"was")).unwrap());
        assert_eq!(fs::read(&p).unwrap(), b"done");
        assert!(replace_if_unchanged(&p, b"idle", true, &holds(b"done")).unwrap());
        assert_eq!(fs::read(&p).unwrap(), b"idle");
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 1, "no temp file left: {left:?}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn replaces_and_keeps_private() {
        let dir = std::env::temp_dir().join(format!("pc-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let leftovers: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
        // A temp file of a dead writer is litter; one of a live writer (this one) is not.
        let dead = dir.join(".f.json.tmp.4000000.0");
        fs::write(&dead, b"x").unwrap();
        let live = temp_path(&p);
        fs::write(&live, b"x").unwrap();
        fs::write(dir.join(".f.json.tmp.x.0"), b"x").unwrap();
        assert_eq!(litter(std::slice::from_ref(&dir)), vec![dead]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
