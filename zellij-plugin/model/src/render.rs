//! Drawing the plugin's pane: lines of exactly the pane's width. Text from outside (titles,
//! ids, tab names) is made inert before it gets here; the only escape sequences in the output
//! are the plugin's own (bold, reverse video, dim).

use crate::state::{Row, State};
use crate::text::{fit, fit_right, inert, width, wrap};

const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const REVERSE: &str = "\x1b[7m";
const RESET: &str = "\x1b[0m";

/// The keys line at the bottom of the picker.
pub const KEYS: &str = "Enter focus · Ctrl f fork · Ctrl e new · Ctrl u use here · Esc close";

/// The lines to draw in a pane of `rows` × `cols` at Unix time `now`.
pub fn render(state: &State, rows: usize, cols: usize, now: i64) -> Vec<String> {
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(rows);
    if let Some(e) = &state.cfg_error {
        out.push(fit(&format!("panechat: {}", inert(e)), cols));
    }
    if state.picker.open {
        picker(state, rows.saturating_sub(out.len()), cols, now, &mut out);
    } else {
        let with = state.convs.len();
        out.push(fit(
            &format!(
                "panechat: {} panes, {with} with a conversation",
                state.panes.len()
            ),
            cols,
        ));
        if let Some(s) = &state.status {
            out.extend(wrap(s, cols).iter().map(|l| fit(l, cols)));
        }
        if state.granted == Some(true) {
            // (seen when another client opened its picker in this tab, or the plugin's pane
            // was opened by hand)
            out.push(fit(
                "no picker of yours is open here · Esc hides this pane for every client",
                cols,
            ));
        }
    }
    out.truncate(rows);
    out
}

fn state_label(r: &Row<'_>) -> String {
    let Some(c) = r.conv else {
        return String::new();
    };
    let mut s = match c.activity.as_str() {
        "idle" | "" => String::new(),
        other => format!("● {other}"),
    };
    if let Some(h) = &c.held_by {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str("locked by ");
        s.push_str(h);
    }
    s
}

fn picker(state: &State, rows: usize, cols: usize, now: i64, out: &mut Vec<String>) {
    let all = state.panes.len();
    let shown = state.filtered();
    let header = format!(
        "panechat · {} of {all} panes · filter: {}▏",
        shown.len(),
        state.picker.filter
    );
    out.push(format!("{BOLD}{}{RESET}", fit(&header, cols)));
    // The problem and the keys are wrapped, never cut: they say what to do.
    let status = state
        .status
        .as_deref()
        .map(|s| wrap(s, cols))
        .unwrap_or_default();
    let keys = wrap(KEYS, cols);
    let footer_lines = keys.len() + status.len();
    let body = rows.saturating_sub(1 + footer_lines);
    // Column widths: tab, pane, conversation title (flexible), turns, age, state.
    let tab_w = 10.min(cols / 6);
    let pane_w = 22.min(cols / 4);
    let turns_w = 4;
    let age_w = 4;
    let state_w = shown
        .iter()
        .map(|r| width(&state_label(r)))
        .max()
        .unwrap_or(0)
        .min(cols / 4);
    let id_w = 10;
    let fixed = 2 + tab_w + 1 + pane_w + 1 + 1 + id_w + 1 + turns_w + 1 + age_w + 1 + state_w;
    let title_w = cols.saturating_sub(fixed).max(1);
    let sel = state.picker.selected.min(shown.len().saturating_sub(1));
    let start = if body == 0 {
        0
    } else {
        (sel + 1).saturating_sub(body)
    };
    for (i, r) in shown.iter().enumerate().skip(start).take(body) {
        let marker = if r.here { "▸ " } else { "  " };
        let (mut title, short, turns, age): (String, String, String, String) = match r.conv {
            Some(c) => (
                c.title.clone().unwrap_or_else(|| "(untitled)".to_string()),
                c.id.chars().take(id_w).collect(),
                format!("{}t", c.turns),
                c.updated
                    .map(|t| panechat_vocab::time::age(t, now))
                    .unwrap_or_default(),
            ),
            None => ("—".to_string(), String::new(), String::new(), String::new()),
        };
        // The agent first: `⚑ claude: needs you · title`; else the back-end holding the
        // conversation: `[claude] title`.
        if let Some(a) = r.agent {
            title = match r.conv {
                Some(_) => format!("{} · {title}", inert(&a.line())),
                None => inert(&a.line()),
            };
        } else if let Some(b) = r.conv.and_then(|c| c.backend.as_deref()) {
            title = format!("[{}] {title}", inert(b));
        }
        // Every column has its width whether or not the row has a conversation.
        let line = format!(
            "{marker}{} {} {} {} {} {} {}",
            fit(&inert(r.tab_name), tab_w),
            fit(&inert(&state.pane_label(r.pane)), pane_w),
            fit(&title, title_w),
            fit(&short, id_w),
            fit_right(&turns, turns_w),
            fit_right(&age, age_w),
            fit(&state_label(r), state_w),
        );
        let line = fit(&line, cols);
        if i == sel {
            out.push(format!("{REVERSE}{line}{RESET}"));
        } else if r.conv.is_none() && r.agent.is_none() {
            out.push(format!("{DIM}{line}{RESET}"));
        } else {
            out.push(line);
        }
    }
    if shown.is_empty() && body > 0 && !state.picker.filter.is_empty() {
        out.push(fit("  no pane matches the filter", cols));
    }
    while out.len() < rows.saturating_sub(footer_lines) {
        out.push(" ".repeat(cols));
    }
    out.extend(status.iter().map(|l| fit(l, cols)));
    out.extend(keys.iter().map(|l| format!("{DIM}{}{RESET}", fit(l, cols))));
}

/// `line` without the plugin's own escape sequences (what a user reads).
pub fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut it = line.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\x1b' && it.peek() == Some(&'[') {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
