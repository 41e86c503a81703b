//! Asking about a pane from a popup, as the plugins' ask keys do: `panechat q --session
//! pane:ID --pane --prompt --hold` in a real tmux `display-popup` on an attached client. The
//! question is typed in the popup, the answer is read there, a key closes it, and the turn
//! lands in the pane's own conversation with that pane's text attached. Also `--selection`
//! (what a copy-mode key copied) and Esc at the prompt.

use panechat_e2e::helpers::{json, setup, shell_quote};
use panechat_e2e::tmux::{wait_until, World};

/// A failing build's output, with colour.
const FAIL: &str = "printf '\\033[1;31merror[E0425]\\033[0m: cannot find value `count`\\n'";

/// Opens the ask popup over `pane` on the attached client, running `panechat q ARGS`.
fn popup(w: &World, pane: &str, args: &str) {
    let client = w.tmux.ok(&["list-clients", "-F", "#{client_name}"]);
    let client = client.lines().next().expect("an attached client");
    // `display-popup` returns when the popup closes: it is left running.
    let mut c = w.tmux.cmd();
    c.args([
        "display-popup",
        "-E",
        "-c",
        client,
        "-t",
        pane,
        "-w",
        "100",
        "-h",
        "20",
        &format!("exec {} q {args}", shell_quote(&w.bin)),
    ]);
    let mut child = c
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("tmux display-popup");
    std::thread::spawn(move || child.wait());
}

#[test]
fn a_popup_asks_about_its_pane_and_continues_that_panes_conversation() {
    panechat_e2e::needs!("tmux");
    let (env, fake) = setup();
    let mut w = World::start(&env, 110, 30);
    w.attach(&env, 110, 30);
    let p0 = w.pane0();
    w.tmux.type_line(&p0, "PS1='$ '; clear");
    w.tmux.wait_for(&p0, "$");
    w.tmux.type_line(&p0, FAIL);
    w.tmux.wait_for(&p0, "error[E0425]");

    let ask = format!("--session pane:{p0} --pane --prompt --hold");
    popup(&w, &p0, &ask);
    let s = w.wait_screen("Enter sends, Esc cancels");
    assert!(
        s.contains(&format!("panechat: attached pane tmux {p0}, ")),
        "{s}"
    );
    assert!(s.contains(&format!("Ask about pane tmux {p0}")), "{s}");
    w.text("why did this fail? [[reply:count is undefined]]");
    w.keys(&["Enter"]);
    let s = w.wait_screen("press any key to close");
    assert!(s.contains("count is undefined"), "{s}");
    let r = fake.request_for("why did this fail? [[reply:count is undefined]]");
    let got = r.text_parts();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].starts_with(&format!("--- pane tmux {p0}, "))
            && got[0].contains("error[E0425]: cannot find value `count`"),
        "{}",
        got[0]
    );
    assert!(!r.raw_body.contains("\\u001b"), "escape sequences sent");
    assert!(!got[0].contains("--prompt"), "the asking line was sent");
    w.keys(&["q"]);
    w.wait_screen_for(|s| !s.contains("press any key"), "the popup closed");

    // The turn is the pane's: its conversation, its title option.
    let ls = json(&env.run(["ls", "--json"]).ok().stdout);
    let convs = ls.as_array().unwrap();
    assert_eq!(convs.len(), 1, "{ls}");
    assert_eq!(convs[0]["panes"][0]["pane"], p0.as_str(), "{ls}");
    assert_eq!(convs[0]["turns"], 1);
    let id = convs[0]["id"].as_str().unwrap().to_string();
    wait_until("the pane's id option", || {
        w.tmux.value(&p0, "#{@panechat_id}") == id
    });
    // The pane's next question (typed in it) continues that conversation.
    w.tmux.type_line(
        &p0,
        &format!(
            "{} q 'and the fix? [[reply:declare it]]'; echo DONE-$((1+1))",
            shell_quote(&w.bin)
        ),
    );
    w.tmux.wait_for(&p0, "DONE-2");
    let ls = json(&env.run(["ls", "--json"]).ok().stdout);
    assert_eq!(ls[0]["turns"], 2, "{ls}");

    // Esc at the prompt closes at once and sends nothing.
    let before = fake.requests().len();
    popup(&w, &p0, &ask);
    w.wait_screen("Enter sends, Esc cancels");
    w.text("never mind");
    w.keys(&["Escape"]);
    w.wait_screen_for(|s| !s.contains("Esc cancels"), "the popup closed");
    // A request of the test's own, sent after the popup's process is gone: once the fake
    // has it, anything the popup had sent would be there before it.
    env.run([
        "q",
        "--new",
        "--cfg",
        "title.generate=false",
        "after the popup",
    ])
    .ok();
    let reqs = fake.requests();
    let users: Vec<_> = reqs[before..]
        .iter()
        .filter_map(|r| r.last_user_message())
        .collect();
    assert_eq!(
        users,
        ["after the popup"],
        "the cancelled question was sent"
    );

    // A copy-mode selection (what the ask-selection key copies): attached, then its buffer
    // is gone; the user's own buffers stay.
    w.tmux.ok(&["set-buffer", "-b", "mine", "my own buffer"]);
    w.tmux.ok(&[
        "set-buffer",
        "-b",
        "panechat-selection4",
        "error[E0425]: cannot find value `count`",
    ]);
    popup(
        &w,
        &p0,
        &format!("--session pane:{p0} --selection --prompt --hold"),
    );
    let s = w.wait_screen("Enter sends, Esc cancels");
    assert!(s.contains(&format!("Ask about selection tmux {p0}")), "{s}");
    w.text("what is this? [[reply:a missing variable]]");
    w.keys(&["Enter"]);
    w.wait_screen("press any key to close");
    let got = fake
        .request_for("what is this? [[reply:a missing variable]]")
        .text_parts();
    assert_eq!(
        got[0],
        format!("--- selection tmux {p0} ---\nerror[E0425]: cannot find value `count`\n--- end of selection tmux {p0} ---")
    );
    w.keys(&["Enter"]);
    w.wait_screen_for(|s| !s.contains("press any key"), "the popup closed");
    let buffers = w.tmux.ok(&["list-buffers", "-F", "#{buffer_name}"]);
    assert_eq!(buffers.trim(), "mine");
    let ls = json(&env.run(["ls", "--json"]).ok().stdout);
    assert_eq!(ls[0]["turns"], 3, "{ls}");
}
