//! Durable file writes: write a temp file beside the target, fsync it, rename it over the target,
//! fsync the directory. Readers see the old or the new file, never a mix; an acknowledged write
//! survives power loss.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::error::{IoContext, Result};
use crate::files::{self, Access};

/// Opens (creating 0600) a file for appending (never through a link; see [`crate::files`]).
pub fn open_append(path: &Path) -> Result<File> {
    files::open_private_file(path, Access::Append).ctx(path)
}

/// Replaces `path` with `bytes` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, true)
}

/// Replaces `path` with `bytes` atomically but without fsync: for ephemeral state (run
/// registrations) that is worthless after a crash anyway.
pub fn write_replace(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, false)
}

fn replace(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}.{}", std::process::id(), unique()));
    files::check_replace_target(path).ctx(path)?;
    let res = (|| {
        let mut f = files::open_private_file(&tmp, Access::CreateNew).ctx(&tmp)?;
        f.write_all(bytes).ctx(&tmp)?;
        if durable {
            f.sync_all().ctx(&tmp)?;
        }
        fs::rename(&tmp, path).ctx(path)?;
        if durable {
            sync_dir(dir)?;
        }
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
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
        fs::remove_dir_all(&dir).unwrap();
    }
}
