//! Command-line interface: argument definitions, dispatch and the one error report.

mod attach;
mod completions;
mod ctx;
mod doctor;
mod fork;
mod hook;
mod init;
mod kill;
mod lock_answer;
mod lock_prompt;
mod ls;
mod man;
mod new;
mod output;
mod pick;
mod plugin_check;
mod query;
mod refresh;
mod rename;
mod rm;
mod search;
mod sessions;
mod show;
mod status;
mod texts;
mod tmux_load;
mod ui;
mod use_;

use clap::{CommandFactory, Parser, Subcommand};

use ctx::Ctx;
use output::report;
use panechat::Result;
use texts::{exit_status, QUERY_EXAMPLES};

/// panechat: every terminal pane gets its own LLM conversation.
#[derive(Parser, Debug)]
#[command(name = "panechat", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Run `panechat q \"your question\"` in any pane; each pane continues its own conversation.",
    after_long_help = concat!(
        "Run `panechat q \"your question\"` in any pane; each pane continues its own conversation.\n\nExit status:\n",
        exit_status!(),
        "\n\n`panechat man` prints the manual page."
    )
)]
pub struct Cli {
    /// Set any config key for this command (repeatable), e.g. --cfg provider.model=gpt-4o.
    #[arg(long = "cfg", value_name = "KEY=VALUE", global = true)]
    cfg: Vec<String>,
    /// Say less (no waiting line, no notices).
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Say more (diagnostics on stderr).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Ask in this pane's conversation, streaming the reply.
    #[command(visible_alias = "q", after_help = QUERY_EXAMPLES)]
    Query(query::Args),
    /// List conversations, most recently active first.
    Ls(ls::Args),
    /// Show one conversation (default: this session's active one).
    Show(show::Args),
    /// Fork a conversation and print the new id.
    Fork(fork::Args),
    /// Make a conversation this session's active one.
    Use(use_::Args),
    /// Make this session's next question start a new conversation.
    New(new::Args),
    /// Rename a conversation (default: this session's active one).
    Rename(rename::Args),
    /// Delete conversations.
    Rm(rm::Args),
    /// Find conversations by what was said in them, best match first.
    Search(search::Args),
    /// Every known session with its active conversation and live runs.
    Sessions(sessions::Args),
    /// Stop the live runs of a session (default: this one).
    Kill(kill::Args),
    /// One short line for status bars.
    Status(status::Args),
    /// Publish every pane's state to its multiplexer again (e.g. after a restart).
    Refresh(refresh::Args),
    /// Check the store; with --repair, fix what can be fixed.
    Doctor(doctor::Args),
    /// Print the integration snippet for tmux, WezTerm, Zellij or a shell.
    Init(init::Args),
    /// Pick a conversation in a full-screen list (what the multiplexer popups show).
    Pick(pick::Args),
    /// Print shell completions.
    Completions(completions::Args),
    /// Print the manual page (`panechat man | man -l -`), or write every page with --dir.
    Man(man::Args),
    /// Ask what to do about a locked conversation (used by multiplexer popups).
    #[command(hide = true)]
    LockPrompt(lock_prompt::Args),
    /// Answer a lock question asked through a plugin (used by the WezTerm plugin).
    #[command(hide = true)]
    LockAnswer(lock_answer::Args),
    /// What the tmux plugin's keys and tmux-resurrect hooks run.
    #[command(hide = true)]
    TmuxPlugin(tmux_load::PluginArgs),
    /// Whether a plugin is the one this binary carries (asked by the WezTerm plugin).
    #[command(hide = true)]
    PluginCheck(plugin_check::Args),
    /// Report a coding agent's state into its pane (what `init claude|codex` installs).
    #[command(hide = true)]
    Hook(hook::Args),
}

/// Runs the command line; returns the exit code.
pub fn run() -> i32 {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Agents wait for their hooks: no parser, no config, always 0.
    if argv.get(1).is_some_and(|w| w == "hook") {
        return hook::run_argv(&argv);
    }
    // Status bars run `status` constantly: its usual forms skip building the full parser.
    if let Some(args) = status::quick_args(&argv) {
        let cli = Cli {
            cfg: Vec::new(),
            quiet: false,
            verbose: 0,
            command: Command::Status(args),
        };
        return dispatch(cli).unwrap_or_else(|e| report(&e));
    }
    let cli = match parse(argv) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => report(&e),
    }
}

/// Parses the command line. `query --id WORD` and `--fork WORD` are read as `--id=WORD` and
/// `--fork=WORD` when WORD is that option's value (see `query::Args`); the line is then parsed
/// again, since options may follow WORD. Each pass removes a word, so this ends.
fn parse(mut argv: Vec<std::ffi::OsString>) -> std::result::Result<Cli, clap::Error> {
    let mut spaced_id = None;
    loop {
        let mut cli = Cli::try_parse_from(&argv)?;
        let Command::Query(args) = &mut cli.command else {
            return Ok(cli);
        };
        match query::spaced_value(&argv, args) {
            Some((next, word)) => {
                argv = next;
                spaced_id = word.or(spaced_id);
            }
            None => {
                if let Some(w) = spaced_id {
                    args.set_spaced_id(w);
                }
                return Ok(cli);
            }
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32> {
    let mut ctx = Ctx::new(cli.cfg.clone(), cli.quiet, cli.verbose)?;
    // Commands that work without the config still say, once, that it is broken (the others
    // load it and fail with the same message).
    if matches!(
        cli.command,
        Command::Ls(_)
            | Command::Search(_)
            | Command::Show(_)
            | Command::Fork(_)
            | Command::Use(_)
            | Command::Sessions(_)
            | Command::Kill(_)
            | Command::Status(_)
            | Command::Doctor(_)
    ) {
        ctx.warn_if_config_broken();
    }
    // (the Zellij plugin shows what its `sessions` says on stderr)
    if matches!(cli.command, Command::Sessions(_)) {
        if let Some(m) = panechat::adapters::zellij_plugin::mismatch(&ctx.env) {
            eprintln!("panechat: {m}");
        }
    }
    match cli.command {
        Command::Query(a) if a.hold => {
            // The outcome is shown before the wait, so the popup shows it; Esc or Ctrl-C at the
            // question (nothing sent) closes at once, Ctrl-C while the answer streams is shown
            // (cancelled) and held like any outcome.
            let code = match query::run(&mut ctx, a) {
                Ok(code) => code,
                Err(e) => report(&e),
            };
            if code != 130 || query::interrupted_by_ctrl_c() {
                ui::hold();
            }
            Ok(code)
        }
        Command::Query(a) => query::run(&mut ctx, a),
        Command::Ls(a) => ls::run(&mut ctx, a),
        Command::Show(a) => show::run(&mut ctx, a),
        Command::Fork(a) => fork::run(&mut ctx, a),
        Command::Use(a) => use_::run(&mut ctx, a),
        Command::New(a) => new::run(&mut ctx, a),
        Command::Refresh(a) => refresh::run(&mut ctx, a),
        Command::Rename(a) => rename::run(&mut ctx, a),
        Command::Rm(a) => rm::run(&mut ctx, a),
        Command::Search(a) => search::run(&mut ctx, a),
        Command::Sessions(a) => sessions::run(&mut ctx, a),
        Command::Kill(a) => kill::run(&mut ctx, a),
        Command::Status(a) => status::run(&mut ctx, a),
        Command::Doctor(a) => doctor::run(&mut ctx, a),
        Command::Init(a) => init::run(a),
        Command::Pick(a) => pick::run(&mut ctx, a),
        Command::Completions(a) => completions::run(a, Cli::command()),
        Command::Man(a) => man::run(a, Cli::command()),
        Command::LockPrompt(a) => lock_prompt::run(&mut ctx, a),
        Command::LockAnswer(a) => lock_answer::run(&mut ctx, a),
        Command::TmuxPlugin(a) => tmux_load::run(a),
        Command::PluginCheck(a) => plugin_check::run(a),
        Command::Hook(a) => Ok(hook::run(a)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `status::quick_args` reads what the full parser reads, or leaves the line to it.
    #[test]
    fn status_lines_read_without_the_full_parser_mean_the_same() {
        let lines: &[&[&str]] = &[
            &["status"],
            &["status", "--format", "tmux"],
            &["status", "--format=json"],
            &["status", "--format", "wezterm", "--session", "tmux:abc:%3"],
            &["status", "--session=work", "--format", "plain"],
            &["status", "--session", "a=b"],
            // Left to the full parser:
            &["status", "--format", "TMUX"],
            &["status", "--format", "bogus"],
            &["status", "--format"],
            &["status", "--format", "tmux", "--format", "plain"],
            &["status", "--session", ""],
            &["status", "--session", "-v"],
            &["status", "--session=-x"],
            &["status", "-v"],
            &["status", "-q", "--format", "tmux"],
            &["status", "--cfg", "a=b"],
            &["status", "--help"],
            &["status", "extra"],
            &["status", "--", "x"],
            &["-v", "status"],
            &["statu"],
            &["ls"],
            &[],
        ];
        let mut quick = 0;
        for line in lines {
            let argv: Vec<std::ffi::OsString> = std::iter::once("panechat")
                .chain(line.iter().copied())
                .map(Into::into)
                .collect();
            let Some(fast) = status::quick_args(&argv) else {
                continue;
            };
            quick += 1;
            let full = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert!(
                full.cfg.is_empty() && !full.quiet && full.verbose == 0,
                "{line:?}"
            );
            match full.command {
                Command::Status(a) => assert_eq!(format!("{a:?}"), format!("{fast:?}"), "{line:?}"),
                other => panic!("{line:?}: {other:?}"),
            }
        }
        assert_eq!(quick, 6, "the usual forms are read quickly");
    }
}
