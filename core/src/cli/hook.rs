//! `panechat hook claude` (a Claude Code hook: the event as JSON on stdin) and `panechat hook
//! codex [--then PROGRAM ARG…] JSON` (Codex's `notify` program: the notice as the last
//! argument): an agent run by hand reports into the pane it runs in.
//!
//! Agents wait for their hooks, and Claude Code adds what a hook prints to the conversation,
//! so this command prints nothing, exits 0 whatever happens, and never waits for a lock: it
//! reads its input (bounded in size and time), records the pane's agent
//! ([`panechat::agents`]) and publishes the pane. Outside tmux, Zellij and WezTerm it does
//! nothing. The command line is read without the full parser (see [`run_argv`]). With
//! `PANECHAT_LOG=debug` each call logs what it recorded (panechat's log file).

use std::ffi::OsString;
use std::time::{Duration, Instant};

use panechat::agents::{self, AgentRecord};
use panechat::env::Env;
use panechat::hooks::{self, Change};
use panechat::paths::Paths;
use panechat::publish::{Publisher, RealSink, Sink};
use panechat::session::{Multiplexer, Session};
use panechat::state::PaneState;
use panechat::store::Store;

/// How much of a hook's stdin is kept (the rest is read and dropped, so the agent's write
/// never fails); what matters comes first.
const KEEP: usize = 1 << 20;
/// The longest a hook waits for its stdin to end.
const STDIN_DEADLINE: Duration = Duration::from_secs(2);
/// How long a Zellij pane's publisher (in the background) waits for Zellij to take its state.
const ZELLIJ_SETTLE: Duration = Duration::from_secs(5);

/// `panechat hook …`, for the help (the command line is read by [`run_argv`]).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// `claude` (the event on stdin) or `codex` (`[--then PROGRAM ARG…] JSON`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    words: Vec<OsString>,
}

/// Runs `panechat hook` from its full command line (`argv[1]` is `hook`); always 0.
pub fn run_argv(argv: &[OsString]) -> i32 {
    let words: Vec<&OsString> = argv.iter().skip(2).collect();
    match words.first().and_then(|w| w.to_str()) {
        Some("claude") => claude(),
        Some("codex") => codex(&words[1..]),
        _ => {}
    }
    0
}

/// Runs the command as parsed by clap (the same as [`run_argv`]).
pub fn run(args: Args) -> i32 {
    let mut argv: Vec<OsString> = vec!["panechat".into(), "hook".into()];
    argv.extend(args.words);
    run_argv(&argv)
}

fn claude() {
    let input = read_stdin(KEEP, STDIN_DEADLINE);
    report(true, |prev, _| {
        hooks::claude(&input, prev.map(|r| &r.agent), &now())
    });
}

fn codex(words: &[&OsString]) {
    let Some((json, rest)) = words.split_last() else {
        return;
    };
    if let Some(text) = json.to_str() {
        // (every notice is recorded: when it came tells Codex's title thread from its turns)
        report(false, |prev, process| {
            hooks::codex(text, prev, process, &now(), panechat::time::now_ms())
        });
    }
    // `--then PROGRAM ARG…`: the user's own notify program gets the same notice (once the pane
    // has it: a program that reads the pane's state sees this turn's).
    if rest.first().and_then(|w| w.to_str()) == Some("--then") && rest.len() >= 2 {
        chain(&rest[1..], json);
    }
}

/// Starts the chained notify program with the notice as its last argument, without waiting.
fn chain(program: &[&OsString], notice: &OsString) {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(program[0]);
    cmd.args(&program[1..])
        .arg(notice)
        .stdin(std::process::Stdio::null())
        .process_group(0);
    let _ = cmd.spawn();
}

fn now() -> String {
    panechat::time::now_rfc3339()
}

/// The agent process that runs this hook (its parent): `<pid>-<start time>`.
fn parent_process() -> Option<String> {
    let pid = u32::try_from(nix::unistd::getppid().as_raw()).ok()?;
    let start = panechat::session::process_start_time(pid)?;
    Some(format!("{pid}-{start}"))
}

/// Reads stdin until its end, at most `deadline` long, keeping its first `keep` bytes. Nothing
/// when stdin is a terminal (the command typed by hand).
fn read_stdin(keep: usize, deadline: Duration) -> Vec<u8> {
    use std::io::IsTerminal;
    let mut buf = Vec::new();
    if std::io::stdin().is_terminal() {
        return buf;
    }
    let end = Instant::now() + deadline;
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let mut fds = [libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        }];
        let ms = i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd for the length given.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 1, ms) };
        if r < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if r == 0 {
            break;
        }
        // SAFETY: reads into a buffer of the length given.
        let n = unsafe { libc::read(0, chunk.as_mut_ptr().cast(), chunk.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if n == 0 {
            break;
        }
        let n = n as usize;
        let room = keep.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..n.min(room)]);
    }
    buf
}

/// Records what `change` makes of this pane's agent and publishes the pane. `change` gets the
/// pane's record and the reporting agent process. With `skip_same`, an event that leaves the
/// record as it is (a second prompt while working, the permission notification after the
/// permission request) writes and publishes nothing.
fn report(skip_same: bool, change: impl FnOnce(Option<&AgentRecord>, Option<&str>) -> Change) {
    let env = Env::capture();
    let Some(session) = panechat::session::pane_session(&env) else {
        return;
    };
    let Ok(paths) = Paths::resolve(&env) else {
        return;
    };
    let prev = agents::read_record(&paths, &session.key);
    let process = parent_process();
    let change = change(prev.as_ref(), process.as_deref());
    if panechat::logfile::Logger::debug_wanted(&env) {
        let what = match &change {
            Change::Nothing => "nothing to record".to_string(),
            Change::Clear => "the agent left the pane".to_string(),
            Change::Set(a) => format!(
                "{} (session {})",
                a.summary(),
                a.session.as_deref().unwrap_or("-")
            ),
        };
        panechat::logfile::Logger::new(&paths, Some(&session), false)
            .with_debug(true)
            .log("DEBUG", &format!("agent hook: {what}"));
    }
    if let (true, Change::Set(agent), Some(p)) = (skip_same, &change, &prev) {
        // (the reporting process is not compared: Claude Code may run each hook through a
        // shell of its own, and only Codex's notices need it)
        let same =
            p.agent == *agent && p.server == session.server && p.instance == session.instance;
        if same {
            return;
        }
    }
    let written = match change {
        Change::Nothing => return,
        Change::Clear => agents::clear(&paths, &session.key),
        Change::Set(agent) => agents::write_record(
            &paths,
            &AgentRecord {
                pane: session.key.clone(),
                server: session.server.clone(),
                instance: session.instance,
                process,
                reported_ms: Some(panechat::time::now_ms()),
                agent,
            },
        ),
    };
    if written.is_err() {
        return;
    }
    if session.multiplexer == Multiplexer::Zellij {
        // `zellij pipe` is slow and sent again when Zellij turns it away: a child of its own
        // does that while the agent goes on.
        // SAFETY: this process has one thread here; the child only runs Rust code of its own
        // and exits.
        match unsafe { libc::fork() } {
            0 => {
                detach();
                publish(&env, &paths, &session);
                panechat::adapters::settle(ZELLIJ_SETTLE);
                std::process::exit(0);
            }
            -1 => publish(&env, &paths, &session),
            _ => {}
        }
        return;
    }
    publish(&env, &paths, &session);
}

/// A background child: its own session, stdio on /dev/null (the agent waits for the hook's
/// output to end).
fn detach() {
    // SAFETY: setsid, open and dup2 on descriptors this process owns.
    unsafe {
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            if null > 2 {
                libc::close(null);
            }
        }
    }
}

fn publish(env: &Env, paths: &Paths, session: &Session) {
    let store = Store::new(paths.clone());
    let sink = HookSink {
        wezterm: session.multiplexer == Multiplexer::Wezterm,
    };
    let _ = Publisher {
        store: &store,
        env,
        here: Some(session),
        sink: &sink,
    }
    .sessions(std::slice::from_ref(&session.key));
}

/// The channels, but what would go to this process's own terminal: the agent draws there, so
/// its title is left alone (in tmux too, while the pane has no conversation); in WezTerm the
/// pane's user vars go to the controlling terminal (the hook's stdio are the agent's pipes).
struct HookSink {
    wezterm: bool,
}

impl Sink for HookSink {
    fn tmux(&self, socket: Option<&str>, args: &[String]) {
        RealSink.tmux(socket, args);
    }
    fn tmux_states(&self, socket: Option<&str>, states: &[(&str, &PaneState)]) {
        if states.is_empty() {
            return;
        }
        let mut args = panechat::adapters::tmux::batch_args(states);
        if let [(_, st)] = states {
            if st.conversation.is_none() {
                without_title(&mut args);
            }
        }
        RealSink.tmux(socket, &args);
    }
    fn own_terminal(&self, bytes: &[u8]) {
        if !self.wezterm {
            return;
        }
        let vars = without_titles(bytes);
        if !vars.is_empty() {
            write_controlling_terminal(&vars);
        }
    }
    fn tty(&self, path: &str, bytes: &[u8]) {
        RealSink.tty(path, bytes);
    }
    fn zellij(&self, name: &str, payload: &str) {
        RealSink.zellij(name, payload);
    }
}

/// One pane's state commands without the pane title they end with (`; select-pane … -T …`):
/// a pane without a conversation keeps the title its agent gives it.
fn without_title(args: &mut Vec<String>) {
    let at = args
        .windows(2)
        .rposition(|w| w[0] == ";" && w[1] == "select-pane");
    if let Some(at) = at {
        if args[at..].iter().any(|a| a == "-T") {
            args.truncate(at);
        }
    }
}

/// `bytes` without its OSC 0/1/2 title sequences (ended by BEL or ST).
fn without_titles(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let title = [&b"\x1b]0;"[..], b"\x1b]1;", b"\x1b]2;"]
            .iter()
            .any(|p| rest.starts_with(p));
        if !title {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let end = (4..rest.len()).find_map(|j| match rest[j] {
            0x07 => Some(j + 1),
            0x1b if rest.get(j + 1) == Some(&b'\\') => Some(j + 2),
            _ => None,
        });
        i += end.unwrap_or(rest.len());
    }
    out
}

/// Writes to `/dev/tty` without blocking (a full terminal drops it).
fn write_controlling_terminal(bytes: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open("/dev/tty")
    {
        let _ = f.write_all(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panes_title_command_is_taken_out_of_its_state_commands() {
        let mut args: Vec<String> = [
            "set-option",
            "-p",
            "-t",
            "%1",
            "@panechat_state",
            "idle",
            ";",
            "select-pane",
            "-t",
            "%1",
            "-T",
            "panechat: new conversation",
        ]
        .map(String::from)
        .to_vec();
        without_title(&mut args);
        assert_eq!(
            args,
            ["set-option", "-p", "-t", "%1", "@panechat_state", "idle"]
        );
        let mut none: Vec<String> = vec!["set-option".into()];
        without_title(&mut none);
        assert_eq!(none, ["set-option"]);
    }

    #[test]
    fn titles_are_taken_out_and_user_vars_kept() {
        let bytes =
            b"\x1b]2;panechat: x\x07\x1b]1337;SetUserVar=panechat_state=YQ==\x07\x1b]0;t\x1b\\z";
        assert_eq!(
            without_titles(bytes),
            b"\x1b]1337;SetUserVar=panechat_state=YQ==\x07z".to_vec()
        );
        assert_eq!(without_titles(b"\x1b]2;cut"), Vec::<u8>::new());
    }
}
