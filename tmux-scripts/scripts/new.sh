#!/usr/bin/env bash
# prefix + N: the next `panechat q` in PANE starts a new conversation.
#   new.sh BIN PANE
# shellcheck source-path=SCRIPTDIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

bin=$1 pane=$2
# run-shell gives no TMUX_PANE; PANE's tells panechat which tmux it runs in.
if out=$(TMUX_PANE=$pane "$bin" new --session "pane:$pane" 2>&1 >/dev/null); then
	tmux display-message -t "$pane" "panechat: the next question in this pane starts a new conversation"
else
	tmux display-message -t "$pane" "$(format_escape "panechat: ${out%%$'\n'*}")"
fi
