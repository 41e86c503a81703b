//! Real headless Zellij 0.45.1 for the plugin tests and the benchmark: a private `HOME`,
//! `XDG_*`, `ZELLIJ_SOCKET_DIR` and `TMPDIR` per session, the config printed by
//! `panechat init zellij --plugin file:<built wasm>`, a pre-seeded `permissions.kdl`, and a
//! client attached on a pty (plugins get events only with a client).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::env::{panechat_bin, profile_dir, TestEnv};
use serde_json::Value;
use std::os::unix::process::CommandExt;

/// The Zellij release the plugin targets.
pub const ZELLIJ_VERSION: &str = "zellij 0.45.1";

/// The plugin's `.wasm`, built once (release, wasm32-wasip1, by `scripts/zellij-plugin.sh`) into
/// `<target>/zellij-plugin`.
pub fn wasm() -> PathBuf {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        if let Some(p) = std::env::var_os("PANECHAT_ZELLIJ_WASM") {
            return PathBuf::from(p);
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/zellij-plugin.sh");
        let target = profile_dir()
            .parent()
            .expect("target dir")
            .join("zellij-plugin");
        // (built as the carried plugin is, so the two can be compared byte for byte)
        let st = Command::new("bash")
            .arg(&script)
            .arg(&target)
            .stdout(Stdio::null())
            .status()
            .expect("running scripts/zellij-plugin.sh");
        assert!(
            st.success(),
            "building the Zellij plugin failed (is the wasm32-wasip1 target installed? \
             `rustup target add wasm32-wasip1`; scripts/test.sh does it)"
        );
        target.join("wasm32-wasip1/release/panechat.wasm")
    })
    .clone()
}

/// Panics with an install hint unless `zellij` on PATH is [`ZELLIJ_VERSION`].
pub fn check_zellij() {
    let v = Command::new("zellij").arg("--version").output();
    let v = v.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    assert_eq!(
        v.as_deref().unwrap_or("not installed"),
        ZELLIJ_VERSION,
        "these tests need {ZELLIJ_VERSION} on PATH; scripts/test.sh installs it \
         (cargo install --locked zellij --version 0.45.1)"
    );
}

/// A private headless Zellij session with the plugin loaded and a client attached on a pty.
pub struct Zellij {
    /// The session's name.
    pub session: String,
    /// Its private root (dirs, sockets, logs under `tmp/`).
    pub root: PathBuf,
    /// The `.wasm` it loads.
    pub wasm: PathBuf,
    /// The environment every `zellij` command and pane gets.
    pub env: Vec<(String, String)>,
    /// The attached client.
    pub client: Option<std::process::Child>,
    /// Its terminal: columns, rows.
    size: (u16, u16),
    /// One Zellij at a time: several sessions at once on a small machine make the timings
    /// these tests wait on (key delivery, pane updates) unreliable.
    _serial: std::sync::MutexGuard<'static, ()>,
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// How a session is started.
pub struct Opts<'a> {
    /// Extra lines for config.kdl's plugin block (`panechat "/x"`).
    pub plugin_option: Option<(&'a str, &'a str)>,
    /// Write permissions.kdl.
    pub grant: bool,
    /// The attached client's terminal: columns, rows.
    pub size: (u16, u16),
    /// More environment for the session (as if Zellij were started where these are set).
    pub env: &'a [(&'a str, &'a str)],
    /// The plugin as a user installs it: `panechat init zellij` (no `--plugin`) writes the one
    /// the binary carries under the session's Zellij config dir, and its lines are the config.
    pub installed: bool,
}

impl Default for Opts<'_> {
    fn default() -> Self {
        Opts {
            plugin_option: None,
            grant: true,
            size: (120, 40),
            env: &[],
            installed: false,
        }
    }
}

/// Whether `key` is panechat's key of terminal pane `pane` of Zellij session `session`
/// (`zellij:<session>~<instance>:<pane>`: the instance names the session's server).
pub fn is_pane_key(key: &str, session: &str, pane: u64) -> bool {
    let Some(rest) = key.strip_prefix("zellij:") else {
        return false;
    };
    let Some((sess, p)) = rest.rsplit_once(':') else {
        return false;
    };
    let name = sess.split_once('~').map_or(sess, |(name, _)| name);
    name == session && p == pane.to_string()
}

impl Zellij {
    /// Starts a session for `env` (its own dirs, the config `panechat init zellij` prints, the
    /// plugin) with a client attached, and waits for its first shell pane.
    pub fn start(env: &TestEnv, opts: Opts<'_>) -> Zellij {
        check_zellij();
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let root = env.root.join("z");
        let home = env.root.join("home");
        let dirs = [
            ("XDG_CONFIG_HOME", home.join(".config")),
            ("XDG_CACHE_HOME", home.join(".cache")),
            ("XDG_DATA_HOME", home.join(".local/share")),
            ("XDG_STATE_HOME", home.join(".local/state")),
            ("XDG_RUNTIME_DIR", root.join("run")),
            ("ZELLIJ_SOCKET_DIR", root.join("s")),
            ("TMPDIR", root.join("tmp")),
        ];
        for (_, d) in &dirs {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::create_dir_all(home.join(".config/zellij")).unwrap();
        std::fs::create_dir_all(home.join(".cache/zellij")).unwrap();
        let wasm = if opts.installed {
            home.join(".config/zellij/plugins/panechat.wasm")
        } else {
            let wasm = root.join("panechat.wasm");
            std::fs::copy(self::wasm(), &wasm).unwrap();
            wasm
        };

        let mut vars: Vec<(String, String)> = env
            .env
            .iter()
            .filter(|(k, _)| k.as_str() != "PANECHAT_SESSION")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, d) in &dirs {
            vars.push((k.to_string(), d.display().to_string()));
        }
        vars.push(("SHELL".into(), "/bin/bash".into()));
        vars.push(("TERM".into(), "xterm-256color".into()));
        vars.push(("PANECHAT_FAKE_API_KEY".into(), "sk-test".into()));
        let bin_dir = panechat_bin().parent().unwrap().display().to_string();
        let path = std::env::var("PATH").unwrap_or_default();
        let path = format!("{bin_dir}:{path}");
        vars.retain(|(k, _)| k != "PATH");
        vars.push(("PATH".into(), path));
        for (k, v) in opts.env {
            vars.retain(|(x, _)| x != k);
            vars.push((k.to_string(), v.to_string()));
        }
        // A quiet shell prompt that the tests can wait for.
        std::fs::write(home.join(".bashrc"), "PS1='$ '\n").unwrap();

        // The config, as printed by `panechat init zellij`.
        let init = if opts.installed {
            let out = env
                .cmd(["init", "zellij"])
                .env("XDG_CONFIG_HOME", home.join(".config"))
                .env_remove("ZELLIJ_CONFIG_DIR")
                .output()
                .unwrap();
            assert!(out.status.success(), "init zellij: {out:?}");
            String::from_utf8(out.stdout).unwrap()
        } else {
            let url = format!("file:{}", wasm.display());
            env.run(["init", "zellij", "--plugin", &url]).ok().stdout
        };
        let mut config =
            String::from("show_startup_tips false\nshow_release_notes false\npane_frames true\nserialization_interval 1\n");
        let init = match opts.plugin_option {
            Some((k, v)) => init.replacen(
                "title_format",
                &format!("{k} \"{v}\"\n        title_format"),
                1,
            ),
            None => init,
        };
        config.push_str(&init);
        std::fs::write(home.join(".config/zellij/config.kdl"), config).unwrap();
        if opts.grant {
            std::fs::write(
                home.join(".cache/zellij/permissions.kdl"),
                format!(
                    "\"{}\" {{\n    ReadApplicationState\n    ChangeApplicationState\n    RunCommands\n    OpenTerminalsOrPlugins\n    ReadCliPipes\n    InterceptInput\n    RunActionsAsUser\n}}\n",
                    wasm.display()
                ),
            )
            .unwrap();
        }
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let session = format!("pc{}-{n}", std::process::id() % 100_000);
        let mut z = Zellij {
            session,
            root,
            wasm,
            env: vars,
            client: None,
            size: opts.size,
            _serial: serial,
        };
        z.boot(&env.root.join("work"));
        z
    }

    /// Starts the session's server (in `work`), waits for its first shell pane and attaches a
    /// client.
    fn boot(&mut self, work: &Path) {
        self.boot_with(work, 1);
    }

    /// [`Zellij::boot`] for a session that starts with `panes` terminal panes (one brought
    /// back from the exited sessions has those it had).
    fn boot_with(&mut self, work: &Path, panes: usize) {
        // The server starts first, on its own (a client that starts the server itself sometimes
        // lost it while the session was being set up, on a loaded machine).
        let st = self
            .bare()
            .args(["attach", "--create-background"])
            .arg(&self.session)
            .current_dir(work)
            .status()
            .expect("running zellij");
        assert!(st.success(), "zellij attach --create-background failed");
        // The session is set up before a client attaches (a client that attached while the
        // session's first tab was still being made was sometimes not given that tab, and the
        // plugin then got no events).
        self.wait_for("the first shell pane", Duration::from_secs(30), |z| {
            z.terminal_panes().len() == panes
        });
        // Zellij 0.45.1 also now and then disconnects a client right after it attached ("Your
        // zellij client lost connection"), on a busy machine: it reuses the number of a
        // connection that just ended and may still act on that one's end. A client that Zellij
        // does not list half a second later is started again.
        for attempt in 1.. {
            self.attach(work);
            if self.client_stays() {
                break;
            }
            assert!(attempt < 4, "the Zellij client never stayed attached");
        }
    }

    /// Kills the session and deletes it (`zellij kill-session`, `delete-session --force`), then
    /// starts a new one under the same name, with a client: the new session's panes get the ids
    /// the old one's had.
    pub fn restart_session(&mut self, work: &Path) {
        self.kill_client();
        self.quietly(&["kill-session", &self.session]);
        self.quietly(&["delete-session", "--force", &self.session]);
        self.boot(work);
    }

    /// Kills the session without deleting it (`zellij kill-session`: it is listed as exited)
    /// and brings it back (`zellij attach`), with a client: Zellij rebuilds its tabs and panes
    /// from the layout it saved, pane names included, under new pane ids.
    /// `names` are the pane names to wait for in the layout Zellij saves (once a second in
    /// these sessions: `serialization_interval`).
    pub fn bring_back(&mut self, work: &Path, names: &[&str]) {
        let panes = self.terminal_panes().len();
        let saved = self
            .root
            .join("../home/.cache/zellij/contract_version_1/session_info")
            .join(&self.session)
            .join("session-layout.kdl");
        self.wait_for("the layout saved", Duration::from_secs(10), |_| {
            let kdl = std::fs::read_to_string(&saved).unwrap_or_default();
            names.iter().all(|n| kdl.contains(&format!("name=\"{n}\"")))
        });
        self.kill_client();
        self.quietly(&["kill-session", &self.session]);
        self.wait_for(
            "the session listed as exited",
            Duration::from_secs(10),
            |z| {
                let o = z
                    .bare()
                    .args(["list-sessions", "--no-formatting"])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                o.lines()
                    .any(|l| l.starts_with(&format!("{} ", z.session)) && l.contains("EXITED"))
            },
        );
        self.boot_with(work, panes);
    }

    /// Runs `zellij ARGS…`, its output and status ignored.
    fn quietly(&self, args: &[&str]) {
        let _ = self
            .bare()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Attaches a client on the pty that script(1) makes; what the test writes to script's
    /// stdin reaches Zellij as typed keys. (Zellij's server went away at once when the client
    /// itself was the pty's session leader.)
    pub fn attach(&mut self, work: &Path) {
        self.kill_client();
        let mut cmd = Command::new("script");
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args([
                "-qfc",
                &format!(
                    "stty cols {} rows {}; exec zellij attach {}",
                    self.size.0, self.size.1, self.session
                ),
                "/dev/null",
            ])
            .current_dir(work)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        self.client = Some(
            cmd.spawn()
                .expect("starting script(1) for the Zellij client (package bsdutils)"),
        );
    }

    /// Attaches one more client (another terminal on the same session), on its own pty;
    /// returns once Zellij lists it. Dropping the returned client kills it (the client leaves).
    pub fn another_client(&self, work: &Path) -> OtherClient {
        let count = |z: &Zellij| z.client_ids().len();
        let before = count(self);
        let spawn = || {
            Command::new("script")
                .env_clear()
                .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .args([
                    "-qfc",
                    &format!("stty cols 100 rows 30; exec zellij attach {}", self.session),
                    "/dev/null",
                ])
                .current_dir(work)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("starting script(1) for a Zellij client (package bsdutils)")
        };
        let mut other = OtherClient(spawn());
        // Zellij disconnects a client whose terminal it finds too slow ("Your zellij client lost
        // connection"), which happens to a client starting on a loaded machine: a person would
        // attach again, and so does this (at most twice more).
        let mut attempts = 1;
        self.wait_for("the other client listed", Duration::from_secs(40), |z| {
            if count(z) > before {
                return true;
            }
            if attempts < 3 && matches!(other.0.try_wait(), Ok(Some(_))) {
                attempts += 1;
                other = OtherClient(spawn());
            }
            false
        });
        other
    }

    /// Whether the attached client is listed by Zellij and still there half a second later.
    pub fn client_stays(&mut self) -> bool {
        let listed = |z: &Zellij| {
            z.try_action(&["list-clients"])
                .is_some_and(|s| panechat::adapters::zellij::has_client(&s))
        };
        let t = Instant::now();
        while !listed(self) && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(500));
        let running = self
            .client
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)));
        running && listed(self)
    }

    /// Ends the attached client.
    pub fn kill_client(&mut self) {
        if let Some(mut c) = self.client.take() {
            // script and the zellij client share its process group.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = c.wait();
        }
    }

    /// `zellij` with this test's environment.
    pub fn bare(&self) -> Command {
        let mut c = Command::new("zellij");
        c.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null());
        c
    }

    /// `zellij --session <this session>`.
    pub fn zellij(&self) -> Command {
        let mut c = self.bare();
        c.args(["--session", &self.session]);
        c
    }

    /// Runs `zellij action ARGS` in this session: its output, or `None` when it failed.
    pub fn try_action(&self, args: &[&str]) -> Option<String> {
        // A command that Zellij 0.45.1 cut off (it ends every connection twice and may drop a
        // new one that got the same client number in between) ends with status 0 and prints
        // nothing. Commands that only read always print something, so those are run again.
        let reads = matches!(
            args.first(),
            Some(&("dump-screen" | "list-panes" | "list-clients"))
        );
        for attempt in 1..=5 {
            let o = self.zellij().arg("action").args(args).output().ok()?;
            if !o.status.success() {
                // (a read turned away by the same race is run again too)
                let err = String::from_utf8_lossy(&o.stderr);
                if reads && attempt < 5 && panechat::adapters::zellij::turned_away(&err) {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                return None;
            }
            if reads && o.stdout.is_empty() && attempt < 5 {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            return Some(String::from_utf8_lossy(&o.stdout).into_owned());
        }
        None
    }

    /// Runs `zellij action ARGS`. Zellij 0.45.1 now and then turns a command away before it
    /// does anything ("There is no active session!") while other `zellij` commands end (it
    /// reuses a client's number at once and may still act on the previous holder's
    /// disconnection); such a command is run again, as panechat does.
    #[track_caller]
    pub fn action(&self, args: &[&str]) -> String {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let o = self.zellij().arg("action").args(args).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            let reads = matches!(
                args.first(),
                Some(&("dump-screen" | "list-panes" | "list-clients"))
            );
            let cut_off = o.status.success() && reads && o.stdout.is_empty();
            if (cut_off || (!o.status.success() && panechat::adapters::zellij::turned_away(&err)))
                && attempts < 3
            {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            assert!(o.status.success(), "zellij action {args:?} failed: {err}");
            return String::from_utf8_lossy(&o.stdout).into_owned();
        }
    }

    /// `list-panes --json`: every pane.
    pub fn panes(&self) -> Vec<Value> {
        self.try_action(&["list-panes", "--json"])
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    /// The terminal panes (no plugins).
    pub fn terminal_panes(&self) -> Vec<Value> {
        self.panes()
            .into_iter()
            .filter(|p| p["is_plugin"] == false)
            .collect()
    }

    /// Terminal pane `id`.
    pub fn pane(&self, id: u64) -> Value {
        self.terminal_panes()
            .into_iter()
            .find(|p| p["id"] == id)
            .unwrap_or(Value::Null)
    }

    /// Terminal pane `id`'s name.
    pub fn title(&self, id: u64) -> String {
        self.pane(id)["title"].as_str().unwrap_or("").to_string()
    }

    /// `dump-screen --full` of terminal pane `id`: its scrollback and screen.
    pub fn full_screen(&self, id: u64) -> String {
        let pane = format!("terminal_{id}");
        self.try_action(&["dump-screen", "--pane-id", &pane, "--full"])
            .unwrap_or_default()
    }

    /// What pane `pane` shows (`dump-screen`).
    pub fn screen(&self, pane: &str) -> String {
        self.try_action(&["dump-screen", "--pane-id", pane])
            .unwrap_or_default()
    }

    /// What the plugin knows (`panechat::list` over a CLI pipe).
    /// Waits until the plugin has its permissions and knows its session (before that, pane
    /// states sent to it cannot be placed; it reloads them once it is ready).
    pub fn wait_plugin_ready(&self) {
        self.wait_for("the plugin ready", Duration::from_secs(30), |z| {
            let v = z.plugin_view();
            v["granted"] == true && v["session"].is_string()
        });
    }

    /// The plugin's own view of the session (its JSON answer to a pipe message).
    pub fn plugin_view(&self) -> Value {
        // Every instance answers `all`; the one of the attached client with the smallest id
        // acts for the session (the others keep what they knew when their client left).
        let views = self.plugin_views("all");
        let acting = self.client_ids().into_iter().min();
        let pick = views
            .iter()
            .position(|v| acting.is_some_and(|id| v["client"] == id))
            .unwrap_or(0);
        views.into_iter().nth(pick).unwrap_or(Value::Null)
    }

    /// The ids of the attached clients (`list-clients`).
    pub fn client_ids(&self) -> Vec<u64> {
        self.client_panes().into_iter().map(|(id, _)| id).collect()
    }

    /// The attached clients and the pane each has focused (`list-clients`: `terminal_N`).
    pub fn client_panes(&self) -> Vec<(u64, String)> {
        self.try_action(&["list-clients"])
            .unwrap_or_default()
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut cols = l.split_whitespace();
                Some((cols.next()?.parse().ok()?, cols.next()?.to_string()))
            })
            .collect()
    }

    /// The views of the plugin's instances that answer `panechat::list` with `payload` (Zellij
    /// runs one instance per client that attached; `all` asks each, otherwise the one that acts
    /// for the session answers): one JSON value per line.
    pub fn plugin_views(&self, payload: &str) -> Vec<Value> {
        // Run again while it fails (Zellij turns a command away while a client connects or
        // leaves, see `action`; the plugin may be reloading): a view that cannot be read is
        // `Null` only after 2 s, with what Zellij said.
        let t = Instant::now();
        loop {
            // From a terminal, as panechat publishes: `zellij pipe` with any other stdin makes
            // the Zellij server send its last acknowledgement to every client, and a `zellij`
            // command starting at that moment fails with "There is no active session!" (see
            // core/src/adapters/zellij.rs).
            let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
            let o = self
                .zellij()
                .args(["pipe", "--name", "panechat::list", "--", payload])
                .stdin(Stdio::from(pty.slave))
                .output()
                .unwrap();
            drop(pty.master);
            let out = String::from_utf8_lossy(&o.stdout);
            let views: Vec<Value> = out
                .lines()
                .map_while(|l| serde_json::from_str(l).ok())
                .collect();
            if !views.is_empty() && views.len() == out.lines().count() {
                return views;
            }
            if t.elapsed() > Duration::from_secs(2) {
                eprintln!(
                    "zellij: the plugin's view could not be read ({}): stdout {out:?}, stderr {:?}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr)
                );
                return Vec::new();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The Zellij server's log (empty while there is none).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("tmp/zellij-0/zellij-log/zellij.log"))
            .unwrap_or_default()
    }

    /// Polls `f` every 50 ms until it holds; panics after `timeout` naming `what`.
    #[track_caller]
    pub fn wait_for(&self, what: &str, timeout: Duration, mut f: impl FnMut(&Zellij) -> bool) {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if f(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = self.log();
        let tail: String = log.lines().rev().take(15).collect::<Vec<_>>().join("\n");
        panic!(
            "timed out waiting for {what}\npanes: {:#}\nclients:\n{}\nplugin: {}\nfocused screen:\n{}\n{}zellij log (last lines, newest first):\n{tail}",
            Value::Array(self.panes()),
            self.try_action(&["list-clients"]).unwrap_or_default(),
            self.plugin_view(),
            self.try_action(&["dump-screen"]).unwrap_or_default(),
            self.terminal_panes()
                .iter()
                .filter_map(|p| p["id"].as_u64())
                .map(|id| {
                    let pane = format!("terminal_{id}");
                    let s = self.screen(&pane);
                    format!("{pane}:\n{}\n", s.trim_end())
                })
                .collect::<String>()
        );
    }

    /// Types `line` + Enter into terminal pane `id` (its shell runs it). Zellij 0.45.1 drops
    /// now and then a command that starts while another ends (it exits with status 0 then,
    /// having done nothing or not): each of the two writes is made again when the pane's
    /// cursor has not moved 3 s later (the shell echoes what it gets).
    #[track_caller]
    pub fn type_line(&self, id: u64, line: &str) {
        let pane = format!("terminal_{id}");
        self.write_until_cursor_moves(id, &["write-chars", "--pane-id", &pane, line]);
        self.write_until_cursor_moves(id, &["write", "--pane-id", &pane, "13"]);
    }

    /// Where the cursor of terminal pane `id` is (`list-panes`).
    pub fn cursor(&self, id: u64) -> Option<Value> {
        let c = self.pane(id)["cursor_coordinates_in_pane"].clone();
        (!c.is_null()).then_some(c)
    }

    #[track_caller]
    fn write_until_cursor_moves(&self, id: u64, args: &[&str]) {
        let before = self.cursor(id);
        for attempt in 1..=3 {
            self.action_retry(args);
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(3) {
                let now = self.cursor(id);
                if now.is_some() && now != before {
                    return;
                }
                std::thread::sleep(Duration::from_millis(30));
            }
            eprintln!("zellij: {args:?} moved no cursor (attempt {attempt})");
        }
        panic!("zellij: {args:?} never reached pane {id}");
    }

    /// An action that a busy server sometimes refuses once ("There is no active session!").
    #[track_caller]
    pub fn action_retry(&self, args: &[&str]) {
        for _ in 0..20 {
            if self.try_action(args).is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.action(args);
    }

    /// Waits until pane `id` shows a shell prompt ready for input.
    pub fn wait_prompt(&self, id: u64) {
        let pane = format!("terminal_{id}");
        self.wait_for("a shell prompt", Duration::from_secs(20), |z| {
            z.screen(&pane).lines().any(|l| l.trim_end() == "$")
        });
    }

    /// Keys typed on the attached client, as a person would.
    pub fn keys(&mut self, bytes: &[u8]) {
        use std::io::Write;
        let stdin = self.client.as_mut().unwrap().stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Waits until the session has `n` terminal panes; returns the newest one's id.
    #[track_caller]
    pub fn wait_terminal_panes(&self, n: usize) -> u64 {
        self.wait_for(
            &format!("{n} terminal panes"),
            Duration::from_secs(15),
            |z| z.terminal_panes().len() == n,
        );
        self.terminal_panes()
            .iter()
            .filter_map(|p| p["id"].as_u64())
            .max()
            .expect("a terminal pane")
    }

    /// Opens a terminal pane and returns its id. (A `new-pane` that Zellij cut off prints
    /// nothing, whether or not the pane was made: the new pane is then looked for, and asked
    /// for again when there is none.)
    #[track_caller]
    pub fn new_pane(&self) -> u64 {
        self.new_pane_with(&[])
    }

    /// [`Zellij::new_pane`] with `new-pane` options (`--direction right`).
    #[track_caller]
    pub fn new_pane_with(&self, options: &[&str]) -> u64 {
        let ids = |z: &Zellij| -> Vec<u64> {
            z.terminal_panes()
                .iter()
                .filter_map(|p| p["id"].as_u64())
                .collect()
        };
        let before = ids(self);
        for _ in 0..3 {
            let mut args = vec!["new-pane"];
            args.extend(options);
            let out = self.action(&args);
            let printed = out
                .trim()
                .strip_prefix("terminal_")
                .and_then(|n| n.parse().ok());
            let t = Instant::now();
            let mut made = printed;
            while made.is_none() && t.elapsed() < Duration::from_secs(2) {
                made = ids(self).into_iter().find(|id| !before.contains(id));
                std::thread::sleep(Duration::from_millis(50));
            }
            if let Some(id) = made {
                self.wait_prompt(id);
                return id;
            }
            eprintln!("zellij: new-pane printed {out:?} and made no pane");
        }
        panic!("zellij: new-pane never made a pane");
    }

    /// Runs `zellij action ARGS` until `done` holds (each run waits up to 3 s for it; a run
    /// that Zellij cut off may have done nothing).
    #[track_caller]
    pub fn action_until(&self, args: &[&str], done: impl Fn(&Zellij) -> bool) {
        for _ in 0..3 {
            self.action_retry(args);
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(3) {
                if done(self) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("zellij: {args:?} did not take effect, running it again");
        }
        panic!("zellij: {args:?} never took effect");
    }

    /// The plugin's pane as drawn (it has the focus while the picker shows; Zellij 0.45.1
    /// dumps plugin panes only as the focused pane).
    pub fn plugin_screen(&self) -> String {
        let focused_plugin = self.panes().into_iter().any(|p| {
            p["is_plugin"] == true && p["plugin_url"] == "panechat" && p["is_focused"] == true
        });
        if focused_plugin {
            self.try_action(&["dump-screen"]).unwrap_or_default()
        } else {
            String::new()
        }
    }
}

/// A client attached by [`Zellij::another_client`]; it leaves when dropped.
pub struct OtherClient(std::process::Child);

impl OtherClient {
    /// Keys typed on this client, as a person would.
    pub fn keys(&mut self, bytes: &[u8]) {
        use std::io::Write;
        let stdin = self.0.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
}

impl Drop for OtherClient {
    fn drop(&mut self) {
        // script and the zellij client share its process group.
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.0.wait();
    }
}

impl Drop for Zellij {
    fn drop(&mut self) {
        self.quietly(&["delete-session", "--force", &self.session]);
        self.kill_client();
        let _ = (&self.root, &self.wasm);
    }
}
