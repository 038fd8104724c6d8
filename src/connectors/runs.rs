//! Messages that agents write as many consecutive lines (streamed chunks,
//! one content part per line) in append-only logs: Kimi Code and Grok Build.
//!
//! Lines are joined into one message while they continue it. A parse that
//! reaches the end of the file with a message still open emits it as it is
//! and ends at the line that opened it, with the state saved just before
//! that line: the next tail read starts there, the store drops the message
//! from that offset on, and the grown message replaces it (as Aider's last
//! reply does). So `index --watch` during a long answer keeps one message,
//! not one per read.

use serde_json::Value;

use super::ParseEnd;
use super::lines::LinesEnd;
use crate::model::{Message, Role};

/// A message being assembled from consecutive lines.
#[derive(Debug, Clone)]
pub struct Run {
    /// What continues it (a step id, a chunk kind); a line with another key
    /// closes it.
    pub key: String,
    /// Who speaks it.
    pub role: Role,
    /// The model that wrote it, when known.
    pub author: Option<String>,
    /// Time of its first line that had one.
    pub created_at: Option<i64>,
    /// Byte offset of its first line.
    pub offset: u64,
    /// Line number of its first line.
    pub line: u64,
    /// Its pieces, joined by `joiner` when it is emitted.
    pub pieces: Vec<String>,
    /// How pieces join: `""` for streamed chunks, `"\n"` for whole parts.
    pub joiner: &'static str,
    /// The connector's resume state just before its first line.
    pub checkpoint: Value,
}

impl Run {
    /// The message it makes, or None when it holds no text.
    pub fn into_message(self) -> Option<Message> {
        let content = self.pieces.join(self.joiner);
        if content.trim().is_empty() {
            return None;
        }
        Some(Message {
            role: self.role,
            author: self.author,
            created_at: self.created_at,
            content,
            line_offset: Some(self.offset),
        })
    }
}

/// How a parse ends: after the last complete line, or, with a message still
/// open, at that message's first line with the state saved before it.
pub fn parse_end(end: LinesEnd, state: Value, open: Option<&Run>) -> ParseEnd {
    match open {
        Some(run) => ParseEnd {
            offset: run.offset,
            next_line: run.line,
            resume: Some(run.checkpoint.clone()),
            partial_tail: end.partial_tail,
        },
        None => end.into_parse_end(state),
    }
}
