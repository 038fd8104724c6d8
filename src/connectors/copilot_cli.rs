//! GitHub Copilot CLI: `~/.copilot/session-state/<session>/events.jsonl`
//! (append-only event log with dotted types: `session.start`,
//! `user.message`, `assistant.message`, `tool.execution_complete`, …; the
//! payload sits under `data` in real files, at the top level in older ones)
//! and legacy whole-file `~/.copilot/history-session-state/<id>.json`.

use std::path::Path;

use serde_json::{Value, json};

use super::announce::Announced;
use super::content::{self, str_field};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Message, Role};
use crate::time;

/// Reads GitHub Copilot CLI sessions: event logs and legacy JSON documents.
pub struct CopilotCli;

impl Connector for CopilotCli {
    fn agent(&self) -> Agent {
        Agent::CopilotCli
    }

    /// `COPILOT_HOME` relocates `~/.copilot`. Builds up to 0.0.421 honoured
    /// `XDG_CONFIG_HOME` instead (`$XDG_CONFIG_HOME/.copilot`), so that is
    /// looked at too when set.
    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let mut bases = match env.path_var("COPILOT_HOME") {
            Some(dir) => vec![(dir, "COPILOT_HOME")],
            None => vec![(env.home.join(".copilot"), "default")],
        };
        if let Some(dir) = env.path_var("XDG_CONFIG_HOME") {
            bases.push((dir.join(".copilot"), "XDG_CONFIG_HOME (older builds)"));
        }
        let mut roots = Vec::new();
        for (base, origin) in bases {
            roots.push(Root { path: base.join("session-state"), origin });
            roots.push(Root { path: base.join("history-session-state"), origin });
        }
        roots
    }

    fn is_source(&self, root: &Path, path: &Path) -> bool {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if root.ends_with("history-session-state") { name.ends_with(".json") } else { name == "events.jsonl" }
    }

    fn layout(&self, path: &Path) -> SourceLayout {
        SourceLayout::by_extension(path)
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        if self.layout(req.path) == SourceLayout::WholeFile {
            return parse_legacy(req.path, sink);
        }
        let mut state: EventsState = req.resume_state();
        // The session directory is named by the session id.
        let dir_id = req.path.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned());
        let external_id = dir_id.unwrap_or_default();
        let end = super::lines::parse_jsonl(req, sink, |rec, line, offset, sink| {
            state.record(rec, line, offset, &external_id, sink)
        })?;
        Ok(end.into_parse_end(json!(state)))
    }
}

/// The payload of an event: `data` in current files, the record itself in
/// older ones.
fn payload(rec: &Value) -> &Value {
    rec.get("data").filter(|d| d.is_object()).unwrap_or(rec)
}

fn first_str<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| str_field(v, k))
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct EventsState {
    workspace: Option<String>,
    #[serde(flatten)]
    announced: Announced,
}

impl EventsState {
    fn record(&mut self, rec: &Value, line: u64, offset: u64, external_id: &str, sink: &mut dyn ParseSink) {
        let Some(kind) = str_field(rec, "type") else {
            sink.malformed(line, "event has no type".into());
            return;
        };
        let kind: String = kind.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
        let data = payload(rec);
        if self.workspace.is_none() {
            let cwd = first_str(data, &["cwd", "workingDirectory", "workspacePath"])
                .or_else(|| data.get("context").and_then(|c| first_str(c, &["cwd", "workingDirectory"])));
            self.workspace = cwd.map(str::to_string);
        }
        let created_at = rec.get("timestamp").and_then(time::parse_value);
        let (role, text) = match kind.as_str() {
            "usermessage" | "userpromptsubmitted" | "userprompt" => {
                (Role::User, first_str(data, &["content", "prompt", "message"]).unwrap_or("").to_string())
            }
            "assistantmessage" | "assistantresponse" => {
                let mut text = first_str(data, &["content", "output", "result", "message"]).unwrap_or("").to_string();
                for call in data.get("toolRequests").and_then(Value::as_array).into_iter().flatten() {
                    let name = first_str(call, &["name", "toolName"]).unwrap_or("tool");
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&content::tool_call_line(name, call.get("arguments")));
                }
                (Role::Assistant, text)
            }
            "toolexecutioncomplete" => {
                let out = data.get("result").or_else(|| data.get("output")).and_then(content::tool_output);
                (Role::Tool, out.unwrap_or_default())
            }
            _ => return, // session.start, tool.execution_start, turn and usage events
        };
        if text.trim().is_empty() {
            return;
        }
        let header = || ConversationHeader {
            external_id: external_id.to_string(),
            workspace: self.workspace.clone(),
            ..Default::default()
        };
        self.announced.before_message(sink, external_id, header, role, &text);
        sink.message(Message { role, author: None, created_at, content: text, line_offset: Some(offset) });
    }
}

/// Legacy `{history|events|messages|conversation: [...], workspacePath}`.
fn parse_legacy(path: &Path, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
    let doc = super::document::read_json(path)?;
    let items = ["history", "events", "messages", "conversation"]
        .iter()
        .find_map(|k| doc.get(*k).and_then(Value::as_array))
        .ok_or_else(|| ParseError::Format { path: path.into(), message: "no history/messages array".into() })?;
    let header = ConversationHeader {
        external_id: str_field(&doc, "sessionId")
            .map(str::to_string)
            .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()),
        workspace: first_str(&doc, &["workspacePath", "cwd", "workingDirectory"]).map(str::to_string),
        ..Default::default()
    };
    let mut messages = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let label = first_str(item, &["role", "type"]).unwrap_or("");
        let Some(role) = Role::from_agent_label(label) else {
            sink.malformed(0, format!("entry {}: unknown role '{label}'", i + 1));
            continue;
        };
        let text = first_str(item, &["content", "prompt", "result", "output", "text"]).unwrap_or("");
        let created_at = ["time", "timestamp"].iter().find_map(|k| item.get(*k)).and_then(time::parse_value);
        if !text.trim().is_empty() {
            messages.push(super::document::message(role, None, created_at, text.to_string()));
        }
    }
    super::document::emit_conversation(sink, header, messages);
    Ok(super::document::whole_file_end(path))
}
