//! Command-line interface: argument definitions, dispatch and the one error report.

mod attach;
mod completions;
mod doctor;
mod fork;
mod init;
mod kill;
mod lock_answer;
mod lock_prompt;
mod ls;
mod man;
mod new;
mod pick;
mod query;
mod refresh;
mod rename;
mod rm;
mod search;
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

/// The exit statuses, one per line (`CODE  meaning`): shown by `--help` and in the man page.
macro_rules! exit_status {
    () => {
        "  0    success
  1    any other error (provider, network, store)
  2    usage error (a bad argument or input)
  75   the conversation stayed locked (gave up after lock.wait, or --on-locked=fail)
  129  the terminal closed during a query (SIGHUP)
  130  cancelled: Ctrl-C, Esc in a picker, or Cancel in the lock question
  143  stopped by `panechat kill` (SIGTERM)"
    };
}
pub(crate) use exit_status;

/// The examples under `panechat query --help` (each is run by the end-to-end tests).
const QUERY_EXAMPLES: &str = "Examples:
  panechat q \"question\"              continue this pane's conversation
  panechat q --new \"question\"        start a new one in this pane
  panechat q --fork=2 \"question\"     fork this pane's conversation keeping the last 2 turns
  panechat q --fork 2 \"question\"     the same
  panechat q --id \"question\"         pick any conversation in a fuzzy picker, then ask there
  panechat q --id prev \"question\"    the pane's previous conversation, like `cd -`
  panechat q --id last \"question\"    the conversation used last, in any pane
  panechat q --id -- 2 \"question\"    after --, every word is the message (here \"2 question\")";

/// Where panechat keeps its files (the man page's FILES section).
const FILES: &str = "The config file is $XDG_CONFIG_HOME/panechat/config.toml (~/.config/panechat/config.toml), or $PANECHAT_HOME/config.toml when PANECHAT_HOME is set, or the file PANECHAT_CONFIG names. Conversations live in $XDG_DATA_HOME/panechat, sessions, locks, runs and logs in $XDG_STATE_HOME/panechat; with PANECHAT_HOME, in its data and state directories.";

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
    /// Whether `session` was named on the command line (`q --session`) rather than being the
    /// one this process runs in: this terminal is then not that pane's.
    session_named: bool,
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
            session_named: false,
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

    /// Prints one warning when the config does not load, for commands that do not need it.
    fn warn_if_config_broken(&self) {
        if let Err(e) = self.config() {
            eprintln!("panechat: warning: {e}\n(this command does not need the config, but `panechat q` fails until it is fixed)");
        }
    }

    /// This process's session.
    fn session(&mut self) -> Result<Session> {
        if self.session.is_none() {
            self.session = Some(session::resolve(&self.env)?);
        }
        Ok(self.session.clone().expect("set"))
    }

    /// Makes a session named on the command line this command's session.
    fn use_named_session(&mut self, s: Session) {
        self.session = Some(s);
        self.session_named = true;
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

    /// Publishes the state of every pane that shows conversation `id`; failures are logged,
    /// never fatal.
    fn publish(&self, id: &panechat::store::conversation::ConversationId) {
        if let Err(e) = self.publisher().conversation(id) {
            self.debug(&format!("publishing conversation {id}: {e}"));
        }
    }

    /// Publishes the state of every pane that shows conversation `id` and of this session (for
    /// a query: its pane shows the conversation while it runs, and may not afterwards).
    fn publish_here_and(&self, id: &panechat::store::conversation::ConversationId) {
        let here: Vec<SessionKey> = self.session.iter().map(|s| s.key.clone()).collect();
        if let Err(e) = self.publisher().conversation_and(id, &here) {
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
            here: self.session.as_ref().filter(|_| !self.session_named),
            sink: &panechat::publish::RealSink,
        }
    }

    /// Warns that `what` is stored but a file derived from the log could not be updated (a
    /// [`panechat::store::Durable`] with a stale part): the command still succeeds.
    fn warn_stale(&self, what: &str, stale: Option<&Error>) {
        if let Some(e) = stale {
            self.log(
                "WARN",
                &format!("{what} is stored; derived files are stale: {e}"),
            );
            eprintln!("panechat: warning: {what} is stored, but the files derived from the conversation's log (its summary, history cache, the list `ls` reads) could not be updated ({e});\n  the next query and `panechat doctor --repair` rebuild them from the log");
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
    let cli = match parse(std::env::args_os().collect()) {
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
    let mut ctx = Ctx::new(&cli)?;
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
    match cli.command {
        Command::Query(a) if a.hold => {
            // The outcome is shown before the wait, so the popup shows it; Esc or Ctrl-C
            // (cancelled) closes at once.
            let code = match query::run(&mut ctx, a) {
                Ok(code) => code,
                Err(e) => report(&e),
            };
            if code != 130 {
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
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => man::run(a),
        Command::LockPrompt(a) => lock_prompt::run(&mut ctx, a),
        Command::LockAnswer(a) => lock_answer::run(&mut ctx, a),
    }
}

/// Prints `panechat: <error>`, its causes, and a hint; returns the exit code.
fn report(e: &Error) -> i32 {
    let mut err = std::io::stderr().lock();
    let top = e.to_string();
    let _ = writeln!(err, "panechat: {top}");
    // Causes that the message already says (wrappers that display their source) are not
    // repeated.
    let mut said = vec![top];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !said.iter().any(|m| m.contains(&text)) {
            let _ = writeln!(err, "  caused by: {text}");
            said.push(text);
        }
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
