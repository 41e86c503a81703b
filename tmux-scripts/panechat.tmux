#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# panechat's tmux plugin: keys to fork, pick and start conversations, a status segment, pane
# border titles, and tmux-resurrect support. Load it with TPM (`set -g @plugin …`), with
# `run-shell /path/to/tmux-scripts/panechat.tmux`, or use the lines `panechat init tmux` prints.
#
# Loading costs two tmux commands: one reads every option at once, one applies everything.
# Loading it again replaces what the previous load set; nothing stacks.
set -u

CURRENT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPTS_DIR="$CURRENT_DIR/scripts"
# shellcheck source=scripts/variables.sh
. "$SCRIPTS_DIR/variables.sh"
# shellcheck source=scripts/helpers.sh
. "$SCRIPTS_DIR/helpers.sh"

declare -A opt=()     # @panechat-* and the other global options this file reads
declare -A alias_at=() # command-alias index of each panechat-* alias
declare -A bound=()   # prefix-table key -> its command
alias_next=0
cmds=()

# Reads every global option, the command aliases and the prefix table in one tmux call.
read_tmux_state() {
	local line name value idx key words
	while IFS= read -r line; do
		case $line in
		command-alias\[*)
			idx=${line#command-alias[}
			idx=${idx%%]*}
			[ "$idx" -ge "$alias_next" ] && alias_next=$((idx + 1))
			value=$(tmux_unquote "${line#* }")
			case $value in panechat-*=*) alias_at[${value%%=*}]=$idx ;; esac
			;;
		bind-key\ *)
			# bind-key [-r] -T prefix KEY COMMAND…
			read -r -a words <<<"$line"
			idx=1
			[ "${words[idx]}" = -r ] && idx=$((idx + 1))
			idx=$((idx + 2))
			key=$(tmux_unquote "${words[idx]}")
			bound[$key]="${words[*]:idx+1}"
			;;
		@panechat-* | status-left\ * | status-right\ * | pane-border-format\ * | pane-border-status\ * | @resurrect-hook-*)
			name=${line%% *}
			value=$(tmux_unquote "${line#* }")
			opt[$name]=$value
			;;
		esac
	done < <(tmux show-options -g \; show-options -s \; list-keys -T prefix 2>/dev/null)
}

get_opt() { # NAME DEFAULT
	if [ -n "${opt[$1]+x}" ]; then printf '%s' "${opt[$1]}"; else printf '%s' "$2"; fi
}

add() { # appends one tmux command (argv) to the batch
	[ ${#cmds[@]} -gt 0 ] && cmds+=(";")
	cmds+=("$@")
}

find_panechat() {
	local b
	b=$(get_opt "$panechat_bin_option" "")
	if [ -n "$b" ]; then
		[ -x "$b" ] && printf '%s' "$b"
		return
	fi
	# Set by `panechat init tmux --load`, which runs this file from the binary's own copy.
	if [ -n "${PANECHAT_BIN:-}" ] && [ -x "$PANECHAT_BIN" ]; then
		printf '%s' "$PANECHAT_BIN"
		return
	fi
	if b=$(command -v panechat 2>/dev/null) && [ -n "$b" ]; then
		printf '%s' "$b"
		return
	fi
	b="$(cd "$CURRENT_DIR/.." && pwd)/target/release/panechat"
	[ -x "$b" ] && printf '%s' "$b"
}

# Defines (or redefines, at the same index) the alias NAME as COMMAND.
set_alias() {
	local idx=${alias_at[$1]:-}
	if [ -z "$idx" ]; then
		idx=$alias_next
		alias_next=$((alias_next + 1))
	fi
	add set-option -s "command-alias[$idx]" "$1=$2"
}

# A run-shell command string that runs SCRIPT with ARGS (literal) and then FORMAT_ARGS
# (tmux formats, expanded when the key is pressed), as tmux parses it inside an alias.
run_script() { # SCRIPT FORMAT_ARGS LITERAL_ARGS…
	local script=$1 fmt=$2 s a
	shift 2
	s=$(format_escape "$(shell_quote "$script")")
	for a in "$@"; do s+=" $(format_escape "$(shell_quote "$a")")"; done
	s+=" $fmt"
	printf 'run-shell -b "%s"' "$(tmux_dquote_escape "$s")"
}

# Binds prefix + KEY to ALIAS unless KEY is empty/none or already bound to something else.
bind_key() { # KEY ALIAS
	local key=$1
	case $key in "" | none) return ;; esac
	# A key still bound to tmux's own default (prefix + C: customize-mode) is taken; one the
	# user bound is left alone.
	if [ -n "${bound[$key]+x}" ] && [[ ${bound[$key]} != *panechat* ]] &&
		[ "${bound[$key]}" != "${tmux_default_binding[$key]-}" ]; then
		skipped+=("$key")
		return
	fi
	add bind-key -T prefix "$key" "$2"
}

status_segment() {
	local running held max
	running=$(get_opt "$status_running_option" "$status_running_default")
	held=$(get_opt "$status_held_option" "$status_held_default")
	max=$(get_opt "$status_max_option" "$status_max_default")
	[[ $max =~ ^[0-9]+$ ]] || max=$status_max_default
	# Commas and braces would end the #{?…} branches early.
	running=${running//,/#,}
	running=${running//\}/#\}}
	held=${held//,/#,}
	held=${held//\}/#\}}
	printf '%s' "#{?@panechat_id,#{?#{||:#{==:#{@panechat_state},},#{==:#{@panechat_state},idle}},,$running}#{?@panechat_held,$held,}#{?@panechat_title,#{=/$max/…:#{q/h:@panechat_title}},#{=8:@panechat_id}} ,}"
}

setup_status() {
	local mode seg right left
	mode=$(get_opt "$status_option" "$status_default")
	add set-option -g @panechat-status-format "$(status_segment)"
	[ "$mode" = off ] && return
	seg='#{E:@panechat-status-format}'
	right=${opt[status-right]-}
	left=${opt[status-left]-}
	if [[ $right == *"$status_placeholder"* || $left == *"$status_placeholder"* ]]; then
		[[ $right == *"$status_placeholder"* ]] && add set-option -g status-right "${right//"$status_placeholder"/$seg}"
		[[ $left == *"$status_placeholder"* ]] && add set-option -g status-left "${left//"$status_placeholder"/$seg}"
	elif [ "$mode" = auto ] && [[ $right != *"$seg"* && $left != *"$seg"* ]]; then
		add set-option -g status-right "$seg$right"
	fi
}

setup_pane_border() {
	local fmt max seg
	[ "$(get_opt "$pane_border_option" "$pane_border_default")" = on ] || return
	max=$(get_opt "$status_max_option" "$status_max_default")
	[[ $max =~ ^[0-9]+$ ]] || max=$status_max_default
	seg="#{?@panechat_id, #{=/$max/…:#{q/h:@panechat_title}} ,}"
	fmt=${opt[pane-border-format]-}
	[[ $fmt == *"$seg"* ]] || add set-option -g pane-border-format "$fmt$seg"
	[ "${opt[pane-border-status]-off}" = off ] && add set-option -g pane-border-status top
}

setup_resurrect() {
	local save restore name cur
	[ "$(get_opt "$resurrect_option" "$resurrect_default")" = on ] || return
	save="$(shell_quote "$SCRIPTS_DIR/resurrect.sh") save"
	restore="$(shell_quote "$SCRIPTS_DIR/resurrect.sh") restore"
	for name in save restore; do
		local hook="@resurrect-hook-post-$name-all" ours
		[ "$name" = save ] && ours=$save || ours=$restore
		cur=${opt[$hook]-}
		if [ -z "$cur" ]; then
			add set-option -g "$hook" "$ours"
		elif [[ $cur != *"$SCRIPTS_DIR/resurrect.sh"* ]]; then
			add set-option -g "$hook" "$cur; $ours"
		fi
	done
}

main() {
	local bin split keep fork_key pick_key new_key msg
	skipped=()
	read_tmux_state
	fork_key=$(get_opt "$fork_key_option" "$fork_key_default")
	pick_key=$(get_opt "$pick_key_option" "$pick_key_default")
	new_key=$(get_opt "$new_key_option" "$new_key_default")
	bin=$(find_panechat)
	if [ -z "$bin" ]; then
		# Keys that explain what is missing, instead of keys that fail silently.
		msg="panechat: the panechat binary was not found (on PATH, in @panechat-bin, or at $(cd "$CURRENT_DIR/.." && pwd)/target/release). Install it: cargo install --path $(cd "$CURRENT_DIR/.." && pwd)/core, or download a release; then reload tmux.conf"
		msg="display-message \"$(tmux_dquote_escape "$(format_escape "$msg")")\""
		set_alias panechat-fork "$msg"
		set_alias panechat-pick "$msg"
		set_alias panechat-new "$msg"
	else
		add set-option -g @panechat-bin "$bin"
		split=$(get_opt "$fork_split_option" "$fork_split_default")
		keep=$(get_opt "$fork_keep_option" "$fork_keep_default")
		set_alias panechat-fork "$(run_script "$SCRIPTS_DIR/fork.sh" '#{pane_id} #{q:@panechat_id}' "$bin" "$split" "$keep")"
		set_alias panechat-pick "$(run_script "$SCRIPTS_DIR/pick.sh" '#{pane_id} #{q:client_name}' "$bin" \
			"$(get_opt "$popup_width_option" "$popup_width_default")" "$(get_opt "$popup_height_option" "$popup_height_default")")"
		set_alias panechat-new "$(run_script "$SCRIPTS_DIR/new.sh" '#{pane_id}' "$bin")"
		setup_status
		setup_pane_border
		setup_resurrect
	fi
	bind_key "$fork_key" panechat-fork
	bind_key "$pick_key" panechat-pick
	bind_key "$new_key" panechat-new
	if [ ${#skipped[@]} -gt 0 ]; then
		add display-message "$(format_escape "panechat: prefix + ${skipped[*]} already bound; choose other keys with @panechat-fork-key, @panechat-pick-key, @panechat-new-key")"
	fi
	tmux "${cmds[@]}"
	# Republish every known pane's conversation (pane options are lost when tmux restarts).
	[ -n "$bin" ] && { "$bin" refresh >/dev/null 2>&1 & } 2>/dev/null
	return 0
}

main
