//! Coding agents run by hand report into their pane (`panechat hook claude|codex`): what each
//! hook event or notification means for the pane's [`Agent`].
//!
//! Claude Code runs its hooks with the event as JSON on stdin; Codex runs its `notify` program
//! with one JSON argument per completed turn. Both pass their environment on, so the hook knows
//! its pane ([`crate::session::pane_session`]). The mapping here is pure: the caller reads the
//! pane's record, applies the [`Change`] and publishes the pane (`cli/hook.rs`).

use panechat_vocab::text::inert_to;
use serde::Deserialize;

use crate::agents::{Agent, AgentRecord, AgentState};

/// The kind recorded for Claude Code.
pub const CLAUDE: &str = "claude-code";
/// The kind recorded for Codex.
pub const CODEX: &str = "codex";

/// The longest last-message line kept, in characters.
pub const MAX_MESSAGE_CHARS: usize = 120;
/// The longest tool name kept, in characters.
pub const MAX_TOOL_CHARS: usize = 40;
/// The longest agent session id or directory kept, in bytes (longer ones are not recorded).
pub const MAX_FIELD_BYTES: usize = 4096;

/// What an event does to the pane's agent record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Record this agent.
    Set(Agent),
    /// The agent left the pane: forget it.
    Clear,
    /// Nothing to record (an event that says nothing about the state, or one to ignore).
    Nothing,
}

/// The fields of a Claude Code hook event that matter here (every other field is skipped).
#[derive(Debug, Default, Deserialize)]
struct ClaudeEvent {
    #[serde(default)]
    hook_event_name: Option<String>,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    tool_name: Option<String>,
    #[serde(default)]
    notification_type: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    last_assistant_message: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

/// A string member `key` of a JSON object that could not be parsed whole (cut off at the
/// size panechat reads): the first `"key":"…"` found.
fn string_member(input: &[u8], key: &str) -> Option<String> {
    let needle = format!("\"{key}\"");
    let at = memchr::memmem::find(input, needle.as_bytes())?;
    let mut rest = &input[at + needle.len()..];
    while let [b' ' | b'\t' | b'\n' | b'\r', tail @ ..] = rest {
        rest = tail;
    }
    let rest = rest.strip_prefix(b":")?;
    serde_json::Deserializer::from_slice(rest)
        .into_iter::<String>()
        .next()?
        .ok()
}

impl ClaudeEvent {
    fn parse(input: &[u8]) -> Option<ClaudeEvent> {
        if let Ok(e) = serde_json::from_slice::<ClaudeEvent>(input) {
            return Some(e);
        }
        // A tool's input can be large (a file written whole): read what comes before it.
        let e = ClaudeEvent {
            hook_event_name: string_member(input, "hook_event_name"),
            session_id: string_member(input, "session_id"),
            cwd: string_member(input, "cwd"),
            tool_name: string_member(input, "tool_name"),
            ..ClaudeEvent::default()
        };
        e.hook_event_name.is_some().then_some(e)
    }
}

/// An id or path kept as given when it is plain text of a sane length (it is printed, quoted,
/// in a resume command; never shown raw).
fn field(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty() && s.len() <= MAX_FIELD_BYTES && !s.contains('\0'))
}

/// The first non-empty line of `text`, inert and capped.
pub fn first_line(text: &str) -> Option<String> {
    text.lines()
        .map(|l| inert_to(l, MAX_MESSAGE_CHARS))
        .find(|l| !l.is_empty())
}

/// The agent after an event: `prev` (when it is the same kind of agent) with the session, the
/// directory and the state updated; `since` is kept while the state stays.
fn next(
    prev: Option<&Agent>,
    kind: &str,
    session: Option<String>,
    cwd: Option<String>,
    state: AgentState,
    now: &str,
) -> Agent {
    let base = prev.filter(|a| a.kind == kind);
    let session = field(session).or_else(|| base.and_then(|a| a.session.clone()));
    let same_session = base.is_some_and(|a| a.session == session);
    let since = match base {
        Some(a) if a.state == state && same_session => a.since.clone(),
        _ => Some(now.to_string()),
    };
    Agent {
        kind: kind.to_string(),
        state,
        tool: None,
        cwd: field(cwd).or_else(|| base.and_then(|a| a.cwd.clone())),
        message: base
            .filter(|_| same_session)
            .and_then(|a| a.message.clone()),
        session,
        since,
    }
}

/// What a Claude Code hook event (`input`, the JSON on the hook's stdin) does to the pane's
/// agent `prev`, at time `now` (RFC 3339):
/// - `SessionStart`: idle, with the session id and directory (after a compaction the state
///   stays, and a start that arrives after the session's own prompt changes nothing);
/// - `UserPromptSubmit`, `PostToolUse`, `PostToolUseFailure`: working;
/// - `PreToolUse`: working, running the tool it names;
/// - `Notification` of a permission prompt, an idle prompt or a question, and
///   `PermissionRequest`: needs you;
/// - `Stop`: done, with the first line of the last message;
/// - `SessionEnd`: forgotten when the person ended it (`prompt_input_exit`, `logout`), else
///   idle, or still done when its last turn has not been looked at (a `claude -p` run ends so);
///   the session id stays, to resume it.
///
/// Anything else, and input that is not such an event, changes nothing.
pub fn claude(input: &[u8], prev: Option<&Agent>, now: &str) -> Change {
    let Some(e) = ClaudeEvent::parse(input) else {
        return Change::Nothing;
    };
    let event = e.hook_event_name.as_deref().unwrap_or("");
    let state = match event {
        "SessionStart" if e.source.as_deref() == Some("compact") => prev
            .filter(|a| a.kind == CLAUDE)
            .map_or(AgentState::Idle, |a| a.state),
        // A start reported after the session's first prompt (hooks run as processes of their
        // own, and a quick prompt's can finish first): the session is working already.
        "SessionStart"
            if prev.is_some_and(|a| {
                a.kind == CLAUDE
                    && a.session.is_some()
                    && a.session == e.session_id
                    && matches!(a.state, AgentState::Working | AgentState::NeedsYou)
            }) =>
        {
            return Change::Nothing;
        }
        "SessionStart" => AgentState::Idle,
        "UserPromptSubmit" | "PreToolUse" | "PostToolUse" | "PostToolUseFailure" => {
            AgentState::Working
        }
        "PermissionRequest" => AgentState::NeedsYou,
        "Notification" => {
            let asks = match e.notification_type.as_deref() {
                Some(t) => matches!(
                    t,
                    "permission_prompt" | "idle_prompt" | "elicitation_dialog"
                ),
                None => e.message.as_deref().is_some_and(|m| {
                    let m = m.to_ascii_lowercase();
                    m.contains("permission") || m.contains("waiting for your input")
                }),
            };
            if !asks {
                return Change::Nothing;
            }
            AgentState::NeedsYou
        }
        "Stop" => AgentState::Done,
        "SessionEnd" => {
            if matches!(e.reason.as_deref(), Some("prompt_input_exit" | "logout")) {
                return Change::Clear;
            }
            match prev.filter(|a| a.kind == CLAUDE) {
                Some(a) if a.state == AgentState::Done => AgentState::Done,
                _ => AgentState::Idle,
            }
        }
        _ => return Change::Nothing,
    };
    let mut a = next(prev, CLAUDE, e.session_id, e.cwd, state, now);
    match event {
        "PreToolUse" => {
            a.tool = e
                .tool_name
                .map(|t| inert_to(&t, MAX_TOOL_CHARS))
                .filter(|t| !t.is_empty());
        }
        "UserPromptSubmit" => a.message = None,
        "SessionStart" if e.source.as_deref() != Some("compact") => a.message = None,
        "Stop" => {
            if let Some(m) = e.last_assistant_message.as_deref() {
                a.message = first_line(m);
            }
        }
        _ => {}
    }
    if event == "SessionEnd" || event == "SessionStart" {
        // (what was running is over)
        a.tool = None;
    }
    Change::Set(a)
}

/// A Codex `notify` argument.
#[derive(Debug, Default, Deserialize)]
struct CodexNotice {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default, rename = "thread-id")]
    thread: Option<String>,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default, rename = "last-assistant-message")]
    last_message: Option<String>,
    #[serde(default, rename = "input-messages")]
    inputs: Vec<String>,
}

/// How long after a Codex process's notice about one thread a notice about another thread of
/// the same process is taken for its internal title thread's (whose turn ends right around the
/// session's first one).
pub const CODEX_TITLE_WINDOW_MS: u64 = 10_000;

/// Whether a Codex notice is about the interactive UI's internal title thread, by the request
/// it sends there (Codex 0.171: "Generate a concise, single-line task title …").
fn codex_title_request(inputs: &[String]) -> bool {
    matches!(inputs, [only] if only.starts_with("Generate a concise") && only.contains("title"))
}

/// What a Codex `notify` argument (`arg`) does to the pane's agent record `prev`, reported by
/// Codex process `process` (`<pid>-<start>`, when known), at `now` (RFC 3339) and `now_ms`: an
/// `agent-turn-complete` is done, with the thread id, directory and the first line of the last
/// message. The interactive UI also reports the turns of an internal thread (the one that
/// names the session) through the same program; they are ignored: by the request it sends
/// there, and, by thread id, a notice about another thread of the same Codex process within
/// [`CODEX_TITLE_WINDOW_MS`] of its last one. A new thread later on (`/new`) or a new Codex
/// process in the pane is the pane's.
pub fn codex(
    arg: &str,
    prev: Option<&AgentRecord>,
    process: Option<&str>,
    now: &str,
    now_ms: u64,
) -> Change {
    let Ok(n) = serde_json::from_str::<CodexNotice>(arg) else {
        return Change::Nothing;
    };
    if n.kind.as_deref() != Some("agent-turn-complete") || codex_title_request(&n.inputs) {
        return Change::Nothing;
    }
    let thread = field(n.thread);
    let prev = prev.filter(|r| r.agent.kind == CODEX);
    if let (Some(r), Some(p)) = (prev, process) {
        let recent = r
            .reported_ms
            .is_some_and(|t| now_ms.saturating_sub(t) < CODEX_TITLE_WINDOW_MS);
        if r.process.as_deref() == Some(p)
            && recent
            && r.agent.session.is_some()
            && thread.is_some()
            && r.agent.session != thread
        {
            return Change::Nothing;
        }
    }
    let mut a = next(
        prev.map(|r| &r.agent),
        CODEX,
        thread,
        n.cwd,
        AgentState::Done,
        now,
    );
    if let Some(m) = n.last_message.as_deref() {
        a.message = first_line(m);
    }
    Change::Set(a)
}

/// The shell command that resumes `agent`'s session in its directory: `cd '/dir' && claude
/// --resume 'ID'` (Claude Code finds a session only from the directory it ran in) or `cd
/// '/dir' && codex resume 'ID'`. `None` for another agent, without a session id, or when the id
/// is not a plain id or the directory is not absolute or holds control characters (nothing
/// untrusted is printed to be run).
pub fn resume_command(agent: &Agent) -> Option<String> {
    let id = agent
        .session
        .as_deref()
        .filter(|id| crate::agents::plain_id(id))?;
    let run = match agent.kind.as_str() {
        CLAUDE => format!("claude --resume {}", crate::shell::quote(id)),
        CODEX => format!("codex resume {}", crate::shell::quote(id)),
        _ => return None,
    };
    match agent.cwd.as_deref() {
        Some(dir) if dir.chars().any(panechat_vocab::text::is_control) => None,
        // (`cd -` goes elsewhere, `cd -P` is an option, a relative one depends on the shell)
        Some(dir) if !dir.starts_with('/') => None,
        Some(dir) => Some(format!("cd {} && {run}", crate::shell::quote(dir))),
        None => Some(run),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: &str = "2026-01-01T00:00:00Z";
    const T1: &str = "2026-01-01T00:00:05Z";

    fn set(c: Change) -> Agent {
        match c {
            Change::Set(a) => a,
            other => panic!("expected a state, got {other:?}"),
        }
    }

    /// A `claude -p` turn with a tool call, as its hooks report it (fields as Claude Code
    /// 2.1.197 sends them).
    #[test]
    fn a_claude_turn_goes_idle_working_tool_working_done() {
        let start = br#"{"session_id":"5f0c-11","transcript_path":"/h/.claude/projects/-w/5f0c-11.jsonl","cwd":"/w","hook_event_name":"SessionStart","source":"startup"}"#;
        let a = set(claude(start, None, T0));
        assert_eq!(a.kind, CLAUDE);
        assert_eq!(a.state, AgentState::Idle);
        assert_eq!(a.session.as_deref(), Some("5f0c-11"));
        assert_eq!(a.cwd.as_deref(), Some("/w"));
        assert_eq!(a.since.as_deref(), Some(T0));

        let prompt = br#"{"session_id":"5f0c-11","cwd":"/w","permission_mode":"default","hook_event_name":"UserPromptSubmit","prompt":"list files"}"#;
        let a = set(claude(prompt, Some(&a), T1));
        assert_eq!(a.state, AgentState::Working);
        assert_eq!(a.since.as_deref(), Some(T1));

        let pre = br#"{"session_id":"5f0c-11","cwd":"/w","hook_event_name":"PreToolUse","tool_name":"Bash\u001b[31m","tool_input":{"command":"ls"}}"#;
        let a = set(claude(pre, Some(&a), "2026-01-01T00:00:06Z"));
        assert_eq!(a.state, AgentState::Working);
        assert_eq!(a.tool.as_deref(), Some("Bash [31m"), "inert");
        assert_eq!(a.since.as_deref(), Some(T1), "still working since then");
        assert_eq!(a.summary(), "claude: running Bash [31m");

        let post = br#"{"session_id":"5f0c-11","cwd":"/w","hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{},"tool_response":{}}"#;
        let a = set(claude(post, Some(&a), T1));
        assert_eq!(a.tool, None);

        let stop = br#"{"session_id":"5f0c-11","cwd":"/w","hook_event_name":"Stop","stop_hook_active":false,"last_assistant_message":"\n\n  Here are the files:\u0007 \u202e a.txt\nb.txt"}"#;
        let a = set(claude(stop, Some(&a), T1));
        assert_eq!(a.state, AgentState::Done);
        assert_eq!(a.message.as_deref(), Some("Here are the files: a.txt"));

        // `claude -p` ends its session right after: still done, the session kept.
        let end = br#"{"session_id":"5f0c-11","cwd":"/w","hook_event_name":"SessionEnd","reason":"other"}"#;
        let a = set(claude(end, Some(&a), T1));
        assert_eq!(a.state, AgentState::Done);
        assert_eq!(a.session.as_deref(), Some("5f0c-11"));
        assert_eq!(a.message.as_deref(), Some("Here are the files: a.txt"));
    }

    #[test]
    fn a_late_session_start_does_not_undo_the_first_prompt() {
        let working = Agent {
            kind: CLAUDE.into(),
            state: AgentState::Working,
            session: Some("s1".into()),
            ..Agent::default()
        };
        let start = br#"{"session_id":"s1","hook_event_name":"SessionStart","source":"startup"}"#;
        assert_eq!(claude(start, Some(&working), T1), Change::Nothing);
        let other = br#"{"session_id":"s2","hook_event_name":"SessionStart","source":"startup"}"#;
        assert_eq!(
            set(claude(other, Some(&working), T1)).state,
            AgentState::Idle
        );
        let done = Agent {
            state: AgentState::Done,
            ..working
        };
        let resumed = br#"{"session_id":"s1","hook_event_name":"SessionStart","source":"resume"}"#;
        assert_eq!(
            set(claude(resumed, Some(&done), T1)).state,
            AgentState::Idle
        );
    }

    #[test]
    fn claude_asks_for_permission_or_input() {
        let working = Agent {
            kind: CLAUDE.into(),
            state: AgentState::Working,
            session: Some("s".into()),
            ..Agent::default()
        };
        for n in [
            r#"{"session_id":"s","hook_event_name":"Notification","message":"Claude needs your permission","notification_type":"permission_prompt"}"#,
            r#"{"session_id":"s","hook_event_name":"Notification","message":"Claude is waiting for your input","notification_type":"idle_prompt"}"#,
            r#"{"session_id":"s","hook_event_name":"Notification","message":"Claude needs your permission to use Bash"}"#,
            r#"{"session_id":"s","hook_event_name":"PermissionRequest","tool_name":"Bash"}"#,
        ] {
            let a = set(claude(n.as_bytes(), Some(&working), T1));
            assert_eq!(a.state, AgentState::NeedsYou, "{n}");
            assert_eq!(a.summary(), "claude: needs you");
        }
        let other = br#"{"session_id":"s","hook_event_name":"Notification","message":"Signed in","notification_type":"auth_success"}"#;
        assert_eq!(claude(other, Some(&working), T1), Change::Nothing);
    }

    #[test]
    fn the_person_ending_claude_forgets_it_and_junk_changes_nothing() {
        let a = Agent {
            kind: CLAUDE.into(),
            state: AgentState::Working,
            ..Agent::default()
        };
        let exit =
            br#"{"session_id":"s","hook_event_name":"SessionEnd","reason":"prompt_input_exit"}"#;
        assert_eq!(claude(exit, Some(&a), T1), Change::Clear);
        let killed = br#"{"session_id":"s","hook_event_name":"SessionEnd","reason":"other"}"#;
        assert_eq!(set(claude(killed, Some(&a), T1)).state, AgentState::Idle);
        for junk in [
            &b""[..],
            b"not json",
            b"[1,2]",
            b"{}",
            br#"{"hook_event_name":"SubagentStop"}"#,
            br#"{"hook_event_name":7}"#,
        ] {
            assert_eq!(claude(junk, Some(&a), T1), Change::Nothing, "{junk:?}");
        }
    }

    #[test]
    fn a_cut_off_event_still_names_its_tool() {
        let mut input = br#"{"session_id":"s1","cwd":"/w","hook_event_name":"PreToolUse","tool_name":"Write","tool_input":{"content":""#.to_vec();
        input.extend(std::iter::repeat_n(b'x', 1000));
        let a = set(claude(&input, None, T0));
        assert_eq!(a.state, AgentState::Working);
        assert_eq!(a.tool.as_deref(), Some("Write"));
        assert_eq!(a.session.as_deref(), Some("s1"));
    }

    #[test]
    fn a_new_session_starts_without_the_old_message() {
        let done = Agent {
            kind: CLAUDE.into(),
            state: AgentState::Done,
            session: Some("old".into()),
            message: Some("old answer".into()),
            cwd: Some("/w".into()),
            ..Agent::default()
        };
        let prompt = br#"{"session_id":"new","hook_event_name":"PostToolUse"}"#;
        let a = set(claude(prompt, Some(&done), T1));
        assert_eq!(a.session.as_deref(), Some("new"));
        assert_eq!(a.message, None);
        assert_eq!(
            a.cwd.as_deref(),
            Some("/w"),
            "a directory not given is kept"
        );
        // A Codex record is not continued by Claude's events.
        let codex_rec = Agent {
            kind: CODEX.into(),
            ..done.clone()
        };
        let a = set(claude(prompt, Some(&codex_rec), T1));
        assert_eq!(a.cwd, None);
    }

    #[test]
    fn codex_turns_are_done_and_its_title_thread_is_ignored() {
        let turn = r#"{"type":"agent-turn-complete","thread-id":"019a-main","turn-id":"1","cwd":"/w","client":"codex-tui","input-messages":["hi"],"last-assistant-message":"All done.\nDetails follow"}"#;
        let a = set(codex(turn, None, Some("100-5"), T0, 1_000));
        assert_eq!(a.kind, CODEX);
        assert_eq!(a.state, AgentState::Done);
        assert_eq!(a.session.as_deref(), Some("019a-main"));
        assert_eq!(a.cwd.as_deref(), Some("/w"));
        assert_eq!(a.message.as_deref(), Some("All done."));
        let rec = AgentRecord {
            pane: crate::session::SessionKey::normalize("tmux:x:%1").unwrap(),
            server: None,
            instance: None,
            process: Some("100-5".into()),
            reported_ms: Some(1_000),
            agent: a,
        };
        // As Codex 0.171's interactive UI sends it, right after the first turn's.
        let title = r#"{"type":"agent-turn-complete","thread-id":"019a-title","turn-id":"1","cwd":"/w","client":"codex-tui","input-messages":["Generate a concise, single-line task title of at most 36 characters and under five words where possible.\n\nUser prompt:\nhi"],"last-assistant-message":"Greet the user"}"#;
        assert_eq!(
            codex(title, None, Some("100-5"), T1, 1_500),
            Change::Nothing
        );
        assert_eq!(
            codex(title, Some(&rec), Some("9-9"), T1, 99_000),
            Change::Nothing
        );
        // A title thread not recognised by its request: by its thread id, right after.
        let other = r#"{"type":"agent-turn-complete","thread-id":"019a-other","turn-id":"1","cwd":"/w","input-messages":["hi"],"last-assistant-message":"Greeting"}"#;
        assert_eq!(
            codex(other, Some(&rec), Some("100-5"), T1, 1_500),
            Change::Nothing
        );
        // A new thread of the same process later on (`/new`), or another Codex process in the
        // pane: its thread is the pane's now.
        let a = set(codex(other, Some(&rec), Some("100-5"), T1, 60_000));
        assert_eq!(a.session.as_deref(), Some("019a-other"));
        let a = set(codex(other, Some(&rec), Some("200-9"), T1, 1_500));
        assert_eq!(a.session.as_deref(), Some("019a-other"));
        assert_eq!(a.message.as_deref(), Some("Greeting"));
        for junk in [
            "",
            "{}",
            r#"{"type":"something-else","thread-id":"x"}"#,
            "agent-turn-complete",
        ] {
            assert_eq!(codex(junk, None, None, T0, 0), Change::Nothing, "{junk:?}");
        }
    }

    #[test]
    fn resume_commands_are_quoted_and_refuse_what_is_not_plain() {
        let mut a = Agent {
            kind: CLAUDE.into(),
            session: Some("5f0c7a2e-1111".into()),
            cwd: Some("/work/it's $(here)".into()),
            ..Agent::default()
        };
        assert_eq!(
            resume_command(&a).as_deref(),
            Some("cd '/work/it'\\''s $(here)' && claude --resume '5f0c7a2e-1111'")
        );
        a.kind = CODEX.into();
        a.cwd = None;
        assert_eq!(
            resume_command(&a).as_deref(),
            Some("codex resume '5f0c7a2e-1111'")
        );
        for id in ["-rf", "a b", "x;y", "", "i\u{1b}d"] {
            a.session = Some(id.into());
            assert_eq!(resume_command(&a), None, "{id:?}");
        }
        a.session = Some("ok".into());
        a.cwd = Some("/a\nb".into());
        assert_eq!(resume_command(&a), None);
        // A directory that is not absolute: `cd -` would go to the shell's previous directory,
        // `cd -P` take an option, `cd x` depend on where the output is run.
        for dir in ["-", "-P", "work/x", ""] {
            a.cwd = Some(dir.into());
            assert_eq!(resume_command(&a), None, "{dir:?}");
        }
        a.kind = "other".into();
        a.cwd = None;
        assert_eq!(resume_command(&a), None);
    }

    #[test]
    fn ids_and_directories_that_are_not_plain_are_not_recorded() {
        let long = "x".repeat(MAX_FIELD_BYTES + 1);
        let input = format!(
            r#"{{"session_id":"{long}","cwd":"/a\u0000b","hook_event_name":"UserPromptSubmit"}}"#
        );
        let a = set(claude(input.as_bytes(), None, T0));
        assert_eq!(a.session, None);
        assert_eq!(a.cwd, None);
    }
}
