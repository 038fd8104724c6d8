//! ChatGPT desktop (macOS): `~/Library/Application Support/com.openai.chat/`.
//! `conversations-<uuid>/*.json` (v1) are plain JSON documents holding a
//! `mapping` tree of message nodes. `conversations-v2-*` / `-v3-*` hold
//! AES-GCM encrypted `.data` files whose key sits in the macOS Keychain,
//! unreadable to other programs: they are found and reported as encrypted,
//! never skipped silently.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value;

use super::content::{self, str_field};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Message, Role};
use crate::time;

/// Reads the ChatGPT desktop app's conversations; reports its encrypted stores as such.
pub struct ChatGpt;

impl Connector for ChatGpt {
    fn agent(&self) -> Agent {
        Agent::ChatGpt
    }

    /// The app exists only on macOS, so this is its one location everywhere
    /// (a synced or copied home on Linux is read the same way).
    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        vec![Root { path: env.home.join("Library/Application Support/com.openai.chat"), origin: "default (macOS app)" }]
    }

    fn is_source(&self, _root: &Path, path: &Path) -> bool {
        let dir = path.parent().and_then(Path::file_name).and_then(|n| n.to_str()).unwrap_or("");
        if !dir.starts_with("conversations-") {
            return false;
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => true,
            Some("data") => is_encrypted_store(dir),
            _ => false,
        }
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::WholeFile
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        if req.path.extension().is_some_and(|e| e == "data") {
            return Err(ParseError::Unreadable {
                path: req.path.to_path_buf(),
                reason: "encrypted (ChatGPT v2/v3 store, AES-256-GCM; the key is in the macOS Keychain and not \
                         readable by other programs)"
                    .into(),
                retry: false,
            });
        }
        let doc = super::document::read_json(req.path)?;
        let external_id = str_field(&doc, "id")
            .or_else(|| str_field(&doc, "conversation_id"))
            .map(str::to_string)
            .unwrap_or_else(|| req.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
        let title = str_field(&doc, "title").map(str::to_string);
        let header = ConversationHeader { external_id, title_explicit: title.is_some(), title, workspace: None };
        let nodes: Vec<&Value> = match doc.get("mapping").and_then(Value::as_object) {
            Some(mapping) => ordered_nodes(mapping, str_field(&doc, "current_node")),
            None => doc.get("messages").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default(),
        };
        let mut messages = Vec::new();
        for (i, node) in nodes.into_iter().enumerate() {
            let msg = node.get("message").unwrap_or(node);
            if msg.is_null() {
                continue; // the tree's root node carries no message
            }
            if let Some(m) = to_message(msg, i as u64 + 1, sink) {
                messages.push(m);
            }
        }
        super::document::emit_conversation(sink, header, messages);
        Ok(super::document::whole_file_end(req.path))
    }
}

fn is_encrypted_store(dir: &str) -> bool {
    dir.starts_with("conversations-v2-") || dir.starts_with("conversations-v3-")
}

/// The visible branch of the node tree: the parent chain ending at
/// `current_node` when the file names one (regenerated and edited branches
/// are left out); otherwise every node in `create_time` order.
fn ordered_nodes<'a>(mapping: &'a serde_json::Map<String, Value>, current: Option<&str>) -> Vec<&'a Value> {
    if let Some(mut id) = current.filter(|c| mapping.contains_key(*c)) {
        let mut chain = Vec::new();
        let mut seen = HashSet::new();
        while let Some(node) = mapping.get(id) {
            if !seen.insert(id) {
                break; // a cycle: stop rather than loop
            }
            chain.push(node);
            match node.get("parent").and_then(Value::as_str) {
                Some(p) => id = p,
                None => break,
            }
        }
        chain.reverse();
        return chain;
    }
    let created: HashMap<&str, f64> = mapping
        .iter()
        .map(|(k, n)| (k.as_str(), n.pointer("/message/create_time").and_then(Value::as_f64).unwrap_or(f64::MAX)))
        .collect();
    let mut keys: Vec<&String> = mapping.keys().collect();
    keys.sort_by(|a, b| created[a.as_str()].total_cmp(&created[b.as_str()]).then_with(|| a.cmp(b)));
    keys.into_iter().map(|k| &mapping[k]).collect()
}

fn to_message(msg: &Value, n: u64, sink: &mut dyn ParseSink) -> Option<Message> {
    let label = msg.pointer("/author/role").or_else(|| msg.get("role")).and_then(Value::as_str).unwrap_or("");
    let role = match Role::from_agent_label(label) {
        Some(Role::System) => return None, // the hidden system prompt
        Some(r) => r,
        None => {
            sink.malformed(0, format!("message {n}: unknown role '{label}'"));
            return None;
        }
    };
    let body = msg.pointer("/content/parts").or_else(|| msg.get("content"));
    // Parts are strings or `{content_type, text | asset_pointer}` objects:
    // text objects are kept, images and other assets are not text.
    let text = body.and_then(content::flatten).unwrap_or_default();
    if text.trim().is_empty() {
        return None;
    }
    let created_at = msg.get("create_time").and_then(time::parse_value);
    let author = msg.pointer("/metadata/model_slug").and_then(Value::as_str).map(str::to_string);
    Some(super::document::message(role, author, created_at, text))
}
