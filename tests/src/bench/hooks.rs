//! The agent hook's case: what `panechat hook claude` costs the agent that waits for it.

use std::process::{Command, Stdio};

use super::cases::{interleave, wall_ms};
use super::report::{limit_verdict, ms, Row, Series};
use super::world::{World, SESSION_LONG};

/// `agent hook call`: whole-process wall time of `panechat hook claude` with a `PreToolUse`
/// event on stdin, in a real tmux pane's environment (`$TMUX`, `$TMUX_PANE` of a private
/// server, so the pane's state is recorded and published to tmux), with the store of 10,000
/// conversations, against `true` given the same stdin and environment, alternately, 100
/// samples each after 10 warm-up rounds. Budget: median ≤ 10 ms.
pub fn hook_call(w: &World) -> Result<Vec<Row>, String> {
    let s = super::tmux::server(w, &w.big, "hook")?;
    let pane = s.value("t", "#{pane_id}");
    let tmux = s
        .value("t", "#{socket_path},#{pid},#{session_id}")
        .replacen(",$", ",", 1);
    let event = w.root.join("hook-event.json");
    std::fs::write(
        &event,
        r#"{"session_id":"5f0c7a2e-bench","transcript_path":"/tmp/x.jsonl","cwd":"/tmp","permission_mode":"default","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls -la","description":"List files"}}"#,
    )
    .map_err(|e| format!("{}: {e}", event.display()))?;
    let with_pane = |mut c: Command| -> Result<Command, String> {
        let input = std::fs::File::open(&event).map_err(|e| format!("{}: {e}", event.display()))?;
        c.env_remove("PANECHAT_SESSION")
            .env("TMUX", &tmux)
            .env("TMUX_PANE", &pane)
            .stdin(Stdio::from(input));
        Ok(c)
    };
    let hook = || with_pane(w.panechat(&w.big, SESSION_LONG, &["hook", "claude"]));
    let reference = || with_pane(w.command(std::path::Path::new("true"), &w.big, SESSION_LONG));
    // The case measures nothing unless the hook records the pane's agent.
    wall_ms(hook()?)?;
    let env = panechat::env::Env::from_pairs([("TMUX", tmux.as_str()), ("TMUX_PANE", &pane)]);
    let key = panechat::session::pane_session(&env)
        .ok_or("the tmux pane's environment names no pane")?
        .key;
    let agent = panechat::agents::read(&w.big.store.paths, &key)
        .ok_or("`panechat hook claude` recorded no agent for the pane")?;
    if agent.tool.as_deref() != Some("Bash") {
        return Err(format!("the hook recorded {agent:?}"));
    }
    let (h, t) = interleave(10, 100, &mut || wall_ms(hook()?), &mut || {
        wall_ms(reference()?)
    })?;
    let (verdict, detail) = limit_verdict(h.median(), 10.0, "ms", 2);
    Ok(vec![Row {
        case: "agent hook call (wall)".into(),
        measured: ms(&h),
        reference: format!("true {}", ms(&t)),
        budget: "<= 10 ms".into(),
        verdict,
        detail,
        series: vec![
            Series::ms("panechat hook claude (PreToolUse, tmux pane)", &h),
            Series::ms("true (same stdin and environment)", &t),
        ],
        notes: vec![format!("recorded: {}", agent.summary())],
    }])
}
