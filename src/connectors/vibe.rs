//! Mistral Vibe: sessions under `$VIBE_HOME/logs/session/` (default
//! `~/.vibe`), in one of two layouts.
//!
//! * Current: a folder `session_<YYYYMMDD>_<HHMMSS>_<short id>/` holding
//!   `messages.jsonl` (the conversation's messages, system prompt left out,
//!   appended after each turn) and `meta.json` (rewritten after each
//!   append: `session_id`, `start_time`, `end_time`, `title` and
//!   `title_source`, `environment.working_directory`, `config.active_model`,
//!   token `stats`). `messages.jsonl` is the source and is read by offset.
//! * Before January 2026: one `session_<YYYYMMDD>_<HHMMSS>_<id8>.json`,
//!   `{metadata, messages}`, rewritten after each turn; the metadata is the
//!   same as `meta.json` with the model under `agent_config.active_model`.
//!
//! Messages are OpenAI-style chat messages (`role`, `content`,
//! `tool_calls[].function{name, arguments}`, `tool_call_id`); none carries a
//! time. The first message of a session takes its `start_time`; every
//! other message the `end_time` the metadata had when cass read it (the
//! save that wrote it or a later one), so the conversation spans the
//! session and no message is dated before it was written. Times without a
//! zone (older builds wrote local time) are read as UTC.

use std::path::Path;

use serde_json::{Value, json};

use super::announce::Announced;
use super::content::{self, str_field};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Message, Role};
use crate::time;

/// Reads Mistral Vibe sessions, both layouts.
pub struct Vibe;

/// The current layout's message log, inside a session folder.
const MESSAGES: &str = "messages.jsonl";

impl Connector for Vibe {
    fn agent(&self) -> Agent {
        Agent::Vibe
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        match env.path_var("VIBE_HOME") {
            Some(dir) => vec![Root { path: dir.join("logs/session"), origin: "VIBE_HOME" }],
            None => vec![Root { path: env.home.join(".vibe/logs/session"), origin: "default" }],
        }
    }

    fn is_source(&self, root: &Path, path: &Path) -> bool {
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        match path.parent() {
            Some(dir) if dir == root => name.starts_with("session_") && name.ends_with(".json"),
            Some(dir) => name == MESSAGES && dir.parent() == Some(root),
            None => false,
        }
    }

    fn layout(&self, path: &Path) -> SourceLayout {
        SourceLayout::by_extension(path)
    }

    fn walk_depth(&self) -> usize {
        2
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        if req.path.extension().is_some_and(|e| e == "json") {
            return parse_v1(req.path, sink);
        }
        let meta = match req.path.parent().map(|d| d.join("meta.json")).filter(|m| m.is_file()) {
            Some(path) => match super::document::read_json(&path) {
                Ok(v) => Meta::of(&v),
                Err(e) => {
                    sink.malformed(0, format!("meta.json: {}", e.reason()));
                    Meta::default()
                }
            },
            None => Meta::default(),
        };
        let mut state: VibeState = req.resume_state();
        if state.external_id.is_empty() {
            state.external_id = meta.session_id.clone().unwrap_or_else(|| folder_name(req.path));
        }
        state.announced.titled |= meta.title_explicit;
        let end = super::lines::parse_jsonl(req, sink, |rec, line, offset, sink| {
            let Some((role, text)) = message_text(rec, line, sink) else { return };
            let created_at = own_time(rec).or(if state.seen == 0 { meta.start } else { meta.end.or(meta.start) });
            state.seen += 1;
            let header = || meta.header(&state.external_id);
            state.announced.before_message(sink, &state.external_id, header, role, &text);
            let author = if role == Role::Assistant { meta.model.clone() } else { None };
            sink.message(Message { role, author, created_at, content: text, line_offset: Some(offset) });
        })?;
        Ok(end.into_parse_end(json!(state)))
    }
}

fn folder_name(messages: &Path) -> String {
    messages.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// What the session metadata says (`meta.json`, or v1's `metadata`).
#[derive(Debug, Default)]
struct Meta {
    session_id: Option<String>,
    title: Option<String>,
    /// The user named the session (`title_source: manual`); an automatic
    /// title is only the first user message cut to 50 characters.
    title_explicit: bool,
    workspace: Option<String>,
    model: Option<String>,
    start: Option<i64>,
    end: Option<i64>,
}

impl Meta {
    fn of(v: &Value) -> Meta {
        let manual = str_field(v, "title_source") == Some("manual");
        let model = ["/config/active_model", "/agent_config/active_model"]
            .iter()
            .find_map(|p| v.pointer(p).and_then(Value::as_str))
            .map(str::to_string);
        Meta {
            session_id: str_field(v, "session_id").map(str::to_string),
            title: str_field(v, "title").filter(|_| manual).map(str::to_string),
            title_explicit: manual && str_field(v, "title").is_some(),
            workspace: v.pointer("/environment/working_directory").and_then(Value::as_str).map(str::to_string),
            model,
            start: v.get("start_time").and_then(time::parse_value),
            end: v.get("end_time").and_then(time::parse_value),
        }
    }

    fn header(&self, external_id: &str) -> ConversationHeader {
        ConversationHeader {
            external_id: external_id.to_string(),
            title: self.title.clone(),
            title_explicit: self.title_explicit,
            workspace: self.workspace.clone(),
        }
    }
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct VibeState {
    external_id: String,
    /// Messages read so far (the first one takes the session's start).
    seen: u64,
    #[serde(flatten)]
    announced: Announced,
}

/// A message's own time, where a build writes one.
fn own_time(rec: &Value) -> Option<i64> {
    ["timestamp", "created_at", "createdAt", "time", "ts"].iter().find_map(|k| rec.get(*k).and_then(time::parse_value))
}

/// The role and searchable text of one chat message: content (a string or
/// a list of text parts) plus one line per tool call; reasoning stays out.
/// A user message Vibe injected itself (`injected: true`) is the harness
/// speaking: role system. Nothing to index yields None.
fn message_text(rec: &Value, line: u64, sink: &mut dyn ParseSink) -> Option<(Role, String)> {
    let label = str_field(rec, "role").unwrap_or("");
    let Some(mut role) = Role::from_agent_label(label) else {
        sink.malformed(line, format!("unknown role '{label}'"));
        return None;
    };
    if role == Role::User && rec.get("injected").and_then(Value::as_bool) == Some(true) {
        role = Role::System;
    }
    let body = rec.get("content").and_then(content::flatten).unwrap_or_default();
    let text = if role == Role::Tool {
        content::cap_bytes(&body, content::TOOL_OUTPUT_CAP)
    } else {
        let calls = rec.get("tool_calls").and_then(Value::as_array).into_iter().flatten().map(|c| {
            let f = c.get("function");
            let name = f.and_then(|f| str_field(f, "name")).or_else(|| str_field(c, "name")).unwrap_or("tool");
            content::tool_call_line(name, f.and_then(|f| f.get("arguments")))
        });
        std::iter::once(body.trim().to_string()).chain(calls).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n")
    };
    (!text.trim().is_empty()).then_some((role, text))
}

/// The older layout: one document, its system prompt among the messages.
fn parse_v1(path: &Path, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
    let doc = super::document::read_json(path)?;
    let meta = doc.get("metadata").map(Meta::of).unwrap_or_default();
    let Some(list) = doc.get("messages").and_then(Value::as_array) else {
        return Err(ParseError::Format { path: path.into(), message: "no messages list".into() });
    };
    let external_id = meta
        .session_id
        .clone()
        .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    let mut messages = Vec::new();
    for rec in list {
        if str_field(rec, "role") == Some("system") {
            continue; // the system prompt, the same in every session
        }
        let Some((role, text)) = message_text(rec, 0, sink) else { continue };
        let at = own_time(rec).or(if messages.is_empty() { meta.start } else { meta.end.or(meta.start) });
        let author = if role == Role::Assistant { meta.model.clone() } else { None };
        messages.push(super::document::message(role, author, at, text));
    }
    super::document::emit_conversation(sink, meta.header(&external_id), messages);
    Ok(super::document::whole_file_end(path))
}
