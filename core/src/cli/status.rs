//! `panechat status`: one short line for status bars. It reads a few small files (the session's
//! mapping, the conversation's summary, the runs directory) and never loads the config, takes a
//! lock or writes anything. The line comes from the pane's state ([`panechat::state`]).

use panechat::state::{self, Activity};
use panechat::Result;

use super::ctx::Ctx;
use super::output::{json_text, out, out_raw};

/// Output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `#` doubled, for tmux `#(...)`.
    Tmux,
    /// Plain text.
    Plain,
    /// The pane state as one JSON object (see docs/integration.md).
    Json,
    /// The OSC 1337 sequences that set a WezTerm pane's user vars to its state (what the
    /// WezTerm plugin injects into a pane right after a picker action).
    Wezterm,
}

/// `panechat status [--session KEY] [--format tmux|plain|json|wezterm]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Whose status (default: this session's).
    #[arg(long, value_name = "KEY")]
    session: Option<String>,
    /// Output style.
    #[arg(long, value_enum, default_value = "plain")]
    format: Format,
}

/// The arguments of `panechat status` when the command line is that alone, with at most
/// `--session KEY` and `--format FORMAT` (each once, a value that is not empty and does not
/// start with `-`): what status bars run again and again, read without building the parser of
/// the whole command line. `None` for anything else (other options, `--help`, a mistake), which
/// that parser reads and reports as always.
pub fn quick_args(argv: &[std::ffi::OsString]) -> Option<Args> {
    if argv.get(1)?.to_str()? != "status" {
        return None;
    }
    let (mut session, mut format) = (None, None);
    let mut rest = argv[2..].iter();
    while let Some(arg) = rest.next() {
        let arg = arg.to_str()?;
        let (name, value) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, value),
            _ => (arg, rest.next()?.to_str()?),
        };
        if value.is_empty() || value.starts_with('-') {
            return None;
        }
        match name {
            "--session" if session.is_none() => session = Some(value.to_string()),
            "--format" if format.is_none() => {
                format = Some(<Format as clap::ValueEnum>::from_str(value, false).ok()?)
            }
            _ => return None,
        }
    }
    Some(Args {
        session,
        format: format.unwrap_or(Format::Plain),
    })
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let session = match &args.session {
        Some(k) => ctx.named_session(k)?,
        None => ctx.session()?,
    };
    let st = state::of_pane(&ctx.store, &session.pane_ref());
    let marker = match (st.activity, &st.held_by) {
        (Activity::Streaming | Activity::Titling, _) => " [running]",
        (Activity::Waiting, _) => " [waiting]",
        (Activity::Idle, Some(_)) => " [locked]",
        (Activity::Idle, None) => "",
    };
    let line = match args.format {
        Format::Json => return out_raw(&format!("{}\n", json_text(&st, false))).map(|()| 0),
        Format::Wezterm => {
            let vars = panechat::adapters::wezterm::state_vars(&st, false);
            return out_raw(&String::from_utf8_lossy(&vars)).map(|()| 0);
        }
        _ if st.conversation.is_none() => String::new(),
        Format::Plain => format!("{}{marker}", st.label()),
        Format::Tmux => panechat::adapters::tmux::format_escape(&format!("{}{marker}", st.label())),
    };
    out(&format!("{line}\n"))?;
    Ok(0)
}
