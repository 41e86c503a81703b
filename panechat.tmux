#!/usr/bin/env bash
# TPM entry point (TPM runs every executable *.tmux at a plugin's root): loads the plugin.
# shellcheck source=tmux-scripts/panechat.tmux
. "${BASH_SOURCE[0]%/*}/tmux-scripts/panechat.tmux"
