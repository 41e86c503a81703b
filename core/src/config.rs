//! Configuration: TOML layers, later wins.
//!
//! 1. built-in defaults;
//! 2. the user file (`$XDG_CONFIG_HOME/panechat/config.toml`, `PANECHAT_HOME/config.toml`, or
//!    `PANECHAT_CONFIG`);
//! 3. the project file `.panechat.toml` in the nearest parent of the working directory. A project
//!    file may come from a cloned repository, so it may not set where requests go or what runs
//!    (`provider.kind`, `provider.base_url`, `provider.api_key_env`, `provider.command`);
//! 4. the environment: `PANECHAT_LOCK_DURATION` (`lock.wait`), `PANECHAT_PROVIDER`
//!    (`provider.kind`), `PANECHAT_MODEL` (`provider.model`), `PANECHAT_BASE_URL`
//!    (`provider.base_url`);
//! 5. `--cfg KEY=VALUE` on the command line.
//!
//! Unknown keys and bad values are errors naming the source (file, variable or flag), the key
//! and the expected form. Every value remembers the layer it came from (`Config::source`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::provider::{ProviderConfig, ProviderKind};

/// What to do when a session has no active conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultId {
    /// Open the picker on a TTY; an error elsewhere.
    Ask,
    /// The conversation activated last, in any session.
    Last,
    /// This session's previous conversation.
    Prev,
    /// A new conversation.
    New,
    /// A fixed conversation id or prefix.
    Id(String),
}

/// How to ask about a locked conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptMode {
    /// A multiplexer popup when inside one, else inline.
    Auto,
    /// Always in the terminal the command runs in.
    Inline,
    /// Always through the multiplexer's popup (inline outside a multiplexer).
    Popup,
}

/// The merged configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `provider.kind`.
    pub kind: ProviderKind,
    /// `provider.base_url` (kind default when unset).
    pub base_url: String,
    /// `provider.model`.
    pub model: String,
    /// `provider.api_key_env`.
    pub api_key_env: String,
    /// `provider.command`.
    pub command: Vec<String>,
    /// The coding agents' keys (`provider.binary`, `permission_mode`, `sandbox`, `args`,
    /// `resume_command`, `fork_command`, `events`).
    pub agent: crate::provider::AgentOptions,
    /// `provider.idle_timeout`: no byte from the provider for this long ends the run.
    pub idle_timeout: Duration,
    /// `provider.timeout`: the longest a reply may take in all (zero = no limit).
    pub timeout: Duration,
    /// `provider.connect_timeout`.
    pub connect_timeout: Duration,
    /// `provider.max_reply_bytes`: replies are cut (with a marker) beyond this.
    pub max_reply_bytes: u64,
    /// `provider.max_tokens` (sent where the API requires it).
    pub max_tokens: u32,
    /// `conversation.default_id`.
    pub default_id: DefaultId,
    /// `conversation.system`: system prompt for new conversations.
    pub system: Option<String>,
    /// `lock.wait`.
    pub lock_wait: Duration,
    /// `lock.prompt`.
    pub lock_prompt: PromptMode,
    /// `lock.prompt_timeout`: how long a question asked through a multiplexer plugin waits for
    /// its answer before it is asked in the terminal.
    pub lock_prompt_timeout: Duration,
    /// `title.generate`.
    pub title_generate: bool,
    /// `title.timeout`.
    pub title_timeout: Duration,
    /// `context.lines`: how many lines of a pane `--pane` attaches by default.
    pub context_lines: usize,
    /// `context.max_bytes` and `context.redact`: how attachments are capped and redacted.
    pub context: crate::model::Limits,
    sources: BTreeMap<&'static str, String>,
}

#[derive(Clone, Copy)]
enum Ty {
    Str,
    StrList,
    /// A table of strings (`provider.events`).
    Table,
    Dur,
    Bool,
    Int,
    Choice(&'static [&'static str]),
}

struct KeyDef {
    name: &'static str,
    ty: Ty,
    default: &'static str,
    project_ok: bool,
    doc: &'static str,
}

const KINDS: &[&str] = &[
    "openai",
    "anthropic",
    "ollama",
    "command",
    "claude-code",
    "codex",
    "agent",
];

/// Claude Code's permission modes (`--permission-mode`).
const PERMISSION_MODES: &[&str] = &[
    "default",
    "acceptEdits",
    "auto",
    "bypassPermissions",
    "dontAsk",
    "plan",
];

/// Codex's sandbox modes (`sandbox_mode`).
const SANDBOX_MODES: &[&str] = &["read-only", "workspace-write", "danger-full-access"];

const KEYS: &[KeyDef] = &[
    KeyDef {
        name: "provider.kind",
        ty: Ty::Choice(KINDS),
        default: "openai",
        project_ok: false,
        doc: "which wire format",
    },
    KeyDef {
        name: "provider.base_url",
        ty: Ty::Str,
        default: "",
        project_ok: false,
        doc: "API base URL (default per kind)",
    },
    KeyDef {
        name: "provider.model",
        ty: Ty::Str,
        default: "",
        project_ok: true,
        doc: "model name (default per kind)",
    },
    KeyDef {
        name: "provider.api_key_env",
        ty: Ty::Str,
        default: "",
        project_ok: false,
        doc: "environment variable holding the API key",
    },
    KeyDef {
        name: "provider.command",
        ty: Ty::StrList,
        default: "",
        project_ok: false,
        doc: "argv of the command provider",
    },
    KeyDef {
        name: "provider.binary",
        ty: Ty::Str,
        default: "",
        project_ok: false,
        doc: "program of claude-code / codex (default claude / codex)",
    },
    KeyDef {
        name: "provider.permission_mode",
        ty: Ty::Str,
        default: "",
        project_ok: false,
        doc: "claude-code: --permission-mode (default: Claude Code's own)",
    },
    KeyDef {
        name: "provider.sandbox",
        ty: Ty::Str,
        default: "",
        project_ok: false,
        doc: "codex: sandbox_mode (default: Codex's own config)",
    },
    KeyDef {
        name: "provider.args",
        ty: Ty::StrList,
        default: "",
        project_ok: false,
        doc: "agent kinds: more arguments for the agent",
    },
    KeyDef {
        name: "provider.resume_command",
        ty: Ty::StrList,
        default: "",
        project_ok: false,
        doc: "agent: argv of a later turn ({session}, {prompt})",
    },
    KeyDef {
        name: "provider.fork_command",
        ty: Ty::StrList,
        default: "",
        project_ok: false,
        doc: "agent: argv of a fork's first turn ({session}, {prompt})",
    },
    KeyDef {
        name: "provider.events",
        ty: Ty::Table,
        default: "",
        project_ok: false,
        doc: "agent: which JSON lines say what (see docs/config.md)",
    },
    KeyDef {
        name: "provider.idle_timeout",
        ty: Ty::Dur,
        default: "60s",
        project_ok: true,
        doc: "end the run after this long without a byte",
    },
    KeyDef {
        name: "provider.timeout",
        ty: Ty::Dur,
        default: "0",
        project_ok: true,
        doc: "longest a reply may take (0 = no limit)",
    },
    KeyDef {
        name: "provider.connect_timeout",
        ty: Ty::Dur,
        default: "10s",
        project_ok: true,
        doc: "TCP connect timeout",
    },
    KeyDef {
        name: "provider.max_reply_bytes",
        ty: Ty::Int,
        default: "4194304",
        project_ok: true,
        doc: "cap on a reply's size",
    },
    KeyDef {
        name: "provider.max_tokens",
        ty: Ty::Int,
        default: "4096",
        project_ok: true,
        doc: "max_tokens for APIs that need it",
    },
    KeyDef {
        name: "conversation.default_id",
        ty: Ty::Str,
        default: "ask",
        project_ok: true,
        doc: "ask | last | prev | new | <id>",
    },
    KeyDef {
        name: "conversation.system",
        ty: Ty::Str,
        default: "",
        project_ok: true,
        doc: "system prompt of new conversations",
    },
    KeyDef {
        name: "lock.wait",
        ty: Ty::Dur,
        default: "30s",
        project_ok: true,
        doc: "how long to wait for a locked conversation",
    },
    KeyDef {
        name: "lock.prompt",
        ty: Ty::Choice(&["auto", "inline", "popup"]),
        default: "auto",
        project_ok: true,
        doc: "where to ask about a locked conversation",
    },
    KeyDef {
        name: "lock.prompt_timeout",
        ty: Ty::Dur,
        default: "60s",
        project_ok: true,
        doc: "how long a question shown by a plugin (WezTerm) waits for its answer",
    },
    KeyDef {
        name: "title.generate",
        ty: Ty::Bool,
        default: "true",
        project_ok: true,
        doc: "ask the model for a title after the first turn",
    },
    KeyDef {
        name: "title.timeout",
        ty: Ty::Dur,
        default: "20s",
        project_ok: true,
        doc: "longest wait for a generated title",
    },
    KeyDef {
        name: "context.lines",
        ty: Ty::Int,
        default: "1000",
        project_ok: true,
        doc: "lines of a pane --pane attaches (screen and scrollback)",
    },
    KeyDef {
        name: "context.max_bytes",
        ty: Ty::Int,
        default: "262144",
        project_ok: true,
        doc: "cap on one attachment's size (cut with a marker)",
    },
    KeyDef {
        name: "context.redact",
        ty: Ty::Bool,
        default: "true",
        project_ok: false,
        doc: "mask strings that look like secrets in attachments",
    },
];

/// Every config key with its default and a one-line description (for docs and `--help`).
pub fn keys() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    KEYS.iter().map(|k| (k.name, k.default, k.doc))
}

/// A value with its origin.
#[derive(Debug, Clone)]
struct Raw {
    value: toml::Value,
    source: String,
}

/// Where layers come from; `cwd` is where the project file search starts.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The user config file.
    pub user_file: Option<PathBuf>,
    /// Whether the user file must exist (it was named by `PANECHAT_CONFIG`).
    pub user_file_required: bool,
    /// Start of the `.panechat.toml` search.
    pub cwd: Option<PathBuf>,
    /// `--cfg KEY=VALUE` pairs, in order.
    pub overrides: Vec<String>,
}

impl Config {
    /// Loads and merges every layer.
    pub fn load(env: &Env, opts: &LoadOptions) -> Result<Config> {
        let mut raw: BTreeMap<&'static str, Raw> = BTreeMap::new();
        if let Some(path) = &opts.user_file {
            match crate::files::read_regular(path) {
                Ok(text) => apply_file(&mut raw, path, &text, false)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !opts.user_file_required => {}
                Err(e) => {
                    return Err(Error::Config(format!(
                        "cannot read config file {}: {e}",
                        path.display()
                    )))
                }
            }
        }
        if let Some(cwd) = &opts.cwd {
            if let Some(path) = find_project_file(cwd) {
                let text = crate::files::read_regular(&path).map_err(|e| {
                    Error::Config(format!(
                        "cannot read project config {}: {e}",
                        path.display()
                    ))
                })?;
                apply_file(&mut raw, &path, &text, true)?;
            }
        }
        for (var, key) in [
            ("PANECHAT_LOCK_DURATION", "lock.wait"),
            ("PANECHAT_PROVIDER", "provider.kind"),
            ("PANECHAT_MODEL", "provider.model"),
            ("PANECHAT_BASE_URL", "provider.base_url"),
        ] {
            if let Some(os) = env.get_os(var) {
                let Some(v) = os.to_str() else {
                    return Err(Error::Config(format!("{var} is not valid UTF-8")));
                };
                if v.is_empty() {
                    continue;
                }
                let def = def(key).expect("known key");
                set(
                    &mut raw,
                    def,
                    toml::Value::String(v.to_string()),
                    format!("environment variable {var}"),
                )?;
            }
        }
        for item in &opts.overrides {
            let Some((k, v)) = item.split_once('=') else {
                return Err(Error::BadArgument {
                    message: format!(
                        "--cfg expects KEY=VALUE (e.g. --cfg provider.model=gpt-4o), got `{item}`"
                    ),
                });
            };
            let k = k.trim();
            let def = def(k).ok_or_else(|| unknown_key(k, "--cfg"))?;
            let value = parse_cli_value(v.trim());
            set(&mut raw, def, value, format!("--cfg {k}"))?;
        }
        Config::from_raw(raw)
    }

    fn from_raw(raw: BTreeMap<&'static str, Raw>) -> Result<Config> {
        let mut sources = BTreeMap::new();
        let get =
            |name: &'static str, sources: &mut BTreeMap<&'static str, String>| -> toml::Value {
                match raw.get(name) {
                    Some(r) => {
                        sources.insert(name, r.source.clone());
                        r.value.clone()
                    }
                    None => {
                        sources.insert(name, "default".into());
                        default_value(def(name).expect("known key"))
                    }
                }
            };
        let s = |v: toml::Value| v.as_str().unwrap_or("").to_string();
        let d = |v: toml::Value| {
            crate::time::parse_duration(v.as_str().unwrap_or("0")).unwrap_or_default()
        };
        let kind = ProviderKind::parse(&s(get("provider.kind", &mut sources))).expect("validated");
        let (def_url, def_model, def_key) = match kind {
            ProviderKind::Openai => ("https://api.openai.com/v1", "gpt-4o-mini", "OPENAI_API_KEY"),
            ProviderKind::Anthropic => (
                "https://api.anthropic.com",
                "claude-haiku-4-5",
                "ANTHROPIC_API_KEY",
            ),
            ProviderKind::Ollama => ("http://127.0.0.1:11434", "llama3.2", ""),
            ProviderKind::Command => ("", "default", ""),
            // The agent's own default model unless one is set.
            ProviderKind::ClaudeCode | ProviderKind::Codex | ProviderKind::Agent => ("", "", ""),
        };
        let or = |v: String, dflt: &str| if v.is_empty() { dflt.to_string() } else { v };
        let base_url = or(s(get("provider.base_url", &mut sources)), def_url);
        let model = or(s(get("provider.model", &mut sources)), def_model);
        let api_key_env = or(s(get("provider.api_key_env", &mut sources)), def_key);
        let list = |v: toml::Value| -> Vec<String> {
            match v {
                toml::Value::Array(a) => a
                    .iter()
                    .map(|v| v.as_str().unwrap_or("").to_string())
                    .collect(),
                _ => Vec::new(),
            }
        };
        let command = list(get("provider.command", &mut sources));
        let events: Vec<(String, String)> = match get("provider.events", &mut sources) {
            toml::Value::Table(t) => t
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect(),
            _ => Vec::new(),
        };
        let agent = crate::provider::AgentOptions {
            binary: s(get("provider.binary", &mut sources)),
            permission_mode: s(get("provider.permission_mode", &mut sources)),
            sandbox: s(get("provider.sandbox", &mut sources)),
            args: list(get("provider.args", &mut sources)),
            resume_command: list(get("provider.resume_command", &mut sources)),
            fork_command: list(get("provider.fork_command", &mut sources)),
            events,
        };
        let kind_src = sources
            .get("provider.kind")
            .map_or("default", String::as_str)
            .to_string();
        if kind == ProviderKind::Agent {
            if !command.iter().any(|a| a.contains("{prompt}")) {
                return Err(Error::Config(format!(
                    "provider.kind is \"agent\" (set by {kind_src}) but provider.command has no {{prompt}}; set it to the agent's argv for a new session, e.g. command = [\"gemini\", \"-p\", \"{{prompt}}\", \"--output-format\", \"stream-json\"] (see docs/config.md)"
                )));
            }
            for (key, argv) in [
                ("provider.resume_command", &agent.resume_command),
                ("provider.fork_command", &agent.fork_command),
            ] {
                if !argv.is_empty() && !argv.iter().any(|a| a.contains("{session}")) {
                    return Err(Error::Config(format!(
                        "{} (set by {}): the argv has no {{session}}; put {{session}} where the agent takes the session id to continue",
                        key,
                        sources.get(key).map_or("default", String::as_str)
                    )));
                }
            }
            if !agent.events.iter().any(|(k, _)| k == "done") {
                return Err(Error::Config(format!(
                    "provider.kind is \"agent\" (set by {kind_src}) but provider.events has no `done`; set it to the type of the JSON line that ends a turn, e.g. events = {{ done = \"result\", text = \"message /content\" }} (see docs/config.md)"
                )));
            }
        }
        if kind == ProviderKind::Command && command.is_empty() {
            return Err(Error::Config(format!(
                "provider.kind is \"command\" (set by {}) but provider.command is not set; set it to the program's argv, e.g. command = [\"llm\", \"-m\", \"gpt-4o\"]",
                sources.get("provider.kind").map_or("default", String::as_str)
            )));
        }
        let default_id = match s(get("conversation.default_id", &mut sources)).as_str() {
            "ask" => DefaultId::Ask,
            "last" => DefaultId::Last,
            "prev" => DefaultId::Prev,
            "new" => DefaultId::New,
            other => DefaultId::Id(other.to_string()),
        };
        let system = Some(s(get("conversation.system", &mut sources))).filter(|s| !s.is_empty());
        let lock_prompt = match s(get("lock.prompt", &mut sources)).as_str() {
            "inline" => PromptMode::Inline,
            "popup" => PromptMode::Popup,
            _ => PromptMode::Auto,
        };
        let int = |v: toml::Value| v.as_integer().unwrap_or(0).max(0) as u64;
        Ok(Config {
            kind,
            base_url,
            model,
            api_key_env,
            command,
            agent,
            idle_timeout: d(get("provider.idle_timeout", &mut sources)),
            timeout: d(get("provider.timeout", &mut sources)),
            connect_timeout: d(get("provider.connect_timeout", &mut sources)),
            max_reply_bytes: int(get("provider.max_reply_bytes", &mut sources)),
            max_tokens: int(get("provider.max_tokens", &mut sources)) as u32,
            default_id,
            system,
            lock_wait: d(get("lock.wait", &mut sources)),
            lock_prompt,
            lock_prompt_timeout: d(get("lock.prompt_timeout", &mut sources)),
            title_generate: get("title.generate", &mut sources)
                .as_bool()
                .unwrap_or(true),
            title_timeout: d(get("title.timeout", &mut sources)),
            context_lines: int(get("context.lines", &mut sources)) as usize,
            context: crate::model::Limits {
                max_bytes: int(get("context.max_bytes", &mut sources)) as usize,
                redact: get("context.redact", &mut sources)
                    .as_bool()
                    .unwrap_or(true),
            },
            sources,
        })
    }

    /// Where a key's value came from (`default`, a file path, a variable, `--cfg`).
    pub fn source(&self, key: &str) -> Option<&str> {
        self.sources.get(key).map(String::as_str)
    }

    /// The provider settings, with the API key read from the environment.
    pub fn provider(&self) -> ProviderConfig {
        let api_key = if self.api_key_env.is_empty() {
            None
        } else {
            Env::read_dynamic(&self.api_key_env)
        };
        ProviderConfig {
            kind: self.kind,
            base_url: self.base_url.clone(),
            model: self.model.clone(),
            api_key,
            api_key_env: self.api_key_env.clone(),
            command: self.command.clone(),
            connect_timeout: self.connect_timeout,
            max_tokens: self.max_tokens,
            agent: self.agent.clone(),
        }
    }

    /// A warning when `provider.api_key_env` was set to a variable that is not set: no key is
    /// sent, which a server that needs one answers with an unhelpful HTTP error. (Where a key is
    /// certainly needed, [`crate::provider::preflight`] fails instead.)
    pub fn unset_key_warning(&self) -> Option<String> {
        let var = &self.api_key_env;
        let src = self.source("provider.api_key_env").unwrap_or("default");
        if self.kind == ProviderKind::Command
            || self.kind.is_agent()
            || var.is_empty()
            || src == "default"
        {
            return None;
        }
        if Env::read_dynamic(var).is_some_and(|k| !k.trim().is_empty()) {
            return None;
        }
        Some(format!(
            "provider.api_key_env is \"{var}\" (set in {src}), but the environment variable {var} is not set, so no API key is sent to {}; export {var}=… if the server needs one",
            self.base_url
        ))
    }

    /// The built-in defaults (no files, no environment).
    pub fn defaults() -> Config {
        Config::from_raw(BTreeMap::new()).expect("defaults are valid")
    }
}

fn def(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.name == name)
}

fn unknown_key(key: &str, source: &str) -> Error {
    let section = key.split('.').next().unwrap_or("");
    let mut known: Vec<&str> = KEYS
        .iter()
        .map(|k| k.name)
        .filter(|n| n.starts_with(&format!("{section}.")))
        .collect();
    if known.is_empty() {
        known = KEYS.iter().map(|k| k.name).collect();
    }
    let guess = suggest(key)
        .map(|k| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default();
    Error::Config(format!(
        "{source}: unknown config key `{key}`{guess}; known keys: {}",
        known.join(", ")
    ))
}

/// The known key closest to a mistyped one: the same key name in another section, or one a
/// couple of typing mistakes away.
fn suggest(key: &str) -> Option<&'static str> {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    if let Some(k) = KEYS
        .iter()
        .find(|k| k.name.rsplit('.').next() == Some(leaf))
    {
        return Some(k.name);
    }
    KEYS.iter()
        .map(|k| (edit_distance(key, k.name), k.name))
        .filter(|(d, name)| *d <= (name.len() / 4).max(2))
        .min()
        .map(|(_, name)| name)
}

/// Edit distance counting an insertion, deletion, substitution or swap of neighbours as one.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// `path:line` of `section` (and `key` in it) in a config file's `text`, for an error message;
/// just the path when it cannot be found.
fn located(path: &str, text: &str, section: &str, key: Option<&str>) -> String {
    let line = (|| {
        let doc = toml::de::DeTable::parse(text).ok()?;
        let (sk, sv) = doc
            .get_ref()
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == section)?;
        let span = match key {
            None => sk.span(),
            Some(key) => {
                let toml::de::DeValue::Table(t) = sv.get_ref() else {
                    return None;
                };
                t.iter()
                    .find(|(k, _)| k.get_ref().as_ref() == key)
                    .map(|(k, _)| k.span())?
            }
        };
        Some(text[..span.start.min(text.len())].matches('\n').count() + 1)
    })();
    match line {
        Some(l) => format!("{path}:{l}"),
        None => path.to_string(),
    }
}

fn default_value(def: &KeyDef) -> toml::Value {
    match def.ty {
        Ty::Bool => toml::Value::Boolean(def.default == "true"),
        Ty::Int => toml::Value::Integer(def.default.parse().unwrap_or(0)),
        Ty::StrList => toml::Value::Array(Vec::new()),
        Ty::Table => toml::Value::Table(toml::Table::new()),
        _ => toml::Value::String(def.default.to_string()),
    }
}

fn parse_cli_value(v: &str) -> toml::Value {
    match format!("v = {v}").parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(v.to_string())),
        Err(_) => toml::Value::String(v.to_string()),
    }
}

/// The range of an integer key whose value is refused (not clamped) outside it.
fn int_range(name: &str) -> Option<(i64, i64)> {
    Some(match name {
        "context.max_bytes" => (1024, 64 << 20),
        "context.lines" => (1, 1_000_000),
        "provider.max_tokens" => (1, u32::MAX as i64),
        _ => return None,
    })
}

fn expected(def: &KeyDef) -> String {
    if let Some((lo, hi)) = int_range(def.name) {
        return format!("an integer from {lo} to {hi}");
    }
    match def.ty {
        Ty::Str => "a string".into(),
        Ty::StrList => "an array of strings, e.g. [\"llm\", \"-m\", \"gpt-4o\"]".into(),
        Ty::Table => format!(
            "a table of strings, e.g. {{ done = \"result\", text = \"message /content\" }}, with keys among {}",
            crate::provider::agent::EVENT_NAMES.join(", ")
        ),
        Ty::Dur => {
            "a duration such as \"30s\", \"2m\", \"1h\" or \"0\" (a number alone is seconds)".into()
        }
        Ty::Bool => "true or false".into(),
        Ty::Int => "a non-negative integer".into(),
        Ty::Choice(c) => format!(
            "one of {}",
            c.iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Validates `value` for `def` (coercing where the form is unambiguous) and stores it.
fn set(
    raw: &mut BTreeMap<&'static str, Raw>,
    def: &'static KeyDef,
    value: toml::Value,
    source: String,
) -> Result<()> {
    let bad = |got: &toml::Value| {
        Error::Config(format!(
            "{source}: `{}` must be {}, got {}",
            def.name,
            expected(def),
            short(got)
        ))
    };
    let value = match def.ty {
        Ty::Str => match value {
            toml::Value::String(s) => {
                if let Some(choices) = match def.name {
                    "provider.permission_mode" => Some(PERMISSION_MODES),
                    "provider.sandbox" => Some(SANDBOX_MODES),
                    _ => None,
                } {
                    if !s.is_empty() && !choices.contains(&s.as_str()) {
                        return Err(Error::Config(format!(
                            "{source}: `{}` must be one of {}, got \"{s}\"",
                            def.name,
                            choices
                                .iter()
                                .map(|c| format!("\"{c}\""))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    }
                }
                if def.name == "provider.base_url"
                    && !s.is_empty()
                    && !(s.starts_with("http://") || s.starts_with("https://"))
                {
                    return Err(Error::Config(format!(
                        "{source}: `provider.base_url` must start with http:// or https://, got \"{s}\""
                    )));
                }
                toml::Value::String(s)
            }
            other => return Err(bad(&other)),
        },
        Ty::StrList => match value {
            toml::Value::Array(a)
                if !a.is_empty() && a.iter().all(|v| v.as_str().is_some_and(|s| !s.is_empty())) =>
            {
                toml::Value::Array(a)
            }
            toml::Value::String(s) if !s.trim().is_empty() => toml::Value::Array(
                s.split_whitespace()
                    .map(|w| toml::Value::String(w.into()))
                    .collect(),
            ),
            other => return Err(bad(&other)),
        },
        Ty::Table => match value {
            toml::Value::Table(t) => {
                for (k, v) in &t {
                    if !crate::provider::agent::EVENT_NAMES.contains(&k.as_str()) {
                        return Err(Error::Config(format!(
                            "{source}: `{}` has an unknown entry `{k}`; known entries: {}",
                            def.name,
                            crate::provider::agent::EVENT_NAMES.join(", ")
                        )));
                    }
                    let Some(spec) = v.as_str() else {
                        return Err(bad(v));
                    };
                    crate::provider::agent::parse_rule(k, spec)
                        .map_err(|e| Error::Config(format!("{source}: `{}`: {e}", def.name)))?;
                }
                toml::Value::Table(t)
            }
            other => return Err(bad(&other)),
        },
        Ty::Dur => match &value {
            toml::Value::String(s) if crate::time::parse_duration(s).is_some() => value,
            // A number alone is seconds (`--cfg lock.wait=20`, `wait = 20`).
            toml::Value::Integer(n)
                if *n >= 0 && crate::time::parse_duration(&n.to_string()).is_some() =>
            {
                toml::Value::String(n.to_string())
            }
            toml::Value::Float(f)
                if *f >= 0.0 && crate::time::parse_duration(&f.to_string()).is_some() =>
            {
                toml::Value::String(f.to_string())
            }
            other => return Err(bad(other)),
        },
        Ty::Bool => match value {
            toml::Value::Boolean(_) => value,
            toml::Value::String(ref s) if s == "true" || s == "false" => {
                toml::Value::Boolean(s == "true")
            }
            other => return Err(bad(&other)),
        },
        Ty::Int => {
            let (lo, hi) = int_range(def.name).unwrap_or((0, i64::MAX));
            match value {
                toml::Value::Integer(i) if (lo..=hi).contains(&i) => value,
                toml::Value::String(ref s)
                    if s.parse::<i64>().is_ok_and(|i| (lo..=hi).contains(&i)) =>
                {
                    toml::Value::Integer(s.parse::<i64>().expect("checked"))
                }
                other => return Err(bad(&other)),
            }
        }
        Ty::Choice(choices) => match value {
            toml::Value::String(ref s) if choices.contains(&s.as_str()) => value,
            other => return Err(bad(&other)),
        },
    };
    if def.name == "conversation.default_id" {
        let s = value.as_str().unwrap_or("");
        let ok = matches!(s, "ask" | "last" | "prev" | "new")
            || (!s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !ok {
            return Err(Error::Config(format!(
                "{source}: `conversation.default_id` must be \"ask\", \"last\", \"prev\", \"new\" or a conversation id, got \"{s}\""
            )));
        }
    }
    raw.insert(def.name, Raw { value, source });
    Ok(())
}

fn short(v: &toml::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

fn apply_file(
    raw: &mut BTreeMap<&'static str, Raw>,
    path: &Path,
    text: &str,
    project: bool,
) -> Result<()> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .map(|l| format!(":{l}"))
            .unwrap_or_default();
        Error::Config(format!(
            "{}{line}: not valid TOML: {}",
            path.display(),
            e.message()
        ))
    })?;
    let src = path.display().to_string();
    for (section, value) in table {
        let toml::Value::Table(inner) = value else {
            let at = located(&src, text, &section, None);
            return Err(Error::Config(format!(
                "{at}: `{section}` must be a table such as [{section}]; known sections: provider, conversation, lock, title"
            )));
        };
        for (key, value) in inner {
            let full = format!("{section}.{key}");
            let at = || located(&src, text, &section, Some(&key));
            let def = def(&full).ok_or_else(|| unknown_key(&full, &at()))?;
            if project && !def.project_ok {
                return Err(Error::Config(format!(
                    "{}: `{full}` may not be set in a project file (a .panechat.toml can come from a cloned repository); set it in your user config {}",
                    at(),
                    "(~/.config/panechat/config.toml)"
                )));
            }
            // The value remembers its file; an error about it names the line too.
            set(raw, def, value, src.clone()).map_err(|e| match e {
                Error::Config(m) => match m.strip_prefix(&src) {
                    Some(rest) => Error::Config(format!("{}{rest}", at())),
                    None => Error::Config(m),
                },
                other => other,
            })?;
        }
    }
    Ok(())
}

/// Parses one config file's `text` as if it were read from `path` (a project file when
/// `project`), through the same code as [`Config::load`], and merges it over the defaults.
/// Pure; for fuzzing and tests, not a stable API.
#[doc(hidden)]
pub fn parse_layer_for_fuzz(path: &Path, text: &str, project: bool) -> Result<Config> {
    let mut raw = BTreeMap::new();
    apply_file(&mut raw, path, text, project)?;
    Config::from_raw(raw)
}

/// The nearest `.panechat.toml` in `start` or its parents.
pub fn find_project_file(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let p = d.join(".panechat.toml");
        if p.is_file() {
            return Some(p);
        }
        dir = d.parent();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(
        user: Option<&str>,
        project: Option<&str>,
        env: &[(&str, &str)],
        cfg: &[&str],
    ) -> Result<Config> {
        let dir = std::env::temp_dir().join(format!(
            "pc-cfg-{}-{}",
            std::process::id(),
            crate::time::now_ms() ^ fastrand()
        ));
        let proj = dir.join("proj/sub");
        std::fs::create_dir_all(&proj).unwrap();
        let user_file = dir.join("config.toml");
        if let Some(u) = user {
            std::fs::write(&user_file, u).unwrap();
        }
        if let Some(p) = project {
            std::fs::write(dir.join("proj/.panechat.toml"), p).unwrap();
        }
        let env = Env::from_pairs(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let res = Config::load(
            &env,
            &LoadOptions {
                user_file: Some(user_file),
                user_file_required: false,
                cwd: Some(proj),
                overrides: cfg.iter().map(|s| s.to_string()).collect(),
            },
        );
        let _ = std::fs::remove_dir_all(&dir);
        res
    }

    fn fastrand() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(1);
        N.fetch_add(1, Ordering::Relaxed) << 40
    }

    #[test]
    fn layers_later_wins() {
        let c = load_with(
            Some("[provider]\nmodel = \"a\"\n[lock]\nwait = \"5s\"\n"),
            Some("[provider]\nmodel = \"b\"\n"),
            &[("PANECHAT_LOCK_DURATION", "2m")],
            &["title.generate=false"],
        )
        .unwrap();
        assert_eq!(c.model, "b");
        assert!(c
            .source("provider.model")
            .unwrap()
            .ends_with(".panechat.toml"));
        assert_eq!(c.lock_wait, Duration::from_secs(120));
        assert_eq!(
            c.source("lock.wait"),
            Some("environment variable PANECHAT_LOCK_DURATION")
        );
        assert!(!c.title_generate);
        let c = load_with(
            None,
            None,
            &[("PANECHAT_MODEL", "m")],
            &["provider.model=n"],
        )
        .unwrap();
        assert_eq!(c.model, "n");
    }

    #[test]
    fn a_number_alone_is_seconds_for_every_duration_key() {
        let c = load_with(
            Some("[provider]\ntimeout = 90\n[lock]\nprompt_timeout = 1.5\n"),
            None,
            &[],
            &["lock.wait=20", "provider.idle_timeout=\"45\""],
        )
        .unwrap();
        assert_eq!(c.lock_wait, Duration::from_secs(20));
        assert_eq!(c.idle_timeout, Duration::from_secs(45));
        assert_eq!(c.timeout, Duration::from_secs(90));
        assert_eq!(c.lock_prompt_timeout, Duration::from_millis(1500));
        for bad in ["lock.wait=-1", "lock.wait=99999999999999", "lock.wait=nan"] {
            let e = load_with(None, None, &[], &[bad]).unwrap_err().to_string();
            assert!(e.contains("a number alone is seconds"), "{bad}: {e}");
        }
    }

    #[test]
    fn kind_defaults() {
        let c = load_with(Some("[provider]\nkind = \"anthropic\"\n"), None, &[], &[]).unwrap();
        assert_eq!(c.base_url, "https://api.anthropic.com");
        assert_eq!(c.api_key_env, "ANTHROPIC_API_KEY");
        let c = Config::defaults();
        assert_eq!(c.kind, ProviderKind::Openai);
        assert_eq!(c.lock_wait, Duration::from_secs(30));
        assert_eq!(c.default_id, DefaultId::Ask);
    }

    #[test]
    fn errors_name_file_key_and_form() {
        let e = load_with(Some("[provider]\nmodle = \"x\"\n"), None, &[], &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("config.toml")
                && e.contains("provider.modle")
                && e.contains("provider.model"),
            "{e}"
        );
        assert!(e.contains("config.toml:2:"), "{e}");
        assert!(e.contains("did you mean `provider.model`?"), "{e}");
        let e = load_with(
            Some("# mine\n[provider]\nkind = \"openai\"\n\n[lock]\nwiat = \"5s\"\n"),
            None,
            &[],
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("config.toml:6:") && e.contains("did you mean `lock.wait`?"),
            "{e}"
        );
        // The right key name in the wrong section.
        let e = load_with(Some("[provider]\nwait = \"5s\"\n"), None, &[], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `lock.wait`?"), "{e}");
        let e = load_with(None, None, &[], &["title.generat=false"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `title.generate`?"), "{e}");
        let e = load_with(Some("[provider]\nzzzzzz = 1\n"), None, &[], &[])
            .unwrap_err()
            .to_string();
        assert!(!e.contains("did you mean"), "{e}");
        let e = load_with(Some("[lock]\nwait = \"soon\"\n"), None, &[], &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("lock.wait") && e.contains("duration") && e.contains("soon"),
            "{e}"
        );
        assert!(e.contains("config.toml:2:"), "{e}");
        let e = load_with(Some("[lock]\nwait = \n"), None, &[], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.toml:2") && e.contains("TOML"), "{e}");
        let e = load_with(None, None, &[("PANECHAT_LOCK_DURATION", "forever")], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("PANECHAT_LOCK_DURATION"), "{e}");
        let e = load_with(None, None, &[], &["nokey"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("KEY=VALUE"), "{e}");
        let e = load_with(None, None, &[], &["provider.kind=gemini"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--cfg provider.kind") && e.contains("\"ollama\""),
            "{e}"
        );
        let e = load_with(Some("provider = 3\n"), None, &[], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be a table"), "{e}");
        let e = load_with(None, None, &[], &["provider.kind=command"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("provider.command"), "{e}");
        // Found by the `config` fuzz check: this error did not say where the kind was set.
        assert!(e.contains("set by --cfg provider.kind"), "{e}");
        let e = parse_layer_for_fuzz(
            Path::new("/c.toml"),
            "[provider]\nkind = \"command\"",
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("set by /c.toml"), "{e}");
        let e = load_with(None, None, &[], &["provider.base_url=file:///etc"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("http://"), "{e}");
    }

    #[test]
    fn project_files_cannot_redirect_requests() {
        for key in [
            "base_url = \"http://evil\"",
            "command = [\"sh\"]",
            "api_key_env = \"HOME\"",
            "kind = \"command\"",
        ] {
            let e = load_with(None, Some(&format!("[provider]\n{key}\n")), &[], &[])
                .unwrap_err()
                .to_string();
            assert!(e.contains("project file"), "{e}");
        }
    }

    #[test]
    fn agent_kinds_and_their_options() {
        let c = load_with(
            Some("[provider]\nkind = \"claude-code\"\nbinary = \"/opt/claude\"\npermission_mode = \"acceptEdits\"\nargs = [\"--allowedTools\", \"Bash\"]\n"),
            None,
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(c.kind, ProviderKind::ClaudeCode);
        assert_eq!(c.model, "", "the agent's own default model");
        let p = c.provider();
        assert_eq!(p.agent.binary, "/opt/claude");
        assert_eq!(p.agent.permission_mode, "acceptEdits");
        assert_eq!(p.agent.args, ["--allowedTools", "Bash"]);
        let c = load_with(
            None,
            None,
            &[],
            &["provider.kind=codex", "provider.sandbox=read-only"],
        )
        .unwrap();
        assert_eq!(c.agent.sandbox, "read-only");
        let e = load_with(
            Some("[provider]\nkind = \"claude-code\"\npermission_mode = \"yolo\"\n"),
            None,
            &[],
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("config.toml:3:")
                && e.contains("provider.permission_mode")
                && e.contains("\"acceptEdits\""),
            "{e}"
        );
        let e = load_with(None, None, &[], &["provider.sandbox=none"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--cfg provider.sandbox") && e.contains("\"workspace-write\""),
            "{e}"
        );
        for key in [
            "permission_mode = \"plan\"",
            "sandbox = \"read-only\"",
            "binary = \"x\"",
            "args = [\"x\"]",
        ] {
            let e = load_with(None, Some(&format!("[provider]\n{key}\n")), &[], &[])
                .unwrap_err()
                .to_string();
            assert!(e.contains("project file"), "{e}");
        }
    }

    #[test]
    fn a_generic_agent_needs_its_prompt_and_a_done_line() {
        let ok = "[provider]\nkind = \"agent\"\ncommand = [\"gemini\", \"-p\", \"{prompt}\"]\nresume_command = [\"gemini\", \"--resume\", \"{session}\", \"-p\", \"{prompt}\"]\n[provider.events]\nsession = \"init /session_id\"\ntext = \"message /content /role=assistant\"\ndone = \"result\"\n";
        let c = load_with(Some(ok), None, &[], &[]).unwrap();
        assert_eq!(c.kind, ProviderKind::Agent);
        assert_eq!(c.agent.events.len(), 3);
        for (bad, want) in [
            (
                ok.replace("\"{prompt}\"]\nresume", "\"x\"]\nresume"),
                "has no {prompt}",
            ),
            (ok.replace("\"{session}\", ", ""), "provider.resume_command"),
            (ok.replace("done = \"result\"\n", ""), "has no `done`"),
            (
                ok.replace("done =", "finished ="),
                "unknown entry `finished`",
            ),
            (
                ok.replace("\"init /session_id\"", "\"init\""),
                "config.toml:5: `provider.events`: `session`",
            ),
            (
                ok.replace("\"init /session_id\"", "3"),
                "a table of strings",
            ),
        ] {
            let e = load_with(Some(&bad), None, &[], &[])
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn cli_values_are_typed() {
        let c = load_with(
            None,
            None,
            &[],
            &[
                "provider.kind=command",
                "provider.command=[\"llm\",\"-m\",\"x\"]",
                "provider.max_tokens=10",
                "lock.wait=0",
            ],
        )
        .unwrap();
        assert_eq!(c.command, vec!["llm", "-m", "x"]);
        assert_eq!(c.max_tokens, 10);
        assert_eq!(c.lock_wait, Duration::ZERO);
    }
}
