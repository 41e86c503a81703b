//! `TestEnv`: an isolated panechat world for one end-to-end test.
//!
//! Each environment has its own temp root, `PANECHAT_HOME`, `HOME` and config; the panechat
//! binary runs with a cleared environment plus only what the test sets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The built `panechat` binary (built on first use, in the profile of the running tests).
pub fn panechat_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build_bin("panechat", "panechat"))
        .clone()
}

/// The profile directory (`target/<profile>`) of the running executable: a test runs from
/// `target/<profile>/deps/`, a binary such as `panechat-bench` from `target/<profile>/`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the running executable's path");
    let mut dir = exe.parent().expect("target dir").to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    dir
}

/// Builds binary `bin` of workspace package `package` with cargo, in the profile and target
/// directory of the running executable, and returns its path.
///
/// # Panics
/// If cargo cannot be run or the build fails.
pub fn build_bin(package: &str, bin: &str) -> PathBuf {
    let profile_dir = profile_dir();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", package, "--bin", bin])
        .arg("--manifest-path")
        .arg(&manifest);
    if release {
        cmd.arg("--release");
    }
    if let Some(target) = profile_dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    // Cargo gives a running test its own package's variables; build scripts (ring's) rerun when
    // these change, so passing them on would rebuild the dependencies at every switch between
    // `cargo test` and this build.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_PRIMARY_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|p| k.starts_with(p))
            || k == "CARGO_TARGET_TMPDIR"
            || k == "OUT_DIR"
        {
            cmd.env_remove(&*k);
        }
    }
    let st = cmd
        .status()
        .unwrap_or_else(|e| panic!("running cargo build for the {bin} binary: {e}"));
    assert!(st.success(), "building {bin} failed");
    profile_dir.join(bin)
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A private temp root with `PANECHAT_HOME`, `HOME` and a config file.
pub struct TestEnv {
    /// The temp root.
    pub root: PathBuf,
    /// Extra environment for every command.
    pub env: BTreeMap<String, String>,
    keep: bool,
}

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// What a finished process printed and how it ended.
    pub fn from_output(o: Output) -> Run {
        Run::from(o)
    }

    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Panics with the output unless the command succeeded.
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "command failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Panics unless the command exited with `code`.
    #[track_caller]
    pub fn code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "unexpected exit code:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    /// A fresh environment (session `test`, no provider configured).
    pub fn new() -> TestEnv {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let root = std::env::temp_dir().join(format!("panechat-e2e-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("home")).unwrap();
        std::fs::create_dir_all(root.join("work")).unwrap();
        let mut env = BTreeMap::new();
        env.insert(
            "PANECHAT_HOME".into(),
            root.join("pc").display().to_string(),
        );
        env.insert("HOME".into(), root.join("home").display().to_string());
        env.insert("PANECHAT_SESSION".into(), "test".into());
        env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
        env.insert("LANG".into(), "C.UTF-8".into());
        // The key the config written by `use_openai` names (the fake server accepts any).
        env.insert(
            crate::fake::FAKE_API_KEY_ENV.into(),
            crate::fake::FAKE_API_KEY.into(),
        );
        TestEnv {
            root,
            env,
            keep: std::env::var_os("PANECHAT_KEEP_TEST_DIRS").is_some(),
        }
    }

    /// The panechat home.
    pub fn home(&self) -> PathBuf {
        PathBuf::from(&self.env["PANECHAT_HOME"])
    }

    /// Writes the user config file.
    pub fn write_config(&self, toml: &str) {
        std::fs::create_dir_all(self.home()).unwrap();
        std::fs::write(self.home().join("config.toml"), toml).unwrap();
    }

    /// Points the config at an OpenAI-compatible server (titles on), with a short lock wait.
    pub fn use_openai(&self, base_url: &str) {
        self.write_config(&format!(
            "[provider]\nkind = \"openai\"\nbase_url = \"{base_url}\"\nmodel = \"fake-model\"\napi_key_env = \"PANECHAT_FAKE_API_KEY\"\nidle_timeout = \"10s\"\n[lock]\nwait = \"2s\"\n"
        ));
    }

    /// A `panechat` command with this environment (stdin null unless changed).
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut c = Command::new(panechat_bin());
        c.env_clear()
            .envs(&self.env)
            .args(args)
            .current_dir(self.root.join("work"))
            .stdin(Stdio::null());
        c
    }

    /// A `panechat` command run under `strace` with `strace_args` (e.g. `-e
    /// inject=fdatasync:signal=SIGKILL:when=1`), so a kill is placed at an exact syscall.
    pub fn cmd_traced<I, S>(&self, strace_args: &[&str], args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut c = Command::new("strace");
        c.env_clear()
            .envs(&self.env)
            .args(strace_args)
            .arg("--")
            .arg(panechat_bin())
            .args(args)
            .current_dir(self.root.join("work"))
            .stdin(Stdio::null());
        c
    }

    /// Runs panechat under `strace` to completion (see [`TestEnv::cmd_traced`]); a command
    /// killed by an injected signal ends with code -1 or 128 + the signal (strace's own status).
    pub fn run_traced<I, S>(&self, strace_args: &[&str], args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Run::from(
            self.cmd_traced(strace_args, args)
                .output()
                .expect("running strace (is it installed?)"),
        )
    }

    /// Runs panechat to completion.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Run::from(self.cmd(args).output().expect("running panechat"))
    }

    /// Runs panechat in session `session`.
    pub fn run_in<I, S>(&self, session: &str, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Run::from(
            self.cmd(args)
                .env("PANECHAT_SESSION", session)
                .output()
                .expect("running panechat"),
        )
    }

    /// Runs panechat with `input` on stdin.
    pub fn run_stdin<I, S>(&self, args: I, input: &[u8]) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let t = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let o = child.wait_with_output().unwrap();
        t.join().unwrap();
        Run::from(o)
    }

    /// Runs `cmd` (from [`TestEnv::cmd`] or any command) to completion, and panics with what it
    /// printed so far when it has not exited within `limit`: for commands that must never block.
    #[track_caller]
    pub fn run_within(cmd: &mut Command, limit: std::time::Duration) -> Run {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the command");
        let deadline = std::time::Instant::now() + limit;
        while child.try_wait().expect("waiting for the command").is_none() {
            if std::time::Instant::now() >= deadline {
                let _ = child.kill();
                let o = child.wait_with_output().expect("collecting its output");
                panic!(
                    "{cmd:?} did not exit within {limit:?} (blocked?)\nstdout:\n{}\nstderr:\n{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Run::from(child.wait_with_output().expect("collecting its output"))
    }

    /// Every file under the root that is not under `PANECHAT_HOME`, `home/` or `work/`.
    pub fn stray_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.root).unwrap().flatten() {
            let n = e.file_name();
            if n != "pc" && n != "home" && n != "work" {
                out.push(e.path());
            }
        }
        out
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}
