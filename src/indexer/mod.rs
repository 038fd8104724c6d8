//! `cass index`: discover → plan → parse in parallel → write in batches, then
//! bring the derived indexes up to date.

pub mod discover;
pub mod ingest;
pub mod semantic;
pub mod session_file;
pub mod sources;
pub mod watch;

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::config::DataDir;
use crate::connectors::{self, AgentEnv};
use crate::privacy::Privacy;
use crate::store::privacy::PurgeScope;
use crate::store::{self, Store, query};
use discover::{Plan, discover, plan};
use ingest::Job;

/// What the caller wants from an index run.
#[derive(Debug, Clone, Default)]
pub struct IndexOptions {
    /// Re-read every file from the start.
    pub full: bool,
}

/// Per-agent part of the run report.
#[derive(Debug, Clone, Serialize)]
pub struct AgentReport {
    /// The agent's slug.
    pub agent: &'static str,
    /// The agent's display name.
    pub name: &'static str,
    /// Each place looked in, and what was found there.
    pub roots: Vec<discover::RootReport>,
    /// Source files found below its roots.
    pub files: usize,
    /// Files read this run (changed or new).
    pub files_changed: usize,
    /// Messages written this run.
    pub messages_added: usize,
    /// Bad lines or records skipped this run.
    pub malformed: usize,
    /// Totals in the store after this run.
    pub conversations: i64,
    /// Messages in the store after this run.
    pub messages: i64,
    /// Bad lines or records recorded against its files so far (this run's
    /// `malformed` plus earlier runs' still standing).
    pub malformed_total: i64,
    /// Sources found but not readable (encrypted, locked, unlistable), with the reason.
    pub unreadable: Vec<Problem>,
}

/// The summary of one `cass index` run (also its `--json` output).
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    /// Source files found by discovery.
    pub files_scanned: usize,
    /// Files unchanged since the last run, not read.
    pub files_skipped: usize,
    /// Files read from the start (new, rewritten, or a database refresh).
    pub files_parsed: usize,
    /// Append-only files read from their stored offset.
    pub files_appended: usize,
    /// Conversations the files read this run sent, counted once per file.
    pub conversations_touched: usize,
    /// Messages written to the store.
    pub messages_added: usize,
    /// Bad lines or records skipped.
    pub malformed: usize,
    /// Files whose last line was left for the next run (no newline yet).
    pub partial_tails: usize,
    /// Sources and directories that could not be read, with the reason.
    pub unreadable: Vec<Problem>,
    /// Conversations in the store after the run.
    pub conversations: i64,
    /// Messages in the store after the run.
    pub messages: i64,
    /// Wall time of the whole run, in milliseconds: ingest, the lexical
    /// sync and the backfills (set by the writer once they are done).
    pub elapsed_ms: u64,
    /// Wall time of the ingest alone, in milliseconds.
    pub ingest_ms: u64,
    /// The same run per agent, in connector order.
    pub agents: Vec<AgentReport>,
    /// What the lexical sync after ingest did.
    pub lexical: Option<crate::lexical::SyncReport>,
    /// What the fast-tier backfill after ingest did (absent with --no-semantic).
    pub semantic: Option<semantic::BackfillReport>,
    /// What the quality tier's catch-up did: present when that tier is
    /// published and its model installed (within `quality_budget`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<semantic::BackfillReport>,
    /// With `--repair`: the damaged indexes removed and rebuilt, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repaired: Vec<String>,
    /// What this run kept out of the store.
    pub privacy: PrivacyReport,
    /// With `--sync` (or the setting): each remote machine's sync, which
    /// ran first. A failed one (`ok: false`, a non-zero `status`) did not
    /// stop the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remotes: Option<Vec<crate::remote::sync::MachineSync>>,
}

/// What an index run kept out of the store: secrets, excluded and
/// forgotten sessions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrivacyReport {
    /// Whether message text and titles were redacted.
    pub redaction: bool,
    /// Messages read this run that had secrets replaced.
    pub messages_redacted: usize,
    /// Secrets replaced in them.
    pub secrets_redacted: usize,
    /// Session files not read: their agent or path is excluded, or they were forgotten.
    pub files_excluded: usize,
    /// Conversations read but not stored: their workspace is excluded, or they were forgotten.
    pub conversations_held_back: usize,
    /// Conversations already stored that an exclusion or forget now
    /// covers, removed with their messages.
    pub removed: crate::store::privacy::Purged,
    /// Text stored before redaction (or with other rules), redacted this
    /// run: present when the store needed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<crate::store::privacy::RewriteReport>,
}

impl PrivacyReport {
    /// Whether text left the store this run (rewritten or removed), so
    /// the derived indexes should drop what they still hold of it.
    pub fn removed_text(&self) -> bool {
        self.removed.conversations > 0
            || self.rewrite.as_ref().is_some_and(|r| r.messages_redacted > 0 || r.titles_redacted > 0)
    }
}

/// A path that could not be read, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// The file or directory.
    pub path: PathBuf,
    /// What went wrong.
    pub error: String,
}

/// Where an index pass is, for [`IndexProgress::phase`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading session files into the store.
    Ingest,
    /// Bringing the lexical index up to date.
    Lexical,
    /// Embedding new messages into a tier.
    Backfill(crate::embed::Tier),
}

/// Progress callbacks, so a front end can draw a bar without the indexer
/// knowing. Every method defaults to doing nothing, so a caller implements
/// only what it shows and the indexer calls them unconditionally.
pub trait IndexProgress: Sync {
    /// The pass entered a phase.
    fn phase(&self, _phase: Phase) {}
    /// Ingest will read this many changed files.
    fn files_planned(&self, _total: usize) {}
    /// One more file was read.
    fn file_done(&self) {}
    /// A backfill checkpointed: rows processed so far of those expected.
    fn batch_done(&self, _done: u64, _total: u64) {}
}

/// A progress observer that does nothing.
pub struct NoProgress;
impl IndexProgress for NoProgress {}

/// Runs ingest into the store, keeping out what `privacy` and the
/// store's forgets say. The caller holds the writer lock.
pub fn run_ingest(
    data: &DataDir,
    env: &AgentEnv,
    opts: &IndexOptions,
    privacy: &Privacy,
    progress: &dyn IndexProgress,
) -> Result<IndexReport, crate::store::StoreError> {
    let started = Instant::now();
    progress.phase(Phase::Ingest);
    let mut store = Store::open(&data.db())?;
    let mut privacy_report = PrivacyReport { redaction: privacy.redactor().is_some(), ..Default::default() };
    // Text stored before redaction, or with other rules (new built-in
    // rules, a pattern added to the config file), is redacted first.
    match privacy.redactor() {
        Some(r) if store::privacy::redacted_with(&store)?.as_deref() != Some(r.fingerprint()) => {
            crate::lock::note_progress("redact");
            privacy_report.rewrite = Some(store::privacy::redact_stored(&mut store, r)?);
        }
        Some(_) => {}
        None => store::privacy::set_redacted_with(&store, crate::privacy::REDACTION_OFF)?,
    }
    let forgets = store::privacy::ForgetSet::load(&store)?;
    let excluded_with = privacy.exclusions().describe().join("\n");
    let exclusions_changed = store::privacy::exclusions_changed(&mut store, &excluded_with)?;
    let connectors = connectors::configured(env);
    let mut problems = Vec::new();
    // A broken machines list never stops local indexing.
    let remotes = crate::remote::Origin::all(data).unwrap_or_else(|e| {
        tracing::warn!("remote machines not read: {e}");
        Vec::new()
    });
    let (root_reports, candidates) = discover(&connectors, env, &remotes, &mut problems);
    let states = store::ingest::load_file_states(&store)?;
    // Files read before usage was (or by an older usage reading) are read
    // once more if their agent records usage; the mark is set after the
    // run, so a run that stops short leaves it for the next.
    let usage_behind = store::usage::usage_reader(&store)?.as_deref() != Some(store::usage::USAGE_READER);
    // A connector given something new (a key to encrypted files) reads its
    // agent's files again; the mark is set after the run, as for usage.
    let mut reconfigured: Vec<Option<(String, String)>> = Vec::with_capacity(connectors.len());
    for c in &connectors {
        let key = format!("reader_config:{}", c.agent().slug());
        reconfigured.push(match c.reader_config() {
            Some(now) if store.meta_get(&key)?.as_deref() != Some(now.as_str()) => Some((key, now)),
            _ => None,
        });
    }

    let mut jobs = Vec::new();
    let mut skipped = 0;
    for c in candidates.iter() {
        let path = c.path.to_string_lossy();
        if privacy.excludes(connectors[c.connector].agent().slug(), &path, None) || forgets.file(&path) {
            privacy_report.files_excluded += 1;
            continue;
        }
        let layout = connectors[c.connector].layout(&c.path);
        let prev = states.get(path.as_ref());
        let reread = (usage_behind && connectors[c.connector].reads_usage()) || reconfigured[c.connector].is_some();
        match plan(c, layout, prev, opts.full || reread) {
            Plan::Skip => skipped += 1,
            p => jobs.push(Job { candidate: c.clone(), plan: p }),
        }
    }
    // Big files first, so one giant does not start last and run alone.
    jobs.sort_by_key(|j| std::cmp::Reverse(j.candidate.size));
    progress.files_planned(jobs.len());
    crate::lock::note_progress("ingest");

    let outcomes = if jobs.is_empty() {
        Vec::new() // nothing changed: write nothing at all
    } else {
        let keep_out = ingest::KeepOut { privacy, forgets: &forgets };
        ingest::run(&mut store, &connectors, &jobs, &keep_out, &remotes, &|_| progress.file_done())?
    };
    let read: Vec<String> = jobs.iter().map(|j| j.candidate.path.to_string_lossy().into_owned()).collect();
    let scope = if exclusions_changed { PurgeScope::All } else { PurgeScope::Files(&read) };
    privacy_report.removed = store::privacy::purge(
        &mut store,
        &forgets,
        &|agent, path, ws| privacy.excludes(agent, path, ws),
        privacy.exclusions().is_empty(),
        scope,
    )?;
    if exclusions_changed {
        store::privacy::record_exclusions(&store, &excluded_with)?;
    }
    if usage_behind {
        store::usage::set_usage_reader(&store)?;
    }
    for (key, now) in reconfigured.iter().flatten() {
        store.meta_set(key, now)?;
    }

    let totals = query::agent_totals(&store)?;
    let health = sources::agent_health(&root_reports, &candidates, &problems, &query::source_errors(&store)?);
    let mut agents: Vec<AgentReport> = connectors
        .iter()
        .zip(root_reports)
        .zip(health)
        .map(|((c, roots), health)| {
            let t = totals.iter().find(|t| t.agent == c.agent().slug());
            AgentReport {
                agent: c.agent().slug(),
                name: c.agent().display_name(),
                files: roots.iter().map(|r| r.files).sum(),
                roots,
                files_changed: 0,
                messages_added: 0,
                malformed: 0,
                conversations: t.map_or(0, |t| t.conversations),
                messages: t.map_or(0, |t| t.messages),
                malformed_total: health.malformed,
                unreadable: health.unreadable,
            }
        })
        .collect();
    let mut report = IndexReport {
        files_scanned: candidates.len(),
        files_skipped: skipped,
        files_parsed: 0,
        files_appended: 0,
        conversations_touched: 0,
        messages_added: 0,
        malformed: 0,
        partial_tails: 0,
        unreadable: problems.into_iter().map(|(path, error)| Problem { path, error }).collect(),
        conversations: totals.iter().map(|t| t.conversations).sum(),
        messages: totals.iter().map(|t| t.messages).sum(),
        elapsed_ms: 0,
        ingest_ms: 0,
        agents: Vec::new(),
        lexical: None,
        semantic: None,
        quality: None,
        repaired: Vec::new(),
        privacy: PrivacyReport::default(),
        remotes: None,
    };
    for (job, out) in jobs.iter().zip(&outcomes) {
        match job.plan {
            Plan::Tail { .. } => report.files_appended += 1,
            _ => report.files_parsed += 1,
        }
        report.conversations_touched += out.conversations;
        report.messages_added += out.messages;
        report.malformed += out.malformed;
        report.partial_tails += usize::from(out.partial_tail);
        privacy_report.messages_redacted += out.messages_redacted;
        privacy_report.secrets_redacted += out.secrets_redacted;
        privacy_report.conversations_held_back += out.conversations_held_back;
        if let Some(e) = &out.unreadable {
            report.unreadable.push(Problem { path: job.candidate.path.clone(), error: e.clone() });
        }
        let a = &mut agents[job.candidate.connector];
        a.files_changed += 1;
        a.messages_added += out.messages;
        a.malformed += out.malformed;
    }
    report.agents = agents;
    report.privacy = privacy_report;
    crate::lock::note_index_finished();
    report.ingest_ms = started.elapsed().as_millis() as u64;
    report.elapsed_ms = report.ingest_ms;
    tracing::info!(
        files = report.files_scanned,
        changed = jobs.len(),
        messages_added = report.messages_added,
        ingest_ms = report.ingest_ms,
        "ingest done"
    );
    Ok(report)
}

/// Brings the lexical index up to date with the store: finishes `beside`,
/// the build started while ingest ran ([`crate::lexical::build_beside_ingest`]),
/// or syncs from the index's mark. The caller holds the writer lock.
pub fn sync_lexical(
    data: &DataDir,
    beside: Option<crate::lexical::Build>,
    bulk_rows: usize,
) -> Result<crate::lexical::SyncReport, crate::lexical::LexicalError> {
    crate::lock::note_progress("lexical");
    let store = Store::open(&data.db())?;
    match beside {
        Some(build) => build.finish(&store),
        None => crate::lexical::sync(&store, &data.lexical(), bulk_rows),
    }
}
