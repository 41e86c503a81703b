//! The vocabulary panechat's core and its Zellij plugin share, in one place so the two cannot
//! drift apart: the pane-state document and its schema ([`state`]), session-key hashing
//! ([`key`]), the pickers' fuzzy scoring ([`fuzzy`]), text made inert for terminals and
//! multiplexers ([`text`]) and RFC 3339 times and short ages ([`time`]).
//!
//! It depends on serde alone and runs in the wasm plugin (`wasm32-wasip1`): no I/O, no clock.
#![deny(missing_docs)]

pub mod fuzzy;
pub mod key;
pub mod state;
pub mod text;
pub mod time;
