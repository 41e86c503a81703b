#!/usr/bin/env bash
# panechat's tmux plugin. TPM runs this file at every tmux start (or: run-shell PATH/panechat.tmux).
# The plugin lives in the panechat binary: this finds the binary and runs `panechat init tmux
# --load`, which reads every option in one tmux call and applies keys, status segment, pane
# border and tmux-resurrect hooks in one more (every option: docs/tmux.md).
set -u
here=${BASH_SOURCE[0]%/*}
[[ $here == /* ]] || here=$PWD/$here
while [[ $here == *//* ]]; do here=${here//\/\//\/}; done # TPM runs …/plugins/NAME//NAME.tmux
find_bin() { # $PATH, then a build in this clone, then @panechat-bin
	local d IFS=:
	for d in ${PATH:-}; do
		[ -x "${d:-.}/panechat" ] && [ -f "${d:-.}/panechat" ] && bin=${d:-.}/panechat && return
	done
	bin=$here/../target/release/panechat
	[ -x "$bin" ] && return
	bin=$(tmux show-option -gqv @panechat-bin)
	[ -n "$bin" ] && [ -x "$bin" ] && return
	bin=""
}
find_bin
[ -n "$bin" ] && exec "$bin" init tmux --load
# No binary: the keys say how to get one, instead of failing silently.
clone=${here%/tmux-scripts}
msg="panechat binary not found. Install it: cargo install --locked --path $clone/core (or set @panechat-bin), then reload tmux.conf"
for o in fork:F pick:P new:N ask:A; do # a key set to "" or none, or bound by you, is left alone
	name=@panechat-${o%%:*}-key key=${o#*:}
	[ -n "$(tmux show-option -gq "$name")" ] && key=$(tmux show-option -gqv "$name")
	case $key in "" | none) continue ;; esac
	now=$(tmux list-keys -T prefix "$key" 2>/dev/null) && [[ $now != *panechat* ]] && continue
	tmux bind-key -T prefix "$key" display-message "${msg//\#/##}"
done
exit 0
