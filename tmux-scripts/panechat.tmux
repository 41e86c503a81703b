#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# panechat's tmux plugin: keys to fork, pick, start and ask in conversations, a status segment,
# pane border titles, and tmux-resurrect support. Load it with TPM (`set -g @plugin …`), with
# `run-shell /path/to/tmux-scripts/panechat.tmux`, or use the lines `panechat init tmux` prints.
#
# Loading runs at every tmux start, so it costs two tmux commands and nothing else: one reads
# the version, every option and the bindings of the plugin's keys at once, one applies
# everything. No subshell, no other program. Loading it again replaces what the previous load set; nothing stacks.
set -u
set -f # word splitting below must not glob

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

declare -A opt=()      # @panechat-* and the other global options this file reads
declare -A alias_at=() # command-alias index of each panechat-* alias
alias_next=0
clients=()     # the clients attached now
hook_next=0    # the first client-session-changed hook index after every one set
notice_hook="" # the index of the hook that shows panechat's notice at the next attach
declare -A key_bind=() # index in key_option -> the key this load binds
version=0    # tmux's version, MAJOR*100+MINOR (see tmux_version)
cmds=()

# The keys the plugin binds: option, default, table (the same order as key_alias in main).
key_option=("$fork_key_option" "$pick_key_option" "$new_key_option" "$ask_key_option"
	"$ask_selection_key_option" "$ask_selection_key_option")
key_default=("$fork_key_default" "$pick_key_default" "$new_key_default" "$ask_key_default"
	"$ask_selection_key_default" "$ask_selection_key_default")
key_table=(prefix prefix prefix prefix copy-mode copy-mode-vi)
declare -A bound=() # index in the lists above -> what its key is bound to now

# Reads the version, every global option, the command aliases and what each of the plugin's
# keys is bound to now, in one tmux call, into memory (bash reads a pipe a byte at a time; a
# command substitution does not). Each key is looked up by tmux itself: run-shell -C expands
# the key option (or its default) and runs list-keys for that one key, so nothing but a few
# lines comes back. An unbound key is an error there, which ends only that lookup.
read_tmux_state() {
	local out line name value idx i cur="" q=(display-message -p 'version #{version}' \; show-options -g \;
		show-options -gw pane-border-format \; show-options -gw pane-border-status \;
		show-options -s command-alias \; show-hooks -g client-session-changed \;
		list-clients -F 'panechat-client #{client_name}')
	for i in "${!key_option[@]}"; do
		name=${key_option[i]}
		q+=(\; display-message -p "key $i" \; run-shell -C
			"list-keys -T ${key_table[i]} #{?$name,#{q:$name},${key_default[i]}}")
	done
	local IFS=$'\n'
	out=$(tmux "${q[@]}" 2>/dev/null)
	for line in $out; do
		case $line in
		version\ *) tmux_version version "${line#version }" ;;
		key\ [0-9]*) cur=${line#key } ;;
		bind-key\ *)
			# bind-key [-r] -T TABLE KEY COMMAND…
			[[ $line =~ ^bind-key\ +(-r\ +)?-T\ +[^\ ]+\ +[^\ ]+\ +(.*)$ ]] && bound[$cur]=${BASH_REMATCH[2]}
			;;
		panechat-client\ *) clients+=("${line#panechat-client }") ;;
		client-session-changed\[*)
			idx=${line#client-session-changed[}
			idx=${idx%%]*}
			[ "$idx" -ge "$hook_next" ] && hook_next=$((idx + 1))
			[[ $line == *panechat* ]] && notice_hook=$idx
			;;
		command-alias\[*)
			idx=${line#command-alias[}
			idx=${idx%%]*}
			[ "$idx" -ge "$alias_next" ] && alias_next=$((idx + 1))
			# Only the name matters (unquoting whole values costs a loop per character).
			value=${line#* }
			value=${value#[\"\']}
			case $value in panechat-*=*) alias_at[${value%%=*}]=$idx ;; esac
			;;
		@panechat-* | status-left\ * | status-right\ * | status-right-length\ * | pane-border-format\ * | pane-border-status\ * | @resurrect-hook-*)
			name=${line%% *}
			tmux_unquote value "${line#* }"
			opt[$name]=$value
			;;
		esac
	done
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
	local d
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
	local IFS=:
	for d in ${PATH:-}; do
		[ -n "$d" ] || d=.
		if [ -f "$d/panechat" ] && [ -x "$d/panechat" ]; then
			bin=$d/panechat
			[[ $bin == /* ]] || bin=$PWD/$bin
			return
		fi
	done
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
		set_shell_quoted q "$a"
		s+="${s:+ }${q//\#/##}"
	done
	s+=" $fmt"
	set_dquoted s "$s"
	_rs="run-shell -b \"$s\""
}

# Sets _rs to an alias body that opens a popup over the pane the key was pressed in, on the
# client that pressed it, running `panechat ARGS… --session pane:PANE` in that pane's directory.
# Nothing but tmux runs until the popup does: run-shell -C expands the pane id (a format) and
# runs display-popup as a tmux command. Layers, innermost first: the popup's shell command
# (shell-quoted; display-popup does not expand it as a format), a tmux "…" word of the
# display-popup command, '#' doubled for run-shell's format expansion, then a tmux "…" word of
# the alias. The command gets the pane in TMUX_PANE (popups have none) through -e, or on tmux
# 3.2 (which has no display-popup -e, nor -T for the title) through `env`.
popup_alias() { # ARGS…
	local b a q cmd opts=""
	# Sizes go into the command unquoted by tmux: only N or N%.
	[[ $width =~ ^[0-9]+%?$ ]] || width=$ask_width_default
	[[ $height =~ ^[0-9]+%?$ ]] || height=$ask_height_default
	set_shell_quoted b "$bin"
	if [ "$version" -ge 303 ]; then
		# A title, and the pane through -e (tmux 3.3).
		opts=" -T ' panechat ' -e TMUX_PANE=#{pane_id}"
		cmd="exec ${b//\#/##}"
	else
		cmd="exec env TMUX_PANE=#{pane_id} ${b//\#/##}"
	fi
	for a in "$@"; do
		set_shell_quoted q "$a"
		cmd+=" ${q//\#/##}"
	done
	cmd+=" --session pane:#{pane_id}"
	set_dquoted cmd "$cmd"
	cmd="display-popup -E -d '##{pane_current_path}' -w '$width' -h '$height'$opts \"$cmd\""
	set_dquoted cmd "$cmd"
	_rs="run-shell -C \"$cmd\""
}

# Decides which of the plugin's keys this load binds (key_bind: index -> key): each key
# option's value, unless it is "" or none, or already bound to something else (a key the user
# bound is left alone, and named in `skipped`; a key still bound to tmux's own default, which
# only a key the user chose can be, is taken).
choose_keys() {
	local i key table
	for i in "${!key_option[@]}"; do
		table=${key_table[i]}
		get_opt key "${key_option[i]}" "${key_default[i]}"
		case $key in "" | none) continue ;; esac
		if [ -n "${bound[$i]+x}" ] && [[ ${bound[$i]} != *panechat* ]] &&
			[ "${bound[$i]}" != "${tmux_default_binding[$table $key]-}" ]; then
			if [ "$table" = prefix ]; then
				skipped+=("prefix + $key")
			elif [ "$table" = copy-mode ]; then
				skipped+=("$key in copy mode (emacs keys)")
			else
				skipped+=("$key in copy mode (vi keys)")
			fi
			continue
		fi
		key_bind[$i]=$key
	done
}

# Sets _kp to how messages name key number I: "prefix + KEY", or "" when it is not bound.
key_phrase() { # I
	_kp=""
	[ -n "${key_bind[$1]-}" ] && _kp="prefix + ${key_bind[$1]}"
}

# Binds key number I (see key_option) to ALIAS, if choose_keys chose it.
bind_key() { # I ALIAS NOTE
	[ -n "${key_bind[$1]-}" ] || return 0
	add bind-key -N "$3" -T "${key_table[$1]}" "${key_bind[$1]}" "$2"
}

# Tells the user which keys were left alone (skipped) where they will see it: on the clients
# attached now, or, while none is (tmux starting), on the first one to attach, through a
# client-session-changed hook that removes itself. The message stays until a key is pressed,
# and stays in tmux's message log (prefix + ~). @panechat-skipped-keys keeps the list for
# `panechat doctor`. Without skipped keys, an earlier load's hook is removed.
notice_skipped() {
	local msg name idx q
	if [ ${#skipped[@]} -eq 0 ]; then
		unset_global @panechat-skipped-keys
		[ -n "$notice_hook" ] && add set-hook -gu "client-session-changed[$notice_hook]"
		return 0
	fi
	msg=${skipped[0]}
	for name in "${skipped[@]:1}"; do msg+=", $name"; done
	set_global @panechat-skipped-keys "$msg"
	msg="panechat: $msg already bound to something else, so left alone; choose other keys with @panechat-fork-key, @panechat-pick-key, @panechat-new-key, @panechat-ask-key, @panechat-ask-selection-key"
	local d=()
	[ "$version" -ge 302 ] && d=(-d 0)
	if [ ${#clients[@]} -gt 0 ]; then
		[ -n "$notice_hook" ] && add set-hook -gu "client-session-changed[$notice_hook]"
		for name in "${clients[@]}"; do
			add display-message -c "$name" "${d[@]}" "${msg//\#/##}"
		done
	else
		idx=${notice_hook:-$hook_next}
		set_dquoted q "${msg//\#/##}"
		add set-hook -g "client-session-changed[$idx]" "display-message ${d[*]} \"$q\" ; set-hook -gu client-session-changed[$idx]"
	fi
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

# Sets the global option NAME to VALUE, unless it already has that value.
set_global() { # NAME VALUE
	[ "${opt[$1]-}" = "$2" ] && [ -n "${opt[$1]+x}" ] && return
	add set-option -g "$1" "$2"
}
# Unsets the global option NAME, if it is set.
unset_global() { # NAME
	[ -n "${opt[$1]+x}" ] && add set-option -gu "$1"
}

# The status segment. In auto mode (the default), unless the user placed it (the segment
# `#{E:@panechat-status-format}`, or the placeholder `#{panechat_status}`, which is filled), it
# goes in front of status-right and status-right-length grows by the segment's widest
# (markers, the longest title, an ellipsis and a space), so the user's own status-right keeps
# its room. What a load added is recorded in @panechat-status-added ("LENGTH_BEFORE
# LENGTH_SET") and taken back first at every load, so loading again, or with another mode,
# starts from what the user had.
setup_status() {
	local mode seg right left len added was set width running held max
	get_opt mode "$status_option" "$status_default"
	status_segment
	seg='#{E:@panechat-status-format}'
	right=${opt[status-right]-}
	left=${opt[status-left]-}
	len=${opt[status-right-length]-40}
	added=${opt[@panechat-status-added]-}
	if [ -n "$added" ]; then
		was=${added%% *}
		set=${added##* }
		right=${right#"$seg"}
		[ "$len" = "$set" ] && len=$was
	fi
	if [ "$mode" = off ]; then
		unset_global @panechat-status-format
		added=""
	else
		set_global @panechat-status-format "$_seg"
		added=""
		if [[ $right == *"$status_placeholder"* || $left == *"$status_placeholder"* ]]; then
			right=${right//"$status_placeholder"/$seg}
			left=${left//"$status_placeholder"/$seg}
		elif [ "$mode" = auto ] && [[ $right != *"$seg"* && $left != *"$seg"* ]]; then
			get_opt running "$status_running_option" "$status_running_default"
			get_opt held "$status_held_option" "$status_held_default"
			get_opt max "$status_max_option" "$status_max_default"
			[[ $max =~ ^[0-9]+$ ]] || max=$status_max_default
			[[ $len =~ ^[0-9]+$ ]] || len=40
			width=$((${#running} + ${#held} + max + 2))
			added="$len $((len + width))"
			right=$seg$right
			len=$((len + width))
		fi
	fi
	set_global status-right "$right"
	set_global status-left "$left"
	[ "$len" = "${opt[status-right-length]-40}" ] || add set-option -g status-right-length "$len"
	if [ -n "$added" ]; then set_global @panechat-status-added "$added"; else unset_global @panechat-status-added; fi
}

# The pane border: `#{E:@panechat-pane-border-format}` at the end of the user's own
# pane-border-format (a window option), and pane-border-status top only when it was off. What
# a load added is recorded in @panechat-pane-border-added (the pane-border-status it found)
# and taken back first at every load.
setup_pane_border() {
	local on max fmt status added seg='#{E:@panechat-pane-border-format}'
	get_opt on "$pane_border_option" "$pane_border_default"
	fmt=${opt[pane-border-format]-}
	status=${opt[pane-border-status]-off}
	added=${opt[@panechat-pane-border-added]-}
	fmt=${fmt//"$seg"/}
	[ -n "$added" ] && [ "$status" = top ] && status=$added
	if [ "$on" = on ]; then
		get_opt max "$status_max_option" "$status_max_default"
		[[ $max =~ ^[0-9]+$ ]] || max=$status_max_default
		set_global @panechat-pane-border-format "#{?@panechat_id, #{=/$max/…:#{q/h:@panechat_title}} ,}"
		fmt+=$seg
		added=""
		if [ "$status" = off ]; then
			added=off
			status=top
		fi
	else
		unset_global @panechat-pane-border-format
		added=""
	fi
	[ "$fmt" = "${opt[pane-border-format]-}" ] || add set-option -gw pane-border-format "$fmt"
	[ "$status" = "${opt[pane-border-status]-off}" ] || add set-option -gw pane-border-status "$status"
	if [ -n "$added" ]; then set_global @panechat-pane-border-added "$added"; else unset_global @panechat-pane-border-added; fi
}

setup_resurrect() {
	local save restore name cur p
	local on
	get_opt on "$resurrect_option" "$resurrect_default"
	[ "$on" = on ] || return
	set_shell_quoted p "$SCRIPTS_DIR/resurrect.sh"
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

# Sets _rs to an alias body that shows MESSAGE.
message_alias() {
	local m
	set_dquoted m "${1//\#/##}"
	_rs="display-message \"$m\""
}

main() {
	local bin split keep width height name
	skipped=()
	read_tmux_state
	choose_keys
	find_panechat
	if [ -z "$bin" ]; then
		# Keys that explain what is missing, instead of keys that fail silently.
		# The README's install command, first, so that a narrow status line still shows it.
		message_alias "panechat binary not found. Install it: cargo install --locked --path ${CURRENT_DIR%/*}/core (or set @panechat-bin), then reload tmux.conf"
		for name in fork pick new ask ask-selection; do
			set_alias "panechat-$name" "$_rs"
		done
	else
		add set-option -g @panechat-bin "$bin"
		get_opt split "$fork_split_option" "$fork_split_default"
		get_opt keep "$fork_keep_option" "$fork_keep_default"
		key_phrase 1
		run_script "$SCRIPTS_DIR/fork.sh" '#{pane_id} #{q:@panechat_id}' "$bin" "$split" "$keep" "$_kp"
		set_alias panechat-fork "$_rs"
		run_script "$SCRIPTS_DIR/new.sh" '#{pane_id}' "$bin"
		set_alias panechat-new "$_rs"
		get_opt width "$popup_width_option" "$popup_width_default"
		get_opt height "$popup_height_option" "$popup_height_default"
		if [ "$version" -ge 302 ] || [ "$version" -eq 0 ]; then
			local modern=0
			[ "$version" -ge 303 ] && modern=1
			run_script "$SCRIPTS_DIR/pick.sh" '#{pane_id} #{q:client_name}' "$bin" "$width" "$height" "$modern"
			set_alias panechat-pick "$_rs"
			get_opt width "$ask_width_option" "$ask_width_default"
			get_opt height "$ask_height_option" "$ask_height_default"
			popup_alias q --pane --prompt --hold
			set_alias panechat-ask "$_rs"
			popup_alias q --selection --prompt --hold
			set_alias panechat-ask-selection "send-keys -X copy-selection-and-cancel panechat-selection ; $_rs"
		else
			# display-popup is tmux 3.2.
			message_alias "panechat: the picker and the ask popups need tmux 3.2 or newer"
			set_alias panechat-pick "$_rs"
			set_alias panechat-ask "$_rs"
			set_alias panechat-ask-selection "$_rs"
		fi
		setup_status
		setup_pane_border
		setup_resurrect
	fi
	bind_key 0 panechat-fork "panechat: fork this pane's conversation into a split"
	bind_key 1 panechat-pick "panechat: pick a conversation"
	bind_key 2 panechat-new "panechat: start a new conversation in this pane"
	bind_key 3 panechat-ask "panechat: ask about this pane"
	bind_key 4 panechat-ask-selection "panechat: ask about the selection"
	bind_key 5 panechat-ask-selection "panechat: ask about the selection"
	notice_skipped
	if [ ${#clients[@]} -gt 0 ] && [ ${#skipped[@]} -gt 0 ]; then
		# A client may go away before the message reaches it; that is no failure of the load.
		tmux "${cmds[@]}"
		return 0
	fi
	# The last thing this process does: tmux replaces it (one process fewer).
	exec tmux "${cmds[@]}"
}

main
