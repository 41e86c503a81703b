//! Test support for panechat: an isolated environment per test ([`env`]), a pty runner
//! ([`pty`]), and a provider server speaking the real wire formats ([`fake`]).

pub mod env;
pub mod fake;
pub mod pty;
