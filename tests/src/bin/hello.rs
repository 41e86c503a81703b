//! The trivial binary (`fn main() {}`, built in the same release profile) that `panechat-bench`
//! compares the whole-process cost of `panechat status` with: what any Rust program pays to
//! start and exit.

fn main() {}
