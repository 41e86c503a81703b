//! The OpenAI, Anthropic and Ollama decoders, streamed (split anywhere) and not.
//! The invariants are in `panechat_e2e::fuzz_checks::check_provider_streams`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| panechat_e2e::fuzz_checks::check_provider_streams(data));
