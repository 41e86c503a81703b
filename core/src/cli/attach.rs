//! What `panechat query` attaches to a message: `--pane [WHICH]`, `--selection` (tmux copy
//! mode), piped stdin (when a message is also given), `-f PATH` (repeatable). The text is prepared by [`panechat::context`]; this
//! file reads the inputs and says, in one line on stderr, what was attached.

use std::path::PathBuf;

use panechat::adapters::exec::RealExec;
use panechat::config::Config;
use panechat::context::{self, Prepared, Which};
use panechat::session::Session;
use panechat::Result;

use super::ctx::Ctx;

/// What to attach, from the command line.
pub struct Wanted<'a> {
    /// `--pane`: `Some("")` for this pane, `Some(WHICH)`, or `None`.
    pub pane: Option<&'a str>,
    /// `--lines N`.
    pub lines: Option<usize>,
    /// `-f PATH`…
    pub files: &'a [PathBuf],
    /// Whether stdin is to be read as an attachment (a message was given on the command line).
    pub stdin: bool,
    /// `--selection`: what a tmux copy-mode key copied.
    pub selection: bool,
    /// The question as given on the command line (empty with `--prompt` or stdin): how the
    /// command line that asked is recognised on the screen of its own pane.
    pub message: &'a str,
    /// `--session`: the session asked in, when it is not this process's: `--pane` and its
    /// directions are then taken from that session's pane.
    pub from: Option<&'a Session>,
}

/// Whether stdin is a pipe or a redirected file: the only inputs read as an attachment (a
/// terminal, `/dev/null`, a socket inherited from a process manager are left alone, so nothing
/// waits on them).
fn stdin_is_piped() -> bool {
    use nix::sys::stat::{fstat, SFlag};
    fstat(std::io::stdin()).is_ok_and(|m| {
        let kind = SFlag::from_bits_truncate(m.st_mode) & SFlag::S_IFMT;
        kind == SFlag::S_IFIFO || kind == SFlag::S_IFREG
    })
}

/// Reads and prepares every attachment asked for, in order: the pane, stdin, the files.
pub fn gather(ctx: &Ctx, cfg: &Config, want: &Wanted<'_>) -> Result<Vec<Prepared>> {
    let limits = cfg.context;
    let mut out = Vec::new();
    let from_pane = want
        .from
        .and_then(|s| s.pane.as_deref().map(|p| (s.multiplexer, p)));
    if let Some(which) = want.pane {
        let which = Which::parse(which)?;
        let lines = want.lines.unwrap_or(cfg.context_lines).max(1);
        let captured = match from_pane {
            Some((mux, pane)) => {
                let env = context::env_in_pane(&ctx.env, mux, pane);
                let mut c = context::capture_pane(&env, &RealExec, &which, lines)?;
                // The command that asked runs elsewhere (a popup, a floating pane, a split).
                c.own = false;
                c
            }
            None => context::capture_pane(&ctx.env, &RealExec, &which, lines)?,
        };
        let invoked = std::env::args_os()
            .next()
            .map(PathBuf::from)
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "panechat".into());
        let p = context::pane_attachment(&captured, lines, &invoked, want.message, limits);
        if p.attachment.text.is_empty() {
            return Err(panechat::Error::CannotAttach {
                message: format!(
                    "{} has no text to attach (after the command line that asked is left out); run the failing command first, or name another pane: --pane left|right|up|down|last|ID",
                    p.attachment.source.split(',').next().unwrap_or("the pane")
                ),
                source: None,
            });
        }
        out.push(p);
    }
    if want.selection {
        let pane = from_pane
            .map(|(_, p)| p.to_string())
            .or_else(|| ctx.env.get("TMUX_PANE").map(str::to_string));
        out.push(context::tmux_selection(
            &ctx.env,
            &RealExec,
            pane.as_deref(),
            limits,
        )?);
    }
    if want.stdin && stdin_is_piped() {
        let p = context::reader_attachment("stdin", std::io::stdin().lock(), limits)?;
        if !p.attachment.text.trim().is_empty() {
            out.push(p);
        }
    }
    for f in want.files {
        out.push(context::file_attachment(f, limits)?);
    }
    Ok(out)
}

/// The line shown before the request: what is attached and how big it is, how many secrets
/// were masked, and what was cut.
pub fn summary_line(prepared: &[Prepared]) -> Option<String> {
    if prepared.is_empty() {
        return None;
    }
    let items: Vec<String> = prepared
        .iter()
        .map(|p| {
            format!(
                "{} ({}{})",
                panechat::title::sanitize_title(&p.attachment.source),
                p.attachment.size(),
                if p.truncated {
                    ", cut at context.max_bytes"
                } else {
                    ""
                }
            )
        })
        .collect();
    let masked: usize = prepared.iter().map(|p| p.redacted).sum();
    let mut line = format!("panechat: attached {}", items.join(", "));
    if masked > 0 {
        line.push_str(&format!(
            "; masked {masked} secret{} (context.redact)",
            if masked == 1 { "" } else { "s" }
        ));
    }
    Some(line)
}
