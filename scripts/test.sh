#!/usr/bin/env bash
# Runs every panechat test on a fresh machine: installs what the tests need (tmux, TPM, strace, zsh, fish, the
# ShellCheck linter, the wasm32-wasip1 target, Zellij, Claude Code and Codex from npm), then the whole workspace test suite (unit,
# end-to-end against the fake provider, pty, real tmux, real headless Zellij, the WezTerm plugin
# in Lua 5.4), then each fuzz target briefly when a nightly toolchain is available.
#
#   scripts/test.sh                  # everything
#   FUZZ_SECONDS=0 scripts/test.sh   # skip the fuzzing pass
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Real tools the tests drive: tmux (and TPM, to install the plugin the way users do), shellcheck
# (the plugin's scripts are linted), the wasm32-wasip1 target and Zellij 0.45.1 (the plugin's
# end-to-end tests run in a real headless Zellij).
need_apt=()
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
[ -x /usr/share/tmux-plugin-manager/tpm ] || need_apt+=(tmux-plugin-manager)
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)
command -v script >/dev/null 2>&1 || need_apt+=(bsdutils)
# The shells whose `panechat init` lines the tests run for real.
command -v strace >/dev/null 2>&1 || need_apt+=(strace)
command -v zsh >/dev/null 2>&1 || need_apt+=(zsh)
command -v fish >/dev/null 2>&1 || need_apt+=(fish)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> installing ${need_apt[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
echo "==> $(tmux -V)"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
  echo "==> rustup target add wasm32-wasip1"
  rustup target add wasm32-wasip1
fi
export PATH="$HOME/.cargo/bin:$PATH"
ZELLIJ_VERSION=0.45.1
if [ "$(zellij --version 2>/dev/null)" != "zellij $ZELLIJ_VERSION" ]; then
  echo "==> installing Zellij $ZELLIJ_VERSION (cargo install, about 13 minutes on 2 cores)"
  cargo install --locked zellij --version "$ZELLIJ_VERSION" --quiet
fi
echo "==> $(zellij --version)"

# The coding agents panechat drives as back-ends and hears from through hooks: Claude Code and Codex
# from npm, at pinned versions, in a private prefix (nothing global changes). The tests run them
# offline against the project's fake provider.
CLAUDE_CODE_VERSION=2.1.197
CODEX_VERSION=0.171.0
agents="${PANECHAT_AGENTS_PREFIX:-$HOME/.cache/panechat-tests/agents}"
if [ "$("$agents/node_modules/.bin/claude" --version 2>/dev/null)" != "$CLAUDE_CODE_VERSION (Claude Code)" ] ||
  [ "$("$agents/node_modules/.bin/codex" --version 2>/dev/null)" != "codex-cli $CODEX_VERSION" ]; then
  command -v npm >/dev/null 2>&1 || { echo "npm is needed to install the coding agents the tests drive (Node.js 18 or newer)" >&2; exit 1; }
  echo "==> installing Claude Code $CLAUDE_CODE_VERSION and Codex $CODEX_VERSION (npm, into $agents)"
  mkdir -p "$agents"
  npm install --prefix "$agents" --no-audit --no-fund --loglevel=error \
    "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" "@openai/codex@$CODEX_VERSION" >/dev/null
fi
export PATH="$agents/node_modules/.bin:$PATH"
export PANECHAT_TEST_CLAUDE_VERSION="$CLAUDE_CODE_VERSION" PANECHAT_TEST_CODEX_VERSION="$CODEX_VERSION"
echo "==> $(claude --version), $(codex --version)"

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# The Zellij plugin is its own workspace (wasm32-wasip1 only). Build it into the target dir the
# end-to-end tests look in; they load it into a real Zellij.
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
echo "==> building the Zellij plugin (.wasm)"
wasm="$(scripts/zellij-plugin.sh "$target_dir/zellij-plugin")"
export PANECHAT_ZELLIJ_WASM="$wasm"
echo "==> $(du -k "$PANECHAT_ZELLIJ_WASM" | cut -f1) KiB $PANECHAT_ZELLIJ_WASM"

# (each crate has one test binary; the real-Zellij tests in it run one Zellij at a time)
# Every real-program test runs here: a program missing now fails its test instead of skipping it.
export PANECHAT_TESTS=all
echo "==> cargo test --workspace"
set +e
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$logs/test.log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '^test result: .* ([0-9]+) passed' "$logs/test.log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '^test result: .* ([0-9]+) failed' "$logs/test.log" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
if [ "$status" -ne 0 ]; then
  echo "tests: ${passed} passed, $((failed > 0 ? failed : 1)) failed"
  exit "$status"
fi

if [ -x scripts/fuzz.sh ] && [ "${FUZZ_SECONDS:-10}" != "0" ]; then
  echo "==> fuzzing each target for ${FUZZ_SECONDS:-10}s (full output: fuzz/last-run.log)"
  mkdir -p fuzz
  set +e
  FUZZ_SEED="${FUZZ_SEED:-1}" scripts/fuzz.sh "${FUZZ_SECONDS:-10}" > fuzz/last-run.log 2>&1
  fstatus=$?
  set -e
  grep -E '^(== |ok: |SKIP: |FAIL: )' fuzz/last-run.log || true
  if [ "$fstatus" -ne 0 ]; then
    tail -n 60 fuzz/last-run.log
    echo "tests: ${passed} passed, 1 failed"
    exit "$fstatus"
  fi
fi

echo "tests: ${passed} passed, ${failed} failed"
