//! `panechat lock-prompt --id ID`: the lock question, run inside a multiplexer popup over the
//! waiting pane. It names the conversation, the pane holding it and for how long, and offers to
//! go to that pane. Its exit status is the answer: 10 wait, 11 new, 12 fork, 130 cancel. With
//! `--token` (hidden) the answer is also given to the query's question of that token: Zellij
//! can cut off the `zellij run` that waits for the exit status while the question is still on
//! screen.

use panechat::adapters::tmux::Tmux;
use panechat::adapters::{self, LockAnswer};
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
    /// The token of the query's question to answer as well.
    #[arg(long, hide = true)]
    token: Option<String>,
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
    // Who asks (the popup has the waiting pane's id: a popup may open away from it), what is
    // busy, wrapped between words to the popup's width; then the short question.
    let what = format!("\"{}\"", ui::truncate(&super::pick::clean(&title), 80));
    let asker = ctx
        .session()
        .ok()
        .filter(|s| s.pane.is_some())
        .map(|s| panechat::title::sanitize_title(&s.pane_ref().place()));
    let what = match asker {
        Some(a) => format!("{a} asks: {what}"),
        None => what,
    };
    let (answer, go) = match ui::lock_question(&what, &holder_text, jump.as_deref()) {
        Ok(x) => x,
        Err(_) => (LockAnswer::Cancel, false),
    };
    if let Some(token) = &args.token {
        // (the query may be gone, or have its answer already: the exit status still tells)
        let _ = panechat::question::answer(&ctx.paths, token, answer);
    }
    if go {
        if let Some(p) = &jump {
            let _ = adapters::tmux::RealTmux.run(&[
                "switch-client".to_string(),
                "-t".into(),
                p.clone(),
            ]);
        }
    }
    Ok(answer.exit_code())
}
