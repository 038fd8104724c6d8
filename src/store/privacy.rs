//! The store's side of privacy: per-message redaction records and their
//! totals, rewriting text stored before redaction, and what `cass forget`
//! and the exclusions keep out.
//!
//! Everything here deletes with `secure_delete` on (set by [`Store::open`]
//! for writers) and ends by rebuilding the file and truncating the WAL
//! ([`scrub_file`]), so removed text does not linger in free pages, unused
//! page space or old WAL frames of the database file.

use std::collections::{BTreeMap, HashSet};

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::ingest::{IngestTx, mark_dirty, row_checksum};
use super::{Result, Store};
use crate::redact::{Redactor, Report};
use crate::time::now_ms;

/// Meta key: the fingerprint of the redactor the stored text has passed
/// ([`Redactor::fingerprint`]), or `off`. Absent on a store built before
/// redaction existed.
const REDACTED_WITH: &str = "redacted_with";
/// Meta key: the exclusions the last index run applied.
const EXCLUDED_WITH: &str = "excluded_with";

/// The redaction record of one message: how many secrets were replaced,
/// and their kinds with counts (`aws_access_key:1,password:2`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redaction {
    /// Markers written.
    pub count: u32,
    /// Kinds and counts, sorted by kind.
    pub kinds: String,
}

impl Redaction {
    /// The record of a [`Report`]; `None` when nothing was replaced.
    pub fn of(report: &Report) -> Option<Redaction> {
        if report.is_empty() {
            return None;
        }
        let kinds = report.kinds().map(|(k, n)| format!("{k}:{n}")).collect::<Vec<_>>().join(",");
        Some(Redaction { count: report.count() as u32, kinds })
    }

    /// This record and another of the same row (a rescan with new rules) together.
    fn merged(old_count: u32, old_kinds: Option<&str>, new: &Redaction) -> Redaction {
        let mut kinds = BTreeMap::new();
        for part in [old_kinds.unwrap_or(""), &new.kinds] {
            add_kinds(&mut kinds, part);
        }
        let kinds = kinds.iter().map(|(k, n)| format!("{k}:{n}")).collect::<Vec<_>>().join(",");
        Redaction { count: old_count + new.count, kinds }
    }
}

fn add_kinds(into: &mut BTreeMap<String, u64>, encoded: &str) {
    for part in encoded.split(',').filter(|p| !p.is_empty()) {
        let (kind, n) = part.rsplit_once(':').unwrap_or((part, "1"));
        *into.entry(kind.to_string()).or_default() += n.parse::<u64>().unwrap_or(1);
    }
}

/// Secrets replaced in the stored messages, for `cass status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedactionTotals {
    /// Messages holding at least one marker.
    pub messages: u64,
    /// Markers in all.
    pub secrets: u64,
    /// Markers per kind.
    pub kinds: BTreeMap<String, u64>,
}

/// Totals of the redaction records. Reads the redacted rows only (a
/// partial index holds them), never every message.
pub fn redaction_totals(store: &Store) -> Result<RedactionTotals> {
    let mut totals = RedactionTotals::default();
    if !has_privacy_schema(store)? {
        return Ok(totals);
    }
    let mut stmt = store
        .conn
        .prepare("SELECT redacted, redacted_kinds FROM messages INDEXED BY messages_redacted WHERE redacted > 0")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        totals.messages += 1;
        totals.secrets += r.get::<_, i64>(0)? as u64;
        add_kinds(&mut totals.kinds, r.get::<_, Option<String>>(1)?.as_deref().unwrap_or(""));
    }
    Ok(totals)
}

/// Whether a (read-only, maybe not yet migrated) store has the v3 tables.
fn has_privacy_schema(store: &Store) -> Result<bool> {
    let version: i64 = store.conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(version >= 3)
}

/// What the stored text was last redacted with: a fingerprint, `off`, or
/// `None` for a store that predates redaction.
pub fn redacted_with(store: &Store) -> Result<Option<String>> {
    store.meta_get(REDACTED_WITH)
}

/// Records what the stored text is redacted with from now on.
pub fn set_redacted_with(store: &Store, mark: &str) -> Result<()> {
    store.meta_set(REDACTED_WITH, mark)
}

/// What [`redact_stored`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RewriteReport {
    /// Messages read.
    pub messages_scanned: u64,
    /// Messages whose text held a secret: rewritten as new rows (new ids),
    /// so every tier embeds these again and nothing else.
    pub messages_redacted: u64,
    /// Conversation titles that held one.
    pub titles_redacted: u64,
    /// Markers written.
    pub secrets: u64,
}

/// Rows read per page of the rewrite; each page is one transaction.
const REWRITE_PAGE: usize = 2_000;

/// Redacts text stored before (or with other rules): every message and
/// title passes `redactor`; a message that changes is replaced by a new
/// row (same conversation and position, the marker text, a new id) and its
/// conversation marked for the lexical index. Streams the table in pages
/// of ids, so memory stays flat at any size. Idempotent: markers are never
/// redacted again, so a crash mid-way is finished by the next run.
pub fn redact_stored(store: &mut Store, redactor: &Redactor) -> Result<RewriteReport> {
    use rayon::prelude::*;
    let mut report = RewriteReport::default();
    let top = super::query::max_message_id(store)?;
    let mut cursor = 0i64;
    loop {
        let page: Vec<StoredRow> = {
            let mut stmt = store.conn.prepare_cached(
                "SELECT id, conversation_id, ordinal, role, author, created_at, content, line_offset, redacted,
                        redacted_kinds
                 FROM messages WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3",
            )?;
            stmt.query_map(params![cursor, top, REWRITE_PAGE as i64], |r| {
                Ok(StoredRow {
                    id: r.get(0)?,
                    conversation_id: r.get(1)?,
                    ordinal: r.get(2)?,
                    role: r.get(3)?,
                    author: r.get(4)?,
                    created_at: r.get(5)?,
                    content: r.get(6)?,
                    line_offset: r.get(7)?,
                    redacted: r.get::<_, i64>(8)? as u32,
                    kinds: r.get(9)?,
                })
            })?
            .collect::<std::result::Result<_, _>>()?
        };
        let Some(last) = page.last() else { break };
        cursor = last.id;
        report.messages_scanned += page.len() as u64;
        let changed: Vec<(&StoredRow, String, Redaction)> = page
            .par_iter()
            .filter_map(|row| {
                let out = redactor.redact(&row.content);
                let note = Redaction::of(&out.report)?;
                Some((row, out.text.into_owned(), note))
            })
            .collect();
        if changed.is_empty() {
            continue;
        }
        let tx = IngestTx(store.conn.transaction()?);
        for (row, text, note) in &changed {
            let note = Redaction::merged(row.redacted, row.kinds.as_deref(), note);
            tx.0.prepare_cached("DELETE FROM messages WHERE id = ?1")?.execute([row.id])?;
            tx.0.prepare_cached(
                "INSERT INTO messages (conversation_id, ordinal, role, author, created_at, content, line_offset,
                   checksum, redacted, redacted_kinds)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                row.conversation_id,
                row.ordinal,
                row.role,
                row.author,
                row.created_at,
                text,
                row.line_offset,
                row_checksum(&row.role, row.author.as_deref(), row.created_at, text),
                note.count,
                note.kinds
            ])?;
            mark_dirty(&tx, row.conversation_id)?;
            report.messages_redacted += 1;
            report.secrets += changed_count(note.count, row.redacted);
        }
        tx.commit()?;
    }
    // Titles: few rows, one transaction. The title trigger marks each
    // changed conversation for the lexical index.
    let titles: Vec<(i64, String)> = store
        .conn
        .prepare("SELECT id, title FROM conversations WHERE title IS NOT NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<std::result::Result<_, _>>()?;
    let tx = store.conn.transaction()?;
    for (id, title) in titles {
        let out = redactor.redact(&title);
        if out.is_redacted() {
            tx.prepare_cached("UPDATE conversations SET title = ?2 WHERE id = ?1")?.execute(params![id, out.text])?;
            report.titles_redacted += 1;
            report.secrets += out.report.count() as u64;
        }
    }
    tx.commit()?;
    set_redacted_with(store, redactor.fingerprint())?;
    scrub_file(store)?;
    Ok(report)
}

fn changed_count(total: u32, before: u32) -> u64 {
    u64::from(total.saturating_sub(before))
}

struct StoredRow {
    id: i64,
    conversation_id: i64,
    ordinal: i64,
    role: String,
    author: Option<String>,
    created_at: Option<i64>,
    content: String,
    line_offset: Option<i64>,
    redacted: u32,
    kinds: Option<String>,
}

/// Empties the WAL into the database and truncates it to zero bytes: the
/// frames of rows just deleted would otherwise stay readable in it.
pub fn truncate_wal(store: &Store) -> Result<()> {
    store.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

/// Makes text that was just removed unreadable in the database file:
/// rebuilds the file from its live rows (`VACUUM`), then truncates the
/// WAL. `secure_delete` zeroes a deleted cell, but a page that a b-tree
/// balance rebuilt can keep an older copy of a cell in its unused space
/// (seen after `cass redact`: a whole message with a secret in it, left
/// in a page of the messages table); a rebuilt file holds only live rows.
/// Costs a rewrite of the store, in time and, briefly, in disk space.
pub fn scrub_file(store: &Store) -> Result<()> {
    store.conn.execute_batch("VACUUM")?;
    truncate_wal(store)
}

/// What `cass forget` recorded: one entry of `cass forget --list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forgotten {
    /// Its number, for `cass forget --undo`.
    pub id: i64,
    /// `conversation`, `file` or `workspace`.
    pub kind: String,
    /// The conversation's agent (kind `conversation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The session file (kinds `conversation` and `file`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
    /// The agent's session id (kind `conversation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The workspace (kind `workspace`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// The conversation's title when it was forgotten, to recognise it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Conversations removed.
    pub conversations: i64,
    /// Messages removed.
    pub messages: i64,
    /// When, in ms since the Unix epoch.
    pub forgotten_at: i64,
}

/// How many forgets are in force, for `cass status`.
pub fn forgotten_count(store: &Store) -> Result<u64> {
    if !has_privacy_schema(store)? {
        return Ok(0);
    }
    Ok(store.conn.query_row("SELECT COUNT(*) FROM forgotten", [], |r| r.get::<_, i64>(0))? as u64)
}

/// Every forget still in force, oldest first.
pub fn forgotten(store: &Store) -> Result<Vec<Forgotten>> {
    if !has_privacy_schema(store)? {
        return Ok(Vec::new());
    }
    let mut stmt = store.conn.prepare(&format!("SELECT {FORGOTTEN_COLUMNS} FROM forgotten ORDER BY id"))?;
    let rows = stmt.query_map([], forgotten_row)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The columns [`forgotten_row`] reads, in its order.
const FORGOTTEN_COLUMNS: &str =
    "id, kind, agent, source_path, external_id, workspace, title, conversations, messages, forgotten_at";

fn forgotten_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Forgotten> {
    Ok(Forgotten {
        id: r.get(0)?,
        kind: r.get(1)?,
        agent: r.get(2)?,
        source_path: r.get(3)?,
        external_id: r.get(4)?,
        workspace: r.get(5)?,
        title: r.get(6)?,
        conversations: r.get(7)?,
        messages: r.get(8)?,
        forgotten_at: r.get(9)?,
    })
}

/// What to forget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForgetTarget {
    /// One conversation, by its id in the store.
    Conversation(i64),
    /// Every conversation read from a session file.
    File(String),
    /// Every conversation of a workspace (or a directory below it).
    Workspace(String),
}

/// Removes the target's conversations (messages, and through the lexical
/// dirty marks their index entries; tier rows of gone messages are dead
/// from now on and dropped by compaction) and records the forget, so later
/// index runs keep them out. `None` when nothing matches.
pub fn forget(store: &mut Store, target: &ForgetTarget) -> Result<Option<Forgotten>> {
    let (sql, arg): (&str, String) = match target {
        ForgetTarget::Conversation(id) => (
            "SELECT id, agent, source_path, external_id, title, message_count FROM conversations WHERE id = ?1",
            id.to_string(),
        ),
        ForgetTarget::File(p) => (
            "SELECT id, agent, source_path, external_id, title, message_count FROM conversations WHERE source_path = ?1",
            p.clone(),
        ),
        ForgetTarget::Workspace(w) => (
            "SELECT id, agent, source_path, external_id, title, message_count FROM conversations
             WHERE workspace = ?1 OR substr(workspace, 1, length(?1) + 1) = ?1 || '/'",
            w.trim_end_matches('/').to_string(),
        ),
    };
    let convs: Vec<(i64, String, String, String, Option<String>, i64)> = store
        .conn
        .prepare(sql)?
        .query_map([&arg], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
        .collect::<std::result::Result<_, _>>()?;
    let known_file = match target {
        ForgetTarget::File(p) => {
            store.conn.query_row("SELECT 1 FROM file_state WHERE path = ?1", [p], |_| Ok(())).optional()?.is_some()
        }
        _ => false,
    };
    if convs.is_empty() && !known_file {
        return Ok(None);
    }
    let messages: i64 = convs.iter().map(|c| c.5).sum();
    let tx = IngestTx(store.conn.transaction()?);
    let (kind, agent, path, external, workspace, title) = match target {
        ForgetTarget::Conversation(_) => {
            let c = &convs[0];
            ("conversation", Some(c.1.clone()), Some(c.2.clone()), Some(c.3.clone()), None, c.4.clone())
        }
        ForgetTarget::File(p) => ("file", None, Some(p.clone()), None, None, None),
        ForgetTarget::Workspace(w) => {
            ("workspace", None, None, None, Some(arg.clone()).filter(|_| !w.is_empty()), None)
        }
    };
    let id: i64 = tx.0.query_row(
        "INSERT INTO forgotten (kind, agent, source_path, external_id, workspace, title, conversations, messages,
           forgotten_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
        params![kind, agent, path, external, workspace, title, convs.len() as i64, messages, now_ms()],
        |r| r.get(0),
    )?;
    for c in &convs {
        remove_conversation(&tx, c.0, &c.2)?;
    }
    if let ForgetTarget::File(p) = target {
        // Read again in full if the forget is undone.
        tx.0.execute("DELETE FROM file_state WHERE path = ?1", [p])?;
        hold_back(&tx, p)?;
    }
    let entry =
        tx.0.query_row(&format!("SELECT {FORGOTTEN_COLUMNS} FROM forgotten WHERE id = ?1"), [id], forgotten_row)?;
    tx.commit()?;
    scrub_file(store)?;
    Ok(Some(entry))
}

/// Lifts a forget: the sessions it kept out are read again by the next
/// index run. `None` when no forget has this number.
pub fn unforget(store: &mut Store, id: i64) -> Result<Option<Forgotten>> {
    let tx = store.conn.transaction()?;
    let entry = tx
        .query_row(&format!("SELECT {FORGOTTEN_COLUMNS} FROM forgotten WHERE id = ?1"), [id], forgotten_row)
        .optional()?;
    if entry.is_some() {
        tx.execute("DELETE FROM forgotten WHERE id = ?1", [id])?;
        release_held_back(&tx)?;
    }
    tx.commit()?;
    Ok(entry)
}

/// Session files something was held back from are read again in full:
/// their file state alone would skip them, unchanged as they are.
fn release_held_back(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    tx.execute("DELETE FROM file_state WHERE path IN (SELECT path FROM held_back)", [])?;
    tx.execute("DELETE FROM held_back", [])?;
    Ok(())
}

/// Records that an index run held something of `path` back.
pub fn hold_back(tx: &IngestTx<'_>, path: &str) -> Result<()> {
    tx.0.prepare_cached("INSERT OR IGNORE INTO held_back (path) VALUES (?1)")?.execute([path])?;
    Ok(())
}

fn remove_conversation(tx: &IngestTx<'_>, id: i64, path: &str) -> Result<()> {
    mark_dirty(tx, id)?;
    tx.0.prepare_cached("DELETE FROM conversations WHERE id = ?1")?.execute([id])?;
    hold_back(tx, path)
}

/// The forgets in force, loaded once per index run for matching.
#[derive(Debug, Clone, Default)]
pub struct ForgetSet {
    conversations: HashSet<(String, String, String)>,
    files: HashSet<String>,
    workspaces: Vec<String>,
}

impl ForgetSet {
    /// Loads every forget.
    pub fn load(store: &Store) -> Result<ForgetSet> {
        let mut set = ForgetSet::default();
        for f in forgotten(store)? {
            match (f.kind.as_str(), f.agent, f.source_path, f.external_id, f.workspace) {
                ("conversation", Some(a), Some(p), Some(e), _) => {
                    set.conversations.insert((a, p, e));
                }
                ("file", _, Some(p), _, _) => {
                    set.files.insert(p);
                }
                ("workspace", _, _, _, Some(w)) => set.workspaces.push(w),
                _ => {}
            }
        }
        Ok(set)
    }

    /// Whether nothing is forgotten.
    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty() && self.files.is_empty() && self.workspaces.is_empty()
    }

    /// Whether a session file is forgotten as a whole.
    pub fn file(&self, path: &str) -> bool {
        self.files.contains(path)
    }

    /// Whether a conversation is forgotten, by itself, its file or its workspace.
    pub fn conversation(&self, agent: &str, path: &str, external_id: &str, workspace: Option<&str>) -> bool {
        self.files.contains(path)
            || self.conversations.contains(&(agent.to_string(), path.to_string(), external_id.to_string()))
            || workspace.is_some_and(|w| self.workspace(w))
    }

    fn workspace(&self, w: &str) -> bool {
        let w = w.trim_end_matches('/');
        self.workspaces.iter().any(|f| w == f || w.strip_prefix(f.as_str()).is_some_and(|rest| rest.starts_with('/')))
    }
}

/// What [`purge`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    /// Conversations removed.
    pub conversations: u64,
    /// Their messages.
    pub messages: u64,
}

/// Whether the exclusions an index run applies (`described`) differ from
/// those of the last run that finished its purge. If so, the files held
/// back before are released, to be read again in full under the new
/// ones: call before planning, and [`record_exclusions`] after the purge.
pub fn exclusions_changed(store: &mut Store, described: &str) -> Result<bool> {
    if store.meta_get(EXCLUDED_WITH)?.as_deref().unwrap_or("") == described {
        return Ok(false);
    }
    let tx = store.conn.transaction()?;
    release_held_back(&tx)?;
    tx.commit()?;
    Ok(true)
}

/// Records the exclusions a run applied, once everything they cover is
/// out of the store: a run that crashes before purges again.
pub fn record_exclusions(store: &Store, described: &str) -> Result<()> {
    store.meta_set(EXCLUDED_WITH, described)
}

/// Which stored conversations a purge looks at.
#[derive(Debug, Clone, Copy)]
pub enum PurgeScope<'a> {
    /// All of them: the exclusions changed.
    All,
    /// Those read from these session files this run (a header read this
    /// run may have named an excluded workspace); others were checked
    /// when the exclusions last changed or the forget was made.
    Files(&'a [String]),
}

/// Removes stored conversations that are excluded or forgotten (kept out
/// since they were stored, or matched only once a later header named
/// their workspace). `excluded(agent, path, workspace)` says whether the
/// settings exclude one; `scope` bounds the scan.
pub fn purge(
    store: &mut Store,
    forgets: &ForgetSet,
    excluded: &dyn Fn(&str, &str, Option<&str>) -> bool,
    nothing_excluded: bool,
    scope: PurgeScope<'_>,
) -> Result<Purged> {
    let mut purged = Purged::default();
    if nothing_excluded && forgets.is_empty() {
        return Ok(purged);
    }
    const COLUMNS: &str = "SELECT id, agent, source_path, external_id, workspace, message_count FROM conversations";
    let row = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?));
    let mut convs: Vec<(i64, String, String, String, Option<String>, i64)> = Vec::new();
    match scope {
        PurgeScope::All => {
            convs = store.conn.prepare(COLUMNS)?.query_map([], row)?.collect::<std::result::Result<_, _>>()?;
        }
        PurgeScope::Files(paths) => {
            let mut stmt = store.conn.prepare(&format!("{COLUMNS} WHERE source_path = ?1"))?;
            for p in paths {
                for c in stmt.query_map([p], row)? {
                    convs.push(c?);
                }
            }
        }
    }
    let gone: Vec<_> = convs
        .into_iter()
        .filter(|(_, agent, path, ext, ws, _)| {
            excluded(agent, path, ws.as_deref()) || forgets.conversation(agent, path, ext, ws.as_deref())
        })
        .collect();
    if gone.is_empty() {
        return Ok(purged);
    }
    let tx = IngestTx(store.conn.transaction()?);
    for (id, _, path, _, _, count) in &gone {
        remove_conversation(&tx, *id, path)?;
        purged.conversations += 1;
        purged.messages += *count as u64;
    }
    tx.commit()?;
    scrub_file(store)?;
    Ok(purged)
}
