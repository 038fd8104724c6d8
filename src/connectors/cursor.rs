//! Cursor: the editor's SQLite state databases,
//! `<Cursor User>/globalStorage/state.vscdb` (composer conversations, v0.40+)
//! and `workspaceStorage/<id>/state.vscdb` (older per-workspace chats).
//!
//! One database holds many conversations: `cursorDiskKV` rows
//! `composerData:<id>` (title, times, the ordered bubble ids) and
//! `bubbleId:<composer>:<bubble>` (one message each); older builds inline
//! the bubbles in the composer, and the oldest keep `tabs[].bubbles` under an
//! `ItemTable` key. The database belongs to a running editor: it is opened
//! read-only with a short busy timeout, each read is a short statement (the
//! editor can commit between them), and a lock that outlasts the timeout is
//! reported and retried next run. Its `-wal` is watched with it.
//! Under WSL the Windows profiles' Cursor data is read as well.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::Value;

use super::content::{self, str_field};
use super::{
    AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Platform, Root, SourceLayout, sqlite, vscode,
};
use crate::model::{Agent, ConversationHeader, Message, Role};
use crate::time;

/// Reads Cursor's chats and composer conversations from its SQLite state databases.
pub struct Cursor;

/// Where the oldest Cursor builds kept chat tabs.
const LEGACY_CHAT_KEY: &str = "workbench.panel.aichat.view.aichat.chatdata";

impl Connector for Cursor {
    fn agent(&self) -> Agent {
        Agent::Cursor
    }

    /// The two storage folders of Cursor's `User/` directory (not all of it:
    /// its `History/` alone can hold many thousands of files).
    ///
    /// Under WSL, Cursor is usually the Windows app, whose data lives in the
    /// Windows profile (`/mnt/c/Users/<name>/AppData/Roaming/Cursor/User`),
    /// not in the Linux home: on Linux, every Windows profile that has a
    /// Cursor `User/` directory is a root too.
    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let (base, origin) = env.app_config_dir();
        let mut roots = storage_roots(&base.join("Cursor/User"), origin);
        if env.platform == Platform::Linux {
            for profile in env.wsl_windows_profiles() {
                let user = profile.join("AppData/Roaming/Cursor/User");
                if user.is_dir() {
                    roots.extend(storage_roots(&user, "WSL (Windows profile)"));
                }
            }
        }
        roots
    }

    /// `globalStorage/state.vscdb`, `workspaceStorage/<id>/state.vscdb`.
    fn walk_depth(&self) -> usize {
        1
    }

    fn is_source(&self, _root: &Path, path: &Path) -> bool {
        path.file_name().is_some_and(|n| n == "state.vscdb")
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::Database
    }

    fn companions(&self, path: &Path) -> Vec<PathBuf> {
        sqlite::wal_of(path)
    }

    /// A full read emits every conversation; a refresh (with the markers
    /// saved last time) only composers whose `lastUpdatedAt` moved and the
    /// legacy tabs if their value changed.
    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let path = req.path;
        let previous = Markers::from_resume(req.resume);
        let mut markers = Markers::default();
        let conn = sqlite::open_readonly(path)?;
        let err = |e| sqlite::error(path, e);
        // A per-workspace database names its folder in the sibling workspace.json.
        let storage_workspace = path.parent().and_then(vscode::workspace_of_storage);
        if !sqlite::columns(&conn, "cursorDiskKV").map_err(err)?.is_empty() {
            // Markers first (one short read), then one changed composer at a time.
            for (id, marker) in composer_markers(&conn).map_err(err)? {
                let changed = previous.as_ref().is_none_or(|p| p.composers.get(&id) != Some(&marker));
                markers.composers.insert(id.clone(), marker);
                if !changed {
                    markers.errors.replay(previous.as_ref().map(|p| &p.errors), &id, sink);
                    continue;
                }
                let sink = &mut markers.errors.recorder(&id, sink);
                let Some(data) = kv_json(&conn, &format!("composerData:{id}"), sink).map_err(err)? else {
                    continue;
                };
                let bubbles = composer_bubbles(&conn, &id, &data, sink).map_err(err)?;
                emit(sink, &id, &data, &bubbles, storage_workspace.clone());
            }
        }
        if !sqlite::columns(&conn, "ItemTable").map_err(err)?.is_empty() {
            let since = previous.as_ref().and_then(|p| p.legacy);
            let hash = {
                let sink = &mut markers.errors.recorder(LEGACY_CHAT_KEY, sink);
                legacy_chats(&conn, since, sink, storage_workspace).map_err(err)?
            };
            if hash.is_some() && hash == since {
                // Unchanged: not read again, so its reports are replayed.
                markers.errors.replay(previous.as_ref().map(|p| &p.errors), LEGACY_CHAT_KEY, sink);
            }
            markers.legacy = hash;
        }
        let mut end = super::document::whole_file_end(path);
        end.resume = Some(serde_json::to_value(&markers).unwrap_or_default());
        Ok(end)
    }
}

/// The two folders of a Cursor `User/` directory that hold chats.
fn storage_roots(user: &Path, origin: &'static str) -> Vec<Root> {
    vec![Root { path: user.join("globalStorage"), origin }, Root { path: user.join("workspaceStorage"), origin }]
}

/// What a refresh compares against: each composer's change marker, and a
/// hash of the legacy chat value. Cursor moves a composer's `lastUpdatedAt`
/// when it writes to the conversation; a bubble row edited without that
/// would wait for the next move (or `cass index --full`).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Markers {
    composers: std::collections::BTreeMap<String, String>,
    legacy: Option<u64>,
    #[serde(default)]
    errors: sqlite::ErrorLedger,
}

impl Markers {
    fn from_resume(resume: Option<&Value>) -> Option<Markers> {
        resume.and_then(|r| serde_json::from_value(r.clone()).ok())
    }
}

/// Every composer id with its change marker: `lastUpdatedAt`, or the value's
/// length where a build does not record one.
fn composer_markers(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT key, COALESCE(CASE WHEN json_valid(value) THEN json_extract(value, '$.lastUpdatedAt') END,
                              'len:' || length(value))
         FROM cursorDiskKV WHERE key >= 'composerData:' AND key < 'composerData;' ORDER BY key",
    )?;
    let rows =
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, sqlite::text_of(r.get_ref(1)?).unwrap_or_default())))?;
    let mut out = Vec::new();
    for row in rows {
        let (key, marker) = row?;
        out.push((key["composerData:".len()..].to_string(), marker));
    }
    Ok(out)
}

/// A JSON value of one key; NULL values are skipped, unparsable ones reported.
fn kv_json(conn: &Connection, key: &str, sink: &mut dyn ParseSink) -> rusqlite::Result<Option<Value>> {
    let mut stmt = conn.prepare_cached("SELECT value FROM cursorDiskKV WHERE key = ?1")?;
    let mut rows = stmt.query([key])?;
    let Some(row) = rows.next()? else { return Ok(None) };
    Ok(parse_value(key, sqlite::text_of(row.get_ref(0)?), sink))
}

fn parse_value(key: &str, text: Option<String>, sink: &mut dyn ParseSink) -> Option<Value> {
    let text = text?;
    match serde_json::from_str::<Value>(&text) {
        Ok(v) if v.is_object() => Some(v),
        Ok(_) => None,
        Err(e) => {
            sink.malformed(0, format!("{key}: invalid JSON: {e}"));
            None
        }
    }
}

/// The composer's bubbles in conversation order: by its header list when it
/// has one (bubbles are rows of their own), else inline.
fn composer_bubbles(
    conn: &Connection,
    id: &str,
    data: &Value,
    sink: &mut dyn ParseSink,
) -> rusqlite::Result<Vec<Value>> {
    if let Some(headers) = data.get("fullConversationHeadersOnly").and_then(Value::as_array) {
        let mut stmt = conn.prepare_cached("SELECT key, value FROM cursorDiskKV WHERE key >= ?1 AND key < ?2")?;
        let rows = stmt.query_map([format!("bubbleId:{id}:"), format!("bubbleId:{id};")], |r| {
            Ok((r.get::<_, String>(0)?, sqlite::text_of(r.get_ref(1)?)))
        })?;
        let prefix = format!("bubbleId:{id}:");
        let mut by_id = std::collections::HashMap::new();
        for row in rows {
            let (key, text) = row?;
            // A damaged index can return rows outside the range asked for.
            let Some(bubble) = key.strip_prefix(&prefix) else { continue };
            if let Some(v) = parse_value(&key, text, sink) {
                by_id.insert(bubble.to_string(), v);
            }
        }
        let mut out = Vec::new();
        for h in headers {
            let Some(bid) = str_field(h, "bubbleId") else { continue };
            match by_id.remove(bid) {
                Some(mut b) => {
                    if b.get("type").is_none()
                        && let (Some(obj), Some(t)) = (b.as_object_mut(), h.get("type"))
                    {
                        obj.insert("type".into(), t.clone());
                    }
                    out.push(b);
                }
                None => sink.malformed(0, format!("composer {id}: bubble {bid} is listed but has no row")),
            }
        }
        return Ok(out);
    }
    if let Some(conv) = data.get("conversation").and_then(Value::as_array) {
        return Ok(conv.clone());
    }
    if let Some(map) = data.get("conversationMap").and_then(Value::as_object) {
        return Ok(map.values().cloned().collect());
    }
    Ok(tab_bubbles(data))
}

fn tab_bubbles(data: &Value) -> Vec<Value> {
    data.get("tabs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|t| t.get("bubbles").and_then(Value::as_array).cloned().unwrap_or_default())
        .collect()
}

fn emit(sink: &mut dyn ParseSink, id: &str, data: &Value, bubbles: &[Value], workspace: Option<String>) {
    let title = str_field(data, "name").map(str::to_string);
    let fallback_ts = data.get("createdAt").and_then(time::parse_value);
    let header = ConversationHeader {
        external_id: id.to_string(),
        title_explicit: title.is_some(),
        title,
        workspace: bubbles.iter().find_map(bubble_workspace).or(workspace),
    };
    let mut messages = Vec::new();
    for b in bubbles {
        bubble_messages(b, fallback_ts, &mut messages);
    }
    if messages.is_empty()
        && let Some(text) = str_field(data, "text")
    {
        // A draft composer with only its input text.
        messages.push(super::document::message(Role::User, None, fallback_ts, text.to_string()));
    }
    super::document::emit_conversation(sink, header, messages);
}

/// Bubble `type`: 1 (or "user") is the user; 2, "ai" and anything else the
/// assistant (tool and status bubbles are the assistant acting). A tool
/// bubble (`toolFormerData`) adds a `[tool: name] args` line and its result
/// as a `tool` message; `thinking` stays out.
fn bubble_messages(b: &Value, fallback_ts: Option<i64>, out: &mut Vec<Message>) {
    let role = match b.get("type") {
        Some(Value::Number(n)) if n.as_i64() == Some(1) => Role::User,
        Some(Value::String(s)) if s == "user" => Role::User,
        _ => Role::Assistant,
    };
    let created_at =
        ["timestamp", "createdAt"].iter().find_map(|k| b.get(*k)).and_then(time::parse_value).or(fallback_ts);
    let author = match role {
        Role::Assistant => str_field(b, "modelType")
            .or_else(|| str_field(b, "model"))
            .or_else(|| b.pointer("/modelInfo/modelName").and_then(Value::as_str))
            .map(str::to_string),
        _ => None,
    };
    let mut text = ["text", "rawText", "content", "message"]
        .iter()
        .find_map(|k| b.get(*k).and_then(content::flatten).filter(|t| !t.trim().is_empty()))
        .unwrap_or_default();
    let tool = b.get("toolFormerData").filter(|t| t.is_object());
    if let Some(tool) = tool {
        let name = str_field(tool, "name").unwrap_or("tool");
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&content::tool_call_line(name, tool.get("rawArgs").or_else(|| tool.get("params"))));
    }
    if !text.trim().is_empty() {
        out.push(super::document::message(role, author, created_at, text));
    }
    if let Some(result) = tool.and_then(|t| t.get("result")).and_then(tool_result)
        && !result.trim().is_empty()
    {
        out.push(super::document::message(Role::Tool, None, created_at, result));
    }
}

/// A tool bubble's result: often JSON encoded in a string (`{"output": …}`).
fn tool_result(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(parsed @ Value::Object(_)) => content::tool_output(&parsed),
            _ => content::tool_output(v),
        },
        other => content::tool_output(other),
    }
}

fn bubble_workspace(b: &Value) -> Option<String> {
    if let Some(dir) = str_field(b, "workspaceProjectDir") {
        return Some(dir.to_string());
    }
    b.get("workspaceUris")?.as_array()?.iter().filter_map(Value::as_str).find_map(vscode::path_from_uri)
}

/// The oldest chat store: `tabs[].bubbles[]` under one `ItemTable` key; each
/// tab is a conversation. Emitted when its value's hash differs from
/// `since`; returns the hash.
fn legacy_chats(
    conn: &Connection,
    since: Option<u64>,
    sink: &mut dyn ParseSink,
    workspace: Option<String>,
) -> rusqlite::Result<Option<u64>> {
    use std::hash::{Hash, Hasher};
    let mut stmt = conn.prepare("SELECT value FROM ItemTable WHERE key = ?1")?;
    let mut rows = stmt.query([LEGACY_CHAT_KEY])?;
    let Some(row) = rows.next()? else { return Ok(None) };
    let text = sqlite::text_of(row.get_ref(0)?);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    let hash = hasher.finish();
    if since == Some(hash) {
        return Ok(Some(hash));
    }
    let Some(data) = parse_value(LEGACY_CHAT_KEY, text, sink) else { return Ok(Some(hash)) };
    for (i, tab) in data.get("tabs").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let id = str_field(tab, "tabId").map(str::to_string).unwrap_or_else(|| format!("chat-tab-{}", i + 1));
        let bubbles = tab.get("bubbles").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut tab_data = tab.clone();
        if let Some(obj) = tab_data.as_object_mut()
            && let Some(t) = obj.get("chatTitle").cloned()
        {
            obj.insert("name".into(), t);
        }
        emit(sink, &id, &tab_data, &bubbles, workspace.clone());
    }
    Ok(Some(hash))
}
