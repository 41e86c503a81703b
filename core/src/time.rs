//! Timestamps: RFC 3339 UTC strings with milliseconds, which sort as text.

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

/// Parses a stored timestamp.
pub fn parse(ts: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(ts).ok()
}

/// How long ago `ts` was, as `12s`, `5m`, `3h`, `2d` (empty when unparsable).
pub fn ago(ts: &str) -> String {
    match parse(ts).and_then(|t| SystemTime::now().duration_since(t).ok()) {
        Some(d) => short_duration(d),
        None => String::from("now"),
    }
}

/// A duration as one short unit: `12s`, `5m`, `3h`, `2d`.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86400)
    }
}

/// Parses `30s`, `2m`, `1h30m`, `500ms` or `0` into a duration.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
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
        assert_eq!(short_duration(Duration::from_secs(125)), "2m");
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
