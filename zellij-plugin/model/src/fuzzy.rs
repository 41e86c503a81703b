//! The picker's fuzzy filter: every space-separated term of the query must appear in the text
//! as a subsequence (case-insensitive); consecutive letters and word starts score higher.

/// The score of `text` for `query` (higher is better), or `None` when some term does not match.
/// An empty query matches everything with score 0.
pub fn score(query: &str, text: &str) -> Option<i64> {
    let hay: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let mut total = 0;
    for term in query.split_whitespace() {
        total += score_term(term, &hay)?;
    }
    Some(total)
}

fn score_term(term: &str, hay: &[char]) -> Option<i64> {
    let needle: Vec<char> = term.chars().flat_map(char::to_lowercase).collect();
    // Best over every start position of the first letter: greedy from each start is cheap
    // and finds tight matches that a single left-to-right pass misses.
    let mut best: Option<i64> = None;
    for start in 0..hay.len() {
        if hay[start] != needle[0] {
            continue;
        }
        if let Some(s) = greedy(&needle, hay, start) {
            best = Some(best.map_or(s, |b: i64| b.max(s)));
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
        score += 1;
        if prev.is_some_and(|p| p + 1 == i) {
            score += 8;
        } else if let Some(p) = prev {
            score -= (i - p - 1).min(10) as i64;
        }
        if i == 0 || !hay[i - 1].is_alphanumeric() {
            score += 6;
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
        assert!(score("ab", "xab").unwrap() < score("ab", "x ab").unwrap());
    }

    #[test]
    fn wide_and_odd_characters_are_fine() {
        assert!(score("日本", "会話 日本語").is_some());
        assert!(score("ß", "STRASSE").is_none());
        assert!(score("#(", "#(touch M1)").is_some());
    }
}
