//! The config file: TOML in the platform config directory.
//!
//! The file is the lowest layer of one set of `CASS_*` variables: each key
//! stands for its variable and counts only when neither the process
//! environment nor a `.env` file set it, and flags override all of them
//! (`cli::settings` resolves the layers into one `Settings` value). One
//! mechanism keeps the precedence the same for every setting.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Names the config file explicitly (also to disable it: point it at a
/// file that does not exist).
pub const CONFIG_ENV: &str = "CASS_CONFIG";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

/// The config file's keys, each documented with the variable it feeds.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `CASS_DATA_DIR`
    pub data_dir: Option<PathBuf>,
    /// `CASS_COLOR`: auto, always or never.
    pub color: Option<String>,
    /// `CASS_EMBED_THREADS`: threads for the quality-tier model (0: all cores).
    pub embed_threads: Option<usize>,
    /// `CASS_EMBED_ISA`: the widest instruction set of the quality-tier
    /// model's kernels, `native` (default) or `avx2`.
    pub embed_isa: Option<String>,
    /// `CASS_CHATGPT_KEY_FILE`: the raw 32-byte key to the ChatGPT app's
    /// encrypted stores (mode 0600; default `chatgpt_key.bin` beside this file).
    pub chatgpt_key_file: Option<PathBuf>,
    /// Globs over session files and workspaces never indexed
    /// (`~/work/secret-client/**`). Lists have no variable: the file is
    /// where they are set.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Agents (slugs, as `cass sources` names them) never indexed.
    #[serde(default)]
    pub exclude_agents: Vec<String>,
    #[serde(default)]
    pub search: SearchKeys,
    #[serde(default)]
    pub index: IndexKeys,
    #[serde(default)]
    pub redact: RedactKeys,
    #[serde(default)]
    pub remote: RemoteKeys,
    /// Model prices (US dollars per million tokens) laid over the
    /// built-in table: `[prices."my-model"] input = 1.0, output = 2.0`.
    #[serde(default)]
    pub prices: std::collections::BTreeMap<String, crate::usage::Price>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedactKeys {
    /// `CASS_NO_REDACT`, inverted: false stores secrets verbatim.
    pub enabled: Option<bool>,
    /// Patterns added to the built-in rules.
    #[serde(default)]
    pub patterns: Vec<crate::redact::UserPattern>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RemoteKeys {
    /// `CASS_SSH`: the ssh program.
    pub ssh: Option<PathBuf>,
    /// `CASS_SSH_CONFIG`: an ssh config file for every remote call (`ssh -F`).
    pub ssh_config: Option<PathBuf>,
    /// `CASS_SSH_CONNECT_TIMEOUT_SECS`: how long ssh waits for a machine.
    pub connect_timeout_secs: Option<u64>,
    /// `CASS_REMOTE_COPY`: auto, rsync or tar.
    pub copy: Option<String>,
    /// `CASS_SYNC_ON_INDEX`: `cass index` syncs every machine first.
    pub sync_on_index: Option<bool>,
    /// `CASS_SYNC_INTERVAL_SECS`: how often `index --watch` syncs (0: never).
    pub sync_interval_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SearchKeys {
    /// `CASS_SEARCH_LIMIT`
    pub limit: Option<usize>,
    /// `CASS_SEARCH_MODE`: lexical, semantic or hybrid.
    pub mode: Option<String>,
    /// `CASS_SEARCH_TIER`: fast or quality.
    pub tier: Option<String>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IndexKeys {
    /// `CASS_NO_SEMANTIC`, inverted: false skips the fast-tier backfill.
    pub semantic: Option<bool>,
    /// `CASS_WATCH_DEBOUNCE_MS`: quiet time before `index --watch` reindexes.
    pub watch_debounce_ms: Option<u64>,
    /// `CASS_QUALITY_BUDGET_SECS`: time a pass gives a published quality tier.
    pub quality_budget_secs: Option<f64>,
    /// `CASS_BULK_ROWS`: new messages from which a lexical sync is a bulk load.
    pub bulk_rows: Option<u64>,
}

impl ConfigFile {
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.into(), message: one_line(&e.to_string()) })
    }

    /// The `CASS_*` variables this file sets, in a fixed order.
    pub fn variables(&self) -> Vec<(&'static str, String)> {
        let mut v = Vec::new();
        let mut put = |k: &'static str, val: Option<String>| {
            if let Some(val) = val {
                v.push((k, val));
            }
        };
        put("CASS_DATA_DIR", self.data_dir.as_deref().map(|p| expand_home(p).display().to_string()));
        put("CASS_COLOR", self.color.clone());
        put("CASS_EMBED_THREADS", self.embed_threads.map(|n| n.to_string()));
        put("CASS_EMBED_ISA", self.embed_isa.clone());
        put("CASS_CHATGPT_KEY_FILE", self.chatgpt_key_file.as_deref().map(|p| expand_home(p).display().to_string()));
        put("CASS_SEARCH_LIMIT", self.search.limit.map(|n| n.to_string()));
        put("CASS_SEARCH_MODE", self.search.mode.clone());
        put("CASS_SEARCH_TIER", self.search.tier.clone());
        put("CASS_NO_SEMANTIC", self.index.semantic.map(|on| (!on).to_string()));
        put("CASS_WATCH_DEBOUNCE_MS", self.index.watch_debounce_ms.map(|n| n.to_string()));
        put("CASS_QUALITY_BUDGET_SECS", self.index.quality_budget_secs.map(|n| n.to_string()));
        put("CASS_BULK_ROWS", self.index.bulk_rows.map(|n| n.to_string()));
        put("CASS_NO_REDACT", self.redact.enabled.map(|on| (!on).to_string()));
        put("CASS_SSH", self.remote.ssh.as_deref().map(|p| expand_home(p).display().to_string()));
        put("CASS_SSH_CONFIG", self.remote.ssh_config.as_deref().map(|p| expand_home(p).display().to_string()));
        put("CASS_SSH_CONNECT_TIMEOUT_SECS", self.remote.connect_timeout_secs.map(|n| n.to_string()));
        put("CASS_REMOTE_COPY", self.remote.copy.clone());
        put("CASS_SYNC_ON_INDEX", self.remote.sync_on_index.map(|on| on.to_string()));
        put("CASS_SYNC_INTERVAL_SECS", self.remote.sync_interval_secs.map(|n| n.to_string()));
        v
    }

    /// The file's exclude globs, `~` expanded.
    pub fn exclude_globs(&self) -> Vec<String> {
        self.exclude.iter().map(|g| expand_home(Path::new(g)).to_string_lossy().into_owned()).collect()
    }
}

/// `~/x` is under the home directory, as people write it in config files.
fn expand_home(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), directories::BaseDirs::new()) {
        (Ok(rest), Some(b)) => b.home_dir().join(rest),
        _ => p.to_path_buf(),
    }
}

/// toml's messages span several lines (with a source excerpt); keep the
/// first, which names the line and the problem.
fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// `<config dir>/cass/config.toml` (`~/.config/cass/config.toml` on
/// Linux), where the file is when `$CASS_CONFIG` does not name one.
pub fn default_path() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|b| b.config_dir().join("cass").join("config.toml"))
}

/// Reads the config file; a missing file is an empty configuration.
pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => ConfigFile::parse(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(source) => Err(ConfigError::Read { path: path.into(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_maps_to_its_variable() {
        let s = ConfigFile::parse(
            Path::new("c.toml"),
            r#"
            data_dir = "/d"
            color = "never"
            embed_threads = 3
            [search]
            limit = 7
            mode = "lexical"
            tier = "quality"
            [index]
            semantic = false
            watch_debounce_ms = 50
            "#,
        )
        .unwrap();
        assert_eq!(
            s.variables(),
            vec![
                ("CASS_DATA_DIR", "/d".to_string()),
                ("CASS_COLOR", "never".into()),
                ("CASS_EMBED_THREADS", "3".into()),
                ("CASS_SEARCH_LIMIT", "7".into()),
                ("CASS_SEARCH_MODE", "lexical".into()),
                ("CASS_SEARCH_TIER", "quality".into()),
                ("CASS_NO_SEMANTIC", "true".into()),
                ("CASS_WATCH_DEBOUNCE_MS", "50".into()),
            ]
        );
    }

    #[test]
    fn unknown_keys_and_bad_types_are_refused_on_one_line() {
        let e = ConfigFile::parse(Path::new("c.toml"), "colour = \"never\"\n").unwrap_err().to_string();
        assert!(e.starts_with("config file c.toml:") && e.contains("colour") && !e.contains('\n'), "{e}");
        let e = ConfigFile::parse(Path::new("c.toml"), "[search]\nlimit = \"ten\"\n").unwrap_err().to_string();
        assert!(e.contains("limit") || e.contains("integer"), "{e}");
    }

    #[test]
    fn a_data_dir_under_home_is_expanded() {
        let s = ConfigFile::parse(Path::new("c.toml"), "data_dir = \"~/cass-data\"\n").unwrap();
        let (_, v) = &s.variables()[0];
        assert!(!v.starts_with('~') && v.ends_with("/cass-data"), "{v}");
    }

    #[test]
    fn privacy_keys_are_read() {
        let s = ConfigFile::parse(
            Path::new("c.toml"),
            r#"
            exclude = ["~/work/secret/**", "/abs/*.jsonl"]
            exclude_agents = ["cursor"]
            [redact]
            enabled = false
            patterns = [{ kind = "acme_token", regex = "acme_[0-9a-f]{32}" }]
            "#,
        )
        .unwrap();
        let globs = s.exclude_globs();
        assert!(!globs[0].starts_with('~') && globs[0].ends_with("/work/secret/**"), "{globs:?}");
        assert_eq!(globs[1], "/abs/*.jsonl");
        assert_eq!(s.exclude_agents, vec!["cursor".to_string()]);
        assert_eq!(s.redact.patterns[0].kind, "acme_token");
        assert_eq!(s.variables(), vec![("CASS_NO_REDACT", "true".to_string())]);
    }

    #[test]
    fn prices_are_read_and_typos_refused() {
        let text = r#"
            [prices."my-local-model"]
            input = 0.5
            output = 1.5
            cache_read = 0.05
            [prices."gemini-2.5-pro".long]
            rule = "calls_past_200k"
            input = 2.5
            output = 15.0
            cache_read = 0.25
        "#;
        let err = ConfigFile::parse(Path::new("c.toml"), text).unwrap_err().to_string();
        assert!(err.contains("input") || err.contains("missing"), "a long rate without base rates: {err}");
        let text = r#"
            [prices."my-local-model"]
            input = 0.5
            output = 1.5
            cache_read = 0.05
            [prices."gemini-2.5-pro"]
            input = 1.25
            output = 10.0
            [prices."gemini-2.5-pro".long]
            rule = "calls_past_200k"
            input = 2.5
            output = 15.0
        "#;
        let file = ConfigFile::parse(Path::new("c.toml"), text).unwrap();
        let local = file.prices["my-local-model"];
        assert_eq!((local.rates.input, local.rates.output, local.rates.cache_read), (0.5, 1.5, Some(0.05)));
        let pro = file.prices["gemini-2.5-pro"];
        assert_eq!(pro.long.map(|l| l.rule), Some(crate::usage::prices::LongRule::CallsPast200k));
        for typo in [
            "input = 1.0\noutput = 1.0\ncache_reed = 0.1",
            "input = 1.0\noutput = 1.0\n[prices.m.long]\nrule = \"soon\"\ninput = 1.0\noutput = 1.0",
        ] {
            let text = format!("[prices.m]\n{typo}\n");
            assert!(ConfigFile::parse(Path::new("c.toml"), &text).is_err(), "{text}");
        }
    }

    #[test]
    fn a_missing_file_is_empty_settings() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(&dir.path().join("none.toml")).unwrap(), ConfigFile::default());
    }
}
