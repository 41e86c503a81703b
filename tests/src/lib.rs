//! Test support for panechat: an isolated environment per test ([`env`]), a pty runner
//! ([`pty`]), a provider server speaking the real wire formats ([`fake`]), and the parser
//! invariants shared by the fuzz targets and the stable fuzz smoke test ([`fuzz_checks`]),
//! private tmux servers with an attached client ([`tmux`]), real headless Zellij ([`zellij`]),
//! and the real coding agents run against the fake ([`agents`]).

pub mod agents;
pub mod env;
pub mod fake;
pub mod fuzz_checks;
pub mod helpers;
pub mod pty;
pub mod real;
pub mod snapshot;
pub mod tmux;
pub mod zellij;
