#!/usr/bin/env bash
# prefix + P: the conversation picker in a popup over PANE, on CLIENT.
#   pick.sh BIN WIDTH HEIGHT MODERN PANE CLIENT    (MODERN: 1 on tmux 3.3 and later, else 0)
# shellcheck source-path=SCRIPTDIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

bin=$1 width=$2 height=$3 modern=$4 pane=$5 client=$6
cmd="exec $(shell_quote "$bin") pick --pane $(shell_quote "$pane") --client $(shell_quote "$client")"
# A popup has no TMUX_PANE of its own: the picker gets PANE's, through -e on tmux 3.3 and
# later (which also gives the popup a title), else through env in the command.
if [ "$modern" = 1 ]; then
	args=(-T ' panechat ' -e "TMUX_PANE=$pane")
else
	args=()
	cmd="exec env TMUX_PANE=$(shell_quote "$pane") ${cmd#exec }"
fi
# The popup's command is not expanded as a format (tmux 3.2 to 3.7); -d is, against PANE.
tmux display-popup -E -c "$client" -t "$pane" -w "$width" -h "$height" -d '#{pane_current_path}' \
	"${args[@]}" "$cmd"
