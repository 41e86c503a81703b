# shellcheck shell=bash disable=SC2034
# Every option of the tmux plugin, with its default. Set them in ~/.tmux.conf before the plugin
# loads, e.g. `set -g @panechat-fork-key 'M-f'`. A key set to "" or "none" is not bound.

# The panechat binary. Default: `panechat` on PATH, else target/release/panechat of this clone.
panechat_bin_option="@panechat-bin"

# prefix + KEY forks the pane's conversation into a new split.
fork_key_option="@panechat-fork-key"
fork_key_default="F"
# prefix + KEY opens the conversation picker in a popup.
pick_key_option="@panechat-pick-key"
pick_key_default="P"
# prefix + KEY: the pane's next `panechat q` starts a new conversation.
new_key_option="@panechat-new-key"
new_key_default="N"
# prefix + KEY asks about this pane in a popup: type the question, the answer streams there,
# continuing the pane's conversation.
ask_key_option="@panechat-ask-key"
ask_key_default="A"
# KEY in copy mode (both the copy-mode and copy-mode-vi tables) copies the selection and asks
# about it in the same popup.
ask_selection_key_option="@panechat-ask-selection-key"
ask_selection_key_default="Q"

# Where the fork goes: h (beside the pane) or v (below it).
fork_split_option="@panechat-fork-split"
fork_split_default="h"
# How many turns the fork keeps: empty = all of them, N = the last N.
fork_keep_option="@panechat-fork-keep"
fork_keep_default=""

# The status segment: auto (where the user placed #{E:@panechat-status-format} in
# status-left/right, nothing to do; else the segment goes in front of status-right, which gets
# room for it in status-right-length), placeholder (only where the user placed it), off.
status_option="@panechat-status"
status_default="auto"
# Markers shown before the title while this pane's query runs, and while another pane holds
# the conversation.
status_running_option="@panechat-status-running"
status_running_default="[running] "
status_held_option="@panechat-status-held"
status_held_default="[locked] "
# The longest title the segment shows (in characters).
status_max_option="@panechat-status-max"
status_max_default="32"

# on: show each pane's conversation title in its border (added at the end of the user's
# pane-border-format; pane-border-status becomes top only if it was off).
pane_border_option="@panechat-pane-border"
pane_border_default="off"

# Size of the picker popup (tmux sizes: N columns/lines or N%).
popup_width_option="@panechat-popup-width"
popup_width_default="90%"
popup_height_option="@panechat-popup-height"
popup_height_default="80%"
# Size of the ask popup.
ask_width_option="@panechat-ask-width"
ask_width_default="80%"
ask_height_option="@panechat-ask-height"
ask_height_default="60%"

# tmux-resurrect: remember each pane's conversation on save, give it back on restore (on|off),
# and the file that holds it.
resurrect_option="@panechat-resurrect"
resurrect_default="on"
resurrect_file_option="@panechat-resurrect-file"

# The older placeholder users may put in status-left/status-right (replaced by the segment).
status_placeholder='#{panechat_status}'

# The default keys shadow none of tmux's own bindings (tmux 3.2 to 3.7: checked in the tests
# against `list-keys` of a fresh server). A key the user chooses may be one of tmux's: these
# are taken over ("TABLE KEY" -> the command as list-keys prints it); any other binding of a
# key is the user's and is kept.
declare -A tmux_default_binding=(["prefix C"]="customize-mode -Z")
