# shellcheck shell=bash
# Small helpers shared by the plugin's scripts. Everything reaches tmux as argv elements; these
# functions only prepare text for the few places where tmux itself parses a string.

# Quotes $1 for /bin/sh (single quotes).
shell_quote() {
	local s=${1//\'/\'\\\'\'}
	printf "'%s'" "$s"
}

# Doubles every '#' so that a string tmux expands as a format comes out as it went in.
format_escape() {
	printf '%s' "${1//\#/##}"
}

# Escapes $1 for the inside of a double-quoted tmux command string (\, " and $ are special).
tmux_dquote_escape() {
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//\$/\\\$}
	printf '%s' "$s"
}

# Undoes the quoting `tmux show-options` applies to a value ("…" with C-style escapes, '…',
# or a single character after a backslash), into the variable named $1 (no subshell: the
# loader calls it for every line it reads).
tmux_unquote() {
	local -n _out=$1
	local v=$2 c i n r=""
	case $v in
	\"*\")
		v=${v:1:${#v}-2}
		if [[ $v != *\\* ]]; then
			_out=$v
			return
		fi
		n=${#v}
		for ((i = 0; i < n; i++)); do
			c=${v:i:1}
			if [ "$c" = "\\" ] && [ $((i + 1)) -lt "$n" ]; then
				i=$((i + 1))
				c=${v:i:1}
				case $c in
				n) c=$'\n' ;;
				t) c=$'\t' ;;
				[0-7])
					printf -v c '%b' "\\0${v:i:3}"
					i=$((i + 2))
					;;
				esac
			fi
			r+=$c
		done
		_out=$r
		;;
	\'*\') _out=${v:1:${#v}-2} ;;
	\\?) _out=${v:1} ;;
	*) _out=$v ;;
	esac
}

# Shows a message on the client (the text is not expanded as a format).
display_message() {
	tmux display-message "$(format_escape "$1")"
}
