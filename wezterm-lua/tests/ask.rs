//! The ask key: `PromptInputLine` over the active pane, then a split next to it running
//! `panechat q --session pane:N --pane --hold -- QUESTION` (argv, no shell) in the pane's
//! working directory. First against the recording stub, then end to end: the split's argv run
//! for real with the `panechat` binary against the fake provider, the pane's text captured
//! through `wezterm cli get-text` (a stand-in printing output recorded from WezTerm, since
//! there is no WezTerm binary here).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use panechat_e2e::env::panechat_bin;
use panechat_e2e::helpers::{json, setup};
use panechat_e2e::pty::Pty;
use panechat_wezterm_tests::{repo_root, visible, Harness, Runner};

const URL: &str = "https://github.com/panechat/panechat";

/// A question a shell would run, expand or cut short.
const HOSTILE: &str = "$(touch X); rm -rf ~ #{x} `touch Y` 'a\"b' --help";

fn no_children() -> Runner {
    Runner::Canned(Arc::new(|argv| panic!("unexpected child process {argv:?}")))
}

/// The plugin loaded by URL into a config that has a key of its own; window `win` with its
/// active pane 3 (`pane`), whose shell reported `cwd` (OSC 7), if any.
fn loaded(runner: Runner, opts: &str, cwd: Option<&str>) -> Harness {
    let h = Harness::new(runner).unwrap();
    h.plugin_require(URL).unwrap();
    h.lua.globals().set("cwd", cwd).unwrap();
    h.eval::<()>(&format!(
        "local wezterm = require 'wezterm'
         config = wezterm.config_builder()
         config.keys = {{ {{ key = 'x', mods = 'ALT', action = wezterm.action.Nop }} }}
         panechat.apply_to_config(config, {opts})
         win = wezterm.__new_window()
         pane = wezterm.__new_pane {{ id = 3, window = win, cwd = cwd }}"
    ))
    .unwrap();
    h
}

/// Presses the key bound to `key` with `mods` in the active pane, as WezTerm does.
fn press(h: &Harness, key: &str, mods: &str) -> bool {
    h.eval(&format!(
        "for _, k in ipairs(config.keys) do
           if k.key == '{key}' and k.mods == '{mods}' then
             win:perform_action(k.action, win:active_pane())
             return true
           end
         end
         return false"
    ))
    .unwrap()
}

/// The `PromptInputLine` window `win` shows (its description, callback event, and the pane it
/// opened over).
fn prompt(h: &Harness) -> (String, String, i64) {
    h.eval(
        "local o = require('wezterm').__overlay(win)
         assert(o and o.kind == 'PromptInputLine', 'the window shows no PromptInputLine')
         return o.args.description, o.args.action.EmitEvent, o.over",
    )
    .unwrap()
}

/// Types `line` into the open prompt and presses Enter (`None`: Esc).
fn answer(h: &Harness, line: Option<&str>) {
    prompt(h);
    h.lua.globals().set("line", line).unwrap();
    h.eval::<()>("require('wezterm').__answer(win, line)")
        .unwrap();
}

/// The splits made so far: (argv, cwd, direction, size, from).
type Split = (Vec<String>, Option<String>, String, f64, i64);

fn splits(h: &Harness) -> Vec<Split> {
    h.eval::<mlua::Table>("return require('wezterm').__rec.splits")
        .unwrap()
        .sequence_values::<mlua::Table>()
        .map(|s| {
            let s = s.unwrap();
            let args: mlua::Table = s.get("args").unwrap();
            (
                args.sequence_values::<String>()
                    .map(Result::unwrap)
                    .collect(),
                s.get("cwd").unwrap(),
                s.get("direction").unwrap(),
                s.get("size").unwrap(),
                s.get("from").unwrap(),
            )
        })
        .collect()
}

fn ask_argv(bin: &str, pane: &str, question: &str) -> Vec<String> {
    [
        bin,
        "q",
        "--session",
        &format!("pane:{pane}"),
        "--pane",
        "--hold",
        "--",
        question,
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn the_default_ask_key_opens_a_prompt_about_the_active_pane() {
    let h = loaded(no_children(), "{}", None);
    let (key, mods): (String, String) = h
        .eval("return panechat.defaults.ask_key.key, panechat.defaults.ask_key.mods")
        .unwrap();
    assert_eq!((key.as_str(), mods.as_str()), ("A", "CTRL|SHIFT"));
    // (That it shadows none of WezTerm's own keys: tests/keys.rs.)
    assert!(press(&h, "A", "CTRL|SHIFT"), "the ask key is bound");
    let (desc, event, over) = prompt(&h);
    assert_eq!(over, 3, "the prompt opens over the active pane");
    assert!(event.starts_with("user-defined-"), "{event}");
    assert_eq!(
        desc,
        "panechat: ask about pane 3 (its screen is attached)   Enter: ask   Esc: cancel"
    );
    // Nothing runs until a question is entered, and the status bar is untouched.
    assert!(splits(&h).is_empty());
    assert_eq!(h.children(), 0);
}

#[test]
fn the_prompt_names_the_conversation_it_continues_as_plain_text() {
    let h = loaded(no_children(), "{}", None);
    h.eval::<()>(
        r"pane:__set_var('panechat_id', '01m7yd5d6e4q2r8kzz')
          pane:__set_var('panechat_title', 'Build\27[2J\27]0;pwn\7 fails')",
    )
    .unwrap();
    press(&h, "A", "CTRL|SHIFT");
    let (desc, _, _) = prompt(&h);
    assert_eq!(
        desc,
        "panechat: ask about pane 3 (its screen is attached, continuing \"Build[2J]0;pwn fails\")   Enter: ask   Esc: cancel"
    );
    assert!(!desc.chars().any(char::is_control), "{desc:?}");
}

#[test]
fn a_question_opens_a_split_running_panechat_q_with_the_question_as_one_argument() {
    let h = loaded(
        no_children(),
        "{}",
        Some("file://stubhost/home/user/my%20project"),
    );
    press(&h, "A", "CTRL|SHIFT");
    answer(&h, Some(HOSTILE));
    let s = splits(&h);
    assert_eq!(s.len(), 1, "{s:?}");
    let (argv, cwd, direction, size, from) = &s[0];
    assert_eq!(argv, &ask_argv("panechat", "3", HOSTILE));
    assert_eq!(cwd.as_deref(), Some("/home/user/my project"));
    assert_eq!((direction.as_str(), *size, *from), ("Bottom", 0.5, 3));
    // The split has the focus, so its "press any key" gets the key.
    let active: i64 = h.eval("return win:active_pane():pane_id()").unwrap();
    assert_ne!(active, 3);
    // The split runs the argv: the plugin itself started nothing.
    assert_eq!(h.children(), 0);
    let asked: String = h
        .eval("return require('wezterm').__rec.splits[1].args[8]")
        .unwrap();
    assert_eq!(asked, HOSTILE);
}

#[test]
fn while_the_split_answers_the_bar_shows_the_run_of_the_pane_it_asks_about() {
    let h = loaded(no_children(), "{}", None);
    h.eval::<()>(
        "pane:__set_var('panechat_id', '01m7yd5d6e4q2r8kzz')
         pane:__set_var('panechat_title', 'Demo build')
         pane:__set_var('panechat_state', 'idle')",
    )
    .unwrap();
    press(&h, "A", "CTRL|SHIFT");
    answer(&h, Some("why?"));
    let status = |h: &Harness| -> (i64, String) {
        let (active, right): (i64, String) = h
            .eval(
                "local p = win:active_pane()
                 require('wezterm').emit('update-status', win, p)
                 return p:pane_id(), win.__right",
            )
            .unwrap();
        (active, visible(&right))
    };
    // The split has the focus; its query (`--session pane:3`) publishes to pane 3.
    h.eval::<()>("pane:__set_var('panechat_state', 'streaming')")
        .unwrap();
    let (active, shown) = status(&h);
    assert_ne!(active, 3, "the split is the active pane");
    assert_eq!(shown, "panechat Demo build ● ");
    h.eval::<()>("pane:__set_var('panechat_state', 'idle')")
        .unwrap();
    assert_eq!(status(&h).1, "panechat Demo build ");
    // Any other pane without a conversation shows nothing.
    h.eval::<()>("require('wezterm').__new_pane { window = win }:activate()")
        .unwrap();
    assert_eq!(status(&h).1, "");
    assert_eq!(h.children(), 0);
}

#[test]
fn esc_or_an_empty_line_opens_nothing() {
    let h = loaded(no_children(), "{}", Some("file://stubhost/tmp"));
    for line in [None, Some(""), Some("   "), Some("\t")] {
        press(&h, "A", "CTRL|SHIFT");
        answer(&h, line);
    }
    assert!(splits(&h).is_empty(), "{:?}", splits(&h));
    assert_eq!(h.children(), 0);
    // The same callback serves every press.
    let n: i64 = h.eval("return require('wezterm').__rec.callbacks").unwrap();
    assert_eq!(n, 5, "one callback per key plus the prompt's");
}

#[test]
fn the_key_direction_size_and_binary_are_options() {
    let h = loaded(
        no_children(),
        "{ panechat = '/opt/panechat/bin/panechat', ask_key = { key = 'q', mods = 'ALT' },
           ask_direction = 'Right', ask_size = { Cells = 80 } }",
        None,
    );
    assert!(
        !press(&h, "A", "CTRL|SHIFT"),
        "the default key was replaced"
    );
    assert!(press(&h, "q", "ALT"));
    answer(&h, Some("why?"));
    let s = splits(&h);
    assert_eq!(s[0].0, ask_argv("/opt/panechat/bin/panechat", "3", "why?"));
    assert_eq!(
        (s[0].1.as_deref(), s[0].2.as_str(), s[0].3),
        (None, "Right", 80.0)
    );

    let h = loaded(no_children(), "{ ask_key = false }", None);
    let n: i64 = h.eval("return #config.keys").unwrap();
    assert_eq!(n, 4, "the user's key, fork, picker and next");
    // The function stays available for a key of the user's own.
    h.eval::<()>("panechat.ask(win, pane)").unwrap();
    answer(&h, Some("and now?"));
    assert_eq!(splits(&h)[0].0, ask_argv("panechat", "3", "and now?"));
}

#[test]
fn the_working_directory_comes_from_url_objects_and_older_uri_strings() {
    let h = loaded(no_children(), "{}", None);
    let cwd = |h: &Harness, setup: &str| -> Option<String> {
        h.eval::<()>(setup).unwrap();
        h.eval("return panechat.cwd_of(pane)").unwrap()
    };
    // Unknown: no cwd (WezTerm then follows default_cwd).
    assert_eq!(cwd(&h, "pane.__cwd = nil"), None);
    // A Url object (WezTerm 20240127 and later).
    assert_eq!(
        cwd(&h, "pane.__cwd = 'file://stubhost/srv/a%23b%20c'"),
        Some("/srv/a#b c".into())
    );
    assert_eq!(
        cwd(&h, "pane.__cwd = 'file:///srv/x'"),
        Some("/srv/x".into())
    );
    // A shell on another machine (ssh) reports its own directories: not here.
    assert_eq!(cwd(&h, "pane.__cwd = 'file://build-server/srv/x'"), None);
    assert_eq!(cwd(&h, "pane.__cwd = 'https://example.com/x'"), None);
    // A URI string (before 20240127).
    assert_eq!(
        cwd(
            &h,
            "function pane:get_current_working_dir() return 'file://localhost/home/me/x%20y' end"
        ),
        Some("/home/me/x y".into())
    );
    assert_eq!(
        cwd(
            &h,
            "function pane:get_current_working_dir() return 'file://elsewhere/home/me' end"
        ),
        None
    );
    assert_eq!(
        cwd(
            &h,
            "function pane:get_current_working_dir() error('mux pane is gone') end"
        ),
        None
    );
}

// End to end ----------------------------------------------------------------------------------

/// `wezterm cli get-text` output recorded from WezTerm (plain text, rows padded with blanks),
/// for a pane whose build just failed.
const RECORDED_GET_TEXT: &str = "$ cargo build                                                    \n   Compiling demo v0.1.0 (/home/me/demo)                         \nerror[E0425]: cannot find value `count` in this scope\n --> src/main.rs:3:20\nOPENAI_API_KEY=sk-proj-Zq3vX9aB7cD1eF5gH2iJ4kL6mN8oP0qR\n$                                                                \n\n\n";

/// A `wezterm` stand-in: logs each argv (one line, then the working directory) and prints the
/// recorded text for `cli get-text --pane-id 3`.
fn fake_wezterm(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("get-text.txt"), RECORDED_GET_TEXT).unwrap();
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{log}'\ncase \"$1 $2 $3 $4\" in\n  'cli get-text --pane-id 3') cat '{text}' ;;\n  *) echo \"wezterm stand-in: unexpected $*\" >&2; exit 2 ;;\nesac\n",
        log = dir.join("calls.log").display(),
        text = dir.join("get-text.txt").display(),
    );
    let bin = dir.join("wezterm");
    std::fs::write(&bin, script).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_split_answers_about_the_pane_screen_and_continues_its_conversation() {
    let (env, fake) = setup();
    let fakebin = env.root.join("fakebin");
    fake_wezterm(&fakebin);
    let sock = env.root.join("wezterm-sock");
    let path = format!("{}:{}", fakebin.display(), env.env["PATH"]);
    // WezTerm's GUI runs the split's command with WEZTERM_UNIX_SOCKET, WEZTERM_PANE of the
    // new pane, and the user's PATH.
    let mut gui: Vec<(String, String)> = env
        .env
        .iter()
        .filter(|(k, _)| k.as_str() != "PANECHAT_SESSION" && k.as_str() != "PATH")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    gui.push(("WEZTERM_UNIX_SOCKET".into(), sock.display().to_string()));
    gui.push(("PATH".into(), path));
    let in_pane = |n: &str, args: &[&str]| {
        let o = env
            .cmd(args)
            .env_clear()
            .envs(gui.iter().cloned())
            .env("WEZTERM_PANE", n)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?} in pane {n}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // Pane 3 already has a conversation.
    in_pane("3", &["q", "first question [[title:Demo build]]"]);
    let before = json(&in_pane("3", &["status", "--format", "json"]));
    let conversation = before["conversation"].as_str().unwrap().to_string();
    let work = env.root.join("work/my project");
    std::fs::create_dir_all(&work).unwrap();

    // The key, the prompt, the question.
    let h = Harness::new(Runner::Real { env: gui.clone() }).unwrap();
    h.plugin_require(URL).unwrap();
    h.lua
        .globals()
        .set("bin", panechat_bin().to_string_lossy().as_ref())
        .unwrap();
    h.lua
        .globals()
        .set(
            "cwd",
            format!(
                "file://stubhost{}",
                work.display().to_string().replace(' ', "%20")
            ),
        )
        .unwrap();
    h.eval::<()>(
        "local wezterm = require 'wezterm'
         config = wezterm.config_builder()
         panechat.apply_to_config(config, { panechat = bin })
         win = wezterm.__new_window()
         pane = wezterm.__new_pane { id = 3, window = win, cwd = cwd }",
    )
    .unwrap();
    h.lua.globals().set("conv", conversation.as_str()).unwrap();
    h.eval::<()>(
        "pane:__set_var('panechat_id', conv) pane:__set_var('panechat_title', 'Demo build')",
    )
    .unwrap();
    assert!(press(&h, "A", "CTRL|SHIFT"));
    assert!(prompt(&h).0.contains("continuing \"Demo build\""));
    answer(&h, Some(HOSTILE));
    let s = splits(&h);
    assert_eq!(s.len(), 1);
    let (argv, cwd, _, _, _) = &s[0];
    assert_eq!(
        argv,
        &ask_argv(&panechat_bin().to_string_lossy(), "3", HOSTILE)
    );
    let new_pane: i64 = h.eval("return win:active_pane():pane_id()").unwrap();
    assert_eq!(h.children(), 0, "the plugin ran nothing itself");

    // The split's command, run as WezTerm runs it: on a terminal, in the pane's directory.
    let mut cmd = std::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(gui.iter().cloned())
        .env("WEZTERM_PANE", new_pane.to_string())
        .current_dir(cwd.as_deref().expect("the split has the pane's cwd"));
    let mut pty = Pty::spawn(cmd);
    let t = std::time::Instant::now();
    while !pty.text().contains("press any key to close") {
        if let Some(st) = pty.child.try_wait().unwrap() {
            panic!(
                "the split's command ended ({st}) without holding:\n{}",
                pty.text()
            );
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no \"press any key to close\":\n{}",
            pty.text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = pty.text();
    assert!(text.contains("pane wezterm 3"), "{text}");
    // docs/wezterm.md shows the split's first and last lines as the real binary draws them.
    let rows: Vec<String> = pty
        .rows()
        .into_iter()
        .map(|r| r.trim_end().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    let doc = std::fs::read_to_string(repo_root().join("docs/wezterm.md")).unwrap();
    let marker =
        "<!-- ask-split: first and last lines checked by wezterm-lua/tests/ask.rs -->\n```text\n";
    let start = doc.find(marker).expect("the marker in docs/wezterm.md") + marker.len();
    let shown: Vec<&str> = doc[start..start + doc[start..].find("```").unwrap()]
        .lines()
        .collect();
    assert_eq!(
        (shown[0], shown[shown.len() - 1]),
        (rows[0].as_str(), rows[rows.len() - 1].as_str()),
        "update the block in docs/wezterm.md"
    );

    // The request carries pane 3's screen as WezTerm shows it (cleaned, the secret masked),
    // the question exactly as typed, and the conversation so far.
    let reqs = fake.requests();
    let r = reqs
        .iter()
        .rev()
        .find(|r| {
            r.path.contains("chat") && r.last_user_message().is_some_and(|m| m.ends_with(HOSTILE))
        })
        .unwrap_or_else(|| panic!("no request asked the question: {reqs:?}"));
    let sent = r.last_user_message().unwrap();
    assert!(
        sent.contains(
            "error[E0425]: cannot find value `count` in this scope\n --> src/main.rs:3:20"
        ),
        "{sent}"
    );
    assert!(sent.contains("OPENAI_API_KEY=[REDACTED"), "{sent}");
    assert!(!sent.contains("sk-proj-"), "{sent}");
    assert!(
        r.messages()
            .iter()
            .any(|(role, t)| role == "user" && t.contains("first question")),
        "the pane's conversation continues: {:?}",
        r.messages()
    );
    // Held until a key, then the query's exit status.
    pty.wait_reading(Duration::from_secs(10));
    pty.send(b"x");
    assert_eq!(pty.wait(Duration::from_secs(10)), 0, "{}", pty.text());

    // The fake wezterm saw exactly the capture of pane 3, from the pane's directory.
    let calls = std::fs::read_to_string(fakebin.join("calls.log")).unwrap();
    assert!(
        calls
            .lines()
            .all(|l| l.starts_with("cli get-text --pane-id 3 --start-line -")),
        "{calls}"
    );
    assert!(!calls.is_empty());
    // Nothing in the question ran.
    for f in ["X", "Y"] {
        assert!(!work.join(f).exists() && !env.root.join("work").join(f).exists());
    }
    // Pane 3's conversation has the turn, with the pane's text attached.
    let after = json(&in_pane("3", &["status", "--format", "json"]));
    assert_eq!(after["conversation"], conversation.as_str());
    assert_eq!(after["turns"], 2, "{after}");
    let shown = json(&in_pane("3", &["show", "--json"]));
    let msgs = shown["messages"].as_array().unwrap();
    let asked = &msgs[msgs.len() - 2];
    assert_eq!(asked["role"], "user");
    assert_eq!(asked["content"], HOSTILE);
    let att = &asked["attachments"][0];
    assert!(
        att["source"]
            .as_str()
            .unwrap()
            .starts_with("pane wezterm 3, "),
        "{att}"
    );
    assert!(
        att["text"]
            .as_str()
            .unwrap()
            .contains("--> src/main.rs:3:20"),
        "{att}"
    );
}
