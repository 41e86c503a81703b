//! `panechat lock-prompt --id ID`: the lock question, run inside a multiplexer popup. Its exit
//! status is the answer: 10 wait, 11 new, 12 fork, 130 cancel.

use panechat::lock;
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
    let holder = lock::read_holder(&ctx.store.lock_path(&id))
        .map(|h| h.describe())
        .unwrap_or_else(|| "another process".into());
    let answer = ui::lock_question(
        &format!("conversation \"{}\"", ui::truncate(&title, 40)),
        &holder,
    )?;
    Ok(answer.exit_code())
}
