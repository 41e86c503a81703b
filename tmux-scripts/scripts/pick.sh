#!/usr/bin/env bash
# prefix + C: the conversation picker in a popup over PANE, on CLIENT.
#   pick.sh BIN WIDTH HEIGHT TITLE PANE CLIENT     (TITLE "" on tmux 3.2, which has no -T)
# shellcheck source-path=SCRIPTDIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

bin=$1 width=$2 height=$3 title=$4 pane=$5 client=$6
args=()
[ -n "$title" ] && args+=(-T "$(format_escape "$title")")
# The popup's command is not expanded as a format (tmux 3.2 to 3.7); -d is, against PANE.
# A popup has no TMUX_PANE of its own: the picker gets PANE's (through env, since
# display-popup -e is tmux 3.3).
tmux display-popup -E -c "$client" -t "$pane" -w "$width" -h "$height" -d '#{pane_current_path}' \
	"${args[@]}" \
	"exec env TMUX_PANE=$(shell_quote "$pane") $(shell_quote "$bin") pick --pane $(shell_quote "$pane") --client $(shell_quote "$client")"
