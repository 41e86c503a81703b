//! `panechat fork`: copy a conversation (all turns or the last N) and print the new id.

use std::os::unix::process::CommandExt;

use panechat::schema::ForkResult;
use panechat::state::SCHEMA;
use panechat::{Error, Result};

use super::ctx::Ctx;
use super::output::{out, out_json};
use super::show;

/// `panechat fork [TARGET] [--last N] [--session KEY] [--exec-shell] [--json]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// last, prev, pick, or an id or unique prefix (default: this session's active one; with
    /// --exec-shell, `$PANECHAT_FORK_FROM` first).
    target: Option<String>,
    /// Keep only the last N turns.
    #[arg(long, value_name = "N")]
    last: Option<usize>,
    /// Make the fork the active conversation of this session: a key from `panechat sessions`,
    /// or `pane:<id>` for a pane of the current multiplexer (e.g. `pane:%7`).
    #[arg(long, value_name = "KEY", conflicts_with = "exec_shell")]
    session: Option<String>,
    /// The command of a new split: make the fork this pane's conversation, then replace this
    /// process with `$SHELL` (which then starts already mapped). Errors are shown and the
    /// shell starts anyway.
    #[arg(long)]
    exec_shell: bool,
    /// Print the new conversation as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    if args.exec_shell {
        return exec_shell(ctx, &args);
    }
    let src = show::resolve(ctx, args.target.as_deref())?;
    // The session is named before anything is made, so a bad name leaves no orphan fork.
    let target = args
        .session
        .as_deref()
        .map(|raw| ctx.named_session(raw))
        .transpose()?;
    let forked = panechat::query::fork(&ctx.store, &ctx.paths, &src, args.last, target.as_ref())?;
    ctx.warn_stale("the fork", forked.stale.as_ref());
    let s = forked.summary;
    if let (Some(target), Some(e)) = (&target, forked.not_activated) {
        // The fork is stored: say so, with its id, and how to show it.
        out(&format!("{}\n", s.id))?;
        return Err(Error::Unfinished {
            message: format!(
                "fork {} is stored, but it could not be made {}'s conversation: {e}; run `panechat use {}` there",
                s.id,
                target.key,
                s.id.short()
            ),
            source: Box::new(e),
        });
    }
    if target.is_some() {
        ctx.publish(&s.id);
    }
    if args.json {
        out_json(&ForkResult {
            schema: SCHEMA,
            id: s.id.clone(),
            parent: s.parent.clone(),
            title: s.title.clone(),
            turns: s.turns,
            session: target.map(|t| t.key.to_string()),
        })?;
    } else {
        out(&format!("{}\n", s.id))?;
    }
    Ok(0)
}

/// `--exec-shell`: forks into this pane, then becomes `$SHELL` (errors are shown and the shell
/// starts anyway).
fn exec_shell(ctx: &mut Ctx, args: &Args) -> Result<i32> {
    let shell = ctx
        .env
        .get_os("SHELL")
        .filter(|s| !s.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/bin/sh".into());
    match fork_here(ctx, args) {
        Ok(id) => ctx.note(&format!("panechat: this pane continues fork {id}")),
        Err(e) => {
            super::output::report(&e);
        }
    }
    // The pane's new state may still be on its way to the Zellij plugin, from a process
    // that could need sending again (see `adapters::zellij::publish_payload`).
    panechat::adapters::zellij::settle(std::time::Duration::from_millis(500));
    // A login-less interactive shell, named like the shell (argv[0]).
    let err = std::process::Command::new(&shell).exec();
    Err(Error::Spawn {
        message: format!(
            "cannot start the shell {}: {err}; set $SHELL",
            shell.display()
        ),
        source: Some(err),
    })
}

/// Forks the source into this process's own session (for `--exec-shell`).
fn fork_here(ctx: &mut Ctx, args: &Args) -> Result<panechat::store::conversation::ConversationId> {
    let from_env = ctx
        .env
        .get("PANECHAT_FORK_FROM")
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    let target = args.target.clone().or(from_env);
    let src = show::resolve(ctx, target.as_deref())?;
    let here = ctx.session()?;
    let forked = panechat::query::fork(&ctx.store, &ctx.paths, &src, args.last, Some(&here))?;
    ctx.warn_stale("the fork", forked.stale.as_ref());
    let s = forked.summary;
    if let Some(e) = forked.not_activated {
        return Err(Error::Unfinished {
            message: format!(
                "fork {} is stored, but this pane could not be switched to it: {e}; run `panechat use {}`",
                s.id,
                s.id.short()
            ),
            source: Box::new(e),
        });
    }
    ctx.publish(&s.id);
    Ok(s.id)
}
