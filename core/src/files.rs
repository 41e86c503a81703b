//! How panechat opens its own files. Every file and directory under its data and state
//! directories is opened here, so one rule holds for every caller (store, sessions, locks, runs,
//! drafts, logs, `last`, temp files of atomic replaces):
//!
//! - **No link is followed.** A file is opened with `O_NOFOLLOW`, a directory is checked with
//!   `O_DIRECTORY | O_NOFOLLOW`: a symbolic link anywhere below panechat's roots is refused with
//!   an error naming it. The roots themselves (`PANECHAT_HOME`, or the XDG bases
//!   `$XDG_DATA_HOME` and `$XDG_STATE_HOME`) are the user's choice and may be links.
//! - **A file is a regular file of the user's.** It is opened with `O_NONBLOCK` (cleared once it
//!   is known to be regular), so a FIFO, socket or device never blocks a command; `fstat` then
//!   refuses anything but a regular file, owned by the user, with one link.
//! - **Directories are private.** Each directory below a root must be the user's and writable by
//!   nobody else (as ssh requires of `~/.ssh`); one writable by group or others is refused with
//!   the `chmod` to run (`panechat doctor --repair` tightens it), never silently used. A root
//!   must be the user's (or root's) and not writable by others, unless sticky like `/tmp`.
//!
//! Directories are checked once per process; after that an open costs one `fstat` and one
//! `fcntl` more than a plain `open`.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use crate::error::{refused_path, Refused};
use crate::error::{Error, Result};

/// How a private file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read an existing file.
    Read,
    /// Read and write an existing file (no create).
    ReadWrite,
    /// Append, creating it (0600) when missing.
    Append,
    /// Read and write, creating it (0600) when missing, never truncating (lock files).
    Lock,
    /// Create a new file (0600); fails if anything is at the path.
    CreateNew,
}

/// Directories given by the user (`PANECHAT_HOME`, the XDG bases): followed if links.
static ROOTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Directories already checked by this process.
static CHECKED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// Registers `dir` as a root: a directory the user chose, below which every directory is
/// panechat's own and checked (see the module documentation).
pub fn add_root(dir: &Path) {
    let mut roots = ROOTS.lock().unwrap_or_else(|e| e.into_inner());
    if !roots.iter().any(|r| r == dir) {
        roots.push(dir.to_path_buf());
    }
}

fn root_of(dir: &Path) -> Option<PathBuf> {
    let roots = ROOTS.lock().unwrap_or_else(|e| e.into_inner());
    roots
        .iter()
        .filter(|r| dir.starts_with(r))
        .max_by_key(|r| r.components().count())
        .cloned()
}

fn is_checked(dir: &Path) -> bool {
    let c = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    c.as_ref().is_some_and(|s| s.contains(dir))
}

fn mark_checked(dir: &Path) {
    let mut c = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    c.get_or_insert_with(HashSet::new).insert(dir.to_path_buf());
}

fn euid() -> u32 {
    static EUID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    // SAFETY: geteuid has no preconditions and cannot fail.
    *EUID.get_or_init(|| unsafe { libc::geteuid() })
}

fn refused(path: &Path, msg: String) -> io::Error {
    io::Error::other(Refused {
        path: path.to_path_buf(),
        msg,
    })
}

fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// What kind of thing `meta` describes, for messages.
fn kind(meta: &fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "a regular file"
    }
}

fn link_error(path: &Path) -> io::Error {
    let to = fs::read_link(path)
        .map(|t| format!(" (to {})", t.display()))
        .unwrap_or_default();
    refused(path, format!(
        "is a symbolic link{to}; panechat never follows links inside its directories: remove it (rm {}) and run the command again (to keep panechat's files elsewhere, set PANECHAT_HOME there)",
        quoted(path)
    ))
}

fn not_regular(path: &Path, what: &str) -> io::Error {
    refused(path, format!(
        "is {what}, not a regular file; panechat will not read or write it: remove it (rm {}) and run the command again",
        quoted(path)
    ))
}

fn foreign(path: &Path, uid: u32) -> io::Error {
    refused(path, format!(
        "is owned by uid {uid}, not by you (uid {}); panechat will not use it: if it should be yours, chown it; otherwise move it away (mv {p} {p}.suspect) and run the command again",
        euid(),
        p = quoted(path)
    ))
}

/// Opens a file below panechat's roots as `access` says, refusing links, anything but a
/// regular file of the user's with one link, and files in a directory that is not private. Never
/// blocks on a FIFO. The error names what is wrong and what to do (the caller adds the path).
pub fn open_private_file(path: &Path, access: Access) -> io::Result<File> {
    open_private(path, access).map(|(f, _)| f)
}

/// [`open_private_file`], with the file's metadata from the `fstat` that checked it.
pub fn open_private(path: &Path, access: Access) -> io::Result<(File, fs::Metadata)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        check_chain(dir, false)?;
    }
    let mut o = OpenOptions::new();
    match access {
        Access::Read => o.read(true),
        Access::ReadWrite => o.read(true).write(true),
        Access::Append => o.append(true).create(true).mode(0o600),
        Access::Lock => o.read(true).write(true).create(true).mode(0o600),
        Access::CreateNew => o.write(true).create_new(true).mode(0o600),
    };
    o.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
    let file = match o.open(path) {
        Ok(f) => f,
        Err(e) => return Err(explain_open_error(path, e)),
    };
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(not_regular(path, kind(&meta)));
    }
    if meta.uid() != euid() {
        return Err(foreign(path, meta.uid()));
    }
    if meta.nlink() > 1 {
        return Err(refused(path, format!(
            "has {} hard links, so it may be another file under a second name; panechat will not use it: remove it (rm {}) and run the command again",
            meta.nlink(),
            quoted(path)
        )));
    }
    clear_nonblock(&file, access == Access::Append)?;
    Ok((file, meta))
}

/// Turns `ELOOP` (a link under `O_NOFOLLOW`) and `ENXIO` (a FIFO without a reader, a socket)
/// into errors that say what is at the path.
fn explain_open_error(path: &Path, e: io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(libc::ELOOP) => link_error(path),
        Some(libc::EEXIST) if fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink()) => {
            link_error(path)
        }
        Some(libc::ENXIO) | Some(libc::EWOULDBLOCK) | Some(libc::EOPNOTSUPP) => {
            match fs::symlink_metadata(path) {
                Ok(m) if !m.file_type().is_file() => not_regular(path, kind(&m)),
                _ => e,
            }
        }
        _ => e,
    }
}

/// Clears `O_NONBLOCK` once the file is known to be regular. `F_SETFL` sets only the status
/// flags (`O_APPEND`, `O_NONBLOCK`, …), so the one this file was opened with is kept.
fn clear_nonblock(file: &File, append: bool) -> io::Result<()> {
    let flags = if append { libc::O_APPEND } else { 0 };
    // SAFETY: fcntl on a descriptor this function's caller owns, with integer arguments only.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads a whole private file (see [`open_private_file`]); a missing file is `NotFound`, as
/// with `fs::read`.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let (f, meta) = open_private(path, Access::Read)?;
    let mut buf = Vec::with_capacity(meta.len() as usize + 1);
    // Through `Take`, so no second fstat and no lseek: the size is known.
    f.take(u64::MAX).read_to_end(&mut buf)?;
    Ok(buf)
}

/// [`read`] into `buf` (emptied first): a caller reading many files reuses one buffer.
pub fn read_into(path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
    let (f, meta) = open_private(path, Access::Read)?;
    buf.clear();
    buf.reserve(meta.len() as usize + 1);
    f.take(u64::MAX).read_to_end(buf)?;
    Ok(())
}

/// Reads a whole private file as UTF-8 text.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    String::from_utf8(read(path)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Reads a file the user names or owns outside the store (the config): links are followed, but
/// only a regular file is read, and opening it never blocks.
pub fn read_regular(path: &Path) -> io::Result<String> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| explain_open_error(path, e))?;
    let meta = f.metadata()?;
    if !meta.file_type().is_file() {
        return Err(not_regular(path, kind(&meta)));
    }
    clear_nonblock(&f, false)?;
    let mut s = String::new();
    f.read_to_string(&mut s)?;
    Ok(s)
}

/// Checks what an atomic replace (a rename over `path`) would replace: nothing, or a regular
/// file. A link or a FIFO there is refused like any other open, although a rename would only
/// replace it, so the rule is the same for every file of the store.
pub fn check_replace_target(path: &Path) -> io::Result<()> {
    if path.parent().and_then(root_of).is_none() {
        // A file the user named outside panechat's directories (`init --plugin FILE`).
        return Ok(());
    }
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(link_error(path)),
        Ok(m) if !m.is_file() => Err(not_regular(path, kind(&m))),
        _ => Ok(()),
    }
}

/// Opens a directory below the roots without following a link (to list it or fsync it).
pub fn open_dir(dir: &Path) -> io::Result<File> {
    check_chain(dir, false)?;
    open_dir_nofollow(dir)
}

fn open_dir_nofollow(dir: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(dir)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => link_error(dir),
            Some(libc::ENOTDIR) => match fs::symlink_metadata(dir) {
                Ok(m) if m.file_type().is_symlink() => link_error(dir),
                Ok(m) => refused(dir, format!(
                    "is {}, where panechat keeps a directory: move it away (mv {p} {p}.old) and run the command again",
                    kind(&m),
                    p = quoted(dir)
                )),
                Err(_) => e,
            },
            _ => e,
        })
}

/// Creates `dir` and its parents (0700) when missing, and checks every directory from the root
/// down (see the module documentation).
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    if is_checked(dir) && fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    match check_chain(dir, true) {
        // A checked directory was removed meanwhile: check (and create) everything again.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            forget_checked();
            check_chain(dir, true)
        }
        other => other,
    }
    .map_err(|e| Error::io(dir, e))
}

fn forget_checked() {
    let mut c = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    *c = None;
}

/// Checks `dir` and the directories between it and its root (creating them when `create`). A
/// missing directory is fine when not creating (what is opened in it is then missing too).
fn check_chain(dir: &Path, create: bool) -> io::Result<()> {
    if is_checked(dir) && !create {
        return Ok(());
    }
    let Some(root) = root_of(dir) else {
        // Outside panechat's roots (a path the user chose): only the file itself is checked.
        if create {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        return Ok(());
    };
    check_root(&root, create)?;
    let mut cur = root.clone();
    for comp in dir.strip_prefix(&root).expect("root_of").components() {
        cur.push(comp);
        // A checked directory is still there (nobody else can remove it), unless this is the
        // one being ensured, which may have been removed by the user.
        if is_checked(&cur) && !(create && cur == dir) {
            continue;
        }
        let mut created = false;
        let d = match open_dir_nofollow(&cur) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound && !create => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match fs::DirBuilder::new().mode(0o700).create(&cur) {
                    Ok(()) => created = true,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                open_dir_nofollow(&cur)?
            }
            Err(e) => return Err(e),
        };
        if created {
            // mkdir applied the umask; make it private regardless.
            // SAFETY: fchmod on a descriptor owned by `d`.
            if unsafe { libc::fchmod(d.as_raw_fd(), 0o700) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        private_dir(&cur, &d.metadata()?)?;
        mark_checked(&cur);
    }
    Ok(())
}

/// The rule for a directory below a root: the user's, writable by nobody else.
fn private_dir(dir: &Path, meta: &fs::Metadata) -> io::Result<()> {
    if meta.uid() != euid() {
        return Err(foreign(dir, meta.uid()));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(refused(dir, format!(
            "is writable by {} (mode {:04o}), so another user could put links or files in it; panechat will not use it. Check what is in it, then run: chmod 700 {} (or `panechat doctor --repair`)",
            if mode & 0o002 != 0 { "others" } else { "its group" },
            mode,
            quoted(dir)
        )));
    }
    Ok(())
}

/// The rule for a root (followed if a link): a directory of the user's or root's, not writable
/// by others unless sticky (like `/tmp`), so nobody else can swap what is in it.
fn check_root(root: &Path, create: bool) -> io::Result<()> {
    if is_checked(root) {
        return Ok(());
    }
    let meta = match fs::metadata(root) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)?;
            fs::metadata(root)?
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return Err(refused(root, format!(
            "is {}, not a directory; it is where panechat keeps its files: point PANECHAT_HOME (or the XDG directory) at a directory",
            kind(&meta)
        )));
    }
    if meta.uid() != euid() && meta.uid() != 0 {
        return Err(foreign(root, meta.uid()));
    }
    if meta.mode() & 0o002 != 0 && meta.mode() & 0o1000 == 0 {
        return Err(refused(root, format!(
            "is writable by others (mode {:04o}) and not sticky, so anyone could replace panechat's directories in it: run chmod o-w {} or set PANECHAT_HOME to a private directory",
            meta.mode() & 0o7777,
            quoted(root)
        )));
    }
    mark_checked(root);
    Ok(())
}

/// One thing in the store that panechat refuses to use, for `doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The path.
    pub path: PathBuf,
    /// What is wrong and what to do.
    pub problem: String,
    /// A directory of the user's that `doctor --repair` can make private (chmod 700).
    pub tightenable: bool,
}

/// Walks `dir` (not following links) and lists every link, FIFO, socket or device, every file
/// or directory owned by someone else, and every directory writable by group or others.
pub fn audit(dir: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    audit_into(dir, 0, &mut out);
    out
}

fn audit_into(dir: &Path, depth: usize, out: &mut Vec<Finding>) {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if let Some(f) = finding(dir, &meta) {
        let go_on = f.tightenable;
        out.push(f);
        if !go_on {
            return;
        }
    }
    if !meta.is_dir() || depth > 4 {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        audit_into(&p, depth + 1, out);
    }
}

fn finding(path: &Path, meta: &fs::Metadata) -> Option<Finding> {
    let problem = |e: io::Error, tightenable: bool| Finding {
        path: path.to_path_buf(),
        problem: format!("{}: {e}", path.display()),
        tightenable,
    };
    let t = meta.file_type();
    if t.is_symlink() {
        return Some(problem(link_error(path), false));
    }
    if meta.uid() != euid() {
        return Some(problem(foreign(path, meta.uid()), false));
    }
    if t.is_dir() {
        return private_dir(path, meta).err().map(|e| problem(e, true));
    }
    if !t.is_file() {
        return Some(problem(not_regular(path, kind(meta)), false));
    }
    None
}

/// Makes a directory of the user's private (0700), without following a link.
pub fn tighten_dir(dir: &Path) -> io::Result<()> {
    let d = open_dir_nofollow(dir)?;
    if d.metadata()?.uid() != euid() {
        return Err(io::Error::from(io::ErrorKind::PermissionDenied));
    }
    // SAFETY: fchmod on a descriptor owned by `d`.
    if unsafe { libc::fchmod(d.as_raw_fd(), 0o700) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
