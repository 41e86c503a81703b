//! Pane names in a real headless Zellij 0.45.1 with panechat's plugin: whose name a pane
//! shows (the user's, the plugin's, none), what the picker shows and accepts, and where
//! `panechat init zellij` looks for the plugin. Assertions read what a user sees:
//! `zellij action list-panes --json`, `dump-screen`, `panechat sessions`, `doctor`.

use std::time::Duration;

use panechat_e2e::env::TestEnv;
use panechat_e2e::helpers::setup;
use panechat_e2e::zellij::{is_pane_key, Opts, Zellij};
use serde_json::Value;

#[test]
fn init_zellij_looks_for_the_plugin_under_zellij_config_dir() {
    panechat_e2e::needs!("zellij");
    let env = TestEnv::new();
    let dir = env.root.join("zellij-config");
    let out = env
        .cmd(["init", "zellij"])
        .env("ZELLIJ_CONFIG_DIR", &dir)
        .env("XDG_CONFIG_HOME", env.root.join("xdg"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!("location=\"file:{}/plugins/panechat.wasm\"", dir.display());
    assert!(text.contains(&want), "{want} not in:\n{text}");
    // Without it, `$XDG_CONFIG_HOME/zellij` as before.
    let out = env
        .cmd(["init", "zellij"])
        .env("XDG_CONFIG_HOME", env.root.join("xdg"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!(
        "location=\"file:{}/zellij/plugins/panechat.wasm\"",
        env.root.join("xdg").display()
    );
    assert!(text.contains(&want), "{want} not in:\n{text}");
}

/// Waits for the picker, opened with Alt m on the client.
#[track_caller]
fn open_picker(z: &mut Zellij) {
    z.keys(b"\x1bm");
    z.wait_for("the picker", Duration::from_secs(10), |z| {
        z.plugin_screen().contains("panechat ·")
    });
}

/// Whether the plugin's pane is hidden (the picker is closed).
fn picker_closed(z: &Zellij) -> bool {
    z.panes()
        .iter()
        .any(|p| p["plugin_url"] == "panechat" && p["is_suppressed"] == true)
}

#[test]
fn cjk_typed_into_the_pickers_filter_arrives_whole() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    z.type_line(0, "panechat q --new 'one [[title:漢字 notes]]'");
    z.wait_for("pane 0 renamed", Duration::from_secs(20), |z| {
        z.title(0) == "💬 漢字 notes"
    });
    open_picker(&mut z);
    z.keys("漢字".as_bytes());
    z.wait_for(
        "the filter with the CJK text",
        Duration::from_secs(10),
        |z| {
            let s = z.plugin_screen();
            s.contains("filter: 漢字▏") && s.contains("1 of 1 panes")
        },
    );
}

#[test]
fn alt_m_again_closes_the_picker() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    open_picker(&mut z);
    z.keys(b"\x1bm");
    z.wait_for(
        "the picker closed by Alt m",
        Duration::from_secs(10),
        picker_closed,
    );
    // And it opens again with the next one.
    open_picker(&mut z);
}

#[test]
fn denied_permissions_say_in_full_how_to_grant_them() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let mut z = Zellij::start(
        &env,
        Opts {
            grant: false,
            ..Opts::default()
        },
    );
    z.wait_for("the permission request", Duration::from_secs(20), |z| {
        z.panes()
            .iter()
            .any(|p| p["plugin_url"] == "panechat" && p["is_suppressed"] == false)
    });
    // Zellij's question, in the plugin's pane, which has the focus: "n" denies.
    z.keys(b"n");
    z.wait_for("the question gone", Duration::from_secs(10), picker_closed);
    // The picker then says why it cannot work, and how to fix it.
    z.keys(b"\x1bm");
    z.wait_for("the denial explained", Duration::from_secs(10), |z| {
        z.plugin_screen().contains("permissions denied")
    });
    let screen = z.plugin_screen();
    eprintln!("zellij: the plugin's pane after the denial:\n{screen}");
    // Every word of the explanation is on screen, in order (wrapped, not cut).
    let words: Vec<&str> = screen
        .lines()
        .flat_map(|l| l.split_whitespace())
        .filter(|w| !w.chars().all(|c| "─│┌┐└┘".contains(c)))
        .collect();
    let text = words.join(" ");
    for part in [
        "permissions denied: panechat cannot read or rename panes.",
        "delete this plugin's entry in ~/.cache/zellij/permissions.kdl",
        "and reload",
    ] {
        assert!(text.contains(part), "{part:?} not in {text:?}\n{screen}");
    }
    assert!(!screen.contains('…'), "{screen}");
}

/// What the plugin knows of terminal pane `id` (`panechat::list`).
fn plugin_pane(z: &Zellij, id: u64) -> Value {
    z.plugin_view()["panes"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["pane"] == id).cloned())
        .unwrap_or(Value::Null)
}

#[test]
fn names_given_by_hand_stay_across_the_first_question_and_a_plugin_reload() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    let p1 = z.new_pane();
    // Pane 1 is named by hand before its first question.
    z.action_until(
        &[
            "rename-pane",
            "--pane-id",
            &format!("terminal_{p1}"),
            "logs",
        ],
        |z| z.title(p1) == "logs",
    );
    z.type_line(p1, "panechat q --new 'x [[title:First of one]]'");
    z.type_line(0, "panechat q --new 'y [[title:Zero]]'");
    z.wait_for(
        "pane 0 named, pane 1's conversation known",
        Duration::from_secs(20),
        |z| z.title(0) == "💬 Zero" && plugin_pane(z, p1)["conversation_title"] == "First of one",
    );
    assert_eq!(z.title(p1), "logs", "the user's name stays");
    // Pane 0, named by the plugin, is renamed by hand.
    z.action_until(&["rename-pane", "--pane-id", "terminal_0", "mine"], |z| {
        plugin_pane(z, 0)["renamed_by_hand"] == true
    });

    // The plugin is reloaded, as docs/zellij.md says to after it was closed.
    z.action_retry(&["start-or-reload-plugin", "panechat"]);
    z.wait_plugin_ready();
    // A new pane's first question: the reloaded plugin names it...
    let p2 = z.new_pane();
    z.type_line(p2, "panechat q --new 'z [[title:Two]]'");
    // ... and then both retitles, which it knows of, leave the users' names alone.
    z.type_line(0, "panechat rename 'Zero again'");
    z.type_line(p1, "panechat rename 'One again'");
    z.wait_for(
        "the reloaded plugin at work",
        Duration::from_secs(20),
        |z| {
            z.title(p2) == "💬 Two"
                && plugin_pane(z, 0)["conversation_title"] == "Zero again"
                && plugin_pane(z, p1)["conversation_title"] == "One again"
        },
    );
    assert_eq!(z.title(0), "mine");
    assert_eq!(z.title(p1), "logs");
}

#[test]
fn a_session_brought_back_keeps_the_users_names_and_drops_claims_of_old_conversations() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    z.type_line(0, "panechat q --new 'one [[title:Old one]]'");
    z.wait_for("pane 0 named", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Old one"
    });
    let p1 = z.new_pane();
    z.action_until(
        &[
            "rename-pane",
            "--pane-id",
            &format!("terminal_{p1}"),
            "notes",
        ],
        |z| z.title(p1) == "notes",
    );

    z.bring_back(&env.root.join("work"), &["💬 Old one", "notes"]);
    z.wait_plugin_ready();
    let titles = |z: &Zellij| -> Vec<String> {
        z.terminal_panes()
            .iter()
            .map(|p| p["title"].as_str().unwrap_or("").to_string())
            .collect()
    };
    eprintln!("zellij: the panes brought back: {:?}", titles(&z));
    // The pane that showed "Old one" has no conversation in the new session: its name, which
    // Zellij restored, is taken back.
    z.wait_for("the old claim dropped", Duration::from_secs(20), |z| {
        let t = titles(z);
        t.len() == 2 && !t.iter().any(|t| t.starts_with("💬"))
    });
    assert!(
        titles(&z).contains(&"notes".to_string()),
        "{:?}",
        titles(&z)
    );
    // And no pane of the new session has a conversation.
    let listed: Value = serde_json::from_str(&env.run(["sessions", "--json"]).ok().stdout).unwrap();
    let session = z.session.clone();
    assert!(
        !listed.as_array().unwrap().iter().any(|s| {
            (0..10).any(|p| is_pane_key(s["key"].as_str().unwrap_or(""), &session, p))
        }),
        "{listed:#}"
    );
}

/// `panechat ARGS` run outside Zellij but able to reach the test's Zellij (its socket dir).
fn panechat_beside(env: &TestEnv, z: &Zellij, args: &[&str]) -> std::process::Output {
    let mut cmd = env.cmd(args);
    for (k, v) in &z.env {
        cmd.env(k, v);
    }
    cmd.env("PANECHAT_SESSION", "outside").output().unwrap()
}

#[test]
fn closed_panes_of_a_live_session_are_reported_and_pruned() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    let p1 = z.new_pane();
    z.type_line(p1, "panechat q --new 'x [[title:Short lived]]'");
    z.type_line(0, "panechat q --new 'y [[title:Staying]]'");
    z.wait_for("both panes named", Duration::from_secs(20), |z| {
        z.title(p1) == "💬 Short lived" && z.title(0) == "💬 Staying"
    });
    let keys = |env: &TestEnv| -> Vec<String> {
        let v: Value =
            serde_json::from_slice(&panechat_beside(env, &z, &["sessions", "--json"]).stdout)
                .unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["key"].as_str().map(str::to_string))
            .collect()
    };
    let session = z.session.clone();
    let of = |keys: &[String], pane: u64| keys.iter().any(|k| is_pane_key(k, &session, pane));
    assert!(of(&keys(&env), p1));
    z.action_until(
        &["close-pane", "--pane-id", &format!("terminal_{p1}")],
        |z| z.terminal_panes().len() == 1,
    );
    // doctor names the stale mapping, and what to do.
    let doc = panechat_beside(&env, &z, &["doctor"]);
    let text =
        String::from_utf8_lossy(&doc.stdout).to_string() + &String::from_utf8_lossy(&doc.stderr);
    assert!(
        text.contains(&format!(
            "Zellij pane #{} of session {session} was closed",
            p1 + 1
        )) && text.contains("sessions --prune"),
        "{text}"
    );
    assert_ne!(doc.status.code(), Some(0), "{text}");
    // `sessions --prune` forgets it (and only it).
    let pruned = panechat_beside(&env, &z, &["sessions", "--prune"]);
    let text = String::from_utf8_lossy(&pruned.stderr);
    assert!(text.contains("pruned 1 session"), "{text}");
    let after = keys(&env);
    assert!(!of(&after, p1) && of(&after, 0), "{after:?}");
    // The conversation is kept.
    let ls = env.run(["ls"]).ok().stdout;
    assert!(ls.contains("Short lived"), "{ls}");
    assert!(panechat_beside(&env, &z, &["doctor"]).status.success());
}

#[test]
fn pane_names_mark_a_running_query_and_a_conversation_held_elsewhere() {
    panechat_e2e::needs!("zellij");
    let (env, fake) = setup();
    let z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    z.type_line(0, "panechat q --new 'one [[title:Alpha]]'");
    z.wait_for("pane 0 named", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Alpha"
    });
    let conv = plugin_pane(&z, 0)["conversation"]
        .as_str()
        .unwrap()
        .to_string();
    let p1 = z.new_pane();
    z.type_line(p1, &format!("panechat use {conv}"));
    z.wait_for(
        "pane 1 on the same conversation",
        Duration::from_secs(20),
        |z| z.title(p1) == "💬 Alpha",
    );
    z.type_line(0, "panechat q 'two [[gate:G]]'");
    z.wait_for("the markers", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Alpha ●" && z.title(p1) == "💬 Alpha 🔒"
    });
    fake.open_gate("G");
    z.wait_for("the markers gone", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Alpha" && z.title(p1) == "💬 Alpha"
    });
}

#[test]
fn the_picker_shows_short_ids_and_its_filter_finds_what_was_said() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    z.type_line(
        0,
        "panechat q --new 'the password is zanzibar [[title:Alpha topic]]'",
    );
    let p1 = z.new_pane();
    z.type_line(p1, "panechat q --new 'two [[title:Beta topic]]'");
    z.wait_for("both panes named", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Alpha topic" && z.title(p1) == "💬 Beta topic"
    });
    let short = |pane: u64| -> String {
        plugin_pane(&z, pane)["conversation"].as_str().unwrap()[..10].to_string()
    };
    let (alpha, beta) = (short(0), short(p1));
    open_picker(&mut z);
    z.wait_for("rows with short ids", Duration::from_secs(10), |z| {
        let s = z.plugin_screen();
        s.contains(&alpha) && s.contains(&beta)
    });
    let screen = z.plugin_screen();
    eprintln!("zellij: the picker:\n{screen}");
    // The pane it was opened from is first (selected), named as Zellij names it.
    let first = screen.lines().find(|l| l.contains("topic")).unwrap();
    assert!(
        first.contains("▸") && first.contains("Beta topic"),
        "{screen}"
    );
    assert!(first.contains(&format!("Pane #{}", p1 + 1)), "{screen}");
    // Words said in a conversation, not in any title, find it.
    z.keys(b"zanzibar");
    z.wait_for(
        "the conversation found by its content",
        Duration::from_secs(10),
        |z| {
            let s = z.plugin_screen();
            s.contains("1 of 2 panes") && s.contains("Alpha topic") && !s.contains("Beta topic")
        },
    );
}

/// Gives pane `pane` a Claude Code agent in `state` the way Claude Code does: `panechat hook
/// claude` with the event's JSON on stdin, typed in the pane (whose environment names it).
fn set_agent(env: &TestEnv, z: &Zellij, pane: u64, state: panechat_vocab::state::AgentState) {
    let agent = panechat_vocab::state::Agent {
        kind: "claude-code".into(),
        state,
        ..Default::default()
    };
    let event = env.root.join(format!("event-{}.json", state.as_str()));
    std::fs::write(&event, panechat_e2e::tmux::claude_event(&agent)).unwrap();
    z.type_line(pane, &format!("panechat hook claude < {}", event.display()));
}

/// A pane's coding agent names the pane (the needs-you marker first), marks its tab and gives
/// the tab its own name back; Alt u takes the client to it from another tab; focusing it while
/// its agent is done makes the agent idle.
#[test]
fn agent_states_name_the_pane_mark_its_tab_and_alt_u_goes_there() {
    use panechat_vocab::state::AgentState;
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    // A second tab whose pane asked once.
    z.action_until(&["new-tab"], |z| z.terminal_panes().len() == 2);
    let p = z.wait_terminal_panes(2);
    z.wait_prompt(p);
    z.type_line(p, "panechat q --new 'hi [[title:Agent pane]]'");
    z.wait_for("the pane named", Duration::from_secs(20), |z| {
        z.title(p) == "💬 Agent pane"
    });
    let session = z.session.clone();
    let sessions: Value =
        serde_json::from_str(&env.run(["sessions", "--json"]).ok().stdout).unwrap();
    let key = sessions
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["key"].as_str())
        .find(|k| is_pane_key(k, &session, p))
        .expect("the pane's key")
        .to_string();
    let on = |z: &Zellij, pane: u64| {
        z.client_panes()
            .first()
            .is_some_and(|(_, f)| *f == format!("terminal_{pane}"))
    };
    z.action_until(&["go-to-tab", "1"], |z| on(z, 0));
    let tabs = |z: &Zellij| z.try_action(&["query-tab-names"]).unwrap_or_default();
    let own_tab = tabs(&z).lines().nth(1).unwrap_or_default().to_string();
    assert!(!own_tab.is_empty(), "{}", tabs(&z));

    // Needs you: the pane's name and its tab's.
    set_agent(&env, &z, p, AgentState::NeedsYou);
    z.wait_for("the needs-you name", Duration::from_secs(20), |z| {
        z.title(p) == "💬 ⚑ claude: needs you · Agent pane"
    });
    z.wait_for("the tab marked", Duration::from_secs(10), |z| {
        tabs(z).lines().nth(1) == Some(&format!("⚑ {own_tab}"))
    });
    assert!(!tabs(&z).lines().next().unwrap_or("").starts_with('⚑'));
    // Alt u, typed on the client in tab 1: to the pane that needs you.
    z.keys(b"\x1bu");
    z.wait_for("the client on the pane", Duration::from_secs(10), |z| {
        on(z, p)
    });

    // Done, seen from tab 1: still done, the tab's own name back.
    z.action_until(&["go-to-tab", "1"], |z| on(z, 0));
    set_agent(&env, &z, p, AgentState::Done);
    z.wait_for("the done name", Duration::from_secs(20), |z| {
        z.title(p) == "💬 ✓ claude: done · Agent pane"
    });
    z.wait_for("the tab's own name back", Duration::from_secs(10), |z| {
        tabs(z).lines().nth(1) == Some(own_tab.as_str())
    });
    // Focused: idle.
    z.action_until(&["go-to-tab", "2"], |z| on(z, p));
    z.wait_for("idle once focused", Duration::from_secs(20), |z| {
        z.title(p) == "💬 claude: idle · Agent pane"
    });
    let penv = panechat::env::Env::from_pairs(env.env.clone());
    let paths = panechat::paths::Paths::resolve(&penv).unwrap();
    let now = panechat::agents::read(
        &paths,
        &panechat::session::SessionKey::normalize(&key).unwrap(),
    )
    .expect("the pane's agent");
    assert_eq!(now.state, AgentState::Idle);
}
