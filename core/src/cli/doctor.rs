//! `panechat doctor [--repair]`: check the store, and fix what can be fixed without losing data.
//!
//! Checks: links, FIFOs, sockets, devices and another user's files anywhere in the store, and
//! directories writable by others (which every other command refuses; `--repair` makes the
//! user's own directories 0700, nothing else); directory permissions; every conversation log parses (an incomplete last record from
//! an interrupted write, or lines that do not parse); summaries match their logs; the index lists
//! exactly the conversations; lock files belong to conversations; sessions point at existing
//! conversations; unanswered messages kept as drafts. Also notes Zellij sessions whose plugin
//! stopped answering panechat's messages. `--repair` moves bad bytes into side
//! files next to the log (`<id>.jsonl.torn-*`, `<id>.jsonl.corrupt-*`) instead of deleting them.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use panechat::lock;
use panechat::store::conversation::ConversationId;
use panechat::store::{atomic, index, log, mapping};
use panechat::{Error, Result};

use super::ctx::Ctx;
use super::output::out;

/// `panechat doctor [--repair]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Fix what can be fixed (nothing is deleted: bad bytes are moved to side files).
    #[arg(long)]
    repair: bool,
}

struct Report {
    lines: Vec<String>,
    problems: usize,
    fixed: usize,
}

impl Report {
    fn problem(&mut self, msg: String, fixed: bool) {
        self.problems += 1;
        if fixed {
            self.fixed += 1;
            self.lines.push(format!("fixed: {msg}"));
        } else {
            self.lines.push(format!("problem: {msg}"));
        }
    }
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let mut r = Report {
        lines: Vec::new(),
        problems: 0,
        fixed: 0,
    };
    let fix = args.repair;
    let p = ctx.paths.clone();
    // What panechat refuses to use (links, FIFOs, another user's files, loose directories)
    // comes first: the other checks cannot read past it.
    let mut blocked = 0;
    for f in panechat::files::audit(&p.data)
        .into_iter()
        .chain(panechat::files::audit(&p.state))
    {
        let ok = fix && f.tightenable && panechat::files::tighten_dir(&f.path).is_ok();
        if !ok {
            blocked += 1;
        }
        r.problem(f.problem, ok);
    }
    if blocked > 0 {
        r.lines.push(
            "the other checks need panechat's directories: fix what is listed above first".into(),
        );
        return finish(&p, &r, fix, None);
    }
    for dir in [
        &p.data,
        &p.state,
        &p.conversations(),
        &p.sessions(),
        &p.locks(),
    ] {
        if let Ok(m) = fs::symlink_metadata(dir) {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 != 0 && !m.file_type().is_symlink() {
                let ok = fix && fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).is_ok();
                r.problem(
                    format!(
                        "{} is readable by others (mode {mode:o}); should be 700",
                        dir.display()
                    ),
                    ok,
                );
            }
        }
    }
    // Temp files of writers that were killed before renaming them.
    for path in atomic::litter(&[
        p.data.clone(),
        p.conversations(),
        p.state.clone(),
        p.sessions(),
        p.drafts(),
        p.runs(),
        p.locks(),
        p.logs(),
    ]) {
        let ok = fix && fs::remove_file(&path).is_ok();
        r.problem(
            format!(
                "{}: a temp file left by an interrupted write (its writer is gone; it holds nothing that was stored)",
                path.display()
            ),
            ok,
        );
    }
    let ids = ctx.store.ids()?;
    // Derived files of a conversation whose log is gone (a removal that was interrupted).
    for e in panechat::paths::list_dir(&p.conversations()).unwrap_or_default() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(stem) = name
            .strip_suffix(".json")
            .or_else(|| name.strip_suffix(".history"))
        else {
            continue;
        };
        let Some(id) = ConversationId::from_trusted(stem) else {
            continue;
        };
        if !ctx.store.exists(&id) {
            let ok = fix
                && repair_locked(ctx, &id, || {
                    if ctx.store.exists(&id) {
                        return Ok(());
                    }
                    fs::remove_file(e.path()).map_err(|err| Error::io(e.path(), err))
                });
            r.problem(
                format!(
                    "{}: left by a removal that was interrupted (its log is gone)",
                    e.path().display()
                ),
                ok,
            );
        }
    }
    let mut healthy = Vec::new();
    for id in &ids {
        let path = ctx.store.log_path(id);
        let bytes = fs::read(&path).unwrap_or_default();
        if !bytes.contains(&b'\n') {
            // Not one complete record: a conversation whose creation was interrupted by an
            // older version (logs are now linked into place whole). It never held a turn.
            let ok = fix && repair_locked(ctx, id, || discard_unborn(ctx, id, &bytes));
            r.problem(
                format!(
                    "{}: a log without a complete header (a creation that was interrupted; it holds no turn){}",
                    path.display(),
                    if ok { ", removed" } else { "" }
                ),
                ok,
            );
            continue;
        }
        match log::load(&path) {
            Ok(conv) => {
                if conv.torn_tail.is_some() {
                    let ok =
                        fix && repair_locked(ctx, id, || log::repair_torn_tail(&path).map(|_| ()));
                    r.problem(format!("{}: an incomplete last record (an interrupted write; never acknowledged){}", path.display(), if ok { ", moved to a .torn side file" } else { "" }), ok);
                }
                let summary = conv.summary();
                let stored = ctx.store.read_summary_file(id);
                if stored.as_ref().map(|s| (s.turns, &s.title))
                    != Some((summary.turns, &summary.title))
                {
                    let ok = fix && rewrite_summary(ctx, id);
                    r.problem(format!("{}: summary out of date", id), ok);
                } else if let Some(stored) = stored {
                    // The history cache a query would send must be exactly the log's turns.
                    let in_step = stored.log_len > 0
                        && fs::metadata(&path).map(|m| m.len()).ok() == Some(stored.log_len);
                    if in_step {
                        let expected: Vec<u8> = conv
                            .turns
                            .iter()
                            .flat_map(panechat::store::conversation::encode_history)
                            .collect();
                        let actual =
                            panechat::files::read(&ctx.store.history_path(id)).unwrap_or_default();
                        if actual != expected {
                            // Forgetting the recorded sizes makes the next query rebuild it.
                            let ok = fix && rewrite_summary(ctx, id);
                            r.problem(format!("{}: history cache does not match the log", id), ok);
                        }
                    }
                }
                healthy.push(summary);
            }
            Err(Error::Corrupt { line, msg, .. }) => {
                let ok = fix && repair_locked(ctx, id, || quarantine(&path));
                r.problem(
                    format!(
                        "{}:{line}: {msg}{}",
                        path.display(),
                        if ok {
                            "; bad lines moved to a .corrupt side file"
                        } else {
                            ""
                        }
                    ),
                    ok,
                );
                if ok && rewrite_summary(ctx, id) {
                    if let Ok(conv) = log::load(&path) {
                        healthy.push(conv.summary());
                    }
                }
            }
            Err(e) => r.problem(format!("{}: {e}", path.display()), false),
        }
    }
    // Index: the same conversations, with what their logs say.
    let read = index::read(&p.index())?;
    let key =
        |s: &panechat::store::conversation::Summary| (s.id.to_string(), s.turns, s.title.clone());
    let mut listed: Vec<_> = read.summaries.iter().map(key).collect();
    listed.sort();
    let mut actual: Vec<_> = healthy.iter().map(key).collect();
    actual.sort();
    if !read.bad_lines.is_empty() || listed != actual {
        let stale = listed.iter().filter(|l| !actual.contains(l)).count();
        // Rebuilt from the logs as they are once the index lock is held.
        let ok = fix
            && index::rewrite_with(&p, || {
                let mut out = Vec::new();
                for id in ctx.store.ids()? {
                    if let Ok(c) = ctx.store.load(&id) {
                        out.push(c.summary());
                    }
                }
                Ok(out)
            })
            .unwrap_or(false);
        r.problem(format!("the index ({}) does not match the conversations ({} listed, {} exist, {} out of date, {} bad lines)", p.index().display(), listed.len(), actual.len(), stale, read.bad_lines.len()), ok);
    }
    // Orphan lock files.
    if let Ok(entries) = fs::read_dir(p.locks()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".lock") else {
                continue;
            };
            let Some(id) = ConversationId::from_trusted(stem) else {
                continue;
            };
            if !ctx.store.exists(&id) {
                // Held: a query creating that conversation with its first turn right now.
                let Ok(Some(g)) = lock::try_acquire(&e.path()) else {
                    continue;
                };
                let ok = fix && g.unlink().is_ok();
                r.problem(
                    format!("lock file without a conversation: {}", e.path().display()),
                    ok,
                );
            }
        }
    }
    // Sessions pointing at missing conversations.
    for rec in mapping::all(&p)? {
        let missing: Vec<_> = rec
            .active
            .iter()
            .chain(rec.previous.iter())
            .filter(|id| !ctx.store.exists(id))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let session = rec.pane.to_session(rec.server.clone());
            let ok = fix
                && missing
                    .iter()
                    .all(|id| mapping::forget(&p, &session, id, &|c| ctx.store.exists(c)).is_ok());
            r.problem(
                format!(
                    "session {} refers to {} deleted conversation(s)",
                    rec.pane.session,
                    missing.len()
                ),
                ok,
            );
        }
    }
    // Zellij panes closed in a session that still runs: their mappings would be listed and
    // published to (a new pane may get the id); one `list-panes` per session.
    let probe = panechat::prune::Cached::new(&panechat::adapters::exec::RealExec);
    let live = panechat::runs::live(&p).unwrap_or_default();
    for rec in mapping::all(&p)? {
        if rec.pane.multiplexer != panechat::session::Multiplexer::Zellij
            || !rec.instance_live()
            || live.iter().any(|r| r.pane.session == rec.pane.session)
        {
            continue;
        }
        if let panechat::prune::Liveness::Gone(why) =
            panechat::prune::check_with(&rec, true, &probe)
        {
            let ok = fix && mapping::remove(&p, &rec.pane.session).is_ok();
            r.problem(
                format!(
                    "session {} maps a pane that is gone ({why}); `panechat sessions --prune` (or `doctor --repair`) forgets it, keeping its conversations",
                    rec.pane.session
                ),
                ok,
            );
        }
    }
    // Drafts: a message whose turn is stored is not offered again.
    let mut drafts = Vec::new();
    for (path, d) in ctx.store.all_drafts() {
        if d.in_progress() {
            continue;
        }
        if ctx.store.draft_answered(&d) {
            let ok = fix && ctx.store.clear_draft(&d).is_ok();
            r.problem(
                format!(
                    "{}: a message kept as unanswered is already answered (a query was killed after storing it)",
                    path.display()
                ),
                ok,
            );
        } else {
            drafts.push(d);
        }
    }
    // Each named with its session, so that one of a pane that is gone (a restarted
    // multiplexer) can still be sent: `--retry` runs in that session.
    const SHOWN: usize = 10;
    for d in drafts.iter().take(SHOWN) {
        let snippet: String = d.message.chars().take(40).collect();
        let conv = d
            .conversation
            .as_ref()
            .map(|c| format!(" for {}", c.short()))
            .unwrap_or_default();
        r.lines.push(format!(
            "note: an unanswered message of session {}{conv} (\"{}\") is kept; `panechat q --retry` in that pane sends it again, or from anywhere: PANECHAT_SESSION={} panechat q --retry",
            d.session,
            snippet.trim(),
            panechat::adapters::tmux::shell_quote(d.session.as_str())
        ));
    }
    if drafts.len() > SHOWN {
        r.lines.push(format!(
            "note: and {} more unanswered message(s)",
            drafts.len() - SHOWN
        ));
    }
    // Not the store's, but what `doctor` is run for when something looks off: a Zellij
    // session whose plugin stopped answering (pane names and the picker are then stale).
    for (session, age) in panechat::adapters::zellij::unanswered(&p.state) {
        r.lines.push(format!(
            "note: Zellij session '{}': the panechat plugin did not answer ({} ago),\n  so pane names and its picker are stale there. Is it loaded? (docs/zellij.md)",
            panechat::title::sanitize_title(&session),
            panechat::time::short_duration(age),
        ));
    }
    finish(&p, &r, fix, Some(ids.len()))
}

/// Prints the report; the exit code is 0 when no problem is left.
fn finish(p: &panechat::paths::Paths, r: &Report, fix: bool, ids: Option<usize>) -> Result<i32> {
    let mut text = match ids {
        Some(n) => format!("store: {} ({n} conversations)\n", p.data.display()),
        None => format!("store: {}\n", p.data.display()),
    };
    for l in &r.lines {
        text.push_str(l);
        text.push('\n');
    }
    let left = r.problems - r.fixed;
    if r.problems == 0 {
        text.push_str("ok: no problems found\n");
    } else if left == 0 {
        text.push_str(&format!("ok: {} problem(s) fixed\n", r.fixed));
    } else if fix {
        text.push_str(&format!(
            "{left} problem(s) remain that cannot be fixed automatically\n"
        ));
    } else {
        text.push_str(&format!(
            "{left} problem(s); `panechat doctor --repair` fixes what it can without losing data\n"
        ));
    }
    out(&text)?;
    Ok(if left == 0 { 0 } else { 1 })
}

/// Rewrites a conversation's summary from its log, under the conversation's lock (so a query
/// appending at the same time is never overwritten with an older summary).
fn rewrite_summary(ctx: &Ctx, id: &ConversationId) -> bool {
    repair_locked(ctx, id, || {
        let s = log::load(&ctx.store.log_path(id))?.summary();
        ctx.store.write_summary(&s)
    })
}

fn repair_locked(ctx: &Ctx, id: &ConversationId, f: impl FnOnce() -> Result<()>) -> bool {
    match lock::try_acquire(&ctx.store.lock_path(id)) {
        Ok(Some(_g)) => f().is_ok(),
        _ => false,
    }
}

/// Removes a conversation whose log never got a complete record (its bytes, if any, are kept
/// in a `.torn-*` side file) with its derived files, and records the removal in the index.
fn discard_unborn(ctx: &Ctx, id: &ConversationId, bytes: &[u8]) -> Result<()> {
    let path = ctx.store.log_path(id);
    if !bytes.is_empty() {
        atomic::write_atomic(&log::torn_path(&path), bytes)?;
    }
    for f in [
        path.clone(),
        ctx.store.summary_path(id),
        ctx.store.history_path(id),
    ] {
        match fs::remove_file(&f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&f, e)),
        }
    }
    atomic::sync_dir(&ctx.paths.conversations())
}

/// Moves lines that do not parse (and a torn tail) into a side file and rewrites the log
/// with the rest.
fn quarantine(path: &std::path::Path) -> Result<()> {
    let bytes = panechat::files::read(path).map_err(|e| Error::io(path, e))?;
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut seen_header = false;
    for (i, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let complete = line.ends_with(b"\n");
        let ok = complete
            && match log::parse_record(body) {
                Ok(Some(panechat::store::conversation::Record::Header(_))) => {
                    !std::mem::replace(&mut seen_header, true)
                }
                Ok(_) => seen_header || body.iter().all(u8::is_ascii_whitespace),
                Err(_) => false,
            };
        if ok {
            good.extend_from_slice(line);
        } else {
            bad.extend_from_slice(format!("# line {}\n", i + 1).as_bytes());
            bad.extend_from_slice(line);
            if !complete {
                bad.push(b'\n');
            }
        }
    }
    if !seen_header {
        return Err(Error::Other(format!(
            "{}: no header record; left as it is",
            path.display()
        )));
    }
    let mut side = path.as_os_str().to_owned();
    side.push(format!(".corrupt-{}", panechat::time::now_ms()));
    atomic::write_atomic(std::path::Path::new(&side), &bad)?;
    atomic::write_atomic(path, &good)
}
