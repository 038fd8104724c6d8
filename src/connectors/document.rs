//! Helpers for sources read as one document (whole-file JSON, a database's
//! row set): load with a size limit, finish without an offset to resume
//! from, and push a conversation only once it is complete.

use std::path::Path;

use serde_json::Value;

use super::{ParseEnd, ParseError, ParseSink, content, lines};
use crate::model::{ConversationHeader, Message, Role, Usage};

/// Whole-document JSON larger than this is refused with a clear error: it
/// must be loaded whole, and no real session file comes near it.
pub const WHOLE_FILE_LIMIT: u64 = 256 * 1024 * 1024;

/// Reads and parses a whole-document JSON source.
pub fn read_json(path: &Path) -> Result<Value, ParseError> {
    let bytes = lines::read_whole(path, WHOLE_FILE_LIMIT)
        .map_err(|source| ParseError::Io { path: path.to_path_buf(), source })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ParseError::Format { path: path.to_path_buf(), message: format!("invalid JSON: {e}") })
}

/// The end of a whole-file parse: the next change re-reads from the start.
pub fn whole_file_end(path: &Path) -> ParseEnd {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    ParseEnd { offset: len, next_line: 1, resume: None, partial_tail: false }
}

/// Pushes one complete conversation. Without an explicit title the first
/// real user line names it; a conversation with no messages is not emitted.
pub fn emit_conversation(sink: &mut dyn ParseSink, header: ConversationHeader, messages: Vec<Message>) {
    emit_with_usage(sink, header, messages, Vec::new());
}

/// [`emit_conversation`] with the usage of model calls, each sent after
/// the messages before it (`usage`: a count of `messages`, in order). A
/// conversation with calls but no text is still emitted, for usage reports.
pub fn emit_with_usage(
    sink: &mut dyn ParseSink,
    mut header: ConversationHeader,
    messages: Vec<Message>,
    usage: Vec<(usize, Usage)>,
) {
    if messages.is_empty() && usage.is_empty() {
        return;
    }
    if header.title.is_none() {
        header.title =
            messages.iter().filter(|m| m.role == Role::User).find_map(|m| content::title_from_user_text(&m.content));
        header.title_explicit = false;
    }
    sink.conversation(header);
    let mut usage = usage.into_iter().peekable();
    for (i, m) in messages.into_iter().enumerate() {
        while let Some((_, u)) = usage.next_if(|(before, _)| *before <= i) {
            sink.usage(u);
        }
        sink.message(m);
    }
    for (_, u) in usage {
        sink.usage(u);
    }
}

/// A message with no line offset (whole-file and database sources).
pub fn message(role: Role, author: Option<String>, created_at: Option<i64>, content: String) -> Message {
    Message { role, author, created_at, content, line_offset: None }
}
