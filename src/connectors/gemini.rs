//! Gemini CLI: `~/.gemini/tmp/<project>/chats/session-*.json` (whole-file
//! JSON) and the newer event-sourced `session-*.jsonl`, which must be replayed
//! to its final state (messages are upserted, patched and rewound).

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::content::{self, str_field};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Message, Role, Usage};
use crate::time;

/// Reads Gemini CLI sessions, whole JSON documents and replayed JSONL event logs.
pub struct Gemini;

const WHOLE_FILE_LIMIT: u64 = 256 * 1024 * 1024;

impl Connector for Gemini {
    fn agent(&self) -> Agent {
        Agent::Gemini
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        for var in ["GEMINI_HOME", "GEMINI_DIR"] {
            if let Some(dir) = env.path_var(var) {
                // Documented both as `~/.gemini` and as its `tmp/`; the walk is
                // recursive, so either works.
                return vec![Root { path: dir, origin: var }];
            }
        }
        vec![Root { path: env.home.join(".gemini/tmp"), origin: "default" }]
    }

    fn is_source(&self, _root: &Path, path: &Path) -> bool {
        let in_chats = path.parent().and_then(Path::file_name).is_some_and(|n| n == "chats");
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        in_chats && name.starts_with("session-") && (name.ends_with(".json") || name.ends_with(".jsonl"))
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::WholeFile
    }

    fn reads_usage(&self) -> bool {
        true
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let is_jsonl = req.path.extension().is_some_and(|e| e == "jsonl");
        let (session, messages, offset) = if is_jsonl {
            let full = ParseRequest { path: req.path, start_offset: 0, start_line: 1, resume: None };
            let mut replay = Replay::default();
            let end = super::lines::parse_jsonl(&full, sink, |rec, line, _, sink| replay.apply(rec, line, sink))?;
            let session = std::mem::take(&mut replay.session);
            (session, replay.into_messages(), end.offset)
        } else {
            let bytes = super::lines::read_whole(req.path, WHOLE_FILE_LIMIT)
                .map_err(|source| ParseError::Io { path: req.path.to_path_buf(), source })?;
            let doc: Value = serde_json::from_slice(&bytes).map_err(|e| ParseError::Format {
                path: req.path.to_path_buf(),
                message: format!("invalid JSON: {e}"),
            })?;
            let messages = doc.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
            (doc, messages, bytes.len() as u64)
        };
        emit(req.path, &session, &messages, sink);
        Ok(ParseEnd { offset, next_line: 1, resume: None, partial_tail: false })
    }
}

fn emit(path: &Path, session: &Value, messages: &[Value], sink: &mut dyn ParseSink) {
    let external_id = str_field(session, "sessionId")
        .map(str::to_string)
        .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    let mut header = ConversationHeader { external_id, ..Default::default() };
    if let Some(t) = str_field(session, "summary").or_else(|| str_field(session, "title")) {
        header.title = Some(t.to_string());
        header.title_explicit = true;
    }
    let mut out: Vec<Message> = Vec::new();
    // Calls, each after the messages before it (a count of `out`).
    let mut calls_used: Vec<(usize, Usage)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let line = i as u64 + 1;
        let label = m.get("type").or_else(|| m.get("role")).and_then(Value::as_str).unwrap_or("");
        let Some(role) = Role::from_agent_label(label) else {
            sink.malformed(0, format!("message {line}: unknown type '{label}'"));
            continue;
        };
        let created_at = m.get("timestamp").and_then(time::parse_value);
        let author = str_field(m, "model").map(str::to_string);
        let mut text = m.get("content").and_then(content::flatten).unwrap_or_default();
        let calls = m.get("toolCalls").and_then(Value::as_array).cloned().unwrap_or_default();
        for call in &calls {
            let name = str_field(call, "name").unwrap_or("tool");
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&content::tool_call_line(name, call.get("args")));
        }
        if !text.trim().is_empty() {
            if role == Role::User && header.title.is_none() {
                header.title = content::title_from_user_text(&text);
            }
            out.push(Message { role, author, created_at, content: text, line_offset: None });
        }
        for call in &calls {
            if let Some(result) = call.get("result").and_then(content::tool_output)
                && !result.trim().is_empty()
            {
                out.push(Message { role: Role::Tool, author: None, created_at, content: result, line_offset: None });
            }
        }
        if role == Role::Assistant
            && let Some(u) = call_usage(&header.external_id, m, created_at)
        {
            calls_used.push((out.len(), u));
        }
    }
    if out.is_empty() && calls_used.is_empty() {
        return;
    }
    super::document::emit_with_usage(sink, header, out, calls_used);
}

/// The tokens of the call that wrote a `gemini` message (`tokens`), or
/// None without counts or time. Gemini counts cached tokens inside the
/// prompt (`input`) and thoughts apart from the answer (`output`); tool-use
/// prompt tokens (`tool`) are prompt tokens too. The message id names the
/// call: streaming rewrites one message, and a replayed file repeats it.
fn call_usage(session: &str, m: &Value, created_at: Option<i64>) -> Option<Usage> {
    let tokens = m.get("tokens")?.as_object()?;
    let n = |k: &str| tokens.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (input, cached) = (n("input"), n("cached"));
    let cached = cached.min(input);
    Some(Usage {
        created_at: created_at?,
        model: str_field(m, "model").map(str::to_string),
        input: input - cached + n("tool"),
        output: n("output") + n("thoughts"),
        cache_write: 0,
        cache_write_1h: 0,
        cache_read: cached,
        reasoning: n("thoughts"),
        request_key: str_field(m, "id").map(|id| format!("gemini:{session}:{id}")),
        line_offset: None,
    })
}

/// The final state of an event-sourced session file.
#[derive(Default)]
struct Replay {
    session: Value,
    order: Vec<String>,
    by_id: HashMap<String, Value>,
}

impl Replay {
    fn apply(&mut self, rec: &Value, line: u64, sink: &mut dyn ParseSink) {
        let Some(obj) = rec.as_object() else {
            sink.malformed(line, "record is not a JSON object".into());
            return;
        };
        if let Some(set) = obj.get("$set").and_then(Value::as_object) {
            for (k, v) in set {
                if k == "messages" {
                    self.order.clear();
                    self.by_id.clear();
                    for m in v.as_array().into_iter().flatten() {
                        self.upsert(m.clone());
                    }
                } else {
                    self.set_session(k, v.clone());
                }
            }
        } else if let Some(patch) = obj.get("$patch").and_then(Value::as_object) {
            self.patch(patch);
        } else if let Some(target) = obj.get("$rewindTo").and_then(Value::as_str) {
            if let Some(pos) = self.order.iter().position(|id| id == target) {
                for id in self.order.drain(pos..) {
                    self.by_id.remove(&id);
                }
            }
        } else if obj.contains_key("id") && obj.contains_key("type") {
            self.upsert(rec.clone());
        } else if obj.contains_key("sessionId") || obj.get("kind").and_then(Value::as_str) == Some("main") {
            for (k, v) in obj {
                self.set_session(k, v.clone());
            }
        }
    }

    fn set_session(&mut self, key: &str, value: Value) {
        if !self.session.is_object() {
            self.session = Value::Object(Default::default());
        }
        self.session.as_object_mut().expect("object").insert(key.to_string(), value);
    }

    fn upsert(&mut self, m: Value) {
        let id = match m.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => format!("#{}", self.order.len()),
        };
        if self.by_id.insert(id.clone(), m).is_none() {
            self.order.push(id);
        }
    }

    fn patch(&mut self, patch: &serde_json::Map<String, Value>) {
        let updates: Vec<Value> = match patch.get("updates") {
            Some(Value::Array(a)) => a.clone(),
            Some(Value::Object(o)) => o
                .iter()
                .map(|(id, v)| {
                    let mut v = v.clone();
                    if let Some(obj) = v.as_object_mut() {
                        obj.insert("id".into(), Value::String(id.clone()));
                    }
                    v
                })
                .collect(),
            _ => Vec::new(),
        };
        for u in updates {
            let Some(id) = u.get("id").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            match (self.by_id.get_mut(&id), u.as_object()) {
                (Some(Value::Object(existing)), Some(fields)) => {
                    for (k, v) in fields {
                        existing.insert(k.clone(), v.clone());
                    }
                }
                _ => self.upsert(u),
            }
        }
        for id in patch.get("removeIds").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if self.by_id.remove(id).is_some() {
                self.order.retain(|o| o != id);
            }
        }
        if let Some(ids) = patch.get("orderIds").and_then(Value::as_array) {
            let wanted: Vec<String> = ids.iter().filter_map(Value::as_str).map(str::to_string).collect();
            let mut rest: Vec<String> = self.order.iter().filter(|id| !wanted.contains(id)).cloned().collect();
            let mut order: Vec<String> = wanted.into_iter().filter(|id| self.by_id.contains_key(id)).collect();
            order.append(&mut rest);
            self.order = order;
        }
    }

    fn into_messages(mut self) -> Vec<Value> {
        self.order.iter().filter_map(|id| self.by_id.remove(id)).collect()
    }
}
