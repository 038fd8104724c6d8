//! Kimi (Moonshot AI): two generations, both an append-only `wire.jsonl`
//! per agent beside a rewritten `state.json`.
//!
//! * Kimi Code: `$KIMI_CODE_HOME/sessions/<bucket>/<sessionId>/agents/<agentId>/wire.jsonl`
//!   (default `~/.kimi-code`; agent `main` plus sub-agents, each its own
//!   conversation `<sessionId>:<agentId>`). One record per line, `{type,
//!   …payload, time}` with `time` in epoch ms: `turn.prompt{input, origin}`
//!   (the prompt), `context.append_message` (echoes it, and carries injected
//!   user or system text), `context.append_loop_event{event}` with
//!   `content.part{stepUuid, part{type: text|think}}`,
//!   `tool.call{stepUuid, name, args}`, `tool.result{result{output, isError}}`,
//!   `step.begin`/`step.end`, and `usage.record{model, usage{inputOther,
//!   output, inputCacheRead, inputCacheCreation}}` once per model call.
//!   `state.json` holds `title`; the working directory is in
//!   `<home>/session_index.jsonl` (`{sessionId, workDir}`) and in
//!   `config.update` records (`cwd`).
//! * Kimi CLI (Python, before Kimi Code): `$KIMI_SHARE_DIR/sessions/<md5 of
//!   workdir>/<session>/wire.jsonl` (default `~/.kimi`), lines `{timestamp
//!   (epoch s, float), message{type, payload}}`: `TurnBegin{user_input}`,
//!   `ContentPart{type, text|think}`, `ToolCall{function{name, arguments}}`,
//!   `ToolResult{return_value{output, is_error}}`, `StatusUpdate{token_usage,
//!   message_id}`; `state.json` `custom_title`; `kimi.json` maps work
//!   directories to their last session.
//!
//! The parts of one model step arrive one line each; they form one assistant
//! message (see [`super::runs`]).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::content::{self, str_field};
use super::runs::{self, Run, Stream};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, Message, Role, Usage};
use crate::time;

/// Reads Kimi Code and Kimi CLI `wire.jsonl` logs.
pub struct Kimi;

impl Connector for Kimi {
    fn agent(&self) -> Agent {
        Agent::Kimi
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let code = match env.path_var("KIMI_CODE_HOME") {
            Some(dir) => Root { path: dir.join("sessions"), origin: "KIMI_CODE_HOME" },
            None => Root { path: env.home.join(".kimi-code/sessions"), origin: "default" },
        };
        let cli = match env.path_var("KIMI_SHARE_DIR") {
            Some(dir) => Root { path: dir.join("sessions"), origin: "KIMI_SHARE_DIR" },
            None => Root { path: env.home.join(".kimi/sessions"), origin: "default (Kimi CLI)" },
        };
        vec![code, cli]
    }

    fn is_source(&self, _root: &Path, path: &Path) -> bool {
        path.file_name().is_some_and(|n| n == "wire.jsonl")
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::AppendOnlyLines
    }

    /// `state.json` carries the title: its change re-reads the log's tail,
    /// and every parse reads the title afresh.
    fn companions(&self, path: &Path) -> Vec<PathBuf> {
        session_dir(path).map(|d| vec![d.join("state.json")]).unwrap_or_default()
    }

    fn reads_usage(&self) -> bool {
        true
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let mut state: KimiState = req.resume_state();
        let (external_id, agent_id) = ids(req.path);
        state.stream.external_id = external_id;
        let side = read_side(req.path, agent_id.as_deref(), sink);
        if side.title.is_some() {
            state.stream.announced.titled = true;
        }
        if state.stream.workspace.is_none() {
            state.stream.workspace = side.workspace.clone();
        }
        state.stream.title = side.title;
        let end = super::lines::parse_jsonl(req, sink, |rec, line, offset, sink| {
            state.record(rec, line, offset, sink);
        })?;
        let run = state.stream.finish_read(req.start_offset > 0, sink);
        Ok(runs::parse_end(end, json!(state), run.as_ref()))
    }
}

/// `<session>` of either layout: `…/<session>/agents/<agent>/wire.jsonl`
/// or `…/<session>/wire.jsonl`.
fn session_dir(path: &Path) -> Option<&Path> {
    let dir = path.parent()?;
    let up = dir.parent()?;
    if up.file_name().is_some_and(|n| n == "agents") { up.parent() } else { Some(dir) }
}

/// The conversation id and, for Kimi Code, the agent id.
fn ids(path: &Path) -> (String, Option<String>) {
    let name = |p: Option<&Path>| p.and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned());
    let dir = path.parent();
    let up = dir.and_then(Path::parent);
    if up.is_some_and(|u| u.file_name().is_some_and(|n| n == "agents")) {
        let session = name(up.and_then(Path::parent)).unwrap_or_default();
        let agent = name(dir).unwrap_or_default();
        let id = if agent == "main" { session } else { format!("{session}:{agent}") };
        (id, Some(agent))
    } else {
        (name(dir).unwrap_or_default(), None)
    }
}

/// What the files beside the log say: the title (`state.json`) and the
/// working directory (Kimi Code's `session_index.jsonl`, Kimi CLI's
/// `kimi.json`, or `state.json` itself).
#[derive(Default)]
struct Side {
    title: Option<String>,
    workspace: Option<String>,
}

fn read_side(path: &Path, agent: Option<&str>, sink: &mut dyn ParseSink) -> Side {
    let mut side = Side::default();
    let Some(session) = session_dir(path) else { return side };
    let sid = session.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let state_file = session.join("state.json");
    if state_file.is_file() {
        match super::document::read_json(&state_file) {
            Ok(state) => {
                // A sub-agent's log is its own conversation: the session's
                // title names the main one.
                if agent.is_none_or(|a| a == "main") {
                    side.title = str_field(&state, "custom_title")
                        .or_else(|| str_field(&state, "title").filter(|t| *t != "Untitled"))
                        .map(str::to_string);
                }
                side.workspace =
                    ["workDir", "work_dir", "cwd"].iter().find_map(|k| str_field(&state, k)).map(str::to_string);
            }
            Err(e) => sink.malformed(0, format!("state.json: {}", e.reason())),
        }
    }
    if side.workspace.is_none() {
        // Kimi Code: <home>/sessions/<bucket>/<session>; Kimi CLI: <share>/sessions/<hash>/<session>.
        let home = session.parent().and_then(Path::parent).and_then(Path::parent);
        side.workspace = home.and_then(|h| {
            if agent.is_some() {
                index_workdir(&h.join("session_index.jsonl"), &sid)
            } else {
                kimi_json_workdir(h, &sid)
            }
        });
    }
    side
}

/// `workDir` of the session's entry in Kimi Code's session index.
fn index_workdir(index: &Path, sid: &str) -> Option<String> {
    let bytes = super::lines::read_whole(index, 64 * 1024 * 1024).ok()?;
    String::from_utf8_lossy(&bytes).lines().rev().find_map(|line| {
        let v: Value = serde_json::from_str(line).ok()?;
        (str_field(&v, "sessionId") == Some(sid)).then(|| str_field(&v, "workDir").map(str::to_string))?
    })
}

/// The work directory whose `last_session_id` is this session, from Kimi
/// CLI's `kimi.json` (its sessions dirs are named by an MD5 of the path,
/// which cannot be reversed).
fn kimi_json_workdir(share: &Path, sid: &str) -> Option<String> {
    let doc = super::document::read_json(&share.join("kimi.json")).ok()?;
    doc.get("work_dirs")?
        .as_array()?
        .iter()
        .find(|w| str_field(*w, "last_session_id") == Some(sid))
        .and_then(|w| str_field(w, "path"))
        .map(str::to_string)
}

/// What a tail parse needs from the part of the log already read.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct KimiState {
    /// The conversation: id, workspace, title, what was announced, the
    /// message being joined.
    #[serde(flatten)]
    stream: Stream,
    /// The last prompt, to drop its `context.append_message` echo.
    last_prompt: Option<String>,
    /// The model of the latest call, for the assistant turns after it.
    model: Option<String>,
}

impl KimiState {
    /// Adds a piece to the assistant message of step `key`, opening it
    /// (and closing any other) first.
    fn continue_run(
        &mut self,
        key: &str,
        piece: String,
        created_at: Option<i64>,
        at: (u64, u64),
        sink: &mut dyn ParseSink,
    ) {
        if self.stream.run.as_ref().is_some_and(|r| r.key != key) {
            self.stream.close_run(sink);
        }
        if self.stream.run.is_none() {
            let checkpoint = json!(self);
            self.stream.run = Some(Run {
                key: key.to_string(),
                role: Role::Assistant,
                author: self.model.clone(),
                created_at,
                offset: at.0,
                line: at.1,
                pieces: Vec::new(),
                joiner: "\n",
                checkpoint,
            });
        }
        let run = self.stream.run.as_mut().expect("opened above");
        run.created_at = run.created_at.or(created_at);
        run.pieces.push(piece);
    }

    fn plain(&mut self, role: Role, text: String, created_at: Option<i64>, offset: u64, sink: &mut dyn ParseSink) {
        self.stream.close_run(sink);
        if text.trim().is_empty() {
            return;
        }
        let author = if role == Role::Assistant { self.model.clone() } else { None };
        self.stream.send(Message { role, author, created_at, content: text, line_offset: Some(offset) }, sink);
    }

    fn usage(&mut self, usage: Usage, sink: &mut dyn ParseSink) {
        self.stream.close_run(sink);
        if !self.stream.header_sent {
            self.stream.header_sent = true;
            self.stream.announced.before_usage(sink, self.stream.header());
        }
        sink.usage(usage);
    }

    fn record(&mut self, rec: &Value, line: u64, offset: u64, sink: &mut dyn ParseSink) {
        if rec.get("message").is_some_and(Value::is_object) && rec.get("type").is_none() {
            return self.legacy(rec, line, offset, sink);
        }
        let Some(kind) = str_field(rec, "type") else {
            sink.malformed(line, "record has no type".into());
            return;
        };
        let at = rec.get("time").and_then(time::parse_value);
        match kind {
            "turn.prompt" | "turn.steer" => {
                let text = rec.get("input").and_then(content::flatten).unwrap_or_default();
                let origin = rec.get("origin").and_then(|o| o.as_str().or_else(|| str_field(o, "kind")));
                let role = match origin {
                    None
                    | Some("user" | "retry" | "skill_activation" | "plugin_command" | "shell_command" | "task") => {
                        Role::User
                    }
                    Some(_) => Role::System, // injections, hook results, compaction summaries, cron (a sub-agent's `task` is its user turn)
                };
                self.last_prompt = Some(text.trim().to_string());
                self.plain(role, text, at, offset, sink);
            }
            "context.append_message" => {
                let Some(msg) = rec.get("message") else { return };
                let text = msg.get("content").and_then(content::flatten).unwrap_or_default();
                let role = str_field(msg, "role").and_then(Role::from_agent_label);
                // Model turns come as loop events; a user message usually
                // echoes the prompt just recorded.
                match role {
                    Some(Role::User) if self.last_prompt.as_deref() == Some(text.trim()) => {}
                    Some(r @ (Role::User | Role::System)) => self.plain(r, text, at, offset, sink),
                    _ => {}
                }
            }
            "context.append_loop_event" => {
                self.loop_event(rec.get("event").unwrap_or(&Value::Null), at, line, offset, sink)
            }
            "config.update" => {
                if self.stream.workspace.is_none() {
                    self.stream.workspace = str_field(rec, "cwd")
                        .or_else(|| rec.pointer("/environmentDisclosure/cwd").and_then(Value::as_str))
                        .map(str::to_string);
                }
            }
            "usage.record" => {
                if let Some(model) = str_field(rec, "model") {
                    self.model = Some(model.to_string());
                }
                if let (Some(u), Some(at)) = (rec.get("usage"), at) {
                    let usage =
                        call_usage(u, ["inputOther", "output", "inputCacheRead", "inputCacheCreation"], at, offset);
                    self.usage(Usage { model: self.model.clone(), ..usage }, sink);
                }
            }
            _ => self.stream.close_run(sink), // metadata, turn.ended, llm.request, tools, permissions, …
        }
    }

    fn loop_event(&mut self, event: &Value, at: Option<i64>, line: u64, offset: u64, sink: &mut dyn ParseSink) {
        let step = str_field(event, "stepUuid").unwrap_or("").to_string();
        match str_field(event, "type").unwrap_or("") {
            "content.part" => {
                let part = event.get("part").unwrap_or(&Value::Null);
                if str_field(part, "type") == Some("text")
                    && let Some(text) = str_field(part, "text")
                {
                    self.continue_run(&step, text.to_string(), at, (offset, line), sink);
                }
            }
            "tool.call" => {
                let name = str_field(event, "name").unwrap_or("tool");
                let piece = content::tool_call_line(name, event.get("args"));
                self.continue_run(&step, piece, at, (offset, line), sink);
            }
            "tool.result" => {
                let result = event.get("result").unwrap_or(&Value::Null);
                let text = result.get("output").and_then(content::tool_output).unwrap_or_default();
                let text = if result.get("isError").and_then(Value::as_bool) == Some(true) {
                    format!("[tool error] {text}")
                } else {
                    text
                };
                self.plain(Role::Tool, text, at, offset, sink);
            }
            _ => self.stream.close_run(sink), // step.begin, step.end
        }
    }

    /// A Kimi CLI record: `{timestamp, message: {type, payload}}`.
    fn legacy(&mut self, rec: &Value, line: u64, offset: u64, sink: &mut dyn ParseSink) {
        let at = rec.get("timestamp").and_then(time::parse_value);
        let msg = &rec["message"];
        let payload = msg.get("payload").unwrap_or(&Value::Null);
        match str_field(msg, "type").unwrap_or("") {
            "TurnBegin" | "SteerInput" => {
                let input = payload.get("user_input").or_else(|| payload.get("content"));
                let text = input.and_then(content::flatten).unwrap_or_default();
                self.plain(Role::User, text, at, offset, sink);
            }
            "ContentPart" => {
                if str_field(payload, "type") == Some("text")
                    && let Some(text) = str_field(payload, "text")
                {
                    self.continue_run("step", text.to_string(), at, (offset, line), sink);
                }
            }
            "ToolCall" => {
                let function = payload.get("function").unwrap_or(payload);
                let name = str_field(function, "name").unwrap_or("tool");
                let piece = content::tool_call_line(name, function.get("arguments"));
                self.continue_run("step", piece, at, (offset, line), sink);
            }
            "ToolResult" => {
                let value = payload.get("return_value").unwrap_or(&Value::Null);
                let text = value.get("output").and_then(content::tool_output).unwrap_or_default();
                let text = if value.get("is_error").and_then(Value::as_bool) == Some(true) {
                    format!("[tool error] {text}")
                } else {
                    text
                };
                self.plain(Role::Tool, text, at, offset, sink);
            }
            "StatusUpdate" => {
                if let (Some(u), Some(at)) = (payload.get("token_usage").filter(|u| u.is_object()), at) {
                    let mut usage = call_usage(
                        u,
                        ["input_other", "output", "input_cache_read", "input_cache_creation"],
                        at,
                        offset,
                    );
                    usage.request_key = str_field(payload, "message_id").map(|id| format!("kimi:{id}"));
                    self.usage(usage, sink);
                }
            }
            "" => sink.malformed(line, "message has no type".into()),
            _ => self.stream.close_run(sink), // StepBegin, TurnEnd, compaction, approvals, …
        }
    }
}

/// A call's tokens from Kimi's `TokenUsage` (named `keys`: uncached input,
/// output, cache reads, cache writes). Kimi keeps the three input kinds
/// apart (its total input is their sum), as cass does.
fn call_usage(u: &Value, keys: [&str; 4], at: i64, offset: u64) -> Usage {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        created_at: at,
        model: None,
        input: n(keys[0]),
        output: n(keys[1]),
        cache_read: n(keys[2]),
        cache_write: n(keys[3]),
        cache_write_1h: 0,
        reasoning: 0,
        request_key: None,
        line_offset: Some(offset),
    }
}
