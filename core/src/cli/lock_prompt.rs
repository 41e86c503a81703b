//! `panechat lock-prompt --id ID`: the lock question, run inside a multiplexer popup over the
//! waiting pane. It names the conversation, the pane holding it and for how long, and offers to
//! go to that pane. Its exit status is the answer: 10 wait, 11 new, 12 fork, 130 cancel.

use console::Term;
use dialoguer::theme::ColorfulTheme;
use dialoguer::Select;
use panechat::adapters::LockAnswer;
use panechat::lock;
use panechat::session::Multiplexer;
use panechat::store::conversation::ConversationId;
use panechat::Result;

use super::{ui, Ctx};

/// `panechat lock-prompt --id ID`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The locked conversation.
    #[arg(long)]
    id: String,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let id = ConversationId::parse(&args.id)?;
    let title = ctx
        .store
        .read_summary_file(&id)
        .map(|s| s.display_title())
        .unwrap_or_else(|| id.to_string());
    let holder = lock::read_holder(&ctx.store.lock_path(&id));
    let holder_text = holder
        .as_ref()
        .map(|h| {
            format!(
                "held by {} for {}",
                h.pane.place(),
                panechat::time::ago(&h.since)
            )
        })
        .unwrap_or_else(|| "held by another process".into());
    // A holder in a pane of this tmux server can be visited (the popup has no pane of its own:
    // compare the server part of the keys).
    let server_of = |key: &str| key.rsplit_once(':').map(|(head, _)| head.to_string());
    let this_server = panechat::session::key_for_pane(&ctx.env, "%0")
        .ok()
        .flatten()
        .and_then(|s| server_of(s.key.as_str()));
    let jump = holder.as_ref().and_then(|h| {
        let same = h.pane.multiplexer == Multiplexer::Tmux
            && this_server.is_some()
            && server_of(h.pane.session.as_str()) == this_server;
        h.pane.pane.clone().filter(|_| same)
    });
    let width = Term::stderr()
        .size_checked()
        .map_or(72, |(_, w)| w as usize);
    // What is busy, wrapped between words to the popup's width; then the short question.
    let about = format!(
        "\"{}\" is in use ({holder_text}).",
        ui::truncate(&super::pick::clean(&title), 80)
    );
    let term = Term::stderr();
    for line in ui::wrap(&about, width.saturating_sub(1)) {
        let _ = term.write_line(&line);
    }
    let prompt = "What now?";
    let mut items: Vec<(String, LockAnswer, bool)> =
        vec![("Keep waiting".into(), LockAnswer::Wait, false)];
    if let Some(p) = &jump {
        items.push((
            format!("Keep waiting, and go to pane {p}"),
            LockAnswer::Wait,
            true,
        ));
    }
    items.push(("Start a new conversation".into(), LockAnswer::New, false));
    items.push((
        "Fork it and continue in the copy".into(),
        LockAnswer::Fork,
        false,
    ));
    items.push(("Cancel".into(), LockAnswer::Cancel, false));
    let labels: Vec<&str> = items.iter().map(|(l, _, _)| l.as_str()).collect();
    let choice = Select::with_theme(&ColorfulTheme::default())
        .with_prompt(prompt)
        .items(&labels)
        .default(0)
        .interact_on_opt(&Term::stderr());
    let Ok(Some(i)) = choice else {
        return Ok(LockAnswer::Cancel.exit_code());
    };
    let (_, answer, go) = &items[i];
    if *go {
        if let Some(p) = &jump {
            let _ = std::process::Command::new("tmux")
                .args(["switch-client", "-t", p])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
    Ok(answer.exit_code())
}
