//! The listing index (`parse_index`).
//! The invariants are in `panechat_e2e::fuzz_checks::check_index`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| panechat_e2e::fuzz_checks::check_index(data));
