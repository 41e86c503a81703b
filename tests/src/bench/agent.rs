//! The overhead panechat adds around a coding agent's turn.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::cases::interleave;
use super::report::{limit_verdict, ms, Row, Series};
use super::world::{Home, World};

/// The lines a headless Claude Code prints for a one-line reply, written by a stand-in agent
/// (a `/bin/sh` script) so the figure is panechat's, not the agent's.
const LINES: &str = r#"{"type":"system","subtype":"init","session_id":"5f0c6e1a-0000-4000-8000-000000000001","cwd":"/","model":"bench"}
{"type":"stream_event","event":{"type":"content_block_delta","delta":{"type":"text_delta","text":"first byte"}}}
{"type":"result","subtype":"success","is_error":false,"result":"first byte","session_id":"5f0c6e1a-0000-4000-8000-000000000001","usage":{"input_tokens":1,"output_tokens":1},"total_cost_usd":0}"#;

/// Milliseconds from spawning `cmd` to the first byte on its standard output (read to its end
/// and reaped after).
fn first_byte_ms(mut cmd: Command) -> Result<f64, String> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let t = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("spawning: {e}"))?;
    let mut out = child.stdout.take().expect("piped");
    let mut first = [0u8; 1];
    let n = out.read(&mut first).map_err(|e| e.to_string())?;
    let at = t.elapsed();
    let mut rest = Vec::new();
    let _ = out.read_to_end(&mut rest);
    let st = child.wait().map_err(|e| e.to_string())?;
    if n == 0 || !st.success() {
        return Err(format!("the run printed nothing or failed ({st})"));
    }
    Ok(at.as_secs_f64() * 1e3)
}

/// `agent turn overhead`: from spawning to the first byte of the agent's reply on standard
/// output, `panechat q --new …` with `provider.kind = "claude-code"` running a stand-in agent
/// (a shell script printing Claude Code's stream-json lines for a one-line reply) against the
/// same script run directly, alternately, 30 samples each after 3 warm-up rounds. Budget: the
/// median difference ≤ 15 ms.
pub fn overhead(w: &World) -> Result<Vec<Row>, String> {
    let script = w.root.join("bin/stand-in-claude");
    fs::write(&script, format!("#!/bin/sh\ncat <<'EOF'\n{LINES}\nEOF\n"))
        .map_err(|e| format!("{}: {e}", script.display()))?;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    let home = Home::new(w.root.join("agent"))?;
    let cfg = format!(
        "[provider]\nkind = \"claude-code\"\nbinary = \"{}\"\n[title]\ngenerate = false\n",
        script.display()
    );
    fs::write(home.dir.join("config.toml"), cfg).map_err(|e| e.to_string())?;
    let direct = || {
        let mut c = w.command(&script, &home, "bench-agent");
        c.args(["-p", "--output-format", "stream-json", "--", "hi"]);
        c
    };
    let via = || w.panechat(&home, "bench-agent", &["q", "--new", "hi"]);
    let (with, without) = interleave(3, 30, &mut || first_byte_ms(via()), &mut || {
        first_byte_ms(direct())
    })?;
    let overhead = with.median() - without.median();
    let (verdict, detail) = limit_verdict(overhead, 15.0, "ms", 3);
    Ok(vec![Row {
        case: "agent turn overhead".into(),
        measured: format!("+{overhead:.3} ms"),
        reference: format!("agent alone {}", ms(&without)),
        budget: "<= +15 ms".into(),
        verdict,
        detail,
        series: vec![
            Series::ms("spawn -> first reply byte, through panechat q", &with),
            Series::ms("spawn -> first output byte, the agent alone", &without),
        ],
        notes: Vec::new(),
    }])
}
