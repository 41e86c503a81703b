#!/usr/bin/env bash
# prefix + F: forks PANE's conversation into a new split beside it. The new pane's command maps
# the fork to that pane before its shell starts, so the shell's first `panechat q` continues it.
#   fork.sh BIN SPLIT(h|v) KEEP(""|N) PANE CONVERSATION_ID
# shellcheck source-path=SCRIPTDIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

bin=$1 split=$2 keep=$3 pane=$4 id=${5:-}
if [ -z "$id" ]; then
	tmux display-message -t "$pane" "panechat: this pane has no conversation yet; ask something with panechat q, or pick one with the picker (prefix + C)"
	exit 0
fi
case $keep in
"" | all) keep="" ;;
*[!0-9]* | 0)
	tmux display-message -t "$pane" "$(format_escape "panechat: @panechat-fork-keep must be a number of turns or empty (all), not '$keep'")"
	exit 0
	;;
esac
case $split in v) flag=-v ;; *) flag=-h ;; esac

cmd="exec $(shell_quote "$bin") fork --exec-shell"
[ -n "$keep" ] && cmd+=" --last $keep"
# -c is expanded by tmux against PANE, so any directory name works; -e values are not expanded.
tmux split-window "$flag" -t "$pane" -c '#{pane_current_path}' -e "PANECHAT_FORK_FROM=$id" "$cmd"
