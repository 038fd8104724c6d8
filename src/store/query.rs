//! Reads shared by the front ends: counts, conversations and messages.

use std::path::PathBuf;

use rusqlite::{OptionalExtension, Row, params};

use super::{Result, Store};
use crate::model::{Conversation, Role, StoredMessage};

/// Per-agent totals, from the per-conversation counters (no message scan).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AgentTotals {
    /// The agent's slug.
    pub agent: String,
    /// How many conversations the store holds for it.
    pub conversations: i64,
    /// How many messages, summed from the conversations' counters.
    pub messages: i64,
}

/// Totals for every agent with at least one conversation, sorted by slug.
pub fn agent_totals(store: &Store) -> Result<Vec<AgentTotals>> {
    let mut stmt = store.conn.prepare(
        "SELECT agent, COUNT(*), COALESCE(SUM(message_count), 0) FROM conversations GROUP BY agent ORDER BY agent",
    )?;
    let rows =
        stmt.query_map([], |r| Ok(AgentTotals { agent: r.get(0)?, conversations: r.get(1)?, messages: r.get(2)? }))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// What the store recorded against one source file: bad lines or records,
/// and (when the last attempt failed as a whole) why it could not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceErrors {
    /// How many bad lines or records were skipped.
    pub malformed: i64,
    /// Why the last attempt could not read the file at all, if it failed as a whole.
    pub unreadable: Option<String>,
}

/// Recorded errors per source path.
pub fn source_errors(store: &Store) -> Result<std::collections::HashMap<String, SourceErrors>> {
    let mut stmt = store.conn.prepare("SELECT path, line, message FROM ingest_errors ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))?;
    let mut out: std::collections::HashMap<String, SourceErrors> = Default::default();
    for row in rows {
        let (path, line, message) = row?;
        let e = out.entry(path).or_default();
        if line == super::ingest::UNREADABLE_LINE {
            e.unreadable = Some(message);
        } else {
            e.malformed += 1;
        }
    }
    Ok(out)
}

/// One problem an index run recorded against a source file: a line (or
/// record) it skipped, or the file as a whole it could not read.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestError {
    /// The source file.
    pub path: String,
    /// The agent whose file it is, when the store has read it before.
    pub agent: Option<String>,
    /// The line (1-based); 0 for a record of a whole-document or database
    /// source; `None` when the file could not be read at all.
    pub line: Option<i64>,
    /// What was wrong (session text in it is redacted as messages are).
    pub message: String,
    /// When it was recorded.
    pub recorded_at: i64,
}

/// The most recently recorded problems, newest first, at most `limit`,
/// and how many the store holds in all.
pub fn ingest_errors(store: &Store, limit: i64) -> Result<(Vec<IngestError>, i64)> {
    let total: i64 = store.conn.query_row("SELECT COUNT(*) FROM ingest_errors", [], |r| r.get(0))?;
    let mut stmt = store.conn.prepare(
        "SELECT e.path, f.agent, e.line, e.message, e.recorded_at FROM ingest_errors e
         LEFT JOIN file_state f ON f.path = e.path ORDER BY e.id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        let line: i64 = r.get(2)?;
        Ok(IngestError {
            path: r.get(0)?,
            agent: r.get(1)?,
            line: (line != super::ingest::UNREADABLE_LINE).then_some(line),
            message: r.get(3)?,
            recorded_at: r.get(4)?,
        })
    })?;
    Ok((rows.collect::<std::result::Result<_, _>>()?, total))
}

pub(super) const CONV_COLS: &str =
    "id, agent, external_id, source_path, title, workspace, started_at, ended_at, message_count, source, origin_path";

pub(super) fn conv_from_row(r: &Row<'_>) -> rusqlite::Result<Conversation> {
    Ok(Conversation {
        id: r.get(0)?,
        agent: r.get(1)?,
        external_id: r.get(2)?,
        source_path: PathBuf::from(r.get::<_, String>(3)?),
        title: r.get(4)?,
        workspace: r.get(5)?,
        started_at: r.get(6)?,
        ended_at: r.get(7)?,
        message_count: r.get(8)?,
        source: r.get(9)?,
        origin_path: r.get(10)?,
    })
}

/// The conversation with this id, if the store still has it.
pub fn conversation(store: &Store, id: i64) -> Result<Option<Conversation>> {
    Ok(store
        .conn
        .prepare_cached(&format!("SELECT {CONV_COLS} FROM conversations WHERE id = ?1"))?
        .query_row([id], conv_from_row)
        .optional()?)
}

/// Every conversation read from one source file, oldest id first.
pub fn conversations_by_source(store: &Store, path: &str) -> Result<Vec<Conversation>> {
    let mut stmt = store
        .conn
        .prepare_cached(&format!("SELECT {CONV_COLS} FROM conversations WHERE source_path = ?1 ORDER BY id"))?;
    let rows = stmt.query_map([path], conv_from_row)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

fn msg_from_row(r: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    let role: String = r.get(3)?;
    Ok(StoredMessage {
        id: r.get(0)?,
        conversation_id: r.get(1)?,
        ordinal: r.get(2)?,
        role: role.parse().unwrap_or(Role::System),
        author: r.get(4)?,
        created_at: r.get(5)?,
        content: r.get(6)?,
    })
}

const MSG_COLS: &str = "id, conversation_id, ordinal, role, author, created_at, content";

/// All messages of a conversation, in ordinal order.
pub fn messages_of(store: &Store, conversation_id: i64) -> Result<Vec<StoredMessage>> {
    let mut stmt = store
        .conn
        .prepare_cached(&format!("SELECT {MSG_COLS} FROM messages WHERE conversation_id = ?1 ORDER BY ordinal"))?;
    let rows = stmt.query_map([conversation_id], msg_from_row)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The message with this id, if the store still has it.
pub fn message(store: &Store, id: i64) -> Result<Option<StoredMessage>> {
    Ok(store
        .conn
        .prepare_cached(&format!("SELECT {MSG_COLS} FROM messages WHERE id = ?1"))?
        .query_row([id], msg_from_row)
        .optional()?)
}

/// Messages `before` ordinals before and `after` after one ordinal.
pub fn messages_around(
    store: &Store,
    conversation_id: i64,
    ordinal: i64,
    before: i64,
    after: i64,
) -> Result<Vec<StoredMessage>> {
    let mut stmt = store.conn.prepare_cached(&format!(
        "SELECT {MSG_COLS} FROM messages WHERE conversation_id = ?1 AND ordinal BETWEEN ?2 AND ?3 ORDER BY ordinal"
    ))?;
    let rows = stmt.query_map(params![conversation_id, ordinal - before, ordinal + after], msg_from_row)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Up to `limit` messages just before `ordinal`, in ordinal order. Keyset
/// paging, so gaps in ordinals are fine (the detail pane pages with it).
pub fn messages_before(store: &Store, conversation_id: i64, ordinal: i64, limit: i64) -> Result<Vec<StoredMessage>> {
    let mut stmt = store.conn.prepare_cached(&format!(
        "SELECT {MSG_COLS} FROM messages WHERE conversation_id = ?1 AND ordinal < ?2 ORDER BY ordinal DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![conversation_id, ordinal, limit], msg_from_row)?;
    let mut out: Vec<StoredMessage> = rows.collect::<std::result::Result<_, _>>()?;
    out.reverse();
    Ok(out)
}

/// Up to `limit` messages after `ordinal`, in ordinal order.
pub fn messages_after(store: &Store, conversation_id: i64, ordinal: i64, limit: i64) -> Result<Vec<StoredMessage>> {
    let mut stmt = store.conn.prepare_cached(&format!(
        "SELECT {MSG_COLS} FROM messages WHERE conversation_id = ?1 AND ordinal > ?2 ORDER BY ordinal LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![conversation_id, ordinal, limit], msg_from_row)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The workspaces with the most conversations, most first.
pub fn top_workspaces(store: &Store, limit: i64) -> Result<Vec<String>> {
    let mut stmt = store.conn.prepare_cached(
        "SELECT workspace FROM conversations WHERE workspace IS NOT NULL
         GROUP BY workspace ORDER BY COUNT(*) DESC, workspace LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| r.get(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The highest message id in the store (0 when empty): one index lookup.
pub fn max_message_id(store: &Store) -> Result<i64> {
    Ok(store.conn.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| r.get(0))?)
}

/// The highest message id ever handed out (AUTOINCREMENT's high-water
/// mark): unlike `MAX(id)` it never goes down when the newest messages are
/// deleted. An index that holds ids past it was built from a later state of
/// the store (the store is a restored backup).
pub fn id_high_water(store: &Store) -> Result<i64> {
    use rusqlite::OptionalExtension;
    let seq: Option<i64> =
        store.conn.query_row("SELECT seq FROM sqlite_sequence WHERE name = 'messages'", [], |r| r.get(0)).optional()?;
    Ok(seq.unwrap_or(0))
}

/// When a source file was last read, if ever.
pub fn last_file_indexed_at(store: &Store) -> Result<Option<i64>> {
    Ok(store.conn.query_row("SELECT MAX(indexed_at) FROM file_state", [], |r| r.get(0))?)
}

/// One message with its conversation's envelope: what a search hit shows.
#[derive(Debug, Clone)]
pub struct HitRow {
    /// Message id in the store.
    pub message_id: i64,
    /// Id of its conversation.
    pub conversation_id: i64,
    /// Who spoke it, as stored (`user`, `assistant`, `system`, `tool`).
    pub role: String,
    /// When it was written, milliseconds since the Unix epoch, if known.
    pub created_at: Option<i64>,
    /// The full message text (the snippet is cut from it).
    pub content: String,
    /// Slug of the conversation's agent.
    pub agent: String,
    /// The conversation's working directory, when known.
    pub workspace: Option<String>,
    /// The conversation's title, if it has one.
    pub title: Option<String>,
    /// The source file the conversation was read from.
    pub source_path: String,
    /// The machine it was read on (`local` or a machine's name).
    pub source: String,
    /// A remote conversation's file on its machine.
    pub origin_path: Option<String>,
}

/// The rows of these message ids, in no particular order; ids no longer in
/// the store are left out.
pub fn hit_rows(store: &Store, ids: &[i64]) -> Result<Vec<HitRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = vec!["?"; ids.len()].join(",");
    let sql = format!(
        "SELECT m.id, m.conversation_id, m.role, m.created_at, m.content, c.agent, c.workspace, c.title, c.source_path,
           c.source, c.origin_path
         FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.id IN ({placeholders})"
    );
    let mut stmt = store.conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(ids.iter()), |r| {
        Ok(HitRow {
            message_id: r.get(0)?,
            conversation_id: r.get(1)?,
            role: r.get(2)?,
            created_at: r.get(3)?,
            content: r.get(4)?,
            agent: r.get(5)?,
            workspace: r.get(6)?,
            title: r.get(7)?,
            source_path: r.get(8)?,
            source: r.get(9)?,
            origin_path: r.get(10)?,
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The ids of the messages of remote conversations: of machine `name`, or
/// of every remote machine. What a semantic scan filters `--source` by
/// (its rows carry no machine); remote conversations are the few, so the
/// list is short where it matters and reads through `conversations_remote`.
pub fn remote_message_ids(store: &Store, name: Option<&str>) -> Result<Vec<i64>> {
    let (cond, args): (&str, Vec<rusqlite::types::Value>) = match name {
        Some(n) => ("c.source = ?1", vec![n.to_string().into()]),
        None => ("c.source <> ?1", vec![crate::filters::LOCAL_SOURCE.to_string().into()]),
    };
    let sql = format!("SELECT m.id FROM conversations c JOIN messages m ON m.conversation_id = c.id WHERE {cond}");
    let mut stmt = store.conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| r.get(0))?;
    let mut ids: Vec<i64> = rows.collect::<std::result::Result<_, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// Up to `limit` messages of a conversation from the `offset`-th on, in
/// order (for paging a whole conversation).
pub fn messages_page(store: &Store, conversation_id: i64, offset: i64, limit: i64) -> Result<Vec<StoredMessage>> {
    let mut stmt = store.conn.prepare_cached(&format!(
        "SELECT {MSG_COLS} FROM messages WHERE conversation_id = ?1 ORDER BY ordinal LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = stmt.query_map(params![conversation_id, limit, offset], msg_from_row)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Which conversations [`sessions`] lists.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    /// Any of these agents (empty: all).
    pub agents: Vec<String>,
    /// A workspace filter as [`crate::filters::workspace_matches`] reads
    /// it: a directory (it and below) or a directory's name.
    pub workspace: Option<String>,
    /// Active at or after this time (last message, else first).
    pub since: Option<i64>,
    /// Active before this time.
    pub until: Option<i64>,
    /// Only conversations from this machine.
    pub source: Option<crate::filters::SourceFilter>,
}

/// When a conversation was last active: its last message, else its first,
/// else when cass last saw it.
const ACTIVE: &str = "COALESCE(ended_at, started_at, updated_at)";

/// The `WHERE` clause of [`sessions`] and [`session_count`], and its arguments.
fn session_where(filter: &SessionFilter) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = String::from(" WHERE message_count > 0");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if !filter.agents.is_empty() {
        sql.push_str(&format!(" AND agent IN ({})", vec!["?"; filter.agents.len()].join(",")));
        args.extend(filter.agents.iter().cloned().map(Into::into));
    }
    if let Some(ws) = &filter.workspace {
        let (cond, values) = workspace_condition(ws);
        sql.push_str(" AND ");
        sql.push_str(cond);
        args.extend(values);
    }
    if let Some(t) = filter.since {
        sql.push_str(&format!(" AND {ACTIVE} >= ?"));
        args.push(t.into());
    }
    if let Some(t) = filter.until {
        sql.push_str(&format!(" AND {ACTIVE} < ?"));
        args.push(t.into());
    }
    if let Some(source) = &filter.source {
        let (cond, values) = source_condition(source);
        sql.push_str(" AND ");
        sql.push_str(cond);
        args.extend(values);
    }
    (sql, args)
}

/// The SQL condition on the `source` column that selects what
/// [`crate::filters::SourceFilter::accepts`] does.
pub(crate) fn source_condition(filter: &crate::filters::SourceFilter) -> (&'static str, Vec<rusqlite::types::Value>) {
    use crate::filters::{LOCAL_SOURCE, SourceFilter};
    match filter {
        SourceFilter::Local => ("source = ?", vec![LOCAL_SOURCE.to_string().into()]),
        SourceFilter::Remote => ("source <> ?", vec![LOCAL_SOURCE.to_string().into()]),
        SourceFilter::Named(n) => ("source = ?", vec![n.clone().into()]),
    }
}

/// The SQL condition on the `workspace` column that selects exactly the
/// workspaces [`crate::filters::workspace_matches`] does (a unit test
/// holds the two to one table of cases), with its arguments.
pub(crate) fn workspace_condition(filter: &str) -> (&'static str, Vec<rusqlite::types::Value>) {
    use crate::filters::WorkspaceFilter;
    match WorkspaceFilter::parse(filter) {
        WorkspaceFilter::Path("") => ("substr(workspace, 1, 1) = '/'", Vec::new()),
        WorkspaceFilter::Path(p) => (
            "(workspace = ? OR substr(workspace, 1, length(?) + 1) = ? || '/')",
            vec![p.to_string().into(), p.to_string().into(), p.to_string().into()],
        ),
        WorkspaceFilter::Name("") => ("0", Vec::new()),
        WorkspaceFilter::Name(n) => ("instr('/' || workspace || '/', '/' || ? || '/') > 0", vec![n.to_string().into()]),
    }
}

/// Conversations, most recently active first (by last message time, then
/// first, then when cass last saw them), narrowed by `filter`. Uses the
/// conversations table only: no message is read.
pub fn sessions(store: &Store, filter: &SessionFilter, limit: i64, offset: i64) -> Result<Vec<Conversation>> {
    let (cond, mut args) = session_where(filter);
    let sql = format!("SELECT {CONV_COLS} FROM conversations{cond} ORDER BY {ACTIVE} DESC, id DESC LIMIT ? OFFSET ?");
    args.push(limit.into());
    args.push(offset.into());
    let mut stmt = store.conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), conv_from_row)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// How many conversations [`sessions`] would list without a limit.
pub fn session_count(store: &Store, filter: &SessionFilter) -> Result<i64> {
    let (cond, args) = session_where(filter);
    let sql = format!("SELECT COUNT(*) FROM conversations{cond}");
    Ok(store.conn.query_row(&sql, rusqlite::params_from_iter(args), |r| r.get(0))?)
}

/// The stored workspace that is `dir` or the nearest directory above it
/// (the project a directory belongs to), if any.
pub fn workspace_at_or_above(store: &Store, dir: &str) -> Result<Option<String>> {
    let mut stmt = store.conn.prepare("SELECT DISTINCT workspace FROM conversations WHERE workspace LIKE '/%'")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut best: Option<String> = None;
    for ws in rows {
        let ws = ws?;
        if crate::filters::workspace_matches(&ws, dir) && best.as_ref().is_none_or(|b| ws.len() > b.len()) {
            best = Some(ws);
        }
    }
    Ok(best)
}

/// SQLite's `integrity_check` (structure, and every index against its
/// table), then every message row against the checksum written with it:
/// `None` when all is sound, else what was found (the first few).
pub fn integrity(store: &Store) -> Result<Option<String>> {
    let mut stmt = store.conn.prepare("PRAGMA integrity_check(5)")?;
    let lines: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<std::result::Result<_, _>>()?;
    if !(lines.len() == 1 && lines[0] == "ok") {
        return Ok(Some(lines.join("; ")));
    }
    let version: i64 = store.conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version < 2 {
        return Ok(None); // rows carry checksums from schema v2 on
    }
    let mut stmt = store
        .conn
        .prepare("SELECT id, role, author, created_at, content, checksum FROM messages WHERE checksum IS NOT NULL")?;
    let mut rows = stmt.query([])?;
    let mut bad = Vec::new();
    while let Some(r) = rows.next()? {
        let text = |i: usize| -> rusqlite::Result<String> {
            Ok(String::from_utf8_lossy(r.get_ref(i)?.as_bytes_or_null()?.unwrap_or_default()).into_owned())
        };
        let author: Option<String> = r
            .get_ref(2)?
            .as_bytes_or_null()
            .map_err(rusqlite::Error::from)?
            .map(|b| String::from_utf8_lossy(b).into_owned());
        let sum = super::ingest::row_checksum(&text(1)?, author.as_deref(), r.get(3).unwrap_or(None), &text(4)?);
        if sum != r.get::<_, i64>(5)? {
            bad.push(r.get::<_, i64>(0)?);
            if bad.len() == 5 {
                break;
            }
        }
    }
    Ok((!bad.is_empty()).then(|| {
        let ids: Vec<String> = bad.iter().map(i64::to_string).collect();
        format!("message rows that no longer match their checksum: {}", ids.join(", "))
    }))
}

/// Every message row, counted (a scan: for deep checks only).
pub fn message_count(store: &Store) -> Result<u64> {
    let n: i64 = store.conn.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::workspace_matches;

    const WORKSPACES: [&str; 10] = [
        "/home/me/src/webapp",
        "/home/me/src/webapp/sub",
        "/home/me/src/webapp-old",
        "/home/me/src/web",
        "/home/me/src/old/webapp",
        "/srv/api",
        "/srv/api-server",
        "/home/me/café/app",
        "relative/webapp",
        "",
    ];

    const FILTERS: [&str; 17] = [
        "/home/me/src/webapp",
        "/home/me/src/webapp/",
        "/home/me/src/web",
        "/home/me/src",
        "/srv/api",
        "/",
        "webapp",
        "webapp/",
        "web",
        "src/webapp",
        "me/webapp",
        "app",
        "café",
        "/home/me/café",
        "api",
        "",
        "WebApp",
    ];

    /// A store holding one conversation per workspace above (and one
    /// without), ids in that order.
    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("cass.db")).unwrap();
        let with_none = WORKSPACES.iter().map(|w| Some(*w)).chain([None]);
        for (i, ws) in with_none.enumerate() {
            store
                .conn
                .execute(
                    "INSERT INTO conversations (agent, source_path, external_id, workspace, ended_at, message_count, updated_at)
                     VALUES ('codex', ?1, ?1, ?2, ?3, 1, 0)",
                    params![format!("/s/{i}"), ws, 1_000 + i as i64],
                )
                .unwrap();
        }
        (dir, store)
    }

    fn listed(store: &Store, filter: &str) -> Vec<String> {
        let f = SessionFilter { workspace: Some(filter.into()), ..Default::default() };
        let mut got: Vec<String> =
            sessions(store, &f, 100, 0).unwrap().into_iter().filter_map(|c| c.workspace).collect();
        got.sort();
        assert_eq!(session_count(store, &f).unwrap(), got.len() as i64, "count agrees with the list for {filter:?}");
        got
    }

    #[test]
    fn sql_and_workspace_matches_agree() {
        let (_dir, store) = store();
        for filter in FILTERS {
            let mut want: Vec<String> =
                WORKSPACES.iter().filter(|w| workspace_matches(filter, w)).map(|w| w.to_string()).collect();
            want.sort();
            assert_eq!(listed(&store, filter), want, "filter {filter:?}");
        }
        // And the rule itself, so that both agreeing on a wrong answer fails too.
        assert_eq!(
            listed(&store, "webapp"),
            ["/home/me/src/old/webapp", "/home/me/src/webapp", "/home/me/src/webapp/sub", "relative/webapp"]
        );
        assert_eq!(listed(&store, "/home/me/src/webapp/"), ["/home/me/src/webapp", "/home/me/src/webapp/sub"]);
        assert_eq!(listed(&store, "web"), ["/home/me/src/web"]);
        assert_eq!(listed(&store, "/").len(), 8);
        assert!(listed(&store, "").is_empty());
    }

    #[test]
    fn the_project_of_a_directory_is_the_nearest_workspace_at_or_above_it() {
        let (_dir, store) = store();
        let at = |d: &str| workspace_at_or_above(&store, d).unwrap();
        assert_eq!(at("/home/me/src/webapp").as_deref(), Some("/home/me/src/webapp"));
        assert_eq!(at("/home/me/src/webapp/sub/deeper").as_deref(), Some("/home/me/src/webapp/sub"));
        assert_eq!(at("/home/me/src/webapp/docs").as_deref(), Some("/home/me/src/webapp"));
        assert_eq!(at("/home/me/src/webapp-older"), None);
        assert_eq!(at("/home/me/src"), None);
    }

    #[test]
    fn sessions_are_newest_first_and_paged() {
        let (_dir, store) = store();
        let all = sessions(&store, &SessionFilter::default(), 100, 0).unwrap();
        assert_eq!(all.len(), 11);
        assert!(all.windows(2).all(|w| w[0].ended_at > w[1].ended_at));
        let page = sessions(&store, &SessionFilter::default(), 3, 2).unwrap();
        assert_eq!(page.iter().map(|c| c.id).collect::<Vec<_>>(), all[2..5].iter().map(|c| c.id).collect::<Vec<_>>());
        let since = SessionFilter { since: Some(1_008), ..Default::default() };
        assert_eq!(session_count(&store, &since).unwrap(), 3);
    }
}
