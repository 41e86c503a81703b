//! `panechat ls`: conversations, most recently active first.

use panechat::runs;
use panechat::schema::ConversationItem;
use panechat::session::PaneRef;
use panechat::state::{self, Activity, HeldBy};
use panechat::store::conversation::Summary;
use panechat::store::mapping;
use panechat::Result;

use super::ctx::Ctx;
use super::output::{out, out_json};
use super::ui::truncate;

/// `panechat ls [--json]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print a JSON array (fields in docs/integration.md: id, title, turns, created_at,
    /// updated_at, parent, locked, activity, held_by, active_in, panes, …).
    #[arg(long)]
    json: bool,
    /// Show at most N conversations.
    #[arg(short = 'n', long, value_name = "N")]
    limit: Option<usize>,
    /// Print only the ids, one per line (what shell completion offers after use, show, rm).
    #[arg(long, conflicts_with = "json")]
    ids: bool,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let mut list = ctx.store.list()?;
    if let Some(n) = args.limit {
        list.truncate(n);
    }
    if args.ids {
        let ids: String = list.iter().map(|s| format!("{}\n", s.id)).collect();
        out(&ids)?;
        return Ok(0);
    }
    let live = runs::live(&ctx.paths)?;
    let mut shown_in = mapping::shown_in(&ctx.paths)?;
    if args.json {
        let items: Vec<ConversationItem> = list
            .iter()
            .map(|s| ConversationItem::new(s, &live, shown_in.remove(&s.id).unwrap_or_default()))
            .collect();
        out_json(&items)?;
        return Ok(0);
    }
    let here = ctx.session().ok().map(|s| s.key.to_string());
    if list.is_empty() {
        ctx.note("no conversations yet; start one with `panechat q \"your question\"`");
        return Ok(0);
    }
    let prefixes = unique_prefix_lens(&list);
    let width = terminal_width();
    let mut text = String::with_capacity(list.len() * 80);
    for (s, plen) in list.iter().zip(prefixes) {
        let panes = shown_in.remove(&s.id).unwrap_or_default();
        let row = Row {
            summary: s,
            held_by: state::holder(&live, s.id.as_str(), None),
            activity: state::conversation_activity(&live, s.id.as_str()),
            panes: &panes,
        };
        line(&mut text, &row, plen, here.as_deref(), width);
        text.push('\n');
    }
    out(&text)?;
    Ok(0)
}

/// What one line of `ls` shows about a conversation (what `ls --json` says of it, less what
/// the line does not show).
struct Row<'a> {
    summary: &'a Summary,
    held_by: Option<HeldBy>,
    activity: Activity,
    /// The sessions that have it active.
    panes: &'a [PaneRef],
}

/// Appends one conversation's line to `text`: `*` when this session shows it, its shortest
/// unique id prefix, turns, age, title, and flags (locked, waiting, fork of, shown in other
/// panes), fitted to the terminal's `width`.
fn line(text: &mut String, row: &Row<'_>, plen: usize, here: Option<&str>, width: Option<usize>) {
    use std::fmt::Write;
    let s = row.summary;
    let mine = here.is_some_and(|h| row.panes.iter().any(|p| p.session.as_str() == h));
    let flags = flags(row, here);
    let start = text.len();
    let _ = write!(
        text,
        "{} {:<12} {:>4}  {:>4}  ",
        if mine { "*" } else { " " },
        &s.id.as_str()[..plen],
        s.turns,
        panechat::time::ago(&s.updated_at),
    );
    let room = width.map_or(60, |w| {
        w.saturating_sub(text[start..].chars().count() + flags.chars().count())
            .max(12)
    });
    match &s.title {
        Some(t) => text.push_str(&truncate(t, room)),
        None => text.push_str(&truncate(&s.display_title(), room)),
    }
    text.push_str(&flags);
    // A narrow pane: cut the line (flags last) rather than let it wrap.
    if let Some(w) = width {
        if super::ui::width(&text[start..]) > w {
            let cut = truncate(&text[start..], w.max(20));
            text.truncate(start);
            text.push_str(&cut);
        }
    }
}

/// `  [locked by …, fork of …, 2 other panes]`, or nothing.
fn flags(row: &Row<'_>, here: Option<&str>) -> String {
    let mut flags = Vec::new();
    // The coding agent holding it: `claude`, `codex`.
    if let Some(a) = &row.summary.agent {
        flags.push(a.tag());
    }
    match (&row.held_by, row.activity) {
        (Some(h), _) => flags.push(format!("locked by {}", h.pane.place())),
        (None, Activity::Waiting) => flags.push("waiting".to_string()),
        _ => {}
    }
    if let Some(p) = &row.summary.parent {
        flags.push(format!("fork of {}", p.id.short()));
    }
    // Others that show it: multiplexer panes, and sessions that are not a pane (a plain
    // terminal, a named session).
    let others = row
        .panes
        .iter()
        .filter(|p| here != Some(p.session.as_str()));
    let (in_panes, in_sessions) = others.fold((0, 0), |(p, s), r| match r.pane {
        Some(_) => (p + 1, s),
        None => (p, s + 1),
    });
    for (n, what) in [(in_panes, "pane"), (in_sessions, "session")] {
        if n > 0 {
            flags.push(format!("{n} other {what}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if flags.is_empty() {
        String::new()
    } else {
        format!("  [{}]", flags.join(", "))
    }
}

/// For each id, the length of its shortest prefix that no other listed id shares (at least 8).
fn unique_prefix_lens(list: &[Summary]) -> Vec<usize> {
    // The ids in order, each with its place in `list`; an id's neighbours in that order share
    // the longest prefixes with it.
    let mut sorted: Vec<(&str, usize)> = list
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    sorted.sort_unstable();
    let common = |a: &str, b: &str| a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let mut lens = vec![0; list.len()];
    for (k, &(id, i)) in sorted.iter().enumerate() {
        let mut need = 0;
        if k > 0 {
            need = need.max(common(id, sorted[k - 1].0) + 1);
        }
        if let Some(next) = sorted.get(k + 1) {
            need = need.max(common(id, next.0) + 1);
        }
        lens[i] = need.clamp(8, id.len());
    }
    lens
}

/// The terminal's width when stdout is one.
fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    console::Term::stdout()
        .size_checked()
        .map(|(_, w)| w as usize)
}
