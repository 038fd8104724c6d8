//! A conversation as a document: the robot JSON shape (shared by `view
//! --json`, `export --format json` and the MCP server), Markdown (what
//! `cass view` prints), and one self-contained HTML file.

mod html;
pub mod segments;

use serde::Serialize;

use crate::model::{Conversation, Role, StoredMessage};
use crate::search::snippet::sanitize_multiline as safe;
pub use html::html;

/// Which document `cass export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ExportFormat {
    /// Markdown, as `cass view` prints it.
    #[default]
    Md,
    /// The robot JSON shape: `{"conversation", "messages"}`.
    Json,
    /// One HTML file: inline CSS, highlighted code, no network requests.
    Html,
}

/// A conversation in the robot shape (docs/ROBOT.md, `cass view`).
#[derive(Debug, Clone, Serialize)]
pub struct ConversationJson<'a> {
    /// Conversation id (stable across re-indexing of an unchanged file).
    pub id: i64,
    /// Agent id (`claude_code`, `codex`, …).
    pub agent: &'a str,
    /// The agent's own session id.
    pub external_id: &'a str,
    /// Title: the agent's own, or derived from the first user message.
    pub title: Option<&'a str>,
    /// The directory the agent worked in, when known.
    pub workspace: Option<&'a str>,
    /// The session file it was read from.
    pub source_path: String,
    /// Time of the first timestamped message (RFC 3339).
    pub started_at: Option<String>,
    /// Time of the last timestamped message (RFC 3339).
    pub ended_at: Option<String>,
    /// Messages in the store for it.
    pub message_count: i64,
    /// The machine it was read on: `local` or a remote machine's name.
    pub source: &'a str,
    /// A remote machine's conversation: its session file there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_path: Option<&'a str>,
}

impl<'a> ConversationJson<'a> {
    /// The robot shape of `c`.
    pub fn new(c: &'a Conversation) -> ConversationJson<'a> {
        ConversationJson {
            id: c.id,
            agent: &c.agent,
            external_id: &c.external_id,
            title: c.title.as_deref(),
            workspace: c.workspace.as_deref(),
            source_path: c.source_path.display().to_string(),
            started_at: c.started_at.map(crate::time::to_rfc3339),
            ended_at: c.ended_at.map(crate::time::to_rfc3339),
            message_count: c.message_count,
            source: &c.source,
            origin_path: c.origin_path.as_deref(),
        }
    }
}

/// A message in the robot shape.
#[derive(Debug, Clone, Serialize)]
pub struct MessageJson<'a> {
    /// Message id (what `expand` and search hits name).
    pub id: i64,
    /// Position in its conversation.
    pub ordinal: i64,
    /// `user`, `assistant`, `system` or `tool`.
    pub role: &'a str,
    /// Who wrote it when the agent says (a model, a subagent).
    pub author: Option<&'a str>,
    /// When it was written (RFC 3339).
    pub created_at: Option<String>,
    /// The text as stored.
    pub content: &'a str,
}

impl<'a> MessageJson<'a> {
    /// The robot shape of `m`.
    pub fn new(m: &'a StoredMessage) -> MessageJson<'a> {
        MessageJson {
            id: m.id,
            ordinal: m.ordinal,
            role: m.role.as_str(),
            author: m.author.as_deref(),
            created_at: m.created_at.map(crate::time::to_rfc3339),
            content: &m.content,
        }
    }
}

/// `{"conversation": …, "messages": […]}`.
pub fn json(c: &Conversation, msgs: &[StoredMessage]) -> serde_json::Value {
    serde_json::json!({
        "conversation": ConversationJson::new(c),
        "messages": msgs.iter().map(MessageJson::new).collect::<Vec<_>>(),
    })
}

/// The shape of [`json`] for a conversation read straight from its session
/// file, not from the store (`cass view FILE` of a file not indexed): the
/// same fields, with `id` null on the conversation and on each message
/// (it has none to pass to `expand` or `view`), and `"indexed": false`.
pub fn json_unindexed(c: &Conversation, msgs: &[StoredMessage]) -> serde_json::Value {
    let mut doc = json(c, msgs);
    doc["conversation"]["id"] = serde_json::Value::Null;
    doc["conversation"]["indexed"] = false.into();
    if let Some(items) = doc["messages"].as_array_mut() {
        for m in items {
            m["id"] = serde_json::Value::Null;
        }
    }
    doc
}

/// The message's text without its tool calls (`None`: nothing else was in
/// it, or it is a tool's output), for documents that leave tools out.
fn without_tools(m: &StoredMessage) -> Option<String> {
    if m.role == Role::Tool {
        return None;
    }
    let kept: Vec<&str> = m.content.lines().filter(|l| segments::tool_name(l).is_none()).collect();
    let text = kept.join("\n");
    (!text.trim().is_empty()).then_some(text)
}

/// The conversation as readable Markdown, session text made terminal-safe;
/// `mark` flags one message (`expand`'s target). Without `tools`, tool
/// output messages and tool-call lines are left out.
pub fn markdown(c: &Conversation, msgs: &[StoredMessage], mark: Option<i64>, tools: bool) -> String {
    markdown_doc(c, msgs, mark, tools, true)
}

/// [`markdown`] of a conversation read straight from its session file
/// (not indexed): it says so where the conversation id would be, and its
/// messages have no `#id`.
pub fn markdown_unindexed(c: &Conversation, msgs: &[StoredMessage]) -> String {
    markdown_doc(c, msgs, None, true, false)
}

fn markdown_doc(c: &Conversation, msgs: &[StoredMessage], mark: Option<i64>, tools: bool, indexed: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", safe(c.title.as_deref().unwrap_or("(untitled)")));
    let mut facts = vec![c.agent.clone()];
    if let Some(ws) = &c.workspace {
        facts.push(safe(ws));
    }
    if let Some(t) = c.started_at {
        facts.push(crate::time::local_clock(t));
    }
    facts.push(crate::words::count(c.message_count, "message"));
    let id = if indexed { format!("conversation {}", c.id) } else { "not indexed: read from the file now".into() };
    let _ = writeln!(out, "{}  \n`{}` · {id}\n", facts.join(" · "), safe(&c.source_path.display().to_string()));
    for m in msgs {
        let body = if tools { Some(m.content.clone()) } else { without_tools(m) };
        let Some(body) = body else { continue };
        let marker = if Some(m.id) == mark { "▶ " } else { "" };
        let author = m.author.as_deref().map(|a| format!(" ({})", safe(a))).unwrap_or_default();
        let when = m.created_at.map(|t| format!(" · {}", crate::time::local_clock(t))).unwrap_or_default();
        let id = if indexed { format!(" · #{}", m.id) } else { String::new() };
        let _ = writeln!(out, "## {marker}{}{author}{when}{id}\n", m.role);
        let _ = writeln!(out, "{}\n", safe(body.trim_end()));
    }
    out
}

/// Options for [`html`].
#[derive(Debug, Clone, Copy, Default)]
pub struct HtmlOptions {
    /// Keep tool calls and tool output (collapsed) instead of leaving them out.
    pub tools: bool,
}
