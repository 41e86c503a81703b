//! The workflow's paths with fake seams: a scripted provider, a sink and a person that record
//! what they see, a clock, and a publisher that counts. The store is a real one in a temporary
//! directory; each test asserts what it holds afterwards.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::os::fd::OwnedFd;

use super::*;
use crate::config::Config;
use crate::config::LoadOptions;
use crate::env::Env;
use crate::error::Error;
use crate::paths::Paths;
use crate::provider::StreamHandle;
use crate::provider::{CancelToken, Provider, ProviderError, ProviderErrorKind, StreamEvent};
use crate::runs::Run;
use crate::session::Session;
use crate::store::Store;

/// One thing the scripted provider does.
#[derive(Debug, Clone)]
enum Step {
    /// Sends text.
    Text(&'static str),
    /// Ends the reply (its final event).
    Done,
    /// Fails.
    Fail(ProviderErrorKind, &'static str),
    /// Stops without the final event (its channel closes).
    Stop,
    /// Its thread dies.
    Panic,
    /// Sends nothing more until cancelled.
    Hang,
    /// A coding agent's tool starts (`Some`) or ends.
    Tool(Option<&'static str>),
    /// Sends nothing for this many milliseconds.
    Sleep(u64),
}

struct Scripted(Vec<Step>);

impl Provider for Scripted {
    fn stream(
        &self,
        _req: &ChatRequest,
        cancel: &CancelToken,
        emit: &mut dyn FnMut(StreamEvent) -> bool,
    ) -> std::result::Result<(), ProviderError> {
        for step in &self.0 {
            match step {
                Step::Text(t) => {
                    emit(StreamEvent::Delta(t.to_string()));
                }
                Step::Done => {
                    emit(StreamEvent::Done {
                        finish_reason: Some("stop".into()),
                    });
                    return Ok(());
                }
                Step::Fail(kind, msg) => return Err(ProviderError::new(kind.clone(), *msg)),
                Step::Stop => return Ok(()),
                Step::Panic => panic!("the provider's thread died (a test's doing)"),
                Step::Tool(t) => {
                    emit(StreamEvent::Tool(t.map(str::to_string)));
                }
                Step::Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
                Step::Hang => {
                    while !cancel.is_cancelled() {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// The provider: replies with `steps`; a title request gets `title` (`None`: fails).
struct Fake {
    steps: Vec<Step>,
    title: Option<&'static str>,
    seen: Mutex<Vec<ChatRequest>>,
}

impl Fake {
    fn new(steps: &[Step]) -> Fake {
        Fake {
            steps: steps.to_vec(),
            title: Some("A fine title"),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// The last user message of each request, in order.
    fn asked(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .map(|r| r.messages.last().unwrap().content.clone())
            .collect()
    }
}

impl Connect for Fake {
    fn kind(&self) -> &str {
        "fake"
    }

    fn start(&self, req: ChatRequest) -> StreamHandle {
        let title = req
            .messages
            .last()
            .is_some_and(|m| m.content.contains(TITLE_MARKER));
        self.seen.lock().unwrap().push(req.clone());
        let steps = match (title, self.title) {
            (true, Some(t)) => vec![Step::Text(t), Step::Done],
            (true, None) => vec![Step::Fail(ProviderErrorKind::Http(500), "no title today")],
            (false, _) => self.steps.clone(),
        };
        crate::provider::start_with(Box::new(Scripted(steps)), req)
    }
}

/// The sink: what it was given, and how each reply ended.
#[derive(Default)]
struct Screen {
    text: String,
    ends: Vec<bool>,
    /// Set when text arrives (a Ctrl-C pressed while the reply streams).
    interrupt_on_text: Option<Rc<Cell<bool>>>,
}

impl Sink for Screen {
    fn text(&mut self, text: &str) {
        self.text.push_str(text);
        if let Some(i) = &self.interrupt_on_text {
            i.set(true);
        }
    }

    fn end(&mut self, complete: bool) {
        self.ends.push(complete);
    }
}

/// The person: answers the lock question from a list, releasing the test's lock for "wait".
#[derive(Default)]
struct Person {
    notes: Vec<String>,
    warnings: Vec<String>,
    answers: VecDeque<LockAnswer>,
    /// The lock the test holds; released when the person answers "wait".
    held: Option<LockGuard>,
    asked: Vec<(String, String)>,
    interrupt: Rc<Cell<bool>>,
    picked: Option<Resolved>,
    wait_lines: usize,
}

impl Ui for Person {
    fn note(&mut self, text: &str) {
        self.notes.push(text.to_string());
    }

    fn warn(&mut self, text: &str) {
        self.warnings.push(text.to_string());
    }

    fn stale(&mut self, what: &str, error: &Error) {
        self.warnings.push(format!("{what}: {error}"));
    }

    fn log(&mut self, _level: &str, _text: &str) {}

    fn interrupted(&self) -> Option<Error> {
        self.interrupt
            .get()
            .then(|| Error::Cancelled("interrupted".into()))
    }

    fn waiting(&mut self, line: Option<&str>) {
        if line.is_some() {
            self.wait_lines += 1;
        }
    }

    fn can_ask(&self) -> bool {
        true
    }

    fn pick(&mut self, _active: Option<&ConversationId>) -> Result<Resolved> {
        self.picked
            .clone()
            .ok_or_else(|| Error::Cancelled("nothing picked".into()))
    }

    fn lock_question(&mut self, q: &LockQuestion<'_>) -> Result<Asked> {
        self.asked.push((q.what.to_string(), q.holder.to_string()));
        let answer = self
            .answers
            .pop_front()
            .expect("an answer for the question");
        if answer == LockAnswer::Wait {
            self.held = None;
        }
        Ok(Asked::Answer(answer))
    }
}

/// A clock that moves on a second each time it is read.
struct Hurried {
    at: Cell<Instant>,
}

impl Clock for Hurried {
    fn now(&self) -> Instant {
        self.at.set(self.at.get() + Duration::from_secs(1));
        self.at.get()
    }

    fn stamp(&self) -> String {
        crate::time::now_rfc3339()
    }
}

/// The panes: which conversations were published, in order.
#[derive(Default)]
struct Panes {
    published: RefCell<Vec<ConversationId>>,
}

impl Publish for Panes {
    fn publish(&self, id: &ConversationId) {
        self.published.borrow_mut().push(id.clone());
    }

    fn watch(&self, _run: &Run) -> Option<OwnedFd> {
        None
    }
}

/// A store in a directory of its own, a session, a config, and the fakes.
struct World {
    root: PathBuf,
    paths: Paths,
    store: Store,
    session: Session,
    cfg: Config,
    screen: Screen,
    person: Person,
    panes: Panes,
}

impl World {
    fn new(name: &str, cfg: &[&str]) -> World {
        let root =
            std::env::temp_dir().join(format!("panechat-query-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let env = Env::from_pairs([
            ("PANECHAT_HOME".to_string(), root.display().to_string()),
            ("PANECHAT_SESSION".to_string(), format!("test-{name}")),
        ]);
        let paths = Paths::resolve(&env).unwrap();
        let mut overrides = vec!["title.generate=false".to_string()];
        overrides.extend(cfg.iter().map(|s| s.to_string()));
        let cfg = Config::load(
            &env,
            &LoadOptions {
                overrides,
                ..Default::default()
            },
        )
        .unwrap();
        World {
            root,
            store: Store::new(paths.clone()),
            session: crate::session::resolve(&env).unwrap(),
            paths,
            cfg,
            screen: Screen::default(),
            person: Person::default(),
            panes: Panes::default(),
        }
    }

    fn run_with(&mut self, provider: &Fake, clock: &dyn Clock, req: Request) -> Result<Outcome> {
        let mut q = Query {
            paths: &self.paths,
            store: &self.store,
            session: &self.session,
            cfg: &self.cfg,
            provider,
            sink: &mut self.screen,
            ui: &mut self.person,
            clock,
            publish: &self.panes,
        };
        run(&mut q, req)
    }

    fn run(&mut self, provider: &Fake, req: Request) -> Result<Outcome> {
        self.run_with(provider, &SystemClock, req)
    }

    /// A conversation with one turn ("first" / "one"), made by a query.
    fn conversation(&mut self) -> ConversationId {
        let fake = Fake::new(&[Step::Text("one"), Step::Done]);
        let id = match self.run(&fake, ask("first", Where::New)).unwrap() {
            Outcome::Answered { id } => id,
            other => panic!("{other:?}"),
        };
        self.screen = Screen::default();
        self.panes.published.borrow_mut().clear();
        id
    }

    /// The replies stored in `id`.
    fn replies(&self, id: &ConversationId) -> Vec<String> {
        let c = self.store.load(id).unwrap();
        c.turns.iter().map(|t| t.assistant.clone()).collect()
    }

    /// Every draft of the store (whichever process wrote it).
    fn drafts(&self) -> Vec<Draft> {
        self.store
            .all_drafts()
            .into_iter()
            .map(|(_, d)| d)
            .collect()
    }

    /// The drafts as a later process sees them: their query ended.
    fn end_process(&self) {
        for mut d in self.drafts() {
            d.pid = 0;
            self.store.save_draft(&d).unwrap();
        }
    }

    fn active(&self) -> Option<ConversationId> {
        mapping::read(&self.paths, &self.session.key)
            .unwrap()
            .and_then(|r| r.active)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn ask(text: &str, target: Where) -> Request {
    Request {
        input: Input::New {
            text: text.into(),
            attachments: Vec::new(),
        },
        target,
        fork: None,
        model: None,
        system: None,
        stream: true,
        on_locked: OnLocked::Fail,
    }
}

fn answered(o: Outcome) -> ConversationId {
    match o {
        Outcome::Answered { id } => id,
        other => panic!("not answered: {other:?}"),
    }
}

#[test]
fn a_reply_streams_to_the_sink_is_stored_titled_and_published_once_per_state() {
    let mut w = World::new("success", &["title.generate=true"]);
    let fake = Fake::new(&[Step::Text("Hel"), Step::Text("lo"), Step::Done]);
    let id = answered(w.run(&fake, ask("why?", Where::New)).unwrap());
    assert_eq!(w.screen.text, "Hello");
    assert_eq!(w.screen.ends, [true]);
    let c = w.store.load(&id).unwrap();
    assert_eq!(c.turns.len(), 1);
    assert_eq!(c.turns[0].user, "why?");
    assert_eq!(c.turns[0].assistant, "Hello");
    assert_eq!(c.turns[0].finish_reason.as_deref(), Some("stop"));
    assert_eq!(c.title.as_deref(), Some("A fine title"));
    let asked = fake.asked();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked[1].contains(TITLE_MARKER) && asked[1].contains("Hello"));
    assert!(w.drafts().is_empty(), "the draft is gone: {:?}", w.drafts());
    assert_eq!(w.active(), Some(id.clone()));
    // streaming, titling, idle: once each
    assert_eq!(*w.panes.published.borrow(), [id.clone(), id.clone(), id]);
}

#[test]
fn a_titled_conversation_is_not_titled_again_and_the_next_turn_has_the_history() {
    let mut w = World::new("second", &["title.generate=true"]);
    let id = w.conversation();
    let fake = Fake::new(&[Step::Text("two"), Step::Done]);
    answered(w.run(&fake, ask("second", Where::Default)).unwrap());
    assert_eq!(w.replies(&id), ["one", "two"]);
    assert_eq!(fake.asked(), ["second"], "no title request");
    let seen = fake.seen.lock().unwrap();
    let history = seen[0].history.as_ref().unwrap();
    assert!(!history.is_empty(), "the first turn is sent as history");
}

#[test]
fn each_provider_failure_keeps_the_message_and_adds_nothing() {
    let cases: [(&[Step], &str); 5] = [
        (
            &[Step::Fail(ProviderErrorKind::Http(500), "server error")],
            "server error",
        ),
        (
            &[Step::Fail(ProviderErrorKind::Connect, "connection refused")],
            "connection refused",
        ),
        (
            &[
                Step::Text("par"),
                Step::Fail(ProviderErrorKind::Stream, "overloaded"),
            ],
            "overloaded",
        ),
        (
            &[Step::Text("par"), Step::Stop],
            crate::provider::INTERRUPTED,
        ),
        (
            &[Step::Text("par"), Step::Panic],
            crate::provider::INTERRUPTED,
        ),
    ];
    for (n, (steps, says)) in cases.iter().enumerate() {
        let mut w = World::new(&format!("fail{n}"), &[]);
        let id = w.conversation();
        let fake = Fake::new(steps);
        let err = w.run(&fake, ask("doomed", Where::Default)).unwrap_err();
        assert!(matches!(err, Error::RunFailed { .. }), "{n}: {err:?}");
        assert_eq!(err.exit_code(), 1, "{n}");
        let text = err.to_string();
        assert!(text.contains(says), "{n}: {text}");
        assert!(
            text.contains("`panechat q --retry` sends it again"),
            "{n}: {text}"
        );
        assert_eq!(w.replies(&id), ["one"], "{n}: nothing appended");
        let drafts = w.drafts();
        assert_eq!(drafts.len(), 1, "{n}");
        assert_eq!(drafts[0].message, "doomed");
        assert_eq!(drafts[0].conversation.as_ref(), Some(&id));
        assert!(drafts[0].error.contains(says), "{n}: {:?}", drafts[0].error);
        let partial = if w.screen.text.is_empty() { "" } else { "par" };
        assert_eq!(drafts[0].partial_reply, partial, "{n}");
        assert_eq!(w.screen.ends, [false], "{n}");
        // the pane stops showing the run
        assert_eq!(w.panes.published.borrow().last(), Some(&id), "{n}");
    }
}

#[test]
fn a_first_turn_that_fails_leaves_no_conversation_and_its_retry_creates_it() {
    let mut w = World::new("retry", &[]);
    let fake = Fake::new(&[Step::Fail(ProviderErrorKind::Http(503), "busy")]);
    w.run(&fake, ask("start here", Where::New)).unwrap_err();
    assert!(w.store.ids().unwrap().is_empty(), "no conversation");
    let drafts = w.drafts();
    let reserved = drafts[0].conversation.clone().unwrap();
    assert!(drafts[0].new_conversation.is_some());
    w.end_process();
    let fake = Fake::new(&[Step::Text("at last"), Step::Done]);
    let mut req = ask("", Where::Default);
    req.input = Input::Retry;
    let id = answered(w.run(&fake, req).unwrap());
    assert_eq!(
        id, reserved,
        "the retry creates the conversation it was to start"
    );
    assert_eq!(fake.asked(), ["start here"]);
    let c = w.store.load(&id).unwrap();
    assert_eq!(c.turns.len(), 1);
    assert_eq!(
        c.turns[0].message_id.as_deref(),
        Some(drafts[0].message_id.as_str())
    );
    assert!(w.drafts().is_empty());
}

#[test]
fn a_retry_of_a_stored_message_sends_nothing_and_gives_the_stored_turn() {
    let mut w = World::new("answered", &[]);
    let id = w.conversation();
    let turn = w.store.load(&id).unwrap().turns.remove(0);
    // (the query was killed after storing its turn, before removing its draft)
    w.store
        .save_draft(&Draft {
            session: w.session.key.clone(),
            message_id: turn.message_id.clone().unwrap(),
            conversation: Some(id.clone()),
            new_conversation: None,
            message: "first".into(),
            attachments: Vec::new(),
            partial_reply: String::new(),
            error: String::new(),
            at: crate::time::now_rfc3339(),
            pid: 0,
            start: 0,
        })
        .unwrap();
    let fake = Fake::new(&[Step::Text("again"), Step::Done]);
    let mut req = ask("", Where::Default);
    req.input = Input::Retry;
    match w.run(&fake, req).unwrap() {
        Outcome::AlreadyAnswered { id: got, turn: t } => {
            assert_eq!(got, id);
            assert_eq!(t.assistant, "one");
        }
        other => panic!("{other:?}"),
    }
    assert!(fake.asked().is_empty(), "nothing sent");
    assert_eq!(w.replies(&id), ["one"], "nothing stored twice");
    assert!(w.drafts().is_empty());
}

#[test]
fn a_retry_without_an_unanswered_message_says_so() {
    let mut w = World::new("noretry", &[]);
    let mut req = ask("", Where::Default);
    req.input = Input::Retry;
    let err = w.run(&Fake::new(&[]), req).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert!(err.to_string().contains("no unanswered message"));
}

#[test]
fn ctrl_c_while_the_reply_streams_keeps_the_message_and_what_came() {
    let mut w = World::new("ctrlc", &[]);
    let id = w.conversation();
    w.screen.interrupt_on_text = Some(w.person.interrupt.clone());
    let fake = Fake::new(&[Step::Text("part"), Step::Hang]);
    let err = w.run(&fake, ask("stop me", Where::Default)).unwrap_err();
    assert_eq!(err.exit_code(), 130, "{err:?}");
    assert!(err.to_string().contains("your message is kept"), "{err}");
    assert_eq!(w.screen.text, "part");
    assert_eq!(w.screen.ends, [false]);
    assert_eq!(w.replies(&id), ["one"]);
    let d = &w.drafts()[0];
    assert_eq!(
        (d.message.as_str(), d.partial_reply.as_str()),
        ("stop me", "part")
    );
}

#[test]
fn a_silent_provider_ends_at_the_idle_timeout_and_the_reply_at_its_cap() {
    let mut w = World::new("idle", &["provider.idle_timeout=5s"]);
    let id = w.conversation();
    let clock = Hurried {
        at: Cell::new(Instant::now()),
    };
    let fake = Fake::new(&[Step::Hang]);
    let err = w
        .run_with(&fake, &clock, ask("hello?", Where::Default))
        .unwrap_err();
    assert!(err.to_string().contains("provider.idle_timeout"), "{err}");
    assert_eq!(w.replies(&id), ["one"]);

    // A coding agent running a tool is silent by design: the idle timeout counts from the
    // tool's end.
    let clock = Hurried {
        at: Cell::new(Instant::now()),
    };
    let fake = Fake::new(&[
        Step::Tool(Some("Bash")),
        Step::Sleep(1000),
        Step::Tool(None),
        Step::Text("ran it"),
        Step::Done,
    ]);
    w.run_with(&fake, &clock, ask("run it", Where::Default))
        .unwrap();
    assert_eq!(w.replies(&id), ["one", "ran it"]);

    let mut w = World::new("cap", &["provider.max_reply_bytes=4"]);
    let fake = Fake::new(&[Step::Text("abcdef"), Step::Text("gh"), Step::Done]);
    let id = answered(w.run(&fake, ask("long", Where::New)).unwrap());
    let c = w.store.load(&id).unwrap();
    assert!(c.turns[0].truncated);
    let marker = "\n\n[reply truncated by panechat at 4 bytes: provider.max_reply_bytes]";
    assert_eq!(c.turns[0].assistant, format!("abcd{marker}"));
    assert_eq!(w.screen.text, format!("abcd{marker}"));
}

#[test]
fn a_link_or_fifo_in_place_of_a_log_is_refused_and_the_message_kept() {
    for kind in ["link", "fifo"] {
        let mut w = World::new(&format!("refuse-{kind}"), &[]);
        let id = w.conversation();
        let log = w.store.log_path(&id);
        let elsewhere = w.root.join("elsewhere.jsonl");
        std::fs::rename(&log, &elsewhere).unwrap();
        let before = std::fs::read(&elsewhere).unwrap();
        match kind {
            "link" => std::os::unix::fs::symlink(&elsewhere, &log).unwrap(),
            _ => nix::unistd::mkfifo(
                &log,
                nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
            )
            .unwrap(),
        }
        let fake = Fake::new(&[Step::Text("never"), Step::Done]);
        let err = w
            .run(
                &fake,
                ask("into the link", Where::Chosen(Resolved::Id(id.clone()))),
            )
            .unwrap_err();
        assert!(
            err.to_string().contains(&log.display().to_string()),
            "{kind}: {err}"
        );
        assert_eq!(
            std::fs::read(&elsewhere).unwrap(),
            before,
            "{kind}: the link's target is untouched"
        );
        let d = &w.drafts()[0];
        assert_eq!(d.message, "into the link", "{kind}");
        // (the history came from its cache; the reply is kept with the message)
        assert_eq!(
            fake.asked().len(),
            d.partial_reply.len() / "never".len(),
            "{kind}"
        );
        assert!(
            d.error.contains(&log.display().to_string()),
            "{kind}: {}",
            d.error
        );
    }
}

/// A world with a conversation whose lock the test holds, and a person who answers `answer`.
fn locked(name: &str, answer: LockAnswer) -> (World, ConversationId) {
    let mut w = World::new(name, &["lock.wait=0s"]);
    let id = w.conversation();
    w.person.held = crate::lock::try_acquire(&w.store.lock_path(&id)).unwrap();
    assert!(w.person.held.is_some());
    w.person.answers.push_back(answer);
    (w, id)
}

fn ask_locked(w: &mut World, id: &ConversationId) -> Result<Outcome> {
    let fake = Fake::new(&[Step::Text("two"), Step::Done]);
    let mut req = ask("second", Where::Chosen(Resolved::Id(id.clone())));
    req.on_locked = OnLocked::Ask;
    w.run(&fake, req)
}

#[test]
fn locked_and_answered_wait_the_reply_goes_to_the_conversation_once_free() {
    let (mut w, id) = locked("lock-wait", LockAnswer::Wait);
    let got = answered(ask_locked(&mut w, &id).unwrap());
    assert_eq!(got, id);
    assert_eq!(w.replies(&id), ["one", "two"]);
    assert_eq!(w.person.asked.len(), 1);
    assert!(
        w.person.asked[0].0.contains(id.short()),
        "{:?}",
        w.person.asked
    );
    assert!(w.person.wait_lines > 0, "the wait was shown");
}

#[test]
fn locked_and_answered_new_the_reply_starts_a_new_conversation() {
    let (mut w, id) = locked("lock-new", LockAnswer::New);
    let got = answered(ask_locked(&mut w, &id).unwrap());
    assert_ne!(got, id);
    assert_eq!(w.replies(&id), ["one"], "the busy one is untouched");
    assert_eq!(w.replies(&got), ["two"]);
    assert!(w
        .person
        .notes
        .iter()
        .any(|n| n.contains("continuing in new conversation")));
    assert_eq!(w.active(), Some(got));
}

#[test]
fn locked_and_answered_fork_the_reply_goes_to_a_fork() {
    let (mut w, id) = locked("lock-fork", LockAnswer::Fork);
    let got = answered(ask_locked(&mut w, &id).unwrap());
    assert_ne!(got, id);
    assert_eq!(w.replies(&id), ["one"]);
    assert_eq!(w.replies(&got), ["one", "two"]);
    assert_eq!(w.store.summary(&got).unwrap().parent.unwrap().id, id);
}

#[test]
fn locked_and_answered_cancel_nothing_is_sent_and_the_message_kept() {
    let (mut w, id) = locked("lock-cancel", LockAnswer::Cancel);
    let err = ask_locked(&mut w, &id).unwrap_err();
    assert_eq!(err.exit_code(), 130, "{err:?}");
    assert!(err.to_string().contains("was locked by"), "{err}");
    assert_eq!(w.replies(&id), ["one"]);
    assert_eq!(w.drafts()[0].message, "second");
    assert!(w.screen.text.is_empty());
}

#[test]
fn locked_with_on_locked_fail_gives_up_with_exit_75() {
    let (mut w, id) = locked("lock-fail", LockAnswer::Wait);
    let fake = Fake::new(&[Step::Text("two"), Step::Done]);
    let err = w.run(&fake, ask("second", Where::Default)).unwrap_err();
    assert_eq!(err.exit_code(), 75, "{err:?}");
    assert!(err.to_string().contains("is still locked by"), "{err}");
    assert!(w.person.asked.is_empty());
    assert_eq!(w.replies(&id), ["one"]);
    // the pane stops showing the wait
    assert_eq!(w.panes.published.borrow().last(), Some(&id));
}

#[test]
fn a_fork_continues_in_a_copy_and_leaves_the_original() {
    let mut w = World::new("fork", &[]);
    let id = w.conversation();
    let fake = Fake::new(&[Step::Text("forked reply"), Step::Done]);
    let mut req = ask("in the copy", Where::Default);
    req.fork = Some(None);
    let got = answered(w.run(&fake, req).unwrap());
    assert_ne!(got, id);
    assert_eq!(w.replies(&id), ["one"]);
    assert_eq!(w.replies(&got), ["one", "forked reply"]);
    assert!(
        w.person
            .notes
            .iter()
            .any(|n| n.contains(&format!("forked {id} into {got} (1 turn kept)"))),
        "{:?}",
        w.person.notes
    );
    let mut req = ask("fresh copy", Where::Chosen(Resolved::Id(id.clone())));
    req.fork = Some(Some(0));
    let empty = answered(w.run(&fake, req).unwrap());
    assert_eq!(w.replies(&empty), ["forked reply"]);
}

#[test]
fn a_picked_conversation_by_default_id_ask() {
    let mut w = World::new("pick", &["conversation.default_id=ask"]);
    let id = w.conversation();
    // (a session without a conversation of its own)
    mapping::remove(&w.paths, &w.session.key).unwrap();
    w.person.picked = Some(Resolved::Id(id.clone()));
    let fake = Fake::new(&[Step::Text("two"), Step::Done]);
    assert_eq!(
        answered(w.run(&fake, ask("second", Where::Default)).unwrap()),
        id
    );
    assert_eq!(w.replies(&id), ["one", "two"]);
}

#[test]
fn panechat_fork_copies_the_last_turns_and_makes_the_copy_the_sessions() {
    let mut w = World::new("forkcmd", &[]);
    let id = w.conversation();
    let fake = Fake::new(&[Step::Text("two"), Step::Done]);
    answered(w.run(&fake, ask("second", Where::Default)).unwrap());
    let f = fork(&w.store, &w.paths, &id, Some(1), None).unwrap();
    assert!(f.stale.is_none() && f.not_activated.is_none());
    assert_eq!(w.replies(&f.summary.id), ["two"]);
    assert_eq!(
        w.active(),
        Some(id.clone()),
        "no session named: none changes"
    );
    let f = fork(&w.store, &w.paths, &id, None, Some(&w.session)).unwrap();
    assert_eq!(w.replies(&f.summary.id), ["one", "two"]);
    assert_eq!(w.active(), Some(f.summary.id.clone()));
    assert_eq!(w.replies(&id), ["one", "two"], "the original is untouched");
}

#[test]
fn a_title_request_that_fails_leaves_the_turn_stored_and_untitled() {
    let mut w = World::new("notitle", &["title.generate=true"]);
    let mut fake = Fake::new(&[Step::Text("fine"), Step::Done]);
    fake.title = None;
    let id = answered(w.run(&fake, ask("why?", Where::New)).unwrap());
    assert_eq!(fake.asked().len(), 2, "the title was asked for");
    let c = w.store.load(&id).unwrap();
    assert_eq!(w.replies(&id), ["fine"]);
    assert_eq!(c.title, None);
    assert!(w.drafts().is_empty());
    // With title.generate off, no title is asked for.
    let mut w = World::new("notitle-off", &[]);
    let fake = Fake::new(&[Step::Text("fine"), Step::Done]);
    answered(w.run(&fake, ask("why?", Where::New)).unwrap());
    assert_eq!(fake.asked(), ["why?"]);
}
