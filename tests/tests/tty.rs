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
    pty.expect_row("› lifetimes", T);
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
    assert_eq!(last, "panechat: ]2;pwned [31mred ♯(touch PWNED)0m");
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
    assert_eq!(st.stdout, "]2;pwned [31mred ♯(touch PWNED)0m\n");
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
    // (Text left in a multiplexer shows `#` as `♯`.)
    let b64 = base64::engine::general_purpose::STANDARD.encode("Wez ♯1");
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

#[test]
fn id_followed_by_the_message_opens_the_picker_and_sends_it() {
    let (env, fake) = setup();
    env.run_in("a", ["q", "--new", "about [[title:Rust lifetimes]]"])
        .ok();
    let rust = active(&env, "a");
    env.run_in("a", ["q", "--new", "about [[title:Tmux popups]]"])
        .ok();
    // The README's `panechat q --id "question"`.
    fake.clear_requests();
    let mut cmd = env.cmd(["q", "--id", "question"]);
    cmd.env("PANECHAT_SESSION", "a");
    let mut pty = Pty::spawn(cmd);
    pty.expect("type to filter", T);
    pty.expect("Rust lifetimes", T);
    pty.send(b"lifetimes");
    pty.expect_row("› lifetimes", T);
    pty.send(b"\r");
    pty.expect("echo: question", T);
    assert_eq!(pty.wait(T), 0, "{}", pty.text());
    assert_eq!(active(&env, "a"), rust);
    let chat: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| !r.raw_body.contains("Reply with the title only"))
        .collect();
    assert_eq!(chat.len(), 1);
    assert_eq!(chat[0].messages().last().unwrap().1, "question");
}

/// The rows of `pty` that contain `needle`.
fn rows_with(pty: &Pty, needle: &str) -> Vec<String> {
    pty.rows()
        .into_iter()
        .filter(|r| r.contains(needle))
        .collect()
}

#[test]
fn an_80_column_pane_shows_whole_lines() {
    let (env, fake) = setup();
    env.run_in(
        "a",
        [
            "q",
            "--new",
            "one [[title:A rather long title about many things]]",
        ],
    )
    .ok();
    let id = active(&env, "a");
    env.run_in("a", ["q", "two"]).ok();
    env.run_in("b", ["q", "--fork=1", "--id", &id, "forked"])
        .ok();
    let fork = active(&env, "b");
    env.run_in("e", ["q", "--new", "single [[title:Single]]"])
        .ok();
    let single = active(&env, "e");

    // The waiting line: the time left and Ctrl-C come first, and no row is wider than the pane.
    let holder = hold(&env, "tmux:0123456789abcdef:%12", &id);
    let mut cmd = env.cmd(["q", "--id", &id, "while busy"]);
    cmd.env("PANECHAT_SESSION", "c")
        .env("PANECHAT_LOCK_DURATION", "1500ms");
    let mut pty = Pty::spawn_sized(cmd, 80, 24);
    pty.expect("What now?", T);
    let waiting = rows_with(&pty, "panechat: waiting");
    assert!(!waiting.is_empty(), "{:?}", pty.rows());
    for r in &waiting {
        assert!(r.chars().count() < 80, "{r:?}");
        assert!(
            r.starts_with("panechat: waiting up to ")
                && r.contains("s (Ctrl-C cancels) for \"A rather"),
            "{r:?}"
        );
    }
    // The question: what is busy, wrapped at spaces to the width, then a one-row prompt.
    let rows = pty.rows();
    let at = rows
        .iter()
        .position(|r| r.starts_with("conversation \"A rather long"))
        .unwrap_or_else(|| panic!("{rows:?}"));
    let about: Vec<&String> = rows[at..]
        .iter()
        .take_while(|r| !r.contains("What now?"))
        .filter(|r| !r.is_empty())
        .collect();
    assert!(about.len() >= 2, "the text wraps at 80 columns: {about:?}");
    for r in &about {
        assert!(r.chars().count() < 80, "{r:?}");
    }
    let joined = about
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        joined.contains("is in use (session tmux:0123456789abcdef:%12, pid "),
        "no word is cut: {joined:?}"
    );
    for r in rows_with(&pty, "What now?") {
        assert!(r.chars().count() < 80, "{r:?}");
    }
    pty.send(b"\x1b[B\x1b[B\x1b[B\r"); // Cancel
    assert_eq!(pty.wait(T), 130, "{}", pty.text());
    holder.release(&fake);

    // `sessions` fits the pane.
    let holder = hold(&env, "tmux:0123456789abcdef:%12", &id);
    let mut cmd = env.cmd(["sessions"]);
    cmd.env("PANECHAT_SESSION", "c");
    let mut pty = Pty::spawn_sized(cmd, 80, 24);
    assert_eq!(pty.wait(T), 0, "{}", pty.text());
    let rows: Vec<String> = pty.rows().into_iter().filter(|r| !r.is_empty()).collect();
    assert!(rows[0].starts_with("SESSION"), "{rows:?}");
    assert!(rows.iter().any(|r| r.contains("streaming")), "{rows:?}");
    for r in &rows {
        assert!(
            r.chars().count() <= 80,
            "{} columns: {r:?}",
            r.chars().count()
        );
    }
    holder.release(&fake);

    // The picker: the id column lines up in rows with and without the fork marker, and one
    // turn is "1 turn".
    let mut cmd = env.cmd(["q", "--id", "--", "look"]);
    cmd.env("PANECHAT_SESSION", "d");
    let mut pty = Pty::spawn_sized(cmd, 80, 24);
    pty.expect("fork", T);
    pty.wait_reading(T);
    pty.send(b"\x1b");
    assert_eq!(pty.wait(T), 130, "{}", pty.text());
    let short = |id: &str| id[..10].to_string();
    let col = |needle: &str| {
        let r = rows_with(&pty, needle)
            .pop()
            .unwrap_or_else(|| panic!("{needle}: {:?}", pty.rows()));
        assert!(r.chars().count() < 80, "{r:?}");
        r.chars().count() - r[r.find(needle).unwrap()..].chars().count()
    };
    assert_eq!(col(&short(&id)), col(&short(&fork)), "{:?}", pty.rows());
    assert_eq!(col(&short(&id)), col(&short(&single)), "{:?}", pty.rows());
    let fork_row = rows_with(&pty, &short(&fork)).pop().unwrap();
    assert!(fork_row.ends_with("ago  fork"), "{fork_row:?}");
    let single_row = rows_with(&pty, &short(&single)).pop().unwrap();
    assert!(single_row.contains("  1 turn "), "{single_row:?}");
}

#[test]
fn the_popup_question_wraps_between_words() {
    let (env, fake) = setup();
    env.run_in(
        "a",
        [
            "q",
            "--new",
            "one [[title:A rather long title about many things]]",
        ],
    )
    .ok();
    let id = active(&env, "a");
    let holder = hold(&env, "tmux:0123456789abcdef:%12", &id);
    // What a multiplexer popup runs, in a popup-sized terminal.
    let mut pty = Pty::spawn_sized(env.cmd(["lock-prompt", "--id", &id]), 50, 12);
    pty.expect("What now?", T);
    let rows: Vec<String> = pty.rows().into_iter().filter(|r| !r.is_empty()).collect();
    let about: Vec<&str> = rows
        .iter()
        .map(String::as_str)
        .take_while(|r| !r.contains("What now?"))
        .collect();
    for r in &about {
        assert!(r.chars().count() < 50, "{r:?}");
    }
    let joined = about.join(" ");
    assert!(
        joined.contains("\"A rather long title about many things\" is in use (held by session tmux:0123456789abcdef:%12 for "),
        "{rows:?}"
    );
    pty.send(b"\x1b[B\x1b[B\r"); // Fork
    assert_eq!(pty.wait(T), 12, "{}", pty.text());
    holder.release(&fake);
}

#[test]
fn wezterm_user_vars_reach_a_pane_from_elsewhere() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let (env, _fake) = setup();
    std::fs::write(env.root.join("wez.sock"), "").unwrap();
    // A shell in a WezTerm pane (its terminal is this pty).
    let mut shell = std::process::Command::new("bash");
    shell
        .args(["--norc", "--noprofile"])
        .env_clear()
        .envs(&env.env)
        .env_remove("PANECHAT_SESSION")
        .env("WEZTERM_PANE", "9")
        .env("WEZTERM_UNIX_SOCKET", env.root.join("wez.sock"))
        .env("PS1", "$ ")
        .current_dir(&env.root);
    let mut pty = Pty::spawn(shell);
    let bin = panechat_e2e::env::panechat_bin();
    pty.send(format!("{} q --new 'hi [[title:First]]'\r", bin.display()).as_bytes());
    pty.expect(&format!("SetUserVar=panechat_title={}", b64("First")), T);
    pty.expect(&format!("SetUserVar=panechat_state={}", b64("idle")), T);
    let key = json(&env.run(["sessions", "--json"]).ok().stdout)[0]["key"]
        .as_str()
        .unwrap()
        .to_string();
    // A rename from another terminal reaches this pane's user vars and title.
    let id = active(&env, &key);
    env.run(["rename", &id, "Renamed #2"]).ok();
    pty.expect(
        &format!("SetUserVar=panechat_title={}", b64("Renamed ♯2")),
        T,
    );
    pty.expect("\x1b]2;panechat: Renamed ♯2\x07", T);
    // So does `new` for this pane, from elsewhere: empty vars.
    env.run(["new", "--session", &key]).ok();
    pty.expect(&format!("SetUserVar=panechat_id={}\x07", b64("")), T);
    pty.send(b"exit\r");
    let _ = pty.wait(T);
}

#[test]
fn the_first_question_on_an_empty_store_starts_a_conversation_without_a_picker() {
    // As the README says: nothing to pick from, so no picker.
    let (env, _fake) = setup();
    let mut cmd = env.cmd(["q", "hello"]);
    cmd.env("PANECHAT_SESSION", "a");
    let mut pty = Pty::spawn(cmd);
    assert_eq!(pty.wait(T), 0, "{}", pty.text());
    assert!(pty.text().contains("echo: hello"), "{}", pty.text());
    assert!(!pty.text().contains("type to filter"), "{}", pty.text());
    assert!(!active(&env, "a").is_empty());
}

#[test]
fn id_alone_picks_the_conversation_before_the_editor_opens() {
    let (env, fake) = setup();
    env.run_in("a", ["q", "--new", "about [[title:Rust lifetimes]]"])
        .ok();
    let rust = active(&env, "a");
    env.run_in("a", ["q", "--new", "about [[title:Tmux popups]]"])
        .ok();
    // The editor records that it ran and writes the message.
    let marker = env.root.join("editor-ran");
    let editor = env.root.join("editor.sh");
    std::fs::write(
        &editor,
        format!(
            "#!/bin/sh\ntouch '{}'\nprintf 'from the editor' > \"$1\"\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    fake.clear_requests();
    let mut cmd = env.cmd(["q", "--id"]);
    cmd.env("PANECHAT_SESSION", "a").env("EDITOR", &editor);
    let mut pty = Pty::spawn(cmd);
    pty.expect("type to filter", T);
    assert!(!marker.exists(), "the editor opened before the picker");
    pty.send(b"lifetimes");
    pty.expect_row("› lifetimes", T);
    pty.send(b"\r");
    pty.expect("echo: from the editor", T);
    assert_eq!(pty.wait(T), 0, "{}", pty.text());
    assert!(marker.exists());
    assert_eq!(active(&env, "a"), rust);
}

/// A key typed while the prompt is busy between two reads (here each `ioctl` is held ½ s after
/// it returns, as on a loaded machine) reaches the prompt's line editing, not the terminal's:
/// keys the terminal's own line discipline took (Ctrl-W, and the word it erased) were lost.
#[test]
fn prompt_edits_keys_typed_while_it_is_busy() {
    panechat_e2e::needs!("strace");
    let (env, fake) = setup();
    let mut cmd = env.cmd_traced(
        &[
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "trace=ioctl",
            "-e",
            "inject=ioctl:delay_exit=500000",
        ],
        ["q", "--new", "--prompt"],
    );
    cmd.env("PANECHAT_SESSION", "a");
    let mut pty = Pty::spawn(cmd);
    pty.expect("Enter sends, Esc cancels", Duration::from_secs(60));
    pty.send(b"hi yo");
    pty.expect_row("› hi yo", Duration::from_secs(60));
    // "u" is read; the prompt then puts the terminal back and redraws (over 1 s): Ctrl-W
    // comes then.
    pty.send(b"u");
    std::thread::sleep(Duration::from_millis(250));
    pty.send(b"\x17");
    panechat_e2e::helpers::wait_until("the word deleted", || {
        let rows = pty.rows();
        let last = rows.iter().rev().find(|r| r.contains('›'));
        last.is_some_and(|r| r.trim_end() == "› hi")
    });
    pty.send(b"there\r");
    assert_eq!(pty.wait(Duration::from_secs(60)), 0, "{}", pty.text());
    assert_eq!(fake.requests()[0].messages().last().unwrap().1, "hi there");
}

#[test]
fn prompt_reads_the_question_on_the_terminal_and_hold_waits_for_a_key() {
    let (env, fake) = setup();
    let mut cmd = env.cmd(["q", "--new", "--prompt", "--hold"]);
    cmd.env("PANECHAT_SESSION", "a");
    let mut pty = Pty::spawn(cmd);
    pty.expect("Enter sends, Esc cancels", T);
    // Typing, a word deleted with Ctrl-W, a character with Backspace.
    pty.send(b"what about this oops");
    pty.send(b"\x17");
    pty.send(b"that!\x7f?");
    pty.send(b"\r");
    pty.expect("echo: what about this that?", T);
    pty.expect("press any key to close", T);
    pty.wait_reading(T);
    pty.send(b"x");
    assert_eq!(pty.wait(T), 0, "{}", pty.text());
    assert_eq!(
        fake.requests()[0].messages().last().unwrap().1,
        "what about this that?"
    );

    // Esc closes at once (no hold), sending nothing.
    fake.clear_requests();
    let mut cmd = env.cmd(["q", "--prompt", "--hold"]);
    cmd.env("PANECHAT_SESSION", "a");
    let mut pty = Pty::spawn(cmd);
    pty.expect("Enter sends, Esc cancels", T);
    pty.send(b"never mind");
    pty.send(b"\x1b");
    assert_eq!(pty.wait(T), 130, "{}", pty.text());
    assert!(!pty.text().contains("press any key"), "{}", pty.text());
    assert!(fake.requests().is_empty());

    // An error is shown, then held.
    let mut cmd = env.cmd(["q", "--id=zzzz", "--hold", "hello"]);
    cmd.env("PANECHAT_SESSION", "a");
    let mut pty = Pty::spawn(cmd);
    pty.expect("press any key to close", T);
    assert!(pty.text().contains("panechat: "), "{}", pty.text());
    pty.send(b"\r");
    assert_ne!(pty.wait(T), 0);
}

#[test]
fn rm_asks_on_one_short_row_and_no_removes_nothing_with_status_0() {
    let (env, _fake) = setup();
    let long = "a rather long title for a conversation";
    for i in 0..3 {
        env.run_in("a", ["q", "--new", &format!("q{i} [[title:{long} {i}]]")])
            .ok();
    }
    let ids: Vec<String> = json(&env.run(["ls", "--json"]).ok().stdout)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let rm = |answer: &[u8]| {
        let mut args = vec!["rm".to_string()];
        args.extend(ids.iter().cloned());
        let mut cmd = env.cmd(&args);
        cmd.env("PANECHAT_SESSION", "a");
        let mut pty = Pty::spawn_sized(cmd, 40, 20);
        pty.expect("Delete?", T);
        pty.send(answer);
        let code = pty.wait(T);
        (code, pty)
    };
    let (code, pty) = rm(b"n");
    assert_eq!(code, 0, "{}", pty.text());
    assert!(pty.text().contains("nothing removed"), "{}", pty.text());
    // What is asked about is shown once, whole, in rows that fit the 40 columns.
    for id in &ids {
        let short = &id[..10];
        assert_eq!(pty.text().matches(short).count(), 1, "{}", pty.text());
    }
    for row in pty.rows() {
        assert!(panechat_width(&row) <= 40, "{row:?}");
    }
    assert_eq!(
        json(&env.run(["ls", "--json"]).ok().stdout)
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // Esc cancels (130), "y" deletes.
    assert_eq!(rm(b"\x1b").0, 130);
    assert_eq!(
        json(&env.run(["ls", "--json"]).ok().stdout)
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(rm(b"y").0, 0);
    assert!(json(&env.run(["ls", "--json"]).ok().stdout)
        .as_array()
        .unwrap()
        .is_empty());
}

/// The columns `s` takes (CJK and other wide characters count two).
fn panechat_width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if ('\u{1100}'..='\u{ffdc}').contains(&c) && c > '\u{2e7f}' {
                2
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn sessions_fit_a_pane_narrower_than_60_columns() {
    let (env, _fake) = setup();
    for s in ["a-session-with-a-long-name", "b", "c"] {
        env.run_in(
            s,
            [
                "q",
                "--new",
                "hello [[title:a title that is long enough to be cut]]",
            ],
        )
        .ok();
    }
    for cols in [30u16, 40, 59] {
        let mut cmd = env.cmd(["sessions"]);
        cmd.env("PANECHAT_SESSION", "a").env("NO_COLOR", "1");
        let mut pty = Pty::spawn_sized(cmd, cols, 20);
        assert_eq!(pty.wait(T), 0, "{}", pty.text());
        let rows: Vec<String> = pty.rows().into_iter().filter(|r| !r.is_empty()).collect();
        assert_eq!(rows.len(), 4, "a header and 3 rows, none wrapped: {rows:?}");
        assert!(rows[0].starts_with("SESSION"), "{rows:?}");
        for row in &rows {
            assert!(panechat_width(row) <= cols as usize, "{cols}: {row:?}");
        }
    }
}

/// A real interactive `shell` (argv) on a pty, with the test's environment and panechat on
/// `PATH`, as a user's terminal would start it.
fn shell(env: &panechat_e2e::env::TestEnv, argv: &[&str], extra: &[(&str, String)]) -> Pty {
    let bin_dir = panechat_e2e::env::panechat_bin()
        .parent()
        .unwrap()
        .display()
        .to_string();
    let mut c = std::process::Command::new(argv[0]);
    c.args(&argv[1..])
        .env_clear()
        .envs(&env.env)
        .env("PATH", format!("{bin_dir}:{}", env.env["PATH"]))
        .env("TERM", "xterm-256color")
        .current_dir(env.root.join("work"));
    for (k, v) in extra {
        c.env(k, v);
    }
    Pty::spawn(c)
}

#[test]
fn the_init_lines_complete_commands_and_ids_in_real_bash_zsh_and_fish() {
    panechat_e2e::needs!("zsh", "fish");
    let (env, _fake) = setup();
    env.run(["q", "--new", "hello"]).ok();
    let id = active(&env, "test");
    let rc = |shell: &str, before: &str| {
        let p = env.root.join(format!("rc.{shell}"));
        let init = env.run(["init", shell]).ok().stdout;
        std::fs::write(&p, format!("{before}{init}")).unwrap();
        p.display().to_string()
    };
    let bash_rc = rc("bash", "PS1='$ '\n");
    let zdot = env.root.join("zdot");
    std::fs::create_dir_all(&zdot).unwrap();
    std::fs::rename(
        rc("zsh", "PS1='$ '\nautoload -Uz compinit && compinit -u\n"),
        zdot.join(".zshrc"),
    )
    .unwrap();
    let fish_rc = rc("fish", "");
    let shells: Vec<(&str, Pty)> = vec![
        (
            "bash",
            shell(
                &env,
                &["bash", "--noprofile", "--rcfile", &bash_rc, "-i"],
                &[],
            ),
        ),
        (
            "zsh",
            shell(
                &env,
                &["zsh", "-i"],
                &[("ZDOTDIR", zdot.display().to_string())],
            ),
        ),
        (
            "fish",
            shell(
                &env,
                &[
                    "fish",
                    "--no-config",
                    "-i",
                    "-C",
                    &format!("source {fish_rc}"),
                ],
                &[(
                    "XDG_CONFIG_HOME",
                    env.root.join("home/.config").display().to_string(),
                )],
            ),
        ),
    ];
    for (name, mut pty) in shells {
        // A subcommand, then a conversation id, each completed with one Tab.
        pty.send(b"panechat sessi\t");
        pty.expect("panechat sessions", T);
        pty.send(b"\x15"); // ^U: a clean line
        pty.send(format!("panechat show {}\t", &id[..3]).as_bytes());
        let t = std::time::Instant::now();
        while !pty.text().contains(&id) {
            assert!(
                t.elapsed() < T,
                "{name}: the id was not completed:\n{}",
                pty.rows().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        pty.send(b"\x15exit\r");
        pty.wait(T);
    }
}
