//! Kiro CLI (`kiro-cli`): `~/.kiro/sessions/cli/<session>.jsonl`, an
//! append-only event log of `{version, kind, data}` records, beside a
//! `<session>.json` snapshot the CLI rewrites (session id, cwd, title,
//! model). `<session>.lock` and `sess_<id>.history` are not logs.
//!
//! Kinds: `Prompt` (the user), `AssistantMessage`, `ToolResults`; others are
//! skipped. `data.content` is a list of `{kind, data}` blocks: `text`,
//! `thinking` (kept out of the index, as every connector does), `toolUse`
//! and `toolResult`. Only a prompt carries a time (`data.meta.timestamp`,
//! epoch seconds); the replies and tool results after it take that time.
//! A known kiro-cli bug can write two assistant messages in a row: nothing
//! here assumes turns alternate.

use std::path::Path;

use serde_json::{Value, json};

use super::announce::Announced;
use super::content::{self, str_field};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Message, Role};
use crate::time;

/// Reads Kiro CLI session logs.
pub struct Kiro;

impl Connector for Kiro {
    fn agent(&self) -> Agent {
        Agent::Kiro
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        vec![Root { path: env.home.join(".kiro/sessions/cli"), origin: "default" }]
    }

    fn is_source(&self, root: &Path, path: &Path) -> bool {
        path.parent() == Some(root) && path.extension().is_some_and(|e| e == "jsonl")
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::AppendOnlyLines
    }

    fn walk_depth(&self) -> usize {
        1
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let mut state: KiroState = req.resume_state();
        // The snapshot is rewritten as the session goes: read it every time.
        let snapshot = Snapshot::beside(req.path, sink);
        state.external_id = snapshot
            .session_id
            .clone()
            .unwrap_or_else(|| req.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
        if snapshot.title.is_some() {
            state.announced.titled = true;
        }
        let end = super::lines::parse_jsonl(req, sink, |rec, line, offset, sink| {
            state.record(rec, line, offset, &snapshot, sink)
        })?;
        Ok(end.into_parse_end(json!(state)))
    }
}

/// What `<session>.json` says about the session.
#[derive(Debug, Default)]
struct Snapshot {
    session_id: Option<String>,
    title: Option<String>,
    cwd: Option<String>,
    model: Option<String>,
}

impl Snapshot {
    /// The snapshot beside `log`; none when absent, and a broken one is
    /// reported (the log is still read).
    fn beside(log: &Path, sink: &mut dyn ParseSink) -> Snapshot {
        let path = log.with_extension("json");
        if !path.is_file() {
            return Snapshot::default();
        }
        match super::document::read_json(&path) {
            Ok(v) => Snapshot {
                session_id: str_field(&v, "session_id").map(str::to_string),
                title: str_field(&v, "title").map(str::to_string),
                cwd: str_field(&v, "cwd").map(str::to_string),
                model: v
                    .pointer("/session_state/model_info")
                    .and_then(|m| str_field(m, "model_id").or_else(|| str_field(m, "model_name")))
                    .map(str::to_string),
            },
            Err(e) => {
                sink.malformed(
                    0,
                    format!("{}: {}", path.file_name().unwrap_or_default().to_string_lossy(), e.reason()),
                );
                Snapshot::default()
            }
        }
    }
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct KiroState {
    external_id: String,
    /// The time of the last prompt, which the records after it share.
    last_time: Option<i64>,
    #[serde(flatten)]
    announced: Announced,
}

impl KiroState {
    fn record(&mut self, rec: &Value, line: u64, offset: u64, snapshot: &Snapshot, sink: &mut dyn ParseSink) {
        let Some(kind) = str_field(rec, "kind") else {
            sink.malformed(line, "record has no kind".into());
            return;
        };
        let role = match kind {
            "Prompt" => Role::User,
            "AssistantMessage" => Role::Assistant,
            "ToolResults" => Role::Tool,
            _ => return, // compaction markers and other bookkeeping
        };
        let data = rec.get("data").unwrap_or(&Value::Null);
        if role == Role::User
            && let Some(at) = data.pointer("/meta/timestamp").and_then(time::parse_value)
        {
            // Kept monotonic: a clock step back must not reorder the session.
            self.last_time = Some(self.last_time.map_or(at, |t| t.max(at)));
        }
        let Some(Value::Array(blocks)) = data.get("content") else {
            sink.malformed(line, format!("{kind} record has no content list"));
            return;
        };
        let text = blocks.iter().filter_map(block_text).filter(|t| !t.trim().is_empty()).collect::<Vec<_>>().join("\n");
        if text.trim().is_empty() {
            return;
        }
        let header = || ConversationHeader {
            external_id: self.external_id.clone(),
            title: snapshot.title.clone(),
            title_explicit: snapshot.title.is_some(),
            workspace: snapshot.cwd.clone(),
        };
        self.announced.before_message(sink, &self.external_id, header, role, &text);
        let author = if role == Role::Assistant { snapshot.model.clone() } else { None };
        sink.message(Message { role, author, created_at: self.last_time, content: text, line_offset: Some(offset) });
    }
}

/// The searchable text of one content block.
fn block_text(block: &Value) -> Option<String> {
    let data = block.get("data")?;
    match str_field(block, "kind")? {
        "text" => data.as_str().or_else(|| data.get("data").and_then(Value::as_str)).map(str::to_string),
        "toolUse" => Some(content::tool_call_line(str_field(data, "name").unwrap_or("tool"), data.get("input"))),
        "toolResult" => {
            let parts = data.get("content")?.as_array()?;
            let text = parts.iter().filter_map(block_text_or_json).collect::<Vec<_>>().join("\n");
            Some(content::cap_bytes(&text, content::TOOL_OUTPUT_CAP))
        }
        _ => None, // thinking, images
    }
}

/// A tool result part: text as text, structured output as compact JSON.
fn block_text_or_json(part: &Value) -> Option<String> {
    match str_field(part, "kind")? {
        "json" => part.get("data").map(Value::to_string),
        _ => block_text(part),
    }
}
