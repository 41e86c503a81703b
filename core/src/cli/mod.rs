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
    /// What the tmux plugin's keys and tmux-resurrect hooks run.
    #[command(hide = true)]
    TmuxPlugin(tmux_load::PluginArgs),
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
            err_line(&format!("panechat: warning: {e}\n(this command does not need the config, but `panechat q` fails until it is fixed)"));
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
            err_line(msg);
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
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => man::run(a),
        Command::LockPrompt(a) => lock_prompt::run(&mut ctx, a),
        Command::LockAnswer(a) => lock_answer::run(&mut ctx, a),
        Command::TmuxPlugin(a) => tmux_load::run(a),
    }
}

/// Prints `panechat: <error>`, its causes, and a hint; returns the exit code. Like every
/// message on stderr, it goes through [`err_line`]: an error may quote text from a model or a
/// server.
fn report(e: &Error) -> i32 {
    let top = e.to_string();
    err_line(&format!("panechat: {top}"));
    // Causes that the message already says (wrappers that display their source) are not
    // repeated.
    let mut said = vec![top];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !said.iter().any(|m| m.contains(&text)) {
            err_line(&format!("  caused by: {text}"));
            said.push(text);
        }
        source = s.source();
    }
    if let Some(h) = e.hint() {
        err_line(&format!("hint: {h}"));
    }
    e.exit_code()
}

/// Writes one message line to stderr, with every control character but tab removed
/// ([`panechat::title::strip_terminal_controls`]): messages can quote a title, a reply or a
/// server's words, and must not move the cursor, retitle or recolour the terminal.
pub fn err_line(msg: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", panechat::title::strip_terminal_controls(msg));
}

/// Writes human-readable text to stdout: the one place every command's text output goes
/// through. Every control character but newline and tab is removed
/// ([`panechat::title::strip_terminal_controls`]), whether stdout is a terminal, a pipe or a
/// file: `panechat show | less -R` must not run a model's escape sequences either. `show --raw`
/// and the JSON forms are the ways to get text as stored.
pub fn out(text: &str) -> Result<()> {
    out_raw(&panechat::title::strip_terminal_controls(text))
}

/// A piece of human-readable output ([`out_spans`]).
pub enum Span {
    /// Text, shown as it is (controls removed).
    Text(String),
    /// Text shown in green on a terminal that takes colours.
    Green(String),
}

/// Writes [`Span`]s to stdout: each span's text is made safe as [`out`] does, then panechat's
/// own colour is put around the green ones when `color` is set. No text can bring its own.
pub fn out_spans(spans: &[Span], color: bool) -> Result<()> {
    let mut text = String::new();
    for s in spans {
        match s {
            Span::Text(t) => text.push_str(&panechat::title::strip_terminal_controls(t)),
            Span::Green(t) if color => {
                text.push_str("\x1b[32m");
                text.push_str(&panechat::title::strip_terminal_controls(t));
                text.push_str("\x1b[0m");
            }
            Span::Green(t) => text.push_str(&panechat::title::strip_terminal_controls(t)),
        }
    }
    out_raw(&text)
}

/// Writes `text` to stdout as it is (`show --raw`, JSON already escaped), treating a closed
/// pipe as success.
pub fn out_raw(text: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|_| o.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(Error::io(PathBuf::from("<stdout>"), e)),
    }
}

/// `v` as JSON text (indented when `pretty`) that carries no raw control character: serde_json
/// escapes C0 controls, and DEL and the C1 controls (U+0080 to U+009F, which terminals read as
/// CSI, OSC, ST…) are escaped here as `\u00XX`. They can only occur inside strings, so the JSON
/// means the same.
pub fn json_text<T: serde::Serialize>(v: &T, pretty: bool) -> String {
    let s = if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    }
    .expect("json serialises");
    if !s.chars().any(panechat::title::is_control) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if panechat::title::is_control(c) && c != '\n' {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Serialises JSON to stdout with a trailing newline ([`json_text`]: no raw controls).
pub fn out_json<T: serde::Serialize>(v: &T) -> Result<()> {
    let mut s = json_text(v, true);
    s.push('\n');
    out_raw(&s)
}
