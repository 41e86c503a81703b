#!/usr/bin/env bash
# Runs each cargo-fuzz target for a short while.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 10); TARGETs default to every fuzz/fuzz_targets/*.rs. Each target
# starts from its committed seeds (fuzz/seeds/<target>, never written to) plus what earlier runs
# found (fuzz/corpus/<target>, git-ignored), with fuzz/dicts/<target>.dict when there is one.
#
# Needs a nightly toolchain and cargo-fuzz (installed with `cargo install --locked cargo-fuzz`
# when missing). Without a nightly toolchain, or when cargo-fuzz cannot be installed, it prints
# a `SKIP: ...` line and exits 0: plain `cargo test` runs the same checks on mutated seeds
# (tests/tests/fuzz_smoke.rs). It exits non-zero when a target does not build or a fuzzer finds
# a crash; the crashing input is kept under fuzz/artifacts/<target>/.
#
# Builds go to fuzz/target (or PANECHAT_FUZZ_TARGET_DIR), never to the workspace's target dir.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1

seconds="${1:-10}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]  (SECONDS: a positive whole number)" >&2
    exit 2
fi
shift $(($# > 0 ? 1 : 0))

if (($# > 0)); then
    targets=("$@")
else
    targets=()
    for f in fuzz/fuzz_targets/*.rs; do
        targets+=("$(basename "$f" .rs)")
    done
fi
for t in "${targets[@]}"; do
    if [[ ! -f "fuzz/fuzz_targets/$t.rs" ]]; then
        echo "no fuzz target named '$t' (see fuzz/fuzz_targets/)" >&2
        exit 2
    fi
done

skip() {
    echo "SKIP: fuzzing not run: $*"
    echo "SKIP: the same invariants run on mutated seeds in plain 'cargo test' (tests/tests/fuzz_smoke.rs)"
    exit 0
}

command -v cargo >/dev/null 2>&1 || skip "cargo is not installed"
if ! cargo +nightly --version >/dev/null 2>&1; then
    skip "no nightly Rust toolchain ('cargo +nightly' does not work; 'rustup toolchain install nightly' adds one)"
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed; installing it with 'cargo install --locked cargo-fuzz'"
    if ! cargo install --locked cargo-fuzz; then
        skip "cargo-fuzz is not installed and 'cargo install --locked cargo-fuzz' failed"
    fi
    cargo +nightly fuzz --version >/dev/null 2>&1 ||
        skip "cargo-fuzz was installed but 'cargo +nightly fuzz' still does not run"
fi

target_dir="${PANECHAT_FUZZ_TARGET_DIR:-$root/fuzz/target}"
echo "== building the fuzz targets ($(cargo +nightly fuzz --version), $(cargo +nightly --version))"
if ! cargo +nightly fuzz build --target-dir "$target_dir"; then
    echo "FAIL: the fuzz targets do not build"
    exit 1
fi

failed=()
for t in "${targets[@]}"; do
    echo "== fuzzing $t for ${seconds}s"
    mkdir -p "fuzz/corpus/$t"
    extra=()
    if [[ -f "fuzz/dicts/$t.dict" ]]; then
        extra+=("-dict=fuzz/dicts/$t.dict")
    fi
    # FUZZ_SEED makes a run repeatable (the test command sets it, so CI explores the same
    # inputs each time); unset, libFuzzer picks a fresh seed.
    if [[ -n "${FUZZ_SEED:-}" ]]; then
        extra+=("-seed=$FUZZ_SEED")
    fi
    # The corpus comes first: libFuzzer adds new inputs to the first directory only.
    if cargo +nightly fuzz run --target-dir "$target_dir" "$t" \
        "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$seconds" -timeout=10 "${extra[@]}"; then
        echo "ok: $t"
    else
        echo "FAIL: $t (the crashing input is under fuzz/artifacts/$t/)"
        failed+=("$t")
    fi
done

if ((${#failed[@]} > 0)); then
    echo "FAIL: ${#failed[@]} of ${#targets[@]} fuzz targets failed: ${failed[*]}"
    exit 1
fi
echo "ok: ${#targets[@]} fuzz targets ran ${seconds}s each without a crash"
