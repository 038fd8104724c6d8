//! Cline (and its fork Roo Code): VS Code extension storage
//! `globalStorage/<extension>/tasks/<taskId>/` holding `ui_messages.json` (the
//! transcript the user saw, with timestamps), `api_conversation_history.json`
//! (the Anthropic message array sent to the model) and `task_metadata.json`.
//! Files are rewritten whole, so a task is re-read on any change to them.
//!
//! One task directory is one conversation. The UI transcript is preferred:
//! it has a timestamp per message and everything the API history says is
//! shown in it; the API history is read only when there is no UI transcript.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::content::{self, str_field};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout, vscode};
use crate::model::{Agent, ConversationHeader, Message, Role, Usage};
use crate::time;

/// Reads Cline and Roo Code tasks, one task directory per conversation.
pub struct Cline;

/// Extension ids: Cline, then Roo Code.
const EXTENSIONS: &[&str] = &["saoudrizwan.claude-dev", "rooveterinaryinc.roo-cline"];
const UI: &str = "ui_messages.json";
const API: &str = "api_conversation_history.json";
const META: &str = "task_metadata.json";

impl Connector for Cline {
    fn agent(&self) -> Agent {
        Agent::Cline
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let mut roots = Vec::new();
        for (user, origin) in vscode::user_dirs(env) {
            for ext in EXTENSIONS {
                roots.push(Root { path: user.join("globalStorage").join(ext).join("tasks"), origin });
            }
        }
        roots
    }

    /// The task's anchor file: `ui_messages.json`, or the API history when a
    /// task has no UI transcript. Only direct task directories count.
    fn is_source(&self, root: &Path, path: &Path) -> bool {
        let Some(task) = path.parent() else { return false };
        if task.parent() != Some(root) {
            return false;
        }
        match path.file_name().and_then(|n| n.to_str()) {
            Some(UI) => true,
            Some(API) => !task.join(UI).exists(),
            _ => false,
        }
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::WholeFile
    }

    /// `tasks/<id>/<file>`: nothing deeper is a transcript.
    fn walk_depth(&self) -> usize {
        1
    }

    fn companions(&self, path: &Path) -> Vec<PathBuf> {
        let Some(task) = path.parent() else { return Vec::new() };
        [UI, API, META].iter().map(|n| task.join(n)).filter(|p| p != path).collect()
    }

    fn reads_usage(&self) -> bool {
        true
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let task = req.path.parent().unwrap_or(Path::new("."));
        let task_id = task.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut header = ConversationHeader { external_id: task_id.clone(), ..Default::default() };
        let mut model = None;
        let mut models: Vec<(i64, String)> = Vec::new();
        if let Some(meta) = read_optional(&task.join(META), sink) {
            for m in meta.get("model_usage").and_then(Value::as_array).into_iter().flatten() {
                if let (Some(ts), Some(id)) = (m.get("ts").and_then(time::parse_value), str_field(m, "model_id")) {
                    models.push((ts, id.to_string()));
                }
            }
            // The model most recently used in the task.
            model = meta
                .get("model_usage")
                .and_then(Value::as_array)
                .and_then(|u| u.iter().rev().find_map(|m| str_field(m, "model_id")))
                .map(str::to_string);
            if let Some(t) = str_field(&meta, "title") {
                header.title = Some(t.to_string());
                header.title_explicit = true;
            }
            header.workspace =
                ["rootPath", "cwd", "workspace"].iter().find_map(|k| str_field(&meta, k)).map(str::to_string);
        }
        if header.workspace.is_none() {
            header.workspace = history_cwd(task, &task_id);
        }
        let mut messages = Vec::new();
        let mut calls = Vec::new();
        // A broken UI transcript falls back to the API history (and is
        // reported); only when neither can be read is the task unreadable.
        let mut ui_error = None;
        if req.path.file_name().is_some_and(|n| n == UI) {
            match super::document::read_json(req.path) {
                Ok(Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(u) = call_usage(item, &models, model.as_deref()) {
                            calls.push((messages.len(), u));
                        }
                        ui_message(item, i as u64 + 1, &mut messages, sink);
                    }
                }
                Ok(_) => {
                    let message = "ui_messages.json is not an array".to_string();
                    ui_error = Some(ParseError::Format { path: req.path.into(), message });
                }
                Err(e) => ui_error = Some(e),
            }
        }
        if messages.is_empty() {
            let api = task.join(API);
            if api.exists() {
                let doc = super::document::read_json(&api)?;
                for (i, item) in doc.as_array().into_iter().flatten().enumerate() {
                    api_message(item, i as u64 + 1, &mut messages, sink);
                }
            }
        }
        if let Some(e) = ui_error {
            if messages.is_empty() {
                return Err(e);
            }
            sink.malformed(0, format!("ui_messages.json: {}", e.reason()));
        }
        for m in messages.iter_mut().filter(|m| m.role == Role::Assistant) {
            m.author = model.clone();
        }
        let first_user = messages.iter().find(|m| m.role == Role::User).map(|m| m.content.as_str());
        if header.workspace.is_none() {
            header.workspace = first_user.and_then(environment_cwd);
        }
        if header.title.is_none() {
            header.title = first_user.and_then(task_title);
        }
        super::document::emit_with_usage(sink, header, messages, calls);
        Ok(super::document::whole_file_end(req.path))
    }
}

/// The API history wraps the first prompt as `<task>…</task>`: its first
/// line names the task.
fn task_title(text: &str) -> Option<String> {
    let start = text.find("<task>")? + "<task>".len();
    let end = text[start..].find("</task>").map_or(text.len(), |e| start + e);
    content::title_from_user_text(&text[start..end])
}

/// The directory Cline reported in its `<environment_details>` block
/// (`# Current Working Directory (/path) Files`; Roo says "Workspace").
fn environment_cwd(text: &str) -> Option<String> {
    for marker in ["# Current Working Directory (", "# Current Workspace Directory ("] {
        if let Some(i) = text.find(marker) {
            let rest = &text[i + marker.len()..];
            let end = rest.find(')')?;
            return Some(rest[..end].to_string());
        }
    }
    None
}

/// A side file (task metadata, task history): absent is fine, broken is
/// reported and otherwise ignored.
fn read_optional(path: &Path, sink: &mut dyn ParseSink) -> Option<Value> {
    if !path.exists() {
        return None;
    }
    match super::document::read_json(path) {
        Ok(v) => Some(v),
        Err(e) => {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            sink.malformed(0, format!("{name}: {}", e.reason()));
            None
        }
    }
}

/// The task's working directory from the extension's `state/taskHistory.json`
/// (`cwdOnTaskInitialization`), where Cline keeps it.
fn history_cwd(task: &Path, task_id: &str) -> Option<String> {
    let history = task.parent()?.parent()?.join("state/taskHistory.json");
    let doc = super::document::read_json(&history).ok()?;
    let item = doc.as_array()?.iter().find(|i| str_field(*i, "id") == Some(task_id))?;
    str_field(item, "cwdOnTaskInitialization").map(str::to_string)
}

/// The tokens of one API request: a `say: api_req_started` record, whose
/// `text` is JSON with `tokensIn`, `tokensOut`, `cacheWrites`, `cacheReads`
/// (and `cost`, not read: cass prices calls itself). The model is the one
/// the task's metadata says was in use at the request's time (else the
/// latest). Cline reports Anthropic's counts as they are (cache apart from
/// input) and OpenAI-style ones with cached tokens inside `tokensIn`, as
/// its own cost functions read them: for a model not named `claude…` the
/// cache reads are taken out of the input.
fn call_usage(item: &Value, models: &[(i64, String)], latest: Option<&str>) -> Option<Usage> {
    if str_field(item, "say") != Some("api_req_started") {
        return None;
    }
    let info: Value = serde_json::from_str(str_field(item, "text")?).ok()?;
    let n = |k: &str| info.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (input, output, write, read) = (n("tokensIn"), n("tokensOut"), n("cacheWrites"), n("cacheReads"));
    if input + output + write + read == 0 {
        return None; // a request that failed or is still running
    }
    let at = item.get("ts").and_then(time::parse_value)?;
    let model = models.iter().rev().find(|(ts, _)| *ts <= at).map(|(_, m)| m.as_str()).or(latest);
    let additive = model.is_some_and(|m| m.to_ascii_lowercase().contains("claude"));
    let input = if additive { input } else { input.saturating_sub(read) };
    Some(Usage {
        created_at: at,
        model: model.map(str::to_string),
        input,
        output,
        cache_write: write,
        cache_write_1h: 0,
        cache_read: read,
        reasoning: 0,
        request_key: None,
        line_offset: None,
    })
}

/// One UI record. Real records are `{ts, type: say|ask, say|ask: <kind>,
/// text}`; simplified exports use `{role, content, timestamp}`.
fn ui_message(item: &Value, n: u64, out: &mut Vec<Message>, sink: &mut dyn ParseSink) {
    let created_at = ["ts", "timestamp", "created_at"].iter().find_map(|k| item.get(*k)).and_then(time::parse_value);
    let text = str_field(item, "text").unwrap_or("").to_string();
    let kind = match str_field(item, "type") {
        Some("say") => str_field(item, "say"),
        Some("ask") => str_field(item, "ask"),
        _ => None,
    };
    let Some(kind) = kind else {
        return api_message(item, n, out, sink);
    };
    let (role, body) = match kind {
        "task" | "user_feedback" | "user_feedback_diff" => (Role::User, text),
        "text" | "completion_result" | "plan_mode_respond" | "followup" => {
            // `followup` / `plan_mode_respond` carry JSON ({question} / {response}).
            let body = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| ["question", "response"].iter().find_map(|k| str_field(&v, k)).map(str::to_string))
                .unwrap_or(text);
            (Role::Assistant, body)
        }
        "command" => (Role::Assistant, content::tool_call_line("execute_command", Some(&Value::String(text)))),
        "tool" | "browser_action" | "use_mcp_server" => {
            let args = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
            let name = str_field(&args, "tool").or_else(|| str_field(&args, "toolName")).unwrap_or(kind).to_string();
            (Role::Assistant, content::tool_call_line(&name, Some(&args)))
        }
        "command_output" | "mcp_server_response" | "browser_action_result" => {
            (Role::Tool, content::cap_bytes(&text, content::TOOL_OUTPUT_CAP))
        }
        "error" | "diff_error" => (Role::System, text),
        // Request bookkeeping, reasoning, checkpoints and UI prompts
        // (resume_task, api_req_failed…) are not conversation text.
        _ => return,
    };
    if !body.trim().is_empty() {
        out.push(super::document::message(role, None, created_at, body));
    }
}

/// One Anthropic-style message `{role, content: string | blocks}`; tool
/// results become `tool` messages.
fn api_message(item: &Value, n: u64, out: &mut Vec<Message>, sink: &mut dyn ParseSink) {
    let label = str_field(item, "role").or_else(|| str_field(item, "type")).unwrap_or("");
    let Some(role) = Role::from_agent_label(label) else {
        sink.malformed(0, format!("message {n}: unknown role '{label}'"));
        return;
    };
    let created_at = ["ts", "timestamp", "created_at"].iter().find_map(|k| item.get(*k)).and_then(time::parse_value);
    let body = ["content", "text", "message"].iter().find_map(|k| item.get(*k));
    let mut texts = Vec::new();
    match body {
        Some(Value::Array(blocks)) => super::claude::split_blocks(role, blocks, &mut texts),
        Some(v) => {
            if let Some(t) = content::flatten(v) {
                texts.push((role, t));
            }
        }
        None => {
            sink.malformed(0, format!("message {n}: no content"));
            return;
        }
    }
    for (role, text) in texts {
        if !text.trim().is_empty() {
            out.push(super::document::message(role, None, created_at, text));
        }
    }
}
