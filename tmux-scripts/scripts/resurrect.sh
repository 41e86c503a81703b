#!/usr/bin/env bash
# tmux-resurrect support. tmux gives panes new ids after a restart, so each pane's conversation
# is remembered by session name, window index and pane index:
#   resurrect.sh save      (@resurrect-hook-post-save-all)     writes the table
#   resurrect.sh restore   (@resurrect-hook-post-restore-all)  gives each pane its conversation
# shellcheck source-path=SCRIPTDIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

file=$(tmux show-option -gqv @panechat-resurrect-file)
# Beside the conversations: under $PANECHAT_HOME when it is set, as panechat's own files are.
if [ -z "$file" ] && [ -n "${PANECHAT_HOME:-}" ]; then
	file="$PANECHAT_HOME/data/tmux-resurrect.tsv"
fi
[ -n "$file" ] || file="${XDG_DATA_HOME:-$HOME/.local/share}/panechat/tmux-resurrect.tsv"
tab=$'\t'

case ${1:-} in
save)
	mkdir -p "$(dirname "$file")"
	tmp="$file.$$"
	# The pane options the core keeps current: no panechat process needed.
	tmux list-panes -a -F "#{session_name}$tab#{window_index}$tab#{pane_index}$tab#{@panechat_id}" |
		while IFS=$tab read -r s w p id; do
			[ -n "$id" ] && printf '%s\t%s\t%s\t%s\n' "$s" "$w" "$p" "$id"
		done >"$tmp" && mv -f "$tmp" "$file"
	;;
restore)
	[ -f "$file" ] || exit 0
	bin=$(tmux show-option -gqv @panechat-bin)
	[ -n "$bin" ] || bin=panechat
	declare -A pane_of=()
	while IFS=$tab read -r s w p id; do
		pane_of["$s$tab$w$tab$p"]=$id
	done < <(tmux list-panes -a -F "#{session_name}$tab#{window_index}$tab#{pane_index}$tab#{pane_id}")
	failed=0
	while IFS=$tab read -r s w p id; do
		pane=${pane_of["$s$tab$w$tab$p"]:-}
		if [ -z "$pane" ] || [ -z "$id" ]; then continue; fi
		# run-shell gives no TMUX_PANE; any pane of this server tells panechat which tmux it is.
		TMUX_PANE=$pane "$bin" use "$id" --session "pane:$pane" >/dev/null 2>&1 || failed=$((failed + 1))
	done <"$file"
	if [ "$failed" -gt 0 ]; then
		display_message "panechat: $failed pane(s) could not get their conversation back (see panechat ls)"
	fi
	;;
*)
	echo "usage: resurrect.sh save|restore" >&2
	exit 2
	;;
esac
