//! `NdjsonSplitter` over every split of the input, with and without a line limit.
//! The invariants are in `panechat_e2e::fuzz_checks::check_ndjson`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| panechat_e2e::fuzz_checks::check_ndjson(data));
