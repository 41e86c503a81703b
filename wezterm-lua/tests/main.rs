//! Every test of the WezTerm plugin, in one test binary.

mod ask;
mod docs;
mod keys;
mod lock_overlay;
mod plugin;
mod real_binary;
