//! The query path against a baseline: whole `panechat q` runs of this build side by side with a
//! panechat built from an earlier commit (`--baseline`), each in a store of its own, so that a
//! change to how turns are stored (message ids, drafts, fsyncs) shows as a ratio measured in one
//! run on one machine.

use std::fs;
use std::path::Path;

use super::cases::{interleave, wall_ms};
use super::report::{ms, ratio_verdict, Row, Series, Verdict};
use super::world::{write_config, Home, World};

/// The message every measured query sends.
const QUESTION: &str = "How do I read a file line by line in Rust?";
/// The session both binaries ask in (a plain terminal: no multiplexer).
const SESSION: &str = "bench-baseline";
/// The ratio of medians a row outside any multiplexer may reach: no slower than the baseline.
const LIMIT: f64 = 1.02;
/// The ratio of medians the row in a tmux pane may reach.
const TMUX_LIMIT: f64 = 1.05;

/// Three rows, each alternating this build and the baseline, 30 samples each after 3 warm-up
/// rounds: `q` continuing a conversation (title generation off, so one request), and `q --new`
/// with the default title request (two requests), outside any multiplexer (budget: median ≤
/// 1.02 × the baseline's); and `q` continuing a conversation in a tmux pane that alone shows
/// it, each binary in a pane of its own of one private server (budget: ≤ 1.05 ×).
pub fn query_path(w: &World) -> Result<Vec<Row>, String> {
    let Some(base) = &w.baseline else {
        return Ok(vec![Row {
            case: "q vs baseline".into(),
            measured: "-".into(),
            reference: "no --baseline given".into(),
            budget: format!("<= {LIMIT:.2}x baseline"),
            verdict: Verdict::Info,
            detail: "see `cargo bench-budgets -- --help` for how to build one".into(),
            series: Vec::new(),
            notes: Vec::new(),
        }]);
    };
    let mine = Home::new(w.root.join("q-current"))?;
    let theirs = Home::new(w.root.join("q-baseline"))?;
    for h in [&mine, &theirs] {
        write_config(h, &w.fake)?;
    }
    let run = |bin: &Path, home: &Home, args: &[&str]| -> Result<f64, String> {
        let mut cmd = w.command(bin, home, SESSION);
        cmd.args(args).arg(QUESTION);
        let t = wall_ms(cmd);
        w.fake.clear_requests();
        t
    };
    // The first turn of each store's conversation, outside the samples.
    run(&w.panechat, &mine, &["q", "--new"])?;
    run(base, &theirs, &["q", "--new"])?;

    let cont = ["q", "--cfg", "title.generate=false"];
    let (a, b) = interleave(3, 30, &mut || run(&w.panechat, &mine, &cont), &mut || {
        run(base, &theirs, &cont)
    })?;
    let new = ["q", "--new"];
    let (c, d) = interleave(3, 30, &mut || run(&w.panechat, &mine, &new), &mut || {
        run(base, &theirs, &new)
    })?;
    // In tmux: each binary asks from a pane of its own, which alone shows its conversation.
    let s = super::tmux::server(w, &mine, "q-baseline")?;
    let my_pane = s.value("t", "#{pane_id}");
    let their_pane = super::tmux::new_pane(&s)?;
    let in_tmux = |bin: &Path, home: &Home, pane: &str, args: &[&str]| -> Result<f64, String> {
        let mut cmd = super::tmux::in_pane(w, bin, home, &s, pane, args);
        cmd.arg(QUESTION);
        let t = wall_ms(cmd);
        w.fake.clear_requests();
        t
    };
    in_tmux(&w.panechat, &mine, &my_pane, &["q", "--new"])?;
    in_tmux(base, &theirs, &their_pane, &["q", "--new"])?;
    let (e, f) = interleave(
        3,
        30,
        &mut || in_tmux(&w.panechat, &mine, &my_pane, &cont),
        &mut || in_tmux(base, &theirs, &their_pane, &cont),
    )?;
    let label = base_label(base);
    let row = |case: &str, a: &super::stats::Samples, b: &super::stats::Samples, limit: f64| {
        let (verdict, detail) = ratio_verdict(a.median(), b.median(), limit);
        Row {
            case: case.into(),
            measured: ms(a),
            reference: format!("baseline {}", ms(b)),
            budget: format!("<= {limit:.2}x baseline"),
            verdict,
            detail,
            series: vec![
                Series::ms(format!("{case}, this build"), a),
                Series::ms(format!("{case}, baseline ({label})"), b),
            ],
            notes: vec![format!("baseline: {label}")],
        }
    };
    Ok(vec![
        row("q, continue (whole run)", &a, &b, LIMIT),
        row("q --new, titled (whole run)", &c, &d, LIMIT),
        row("q, continue, tmux pane (whole run)", &e, &f, TMUX_LIMIT),
    ])
}

/// What the baseline binary says it is (`--version`), or its size when it cannot say.
fn base_label(bin: &Path) -> String {
    std::process::Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| {
            fs::metadata(bin).map_or_else(|_| "?".into(), |m| format!("{} bytes", m.len()))
        })
}
