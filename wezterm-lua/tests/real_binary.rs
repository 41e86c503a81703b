//! The plugin's keys against the real `panechat` binary, run as WezTerm's GUI runs it: with
//! `WEZTERM_UNIX_SOCKET` set and no pane of its own.

use std::path::PathBuf;
use std::process::Output;

use panechat_e2e::env::{panechat_bin, TestEnv};
use panechat_e2e::helpers::{json, setup};
use panechat_wezterm_tests::{visible, Harness, Runner};
use serde_json::Value;

fn sock(env: &TestEnv) -> PathBuf {
    env.root.join("wezterm-sock")
}

/// Runs panechat in WezTerm pane `n`.
fn in_pane(env: &TestEnv, n: &str, args: &[&str]) -> Output {
    let o = env
        .cmd(args)
        .env_remove("PANECHAT_SESSION")
        .env("WEZTERM_PANE", n)
        .env("WEZTERM_UNIX_SOCKET", sock(env))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?} in pane {n}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn pane_state(env: &TestEnv, n: &str) -> Value {
    json(&String::from_utf8_lossy(
        &in_pane(env, n, &["status", "--format", "json"]).stdout,
    ))
}

fn gui_env(env: &TestEnv) -> Vec<(String, String)> {
    let mut e: Vec<(String, String)> = env
        .env
        .clone()
        .into_iter()
        .filter(|(k, _)| k != "PANECHAT_SESSION")
        .collect();
    e.push((
        "WEZTERM_UNIX_SOCKET".into(),
        sock(env).to_string_lossy().into(),
    ));
    e
}

fn choose(h: &Harness, id: &str) {
    h.lua.globals().set("choice", id).unwrap();
    h.eval::<()>("require('wezterm').__answer(win, choice)")
        .unwrap();
}

fn press(h: &Harness, key: &str) {
    h.eval::<()>(&format!(
        "for _, k in ipairs(config.keys) do
           if k.key == '{key}' then win:perform_action(k.action, pane) end
         end"
    ))
    .unwrap();
}

#[test]
fn picker_and_fork_key_with_the_real_binary() {
    let (env, _fake) = setup();
    in_pane(&env, "7", &["q", "lifetimes? [[title:Rust lifetimes]]"]);
    in_pane(
        &env,
        "8",
        &["q", "--new", "x [[title:evil\u{1b}]0;x\u{7} #(touch M1)]]"],
    );
    let rust = pane_state(&env, "7")["conversation"]
        .as_str()
        .unwrap()
        .to_string();

    let h = Harness::new(Runner::Real { env: gui_env(&env) }).unwrap();
    h.plugin_require("https://github.com/panechat/panechat")
        .unwrap();
    h.lua
        .globals()
        .set("bin", panechat_bin().to_string_lossy().as_ref())
        .unwrap();
    h.eval::<()>(
        "local wezterm = require 'wezterm'
         config = wezterm.config_builder()
         panechat.apply_to_config(config, { panechat = bin })
         win = wezterm.__new_window()
         pane = wezterm.__new_pane { id = 3, window = win }
         wezterm.__new_pane { id = 7, window = win }",
    )
    .unwrap();

    // The picker's rows come from `panechat ls --json`.
    press(&h, "O");
    let rows: Vec<(String, String)> = h
        .eval::<mlua::Table>(
            "local a = require('wezterm').__rec.actions return a[#a].action.InputSelector.choices",
        )
        .unwrap()
        .sequence_values::<mlua::Table>()
        .map(|c| {
            let c = c.unwrap();
            (c.get("id").unwrap(), c.get("label").unwrap())
        })
        .collect();
    let row = rows
        .iter()
        .find(|r| r.0 == format!("use:{rust}"))
        .expect("the conversation is listed");
    // Title, short id, turns, age, panes, in columns.
    assert!(row.1.starts_with("  Rust lifetimes "), "{}", row.1);
    assert!(
        row.1.contains(&format!("  {}", &rust[..8])) && row.1.contains("  1 turn  "),
        "{}",
        row.1
    );
    assert!(row.1.ends_with("pane 7"), "{}", row.1);
    assert!(rows.iter().any(|r| r.0 == "jump:7"));
    assert!(rows.iter().all(|r| !r.1.chars().any(char::is_control)));
    assert!(rows.iter().any(|r| r.1.contains("#(touch M1)")));
    assert!(!env.root.join("work/M1").exists());

    // Use: pane 3 now has it, and its bar shows it at once.
    choose(&h, &format!("use:{rust}"));
    assert_eq!(pane_state(&env, "3")["conversation"], rust.as_str());
    h.eval::<()>("require('wezterm').emit('update-status', win, pane)")
        .unwrap();
    let right: String = h.eval("return win.__right").unwrap();
    assert_eq!(visible(&right), "panechat Rust lifetimes ");

    // The fork key: the split runs `panechat fork ID --exec-shell`; run it as the new pane
    // (pane 9) would, with a shell that exits at once.
    press(&h, "Y");
    let (new_pane, argv): (i64, Vec<String>) = {
        let s: mlua::Table = h
            .eval("local s = require('wezterm').__rec.splits return s[#s]")
            .unwrap();
        let args: mlua::Table = s.get("args").unwrap();
        (
            s.get("pane").unwrap(),
            args.sequence_values::<String>()
                .map(Result::unwrap)
                .collect(),
        )
    };
    assert_eq!(argv[1..], ["fork", rust.as_str(), "--exec-shell"]);
    let n = new_pane.to_string();
    let o = env
        .cmd(&argv[1..])
        .env_remove("PANECHAT_SESSION")
        .env("WEZTERM_PANE", &n)
        .env("WEZTERM_UNIX_SOCKET", sock(&env))
        .env("SHELL", "/bin/true")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let forked = pane_state(&env, &n);
    let fork_id = forked["conversation"].as_str().unwrap();
    assert_ne!(fork_id, rust);
    let shown = json(&String::from_utf8_lossy(
        &in_pane(&env, &n, &["show", "--json"]).stdout,
    ));
    assert_eq!(shown["parent"]["id"], rust.as_str());

    // New (back in pane 3): its next question starts afresh; the bar empties.
    h.eval::<()>("pane:activate()").unwrap();
    press(&h, "O");
    choose(&h, "new");
    assert_eq!(pane_state(&env, "3")["conversation"], Value::Null);
    h.eval::<()>("require('wezterm').emit('update-status', win, pane)")
        .unwrap();
    let right: String = h.eval("return win.__right").unwrap();
    assert_eq!(right, "");
}

/// Runs a wezterm.lua made of `panechat init wezterm` output, as WezTerm evaluates its config.
fn run_config(h: &Harness, snippet: &str) -> mlua::Table {
    let code = format!(
        "local wezterm = require 'wezterm'\nlocal config = wezterm.config_builder()\n{snippet}\nreturn config\n"
    );
    h.lua.load(&code).set_name("@wezterm.lua").eval().unwrap()
}

#[test]
fn init_prints_two_lines_that_load_the_plugin() {
    let env = TestEnv::new();
    let out = env.run(["init", "wezterm"]).ok().stdout;
    let code: Vec<&str> = out
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("--"))
        .collect();
    assert_eq!(code.len(), 2, "{out}");
    assert!(
        code[0].contains("wezterm.plugin.require 'https://github.com/panechat/panechat'"),
        "{out}"
    );
    let h = Harness::new(Runner::Real { env: vec![] }).unwrap();
    let config = run_config(&h, &out);
    let keys: mlua::Table = config.get("keys").unwrap();
    assert_eq!(keys.raw_len(), 4);
    assert_eq!(fork_argv0(&h, &config), panechat_bin().to_string_lossy());

    // Offline: the binary writes the plugin it carries, loaded with dofile.
    let file = env.root.join("wezterm cfg/it's panechat.lua");
    let out = env
        .run(["init", "wezterm", "--plugin", file.to_str().unwrap()])
        .ok()
        .stdout;
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        std::fs::read_to_string(
            panechat_wezterm_tests::repo_root().join("wezterm-lua/plugin/init.lua")
        )
        .unwrap()
    );
    assert!(out.contains("dofile('"), "{out}");
    let h = Harness::new(Runner::Real { env: vec![] }).unwrap();
    let config = run_config(&h, &out);
    let keys: mlua::Table = config.get("keys").unwrap();
    assert_eq!(keys.raw_len(), 4);
    let n: i64 = h
        .eval("return #require('wezterm').__rec.handlers['update-status']")
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(fork_argv0(&h, &config), panechat_bin().to_string_lossy());
}

/// The program the fork key would run (so: the binary path the config passed).
fn fork_argv0(h: &Harness, config: &mlua::Table) -> String {
    h.lua.globals().set("config", config).unwrap();
    h.eval(
        "local wezterm = require 'wezterm'
         local w = wezterm.__new_window()
         local p = wezterm.__new_pane { window = w }
         p:__set_var('panechat_id', '01abc')
         w:perform_action(config.keys[1].action, p)
         local s = wezterm.__rec.splits
         return s[#s].args[1]",
    )
    .unwrap()
}

/// A `wezterm` stand-in in `dir`: `wezterm cli list --format json` prints `dir/list.json`.
fn fake_wezterm(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let script = format!(
        "#!/bin/sh\ncase \"$*\" in\n  'cli list --format json') cat '{}' ;;\n  *) echo \"wezterm stand-in: unexpected $*\" >&2; exit 2 ;;\nesac\n",
        dir.join("list.json").display()
    );
    let bin = dir.join("wezterm");
    std::fs::write(&bin, script).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn closed_panes_leave_the_picker_and_sessions() {
    let (env, _fake) = setup();
    // The WezTerm instance is running (its socket is there); panes 7 and 8 have conversations.
    std::fs::write(sock(&env), "").unwrap();
    in_pane(&env, "7", &["q", "lifetimes? [[title:Rust lifetimes]]"]);
    in_pane(&env, "8", &["q", "--new", "x [[title:Other tab]]"]);
    let rust = pane_state(&env, "7")["conversation"]
        .as_str()
        .unwrap()
        .to_string();
    let fakebin = env.root.join("fakebin");
    fake_wezterm(&fakebin);
    let path = format!("{}:{}", fakebin.display(), env.env["PATH"]);
    let mut gui = gui_env(&env);
    gui.retain(|(k, _)| k != "PATH");
    gui.push(("PATH".into(), path.clone()));

    let h = Harness::new(Runner::Real { env: gui }).unwrap();
    h.plugin_require("https://github.com/panechat/panechat")
        .unwrap();
    h.lua
        .globals()
        .set("bin", panechat_bin().to_string_lossy().as_ref())
        .unwrap();
    // `wezterm cli kill-pane --pane-id 7`: the pane leaves WezTerm's mux.
    let list: String = h
        .eval(
            "local wezterm = require 'wezterm'
             config = wezterm.config_builder()
             panechat.apply_to_config(config, { panechat = bin })
             win = wezterm.__new_window()
             pane = wezterm.__new_pane { id = 3, window = win }
             wezterm.__new_pane { id = 7, window = win }
             wezterm.__new_pane { id = 8, tab = wezterm.__new_tab(win) }
             wezterm.__kill_pane(7)
             assert(not pcall(wezterm.mux.get_pane, 7))
             return wezterm.__cli_list()",
        )
        .unwrap();
    std::fs::write(fakebin.join("list.json"), list).unwrap();

    // The picker neither names pane 7 nor offers to jump there; pane 8 is still offered.
    h.eval::<()>(
        "local k = panechat.opts.picker_key
         for _, b in ipairs(config.keys) do
           if b.key == k.key and b.mods == k.mods then win:perform_action(b.action, win:active_pane()) end
         end",
    )
    .unwrap();
    let rows: Vec<(String, String)> = h
        .eval::<mlua::Table>("return require('wezterm').__overlay(win).args.choices")
        .unwrap()
        .sequence_values::<mlua::Table>()
        .map(|c| {
            let c = c.unwrap();
            (c.get("id").unwrap(), c.get("label").unwrap())
        })
        .collect();
    let row = rows
        .iter()
        .find(|r| r.0 == format!("use:{rust}"))
        .expect("the conversation is kept");
    assert!(!row.1.contains("pane 7"), "{rows:?}");
    assert!(!rows.iter().any(|r| r.0 == "jump:7"), "{rows:?}");
    assert!(rows.iter().any(|r| r.0 == "jump:8"), "{rows:?}");

    // `panechat sessions` no longer maps pane 7 (WezTerm's list says it is gone).
    let o = env
        .cmd(["sessions", "--json"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sessions = json(&String::from_utf8_lossy(&o.stdout));
    let panes: Vec<&str> = sessions
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["multiplexer"] == "wezterm")
        .map(|s| s["pane"].as_str().unwrap())
        .collect();
    assert_eq!(panes, ["8"], "{sessions}");
    // Its conversation stays.
    let ls = json(&String::from_utf8_lossy(
        &env.cmd(["ls", "--json"]).output().unwrap().stdout,
    ));
    assert!(ls
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == rust.as_str()));
}

#[test]
fn the_picker_finds_conversations_by_what_was_said_with_the_real_binary() {
    let (env, _fake) = setup();
    in_pane(
        &env,
        "7",
        &["q", "how do lifetimes elide? [[title:Rust notes]]"],
    );
    in_pane(
        &env,
        "8",
        &["q", "--new", "tabs or spaces? [[title:Style]]"],
    );
    let rust = pane_state(&env, "7")["conversation"]
        .as_str()
        .unwrap()
        .to_string();
    let h = Harness::new(Runner::Real { env: gui_env(&env) }).unwrap();
    h.plugin_require("https://github.com/panechat/panechat")
        .unwrap();
    h.lua
        .globals()
        .set("bin", panechat_bin().to_string_lossy().as_ref())
        .unwrap();
    h.eval::<()>(
        "local wezterm = require 'wezterm'
         config = wezterm.config_builder()
         panechat.apply_to_config(config, { panechat = bin })
         win = wezterm.__new_window()
         pane = wezterm.__new_pane { id = 3, window = win }",
    )
    .unwrap();
    press(&h, "O");
    choose(&h, "search");
    // Words said in a message, in no title.
    choose(&h, "Lifetimes ELIDE");
    let rows: Vec<(String, String)> = h
        .eval::<mlua::Table>("return require('wezterm').__overlay(win).args.choices")
        .unwrap()
        .sequence_values::<mlua::Table>()
        .map(|c| {
            let c = c.unwrap();
            (c.get("id").unwrap(), c.get("label").unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, format!("use:{rust}"));
    assert!(
        rows[0].1.starts_with("Rust notes") && rows[0].1.contains("you: how do lifetimes elide?"),
        "{rows:?}"
    );
    choose(&h, &format!("use:{rust}"));
    assert_eq!(pane_state(&env, "3")["conversation"], rust.as_str());
}

fn toasts(h: &Harness) -> Vec<String> {
    h.eval::<mlua::Table>("return require('wezterm').__rec.toasts")
        .unwrap()
        .sequence_values::<mlua::Table>()
        .map(|t| t.unwrap().get::<String>("message").unwrap())
        .collect()
}

/// The picker asks panechat once whether this plugin file is the one it carries: the carried
/// plugin opens quietly; a file of another build (an upgrade of one of them) says so, with what
/// to do, and the picker still opens.
#[test]
fn a_plugin_file_of_another_build_says_so_when_the_picker_opens() {
    let (env, _fake) = setup();
    in_pane(&env, "7", &["q", "hello [[title:Built]]"]);
    let dir = env.root.join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let carried = dir.join("carried.lua");
    let out = std::process::Command::new(panechat_bin())
        .args(["init", "wezterm", "--plugin"])
        .arg(&carried)
        .envs(gui_env(&env))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let source = std::fs::read_to_string(&carried).unwrap();
    let other = dir.join("other.lua");
    let at = source.find("local BUILD = '").unwrap() + "local BUILD = '".len();
    std::fs::write(
        &other,
        format!("{}0000000000000001{}", &source[..at], &source[at + 16..]),
    )
    .unwrap();
    for (file, says) in [(&carried, false), (&other, true)] {
        let h = Harness::new(Runner::Real { env: gui_env(&env) }).unwrap();
        h.dofile(file).unwrap();
        h.lua
            .globals()
            .set("bin", panechat_bin().to_string_lossy().as_ref())
            .unwrap();
        h.eval::<()>(
            "local wezterm = require 'wezterm'
             config = wezterm.config_builder()
             panechat.apply_to_config(config, { panechat = bin })
             win = wezterm.__new_window()
             pane = wezterm.__new_pane { id = 3, window = win }",
        )
        .unwrap();
        press(&h, "O");
        press(&h, "O");
        let t = toasts(&h);
        let picker_shown: usize = h
            .eval("local n = 0 for _, a in ipairs(require('wezterm').__rec.actions) do if a.action.InputSelector then n = n + 1 end end return n")
            .unwrap();
        assert_eq!(picker_shown, 2, "the picker opens each time: {t:?}");
        if says {
            assert_eq!(t.len(), 1, "said once: {t:?}");
            assert!(
                t[0].contains("build 0000000000000001")
                    && t[0].contains("not the one this panechat carries")
                    && t[0].contains("panechat init wezterm --plugin"),
                "{t:?}"
            );
        } else {
            assert!(t.is_empty(), "{t:?}");
        }
    }
}
