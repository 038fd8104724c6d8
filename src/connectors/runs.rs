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

use super::announce::Announced;
use super::lines::LinesEnd;
use super::{ParseEnd, ParseSink};
use crate::model::{ConversationHeader, Message, Role};

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

/// The conversation a streamed log writes, as both readers keep it between
/// lines (and, but for the open message, between reads): its header, what
/// was announced to the sink, and the message still being joined.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Stream {
    /// The conversation's id.
    pub external_id: String,
    /// Its working directory, once known.
    pub workspace: Option<String>,
    /// Its title, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the sink has been told (saved with the rest).
    #[serde(flatten)]
    pub announced: Announced,
    /// The message lines are still being joined into.
    #[serde(skip)]
    pub run: Option<Run>,
    /// A message (and so the header) went to the sink in this read.
    #[serde(skip)]
    pub header_sent: bool,
}

impl Stream {
    /// The header as known now.
    pub fn header(&self) -> ConversationHeader {
        ConversationHeader {
            external_id: self.external_id.clone(),
            title_explicit: self.title.is_some(),
            title: self.title.clone(),
            workspace: self.workspace.clone(),
        }
    }

    /// Sends a message, announcing the conversation first when needed.
    pub fn send(&mut self, message: Message, sink: &mut dyn ParseSink) {
        self.header_sent = true;
        let header = self.header();
        let id = self.external_id.clone();
        self.announced.before_message(sink, &id, || header, message.role, &message.content);
        sink.message(message);
    }

    /// Sends a joined run as one message (nothing for an empty one).
    pub fn emit_run(&mut self, run: Run, sink: &mut dyn ParseSink) {
        if let Some(m) = run.into_message() {
            self.send(m, sink);
        }
    }

    /// Sends the open run, if any.
    pub fn close_run(&mut self, sink: &mut dyn ParseSink) {
        if let Some(run) = self.run.take() {
            self.emit_run(run, sink);
        }
    }

    /// Ends a read: sends the message still open as it is and returns it
    /// (the next read starts at its first line, [`parse_end`]); on a tail
    /// read (`tail`) that sent nothing, sends the header again, since the
    /// title may have changed.
    pub fn finish_read(&mut self, tail: bool, sink: &mut dyn ParseSink) -> Option<Run> {
        let run = self.run.take();
        if let Some(r) = run.clone() {
            self.emit_run(r, sink);
        } else if tail && !self.header_sent && self.title.is_some() {
            sink.conversation(self.header());
        }
        run
    }
}
