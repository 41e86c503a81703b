#!/usr/bin/env bash
# TPM entry point (TPM runs every executable *.tmux at a plugin's root): loads the plugin.
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tmux-scripts/panechat.tmux" "$@"
