//! Factory Droid: `~/.factory/sessions/<workspace-slug>/<session>.jsonl`,
//! append-only JSONL: `session_start {id, title, cwd}`, then `message`
//! records holding Anthropic-style `{role, content}`; a sibling
//! `<session>.settings.json` names the model.

use std::path::Path;

use serde_json::{Value, json};

use super::announce::Announced;
use super::content::{self, str_field};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Message, Role};
use crate::time;

/// Reads Factory Droid's JSONL sessions.
pub struct Factory;

impl Connector for Factory {
    fn agent(&self) -> Agent {
        Agent::Factory
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let (config, origin) = env.app_config_dir();
        vec![
            Root { path: env.home.join(".factory/sessions"), origin: "default" },
            Root { path: env.home.join(".factory-droid/sessions"), origin: "default (older builds)" },
            Root { path: config.join("factory-droid/sessions"), origin },
        ]
    }

    fn is_source(&self, _root: &Path, path: &Path) -> bool {
        path.extension().is_some_and(|e| e == "jsonl")
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::AppendOnlyLines
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let mut state: FactoryState = req.resume_state();
        if state.external_id.is_empty() {
            state.external_id = req.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        }
        if state.model.is_none() {
            state.model = settings_model(req.path, sink);
        }
        let end =
            super::lines::parse_jsonl(req, sink, |rec, line, offset, sink| state.record(rec, line, offset, sink))?;
        Ok(end.into_parse_end(json!(state)))
    }
}

/// `model` from the sibling `<session>.settings.json`, when there is one
/// (a broken one is reported; the session is still read).
fn settings_model(path: &Path, sink: &mut dyn ParseSink) -> Option<String> {
    let stem = path.file_stem()?.to_string_lossy();
    let settings = path.with_file_name(format!("{stem}.settings.json"));
    if !settings.exists() {
        return None;
    }
    match super::document::read_json(&settings) {
        Ok(v) => str_field(&v, "model").map(str::to_string),
        Err(e) => {
            sink.malformed(0, format!("{stem}.settings.json: {}", e.reason()));
            None
        }
    }
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct FactoryState {
    external_id: String,
    title: Option<String>,
    workspace: Option<String>,
    model: Option<String>,
    #[serde(flatten)]
    announced: Announced,
}

impl FactoryState {
    fn record(&mut self, rec: &Value, line: u64, offset: u64, sink: &mut dyn ParseSink) {
        match str_field(rec, "type") {
            Some("session_start") => {
                if let Some(id) = str_field(rec, "id") {
                    self.external_id = id.to_string();
                }
                self.workspace = str_field(rec, "cwd").map(str::to_string);
                self.title = str_field(rec, "title").map(str::to_string);
                self.announced.titled = self.title.is_some();
            }
            Some("message") => self.message(rec, line, offset, sink),
            Some(_) => {} // todo_state and other bookkeeping
            None => sink.malformed(line, "record has no type".into()),
        }
    }

    fn message(&mut self, rec: &Value, line: u64, offset: u64, sink: &mut dyn ParseSink) {
        let Some((msg, role)) = content::role_message(rec, line, sink) else { return };
        let created_at = rec.get("timestamp").and_then(time::parse_value);
        let mut texts = Vec::new();
        match msg.get("content") {
            Some(Value::Array(blocks)) => super::claude::split_blocks(role, blocks, &mut texts),
            Some(Value::String(s)) => texts.push((role, s.clone())),
            _ => {
                sink.malformed(line, "message has no text content".into());
                return;
            }
        }
        for (role, text) in texts {
            if text.trim().is_empty() {
                continue;
            }
            let header = || ConversationHeader {
                external_id: self.external_id.clone(),
                title: self.title.clone(),
                title_explicit: self.title.is_some(),
                workspace: self.workspace.clone(),
            };
            self.announced.before_message(sink, &self.external_id, header, role, &text);
            let author = match role {
                Role::Assistant => str_field(msg, "model").map(str::to_string).or_else(|| self.model.clone()),
                _ => None,
            };
            sink.message(Message { role, author, created_at, content: text, line_offset: Some(offset) });
        }
    }
}
