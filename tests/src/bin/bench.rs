//! `panechat-bench`: the speed and size budgets of SPEC §6, measured side by side with their
//! references in one run. Run it as `cargo bench-budgets` (see `tests/src/bench/`).

#[path = "../bench/mod.rs"]
mod bench;

fn main() {
    std::process::exit(bench::main());
}
