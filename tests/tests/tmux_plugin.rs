//! The tmux plugin (`tmux-scripts/`) in real tmux: a private server per test, the plugin loaded
//! the ways users load it, a client attached on a terminal, keys typed on that client, and what
//! the person sees (the client's screen), the panes' options and the store checked.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use panechat_e2e::env::TestEnv;
use panechat_e2e::helpers::setup;
use panechat_e2e::helpers::{json, shell_quote};
use panechat_e2e::tmux::{repo_root, server_env, wait_until, World};
use serde_json::Value;

/// `panechat show --json ID`.
fn show(env: &TestEnv, id: &str) -> Value {
    json(&env.run(["show", "--json", id]).ok().stdout)
}

/// Asks `q` in `pane` and waits for the fake's echo.
fn ask(w: &World, pane: &str, q: &str) {
    w.tmux.type_line(pane, &format!("panechat q --new '{q}'"));
    let shown = q.split(" [[").next().unwrap();
    w.tmux.wait_for(pane, &format!("echo: {shown}"));
}

fn prefix_keys(w: &World) -> String {
    w.tmux.ok(&["list-keys", "-T", "prefix"])
}

fn key_line(keys: &str, key: &str) -> Option<String> {
    keys.lines()
        .find(|l| {
            let mut parts = l.split_whitespace();
            // bind-key [-r] -T prefix KEY …
            parts.find(|p| *p == "prefix");
            parts.next() == Some(key)
        })
        .map(str::to_string)
}

#[test]
fn loading_binds_the_keys_and_keeps_the_users_settings() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let w = World::start(&env, 100, 30);
    let t = &w.tmux;
    t.ok(&["set-option", "-g", "status-right", "USER-RIGHT %H:%M"]);
    t.ok(&[
        "set-hook",
        "-g",
        "after-split-window[0]",
        "set -g @user-hook ran",
    ]);
    t.ok(&["bind-key", "X", "display-message", "user X"]);
    t.ok(&["bind-key", "N", "display-message", "user N"]);
    let hooks_before = t.ok(&["show-hooks", "-g"]);
    let keys_before = prefix_keys(&w);

    w.load_plugin();
    w.load_plugin(); // sourcing twice must not stack anything

    let keys = prefix_keys(&w);
    let fork = key_line(&keys, "F").expect("prefix F bound");
    assert!(fork.contains("tmux-plugin 'fork'"), "{fork}");
    let pick = key_line(&keys, "P").expect("prefix P bound");
    assert!(pick.contains("tmux-plugin 'pick'"), "{pick}");
    // N was the user's: left alone, and the user is told.
    assert_eq!(key_line(&keys, "N"), key_line(&keys_before, "N"));
    assert_eq!(key_line(&keys, "X"), key_line(&keys_before, "X"));
    // Exactly the configured keys are new.
    let before: Vec<&str> = keys_before.lines().collect();
    let added: Vec<&str> = keys.lines().filter(|l| !before.contains(l)).collect();
    assert_eq!(added.len(), 4, "{added:#?}");
    let next = key_line(&keys, "J").expect("prefix J bound");
    assert!(next.contains("tmux-plugin 'next'"), "{next}");
    // The user's hooks untouched (the one addition: the notice that prefix + N was left
    // alone, for the first client to attach), aliases defined once.
    let hooks = t.ok(&["show-hooks", "-g"]);
    let without_notice: Vec<&str> = hooks
        .lines()
        .map(|l| {
            if l.starts_with("client-session-changed[") && l.contains("prefix + N already bound") {
                "client-session-changed"
            } else {
                l
            }
        })
        .collect();
    assert_eq!(without_notice, hooks_before.lines().collect::<Vec<_>>());
    let aliases = t.ok(&["show-options", "-s", "command-alias"]);
    for name in ["panechat-fork=", "panechat-pick=", "panechat-new="] {
        assert_eq!(aliases.matches(name).count(), 1, "{aliases}");
    }
    // The user's status-right is kept; the segment goes in front of it, once.
    assert_eq!(
        t.ok(&["show-options", "-gv", "status-right"]).trim_end(),
        "#{E:@panechat-status-format}USER-RIGHT %H:%M"
    );
    assert_eq!(t.value("t", "#{@panechat-bin}"), w.bin);
    // The hook still works.
    t.ok(&["split-window", "-t", "t", "bash --norc --noprofile"]);
    assert_eq!(t.value("t", "#{@user-hook}"), "ran");

    // Other keys chosen by options; a key set to "none" is not bound.
    t.ok(&["set-option", "-g", "@panechat-fork-key", "M-f"]);
    t.ok(&["set-option", "-g", "@panechat-pick-key", "none"]);
    w.load_plugin();
    let keys = prefix_keys(&w);
    assert!(key_line(&keys, "M-f").is_some_and(|l| l.contains("tmux-plugin 'fork'")));
}

#[test]
fn the_status_placeholder_is_filled_where_the_user_put_it() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let w = World::start(&env, 100, 30);
    w.tmux.ok(&[
        "set-option",
        "-g",
        "status-left",
        "[#S] #{panechat_status}| ",
    ]);
    w.tmux.ok(&["set-option", "-g", "status-right", "R"]);
    w.load_plugin();
    w.load_plugin();
    assert_eq!(
        w.tmux
            .ok(&["show-options", "-gv", "status-left"])
            .trim_end_matches('\n'),
        "[#S] #{E:@panechat-status-format}| "
    );
    assert_eq!(
        w.tmux
            .ok(&["show-options", "-gv", "status-right"])
            .trim_end(),
        "R"
    );
    w.tmux.ok(&["set-option", "-g", "@panechat-status", "off"]);
    w.tmux.ok(&["set-option", "-g", "status-right", "R2"]);
    w.load_plugin();
    assert_eq!(
        w.tmux
            .ok(&["show-options", "-gv", "status-right"])
            .trim_end(),
        "R2"
    );
}

#[test]
fn without_the_binary_the_keys_say_how_to_get_it() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let senv: Vec<(String, String)> = server_env(&env)
        .into_iter()
        .map(|(k, v)| {
            if k == "PATH" {
                (k, "/usr/bin:/bin".to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    let mut w = World::start_with(&env, senv, 200, 30);
    // A clone with no build in it (the plugin also looks for target/release/panechat there).
    let clone = env.root.join("clone");
    std::fs::create_dir_all(&clone).unwrap();
    let st = Command::new("cp")
        .arg("-R")
        .arg(repo_root().join("tmux-scripts"))
        .arg(&clone)
        .status()
        .unwrap();
    assert!(st.success());
    // The user's own prefix P stays theirs, and a key set to "" is not bound.
    w.tmux
        .ok(&["bind-key", "P", "display-message", "users own P"]);
    w.tmux.ok(&["set-option", "-g", "@panechat-new-key", ""]);
    let keys_before = prefix_keys(&w);
    let script = clone.join("tmux-scripts/panechat.tmux");
    let (ok, out, err) = w.tmux.run(&["run-shell", &script.display().to_string()]);
    assert!(ok, "loading the plugin failed: {out}{err}");
    let keys = prefix_keys(&w);
    assert_eq!(key_line(&keys, "P"), key_line(&keys_before, "P"));
    assert_eq!(key_line(&keys, "N"), key_line(&keys_before, "N"));
    w.attach(&env, 200, 30);
    w.prefix("F");
    let s = w.wait_screen("binary not found");
    // The README's install command, whole, and nothing the README does not offer.
    let readme = include_str!("../../README.md");
    assert!(readme.contains("cargo install --locked --path core"));
    assert!(
        s.contains(&format!(
            "cargo install --locked --path {}/core",
            clone.display()
        )),
        "{s}"
    );
    assert!(!s.contains("release"), "{s}");
    assert_eq!(w.tmux.panes().len(), 1);
}

#[test]
fn fork_key_splits_into_a_mapped_fork_of_the_panes_conversation() {
    panechat_e2e::needs!("tmux");
    let (env, fake) = setup();
    let mut w = World::start(&env, 120, 30);
    w.load_plugin();
    w.attach(&env, 120, 30);
    let p0 = w.pane0();
    ask(&w, &p0, "first [[title:Fork me]]");
    w.tmux.type_line(&p0, "panechat q 'second'");
    w.tmux.wait_for(&p0, "echo: second");
    wait_until("the pane option", || {
        !w.tmux.value(&p0, "#{@panechat_id}").is_empty()
    });
    let src = w.tmux.value(&p0, "#{@panechat_id}");

    let t = Instant::now();
    w.prefix("F");
    wait_until("a new pane", || w.tmux.panes().len() == 2);
    let p1 = w.tmux.panes().into_iter().find(|p| *p != p0).unwrap();
    // The new pane is beside the old one, and mapped before its shell prompts.
    wait_until("the fork published on the new pane", || {
        !w.tmux.value(&p1, "#{@panechat_id}").is_empty()
    });
    let elapsed = t.elapsed();
    let fork = w.tmux.value(&p1, "#{@panechat_id}");
    assert_ne!(fork, src);
    let f = show(&env, &fork);
    assert_eq!(f["parent"]["id"], src.as_str());
    assert_eq!(f["turns"], 2);
    assert_ne!(
        w.tmux.value(&p1, "#{pane_left}"),
        w.tmux.value(&p0, "#{pane_left}")
    );
    eprintln!("fork key to mapped pane: {elapsed:?}");

    // The first question typed there continues the fork.
    fake.clear_requests();
    w.tmux.type_line(&p1, "panechat q 'third'");
    w.tmux.wait_for(&p1, "echo: third");
    let users: Vec<String> = fake
        .requests()
        .iter()
        .find(|r| r.last_user_message().as_deref() == Some("third"))
        .expect("the query")
        .messages()
        .into_iter()
        .filter(|(r, _)| r == "user")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(users.len(), 3, "{users:?}");
    assert_eq!(show(&env, &fork)["turns"], 3);
    assert_eq!(show(&env, &src)["turns"], 2);
    wait_until("fork title", || {
        w.tmux.value(&p1, "#{@panechat_title}").contains("Fork me")
    });

    // Keep only the last turn, below the pane.
    w.tmux.ok(&["set-option", "-g", "@panechat-fork-keep", "1"]);
    w.tmux
        .ok(&["set-option", "-g", "@panechat-fork-split", "v"]);
    w.load_plugin();
    w.tmux.ok(&["select-pane", "-t", &p0]);
    w.prefix("F");
    wait_until("a third pane", || w.tmux.panes().len() == 3);
    let p2 = w
        .tmux
        .panes()
        .into_iter()
        .find(|p| *p != p0 && *p != p1)
        .unwrap();
    wait_until("the second fork", || {
        !w.tmux.value(&p2, "#{@panechat_id}").is_empty()
    });
    let f2 = show(&env, &w.tmux.value(&p2, "#{@panechat_id}"));
    assert_eq!(f2["turns"], 1);
    assert_eq!(f2["parent"]["turns_kept"], 1);
    assert_eq!(
        w.tmux.value(&p2, "#{pane_left}"),
        w.tmux.value(&p0, "#{pane_left}")
    );
}

#[test]
fn fork_key_in_a_pane_without_a_conversation_says_so() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 120, 30);
    w.load_plugin();
    w.attach(&env, 120, 30);
    w.prefix("F");
    w.wait_screen("this pane has no conversation yet");
    // The key's script says so as its last act (it splits, when it does, before it speaks),
    // and it is finished once its run-shell job is gone from tmux's jobs.
    wait_until("the fork script finished", || {
        !std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read_to_string(e.path().join("cmdline"))
                .is_ok_and(|c| c.contains("tmux-plugin\0fork"))
                && std::fs::read(e.path().join("environ"))
                    .is_ok_and(|v| String::from_utf8_lossy(&v).contains(&w.tmux.socket))
        })
    });
    assert_eq!(w.tmux.panes().len(), 1);
}

#[test]
fn fork_opens_in_the_panes_directory_even_with_a_hash_in_its_name() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let dir = env.root.join("work/a#{pane_id}#(touch M3) b");
    std::fs::create_dir_all(&dir).unwrap();
    let mut w = World::start(&env, 120, 30);
    w.load_plugin();
    w.attach(&env, 120, 30);
    let p0 = w.pane0();
    w.tmux.type_line(&p0, &format!("cd '{}'", dir.display()));
    ask(&w, &p0, "hello");
    wait_until("pane option", || {
        !w.tmux.value(&p0, "#{@panechat_id}").is_empty()
    });
    w.prefix("F");
    wait_until("a new pane", || w.tmux.panes().len() == 2);
    let p1 = w.tmux.panes().into_iter().find(|p| *p != p0).unwrap();
    wait_until("the new pane's directory", || {
        w.tmux.value(&p1, "#{pane_current_path}") == dir.display().to_string()
    });
    assert!(!env.root.join("work/M3").exists() && !Path::new("M3").exists());
}

#[test]
fn tpm_installs_and_loads_the_plugin_from_a_clone() {
    panechat_e2e::needs!("tmux", "tpm");
    let (env, _fake) = setup();
    let tpm = Path::new("/usr/share/tmux-plugin-manager");
    assert!(
        tpm.join("tpm").exists(),
        "TPM is not installed; the test command (scripts/test.sh) installs tmux-plugin-manager"
    );
    // A git repository holding the plugin, as a user's clone or fork would.
    let repo = env.root.join("src/panechat");
    std::fs::create_dir_all(&repo).unwrap();
    let root = repo_root();
    let cp = Command::new("cp")
        .arg("-a")
        .arg(root.join("panechat.tmux"))
        .arg(root.join("tmux-scripts"))
        .arg(&repo)
        .status()
        .unwrap();
    assert!(cp.success());
    let git = |args: &[&str]| {
        let st = Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .output()
            .unwrap();
        assert!(st.status.success(), "git {args:?}: {st:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "plugin"]);
    let home = env.root.join("home");
    let conf = home.join(".tmux.conf");
    std::fs::write(
        &conf,
        format!(
            "set -g @plugin '{}'\nset -g @panechat-pick-key 'M-k'\nrun '{}'\n",
            repo.display(),
            tpm.join("tpm").display()
        ),
    )
    .unwrap();
    let w = World::start(&env, 100, 30);
    // Loading the config runs TPM (nothing installed yet), then TPM's own installer, as
    // prefix + I runs it.
    w.tmux.ok(&["source-file", &conf.display().to_string()]);
    let (ok, out, err) = w.tmux.run(&[
        "run-shell",
        &format!(
            "{} >/dev/null 2>&1; true",
            tpm.join("bin/install_plugins").display()
        ),
    ]);
    assert!(ok, "{out}{err}");
    let installed = home.join(".tmux/plugins/panechat");
    assert!(
        installed.join("panechat.tmux").exists(),
        "TPM did not clone the plugin: {out}{err}"
    );
    // Loading the config runs TPM, which runs the plugin's root *.tmux.
    w.tmux.ok(&["source-file", &conf.display().to_string()]);
    wait_until("TPM loaded the plugin", || {
        key_line(&prefix_keys(&w), "M-k").is_some()
    });
    let keys = prefix_keys(&w);
    let f = key_line(&keys, "F").unwrap();
    assert!(f.contains("tmux-plugin 'fork'"), "{f}");
}

#[test]
fn init_tmux_prints_lines_that_load_the_plugin_from_the_binary_alone() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let conf = env.root.join("home/.tmux.conf");
    let text = env.run(["init", "tmux"]).ok().stdout;
    std::fs::write(&conf, &text).unwrap();
    // No clone anywhere: only the binary (and its data directory).
    let w = World::start(&env, 100, 30);
    w.tmux.ok(&["source-file", &conf.display().to_string()]);
    wait_until("keys bound", || key_line(&prefix_keys(&w), "F").is_some());
    let keys = prefix_keys(&w);
    assert!(key_line(&keys, "P").unwrap().contains("tmux-plugin 'pick'"));
    // Nothing comes from this checkout (whose path may also be the binary's, under target/).
    assert!(!keys.contains(&repo_root().join("tmux-scripts").display().to_string()));
    assert!(w
        .tmux
        .ok(&["show-options", "-gv", "status-right"])
        .contains("@panechat-status-format"));
}

/// The active pane of the attached client.
fn active_pane(w: &World) -> String {
    w.tmux.value("t", "#{pane_id}")
}

/// Children of the tmux server (pane shells, popup jobs).
fn server_children(w: &World) -> usize {
    let pid = w.tmux.value("t", "#{pid}");
    let out = Command::new("pgrep").args(["-P", &pid]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

const PICKER_HELP: &str = "⏎ use";

#[test]
fn picker_opens_filters_assigns_jumps_forks_and_starts_new() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 120, 34);
    w.load_plugin();
    w.attach(&env, 120, 34);
    let p0 = w.pane0();
    ask(&w, &p0, "about tmux [[title:Tmux splits]]");
    let p1 = w
        .tmux
        .ok(&[
            "split-window",
            "-h",
            "-t",
            &p0,
            "-P",
            "-F",
            "#{pane_id}",
            "bash --norc --noprofile",
        ])
        .trim()
        .to_string();
    ask(&w, &p1, "about zellij [[title:Zellij layouts]]");
    wait_until("titles", || {
        w.tmux.value(&p0, "#{@panechat_title}") == "Tmux splits"
            && w.tmux.value(&p1, "#{@panechat_title}") == "Zellij layouts"
    });
    let tmux_id = w.tmux.value(&p0, "#{@panechat_id}");
    let zellij_id = w.tmux.value(&p1, "#{@panechat_id}");
    assert_eq!(active_pane(&w), p1);
    let shells = server_children(&w);

    // Open from p1: both conversations, most recent first, with their panes.
    w.prefix("P");
    let s = w.wait_screen(PICKER_HELP);
    assert!(
        s.contains("Tmux splits") && s.contains("Zellij layouts"),
        "{s}"
    );
    // Most recent first (rows end with the panes that have them).
    let row = |title: &str, pane: &str| {
        s.lines()
            .position(|l| l.contains(title) && l.contains(&format!(" {pane}│")))
    };
    assert!(row("Zellij layouts", &p1) < row("Tmux splits", &p0), "{s}");
    assert!(row("Zellij layouts", &p1).is_some(), "{s}");
    assert!(s.contains(&p0) && s.contains(&p1), "{s}");
    // The preview shows the selected conversation's last turn.
    assert!(s.contains("you: about zellij"), "{s}");
    // Fuzzy filter.
    w.text("tmx spl");
    let s = w.wait_screen("1/2");
    assert!(s.contains("you: about tmux"), "{s}");
    // ^G: go to the pane that has it.
    w.keys(&["C-g"]);
    wait_until("jumped to p0", || active_pane(&w) == p0);
    w.wait_screen_for(|s| !s.contains(PICKER_HELP), "the picker closed");

    // Enter: this pane (p0) gets the selected conversation.
    w.prefix("P");
    w.wait_screen(PICKER_HELP);
    w.text("zel");
    w.wait_screen("1/2");
    w.keys(&["Enter"]);
    wait_until("p0 has the zellij conversation", || {
        w.tmux.value(&p0, "#{@panechat_id}") == zellij_id
    });
    w.wait_screen_for(|s| !s.contains(PICKER_HELP), "the picker closed");

    // ^F: fork the selected conversation into a new split beside p0.
    w.prefix("P");
    w.wait_screen(PICKER_HELP);
    w.text("tmux");
    w.wait_screen("1/2");
    w.keys(&["C-f"]);
    wait_until("a new pane", || w.tmux.panes().len() == 3);
    let p2 = w
        .tmux
        .panes()
        .into_iter()
        .find(|p| *p != p0 && *p != p1)
        .unwrap();
    wait_until("the fork mapped", || {
        !w.tmux.value(&p2, "#{@panechat_id}").is_empty()
    });
    let fork = show(&env, &w.tmux.value(&p2, "#{@panechat_id}"));
    assert_eq!(fork["parent"]["id"], tmux_id.as_str());

    w.wait_screen_for(|s| !s.contains(PICKER_HELP), "the picker closed");

    // ^N: the pane's next question starts a new conversation.
    w.tmux.ok(&["select-pane", "-t", &p0]);
    w.prefix("P");
    w.wait_screen(PICKER_HELP);
    w.keys(&["C-n"]);
    wait_until("p0 detached", || {
        w.tmux.value(&p0, "#{@panechat_id}").is_empty()
    });
    assert_eq!(
        w.tmux.value(&p0, "#{pane_title}"),
        "panechat: new conversation"
    );
    w.tmux.type_line(&p0, "panechat q 'fresh start'");
    w.tmux.wait_for(&p0, "echo: fresh start");
    wait_until("p0 has a new conversation", || {
        let id = w.tmux.value(&p0, "#{@panechat_id}");
        !id.is_empty() && id != zellij_id && id != tmux_id
    });

    // Esc closes it and leaves nothing behind.
    let panes = w.tmux.panes();
    w.prefix("P");
    w.wait_screen(PICKER_HELP);
    w.keys(&["Escape"]);
    w.wait_screen_for(|s| !s.contains(PICKER_HELP), "the picker closed");
    wait_until("no popup process", || server_children(&w) == shells + 1);
    assert_eq!(w.tmux.panes(), panes);
    assert!(!w.tmux.value(&p0, "#{@panechat_title}").is_empty());
}

#[test]
fn picker_fits_a_forty_column_popup() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 44, 24);
    w.load_plugin();
    w.attach(&env, 44, 24);
    let p0 = w.pane0();
    ask(
        &w,
        &p0,
        "q [[title:A rather long conversation title that will not fit]]",
    );
    wait_until("title", || {
        !w.tmux.value(&p0, "#{@panechat_title}").is_empty()
    });
    w.prefix("P");
    let s = w.wait_screen("⏎ use");
    // 90% of 44 columns: 39 inside the popup's border.
    for line in s.lines() {
        assert!(line.chars().count() <= 44, "{line:?}");
    }
    assert!(s.contains("A rather long"), "{s}");
    assert!(s.contains('…'), "{s}");
    w.keys(&["Escape"]);
    w.wait_screen_for(|s| !s.contains("⏎ use"), "closed");
}

/// Starts a slow query in `pane` and waits until it streams.
fn start_slow(w: &World, pane: &str, id: &str, ms: u64) {
    w.tmux.type_line(
        pane,
        &format!("panechat q --id {id} 'long [[slow:{ms}]] [[chunks:20]]'"),
    );
    wait_until("the slow query streams", || {
        w.tmux.value(pane, "#{@panechat_state}") == "streaming"
    });
}

#[test]
fn lock_popup_over_the_waiting_pane_answers_wait_new_fork_and_cancel() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 120, 34);
    w.load_plugin();
    w.attach(&env, 120, 34);
    let p0 = w.pane0();
    ask(&w, &p0, "base [[title:Busy one]]");
    wait_until("id", || !w.tmux.value(&p0, "#{@panechat_id}").is_empty());
    let id = w.tmux.value(&p0, "#{@panechat_id}");
    let p1 = w
        .tmux
        .ok(&[
            "split-window",
            "-h",
            "-t",
            &p0,
            "-P",
            "-F",
            "#{pane_id}",
            "bash --norc --noprofile",
        ])
        .trim()
        .to_string();
    w.tmux.type_line(&p1, &format!("panechat use {id}"));
    wait_until("p1 uses it", || w.tmux.value(&p1, "#{@panechat_id}") == id);

    // (menu position, expected exit status)
    for (n, (answer, downs)) in [("wait", 0), ("new", 2), ("fork", 3), ("cancel", 4)]
        .into_iter()
        .enumerate()
    {
        w.tmux.type_line(&p1, "clear");
        start_slow(&w, &p0, &id, 250);
        let before = show(&env, &id)["turns"].as_u64().unwrap();
        w.tmux
            .type_line(&p1, &format!("panechat q 'mine {n}'; echo \"rc=$?\""));
        // The whole menu, not just its first rows (the popup draws it in steps).
        let s = w.wait_screen("Cancel");
        assert!(s.contains("Busy one"), "{s}");
        assert!(s.contains(&format!("tmux pane {p0}")), "{s}");
        assert!(s.contains(&format!("go to pane {p0}")), "{s}");
        for _ in 0..downs {
            w.keys(&["Down"]);
        }
        w.keys(&["Enter"]);
        w.wait_screen_for(|s| !s.contains("is in use"), "the popup closed");
        match answer {
            "wait" => {
                w.tmux.wait_for(&p1, &format!("echo: mine {n}"));
                w.tmux.wait_for(&p1, "rc=0");
                // Both turns are in the conversation, the slow one first.
                assert_eq!(show(&env, &id)["turns"].as_u64().unwrap(), before + 2);
            }
            "new" => {
                w.tmux.wait_for(&p1, "rc=0");
                let mine = w.tmux.value(&p1, "#{@panechat_id}");
                assert_ne!(mine, id);
                assert_eq!(show(&env, &mine)["parent"], Value::Null);
                assert_eq!(show(&env, &mine)["turns"], 1);
            }
            "fork" => {
                w.tmux.wait_for(&p1, "rc=0");
                let mine = w.tmux.value(&p1, "#{@panechat_id}");
                assert_ne!(mine, id);
                assert_eq!(show(&env, &mine)["parent"]["id"], id.as_str());
            }
            _ => {
                w.tmux.wait_for(&p1, "rc=130");
            }
        }
        // Back on the shared conversation for the next round, once the slow one is done.
        wait_until("the slow query ended", || {
            w.tmux.value(&p0, "#{@panechat_state}") != "streaming"
        });
        w.tmux.type_line(&p1, &format!("panechat use {id}"));
        wait_until("p1 uses it", || w.tmux.value(&p1, "#{@panechat_id}") == id);
    }
}

#[test]
fn status_line_shows_the_title_the_running_marker_and_drops_it_after_sigkill() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 100, 20);
    w.tmux.ok(&["set-option", "-g", "status-interval", "1"]);
    w.load_plugin();
    w.attach(&env, 100, 20);
    // The default segment runs nothing: no #( ) anywhere in the status line.
    for opt in ["status-right", "status-left", "@panechat-status-format"] {
        let v = w.tmux.ok(&["show-options", "-gv", opt]);
        assert!(!v.contains("#("), "{opt}: {v}");
    }
    let p0 = w.pane0();
    let last_line = |s: &str| s.lines().last().unwrap_or("").to_string();
    ask(&w, &p0, "hi [[title:Status title]]");
    w.wait_screen_for(
        |s| last_line(s).contains("Status title"),
        "the title in the status line",
    );
    let id = w.tmux.value(&p0, "#{@panechat_id}");
    w.tmux.type_line(
        &p0,
        &format!("panechat q --id {id} 'slow [[slow:500]] [[chunks:60]]'"),
    );
    w.wait_screen_for(
        |s| last_line(s).contains("[running] Status title"),
        "the running marker",
    );
    // SIGKILL the run: the marker goes within a status interval or so.
    let sessions = json(&env.run(["sessions", "--json"]).ok().stdout);
    let pid = sessions
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["runs"].as_array().unwrap().clone())
        .find(|r| r["conversation"] == id.as_str())
        .expect("a live run")["pid"]
        .as_u64()
        .unwrap();
    let killed = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    w.wait_screen_for(
        |s| !last_line(s).contains("[running]") && last_line(s).contains("Status title"),
        "the marker gone",
    );
    assert!(
        killed.elapsed() < Duration::from_secs(3),
        "{:?}",
        killed.elapsed()
    );
}

#[test]
fn hostile_titles_run_nothing_and_restyle_nothing_anywhere() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    // Relative names: wherever tmux or a shell would run them (the server's directory, the
    // pane's, HOME), a marker would appear in one of these.
    let places = [
        env.root.join("work"),
        env.root.join("home"),
        std::env::current_dir().unwrap(),
    ];
    let markers = || {
        places
            .iter()
            .flat_map(|d| [d.join("M1"), d.join("M2")])
            .filter(|m| m.exists())
            .collect::<Vec<_>>()
    };
    // (The model's leading `#` would be taken as a Markdown heading; start with a word.)
    let raw = "x #(touch M1) #[fg=red] ; kill-server $(touch M2)";
    let mut w = World::start(&env, 120, 34);
    w.tmux.ok(&["set-option", "-g", "status-interval", "1"]);
    w.tmux
        .ok(&["set-option", "-g", "@panechat-pane-border", "on"]);
    // The plugin's segment is added to the user's border format; this one shows the pane
    // index only (tmux's default also shows #{pane_title} as a format, which is the pane
    // title's own rule, tested with the titles).
    w.tmux
        .ok(&["set-option", "-gw", "pane-border-format", "#{pane_index}"]);
    w.load_plugin();
    w.attach(&env, 120, 34);
    let p0 = w.pane0();
    // The title carries ESC, BEL and a C1 CSI besides the tmux and shell syntax.
    w.tmux.type_line(
        &p0,
        &format!("panechat q --new 'hi [[title:{raw}\\e]0;x\\a\\u{{9b}}31m]]'"),
    );
    w.tmux.wait_for(&p0, "echo: hi");
    let t = Instant::now();
    while !w.tmux.value(&p0, "#{@panechat_title}").contains("♯(touch") {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the title never came: {:?}\n{}",
            w.tmux.value(&p0, "#{@panechat_title}"),
            w.tmux.capture(&p0)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let title = w.tmux.value(&p0, "#{@panechat_title}");
    assert!(!title.chars().any(|c| c.is_control()), "{title:?}");
    // Status line and pane border show it literally, unstyled (every `#` a `♯`).
    w.wait_screen("♯(touch");
    // A status redraw after the title's: a probe the status line shows, set now.
    w.tmux
        .ok(&["set-option", "-g", "status-left-length", "200"]);
    w.tmux
        .ok(&["set-option", "-ga", "status-left", "#{@probe}"]);
    w.tmux.ok(&["set-option", "-g", "@probe", "PROBE1"]);
    w.wait_screen("PROBE1");
    let styled = w.screen_styled();
    assert!(
        !styled.contains("[31m") && !styled.contains(";31m") && !styled.contains("38;5;1m"),
        "{styled}"
    );
    // Fork key.
    w.prefix("F");
    wait_until("the fork", || w.tmux.panes().len() == 2);
    let p1 = w.tmux.panes().into_iter().find(|p| *p != p0).unwrap();
    wait_until("the fork's title", || {
        w.tmux.value(&p1, "#{@panechat_title}").contains("♯(touch")
    });
    // Picker.
    w.prefix("P");
    let s = w.wait_screen(PICKER_HELP);
    assert!(s.contains("#(touch"), "{s}");
    w.keys(&["Escape"]);
    w.wait_screen_for(|s| !s.contains(PICKER_HELP), "closed");
    // Lock popup.
    let id = w.tmux.value(&p0, "#{@panechat_id}");
    w.tmux.type_line(&p1, &format!("panechat use {id}"));
    start_slow(&w, &p0, &id, 200);
    w.tmux.type_line(&p1, "panechat q 'me too'");
    let s = w.wait_screen("is in use");
    assert!(s.contains("#(touch"), "{s}");
    w.keys(&["Escape"]);
    w.wait_screen_for(|s| !s.contains("is in use"), "closed");
    // A job of the test's own, started by a status redraw after everything above and placed
    // after the titles in the format: once it has run, any job a title started has too.
    let control = env.root.join("work/CONTROL");
    w.tmux.ok(&[
        "set-option",
        "-ga",
        "status-left",
        &format!("#(touch '{}')", control.display()),
    ]);
    wait_until("the control job", || control.exists());
    assert_eq!(
        markers(),
        Vec::<std::path::PathBuf>::new(),
        "a title ran a command"
    );
    assert!(w.tmux.alive(), "the server died");
}

#[test]
fn resurrect_hooks_give_each_pane_its_conversation_back_after_a_restart() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    // The table the user named is a link (kept in their dotfiles): it stays one.
    let file = env.root.join("panes.tsv");
    let target = env.root.join("dotfiles/panes.tsv");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(&target, "").unwrap();
    std::os::unix::fs::symlink(&target, &file).unwrap();
    let layout = |w: &World| {
        w.tmux
            .ok(&["split-window", "-h", "-t", "t:0", "bash --norc --noprofile"]);
        w.tmux
            .ok(&["new-window", "-t", "t:1", "bash --norc --noprofile"]);
    };
    let pane_at = |w: &World, at: &str| w.tmux.value(at, "#{pane_id}");
    let mut ids = Vec::new();
    {
        let w = World::start(&env, 120, 30);
        w.tmux.ok(&[
            "set-option",
            "-g",
            "@panechat-resurrect-file",
            &file.display().to_string(),
        ]);
        w.load_plugin();
        layout(&w);
        for (i, at) in ["t:0.0", "t:0.1", "t:1.0"].iter().enumerate() {
            let p = pane_at(&w, at);
            ask(&w, &p, &format!("conv {i}"));
            wait_until("id", || !w.tmux.value(&p, "#{@panechat_id}").is_empty());
            ids.push(w.tmux.value(&p, "#{@panechat_id}"));
        }
        // What tmux-resurrect does after saving: eval the hook.
        let hook = w
            .tmux
            .ok(&["show-options", "-gv", "@resurrect-hook-post-save-all"]);
        w.tmux.ok(&["run-shell", &hook.trim().replace('#', "##")]);
        assert!(file.is_symlink(), "the link was replaced");
        assert_eq!(std::fs::read_to_string(&target).unwrap().lines().count(), 3);
        w.tmux.ok(&["kill-server"]);
    }
    // A new server (new pane ids, new server key), the same layout restored.
    let w = World::start(&env, 120, 30);
    w.tmux.ok(&[
        "set-option",
        "-g",
        "@panechat-resurrect-file",
        &file.display().to_string(),
    ]);
    w.load_plugin();
    layout(&w);
    let hook = w
        .tmux
        .ok(&["show-options", "-gv", "@resurrect-hook-post-restore-all"]);
    w.tmux.ok(&["run-shell", &hook.trim().replace('#', "##")]);
    for (i, at) in ["t:0.0", "t:0.1", "t:1.0"].iter().enumerate() {
        let p = pane_at(&w, at);
        wait_until("restored", || w.tmux.value(&p, "#{@panechat_id}") == ids[i]);
        // And the pane's next question continues it.
        w.tmux.type_line(&p, "panechat q 'again'");
        w.tmux.wait_for(&p, "echo: again");
        assert_eq!(show(&env, &ids[i])["turns"], 2);
    }
}

#[test]
fn new_key_makes_the_panes_next_question_start_a_new_conversation() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 120, 30);
    w.load_plugin();
    w.attach(&env, 120, 30);
    let p0 = w.pane0();
    ask(&w, &p0, "old one");
    wait_until("id", || !w.tmux.value(&p0, "#{@panechat_id}").is_empty());
    let old = w.tmux.value(&p0, "#{@panechat_id}");
    w.prefix("N");
    w.wait_screen("the next question in this pane starts a new conversation");
    wait_until("detached", || {
        w.tmux.value(&p0, "#{@panechat_id}").is_empty()
    });
    // The pane says what it has now: a new conversation, not an empty title ("" in tmux's
    // default status-right).
    assert_eq!(
        w.tmux.value(&p0, "#{pane_title}"),
        "panechat: new conversation"
    );
    let s = w.wait_screen_for(
        |s| {
            s.lines()
                .last()
                .unwrap_or("")
                .contains("\"panechat: new convers\"")
        },
        "the title in the status line",
    );
    assert!(!s.contains("\"\""), "{s}");
    w.tmux.type_line(&p0, "panechat q 'new one'");
    w.tmux.wait_for(&p0, "echo: new one");
    wait_until("a new conversation", || {
        let id = w.tmux.value(&p0, "#{@panechat_id}");
        !id.is_empty() && id != old
    });
    let new = w.tmux.value(&p0, "#{@panechat_id}");
    assert_eq!(show(&env, &new)["turns"], 1);
    assert_eq!(show(&env, &old)["turns"], 1);
}

/// The programs the tmux server starts from now on (`strace -f -e trace=execve` attached to it),
/// until it is dropped.
struct ServerTrace {
    strace: std::process::Child,
    out: std::path::PathBuf,
}

impl ServerTrace {
    fn start(w: &World, env: &TestEnv, tag: &str) -> ServerTrace {
        let pid = w.tmux.value(&w.pane0(), "#{pid}");
        let out = env.root.join(format!("server-trace-{tag}"));
        let said = env.root.join(format!("server-trace-{tag}.err"));
        let strace = Command::new("strace")
            .args(["-f", "-s", "256", "-e", "trace=execve", "-o"])
            .arg(&out)
            .args(["-p", &pid])
            .stderr(std::fs::File::create(&said).unwrap())
            .spawn()
            .expect("strace (is it installed?)");
        wait_until("strace attached to the tmux server", || {
            std::fs::read_to_string(&said).is_ok_and(|s| s.contains("attached"))
        });
        ServerTrace { strace, out }
    }

    /// How many times a `panechat` binary was started so far.
    fn panechat_runs(&self) -> usize {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("/panechat\", [") && l.ends_with("= 0"))
            .count()
    }
}

impl Drop for ServerTrace {
    fn drop(&mut self) {
        let _ = self.strace.kill();
        let _ = self.strace.wait();
    }
}

#[test]
fn each_key_press_runs_panechat_once() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 120, 30);
    w.load_plugin();
    w.attach(&env, 120, 30);
    let p0 = w.pane0();
    ask(&w, &p0, "first [[title:Counted]]");
    wait_until("the pane option", || {
        !w.tmux.value(&p0, "#{@panechat_id}").is_empty()
    });
    let trace = ServerTrace::start(&w, &env, "keys");
    // The fork key: the fork is made and mapped by the key's one panechat process.
    w.prefix("F");
    wait_until("a new pane", || w.tmux.panes().len() == 2);
    let p1 = w.tmux.panes().into_iter().find(|p| *p != p0).unwrap();
    wait_until("the fork published on the new pane", || {
        !w.tmux.value(&p1, "#{@panechat_id}").is_empty()
    });
    wait_until("the key's panechat in the trace", || {
        trace.panechat_runs() >= 1
    });
    assert_eq!(
        trace.panechat_runs(),
        1,
        "panechat runs for one fork key press"
    );
    // The new key, in the first pane.
    w.tmux.ok(&["select-pane", "-t", &p0]);
    w.prefix("N");
    w.wait_screen("the next question in this pane starts a new conversation");
    wait_until("detached", || {
        w.tmux.value(&p0, "#{@panechat_id}").is_empty()
    });
    assert_eq!(
        trace.panechat_runs(),
        2,
        "panechat runs for one new key press"
    );
}

#[test]
fn plugin_scripts_pass_shellcheck() {
    panechat_e2e::needs!("tmux", "shellcheck");
    let root = repo_root();
    let files = [
        root.join("panechat.tmux"),
        root.join("tmux-scripts/panechat.tmux"),
    ];
    let out = Command::new("shellcheck")
        .arg("-x")
        .args(&files)
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| {
            panic!("shellcheck could not run ({e}); the test command (scripts/test.sh) installs it")
        });
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // TPM runs the root entry directly: it must be executable.
    use std::os::unix::fs::PermissionsExt;
    for f in &files {
        let mode = std::fs::metadata(f).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "{} is not executable", f.display());
    }
}

/// Two clients: A on session `t` (window 0, pane p0), B on session `g`, grouped with `t`,
/// showing window 1 (pane q0). B's popups, splits and answers stay on B; A sees none of them.
/// Returns (world, p0, q0).
fn two_clients(env: &TestEnv) -> (World, String, String) {
    let mut w = World::start(env, 110, 30);
    w.load_plugin();
    let p0 = w.pane0();
    let q0 = w
        .tmux
        .ok(&[
            "new-window",
            "-d",
            "-t",
            "t:1",
            "-P",
            "-F",
            "#{pane_id}",
            "bash --norc --noprofile",
        ])
        .trim()
        .to_string();
    w.tmux.ok(&["new-session", "-d", "-t", "t", "-s", "g"]);
    w.tmux.ok(&["select-window", "-t", "g:1"]);
    w.attach_client(env, "term", "t", 110, 30);
    w.attach_client(env, "b", "g", 110, 30);
    assert_eq!(w.clients().len(), 2);
    (w, p0, q0)
}

#[test]
fn with_two_clients_the_lock_popup_goes_to_the_one_showing_the_waiting_pane() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let (mut w, p0, q0) = two_clients(&env);
    ask(&w, &p0, "base [[title:Shared one]]");
    wait_until("id", || !w.tmux.value(&p0, "#{@panechat_id}").is_empty());
    let id = w.tmux.value(&p0, "#{@panechat_id}");
    w.tmux.type_line(&q0, &format!("panechat use {id}"));
    wait_until("q0 uses it", || w.tmux.value(&q0, "#{@panechat_id}") == id);

    // The slow query is typed on client A, so A is the most recently active client (tmux's own
    // choice of client would be A's, since both sessions show the window).
    w.text_on(
        "term",
        &format!("panechat q --id {id} 'long [[slow:400]] [[chunks:20]]'"),
    );
    w.keys_on("term", &["Enter"]);
    wait_until("the slow query streams", || {
        w.tmux.value(&p0, "#{@panechat_state}") == "streaming"
    });
    w.tmux.type_line(&q0, "panechat q 'mine'; echo \"rc=$?\"");
    let b = w.wait_screen_of("b", "is in use");
    assert!(
        b.contains("Shared one") && b.contains(&format!("tmux pane {p0}")),
        "{b}"
    );
    // Not on A, and not inline in the waiting pane.
    let a = w.screen_of("term");
    assert!(
        !a.contains("is in use"),
        "client A shows the popup too:\n{a}"
    );
    assert!(!w.tmux.capture(&q0).contains("What now?"));
    // Cancel, on B.
    for _ in 0..4 {
        w.keys_on("b", &["Down"]);
    }
    w.keys_on("b", &["Enter"]);
    w.tmux.wait_for(&q0, "rc=130");
    assert!(!w.screen_of("b").contains("is in use"));
    wait_until("the slow query ended", || {
        w.tmux.value(&p0, "#{@panechat_state}") != "streaming"
    });

    // No client attached: the question is asked in the waiting pane itself.
    w.term = None; // kills the terminal server, and with it both clients
    wait_until("no client", || w.clients().is_empty());
    w.tmux.type_line(&q0, "clear");
    start_slow(&w, &p0, &id, 400);
    w.tmux.type_line(&q0, "panechat q 'again'; echo \"rc2=$?\"");
    w.tmux.wait_for(&q0, "What now?");
    for _ in 0..3 {
        w.tmux.ok(&["send-keys", "-t", &q0, "Down"]);
    }
    w.tmux.ok(&["send-keys", "-t", &q0, "Enter"]);
    w.tmux.wait_for(&q0, "rc2=130");
}

#[test]
fn with_two_clients_the_picker_ask_and_fork_keys_act_for_the_client_that_typed_them() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let (w, p0, q0) = two_clients(&env);
    ask(&w, &q0, "on b [[title:Bee talk]]");
    wait_until("title", || {
        w.tmux.value(&q0, "#{@panechat_title}") == "Bee talk"
    });
    // The picker opens on B, over B's pane, and only there.
    w.prefix_on("b", "P");
    let b = w.wait_screen_of("b", PICKER_HELP);
    assert!(b.contains("Bee talk"), "{b}");
    assert!(!w.screen_of("term").contains(PICKER_HELP));
    w.keys_on("b", &["Escape"]);
    wait_until("the picker closed", || {
        !w.screen_of("b").contains(PICKER_HELP)
    });
    // The ask popup opens on B, about B's pane, and only there; Esc closes it.
    w.prefix_on("b", "A");
    let b = w.wait_screen_of("b", "Enter sends, Esc cancels");
    assert!(b.contains(&format!("Ask about pane tmux {q0}")), "{b}");
    assert!(!w.screen_of("term").contains("Esc cancels"));
    w.keys_on("b", &["Escape"]);
    wait_until("the ask popup closed", || {
        !w.screen_of("b").contains("Esc cancels")
    });
    // The fork key on B splits B's pane (window 1), not A's.
    w.prefix_on("b", "F");
    wait_until("a new pane", || w.tmux.panes().len() == 3);
    let new = w
        .tmux
        .panes()
        .into_iter()
        .find(|p| *p != p0 && *p != q0)
        .unwrap();
    assert_eq!(
        w.tmux.value(&new, "#{window_id}"),
        w.tmux.value(&q0, "#{window_id}")
    );
    wait_until("the fork mapped", || {
        !w.tmux.value(&new, "#{@panechat_id}").is_empty()
    });
    assert_eq!(w.tmux.value(&p0, "#{window_panes}"), "1");
}

/// Loads the plugin into a server whose `#{version}` answer is replaced (a tmux 3.2 seen by the
/// loader): the popups lose their title, and get the pane through `env` instead of `-e`.
#[test]
fn on_tmux_3_2_the_popups_have_no_title_and_still_get_the_pane() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let w = World::start(&env, 100, 30);
    // A wrapper that answers `version 3.2` to the loader's first question, as tmux 3.2 would.
    let dir = env.root.join("tmux32");
    std::fs::create_dir_all(&dir).unwrap();
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v tmux"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::fs::write(
        dir.join("tmux"),
        format!(
            "#!/bin/sh\nif [ \"$2\" = -p ] && [ \"$3\" = 'version #{{version}}' ]; then\n  shift 4\n  echo 'version 3.2'\nfi\nexec {} \"$@\"\n",
            real.trim()
        ),
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(dir.join("tmux"))
        .status()
        .unwrap();
    let script = repo_root().join("tmux-scripts/panechat.tmux");
    let (ok, out, err) = w.tmux.run(&[
        "run-shell",
        &format!("PATH='{}':\"$PATH\" '{}'", dir.display(), script.display()),
    ]);
    assert!(ok, "{out}{err}");
    let keys = w.tmux.ok(&["list-keys", "-T", "prefix"]);
    let ask = key_line(&keys, "A").expect("prefix A bound");
    assert!(!ask.contains("-T ' panechat '"), "{ask}");
    assert!(ask.contains("env TMUX_PANE=#{pane_id}"), "{ask}");
    let pick = key_line(&keys, "P").unwrap();
    assert!(pick.contains("'90%' '80%' '0' #{pane_id}"), "{pick}");
    // And on the real tmux (3.3a here) the title is there, and the pane goes through -e.
    w.load_plugin();
    let keys = w.tmux.ok(&["list-keys", "-T", "prefix"]);
    let ask = key_line(&keys, "A").unwrap();
    assert!(
        ask.contains("-T ' panechat ' -e TMUX_PANE=#{pane_id}"),
        "{ask}"
    );
    assert!(!ask.contains("env TMUX_PANE"), "{ask}");
    assert!(key_line(&keys, "P")
        .unwrap()
        .contains("'90%' '80%' '1' #{pane_id}"));
}

/// The ask keys hand display-popup a binary path and a PANECHAT_HOME with `#`, spaces, quotes
/// and `$` intact: a stand-in binary at such a path records what it was run with.
#[test]
fn ask_keys_run_the_popup_with_hostile_paths_intact() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let weird = "a #{pane_id} #(touch M4) 'q' \"d\" $HOME ;x";
    let bindir = env.root.join(format!("bin {weird}"));
    let home = env.root.join(format!("home {weird}"));
    let work = env.root.join(format!("work/dir {weird}"));
    for d in [&bindir, &home, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    let rec = env.root.join("rec.txt");
    let bin = bindir.join("panechat");
    std::fs::write(
        &bin,
        format!(
            "#!/bin/sh\n{{ pwd; echo \"$TMUX_PANE\"; echo \"$PANECHAT_HOME\"; for a in \"$@\"; do echo \"$a\"; done; }} > '{}.tmp'\nmv '{0}.tmp' '{0}'\n",
            rec.display()
        ),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&bin).status().unwrap();
    let senv: Vec<(String, String)> = server_env(&env)
        .into_iter()
        .map(|(k, v)| {
            if k == "PANECHAT_HOME" {
                (k, home.display().to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    let mut w = World::start_with(&env, senv, 100, 30);
    w.tmux.ok(&[
        "set-option",
        "-g",
        "@panechat-bin",
        &bin.display().to_string(),
    ]);
    w.load_plugin();
    w.attach(&env, 100, 30);
    let p0 = w.pane0();
    w.tmux.type_line(
        &p0,
        &format!("cd {}", shell_quote(&work.display().to_string())),
    );
    w.tmux.type_line(&p0, "clear; echo 'the line to select'");
    w.tmux.wait_for(&p0, "the line to select");
    let record = || -> Vec<String> {
        wait_until("the stand-in ran", || rec.exists());
        let text = std::fs::read_to_string(&rec).unwrap();
        std::fs::remove_file(&rec).unwrap();
        text.lines().map(str::to_string).collect()
    };
    w.prefix("A");
    let r = record();
    assert_eq!(r[0], work.display().to_string());
    assert_eq!(r[1], p0);
    assert_eq!(r[2], home.display().to_string());
    assert_eq!(
        r[3..],
        [
            "q",
            "--pane",
            "--prompt",
            "--hold",
            "--session",
            &format!("pane:{p0}")
        ]
    );

    // Copy mode: select the echoed line's first word and press Q.
    let buffers = || w.tmux.ok(&["list-buffers", "-F", "#{buffer_name}"]);
    assert!(!buffers().contains("panechat-selection"));
    w.prefix("[");
    wait_until("copy mode", || w.tmux.value(&p0, "#{pane_in_mode}") == "1");
    w.tmux.ok(&[
        "send-keys",
        "-t",
        &p0,
        "-X",
        "search-backward",
        "the line to select",
    ]);
    w.tmux
        .ok(&["send-keys", "-t", &p0, "-X", "begin-selection"]);
    w.tmux.ok(&["send-keys", "-t", &p0, "-X", "next-word-end"]);
    w.keys(&["Q"]);
    let r = record();
    assert_eq!(r[0], work.display().to_string());
    assert_eq!(r[1], p0);
    assert_eq!(
        r[3..],
        [
            "q",
            "--selection",
            "--prompt",
            "--hold",
            "--session",
            &format!("pane:{p0}")
        ]
    );
    assert_eq!(w.tmux.value(&p0, "#{pane_in_mode}"), "0");
    let name = buffers()
        .lines()
        .find(|b| b.starts_with("panechat-selection"))
        .expect("the selection buffer")
        .to_string();
    assert_eq!(w.tmux.ok(&["show-buffer", "-b", &name]), "the");
    // Nothing in the paths ran.
    assert!(
        !Path::new("M4").exists()
            && !work.join("M4").exists()
            && !env.root.join("work/M4").exists()
    );
    assert!(w.tmux.alive());
}

/// A failing build's output, with colour.
const FAIL: &str = "printf '\\033[1;31merror[E0425]\\033[0m: cannot find value `count`\\n'";

/// The ask keys end to end, typed on an attached client, with the binary and PANECHAT_HOME at
/// paths holding `#`, spaces, quotes and `$`: prefix + A over a pane that printed an error,
/// the question typed in the popup, the answer read there, a key to close it, and the turn in
/// the pane's own conversation; then the same from copy mode with a selection.
#[test]
fn ask_keys_ask_about_the_pane_and_the_selection_in_a_popup() {
    panechat_e2e::needs!("tmux");
    let (env, fake) = setup();
    let weird = "a #{pane_id} #(touch M5) 'q' \"d\" $HOME ;x";
    let bindir = env.root.join(format!("bin {weird}"));
    let home = env.root.join(format!("home {weird}"));
    std::fs::create_dir_all(&bindir).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    std::fs::copy(env.home().join("config.toml"), home.join("config.toml")).unwrap();
    let bin = bindir.join("panechat");
    std::os::unix::fs::symlink(panechat_e2e::env::panechat_bin(), &bin).unwrap();
    let senv: Vec<(String, String)> = server_env(&env)
        .into_iter()
        .map(|(k, v)| {
            if k == "PANECHAT_HOME" {
                (k, home.display().to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    let ls = || -> Value {
        let o = Command::new(&bin)
            .args(["ls", "--json"])
            .env_clear()
            .envs(senv.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        json(&String::from_utf8_lossy(&o.stdout))
    };
    let mut w = World::start_with(&env, senv.clone(), 110, 30);
    w.tmux.ok(&[
        "set-option",
        "-g",
        "@panechat-bin",
        &bin.display().to_string(),
    ]);
    w.load_plugin();
    w.attach(&env, 110, 30);
    let p0 = w.pane0();
    w.tmux.type_line(&p0, "PS1='$ '; clear");
    w.tmux.wait_for(&p0, "$");
    w.tmux.type_line(&p0, FAIL);
    w.tmux.wait_for(&p0, "error[E0425]");

    // prefix + A: the popup names the pane and what is attached, and waits for the question.
    w.prefix("A");
    let s = w.wait_screen("Enter sends, Esc cancels");
    assert!(s.contains(&format!("Ask about pane tmux {p0}")), "{s}");
    assert!(
        s.contains(&format!("panechat: attached pane tmux {p0}, ")),
        "{s}"
    );
    let q = "why did this fail? [[reply:count is undefined; declare it]] [[title:Build failure]]";
    w.text(q);
    w.keys(&["Enter"]);
    let s = w.wait_screen("press any key to close");
    assert!(s.contains("count is undefined; declare it"), "{s}");
    let r = fake.request_for(q);
    let got = r.text_parts();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].starts_with(&format!("--- pane tmux {p0}, "))
            && got[0].contains("error[E0425]: cannot find value `count`"),
        "{}",
        got[0]
    );
    assert!(!r.raw_body.contains("\\u001b"), "escape sequences sent");
    assert!(
        !got[0].contains("--prompt") && !got[0].contains("panechat"),
        "the asking line was sent: {}",
        got[0]
    );
    // Any key closes it.
    w.keys(&["x"]);
    w.wait_screen_for(|s| !s.contains("press any key"), "the popup closed");
    // The turn is the pane's: its conversation, its options and title.
    let l = ls();
    let convs = l.as_array().unwrap();
    assert_eq!(convs.len(), 1, "{l}");
    assert_eq!(convs[0]["panes"][0]["pane"], p0.as_str(), "{l}");
    assert_eq!(convs[0]["turns"], 1);
    let id = convs[0]["id"].as_str().unwrap().to_string();
    wait_until("the pane's options and title", || {
        w.tmux.value(&p0, "#{@panechat_id}") == id
            && w.tmux.value(&p0, "#{@panechat_title}") == "Build failure"
            && w.tmux.value(&p0, "#{pane_title}") == "panechat: Build failure"
    });
    w.wait_screen("Build failure"); // the status segment

    // Copy mode: select the error line and press Q.
    w.prefix("[");
    wait_until("copy mode", || w.tmux.value(&p0, "#{pane_in_mode}") == "1");
    w.tmux.ok(&[
        "send-keys",
        "-t",
        &p0,
        "-X",
        "search-backward",
        "cannot find value",
    ]);
    w.tmux.ok(&["send-keys", "-t", &p0, "-X", "start-of-line"]);
    w.tmux
        .ok(&["send-keys", "-t", &p0, "-X", "begin-selection"]);
    w.tmux.ok(&["send-keys", "-t", &p0, "-X", "end-of-line"]);
    w.keys(&["Q"]);
    let s = w.wait_screen("Enter sends, Esc cancels");
    assert!(s.contains(&format!("Ask about selection tmux {p0}")), "{s}");
    let q2 = "what is this? [[reply:a missing variable]]";
    w.text(q2);
    w.keys(&["Enter"]);
    let s = w.wait_screen("press any key to close");
    assert!(s.contains("a missing variable"), "{s}");
    let got = fake.request_for(q2).text_parts();
    assert!(
        got[0].starts_with(&format!(
            "--- selection tmux {p0} ---\nerror[E0425]: cannot find value `count`"
        )),
        "{}",
        got[0]
    );
    assert!(!got[0].contains("printf"), "{}", got[0]);
    w.keys(&["Enter"]);
    w.wait_screen_for(|s| !s.contains("press any key"), "the popup closed");
    // The selection's buffer is gone; the conversation has both turns.
    let buffers = w.tmux.ok(&["list-buffers", "-F", "#{buffer_name}"]);
    assert!(!buffers.contains("panechat-selection"), "{buffers}");
    assert_eq!(ls()[0]["turns"], 2);
    // Nothing in the paths ran.
    assert!(!env.root.join("work/M5").exists() && !Path::new("M5").exists());
    assert!(w.tmux.alive());
}

/// Runs `line` in `pane` under `strace -f`, which ends only when every process it started has
/// (the tmux commands a publish spawns included), and returns the argv of every `tmux` run.
/// (What it waits for is printed by the line, and is not in the line as typed.)
fn traced_tmux_calls(w: &World, env: &TestEnv, pane: &str, line: &str, tag: &str) -> Vec<String> {
    let trace = env.root.join(format!("trace-{tag}"));
    w.tmux.type_line(
        pane,
        &format!(
            "strace -f -s 512 -qq -e trace=execve -o {} {line}; echo \"DONE\"-{tag}",
            trace.display()
        ),
    );
    w.tmux.wait_for(pane, &format!("DONE-{tag}"));
    std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter(|l| l.contains("execve(") && l.contains("tmux\", [\"tmux\""))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_hostile_title_stays_inert_through_resurrect_and_a_users_own_status_line() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let work = env.root.join("work");
    // What a model may title a conversation: tmux command substitution, a style, a format, a
    // trailing command separator.
    let raw = "x #(touch M1) #[fg=red]red #{pane_id} C# ;";
    let mut w = World::start(&env, 160, 30);
    // A user's own status line that draws the pane title and the option without `q/h`.
    w.tmux.ok(&[
        "set-option",
        "-g",
        "status-left",
        "[#{pane_title}|#{@panechat_title}] ",
    ]);
    w.tmux
        .ok(&["set-option", "-g", "status-left-length", "150"]);
    w.tmux.ok(&["set-option", "-g", "@panechat-status", "off"]);
    w.load_plugin();
    w.attach(&env, 160, 30);
    let p0 = w.pane0();
    w.tmux
        .type_line(&p0, &format!("panechat q --new 'hi [[title:{raw}]]'"));
    w.tmux.wait_for(&p0, "echo: hi");
    wait_until("the title", || {
        w.tmux.value(&p0, "#{@panechat_title}").contains("touch M1")
    });
    // Nothing panechat left in tmux carries a `#`: not the title, not any option.
    let title = w.tmux.value(&p0, "#{pane_title}");
    assert_eq!(title, "panechat: x ♯(touch M1) ♯[fg=red]red ♯{pane_id} C♯");
    let options = w.tmux.ok(&["show-options", "-p", "-t", &p0]);
    for line in options.lines().filter(|l| l.starts_with("@panechat")) {
        assert!(!line.contains('#'), "{line}");
    }
    // The user's status line draws both literally, in the default style.
    let s = w.wait_screen("[panechat: x ♯(touch M1)");
    assert!(
        s.contains("|x ♯(touch M1) ♯[fg=red]red ♯{pane_id} C♯]"),
        "{s}"
    );
    let styled = w.screen_styled();
    assert!(
        !styled.contains("31m") && !styled.contains("38;5;1m"),
        "{styled}"
    );

    // tmux-resurrect (in no package registry here, so its steps are done exactly): it saves
    // each pane's `#{pane_title}`, the server stops, and after a restart it replays each saved
    // title with `select-pane -T "$title"`, which expands formats.
    let saved = w.tmux.value(&p0, "#{pane_title}");
    w.restart_server(&env, 160, 30);
    let p0 = w.pane0();
    w.tmux.ok(&["select-pane", "-t", &p0, "-T", &saved]);
    assert_eq!(
        w.tmux.value(&p0, "#{pane_title}"),
        saved,
        "replayed unchanged"
    );
    // (`select-pane -T` replaces a `#(…)` with the command's output: a title that comes back
    // unchanged had nothing tmux would run or draw as a style.)
    for dir in [&work, &env.home(), &std::env::current_dir().unwrap()] {
        assert!(!dir.join("M1").exists(), "a title ran a command in {dir:?}");
    }
}

#[test]
fn a_restarted_server_never_shows_the_old_servers_conversations() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 120, 30);
    w.load_plugin();
    let p0 = w.pane0();
    let p1 = w.tmux.ok(&[
        "split-window",
        "-h",
        "-t",
        "t",
        "-P",
        "-F",
        "#{pane_id}",
        "bash --norc --noprofile",
    ]);
    let p1 = p1.trim().to_string();
    ask(&w, &p0, "first [[title:Alpha]]");
    ask(&w, &p1, "second [[title:Bravo]]");
    wait_until("titles", || {
        w.tmux.value(&p1, "#{@panechat_title}") == "Bravo"
            && w.tmux.value(&p0, "#{@panechat_title}") == "Alpha"
    });
    let a = w.tmux.value(&p0, "#{@panechat_id}");
    let b = w.tmux.value(&p1, "#{@panechat_id}");

    // The same socket, a new server: the new panes get the old ids.
    w.restart_server(&env, 120, 30);
    w.load_plugin();
    let n0 = w.pane0();
    let n1 = w.tmux.ok(&[
        "split-window",
        "-h",
        "-t",
        "t",
        "-P",
        "-F",
        "#{pane_id}",
        "bash --norc --noprofile",
    ]);
    let n1 = n1.trim().to_string();
    assert_eq!((n0.as_str(), n1.as_str()), (p0.as_str(), p1.as_str()));
    w.attach(&env, 120, 30);

    // `use B` in the new first pane reaches that pane, and no other.
    let calls = traced_tmux_calls(&w, &env, &n0, &format!("panechat use {b}"), "use");
    assert!(
        !calls.is_empty(),
        "published nothing\n{}\n{}",
        w.tmux.capture(&n0),
        std::fs::read_to_string(env.root.join("trace-use")).unwrap_or_default()
    );
    for c in &calls {
        assert!(
            !c.contains(&format!("\"{n1}\"")),
            "published onto {n1}: {c}"
        );
    }
    assert_eq!(w.tmux.value(&n0, "#{@panechat_id}"), b);
    assert_eq!(w.tmux.value(&n1, "#{@panechat_id}"), "");
    assert!(!w.tmux.value(&n1, "#{pane_title}").contains("Alpha"));
    // The new second pane starts with nothing: its first question does not continue Alpha.
    w.tmux.type_line(&n1, "panechat show; echo SHOWN");
    let s = w.tmux.wait_for(&n1, "SHOWN");
    assert!(!s.contains("first"), "{s}");
    assert_eq!(show(&env, &a)["turns"], 1);

    // `refresh`, which the docs give after a restart, paints nothing old onto new panes.
    let calls = traced_tmux_calls(&w, &env, &n0, "panechat refresh", "refresh");
    for c in &calls {
        assert!(
            !c.contains(&format!("\"{n1}\"")),
            "refresh published onto {n1}: {c}"
        );
    }
    assert_eq!(w.tmux.value(&n1, "#{@panechat_id}"), "");

    // `sessions` lists only the live server's panes, and `--prune` forgets the old ones.
    let listed = json(&env.run(["sessions", "--json"]).ok().stdout);
    let keys: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["pane"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(keys, vec![n0.clone()], "{listed}");

    // A pane an older panechat painted wrongly (the old server's mapping of its id) is
    // cleared by `sessions --prune` run in this server.
    w.tmux
        .ok(&["set-option", "-p", "-t", &n1, "@panechat_id", &a]);
    w.tmux
        .ok(&["set-option", "-p", "-t", &n1, "@panechat_title", "Alpha"]);
    w.tmux
        .ok(&["select-pane", "-t", &n1, "-T", "panechat: Alpha"]);
    let calls = traced_tmux_calls(&w, &env, &n0, "panechat sessions --prune", "prune");
    assert!(
        calls.iter().any(|c| c.contains(&format!("\"{n1}\""))),
        "{calls:#?}\n{}",
        w.tmux.capture(&n0)
    );
    assert_eq!(w.tmux.value(&n1, "#{@panechat_id}"), "");
    assert_eq!(w.tmux.value(&n1, "#{@panechat_title}"), "");
    assert_eq!(
        w.tmux.value(&n0, "#{@panechat_id}"),
        b,
        "the rightful pane keeps its own"
    );
}

/// A global window option's value (`show-options -gwv`).
fn window_option(w: &World, name: &str) -> String {
    w.tmux
        .ok(&["show-options", "-gwv", name])
        .trim_end_matches('\n')
        .to_string()
}

/// A global option's value (`show-options -gv`).
fn global_option(w: &World, name: &str) -> String {
    w.tmux
        .ok(&["show-options", "-gv", name])
        .trim_end_matches('\n')
        .to_string()
}

/// The pane border segment adds to the user's own `pane-border-format` (a window option) and
/// keeps their `pane-border-status`; turning it off and loading again gives back exactly what
/// the user had. A user without borders gets them on top, and back off again.
#[test]
fn pane_border_adds_to_the_users_border_and_off_gives_it_back() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 120, 30);
    let user_fmt = " USER-BORDER #{pane_index} ";
    w.tmux
        .ok(&["set-option", "-gw", "pane-border-format", user_fmt]);
    w.tmux
        .ok(&["set-option", "-gw", "pane-border-status", "bottom"]);
    w.tmux
        .ok(&["set-option", "-g", "@panechat-pane-border", "on"]);
    w.load_plugin();
    w.load_plugin(); // loading again adds nothing more
    let fmt = window_option(&w, "pane-border-format");
    assert!(fmt.starts_with(user_fmt), "{fmt}");
    assert_eq!(fmt.matches("panechat").count(), 1, "{fmt}");
    assert_eq!(window_option(&w, "pane-border-status"), "bottom");

    // On screen: the user's border text and the conversation's title, on the bottom border.
    w.attach(&env, 120, 30);
    let p0 = w.pane0();
    w.tmux
        .ok(&["split-window", "-h", "-t", &p0, "bash --norc --noprofile"]);
    ask(&w, &p0, "hi [[title:Border title]]");
    let s = w.wait_screen_for(
        |s| {
            s.lines()
                .any(|l| l.contains("USER-BORDER 0") && l.contains("Border title"))
        },
        "the user's border text and the title",
    );
    assert!(
        !s.lines().next().unwrap_or("").contains("USER-BORDER"),
        "{s}"
    );
    // A coding agent in the pane: in its border, before the title.
    w.set_agent(
        &env,
        &p0,
        &agent(panechat_vocab::state::AgentState::NeedsYou, None),
    );
    w.wait_screen_for(
        |s| {
            s.lines().any(|l| {
                l.contains("USER-BORDER 0") && l.contains("⚑ claude: needs you  Border title")
            })
        },
        "the agent in the border",
    );

    // Off, loaded again: exactly what the user had.
    w.tmux
        .ok(&["set-option", "-g", "@panechat-pane-border", "off"]);
    w.load_plugin();
    assert_eq!(window_option(&w, "pane-border-format"), user_fmt);
    assert_eq!(window_option(&w, "pane-border-status"), "bottom");

    // A user without borders: on turns them on (top); off turns them off again.
    w.tmux
        .ok(&["set-option", "-gw", "pane-border-status", "off"]);
    w.tmux
        .ok(&["set-option", "-g", "@panechat-pane-border", "on"]);
    w.load_plugin();
    assert_eq!(window_option(&w, "pane-border-status"), "top");
    w.tmux
        .ok(&["set-option", "-g", "@panechat-pane-border", "off"]);
    w.load_plugin();
    assert_eq!(window_option(&w, "pane-border-status"), "off");
    assert_eq!(window_option(&w, "pane-border-format"), user_fmt);
}

/// The status segment does not eat the user's `status-right`: with tmux's default
/// `status-right-length` (40) and a long title, the end of the user's status-right stays on
/// screen. `@panechat-status off` and a reload give back the user's status-right and its
/// length; a segment the user placed (`#{E:@panechat-status-format}`) is left where it is.
#[test]
fn the_status_segment_keeps_the_users_status_right_on_screen_and_off_undoes_it() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 120, 20);
    let user_right = "\"#{=21:pane_title}\" USER-END";
    w.tmux.ok(&["set-option", "-g", "status-right", user_right]);
    let length = global_option(&w, "status-right-length");
    assert_eq!(length, "40");
    w.load_plugin();
    w.load_plugin();
    w.attach(&env, 120, 20);
    let p0 = w.pane0();
    let last_line = |s: &str| s.lines().last().unwrap_or("").to_string();
    ask(
        &w,
        &p0,
        "hi [[title:A title long enough to fill the segment up]]",
    );
    let s = w.wait_screen_for(
        |s| last_line(s).contains("A title long"),
        "the title in the status line",
    );
    assert!(last_line(&s).ends_with("USER-END"), "{s}");

    // Off, loaded again: the user's status-right and its length, as they were.
    w.tmux.ok(&["set-option", "-g", "@panechat-status", "off"]);
    w.load_plugin();
    assert_eq!(global_option(&w, "status-right"), user_right);
    assert_eq!(global_option(&w, "status-right-length"), length);
    w.wait_screen_for(
        |s| !last_line(s).contains("A title long") && last_line(s).ends_with("USER-END"),
        "the segment gone",
    );

    // Placed by the user: left where it is, and shown there.
    let placed = "[#{E:@panechat-status-format}] USER-END";
    w.tmux.ok(&["set-option", "-g", "status-right", placed]);
    w.tmux.ok(&["set-option", "-g", "@panechat-status", "auto"]);
    w.load_plugin();
    assert_eq!(global_option(&w, "status-right"), placed);
    w.wait_screen_for(
        |s| last_line(s).contains("[A title long"),
        "the placed segment",
    );
}

/// A key the plugin leaves alone because the user bound it is named where the user sees it:
/// loaded while no client is attached (tmux starting), on the first client that attaches,
/// once; loaded with a client attached, on that client. Messages that name a key name the
/// one actually bound.
#[test]
fn skipped_keys_are_named_on_the_client_and_messages_name_the_bound_keys() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 150, 30);
    w.tmux.ok(&["bind-key", "N", "display-message", "user N"]);
    w.tmux
        .ok(&["set-option", "-g", "@panechat-pick-key", "M-k"]);
    w.load_plugin();
    assert!(w.clients().is_empty());
    assert_eq!(global_option(&w, "@panechat-skipped-keys"), "prefix + N");
    w.attach(&env, 150, 30);
    let s = w.wait_screen("prefix + N already bound");
    assert!(s.contains("@panechat-new-key"), "{s}");
    // The message stays until a key is pressed, and is kept in tmux's message log.
    w.keys(&["Escape"]);
    w.wait_screen_for(|s| !s.contains("already bound"), "the message gone");
    let log = w.tmux.ok(&["show-messages"]);
    assert!(log.contains("prefix + N already bound"), "{log}");
    // Shown once: a second client attaching sees nothing of it.
    w.tmux.ok(&["new-session", "-d", "-s", "g", "-t", "t"]);
    w.attach_client(&env, "b", "g", 150, 30);
    let hooks = w.tmux.ok(&["show-hooks", "-g", "client-session-changed"]);
    assert!(!hooks.contains("panechat"), "{hooks}");

    // Loaded with a client attached: the message is on that client.
    w.tmux.ok(&["bind-key", "F", "display-message", "user F"]);
    w.load_plugin();
    w.wait_screen("prefix + F, prefix + N already bound");
    w.keys(&["Escape"]);
    w.wait_screen_for(|s| !s.contains("already bound"), "the message gone");

    // The fork key's message names the picker's key as bound (M-k), not the default.
    w.tmux.ok(&["unbind-key", "F"]);
    w.load_plugin();
    assert_eq!(global_option(&w, "@panechat-skipped-keys"), "prefix + N");
    w.wait_screen("prefix + N already bound");
    w.keys(&["Escape"]);
    w.wait_screen_for(|s| !s.contains("already bound"), "the message gone");
    w.prefix("F");
    let s = w.wait_screen("this pane has no conversation yet");
    assert!(s.contains("(prefix + M-k)"), "{s}");
    // Nothing skipped any more: nothing is said, and nothing is left for the next attach.
    w.tmux.ok(&["unbind-key", "N"]);
    w.load_plugin();
    assert_eq!(
        w.tmux
            .run(&["show-options", "-gv", "@panechat-skipped-keys"])
            .1,
        ""
    );
    let hooks = w.tmux.ok(&["show-hooks", "-g", "client-session-changed"]);
    assert!(!hooks.contains("panechat"), "{hooks}");
}

/// The default keys shadow none of tmux's own bindings: every default is checked against
/// `list-keys` of a fresh tmux server (`-f /dev/null`), and loading the plugin there keeps
/// every one of tmux's bindings.
#[test]
fn default_keys_shadow_no_binding_of_tmux() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let default = |name: &str| -> String {
        use panechat::adapters::tmux_plugin as p;
        let o = match name {
            "fork" => p::FORK_KEY,
            "pick" => p::PICK_KEY,
            "new" => p::NEW_KEY,
            "ask" => p::ASK_KEY,
            "next" => p::NEXT_KEY,
            _ => p::ASK_SELECTION_KEY,
        };
        o.default.unwrap().to_string()
    };
    let w = World::start(&env, 100, 30);
    let fresh = w.tmux.ok(&["list-keys"]);
    let bound_in = |keys: &str, table: &str, key: &str| {
        keys.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let at = f.iter().position(|x| *x == "-T");
            at.is_some_and(|i| f.get(i + 1) == Some(&table) && f.get(i + 2) == Some(&key))
        })
    };
    let mut checked = 0;
    for name in ["fork", "pick", "new", "ask", "next"] {
        let key = default(name);
        assert!(
            !bound_in(&fresh, "prefix", &key),
            "prefix + {key} (@panechat-{name}-key) is one of tmux's own keys"
        );
        checked += 1;
    }
    let key = default("ask_selection");
    for table in ["copy-mode", "copy-mode-vi"] {
        assert!(
            !bound_in(&fresh, table, &key),
            "{key} in {table} is one of tmux's own keys"
        );
        checked += 1;
    }
    assert_eq!(checked, 7);
    w.load_plugin();
    let after = w.tmux.ok(&["list-keys"]);
    for line in fresh.lines() {
        assert!(after.lines().any(|l| l == line), "lost: {line}");
    }
    assert_eq!(after.lines().count(), fresh.lines().count() + 7);
    assert!(w
        .tmux
        .run(&["show-options", "-gv", "@panechat-skipped-keys"])
        .1
        .is_empty());
}

/// The fork split is a pane like any other: tmux runs its default-command in it, and nothing of
/// panechat's is left in its shell's environment; the fork is its conversation all the same.
/// The same through the picker's ^F.
#[test]
fn fork_splits_are_ordinary_panes_that_run_the_default_command() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 120, 30);
    w.tmux.ok(&[
        "set-option",
        "-g",
        "default-command",
        "FROM_DEFAULT_COMMAND=yes exec bash --norc --noprofile",
    ]);
    w.load_plugin();
    w.attach(&env, 120, 30);
    let p0 = w.pane0();
    ask(&w, &p0, "first [[title:Fork me]]");
    wait_until("the pane option", || {
        !w.tmux.value(&p0, "#{@panechat_id}").is_empty()
    });
    let src = w.tmux.value(&p0, "#{@panechat_id}");
    let check = |pane: &str, tag: &str| {
        w.tmux.type_line(
            pane,
            &format!("echo \"{tag}[$FROM_DEFAULT_COMMAND][${{PANECHAT_FORK_FROM-unset}}]\""),
        );
        w.tmux.wait_for(pane, &format!("{tag}[yes][unset]"));
        wait_until("the fork is the pane's conversation", || {
            let id = w.tmux.value(pane, "#{@panechat_id}");
            !id.is_empty() && id != src
        });
        let fork = show(&env, &w.tmux.value(pane, "#{@panechat_id}"));
        assert_eq!(fork["parent"]["id"], src.as_str());
    };
    w.prefix("F");
    wait_until("a new pane", || w.tmux.panes().len() == 2);
    let p1 = w.tmux.panes().into_iter().find(|p| *p != p0).unwrap();
    check(&p1, "key");
    assert!(
        !w.tmux
            .value(&p1, "#{pane_start_command}")
            .contains("panechat"),
        "{}",
        w.tmux.value(&p1, "#{pane_start_command}")
    );

    w.tmux.ok(&["select-pane", "-t", &p0]);
    w.prefix("P");
    w.wait_screen(PICKER_HELP);
    w.keys(&["C-f"]);
    wait_until("a third pane", || w.tmux.panes().len() == 3);
    let p2 = w
        .tmux
        .panes()
        .into_iter()
        .find(|p| *p != p0 && *p != p1)
        .unwrap();
    check(&p2, "picker");
}

/// The lock popup says which pane asks, and opens over that pane's window: the client showing
/// the holder's window (in the same session) is taken to the asking pane first. A wide (CJK)
/// title is wrapped by the cells it takes: every row of the question ends between words.
#[test]
fn lock_popup_names_the_asking_pane_and_opens_over_its_window() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 120, 34);
    w.load_plugin();
    w.attach(&env, 120, 34);
    let p0 = w.pane0();
    ask(&w, &p0, "base [[title:Busy one]]");
    wait_until("id", || !w.tmux.value(&p0, "#{@panechat_id}").is_empty());
    let id = w.tmux.value(&p0, "#{@panechat_id}");
    // 22 wide characters: "tmux pane %1 asks: " and the quoted title take 65 cells, so a
    // row filled by counting characters would run past the popup's 70 cells inside "in".
    let title = "日本語のタイトルはとても長くて幅が広い文字列";
    env.run(["rename", &id, title]).ok();
    let q0 = w
        .tmux
        .ok(&[
            "new-window",
            "-d",
            "-t",
            "t:1",
            "-P",
            "-F",
            "#{pane_id}",
            "bash --norc --noprofile",
        ])
        .trim()
        .to_string();
    w.tmux.type_line(&q0, &format!("panechat use {id}"));
    wait_until("q0 uses it", || w.tmux.value(&q0, "#{@panechat_id}") == id);
    assert_eq!(w.tmux.value("t", "#{window_index}"), "0");

    start_slow(&w, &p0, &id, 400);
    w.tmux.type_line(&q0, "panechat q 'mine'; echo \"rc=$?\"");
    let s = w.wait_screen("Cancel");
    // Over the asking pane's window, naming it.
    assert_eq!(w.tmux.value("t", "#{window_index}"), "1", "{s}");
    assert_eq!(w.tmux.value("t", "#{pane_id}"), q0);
    // The question's rows, between the popup's borders, up to the menu.
    let rows: Vec<String> = s
        .lines()
        .filter_map(|l| {
            let a = l.find('│')?;
            let b = l.rfind('│')?;
            (b > a).then(|| l[a + '│'.len_utf8()..b].trim().to_string())
        })
        .take_while(|r| !r.contains("What now?"))
        .collect();
    let text = rows.join(" ");
    assert!(text.contains(&format!("tmux pane {q0} asks")), "{s}");
    assert!(
        text.contains(&format!(
            "\"{title}\" is in use (held by tmux pane {p0} for"
        )),
        "a row was cut inside a word:\n{s}"
    );
    w.keys(&["Escape"]);
    w.tmux.wait_for(&q0, "rc=130");
}

/// The picker opens on the pane's own conversation (Enter right away keeps it), its rows show
/// the short id, and its filter also finds conversations by what was said in them.
#[test]
fn picker_opens_on_the_panes_own_conversation_and_finds_what_was_said() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 120, 34);
    w.load_plugin();
    w.attach(&env, 120, 34);
    let p0 = w.pane0();
    w.tmux.type_line(
        &p0,
        "panechat q --new 'about borrowing [[reply:the borrow checker says no]] [[title:Mine]]'",
    );
    w.tmux.wait_for(&p0, "the borrow checker says no");
    let p1 = w
        .tmux
        .ok(&["split-window", "-h", "-t", &p0, "-P", "-F", "#{pane_id}"])
        .trim()
        .to_string();
    ask(&w, &p1, "zellij [[title:Newer one]]");
    // p1's conversation is the most recently active one by far.
    w.tmux.type_line(&p1, "panechat q 'again'");
    w.tmux.wait_for(&p1, "echo: again");
    wait_until("titles", || {
        w.tmux.value(&p0, "#{@panechat_title}") == "Mine"
            && w.tmux.value(&p1, "#{@panechat_title}") == "Newer one"
    });
    let mine = w.tmux.value(&p0, "#{@panechat_id}");
    w.tmux.ok(&["select-pane", "-t", &p0]);
    w.prefix("P");
    let s = w.wait_screen(PICKER_HELP);
    // The preview is the selected conversation's: this pane's, not the most recent.
    assert!(s.contains("you: about borrowing"), "{s}");
    assert!(
        s.lines()
            .any(|l| l.contains("Mine") && l.contains(&mine[..8])),
        "{s}"
    );
    w.keys(&["Enter"]);
    w.wait_screen_for(|s| !s.contains(PICKER_HELP), "the picker closed");
    assert_eq!(w.tmux.value(&p0, "#{@panechat_id}"), mine);

    // Words of a reply find the conversation, whose title holds none of them.
    w.prefix("P");
    w.wait_screen(PICKER_HELP);
    w.text("checker says");
    let s = w.wait_screen("1/2");
    assert!(s.contains("Mine"), "{s}");
    w.keys(&["Escape"]);
    w.wait_screen_for(|s| !s.contains(PICKER_HELP), "the picker closed");
}

#[test]
fn the_resurrect_table_is_kept_under_panechat_home_when_it_is_set() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let w = World::start(&env, 120, 30);
    w.load_plugin();
    let p0 = w.pane0();
    ask(&w, &p0, "remember me");
    wait_until("id", || !w.tmux.value(&p0, "#{@panechat_id}").is_empty());
    let id = w.tmux.value(&p0, "#{@panechat_id}");
    // What tmux-resurrect does after saving: eval the hook.
    let hook = w
        .tmux
        .ok(&["show-options", "-gv", "@resurrect-hook-post-save-all"]);
    w.tmux.ok(&["run-shell", &hook.trim().replace('#', "##")]);
    let table = env.home().join("data/tmux-resurrect.tsv");
    let text =
        std::fs::read_to_string(&table).unwrap_or_else(|e| panic!("{}: {e}", table.display()));
    assert!(text.contains(&id), "{text}");
    let xdg = env.root.join("home/.local/share/panechat");
    assert!(!xdg.exists(), "written under {}", xdg.display());
}

/// `panechat doctor` in a pane says whether the plugin is loaded in this server, its keys and
/// its status segment; before the plugin is loaded it says how to load it.
#[test]
fn doctor_names_the_plugin_its_keys_and_status_segment() {
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let w = World::start(&env, 200, 40);
    let p0 = w.pane0();
    w.tmux
        .type_line(&p0, "panechat doctor > before.txt; echo DO''NE-1");
    w.tmux.wait_for(&p0, "DONE-1");
    let before = std::fs::read_to_string(env.root.join("work/before.txt")).unwrap();
    assert!(
        before.contains("fix tmux: panechat's plugin is not loaded in this tmux server")
            && before.contains("tmux source-file ~/.tmux.conf"),
        "{before}"
    );
    w.load_plugin();
    w.tmux
        .type_line(&p0, "panechat doctor > after.txt; echo DO''NE-2");
    w.tmux.wait_for(&p0, "DONE-2");
    let after = std::fs::read_to_string(env.root.join("work/after.txt")).unwrap();
    assert!(
        after.contains("ok  tmux: panechat's plugin is loaded; keys: ")
            && after.contains("prefix P")
            && after.contains("prefix F")
            && after.contains("status segment: status-right"),
        "{after}"
    );
}

/// A coding agent's state (`World::set_agent` reports it as Claude Code's hooks do).
fn agent(
    state: panechat_vocab::state::AgentState,
    tool: Option<&str>,
) -> panechat_vocab::state::Agent {
    panechat_vocab::state::Agent {
        kind: "claude-code".into(),
        state,
        tool: tool.map(str::to_string),
        session: Some("5f0c2d".into()),
        ..Default::default()
    }
}

/// Waits until `format` expands to `want` on `pane`.
fn wait_option(w: &World, pane: &str, format: &str, want: &str) {
    wait_until(&format!("{format} = {want} on {pane}"), || {
        w.tmux.value(pane, format) == want
    });
}

/// The pane the client of terminal `term` looks at.
fn client_pane(w: &World) -> String {
    let client = &w.clients()[0];
    w.tmux
        .ok(&["display-message", "-p", "-c", client, "#{pane_id}"])
        .trim()
        .to_string()
}

/// A pane's agent shows in its options, its title and the status line; the window of a pane
/// whose agent needs you is marked in the client's window list; the next key takes the client
/// to such panes across windows and sessions, with one panechat run per press; focusing a pane
/// whose agent is done makes it idle, and focusing any other pane runs nothing.
#[test]
fn agent_states_show_mark_the_window_and_the_next_key_goes_to_them() {
    use panechat_vocab::state::AgentState;
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 100, 20);
    w.tmux.ok(&["set-option", "-g", "status-interval", "1"]);
    w.load_plugin();
    w.attach(&env, 100, 20);
    let p0 = w.pane0();
    let last_line = |s: &str| s.lines().last().unwrap_or("").to_string();
    // The segment and the window mark run nothing per status tick.
    for opt in [
        "status-right",
        "@panechat-status-format",
        "@panechat-window-format",
    ] {
        let v = w.tmux.ok(&["show-options", "-gv", opt]);
        assert!(!v.contains("#("), "{opt}: {v}");
    }
    for opt in ["window-status-format", "window-status-current-format"] {
        let v = window_option(&w, opt);
        assert!(v.starts_with("#{E:@panechat-window-format}"), "{opt}: {v}");
        assert!(!v.contains("#("), "{opt}: {v}");
    }

    // Working: the tool in the pane option and the status line, set by the one tmux program
    // that publishes the state change; the pane keeps the title its agent gives it (it has no
    // conversation).
    w.tmux
        .ok(&["select-pane", "-t", &p0, "-T", "✳ Claude Code"]);
    let event = env.root.join("pre-tool-use.json");
    std::fs::write(
        &event,
        panechat_e2e::tmux::claude_event(&agent(AgentState::Working, Some("Bash"))),
    )
    .unwrap();
    let calls = traced_tmux_calls(
        &w,
        &env,
        &p0,
        &format!("panechat hook claude < {}", event.display()),
        "agent",
    );
    assert_eq!(
        calls.len(),
        1,
        "one tmux program per state change: {calls:#?}"
    );
    for what in ["@panechat_agent", "@panechat_needs_you"] {
        assert!(calls[0].contains(what), "{what}: {}", calls[0]);
    }
    wait_option(&w, &p0, "#{@panechat_agent}", "working");
    assert_eq!(
        w.tmux.value(&p0, "#{@panechat_agent_text}"),
        "claude: running Bash"
    );
    assert_eq!(w.tmux.value(&p0, "#{pane_title}"), "✳ Claude Code");
    w.wait_screen_for(
        |s| last_line(s).contains("claude: running Bash"),
        "the agent in the status line",
    );

    // Another window, and another session with a pane of its own.
    w.tmux.ok(&["new-window", "-t", "t"]);
    let p1 = client_pane(&w);
    assert_ne!(p1, p0);
    w.tmux.ok(&["new-session", "-d", "-s", "u"]);
    let p2 = w.tmux.value("u", "#{pane_id}");
    // p0 needs you: its window is marked on the client's screen (which shows window 1).
    w.set_agent(&env, &p0, &agent(AgentState::NeedsYou, None));
    wait_option(&w, &p0, "#{@panechat_agent}", "needs-you");
    assert_eq!(w.tmux.value(&p0, "#{@panechat_needs_you}"), "1");
    w.wait_screen_for(|s| last_line(s).contains("⚑ 0:"), "window 0 marked");
    assert!(!last_line(&w.screen()).contains("⚑ 1:"), "{}", w.screen());
    w.set_agent(&env, &p2, &agent(AgentState::NeedsYou, None));
    wait_option(&w, &p2, "#{@panechat_agent}", "needs-you");
    // The picker lists the panes that need you first.
    w.prefix("P");
    let s = w.wait_screen("⏎ use");
    let rows: Vec<&str> = s.lines().filter(|l| l.contains("claude: ")).collect();
    assert!(
        rows.len() >= 2
            && rows[..2].iter().all(|r| r.contains("⚑ claude: needs you"))
            && rows[0].contains(&format!("pane {p0}"))
            && rows[1].contains(&format!("pane {p2}")),
        "{s}"
    );
    w.keys(&["Escape"]);
    w.wait_screen_for(|s| !s.contains("⏎ use"), "the picker closed");

    let trace = ServerTrace::start(&w, &env, "agents");
    // The next key, from p1: to p2 (the next in order: session u), then around to p0
    // (window 0 of session t), then to p2 again.
    for (to, runs) in [(&p2, 1), (&p0, 2), (&p2, 3), (&p0, 4)] {
        w.prefix("J");
        wait_until("the client on the pane that needs you", || {
            client_pane(&w) == *to
        });
        wait_until("the key's panechat in the trace", || {
            trace.panechat_runs() >= runs
        });
        assert_eq!(trace.panechat_runs(), runs, "one panechat run per press");
    }
    w.wait_screen_for(
        |s| last_line(s).contains("⚑ claude: needs you"),
        "the needs-you marker in the status line",
    );

    // p0 done, looked at from elsewhere: still done. Focusing it makes it idle.
    w.tmux.ok(&["switch-client", "-t", &p1]);
    wait_until("the client on p1", || client_pane(&w) == p1);
    w.set_agent(&env, &p0, &agent(AgentState::Done, None));
    wait_option(&w, &p0, "#{@panechat_agent}", "done");
    assert_eq!(w.tmux.value(&p0, "#{@panechat_needs_you}"), "");
    w.wait_screen_for(|s| !last_line(s).contains("⚑ 0:"), "window 0 unmarked");
    let before = trace.panechat_runs();
    w.tmux.ok(&["select-window", "-t", &p0]);
    wait_until("done turned idle on focus", || {
        w.tmux.value(&p0, "#{@panechat_agent}") == "idle"
    });
    w.wait_screen_for(
        |s| last_line(s).contains("claude: idle"),
        "idle in the status line",
    );
    assert_eq!(trace.panechat_runs(), before + 1, "one run for the focus");
    // Focusing panes whose agents are not done (or that have none) starts nothing: the next
    // run seen is the one for the next done pane focused.
    for p in [&p1, &p2, &p0, &p1] {
        w.tmux.ok(&["switch-client", "-t", p]);
        wait_until("the client moved", || client_pane(&w) == **p);
    }
    w.set_agent(&env, &p2, &agent(AgentState::Done, None));
    wait_option(&w, &p2, "#{@panechat_agent}", "done");
    w.tmux.ok(&["switch-client", "-t", &p2]);
    wait_until("p2 idle on focus", || {
        w.tmux.value(&p2, "#{@panechat_agent}") == "idle"
    });
    assert_eq!(trace.panechat_runs(), before + 2, "no run for other panes");
}

/// Real Claude Code in its interactive UI, its hooks installed by `panechat init claude
/// --write`, in a pane of a tmux with the plugin loaded and a client attached: the status
/// segment on the client goes working, needs you (with the window marked while the client is
/// elsewhere and the next key bringing it back), working again once the prompt is answered on
/// the client, then done; done turns idle when the pane is focused again.
#[test]
fn real_claude_code_shows_in_the_status_line_and_the_next_key_goes_to_its_prompt() {
    panechat_e2e::needs!("tmux", "claude");
    let fake = panechat_e2e::fake::FakeProvider::start();
    let env = TestEnv::new();
    env.run(["init", "claude", "--write"]).ok();
    let home = panechat_e2e::agents::AgentHome::new(&env.root.join("home"), &fake);
    home.trust(&env.root.join("work"));
    let bin_dir = panechat_e2e::env::panechat_bin()
        .parent()
        .unwrap()
        .display()
        .to_string();
    let mut senv = server_env(&env);
    for (k, v) in home.env() {
        let v = if k == "PATH" {
            format!("{bin_dir}:{v}")
        } else {
            v
        };
        senv.retain(|(x, _)| *x != k);
        senv.push((k, v));
    }
    let mut w = World::start_with(&env, senv, 120, 40);
    w.tmux.ok(&["set-option", "-g", "status-interval", "1"]);
    w.load_plugin();
    w.attach(&env, 120, 40);
    let p0 = w.pane0();
    let last_line = |s: &str| s.lines().last().unwrap_or("").to_string();
    w.tmux.type_line(&p0, "claude");
    let t = Instant::now();
    while !w.tmux.capture(&p0).contains("for shortcuts") {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "Claude Code's prompt never showed:\n{}",
            w.tmux.capture(&p0)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    w.wait_screen_for(
        |s| last_line(s).contains("claude: idle"),
        "the agent idle in the status line",
    );
    let made = env.root.join("work/made-by-claude");
    w.text("make it [[bash:touch made-by-claude]] [[slow:300]]");
    w.tmux.wait_for(&p0, "[[slow:300]]");
    w.keys(&["Enter"]);
    wait_option(&w, &p0, "#{@panechat_agent}", "working");
    w.wait_screen("Do you want to proceed");
    w.wait_screen_for(
        |s| last_line(s).contains("⚑ claude: needs you"),
        "needs you in the status line",
    );
    // The person is elsewhere: window 0 is marked; the next key brings the client back.
    w.tmux.ok(&["new-window", "-t", "t"]);
    wait_until("the client in window 1", || client_pane(&w) != p0);
    w.wait_screen_for(|s| last_line(s).contains("⚑ 0:"), "window 0 marked");
    w.prefix("J");
    wait_until("the client back on Claude Code's pane", || {
        client_pane(&w) == p0
    });
    w.wait_screen("Do you want to proceed");
    assert!(!made.exists(), "not run before the answer");
    // The answer, typed on the client (the default choice): working, then done.
    w.keys(&["Enter"]);
    wait_option(&w, &p0, "#{@panechat_agent}", "working");
    wait_until("the tool ran", || made.exists());
    let s = w.wait_screen_for(
        |s| last_line(s).contains("✓ claude: done"),
        "done in the status line",
    );
    assert!(!last_line(&s).contains("⚑ 0:"), "{s}");
    // Looked at again after a while elsewhere: idle.
    w.tmux.ok(&["select-window", "-t", "t:1"]);
    wait_until("the client in window 1", || client_pane(&w) != p0);
    wait_option(&w, &p0, "#{@panechat_agent}", "done");
    w.tmux.ok(&["select-window", "-t", "t:0"]);
    wait_option(&w, &p0, "#{@panechat_agent}", "idle");
    w.wait_screen_for(
        |s| last_line(s).contains("claude: idle"),
        "idle in the status line",
    );
}

/// The picker lists a pane known only by its agent while the pane is there: once it is closed
/// (its multiplexer still running), its row is gone, though its record stays until
/// `sessions --prune`.
#[test]
fn the_picker_lists_no_agent_of_a_closed_pane() {
    use panechat_vocab::state::AgentState;
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 100, 20);
    w.load_plugin();
    w.attach(&env, 100, 20);
    let p0 = w.pane0();
    let closed = w
        .tmux
        .ok(&["split-window", "-d", "-P", "-F", "#{pane_id}", "-t", &p0])
        .trim()
        .to_string();
    w.set_agent(&env, &p0, &agent(AgentState::NeedsYou, None));
    w.set_agent(&env, &closed, &agent(AgentState::NeedsYou, None));
    wait_option(&w, &closed, "#{@panechat_agent}", "needs-you");
    w.tmux.ok(&["kill-pane", "-t", &closed]);
    w.prefix("P");
    let s = w.wait_screen("⏎ use");
    assert!(s.contains(&format!("pane {p0}")), "{s}");
    assert!(
        !s.contains(&format!("pane {closed}")),
        "the closed pane {closed} is listed:\n{s}"
    );
    w.keys(&["Escape"]);
}

/// An agent event that changes nothing in the pane's agent (Claude Code sends the permission
/// notification after the permission request, a second prompt while it works) runs no tmux:
/// only a change reaches the multiplexer.
#[test]
fn an_agent_event_that_changes_nothing_runs_no_tmux() {
    use panechat_vocab::state::AgentState;
    panechat_e2e::needs!("tmux");
    let (env, _fake) = setup();
    let mut w = World::start(&env, 100, 20);
    w.load_plugin();
    w.attach(&env, 100, 20);
    let p0 = w.pane0();
    let event = env.root.join("pre-tool-use.json");
    std::fs::write(
        &event,
        panechat_e2e::tmux::claude_event(&agent(AgentState::Working, Some("Bash"))),
    )
    .unwrap();
    let line = format!("panechat hook claude < {}", event.display());
    let first = traced_tmux_calls(&w, &env, &p0, &line, "first");
    assert_eq!(first.len(), 1, "{first:#?}");
    wait_option(&w, &p0, "#{@panechat_agent}", "working");
    let again = traced_tmux_calls(&w, &env, &p0, &line, "again");
    assert!(again.is_empty(), "nothing changed, yet: {again:#?}");
    // Another tool is a change.
    std::fs::write(
        &event,
        panechat_e2e::tmux::claude_event(&agent(AgentState::Working, Some("Read"))),
    )
    .unwrap();
    let other = traced_tmux_calls(&w, &env, &p0, &line, "other");
    assert_eq!(other.len(), 1, "{other:#?}");
    wait_option(&w, &p0, "#{@panechat_agent_text}", "claude: running Read");
}
