//! `panechat sessions`: every known session, its conversations and live runs.

use std::io::IsTerminal;

use panechat::runs::{self, Run};
use panechat::store::mapping;
use panechat::Result;
use serde_json::json;

use super::{out, out_json, ui::truncate, Ctx};

/// `panechat sessions [--json]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print a JSON array: key, multiplexer, pane, conversation, previous, runs.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let runs = runs::live(&ctx.paths)?;
    let mut records = mapping::all(&ctx.paths)?;
    // Sessions with runs but no record yet (first query still waiting) are shown too.
    for r in &runs {
        if !records.iter().any(|s| s.key.as_str() == r.session) {
            if let Ok(key) = panechat::session::SessionKey::normalize(&r.session) {
                records.push(mapping::SessionRecord {
                    key,
                    multiplexer: r.multiplexer.clone(),
                    pane: r.pane.clone(),
                    active: None,
                    previous: Vec::new(),
                    updated_at: r.since.clone(),
                });
            }
        }
    }
    let runs_of = |key: &str| -> Vec<&Run> { runs.iter().filter(|r| r.session == key).collect() };
    records.sort_by(|a, b| {
        let (la, lb) = (
            !runs_of(a.key.as_str()).is_empty(),
            !runs_of(b.key.as_str()).is_empty(),
        );
        lb.cmp(&la).then_with(|| b.updated_at.cmp(&a.updated_at))
    });
    if args.json {
        let items: Vec<_> = records
            .iter()
            .map(|s| {
                json!({
                    "key": s.key,
                    "multiplexer": s.multiplexer,
                    "pane": s.pane,
                    "conversation": s.active,
                    "previous": s.previous.first(),
                    "history": s.previous,
                    "updated_at": s.updated_at,
                    "runs": runs_of(s.key.as_str()).iter().map(|r| json!({
                        "pid": r.pid,
                        "conversation": r.conversation,
                        "state": r.state,
                        "since": r.since,
                        "state_since": r.state_since,
                        "provider": r.provider,
                        "model": r.model,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        out_json(&items)?;
        return Ok(0);
    }
    if records.is_empty() {
        ctx.note("no sessions yet");
        return Ok(0);
    }
    let color = std::io::stdout().is_terminal() && ctx.env.get("NO_COLOR").is_none();
    let mut text = format!(
        "{:<36} {:<8} {:<6} {:<19} {}\n",
        "SESSION", "MUX", "PANE", "CONVERSATION", "RUNS"
    );
    for s in &records {
        let rs = runs_of(s.key.as_str());
        let title = s
            .active
            .as_ref()
            .and_then(|id| ctx.store.read_summary_file(id))
            .map(|x| truncate(&x.display_title(), 30))
            .unwrap_or_default();
        let runs_text = if rs.is_empty() {
            "-".to_string()
        } else {
            rs.iter()
                .map(|r| {
                    format!(
                        "{} {} {}",
                        r.pid,
                        r.state.as_str(),
                        panechat::time::ago(&r.since)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let runs_text = if color && !rs.is_empty() {
            format!("\x1b[32m{runs_text}\x1b[0m")
        } else {
            runs_text
        };
        text.push_str(&format!(
            "{:<36} {:<8} {:<6} {:<19} {}  {}\n",
            truncate(s.key.as_str(), 36),
            s.multiplexer,
            s.pane.as_deref().unwrap_or("-"),
            s.active.as_ref().map(|i| i.as_str()).unwrap_or("-"),
            runs_text,
            title
        ));
    }
    out(&text)?;
    Ok(0)
}
