//! Aider: `<git root>/.aider.chat.history.md`, markdown appended to as the
//! user works. `# aider chat started at <local time>` opens a session (one
//! file holds many); `#### ` lines are the user's input, `> ` lines are
//! aider's own output (command results, notices), other lines are the
//! model's reply. No per-message times or ids exist: messages take their
//! session's start time.
//!
//! Read incrementally: a block is complete only when the next one starts, so
//! the last block of the file is emitted but the resume offset stays at its
//! start; the next run drops and re-reads it with whatever was appended.

use std::path::Path;

use serde_json::{Value, json};

use super::announce::Announced;
use super::content;
use super::lines::{Oversize, decode_lossy, read_lines};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Message, Role};
use crate::time;

/// Reads Aider's `.aider.chat.history.md` files, one session per `# aider chat started` block.
pub struct Aider;

const HISTORY_FILE: &str = ".aider.chat.history.md";
const SESSION_MARK: &str = "# aider chat started at ";
/// Directories never walked into when looking for history files.
const SKIPPED_DIRS: &[&str] = &["node_modules", "target", "vendor", "venv", "__pycache__", "Library", "snap"];

impl Connector for Aider {
    fn agent(&self) -> Agent {
        Agent::Aider
    }

    /// Aider writes into each project, so without `CASS_AIDER_DATA_ROOT`
    /// cass walks `$HOME` a few levels deep (see [`Connector::walk_depth`]).
    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        match env.path_var("CASS_AIDER_DATA_ROOT") {
            Some(dir) => vec![Root { path: dir, origin: "CASS_AIDER_DATA_ROOT" }],
            None => vec![Root { path: env.home.clone(), origin: "default (projects under $HOME)" }],
        }
    }

    fn is_source(&self, _root: &Path, path: &Path) -> bool {
        path.file_name().is_some_and(|n| n == HISTORY_FILE)
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::AppendOnlyLines
    }

    /// `~/code/org/repo/.aider.chat.history.md` is three levels down; deeper
    /// walks of a whole home cost more than they find.
    fn walk_depth(&self) -> usize {
        4
    }

    /// Projects are not hidden and hold no history in their dependency or
    /// build trees; `$HOME`'s dot-directories and macOS `Library` hold
    /// caches and app data, often many thousands of files.
    fn descend(&self, dir: &Path) -> bool {
        let name = dir.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        !(name.starts_with('.') || SKIPPED_DIRS.contains(&name.as_ref()))
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let workspace = req.path.parent().map(|p| p.to_string_lossy().into_owned());
        let preamble_id = req
            .path
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "aider".into());
        let mut st = AiderState::resume(req.resume, preamble_id, workspace);
        let mut bad_utf8 = Vec::new();
        let mut oversize = Vec::new();
        let end = read_lines(
            req.path,
            req.start_offset,
            req.start_line.max(1),
            |line| {
                let (text, replaced) = decode_lossy(line.bytes);
                if replaced {
                    bad_utf8.push(line.number);
                }
                st.line(&text, line.number, line.offset, sink);
            },
            |Oversize::Skipped { number, .. }| oversize.push(number),
        )
        .map_err(|source| ParseError::Io { path: req.path.to_path_buf(), source })?;
        for n in bad_utf8 {
            sink.malformed(n, "invalid UTF-8 (replaced with U+FFFD)".into());
        }
        for n in oversize {
            sink.malformed(n, "line skipped (over the line limit)".into());
        }
        // The last block may still grow: resume at its start next time.
        let (offset, next_line) = match &st.block {
            Some(b) => (b.offset, b.line),
            None => (end.offset, end.last_number + 1 - u64::from(end.partial_tail)),
        };
        st.flush(sink);
        Ok(ParseEnd { offset, next_line, resume: Some(st.save()), partial_tail: end.partial_tail })
    }
}

/// A run of lines of one kind.
struct Block {
    role: Role,
    offset: u64,
    line: u64,
    lines: Vec<String>,
}

struct AiderState {
    /// The session in effect (its id and start time), None before the first
    /// `chat started` header.
    session: Option<(String, Option<i64>)>,
    preamble_id: String,
    workspace: Option<String>,
    announced: Announced,
    block: Option<Block>,
    /// Inside a fenced code block of a reply: its lines are the reply's even
    /// when they start with `>` or `####` (SEARCH/REPLACE edits end `>>>>>>>`).
    /// Blocks never start inside a fence, so this needs no saving.
    in_fence: bool,
}

impl AiderState {
    fn resume(resume: Option<&Value>, preamble_id: String, workspace: Option<String>) -> AiderState {
        let session = resume.and_then(|r| r.get("session")).and_then(|s| {
            let id = s.get("id")?.as_str()?.to_string();
            Some((id, s.get("started").and_then(Value::as_i64)))
        });
        let titled = resume.and_then(|r| r.get("titled")).and_then(Value::as_bool).unwrap_or(false);
        AiderState {
            session,
            preamble_id,
            workspace,
            announced: Announced::resumed(titled),
            block: None,
            in_fence: false,
        }
    }

    fn save(&self) -> Value {
        let session = self.session.as_ref().map(|(id, started)| json!({ "id": id, "started": started }));
        json!({ "session": session, "titled": self.announced.titled })
    }

    fn line(&mut self, text: &str, number: u64, offset: u64, sink: &mut dyn ParseSink) {
        if let Some(started) = text.strip_prefix(SESSION_MARK) {
            self.flush(sink);
            let started = started.trim();
            self.session = Some((started.to_string(), time::parse_str(started)));
            self.announced.restart();
            return;
        }
        if self.in_fence
            && let Some(b) = &mut self.block
        {
            self.in_fence = !text.starts_with("```");
            b.lines.push(text.to_string());
            return;
        }
        let (role, body) = if let Some(rest) = text.strip_prefix("####") {
            (Role::User, rest.strip_prefix(' ').unwrap_or(rest))
        } else if let Some(rest) = text.strip_prefix('>') {
            (Role::Tool, rest.strip_prefix(' ').unwrap_or(rest))
        } else if text.trim().is_empty() {
            // Blank lines belong to whatever block is open.
            if let Some(b) = &mut self.block {
                b.lines.push(String::new());
            }
            return;
        } else {
            (Role::Assistant, text)
        };
        if self.block.as_ref().is_some_and(|b| b.role != role) {
            self.flush(sink);
        }
        let block = self.block.get_or_insert_with(|| Block { role, offset, line: number, lines: Vec::new() });
        block.lines.push(body.to_string());
        self.in_fence = role == Role::Assistant && text.starts_with("```");
    }

    fn flush(&mut self, sink: &mut dyn ParseSink) {
        self.in_fence = false;
        let Some(block) = self.block.take() else { return };
        let text = block.lines.join("\n").trim().to_string();
        if text.is_empty() {
            return;
        }
        let (id, started) = self.session.clone().unwrap_or_else(|| (self.preamble_id.clone(), None));
        let header =
            || ConversationHeader { external_id: id.clone(), workspace: self.workspace.clone(), ..Default::default() };
        self.announced.before_message(sink, &id, header, block.role, &text);
        let text = if block.role == Role::Tool { content::cap_bytes(&text, content::TOOL_OUTPUT_CAP) } else { text };
        sink.message(Message {
            role: block.role,
            author: None,
            created_at: started,
            content: text,
            line_offset: Some(block.offset),
        });
    }
}
