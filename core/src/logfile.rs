//! panechat's log: `state/logs/panechat.log`, one line per event, every line labelled with the
//! session it came from (`[tmux %3]`), so the work of many panes can be told apart. The file is
//! rotated by size (`panechat.log.1`, `.2`, `.3`), so it never holds more than about
//! `(KEEP + 1) × MAX_LOG_BYTES`. Message text is never logged, only sizes.
//!
//! A query writes one short `INFO` line (or one `ERROR` line); `DEBUG` lines are written only
//! with `-v` (which also mirrors every line to stderr) or `PANECHAT_LOG=debug`.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use crate::paths::{ensure_dir, Paths};
use crate::session::Session;

/// Rotate when the log passes this size.
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;
/// Rotated files kept.
pub const KEEP: usize = 3;

/// Appends labelled lines to the log (and mirrors them to stderr when asked).
#[derive(Debug, Clone)]
pub struct Logger {
    path: PathBuf,
    label: String,
    mirror: bool,
    debug: bool,
}

/// The label of a session: `[tmux %3]`, `[zellij 4]`, `[explicit work]`.
pub fn label(session: &Session) -> String {
    let who = session
        .pane
        .clone()
        .unwrap_or_else(|| session.key.to_string());
    let who: String = who.chars().take(40).collect();
    format!("[{} {}]", session.multiplexer, who)
}

impl Logger {
    /// A logger for `session`; `mirror` copies every line to stderr (`-v`) and writes `DEBUG`
    /// lines too, which are otherwise dropped.
    pub fn new(paths: &Paths, session: Option<&Session>, mirror: bool) -> Logger {
        Logger {
            path: paths.logs().join("panechat.log"),
            label: session.map(label).unwrap_or_else(|| "[-]".into()),
            mirror,
            debug: mirror,
        }
    }

    /// Writes `DEBUG` lines to the file too when `on` (`PANECHAT_LOG=debug`).
    pub fn with_debug(mut self, on: bool) -> Logger {
        self.debug |= on;
        self
    }

    /// Whether `PANECHAT_LOG` in `env` asks for `DEBUG` lines (`debug`).
    pub fn debug_wanted(env: &crate::env::Env) -> bool {
        env.get("PANECHAT_LOG")
            .is_some_and(|v| v.eq_ignore_ascii_case("debug"))
    }

    /// The log file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Writes one line: `TIME LEVEL [mux pane] pid=N message` (a `DEBUG` one only when asked
    /// for). Failures to log are ignored.
    pub fn log(&self, level: &str, msg: &str) {
        if level == "DEBUG" && !self.debug {
            return;
        }
        let clean: String = msg
            .chars()
            .map(|c| if crate::title::is_control(c) { ' ' } else { c })
            .collect();
        let line = format!(
            "{} {level} {} pid={} {clean}\n",
            crate::time::now_rfc3339(),
            self.label,
            std::process::id()
        );
        if self.mirror {
            eprintln!("panechat: {level} {} {clean}", self.label);
        }
        let Some(dir) = self.path.parent() else {
            return;
        };
        if ensure_dir(dir).is_err() {
            return;
        }
        let open = || crate::files::open_private(&self.path, crate::files::Access::Append);
        let Ok((mut f, meta)) = open() else { return };
        if meta.len() > MAX_LOG_BYTES {
            self.rotate();
            let Ok((g, _)) = open() else { return };
            f = g;
        }
        let _ = f.write_all(line.as_bytes());
    }

    fn rotate(&self) {
        for i in (1..KEEP).rev() {
            let _ = fs::rename(self.rotated(i), self.rotated(i + 1));
        }
        let _ = fs::rename(&self.path, self.rotated(1));
    }

    fn rotated(&self, i: usize) -> PathBuf {
        let mut s = self.path.as_os_str().to_owned();
        s.push(format!(".{i}"));
        PathBuf::from(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;

    #[test]
    fn labels_lines_and_rotates() {
        let root = std::env::temp_dir().join(format!("pc-logfile-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let env = Env::from_pairs([("PANECHAT_HOME", root.display().to_string())]);
        let paths = Paths::resolve(&env).unwrap();
        let s = crate::session::resolve(&Env::from_pairs([
            ("TMUX", "/tmp/s,1,0"),
            ("TMUX_PANE", "%3"),
        ]))
        .unwrap();
        let log = Logger::new(&paths, Some(&s), false);
        log.log("INFO", "query started\x1b[2J");
        log.log("DEBUG", "detail one");
        log.clone().with_debug(true).log("DEBUG", "detail two");
        let text = fs::read_to_string(log.path()).unwrap();
        assert!(text.contains(" INFO [tmux %3] pid="), "{text}");
        assert!(!text.contains('\x1b'));
        assert!(
            !text.contains("detail one"),
            "DEBUG is off by default: {text}"
        );
        assert!(text.contains(" DEBUG [tmux %3] pid=") && text.contains("detail two"));
        assert!(Logger::debug_wanted(&Env::from_pairs([(
            "PANECHAT_LOG",
            "debug"
        )])));
        assert!(!Logger::debug_wanted(&Env::from_pairs([(
            "PANECHAT_LOG",
            "info"
        )])));
        let big = "x".repeat(4096);
        for _ in 0..(MAX_LOG_BYTES as usize / 4096 + 2) {
            log.log("INFO", &big);
        }
        assert!(log.rotated(1).exists());
        assert!(fs::metadata(log.path()).unwrap().len() < MAX_LOG_BYTES);
        // However much is logged, at most KEEP rotated files stay beside it.
        for _ in 0..(KEEP + 1) * (MAX_LOG_BYTES as usize / 4096 + 2) {
            log.log("INFO", &big);
        }
        assert!(log.rotated(KEEP).exists());
        assert!(!log.rotated(KEEP + 1).exists());
        for i in 1..=KEEP {
            assert!(fs::metadata(log.rotated(i)).unwrap().len() <= MAX_LOG_BYTES + 4200);
        }
        fs::remove_dir_all(&root).unwrap();
    }
}
