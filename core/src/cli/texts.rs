//! Texts of the command line shared by `--help` and the man page.

/// The exit statuses, one per line (`CODE  meaning`): shown by `--help` and in the man page.
macro_rules! exit_status {
    () => {
        "  0    success
  1    any other error (provider, network, store)
  2    usage error (a bad argument or input)
  75   the conversation stayed locked (gave up after lock.wait, or --on-locked=fail)
  129  the terminal closed during a query (SIGHUP)
  130  cancelled: Ctrl-C, Esc in a picker, or Cancel in the lock question
  143  stopped by `panechat kill` (SIGTERM)"
    };
}
pub(crate) use exit_status;

/// The examples under `panechat query --help` (each is run by the end-to-end tests).
pub const QUERY_EXAMPLES: &str = "Examples:
  panechat q \"question\"              continue this pane's conversation
  panechat q --new \"question\"        start a new one in this pane
  panechat q --fork=2 \"question\"     fork this pane's conversation keeping the last 2 turns
  panechat q --fork 2 \"question\"     the same
  panechat q --id \"question\"         pick any conversation in a fuzzy picker, then ask there
  panechat q --id prev \"question\"    the pane's previous conversation, like `cd -`
  panechat q --id last \"question\"    the conversation used last, in any pane
  panechat q --id -- 2 \"question\"    after --, every word is the message (here \"2 question\")";

/// Where panechat keeps its files (the man page's FILES section).
pub const FILES: &str = "The config file is $XDG_CONFIG_HOME/panechat/config.toml (~/.config/panechat/config.toml), or $PANECHAT_HOME/config.toml when PANECHAT_HOME is set, or the file PANECHAT_CONFIG names. Conversations live in $XDG_DATA_HOME/panechat, sessions, locks, runs and logs in $XDG_STATE_HOME/panechat; with PANECHAT_HOME, in its data and state directories.";
