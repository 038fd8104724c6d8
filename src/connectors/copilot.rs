//! GitHub Copilot Chat in VS Code. VS Code keeps every chat provider's
//! sessions in its own store: `workspaceStorage/<id>/chatSessions/<session>`
//! plus `globalStorage/{emptyWindowChatSessions,transferredChatSessions}/`.
//! A session is a `.json` document (VS Code up to 1.108) or a `.jsonl`
//! mutation log (1.109+): `{"kind":0,"v":<snapshot>}`, then `kind` 1 = set
//! the value at key path `k`, 2 = push `v`'s items onto the array at `k`
//! (after truncating it to `i` when given), 3 = delete at `k`. The log is
//! replayed to its final state on every change. Before chat sessions had
//! files of their own, VS Code kept them as a JSON array under the
//! `interactive.sessions` key of the workspace's `state.vscdb` (SQLite,
//! read-only with a busy timeout, `-wal` watched; only sessions whose JSON
//! changed are re-read).
//!
//! Only requests answered by a `github.copilot*` extension are indexed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::content::{self, str_field};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout, sqlite, vscode};
use crate::model::{Agent, ConversationHeader, Message, Role};
use crate::time;

/// Reads GitHub Copilot Chat sessions from VS Code: session files, or older `state.vscdb` arrays.
pub struct CopilotChat;

/// Folders that hold chat session files.
const SESSION_DIRS: &[&str] = &["chatSessions", "emptyWindowChatSessions", "transferredChatSessions"];
/// The `ItemTable` key of the sessions in a workspace's `state.vscdb`.
const LEGACY_KEY: &str = "interactive.sessions";
const STATE_DB: &str = "state.vscdb";

impl Connector for CopilotChat {
    fn agent(&self) -> Agent {
        Agent::Copilot
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let mut roots = Vec::new();
        for (user, origin) in vscode::user_dirs(env) {
            if user.parent().and_then(Path::file_name).is_some_and(|n| n == "Cursor") {
                continue; // Cursor's own chat is the Cursor connector's
            }
            roots.push(Root { path: user.join("workspaceStorage"), origin });
            for dir in &SESSION_DIRS[1..] {
                roots.push(Root { path: user.join("globalStorage").join(dir), origin });
            }
        }
        roots
    }

    /// `workspaceStorage/<id>/chatSessions/<session>` is the deepest.
    fn walk_depth(&self) -> usize {
        2
    }

    fn is_source(&self, _root: &Path, path: &Path) -> bool {
        let parent = path.parent().and_then(Path::file_name).and_then(|n| n.to_str());
        if path.file_name().is_some_and(|n| n == STATE_DB) {
            // workspaceStorage/<id>/state.vscdb
            let grandparent = path.parent().and_then(Path::parent).and_then(Path::file_name);
            return grandparent.is_some_and(|n| n == "workspaceStorage");
        }
        parent.is_some_and(|n| SESSION_DIRS.contains(&n))
            && path.extension().is_some_and(|e| e == "json" || e == "jsonl")
    }

    fn layout(&self, path: &Path) -> SourceLayout {
        if path.file_name().is_some_and(|n| n == STATE_DB) { SourceLayout::Database } else { SourceLayout::WholeFile }
    }

    fn companions(&self, path: &Path) -> Vec<PathBuf> {
        if path.file_name().is_some_and(|n| n == STATE_DB) { sqlite::wal_of(path) } else { Vec::new() }
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        if req.path.file_name().is_some_and(|n| n == STATE_DB) {
            return parse_state_db(req, sink);
        }
        // workspaceStorage/<id>/chatSessions/<session>: <id>'s folder.
        let workspace = req.path.parent().and_then(Path::parent).and_then(vscode::workspace_of_storage);
        let session = if req.path.extension().is_some_and(|e| e == "jsonl") {
            replay(req.path, sink)?
        } else {
            super::document::read_json(req.path)?
        };
        let fallback_id = req.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if !emit_session(sink, &session, &fallback_id, workspace) {
            return Err(ParseError::Format {
                path: req.path.into(),
                message: "chat session has no requests array".into(),
            });
        }
        Ok(super::document::whole_file_end(req.path))
    }
}

/// Pushes one session (the JSON shape shared by every store). False when it
/// is not a session at all (no `requests` array).
fn emit_session(sink: &mut dyn ParseSink, session: &Value, fallback_id: &str, workspace: Option<String>) -> bool {
    let Some(requests) = session.get("requests").and_then(Value::as_array) else { return false };
    let title = str_field(session, "customTitle").map(str::to_string);
    let header = ConversationHeader {
        external_id: str_field(session, "sessionId").unwrap_or(fallback_id).to_string(),
        title_explicit: title.is_some(),
        title,
        workspace,
    };
    let responder = str_field(session, "responderUsername").map(str::to_string);
    // The oldest sessions carry no per-request time: they take the session's.
    let session_time = session.get("creationDate").and_then(time::parse_value);
    let mut messages: Vec<Message> = Vec::new();
    for r in requests {
        if !answered_by_copilot(r) {
            continue;
        }
        let created_at = r.get("timestamp").and_then(time::parse_value).or(session_time);
        if let Some(text) = r.pointer("/message/text").and_then(Value::as_str).filter(|t| !t.trim().is_empty()) {
            messages.push(super::document::message(Role::User, None, created_at, text.to_string()));
        }
        let reply = response_text(r.get("response"));
        if !reply.trim().is_empty() {
            let author = str_field(r, "modelId").map(str::to_string).or_else(|| responder.clone());
            messages.push(super::document::message(Role::Assistant, author, created_at, reply));
        }
    }
    super::document::emit_conversation(sink, header, messages);
    true
}

/// The sessions under `interactive.sessions` of a workspace's `state.vscdb`.
/// A refresh emits only sessions whose JSON changed since the hashes saved
/// last time; sessions of other chat providers are skipped.
fn parse_state_db(req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
    use std::hash::{Hash, Hasher};
    let path = req.path;
    let previous: Option<BTreeMap<String, u64>> =
        req.resume.and_then(|r| r.get("sessions")).and_then(|m| serde_json::from_value(m.clone()).ok());
    let conn = sqlite::open_readonly(path)?;
    let err = |e| sqlite::error(path, e);
    let mut markers = BTreeMap::new();
    if !sqlite::columns(&conn, "ItemTable").map_err(err)?.is_empty() {
        let value: Option<String> = {
            let mut stmt = conn.prepare("SELECT value FROM ItemTable WHERE key = ?1").map_err(err)?;
            let mut rows = stmt.query([LEGACY_KEY]).map_err(err)?;
            match rows.next().map_err(err)? {
                Some(row) => sqlite::text_of(row.get_ref(0).map_err(err)?),
                None => None,
            }
        };
        let sessions = match value.as_deref().map(serde_json::from_str::<Value>) {
            Some(Ok(Value::Array(items))) => items,
            Some(Ok(_)) => {
                sink.malformed(0, format!("{LEGACY_KEY}: not an array"));
                Vec::new()
            }
            Some(Err(e)) => {
                sink.malformed(0, format!("{LEGACY_KEY}: invalid JSON: {e}"));
                Vec::new()
            }
            None => Vec::new(),
        };
        let workspace = path.parent().and_then(vscode::workspace_of_storage);
        for (i, session) in sessions.iter().enumerate() {
            let provider = str_field(session, "providerId");
            if provider.is_some_and(|p| !p.to_ascii_lowercase().contains("copilot")) {
                continue;
            }
            let id =
                str_field(session, "sessionId").map(str::to_string).unwrap_or_else(|| format!("session-{}", i + 1));
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            session.to_string().hash(&mut hasher);
            let hash = hasher.finish();
            let unchanged = previous.as_ref().and_then(|p| p.get(&id)) == Some(&hash);
            markers.insert(id.clone(), hash);
            // Checked on every read (the value is parsed whole anyway), so a
            // refresh reports it again like every other recorded error.
            if !session.get("requests").is_some_and(Value::is_array) {
                sink.malformed(0, format!("{LEGACY_KEY}[{i}]: no requests array"));
            } else if !unchanged {
                emit_session(sink, session, &id, workspace.clone());
            }
        }
    }
    let mut end = super::document::whole_file_end(path);
    end.resume = Some(serde_json::json!({ "sessions": markers }));
    Ok(end)
}

/// A request whose agent is known to be another extension is not Copilot's;
/// one without agent information is the built-in (Copilot) chat.
fn answered_by_copilot(request: &Value) -> bool {
    let Some(ext) = request.pointer("/agent/extensionId") else { return true };
    let id = match ext {
        Value::String(s) => s.as_str(),
        Value::Object(_) => ext.get("value").and_then(Value::as_str).unwrap_or(""),
        _ => "",
    };
    id.to_ascii_lowercase().starts_with("github.copilot")
}

/// The reply as text: markdown parts joined, tool invocations as one line
/// each; references, code-block anchors, edits and progress markers dropped.
fn response_text(response: Option<&Value>) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut markdown = String::new();
    for part in response.and_then(Value::as_array).into_iter().flatten() {
        match str_field(part, "kind") {
            None | Some("markdownContent") => {
                let value = part.get("value").or_else(|| part.pointer("/content/value"));
                if let Some(s) = value.and_then(Value::as_str) {
                    markdown.push_str(s); // streamed chunks of one markdown text
                }
            }
            Some("toolInvocationSerialized" | "toolInvocation") => {
                if !markdown.trim().is_empty() {
                    lines.push(std::mem::take(&mut markdown).trim().to_string());
                }
                markdown.clear();
                let name = str_field(part, "toolId").unwrap_or("tool");
                let msg = part.get("invocationMessage").or_else(|| part.get("pastTenseMessage"));
                let summary = match msg {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(v) => v.get("value").and_then(Value::as_str).map(str::to_string),
                    None => None,
                };
                lines.push(content::tool_call_line(name, summary.map(Value::String).as_ref()));
            }
            _ => {}
        }
    }
    if !markdown.trim().is_empty() {
        lines.push(markdown.trim().to_string());
    }
    lines.join("\n")
}

/// Replays a `.jsonl` mutation log to the session it describes. A broken
/// line (the last one may be mid-write) is reported and skipped.
fn replay(path: &Path, sink: &mut dyn ParseSink) -> Result<Value, ParseError> {
    let req = ParseRequest { path, start_offset: 0, start_line: 1, resume: None };
    let mut state = Value::Null;
    super::lines::parse_jsonl(&req, sink, |rec, line, _, sink| {
        let kind = rec.get("kind").and_then(Value::as_i64);
        let keys: Vec<Value> = rec.get("k").and_then(Value::as_array).cloned().unwrap_or_default();
        let value = rec.get("v").cloned().unwrap_or(Value::Null);
        let ok = match kind {
            Some(0) => {
                state = value;
                true
            }
            Some(1) => set_at(&mut state, &keys, value),
            Some(2) => push_at(&mut state, &keys, value, rec.get("i").and_then(Value::as_u64)),
            Some(3) => delete_at(&mut state, &keys),
            _ => false,
        };
        if !ok {
            sink.malformed(line, "mutation does not apply to the session (unknown kind or missing key path)".into());
        }
    })?;
    Ok(state)
}

/// The value at a key path (object keys and array indices), if it exists.
fn walk_mut<'a>(mut v: &'a mut Value, keys: &[Value]) -> Option<&'a mut Value> {
    for k in keys {
        v = match (v, k) {
            (Value::Object(map), Value::String(key)) => map.get_mut(key)?,
            (Value::Array(items), Value::Number(n)) => items.get_mut(n.as_u64()? as usize)?,
            _ => return None,
        };
    }
    Some(v)
}

fn set_at(state: &mut Value, keys: &[Value], value: Value) -> bool {
    let Some((last, parent)) = keys.split_last() else {
        *state = value;
        return true;
    };
    match (walk_mut(state, parent), last) {
        (Some(Value::Object(map)), Value::String(key)) => {
            map.insert(key.clone(), value);
            true
        }
        (Some(Value::Array(items)), Value::Number(n)) => match n.as_u64().map(|i| i as usize) {
            Some(i) if i < items.len() => {
                items[i] = value;
                true
            }
            Some(i) if i == items.len() => {
                items.push(value);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

fn push_at(state: &mut Value, keys: &[Value], value: Value, truncate: Option<u64>) -> bool {
    let Some(target) = walk_mut(state, keys) else { return false };
    if target.is_null() {
        *target = Value::Array(Vec::new());
    }
    let Value::Array(items) = target else { return false };
    if let Some(i) = truncate {
        items.truncate(i as usize);
    }
    match value {
        Value::Array(new) => items.extend(new),
        other => items.push(other),
    }
    true
}

fn delete_at(state: &mut Value, keys: &[Value]) -> bool {
    let Some((last, parent)) = keys.split_last() else { return false };
    match (walk_mut(state, parent), last) {
        (Some(Value::Object(map)), Value::String(key)) => map.remove(key).is_some(),
        (Some(Value::Array(items)), Value::Number(n)) => match n.as_u64().map(|i| i as usize) {
            Some(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}
