//! End-to-end test support for panechat: a fake LLM provider server speaking the real wire
//! formats, and helpers shared by the tests and benchmarks.

pub mod fake;
