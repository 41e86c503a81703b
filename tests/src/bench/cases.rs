//! The benchmark cases, one per budget of SPEC §6. Each measures its figure and the figure's
//! reference in the same run, alternating between the two where both are repeated.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use panechat::lock;
use panechat::store::conversation::ConversationId;
use panechat::store::mapping;
use panechat_e2e::fake::RecordedRequest;
use serde_json::Value;

use super::proc::{self, RssSource};
use super::report::{self, limit_verdict, ms, ratio_verdict, Row, Series, Verdict};
use super::stats::Samples;
use super::world::{self, Rng, World, SESSION_LONG, SESSION_SHORT};

/// A case: its name and the function that measures it.
pub type Case = (&'static str, fn(&World) -> Result<Vec<Row>, String>);

/// Every case, in the order they run.
pub const ALL: &[Case] = &[
    ("status", status),
    ("pre-request overhead", pre_request),
    ("q vs baseline", super::baseline::query_path),
    ("attach a tmux pane", attach_pane),
    ("append", append),
    ("ls", ls),
    ("search", search),
    ("fork --last 5", fork),
    ("lock hand-off", lock_handoff),
    ("agent turn overhead", super::agent::overhead),
    ("peak memory", memory),
    ("wezterm update-status", wezterm_status),
    ("wezterm plugin load", wezterm_load),
    ("sizes", sizes),
    ("tmux plugin load", super::tmux::load),
    ("tmux fork key", super::tmux::fork),
    ("tmux picker open", super::tmux::picker),
    ("tmux status refresh", super::tmux::status),
    ("tmux q, 10 panes vs 1", super::tmux::fanout),
    ("processes per query", super::tmux::processes),
    ("zellij picker", super::zellij::picker),
    ("zellij retitle", super::zellij::retitle),
    ("agent hook call", super::hooks::hook_call),
];

/// Runs `warmup` unrecorded rounds, then `n` recorded rounds of `a` then `b`, alternating, so
/// that drifts in machine load hit both series alike.
pub fn interleave(
    warmup: usize,
    n: usize,
    a: &mut dyn FnMut() -> Result<f64, String>,
    b: &mut dyn FnMut() -> Result<f64, String>,
) -> Result<(Samples, Samples), String> {
    for _ in 0..warmup {
        a()?;
        b()?;
    }
    let (mut sa, mut sb) = (Samples::new(), Samples::new());
    for _ in 0..n {
        sa.push(a()?);
        sb.push(b()?);
    }
    Ok((sa, sb))
}

/// Wall time of one run of `cmd`, in milliseconds.
pub fn wall_ms(mut cmd: Command) -> Result<f64, String> {
    Ok(ms_of(proc::run_timed(&mut cmd)?.wall))
}

fn ms_of(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `status`: whole-process wall time of `panechat status` (spawn to reap) in a session whose
/// active conversation is the 10,000-turn one, in a store of 10,000 conversations, against the
/// trivial `hello` binary (`fn main() {}`), run alternately (status, hello, status, …), 200
/// samples each after 10 warm-up rounds. Budget: median ≤ 1.25 × hello's median.
fn status(w: &World) -> Result<Vec<Row>, String> {
    // The status line must name the active conversation, or the case measures nothing.
    let mut check = w.panechat(&w.big, SESSION_LONG, &["status"]);
    check.stdout(Stdio::piped());
    let out = proc::run_timed(&mut check)?.output;
    let line = String::from_utf8_lossy(&out.stdout);
    if !line.contains("Long conversation") {
        return Err(format!(
            "`panechat status` printed {line:?}, not the active conversation"
        ));
    }
    let (st, hello) = interleave(
        10,
        200,
        &mut || wall_ms(w.panechat(&w.big, SESSION_LONG, &["status"])),
        &mut || wall_ms(w.hello()),
    )?;
    let (verdict, detail) = ratio_verdict(st.median(), hello.median(), 1.25);
    Ok(vec![Row {
        case: "status (wall, 10k convs)".into(),
        measured: ms(&st),
        reference: format!("hello {}", ms(&hello)),
        budget: "<= 1.25x ref".into(),
        verdict,
        detail,
        series: vec![
            Series::ms("panechat status", &st),
            Series::ms("hello (trivial binary, fn main() {})", &hello),
        ],
        notes: vec![format!("status printed {:?}", line.trim_end())],
    }])
}

/// The message every measured query sends.
const QUESTION: &str = "How do I read a file line by line in Rust?";

/// One `panechat q` run in `session` of the big store; returns the times from spawn to the
/// first byte of the provider request and to the whole request, then undoes the appended turn.
fn query_once(
    w: &World,
    session: &str,
    conv: &ConversationId,
    extra: &[&str],
    expect_messages: Option<usize>,
) -> Result<(f64, f64), String> {
    query_once_with(w, session, conv, extra, &[], expect_messages)
}

/// [`query_once`] with extra environment variables.
fn query_once_with(
    w: &World,
    session: &str,
    conv: &ConversationId,
    extra: &[&str],
    envs: &[(&str, &str)],
    expect_messages: Option<usize>,
) -> Result<(f64, f64), String> {
    w.fake.clear_requests();
    let len = w.big.snapshot(conv)?;
    // As when a pane asks again: the conversation is already the one activated last, so the
    // alternation between the two conversations does not add a rewrite of `last` to each run.
    mapping::set_last(&w.big.store.paths, conv).map_err(|e| e.to_string())?;
    let mut args = vec!["q", "--cfg", "title.generate=false"];
    args.extend_from_slice(extra);
    args.push(QUESTION);
    let mut cmd = w.panechat(&w.big, session, &args);
    cmd.envs(envs.iter().copied());
    let t = proc::run_timed(&mut cmd)?;
    let req = single_request(w)?;
    if let Some(n) = expect_messages {
        let got = req.messages().len();
        if got != n {
            return Err(format!(
                "the request carried {got} messages, expected {n} (is the conversation the right one?)"
            ));
        }
    }
    w.big.restore(conv, &len)?;
    w.fake.clear_requests();
    Ok((
        ms_of(req.first_byte_at - t.spawned),
        ms_of(req.received_at - t.spawned),
    ))
}

/// The one request a query made (title generation is off).
fn single_request(w: &World) -> Result<RecordedRequest, String> {
    let reqs = w.fake.requests();
    match reqs.as_slice() {
        // (With attachments, the question is the last text part.)
        [r] if r.last_user_message().is_some_and(|m| m.ends_with(QUESTION)) => Ok(r.clone()),
        _ => Err(format!(
            "expected one chat request for the question, got {} request(s): {:?}",
            reqs.len(),
            reqs.iter().map(|r| &r.path).collect::<Vec<_>>()
        )),
    }
}

/// Pre-request overhead: from spawning `panechat q --cfg title.generate=false "…"` to the moment
/// the fake provider receives the first bytes of the request (the request line; the body is
/// serialised before anything is sent), in a store of 10,000 conversations with a 10,000-turn
/// active conversation (messages of 100-300 bytes), against the same for a 10-turn active
/// conversation, alternately, 15 samples each after 2 warm-up rounds. Each appended turn is cut
/// off again so every sample sees the same conversation. Budget: median ≤ 10 ms.
fn pre_request(w: &World) -> Result<Vec<Row>, String> {
    let (mut long_full, mut short_full) = (Samples::new(), Samples::new());
    let long_msgs = 2 * world::LONG_TURNS + 1;
    let short_msgs = 2 * world::SHORT_TURNS + 1;
    let (long, short) = interleave(
        2,
        15,
        &mut || {
            let (first, full) = query_once(w, SESSION_LONG, &w.long, &[], Some(long_msgs))?;
            long_full.push(full);
            Ok(first)
        },
        &mut || {
            let (first, full) = query_once(w, SESSION_SHORT, &w.short, &[], Some(short_msgs))?;
            short_full.push(full);
            Ok(first)
        },
    )?;
    // The warm-up rounds pushed into the "full" series too; keep the recorded rounds only.
    let long_full = tail(&long_full, long.len());
    let short_full = tail(&short_full, short.len());
    let (verdict, detail) = limit_verdict(long.median(), 10.0, "ms", 2);
    Ok(vec![Row {
        case: "pre-request, 10k turns".into(),
        measured: ms(&long),
        reference: format!("10 turns {}", ms(&short)),
        budget: "<= 10 ms".into(),
        verdict,
        detail,
        series: vec![
            Series::ms("spawn -> first request byte, 10,000 turns", &long),
            Series::ms("spawn -> first request byte, 10 turns", &short),
            Series::ms("spawn -> whole request received, 10,000 turns", &long_full),
            Series::ms("spawn -> whole request received, 10 turns", &short_full),
        ],
        notes: Vec::new(),
    }])
}

/// Attaching a pane: from spawning `panechat q --pane --lines 10000 "…"` in a tmux pane whose
/// scrollback holds 10,000 lines of build output (a private tmux server, `history-limit` 20000)
/// to the first byte of the request, against the same query without `--pane` (same environment,
/// so both publish to tmux alike), in the 10-turn conversation, alternately, 15 samples each
/// after 2 warm-up rounds. Budget: the median difference ≤ 30 ms.
fn attach_pane(w: &World) -> Result<Vec<Row>, String> {
    let tmpdir = w.root.join("tmux");
    std::fs::create_dir_all(&tmpdir).map_err(|e| e.to_string())?;
    let socket = format!("pcbench{}", std::process::id());
    let tmux = |args: &[&str]| -> Result<String, String> {
        let o = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null"])
            .args(args)
            .env("TMUX_TMPDIR", &tmpdir)
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("tmux: {e} (is tmux installed?)"))?;
        if !o.status.success() {
            return Err(format!(
                "tmux {args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    };
    struct Kill<'a>(&'a dyn Fn(&[&str]) -> Result<String, String>);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["kill-server"]);
        }
    }
    tmux(&[
        "start-server", ";", "set", "-g", "history-limit", "20000", ";", "new-session", "-d",
        "-s", "bench", "-x", "160", "-y", "50",
        "seq -f 'src/module%g.c:12:5: warning: unused variable [-Wunused-variable] while building the thing' 1 10000; exec sleep 3600",
    ])?;
    let _kill = Kill(&tmux);
    let pane = tmux(&["display-message", "-p", "-t", "bench", "#{pane_id}"])?
        .trim()
        .to_string();
    let socket_path = tmux(&["display-message", "-p", "-t", "bench", "#{socket_path}"])?
        .trim()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n: usize = tmux(&["display-message", "-p", "-t", &pane, "#{history_size}"])?
            .trim()
            .parse()
            .unwrap_or(0);
        if n >= 9_950 {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the pane's scrollback holds {n} lines, not 10,000"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let tmux_var = format!("{socket_path},1,0");
    let envs = [("TMUX", tmux_var.as_str()), ("TMUX_PANE", pane.as_str())];
    // The attachment must really be the 10,000 lines.
    query_once_with(
        w,
        SESSION_SHORT,
        &w.short,
        &["--pane", "--lines", "10000"],
        &envs,
        None,
    )?;
    let msgs = 2 * world::SHORT_TURNS + 1;
    let mut attached_bytes = 0usize;
    let (with, without) = interleave(
        2,
        15,
        &mut || {
            let (first, _) = query_once_with(
                w,
                SESSION_SHORT,
                &w.short,
                &["--pane", "--lines", "10000"],
                &envs,
                Some(msgs),
            )?;
            Ok(first)
        },
        &mut || {
            let (first, _) = query_once_with(w, SESSION_SHORT, &w.short, &[], &envs, Some(msgs))?;
            Ok(first)
        },
    )?;
    {
        // One more, to record what was attached.
        w.fake.clear_requests();
        let len = w.big.snapshot(&w.short)?;
        let mut cmd = w.panechat(
            &w.big,
            SESSION_SHORT,
            &[
                "q",
                "--cfg",
                "title.generate=false",
                "--pane",
                "--lines",
                "10000",
                QUESTION,
            ],
        );
        cmd.envs(envs.iter().copied());
        proc::run_timed(&mut cmd)?;
        let req = single_request(w)?;
        w.big.restore(&w.short, &len)?;
        w.fake.clear_requests();
        if let Some(m) = req.last_user_message() {
            attached_bytes = m.len();
            if m.matches("unused variable").count() < 2_000 {
                return Err("the request did not carry the pane's scrollback".into());
            }
        }
    }
    let extra = with.median() - without.median();
    let (verdict, detail) = limit_verdict(extra, 30.0, "ms", 2);
    Ok(vec![Row {
        case: "attach 10k-line tmux pane".into(),
        measured: format!("+{extra:.3} ms ({})", ms(&with)),
        reference: format!("no --pane {}", ms(&without)),
        budget: "<= +30 ms".into(),
        verdict,
        detail,
        series: vec![
            Series::ms("spawn -> first request byte, --pane (10,000 lines)", &with),
            Series::ms("spawn -> first request byte, no attachment", &without),
        ],
        notes: vec![format!(
            "the attached pane text (capped at context.max_bytes) made a message of {attached_bytes} bytes"
        )],
    }])
}

fn tail(s: &Samples, n: usize) -> Samples {
    let mut out = Samples::new();
    let all = s.values();
    for v in &all[all.len().saturating_sub(n)..] {
        out.push(*v);
    }
    out
}

/// Append cost: library-level `Store::append_turn` (one log write and fsync, the summary replaced
/// durably, one index line) on the 10,000-turn conversation against the 10-turn one, holding
/// each conversation's lock as a writer must, alternately, 30 samples each after 3 warm-up
/// rounds; each appended turn is cut off again afterwards. Budget: median ratio ≤ 1.3.
fn append(w: &World) -> Result<Vec<Row>, String> {
    let store = &w.big.store;
    let take = |id: &ConversationId| {
        lock::try_acquire(&store.lock_path(id))
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("conversation {id} is locked"))
    };
    let long_guard = take(&w.long)?;
    let short_guard = take(&w.short)?;
    let long = store
        .open_for_query(&w.long)
        .map_err(|e| e.to_string())?
        .summary;
    let short = store
        .open_for_query(&w.short)
        .map_err(|e| e.to_string())?
        .summary;
    let long_snap = w.big.snapshot(&w.long)?;
    let short_snap = w.big.snapshot(&w.short)?;
    let rng = std::cell::RefCell::new(Rng(7));
    let once = |orig: &panechat::store::conversation::Summary,
                snap: &world::Snapshot,
                guard: &lock::LockGuard|
     -> Result<f64, String> {
        let mut conv = orig.clone();
        let turn = world::turn(&mut rng.borrow_mut(), SystemTime::now());
        let t = Instant::now();
        store
            .append_turn(guard, &mut conv, &turn)
            .map_err(|e| e.to_string())?
            .map_or(Ok(()), |stale| Err(stale.to_string()))?;
        let d = t.elapsed();
        w.big.restore(&orig.id, snap)?;
        Ok(ms_of(d))
    };
    let (a, b) = interleave(
        3,
        30,
        &mut || once(&long, &long_snap, &long_guard),
        &mut || once(&short, &short_snap, &short_guard),
    )?;
    let (verdict, detail) = ratio_verdict(a.median(), b.median(), 1.3);
    Ok(vec![Row {
        case: "append_turn, 10k turns".into(),
        measured: ms(&a),
        reference: format!("10 turns {}", ms(&b)),
        budget: "<= 1.3x ref".into(),
        verdict,
        detail,
        series: vec![
            Series::ms("Store::append_turn, 10,000 turns", &a),
            Series::ms("Store::append_turn, 10 turns", &b),
        ],
        notes: vec![
            "each append includes its fsyncs (log, summary file and directory, index)".into(),
        ],
    }])
}

/// `ls`: whole-process wall time of `panechat ls` (output to /dev/null) over the store of 10,000
/// conversations, against `ls` over a store of 10, alternately, 20 samples each after 3 warm-up
/// rounds. Budget: median ≤ 30 ms. Also `ls` over 1,000 conversations against the trivial
/// binary, alternately, 50 samples each after 5 warm-up rounds, reported (the figure to set
/// beside other tools' listing of as many).
fn ls(w: &World) -> Result<Vec<Row>, String> {
    let listed = |home: &world::Home| -> Result<usize, String> {
        let mut check = w.panechat(home, SESSION_LONG, &["ls"]);
        check.stdout(Stdio::piped());
        let out = proc::run_timed(&mut check)?.output.stdout;
        Ok(out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count())
    };
    let lines = listed(&w.big)?;
    if lines < world::BULK_CONVERSATIONS {
        return Err(format!("`panechat ls` listed {lines} conversations"));
    }
    let mid_lines = listed(&w.mid)?;
    if mid_lines != world::MID_CONVERSATIONS {
        return Err(format!(
            "`panechat ls` listed {mid_lines} of {} conversations",
            world::MID_CONVERSATIONS
        ));
    }
    let (big, small) = interleave(
        3,
        20,
        &mut || wall_ms(w.panechat(&w.big, SESSION_LONG, &["ls"])),
        &mut || wall_ms(w.panechat(&w.small, SESSION_LONG, &["ls"])),
    )?;
    let (verdict, detail) = limit_verdict(big.median(), 30.0, "ms", 2);
    let (mid, hello) = interleave(
        5,
        50,
        &mut || wall_ms(w.panechat(&w.mid, SESSION_LONG, &["ls"])),
        &mut || wall_ms(w.hello()),
    )?;
    Ok(vec![
        Row {
            case: format!("ls, {lines} convs"),
            measured: ms(&big),
            reference: format!("{} convs {}", world::SMALL_CONVERSATIONS, ms(&small)),
            budget: "<= 30 ms".into(),
            verdict,
            detail,
            series: vec![
                Series::ms(format!("panechat ls, {lines} conversations"), &big),
                Series::ms("panechat ls, 10 conversations", &small),
            ],
            notes: Vec::new(),
        },
        Row {
            case: format!("ls, {mid_lines} convs"),
            measured: ms(&mid),
            reference: format!("hello {}", ms(&hello)),
            budget: "reported".into(),
            verdict: Verdict::Info,
            detail: format!("{:.2}x", mid.median() / hello.median()),
            series: vec![
                Series::ms(format!("panechat ls, {mid_lines} conversations"), &mid),
                Series::ms("hello (trivial binary, fn main() {})", &hello),
            ],
            notes: Vec::new(),
        },
    ])
}

/// `search`: whole-process wall time of `panechat search WORD` (output to /dev/null) over the
/// store of 10,000 conversations plus the 10,000-turn one, against `grep -r -l -i WORD` over the
/// same store's directory, alternately, 10 samples each after 2 warm-up rounds. The word
/// occurs nowhere (every log is read and searched, none is parsed: the cost grep has too).
/// Budget: median ≤ 1.5 × grep's. A word said in many conversations (each of those is parsed and
/// ranked) is measured too and reported.
fn search(w: &World) -> Result<Vec<Row>, String> {
    let rare = "zyxwvutsrq";
    // grep exits 1 when nothing matches (every file read whole), 2 on an error.
    let grep = || -> Result<f64, String> {
        let t = Instant::now();
        let st = Command::new("grep")
            .args(["-r", "-l", "-i", rare])
            .arg(&w.big.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("grep: {e}"))?;
        let wall = ms_of(t.elapsed());
        match st.code() {
            Some(1) => Ok(wall),
            _ => Err(format!("grep -r -l -i {rare} ended with {st}")),
        }
    };
    // The searches must search: a word said in the store is found.
    let mut check = w.panechat(&w.big, SESSION_LONG, &["search", "--json", "the"]);
    check.stdout(Stdio::piped());
    let found: Value = serde_json::from_slice(&proc::run_timed(&mut check)?.output.stdout)
        .map_err(|e| format!("`panechat search --json the` printed no JSON: {e}"))?;
    let n = found.as_array().map_or(0, Vec::len);
    if n < world::BULK_CONVERSATIONS / 2 {
        return Err(format!(
            "`panechat search the` found only {n} conversations"
        ));
    }
    let (ours, reference) = interleave(
        2,
        10,
        &mut || wall_ms(w.panechat(&w.big, SESSION_LONG, &["search", rare])),
        &mut || grep(),
    )?;
    let mut common = Samples::new();
    for _ in 0..5 {
        common.push(wall_ms(w.panechat(
            &w.big,
            SESSION_LONG,
            &["search", "the"],
        ))?);
    }
    let (verdict, detail) = ratio_verdict(ours.median(), reference.median(), 1.5);
    Ok(vec![Row {
        case: "search, 10k convs".into(),
        measured: ms(&ours),
        reference: format!("grep -r {}", ms(&reference)),
        budget: "<= 1.5x ref".into(),
        verdict,
        detail,
        series: vec![
            Series::ms("panechat search (a word said nowhere)", &ours),
            Series::ms("grep -r -l -i over the same store", &reference),
            Series::ms(format!("panechat search the ({n} found)"), &common),
        ],
        notes: vec![format!(
            "a word said in {n} conversations: {} (reported, no budget)",
            ms(&common)
        )],
    }])
}

/// `fork --last 5`: whole-process wall time of `panechat fork --last 5` of the active 10,000-turn
/// conversation, against the same of the 10-turn one, alternately, 20 samples each after 2
/// warm-up rounds; each fork is removed again. Both write the same 5-turn conversation, so the
/// work should not depend on the source's length. Budget: median ratio ≤ 1.5.
fn fork(w: &World) -> Result<Vec<Row>, String> {
    let once = |session: &str| -> Result<f64, String> {
        let mut cmd = w.panechat(&w.big, session, &["fork", "--last", "5"]);
        cmd.stdout(Stdio::piped());
        let t = proc::run_timed(&mut cmd)?;
        let text = String::from_utf8_lossy(&t.output.stdout);
        let id = ConversationId::parse(text.trim())
            .map_err(|e| format!("fork printed {text:?}: {e}"))?;
        let s = w.big.store.summary(&id).map_err(|e| e.to_string())?;
        if s.turns != 5 {
            return Err(format!("the fork {id} has {} turns, expected 5", s.turns));
        }
        let guard =
            panechat::lock::acquire(&w.big.store.lock_path(&id)).map_err(|e| e.to_string())?;
        w.big.store.remove(&guard, &id).map_err(|e| e.to_string())?;
        guard.unlink().map_err(|e| e.to_string())?;
        Ok(ms_of(t.wall))
    };
    let (long, short) = interleave(2, 20, &mut || once(SESSION_LONG), &mut || {
        once(SESSION_SHORT)
    })?;
    let (verdict, detail) = ratio_verdict(long.median(), short.median(), 1.5);
    Ok(vec![Row {
        case: "fork --last 5, 10k turns".into(),
        measured: ms(&long),
        reference: format!("10 turns {}", ms(&short)),
        budget: "<= 1.5x ref".into(),
        verdict,
        detail,
        series: vec![
            Series::ms("panechat fork --last 5, 10,000 turns", &long),
            Series::ms("panechat fork --last 5, 10 turns", &short),
        ],
        notes: vec!["each fork creates a conversation durably (fsyncs); removed after".into()],
    }])
}

/// Lock hand-off: the benchmark holds the 10-turn conversation's lock (`lock::try_acquire` on
/// `Store::lock_path`), starts `panechat q --on-locked wait …` on it, waits until `panechat
/// sessions --json` shows the run `waiting` (and, where `/proc/locks` shows it, until
/// the child is blocked in `flock`), then releases the lock at t0; the figure is the arrival of
/// the request's first byte at the fake provider minus t0. Reference: the same command's
/// spawn-to-first-byte time without contention. 10 samples of each, alternately, after 2
/// warm-up rounds. Budget: median ≤ 20 ms.
fn lock_handoff(w: &World) -> Result<Vec<Row>, String> {
    let mut unconfirmed = 0usize;
    let (handoff, plain) = interleave(
        2,
        10,
        &mut || {
            let (d, confirmed) = handoff_once(w)?;
            if !confirmed {
                unconfirmed += 1;
            }
            Ok(d)
        },
        &mut || query_once(w, SESSION_SHORT, &w.short, &["--on-locked", "wait"], None).map(|t| t.0),
    )?;
    let (verdict, detail) = limit_verdict(handoff.median(), 20.0, "ms", 2);
    let mut notes = vec![
        "measured on the 10-turn conversation, so the hand-off is not hidden behind loading a long one".into(),
    ];
    if unconfirmed > 0 {
        notes.push(format!(
            "{unconfirmed} sample(s): the child's blocked flock was not seen in /proc/locks; released after the registry showed waiting"
        ));
    }
    Ok(vec![Row {
        case: "lock hand-off".into(),
        measured: ms(&handoff),
        reference: format!("uncontended {}", ms(&plain)),
        budget: "<= 20 ms".into(),
        verdict,
        detail,
        series: vec![
            Series::ms("release -> first request byte", &handoff),
            Series::ms("uncontended spawn -> first request byte", &plain),
        ],
        notes,
    }])
}

/// One contended query; returns (release → first byte in ms, whether the blocked flock was seen).
fn handoff_once(w: &World) -> Result<(f64, bool), String> {
    let store = &w.big.store;
    let guard = lock::try_acquire(&store.lock_path(&w.short))
        .map_err(|e| e.to_string())?
        .ok_or("the 10-turn conversation is already locked")?;
    w.fake.clear_requests();
    let len = w.big.snapshot(&w.short)?;
    mapping::set_last(&store.paths, &w.short).map_err(|e| e.to_string())?;
    let mut cmd = w.panechat(
        &w.big,
        SESSION_SHORT,
        &[
            "q",
            "--on-locked",
            "wait",
            "--cfg",
            "title.generate=false",
            QUESTION,
        ],
    );
    cmd.stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .map_err(|e| format!("{}: {e}", proc::show(&cmd)))?;
    let pid = child.id();
    let waiting = wait_until(Duration::from_secs(10), || run_is_waiting(w, pid));
    let blocked = waiting && wait_until(Duration::from_secs(1), || blocked_in_flock(pid));
    let t0 = Instant::now();
    drop(guard);
    let _ = w.fake.wait_for_requests(1, Duration::from_secs(10));
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{}: {e}", proc::show(&cmd)))?;
    proc::check(&cmd, &output)?;
    if !waiting {
        return Err("`panechat sessions --json` never showed the query waiting".into());
    }
    let req = single_request(w)?;
    w.big.restore(&w.short, &len)?;
    w.fake.clear_requests();
    Ok((
        ms_of(req.first_byte_at.saturating_duration_since(t0)),
        blocked,
    ))
}

/// Polls `f` every millisecond until it holds or `limit` passes.
fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether `panechat sessions --json` lists run `pid` as `waiting`.
fn run_is_waiting(w: &World, pid: u32) -> bool {
    let mut cmd = w.panechat(&w.big, SESSION_SHORT, &["sessions", "--json"]);
    cmd.stdout(Stdio::piped());
    let Ok(t) = proc::run_timed(&mut cmd) else {
        return false;
    };
    let Ok(v) = serde_json::from_slice::<Value>(&t.output.stdout) else {
        return false;
    };
    v.as_array().into_iter().flatten().any(|s| {
        s["runs"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["pid"].as_u64() == Some(u64::from(pid)) && r["state"] == "waiting")
    })
}

/// Whether `/proc/locks` shows process `pid` blocked waiting for a `flock`.
fn blocked_in_flock(pid: u32) -> bool {
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return false;
    };
    locks.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 5 && f[1] == "->" && f[2] == "FLOCK" && f[5] == pid.to_string()
    })
}

/// Peak memory: the largest `VmHWM` (peak resident set) over 5 runs of `panechat status` and 3
/// runs of `panechat q` on the 10,000-turn conversation, read at each child's exit under ptrace,
/// against the trivial binary's. Budgets: status ≤ 8 MB, query ≤ 64 MB (MB = 10^6 bytes).
fn memory(w: &World) -> Result<Vec<Row>, String> {
    let err_file = w.root.join("rss-stderr.txt");
    let mut sources = Vec::new();
    let mut measure =
        |n: usize, make: &dyn Fn() -> Command, after: &dyn Fn() -> Result<(), String>| {
            let mut s = Samples::new();
            for _ in 0..n {
                let (kib, src) = proc::peak_rss_kib(make, &err_file)?;
                after()?;
                s.push(kib as f64);
                sources.push(src);
            }
            Ok::<Samples, String>(s)
        };
    let nothing = || Ok(());
    let hello = measure(5, &|| w.hello(), &nothing)?;
    let status = measure(
        5,
        &|| w.panechat(&w.big, SESSION_LONG, &["status"]),
        &nothing,
    )?;
    let len = w.big.snapshot(&w.long)?;
    let query = measure(
        3,
        &|| {
            w.fake.clear_requests();
            w.panechat(
                &w.big,
                SESSION_LONG,
                &["q", "--cfg", "title.generate=false", QUESTION],
            )
        },
        &|| {
            single_request(w)?;
            w.fake.clear_requests();
            w.big.restore(&w.long, &len)
        },
    )?;
    let _ = std::fs::remove_file(&err_file);
    let how = if sources.iter().all(|s| *s == RssSource::Ptrace) {
        "VmHWM at exit (ptrace)".to_string()
    } else {
        "ru_maxrss from wait4 (ptrace refused): an upper bound".to_string()
    };
    let reference = format!("hello {}", report::mb_of_kib(hello.max()));
    let row = |case: &str, s: &Samples, limit_mb: f64| {
        let mb = s.max() * 1024.0 / 1e6;
        let (verdict, detail) = limit_verdict(mb, limit_mb, "MB", 2);
        Row {
            case: case.into(),
            measured: format!(
                "{} (median {})",
                report::mb_of_kib(s.max()),
                report::mb_of_kib(s.median())
            ),
            reference: reference.clone(),
            budget: format!("<= {limit_mb} MB"),
            verdict,
            detail,
            series: vec![
                Series::kib(format!("peak RSS, {case}"), s),
                Series::kib("peak RSS, hello", &hello),
            ],
            notes: vec![format!("peak resident set: {how}")],
        }
    };
    Ok(vec![
        row("peak RSS: status", &status, 8.0),
        row("peak RSS: q, 10k turns", &query, 64.0),
    ])
}

/// Sizes: the release `panechat` binary, and the Zellij plugin's `.wasm` files under
/// `<target>/zellij-plugin/wasm32-wasip1/release/` (where the test command builds it) when
/// built. Reported, no budget.
fn sizes(w: &World) -> Result<Vec<Row>, String> {
    let bin = std::fs::metadata(&w.panechat)
        .map_err(|e| format!("{}: {e}", w.panechat.display()))?
        .len();
    let mut rows = vec![Row {
        case: "size: panechat binary".into(),
        measured: format!("{:.2} MB ({bin} bytes)", bin as f64 / 1e6),
        reference: "-".into(),
        budget: "reported".into(),
        verdict: Verdict::Info,
        detail: String::new(),
        series: Vec::new(),
        notes: Vec::new(),
    }];
    let wasm_dir = panechat_e2e::env::profile_dir().parent().map(|t| {
        t.join("zellij-plugin")
            .join("wasm32-wasip1")
            .join("release")
    });
    let mut wasm: Vec<(String, u64)> = wasm_dir
        .as_ref()
        .and_then(|d| std::fs::read_dir(d).ok())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "wasm"))
        .filter_map(|e| {
            Some((
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().ok()?.len(),
            ))
        })
        .collect();
    wasm.sort();
    let measured = if wasm.is_empty() {
        "not built".to_string()
    } else {
        wasm.iter()
            .map(|(n, b)| format!("{n} {:.2} MB ({b} bytes)", *b as f64 / 1e6))
            .collect::<Vec<_>>()
            .join(", ")
    };
    rows.push(Row {
        case: "size: Zellij plugin .wasm".into(),
        measured,
        reference: "-".into(),
        budget: "reported".into(),
        verdict: Verdict::Info,
        detail: String::new(),
        series: Vec::new(),
        notes: wasm_dir
            .map(|d| vec![format!("looked in {}", d.display())])
            .unwrap_or_default(),
    });
    Ok(rows)
}

fn samples(v: &[f64]) -> Samples {
    let mut s = Samples::new();
    for x in v {
        s.push(*x);
    }
    s
}

fn us(s: &Samples) -> String {
    format!("{:.2} us [{:.2}..{:.2}]", s.median(), s.min(), s.p90())
}

/// `wezterm update-status`: the WezTerm plugin's `update-status` handler in Lua 5.4 (mlua,
/// safe mode, as WezTerm runs it) against the `wezterm` stub, over 200 windows whose active
/// panes each show a conversation, 200 rounds after 3 warm-up rounds; per call, next to a
/// config whose handler does nothing. Two rows: every title changed before each round (nothing
/// cached), and unchanged panes (most ticks). Budgets: median ≤ 50 µs and ≤ 10 µs per call;
/// no child process at all.
fn wezterm_status(_w: &World) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for (changed, limit, what) in [(true, 50.0, "titles changed"), (false, 10.0, "unchanged")] {
        let (with, without, children) =
            panechat_wezterm_tests::bench::update_status(200, 200, changed)
                .map_err(|e| e.to_string())?;
        let (a, b) = (samples(&with), samples(&without));
        let (mut verdict, mut detail) = limit_verdict(a.median(), limit, "us", 2);
        if children != 0 {
            verdict = Verdict::Fail;
            detail = format!("{children} child processes started");
        }
        rows.push(Row {
            case: format!("wezterm update-status, 200 panes, {what}"),
            measured: format!("{} per call, {children} processes", us(&a)),
            reference: format!("empty handler {}", us(&b)),
            budget: format!("<= {limit} us per call, no process"),
            verdict,
            detail,
            series: vec![
                Series {
                    label: "plugin, us per call".into(),
                    unit: "us",
                    decimals: 2,
                    samples: a,
                },
                Series {
                    label: "empty handler, us per call".into(),
                    unit: "us",
                    decimals: 2,
                    samples: b,
                },
            ],
            notes: Vec::new(),
        });
    }
    Ok(rows)
}

/// `wezterm plugin load`: a fresh safe-mode Lua state that loads the plugin through its root
/// `plugin/init.lua` and applies it to a config, next to one that evaluates an empty config;
/// 50 rounds after 2 warm-up rounds. Budget: median ≤ 5 ms.
fn wezterm_load(_w: &World) -> Result<Vec<Row>, String> {
    let (with, without) = panechat_wezterm_tests::bench::load(50).map_err(|e| e.to_string())?;
    let (a, b) = (samples(&with), samples(&without));
    let (verdict, detail) = limit_verdict(a.median(), 5.0, "ms", 3);
    Ok(vec![Row {
        case: "wezterm plugin load + apply_to_config".into(),
        measured: ms(&a),
        reference: format!("empty config {}", ms(&b)),
        budget: "<= 5 ms".into(),
        verdict,
        detail,
        series: vec![
            Series::ms("load + apply", &a),
            Series::ms("empty config", &b),
        ],
        notes: Vec::new(),
    }])
}
