//! The plugin's state and its reducer: [`State::handle`] takes one [`Input`] (an event, a pipe
//! message, a key, a command's result) and returns the [`Effect`]s to perform and whether to
//! redraw. Nothing here talks to Zellij: the shim turns Zellij events into inputs and performs
//! the effects through a [`Host`].

use std::collections::{BTreeMap, HashMap};

use crate::config::Config;
use crate::data::{self, PaneState};
use crate::text;
use panechat_vocab::fuzzy;

/// Name of the pipe message panechat sends whenever a pane's state changes.
pub const PIPE_STATE: &str = "panechat::state";
/// What the plugin prints to a `zellij pipe` that brought a `panechat::state` message
/// (panechat's `adapters::zellij::ACK`; panechat sends a message again when a `zellij pipe`
/// ends without it).
pub const ACK: &str = "ok";
/// Name of the pipe message (from a keybind) that opens the picker.
pub const PIPE_PICK: &str = "panechat::pick";
/// Name of the pipe message (from a keybind) that forks the focused pane's conversation.
pub const PIPE_FORK: &str = "panechat::fork";
/// Name of the pipe message (from a keybind) that asks a question about the focused pane in a
/// floating pane.
pub const PIPE_ASK: &str = "panechat::ask";
/// Name of the pipe message that asks the plugin for its view of the panes (JSON on the CLI's
/// stdout): what scripts and tests use to see what the plugin knows.
pub const PIPE_LIST: &str = "panechat::list";
/// Name of the pipe message (bound to a key) that focuses the next pane whose coding agent
/// needs you, across tabs.
pub const PIPE_NEXT: &str = "panechat::next";

pub use panechat_vocab::state::{Agent, AgentState, NEEDS_YOU_MARK};

/// A terminal pane as Zellij reports it (`PaneUpdate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pane {
    /// Terminal pane id (`ZELLIJ_PANE_ID`).
    pub id: u32,
    /// Position of its tab.
    pub tab: usize,
    /// Its current name or title, as Zellij shows it.
    pub title: String,
    /// Focused in its tab.
    pub focused: bool,
    /// A floating pane.
    pub floating: bool,
    /// Its command has exited (held pane).
    pub exited: bool,
    /// It shows the command it runs as its title (a command pane), not a name given to it.
    pub titled_by_command: bool,
}

/// A tab as Zellij reports it (`TabUpdate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tab {
    /// Position.
    pub position: usize,
    /// Name.
    pub name: String,
    /// The active tab.
    pub active: bool,
    /// Floating panes are shown in it.
    pub floating_visible: bool,
    /// Zellij's id of the tab (its default name is `Tab #<id + 1>`), when Zellij says it.
    pub id: Option<usize>,
}

/// A client attached to the session, as `list_clients` reports it (`ListClients`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// Zellij's client id.
    pub id: u16,
    /// The client this plugin instance belongs to.
    pub current: bool,
    /// The terminal pane it has focused (`None`: a plugin pane).
    pub pane: Option<u32>,
}

/// A key the picker understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A printable character (typed into the filter).
    Char(char),
    /// `Ctrl` + a letter.
    Ctrl(char),
    /// Enter.
    Enter,
    /// Esc.
    Esc,
    /// Backspace.
    Backspace,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Anything else.
    Other,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The Zellij session's name (`ModeUpdate`).
    SessionName(String),
    /// The permission prompt was answered (or the cached grant applied).
    Permission(bool),
    /// Every terminal pane of the session.
    Panes(Vec<Pane>),
    /// Every tab of the session.
    Tabs(Vec<Tab>),
    /// A pane was closed.
    PaneClosed(u32),
    /// The clients attached to the session, answering [`Effect::ListClients`].
    Clients(Vec<Client>),
    /// How many clients the session has (`SessionUpdate`); a change is worth asking who they
    /// are.
    ClientCount(usize),
    /// A pipe message. `payload` `None` marks the end of a CLI pipe (from a keybind, it only
    /// means that no payload was configured).
    Pipe {
        /// Message name.
        name: String,
        /// Its payload.
        payload: Option<String>,
        /// The CLI pipe's id, when it came from `zellij pipe`.
        cli: Option<String>,
    },
    /// A key pressed in the plugin's pane.
    Key(Key),
    /// The plugin's pane was shown or hidden.
    Visible(bool),
    /// A command started by [`Effect::Run`] ended (`exit` `None`: it could not run or was killed).
    CommandDone {
        /// The context given to [`Effect::Run`].
        context: BTreeMap<String, String>,
        /// Exit status.
        exit: Option<i32>,
        /// Its stdout.
        stdout: String,
        /// Its stderr.
        stderr: String,
    },
    /// A client pressed a key bound to a plugin message (Zellij's `UserAction` event, which
    /// comes just before the message itself; the message does not say who sent it).
    KeyBy(u16),
    /// The names panes were given, answering [`Effect::ReadNames`] (see
    /// [`crate::names::given_names`]).
    Names(Vec<String>),
    /// A pane opened by [`Effect::OpenTerminal`] exists (or could not be opened: `None`).
    TerminalOpened {
        /// The context given to [`Effect::OpenTerminal`].
        context: BTreeMap<String, String>,
        /// Its terminal pane id.
        pane: Option<u32>,
    },
}

/// What the host should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Run a command in the background (`run_command`); its result comes back as
    /// [`Input::CommandDone`] with `context`.
    Run {
        /// argv (never a shell string).
        argv: Vec<String>,
        /// Extra environment.
        env: BTreeMap<String, String>,
        /// Routing tag.
        context: BTreeMap<String, String>,
    },
    /// Rename a terminal pane (literally); an empty name gives the pane its own title back.
    Rename {
        /// Terminal pane id.
        pane: u32,
        /// The new name.
        name: String,
    },
    /// Focus a terminal pane (switching tab).
    Focus(u32),
    /// Open a pane that runs `argv` and closes when it ends (not a command pane: no exit
    /// status to re-run), named `name`, in the cwd of pane `cwd_of`.
    OpenPane {
        /// argv.
        argv: Vec<String>,
        /// Whose cwd the new pane starts in.
        cwd_of: Option<u32>,
        /// The pane's name.
        name: String,
        /// Where it opens.
        placement: Placement,
    },
    /// Close a terminal pane.
    ClosePane(u32),
    /// Open a shell pane next to the focused pane, in the cwd of pane `cwd_of`; the host
    /// answers with [`Input::TerminalOpened`].
    OpenTerminal {
        /// Whose cwd the new pane starts in.
        cwd_of: Option<u32>,
        /// Routing tag.
        context: BTreeMap<String, String>,
    },
    /// Show the plugin's pane (floating).
    Show,
    /// Hide the plugin's pane.
    Hide,
    /// Write to a CLI pipe's stdout.
    CliOutput {
        /// The pipe id.
        pipe: String,
        /// Text.
        text: String,
    },
    /// Let a CLI pipe go on (or end).
    CliUnblock(String),
    /// Rename the tab at `position` (0-based, as [`Tab::position`]) literally.
    RenameTab {
        /// Its position.
        position: usize,
        /// The new name.
        name: String,
    },
    /// Ask which clients are attached (`list_clients`); Zellij answers with
    /// [`Input::Clients`].
    ListClients,
    /// Ask Zellij for the names panes were given (by hand, by this plugin, by a layout), as
    /// opposed to the titles their programs set; the host answers at once with
    /// [`Input::Names`] (the session's layout, `dump_session_layout`).
    ReadNames,
    /// Hear (`true`) or stop hearing which client presses a key bound to a plugin message
    /// ([`Input::KeyBy`], Zellij's `UserAction` event). Heard only while several clients are
    /// attached: Zellij 0.45.1 hears every action with it and logs an error for each it cannot
    /// pass on (`zellij pipe`, `zellij action list-panes`, …), and with one client the one
    /// attached pressed the key.
    WatchKeys(bool),
    /// Tell zjstatus what its `{pipe_panechat}` shows (`zjstatus::pipe::pipe_panechat::TEXT`,
    /// sent to every plugin); only with the `zjstatus` option, and only on a change.
    ZjStatus(String),
}

/// Where [`Effect::OpenPane`] opens its pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Tiled, splitting terminal pane `0` (the focused pane of this instance's client).
    Beside(u32),
    /// Floating, over the tab of this instance's client.
    Floating,
}

/// Performs effects; the shim's implementation calls `zellij-tile`, tests record them.
pub trait Host {
    /// Performs one effect; effects that produce an answer at once return it.
    fn perform(&mut self, effect: Effect) -> Option<Input>;
}

/// Feeds `input` to `state`, performs the effects through `host` (feeding immediate answers
/// back in), and returns whether to redraw.
pub fn drive(state: &mut State, input: Input, host: &mut dyn Host) -> bool {
    let mut queue = vec![input];
    let mut redraw = false;
    while let Some(input) = queue.pop() {
        let (effects, r) = state.handle(input);
        redraw |= r;
        for e in effects {
            if let Some(back) = host.perform(e) {
                queue.push(back);
            }
        }
    }
    redraw
}

/// A pane's conversation, as last published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conv {
    /// Conversation id.
    pub id: String,
    /// Title, inert and capped (`None` while untitled).
    pub title: Option<String>,
    /// Turns.
    pub turns: u64,
    /// Last change, Unix seconds.
    pub updated: Option<i64>,
    /// `idle`, `waiting`, `streaming`, `titling`.
    pub activity: String,
    /// The pane (or other place) holding its lock, inert.
    pub held_by: Option<String>,
    /// The short name of the coding agent back-end holding it (`claude`, `codex`), inert.
    pub backend: Option<String>,
}

/// How the plugin named one pane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Naming {
    /// The name the plugin gave it.
    ours: Option<String>,
    /// Titles it showed since the plugin last named it, which pane updates still in flight
    /// may carry (its own title, earlier names of the plugin).
    before: Vec<String>,
    /// Zellij has shown our name since.
    confirmed: bool,
    /// The user renamed it by hand.
    manual: bool,
    /// The title it showed when the plugin last asked Zellij which names are the panes' own
    /// (given by hand, by the plugin, or by a layout), before it ever named the pane.
    checked: Option<String>,
    /// Its name is one the plugin gave before it was (re)loaded, which Zellij may also keep
    /// as the pane's default title (a session brought back): taken back with Zellij's own
    /// label rather than an empty name.
    restored: bool,
    /// Times a restored name was taken back again because Zellij still showed it (while a
    /// session is brought back, Zellij applies the saved names a moment after the panes exist,
    /// over a name given meanwhile), or the plugin's name given again over panechat's terminal
    /// title.
    retaken: u8,
}

/// A tab the plugin marked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct TabMark {
    /// The name the plugin gave it.
    marked: String,
    /// Its own name, given back after.
    own: String,
    /// The name it showed before (Zellij shows a tab of one pane under that pane's name while
    /// the tab has its default name).
    shown: String,
}

/// The picker's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Picker {
    /// Shown.
    pub open: bool,
    /// The filter typed so far.
    pub filter: String,
    /// Index of the selected row among the filtered rows.
    pub selected: usize,
    /// The pane that was focused when the picker opened ("here").
    pub origin: Option<u32>,
    /// The conversations whose content matches `found_for` (`panechat search --json`).
    pub found: Vec<String>,
    /// The filter `found` answers.
    pub found_for: String,
    /// A `panechat search` runs; `search_again`: the filter changed meanwhile.
    searching: bool,
    search_again: bool,
}

/// One picker row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'a> {
    /// The pane.
    pub pane: &'a Pane,
    /// Its tab's name.
    pub tab_name: &'a str,
    /// Its conversation.
    pub conv: Option<&'a Conv>,
    /// Its coding agent.
    pub agent: Option<&'a Agent>,
    /// It is the pane the picker was opened from.
    pub here: bool,
}

/// Everything the plugin knows.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// The plugin's build id (its version and a hash of its sources), which panechat compares
    /// with the plugin it carries.
    pub build: String,
    /// Options.
    pub cfg: Config,
    /// Why the options could not be used (shown instead of the picker).
    pub cfg_error: Option<String>,
    /// The Zellij session's name.
    pub session_name: Option<String>,
    /// The permission answer (`None`: not yet).
    pub granted: Option<bool>,
    /// Terminal panes, by tab then id.
    pub panes: Vec<Pane>,
    /// Tabs, by position.
    pub tabs: Vec<Tab>,
    /// Conversations by terminal pane id.
    pub convs: HashMap<u32, Conv>,
    /// Coding agents by terminal pane id (kind, state and tool, inert).
    pub agents: HashMap<u32, Agent>,
    /// The pane focused when the plugin last looked, and the panes whose done agent it told
    /// panechat about (`agent-seen`), until their agent's state changes.
    last_focus: Option<u32>,
    seen_sent: Vec<u32>,
    /// Tabs the plugin marked (an agent there needs you): position -> the name it shows when
    /// marked, its own name (given back after), and the name it showed before.
    tab_marks: BTreeMap<usize, TabMark>,
    naming: HashMap<u32, Naming>,
    /// The picker.
    pub picker: Picker,
    /// The last problem worth a line on screen.
    pub status: Option<String>,
    /// A `sessions --json` is running.
    loading: bool,
    /// Another one was asked for while it ran.
    reload: bool,
    next_req: u64,
    /// The newest `stamp` applied to each pane (`panechat::state` messages from different
    /// processes can arrive out of order).
    stamps: HashMap<u32, u64>,
    /// `panechat::state` messages applied so far, and the count when each pane got its last
    /// one: a `sessions --json` started before that message does not overwrite it.
    applied: u64,
    applied_at: HashMap<u32, u64>,
    /// `applied` when the running `sessions --json` was started.
    load_started: u64,
    /// Whether this instance's client was attached when Zellij last said (`None`: not asked
    /// yet). Zellij runs one instance of the plugin per client that attached; the instance of a
    /// client that left stays loaded, gets no more events, but still gets every pipe message.
    pub live: Option<bool>,
    /// This instance renames panes: its client was attached and had the smallest id when
    /// Zellij last said (one instance acts for the session).
    pub leader: bool,
    /// This instance's client id (`get_plugin_ids`), set by the shim.
    pub client: Option<u16>,
    /// How many clients the last `SessionUpdate` counted.
    client_count: Option<usize>,
    /// Panes to rename once Zellij says this instance renames (see [`Mode::Quiet`]).
    due: Vec<u32>,
    /// A client attached again with this instance's number: at the next pane update (which
    /// shows names given meanwhile, by hand or by another instance) it renames what its account
    /// says should be renamed.
    rejoined: bool,
    /// Keys (`panechat::pick`, `::fork`, `::ask`) waiting to learn whether this instance's
    /// client is attached and which pane it has focused (Zellij marks a pane focused when any
    /// client focuses it).
    /// Each with whether it was pressed while this instance did not hear who presses keys.
    keys: Vec<(&'static str, bool)>,
    /// The client that pressed the last key bound to a plugin message ([`Input::KeyBy`]),
    /// until that message arrives.
    key_by: Option<u16>,
    /// Whether Zellij has said who pressed a key at all ([`Input::KeyBy`]; not before 0.45).
    keys_told: bool,
    /// Whether this instance hears who presses keys ([`Effect::WatchKeys`]).
    watching_keys: bool,
    /// A `sessions --json` has been read: a pane without a conversation in it has none.
    loaded: bool,
    /// How to rename once Zellij has said which names are the panes' own
    /// ([`Effect::ReadNames`]).
    pending: Option<Mode>,
    /// What zjstatus was last told.
    zjstatus_sent: Option<String>,
}

/// When [`State::reconcile`] renames (ordered: a later one includes the earlier).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    /// Keep the account only: whether this instance renames is to be asked first.
    Quiet,
    /// Rename when this instance renames for the session.
    AsLeader,
    /// Zellij has just said this instance renames: also the panes that do not show the name
    /// the account says they were given (another instance may have left before renaming).
    Claim,
}

/// Zellij's own label for terminal pane `id` ("Pane #1" is `terminal_0`), which the plugin
/// gives a pane whose restored name it takes back.
pub fn default_label(id: u32) -> String {
    format!("Pane #{}", u64::from(id) + 1)
}

/// Whether `title` is a label of Zellij's own shape (`Pane #N`), never a name the user chose.
fn is_default_label(title: &str) -> bool {
    title
        .strip_prefix("Pane #")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn ctx(kind: &str, req: u64, extra: &[(&str, String)]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("panechat".to_string(), kind.to_string());
    m.insert("req".to_string(), req.to_string());
    for (k, v) in extra {
        m.insert((*k).to_string(), v.clone());
    }
    m
}

impl State {
    /// A state with these options (`Err`: the options' problem, shown on screen; defaults used).
    pub fn new(cfg: Result<Config, String>) -> State {
        let (cfg, cfg_error) = match cfg {
            Ok(c) => (c, None),
            Err(e) => (Config::default(), Some(e)),
        };
        State {
            cfg,
            cfg_error,
            ..State::default()
        }
    }

    fn req(&mut self) -> u64 {
        self.next_req += 1;
        self.next_req
    }

    fn session_part(&self) -> Option<String> {
        self.session_name.as_deref().map(data::session_part)
    }

    /// The environment every `panechat` run gets: the session's name, so that panechat can
    /// reach this session's panes.
    fn env(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        if let Some(n) = &self.session_name {
            env.insert("ZELLIJ_SESSION_NAME".into(), n.clone());
        }
        if !self.build.is_empty() {
            // (panechat says when it carries another build of the plugin)
            env.insert("PANECHAT_ZELLIJ_PLUGIN_BUILD".into(), self.build.clone());
        }
        env
    }

    fn panechat(&mut self, kind: &str, args: &[&str], extra: &[(&str, String)]) -> Effect {
        let req = self.req();
        let mut argv = vec![self.cfg.panechat.clone()];
        argv.extend(args.iter().map(|s| s.to_string()));
        Effect::Run {
            argv,
            env: self.env(),
            context: ctx(kind, req, extra),
        }
    }

    /// Asks panechat for every pane's state (one process; a second request while it runs is
    /// folded into one more run afterwards).
    fn load_sessions(&mut self) -> Vec<Effect> {
        if self.granted != Some(true) {
            return Vec::new();
        }
        if self.loading {
            self.reload = true;
            return Vec::new();
        }
        self.loading = true;
        self.load_started = self.applied;
        vec![self.panechat("sessions", &["sessions", "--json"], &[])]
    }

    /// The terminal pane focused in the active tab (a floating one when floating panes show).
    pub fn focused_pane(&self) -> Option<u32> {
        let tab = self.tabs.iter().find(|t| t.active)?;
        let mut focused = self
            .panes
            .iter()
            .filter(|p| p.tab == tab.position && p.focused);
        let (mut tiled, mut floating) = (None, None);
        for p in focused.by_ref() {
            if p.floating {
                floating = floating.or(Some(p.id));
            } else {
                tiled = tiled.or(Some(p.id));
            }
        }
        if tab.floating_visible {
            floating.or(tiled)
        } else {
            tiled.or(floating)
        }
    }

    /// The name pane `id` should have, or `None` when it has no conversation.
    ///
    /// While the pane's query runs the name takes `running_format`, while another pane's
    /// holds the conversation `held_format`, and both while it waits for that one to end. Two conversations of the same title (two forks)
    /// are told apart by their short ids; a title too long for `name_max` is cut before its
    /// `(fork)`, which stays.
    pub fn desired_name(&self, id: u32) -> Option<String> {
        let agent = self.agents.get(&id).map(|a| text::inert(&a.line()));
        let Some(conv) = self.convs.get(&id) else {
            // A pane with an agent and no conversation: the agent alone (`💬 ⚑ claude: needs
            // you`), in the shape of the plugin's names.
            let line = agent?;
            let whole = self.cfg.name_format(false, false);
            let name = text::inert(&whole.replace("{title}", &line).replace("{id}", ""));
            return Some(text::cap_chars(&name, self.cfg.name_max));
        };
        let short: String = conv.id.chars().take(10).collect();
        let title = conv.title.clone().unwrap_or_else(|| short.clone());
        // The agent first: a cut name keeps it.
        let title = match &agent {
            Some(line) => format!("{line} · {title}"),
            None => title,
        };
        // (only panes open now: a closed pane's conversation is no twin)
        let twin = conv.title.is_some()
            && self.convs.iter().any(|(pane, c)| {
                c.id != conv.id && c.title == conv.title && self.panes.iter().any(|p| p.id == *pane)
            });
        let tag = if twin {
            format!(" {short}")
        } else {
            String::new()
        };
        let whole = self.cfg.name_format(
            !matches!(conv.activity.as_str(), "idle" | ""),
            conv.held_by.is_some(),
        );
        let render = |t: &str| text::inert(&whole.replace("{title}", t).replace("{id}", &conv.id));
        let max = self.cfg.name_max;
        // (measured with a one-letter title: `inert` trims the spaces an empty one leaves)
        let room = (max + 1).saturating_sub(render("x").chars().count());
        let full = format!("{title}{tag}");
        let fitted = if full.chars().count() <= room || !whole.contains("{title}") {
            full
        } else {
            let (base, fork) = match title.strip_suffix(" (fork)") {
                Some(base) => (base, " (fork)"),
                None => (title.as_str(), ""),
            };
            let keep = format!("{fork}{tag}");
            let left = room.saturating_sub(keep.chars().count());
            if left >= 2 {
                format!("{}{keep}", text::cap_chars(base, left))
            } else {
                text::cap_chars(&full, room)
            }
        };
        Some(text::cap_chars(&render(&fitted), max))
    }

    /// `title_format` for a conversation's `title` and `id`, inert and capped.
    fn format_name(&self, title: &str, id: &str) -> String {
        let name = self
            .cfg
            .title_format
            .replace("{title}", title)
            .replace("{id}", id);
        text::cap_chars(&text::inert(&name), self.cfg.name_max)
    }

    /// Renames the panes whose conversation's name differs from what they show (see [`Mode`]).
    /// Every instance keeps the same account of names; one renames.
    fn reconcile(&mut self, mode: Mode) -> Vec<Effect> {
        let claim = mode == Mode::Claim;
        if !self.cfg.rename_panes || self.granted != Some(true) {
            return Vec::new();
        }
        // A pane the plugin never named may show a name someone gave it (the user, before its
        // first question or before the plugin was reloaded; a layout that brought the session
        // back): Zellij is asked which names are given first, then all is renamed at once.
        let unchecked = self.panes.iter().any(|p| {
            self.naming.get(&p.id).is_none_or(|n| {
                n.ours.is_none() && !n.manual && n.checked.as_ref() != Some(&p.title)
            })
        });
        if unchecked {
            self.pending = self.pending.max(Some(mode));
            return vec![Effect::ReadNames];
        }
        let mut out = Vec::new();
        for i in 0..self.panes.len() {
            let (id, title) = (self.panes[i].id, self.panes[i].title.clone());
            let want = self.desired_name(id);
            let overwrite = self.cfg.overwrite_renamed;
            let loaded = self.loaded;
            let n = self.naming.entry(id).or_default();
            // (a name that claims a conversation is taken away only once panechat said which
            // conversations the panes have)
            if want.is_none() && !loaded {
                continue;
            }
            if n.manual && !overwrite {
                // A pane that already shows the name it should have is ours again (another
                // instance renamed it before this one heard of the new title).
                if want.as_ref() == Some(&title) {
                    *n = Naming {
                        ours: want,
                        confirmed: true,
                        ..Naming::default()
                    };
                }
                continue;
            }
            if want == n.ours && !(claim && want.is_some() && want.as_ref() != Some(&title)) {
                continue;
            }
            if want.is_none() && n.ours.is_none() {
                continue;
            }
            if n.confirmed {
                n.before.clear();
            }
            if !n.before.contains(&title) {
                n.before.push(title);
            }
            if let Some(old) = n.ours.take() {
                if !n.before.contains(&old) {
                    n.before.push(old);
                }
            }
            let name = match want.clone() {
                Some(name) => name,
                None if n.restored => default_label(id),
                None => String::new(),
            };
            n.ours = want.clone();
            n.confirmed = false;
            n.manual = false;
            n.restored &= n.ours.is_none();
            if n.ours.is_some() {
                n.retaken = 0;
            }
            out.push(Effect::Rename { pane: id, name });
        }
        match mode {
            Mode::Quiet => {
                for e in out {
                    if let Effect::Rename { pane, .. } = e {
                        if !self.due.contains(&pane) {
                            self.due.push(pane);
                        }
                    }
                }
                Vec::new()
            }
            _ if self.leader => {
                // (renamed now: not again when the renames left for later go out)
                self.due.retain(|d| {
                    !out.iter()
                        .any(|e| matches!(e, Effect::Rename { pane, .. } if pane == d))
                });
                out
            }
            _ => Vec::new(),
        }
    }

    /// Takes back again a restored name that Zellij shows after the plugin took it back (at
    /// most 5 times a pane), and gives the plugin's name again to a pane that shows panechat's
    /// terminal title instead (at most 3 times).
    fn retake_restored(&mut self) -> Vec<Effect> {
        let mut fx = Vec::new();
        for p in &self.panes {
            let Some(n) = self.naming.get_mut(&p.id) else {
                continue;
            };
            if n.restored && n.ours.is_none() && n.before.contains(&p.title) && n.retaken < 5 {
                n.retaken += 1;
                fx.push(Effect::Rename {
                    pane: p.id,
                    name: default_label(p.id),
                });
            } else if let Some(ours) = n.ours.as_ref().filter(|o| {
                !n.manual
                    && **o != p.title
                    && (p.title.starts_with("panechat: ") || is_default_label(&p.title))
                    && n.retaken < 3
            }) {
                // The terminal title panechat sets, shown instead of the name the plugin gave
                // (Zellij can lose a name given as the pane opens): given again.
                n.retaken += 1;
                fx.push(Effect::Rename {
                    pane: p.id,
                    name: ours.clone(),
                });
            }
        }
        fx
    }

    /// Notes panes whose name changed away from the plugin's (renamed by hand).
    fn notice_manual_renames(&mut self) {
        for p in &self.panes {
            let Some(n) = self.naming.get_mut(&p.id) else {
                continue;
            };
            let Some(ours) = &n.ours else { continue };
            if &p.title == ours {
                n.confirmed = true;
                n.before.clear();
            } else if p.title.starts_with("panechat: ") || is_default_label(&p.title) {
                // The terminal title panechat itself sets (OSC 2), which Zellij shows for a
                // pane it names from its terminal: never the user's, even after ours was
                // shown (the fork pane's shell may set it just after the plugin named it).
            } else if n.confirmed || !n.before.contains(&p.title) {
                n.manual = true;
            }
        }
    }

    /// Whether the `panechat::state` message `s` is the newest its pane got (then it is
    /// recorded as such); an older one (smaller `stamp`) that arrives late is to be dropped.
    fn newest(&mut self, s: &PaneState) -> bool {
        let part = self.session_part();
        let Some(pane) = s.pane.zellij_pane(part.as_deref()) else {
            return true;
        };
        if let Some(stamp) = s.pane.stamp {
            if self.stamps.get(&pane).is_some_and(|&last| stamp < last) {
                return false;
            }
            self.stamps.insert(pane, stamp);
        }
        self.applied += 1;
        self.applied_at.insert(pane, self.applied);
        true
    }

    fn apply_state(&mut self, s: &PaneState) -> bool {
        let part = self.session_part();
        let Some(pane) = s.pane.zellij_pane(part.as_deref()) else {
            return false;
        };
        let conv = s.conversation.as_ref().map(|id| Conv {
            id: text::cap_chars(&text::inert(id), 64),
            title: s
                .title
                .as_deref()
                .map(|t| text::cap_chars(&text::inert(t), 200))
                .filter(|t| !t.is_empty()),
            turns: s.turns,
            updated: s
                .updated_at
                .as_deref()
                .and_then(panechat_vocab::time::unix_seconds),
            activity: text::cap_chars(&text::inert(s.activity.as_str()), 16),
            backend: s
                .backend
                .as_deref()
                .map(|b| text::cap_chars(&text::inert(panechat_vocab::state::short_backend(b)), 24))
                .filter(|b| !b.is_empty()),
            held_by: s.held_by.as_ref().map(|h| {
                let who = match (&h.multiplexer, &h.pane) {
                    (Some(m), Some(p)) if m == "zellij" => p
                        .strip_prefix("terminal_")
                        .unwrap_or(p)
                        .parse::<u32>()
                        .map_or_else(|_| format!("pane {p}"), default_label),
                    (Some(m), Some(p)) => format!("{m} {p}"),
                    _ => h
                        .pid
                        .map(|p| format!("pid {p}"))
                        .unwrap_or_else(|| "another process".into()),
                };
                text::cap_chars(&text::inert(&who), 40)
            }),
        });
        let agent = s.agent.as_ref().map(|a| Agent {
            kind: text::cap_chars(&text::inert(&a.kind), 32),
            state: a.state,
            tool: a
                .tool
                .as_deref()
                .map(|t| text::cap_chars(&text::inert(t), 64)),
            ..Agent::default()
        });
        let agent_changed = self.agents.get(&pane) != agent.as_ref();
        if agent_changed {
            self.seen_sent.retain(|p| *p != pane);
            if agent.is_some()
                && !self.agents.contains_key(&pane)
                && !self.convs.contains_key(&pane)
            {
                // Its first name: whether its name is one given by hand is asked again.
                if let Some(n) = self.naming.get_mut(&pane) {
                    n.checked = None;
                }
            }
            match agent {
                Some(a) => {
                    self.agents.insert(pane, a);
                }
                None => {
                    self.agents.remove(&pane);
                }
            }
        }
        let changed = self.convs.get(&pane) != conv.as_ref() || agent_changed;
        if conv.is_some() && !self.convs.contains_key(&pane) {
            // Its first conversation: whether its name is one given by hand is asked again
            // before it is named (the layout is settled by now).
            if let Some(n) = self.naming.get_mut(&pane) {
                n.checked = None;
            }
        }
        match conv {
            Some(c) => {
                self.convs.insert(pane, c);
            }
            None => {
                self.convs.remove(&pane);
            }
        }
        changed
    }

    /// Session, tab and pane updates reach only a plugin granted ReadApplicationState (asked
    /// for with the other permissions, in one request): when one arrives before the answer to
    /// that request, the answer was lost (it happens when the session was started without a
    /// client, or on a busy machine) and the cached grant applies.
    fn grant_shown(&mut self) -> Vec<Effect> {
        if self.granted.is_some() {
            return Vec::new();
        }
        self.granted_now()
    }

    /// What follows the grant: the conversations are loaded, the attached clients asked for,
    /// and the plugin goes to the background. Loaded into a pane of its own (`zellij action
    /// start-or-reload-plugin panechat`, a `zellij pipe --plugin`) it hides that pane, as
    /// `load_plugins` would have started it, unless the picker shows there. (Before the grant
    /// the pane stays, for Zellij's permission question.)
    fn granted_now(&mut self) -> Vec<Effect> {
        self.granted = Some(true);
        let mut fx = self.load_sessions();
        fx.push(Effect::ListClients);
        if !self.picker.open {
            fx.push(Effect::Hide);
        }
        fx
    }

    /// Handles one input: the effects to perform, and whether to redraw.
    pub fn handle(&mut self, input: Input) -> (Vec<Effect>, bool) {
        let (mut fx, redraw) = self.handle_input(input);
        fx.extend(self.zjstatus());
        (fx, redraw)
    }

    /// What zjstatus's `{pipe_panechat}` should show: the focused pane's name after its
    /// conversation (with its running or held marker), empty without one. Told by the one
    /// instance that renames, when it changes: nothing per frame.
    fn zjstatus(&mut self) -> Option<Effect> {
        if !self.cfg.zjstatus || !self.leader || self.granted != Some(true) {
            return None;
        }
        let text = self
            .focused_pane()
            .and_then(|p| self.desired_name(p))
            .unwrap_or_default()
            // (zjstatus reads `#[…]` as a style and `::` as a separator)
            .replace('#', "\u{266f}")
            .replace("::", ": :");
        if self.zjstatus_sent.as_ref() == Some(&text) {
            return None;
        }
        self.zjstatus_sent = Some(text.clone());
        Some(Effect::ZjStatus(text))
    }

    fn handle_input(&mut self, input: Input) -> (Vec<Effect>, bool) {
        match input {
            Input::SessionName(name) => {
                let changed = self.session_name.as_deref() != Some(name.as_str());
                self.session_name = Some(name);
                let mut fx = self.grant_shown();
                if changed && fx.is_empty() && self.granted == Some(true) {
                    fx = self.load_sessions();
                }
                (fx, changed)
            }
            Input::Permission(ok) => {
                if ok && self.granted == Some(true) {
                    // (already shown by an update that needs the grant)
                    return (Vec::new(), true);
                }
                if !ok {
                    self.granted = Some(false);
                    self.status = Some(
                        "permissions denied: panechat cannot read or rename panes. Grant them: \
                         delete this plugin's entry in ~/.cache/zellij/permissions.kdl and reload"
                            .into(),
                    );
                    return (Vec::new(), true);
                }
                (self.granted_now(), true)
            }
            // A session always has a terminal pane: an update without any (Zellij 0.45.1 sends
            // one now and then while it drops a client) says nothing about the panes, and
            // taking it would forget every pane's conversation until the next update.
            Input::Panes(panes) if panes.is_empty() => (Vec::new(), false),
            Input::Panes(mut panes) => {
                panes.sort_by_key(|p| (p.tab, p.id));
                let mut fx = self.grant_shown();
                let changed = panes != self.panes;
                self.panes = panes;
                let live: Vec<u32> = self.panes.iter().map(|p| p.id).collect();
                self.naming.retain(|id, _| live.contains(id));
                self.notice_manual_renames();
                if self.leader && self.cfg.rename_panes {
                    fx.extend(self.retake_restored());
                }
                // (only the instance of an attached client gets pane updates)
                let mode = if std::mem::take(&mut self.rejoined) {
                    Mode::Claim
                } else {
                    Mode::AsLeader
                };
                fx.extend(self.reconcile(mode));
                fx.extend(self.seen_on_focus());
                fx.extend(self.mark_tabs());
                (fx, changed && self.picker.open)
            }
            Input::Tabs(mut tabs) => {
                tabs.sort_by_key(|t| t.position);
                let changed = tabs != self.tabs;
                self.tabs = tabs;
                let mut fx = self.grant_shown();
                fx.extend(self.seen_on_focus());
                fx.extend(self.mark_tabs());
                (fx, changed && self.picker.open)
            }
            Input::Clients(list) => self.clients(&list),
            Input::Names(given) => {
                let format = crate::names::Format::new(&self.cfg);
                for p in &self.panes {
                    let n = self.naming.entry(p.id).or_default();
                    if n.ours.is_some() || n.manual || n.checked.as_ref() == Some(&p.title) {
                        continue;
                    }
                    n.checked = Some(p.title.clone());
                    if n.before.contains(&p.title) {
                        // (a name it gave and took back, shown by an update sent before that)
                        continue;
                    }
                    // (a program's title never has the shape of the plugin's names; a restored
                    // name shows a moment before Zellij lists it as given)
                    if format.is_ours(&p.title) {
                        // A name of the plugin's (left from before a reload, or restored with
                        // the session): renamed after the pane's conversation, or given back
                        // when the pane has none.
                        n.ours = Some(p.title.clone());
                        n.confirmed = true;
                        n.restored = true;
                    } else if given.contains(&p.title)
                        && !is_default_label(&p.title)
                        && !p.titled_by_command
                    {
                        n.manual = true;
                    }
                }
                let mode = self.pending.take().unwrap_or(Mode::Quiet);
                let mut fx = self.reconcile(mode);
                if mode == Mode::Quiet {
                    fx.extend(self.ask_clients());
                }
                (fx, self.picker.open)
            }
            Input::ClientCount(n) => {
                let changed = self.client_count.replace(n) != Some(n);
                let mut fx: Vec<Effect> = self.watch_keys(n).into_iter().collect();
                if changed {
                    fx.extend(self.ask_clients());
                }
                (fx, false)
            }
            Input::PaneClosed(id) => {
                self.panes.retain(|p| p.id != id);
                self.convs.remove(&id);
                self.agents.remove(&id);
                self.naming.remove(&id);
                self.stamps.remove(&id);
                self.applied_at.remove(&id);
                (Vec::new(), self.picker.open)
            }
            Input::Pipe { name, payload, cli } => self.pipe(&name, payload, cli),
            Input::Key(k) => self.key(k),
            Input::KeyBy(client) => {
                self.key_by = Some(client);
                self.keys_told = true;
                (Vec::new(), false)
            }
            Input::Visible(v) => {
                if !v && self.picker.open {
                    self.picker.open = false;
                }
                (Vec::new(), v)
            }
            Input::CommandDone {
                context,
                exit,
                stdout,
                stderr,
            } => self.command_done(&context, exit, &stdout, &stderr),
            Input::TerminalOpened { context, pane } => {
                match (context.get("panechat").map(String::as_str), pane) {
                    (Some("new"), Some(pane)) => {
                        // panechat finds the pane by the session's name (in `env`).
                        if self.session_name.is_none() {
                            self.status =
                                Some("the session's name is not known yet: try again".into());
                            return (Vec::new(), true);
                        }
                        let key = data::pane_session(pane);
                        let fx = self.panechat("new", &["new", "--session", &key], &[]);
                        (vec![fx], false)
                    }
                    (Some("new"), None) => {
                        self.status = Some("could not open a pane".into());
                        (Vec::new(), true)
                    }
                    _ => (Vec::new(), false),
                }
            }
        }
    }

    fn pipe(
        &mut self,
        name: &str,
        payload: Option<String>,
        cli: Option<String>,
    ) -> (Vec<Effect>, bool) {
        // Every CLI pipe ends with a message without payload: the end, not an empty message.
        // Keybind messages (`MessagePlugin`) carry no payload unless one is configured.
        let payload = match (payload, &cli) {
            (Some(p), _) => p,
            (None, Some(_)) => return (Vec::new(), false),
            (None, None) => String::new(),
        };
        let mut fx = Vec::new();
        let mut redraw = false;
        match name {
            // Every message that arrives is acknowledged (`ok` on the CLI's stdout): a
            // `zellij pipe` without it was cut off by Zellij and panechat sends it again.
            PIPE_STATE => match data::parse_state(&payload) {
                Ok(s) => {
                    if self.newest(&s) {
                        redraw = self.apply_state(&s) && self.picker.open;
                        // The instance of a client that left gets this message too: it renames
                        // only once Zellij says its client is attached (asked for every
                        // message: an instance is not told that its client left).
                        fx.extend(self.reconcile(Mode::Quiet));
                        fx.extend(self.mark_tabs());
                        fx.extend(self.ask_clients());
                    }
                }
                Err(e) => {
                    self.status = Some(format!("ignored a {PIPE_STATE} message: {e}"));
                    redraw = self.picker.open;
                }
            },
            // While the picker shows, its key closes it at once: Zellij 0.45.1 lists no
            // client while a client has the plugin's pane focused, so there is no client to
            // wait for.
            PIPE_PICK if self.picker.open => {
                fx.push(self.close_picker());
                redraw = true;
            }
            PIPE_PICK | PIPE_FORK | PIPE_ASK | PIPE_NEXT if self.granted == Some(true) => {
                // Zellij sends a key's message to the instance of every client: the one of the
                // client that pressed it acts (Zellij said who just before, see
                // [`Input::KeyBy`]). A message from `zellij pipe` is acted on once, by the
                // instance that acts for the session. When Zellij does say who presses keys but
                // not for this message (a second press in the same instant took the word of the
                // first), that instance acts alone: once, if not surely for its client. Where
                // Zellij never says (older versions), every attached client's instance acts.
                let by = if cli.is_none() {
                    self.key_by.take()
                } else {
                    None
                };
                // (while this instance does not hear who presses keys, each attached client's
                // acts, or, when Zellij then lists several, the one that acts for the session)
                let blind = cli.is_none() && (!self.keys_told || !self.watching_keys);
                let mine = match by {
                    Some(client) => Some(client) == self.client,
                    None => self.leader || blind,
                };
                if mine {
                    // (acted on when Zellij says which pane this client has focused)
                    let key = match name {
                        PIPE_PICK => PIPE_PICK,
                        PIPE_FORK => PIPE_FORK,
                        PIPE_NEXT => PIPE_NEXT,
                        _ => PIPE_ASK,
                    };
                    self.keys.push((key, blind && by.is_none()));
                    fx.push(Effect::ListClients);
                }
            }
            PIPE_PICK | PIPE_FORK | PIPE_ASK | PIPE_NEXT => {
                let (f, r) = self.key_message(name, self.focused_pane());
                fx.extend(f);
                redraw = r;
            }
            PIPE_LIST => {
                // (the payload `all` asks every instance, those of clients that left too)
                let asked = self.leader || self.granted != Some(true) || payload.trim() == "all";
                if let Some(pipe) = cli.as_ref().filter(|_| asked) {
                    fx.push(Effect::CliOutput {
                        pipe: pipe.clone(),
                        text: self.list_json() + "\n",
                    });
                }
            }
            _ => {}
        }
        if let Some(pipe) = cli {
            if name == PIPE_STATE {
                fx.push(Effect::CliOutput {
                    pipe: pipe.clone(),
                    text: format!("{ACK}\n"),
                });
            }
            fx.push(Effect::CliUnblock(pipe));
        }
        (fx, redraw)
    }

    /// Asks Zellij which clients are attached (once granted: it needs ReadApplicationState).
    fn ask_clients(&mut self) -> Vec<Effect> {
        if self.granted == Some(true) {
            vec![Effect::ListClients]
        } else {
            Vec::new()
        }
    }

    /// Zellij listed the attached clients: whether this instance's client is one of them and
    /// has the smallest id (then it renames panes and answers `panechat::list`).
    fn clients(&mut self, list: &[Client]) -> (Vec<Effect>, bool) {
        let me = list.iter().find(|c| c.current).map(|c| c.id);
        let was_live = self.live;
        let was_leader = self.leader;
        self.live = Some(me.is_some());
        self.client = me.or(self.client);
        self.leader = me.is_some_and(|me| list.iter().all(|c| c.id >= me));
        let mut fx: Vec<Effect> = self.watch_keys(list.len()).into_iter().collect();
        let mut redraw = false;
        // The pane this client focused (a pane of this session), else the focused one.
        let focus = list
            .iter()
            .find(|c| c.current)
            .and_then(|c| c.pane)
            .filter(|id| self.panes.iter().any(|p| p.id == *id))
            .or_else(|| self.focused_pane());
        // Zellij sends a key's message to the instance of every client that attached, those
        // of clients that left too: those drop it.
        let keys = std::mem::take(&mut self.keys);
        let sure = list.len() == 1 || self.leader;
        for (key, _) in keys
            .into_iter()
            .filter(|&(_, blind)| me.is_some() && (!blind || sure))
        {
            let (f, r) = self.key_message(key, focus);
            fx.extend(f);
            redraw |= r;
        }
        let due = std::mem::take(&mut self.due);
        if was_live == Some(false) && me.is_some() {
            // Back after its client left (a client got its number): what it knows may be old,
            // names included; it renames again after a reload and a pane update.
            self.rejoined = true;
            fx.extend(self.load_sessions());
            return (fx, redraw);
        }
        if !self.leader {
            return (fx, redraw);
        }
        let mut renames = self.reconcile(if was_leader {
            Mode::AsLeader
        } else {
            Mode::Claim
        });
        for pane in due {
            let named = |e: &Effect| matches!(e, Effect::Rename { pane: p, .. } if *p == pane);
            let Some(n) = self.naming.get(&pane) else {
                continue;
            };
            let live = self.panes.iter().any(|p| p.id == pane);
            if live && !renames.iter().any(named) && (!n.manual || self.cfg.overwrite_renamed) {
                let name = match &n.ours {
                    Some(name) => name.clone(),
                    None if n.restored => default_label(pane),
                    None => String::new(),
                };
                renames.push(Effect::Rename { pane, name });
            }
        }
        fx.extend(renames);
        (fx, redraw)
    }

    /// Starts or stops hearing who presses keys as `clients` are attached (several or not).
    fn watch_keys(&mut self, clients: usize) -> Option<Effect> {
        let want = clients > 1;
        if want == self.watching_keys {
            return None;
        }
        self.watching_keys = want;
        if !want {
            self.key_by = None;
        }
        Some(Effect::WatchKeys(want))
    }

    /// What the plugin knows, as JSON (`panechat::list`).
    pub fn list_json(&self) -> String {
        let panes: Vec<serde_json::Value> = self
            .panes
            .iter()
            .map(|p| {
                let c = self.convs.get(&p.id);
                let n = self.naming.get(&p.id);
                serde_json::json!({
                    "pane": p.id,
                    "tab": p.tab,
                    "title": p.title,
                    "conversation": c.map(|c| &c.id),
                    "conversation_title": c.and_then(|c| c.title.as_ref()),
                    "activity": c.map(|c| &c.activity),
                    "agent": self.agents.get(&p.id).map(|a| a.state.as_str()),
                    "renamed_by_hand": n.is_some_and(|n| n.manual),
                })
            })
            .collect();
        serde_json::json!({
            "schema": 1,
            "build": self.build,
            "session": self.session_name,
            "granted": self.granted,
            "status": self.status,
            "client": self.client,
            "leader": self.leader,
            "picker": self.picker.open,
            "panes": panes,
        })
        .to_string()
    }

    /// Acts on a key's message (`pick`, `fork`, `ask`) for the pane `from` the client focused.
    fn key_message(&mut self, name: &str, from: Option<u32>) -> (Vec<Effect>, bool) {
        match name {
            // The key toggles, as Zellij's own do.
            PIPE_PICK if self.picker.open => (vec![self.close_picker()], true),
            PIPE_PICK => (self.open_picker(from), true),
            PIPE_FORK => (self.fork(from), false),
            PIPE_NEXT => (self.next_needing_you(from), false),
            _ => {
                let fx = self.ask(from);
                (fx, self.picker.open)
            }
        }
    }

    fn open_picker(&mut self, origin: Option<u32>) -> Vec<Effect> {
        // (a search still running answers a filter of the last time: it is dropped)
        let searching = self.picker.searching;
        self.picker = Picker {
            open: true,
            origin,
            searching,
            ..Picker::default()
        };
        let mut fx = vec![Effect::Show];
        fx.extend(self.load_sessions());
        fx
    }

    fn close_picker(&mut self) -> Effect {
        self.picker.open = false;
        self.picker.found.clear();
        self.picker.found_for.clear();
        self.picker.filter.clear();
        self.picker.selected = 0;
        Effect::Hide
    }

    /// A new pane beside pane `from` that continues a fork of its conversation: an ordinary
    /// shell pane (`panechat fork ID --exec-shell` maps the fork to it and becomes the shell),
    /// named after the fork, that closes when its shell exits.
    fn fork(&mut self, from: Option<u32>) -> Vec<Effect> {
        let Some(from) = from else {
            self.status = Some("no terminal pane is focused: nothing to fork".into());
            return Vec::new();
        };
        let mut argv = vec![self.cfg.panechat.clone(), "fork".to_string()];
        let name = match self.convs.get(&from) {
            Some(c) => {
                argv.push(c.id.clone());
                let short: String = c.id.chars().take(10).collect();
                let title = format!("{} (fork)", c.title.clone().unwrap_or(short));
                self.format_name(&title, &c.id)
            }
            None => "panechat: nothing to fork".to_string(),
        };
        argv.push("--exec-shell".into());
        // Without a conversation, panechat says there is nothing to fork and starts the shell.
        vec![Effect::OpenPane {
            argv,
            cwd_of: Some(from),
            name,
            placement: Placement::Beside(from),
        }]
    }

    /// A floating pane that asks a question about pane `from` in that pane's conversation
    /// (`panechat q --session pane:terminal_N --pane --prompt --hold`, in its cwd), named after
    /// that pane; it closes when the command ends (after the key `--hold` waits for).
    fn ask(&mut self, from: Option<u32>) -> Vec<Effect> {
        if self.granted != Some(true) {
            self.status =
                Some("the plugin's permissions are not granted yet: nothing to ask".into());
            return Vec::new();
        }
        let Some(from) = from else {
            self.status = Some("no terminal pane is focused: nothing to ask about".into());
            return Vec::new();
        };
        let argv = [
            self.cfg.panechat.as_str(),
            "q",
            "--session",
            &format!("pane:terminal_{from}"),
            "--pane",
            "--prompt",
            "--hold",
        ]
        .map(String::from)
        .to_vec();
        let shown = self
            .panes
            .iter()
            .find(|p| p.id == from)
            .map(|p| text::cap_chars(&text::inert(&p.title), 40))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| format!("pane {from}"));
        vec![Effect::OpenPane {
            argv,
            cwd_of: Some(from),
            name: format!("panechat: ask about {shown}"),
            placement: Placement::Floating,
        }]
    }

    /// The next-pane key: focuses the first pane after `from` (by tab, then pane id, wrapping
    /// around) whose agent needs you.
    fn next_needing_you(&mut self, from: Option<u32>) -> Vec<Effect> {
        let at = from
            .and_then(|f| self.panes.iter().position(|p| p.id == f))
            .unwrap_or(self.panes.len());
        let n = self.panes.len();
        let next = (1..=n)
            .map(|k| &self.panes[(at + k) % n.max(1)])
            .find(|p| {
                Some(p.id) != from
                    && self
                        .agents
                        .get(&p.id)
                        .is_some_and(|a| a.state == AgentState::NeedsYou)
            })
            .map(|p| p.id);
        match next {
            Some(p) => vec![Effect::Focus(p)],
            None => {
                self.status = Some("no other pane's agent needs you".into());
                Vec::new()
            }
        }
    }

    /// A pane whose agent is done, newly focused: panechat is told it was seen (`agent-seen`,
    /// which makes it idle), once, by the instance that acts for the session.
    fn seen_on_focus(&mut self) -> Vec<Effect> {
        let focus = self.focused_pane();
        if focus == self.last_focus {
            return Vec::new();
        }
        self.last_focus = focus;
        let Some(p) = focus else {
            return Vec::new();
        };
        let done = self
            .agents
            .get(&p)
            .is_some_and(|a| a.state == AgentState::Done);
        if !done || !self.leader || self.granted != Some(true) || self.seen_sent.contains(&p) {
            return Vec::new();
        }
        self.seen_sent.push(p);
        let session = data::pane_session(p);
        vec![self.panechat("seen", &["agent-seen", "--session", &session], &[])]
    }

    /// Marks the tab of a pane whose agent needs you (`⚑ ` before its name) and gives a tab
    /// its own name back when none does any more; a tab renamed meanwhile (by hand) keeps the
    /// name it has. Only the instance that acts for the session renames.
    fn mark_tabs(&mut self) -> Vec<Effect> {
        if !self.leader || !self.cfg.mark_tabs {
            return Vec::new();
        }
        let mark = format!("{NEEDS_YOU_MARK} ");
        let mut fx = Vec::new();
        for t in &self.tabs {
            let in_tab = || self.panes.iter().filter(|p| p.tab == t.position);
            let needs = in_tab().any(|p| {
                self.agents
                    .get(&p.id)
                    .is_some_and(|a| a.state == AgentState::NeedsYou)
            });
            // The tab's own name: a tab of one tiled pane shown under that pane's name has
            // its default name (`Tab #N`), which it is given back (and shows the pane's name
            // again).
            let own_name = |shown: &str| -> String {
                let mut tiled = in_tab().filter(|p| !p.floating);
                match (tiled.next(), tiled.next(), t.id) {
                    (Some(p), None, Some(id)) if p.title == shown => format!("Tab #{}", id + 1),
                    _ => shown.strip_prefix(&mark).unwrap_or(shown).to_string(),
                }
            };
            match (needs, self.tab_marks.get(&t.position)) {
                (true, None) if !t.name.starts_with(&mark) => {
                    let own = own_name(&t.name);
                    let m = TabMark {
                        marked: format!("{mark}{own}"),
                        own,
                        shown: t.name.clone(),
                    };
                    fx.push(Effect::RenameTab {
                        position: t.position,
                        name: m.marked.clone(),
                    });
                    self.tab_marks.insert(t.position, m);
                }
                (true, Some(m)) if t.name != m.marked && t.name != m.shown => {
                    // Renamed meanwhile (by hand): that is its name now, marked.
                    let own = own_name(&t.name);
                    let m = TabMark {
                        marked: format!("{mark}{own}"),
                        own,
                        shown: t.name.clone(),
                    };
                    if t.name != m.marked {
                        fx.push(Effect::RenameTab {
                            position: t.position,
                            name: m.marked.clone(),
                        });
                    }
                    self.tab_marks.insert(t.position, m);
                }
                (false, Some(m)) => {
                    if t.name == m.marked {
                        fx.push(Effect::RenameTab {
                            position: t.position,
                            name: m.own.clone(),
                        });
                    }
                    self.tab_marks.remove(&t.position);
                }
                (false, None) if self.loaded && t.name.starts_with(&mark) => {
                    // Marked before the plugin was (re)loaded: its own name back.
                    fx.push(Effect::RenameTab {
                        position: t.position,
                        name: t.name[mark.len()..].to_string(),
                    });
                }
                _ => {}
            }
        }
        fx
    }

    /// How the picker names a pane: its own name (given by the user, or its program's title),
    /// or Zellij's label (`Pane #1` for `terminal_0`) while it shows the plugin's name.
    pub fn pane_label(&self, pane: &Pane) -> String {
        let ours = self.naming.get(&pane.id).and_then(|n| n.ours.as_ref()) == Some(&pane.title)
            || self.desired_name(pane.id).as_ref() == Some(&pane.title);
        if ours || pane.title.is_empty() {
            default_label(pane.id)
        } else {
            pane.title.clone()
        }
    }

    /// The picker's rows (every terminal pane, the origin pane first), before filtering.
    pub fn rows(&self) -> Vec<Row<'_>> {
        let mut rows: Vec<Row<'_>> = self
            .panes
            .iter()
            .map(|p| Row {
                pane: p,
                tab_name: self
                    .tabs
                    .iter()
                    .find(|t| t.position == p.tab)
                    .map_or("", |t| t.name.as_str()),
                conv: self.convs.get(&p.id),
                agent: self.agents.get(&p.id),
                here: self.picker.origin == Some(p.id),
            })
            .collect();
        // Panes whose agent needs you first, then the origin pane.
        rows.sort_by_key(|r| {
            (
                r.agent.is_none_or(|a| a.state != AgentState::NeedsYou),
                !r.here,
            )
        });
        rows
    }

    /// The rows matching the filter, best first (ties keep the pane order).
    pub fn filtered(&self) -> Vec<Row<'_>> {
        let rows = self.rows();
        if self.picker.filter.trim().is_empty() {
            return rows;
        }
        let filter = self.picker.filter.trim().to_lowercase();
        let content = self.picker.found_for == self.picker.filter.trim();
        let mut scored: Vec<(i64, usize, Row<'_>)> = rows
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let label = self.pane_label(r.pane);
                let mut hay = format!("{} {} {label}", r.tab_name, r.pane.title);
                // An exact or prefix match of a name ranks above any longer fuzzy one.
                let mut bonus = 0;
                let mut names = vec![r.pane.title.to_lowercase(), label.to_lowercase()];
                if let Some(a) = r.agent {
                    hay.push(' ');
                    hay.push_str(&a.summary());
                }
                if let Some(c) = r.conv {
                    if let Some(b) = &c.backend {
                        hay.push(' ');
                        hay.push_str(b);
                    }
                    hay.push(' ');
                    hay.push_str(c.title.as_deref().unwrap_or(""));
                    hay.push(' ');
                    hay.push_str(&c.id);
                    names.push(c.title.as_deref().unwrap_or("").to_lowercase());
                    names.push(c.id.to_lowercase());
                }
                for n in &names {
                    if *n == filter {
                        bonus = bonus.max(2000);
                    } else if n.starts_with(&filter) {
                        bonus = bonus.max(1000);
                    }
                }
                match fuzzy::score(&self.picker.filter, &hay) {
                    Some(s) => Some((s + bonus, i, r)),
                    // (what was said in its conversation: after every name that matches)
                    None if content
                        && r.conv.is_some_and(|c| self.picker.found.contains(&c.id)) =>
                    {
                        Some((-1000, i, r))
                    }
                    None => None,
                }
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().map(|(_, _, r)| r).collect()
    }

    /// Asks `panechat search` which conversations mention the filter (one run at a time; a
    /// filter typed meanwhile is searched for when it ends).
    fn search(&mut self) -> Vec<Effect> {
        let filter = self.picker.filter.trim().to_string();
        if filter.is_empty() || self.granted != Some(true) {
            return Vec::new();
        }
        if self.picker.searching {
            self.picker.search_again = true;
            return Vec::new();
        }
        self.picker.searching = true;
        vec![self.panechat(
            "search",
            &["search", "--json", "--", &filter],
            &[("filter", filter.clone())],
        )]
    }

    fn selected(&self) -> Option<(u32, Option<String>)> {
        let rows = self.filtered();
        let r = rows.get(self.picker.selected)?;
        Some((r.pane.id, r.conv.map(|c| c.id.clone())))
    }

    fn key(&mut self, k: Key) -> (Vec<Effect>, bool) {
        if !self.picker.open {
            // The pane shows another client's picker: Zellij shows a tab's floating panes, and
            // gives them the focus, on every client in the tab. Esc closes it (for all).
            if k == Key::Esc && self.granted == Some(true) {
                return (vec![Effect::Hide], false);
            }
            return (Vec::new(), false);
        }
        let count = self.filtered().len();
        let mut fx = Vec::new();
        match k {
            Key::Esc => fx.push(self.close_picker()),
            Key::Up => self.picker.selected = self.picker.selected.saturating_sub(1),
            Key::Down => {
                self.picker.selected = (self.picker.selected + 1).min(count.saturating_sub(1))
            }
            Key::PageUp => self.picker.selected = self.picker.selected.saturating_sub(10),
            Key::PageDown => {
                self.picker.selected = (self.picker.selected + 10).min(count.saturating_sub(1))
            }
            Key::Backspace => {
                self.picker.filter.pop();
                self.picker.selected = 0;
                fx.extend(self.search());
            }
            Key::Char(c) if !text::is_control(c) => {
                if self.picker.filter.chars().count() < 64 {
                    self.picker.filter.push(c);
                }
                self.picker.selected = 0;
                fx.extend(self.search());
            }
            Key::Enter => {
                if let Some((pane, _)) = self.selected() {
                    fx.push(self.close_picker());
                    fx.push(Effect::Focus(pane));
                }
            }
            Key::Ctrl('f') => {
                if let Some((pane, conv)) = self.selected() {
                    if conv.is_none() {
                        self.status = Some(format!(
                            "{} has no conversation to fork",
                            default_label(pane)
                        ));
                    } else {
                        fx.push(self.close_picker());
                        fx.push(Effect::Focus(pane));
                        fx.extend(self.fork(Some(pane)));
                    }
                }
            }
            Key::Ctrl('e') => {
                if let Some((pane, _)) = self.selected() {
                    let req = self.req();
                    fx.push(self.close_picker());
                    fx.push(Effect::Focus(pane));
                    fx.push(Effect::OpenTerminal {
                        cwd_of: Some(pane),
                        context: ctx("new", req, &[]),
                    });
                }
            }
            Key::Ctrl('u') => match (self.selected(), self.picker.origin, &self.session_name) {
                (Some((_, Some(conv))), Some(here), Some(_)) => {
                    let key = data::pane_session(here);
                    let run = self.panechat(
                        "use",
                        &["use", &conv, "--session", &key],
                        &[("pane", here.to_string())],
                    );
                    fx.push(self.close_picker());
                    fx.push(run);
                }
                (Some((pane, None)), _, _) => {
                    self.status = Some(format!(
                        "{} has no conversation to use",
                        default_label(pane)
                    ));
                }
                _ => self.status = Some("no pane to give the conversation to".into()),
            },
            _ => return (Vec::new(), false),
        }
        (fx, true)
    }

    fn command_done(
        &mut self,
        context: &BTreeMap<String, String>,
        exit: Option<i32>,
        stdout: &str,
        stderr: &str,
    ) -> (Vec<Effect>, bool) {
        let Some(kind) = context.get("panechat").cloned() else {
            return (Vec::new(), false);
        };
        let mut fx = Vec::new();
        // (when this output was asked for, before a folded reload starts another load)
        let load_started = self.load_started;
        if kind == "sessions" {
            self.loading = false;
            if std::mem::take(&mut self.reload) {
                fx.extend(self.load_sessions());
            }
        }
        if kind == "search" {
            self.picker.searching = false;
            if std::mem::take(&mut self.picker.search_again) {
                fx.extend(self.search());
            }
            if exit == Some(0) {
                let ids: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(stdout)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|h| {
                        h["id"]
                            .as_str()
                            .map(|id| text::cap_chars(&text::inert(id), 64))
                    })
                    .collect();
                self.picker.found = ids;
                self.picker.found_for = context.get("filter").cloned().unwrap_or_default();
                return (fx, self.picker.open);
            }
        }
        if exit != Some(0) {
            let why = stderr
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(text::inert);
            let not_found = why
                .as_deref()
                .is_some_and(|w| w.contains("No such file or directory"));
            self.status = Some(if exit.is_none() || not_found {
                format!(
                    "could not run `{}`{}: is panechat installed and on the PATH Zellij was \
                     started with? (the plugin option `panechat` names the binary)",
                    self.cfg.panechat,
                    why.map(|w| format!(" ({})", text::cap_chars(&w, 80)))
                        .unwrap_or_default()
                )
            } else {
                match why {
                    Some(line) => {
                        format!("`panechat {kind}` failed: {}", text::cap_chars(&line, 200))
                    }
                    None => format!(
                        "`panechat {kind}` failed (exit status {})",
                        exit.unwrap_or(-1)
                    ),
                }
            });
            return (fx, true);
        }
        if kind == "sessions" {
            match data::parse_sessions(stdout) {
                Ok(states) => {
                    let part = self.session_part();
                    // A pane that got a `panechat::state` message since this output was asked
                    // for keeps that state: it is at least as new.
                    let fresh = |st: &State, pane: u32| {
                        st.applied_at
                            .get(&pane)
                            .is_some_and(|&at| at > load_started)
                    };
                    // Panes of this session that panechat no longer knows lose their conversation.
                    let known: Vec<u32> = states
                        .iter()
                        .filter_map(|s| s.pane.zellij_pane(part.as_deref()))
                        .collect();
                    let gone: Vec<u32> = self
                        .convs
                        .keys()
                        .copied()
                        .filter(|id| !known.contains(id) && !fresh(self, *id))
                        .collect();
                    for id in gone {
                        self.convs.remove(&id);
                    }
                    for s in &states {
                        if s.pane
                            .zellij_pane(part.as_deref())
                            .is_some_and(|p| !fresh(self, p))
                        {
                            self.apply_state(s);
                        }
                    }
                    // What panechat says besides (the plugin is of another build than the
                    // binary's, the configuration is broken) stays on screen.
                    self.status = stderr
                        .lines()
                        .map(str::trim)
                        .find(|l| !l.is_empty())
                        .map(|l| text::cap_chars(&text::inert(l), 300));
                    if !self.loaded {
                        // Asked again now: in a session being brought back, Zellij shows the
                        // restored names a moment before its layout lists them as given.
                        for n in self.naming.values_mut() {
                            n.checked = None;
                        }
                    }
                    self.loaded = true;
                    fx.extend(self.reconcile(Mode::Quiet));
                    fx.extend(self.ask_clients());
                }
                Err(e) => {
                    self.status = Some(format!("could not read `panechat sessions --json`: {e}"))
                }
            }
        }
        (fx, true)
    }
}
