//! The tmux plugin's cases: loading it, the fork key, the picker popup, and what a status
//! refresh costs. Each runs a private tmux server (`tmux -L NAME -f /dev/null`, own
//! `TMUX_TMPDIR`) with the release `panechat` first on its PATH.

use std::process::Command;
use std::time::{Duration, Instant};

use panechat_e2e::pty::Pty;
use panechat_e2e::tmux::{repo_root, Server};

use super::report::{limit_verdict, ms, Row, Series, Verdict};
use super::stats::Samples;
use super::world::{Home, World, SESSION_LONG};

/// A private server with session `t` whose pane runs bash, in `home`'s store.
pub(super) fn server(w: &World, home: &Home, tag: &str) -> Result<Server, String> {
    let dir = w
        .panechat
        .parent()
        .ok_or("the panechat binary's directory")?;
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = vec![
        ("PANECHAT_HOME".to_string(), home.dir.display().to_string()),
        ("HOME".into(), w.root.join("home").display().to_string()),
        ("PATH".into(), path),
        ("LANG".into(), "C.UTF-8".into()),
        ("SHELL".into(), "/bin/bash".into()),
        ("TERM".into(), "xterm-256color".into()),
    ];
    let s = Server::new(&w.root.join(tag), tag, env);
    let (ok, _, err) = s.run(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "120",
        "-y",
        "40",
        "bash --norc --noprofile",
    ]);
    if !ok {
        return Err(format!("tmux new-session: {err}"));
    }
    Ok(s)
}

fn timed(s: &Server, args: &[&str]) -> Result<f64, String> {
    let t = Instant::now();
    let (ok, _, err) = s.run(args);
    if !ok {
        return Err(format!("tmux {args:?}: {err}"));
    }
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

/// `tmux plugin load`: wall time of `tmux run-shell …/tmux-scripts/panechat.tmux` (the plugin
/// loaded again into a running server, as at every tmux start or config reload), against
/// `tmux run-shell true`, alternately, 30 samples each after 3 warm-up rounds.
/// Budget: median ≤ 30 ms.
pub fn load(w: &World) -> Result<Vec<Row>, String> {
    let s = server(w, &w.small, "load")?;
    let script = repo_root().join("tmux-scripts/panechat.tmux");
    let script = script.display().to_string();
    let (mut a, mut b) = (Samples::new(), Samples::new());
    for i in 0..33 {
        let x = timed(&s, &["run-shell", &script])?;
        let y = timed(&s, &["run-shell", "true"])?;
        if i >= 3 {
            a.push(x);
            b.push(y);
        }
    }
    let keys = s.run(&["list-keys", "-T", "prefix"]).1;
    if !keys.contains("tmux-plugin 'fork'") {
        return Err("the plugin bound no fork key".into());
    }
    let spawned = processes_during(&s, || {
        s.run(&["run-shell", &script]);
    })?;
    let (verdict, detail) = limit_verdict(a.median(), 30.0, "ms", 1);
    Ok(vec![Row {
        case: "tmux plugin load".into(),
        measured: ms(&a),
        reference: format!("run-shell true {}", ms(&b)),
        budget: "<= 30 ms".into(),
        verdict,
        detail,
        series: vec![
            Series::ms("run-shell panechat.tmux", &a),
            Series::ms("run-shell true", &b),
        ],
        notes: vec![format!(
            "processes started by one load (strace -f of the server): {spawned} (run-shell's sh, bash, and two tmux clients: one reads the options, the plugin's keys and the version; bash then becomes the one that applies)"
        )],
    }])
}

/// `tmux fork key`: from running the key's command (`panechat-fork`, what prefix + F runs) in a
/// pane with a conversation until the new split's pane option names the fork and its shell has
/// printed a prompt; against a plain `split-window` to its prompt. 10 samples each.
/// Budget: median ≤ 150 ms.
pub fn fork(w: &World) -> Result<Vec<Row>, String> {
    let s = server(w, &w.small, "fork")?;
    let script = repo_root().join("tmux-scripts/panechat.tmux");
    s.run(&["run-shell", &script.display().to_string()]);
    let pane0 = s.run(&["display-message", "-p", "-t", "t", "#{pane_id}"]).1;
    let pane0 = pane0.trim().to_string();
    // Give the first pane a conversation, as `panechat q` there would.
    let (ok, _, err) = s.run(&[
        "run-shell",
        &format!(
            "TMUX_PANE={pane0} panechat use {} --session pane:{pane0} >/dev/null",
            w.small
                .store
                .list()
                .map_err(|e| e.to_string())?
                .first()
                .ok_or("no conversation")?
                .id
        ),
    ]);
    if !ok {
        return Err(format!("panechat use: {err}"));
    }
    let new_pane = |before: &[String]| -> Option<String> {
        s.panes().into_iter().find(|p| !before.contains(p))
    };
    // A shell prompt: a line ending in `$` or `#` (capture-pane drops trailing spaces).
    let prompted = |p: &str| {
        s.capture(p).lines().any(|l| {
            let l = l.trim_end();
            l.ends_with('$') || l.ends_with('#')
        })
    };
    let mut forks = Samples::new();
    let mut plain = Samples::new();
    for _ in 0..11 {
        // The fork key.
        let before = s.panes();
        let t = Instant::now();
        s.run(&["panechat-fork"]);
        let deadline = Instant::now() + Duration::from_secs(5);
        let p = loop {
            if let Some(p) = new_pane(&before) {
                let id = s.value(&p, "#{@panechat_id}");
                if !id.is_empty() && prompted(&p) {
                    break p;
                }
            }
            if Instant::now() > deadline {
                return Err("the fork never showed a mapped prompt".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        forks.push(t.elapsed().as_secs_f64() * 1e3);
        s.run(&["kill-pane", "-t", &p]);
        // A plain split.
        let before = s.panes();
        let t = Instant::now();
        s.run(&["split-window", "-h", "-t", &pane0]);
        let deadline = Instant::now() + Duration::from_secs(5);
        let p = loop {
            if let Some(p) = new_pane(&before) {
                if prompted(&p) {
                    break p;
                }
            }
            if Instant::now() > deadline {
                return Err("the plain split never prompted".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        plain.push(t.elapsed().as_secs_f64() * 1e3);
        s.run(&["kill-pane", "-t", &p]);
    }
    let (forks, plain) = (tail(&forks), tail(&plain));
    let (verdict, detail) = limit_verdict(forks.median(), 150.0, "ms", 1);
    Ok(vec![Row {
        case: "tmux fork key to mapped prompt".into(),
        measured: ms(&forks),
        reference: format!("plain split {}", ms(&plain)),
        budget: "<= 150 ms".into(),
        verdict,
        detail,
        series: vec![
            Series::ms("fork key", &forks),
            Series::ms("split-window", &plain),
        ],
        notes: vec!["polled every 1 ms via tmux (each poll is a tmux client)".into()],
    }])
}

fn tail(s: &Samples) -> Samples {
    let mut out = Samples::new();
    for v in s.values().iter().skip(1) {
        out.push(*v);
    }
    out
}

/// `picker open`: `panechat pick` on a pty over the store of 10,000 conversations, from spawn to
/// the first drawn list, against `panechat pick` over the 10-conversation store. 10 samples each.
/// Budget: median ≤ 100 ms.
pub fn picker(w: &World) -> Result<Vec<Row>, String> {
    let once = |home: &Home| -> Result<f64, String> {
        let cmd = w.panechat(home, SESSION_LONG, &["pick"]);
        let t = Instant::now();
        let mut p = Pty::spawn(cmd);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !p.text().contains("⏎ use") {
            if Instant::now() > deadline {
                return Err(format!("the picker never drew: {}", p.text()));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let took = t.elapsed().as_secs_f64() * 1e3;
        p.send(b"\x1b");
        p.wait(Duration::from_secs(5));
        Ok(took)
    };
    let (mut big, mut small) = (Samples::new(), Samples::new());
    for i in 0..12 {
        let a = once(&w.big)?;
        let b = once(&w.small)?;
        if i >= 2 {
            big.push(a);
            small.push(b);
        }
    }
    let (verdict, detail) = limit_verdict(big.median(), 100.0, "ms", 1);
    Ok(vec![Row {
        case: "picker open, 10k convs".into(),
        measured: ms(&big),
        reference: format!("10 convs {}", ms(&small)),
        budget: "<= 100 ms".into(),
        verdict,
        detail,
        series: vec![
            Series::ms("pick, 10,000 conversations", &big),
            Series::ms("pick, 10 conversations", &small),
        ],
        notes: vec!["spawn on a pty to the first frame (polled every 0.2 ms)".into()],
    }])
}

/// Counts the processes the tmux server and its children start (clone/fork/vfork, followed by
/// `strace -f`; threads are not processes) while `f` runs.
fn processes_during(s: &Server, f: impl FnOnce()) -> Result<usize, String> {
    let pid = s.value("t", "#{pid}");
    let log = s.tmpdir.join(format!("strace-load-{pid}.log"));
    let mut tracer = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=clone,clone3,fork,vfork", "-o"])
        .arg(&log)
        .args(["-p", &pid])
        .spawn()
        .map_err(|e| format!("strace: {e} (install strace to measure this case)"))?;
    std::thread::sleep(Duration::from_millis(500));
    f();
    std::thread::sleep(Duration::from_millis(500));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(tracer.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    );
    let _ = tracer.wait();
    let text = std::fs::read_to_string(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    Ok(text
        .lines()
        .filter(|l| {
            (l.contains("clone(") || l.contains("clone3(") || l.contains("fork("))
                && !l.contains("CLONE_THREAD")
                && !l.contains("= -1")
                && !l.contains("resumed>")
        })
        .count())
}

/// Counts the processes the tmux server starts (clone/fork/vfork, followed by `strace -f`)
/// while `n` status redraws are forced on an attached client, one every 100 ms.
fn spawns_during_refreshes(s: &Server, n: usize) -> Result<usize, String> {
    let pid = s.value("t", "#{pid}");
    let log = s.tmpdir.join(format!("strace-{pid}.log"));
    let mut tracer = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=clone,clone3,fork,vfork", "-o"])
        .arg(&log)
        .args(["-p", &pid])
        .spawn()
        .map_err(|e| format!("strace: {e} (install strace to measure this case)"))?;
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..n {
        s.run(&["refresh-client", "-S"]);
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(tracer.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    );
    let _ = tracer.wait();
    let text = std::fs::read_to_string(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    Ok(text
        .lines()
        .filter(|l| {
            (l.contains("clone(") || l.contains("clone3(") || l.contains("fork("))
                && !l.contains("= -1")
                && !l.contains("resumed>")
        })
        .count())
}

/// `status refresh`: processes the tmux server starts during 30 forced status redraws (status
/// interval 1 s) with the plugin's default status segment on an attached client; reference:
/// the same with a `#(true)` segment added. Budget: 0.
pub fn status(w: &World) -> Result<Vec<Row>, String> {
    let s = server(w, &w.small, "status")?;
    let script = repo_root().join("tmux-scripts/panechat.tmux");
    s.run(&["set-option", "-g", "status-interval", "1"]);
    s.run(&["run-shell", &script.display().to_string()]);
    let mut attach = Command::new("tmux");
    attach
        .args(["-L", &s.socket, "-f", "/dev/null", "attach", "-t", "t"])
        .env_clear()
        .env("TMUX_TMPDIR", &s.tmpdir)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TERM", "xterm-256color");
    let mut client = Pty::spawn(attach);
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.run(&["list-clients"]).1.trim().is_empty() {
        if Instant::now() > deadline {
            return Err("the client never attached".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let plugin = spawns_during_refreshes(&s, 30)?;
    let right = s.run(&["show-options", "-gv", "status-right"]).1;
    s.run(&[
        "set-option",
        "-g",
        "status-right",
        &format!("#(true){}", right.trim_end_matches('\n')),
    ]);
    let with_job = spawns_during_refreshes(&s, 30)?;
    let _ = client.child.kill();
    let _ = client.child.wait();
    let verdict = if plugin == 0 {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    if with_job == 0 {
        return Err("the reference #(true) segment started no process: the count is blind".into());
    }
    Ok(vec![Row {
        case: "tmux status refresh".into(),
        measured: format!("{plugin} processes / 30 refreshes"),
        reference: format!("#(true): {with_job} / 30"),
        budget: "0".into(),
        verdict,
        detail: String::new(),
        series: Vec::new(),
        notes: vec![
            "forks of the tmux server counted with strace -f while status redraws were forced"
                .into(),
        ],
    }])
}

/// A `panechat ARGS…` run as from tmux pane `pane` of server `s` (its `TMUX` and `TMUX_PANE`),
/// in `home`'s store, with `program` (this build or a baseline).
pub(super) fn in_pane(
    w: &World,
    program: &std::path::Path,
    home: &Home,
    s: &Server,
    pane: &str,
    args: &[&str],
) -> Command {
    let socket = s.value("t", "#{socket_path}");
    let mut c = w.command(program, home, "unused");
    c.env_remove("PANECHAT_SESSION")
        .env("TMUX", format!("{socket},1,0"))
        .env("TMUX_PANE", pane)
        .args(args);
    c
}

/// A new window's pane of `s` (running bash).
pub(super) fn new_pane(s: &Server) -> Result<String, String> {
    let (ok, out, err) = s.run(&[
        "new-window",
        "-d",
        "-t",
        "t",
        "-P",
        "-F",
        "#{pane_id}",
        "bash --norc --noprofile",
    ]);
    if !ok {
        return Err(format!("tmux new-window: {err}"));
    }
    Ok(out.trim().to_string())
}

/// Waits (at most 5 s) until `f` holds.
fn until(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// The processes one run of `cmd` started, itself included, and its `execve` calls (each a
/// program started, or a failed attempt at one along `PATH`): `strace -f -e trace=execve`.
pub(super) fn processes_of(w: &World, cmd: &Command, tag: &str) -> Result<(usize, usize), String> {
    let log = w.root.join(format!("execve-{tag}.log"));
    let mut traced = Command::new("strace");
    traced
        .args(["-f", "-qq", "-e", "trace=execve", "-o"])
        .arg(&log)
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    if let Some(d) = cmd.get_current_dir() {
        traced.current_dir(d);
    }
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            traced.env(k, v);
        }
    }
    super::proc::run_timed(&mut traced)
        .map_err(|e| format!("{e} (install strace to measure this case)"))?;
    let text = std::fs::read_to_string(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let calls: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("execve(") && !l.contains("resumed>"))
        .collect();
    let mut pids: Vec<&str> = calls
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    pids.sort_unstable();
    pids.dedup();
    Ok((pids.len(), calls.len()))
}

/// `tmux q, 10 panes vs 1`: whole `panechat q` runs (title generation off) in a conversation
/// that ten tmux panes show, against the same in a conversation that only the asking pane
/// shows, alternately, 30 samples each after 3 warm-up rounds. Every state change reaches all
/// the panes of a server with one tmux program. Budget: median ≤ 1.15 × one pane's. Also
/// counted (strace -f): the processes and `execve` calls of one such query, 10 panes and 1.
pub fn fanout(w: &World) -> Result<Vec<Row>, String> {
    const QUESTION: &str = "How do I read a file line by line in Rust?";
    let home = Home::new(w.root.join("fanout-home"))?;
    super::world::write_config(&home, &w.fake)?;
    let s = server(w, &home, "fanout")?;
    let mut panes = vec![s.value("t", "#{pane_id}")];
    for _ in 0..10 {
        panes.push(new_pane(&s)?);
    }
    let run = |pane: &str, args: &[&str]| -> Result<f64, String> {
        let t = super::cases::wall_ms(in_pane(w, &w.panechat, &home, &s, pane, args));
        w.fake.clear_requests();
        t
    };
    // Pane 0: a conversation of its own; panes 1 to 10: one conversation they all show.
    run(&panes[0], &["q", "--new", QUESTION])?;
    run(&panes[1], &["q", "--new", QUESTION])?;
    let mut id = String::new();
    if !until(|| {
        id = s.value(&panes[1], "#{@panechat_id}");
        !id.is_empty()
    }) {
        return Err("the asking pane never showed its conversation".into());
    }
    for p in &panes[2..] {
        run(p, &["use", &id])?;
    }
    let cont = ["q", "--cfg", "title.generate=false", QUESTION];
    let (ten, one) = super::cases::interleave(3, 30, &mut || run(&panes[1], &cont), &mut || {
        run(&panes[0], &cont)
    })?;
    let last = &panes[10];
    if !until(|| s.value(last, "#{@panechat_state}|#{@panechat_id}") == format!("idle|{id}")) {
        return Err(format!("pane {last} does not show the conversation idle"));
    }
    let mut notes = Vec::new();
    for (label, pane) in [("10 panes", &panes[1]), ("1 pane", &panes[0])] {
        let cmd = in_pane(w, &w.panechat, &home, &s, pane, &cont);
        match processes_of(w, &cmd, label) {
            Ok((procs, execs)) => notes.push(format!(
                "one q shown by {label}: {procs} processes, {execs} execve calls (strace -f)"
            )),
            Err(e) => notes.push(format!("processes of one q, {label}: {e}")),
        }
        w.fake.clear_requests();
    }
    let (verdict, detail) = super::report::ratio_verdict(ten.median(), one.median(), 1.15);
    Ok(vec![Row {
        case: "tmux q, 10 panes vs 1".into(),
        measured: ms(&ten),
        reference: format!("1 pane {}", ms(&one)),
        budget: "<= 1.15x ref".into(),
        verdict,
        detail,
        series: vec![
            Series::ms("q in a conversation 10 panes show", &ten),
            Series::ms("q in a conversation 1 pane shows", &one),
        ],
        notes,
    }])
}

/// `processes per query`: the processes one `panechat q` (continuing, title generation off)
/// starts, itself included, counted with `strace -f -e trace=execve`: outside any multiplexer
/// (budget: 1, the query alone) and in a tmux pane (its watcher and one tmux per state change),
/// with the `execve` calls of each (no search along `PATH`: one call per program).
pub fn processes(w: &World) -> Result<Vec<Row>, String> {
    const QUESTION: &str = "How do I read a file line by line in Rust?";
    let home = Home::new(w.root.join("procs-home"))?;
    super::world::write_config(&home, &w.fake)?;
    let s = server(w, &home, "procs")?;
    let pane = s.value("t", "#{pane_id}");
    let cont = ["q", "--cfg", "title.generate=false", QUESTION];
    let outside = |args: &[&str]| {
        let mut c = w.command(&w.panechat, &home, "bench-procs");
        c.args(args);
        c
    };
    super::proc::run_timed(&mut outside(&["q", "--new", QUESTION]))?;
    super::proc::run_timed(&mut in_pane(
        w,
        &w.panechat,
        &home,
        &s,
        &pane,
        &["q", "--new", QUESTION],
    ))?;
    w.fake.clear_requests();
    let (plain, plain_exec) = processes_of(w, &outside(&cont), "outside")?;
    w.fake.clear_requests();
    let (tmux, tmux_exec) =
        processes_of(w, &in_pane(w, &w.panechat, &home, &s, &pane, &cont), "tmux")?;
    w.fake.clear_requests();
    let (verdict, detail) = limit_verdict(plain as f64, 1.0, "processes", 0);
    Ok(vec![Row {
        case: "processes per query".into(),
        measured: format!("{plain} ({plain_exec} execve)"),
        reference: format!("tmux pane: {tmux} ({tmux_exec} execve)"),
        budget: "1 outside a multiplexer".into(),
        verdict,
        detail,
        series: Vec::new(),
        notes: vec![
            "a query in a tmux pane starts its watcher and one tmux per state change".into(),
        ],
    }])
}
