//! Zellij plugin cases: the picker's render with 200 panes, natively through the plugin's logic
//! crate (the same code the `.wasm` runs), beside an empty render.

use std::time::Instant;

use panechat_zellij_model::{drive, Client, Config, Effect, Host, Input, Pane, State, Tab};

use super::report::{limit_verdict, Row, Series, Verdict};
use super::stats::Samples;
use super::world::World;

struct Inert;

impl Host for Inert {
    fn perform(&mut self, e: Effect) -> Option<Input> {
        // (Zellij's answer: this instance's client, alone, on pane 0)
        (e == Effect::ListClients).then(|| {
            Input::Clients(vec![Client {
                id: 1,
                current: true,
                pane: Some(0),
            }])
        })
    }
}

/// A granted plugin state with `n` panes over 4 tabs, 3 in 4 with a conversation, the picker open.
fn picker_state(n: u32) -> State {
    let mut s = State::new(Ok(Config::default()));
    let h = &mut Inert;
    drive(&mut s, Input::SessionName("bench".into()), h);
    drive(&mut s, Input::Permission(true), h);
    drive(
        &mut s,
        Input::Tabs(
            (0..4)
                .map(|i| Tab {
                    position: i,
                    name: format!("Tab #{}", i + 1),
                    active: i == 0,
                    floating_visible: false,
                    id: Some(i),
                })
                .collect(),
        ),
        h,
    );
    drive(
        &mut s,
        Input::Panes(
            (0..n)
                .map(|i| Pane {
                    id: i,
                    tab: (i % 4) as usize,
                    title: format!("Pane #{}", i + 1),
                    focused: i == 0,
                    floating: false,
                    exited: false,
                    titled_by_command: false,
                })
                .collect(),
        ),
        h,
    );
    for i in (0..n).filter(|i| i % 4 != 3) {
        let payload = serde_json::json!({
            "schema": 1, "session": format!("zellij:bench:{i}"), "multiplexer": "zellij",
            "pane": i.to_string(), "conversation": format!("01bench{i:06}"),
            "title": format!("Conversation about topic {i} 日本語"), "turns": i,
            "updated_at": "2026-12-02T10:00:00Z",
            "activity": if i % 10 == 0 { "streaming" } else { "idle" }, "held_by": null,
        });
        drive(
            &mut s,
            Input::Pipe {
                name: "panechat::state".into(),
                payload: Some(payload.to_string()),
                cli: None,
            },
            h,
        );
    }
    drive(
        &mut s,
        Input::Pipe {
            name: "panechat::pick".into(),
            payload: None,
            cli: None,
        },
        h,
    );
    s
}

fn time_renders(s: &State, rounds: usize) -> Samples {
    let mut out = Samples::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let lines = panechat_zellij_model::render::render(s, 40, 160, 1_796_205_700);
        std::hint::black_box(lines);
        out.push(t.elapsed().as_secs_f64() * 1e6);
    }
    out
}

/// Picker render (40×160) with 200 panes vs an empty session; budget: well under a 60 Hz frame
/// (1 ms natively).
pub fn picker(_w: &World) -> Result<Vec<Row>, String> {
    let full = picker_state(200);
    let empty = picker_state(0);
    if !full.picker.open || !empty.picker.open {
        return Err("the picker did not open".into());
    }
    time_renders(&full, 50);
    time_renders(&empty, 50);
    let mut a = Samples::new();
    let mut b = Samples::new();
    for _ in 0..20 {
        for v in time_renders(&full, 10).values() {
            a.push(*v);
        }
        for v in time_renders(&empty, 10).values() {
            b.push(*v);
        }
    }
    // Filtering as the user types, too.
    let mut typed = full.clone();
    for c in "topic 1".chars() {
        drive(
            &mut typed,
            Input::Key(panechat_zellij_model::Key::Char(c)),
            &mut Inert,
        );
    }
    let f = time_renders(&typed, 200);
    let (verdict, detail) = limit_verdict(a.median() / 1000.0, 1.0, "ms", 3);
    let series = |label: &str, s: &Samples| Series {
        label: label.into(),
        unit: "µs",
        decimals: 1,
        samples: s.clone(),
    };
    Ok(vec![
        Row {
            case: "zellij: picker render, 200 panes".into(),
            measured: format!("{:.1} µs median", a.median()),
            reference: format!("{:.1} µs (no panes)", b.median()),
            budget: "< 1 ms".into(),
            verdict,
            detail,
            series: vec![series("200 panes", &a), series("empty", &b)],
            notes: vec!["native, through the plugin's logic crate; 40 rows × 160 columns".into()],
        },
        Row {
            case: "zellij: picker render, 200 panes, filter \"topic 1\"".into(),
            measured: format!("{:.1} µs median", f.median()),
            reference: format!("{:.1} µs (no filter)", a.median()),
            budget: "reported".into(),
            verdict: Verdict::Info,
            detail: String::new(),
            series: vec![series("filtered", &f)],
            notes: Vec::new(),
        },
    ])
}

/// Time from a new title to the pane's new name, in a real headless Zellij with the plugin: Enter
/// on `panechat rename TITLE` typed in a pane (a whole panechat run, which publishes the pane's
/// state) until `zellij action list-panes` shows that pane named after the title. Reference: one
/// `list-panes` round trip, which also bounds how finely the new name can be seen.
pub fn retitle(_w: &World) -> Result<Vec<Row>, String> {
    use panechat_e2e::env::TestEnv;
    use panechat_e2e::fake::FakeProvider;
    use panechat_e2e::zellij::{Opts, Zellij};
    use std::time::Duration;

    let measure = || -> (Samples, Samples) {
        let fake = FakeProvider::start();
        let env = TestEnv::new();
        env.use_openai(&fake.base_url_openai());
        let z = Zellij::start(&env, Opts::default());
        z.wait_plugin_ready();
        z.wait_prompt(0);
        z.type_line(0, "panechat q --new 'hello [[title:First]]'");
        z.wait_for("pane 0 named", Duration::from_secs(30), |z| {
            z.title(0) == "💬 First"
        });
        let (mut lat, mut rt) = (Samples::new(), Samples::new());
        for i in 0..12 {
            let want = format!("💬 Title {i}");
            let t = Instant::now();
            z.type_line(0, &format!("panechat rename 'Title {i}'"));
            z.wait_for("pane 0 renamed", Duration::from_secs(10), |z| {
                z.title(0) == want
            });
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            let t = Instant::now();
            let _ = z.panes();
            let one = t.elapsed().as_secs_f64() * 1000.0;
            // The first rounds warm the shell and Zellij up.
            if i >= 2 {
                lat.push(ms);
                rt.push(one);
            }
        }
        (lat, rt)
    };
    let (lat, rt) =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(measure)).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the Zellij session failed".into())
        })?;
    let series = |label: &str, s: &Samples| Series {
        label: label.into(),
        unit: "ms",
        decimals: 1,
        samples: s.clone(),
    };
    Ok(vec![Row {
        case: "zellij: new title to pane name".into(),
        measured: format!("{:.1} ms median", lat.median()),
        reference: format!("{:.1} ms (one list-panes)", rt.median()),
        budget: "reported".into(),
        verdict: Verdict::Info,
        detail: String::new(),
        series: vec![series("rename to name", &lat), series("list-panes", &rt)],
        notes: vec![
            "real headless Zellij 0.45.1 with the plugin and a client on a pty; from Enter on `panechat rename` in the pane to the name in `list-panes` (polled)".into(),
        ],
    }])
}
