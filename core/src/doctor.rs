//! The store's health check behind `panechat doctor [--repair]`: what is wrong, and what can
//! be fixed without losing data.
//!
//! Checks: links, FIFOs, sockets, devices and another user's files anywhere in the store, and
//! directories writable by others (which every other command refuses; a repair makes the
//! user's own directories 0700, nothing else); directory permissions; temp files of
//! interrupted writes; every conversation log parses (an incomplete last record from an
//! interrupted write, or lines that do not parse); summaries and history caches match their
//! logs; the index lists exactly the conversations; lock files belong to conversations;
//! sessions point at existing conversations and at panes that still exist; unanswered messages
//! kept as drafts. Also notes Zellij sessions whose plugin stopped answering panechat's
//! messages. A repair moves bad bytes into side files next to the log (`<id>.jsonl.torn-*`,
//! `<id>.jsonl.corrupt-*`) instead of deleting them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lock;
use crate::paths::Paths;
use crate::store::conversation::{ConversationId, Record, Summary};
use crate::store::{atomic, index, log, mapping, Store};

/// One thing the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Something wrong, and whether the repair fixed it.
    Problem {
        /// What is wrong, naming the file, session or conversation.
        text: String,
        /// Fixed by this run's repair.
        fixed: bool,
    },
    /// The store's directories cannot be read past (a problem above blocks them), so the
    /// other checks did not run.
    Blocked,
    /// Worth knowing, not a problem of the store.
    Note(String),
}

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The data directory checked.
    pub store: PathBuf,
    /// How many conversations it holds (`None` when the checks were blocked).
    pub conversations: Option<usize>,
    /// Whether this run repaired.
    pub repair: bool,
    /// In the order found.
    pub findings: Vec<Finding>,
}

impl Report {
    /// How many problems were found.
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| matches!(f, Finding::Problem { .. }))
            .count()
    }

    /// How many problems this run fixed.
    pub fn fixed(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| matches!(f, Finding::Problem { fixed: true, .. }))
            .count()
    }

    /// How many problems are left.
    pub fn left(&self) -> usize {
        self.problems() - self.fixed()
    }
}

/// How many unanswered messages are named one by one.
const DRAFTS_SHOWN: usize = 10;

/// Checks the store of `store`, repairing what can be repaired when `repair` is set.
pub fn check(store: &Store, repair: bool) -> Result<Report> {
    let mut c = Checker {
        store,
        p: &store.paths,
        fix: repair,
        report: Report {
            store: store.paths.data.clone(),
            conversations: None,
            repair,
            findings: Vec::new(),
        },
    };
    // What panechat refuses to use comes first: the other checks cannot read past it.
    if c.refused() > 0 {
        c.report.findings.push(Finding::Blocked);
        return Ok(c.report);
    }
    c.loose_dirs();
    c.litter();
    let ids = store.ids()?;
    c.leftovers();
    let healthy = c.logs(&ids);
    c.index(&healthy)?;
    c.orphan_locks();
    c.dangling_sessions()?;
    c.closed_zellij_panes()?;
    c.drafts();
    c.zellij_plugins();
    c.report.conversations = Some(ids.len());
    Ok(c.report)
}

struct Checker<'a> {
    store: &'a Store,
    p: &'a Paths,
    fix: bool,
    report: Report,
}

impl Checker<'_> {
    fn problem(&mut self, text: String, fixed: bool) {
        self.report.findings.push(Finding::Problem { text, fixed });
    }

    fn note(&mut self, text: String) {
        self.report.findings.push(Finding::Note(text));
    }

    /// Links, FIFOs, another user's files and loose directories; returns how many are left.
    fn refused(&mut self) -> usize {
        let mut blocked = 0;
        for f in crate::files::audit(&self.p.data)
            .into_iter()
            .chain(crate::files::audit(&self.p.state))
        {
            let ok = self.fix && f.tightenable && crate::files::tighten_dir(&f.path).is_ok();
            if !ok {
                blocked += 1;
            }
            self.problem(f.problem, ok);
        }
        blocked
    }

    fn loose_dirs(&mut self) {
        let p = self.p;
        for dir in [
            &p.data,
            &p.state,
            &p.conversations(),
            &p.sessions(),
            &p.locks(),
        ] {
            let Ok(m) = fs::symlink_metadata(dir) else {
                continue;
            };
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 != 0 && !m.file_type().is_symlink() {
                let ok =
                    self.fix && fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).is_ok();
                self.problem(
                    format!(
                        "{} is readable by others (mode {mode:o}); should be 700",
                        dir.display()
                    ),
                    ok,
                );
            }
        }
    }

    /// Temp files of writers that were killed before renaming them.
    fn litter(&mut self) {
        let p = self.p;
        for path in atomic::litter(&[
            p.data.clone(),
            p.conversations(),
            p.state.clone(),
            p.sessions(),
            p.agents(),
            p.drafts(),
            p.runs(),
            p.locks(),
            p.logs(),
        ]) {
            let ok = self.fix && fs::remove_file(&path).is_ok();
            self.problem(
                format!(
                    "{}: a temp file left by an interrupted write (its writer is gone; it holds nothing that was stored)",
                    path.display()
                ),
                ok,
            );
        }
    }

    /// Derived files of a conversation whose log is gone (a removal that was interrupted).
    fn leftovers(&mut self) {
        let store = self.store;
        for e in crate::paths::list_dir(&self.p.conversations()).unwrap_or_default() {
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
            if store.exists(&id) {
                continue;
            }
            let ok = self.fix
                && repair_locked(store, &id, || {
                    if store.exists(&id) {
                        return Ok(());
                    }
                    fs::remove_file(e.path()).map_err(|err| Error::io(e.path(), err))
                });
            self.problem(
                format!(
                    "{}: left by a removal that was interrupted (its log is gone)",
                    e.path().display()
                ),
                ok,
            );
        }
    }

    /// Every log; returns the summaries of those that load (after repair).
    fn logs(&mut self, ids: &[ConversationId]) -> Vec<Summary> {
        let mut healthy = Vec::new();
        for id in ids {
            let path = self.store.log_path(id);
            let bytes = fs::read(&path).unwrap_or_default();
            if !bytes.contains(&b'\n') {
                // Not one complete record: a conversation whose creation was interrupted by
                // an older version (logs are now linked into place whole). It never held a turn.
                let ok = self.fix
                    && repair_locked(self.store, id, || discard_unborn(self.store, id, &bytes));
                self.problem(
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
                        let ok = self.fix
                            && repair_locked(self.store, id, || {
                                log::repair_torn_tail(&path).map(|_| ())
                            });
                        self.problem(format!("{}: an incomplete last record (an interrupted write; never acknowledged){}", path.display(), if ok { ", moved to a .torn side file" } else { "" }), ok);
                    }
                    let summary = conv.summary();
                    self.derived(id, &conv, &summary);
                    healthy.push(summary);
                }
                Err(Error::Corrupt { line, msg, .. }) => {
                    let ok = self.fix && repair_locked(self.store, id, || quarantine(&path));
                    self.problem(
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
                    if ok && rewrite_summary(self.store, id) {
                        if let Ok(conv) = log::load(&path) {
                            healthy.push(conv.summary());
                        }
                    }
                }
                Err(e) => self.problem(format!("{}: {e}", path.display()), false),
            }
        }
        healthy
    }

    /// A log's summary and history cache, against what the log says.
    fn derived(
        &mut self,
        id: &ConversationId,
        conv: &crate::store::conversation::Conversation,
        summary: &Summary,
    ) {
        let stored = self.store.read_summary_file(id);
        if stored.as_ref().map(|s| (s.turns, &s.title)) != Some((summary.turns, &summary.title)) {
            let ok = self.fix && rewrite_summary(self.store, id);
            self.problem(format!("{}: summary out of date", id), ok);
            return;
        }
        let Some(stored) = stored else {
            return;
        };
        // The history cache a query would send must be exactly the log's turns.
        let path = self.store.log_path(id);
        let in_step =
            stored.log_len > 0 && fs::metadata(&path).map(|m| m.len()).ok() == Some(stored.log_len);
        if !in_step {
            return;
        }
        let expected: Vec<u8> = conv
            .turns
            .iter()
            .flat_map(crate::store::conversation::encode_history)
            .collect();
        let actual = crate::files::read(&self.store.history_path(id)).unwrap_or_default();
        if actual != expected {
            // Forgetting the recorded sizes makes the next query rebuild it.
            let ok = self.fix && rewrite_summary(self.store, id);
            self.problem(format!("{}: history cache does not match the log", id), ok);
        }
    }

    /// The index: the same conversations, with what their logs say.
    fn index(&mut self, healthy: &[Summary]) -> Result<()> {
        let p = self.p;
        let read = index::read(&p.index())?;
        let key = |s: &Summary| (s.id.to_string(), s.turns, s.title.clone());
        let mut listed: Vec<_> = read.summaries.iter().map(key).collect();
        listed.sort();
        let mut actual: Vec<_> = healthy.iter().map(key).collect();
        actual.sort();
        if read.bad_lines.is_empty() && listed == actual {
            return Ok(());
        }
        let stale = listed.iter().filter(|l| !actual.contains(l)).count();
        let store = self.store;
        // Rebuilt from the logs as they are once the index lock is held.
        let ok = self.fix
            && index::rewrite_with(p, || {
                let mut out = Vec::new();
                for id in store.ids()? {
                    if let Ok(c) = store.load(&id) {
                        out.push(c.summary());
                    }
                }
                Ok(out)
            })
            .unwrap_or(false);
        self.problem(format!("the index ({}) does not match the conversations ({} listed, {} exist, {} out of date, {} bad lines)", p.index().display(), listed.len(), actual.len(), stale, read.bad_lines.len()), ok);
        Ok(())
    }

    /// Lock files of conversations that do not exist.
    fn orphan_locks(&mut self) {
        let Ok(entries) = fs::read_dir(self.p.locks()) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(id) = name
                .strip_suffix(".lock")
                .and_then(ConversationId::from_trusted)
            else {
                continue;
            };
            if self.store.exists(&id) {
                continue;
            }
            // Held: a query creating that conversation with its first turn right now.
            let Ok(Some(g)) = lock::try_acquire(&e.path()) else {
                continue;
            };
            let ok = self.fix && g.unlink().is_ok();
            self.problem(
                format!("lock file without a conversation: {}", e.path().display()),
                ok,
            );
        }
    }

    /// Sessions pointing at missing conversations.
    fn dangling_sessions(&mut self) -> Result<()> {
        let (p, store) = (self.p, self.store);
        for rec in mapping::all(p)? {
            let missing: Vec<_> = rec
                .active
                .iter()
                .chain(rec.previous.iter())
                .filter(|id| !store.exists(id))
                .cloned()
                .collect();
            if missing.is_empty() {
                continue;
            }
            let session = rec.pane.to_session(rec.server.clone());
            let ok = self.fix
                && missing
                    .iter()
                    .all(|id| mapping::forget(p, &session, id, &|c| store.exists(c)).is_ok());
            self.problem(
                format!(
                    "session {} refers to {} deleted conversation(s)",
                    rec.pane.session,
                    missing.len()
                ),
                ok,
            );
        }
        Ok(())
    }

    /// Zellij panes closed in a session that still runs: their mappings would be listed and
    /// published to (a new pane may get the id); one `list-panes` per session.
    fn closed_zellij_panes(&mut self) -> Result<()> {
        let p = self.p;
        let probe = crate::prune::Cached::new(&crate::adapters::exec::RealExec);
        let live = crate::runs::live(p).unwrap_or_default();
        for rec in mapping::all(p)? {
            if rec.pane.multiplexer != crate::session::Multiplexer::Zellij
                || !rec.instance_live()
                || live.iter().any(|r| r.pane.session == rec.pane.session)
            {
                continue;
            }
            if let crate::prune::Liveness::Gone(why) = crate::prune::check_with(&rec, true, &probe)
            {
                let ok = self.fix && mapping::remove(p, &rec.pane.session).is_ok();
                self.problem(
                    format!(
                        "session {} maps a pane that is gone ({why}); `panechat sessions --prune` (or `doctor --repair`) forgets it, keeping its conversations",
                        rec.pane.session
                    ),
                    ok,
                );
            }
        }
        Ok(())
    }

    /// Drafts: a message whose turn is stored is not offered again; the others are named,
    /// each with its session, so that one of a pane that is gone (a restarted multiplexer)
    /// can still be sent: `--retry` runs in that session.
    fn drafts(&mut self) {
        let mut drafts = Vec::new();
        for (path, d) in self.store.all_drafts() {
            if d.in_progress() {
                continue;
            }
            if self.store.draft_answered(&d) {
                let ok = self.fix && self.store.clear_draft(&d).is_ok();
                self.problem(
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
        for d in drafts.iter().take(DRAFTS_SHOWN) {
            let snippet: String = d.message.chars().take(40).collect();
            let conv = d
                .conversation
                .as_ref()
                .map(|c| format!(" for {}", c.short()))
                .unwrap_or_default();
            self.note(format!(
                "an unanswered message of session {}{conv} (\"{}\") is kept; `panechat q --retry` in that pane sends it again, or from anywhere: PANECHAT_SESSION={} panechat q --retry",
                d.session,
                snippet.trim(),
                crate::shell::quote(d.session.as_str())
            ));
        }
        if drafts.len() > DRAFTS_SHOWN {
            self.note(format!(
                "and {} more unanswered message(s)",
                drafts.len() - DRAFTS_SHOWN
            ));
        }
    }

    /// Not the store's, but what `doctor` is run for when something looks off: a Zellij
    /// session whose plugin stopped answering (pane names and the picker are then stale).
    fn zellij_plugins(&mut self) {
        for (session, age) in crate::adapters::zellij::unanswered(&self.p.state) {
            self.note(format!(
                "Zellij session '{}': the panechat plugin did not answer ({} ago),\n  so pane names and its picker are stale there. Is it loaded? (docs/zellij.md)",
                crate::title::sanitize_title(&session),
                crate::time::short_duration(age),
            ));
        }
    }
}

/// Rewrites a conversation's summary from its log, under the conversation's lock (so a query
/// appending at the same time is never overwritten with an older summary).
fn rewrite_summary(store: &Store, id: &ConversationId) -> bool {
    repair_locked(store, id, || {
        let s = log::load(&store.log_path(id))?.summary();
        store.write_summary(&s)
    })
}

/// Runs `f` holding the conversation's lock; false when the lock is held or `f` fails.
fn repair_locked(store: &Store, id: &ConversationId, f: impl FnOnce() -> Result<()>) -> bool {
    match lock::try_acquire(&store.lock_path(id)) {
        Ok(Some(_g)) => f().is_ok(),
        _ => false,
    }
}

/// Removes a conversation whose log never got a complete record (its bytes, if any, are kept
/// in a `.torn-*` side file) with its derived files.
fn discard_unborn(store: &Store, id: &ConversationId, bytes: &[u8]) -> Result<()> {
    let path = store.log_path(id);
    if !bytes.is_empty() {
        atomic::write_atomic(&log::torn_path(&path), bytes)?;
    }
    for f in [path.clone(), store.summary_path(id), store.history_path(id)] {
        match fs::remove_file(&f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&f, e)),
        }
    }
    atomic::sync_dir(&store.paths.conversations())
}

/// Moves lines that do not parse (and a torn tail) into a side file and rewrites the log
/// with the rest.
fn quarantine(path: &Path) -> Result<()> {
    let bytes = crate::files::read(path).map_err(|e| Error::io(path, e))?;
    let (good, bad) = split_bad_lines(&bytes).ok_or_else(|| Error::NoHeader {
        path: path.to_path_buf(),
    })?;
    let mut side = path.as_os_str().to_owned();
    side.push(format!(".corrupt-{}", crate::time::now_ms()));
    atomic::write_atomic(Path::new(&side), &bad)?;
    atomic::write_atomic(path, &good)
}

/// A log's bytes split into the lines to keep and the side file's text (each bad line after
/// a `# line N` marker); `None` when no header would be kept.
fn split_bad_lines(bytes: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut seen_header = false;
    for (i, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let complete = line.ends_with(b"\n");
        let ok = complete
            && match log::parse_record(body) {
                Ok(Some(Record::Header(_))) => !std::mem::replace(&mut seen_header, true),
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
    seen_header.then_some((good, bad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewConversation;

    fn store(name: &str) -> Store {
        crate::store::temp_store("doctor", name)
    }

    fn problems(r: &Report) -> Vec<(&str, bool)> {
        r.findings
            .iter()
            .filter_map(|f| match f {
                Finding::Problem { text, fixed } => Some((text.as_str(), *fixed)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_healthy_store_has_no_problem() {
        let st = store("healthy");
        st.create(NewConversation::default()).unwrap();
        let r = check(&st, false).unwrap();
        assert_eq!(problems(&r), vec![]);
        assert_eq!(r.conversations, Some(1));
        assert_eq!((r.problems(), r.left()), (0, 0));
        let _ = fs::remove_dir_all(st.paths.data.parent().unwrap());
    }

    #[test]
    fn a_bad_line_is_found_then_moved_aside_by_a_repair() {
        let st = store("corrupt");
        let id = st.create(NewConversation::default()).unwrap().value.id;
        let log = st.log_path(&id);
        let mut bytes = fs::read(&log).unwrap();
        bytes.extend_from_slice(b"{not json\n");
        fs::write(&log, &bytes).unwrap();

        let r = check(&st, false).unwrap();
        let found = problems(&r);
        // The log, and the index that lists a conversation that does not load.
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].0.starts_with(&format!("{}:2: ", log.display())));
        assert!(found[1].0.starts_with("the index ("));
        assert_eq!((r.fixed(), r.left()), (0, 2));

        // Once the log is repaired, the index lists it as it is.
        let r = check(&st, true).unwrap();
        assert_eq!((r.fixed(), r.left()), (1, 0), "{:?}", r.findings);
        assert!(problems(&r)[0]
            .0
            .ends_with("; bad lines moved to a .corrupt side file"));
        let side: Vec<_> = crate::paths::list_dir(&st.paths.conversations())
            .unwrap()
            .into_iter()
            .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
            .collect();
        assert_eq!(side.len(), 1);
        assert_eq!(
            fs::read_to_string(side[0].path()).unwrap(),
            "# line 2\n{not json\n"
        );
        assert_eq!(check(&st, false).unwrap().problems(), 0);
        let _ = fs::remove_dir_all(st.paths.data.parent().unwrap());
    }

    #[test]
    fn a_lock_without_its_conversation_is_removed_by_a_repair() {
        let st = store("lock");
        let id = ConversationId::generate();
        drop(lock::acquire(&st.lock_path(&id)).unwrap());
        let r = check(&st, false).unwrap();
        assert_eq!(
            problems(&r),
            vec![(
                format!(
                    "lock file without a conversation: {}",
                    st.lock_path(&id).display()
                )
                .as_str(),
                false
            )]
        );
        assert_eq!(check(&st, true).unwrap().fixed(), 1);
        assert!(!st.lock_path(&id).exists());
        let _ = fs::remove_dir_all(st.paths.data.parent().unwrap());
    }

    #[test]
    fn a_link_in_the_store_blocks_the_other_checks_until_it_is_gone() {
        let st = store("blocked");
        let link = st.paths.conversations().join("x.jsonl");
        std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
        // A problem the other checks would report is not looked for.
        drop(lock::acquire(&st.lock_path(&ConversationId::generate())).unwrap());
        let r = check(&st, true).unwrap();
        assert_eq!(r.findings.last(), Some(&Finding::Blocked));
        assert_eq!((r.problems(), r.fixed(), r.conversations), (1, 0, None));
        assert!(problems(&r)[0].0.contains(&link.display().to_string()));
        fs::remove_file(&link).unwrap();
        let r = check(&st, false).unwrap();
        assert_eq!(r.conversations, Some(0));
        assert!(problems(&r)[0]
            .0
            .starts_with("lock file without a conversation"));
        let _ = fs::remove_dir_all(st.paths.data.parent().unwrap());
    }

    #[test]
    fn an_unanswered_message_is_a_note_naming_how_to_send_it_from_anywhere() {
        let st = store("draft");
        let id = st.create(NewConversation::default()).unwrap().value.id;
        st.save_draft(&crate::store::Draft {
            session: crate::session::SessionKey::normalize("unix:pane").unwrap(),
            message_id: String::new(),
            conversation: Some(id.clone()),
            new_conversation: None,
            message: "  why does it fail?".into(),
            attachments: Vec::new(),
            partial_reply: String::new(),
            error: "connection refused".into(),
            at: crate::time::now_rfc3339(),
            pid: 0,
            start: 0,
        })
        .unwrap();
        let r = check(&st, false).unwrap();
        assert_eq!(r.problems(), 0, "{:?}", r.findings);
        assert_eq!(
            r.findings,
            vec![Finding::Note(format!(
                "an unanswered message of session unix:pane for {} (\"why does it fail?\") is kept; `panechat q --retry` in that pane sends it again, or from anywhere: PANECHAT_SESSION='unix:pane' panechat q --retry",
                id.short()
            ))]
        );
        let _ = fs::remove_dir_all(st.paths.data.parent().unwrap());
    }

    #[test]
    fn a_log_without_its_header_is_left_as_it_is() {
        assert!(split_bad_lines(b"{not json\n").is_none());
        let st = store("headless");
        let path = st.paths.conversations().join("x.jsonl");
        fs::write(&path, b"{not json\n").unwrap();
        let e = quarantine(&path).unwrap_err();
        assert!(matches!(e, Error::NoHeader { .. }), "{e:?}");
        assert_eq!(fs::read(&path).unwrap(), b"{not json\n");
        let _ = fs::remove_dir_all(st.paths.data.parent().unwrap());
    }
}
