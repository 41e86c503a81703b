//! The logic of panechat's Zellij plugin, as plain Rust that needs no Zellij: the plugin's
//! [`State`], the reducer ([`State::handle`]) over Zellij events, pipe messages, keys and
//! `panechat --json` output, and its rendering to lines. What it shares with panechat itself
//! (the pane-state document, session-key parts, the fuzzy filter, inert text, ages) comes from
//! the `panechat-vocab` crate, so the two cannot drift apart.
//!
//! The wasm plugin (`zellij-plugin/src/main.rs`) is a thin shim: it turns `zellij-tile` events
//! into [`Input`]s and performs the returned [`Effect`]s through its [`Host`].
//!
//! The plugin learns everything from the `panechat` binary: `panechat sessions --json` when it
//! starts and when the picker opens, and the `panechat::state` pipe messages panechat sends
//! whenever a pane's state changes (see `docs/integration.md`). Nothing runs per frame and
//! nothing polls.
#![deny(missing_docs)]

pub mod config;
pub mod data;
pub mod names;
pub mod render;
pub mod state;
pub mod text;

pub use config::Config;
pub use state::{drive, Client, Effect, Host, Input, Key, Pane, Placement, State, Tab};

#[cfg(test)]
mod tests;
