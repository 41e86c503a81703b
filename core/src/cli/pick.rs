//! `panechat pick`: the conversation picker a multiplexer shows in a popup (tmux: prefix + P).
//!
//! Every conversation, most recent first, with its title, short id, turns, age, the panes that
//! have it and whether a query runs in it; it opens on the pane's own conversation. Typing
//! filters: titles and ids (an exact or prefix match first, then fuzzy ones), then conversations
//! whose messages hold the words ([`panechat::search`]); the selected conversation's last turns
//! are previewed. Enter gives it to the pane the picker was opened for, ^G jumps to a pane that has
//! it, ^F forks it into a new split, ^N starts a new conversation in the pane, Esc closes.
//!
//! It reads the store through the library (one index read, the session records and the runs
//! directory), so it opens in a few milliseconds with 10,000 conversations. Everything drawn is
//! stripped of control characters: titles and turns come from a model.

use panechat::adapters::exec::RealExec;
use panechat::adapters::{self, tmux};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use console::{Key, Term};
use panechat::agents::{Agent, AgentState};
use panechat::runs;
use panechat::session::Session;
use panechat::store::conversation::{ConversationId, Summary};
use panechat::store::mapping;
use panechat::{Error, Result};

use super::ctx::Ctx;
use super::ui;
use panechat_vocab::text::{inert, is_control};

/// `panechat pick [--pane PANE] [--client CLIENT] [--split h|v] [--keep N]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The pane the picker acts for (`%N` in tmux); default: this session's pane.
    #[arg(long, value_name = "PANE")]
    pane: Option<String>,
    /// The tmux client to move when jumping to a pane (`#{client_name}`).
    #[arg(long, value_name = "CLIENT")]
    client: Option<String>,
    /// Where a fork opens: h (beside the pane) or v (below it).
    #[arg(long, value_name = "h|v", default_value = "h")]
    split: String,
    /// Keep only the last N turns in a fork.
    #[arg(long, value_name = "N")]
    keep: Option<usize>,
}

/// One conversation as the picker shows it, or a pane whose coding agent reports to panechat
/// and that has no conversation.
#[derive(Debug, Clone)]
pub struct Item {
    /// The conversation (`None`: the row is the pane in `panes` and its agent).
    pub summary: Option<Summary>,
    /// The agent of a pane that has it (the one that needs you most, when several do).
    pub agent: Option<Agent>,
    /// Its title, free of control characters.
    pub title: String,
    /// Panes (of this multiplexer) whose active conversation it is.
    pub panes: Vec<String>,
    /// `running in %3, 12s` while a query holds it.
    pub running: Option<String>,
    /// It is the active conversation of the pane the picker acts for.
    pub here: bool,
    /// Lower-cased title and id, for matching.
    hay: String,
}

impl Item {
    /// Builds an item.
    pub fn new(summary: Summary, panes: Vec<String>, running: Option<String>, here: bool) -> Item {
        let title = inert(&summary.display_title());
        let mut it = Item {
            summary: Some(summary),
            agent: None,
            title,
            panes,
            running,
            here,
            hay: String::new(),
        };
        it.set_agent(None);
        it
    }

    /// The row of pane `pane`, which has no conversation, and its agent.
    pub fn agent_pane(pane: String, agent: Agent, here: bool) -> Item {
        let mut it = Item {
            summary: None,
            agent: None,
            title: inert(&format!("pane {pane}")),
            panes: vec![pane],
            running: None,
            here,
            hay: String::new(),
        };
        it.set_agent(Some(agent));
        it
    }

    /// Gives the item its pane's agent (which the filter then matches too: `needs`, `claude`).
    pub fn set_agent(&mut self, agent: Option<Agent>) {
        let id = self.summary.as_ref().map_or("", |s| s.id.as_str());
        self.hay = format!("{} {id}", self.title.to_lowercase());
        // The back-end holding the conversation too: `claude`, `codex`.
        if let Some(h) = self.summary.as_ref().and_then(|s| s.agent.as_ref()) {
            self.hay.push(' ');
            self.hay.push_str(&h.tag().to_lowercase());
        }
        if let Some(a) = &agent {
            self.hay.push(' ');
            self.hay.push_str(&inert(&a.summary()).to_lowercase());
        }
        self.agent = agent;
    }

    /// Its conversation's id.
    pub fn id(&self) -> Option<&ConversationId> {
        self.summary.as_ref().map(|s| &s.id)
    }

    /// Where it goes in the list: agents that need you first, then those done, then those at
    /// work, then the rest (in the order they came: most recent first).
    fn rank(&self) -> u8 {
        agent_rank(self.agent.as_ref())
    }
}

/// [`Item::rank`] of an agent.
fn agent_rank(agent: Option<&Agent>) -> u8 {
    match agent.map(|a| a.state) {
        Some(AgentState::NeedsYou) => 0,
        Some(AgentState::Done) => 1,
        Some(AgentState::Working) => 2,
        _ => 3,
    }
}

/// `items` with agents that need you first ([`Item::rank`]), otherwise in their order.
pub fn by_attention(mut items: Vec<Item>) -> Vec<Item> {
    items.sort_by_key(Item::rank);
    items
}

/// What the person chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Give this conversation to the pane.
    Use(ConversationId),
    /// Jump to this pane.
    Jump(String),
    /// Fork this conversation into a new split.
    Fork(ConversationId),
    /// Start a new conversation in the pane.
    New,
}

/// The picker's state: items, filter, selection. Pure: keys in, lines out.
#[derive(Debug)]
pub struct Model {
    items: Vec<Item>,
    filter: String,
    matches: Vec<usize>,
    /// Items whose messages hold the filter's words (see [`Model::set_content`]), best first.
    content: Vec<usize>,
    /// Columns of the id prefix and of the panes in every row.
    id_width: usize,
    panes_width: usize,
    sel: usize,
    top: usize,
    /// The pane the picker acts for.
    pane: Option<String>,
    /// A one-line message (an error, or why nothing happened).
    pub message: Option<String>,
}

/// What a key did.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Keep going (redraw).
    Continue,
    /// Close without doing anything.
    Quit,
    /// Do this.
    Act(Action),
}

const HELP: &str = "⏎ use  ^G go  ^F fork  ^N new  esc";

impl Model {
    /// A picker over `items` (most recent first) for `pane`.
    /// It opens with the pane's own conversation selected (Enter right away keeps it).
    pub fn new(items: Vec<Item>, pane: Option<String>) -> Model {
        let matches = (0..items.len()).collect();
        let sel = items.iter().position(|it| it.here).unwrap_or(0);
        let ids: Vec<&str> = items
            .iter()
            .filter_map(|it| it.id().map(|id| id.as_str()))
            .collect();
        let id_width = ui::unique_prefix_width(&ids);
        let panes_width = items
            .iter()
            .map(|it| ui::width(&it.panes.join(",")))
            .max()
            .unwrap_or(0)
            .min(8);
        Model {
            items,
            filter: String::new(),
            matches,
            content: Vec::new(),
            id_width,
            panes_width,
            sel,
            top: 0,
            pane,
            message: None,
        }
    }

    /// The filter as typed.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// Sets the conversations whose messages hold the filter's words (ids, best first): they
    /// follow the ones whose title or id matches.
    pub fn set_content(&mut self, ids: &[ConversationId]) {
        let at: HashMap<&str, usize> = self
            .items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| it.id().map(|id| (id.as_str(), i)))
            .collect();
        self.content = ids
            .iter()
            .filter_map(|id| at.get(id.as_str()).copied())
            .collect();
        self.refilter();
    }

    /// The selected item.
    pub fn selected(&self) -> Option<&Item> {
        self.matches.get(self.sel).map(|&i| &self.items[i])
    }

    /// How many items match the filter.
    pub fn match_count(&self) -> usize {
        self.matches.len()
    }

    fn refilter(&mut self) {
        if self.filter.trim().is_empty() {
            self.matches = (0..self.items.len()).collect();
        } else {
            let typed = self.filter.trim().to_lowercase();
            let mut scored: Vec<(i64, usize)> = self
                .items
                .iter()
                .enumerate()
                .filter_map(|(i, it)| match_score(it, &typed).map(|s| (s, i)))
                .collect();
            // Best match first; among equals, the most recent (lower index) first.
            scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            self.matches = scored.into_iter().map(|(_, i)| i).collect();
            for &i in &self.content {
                if !self.matches.contains(&i) {
                    self.matches.push(i);
                }
            }
        }
        self.sel = 0;
        self.top = 0;
    }

    /// Handles one key.
    pub fn key(&mut self, key: Key) -> Step {
        self.message = None;
        match key {
            Key::Escape | Key::CtrlC => return Step::Quit,
            Key::Enter => {
                return match self.selected() {
                    Some(it) => match (it.id(), it.panes.first()) {
                        (Some(id), _) => Step::Act(Action::Use(id.clone())),
                        // A pane without a conversation: go to it.
                        (None, Some(p)) => Step::Act(Action::Jump(p.clone())),
                        (None, None) => Step::Continue,
                    },
                    None => {
                        self.message = Some("nothing matches; ^N starts a new conversation".into());
                        Step::Continue
                    }
                };
            }
            Key::Char('\u{7}') => {
                // ^G: go to a pane that has it (another one than this, if there is one).
                let Some(it) = self.selected() else {
                    return Step::Continue;
                };
                let other = it
                    .panes
                    .iter()
                    .find(|p| Some(*p) != self.pane.as_ref())
                    .or(it.panes.first());
                return match other {
                    Some(p) => Step::Act(Action::Jump(p.clone())),
                    None => {
                        self.message = Some("no pane has this conversation".into());
                        Step::Continue
                    }
                };
            }
            Key::Char('\u{6}') => match self.selected().map(|it| it.id()) {
                Some(Some(id)) => return Step::Act(Action::Fork(id.clone())),
                Some(None) => {
                    self.message = Some("this pane has no conversation to fork".into());
                }
                None => {}
            },
            Key::Char('\u{e}') => return Step::Act(Action::New),
            Key::ArrowUp | Key::Char('\u{10}') => self.sel = self.sel.saturating_sub(1),
            Key::ArrowDown | Key::Tab if self.sel + 1 < self.matches.len() => self.sel += 1,
            Key::PageUp => self.sel = self.sel.saturating_sub(10),
            Key::PageDown => self.sel = (self.sel + 10).min(self.matches.len().saturating_sub(1)),
            Key::Home => self.sel = 0,
            Key::End => self.sel = self.matches.len().saturating_sub(1),
            Key::Backspace if self.filter.pop().is_some() => self.refilter(),
            Key::Char('\u{15}') => {
                // ^U: clear the filter.
                self.filter.clear();
                self.refilter();
            }
            Key::Char(c) if !is_control(c) => {
                self.filter.push(c);
                self.refilter();
            }
            _ => {}
        }
        Step::Continue
    }

    /// The `list_h` rows of the list, scrolled so the selection shows.
    fn list_rows(&mut self, width: usize, list_h: usize, lines: &mut Vec<String>) {
        if self.sel < self.top {
            self.top = self.sel;
        }
        if self.sel >= self.top + list_h {
            self.top = self.sel + 1 - list_h;
        }
        for row in 0..list_h {
            let Some(&i) = self.matches.get(self.top + row) else {
                lines.push(String::new());
                continue;
            };
            let selected = self.top + row == self.sel;
            let line = row_text(&self.items[i], width, self.id_width, self.panes_width);
            lines.push(if selected {
                format!("\x1b[7m{line}\x1b[0m")
            } else {
                line
            });
        }
    }

    /// The screen, `height` lines of at most `width` columns. `preview` gives the selected
    /// conversation's preview lines (already fitted to `width`).
    pub fn render(
        &mut self,
        width: usize,
        height: usize,
        preview: &mut dyn FnMut(&Item, usize) -> Vec<String>,
    ) -> Vec<String> {
        let width = width.max(10);
        let height = height.max(4);
        let mut lines = Vec::with_capacity(height);
        let count = format!("{}/{}", self.match_count(), self.items.len());
        let room = width.saturating_sub(count.chars().count() + 1);
        let prompt = ui::truncate(&format!("> {}", self.filter), room);
        lines.push(format!(
            "{prompt}{:pad$}\x1b[2m{count}\x1b[0m",
            "",
            pad = width - ui::width(&prompt) - count.chars().count()
        ));
        // The list takes what the preview and the help leave.
        let want_preview = height >= 12;
        let list_h = if want_preview {
            (height - 3) / 2
        } else {
            height - 2
        };
        self.list_rows(width, list_h, &mut lines);
        if want_preview {
            lines.push(format!("\x1b[2m{}\x1b[0m", "─".repeat(width)));
            let room = height - lines.len() - 1;
            let body = match self.selected() {
                Some(it) => {
                    let it = it.clone();
                    preview(&it, width)
                }
                None if self.items.is_empty() => {
                    vec!["no conversations yet: ^N starts one".to_string()]
                }
                None => vec!["nothing matches the filter".to_string()],
            };
            for l in body.into_iter().take(room) {
                lines.push(l);
            }
            while lines.len() < height - 1 {
                lines.push(String::new());
            }
        }
        let foot = match &self.message {
            Some(m) => format!("\x1b[1m{}\x1b[0m", ui::truncate(&inert(m), width)),
            None => format!("\x1b[2m{}\x1b[0m", ui::truncate(HELP, width)),
        };
        lines.push(foot);
        lines
    }
}

/// How well an item matches the filter (`typed`: as typed, trimmed, lower-case): the title
/// equal to it first, then a title or id starting with it, then a title holding it, then fuzzy
/// matches ([`panechat_vocab::fuzzy`]); a shorter title first among equals. `None`: no match.
pub fn match_score(it: &Item, typed: &str) -> Option<i64> {
    let fuzzy = panechat_vocab::fuzzy::score(typed, &it.hay)?;
    let title = it.title.to_lowercase();
    let tier = if title == typed {
        4
    } else if title.starts_with(typed) || it.id().is_some_and(|id| id.as_str().starts_with(typed)) {
        3
    } else if title.contains(typed) {
        2
    } else {
        0
    };
    Some(tier * 1_000_000_000 + fuzzy * 1000 - (title.chars().count().min(999) as i64))
}

/// One list row: marker, state, title, short id, turns, age, panes; exactly `width` columns,
/// with every column at the same place in every row (`id_width` and `panes_width` columns for
/// the id and the panes, whether or not this row lists panes). A narrow popup drops the panes,
/// then the id, then the rest before the title gets fewer than 8 columns.
pub fn row_text(it: &Item, width: usize, id_width: usize, panes_width: usize) -> String {
    let mark = if it.here { '*' } else { ' ' };
    let state = if it.running.is_some() { '●' } else { ' ' };
    let id = it.id().map_or(String::new(), |id| {
        id.as_str()[..id_width.min(id.as_str().len())].to_string()
    });
    let id = ui::pad(&id, id_width.min(18));
    let turns_age = match &it.summary {
        Some(s) => format!(" {:>3} {:>4}", s.turns, panechat::time::ago(&s.updated_at)),
        None => format!(
            " {:>3} {:>4}",
            "",
            it.agent
                .as_ref()
                .and_then(|a| a.since.as_deref())
                .map(panechat::time::ago)
                .unwrap_or_default()
        ),
    };
    let panes = if panes_width > 0 {
        format!(
            " {}",
            ui::pad(&ui::truncate(&it.panes.join(","), panes_width), panes_width)
        )
    } else {
        String::new()
    };
    let head = 2;
    let tails = [
        format!(" {id}{turns_age}{panes}"),
        format!(" {id}{turns_age}"),
        turns_age,
        String::new(),
    ];
    let tail = tails
        .iter()
        .find(|t| width.saturating_sub(head + ui::width(t)) >= 8)
        .map_or("", |t| t.as_str());
    let room = width.saturating_sub(head + ui::width(tail));
    // The agent first: `⚑ claude: needs you · title`.
    // Else the coding agent holding the conversation: `[claude] title`.
    let held = it.summary.as_ref().and_then(|s| s.agent.as_ref());
    let title = match (&it.agent, held) {
        (Some(a), _) => format!("{} · {}", inert(&a.line()), it.title),
        (None, Some(h)) => format!("[{}] {}", h.tag(), it.title),
        (None, None) => it.title.clone(),
    };
    let t = ui::truncate(&title, room);
    format!(
        "{mark}{state}{t}{:pad$}{tail}",
        "",
        pad = room - ui::width(&t)
    )
}

/// Wraps `text` (controls removed) into lines of `width` columns, at most `max` lines.
fn wrap(prefix: &str, text: &str, width: usize, max: usize) -> Vec<String> {
    let text = format!("{prefix}{}", inert(text));
    // Cut by columns (a wide character takes two).
    let mut chunks: Vec<String> = Vec::new();
    let (mut cur, mut w) = (String::new(), 0);
    for c in text.chars() {
        let cw = ui::char_width(c);
        if w + cw > width.max(2) {
            chunks.push(std::mem::take(&mut cur));
            w = 0;
        }
        cur.push(c);
        w += cw;
    }
    if !cur.is_empty() {
        chunks.push(cur);
    }
    let mut out: Vec<String> = Vec::new();
    for chunk in chunks {
        if out.len() == max {
            if let Some(last) = out.last_mut() {
                *last = ui::truncate(&format!("{last}…"), width);
            }
            break;
        }
        out.push(chunk);
    }
    out
}

/// The preview of one conversation: a line of facts, then its last turns.
fn preview_lines(ctx: &Ctx, it: &Item, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(a) = &it.agent {
        let mut facts = vec![a.line()];
        facts.extend(a.session.iter().map(|s| format!("session {s}")));
        facts.extend(a.cwd.iter().map(|c| format!("in {c}")));
        lines.push(ui::truncate(&inert(&facts.join(" · ")), width));
        if let Some(m) = &a.message {
            lines.extend(wrap("", m, width, 2));
        }
    }
    let Some(s) = &it.summary else {
        lines.push(ui::truncate(
            &format!("{}: no conversation; Enter or ^G goes to it", it.title),
            width,
        ));
        return lines;
    };
    let mut facts = vec![
        s.id.to_string(),
        ui::turns(s.turns),
        format!("{} ago", panechat::time::ago(&s.updated_at)),
    ];
    if let Some(p) = &s.parent {
        facts.push(format!("fork of {}", p.id.short()));
    }
    if !it.panes.is_empty() {
        facts.push(format!("in {}", it.panes.join(" ")));
    }
    if let Some(r) = &it.running {
        facts.push(r.clone());
    }
    lines.push(format!(
        "\x1b[2m{}\x1b[0m",
        ui::truncate(&inert(&facts.join(" · ")), width)
    ));
    match ctx.store.last_turns(&s.id, 2) {
        Ok(turns) => {
            for t in turns {
                lines.extend(
                    wrap("you: ", &t.user, width, 2)
                        .into_iter()
                        .map(|l| format!("\x1b[1m{l}\x1b[0m")),
                );
                lines.extend(wrap("", &t.assistant, width, 4));
            }
        }
        Err(e) => lines.push(ui::truncate(&inert(&e.to_string()), width)),
    }
    lines
}

/// Loads every conversation with its panes and run state.
pub fn load_items(ctx: &Ctx, target: Option<&Session>) -> Result<Vec<Item>> {
    let list = ctx.store.list()?;
    let server = target.and_then(|t| t.server.clone());
    let mut panes: HashMap<String, Vec<String>> = HashMap::new();
    let mut here: Option<String> = None;
    // Each pane's agent: given to the conversation the pane shows, or a row of its own.
    let agent_records = panechat::agents::all(&ctx.paths);
    let mut agents: HashMap<panechat::session::SessionKey, Agent> = agent_records
        .iter()
        .map(|r| (r.pane.clone(), r.agent.clone()))
        .collect();
    let mut conv_agent: HashMap<String, Agent> = HashMap::new();
    for rec in mapping::all(&ctx.paths)? {
        let Some(active) = rec.active else { continue };
        let agent = agents.remove(&rec.pane.session);
        if target.is_some_and(|t| t.key == rec.pane.session) {
            here = Some(active.to_string());
        }
        // Only panes of the multiplexer server the picker runs in can be jumped to.
        if server.is_some() && rec.server != server {
            continue;
        }
        if let Some(a) = agent {
            let urgent = |a: &Agent| agent_rank(Some(a));
            match conv_agent.get(active.as_str()) {
                Some(b) if urgent(b) <= urgent(&a) => {}
                _ => {
                    conv_agent.insert(active.to_string(), a);
                }
            }
        }
        if let Some(p) = rec.pane.pane {
            panes.entry(active.to_string()).or_default().push(p);
        }
    }
    // Panes with an agent and no conversation, of the server the picker runs in (a key names
    // its server before its last `:`), that are still there (their multiplexer asked once).
    let server_of = |k: &str| k.rsplit_once(':').map(|(s, _)| s.to_string());
    let here_server = target.and_then(|t| server_of(t.key.as_str()));
    let records: HashMap<&panechat::session::SessionKey, &panechat::agents::AgentRecord> =
        agent_records.iter().map(|r| (&r.pane, r)).collect();
    let probe = panechat::prune::Cached::new(&RealExec);
    let mut pane_rows: Vec<Item> = agents
        .into_iter()
        .filter(|(k, _)| here_server.is_none() || server_of(k.as_str()) == here_server)
        .filter(|(k, _)| {
            records.get(k).is_none_or(|r| {
                let rec = panechat::sessions::agent_only_record(r);
                !matches!(
                    panechat::prune::check_with(&rec, true, &probe),
                    panechat::prune::Liveness::Gone(_)
                )
            })
        })
        .filter_map(|(k, a)| {
            let is_here = target.is_some_and(|t| t.key == k);
            let pane = panechat::session::PaneRef::from_key(k).pane?;
            Some(Item::agent_pane(pane, a, is_here))
        })
        .collect();
    pane_rows.sort_by(|a, b| a.panes.cmp(&b.panes));
    let mut running: HashMap<String, String> = HashMap::new();
    for r in runs::live_readonly(&ctx.paths).unwrap_or_default() {
        if r.state.holds_lock() || r.state == runs::RunState::WaitingForLock {
            let place = r
                .pane
                .pane
                .clone()
                .unwrap_or_else(|| r.pane.session.to_string());
            let verb = if r.state.holds_lock() {
                "running"
            } else {
                "waiting"
            };
            running.insert(
                r.conversation.clone(),
                format!("{verb} in {place}, {}", panechat::time::ago(&r.since)),
            );
        }
    }
    let mut items: Vec<Item> = list
        .into_iter()
        .map(|s| {
            let id = s.id.to_string();
            let mut p = panes.remove(&id).unwrap_or_default();
            p.sort_by_key(|x| x.trim_start_matches('%').parse::<u64>().unwrap_or(u64::MAX));
            let is_here = here.as_deref() == Some(id.as_str());
            let mut it = Item::new(s, p, running.remove(&id), is_here);
            it.set_agent(conv_agent.remove(&id));
            it
        })
        .collect();
    items.extend(pane_rows);
    Ok(by_attention(items))
}

/// Publishes like every command, but waits for each tmux command: the popup's processes are
/// killed as soon as the picker exits, and a publication still on its way would be lost.
struct WaitingSink;

impl panechat::publish::Sink for WaitingSink {
    fn tmux(&self, socket: Option<&str>, args: &[String]) {
        let mut all: Vec<String> = Vec::with_capacity(args.len() + 2);
        if let Some(s) = socket {
            all.push("-S".into());
            all.push(s.into());
        }
        all.extend(args.iter().cloned());
        let _ = tmux::status(&RealExec, &all);
    }

    fn own_terminal(&self, _bytes: &[u8]) {
        // The popup's terminal is not the pane's.
    }

    fn tty(&self, path: &str, bytes: &[u8]) {
        panechat::publish::RealSink.tty(path, bytes);
    }

    fn zellij(&self, name: &str, payload: &str) {
        panechat::publish::RealSink.zellij(name, payload);
    }
}

fn publisher(ctx: &Ctx) -> panechat::publish::Publisher<'_> {
    panechat::publish::Publisher {
        store: &ctx.store,
        env: &ctx.env,
        here: None,
        sink: &WaitingSink,
    }
}

/// Does `action`; `Err` carries a message to show in the picker.
fn act(
    ctx: &mut Ctx,
    args: &Args,
    target: &Session,
    action: &Action,
) -> std::result::Result<(), String> {
    match action {
        Action::Use(id) => {
            ctx.store.summary(id).map_err(|e| e.to_string())?;
            mapping::activate(&ctx.paths, target, id).map_err(|e| e.to_string())?;
            publisher(ctx).conversation(id).map_err(|e| e.to_string())
        }
        Action::Jump(pane) => {
            adapters::switch_to(&RealExec, target.multiplexer, args.client.as_deref(), pane)
        }
        Action::Fork(id) => {
            // The fork becomes the new pane's conversation as soon as it is made.
            let new = adapters::split(
                &RealExec,
                target.multiplexer,
                target.pane.as_deref(),
                args.split == "v",
            )?;
            let new = new.as_str();
            let forked = ctx.store.fork(id, args.keep).map_err(|e| e.to_string())?;
            ctx.warn_stale("the fork", forked.stale.as_ref());
            let fork = forked.value;
            let session = ctx
                .named_session(&format!("pane:{new}"))
                .map_err(|e| e.to_string())?;
            mapping::activate(&ctx.paths, &session, &fork.id).map_err(|e| e.to_string())?;
            publisher(ctx)
                .conversation(&fork.id)
                .map_err(|e| e.to_string())
        }
        Action::New => {
            ctx.store.ensure_dirs().map_err(|e| e.to_string())?;
            mapping::detach(&ctx.paths, target).map_err(|e| e.to_string())?;
            publisher(ctx)
                .sessions(std::slice::from_ref(&target.key))
                .map_err(|e| e.to_string())
        }
    }
}

/// Runs the command.
/// Draws `lines` over the whole screen, from its top.
fn draw(lines: &[String]) {
    let mut frame = String::from("\x1b[H");
    for (i, l) in lines.iter().enumerate() {
        frame.push_str(l);
        frame.push_str("\x1b[K");
        if i + 1 < lines.len() {
            frame.push_str("\r\n");
        }
    }
    frame.push_str("\x1b[J");
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(frame.as_bytes()).and_then(|_| out.flush());
}

/// The filter also finds conversations by what was said in them (3 characters or more: fewer
/// would match nearly everything).
fn search_content(ctx: &Ctx, model: &mut Model) {
    let typed = model.filter().trim().to_string();
    let found = if typed.chars().count() >= 3 {
        panechat::search::ids(&ctx.store, &typed).unwrap_or_default()
    } else {
        Vec::new()
    };
    let ids: Vec<ConversationId> = found.into_iter().map(|(id, _)| id).collect();
    model.set_content(&ids);
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let target = match &args.pane {
        Some(p) => ctx.named_session(&format!("pane:{p}"))?,
        None => ctx.session()?,
    };
    let term = Term::stdout();
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(Error::Unavailable {
            message:
                "the picker needs a terminal; in a script use `panechat ls --json` and `panechat use ID`"
                    .into(),
        });
    }
    let items = load_items(ctx, Some(&target))?;
    let mut model = Model::new(items, target.pane.clone());
    let mut cache: HashMap<String, Vec<String>> = HashMap::new();
    let _ = term.hide_cursor();
    let result = loop {
        let (rows, cols) = term.size();
        let ctx_ref: &Ctx = ctx;
        let mut preview = |it: &Item, w: usize| {
            cache
                .entry(format!(
                    "{}:{}:{w}",
                    it.id().map_or("", |id| id.as_str()),
                    it.panes.join(",")
                ))
                .or_insert_with(|| preview_lines(ctx_ref, it, w))
                .clone()
        };
        draw(&model.render(cols as usize, rows as usize, &mut preview));
        let key = match term.read_key_raw() {
            Ok(k) => k,
            Err(e) => {
                break Err(Error::Terminal {
                    message: format!("reading a key: {e}"),
                    source: e,
                })
            }
        };
        let before = model.filter().to_string();
        match model.key(key) {
            Step::Continue if model.filter() != before => search_content(ctx, &mut model),
            Step::Continue => {}
            Step::Quit => break Ok(0),
            Step::Act(a) => match act(ctx, &args, &target, &a) {
                Ok(()) => break Ok(0),
                Err(m) => model.message = Some(m),
            },
        }
    };
    let _ = term.write_str("\x1b[H\x1b[J");
    let _ = term.show_cursor();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, title: &str, panes: &[&str]) -> Item {
        let s = Summary {
            agent: None,
            id: ConversationId::from_trusted(id).unwrap(),
            title: Some(title.into()),
            turns: 3,
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            parent: None,
            model: None,
            system: None,
            last_message: None,
            deleted: false,
            log_len: 0,
            history_len: 0,
            attachments: 0,
        };
        Item::new(
            s,
            panes.iter().map(|p| p.to_string()).collect(),
            None,
            false,
        )
    }

    fn plain(s: &str) -> String {
        let mut out = String::new();
        let mut esc = false;
        for c in s.chars() {
            if c == '\x1b' {
                esc = true;
            } else if esc {
                if c.is_ascii_alphabetic() {
                    esc = false;
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn rows_tag_the_back_end_holding_the_conversation_and_the_filter_matches_it() {
        let held = |id: &str, title: &str, backend: &str| {
            let mut it = item(id, title, &[]);
            let mut s = it.summary.take().unwrap();
            s.agent = Some(panechat::model::AgentSession {
                backend: backend.into(),
                id: "s1".into(),
                ..Default::default()
            });
            Item::new(s, Vec::new(), None, false)
        };
        let items = vec![
            held("01m7yd5c00000000cc", "fix the build", "claude-code"),
            held("01m7yd5b00000000bb", "try again", "my\x1b[2J\u{9b}1magent"),
            held("01m7yd5a00000000aa", "other way", "codex"),
            item("01m7yd5900000000ff", "plain", &[]),
        ];
        let rows: Vec<String> = items.iter().map(|it| row_text(it, 60, 8, 0)).collect();
        assert!(rows[0].contains("[claude] fix the build"), "{rows:?}");
        assert!(rows[1].contains("[my [2J1magent] try again"), "{rows:?}");
        assert!(rows[2].contains("[codex] other way"), "{rows:?}");
        assert!(rows[3].contains("  plain"), "{rows:?}");
        assert!(rows.iter().all(|r| !r.chars().any(char::is_control)));
        let mut m = Model::new(items, None);
        for c in "codex".chars() {
            m.key(Key::Char(c));
        }
        assert_eq!(m.match_count(), 1);
        assert_eq!(m.selected().unwrap().title, "other way");
    }

    #[test]
    fn filtering_and_keys() {
        let items = vec![
            item("01m7yd5a00000000aa", "Splitting tmux panes", &["%0"]),
            item("01m7yd5b00000000bb", "Zellij layouts", &["%1", "%2"]),
        ];
        let mut m = Model::new(items, Some("%1".into()));
        for c in "zel".chars() {
            assert_eq!(m.key(Key::Char(c)), Step::Continue);
        }
        assert_eq!(m.match_count(), 1);
        assert_eq!(m.selected().unwrap().title, "Zellij layouts");
        // ^G goes to a pane other than the picker's own.
        assert_eq!(
            m.key(Key::Char('\u{7}')),
            Step::Act(Action::Jump("%2".into()))
        );
        m.key(Key::Backspace);
        m.key(Key::Backspace);
        m.key(Key::Backspace);
        assert_eq!(m.match_count(), 2);
        m.key(Key::ArrowDown);
        assert_eq!(
            m.key(Key::Enter),
            Step::Act(Action::Use(
                ConversationId::from_trusted("01m7yd5b00000000bb").unwrap()
            ))
        );
        assert_eq!(m.key(Key::Char('\u{e}')), Step::Act(Action::New));
        assert_eq!(m.key(Key::Escape), Step::Quit);
    }

    #[test]
    fn rows_fit_forty_columns_and_hostile_text_is_inert() {
        let items = vec![item(
            "01m7yd5a00000000aa",
            "#(touch M1) #[fg=red] ; kill-server $(touch M2)\x1b]2;x\x07\u{9b}31m",
            &["%0"],
        )];
        let mut m = Model::new(items, None);
        let mut pv = |_: &Item, _: usize| vec!["preview".to_string()];
        let lines = m.render(40, 20, &mut pv);
        assert_eq!(lines.len(), 20);
        for l in &lines {
            let p = plain(l);
            assert!(p.chars().count() <= 40, "{p:?} is wider than 40");
            assert!(!p.chars().any(|c| c.is_control()), "{p:?}");
        }
        assert!(plain(&lines[1]).contains("#(touch M1)"));
    }

    #[test]
    fn it_opens_on_the_panes_own_conversation() {
        let mut items = vec![
            item("01m7yd5b00000000bb", "Most recent", &["%1"]),
            item("01m7yd5a00000000aa", "Mine", &["%0"]),
        ];
        items[1].here = true;
        let mut m = Model::new(items, Some("%0".into()));
        assert_eq!(m.selected().unwrap().title, "Mine");
        assert_eq!(
            m.key(Key::Enter),
            Step::Act(Action::Use(
                ConversationId::from_trusted("01m7yd5a00000000aa").unwrap()
            ))
        );
    }

    #[test]
    fn exact_and_prefix_matches_rank_above_longer_fuzzy_ones() {
        let items = vec![
            item("01m7yd5d00000000dd", "notes (fork)", &[]),
            item("01m7yd5c00000000cc", "no tests here", &[]),
            item("01m7yd5b00000000bb", "the notes of monday", &[]),
            item("01m7yd5a00000000aa", "notes", &[]),
        ];
        let mut m = Model::new(items, None);
        for c in "notes".chars() {
            m.key(Key::Char(c));
        }
        let order: Vec<&str> = m
            .matches
            .iter()
            .map(|&i| m.items[i].title.as_str())
            .collect();
        assert_eq!(
            order,
            [
                "notes",
                "notes (fork)",
                "the notes of monday",
                "no tests here"
            ]
        );
        // Conversations found by what was said in them come after, once each.
        m.set_content(&[
            ConversationId::from_trusted("01m7yd5a00000000aa").unwrap(),
            ConversationId::from_trusted("01m7yd5c00000000cc").unwrap(),
        ]);
        assert_eq!(m.match_count(), 4);
        let mut m = Model::new(m.items.clone(), None);
        for c in "monday".chars() {
            m.key(Key::Char(c));
        }
        assert_eq!(m.match_count(), 1);
        m.set_content(&[ConversationId::from_trusted("01m7yd5c00000000cc").unwrap()]);
        assert_eq!(m.match_count(), 2);
        m.key(Key::ArrowDown);
        assert_eq!(m.selected().unwrap().title, "no tests here");
    }

    #[test]
    fn rows_show_the_short_id_and_align_with_or_without_panes() {
        let items = vec![
            item("01m7yd5d00000000dd", "notes (fork)", &[]),
            item("01m7yd5d00000001ee", "notes (fork)", &["%3", "%12"]),
            item("01m7yd5a00000000aa", "other", &["%0"]),
        ];
        let mut m = Model::new(items, None);
        let mut pv = |_: &Item, _: usize| vec![String::new()];
        for width in [40, 60, 100] {
            let lines = m.render(width, 20, &mut pv);
            let rows: Vec<String> = lines[1..4].iter().map(|l| plain(l)).collect();
            // The two forks are told apart by their ids.
            assert!(rows[0].contains("01m7yd5d00000000"), "{rows:?}");
            assert!(rows[1].contains("01m7yd5d00000001"), "{rows:?}");
            // The turns column is at the same place in every row.
            let col = |r: &String| r.find(" 3 ").unwrap();
            assert_eq!(col(&rows[0]), col(&rows[1]), "{rows:?}");
            assert_eq!(col(&rows[0]), col(&rows[2]), "{rows:?}");
            for r in &rows {
                assert_eq!(ui::width(r), width, "{r:?}");
            }
        }
    }

    #[test]
    fn agents_that_need_you_come_first_and_a_pane_without_a_conversation_is_gone_to() {
        let agent = |state| Agent {
            kind: "claude-code".into(),
            state,
            tool: Some("Bash".into()),
            ..Agent::default()
        };
        let mut working = item("01m7yd5b00000000bb", "Building", &["%1"]);
        working.set_agent(Some(agent(AgentState::Working)));
        let items = by_attention(vec![
            item("01m7yd5c00000000cc", "Most recent", &[]),
            working,
            Item::agent_pane("%4".into(), agent(AgentState::Done), false),
            Item::agent_pane("%5".into(), agent(AgentState::NeedsYou), false),
        ]);
        let mut m = Model::new(items, Some("%0".into()));
        let mut pv = |_: &Item, _: usize| vec![String::new()];
        let lines = m.render(60, 20, &mut pv);
        let rows: Vec<String> = lines[1..5].iter().map(|l| plain(l)).collect();
        assert!(
            rows[0].contains("⚑ claude: needs you · pane %5"),
            "{rows:?}"
        );
        assert!(rows[1].contains("✓ claude: done · pane %4"), "{rows:?}");
        assert!(
            rows[2].contains("claude: running Bash · Building"),
            "{rows:?}"
        );
        assert!(rows[3].contains("Most recent"), "{rows:?}");
        for r in &rows {
            assert_eq!(ui::width(r), 60, "{r:?}");
        }
        // Enter on a pane without a conversation goes to it; ^F says why not.
        assert_eq!(m.key(Key::Enter), Step::Act(Action::Jump("%5".into())));
        assert_eq!(m.key(Key::Char('\u{6}')), Step::Continue);
        assert!(m.message.as_deref().unwrap().contains("no conversation"));
        // The filter finds agents by what they do.
        for c in "needs".chars() {
            m.key(Key::Char(c));
        }
        assert_eq!(m.match_count(), 1);
        assert_eq!(m.selected().unwrap().panes, ["%5"]);
    }

    #[test]
    fn wide_titles_keep_the_columns_aligned() {
        let items = vec![
            item(
                "01m7yd5a00000000aa",
                "日本語のタイトルとても長いタイトルです",
                &["%0"],
            ),
            item("01m7yd5b00000000bb", "ascii title", &["%1"]),
        ];
        let mut m = Model::new(items, None);
        let mut pv = |_: &Item, w: usize| vec![ui::truncate(&"プレビュー".repeat(20), w)];
        for width in [40, 41, 80] {
            let lines = m.render(width, 20, &mut pv);
            for l in &lines {
                let p = plain(l);
                assert!(ui::width(&p) <= width, "{p:?} is wider than {width}");
            }
            // Both rows end at the same column.
            let rows: Vec<String> = lines[1..3].iter().map(|l| plain(l)).collect();
            assert_eq!(ui::width(&rows[0]), ui::width(&rows[1]), "{rows:?}");
        }
    }
}
