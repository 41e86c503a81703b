//! How pane states reach the Zellij plugin, against a stand-in `zellij` on PATH that records
//! every `zellij pipe` and acknowledges it (prints `ok`, as the plugin does) when told to. A
//! `zellij pipe` that Zellij 0.45.1 cut off ends with status 0 having sent nothing, so a
//! message without the plugin's acknowledgement is sent again; a session where lately no
//! message was acknowledged (no plugin loaded) gets each message once.

use std::path::{Path, PathBuf};

use panechat_e2e::env::TestEnv;

/// A `zellij` that counts `pipe` calls in `dir/pipes` and prints `ok` from the call numbered
/// `dir/ack-from` on (`0`: never).
fn stand_in(env: &mut TestEnv) -> PathBuf {
    let dir = env.root.join("zj");
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    let script = dir.join("bin/zellij");
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
d='{}'
case " $* " in
  *" pipe "*)
    echo "$*" >> "$d/pipes"
    n=$(wc -l < "$d/pipes")
    from=$(cat "$d/ack-from" 2>/dev/null || echo 0)
    if [ "$from" -gt 0 ] && [ "$n" -ge "$from" ]; then echo ok; fi ;;
esac
exit 0
"#,
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        env.env.get("PATH").cloned().unwrap_or_default()
    );
    env.env.insert("PATH".into(), path);
    env.env.remove("PANECHAT_SESSION");
    env.env.insert("ZELLIJ".into(), "0".into());
    env.env.insert("ZELLIJ_SESSION_NAME".into(), "work".into());
    env.env.insert("ZELLIJ_PANE_ID".into(), "3".into());
    dir
}

fn pipes(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("pipes"))
        .unwrap_or_default()
        .lines()
        .count()
}

fn ack_from(dir: &Path, n: usize) {
    std::fs::write(dir.join("ack-from"), n.to_string()).unwrap();
}

#[test]
fn unacknowledged_states_are_sent_again_unless_the_session_never_answers() {
    panechat_e2e::needs!("zellij");
    let mut env = TestEnv::new();
    let dir = stand_in(&mut env);
    // `panechat new` publishes the pane's state: one message.
    ack_from(&dir, 1);
    env.run(["new"]).ok();
    assert_eq!(pipes(&dir), 1);
    let lines = std::fs::read_to_string(dir.join("pipes")).unwrap();
    assert!(
        lines.starts_with("--session work pipe --name panechat::state -- {"),
        "{lines}"
    );
    // The first attempt is cut off (no acknowledgement): sent again, acknowledged.
    ack_from(&dir, 3);
    env.run(["new"]).ok();
    assert_eq!(pipes(&dir), 3);
    // No plugin answers: three attempts, and the session is marked...
    ack_from(&dir, 0);
    env.run(["new"]).ok();
    assert_eq!(pipes(&dir), 6);
    // ...so that the next message goes once.
    env.run(["new"]).ok();
    assert_eq!(pipes(&dir), 7);
    // The plugin answers again: the mark is gone, a cut-off message is sent again.
    ack_from(&dir, 1);
    env.run(["new"]).ok();
    assert_eq!(pipes(&dir), 8);
    ack_from(&dir, 10);
    env.run(["new"]).ok();
    assert_eq!(pipes(&dir), 10);
}
