//! Pane names in a real headless Zellij 0.45.1 with panechat's plugin: whose name a pane
//! shows (the user's, the plugin's, none), what the picker shows and accepts, and where
//! `panechat init zellij` looks for the plugin. Assertions read what a user sees:
//! `zellij action list-panes --json`, `dump-screen`, `panechat sessions`, `doctor`.

use std::time::Duration;

use panechat_e2e::env::TestEnv;
use panechat_e2e::fake::FakeProvider;
use panechat_e2e::zellij::{is_pane_key, Opts, Zellij};
use serde_json::Value;

fn setup() -> (TestEnv, FakeProvider) {
    let fake = FakeProvider::start();
    let env = TestEnv::new();
    env.use_openai(&fake.base_url_openai());
    (env, fake)
}

#[test]
fn init_zellij_looks_for_the_plugin_under_zellij_config_dir() {
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
