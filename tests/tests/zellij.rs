//! panechat in a real headless Zellij 0.45.1 with its plugin: a private `HOME`, `XDG_*`,
//! `ZELLIJ_SOCKET_DIR` and `TMPDIR` per test, the config printed by
//! `panechat init zellij --plugin file:<built wasm>`, a pre-seeded `permissions.kdl`, and a
//! client attached on a pty (plugins get events only with a client). Assertions read
//! `zellij action list-panes --json` and `dump-screen`, as a user would see them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use panechat_e2e::env::{panechat_bin, profile_dir, TestEnv};
use panechat_e2e::fake::FakeProvider;
use serde_json::Value;
use std::os::unix::process::CommandExt;

const ZELLIJ_VERSION: &str = "zellij 0.45.1";

/// The plugin's `.wasm`, built once (release, wasm32-wasip1) into `<target>/zellij-plugin`.
fn wasm() -> PathBuf {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        if let Some(p) = std::env::var_os("PANECHAT_ZELLIJ_WASM") {
            return PathBuf::from(p);
        }
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../zellij-plugin/Cargo.toml");
        let target = profile_dir()
            .parent()
            .expect("target dir")
            .join("zellij-plugin");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "--quiet", "--release", "--target", "wasm32-wasip1"])
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target)
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .expect("running cargo build for the Zellij plugin");
        assert!(
            st.success(),
            "building the Zellij plugin failed (is the wasm32-wasip1 target installed? \
             `rustup target add wasm32-wasip1`; scripts/test.sh does it)"
        );
        target.join("wasm32-wasip1/release/panechat.wasm")
    })
    .clone()
}

fn check_zellij() {
    let v = Command::new("zellij").arg("--version").output();
    let v = v.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    assert_eq!(
        v.as_deref().unwrap_or("not installed"),
        ZELLIJ_VERSION,
        "these tests need {ZELLIJ_VERSION} on PATH; scripts/test.sh installs it \
         (cargo install --locked zellij --version 0.45.1)"
    );
}

struct Zellij {
    session: String,
    root: PathBuf,
    wasm: PathBuf,
    env: Vec<(String, String)>,
    client: Option<std::process::Child>,
    /// One Zellij at a time: several sessions at once on a small machine make the timings
    /// these tests wait on (key delivery, pane updates) unreliable.
    _serial: std::sync::MutexGuard<'static, ()>,
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Opts<'a> {
    /// Extra lines for config.kdl's plugin block (`panechat "/x"`).
    plugin_option: Option<(&'a str, &'a str)>,
    /// Write permissions.kdl.
    grant: bool,
}

impl Default for Opts<'_> {
    fn default() -> Self {
        Opts {
            plugin_option: None,
            grant: true,
        }
    }
}

impl Zellij {
    fn start(env: &TestEnv, opts: Opts<'_>) -> Zellij {
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
        let wasm = root.join("panechat.wasm");
        std::fs::copy(super_wasm(), &wasm).unwrap();

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
        // A quiet shell prompt that the tests can wait for.
        std::fs::write(home.join(".bashrc"), "PS1='$ '\n").unwrap();

        // The config, as printed by `panechat init zellij`.
        let url = format!("file:{}", wasm.display());
        let init = env.run(["init", "zellij", "--plugin", &url]).ok().stdout;
        let mut config =
            String::from("show_startup_tips false\nshow_release_notes false\npane_frames true\n");
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
                    "\"{}\" {{\n    ReadApplicationState\n    ChangeApplicationState\n    RunCommands\n    OpenTerminalsOrPlugins\n    ReadCliPipes\n}}\n",
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
            _serial: serial,
        };
        // The server starts first, on its own (a client that starts the server itself sometimes
        // lost it while the session was being set up, on a loaded machine).
        let st = z
            .bare()
            .args(["attach", "--create-background"])
            .arg(&z.session)
            .current_dir(env.root.join("work"))
            .status()
            .expect("running zellij");
        assert!(st.success(), "zellij attach --create-background failed");
        // The session is set up before a client attaches (a client that attached while the
        // session's first tab was still being made was sometimes not given that tab, and the
        // plugin then got no events).
        z.wait_for("the first shell pane", Duration::from_secs(30), |z| {
            z.terminal_panes().len() == 1
        });
        // Zellij 0.45.1 also now and then disconnects a client right after it attached ("Your
        // zellij client lost connection"), on a busy machine: it reuses the number of a
        // connection that just ended and may still act on that one's end. A client that Zellij
        // does not list half a second later is started again.
        let work = env.root.join("work");
        for attempt in 1.. {
            z.attach(&work);
            if z.client_stays() {
                break;
            }
            assert!(attempt < 4, "the Zellij client never stayed attached");
        }
        z
    }

    /// Attaches a client on the pty that script(1) makes; what the test writes to script's
    /// stdin reaches Zellij as typed keys. (Zellij's server went away at once when the client
    /// itself was the pty's session leader.)
    fn attach(&mut self, work: &Path) {
        self.kill_client();
        let mut cmd = Command::new("script");
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args([
                "-qfc",
                &format!("stty cols 120 rows 40; exec zellij attach {}", self.session),
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

    /// Whether the attached client is listed by Zellij and still there half a second later.
    fn client_stays(&mut self) -> bool {
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

    fn kill_client(&mut self) {
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
    fn bare(&self) -> Command {
        let mut c = Command::new("zellij");
        c.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null());
        c
    }

    /// `zellij --session <this session>`.
    fn zellij(&self) -> Command {
        let mut c = self.bare();
        c.args(["--session", &self.session]);
        c
    }

    fn try_action(&self, args: &[&str]) -> Option<String> {
        let o = self.zellij().arg("action").args(args).output().ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// Runs `zellij action ARGS`. Zellij 0.45.1 now and then turns a command away before it
    /// does anything ("There is no active session!") while other `zellij` commands end (it
    /// reuses a client's number at once and may still act on the previous holder's
    /// disconnection); such a command is run again, as panechat does.
    #[track_caller]
    fn action(&self, args: &[&str]) -> String {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let o = self.zellij().arg("action").args(args).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            if !o.status.success() && attempts < 3 && panechat::adapters::zellij::turned_away(&err)
            {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            assert!(o.status.success(), "zellij action {args:?} failed: {err}");
            return String::from_utf8_lossy(&o.stdout).into_owned();
        }
    }

    fn panes(&self) -> Vec<Value> {
        self.try_action(&["list-panes", "--json"])
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    fn terminal_panes(&self) -> Vec<Value> {
        self.panes()
            .into_iter()
            .filter(|p| p["is_plugin"] == false)
            .collect()
    }

    fn pane(&self, id: u64) -> Value {
        self.terminal_panes()
            .into_iter()
            .find(|p| p["id"] == id)
            .unwrap_or(Value::Null)
    }

    fn title(&self, id: u64) -> String {
        self.pane(id)["title"].as_str().unwrap_or("").to_string()
    }

    fn screen(&self, pane: &str) -> String {
        self.try_action(&["dump-screen", "--pane-id", pane])
            .unwrap_or_default()
    }

    /// What the plugin knows (`panechat::list` over a CLI pipe).
    /// Waits until the plugin has its permissions and knows its session (before that, pane
    /// states sent to it cannot be placed; it reloads them once it is ready).
    fn wait_plugin_ready(&self) {
        self.wait_for("the plugin ready", Duration::from_secs(30), |z| {
            let v = z.plugin_view();
            v["granted"] == true && v["session"].is_string()
        });
    }

    fn plugin_view(&self) -> Value {
        // (run again when Zellij turned it away: see `action`)
        for _ in 0..3 {
            // From a terminal, as panechat publishes: `zellij pipe` with any other stdin makes
            // the Zellij server send its last acknowledgement to every client, and a `zellij`
            // command starting at that moment fails with "There is no active session!" (see
            // core/src/adapters/zellij.rs).
            let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
            let o = self
                .zellij()
                .args(["pipe", "--name", "panechat::list", "--", "x"])
                .stdin(Stdio::from(pty.slave))
                .output()
                .unwrap();
            drop(pty.master);
            let out = String::from_utf8_lossy(&o.stdout);
            if let Ok(v) = serde_json::from_str(out.lines().next().unwrap_or("")) {
                return v;
            }
            if !panechat::adapters::zellij::turned_away(&String::from_utf8_lossy(&o.stderr)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Value::Null
    }

    #[track_caller]
    fn wait_for(&self, what: &str, timeout: Duration, mut f: impl FnMut(&Zellij) -> bool) {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if f(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.root.join("tmp/zellij-0/zellij-log/zellij.log"))
            .unwrap_or_default();
        let tail: String = log.lines().rev().take(15).collect::<Vec<_>>().join("\n");
        panic!(
            "timed out waiting for {what}\npanes: {:#}\nplugin: {}\nfocused screen:\n{}\nzellij log (last lines, newest first):\n{tail}",
            Value::Array(self.panes()),
            self.plugin_view(),
            self.try_action(&["dump-screen"]).unwrap_or_default()
        );
    }

    /// Types `line` + Enter into terminal pane `id` (its shell runs it).
    fn type_line(&self, id: u64, line: &str) {
        let pane = format!("terminal_{id}");
        self.action_retry(&["write-chars", "--pane-id", &pane, line]);
        self.action_retry(&["write", "--pane-id", &pane, "13"]);
    }

    /// An action that a busy server sometimes refuses once ("There is no active session!").
    #[track_caller]
    fn action_retry(&self, args: &[&str]) {
        for _ in 0..20 {
            if self.try_action(args).is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.action(args);
    }

    /// Waits until pane `id` shows a shell prompt ready for input.
    fn wait_prompt(&self, id: u64) {
        let pane = format!("terminal_{id}");
        self.wait_for("a shell prompt", Duration::from_secs(20), |z| {
            z.screen(&pane).lines().any(|l| l.trim_end() == "$")
        });
    }

    /// Keys typed on the attached client, as a person would.
    fn keys(&mut self, bytes: &[u8]) {
        use std::io::Write;
        let stdin = self.client.as_mut().unwrap().stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }

    fn new_pane(&self) -> u64 {
        let out = self.action(&["new-pane"]);
        let id: u64 = out
            .trim()
            .strip_prefix("terminal_")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("new-pane printed {out:?}"));
        self.wait_prompt(id);
        id
    }

    /// The plugin's pane as drawn (it has the focus while the picker shows; Zellij 0.45.1
    /// dumps plugin panes only as the focused pane).
    fn plugin_screen(&self) -> String {
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

impl Drop for Zellij {
    fn drop(&mut self) {
        let _ = self
            .bare()
            .args(["delete-session", "--force", &self.session])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        self.kill_client();
        let _ = (&self.root, &self.wasm);
    }
}

/// A client connected to `z`'s session that asks for nothing. (Zellij 0.45.1 reuses a client's
/// number at once and may still act on the previous holder's disconnection: a new connection
/// that gets the number of one that just ended is sometimes disconnected at once; then another
/// is made.)
fn bystander(z: &Zellij) -> std::os::unix::net::UnixStream {
    use std::io::Read;
    let socket = z.root.join("s/contract_version_1").join(&z.session);
    for _ in 0..5 {
        let mut c = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        c.set_nonblocking(true).unwrap();
        let mut got = [0u8; 256];
        match c.read(&mut got) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                c.set_nonblocking(false).unwrap();
                return c;
            }
            _ => continue,
        }
    }
    panic!("no quiet connection to the Zellij session");
}

/// The `zellij pipe` processes still sending a `panechat::state` message to this test's Zellij.
fn pipes_of(z: &Zellij) -> Vec<String> {
    let sock = z.root.join("s").display().to_string();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let environ = std::fs::read(e.path().join("environ")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains("panechat::state") && String::from_utf8_lossy(&environ).contains(&sock)
        {
            found.push(cmdline);
        }
    }
    found
}

fn super_wasm() -> PathBuf {
    wasm()
}

fn setup() -> (TestEnv, FakeProvider) {
    let fake = FakeProvider::start();
    let env = TestEnv::new();
    env.use_openai(&fake.base_url_openai());
    (env, fake)
}

#[test]
fn init_snippet_is_accepted_by_zellij_and_its_keys_are_free() {
    check_zellij();
    let env = TestEnv::new();
    let url = format!("file:{}", env.root.join("p.wasm").display());
    let snippet = env.run(["init", "zellij", "--plugin", &url]).ok().stdout;
    assert!(
        snippet.contains(&format!("location=\"{url}\"")),
        "{snippet}"
    );
    let file = env.root.join("config.kdl");
    std::fs::write(&file, &snippet).unwrap();
    let check = Command::new("zellij")
        .arg("--config")
        .arg(&file)
        .args(["setup", "--check"])
        .env("HOME", env.root.join("home"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        out.contains("[CONFIG FILE]: Well defined."),
        "Zellij rejected the snippet:\n{out}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Zellij's default keys (0.45) do not use ours.
    let defaults = Command::new("zellij")
        .args(["setup", "--dump-config"])
        .output()
        .unwrap();
    let defaults = String::from_utf8_lossy(&defaults.stdout);
    assert!(
        defaults.contains("bind \"Alt f\""),
        "dump-config changed shape"
    );
    for key in ["Alt m", "Alt y", "Alt a"] {
        assert!(snippet.contains(&format!("bind \"{key}\"")));
        assert!(
            !defaults.contains(&format!("\"{key}\"")),
            "{key} is a default key"
        );
    }
    // The default location is under the Zellij config dir.
    let plain = env
        .cmd(["init", "zellij"])
        .env("XDG_CONFIG_HOME", "/cfg")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&plain.stdout)
        .contains("location=\"file:/cfg/zellij/plugins/panechat.wasm\""));
    env.run(["init", "zellij", "--plugin", "panechat.wasm"])
        .code(2);
}

#[test]
fn queries_rename_their_panes_and_hostile_titles_stay_literal() {
    let (env, _fake) = setup();
    let z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    let p1 = z.new_pane();
    let p2 = z.new_pane();
    let hostile =
        "Plan #(touch M1) #[fg=red] ; kill-server $(touch M2) \\e]0;owned\\a\\e[31m\\x9b2J end";
    z.type_line(0, &format!("panechat q --new 'hello [[title:{hostile}]]'"));
    z.type_line(p1, "panechat q --new 'hi [[title:Zellij layouts 日本語]]'");
    let shown = "💬 Plan #(touch M1) #[fg=red] ; kill-server $(touch M2)";
    z.wait_for(
        "pane 0 named after its conversation",
        Duration::from_secs(20),
        |z| z.title(0).starts_with(shown),
    );
    let name = z.title(0);
    assert!(!name.chars().any(char::is_control), "{name:?}");
    assert!(name.chars().count() <= 60, "{name:?}");
    z.wait_for(
        "pane 1 named after its conversation",
        Duration::from_secs(20),
        |z| z.title(p1) == "💬 Zellij layouts 日本語",
    );
    // A pane without a conversation keeps its own name.
    assert_eq!(
        z.title(p2),
        format!("Pane #{}", p2 + 1),
        "{:#?}",
        z.pane(p2)
    );
    // The name is shown literally in the pane frame, on the client's screen.
    let screen = z.screen(&format!("terminal_{p1}"));
    assert!(screen.contains("hi [[title:"), "{screen}");
    let work = env.root.join("work");
    assert!(
        !work.join("M1").exists() && !work.join("M2").exists(),
        "a title ran a command"
    );

    // Retitling renames again; a pane renamed by hand keeps the user's name.
    // Time from Enter on `panechat rename` (a whole panechat run) to the new name in
    // `list-panes`.
    let t = Instant::now();
    z.type_line(p1, "panechat rename 'Second title'");
    z.wait_for("pane 1 renamed again", Duration::from_secs(10), |z| {
        z.title(p1) == "💬 Second title"
    });
    let latency = t.elapsed();
    eprintln!("zellij: retitle to pane name: {} ms", latency.as_millis());
    assert!(latency < Duration::from_millis(1500), "{latency:?}");
    z.action(&[
        "rename-pane",
        "--pane-id",
        &format!("terminal_{p1}"),
        "my build",
    ]);
    z.wait_for(
        "the plugin notices the hand-made name",
        Duration::from_secs(10),
        |z| {
            z.plugin_view()["panes"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|p| p["pane"] == p1 && p["renamed_by_hand"] == true)
            })
        },
    );
    z.type_line(p1, "panechat rename 'Third title'");
    z.wait_for("the conversation retitled", Duration::from_secs(10), |z| {
        z.plugin_view()["panes"]
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p["conversation_title"] == "Third title"))
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(z.title(p1), "my build");
}

#[test]
fn picker_lists_every_panes_conversation_and_enter_focuses_the_choice() {
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.type_line(0, "panechat q --new 'one [[title:Alpha topic]]'");
    z.action(&["new-tab"]);
    z.wait_for("a second tab", Duration::from_secs(10), |z| {
        z.terminal_panes().len() == 2
    });
    let p1 = z
        .terminal_panes()
        .iter()
        .filter_map(|p| p["id"].as_u64())
        .max()
        .unwrap();
    z.wait_prompt(p1);
    z.type_line(p1, "panechat q --new 'two [[title:Beta topic]]'");
    z.wait_for("both panes renamed", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Alpha topic" && z.title(p1) == "💬 Beta topic"
    });
    // Alt m, typed on the client.
    z.keys(b"\x1bm");
    z.wait_for("the picker", Duration::from_secs(10), |z| {
        let s = z.plugin_screen();
        s.contains("2 of 2 panes") && s.contains("Alpha topic") && s.contains("Beta topic")
    });
    let screen = z.plugin_screen();
    eprintln!("zellij: the picker, as dump-screen shows it:\n{screen}");
    // The pane it was opened from comes first.
    let first = screen
        .lines()
        .find(|l| l.contains("topic"))
        .unwrap()
        .to_string();
    assert!(
        first.contains("▸") && first.contains("Beta topic"),
        "{screen}"
    );
    z.keys(b"alpha");
    z.wait_for("the filter", Duration::from_secs(5), |z| {
        let s = z.plugin_screen();
        s.contains("1 of 2 panes") && s.contains("filter: alpha")
    });
    z.keys(b"\r");
    // The first tab is active again: the focused pane is pane 0.
    z.wait_for("the first tab active", Duration::from_secs(10), |z| {
        z.try_action(&["dump-screen"])
            .is_some_and(|s| s.contains("one [[title:Alpha topic]]"))
    });
    // Esc closes the picker.
    z.keys(b"\x1bm");
    z.wait_for("the picker again", Duration::from_secs(10), |z| {
        z.plugin_screen().contains("of 2 panes")
    });
    z.keys(b"\x1b");
    z.wait_for("the picker closed", Duration::from_secs(10), |z| {
        z.panes()
            .iter()
            .any(|p| p["plugin_url"] == "panechat" && p["is_suppressed"] == true)
    });
}

#[test]
fn a_missing_binary_is_said_in_the_picker() {
    let (env, _fake) = setup();
    let mut z = Zellij::start(
        &env,
        Opts {
            plugin_option: Some(("panechat", "/nonexistent/panechat")),
            ..Opts::default()
        },
    );
    z.wait_prompt(0);
    z.wait_for("the plugin ready", Duration::from_secs(20), |z| {
        z.plugin_view()["granted"] == true
    });
    z.keys(b"\x1bm");
    z.wait_for("the error line", Duration::from_secs(10), |z| {
        let s = z.plugin_screen();
        s.contains("could not run `/nonexistent/panechat`")
    });
}

#[test]
fn publishing_never_hangs_on_a_plugin_that_waits_for_permission() {
    let (env, _fake) = setup();
    let z = Zellij::start(
        &env,
        Opts {
            grant: false,
            ..Opts::default()
        },
    );
    // The plugin asks for its permissions and waits; a `zellij pipe` to it would block.
    z.wait_for("the permission request", Duration::from_secs(20), |z| {
        z.panes()
            .iter()
            .any(|p| p["plugin_url"] == "panechat" && p["is_suppressed"] == false)
    });
    let t = Instant::now();
    // From inside the session, a publish returns at once...
    let mut cmd = env.cmd(["q", "--new", "hi [[title:Waiting]]"]);
    for (k, v) in &z.env {
        cmd.env(k, v);
    }
    cmd.env_remove("PANECHAT_SESSION")
        .env("ZELLIJ", "0")
        .env("ZELLIJ_SESSION_NAME", &z.session)
        .env("ZELLIJ_PANE_ID", "0");
    let t0 = Instant::now();
    let run = cmd.output().unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "the query waited for the plugin: {:?}",
        t0.elapsed()
    );
    // ... and leaves no `zellij pipe` behind once its deadline passed.
    let pipes = || pipes_of(&z);
    let deadline = Instant::now() + Duration::from_secs(8);
    while !pipes().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(pipes().is_empty(), "left behind: {:?}", pipes());
    assert!(t.elapsed() < Duration::from_secs(20));
}

#[test]
fn publications_send_nothing_to_the_sessions_other_clients() {
    let (env, _fake) = setup();
    let z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    z.type_line(0, "panechat q --new 'hi [[title:Busy pane]]'");
    z.wait_for("pane 0 renamed", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Busy pane"
    });
    // A bystander: a client of the session that asks for nothing, so Zellij sends it nothing,
    // unless it sends something to every client. (A `zellij pipe` whose stdin is not a terminal
    // has Zellij send its last acknowledgement to every client, and a `zellij` command that
    // receives it first fails with "There is no active session!".)
    let mut bystander = bystander(&z);
    // Many publications at once: each `panechat refresh` sends pane 0's state.
    let refreshes: Vec<_> = (0..20)
        .map(|_| {
            let mut cmd = env.cmd(["refresh"]);
            for (k, v) in &z.env {
                cmd.env(k, v);
            }
            cmd.env_remove("PANECHAT_SESSION")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for r in refreshes {
        let o = r.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    z.wait_for("the publications delivered", Duration::from_secs(8), |z| {
        pipes_of(z).is_empty()
    });
    use std::io::Read;
    bystander
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut got = [0u8; 4096];
    match bystander.read(&mut got) {
        Ok(n) => panic!(
            "the bystander received {n} bytes: {:?}",
            String::from_utf8_lossy(&got[..n])
        ),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        ),
    }
    assert_eq!(z.title(0), "💬 Busy pane");
    assert!(z.plugin_view()["granted"] == true);
}

#[test]
fn the_ask_key_asks_about_the_focused_pane_in_a_floating_pane() {
    let (env, fake) = setup();
    // A build that fails; its error text is not on the command line that runs it.
    std::fs::write(
        env.root.join("work/build.sh"),
        "printf '\\033[1;31merror[E0425]\\033[0m: cannot find value `count`\\n'; exit 1\n",
    )
    .unwrap();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    z.type_line(0, "sh build.sh");
    z.wait_for("the build's error", Duration::from_secs(10), |z| {
        z.screen("terminal_0")
            .contains("error[E0425]: cannot find value `count`")
    });
    // Alt a, typed on the client while pane 0 has the focus.
    z.keys(b"\x1ba");
    let floating = |z: &Zellij| -> Option<u64> {
        z.terminal_panes()
            .iter()
            .find(|p| p["is_floating"] == true)
            .and_then(|p| p["id"].as_u64())
    };
    z.wait_for("the floating question", Duration::from_secs(15), |z| {
        floating(z).is_some_and(|id| {
            z.screen(&format!("terminal_{id}"))
                .contains("Enter sends, Esc cancels")
        })
    });
    let ask = format!("terminal_{}", floating(&z).unwrap());
    let s = z.screen(&ask);
    assert!(
        s.contains("panechat: attached pane zellij terminal_0, "),
        "{s}"
    );
    assert!(s.contains("Ask about pane zellij terminal_0"), "{s}");
    // It runs in pane 0's directory.
    let cwd = z
        .terminal_panes()
        .iter()
        .find(|p| p["is_floating"] == true)
        .map(|p| p["pane_cwd"].as_str().unwrap_or("").to_string())
        .unwrap();
    assert_eq!(cwd, env.root.join("work").display().to_string());
    // The question, typed in the floating pane.
    let question = "why did this fail? [[reply:`count` is used but never declared.]]";
    z.keys(question.as_bytes());
    z.keys(b"\r");
    z.wait_for("the answer", Duration::from_secs(20), |z| {
        let s = z.screen(&ask);
        s.contains("press any key to close") && s.contains("never declared")
    });
    eprintln!(
        "zellij: the ask pane, as dump-screen shows it:\n{}",
        z.try_action(&["dump-screen"]).unwrap_or_default()
    );
    // The provider got pane 0's text (not the asking line, no escape sequences) and the
    // question.
    let r = fake
        .requests()
        .into_iter()
        .find(|r| r.last_user_message().is_some_and(|m| m.ends_with(question)))
        .expect("a request with the question");
    let sent = r.last_user_message().unwrap();
    assert!(sent.contains("--- pane zellij terminal_0, "), "{sent}");
    assert!(
        sent.contains("error[E0425]: cannot find value `count`"),
        "{sent}"
    );
    assert!(
        !sent.contains("--prompt"),
        "the asking line was sent: {sent}"
    );
    assert!(!r.raw_body.contains("\\u001b"), "escape sequences sent");
    // Any key closes it.
    z.keys(b"x");
    z.wait_for("the floating pane closed", Duration::from_secs(10), |z| {
        floating(z).is_none()
    });
    // The turn is pane 0's: its conversation has it, with the pane's text attached.
    let key = format!("zellij:{}:0", z.session);
    let sessions: Value =
        serde_json::from_str(&env.run(["sessions", "--json"]).ok().stdout).unwrap();
    let conv = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key.as_str())
        .and_then(|s| s["conversation"].as_str())
        .unwrap_or_else(|| panic!("pane 0 has no conversation: {sessions:#}"))
        .to_string();
    let shown: Value =
        serde_json::from_str(&env.run(["show", "--json", &conv]).ok().stdout).unwrap();
    assert_eq!(shown["turns"], 1, "{shown:#}");
    let first = &shown["messages"][0];
    assert!(
        first["content"].as_str().unwrap().ends_with(question),
        "{shown:#}"
    );
    assert!(
        first["attachments"][0]["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("pane zellij terminal_0")),
        "{shown:#}"
    );
    // ... and the plugin shows it on pane 0.
    z.wait_for(
        "pane 0's conversation in the plugin",
        Duration::from_secs(10),
        |z| {
            z.plugin_view()["panes"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|p| p["pane"] == 0 && p["conversation"] == conv.as_str())
            })
        },
    );
}

#[test]
fn the_fork_key_opens_a_pane_mapped_to_the_fork() {
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.type_line(0, "panechat q --new 'one [[title:Alpha topic]]'");
    z.wait_for("pane 0 renamed", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Alpha topic"
    });
    let conv_of = |z: &Zellij, pane: u64| -> Option<String> {
        z.plugin_view()["panes"]
            .as_array()?
            .iter()
            .find(|p| p["pane"] == pane)?["conversation"]
            .as_str()
            .map(str::to_string)
    };
    let original = conv_of(&z, 0).expect("pane 0's conversation");
    // Alt y, typed on the client while pane 0 has the focus.
    z.keys(b"\x1by");
    z.wait_for("a new pane", Duration::from_secs(15), |z| {
        z.terminal_panes().len() == 2
    });
    let new = z
        .terminal_panes()
        .iter()
        .filter_map(|p| p["id"].as_u64())
        .max()
        .unwrap();
    z.wait_for(
        "the new pane mapped to a fork",
        Duration::from_secs(20),
        |z| conv_of(z, new).is_some_and(|c| c != original),
    );
    let fork = conv_of(&z, new).unwrap();
    let shown = env.run(["show", "--json", &fork]).ok().stdout;
    let v: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["parent"]["id"], original.as_str(), "{v}");
    // Its shell runs in the same directory, and the pane is named after the fork.
    z.wait_for("the fork's pane named", Duration::from_secs(10), |z| {
        z.title(new).starts_with("💬 Alpha topic")
    });
    z.wait_prompt(new);
    z.type_line(new, "pwd");
    let work = env.root.join("work").display().to_string();
    z.wait_for("pwd in the fork's pane", Duration::from_secs(10), |z| {
        z.screen(&format!("terminal_{new}")).contains(&work)
    });
}

#[test]
fn a_locked_conversation_asks_in_a_floating_pane_and_each_answer_takes_effect() {
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    let p1 = z.new_pane();
    z.type_line(0, "panechat q --new 'one [[title:Shared topic]]'");
    z.wait_for("pane 0 renamed", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Shared topic"
    });
    let view_of = |z: &Zellij, pane: u64, field: &str| -> String {
        z.plugin_view()["panes"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["pane"] == pane).cloned())
            .and_then(|p| p[field].as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let shared = view_of(&z, 0, "conversation");
    // (answer keys, what pane 1 must end up with)
    let rounds: [(&[u8], &str); 4] = [
        (b"\r", "wait"),
        (b"\x1b[B\r", "new"),
        (b"\x1b[B\x1b[B\r", "fork"),
        (b"\x1b[B\x1b[B\x1b[B\r", "cancel"),
    ];
    for (keys, answer) in rounds {
        z.type_line(
            0,
            &format!("panechat q --id {shared} 'hold [[slow:500]] [[chunks:24]]'"),
        );
        // (panechat's own view: this test is about the question, not the plugin's view.)
        let key = format!("zellij:{}:0", z.session);
        let running = |env: &TestEnv| -> bool {
            let out = env.run(["sessions", "--json"]).stdout;
            serde_json::from_str::<Value>(&out)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .is_some_and(|a| {
                    a.iter().any(|x| {
                        x["key"] == key.as_str()
                            && x["runs"].as_array().is_some_and(|r| !r.is_empty())
                    })
                })
        };
        z.wait_for("pane 0 streaming", Duration::from_secs(15), |_| {
            running(&env)
        });
        z.type_line(
            p1,
            &format!("clear; panechat q --id {shared} 'second'; echo rc=$?"),
        );
        z.wait_for("the floating question", Duration::from_secs(20), |z| {
            z.terminal_panes()
                .iter()
                .any(|p| p["is_floating"] == true && p["title"] == "panechat")
                && z.try_action(&["dump-screen"])
                    .is_some_and(|s| s.contains("What now?") && s.contains("in use"))
        });
        let question = z.try_action(&["dump-screen"]).unwrap_or_default();
        assert!(
            question.contains("pane 0") || question.contains("%0") || question.contains(" 0"),
            "{question}"
        );
        z.keys(keys);
        z.wait_for("the question answered", Duration::from_secs(10), |z| {
            !z.terminal_panes().iter().any(|p| p["is_floating"] == true)
        });
        let screen = || z.screen(&format!("terminal_{p1}"));
        match answer {
            "wait" => {
                // The query goes on in the shared conversation once the holder is done.
                z.wait_for("pane 1's query done", Duration::from_secs(30), |_| {
                    screen().contains("rc=0")
                });
                assert_eq!(view_of(&z, p1, "conversation"), shared);
            }
            "cancel" => {
                z.wait_for("the cancelled query", Duration::from_secs(10), |_| {
                    screen().contains("rc=130")
                });
            }
            _ => {
                z.wait_for("pane 1's query done", Duration::from_secs(20), |_| {
                    screen().contains("rc=0")
                });
                let conv = view_of(&z, p1, "conversation");
                assert!(!conv.is_empty() && conv != shared, "{answer}: {conv}");
                let v: Value =
                    serde_json::from_str(&env.run(["show", "--json", &conv]).ok().stdout).unwrap();
                if answer == "fork" {
                    assert_eq!(v["parent"]["id"], shared.as_str(), "{v}");
                } else {
                    assert!(v["parent"].is_null(), "{v}");
                }
            }
        }
        // Let the holder finish before the next round.
        z.wait_for("pane 0 idle", Duration::from_secs(40), |_| !running(&env));
    }
}
