//! Amp (Sourcegraph): one JSON document per thread, `threads/T-<uuid>.json`
//! under the CLI's data directory or the VS Code extension's storage.
//! Threads are rewritten whole, so a changed file is re-read entirely.

use std::path::Path;

use serde_json::Value;

use super::content::{self, str_field};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout, vscode};
use crate::model::{Agent, ConversationHeader, Message, Role};
use crate::time;

/// Reads Amp threads, one JSON document per thread.
pub struct Amp;

impl Connector for Amp {
    fn agent(&self) -> Agent {
        Agent::Amp
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let (data, origin) = env.app_data_dir();
        let mut roots = vec![Root { path: data.join("amp"), origin }];
        for (user, origin) in vscode::user_dirs(env) {
            roots.push(Root { path: user.join("globalStorage/sourcegraph.amp"), origin });
        }
        roots
    }

    /// `T-<uuid>.json`, anything in a `threads/` directory, or a JSON file
    /// whose name says thread / conversation / chat.
    fn is_source(&self, _root: &Path, path: &Path) -> bool {
        if path.extension().is_none_or(|e| e != "json") {
            return false;
        }
        let stem = path.file_stem().map(|s| s.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        let in_threads = path.parent().and_then(Path::file_name).is_some_and(|n| n == "threads");
        in_threads || stem.starts_with("t-") || ["thread", "conversation", "chat"].iter().any(|w| stem.contains(w))
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::WholeFile
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let doc = super::document::read_json(req.path)?;
        let thread = doc.get("thread").filter(|t| t.is_object()).unwrap_or(&doc);
        let Some(items) = thread.get("messages").and_then(Value::as_array) else {
            return Err(ParseError::Format { path: req.path.into(), message: "thread has no messages array".into() });
        };
        let title = str_field(thread, "title").map(str::to_string);
        let header = ConversationHeader {
            external_id: str_field(thread, "id")
                .map(str::to_string)
                .unwrap_or_else(|| req.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()),
            title_explicit: title.is_some(),
            title,
            workspace: workspace(thread),
        };
        let mut messages = Vec::new();
        for (i, item) in items.iter().enumerate() {
            message(item, i as u64 + 1, &mut messages, sink);
        }
        super::document::emit_conversation(sink, header, messages);
        Ok(super::document::whole_file_end(req.path))
    }
}

/// An explicit workspace field, else the first tree of the thread's initial
/// environment (`env.initial.trees[0].uri`).
fn workspace(thread: &Value) -> Option<String> {
    for key in ["workspace", "cwd", "workspaceRoot", "rootPath"] {
        if let Some(w) = str_field(thread, key) {
            return vscode::path_from_uri(w).or_else(|| Some(w.to_string()));
        }
    }
    let tree = thread.pointer("/env/initial/trees/0")?;
    str_field(tree, "uri").and_then(vscode::path_from_uri)
}

/// Amp tool results keep their output in `run.result` rather than `content`.
fn with_run_result(block: &Value) -> Value {
    let mut block = block.clone();
    if block.get("type").and_then(Value::as_str) == Some("tool_result")
        && block.get("content").is_none()
        && let Some(result) = block.pointer("/run/result").cloned()
        && let Some(obj) = block.as_object_mut()
    {
        obj.insert("content".into(), result);
    }
    block
}

fn message(item: &Value, n: u64, out: &mut Vec<Message>, sink: &mut dyn ParseSink) {
    let label = ["role", "speaker", "type"].iter().find_map(|k| str_field(item, k)).unwrap_or("");
    let Some(role) = Role::from_agent_label(label) else {
        sink.malformed(0, format!("message {n}: unknown role '{label}'"));
        return;
    };
    let created_at = ["created_at", "createdAt", "sentAt", "timestamp", "ts"]
        .iter()
        .find_map(|k| item.get(*k))
        .or_else(|| item.pointer("/meta/sentAt"))
        .and_then(time::parse_value);
    let author = ["author", "sender", "model"]
        .iter()
        .find_map(|k| str_field(item, k))
        .or_else(|| item.pointer("/usage/model").and_then(Value::as_str))
        .map(str::to_string);
    let mut texts = Vec::new();
    match ["content", "text", "body"].iter().find_map(|k| item.get(*k)) {
        Some(Value::Array(blocks)) => {
            let blocks: Vec<Value> = blocks.iter().map(with_run_result).collect();
            super::claude::split_blocks(role, &blocks, &mut texts)
        }
        Some(v) => texts.extend(content::flatten(v).map(|t| (role, t))),
        None => {
            sink.malformed(0, format!("message {n}: no content"));
            return;
        }
    }
    for (role, text) in texts {
        if !text.trim().is_empty() {
            let author = if role == Role::Assistant { author.clone() } else { None };
            out.push(super::document::message(role, author, created_at, text));
        }
    }
}
