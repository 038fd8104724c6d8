//! Codex CLI: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`, lines of
//! `{timestamp, type, payload}`, append-only; plus legacy single-document
//! `rollout-*.json` files, and rollouts moved (flat, no date directories)
//! to `$CODEX_HOME/archived_sessions/` when a session is archived.
//!
//! Sub-agent, review and headless (`codex exec`) runs are ordinary rollouts
//! that say so in `session_meta.payload.source` (`"exec"`,
//! `{"subagent": "review"}`, `{"subagent": {"thread_spawn":
//! {"parent_thread_id", …}}}`): each is a conversation of its own, titled by
//! its first prompt like any other.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::path::{Component, Path};

use serde_json::{Value, json};

use super::content::{self, str_field};
use super::json::{Json, JsonView};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Message, Role, Usage};

/// Reads Codex CLI rollouts, JSONL and legacy JSON.
pub struct Codex;

/// Whole-document legacy files larger than this are refused (they must be
/// loaded whole); JSONL files stream at any size.
const LEGACY_JSON_LIMIT: u64 = 256 * 1024 * 1024;

impl Connector for Codex {
    fn agent(&self) -> Agent {
        Agent::Codex
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let (home, origin) = match env.path_var("CODEX_HOME") {
            Some(dir) => (dir, "CODEX_HOME"),
            None => (env.home.join(".codex"), "default"),
        };
        vec![Root { path: home.join("sessions"), origin }, Root { path: home.join("archived_sessions"), origin }]
    }

    fn is_source(&self, _root: &Path, path: &Path) -> bool {
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        name.starts_with("rollout-") && (name.ends_with(".jsonl") || name.ends_with(".json"))
    }

    fn layout(&self, path: &Path) -> SourceLayout {
        SourceLayout::by_extension(path)
    }

    fn reads_usage(&self) -> bool {
        true
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let mut state = CodexState::resume(req.path, req.resume);
        if self.layout(req.path) == SourceLayout::WholeFile {
            return parse_legacy(req, &mut state, sink);
        }
        let end = super::lines::parse_jsonl_borrowed(req, sink, |rec, line, offset, sink| {
            state.record(rec, line, Some(offset), sink)
        })?;
        Ok(end.into_parse_end(state.save()))
    }
}

fn parse_legacy(
    req: &ParseRequest<'_>,
    state: &mut CodexState,
    sink: &mut dyn ParseSink,
) -> Result<ParseEnd, ParseError> {
    let bytes = super::lines::read_whole(req.path, LEGACY_JSON_LIMIT)
        .map_err(|source| ParseError::Io { path: req.path.to_path_buf(), source })?;
    let doc: Json<'_> = serde_json::from_slice(&bytes)
        .map_err(|e| ParseError::Format { path: req.path.to_path_buf(), message: format!("invalid JSON: {e}") })?;
    if let Some(session) = doc.get("session") {
        state.meta(session);
    }
    let fallback_ts = doc.get("session").and_then(|s| s.get("timestamp"));
    for item in doc.get("items").and_then(Json::as_array).into_iter().flatten() {
        let ts = item.get("timestamp").or(fallback_ts).and_then(JsonView::timestamp);
        state.response_item(item, ts, None, sink);
    }
    Ok(ParseEnd { offset: bytes.len() as u64, next_line: 1, resume: None, partial_tail: false })
}

/// Where a message came from; the same prompt is logged by both in newer files.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    ResponseItem,
    Event,
}

struct CodexState {
    external_id: String,
    workspace: Option<String>,
    model: Option<String>,
    header_sent: bool,
    title_proposed: bool,
    /// Last few messages emitted, to drop the second copy of a doubly-logged turn.
    recent: VecDeque<(Role, u64, Origin)>,
    /// The session's cumulative token counts at the last `token_count`
    /// event: an event repeating them logs no new call, and one without
    /// per-call counts is the difference from them.
    total: Option<Tokens>,
}

/// Codex's token counts, as its `token_count` events write them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tokens {
    input: u64,
    cached: u64,
    output: u64,
    reasoning: u64,
    total: u64,
}

impl Tokens {
    fn read(v: &Json<'_>) -> Option<Tokens> {
        let n = |k: &str| v.get(k).and_then(JsonView::as_u64).unwrap_or(0);
        v.is_object().then(|| Tokens {
            input: n("input_tokens"),
            cached: n("cached_input_tokens"),
            output: n("output_tokens"),
            reasoning: n("reasoning_output_tokens"),
            total: n("total_tokens"),
        })
    }

    fn minus(self, earlier: Tokens) -> Tokens {
        Tokens {
            input: self.input.saturating_sub(earlier.input),
            cached: self.cached.saturating_sub(earlier.cached),
            output: self.output.saturating_sub(earlier.output),
            reasoning: self.reasoning.saturating_sub(earlier.reasoning),
            total: self.total.saturating_sub(earlier.total),
        }
    }

    fn to_json(self) -> Value {
        json!([self.input, self.cached, self.output, self.reasoning, self.total])
    }

    fn from_json(v: &Value) -> Option<Tokens> {
        let a = v.as_array()?;
        let n = |i: usize| a.get(i).and_then(Value::as_u64);
        Some(Tokens { input: n(0)?, cached: n(1)?, output: n(2)?, reasoning: n(3)?, total: n(4)? })
    }
}

impl CodexState {
    fn resume(path: &Path, resume: Option<&Value>) -> CodexState {
        let get = |k: &str| resume.and_then(|r| r.get(k)).and_then(Value::as_str).map(str::to_string);
        let mut recent = VecDeque::new();
        for entry in resume.and_then(|r| r.get("recent")).and_then(Value::as_array).into_iter().flatten() {
            let role = entry.get(0).and_then(Value::as_str).and_then(Role::from_agent_label);
            let hash = entry.get(1).and_then(Value::as_u64);
            let origin =
                if entry.get(2).and_then(Value::as_bool) == Some(true) { Origin::Event } else { Origin::ResponseItem };
            if let (Some(role), Some(hash)) = (role, hash) {
                recent.push_back((role, hash, origin));
            }
        }
        CodexState {
            external_id: get("external_id").unwrap_or_else(|| session_relative_id(path)),
            workspace: None,
            model: get("model"),
            header_sent: resume.is_some(),
            title_proposed: resume.is_some(),
            recent,
            total: resume.and_then(|r| r.get("total")).and_then(Tokens::from_json),
        }
    }

    fn save(&self) -> Value {
        let recent: Vec<Value> =
            self.recent.iter().map(|(r, h, o)| json!([r.as_str(), h, *o == Origin::Event])).collect();
        json!({ "external_id": self.external_id, "model": self.model, "recent": recent,
                "total": self.total.map(Tokens::to_json) })
    }

    fn meta(&mut self, payload: &Json<'_>) {
        if let Some(id) = str_field(payload, "id")
            && !self.header_sent
        {
            self.external_id = id.to_string();
        }
        self.workspace_from(payload);
    }

    /// The first `cwd` seen is the session's workspace.
    fn workspace_from(&mut self, payload: &Json<'_>) {
        if let Some(cwd) = str_field(payload, "cwd") {
            self.workspace.get_or_insert_with(|| cwd.to_string());
        }
    }

    fn record(&mut self, rec: &Json<'_>, line: u64, offset: Option<u64>, sink: &mut dyn ParseSink) {
        let ts = rec.get("timestamp").and_then(JsonView::timestamp);
        let kind = rec.get("type").and_then(Json::as_str).unwrap_or("");
        let Some(payload) = rec.get("payload").filter(|p| p.is_object()) else {
            if !kind.is_empty() {
                sink.malformed(line, format!("'{kind}' record has no payload object"));
            }
            return;
        };
        match kind {
            "session_meta" => self.meta(payload),
            "turn_context" => {
                if let Some(m) = str_field(payload, "model") {
                    self.model = Some(m.to_string());
                }
                self.workspace_from(payload);
            }
            "response_item" => self.response_item(payload, ts, offset, sink),
            "event_msg" if payload.get("type").and_then(Json::as_str) == Some("token_count") => {
                self.token_count(payload, rec.get("timestamp"), ts, offset, sink)
            }
            "event_msg" => self.event(payload, ts, offset, sink),
            "compacted" => self.compacted(payload, ts, offset, sink),
            _ => {} // unknown: not conversation text
        }
    }

    /// A `compacted` line: Codex summarised the conversation to free its
    /// context window. `message` is the summary the model wrote (empty when
    /// the server compacted remotely); it is kept as a system message, being
    /// neither the user's words nor a reply. `replacement_history` is the
    /// model's new context, made of copies of turns already read above (and
    /// of the summary): replaying it would index them twice.
    fn compacted(&mut self, p: &Json<'_>, ts: Option<i64>, offset: Option<u64>, sink: &mut dyn ParseSink) {
        if let Some(summary) = str_field(p, "message") {
            self.emit(Role::System, summary.to_string(), ts, offset, Origin::ResponseItem, sink);
        }
    }

    fn response_item(&mut self, p: &Json<'_>, ts: Option<i64>, offset: Option<u64>, sink: &mut dyn ParseSink) {
        let ptype = p.get("type").and_then(Json::as_str).unwrap_or("message");
        let (role, text) = match ptype {
            "message" => {
                let label = p.get("role").and_then(Json::as_str).unwrap_or("assistant");
                let Some(mut role) = Role::from_agent_label(label) else {
                    return;
                };
                let Some(text) = p.get("content").and_then(content::flatten) else {
                    return;
                };
                if role == Role::User && content::is_injected_context(&text) {
                    role = Role::System;
                }
                (role, text)
            }
            "function_call" | "custom_tool_call" => {
                let name = str_field(p, "name").unwrap_or("tool");
                (Role::Assistant, content::tool_call_line(name, p.get("arguments").or_else(|| p.get("input"))))
            }
            "local_shell_call" => (Role::Assistant, content::tool_call_line("shell", p.get("action"))),
            "web_search_call" => (Role::Assistant, content::tool_call_line("web_search", p.get("action"))),
            "function_call_output" | "custom_tool_call_output" => {
                let Some(out) = p.get("output") else { return };
                (Role::Tool, codex_output(out))
            }
            _ => return, // reasoning is encrypted or summarised elsewhere
        };
        self.emit(role, text, ts, offset, Origin::ResponseItem, sink);
    }

    fn event(&mut self, p: &Json<'_>, ts: Option<i64>, offset: Option<u64>, sink: &mut dyn ParseSink) {
        let (role, text) = match p.get("type").and_then(Json::as_str).unwrap_or("") {
            "user_message" => match str_field(p, "message") {
                Some(m) => (Role::User, m.to_string()),
                None => return,
            },
            "agent_message" => match str_field(p, "message") {
                Some(m) => (Role::Assistant, m.to_string()),
                None => return,
            },
            "tool_call" => {
                let name = str_field(p, "name").unwrap_or("tool");
                (Role::Assistant, content::tool_call_line(name, p.get("input").or_else(|| p.get("arguments"))))
            }
            _ => return, // reasoning, token counts, exec chatter
        };
        self.emit(role, text, ts, offset, Origin::Event, sink);
    }

    /// A `token_count` event: the tokens of the model call just made.
    /// `info` is null on events that only report rate limits; an event that
    /// repeats the cumulative totals (Codex writes some twice) adds nothing.
    /// A call's counts are `last_token_usage`, else the change in the
    /// totals. Codex counts cached tokens inside `input_tokens`, and
    /// reasoning inside `output_tokens`.
    fn token_count(
        &mut self,
        p: &Json<'_>,
        raw_ts: Option<&Json<'_>>,
        ts: Option<i64>,
        offset: Option<u64>,
        sink: &mut dyn ParseSink,
    ) {
        let Some(info) = p.get("info").filter(|i| i.is_object()) else { return };
        let total = info.get("total_token_usage").and_then(Tokens::read);
        if total.is_some() && total == self.total {
            return;
        }
        let call = match (info.get("last_token_usage").and_then(Tokens::read), total) {
            (Some(last), _) => last,
            (None, Some(t)) => t.minus(self.total.unwrap_or_default()),
            (None, None) => return,
        };
        if total.is_some() {
            self.total = total;
        }
        let Some(created_at) = ts else { return };
        let model =
            str_field(p, "model").or_else(|| str_field(info, "model")).map(str::to_string).or(self.model.clone());
        let cached = call.cached.min(call.input);
        // The same event copied into another rollout (a forked session)
        // is the same call: the time and the counts name it.
        let request_key = format!(
            "codex:{}:{}:{}:{}:{}:{}:{}",
            raw_ts.and_then(Json::as_str).unwrap_or(""),
            model.as_deref().unwrap_or(""),
            call.input,
            call.cached,
            call.output,
            call.reasoning,
            call.total
        );
        self.ensure_header(sink);
        sink.usage(Usage {
            created_at,
            model,
            input: call.input - cached,
            output: call.output,
            cache_write: 0,
            cache_write_1h: 0,
            cache_read: cached,
            reasoning: call.reasoning.min(call.output),
            request_key: Some(request_key),
            line_offset: offset,
        });
    }

    fn ensure_header(&mut self, sink: &mut dyn ParseSink) {
        if !self.header_sent {
            self.header_sent = true;
            sink.conversation(ConversationHeader {
                external_id: self.external_id.clone(),
                title: None,
                title_explicit: false,
                workspace: self.workspace.clone(),
            });
        }
    }

    fn emit(
        &mut self,
        role: Role,
        text: String,
        ts: Option<i64>,
        offset: Option<u64>,
        origin: Origin,
        sink: &mut dyn ParseSink,
    ) {
        if text.trim().is_empty() {
            return;
        }
        let hash = text_hash(&text);
        if self.recent.iter().any(|&(r, h, o)| r == role && h == hash && o != origin) {
            return; // the same turn, logged a second time
        }
        self.recent.push_back((role, hash, origin));
        if self.recent.len() > 4 {
            self.recent.pop_front();
        }
        self.ensure_header(sink);
        if role == Role::User
            && !self.title_proposed
            && let Some(title) = content::title_from_user_text(&text)
        {
            self.title_proposed = true;
            sink.conversation(ConversationHeader {
                external_id: self.external_id.clone(),
                title: Some(title),
                title_explicit: false,
                workspace: self.workspace.clone(),
            });
        }
        let author = if role == Role::Assistant { self.model.clone() } else { None };
        sink.message(Message { role, author, created_at: ts, content: text, line_offset: offset });
    }
}

/// Tool output is a string that is often itself JSON (`{"output": …, "metadata": …}`).
fn codex_output(out: &Json<'_>) -> String {
    if let Json::String(s) = out
        && let Ok(inner @ Json::Object(_)) = Json::parse(s)
        && let Some(o) = inner.get("output")
    {
        return content::tool_output(o).unwrap_or_default();
    }
    content::tool_output(out).unwrap_or_default()
}

fn text_hash(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.trim().hash(&mut h);
    h.finish() >> 11 // fits a JSON number exactly
}

/// `sessions/2025/11/25/rollout-x.jsonl` → `2025/11/25/rollout-x`: the id when
/// a file has no `session_meta`.
fn session_relative_id(path: &Path) -> String {
    let comps: Vec<Component<'_>> = path.components().collect();
    let start = comps
        .iter()
        .rposition(|c| matches!(c, Component::Normal(n) if *n == "sessions" || *n == "archived_sessions"))
        .map(|i| i + 1)
        .unwrap_or(comps.len().saturating_sub(1));
    let rel: std::path::PathBuf = comps[start..].iter().collect();
    rel.with_extension("").to_string_lossy().into_owned()
}
