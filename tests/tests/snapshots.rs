//! Whole documents and screens compared with their saved snapshots (`tests/snapshots/`): the
//! help, what `panechat init` prints for each tool, and `doctor` on a new store.

use panechat_e2e::env::{panechat_bin, TestEnv};
use panechat_e2e::snapshot::assert_snapshot;

/// `text` with this machine's paths written as placeholders.
fn portable(env: &TestEnv, text: &str) -> String {
    text.replace(&panechat_bin().display().to_string(), "PANECHAT")
        .replace(&env.root.display().to_string(), "ROOT")
}

#[test]
fn help() {
    let env = TestEnv::new();
    let out = env.run(["--help"]).ok().stdout;
    assert_snapshot("help", &portable(&env, &out));
}

#[test]
fn init_for_each_tool() {
    let env = TestEnv::new();
    for (name, args) in [
        ("init-tmux", vec!["init", "tmux"]),
        (
            "init-zellij",
            vec!["init", "zellij", "--plugin", "file:/plugins/panechat.wasm"],
        ),
        ("init-bash", vec!["init", "bash"]),
        ("init-zsh", vec!["init", "zsh"]),
        ("init-fish", vec!["init", "fish"]),
        ("init-wezterm", vec!["init", "wezterm"]),
        ("init-claude", vec!["init", "claude"]),
        ("init-codex", vec!["init", "codex"]),
    ] {
        let out = env.run(args).ok().stdout;
        assert_snapshot(name, &portable(&env, &out));
    }
}

#[test]
fn doctor_on_a_new_store() {
    let env = TestEnv::new();
    env.run(["ls"]).ok();
    let out = env.run(["doctor"]).ok().stdout;
    assert_snapshot("doctor-new-store", &portable(&env, &out));
}
