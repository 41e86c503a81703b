//! Test support for panechat: an isolated environment per test, a pty runner, and (in
//! `fake`) a provider server speaking the real wire formats.

pub mod env;
pub mod pty;
