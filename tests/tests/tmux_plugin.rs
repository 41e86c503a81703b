//! The tmux plugin (`tmux-scripts/`) in real tmux: a private server per test, the plugin loaded
//! the ways users load it, a client attached on a terminal, keys typed on that client, and what
//! the person sees (the client's screen), the panes' options and the store checked.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use panechat_e2e::env::TestEnv;
use panechat_e2e::fake::FakeProvider;
use panechat_e2e::helpers::json;
use panechat_e2e::tmux::{repo_root, server_env, wait_until, World};
use serde_json::Value;

fn setup() -> (TestEnv, FakeProvider) {
    let fake = FakeProvider::start();
    let env = TestEnv::new();
    env.use_openai(&fake.base_url_openai());
    (env, fake)
}

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
    assert!(fork.contains("fork.sh"), "{fork}");
    let pick = key_line(&keys, "C").expect("prefix C bound");
    assert!(pick.contains("pick.sh"), "{pick}");
    // N was the user's: left alone, and the user is told.
    assert_eq!(key_line(&keys, "N"), key_line(&keys_before, "N"));
    assert_eq!(key_line(&keys, "X"), key_line(&keys_before, "X"));
    // Exactly the configured keys are new.
    let before: Vec<&str> = keys_before.lines().collect();
    let added: Vec<&str> = keys.lines().filter(|l| !before.contains(l)).collect();
    assert_eq!(added.len(), 2, "{added:#?}");
    // Hooks untouched, aliases defined once.
    assert_eq!(t.ok(&["show-hooks", "-g"]), hooks_before);
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
    assert!(key_line(&keys, "M-f").is_some_and(|l| l.contains("fork.sh")));
}

#[test]
fn the_status_placeholder_is_filled_where_the_user_put_it() {
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
        w.tmux.ok(&["show-options", "-gv", "status-left"]).trim_end_matches('\n'),
        "[#S] #{E:@panechat-status-format}| "
    );
    assert_eq!(
        w.tmux.ok(&["show-options", "-gv", "status-right"]).trim_end(),
        "R"
    );
    w.tmux.ok(&["set-option", "-g", "@panechat-status", "off"]);
    w.tmux.ok(&["set-option", "-g", "status-right", "R2"]);
    w.load_plugin();
    assert_eq!(
        w.tmux.ok(&["show-options", "-gv", "status-right"]).trim_end(),
        "R2"
    );
}

#[test]
fn without_the_binary_the_keys_say_how_to_get_it() {
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
    let mut w = World::start_with(&env, senv, 100, 30);
    w.load_plugin();
    w.attach(&env, 100, 30);
    w.prefix("F");
    let s = w.wait_screen("binary was not found");
    assert!(s.contains("panechat"), "{s}");
    assert_eq!(w.tmux.panes().len(), 1);
}

#[test]
fn fork_key_splits_into_a_mapped_fork_of_the_panes_conversation() {
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
    let p1 = w
        .tmux
        .panes()
        .into_iter()
        .find(|p| *p != p0)
        .unwrap();
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
    assert_eq!(
        w.tmux.value(&p1, "#{pane_left}") != w.tmux.value(&p0, "#{pane_left}"),
        true
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
    w.tmux
        .ok(&["set-option", "-g", "@panechat-fork-keep", "1"]);
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
    let (env, _fake) = setup();
    let mut w = World::start(&env, 120, 30);
    w.load_plugin();
    w.attach(&env, 120, 30);
    w.prefix("F");
    w.wait_screen("this pane has no conversation yet");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(w.tmux.panes().len(), 1);
}

#[test]
fn fork_opens_in_the_panes_directory_even_with_a_hash_in_its_name() {
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
            "set -g @plugin '{}'\nset -g @panechat-pick-key 'M-p'\nrun '{}'\n",
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
    w.tmux
        .ok(&["source-file", &conf.display().to_string()]);
    wait_until("TPM loaded the plugin", || {
        key_line(&prefix_keys(&w), "M-p").is_some()
    });
    let keys = prefix_keys(&w);
    assert!(key_line(&keys, "F")
        .unwrap()
        .contains(".tmux/plugins/panechat/tmux-scripts/scripts/fork.sh"));
}

#[test]
fn init_tmux_prints_lines_that_load_the_plugin_from_the_binary_alone() {
    let (env, _fake) = setup();
    let conf = env.root.join("home/.tmux.conf");
    let text = env.run(["init", "tmux"]).ok().stdout;
    std::fs::write(&conf, &text).unwrap();
    // No clone anywhere: only the binary (and its data directory).
    let w = World::start(&env, 100, 30);
    w.tmux
        .ok(&["source-file", &conf.display().to_string()]);
    wait_until("keys bound", || key_line(&prefix_keys(&w), "F").is_some());
    let keys = prefix_keys(&w);
    assert!(key_line(&keys, "C").unwrap().contains("pick.sh"));
    assert!(!keys.contains(&repo_root().display().to_string()));
    assert!(w
        .tmux
        .ok(&["show-options", "-gv", "status-right"])
        .contains("@panechat-status-format"));
}
