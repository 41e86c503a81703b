//! `panechat kill`: stop a session's live runs (SIGTERM, then SIGKILL after a grace period;
//! see [`panechat::runs::end`]).

use std::time::Duration;

use panechat::runs::{self, Run};
use panechat::schema::{KillResult, KilledRun};
use panechat::state::SCHEMA;
use panechat::store::conversation::ConversationId;
use panechat::{Error, Result};

use super::ctx::Ctx;
use super::output::out_json;

/// `panechat kill [SESSION] [--all]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The session key (default: this session); `pane:<id>` names a pane of this multiplexer.
    session: Option<String>,
    /// Every session's runs.
    #[arg(long, conflicts_with = "session")]
    all: bool,
    /// Seconds between SIGTERM and SIGKILL.
    #[arg(long, default_value = "3", value_name = "SECONDS")]
    grace: f64,
    /// Print what was ended as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let key = match (&args.session, args.all) {
        (_, true) => None,
        (Some(k), false) => Some(ctx.named_session(k)?.key),
        (None, false) => Some(ctx.session()?.key),
    };
    let (targets, strangers): (Vec<Run>, Vec<Run>) = runs::of_session(&ctx.paths, key.as_ref())?
        .into_iter()
        .partition(runs::is_our_panechat);
    for r in &strangers {
        ctx.note(&format!(
            "panechat: pid {} is not a panechat run of this user; left alone",
            r.pid
        ));
    }
    let total = targets.len();
    let mut result = KillResult {
        schema: SCHEMA,
        total,
        ended: 0,
        forced: 0,
        runs: targets.iter().map(killed).collect(),
    };
    if total == 0 {
        if args.json {
            out_json(&result)?;
        } else {
            ctx.note(&match &key {
                Some(k) => format!("no live runs in session {k}"),
                None => "no live runs".into(),
            });
        }
        return Ok(0);
    }
    let grace = Duration::from_secs_f64(args.grace.max(0.0));
    let done = runs::end(&ctx.paths, &targets, grace, &|level, msg| {
        ctx.log(level, msg)
    });
    publish_after(ctx, &targets);
    (result.ended, result.forced) = (done.ended, done.forced);
    if args.json {
        out_json(&result)?;
    } else {
        let forced = match done.forced {
            0 => String::new(),
            n => format!(" ({n} needed SIGKILL)"),
        };
        let s = if total == 1 { "" } else { "s" };
        ctx.note(&format!("ended {} of {total} run{s}{forced}", done.ended));
    }
    if done.ended < total {
        return Err(Error::RunsNotEnded {
            count: total - done.ended,
        });
    }
    Ok(0)
}

/// How `kill --json` names a run.
fn killed(r: &Run) -> KilledRun {
    KilledRun {
        pid: r.pid,
        session: r.pane.session.to_string(),
        conversation: r.conversation.clone(),
    }
}

/// Republishes the conversations the runs had, once each (the runs' own ends, or their
/// watchers after SIGKILL, do too; this makes sure the panes are idle again).
fn publish_after(ctx: &Ctx, runs: &[Run]) {
    let mut convs: Vec<&str> = runs.iter().map(|r| r.conversation.as_str()).collect();
    convs.sort_unstable();
    convs.dedup();
    for id in convs.into_iter().filter_map(ConversationId::from_trusted) {
        ctx.publish(&id);
    }
}
