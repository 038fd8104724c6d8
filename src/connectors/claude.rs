//! Claude Code: `~/.claude/projects/<encoded cwd>/<session>.jsonl`, one JSON
//! record per line, append-only. Sidechain transcripts (`agent-<id>.jsonl`,
//! also nested under `<session>/subagents/`) are conversations of their own.
//! A compaction (`system` record, `subtype: "compact_boundary"`) carries no
//! message and is skipped; the summary record after it is a system message.
//! Older versions wrote a subagent's records into the main file, marked
//! `isSidechain: true`; those become the subagent's own conversation
//! (`<sessionId>/agent-<agentId>`) so its work never reads as the user's
//! session, as it would not had it been written to a file of its own.

use std::path::Path;

use serde_json::{Value, json};

use super::content::{self, str_field};
use super::json::{Json, JsonView};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Message, Role, Usage};

/// Reads Claude Code's JSONL sessions, subagent transcripts included.
pub struct ClaudeCode;

impl Connector for ClaudeCode {
    fn agent(&self) -> Agent {
        Agent::ClaudeCode
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        match env.path_var("CLAUDE_CONFIG_DIR") {
            Some(dir) => vec![Root { path: dir.join("projects"), origin: "CLAUDE_CONFIG_DIR" }],
            None => vec![
                Root { path: env.home.join(".claude/projects"), origin: "default" },
                Root { path: env.home.join(".config/claude/projects"), origin: "default (XDG)" },
            ],
        }
    }

    fn is_source(&self, _root: &Path, path: &Path) -> bool {
        path.extension().is_some_and(|e| e == "jsonl")
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::AppendOnlyLines
    }

    fn reads_usage(&self) -> bool {
        true
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let mut state = ClaudeState {
            external_id: req.resume.and_then(|r| r.get("external_id")).and_then(Value::as_str).map(str::to_string),
            fallback_id: file_stem(req.path),
            header_sent: false,
            title_proposed: req.start_offset > 0,
            pending_title: None,
            current: Current::Main,
            titled_sidechains: Vec::new(),
        };
        let end = super::lines::parse_jsonl_borrowed(req, sink, |rec, line, offset, sink| {
            state.record(rec, line, offset, sink)
        })?;
        Ok(end.into_parse_end(json!({ "external_id": state.external_id })))
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

struct ClaudeState {
    external_id: Option<String>,
    fallback_id: String,
    header_sent: bool,
    title_proposed: bool,
    /// A summary seen before the first message.
    pending_title: Option<String>,
    /// The conversation the sink's following messages go to.
    current: Current,
    /// Sidechains inside this file that this parse has proposed a title for
    /// (a derived title never replaces one the store already has).
    titled_sidechains: Vec<String>,
}

/// Which conversation of the file a record belongs to.
#[derive(Clone, PartialEq)]
enum Current {
    Main,
    Sidechain(String),
}

impl ClaudeState {
    fn record(&mut self, rec: &Json<'_>, line: u64, offset: u64, sink: &mut dyn ParseSink) {
        if !rec.is_object() {
            sink.malformed(line, "record is not a JSON object".into());
            return;
        }
        let rtype = rec.get("type").and_then(Json::as_str).unwrap_or("");
        match rtype {
            "summary" | "custom-title" => {
                let title = str_field(rec, "summary")
                    .or_else(|| str_field(rec, "customTitle"))
                    .or_else(|| str_field(rec, "title"));
                if let Some(t) = title {
                    self.explicit_title(t.trim().to_string(), sink);
                }
                return;
            }
            "user" | "assistant" | "system" | "tool" | "message" | "" => {}
            _ => return, // file-history-snapshot, queue-operation, …: not conversation text
        }
        let message = match rec.get("message") {
            Some(m) => m,
            None if rtype == "system" || rtype.is_empty() => return,
            None => {
                sink.malformed(line, format!("'{rtype}' record has no message"));
                return;
            }
        };
        let label = message.get("role").and_then(Json::as_str).unwrap_or(rtype);
        let Some(mut role) = Role::from_agent_label(label) else {
            sink.malformed(line, format!("unknown role '{label}'"));
            return;
        };
        // Harness-injected records (`isMeta`: command output, caveats) and the
        // summary Claude Code writes after compacting a conversation
        // (`isCompactSummary`, the user record that follows a `system` record
        // of subtype `compact_boundary`) are logged as the user's but are not
        // their words: system messages, never the title.
        let flag = |k: &str| rec.get(k).and_then(JsonView::as_bool) == Some(true);
        if flag("isMeta") || flag("isCompactSummary") {
            role = Role::System;
        }
        let created_at = rec.get("timestamp").and_then(JsonView::timestamp);
        let author = str_field(message, "model").map(str::to_string);
        let mut texts: Vec<(Role, String)> = Vec::new();
        match message {
            Json::String(s) => texts.push((role, s.to_string())),
            Json::Object(_) => match message.get("content") {
                Some(Json::String(s)) => texts.push((role, s.to_string())),
                Some(Json::Array(blocks)) => split_blocks(role, blocks, &mut texts),
                Some(Json::Null) | None if message.get("tool_name").is_some() => {
                    let name = message.get("tool_name").and_then(Json::as_str).unwrap_or("tool");
                    let mut text = content::tool_call_line(name, message.get("tool_input"));
                    if let Some(out) = message.get("tool_output").and_then(content::tool_output) {
                        text.push('\n');
                        text.push_str(&out);
                    }
                    texts.push((Role::Tool, text));
                }
                None => {
                    sink.malformed(line, "message has no content".into());
                    return;
                }
                Some(other) => {
                    sink.malformed(line, format!("message.content is {}, not text", other.kind().described()));
                    return;
                }
            },
            other => {
                sink.malformed(line, format!("message is {}, not an object", other.kind().described()));
                return;
            }
        }
        let sidechain = self.sidechain_id(rec);
        for (role, text) in texts {
            if text.trim().is_empty() {
                continue;
            }
            self.enter(sidechain.as_deref(), rec, sink);
            let propose = match &sidechain {
                Some(id) => !self.titled_sidechains.contains(id),
                None => !self.title_proposed,
            };
            if role == Role::User
                && propose
                && let Some(title) = content::title_from_user_text(&text)
            {
                match &sidechain {
                    Some(id) => self.titled_sidechains.push(id.clone()),
                    None => self.title_proposed = true,
                }
                sink.conversation(ConversationHeader {
                    external_id: sidechain.clone().unwrap_or_else(|| self.id()),
                    title: Some(title),
                    title_explicit: false,
                    workspace: None,
                });
            }
            sink.message(Message {
                role,
                author: author.clone(),
                created_at,
                content: text,
                line_offset: Some(offset),
            });
        }
        if rtype == "assistant"
            && let Some(usage) = call_usage(rec, message, created_at, offset)
        {
            self.enter(sidechain.as_deref(), rec, sink);
            sink.usage(usage);
        }
    }

    /// The conversation a sidechain record inside a main session file goes
    /// to, or None for the session's own records. A file of its own
    /// (`agent-<id>.jsonl`) is already the subagent's conversation.
    fn sidechain_id(&self, rec: &Json<'_>) -> Option<String> {
        if rec.get("isSidechain").and_then(JsonView::as_bool) != Some(true) || self.fallback_id.starts_with("agent-") {
            return None;
        }
        let session = rec.get("sessionId").and_then(Json::as_str).unwrap_or(&self.fallback_id);
        let agent = rec.get("agentId").and_then(Json::as_str).filter(|a| !a.is_empty()).unwrap_or("sidechain");
        Some(format!("{session}/agent-{agent}"))
    }

    /// Makes the sink's current conversation the record's, sending a header
    /// when it changes.
    fn enter(&mut self, sidechain: Option<&str>, rec: &Json<'_>, sink: &mut dyn ParseSink) {
        let want = sidechain.map_or(Current::Main, |id| Current::Sidechain(id.to_string()));
        let Some(id) = sidechain else {
            let was_sent = self.header_sent;
            self.ensure_header(rec, sink);
            if was_sent && self.current != Current::Main {
                sink.conversation(ConversationHeader {
                    external_id: self.id(),
                    title: None,
                    title_explicit: false,
                    workspace: None,
                });
            }
            self.current = Current::Main;
            return;
        };
        if self.current == want {
            return;
        }
        let workspace = str_field(rec, "cwd").or_else(|| str_field(rec, "workspace")).map(str::to_string);
        sink.conversation(ConversationHeader {
            external_id: id.to_string(),
            title: None,
            title_explicit: false,
            workspace,
        });
        self.current = want;
    }

    fn id(&self) -> String {
        self.external_id.clone().unwrap_or_else(|| self.fallback_id.clone())
    }

    fn ensure_header(&mut self, rec: &Json<'_>, sink: &mut dyn ParseSink) {
        if self.header_sent {
            return;
        }
        if self.external_id.is_none() {
            // A sidechain shares its parent's sessionId; its file name is its own.
            let id = if self.fallback_id.starts_with("agent-") {
                self.fallback_id.clone()
            } else {
                str_field(rec, "sessionId").map(str::to_string).unwrap_or_else(|| self.fallback_id.clone())
            };
            self.external_id = Some(id);
        }
        let workspace = str_field(rec, "cwd").or_else(|| str_field(rec, "workspace")).map(str::to_string);
        let title = self.pending_title.take();
        sink.conversation(ConversationHeader {
            external_id: self.id(),
            title_explicit: title.is_some(),
            title,
            workspace,
        });
        self.header_sent = true;
    }

    fn explicit_title(&mut self, title: String, sink: &mut dyn ParseSink) {
        if self.header_sent {
            sink.conversation(ConversationHeader {
                external_id: self.id(),
                title: Some(title),
                title_explicit: true,
                workspace: None,
            });
        } else {
            self.pending_title = Some(title);
        }
    }
}

/// The tokens of the API call an assistant record logs (`message.usage`),
/// or None when it has none or no time. Cache writes come from the
/// `cache_creation` split when the record has one (5-minute and 1-hour
/// writes are priced apart), else from `cache_creation_input_tokens`.
/// One response is logged as one line per content block, each repeating
/// the call's usage, and resumed sessions copy earlier lines into a new
/// file: the message id and request id name the call, so it counts once.
fn call_usage(rec: &Json<'_>, message: &Json<'_>, at: Option<i64>, offset: u64) -> Option<Usage> {
    let usage = message.get("usage").filter(|u| u.is_object())?;
    let count = |o: &Json<'_>, k: &str| o.get(k).and_then(JsonView::as_u64).unwrap_or(0);
    let input = usage.get("input_tokens")?.as_u64()?;
    let output = usage.get("output_tokens")?.as_u64()?;
    let (cache_write, cache_write_1h) = match usage.get("cache_creation").filter(|s| s.is_object()) {
        Some(split) => {
            let h1 = count(split, "ephemeral_1h_input_tokens");
            (count(split, "ephemeral_5m_input_tokens") + h1, h1)
        }
        None => (count(usage, "cache_creation_input_tokens"), 0),
    };
    let message_id = str_field(message, "id").filter(|s| !s.is_empty());
    let request_key = match (message_id, rec.get("requestId").and_then(Json::as_str).filter(|s| !s.is_empty())) {
        (Some(id), Some(req)) => Some(format!("claude:{id}:{req}")),
        // Without a request id the same message id may be a later call
        // (a retried stream); only a copy of the same line is the same call.
        (Some(id), None) => {
            let session = rec.get("sessionId").and_then(Json::as_str).unwrap_or("");
            let ts = rec.get("timestamp").and_then(Json::as_str).unwrap_or("");
            Some(format!("claude:{id}:{session}:{ts}"))
        }
        (None, _) => None,
    };
    Some(Usage {
        created_at: at?,
        model: str_field(message, "model").map(str::to_string),
        input,
        output,
        cache_write,
        cache_write_1h,
        cache_read: count(usage, "cache_read_input_tokens"),
        reasoning: 0,
        request_key,
        line_offset: Some(offset),
    })
}

/// Splits Anthropic content blocks: tool results become `tool` messages of
/// their own; everything else flattens into one message of the record's role.
pub(crate) fn split_blocks<J: JsonView>(role: Role, blocks: &[J], out: &mut Vec<(Role, String)>) {
    let is_result = |b: &&J| b.get("type").and_then(J::as_str) == Some("tool_result");
    out.push((role, content::flatten_parts(blocks.iter().filter(|b| !is_result(b)))));
    for r in blocks.iter().filter(is_result) {
        let body = r.get("content").and_then(content::tool_output).unwrap_or_default();
        let text =
            if r.get("is_error").and_then(J::as_bool) == Some(true) { format!("[tool error] {body}") } else { body };
        out.push((Role::Tool, text));
    }
}
