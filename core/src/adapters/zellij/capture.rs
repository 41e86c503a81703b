//! Zellij: a pane's text (`zellij action dump-screen --pane-id terminal_N --full`, with the
//! blanks of wrapped rows put back from `zellij subscribe`) and its neighbours from the geometry
//! `zellij action list-panes --json` reports (the focus does not move).

use std::time::Duration;

use serde::Deserialize;

use crate::adapters::exec::Exec;
use crate::adapters::pane::{
    digits_of, neighbour, no_neighbour, outside_error, PaneText, Rect, Which,
};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::session::Multiplexer;

/// How long a capture may take.
const CAPTURE_DEADLINE: Duration = Duration::from_secs(30);

/// Parses `zellij action list-panes --json --all`: the visible tiled terminal panes of the tab
/// that holds terminal pane `own`.
fn parse_zellij_panes(out: &str, own: &str) -> Result<Vec<Rect>> {
    let v: serde_json::Value = serde_json::from_str(out).map_err(|e| Error::ToolFailed {
        message: format!("cannot read `zellij action list-panes --json`: {e}"),
        source: Some(Box::new(e)),
    })?;
    let items = v.as_array().cloned().unwrap_or_default();
    let field = |p: &serde_json::Value, k: &str| p.get(k).and_then(|x| x.as_i64());
    let is_term = |p: &serde_json::Value| {
        !p.get("is_plugin")
            .and_then(|x| x.as_bool())
            .unwrap_or(false)
    };
    let tab_of = |p: &serde_json::Value| p.get("tab_id").and_then(|x| x.as_i64());
    let own_tab = items
        .iter()
        .find(|p| is_term(p) && field(p, "id").map(|i| i.to_string()).as_deref() == Some(own))
        .and_then(tab_of);
    Ok(items
        .iter()
        .filter(|p| is_term(p) && tab_of(p) == own_tab)
        .filter(|p| {
            !p.get("is_floating")
                .and_then(|x| x.as_bool())
                .unwrap_or(false)
        })
        .filter(|p| {
            !p.get("is_suppressed")
                .and_then(|x| x.as_bool())
                .unwrap_or(false)
        })
        .filter_map(|p| {
            let x = field(p, "pane_x")?;
            let y = field(p, "pane_y")?;
            Some(Rect {
                id: field(p, "id")?.to_string(),
                x0: x,
                y0: y,
                x1: x + field(p, "pane_columns")?,
                y1: y + field(p, "pane_rows")?,
                last: false,
            })
        })
        .collect())
}

/// The rows of a pane (scrollback, then viewport) from the first `zellij subscribe --format
/// json` event.
pub(crate) fn zellij_rows(line: &str) -> Option<Vec<String>> {
    #[derive(Deserialize)]
    struct Update {
        #[serde(default)]
        scrollback: Option<Vec<String>>,
        viewport: Vec<String>,
    }
    let u: Update = serde_json::from_str(line).ok()?;
    let mut rows = u.scrollback.unwrap_or_default();
    rows.extend(u.viewport);
    Some(rows)
}

/// Puts back into `dump` (Zellij's dump-screen: one line per logical line, each row's trailing
/// blanks dropped) the blanks that ended a row where its line wrapped, taken from `rows` (the
/// same pane's rows as stored, blanks kept). `None` when the two do not describe the same text
/// (the pane changed in between): the dump is then used as it is.
pub(crate) fn rejoin_wrapped(dump: &str, rows: &[String]) -> Option<String> {
    // (the CLI ends what it prints with a newline of its own)
    let (body, end) = match dump.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (dump, ""),
    };
    let mut rows = rows.iter();
    let mut out = String::with_capacity(dump.len());
    for (n, line) in body.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let mut rest = line;
        loop {
            let row = rows.next()?;
            let seg = row.trim_end_matches(' ');
            rest = rest.strip_prefix(seg)?;
            if rest.is_empty() {
                out.push_str(seg);
                break;
            }
            // the line goes on in the next row: this row was full, blanks included
            out.push_str(row);
        }
    }
    // rows left over are blank rows below the last line the dump printed
    rows.all(|r| r.trim_end_matches(' ').is_empty())
        .then(|| out + end)
}

/// Captures the text of the Zellij pane `which` names (see
/// [`crate::context::capture_pane`]; Zellij dumps the whole scrollback, cut later).
pub fn capture(env: &Env, exec: &dyn Exec, which: &Which, _lines: usize) -> Result<PaneText> {
    let own = env
        .get("ZELLIJ_PANE_ID")
        .ok_or_else(outside_error)?
        .to_string();
    let id = match which {
        Which::Own => own.clone(),
        Which::Id(id) => digits_of(id).to_string(),
        Which::Last => {
            return Err(Error::Unavailable {
                message: "Zellij does not tell which pane was active before; name the pane by its id (`zellij action list-panes`) or a direction (left, right, up, down)".into(),
            })
        }
        _ => {
            let listing = super::read(
        exec,
        &[
                    "action".into(),
                    "list-panes".into(),
                    "--json".into(),
                    "--all".into(),
                ],
                "list the panes of this session",
                CAPTURE_DEADLINE,
            )?;
            let panes = parse_zellij_panes(&listing, &own)?;
            let me = panes.iter().find(|p| p.id == own).ok_or_else(|| {
                Error::NotFound(format!("Zellij does not list this pane (terminal_{own}) among the tiled panes"))
            })?;
            neighbour(me, &panes, which.direction().expect("a direction"))
                .ok_or_else(|| no_neighbour(which, &format!("terminal_{own}"), "Zellij"))?
                .id
                .clone()
        }
    };
    let pane = format!("terminal_{id}");
    let raw = super::read(
        exec,
        &[
            "action".into(),
            "dump-screen".into(),
            "--pane-id".into(),
            pane.clone(),
            "--full".into(),
        ],
        &format!("capture pane {pane}"),
        CAPTURE_DEADLINE,
    )?;
    // dump-screen joins a line that wrapped but drops the blanks at the end of each row, so
    // "in this scope" wrapped after "this " reads "in thisscope". The rows as the pane holds
    // them (`zellij subscribe`, Zellij 0.45+) put those blanks back; without them the dump is
    // used as it is.
    let rows = exec
        .first_line(
            &super::argv(&[
                "subscribe".into(),
                "--pane-id".into(),
                pane.clone(),
                "--scrollback".into(),
                "--format".into(),
                "json".into(),
            ]),
            Duration::from_secs(2),
        )
        .ok()
        .flatten()
        .and_then(|line| zellij_rows(&line));
    let raw = rows
        .and_then(|rows| rejoin_wrapped(&raw, &rows))
        .unwrap_or(raw);
    Ok(PaneText {
        multiplexer: Multiplexer::Zellij,
        own: id == own,
        pane,
        raw,
    })
}
