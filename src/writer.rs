//! The writer role, as tantivy has `IndexWriter`: one at a time per data
//! dir, guarded by `cass.lock` for as long as the value lives. It runs the
//! whole index pipeline — ingest → lexical sync → fast-tier backfill →
//! segment merges — and the watch loop, reporting progress through an
//! [`IndexProgress`] callback, so every front end indexes the same way.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::embed::{Tier, embedder_for};
use crate::handle::Cass;
use crate::indexer::semantic::progress::ProgressSink;
use crate::indexer::semantic::{self, BackfillError, BackfillOptions, BackfillReport, CompactReport};
use crate::indexer::watch::{Trigger, WatchOptions};
use crate::indexer::{self, IndexOptions, IndexProgress, IndexReport, NoProgress, Phase};
use crate::lock::{LockError, WriterLock};
use crate::privacy::Privacy;
use crate::remote::sync::MachineSync;
use crate::store::{Store, StoreError};

/// Why a write could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Another process holds the writer lock (or the lock file failed).
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Ingest failed in the store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The lexical sync failed.
    #[error(transparent)]
    Lexical(#[from] crate::lexical::LexicalError),
    /// A tier's backfill failed.
    #[error(transparent)]
    Backfill(#[from] BackfillError),
    /// `cass redact` with redaction turned off.
    #[error("redaction is off (--no-redact, CASS_NO_REDACT or `[redact] enabled = false`): nothing to redact with")]
    RedactionOff,
    /// The store itself is damaged: derived indexes cannot be rebuilt from it.
    #[error("{0}")]
    StoreDamaged(String),
    /// A redaction pattern or exclude glob of the settings does not compile.
    #[error(transparent)]
    Privacy(#[from] crate::privacy::PrivacyError),
    /// The remote machines' list or state could not be read or written.
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    /// A damaged derived index could not be removed for rebuilding.
    #[error("cannot remove the damaged index {path}: {source}")]
    Remove {
        /// The index directory.
        path: std::path::PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// What `cass redact` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RedactStoreReport {
    /// The rewrite of the stored text.
    #[serde(flatten)]
    pub rewrite: crate::store::privacy::RewriteReport,
    /// The lexical sync that re-derived the affected conversations.
    pub lexical: crate::lexical::SyncReport,
    /// Lexical segments rewritten to drop the old text.
    pub segments_rewritten: usize,
}

/// What one index pass should do.
#[derive(Debug, Clone, Default)]
pub struct IndexPass {
    /// Re-read every session file from the start.
    pub full: bool,
    /// Skip the fast-tier backfill after ingest.
    pub skip_semantic: bool,
    /// Set (by a signal handler) to stop a backfill after its next checkpoint.
    pub cancel: Arc<AtomicBool>,
    /// Verify every derived index first and rebuild the damaged ones.
    pub repair: bool,
    /// Sync every remote machine first (`--sync`, or the setting).
    pub sync: bool,
}

/// How a tier backfill should run.
#[derive(Debug, Clone)]
pub struct BackfillRun {
    /// Messages selected per batch.
    pub batch_size: usize,
    /// Stop cooperatively (after a checkpoint) once this much time passed.
    pub max_duration: Option<Duration>,
    /// Set to stop after the next checkpoint.
    pub cancel: Arc<AtomicBool>,
}

impl BackfillRun {
    /// The tier's default batch, no time budget, never cancelled.
    pub fn for_tier(tier: Tier) -> BackfillRun {
        BackfillRun { batch_size: tier.default_batch(), max_duration: None, cancel: Arc::default() }
    }
}

/// One cycle of the watch loop, as handed to its callback.
#[derive(Debug)]
pub struct Cycle {
    /// Why it ran.
    pub trigger: Trigger,
    /// How long the pass took.
    pub elapsed: Duration,
    /// What it did, or why it failed (watching goes on either way).
    pub result: Result<IndexReport, WriteError>,
}

/// The one writer of a data dir; the lock is released when it is dropped.
pub struct IndexWriter {
    cass: Cass,
    /// The privacy settings, compiled once (a watch runs many passes).
    privacy: Privacy,
    _lock: WriterLock,
}

impl IndexWriter {
    pub(crate) fn open(cass: Cass, command: &str) -> Result<IndexWriter, WriteError> {
        let data = cass.data_dir();
        data.create().map_err(|source| WriteError::DataDir { path: data.root().to_path_buf(), source })?;
        let privacy = Privacy::new(&cass.settings().privacy)?;
        let lock = WriterLock::acquire(&data.lock(), command)?;
        Ok(IndexWriter { cass, privacy, _lock: lock })
    }

    /// One index pass: ingest what changed, bring the lexical index up to
    /// date, then (unless skipped) the fast tier.
    pub fn index(&self, pass: &IndexPass, progress: &dyn IndexProgress) -> Result<IndexReport, WriteError> {
        let started = Instant::now();
        let data = self.cass.data_dir();
        let repaired = if pass.repair { self.repair()? } else { Vec::new() };
        // A machine that cannot be reached is reported, never in the way.
        let remotes = pass.sync.then(|| self.sync_or_report(None));
        // The store exists, migrated, before the lexical build beside
        // ingest opens it to read. This connection stays open until the
        // lexical sync has its own: while one is open, SQLite's index of
        // the WAL stays valid, and the sync does not rebuild it by reading
        // and checksumming the whole WAL the ingest left (~1 % of a first
        // build's CPU at a million messages).
        let held = Store::open(&data.db())?;
        let bulk_rows = self.cass.settings().index.bulk_rows;
        let (ingested, beside) = std::thread::scope(|scope| {
            let (running, ingest) = std::sync::mpsc::channel::<()>();
            let (db, dir) = (data.db(), data.lexical());
            let beside = scope.spawn(move || crate::lexical::build_beside_ingest(&db, &dir, bulk_rows, ingest));
            let ingested = indexer::run_ingest(
                data,
                &self.cass.settings().agents,
                &IndexOptions { full: pass.full },
                &self.privacy,
                progress,
            );
            drop(running);
            (ingested, beside.join())
        });
        let mut report = ingested?;
        report.repaired = repaired;
        report.remotes = remotes;
        crate::faults::point("index.after_store_commit");
        progress.phase(Phase::Lexical);
        // A build beside ingest that failed leaves the work to the sync.
        let beside = match beside {
            Ok(Ok(build)) => build,
            Ok(Err(e)) => {
                tracing::warn!("lexical build beside ingest: {e}; building after it");
                None
            }
            Err(_) => {
                tracing::warn!("lexical build beside ingest stopped; building after it");
                None
            }
        };
        report.lexical = Some(self.sync_lexical(beside)?);
        drop(held);
        if report.privacy.removed_text() {
            crate::lexical::purge_deleted(&data.lexical())?;
        }
        if !pass.skip_semantic {
            let run = BackfillRun { cancel: pass.cancel.clone(), ..BackfillRun::for_tier(Tier::Fast) };
            report.semantic = Some(self.backfill(Tier::Fast, &run, progress)?);
            // Once published, the quality tier is kept current too, within
            // a budget: what does not fit waits for the next pass, and
            // search uses the tier meanwhile (its lag is in `status`).
            let budget = self.cass.settings().index.quality_budget;
            if !budget.is_zero()
                && self.cass.published_rows(Tier::Quality) > 0
                && self.cass.quality_model_installed()
                && self.quality_pending(data)
            {
                let run = BackfillRun {
                    max_duration: Some(budget),
                    cancel: pass.cancel.clone(),
                    ..BackfillRun::for_tier(Tier::Quality)
                };
                report.quality = Some(self.backfill(Tier::Quality, &run, progress)?);
            }
        }
        // The run's wall time, not the ingest's: loading the fast model and
        // embedding usually take longer than reading the files.
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// Brings the lexical index up to date ([`indexer::sync_lexical`]) with
    /// this writer's bulk threshold, finishing `beside` if ingest started it.
    fn sync_lexical(
        &self,
        beside: Option<crate::lexical::Build>,
    ) -> Result<crate::lexical::SyncReport, crate::lexical::LexicalError> {
        indexer::sync_lexical(self.cass.data_dir(), beside, self.cass.settings().index.bulk_rows)
    }

    /// Whether the quality tier has anything to do: rows to embed, or
    /// segments of an older format to rewrite (it is not served until
    /// then). Loading its model takes longer than most watch cycles, so a
    /// pass with nothing to do skips it. Bounded counts (see
    /// [`semantic::tier_state`]).
    fn quality_pending(&self, data: &crate::config::DataDir) -> bool {
        let store = Store::open_readonly(&data.db()).ok();
        semantic::tier_state(data, Tier::Quality, store.as_ref()).map_or(true, |t| {
            t.pending_rows > 0 || t.segment_format.is_some_and(|f| f != crate::vector::segment::VERSION)
        })
    }

    /// Embeds every message not yet in `tier`, publishes it, then merges
    /// small segments. Progress JSONL goes where the settings say.
    pub fn backfill(
        &self,
        tier: Tier,
        run: &BackfillRun,
        progress: &dyn IndexProgress,
    ) -> Result<BackfillReport, BackfillError> {
        let data = self.cass.data_dir();
        let settings = self.cass.settings();
        progress.phase(Phase::Backfill(tier));
        crate::lock::note_progress(match tier {
            Tier::Fast => "semantic fast",
            Tier::Quality => "semantic quality",
        });
        // The sink opens first, so the first event's `elapsed_ms` is the
        // model's load time, which `semantic report` shows on its own line.
        let sink = ProgressSink::for_setting(settings.progress_jsonl.as_deref(), tier.name(), tier.embedder_id());
        let embedder = embedder_for(data, tier, settings.embed_threads)?;
        let store = Store::open(&data.db())?;
        let on_batch = |done: u64, total: u64| progress.batch_done(done, total);
        let opts = BackfillOptions {
            batch_size: run.batch_size.max(1),
            max_duration: run.max_duration,
            cancel: run.cancel.clone(),
            on_batch: Some(&on_batch),
            // The quality model embeds tens of messages a second: a large
            // backlog is walked newest first, so recent weeks come first.
            newest_first: tier == Tier::Quality,
        };
        let report = semantic::backfill(&store, &tier.dir(data), tier, embedder.as_ref(), &opts, &sink)?;
        if report.published
            && let Some(m) = semantic::merge_small_segments(&store, &tier.dir(data), tier)?
        {
            tracing::info!(
                tier = m.tier,
                segments_before = m.segments_before,
                segments_after = m.segments_after,
                "merged small segments"
            );
        }
        Ok(report)
    }

    /// Verifies every derived index ([`crate::verify::deep`]) and removes
    /// the damaged ones, so the index pass that follows rebuilds them from
    /// the store (a quality tier by `cass semantic backfill --tier
    /// quality`). Returns what was removed and why. A damaged store is an
    /// error: nothing can be rebuilt from it.
    pub fn repair(&self) -> Result<Vec<String>, WriteError> {
        let data = self.cass.data_dir();
        if data.db().exists() {
            // Migrated first, so the checks read the schema this build writes.
            Store::open(&data.db())?;
        }
        let report = crate::verify::deep(data);
        if let Some(p) = report.problems.iter().find(|p| p.kind == "store_damaged") {
            return Err(WriteError::StoreDamaged(p.message.clone()));
        }
        let mut removed = Vec::new();
        if let Some(why) = &report.usage_wrong {
            crate::store::usage::recount(&mut Store::open(&data.db())?)?;
            removed.push(format!("{why}; recounted from the calls"));
        }
        for d in &report.damaged {
            let (dir, what, how) = match Tier::ALL.iter().find(|t| t.name() == d.index) {
                Some(Tier::Quality) => (Tier::Quality.dir(data), "the quality tier", Tier::Quality.build_command()),
                Some(t) => (t.dir(data), "the fast tier", "this run"),
                None => (data.lexical(), "the lexical index", "this run"),
            };
            std::fs::remove_dir_all(&dir).map_err(|source| WriteError::Remove { path: dir.clone(), source })?;
            removed.push(format!("{what} was damaged ({}); removed, and rebuilt from the store by {how}", d.why));
        }
        Ok(removed)
    }

    /// Redacts the text already in the store with the settings' rules
    /// (`cass redact`): messages holding a secret are rewritten as new
    /// rows, the lexical index re-derives their conversations and drops
    /// the old text from its files, and each tier embeds the new rows only
    /// (on this pass's fast-tier backfill, and the quality tier's next).
    pub fn redact_store(&self, progress: &dyn IndexProgress) -> Result<RedactStoreReport, WriteError> {
        let data = self.cass.data_dir();
        let Some(redactor) = self.privacy.redactor() else {
            return Err(WriteError::RedactionOff);
        };
        let mut store = Store::open(&data.db())?;
        crate::lock::note_progress("redact");
        let rewrite = crate::store::privacy::redact_stored(&mut store, redactor)?;
        drop(store);
        progress.phase(Phase::Lexical);
        let lexical = self.sync_lexical(None)?;
        let segments_rewritten = crate::lexical::purge_deleted(&data.lexical())?;
        Ok(RedactStoreReport { rewrite, lexical, segments_rewritten })
    }

    /// Forgets conversations (`cass forget`): removes them from the store
    /// and the lexical index (tier rows of their messages are dead from
    /// now on, and dropped by compaction) and keeps them out of later
    /// runs. `None` when nothing matches.
    pub fn forget(
        &self,
        target: &crate::store::privacy::ForgetTarget,
    ) -> Result<Option<crate::store::privacy::Forgotten>, WriteError> {
        let data = self.cass.data_dir();
        let mut store = Store::open(&data.db())?;
        let entry = crate::store::privacy::forget(&mut store, target)?;
        drop(store);
        if entry.is_some() {
            self.sync_lexical(None)?;
            crate::lexical::purge_deleted(&data.lexical())?;
        }
        Ok(entry)
    }

    /// Lifts forget number `id` (`cass forget --undo`) and runs an index
    /// pass, which reads its sessions again. `None` when there is no such forget.
    pub fn unforget(
        &self,
        id: i64,
        progress: &dyn IndexProgress,
    ) -> Result<Option<(crate::store::privacy::Forgotten, IndexReport)>, WriteError> {
        let mut store = Store::open(&self.cass.data_dir().db())?;
        let Some(entry) = crate::store::privacy::unforget(&mut store, id)? else {
            return Ok(None);
        };
        drop(store);
        let report = self.index(&IndexPass::default(), progress)?;
        Ok(Some((entry, report)))
    }

    /// Merges a tier's segments and drops vectors of replaced messages.
    pub fn compact(&self, tier: Tier) -> Result<CompactReport, BackfillError> {
        let data = self.cass.data_dir();
        let store = Store::open(&data.db())?;
        semantic::compact(&store, &tier.dir(data), tier)
    }

    /// Syncs the remote machines (`only` one, or all): each is probed,
    /// listed and copied into its mirror; one that fails is recorded in
    /// its state and the others go on. Holding the writer lock keeps an
    /// index pass from reading a file while it is being copied.
    pub fn sync_remotes(&self, only: Option<&str>) -> Result<Vec<MachineSync>, WriteError> {
        let data = self.cass.data_dir();
        crate::lock::note_progress("sync");
        Ok(crate::remote::sync::sync_machines(data, only, &self.cass.settings().remote.sync)?)
    }

    /// [`IndexWriter::sync_remotes`] for an index pass: an unreadable
    /// machines list is one failed entry, not an error.
    fn sync_or_report(&self, only: Option<&str>) -> Vec<MachineSync> {
        match self.sync_remotes(only) {
            Ok(list) => list,
            Err(e) => vec![MachineSync::failed("*", "local", -1, e.to_string())],
        }
    }

    /// Removes a remote machine (`cass sources remove`): from the list,
    /// its conversations from the store and the lexical index, its mirror
    /// and state from the data dir. Returns (conversations, messages) removed.
    pub fn remove_machine(&self, name: &str) -> Result<(i64, i64), WriteError> {
        let data = self.cass.data_dir();
        let mut machines = crate::remote::Machines::load(data)?;
        machines.remove(name)?;
        let mut removed = (0, 0);
        if data.db().exists() {
            let mut store = Store::open(&data.db())?;
            let mirror = crate::remote::mirror_dir(data, name);
            removed = crate::store::remote::remove_source(&mut store, name, &mirror.to_string_lossy())?;
            drop(store);
            self.sync_lexical(None)?;
            crate::lexical::purge_deleted(&data.lexical())?;
        }
        machines.save(data)?;
        let dir = crate::remote::machine_dir(data, name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|source| WriteError::Remove { path: dir.clone(), source })?;
        }
        Ok(removed)
    }

    /// Replaces a machine's workspace mappings and re-maps the workspaces
    /// of its conversations already stored. Returns how many changed.
    pub fn set_paths(&self, name: &str, paths: Vec<crate::remote::PathMap>) -> Result<usize, WriteError> {
        let data = self.cass.data_dir();
        let mut machines = crate::remote::Machines::load(data)?;
        let machine = machines
            .machines
            .iter_mut()
            .find(|m| m.name == name)
            .ok_or_else(|| crate::remote::RemoteError::Unknown(name.to_string()))?;
        machine.paths = paths;
        let machine = machine.clone();
        machines.save(data)?;
        if !data.db().exists() {
            return Ok(0);
        }
        let mut store = Store::open(&data.db())?;
        let changed = crate::store::remote::remap_workspaces(&mut store, name, &|ws| machine.map_workspace(ws))?;
        drop(store);
        if changed > 0 {
            self.sync_lexical(None)?;
        }
        Ok(changed)
    }

    /// Watches every agent root until `stop` is set: a catch-up pass (full
    /// if `pass.full`), then one pass per debounced burst of changes, each
    /// handed to `on_cycle`. A failing pass is reported and watching goes on.
    pub fn watch(&self, pass: &IndexPass, stop: &AtomicBool, mut on_cycle: impl FnMut(Cycle)) {
        let remote = &self.cass.settings().remote;
        // Machines are synced at start (with --sync) and then on the
        // interval: their changes raise no event here.
        let machines = crate::remote::Machines::load(self.cass.data_dir()).map(|m| !m.machines.is_empty());
        let every = (machines.unwrap_or(false) && !remote.watch_interval.is_zero()).then_some(remote.watch_interval);
        let opts = WatchOptions { debounce: self.cass.settings().index.watch_debounce, every };
        indexer::watch::watch(&self.cass.settings().agents, &opts, stop, |trigger| {
            let started = Instant::now();
            let start = trigger == Trigger::Start;
            let sync = (pass.sync && start) || (trigger == Trigger::Timer);
            let this = IndexPass { full: pass.full && start, repair: pass.repair && start, sync, ..pass.clone() };
            let result = self.index(&this, &NoProgress);
            crate::lock::note_progress("watching");
            on_cycle(Cycle { trigger, elapsed: started.elapsed(), result });
        });
    }
}
