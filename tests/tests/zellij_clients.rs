//! The Zellij plugin's keys, panes and lock question as users of a real headless Zellij 0.45.1
//! see them, with one or two clients attached (each on its own pty): a key acts for the client
//! that pressed it, forks are ordinary panes next to their parent, the ask pane and the lock
//! question. Assertions read `zellij action list-panes --json`, `list-clients` and
//! `dump-screen`, and the plugin's own view (`panechat::list`).

use std::time::Duration;

use panechat_e2e::env::TestEnv;
use panechat_e2e::helpers::setup;
use panechat_e2e::zellij::{Opts, OtherClient, Zellij};
use serde_json::Value;

/// Whether client `who` has terminal pane `pane` focused (`list-clients`).
fn on(z: &Zellij, who: u64, pane: u64) -> bool {
    let pane = format!("terminal_{pane}");
    z.client_panes()
        .iter()
        .any(|(id, p)| *id == who && *p == pane)
}

/// Moves the focus of client `who` (the test's own client, or `other`) with `key` (Alt h /
/// Alt l) until it is on `pane`.
#[track_caller]
fn move_to(z: &mut Zellij, mut other: Option<&mut OtherClient>, who: u64, pane: u64, key: &[u8]) {
    for _ in 0..3 {
        match other.as_deref_mut() {
            Some(o) => o.keys(key),
            None => z.keys(key),
        }
        if on(z, who, pane) {
            return;
        }
    }
    z.wait_for(
        &format!("client {who} on pane {pane}"),
        Duration::from_secs(10),
        |z| on(z, who, pane),
    );
}

/// The terminal panes' names, by id.
fn titles(z: &Zellij) -> Vec<(u64, String)> {
    z.terminal_panes()
        .iter()
        .filter_map(|p| Some((p["id"].as_u64()?, p["title"].as_str()?.to_string())))
        .collect()
}

/// The floating terminal panes.
fn floating(z: &Zellij) -> Vec<Value> {
    z.terminal_panes()
        .into_iter()
        .filter(|p| p["is_floating"] == true)
        .collect()
}

/// Two panes side by side (0 left, the returned one right), each with a conversation named
/// `Left topic` / `Right topic`.
fn two_topics(z: &Zellij) -> u64 {
    z.wait_prompt(0);
    z.wait_plugin_ready();
    let right = z.new_pane_with(&["--direction", "right"]);
    z.type_line(0, "panechat q --new 'one [[title:Left topic]]'");
    z.type_line(right, "panechat q --new 'two [[title:Right topic]]'");
    z.wait_for("both panes named", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Left topic" && z.title(right) == "💬 Right topic"
    });
    right
}

/// The test's own client and a second one, the first focused on the left pane and the second
/// on `right`.
fn two_clients(z: &mut Zellij, env: &TestEnv, right: u64) -> (u64, u64, OtherClient) {
    let ids = z.client_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let first = ids[0];
    let mut other = z.another_client(&env.root.join("work"));
    let second = z
        .client_ids()
        .into_iter()
        .find(|id| *id != first)
        .expect("the second client");
    z.wait_for("an instance per client", Duration::from_secs(20), |z| {
        z.plugin_views("all").len() == 2
    });
    move_to(z, Some(&mut other), second, right, b"\x1bl");
    move_to(z, None, first, 0, b"\x1bh");
    // (moving the first client must not have moved the second)
    assert!(on(z, second, right), "{:?}", z.client_panes());
    (first, second, other)
}

#[test]
fn each_key_acts_only_for_the_client_that_pressed_it() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    let right = two_topics(&z);
    let (first, second, mut other) = two_clients(&mut z, &env, right);

    // Alt y on the first client (left pane): one fork, of the left pane; the second client
    // stays where it was.
    z.keys(b"\x1by");
    let fork = z.wait_terminal_panes(3);
    z.wait_for("the fork named", Duration::from_secs(20), |z| {
        z.title(fork) == "💬 Left topic (fork)"
    });
    assert!(on(&z, second, right), "{:?}", z.client_panes());
    // Alt y on the second client (right pane): one fork of the right pane. The plugin handles
    // one client's messages in order, so a fork the second client's instance had made of the
    // first key would be here before this one.
    move_to(&mut z, Some(&mut other), second, right, b"\x1bl");
    other.keys(b"\x1by");
    let fork2 = z.wait_terminal_panes(4);
    z.wait_for("the second fork named", Duration::from_secs(20), |z| {
        z.title(fork2) == "💬 Right topic (fork)"
    });
    let names = titles(&z);
    let forks: Vec<&String> = names
        .iter()
        .map(|(_, t)| t)
        .filter(|t| t.ends_with("(fork)"))
        .collect();
    assert_eq!(
        forks,
        ["💬 Left topic (fork)", "💬 Right topic (fork)"],
        "{names:?}"
    );
    // Each fork took the focus of the client that asked for it.
    assert!(on(&z, first, fork), "{:?}", z.client_panes());
    assert!(on(&z, second, fork2), "{:?}", z.client_panes());

    // Alt a on the first client, back on the left pane (above its fork): one question, about
    // the left pane.
    move_to(&mut z, None, first, 0, b"\x1bk");
    z.keys(b"\x1ba");
    z.wait_for("the question", Duration::from_secs(15), |z| {
        floating(z).iter().any(|p| {
            let id = p["id"].as_u64().unwrap_or(0);
            z.screen(&format!("terminal_{id}"))
                .contains("Enter sends, Esc cancels")
        })
    });
    let asks = floating(&z);
    assert_eq!(asks.len(), 1, "{asks:#?}");
    let ask = asks[0]["id"].as_u64().unwrap();
    let s = z.screen(&format!("terminal_{ask}"));
    assert!(s.contains("Ask about pane zellij terminal_0"), "{s}");
    assert!(on(&z, first, ask), "{:?}", z.client_panes());
    // (Zellij shows a tab's floating panes to every client in the tab, so the second client
    // sees the question too; once it is closed, that client is back on its own pane.)
    z.keys(b"\x1b");
    z.wait_for("the question closed", Duration::from_secs(10), |z| {
        floating(z).is_empty()
    });
    z.wait_for(
        "the second client back on its pane",
        Duration::from_secs(10),
        |z| on(z, second, fork2),
    );

    // Alt m on the second client: the picker opens for it alone.
    other.keys(b"\x1bm");
    z.wait_for("the second client's picker", Duration::from_secs(10), |z| {
        z.plugin_views("all")
            .iter()
            .any(|v| v["client"] == second && v["picker"] == true)
    });
    let views = z.plugin_views("all");
    assert!(
        views
            .iter()
            .filter(|v| v["client"] == first)
            .all(|v| v["picker"] == false),
        "{views:#?}"
    );
    // (Zellij gives a tab's floating panes the focus of every client in the tab: the first
    // client sees the pane without a picker of its own, and Esc there closes it.)
    z.keys(b"\x1b");
    z.wait_for(
        "both clients back on their panes",
        Duration::from_secs(10),
        |z| on(z, first, 0) && on(z, second, fork2),
    );
    drop(other);
}

/// Terminal pane `id` as `list-panes --json` shows it.
fn geometry(z: &Zellij, id: u64) -> (u64, u64, u64, u64) {
    let p = z.pane(id);
    let n = |k: &str| {
        p[k].as_u64()
            .unwrap_or_else(|| panic!("pane {id} has no {k}: {p}"))
    };
    (n("pane_x"), n("pane_y"), n("pane_columns"), n("pane_rows"))
}

/// Waits for a new terminal pane (the `n`th) named `name`, failing if it is ever shown with
/// its command line as its name; returns its id.
#[track_caller]
fn new_pane_named(z: &Zellij, n: usize, name: &str) -> u64 {
    let new = z.wait_terminal_panes(n);
    z.wait_for(
        &format!("pane {new} named {name:?}"),
        Duration::from_secs(20),
        |z| {
            let t = z.title(new);
            assert!(
                !t.contains("--exec-shell"),
                "named after its command: {t:?}"
            );
            t == name
        },
    );
    new
}

#[test]
fn forks_are_ordinary_panes_beside_their_parent_and_popups_say_what_they_are() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let mut z = Zellij::start(
        &env,
        Opts {
            size: (80, 24),
            ..Opts::default()
        },
    );
    z.wait_prompt(0);
    z.wait_plugin_ready();
    let right = z.new_pane_with(&["--direction", "right"]);
    z.type_line(0, "panechat q --new 'one [[title:Alpha topic]]'");
    z.wait_for("pane 0 named", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Alpha topic"
    });
    let me = z.client_ids()[0];
    // Pane 0 is the smaller one: a pane below it halves it, the right column is whole.
    move_to(&mut z, None, me, 0, b"\x1bh");
    let below = z.new_pane_with(&["--direction", "down"]);
    let (rx, _, _, _) = geometry(&z, right);
    move_to(&mut z, None, me, 0, b"\x1bk");

    // Alt y on pane 0: the fork splits pane 0 (not the biggest pane), named after the fork.
    z.keys(b"\x1by");
    let fork = new_pane_named(&z, 4, "💬 Alpha topic (fork)");
    let (x, y, cols, _) = geometry(&z, fork);
    let (_, by, _, _) = geometry(&z, below);
    assert!(
        x + cols <= rx && y < by,
        "the fork is not beside pane 0: {:#?}",
        z.terminal_panes()
    );
    // It is an ordinary shell pane: `exit` closes it, leaving nothing to re-run.
    z.wait_prompt(fork);
    let pane = format!("terminal_{fork}");
    z.action_until(&["write-chars", "--pane-id", &pane, "exit\n"], |z| {
        z.terminal_panes().len() == 3
    });

    // The picker's Ctrl f on pane 0, opened from the right pane: the fork splits pane 0.
    move_to(&mut z, None, me, right, b"\x1bl");
    z.keys(b"\x1bm");
    z.wait_for("the picker", Duration::from_secs(10), |z| {
        z.plugin_screen().contains("Ctrl f fork")
    });
    // Named as what it is, not after its location.
    let picker = z
        .panes()
        .into_iter()
        .find(|p| p["is_plugin"] == true && p["plugin_url"] == "panechat")
        .unwrap();
    assert_eq!(picker["title"], "panechat: panes", "{picker:#}");
    z.keys(b"Alpha");
    z.wait_for("the filter typed", Duration::from_secs(10), |z| {
        z.plugin_screen().contains("filter: Alpha")
    });
    z.keys(b"\x06");
    let fork = new_pane_named(&z, 4, "💬 Alpha topic (fork)");
    let (x, y, cols, _) = geometry(&z, fork);
    let (_, by, _, _) = geometry(&z, below);
    assert!(
        x + cols <= rx && y < by,
        "the fork is not beside pane 0: {:#?}",
        z.terminal_panes()
    );

    // The ask pane is named after the pane it asks about, not after its command line.
    move_to(&mut z, None, me, 0, b"\x1bh");
    z.keys(b"\x1ba");
    z.wait_for("the ask pane", Duration::from_secs(15), |z| {
        !floating(z).is_empty()
    });
    let ask = &floating(&z)[0];
    assert_eq!(
        ask["title"], "panechat: ask about 💬 Alpha topic",
        "{ask:#}"
    );
    // Most of the screen (80% of the 80 columns), as the picker.
    let id = ask["id"].as_u64().unwrap();
    z.wait_for("the ask pane sized", Duration::from_secs(10), |z| {
        geometry(z, id).2 >= 60
    });
}

/// Whether panechat lists a running query of Zellij pane `pane` (`sessions --json`).
fn running(env: &TestEnv, session: &str, pane: u64) -> bool {
    let out = env.run(["sessions", "--json"]).stdout;
    serde_json::from_str::<Value>(&out)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .is_some_and(|a| {
            a.iter().any(|x| {
                panechat_e2e::zellij::is_pane_key(x["key"].as_str().unwrap_or(""), session, pane)
                    && x["runs"].as_array().is_some_and(|r| !r.is_empty())
            })
        })
}

/// The lock question's floating pane and what it shows, once it shows the question.
#[track_caller]
fn the_question(z: &Zellij) -> (Value, String) {
    let mut found = None;
    z.wait_for("the lock question", Duration::from_secs(20), |z| {
        let Some(q) = floating(z).into_iter().find(|p| {
            p["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("panechat"))
        }) else {
            return false;
        };
        let s = z.screen(&format!("terminal_{}", q["id"].as_u64().unwrap_or(0)));
        let shown = s.contains("What now?");
        if shown {
            found = Some((q, s));
        }
        shown
    });
    found.unwrap()
}

#[test]
fn the_lock_question_lives_as_long_as_the_lock_in_the_asking_panes_tab() {
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let mut z = Zellij::start(&env, Opts::default());
    z.wait_prompt(0);
    z.wait_plugin_ready();
    z.type_line(0, "panechat q --new 'one [[title:Shared topic]]'");
    z.wait_for("pane 0 named", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Shared topic"
    });
    let session = z.session.clone();
    let shared = {
        let out = env.run(["sessions", "--json"]).ok().stdout;
        let v: Value = serde_json::from_str(&out).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .find(|x| panechat_e2e::zellij::is_pane_key(x["key"].as_str().unwrap(), &session, 0))
            .and_then(|x| x["conversation"].as_str())
            .unwrap()
            .to_string()
    };
    // The asking pane is in a second tab; the user stays in the first, on pane 0.
    z.action_retry(&["new-tab"]);
    let asker = z.wait_terminal_panes(2);
    z.wait_prompt(asker);
    let me = z.client_ids()[0];
    z.action_until(&["go-to-tab", "1"], |z| on(z, me, 0));

    for round in ["the lock frees", "closed"] {
        // (held 6 s, or 12 s while the question is closed by hand)
        let slow = if round == "closed" { 500 } else { 300 };
        z.type_line(
            0,
            &format!("clear; panechat q --id {shared} 'hold [[slow:{slow}]] [[chunks:20]]'"),
        );
        z.wait_for("pane 0 streaming", Duration::from_secs(15), |_| {
            running(&env, &session, 0)
        });
        z.type_line(
            asker,
            &format!("clear; panechat q --id {shared} 'second'; echo rc=$?"),
        );
        let (q, text) = the_question(&z);
        // It opens in the asking pane's tab, says which pane asks, and leaves the user where
        // they are.
        assert_eq!(q["tab_position"], 1, "{q:#}");
        assert!(
            text.contains(&format!("zellij pane #{} asks", asker + 1)),
            "{text}"
        );
        assert!(on(&z, me, 0), "{:?}", z.client_panes());
        let asking = format!("terminal_{asker}");
        if round == "the lock frees" {
            // Nobody answers: when pane 0's query ends, the question goes and the waiting
            // query goes on in the shared conversation.
            z.wait_for("pane 0 done", Duration::from_secs(30), |_| {
                !running(&env, &session, 0)
            });
            z.wait_for("the question gone", Duration::from_secs(10), |z| {
                floating(z).is_empty()
            });
            z.wait_for("the waiting query done", Duration::from_secs(20), |z| {
                z.screen(&asking).contains("rc=0")
            });
            assert!(!running(&env, &session, asker));
        } else {
            // The user goes to the asking tab: the question is shown there, with the focus.
            // Closing it (Ctrl p x) cancels the waiting query, and it does not come back.
            let id = q["id"].as_u64().unwrap();
            z.action_until(&["go-to-tab", "2"], |z| on(z, me, id));
            z.keys(b"\x10");
            z.keys(b"x");
            z.wait_for("the query cancelled", Duration::from_secs(10), |z| {
                z.screen(&asking).contains("rc=130")
            });
            assert!(floating(&z).is_empty(), "{:#?}", z.terminal_panes());
            z.wait_for("pane 0 done", Duration::from_secs(30), |_| {
                !running(&env, &session, 0)
            });
        }
    }
}

#[test]
fn ctrl_c_while_the_ask_pane_streams_cancels_and_keeps_the_pane_until_a_key() {
    panechat_e2e::needs!("zellij");
    let (env, fake) = setup();
    // The ask pane's capture of the screen takes a second (a `zellij` that waits before
    // `dump-screen --full`), so what is typed at once arrives while it gathers.
    let real = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v zellij"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let slow = env.root.join("slow-bin");
    std::fs::create_dir_all(&slow).unwrap();
    let wrapper = slow.join("zellij");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ncase \"$*\" in *dump-screen*--full*) sleep 1;; esac\nexec {} \"$@\"\n",
            real.trim()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = panechat_e2e::env::panechat_bin();
    let path = format!(
        "{}:{}:{}",
        slow.display(),
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut z = Zellij::start(
        &env,
        Opts {
            env: &[("PATH", &path)],
            ..Opts::default()
        },
    );
    z.wait_prompt(0);
    z.wait_plugin_ready();
    z.type_line(0, "echo build failed");
    // Alt a; the question and its Enter in one write, as soon as the pane is there (before it
    // asks for them).
    z.keys(b"\x1ba");
    let ask = |z: &Zellij| floating(z).first().and_then(|p| p["id"].as_u64());
    z.wait_for("the ask pane", Duration::from_secs(10), |z| {
        ask(z).is_some()
    });
    let pane = format!("terminal_{}", ask(&z).unwrap());
    z.action_retry(&[
        "write-chars",
        "--pane-id",
        &pane,
        "why? [[slow:300]] [[chunks:40]]\r",
    ]);
    z.wait_for("the answer streaming", Duration::from_secs(20), |z| {
        ask(z).is_some()
            && fake
                .requests()
                .iter()
                .any(|r| r.last_user_message().is_some_and(|m| m.contains("why?")))
    });
    // The question was drawn once.
    let s = z.screen(&pane);
    assert_eq!(
        s.lines().filter(|l| l.contains("why? [[slow")).count(),
        1,
        "{s}"
    );
    // Ctrl-C: the query is cancelled, and the pane says so and stays until a key.
    z.keys(b"\x03");
    z.wait_for("the cancelled query held", Duration::from_secs(10), |z| {
        let s = z.screen(&pane);
        s.contains("press any key to close") && s.contains("interrupted")
    });
    assert!(ask(&z).is_some());
    eprintln!("zellij: the ask pane after Ctrl-C:\n{}", z.screen(&pane));
    z.keys(b"x");
    z.wait_for("the ask pane closed", Duration::from_secs(10), |z| {
        ask(z).is_none()
    });
}
