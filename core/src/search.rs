//! Finding conversations by what was said in them (`panechat search`, the pickers' filter).
//!
//! Every word of the query must occur (case-insensitively) in the conversation's title or in
//! one of its messages. Each log is read once and searched as bytes first (the words as they
//! appear in the log's JSON), so only the logs that hold every word are parsed; the cost is
//! about that of `grep -r` over the conversation logs.
//!
//! Best match first: the whole query as one phrase counts most, then words in the title, then
//! how often the words occur; among equals, the most recently active first.

use crate::error::Result;
use crate::store::conversation::{ConversationId, Summary};
use crate::store::{log, Store};

/// One conversation that matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The conversation.
    pub summary: Summary,
    /// Higher is better.
    pub score: i64,
    /// How many times the words occur in its messages.
    pub count: usize,
    /// Where a word first occurs: `you: …` or `model: …` around it, one line, free of controls
    /// (empty when only the title matched).
    pub snippet: String,
}

/// The query's words, lower-cased.
pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_lowercase).collect()
}

/// `word` as it appears inside a JSON string of the log (quotes, backslashes and controls are
/// escaped there), lower-cased in ASCII like the log's bytes are for the first pass.
fn json_form(word: &str) -> String {
    let quoted = serde_json::to_string(word).expect("a string serialises");
    quoted[1..quoted.len() - 1].to_ascii_lowercase()
}

/// Whether `bytes` (ASCII-lower-cased) may hold every word: a first pass that never misses a
/// conversation that matches. `finders` search for the ASCII words' JSON forms (non-ASCII
/// words are left to the second pass).
fn may_match(bytes: &[u8], finders: &[memchr::memmem::Finder<'_>]) -> bool {
    finders.iter().all(|f| f.find(bytes).is_some())
}

/// Counts the occurrences of `needle` in `hay` (both lower-case).
fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// Up to `width` characters of `text` around byte `at`, on one line, free of controls.
fn around(text: &str, at: usize, width: usize) -> String {
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(width / 3)
        .map_or(0, |(i, _)| i);
    let piece: String = text[start..].chars().take(width).collect();
    let mut out = crate::title::sanitize_title(&piece);
    if start > 0 {
        out.insert(0, '…');
    }
    out
}

/// Scores one parsed conversation against `words` (`phrase`: the words joined by spaces);
/// `None` when a word occurs nowhere.
fn score(
    title: &str,
    turns: &[crate::store::conversation::Turn],
    words: &[String],
    phrase: &str,
) -> Option<(i64, usize, String)> {
    let title_l = title.to_lowercase();
    let mut found = vec![false; words.len()];
    let mut in_title = 0i64;
    for (i, w) in words.iter().enumerate() {
        if title_l.contains(w.as_str()) {
            found[i] = true;
            in_title += 1;
        }
    }
    let mut total = 0usize;
    let mut phrase_hits = usize::from(words.len() > 1 && title_l.contains(phrase));
    let mut snippet = String::new();
    for t in turns {
        for (who, text) in [("you", &t.user), ("model", &t.assistant)] {
            let lower = text.to_lowercase();
            for (i, w) in words.iter().enumerate() {
                let n = count(&lower, w);
                if n > 0 {
                    found[i] = true;
                    total += n;
                    if snippet.is_empty() && lower.len() == text.len() {
                        if let Some(at) = lower.find(w.as_str()) {
                            snippet = format!("{who}: {}", around(text, at, 60));
                        }
                    } else if snippet.is_empty() {
                        snippet = format!("{who}: {}", around(text, 0, 60));
                    }
                }
            }
            if words.len() > 1 {
                phrase_hits += count(&lower, phrase);
            }
        }
    }
    if !found.iter().all(|f| *f) {
        return None;
    }
    let score = phrase_hits.min(20) as i64 * 100 + in_title * 50 + total.min(50) as i64;
    Some((score, total, snippet))
}

/// The conversations of `store` that hold every word of `text`, best first (see the module).
pub fn search(store: &Store, text: &str) -> Result<Vec<Hit>> {
    let words = words(text);
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let phrase = words.join(" ");
    let forms: Vec<String> = words
        .iter()
        .filter(|w| w.is_ascii())
        .map(|w| json_form(w))
        .collect();
    let finders: Vec<memchr::memmem::Finder<'_>> = forms
        .iter()
        .map(|f| memchr::memmem::Finder::new(f.as_bytes()))
        .collect();
    let list = store.list()?;
    let mut hits: Vec<(usize, Hit)> = Vec::new();
    // One buffer for the log as read, one for its lower-cased copy, reused for every log.
    let (mut original, mut lower) = (Vec::new(), Vec::new());
    for (rank, s) in list.into_iter().enumerate() {
        let path = store.log_path(&s.id);
        // Through `files`, as every file of the store: a link or a FIFO in its place is skipped.
        if crate::files::read_into(&path, &mut original).is_err() {
            continue;
        }
        lower.clear();
        lower.extend(original.iter().map(u8::to_ascii_lowercase));
        let title = s.display_title();
        if !may_match(&lower, &finders) {
            // The title (also in the log, as a record) may hold the words as the index has it.
            let t = title.to_lowercase();
            if !words.iter().all(|w| t.contains(w.as_str())) {
                continue;
            }
        }
        // A log that does not parse is skipped here; `panechat doctor` reports it.
        let Ok(conv) = log::parse_log(&path, &original) else {
            continue;
        };
        if let Some((score, count, snippet)) = score(&title, &conv.turns, &words, &phrase) {
            hits.push((
                rank,
                Hit {
                    summary: s,
                    score,
                    count,
                    snippet,
                },
            ));
        }
    }
    // Best first; among equals, the order of `list` (most recently active first).
    hits.sort_by(|a, b| b.1.score.cmp(&a.1.score).then(a.0.cmp(&b.0)));
    Ok(hits.into_iter().map(|(_, h)| h).collect())
}

/// The ids of [`search`]'s hits with their scores, for a picker's filter.
pub fn ids(store: &Store, text: &str) -> Result<Vec<(ConversationId, i64)>> {
    Ok(search(store, text)?
        .into_iter()
        .map(|h| (h.summary.id, h.score))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::Paths;
    use crate::store::conversation::Turn;
    use crate::store::NewConversation;

    fn turn(user: &str, assistant: &str) -> Turn {
        Turn {
            agent: None,
            cost_usd: None,
            user: user.into(),
            assistant: assistant.into(),
            model: "m".into(),
            usage: Default::default(),
            started_at: String::new(),
            finished_at: String::new(),
            finish_reason: None,
            truncated: false,
            attachments: Vec::new(),
            message_id: None,
        }
    }

    #[test]
    fn finds_by_what_was_said_best_match_first() {
        let root = std::env::temp_dir().join(format!(
            "panechat-search-{}-{}",
            std::process::id(),
            crate::time::now_ms()
        ));
        let store = Store::new(Paths {
            data: root.join("data"),
            state: root.join("state"),
            config_file: root.join("config.toml"),
        });
        store.ensure_dirs().unwrap();
        let mk = |title: &str, turns: Vec<Turn>| {
            store
                .create(NewConversation {
                    title: Some(title.into()),
                    turns,
                    ..Default::default()
                })
                .unwrap()
                .value
                .id
        };
        let scattered = mk(
            "Notes",
            vec![turn("the borrow rules", "a checker of \"borrows\"")],
        );
        let phrase = mk(
            "Lifetimes",
            vec![turn(
                "How does the Borrow Checker work?",
                "It checks borrows.",
            )],
        );
        let _other = mk("Zellij layouts", vec![turn("what is a layout", "KDL")]);
        let hits = search(&store, "borrow checker").unwrap();
        let ids: Vec<_> = hits.iter().map(|h| h.summary.id.clone()).collect();
        assert_eq!(ids, vec![phrase.clone(), scattered.clone()]);
        assert!(
            hits[0].snippet.starts_with("you: "),
            "{:?}",
            hits[0].snippet
        );
        assert!(hits[0].snippet.contains("Borrow Checker"), "{:?}", hits[0]);
        // Quotes as the log's JSON escapes them; titles; nothing.
        assert_eq!(search(&store, "\"borrows\"").unwrap().len(), 1);
        assert_eq!(search(&store, "zellij").unwrap().len(), 1);
        assert!(search(&store, "nowhere-said").unwrap().is_empty());
        assert!(search(&store, "  ").unwrap().is_empty());
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn a_fifo_in_place_of_a_log_is_skipped_not_waited_on() {
        let root = std::env::temp_dir().join(format!(
            "panechat-search-fifo-{}-{}",
            std::process::id(),
            crate::time::now_ms()
        ));
        let store = Store::new(Paths {
            data: root.join("data"),
            state: root.join("state"),
            config_file: root.join("config.toml"),
        });
        store.ensure_dirs().unwrap();
        let mk = |title: &str| {
            store
                .create(NewConversation {
                    title: Some(title.into()),
                    turns: vec![turn("where is the fifo", "here")],
                    ..Default::default()
                })
                .unwrap()
                .value
                .id
        };
        let kept = mk("kept");
        let gone = mk("gone");
        let path = store.log_path(&gone);
        std::fs::remove_file(&path).unwrap();
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
        // Run on a thread: a search that opened the FIFO for reading would never return.
        let (tx, rx) = std::sync::mpsc::channel();
        let s2 = Store::new(Paths {
            data: root.join("data"),
            state: root.join("state"),
            config_file: root.join("config.toml"),
        });
        std::thread::spawn(move || {
            let _ = tx.send(search(&s2, "fifo").map(|h| h.len()));
        });
        let found = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("search returned");
        assert_eq!(found.unwrap(), 1);
        assert_eq!(search(&store, "fifo").unwrap()[0].summary.id, kept);
        let _ = std::fs::remove_dir_all(root);
    }
}
