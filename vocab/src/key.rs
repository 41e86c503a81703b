//! Hashing for session keys and file names, and the parts of keys that plugins rebuild.

/// 64-bit FNV-1a: a stable hash for keys and file names (not for security).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A hash as 16 lower-case hex digits.
pub fn hex64(h: u64) -> String {
    format!("{h:016x}")
}

/// The first 12 hex digits of `s`'s [`fnv1a`].
pub fn short_hash(s: &str) -> String {
    hex64(fnv1a(s.as_bytes()))[..12].to_string()
}

/// `s` itself when it is non-empty, at most `max` bytes and made of `[A-Za-z0-9._-]`, else `h`
/// and its [`short_hash`]: a part of a key that needs no quoting anywhere.
pub fn safe_part(s: &str, max: usize) -> String {
    if !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        s.to_string()
    } else {
        format!("h{}", short_hash(s))
    }
}

/// The part of a Zellij pane's session key that names its session (`zellij:<part>:<pane>`, or
/// `zellij:<part>~<instance>:<pane>`).
pub fn zellij_session_part(name: &str) -> String {
    safe_part(name, 64)
}

/// How a command names another pane's session (`--session pane:%3`, `pane:terminal_4`):
/// panechat resolves it to that pane's key in the multiplexer the command runs in.
pub fn pane_session(pane: &str) -> String {
    format!("pane:{pane}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable() {
        // FNV-1a's published test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(short_hash("a"), "af63dc4c8601");
    }

    #[test]
    fn session_parts() {
        assert_eq!(zellij_session_part("dev-1.x_y"), "dev-1.x_y");
        let odd = zellij_session_part("my session/1");
        assert!(odd.starts_with('h') && odd.len() == 13, "{odd}");
        assert_eq!(odd, format!("h{}", short_hash("my session/1")));
        assert_eq!(zellij_session_part(""), format!("h{}", short_hash("")));
        assert!(zellij_session_part(&"x".repeat(65)).starts_with('h'));
        assert_eq!(pane_session("terminal_3"), "pane:terminal_3");
    }
}
