//! Real tmux for the plugin tests: a private server per test (`tmux -L NAME -f /dev/null`, its
//! own `TMUX_TMPDIR`, started with the test's environment only), and a client attached to it as
//! a person's terminal would be.
//!
//! The client runs inside a pane of a second private server (the "terminal"): `capture-pane`
//! of that pane is exactly what the person sees (status line, popups, messages), and keys are
//! typed into it with `send-keys`, so they reach the client as keystrokes.

pub use crate::helpers::wait_until;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::env::{panechat_bin, TestEnv};

static SERVERS: AtomicU64 = AtomicU64::new(0);

/// The repository root (where `panechat.tmux` and `tmux-scripts/` live).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// Panics with an install hint when tmux is missing.
pub fn require_tmux() {
    assert!(
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success()),
        "tmux is not installed; the test command (scripts/test.sh) installs it"
    );
}

/// One private tmux server.
pub struct Server {
    /// Its socket name (`-L`).
    pub socket: String,
    /// Its `TMUX_TMPDIR`.
    pub tmpdir: PathBuf,
    env: Vec<(String, String)>,
}

impl Server {
    /// A server named after `tag`, with its socket directory under `root`. Nothing is started.
    pub fn new(root: &Path, tag: &str, env: Vec<(String, String)>) -> Server {
        require_tmux();
        let tmpdir = root.join("tmux");
        std::fs::create_dir_all(&tmpdir).unwrap();
        let n = SERVERS.fetch_add(1, Ordering::SeqCst);
        Server {
            socket: format!("pc{tag}{}x{n}", std::process::id()),
            tmpdir,
            env,
        }
    }

    /// A `tmux -L SOCKET -f /dev/null` command with only this server's environment.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"])
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("TMUX_TMPDIR", &self.tmpdir);
        c
    }

    /// Runs tmux; (success, stdout, stderr).
    pub fn run<S: AsRef<str>>(&self, args: &[S]) -> (bool, String, String) {
        let o = self
            .cmd()
            .args(args.iter().map(|a| a.as_ref()))
            .output()
            .expect("running tmux");
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    /// Runs tmux and panics when it fails.
    #[track_caller]
    pub fn ok<S: AsRef<str>>(&self, args: &[S]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(
            ok,
            "tmux {:?} failed: {err}",
            args.iter().map(|a| a.as_ref()).collect::<Vec<_>>()
        );
        out
    }

    /// The text of a pane.
    pub fn capture(&self, pane: &str) -> String {
        self.ok(&["capture-pane", "-p", "-t", pane])
    }

    /// A format expanded against `target`.
    pub fn value(&self, target: &str, format: &str) -> String {
        self.ok(&["display-message", "-p", "-t", target, format])
            .trim_end_matches('\n')
            .to_string()
    }

    /// Types a line into a pane and presses Enter.
    pub fn type_line(&self, pane: &str, line: &str) {
        self.ok(&["send-keys", "-t", pane, "-l", line]);
        self.ok(&["send-keys", "-t", pane, "Enter"]);
    }

    /// Waits until pane `pane` shows `needle`.
    #[track_caller]
    pub fn wait_for(&self, pane: &str, needle: &str) -> String {
        let t = Instant::now();
        loop {
            let screen = self.capture(pane);
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "pane {pane} never showed {needle:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// A server with one session `t` (`cols` x `rows`, in the test's `work` directory) whose
    /// pane runs bash, with the test's environment ([`server_env`]).
    pub fn start(env: &TestEnv, tag: &str, cols: u16, rows: u16) -> Server {
        let s = Server::new(&env.root, tag, server_env(env));
        s.new_session_t(env, cols, rows);
        s
    }

    /// Makes session `t` (`cols` x `rows`, in the test's `work` directory) whose pane runs
    /// bash; starts the server when none runs.
    pub fn new_session_t(&self, env: &TestEnv, cols: u16, rows: u16) {
        self.ok(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
            "-c",
            &env.root.join("work").display().to_string(),
            "bash --norc --noprofile",
        ]);
    }

    /// The text of a pane with wrapped lines joined (`capture-pane -J`).
    pub fn capture_joined(&self, pane: &str) -> String {
        self.ok(&["capture-pane", "-p", "-J", "-t", pane])
    }

    /// Sets a short prompt in a fresh bash pane, clears it, and waits until the pane shows only
    /// that prompt (so what is typed next is what the screen shows next).
    #[track_caller]
    pub fn quiet_prompt(&self, pane: &str) {
        self.type_line(pane, "PS1='$ '; clear");
        let t = Instant::now();
        loop {
            let screen = self.capture_joined(pane);
            if screen.trim() == "$" {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "pane {pane} never showed a bare prompt:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (30 s at most) until pane `pane`, with wrapped lines joined, shows `needle`.
    #[track_caller]
    pub fn wait_for_joined(&self, pane: &str, needle: &str) -> String {
        let t = Instant::now();
        loop {
            let screen = self.capture_joined(pane);
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "pane {pane} never showed {needle:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Attaches a client to session `session` on a pty of this process (so the status line is
    /// drawn).
    pub fn attach_pty(&self, session: &str) -> crate::pty::Pty {
        let mut c = self.cmd();
        c.args(["attach", "-t", session]);
        crate::pty::Pty::spawn(c)
    }

    /// Every pane id of the server, once each (grouped sessions list their panes again).
    pub fn panes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in self.ok(&["list-panes", "-a", "-F", "#{pane_id}"]).lines() {
            if !out.iter().any(|o| o == p) {
                out.push(p.to_string());
            }
        }
        out
    }

    /// Whether the server answers.
    pub fn alive(&self) -> bool {
        self.run(&["list-sessions"]).0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// The tmux world of one plugin test: the server under test and, once attached, a terminal
/// running a client of it.
pub struct World {
    /// The server the plugin is loaded into.
    pub tmux: Server,
    /// The terminal (another server) whose pane runs the attached client.
    pub term: Option<Server>,
    /// The panechat binary.
    pub bin: String,
}

/// The environment a tmux server under test gets: the test environment (minus the explicit
/// session, so the panes are the sessions), the panechat binary's directory first on PATH, and
/// bash as the shell.
pub fn server_env(env: &TestEnv) -> Vec<(String, String)> {
    let bin = panechat_bin();
    let dir = bin.parent().unwrap().display().to_string();
    let mut out: Vec<(String, String)> = env
        .env
        .iter()
        .filter(|(k, _)| *k != "PANECHAT_SESSION")
        .map(|(k, v)| {
            if k == "PATH" {
                (k.clone(), format!("{dir}:{v}"))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    out.push(("SHELL".into(), "/bin/bash".into()));
    out.push(("TERM".into(), "xterm-256color".into()));
    out
}

impl World {
    /// Starts a server with one session `t` (`cols` x `rows`) whose pane runs bash.
    pub fn start(env: &TestEnv, cols: u16, rows: u16) -> World {
        World::start_with(env, server_env(env), cols, rows)
    }

    /// Like [`World::start`] with an explicit server environment.
    pub fn start_with(env: &TestEnv, senv: Vec<(String, String)>, cols: u16, rows: u16) -> World {
        let tmux = Server::new(&env.root, "t", senv);
        World::set_up(&tmux, env, cols, rows);
        World {
            tmux,
            term: None,
            bin: panechat_bin().display().to_string(),
        }
    }

    /// Stops the server (`kill-server`, as a person or a reboot would) and starts a new one on
    /// the same socket with the same session `t`: its panes get the ids the old ones had
    /// (`%0`, …). Clients are gone with the old server: attach again.
    pub fn restart_server(&mut self, env: &TestEnv, cols: u16, rows: u16) {
        let pid = self.tmux.run(&["display-message", "-p", "#{pid}"]).1;
        let _ = self.tmux.run(&["kill-server"]);
        if let Some(term) = &self.term {
            let _ = term.run(&["kill-server"]);
        }
        self.term = None;
        // kill-server returns before the server has gone; a command sent meanwhile reaches the
        // dying server ("server exited unexpectedly").
        let t = Instant::now();
        // Nor is the server gone once it answers no more: it may still be exiting, so the
        // process itself is waited for (a zombie counts as gone).
        let alive = || {
            std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                .is_ok_and(|st| st.rsplit(") ").next().is_some_and(|r| !r.starts_with('Z')))
        };
        while self.tmux.run(&["list-sessions"]).0 || (!pid.trim().is_empty() && alive()) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the server never stopped"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        World::set_up(&self.tmux, env, cols, rows);
    }

    /// Session `t` and the server options every world has.
    fn set_up(tmux: &Server, env: &TestEnv, cols: u16, rows: u16) {
        tmux.new_session_t(env, cols, rows);
        // Sizes follow the attached client; a quiet prompt keeps screens readable.
        tmux.ok(&["set-option", "-g", "window-size", "latest"]);
        // A pane made without a command (a split, a new window) runs the same shell as the
        // first, with the test's PATH (a login shell would reset it from /etc/profile).
        tmux.ok(&[
            "set-option",
            "-g",
            "default-command",
            "exec bash --norc --noprofile",
        ]);
    }

    /// The first pane.
    pub fn pane0(&self) -> String {
        self.tmux.value("t", "#{pane_id}")
    }

    /// Gives `pane` a Claude Code agent in `agent.state` (with `agent.tool` while working) the
    /// way Claude Code does: `panechat hook claude` with the event's JSON on stdin
    /// ([`claude_event`]), run with the pane's `TMUX` and `TMUX_PANE`.
    pub fn set_agent(&self, env: &TestEnv, pane: &str, agent: &panechat_vocab::state::Agent) {
        use std::io::Write;
        let mut c = env.cmd(["hook", "claude"]);
        c.env_remove("PANECHAT_SESSION")
            .env("TMUX", self.tmux_var(pane))
            .env("TMUX_PANE", pane)
            .stdin(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(claude_event(agent).as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }

    /// The `TMUX` value of a shell in `pane`.
    pub fn tmux_var(&self, pane: &str) -> String {
        format!(
            "{},{},{}",
            self.tmux.value(pane, "#{socket_path}"),
            self.tmux.value(pane, "#{pid}"),
            self.tmux
                .value(pane, "#{session_id}")
                .trim_start_matches('$')
        )
    }

    /// Loads the plugin the manual way (`run-shell …/tmux-scripts/panechat.tmux`).
    pub fn load_plugin(&self) {
        let script = repo_root().join("tmux-scripts/panechat.tmux");
        let (ok, out, err) = self.tmux.run(&["run-shell", &script.display().to_string()]);
        assert!(ok, "loading the plugin failed: {out}{err}");
    }

    /// Attaches a client on a terminal of `cols` x `rows`.
    pub fn attach(&mut self, env: &TestEnv, cols: u16, rows: u16) {
        self.attach_client(env, "term", "t", cols, rows);
    }

    /// Attaches one more client, on its own terminal `name` (a session of the terminal
    /// server), to `session` of the server under test. The first terminal is `term`.
    pub fn attach_client(
        &mut self,
        env: &TestEnv,
        name: &str,
        session: &str,
        cols: u16,
        rows: u16,
    ) {
        if self.term.is_none() {
            self.term = Some(Server::new(&env.root, "term", server_env(env)));
        }
        let before = self.clients().len();
        let attach = format!(
            "env -u TMUX -u TMUX_PANE TMUX_TMPDIR='{}' tmux -L '{}' -f /dev/null attach -t '{session}'",
            self.tmux.tmpdir.display(),
            self.tmux.socket
        );
        let term = self.term();
        term.ok(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
            &attach,
        ]);
        // The terminal shows nothing of its own: no status line.
        term.ok(&["set-option", "-g", "status", "off"]);
        let t = Instant::now();
        while self.clients().len() <= before {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the client never attached: {}",
                term.capture(name)
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// The names of the attached clients.
    pub fn clients(&self) -> Vec<String> {
        self.tmux
            .ok(&["list-clients", "-F", "#{client_name}"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn term(&self) -> &Server {
        self.term.as_ref().expect("attach() first")
    }

    /// What the person sees on the terminal.
    pub fn screen(&self) -> String {
        self.screen_of("term")
    }

    /// What the person at terminal `name` sees.
    pub fn screen_of(&self, name: &str) -> String {
        self.term().capture(name)
    }

    /// The screen with colours and attributes (`capture-pane -e`).
    pub fn screen_styled(&self) -> String {
        self.term().ok(&["capture-pane", "-e", "-p", "-t", "term"])
    }

    /// Types keys on the client (tmux key names, e.g. `C-b`, `F`, `Enter`, `Escape`).
    pub fn keys(&self, keys: &[&str]) {
        self.keys_on("term", keys);
    }

    /// Types keys on the client of terminal `name`.
    pub fn keys_on(&self, name: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", name];
        args.extend_from_slice(keys);
        self.term().ok(&args);
    }

    /// Types literal text on the client.
    pub fn text(&self, text: &str) {
        self.text_on("term", text);
    }

    /// Types literal text on the client of terminal `name`.
    pub fn text_on(&self, name: &str, text: &str) {
        self.term().ok(&["send-keys", "-t", name, "-l", text]);
    }

    /// prefix + KEY on the client.
    pub fn prefix(&self, key: &str) {
        self.prefix_on("term", key);
    }

    /// prefix + KEY on the client of terminal `name`.
    pub fn prefix_on(&self, name: &str, key: &str) {
        self.keys_on(name, &["C-b"]);
        self.keys_on(name, &[key]);
    }

    /// Waits until terminal `name` shows `needle`.
    #[track_caller]
    pub fn wait_screen_of(&self, name: &str, needle: &str) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen_of(name);
            if s.contains(needle) {
                return s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "terminal {name} never showed {needle:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// Waits until the terminal shows `needle`.
    #[track_caller]
    pub fn wait_screen(&self, needle: &str) -> String {
        self.wait_screen_for(|s| s.contains(needle), needle)
    }

    /// Waits until the screen satisfies `f`.
    #[track_caller]
    pub fn wait_screen_for(&self, f: impl Fn(&str) -> bool, what: &str) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if f(&s) {
                return s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the screen never showed {what:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(40));
        }
    }
}

/// The Claude Code hook event that puts a pane's agent in `agent.state`: `PreToolUse` of
/// `agent.tool` (or `UserPromptSubmit`) for working, `PermissionRequest` for needs you, `Stop`
/// for done, `SessionStart` for idle.
pub fn claude_event(agent: &panechat_vocab::state::Agent) -> String {
    use panechat_vocab::state::AgentState;
    let session = agent.session.as_deref().unwrap_or("5f0c2d");
    let mut e = serde_json::json!({ "session_id": session, "cwd": "/w" });
    let name = match (agent.state, agent.tool.as_deref()) {
        (AgentState::Working, Some(tool)) => {
            e["tool_name"] = tool.into();
            e["tool_input"] = serde_json::json!({});
            "PreToolUse"
        }
        (AgentState::Working, None) => {
            e["prompt"] = "go on".into();
            "UserPromptSubmit"
        }
        (AgentState::NeedsYou, _) => {
            e["tool_name"] = "Bash".into();
            e["tool_input"] = serde_json::json!({ "command": "ls" });
            "PermissionRequest"
        }
        (AgentState::Done, _) => {
            e["stop_hook_active"] = false.into();
            e["last_assistant_message"] = "All done.".into();
            "Stop"
        }
        (AgentState::Idle, _) => {
            e["source"] = "startup".into();
            "SessionStart"
        }
    };
    e["hook_event_name"] = name.into();
    e.to_string()
}
