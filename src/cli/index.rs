//! `cass index`.

use std::sync::Mutex;
use std::time::Duration;

use clap::Args;
use indicatif::ProgressBar;

use super::{CliError, Context, Print, exit};
use crate::indexer::watch::Trigger;
use crate::indexer::{IndexProgress, IndexReport, Phase};
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
    if args.robot.on() {
        super::robot::print(&report, &args.robot)?;
    } else if !cx.global.quiet {
        print_human(&report);
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
            if !quiet && (cycle.trigger == Trigger::Start || report.messages_added > 0) {
                eprintln!(
                    "{}  +{} messages from {} changed files ({} conversations, {} messages in all) in {} ms",
                    super::local_time(crate::time::now_ms()),
                    report.messages_added,
                    report.files_parsed + report.files_appended,
                    report.conversations,
                    report.messages,
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
    print_privacy(&r.privacy);
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

/// What the run kept out, when it kept out anything.
fn print_privacy(p: &crate::indexer::PrivacyReport) {
    if let Some(w) = &p.rewrite
        && w.secrets > 0
    {
        eprintln!(
            "redacted stored text: {} secrets in {} messages and {} titles (of {} messages read)",
            w.secrets, w.messages_redacted, w.titles_redacted, w.messages_scanned
        );
    }
    if p.secrets_redacted > 0 {
        eprintln!("redacted {} secrets in {} messages read this run", p.secrets_redacted, p.messages_redacted);
    }
    if !p.redaction {
        eprintln!("redaction is off: secrets are stored as written (docs/PRIVACY.md)");
    }
    if p.files_excluded + p.conversations_held_back > 0 {
        eprintln!(
            "kept out: {} session files and {} conversations (excluded or forgotten)",
            p.files_excluded, p.conversations_held_back
        );
    }
    if p.removed.conversations > 0 {
        eprintln!(
            "removed {} conversations ({} messages) now excluded or forgotten",
            p.removed.conversations, p.removed.messages
        );
    }
}
