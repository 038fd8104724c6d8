//! Pi-Agent (pi-mono coding agent, also "Oh My Pi"):
//! `$PI_CODING_AGENT_DIR/sessions/--<cwd>--/<ts>_<uuid>.jsonl`, typed JSONL
//! records, append-only: a `session` header (id, cwd, model), `message`
//! records (`user | assistant | toolResult`), and model / thinking-level
//! changes.

use std::path::Path;

use serde_json::{Value, json};

use super::announce::Announced;
use super::content::{self, str_field};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Message, Role, Usage};
use crate::time;

/// Reads Pi-Agent's JSONL sessions (`~/.pi` and Oh My Pi's `~/.omp`).
pub struct PiAgent;

impl Connector for PiAgent {
    fn agent(&self) -> Agent {
        Agent::PiAgent
    }

    /// `PI_CODING_AGENT_DIR` moves pi's whole agent directory (sessions are
    /// its `sessions/`); `PI_SESSIONS_DIR` names a sessions directory of its
    /// own (pi's Rust port and tools that drive pi set it) and is read in
    /// addition, since the sessions written before it was set stay where
    /// they were. Oh My Pi, a fork, keeps its own `~/.omp/agent`.
    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let mut roots = match env.path_var("PI_CODING_AGENT_DIR") {
            Some(dir) => vec![Root { path: dir.join("sessions"), origin: "PI_CODING_AGENT_DIR" }],
            None => vec![Root { path: env.home.join(".pi/agent/sessions"), origin: "default" }],
        };
        if let Some(dir) = env.path_var("PI_SESSIONS_DIR") {
            roots.push(Root { path: dir, origin: "PI_SESSIONS_DIR" });
        }
        roots.push(Root { path: env.home.join(".omp/agent/sessions"), origin: "default (Oh My Pi)" });
        roots
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
        let mut state: PiState = req.resume_state();
        if state.external_id.is_empty() {
            state.external_id = fallback_id(req.path);
        }
        let end =
            super::lines::parse_jsonl(req, sink, |rec, line, offset, sink| state.record(rec, line, offset, sink))?;
        Ok(end.into_parse_end(json!(state)))
    }
}

/// The session id is the uuid after the `_` in the file name.
fn fallback_id(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    stem.rsplit_once('_').map(|(_, id)| id.to_string()).unwrap_or(stem)
}

/// What a tail parse needs to know from the part of the file already read.
/// OpenClaw and Clawdbot write the same pi-mono session records and share it.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct PiState {
    pub(crate) external_id: String,
    workspace: Option<String>,
    model: Option<String>,
    /// Put before the session record's id (OpenClaw's non-default agents:
    /// `<agent>/`), so two agents' sessions never share an id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) id_prefix: String,
    #[serde(flatten)]
    announced: Announced,
}

impl PiState {
    pub(crate) fn record(&mut self, rec: &Value, line: u64, offset: u64, sink: &mut dyn ParseSink) {
        match str_field(rec, "type") {
            Some("session") => {
                if let Some(id) = str_field(rec, "id") {
                    self.external_id = format!("{}{id}", self.id_prefix);
                }
                self.workspace = str_field(rec, "cwd").map(str::to_string);
                self.model = str_field(rec, "modelId").map(str::to_string);
            }
            Some("model_change") => {
                if let Some(m) = str_field(rec, "modelId") {
                    self.model = Some(m.to_string());
                }
            }
            Some("message") => self.message(rec, line, offset, sink),
            Some(_) => {} // thinking_level_change, compaction and branch summaries, custom
            None => sink.malformed(line, "record has no type".into()),
        }
    }

    fn message(&mut self, rec: &Value, line: u64, offset: u64, sink: &mut dyn ParseSink) {
        let Some((msg, role)) = content::role_message(rec, line, sink) else { return };
        let created_at = rec.get("timestamp").or_else(|| msg.get("timestamp")).and_then(time::parse_value);
        let text = match role {
            Role::Tool => {
                let body = msg.get("content").and_then(content::tool_output).unwrap_or_default();
                if msg.get("isError").and_then(Value::as_bool) == Some(true) {
                    format!("[tool error] {body}")
                } else {
                    body
                }
            }
            _ => msg.get("content").and_then(content::flatten).unwrap_or_default(),
        };
        let usage =
            if role == Role::Assistant { call_usage(msg, created_at, offset, self.model.as_deref()) } else { None };
        if text.trim().is_empty() {
            if let Some(u) = usage {
                let header = ConversationHeader {
                    external_id: self.external_id.clone(),
                    workspace: self.workspace.clone(),
                    ..Default::default()
                };
                self.announced.before_usage(sink, header);
                sink.usage(u);
            }
            return;
        }
        let author = match role {
            Role::Assistant => str_field(msg, "model").map(str::to_string).or_else(|| self.model.clone()),
            _ => None,
        };
        let header = || ConversationHeader {
            external_id: self.external_id.clone(),
            workspace: self.workspace.clone(),
            ..Default::default()
        };
        self.announced.before_message(sink, &self.external_id, header, role, &text);
        sink.message(Message { role, author, created_at, content: text, line_offset: Some(offset) });
        if let Some(u) = usage {
            sink.usage(u);
        }
    }
}

/// The tokens of the call behind an assistant message (`usage`: `input`,
/// `output`, `cacheRead`, `cacheWrite`), or None without counts or time.
/// Pi prices each of the four apart (`usage.cost`), so input holds no
/// cache tokens. Each message is its own call; a line is read once.
fn call_usage(msg: &Value, created_at: Option<i64>, offset: u64, model: Option<&str>) -> Option<Usage> {
    let usage = msg.get("usage")?.as_object()?;
    let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
    if !usage.contains_key("input") && !usage.contains_key("output") {
        return None;
    }
    Some(Usage {
        created_at: created_at?,
        model: str_field(msg, "model").or(model).map(str::to_string),
        input: n("input"),
        output: n("output"),
        cache_write: n("cacheWrite"),
        cache_write_1h: 0,
        cache_read: n("cacheRead"),
        reasoning: 0,
        request_key: None,
        line_offset: Some(offset),
    })
}
