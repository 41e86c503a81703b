//! `SseParser` over every split of the input against a whole-input reading of the rules.
//! The invariants are in `panechat_e2e::fuzz_checks::check_sse`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| panechat_e2e::fuzz_checks::check_sse(data));
