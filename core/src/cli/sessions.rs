//! `panechat sessions`: every known session, its conversations and live runs.
//!
//! Listing also prunes, lazily, the records of panes that are certainly gone (a dead tmux
//! server, a vanished WezTerm socket, an ended terminal session, a WezTerm pane that
//! `wezterm cli list` no longer lists: one `wezterm cli list` per running WezTerm instance);
//! `--prune` also asks tmux and Zellij which panes still exist. Conversations are never
//! touched, and a session with a live run is never pruned.

use std::io::IsTerminal;

use panechat::prune::{self, Liveness};
use panechat::runs::{self, Run};
use panechat::schema::SessionItem;
use panechat::session::SessionKey;
use panechat::state::{self, PaneState};
use panechat::store::mapping;
use panechat::Result;

use super::ctx::Ctx;
use super::output::{out_json, out_spans, Span};
use super::ui::truncate;

/// `panechat sessions [--json] [--prune]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print a JSON array: key, multiplexer, pane, conversation, previous, runs.
    #[arg(long)]
    json: bool,
    /// Also ask tmux, WezTerm and Zellij which panes still exist, and forget the others.
    #[arg(long)]
    prune: bool,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let runs = runs::live(&ctx.paths)?;
    let runs_of = |key: &SessionKey| -> Vec<&Run> {
        runs.iter().filter(|r| r.pane.session == *key).collect()
    };
    let mut records = Vec::new();
    let mut pruned = 0;
    let probe = prune::Cached::new(&panechat::adapters::exec::RealExec);
    for rec in mapping::all(&ctx.paths)? {
        if runs_of(&rec.pane.session).is_empty() {
            if let Liveness::Gone(why) = prune::check_with(&rec, args.prune, &probe) {
                mapping::remove(&ctx.paths, &rec.pane.session)?;
                ctx.log(
                    "INFO",
                    &format!("forgot session {}: {why}", rec.pane.session),
                );
                pruned += 1;
                continue;
            }
        }
        records.push(rec);
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
    if pruned > 0 || args.prune {
        ctx.note(&format!(
            "pruned {pruned} session(s) whose pane is gone (their conversations are kept)"
        ));
    }
    // Sessions with runs but no record yet (a first query still waiting) are shown too.
    for r in &runs {
        if !records.iter().any(|s| s.pane.session == r.pane.session) {
            records.push(mapping::SessionRecord {
                pane: r.pane.clone(),
                server: None,
                instance: None,
                tty: None,
                pending_new: false,
                active: None,
                previous: Vec::new(),
                updated_at: r.since.clone(),
            });
        }
    }
    records.sort_by(|a, b| {
        let (la, lb) = (
            !runs_of(&a.pane.session).is_empty(),
            !runs_of(&b.pane.session).is_empty(),
        );
        lb.cmp(&la).then_with(|| b.updated_at.cmp(&a.updated_at))
    });
    let states: Vec<PaneState> = records
        .iter()
        .map(|rec| state::of_record(&ctx.store, rec, &runs))
        .collect();
    if args.json {
        let items: Vec<SessionItem> = states
            .iter()
            .zip(&records)
            .map(|(st, rec)| SessionItem::new(st.clone(), rec, &runs))
            .collect();
        out_json(&items)?;
        return Ok(0);
    }
    if records.is_empty() {
        ctx.note("no sessions yet");
        return Ok(0);
    }
    let color = std::io::stdout().is_terminal() && ctx.env.get("NO_COLOR").is_none();
    let rows: Vec<[String; 6]> = records
        .iter()
        .zip(&states)
        .map(|(s, st)| {
            let rs = runs_of(&s.pane.session);
            let title = truncate(&st.label(), 32);
            let runs_text = if rs.is_empty() {
                "-".to_string()
            } else {
                rs.iter()
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
            [
                truncate(s.pane.session.as_str(), 40),
                s.pane.multiplexer.to_string(),
                s.pane.pane.clone().unwrap_or_else(|| "-".into()),
                st.conversation
                    .as_ref()
                    .map(|i| i.short().to_string())
                    .unwrap_or_else(|| "-".into()),
                title,
                runs_text,
            ]
        })
        .collect();
    let header = ["SESSION", "MUX", "PANE", "CONV", "TITLE", "RUNS"];
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(super::ui::width(c));
        }
    }
    // On a terminal, the table fits its width (a wrapped row breaks every column): the title,
    // then the session key give up room first, and the runs column is cut last.
    let width = terminal_width();
    if let Some(w) = width {
        let total = |ws: &[usize; 6]| ws[..5].iter().sum::<usize>() + 2 * 5 + ws[5];
        // Below 60 columns they give up more; what still does not fit is cut at the edge.
        for (col, min) in [(4, 12), (0, 16), (0, 8), (4, 6)] {
            let over = total(&widths).saturating_sub(w);
            let room = widths[col].saturating_sub(min.max(header[col].len()));
            widths[col] -= over.min(room);
        }
    }
    let fmt_row = |cells: [&str; 6], live: bool, spans: &mut Vec<Span>| {
        let mut line = String::new();
        for (i, (c, w)) in cells.iter().zip(widths.iter()).enumerate() {
            if i == 5 {
                let room = width.map(|tw| tw.saturating_sub(super::ui::width(&line)).max(4));
                let c = match room {
                    Some(r) => truncate(c, r),
                    None => c.to_string(),
                };
                let mut c = c.trim_end().to_string();
                if let Some(w) = width {
                    if super::ui::width(&line) + super::ui::width(&c) > w {
                        // A row that wraps breaks every column: cut it at the edge.
                        line = truncate(&line, w);
                        let room = w.saturating_sub(super::ui::width(&line));
                        c = if room == 0 {
                            String::new()
                        } else {
                            truncate(&c, room)
                        };
                    }
                }
                if live {
                    spans.push(Span::Text(line));
                    spans.push(Span::Green(c));
                } else {
                    spans.push(Span::Text(line + &c));
                }
                spans.push(Span::Text("\n".into()));
                return;
            }
            line.push_str(&super::ui::pad(&truncate(c, *w), *w));
            line.push_str("  ");
        }
    };
    let mut spans = Vec::new();
    fmt_row(header, false, &mut spans);
    for r in &rows {
        fmt_row(
            [&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]],
            r[5] != "-",
            &mut spans,
        );
    }
    out_spans(&spans, color)?;
    Ok(0)
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
