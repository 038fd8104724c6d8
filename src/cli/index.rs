//! `cass index`.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use clap::Args;
use indicatif::ProgressBar;

use super::{CliError, Context, Print, exit};
use crate::indexer::watch::Trigger;
use crate::indexer::{IndexProgress, IndexReport, Phase};
use crate::words::{count, noun};
use crate::{Cycle, IndexPass};

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Re-read every session file from the start.
    #[arg(long)]
    pub full: bool,
    /// Skip the fast-tier semantic backfill that follows ingest.
    #[arg(long, env = "CASS_NO_SEMANTIC", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_semantic: bool,
    /// Store secrets verbatim: no redaction of message text and titles
    /// (docs/PRIVACY.md says what that risks). A later run without it
    /// redacts what this one stored.
    #[arg(long, env = "CASS_NO_REDACT", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_redact: bool,
    /// Verify every derived index first (checksums, as `health --deep`) and
    /// rebuild the damaged ones from the store.
    #[arg(long)]
    pub repair: bool,
    /// Sync the remote machines (`cass sources add`) first; with --watch,
    /// also every CASS_SYNC_INTERVAL_SECS (default 900). A machine that
    /// cannot be reached is reported and skipped.
    #[arg(long, env = "CASS_SYNC_ON_INDEX", value_parser = clap::builder::BoolishValueParser::new())]
    pub sync: bool,
    /// Keep running: index again whenever a session file changes.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: quiet time before a change is indexed.
    #[arg(long, value_name = "MS", default_value_t = 200, env = "CASS_WATCH_DEBOUNCE_MS")]
    pub debounce_ms: u64,
    /// Seconds a pass may spend adding new messages to a published quality
    /// tier (the rest waits for the next pass); 0 leaves it to `cass
    /// semantic backfill --tier quality`.
    #[arg(long, value_name = "SECS", default_value_t = 60.0, env = "CASS_QUALITY_BUDGET_SECS")]
    pub quality_budget: f64,
    /// New messages from which the lexical index is built as a bulk load:
    /// two indexing threads, a 256 MB heap, started while the files are
    /// still being read.
    #[arg(long, value_name = "N", default_value_t = crate::lexical::BULK_ROWS, env = "CASS_BULK_ROWS")]
    pub bulk_rows: usize,
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

/// Progress bars on stderr: files while ingesting, rows while a tier
/// backfills (hidden, and free, off a terminal or when not wanted).
///
/// A backfill stops cooperatively (after a checkpoint) on the first signal;
/// ingest and the lexical sync are crash-safe and exit at once, so the
/// cooperative mode starts with the backfill phase.
pub(crate) struct Bars {
    show: bool,
    files: ProgressBar,
    tier: Mutex<Option<ProgressBar>>,
    cooperative: Mutex<Option<super::signal::Cooperative>>,
}

impl Bars {
    pub(crate) fn new(show: bool) -> Bars {
        let files = super::progress_bar(show, "{spinner} indexing {pos}/{len} files {wide_bar} {elapsed}");
        Bars { show, files, tier: Mutex::new(None), cooperative: Mutex::new(None) }
    }

    pub(crate) fn finish(&self) {
        self.files.finish_and_clear();
        if let Some(bar) = self.tier.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

impl IndexProgress for Bars {
    fn phase(&self, phase: Phase) {
        match phase {
            Phase::Ingest => {}
            Phase::Lexical => self.files.set_message("lexical index"),
            Phase::Backfill(tier) => {
                let mut cooperative = self.cooperative.lock().unwrap_or_else(|p| p.into_inner());
                if cooperative.is_none() {
                    *cooperative = Some(super::signal::Cooperative::begin().0);
                }
                self.files.finish_and_clear();
                let bar = super::progress_bar(self.show, "{spinner} {msg} {pos}/{len} messages {wide_bar} {elapsed}");
                bar.set_message(format!("{} tier", tier.name()));
                if let Some(old) = self.tier.lock().unwrap_or_else(|p| p.into_inner()).replace(bar) {
                    old.finish_and_clear();
                }
            }
        }
    }
    fn files_planned(&self, total: usize) {
        self.files.set_length(total as u64);
    }
    fn file_done(&self) {
        self.files.inc(1);
    }
    fn batch_done(&self, done: u64, total: u64) {
        if let Some(bar) = self.tier.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            bar.set_length(total);
            bar.set_position(done);
        }
    }
}

pub fn run(cx: &Context, args: &IndexArgs) -> Result<i32, CliError> {
    let mut settings = cx.settings()?;
    settings.index.watch_debounce = Duration::from_millis(args.debounce_ms);
    if !(args.quality_budget.is_finite() && args.quality_budget >= 0.0) {
        return Err(super::search::usage("--quality-budget must be 0 or more seconds"));
    }
    settings.index.quality_budget = Duration::from_secs_f64(args.quality_budget);
    settings.index.bulk_rows = args.bulk_rows;
    if args.no_redact {
        settings.privacy.redact = false;
    }
    let cass = crate::Cass::open(settings);
    let writer = cass.writer(if args.watch { "index --watch" } else { "index" })?;
    let pass = IndexPass {
        full: args.full,
        skip_semantic: args.no_semantic,
        cancel: super::signal::cancel_flag(),
        repair: args.repair,
        sync: args.sync,
    };
    if args.watch {
        let _cooperative = super::signal::Cooperative::begin();
        return watch(cx, args, &writer, &pass);
    }
    let bars = Bars::new(!cx.global.quiet && !args.robot.on());
    let result = writer.index(&pass, &bars);
    bars.finish();
    let report = result?;
    for r in &report.repaired {
        eprintln!("cass: {r}");
    }
    if !args.robot.on() {
        super::sources::print_syncs(report.remotes.as_deref().unwrap_or_default(), cx.global.quiet);
    }
    if args.robot.on() {
        super::robot::print(&report, &args.robot)?;
    } else if !cx.global.quiet {
        print_human(&report, &cass.settings().agents.home);
    }
    let cancelled = report.semantic.as_ref().is_some_and(|s| s.outcome == "cancelled") || super::signal::requested();
    Ok(if cancelled { exit::INTERRUPTED } else { exit::OK })
}

/// `--watch`: a catch-up pass, then one pass per debounced burst of changes,
/// until Ctrl-C (exit 130). A failing pass is reported and watching goes on.
fn watch(cx: &Context, args: &IndexArgs, writer: &crate::IndexWriter, pass: &IndexPass) -> Result<i32, CliError> {
    let quiet = cx.global.quiet;
    if !quiet && !args.robot.on() {
        eprintln!("cass: watching agent sessions (Ctrl-C to stop)");
    }
    writer.watch(pass, &pass.cancel, |cycle: Cycle| match cycle.result {
        Ok(report) if args.robot.on() => {
            let line = serde_json::json!({
                "event": "cycle",
                "at": crate::time::to_rfc3339(crate::time::now_ms()),
                "elapsed_ms": cycle.elapsed.as_millis() as u64,
                "report": report,
            });
            let _ = super::write_stdout(&format!("{line}\n"));
        }
        Ok(report) => {
            super::sources::print_syncs(report.remotes.as_deref().unwrap_or_default(), quiet);
            if !quiet && (cycle.trigger == Trigger::Start || report.messages_added > 0) {
                eprintln!(
                    "{}  +{} from {} ({}, {} in all) in {} ms",
                    super::local_time(crate::time::now_ms()),
                    count(report.messages_added, "message"),
                    count(report.files_parsed + report.files_appended, "changed file"),
                    count(report.conversations, "conversation"),
                    count(report.messages, "message"),
                    cycle.elapsed.as_millis()
                );
            }
            for p in &report.unreadable {
                tracing::warn!("{}: {}", p.path.display(), p.error);
            }
        }
        Err(e) => CliError::from(e).print(args.robot.on()),
    });
    Ok(exit::INTERRUPTED)
}

fn print_human(r: &IndexReport, home: &Path) {
    let nothing_found = r.agents.iter().all(|a| a.files == 0);
    if nothing_found {
        print_nothing_found(r, home);
    }
    for a in r.agents.iter().filter(|_| !nothing_found) {
        // With sessions found, the places that hold them; with none, every
        // place looked (`cass sources` always lists every place).
        let found: Vec<String> = a
            .roots
            .iter()
            .filter(|root| a.files == 0 || root.files > 0)
            .map(|root| format!("{} ({})", short_path(&root.path, home), root_state(root)))
            .collect();
        if a.files == 0 {
            eprintln!("{:<24} none found; looked in {}", a.name, found.join(", "));
        } else {
            eprintln!(
                "{:<24} {}, {} (+{}) from {}",
                a.name,
                count(a.conversations, "conversation"),
                count(a.messages, "message"),
                a.messages_added,
                found.join(", ")
            );
        }
        if a.malformed_total > 0 {
            let n = a.malformed_total;
            eprintln!(
                "{:<24} {n} malformed {} or {} skipped (valid ones indexed; `cass sources --errors` lists them)",
                "",
                noun(n, "line"),
                noun(n, "record")
            );
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
    print_privacy(&r.privacy);
    if let Some(lex) = &r.lexical
        && (lex.added > 0 || lex.rederived_conversations > 0)
    {
        eprintln!("lexical index: +{}, {}", count(lex.added, "message"), count(lex.segments, "segment"));
    }
    let _ = super::write_stdout(&format!(
        "indexed {} ({} skipped unchanged, {} parsed, {} appended): {}, {} (+{}), {} in {:.2}s\n",
        count(r.files_scanned, "file"),
        r.files_skipped,
        r.files_parsed,
        r.files_appended,
        count(r.conversations, "conversation"),
        count(r.messages, "message"),
        r.messages_added,
        count(r.malformed, "malformed line"),
        r.elapsed_ms as f64 / 1000.0
    ));
}

/// A home without a single agent session: say so, and where cass looked,
/// one short line per place (the home written `~`).
fn print_nothing_found(r: &IndexReport, home: &Path) {
    eprintln!("No agent sessions found. cass looked in these places for each agent:");
    for a in &r.agents {
        for (i, root) in a.roots.iter().enumerate() {
            let name = if i == 0 { a.name } else { "" };
            eprintln!("  {name:<24} {} ({})", short_path(&root.path, home), root_state(root));
        }
    }
    eprintln!(
        "If an agent keeps its sessions elsewhere, set its variable (`cass sources` names it beside each place)."
    );
}

/// `12 files`, `0 files` or `not found`, for a place looked in.
fn root_state(root: &crate::indexer::discover::RootReport) -> String {
    if root.exists { count(root.files, "file") } else { "not found".into() }
}

/// `path` with the home directory written `~`.
fn short_path(path: &Path, home: &Path) -> String {
    match path.strip_prefix(home) {
        Ok(rest) if rest.as_os_str().is_empty() => "~".into(),
        Ok(rest) => format!("~/{}", rest.display()),
        Err(_) => path.display().to_string(),
    }
}

/// What the run kept out, when it kept out anything.
fn print_privacy(p: &crate::indexer::PrivacyReport) {
    if let Some(w) = &p.rewrite
        && w.secrets > 0
    {
        eprintln!(
            "redacted stored text: {} in {} and {} (of {} read)",
            count(w.secrets, "secret"),
            count(w.messages_redacted, "message"),
            count(w.titles_redacted, "title"),
            count(w.messages_scanned, "message")
        );
    }
    if p.secrets_redacted > 0 {
        eprintln!(
            "redacted {} in {} read this run",
            count(p.secrets_redacted, "secret"),
            count(p.messages_redacted, "message")
        );
    }
    if !p.redaction {
        eprintln!("redaction is off: secrets are stored as written (docs/PRIVACY.md)");
    }
    if p.files_excluded + p.conversations_held_back > 0 {
        eprintln!(
            "kept out: {} and {} (excluded or forgotten)",
            count(p.files_excluded, "session file"),
            count(p.conversations_held_back, "conversation")
        );
    }
    if p.removed.conversations > 0 {
        eprintln!(
            "removed {} ({}) now excluded or forgotten",
            count(p.removed.conversations, "conversation"),
            count(p.removed.messages, "message")
        );
    }
}
