//! `panechat refresh`: publish the state of every known pane again (after a multiplexer
//! restart, or when a plugin loads), or of one session.
//!
//! With `--after-pid PID --start S` (hidden; started by every query) it is a run's watcher: it
//! blocks until its standard input, a pipe only the query writes to, reaches end of file, i.e.
//! until the query's process is gone however it ended. If the query's run record is still
//! there (SIGKILL), it removes it and republishes the panes that showed the run.

use std::io::Read;

use panechat::runs;
use panechat::store::conversation::ConversationId;
use panechat::Result;

use super::ctx::Ctx;
use super::output::out;

/// `panechat refresh [--session KEY]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only this session: a key from `panechat sessions`, or `pane:<id>` of this multiplexer.
    #[arg(long, value_name = "KEY")]
    session: Option<String>,
    /// Watch the run of this process (used by queries).
    #[arg(long, value_name = "PID", hide = true, requires = "start")]
    after_pid: Option<u32>,
    /// Its start time (with --after-pid).
    #[arg(long, value_name = "TICKS", hide = true)]
    start: Option<u64>,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    if let (Some(pid), Some(start)) = (args.after_pid, args.start) {
        return watch(ctx, pid, start);
    }
    match &args.session {
        Some(k) => {
            let s = ctx.named_session(k)?;
            ctx.publish_sessions(std::slice::from_ref(&s.key));
        }
        None => {
            let _ = ctx.session();
            let n = ctx.publisher().everything()?;
            ctx.publisher()
                .tmux_strays(&panechat::adapters::exec::RealExec)?;
            ctx.note(&format!("republished {n} pane(s)"));
        }
    }
    out("")?;
    Ok(0)
}

/// Waits for the run's process to end (its pipe to reach end of file), then republishes what
/// it showed if it left its record behind.
fn watch(ctx: &mut Ctx, pid: u32, start: u64) -> Result<i32> {
    let before = runs::read(&ctx.paths, pid, start);
    // Blocks until every writer of the pipe is gone: the query has exited or was killed.
    let mut sink = [0u8; 64];
    let mut stdin = std::io::stdin().lock();
    while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    let run = runs::reap(&ctx.paths, pid, start, before);
    if let Some(run) = run {
        ctx.log(
            "INFO",
            &format!(
                "run pid {pid} ended without cleaning up (killed?); republishing {}",
                run.pane.place()
            ),
        );
        // The run's own pane too: a run that created its conversation was the only thing
        // pointing that pane at it (no mapping does until its turn is stored).
        let own = std::slice::from_ref(&run.pane.session);
        let done = match ConversationId::from_trusted(&run.conversation) {
            Some(id) => ctx.publisher().conversation_and(&id, own),
            None => ctx.publisher().sessions(own),
        };
        if let Err(e) = done {
            ctx.debug(&format!("republishing after run {pid}: {e}"));
        }
    }
    Ok(0)
}
