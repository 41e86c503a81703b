//! The WezTerm plugin in Lua 5.4 (safe mode), loaded as WezTerm loads it, against the recording
//! stub: status bar, fork key, picker, loading paths.

use std::sync::Arc;

use panechat_wezterm_tests::{repo_root, visible, Harness, Runner};

const URL: &str = "https://github.com/panechat/panechat";

fn canned(f: impl Fn(&[String]) -> (bool, String, String) + Send + Sync + 'static) -> Runner {
    Runner::Canned(Arc::new(f))
}

/// A runner that answers `use` and `new` as panechat does for a WezTerm pane, and
/// `status --format wezterm` with the user vars of what the last of them gave the pane (a
/// conversation titled `title`, or none); anything else goes to `rest`.
fn picker_with(
    title: &'static str,
    rest: impl Fn(&[String]) -> (bool, String, String) + Send + Sync + 'static,
) -> Runner {
    let shown = Arc::new(std::sync::Mutex::new(String::new()));
    canned(move |argv| match argv[1].as_str() {
        "use" => {
            *shown.lock().unwrap() = argv[2].clone();
            (true, String::new(), String::new())
        }
        "new" => {
            shown.lock().unwrap().clear();
            (true, String::new(), String::new())
        }
        "status" => {
            assert_eq!(argv[2..], ["--session", "pane:3", "--format", "wezterm"]);
            let id = shown.lock().unwrap().clone();
            let title = if id.is_empty() { "" } else { title };
            let var = |name: &str, value: &str| {
                use base64::Engine;
                let b64 = base64::engine::general_purpose::STANDARD.encode(value);
                format!("\x1b]1337;SetUserVar={name}={b64}\x07")
            };
            let vars = [
                var("panechat_id", &id),
                var("panechat_title", title),
                var("panechat_state", "idle"),
                var("panechat_held", ""),
            ];
            (true, vars.concat(), String::new())
        }
        _ => rest(argv),
    })
}

/// The last two commands the plugin ran (without the binary): a picker action, then the
/// `status` whose user vars it injects.
fn last_two(h: &Harness) -> Vec<Vec<String>> {
    let runs = h.runs.lock().unwrap();
    runs[runs.len() - 2..]
        .iter()
        .map(|r| r[1..].to_vec())
        .collect()
}

/// `status --format wezterm` of pane 3.
fn status_of_pane_3() -> Vec<String> {
    ["status", "--session", "pane:3", "--format", "wezterm"]
        .map(String::from)
        .to_vec()
}

fn no_children() -> Runner {
    canned(|argv| panic!("unexpected child process {argv:?}"))
}

/// A harness with the plugin loaded by URL, a user config that already has a key and a status
/// handler, one window and its active pane 3 (global `win`, `pane`, `config`).
fn loaded(runner: Runner, opts: &str) -> Harness {
    let h = Harness::new(runner).unwrap();
    h.plugin_require(URL).unwrap();
    h.eval::<()>(&format!(
        r#"
        local wezterm = require 'wezterm'
        config = wezterm.config_builder()
        config.keys = {{ {{ key = 'x', mods = 'ALT', action = wezterm.action.Nop }} }}
        wezterm.on('update-status', function(window, pane)
          window:set_left_status('user-left')
        end)
        panechat.apply_to_config(config, {opts})
        win = wezterm.__new_window()
        pane = wezterm.__new_pane {{ id = 3, window = win }}
        "#
    ))
    .unwrap();
    h
}

fn set_vars(h: &Harness, vars: &[(&str, &str)]) {
    let t = h.lua.create_table().unwrap();
    for (k, v) in vars {
        t.set(*k, *v).unwrap();
    }
    h.lua.globals().set("vars", t).unwrap();
    h.eval::<()>("for k, v in pairs(vars) do pane:__set_var(k, v) end")
        .unwrap();
}

fn tick(h: &Harness) -> (String, String) {
    h.eval::<()>("require('wezterm').emit('update-status', win, pane)")
        .unwrap();
    h.eval("return win.__right or '', win.__left or ''")
        .unwrap()
}

#[test]
fn user_keys_and_handlers_survive_and_plugin_keys_are_added() {
    let h = loaded(no_children(), "{}");
    let keys: Vec<(String, String, String)> = h
        .eval::<mlua::Table>(
            "local out = {} for i, k in ipairs(config.keys) do
               local a = k.action
               out[i] = { k.key, k.mods or '', a.EmitEvent or (a.__unit or next(a)) } end
             return out",
        )
        .unwrap()
        .sequence_values::<mlua::Table>()
        .map(|t| {
            let t = t.unwrap();
            (t.get(1).unwrap(), t.get(2).unwrap(), t.get(3).unwrap())
        })
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert_eq!(keys[0], ("x".into(), "ALT".into(), "Nop".into()));
    assert_eq!(
        (keys[1].0.as_str(), keys[1].1.as_str()),
        ("Y", "CTRL|SHIFT")
    );
    assert_eq!(
        (keys[2].0.as_str(), keys[2].1.as_str()),
        ("O", "CTRL|SHIFT")
    );
    assert_eq!(
        (keys[3].0.as_str(), keys[3].1.as_str()),
        ("A", "CTRL|SHIFT")
    );
    assert_eq!(
        (keys[4].0.as_str(), keys[4].1.as_str()),
        ("J", "CTRL|SHIFT")
    );
    assert!(keys[1..].iter().all(|k| k.2.starts_with("user-defined-")));
    let n: i64 = h
        .eval("return #require('wezterm').__rec.handlers['update-status']")
        .unwrap();
    assert_eq!(n, 2);
    // A pane without a conversation: the user's status stays, ours is empty.
    assert_eq!(tick(&h), (String::new(), "user-left".into()));
    assert_eq!(h.children(), 0);
}

#[test]
fn status_shows_title_running_and_locked_from_user_vars_with_no_child_process() {
    let h = loaded(no_children(), "{}");
    set_vars(
        &h,
        &[
            ("panechat_id", "01m7yd5d6e4q2r8kzz"),
            ("panechat_title", "Zellij layouts"),
            ("panechat_state", "idle"),
            ("panechat_held", ""),
        ],
    );
    let (right, left) = tick(&h);
    assert_eq!(left, "user-left");
    assert_eq!(visible(&right), "panechat Zellij layouts ");
    set_vars(&h, &[("panechat_state", "streaming")]);
    let (right, _) = tick(&h);
    assert_eq!(visible(&right), "panechat Zellij layouts ● ");
    assert!(
        right.contains("\x1b[38;2;224;175;104m ●"),
        "the running marker has its color: {right:?}"
    );
    set_vars(
        &h,
        &[
            ("panechat_state", "idle"),
            ("panechat_held", "wezterm pane 7"),
        ],
    );
    let (right, _) = tick(&h);
    assert_eq!(visible(&right), "panechat Zellij layouts locked ");
    // The run ends: the marker goes.
    set_vars(&h, &[("panechat_held", "")]);
    assert_eq!(visible(&tick(&h).0), "panechat Zellij layouts ");
    // Untitled: the id.
    set_vars(&h, &[("panechat_title", "")]);
    assert_eq!(visible(&tick(&h).0), "panechat 01m7yd5d6e4q2r8kzz ");
    for _ in 0..500 {
        tick(&h);
    }
    assert_eq!(h.children(), 0, "the status bar spawned a process");
    assert!(h.runs.lock().unwrap().is_empty());
}

#[test]
fn a_hostile_title_renders_as_plain_text() {
    let h = loaded(no_children(), "{ max_title = 200, icon = '' }");
    let hostile = "#(touch M1) #[fg=red] ; kill-server $(touch M2)\x1b]0;pwn\x07\u{9b}31m\x1b[31m{ Text = 'x' }\r\n\x7f%s";
    set_vars(
        &h,
        &[
            ("panechat_id", "01m7yd5d6e4q2r8kzz"),
            ("panechat_title", hostile),
        ],
    );
    let (right, _) = tick(&h);
    // The only escape sequence is the plugin's own reset.
    assert_eq!(right.matches('\x1b').count(), 1, "{right:?}");
    assert!(right.contains("\x1b[0m"));
    assert!(
        !right.chars().any(|c| c.is_control() && c != '\x1b'),
        "{right:?}"
    );
    assert_eq!(
        visible(&right),
        "#(touch M1) #[fg=red] ; kill-server $(touch M2)]0;pwn31m[31m{ Text = 'x' }%s "
    );
}

#[test]
fn status_can_go_left_be_composed_or_be_left_to_the_user() {
    let h = loaded(no_children(), "{ status = 'left' }");
    set_vars(&h, &[("panechat_id", "01abc"), ("panechat_title", "T")]);
    // Our handler runs after the user's: the left status is ours, the right untouched.
    assert_eq!(tick(&h).0, "");
    assert_eq!(visible(&tick(&h).1), "panechat T ");

    let h = loaded(
        no_children(),
        "{ compose = function(window, pane, seg) return 'clock | ' .. seg end }",
    );
    set_vars(&h, &[("panechat_id", "01abc"), ("panechat_title", "T")]);
    assert_eq!(visible(&tick(&h).0), "clock | panechat T ");

    let h = loaded(no_children(), "{ status = false }");
    set_vars(&h, &[("panechat_id", "01abc"), ("panechat_title", "T")]);
    assert_eq!(tick(&h).0, "");
    let seg: String = h.eval("return panechat.segment(win, pane)").unwrap();
    assert_eq!(visible(&seg), "panechat T ");
}

fn press(h: &Harness, key: &str) {
    h.eval::<()>(&format!(
        "for _, k in ipairs(config.keys) do
           if k.key == '{key}' and k.mods == 'CTRL|SHIFT' then win:perform_action(k.action, win:active_pane()) end
         end"
    ))
    .unwrap();
}

fn splits(h: &Harness) -> Vec<Vec<String>> {
    h.eval::<mlua::Table>("return require('wezterm').__rec.splits")
        .unwrap()
        .sequence_values::<mlua::Table>()
        .map(|s| {
            let args: mlua::Table = s.unwrap().get("args").unwrap();
            args.sequence_values::<String>()
                .map(Result::unwrap)
                .collect()
        })
        .collect()
}

fn toasts(h: &Harness) -> Vec<String> {
    h.eval::<mlua::Table>("return require('wezterm').__rec.toasts")
        .unwrap()
        .sequence_values::<mlua::Table>()
        .map(|t| t.unwrap().get::<String>("message").unwrap())
        .collect()
}

#[test]
fn the_fork_key_splits_with_panechat_fork_exec_shell_or_toasts() {
    let h = loaded(no_children(), "{ panechat = '/opt/bin/panechat' }");
    press(&h, "Y");
    assert!(splits(&h).is_empty());
    let t = toasts(&h);
    assert_eq!(t.len(), 1);
    assert!(t[0].contains("no conversation"), "{t:?}");

    set_vars(&h, &[("panechat_id", "01m7yd5d6e4q2r8kzz")]);
    press(&h, "Y");
    assert_eq!(
        splits(&h),
        vec![vec![
            "/opt/bin/panechat",
            "fork",
            "01m7yd5d6e4q2r8kzz",
            "--exec-shell"
        ]]
    );
    let dir: String = h
        .eval("return require('wezterm').__rec.splits[1].direction")
        .unwrap();
    assert_eq!(dir, "Right");

    let h = loaded(
        no_children(),
        "{ fork_last = 2, fork_direction = 'Down', fork_key = { key = 'K', mods = 'CTRL|SHIFT' } }",
    );
    set_vars(&h, &[("panechat_id", "01abc")]);
    press(&h, "Y");
    assert!(splits(&h).is_empty(), "the default key was replaced");
    press(&h, "K");
    assert_eq!(
        splits(&h),
        vec![vec![
            "panechat",
            "fork",
            "01abc",
            "--last",
            "2",
            "--exec-shell"
        ]]
    );
    // A user var that is not an id never reaches the argv.
    set_vars(&h, &[("panechat_id", "--help")]);
    press(&h, "K");
    assert_eq!(splits(&h).len(), 1);
    assert_eq!(h.children(), 0);
}

const LS: &str = r#"[
 {"schema":1,"id":"01m7yd5d6e4q2r8kzz","title":"Zellij layouts","turns":3,"created_at":"2026-12-02T10:00:00Z","updated_at":"2026-12-02T10:00:00Z","age":"5m","parent":null,"model":null,"system":null,"last_message":"what?","locked":true,"activity":"streaming","held_by":{"session":"wezterm:/s:7","multiplexer":"wezterm","pane":"7","pid":42,"command":"query","since":"2026-12-02T10:00:00Z"},"active_in":["wezterm:/s:7"],"panes":[{"session":"wezterm:/s:7","multiplexer":"wezterm","pane":"7"}]},
 {"schema":1,"id":"01m7yd5aqv0000000000","title":"evil\u001b]0;x\u0007 #(touch M1)","turns":1,"created_at":"2026-12-01T10:00:00Z","updated_at":"2026-12-01T10:00:00Z","age":"1d\u001b[2J","parent":null,"model":null,"system":null,"last_message":"x","locked":false,"activity":"idle","held_by":null,"active_in":[],"panes":[]}
]"#;

fn picker_runner() -> Runner {
    picker_with("Zellij layouts", |argv| match argv[1].as_str() {
        "ls" => (true, LS.into(), String::new()),
        _ => (false, String::new(), format!("unexpected {argv:?}")),
    })
}

fn selector(h: &Harness) -> mlua::Table {
    h.eval("local a = require('wezterm').__rec.actions return a[#a].action.InputSelector")
        .unwrap()
}

fn choose(h: &Harness, id: Option<&str>) {
    h.lua.globals().set("choice", id).unwrap();
    h.eval::<()>("require('wezterm').__answer(win, choice)")
        .unwrap();
}

#[test]
fn the_picker_lists_conversations_and_each_choice_does_what_it_says() {
    let h = loaded(picker_runner(), "{}");
    h.eval::<()>("require('wezterm').__new_pane { id = 7, window = win }")
        .unwrap();
    press(&h, "O");
    assert_eq!(
        h.runs.lock().unwrap().last().unwrap()[1..],
        ["ls", "--json"]
    );
    let sel = selector(&h);
    assert!(sel.get::<bool>("fuzzy").unwrap());
    // The top line WezTerm draws in fuzzy mode carries the key hints.
    let top: String = h
        .eval("local w = require('wezterm') return w.__overlay_lines(w.__overlay(win))[1]")
        .unwrap();
    for hint in ["Enter: use in this pane", "jump or fork", "Esc: close"] {
        assert!(top.contains(hint), "{top:?} lacks {hint:?}");
    }
    let rows: Vec<(String, String)> = sel
        .get::<mlua::Table>("choices")
        .unwrap()
        .sequence_values::<mlua::Table>()
        .map(|c| {
            let c = c.unwrap();
            (c.get("id").unwrap(), c.get("label").unwrap())
        })
        .collect();
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        ids,
        [
            "new",
            "search",
            "use:01m7yd5d6e4q2r8kzz",
            "jump:7",
            "fork:01m7yd5d6e4q2r8kzz",
            "use:01m7yd5aqv0000000000",
            "fork:01m7yd5aqv0000000000"
        ]
    );
    assert_eq!(rows[0].1, "+ new conversation");
    let first = &rows[2].1;
    // How long ago is panechat's (`age`), shown as given, controls removed.
    assert!(rows[5].1.contains("1d[2J ago"), "{rows:?}");
    for part in [
        "Zellij layouts",
        "3 turns",
        "5m ago",
        "pane 7",
        "running",
        "locked",
    ] {
        assert!(first.contains(part), "{first:?} lacks {part}");
    }
    assert!(
        rows.iter().all(|r| !r.1.chars().any(char::is_control)),
        "{rows:?}"
    );

    // Use: the pane gets the conversation, and the bar shows it at once.
    choose(&h, Some("use:01m7yd5d6e4q2r8kzz"));
    assert_eq!(
        last_two(&h),
        [
            ["use", "01m7yd5d6e4q2r8kzz", "--session", "pane:3"]
                .map(String::from)
                .to_vec(),
            status_of_pane_3()
        ]
    );
    assert_eq!(visible(&tick(&h).0), "panechat Zellij layouts ");

    // Jump: pane 7 is activated.
    press(&h, "O");
    choose(&h, Some("jump:7"));
    let activated: i64 = h.eval("return require('wezterm').__rec.activated").unwrap();
    assert_eq!(activated, 7);

    // Fork: a split running panechat fork.
    press(&h, "O");
    choose(&h, Some("fork:01m7yd5aqv0000000000"));
    assert_eq!(
        splits(&h),
        vec![vec![
            "panechat",
            "fork",
            "01m7yd5aqv0000000000",
            "--exec-shell"
        ]]
    );

    // New (back in pane 3): the pane's next question starts a new conversation; the bar empties.
    h.eval::<()>("pane:activate()").unwrap();
    press(&h, "O");
    choose(&h, Some("new"));
    assert_eq!(
        last_two(&h),
        [
            ["new", "--session", "pane:3"].map(String::from).to_vec(),
            status_of_pane_3()
        ]
    );
    assert_eq!(tick(&h).0, "");

    // Esc: nothing happens.
    let before = h.runs.lock().unwrap().len();
    press(&h, "O");
    choose(&h, None);
    assert_eq!(h.runs.lock().unwrap().len(), before + 1, "only the ls");
}

#[test]
fn a_failing_panechat_is_a_toast_not_an_error() {
    let h = loaded(
        canned(|_| {
            (
                false,
                String::new(),
                "panechat: store is damaged\nhint: run doctor".into(),
            )
        }),
        "{}",
    );
    press(&h, "O");
    let t = toasts(&h);
    assert_eq!(t, ["panechat ls failed: panechat: store is damaged"]);
    let h = loaded(canned(|_| (true, "not json".into(), String::new())), "{}");
    press(&h, "O");
    assert!(toasts(&h)[0].contains("not JSON"));
    // A binary that cannot be started.
    let h = loaded(
        Runner::Real { env: vec![] },
        "{ panechat = '/nonexistent/panechat' }",
    );
    press(&h, "O");
    assert!(
        toasts(&h)[0].contains("/nonexistent/panechat"),
        "{:?}",
        toasts(&h)
    );
}

#[test]
fn loads_from_a_file_url_and_with_dofile() {
    let root = repo_root();
    // A local clone, by file:// URL.
    let h = Harness::new(no_children()).unwrap();
    let m = h
        .plugin_require(&format!("file://{}", root.display()))
        .unwrap();
    assert!(m.get::<mlua::Function>("apply_to_config").is_ok());
    // dofile of the plugin itself.
    let h = Harness::new(no_children()).unwrap();
    let m = h.dofile(&root.join("wezterm-lua/plugin/init.lua")).unwrap();
    assert!(m.get::<mlua::Function>("apply_to_config").is_ok());
}

#[test]
fn the_loader_finds_the_plugin_from_the_path_require_gives_it_and_never_guesses() {
    let loader_path = repo_root().join("plugin/init.lua");
    let loader = std::fs::read_to_string(&loader_path).unwrap();
    // The path Lua's require hands the chunk (WezTerm's plugin.require loads it that way).
    let h = Harness::new(no_children()).unwrap();
    let m: mlua::Table = h
        .lua
        .load(&loader)
        .set_name("=loader")
        .call(("panechat", loader_path.to_string_lossy().into_owned()))
        .unwrap();
    assert!(m.get::<mlua::Function>("apply_to_config").is_ok());
    // Without it (dofile, a chunk of its own), no checkout of the plugin list and no chunk
    // name is taken for it, even with this repository installed: an error that says what to do.
    let h = Harness::new(no_children()).unwrap();
    h.plugin_require(URL).unwrap();
    for err in [
        h.lua
            .load(&loader)
            .set_name("=loader")
            .call::<mlua::Table>(())
            .unwrap_err()
            .to_string(),
        h.dofile(&loader_path).unwrap_err().to_string(),
    ] {
        assert!(
            err.contains("dofile(\"/path/to/panechat/wezterm-lua/plugin/init.lua\")"),
            "{err}"
        );
    }
}

/// The tab bar's titles (visible text), as WezTerm draws them with the effective config.
fn tab_titles(h: &Harness, config: &str) -> Vec<String> {
    h.eval::<mlua::Table>(&format!(
        "local wezterm = require 'wezterm'
         local c = wezterm.__effective_config()
         for k, v in pairs({config}) do c[k] = v end
         return wezterm.__tab_titles(win, c)"
    ))
    .unwrap()
    .sequence_values::<String>()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn tab_titles_show_the_conversation_title_after_wezterms_tab_index() {
    let h = loaded(no_children(), "{ tab_title = true }");
    h.eval::<()>(
        r"local wezterm = require 'wezterm'
          wezterm.__new_pane { id = 9, tab = wezterm.__new_tab(win), title = 'vim' }
          pane:__set_var('panechat_id', '01m7yd5d6e4q2r8kzz')
          pane:__set_var('panechat_title', 'Zellij\27]0;x\7 layouts')",
    )
    .unwrap();
    assert_eq!(
        tab_titles(&h, "{ tab_max_width = 30 }"),
        ["1: Zellij]0;x layouts", "2: vim"]
    );
    // The retro tab bar, zero-based indices, no index: as WezTerm's own titles.
    assert_eq!(
        tab_titles(&h, "{ tab_max_width = 30, use_fancy_tab_bar = false }"),
        [" 1: Zellij]0;x layouts ", " 2: vim "]
    );
    assert_eq!(
        tab_titles(
            &h,
            "{ tab_max_width = 30, tab_and_split_indices_are_zero_based = true }"
        ),
        ["0: Zellij]0;x layouts", "1: vim"]
    );
    assert_eq!(
        tab_titles(
            &h,
            "{ tab_max_width = 30, show_tab_index_in_tab_bar = false }"
        ),
        ["Zellij]0;x layouts", "vim"]
    );
    // Within the tab's width.
    let narrow = tab_titles(&h, "{ tab_max_width = 10 }");
    assert_eq!(narrow[0], "1: Zellij…");
    // Without the option WezTerm's own titles stay.
    let h = loaded(no_children(), "{}");
    assert_eq!(tab_titles(&h, "{}"), ["1: zsh"]);
}

#[test]
fn wide_titles_are_cut_by_cells_so_the_right_status_keeps_its_label() {
    let h = loaded(no_children(), "{}");
    // 45 CJK characters: 90 cells.
    let title = "\u{4e2d}\u{6587}\u{6807}\u{9898}\u{6d4b}".repeat(9);
    h.lua.globals().set("title", title.as_str()).unwrap();
    h.eval::<()>(
        "pane:__set_var('panechat_id', '01abc') pane:__set_var('panechat_title', title)
         require('wezterm').emit('update-status', win, pane)",
    )
    .unwrap();
    let right: String = h.eval("return win.__right").unwrap();
    let text = visible(&right);
    // At most max_title (40) cells of title, ending in the ellipsis.
    assert!(text.starts_with("panechat \u{4e2d}\u{6587}"), "{text}");
    assert!(text.ends_with("… "), "{text}");
    let shown_title = &text["panechat ".len()..text.len() - 1];
    assert!(
        panechat_wezterm_tests::cells(shown_title) <= 40,
        "{shown_title:?} is {} cells",
        panechat_wezterm_tests::cells(shown_title)
    );
    // The retro tab bar leaves the status 60 cells here: all of it shows, label first.
    let shown: String = h.eval("return win:__right_shown(60)").unwrap();
    assert_eq!(shown, text);
}

#[test]
fn bad_options_are_config_errors_that_say_what_to_write() {
    for (opts, says) in [
        (
            "{ fork_last = 'two' }",
            "fork_last must be a positive whole number",
        ),
        (
            "{ status = 'top' }",
            "status must be 'right', 'left' or false",
        ),
        ("{ fork_direction = 'Right ' }", "fork_direction must be"),
        ("{ fork_key = 'F' }", "fork_key must be a table"),
        ("{ panechat = 42 }", "panechat must be the path"),
        ("{ ask_direction = 'Bottom' }", "ask_direction must be"),
        ("{ ask_key = { mods = 'ALT' } }", "ask_key must be a table"),
        ("{ ask_size = { Percent = 150 } }", "ask_size must be"),
        ("{ fork_size = 50 }", "fork_size must be"),
    ] {
        let h = Harness::new(no_children()).unwrap();
        h.plugin_require(URL).unwrap();
        let err = h
            .eval::<()>(&format!("panechat.apply_to_config({{}}, {opts})"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{opts}: {err}");
    }
}

#[test]
fn a_question_shows_once_and_malformed_ones_are_ignored() {
    let h = loaded(
        canned(|argv| match argv[1].as_str() {
            "lock-answer" => (true, String::new(), String::new()),
            _ => panic!("unexpected child process {argv:?}"),
        }),
        "{}",
    );
    let selectors = |h: &Harness| -> i64 {
        h.eval(
            "local n = 0
             for _, a in ipairs(require('wezterm').__rec.actions) do
               if a.action.InputSelector then n = n + 1 end
             end
             return n",
        )
        .unwrap()
    };
    let shown = |h: &Harness| -> bool {
        h.eval("return require('wezterm').__overlay(win) ~= nil")
            .unwrap()
    };
    let q = r#"{"token":"0123456789abcdef0123456789abcdef","conversation":"01abc","title":"T\u001b[2J","holder":"wezterm pane 7, pid 42, 3s","pane":"3"}"#;
    h.lua.globals().set("q", q).unwrap();
    h.eval::<()>("pane:__set_var('panechat_question', q)")
        .unwrap();
    assert_eq!(selectors(&h), 1);
    let desc: String = h
        .eval("return require('wezterm').__overlay(win).args.description")
        .unwrap();
    assert_eq!(
        desc,
        "pane 3 asks: \"T[2J\" is held by wezterm pane 7, pid 42, 3s. What now?   Esc: cancel"
    );
    h.eval::<()>("pane:__set_var('panechat_question', q)")
        .unwrap();
    assert_eq!(selectors(&h), 1, "asked once");
    // Taken back: the overlay closes, answering nothing.
    h.eval::<()>("pane:__set_var('panechat_question', '')")
        .unwrap();
    assert!(!shown(&h));
    assert!(h.runs.lock().unwrap().is_empty());
    for bad in [
        "not json",
        r#"{"token":"../../x"}"#,
        r#"{"title":"no token"}"#,
    ] {
        h.lua.globals().set("q", bad).unwrap();
        h.eval::<()>("pane:__set_var('panechat_question', q)")
            .unwrap();
    }
    assert_eq!(selectors(&h), 1);
    assert_eq!(toasts(&h).len(), 3);
    // A new question; Esc in its overlay cancels the query.
    h.lua
        .globals()
        .set("q", q.replace("0123456789abcdef", "fedcba9876543210"))
        .unwrap();
    h.eval::<()>("pane:__set_var('panechat_question', q)")
        .unwrap();
    assert!(shown(&h));
    choose(&h, None);
    assert!(!shown(&h));
    assert_eq!(
        h.runs.lock().unwrap().last().unwrap(),
        &[
            "panechat",
            "lock-answer",
            "fedcba9876543210fedcba9876543210",
            "cancel"
        ]
    );
    assert_eq!(toasts(&h).len(), 3);
}

#[test]
fn titles_that_are_not_utf8_still_render() {
    let h = loaded(no_children(), "{ max_title = 5, icon = '' }");
    h.eval::<()>(r"pane:__set_var('panechat_id', '01abc') pane:__set_var('panechat_title', 'ab\255\254cdefgh')")
        .unwrap();
    assert_eq!(visible(&tick(&h).0), "ab?c… ");
}

/// `ls --json` of two forks titled alike, the conversation they came from, and one that only
/// fuzzy-matches "notes"; most recent first.
const FORKS: &str = r#"[
 {"id":"01m7yd5d00000000dd","title":"notes (fork)","turns":4,"updated_at":"2026-12-02T10:03:00Z","age":"3m","locked":false,"activity":"idle","panes":[{"session":"wezterm:/s:7","multiplexer":"wezterm","pane":"7"}]},
 {"id":"01m7yd5d00000001ee","title":"notes (fork)","turns":12,"updated_at":"2026-12-02T10:02:00Z","age":"4m","locked":false,"activity":"idle","panes":[]},
 {"id":"01m7yd5c00000000tt","title":"no tests here","turns":1,"updated_at":"2026-12-02T10:01:30Z","age":"4m","locked":false,"activity":"idle","panes":[]},
 {"id":"01m7yd5a00000000aa","title":"notes","turns":3,"updated_at":"2026-12-02T10:01:00Z","age":"5m","locked":false,"activity":"idle","panes":[]}
]"#;

fn forks_runner() -> Runner {
    picker_with("notes", |argv| match argv[1].as_str() {
        "ls" => (true, FORKS.into(), String::new()),
        _ => (false, String::new(), format!("unexpected {argv:?}")),
    })
}

/// The InputSelector shown: its rows for `filter` as WezTerm orders them, (id, label).
fn shown_rows(h: &Harness, filter: &str) -> Vec<(String, String)> {
    h.lua.globals().set("filter", filter).unwrap();
    h.eval::<mlua::Table>(
        "local w = require('wezterm') return w.__filtered(w.__overlay(win), filter)",
    )
    .unwrap()
    .sequence_values::<mlua::Table>()
    .map(|c| {
        let c = c.unwrap();
        (c.get("id").unwrap(), c.get("label").unwrap())
    })
    .collect()
}

/// Types `filter` into the selector shown and presses Enter.
fn enter(h: &Harness, filter: Option<&str>) -> bool {
    h.lua.globals().set("filter", filter).unwrap();
    h.eval("return require('wezterm').__enter(win, filter)")
        .unwrap()
}

#[test]
fn the_picker_opens_on_the_panes_own_conversation_and_tells_forks_apart() {
    let h = loaded(forks_runner(), "{}");
    set_vars(
        &h,
        &[
            ("panechat_id", "01m7yd5a00000000aa"),
            ("panechat_title", "notes"),
        ],
    );
    h.eval::<()>("require('wezterm').__new_pane { id = 7, window = win }")
        .unwrap();
    h.eval::<()>("pane:activate()").unwrap();

    // Enter right away keeps the pane's own conversation (WezTerm opens on the first row).
    press(&h, "O");
    let rows = shown_rows(&h, "");
    assert_eq!(rows[0].0, "use:01m7yd5a00000000aa", "{rows:?}");
    assert!(rows[0].1.starts_with("* notes "), "{rows:?}");
    assert!(enter(&h, None));
    assert_eq!(
        last_two(&h),
        [
            ["use", "01m7yd5a00000000aa", "--session", "pane:3"]
                .map(String::from)
                .to_vec(),
            status_of_pane_3()
        ]
    );

    // The two forks titled alike show ids that tell them apart, and every column starts at
    // the same cell whether or not the row lists panes.
    press(&h, "O");
    let rows = shown_rows(&h, "");
    let convs: Vec<&(String, String)> = rows.iter().filter(|r| r.0.starts_with("use:")).collect();
    assert_eq!(convs.len(), 4, "{rows:?}");
    // The ids differ from their 16th character on: 16 are shown.
    let short = |r: &(String, String)| r.0["use:".len()..]["".len()..16].to_string();
    for r in &convs {
        assert!(r.1.contains(&short(r)), "{r:?} lacks its short id");
    }
    assert_ne!(convs[1].1, convs[2].1, "the forks' rows are alike");
    let at = |r: &(String, String), part: &str| -> usize {
        let i =
            r.1.find(part)
                .unwrap_or_else(|| panic!("{r:?} lacks {part:?}"));
        panechat_wezterm_tests::cells(&r.1[..i])
    };
    let id_col: Vec<usize> = convs.iter().map(|r| at(r, &short(r))).collect();
    assert!(
        id_col.iter().all(|c| *c == id_col[0]),
        "{id_col:?} {convs:?}"
    );
    let ago_col: Vec<usize> = convs.iter().map(|r| at(r, " ago")).collect();
    assert!(
        ago_col.iter().all(|c| *c == ago_col[0]),
        "{ago_col:?} {convs:?}"
    );
    assert!(convs.iter().any(|r| r.1.contains("pane 7")), "{convs:?}");

    // Typing "notes": WezTerm's matcher puts the rows holding the word whole above the one
    // it only fuzzy-matches, the pane's own (exact) first among equals.
    let filtered = shown_rows(&h, "notes");
    assert_eq!(filtered[0].0, "use:01m7yd5a00000000aa", "{filtered:?}");
    let pos = |id: &str| filtered.iter().position(|r| r.0 == id).unwrap();
    for f in ["use:01m7yd5d00000000dd", "use:01m7yd5d00000001ee"] {
        assert!(pos(f) < pos("use:01m7yd5c00000000tt"), "{filtered:?}");
    }
    assert_eq!(
        h.children(),
        5,
        "the plugin's build checked once, ls, use and the status it injects, ls: nothing per \
         row or filter"
    );
}

const HITS: &str = r#"[
 {"id":"01m7yd5d00000000dd","title":"Notes on the borrow checker","turns":9,"updated_at":"2026-12-02T10:03:00Z","age":"3m","score":350,"count":7,"snippet":"you: why does the borrow checker\u001b[2J complain"},
 {"id":"01m7yd5d00000001ee","title":"borrow checker tricks","turns":2,"updated_at":"2026-12-02T10:02:00Z","age":"4m","score":220,"count":3,"snippet":"model: the borrow checker"},
 {"id":"01m7yd5a00000000aa","title":"Borrow Checker","turns":1,"updated_at":"2026-12-01T10:00:00Z","age":"1d","score":150,"count":1,"snippet":""}
]"#;

#[test]
fn search_inside_conversations_runs_panechat_search_once_exact_titles_first() {
    let h = loaded(
        picker_with("Borrow Checker", |argv| match argv[1].as_str() {
            "ls" => (true, FORKS.into(), String::new()),
            "search" if argv.last().unwrap() == "borrow checker" => {
                (true, HITS.into(), String::new())
            }
            "search" => (true, "[]".into(), String::new()),
            _ => (false, String::new(), format!("unexpected {argv:?}")),
        }),
        "{}",
    );
    press(&h, "O");
    // The search row is found by typing "search" in the picker.
    assert!(enter(&h, Some("search")));
    let kind: String = h
        .eval("return require('wezterm').__overlay(win).kind")
        .unwrap();
    assert_eq!(kind, "PromptInputLine");
    let children = h.children();
    choose(&h, Some("borrow checker"));
    assert_eq!(h.children(), children + 1, "one search for the words");
    assert_eq!(
        h.runs.lock().unwrap().last().unwrap()[1..],
        ["search", "--json", "-n", "500", "--", "borrow checker"]
    );
    // Its hits: the title equal to the words, then the one starting with them, then the rest
    // as panechat ranks them; not fuzzy, so WezTerm keeps that order.
    let sel = selector(&h);
    assert!(!sel.get::<bool>("fuzzy").unwrap_or(false));
    let rows = shown_rows(&h, "");
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        ids,
        [
            "use:01m7yd5a00000000aa",
            "use:01m7yd5d00000001ee",
            "use:01m7yd5d00000000dd"
        ]
    );
    assert!(
        rows[2]
            .1
            .contains("you: why does the borrow checker[2J complain"),
        "{rows:?}"
    );
    assert!(
        rows.iter().all(|r| !r.1.chars().any(char::is_control)),
        "{rows:?}"
    );
    assert!(rows[0].1.contains("01m7yd5a"), "{rows:?}");
    let top: String = h
        .eval("local w = require('wezterm') return w.__overlay_lines(w.__overlay(win))[1]")
        .unwrap();
    assert!(
        top.starts_with("3 conversations mention \"borrow checker\""),
        "{top}"
    );
    // Enter uses the first.
    assert!(enter(&h, None));
    assert_eq!(
        last_two(&h),
        [
            ["use", "01m7yd5a00000000aa", "--session", "pane:3"]
                .map(String::from)
                .to_vec(),
            status_of_pane_3()
        ]
    );
    // Nothing found: said in a notification, no empty list.
    press(&h, "O");
    enter(&h, Some("search"));
    choose(&h, Some("never said"));
    assert_eq!(toasts(&h), ["no conversation mentions \"never said\""]);
    let shown: bool = h
        .eval("return require('wezterm').__overlay(win) ~= nil")
        .unwrap();
    assert!(!shown);
}

#[test]
fn the_plugin_leaves_to_panechat_what_panechat_can_hand_it() {
    // User-var names and values, their base64 and ages come from the binary (`status --format
    // wezterm`, `age` in `ls --json` and `search --json`); the Lua keeps one cleaner of its
    // own, for the text WezTerm itself hands it (tab and pane titles).
    let src = std::fs::read_to_string(repo_root().join("wezterm-lua/plugin/init.lua")).unwrap();
    let code: String = src
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for copy in [
        "base64",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "SetUserVar=' ..",
        "function ago",
        "os.time",
        "panechat_state =",
        "panechat_held =",
    ] {
        assert!(!code.contains(copy), "the plugin has its own {copy:?}");
    }
    assert_eq!(code.matches("%c").count(), 1, "one control cleaner");
    // What it reads from WezTerm, it names once.
    for var in [
        "panechat_id",
        "panechat_title",
        "panechat_state",
        "panechat_held",
        "panechat_question",
    ] {
        assert_eq!(code.matches(var).count(), 1, "{var} named more than once");
    }
}

/// The agent user vars of `pane` (a Lua global).
fn set_agent(h: &Harness, pane: &str, state: &str, text: &str) {
    h.eval::<()>(&format!(
        "{pane}:__set_var('panechat_agent', '{state}') {pane}:__set_var('panechat_agent_text', '{text}')"
    ))
    .unwrap();
}

#[test]
fn the_bar_and_the_tab_titles_show_the_panes_agent_and_mark_a_tab_that_needs_you() {
    // (`agent-seen` for the focused pane once it is done, answered with nothing here)
    let h = loaded(
        canned(|argv| {
            assert_eq!(argv[1], "agent-seen", "{argv:?}");
            (true, String::new(), String::new())
        }),
        "{ tab_title = true }",
    );
    // An agent in a pane without a conversation: the agent alone.
    set_agent(&h, "pane", "working", "claude: running Bash");
    assert_eq!(visible(&tick(&h).0), "claude: running Bash ");
    set_agent(&h, "pane", "needs-you", "claude: needs you");
    let (right, _) = tick(&h);
    assert_eq!(visible(&right), "⚑ claude: needs you ");
    assert!(
        right.contains("\x1b[38;2;247;118;142m⚑ "),
        "the marker has its color: {right:?}"
    );
    // With a conversation: the agent, then the title.
    set_vars(
        &h,
        &[
            ("panechat_id", "01m7yd5d6e4q2r8kzz"),
            ("panechat_title", "Zellij layouts"),
            ("panechat_state", "idle"),
        ],
    );
    set_agent(&h, "pane", "done", "claude: done");
    assert_eq!(
        visible(&tick(&h).0),
        "✓ claude: done panechat Zellij layouts "
    );
    // Tabs: the active pane's agent in its title; a tab where another pane needs you, marked.
    h.eval::<()>(
        r"local wezterm = require 'wezterm'
          other = wezterm.__new_pane { id = 9, tab = wezterm.__new_tab(win), title = 'vim' }
          wezterm.__new_pane { id = 10, tab = other:tab(), title = 'sh' }",
    )
    .unwrap();
    assert_eq!(
        tab_titles(&h, "{ tab_max_width = 60 }"),
        ["1: ✓ claude: done · Zellij layouts", "2: vim"]
    );
    h.eval::<()>("agent10 = require('wezterm').mux.get_pane(10)")
        .unwrap();
    set_agent(&h, "agent10", "needs-you", "codex: needs you #(x)");
    assert_eq!(
        tab_titles(&h, "{ tab_max_width = 60 }"),
        ["1: ✓ claude: done · Zellij layouts", "2: ⚑ vim"]
    );
    // Drawing a tab's title reads the user vars of that tab's panes only, however many panes
    // other tabs have (it runs at every redraw).
    h.eval::<()>(
        r"local wezterm = require 'wezterm'
          local crowd = wezterm.__new_tab(win)
          for id = 100, 159 do wezterm.__new_pane { id = id, tab = crowd, title = 'sh' } end",
    )
    .unwrap();
    h.rec().set("var_reads", 0).unwrap();
    let titles = tab_titles(&h, "{ tab_max_width = 60 }");
    assert_eq!(titles[1], "2: ⚑ vim", "{titles:?}");
    let reads: i64 = h.rec().get("var_reads").unwrap();
    assert!(
        reads <= 62 + 2 * 3,
        "{reads} user-var reads to draw 3 tabs: each tab reads its own panes, not the window's 62"
    );
    // Nothing spawned but the one `agent-seen` for the focused pane that was done.
    assert_eq!(h.children(), 1);
    assert_eq!(
        h.runs.lock().unwrap()[0][1..],
        ["agent-seen", "--session", "pane:3", "--wezterm-vars"]
    );
}

#[test]
fn the_next_key_activates_the_next_pane_that_needs_you_across_tabs_and_windows() {
    let h = loaded(no_children(), "{}");
    h.eval::<()>(
        r"local wezterm = require 'wezterm'
          p4 = wezterm.__new_pane { id = 4, tab = wezterm.__new_tab(win) }
          win2 = wezterm.__new_window()
          p5 = wezterm.__new_pane { id = 5, window = win2 }
          p6 = wezterm.__new_pane { id = 6, tab = p5:tab() }",
    )
    .unwrap();
    set_agent(&h, "p4", "needs-you", "claude: needs you");
    set_agent(&h, "p6", "needs-you", "codex: needs you");
    set_agent(&h, "p5", "done", "claude: done");
    let next = |from: &str| -> Option<i64> {
        h.eval(&format!(
            "local to = panechat.next_needing_you(win, {from}) return to"
        ))
        .unwrap()
    };
    assert_eq!(next("pane"), Some(4));
    assert_eq!(
        h.eval::<i64>("return win:active_tab():active_pane():pane_id()")
            .unwrap(),
        4,
        "its tab is the window's active one"
    );
    assert_eq!(next("p4"), Some(6));
    assert_eq!(next("p6"), Some(4), "around");
    set_agent(&h, "p6", "working", "codex: working");
    assert_eq!(next("p4"), None, "only itself");
    assert_eq!(h.rec().get::<mlua::Table>("toasts").unwrap().raw_len(), 1);
    // The key is bound.
    press(&h, "J");
    assert_eq!(h.children(), 0);
}

#[test]
fn a_focused_pane_whose_agent_is_done_is_told_seen_once() {
    // panechat answers with the pane's user vars, its agent idle now (or, `quiet`, nothing:
    // the pane stays done and is not told again).
    let quiet = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let q = quiet.clone();
    let h = loaded(
        canned(move |argv| {
            assert_eq!(
                argv[1..],
                ["agent-seen", "--session", "pane:3", "--wezterm-vars"]
            );
            if q.load(std::sync::atomic::Ordering::SeqCst) {
                return (true, String::new(), String::new());
            }
            use base64::Engine;
            let var = |name: &str, value: &str| {
                let b64 = base64::engine::general_purpose::STANDARD.encode(value);
                format!("\x1b]1337;SetUserVar={name}={b64}\x07")
            };
            let out = var("panechat_agent", "idle") + &var("panechat_agent_text", "claude: idle");
            (true, out, String::new())
        }),
        "{}",
    );
    let runs = |h: &Harness| h.runs.lock().unwrap().len();
    set_agent(&h, "pane", "working", "claude: working");
    for _ in 0..5 {
        tick(&h);
    }
    assert_eq!(runs(&h), 0, "nothing for an agent at work");
    set_agent(&h, "pane", "done", "claude: done");
    for _ in 0..5 {
        tick(&h);
    }
    assert_eq!(runs(&h), 1, "once per done");
    // Done again later: told again; panechat's answer makes the pane idle on screen.
    set_agent(&h, "pane", "working", "claude: working");
    tick(&h);
    quiet.store(false, std::sync::atomic::Ordering::SeqCst);
    set_agent(&h, "pane", "done", "claude: done");
    tick(&h);
    assert_eq!(runs(&h), 2);
    assert_eq!(visible(&tick(&h).0), "claude: idle ");
    assert_eq!(runs(&h), 2, "idle: nothing more");
    // Off: nothing.
    let h = loaded(no_children(), "{ seen_on_focus = false }");
    set_agent(&h, "pane", "done", "claude: done");
    tick(&h);
    assert_eq!(h.children(), 0);
}

#[test]
fn the_picker_lists_agents_that_need_you_first_and_lone_agent_panes_jump() {
    let h = loaded(no_children(), "{}");
    h.eval::<()>(
        r"local wezterm = require 'wezterm'
          for _, id in ipairs { 4, 5, 6 } do wezterm.__new_pane { id = id, window = win } end",
    )
    .unwrap();
    let rows: Vec<(String, String)> = h
        .eval::<mlua::Table>(
            r#"local list = {
                 { id = '01m7yd5a00000000aa', title = 'Old', turns = 1, age = '3h', panes = {} },
                 { id = '01m7yd5b00000000bb', title = 'Mine', turns = 2, age = '2h',
                   panes = { { multiplexer = 'wezterm', pane = '3' } } },
                 { id = '01m7yd5c00000000cc', title = 'Building', turns = 3, age = '1h',
                   panes = { { multiplexer = 'wezterm', pane = '4' } },
                   agent = { backend = 'claude-code', session = 's1' } },
                 { id = '01m7yd5d00000000dd', title = 'Tried', turns = 1, age = '4h', panes = {},
                   agent = { backend = 'codex', session = 't1' } },
                 { id = '01m7yd5e00000000ee', title = 'Mine too', turns = 1, age = '5h', panes = {},
                   agent = { backend = 'my\27[2Jagent', session = 'u1' } },
               }
               local agents = {
                 [4] = { agent = 'working', text = 'claude: running Bash' },
                 [5] = { agent = 'needs-you', text = 'codex: needs you' },
                 [6] = { agent = 'done', text = 'claude: done' },
               }
               local rows = panechat.choices(list, 3, '01m7yd5b00000000bb', agents)
               local out = {}
               for i, r in ipairs(rows) do out[i] = { r.label, r.id } end
               return out"#,
        )
        .unwrap()
        .sequence_values::<mlua::Table>()
        .map(|t| {
            let t = t.unwrap();
            (t.get(1).unwrap(), t.get(2).unwrap())
        })
        .collect();
    let ids: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        ids,
        [
            "jump:5",
            "use:01m7yd5b00000000bb",
            "fork:01m7yd5b00000000bb",
            "new",
            "search",
            "jump:6",
            "use:01m7yd5c00000000cc",
            "jump:4",
            "fork:01m7yd5c00000000cc",
            "use:01m7yd5a00000000aa",
            "fork:01m7yd5a00000000aa",
            "use:01m7yd5d00000000dd",
            "fork:01m7yd5d00000000dd",
            "use:01m7yd5e00000000ee",
            "fork:01m7yd5e00000000ee",
        ],
        "{rows:#?}"
    );
    // A conversation held by a coding agent carries its back-end's tag (controls removed);
    // a row showing its pane's agent already names it.
    assert!(rows[11].0.ends_with(" ago    codex"), "{:?}", rows[11].0);
    assert!(
        rows[13].0.ends_with(" ago    my[2Jagent"),
        "{:?}",
        rows[13].0
    );
    assert!(!rows[6].0.ends_with("claude"), "{:?}", rows[6].0);
    assert_eq!(rows[0].0, "  ⚑ codex: needs you · pane 5");
    assert_eq!(rows[5].0, "  ✓ claude: done · pane 6");
    assert!(
        rows[6].0.starts_with("  claude: running Bash · Building"),
        "{:?}",
        rows[6].0
    );
}
