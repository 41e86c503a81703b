//! `panechat rename`: set a conversation's title.

use panechat::schema::RenameResult;
use panechat::state::SCHEMA;
use panechat::title::sanitize_title;
use panechat::writes;
use panechat::{Error, Result};

use super::ctx::Ctx;
use super::output::out_json;
use super::show;

/// `panechat rename [TARGET] TITLE [--json]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// [TARGET] TITLE: the conversation (default: this session's active one) and its new title.
    #[arg(num_args = 1..=2, required = true, value_name = "[TARGET] TITLE")]
    words: Vec<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let (target, title) = match args.words.as_slice() {
        [t] => (None, t.clone()),
        [target, t] => (Some(target.clone()), t.clone()),
        _ => unreachable!("clap enforces 1..=2"),
    };
    let title = sanitize_title(&title);
    if title.is_empty() {
        return Err(Error::BadArgument {
            message: "the title is empty (control characters are removed)".into(),
        });
    }
    let id = show::resolve(ctx, target.as_deref())?;
    let cfg = ctx.config()?;
    let session = ctx.session()?;
    let stored = writes::rename(
        &ctx.store,
        &session,
        &id,
        &title,
        cfg.lock_wait,
        &|holder| super::rm::waiting(ctx, &id, holder),
    )?;
    ctx.warn_stale("the title", stored.stale.as_ref());
    // Every pane that shows it gets the new title, wherever the rename came from.
    ctx.publish(&id);
    if args.json {
        out_json(&RenameResult {
            schema: SCHEMA,
            id: id.clone(),
            title: title.clone(),
        })?;
    } else {
        ctx.note(&format!("renamed {id} to \"{title}\""));
    }
    Ok(0)
}
