//! The listing index: an append-only file of conversation summaries, the last line for an id
//! wins, a `deleted` line is a tombstone. `ls` reads this one file instead of every
//! conversation. Appenders hold the index lock shared; compaction (rewrite without superseded
//! lines, then rename) holds it exclusive, so no append is lost to a rename.
//!
//! The index is a cache: `doctor --repair` rebuilds it from the per-conversation summaries.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use super::atomic;
use super::conversation::Summary;
use crate::error::{IoContext, Result};
use crate::lock;
use crate::paths::Paths;

/// Appends a summary line.
pub fn append(paths: &Paths, summary: &Summary) -> Result<()> {
    let _shared = lock::acquire_shared(&paths.index_lock())?;
    let path = paths.index();
    let mut line = serde_json::to_vec(summary).expect("summary serialises");
    line.push(b'\n');
    let mut f = atomic::open_append(&path)?;
    f.write_all(&line).ctx(&path)?;
    f.sync_data().ctx(&path)
}

/// The index read: live summaries plus what the read noticed.
#[derive(Debug, Default)]
pub struct IndexRead {
    /// Live conversations, most recently updated first.
    pub summaries: Vec<Summary>,
    /// Lines in the file.
    pub lines: usize,
    /// Line numbers that did not parse.
    pub bad_lines: Vec<usize>,
}

/// Reads the index (a missing file is an empty index).
pub fn read(path: &Path) -> Result<IndexRead> {
    let bytes = match crate::files::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(IndexRead::default()),
        Err(e) => return Err(crate::error::Error::io(path, e)),
    };
    Ok(parse_index(&bytes))
}

/// Parses the index file's bytes (what [`read`] does after reading the file). Bytes after the
/// last newline are an append still in progress and are ignored. Pure; public for fuzzing and
/// tests, not a stable API.
#[doc(hidden)]
pub fn parse_index(bytes: &[u8]) -> IndexRead {
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut out = IndexRead::default();
    let mut latest: HashMap<String, (usize, Summary)> = HashMap::new();
    for (i, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        out.lines += 1;
        match serde_json::from_slice::<Summary>(line) {
            Ok(s) => {
                latest.insert(s.id.as_str().to_string(), (i, s));
            }
            Err(_) => out.bad_lines.push(i + 1),
        }
    }
    let mut live: Vec<Summary> = latest
        .into_values()
        .map(|(_, s)| s)
        .filter(|s| !s.deleted)
        .collect();
    live.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    out.summaries = live;
    out
}

/// Whether the index is worth compacting.
pub fn needs_compaction(read: &IndexRead) -> bool {
    read.lines > 256 && read.lines > 2 * read.summaries.len()
}

/// Rewrites the index with the summaries `snapshot` returns, called while the exclusive lock
/// is held, so nothing appended or removed before the rewrite is lost from it (skipped when
/// busy: returns `false`).
pub fn rewrite_with(
    paths: &Paths,
    snapshot: impl FnOnce() -> Result<Vec<Summary>>,
) -> Result<bool> {
    let Some(_g) = lock::try_acquire(&paths.index_lock())? else {
        return Ok(false);
    };
    let summaries = snapshot()?;
    let mut bytes = Vec::with_capacity(summaries.len() * 200);
    let mut sorted: Vec<&Summary> = summaries.iter().collect();
    sorted.sort_by(|a, b| a.updated_at.cmp(&b.updated_at));
    for s in sorted {
        serde_json::to_writer(&mut bytes, s).expect("summary serialises");
        bytes.push(b'\n');
    }
    atomic::write_atomic(&paths.index(), &bytes)?;
    Ok(true)
}

/// Compacts the index: its live summaries, read under the exclusive lock, replace it.
pub fn compact(paths: &Paths) -> Result<bool> {
    rewrite_with(paths, || Ok(read(&paths.index())?.summaries))
}
