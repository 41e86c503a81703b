//! Timestamps: RFC 3339 UTC strings with milliseconds, which sort as text. Reading them back
//! and short ages are `panechat_vocab::time`'s, which the Zellij plugin shares.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The current time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Parses a stored timestamp (to the second, with `panechat_vocab::time::unix_seconds`).
pub fn parse(ts: &str) -> Option<SystemTime> {
    let secs = panechat_vocab::time::unix_seconds(ts)?;
    UNIX_EPOCH.checked_add(Duration::from_secs(u64::try_from(secs).ok()?))
}

/// How long ago `ts` was, as `12s`, `5m`, `3h`, `2d` (`now` when unparsable).
pub fn ago(ts: &str) -> String {
    match panechat_vocab::time::unix_seconds(ts) {
        Some(then) => panechat_vocab::time::age(then, (now_ms() / 1000) as i64),
        None => String::from("now"),
    }
}

/// A duration as one short unit: `12s`, `5m`, `3h`, `2d`.
pub fn short_duration(d: Duration) -> String {
    panechat_vocab::time::short_age(d.as_secs())
}

/// The most digits a duration may have in all (humantime also reads `1 000s` as one number).
const MAX_DURATION_DIGITS: usize = 11;

/// Parses `30s`, `2m`, `1h30m`, `500ms`, `0`, or a number alone (`20`, `1.5`), which is
/// seconds, into a duration.
///
/// At most 11 digits in all keeps every duration under 10¹¹ years (3.2·10¹⁸ seconds):
/// `humantime` panics instead of failing on a sum that reaches `u64::MAX` seconds
/// (`18446744073709551615s 1000000000ns`), and adding more than `i64::MAX` seconds to an
/// `Instant` panics too.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.chars().filter(char::is_ascii_digit).count() > MAX_DURATION_DIGITS {
        return None;
    }
    let number = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.bytes().filter(|&b| b == b'.').count() <= 1
        && s.bytes().any(|b| b.is_ascii_digit());
    if number {
        return s.parse::<f64>().ok().map(Duration::from_secs_f64);
    }
    humantime::parse_duration(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("soon"), None);
        // A number alone is seconds.
        assert_eq!(parse_duration("20"), Some(Duration::from_secs(20)));
        assert_eq!(parse_duration(" 1.5 "), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("."), None);
        assert_eq!(parse_duration("1.2.3"), None);
        assert_eq!(parse_duration("-5"), None);
        assert_eq!(short_duration(Duration::from_secs(125)), "2m");
    }

    #[test]
    fn huge_durations_are_rejected_not_a_panic() {
        // Found with the `config` fuzz target: humantime panicked ("overflow in Duration::new").
        assert_eq!(parse_duration("18446744073709551615s 1000000000ns"), None);
        assert_eq!(
            parse_duration("18446744073709551615s 999999999ns 1ns"),
            None
        );
        // Accepted by humantime, but `Instant::now() + d` would overflow.
        assert_eq!(parse_duration("500000000000y"), None);
        // humantime skips spaces inside numbers: this is 18446744073709551615s.
        assert_eq!(parse_duration("1844674407 3709551615s 1000000000ns"), None);
        assert_eq!(parse_duration(&format!("1s{}", " 1s".repeat(30))), None);
        // The largest accepted durations still fit an Instant.
        for big in ["99999999999y", "9999999999.9y", "99999 99999 9y"] {
            let d = parse_duration(big).unwrap();
            assert!(std::time::Instant::now().checked_add(d).is_some(), "{big}");
        }
        assert_eq!(
            parse_duration("1000000000ms"),
            Some(Duration::from_secs(1_000_000))
        );
        assert_eq!(
            parse_duration("2h 37min 12s 500ms 250us"),
            Some(Duration::from_micros(9_432_500_250))
        );
    }

    #[test]
    fn timestamps_sort_as_text() {
        let a = now_rfc3339();
        std::thread::sleep(Duration::from_millis(2));
        let b = now_rfc3339();
        assert!(a < b);
        assert!(parse(&a).is_some());
        assert_eq!(a.len(), "2026-01-01T00:00:00.000Z".len());
    }
}
