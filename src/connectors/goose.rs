//! Goose (Block): one SQLite database, `<data>/sessions/sessions.db`, where
//! `<data>` is `$GOOSE_PATH_ROOT/data`, else the XDG data dir + `goose` on
//! Linux and macOS (Goose picks the XDG layout everywhere but Windows), else
//! `%APPDATA%\Block\goose\data` on Windows.
//!
//! Tables `sessions` (one row per session, updated in place: `name`,
//! `description`, `working_dir`, `updated_at`, token counters) and
//! `messages` (`role`, `content_json`, `created_timestamp` in epoch
//! seconds, `metadata_json`). Content is Goose's `MessageContent` list:
//! `text`, `thinking`, `toolRequest` (`toolCall: {status, value: {name,
//! arguments}}`), `toolResponse` (`toolResult: {status, value: {content}}`,
//! stored in a `user` row), and UI-only kinds.
//!
//! Before its SQLite store (v1.10-ish), Goose wrote one `<id>.jsonl` per
//! session beside where the database now lives: a metadata line, then one
//! message per line. Goose imports those into the database when it creates
//! it; a JSONL session is read only while the database beside it does not
//! hold it, so nothing is indexed twice.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::Value;

use super::content::{self, str_field};
use super::document::{emit_conversation, message};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Platform, Root, SourceLayout, sqlite};
use crate::model::{Agent, ConversationHeader, Message, Role};
use crate::time;

/// Reads Goose sessions from `sessions.db` and legacy per-session JSONL files.
pub struct Goose;

const DB_NAME: &str = "sessions.db";

impl Connector for Goose {
    fn agent(&self) -> Agent {
        Agent::Goose
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let mut roots = Vec::new();
        if let Some(root) = env.path_var("GOOSE_PATH_ROOT") {
            roots.push(Root { path: root.join("data/sessions"), origin: "GOOSE_PATH_ROOT" });
            return roots;
        }
        match env.platform {
            Platform::Windows => {
                let (appdata, origin) = env.app_config_dir();
                roots.push(Root { path: appdata.join("Block/goose/data/sessions"), origin });
            }
            // The XDG layout on macOS too, and XDG_DATA_HOME honoured there.
            Platform::Linux | Platform::MacOs => match env.path_var("XDG_DATA_HOME") {
                Some(dir) => roots.push(Root { path: dir.join("goose/sessions"), origin: "XDG_DATA_HOME" }),
                None => roots.push(Root { path: env.home.join(".local/share/goose/sessions"), origin: "default" }),
            },
        }
        roots.push(Root { path: env.home.join(".goose/sessions"), origin: "default (before 1.0)" });
        roots
    }

    fn is_source(&self, root: &Path, path: &Path) -> bool {
        let in_root = path.parent() == Some(root);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        in_root && (name == DB_NAME || name.ends_with(".jsonl"))
    }

    fn layout(&self, path: &Path) -> SourceLayout {
        if is_db(path) { SourceLayout::Database } else { SourceLayout::WholeFile }
    }

    fn companions(&self, path: &Path) -> Vec<PathBuf> {
        if is_db(path) { sqlite::wal_of(path) } else { Vec::new() }
    }

    /// Goose's database and files are shallow: the sessions dir itself.
    fn walk_depth(&self) -> usize {
        0
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let mut end = super::document::whole_file_end(req.path);
        if is_db(req.path) {
            end.resume = Some(parse_db(req.path, req.resume, sink)?);
        } else {
            parse_legacy(req.path, sink)?;
        }
        Ok(end)
    }
}

fn is_db(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == DB_NAME)
}

/// Reads the database; with `resume` (each session's change marker from the
/// previous read) only sessions whose marker moved are emitted.
fn parse_db(path: &Path, resume: Option<&Value>, sink: &mut dyn ParseSink) -> Result<Value, ParseError> {
    let mut reads = sqlite::SessionReads::resume(resume);
    let conn = sqlite::open_readonly(path)?;
    let err = |e| sqlite::error(path, e);
    if sqlite::columns(&conn, "sessions").map_err(err)?.is_empty()
        || sqlite::columns(&conn, "messages").map_err(err)?.is_empty()
    {
        return Err(ParseError::Format {
            path: path.into(),
            message: "not a Goose database (no sessions or messages table)".into(),
        });
    }
    let sessions = sqlite::rows_as_json(&conn, "SELECT * FROM sessions ORDER BY id", []).map_err(err)?;
    for session in sessions {
        let Some(sid) = str_field(&session, "id").map(str::to_string) else { continue };
        // A message is inserted without touching its session row, so the
        // marker also counts the rows and the newest one.
        let (count, newest): (i64, Option<i64>) = conn
            .query_row("SELECT COUNT(*), MAX(id) FROM messages WHERE session_id = ?1", [&sid], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(err)?;
        let marker = format!("{}|{count}|{}", str_field(&session, "updated_at").unwrap_or(""), newest.unwrap_or(0));
        if !reads.changed(&sid, marker, sink) {
            continue;
        }
        let sink = &mut reads.errors.recorder(&sid, sink);
        let rows = session_messages(&conn, &sid).map_err(err)?;
        emit_session(sink, &session, &sid, &rows);
    }
    Ok(reads.state())
}

fn session_messages(conn: &Connection, sid: &str) -> rusqlite::Result<Vec<Value>> {
    sqlite::rows_as_json(conn, "SELECT * FROM messages WHERE session_id = ?1 ORDER BY created_timestamp, id", [sid])
}

/// The session's header: `name` (set by the user or generated), else the
/// older `description`; both default to `''`, which means none.
fn session_header(session: &Value, sid: &str) -> ConversationHeader {
    let title = str_field(session, "name").or_else(|| str_field(session, "description")).map(str::to_string);
    ConversationHeader {
        external_id: sid.to_string(),
        title_explicit: title.is_some(),
        title,
        workspace: str_field(session, "working_dir").map(str::to_string),
    }
}

/// The model of a session: `model_config_json.model_name` (Goose ≥ 1.9).
fn session_model(session: &Value) -> Option<String> {
    let config: Value = serde_json::from_str(str_field(session, "model_config_json")?).ok()?;
    str_field(&config, "model_name").map(str::to_string)
}

fn emit_session(sink: &mut dyn ParseSink, session: &Value, sid: &str, rows: &[Value]) {
    let model = session_model(session);
    let mut out = Vec::new();
    for row in rows {
        let id = str_field(row, "id").unwrap_or("?");
        if let Some(meta) = str_field(row, "metadata_json").and_then(|m| serde_json::from_str::<Value>(m).ok())
            && meta.get("userVisible").and_then(Value::as_bool) == Some(false)
        {
            continue; // Goose's own bookkeeping (compaction summaries), never shown
        }
        let blocks = match str_field(row, "content_json").map(serde_json::from_str::<Value>) {
            Some(Ok(Value::Array(blocks))) => blocks,
            Some(Ok(_)) => {
                sink.malformed(0, format!("session {sid} message {id}: content_json is not a list"));
                continue;
            }
            Some(Err(e)) => {
                sink.malformed(0, format!("session {sid} message {id}: invalid JSON in content_json: {e}"));
                continue;
            }
            None => continue,
        };
        let label = str_field(row, "role").unwrap_or("");
        let Some(role) = Role::from_agent_label(label) else {
            sink.malformed(0, format!("session {sid} message {id}: unknown role '{label}'"));
            continue;
        };
        let created_at = row.get("created_timestamp").and_then(time::parse_value);
        out.extend(to_messages(role, &blocks, created_at, model.as_deref()));
    }
    emit_conversation(sink, session_header(session, sid), out);
}

/// One stored Goose message as normalized messages: its text and tool-call
/// lines as one message of its role, then each tool response as a `tool`
/// message (Goose stores responses in `user` rows; a row of nothing but
/// responses is no user turn).
fn to_messages(role: Role, blocks: &[Value], created_at: Option<i64>, model: Option<&str>) -> Vec<Message> {
    let mut lines: Vec<String> = Vec::new();
    let mut outputs: Vec<String> = Vec::new();
    for block in blocks {
        match str_field(block, "type").unwrap_or("") {
            "text" => lines.extend(str_field(block, "text").map(str::to_string)),
            "toolRequest" | "frontendToolRequest" => {
                let call = tool_value(block.get("toolCall"));
                let name = call.and_then(|c| str_field(c, "name")).unwrap_or("tool");
                lines.push(content::tool_call_line(name, call.and_then(|c| c.get("arguments"))));
            }
            "toolResponse" => outputs.extend(tool_response_text(block.get("toolResult"))),
            _ => {} // thinking, redactedThinking, image, confirmations, notifications
        }
    }
    let mut out = Vec::new();
    let text = lines.join("\n");
    if !text.trim().is_empty() {
        let author = if role == Role::Assistant { model.map(str::to_string) } else { None };
        out.push(message(role, author, created_at, text));
    }
    for o in outputs {
        out.push(message(Role::Tool, None, created_at, o));
    }
    out
}

/// The payload of a Goose `ToolResult`: `{status: "success", value}`, or
/// the older `{"Ok": value}`. An error has no value.
fn tool_value(result: Option<&Value>) -> Option<&Value> {
    let r = result?;
    r.get("value").or_else(|| r.get("Ok"))
}

/// A tool response's text: the text items of `value.content` (or of
/// `value` itself in builds that stored the content list directly), with
/// `[tool error] ` before failures.
fn tool_response_text(result: Option<&Value>) -> Option<String> {
    let r = result?;
    if let Some(e) = r.get("error").or_else(|| r.get("Err")) {
        let msg = e.as_str().map(str::to_string).unwrap_or_else(|| e.to_string());
        return Some(format!("[tool error] {msg}"));
    }
    let value = tool_value(Some(r))?;
    let items = value.get("content").unwrap_or(value);
    let text = content::tool_output(items)?;
    if text.trim().is_empty() {
        return None;
    }
    if value.get("isError").and_then(Value::as_bool) == Some(true) {
        Some(format!("[tool error] {text}"))
    } else {
        Some(text)
    }
}

/// A pre-database session file: a metadata line (`working_dir`,
/// `description`), then one `{role, created, content}` message per line.
/// Goose rewrote these whole, so they are read whole.
fn parse_legacy(path: &Path, sink: &mut dyn ParseSink) -> Result<(), ParseError> {
    let sid = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if imported(path, &sid) {
        return Ok(());
    }
    let mut header = ConversationHeader { external_id: sid, ..Default::default() };
    let mut out = Vec::new();
    let full = ParseRequest { path, start_offset: 0, start_line: 1, resume: None };
    super::lines::parse_jsonl(&full, sink, |rec, line, _, sink| {
        if rec.get("role").is_none() {
            if line == 1 {
                header.workspace = str_field(rec, "working_dir").map(str::to_string);
                header.title = str_field(rec, "description").map(str::to_string);
                header.title_explicit = header.title.is_some();
            } else {
                sink.malformed(line, "message line has no role".into());
            }
            return;
        }
        let label = str_field(rec, "role").unwrap_or("");
        let Some(role) = Role::from_agent_label(label) else {
            sink.malformed(line, format!("unknown role '{label}'"));
            return;
        };
        let Some(blocks) = rec.get("content").and_then(Value::as_array) else {
            sink.malformed(line, "message content is not a list".into());
            return;
        };
        let created_at = rec.get("created").or_else(|| rec.get("created_at")).and_then(time::parse_value);
        out.extend(to_messages(role, blocks, created_at, None));
    })?;
    emit_conversation(sink, header, out);
    Ok(())
}

/// Whether the database beside a legacy file holds its session (Goose
/// imported it on creating the database). A database that cannot be read
/// now counts as not holding it.
fn imported(legacy: &Path, sid: &str) -> bool {
    let db = legacy.with_file_name(DB_NAME);
    if !db.is_file() {
        return false;
    }
    let Ok(conn) = sqlite::open_readonly(&db) else { return false };
    conn.query_row("SELECT 1 FROM sessions WHERE id = ?1", [sid], |_| Ok(())).is_ok()
}
