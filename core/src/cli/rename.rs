//! `panechat rename`: set a conversation's title.

use panechat::store::mapping;
use panechat::title::sanitize_title;
use panechat::{Error, Result};

use super::{show, ui, Ctx};

/// `panechat rename [TARGET] TITLE`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// [TARGET] TITLE: the conversation (default: this session's active one) and its new title.
    #[arg(num_args = 1..=2, required = true, value_name = "[TARGET] TITLE")]
    words: Vec<String>,
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
        return Err(Error::Usage(
            "the title is empty (control characters are removed)".into(),
        ));
    }
    let id = show::resolve(ctx, target.as_deref())?;
    let cfg = ctx.config()?;
    let session = ctx.session()?;
    let mut guard = super::rm::lock_for_write(ctx, &id, cfg.lock_wait)?;
    guard.write_holder(&panechat::lock::Holder::this_process(&session, "rename"))?;
    let s = ctx.store.set_title(&id, &title, "user")?;
    drop(guard);
    let active_here =
        mapping::read(&ctx.paths, &session.key)?.and_then(|r| r.active) == Some(id.clone());
    if active_here {
        ui::publish_here(ctx, &session, &s);
    }
    ctx.note(&format!("renamed {id} to \"{title}\""));
    Ok(0)
}
