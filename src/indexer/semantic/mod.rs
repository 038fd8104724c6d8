//! The semantic backfill: a resumable, crash-safe loop that embeds every
//! message past the tier's cursor and publishes the result atomically.
//!
//! Each batch: selection → packet replay → embed → staging write →
//! checkpoint. When selection comes back empty, the staged rows are
//! published as one immutable segment in the same run. A crash at any point
//! resumes from the last checkpoint (staged bytes past it are cut off); a
//! signal or time budget stops between batches, after a checkpoint. Every
//! transition goes through the [`progress::ProgressSink`].

pub mod progress;
mod publish;
pub mod report;
mod tier;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::embed::{EmbedError, Embedder, Tier, canonical::canonical};
use crate::store::Store;
use crate::vector::VectorError;
use crate::vector::manifest::{Checkpoint, Manifest, Sweep};
use crate::vector::staging::Staging;
use progress::{Event, Fields, ProgressSink};
pub use publish::{CompactReport, compact, merge_small_segments};
pub use tier::{TierState, tier_state};

/// How often packet replay says it is still alive.
const REPLAY_TICK: Duration = Duration::from_millis(250);

/// How often a long backfill publishes what it has staged, so search sees
/// it before the whole backlog is done.
const PUBLISH_EVERY: Duration = Duration::from_secs(60);

/// Why a backfill stopped with an error; the last checkpoint still stands.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A tier file (manifest, staging, segment) could not be read or written.
    #[error(transparent)]
    Vector(#[from] VectorError),
    /// The embedder could not load or embed.
    #[error(transparent)]
    Embed(#[from] EmbedError),
}

impl BackfillError {
    /// True when the disk (or a quota) is full: worth its own message.
    pub fn is_disk_full(&self) -> bool {
        match self {
            BackfillError::Vector(v) => v.is_disk_full(),
            BackfillError::Store(s) => s.is_disk_full(),
            BackfillError::Embed(_) => false,
        }
    }
}

/// How a backfill run should behave.
#[derive(Clone)]
pub struct BackfillOptions<'a> {
    /// Messages selected per batch (one checkpoint each).
    pub batch_size: usize,
    /// Stop (cooperatively, after a checkpoint) once this much time has passed.
    pub max_duration: Option<Duration>,
    /// Set by a signal handler: stop after the current batch's checkpoint.
    pub cancel: Arc<AtomicBool>,
    /// Called after each checkpoint with (rows processed, rows expected), for
    /// a progress bar.
    pub on_batch: Option<&'a (dyn Fn(u64, u64) + Sync)>,
    /// Walk a backlog of more than one batch newest first (see
    /// [`Sweep`]); else by id, which reads the store in order (faster).
    pub newest_first: bool,
}

impl std::fmt::Debug for BackfillOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackfillOptions")
            .field("batch_size", &self.batch_size)
            .field("max_duration", &self.max_duration)
            .field("cancel", &self.cancel)
            .field("newest_first", &self.newest_first)
            .finish_non_exhaustive()
    }
}

impl Default for BackfillOptions<'_> {
    fn default() -> Self {
        BackfillOptions {
            batch_size: Tier::Fast.default_batch(),
            max_duration: None,
            cancel: Arc::new(AtomicBool::new(false)),
            on_batch: None,
            newest_first: false,
        }
    }
}

/// What one run did (also `cass semantic backfill --json`).
#[derive(Debug, Clone, Serialize)]
pub struct BackfillReport {
    /// The tier's name.
    pub tier: &'static str,
    /// Id of the embedder that built the tier.
    pub embedder_id: String,
    /// `complete` or `cancelled`.
    pub outcome: &'static str,
    /// The tier was thrown away and rebuilt (another embedder or model).
    pub rebuilt: bool,
    /// Batches checkpointed this run.
    pub batches: u64,
    /// Messages processed this run, embedded or skipped.
    pub rows_processed: u64,
    /// Messages embedded and staged this run.
    pub rows_embedded: u64,
    /// Messages with nothing worth embedding, or whose conversation is gone.
    pub rows_skipped: u64,
    /// The staged rows were published as a segment this run.
    pub published: bool,
    /// Rows in the tier's published segments after the run.
    pub published_rows: u64,
    /// Messages not yet published: past the checkpoint, or staged.
    pub pending_rows: u64,
    /// Wall time of the run, in milliseconds.
    pub elapsed_ms: u64,
}

/// Runs the backfill for one tier. The caller holds the writer lock.
pub fn backfill(
    store: &Store,
    dir: &Path,
    tier: Tier,
    embedder: &dyn Embedder,
    opts: &BackfillOptions<'_>,
    sink: &ProgressSink,
) -> Result<BackfillReport, BackfillError> {
    let mut run = Run::new(tier, embedder, sink);
    match run.go(store, dir, opts) {
        Ok(report) => Ok(report),
        Err(e) => {
            sink.emit(Event::Error, &Fields { error: Some(e.to_string()), ..run.counters() });
            Err(e)
        }
    }
}

/// A message selected for embedding.
type Row = crate::store::semantic::PendingMessage;

struct Run<'a> {
    tier: Tier,
    embedder: &'a dyn Embedder,
    sink: &'a ProgressSink,
    started: Instant,
    batch_index: u64,
    rows_processed: u64,
    rows_total: u64,
    embedded: u64,
    skipped: u64,
    cursor: i64,
    cursor_conversation: i64,
}

impl<'a> Run<'a> {
    fn new(tier: Tier, embedder: &'a dyn Embedder, sink: &'a ProgressSink) -> Run<'a> {
        Run {
            tier,
            embedder,
            sink,
            started: Instant::now(),
            batch_index: 0,
            rows_processed: 0,
            rows_total: 0,
            embedded: 0,
            skipped: 0,
            cursor: 0,
            cursor_conversation: 0,
        }
    }

    fn counters(&self) -> Fields {
        Fields {
            batch_index: Some(self.batch_index),
            rows_processed: Some(self.rows_processed),
            rows_total: Some(self.rows_total),
            last_conversation_id: Some(self.cursor_conversation),
            last_message_id: Some(self.cursor),
            ..Default::default()
        }
    }

    fn emit(&self, event: Event, extra: Fields) {
        let base = self.counters();
        self.sink.emit(
            event,
            &Fields {
                batch_rows: extra.batch_rows,
                conversations_in_batch: extra.conversations_in_batch,
                note: extra.note,
                bytes: extra.bytes,
                error: extra.error,
                ..base
            },
        );
    }

    fn go(&mut self, store: &Store, dir: &Path, opts: &BackfillOptions<'_>) -> Result<BackfillReport, BackfillError> {
        std::fs::create_dir_all(dir.join("segments")).map_err(|e| VectorError::io(dir, e))?;
        let (mut manifest, rebuilt) = tier::open_manifest(dir, self.tier, self.embedder, store)?;
        // Opened (and any torn tail cut off) only when a batch needs it, so a
        // run with nothing to do writes nothing.
        let mut staging: Option<Staging> = None;
        self.cursor = manifest.checkpoint.last_message_id;
        self.cursor_conversation = manifest.checkpoint.last_conversation_id;
        let mut after = crate::store::semantic::count_after(store, manifest.checkpoint.last_message_id)?;
        if opts.newest_first && manifest.checkpoint.sweep.is_none() && after > opts.batch_size as u64 {
            // More than one batch behind: walk the backlog newest first.
            // Saved with the first batch's checkpoint; a crash before it
            // loses nothing.
            let floor = manifest.checkpoint.last_message_id;
            let top = crate::store::semantic::max_message_id(store)?;
            let rows_left = crate::store::semantic::count_between(store, floor, top)?;
            manifest.checkpoint.sweep = Some(Sweep { floor, top, at_created: i64::MAX, at_id: i64::MAX, rows_left });
            manifest.checkpoint.last_message_id = top;
            after = 0; // the sweep holds them all
        }
        if manifest.checkpoint.sweep.is_some() {
            crate::store::semantic::ensure_recency_index(store)?;
        }
        self.rows_total = after + manifest.checkpoint.sweep.as_ref().map_or(0, |s| s.rows_left);
        // The bar's length from the start, not from the first checkpoint
        // (a quality batch takes seconds).
        if let Some(cb) = &opts.on_batch {
            cb(0, self.rows_total);
        }

        let mut published = false;
        let mut last_publish = Instant::now();
        loop {
            let over_time = opts.max_duration.is_some_and(|d| self.started.elapsed() >= d);
            if opts.cancel.load(Ordering::SeqCst) || over_time {
                // At the time budget, what was embedded becomes searchable
                // now rather than on the next run; a signal stops at once.
                if over_time && manifest.checkpoint.staged_rows > 0 {
                    self.publish(store, dir, &mut manifest, &mut staging)?;
                    published = true;
                }
                let why = if over_time { "time budget reached" } else { "signal" };
                self.emit(Event::Cancelled, Fields { note: Some(why.into()), ..Default::default() });
                self.note_lag(store, dir, &mut manifest)?;
                return Ok(self.report(&manifest, "cancelled", rebuilt, published, store));
            }
            let rows = self.select(store, &mut manifest, opts.batch_size)?;
            if rows.is_empty() {
                break;
            }
            let inputs = self.replay(store, &rows)?;
            let (ids, vectors) = self.embed(&rows, &inputs)?;
            if staging.is_none() {
                let path = tier::staging_path(dir);
                staging = Some(Staging::open(&path, manifest.dims, manifest.checkpoint.staged_rows)?);
            }
            self.stage(staging.as_mut().expect("opened"), &ids, &vectors)?;
            self.advance(&mut manifest.checkpoint, &rows);
            self.rows_processed += rows.len() as u64;
            self.checkpoint(dir, &mut manifest, rows.len() as u64, ids.len() as u64)?;
            self.batch_index += 1;
            crate::lock::note_progress(match self.tier {
                Tier::Fast => "semantic fast",
                Tier::Quality => "semantic quality",
            });
            if let Some(cb) = &opts.on_batch {
                cb(self.rows_processed, self.rows_total);
            }
            // A long backfill is searchable as it goes: newest first, the
            // last weeks are served within minutes, not when all is done.
            if manifest.checkpoint.staged_rows > 0 && last_publish.elapsed() >= PUBLISH_EVERY {
                self.publish(store, dir, &mut manifest, &mut staging)?;
                published = true;
                last_publish = Instant::now();
                if merge_small_segments(store, dir, self.tier)?.is_some() {
                    manifest = Manifest::load(dir)?.ok_or_else(|| {
                        VectorError::corrupt(&Manifest::path(dir), "the manifest vanished during a merge")
                    })?;
                }
            }
        }
        if manifest.checkpoint.sweep.take().is_some() && manifest.checkpoint.staged_rows == 0 {
            // The sweep ended on a batch boundary: record it.
            self.checkpoint(dir, &mut manifest, 0, 0)?;
        }
        if manifest.checkpoint.staged_rows > 0 {
            self.publish(store, dir, &mut manifest, &mut staging)?;
            published = true;
        }
        self.emit(Event::Complete, Fields::default());
        self.note_lag(store, dir, &mut manifest)?;
        Ok(self.report(&manifest, "complete", rebuilt, published, store))
    }

    /// Publishes the staged rows (the manifest write commits them, and any
    /// sweep state with them).
    fn publish(
        &self,
        store: &Store,
        dir: &Path,
        manifest: &mut Manifest,
        staging: &mut Option<Staging>,
    ) -> Result<(), BackfillError> {
        self.emit(
            Event::PublishStart,
            Fields { batch_rows: Some(manifest.checkpoint.staged_rows), ..Default::default() },
        );
        let bytes = publish::publish(store, dir, manifest)?;
        *staging = None;
        self.emit(Event::PublishDone, Fields { bytes: Some(bytes), ..Default::default() });
        Ok(())
    }

    /// Records since when the tier has been behind (or that it is current),
    /// saving the manifest only when that changes.
    fn note_lag(&self, store: &Store, dir: &Path, manifest: &mut Manifest) -> Result<(), BackfillError> {
        let behind = pending(store, manifest)? > 0;
        let since = if behind { manifest.behind_since_ms.or(Some(crate::time::now_ms())) } else { None };
        if since != manifest.behind_since_ms {
            manifest.behind_since_ms = since;
            manifest.save(dir)?;
        }
        Ok(())
    }

    /// The next batch: messages that arrived past the id cursor first (by
    /// id), then the sweep's next (newest first). The sweep ends, in memory,
    /// when it finds nothing; the caller records that.
    fn select(&self, store: &Store, manifest: &mut Manifest, batch: usize) -> Result<Vec<Row>, BackfillError> {
        self.emit(Event::SelectionStart, Fields::default());
        let cp = &mut manifest.checkpoint;
        let mut rows = crate::store::semantic::messages_after(store, cp.last_message_id, batch)?;
        if rows.is_empty()
            && let Some(sw) = &cp.sweep
        {
            rows = crate::store::semantic::messages_newest_first(
                store,
                sw.floor,
                sw.top,
                (sw.at_created, sw.at_id),
                batch,
            )?;
        }
        let bytes: usize = rows.iter().map(|r| r.content.len()).sum();
        self.emit(
            Event::SelectionDone,
            Fields { batch_rows: Some(rows.len() as u64), bytes: Some(bytes as u64), ..Default::default() },
        );
        Ok(rows)
    }

    /// Moves the cursor past a processed batch: the id cursor for a batch
    /// by id, the sweep's position for a newest-first one. The progress
    /// events' `last_message_id` is the last message processed either way.
    fn advance(&mut self, cp: &mut Checkpoint, rows: &[Row]) {
        let last = rows.last().expect("non-empty batch");
        let by_id = last.id > cp.last_message_id;
        match &mut cp.sweep {
            Some(sw) if !by_id => {
                sw.at_created = last.time_key();
                sw.at_id = last.id;
                sw.rows_left = sw.rows_left.saturating_sub(rows.len() as u64);
            }
            _ => cp.last_message_id = last.id,
        }
        cp.last_conversation_id = last.conversation_id;
        self.cursor = last.id;
        self.cursor_conversation = last.conversation_id;
    }

    /// Loads the batch's conversation envelopes and builds one canonical
    /// input per message (`None`: nothing worth embedding).
    fn replay(&self, store: &Store, rows: &[Row]) -> Result<Vec<Option<String>>, BackfillError> {
        let convs: Vec<i64> = {
            let mut seen = HashSet::new();
            rows.iter().map(|r| r.conversation_id).filter(|c| seen.insert(*c)).collect()
        };
        let n_convs = Some(convs.len() as u64);
        self.emit(
            Event::PacketReplayStart,
            Fields { batch_rows: Some(rows.len() as u64), conversations_in_batch: n_convs, ..Default::default() },
        );
        let mut envelopes: HashMap<i64, (String, Option<String>)> = HashMap::new();
        let mut last_tick = Instant::now();
        for chunk in convs.chunks(256) {
            envelopes.extend(crate::store::semantic::envelopes(store, chunk)?);
            if last_tick.elapsed() >= REPLAY_TICK {
                last_tick = Instant::now();
                self.emit(
                    Event::PacketReplayProgress,
                    Fields {
                        conversations_in_batch: n_convs,
                        note: Some(format!("{} envelopes", envelopes.len())),
                        ..Default::default()
                    },
                );
            }
        }
        let inputs: Vec<Option<String>> = rows
            .par_iter()
            .map(|r| if envelopes.contains_key(&r.conversation_id) { canonical(&r.content) } else { None })
            .collect();
        let bytes: usize = inputs.iter().flatten().map(String::len).sum();
        self.emit(
            Event::PacketReplayDone,
            Fields {
                batch_rows: Some(rows.len() as u64),
                conversations_in_batch: n_convs,
                bytes: Some(bytes as u64),
                ..Default::default()
            },
        );
        Ok(inputs)
    }

    fn embed(&mut self, rows: &[Row], inputs: &[Option<String>]) -> Result<(Vec<i64>, Vec<f32>), BackfillError> {
        let mut ids = Vec::new();
        let mut texts: Vec<&str> = Vec::new();
        for (row, input) in rows.iter().zip(inputs) {
            if let Some(t) = input {
                ids.push(row.id);
                texts.push(t);
            }
        }
        self.skipped += (rows.len() - ids.len()) as u64;
        let bytes: usize = texts.iter().map(|t| t.len()).sum();
        let fields =
            || Fields { batch_rows: Some(texts.len() as u64), bytes: Some(bytes as u64), ..Default::default() };
        self.emit(Event::EmbedBatchStart, fields());
        let vectors = embed_bounded(self.embedder, &texts)?;
        self.embedded += ids.len() as u64;
        self.emit(Event::EmbedBatchDone, fields());
        Ok((ids, vectors))
    }

    fn stage(&self, staging: &mut Staging, ids: &[i64], vectors: &[f32]) -> Result<(), BackfillError> {
        self.emit(Event::StagingWriteStart, Fields { batch_rows: Some(ids.len() as u64), ..Default::default() });
        let bytes = staging.append(ids, vectors)?;
        crate::faults::point("staging.before_sync");
        staging.sync()?;
        self.emit(
            Event::StagingWriteDone,
            Fields { batch_rows: Some(ids.len() as u64), bytes: Some(bytes), ..Default::default() },
        );
        Ok(())
    }

    fn checkpoint(
        &self,
        dir: &Path,
        manifest: &mut Manifest,
        processed: u64,
        staged: u64,
    ) -> Result<(), BackfillError> {
        self.emit(Event::CheckpointSaveStart, Fields::default());
        let cp = &mut manifest.checkpoint;
        cp.rows_processed += processed;
        cp.staged_rows += staged;
        manifest.save(dir)?;
        self.emit(Event::CheckpointSaveDone, Fields::default());
        Ok(())
    }

    fn report(
        &self,
        m: &Manifest,
        outcome: &'static str,
        rebuilt: bool,
        published: bool,
        store: &Store,
    ) -> BackfillReport {
        let pending = pending(store, m).unwrap_or(0);
        BackfillReport {
            tier: self.tier.name(),
            embedder_id: self.embedder.id().to_string(),
            outcome,
            rebuilt,
            batches: self.batch_index,
            rows_processed: self.rows_processed,
            rows_embedded: self.embedded,
            rows_skipped: self.skipped,
            published,
            published_rows: m.published_rows(),
            pending_rows: pending,
            elapsed_ms: self.started.elapsed().as_millis() as u64,
        }
    }
}

/// Messages not yet published: past the id cursor, left to the sweep, or
/// staged (an exact count of the first: for a run's report).
fn pending(store: &Store, m: &Manifest) -> Result<u64, BackfillError> {
    let cp = &m.checkpoint;
    Ok(crate::store::semantic::count_after(store, cp.last_message_id)? + cp.unpublished_below_cursor())
}

/// Embeds texts, respecting the embedder's padding budget: inputs are
/// sorted by length and cut into sub-batches whose `rows × longest` stays
/// under the budget, so one long message never inflates a whole batch.
/// Embedders without a budget (the hash) run chunks in parallel.
pub fn embed_bounded(embedder: &dyn Embedder, texts: &[&str]) -> Result<Vec<f32>, EmbedError> {
    let dims = embedder.dims();
    let mut out = vec![0f32; texts.len() * dims];
    match embedder.batch_token_budget() {
        None => {
            out.par_chunks_mut(256 * dims).zip(texts.par_chunks(256)).try_for_each(|(dst, chunk)| {
                let mut v = Vec::with_capacity(chunk.len() * dims);
                embedder.embed(chunk, &mut v)?;
                dst.copy_from_slice(&v);
                Ok::<(), EmbedError>(())
            })?;
        }
        Some(budget) => {
            let mut order: Vec<usize> = (0..texts.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(texts[i].len()));
            let mut start = 0;
            while start < order.len() {
                // Characters / 4 approximates tokens; the longest comes first.
                let longest = (texts[order[start]].len() / 4).max(1);
                let rows = (budget / longest).max(1);
                let end = (start + rows).min(order.len());
                let batch: Vec<&str> = order[start..end].iter().map(|&i| texts[i]).collect();
                let mut v = Vec::with_capacity(batch.len() * dims);
                embedder.embed(&batch, &mut v)?;
                for (k, &i) in order[start..end].iter().enumerate() {
                    out[i * dims..(i + 1) * dims].copy_from_slice(&v[k * dims..(k + 1) * dims]);
                }
                start = end;
            }
        }
    }
    Ok(out)
}
