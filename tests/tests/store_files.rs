//! Files are what they claim to be: panechat never writes (creates, truncates, chmods) through a
//! link anywhere in its directories, refuses directories that another user could change, and
//! never blocks on a FIFO where it keeps a file. Each refusal names the path and what to do.

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use panechat_e2e::env::{panechat_bin, Run, TestEnv};
use panechat_e2e::fake::FakeProvider;
use panechat_e2e::helpers::{active, json, setup, shell_quote};

/// How long a command that must not block may take.
const DEADLINE: Duration = Duration::from_secs(5);

/// A directory outside the store with one file in it, which no case may change.
struct Outside {
    dir: PathBuf,
    file: PathBuf,
}

impl Outside {
    fn new(env: &TestEnv) -> Outside {
        let dir = env.root.join("outside");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let file = dir.join("target");
        std::fs::write(&file, "outside\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        Outside { dir, file }
    }

    /// The file and the directory are exactly as made: content, modes, nothing added.
    #[track_caller]
    fn assert_untouched(&self, case: &str) {
        assert_eq!(
            std::fs::read_to_string(&self.file).unwrap(),
            "outside\n",
            "{case}: the file outside was written"
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o7777;
        assert_eq!(
            mode(&self.file),
            0o644,
            "{case}: the file outside was chmod'ed"
        );
        assert_eq!(
            mode(&self.dir),
            0o755,
            "{case}: the directory outside was chmod'ed"
        );
        let names: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["target"], "{case}: files were made outside");
    }
}

/// A store with one conversation of one turn, active in session `test`.
fn store() -> (TestEnv, FakeProvider, String) {
    let (env, fake) = setup();
    env.run(["q", "--new", "hi"]).ok();
    let id = active(&env, "test");
    (env, fake, id)
}

fn state(env: &TestEnv) -> PathBuf {
    env.home().join("state")
}

fn data(env: &TestEnv) -> PathBuf {
    env.home().join("data")
}

/// The file of session `test` in `dir` with extension `ext` (`sessions/<stem>.json`).
fn session_file(env: &TestEnv, ext: &str) -> PathBuf {
    let sessions = state(env).join("sessions");
    let json = std::fs::read_dir(&sessions)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("session test has a record");
    json.with_extension(ext)
}

/// Replaces whatever is at `at` by a symbolic link to `to`.
fn link(at: &Path, to: &Path) {
    match std::fs::symlink_metadata(at) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(at).unwrap(),
        Ok(_) => std::fs::remove_file(at).unwrap(),
        Err(_) => {}
    }
    symlink(to, at).unwrap();
}

/// Replaces whatever is at `at` by a FIFO.
fn fifo(at: &Path) {
    match std::fs::symlink_metadata(at) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(at).unwrap(),
        Ok(_) => std::fs::remove_file(at).unwrap(),
        Err(_) => {}
    }
    let st = Command::new("mkfifo").arg(at).status().unwrap();
    assert!(st.success(), "mkfifo {}", at.display());
}

/// A `sh -c SCRIPT` in the environment of `env`, with `$BIN` the panechat binary; the script
/// knows the pid panechat will have when it `exec`s it (`$$`) and that process's start time.
fn sh(env: &TestEnv, script: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!(
            "start=$(cut -d' ' -f22 /proc/$$/stat); BIN={}; {script}",
            shell_quote(&panechat_bin().display().to_string())
        ))
        .env_clear()
        .envs(&env.env)
        .current_dir(env.root.join("work"))
        .stdin(Stdio::null());
    c
}

/// The command failed, saying that `path` is a link and what to run.
#[track_caller]
fn refused_link(case: &str, r: &Run, path: &Path) {
    assert!(!r.stderr.contains("panicked"), "{case}: {}", r.stderr);
    // A link met after the turn is durable (the index's lock, the summary's temp file) leaves
    // the turn stored: the command succeeds and its warning names the link.
    let stored = r.code == 0 && r.stderr.contains("the reply is stored");
    assert!(
        r.code == 1 || stored,
        "{case}: exit code {}\n{}",
        r.code,
        r.stderr
    );
    let named = if stored {
        format!("{}: is a symbolic link", path.display())
    } else {
        format!("panechat: {}: is a symbolic link", path.display())
    };
    assert!(
        r.stderr.contains(&named) && r.stderr.contains(&format!("rm '{}'", path.display())),
        "{case}: expected `{named}` and what to run, got:\n{}",
        r.stderr
    );
}

#[test]
fn a_link_in_place_of_any_store_file_is_refused_and_its_target_untouched() {
    type PathOf = fn(&TestEnv, &str) -> PathBuf;
    let cases: Vec<(&str, PathOf, Vec<&str>)> = vec![
        (
            "conversation lock",
            |e, id| state(e).join(format!("locks/{id}.lock")),
            vec!["q", "hi"],
        ),
        (
            "lock of rename",
            |e, id| state(e).join(format!("locks/{id}.lock")),
            vec!["rename", "x"],
        ),
        (
            "index lock",
            |e, _| state(e).join("locks/index.lock"),
            vec!["q", "hi"],
        ),
        (
            "conversation log",
            |e, id| data(e).join(format!("conversations/{id}.jsonl")),
            vec!["q", "hi"],
        ),
        (
            "log read by show",
            |e, id| data(e).join(format!("conversations/{id}.jsonl")),
            vec!["show", "ID"],
        ),
        (
            "summary",
            |e, id| data(e).join(format!("conversations/{id}.json")),
            vec!["q", "hi"],
        ),
        (
            "history cache",
            |e, id| data(e).join(format!("conversations/{id}.history")),
            vec!["q", "hi"],
        ),
        ("index", |e, _| data(e).join("index.jsonl"), vec!["q", "hi"]),
        (
            "index read by ls",
            |e, _| data(e).join("index.jsonl"),
            vec!["ls"],
        ),
        (
            "session mapping",
            |e, _| session_file(e, "json"),
            vec!["q", "hi"],
        ),
        ("session lock", |e, _| session_file(e, "lock"), vec!["new"]),
        ("last", |e, _| state(e).join("last"), vec!["use", "ID"]),
        // (Drafts are named by their message's random id, so none can be planted in advance;
        // a link to the drafts directory is one of the directory cases.)
    ];
    for (case, path_of, args) in cases {
        let (env, _fake, id) = store();
        let out = Outside::new(&env);
        let path = path_of(&env, &id);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        link(&path, &out.file);
        let args: Vec<&str> = args
            .into_iter()
            .map(|a| if a == "ID" { id.as_str() } else { a })
            .collect();
        let r = env.run(&args);
        refused_link(case, &r, &path);
        out.assert_untouched(case);
        // doctor names it too, with the fix.
        let d = env.run(["doctor"]).code(1);
        assert!(
            d.stdout
                .contains(&format!("problem: {}: is a symbolic link", path.display())),
            "{case}: doctor:\n{}",
            d.stdout
        );
        out.assert_untouched(case);
    }
}

#[test]
fn a_link_in_place_of_the_log_is_not_written_and_doctor_names_it() {
    let (env, _fake, _) = store();
    let out = Outside::new(&env);
    let log = state(&env).join("logs/panechat.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    link(&log, &out.file);
    // Logging never fails a command; the link is not written.
    env.run(["-v", "q", "hi"]).ok();
    out.assert_untouched("panechat.log");
    let d = env.run(["doctor"]).code(1);
    assert!(
        d.stdout
            .contains(&format!("problem: {}: is a symbolic link", log.display())),
        "{}",
        d.stdout
    );
}

#[test]
fn links_at_the_names_a_query_is_about_to_create_are_refused() {
    // The run's registry file and the temp files of atomic replaces are named by the pid: the
    // shell makes the links under the pid panechat then runs as.
    let (env, _fake, id) = store();
    let out = Outside::new(&env);
    let runs = state(&env).join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    let r = Run::from_output(
        sh(
            &env,
            &format!(
                "ln -s {t} {runs}/$$-$start.json && echo $$-$start >&2 && exec \"$BIN\" q hi",
                t = shell_quote(&out.file.display().to_string()),
                runs = shell_quote(&runs.display().to_string()),
            ),
        )
        .output()
        .unwrap(),
    );
    let name = r.stderr.lines().next().unwrap().to_string();
    refused_link("run file", &r, &runs.join(format!("{name}.json")));
    out.assert_untouched("run file");
    // Every temp name the summary's replace may use.
    let conv = data(&env).join("conversations");
    let r = Run::from_output(
        sh(
            &env,
            &format!(
                "for n in $(seq 0 40); do ln -s {t} {conv}/.{id}.json.tmp.$$.$n; done; exec \"$BIN\" q hi",
                t = shell_quote(&out.file.display().to_string()),
                conv = shell_quote(&conv.display().to_string()),
            ),
        )
        .output()
        .unwrap(),
    );
    // The summary is replaced after the turn is durable: the query succeeds, and its warning
    // names the link it would not write through.
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("the reply is stored")
            && r.stderr
                .contains(&format!("{}/.{id}.json.tmp.", conv.display()))
            && r.stderr.contains(": is a symbolic link"),
        "{}",
        r.stderr
    );
    out.assert_untouched("temp file");
}

#[test]
fn a_link_in_place_of_any_store_directory_is_refused() {
    let cases: Vec<(&str, &str)> = vec![
        ("state/locks", "q"),
        ("state/sessions", "q"),
        ("state/runs", "q"),
        ("state/drafts", "q"),
        ("data/conversations", "q"),
        ("data", "q"),
        ("state", "q"),
        ("state/logs", "doctor"),
        ("data/conversations", "new-conversation"),
    ];
    for (rel, what) in cases {
        let (env, _fake, _) = store();
        let out = Outside::new(&env);
        // The directory's files are moved outside first, so nothing there is the store's.
        let path = env.home().join(rel);
        link(&path, &out.dir);
        let r = match what {
            "q" => env.run(["q", "hi"]),
            "new-conversation" => env.run(["q", "--new", "hi"]),
            _ => env.run(["-v", "q", "hi"]),
        };
        if what == "doctor" {
            // The log is never worth failing a command for; doctor says what is wrong.
            assert_eq!(r.code, 0, "{rel}: {}", r.stderr);
            let d = env.run(["doctor"]).code(1);
            assert!(
                d.stdout
                    .contains(&format!("problem: {}: is a symbolic link", path.display())),
                "{rel}: {}",
                d.stdout
            );
        } else {
            refused_link(rel, &r, &path);
        }
        out.assert_untouched(rel);
    }
}

#[test]
fn panechat_home_and_the_xdg_bases_may_be_links_but_panechat_s_own_directories_may_not() {
    // PANECHAT_HOME itself is the user's choice: a link to a real directory works.
    let (mut env, _fake) = setup();
    let real = env.root.join("real-home");
    std::fs::create_dir_all(&real).unwrap();
    std::fs::rename(env.home().join("config.toml"), real.join("config.toml")).unwrap();
    std::fs::remove_dir(env.home()).unwrap();
    symlink(&real, env.home()).unwrap();
    env.run(["q", "--new", "hi"]).ok();
    assert!(real.join("data/conversations").is_dir());
    // XDG: the bases may be links; `<base>/panechat` is panechat's own and may not.
    let config = std::fs::read_to_string(real.join("config.toml")).unwrap();
    env.env.remove("PANECHAT_HOME");
    let xdg = env.root.join("xdg");
    std::fs::create_dir_all(xdg.join("config/panechat")).unwrap();
    std::fs::write(xdg.join("config/panechat/config.toml"), config).unwrap();
    std::fs::create_dir_all(xdg.join("real-state")).unwrap();
    symlink(xdg.join("real-state"), xdg.join("state")).unwrap();
    for (var, dir) in [
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
    ] {
        env.env
            .insert(var.into(), xdg.join(dir).display().to_string());
    }
    env.run(["q", "--new", "hi"]).ok();
    assert!(xdg.join("real-state/panechat/sessions").is_dir());
    let out = Outside::new(&env);
    let own = xdg.join("data/panechat");
    link(&own, &out.dir);
    let r = env.run(["q", "hi"]);
    refused_link("$XDG_DATA_HOME/panechat", &r, &own);
    out.assert_untouched("$XDG_DATA_HOME/panechat");
}

#[test]
fn a_store_directory_writable_by_others_is_refused_until_made_private() {
    for (rel, mode, who) in [
        ("state/locks", 0o777, "others"),
        ("data/conversations", 0o770, "its group"),
        ("state", 0o757, "others"),
    ] {
        let (env, _fake, _) = store();
        let dir = env.home().join(rel);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        let r = env.run(["q", "hi"]).code(1);
        assert!(
            r.stderr.contains(&format!(
                "panechat: {}: is writable by {who} (mode {mode:04o})",
                dir.display()
            )) && r.stderr.contains(&format!("chmod 700 '{}'", dir.display())),
            "{rel}: {}",
            r.stderr
        );
        let d = env.run(["doctor"]).code(1);
        assert!(
            d.stdout.contains(&format!("problem: {}", dir.display())),
            "{}",
            d.stdout
        );
        let d = env.run(["doctor", "--repair"]).ok();
        assert!(
            d.stdout.contains(&format!("fixed: {}", dir.display())),
            "{}",
            d.stdout
        );
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        env.run(["q", "hi"]).ok();
    }
}

const OWNER: u32 = 4901;
const OTHER: u32 = 4902;

/// `argv` run as uid `uid` (and gid the same, no supplementary groups): root ignores
/// permissions, so what another user can do is tried as another user.
fn as_user(env: &TestEnv, uid: u32, argv: &[&str]) -> Run {
    let out = Command::new("setpriv")
        .args([
            format!("--reuid={uid}"),
            format!("--regid={uid}"),
            "--clear-groups".into(),
        ])
        .args(argv)
        .env_clear()
        .envs(&env.env)
        .current_dir(env.root.join("work"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "this test runs commands as uid {uid} with setpriv (util-linux), which failed: {e}"
            )
        });
    Run::from_output(out)
}

fn chown_tree(path: &Path, uid: u32) {
    let st = Command::new("chown")
        .args(["-R", &format!("{uid}:{uid}")])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "chown {}", path.display());
}

#[test]
fn another_user_cannot_make_the_owner_write_through_a_link_in_a_loose_directory() {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test needs root, to run panechat as two other users"
    );
    let (env, _fake) = setup();
    let bin = panechat_bin().display().to_string();
    for d in [env.root.clone(), env.root.join("work")] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    chown_tree(&env.home(), OWNER);
    chown_tree(&env.root.join("home"), OWNER);
    let secret = env.root.join("home/secret");
    std::fs::write(&secret, "the owner's own file\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    chown_tree(&secret, OWNER);
    as_user(&env, OWNER, &[&bin, "q", "--new", "hi"]).ok();
    let status = as_user(&env, OWNER, &[&bin, "status", "--format", "json"]).ok();
    let id = json(&status.stdout)["conversation"]
        .as_str()
        .expect("the owner's pane shows its conversation")
        .to_string();
    // The owner's store became reachable and its locks directory writable by anyone.
    for (rel, mode) in [("", 0o755), ("state", 0o755), ("state/locks", 0o777)] {
        std::fs::set_permissions(env.home().join(rel), std::fs::Permissions::from_mode(mode))
            .unwrap();
    }
    let lock = state(&env).join(format!("locks/{id}.lock"));
    as_user(&env, OTHER, &["rm", "-f", &lock.display().to_string()]).ok();
    as_user(
        &env,
        OTHER,
        &[
            "ln",
            "-s",
            &secret.display().to_string(),
            &lock.display().to_string(),
        ],
    )
    .ok();
    assert_eq!(std::fs::symlink_metadata(&lock).unwrap().uid(), OTHER);
    let r = as_user(&env, OWNER, &[&bin, "q", "hi"]).code(1);
    let locks = state(&env).join("locks");
    assert!(
        r.stderr.contains(&format!(
            "panechat: {}: is writable by others (mode 0777)",
            locks.display()
        )) && r
            .stderr
            .contains(&format!("chmod 700 '{}'", locks.display())),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "the owner's own file\n"
    );
    assert_eq!(std::fs::metadata(&secret).unwrap().mode() & 0o777, 0o600);
    // Made private again, the other user's link is still refused (it is a link, and not the
    // owner's), so the owner's file stays untouched.
    std::fs::set_permissions(&locks, std::fs::Permissions::from_mode(0o700)).unwrap();
    let r = as_user(&env, OWNER, &[&bin, "q", "hi"]).code(1);
    refused_link("another user's link", &r, &lock);
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "the owner's own file\n"
    );
    // A directory of another user's in the store is refused, even when private.
    std::fs::remove_file(&lock).unwrap();
    let drafts = state(&env).join("drafts");
    let _ = std::fs::remove_dir_all(&drafts);
    std::fs::create_dir(&drafts).unwrap();
    std::fs::set_permissions(&drafts, std::fs::Permissions::from_mode(0o755)).unwrap();
    chown_tree(&drafts, OTHER);
    let r = as_user(&env, OWNER, &[&bin, "q", "hi"]).code(1);
    assert!(
        r.stderr.contains(&format!(
            "panechat: {}: is owned by uid {OTHER}, not by you (uid {OWNER})",
            drafts.display()
        )),
        "{}",
        r.stderr
    );
    let d = as_user(&env, OWNER, &[&bin, "doctor"]).code(1);
    assert!(
        d.stdout.contains(&format!(
            "problem: {}: is owned by uid {OTHER}",
            drafts.display()
        )),
        "{}",
        d.stdout
    );
}

/// A FIFO where panechat keeps a file: the command exits within the deadline, and (where the
/// file is needed) with an error naming the FIFO.
#[test]
fn a_fifo_in_place_of_any_file_never_blocks_a_command() {
    type PathOf = fn(&TestEnv, &str) -> PathBuf;
    let cases: Vec<(&str, PathOf, Vec<&str>, bool)> = vec![
        (
            "config",
            |e, _| e.home().join("config.toml"),
            vec!["q", "hi"],
            true,
        ),
        (
            "summary",
            |e, id| data(e).join(format!("conversations/{id}.json")),
            vec!["q", "hi"],
            true,
        ),
        (
            "history",
            |e, id| data(e).join(format!("conversations/{id}.history")),
            vec!["q", "hi"],
            true,
        ),
        (
            "log",
            |e, id| data(e).join(format!("conversations/{id}.jsonl")),
            vec!["show", "ID"],
            true,
        ),
        (
            "index",
            |e, _| data(e).join("index.jsonl"),
            vec!["ls"],
            true,
        ),
        (
            "session mapping",
            |e, _| session_file(e, "json"),
            vec!["q", "hi"],
            true,
        ),
        (
            "session lock",
            |e, _| session_file(e, "lock"),
            vec!["new"],
            true,
        ),
        (
            "conversation lock",
            |e, id| state(e).join(format!("locks/{id}.lock")),
            vec!["q", "hi"],
            true,
        ),
        // Drafts are listed, one file per message: one that is not a file is passed over (the
        // message it would hold is not this query's) and named by doctor.
        (
            "draft",
            |e, _| {
                state(e)
                    .join("drafts")
                    .join(session_file(e, "json").file_name().unwrap())
            },
            vec!["q", "hi"],
            false,
        ),
        (
            "last",
            |e, _| state(e).join("last"),
            vec!["q", "--id", "last", "hi"],
            false,
        ),
        (
            "panechat.log",
            |e, _| state(e).join("logs/panechat.log"),
            vec!["q", "hi"],
            false,
        ),
    ];
    for (case, path_of, args, refused) in cases {
        let (env, _fake, id) = store();
        let path = path_of(&env, &id);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        fifo(&path);
        let args: Vec<&str> = args
            .into_iter()
            .map(|a| if a == "ID" { id.as_str() } else { a })
            .collect();
        let r = TestEnv::run_within(&mut env.cmd(&args), DEADLINE);
        assert!(!r.stderr.contains("panicked"), "{case}: {}", r.stderr);
        if refused {
            assert_eq!(r.code, 1, "{case}: {}", r.stderr);
            assert!(
                r.stderr.contains(&format!(
                    "{}: is a FIFO, not a regular file",
                    path.display()
                )) && r.stderr.contains(&format!("rm '{}'", path.display())),
                "{case}: {}",
                r.stderr
            );
        }
        // doctor never blocks either, and names what is not a file.
        let d = TestEnv::run_within(&mut env.cmd(["doctor"]), DEADLINE);
        if case != "config" {
            assert!(
                d.stdout
                    .contains(&format!("problem: {}: is a FIFO", path.display())),
                "{case}: doctor:\n{}\n{}",
                d.stdout,
                d.stderr
            );
        }
    }
}

#[test]
fn a_fifo_in_place_of_a_run_file_never_blocks_status_or_the_watcher() {
    let (env, _fake, _) = store();
    let runs = state(&env).join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    // A live process, so its run file is read rather than removed as stale.
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = sleeper.id();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let start = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_string();
    let run = runs.join(format!("{pid}-{start}.json"));
    fifo(&run);
    for args in [vec!["sessions"], vec!["status"], vec!["ls"]] {
        let r = TestEnv::run_within(&mut env.cmd(&args), DEADLINE);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }
    // The watcher a query leaves behind: it reads the run file when it starts and again when
    // the run's process is gone.
    let mut watcher = env.cmd([
        "refresh",
        "--after-pid",
        &pid.to_string(),
        "--start",
        &start,
    ]);
    watcher.stdin(Stdio::null());
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    let r = TestEnv::run_within(&mut watcher, DEADLINE);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}
