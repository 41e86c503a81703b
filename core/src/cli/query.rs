//! `panechat query`: ask in this pane's conversation.
//!
//! Order of work: read the message, resolve the conversation (a new one is only reserved: it is
//! created with its first turn), save the message as a draft of its own with its message id (so
//! nothing typed is lost), register the run (from then on the pane shows that
//! conversation and what the run does: see [`panechat::state`]), take the conversation's lock
//! (waiting, asking or failing per `--on-locked`), for a retry look for the message's id in the
//! log (a stored message is not sent again), load the history, stream the reply, append the turn
//! durably, clear the draft, make the conversation the session's active one, then generate a
//! title. Once the turn is stored, nothing that follows makes the query fail: a step that fails
//! after it is a warning. Each change of the run's state is published to every pane that shows the
//! conversation; a watcher process republishes if this process is killed.
//!
//! The session's mapping changes only once the turn is stored: a query that gives up, is
//! cancelled or fails leaves the session's active and previous conversations as they were.
//!
//! A failed run (provider error, timeout, Ctrl-C, `panechat kill`) appends nothing: the
//! conversation stays exactly as it was, and the message (with any partial reply) stays in the
//! draft, which `panechat query --retry` sends again.

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use panechat::adapters::{self, LockAnswer};
use panechat::config::{Config, DefaultId, PromptMode};
use panechat::lock::{self, LockGuard, WaitOutcome, Waiter};
use panechat::provider::{self, ChatRequest, Message, Role, StreamEvent, StreamItem, Usage};
use panechat::runs::{Registration, RunState};
use panechat::session::Session;
use panechat::store::conversation::{new_message_id, snippet, ConversationId, Summary, Turn};
use panechat::store::{mapping, Draft, NewConversation, NewSettings};
use panechat::target::{self, Target};
use panechat::title;
use panechat::{Error, Result};

use super::ctx::Ctx;
use super::ui::{self, Picked};

/// Largest message accepted, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// What to do when the conversation is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnLocked {
    /// Wait `lock.wait`, then ask (popup in a multiplexer, else in this terminal).
    Ask,
    /// Wait until it is free, however long.
    Wait,
    /// Wait `lock.wait`, then start a new conversation.
    New,
    /// Wait `lock.wait`, then fork the conversation and continue in the copy.
    Fork,
    /// Wait `lock.wait`, then give up (exit 75).
    Fail,
}

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

    /// Before $EDITOR opens, checks that a conversation named with `--id` exists, so nothing is
    /// typed for a query that cannot run.
    fn check_target(&self, ctx: &Ctx) -> Result<()> {
        let Some(t) = &self.id else {
            return Ok(());
        };
        let res = match Target::parse(t)? {
            Target::Pick => return Ok(()),
            Target::Id(p) => target::resolve_prefix(&ctx.store, &p).map(drop),
            other => {
                let s = match &ctx.session {
                    Some(s) => s.clone(),
                    None => panechat::session::resolve(&ctx.env)?,
                };
                target::resolve_keyword(&ctx.store, &s.key, &other).map(drop)
            }
        };
        res.map_err(|e| self.explain(e))
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
pub fn run(ctx: &mut Ctx, mut args: Args) -> Result<i32> {
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
    // (until the question is read: typed ahead, it is not echoed before it is asked for)
    let no_echo = if args.prompt {
        ui::NoEcho::start()
    } else {
        None
    };
    let on_locked = args.on_locked.unwrap_or(if ui::can_ask() {
        OnLocked::Ask
    } else {
        OnLocked::Fail
    });

    let (message, retried, attachments) = if args.retry {
        // The newest unanswered message of this pane (one that no running query is sending).
        let mut kept = ctx.store.drafts(&session.key);
        let d = kept.pop().ok_or_else(|| {
            Error::NotFound("this session has no unanswered message to retry".into())
        })?;
        if !kept.is_empty() {
            ctx.note(&format!(
                "panechat: sending again your newest unanswered message (\"{}\", {}); {} older one(s) kept: `panechat q --retry` again sends the next",
                snippet(&d.message),
                panechat::time::ago(&d.at),
                kept.len()
            ));
        }
        if let Some(id) = d
            .conversation
            .as_ref()
            .filter(|_| ctx.store.draft_answered(&d))
        {
            // Stored already (wherever this retry would go now): nothing is sent again.
            if let Some(turn) = ctx.store.find_message(id, &d.message_id)? {
                return already_answered(ctx, &session, None, None, id, &d, &turn);
            }
        }
        (d.message.clone(), Some(d.clone()), d.attachments)
    } else {
        // `--id` alone with the message still to be typed: the conversation is picked first,
        // then the message is written (nothing is typed for a conversation not yet chosen).
        let typed_later =
            args.prompt || (args.message.is_empty() && std::io::stdin().is_terminal());
        if typed_later
            && args
                .id
                .as_deref()
                .is_some_and(|t| matches!(Target::parse(t), Ok(Target::Pick)))
        {
            match resolve_target(ctx, &session, &Target::Pick)? {
                Resolved::New => {
                    args.id = None;
                    args.new = true;
                }
                Resolved::Id(id) => args.id = Some(id.to_string()),
            }
        }
        // With --prompt the question is asked after the attachments are gathered and named.
        let typed = if args.prompt {
            None
        } else {
            Some(read_message(ctx, &args)?)
        };
        let named = args.session.as_ref().map(|_| session.clone());
        let on_command_line = args
            .message
            .iter()
            .map(|w| w.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        let prepared = super::attach::gather(
            ctx,
            &cfg,
            &super::attach::Wanted {
                pane: args.pane.as_deref(),
                lines: args.lines,
                files: &args.file,
                stdin: !args.message.is_empty(),
                selection: args.selection,
                message: &on_command_line,
                from: named.as_ref(),
            },
        )?;
        if let Some(line) = super::attach::summary_line(&prepared) {
            ctx.note(&line);
        }
        let message = match typed {
            Some(m) => m,
            None => {
                let m = prompt_message(&prepared)?;
                drop(no_echo);
                m
            }
        };
        let attachments = prepared.into_iter().map(|p| p.attachment).collect();
        (message, None, attachments)
    };

    ctx.store.ensure_dirs()?;
    // The message's identity, kept by a retry: stored with its turn, it is how a second
    // attempt of a stored message is recognised.
    let message_id = retried
        .as_ref()
        .map(|d| d.message_id.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(new_message_id);
    let (mut summary, mut fresh) = resolve(ctx, &cfg, &session, &args, retried.as_ref())?;
    let pid = std::process::id();
    let mut draft = Draft {
        session: session.key.clone(),
        message_id: message_id.clone(),
        conversation: Some(summary.id.clone()),
        new_conversation: fresh.as_ref().map(new_settings),
        message: message.clone(),
        attachments: attachments.clone(),
        partial_reply: String::new(),
        error: String::new(),
        at: retried
            .as_ref()
            .map(|d| d.at.clone())
            .unwrap_or_else(panechat::time::now_rfc3339),
        pid,
        start: panechat::session::process_start_time(pid).unwrap_or(0),
    };
    ctx.store.save_draft(&draft)?;
    if let Some(old) = retried.as_ref().filter(|d| d.message_id.is_empty()) {
        // A draft of an older version, now kept under the message's identity.
        ctx.store.clear_draft(old)?;
    }

    let mut reg = Registration::register(
        &ctx.paths,
        &session,
        panechat::runs::RunKind::Query,
        summary.id.as_str(),
        RunState::WaitingForLock,
        pcfg.kind.as_str(),
        &cfg.model,
    )?;
    let _watcher = spawn_watcher(ctx, &reg);
    let locked = lock_conversation(ctx, &cfg, summary, fresh, on_locked, &mut reg);
    let (mut guard, locked_summary, locked_fresh) = match locked {
        Ok(x) => x,
        Err(e) => {
            let id = reg.run().conversation.clone();
            drop(reg);
            if let Some(id) = ConversationId::from_trusted(&id) {
                ctx.publish_here_and(&id);
            }
            return Err(e);
        }
    };
    summary = locked_summary;
    fresh = locked_fresh;
    guard.write_holder(&lock::Holder::this_process(
        &session,
        panechat::runs::RunKind::Query,
    ))?;
    if fresh.is_some() && ctx.store.exists(&summary.id) {
        // Created meanwhile by another attempt at the same message.
        fresh = None;
        summary = ctx.store.summary(&summary.id)?;
    }
    if draft.conversation.as_ref() != Some(&summary.id) {
        draft.conversation = Some(summary.id.clone());
        draft.new_conversation = fresh.as_ref().map(new_settings);
        ctx.store.save_draft(&draft)?;
    }
    if retried.is_some() && fresh.is_none() {
        if let Some(turn) = ctx.store.find_message(&summary.id, &message_id)? {
            return already_answered(
                ctx,
                &session,
                Some(guard),
                Some(reg),
                &summary.id,
                &draft,
                &turn,
            );
        }
    }

    let opened = match &fresh {
        Some(_) => panechat::store::Opened {
            summary: summary.clone(),
            history: provider::History::Bytes(std::sync::Arc::new(Vec::new())),
            rebuilt: false,
        },
        None => ctx.store.open_for_query(&summary.id)?,
    };
    if opened.rebuilt {
        ctx.debug(&format!(
            "conversation {}: history rebuilt from its log",
            summary.id
        ));
    }
    let mut conv = opened.summary;
    let new_model = args
        .model
        .clone()
        .filter(|m| conv.model.as_ref() != Some(m));
    let new_system = args
        .system
        .clone()
        .filter(|s| conv.system.as_ref() != Some(s));
    match fresh.as_mut() {
        // A conversation created with this turn records them in its header.
        Some(new) => {
            if new_model.is_some() {
                new.model = new_model.clone();
                conv.model = new_model;
            }
            if new_system.is_some() {
                new.system = new_system.clone();
                conv.system = new_system;
            }
        }
        None => {
            let stale = ctx
                .store
                .set_settings(&guard, &mut conv, new_model, new_system)?;
            ctx.warn_stale("the conversation's new settings", stale.as_ref());
        }
    }
    let model = conv.model.clone().unwrap_or_else(|| cfg.model.clone());
    reg.set_model(pcfg.kind.as_str(), &model);
    reg.set(summary.id.as_str(), RunState::Streaming)?;
    ctx.publish_here_and(&summary.id);

    let messages = vec![Message {
        role: Role::User,
        content: message.clone(),
        attachments: attachments.clone(),
    }];
    let request = ChatRequest {
        model: model.clone(),
        system: conv.system.clone(),
        history: Some(opened.history),
        messages,
        stream: !args.no_stream,
    };

    ctx.log(
        "INFO",
        &format!(
            "query in {} ({} turns) via {} model {}: message of {} bytes",
            summary.id,
            conv.turns,
            pcfg.kind,
            model,
            message.len()
        ),
    );
    let started_at = panechat::time::now_rfc3339();
    let t0 = Instant::now();
    let outcome = stream(ctx, &cfg, &pcfg, request, args.no_stream);
    let reply = match outcome {
        Ok(r) => r,
        Err((err, partial)) => {
            ctx.log(
                "ERROR",
                &format!(
                    "query in {} failed after {:?} with {} bytes received: {err}",
                    summary.id,
                    t0.elapsed(),
                    partial.len()
                ),
            );
            draft.partial_reply = partial;
            draft.error = err.to_string();
            let _ = ctx.store.save_draft(&draft);
            if fresh.is_some() {
                // The conversation it was to start does not exist: nothing to leave locked.
                let _ = guard.unlink();
            } else {
                drop(guard);
            }
            drop(reg);
            ctx.publish_here_and(&summary.id);
            return Err(match err {
                Error::Cancelled(m) => Error::Cancelled(format!("{m}; nothing was added to the conversation, your message is kept: `panechat q --retry` sends it again")),
                other => Error::RunFailed {
                    source: Box::new(other),
                },
            });
        }
    };
    let turn = Turn {
        user: message,
        assistant: reply.text,
        model: reply.model.unwrap_or(model),
        usage: reply.usage,
        started_at,
        finished_at: panechat::time::now_rfc3339(),
        finish_reason: reply.finish_reason,
        truncated: reply.truncated,
        attachments,
        message_id: Some(message_id),
    };
    let model_for_title = turn.model.clone();
    ctx.log(
        "INFO",
        &format!(
            "reply in {}: {} bytes in {:?}, tokens in/out {:?}/{:?}{}",
            summary.id,
            turn.assistant.len(),
            t0.elapsed(),
            turn.usage.input_tokens,
            turn.usage.output_tokens,
            if turn.truncated {
                ", truncated at provider.max_reply_bytes"
            } else {
                ""
            }
        ),
    );
    let stored = match fresh.take() {
        Some(new) => ctx
            .store
            .create(NewConversation {
                turns: vec![turn.clone()],
                ..new
            })
            .map(|d| {
                conv = d.value;
                d.stale
            }),
        None => ctx.store.append_turn(&guard, &mut conv, &turn),
    };
    let stale = match stored {
        Ok(stale) => stale,
        Err(e) => {
            // Nothing was stored: the message stays kept, as for a failed run.
            ctx.log(
                "ERROR",
                &format!("the reply in {} could not be stored: {e}", summary.id),
            );
            draft.partial_reply = turn.assistant;
            draft.error = e.to_string();
            let _ = ctx.store.save_draft(&draft);
            drop(guard);
            drop(reg);
            ctx.publish_here_and(&summary.id);
            return Err(Error::Other(format!(
                "the reply could not be stored: {e}\nnothing was added to the conversation, your message is kept: `panechat q --retry` sends it again"
            )));
        }
    };
    // From here on the turn is stored: nothing that follows turns this into a failure.
    ctx.warn_stale("the reply", stale.as_ref());
    answered(ctx, &session, &summary.id, &draft);

    if conv.title.is_none() && cfg.title_generate && interrupted().is_none() {
        if let Err(e) = reg.set(summary.id.as_str(), RunState::GeneratingTitle) {
            ctx.debug(&format!("cannot record the run's state: {e}"));
        }
        ctx.publish_here_and(&summary.id);
        let first = if conv.turns == 1 {
            Some(turn)
        } else {
            ctx.store.first_turn(&summary.id).ok().flatten()
        };
        match first
            .map(|t| generate_title(&cfg, &pcfg, &model_for_title, &t))
            .unwrap_or_else(|| Ok(String::new()))
        {
            Ok(t) if !t.is_empty() => match ctx.store.set_title(&guard, &summary.id, &t, "model") {
                Ok(d) => ctx.warn_stale("the title", d.stale.as_ref()),
                Err(e) => ctx.debug(&format!("the generated title was not stored: {e}")),
            },
            Ok(_) => ctx.debug("the model's title was empty"),
            Err(e) => ctx.debug(&format!("no title generated: {e}")),
        }
    }
    drop(guard);
    drop(reg);
    ctx.publish_here_and(&summary.id);
    Ok(0)
}

/// What follows a stored turn: its draft is removed and the conversation becomes the session's
/// active one. The turn is stored already, so a failure here is a warning.
fn answered(ctx: &Ctx, session: &Session, id: &ConversationId, draft: &Draft) {
    if let Err(e) = ctx.store.clear_draft(draft) {
        eprintln!("panechat: warning: the reply is stored, but its draft could not be removed ({e});\n  `panechat q --retry` recognises it as answered and does not send it again");
    }
    if let Err(e) = mapping::activate(&ctx.paths, session, id) {
        eprintln!("panechat: warning: the reply is stored in {id}, but it could not be made this pane's conversation ({e}); `panechat use {id}` does it");
    }
}

/// `--retry` of a message whose turn is stored already (a query was killed after storing it):
/// nothing is sent or stored again; the stored reply is shown.
fn already_answered(
    ctx: &Ctx,
    session: &Session,
    guard: Option<LockGuard>,
    reg: Option<Registration>,
    id: &ConversationId,
    draft: &Draft,
    turn: &Turn,
) -> Result<i32> {
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
    answered(ctx, session, id, draft);
    drop(guard);
    drop(reg);
    ctx.publish_here_and(id);
    super::output::out(&text)?;
    Ok(0)
}

/// The settings a draft keeps for the conversation its message starts.
fn new_settings(new: &NewConversation) -> NewSettings {
    NewSettings {
        model: new.model.clone(),
        system: new.system.clone(),
    }
}

/// Starts `panechat refresh --after-pid` in its own session: it waits for this process to end
/// (its stdin is a pipe whose only writer is this process) and, if the run's record is still
/// there (this process was killed), removes it and republishes the panes. The returned write
/// end must live as long as the run.
fn spawn_watcher(ctx: &Ctx, reg: &Registration) -> Option<std::os::fd::OwnedFd> {
    use std::os::unix::process::CommandExt;
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ok()?;
    let exe = panechat::env::this_binary();
    let run = reg.run();
    let mut cmd = std::process::Command::new(exe);
    cmd.args([
        "refresh",
        "--after-pid",
        &run.pid.to_string(),
        "--start",
        &run.start.to_string(),
    ])
    .stdin(std::process::Stdio::from(read))
    .stdout(std::process::Stdio::null());
    // SAFETY: setsid is async-signal-safe; the watcher must survive signals sent to this
    // process's group or session (Ctrl-C, a closed pane).
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    match cmd.spawn() {
        Ok(child) => {
            // Not waited for: it outlives this process by design.
            std::mem::forget(child);
            Some(write)
        }
        Err(e) => {
            ctx.debug(&format!("cannot start the run watcher: {e}"));
            None
        }
    }
}

fn read_message(ctx: &Ctx, args: &Args) -> Result<String> {
    let text = if !args.message.is_empty() {
        let mut parts = Vec::with_capacity(args.message.len());
        for (i, a) in args.message.iter().enumerate() {
            parts.push(a.to_str().ok_or_else(|| {
                Error::Usage(format!("message word {} is not valid UTF-8 text", i + 1))
            })?);
        }
        parts.join(" ")
    } else if !std::io::stdin().is_terminal() {
        let mut buf = Vec::new();
        std::io::stdin()
            .take(MAX_MESSAGE_BYTES as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::Other(format!("cannot read the message from stdin: {e}")))?;
        check_size(buf.len())?;
        String::from_utf8(buf).map_err(|e| {
            Error::Usage(format!(
                "the message on stdin is not valid UTF-8 text (bad byte at offset {}); convert it first, e.g. with iconv",
                e.utf8_error().valid_up_to()
            ))
        })?
    } else {
        args.check_target(ctx)?;
        edit_message(ctx)?
    };
    check_size(text.len())?;
    if text.trim().is_empty() {
        return Err(Error::Usage(
            "the message is empty; pass it as arguments, on stdin, or write it in $EDITOR".into(),
        ));
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
        return Err(Error::Usage(format!(
            "the message is larger than {} MiB; send a shorter one (or a file's relevant part)",
            MAX_MESSAGE_BYTES / 1024 / 1024
        )));
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
        .map_err(|e| {
            Error::Other(format!(
                "cannot start the editor `{editor}`: {e}; set $EDITOR"
            ))
        })?;
    let text = panechat::files::read(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    if !status.success() {
        return Err(Error::Cancelled(format!(
            "the editor `{editor}` exited with {status}; nothing sent"
        )));
    }
    String::from_utf8(text).map_err(|_| Error::Usage("the message is not valid UTF-8 text".into()))
}

/// Decides which conversation this query goes to: an existing one (created now for --fork), or
/// one to create with this query's turn (--new and the like; returned with what it starts with,
/// so a first turn that fails leaves no conversation).
fn resolve(
    ctx: &mut Ctx,
    cfg: &Config,
    session: &Session,
    args: &Args,
    retry: Option<&Draft>,
) -> Result<(Summary, Option<NewConversation>)> {
    if args.new {
        return Ok(new_conversation(ctx, cfg, args));
    }
    let retry_id = retry.and_then(|d| d.conversation.clone());
    if let (None, Some(d), Some(id)) = (&args.id, retry, &retry_id) {
        if let (Some(settings), false) = (&d.new_conversation, ctx.store.exists(id)) {
            // The message was to start a conversation: it still does, under the same id.
            let new = NewConversation {
                id: Some(id.clone()),
                model: args.model.clone().or_else(|| settings.model.clone()),
                system: args.system.clone().or_else(|| settings.system.clone()),
                ..Default::default()
            };
            return Ok((ctx.store.reserve(&new), Some(new)));
        }
    }
    let explicit = match (&args.id, retry_id) {
        (Some(t), _) => Some(Target::parse(t)?),
        (None, Some(id)) if ctx.store.exists(&id) => Some(Target::Id(id.to_string())),
        _ => None,
    };
    let base = match explicit {
        Some(t) => Some(resolve_target(ctx, session, &t).map_err(|e| args.explain(e))?),
        None => None,
    };
    let base = match base {
        Some(b) => b,
        None => {
            // A corrupt record is as good as none; a file that cannot be read is an error.
            let rec = match mapping::read(&ctx.paths, &session.key) {
                Err(e @ Error::Io { .. }) => return Err(e),
                other => other.ok().flatten(),
            };
            let pending_new = rec.as_ref().is_some_and(|r| r.pending_new);
            let active = rec.and_then(|r| r.active).filter(|id| ctx.store.exists(id));
            match active {
                Some(id) => Resolved::Id(id),
                // `panechat new`: this pane's next question starts a new conversation.
                None if pending_new => Resolved::New,
                None => match &cfg.default_id {
                    DefaultId::New => Resolved::New,
                    DefaultId::Last => {
                        match mapping::last(&ctx.paths).filter(|id| ctx.store.exists(id)) {
                            Some(id) => Resolved::Id(id),
                            None => Resolved::New,
                        }
                    }
                    DefaultId::Prev => {
                        match target::resolve_keyword(&ctx.store, &session.key, &Target::Prev) {
                            Ok(id) => Resolved::Id(id),
                            Err(_) => Resolved::New,
                        }
                    }
                    DefaultId::Id(p) => resolve_target(ctx, session, &Target::parse(p)?)?,
                    DefaultId::Ask => {
                        if ctx.store.ids()?.is_empty() {
                            Resolved::New
                        } else if ui::can_ask() {
                            resolve_target(ctx, session, &Target::Pick)?
                        } else {
                            return Err(Error::Usage(
                                "this session has no conversation yet and there is no terminal to pick one; pass --new, --id last or --id ID, or set conversation.default_id".into(),
                            ));
                        }
                    }
                },
            }
        }
    };
    match (base, &args.fork) {
        (Resolved::New, _) => Ok(new_conversation(ctx, cfg, args)),
        (Resolved::Id(id), None) => Ok((ctx.store.summary(&id)?, None)),
        (Resolved::Id(id), Some(n)) => {
            let keep = parse_keep(n)?;
            let forked = ctx.store.fork(&id, keep)?;
            ctx.warn_stale("the fork", forked.stale.as_ref());
            let s = forked.value;
            ctx.note(&format!(
                "panechat: forked {} into {} ({} kept)",
                id,
                s.id,
                ui::turns(s.turns)
            ));
            Ok((s, None))
        }
    }
}

enum Resolved {
    New,
    Id(ConversationId),
}

fn resolve_target(ctx: &mut Ctx, session: &Session, t: &Target) -> Result<Resolved> {
    match t {
        Target::Pick => {
            let active = mapping::read(&ctx.paths, &session.key)
                .ok()
                .flatten()
                .and_then(|r| r.active);
            match ui::pick(ctx, "Conversation (type to filter)", active.as_ref())? {
                Picked::New => Ok(Resolved::New),
                Picked::Id(id) => Ok(Resolved::Id(id)),
            }
        }
        other => Ok(Resolved::Id(target::resolve_keyword(
            &ctx.store,
            &session.key,
            other,
        )?)),
    }
}

/// Parses `--fork=N` (`all` keeps every turn).
pub fn parse_keep(n: &str) -> Result<Option<usize>> {
    if n == "all" {
        return Ok(None);
    }
    n.parse::<usize>().map(Some).map_err(|_| {
        Error::Usage(format!(
            "--fork takes the number of turns to keep, e.g. --fork=2, got `{n}`"
        ))
    })
}

/// A new conversation, reserved: it is created with its first turn.
fn new_conversation(ctx: &Ctx, cfg: &Config, args: &Args) -> (Summary, Option<NewConversation>) {
    let mut new = NewConversation {
        model: args.model.clone(),
        system: args.system.clone().or_else(|| cfg.system.clone()),
        ..Default::default()
    };
    let s = ctx.store.reserve(&new);
    new.id = Some(s.id.clone());
    ctx.debug(&format!(
        "new conversation {} (created with its first turn)",
        s.id
    ));
    (s, Some(new))
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

fn lock_conversation(
    ctx: &Ctx,
    cfg: &Config,
    mut summary: Summary,
    mut fresh: Option<NewConversation>,
    mode: OnLocked,
    reg: &mut Registration,
) -> Result<(LockGuard, Summary, Option<NewConversation>)> {
    'conversation: loop {
        reg.set(summary.id.as_str(), RunState::WaitingForLock)?;
        let path = ctx.store.lock_path(&summary.id);
        if let Some(g) = lock::try_acquire(&path)? {
            return Ok((g, summary, fresh));
        }
        let waiter = Waiter::start(&path)?;
        // The pane now shows that it waits (and the holder's panes nothing new).
        ctx.publish_here_and(&summary.id);
        ctx.log(
            "INFO",
            &format!(
                "conversation {} is locked by {}; on-locked={mode:?}",
                summary.id,
                lock::read_holder(&path)
                    .map(|h| h.describe())
                    .unwrap_or_else(|| "another process".into())
            ),
        );
        let what = format!(
            "conversation \"{}\" ({})",
            ui::truncate(&summary.display_title(), 40),
            summary.id.short()
        );
        let mut line = WaitLine {
            tty: std::io::stderr().is_terminal(),
            quiet: ctx.quiet,
            shown: String::new(),
            printed_once: false,
        };
        let mut deadline = match mode {
            OnLocked::Wait => None,
            _ => Some(Instant::now() + cfg.lock_wait),
        };
        loop {
            if let Some(e) = interrupted() {
                line.clear();
                return Err(e);
            }
            let holder = lock::read_holder(&path)
                .map(|h| h.describe())
                .unwrap_or_else(|| "another process".into());
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            // What matters first, and short: a narrow pane cuts the end of the line.
            let busy = ui::truncate(&summary.display_title(), 24);
            let wait_text = match left {
                Some(l) => format!(
                    "panechat: waiting up to {}s (Ctrl-C cancels) for \"{busy}\", held by {holder}",
                    l.as_secs_f64().ceil()
                ),
                None => {
                    format!("panechat: waiting (Ctrl-C cancels) for \"{busy}\", held by {holder}")
                }
            };
            line.show(wait_text);
            let tick = Duration::from_millis(100);
            match waiter.wait(Some(left.map_or(tick, |l| l.min(tick))))? {
                WaitOutcome::Acquired(g) => {
                    line.clear();
                    return Ok((g, summary, fresh));
                }
                WaitOutcome::TimedOut => {
                    if deadline.is_none_or(|d| Instant::now() < d) {
                        continue;
                    }
                    line.clear();
                    let answer = match mode {
                        OnLocked::Wait => LockAnswer::Wait,
                        OnLocked::New => LockAnswer::New,
                        OnLocked::Fork => LockAnswer::Fork,
                        OnLocked::Fail => {
                            return Err(Error::Locked(format!(
                                "{what} is still locked by {holder} after {}",
                                humantime::format_duration(cfg.lock_wait)
                            )))
                        }
                        OnLocked::Ask => match ask(ctx, cfg, &summary, &what, &holder, &waiter)? {
                            Asked::Answer(a) => a,
                            // (freed while the question was up: the question is gone)
                            Asked::Acquired(g) => return Ok((g, summary, fresh)),
                        },
                    };
                    match answer {
                        LockAnswer::Wait => {
                            deadline = None;
                        }
                        LockAnswer::New => {
                            let mut new = NewConversation {
                                system: cfg.system.clone(),
                                ..Default::default()
                            };
                            summary = ctx.store.reserve(&new);
                            new.id = Some(summary.id.clone());
                            fresh = Some(new);
                            ctx.note(&format!(
                                "panechat: {what} is busy; continuing in new conversation {}",
                                summary.id
                            ));
                            continue 'conversation;
                        }
                        LockAnswer::Fork => {
                            let src = summary.id.clone();
                            let forked = ctx.store.fork(&src, None)?;
                            ctx.warn_stale("the fork", forked.stale.as_ref());
                            summary = forked.value;
                            fresh = None;
                            ctx.note(&format!(
                                "panechat: {what} is busy; continuing in its fork {}",
                                summary.id
                            ));
                            continue 'conversation;
                        }
                        LockAnswer::Cancel => {
                            return Err(Error::Cancelled(format!(
                                "cancelled while {what} was locked by {holder}"
                            )))
                        }
                    }
                }
            }
        }
    }
}

/// How the lock question ended.
enum Asked {
    /// Answered.
    Answer(LockAnswer),
    /// The lock was freed while the question was up: the query has it (the question is gone).
    Acquired(LockGuard),
}

fn ask(
    ctx: &Ctx,
    cfg: &Config,
    summary: &Summary,
    what: &str,
    holder: &str,
    waiter: &Waiter,
) -> Result<Asked> {
    use panechat::session::Multiplexer;
    let mux = panechat::session::innermost_multiplexer(&ctx.env);
    if cfg.lock_prompt != PromptMode::Inline && mux.is_some() {
        let exe = panechat::env::this_binary().to_string_lossy().into_owned();
        let mut argv = vec![
            exe,
            "lock-prompt".into(),
            "--id".into(),
            summary.id.to_string(),
        ];
        let mut pass = Vec::new();
        for var in ["PANECHAT_HOME", "PANECHAT_CONFIG"] {
            if let Some(v) = ctx.env.get(var) {
                pass.push((var.to_string(), v.to_string()));
            }
        }
        if mux == Some(Multiplexer::Zellij) {
            // The question's pane has a pane id of its own: it is told which pane asks.
            let place = ctx
                .env
                .get("ZELLIJ_PANE_ID")
                .filter(|p| !p.is_empty())
                .map(|p| {
                    title::sanitize_title(&format!(
                        "zellij pane {}",
                        panechat::session::zellij_pane_number(p)
                    ))
                });
            if let Some(p) = &place {
                argv.extend(["--asker".into(), p.clone()]);
            }
            // The answer also comes through a question of its own: the `zellij run` that waits
            // for the popup's exit status can be cut off by Zellij while the question is still
            // on screen (it then ends with status 0).
            let (id, title) = (summary.id.as_str(), summary.display_title());
            let pane = ctx.env.get("ZELLIJ_PANE_ID");
            if let Some(p) = super::lock_answer::record(ctx, id, &title, holder, pane) {
                argv.extend(["--token".into(), p.question().token.clone()]);
                let name = match &place {
                    Some(place) => format!("panechat: {place} asks"),
                    None => "panechat: a query asks".into(),
                };
                if let Some(asked) = zellij_question(&argv, &pass, &name, pane, &p, waiter)? {
                    return Ok(asked);
                }
            }
        } else {
            if let adapters::Popup::Answer(a) = adapters::popup_prompt(&ctx.env, &argv, &pass) {
                return Ok(Asked::Answer(a));
            }
            if mux == Some(Multiplexer::Wezterm) {
                let (id, title) = (summary.id.as_str(), summary.display_title());
                let go = || interrupted().is_none();
                let t = cfg.lock_prompt_timeout;
                if let Some(a) = super::lock_answer::ask_plugin(ctx, t, id, &title, holder, go) {
                    return Ok(Asked::Answer(a));
                }
            }
        }
        ctx.debug("the multiplexer popup could not be shown; asking here");
    }
    if ui::can_ask() {
        return ui::lock_question(what, holder, None).map(|(answer, _)| Asked::Answer(answer));
    }
    Err(Error::Locked(format!(
        "{what} is still locked by {holder}, and there is no terminal to ask what to do"
    )))
}

/// The lock question in a Zellij floating pane (`lock-prompt --token`, see
/// [`adapters::zellij::spawn_popup`]), watched until it ends: its answer (from the exit status
/// of `zellij run`, or through the question channel when Zellij cut `zellij run` off while the
/// pane stayed), the lock freed (the pane is closed and the query goes on), or the pane closed
/// by the user without an answer, which cancels. `None`: it could not be shown (no client
/// attached, or Zellij never ran it), so the caller asks in the pane itself.
fn zellij_question(
    argv: &[String],
    pass: &[(String, String)],
    name: &str,
    pane: Option<&str>,
    pending: &panechat::question::Pending,
    waiter: &Waiter,
) -> Result<Option<Asked>> {
    use adapters::zellij;
    let token = pending.question().token.clone();
    let answered = || pending.wait(Duration::ZERO, || false);
    let mut attempts = 0;
    'show: loop {
        attempts += 1;
        let Some(mut child) = zellij::spawn_popup(argv, pass, name, pane) else {
            return Ok(None);
        };
        let end = |child: &mut std::process::Child| {
            let _ = child.kill();
            let _ = child.wait();
        };
        let started = Instant::now();
        // (the most copies of the question seen on screen at once: a `zellij run` that Zellij
        // cut off can still open its pane later, next to the one shown again)
        let (mut seen, mut exited, mut unanswered) = (0, false, 0);
        let mut look = Instant::now() + Duration::from_millis(300);
        loop {
            if let Some(e) = interrupted() {
                end(&mut child);
                zellij::close_panes_running(&token);
                return Err(e);
            }
            if let WaitOutcome::Acquired(g) = waiter.wait(Some(Duration::from_millis(100)))? {
                end(&mut child);
                zellij::close_panes_running(&token);
                return Ok(Some(Asked::Acquired(g)));
            }
            if let Some(a) = answered() {
                end(&mut child);
                zellij::close_panes_running(&token);
                return Ok(Some(Asked::Answer(a)));
            }
            if !exited {
                if let Ok(Some(status)) = child.try_wait() {
                    exited = true;
                    let code = status.code();
                    if let Some(a) = code.and_then(LockAnswer::from_exit_code) {
                        zellij::close_panes_running(&token);
                        return Ok(Some(Asked::Answer(a)));
                    }
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    if code == Some(1) && zellij::turned_away(&err) && attempts < zellij::ATTEMPTS {
                        // Nothing ran: the session's check failed before the pane was asked for.
                        zellij::pause(attempts);
                        continue 'show;
                    }
                    // (cut off by Zellij, or ended otherwise: the pane tells)
                    look = Instant::now();
                }
            }
            if Instant::now() < look {
                continue;
            }
            look = Instant::now() + Duration::from_millis(500);
            match zellij::panes_running(&token) {
                // (A copy closed while another is still up, a late duplicate closed by the
                // user: the question is still asked.)
                Some(n) if n > 0 => (seen, unanswered) = (n, 0),
                Some(_) => {
                    if let Some(a) = answered() {
                        end(&mut child);
                        zellij::close_panes_running(&token);
                        return Ok(Some(Asked::Answer(a)));
                    }
                    if seen > 0 || pending.shown() {
                        // Every copy closed by the user (Ctrl p x) without an answer: cancel.
                        end(&mut child);
                        return Ok(Some(Asked::Answer(LockAnswer::Cancel)));
                    }
                    // (the pane of a `zellij run` that Zellij cut off can take seconds to show)
                    if exited && started.elapsed() > Duration::from_secs(10) {
                        // Never shown (cut off before its pane was asked for): shown again.
                        if attempts < zellij::ATTEMPTS {
                            continue 'show;
                        }
                        return Ok(None);
                    }
                }
                None => {
                    unanswered += 1;
                    if unanswered == 10 {
                        end(&mut child);
                        zellij::close_panes_running(&token);
                        return Ok(None);
                    }
                }
            }
        }
    }
}

/// A completed reply.
struct Reply {
    text: String,
    usage: Usage,
    model: Option<String>,
    finish_reason: Option<String>,
    truncated: bool,
}

fn stream(
    ctx: &Ctx,
    cfg: &Config,
    pcfg: &provider::ProviderConfig,
    request: ChatRequest,
    no_stream: bool,
) -> std::result::Result<Reply, (Error, String)> {
    let handle = provider::start(pcfg, request);
    let start = Instant::now();
    let mut last_byte = Instant::now();
    let mut reply = Reply {
        text: String::new(),
        usage: Usage::default(),
        model: None,
        finish_reason: None,
        truncated: false,
    };
    // The reply goes out as `out` prints text: without controls, terminal or not (`show --raw`
    // and `show --json` give it as stored).
    let mut out = std::io::stdout().lock();
    let mut printed_any = false;
    let max = cfg.max_reply_bytes as usize;
    let fail = |e: Error, reply: &Reply, printed: bool, out: &mut std::io::StdoutLock| {
        if printed && !reply.text.ends_with('\n') {
            let _ = writeln!(out);
        }
        let _ = out.flush();
        Err((e, reply.text.clone()))
    };
    loop {
        if let Some(e) = interrupted() {
            handle.cancel();
            return fail(e, &reply, printed_any, &mut out);
        }
        let idle_left = cfg.idle_timeout.saturating_sub(last_byte.elapsed());
        if !cfg.idle_timeout.is_zero() && idle_left.is_zero() {
            handle.cancel();
            let e = Error::Other(format!(
                "the provider sent nothing for {} (provider.idle_timeout)",
                humantime::format_duration(cfg.idle_timeout)
            ));
            return fail(e, &reply, printed_any, &mut out);
        }
        let mut wait = Duration::from_millis(100);
        if !cfg.idle_timeout.is_zero() {
            wait = wait.min(idle_left);
        }
        if !cfg.timeout.is_zero() {
            let left = cfg.timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                handle.cancel();
                let e = Error::Other(format!(
                    "the reply took longer than {} (provider.timeout)",
                    humantime::format_duration(cfg.timeout)
                ));
                return fail(e, &reply, printed_any, &mut out);
            }
            wait = wait.min(left);
        }
        match handle.next_timeout(wait) {
            Ok(StreamItem::Event(StreamEvent::Delta(mut d))) => {
                last_byte = Instant::now();
                if max > 0 && reply.text.len() + d.len() > max {
                    let mut cut = max.saturating_sub(reply.text.len());
                    while cut > 0 && !d.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    d.truncate(cut);
                    reply.truncated = true;
                }
                if !no_stream && !d.is_empty() {
                    let shown = title::strip_terminal_controls(&d);
                    if let Err(e) = out.write_all(shown.as_bytes()).and_then(|_| out.flush()) {
                        if e.kind() != std::io::ErrorKind::BrokenPipe {
                            ctx.debug(&format!("cannot write the reply: {e}"));
                        }
                    }
                    printed_any = true;
                }
                reply.text.push_str(&d);
                if reply.truncated {
                    handle.cancel();
                    let marker = format!("\n\n[reply truncated by panechat at {max} bytes: provider.max_reply_bytes]");
                    reply.text.push_str(&marker);
                    if !no_stream {
                        let _ = out.write_all(marker.as_bytes());
                    }
                    break;
                }
            }
            Ok(StreamItem::Event(StreamEvent::Usage(u))) => {
                last_byte = Instant::now();
                provider::merge_usage(&mut reply.usage, u);
            }
            Ok(StreamItem::Event(StreamEvent::Model(m))) => {
                last_byte = Instant::now();
                reply.model = Some(m);
            }
            Ok(StreamItem::Event(StreamEvent::Done { finish_reason })) => {
                reply.finish_reason = finish_reason;
                break;
            }
            Ok(StreamItem::Ended) => break,
            Ok(StreamItem::Failed(e)) => {
                return fail(Error::Provider(e), &reply, printed_any, &mut out)
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return fail(
                    Error::Other("the provider stopped without finishing the reply".into()),
                    &reply,
                    printed_any,
                    &mut out,
                )
            }
        }
    }
    if no_stream {
        let shown = title::strip_terminal_controls(&reply.text);
        let _ = out.write_all(shown.as_bytes());
    }
    if !reply.text.ends_with('\n') {
        let _ = writeln!(out);
    }
    let _ = out.flush();
    Ok(reply)
}

/// The marker text in the title request (also what test servers look for).
pub const TITLE_MARKER: &str = "Reply with the title only";

fn generate_title(
    cfg: &Config,
    pcfg: &provider::ProviderConfig,
    model: &str,
    first: &Turn,
) -> Result<String> {
    let cut = |s: &str| s.chars().take(2000).collect::<String>();
    let prompt = format!(
        "Write a short title (at most 6 words) for a conversation that begins as follows. {TITLE_MARKER}, without quotes.\n\nUser: {}\n\nAssistant: {}",
        cut(&first.user),
        cut(&first.assistant)
    );
    let req = ChatRequest {
        model: model.to_string(),
        system: None,
        messages: vec![Message {
            role: Role::User,
            content: prompt,
            attachments: Vec::new(),
        }],
        history: None,
        stream: true,
    };
    let reply = provider::complete(pcfg, req, cfg.title_timeout)?;
    Ok(title::clean_generated_title(&reply.text))
}
