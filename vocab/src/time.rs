//! RFC 3339 times as panechat writes them, and the short ages every list shows.

/// Seconds since the Unix epoch of an RFC 3339 time (`2026-12-02T10:00:00Z`, fractions and
/// offsets allowed, UTC without a zone); `None` when it is not one.
pub fn unix_seconds(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 19
        || !t.is_char_boundary(19)
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" | "" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let (oh, om) = (
                rest[1..3].parse::<i64>().ok()?,
                rest[4..6].parse::<i64>().ok()?,
            );
            sign * (oh * 3600 + om * 60)
        }
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s - offset)
}

/// A span of `secs` seconds as one short unit: `12s`, `5m`, `3h`, `2d`.
pub fn short_age(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// How long before `now` the time `then` was (both in Unix seconds), as [`short_age`]; a time
/// in the future is `0s`.
pub fn age(then: i64, now: i64) -> String {
    short_age(u64::try_from(now.saturating_sub(then)).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_panechat_writes() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            unix_seconds("1970-01-01 00:00:01"),
            Some(1),
            "UTC without a zone"
        );
        assert_eq!(unix_seconds("2026-12-02T10:00:00Z"), Some(1_796_205_600));
        assert_eq!(
            unix_seconds("2026-12-02T11:00:00.123+01:00"),
            Some(1_796_205_600)
        );
        assert_eq!(
            unix_seconds("2024-02-29T12:34:56.789Z"),
            Some(1_709_210_096)
        );
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "yesterday",
            "",
            "2026-12-02",
            "2026-13-02T10:00:00Z",
            "2026-12-02T10:00:00.Z",
            "2026-12-02T10:00:00+1",
            "+026-12-02T10:00:00Z",
            "2026-12-02T1é:00:00Z",
            "2026-12-02T10:00:00Zjunk",
        ] {
            assert_eq!(unix_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn ages() {
        assert_eq!(age(100, 100), "0s");
        assert_eq!(age(0, 59), "59s");
        assert_eq!(age(0, 125), "2m");
        assert_eq!(age(0, 7200), "2h");
        assert_eq!(age(0, 3 * 86_400), "3d");
        assert_eq!(age(200, 100), "0s", "a time in the future");
        assert_eq!(
            age(i64::MIN, i64::MAX),
            short_age(i64::MAX as u64),
            "no overflow"
        );
    }
}
