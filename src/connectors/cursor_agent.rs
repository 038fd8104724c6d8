//! Cursor's agent transcripts: `~/.cursor/projects/<slug>/agent-transcripts/`,
//! written by the Cursor Agent CLI (`cursor-agent`) and by newer editor
//! builds, apart from the editor's `state.vscdb` (the `cursor` connector).
//!
//! Two formats, one conversation per file, no ids or times in either:
//! - `<id>.txt` (older): turns start at a line `user:` or `assistant:`; the
//!   user's words sit inside `<user_query>` tags (other tags around them are
//!   context the harness added), and an assistant turn holds `[Thinking]`,
//!   `[Tool call] Name` (indented `arg: value` lines) and
//!   `[Tool result] Name` blocks between its text.
//! - `<id>/<id>.jsonl` (newer), append-only: `{role, message: {content}}`
//!   with Anthropic-style blocks (`text`, `tool_use`, `tool_result`); lines
//!   without a role (turn markers) carry no text.
//!
//! `<slug>` is the workspace path with its separators (and other
//! punctuation) turned into `-`, which cannot be reversed by itself: the
//! workspace is the existing directory whose path encodes to the slug, and
//! none when there is no such directory here.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::announce::Announced;
use super::content;
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Platform, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Message, Role};

/// Reads Cursor's agent transcripts (Cursor Agent CLI and newer editors).
pub struct CursorAgent;

const TRANSCRIPTS: &str = "agent-transcripts";

impl Connector for CursorAgent {
    fn agent(&self) -> Agent {
        Agent::CursorAgent
    }

    /// `~/.cursor/projects` on every platform (Cursor keeps `.cursor` in the
    /// home directory on Windows too); under WSL, each Windows profile's.
    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let mut roots = vec![Root { path: env.home.join(".cursor/projects"), origin: "default" }];
        if env.platform == Platform::Linux {
            for profile in env.wsl_windows_profiles() {
                let dir = profile.join(".cursor/projects");
                if dir.is_dir() {
                    roots.push(Root { path: dir, origin: "WSL (Windows profile)" });
                }
            }
        }
        roots
    }

    /// `<slug>/agent-transcripts/<id>/<id>.jsonl` is the deepest.
    fn walk_depth(&self) -> usize {
        4
    }

    /// A project folder holds more than transcripts (terminals, MCP
    /// descriptors, logs): only the transcripts folder is walked.
    fn descend(&self, dir: &Path) -> bool {
        let name = |p: Option<&Path>| p.and_then(Path::file_name).and_then(|n| n.to_str()).map(str::to_string);
        let parent = name(dir.parent());
        name(Some(dir)).as_deref() == Some(TRANSCRIPTS)
            || parent.as_deref() == Some(TRANSCRIPTS)
            || parent.as_deref() == Some("projects")
    }

    fn is_source(&self, _root: &Path, path: &Path) -> bool {
        transcript_kind(path).is_some()
    }

    fn layout(&self, path: &Path) -> SourceLayout {
        match transcript_kind(path) {
            Some(Kind::Jsonl) => SourceLayout::AppendOnlyLines,
            _ => SourceLayout::WholeFile,
        }
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let id = req.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let header = || ConversationHeader {
            external_id: id.clone(),
            title: None,
            title_explicit: false,
            workspace: workspace_of(req.path).map(|p| p.to_string_lossy().into_owned()),
        };
        match transcript_kind(req.path) {
            Some(Kind::Jsonl) => {
                let mut announced: Announced = req
                    .resume
                    .and_then(|r| r.get("titled"))
                    .and_then(Value::as_bool)
                    .map_or_else(Announced::default, Announced::resumed);
                let end = super::lines::parse_jsonl(req, sink, |rec, line, offset, sink| {
                    for (role, text) in jsonl_record(rec, line, sink) {
                        announced.before_message(sink, &id, header, role, &text);
                        sink.message(Message {
                            role,
                            author: None,
                            created_at: None,
                            content: text,
                            line_offset: Some(offset),
                        });
                    }
                })?;
                Ok(end.into_parse_end(json!({ "titled": announced.titled })))
            }
            _ => {
                let bytes = super::lines::read_whole(req.path, super::document::WHOLE_FILE_LIMIT)
                    .map_err(|source| ParseError::Io { path: req.path.to_path_buf(), source })?;
                let (text, replaced) = super::lines::decode_lossy(&bytes);
                if replaced {
                    sink.malformed(0, "invalid UTF-8 (replaced with U+FFFD)".into());
                }
                let messages = text_turns(&text)
                    .into_iter()
                    .map(|(role, text)| super::document::message(role, None, None, text))
                    .collect();
                super::document::emit_conversation(sink, header(), messages);
                Ok(super::document::whole_file_end(req.path))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Jsonl,
}

/// `agent-transcripts/<id>.txt`, `agent-transcripts/<id>.jsonl` or
/// `agent-transcripts/<id>/<id>.jsonl`.
fn transcript_kind(path: &Path) -> Option<Kind> {
    let kind = match path.extension()?.to_str()? {
        "txt" => Kind::Text,
        "jsonl" => Kind::Jsonl,
        _ => return None,
    };
    let parent = path.parent()?;
    let in_transcripts = |dir: &Path| dir.file_name().is_some_and(|n| n == TRANSCRIPTS);
    if in_transcripts(parent) {
        return Some(kind);
    }
    let nested =
        kind == Kind::Jsonl && parent.file_name() == path.file_stem() && parent.parent().is_some_and(in_transcripts);
    nested.then_some(kind)
}

/// The messages of one JSONL line: the role's text (tool calls summarized
/// in it), tool results as `tool` messages.
fn jsonl_record(rec: &Value, line: u64, sink: &mut dyn ParseSink) -> Vec<(Role, String)> {
    let Some(obj) = rec.as_object() else {
        sink.malformed(line, "record is not a JSON object".into());
        return Vec::new();
    };
    let Some(label) = obj.get("role").and_then(Value::as_str) else {
        if !obj.contains_key("type") {
            sink.malformed(line, "record has neither a role nor a type".into());
        }
        return Vec::new(); // a turn marker
    };
    let Some(role) = Role::from_agent_label(label) else {
        sink.malformed(line, format!("unknown role '{label}'"));
        return Vec::new();
    };
    let body = obj.get("message").and_then(|m| m.get("content")).or_else(|| obj.get("content"));
    let mut out = Vec::new();
    match body {
        Some(Value::String(s)) => out.push((role, s.clone())),
        Some(Value::Array(blocks)) => super::claude::split_blocks(role, blocks, &mut out),
        Some(Value::Null) | None => {}
        Some(other) => {
            sink.malformed(line, format!("content is {}, not text", super::json::JsonView::kind(other).described()))
        }
    }
    out.into_iter()
        .map(|(r, t)| (r, if r == Role::User { user_words(&t) } else { t }))
        .filter(|(_, t)| !t.trim().is_empty())
        .collect()
}

/// The turns of a text transcript, in order: the user's words, the
/// assistant's text with its tool calls summarized, tool results apart.
fn text_turns(text: &str) -> Vec<(Role, String)> {
    let mut turns: Vec<(Role, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        match line.trim_end() {
            "user:" => turns.push((Role::User, Vec::new())),
            "assistant:" => turns.push((Role::Assistant, Vec::new())),
            _ => match turns.last_mut() {
                Some((_, lines)) => lines.push(line),
                None if line.trim().is_empty() => {}
                // Text before the first turn marker: the user's, as a
                // transcript cut at its start would begin.
                None => turns.push((Role::User, vec![line])),
            },
        }
    }
    let mut out = Vec::new();
    for (role, lines) in turns {
        match role {
            Role::User => out.push((Role::User, user_words(&lines.join("\n")))),
            _ => assistant_blocks(&lines, &mut out),
        }
    }
    out.retain(|(_, t)| !t.trim().is_empty());
    out
}

/// What the user typed: the text inside `<user_query>` tags when there are
/// any (the rest is context the harness attached), else all of it.
fn user_words(text: &str) -> String {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<user_query>") {
        let after = &rest[start + "<user_query>".len()..];
        let end = after.find("</user_query>").unwrap_or(after.len());
        found.push(after[..end].trim());
        rest = after.get(end + "</user_query>".len()..).unwrap_or("");
    }
    if found.is_empty() { text.trim().to_string() } else { found.join("\n\n") }
}

/// Splits an assistant turn at its `[Thinking]`, `[Tool call]` and
/// `[Tool result]` markers: text and tool calls make one assistant message
/// (the `[Thinking]` line is left out, as every agent's reasoning is), each
/// result a tool message.
fn assistant_blocks(lines: &[&str], out: &mut Vec<(Role, String)>) {
    enum Block {
        Text,
        Call(String, serde_json::Map<String, Value>),
        Result(Vec<String>),
    }
    let mut said: Vec<String> = Vec::new();
    let mut block = Block::Text;
    let finish = |block: Block, said: &mut Vec<String>, out: &mut Vec<(Role, String)>| match block {
        Block::Call(name, args) => said.push(content::tool_call_line(&name, Some(&Value::Object(args)))),
        Block::Result(body) => {
            let body = body.join("\n");
            if let Some(text) = content::tool_output(&Value::String(body.trim().to_string())) {
                flush(said, out);
                out.push((Role::Tool, text));
            }
        }
        Block::Text => {}
    };
    for &line in lines {
        if line.starts_with("[Thinking]") {
            // The reasoning is its marker's line; what follows is the reply.
            finish(std::mem::replace(&mut block, Block::Text), &mut said, out);
        } else if let Some(name) = line.strip_prefix("[Tool call]") {
            finish(
                std::mem::replace(&mut block, Block::Call(name.trim().to_string(), Default::default())),
                &mut said,
                out,
            );
        } else if line.starts_with("[Tool result]") {
            finish(std::mem::replace(&mut block, Block::Result(Vec::new())), &mut said, out);
        } else {
            match &mut block {
                Block::Call(_, args) if line.starts_with(' ') || line.starts_with('\t') => {
                    if let Some((k, v)) = line.trim().split_once(':') {
                        args.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
                    }
                }
                Block::Result(body) if !line.trim().is_empty() || !body.is_empty() => body.push(line.to_string()),
                Block::Result(_) => {}
                Block::Call(..) | Block::Text => {
                    // An unindented line ends a call's arguments: assistant text.
                    finish(std::mem::replace(&mut block, Block::Text), &mut said, out);
                    said.push(line.to_string());
                }
            }
        }
    }
    finish(block, &mut said, out);
    flush(&mut said, out);
}

/// The assistant text gathered so far, as one message.
fn flush(said: &mut Vec<String>, out: &mut Vec<(Role, String)>) {
    let text = said.join("\n").trim().to_string();
    said.clear();
    if !text.is_empty() {
        out.push((Role::Assistant, text));
    }
}

/// The workspace a transcript belongs to: the directory whose path encodes
/// to its project folder's name, found by walking down from `/` one
/// component at a time (only the folders along the way are listed).
fn workspace_of(transcript: &Path) -> Option<PathBuf> {
    let slug = transcript
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == TRANSCRIPTS))?
        .parent()?
        .file_name()?
        .to_str()?;
    decode_slug(Path::new("/"), slug, 0)
}

/// How Cursor names a project folder: the path without its leading `/`,
/// every character other than an ASCII letter or digit turned into `-`.
fn encode(component: &str) -> String {
    component.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

/// The directory below `dir` whose path (relative to `dir`) encodes to
/// `rest`; the first found, children tried in name order.
fn decode_slug(dir: &Path, rest: &str, depth: usize) -> Option<PathBuf> {
    if rest.is_empty() {
        return Some(dir.to_path_buf());
    }
    if depth > 32 {
        return None;
    }
    let mut children: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .collect();
    children.sort();
    for (name, path) in children {
        let code = encode(&name);
        let Some(after) = rest.strip_prefix(code.as_str()) else { continue };
        let next = match after.strip_prefix('-') {
            Some(next) => next,
            None if after.is_empty() => after,
            None => continue,
        };
        if let Some(found) = decode_slug(&path, next, depth + 1) {
            return Some(found);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_turns_keep_the_users_words_and_split_tool_results() {
        let text = "user:\n<user_info>OS: linux</user_info>\n<user_query>\nWhy does the build fail?\n</user_query>\n\n\
                    assistant:\n[Thinking] Check the log first.\nLet me look at the log.\n[Tool call] Shell\n  command: cargo build\n  \
                    cwd: /w\n\n[Tool result] Shell\nerror[E0425]: cannot find value `x`\n\nassistant:\nThe variable `x` is undefined.\n";
        assert_eq!(
            text_turns(text),
            [
                (Role::User, "Why does the build fail?".to_string()),
                (Role::Assistant, "Let me look at the log.\n[tool: Shell] cargo build".to_string()),
                (Role::Tool, "error[E0425]: cannot find value `x`".to_string()),
                (Role::Assistant, "The variable `x` is undefined.".to_string()),
            ]
        );
    }

    #[test]
    fn only_transcript_files_are_sources() {
        let t = |p: &str| transcript_kind(Path::new(p));
        assert_eq!(t("/h/.cursor/projects/home-me-app/agent-transcripts/a1.txt"), Some(Kind::Text));
        assert_eq!(t("/h/.cursor/projects/home-me-app/agent-transcripts/a1/a1.jsonl"), Some(Kind::Jsonl));
        assert_eq!(t("/h/.cursor/projects/home-me-app/agent-transcripts/a1.jsonl"), Some(Kind::Jsonl));
        assert_eq!(t("/h/.cursor/projects/home-me-app/agent-transcripts/a1/other.jsonl"), None);
        assert_eq!(t("/h/.cursor/projects/home-me-app/terminals/1.txt"), None);
        assert_eq!(t("/h/.cursor/projects/home-me-app/agent-transcripts/a1/a1.txt"), None);
    }

    #[test]
    fn a_slug_decodes_only_to_a_directory_that_exists() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("home/me/my.app/src")).unwrap();
        std::fs::create_dir_all(root.path().join("home/me/my")).unwrap();
        let found = decode_slug(root.path(), "home-me-my-app-src", 0).unwrap();
        assert_eq!(found, root.path().join("home/me/my.app/src"));
        assert_eq!(decode_slug(root.path(), "home-me-gone", 0), None);
    }
}
