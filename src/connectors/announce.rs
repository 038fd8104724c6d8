//! The conversation records a streamed session sends ahead of its messages.
//!
//! A JSONL session is read in pieces: the whole file once, then only the
//! lines appended since. Each parse must tell the sink which conversation its
//! messages belong to before the first of them, and a session without a title
//! of its own is titled after its first user message exactly once, not again
//! on every tail read. Aider, Copilot CLI, Factory and Pi-Agent share this
//! bookkeeping; Claude Code and Codex have their own rules (summary records,
//! duplicate turns) and keep theirs.

use serde::{Deserialize, Serialize};

use super::ParseSink;
use super::content::title_from_user_text;
use crate::model::{ConversationHeader, Role};

/// What this session has told the sink so far. Embed it in a connector's
/// resume state with `#[serde(flatten)]`: `titled` is saved between parses
/// (as the field it always was), the header flag starts fresh each parse.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announced {
    /// A title is settled: given by the session itself or derived from its
    /// first user message.
    pub titled: bool,
    #[serde(skip)]
    header_sent: bool,
}

impl Announced {
    /// The state of a tail parse whose session was (or was not) titled in an
    /// earlier one.
    pub fn resumed(titled: bool) -> Self {
        Announced { titled, header_sent: false }
    }

    /// Call before sending each message. The first call of a parse sends
    /// `header()`; a user message in a still-untitled session proposes its
    /// opening line as the title of `external_id`.
    pub fn before_message(
        &mut self,
        sink: &mut dyn ParseSink,
        external_id: &str,
        header: impl FnOnce() -> ConversationHeader,
        role: Role,
        text: &str,
    ) {
        if !self.header_sent {
            self.header_sent = true;
            sink.conversation(header());
        }
        if role == Role::User
            && !self.titled
            && let Some(title) = title_from_user_text(text)
        {
            self.titled = true;
            sink.conversation(ConversationHeader {
                external_id: external_id.to_string(),
                title: Some(title),
                ..Default::default()
            });
        }
    }

    /// Call before sending a call's usage that came with no message: the
    /// first call of a parse sends `header`.
    pub fn before_usage(&mut self, sink: &mut dyn ParseSink, header: ConversationHeader) {
        if !self.header_sent {
            self.header_sent = true;
            sink.conversation(header);
        }
    }

    /// A new session starts in the same file (Aider's history holds many):
    /// announce and title it afresh.
    pub fn restart(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Message;

    #[derive(Default)]
    struct Seen {
        headers: Vec<ConversationHeader>,
    }

    impl ParseSink for Seen {
        fn conversation(&mut self, header: ConversationHeader) {
            self.headers.push(header);
        }
        fn message(&mut self, _: Message) {}
        fn malformed(&mut self, _: u64, _: String) {}
    }

    fn header() -> ConversationHeader {
        ConversationHeader { external_id: "s1".into(), workspace: Some("/w".into()), ..Default::default() }
    }

    #[test]
    fn header_once_per_parse_and_title_once_per_session() {
        let mut sink = Seen::default();
        let mut a = Announced::default();
        a.before_message(&mut sink, "s1", header, Role::Assistant, "hello");
        a.before_message(&mut sink, "s1", header, Role::User, "\n  fix the parser\nmore");
        a.before_message(&mut sink, "s1", header, Role::User, "second question");
        let titles: Vec<_> = sink.headers.iter().map(|h| h.title.as_deref()).collect();
        assert_eq!(titles, [None, Some("fix the parser")]);
        assert_eq!(sink.headers[0], header());
        assert_eq!(sink.headers[1].external_id, "s1");

        // A tail parse: the saved state keeps the title, not the header flag.
        let saved = serde_json::to_value(a).unwrap();
        assert_eq!(saved, serde_json::json!({ "titled": true }));
        let mut tail: Announced = serde_json::from_value(saved).unwrap();
        let mut sink = Seen::default();
        tail.before_message(&mut sink, "s1", header, Role::User, "third question");
        assert_eq!(sink.headers, [header()]);
    }

    #[test]
    fn a_session_titled_by_itself_is_not_retitled() {
        let mut sink = Seen::default();
        let mut a = Announced::resumed(true);
        a.before_message(&mut sink, "s1", header, Role::User, "what is this");
        assert_eq!(sink.headers, [header()]);
        a.restart();
        a.before_message(&mut sink, "s1", header, Role::User, "what is this");
        assert_eq!(sink.headers.len(), 3);
        assert_eq!(sink.headers[2].title.as_deref(), Some("what is this"));
    }
}
