//! The handle on one data directory, as tantivy has `Index`: it holds the
//! [`Settings`] and hands out the roles — one [`IndexWriter`] at a time
//! (behind `cass.lock`), any number of [`Searcher`]s and [`Reader`]s — and
//! answers status questions. Front ends (the CLI, the TUI, the MCP server)
//! go through it and never open the store or an index themselves.

use std::sync::Arc;

use crate::config::DataDir;
use crate::embed::Tier;
use crate::indexer::semantic::{TierState, tier_state};
use crate::indexer::session_file::{ReadFileError, SessionFile};
use crate::indexer::sources::SourcesReport;
use crate::reader::Reader;
use crate::search::{Filters, SearchError, SearchRequest, Searcher};
use crate::settings::Settings;
use crate::status::{Freshness, Health, Status, StatusError};
use crate::store::{Store, StoreError};
use crate::writer::{IndexWriter, WriteError};

/// A data directory opened with explicit settings. Cheap to clone; opening
/// it touches no file (each role opens what it needs when asked).
#[derive(Debug, Clone)]
pub struct Cass {
    settings: Arc<Settings>,
}

impl Cass {
    /// A handle on `settings.data_dir`.
    pub fn open(settings: Settings) -> Cass {
        Cass { settings: Arc::new(settings) }
    }

    /// The settings this handle runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The data directory's layout.
    pub fn data_dir(&self) -> &DataDir {
        &self.settings.data_dir
    }

    /// True once a first index pass has created the store.
    pub fn is_indexed(&self) -> bool {
        self.data_dir().db().exists()
    }

    /// Takes the writer lock (creating the data dir, 0700, if needed).
    /// `command` is what `cass status` shows as the writer (`index`,
    /// `index --watch`, `semantic backfill`, …).
    pub fn writer(&self, command: &str) -> Result<IndexWriter, WriteError> {
        IndexWriter::open(self.clone(), command)
    }

    /// A searcher over the published state: the store and lexical index
    /// read-only, tiers on first use. Reuse it across queries.
    pub fn searcher(&self) -> Result<Searcher, SearchError> {
        Searcher::open(self.data_dir(), self.settings.embed_threads)
    }

    /// A validated request for `text`, with the settings' preferred mode and
    /// tier applied as preferences (used when they can run).
    pub fn request(
        &self,
        text: &str,
        filters: Filters,
        limit: usize,
        offset: usize,
    ) -> Result<SearchRequest, SearchError> {
        let mut req = SearchRequest::new(text, filters, limit, offset)?;
        req.mode = self.settings.search.mode;
        req.tier = self.settings.search.tier;
        req.preferred = req.mode.is_some() || req.tier.is_some();
        Ok(req)
    }

    /// Conversations and messages, read-only.
    pub fn reader(&self) -> Result<Reader, StoreError> {
        Reader::open(self.data_dir())
    }

    /// Counts, marks and the writer, from stored counters only (milliseconds
    /// at a million messages). `Err(Store(Missing))`: nothing indexed yet.
    pub fn status(&self) -> Result<Status, StatusError> {
        crate::status::status(self.data_dir())
    }

    /// [`Cass::status`] judged: healthy when every index holds every message
    /// and (with `max_age_ms`) the last index run is recent enough.
    pub fn health(&self, max_age_ms: Option<i64>) -> Result<Health, StatusError> {
        Ok(crate::status::health(self.status()?, max_age_ms, crate::time::now_ms()))
    }

    /// [`Cass::health`] plus the deep check ([`crate::verify::deep`]):
    /// every checksum read, SQLite's `integrity_check`, counts compared. Slow
    /// (it reads every byte); says how long it took. A store too damaged
    /// to report status is an `Err` naming the damage and the recovery.
    pub fn health_deep(&self, max_age_ms: Option<i64>) -> Result<Health, crate::robot::RobotError> {
        let deep = crate::verify::deep(self.data_dir());
        match self.health(max_age_ms) {
            Ok(mut h) => {
                h.problems.extend(deep.problems);
                h.healthy = h.problems.is_empty();
                h.deep_ms = Some(deep.elapsed_ms);
                Ok(h)
            }
            Err(e) => match deep.problems.iter().find(|p| p.kind == "store_damaged") {
                Some(p) => {
                    Err(crate::robot::RobotError::new("store_damaged", crate::robot::exit::NOT_FOUND, &p.message)
                        .hint("move cass.db away and run `cass index --full` (every agent's files are read again)"))
                }
                None => Err(e.into()),
            },
        }
    }

    /// When the index last changed and who is writing, from two file-system
    /// facts: cheap enough for a status line to poll.
    pub fn freshness(&self) -> Freshness {
        crate::status::freshness(self.data_dir())
    }

    /// A mark that changes whenever what a searcher serves changes on disk:
    /// the store file replaced, the lexical index committed, a tier
    /// published or rebuilt. Cheap (a few `stat`s): a long-lived front end
    /// compares marks before each request and opens a new [`Searcher`]
    /// when they differ.
    pub fn state_mark(&self) -> StateMark {
        let data = self.data_dir();
        let mut paths = vec![data.db(), data.lexical().join("meta.json")];
        paths.extend(Tier::ALL.iter().map(|t| t.dir(data).join("manifest.json")));
        StateMark(paths.iter().map(|p| file_mark(p)).collect())
    }

    /// Every tier's state; pending counts need the store (0 before the
    /// first index pass).
    pub fn tiers(&self) -> Result<Vec<TierState>, crate::vector::VectorError> {
        let store = Store::open_readonly(&self.data_dir().db()).ok();
        Tier::ALL.iter().map(|&t| tier_state(self.data_dir(), t, store.as_ref())).collect()
    }

    /// Rows a tier has published, from its manifest alone (0 when none or
    /// unreadable).
    pub fn published_rows(&self, tier: Tier) -> u64 {
        crate::vector::manifest::Manifest::load(&tier.dir(self.data_dir()))
            .ok()
            .flatten()
            .map_or(0, |m| m.published_rows())
    }

    /// True when every file of the quality model is installed.
    pub fn quality_model_installed(&self) -> bool {
        crate::models::list(self.data_dir()).iter().all(|m| m.installed)
    }

    /// What `cass forget` keeps out, oldest first (empty before anything
    /// was indexed).
    pub fn forgotten(&self) -> Result<Vec<crate::store::privacy::Forgotten>, StoreError> {
        match Store::open_readonly(&self.data_dir().db()) {
            Ok(store) => crate::store::privacy::forgotten(&store),
            Err(StoreError::Missing(_)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// A usage report, priced with the settings' table (empty before
    /// anything was indexed).
    pub fn usage(&self, req: &crate::usage::ReportRequest) -> Result<crate::usage::Report, StoreError> {
        match Store::open_readonly(&self.data_dir().db()) {
            Ok(store) => crate::usage::build(&store, req, &self.settings.prices),
            Err(StoreError::Missing(_)) => Ok(crate::usage::Report::empty(req)),
            Err(e) => Err(e),
        }
    }

    /// A session file read now, without the store (`cass view FILE` of a
    /// file not indexed): parsed by its agent's connector, its text
    /// redacted and cut as an index run would store it. `path` is absolute.
    pub fn read_session_file(&self, path: &std::path::Path) -> Result<SessionFile, ReadFileError> {
        let privacy = crate::privacy::Privacy::new(&self.settings.privacy)?;
        crate::indexer::session_file::read(path, &self.settings.agents, privacy.redactor())
    }

    /// Where each agent's sessions are looked for, what is there, and what
    /// the store holds of them. Never indexes, never takes the lock.
    pub fn sources(&self) -> Result<SourcesReport, crate::indexer::sources::SourcesError> {
        crate::indexer::sources::survey(self.data_dir(), &self.settings.agents)
    }
}

impl Cass {
    /// The configured remote machines.
    pub fn machines(&self) -> Result<crate::remote::Machines, crate::remote::RemoteError> {
        crate::remote::Machines::load(self.data_dir())
    }

    /// Records a new remote machine (`cass sources add`). Writes only
    /// `remotes/machines.json`: nothing is contacted until a sync.
    pub fn add_machine(&self, machine: crate::remote::Machine) -> Result<(), crate::remote::RemoteError> {
        let mut all = self.machines()?;
        all.add(machine)?;
        all.save(self.data_dir())
    }
}

/// What [`Cass::state_mark`] returns: compare two for equality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMark(Vec<Option<(u64, u64, i128)>>);

/// (device, inode, modification time in ns) of a file, if it exists.
fn file_mark(path: &std::path::Path) -> Option<(u64, u64, i128)> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino(), mtime))
    }
    #[cfg(not(unix))]
    Some((0, meta.len(), mtime))
}
