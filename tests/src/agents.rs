//! Running the real coding agents (Claude Code, Codex CLI) offline against the [fake
//! provider](crate::fake), each test in a home of its own.
//!
//! `scripts/test.sh` installs both from npm at the versions below into a private prefix and puts
//! it on `PATH`; [`bin`] also finds that prefix when a test runs from a plain `cargo test`. Tests
//! start with `needs!("claude")` / `needs!("codex")` (see [`crate::real`]), which checks the
//! version too.
//!
//! ```no_run
//! use panechat_e2e::{agents::AgentHome, fake::FakeProvider};
//! let fake = FakeProvider::start();
//! let root = std::env::temp_dir().join("agent-test");
//! let home = AgentHome::new(&root.join("home"), &fake);
//! home.trust(&root.join("work")); // Claude Code's interactive UI runs there without dialogs
//! let mut cmd = std::process::Command::new(panechat_e2e::agents::bin("claude").unwrap());
//! cmd.envs(home.env()).args(["-p", "hi", "--output-format", "stream-json", "--verbose"]);
//! ```
//!
//! What the fake answers them (see [`crate::fake`]): `HEAD /`; `POST /v1/messages?beta=true`
//! (Claude Code; the `<system-reminder>` blocks it adds are not part of what the fake echoes);
//! `POST /v1/responses` (Codex). `[[bash:COMMAND]]` in the prompt makes the model call the
//! agent's shell tool (`Bash` / `exec_command`) with COMMAND, once per directive, then reply
//! `tool said: <the last command's output>`. Every other directive (`[[slow:MS]]`,
//! `[[gate:NAME]]`, `[[http:CODE]]`, …) works as for panechat's own providers.
//!
//! Codex says `Model metadata for `…` not found` as an `error` item at the start of every turn
//! (it knows no metadata for the fake's models); it is a warning, the turn goes on.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::fake::{FakeProvider, FAKE_API_KEY};

/// The Claude Code version the tests drive (`scripts/test.sh` installs it).
pub const CLAUDE_CODE_VERSION: &str = "2.1.197";

/// The Codex CLI version the tests drive (`scripts/test.sh` installs it).
pub const CODEX_VERSION: &str = "0.171.0";

/// The variable holding the key Codex sends (named in its provider config).
pub const CODEX_KEY_ENV: &str = "FAKE_OPENAI_KEY";

/// The model name Codex is configured with.
pub const CODEX_MODEL: &str = "fake-model";

/// Where `scripts/test.sh` installs the agents: `$PANECHAT_AGENTS_PREFIX`, else
/// `~/.cache/panechat-tests/agents`.
pub fn prefix() -> PathBuf {
    match std::env::var_os("PANECHAT_AGENTS_PREFIX") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/panechat-tests/agents"),
    }
}

/// The path of `claude` or `codex`: the one on `PATH`, else the one in [`prefix`].
pub fn bin(tool: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let p = prefix().join("node_modules/.bin").join(tool);
        p.is_file().then_some(p)
    })
}

/// Why `tool` (`claude` or `codex`) cannot be driven here, or `None`: missing, or not the
/// pinned version.
pub fn missing(tool: &str) -> Option<String> {
    let (want, say) = match tool {
        "claude" => (CLAUDE_CODE_VERSION, "Claude Code"),
        _ => (CODEX_VERSION, "Codex"),
    };
    let Some(path) = bin(tool) else {
        return Some(format!(
            "{say} is not installed (`{tool}` is neither on PATH nor in {})",
            prefix().display()
        ));
    };
    match Command::new(&path).arg("--version").output() {
        Ok(o) if String::from_utf8_lossy(&o.stdout).contains(want) => None,
        Ok(o) => Some(format!(
            "{} says {:?}, the tests need {say} {want}",
            path.display(),
            String::from_utf8_lossy(&o.stdout).trim()
        )),
        Err(e) => Some(format!("{} cannot run ({e})", path.display())),
    }
}

/// A home for the agents of one test: `HOME` (Claude Code's `~/.claude`, `~/.claude.json`),
/// `CODEX_HOME` (its `config.toml` points at the fake) and a `TMPDIR` of its own (Codex warns
/// when its home is inside the temp directory).
pub struct AgentHome {
    /// The `HOME` the agents see.
    pub home: PathBuf,
    /// `CODEX_HOME` (`HOME/.codex`).
    pub codex_home: PathBuf,
    /// `TMPDIR` for the agents (`HOME/tmp`).
    pub tmp: PathBuf,
    port: u16,
}

impl AgentHome {
    /// Prepares `home` (created if needed; usually the test's own `HOME`) for both agents
    /// talking to `fake`.
    pub fn new(home: &Path, fake: &FakeProvider) -> AgentHome {
        let codex_home = home.join(".codex");
        let tmp = home.join("tmp");
        for d in [home, &codex_home, &tmp] {
            std::fs::create_dir_all(d).unwrap();
        }
        let h = AgentHome {
            home: home.to_path_buf(),
            codex_home,
            tmp,
            port: fake.port(),
        };
        std::fs::write(h.codex_home.join("config.toml"), h.codex_config()).unwrap();
        h.write_claude_json(&[]);
        h
    }

    /// The Codex `config.toml` this home starts with (a `[model_providers.fake]` on the fake,
    /// approvals off, read-only sandbox, nothing fetched from the network).
    pub fn codex_config(&self) -> String {
        format!(
            r#"model = "{CODEX_MODEL}"
model_provider = "fake"
approval_policy = "never"
sandbox_mode = "read-only"
check_for_update_on_startup = false

[features]
plugins = false
daemon_auto_start = false

[analytics]
enabled = false

[model_providers.fake]
name = "fake"
base_url = "http://127.0.0.1:{port}/v1"
env_key = "{CODEX_KEY_ENV}"
wire_api = "responses"
request_max_retries = 1
stream_max_retries = 1
"#,
            port = self.port
        )
    }

    /// Marks Claude Code's onboarding done, the fake's key approved and each of `dirs` trusted
    /// in `~/.claude.json`, so its interactive UI starts without a dialog (it exits at once on
    /// a fresh home offline).
    pub fn trust(&self, dir: &Path) {
        let mut dirs = self.trusted();
        dirs.push(dir.display().to_string());
        let dirs: Vec<&str> = dirs.iter().map(String::as_str).collect();
        self.write_claude_json(&dirs);
    }

    fn trusted(&self) -> Vec<String> {
        std::fs::read(self.home.join(".claude.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| {
                v["projects"]
                    .as_object()
                    .map(|o| o.keys().cloned().collect())
            })
            .unwrap_or_default()
    }

    fn write_claude_json(&self, dirs: &[&str]) {
        let key_tail: String = {
            let chars: Vec<char> = FAKE_API_KEY.chars().collect();
            chars[chars.len().saturating_sub(20)..].iter().collect()
        };
        let projects: serde_json::Map<String, serde_json::Value> = dirs
            .iter()
            .map(|d| {
                (
                    d.to_string(),
                    serde_json::json!({"hasTrustDialogAccepted": true}),
                )
            })
            .collect();
        let doc = serde_json::json!({
            "hasCompletedOnboarding": true,
            "customApiKeyResponses": {"approved": [key_tail], "rejected": []},
            "projects": projects,
        });
        std::fs::write(
            self.home.join(".claude.json"),
            serde_json::to_vec_pretty(&doc).unwrap(),
        )
        .unwrap();
    }

    /// The environment both agents need (with the agents' directory first on `PATH`): merge it
    /// into the test's own.
    pub fn env(&self) -> Vec<(String, String)> {
        let port = self.port;
        let mut path: Vec<PathBuf> = ["claude", "codex"]
            .iter()
            .filter_map(|t| bin(t))
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        path.dedup();
        path.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        let path = std::env::join_paths(path).unwrap();
        [
            ("HOME", self.home.display().to_string()),
            ("CODEX_HOME", self.codex_home.display().to_string()),
            ("TMPDIR", self.tmp.display().to_string()),
            ("PATH", path.to_string_lossy().into_owned()),
            ("ANTHROPIC_BASE_URL", format!("http://127.0.0.1:{port}")),
            ("ANTHROPIC_API_KEY", FAKE_API_KEY.to_string()),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
            ("DISABLE_AUTOUPDATER", "1".into()),
            ("DISABLE_TELEMETRY", "1".into()),
            ("DISABLE_ERROR_REPORTING", "1".into()),
            ("CLAUDE_CODE_MAX_RETRIES", "0".into()),
            (CODEX_KEY_ENV, FAKE_API_KEY.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Claude Code's session files (`~/.claude/projects/<dir>/<session id>.jsonl`).
    pub fn claude_sessions(&self) -> Vec<PathBuf> {
        files_under(&self.home.join(".claude/projects"), "jsonl")
    }

    /// Codex's session files (`$CODEX_HOME/sessions/YYYY/MM/DD/rollout-…-<thread id>.jsonl`).
    pub fn codex_sessions(&self) -> Vec<PathBuf> {
        files_under(&self.codex_home.join("sessions"), "jsonl")
    }
}

fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    fn run(
        home: &AgentHome,
        cwd: &Path,
        tool: &str,
        args: &[&str],
    ) -> (i32, Vec<serde_json::Value>) {
        let out = Command::new(bin(tool).unwrap())
            .env_clear()
            .envs(home.env())
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let events = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (out.status.code().unwrap_or(-1), events)
    }

    fn root(name: &str) -> PathBuf {
        let r = std::env::temp_dir().join(format!("panechat-agents-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&r);
        std::fs::create_dir_all(r.join("work")).unwrap();
        r
    }

    #[test]
    fn claude_code_runs_a_tool_through_the_fake_and_resumes() {
        crate::needs!("claude");
        let fake = FakeProvider::start();
        let r = root("claude");
        let home = AgentHome::new(&r.join("home"), &fake);
        let work = r.join("work");
        let args = |p: &'static str| {
            vec![
                "-p",
                p,
                "--allowedTools",
                "Bash",
                "--output-format",
                "stream-json",
                "--verbose",
            ]
        };
        let (code, ev) = run(
            &home,
            &work,
            "claude",
            &args("list [[bash:echo from-the-tool]]"),
        );
        assert_eq!(code, 0, "{ev:?}");
        let result = ev.iter().find(|e| e["type"] == "result").expect("a result");
        assert_eq!(result["result"], "tool said: from-the-tool");
        let id = result["session_id"].as_str().unwrap().to_string();
        assert_eq!(home.claude_sessions().len(), 1);
        let mut again = args("and now?");
        again.extend(["--resume", &id]);
        let (code, ev) = run(&home, &work, "claude", &again);
        assert_eq!(code, 0, "{ev:?}");
        let result = ev.iter().find(|e| e["type"] == "result").unwrap();
        assert_eq!(result["result"], "echo: and now?");
        let last = fake.requests().into_iter().last().unwrap();
        assert!(last.path.starts_with("/v1/messages"), "{}", last.path);
        let said: Vec<String> = last.messages().into_iter().map(|(_, t)| t).collect();
        assert!(
            said.iter().any(|t| t.contains("from-the-tool")),
            "the resumed session carries the earlier turn: {said:?}"
        );
    }

    #[test]
    fn codex_runs_a_tool_through_the_fake_and_resumes() {
        crate::needs!("codex");
        let fake = FakeProvider::start();
        let r = root("codex");
        let home = AgentHome::new(&r.join("home"), &fake);
        let work = r.join("work");
        let (code, ev) = run(
            &home,
            &work,
            "codex",
            &[
                "exec",
                "--json",
                "--skip-git-repo-check",
                "run [[bash:echo from-codex]]",
            ],
        );
        assert_eq!(code, 0, "{ev:?}");
        let thread = ev
            .iter()
            .find(|e| e["type"] == "thread.started")
            .and_then(|e| e["thread_id"].as_str())
            .expect("a thread")
            .to_string();
        let said: Vec<&str> = ev
            .iter()
            .filter(|e| e["type"] == "item.completed" && e["item"]["type"] == "agent_message")
            .filter_map(|e| e["item"]["text"].as_str())
            .collect();
        assert_eq!(said, ["tool said: from-codex"]);
        assert!(ev.iter().any(|e| e["type"] == "turn.completed"));
        let (code, ev) = run(
            &home,
            &work,
            "codex",
            &[
                "exec",
                "--json",
                "--skip-git-repo-check",
                "resume",
                &thread,
                "again",
            ],
        );
        assert_eq!(code, 0, "{ev:?}");
        assert!(
            ev.iter().any(|e| e["item"]["text"] == "echo: again"),
            "{ev:?}"
        );
        let last = fake.requests().into_iter().last().unwrap();
        assert_eq!(last.path, "/v1/responses");
        let said: Vec<String> = last.messages().into_iter().map(|(_, t)| t).collect();
        assert!(
            said.iter().any(|t| t.contains("from-codex")),
            "the resumed thread carries the earlier turn: {said:?}"
        );
    }
}
