//! OpenCode: sessions under its XDG data directory (on every platform:
//! `~/.local/share/opencode` by default), in one of two stores.
//!
//! * Before 1.2, a JSON tree: `storage/session/<project>/<session>.json`,
//!   `storage/message/<session>/<message>.json`, and
//!   `storage/part/<message>/<part>.json` (message text lives only in
//!   parts). The session file is the source; its message and part files are
//!   its companions, so a new part re-reads the session.
//! * From 1.2, SQLite `opencode.db` (sessions found in both are read from
//!   the database only): tables `session`, `message` and `part`,
//!   the latter two holding the same JSON in a `data` column. Read-only, with
//!   a busy timeout, watched together with its `-wal`; when it changes, only
//!   sessions whose `time_updated` moved are read again.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::Value;

use super::content::{self, str_field};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout, sqlite};
use crate::model::{Agent, ConversationHeader, Role, Usage};
use crate::time;

/// Reads OpenCode sessions from its JSON tree (before 1.2) or its SQLite database.
pub struct OpenCode;

impl Connector for OpenCode {
    fn agent(&self) -> Agent {
        Agent::OpenCode
    }

    /// OpenCode resolves its data directory with the XDG rules on every
    /// platform (`$XDG_DATA_HOME`, else `~/.local/share`; its `Global.Path`
    /// uses `xdg-basedir`, which knows no other convention), so on macOS it
    /// is not under `~/Library`, nor under `%APPDATA%` on Windows.
    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let (data, origin) = match env.path_var("XDG_DATA_HOME") {
            Some(dir) => (dir, "XDG_DATA_HOME"),
            None => (env.home.join(".local/share"), "default"),
        };
        let mut roots = Vec::new();
        match env.path_var("OPENCODE_STORAGE_ROOT") {
            Some(dir) => roots.push(Root { path: dir, origin: "OPENCODE_STORAGE_ROOT" }),
            None => roots.push(Root { path: data.join("opencode/storage"), origin }),
        }
        match env.path_var("OPENCODE_SQLITE_DB") {
            // The root is a directory; is_source picks `.db` files directly in it.
            Some(db) => roots.push(Root {
                path: db.parent().map(Path::to_path_buf).unwrap_or_default(),
                origin: "OPENCODE_SQLITE_DB",
            }),
            None => roots.push(Root { path: data.join("opencode"), origin }),
        }
        roots
    }

    fn is_source(&self, root: &Path, path: &Path) -> bool {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "db" {
            return path.parent() == Some(root);
        }
        // `<root>/session/<project>/<session>.json`, the root being `storage/`.
        let grandparent = path.parent().and_then(Path::parent).and_then(Path::file_name);
        ext == "json" && grandparent.is_some_and(|n| n == "session") && storage_of(path) == Some(root)
    }

    fn layout(&self, path: &Path) -> SourceLayout {
        if path.extension().is_some_and(|e| e == "db") { SourceLayout::Database } else { SourceLayout::WholeFile }
    }

    fn companions(&self, path: &Path) -> Vec<PathBuf> {
        self.companions_listed(path, &super::local_files)
    }

    fn companions_listed(&self, path: &Path, list: &dyn Fn(&Path) -> Vec<PathBuf>) -> Vec<PathBuf> {
        if path.extension().is_some_and(|e| e == "db") {
            return sqlite::wal_of(path);
        }
        let (Some(storage), Some(sid)) = (storage_of(path), path.file_stem()) else { return Vec::new() };
        let json = |dir: &Path| -> Vec<PathBuf> {
            list(dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "json")).collect()
        };
        let mut out = Vec::new();
        for msg in json(&storage.join("message").join(sid)) {
            if let Some(mid) = msg.file_stem() {
                out.extend(json(&storage.join("part").join(mid)));
            }
            out.push(msg);
        }
        out
    }

    fn reads_usage(&self) -> bool {
        true
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let mut end = super::document::whole_file_end(req.path);
        if req.path.extension().is_some_and(|e| e == "db") {
            end.resume = Some(parse_db(req.path, req.resume, sink)?);
        } else {
            parse_tree(req.path, sink)?;
        }
        Ok(end)
    }
}

/// `storage/` from `storage/session/<project>/<session>.json`.
fn storage_of(session_file: &Path) -> Option<&Path> {
    session_file.parent()?.parent()?.parent()
}

/// The `.json` files of a directory, sorted by name (OpenCode ids sort by time).
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn parse_tree(path: &Path, sink: &mut dyn ParseSink) -> Result<(), ParseError> {
    let session = super::document::read_json(path)?;
    let storage = storage_of(path).unwrap_or(Path::new("."));
    let sid = str_field(&session, "id")
        .map(str::to_string)
        .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    if migrated(storage, &sid) {
        return Ok(());
    }
    let mut messages: Vec<(Value, Vec<Value>)> = Vec::new();
    for file in json_files(&storage.join("message").join(&sid)) {
        let Some(msg) = read_member(&file, sink) else { continue };
        let mid = str_field(&msg, "id")
            .map(str::to_string)
            .unwrap_or_else(|| file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
        let parts = json_files(&storage.join("part").join(&mid)).iter().filter_map(|p| read_member(p, sink)).collect();
        messages.push((msg, parts));
    }
    messages.sort_by_key(|(m, _)| m.pointer("/time/created").and_then(time::parse_value).unwrap_or(i64::MAX));
    emit(sink, &session_header(&session, &sid), messages);
    Ok(())
}

/// Whether OpenCode ≥ 1.2 has imported this session into the database
/// beside the tree (`storage/../opencode.db`): the database copy is the one
/// indexed, so the session is not indexed twice. A database that cannot be
/// read now counts as not having it (the tree copy is indexed instead).
fn migrated(storage: &Path, sid: &str) -> bool {
    let db = storage.parent().map(|d| d.join("opencode.db"));
    let Some(db) = db.filter(|d| d.is_file()) else { return false };
    let Ok(conn) = sqlite::open_readonly(&db) else { return false };
    conn.query_row("SELECT 1 FROM session WHERE id = ?1", [sid], |_| Ok(())).is_ok()
}

/// A message or part file; a broken one is reported and skipped, the rest
/// of the session still indexed.
fn read_member(path: &Path, sink: &mut dyn ParseSink) -> Option<Value> {
    match super::document::read_json(path) {
        Ok(v) => Some(v),
        Err(e) => {
            sink.malformed(0, e.to_string());
            None
        }
    }
}

fn session_header(session: &Value, sid: &str) -> ConversationHeader {
    let title = str_field(session, "title").map(str::to_string);
    ConversationHeader {
        external_id: sid.to_string(),
        title_explicit: title.is_some(),
        title,
        workspace: str_field(session, "directory").map(str::to_string),
    }
}

/// Turns messages with their parts into normalized messages: text parts
/// join into the message; a tool part adds a `[tool: …]` line and its output
/// follows as a `tool` message; reasoning, step markers and snapshots stay out.
fn emit(sink: &mut dyn ParseSink, header: &ConversationHeader, messages: Vec<(Value, Vec<Value>)>) {
    let mut out = Vec::new();
    let mut calls = Vec::new();
    for (msg, parts) in messages {
        let label = str_field(&msg, "role").unwrap_or("");
        let Some(role) = Role::from_agent_label(label) else {
            sink.malformed(0, format!("message {}: unknown role '{label}'", str_field(&msg, "id").unwrap_or("?")));
            continue;
        };
        let created_at = msg.pointer("/time/created").and_then(time::parse_value);
        let author = match role {
            Role::Assistant => str_field(&msg, "modelID").map(str::to_string),
            _ => None,
        };
        let mut lines: Vec<String> = Vec::new();
        let mut outputs: Vec<String> = Vec::new();
        for part in &parts {
            match str_field(part, "type").unwrap_or("") {
                "text" => lines.extend(str_field(part, "text").map(str::to_string)),
                "tool" => {
                    let name = str_field(part, "tool").unwrap_or("tool");
                    let state = part.get("state");
                    lines.push(content::tool_call_line(name, state.and_then(|s| s.get("input"))));
                    let output = state.and_then(|s| s.get("output").or_else(|| s.get("error")));
                    if let Some(text) = output.and_then(content::tool_output)
                        && !text.trim().is_empty()
                    {
                        outputs.push(text);
                    }
                }
                "file" => {
                    let name = str_field(part, "filename").or_else(|| str_field(part, "url")).unwrap_or("file");
                    lines.push(format!("[file: {name}]"));
                }
                _ => {} // reasoning, step-start, step-finish, snapshot, patch
            }
        }
        let text = lines.join("\n");
        if !text.trim().is_empty() {
            out.push(super::document::message(role, author, created_at, text));
        }
        for o in outputs {
            out.push(super::document::message(Role::Tool, None, created_at, o));
        }
        if role == Role::Assistant
            && let Some(u) = call_usage(&msg, created_at)
        {
            calls.push((out.len(), u));
        }
    }
    super::document::emit_with_usage(sink, header.clone(), out, calls);
}

/// The tokens of an assistant message (`tokens`: `input`, `output`,
/// `reasoning`, `cache.read`, `cache.write`), or None without counts or
/// time. OpenCode keeps cache tokens out of `input` and reasoning out of
/// `output` (its cost charges reasoning at the output rate). The
/// message-level counts are the sum of its steps' (`step-finish` parts),
/// so only they are read. The message id names the call.
fn call_usage(msg: &Value, created_at: Option<i64>) -> Option<Usage> {
    let tokens = msg.get("tokens")?.as_object()?;
    let n = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
    let cache = tokens.get("cache");
    let (input, output, reasoning) = (n(tokens.get("input")), n(tokens.get("output")), n(tokens.get("reasoning")));
    let (read, write) = (n(cache.and_then(|c| c.get("read"))), n(cache.and_then(|c| c.get("write"))));
    if input + output + reasoning + read + write == 0 {
        return None; // a message still streaming, or an error before any call
    }
    Some(Usage {
        created_at: created_at?,
        model: str_field(msg, "modelID").map(str::to_string),
        input,
        output: output + reasoning,
        cache_write: write,
        cache_write_1h: 0,
        cache_read: read,
        reasoning,
        request_key: str_field(msg, "id").map(|id| format!("opencode:{id}")),
        line_offset: None,
    })
}

/// Reads the database. With `resume` (the sessions' `time_updated` saved by
/// the previous read) only sessions that changed are read and emitted.
/// Returns the markers to save.
fn parse_db(path: &Path, resume: Option<&Value>, sink: &mut dyn ParseSink) -> Result<Value, ParseError> {
    let (previous, previous_errors) = sqlite::previous_read(resume);
    let mut errors = sqlite::ErrorLedger::default();
    let conn = sqlite::open_readonly(path)?;
    let err = |e| sqlite::error(path, e);
    let cols = sqlite::columns(&conn, "session").map_err(err)?;
    if cols.is_empty() {
        return Err(ParseError::Format {
            path: path.into(),
            message: "not an OpenCode database (no session table)".into(),
        });
    }
    let mut markers = std::collections::BTreeMap::new();
    for session in db_sessions(&conn, &cols).map_err(err)? {
        let sid = str_field(&session, "id").unwrap_or_default().to_string();
        // Without a time_updated column every read is a full one.
        let marker = str_field(&session, "time_updated").map(str::to_string);
        let unchanged = marker.is_some() && previous.as_ref().and_then(|p| p.get(&sid)) == marker.as_ref();
        if let Some(m) = marker {
            markers.insert(sid.clone(), m);
        }
        if unchanged {
            errors.replay(previous_errors.as_ref(), &sid, sink);
            continue;
        }
        let sink = &mut errors.recorder(&sid, sink);
        let messages = db_messages(&conn, &sid, sink).map_err(err)?;
        emit(sink, &session_header(&session, &sid), messages);
    }
    Ok(serde_json::json!({ "sessions": markers, "errors": errors }))
}

/// Session rows as JSON objects, whatever subset of columns this build has.
fn db_sessions(conn: &Connection, cols: &[String]) -> rusqlite::Result<Vec<Value>> {
    let order = if cols.iter().any(|c| c == "time_created") { "time_created, id" } else { "id" };
    let mut stmt = conn.prepare(&format!("SELECT * FROM session ORDER BY {order}"))?;
    let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
    let rows = stmt.query_map([], |r| {
        let mut obj = serde_json::Map::new();
        for (i, name) in names.iter().enumerate() {
            if let Some(text) = sqlite::text_of(r.get_ref(i)?) {
                obj.insert(name.clone(), Value::String(text));
            }
        }
        Ok(Value::Object(obj))
    })?;
    rows.collect()
}

/// A session's messages (with their parts), in creation order. The JSON in
/// the `data` columns is the same shape as the old tree's files.
fn db_messages(conn: &Connection, sid: &str, sink: &mut dyn ParseSink) -> rusqlite::Result<Vec<(Value, Vec<Value>)>> {
    let mut stmt = conn
        .prepare_cached("SELECT id, data, time_created FROM message WHERE session_id = ?1 ORDER BY time_created, id")?;
    let rows = stmt.query_map([sid], |r| {
        Ok((r.get::<_, String>(0)?, sqlite::text_of(r.get_ref(1)?), sqlite::text_of(r.get_ref(2)?)))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (mid, data, created) = row?;
        let Some(mut msg) = db_json(&format!("message {mid}"), data, sink) else { continue };
        if let Some(obj) = msg.as_object_mut() {
            obj.entry("id").or_insert_with(|| Value::String(mid.clone()));
            if msg.pointer("/time/created").is_none()
                && let (Some(obj), Some(c)) = (msg.as_object_mut(), created)
            {
                obj.insert("time".into(), serde_json::json!({ "created": c }));
            }
        }
        let mut pstmt = conn.prepare_cached("SELECT id, data FROM part WHERE message_id = ?1 ORDER BY id")?;
        let prows = pstmt.query_map([&mid], |r| Ok((r.get::<_, String>(0)?, sqlite::text_of(r.get_ref(1)?))))?;
        let mut parts = Vec::new();
        for prow in prows {
            let (pid, pdata) = prow?;
            parts.extend(db_json(&format!("part {pid}"), pdata, sink));
        }
        out.push((msg, parts));
    }
    Ok(out)
}

fn db_json(what: &str, data: Option<String>, sink: &mut dyn ParseSink) -> Option<Value> {
    match serde_json::from_str::<Value>(data.as_deref().unwrap_or("")) {
        Ok(v) if v.is_object() => Some(v),
        Ok(_) => {
            sink.malformed(0, format!("{what}: data is not a JSON object"));
            None
        }
        Err(e) => {
            sink.malformed(0, format!("{what}: invalid JSON: {e}"));
            None
        }
    }
}
