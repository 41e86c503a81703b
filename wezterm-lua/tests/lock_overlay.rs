//! The lock question through the WezTerm plugin, end to end: a real `panechat q` finds its
//! conversation held by a slow query, signals the plugin with the user var `panechat_question`
//! (read here from the query's terminal), the plugin shows the overlay, and the answer the
//! plugin runs (`panechat lock-answer`, executed for real) reaches the waiting query.

use std::time::Duration;

use panechat_e2e::env::{panechat_bin, TestEnv};
use panechat_e2e::helpers::{active, hold, setup, show};
use panechat_e2e::pty::Pty;
use panechat_wezterm_tests::{decode_user_vars, Harness, Runner};

const T: Duration = Duration::from_secs(20);

/// The values the query gave its pane's `panechat_question`, in order.
fn questions(pty: &Pty) -> Vec<String> {
    decode_user_vars(&pty.text())
        .into_iter()
        .filter(|(n, _)| n == "panechat_question")
        .map(|(_, v)| v)
        .collect()
}

fn wait_for_question(pty: &Pty) -> String {
    let t = std::time::Instant::now();
    while t.elapsed() < T {
        if let Some(q) = questions(pty).into_iter().find(|q| !q.is_empty()) {
            return q;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no lock question was signalled; output:\n{}", pty.text());
}

/// A query in WezTerm pane 5 that will find `id` locked.
fn waiting_query(env: &TestEnv, id: &str, msg: &str, prompt_timeout: &str) -> Pty {
    let mut cmd = env.cmd([
        "--cfg",
        &format!("lock.prompt_timeout={prompt_timeout}"),
        "q",
        "--id",
        id,
        msg,
    ]);
    cmd.env_remove("PANECHAT_SESSION")
        .env("WEZTERM_PANE", "5")
        .env("WEZTERM_UNIX_SOCKET", env.root.join("wezterm-sock"))
        .env("PANECHAT_LOCK_DURATION", "300ms");
    Pty::spawn(cmd)
}

/// The plugin, loaded with the real binary, and a window of two tabs: the first (active) with
/// pane 3, the second with pane 5 (global `asking`), where the waiting query runs.
fn plugin(env: &TestEnv) -> Harness {
    let h = Harness::new(Runner::Real {
        env: env.env.clone().into_iter().collect(),
    })
    .unwrap();
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
         asking = wezterm.__new_pane { id = 5, tab = wezterm.__new_tab(win) }
         assert(win:active_pane() == pane)",
    )
    .unwrap();
    h
}

/// Delivers the user var to the plugin as WezTerm does (user-var-changed, with the window of
/// the pane that set it).
fn deliver(h: &Harness, value: &str) {
    h.lua.globals().set("q", value).unwrap();
    h.eval::<()>("asking:__set_var('panechat_question', q)")
        .unwrap();
}

/// The overlay the window shows: (the pane it covers, its description, its choice ids).
fn overlay(h: &Harness) -> Option<(i64, String, Vec<String>)> {
    let o: Option<mlua::Table> = h.eval("return require('wezterm').__overlay(win)").unwrap();
    let o = o?;
    let args: mlua::Table = o.get("args").unwrap();
    let ids = args
        .get::<mlua::Table>("choices")
        .unwrap()
        .sequence_values::<mlua::Table>()
        .map(|c| c.unwrap().get("id").unwrap())
        .collect();
    Some((
        o.get("over").unwrap(),
        args.get("description").unwrap(),
        ids,
    ))
}

fn toasts(h: &Harness) -> Vec<String> {
    h.eval::<mlua::Table>("return require('wezterm').__rec.toasts")
        .unwrap()
        .sequence_values::<mlua::Table>()
        .map(|t| t.unwrap().get::<String>("message").unwrap())
        .collect()
}

/// Delivers the question to the plugin, checks the overlay the window shows (over the asking
/// pane, in its tab, naming it), picks `answer` there, and returns what the plugin ran.
fn answer_in_overlay(h: &Harness, q: &str, answer: &str) -> Vec<String> {
    deliver(h, q);
    let (over, desc, ids) = overlay(h).expect("the window shows the overlay");
    assert_eq!(over, 5, "the overlay covers the asking pane");
    let tab_shown: bool = h.eval("return win:active_tab() == asking:tab()").unwrap();
    assert!(tab_shown, "the asking pane's tab is shown");
    assert!(desc.starts_with("pane 5 asks: "), "{desc}");
    assert!(desc.contains("held by") && desc.contains("pid"), "{desc}");
    assert_eq!(ids, ["wait", "new", "fork", "cancel"]);
    h.lua.globals().set("choice", answer).unwrap();
    h.eval::<()>("require('wezterm').__answer(win, choice)")
        .unwrap();
    assert!(overlay(h).is_none(), "the answer closes the overlay");
    assert!(toasts(h).is_empty(), "{:?}", toasts(h));
    // The plugin ran `panechat lock-answer TOKEN ANSWER` (for real, through the runner).
    let argv = h.runs.lock().unwrap().last().cloned().unwrap();
    assert_eq!(argv[0], panechat_bin().to_string_lossy());
    assert_eq!(argv[1], "lock-answer");
    assert_eq!(argv[3], answer);
    argv
}

#[test]
fn each_answer_in_the_overlay_reaches_the_waiting_query() {
    let (env, fake) = setup();
    env.run_in("a", ["q", "start [[title:Zellij layouts]]"])
        .ok();
    let id = active(&env, "a");
    let h = plugin(&env);
    for answer in ["cancel", "new", "fork", "wait"] {
        let holder = hold(&env, "holder", &id);
        let msg = format!("asked while busy ({answer})");
        let mut pty = waiting_query(&env, &id, &msg, "30s");
        let q = wait_for_question(&pty);
        let v: serde_json::Value = serde_json::from_str(&q).unwrap();
        assert_eq!(v["conversation"], id.as_str());
        assert_eq!(v["title"], "Zellij layouts");
        assert_eq!(v["pane"], "5");
        pty.expect("answer in WezTerm's overlay", T);
        let argv = answer_in_overlay(&h, &q, answer);
        h.eval::<()>("pane:activate()").unwrap();
        let holder = if answer == "wait" {
            // Still waiting, until the holder is done.
            std::thread::sleep(Duration::from_millis(300));
            assert!(pty.child.try_wait().unwrap().is_none(), "{}", pty.text());
            holder.release(&fake);
            None
        } else {
            Some(holder)
        };
        let code = pty.wait(T);
        let text = pty.text();
        match answer {
            "cancel" => assert_eq!(code, 130, "{text}"),
            "new" => {
                assert_eq!(code, 0, "{text}");
                assert!(text.contains("new conversation"), "{text}");
            }
            "fork" => {
                assert_eq!(code, 0, "{text}");
                assert!(text.contains("its fork"), "{text}");
            }
            _ => {
                assert_eq!(code, 0, "{text}");
                let conv = show(&env, "a", Some(&id));
                assert!(
                    conv.to_string().contains(&msg),
                    "waited and continued in {id}"
                );
            }
        }
        assert!(
            text.contains(&format!("echo: {msg}")) || answer == "cancel",
            "{text}"
        );
        // The query withdrew its question: the user var is cleared, the token is dead.
        assert_eq!(questions(&pty).last().map(String::as_str), Some(""));
        let again = env.run(&argv[1..]);
        assert_ne!(again.code, 0);
        assert!(
            again.stderr.contains("no query is waiting"),
            "{}",
            again.stderr
        );
        if let Some(holder) = holder {
            holder.release(&fake);
        }
    }
    // A made-up token answers nothing.
    let r = env.run(["lock-answer", "0123456789abcdef0123456789abcdef", "new"]);
    assert_ne!(r.code, 0);
    let r = env.run(["lock-answer", "../../x", "new"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn without_an_answer_the_query_asks_in_its_terminal_and_the_overlay_closes() {
    let (env, fake) = setup();
    env.run_in("a", ["q", "start"]).ok();
    let id = active(&env, "a");
    let holder = hold(&env, "holder", &id);
    let h = plugin(&env);
    let mut pty = waiting_query(&env, &id, "nobody answers", "1s");
    let q = wait_for_question(&pty);
    assert!(q.contains("\"token\""));
    deliver(&h, &q);
    assert_eq!(overlay(&h).expect("the overlay is up").0, 5);
    // Nobody answers: the query takes its question back and asks in its terminal…
    pty.expect("What now?", T);
    assert_eq!(questions(&pty).last().map(String::as_str), Some(""));
    deliver(&h, "");
    // …and the overlay, which would hide that question, is gone, answering nothing.
    assert!(overlay(&h).is_none(), "the overlay still hides the pane");
    assert!(h.runs.lock().unwrap().is_empty(), "{:?}", h.runs.lock());
    assert!(toasts(&h).is_empty(), "{:?}", toasts(&h));
    pty.send(b"\x1b[B\r"); // a new conversation
    pty.expect("echo: nobody answers", T);
    assert_eq!(pty.wait(T), 0, "{}", pty.text());
    assert!(pty.text().contains("new conversation"), "{}", pty.text());
    holder.release(&fake);
}

#[test]
fn answering_an_overlay_no_query_waits_for_says_so() {
    let (env, fake) = setup();
    env.run_in("a", ["q", "start"]).ok();
    let id = active(&env, "a");
    let holder = hold(&env, "holder", &id);
    let h = plugin(&env);
    let mut pty = waiting_query(&env, &id, "asked twice", "1s");
    let q = wait_for_question(&pty);
    deliver(&h, &q);
    pty.expect("What now?", T);
    // The withdrawal never reached the plugin: the overlay is still up, and answered.
    h.eval::<()>("require('wezterm').__answer(win, 'fork')")
        .unwrap();
    let t = toasts(&h);
    assert_eq!(t.len(), 1, "{t:?}");
    assert!(
        t[0].starts_with("pane 5 is no longer waiting for this answer: ")
            && t[0].contains("no query is waiting for this answer any more"),
        "{t:?}"
    );
    // The question in the terminal is still there to answer.
    pty.send(b"\x1b[B\r");
    pty.expect("echo: asked twice", T);
    assert_eq!(pty.wait(T), 0, "{}", pty.text());
    holder.release(&fake);
}

#[test]
fn answering_the_overlay_of_a_killed_query_says_so() {
    let (env, fake) = setup();
    env.run_in("a", ["q", "start"]).ok();
    let id = active(&env, "a");
    let holder = hold(&env, "holder", &id);
    let h = plugin(&env);
    let mut pty = waiting_query(&env, &id, "then killed", "30s");
    let q = wait_for_question(&pty);
    deliver(&h, &q);
    // The query dies without taking its question back (SIGKILL): the overlay stays up.
    pty.child.kill().unwrap();
    pty.child.wait().unwrap();
    h.eval::<()>("require('wezterm').__answer(win, 'new')")
        .unwrap();
    let t = toasts(&h);
    assert_eq!(t.len(), 1, "{t:?}");
    assert!(
        t[0].starts_with("pane 5 is no longer waiting for this answer: ")
            && t[0].contains("no query is waiting for this answer any more"),
        "{t:?}"
    );
    holder.release(&fake);
}
