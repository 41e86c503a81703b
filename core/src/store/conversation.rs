//! Conversation ids and the records stored for a conversation.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{AgentSession, Usage};

/// Crockford base32, lower case: no `i`, `l`, `o`, `u`.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Length of an id: 10 characters of milliseconds + 8 of randomness.
pub const ID_LEN: usize = 18;

/// A conversation id: time-ordered (milliseconds since the epoch, then 40 random bits),
/// lower-case Crockford base32, so ids sort by creation time and any unique prefix names one.
///
/// Deserialising checks the form too: ids read from logs, summaries, the index and session
/// records name files, so a stored id that is not id text (`"../x"`) is a parse error.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ConversationId(String);

impl<'de> Deserialize<'de> for ConversationId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() == ID_LEN && is_id_text(&s) {
            Ok(ConversationId(s))
        } else {
            Err(serde::de::Error::custom(format_args!(
                "not a conversation id ({ID_LEN} characters of 0-9 and a-z except i, l, o, u)"
            )))
        }
    }
}

impl ConversationId {
    /// A fresh id for now.
    pub fn generate() -> ConversationId {
        let ms = crate::time::now_ms() & ((1 << 50) - 1);
        let mut rnd = [0u8; 8];
        fill_random(&mut rnd);
        let r = u64::from_le_bytes(rnd) & ((1 << 40) - 1);
        let mut s = String::with_capacity(ID_LEN);
        for i in (0..10).rev() {
            s.push(ALPHABET[((ms >> (i * 5)) & 31) as usize] as char);
        }
        for i in (0..8).rev() {
            s.push(ALPHABET[((r >> (i * 5)) & 31) as usize] as char);
        }
        ConversationId(s)
    }

    /// Parses a full id.
    pub fn parse(s: &str) -> Result<ConversationId> {
        let lower = s.to_ascii_lowercase();
        if lower.len() == ID_LEN && is_id_text(&lower) {
            Ok(ConversationId(lower))
        } else {
            Err(Error::BadArgument {
                message: format!(
                    "`{}` is not a conversation id (ids are {ID_LEN} characters of 0-9 and a-z except i, l, o, u, e.g. from `panechat ls`)",
                    crate::title::sanitize_title(s)
                ),
            })
        }
    }

    /// Wraps a string already known to be a valid id (e.g. a file name that passed
    /// [`is_id_text`]).
    pub fn from_trusted(s: &str) -> Option<ConversationId> {
        (s.len() == ID_LEN && is_id_text(s)).then(|| ConversationId(s.to_string()))
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 10 characters (the time part), for compact display.
    pub fn short(&self) -> &str {
        &self.0[..10.min(self.0.len())]
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `s` consists only of id characters (lower-case Crockford base32).
pub fn is_id_text(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_id_byte)
}

/// Whether `b` is in [`ALPHABET`] (0-9, a-z except i, l, o, u).
fn is_id_byte(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'z') && !matches!(b, b'i' | b'l' | b'o' | b'u')
}

fn fill_random(buf: &mut [u8]) {
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n != buf.len() as isize {
        // Fall back to time, pid and a counter: uniqueness is still enforced by O_EXCL.
        use std::sync::atomic::{AtomicU64, Ordering};
        static C: AtomicU64 = AtomicU64::new(0);
        let mix = panechat_vocab::key::fnv1a(
            format!(
                "{:?}{}{}",
                std::time::Instant::now(),
                std::process::id(),
                C.fetch_add(1, Ordering::Relaxed)
            )
            .as_bytes(),
        );
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (mix >> ((i % 8) * 8)) as u8;
        }
    }
}

/// The parent of a fork.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parent {
    /// The conversation it was forked from.
    pub id: ConversationId,
    /// How many turns were kept.
    pub turns_kept: u64,
}

/// The first record of a conversation log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Format version.
    pub v: u32,
    /// The conversation's id.
    pub id: ConversationId,
    /// Creation time.
    pub created_at: String,
    /// The parent, for a fork.
    #[serde(default)]
    pub parent: Option<Parent>,
    /// Per-conversation model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Per-conversation system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// For a fork of a coding agent's conversation: the agent session its first question
    /// forks (with the agent's own fork).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentSession>,
}

/// One question and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// The user's message.
    pub user: String,
    /// The model's reply.
    pub assistant: String,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// Token usage, when reported.
    #[serde(default)]
    pub usage: Usage,
    /// When the query started.
    #[serde(default)]
    pub started_at: String,
    /// When the reply was complete.
    #[serde(default)]
    pub finished_at: String,
    /// Why generation stopped, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// The reply was cut at `provider.max_reply_bytes`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Text attached to the user's message (a pane, piped input, files), sent with it and,
    /// as history, with every later question.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::model::Attachment>,
    /// The message's identity, given when it was first drafted ([`new_message_id`]): a retry
    /// of a message whose id is already in the log is recognised and not stored again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// For a coding agent's turn: the agent session it was asked in (as it is after the turn),
    /// which the next question continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentSession>,
    /// What the turn cost in US dollars, as the agent reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<serde_json::Number>,
}

/// A new message identity: like a conversation id, time-ordered (so the newest of several
/// messages sorts last) and unique.
pub fn new_message_id() -> String {
    ConversationId::generate().0
}

/// One line of a conversation log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// The first line.
    Header(Header),
    /// A completed turn.
    Turn(Turn),
    /// A new title.
    Title {
        /// The title (already sanitised).
        title: String,
        /// When it was set.
        at: String,
        /// `model` or `user`.
        #[serde(default)]
        source: String,
    },
    /// New per-conversation settings.
    Settings {
        /// Model, if changed.
        #[serde(default)]
        model: Option<String>,
        /// System prompt, if changed.
        #[serde(default)]
        system: Option<String>,
        /// When.
        at: String,
    },
}

/// What `ls`, `status` and the index know about a conversation without reading its log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Id.
    pub id: ConversationId,
    /// Title, once there is one.
    #[serde(default)]
    pub title: Option<String>,
    /// Number of completed turns.
    pub turns: u64,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// The parent, for a fork.
    #[serde(default)]
    pub parent: Option<Parent>,
    /// Per-conversation model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Per-conversation system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Start of the last user message, for pickers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<String>,
    /// A tombstone in the index.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Size of the log when this summary was written (0 = unknown): a log of another size
    /// has changed since, and the pre-encoded history is rebuilt from it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub log_len: u64,
    /// Size of the pre-encoded history file that goes with `log_len`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub history_len: u64,
    /// How many attachments its turns carry.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attachments: u64,
    /// The coding agent's session its next question continues (or forks), if it is held with
    /// an agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentSession>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Summary {
    /// The title, or a placeholder naming the id while untitled.
    pub fn display_title(&self) -> String {
        self.title
            .clone()
            .unwrap_or_else(|| format!("({})", self.id.short()))
    }
}

/// A fully loaded conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The header.
    pub header: Header,
    /// Completed turns, oldest first.
    pub turns: Vec<Turn>,
    /// Current title.
    pub title: Option<String>,
    /// Current model setting.
    pub model: Option<String>,
    /// Current system prompt.
    pub system: Option<String>,
    /// Last change.
    pub updated_at: String,
    /// Bytes after the last newline: a write that never completed (ignored).
    pub torn_tail: Option<u64>,
}

impl Summary {
    /// The summary of a conversation that has only its header.
    pub fn from_header(h: &Header) -> Summary {
        Summary {
            id: h.id.clone(),
            title: None,
            turns: 0,
            created_at: h.created_at.clone(),
            updated_at: h.created_at.clone(),
            parent: h.parent.clone(),
            model: h.model.clone(),
            system: h.system.clone(),
            last_message: None,
            deleted: false,
            log_len: 0,
            history_len: 0,
            attachments: 0,
            agent: h.agent.clone(),
        }
    }

    /// Applies one record that follows the header: the one rule by which a summary follows its
    /// log, used when a log is read and when a record is appended.
    pub fn apply(&mut self, rec: &Record) {
        match rec {
            Record::Header(_) => {}
            Record::Turn(t) => {
                self.turns += 1;
                self.attachments += t.attachments.len() as u64;
                self.last_message = Some(snippet(&t.user));
                if t.agent.is_some() {
                    self.agent = t.agent.clone();
                }
                if !t.finished_at.is_empty() {
                    self.updated_at = t.finished_at.clone();
                }
            }
            Record::Title { title, at, .. } => {
                self.title = Some(title.clone()).filter(|t| !t.is_empty());
                self.updated_at = at.clone();
            }
            Record::Settings { model, system, at } => {
                if model.is_some() {
                    self.model = model.clone().filter(|m| !m.is_empty());
                }
                if system.is_some() {
                    self.system = system.clone().filter(|s| !s.is_empty());
                }
                self.updated_at = at.clone();
            }
        }
    }
}

impl Conversation {
    /// The summary this conversation implies.
    pub fn summary(&self) -> Summary {
        Summary {
            id: self.header.id.clone(),
            title: self.title.clone(),
            turns: self.turns.len() as u64,
            created_at: self.header.created_at.clone(),
            updated_at: self.updated_at.clone(),
            parent: self.header.parent.clone(),
            model: self.model.clone(),
            system: self.system.clone(),
            last_message: self.turns.last().map(|t| snippet(&t.user)),
            deleted: false,
            log_len: 0,
            history_len: 0,
            attachments: self.turns.iter().map(|t| t.attachments.len() as u64).sum(),
            agent: self
                .turns
                .iter()
                .rev()
                .find_map(|t| t.agent.clone())
                .or_else(|| self.header.agent.clone()),
        }
    }
}

/// The history encoding of one turn: `,{"role":"user","content":…},{"role":"assistant",…}`
/// (with a leading comma; the reader drops the first one). The history is shared by every
/// provider kind, so a turn's attachments are in the one form all of them accept: framed in the
/// user's content string, before the message ([`crate::model::joined_content`]).
pub fn encode_history(turn: &Turn) -> Vec<u8> {
    let attached: usize = turn.attachments.iter().map(|a| a.text.len() + 64).sum();
    let mut v = Vec::with_capacity(turn.user.len() + turn.assistant.len() + attached + 64);
    v.extend_from_slice(b",{\"role\":\"user\",\"content\":");
    if turn.attachments.is_empty() {
        serde_json::to_writer(&mut v, &turn.user).expect("strings serialise");
    } else {
        let joined = crate::model::joined_content(&turn.user, &turn.attachments);
        serde_json::to_writer(&mut v, &joined).expect("strings serialise");
    }
    v.extend_from_slice(b"},{\"role\":\"assistant\",\"content\":");
    serde_json::to_writer(&mut v, &turn.assistant).expect("strings serialise");
    v.push(b'}');
    v
}

/// The first line of a message, cut to 60 characters and free of controls.
pub fn snippet(s: &str) -> String {
    crate::title::sanitize_title(&s.chars().take(200).collect::<String>())
        .chars()
        .take(60)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_bytes_are_the_alphabet() {
        for b in 0..=u8::MAX {
            assert_eq!(is_id_byte(b), ALPHABET.contains(&b), "{b}");
        }
    }

    #[test]
    fn ids_are_unique_sorted_and_validated() {
        let mut ids: Vec<_> = (0..2000).map(|_| ConversationId::generate()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 2000);
        // Time prefix is non-decreasing in creation order.
        for w in ids.windows(2) {
            assert!(w[0].as_str()[..10] <= w[1].as_str()[..10]);
        }
        let a = ids.pop().unwrap();
        assert_eq!(
            ConversationId::parse(&a.as_str().to_uppercase()).unwrap(),
            a
        );
        for bad in [
            "../x",
            "",
            "abc",
            &"z".repeat(18).replace('z', "u"),
            "0123456789abcdefg/",
        ] {
            assert!(ConversationId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stored_ids_are_validated() {
        // Found by the `log` and `index` fuzz checks: ids read from files were taken as is,
        // and they name files (`conversations/<id>.jsonl`).
        let ok: ConversationId = serde_json::from_str("\"01m7ychr35eb8jpned\"").unwrap();
        assert_eq!(ok.as_str(), "01m7ychr35eb8jpned");
        for bad in [
            "\"../../x\"",
            "\"01m7ychr35ned\"",
            "\"01M7YCHR35EB8JPNED\"",
            "\"01m7ychr35eb8jpned/\"",
            "\"\"",
            "7",
        ] {
            let e = serde_json::from_str::<ConversationId>(bad).unwrap_err();
            assert!(!e.to_string().contains(".."), "{e}");
        }
        let header = r#"{"type":"header","v":1,"id":"../../etc/x","created_at":"c"}"#;
        assert!(serde_json::from_str::<Record>(header).is_err());
    }

    #[test]
    fn records_roundtrip() {
        let r = Record::Title {
            title: "x".into(),
            at: "t".into(),
            source: "user".into(),
        };
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.contains("\"type\":\"title\""));
        assert_eq!(serde_json::from_str::<Record>(&s).unwrap(), r);
    }
}

#[cfg(test)]
mod attachment_tests {
    use super::*;
    use crate::model::Attachment;

    fn turn(attachments: Vec<Attachment>) -> Turn {
        Turn {
            user: "why?".into(),
            assistant: "because".into(),
            model: "m".into(),
            usage: Usage::default(),
            started_at: String::new(),
            finished_at: String::new(),
            finish_reason: None,
            truncated: false,
            attachments,
            message_id: None,
            agent: None,
            cost_usd: None,
        }
    }

    #[test]
    fn old_logs_read_unchanged_and_attachments_roundtrip() {
        let old = r#"{"type":"turn","user":"u","assistant":"a","model":"m"}"#;
        let Record::Turn(t) = serde_json::from_str::<Record>(old).unwrap() else {
            panic!("a turn")
        };
        assert!(t.attachments.is_empty());
        // A turn without attachments is written as before.
        let plain = serde_json::to_string(&Record::Turn(turn(vec![]))).unwrap();
        assert!(!plain.contains("attachments"), "{plain}");
        let a = Attachment {
            source: "file src/main.rs".into(),
            text: "fn main() {}".into(),
        };
        let rec = Record::Turn(turn(vec![a.clone()]));
        let s = serde_json::to_string(&rec).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&s).unwrap(), rec);
        let mut summary = Summary::from_header(&Header {
            v: 1,
            id: ConversationId::generate(),
            created_at: String::new(),
            parent: None,
            model: None,
            system: None,
            agent: None,
        });
        summary.apply(&rec);
        summary.apply(&rec);
        assert_eq!(summary.attachments, 2);
    }

    #[test]
    fn history_carries_attachments_as_framed_text() {
        let a = Attachment {
            source: "stdin".into(),
            text: "error: x".into(),
        };
        let enc = encode_history(&turn(vec![a]));
        let v: serde_json::Value =
            serde_json::from_slice(&[b"[", &enc[1..], b"]"].concat()).unwrap();
        assert_eq!(
            v[0]["content"],
            "--- stdin ---\nerror: x\n--- end of stdin ---\n\nwhy?"
        );
        assert_eq!(v[1]["content"], "because");
        assert_eq!(
            encode_history(&turn(vec![])),
            b",{\"role\":\"user\",\"content\":\"why?\"},{\"role\":\"assistant\",\"content\":\"because\"}"
        );
    }
}
