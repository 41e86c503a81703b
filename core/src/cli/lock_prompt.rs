//! `panechat lock-prompt --id ID`: the lock question, run inside a multiplexer popup over the
//! waiting pane. It names the conversation, the pane holding it and for how long, and offers to
//! go to that pane. Its exit status is the answer: 10 wait, 11 new, 12 fork, 130 cancel. With
//! `--token` (hidden) the answer is also given to the query's question of that token: Zellij
//! can cut off the `zellij run` that waits for the exit status while the question is still on
//! screen.

use panechat::adapters::{self, LockAnswer};
use panechat::lock;
use panechat::session::Multiplexer;
use panechat::store::conversation::ConversationId;
use panechat::Result;

use super::ctx::Ctx;
use super::ui;

/// `panechat lock-prompt --id ID`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The locked conversation.
    #[arg(long)]
    id: String,
    /// The token of the query's question to answer as well.
    #[arg(long, hide = true)]
    token: Option<String>,
    /// Where the waiting query runs (`zellij pane #4`), when the popup has a pane of its own.
    #[arg(long, hide = true)]
    asker: Option<String>,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let id = ConversationId::parse(&args.id)?;
    let title = ctx
        .store
        .read_summary_file(&id)
        .map(|s| s.display_title())
        .unwrap_or_else(|| id.to_string());
    if let Some(token) = &args.token {
        // The question goes when its query stops waiting for it (the lock was freed, the query
        // ended or was answered elsewhere): nothing is left on screen to answer.
        if !panechat::question::is_waiting(&ctx.paths, token) {
            return Ok(LockAnswer::Wait.exit_code());
        }
        leave_when_unasked(ctx, token);
    }
    let path = ctx.store.lock_path(&id);
    let holder = lock::read_holder(&path);
    if holder.is_none() && matches!(lock::try_acquire(&path), Ok(Some(_))) {
        // Freed before the question showed (the guard is dropped at once): nothing to ask,
        // the query goes on.
        return Ok(LockAnswer::Wait.exit_code());
    }
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
    let jump = holder.as_ref().and_then(|h| pane_to_visit(ctx, h));
    let what = question_line(ctx, &args, &title);
    if let Some(token) = &args.token {
        panechat::question::mark_shown(&ctx.paths, token);
    }
    let (answer, go) = match ui::lock_question(&what, &holder_text, jump.as_deref()) {
        // A terminal that went away (its pane closed: Ctrl p x in Zellij) reads as the menu's
        // default: closing the question cancels.
        Ok(_) if hung_up() => (LockAnswer::Cancel, false),
        Ok(x) => x,
        Err(_) => (LockAnswer::Cancel, false),
    };
    if let Some(token) = &args.token {
        // (the query may be gone, or have its answer already: the exit status still tells)
        let _ = panechat::question::answer(&ctx.paths, token, answer);
    }
    if go {
        if let Some(p) = &jump {
            let _ = adapters::tmux::actions::switch_to(&adapters::exec::RealExec, None, p);
        }
    }
    Ok(answer.exit_code())
}

/// Ends this process (answering "wait") as soon as the query of `token` no longer waits for
/// the answer.
fn leave_when_unasked(ctx: &Ctx, token: &str) {
    let (paths, token) = (ctx.paths.clone(), token.to_string());
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        if !panechat::question::is_waiting(&paths, &token) {
            std::process::exit(LockAnswer::Wait.exit_code());
        }
    });
}

/// The holder's pane, when it is in this tmux server and so can be visited (the popup has no
/// pane of its own: the server parts of the keys are compared).
fn pane_to_visit(ctx: &Ctx, h: &lock::Holder) -> Option<String> {
    let server_of = |key: &str| key.rsplit_once(':').map(|(head, _)| head.to_string());
    let this_server = panechat::session::key_for_pane(&ctx.env, "%0")
        .ok()
        .flatten()
        .and_then(|s| server_of(s.key.as_str()));
    let same = h.pane.multiplexer == Multiplexer::Tmux
        && this_server.is_some()
        && server_of(h.pane.session.as_str()) == this_server;
    h.pane.pane.clone().filter(|_| same)
}

/// Who asks (the popup has the waiting pane's id: a popup may open away from it) and what is
/// busy, wrapped between words to the popup's width by the question.
fn question_line(ctx: &mut Ctx, args: &Args, title: &str) -> String {
    let what = format!(
        "\"{}\"",
        ui::truncate(&panechat_vocab::text::inert(title), 80)
    );
    let asker = match &args.asker {
        Some(a) => Some(panechat::title::sanitize_title(a)),
        None => ctx
            .session()
            .ok()
            .filter(|s| s.pane.is_some())
            .map(|s| panechat::title::sanitize_title(&s.pane_ref().place())),
    };
    match asker {
        Some(a) => format!("{a} asks: {what}"),
        None => what,
    }
}

/// Whether the terminal the question is drawn on (stderr) has hung up.
fn hung_up() -> bool {
    let mut fds = libc::pollfd {
        fd: 2,
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no timeout.
    let n = unsafe { libc::poll(&mut fds, 1, 0) };
    n > 0 && fds.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}
