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

# The same three, into the variable named $1 (no subshell: the loader runs at every tmux start).
#   set_shell_quoted VAR TEXT    'TEXT' for /bin/sh
#   set_dquoted VAR TEXT         TEXT escaped for the inside of a tmux "…" string
set_shell_quoted() {
	local -n _sq=$1
	_sq="'${2//\'/\'\\\'\'}'"
}
set_dquoted() {
	local -n _dq=$1
	local s=${2//\\/\\\\}
	s=${s//\"/\\\"}
	_dq=${s//\$/\\\$}
}

# Parses a tmux version (`tmux -V` without "tmux ", or #{version}) into the variable named $1
# as MAJOR*100+MINOR: 3.3a -> 303, 3.4 -> 304, next-3.6 -> 306 (the development version
# leading to 3.6), master -> 9999 (built from the source tree: has everything),
# openbsd-7.4 -> the tmux that OpenBSD release carried (7.1 and later: 3.3 or newer; 6.9
# and 7.0: 3.2; older: 301). Anything else -> 0 (unknown: only what every supported tmux has).
tmux_version() {
	local -n _ver=$1
	local v=$2 major minor
	v=${v#tmux }
	case $v in
	master | *-master) _ver=9999 ;;
	openbsd-*)
		v=${v#openbsd-}
		if [[ $v =~ ^([0-9]+)\.([0-9]+) ]]; then
			major=$((10#${BASH_REMATCH[1]})) minor=$((10#${BASH_REMATCH[2]}))
			if ((major > 7 || (major == 7 && minor >= 1))); then
				_ver=303
			elif ((major == 7 || (major == 6 && minor >= 9))); then
				_ver=302
			else
				_ver=301
			fi
		else
			_ver=0
		fi
		;;
	*)
		v=${v#next-}
		if [[ $v =~ ^([0-9]+)\.([0-9]+) ]]; then
			_ver=$((10#${BASH_REMATCH[1]} * 100 + 10#${BASH_REMATCH[2]}))
		else
			_ver=0
		fi
		;;
	esac
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
		# Usually only \", \\ and \$: undone with three replacements, not a loop.
		r=${v//\\\\/}
		r=${r//\\[\"\$]/}
		if [[ $r != *\\* && $v != *$'\1'* ]]; then
			v=${v//\\\\/$'\1'}
			v=${v//\\\"/\"}
			v=${v//\\\$/\$}
			_out=${v//$'\1'/\\}
			return
		fi
		r=""
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
