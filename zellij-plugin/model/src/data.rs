//! What the plugin learns from `panechat`: the pane-state JSON (`panechat::state` pipe messages,
//! `panechat sessions --json`), parsed leniently (unknown fields ignored) but with the schema
//! number checked.

use serde::Deserialize;

/// The newest JSON schema this plugin understands.
pub const SCHEMA: u64 = 1;

/// Who holds a conversation's lock (`held_by` in the pane state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Holder {
    /// The holder's session key.
    #[serde(default)]
    pub session: Option<String>,
    /// Its multiplexer (`zellij`, `tmux`, …).
    #[serde(default)]
    pub multiplexer: Option<String>,
    /// Its pane id within that multiplexer.
    #[serde(default)]
    pub pane: Option<String>,
    /// Its process id.
    #[serde(default)]
    pub pid: Option<u64>,
}

/// One run of `sessions --json` (only what the plugin uses).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Run {
    /// The run's state (`waiting`, `streaming`, …).
    #[serde(default)]
    pub state: Option<String>,
}

/// The state of one pane (session), as published by panechat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PaneState {
    /// JSON schema number.
    #[serde(default)]
    pub schema: Option<u64>,
    /// Session key (`zellij:<session>:<pane>`).
    #[serde(default)]
    pub session: Option<String>,
    /// Session key, as `sessions --json` also names it.
    #[serde(default)]
    pub key: Option<String>,
    /// `zellij`, `tmux`, …
    #[serde(default)]
    pub multiplexer: Option<String>,
    /// The pane id within its multiplexer (`3`, `terminal_3`).
    #[serde(default)]
    pub pane: Option<String>,
    /// The pane's active conversation.
    #[serde(default)]
    pub conversation: Option<String>,
    /// Its title, `None` while untitled.
    #[serde(default)]
    pub title: Option<String>,
    /// Its number of turns.
    #[serde(default)]
    pub turns: Option<u64>,
    /// When it last changed (RFC 3339).
    #[serde(default)]
    pub updated_at: Option<String>,
    /// `idle`, `waiting`, `streaming`, `titling`.
    #[serde(default)]
    pub activity: Option<String>,
    /// The lock holder when another process holds the conversation.
    #[serde(default)]
    pub held_by: Option<Holder>,
    /// Live runs (`sessions --json`).
    #[serde(default)]
    pub runs: Vec<Run>,
    /// Orders the states of one pane (`panechat::state` messages only): a state whose stamp is
    /// smaller than one already applied to its pane is older and is dropped.
    #[serde(default)]
    pub stamp: Option<u64>,
}

impl PaneState {
    /// The session key, whichever field carries it.
    pub fn key(&self) -> Option<&str> {
        self.session.as_deref().or(self.key.as_deref())
    }

    /// The Zellij terminal pane id this state is about, when it is a Zellij pane of the
    /// session whose key part is `session_part` (any session when `None`).
    pub fn zellij_pane(&self, session_part: Option<&str>) -> Option<u32> {
        let key = self.key()?;
        let mut parts = key.splitn(3, ':');
        let (mux, sess, pane) = (parts.next()?, parts.next()?, parts.next()?);
        if mux != "zellij" {
            return None;
        }
        if let Some(want) = session_part {
            // `zellij:<name>~<instance>:<pane>`: panechat names the session's run too, and
            // publishes only to panes of the run that is live, so any instance of this name is
            // this session.
            let name = sess.split_once('~').map_or(sess, |(name, _instance)| name);
            if name != want {
                return None;
            }
        }
        let pane = self.pane.as_deref().unwrap_or(pane);
        pane.strip_prefix("terminal_").unwrap_or(pane).parse().ok()
    }

    /// What this pane's query is doing (`idle` when nothing runs).
    pub fn activity(&self) -> &str {
        match self.activity.as_deref() {
            Some(a) => a,
            None => self
                .runs
                .first()
                .and_then(|r| r.state.as_deref())
                .unwrap_or("idle"),
        }
    }
}

fn check_schema(v: &serde_json::Value) -> Result<(), String> {
    match v.get("schema").and_then(serde_json::Value::as_u64) {
        Some(n) if n > SCHEMA => Err(format!(
            "panechat speaks JSON schema {n}, this plugin only {SCHEMA}: update the plugin (see docs/zellij.md)"
        )),
        _ => Ok(()),
    }
}

/// Parses one pane-state document (a `panechat::state` payload).
pub fn parse_state(text: &str) -> Result<PaneState, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    check_schema(&v)?;
    serde_json::from_value(v).map_err(|e| format!("not a pane state ({e})"))
}

/// Parses `panechat sessions --json`: elements that are not pane states are skipped.
pub fn parse_sessions(text: &str) -> Result<Vec<PaneState>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    let serde_json::Value::Array(items) = v else {
        return Err("expected a JSON array".into());
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        check_schema(&item)?;
        if let Ok(s) = serde_json::from_value::<PaneState>(item) {
            out.push(s);
        }
    }
    Ok(out)
}

/// The part of a Zellij session key that names the session, exactly as panechat builds it:
/// the name itself when it is short and made of `[A-Za-z0-9._-]`, else `h` + a hash.
pub fn session_part(name: &str) -> String {
    if !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return name.to_string();
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("h{}", &format!("{h:016x}")[..12])
}

/// How a command the plugin runs names terminal pane `pane` of this session (`--session`):
/// panechat resolves it to the pane's key (which names the session's running instance).
pub fn pane_session(pane: u32) -> String {
    format!("pane:terminal_{pane}")
}

/// Seconds since the Unix epoch of an RFC 3339 time (`2026-12-02T10:00:00Z`, fractions and
/// offsets allowed); `None` when it is not one.
pub fn unix_seconds(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { t.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" | "" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
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

/// A short age such as `now`, `42s`, `5m`, `3h`, `2d`.
pub fn age(then: i64, now: i64) -> String {
    let s = (now - then).max(0);
    match s {
        0..=4 => "now".into(),
        5..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_pane_state() {
        let s = parse_state(
            r#"{"schema":1,"session":"zellij:dev:3","multiplexer":"zellij","pane":"3",
             "conversation":"01m7yd5d6e4q2r8kzz","title":"Zellij layouts","turns":3,
             "updated_at":"2026-12-02T10:00:00Z","activity":"streaming",
             "held_by":{"session":"zellij:dev:4","multiplexer":"zellij","pane":"4","pid":42,"command":"q","since":"x"},
             "future_field":[1,2]}"#,
        )
        .unwrap();
        assert_eq!(s.zellij_pane(Some("dev")), Some(3));
        assert_eq!(s.zellij_pane(Some("other")), None);
        assert_eq!(s.title.as_deref(), Some("Zellij layouts"));
        assert_eq!(s.activity(), "streaming");
        assert_eq!(s.held_by.unwrap().pane.as_deref(), Some("4"));
    }

    #[test]
    fn rejects_newer_schemas_and_garbage_with_a_reason() {
        assert!(parse_state(r#"{"schema":2}"#)
            .unwrap_err()
            .contains("schema 2"));
        assert!(parse_state("kdl { x }").unwrap_err().contains("not JSON"));
        assert!(parse_sessions("{}").unwrap_err().contains("array"));
    }

    #[test]
    fn sessions_list_skips_foreign_elements() {
        let v = parse_sessions(
            r#"[{"schema":1,"key":"tmux:abc:%1","conversation":"a"},
                {"schema":1,"key":"zellij:dev:7","conversation":"b","runs":[{"state":"waiting"}]},
                42]"#,
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].zellij_pane(None), None);
        assert_eq!(v[1].zellij_pane(Some("dev")), Some(7));
        let mut later = v[1].clone();
        later.session = Some("zellij:dev~0a1b2c3d:7".into());
        assert_eq!(
            later.zellij_pane(Some("dev")),
            Some(7),
            "any run of the session"
        );
        assert_eq!(later.zellij_pane(Some("de")), None);
        assert_eq!(v[1].activity(), "waiting");
    }

    #[test]
    fn session_keys_match_panechats() {
        assert_eq!(pane_session(3), "pane:terminal_3");
        let odd = session_part("my session/1");
        assert!(odd.starts_with('h') && odd.len() == 13, "{odd}");
    }

    #[test]
    fn times() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2026-12-02T10:00:00Z"), Some(1_796_205_600));
        assert_eq!(
            unix_seconds("2026-12-02T11:00:00.123+01:00"),
            Some(1_796_205_600)
        );
        assert_eq!(unix_seconds("yesterday"), None);
        assert_eq!(age(100, 100), "now");
        assert_eq!(age(0, 125), "2m");
        assert_eq!(age(0, 3 * 86_400), "3d");
    }
}
