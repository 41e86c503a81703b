//! WezTerm: a pane's text (`wezterm cli get-text --pane-id N --start-line -N`) and its
//! neighbours (`wezterm cli get-pane-direction`).

use crate::adapters::exec::Exec;
use crate::adapters::pane::{
    digits_of, is_pane_id, no_neighbour, outside_error, Dir, PaneText, Which,
};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::session::Multiplexer;

/// Captures the text of the WezTerm pane `which` names, at most `lines` lines (see
/// [`crate::context::capture_pane`]).
pub fn capture(env: &Env, exec: &dyn Exec, which: &Which, lines: usize) -> Result<PaneText> {
    let own = env
        .get("WEZTERM_PANE")
        .ok_or_else(outside_error)?
        .to_string();
    let pane = match which {
        Which::Own => own.clone(),
        Which::Id(id) => digits_of(id).to_string(),
        Which::Last => {
            return Err(Error::Unavailable {
                message: "WezTerm's command line does not tell which pane was active before; name the pane by its id (`wezterm cli list`) or a direction (left, right, up, down)".into(),
            })
        }
        _ => {
            let dir = match which.direction().expect("a direction") {
                Dir::Left => "Left",
                Dir::Right => "Right",
                Dir::Up => "Up",
                Dir::Down => "Down",
            };
            let out = super::run(
        exec,
        vec![
                    "cli".into(),
                    "get-pane-direction".into(),
                    "--pane-id".into(),
                    own.clone(),
                    dir.into(),
                ],
                "find the neighbouring pane",
            )?;
            let id = out.trim().to_string();
            if !is_pane_id(&id) {
                return Err(no_neighbour(which, &own, "WezTerm"));
            }
            id
        }
    };
    let raw = super::run(
        exec,
        vec![
            "cli".into(),
            "get-text".into(),
            "--pane-id".into(),
            pane.clone(),
            "--start-line".into(),
            format!("-{lines}"),
        ],
        &format!("capture pane {pane}"),
    )?;
    Ok(PaneText {
        multiplexer: Multiplexer::Wezterm,
        own: pane == own,
        pane,
        raw,
    })
}
