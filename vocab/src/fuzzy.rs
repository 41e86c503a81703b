//! The pickers' fuzzy filter (the `panechat pick` popup and the Zellij plugin's picker): every
//! space-separated term of the query must appear in the text as a subsequence
//! (case-insensitive); adjacent letters and word starts score higher, gaps lower.

/// What a matched character is worth.
const MATCH: i64 = 1;
/// Added when it follows the previous match directly.
const ADJACENT: i64 = 8;
/// Added when it starts a word.
const WORD_START: i64 = 6;
/// The most a gap between two matches costs (one per skipped character).
const MAX_GAP: usize = 10;

/// The score of `text` for `query` (higher is better), or `None` when some term does not match.
/// An empty query matches everything with score 0.
pub fn score(query: &str, text: &str) -> Option<i64> {
    let mut hay: Option<Vec<char>> = None;
    let mut total = 0;
    for term in query.split_whitespace() {
        let hay = hay.get_or_insert_with(|| text.chars().flat_map(char::to_lowercase).collect());
        let needle: Vec<char> = term.chars().flat_map(char::to_lowercase).collect();
        total += score_term(&needle, hay)?;
    }
    Some(total)
}

/// The best score of `needle` over every place its first letter occurs: greedy from each is
/// cheap and finds the tight match (`lay` in `zellij layouts`) a single pass misses.
fn score_term(needle: &[char], hay: &[char]) -> Option<i64> {
    let mut best: Option<i64> = None;
    for start in 0..hay.len() {
        if hay[start] != needle[0] {
            continue;
        }
        match greedy(needle, hay, start) {
            Some(s) => best = Some(best.map_or(s, |b| b.max(s))),
            // No later start can match either.
            None => break,
        }
    }
    best
}

fn greedy(needle: &[char], hay: &[char], start: usize) -> Option<i64> {
    let mut score = 0i64;
    let mut prev: Option<usize> = None;
    let mut i = start;
    for &c in needle {
        while i < hay.len() && hay[i] != c {
            i += 1;
        }
        if i == hay.len() {
            return None;
        }
        score += MATCH;
        match prev {
            Some(p) if p + 1 == i => score += ADJACENT,
            Some(p) => score -= (i - p - 1).min(MAX_GAP) as i64,
            None => {}
        }
        if i == 0 || !hay[i - 1].is_alphanumeric() {
            score += WORD_START;
        }
        prev = Some(i);
        i += 1;
    }
    Some(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsequences_match_case_insensitively() {
        assert!(score("zl", "Zellij layouts").is_some());
        assert!(score("ZELL", "zellij").is_some());
        assert!(score("tmx", "tmux panes").is_some());
        assert!(score("xyz", "Zellij layouts").is_none());
        assert_eq!(score("", "anything"), Some(0));
        assert_eq!(score("   ", ""), Some(0));
    }

    #[test]
    fn every_term_must_match() {
        assert!(score("zel lay", "Zellij layouts").is_some());
        assert!(score("zel tmux", "Zellij layouts").is_none());
    }

    #[test]
    fn tight_and_word_start_matches_rank_higher() {
        let tight = score("lay", "Zellij layouts").unwrap();
        let loose = score("lay", "a long array yes").unwrap();
        assert!(tight > loose, "{tight} <= {loose}");
        assert!(score("lay", "zellij layouts") > score("lay", "l a y"));
        assert!(score("ab", "xab").unwrap() < score("ab", "x ab").unwrap());
    }

    #[test]
    fn wide_and_odd_characters_are_fine() {
        assert!(score("日本", "会話 日本語").is_some());
        assert!(score("ß", "STRASSE").is_none());
        assert!(score("#(", "#(touch M1)").is_some());
    }
}
