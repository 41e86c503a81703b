//! The state one command runs with: environment, paths, store, config overrides and the
//! session, and what every command does with them (notes, logs, publishing).

use panechat::config::{Config, LoadOptions};
use panechat::env::Env;
use panechat::paths::Paths;
use panechat::session::{self, Session, SessionKey};
use panechat::store::Store;
use panechat::{Error, Result};

use super::output::err_line;

/// Shared state for one command.
pub struct Ctx {
    pub(super) env: Env,
    pub(super) paths: Paths,
    pub(super) store: Store,
    cfg_overrides: Vec<String>,
    pub(super) quiet: bool,
    pub(super) verbose: u8,
    pub(super) session: Option<Session>,
    /// Whether `session` was named on the command line (`q --session`) rather than being the
    /// one this process runs in: this terminal is then not that pane's.
    pub(super) session_named: bool,
}

impl Ctx {
    /// The state for a command with these global options.
    pub(super) fn new(cfg_overrides: Vec<String>, quiet: bool, verbose: u8) -> Result<Ctx> {
        let env = Env::capture();
        let paths = Paths::resolve(&env)?;
        Ok(Ctx {
            store: Store::new(paths.clone()),
            paths,
            env,
            cfg_overrides,
            quiet,
            verbose,
            session: None,
            session_named: false,
        })
    }

    /// Loads the config (all layers).
    pub(super) fn config(&self) -> Result<Config> {
        Config::load(
            &self.env,
            &LoadOptions {
                user_file: Some(self.paths.config_file.clone()),
                user_file_required: self.env.get("PANECHAT_CONFIG").is_some(),
                cwd: std::env::current_dir().ok(),
                overrides: self.cfg_overrides.clone(),
            },
        )
    }

    /// Prints one warning when the config does not load, for commands that do not need it.
    pub(super) fn warn_if_config_broken(&self) {
        if let Err(e) = self.config() {
            err_line(&format!("panechat: warning: {e}\n(this command does not need the config, but `panechat q` fails until it is fixed)"));
        }
    }

    /// This process's session.
    pub(super) fn session(&mut self) -> Result<Session> {
        if self.session.is_none() {
            self.session = Some(session::resolve(&self.env)?);
        }
        Ok(self.session.clone().expect("set"))
    }

    /// Makes a session named on the command line this command's session.
    pub(super) fn use_named_session(&mut self, s: Session) {
        self.session = Some(s);
        self.session_named = true;
    }

    /// A session named on the command line: a key, or `pane:<id>` for a pane of the
    /// multiplexer this command runs in.
    pub(super) fn named_session(&self, raw: &str) -> Result<Session> {
        if let Some(pane) = raw.strip_prefix("pane:") {
            return session::key_for_pane(&self.env, pane)?.ok_or_else(|| Error::Unavailable {
                message: format!(
                    "`{raw}` names a pane, but this command is not running inside a multiplexer"
                ),
            });
        }
        let key = SessionKey::normalize(raw)?;
        let server = panechat::store::mapping::read(&self.paths, &key)
            .ok()
            .flatten()
            .and_then(|r| r.server);
        Ok(session::PaneRef::from_key(key).to_session(server))
    }

    /// Publishes the state of every pane that shows conversation `id`; failures are logged,
    /// never fatal.
    pub(super) fn publish(&self, id: &panechat::store::conversation::ConversationId) {
        if let Err(e) = self.publisher().conversation(id) {
            self.debug(&format!("publishing conversation {id}: {e}"));
        }
    }

    /// Publishes the state of every pane that shows conversation `id` and of this session (for
    /// a query: its pane shows the conversation while it runs, and may not afterwards).
    pub(super) fn publish_here_and(&self, id: &panechat::store::conversation::ConversationId) {
        let here: Vec<SessionKey> = self.session.iter().map(|s| s.key.clone()).collect();
        if let Err(e) = self.publisher().conversation_and(id, &here) {
            self.debug(&format!("publishing conversation {id}: {e}"));
        }
    }

    /// Publishes the states of these sessions.
    pub(super) fn publish_sessions(&self, keys: &[SessionKey]) {
        if let Err(e) = self.publisher().sessions(keys) {
            self.debug(&format!("publishing sessions: {e}"));
        }
    }

    pub(super) fn publisher(&self) -> panechat::publish::Publisher<'_> {
        panechat::publish::Publisher {
            store: &self.store,
            env: &self.env,
            here: self.session.as_ref().filter(|_| !self.session_named),
            sink: &panechat::publish::RealSink,
        }
    }

    /// Warns that `what` is stored but a file derived from the log could not be updated (a
    /// [`panechat::store::Durable`] with a stale part): the command still succeeds.
    pub(super) fn warn_stale(&self, what: &str, stale: Option<&Error>) {
        if let Some(e) = stale {
            self.log(
                "WARN",
                &format!("{what} is stored; derived files are stale: {e}"),
            );
            eprintln!("panechat: warning: {what} is stored, but the files derived from the conversation's log (its summary, history cache, the list `ls` reads) could not be updated ({e});\n  the next query and `panechat doctor --repair` rebuild them from the log");
        }
    }

    pub(super) fn note(&self, msg: &str) {
        if !self.quiet {
            err_line(msg);
        }
    }

    pub(super) fn debug(&self, msg: &str) {
        self.log("DEBUG", msg);
    }

    /// Appends to the session-labelled log (mirrored to stderr with -v; `DEBUG` lines only with
    /// -v or `PANECHAT_LOG=debug`).
    pub(super) fn log(&self, level: &str, msg: &str) {
        use panechat::logfile::Logger;
        Logger::new(&self.paths, self.session.as_ref(), self.verbose > 0)
            .with_debug(Logger::debug_wanted(&self.env))
            .log(level, msg);
    }
}
