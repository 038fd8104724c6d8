//! Settings resolution: the one place in cass that reads the process
//! environment. Flags win; then `CASS_*` variables of the process; then a
//! `.env` file in the working directory (dotenv semantics: it fills in what
//! the process does not set); then the config file. The result is a
//! [`Settings`] value that the library receives and never re-reads.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches};

use super::config_file::{self, CONFIG_ENV};
use super::style::ColorChoice;
use super::{Cli, CliError, GlobalArgs, exit};
use crate::config::DataDir;
use crate::connectors::AgentEnv;
use crate::connectors::chatgpt::ChatGptKey;
use crate::faults::Faults;
use crate::settings::{IndexSettings, PrivacySettings, SearchSettings, Settings};

/// A boolean variable's value as clap's `BoolishValueParser` reads it.
fn truthy(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "y" | "on")
}

/// The variable layers below the flags, read once at start.
pub struct Env {
    /// `KEY=value` pairs of `./.env`.
    dotenv: HashMap<String, String>,
    /// The config file's keys, as the variables they stand for.
    file: HashMap<&'static str, String>,
    /// The config file's lists, which no variable can hold: exclude globs
    /// (`~` expanded), excluded agents, redaction patterns.
    lists: (Vec<String>, Vec<String>, Vec<crate::redact::UserPattern>),
    /// The config file's `[prices]` table.
    prices: std::collections::BTreeMap<String, crate::usage::Price>,
}

impl Env {
    /// Reads `./.env` and the config file. A broken config file is an
    /// error with a hint; an unreadable `.env` is ignored, as dotenv does.
    pub fn load() -> Result<Env, CliError> {
        let mut dotenv = HashMap::new();
        // This directory's `.env` only (dotenvy::dotenv would also search
        // every parent directory).
        if let Ok(dir) = std::env::current_dir()
            && let Ok(iter) = dotenvy::from_path_iter(dir.join(".env"))
        {
            dotenv.extend(iter.flatten());
        }
        let mut env = Env { dotenv, file: HashMap::new(), lists: Default::default(), prices: Default::default() };
        let path = match env.get(CONFIG_ENV) {
            Some(p) => Some(std::path::PathBuf::from(p)),
            None => config_file::default_path(),
        };
        if let Some(path) = path {
            let file = config_file::load(&path).map_err(|e| {
                CliError::new("config", exit::USAGE, e.to_string())
                    .hint(format!("fix the file, or set {CONFIG_ENV}=/dev/null to run without it"))
            })?;
            env.file = file.variables().into_iter().collect();
            env.lists = (file.exclude_globs(), file.exclude_agents, file.redact.patterns);
            env.prices = file.prices;
        }
        Ok(env)
    }

    /// A variable: the process's, else `.env`'s, else the config file's
    /// (dotenv semantics: a variable the process sets, even to nothing,
    /// is not filled in from `.env`). Empty counts as unset.
    pub fn get(&self, key: &str) -> Option<String> {
        match std::env::var_os(key) {
            Some(v) => Some(v.to_string_lossy().into_owned()).filter(|v| !v.is_empty()),
            None => self.below_process(key).map(str::to_string),
        }
    }

    /// What `.env` or the config file say, below the process environment.
    fn below_process(&self, key: &str) -> Option<&str> {
        self.dotenv
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .or_else(|| self.file.get(key).map(String::as_str))
    }

    /// Parses the command line. clap reads each flag's `CASS_*` variable
    /// from the process itself; `.env` and config-file values become the
    /// flags' defaults, so the precedence is the same for every flag.
    ///
    /// Words of a search query that start with `-` and are not search's
    /// flags (`->`, `-async`) are query text ([`super::query_words`]).
    pub fn parse(&self) -> Result<Cli, clap::Error> {
        let cmd = with_defaults(Cli::command(), self);
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        let mut matches = match cmd.clone().try_get_matches_from(&args) {
            Ok(m) => m,
            Err(e) if e.kind() == clap::error::ErrorKind::UnknownArgument => {
                match super::query_words::after_dashes(&cmd, &args) {
                    Some(fixed) => cmd.try_get_matches_from(fixed).map_err(|_| e)?,
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        Cli::from_arg_matches_mut(&mut matches)
    }

    /// `RUST_LOG`, when set.
    pub fn log_filter(&self) -> Option<String> {
        self.get("RUST_LOG").filter(|v| !v.trim().is_empty())
    }

    /// `--color` with `NO_COLOR` applied: `auto` yields to it.
    pub fn color(&self, choice: ColorChoice) -> ColorChoice {
        match choice {
            ColorChoice::Auto if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => ColorChoice::Never,
            other => other,
        }
    }

    /// The widest instruction set of the quality model's kernels
    /// (`CASS_EMBED_ISA`: `native`, the default, or `avx2`).
    pub fn embed_isa(&self) -> Result<crate::embed::minilm::IsaLimit, CliError> {
        match self.get("CASS_EMBED_ISA") {
            None => Ok(crate::embed::minilm::IsaLimit::Native),
            Some(v) => v.parse().map_err(|e: crate::embed::minilm::IsaError| {
                CliError::new("config", exit::USAGE, format!("CASS_EMBED_ISA: {e}"))
            }),
        }
    }

    /// The crash points the crash tests ask for.
    pub fn faults(&self) -> Faults {
        Faults {
            crash_at: self.get("CASS_TEST_CRASH_AT"),
            vanish: self.get("CASS_TEST_VANISH"),
            swap: self.get("CASS_TEST_SWAP"),
        }
    }

    /// `$VISUAL`, else `$EDITOR`, else `vi` (may carry arguments: `code -w`).
    pub fn editor(&self) -> String {
        ["VISUAL", "EDITOR"]
            .iter()
            .filter_map(|v| self.get(v))
            .find(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "vi".into())
    }

    /// The variables agents read (`HOME`, `CLAUDE_CONFIG_DIR`, `XDG_*`, …):
    /// the process's, filled in from `.env`.
    fn agent_env(&self) -> AgentEnv {
        let mut vars: HashMap<String, OsString> =
            std::env::vars_os().filter_map(|(k, v)| k.into_string().ok().map(|k| (k, v))).collect();
        for (k, v) in &self.dotenv {
            vars.entry(k.clone()).or_insert_with(|| v.into());
        }
        let mut env = AgentEnv::from_vars(vars);
        env.chatgpt_key = self.chatgpt_key();
        env
    }

    /// The user's key to the ChatGPT app's encrypted stores:
    /// `CHATGPT_ENCRYPTION_KEY` (base64), else the raw 32 bytes in the file
    /// `CASS_CHATGPT_KEY_FILE` names, by default `chatgpt_key.bin` beside
    /// the config file. A key that cannot be used is reported where the
    /// stores are, never stops a run.
    fn chatgpt_key(&self) -> ChatGptKey {
        if let Some(text) = self.get("CHATGPT_ENCRYPTION_KEY").filter(|v| !v.trim().is_empty()) {
            return ChatGptKey::from_base64(&text, "CHATGPT_ENCRYPTION_KEY");
        }
        let file = self
            .get("CASS_CHATGPT_KEY_FILE")
            .filter(|v| !v.trim().is_empty())
            .map(PathBuf::from)
            .or_else(|| config_file::default_path().map(|p| p.with_file_name("chatgpt_key.bin")));
        file.map_or(ChatGptKey::Absent, |f| ChatGptKey::from_file(&f))
    }

    /// A setting's value, checked like the flag it stands in for.
    fn preference<T: clap::ValueEnum>(&self, var: &str) -> Result<Option<T>, CliError> {
        match self.get(var) {
            Some(v) if !v.trim().is_empty() => T::from_str(v.trim(), true).map(Some).map_err(|_| {
                CliError::new(
                    "usage",
                    exit::USAGE,
                    format!("{var}={v} is not a valid value (see `cass search --help`)"),
                )
            }),
            _ => Ok(None),
        }
    }

    /// The preferred search mode and tier (`CASS_SEARCH_MODE`,
    /// `CASS_SEARCH_TIER`), checked like the flags they stand in for. Apart
    /// from [`Env::settings`], so a bad value stops only searches.
    pub fn search_settings(&self) -> Result<SearchSettings, CliError> {
        Ok(SearchSettings { mode: self.preference("CASS_SEARCH_MODE")?, tier: self.preference("CASS_SEARCH_TIER")? })
    }

    /// The settings for a handle. `data_dir` is the resolved `--data-dir`;
    /// the rest comes from the variable layers (search preferences: see
    /// [`Env::search_settings`]).
    pub fn settings(&self, global: &GlobalArgs) -> Result<Settings, CliError> {
        let data_dir = DataDir::resolve(global.data_dir.clone())
            .map_err(|e| CliError::new("config", exit::USAGE, e.to_string()))?;
        let embed_threads =
            self.get("CASS_EMBED_THREADS").and_then(|v| v.trim().parse::<usize>().ok()).filter(|&n| n > 0);
        // The progress contract: unset, empty or blank means off.
        let progress_jsonl = self
            .get(crate::indexer::semantic::progress::ENV_VAR)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(Into::into);
        Ok(Settings {
            data_dir,
            agents: self.agent_env(),
            embed_threads,
            progress_jsonl,
            search: SearchSettings::default(),
            index: IndexSettings::default(),
            privacy: self.privacy()?,
            prices: crate::usage::PriceTable::new(&self.prices),
            remote: self.remote()?,
        })
    }

    /// How remote machines are reached and synced (`CASS_SSH*`,
    /// `CASS_REMOTE_COPY`, `CASS_SYNC_*`, or the config file's `[remote]`).
    fn remote(&self) -> Result<crate::settings::RemoteSettings, CliError> {
        let mut r = crate::settings::RemoteSettings::default();
        if let Some(p) = self.get("CASS_SSH").filter(|v| !v.trim().is_empty()) {
            r.sync.ssh.program = p.into();
        }
        r.sync.ssh.config = self.get("CASS_SSH_CONFIG").filter(|v| !v.trim().is_empty()).map(Into::into);
        let secs = |var: &str| -> Result<Option<u64>, CliError> {
            match self.get(var) {
                Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
                    CliError::new("config", exit::USAGE, format!("{var}={v} is not a whole number of seconds"))
                }),
                None => Ok(None),
            }
        };
        if let Some(n) = secs("CASS_SSH_CONNECT_TIMEOUT_SECS")? {
            r.sync.ssh.connect_timeout = std::time::Duration::from_secs(n.max(1));
        }
        if let Some(n) = secs("CASS_SYNC_INTERVAL_SECS")? {
            r.watch_interval = std::time::Duration::from_secs(n);
        }
        if let Some(copy) = self.preference("CASS_REMOTE_COPY")? {
            r.sync.copy = copy;
        }
        Ok(r)
    }

    /// Redaction (on unless `CASS_NO_REDACT` or `[redact] enabled =
    /// false`) and the config file's exclusions and patterns. An unknown
    /// agent in `exclude_agents` is a config error: a typo would silently
    /// exclude nothing.
    fn privacy(&self) -> Result<PrivacySettings, CliError> {
        let (exclude, exclude_agents, patterns) = self.lists.clone();
        let known: Vec<&str> = crate::connectors::all().iter().map(|c| c.agent().slug()).collect();
        if let Some(bad) = exclude_agents.iter().find(|a| !known.contains(&a.as_str())) {
            return Err(CliError::new("config", exit::USAGE, format!("exclude_agents: unknown agent {bad:?}"))
                .hint(format!("agents: {}", known.join(", "))));
        }
        let no_redact = self.get("CASS_NO_REDACT").is_some_and(|v| truthy(&v));
        Ok(PrivacySettings { redact: !no_redact, patterns, exclude, exclude_agents })
    }
}

/// The command with every `CASS_*` flag's default taken from `.env` or
/// the config file where they set it.
fn with_defaults(cmd: clap::Command, env: &Env) -> clap::Command {
    cmd.mut_args(|arg| match arg.get_env().and_then(|k| k.to_str()).and_then(|k| env.below_process(k)) {
        Some(value) => {
            let value = value.to_string();
            arg.default_value(value)
        }
        None => arg,
    })
    .mut_subcommands(|sub| with_defaults(sub, env))
}
