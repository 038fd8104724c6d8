//! The values a [`crate::Cass`] handle runs with.
//!
//! Resolved once at the edge (the CLI reads flags, `CASS_*` variables, a
//! `.env` file and the config file) and passed down as a value, as ripgrep
//! turns its arguments into one validated value: no library code reads the
//! process environment, so two handles with different settings can live in
//! one process (a test, an MCP server) without stepping on each other.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::DataDir;
use crate::connectors::AgentEnv;
use crate::embed::Tier;
use crate::search::Mode;

/// Everything a handle needs besides the data directory's own contents.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the store, the indexes and the models live.
    pub data_dir: DataDir,
    /// The variables agents read to find their sessions (`HOME`,
    /// `CLAUDE_CONFIG_DIR`, `XDG_*`, …), as values.
    pub agents: AgentEnv,
    /// Threads for the quality-tier model; `None` means every core.
    pub embed_threads: Option<usize>,
    /// Where backfills append their progress JSONL
    /// (`../shared/specs/progress-jsonl.md`); `None` writes nothing.
    pub progress_jsonl: Option<PathBuf>,
    /// Defaults for search requests.
    pub search: SearchSettings,
    /// Defaults for index passes.
    pub index: IndexSettings,
    /// What is kept out of the store: secrets, excluded sessions.
    pub privacy: PrivacySettings,
    /// What model calls cost, for usage reports.
    pub prices: crate::usage::PriceTable,
    /// How remote machines are reached and when they are synced.
    pub remote: RemoteSettings,
}

/// How remote machines (`cass sources add`) are synced.
#[derive(Debug, Clone)]
pub struct RemoteSettings {
    /// How ssh runs (program, config file, connect timeout) and how files are copied.
    pub sync: crate::remote::sync::SyncOptions,
    /// How often `cass index --watch` syncs the machines; zero: never.
    pub watch_interval: Duration,
}

impl Default for RemoteSettings {
    fn default() -> Self {
        RemoteSettings { sync: Default::default(), watch_interval: Duration::from_secs(15 * 60) }
    }
}

/// What an index pass keeps out of the store.
#[derive(Debug, Clone)]
pub struct PrivacySettings {
    /// Replace secrets in message text and titles by typed markers before
    /// anything is stored (on unless turned off).
    pub redact: bool,
    /// Patterns added to the built-in redaction rules.
    pub patterns: Vec<crate::redact::UserPattern>,
    /// Globs over session files and workspaces never indexed (`~`
    /// already expanded); `D/**` also matches `D` itself.
    pub exclude: Vec<String>,
    /// Agents (slugs) never indexed.
    pub exclude_agents: Vec<String>,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        PrivacySettings { redact: true, patterns: Vec::new(), exclude: Vec::new(), exclude_agents: Vec::new() }
    }
}

/// How searches run when a request does not say.
#[derive(Debug, Clone, Default)]
pub struct SearchSettings {
    /// Preferred mode; used when it can run, else the default and a note.
    pub mode: Option<Mode>,
    /// Preferred tier, likewise.
    pub tier: Option<Tier>,
}

/// How index passes run when a call does not say.
#[derive(Debug, Clone)]
pub struct IndexSettings {
    /// Run the fast-tier backfill after ingest.
    pub semantic: bool,
    /// Quiet time before a watched change is indexed.
    pub watch_debounce: Duration,
    /// Time an index pass may spend adding new messages to a published
    /// quality tier; zero leaves the tier to explicit backfills.
    pub quality_budget: Duration,
    /// New messages from which a lexical sync is a bulk load: two indexing
    /// threads and a bigger heap, no merges, started beside ingest.
    pub bulk_rows: usize,
}

impl Default for IndexSettings {
    fn default() -> Self {
        IndexSettings {
            semantic: true,
            watch_debounce: Duration::from_millis(200),
            quality_budget: Duration::from_secs(60),
            bulk_rows: crate::lexical::BULK_ROWS,
        }
    }
}

impl Settings {
    /// Settings for a data dir with every default and no agent roots
    /// beyond what `agents` names (tests and embedders start here).
    pub fn new(data_dir: DataDir, agents: AgentEnv) -> Settings {
        Settings {
            data_dir,
            agents,
            embed_threads: None,
            progress_jsonl: None,
            search: SearchSettings::default(),
            index: IndexSettings::default(),
            privacy: PrivacySettings::default(),
            prices: crate::usage::PriceTable::default(),
            remote: RemoteSettings::default(),
        }
    }
}
