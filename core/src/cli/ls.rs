//! `panechat ls`: conversations, most recently active first.

use std::collections::{BTreeMap, BTreeSet};

use panechat::runs;
use panechat::store::conversation::{Parent, Summary};
use panechat::store::mapping;
use panechat::Result;
use serde::Serialize;

use super::ui::truncate;
use super::{out, out_json, Ctx};

/// `panechat ls [--json]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print a JSON array (stable fields: id, title, turns, created_at, updated_at, parent,
    /// locked, active_in).
    #[arg(long)]
    json: bool,
    /// Show at most N conversations.
    #[arg(short = 'n', long, value_name = "N")]
    limit: Option<usize>,
}

/// One conversation in `ls --json`: the documented fields only (the summary's cache
/// bookkeeping stays out of the stable output).
#[derive(Serialize)]
pub struct Item<'a> {
    id: &'a str,
    title: &'a Option<String>,
    turns: u64,
    created_at: &'a str,
    updated_at: &'a str,
    parent: &'a Option<Parent>,
    model: &'a Option<String>,
    system: &'a Option<String>,
    last_message: &'a Option<String>,
    locked: bool,
    active_in: Vec<String>,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let mut list = ctx.store.list()?;
    if let Some(n) = args.limit {
        list.truncate(n);
    }
    let locked: BTreeSet<String> = runs::live(&ctx.paths)?
        .into_iter()
        .filter(|r| r.state.holds_lock())
        .map(|r| r.conversation)
        .collect();
    let mut active_in: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rec in mapping::all(&ctx.paths)? {
        if let Some(a) = rec.active {
            active_in
                .entry(a.to_string())
                .or_default()
                .push(rec.key.to_string());
        }
    }
    let here = ctx.session().ok().map(|s| s.key.to_string());
    if args.json {
        let items: Vec<Item> = list
            .iter()
            .map(|s| Item {
                id: s.id.as_str(),
                title: &s.title,
                turns: s.turns,
                created_at: &s.created_at,
                updated_at: &s.updated_at,
                parent: &s.parent,
                model: &s.model,
                system: &s.system,
                last_message: &s.last_message,
                locked: locked.contains(s.id.as_str()),
                active_in: active_in.get(s.id.as_str()).cloned().unwrap_or_default(),
            })
            .collect();
        out_json(&items)?;
        return Ok(0);
    }
    if list.is_empty() {
        ctx.note("no conversations yet; start one with `panechat q \"your question\"`");
        return Ok(0);
    }
    let prefixes = unique_prefix_lens(&list);
    let width = terminal_width();
    let mut text = String::new();
    for (s, plen) in list.iter().zip(prefixes) {
        let panes = active_in.get(s.id.as_str());
        let mine = panes.is_some_and(|v| here.as_ref().is_some_and(|h| v.contains(h)));
        let mut flags = Vec::new();
        if locked.contains(s.id.as_str()) {
            flags.push("locked".to_string());
        }
        if let Some(p) = &s.parent {
            flags.push(format!("fork of {}", p.id.short()));
        }
        if let Some(v) = panes {
            let others = v.len() - usize::from(mine);
            if others > 0 {
                flags.push(format!(
                    "{others} other pane{}",
                    if others == 1 { "" } else { "s" }
                ));
            }
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!("  [{}]", flags.join(", "))
        };
        let head = format!(
            "{} {:<12} {:>4}  {:>4}  ",
            if mine { "*" } else { " " },
            &s.id.as_str()[..plen],
            s.turns,
            panechat::time::ago(&s.updated_at),
        );
        let room = width.map_or(60, |w| {
            w.saturating_sub(head.chars().count() + flags.chars().count())
                .max(12)
        });
        let line = format!("{head}{}{flags}", truncate(&s.display_title(), room));
        // A narrow pane: cut the line (flags last) rather than let it wrap.
        let line = match width {
            Some(w) if line.chars().count() > w => truncate(&line, w.max(20)),
            _ => line,
        };
        text.push_str(&line);
        text.push('\n');
    }
    out(&text)?;
    Ok(0)
}

/// For each id, the length of its shortest prefix that no other listed id shares (at least 8).
fn unique_prefix_lens(list: &[Summary]) -> Vec<usize> {
    let mut sorted: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
    sorted.sort_unstable();
    let common = |a: &str, b: &str| a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    list.iter()
        .map(|s| {
            let id = s.id.as_str();
            let i = sorted.binary_search(&id).unwrap_or(0);
            let mut need = 0;
            if i > 0 {
                need = need.max(common(id, sorted[i - 1]) + 1);
            }
            if i + 1 < sorted.len() {
                need = need.max(common(id, sorted[i + 1]) + 1);
            }
            need.clamp(8, id.len())
        })
        .collect()
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
