//! `cass status` and `cass health`: where the store, the lexical index and
//! the semantic tiers stand, answered from stored counters and marks only.
//! Nothing here scans messages, so the answer takes milliseconds at a
//! million messages and never waits on a running writer (the store is
//! opened read-only; WAL readers do not block).

use serde::Serialize;

use crate::config::DataDir;
use crate::embed::Tier;
use crate::indexer::semantic::{TierState, tier_state};
use crate::lexical::LexicalState;
use crate::lock::LockHolder;
use crate::store::{Store, StoreError, query};

/// Why [`status`] could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The store could not be opened or read (`Missing` when nothing was indexed yet).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The lexical index's metadata could not be read.
    #[error(transparent)]
    Lexical(#[from] crate::lexical::LexicalError),
    /// A semantic tier's manifest could not be read.
    #[error(transparent)]
    Vector(#[from] crate::vector::VectorError),
}

/// The store's size and when it was last indexed.
#[derive(Debug, Clone, Serialize)]
pub struct StoreStatus {
    /// Path of the SQLite database.
    pub path: std::path::PathBuf,
    /// Conversations in the store, summed from the per-agent totals.
    pub conversations: i64,
    /// Messages in the store, from the per-conversation counters.
    pub messages: i64,
    /// The highest message id (0 when empty); derived indexes are measured against it.
    pub max_message_id: i64,
    /// When an ingest last finished, RFC 3339; `None` if never.
    pub last_index_at: Option<String>,
    /// The same time in milliseconds since the Unix epoch, for [`health`]'s age check.
    #[serde(skip)]
    pub last_index_at_ms: Option<i64>,
}

/// The lexical index's state and how far it trails the store.
#[derive(Debug, Clone, Serialize)]
pub struct LexicalStatus {
    /// What the index itself records (mark, schema, dirty conversations).
    #[serde(flatten)]
    pub state: LexicalState,
    /// Messages in the store past the index's mark (by id).
    pub lag: i64,
}

/// The process holding the writer lock, as `status` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct WriterStatus {
    /// Its process id.
    pub pid: u32,
    /// The cass command it runs (`index`, `index --watch`, …).
    pub command: String,
    /// When it took the lock, RFC 3339.
    pub started_at: String,
    /// What it says it is doing now (`ingest`, `lexical`, `watching`, …).
    pub phase: Option<String>,
    /// When it last reported progress, RFC 3339.
    pub last_progress_at: Option<String>,
    /// The same time in milliseconds since the Unix epoch; a live watcher's heartbeat.
    #[serde(skip)]
    pub last_progress_at_ms: Option<i64>,
}

impl From<LockHolder> for WriterStatus {
    fn from(h: LockHolder) -> Self {
        WriterStatus {
            pid: h.pid,
            command: h.command,
            started_at: crate::time::to_rfc3339(h.started_at_ms),
            phase: h.phase,
            last_progress_at: h.progress_at_ms.map(crate::time::to_rfc3339),
            last_progress_at_ms: h.progress_at_ms,
        }
    }
}

/// Everything `cass status` shows (also its `--json` output).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The data directory the status was read from.
    pub data_dir: std::path::PathBuf,
    /// The store's totals.
    pub store: StoreStatus,
    /// Conversation and message counts per agent, sorted by agent slug.
    pub agents: Vec<query::AgentTotals>,
    /// The lexical index and its lag.
    pub lexical: LexicalStatus,
    /// Every semantic tier, built or not, in [`Tier::ALL`] order.
    pub tiers: Vec<TierState>,
    /// True when the quality tier's model files are on disk.
    pub quality_model_installed: bool,
    /// The process holding the writer lock, if an index or backfill runs.
    pub writer: Option<WriterStatus>,
    /// What the store keeps out: redacted secrets, forgotten conversations.
    pub privacy: PrivacyStatus,
}

/// The privacy part of `cass status`.
#[derive(Debug, Clone, Serialize)]
pub struct PrivacyStatus {
    /// `on` (the stored text passed the redactor), `off` (the last index
    /// run stored it verbatim, `--no-redact`) or `never` (a store built
    /// before redaction; the next index run redacts it).
    pub redaction: &'static str,
    /// Secrets replaced in the stored messages.
    pub secrets_redacted: u64,
    /// Messages holding at least one.
    pub messages_redacted: u64,
    /// Secrets per kind.
    pub kinds: std::collections::BTreeMap<String, u64>,
    /// Forgets in force (`cass forget --list`).
    pub forgotten: u64,
}

impl PrivacyStatus {
    fn read(store: &Store) -> Result<PrivacyStatus, StatusError> {
        let totals = crate::store::privacy::redaction_totals(store)?;
        let redaction = match crate::store::privacy::redacted_with(store)?.as_deref() {
            None => "never",
            Some(crate::privacy::REDACTION_OFF) => "off",
            Some(_) => "on",
        };
        Ok(PrivacyStatus {
            redaction,
            secrets_redacted: totals.secrets,
            messages_redacted: totals.messages,
            kinds: totals.kinds,
            forgotten: crate::store::privacy::forgotten_count(store)?,
        })
    }
}

/// Reads the status. `Err(StoreError::Missing)` means nothing was indexed yet.
pub fn status(data: &DataDir) -> Result<Status, StatusError> {
    let store = Store::open_readonly(&data.db())?;
    let agents = query::agent_totals(&store)?;
    let max_message_id = query::max_message_id(&store)?;
    // The lock file says when an ingest last finished; without it (deleted,
    // or torn), the last time a session file was read is the best we know.
    let last_ms = match crate::lock::last_index_at(&data.lock()) {
        Some(t) => Some(t),
        None => query::last_file_indexed_at(&store)?,
    };
    let lexical = crate::lexical::state(&store, &data.lexical())?;
    let lag = (max_message_id - lexical.high_message_id).max(0);
    let tiers = Tier::ALL.iter().map(|&t| tier_state(data, t, Some(&store))).collect::<Result<Vec<_>, _>>()?;
    Ok(Status {
        data_dir: data.root().to_path_buf(),
        store: StoreStatus {
            path: data.db(),
            conversations: agents.iter().map(|a| a.conversations).sum(),
            messages: agents.iter().map(|a| a.messages).sum(),
            max_message_id,
            last_index_at: last_ms.map(crate::time::to_rfc3339),
            last_index_at_ms: last_ms,
        },
        agents,
        lexical: LexicalStatus { state: lexical, lag },
        tiers,
        quality_model_installed: crate::models::list(data).iter().all(|m| m.installed),
        writer: crate::lock::current_holder(&data.lock()).map(WriterStatus::from),
        privacy: PrivacyStatus::read(&store)?,
    })
}

/// One reason the index is not healthy, with a stable machine-readable kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// Stable name of the problem (`lexical_behind`, `stale`, …) for scripts.
    pub kind: &'static str,
    /// One sentence for a person.
    pub message: String,
}

/// `cass health`: healthy when the lexical index and every published tier
/// hold every message of the store, and (with `max_age`) the last index run
/// is recent enough or a live `index --watch` keeps it current. While a
/// writer is mid-run the derived indexes trail the store for a moment; that
/// is reported as it is.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// True when `problems` is empty.
    pub healthy: bool,
    /// Every problem found, in a fixed order of checks.
    pub problems: Vec<Problem>,
    /// The status the verdict was drawn from.
    pub status: Status,
    /// With `--deep`: how long the deep check took, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deep_ms: Option<u64>,
}

/// Judges a [`Status`]: `max_age_ms` (if given) bounds the age of the last index run, measured at `now_ms`.
pub fn health(status: Status, max_age_ms: Option<i64>, now_ms: i64) -> Health {
    let mut problems = Vec::new();
    let mut add = |kind: &'static str, message: String| problems.push(Problem { kind, message });
    let max = status.store.max_message_id;
    let lex = &status.lexical.state;
    if !lex.exists {
        add("lexical_missing", format!("no lexical index at {}", status.data_dir.join("lexical").display()));
    } else {
        if !lex.built_from_store {
            add(
                "lexical_stale",
                "the lexical index was built from another store; `cass index` rebuilds it (not served meanwhile)"
                    .into(),
            );
        }
        if !lex.current_schema {
            add("lexical_schema", "the lexical index was built by another version of cass".into());
        }
        if status.lexical.lag > 0 {
            add(
                "lexical_behind",
                format!(
                    "the lexical index holds messages up to id {}, the store up to {max} ({} behind)",
                    lex.high_message_id, status.lexical.lag
                ),
            );
        }
        if lex.dirty_conversations > 0 {
            add(
                "lexical_dirty",
                format!(
                    "{} changed in the store and await re-indexing",
                    crate::words::count(lex.dirty_conversations, "conversation")
                ),
            );
        }
    }
    for t in &status.tiers {
        if let Some(why) = &t.damaged {
            add(
                "tier_damaged",
                format!("the {} tier's manifest is damaged ({why}); `{}` rebuilds it", t.tier, rebuild(t.tier)),
            );
        }
    }
    for t in status.tiers.iter().filter(|t| t.built) {
        if let Some(format) = t.segment_format.filter(|&f| f != crate::vector::segment::VERSION) {
            add(
                "tier_format",
                format!(
                    "the {} tier's vectors are in segment format {format} and this build reads {}; `{}` rebuilds it (not served meanwhile)",
                    t.tier,
                    crate::vector::segment::VERSION,
                    rebuild(t.tier)
                ),
            );
        }
        if t.stale {
            add(
                "tier_stale",
                format!(
                    "the {} tier was built from another store; `{}` rebuilds it (not served meanwhile)",
                    t.tier,
                    rebuild(t.tier)
                ),
            );
        }
        // The quality tier catches up within a time budget per run, so a
        // backlog is its normal state: behind only past `--max-age`.
        let quality_within_age = t.tier == Tier::Quality.name()
            && max_age_ms.is_none_or(|age| t.behind_since_ms.is_none_or(|since| now_ms - since <= age));
        if t.pending_rows > 0 && !quality_within_age {
            let since = t
                .behind_since_ms
                .map_or(String::new(), |s| format!(" (behind for {})", crate::time::human_duration_ms(now_ms - s)));
            let pending = crate::words::count(t.pending_rows, "message");
            add("tier_behind", format!("the {} tier has {pending} not yet published{since}", t.tier));
        }
        if t.tier == Tier::Quality.name() && !status.quality_model_installed {
            add("model_missing", "the quality tier is published but its model is not installed".into());
        }
    }
    // A live watcher keeps the index current between its cycles: its
    // heartbeat (every 10 s) counts as an index run for freshness.
    let watcher_alive = status
        .writer
        .as_ref()
        .filter(|w| w.command == "index --watch")
        .and_then(|w| w.last_progress_at_ms)
        .filter(|&t| now_ms - t < 60_000);
    let last_index = status.store.last_index_at_ms.max(watcher_alive);
    match (last_index, max_age_ms) {
        (None, _) => add("never_indexed", "no index run has finished yet".into()),
        (Some(last), Some(age)) if now_ms - last > age => {
            add("stale", format!("the last index run finished {} ago", crate::time::human_duration_ms(now_ms - last)))
        }
        _ => {}
    }
    Health { healthy: problems.is_empty(), problems, status, deep_ms: None }
}

/// What a status line says about the index without opening anything: the
/// time of the lexical index's last commit (its `meta.json` is replaced
/// atomically on every commit) and whoever holds `cass.lock`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Freshness {
    /// Time of the last lexical commit; `None` when there is no index.
    pub updated_at: Option<crate::model::TimestampMs>,
    /// The process holding the writer lock, if one does.
    pub writer: Option<LockHolder>,
}

/// Reads [`Freshness`] from two file-system facts (cheap enough to poll).
pub fn freshness(data: &DataDir) -> Freshness {
    let updated_at = std::fs::metadata(data.lexical().join("meta.json"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as crate::model::TimestampMs);
    Freshness { updated_at, writer: crate::lock::current_holder(&data.lock()) }
}

/// The command that rebuilds the tier named `tier`.
fn rebuild(tier: &str) -> &'static str {
    Tier::ALL.iter().find(|t| t.name() == tier).map_or("cass index", |t| t.build_command())
}
