//! `cass index`.

use clap::Args;
use indicatif::ProgressBar;

use super::{CliError, GlobalArgs, exit};
use crate::config::DataDir;
use crate::connectors::AgentEnv;
use crate::indexer::{self, IndexOptions, IndexProgress, IndexReport};
use crate::lock::WriterLock;

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Re-read every session file from the start.
    #[arg(long)]
    pub full: bool,
    /// Skip the fast-tier semantic backfill that follows ingest.
    #[arg(long)]
    pub no_semantic: bool,
    /// Print the report as JSON on stdout.
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
    let _lock = WriterLock::acquire(&data.lock(), "index")?;
    let env = AgentEnv::from_process();
    let bar =
        super::progress_bar(!global.quiet && !args.json, "{spinner} indexing {pos}/{len} files {wide_bar} {elapsed}");
    let progress = Bar(bar);
    let mut report = indexer::run_ingest(&data, &env, &IndexOptions { full: args.full }, &progress)?;
    crate::faults::point("index.after_store_commit");
    progress.0.set_message("lexical index");
    report.lexical = Some(indexer::sync_lexical(&data)?);
    progress.0.finish_and_clear();
    if !args.no_semantic {
        let r = super::semantic::run_backfill(
            &data,
            crate::indexer::semantic::Tier::Fast,
            crate::indexer::semantic::Tier::Fast.default_batch(),
            None,
            !global.quiet && !args.json,
        )?;
        report.semantic = Some(r);
    }
    if args.json {
        super::print_json(&report)?;
    } else if !global.quiet {
        print_human(&report);
    }
    let cancelled = report.semantic.as_ref().is_some_and(|s| s.outcome == "cancelled");
    Ok(if cancelled { exit::INTERRUPTED } else { exit::OK })
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
