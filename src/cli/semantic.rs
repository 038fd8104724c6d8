//! `cass semantic …`: backfill, status, report, compact.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::search::usage;
use super::{CliError, Context, exit};
use crate::BackfillRun;
use crate::embed::Tier;
use crate::indexer::semantic::{self, BackfillReport, report};
use crate::words::count;

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
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
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
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A file written with CASS_SEMANTIC_PROGRESS_JSONL set.
    pub file: PathBuf,
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// One tier only (default: every tier that has a manifest).
    #[arg(long, value_enum)]
    pub tier: Option<Tier>,
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

impl SemanticCommand {
    pub fn robot(&self) -> &super::robot::RobotArgs {
        match self {
            SemanticCommand::Backfill(a) => &a.robot,
            SemanticCommand::Status(a) => &a.robot,
            SemanticCommand::Report(a) => &a.robot,
            SemanticCommand::Compact(a) => &a.robot,
        }
    }
}

pub fn run(cx: &Context, cmd: &SemanticCommand) -> Result<i32, CliError> {
    match cmd {
        SemanticCommand::Backfill(a) => backfill(cx, a),
        SemanticCommand::Status(a) => status(cx, &a.robot),
        SemanticCommand::Report(a) => {
            let r = report::read(&a.file)
                .map_err(|e| CliError::new("io", exit::USAGE, format!("cannot read {}: {e}", a.file.display())))?;
            if a.robot.on() {
                super::robot::print(&r, &a.robot)?
            } else {
                super::write_stdout(&report::render(&r))?
            }
            Ok(exit::OK)
        }
        SemanticCommand::Compact(a) => {
            let cass = cx.cass()?;
            let writer = cass.writer("semantic compact")?;
            let tiers: Vec<Tier> = match a.tier {
                Some(t) => vec![t],
                None => {
                    Tier::ALL.into_iter().filter(|t| t.dir(cass.data_dir()).join("manifest.json").exists()).collect()
                }
            };
            let reports = tiers.iter().map(|&t| writer.compact(t)).collect::<Result<Vec<_>, _>>()?;
            if a.robot.on() {
                // One tier asked for: its report; otherwise every tier's.
                match (a.tier, reports.as_slice()) {
                    (Some(_), [r]) => super::robot::print(r, &a.robot)?,
                    _ => super::robot::print(&serde_json::json!({ "tiers": reports }), &a.robot)?,
                }
            } else {
                if reports.is_empty() {
                    super::write_stdout("no tier to compact\n")?;
                }
                for r in &reports {
                    super::write_stdout(&format!(
                        "{} tier: {} → {}, {} → {} ({} dropped: their messages were replaced)\n",
                        r.tier,
                        count(r.segments_before, "segment"),
                        r.segments_after,
                        count(r.rows_before, "row"),
                        r.rows_after,
                        r.dropped_dead
                    ))?;
                }
            }
            Ok(exit::OK)
        }
    }
}

fn backfill(cx: &Context, a: &BackfillArgs) -> Result<i32, CliError> {
    if a.max_seconds.is_some_and(|s| s.is_nan() || s <= 0.0) {
        return Err(usage("--max-seconds must be positive"));
    }
    let cass = cx.cass()?;
    if !cass.is_indexed() {
        return Err(CliError::new(
            "no_index",
            exit::NO_INDEX,
            format!("no index yet at {}", cass.data_dir().db().display()),
        )
        .hint("run `cass index` first"));
    }
    let writer = cass.writer("semantic backfill")?;
    let (_cooperative, cancel) = super::signal::Cooperative::begin();
    let run = BackfillRun {
        batch_size: a.batch_size.unwrap_or_else(|| a.tier.default_batch()),
        max_duration: a.max_seconds.map(Duration::from_secs_f64),
        cancel,
    };
    let bars = super::index::Bars::new(!cx.global.quiet && !a.robot.on());
    let result = writer.backfill(a.tier, &run, &bars);
    bars.finish();
    let r = result?;
    if a.robot.on() {
        super::robot::print(&r, &a.robot)?;
    } else if !cx.global.quiet {
        super::write_stdout(&describe(&r))?;
    }
    Ok(if r.outcome == "cancelled" || super::signal::requested() { exit::INTERRUPTED } else { exit::OK })
}

pub(crate) fn describe(r: &BackfillReport) -> String {
    format!(
        "{} tier ({}): {} — {} processed ({} embedded, {} skipped) in {}, {:.2}s; {}, {} pending{}{}\n",
        r.tier,
        r.embedder_id,
        r.outcome,
        count(r.rows_processed, "message"),
        r.rows_embedded,
        r.rows_skipped,
        count(r.batches, "batch"),
        r.elapsed_ms as f64 / 1000.0,
        count(r.published_rows, "published row"),
        r.pending_rows,
        if r.published { "; published" } else { "" },
        if r.rebuilt { "; rebuilt for a new embedder" } else { "" },
    )
}

fn status(cx: &Context, robot: &super::robot::RobotArgs) -> Result<i32, CliError> {
    let states: Vec<semantic::TierState> =
        cx.cass()?.tiers().map_err(|e| CliError::new("vector", exit::USAGE, e.to_string()))?;
    if robot.on() {
        super::robot::print(&serde_json::json!({ "tiers": states }), robot)?;
        return Ok(exit::OK);
    }
    let mut out = String::new();
    for s in &states {
        if s.built {
            out.push_str(&format!(
                "{:<8} {} ({} dims): {} in {}, {} pending (staged {}), cursor at message {}, updated {}\n",
                s.tier,
                s.embedder_id.as_deref().unwrap_or("?"),
                s.dims.unwrap_or(0),
                count(s.published_rows, "published row"),
                count(s.segments, "segment"),
                s.pending_rows,
                s.staged_rows,
                s.checkpoint.as_ref().map_or(0, |c| c.last_message_id),
                s.updated_at.as_deref().unwrap_or("-"),
            ));
        } else {
            out.push_str(&format!("{:<8} not built; {} pending\n", s.tier, count(s.pending_rows, "message")));
        }
    }
    super::write_stdout(&out)?;
    Ok(exit::OK)
}
