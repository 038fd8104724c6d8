//! Qwen Code (Alibaba), a fork of Gemini CLI, in two generations.
//!
//! * Current: `<runtime>/projects/<sanitized cwd>/chats/<sessionId>.jsonl`,
//!   `<runtime>` being `$QWEN_RUNTIME_DIR`, else `~/.qwen` (relocated by
//!   `$QWEN_HOME`). Append-only records `{uuid, parentUuid, sessionId,
//!   timestamp (ISO), type: user|assistant|tool_result|system, subtype, cwd,
//!   message: Gemini Content {role, parts}, usageMetadata, model}`. Parts:
//!   `{text}` (with `thought: true` for reasoning), `{functionCall{name,
//!   args}}`, `{functionResponse{name, response}}`. System records carry
//!   metadata: `custom_title` (`systemPayload.customTitle`), `session_model`.
//! * Legacy: `~/.qwen/tmp/<project hash>/chats/session-*.json`, Gemini CLI's
//!   whole-document format (`messages` of type `user` / `qwen`), read by
//!   the Gemini reader.
//!
//! Qwen keeps every branch of a session in its file (`/rewind` and retries
//! make `parentUuid` a tree); the log is indexed as written, abandoned
//! branches included, so a tail read never has to rewrite what it stored.

use std::path::Path;

use serde_json::{Value, json};

use super::announce::Announced;
use super::content::{self, str_field};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Message, Role, Usage};
use crate::time;

/// Reads Qwen Code's JSONL chats and its legacy Gemini-style JSON sessions.
pub struct Qwen;

impl Connector for Qwen {
    fn agent(&self) -> Agent {
        Agent::Qwen
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let mut roots = Vec::new();
        if let Some(dir) = env.path_var("QWEN_RUNTIME_DIR") {
            roots.push(Root { path: dir.join("projects"), origin: "QWEN_RUNTIME_DIR" });
        }
        let (home, origin) = match env.path_var("QWEN_HOME") {
            Some(dir) => (dir, "QWEN_HOME"),
            None => (env.home.join(".qwen"), "default"),
        };
        roots.push(Root { path: home.join("projects"), origin });
        roots.push(Root {
            path: home.join("tmp"),
            origin: if origin == "default" { "default (legacy)" } else { origin },
        });
        roots
    }

    fn is_source(&self, _root: &Path, path: &Path) -> bool {
        let in_chats = path.parent().and_then(Path::file_name).is_some_and(|n| n == "chats");
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        in_chats && (name.ends_with(".jsonl") || (name.starts_with("session-") && name.ends_with(".json")))
    }

    fn layout(&self, path: &Path) -> SourceLayout {
        SourceLayout::by_extension(path)
    }

    fn reads_usage(&self) -> bool {
        true
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        if req.path.extension().is_none_or(|e| e != "jsonl") {
            return super::gemini::Gemini.parse(req, sink);
        }
        let mut state: QwenState = req.resume_state();
        if state.external_id.is_empty() {
            state.external_id = req.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        }
        let end =
            super::lines::parse_jsonl(req, sink, |rec, line, offset, sink| state.record(rec, line, offset, sink))?;
        Ok(end.into_parse_end(json!(state)))
    }
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct QwenState {
    external_id: String,
    workspace: Option<String>,
    model: Option<String>,
    #[serde(flatten)]
    announced: Announced,
}

impl QwenState {
    fn header(&self) -> ConversationHeader {
        ConversationHeader {
            external_id: self.external_id.clone(),
            workspace: self.workspace.clone(),
            ..Default::default()
        }
    }

    fn record(&mut self, rec: &Value, line: u64, offset: u64, sink: &mut dyn ParseSink) {
        let Some(kind) = str_field(rec, "type") else {
            sink.malformed(line, "record has no type".into());
            return;
        };
        if self.workspace.is_none() {
            self.workspace = str_field(rec, "cwd").map(str::to_string);
        }
        let at = rec.get("timestamp").and_then(time::parse_value);
        match kind {
            "system" => self.system(rec, sink),
            "user" | "assistant" | "tool_result" => {
                let parts = rec.pointer("/message/parts").and_then(Value::as_array);
                let Some(parts) = parts else {
                    sink.malformed(line, format!("{kind} record has no message parts"));
                    return;
                };
                if kind == "assistant"
                    && let Some(m) = str_field(rec, "model")
                {
                    self.model = Some(m.to_string());
                }
                let (text, outputs) = flatten_parts(parts);
                let role = match kind {
                    "assistant" => Role::Assistant,
                    "tool_result" => Role::Tool,
                    _ => Role::User,
                };
                let usage = if kind == "assistant" { self.call_usage(rec, at, offset) } else { None };
                if role != Role::Tool && !text.trim().is_empty() {
                    let author = if role == Role::Assistant { self.model.clone() } else { None };
                    self.send(Message { role, author, created_at: at, content: text, line_offset: Some(offset) }, sink);
                }
                for o in outputs {
                    self.send(
                        Message {
                            role: Role::Tool,
                            author: None,
                            created_at: at,
                            content: o,
                            line_offset: Some(offset),
                        },
                        sink,
                    );
                }
                if let Some(u) = usage {
                    self.announced.before_usage(sink, self.header());
                    sink.usage(u);
                }
            }
            _ => sink.malformed(line, format!("unknown record type '{kind}'")),
        }
    }

    fn send(&mut self, message: Message, sink: &mut dyn ParseSink) {
        let header = self.header();
        let id = self.external_id.clone();
        self.announced.before_message(sink, &id, || header, message.role, &message.content);
        sink.message(message);
    }

    /// `custom_title` names the session (the latest one wins, as in Qwen);
    /// `session_model` sets the model of later turns. Other system records
    /// (compression checkpoints, telemetry, slash commands) are bookkeeping.
    fn system(&mut self, rec: &Value, sink: &mut dyn ParseSink) {
        let payload = rec.get("systemPayload").unwrap_or(&Value::Null);
        match str_field(rec, "subtype") {
            Some("custom_title") => {
                if let Some(title) = str_field(payload, "customTitle") {
                    self.announced.titled = true;
                    sink.conversation(ConversationHeader {
                        title: Some(title.to_string()),
                        title_explicit: true,
                        ..self.header()
                    });
                }
            }
            Some("session_model") => {
                if let Some(m) = str_field(payload, "modelId") {
                    self.model = Some(m.to_string());
                }
            }
            _ => {}
        }
    }

    /// The tokens of the call behind an assistant record (`usageMetadata`,
    /// Gemini's shape). The prompt count includes cached and tool-use
    /// prompt tokens; whether thoughts are inside the candidates count
    /// depends on the provider adapter, so output is taken as total minus
    /// prompt when the total is there. The record's uuid names the call.
    fn call_usage(&self, rec: &Value, at: Option<i64>, offset: u64) -> Option<Usage> {
        let meta = rec.get("usageMetadata")?.as_object()?;
        let n = |k: &str| meta.get(k).and_then(Value::as_u64).unwrap_or(0);
        let (prompt, cached, tool) =
            (n("promptTokenCount"), n("cachedContentTokenCount"), n("toolUsePromptTokenCount"));
        let (candidates, thoughts, total) = (n("candidatesTokenCount"), n("thoughtsTokenCount"), n("totalTokenCount"));
        let cached = cached.min(prompt);
        let output = if total >= prompt + tool + candidates { total - prompt - tool } else { candidates + thoughts };
        if prompt + output == 0 {
            return None;
        }
        Some(Usage {
            created_at: at?,
            model: str_field(rec, "model").map(str::to_string).or_else(|| self.model.clone()),
            input: prompt - cached + tool,
            output,
            cache_write: 0,
            cache_write_1h: 0,
            cache_read: cached,
            reasoning: thoughts.min(output),
            request_key: str_field(rec, "uuid").map(|id| format!("qwen:{}:{id}", self.external_id)),
            line_offset: Some(offset),
        })
    }
}

/// A Gemini `Content`'s parts as searchable text (text parts, one line per
/// function call; thoughts left out) and tool outputs (function responses).
fn flatten_parts(parts: &[Value]) -> (String, Vec<String>) {
    let mut lines = Vec::new();
    let mut outputs = Vec::new();
    for part in parts {
        if part.get("thought").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let Some(text) = str_field(part, "text") {
            lines.push(text.to_string());
        } else if let Some(call) = part.get("functionCall") {
            lines.push(content::tool_call_line(str_field(call, "name").unwrap_or("tool"), call.get("args")));
        } else if let Some(resp) = part.get("functionResponse") {
            let body = resp.get("response").unwrap_or(&Value::Null);
            let body = body.get("output").or_else(|| body.get("error")).unwrap_or(body);
            if let Some(text) = content::tool_output(body)
                && !text.trim().is_empty()
            {
                outputs.push(text);
            }
        }
    }
    (lines.join("\n"), outputs)
}
