//! What panechat prints carries no terminal control from a model: human-readable output (show,
//! q, ls, sessions, status) has every control but newline and tab removed whether stdout is a
//! terminal or a pipe; `show --raw` gives the text as stored; JSON escapes every control.

use std::time::Duration;

use panechat_e2e::env::TestEnv;
use panechat_e2e::fake::unescape;
use panechat_e2e::helpers::{json, setup};
use panechat_e2e::pty::Pty;

const T: Duration = Duration::from_secs(15);

/// A reply full of sequences a terminal acts on: OSC 2 (retitle), SGR (recolour), C1 CSI, OSC
/// and ST, an OSC 8 link, a carriage return that would overwrite the line, a backspace, DEL.
const HOSTILE: &str =
    r"ok\e]2;pwned\a\e[31mred\x9b0m\x9d0;x\x9c\e]8;;http://e\e\\link\rover\x08x\x7fdone";
/// A title with the same kind of content.
const HOSTILE_TITLE: &str = r"\e]2;T\a\x9b1mTitle\e[0m";

/// The characters in `s` a terminal would act on: every control but newline and tab.
fn controls(s: &str) -> Vec<char> {
    s.chars()
        .filter(|&c| {
            let u = c as u32;
            (u < 0x20 && c != '\n' && c != '\t') || (0x7f..=0x9f).contains(&u)
        })
        .collect()
}

/// A conversation in session `s` whose reply and title are hostile; returns its id.
fn hostile_conversation(env: &TestEnv) -> String {
    let q = env.run_in(
        "s",
        [
            "q",
            "--new",
            &format!("question \x1b[5mblink [[reply:{HOSTILE}]] [[title:{HOSTILE_TITLE}]]"),
        ],
    );
    assert_eq!(q.code, 0, "{}", q.stderr);
    assert_eq!(
        controls(&q.stdout),
        vec![],
        "q through a pipe: {:?}",
        q.stdout
    );
    assert!(q.stdout.contains("done"), "{:?}", q.stdout);
    let ls = json(&env.run(["ls", "--json"]).ok().stdout);
    ls[0]["id"].as_str().unwrap().to_string()
}

/// `text` without panechat's own OSC 2 pane titles (`ESC ] 2 ; panechat: … BEL`), whose
/// content must itself be free of controls.
fn without_own_titles(text: &str) -> String {
    let mut rest = text;
    let mut out = String::new();
    while let Some(i) = rest.find("\x1b]2;panechat: ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 4..];
        let end = after.find('\x07').expect("an OSC 2 title ends with BEL");
        assert_eq!(controls(&after[..end]), vec![], "{:?}", &after[..end]);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn human_readable_output_through_a_pipe_carries_no_controls() {
    let (env, _fake) = setup();
    let id = hostile_conversation(&env);
    let stored = unescape(HOSTILE);
    for args in [
        vec!["show"],
        vec!["show", "--attachments"],
        vec!["show", &id],
        vec!["ls"],
        vec!["sessions"],
        vec!["status"],
        vec!["status", "--format", "tmux"],
        vec!["use", &id],
    ] {
        let r = env.run_in("s", &args).ok();
        assert_eq!(controls(&r.stdout), vec![], "{args:?}: {:?}", r.stdout);
        assert_eq!(controls(&r.stderr), vec![], "{args:?}: {:?}", r.stderr);
    }
    let show = env.run_in("s", ["show"]).ok().stdout;
    // The sequences' text stays visible, inert.
    assert!(
        show.contains("ok]2;pwned[31mred0m0;x]8;;http://e\\linkoverxdone"),
        "{show}"
    );
    // --raw: the bytes as stored.
    let raw = env.run_in("s", ["show", "--raw"]).ok().stdout;
    assert!(raw.contains(&stored), "{raw:?}");
}

#[test]
fn json_escapes_every_control_and_keeps_the_text_as_stored() {
    let (env, _fake) = setup();
    let id = hostile_conversation(&env);
    let stored = unescape(HOSTILE);
    for args in [
        vec!["show", "--json"],
        vec!["ls", "--json"],
        vec!["sessions", "--json"],
        vec!["status", "--format", "json"],
        vec!["use", "--json", &id],
    ] {
        let r = env.run_in("s", &args).ok();
        assert_eq!(controls(&r.stdout), vec![], "{args:?}: {:?}", r.stdout);
        json(&r.stdout);
    }
    let doc = json(&env.run_in("s", ["show", "--json"]).ok().stdout);
    assert_eq!(doc["messages"][1]["content"], stored.as_str());
    // C1 controls are escaped as \u00XX (serde_json alone writes them raw).
    let text = env.run_in("s", ["show", "--json"]).ok().stdout;
    assert!(text.contains(r"\u009b0m\u009d0;x\u009c"), "{text}");
    assert!(text.contains(r"\u007fdone"), "{text}");
}

#[test]
fn on_a_terminal_too_nothing_from_the_model_acts() {
    let (env, _fake) = setup();
    let id = hostile_conversation(&env);
    for args in [
        vec!["show"],
        vec!["show", "--json"],
        vec!["ls"],
        vec!["sessions"],
        vec!["use", &id],
    ] {
        let mut cmd = env.cmd(&args);
        cmd.env("PANECHAT_SESSION", "s").env("NO_COLOR", "1");
        let mut pty = Pty::spawn(cmd);
        assert_eq!(pty.wait(T), 0, "{args:?}: {}", pty.text());
        // The pty turns \n into \r\n; apart from panechat's own pane title (`use` sets it),
        // nothing may be a control.
        let text = without_own_titles(&pty.text().replace("\r\n", "\n"));
        assert_eq!(controls(&text), vec![], "{args:?}: {text:?}");
    }
    // A query on a terminal: panechat's own title sequence only, none of the model's.
    let mut cmd = env.cmd(["q", &format!("again [[reply:{HOSTILE}]]")]);
    cmd.env("PANECHAT_SESSION", "s");
    let mut pty = Pty::spawn(cmd);
    assert_eq!(pty.wait(T), 0, "{}", pty.text());
    let text = pty.text();
    for seq in [
        "\x1b]2;pwned",
        "\x1b[31m",
        "\u{9b}",
        "\u{9d}",
        "\x1b]8;",
        "\x7f",
        "\x08",
    ] {
        assert!(
            !text.contains(seq),
            "{seq:?} reached the terminal: {text:?}"
        );
    }
    assert!(text.contains("overxdone"), "{text:?}");
}
