//! The channels a pane's state goes out on, for each multiplexer (what is sent when is decided
//! in [`crate::publish`]): tmux pane options and title, WezTerm user vars and OSC titles written
//! to the pane's terminal, a `panechat::state` message to the Zellij plugin. Every call goes
//! through one [`Sink`], which tests record.

use std::io::Write;

use crate::adapters::exec::RealExec;
use crate::adapters::{osc2, tmux, wezterm, zellij};
use crate::env::Env;
use crate::session::{Multiplexer, Server};
use crate::state::PaneState;

/// Where published bytes and commands go.
pub trait Sink {
    /// Runs `tmux [-S SOCKET] ARGS…` without waiting for it (but after the previous one).
    fn tmux(&self, socket: Option<&str>, args: &[String]);
    /// Publishes the states of these panes (`(pane id, state)`) of the tmux server at
    /// `socket`, in one tmux invocation ([`tmux::batch_args`]).
    fn tmux_states(&self, socket: Option<&str>, states: &[(&str, &PaneState)]) {
        if !states.is_empty() {
            self.tmux(socket, &tmux::batch_args(states));
        }
    }
    /// Writes to this process's own terminal (nothing when it has none).
    fn own_terminal(&self, bytes: &[u8]);
    /// Writes to another pane's terminal device.
    fn tty(&self, path: &str, bytes: &[u8]);
    /// Sends a pane-state payload to the panechat plugin of Zellij session `name`.
    fn zellij(&self, name: &str, payload: &str);
}

/// The real channels.
#[derive(Debug, Default)]
pub struct RealSink;

impl Sink for RealSink {
    fn tmux(&self, socket: Option<&str>, args: &[String]) {
        tmux::spawn(&RealExec, socket, args);
    }

    fn own_terminal(&self, bytes: &[u8]) {
        use std::io::IsTerminal;
        let mut err = std::io::stderr();
        if err.is_terminal() {
            let _ = err.write_all(bytes);
            let _ = err.flush();
        }
    }

    fn tty(&self, path: &str, bytes: &[u8]) {
        let _ = write_tty(path, bytes);
    }

    fn zellij(&self, name: &str, payload: &str) {
        zellij::publish_payload(&Env::capture(), Some(name), payload);
    }
}

/// A [`Sink`] that holds back the tmux pane states given to it until [`TmuxBatch::flush`],
/// which sends them with one tmux invocation per server; everything else goes straight on.
pub struct TmuxBatch<'a> {
    sink: &'a dyn Sink,
    /// (socket, pane, state), in the order given.
    held: std::cell::RefCell<Vec<(Option<String>, String, PaneState)>>,
}

impl<'a> TmuxBatch<'a> {
    /// A batch in front of `sink`.
    pub fn new(sink: &'a dyn Sink) -> Self {
        TmuxBatch {
            sink,
            held: Default::default(),
        }
    }

    /// Sends what is held: one tmux invocation per server, in the order the servers came.
    pub fn flush(&self) {
        let held = std::mem::take(&mut *self.held.borrow_mut());
        let mut sockets: Vec<&Option<String>> = Vec::new();
        for (socket, _, _) in &held {
            if !sockets.contains(&socket) {
                sockets.push(socket);
            }
        }
        for socket in sockets {
            let states: Vec<(&str, &PaneState)> = held
                .iter()
                .filter(|(s, _, _)| s == socket)
                .map(|(_, pane, st)| (pane.as_str(), st))
                .collect();
            self.sink.tmux_states(socket.as_deref(), &states);
        }
    }
}

impl Sink for TmuxBatch<'_> {
    fn tmux(&self, socket: Option<&str>, args: &[String]) {
        self.sink.tmux(socket, args);
    }
    fn tmux_states(&self, socket: Option<&str>, states: &[(&str, &PaneState)]) {
        let mut held = self.held.borrow_mut();
        for (pane, st) in states {
            // A pane given twice keeps its newest state, in its first place.
            match held
                .iter_mut()
                .find(|(s, p, _)| s.as_deref() == socket && p == pane)
            {
                Some(h) => h.2 = (*st).clone(),
                None => held.push((socket.map(str::to_string), pane.to_string(), (*st).clone())),
            }
        }
    }
    fn own_terminal(&self, bytes: &[u8]) {
        self.sink.own_terminal(bytes);
    }
    fn tty(&self, path: &str, bytes: &[u8]) {
        self.sink.tty(path, bytes);
    }
    fn zellij(&self, name: &str, payload: &str) {
        self.sink.zellij(name, payload);
    }
}

/// Writes `bytes` to terminal device `path`, only if it is a character device of this user
/// under `/dev/` (never blocks: a full terminal buffer drops the write).
fn write_tty(path: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
    if !path.starts_with("/dev/") || path.contains("..") {
        return Ok(());
    }
    let meta = std::fs::metadata(path)?;
    // SAFETY: getuid has no preconditions.
    if !meta.file_type().is_char_device() || meta.uid() != unsafe { libc::getuid() } {
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)?;
    f.write_all(bytes)
}

/// Sends pane state `st` to its channels: `is_here` when the pane is this process's own (its
/// terminal is written directly), `server` and `tty` as its session records them. `stamp`
/// orders the states of one pane that reach the Zellij plugin (see `docs/integration.md`).
pub fn deliver(
    sink: &dyn Sink,
    env: &Env,
    st: &PaneState,
    is_here: bool,
    server: Option<&str>,
    tty: Option<&str>,
    stamp: u64,
) {
    if st.pane.multiplexer == Multiplexer::Tmux {
        if let Some(pane) = &st.pane.pane {
            let server = server.map(|s| Server::parse(Multiplexer::Tmux, s));
            let socket = server.as_ref().map(|s| {
                s.socket().unwrap_or(match s {
                    Server::Other(s) => s,
                    _ => "",
                })
            });
            sink.tmux_states(socket, &[(pane, st)]);
        }
    }
    let mut bytes = Vec::new();
    if is_here {
        bytes.extend(osc2(&st.label()));
        if env.get("WEZTERM_PANE").is_some() || env.get("TERM_PROGRAM") == Some("WezTerm") {
            bytes.extend(wezterm::state_vars(st, env.get("TMUX").is_some()));
        }
        sink.own_terminal(&bytes);
    } else if let Some(tty) = tty {
        match st.pane.multiplexer {
            // tmux panes get their title through tmux; their terminal is tmux's.
            Multiplexer::Tmux => {}
            Multiplexer::Wezterm => {
                bytes.extend(osc2(&st.label()));
                bytes.extend(wezterm::state_vars(st, false));
                sink.tty(tty, &bytes);
            }
            _ => {
                bytes.extend(osc2(&st.label()));
                sink.tty(tty, &bytes);
            }
        }
    }
    if st.pane.multiplexer == Multiplexer::Zellij {
        if let Some(name) = server {
            // The pane state's object, with `stamp` as its last member; of the agent, what the
            // plugin shows (its kind, state and tool), inert as every text left in a
            // multiplexer: its session, directory and last message stay out of every pipe.
            let mut st = st.clone();
            if let Some(a) = st.agent.as_mut() {
                *a = crate::agents::Agent {
                    kind: crate::title::pane_text(&a.kind),
                    state: a.state,
                    tool: a.tool.as_deref().map(crate::title::pane_text),
                    ..Default::default()
                };
            }
            let mut payload = serde_json::to_string(&st).expect("state serialises");
            if payload.ends_with('}') {
                payload.pop();
                payload.push_str(&format!(",\"stamp\":{stamp}}}"));
            }
            sink.zellij(name, &payload);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_only_to_terminal_devices() {
        let f = std::env::temp_dir().join(format!("panechat-tty-{}", std::process::id()));
        std::fs::write(&f, b"").unwrap();
        write_tty(f.to_str().unwrap(), b"x").unwrap();
        assert_eq!(
            std::fs::read(&f).unwrap(),
            b"",
            "a file outside /dev is never written"
        );
        let _ = std::fs::remove_file(&f);
        // /dev/null is a character device, but root's: left alone unless we are root.
        assert!(write_tty("/dev/null", b"x").is_ok());
    }
}
