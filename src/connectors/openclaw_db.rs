//! OpenClaw 2.0's transcript store (v2026.8.1+):
//! `<state>/agents/<agent>/agent/openclaw-agent.sqlite`, one per agent,
//! written by the gateway in WAL mode.
//!
//! What it holds, as OpenClaw's own source writes and reads it (files
//! named in docs/CONNECTORS.md):
//!
//! * `transcript_events(session_id, seq, event_json, created_at, event_zstd,
//!   event_utf8_bytes)`: a session's transcript, one pi-mono session record
//!   a row in `seq` order, the same records its JSONL files held. An event
//!   of 1 KiB to 4 MiB may be stored as a Zstandard frame in `event_zstd`
//!   (`event_json` NULL) whose decoded length is `event_utf8_bytes`.
//! * `session_transcript_cold_archives`: a session idle long enough is
//!   moved out whole: its rows are written to one zstd-compressed JSONL
//!   envelope (a `header` line, then `event` lines `{seq, event_json,
//!   created_at}` and index records) and deleted from `transcript_events`.
//!   The envelope sits in the row (`storage = 'sqlite'`, `archive_blob`) or
//!   in `<agent>/sessions/cold/<sha256>.jsonl.zst` (`storage = 'file'`);
//!   `archive_sha256` and `archive_bytes` describe the compressed bytes.
//!   A session is either hot or cold, never split; both are read.
//! * `session_transcript_active_events`: a projection of the active branch
//!   (for the model's context and OpenClaw's search), derived from the
//!   events; not read, as the JSONL reader reads every record, not a branch.
//!
//! Each session is a conversation named as the JSONL reader names it (the
//! `session` record's id, else `session_id`; `<agent>/` before it for an
//! agent other than `main`), so one read from either store is the same
//! conversation id. Its change marker is its row count and newest `seq`
//! (rows are appended; a manual compaction rewrites them) and its archive's
//! digest. Damaged rows (undecodable frames, wrong lengths, bad JSON) are
//! reported per session and skipped; the rest is read.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;

use super::pi_agent::PiState;
use super::{ParseError, ParseSink, sqlite};
use crate::model::{ConversationHeader, Message, Usage};

/// The database's file name inside `agents/<agent>/agent/`.
pub(super) const DB_FILE: &str = "openclaw-agent.sqlite";

/// The largest event OpenClaw compresses (its `MAX_COMPRESSED_EVENT_BYTES`):
/// a frame that claims or yields more is damaged.
const MAX_EVENT_BYTES: u64 = 4 * 1024 * 1024;

/// The largest cold envelope OpenClaw writes, decoded (64 MiB) and
/// compressed (1 MiB more); anything larger is refused before it is read.
const MAX_ARCHIVE_DECODED: u64 = 64 * 1024 * 1024;
const MAX_ARCHIVE_BYTES: u64 = MAX_ARCHIVE_DECODED + 1024 * 1024;

/// Reads the sessions of `path` whose marker moved since `resume` (all of
/// them on a full read) and returns the state to save.
pub(super) fn parse_db(
    path: &Path,
    agent_prefix: &str,
    resume: Option<&Value>,
    sink: &mut dyn ParseSink,
) -> Result<Value, ParseError> {
    let mut reads = sqlite::SessionReads::resume(resume);
    let conn = sqlite::open_readonly(path)?;
    let err = |e| sqlite::error(path, e);
    let schema = Schema::sniff(&conn).map_err(err)?.ok_or_else(|| ParseError::Format {
        path: path.into(),
        message: "not an OpenClaw agent database (no transcript_events with session_id, seq, event_json)".into(),
    })?;
    for (sid, marker) in session_markers(&conn, &schema).map_err(err)? {
        if !reads.changed(&sid, marker, sink) {
            continue;
        }
        let sink = &mut reads.errors.recorder(&sid, sink);
        let mut session = Session::new(&sid, agent_prefix);
        if schema.cold {
            read_cold(&conn, path, &sid, &mut session, sink).map_err(err)?;
        }
        read_hot(&conn, &schema, &sid, &mut session, sink).map_err(err)?;
    }
    Ok(reads.state())
}

/// Whether the database at `path` holds session `sid` (hot or cold): the
/// JSONL reader leaves such a session to it. False when it cannot be read.
pub(super) fn holds_session(path: &Path, sid: &str) -> bool {
    let Ok(conn) = sqlite::open_readonly(path) else { return false };
    let Ok(Some(schema)) = Schema::sniff(&conn) else { return false };
    let mut sql = "SELECT EXISTS(SELECT 1 FROM transcript_events WHERE session_id = ?1)".to_string();
    if schema.cold {
        sql.push_str(" OR EXISTS(SELECT 1 FROM session_transcript_cold_archives WHERE session_id = ?1)");
    }
    conn.query_row(&sql, [sid], |r| r.get::<_, bool>(0)).unwrap_or(false)
}

/// Which of the optional parts this database has.
struct Schema {
    /// `event_zstd` and `event_utf8_bytes` exist.
    compressed: bool,
    /// `created_at` exists.
    created_at: bool,
    /// The cold-archive table exists with the columns read here.
    cold: bool,
}

impl Schema {
    /// None when `transcript_events` lacks what every build has.
    fn sniff(conn: &Connection) -> rusqlite::Result<Option<Schema>> {
        let events = sqlite::columns(conn, "transcript_events")?;
        let has = |cols: &[String], c: &str| cols.iter().any(|have| have == c);
        if !["session_id", "seq", "event_json"].iter().all(|c| has(&events, c)) {
            return Ok(None);
        }
        let cold = sqlite::columns(conn, "session_transcript_cold_archives")?;
        Ok(Some(Schema {
            compressed: has(&events, "event_zstd") && has(&events, "event_utf8_bytes"),
            created_at: has(&events, "created_at"),
            cold: ["session_id", "archive_name", "archive_sha256", "archive_bytes", "storage", "archive_blob"]
                .iter()
                .all(|c| has(&cold, c)),
        }))
    }
}

/// Every session with its change marker, ordered by id.
fn session_markers(conn: &Connection, schema: &Schema) -> rusqlite::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT session_id, COUNT(*), MAX(seq) FROM transcript_events GROUP BY session_id")?;
    let rows = stmt.query_map([], |r| {
        Ok((sqlite::text_of(r.get_ref(0)?).unwrap_or_default(), r.get::<_, i64>(1)?, sqlite::text_of(r.get_ref(2)?)))
    })?;
    for row in rows {
        let (sid, count, last) = row?;
        out.insert(sid, format!("hot:{count}:{}", last.unwrap_or_default()));
    }
    if schema.cold {
        let mut stmt = conn.prepare("SELECT session_id, archive_sha256 FROM session_transcript_cold_archives")?;
        let rows = stmt.query_map([], |r| {
            Ok((sqlite::text_of(r.get_ref(0)?).unwrap_or_default(), sqlite::text_of(r.get_ref(1)?).unwrap_or_default()))
        })?;
        for row in rows {
            let (sid, sha) = row?;
            let marker = out.entry(sid).or_default();
            marker.push_str(&format!(" cold:{sha}"));
        }
    }
    Ok(out)
}

/// One session being read: the shared pi-mono record state, fed event by
/// event from the archive and then the live rows.
struct Session<'a> {
    sid: &'a str,
    state: PiState,
}

impl<'a> Session<'a> {
    fn new(sid: &'a str, agent_prefix: &str) -> Self {
        let mut state = PiState::default();
        state.id_prefix = agent_prefix.to_string();
        state.external_id = format!("{agent_prefix}{sid}");
        Session { sid, state }
    }

    /// Reads one event's JSON (`where_` names it in reports); `created_at`
    /// (ms) dates a record that carries no time of its own.
    fn event(&mut self, json: &str, seq: i64, created_at: Option<i64>, where_: &str, sink: &mut dyn ParseSink) {
        let mut rec: Value = match serde_json::from_str(json) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return sink.malformed(0, format!("session {} {where_}: event is not a JSON object", self.sid)),
            Err(e) => return sink.malformed(0, format!("session {} {where_}: event is not JSON: {e}", self.sid)),
        };
        if let (Some(ms), Some(obj)) = (created_at, rec.as_object_mut())
            && obj.get("timestamp").is_none_or(Value::is_null)
        {
            obj.insert("timestamp".into(), Value::from(ms));
        }
        let offset = u64::try_from(seq).unwrap_or(0);
        let mut named = Named { sid: self.sid, where_, sink };
        self.state.record(&rec, 0, offset, &mut named);
    }
}

/// Puts the session and event in front of each report of the shared
/// record reader (which names lines, and a database has none).
struct Named<'a, 'b> {
    sid: &'a str,
    where_: &'a str,
    sink: &'b mut dyn ParseSink,
}

impl ParseSink for Named<'_, '_> {
    fn conversation(&mut self, header: ConversationHeader) {
        self.sink.conversation(header);
    }
    fn message(&mut self, message: Message) {
        self.sink.message(message);
    }
    fn malformed(&mut self, _line: u64, error: String) {
        self.sink.malformed(0, format!("session {} {}: {error}", self.sid, self.where_));
    }
    fn usage(&mut self, usage: Usage) {
        self.sink.usage(usage);
    }
}

/// The live rows of a session, decoded where compressed.
fn read_hot(
    conn: &Connection,
    schema: &Schema,
    sid: &str,
    session: &mut Session<'_>,
    sink: &mut dyn ParseSink,
) -> rusqlite::Result<()> {
    let sql = format!(
        "SELECT seq, event_json, {}, {} FROM transcript_events WHERE session_id = ?1 ORDER BY seq",
        if schema.compressed { "event_zstd, event_utf8_bytes" } else { "NULL, NULL" },
        if schema.created_at { "created_at" } else { "NULL" },
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([sid])?;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get::<_, Option<i64>>(0)?.unwrap_or(0);
        let where_ = format!("seq {seq}");
        let created_at = r.get::<_, Option<i64>>(4).ok().flatten();
        let json = match (sqlite::text_of(r.get_ref(1)?), r.get_ref(2)?) {
            (Some(json), _) => json,
            (None, rusqlite::types::ValueRef::Blob(frame)) => {
                let expected = r.get::<_, Option<i64>>(3).ok().flatten();
                match decode_event(frame, expected) {
                    Ok(json) => json,
                    Err(e) => {
                        sink.malformed(0, format!("session {sid} {where_}: compressed event {e}"));
                        continue;
                    }
                }
            }
            (None, _) => {
                sink.malformed(0, format!("session {sid} {where_}: event has neither JSON nor a compressed frame"));
                continue;
            }
        };
        session.event(&json, seq, created_at, &where_, sink);
    }
    Ok(())
}

/// A compressed event: a zstd frame whose decoded length must be
/// `expected` (at most 4 MiB), and UTF-8.
fn decode_event(frame: &[u8], expected: Option<i64>) -> Result<String, String> {
    let expected = expected
        .and_then(|n| u64::try_from(n).ok())
        .filter(|n| (1..=MAX_EVENT_BYTES).contains(n))
        .ok_or("has no valid event_utf8_bytes")?;
    let bytes = decode_zstd(frame, MAX_EVENT_BYTES)?;
    if bytes.len() as u64 != expected {
        return Err(format!("decodes to {} bytes, not the {expected} recorded", bytes.len()));
    }
    String::from_utf8(bytes).map_err(|_| "is not UTF-8".to_string())
}

/// Decodes one zstd frame, refusing output beyond `cap` bytes and frames
/// whose content checksum does not match.
fn decode_zstd(frame: &[u8], cap: u64) -> Result<Vec<u8>, String> {
    let mut decoder = ruzstd::decoding::StreamingDecoder::new_with_max_window_size(frame, cap.max(1 << 20))
        .map_err(|e| format!("is not a zstd frame: {e}"))?;
    let mut out = Vec::new();
    (&mut decoder).take(cap + 1).read_to_end(&mut out).map_err(|e| format!("does not decode: {e}"))?;
    if out.len() as u64 > cap {
        return Err(format!("decodes to more than {cap} bytes"));
    }
    let frame = &decoder.decoder;
    if let (Some(stored), Some(computed)) = (frame.get_checksum_from_data(), frame.get_calculated_checksum())
        && stored != computed
    {
        return Err("fails its checksum".into());
    }
    Ok(out)
}

/// The session's cold archive, if it has one: read, verified against its
/// recorded size and SHA-256, decoded and replayed. A missing or damaged
/// archive is reported for the session; its live rows are still read.
fn read_cold(
    conn: &Connection,
    db: &Path,
    sid: &str,
    session: &mut Session<'_>,
    sink: &mut dyn ParseSink,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT archive_name, archive_sha256, archive_bytes, storage, archive_blob
         FROM session_transcript_cold_archives WHERE session_id = ?1",
    )?;
    let row = stmt
        .query_row([sid], |r| {
            Ok((
                sqlite::text_of(r.get_ref(0)?).unwrap_or_default(),
                sqlite::text_of(r.get_ref(1)?).unwrap_or_default(),
                r.get::<_, Option<i64>>(2).ok().flatten(),
                sqlite::text_of(r.get_ref(3)?).unwrap_or_default(),
                match r.get_ref(4)? {
                    // Never copied beyond the bound (the size check then fails).
                    rusqlite::types::ValueRef::Blob(b) if b.len() as u64 <= MAX_ARCHIVE_BYTES => Some(b.to_vec()),
                    _ => None,
                },
            ))
        })
        .optional()?;
    let Some((name, sha, size, storage, blob)) = row else { return Ok(()) };
    let archive = Archive { name: &name, sha256: &sha, size, storage: &storage, blob };
    let envelope = match archive.verified_bytes(db).and_then(|b| decode_zstd(&b, MAX_ARCHIVE_DECODED)) {
        Ok(bytes) => bytes,
        Err(e) => {
            sink.malformed(0, format!("session {sid} cold archive {name}: {e}"));
            return Ok(());
        }
    };
    let mut header_seen = false;
    for (i, line) in envelope.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let where_ = format!("cold archive line {}", i + 1);
        let rec: Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => {
                sink.malformed(0, format!("session {sid} {where_}: not JSON: {e}"));
                continue;
            }
        };
        if !header_seen {
            let problem = if rec.get("kind").and_then(Value::as_str) != Some("header") {
                "no header line"
            } else if rec.get("sessionId").and_then(Value::as_str) != Some(sid) {
                "its header names another session"
            } else {
                header_seen = true;
                continue;
            };
            sink.malformed(0, format!("session {sid} cold archive {name}: {problem}"));
            return Ok(());
        }
        // Identity, active, index and search rows are OpenClaw's own projections.
        if rec.get("kind").and_then(Value::as_str) != Some("event") {
            continue;
        }
        let row = rec.get("row");
        let seq = row.and_then(|r| r.get("seq")).and_then(Value::as_i64).unwrap_or(0);
        let created_at = row.and_then(|r| r.get("created_at")).and_then(Value::as_i64);
        match row.and_then(|r| r.get("event_json")).and_then(Value::as_str) {
            Some(json) => session.event(json, seq, created_at, &format!("cold seq {seq}"), sink),
            None => sink.malformed(0, format!("session {sid} {where_}: event without event_json")),
        }
    }
    Ok(())
}

/// A cold archive as its row describes it.
struct Archive<'a> {
    name: &'a str,
    sha256: &'a str,
    size: Option<i64>,
    storage: &'a str,
    blob: Option<Vec<u8>>,
}

impl Archive<'_> {
    /// The compressed envelope, checked against the row's size and digest.
    fn verified_bytes(self, db: &Path) -> Result<Vec<u8>, String> {
        let size = self
            .size
            .and_then(|n| u64::try_from(n).ok())
            .filter(|&n| n <= MAX_ARCHIVE_BYTES)
            .ok_or("its recorded size is missing or above the 65 MiB bound")?;
        let bytes = match self.storage {
            "sqlite" => self.blob.ok_or("is stored in the database but has no bytes within the bound")?,
            "file" => {
                let path = cold_archive_path(db, self.name).ok_or("has an invalid file name")?;
                read_bounded(&path, size).map_err(|e| format!("cannot be read from {}: {e}", path.display()))?
            }
            other => return Err(format!("has an unknown storage '{other}'")),
        };
        if bytes.len() as u64 != size {
            return Err(format!("is {} bytes, not the {size} recorded", bytes.len()));
        }
        use sha2::Digest;
        let digest: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        if !digest.eq_ignore_ascii_case(self.sha256) {
            return Err("fails its SHA-256 check".into());
        }
        Ok(bytes)
    }
}

/// Where OpenClaw keeps a file archive: `cold/` in the agent's session
/// artifact directory, the `sessions` beside the database's `agent`
/// folder (its `resolveSessionArtifactDirectory`), else the database's own.
/// None for a name other than `<64 hex>.jsonl.zst` (never a path).
pub(super) fn cold_archive_path(db: &Path, name: &str) -> Option<PathBuf> {
    let hex = name.strip_suffix(".jsonl.zst")?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let dir = db.parent()?;
    let artifacts = match (dir.file_name(), dir.parent()) {
        (Some(n), Some(agent)) if n == "agent" => agent.join("sessions"),
        _ => dir.to_path_buf(),
    };
    Some(artifacts.join("cold").join(name))
}

/// Reads at most `size` bytes of a regular file (one byte more shows it
/// grew), through the same checked open as every source.
fn read_bounded(path: &Path, size: u64) -> std::io::Result<Vec<u8>> {
    let file = super::lines::open_source(path)?;
    let mut out = Vec::new();
    std::io::BufReader::new(file).take(size + 1).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    #[test]
    fn events_decode_only_at_their_recorded_length() {
        let json = r#"{"type":"message","message":{"role":"user","content":"hi"}}"#;
        let z = frame(json.as_bytes());
        assert_eq!(decode_event(&z, Some(json.len() as i64)).unwrap(), json);
        assert!(decode_event(&z, Some(json.len() as i64 + 1)).unwrap_err().contains("not the"));
        assert!(decode_event(&z, None).is_err());
        assert!(decode_event(&z, Some(5 * 1024 * 1024)).is_err());
        assert!(decode_event(b"not zstd", Some(8)).unwrap_err().contains("not a zstd frame"));
        let big = vec![b'a'; (MAX_EVENT_BYTES + 1) as usize];
        assert!(decode_zstd(&frame(&big), MAX_EVENT_BYTES).unwrap_err().contains("more than"));
    }

    #[test]
    fn archive_paths_follow_the_agent_layout() {
        let name = format!("{}.jsonl.zst", "ab".repeat(32));
        let db = Path::new("/s/agents/work/agent/openclaw-agent.sqlite");
        assert_eq!(cold_archive_path(db, &name).unwrap(), Path::new("/s/agents/work/sessions/cold").join(&name));
        assert_eq!(cold_archive_path(Path::new("/x/db.sqlite"), &name).unwrap(), Path::new("/x/cold").join(&name));
        assert!(cold_archive_path(db, "../../etc/passwd").is_none());
        assert!(cold_archive_path(db, &format!("{}.jsonl.zst", "AB".repeat(32))).is_none());
    }
}
