#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# panechat's tmux plugin: keys to fork, pick and start conversations, a status segment, pane
# border titles, and tmux-resurrect support. Load it with TPM (`set -g @plugin …`), with
# `run-shell /path/to/tmux-scripts/panechat.tmux`, or use the lines `panechat init tmux` prints.
#
# Loading costs two tmux commands: one reads every option at once, one applies everything.
# Loading it again replaces what the previous load set; nothing stacks.
set -u

# (No subshells on this path: loading runs at every tmux start.)
CURRENT_DIR=${BASH_SOURCE[0]}
[[ $CURRENT_DIR == /* ]] || CURRENT_DIR=$PWD/$CURRENT_DIR
CURRENT_DIR=${CURRENT_DIR%/*}
# TPM runs plugins as …/plugins/NAME//NAME.tmux: tidy the path the keys will name.
while [[ $CURRENT_DIR == *//* ]]; do CURRENT_DIR=${CURRENT_DIR//\/\//\/}; done
CURRENT_DIR=${CURRENT_DIR//\/.\//\/}
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
			tmux_unquote value "${line#* }"
			case $value in panechat-*=*) alias_at[${value%%=*}]=$idx ;; esac
			;;
		bind-key\ *)
			# bind-key [-r] -T prefix KEY COMMAND…
			read -r -a words <<<"$line"
			idx=1
			[ "${words[idx]}" = -r ] && idx=$((idx + 1))
			idx=$((idx + 2))
			tmux_unquote key "${words[idx]}"
			bound[$key]="${words[*]:idx+1}"
			;;
		@panechat-* | status-left\ * | status-right\ * | pane-border-format\ * | pane-border-status\ * | @resurrect-hook-*)
			name=${line%% *}
			tmux_unquote value "${line#* }"
			opt[$name]=$value
			;;
		esac
	done < <(tmux show-options -g \; show-options -s \; list-keys -T prefix 2>/dev/null)
}

get_opt() { # VAR NAME DEFAULT: VAR = the option NAME, or DEFAULT when it is not set
	local -n _v=$1
	if [ -n "${opt[$2]+x}" ]; then _v=${opt[$2]}; else _v=$3; fi
}

add() { # appends one tmux command (argv) to the batch
	[ ${#cmds[@]} -gt 0 ] && cmds+=(";")
	cmds+=("$@")
}

# Sets bin to the panechat binary ("" when there is none).
find_panechat() {
	get_opt bin "$panechat_bin_option" ""
	if [ -n "$bin" ]; then
		[ -x "$bin" ] || bin=""
		return
	fi
	# Set by `panechat init tmux --load`, which runs this file from the binary's own copy.
	if [ -n "${PANECHAT_BIN:-}" ] && [ -x "$PANECHAT_BIN" ]; then
		bin=$PANECHAT_BIN
		return
	fi
	bin=$(type -P panechat) && return
	bin="${CURRENT_DIR%/*}/target/release/panechat"
	[ -x "$bin" ] || bin=""
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

# Sets _rs to a run-shell command string that runs SCRIPT with ARGS (literal) and then
# FORMAT_ARGS (tmux formats, expanded when the key is pressed), as tmux parses it inside an
# alias: shell-quoted, '#' doubled (run-shell expands formats), then escaped for "…".
run_script() { # SCRIPT FORMAT_ARGS LITERAL_ARGS…
	local fmt=$2 s="" a q
	set -- "$1" "${@:3}"
	for a in "$@"; do
		q="'${a//\'/\'\\\'\'}'"
		s+="${s:+ }${q//\#/##}"
	done
	s+=" $fmt"
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//\$/\\\$}
	_rs="run-shell -b \"$s\""
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

# Sets _seg to the status segment's format.
status_segment() {
	local running held max
	get_opt running "$status_running_option" "$status_running_default"
	get_opt held "$status_held_option" "$status_held_default"
	get_opt max "$status_max_option" "$status_max_default"
	[[ $max =~ ^[0-9]+$ ]] || max=$status_max_default
	# Commas and braces would end the #{?…} branches early.
	running=${running//,/#,}
	running=${running//\}/#\}}
	held=${held//,/#,}
	held=${held//\}/#\}}
	_seg="#{?@panechat_id,#{?#{||:#{==:#{@panechat_state},},#{==:#{@panechat_state},idle}},,$running}#{?@panechat_held,$held,}#{?@panechat_title,#{=/$max/…:#{q/h:@panechat_title}},#{=8:@panechat_id}} ,}"
}

setup_status() {
	local mode seg right left
	get_opt mode "$status_option" "$status_default"
	status_segment
	add set-option -g @panechat-status-format "$_seg"
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
	local on
	get_opt on "$pane_border_option" "$pane_border_default"
	[ "$on" = on ] || return
	get_opt max "$status_max_option" "$status_max_default"
	[[ $max =~ ^[0-9]+$ ]] || max=$status_max_default
	seg="#{?@panechat_id, #{=/$max/…:#{q/h:@panechat_title}} ,}"
	fmt=${opt[pane-border-format]-}
	[[ $fmt == *"$seg"* ]] || add set-option -g pane-border-format "$fmt$seg"
	[ "${opt[pane-border-status]-off}" = off ] && add set-option -g pane-border-status top
}

setup_resurrect() {
	local save restore name cur
	local on
	get_opt on "$resurrect_option" "$resurrect_default"
	[ "$on" = on ] || return
	local p="$SCRIPTS_DIR/resurrect.sh"
	p="'${p//\'/\'\\\'\'}'"
	save="$p save"
	restore="$p restore"
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
	local bin split keep fork_key pick_key new_key msg width height
	skipped=()
	read_tmux_state
	get_opt fork_key "$fork_key_option" "$fork_key_default"
	get_opt pick_key "$pick_key_option" "$pick_key_default"
	get_opt new_key "$new_key_option" "$new_key_default"
	find_panechat
	if [ -z "$bin" ]; then
		# Keys that explain what is missing, instead of keys that fail silently.
		msg="panechat: the panechat binary was not found (on PATH, in @panechat-bin, or at ${CURRENT_DIR%/*}/target/release). Install it: cargo install --path ${CURRENT_DIR%/*}/core, or download a release; then reload tmux.conf"
		msg="display-message \"$(tmux_dquote_escape "$(format_escape "$msg")")\""
		set_alias panechat-fork "$msg"
		set_alias panechat-pick "$msg"
		set_alias panechat-new "$msg"
	else
		add set-option -g @panechat-bin "$bin"
		get_opt split "$fork_split_option" "$fork_split_default"
		get_opt keep "$fork_keep_option" "$fork_keep_default"
		run_script "$SCRIPTS_DIR/fork.sh" '#{pane_id} #{q:@panechat_id}' "$bin" "$split" "$keep"
		set_alias panechat-fork "$_rs"
		get_opt width "$popup_width_option" "$popup_width_default"
		get_opt height "$popup_height_option" "$popup_height_default"
		run_script "$SCRIPTS_DIR/pick.sh" '#{pane_id} #{q:client_name}' "$bin" "$width" "$height"
		set_alias panechat-pick "$_rs"
		run_script "$SCRIPTS_DIR/new.sh" '#{pane_id}' "$bin"
		set_alias panechat-new "$_rs"
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
	if [ -n "$bin" ]; then
		# Republish every known pane's conversation (pane options are lost when tmux restarts);
		# tmux starts it in the background, so loading does not wait for it.
		local q="'${bin//\'/\'\\\'\'}'"
		add run-shell -b "${q//\#/##} refresh >/dev/null 2>&1"
	fi
	tmux "${cmds[@]}"
	return 0
}

main
