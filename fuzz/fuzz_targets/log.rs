//! Conversation log records and whole logs (`parse_record`, `parse_log`).
//! The invariants are in `panechat_e2e::fuzz_checks::check_log`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| panechat_e2e::fuzz_checks::check_log(data));
