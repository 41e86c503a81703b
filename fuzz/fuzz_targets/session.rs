//! Session keys (`SessionKey::normalize`) and `resolve` over an environment built from
//! `NAME=VALUE` lines.
//! The invariants are in `panechat_e2e::fuzz_checks::check_session`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| panechat_e2e::fuzz_checks::check_session(data));
