//! OpenHands (CLI and Agent SDK): a directory per conversation under
//! `~/.openhands/conversations/<id hex>/` (`$OPENHANDS_CONVERSATIONS_DIR`,
//! or `conversations/` of `$OPENHANDS_PERSISTENCE_DIR`):
//!
//! * `base_state.json`, rewritten: `id`, `agent.llm.model`,
//!   `workspace.working_dir`, and `stats.usage_to_metrics.<llm>.token_usages`
//!   (one entry per model call, named by `response_id`);
//! * `events/event-<NNNNN>-<event id>.json`, one JSON document per event,
//!   written once, the zero-padded ordinal giving the order. Events are
//!   `{kind, id, timestamp (naive ISO, UTC), source}`: `MessageEvent`
//!   (`llm_message{role, content}`), `ActionEvent` (`thought`, `tool_name`,
//!   `tool_call.arguments` as a JSON string, `llm_response_id`),
//!   `ObservationEvent` (`observation{content, is_error}`),
//!   `UserRejectObservation`, `AgentErrorEvent`, and bookkeeping kinds
//!   (system prompt, condensation, state updates) that are not messages.
//!
//! `base_state.json` is the source; the event files are its companions, so a
//! new event re-reads the conversation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::content::{self, str_field};
use super::document::{emit_with_usage, message};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Message, Role, Usage};
use crate::time;

/// Reads OpenHands conversation directories.
pub struct OpenHands;

const BASE_STATE: &str = "base_state.json";

impl Connector for OpenHands {
    fn agent(&self) -> Agent {
        Agent::OpenHands
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        if let Some(dir) = env.path_var("OPENHANDS_CONVERSATIONS_DIR") {
            return vec![Root { path: dir, origin: "OPENHANDS_CONVERSATIONS_DIR" }];
        }
        match env.path_var("OPENHANDS_PERSISTENCE_DIR") {
            Some(dir) => vec![Root { path: dir.join("conversations"), origin: "OPENHANDS_PERSISTENCE_DIR" }],
            None => vec![Root { path: env.home.join(".openhands/conversations"), origin: "default" }],
        }
    }

    fn is_source(&self, root: &Path, path: &Path) -> bool {
        path.file_name().is_some_and(|n| n == BASE_STATE) && path.parent().and_then(Path::parent) == Some(root)
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::WholeFile
    }

    fn companions(&self, path: &Path) -> Vec<PathBuf> {
        self.companions_listed(path, &super::local_files)
    }

    fn companions_listed(&self, path: &Path, list: &dyn Fn(&Path) -> Vec<PathBuf>) -> Vec<PathBuf> {
        let Some(dir) = path.parent() else { return Vec::new() };
        list(&dir.join("events")).into_iter().filter(|p| is_event_file(p)).collect()
    }

    /// `<root>/<conversation>/events/<event>.json`.
    fn walk_depth(&self) -> usize {
        2
    }

    fn reads_usage(&self) -> bool {
        true
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let state = super::document::read_json(req.path)?;
        let dir = req.path.parent().unwrap_or(Path::new("."));
        let id = str_field(&state, "id")
            .map(str::to_string)
            .unwrap_or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        let model = state.pointer("/agent/llm/model").and_then(Value::as_str).map(str::to_string);
        let mut header = ConversationHeader {
            external_id: id,
            workspace: state.pointer("/workspace/working_dir").and_then(Value::as_str).map(str::to_string),
            ..Default::default()
        };
        let mut calls = token_usages(&state);
        let mut out: Vec<Message> = Vec::new();
        let mut usage: Vec<(usize, Usage)> = Vec::new();
        for file in event_files(&dir.join("events")) {
            let event = match super::document::read_json(&file) {
                Ok(e) => e,
                Err(e) => {
                    sink.malformed(0, e.to_string());
                    continue;
                }
            };
            let at = event.get("timestamp").and_then(time::parse_value);
            if header.workspace.is_none() {
                header.workspace =
                    event.pointer("/observation/metadata/working_dir").and_then(Value::as_str).map(str::to_string);
            }
            out.extend(event_messages(&event, at, model.as_deref(), &file, sink));
            // A call's tokens belong to the first event of its response.
            if let Some(rid) = str_field(&event, "llm_response_id")
                && let Some(mut u) = calls.remove(rid)
                && let Some(at) = at
            {
                u.created_at = at;
                u.model = u.model.or_else(|| model.clone());
                usage.push((out.len(), u));
            }
        }
        emit_with_usage(sink, header, out, usage);
        Ok(super::document::whole_file_end(req.path))
    }
}

/// `events/event-*.json`, in file-name order (the ordinal is zero-padded,
/// so that is timeline order).
fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_event_file(p))
        .collect();
    files.sort();
    files
}

/// `event-….json`.
fn is_event_file(p: &Path) -> bool {
    let name = p.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    name.starts_with("event-") && name.ends_with(".json")
}

/// Each model call's tokens from `stats.usage_to_metrics.*.token_usages`,
/// by response id (the time comes from the event that carries the id).
/// The SDK records LiteLLM's chat counts: `prompt_tokens` includes cache
/// reads and writes, `completion_tokens` includes reasoning.
fn token_usages(state: &Value) -> HashMap<String, Usage> {
    let mut out = HashMap::new();
    let Some(metrics) = state.pointer("/stats/usage_to_metrics").and_then(Value::as_object) else { return out };
    for m in metrics.values() {
        for t in m.get("token_usages").and_then(Value::as_array).into_iter().flatten() {
            let Some(rid) = str_field(t, "response_id") else { continue };
            let n = |k: &str| t.get(k).and_then(Value::as_u64).unwrap_or(0);
            let (read, write) = (n("cache_read_tokens"), n("cache_write_tokens"));
            out.insert(
                rid.to_string(),
                Usage {
                    created_at: 0,
                    model: str_field(t, "model").map(str::to_string),
                    input: n("prompt_tokens").saturating_sub(read + write),
                    output: n("completion_tokens"),
                    cache_write: write,
                    cache_write_1h: 0,
                    cache_read: read,
                    reasoning: n("reasoning_tokens").min(n("completion_tokens")),
                    request_key: Some(format!("openhands:{rid}")),
                    line_offset: None,
                },
            );
        }
    }
    out
}

/// Text of a list of `{type: "text", text}` items.
fn texts(items: Option<&Value>) -> String {
    items.and_then(content::flatten).unwrap_or_default()
}

fn event_messages(
    event: &Value,
    at: Option<i64>,
    model: Option<&str>,
    file: &Path,
    sink: &mut dyn ParseSink,
) -> Vec<Message> {
    let Some(kind) = str_field(event, "kind") else {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        sink.malformed(0, format!("{name}: event has no kind"));
        return Vec::new();
    };
    let author = || model.map(str::to_string);
    let (role, author, text) = match kind {
        "MessageEvent" => {
            let msg = event.get("llm_message").unwrap_or(&Value::Null);
            let role = match str_field(event, "source") {
                Some("user") => Role::User,
                Some("agent") => Role::Assistant,
                _ => str_field(msg, "role").and_then(Role::from_agent_label).unwrap_or(Role::System),
            };
            let author = if role == Role::Assistant { author() } else { None };
            (role, author, texts(msg.get("content")))
        }
        "ActionEvent" => {
            let mut lines: Vec<String> = Vec::new();
            let thought = texts(event.get("thought"));
            if !thought.trim().is_empty() {
                lines.push(thought);
            }
            let name = str_field(event, "tool_name")
                .or_else(|| event.pointer("/tool_call/name").and_then(Value::as_str))
                .unwrap_or("tool");
            lines.push(content::tool_call_line(name, event.pointer("/tool_call/arguments")));
            (Role::Assistant, author(), lines.join("\n"))
        }
        "ObservationEvent" => {
            let obs = event.get("observation").unwrap_or(&Value::Null);
            let body = obs.get("content").and_then(content::tool_output).unwrap_or_default();
            let text = if obs.get("is_error").and_then(Value::as_bool) == Some(true) {
                format!("[tool error] {body}")
            } else {
                body
            };
            (Role::Tool, None, text)
        }
        "UserRejectObservation" => {
            let reason = str_field(event, "rejection_reason").unwrap_or("");
            (Role::Tool, None, format!("[rejected] {reason}").trim_end().to_string())
        }
        "AgentErrorEvent" => (Role::Tool, None, format!("[tool error] {}", str_field(event, "error").unwrap_or(""))),
        _ => return Vec::new(), // SystemPromptEvent, condensation, state updates, pauses
    };
    if text.trim().is_empty() {
        return Vec::new();
    }
    vec![message(role, author, at, text)]
}
