#!/usr/bin/env bash
# Runs every panechat test on a fresh machine: installs what the tests need (tmux), then the
# whole workspace test suite (unit, end-to-end against the fake provider, pty, real tmux), then
# each fuzz target briefly when a nightly toolchain is available.
#
#   scripts/test.sh            # everything
#   FUZZ_SECONDS=0 scripts/test.sh   # skip the fuzzing pass
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
command -v script >/dev/null 2>&1 || need_apt+=(bsdutils)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> installing ${need_apt[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
echo "==> $(tmux -V)"

echo "==> cargo test --workspace"
cargo test --workspace --locked 2>&1

if [ -x scripts/fuzz.sh ] && [ "${FUZZ_SECONDS:-10}" != "0" ]; then
  echo "==> fuzzing each target for ${FUZZ_SECONDS:-10}s"
  scripts/fuzz.sh "${FUZZ_SECONDS:-10}"
fi
