//! `cass index`.

use std::time::Duration;

use clap::Args;
use indicatif::ProgressBar;

use super::{CliError, GlobalArgs, exit};
use crate::config::DataDir;
use crate::connectors::AgentEnv;
use crate::indexer::watch::{Trigger, WatchOptions};
use crate::indexer::{self, IndexOptions, IndexProgress, IndexReport};
use crate::lock::WriterLock;

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Re-read every session file from the start.
    #[arg(long)]
    pub full: bool,
    /// Skip the fast-tier semantic backfill that follows ingest.
    #[arg(long, env = "CASS_NO_SEMANTIC", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_semantic: bool,
    /// Keep running: index again whenever a session file changes.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: quiet time before a change is indexed.
    #[arg(long, value_name = "MS", default_value_t = 200, env = "CASS_WATCH_DEBOUNCE_MS")]
    pub debounce_ms: u64,
    /// Print the report as JSON on stdout (with --watch: one line per cycle).
    #[arg(long)]
    pub json: bool,
}

struct Bar(ProgressBar);

impl IndexProgress for Bar {
    fn files_planned(&self, total: usize) {
        self.0.set_length(total as u64);
    }
    fn file_done(&self) {
        self.0.inc(1);
    }
}

pub fn run(global: &GlobalArgs, args: &IndexArgs) -> Result<i32, CliError> {
    let data =
        DataDir::resolve(global.data_dir.clone()).map_err(|e| CliError::new("config", exit::USAGE, e.to_string()))?;
    data.create().map_err(|e| {
        CliError::new("io", exit::USAGE, format!("cannot create data directory {}: {e}", data.root().display()))
    })?;
    let _lock = WriterLock::acquire(&data.lock(), if args.watch { "index --watch" } else { "index" })?;
    let env = AgentEnv::from_process();
    if args.watch {
        return watch(global, args, &data, &env);
    }
    let report = one_pass(&data, &env, args.full, args.no_semantic, !global.quiet && !args.json)?;
    if args.json {
        super::print_json(&report)?;
    } else if !global.quiet {
        print_human(&report);
    }
    let cancelled = report.semantic.as_ref().is_some_and(|s| s.outcome == "cancelled") || super::signal::requested();
    Ok(if cancelled { exit::INTERRUPTED } else { exit::OK })
}

/// Ingest, then the lexical sync, then (unless skipped) the fast tier. The
/// caller holds the writer lock.
fn one_pass(
    data: &DataDir,
    env: &AgentEnv,
    full: bool,
    no_semantic: bool,
    bars: bool,
) -> Result<IndexReport, CliError> {
    let bar = super::progress_bar(bars, "{spinner} indexing {pos}/{len} files {wide_bar} {elapsed}");
    let progress = Bar(bar);
    let mut report = indexer::run_ingest(data, env, &IndexOptions { full }, &progress)?;
    crate::faults::point("index.after_store_commit");
    progress.0.set_message("lexical index");
    report.lexical = Some(indexer::sync_lexical(data)?);
    progress.0.finish_and_clear();
    if !no_semantic {
        let tier = crate::indexer::semantic::Tier::Fast;
        report.semantic = Some(super::semantic::run_backfill(data, tier, tier.default_batch(), None, bars)?);
    }
    Ok(report)
}

/// `--watch`: a catch-up pass, then one pass per debounced burst of changes,
/// until Ctrl-C (exit 130). A failing pass is reported and watching goes on.
fn watch(global: &GlobalArgs, args: &IndexArgs, data: &DataDir, env: &AgentEnv) -> Result<i32, CliError> {
    let opts = WatchOptions { debounce: Duration::from_millis(args.debounce_ms) };
    let (_cooperative, stop) = super::signal::Cooperative::begin();
    if !global.quiet && !args.json {
        eprintln!("cass: watching agent sessions (Ctrl-C to stop)");
    }
    indexer::watch::watch(env, &opts, &stop, |trigger| {
        let started = std::time::Instant::now();
        let result = one_pass(data, env, args.full && trigger == Trigger::Start, args.no_semantic, false);
        crate::lock::note_progress("watching");
        match result {
            Ok(report) if args.json => {
                let line = serde_json::json!({
                    "event": "cycle",
                    "at": crate::time::to_rfc3339(crate::time::now_ms()),
                    "elapsed_ms": started.elapsed().as_millis() as u64,
                    "report": report,
                });
                let _ = super::write_stdout(&format!("{line}\n"));
            }
            Ok(report) => {
                if !global.quiet && (trigger == Trigger::Start || report.messages_added > 0) {
                    eprintln!(
                        "{}  +{} messages from {} changed files ({} conversations, {} messages in all) in {} ms",
                        super::local_time(crate::time::now_ms()),
                        report.messages_added,
                        report.files_parsed + report.files_appended,
                        report.conversations,
                        report.messages,
                        started.elapsed().as_millis()
                    );
                }
                for p in &report.unreadable {
                    tracing::warn!("{}: {}", p.path.display(), p.error);
                }
            }
            Err(e) => {
                e.print(args.json);
            }
        }
    });
    Ok(exit::INTERRUPTED)
}

fn print_human(r: &IndexReport) {
    for a in &r.agents {
        // With sessions found, the places that hold them; with none, every
        // place looked (`cass sources` always lists every place).
        let found: Vec<String> = a
            .roots
            .iter()
            .filter(|root| a.files == 0 || root.files > 0)
            .map(|root| {
                let state = if root.exists { format!("{} files", root.files) } else { "not found".into() };
                format!("{} ({state})", root.path.display())
            })
            .collect();
        if a.files == 0 {
            eprintln!("{:<24} none found; looked in {}", a.name, found.join(", "));
        } else {
            eprintln!(
                "{:<24} {} conversations, {} messages (+{}) from {}",
                a.name,
                a.conversations,
                a.messages,
                a.messages_added,
                found.join(", ")
            );
        }
        if a.malformed_total > 0 {
            eprintln!("{:<24} {} malformed lines or records skipped (valid ones indexed)", "", a.malformed_total);
        }
        for p in &a.unreadable {
            eprintln!("{:<24} found but unreadable: {}: {}", "", p.path.display(), p.error);
        }
    }
    if let Some(s) = &r.semantic {
        eprint!("{}", super::semantic::describe(s));
    }
    // Anything not already listed under its agent.
    for p in r.unreadable.iter().filter(|p| !r.agents.iter().any(|a| a.unreadable.iter().any(|u| u.path == p.path))) {
        eprintln!("cass: {}: {}", p.path.display(), p.error);
    }
    if let Some(lex) = &r.lexical
        && (lex.added > 0 || lex.rederived_conversations > 0)
    {
        eprintln!("lexical index: +{} messages, {} segments", lex.added, lex.segments);
    }
    let _ = super::write_stdout(&format!(
        "indexed {} files ({} skipped unchanged, {} parsed, {} appended): {} conversations, {} messages (+{}), {} malformed lines in {:.2}s\n",
        r.files_scanned,
        r.files_skipped,
        r.files_parsed,
        r.files_appended,
        r.conversations,
        r.messages,
        r.messages_added,
        r.malformed,
        r.elapsed_ms as f64 / 1000.0
    ));
}
