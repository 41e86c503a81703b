//! `panechat status`: one short line for status bars. It reads three small files (the session's
//! mapping, the conversation's summary, the runs directory) and never loads the config, takes a
//! lock or writes anything.

use panechat::runs;
use panechat::store::mapping;
use panechat::Result;
use serde_json::json;

use super::{out, Ctx};

/// Output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `#` doubled, for tmux `#(...)`.
    Tmux,
    /// Plain text.
    Plain,
    /// One JSON object.
    Json,
}

/// `panechat status [--session KEY] [--format tmux|plain|json]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Whose status (default: this session's).
    #[arg(long, value_name = "KEY")]
    session: Option<String>,
    /// Output style.
    #[arg(long, value_enum, default_value = "plain")]
    format: Format,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let session = match &args.session {
        Some(k) => ctx.named_session(k)?,
        None => ctx.session()?,
    };
    let active = mapping::read(&ctx.paths, &session.key)
        .ok()
        .flatten()
        .and_then(|r| r.active);
    let summary = active
        .as_ref()
        .and_then(|id| ctx.store.read_summary_file(id));
    let mut state = "idle";
    if let Some(id) = &active {
        for r in runs::live_readonly(&ctx.paths).unwrap_or_default() {
            if r.conversation == id.as_str() {
                if r.session == session.key.as_str() {
                    state = r.state.as_str();
                    break;
                } else if r.state.holds_lock() {
                    state = "locked";
                }
            }
        }
    }
    let title = summary
        .as_ref()
        .map(|s| s.display_title())
        .unwrap_or_default();
    let marker = match state {
        "idle" => "",
        "streaming" | "generating-title" => " [running]",
        "waiting-for-lock" => " [waiting]",
        _ => " [locked]",
    };
    let line = match args.format {
        Format::Json => json!({
            "session": session.key,
            "conversation": active,
            "title": summary.as_ref().and_then(|s| s.title.clone()),
            "turns": summary.as_ref().map(|s| s.turns),
            "state": state,
        })
        .to_string(),
        Format::Plain if active.is_none() => String::new(),
        Format::Plain => format!("{title}{marker}"),
        Format::Tmux if active.is_none() => String::new(),
        Format::Tmux => panechat::adapters::tmux::format_escape(&format!("{title}{marker}")),
    };
    out(&format!("{line}\n"))?;
    Ok(0)
}
