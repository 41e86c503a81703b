//! Command-line interface: argument definitions, dispatch and the one error report.

mod completions;
mod doctor;
mod fork;
mod init;
mod kill;
mod lock_prompt;
mod ls;
mod new;
mod pick;
mod query;
mod refresh;
mod rename;
mod rm;
mod sessions;
mod show;
mod status;
mod tmux_load;
mod ui;
mod use_;

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use panechat::config::{Config, LoadOptions};
use panechat::env::Env;
use panechat::paths::Paths;
use panechat::session::{self, Session, SessionKey};
use panechat::store::Store;
use panechat::{Error, Result};

/// panechat: every terminal pane gets its own LLM conversation.
#[derive(Parser, Debug)]
#[command(name = "panechat", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Run `panechat q \"your question\"` in any pane; each pane continues its own conversation."
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
    #[command(visible_alias = "q")]
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
    /// Ask what to do about a locked conversation (used by multiplexer popups).
    #[command(hide = true)]
    LockPrompt(lock_prompt::Args),
}

/// Shared state for one command.
pub struct Ctx {
    env: Env,
    paths: Paths,
    store: Store,
    cfg_overrides: Vec<String>,
    quiet: bool,
    verbose: u8,
    session: Option<Session>,
}

impl Ctx {
    fn new(cli: &Cli) -> Result<Ctx> {
        let env = Env::capture();
        let paths = Paths::resolve(&env)?;
        Ok(Ctx {
            store: Store::new(paths.clone()),
            paths,
            env,
            cfg_overrides: cli.cfg.clone(),
            quiet: cli.quiet,
            verbose: cli.verbose,
            session: None,
        })
    }

    /// Loads the config (all layers).
    fn config(&self) -> Result<Config> {
        Config::load(
            &self.env,
            &LoadOptions {
                user_file: Some(self.paths.config_file.clone()),
                user_file_required: self.env.get("PANECHAT_CONFIG").is_some(),
                cwd: std::env::current_dir().ok(),
                overrides: self.cfg_overrides.clone(),
            },
        )
    }

    /// This process's session.
    fn session(&mut self) -> Result<Session> {
        if self.session.is_none() {
            self.session = Some(session::resolve(&self.env)?);
        }
        Ok(self.session.clone().expect("set"))
    }

    /// A session named on the command line: a key, or `pane:<id>` for a pane of the
    /// multiplexer this command runs in.
    fn named_session(&self, raw: &str) -> Result<Session> {
        if let Some(pane) = raw.strip_prefix("pane:") {
            return session::key_for_pane(&self.env, pane)?.ok_or_else(|| {
                Error::Usage(format!(
                    "`{raw}` names a pane, but this command is not running inside a multiplexer"
                ))
            });
        }
        let key = SessionKey::normalize(raw)?;
        let server = panechat::store::mapping::read(&self.paths, &key)
            .ok()
            .flatten()
            .and_then(|r| r.server);
        Ok(session::PaneRef::from_key(key).to_session(server))
    }

    /// Publishes the state of every pane that shows conversation `id` (and of this session);
    /// failures are logged, never fatal.
    fn publish(&self, id: &panechat::store::conversation::ConversationId) {
        if let Err(e) = self.publisher().conversation(id) {
            self.debug(&format!("publishing conversation {id}: {e}"));
        }
    }

    /// Publishes the states of these sessions.
    fn publish_sessions(&self, keys: &[SessionKey]) {
        if let Err(e) = self.publisher().sessions(keys) {
            self.debug(&format!("publishing sessions: {e}"));
        }
    }

    fn publisher(&self) -> panechat::publish::Publisher<'_> {
        panechat::publish::Publisher {
            store: &self.store,
            env: &self.env,
            here: self.session.as_ref(),
            sink: &panechat::publish::RealSink,
        }
    }

    fn note(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    fn debug(&self, msg: &str) {
        self.log("DEBUG", msg);
    }

    /// Appends to the session-labelled log (mirrored to stderr with -v).
    fn log(&self, level: &str, msg: &str) {
        panechat::logfile::Logger::new(&self.paths, self.session.as_ref(), self.verbose > 0)
            .log(level, msg);
    }
}

/// Runs the command line; returns the exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
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

fn dispatch(cli: Cli) -> Result<i32> {
    let mut ctx = Ctx::new(&cli)?;
    match cli.command {
        Command::Query(a) => query::run(&mut ctx, a),
        Command::Ls(a) => ls::run(&mut ctx, a),
        Command::Show(a) => show::run(&mut ctx, a),
        Command::Fork(a) => fork::run(&mut ctx, a),
        Command::Use(a) => use_::run(&mut ctx, a),
        Command::New(a) => new::run(&mut ctx, a),
        Command::Refresh(a) => refresh::run(&mut ctx, a),
        Command::Rename(a) => rename::run(&mut ctx, a),
        Command::Rm(a) => rm::run(&mut ctx, a),
        Command::Sessions(a) => sessions::run(&mut ctx, a),
        Command::Kill(a) => kill::run(&mut ctx, a),
        Command::Status(a) => status::run(&mut ctx, a),
        Command::Doctor(a) => doctor::run(&mut ctx, a),
        Command::Init(a) => init::run(a),
        Command::Pick(a) => pick::run(&mut ctx, a),
        Command::Completions(a) => completions::run(a),
        Command::LockPrompt(a) => lock_prompt::run(&mut ctx, a),
    }
}

/// Prints `panechat: <error>`, its causes, and a hint; returns the exit code.
fn report(e: &Error) -> i32 {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "panechat: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let _ = writeln!(err, "  caused by: {s}");
        source = s.source();
    }
    if let Some(h) = e.hint() {
        let _ = writeln!(err, "hint: {h}");
    }
    e.exit_code()
}

/// Writes to stdout, treating a closed pipe as success.
pub fn out(text: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|_| o.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(Error::io(PathBuf::from("<stdout>"), e)),
    }
}

/// Serialises JSON to stdout with a trailing newline.
pub fn out_json<T: serde::Serialize>(v: &T) -> Result<()> {
    let mut s = serde_json::to_string_pretty(v).expect("json serialises");
    s.push('\n');
    out(&s)
}
