//! The lock question in a Zellij floating pane, watched while it is up.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::lock::{WaitOutcome, Waiter};

use super::types::{Asked, LockAnswer};

/// The lock question in a Zellij floating pane (`lock-prompt --token`, see
/// [`crate::adapters::zellij::spawn_popup`]), watched until it ends: its answer (from the exit status
/// of `zellij run`, or through the question channel when Zellij cut `zellij run` off while the
/// pane stayed), the lock freed (the pane is closed and the query goes on), or the pane closed
/// by the user without an answer, which cancels. `None`: it could not be shown (no client
/// attached, or Zellij never ran it), so the caller asks in the pane itself.
pub fn zellij_question(
    argv: &[String],
    pass: &[(String, String)],
    name: &str,
    pane: Option<&str>,
    pending: &crate::question::Pending,
    waiter: &Waiter,
    interrupted: &dyn Fn() -> Option<Error>,
) -> Result<Option<Asked>> {
    use crate::adapters::zellij;
    let token = pending.question().token.clone();
    let answered = || pending.wait(Duration::ZERO, || false);
    let mut attempts = 0;
    'show: loop {
        attempts += 1;
        let Some(mut child) = zellij::spawn_popup(argv, pass, name, pane) else {
            return Ok(None);
        };
        let end = |child: &mut std::process::Child| {
            let _ = child.kill();
            let _ = child.wait();
        };
        let started = Instant::now();
        // (the most copies of the question seen on screen at once: a `zellij run` that Zellij
        // cut off can still open its pane later, next to the one shown again)
        let (mut seen, mut exited, mut unanswered) = (0, false, 0);
        let mut look = Instant::now() + Duration::from_millis(300);
        loop {
            if let Some(e) = interrupted() {
                end(&mut child);
                zellij::close_panes_running(&token);
                return Err(e);
            }
            if let WaitOutcome::Acquired(g) = waiter.wait(Some(Duration::from_millis(100)))? {
                end(&mut child);
                zellij::close_panes_running(&token);
                return Ok(Some(Asked::Acquired(g)));
            }
            if let Some(a) = answered() {
                end(&mut child);
                zellij::close_panes_running(&token);
                return Ok(Some(Asked::Answer(a)));
            }
            if !exited {
                if let Ok(Some(status)) = child.try_wait() {
                    exited = true;
                    let code = status.code();
                    if let Some(a) = code.and_then(LockAnswer::from_exit_code) {
                        zellij::close_panes_running(&token);
                        return Ok(Some(Asked::Answer(a)));
                    }
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    if code == Some(1) && zellij::turned_away(&err) && attempts < zellij::ATTEMPTS {
                        // Nothing ran: the session's check failed before the pane was asked for.
                        zellij::pause(attempts);
                        continue 'show;
                    }
                    // (cut off by Zellij, or ended otherwise: the pane tells)
                    look = Instant::now();
                }
            }
            if Instant::now() < look {
                continue;
            }
            look = Instant::now() + Duration::from_millis(500);
            match zellij::panes_running(&token) {
                // (A copy closed while another is still up, a late duplicate closed by the
                // user: the question is still asked.)
                Some(n) if n > 0 => (seen, unanswered) = (n, 0),
                Some(_) => {
                    if let Some(a) = answered() {
                        end(&mut child);
                        zellij::close_panes_running(&token);
                        return Ok(Some(Asked::Answer(a)));
                    }
                    if seen > 0 || pending.shown() {
                        // Every copy closed by the user (Ctrl p x) without an answer: cancel.
                        end(&mut child);
                        return Ok(Some(Asked::Answer(LockAnswer::Cancel)));
                    }
                    // (the pane of a `zellij run` that Zellij cut off can take seconds to show)
                    if exited && started.elapsed() > Duration::from_secs(10) {
                        // Never shown (cut off before its pane was asked for): shown again.
                        if attempts < zellij::ATTEMPTS {
                            continue 'show;
                        }
                        return Ok(None);
                    }
                }
                None => {
                    unanswered += 1;
                    if unanswered == 10 {
                        end(&mut child);
                        zellij::close_panes_running(&token);
                        return Ok(None);
                    }
                }
            }
        }
    }
}
