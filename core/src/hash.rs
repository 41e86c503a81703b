//! Stable hashes for keys and file names (not for security).

/// 64-bit FNV-1a.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// `h` as 16 hex digits.
pub fn hex64(h: u64) -> String {
    format!("{h:016x}")
}

/// The first 12 hex digits of `s`'s hash.
pub fn short_hash(s: &str) -> String {
    hex64(fnv1a(s.as_bytes()))[..12].to_string()
}

/// `s` as it is when it is short (at most `max` bytes) and made of `[A-Za-z0-9._-]`, else `h`
/// and its [`short_hash`].
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
