//! `panechat doctor [--repair]`: check the store, and fix what can be fixed without losing
//! data. The checks are [`panechat::doctor`]'s; this prints their report.

use panechat::doctor::{self, Finding, Report};
use panechat::Result;

use super::ctx::Ctx;
use super::output::out;

/// `panechat doctor [--repair]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Fix what can be fixed (nothing is deleted: bad bytes are moved to side files).
    #[arg(long)]
    repair: bool,
}

/// Runs the command; the exit code is 0 when no problem is left.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let report = doctor::check(&ctx.store, args.repair)?;
    out(&render(&report))?;
    let lines = panechat::adapters::integrations::check(
        &ctx.env,
        &panechat::adapters::exec::RealExec,
        &ctx.paths.state,
    );
    out(&render_integrations(&lines))?;
    Ok(if report.left() == 0 { 0 } else { 1 })
}

/// The report as text: the store, one line per finding, then the verdict.
fn render(r: &Report) -> String {
    let mut text = match r.conversations {
        Some(n) => format!("store: {} ({n} conversations)\n", r.store.display()),
        None => format!("store: {}\n", r.store.display()),
    };
    for f in &r.findings {
        match f {
            Finding::Problem { text: t, fixed } => {
                text.push_str(if *fixed { "fixed: " } else { "problem: " });
                text.push_str(t);
            }
            Finding::Blocked => text.push_str(
                "the other checks need panechat's directories: fix what is listed above first",
            ),
            Finding::Note(t) => {
                text.push_str("note: ");
                text.push_str(t);
            }
        }
        text.push('\n');
    }
    let (problems, left) = (r.problems(), r.left());
    if problems == 0 {
        text.push_str("ok: no problems found\n");
    } else if left == 0 {
        text.push_str(&format!("ok: {} problem(s) fixed\n", r.fixed()));
    } else if r.repair {
        text.push_str(&format!(
            "{left} problem(s) remain that cannot be fixed automatically\n"
        ));
    } else {
        text.push_str(&format!(
            "{left} problem(s); `panechat doctor --repair` fixes what it can without losing data\n"
        ));
    }
    text
}

/// The integrations section: one line per multiplexer (or plugin file) found, `ok` or `fix`.
fn render_integrations(lines: &[panechat::adapters::integrations::Line]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut text = String::from("integrations:\n");
    for l in lines {
        text.push_str(&format!(
            "  {} {}: {}\n",
            if l.ok { "ok " } else { "fix" },
            l.what,
            l.text
        ));
    }
    text
}
