//! What a person at a terminal sees: the lock question, the picker, and titles from a hostile
//! model, all through a real pseudo-terminal.

use std::time::Duration;

use panechat_e2e::helpers::{active, hold, json, setup};
use panechat_e2e::pty::Pty;

const T: Duration = Duration::from_secs(15);

#[test]
fn the_lock_question_on_a_terminal() {
    let (env, fake) = setup();
    env.run_in("a", ["q", "start"]).ok();
    let id = active(&env, "a");

    // Start a new conversation from the question.
    let holder = hold(&env, "holder", &id);
    let mut cmd = env.cmd(["q", "--id", &id, "while busy"]);
    cmd.env("PANECHAT_SESSION", "b")
        .env("PANECHAT_LOCK_DURATION", "600ms");
    let mut pty = Pty::spawn(cmd);
    pty.expect("held by", T);
    assert!(pty.text().contains("pid"), "{}", pty.text());
    pty.expect("What now?", T);
    pty.send(b"\x1b[B\r"); // down to "Start a new conversation", Enter
    pty.expect("echo: while busy", T);
    assert_eq!(pty.wait(T), 0, "{}", pty.text());
    let b = active(&env, "b");
    assert_ne!(b, id);
    holder.release(&fake);

    // Cancel: exit 130, nothing written, the message kept for --retry.
    let holder = hold(&env, "holder", &id);
    let mut cmd = env.cmd(["q", "--id", &id, "never mind"]);
    cmd.env("PANECHAT_SESSION", "c")
        .env("PANECHAT_LOCK_DURATION", "300ms");
    let mut pty = Pty::spawn(cmd);
    pty.expect("What now?", T);
    pty.send(b"\x1b[B\x1b[B\x1b[B\r");
    assert_eq!(pty.wait(T), 130, "{}", pty.text());
    holder.release(&fake);
    let r = env.run_in("c", ["q", "--retry"]).ok();
    assert_eq!(r.stdout, "echo: never mind\n");

    // Keep waiting: continues in the same conversation once the holder is done.
    let holder = hold(&env, "holder", &id);
    let mut cmd = env.cmd(["q", "--id", &id, "patient"]);
    cmd.env("PANECHAT_SESSION", "d")
        .env("PANECHAT_LOCK_DURATION", "200ms");
    let mut pty = Pty::spawn(cmd);
    pty.expect("What now?", T);
    pty.send(b"\r");
    assert!(holder.release(&fake).success());
    pty.expect("echo: patient", T);
    assert_eq!(pty.wait(T), 0);
    assert_eq!(active(&env, "d"), id);
}

#[test]
fn the_picker_continues_any_conversation() {
    let (env, _fake) = setup();
    env.run_in("a", ["q", "--new", "about [[title:Rust lifetimes]]"])
        .ok();
    env.run_in("a", ["q", "--new", "about [[title:Tmux popups]]"])
        .ok();
    let rust = json(&env.run(["ls", "--json"]).ok().stdout)
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == "Rust lifetimes")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A fresh pane with no conversation: the picker opens; filter, then Enter.
    let mut cmd = env.cmd(["q", "more please"]);
    cmd.env("PANECHAT_SESSION", "fresh");
    let mut pty = Pty::spawn(cmd);
    pty.expect("type to filter", T);
    pty.expect("Tmux popups", T);
    pty.send(b"lifetimes");
    std::thread::sleep(Duration::from_millis(300));
    pty.send(b"\r");
    pty.expect("echo: more please", T);
    assert_eq!(pty.wait(T), 0, "{}", pty.text());
    assert_eq!(active(&env, "fresh"), rust);

    // `--id` alone opens the picker too; Enter on "+ new conversation" starts one.
    let mut cmd = env.cmd(["q", "--id", "--", "brand new"]);
    cmd.env("PANECHAT_SESSION", "other");
    let mut pty = Pty::spawn(cmd);
    pty.expect("type to filter", T);
    pty.send(b"\r");
    pty.expect("echo: brand new", T);
    assert_eq!(pty.wait(T), 0, "{}", pty.text());
    let other = active(&env, "other");
    assert!(!other.is_empty() && other != rust);

    // Esc cancels with 130.
    let mut cmd = env.cmd(["q", "--id", "--", "nothing"]);
    cmd.env("PANECHAT_SESSION", "third");
    let mut pty = Pty::spawn(cmd);
    pty.expect("type to filter", T);
    pty.send(b"\x1b");
    assert_eq!(pty.wait(T), 130, "{}", pty.text());
}

/// Every OSC 2 title set in `out`, as text.
fn osc2_titles(out: &[u8]) -> Vec<String> {
    let mut titles = Vec::new();
    let mut i = 0;
    while let Some(pos) = find(&out[i..], b"\x1b]2;") {
        let start = i + pos + 4;
        let end = out[start..]
            .iter()
            .position(|&b| b == 0x07 || b == 0x1b)
            .map_or(out.len(), |e| start + e);
        titles.push(String::from_utf8_lossy(&out[start..end]).into_owned());
        i = end;
    }
    titles
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn hostile_titles_and_replies_reach_the_terminal_harmless() {
    let (env, _fake) = setup();
    let hostile = r"[[title:\e]2;pwned\a\e[31mred #(touch PWNED)\u{9b}0m\x07]]";
    let reply = r"[[reply:ok\e]0;evil\a\e[2Jdone]]";
    let mut cmd = env.cmd(["q", "--new", &format!("{hostile} {reply}")]);
    cmd.env("PANECHAT_SESSION", "a");
    let mut pty = Pty::spawn(cmd);
    assert_eq!(pty.wait(T), 0, "{}", pty.text());
    let out = pty.output();
    let titles = osc2_titles(&out);
    assert!(
        titles.len() >= 2,
        "a title on resolve and after generation: {titles:?}"
    );
    assert!(titles[0].starts_with("panechat: "), "{titles:?}");
    let last = titles.last().unwrap();
    assert_eq!(last, "panechat: ]2;pwned [31mred #(touch PWNED)0m");
    // No sequence from the model reached the terminal.
    assert!(find(&out, b"\x1b]2;pwned").is_none());
    assert!(find(&out, b"\x1b]0;evil").is_none());
    assert!(find(&out, b"\x1b[2J").is_none());
    assert!(find(&out, b"\x1b[31m").is_none());
    assert!(find(&out, "\u{9b}".as_bytes()).is_none());
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("ok]0;evil[2Jdone"), "{text}");
    // The stored title is the sanitised one, and status shows it.
    let st = env.run_in("a", ["status"]).ok();
    assert_eq!(st.stdout, "]2;pwned [31mred #(touch PWNED)0m\n");
    assert!(!env.root.join("work/PWNED").exists());
}

#[test]
fn wezterm_panes_get_user_vars() {
    let (env, _fake) = setup();
    // Stands in for the WezTerm socket (a pane whose socket is gone is pruned).
    std::fs::write(env.root.join("wez.sock"), "").unwrap();
    let mut cmd = env.cmd(["q", "--new", "hi [[title:Wez #1]]"]);
    cmd.env_remove("PANECHAT_SESSION")
        .env("WEZTERM_PANE", "7")
        .env("WEZTERM_UNIX_SOCKET", env.root.join("wez.sock"));
    let mut pty = Pty::spawn(cmd);
    assert_eq!(pty.wait(T), 0, "{}", pty.text());
    let text = pty.text();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode("Wez #1");
    assert!(
        text.contains(&format!("\x1b]1337;SetUserVar=panechat_title={b64}\x07")),
        "{text:?}"
    );
    assert!(
        text.contains("\x1b]1337;SetUserVar=panechat_id="),
        "{text:?}"
    );
    let s = json(&env.run(["sessions", "--json"]).ok().stdout);
    assert_eq!(s[0]["multiplexer"], "wezterm");
    assert_eq!(s[0]["pane"], "7");
}
