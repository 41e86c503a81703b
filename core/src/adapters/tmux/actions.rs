//! tmux: what the picker and the plugin's keys do in tmux (go to a pane, split one for a fork).
//! An `Err` holds what tmux said, to show the user.

use crate::adapters::exec::Exec;

/// Runs `tmux ARGS…` and returns what it printed, or what it said when it failed.
fn output(exec: &dyn Exec, args: &[String]) -> std::result::Result<String, String> {
    let out = exec
        .run(&super::argv(args), &[])
        .map_err(|e| format!("could not run {}: {e}", super::PROGRAM))?;
    if out.success() {
        Ok(out.text())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The argv (after `tmux`) that takes client `client` (the one running it when `None`) to
/// `pane`.
pub fn switch_args(client: Option<&str>, pane: &str) -> Vec<String> {
    let mut a: Vec<String> = vec!["switch-client".into()];
    if let Some(c) = client {
        a.extend(["-c".into(), c.to_string()]);
    }
    a.extend(["-t".into(), pane.to_string()]);
    a
}

/// Takes client `client` (the one running this when `None`) to `pane`.
pub fn switch_to(
    exec: &dyn Exec,
    client: Option<&str>,
    pane: &str,
) -> std::result::Result<(), String> {
    output(exec, &switch_args(client, pane)).map(drop)
}

/// The argv (after `tmux`) that splits `pane` (beside it, or below when `below`) and prints the
/// new pane's id. The new pane is a pane like any other (tmux runs its default-command, else
/// default-shell) in `pane`'s directory (`-c` is expanded by tmux against the pane: any
/// directory name works).
pub fn split_args(pane: &str, below: bool) -> Vec<String> {
    let flag = if below { "-v" } else { "-h" };
    [
        "split-window",
        flag,
        "-t",
        pane,
        "-c",
        "#{pane_current_path}",
        "-P",
        "-F",
        "#{pane_id}",
    ]
    .map(String::from)
    .to_vec()
}

/// Splits `pane` (see [`split_args`]) and returns the new pane's id (`%7`).
pub fn split(exec: &dyn Exec, pane: &str, below: bool) -> std::result::Result<String, String> {
    output(exec, &split_args(pane, below)).map(|id| id.trim().to_string())
}

/// Shows `msg` on the clients that show `pane` (not expanded as a format).
pub fn tell(exec: &dyn Exec, pane: &str, msg: &str) {
    super::status(
        exec,
        &[
            "display-message".into(),
            "-t".into(),
            pane.into(),
            super::format_escape(msg),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::exec::{Output, Recorder};

    #[test]
    fn actions_are_argv_only() {
        let r = Recorder::new(&["%7\n"]);
        assert_eq!(split(&r, "%3", true).unwrap(), "%7");
        switch_to(&r, Some("/dev/pts/4"), "%3;x").unwrap();
        switch_to(&r, None, "%3").unwrap();
        tell(&r, "%3", "no #(conversation)");
        assert_eq!(
            *r.calls.borrow(),
            [
                argv(&[
                    "tmux",
                    "split-window",
                    "-v",
                    "-t",
                    "%3",
                    "-c",
                    "#{pane_current_path}",
                    "-P",
                    "-F",
                    "#{pane_id}"
                ]),
                argv(&["tmux", "switch-client", "-c", "/dev/pts/4", "-t", "%3;x"]),
                argv(&["tmux", "switch-client", "-t", "%3"]),
                argv(&["tmux", "display-message", "-t", "%3", "no ##(conversation)"]),
            ]
        );
        let r = Recorder::answering(vec![Output::failed(1, "can't find pane: %9\n")]);
        assert_eq!(split(&r, "%9", false).unwrap_err(), "can't find pane: %9");
        assert_eq!(r.calls.borrow()[0][2], "-h");
    }

    fn argv(a: &[&str]) -> Vec<String> {
        crate::adapters::exec::argv(a)
    }
}
