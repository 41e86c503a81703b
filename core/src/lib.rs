//! panechat: every terminal-multiplexer pane gets its own LLM conversation.
//!
//! The library holds everything but terminal interaction: session identity ([`session`]),
//! the durable store ([`store`]), locks ([`lock`]), targeting ([`target`]), config
//! ([`config`]), providers ([`provider`]), titles ([`title`]), the runs registry ([`runs`]), each pane's
//! state ([`state`]) and what is told to the multiplexers ([`publish`], [`adapters`]), and above
//! them the query workflow ([`query`]). It never prints; the `panechat` binary (`src/cli`) owns
//! all terminal output.
#![deny(missing_docs)]

pub mod adapters;
pub mod agent_setup;
pub mod agents;
#[cfg(test)]
mod architecture;
pub mod config;
pub mod context;
pub mod doctor;
pub mod env;
pub mod error;
pub mod files;
pub mod hash;
pub mod hooks;
pub mod lock;
pub mod logfile;
pub mod model;
pub mod paths;
pub mod provider;
pub mod prune;
pub mod publish;
pub mod query;
pub mod question;
pub mod runs;
pub mod schema;
pub mod search;
pub mod session;
pub mod sessions;
pub mod shell;
pub mod state;
pub mod store;
pub mod target;
pub mod time;
pub mod title;
pub mod writes;

pub use error::{Error, Result};
