//! Reads shared by the front ends: counts, conversations and messages.

use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Result;
use crate::model::{Conversation, Role, StoredMessage};

/// Per-agent totals, from the per-conversation counters (no message scan).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AgentTotals {
    pub agent: String,
    pub conversations: i64,
    pub messages: i64,
}

pub fn agent_totals(conn: &Connection) -> Result<Vec<AgentTotals>> {
    let mut stmt = conn.prepare(
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
    pub malformed: i64,
    pub unreadable: Option<String>,
}

/// Recorded errors per source path.
pub fn source_errors(conn: &Connection) -> Result<std::collections::HashMap<String, SourceErrors>> {
    let mut stmt = conn.prepare("SELECT path, line, message FROM ingest_errors ORDER BY id")?;
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

const CONV_COLS: &str = "id, agent, external_id, source_path, title, workspace, started_at, ended_at, message_count";

fn conv_from_row(r: &Row<'_>) -> rusqlite::Result<Conversation> {
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
    })
}

pub fn conversation(conn: &Connection, id: i64) -> Result<Option<Conversation>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {CONV_COLS} FROM conversations WHERE id = ?1"))?
        .query_row([id], conv_from_row)
        .optional()?)
}

pub fn conversations_by_source(conn: &Connection, path: &str) -> Result<Vec<Conversation>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {CONV_COLS} FROM conversations WHERE source_path = ?1 ORDER BY id"))?;
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

pub fn messages_of(conn: &Connection, conversation_id: i64) -> Result<Vec<StoredMessage>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {MSG_COLS} FROM messages WHERE conversation_id = ?1 ORDER BY ordinal"))?;
    let rows = stmt.query_map([conversation_id], msg_from_row)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

pub fn message(conn: &Connection, id: i64) -> Result<Option<StoredMessage>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {MSG_COLS} FROM messages WHERE id = ?1"))?
        .query_row([id], msg_from_row)
        .optional()?)
}

/// Messages `before` ordinals before and `after` after one ordinal.
pub fn messages_around(
    conn: &Connection,
    conversation_id: i64,
    ordinal: i64,
    before: i64,
    after: i64,
) -> Result<Vec<StoredMessage>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MSG_COLS} FROM messages WHERE conversation_id = ?1 AND ordinal BETWEEN ?2 AND ?3 ORDER BY ordinal"
    ))?;
    let rows = stmt.query_map(params![conversation_id, ordinal - before, ordinal + after], msg_from_row)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Up to `limit` messages just before `ordinal`, in ordinal order. Keyset
/// paging, so gaps in ordinals are fine (the detail pane pages with it).
pub fn messages_before(
    conn: &Connection,
    conversation_id: i64,
    ordinal: i64,
    limit: i64,
) -> Result<Vec<StoredMessage>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MSG_COLS} FROM messages WHERE conversation_id = ?1 AND ordinal < ?2 ORDER BY ordinal DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![conversation_id, ordinal, limit], msg_from_row)?;
    let mut out: Vec<StoredMessage> = rows.collect::<std::result::Result<_, _>>()?;
    out.reverse();
    Ok(out)
}

/// Up to `limit` messages after `ordinal`, in ordinal order.
pub fn messages_after(conn: &Connection, conversation_id: i64, ordinal: i64, limit: i64) -> Result<Vec<StoredMessage>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MSG_COLS} FROM messages WHERE conversation_id = ?1 AND ordinal > ?2 ORDER BY ordinal LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![conversation_id, ordinal, limit], msg_from_row)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The workspaces with the most conversations, most first.
pub fn top_workspaces(conn: &Connection, limit: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT workspace FROM conversations WHERE workspace IS NOT NULL
         GROUP BY workspace ORDER BY COUNT(*) DESC, workspace LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| r.get(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}
