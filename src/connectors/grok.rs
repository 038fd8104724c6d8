//! Grok Build (xAI's `grok` CLI): `$GROK_HOME/sessions/<percent-encoded
//! cwd>/<session id>/` (default `~/.grok`), holding `updates.jsonl`, the
//! session's authoritative log, appended to, and `summary.json`, rewritten
//! (`info{id, cwd}`, `generated_title`, `session_summary`,
//! `current_model_id`). A group dir whose encoded name would be too long
//! holds the real path in a `.cwd` file.
//!
//! Each line of `updates.jsonl` is an Agent Client Protocol notification:
//! `{timestamp (epoch s), method, params{sessionId, update{sessionUpdate,
//! …}, _meta{agentTimestampMs}}}`. `user_message_chunk` and
//! `agent_message_chunk` stream text (`content{type: "text", text}`) and
//! consecutive chunks of one kind make one message; `agent_thought_chunk`
//! is reasoning (left out); `tool_call` opens a call (`toolCallId`, `title`,
//! `rawInput`) and `tool_call_update`s replace its `status` and output
//! (`content[]`, `rawOutput`) — the output is indexed once the call reaches
//! `completed` or `failed`. `plan` and x.ai's own kinds are not messages.
//!
//! Nothing of this is published by xAI: the envelope is as observed on
//! grok 0.2.103 (see docs/CONNECTORS.md); the update kinds are ACP's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::content::{self, str_field};
use super::runs::{self, Run, Stream};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, Message, Role};
use crate::time;

/// Reads Grok Build sessions (`updates.jsonl` with its `summary.json`).
pub struct Grok;

impl Connector for Grok {
    fn agent(&self) -> Agent {
        Agent::Grok
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        match env.path_var("GROK_HOME") {
            Some(dir) => vec![Root { path: dir.join("sessions"), origin: "GROK_HOME" }],
            None => vec![Root { path: env.home.join(".grok/sessions"), origin: "default" }],
        }
    }

    fn is_source(&self, _root: &Path, path: &Path) -> bool {
        path.file_name().is_some_and(|n| n == "updates.jsonl")
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::AppendOnlyLines
    }

    /// `summary.json` names the session: its change re-reads the log's tail.
    fn companions(&self, path: &Path) -> Vec<PathBuf> {
        vec![path.with_file_name("summary.json")]
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let mut state: GrokState = req.resume_state();
        let summary = read_summary(req.path, sink);
        if state.stream.external_id.is_empty() {
            state.stream.external_id = summary
                .as_ref()
                .and_then(|s| s.pointer("/info/id").and_then(Value::as_str))
                .map(str::to_string)
                .or_else(|| dir_name(req.path.parent()))
                .unwrap_or_default();
        }
        state.stream.title = summary.as_ref().and_then(|s| {
            str_field(s, "generated_title").or_else(|| str_field(s, "session_summary")).map(str::to_string)
        });
        if state.stream.title.is_some() {
            state.stream.announced.titled = true;
        }
        if state.stream.workspace.is_none() {
            state.stream.workspace = summary
                .as_ref()
                .and_then(|s| s.pointer("/info/cwd").and_then(Value::as_str))
                .map(str::to_string)
                .or_else(|| group_cwd(req.path));
        }
        if let Some(m) = summary.as_ref().and_then(|s| str_field(s, "current_model_id")) {
            state.model.get_or_insert_with(|| m.to_string());
        }
        let end =
            super::lines::parse_jsonl(req, sink, |rec, line, offset, sink| state.record(rec, line, offset, sink))?;
        let run = state.stream.finish_read(req.start_offset > 0, sink);
        Ok(runs::parse_end(end, json!(state), run.as_ref()))
    }
}

fn dir_name(dir: Option<&Path>) -> Option<String> {
    dir.and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned())
}

/// `summary.json` beside the log; a broken one is reported, the log still read.
fn read_summary(path: &Path, sink: &mut dyn ParseSink) -> Option<Value> {
    let file = path.with_file_name("summary.json");
    if !file.is_file() {
        return None;
    }
    match super::document::read_json(&file) {
        Ok(v) => Some(v),
        Err(e) => {
            sink.malformed(0, format!("summary.json: {}", e.reason()));
            None
        }
    }
}

/// The working directory a session's group dir stands for: its `.cwd`
/// file, else its percent-decoded name.
fn group_cwd(log: &Path) -> Option<String> {
    let group = log.parent()?.parent()?;
    if let Ok(text) = std::fs::read_to_string(group.join(".cwd"))
        && !text.trim().is_empty()
    {
        return Some(text.trim().to_string());
    }
    percent_decode(&group.file_name()?.to_string_lossy()).filter(|d| !d.is_empty())
}

/// RFC 3986 percent-decoding; None for a broken escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What a tail parse needs from the part of the log already read.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct GrokState {
    /// The conversation: id, workspace, title (from `summary.json` on
    /// every read), what was announced, the message being joined.
    #[serde(flatten)]
    stream: Stream,
    model: Option<String>,
    /// Calls not finished yet, with their latest output.
    pending: BTreeMap<String, Option<String>>,
}

impl GrokState {
    fn chunk(
        &mut self,
        kind: &str,
        text: &str,
        at: Option<i64>,
        model: Option<String>,
        pos: (u64, u64),
        sink: &mut dyn ParseSink,
    ) {
        if self.stream.run.as_ref().is_some_and(|r| r.key != kind) {
            self.stream.close_run(sink);
        }
        if self.stream.run.is_none() {
            let role = if kind == "user_message_chunk" { Role::User } else { Role::Assistant };
            let author = if role == Role::Assistant { model.or_else(|| self.model.clone()) } else { None };
            let checkpoint = json!(self);
            self.stream.run = Some(Run {
                key: kind.to_string(),
                role,
                author,
                created_at: at,
                offset: pos.0,
                line: pos.1,
                pieces: Vec::new(),
                joiner: "",
                checkpoint,
            });
        }
        let run = self.stream.run.as_mut().expect("opened above");
        run.created_at = run.created_at.or(at);
        run.pieces.push(text.to_string());
    }

    fn record(&mut self, rec: &Value, line: u64, offset: u64, sink: &mut dyn ParseSink) {
        let Some(update) = rec.pointer("/params/update").filter(|u| u.is_object()) else {
            sink.malformed(line, "line has no params.update".into());
            return;
        };
        let meta = |key: &str| {
            rec.pointer(&format!("/params/_meta/{key}")).or_else(|| update.pointer(&format!("/_meta/{key}")))
        };
        let at = meta("agentTimestampMs")
            .and_then(time::parse_value)
            .or_else(|| rec.get("timestamp").and_then(time::parse_value));
        let model = meta("modelId").and_then(Value::as_str).map(str::to_string);
        let kind = str_field(update, "sessionUpdate").unwrap_or("");
        match kind {
            "user_message_chunk" | "agent_message_chunk" => {
                let text = update.get("content").and_then(content::flatten).unwrap_or_default();
                if !text.is_empty() {
                    self.chunk(kind, &text, at, model, (offset, line), sink);
                }
            }
            "agent_thought_chunk" => {} // reasoning stays out, and does not split the answer
            "tool_call" | "tool_call_update" => {
                let Some(id) = str_field(update, "toolCallId").map(str::to_string) else {
                    sink.malformed(line, format!("{kind} without toolCallId"));
                    return;
                };
                self.stream.close_run(sink);
                if kind == "tool_call" {
                    let name = str_field(update, "title").or_else(|| str_field(update, "kind")).unwrap_or("tool");
                    let text = content::tool_call_line(name, update.get("rawInput").filter(|v| !v.is_null()));
                    let author = model.or_else(|| self.model.clone());
                    self.stream.send(
                        Message {
                            role: Role::Assistant,
                            author,
                            created_at: at,
                            content: text,
                            line_offset: Some(offset),
                        },
                        sink,
                    );
                    self.pending.insert(id.clone(), None);
                }
                if let Some(out) = tool_output(update) {
                    self.pending.insert(id.clone(), Some(out));
                }
                if matches!(str_field(update, "status"), Some("completed" | "failed"))
                    && let Some(out) = self.pending.remove(&id)
                {
                    let failed = str_field(update, "status") == Some("failed");
                    let text = match (out, failed) {
                        (Some(o), true) => format!("[tool error] {o}"),
                        (Some(o), false) => o,
                        (None, true) => "[tool error]".to_string(),
                        (None, false) => return,
                    };
                    self.stream.send(
                        Message {
                            role: Role::Tool,
                            author: None,
                            created_at: at,
                            content: text,
                            line_offset: Some(offset),
                        },
                        sink,
                    );
                }
            }
            "" => sink.malformed(line, "update has no sessionUpdate".into()),
            _ => self.stream.close_run(sink), // plan, available commands, hook_execution, retry_state, …
        }
    }
}

/// A tool call's output so far: the text of its `content` items (a diff
/// or terminal shown by name), else `rawOutput`.
fn tool_output(update: &Value) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for item in update.get("content").and_then(Value::as_array).into_iter().flatten() {
        match str_field(item, "type") {
            Some("content") => parts.extend(item.get("content").and_then(content::flatten)),
            Some("diff") => parts.push(format!("[diff: {}]", str_field(item, "path").unwrap_or("file"))),
            Some("terminal") => parts.push("[terminal]".to_string()),
            _ => parts.extend(content::flatten(item)),
        }
    }
    let text = parts.join("\n");
    let text = if text.trim().is_empty() {
        match update.get("rawOutput")? {
            Value::Null => return None,
            v => content::tool_output(v)?,
        }
    } else {
        content::cap_bytes(&text, content::TOOL_OUTPUT_CAP)
    };
    (!text.trim().is_empty()).then_some(text)
}
