//! What the store holds per machine (see the v5 migration): totals, a
//! machine's removal, and its workspaces re-mapped.

use rusqlite::params;

use super::ingest::{IngestTx, mark_dirty};
use super::{Result, Store};

/// Conversations and messages one machine contributed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceTotals {
    /// `local` or a machine's name.
    pub source: String,
    /// Its conversations in the store.
    pub conversations: i64,
    /// Their messages.
    pub messages: i64,
}

/// Totals per machine, `local` first.
pub fn source_totals(store: &Store) -> Result<Vec<SourceTotals>> {
    let mut stmt = store.conn.prepare(
        "SELECT source, COUNT(*), COALESCE(SUM(message_count), 0) FROM conversations
         GROUP BY source ORDER BY source <> 'local', source",
    )?;
    let rows =
        stmt.query_map([], |r| Ok(SourceTotals { source: r.get(0)?, conversations: r.get(1)?, messages: r.get(2)? }))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Removes every conversation of machine `name` (their messages with them,
/// their lexical documents through the dirty marks) and what the store
/// remembers of its mirrored files (below `mirror`): `cass sources
/// remove`. Returns the conversations and messages removed.
pub fn remove_source(store: &mut Store, name: &str, mirror: &str) -> Result<(i64, i64)> {
    let convs: Vec<(i64, i64)> = store
        .conn
        .prepare("SELECT id, message_count FROM conversations WHERE source = ?1")?
        .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<std::result::Result<_, _>>()?;
    let tx = IngestTx(store.conn.transaction()?);
    for (id, _) in &convs {
        mark_dirty(&tx, *id)?;
        tx.0.prepare_cached("DELETE FROM conversations WHERE id = ?1")?.execute([id])?;
    }
    let below = format!("{}/", mirror.trim_end_matches('/'));
    let prefix = "substr(path, 1, length(?1)) = ?1";
    tx.0.execute(&format!("DELETE FROM file_state WHERE {prefix}"), params![below])?;
    tx.0.execute(&format!("DELETE FROM ingest_errors WHERE {prefix}"), params![below])?;
    tx.commit()?;
    Ok((convs.len() as i64, convs.iter().map(|c| c.1).sum()))
}

/// Re-maps the workspaces of machine `name`'s conversations from the
/// workspace each machine wrote (`origin_workspace`) with `map`, after its
/// mappings changed. The lexical index and usage sums follow through the
/// store's triggers. Returns how many conversations changed.
pub fn remap_workspaces(store: &mut Store, name: &str, map: &dyn Fn(&str) -> String) -> Result<usize> {
    let rows: Vec<(i64, String, Option<String>)> = store
        .conn
        .prepare("SELECT id, origin_workspace, workspace FROM conversations WHERE source = ?1 AND origin_workspace IS NOT NULL")?
        .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<std::result::Result<_, _>>()?;
    let tx = IngestTx(store.conn.transaction()?);
    let mut changed = 0;
    for (id, origin, current) in rows {
        let mapped = map(&origin);
        if current.as_deref() != Some(mapped.as_str()) {
            tx.0.prepare_cached("UPDATE conversations SET workspace = ?2 WHERE id = ?1")?
                .execute(params![id, mapped])?;
            changed += 1;
        }
    }
    tx.commit()?;
    Ok(changed)
}
