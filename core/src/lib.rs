//! panechat: every terminal-multiplexer pane gets its own LLM conversation.
//!
//! This library never prints; the `panechat` binary (`cli`) owns all terminal output.
#![deny(missing_docs)]

pub mod provider;
