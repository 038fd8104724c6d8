//! Crush (Charm): a SQLite database per project, `<project>/.crush/crush.db`
//! (the `data_directory` option, `.crush` by default). Crush lists every
//! project it has opened in `projects.json` in its global data directory
//! (`$CRUSH_GLOBAL_DATA`, else `$XDG_DATA_HOME/crush`, else
//! `~/.local/share/crush`; `%LOCALAPPDATA%\crush` on Windows):
//! `{"projects": [{"path", "data_dir", "last_accessed"}]}`. Each listed data
//! directory is a root, so cass finds the databases where they really are.
//!
//! Tables `sessions` (`title`, `parent_session_id` for sub-agent and
//! title-generation children, `updated_at`) and `messages` (`role`,
//! `parts`, `model`, `created_at`, `updated_at`). `parts` is a JSON list of
//! `{type, data}` wrappers: `text{text}`, `reasoning{thinking}`,
//! `tool_call{id, name, input}` (input a JSON string),
//! `tool_result{tool_call_id, content, is_error}` (in `tool` rows),
//! `finish`, `image_url`, `binary`, `shell_command{command, output}`.
//! Times are Unix seconds (`strftime('%s','now')`). A message row is
//! updated in place while it streams, so the change marker of a session
//! covers its messages' `updated_at` too.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::Value;

use super::content::{self, str_field};
use super::document::{emit_conversation, message};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Platform, Root, SourceLayout, sqlite};
use crate::model::{Agent, ConversationHeader, Message, Role};
use crate::time;

/// Reads Crush's per-project SQLite databases.
pub struct Crush;

const DB_NAME: &str = "crush.db";

impl Connector for Crush {
    fn agent(&self) -> Agent {
        Agent::Crush
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let (global, origin) = global_data_dir(env);
        // `crush server` works in the global dir itself, so its data
        // directory is `<global>/.crush`.
        let mut roots = vec![Root { path: global.join(".crush"), origin }];
        for dir in registered_data_dirs(&global.join("projects.json")) {
            if !roots.iter().any(|r| r.path == dir) {
                roots.push(Root { path: dir, origin: "projects.json" });
            }
        }
        roots
    }

    fn is_source(&self, root: &Path, path: &Path) -> bool {
        path.parent() == Some(root) && path.file_name().is_some_and(|n| n == DB_NAME)
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::Database
    }

    fn companions(&self, path: &Path) -> Vec<PathBuf> {
        sqlite::wal_of(path)
    }

    /// The database sits directly in each data directory; nothing below it
    /// is Crush's.
    fn walk_depth(&self) -> usize {
        0
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let mut end = super::document::whole_file_end(req.path);
        end.resume = Some(parse_db(req.path, req.resume, sink)?);
        Ok(end)
    }
}

/// Crush's global data directory, as its `GlobalConfigData` resolves it.
fn global_data_dir(env: &AgentEnv) -> (PathBuf, &'static str) {
    if let Some(dir) = env.path_var("CRUSH_GLOBAL_DATA") {
        return (dir, "CRUSH_GLOBAL_DATA");
    }
    if let Some(dir) = env.path_var("XDG_DATA_HOME") {
        return (dir.join("crush"), "XDG_DATA_HOME");
    }
    match env.platform {
        Platform::Windows => match env.path_var("LOCALAPPDATA") {
            Some(dir) => (dir.join("crush"), "LOCALAPPDATA"),
            None => (env.home.join("AppData/Local/crush"), "default (Windows)"),
        },
        Platform::Linux | Platform::MacOs => (env.home.join(".local/share/crush"), "default"),
    }
}

/// The data directories `projects.json` lists. Current Crush writes
/// `{"projects": [...]}`; a bare list or an object keyed by project is
/// accepted too. A missing or unreadable registry lists nothing (the
/// global root is still reported, so `cass sources` says where it looked).
fn registered_data_dirs(registry: &Path) -> Vec<PathBuf> {
    let Ok(bytes) = super::lines::read_whole(registry, 16 * 1024 * 1024) else { return Vec::new() };
    let Ok(doc) = serde_json::from_slice::<Value>(&bytes) else { return Vec::new() };
    let entries: Vec<&Value> = match doc.get("projects").unwrap_or(&doc) {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) => map.values().collect(),
        _ => Vec::new(),
    };
    entries
        .into_iter()
        .filter_map(|p| {
            let data = str_field(p, "data_dir").map(PathBuf::from);
            let project = str_field(p, "path").map(PathBuf::from);
            match (data, project) {
                (Some(d), Some(p)) if d.is_relative() => Some(p.join(d)),
                (Some(d), _) => Some(d),
                (None, Some(p)) => Some(p.join(".crush")),
                (None, None) => None,
            }
        })
        .collect()
}

/// The project a database belongs to: the directory holding `.crush/`.
/// A data directory with another name (set by `data_directory`) says
/// nothing about its project, so none is claimed.
fn workspace_of(db: &Path) -> Option<String> {
    let data_dir = db.parent()?;
    if data_dir.file_name()? != ".crush" {
        return None;
    }
    Some(data_dir.parent()?.to_string_lossy().into_owned())
}

fn parse_db(path: &Path, resume: Option<&Value>, sink: &mut dyn ParseSink) -> Result<Value, ParseError> {
    let mut reads = sqlite::SessionReads::resume(resume);
    let conn = sqlite::open_readonly(path)?;
    let err = |e| sqlite::error(path, e);
    if sqlite::columns(&conn, "sessions").map_err(err)?.is_empty()
        || sqlite::columns(&conn, "messages").map_err(err)?.is_empty()
    {
        return Err(ParseError::Format {
            path: path.into(),
            message: "not a Crush database (no sessions or messages table)".into(),
        });
    }
    let workspace = workspace_of(path);
    let sessions = sqlite::rows_as_json(&conn, "SELECT * FROM sessions ORDER BY created_at, id", []).map_err(err)?;
    for session in sessions {
        let Some(sid) = str_field(&session, "id").map(str::to_string) else { continue };
        let (count, newest): (i64, Option<String>) = conn
            .query_row(
                "SELECT COUNT(*), CAST(MAX(updated_at) AS TEXT) FROM messages WHERE session_id = ?1",
                [&sid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(err)?;
        let marker =
            format!("{}|{count}|{}", str_field(&session, "updated_at").unwrap_or(""), newest.as_deref().unwrap_or(""));
        if !reads.changed(&sid, marker, sink) {
            continue;
        }
        let sink = &mut reads.errors.recorder(&sid, sink);
        let rows = session_messages(&conn, &sid).map_err(err)?;
        let title = str_field(&session, "title").map(str::to_string);
        let header = ConversationHeader {
            external_id: sid.clone(),
            title_explicit: title.is_some(),
            title,
            workspace: workspace.clone(),
        };
        let mut out = Vec::new();
        for row in &rows {
            out.extend(row_messages(row, &sid, sink));
        }
        emit_conversation(sink, header, out);
    }
    Ok(reads.state())
}

fn session_messages(conn: &Connection, sid: &str) -> rusqlite::Result<Vec<Value>> {
    sqlite::rows_as_json(conn, "SELECT * FROM messages WHERE session_id = ?1 ORDER BY created_at, id", [sid])
}

/// One message row as normalized messages: text and tool-call lines as a
/// message of the row's role; tool results (in `tool` rows) and shell
/// command output as `tool` messages.
fn row_messages(row: &Value, sid: &str, sink: &mut dyn ParseSink) -> Vec<Message> {
    let id = str_field(row, "id").unwrap_or("?");
    let label = str_field(row, "role").unwrap_or("");
    let Some(role) = Role::from_agent_label(label) else {
        sink.malformed(0, format!("session {sid} message {id}: unknown role '{label}'"));
        return Vec::new();
    };
    let parts = match serde_json::from_str::<Value>(str_field(row, "parts").unwrap_or("[]")) {
        Ok(Value::Array(parts)) => parts,
        Ok(_) => {
            sink.malformed(0, format!("session {sid} message {id}: parts is not a list"));
            return Vec::new();
        }
        Err(e) => {
            sink.malformed(0, format!("session {sid} message {id}: invalid JSON in parts: {e}"));
            return Vec::new();
        }
    };
    let created_at = row.get("created_at").and_then(time::parse_value);
    let author = if role == Role::Assistant { str_field(row, "model").map(str::to_string) } else { None };
    let mut lines: Vec<String> = Vec::new();
    let mut outputs: Vec<String> = Vec::new();
    for part in &parts {
        // `{type, data: {...}}`; a flat `{type, text}` is read the same way.
        let data = part.get("data").filter(|d| d.is_object()).unwrap_or(part);
        match str_field(part, "type").unwrap_or("") {
            "text" => lines.extend(str_field(data, "text").map(str::to_string)),
            "tool_call" => {
                let name = str_field(data, "name").unwrap_or("tool");
                lines.push(content::tool_call_line(name, data.get("input")));
            }
            "tool_result" => {
                let text = str_field(data, "content").unwrap_or("");
                if data.get("is_error").and_then(Value::as_bool) == Some(true) {
                    outputs.push(format!("[tool error] {}", content::cap_bytes(text, content::TOOL_OUTPUT_CAP)));
                } else if !text.trim().is_empty() {
                    outputs.push(content::cap_bytes(text, content::TOOL_OUTPUT_CAP));
                }
            }
            "shell_command" => {
                lines.push(content::tool_call_line("shell", data.get("command")));
                if let Some(out) = str_field(data, "output") {
                    outputs.push(content::cap_bytes(out, content::TOOL_OUTPUT_CAP));
                }
            }
            _ => {} // reasoning, finish, image_url, binary, notes
        }
    }
    let mut out = Vec::new();
    let text = lines.join("\n");
    // A `tool` row holds only results; its role is carried by them.
    if !text.trim().is_empty() {
        out.push(message(role, author, created_at, text));
    }
    for o in outputs {
        out.push(message(Role::Tool, None, created_at, o));
    }
    out
}
