//! `panechat kill`: stop a session's live runs (SIGTERM, then SIGKILL after a grace period).

use std::time::{Duration, Instant};

use panechat::runs::{self, Run};
use panechat::session::process_alive;
use panechat::{Error, Result};

use panechat::schema::{KillResult, KilledRun};
use panechat::state::SCHEMA;

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

fn is_our_panechat(r: &Run) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(format!("/proc/{}", r.pid)) else {
        return false;
    };
    // SAFETY: getuid has no preconditions.
    if meta.uid() != unsafe { libc::getuid() } {
        return false;
    }
    let Ok(exe) = std::fs::read_link(format!("/proc/{}/exe", r.pid)) else {
        return false;
    };
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name == "panechat" || name.starts_with("panechat ") || name.starts_with("panechat-")
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let key = if args.all {
        None
    } else {
        Some(match &args.session {
            Some(k) => ctx.named_session(k)?.key,
            None => ctx.session()?.key,
        })
    };
    let me = std::process::id();
    let targets: Vec<Run> = runs::live(&ctx.paths)?
        .into_iter()
        .filter(|r| key.as_ref().is_none_or(|k| r.pane.session == *k) && r.pid != me)
        .filter(|r| {
            let ok = is_our_panechat(r);
            if !ok {
                ctx.note(&format!(
                    "panechat: pid {} is not a panechat run of this user; left alone",
                    r.pid
                ));
            }
            ok
        })
        .collect();
    let total = targets.len();
    let mut result = KillResult {
        schema: SCHEMA,
        total,
        ended: 0,
        forced: 0,
        runs: targets
            .iter()
            .map(|r| KilledRun {
                pid: r.pid,
                session: r.pane.session.to_string(),
                conversation: r.conversation.clone(),
            })
            .collect(),
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
    for r in &targets {
        ctx.log(
            "INFO",
            &format!(
                "kill: SIGTERM to run pid {} (session {}, conversation {})",
                r.pid, r.pane.session, r.conversation
            ),
        );
        // SAFETY: signalling a pid verified above to be our own panechat process.
        unsafe {
            libc::kill(r.pid as i32, libc::SIGTERM);
        }
    }
    let grace = Duration::from_secs_f64(args.grace.max(0.0));
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && targets.iter().any(|r| process_alive(r.pid, r.start)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut forced = 0;
    for r in &targets {
        if process_alive(r.pid, r.start) {
            ctx.log(
                "WARN",
                &format!(
                    "kill: run pid {} ignored SIGTERM for {grace:?}; SIGKILL",
                    r.pid
                ),
            );
            // SAFETY: as above.
            unsafe {
                libc::kill(r.pid as i32, libc::SIGKILL);
            }
            forced += 1;
        }
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(2)
        && targets.iter().any(|r| process_alive(r.pid, r.start))
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let ended = targets
        .iter()
        .filter(|r| !process_alive(r.pid, r.start))
        .count();
    // The runs' own ends (or their watchers, after SIGKILL) republish; this makes sure the
    // panes are idle again even if neither could.
    for r in targets.iter().filter(|r| !process_alive(r.pid, r.start)) {
        let _ = std::fs::remove_file(panechat::runs::run_file(&ctx.paths, r.pid, r.start));
    }
    let mut convs: Vec<&str> = targets.iter().map(|r| r.conversation.as_str()).collect();
    convs.sort_unstable();
    convs.dedup();
    for c in convs {
        if let Some(id) = panechat::store::conversation::ConversationId::from_trusted(c) {
            ctx.publish(&id);
        }
    }
    result.ended = ended;
    result.forced = forced;
    if args.json {
        out_json(&result)?;
    }
    let forced_text = if forced > 0 {
        format!(" ({forced} needed SIGKILL)")
    } else {
        String::new()
    };
    if !args.json {
        ctx.note(&format!(
            "ended {ended} of {total} run{}{forced_text}",
            if total == 1 { "" } else { "s" }
        ));
    }
    if ended < total {
        return Err(Error::RunsNotEnded {
            count: total - ended,
        });
    }
    Ok(0)
}
