#!/usr/bin/env bash
# Builds panechat's Zellij plugin (.wasm) the same way everywhere, so the plugin the binary
# carries (core/assets/panechat-zellij.wasm) can be checked against its sources: paths of
# crates.io sources are written as /cargo/... instead of this machine's $CARGO_HOME, and those
# of this checkout as /panechat/....
#
#   scripts/zellij-plugin.sh [TARGET_DIR]   # build; prints the .wasm's path
#   scripts/zellij-plugin.sh --update       # build, then replace the carried plugin
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
update=0
if [ "${1:-}" = "--update" ]; then
  update=1
  shift
fi
target_dir="${1:-${CARGO_TARGET_DIR:-$PWD/target}/zellij-plugin}"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
# (and this checkout's path, which sources outside the plugin's workspace are named by)
export RUSTFLAGS="--remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$PWD=/panechat"
unset CARGO_ENCODED_RUSTFLAGS CARGO_TARGET_DIR
cargo build --release --locked --quiet --target wasm32-wasip1 \
  --manifest-path zellij-plugin/Cargo.toml --target-dir "$target_dir"
wasm="$target_dir/wasm32-wasip1/release/panechat.wasm"
if [ "$update" = 1 ]; then
  cp "$wasm" core/assets/panechat-zellij.wasm
  wasm=core/assets/panechat-zellij.wasm
fi
echo "$wasm"
