//! The append-only conversation log: one JSON record per line.
//!
//! A turn is one line written with a single `write` and fsynced before success is reported.
//! Bytes after the last newline are a write that never completed: readers ignore them, and the
//! next writer (holding the conversation lock) moves them to a `.torn` side file before it
//! appends, so a new record never glues onto half of an old one. A complete line that does not
//! parse is an error naming the file and line.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::atomic;
use super::conversation::{Conversation, Record, Summary, Turn};
use crate::error::{Error, IoContext, Result};

/// Parses one line. `Ok(None)` for a record of a kind this version does not know (a newer
/// panechat wrote it); skipped so old binaries can still read the conversation.
pub fn parse_record(line: &[u8]) -> std::result::Result<Option<Record>, String> {
    match serde_json::from_slice::<Record>(line) {
        Ok(r) => Ok(Some(r)),
        Err(e) => {
            // Unknown record types are skipped; anything else is corruption.
            if let Ok(serde_json::Value::Object(o)) =
                serde_json::from_slice::<serde_json::Value>(line)
            {
                if let Some(serde_json::Value::String(t)) = o.get("type") {
                    if !matches!(t.as_str(), "header" | "turn" | "title" | "settings") {
                        return Ok(None);
                    }
                }
            }
            Err(e.to_string())
        }
    }
}

/// Reads a whole log.
pub fn load(path: &Path) -> Result<Conversation> {
    let bytes = crate::files::read(path).ctx(path)?;
    parse_log(path, &bytes)
}

/// Parses a whole log's bytes (`path` is for messages).
pub fn parse_log(path: &Path, bytes: &[u8]) -> Result<Conversation> {
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    };
    let torn_tail = (complete < bytes.len()).then_some(complete as u64);
    let mut conv: Option<(Conversation, Summary)> = None;
    for (i, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
        let lineno = i + 1;
        if line.is_empty() || line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let rec = parse_record(line).map_err(|msg| Error::Corrupt {
            path: path.to_path_buf(),
            line: lineno,
            msg: format!("not a valid record: {msg}"),
        })?;
        let Some(rec) = rec else { continue };
        match (rec, conv.as_mut()) {
            (Record::Header(h), None) => {
                let sum = Summary::from_header(&h);
                conv = Some((
                    Conversation {
                        updated_at: String::new(),
                        model: None,
                        system: None,
                        header: h,
                        turns: Vec::new(),
                        title: None,
                        torn_tail,
                    },
                    sum,
                ))
            }
            (Record::Header(_), Some(_)) => {
                return Err(Error::Corrupt {
                    path: path.to_path_buf(),
                    line: lineno,
                    msg: "a second header record".into(),
                })
            }
            (_, None) => {
                return Err(Error::Corrupt {
                    path: path.to_path_buf(),
                    line: lineno,
                    msg: "the log does not start with a header record".into(),
                })
            }
            (rec, Some((c, sum))) => {
                sum.apply(&rec);
                if let Record::Turn(t) = rec {
                    c.turns.push(t);
                }
            }
        }
    }
    // The conversation's derived fields are the summary's, so the two never disagree.
    let conv = conv.map(|(mut c, sum)| {
        c.title = sum.title;
        c.model = sum.model;
        c.system = sum.system;
        c.updated_at = sum.updated_at;
        c
    });
    conv.ok_or_else(|| Error::Corrupt {
        path: path.to_path_buf(),
        line: 1,
        msg: if bytes.is_empty() {
            "the file is empty".into()
        } else {
            "no complete header record".into()
        },
    })
}

/// Serialises a record as one line.
pub fn encode(rec: &Record) -> Vec<u8> {
    let mut v = serde_json::to_vec(rec).expect("records serialise");
    v.push(b'\n');
    v
}

/// Where torn bytes of `path` are kept.
pub fn torn_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".torn-{}", crate::time::now_ms()));
    PathBuf::from(s)
}

/// Moves bytes after the last newline into a side file and truncates the log to its last
/// complete line. Returns the side file, if anything was moved. Caller holds the lock.
pub fn repair_torn_tail(path: &Path) -> Result<Option<PathBuf>> {
    let mut f = crate::files::open_private_file(path, crate::files::Access::ReadWrite).ctx(path)?;
    let len = f.metadata().ctx(path)?.len();
    if len == 0 {
        return Ok(None);
    }
    // Find the last newline by reading backwards.
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    let keep = loop {
        let start = end.saturating_sub(buf.len() as u64);
        let n = (end - start) as usize;
        f.seek(SeekFrom::Start(start)).ctx(path)?;
        f.read_exact(&mut buf[..n]).ctx(path)?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            break start + i as u64 + 1;
        }
        if start == 0 {
            break 0;
        }
        end = start;
    };
    if keep == len {
        return Ok(None);
    }
    let mut tail = Vec::new();
    f.seek(SeekFrom::Start(keep)).ctx(path)?;
    f.read_to_end(&mut tail).ctx(path)?;
    let side = torn_path(path);
    atomic::write_atomic(&side, &tail)?;
    f.set_len(keep).ctx(path)?;
    f.sync_all().ctx(path)?;
    Ok(Some(side))
}

/// Appends records durably (one `write`, then fsync). Caller holds the lock.
pub fn append(path: &Path, recs: &[Record]) -> Result<()> {
    let mut bytes = Vec::new();
    for r in recs {
        bytes.extend_from_slice(&encode(r));
    }
    let mut f = atomic::open_append(path)?;
    f.write_all(&bytes).ctx(path)?;
    f.sync_data().ctx(path)
}

/// Moves `from` to `to` unless `to` exists (`AlreadyExists`), atomically: `renameat2` with
/// `RENAME_NOREPLACE`. Where the file system cannot, a hard link and the removal of `from` do
/// the same (the file has a second name until then).
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes());
    let (f, t) = (c(from)?, c(to)?);
    // SAFETY: both are valid NUL-terminated paths; renameat2 only reads them.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) => {
            fs::hard_link(from, to)?;
            fs::remove_file(from)
        }
        _ => Err(e),
    }
}

/// Creates a new log with `recs`, failing (`AlreadyExists`) if it exists. Durable when it
/// returns. The log is written whole under a temp name and then moved into place without
/// replacing anything, so it never exists empty or half-written, whenever the writer is killed.
pub fn create(path: &Path, recs: &[Record]) -> Result<()> {
    let mut bytes = Vec::new();
    for r in recs {
        bytes.extend_from_slice(&encode(r));
    }
    let tmp = atomic::temp_path(path);
    let written = (|| {
        let mut f =
            crate::files::open_private_file(&tmp, crate::files::Access::CreateNew).ctx(&tmp)?;
        f.write_all(&bytes).ctx(&tmp)?;
        f.sync_all().ctx(&tmp)?;
        rename_noreplace(&tmp, path).ctx(path)
    })();
    let _ = fs::remove_file(&tmp);
    written?;
    atomic::sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// The last `n` turns, reading the file backwards: work proportional to `n`, not to the log.
pub fn last_turns(path: &Path, n: usize) -> Result<Vec<Turn>> {
    let mut f = crate::files::open_private_file(path, crate::files::Access::Read).ctx(path)?;
    let len = f.metadata().ctx(path)?.len();
    let mut turns: Vec<Turn> = Vec::new();
    if n == 0 {
        return Ok(turns);
    }
    let mut pos = len;
    let mut carry: Vec<u8> = Vec::new(); // bytes of a line whose start is not read yet
    let mut first_block = true;
    let mut buf = vec![0u8; 64 * 1024];
    while pos > 0 && turns.len() < n {
        let start = pos.saturating_sub(buf.len() as u64);
        let len_block = (pos - start) as usize;
        f.seek(SeekFrom::Start(start)).ctx(path)?;
        f.read_exact(&mut buf[..len_block]).ctx(path)?;
        let mut block = buf[..len_block].to_vec();
        block.extend_from_slice(&carry);
        if first_block {
            // Drop a torn tail: bytes after the last newline.
            match block.iter().rposition(|&b| b == b'\n') {
                Some(i) => block.truncate(i + 1),
                None if start > 0 => {
                    carry = Vec::new();
                    pos = start;
                    continue;
                }
                None => block.clear(),
            }
            first_block = false;
        }
        // Lines fully inside: everything after the first newline (unless at file start).
        let (head, body) = if start == 0 {
            (Vec::new(), &block[..])
        } else {
            match block.iter().position(|&b| b == b'\n') {
                Some(i) => (block[..i + 1].to_vec(), &block[i + 1..]),
                None => {
                    carry = block;
                    pos = start;
                    continue;
                }
            }
        };
        for line in body.split(|&b| b == b'\n').rev() {
            if line.is_empty() {
                continue;
            }
            if let Ok(Some(Record::Turn(t))) = parse_record(line) {
                turns.push(t);
                if turns.len() == n {
                    break;
                }
            }
        }
        carry = head;
        if carry.last() == Some(&b'\n') {
            carry.pop();
        }
        pos = start;
    }
    turns.reverse();
    Ok(turns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conversation::{ConversationId, Header};
    use std::fs;

    fn turn(i: usize) -> Turn {
        Turn {
            agent: None,
            cost_usd: None,
            user: format!("q{i} {}", "x".repeat(i % 300)),
            assistant: format!("a{i}"),
            model: "m".into(),
            usage: Default::default(),
            started_at: String::new(),
            finished_at: format!("t{i}"),
            finish_reason: None,
            truncated: false,
            attachments: Vec::new(),
            message_id: None,
        }
    }

    fn header() -> Record {
        Record::Header(Header {
            agent: None,
            v: 1,
            id: ConversationId::generate(),
            created_at: "c".into(),
            parent: None,
            model: None,
            system: None,
        })
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pc-log-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn torn_tail_is_ignored_then_repaired() {
        let d = dir("torn");
        let p = d.join("c.jsonl");
        create(&p, &[header(), Record::Turn(turn(1))]).unwrap();
        let mut f = atomic::open_append(&p).unwrap();
        f.write_all(b"{\"type\":\"turn\",\"user\":\"half").unwrap();
        let c = load(&p).unwrap();
        assert_eq!(c.turns.len(), 1);
        assert!(c.torn_tail.is_some());
        let side = repair_torn_tail(&p).unwrap().unwrap();
        assert_eq!(
            fs::read(&side).unwrap(),
            b"{\"type\":\"turn\",\"user\":\"half"
        );
        append(&p, &[Record::Turn(turn(2))]).unwrap();
        let c = load(&p).unwrap();
        assert_eq!(c.turns.len(), 2);
        assert!(c.torn_tail.is_none());
    }

    #[test]
    fn corrupt_line_names_file_and_line() {
        let d = dir("corrupt");
        let p = d.join("c.jsonl");
        create(&p, &[header(), Record::Turn(turn(1))]).unwrap();
        let mut f = atomic::open_append(&p).unwrap();
        f.write_all(b"garbage\n").unwrap();
        append(&p, &[Record::Turn(turn(2))]).unwrap();
        let e = load(&p).unwrap_err();
        assert!(matches!(e, Error::Corrupt { line: 3, .. }), "{e}");
        assert!(e.to_string().contains("c.jsonl:3"));
    }

    #[test]
    fn unknown_records_are_skipped() {
        let d = dir("unknown");
        let p = d.join("c.jsonl");
        create(&p, &[header()]).unwrap();
        let mut f = atomic::open_append(&p).unwrap();
        f.write_all(b"{\"type\":\"reaction\",\"emoji\":\"+1\"}\n")
            .unwrap();
        assert_eq!(load(&p).unwrap().turns.len(), 0);
    }

    #[test]
    fn last_turns_reads_from_the_end() {
        let d = dir("tail");
        let p = d.join("c.jsonl");
        let mut recs = vec![header()];
        for i in 0..3000 {
            recs.push(Record::Turn(turn(i)));
            if i % 7 == 0 {
                recs.push(Record::Title {
                    title: format!("t{i}"),
                    at: "x".into(),
                    source: "user".into(),
                });
            }
        }
        create(&p, &recs).unwrap();
        let mut f = atomic::open_append(&p).unwrap();
        f.write_all(b"{\"type\":\"tu").unwrap();
        for n in [0, 1, 2, 5, 100, 1000, 2999, 3000, 5000] {
            let got = last_turns(&p, n).unwrap();
            let want = n.min(3000);
            assert_eq!(got.len(), want, "n={n}");
            if want > 0 {
                assert_eq!(got.last().unwrap().user, turn(2999).user);
                assert_eq!(got[0].user, turn(3000 - want).user);
            }
        }
    }
}
