//! Stable hashes for keys and file names (not for security): the shared vocabulary's, which
//! the Zellij plugin computes the same way.

pub use panechat_vocab::key::{fnv1a, hex64, safe_part, short_hash};
