//! `cass semantic …`: backfill, status, report, compact.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::search::usage;
use super::{CliError, GlobalArgs, exit};
use crate::config::DataDir;
use crate::indexer::semantic::progress::ProgressSink;
use crate::indexer::semantic::{self, BackfillError, BackfillOptions, BackfillReport, Tier, report};
use crate::lock::WriterLock;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum SemanticCommand {
    /// Embed every message not yet in a tier, then publish it.
    Backfill(BackfillArgs),
    /// Per tier: published and pending rows, checkpoint, embedder.
    Status(JsonArg),
    /// Where a backfill's time went, from a progress JSONL file.
    Report(ReportArgs),
    /// Merge a tier's segments and drop vectors of replaced messages.
    Compact(CompactArgs),
}

#[derive(Debug, Args)]
pub struct JsonArg {
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BackfillArgs {
    #[arg(long, value_enum, default_value_t = Tier::Fast)]
    pub tier: Tier,
    /// Messages selected per batch (default: 16384 for fast, 256 for quality).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Stop cooperatively (after a checkpoint) after this many seconds.
    #[arg(long, value_name = "N")]
    pub max_seconds: Option<f64>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A file written with CASS_SEMANTIC_PROGRESS_JSONL set.
    pub file: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompactArgs {
    #[arg(long, value_enum, default_value_t = Tier::Fast)]
    pub tier: Tier,
    #[arg(long)]
    pub json: bool,
}

impl SemanticCommand {
    pub fn json(&self) -> bool {
        match self {
            SemanticCommand::Backfill(a) => a.json,
            SemanticCommand::Status(a) => a.json,
            SemanticCommand::Report(a) => a.json,
            SemanticCommand::Compact(a) => a.json,
        }
    }
}

pub fn run(global: &GlobalArgs, cmd: &SemanticCommand) -> Result<i32, CliError> {
    let data = DataDir::resolve(global.data_dir.clone()).map_err(|e| usage(e.to_string()))?;
    match cmd {
        SemanticCommand::Backfill(a) => backfill(global, &data, a),
        SemanticCommand::Status(a) => status(&data, a.json),
        SemanticCommand::Report(a) => {
            let r = report::read(&a.file)
                .map_err(|e| CliError::new("io", exit::USAGE, format!("cannot read {}: {e}", a.file.display())))?;
            if a.json {
                super::print_json(&r)?
            } else {
                super::write_stdout(&report::render(&r))?
            }
            Ok(exit::OK)
        }
        SemanticCommand::Compact(a) => {
            let _lock = WriterLock::acquire(&data.lock(), "semantic compact")?;
            let store = Store::open(&data.db())?;
            let r = semantic::compact(&store, &a.tier.dir(&data), a.tier).map_err(backfill_error)?;
            if a.json {
                super::print_json(&r)?;
            } else {
                super::write_stdout(&format!(
                    "{} tier: {} segments → {}, {} rows → {} ({} dropped: their messages were replaced)\n",
                    r.tier, r.segments_before, r.segments_after, r.rows_before, r.rows_after, r.dropped_dead
                ))?;
            }
            Ok(exit::OK)
        }
    }
}

pub(crate) fn backfill_error(e: BackfillError) -> CliError {
    if e.is_disk_full() {
        return CliError::new("disk_full", exit::USAGE, e.to_string())
            .hint("free some space; the published tier still answers searches");
    }
    match e {
        BackfillError::Embed(crate::embed::EmbedError::Missing { .. }) => {
            CliError::new("model_missing", exit::USAGE, e.to_string()).hint("run `cass models install --from DIR`")
        }
        other => CliError::new("backfill", exit::USAGE, other.to_string()),
    }
}

/// Runs one tier's backfill with telemetry, a progress bar on a terminal,
/// and cooperative cancellation. The caller holds the writer lock.
pub(crate) fn run_backfill(
    data: &DataDir,
    tier: Tier,
    batch_size: usize,
    max_seconds: Option<f64>,
    show_bar: bool,
) -> Result<BackfillReport, CliError> {
    let embedder = semantic::embedder_for(data, tier).map_err(|e| backfill_error(BackfillError::Embed(e)))?;
    let sink = ProgressSink::from_env(tier.name(), embedder.id());
    let store = Store::open(&data.db())?;
    let bar = super::progress_bar(show_bar, "{spinner} {msg} {pos}/{len} messages {wide_bar} {elapsed}");
    bar.set_message(format!("{} tier", tier.name()));
    let bar_cb = bar.clone();
    let (_cooperative, cancel) = super::signal::Cooperative::begin();
    let opts = BackfillOptions {
        batch_size: batch_size.max(1),
        max_duration: max_seconds.map(Duration::from_secs_f64),
        cancel,
        on_batch: Some(Arc::new(move |done, total| {
            bar_cb.set_length(total);
            bar_cb.set_position(done);
        })),
    };
    let result = semantic::backfill(&store, &tier.dir(data), tier, embedder.as_ref(), &opts, &sink);
    bar.finish_and_clear();
    let report = result.map_err(backfill_error)?;
    if report.published
        && let Some(m) = semantic::merge_small_segments(&store, &tier.dir(data), tier).map_err(backfill_error)?
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

fn backfill(global: &GlobalArgs, data: &DataDir, a: &BackfillArgs) -> Result<i32, CliError> {
    if a.max_seconds.is_some_and(|s| s.is_nan() || s <= 0.0) {
        return Err(usage("--max-seconds must be positive"));
    }
    data.create().map_err(|e| CliError::new("io", exit::USAGE, e.to_string()))?;
    if !data.db().exists() {
        return Err(CliError::new("no_index", exit::NO_INDEX, format!("no index yet at {}", data.db().display()))
            .hint("run `cass index` first"));
    }
    let _lock = WriterLock::acquire(&data.lock(), "semantic backfill")?;
    let batch = a.batch_size.unwrap_or_else(|| a.tier.default_batch());
    let r = run_backfill(data, a.tier, batch, a.max_seconds, !global.quiet && !a.json)?;
    if a.json {
        super::print_json(&r)?;
    } else if !global.quiet {
        super::write_stdout(&describe(&r))?;
    }
    Ok(if r.outcome == "cancelled" || super::signal::requested() { exit::INTERRUPTED } else { exit::OK })
}

pub(crate) fn describe(r: &BackfillReport) -> String {
    format!(
        "{} tier ({}): {} — {} messages processed ({} embedded, {} skipped) in {} batches, {:.2}s; {} published rows, {} pending{}{}\n",
        r.tier,
        r.embedder_id,
        r.outcome,
        r.rows_processed,
        r.rows_embedded,
        r.rows_skipped,
        r.batches,
        r.elapsed_ms as f64 / 1000.0,
        r.published_rows,
        r.pending_rows,
        if r.published { "; published" } else { "" },
        if r.rebuilt { "; rebuilt for a new embedder" } else { "" },
    )
}

fn status(data: &DataDir, json: bool) -> Result<i32, CliError> {
    let store = Store::open_readonly(&data.db()).ok();
    let states: Vec<semantic::TierState> = Tier::ALL
        .iter()
        .map(|&t| semantic::tier_state(data, t, store.as_ref().map(|s| s.conn())))
        .collect::<Result<_, _>>()
        .map_err(|e| CliError::new("vector", exit::USAGE, e.to_string()))?;
    if json {
        super::print_json(&serde_json::json!({ "tiers": states }))?;
        return Ok(exit::OK);
    }
    let mut out = String::new();
    for s in &states {
        if s.built {
            out.push_str(&format!(
                "{:<8} {} ({} dims): {} published rows in {} segments, {} pending (staged {}), cursor at message {}, updated {}\n",
                s.tier,
                s.embedder_id.as_deref().unwrap_or("?"),
                s.dims.unwrap_or(0),
                s.published_rows,
                s.segments,
                s.pending_rows,
                s.staged_rows,
                s.checkpoint.as_ref().map_or(0, |c| c.last_message_id),
                s.updated_at.as_deref().unwrap_or("-"),
            ));
        } else {
            out.push_str(&format!("{:<8} not built; {} messages pending\n", s.tier, s.pending_rows));
        }
    }
    super::write_stdout(&out)?;
    Ok(exit::OK)
}
