//! Which terminal context a command runs in, and the key its conversation mapping is stored under.
//!
//! Resolution order (first match wins):
//! 1. `PANECHAT_SESSION`, any non-empty string;
//! 2. the multiplexer pane: tmux (`$TMUX_PANE` qualified by the server from `$TMUX`), Zellij
//!    (`$ZELLIJ_PANE_ID` qualified by `$ZELLIJ_SESSION_NAME`), WezTerm (`$WEZTERM_PANE`
//!    qualified by `$WEZTERM_UNIX_SOCKET`). The innermost multiplexer wins: WezTerm is always
//!    outermost; when both tmux and Zellij variables are present, the nearer of the two servers
//!    among this process's ancestors decides (else `$TERM`: tmux sets `screen*`/`tmux*`);
//! 3. other terminals' per-tab ids (`$KITTY_WINDOW_ID`, `$ITERM_SESSION_ID`,
//!    `$TERM_SESSION_ID`, `$WT_SESSION`);
//! 4. the Unix session id (`getsid(0)`) qualified by the session leader's start time.
//!
//! A [`SessionKey`] is printable ASCII, at most [`MAX_KEY_LEN`] bytes, and never used as a path:
//! files are named by [`SessionKey::file_stem`], which adds a hash and keeps only `[A-Za-z0-9_-]`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::adapters::tmux::identity as tmux_id;
use crate::adapters::wezterm::identity as wezterm_id;
use crate::adapters::zellij::identity as zellij_id;
use crate::hash::{hex64, safe_part};

use crate::env::Env;
use crate::error::{Error, Result};
pub use crate::hash::fnv1a;

/// Upper bound on a key's length in bytes.
pub const MAX_KEY_LEN: usize = 160;

/// The multiplexer (or terminal) a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Multiplexer {
    /// A tmux pane.
    Tmux,
    /// A Zellij pane.
    Zellij,
    /// A WezTerm pane.
    Wezterm,
    /// A kitty window.
    Kitty,
    /// An iTerm2 session.
    Iterm,
    /// A macOS Terminal tab.
    Terminal,
    /// A Windows Terminal tab.
    WindowsTerminal,
    /// A Unix session (`getsid`).
    Unix,
    /// Named by `PANECHAT_SESSION` or `--session` (and any name this version does not know).
    #[serde(other)]
    Explicit,
}

impl Multiplexer {
    /// Lower-case name, as in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Multiplexer::Tmux => "tmux",
            Multiplexer::Zellij => "zellij",
            Multiplexer::Wezterm => "wezterm",
            Multiplexer::Kitty => "kitty",
            Multiplexer::Iterm => "iterm",
            Multiplexer::Terminal => "terminal",
            Multiplexer::WindowsTerminal => "windowsterminal",
            Multiplexer::Explicit => "explicit",
            Multiplexer::Unix => "unix",
        }
    }

    /// Infers the multiplexer from a key's prefix.
    pub fn from_key(key: &str) -> Multiplexer {
        match key.split(':').next().unwrap_or("") {
            "tmux" => Multiplexer::Tmux,
            "zellij" => Multiplexer::Zellij,
            "wezterm" => Multiplexer::Wezterm,
            "kitty" => Multiplexer::Kitty,
            "iterm" => Multiplexer::Iterm,
            "terminal" => Multiplexer::Terminal,
            "wt" => Multiplexer::WindowsTerminal,
            "sid" => Multiplexer::Unix,
            _ => Multiplexer::Explicit,
        }
    }
}

impl fmt::Display for Multiplexer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated session key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionKey(String);

impl SessionKey {
    /// Normalises any string into a key: kept as is when it is short and made of safe characters,
    /// otherwise unsafe characters become `_`, it is cut, and a hash of the original is appended
    /// so distinct inputs stay distinct. Empty input is an error.
    pub fn normalize(raw: &str) -> Result<SessionKey> {
        if raw.is_empty() {
            return Err(Error::BadArgument {
                message: "a session key cannot be empty".into(),
            });
        }
        if raw.len() <= MAX_KEY_LEN && raw.bytes().all(is_key_byte) {
            return Ok(SessionKey(raw.to_string()));
        }
        let mut s: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii() && is_key_byte(c as u8) {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        s.push('~');
        s.push_str(&hex64(fnv1a(raw.as_bytes())));
        Ok(SessionKey(s))
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A file-name stem unique to this key: a readable part plus a hash, `[A-Za-z0-9_-]` only.
    pub fn file_stem(&self) -> String {
        let readable: String = self
            .0
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(48)
            .collect();
        format!("{readable}-{}", hex64(fnv1a(self.0.as_bytes())))
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._:%@+=,-~".contains(&b)
}

/// A pane (or other terminal context) as every record names it: session mappings, runs and lock
/// holders all carry one, serialised as the fields `session`, `multiplexer` and `pane`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaneRef {
    /// The session key.
    #[serde(alias = "key")]
    pub session: SessionKey,
    /// Where it comes from.
    pub multiplexer: Multiplexer,
    /// The pane id as the multiplexer names it (`%3`, `7`), when there is one.
    #[serde(default)]
    pub pane: Option<String>,
}

impl PaneRef {
    /// A reference to a session known only by its key (the multiplexer and pane are inferred
    /// from the key's form, e.g. `tmux:<hash>:%3`).
    pub fn from_key(key: SessionKey) -> PaneRef {
        let multiplexer = Multiplexer::from_key(key.as_str());
        let pane = match multiplexer {
            Multiplexer::Tmux | Multiplexer::Zellij | Multiplexer::Wezterm => {
                key.as_str().rsplit(':').next().map(str::to_string)
            }
            _ => None,
        };
        PaneRef {
            session: key,
            multiplexer,
            pane,
        }
    }

    /// Where it is, for people: `tmux pane %3`, or `session <key>` outside a multiplexer.
    pub fn place(&self) -> String {
        match &self.pane {
            Some(p) if self.multiplexer == Multiplexer::Zellij => {
                format!("zellij pane {}", zellij_pane_number(p))
            }
            Some(p) => format!("{} pane {p}", self.multiplexer),
            None => format!("session {}", self.session),
        }
    }

    /// The session this reference names, with what its pane lives in (`server`, see
    /// [`Session::server`]).
    pub fn to_session(&self, server: Option<String>) -> Session {
        Session {
            key: self.session.clone(),
            multiplexer: self.multiplexer,
            pane: self.pane.clone(),
            server,
            tty: None,
            instance: None,
        }
    }
}

/// How Zellij itself shows terminal pane `id` (`terminal_0` is "Pane #1"): `#1`; an id that is
/// not a number is shown as it is.
pub fn zellij_pane_number(id: &str) -> String {
    let n = id.strip_prefix("terminal_").unwrap_or(id);
    match n.parse::<u64>() {
        Ok(n) => format!("#{}", n + 1),
        Err(_) => id.to_string(),
    }
}

/// What a pane lives in, as its session records it ([`Session::server`]), in each multiplexer's
/// own terms. Stored as the same strings as always ([`Server::encode`]), so stored records and
/// keys do not change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Server {
    /// A tmux server: its socket and pid (`<socket>,<pid>`).
    Tmux {
        /// The server's socket.
        socket: String,
        /// The server's pid.
        pid: u32,
    },
    /// A Zellij session, by its name.
    Zellij {
        /// The session's name.
        session: String,
    },
    /// A WezTerm instance, by its socket.
    Wezterm {
        /// The instance's socket.
        socket: String,
    },
    /// A Unix session: its leader's pid and start time (`<sid>-<start>`).
    Unix {
        /// The session leader's pid.
        sid: u32,
        /// Its start time.
        start: u64,
    },
    /// A form this version does not read (kept as it is).
    Other(String),
}

impl Server {
    /// Reads a recorded server of a pane of `mux`.
    pub fn parse(mux: Multiplexer, s: &str) -> Server {
        let other = || Server::Other(s.to_string());
        match mux {
            Multiplexer::Tmux => match s.rsplit_once(',') {
                Some((socket, pid)) => match pid.parse() {
                    Ok(pid) => Server::Tmux {
                        socket: socket.to_string(),
                        pid,
                    },
                    Err(_) => other(),
                },
                None => other(),
            },
            Multiplexer::Zellij => Server::Zellij {
                session: s.to_string(),
            },
            Multiplexer::Wezterm => Server::Wezterm {
                socket: s.to_string(),
            },
            Multiplexer::Unix => match s.split_once('-') {
                Some((sid, start)) => match (sid.parse(), start.parse()) {
                    (Ok(sid), Ok(start)) => Server::Unix { sid, start },
                    _ => other(),
                },
                None => other(),
            },
            _ => other(),
        }
    }

    /// The string it is recorded as.
    pub fn encode(&self) -> String {
        match self {
            Server::Tmux { socket, pid } => format!("{socket},{pid}"),
            Server::Zellij { session } => session.clone(),
            Server::Wezterm { socket } => socket.clone(),
            Server::Unix { sid, start } => format!("{sid}-{start}"),
            Server::Other(s) => s.clone(),
        }
    }

    /// The socket of a tmux server or WezTerm instance.
    pub fn socket(&self) -> Option<&str> {
        match self {
            Server::Tmux { socket, .. } | Server::Wezterm { socket } => Some(socket),
            _ => None,
        }
    }
}

/// The resolved session of this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The key.
    pub key: SessionKey,
    /// Where it comes from.
    pub multiplexer: Multiplexer,
    /// The pane id as the multiplexer names it (`%3`, `7`), when there is one.
    pub pane: Option<String>,
    /// What the pane lives in, to tell later whether it still exists: the tmux server
    /// (`<socket>,<pid>`), the WezTerm socket, the Zellij session name, or `<sid>-<start>`.
    pub server: Option<String>,
    /// The terminal device of this process (`/dev/pts/3`) when the session is its own and it
    /// has one; recorded so other processes can reach the pane's terminal.
    pub tty: Option<String>,
    /// The multiplexer instance the pane lives in, when known (part of the key).
    pub instance: Option<Instance>,
}

impl Session {
    /// What the pane lives in ([`Session::server`], read).
    pub fn server(&self) -> Option<Server> {
        self.server
            .as_deref()
            .map(|s| Server::parse(self.multiplexer, s))
    }

    /// The typed reference to this session's pane, as records store it.
    pub fn pane_ref(&self) -> PaneRef {
        PaneRef {
            session: self.key.clone(),
            multiplexer: self.multiplexer,
            pane: self.pane.clone(),
        }
    }
}

/// Which run of a multiplexer a pane lives in. Pane ids (`%0` in tmux, `0` in Zellij and
/// WezTerm) start again when a server restarts, and a Zellij session name or a WezTerm socket
/// path is reused, so a pane is known by its instance as well: a new instance never inherits
/// an old one's panes. Recorded with each session's mapping, and checked without spawning
/// anything ([`Instance::alive`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Instance {
    /// The multiplexer's server process (tmux, Zellij): its pid and start time (clock ticks
    /// since boot), so a recycled pid is not mistaken for it.
    Process {
        /// The server's pid.
        pid: u32,
        /// Its start time.
        start: u64,
    },
    /// The multiplexer's socket file (WezTerm): made anew by each instance.
    Socket {
        /// The file's device.
        dev: u64,
        /// Its inode.
        ino: u64,
    },
    /// Looked for, and not found (no `/proc` entry, no socket variable): the key names the
    /// server as before, and the record counts as live.
    Unknown,
}

impl Instance {
    /// Whether this instance still runs; `socket` is the record's socket path (WezTerm).
    pub fn alive(&self, socket: Option<&str>) -> bool {
        match *self {
            Instance::Process { pid, start } => process_alive(pid, start),
            Instance::Socket { dev, ino } => socket.and_then(socket_identity) == Some((dev, ino)),
            Instance::Unknown => true,
        }
    }

    /// A short, stable tag of the instance for keys (`None` for [`Instance::Unknown`]).
    fn tag(&self) -> Option<String> {
        let s = match *self {
            Instance::Process { pid, start } => format!("p{pid},{start}"),
            Instance::Socket { dev, ino } => format!("s{dev},{ino}"),
            Instance::Unknown => return None,
        };
        Some(hex64(fnv1a(s.as_bytes()))[..8].to_string())
    }
}

/// Whether this system tells multiplexer instances apart (Linux `/proc`). Where it does not,
/// keys name the server as before and records carry no instance.
pub fn instances_known() -> bool {
    // Asked for every record a listing or a publish looks at: once per process is enough.
    static KNOWN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *KNOWN.get_or_init(|| std::path::Path::new("/proc/self/stat").exists())
}

/// The device and inode of a socket file.
fn socket_identity(path: &str) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).ok()?;
    Some((m.dev(), m.ino()))
}

/// The tmux server named in `$TMUX` (`<socket>,<pid>,<session index>`).
fn tmux_instance(tmux: &str) -> Option<Instance> {
    let pid = tmux_id::server_pid(tmux)?;
    let start = process_start_time(pid)?;
    Some(Instance::Process { pid, start })
}

/// The nearest ancestor of this process whose command name satisfies `is_server` (a shell in
/// a Zellij pane, a command the plugin runs and a floating pane are all children of the
/// session's server).
fn server_ancestor(
    stat: &dyn Fn(u32) -> Option<ProcStat>,
    is_server: &dyn Fn(&str) -> bool,
) -> Option<Instance> {
    let mut pid = u32::try_from(stat(std::process::id())?.ppid).ok()?;
    for _ in 0..64 {
        if pid <= 1 {
            return None;
        }
        let st = stat(pid)?;
        if is_server(&st.comm) {
            return Some(Instance::Process {
                pid,
                start: st.start,
            });
        }
        pid = u32::try_from(st.ppid).ok()?;
    }
    None
}

fn zellij_instance() -> Option<Instance> {
    server_ancestor(&proc_stat, &zellij_id::is_server_process)
}

fn wezterm_instance(socket: Option<&str>) -> Option<Instance> {
    let (dev, ino) = socket_identity(socket?)?;
    Some(Instance::Socket { dev, ino })
}

fn numeric(s: &str) -> Option<&str> {
    (!s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit())).then_some(s)
}

/// Builds the key of pane `pane` in the multiplexer this process runs in (used to name another
/// pane's session, e.g. the new split of a fork). `None` when not inside a multiplexer.
/// The WezTerm GUI itself (whose plugin runs panechat) has `WEZTERM_UNIX_SOCKET` but no pane.
pub fn key_for_pane(env: &Env, pane: &str) -> Result<Option<Session>> {
    let gui = env.get("WEZTERM_UNIX_SOCKET").map(|_| Multiplexer::Wezterm);
    // A tmux popup has `TMUX` but no `TMUX_PANE` of its own.
    let popup = (env.get("TMUX").is_some() && pane.starts_with('%')).then_some(Multiplexer::Tmux);
    // A command the Zellij plugin runs has the session's name but no pane of its own.
    let plugin = (env.get("ZELLIJ_SESSION_NAME").is_some() && pane.starts_with("terminal_"))
        .then_some(Multiplexer::Zellij);
    let Some(mux) = innermost_multiplexer(env).or(popup).or(plugin).or(gui) else {
        return Ok(None);
    };
    let bad = || Error::BadArgument {
        message: format!("`{pane}` is not a {mux} pane id"),
    };
    let session = match mux {
        Multiplexer::Tmux => {
            let n = pane.strip_prefix('%').and_then(numeric).ok_or_else(bad)?;
            let tmux = env.get("TMUX").unwrap_or("");
            tmux_session(tmux, n, tmux_instance(tmux))
        }
        Multiplexer::Zellij => {
            let n = numeric(pane.strip_prefix("terminal_").unwrap_or(pane)).ok_or_else(bad)?;
            zellij_session(
                env.get("ZELLIJ_SESSION_NAME").unwrap_or(""),
                n,
                zellij_instance(),
            )
        }
        Multiplexer::Wezterm => {
            let n = numeric(pane).ok_or_else(bad)?;
            let socket = env.get("WEZTERM_UNIX_SOCKET");
            wezterm_session(socket, n, wezterm_instance(socket))
        }
        _ => return Ok(None),
    };
    Ok(Some(session))
}

/// Pane `%n` of the tmux server `$TMUX` names, in `instance` of it.
fn tmux_session(tmux: &str, n: &str, instance: Option<Instance>) -> Session {
    let tag = instance.as_ref().and_then(Instance::tag);
    Session {
        key: SessionKey(tmux_id::key(tmux, n, tag.as_deref())),
        multiplexer: Multiplexer::Tmux,
        pane: Some(tmux_id::pane_id(n)),
        server: Some(tmux_id::server_of(tmux).to_string()),
        tty: None,
        instance: Some(instance.unwrap_or(Instance::Unknown)),
    }
}

/// Pane `n` of Zellij session `name`, in `instance` of its server.
fn zellij_session(name: &str, n: &str, instance: Option<Instance>) -> Session {
    let tag = instance.as_ref().and_then(Instance::tag);
    Session {
        key: SessionKey(zellij_id::key(name, n, tag.as_deref())),
        multiplexer: Multiplexer::Zellij,
        pane: Some(n.to_string()),
        server: Some(name.to_string()),
        tty: None,
        instance: Some(instance.unwrap_or(Instance::Unknown)),
    }
}

/// Pane `n` of the WezTerm instance listening on `socket`.
fn wezterm_session(socket: Option<&str>, n: &str, instance: Option<Instance>) -> Session {
    let tag = instance.as_ref().and_then(Instance::tag);
    Session {
        key: SessionKey(wezterm_id::key(socket, n, tag.as_deref())),
        multiplexer: Multiplexer::Wezterm,
        pane: Some(n.to_string()),
        server: socket.map(str::to_string),
        tty: None,
        instance: Some(instance.unwrap_or(Instance::Unknown)),
    }
}

/// Which multiplexer's pane variables describe this process, innermost first.
pub fn innermost_multiplexer(env: &Env) -> Option<Multiplexer> {
    innermost_with(env, &proc_parent)
}

/// A process's parent and command name (Linux `/proc`).
fn proc_parent(pid: i32) -> Option<(i32, String)> {
    let st = proc_stat(u32::try_from(pid).ok()?)?;
    Some((st.ppid, st.comm))
}

/// Zellij inside tmux, or tmux inside Zellij: both leave their pane variables to what runs in
/// the other, and a shell started by a multiplexer is a child of its server. So the nearer of
/// the two servers among this process's ancestors is the innermost (tmux names its server's pid
/// in `$TMUX`; Zellij's server runs as `zellij`). `None` when neither is found (no `/proc`).
fn nearest_server(env: &Env, stat: &dyn Fn(i32) -> Option<(i32, String)>) -> Option<Multiplexer> {
    let tmux_server: Option<i32> = env
        .get("TMUX")
        .and_then(tmux_id::server_pid)
        .and_then(|p| i32::try_from(p).ok())
        .filter(|p| *p > 1);
    // One read per ancestor: its parent (the next one) and its name.
    let (mut pid, _) = stat(std::process::id() as i32)?;
    for _ in 0..64 {
        if pid <= 1 {
            return None;
        }
        if Some(pid) == tmux_server {
            return Some(Multiplexer::Tmux);
        }
        let (parent, comm) = stat(pid)?;
        if zellij_id::is_server_process(&comm) {
            return Some(Multiplexer::Zellij);
        }
        if tmux_id::is_server_process(&comm) {
            return Some(Multiplexer::Tmux);
        }
        pid = parent;
    }
    None
}

fn innermost_with(env: &Env, stat: &dyn Fn(i32) -> Option<(i32, String)>) -> Option<Multiplexer> {
    let tmux = env.get("TMUX").is_some() && env.get("TMUX_PANE").is_some();
    let zellij = env.get("ZELLIJ_PANE_ID").is_some();
    let wezterm = env.get("WEZTERM_PANE").is_some();
    if tmux && zellij {
        if let Some(m) = nearest_server(env, stat) {
            return Some(m);
        }
        // Without the process tree: tmux sets `TERM` to `screen*`/`tmux*` in its panes, which
        // Zellij passes on unchanged, so this guesses right only for tmux inside Zellij.
        let term = env.get("TERM").unwrap_or("");
        return Some(if tmux_id::is_pane_term(term) {
            Multiplexer::Tmux
        } else {
            Multiplexer::Zellij
        });
    }
    if tmux {
        Some(Multiplexer::Tmux)
    } else if zellij {
        Some(Multiplexer::Zellij)
    } else if wezterm {
        Some(Multiplexer::Wezterm)
    } else {
        None
    }
}

/// Resolves the session from the environment (see the module docs for the order), with this
/// process's terminal device.
pub fn resolve(env: &Env) -> Result<Session> {
    let mut s = resolve_key(env)?;
    s.tty = own_tty();
    Ok(s)
}

/// The terminal device of this process (stderr, else stdin, else stdout), if any.
pub fn own_tty() -> Option<String> {
    use std::os::fd::AsFd;
    nix::unistd::ttyname(std::io::stderr().as_fd())
        .or_else(|_| nix::unistd::ttyname(std::io::stdin().as_fd()))
        .or_else(|_| nix::unistd::ttyname(std::io::stdout().as_fd()))
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
        .filter(|p| p.starts_with("/dev/"))
}

/// The multiplexer pane this process runs in (tmux, Zellij or WezTerm), whatever
/// `PANECHAT_SESSION` says: `None` outside a multiplexer. An agent's hook reports into the
/// pane it runs in with it.
pub fn pane_session(env: &Env) -> Option<Session> {
    match innermost_multiplexer(env)? {
        Multiplexer::Tmux => {
            let n = env.get("TMUX_PANE")?.strip_prefix('%').and_then(numeric)?;
            let tmux = env.get("TMUX").unwrap_or("");
            Some(tmux_session(tmux, n, tmux_instance(tmux)))
        }
        Multiplexer::Zellij => {
            let n = env.get("ZELLIJ_PANE_ID").and_then(numeric)?;
            Some(zellij_session(
                env.get("ZELLIJ_SESSION_NAME").unwrap_or(""),
                n,
                zellij_instance(),
            ))
        }
        Multiplexer::Wezterm => {
            let n = env.get("WEZTERM_PANE").and_then(numeric)?;
            let socket = env.get("WEZTERM_UNIX_SOCKET");
            Some(wezterm_session(socket, n, wezterm_instance(socket)))
        }
        _ => None,
    }
}

fn resolve_key(env: &Env) -> Result<Session> {
    if let Some(raw) = env.get_os("PANECHAT_SESSION").filter(|v| !v.is_empty()) {
        let raw = raw.to_string_lossy();
        return Ok(Session {
            key: SessionKey::normalize(&raw)?,
            multiplexer: Multiplexer::Explicit,
            pane: None,
            server: None,
            tty: None,
            instance: None,
        });
    }
    if let Some(s) = pane_session(env) {
        return Ok(s);
    }
    let terminals: [(&str, Multiplexer, &str); 4] = [
        ("KITTY_WINDOW_ID", Multiplexer::Kitty, "kitty"),
        ("ITERM_SESSION_ID", Multiplexer::Iterm, "iterm"),
        ("TERM_SESSION_ID", Multiplexer::Terminal, "terminal"),
        ("WT_SESSION", Multiplexer::WindowsTerminal, "wt"),
    ];
    for (var, mux, prefix) in terminals {
        if let Some(v) = env.get(var) {
            let qualifier = if mux == Multiplexer::Kitty {
                format!("{}:", safe_part(env.get("KITTY_PID").unwrap_or("0"), 12))
            } else {
                String::new()
            };
            return Ok(Session {
                key: SessionKey(format!("{prefix}:{qualifier}{}", safe_part(v, 64))),
                multiplexer: mux,
                // Shown in tables and the waiting line: no control characters from the env.
                pane: Some(crate::title::sanitize_title(v).chars().take(64).collect()),
                server: None,
                tty: None,
                instance: None,
            });
        }
    }
    unix_session()
}

fn unix_session() -> Result<Session> {
    // SAFETY: getsid(0) only queries the calling process.
    let sid = unsafe { libc::getsid(0) };
    if sid < 0 {
        return Err(Error::UnknownTerminal {
            source: std::io::Error::last_os_error(),
        });
    }
    let start = process_start_time(sid as u32).unwrap_or(0);
    Ok(Session {
        key: SessionKey(format!("sid:{sid}-{start}")),
        multiplexer: Multiplexer::Unix,
        pane: None,
        server: Some(
            Server::Unix {
                sid: sid as u32,
                start,
            }
            .encode(),
        ),
        tty: None,
        // The session leader: the session ends with it.
        instance: (start != 0).then_some(Instance::Process {
            pid: sid as u32,
            start,
        }),
    })
}

/// A process's start time in clock ticks since boot (`/proc/PID/stat` field 22), used with the
/// pid so a recycled pid is not mistaken for the old process.
pub fn process_start_time(pid: u32) -> Option<u64> {
    proc_stat(pid).map(|st| st.start)
}

/// What panechat reads of `/proc/PID/stat`.
struct ProcStat {
    /// Field 2, the command name.
    comm: String,
    /// Field 3.
    state: char,
    /// Field 4, the parent's pid.
    ppid: i32,
    /// Field 22, the start time in clock ticks since boot.
    start: u64,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces or ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let mut fields = stat.get(close + 1..)?.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let start = fields.nth(17)?.parse().ok()?;
    Some(ProcStat {
        comm,
        state,
        ppid,
        start,
    })
}

/// Whether process `pid` is alive and is the same process that started at `start`
/// (clock ticks since boot; 0 = unknown, pid alone decides).
pub fn process_alive(pid: u32, start: u64) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    match proc_stat(pid) {
        // A zombie has exited; it only waits for its parent to reap it.
        Some(st) => st.state != 'Z' && st.state != 'X' && (start == 0 || st.start == start),
        // No /proc entry: fall back to kill(pid, 0).
        None => {
            // SAFETY: signal 0 only checks for existence.
            let r = unsafe { libc::kill(pid as i32, 0) };
            r == 0 && std::fs::metadata("/proc/self").is_err()
        }
    }
}

/// For unit tests: a Unix session whose leader is this process (`alive`) or a process of the
/// same pid started at another time (gone).
#[cfg(test)]
pub(crate) fn this_process_session(key: &str, alive: bool) -> Session {
    let pid = std::process::id();
    let start = process_start_time(pid).unwrap() + u64::from(!alive);
    Session {
        key: SessionKey::normalize(key).unwrap(),
        multiplexer: Multiplexer::Unix,
        pane: None,
        server: Some(format!("{pid}-{start}")),
        tty: None,
        instance: Some(Instance::Process { pid, start }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn explicit_wins() {
        let s = resolve(&env(&[
            ("PANECHAT_SESSION", "work"),
            ("TMUX", "/tmp/s,1,0"),
            ("TMUX_PANE", "%1"),
        ]))
        .unwrap();
        assert_eq!(s.key.as_str(), "work");
        assert_eq!(s.multiplexer, Multiplexer::Explicit);
    }

    #[test]
    fn tmux_pane_is_qualified_by_server() {
        let a = resolve(&env(&[
            ("TMUX", "/tmp/tmux-0/default,100,0"),
            ("TMUX_PANE", "%3"),
        ]))
        .unwrap();
        let b = resolve(&env(&[
            ("TMUX", "/tmp/tmux-0/default,200,0"),
            ("TMUX_PANE", "%3"),
        ]))
        .unwrap();
        let c = resolve(&env(&[
            ("TMUX", "/tmp/tmux-0/default,100,1"),
            ("TMUX_PANE", "%3"),
        ]))
        .unwrap();
        assert!(a.key.as_str().starts_with("tmux:") && a.key.as_str().ends_with(":%3"));
        assert_ne!(a.key, b.key, "a restarted server must not inherit pane %3");
        assert_eq!(a.key, c.key, "the session index is not part of the server");
        assert_eq!(a.pane.as_deref(), Some("%3"));
    }

    #[test]
    fn pane_wins_over_getsid_and_terminals() {
        let s = resolve(&env(&[
            ("ZELLIJ_PANE_ID", "4"),
            ("ZELLIJ_SESSION_NAME", "dev"),
            ("KITTY_WINDOW_ID", "1"),
        ]))
        .unwrap();
        assert_eq!(s.key.as_str(), "zellij:dev:4");
        let w = resolve(&env(&[
            ("WEZTERM_PANE", "7"),
            ("WEZTERM_UNIX_SOCKET", "/run/w/sock"),
        ]))
        .unwrap();
        assert!(w.key.as_str().starts_with("wezterm:") && w.key.as_str().ends_with(":7"));
    }

    #[test]
    fn innermost_multiplexer_wins() {
        let tmux_in_wezterm = env(&[
            ("WEZTERM_PANE", "1"),
            ("TMUX", "/s,1,0"),
            ("TMUX_PANE", "%2"),
        ]);
        assert_eq!(
            resolve(&tmux_in_wezterm).unwrap().multiplexer,
            Multiplexer::Tmux
        );
        // tmux and Zellij: the nearer server among this process's ancestors decides.
        let me = std::process::id() as i32;
        let tree = |rows: Vec<(i32, i32, &'static str)>| {
            move |pid: i32| {
                rows.iter()
                    .find(|r| r.0 == pid)
                    .map(|r| (r.1, r.2.to_string()))
            }
        };
        let both = |term: &str| {
            env(&[
                ("TMUX", "/tmp/tmux-0/default,500,0"),
                ("TMUX_PANE", "%2"),
                ("ZELLIJ_PANE_ID", "3"),
                ("TERM", term),
            ])
        };
        // Zellij started in a tmux pane: its panes keep tmux's variables and `TERM`.
        let zellij_in_tmux = tree(vec![
            (me, 900, "panechat"),
            (900, 800, "bash"),
            (800, 1, "zellij"),
        ]);
        assert_eq!(
            innermost_with(&both("tmux-256color"), &zellij_in_tmux),
            Some(Multiplexer::Zellij)
        );
        // tmux started in a Zellij pane: the shell is a child of the server named in `$TMUX`.
        let tmux_in_zellij = tree(vec![
            (me, 900, "panechat"),
            (900, 500, "bash"),
            (500, 1, "tmux: server"),
        ]);
        assert_eq!(
            innermost_with(&both("xterm-256color"), &tmux_in_zellij),
            Some(Multiplexer::Tmux)
        );
        // A popup of that tmux (a child of its server, further down).
        let popup = tree(vec![(me, 700, "sh"), (700, 500, "sh"), (500, 1, "x")]);
        assert_eq!(
            innermost_with(&both("xterm-256color"), &popup),
            Some(Multiplexer::Tmux)
        );
        // Without a process tree (no /proc), `TERM` decides.
        let none = |_: i32| None;
        assert_eq!(
            innermost_with(&both("xterm-256color"), &none),
            Some(Multiplexer::Zellij)
        );
        assert_eq!(
            innermost_with(&both("tmux-256color"), &none),
            Some(Multiplexer::Tmux)
        );
        // The real process tree can be read.
        assert!(proc_parent(me).is_some_and(|(parent, _)| parent > 0));
    }

    #[test]
    fn hostile_values_become_safe_bounded_keys() {
        for raw in [
            "../../etc/passwd",
            "a/b",
            "line\nbreak",
            &"x".repeat(10_000),
            "sp ace",
            "é",
        ] {
            let k = SessionKey::normalize(raw).unwrap();
            assert!(k.as_str().len() <= MAX_KEY_LEN, "{raw:?}");
            assert!(k.as_str().bytes().all(is_key_byte), "{k}");
            assert!(!k.as_str().contains('/'));
            let stem = k.file_stem();
            assert!(stem
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
            assert!(stem.len() < 80);
        }
        assert_ne!(
            SessionKey::normalize("a/b").unwrap(),
            SessionKey::normalize("a\nb").unwrap()
        );
        assert!(SessionKey::normalize("").is_err());
        let z = resolve(&env(&[
            ("ZELLIJ_PANE_ID", "4"),
            ("ZELLIJ_SESSION_NAME", "../x y"),
        ]))
        .unwrap();
        assert!(!z.key.as_str().contains('/'));
    }

    #[test]
    fn terminal_tab_ids_are_shown_without_controls() {
        let s = resolve(&env(&[("ITERM_SESSION_ID", "w0t0p0:\x1b]2;evil\x07")])).unwrap();
        assert_eq!(s.multiplexer, Multiplexer::Iterm);
        let pane = s.pane.unwrap();
        assert!(!pane.chars().any(crate::title::is_control), "{pane:?}");
    }

    #[test]
    fn bad_pane_values_fall_through() {
        let s = resolve(&env(&[("TMUX", "/s,1,0"), ("TMUX_PANE", "%1;rm -rf")])).unwrap();
        assert_eq!(s.multiplexer, Multiplexer::Unix);
    }

    #[test]
    fn getsid_fallback_is_qualified() {
        let s = resolve(&Env::default()).unwrap();
        assert_eq!(s.multiplexer, Multiplexer::Unix);
        assert!(s.key.as_str().starts_with("sid:"));
    }

    #[test]
    fn other_panes_of_the_same_server() {
        let e = env(&[("TMUX", "/tmp/t,9,0"), ("TMUX_PANE", "%0")]);
        let me = resolve(&e).unwrap();
        let other = key_for_pane(&e, "%5").unwrap().unwrap();
        assert_eq!(me.key.as_str().replace("%0", "%5"), other.key.as_str());
        assert!(key_for_pane(&e, "5;x").is_err());
        // From a tmux popup (TMUX, no TMUX_PANE): the pane it was opened over.
        let popup = env(&[("TMUX", "/tmp/t,9,0")]);
        assert_eq!(key_for_pane(&popup, "%5").unwrap().unwrap().key, other.key);
        // From the WezTerm GUI (a plugin): the socket, no pane of its own.
        let pane = env(&[
            ("WEZTERM_UNIX_SOCKET", "/run/w/gui-sock-1"),
            ("WEZTERM_PANE", "3"),
        ]);
        let gui = env(&[("WEZTERM_UNIX_SOCKET", "/run/w/gui-sock-1")]);
        assert_eq!(
            key_for_pane(&gui, "3").unwrap().unwrap().key,
            resolve(&pane).unwrap().key
        );
    }

    #[test]
    fn keys_are_the_ones_earlier_versions_stored() {
        // (what an earlier version gave these panes: their stored mappings are still found)
        let key = |s: Session| s.key.as_str().to_string();
        assert_eq!(
            key(tmux_session("/tmp/nosuch/sock,999999,2", "3", None)),
            "tmux:a99377f250cc:%3"
        );
        let server = Instance::Process { pid: 1, start: 15 };
        assert_eq!(
            key(tmux_session("/tmp/x,1,0", "5", Some(server))),
            "tmux:3322434df6f1:%5"
        );
        assert_eq!(
            key(zellij_session("my-work", "4", None)),
            "zellij:my-work:4"
        );
        assert_eq!(
            key(zellij_session("my work!", "4", None)),
            "zellij:hcc254fc04706:4"
        );
        assert_eq!(
            key(wezterm_session(Some("/nonexistent/sock"), "7", None)),
            "wezterm:33c862dfd12f:7"
        );
    }

    #[test]
    fn servers_are_read_and_written_as_recorded() {
        for (mux, s) in [
            (Multiplexer::Tmux, "/tmp/tmux-1000/default,4242"),
            (Multiplexer::Tmux, "/tmp/odd,name,7"),
            (Multiplexer::Zellij, "my work"),
            (Multiplexer::Wezterm, "/run/user/1000/wezterm/gui-sock-9"),
            (Multiplexer::Unix, "77-12345"),
            (Multiplexer::Tmux, "no-pid"),
        ] {
            assert_eq!(Server::parse(mux, s).encode(), s);
        }
        assert_eq!(
            Server::parse(Multiplexer::Tmux, "/tmp/odd,name,7"),
            Server::Tmux {
                socket: "/tmp/odd,name".into(),
                pid: 7
            }
        );
        assert_eq!(
            Server::parse(Multiplexer::Unix, "77-12345"),
            Server::Unix {
                sid: 77,
                start: 12345
            }
        );
        let t = tmux_session("/tmp/s,42,3", "1", None);
        assert_eq!(t.server.as_deref(), Some("/tmp/s,42"));
        assert_eq!(t.server().unwrap().socket(), Some("/tmp/s"));
    }

    #[test]
    fn liveness_uses_start_time() {
        let me = std::process::id();
        let start = process_start_time(me).unwrap();
        assert!(process_alive(me, start));
        assert!(!process_alive(me, start + 1));
    }
}
