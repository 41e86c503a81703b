//! panechat in a real headless Zellij 0.45.1 with its plugin: a private `HOME`, `XDG_*`,
//! `ZELLIJ_SOCKET_DIR` and `TMPDIR` per test, the config printed by
//! `panechat init zellij --plugin file:<built wasm>`, a pre-seeded `permissions.kdl`, and a
//! client attached on a pty (plugins get events only with a client). Assertions read
//! `zellij action list-panes --json` and `dump-screen`, as a user would see them.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use panechat_e2e::env::TestEnv;
use panechat_e2e::helpers::setup;
use panechat_e2e::zellij::{check_zellij, is_pane_key, Opts, Zellij};
use serde_json::Value;

/// A client connected to `z`'s session that asks for nothing. (Zellij 0.45.1 reuses a client's
/// number at once and may still act on the previous holder's disconnection: a new connection
/// that gets the number of one that just ended is sometimes disconnected at once; then another
/// is made.)
fn bystander(z: &Zellij) -> std::os::unix::net::UnixStream {
    use std::io::Read;
    let socket = z.root.join("s/contract_version_1").join(&z.session);
    for _ in 0..5 {
        let mut c = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        std::thread::sleep(Duration::from_millis(600));
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

/// The conversation panechat maps Zellij pane `pane` of session `session` to (`sessions
/// --json`), or "" when it maps none.
fn mapped_conversation(env: &TestEnv, session: &str, pane: u64) -> String {
    serde_json::from_str::<Value>(&env.run(["sessions", "--json"]).stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .and_then(|a| {
            a.into_iter()
                .find(|x| is_pane_key(x["key"].as_str().unwrap_or(""), session, pane))
        })
        .and_then(|x| x["conversation"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Asks in pane 0 for a new conversation titled `title`; waits until the pane has its name.
#[track_caller]
fn new_conversation_in_pane_0(z: &Zellij, title: &str) {
    z.type_line(0, &format!("panechat q --new 'one [[title:{title}]]'"));
    let name = format!("💬 {title}");
    z.wait_for("pane 0 renamed", Duration::from_secs(20), |z| {
        z.title(0) == name
    });
}

/// Everything `stream` receives until it has been quiet for `quiet`.
fn read_until_quiet(stream: &mut std::os::unix::net::UnixStream, quiet: Duration) -> Vec<u8> {
    use std::io::Read;
    stream.set_read_timeout(Some(quiet)).unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) => {
                assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ),
                    "{e}"
                );
                break;
            }
        }
    }
    all
}

/// The distinct pipe ids (UUIDs, as `zellij pipe` names its pipes) in Zellij's messages.
fn pipe_ids(bytes: &[u8]) -> std::collections::BTreeSet<String> {
    let is_uuid = |w: &[u8]| {
        w.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
    };
    bytes
        .windows(36)
        .filter(|w| is_uuid(w))
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect()
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

/// The `zellij run --floating` processes (the lock question's) of this test's Zellij.
fn zellij_runs_of(z: &Zellij) -> Vec<nix::unistd::Pid> {
    let sock = z.root.join("s").display().to_string();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let environ = std::fs::read(e.path().join("environ")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.starts_with("zellij run --floating")
            && String::from_utf8_lossy(&environ).contains(&sock)
        {
            found.push(nix::unistd::Pid::from_raw(pid));
        }
    }
    found
}

#[test]
fn init_snippet_is_accepted_by_zellij_and_its_keys_are_free() {
    panechat_e2e::needs!("zellij");
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
    for key in ["Alt m", "Alt y", "Alt a", "Alt u"] {
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
    panechat_e2e::needs!("zellij");
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
    // Pane names follow the rule for all text left in a multiplexer: no `#` (each a `♯`).
    let shown = "💬 Plan ♯(touch M1) ♯[fg=red] ; kill-server $(touch M2)";
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
    z.action_until(
        &[
            "rename-pane",
            "--pane-id",
            &format!("terminal_{p1}"),
            "my build",
        ],
        |z| z.title(p1) == "my build",
    );
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
    // A rename the plugin makes after that one (pane 0's) has landed: so would have any rename
    // of pane 1 made when it heard "Third title".
    z.type_line(0, "panechat rename 'Later title'");
    z.wait_for("pane 0 renamed after", Duration::from_secs(10), |z| {
        z.title(0) == "💬 Later title"
    });
    assert_eq!(z.title(p1), "my build");
}

#[test]
fn picker_lists_every_panes_conversation_and_enter_focuses_the_choice() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.type_line(0, "panechat q --new 'one [[title:Alpha topic]]'");
    z.action_until(&["new-tab"], |z| z.terminal_panes().len() == 2);
    let p1 = z.wait_terminal_panes(2);
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
fn the_pickers_keys_use_fork_and_start_new_conversations() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    new_conversation_in_pane_0(&z, "Alpha topic");
    let p1 = z.new_pane();
    z.type_line(p1, "panechat q --new 'two [[title:Beta topic]]'");
    z.wait_for("the new pane renamed", Duration::from_secs(20), |z| {
        z.title(p1) == "💬 Beta topic"
    });
    // Which conversation a pane has, as panechat itself maps it.
    let session = z.session.clone();
    let conv_of = |env: &TestEnv, pane: u64| mapped_conversation(env, &session, pane);
    let parent_of = |env: &TestEnv, conv: &str| -> Value {
        let v: Value = serde_json::from_str(&env.run(["show", "--json", conv]).ok().stdout)
            .expect("show --json");
        v["parent"]["id"].clone()
    };
    let alpha = conv_of(&env, 0);
    let beta = conv_of(&env, p1);
    assert!(!alpha.is_empty() && !beta.is_empty() && alpha != beta);
    let open_picker = |z: &mut Zellij, panes: usize| {
        z.keys(b"\x1bm");
        let shown = format!("of {panes} panes");
        z.wait_for("the picker", Duration::from_secs(10), |z| {
            z.plugin_screen().contains(&shown)
        });
    };

    // Ctrl u, with pane 0's row chosen, from the new pane (it has the focus): the new pane
    // takes Alpha's conversation, and is named after it.
    open_picker(&mut z, 2);
    z.keys(b"alpha");
    z.wait_for("the filter", Duration::from_secs(5), |z| {
        z.plugin_screen().contains("1 of 2 panes")
    });
    z.keys(b"\x15");
    z.wait_for(
        "the new pane given Alpha's conversation",
        Duration::from_secs(15),
        |z| conv_of(&env, p1) == alpha && z.title(p1) == "💬 Alpha topic",
    );

    // Ctrl f: a new pane holding a fork of the chosen pane's conversation.
    open_picker(&mut z, 2);
    z.keys(b"\x06");
    let p2 = z.wait_terminal_panes(3);
    z.wait_for("the fork's pane mapped", Duration::from_secs(20), |z| {
        let c = conv_of(&env, p2);
        !c.is_empty() && c != alpha && z.title(p2).starts_with("💬 Alpha topic")
    });
    let fork = conv_of(&env, p2);
    assert_eq!(parent_of(&env, &fork), alpha.as_str());

    // Ctrl e: a new pane whose first query starts a conversation of its own.
    open_picker(&mut z, 3);
    z.keys(b"\x05");
    let p3 = z.wait_terminal_panes(4);
    z.wait_prompt(p3);
    z.type_line(p3, "panechat q 'three [[title:Gamma topic]]'");
    z.wait_for("the new pane renamed", Duration::from_secs(20), |z| {
        z.title(p3) == "💬 Gamma topic"
    });
    let gamma = conv_of(&env, p3);
    assert!(![&alpha, &beta, &fork].contains(&&gamma), "{gamma}");
    assert_eq!(parent_of(&env, &gamma), Value::Null);
    // The other panes kept theirs.
    assert_eq!(conv_of(&env, 0), alpha);
    assert_eq!(conv_of(&env, p1), alpha);
    assert_eq!(conv_of(&env, p2), fork);
}

#[test]
fn a_closed_plugin_is_named_by_doctor() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    new_conversation_in_pane_0(&z, "Alpha topic");
    let doctor = |env: &TestEnv| env.run(["doctor"]).stdout;
    assert!(!doctor(&env).contains("Zellij"), "{}", doctor(&env));
    // The plugin goes away (closed, as `close-pane` on its pane does; a crash looks the same).
    let plugin = z
        .panes()
        .into_iter()
        .find(|p| p["is_plugin"] == true && p["plugin_url"] == "panechat")
        .and_then(|p| p["id"].as_u64())
        .expect("the plugin's pane");
    let pane = format!("plugin_{plugin}");
    z.action_until(&["close-pane", "--pane-id", &pane], |z| {
        !z.panes()
            .iter()
            .any(|p| p["is_plugin"] == true && p["plugin_url"] == "panechat")
    });
    // The next query's states go unanswered; doctor, typed in the pane, says so.
    z.type_line(0, "panechat q 'two [[title:Beta topic]]'");
    z.wait_for("the states unanswered", Duration::from_secs(20), |_| {
        doctor(&env).contains("did not answer")
    });
    z.type_line(0, "panechat doctor");
    let session = z.session.clone();
    z.wait_for("doctor's note on screen", Duration::from_secs(10), |z| {
        let s = z.screen("terminal_0");
        s.contains(&format!("Zellij session '{session}'"))
            && s.contains("the panechat plugin did not answer")
    });
    eprintln!(
        "zellij: doctor with the plugin closed:\n{}",
        z.screen("terminal_0")
    );
    // The pane kept the name it had.
    assert_eq!(z.title(0), "💬 Alpha topic");
    // Loaded again as docs/zellij.md says: pane names follow their conversations again, and
    // doctor's note goes with the next message.
    z.action_retry(&["start-or-reload-plugin", "panechat"]);
    // It goes to the background at once (no pane left on screen) and answers again.
    z.wait_for(
        "the plugin back, in the background",
        Duration::from_secs(30),
        |z| {
            let hidden = z
                .panes()
                .iter()
                .filter(|p| p["is_plugin"] == true && p["plugin_url"] == "panechat")
                .all(|p| p["is_suppressed"] == true);
            hidden && z.plugin_view()["granted"] == true
        },
    );
    z.type_line(0, "panechat rename 'Gamma topic'");
    z.wait_for(
        "the pane renamed, the note gone",
        Duration::from_secs(20),
        |z| z.title(0) == "💬 Gamma topic" && !doctor(&env).contains("Zellij"),
    );
}

#[test]
fn zellij_started_in_a_tmux_pane_keys_queries_by_its_own_panes() {
    panechat_e2e::needs!("tmux", "zellij");
    let (env, _fake) = setup();
    // Zellij started from a pane of a real tmux: its panes inherit `TMUX`, `TMUX_PANE` and
    // tmux's `TERM`.
    let tmux = panechat_e2e::tmux::Server::start(&env, "nest", 80, 24);
    let tmux_var = tmux.value("t", "#{socket_path},#{pid},0");
    let tmux_pane = tmux.value("t", "#{pane_id}");
    let z = Zellij::start(
        &env,
        Opts {
            env: &[
                ("TMUX", &tmux_var),
                ("TMUX_PANE", &tmux_pane),
                ("TERM", "tmux-256color"),
            ],
            ..Opts::default()
        },
    );
    z.wait_prompt(0);
    z.wait_plugin_ready();
    z.type_line(0, "echo the build broke");
    z.type_line(0, "panechat q --new --pane 'one [[title:Nested topic]]'");
    // The query is keyed by the Zellij pane it runs in: that pane is renamed, its screen is
    // the one attached, and the tmux pane outside is left alone.
    z.wait_for("the Zellij pane renamed", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Nested topic"
    });
    assert!(
        z.screen("terminal_0")
            .contains("attached pane zellij terminal_0"),
        "{}",
        z.screen("terminal_0")
    );
    let sessions: Value = serde_json::from_str(&env.run(["sessions", "--json"]).stdout).unwrap();
    let keys: Vec<&str> = sessions
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["key"].as_str())
        .collect();
    assert!(
        keys.len() == 1 && is_pane_key(keys[0], &z.session, 0),
        "{keys:?}"
    );
    assert_eq!(tmux.value(&tmux_pane, "#{@panechat_id}"), "");
}

#[test]
fn a_missing_binary_is_said_in_the_picker() {
    panechat_e2e::needs!("zellij");
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
    panechat_e2e::needs!("zellij");
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
fn publication_answers_go_to_their_own_pipe_not_to_every_client() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    new_conversation_in_pane_0(&z, "Busy pane");
    // The query's last publications done before the bystander connects: a client that
    // connects while another one leaves can be given the leaving one's number, and Zellij
    // 0.45.1 may then drop it with the leaving one (its own race, not a publication's doing).
    z.wait_for(
        "the query and its publications done",
        Duration::from_secs(20),
        |z| {
            let idle = serde_json::from_str::<Value>(&env.run(["sessions", "--json"]).stdout)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .is_some_and(|a| {
                    a.iter()
                        .all(|x| x["runs"].as_array().is_none_or(|r| r.is_empty()))
                });
            idle && pipes_of(z).is_empty()
        },
    );
    std::thread::sleep(Duration::from_millis(500));
    // A bystander: a client of the session that asks for nothing, so Zellij sends it nothing,
    // unless it sends something to every client. (A `zellij pipe` whose stdin is not a terminal
    // has Zellij send its last acknowledgement to every client, and a `zellij` command that
    // receives it first fails with "There is no active session!".)
    let mut bystander = bystander(&z);
    // Many publications at once: each `panechat refresh` sends pane 0's state.
    let sent = 20;
    let refreshes: Vec<_> = (0..sent)
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
    // What reached the bystander: the pipes whose answers Zellij sent to every client.
    // Zellij 0.45.1 does that for a pipe it no longer knows: one whose `zellij pipe` exited
    // first (the non-terminal stdin case), or one whose connection it dropped through its own
    // client-number race (it frees the number of a command's session check twice: when it
    // answers the check and when that connection closes; a connection that got the number
    // in between is dropped). The second is rare and not panechat's doing; the first would
    // show every pipe here.
    let got = read_until_quiet(&mut bystander, Duration::from_millis(700));
    let broadcast = pipe_ids(&got);
    assert!(
        broadcast.len() <= 2,
        "the answers to {} of {sent} publications went to every client: {:?}",
        broadcast.len(),
        String::from_utf8_lossy(&got)
    );
    if !broadcast.is_empty() {
        eprintln!(
            "note: Zellij sent the answers of {} pipe(s) to every client (its client-number race)",
            broadcast.len()
        );
    }
    assert_eq!(z.title(0), "💬 Busy pane");
    assert!(z.plugin_view()["granted"] == true);
}

#[test]
fn the_ask_key_asks_about_the_focused_pane_in_a_floating_pane() {
    panechat_e2e::needs!("zellij");
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
    let sessions: Value =
        serde_json::from_str(&env.run(["sessions", "--json"]).ok().stdout).unwrap();
    let conv = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| is_pane_key(s["key"].as_str().unwrap_or(""), &z.session, 0))
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
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    new_conversation_in_pane_0(&z, "Alpha topic");
    let conv_of = |z: &Zellij, pane: u64| -> Option<String> {
        z.plugin_view()["panes"]
            .as_array()?
            .iter()
            .find(|p| p["pane"] == pane)?["conversation"]
            .as_str()
            .map(str::to_string)
    };
    z.wait_for(
        "pane 0's conversation in the plugin",
        Duration::from_secs(10),
        |z| {
            let found = conv_of(z, 0).is_some();
            if !found {
                eprintln!("zellij: the plugin's view: {}", z.plugin_view());
            }
            found
        },
    );
    let original = conv_of(&z, 0).unwrap();
    // Alt y, typed on the client while pane 0 has the focus.
    z.keys(b"\x1by");
    let new = z.wait_terminal_panes(2);
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
fn the_plugin_leaves_no_conversion_errors_in_the_zellij_log() {
    panechat_e2e::needs!("zellij");
    // Zellij 0.45.1 cannot pass a plugin that hears every user action most of the actions
    // programs run (`zellij pipe`, `zellij action list-panes`, …) and logs an error for each,
    // many times a second while anything polls.
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    new_conversation_in_pane_0(&z, "Alpha topic");
    // A fork (Alt y) of pane 0's conversation, then an ask (Alt a) about the fork's pane.
    z.keys(b"\x1by");
    let new = z.wait_terminal_panes(2);
    z.wait_for("the fork's pane named", Duration::from_secs(20), |z| {
        z.title(new).starts_with("💬 Alpha topic")
    });
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
    z.keys(b"why? [[reply:because.]]\r");
    z.wait_for("the answer", Duration::from_secs(20), |z| {
        let s = z.screen(&ask);
        s.contains("press any key to close") && s.contains("because.")
    });
    let log = z.log();
    assert!(
        log.contains("panechat"),
        "no Zellij log of this session: {log}"
    );
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Failed to convert to protobuf"))
        .collect();
    assert!(
        errors.is_empty(),
        "{} conversion errors in the Zellij log, the first: {}",
        errors.len(),
        errors[0]
    );
}

#[test]
fn a_locked_conversation_asks_in_a_floating_pane_and_each_answer_takes_effect() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    let p1 = z.new_pane();
    z.type_line(0, "panechat q --new 'one [[title:Shared topic]]'");
    z.wait_for("pane 0 renamed", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Shared topic"
    });
    // Which conversation a pane has, as panechat itself maps it (`sessions --json`): this test
    // is about the question, not the plugin's view.
    let session = z.session.clone();
    let conv_of = |env: &TestEnv, pane: u64| mapped_conversation(env, &session, pane);
    let shared = conv_of(&env, 0);
    assert!(!shared.is_empty(), "pane 0 has no conversation");
    // (answer keys, what pane 1 must end up with, whether the `zellij run` that waits for the
    // popup is cut off first: Zellij 0.45.1 now and then drops a client that connected as
    // another one left, and the question must still be answered from the popup)
    let rounds: [(&[u8], &str, bool); 5] = [
        (b"\r", "wait", false),
        (b"\x1b[B\r", "new", false),
        (b"\x1b[B\x1b[B\r", "fork", false),
        (b"\x1b[B\x1b[B\x1b[B\r", "cancel", false),
        (b"\x1b[B\x1b[B\r", "fork", true),
    ];
    for (keys, answer, cut_off) in rounds {
        z.type_line(
            0,
            &format!("panechat q --id {shared} 'hold [[slow:500]] [[chunks:24]]'"),
        );
        // (panechat's own view: this test is about the question, not the plugin's view.)
        let session = z.session.clone();
        let running = |env: &TestEnv| -> bool {
            let out = env.run(["sessions", "--json"]).stdout;
            serde_json::from_str::<Value>(&out)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .is_some_and(|a| {
                    a.iter().any(|x| {
                        is_pane_key(x["key"].as_str().unwrap_or(""), &session, 0)
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
        // (the screen that showed it is kept: a later read can be cut off by Zellij)
        let mut question = String::new();
        z.wait_for("the floating question", Duration::from_secs(20), |z| {
            z.terminal_panes().iter().any(|p| {
                p["is_floating"] == true
                    && p["title"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("panechat: zellij pane "))
            }) && z.try_action(&["dump-screen"]).is_some_and(|s| {
                let shown = s.contains("What now?") && s.contains("in use");
                if shown {
                    question = s;
                }
                shown
            })
        });
        // Held by the first pane, named as Zellij shows it.
        assert!(
            question.contains("held by\nzellij pane #1")
                || question.contains("held by zellij pane #1"),
            "{question}"
        );
        if cut_off {
            let runs = zellij_runs_of(&z);
            assert_eq!(runs.len(), 1, "{runs:?}");
            nix::sys::signal::kill(runs[0], nix::sys::signal::Signal::SIGKILL).unwrap();
            z.wait_for("the `zellij run` gone", Duration::from_secs(5), |z| {
                zellij_runs_of(z).is_empty()
            });
            std::thread::sleep(Duration::from_millis(300));
            z.wait_for(
                "the question still on screen without its `zellij run`",
                Duration::from_secs(5),
                |z| {
                    z.try_action(&["dump-screen"])
                        .is_some_and(|s| s.contains("What now?"))
                },
            );
        }
        z.keys(keys);
        z.wait_for("the question answered", Duration::from_secs(10), |z| {
            !z.terminal_panes().iter().any(|p| p["is_floating"] == true)
        });
        let screen = || z.screen(&format!("terminal_{p1}"));
        match answer {
            "wait" => {
                // While it waits the pane's name shows both marks: its query runs, another
                // pane's holds the conversation (as tmux shows them).
                z.wait_for(
                    "pane 1 named running and held",
                    Duration::from_secs(10),
                    |z| z.title(p1) == "💬 Shared topic ● 🔒",
                );
                // The query goes on in the shared conversation once the holder is done.
                z.wait_for("pane 1's query done", Duration::from_secs(30), |_| {
                    screen().contains("rc=0")
                });
                assert_eq!(conv_of(&env, p1), shared);
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
                let conv = conv_of(&env, p1);
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

#[test]
fn a_client_that_came_and_left_leaves_one_plugin_instance_acting() {
    panechat_e2e::needs!("zellij");
    // Zellij runs the plugin once per client that attached and keeps the instance of a client
    // that left: it hears no more pane updates but still every `panechat::state`. Renaming
    // from what it knew then would undo a name the user gave a pane since.
    let (env, _fake) = setup();
    let z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    let work = env.root.join("work");
    z.type_line(0, "panechat q --new 'hi [[title:First]]'");
    z.wait_for("pane 0 named", Duration::from_secs(20), |z| {
        z.title(0) == "💬 First"
    });
    // (the test's own client by its number: Zellij may have attached it again under another
    // number than 1 while the session started)
    let ids = z.client_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let first_client = Value::from(ids[0]);
    let other = z.another_client(&work);
    z.wait_for("an instance per client", Duration::from_secs(20), |z| {
        let views = z.plugin_views("all");
        views.len() == 2
            && views
                .iter()
                .all(|v| v["panes"][0]["conversation_title"] == "First")
    });
    // One of them acts for the session: the one of the client with the smaller number.
    let smallest = z.client_ids().into_iter().min().unwrap();
    let views = z.plugin_views("x");
    assert_eq!(views.len(), 1, "{views:?}");
    assert_eq!(views[0]["leader"], true);
    assert_eq!(views[0]["client"], smallest, "{views:?}");
    drop(other);
    z.wait_for("the other client gone", Duration::from_secs(10), |z| {
        z.client_ids().len() == 1
    });
    // The user names the pane, then the conversation gets a new title.
    z.action_until(
        &["rename-pane", "--pane-id", "terminal_0", "my build"],
        |z| z.title(0) == "my build",
    );
    z.wait_for(
        "the plugin notices the hand-made name",
        Duration::from_secs(10),
        |z| z.plugin_view()["panes"][0]["renamed_by_hand"] == true,
    );
    z.type_line(0, "panechat rename 'Second'");
    z.wait_for("the conversation retitled", Duration::from_secs(10), |z| {
        z.plugin_view()["panes"][0]["conversation_title"] == "Second"
    });
    // The instance of the client that left heard it too, and learnt from Zellij that its client
    // is gone: it renames nothing. (Once every instance heard it, what Zellij is asked after
    // comes after any rename they asked for: a new pane is made after it.)
    z.wait_for("every instance heard it", Duration::from_secs(10), |z| {
        let views = z.plugin_views("all");
        views.len() == 2
            && views
                .iter()
                .all(|v| v["panes"][0]["conversation_title"] == "Second")
    });
    z.new_pane();
    let views = z.plugin_views("all");
    assert!(
        views
            .iter()
            .any(|v| v["client"] != first_client && v["leader"] == false),
        "{views:?}"
    );
    assert_eq!(z.title(0), "my build", "{views:?}");

    // Another client attaches, and the first one leaves: the other client's instance renames.
    let other = z.another_client(&work);
    let mut z = z;
    z.kill_client();
    z.wait_for("the first client gone", Duration::from_secs(10), |z| {
        let ids = z.client_ids();
        ids.len() == 1 && first_client != ids[0]
    });
    let p1 = z.new_pane();
    z.type_line(p1, "panechat q --new 'hi [[title:Handed over]]'");
    z.wait_for("the new pane named", Duration::from_secs(20), |z| {
        z.title(p1) == "💬 Handed over"
    });
    assert_eq!(z.title(0), "my build");
    drop(other);
}

#[test]
fn a_key_acts_once_on_the_pane_its_client_focused() {
    panechat_e2e::needs!("zellij");
    // Zellij sends a key's message to the plugin instance of every client that ever attached;
    // the instance of a client that left must not act on it (it would fork again, from what
    // was focused when its client left).
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    let p1 = z.new_pane();
    z.type_line(0, "panechat q --new 'one [[title:Left topic]]'");
    z.type_line(p1, "panechat q --new 'two [[title:Right topic]]'");
    z.wait_for("both panes named", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Left topic" && z.title(p1) == "💬 Right topic"
    });
    // The test's own client, by its number (not always 1: Zellij numbers a client 2 when a
    // command holds 1 as it attaches).
    let ids = z.client_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let first = ids[0];
    // A second client comes, focuses the left pane, and leaves.
    let mut other = z.another_client(&env.root.join("work"));
    z.wait_for("an instance per client", Duration::from_secs(20), |z| {
        z.plugin_views("all").len() == 2
    });
    let on = |z: &Zellij, who: u64, pane: &str| {
        z.client_panes()
            .iter()
            .any(|(id, p)| *id == who && p == pane)
    };
    let other_on_left = |z: &Zellij| {
        z.client_panes()
            .iter()
            .any(|(id, p)| *id != first && p == "terminal_0")
    };
    for _ in 0..3 {
        other.keys(b"\x1bh");
        if other_on_left(&z) {
            break;
        }
    }
    z.wait_for(
        "the other client on the left pane",
        Duration::from_secs(10),
        other_on_left,
    );
    drop(other);
    z.wait_for("the other client gone", Duration::from_secs(10), |z| {
        z.client_ids().len() == 1
    });
    // The remaining client, on the right pane, presses Alt y: one fork, of the right pane.
    let right = format!("terminal_{p1}");
    for _ in 0..3 {
        z.keys(b"\x1bl");
        if on(&z, first, &right) {
            break;
        }
    }
    z.wait_for(
        "the client on the right pane",
        Duration::from_secs(10),
        |z| on(z, first, &right),
    );
    z.keys(b"\x1by");
    let new = z.wait_terminal_panes(3);
    z.wait_for(
        "the new pane named after the right pane's fork",
        Duration::from_secs(20),
        |z| z.title(new).starts_with("💬 Right topic"),
    );
    // Every instance has had the key once each answered; a pane asked for after that comes
    // after any fork they made.
    let instances = z.plugin_views("all").len();
    assert!(instances >= 1);
    let witness = z.new_pane();
    let titles: Vec<String> = z
        .terminal_panes()
        .iter()
        .filter(|p| p["id"].as_u64() != Some(witness))
        .map(|p| p["title"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(titles.len(), 3, "one fork only: {titles:?}");
}

#[test]
fn a_session_started_again_under_its_old_name_inherits_no_pane() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    new_conversation_in_pane_0(&z, "Old one");
    let old = mapped_conversation(&env, &z.session, 0);
    assert!(!old.is_empty());

    // The session is killed and deleted, and one of the same name started: its first pane is
    // pane 0 again.
    z.restart_session(&env.root.join("work"));
    z.wait_prompt(0);
    z.wait_plugin_ready();
    // panechat lists none of the old session's panes.
    let listed = env.run(["sessions", "--json"]).ok().stdout;
    assert!(!listed.contains(&old), "{listed}");
    // The new pane 0 starts a conversation of its own: its question does not continue the
    // old pane 0's, and it is named after the new one.
    z.type_line(
        0,
        "panechat --cfg conversation.default_id=new q 'second [[title:New one]]'",
    );
    z.wait_for(
        "pane 0 named after its own conversation",
        Duration::from_secs(20),
        |z| z.title(0) == "💬 New one",
    );
    let new = mapped_conversation(&env, &z.session, 0);
    assert!(!new.is_empty() && new != old, "{new} {old}");
    let shown: Value =
        serde_json::from_str(&env.run(["show", "--json", &old]).ok().stdout).unwrap();
    assert_eq!(
        shown["turns"], 1,
        "the old conversation is untouched and kept"
    );
}
