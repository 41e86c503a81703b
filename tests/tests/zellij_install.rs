//! The Zellij plugin the binary carries: `panechat init zellij` installs it (and updates an
//! older one, and asks before replacing a file that is not panechat's), and the carried bytes
//! are exactly what `zellij-plugin/` builds to at this commit.

use std::path::Path;

use panechat_e2e::env::TestEnv;
use panechat_e2e::pty::Pty;

fn init_zellij(env: &TestEnv, config: &Path) -> std::process::Output {
    env.cmd(["init", "zellij"])
        .env("ZELLIJ_CONFIG_DIR", config)
        .output()
        .unwrap()
}

#[test]
fn the_carried_plugin_is_what_its_sources_build_to() {
    use panechat::adapters::zellij_plugin::build_of;
    panechat_e2e::needs!("zellij");
    let fresh = std::fs::read(panechat_e2e::zellij::wasm()).unwrap();
    let env = TestEnv::new();
    let config = env.root.join("zellij-config");
    let out = init_zellij(&env, &config);
    assert!(out.status.success(), "{out:?}");
    let installed = std::fs::read(config.join("plugins/panechat.wasm")).unwrap();
    // The build id hashes every source the plugin is built from (its crate, the model, the
    // vocabulary, Cargo.lock). (Two builds of the same sources are not byte for byte the same:
    // code generated for zellij-tile varies in order between builds.)
    let (carried, now) = (build_of(&installed), build_of(&fresh));
    assert!(now.is_some(), "the fresh build names its build");
    assert_eq!(
        carried, now,
        "the plugin panechat carries is not built from zellij-plugin/ as it is now: run \
         `scripts/zellij-plugin.sh --update` and commit core/assets/panechat-zellij.wasm"
    );
}

#[test]
fn init_zellij_installs_the_plugin_and_updates_an_older_one() {
    let env = TestEnv::new();
    let config = env.root.join("zellij-config");
    let file = config.join("plugins/panechat.wasm");
    let out = init_zellij(&env, &config);
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("wrote the Zellij plugin to {}", file.display())),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("location=\"file:{}\"", file.display())),
        "{stdout}"
    );
    let carried = std::fs::read(&file).unwrap();
    assert!(carried.starts_with(b"\0asm"), "a wasm module");

    // Again: nothing to do, nothing said.
    let out = init_zellij(&env, &config);
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{out:?}");

    // An older panechat's plugin is replaced, and the user told how to load the new one.
    std::fs::write(
        &file,
        b"\0asm panechat-zellij-build:0.0.1+00000000000000aa; old",
    )
    .unwrap();
    let out = init_zellij(&env, &config);
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("updated the Zellij plugin") && err.contains("0.0.1+00000000000000aa"),
        "{err}"
    );
    assert!(err.contains("start-or-reload-plugin"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), carried);
}

#[test]
fn init_zellij_never_replaces_a_file_that_is_not_panechats_unasked() {
    let env = TestEnv::new();
    let config = env.root.join("zellij-config");
    let file = config.join("plugins/panechat.wasm");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, b"\0asm someone else's plugin").unwrap();
    // No terminal to ask on: refused, nothing printed for config.kdl, the file kept.
    let out = init_zellij(&env, &config);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not panechat's Zellij plugin") && err.contains("--plugin"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"\0asm someone else's plugin"
    );

    // On a terminal it asks; "n" keeps the file, "y" replaces it.
    for (answer, replaced) in [("n", false), ("y", true)] {
        let mut cmd = env.cmd(["init", "zellij"]);
        cmd.env("ZELLIJ_CONFIG_DIR", &config);
        let mut pty = Pty::spawn(cmd);
        pty.expect(
            "Replace it with panechat's plugin?",
            std::time::Duration::from_secs(10),
        );
        pty.wait_reading(std::time::Duration::from_secs(10));
        pty.send(answer.as_bytes());
        let code = pty.wait(std::time::Duration::from_secs(10));
        let now = std::fs::read(&file).unwrap();
        assert_eq!(
            now.starts_with(b"\0asm someone"),
            !replaced,
            "{}",
            pty.text()
        );
        assert_eq!(code, if replaced { 0 } else { 2 }, "{}", pty.text());
    }
}

/// The user's way in: `panechat init zellij` appended to the config (it writes the plugin the
/// binary carries), Zellij started, its permission question answered on the client. Then a
/// query renames its pane and Alt m opens the picker. A plugin of another build says so.
#[test]
fn the_installed_plugin_works_after_the_permission_question_and_says_when_it_is_not_current() {
    use panechat_e2e::helpers::setup;
    use panechat_e2e::zellij::{Opts, Zellij};
    use std::time::Duration;
    panechat_e2e::needs!("zellij");
    let (env, _fake) = setup();
    let mut z = Zellij::start(
        &env,
        Opts {
            installed: true,
            grant: false,
            ..Opts::default()
        },
    );
    assert!(
        std::fs::read(&z.wasm).unwrap() == panechat::adapters::zellij_plugin::WASM,
        "init zellij installed the carried plugin"
    );
    z.wait_for("the permission question", Duration::from_secs(30), |z| {
        z.panes()
            .iter()
            .any(|p| p["plugin_url"] == "panechat" && p["is_suppressed"] == false)
    });
    let question = z.try_action(&["dump-screen"]).unwrap_or_default();
    eprintln!("zellij: the permission question:\n{question}");
    z.keys(b"y");
    z.wait_plugin_ready();
    z.wait_prompt(0);
    z.type_line(0, "panechat q --new 'hello [[title:Installed plugin]]'");
    z.wait_for("the pane renamed", Duration::from_secs(20), |z| {
        z.title(0) == "💬 Installed plugin"
    });
    z.keys(b"\x1bm");
    z.wait_for("the picker", Duration::from_secs(10), |z| {
        z.plugin_screen().contains("Installed plugin")
    });
    let picker = z.plugin_screen();
    eprintln!("zellij: the picker:\n{picker}");
    assert!(
        !picker.contains("not the one this panechat carries"),
        "{picker}"
    );
    z.keys(b"\x1b");

    // `panechat doctor` in the session: the plugin is loaded, answering and current.
    let doctor = |z: &Zellij| {
        let mut cmd = env.cmd(["doctor"]);
        for (k, v) in &z.env {
            cmd.env(k, v);
        }
        cmd.env_remove("PANECHAT_SESSION")
            .env("ZELLIJ", "0")
            .env("ZELLIJ_SESSION_NAME", &z.session)
            .env("ZELLIJ_PANE_ID", "0");
        let t = std::time::Instant::now();
        let out = cmd.output().unwrap();
        let took = t.elapsed();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        eprintln!("zellij: panechat doctor ({} ms):\n{text}", took.as_millis());
        assert!(took < Duration::from_secs(2), "{took:?}");
        text
    };
    let report = doctor(&z);
    assert!(
        report.contains(&format!(
            "ok  Zellij: session '{}': panechat's plugin answers (build ",
            z.session
        )) && report.contains(", current), permissions granted"),
        "{report}"
    );
    assert!(
        report.contains("ok  Zellij plugin file: ")
            && report.contains("is the plugin this panechat carries"),
        "{report}"
    );

    // Another build of the plugin (as after upgrading panechat and not the plugin): the picker
    // says so, with the command that fixes it.
    let mut older = std::fs::read(&z.wasm).unwrap();
    let mark = b"panechat-zellij-build:";
    let at = older
        .windows(mark.len())
        .enumerate()
        .filter(|(_, w)| *w == mark)
        .map(|(i, _)| i + mark.len())
        .find(|&i| older[i..].iter().take(40).any(|&b| b == b'+'))
        .expect("the build mark");
    let plus = at + older[at..].iter().position(|&b| b == b'+').unwrap() + 1;
    older[plus..plus + 16].copy_from_slice(b"0000000000000001");
    std::fs::write(&z.wasm, &older).unwrap();
    // (what `panechat init zellij` tells the user to run)
    z.action(&["start-or-reload-plugin", "panechat"]);
    z.wait_for(
        "the reloaded plugin names its build",
        Duration::from_secs(30),
        |z| {
            z.plugin_view()["build"]
                .as_str()
                .is_some_and(|b| b.ends_with("+0000000000000001"))
        },
    );
    z.keys(b"\x1bm");
    z.wait_for(
        "the picker says the plugin is not current",
        Duration::from_secs(20),
        |z| {
            // (wrapped to the pane's width)
            let s = z
                .plugin_screen()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            s.contains("not the one this panechat carries") && s.contains("panechat init zellij")
        },
    );
    let report = doctor(&z);
    assert!(
        report.contains("fix Zellij: ")
            && report.contains("+0000000000000001)")
            && report.contains("start-or-reload-plugin"),
        "{report}"
    );
    assert!(
        report.contains("fix Zellij plugin file: ")
            && report
                .contains("is build 0.1.0+0000000000000001, not the one this panechat carries"),
        "{report}"
    );
}

/// A FIFO where the plugin goes (or where `init wezterm --plugin` wrote one) blocks neither
/// `init zellij` nor `doctor`: it is a file that is not panechat's plugin.
#[test]
fn a_fifo_in_place_of_a_plugin_file_blocks_nothing() {
    let env = TestEnv::new();
    let config = env.root.join("zellij-config");
    let file = config.join("plugins/panechat.wasm");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    nix::unistd::mkfifo(&file, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let run = |args: &[&str]| {
        let mut child = env
            .cmd(args)
            .env("ZELLIJ_CONFIG_DIR", &config)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let t = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if t.elapsed() > std::time::Duration::from_secs(10) {
                let _ = child.kill();
                panic!("panechat {args:?} blocked on the FIFO");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    };
    let out = run(&["init", "zellij"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not panechat's Zellij plugin"),
        "{out:?}"
    );
    let out = run(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("fix Zellij plugin file: ") && text.contains("is not panechat's plugin"),
        "{text}"
    );
}
