//! `panechat query`: ask in this pane's conversation.
//!
//! The workflow is [`panechat::query`]'s; this file reads the command line, the message and
//! its attachments, and gives the workflow this terminal: the reply goes to stdout, notes and
//! the wait line to stderr, the picker and the lock question to the person (through the
//! multiplexer's popup when there is one), and Ctrl-C, SIGTERM and SIGHUP cancel.

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::{AtomicI32, Ordering};

use panechat::adapters;
use panechat::config::{Config, PromptMode};
use panechat::provider;
use panechat::query::{
    Asked, Input, LockQuestion, OnLocked, Outcome, Publish, Query, Request, Resolved, Sink,
    SystemClock, Ui, Where,
};
use panechat::runs::Run;
use panechat::session::Session;
use panechat::store::conversation::{ConversationId, Turn};
use panechat::target::Target;
use panechat::title;
use panechat::{Error, Result};

use super::ctx::Ctx;
use super::ui::{self, Picked};

/// Largest message accepted, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// `panechat query [MESSAGE...]`
///
/// `--id` and `--fork` take an optional value. Written with `=` (`--id=prev`, `--fork=2`) the
/// value is always theirs. Written with a space, the next word is their value only when it can
/// be nothing else: for `--id` a keyword (`last`, `prev`, `pick`, `-`) or an id prefix with a
/// digit in it (every id starts with digits), for `--fork` a number or `all`, for `--pane` a direction, `last` or a pane id. Any other word
/// starts the message, so `--id "question"` opens the picker and sends "question". After `--`,
/// every word is message text. [`spaced_value`] applies this rule to the command line.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The message; when absent, read from stdin if it is not a terminal, else from $EDITOR.
    /// Options go before it: from its first word on, everything is message text (dashes too).
    #[arg(value_name = "MESSAGE", trailing_var_arg = true)]
    message: Vec<OsString>,
    /// Conversation to ask in: last, prev, pick, or an id or unique id prefix; `--id` alone or
    /// followed by the message opens the picker.
    #[arg(long, value_name = "TARGET", num_args = 0..=1, require_equals = true,
          default_missing_value = "pick", value_parser = parse_target_arg)]
    id: Option<String>,
    /// Start a new conversation.
    #[arg(long, conflicts_with_all = ["id", "fork"])]
    new: bool,
    /// Fork the target (default: this session's active conversation), keeping all turns or the
    /// last N (`--fork 2` or `--fork=2`).
    #[arg(long, value_name = "N", num_args = 0..=1, require_equals = true,
          default_missing_value = "all", value_parser = parse_keep_arg)]
    fork: Option<String>,
    /// When the conversation is locked by another query.
    #[arg(long, value_enum, value_name = "MODE")]
    on_locked: Option<OnLocked>,
    /// Model for this conversation (remembered for its next turns).
    #[arg(long, value_name = "M")]
    model: Option<String>,
    /// System prompt for this conversation (remembered).
    #[arg(long, value_name = "TEXT")]
    system: Option<String>,
    /// Print the reply when it is complete instead of as it streams.
    #[arg(long)]
    no_stream: bool,
    /// Send this session's newest unanswered message again (a message already answered is not
    /// sent twice: its stored reply is shown).
    #[arg(long, conflicts_with = "message")]
    retry: bool,
    /// Attach a pane's text: this pane (`--pane` alone), left, right, up, down, last (tmux), or a
    /// pane id (`--pane left` or `--pane=left`); the command line that asked is left out.
    #[arg(long, value_name = "WHICH", num_args = 0..=1, require_equals = true,
          default_missing_value = "", value_parser = parse_pane_arg, conflicts_with = "retry")]
    pane: Option<String>,
    /// How many lines of screen and scrollback `--pane` attaches (default: context.lines).
    #[arg(long, value_name = "N", requires = "pane")]
    lines: Option<usize>,
    /// Attach a file (repeatable). Piped stdin is attached too when a MESSAGE is given.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "PATH",
        conflicts_with = "retry"
    )]
    file: Vec<std::path::PathBuf>,
    /// Ask in this session's conversation instead of this terminal's: a key printed by
    /// `panechat sessions`, or `pane:<id>` for a pane of this multiplexer (tmux `%3`, Zellij
    /// `terminal_3`, WezTerm `3`). `--pane` then means that pane. For popups, floating panes and
    /// splits opened to ask about a pane.
    #[arg(long, value_name = "SESSION", conflicts_with = "retry")]
    session: Option<String>,
    /// Read the question with a one-line prompt on this terminal (Enter sends, Esc cancels)
    /// instead of $EDITOR; the attachments are gathered first and named above the prompt.
    #[arg(long, conflicts_with_all = ["message", "retry"])]
    prompt: bool,
    /// When the query ends (answer or error), wait for a key before exiting, so a popup that
    /// closes with its command stays readable. Esc/Ctrl-C at the prompt still closes at once.
    #[arg(long)]
    pub hold: bool,
    /// Attach the text selected in tmux copy mode by panechat's ask key (docs/tmux.md).
    #[arg(long, conflicts_with = "retry")]
    selection: bool,
    /// The word `--id WORD` took as its target (written with a space), for a precise error.
    #[arg(skip)]
    spaced_id: Option<String>,
}

fn parse_target_arg(s: &str) -> std::result::Result<String, String> {
    Target::parse(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

fn parse_pane_arg(s: &str) -> std::result::Result<String, String> {
    panechat::context::Which::parse(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

fn parse_keep_arg(s: &str) -> std::result::Result<String, String> {
    parse_keep(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `word`, written after a bare `--id`, is the conversation rather than the message.
fn is_target_word(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    matches!(lower.as_str(), "last" | "prev" | "pick" | "-")
        || (lower.len() <= panechat::store::conversation::ID_LEN
            && panechat::store::conversation::is_id_text(&lower)
            && lower.bytes().any(|b| b.is_ascii_digit()))
}

/// Whether `word`, written after a bare `--fork`, is the number of turns to keep.
fn is_keep_word(word: &str) -> bool {
    word == "all" || (!word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()))
}

/// When `argv` (the whole command line that parsed into `args`) has `--id WORD` or `--fork WORD`
/// where WORD is that option's value by the rule on [`Args`], returns the command line with
/// `--id=WORD` / `--fork=WORD` instead (to parse again: options may follow WORD), and the word
/// when it was `--id`'s.
pub fn spaced_value(argv: &[OsString], args: &Args) -> Option<(Vec<OsString>, Option<String>)> {
    let n = args.message.len();
    if n == 0 || argv.len() <= n {
        return None;
    }
    // The message is the tail of the command line (everything from its first word on).
    let split = argv.len() - n;
    if argv[split..] != args.message[..] {
        return None;
    }
    let flag = argv[split - 1].to_str()?;
    let word = args.message[0].to_str()?;
    let spaced_id = match flag {
        "--id" if is_target_word(word) => Some(word.to_string()),
        "--fork" if is_keep_word(word) => None,
        "--pane" if !word.is_empty() && panechat::context::Which::parse(word).is_ok() => None,
        _ => return None,
    };
    let mut v = argv[..split - 1].to_vec();
    v.push(format!("{flag}={word}").into());
    v.extend_from_slice(&argv[split + 1..]);
    Some((v, spaced_id))
}

impl Args {
    /// Records that `--id`'s value was written with a space (see [`spaced_value`]).
    pub fn set_spaced_id(&mut self, word: String) {
        self.spaced_id = Some(word);
    }

    /// Adds, to a "no such conversation" error about `--id WORD`, how to send WORD as text.
    fn explain(&self, e: Error) -> Error {
        match (e, &self.spaced_id) {
            (Error::NotFound(m), Some(w)) => Error::NotFound(format!(
                "{m}\n(`--id {w}` names a conversation; to pick one and send a message that starts with `{w}`, put `--` before the message: panechat q --id -- {w} …)"
            )),
            (e, _) => e,
        }
    }
}

static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNAL.store(sig, Ordering::SeqCst);
}

fn install_signal_handlers() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores into an atomic.
        unsafe {
            let _ = sigaction(sig, &action);
        }
    }
}

/// Whether Ctrl-C (SIGINT) interrupted the query (a cancel at the `--prompt` question is a
/// key, not a signal).
pub fn interrupted_by_ctrl_c() -> bool {
    SIGNAL.load(Ordering::SeqCst) == libc::SIGINT
}

fn interrupted() -> Option<Error> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        libc::SIGINT => Some(Error::Cancelled("interrupted".into())),
        libc::SIGTERM => Some(Error::Signalled {
            signal: libc::SIGTERM,
            message: "stopped (SIGTERM, e.g. `panechat kill`)".into(),
        }),
        sig => Some(Error::Signalled {
            signal: sig,
            message: "the terminal went away (SIGHUP)".into(),
        }),
    }
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let cfg = ctx.config()?;
    // A missing API key is reported before a conversation is created or a message typed.
    let pcfg = cfg.provider();
    provider::preflight(&pcfg)?;
    if let Some(w) = cfg.unset_key_warning() {
        super::output::err_line(&format!("panechat: warning: {w}"));
    }
    if let Some(raw) = &args.session {
        let named = ctx.named_session(raw)?;
        ctx.use_named_session(named);
    }
    let session = ctx.session()?;
    install_signal_handlers();
    let on_locked = args.on_locked.unwrap_or(if ui::can_ask() {
        OnLocked::Ask
    } else {
        OnLocked::Fail
    });
    let (input, target) = if args.retry {
        (Input::Retry, target(ctx, &cfg, &session, &args)?)
    } else {
        compose(ctx, &cfg, &session, &args)?
    };
    let request = Request {
        input,
        target,
        fork: args.fork.as_deref().map(parse_keep).transpose()?,
        model: args.model.clone(),
        system: args.system.clone(),
        stream: !args.no_stream,
        on_locked,
    };
    let ctx = &*ctx;
    let mut sink = Stdout::new(ctx);
    let mut term = Terminal::new(ctx, &cfg);
    let mut q = Query {
        paths: &ctx.paths,
        store: &ctx.store,
        session: &session,
        cfg: &cfg,
        provider: &pcfg,
        sink: &mut sink,
        ui: &mut term,
        clock: &SystemClock,
        publish: ctx,
    };
    match panechat::query::run(&mut q, request)? {
        Outcome::Answered { .. } => Ok(0),
        Outcome::AlreadyAnswered { id, turn } => show_stored(ctx, &id, &turn),
    }
}

/// The message, its attachments and its conversation. `--id` is resolved before a message
/// still to be typed (nothing is typed for a conversation that does not exist or is not yet
/// chosen), else once the message is read.
fn compose(ctx: &Ctx, cfg: &Config, session: &Session, args: &Args) -> Result<(Input, Where)> {
    // (until the question is read: typed ahead, it is not echoed before it is asked for)
    let no_echo = if args.prompt {
        ui::NoEcho::start()
    } else {
        None
    };
    let typed_later = args.prompt || (args.message.is_empty() && std::io::stdin().is_terminal());
    let early = match typed_later {
        true => Some(target(ctx, cfg, session, args)?),
        false => None,
    };
    // With --prompt the question is asked after the attachments are gathered and named.
    let typed = match args.prompt {
        true => None,
        false => Some(read_message(ctx, args)?),
    };
    let prepared = attachments(ctx, cfg, session, args)?;
    if let Some(line) = super::attach::summary_line(&prepared) {
        ctx.note(&line);
    }
    let text = match typed {
        Some(m) => m,
        None => {
            let m = prompt_message(&prepared)?;
            drop(no_echo);
            m
        }
    };
    let target = match early {
        Some(t) => t,
        None => target(ctx, cfg, session, args)?,
    };
    let attachments = prepared.into_iter().map(|p| p.attachment).collect();
    Ok((Input::New { text, attachments }, target))
}

/// What `--pane`, `--file`, piped stdin and `--selection` attach.
fn attachments(
    ctx: &Ctx,
    cfg: &Config,
    session: &Session,
    args: &Args,
) -> Result<Vec<panechat::context::Prepared>> {
    let named = args.session.as_ref().map(|_| session.clone());
    let on_command_line = args
        .message
        .iter()
        .map(|w| w.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    super::attach::gather(
        ctx,
        cfg,
        &super::attach::Wanted {
            pane: args.pane.as_deref(),
            lines: args.lines,
            files: &args.file,
            stdin: !args.message.is_empty(),
            selection: args.selection,
            message: &on_command_line,
            from: named.as_ref(),
        },
    )
}

/// The conversation the command line names: `--new`, `--id` (resolved now), or the default.
fn target(ctx: &Ctx, cfg: &Config, session: &Session, args: &Args) -> Result<Where> {
    if args.new {
        return Ok(Where::New);
    }
    let Some(t) = &args.id else {
        return Ok(Where::Default);
    };
    let mut term = Terminal::new(ctx, cfg);
    let t = Target::parse(t)?;
    panechat::query::resolve_target(&ctx.store, &ctx.paths, session, &mut term, &t)
        .map(Where::Chosen)
        .map_err(|e| args.explain(e))
}

/// `--retry` of a message whose turn is stored already: the stored reply.
fn show_stored(ctx: &Ctx, id: &ConversationId, turn: &Turn) -> Result<i32> {
    ctx.note(&format!(
        "panechat: this message was already answered in conversation {id} (stored {}); it was not sent again. The stored reply:",
        panechat::time::ago(&turn.finished_at)
    ));
    let text = if std::io::stdout().is_terminal() {
        title::strip_terminal_controls(&turn.assistant)
    } else {
        std::borrow::Cow::Borrowed(turn.assistant.as_str())
    };
    let mut text = text.into_owned();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    super::output::out(&text)?;
    Ok(0)
}

/// The reply on stdout as it streams: without controls, terminal or not (`show --raw` and
/// `show --json` give it as stored).
struct Stdout<'c> {
    ctx: &'c Ctx,
    out: std::io::StdoutLock<'static>,
    /// Whether any text was written.
    printed: bool,
    /// Whether the last text ended its line.
    at_line_start: bool,
}

impl<'c> Stdout<'c> {
    fn new(ctx: &'c Ctx) -> Stdout<'c> {
        Stdout {
            ctx,
            out: std::io::stdout().lock(),
            printed: false,
            at_line_start: false,
        }
    }
}

impl Sink for Stdout<'_> {
    fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let shown = title::strip_terminal_controls(text);
        if let Err(e) = self
            .out
            .write_all(shown.as_bytes())
            .and_then(|_| self.out.flush())
        {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                self.ctx.debug(&format!("cannot write the reply: {e}"));
            }
        }
        self.printed = true;
        self.at_line_start = text.ends_with('\n');
    }

    fn end(&mut self, complete: bool) {
        if (complete || self.printed) && !self.at_line_start {
            let _ = writeln!(self.out);
        }
        let _ = self.out.flush();
    }
}

/// The person at this terminal, and the multiplexer's popups.
struct Terminal<'c> {
    ctx: &'c Ctx,
    cfg: &'c Config,
    line: WaitLine,
}

impl<'c> Terminal<'c> {
    fn new(ctx: &'c Ctx, cfg: &'c Config) -> Terminal<'c> {
        Terminal {
            ctx,
            cfg,
            line: WaitLine {
                tty: std::io::stderr().is_terminal(),
                quiet: ctx.quiet,
                shown: String::new(),
                printed_once: false,
            },
        }
    }
}

impl Ui for Terminal<'_> {
    fn note(&mut self, text: &str) {
        self.ctx.note(text);
    }

    fn warn(&mut self, text: &str) {
        eprintln!("{text}");
    }

    fn stale(&mut self, what: &str, error: &Error) {
        self.ctx.warn_stale(what, Some(error));
    }

    fn log(&mut self, level: &str, text: &str) {
        self.ctx.log(level, text);
    }

    fn interrupted(&self) -> Option<Error> {
        interrupted()
    }

    fn waiting(&mut self, line: Option<&str>) {
        match line {
            Some(l) => self.line.show(l.to_string()),
            None => self.line.clear(),
        }
    }

    fn can_ask(&self) -> bool {
        ui::can_ask()
    }

    fn pick(&mut self, active: Option<&ConversationId>) -> Result<Resolved> {
        Ok(
            match ui::pick(self.ctx, "Conversation (type to filter)", active)? {
                Picked::New => Resolved::New,
                Picked::Id(id) => Resolved::Id(id),
            },
        )
    }

    fn lock_question(&mut self, q: &LockQuestion<'_>) -> Result<Asked> {
        ask(self.ctx, self.cfg, q)
    }
}

impl Publish for Ctx {
    fn publish(&self, id: &ConversationId) {
        self.publish_here_and(id);
    }

    fn watch(&self, run: &Run) -> Option<std::os::fd::OwnedFd> {
        spawn_watcher(self, run)
    }
}

/// Starts `panechat refresh --after-pid` in its own session when a multiplexer shows this run
/// ([`watched`]): it waits for this process to end (its stdin is a pipe whose only writer is
/// this process) and, if the run's record is still there (this process was killed), removes it
/// and republishes the panes. The returned write end must live as long as the run. Elsewhere
/// nothing is started: whoever reads the runs (`status`, `ls`, `sessions`, the next query)
/// checks that each run's process is alive.
fn spawn_watcher(ctx: &Ctx, run: &Run) -> Option<std::os::fd::OwnedFd> {
    if !watched(ctx, run) {
        return None;
    }
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ok()?;
    let args = [
        "refresh".to_string(),
        "--after-pid".to_string(),
        run.pid.to_string(),
        "--start".to_string(),
        run.start.to_string(),
    ];
    match spawn_in_own_session(&panechat::env::this_binary(), &args, &read) {
        Ok(()) => Some(write),
        Err(e) => {
            ctx.debug(&format!("cannot start the run watcher: {e}"));
            None
        }
    }
}

/// Whether a pane of a multiplexer that shows pane states (tmux, Zellij, WezTerm) shows this
/// run: its own pane, or one whose active conversation is the run's.
fn watched(ctx: &Ctx, run: &Run) -> bool {
    use panechat::session::Multiplexer;
    let shows_states = |m: Multiplexer| {
        matches!(
            m,
            Multiplexer::Tmux | Multiplexer::Zellij | Multiplexer::Wezterm
        )
    };
    if shows_states(run.pane.multiplexer) {
        return true;
    }
    match panechat::store::mapping::all(&ctx.paths) {
        Ok(recs) => recs.iter().any(|r| {
            shows_states(r.pane.multiplexer)
                && r.active.as_ref().map(|a| a.as_str()) == Some(run.conversation.as_str())
        }),
        Err(_) => true,
    }
}

/// Starts `exe ARGS…` with `stdin` as its standard input, stdout on `/dev/null`, stderr
/// inherited, in a session of its own (it must survive signals sent to this process's group
/// or session: Ctrl-C, a closed pane), and does not wait for it: it outlives this process by
/// design. `posix_spawn` rather than `fork`: this process is not copied.
fn spawn_in_own_session(
    exe: &std::path::Path,
    args: &[String],
    stdin: &std::os::fd::OwnedFd,
) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    extern "C" {
        static environ: *const *mut libc::c_char;
    }
    let cstr = |b: &[u8]| CString::new(b).map_err(std::io::Error::other);
    let prog = cstr(exe.as_os_str().as_bytes())?;
    let mut owned = vec![prog.clone()];
    for a in args {
        owned.push(cstr(a.as_bytes())?);
    }
    let mut argv: Vec<*mut libc::c_char> = owned.iter().map(|c| c.as_ptr().cast_mut()).collect();
    argv.push(std::ptr::null_mut());
    // SAFETY: every pointer given is valid for the call (the C strings and argv outlive it,
    // the attribute objects are initialised before use and destroyed after), and `environ` is
    // the process's environment, read once by posix_spawn.
    unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        libc::posix_spawn_file_actions_init(&mut actions);
        libc::posix_spawnattr_init(&mut attr);
        libc::posix_spawn_file_actions_adddup2(&mut actions, stdin.as_raw_fd(), 0);
        libc::posix_spawn_file_actions_addopen(
            &mut actions,
            1,
            c"/dev/null".as_ptr(),
            libc::O_WRONLY,
            0,
        );
        // A clean signal mask and SIGPIPE as a new program expects it.
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::posix_spawnattr_setsigmask(&mut attr, &none);
        let mut default: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut default);
        libc::sigaddset(&mut default, libc::SIGPIPE);
        libc::posix_spawnattr_setsigdefault(&mut attr, &default);
        libc::posix_spawnattr_setflags(
            &mut attr,
            libc::POSIX_SPAWN_SETSID
                | (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short,
        );
        let mut pid: libc::pid_t = 0;
        let rc = libc::posix_spawn(
            &mut pid,
            prog.as_ptr(),
            &actions,
            &attr,
            argv.as_ptr(),
            environ,
        );
        libc::posix_spawn_file_actions_destroy(&mut actions);
        libc::posix_spawnattr_destroy(&mut attr);
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
    }
    Ok(())
}

fn read_message(ctx: &Ctx, args: &Args) -> Result<String> {
    let text = if !args.message.is_empty() {
        let mut parts = Vec::with_capacity(args.message.len());
        for (i, a) in args.message.iter().enumerate() {
            parts.push(a.to_str().ok_or_else(|| Error::BadArgument {
                message: format!("message word {} is not valid UTF-8 text", i + 1),
            })?);
        }
        parts.join(" ")
    } else if !std::io::stdin().is_terminal() {
        let mut buf = Vec::new();
        std::io::stdin()
            .take(MAX_MESSAGE_BYTES as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::ReadInput {
                message: format!("cannot read the message from stdin: {e}"),
                source: e,
            })?;
        check_size(buf.len())?;
        String::from_utf8(buf).map_err(|e| {
            Error::BadArgument {
                message: format!(
                    "the message on stdin is not valid UTF-8 text (bad byte at offset {}); convert it first, e.g. with iconv",
                    e.utf8_error().valid_up_to()
                ),
            }
        })?
    } else {
        edit_message(ctx)?
    };
    check_size(text.len())?;
    if text.trim().is_empty() {
        return Err(Error::BadArgument {
            message: "the message is empty; pass it as arguments, on stdin, or write it in $EDITOR"
                .into(),
        });
    }
    Ok(text)
}

/// `--prompt`: the question, read on this terminal after naming what is attached.
fn prompt_message(prepared: &[panechat::context::Prepared]) -> Result<String> {
    let about = match prepared.first() {
        Some(p) => format!(
            "about {}",
            panechat::title::sanitize_title(&p.attachment.source)
        ),
        None => "panechat".into(),
    };
    eprintln!(
        "{}",
        console::style(format!("Ask {about}: Enter sends, Esc cancels")).dim()
    );
    let text = ui::read_line("› ")?
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| Error::Cancelled("no question asked; nothing was sent".into()))?;
    check_size(text.len())?;
    Ok(text)
}

fn check_size(n: usize) -> Result<()> {
    if n > MAX_MESSAGE_BYTES {
        return Err(Error::BadArgument {
            message: format!(
                "the message is larger than {} MiB; send a shorter one (or a file's relevant part)",
                MAX_MESSAGE_BYTES / 1024 / 1024
            ),
        });
    }
    Ok(())
}

fn edit_message(ctx: &Ctx) -> Result<String> {
    let editor = ctx
        .env
        .get("VISUAL")
        .or(ctx.env.get("EDITOR"))
        .unwrap_or("vi")
        .to_string();
    panechat::paths::ensure_dir(&ctx.paths.drafts())?;
    let file = ctx
        .paths
        .drafts()
        .join(format!("message-{}.md", std::process::id()));
    panechat::store::atomic::write_atomic(&file, b"")?;
    // $EDITOR may carry arguments ("code -w"), so it is run by the shell, with the file as $1.
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("panechat-editor")
        .arg(&file)
        .status()
        .map_err(|e| Error::Spawn {
            message: format!("cannot start the editor `{editor}`: {e}; set $EDITOR"),
            source: Some(e),
        })?;
    let text = panechat::files::read(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    if !status.success() {
        return Err(Error::Cancelled(format!(
            "the editor `{editor}` exited with {status}; nothing sent"
        )));
    }
    String::from_utf8(text).map_err(|_| Error::BadArgument {
        message: "the message is not valid UTF-8 text".into(),
    })
}

/// Parses `--fork=N` (`all` keeps every turn).
pub fn parse_keep(n: &str) -> Result<Option<usize>> {
    if n == "all" {
        return Ok(None);
    }
    n.parse::<usize>()
        .map(Some)
        .map_err(|_| Error::BadArgument {
            message: format!("--fork takes the number of turns to keep, e.g. --fork=2, got `{n}`"),
        })
}

/// The live "waiting for …" line.
struct WaitLine {
    tty: bool,
    quiet: bool,
    shown: String,
    printed_once: bool,
}

impl WaitLine {
    fn show(&mut self, text: String) {
        if self.quiet || text == self.shown {
            return;
        }
        let mut err = std::io::stderr();
        if self.tty {
            // One terminal row, so \r and erase-line redraw it in place.
            let width = console::Term::stderr()
                .size_checked()
                .map_or(80, |(_, w)| w as usize);
            let row = ui::truncate(
                &title::strip_terminal_controls(&text),
                width.saturating_sub(1).max(10),
            );
            let _ = write!(err, "\r\x1b[2K{row}");
        } else if !self.printed_once {
            let _ = writeln!(err, "{}", title::strip_terminal_controls(&text));
            self.printed_once = true;
        }
        let _ = err.flush();
        self.shown = text;
    }

    fn clear(&mut self) {
        if self.tty && !self.shown.is_empty() && !self.quiet {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
        self.shown.clear();
    }
}

/// The lock question: in the multiplexer's popup when there is one (and `lock.prompt` is not
/// `inline`), else (or when it could not be shown) in this terminal.
fn ask(ctx: &Ctx, cfg: &Config, q: &LockQuestion<'_>) -> Result<Asked> {
    use panechat::session::Multiplexer;
    let mux = panechat::session::innermost_multiplexer(&ctx.env);
    if cfg.lock_prompt != PromptMode::Inline && mux.is_some() {
        let exe = panechat::env::this_binary().to_string_lossy().into_owned();
        let argv = vec![
            exe,
            "lock-prompt".into(),
            "--id".into(),
            q.summary.id.to_string(),
        ];
        let pass: Vec<(String, String)> = ["PANECHAT_HOME", "PANECHAT_CONFIG"]
            .into_iter()
            .filter_map(|var| Some((var.to_string(), ctx.env.get(var)?.to_string())))
            .collect();
        let asked = match mux {
            Some(Multiplexer::Zellij) => ask_zellij(ctx, q, argv, &pass)?,
            _ => ask_popup(ctx, cfg, q, &argv, &pass),
        };
        if let Some(asked) = asked {
            return Ok(asked);
        }
        ctx.debug("the multiplexer popup could not be shown; asking here");
    }
    if ui::can_ask() {
        return ui::lock_question(q.what, q.holder, None).map(|(answer, _)| Asked::Answer(answer));
    }
    Err(Error::Locked(format!(
        "{} is still locked by {}, and there is no terminal to ask what to do",
        q.what, q.holder
    )))
}

/// The lock question in a tmux popup, else through the WezTerm plugin.
fn ask_popup(
    ctx: &Ctx,
    cfg: &Config,
    q: &LockQuestion<'_>,
    argv: &[String],
    pass: &[(String, String)],
) -> Option<Asked> {
    if let adapters::Popup::Answer(a) = adapters::popup_prompt(&ctx.env, argv, pass) {
        return Some(Asked::Answer(a));
    }
    if panechat::session::innermost_multiplexer(&ctx.env)
        != Some(panechat::session::Multiplexer::Wezterm)
    {
        return None;
    }
    let (id, title) = (q.summary.id.as_str(), q.summary.display_title());
    let go = || interrupted().is_none();
    let t = cfg.lock_prompt_timeout;
    super::lock_answer::ask_plugin(ctx, t, id, &title, q.holder, go).map(Asked::Answer)
}

/// The lock question in a Zellij floating pane, told which pane asks.
fn ask_zellij(
    ctx: &Ctx,
    q: &LockQuestion<'_>,
    mut argv: Vec<String>,
    pass: &[(String, String)],
) -> Result<Option<Asked>> {
    // The question's pane has a pane id of its own: it is told which pane asks.
    let pane = ctx.env.get("ZELLIJ_PANE_ID");
    let place = pane.filter(|p| !p.is_empty()).map(|p| {
        title::sanitize_title(&format!(
            "zellij pane {}",
            panechat::session::zellij_pane_number(p)
        ))
    });
    if let Some(p) = &place {
        argv.extend(["--asker".into(), p.clone()]);
    }
    // The answer also comes through a question of its own: the `zellij run` that waits for the
    // popup's exit status can be cut off by Zellij while the question is still on screen (it
    // then ends with status 0).
    let (id, title) = (q.summary.id.as_str(), q.summary.display_title());
    let Some(p) = super::lock_answer::record(ctx, id, &title, q.holder, pane) else {
        return Ok(None);
    };
    argv.extend(["--token".into(), p.question().token.clone()]);
    let name = match &place {
        Some(place) => format!("panechat: {place} asks"),
        None => "panechat: a query asks".into(),
    };
    panechat::query::zellij_question(&argv, pass, &name, pane, &p, q.waiter, &interrupted)
}
