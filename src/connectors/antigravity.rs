//! Antigravity (Google's agent, CLI `agy`):
//! `~/.gemini/antigravity-cli/brain/<uuid>/.system_generated/logs/transcript.jsonl`,
//! one step per line, appended as the conversation runs. `<uuid>` is the
//! conversation id (`agy --conversation <uuid>`). `transcript_full.jsonl`
//! beside it repeats the same steps and is not read; the
//! `conversations/<uuid>.db` store holds undocumented protobuf and is not
//! read either.
//!
//! A step is `{step_index, source, type, status, created_at, content?,
//! thinking?, tool_calls?}`: `USER_INPUT` is the user's turn (the request
//! wrapped in `<USER_REQUEST>` beside metadata blocks), `PLANNER_RESPONSE`
//! the model's answer, other `MODEL` steps are tools at work (`content` is
//! their result), and `SYSTEM` steps notices. Steps are written in
//! `step_index` order with gaps, so file order is kept: sorting would need
//! the whole file, which a tail read does not have.

use std::path::Path;

use serde_json::{Value, json};

use super::announce::Announced;
use super::content::{self, str_field};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Message, Role};
use crate::time;

/// Reads Antigravity CLI transcripts.
pub struct Antigravity;

/// The transcript's file name; its sibling `transcript_full.jsonl` repeats it.
const TRANSCRIPT: &str = "transcript.jsonl";

impl Connector for Antigravity {
    fn agent(&self) -> Agent {
        Agent::Antigravity
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        match env.path_var("CASS_ANTIGRAVITY_DATA_ROOT") {
            Some(dir) => vec![Root { path: dir.join("brain"), origin: "CASS_ANTIGRAVITY_DATA_ROOT" }],
            None => vec![Root { path: env.home.join(".gemini/antigravity-cli/brain"), origin: "default" }],
        }
    }

    fn is_source(&self, root: &Path, path: &Path) -> bool {
        conversation_dir(path).is_some_and(|dir| dir.parent() == Some(root))
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::AppendOnlyLines
    }

    fn walk_depth(&self) -> usize {
        4
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let mut state: StepState = req.resume_state();
        if state.external_id.is_empty() {
            state.external_id = conversation_dir(req.path)
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        let end = super::lines::parse_jsonl(req, sink, |rec, line, offset, sink| state.step(rec, line, offset, sink))?;
        Ok(end.into_parse_end(json!(state)))
    }
}

/// `brain/<uuid>` of `brain/<uuid>/.system_generated/logs/transcript.jsonl`.
fn conversation_dir(path: &Path) -> Option<&Path> {
    let logs = path.parent().filter(|_| path.file_name().is_some_and(|n| n == TRANSCRIPT))?;
    let generated = logs.parent().filter(|_| logs.file_name().is_some_and(|n| n == "logs"))?;
    generated.parent().filter(|_| generated.file_name().is_some_and(|n| n == ".system_generated"))
}

/// What a tail parse needs from the steps already read.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct StepState {
    external_id: String,
    /// The model the user last selected (only ever said in prose).
    model: Option<String>,
    #[serde(flatten)]
    announced: Announced,
}

impl StepState {
    fn step(&mut self, rec: &Value, line: u64, offset: u64, sink: &mut dyn ParseSink) {
        let (Some(source), Some(kind)) = (str_field(rec, "source"), str_field(rec, "type")) else {
            sink.malformed(line, "step has no source or type".into());
            return;
        };
        let created_at = rec.get("created_at").and_then(time::parse_value);
        let text = str_field(rec, "content").unwrap_or("");
        let calls = tool_calls(rec.get("tool_calls"));
        let mut out: Vec<(Role, String)> = Vec::new();
        match (source, kind) {
            (_, "USER_INPUT") | ("USER_EXPLICIT", _) => {
                if let Some(model) = selected_model(text) {
                    self.model = Some(model);
                }
                out.push((Role::User, user_request(text)));
            }
            (_, "PLANNER_RESPONSE") => out.push((Role::Assistant, join_lines(text, &calls))),
            ("MODEL", _) => {
                // A tool step: the call is the model's, the content its result.
                if !calls.is_empty() {
                    out.push((Role::Assistant, calls.join("\n")));
                }
                out.push((Role::Tool, content::cap_bytes(text, content::TOOL_OUTPUT_CAP)));
            }
            ("SYSTEM", _) => out.push((Role::System, text.to_string())),
            _ => {
                sink.malformed(line, format!("step of unknown source '{source}'"));
                return;
            }
        }
        for (role, text) in out {
            if text.trim().is_empty() {
                continue; // CONVERSATION_HISTORY markers carry no content
            }
            let header = || ConversationHeader { external_id: self.external_id.clone(), ..Default::default() };
            self.announced.before_message(sink, &self.external_id, header, role, &text);
            let author = if role == Role::Assistant { self.model.clone() } else { None };
            sink.message(Message { role, author, created_at, content: text, line_offset: Some(offset) });
        }
    }
}

/// The user's own words: the `<USER_REQUEST>` block when there is one (the
/// metadata and settings blocks around it are the harness's), else the
/// whole content.
fn user_request(text: &str) -> String {
    match between(text, "<USER_REQUEST>", "</USER_REQUEST>") {
        Some(inner) => inner.trim().to_string(),
        None => text.trim().to_string(),
    }
}

/// The model a `<USER_SETTINGS_CHANGE>` block says the user switched to:
/// "… `Model Selection` from X to Gemini 3.1 Pro (High). …".
fn selected_model(text: &str) -> Option<String> {
    let block = between(text, "<USER_SETTINGS_CHANGE>", "</USER_SETTINGS_CHANGE>")?;
    let rest = &block[block.find("Model Selection")?..];
    let after = &rest[rest.find(" to ")? + 4..];
    let end = after.find(". ").or_else(|| after.find(".\n")).unwrap_or(after.trim_end().len());
    let model = after[..end].trim().trim_end_matches('.');
    (!model.is_empty()).then(|| model.to_string())
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close).map_or(text.len(), |e| start + e);
    Some(&text[start..end])
}

/// One `[tool: name] summary` line per call. Antigravity names the fields
/// `name`/`tool_name`/`function.name` and `arguments`/`args`/`input`
/// (an object or a JSON string).
fn tool_calls(calls: Option<&Value>) -> Vec<String> {
    let Some(Value::Array(calls)) = calls else { return Vec::new() };
    calls
        .iter()
        .map(|c| {
            let function = c.get("function");
            let name = str_field(c, "name")
                .or_else(|| str_field(c, "tool_name"))
                .or_else(|| function.and_then(|f| str_field(f, "name")))
                .unwrap_or("tool");
            let args = ["arguments", "args", "input"]
                .iter()
                .find_map(|k| c.get(*k).or_else(|| function.and_then(|f| f.get(*k))));
            content::tool_call_line(name, args)
        })
        .collect()
}

fn join_lines(text: &str, calls: &[String]) -> String {
    std::iter::once(text.trim())
        .chain(calls.iter().map(String::as_str))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwraps_the_request_and_reads_the_model_switch() {
        let text = "<USER_REQUEST>\nfix it\n</USER_REQUEST>\n<USER_SETTINGS_CHANGE>\nThe user changed setting `Model Selection` from None to Gemini 3 Flash. No need to comment.\n</USER_SETTINGS_CHANGE>";
        assert_eq!(user_request(text), "fix it");
        assert_eq!(selected_model(text).as_deref(), Some("Gemini 3 Flash"));
        assert_eq!(user_request("plain words"), "plain words");
        assert_eq!(selected_model("plain words"), None);
    }

    #[test]
    fn only_the_transcript_in_its_folder_is_a_source() {
        let root = Path::new("/h/.gemini/antigravity-cli/brain");
        let t = root.join("u1/.system_generated/logs/transcript.jsonl");
        assert!(Antigravity.is_source(root, &t));
        assert!(!Antigravity.is_source(root, &t.with_file_name("transcript_full.jsonl")));
        assert!(!Antigravity.is_source(root, &root.join("u1/logs/transcript.jsonl")));
    }
}
