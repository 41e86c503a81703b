//! Naming a conversation: `last`, `prev`, `pick`, or an id or unique id prefix.

use crate::error::{Error, Result};
use crate::session::SessionKey;
use crate::store::conversation::{is_id_text, ConversationId, ID_LEN};
use crate::store::{mapping, Store};

/// A parsed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The conversation activated last, in any session.
    Last,
    /// This session's previous conversation (like `cd -`).
    Prev,
    /// Open the picker.
    Pick,
    /// An id or a prefix of one (lower-cased).
    Id(String),
}

impl Target {
    /// Parses user input; anything that is not a keyword or id characters is a usage error.
    /// Keywords, like ids, ignore ASCII case (so `PREV` is the keyword, not an id prefix).
    pub fn parse(s: &str) -> Result<Target> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        match lower.as_str() {
            "last" => return Ok(Target::Last),
            "prev" | "-" => return Ok(Target::Prev),
            "pick" => return Ok(Target::Pick),
            _ => {}
        }
        if lower.len() <= ID_LEN && is_id_text(&lower) {
            return Ok(Target::Id(lower));
        }
        Err(Error::BadArgument {
            message: format!(
                "`{}` is not a conversation: use last, prev, pick, or an id or id prefix (0-9 and a-z except i, l, o, u; see `panechat ls`)",
                crate::title::sanitize_title(&t.chars().take(80).collect::<String>())
            ),
        })
    }
}

/// Resolves an id or unique prefix against the store.
pub fn resolve_prefix(store: &Store, prefix: &str) -> Result<ConversationId> {
    if prefix.len() == ID_LEN {
        let id = ConversationId::parse(prefix)?;
        if store.exists(&id) {
            return Ok(id);
        }
        return Err(Error::NotFound(format!("no conversation has the id {id}")));
    }
    let matches: Vec<ConversationId> = store
        .ids()?
        .into_iter()
        .filter(|id| id.as_str().starts_with(prefix))
        .collect();
    match matches.len() {
        0 => Err(Error::NotFound(format!(
            "no conversation id starts with `{prefix}`"
        ))),
        1 => Ok(matches.into_iter().next().expect("one")),
        _ => Err(Error::Ambiguous {
            prefix: prefix.to_string(),
            candidates: matches
                .iter()
                .take(10)
                .map(|id| {
                    let title = store
                        .read_summary_file(id)
                        .map(|s| s.display_title())
                        .unwrap_or_default();
                    format!("  {id}  {title}")
                })
                .collect(),
        }),
    }
}

/// Resolves `last` or `prev` for a session (the picker is the CLI's job).
pub fn resolve_keyword(store: &Store, key: &SessionKey, t: &Target) -> Result<ConversationId> {
    match t {
        Target::Last => mapping::last(&store.paths)
            .filter(|id| store.exists(id))
            .ok_or_else(|| {
                Error::NotFound("no conversation has been used yet, so there is no `last`".into())
            }),
        Target::Prev => {
            let rec = mapping::read(&store.paths, key)?;
            rec.and_then(|r| r.previous.into_iter().find(|id| store.exists(id)))
                .ok_or_else(|| {
                    Error::NotFound(
                        "this session has no previous conversation, so there is no `prev`".into(),
                    )
                })
        }
        Target::Id(p) => resolve_prefix(store, p),
        Target::Pick => Err(Error::Unavailable {
            message: "the picker needs a terminal".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keywords_ids_and_rejects_paths() {
        assert_eq!(Target::parse("last").unwrap(), Target::Last);
        assert_eq!(Target::parse("-").unwrap(), Target::Prev);
        assert_eq!(Target::parse("01ABC").unwrap(), Target::Id("01abc".into()));
        // Found by the `target` fuzz check: `prEv` was the id prefix "prev", which no id can
        // have and `prev` (the keyword) could never name.
        assert_eq!(Target::parse("PREV").unwrap(), Target::Prev);
        assert_eq!(Target::parse(" Last ").unwrap(), Target::Last);
        assert_eq!(Target::parse("pIcK").unwrap(), Target::Pick);
        for bad in [
            "../x",
            "a/b",
            "",
            "x y",
            "01234567890123456789",
            "ü",
            "a\nb",
        ] {
            assert!(
                matches!(Target::parse(bad), Err(Error::BadArgument { .. })),
                "{bad:?}"
            );
        }
    }
}
