#!/usr/bin/env bash
# prefix + C: the conversation picker in a popup over PANE, on CLIENT.
#   pick.sh BIN WIDTH HEIGHT PANE CLIENT
# shellcheck source-path=SCRIPTDIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

bin=$1 width=$2 height=$3 pane=$4 client=$5
# The popup's command is not expanded as a format (tmux 3.2 to 3.5); -d is, against PANE.
# A popup has no TMUX_PANE of its own: the picker gets PANE's.
tmux display-popup -E -c "$client" -t "$pane" -w "$width" -h "$height" -d '#{pane_current_path}' \
	-T ' panechat ' -e "TMUX_PANE=$pane" \
	"exec $(shell_quote "$bin") pick --pane $(shell_quote "$pane") --client $(shell_quote "$client")"
