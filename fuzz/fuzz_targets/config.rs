//! One config layer as a user and as a project file, and each line as `--cfg` and as an
//! environment variable.
//! The invariants are in `panechat_e2e::fuzz_checks::check_config`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| panechat_e2e::fuzz_checks::check_config(data));
