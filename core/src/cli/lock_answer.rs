//! `panechat lock-answer TOKEN wait|new|fork|cancel`: answers a lock question asked through a
//! plugin (the WezTerm overlay), and the query's side of that channel ([`ask_plugin`]).

use clap::builder::TypedValueParser as _;
use std::io::{IsTerminal, Write};

use panechat::adapters::{wezterm, LockAnswer};
use panechat::question::{self, Question};
use panechat::Result;

use super::ctx::Ctx;

/// The user var that carries the question to the plugin.
pub const USER_VAR: &str = "panechat_question";

/// `panechat lock-answer TOKEN ANSWER`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The question's token (from the user var panechat_question).
    token: String,
    /// wait, new, fork or cancel.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(LockAnswer::NAMES)
        .map(|s| LockAnswer::from_name(&s).expect("one of the names")))]
    answer: LockAnswer,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    question::answer(&ctx.paths, &args.token, args.answer)?;
    Ok(0)
}

/// Writes the user var to this process's terminal (`/dev/tty`, else stderr when it is one).
fn set_var(value: &str) -> bool {
    let bytes = wezterm::set_user_var(USER_VAR, value, false);
    if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty") {
        return tty.write_all(&bytes).and_then(|_| tty.flush()).is_ok();
    }
    let mut err = std::io::stderr();
    err.is_terminal() && err.write_all(&bytes).and_then(|_| err.flush()).is_ok()
}

/// Records a lock question with a fresh token, to be answered by `panechat lock-answer` or
/// `panechat lock-prompt --token`; `None` (logged) when it cannot be recorded.
pub fn record(
    ctx: &Ctx,
    conversation: &str,
    title: &str,
    holder: &str,
    pane: Option<&str>,
) -> Option<question::Pending> {
    Question::new(conversation, title, holder, pane)
        .and_then(|q| q.ask(&ctx.paths))
        .map_err(|e| ctx.debug(&format!("could not record the lock question: {e}")))
        .ok()
}

/// Asks the lock question through the WezTerm plugin: records a question, sets the pane's user
/// var `panechat_question`, and waits `lock.prompt_timeout` for `panechat lock-answer`.
/// `None` when it could not be asked or nobody answered in time (the caller asks inline).
pub fn ask_plugin(
    ctx: &Ctx,
    timeout: std::time::Duration,
    conversation: &str,
    title: &str,
    holder: &str,
    keep_going: impl FnMut() -> bool,
) -> Option<LockAnswer> {
    let pending = record(
        ctx,
        conversation,
        title,
        holder,
        ctx.env.get("WEZTERM_PANE"),
    )?;
    if !set_var(&pending.question().to_json()) {
        ctx.debug("no terminal to signal the WezTerm plugin; asking here");
        return None;
    }
    let q = pending.question();
    ctx.note(&format!(
        "panechat: \"{}\" is locked by {}; answer in WezTerm's overlay (asked here after {})",
        q.title,
        q.holder,
        humantime::format_duration(timeout)
    ));
    let answer = pending.wait(timeout, keep_going);
    set_var("");
    answer
}
