//! Reducer and rendering tests: a recording host stands in for Zellij.

use std::collections::BTreeMap;

use crate::render::{plain, render};
use crate::state::{PIPE_ASK, PIPE_FORK, PIPE_LIST, PIPE_NEXT, PIPE_PICK, PIPE_STATE};
use crate::text::width;
use crate::*;

const HOSTILE: &str =
    "#(touch M1) #[fg=red] ; kill-server $(touch M2)\x1b]0;owned\x07\x1b[31m\u{9b}2J\x7f";

#[derive(Default)]
struct Rec {
    effects: Vec<Effect>,
    next_pane: u32,
    /// The clients `list_clients` reports (`None`: this instance's client, id 1, alone); the
    /// answer comes at once.
    clients: Option<Vec<Client>>,
    /// `list_clients` calls.
    asked: usize,
    /// The names panes were given, as the session's layout lists them ([`Effect::ReadNames`]).
    given: Vec<String>,
    /// [`Effect::ReadNames`] calls.
    read_names: usize,
    /// Whether the instance hears who presses keys ([`Effect::WatchKeys`]), and how often it
    /// started or stopped.
    watching: bool,
    watch_changes: usize,
}

impl Host for Rec {
    fn perform(&mut self, e: Effect) -> Option<Input> {
        if e == Effect::ListClients {
            self.asked += 1;
            return Some(Input::Clients(self.clients.clone().unwrap_or_else(|| {
                vec![Client {
                    id: 1,
                    current: true,
                    pane: None,
                }]
            })));
        }
        if let Effect::WatchKeys(on) = e {
            assert_ne!(on, self.watching, "told to watch keys as it already does");
            self.watching = on;
            self.watch_changes += 1;
            return None;
        }
        if e == Effect::ReadNames {
            self.read_names += 1;
            return Some(Input::Names(self.given.clone()));
        }
        self.effects.push(e.clone());
        match e {
            Effect::OpenTerminal { context, .. } => {
                self.next_pane += 1;
                Some(Input::TerminalOpened {
                    context,
                    pane: Some(100 + self.next_pane),
                })
            }
            _ => None,
        }
    }
}

impl Rec {
    fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }
    /// [`Rec::take`] without the [`Effect::Hide`] that puts a newly granted plugin in the
    /// background, asserting that it was there.
    fn take_granted(&mut self) -> Vec<Effect> {
        let fx = self.take();
        assert_eq!(
            fx.iter().filter(|e| **e == Effect::Hide).count(),
            1,
            "{fx:?}"
        );
        fx.into_iter().filter(|e| *e != Effect::Hide).collect()
    }
    fn renames(&mut self) -> Vec<(u32, String)> {
        self.take()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Rename { pane, name } => Some((pane, name)),
                _ => None,
            })
            .collect()
    }
}

fn pane(id: u32, tab: usize, title: &str, focused: bool) -> Pane {
    Pane {
        id,
        tab,
        title: title.into(),
        focused,
        floating: false,
        exited: false,
        titled_by_command: false,
    }
}

fn tabs(n: usize) -> Vec<Tab> {
    (0..n)
        .map(|i| Tab {
            position: i,
            name: format!("Tab #{}", i + 1),
            active: i == 0,
            floating_visible: false,
            id: Some(i),
        })
        .collect()
}

fn state_json(pane: u32, conv: Option<&str>, title: Option<&str>) -> String {
    serde_json::json!({
        "schema": 1, "session": format!("zellij:dev:{pane}"), "multiplexer": "zellij",
        "pane": pane.to_string(), "conversation": conv, "title": title, "turns": 2,
        "updated_at": "2026-12-02T10:00:00Z", "activity": "idle", "held_by": null,
    })
    .to_string()
}

fn pipe(name: &str, payload: &str) -> Input {
    Input::Pipe {
        name: name.into(),
        payload: Some(payload.into()),
        cli: None,
    }
}

/// A granted plugin in session `dev` with panes 1..=n (tab 0, pane 1 focused) and the initial
/// `sessions --json` answered with `sessions`.
fn ready(n: u32, sessions: &str) -> (State, Rec) {
    let mut s = State::new(Ok(Config::default()));
    let mut h = Rec::default();
    drive(&mut s, Input::SessionName("dev".into()), &mut h);
    drive(&mut s, Input::Tabs(tabs(1)), &mut h);
    drive(&mut s, Input::Permission(true), &mut h);
    let fx = h.take();
    drive(
        &mut s,
        Input::Panes(
            (1..=n)
                .map(|i| pane(i, 0, &format!("shell {i}"), i == 1))
                .collect(),
        ),
        &mut h,
    );
    h.effects = fx;
    let fx = h.take();
    let Some(Effect::Run { argv, context, env }) = fx.first().cloned() else {
        panic!("expected sessions --json first: {fx:?}")
    };
    assert_eq!(argv, ["panechat", "sessions", "--json"]);
    assert_eq!(
        env.get("ZELLIJ_SESSION_NAME").map(String::as_str),
        Some("dev")
    );
    drive(
        &mut s,
        Input::CommandDone {
            context,
            exit: Some(0),
            stdout: sessions.into(),
            stderr: String::new(),
        },
        &mut h,
    );
    (s, h)
}

/// Zellij reports the names the plugin set.
fn echo_renames(s: &mut State, h: &mut Rec, renames: &[(u32, String)]) {
    let mut panes = s.panes.clone();
    for (id, name) in renames {
        let p = panes.iter_mut().find(|p| p.id == *id).unwrap();
        p.title = if name.is_empty() {
            format!("shell {id}")
        } else {
            name.clone()
        };
    }
    drive(s, Input::Panes(panes), h);
}

#[test]
fn a_state_message_renames_its_pane_with_the_format() {
    let (mut s, mut h) = ready(3, "[]");
    assert!(h.take().is_empty());
    drive(
        &mut s,
        pipe(
            PIPE_STATE,
            &state_json(2, Some("01abc"), Some("Zellij layouts")),
        ),
        &mut h,
    );
    assert_eq!(h.renames(), [(2, "💬 Zellij layouts".to_string())]);
    // The same state again renames nothing.
    drive(
        &mut s,
        pipe(
            PIPE_STATE,
            &state_json(2, Some("01abc"), Some("Zellij layouts")),
        ),
        &mut h,
    );
    assert!(h.renames().is_empty());
}

#[test]
fn initial_sessions_rename_this_sessions_panes_only() {
    let sessions = format!(
        "[{},{},{}]",
        state_json(1, Some("01aaa"), Some("First")),
        state_json(3, Some("01ccc"), None),
        r#"{"schema":1,"key":"zellij:other:2","conversation":"01zzz","title":"Elsewhere"}"#
    );
    let (_s, mut h) = ready(3, &sessions);
    let mut r = h.renames();
    r.sort();
    assert_eq!(
        r,
        [(1, "💬 First".to_string()), (3, "💬 01ccc".to_string())],
        "untitled conversations show their short id; other sessions are left alone"
    );
}

#[test]
fn hostile_titles_are_renamed_literally_without_controls() {
    let (mut s, mut h) = ready(1, "[]");
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(1, Some("01abc"), Some(HOSTILE))),
        &mut h,
    );
    let r = h.renames();
    assert_eq!(r.len(), 1);
    let name = &r[0].1;
    assert!(
        name.starts_with("💬 #(touch M1) #[fg=red] ; kill-server $(touch M2)"),
        "{name:?}"
    );
    assert!(!name.chars().any(|c| c.is_control()), "{name:?}");
    assert!(name.chars().count() <= 60, "capped: {name:?}");
}

#[test]
fn kdl_looking_and_wide_titles_stay_text() {
    let (mut s, mut h) = ready(2, "[]");
    let kdl = "plugins { x location=\"file:/evil.wasm\" } // \"q\"";
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(1, Some("01a"), Some(kdl))),
        &mut h,
    );
    drive(
        &mut s,
        pipe(
            PIPE_STATE,
            &state_json(2, Some("01b"), Some("会話の要約 🧪")),
        ),
        &mut h,
    );
    let r = h.renames();
    assert_eq!(r[0].1, format!("💬 {kdl}"));
    assert_eq!(r[1].1, "💬 会話の要約 🧪");
}

#[test]
fn the_end_of_a_pipe_is_not_an_empty_title() {
    let (mut s, mut h) = ready(1, "[]");
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(1, Some("01a"), Some("Kept"))),
        &mut h,
    );
    h.take();
    let (fx, redraw) = s.handle(Input::Pipe {
        name: PIPE_STATE.into(),
        payload: None,
        cli: Some("pipe-1".into()),
    });
    assert!(fx.is_empty() && !redraw);
    assert_eq!(s.desired_name(1).as_deref(), Some("💬 Kept"));
}

#[test]
fn keybind_messages_without_payload_still_act() {
    let (mut s, mut h) = ready(2, "[]");
    drive(
        &mut s,
        Input::Pipe {
            name: PIPE_PICK.into(),
            payload: None,
            cli: None,
        },
        &mut h,
    );
    assert!(s.picker.open);
    assert_eq!(h.take()[0], Effect::Show);
}

#[test]
fn cli_pipes_are_unblocked_and_list_answers() {
    let (mut s, mut h) = ready(2, "[]");
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(2, Some("01b"), Some("B"))),
        &mut h,
    );
    h.take();
    drive(
        &mut s,
        Input::Pipe {
            name: PIPE_LIST.into(),
            payload: Some(String::new()),
            cli: Some("p7".into()),
        },
        &mut h,
    );
    let fx = h.take();
    let Effect::CliOutput { pipe, text } = &fx[0] else {
        panic!("{fx:?}")
    };
    assert_eq!(pipe, "p7");
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(v["panes"][1]["conversation_title"], "B");
    assert_eq!(fx[1], Effect::CliUnblock("p7".into()));
}

#[test]
fn a_pane_renamed_by_hand_is_left_alone_unless_configured() {
    let (mut s, mut h) = ready(2, "[]");
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(1, Some("01a"), Some("One"))),
        &mut h,
    );
    let r = h.renames();
    // A pane update from before the rename landed is not mistaken for a manual rename.
    let same = s.panes.clone();
    drive(&mut s, Input::Panes(same), &mut h);
    echo_renames(&mut s, &mut h, &r);
    // The user renames pane 1.
    let mut panes = s.panes.clone();
    panes[0].title = "my build".into();
    drive(&mut s, Input::Panes(panes.clone()), &mut h);
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(1, Some("01a"), Some("Retitled"))),
        &mut h,
    );
    assert!(h.renames().is_empty(), "hand-made name kept");

    let mut cfg = BTreeMap::new();
    cfg.insert("overwrite_renamed".to_string(), "true".to_string());
    s.cfg = Config::from_map(&cfg).unwrap();
    drive(&mut s, Input::Panes(panes), &mut h);
    assert_eq!(h.renames(), [(1, "💬 Retitled".to_string())]);
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(1, Some("01a"), Some("Again"))),
        &mut h,
    );
    assert_eq!(h.renames(), [(1, "💬 Again".to_string())]);
}

#[test]
fn the_terminal_title_panechat_sets_is_never_taken_for_a_hand_made_name() {
    let (mut s, mut h) = ready(2, "[]");
    drive(
        &mut s,
        pipe(
            PIPE_STATE,
            &state_json(1, Some("01a"), Some("Layouts (fork)")),
        ),
        &mut h,
    );
    let r = h.renames();
    echo_renames(&mut s, &mut h, &r);
    // The plugin's name was shown; then the fork pane's shell sets its terminal title (OSC 2)
    // and Zellij shows that instead.
    let mut panes = s.panes.clone();
    panes[0].title = "panechat: Layouts (fork)".into();
    drive(&mut s, Input::Panes(panes.clone()), &mut h);
    // The plugin's name is given back: a pane showing panechat's terminal title is never left
    // so (Zellij can show it over a name given as the pane opened).
    assert_eq!(h.renames(), [(1, "💬 Layouts (fork)".to_string())]);
    // ... a bounded number of times, should Zellij keep showing the terminal title.
    for _ in 0..10 {
        drive(&mut s, Input::Panes(panes.clone()), &mut h);
    }
    assert!(h.renames().len() <= 4);
    drive(
        &mut s,
        pipe(
            PIPE_STATE,
            &state_json(1, Some("01a"), Some("Renamed fork")),
        ),
        &mut h,
    );
    assert_eq!(h.renames(), [(1, "💬 Renamed fork".to_string())]);
}

#[test]
fn zellijs_own_label_over_the_plugins_name_is_not_a_hand_made_name() {
    let (mut s, mut h) = ready(2, "[]");
    drive(
        &mut s,
        pipe(
            PIPE_STATE,
            &state_json(1, Some("01a"), Some("Layouts (fork)")),
        ),
        &mut h,
    );
    let r = h.renames();
    echo_renames(&mut s, &mut h, &r);
    // Zellij shows its own label instead (the name given as the pane opened was lost).
    let mut panes = s.panes.clone();
    panes[0].title = "Pane #2".into();
    drive(&mut s, Input::Panes(panes), &mut h);
    assert_eq!(h.renames(), [(1, "💬 Layouts (fork)".to_string())]);
    assert!(s.list_json().contains("\"renamed_by_hand\":false"));
}

#[test]
fn a_quick_retitle_is_not_mistaken_for_a_hand_made_name() {
    let (mut s, mut h) = ready(1, "[]");
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(1, Some("01abcdefghijk"), None)),
        &mut h,
    );
    let first = h.renames();
    echo_renames(&mut s, &mut h, &first);
    drive(
        &mut s,
        pipe(
            PIPE_STATE,
            &state_json(1, Some("01abcdefghijk"), Some("Titled")),
        ),
        &mut h,
    );
    assert_eq!(h.renames(), [(1, "💬 Titled".to_string())]);
    // A pane update sent before the second rename landed still shows the first name.
    echo_renames(&mut s, &mut h, &first);
    echo_renames(&mut s, &mut h, &[(1, "💬 Titled".to_string())]);
    drive(
        &mut s,
        pipe(
            PIPE_STATE,
            &state_json(1, Some("01abcdefghijk"), Some("Retitled")),
        ),
        &mut h,
    );
    assert_eq!(h.renames(), [(1, "💬 Retitled".to_string())]);
}

#[test]
fn a_pane_that_loses_its_conversation_gets_its_own_name_back() {
    let (mut s, mut h) = ready(1, "[]");
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(1, Some("01a"), Some("One"))),
        &mut h,
    );
    let r = h.renames();
    echo_renames(&mut s, &mut h, &r);
    drive(&mut s, pipe(PIPE_STATE, &state_json(1, None, None)), &mut h);
    assert_eq!(h.renames(), [(1, String::new())]);
    // Panes that never had one are never touched.
    drive(&mut s, pipe(PIPE_STATE, &state_json(1, None, None)), &mut h);
    assert!(h.renames().is_empty());
}

#[test]
fn state_for_a_pane_not_yet_known_applies_when_it_appears() {
    let (mut s, mut h) = ready(1, "[]");
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(5, Some("01e"), Some("Later"))),
        &mut h,
    );
    assert!(h.renames().is_empty());
    let mut panes = s.panes.clone();
    panes.push(pane(5, 0, "shell 5", false));
    drive(&mut s, Input::Panes(panes), &mut h);
    assert_eq!(h.renames(), [(5, "💬 Later".to_string())]);
}

#[test]
fn nothing_is_renamed_or_run_before_a_grant_and_pane_updates_imply_one() {
    let mut s = State::new(Ok(Config::default()));
    let mut h = Rec::default();
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(1, Some("01a"), Some("A"))),
        &mut h,
    );
    assert!(h.take().is_empty());
    assert_eq!(s.granted, None);
    // Zellij sends pane updates only to plugins granted ReadApplicationState.
    drive(
        &mut s,
        Input::Panes(vec![pane(1, 0, "shell", true)]),
        &mut h,
    );
    let fx = h.take_granted();
    assert!(
        matches!(&fx[0], Effect::Run { argv, .. } if argv[1] == "sessions"),
        "{fx:?}"
    );
    assert_eq!(
        fx[1],
        Effect::Rename {
            pane: 1,
            name: "💬 A".into()
        }
    );
    // The answer to the request, when it comes after all, changes nothing.
    drive(&mut s, Input::Permission(true), &mut h);
    assert!(h.take().is_empty());
}

#[test]
fn session_and_tab_updates_also_show_a_grant_whose_answer_was_lost() {
    for first in [Input::SessionName("dev".into()), Input::Tabs(tabs(1))] {
        let mut s = State::new(Ok(Config::default()));
        let mut h = Rec::default();
        drive(&mut s, first, &mut h);
        assert_eq!(s.granted, Some(true));
        let fx = h.take_granted();
        assert!(
            matches!(&fx[..], [Effect::Run { argv, .. }] if argv[1] == "sessions"),
            "{fx:?}"
        );
    }
}

#[test]
fn a_granted_plugin_goes_to_the_background_unless_its_picker_shows() {
    // Loaded into a pane of its own (start-or-reload-plugin, zellij pipe --plugin): the grant
    // hides that pane.
    let mut s = State::new(Ok(Config::default()));
    let mut h = Rec::default();
    drive(&mut s, Input::Permission(true), &mut h);
    assert!(h.take().contains(&Effect::Hide));
    // Denied: the pane stays, saying so.
    let mut s = State::new(Ok(Config::default()));
    drive(&mut s, Input::Permission(false), &mut h);
    assert!(!h.take().contains(&Effect::Hide));
    // The picker opened before the grant was known stays open.
    let mut s = State::new(Ok(Config::default()));
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    assert!(s.picker.open, "{:?}", h.take());
    drive(
        &mut s,
        Input::Panes(vec![pane(1, 0, "shell", true)]),
        &mut h,
    );
    assert!(!h.take().contains(&Effect::Hide));
    assert!(s.picker.open);
}

#[test]
fn denied_permissions_and_bad_messages_say_so() {
    let mut s = State::new(Ok(Config::default()));
    let mut h = Rec::default();
    drive(&mut s, Input::Permission(false), &mut h);
    assert!(h.take().is_empty());
    assert!(s.status.as_deref().unwrap().contains("permissions denied"));
    let lines = render(&s, 5, 100, 0);
    assert!(lines.iter().any(|l| l.contains("permissions denied")));

    let (mut s, mut h) = ready(1, "[]");
    drive(&mut s, pipe(PIPE_STATE, "{not json"), &mut h);
    assert!(s
        .status
        .as_deref()
        .unwrap()
        .contains("ignored a panechat::state message"));
}

#[test]
fn a_missing_binary_is_named_on_screen() {
    let mut s = State::new(Ok(Config::default()));
    let mut h = Rec::default();
    drive(&mut s, Input::Permission(true), &mut h);
    let Some(Effect::Run { context, .. }) = h.take_granted().pop() else {
        panic!()
    };
    drive(
        &mut s,
        Input::CommandDone {
            context: context.clone(),
            exit: None,
            stdout: String::new(),
            stderr: String::new(),
        },
        &mut h,
    );
    let msg = s.status.clone().unwrap();
    assert!(
        msg.contains("could not run `panechat`") && msg.contains("PATH"),
        "{msg}"
    );
    drive(
        &mut s,
        Input::CommandDone {
            context,
            exit: Some(1),
            stdout: String::new(),
            stderr: "\npanechat: the store is damaged\x1b[31m\n".into(),
        },
        &mut h,
    );
    // The escape is gone (it separates words, as in every text panechat makes inert).
    assert_eq!(
        s.status.as_deref(),
        Some("`panechat sessions` failed: panechat: the store is damaged [31m")
    );
}

#[test]
fn the_plugin_names_its_build_and_shows_what_panechat_says_of_it() {
    let mut s = State::new(Ok(Config::default()));
    s.build = "0.1.0+00000000000000aa".into();
    let mut h = Rec::default();
    drive(&mut s, Input::Permission(true), &mut h);
    let Some(Effect::Run { context, env, .. }) = h.take_granted().pop() else {
        panic!()
    };
    assert_eq!(
        env.get("PANECHAT_ZELLIJ_PLUGIN_BUILD").map(String::as_str),
        Some("0.1.0+00000000000000aa")
    );
    drive(
        &mut s,
        Input::CommandDone {
            context,
            exit: Some(0),
            stdout: "[]".into(),
            stderr: "panechat: this Zellij plugin (build 0.1.0+00000000000000aa) is not the one \
                     this panechat carries\n"
                .into(),
        },
        &mut h,
    );
    let msg = s.status.clone().unwrap_or_default();
    assert!(
        msg.contains("is not the one this panechat carries"),
        "{msg}"
    );
    assert!(s
        .list_json()
        .contains("\"build\":\"0.1.0+00000000000000aa\""));
}

#[test]
fn one_sessions_run_at_a_time() {
    let (mut s, mut h) = ready(1, "[]");
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    let runs = |fx: &[Effect]| {
        fx.iter()
            .filter(|e| matches!(e, Effect::Run { .. }))
            .count()
    };
    let fx = h.take();
    assert_eq!(runs(&fx), 1);
    drive(&mut s, Input::Key(Key::Esc), &mut h);
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    assert_eq!(runs(&h.take()), 0, "still running: folded");
    let Some(Effect::Run { context, .. }) =
        fx.into_iter().find(|e| matches!(e, Effect::Run { .. }))
    else {
        panic!()
    };
    drive(
        &mut s,
        Input::CommandDone {
            context,
            exit: Some(0),
            stdout: "[]".into(),
            stderr: String::new(),
        },
        &mut h,
    );
    assert_eq!(
        runs(&h.take()),
        1,
        "the folded request runs once afterwards"
    );
}

fn many(n: u32) -> (State, Rec) {
    let sessions: Vec<String> = (1..=n)
        .filter(|i| i % 4 != 0)
        .map(|i| {
            state_json(
                i,
                Some(&format!("01conv{i:04}")),
                Some(&format!("Topic number {i}")),
            )
        })
        .collect();
    let (mut s, mut h) = ready(n, &format!("[{}]", sessions.join(",")));
    // Spread over 4 tabs, pane 37 focused.
    let mut panes = s.panes.clone();
    for p in &mut panes {
        p.tab = (p.id as usize) % 4;
        p.focused = p.id == 37;
    }
    drive(&mut s, Input::Tabs(tabs(4)), &mut h);
    let mut t = tabs(4);
    t[0].active = false;
    t[1].active = true;
    drive(&mut s, Input::Tabs(t), &mut h);
    drive(&mut s, Input::Panes(panes), &mut h);
    h.take();
    (s, h)
}

#[test]
fn the_picker_lists_200_panes_the_focused_one_first_and_fits_the_pane() {
    let (mut s, mut h) = many(200);
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    assert_eq!(h.take()[0], Effect::Show);
    assert_eq!(s.picker.origin, Some(37));
    let rows = s.filtered();
    assert_eq!(rows.len(), 200);
    assert_eq!(rows[0].pane.id, 37);
    for (rows_n, cols) in [(30, 120), (10, 40), (3, 20), (50, 200)] {
        let lines = render(&s, rows_n, cols, 1_796_205_660);
        assert_eq!(lines.len(), rows_n, "{rows_n}x{cols}");
        for l in &lines {
            assert_eq!(width(&plain(l)), cols, "{l:?}");
        }
    }
    let lines: Vec<String> = render(&s, 30, 120, 1_796_205_660)
        .iter()
        .map(|l| plain(l))
        .collect();
    assert!(lines[0].contains("200 of 200 panes"), "{}", lines[0]);
    assert!(
        lines[1].starts_with("▸ Tab #2") && lines[1].contains("Topic number 37"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains("2t") && lines[1].contains("1m"),
        "{}",
        lines[1]
    );
    assert!(lines[29].contains("Enter focus"));
}

#[test]
fn typing_filters_fuzzily_and_enter_focuses_the_choice() {
    let (mut s, mut h) = many(200);
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    h.take();
    for c in "topic 142".chars() {
        drive(&mut s, Input::Key(Key::Char(c)), &mut h);
    }
    let rows = s.filtered();
    assert_eq!(
        rows[0].pane.id,
        142,
        "{:?}",
        rows.iter().map(|r| r.pane.id).collect::<Vec<_>>()
    );
    let lines: Vec<String> = render(&s, 10, 100, 0).iter().map(|l| plain(l)).collect();
    assert!(lines[0].contains("filter: topic 142"));
    h.take();
    drive(&mut s, Input::Key(Key::Enter), &mut h);
    assert_eq!(h.take(), [Effect::Hide, Effect::Focus(142)]);
    assert!(!s.picker.open);
}

#[test]
fn arrows_move_and_backspace_widens() {
    let (mut s, mut h) = many(20);
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    drive(&mut s, Input::Key(Key::Char('z')), &mut h);
    drive(&mut s, Input::Key(Key::Char('z')), &mut h);
    drive(&mut s, Input::Key(Key::Char('q')), &mut h);
    assert!(s.filtered().is_empty());
    let lines: Vec<String> = render(&s, 6, 60, 0).iter().map(|l| plain(l)).collect();
    assert!(lines.iter().any(|l| l.contains("no pane matches")));
    drive(&mut s, Input::Key(Key::Enter), &mut h);
    for _ in 0..3 {
        drive(&mut s, Input::Key(Key::Backspace), &mut h);
    }
    drive(&mut s, Input::Key(Key::Down), &mut h);
    drive(&mut s, Input::Key(Key::Down), &mut h);
    drive(&mut s, Input::Key(Key::Up), &mut h);
    h.take();
    let second = s.filtered()[1].pane.id;
    drive(&mut s, Input::Key(Key::Enter), &mut h);
    assert_eq!(h.take(), [Effect::Hide, Effect::Focus(second)]);
}

#[test]
fn picker_keys_fork_new_and_use() {
    let (mut s, mut h) = many(8);
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    h.take();
    // Select pane 2 (row order: 37 is absent here, so origin is None -> tab order).
    s.picker.origin = Some(1);
    let idx = s.filtered().iter().position(|r| r.pane.id == 2).unwrap();
    s.picker.selected = idx;
    drive(&mut s, Input::Key(Key::Ctrl('f')), &mut h);
    assert_eq!(
        h.take(),
        [
            Effect::Hide,
            Effect::Focus(2),
            Effect::OpenPane {
                argv: vec![
                    "panechat".into(),
                    "fork".into(),
                    "01conv0002".into(),
                    "--exec-shell".into()
                ],
                cwd_of: Some(2),
                name: "💬 Topic number 2 (fork)".into(),
                placement: Placement::Beside(2),
            }
        ]
    );

    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    s.picker.origin = Some(1);
    s.picker.selected = s.filtered().iter().position(|r| r.pane.id == 3).unwrap();
    h.take();
    drive(&mut s, Input::Key(Key::Ctrl('u')), &mut h);
    let fx = h.take();
    assert_eq!(fx[0], Effect::Hide);
    let Effect::Run { argv, .. } = &fx[1] else {
        panic!("{fx:?}")
    };
    assert_eq!(
        argv,
        &[
            "panechat",
            "use",
            "01conv0003",
            "--session",
            "pane:terminal_1"
        ]
    );

    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    s.picker.selected = s.filtered().iter().position(|r| r.pane.id == 3).unwrap();
    h.take();
    drive(&mut s, Input::Key(Key::Ctrl('e')), &mut h);
    let fx = h.take();
    assert!(
        matches!(
            fx[2],
            Effect::OpenTerminal {
                cwd_of: Some(3),
                ..
            }
        ),
        "{fx:?}"
    );
    let Effect::Run { argv, .. } = &fx[3] else {
        panic!("{fx:?}")
    };
    assert_eq!(argv, &["panechat", "new", "--session", "pane:terminal_101"]);

    // A pane without a conversation cannot be forked: said on screen, picker stays.
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    s.picker.selected = s.filtered().iter().position(|r| r.pane.id == 4).unwrap();
    h.take();
    drive(&mut s, Input::Key(Key::Ctrl('f')), &mut h);
    assert!(h.take().is_empty());
    assert!(s.picker.open);
    assert_eq!(
        s.status.as_deref(),
        Some("Pane #5 has no conversation to fork")
    );
}

#[test]
fn the_fork_key_forks_the_focused_pane() {
    let (mut s, mut h) = ready(3, &format!("[{}]", state_json(1, Some("01a"), Some("A"))));
    h.take();
    drive(&mut s, pipe(PIPE_FORK, ""), &mut h);
    let fx = h.take();
    // An ordinary pane (it closes with its shell) beside pane 1, named after the fork.
    assert_eq!(
        fx,
        [Effect::OpenPane {
            argv: ["panechat", "fork", "01a", "--exec-shell"]
                .map(String::from)
                .to_vec(),
            cwd_of: Some(1),
            name: "💬 A (fork)".into(),
            placement: Placement::Beside(1),
        }]
    );
}

#[test]
fn running_and_locked_panes_are_marked() {
    let (mut s, mut h) = ready(2, "[]");
    let busy = serde_json::json!({
        "schema":1,"session":"zellij:dev:2","multiplexer":"zellij","pane":"2",
        "conversation":"01b","title":"Busy","turns":4,"activity":"waiting",
        "held_by":{"session":"zellij:dev:1","multiplexer":"zellij","pane":"1","pid":9}
    });
    drive(&mut s, pipe(PIPE_STATE, &busy.to_string()), &mut h);
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    let lines: Vec<String> = render(&s, 8, 120, 0).iter().map(|l| plain(l)).collect();
    let row = lines.iter().find(|l| l.contains("Busy")).unwrap();
    assert!(row.contains("● waiting locked by Pane #2"), "{row}");
}

#[test]
fn hostile_titles_render_inert_at_any_width() {
    let (mut s, mut h) = ready(3, "[]");
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(1, Some("01a"), Some(HOSTILE))),
        &mut h,
    );
    drive(
        &mut s,
        pipe(
            PIPE_STATE,
            &state_json(
                2,
                Some("01b"),
                Some("全角の題名がとても長い場合の表示テスト"),
            ),
        ),
        &mut h,
    );
    let mut panes = s.panes.clone();
    panes[2].title = "tab\x1b[2Jname\u{7}".into();
    drive(&mut s, Input::Panes(panes), &mut h);
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    for cols in [1, 7, 33, 80] {
        for l in render(&s, 6, cols, 0) {
            let p = plain(&l);
            assert_eq!(width(&p), cols, "{p:?}");
            assert!(!p.chars().any(|c| c.is_control()), "{p:?}");
        }
    }
}

#[test]
fn bad_options_are_shown_and_defaults_used() {
    let mut cfg = BTreeMap::new();
    cfg.insert("rename_panes".to_string(), "sometimes".to_string());
    let s = State::new(Config::from_map(&cfg));
    assert!(s.cfg.rename_panes);
    let lines = render(&s, 3, 90, 0);
    assert!(lines[0].contains("option `rename_panes`"), "{lines:?}");
}

fn stamped(pane: u32, title: &str, activity: &str, stamp: u64) -> String {
    serde_json::json!({
        "schema": 1, "session": format!("zellij:dev:{pane}"), "multiplexer": "zellij",
        "pane": pane.to_string(), "conversation": "01a", "title": title, "turns": 2,
        "updated_at": "2026-12-02T10:00:00Z", "activity": activity, "held_by": null,
        "stamp": stamp,
    })
    .to_string()
}

#[test]
fn a_state_that_arrives_after_a_newer_one_of_its_pane_is_dropped() {
    let (mut s, mut h) = ready(2, "[]");
    // The newer state (stamp 20) overtook the older one (stamp 10) on the way.
    drive(
        &mut s,
        pipe(PIPE_STATE, &stamped(1, "New", "idle", 20)),
        &mut h,
    );
    assert_eq!(h.renames(), [(1, "💬 New".to_string())]);
    drive(
        &mut s,
        pipe(PIPE_STATE, &stamped(1, "Old", "titling", 10)),
        &mut h,
    );
    assert!(h.renames().is_empty());
    assert_eq!(s.convs[&1].title.as_deref(), Some("New"));
    assert_eq!(s.convs[&1].activity, "idle");
    // Another pane's stamps are its own; a newer state of pane 1 applies.
    drive(
        &mut s,
        pipe(PIPE_STATE, &stamped(2, "Two", "idle", 5)),
        &mut h,
    );
    assert_eq!(h.renames(), [(2, "💬 Two".to_string())]);
    drive(
        &mut s,
        pipe(PIPE_STATE, &stamped(1, "Newer", "idle", 30)),
        &mut h,
    );
    assert_eq!(h.renames(), [(1, "💬 Newer".to_string())]);
    // A state without a stamp (an older panechat) always applies.
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(1, Some("01a"), Some("Plain"))),
        &mut h,
    );
    assert_eq!(h.renames(), [(1, "💬 Plain".to_string())]);
}

#[test]
fn a_sessions_listing_asked_for_before_a_state_message_does_not_overwrite_it() {
    let (mut s, mut h) = ready(2, "[]");
    // The picker opens: a `sessions --json` starts...
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    let context = h
        .take()
        .into_iter()
        .find_map(|e| match e {
            Effect::Run { context, .. } => Some(context),
            _ => None,
        })
        .expect("sessions --json");
    // ... a state message arrives while it runs ...
    drive(
        &mut s,
        pipe(PIPE_STATE, &stamped(1, "Fresh", "idle", 50)),
        &mut h,
    );
    // ... and its output, read before that change, comes last.
    let listing = format!(
        "[{},{}]",
        stamped(1, "Stale", "streaming", 1).replace(",\"stamp\":1", ""),
        state_json(2, Some("01b"), Some("Other"))
    );
    drive(
        &mut s,
        Input::CommandDone {
            context,
            exit: Some(0),
            stdout: listing,
            stderr: String::new(),
        },
        &mut h,
    );
    assert_eq!(s.convs[&1].title.as_deref(), Some("Fresh"));
    assert_eq!(s.convs[&2].title.as_deref(), Some("Other"));
    // The next listing applies to pane 1 again.
    drive(&mut s, Input::Key(Key::Esc), &mut h);
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    let context = h
        .take()
        .into_iter()
        .find_map(|e| match e {
            Effect::Run { context, .. } => Some(context),
            _ => None,
        })
        .expect("sessions --json");
    drive(
        &mut s,
        Input::CommandDone {
            context,
            exit: Some(0),
            stdout: format!("[{}]", state_json(1, Some("01a"), Some("Later"))),
            stderr: String::new(),
        },
        &mut h,
    );
    assert_eq!(s.convs[&1].title.as_deref(), Some("Later"));
    assert!(!s.convs.contains_key(&2), "pane 2 lost its conversation");
}

#[test]
fn the_ask_key_opens_a_floating_pane_that_asks_about_the_focused_pane() {
    let (mut s, mut h) = ready(3, "[]");
    // Pane 2 has the focus.
    let panes = (1..=3)
        .map(|i| pane(i, 0, &format!("shell {i}"), i == 2))
        .collect();
    drive(&mut s, Input::Panes(panes), &mut h);
    h.take();
    drive(&mut s, pipe(PIPE_ASK, ""), &mut h);
    let fx = h.take();
    let [Effect::OpenPane {
        argv,
        cwd_of,
        name,
        placement,
    }] = fx.as_slice()
    else {
        panic!("{fx:?}")
    };
    assert_eq!(
        argv,
        &[
            "panechat",
            "q",
            "--session",
            "pane:terminal_2",
            "--pane",
            "--prompt",
            "--hold"
        ]
    );
    assert_eq!(*cwd_of, Some(2));
    // A floating pane that closes when its command ends (after the key `--hold` waits for),
    // named after the pane it asks about, not after its command line.
    assert_eq!(*placement, Placement::Floating);
    assert_eq!(name, "panechat: ask about shell 2");
}

#[test]
fn the_ask_key_follows_a_floating_terminal_and_says_when_nothing_is_focused() {
    let (mut s, mut h) = ready(2, "[]");
    let mut panes: Vec<Pane> = (1..=2).map(|i| pane(i, 0, "sh", i == 1)).collect();
    panes.push(Pane {
        floating: true,
        ..pane(5, 0, "floating", true)
    });
    drive(&mut s, Input::Panes(panes), &mut h);
    let mut t = tabs(1);
    t[0].floating_visible = true;
    drive(&mut s, Input::Tabs(t), &mut h);
    h.take();
    drive(&mut s, pipe(PIPE_ASK, ""), &mut h);
    match h.take().as_slice() {
        [Effect::OpenPane { argv, cwd_of, .. }] => {
            assert_eq!(argv[3], "pane:terminal_5");
            assert_eq!(*cwd_of, Some(5));
        }
        fx => panic!("{fx:?}"),
    }
    // No terminal pane focused in the active tab: a line says so, nothing opens.
    drive(
        &mut s,
        Input::Panes(vec![pane(1, 1, "other tab", true)]),
        &mut h,
    );
    h.take();
    drive(&mut s, pipe(PIPE_ASK, ""), &mut h);
    assert!(h.take().is_empty());
    assert!(s
        .status
        .as_deref()
        .unwrap()
        .contains("nothing to ask about"));
}

#[test]
fn the_ask_key_waits_for_the_permissions() {
    let mut s = State::new(Ok(Config::default()));
    let mut h = Rec::default();
    drive(&mut s, pipe(PIPE_ASK, ""), &mut h);
    assert!(h.take().is_empty());
    assert!(s.status.as_deref().unwrap().contains("permissions"));
}

#[test]
fn an_update_without_terminal_panes_forgets_nothing() {
    let (mut s, mut h) = ready(2, "[]");
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(2, Some("01abc"), Some("Kept"))),
        &mut h,
    );
    h.take();
    // (Zellij now and then sends a manifest with plugin panes only)
    drive(&mut s, Input::Panes(Vec::new()), &mut h);
    let list: serde_json::Value = serde_json::from_str(&s.list_json()).unwrap();
    let panes = list["panes"].as_array().unwrap();
    assert_eq!(panes.len(), 2, "{list}");
    assert!(panes
        .iter()
        .any(|p| p["pane"] == 2 && p["conversation"] == "01abc"));
}

fn cli(name: &str, payload: &str, id: &str) -> Input {
    Input::Pipe {
        name: name.into(),
        payload: Some(payload.into()),
        cli: Some(id.into()),
    }
}

fn ack(pipe: &str) -> Effect {
    Effect::CliOutput {
        pipe: pipe.into(),
        text: "ok\n".into(),
    }
}

fn clients(ids: &[(u16, bool)]) -> Option<Vec<Client>> {
    Some(
        ids.iter()
            .map(|&(id, current)| Client {
                id,
                current,
                pane: None,
            })
            .collect(),
    )
}

#[test]
fn a_state_renames_only_once_zellij_says_the_client_is_attached() {
    let (mut s, mut h) = ready(2, "[]");
    h.take();
    let (fx, _) = s.handle(cli(
        PIPE_STATE,
        &state_json(2, Some("01b"), Some("B")),
        "p1",
    ));
    assert_eq!(
        fx,
        [
            // (whether pane 2's name is one given by hand, before its first conversation names it)
            Effect::ReadNames,
            Effect::ListClients,
            Effect::CliOutput {
                pipe: "p1".into(),
                text: "ok\n".into()
            },
            Effect::CliUnblock("p1".into())
        ],
        "no rename before the answer; the message is acknowledged"
    );
    let (fx, _) = s.handle(Input::Names(Vec::new()));
    assert_eq!(fx, [Effect::ListClients]);
    let (fx, _) = s.handle(Input::Clients(vec![Client {
        id: 3,
        current: true,
        pane: None,
    }]));
    assert_eq!(
        fx,
        [Effect::Rename {
            pane: 2,
            name: "💬 B".into()
        }]
    );
    // A later answer renames nothing again.
    let (fx, _) = s.handle(Input::Clients(vec![Client {
        id: 3,
        current: true,
        pane: None,
    }]));
    assert!(fx.is_empty(), "{fx:?}");
    let (fx, _) = s.handle(cli(PIPE_LIST, "", "p2"));
    assert!(
        matches!(&fx[0], Effect::CliOutput { pipe, text } if pipe == "p2" && text.contains("\"leader\":true")),
        "{fx:?}"
    );
}

#[test]
fn the_instance_of_a_client_that_left_renames_nothing_and_answers_no_list() {
    // Zellij keeps the plugin instance of a client that detached: it gets no more pane
    // updates but every pipe message. Renaming from what it knew then would undo what
    // happened since (here: the user's own name for pane 1).
    let (mut s, mut h) = ready(2, "[]");
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(1, Some("01a"), Some("One"))),
        &mut h,
    );
    let r = h.renames();
    echo_renames(&mut s, &mut h, &r);
    h.clients = clients(&[(2, false)]);
    drive(
        &mut s,
        cli(
            PIPE_STATE,
            &state_json(1, Some("01a"), Some("Retitled")),
            "p1",
        ),
        &mut h,
    );
    drive(&mut s, cli(PIPE_LIST, "", "p2"), &mut h);
    assert_eq!(
        h.take(),
        [
            ack("p1"),
            Effect::CliUnblock("p1".into()),
            Effect::CliUnblock("p2".into())
        ],
        "no rename, no answer"
    );
    assert_eq!(s.live, Some(false));
    // Asked for every instance's view, it answers.
    drive(&mut s, cli(PIPE_LIST, "all", "p3"), &mut h);
    assert!(
        matches!(&h.take()[0], Effect::CliOutput { text, .. } if text.contains("\"leader\":false")),
    );
    // A client attaches again with its number: the instance is back and reloads.
    h.clients = clients(&[(1, true), (2, false)]);
    drive(&mut s, Input::ClientCount(2), &mut h);
    assert!(
        matches!(&h.take()[..], [Effect::Run { argv, .. }] if argv[1] == "sessions"),
        "reloaded"
    );
}

#[test]
fn one_instance_renames_and_another_takes_over_when_its_client_leaves() {
    // Instance of client 2, while client 1 is attached too.
    let (mut s, mut h) = ready(2, "[]");
    h.clients = clients(&[(1, false), (2, true)]);
    drive(&mut s, Input::ClientCount(2), &mut h);
    assert!(!s.leader);
    drive(
        &mut s,
        cli(PIPE_STATE, &state_json(1, Some("01a"), Some("One")), "p1"),
        &mut h,
    );
    drive(&mut s, cli(PIPE_LIST, "", "p2"), &mut h);
    assert_eq!(
        h.take(),
        [
            ack("p1"),
            Effect::CliUnblock("p1".into()),
            Effect::CliUnblock("p2".into())
        ],
        "the other instance renames and answers"
    );
    // It still knows the conversation (its client's picker shows it)...
    assert_eq!(s.rows()[0].conv.map(|c| c.id.as_str()), Some("01a"));
    // ...and does not take the name the other instance gave for a rename by hand, even when
    // the pane update comes before the state.
    drive(
        &mut s,
        cli(PIPE_STATE, &state_json(2, Some("01b"), Some("Two")), "p3"),
        &mut h,
    );
    h.take();
    let mut panes = s.panes.clone();
    panes[0].title = "💬 One".into();
    panes[1].title = "💬 Two".into();
    drive(&mut s, Input::Panes(panes.clone()), &mut h);
    panes[1].title = "💬 Two again".into();
    drive(&mut s, Input::Panes(panes.clone()), &mut h);
    drive(
        &mut s,
        cli(
            PIPE_STATE,
            &state_json(2, Some("01b"), Some("Two again")),
            "p4",
        ),
        &mut h,
    );
    h.take();
    let v: serde_json::Value = serde_json::from_str(&s.list_json()).unwrap();
    assert_eq!(v["panes"][1]["renamed_by_hand"], false, "{v}");
    // Pane 1 is retitled, and client 1 leaves before its instance renamed the pane: this
    // instance renames from now on, that pane too.
    drive(
        &mut s,
        cli(
            PIPE_STATE,
            &state_json(1, Some("01a"), Some("One bis")),
            "p5",
        ),
        &mut h,
    );
    assert!(h.renames().is_empty());
    h.clients = clients(&[(2, true)]);
    drive(&mut s, Input::ClientCount(1), &mut h);
    assert!(s.leader);
    assert_eq!(h.renames(), [(1, "💬 One bis".to_string())]);
    // A pane the user renamed stays as it is.
    panes[0].title = "my build".into();
    drive(&mut s, Input::Panes(panes), &mut h);
    drive(
        &mut s,
        cli(
            PIPE_STATE,
            &state_json(1, Some("01a"), Some("One ter")),
            "p6",
        ),
        &mut h,
    );
    assert!(h.renames().is_empty());
}

#[test]
fn states_heard_before_any_client_attached_name_the_panes_once_one_does() {
    // A session started in the background: the plugin runs before any client is attached.
    let (mut s, mut h) = ready(2, "[]");
    h.clients = clients(&[]);
    drive(&mut s, Input::ClientCount(0), &mut h);
    assert_eq!(s.live, Some(false));
    drive(
        &mut s,
        cli(PIPE_STATE, &state_json(1, Some("01a"), Some("Early")), "p1"),
        &mut h,
    );
    assert!(h.renames().is_empty());
    // A client attaches (with this instance's number): a reload, then the pane update names the
    // pane (and leaves pane 2, without a conversation, as it is).
    h.clients = clients(&[(1, true)]);
    drive(&mut s, Input::ClientCount(1), &mut h);
    let fx = h.take();
    assert!(
        matches!(&fx[..], [Effect::Run { argv, .. }] if argv[1] == "sessions"),
        "{fx:?}"
    );
    let mut panes = s.panes.clone();
    panes[1].title = "mine".into();
    drive(&mut s, Input::Panes(panes), &mut h);
    assert_eq!(h.renames(), [(1, "💬 Early".to_string())]);
}

#[test]
fn keys_act_on_the_pane_the_pressing_client_focused() {
    // Two clients focus different panes of one tab: Zellij marks both focused.
    let sessions = format!(
        "[{},{}]",
        state_json(1, Some("01a"), Some("A")),
        state_json(2, Some("01b"), Some("B"))
    );
    let (mut s, mut h) = ready(2, &sessions);
    let mut panes = s.panes.clone();
    panes[1].focused = true;
    drive(&mut s, Input::Panes(panes), &mut h);
    h.take();
    // This instance's client has pane 2.
    h.clients = Some(vec![
        Client {
            id: 1,
            current: false,
            pane: Some(1),
        },
        Client {
            id: 2,
            current: true,
            pane: Some(2),
        },
    ]);
    drive(&mut s, Input::ClientCount(2), &mut h);
    h.take();
    // The key (pressed by client 2, Zellij says) waits for Zellij's answer, then forks pane
    // 2's conversation.
    drive(&mut s, Input::KeyBy(2), &mut h);
    let (fx, _) = s.handle(pipe(PIPE_FORK, ""));
    assert_eq!(fx, [Effect::ListClients]);
    let answer = Input::Clients(h.clients.clone().unwrap());
    drive(&mut s, answer, &mut h);
    let fx = h.take();
    assert_eq!(fx.len(), 1, "{fx:?}");
    let Effect::OpenPane { argv, cwd_of, .. } = &fx[0] else {
        panic!("{fx:?}")
    };
    assert_eq!(argv, &["panechat", "fork", "01b", "--exec-shell"]);
    assert_eq!(*cwd_of, Some(2));
    // The picker opened by this client starts at its pane.
    drive(&mut s, Input::KeyBy(2), &mut h);
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    assert!(s.picker.open);
    assert_eq!(s.picker.origin, Some(2));
}

#[test]
fn the_instance_of_a_client_that_left_ignores_keys() {
    // Zellij sends a key's message to every instance of the plugin.
    let (mut s, mut h) = ready(2, &format!("[{}]", state_json(1, Some("01a"), Some("A"))));
    h.take();
    h.clients = clients(&[(2, false)]);
    for key in [PIPE_FORK, PIPE_ASK, PIPE_PICK] {
        drive(&mut s, pipe(key, ""), &mut h);
    }
    assert!(h.take().is_empty());
    assert!(!s.picker.open);
}

#[test]
fn who_presses_keys_is_heard_only_while_several_clients_are_attached() {
    // Zellij 0.45.1 logs an error for each action it cannot pass to a plugin that hears every
    // action (`zellij pipe`, `zellij action list-panes`, …): with one client attached the
    // plugin does not listen, and a key is that client's.
    let (mut s, mut h) = ready(1, &format!("[{}]", state_json(1, Some("01a"), Some("A"))));
    drive(&mut s, Input::ClientCount(1), &mut h);
    assert!(!h.watching);
    h.take();
    drive(&mut s, pipe(PIPE_FORK, ""), &mut h);
    assert!(
        matches!(h.take().as_slice(), [Effect::OpenPane { .. }]),
        "the only client's key acts"
    );
    // A second client: it listens, and a key's message acts where Zellij says it was pressed.
    h.clients = clients(&[(1, true), (2, false)]);
    drive(&mut s, Input::ClientCount(2), &mut h);
    assert!(h.watching);
    h.take();
    drive(&mut s, Input::KeyBy(2), &mut h);
    drive(&mut s, pipe(PIPE_FORK, ""), &mut h);
    assert!(
        h.take().is_empty(),
        "client 2's key acted in client 1's instance"
    );
    // A key's message with no word of who pressed it: only the instance that acts for the
    // session acts, once.
    let mut other = s.clone();
    drive(&mut s, pipe(PIPE_FORK, ""), &mut h);
    assert_eq!(h.take().len(), 1, "the instance that acts for the session");
    let mine = clients(&[(1, false), (2, true)]);
    drive(&mut other, Input::Clients(mine.clone().unwrap()), &mut h);
    h.clients = mine;
    h.take();
    drive(&mut other, pipe(PIPE_FORK, ""), &mut h);
    assert!(h.take().is_empty(), "a second instance acted");
    // Alone again: it stops listening.
    h.clients = clients(&[(1, true)]);
    drive(&mut s, Input::ClientCount(1), &mut h);
    assert!(!h.watching);
    assert_eq!(h.watch_changes, 2);
}

#[test]
fn a_key_acts_only_in_the_instance_of_the_client_that_pressed_it() {
    // Zellij sends a key's message to the instance of every client, and says just before (a
    // `UserAction`) which client pressed a key bound to a plugin message.
    let sessions = format!(
        "[{},{}]",
        state_json(1, Some("01a"), Some("A")),
        state_json(2, Some("01b"), Some("B"))
    );
    let (mut s, mut h) = ready(2, &sessions);
    h.take();
    // This instance is client 1's (on pane 1); client 2 is on pane 2.
    h.clients = Some(vec![
        Client {
            id: 1,
            current: true,
            pane: Some(1),
        },
        Client {
            id: 2,
            current: false,
            pane: Some(2),
        },
    ]);
    drive(&mut s, Input::Clients(h.clients.clone().unwrap()), &mut h);
    h.take();
    // Client 2 presses each key: this instance does nothing, asks nothing.
    let asked = h.asked;
    for key in [PIPE_FORK, PIPE_ASK, PIPE_PICK] {
        drive(&mut s, Input::KeyBy(2), &mut h);
        drive(&mut s, pipe(key, ""), &mut h);
    }
    assert!(h.take().is_empty());
    assert_eq!(h.asked, asked);
    assert!(!s.picker.open);
    // Zellij shows client 2's picker (a floating pane) to this client too, with the focus: Esc
    // here closes it.
    drive(&mut s, Input::Key(Key::Esc), &mut h);
    assert_eq!(h.take(), [Effect::Hide]);
    // Client 1 presses Alt y: one fork, of its own pane.
    drive(&mut s, Input::KeyBy(1), &mut h);
    drive(&mut s, pipe(PIPE_FORK, ""), &mut h);
    let fx = h.take();
    assert!(
        matches!(
            fx.as_slice(),
            [Effect::OpenPane {
                placement: Placement::Beside(1),
                ..
            }]
        ),
        "{fx:?}"
    );
    // Two presses in one instant (client 2's, then client 1's) before either message: the
    // word of who pressed is one slot (another plugin's keys fill it too, so the newest
    // press is the one that counts), and a message that finds it empty is acted on by the
    // instance that acts for the session alone, so each press makes one fork, never two.
    drive(&mut s, Input::KeyBy(2), &mut h);
    drive(&mut s, Input::KeyBy(1), &mut h);
    drive(&mut s, pipe(PIPE_FORK, ""), &mut h);
    assert_eq!(h.take().len(), 1);
    let before = s.clone();
    drive(&mut s, pipe(PIPE_FORK, ""), &mut h);
    assert_eq!(h.take().len(), 1, "this instance acts for the session");
    // Client 2's instance, told the same, acts on neither: one fork per press, not two.
    let mut s2 = before;
    let mine: Vec<Client> = h
        .clients
        .clone()
        .unwrap()
        .into_iter()
        .map(|mut c| {
            c.current = c.id == 2;
            c
        })
        .collect();
    drive(&mut s2, Input::Clients(mine), &mut h);
    h.take();
    drive(&mut s2, Input::KeyBy(2), &mut h);
    drive(&mut s2, Input::KeyBy(1), &mut h);
    drive(&mut s2, pipe(PIPE_FORK, ""), &mut h);
    drive(&mut s2, pipe(PIPE_FORK, ""), &mut h);
    assert!(h.take().is_empty(), "client 2's instance forked too");
    // Each press is one message: the next message with no word of who pressed it (a message
    // from `zellij pipe`) is acted on only by the instance that acts for the session (this one:
    // client 1 has the smallest id).
    drive(&mut s, cli(PIPE_PICK, "", "p1"), &mut h);
    assert!(s.picker.open);
    assert_eq!(s.picker.origin, Some(1));
}

#[test]
fn the_pick_key_toggles_the_picker() {
    let (mut s, mut h) = ready(2, "[]");
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    assert!(s.picker.open);
    assert!(h.take().contains(&Effect::Show));
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    assert!(!s.picker.open);
    assert!(h.take().contains(&Effect::Hide));
}

/// A plugin (re)loaded into a session whose panes already have names: pane 1 the plugin's for
/// its conversation, pane 2 the user's, pane 3 the plugin's for a conversation pane 3 no longer
/// has (a session brought back), pane 4 its program's title.
fn reloaded(cfg: Config) -> (State, Rec) {
    let mut s = State::new(Ok(cfg));
    let mut h = Rec {
        given: vec!["💬 One".into(), "my build".into(), "💬 Gone".into()],
        ..Rec::default()
    };
    drive(&mut s, Input::SessionName("dev".into()), &mut h);
    drive(&mut s, Input::Tabs(tabs(1)), &mut h);
    drive(&mut s, Input::Permission(true), &mut h);
    let titles = ["💬 One", "my build", "💬 Gone", "vim notes.txt"];
    let panes = titles
        .iter()
        .enumerate()
        .map(|(i, t)| pane(i as u32 + 1, 0, t, i == 0))
        .collect();
    drive(&mut s, Input::Panes(panes), &mut h);
    let fx = std::mem::take(&mut h.effects);
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Rename { .. })),
        "nothing before the listing: {fx:?}"
    );
    let context = fx
        .into_iter()
        .find_map(|e| match e {
            Effect::Run { context, .. } => Some(context),
            _ => None,
        })
        .unwrap();
    let listing = format!(
        "[{},{},{}]",
        state_json(1, Some("01a"), Some("One")),
        state_json(2, Some("01b"), Some("Two")),
        state_json(4, Some("01d"), Some("Four")),
    );
    drive(
        &mut s,
        Input::CommandDone {
            context,
            exit: Some(0),
            stdout: listing,
            stderr: String::new(),
        },
        &mut h,
    );
    (s, h)
}

#[test]
fn a_reloaded_plugin_keeps_the_users_names_and_takes_back_stale_claims() {
    let (mut s, mut h) = reloaded(Config::default());
    assert!(h.read_names >= 1);
    let mut r = h.renames();
    r.sort();
    r.dedup();
    // Pane 2 keeps the user's name; pane 3's name claimed a conversation it does not have; pane
    // 4 showed its program's title and is named.
    assert_eq!(r, [(3, "Pane #4".to_string()), (4, "💬 Four".to_string())]);
    // A new title later: still not over the user's name.
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(2, Some("01b"), Some("Two bis"))),
        &mut h,
    );
    assert!(h.renames().is_empty());
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&s.list_json()).unwrap()["panes"][1]
            ["renamed_by_hand"],
        true
    );
    // With `overwrite_renamed`, the user's name is replaced too.
    let (_, mut h) = reloaded(Config {
        overwrite_renamed: true,
        ..Config::default()
    });
    let mut r = h.renames();
    r.sort();
    r.dedup();
    assert_eq!(
        r,
        [
            (2, "💬 Two".to_string()),
            (3, "Pane #4".to_string()),
            (4, "💬 Four".to_string())
        ]
    );
}

#[test]
fn a_name_given_before_the_first_question_is_the_users() {
    let (mut s, mut h) = ready(2, "[]");
    let mut panes = s.panes.clone();
    panes[1].title = "logs".into();
    h.given = vec!["logs".into()];
    drive(&mut s, Input::Panes(panes), &mut h);
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(2, Some("01b"), Some("First"))),
        &mut h,
    );
    assert!(h.renames().is_empty());
    // A title its program set is not a given name: the pane is named.
    let mut panes = s.panes.clone();
    panes[0].title = "~/src".into();
    drive(&mut s, Input::Panes(panes), &mut h);
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(1, Some("01a"), Some("Other"))),
        &mut h,
    );
    assert_eq!(h.renames(), [(1, "💬 Other".to_string())]);
}

#[test]
fn names_mark_running_and_held_conversations_and_tell_twins_apart() {
    let (mut s, mut h) = ready(3, "[]");
    let with = |pane: u32, conv: &str, title: &str, activity: &str, held: bool| {
        let mut v: serde_json::Value =
            serde_json::from_str(&state_json(pane, Some(conv), Some(title))).unwrap();
        v["activity"] = activity.into();
        if held {
            v["held_by"] = serde_json::json!({"multiplexer": "zellij", "pane": "1"});
        }
        v.to_string()
    };
    drive(
        &mut s,
        pipe(PIPE_STATE, &with(1, "01a", "Alpha", "streaming", false)),
        &mut h,
    );
    drive(
        &mut s,
        pipe(PIPE_STATE, &with(2, "01a", "Alpha", "idle", true)),
        &mut h,
    );
    assert_eq!(s.desired_name(1).unwrap(), "💬 Alpha ●");
    assert_eq!(s.desired_name(2).unwrap(), "💬 Alpha 🔒");
    // A pane whose query waits for the lock another pane's query holds shows both marks.
    drive(
        &mut s,
        pipe(PIPE_STATE, &with(2, "01a", "Alpha", "waiting", true)),
        &mut h,
    );
    assert_eq!(s.desired_name(2).unwrap(), "💬 Alpha ● 🔒");
    drive(
        &mut s,
        pipe(PIPE_STATE, &with(1, "01a", "Alpha", "idle", false)),
        &mut h,
    );
    assert_eq!(s.desired_name(1).unwrap(), "💬 Alpha");
    // Two forks of one title: each shows its short id.
    drive(
        &mut s,
        pipe(
            PIPE_STATE,
            &with(2, "01mforkaaaa1", "Alpha (fork)", "idle", false),
        ),
        &mut h,
    );
    drive(
        &mut s,
        pipe(
            PIPE_STATE,
            &with(3, "01mforkbbbb2", "Alpha (fork)", "idle", false),
        ),
        &mut h,
    );
    assert_eq!(s.desired_name(2).unwrap(), "💬 Alpha (fork) 01mforkaaa");
    assert_eq!(s.desired_name(3).unwrap(), "💬 Alpha (fork) 01mforkbbb");
    // Once one of them is closed, the other is no twin: its name is the title alone.
    let mut after = s.clone();
    drive(&mut after, Input::PaneClosed(2), &mut h);
    assert_eq!(after.desired_name(3).unwrap(), "💬 Alpha (fork)");
    // A long title is cut before its "(fork)".
    let long = format!("{} (fork)", "x".repeat(80));
    drive(
        &mut s,
        pipe(PIPE_STATE, &with(3, "01c", &long, "idle", false)),
        &mut h,
    );
    let name = s.desired_name(3).unwrap();
    assert!(
        name.ends_with("… (fork)") && name.chars().count() == 60,
        "{name}"
    );
}

#[test]
fn zjstatus_is_told_the_focused_panes_name_on_changes_only() {
    let (mut s, mut h) = ready(2, "[]");
    // Off by default: nothing is sent.
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(1, Some("01a"), Some("A #1"))),
        &mut h,
    );
    assert!(!h.take().iter().any(|e| matches!(e, Effect::ZjStatus(_))));
    s.cfg.zjstatus = true;
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(2, Some("01b"), Some("B"))),
        &mut h,
    );
    let sent = |h: &mut Rec| -> Vec<String> {
        h.take()
            .into_iter()
            .filter_map(|e| match e {
                Effect::ZjStatus(t) => Some(t),
                _ => None,
            })
            .collect()
    };
    // Pane 1 has the focus; its title's `#` cannot start a zjstatus style.
    assert_eq!(sent(&mut h), ["💬 A ♯1"]);
    drive(
        &mut s,
        pipe(PIPE_STATE, &state_json(2, Some("01b"), Some("B2"))),
        &mut h,
    );
    assert!(sent(&mut h).is_empty(), "no change for the focused pane");
}

#[test]
fn the_picker_ranks_exact_and_prefix_matches_first_and_finds_what_was_said() {
    let sessions = format!(
        "[{},{},{}]",
        state_json(1, Some("01maaaaaaaaa1"), Some("a long build note")),
        state_json(2, Some("01mbbbbbbbbb2"), Some("build")),
        state_json(3, Some("01mcccccccccc3"), Some("other")),
    );
    let (mut s, mut h) = ready(4, &sessions);
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    // Opened from pane 1: its own row is first and selected.
    assert_eq!(s.filtered()[s.picker.selected].pane.id, 1);
    h.take();
    for c in "build".chars() {
        drive(&mut s, Input::Key(Key::Char(c)), &mut h);
    }
    let ids: Vec<u32> = s.filtered().iter().map(|r| r.pane.id).collect();
    assert_eq!(ids[..2], [2, 1], "the exact title first: {ids:?}");
    // `panechat search` says conversation 3 mentions it: listed after the names that match.
    let runs: Vec<_> = h
        .take()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Run { argv, context, .. } if argv[1] == "search" => Some((argv, context)),
            _ => None,
        })
        .collect();
    assert_eq!(runs.len(), 1, "one search at a time: {runs:?}");
    assert_eq!(runs[0].0, ["panechat", "search", "--json", "--", "b"]);
    drive(
        &mut s,
        Input::CommandDone {
            context: runs[0].1.clone(),
            exit: Some(0),
            stdout: r#"[{"id":"01mcccccccccc3"}]"#.into(),
            stderr: String::new(),
        },
        &mut h,
    );
    // (it answered "b"; the filter is "build" now: searched again)
    let again: Vec<_> = h
        .take()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Run { argv, context, .. } if argv[1] == "search" => Some((argv, context)),
            _ => None,
        })
        .collect();
    assert_eq!(again[0].0[4], "build");
    drive(
        &mut s,
        Input::CommandDone {
            context: again[0].1.clone(),
            exit: Some(0),
            stdout: r#"[{"id":"01mcccccccccc3"}]"#.into(),
            stderr: String::new(),
        },
        &mut h,
    );
    let ids: Vec<u32> = s.filtered().iter().map(|r| r.pane.id).collect();
    assert_eq!(ids, [2, 1, 3]);
    // Rows show the short id, and every column starts at the same place with or without a
    // conversation.
    h.take();
    drive(&mut s, Input::Key(Key::Esc), &mut h);
    drive(&mut s, pipe(PIPE_PICK, ""), &mut h);
    let lines: Vec<String> = render(&s, 8, 120, 0).iter().map(|l| plain(l)).collect();
    let with = lines.iter().find(|l| l.contains("other")).unwrap();
    assert!(with.contains("01mccccccc"), "{with}");
    let without = lines.iter().find(|l| l.contains("shell 4")).unwrap();
    assert_eq!(width(with), width(without));
    let col = |l: &str, what: &str| width(&l[..l.find(what).unwrap()]);
    assert_eq!(col(with, "other"), col(without, "—"));
}

/// A pane state with a coding agent in `state` (and a conversation, when given).
fn agent_json(pane: u32, conv: Option<&str>, state: &str, tool: Option<&str>) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&state_json(pane, conv, conv.map(|_| "Zellij layouts"))).unwrap();
    v["agent"] = serde_json::json!({ "kind": "claude-code", "state": state, "tool": tool });
    v.to_string()
}

#[test]
fn a_panes_agent_names_it_with_the_needs_you_marker_and_goes_away_with_it() {
    let (mut s, mut h) = ready(3, "[]");
    h.take();
    drive(
        &mut s,
        pipe(
            PIPE_STATE,
            &agent_json(2, None, "working", Some("Bash #(x)")),
        ),
        &mut h,
    );
    assert_eq!(
        h.renames(),
        [(2, "💬 claude: running Bash #(x)".to_string())],
        "literally (panechat sends it inert already)"
    );
    drive(
        &mut s,
        pipe(PIPE_STATE, &agent_json(2, None, "needs-you", None)),
        &mut h,
    );
    assert_eq!(h.renames(), [(2, "💬 ⚑ claude: needs you".to_string())]);
    // With a conversation: the agent, then the title.
    drive(
        &mut s,
        pipe(PIPE_STATE, &agent_json(3, Some("01abc"), "done", None)),
        &mut h,
    );
    assert_eq!(
        h.renames(),
        [(3, "💬 ✓ claude: done · Zellij layouts".to_string())]
    );
    // The agent gone: the pane's own name back.
    drive(&mut s, pipe(PIPE_STATE, &state_json(2, None, None)), &mut h);
    assert_eq!(h.renames(), [(2, String::new())]);
}

#[test]
fn the_tab_of_a_pane_that_needs_you_is_marked_and_given_its_own_name_back() {
    let (mut s, mut h) = ready(3, "[]");
    let mut t = tabs(2);
    t[1].name = "build".into();
    drive(&mut s, Input::Tabs(t.clone()), &mut h);
    let mut panes = s.panes.clone();
    panes[2].tab = 1;
    drive(&mut s, Input::Panes(panes), &mut h);
    h.take();
    drive(
        &mut s,
        pipe(PIPE_STATE, &agent_json(3, None, "needs-you", None)),
        &mut h,
    );
    let tab_renames = |fx: Vec<Effect>| -> Vec<(usize, String)> {
        fx.into_iter()
            .filter_map(|e| match e {
                Effect::RenameTab { position, name } => Some((position, name)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(tab_renames(h.take()), [(1, "⚑ build".to_string())]);
    // Zellij shows it; more updates rename nothing again.
    t[1].name = "⚑ build".into();
    drive(&mut s, Input::Tabs(t.clone()), &mut h);
    drive(
        &mut s,
        pipe(PIPE_STATE, &agent_json(3, None, "needs-you", None)),
        &mut h,
    );
    assert!(tab_renames(h.take()).is_empty());
    // Answered: the tab's own name back.
    drive(
        &mut s,
        pipe(PIPE_STATE, &agent_json(3, None, "working", None)),
        &mut h,
    );
    assert_eq!(tab_renames(h.take()), [(1, "build".to_string())]);
    t[1].name = "build".into();
    drive(&mut s, Input::Tabs(t.clone()), &mut h);
    // Needs you again, then renamed by hand while marked: the new name is kept (marked, then
    // given back unmarked).
    drive(
        &mut s,
        pipe(PIPE_STATE, &agent_json(3, None, "needs-you", None)),
        &mut h,
    );
    assert_eq!(tab_renames(h.take()), [(1, "⚑ build".to_string())]);
    t[1].name = "tests".into();
    drive(&mut s, Input::Tabs(t.clone()), &mut h);
    assert_eq!(tab_renames(h.take()), [(1, "⚑ tests".to_string())]);
    t[1].name = "⚑ tests".into();
    drive(&mut s, Input::Tabs(t.clone()), &mut h);
    drive(&mut s, pipe(PIPE_STATE, &state_json(3, None, None)), &mut h);
    assert_eq!(tab_renames(h.take()), [(1, "tests".to_string())]);
    // A tab of one pane, shown under that pane's name (its own name is Zellij's default):
    // marked `⚑ Tab #2`, then given `Tab #2` back (Zellij shows the pane's name again).
    let mut t1 = t.clone();
    t1[1].name = s.panes[2].title.clone();
    drive(&mut s, Input::Tabs(t1.clone()), &mut h);
    h.take();
    drive(
        &mut s,
        pipe(PIPE_STATE, &agent_json(3, None, "needs-you", None)),
        &mut h,
    );
    assert_eq!(tab_renames(h.take()), [(1, "⚑ Tab #2".to_string())]);
    // (an update still showing the pane's name, before Zellij applied it: no second rename)
    drive(&mut s, Input::Tabs(t1.clone()), &mut h);
    assert!(tab_renames(h.take()).is_empty());
    t1[1].name = "⚑ Tab #2".into();
    drive(&mut s, Input::Tabs(t1.clone()), &mut h);
    drive(&mut s, pipe(PIPE_STATE, &state_json(3, None, None)), &mut h);
    assert_eq!(tab_renames(h.take()), [(1, "Tab #2".to_string())]);
    // A tab left marked by an instance of the plugin before this one (reloaded): its own name
    // back once panechat said which panes need you.
    let mut t2 = t1.clone();
    t2[1].name = "⚑ build".into();
    drive(&mut s, Input::Tabs(t2), &mut h);
    assert_eq!(tab_renames(h.take()), [(1, "build".to_string())]);
    // Off: no tab is renamed.
    let mut s2 = State::new(Ok(Config {
        mark_tabs: false,
        ..Config::default()
    }));
    s2.leader = true;
    s2.tabs = t;
    s2.panes = s.panes.clone();
    let (fx, _) = s2.handle(pipe(PIPE_STATE, &agent_json(3, None, "needs-you", None)));
    assert!(tab_renames(fx).is_empty());
}

#[test]
fn the_next_key_focuses_the_next_pane_that_needs_you_and_the_picker_lists_them_first() {
    let (mut s, mut h) = ready(4, "[]");
    for (p, st) in [(2, "needs-you"), (3, "working"), (4, "needs-you")] {
        drive(
            &mut s,
            pipe(PIPE_STATE, &agent_json(p, None, st, None)),
            &mut h,
        );
    }
    h.take();
    let focus = |h: &mut Rec| -> Vec<u32> {
        h.take()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Focus(p) => Some(p),
                _ => None,
            })
            .collect()
    };
    // Pane 1 is focused: to 2, then (2 focused) to 4, then around to 2.
    drive(&mut s, pipe(PIPE_NEXT, ""), &mut h);
    assert_eq!(focus(&mut h), [2]);
    for (from, to) in [(2, 4), (4, 2)] {
        let panes: Vec<Pane> = s
            .panes
            .iter()
            .map(|p| Pane {
                focused: p.id == from,
                ..p.clone()
            })
            .collect();
        drive(&mut s, Input::Panes(panes), &mut h);
        h.take();
        drive(&mut s, pipe(PIPE_NEXT, ""), &mut h);
        assert_eq!(focus(&mut h), [to]);
    }
    // The picker: panes that need you first.
    s.picker.origin = Some(1);
    let order: Vec<u32> = s.rows().iter().map(|r| r.pane.id).collect();
    assert_eq!(order, [2, 4, 1, 3]);
    let lines = crate::render::render(
        &{
            let mut open = s.clone();
            open.picker.open = true;
            open
        },
        12,
        120,
        0,
    );
    let text: Vec<String> = lines.iter().map(|l| crate::render::plain(l)).collect();
    assert!(text[1].contains("⚑ claude: needs you"), "{text:#?}");
    assert!(text[4].contains("claude: working"), "{text:#?}");
}

#[test]
fn focusing_a_pane_whose_agent_is_done_tells_panechat_once() {
    let (mut s, mut h) = ready(2, "[]");
    drive(
        &mut s,
        pipe(PIPE_STATE, &agent_json(2, None, "done", None)),
        &mut h,
    );
    h.take();
    let seen = |h: &mut Rec| -> Vec<Vec<String>> {
        h.take()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Run { argv, .. } if argv.get(1).is_some_and(|a| a == "agent-seen") => {
                    Some(argv)
                }
                _ => None,
            })
            .collect()
    };
    let focus_on = |s: &mut State, h: &mut Rec, id: u32| {
        let panes: Vec<Pane> = s
            .panes
            .iter()
            .map(|p| Pane {
                focused: p.id == id,
                ..p.clone()
            })
            .collect();
        drive(s, Input::Panes(panes), h);
    };
    focus_on(&mut s, &mut h, 2);
    assert_eq!(
        seen(&mut h),
        [["panechat", "agent-seen", "--session", "pane:terminal_2"]]
    );
    // Updates while it stays focused, or focus elsewhere and back before panechat answered:
    // told once.
    focus_on(&mut s, &mut h, 2);
    focus_on(&mut s, &mut h, 1);
    focus_on(&mut s, &mut h, 2);
    assert!(seen(&mut h).is_empty());
    // Idle now (panechat's answer), then done again: told again at the next focus.
    drive(
        &mut s,
        pipe(PIPE_STATE, &agent_json(2, None, "idle", None)),
        &mut h,
    );
    drive(
        &mut s,
        pipe(PIPE_STATE, &agent_json(2, None, "done", None)),
        &mut h,
    );
    focus_on(&mut s, &mut h, 1);
    assert!(
        seen(&mut h).is_empty(),
        "a pane without a done agent: nothing"
    );
    focus_on(&mut s, &mut h, 2);
    assert_eq!(seen(&mut h).len(), 1);
}

#[test]
fn the_picker_tags_a_conversation_an_agent_back_end_holds_and_finds_it_by_that() {
    let (mut s, mut h) = ready(3, "[]");
    let mut held: serde_json::Value =
        serde_json::from_str(&state_json(2, Some("01abc"), Some("Fix the build"))).unwrap();
    held["backend"] = serde_json::json!("claude-code");
    drive(&mut s, pipe(PIPE_STATE, &held.to_string()), &mut h);
    let mut hostile: serde_json::Value =
        serde_json::from_str(&state_json(3, Some("01def"), Some("Other"))).unwrap();
    hostile["backend"] = serde_json::json!("gem\u{1b}]0;x\u{7}ini");
    drive(&mut s, pipe(PIPE_STATE, &hostile.to_string()), &mut h);
    let screen = |s: &State| -> Vec<String> {
        let mut open = s.clone();
        open.picker.open = true;
        crate::render::render(&open, 12, 120, 0)
            .iter()
            .map(|l| crate::render::plain(l))
            .collect()
    };
    let text = screen(&s);
    assert!(
        text.iter().any(|l| l.contains("[claude] Fix the build")),
        "{text:#?}"
    );
    let other = text.iter().find(|l| l.contains("Other")).unwrap();
    assert!(
        !other.contains('\u{1b}') && !other.contains('\u{7}'),
        "{other:?}"
    );
    // Typing the back-end's name finds what it holds.
    s.picker.filter = "claude".into();
    let found: Vec<u32> = s.filtered().iter().map(|r| r.pane.id).collect();
    assert_eq!(found, [2]);
}
