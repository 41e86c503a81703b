#!/usr/bin/env bash
# prefix + F: forks PANE's conversation into a new split beside it. The split is a pane like any
# other (tmux runs in it what it runs for every new pane: default-command, else default-shell);
# the fork is made that pane's conversation as soon as tmux has created it, so the first
# `panechat q` typed there continues the fork.
#   fork.sh BIN SPLIT(h|v) KEEP(""|N) PICK_KEY("prefix + P"|"") PANE CONVERSATION_ID
# shellcheck source-path=SCRIPTDIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

bin=$1 split=$2 keep=$3 pick=$4 pane=$5 id=${6:-}
if [ -z "$id" ]; then
	if [ -n "$pick" ]; then how="pick one with the picker ($pick)"; else how="give it one with panechat use ID"; fi
	tmux display-message -t "$pane" "$(format_escape "panechat: this pane has no conversation yet; ask something with panechat q, or $how")"
	exit 0
fi
last=()
case $keep in
"" | all) ;;
*[!0-9]* | 0)
	tmux display-message -t "$pane" "$(format_escape "panechat: @panechat-fork-keep must be a number of turns or empty (all), not '$keep'")"
	exit 0
	;;
*) last=(--last "$keep") ;;
esac
case $split in v) flag=-v ;; *) flag=-h ;; esac

# -c is expanded by tmux against PANE, so any directory name works.
new=$(tmux split-window "$flag" -t "$pane" -c '#{pane_current_path}' -P -F '#{pane_id}') || exit 0
# run-shell gives no TMUX_PANE; the new pane's tells panechat which tmux it runs in.
if ! out=$(TMUX_PANE=$new "$bin" fork "$id" "${last[@]}" --session "pane:$new" 2>&1 >/dev/null); then
	tmux display-message -t "$new" "$(format_escape "panechat: ${out%%$'\n'*}")"
fi
