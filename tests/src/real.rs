//! Which real programs a test drives, and what happens when one is missing.
//!
//! The README's test command (`scripts/test.sh`, which CI runs) installs every program the
//! tests drive and sets `PANECHAT_TESTS=all`: there a missing program fails the test. A plain
//! `cargo test` is the fast tier: a test whose program is missing says so on stderr (the line
//! shows even though the harness captures test output) and returns, so the rest still runs.
//! With `CI` set, missing programs fail too.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Whether every real-program test must run (`PANECHAT_TESTS=all`, or `CI` set).
pub fn required() -> bool {
    std::env::var("PANECHAT_TESTS").is_ok_and(|v| v == "all")
        || std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Why `tool` cannot run here, or `None` when it can. Each is asked once per test binary.
pub fn missing(tool: &str) -> Option<String> {
    static TMUX: OnceLock<Option<String>> = OnceLock::new();
    static ZELLIJ: OnceLock<Option<String>> = OnceLock::new();
    static OTHER: std::sync::Mutex<Vec<(String, Option<String>)>> =
        std::sync::Mutex::new(Vec::new());
    match tool {
        "tmux" => TMUX.get_or_init(|| runs("tmux", &["-V"])).clone(),
        "zellij" => ZELLIJ
            .get_or_init(|| {
                let want = crate::zellij::ZELLIJ_VERSION;
                match Command::new("zellij").arg("--version").output() {
                    Ok(o) if String::from_utf8_lossy(&o.stdout).trim() == want => wasm_target(),
                    Ok(o) => Some(format!(
                        "`zellij --version` says {:?}, the tests need {want:?}",
                        String::from_utf8_lossy(&o.stdout).trim()
                    )),
                    Err(e) => Some(format!("zellij cannot run ({e})")),
                }
            })
            .clone(),
        "tpm" => {
            let tpm = std::path::Path::new("/usr/share/tmux-plugin-manager/tpm");
            (!tpm.exists()).then(|| {
                format!(
                    "{} is missing (Debian's tmux-plugin-manager)",
                    tpm.display()
                )
            })
        }
        "claude" | "codex" => {
            let mut known = OTHER.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, why)) = known.iter().find(|(t, _)| t == tool) {
                return why.clone();
            }
            let why = crate::agents::missing(tool);
            known.push((tool.to_string(), why.clone()));
            why
        }
        other => {
            let mut known = OTHER.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, why)) = known.iter().find(|(t, _)| t == other) {
                return why.clone();
            }
            let why = runs(other, &["--version"]);
            known.push((other.to_string(), why.clone()));
            why
        }
    }
}

/// `None` when `program ARGS` can be started, else why not.
fn runs(program: &str, args: &[&str]) -> Option<String> {
    match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => None,
        Err(e) => Some(format!("{program} cannot run ({e})")),
    }
}

/// `None` when the Zellij plugin can be had: `PANECHAT_ZELLIJ_WASM`, or the `wasm32-wasip1`
/// target to build it.
fn wasm_target() -> Option<String> {
    if std::env::var_os("PANECHAT_ZELLIJ_WASM").is_some() {
        return None;
    }
    let sysroot = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())?;
    let dir = std::path::Path::new(&sysroot).join("lib/rustlib/wasm32-wasip1");
    (!dir.is_dir()).then(|| {
        "the wasm32-wasip1 target is not installed (`rustup target add wasm32-wasip1`)".into()
    })
}

/// Whether the calling test can drive `tools`: true when all can run; otherwise panics when
/// [`required`], else writes a `SKIP` line naming the test and the reason to stderr and returns
/// false. Use it through [`needs!`](crate::needs).
pub fn can_run(tools: &[&str]) -> bool {
    let why: Vec<String> = tools.iter().filter_map(|t| missing(t)).collect();
    if why.is_empty() {
        return true;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let why = why.join("; ");
    assert!(
        !required(),
        "{test}: {why}; scripts/test.sh installs every program the tests drive"
    );
    // Straight to the file descriptor: the harness captures `eprintln!`, not this.
    let _ = writeln!(
        std::io::stderr(),
        "SKIP {test}: {why} (scripts/test.sh installs it and runs every test)"
    );
    false
}

/// Returns from the calling test unless every named program can run (see [`can_run`]):
/// `needs!("tmux");` as a test's first line.
#[macro_export]
macro_rules! needs {
    ($($tool:literal),+ $(,)?) => {
        if !$crate::real::can_run(&[$($tool),+]) {
            return;
        }
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_missing_program_skips_the_test_or_fails_it_when_all_are_required() {
        let r = std::panic::catch_unwind(|| super::can_run(&["panechat-no-such-program"]));
        if super::required() {
            let msg = r.expect_err("a missing program must fail the test");
            let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(msg.contains("panechat-no-such-program"), "{msg}");
        } else {
            assert_eq!(r.ok(), Some(false));
        }
        assert!(super::can_run(&["sh"]));
    }
}
