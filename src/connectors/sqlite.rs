//! Reading another program's live SQLite database without getting in its way:
//! read-only, a short busy timeout (a locked database is reported and retried
//! next run, never waited on), and the `-wal` watched as part of the source.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{ParseError, ParseSink};

/// How long a read waits for the owner's write lock before giving up. Short:
/// the editor must never wait on cass, and cass retries on its next run.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens `path` read-only (no create, no write lock ever taken). The path
/// must be a regular file, not a symlink (checked on an open descriptor
/// first, as every source is, and SQLite told not to follow links), so a
/// swap after discovery cannot hang the run on a FIFO or lead outside the
/// agent's folder.
pub fn open_readonly(path: &Path) -> Result<Connection, ParseError> {
    let _checked =
        super::lines::open_source(path).map_err(|e| ParseError::Io { path: path.to_path_buf(), source: e })?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )
    .map_err(|e| error(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| error(path, e))?;
    Ok(conn)
}

/// Classifies a SQLite failure: a lock held by the owner is "unreadable for
/// now" (reported with its reason); anything else is a format problem.
pub fn error(path: &Path, e: rusqlite::Error) -> ParseError {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked, NotADatabase};
    match e.sqlite_error_code() {
        Some(DatabaseBusy | DatabaseLocked) => ParseError::Unreadable {
            path: path.to_path_buf(),
            reason: format!(
                "database is locked by another process (gave up after {} s; will retry next run)",
                BUSY_TIMEOUT.as_secs()
            ),
            retry: true,
        },
        Some(NotADatabase) => {
            ParseError::Format { path: path.to_path_buf(), message: "not a SQLite database (or encrypted)".into() }
        }
        _ => ParseError::Format { path: path.to_path_buf(), message: format!("SQLite: {e}") },
    }
}

/// The write-ahead log beside a database: recent commits live there until a
/// checkpoint, so a change to it is a change to the database.
pub fn wal_of(path: &Path) -> Vec<PathBuf> {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    vec![PathBuf::from(name)]
}

/// Whether `table` exists, and its column names.
pub fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let rows = stmt.query_map([table], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// A column value as text whatever its storage class (Drizzle writes JSON as
/// TEXT, some builds as BLOB; timestamps may be INTEGER or TEXT).
pub fn text_of(v: rusqlite::types::ValueRef<'_>) -> Option<String> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}

/// The rows of `sql` as JSON objects of their non-NULL columns, each value
/// as text (see [`text_of`]): agents add columns release by release, so
/// readers look fields up by name and tolerate any subset.
pub fn rows_as_json(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<serde_json::Value>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
    let rows = stmt.query_map(params, |r| {
        let mut obj = serde_json::Map::new();
        for (i, name) in names.iter().enumerate() {
            if let Some(text) = text_of(r.get_ref(i)?) {
                obj.insert(name.clone(), serde_json::Value::String(text));
            }
        }
        Ok(serde_json::Value::Object(obj))
    })?;
    rows.collect()
}

/// What a database reader saved at its previous read: each session's
/// change marker (`sessions`) and the errors it recorded (`errors`); both
/// `None` on a full read or when the saved state is of another shape.
pub fn previous_read(
    resume: Option<&serde_json::Value>,
) -> (Option<std::collections::BTreeMap<String, String>>, Option<ErrorLedger>) {
    let saved = |key: &str| resume.and_then(|r| r.get(key)).cloned();
    (
        saved("sessions").and_then(|m| serde_json::from_value(m).ok()),
        saved("errors").and_then(|m| serde_json::from_value(m).ok()),
    )
}

/// A database read that reads again only the sessions whose change marker
/// moved since the previous read: what that read saved, and this read's
/// markers and error reports (saved as `sessions` and `errors`).
#[derive(Debug, Default)]
pub struct SessionReads {
    previous: Option<std::collections::BTreeMap<String, String>>,
    previous_errors: Option<ErrorLedger>,
    markers: std::collections::BTreeMap<String, String>,
    /// This read's reports, per session (record them through
    /// [`ErrorLedger::recorder`]).
    pub errors: ErrorLedger,
}

impl SessionReads {
    /// Starts a read from the state the previous one saved (none: a full read).
    pub fn resume(resume: Option<&serde_json::Value>) -> SessionReads {
        let (previous, previous_errors) = previous_read(resume);
        SessionReads { previous, previous_errors, ..SessionReads::default() }
    }

    /// Notes `sid`'s change marker; true when the session must be read (new,
    /// or its marker moved). An unchanged session's reports are replayed.
    pub fn changed(&mut self, sid: &str, marker: String, sink: &mut dyn ParseSink) -> bool {
        let unchanged = self.previous.as_ref().and_then(|p| p.get(sid)) == Some(&marker);
        self.markers.insert(sid.to_string(), marker);
        if unchanged {
            self.errors.replay(self.previous_errors.as_ref(), sid, sink);
        }
        !unchanged
    }

    /// The state to save for the next read.
    pub fn state(&self) -> serde_json::Value {
        serde_json::json!({ "sessions": self.markers, "errors": self.errors })
    }
}

/// The malformed-record reports of a database source, per conversation,
/// kept in its resume state. A refresh reads only changed conversations and
/// the writer clears the source's recorded errors first, so the reports of
/// unchanged conversations are replayed from here: counts stay exact instead
/// of piling up or vanishing.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ErrorLedger(std::collections::BTreeMap<String, Vec<String>>);

impl ErrorLedger {
    /// Reports again what `previous` recorded for an unchanged conversation.
    pub fn replay(&mut self, previous: Option<&ErrorLedger>, id: &str, sink: &mut dyn ParseSink) {
        if let Some(errors) = previous.and_then(|p| p.0.get(id)) {
            for e in errors {
                sink.malformed(0, e.clone());
            }
            self.0.insert(id.to_string(), errors.clone());
        }
    }

    /// A sink for reading conversation `id` that records its reports here.
    pub fn recorder<'a>(&'a mut self, id: &str, sink: &'a mut dyn ParseSink) -> Recorder<'a> {
        self.0.remove(id);
        Recorder { id: id.to_string(), ledger: self, sink }
    }
}

/// Forwards everything to the real sink, noting malformed reports.
pub struct Recorder<'a> {
    id: String,
    ledger: &'a mut ErrorLedger,
    sink: &'a mut dyn ParseSink,
}

impl ParseSink for Recorder<'_> {
    fn conversation(&mut self, header: crate::model::ConversationHeader) {
        self.sink.conversation(header);
    }
    fn message(&mut self, message: crate::model::Message) {
        self.sink.message(message);
    }
    fn malformed(&mut self, line: u64, error: String) {
        self.ledger.0.entry(self.id.clone()).or_default().push(error.clone());
        self.sink.malformed(line, error);
    }
    fn usage(&mut self, usage: crate::model::Usage) {
        self.sink.usage(usage);
    }
}
