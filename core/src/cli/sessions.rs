//! `panechat sessions`: every known session, its conversations and live runs.
//!
//! Listing first prunes, lazily, the records of panes that are certainly gone (a dead tmux
//! server, a vanished WezTerm socket, an ended terminal session, a WezTerm pane that
//! `wezterm cli list` no longer lists: one `wezterm cli list` per running WezTerm instance);
//! `--prune` also asks tmux and Zellij which panes still exist. Conversations are never
//! touched, and a session with a live run is never pruned (see [`panechat::sessions`]).

use std::io::IsTerminal;

use panechat::prune;
use panechat::schema::SessionItem;
use panechat::sessions::{self, Listed, Listing};
use panechat::Result;

use super::ctx::Ctx;
use super::output::{out_json, out_spans, Span};
use super::ui::{pad, truncate, width};

/// `panechat sessions [--json] [--prune] [--resume]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print a JSON array: key, multiplexer, pane, conversation, previous, runs, agent.
    #[arg(long, conflicts_with = "resume")]
    json: bool,
    /// Print, for each pane where a coding agent reported (panes of a stopped multiplexer
    /// too, as after a restart), the shell command that resumes its session in its directory.
    #[arg(long)]
    resume: bool,
    /// Also ask tmux, WezTerm and Zellij which panes still exist, and forget the others.
    #[arg(long)]
    prune: bool,
}

/// The table's columns.
const HEADER: [&str; COLS] = ["SESSION", "MUX", "PANE", "CONV", "TITLE", "AGENT", "RUNS"];
/// How many.
const COLS: usize = 7;

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let probe = prune::Cached::new(&panechat::adapters::exec::RealExec);
    let forgotten = sessions::prune(&ctx.paths, args.prune, &probe)?;
    for f in &forgotten {
        ctx.log("INFO", &format!("forgot session {}: {}", f.key, f.why));
    }
    if args.prune {
        // Panes of this tmux server showing a conversation nothing gives them.
        let _ = ctx.session();
        let strays = ctx
            .publisher()
            .tmux_strays(&panechat::adapters::exec::RealExec)?;
        if strays > 0 {
            ctx.note(&format!(
                "cleared {strays} tmux pane(s) that showed a conversation they do not have"
            ));
        }
    }
    if !forgotten.is_empty() || args.prune {
        ctx.note(&format!(
            "pruned {} session(s) whose pane is gone (their conversations are kept)",
            forgotten.len()
        ));
    }
    if args.resume {
        return resume(ctx);
    }
    let listing = sessions::list(&ctx.store)?;
    if args.json {
        let items: Vec<SessionItem> = listing
            .sessions
            .iter()
            .map(|s| SessionItem::new(s.state.clone(), &s.record, &listing.runs))
            .collect();
        out_json(&items)?;
        return Ok(0);
    }
    if listing.sessions.is_empty() {
        ctx.note("no sessions yet");
        return Ok(0);
    }
    let color = std::io::stdout().is_terminal() && ctx.env.get("NO_COLOR").is_none();
    out_spans(&table(&listing, terminal_width()), color)?;
    Ok(0)
}

/// `--resume`: one commented command per pane whose agent has a session, newest first.
fn resume(ctx: &Ctx) -> Result<i32> {
    let mut agents = panechat::agents::all(&ctx.paths);
    agents.sort_by(|a, b| b.agent.since.cmp(&a.agent.since));
    let mut text = String::new();
    let mut n = 0;
    for a in &agents {
        let Some(cmd) = panechat::hooks::resume_command(&a.agent) else {
            continue;
        };
        let pane = panechat::session::PaneRef::from_key(a.pane.clone());
        let running = a.instance.is_some_and(|i| i.alive(a.server.as_deref()));
        let since = a
            .agent
            .since
            .as_deref()
            .map(|t| format!(", {} ago", panechat::time::ago(t)))
            .unwrap_or_default();
        text.push_str(&format!(
            "# {}{} ({}{since})\n{cmd}\n",
            panechat::title::sanitize_title(&pane.place()),
            if running { "" } else { ", multiplexer stopped" },
            // (one comment line, whatever the record holds: the next line is run)
            panechat::title::sanitize_title(&a.agent.summary()),
        ));
        n += 1;
    }
    if n == 0 {
        ctx.note("no agent session to resume (agents report theirs once `panechat init claude|codex --write` is set up)");
        return Ok(0);
    }
    super::output::out(&text)?;
    Ok(0)
}

/// The table, fitted to `term` columns when stdout is a terminal; live runs in green.
fn table(listing: &Listing, term: Option<usize>) -> Vec<Span> {
    let rows: Vec<[String; COLS]> = listing.sessions.iter().map(row).collect();
    let widths = column_widths(&rows, term);
    let mut spans = Vec::new();
    row_spans(HEADER, &widths, term, false, &mut spans);
    for r in &rows {
        let cells: [&str; COLS] = std::array::from_fn(|i| r[i].as_str());
        row_spans(cells, &widths, term, r[COLS - 1] != "-", &mut spans);
    }
    spans
}

/// One session's cells.
fn row(s: &Listed) -> [String; COLS] {
    let runs_text = if s.runs.is_empty() {
        "-".to_string()
    } else {
        s.runs
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    r.pid,
                    panechat::state::Activity::from(r.state).as_str(),
                    panechat::time::ago(&r.since)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let pane = &s.record.pane;
    [
        truncate(pane.session.as_str(), 40),
        pane.multiplexer.to_string(),
        pane.pane.clone().unwrap_or_else(|| "-".into()),
        s.state
            .conversation
            .as_ref()
            .map(|i| i.short().to_string())
            .unwrap_or_else(|| "-".into()),
        truncate(&s.state.label(), 32),
        s.state
            .agent
            .as_ref()
            .map(|a| truncate(&panechat::title::sanitize_title(&a.summary()), 32))
            .unwrap_or_else(|| "-".into()),
        runs_text,
    ]
}

/// Each column's width. On a terminal, the table fits its width (a wrapped row breaks every
/// column): the title, then the session key give up room first, and the runs column is cut
/// last.
fn column_widths(rows: &[[String; COLS]], term: Option<usize>) -> [usize; COLS] {
    let mut widths = HEADER.map(|h| h.chars().count());
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(width(c));
        }
    }
    if let Some(w) = term {
        let total = |ws: &[usize; COLS]| {
            ws[..COLS - 1].iter().sum::<usize>() + 2 * (COLS - 1) + ws[COLS - 1]
        };
        // Below 60 columns they give up more; what still does not fit is cut at the edge.
        for (col, min) in [(4, 12), (5, 12), (0, 16), (0, 8), (4, 6), (5, 6)] {
            let over = total(&widths).saturating_sub(w);
            let room = widths[col].saturating_sub(min.max(HEADER[col].len()));
            widths[col] -= over.min(room);
        }
    }
    widths
}

/// One row: the cells but the last padded to their widths, the runs cut at the terminal's
/// edge.
fn row_spans(
    cells: [&str; COLS],
    widths: &[usize; COLS],
    term: Option<usize>,
    live: bool,
    spans: &mut Vec<Span>,
) {
    let mut line = String::new();
    for (c, w) in cells[..COLS - 1].iter().zip(widths) {
        line.push_str(&pad(&truncate(c, *w), *w));
        line.push_str("  ");
    }
    let room = term.map(|tw| tw.saturating_sub(width(&line)).max(4));
    let runs = match room {
        Some(r) => truncate(cells[COLS - 1], r),
        None => cells[COLS - 1].to_string(),
    };
    let mut runs = runs.trim_end().to_string();
    if let Some(w) = term {
        if width(&line) + width(&runs) > w {
            // A row that wraps breaks every column: cut it at the edge.
            line = truncate(&line, w);
            let room = w.saturating_sub(width(&line));
            runs = if room == 0 {
                String::new()
            } else {
                truncate(&runs, room)
            };
        }
    }
    if live {
        spans.push(Span::Text(line));
        spans.push(Span::Green(runs));
    } else {
        spans.push(Span::Text(line + &runs));
    }
    spans.push(Span::Text("\n".into()));
}

/// The terminal's width when stdout is one.
fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    console::Term::stdout()
        .size_checked()
        .map(|(_, w)| w as usize)
}
