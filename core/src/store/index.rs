//! The listing index: an append-only file of conversation summaries, the last line for an id
//! wins, a `deleted` line is a tombstone. `ls` reads this one file instead of every
//! conversation. Appenders hold the index lock shared; compaction (rewrite without superseded
//! lines, then rename) holds it exclusive, so no append is lost to a rename.
//!
//! The index is a cache: `doctor --repair` rebuilds it from the per-conversation summaries.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use super::atomic;
use super::conversation::{ConversationId, Summary};
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
    // Each summary is parsed into its place once and moved once more into the result (no
    // summary is moved as a map grows or as the list is sorted: they are large).
    let lines = memchr::memchr_iter(b'\n', &bytes[..complete]).count();
    let mut all: Vec<Summary> = Vec::with_capacity(lines);
    let mut at: HashMap<ConversationId, usize> = HashMap::with_capacity(lines);
    for (i, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        out.lines += 1;
        match serde_json::from_slice::<Summary>(line) {
            Ok(s) => match at.entry(s.id.clone()) {
                Entry::Occupied(e) => all[*e.get()] = s,
                Entry::Vacant(e) => {
                    e.insert(all.len());
                    all.push(s);
                }
            },
            Err(_) => out.bad_lines.push(i + 1),
        }
    }
    drop(at);
    // Most recently updated first (ids are unique here, so the order is total). The file is
    // mostly in the order of updates already (appends, and compaction writes oldest first), so
    // it is sorted from its reverse, whose runs the merge sort takes as they are.
    let mut order: Vec<usize> = (0..all.len()).rev().filter(|&i| !all[i].deleted).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&all[a], &all[b]);
        b.updated_at
            .cmp(&a.updated_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    let mut slots: Vec<Option<Summary>> = all.into_iter().map(Some).collect();
    out.summaries = order.into_iter().filter_map(|i| slots[i].take()).collect();
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
