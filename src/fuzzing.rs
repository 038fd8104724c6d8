//! Entry points for the fuzz targets in `fuzz/` and for their bounded
//! replay in the test suite: arbitrary bytes go to a connector's parser, or
//! an arbitrary string to the query parser, and the invariants that hold for
//! any input are checked (a violation panics, which is what a fuzzer finds).

use std::path::{Path, PathBuf};

use crate::connectors::{self, ParseRequest, ParseSink};
use crate::model::{ConversationHeader, Message};

/// What one parse produced, for the invariant checks.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Parsed {
    /// How many conversation headers the parser sent (repeats count).
    pub conversations: usize,
    /// How many messages it sent.
    pub messages: usize,
    /// How many lines or records it reported malformed.
    pub malformed: usize,
    /// The parse could not run at all (a clean error, not a failure).
    pub error: Option<String>,
}

#[derive(Default)]
struct Counter(Parsed);

impl ParseSink for Counter {
    fn conversation(&mut self, _header: ConversationHeader) {
        self.0.conversations += 1;
    }
    fn message(&mut self, message: Message) {
        assert!(self.0.conversations > 0, "a message before any conversation");
        std::hint::black_box(message);
        self.0.messages += 1;
    }
    fn malformed(&mut self, _line: u64, _error: String) {
        self.0.malformed += 1;
    }
}

/// Fuzz targets over connectors: (target name, agent id, the file name the
/// bytes are parsed as). `fuzz/fuzz_targets/<name>.rs` and the corpus
/// directory `fuzz/corpus/<name>/` follow these names.
pub const CONNECTOR_TARGETS: &[(&str, &str, &str)] = &[
    ("parse_claude", "claude_code", "0000-session.jsonl"),
    ("parse_codex", "codex", "rollout-2026-01-01T00-00-00-0000.jsonl"),
    ("parse_gemini_json", "gemini", "session-2026-01-01T00-00-0000.json"),
    ("parse_gemini_jsonl", "gemini", "session-2026-01-01T00-00-0000.jsonl"),
    ("parse_cline", "cline", "tasks/1700000000000/ui_messages.json"),
    ("parse_opencode_json", "opencode", "storage/session/proj/ses_fuzz.json"),
    ("parse_opencode_db", "opencode", "opencode.db"),
    ("parse_amp", "amp", "threads/T-fuzz.json"),
    ("parse_aider", "aider", "project/.aider.chat.history.md"),
    ("parse_cursor", "cursor", "globalStorage/state.vscdb"),
    ("parse_chatgpt", "chatgpt", "conversations-fuzz/conv.json"),
    ("parse_pi_agent", "pi_agent", "sessions/--fuzz--/2026-01-01T00-00-00-000Z_fuzz.jsonl"),
    ("parse_factory", "factory", "sessions/-fuzz/fuzz.jsonl"),
    ("parse_copilot_cli", "copilot_cli", "session-state/fuzz/events.jsonl"),
    ("parse_copilot_chat_json", "copilot", "workspaceStorage/fuzz/chatSessions/fuzz.json"),
    ("parse_copilot_chat_jsonl", "copilot", "workspaceStorage/fuzz/chatSessions/fuzz.jsonl"),
    ("parse_goose_db", "goose", "sessions/sessions.db"),
    ("parse_goose_jsonl", "goose", "sessions/20240101_1.jsonl"),
    ("parse_crush_db", "crush", "project/.crush/crush.db"),
    ("parse_kimi_code", "kimi", "sessions/bucket/session_fuzz/agents/main/wire.jsonl"),
    ("parse_kimi_cli", "kimi", "sessions/0123abcd/fuzz-session/wire.jsonl"),
    ("parse_qwen_jsonl", "qwen", "projects/-fuzz/chats/fuzz.jsonl"),
    ("parse_openhands_event", "openhands", "conversations/fuzz/events/event-00001-0000fuzz.json"),
    ("parse_openhands_state", "openhands", "conversations/fuzz-state/base_state.json"),
    ("parse_grok", "grok", "sessions/%2Ffuzz/fuzz-session/updates.jsonl"),
    ("parse_antigravity", "antigravity", "brain/fuzz/.system_generated/logs/transcript.jsonl"),
    ("parse_openclaw", "openclaw", "agents/work/sessions/fuzz.jsonl"),
    ("parse_openclaw_db", "openclaw", "agents/ops/agent/openclaw-agent.sqlite"),
    ("parse_clawdbot", "clawdbot", "sessions/chat/fuzz.jsonl"),
    ("parse_vibe_jsonl", "vibe", "session/session_20260101_000000_fuzz/messages.jsonl"),
    ("parse_vibe_json", "vibe", "session/session_20260101_000000_fuzz0000.json"),
    ("parse_hermes_db", "hermes", "hermes/state.db"),
    ("parse_claude_desktop", "claude_desktop", "claude-code-sessions/acct/org/local_fuzz.json"),
    ("parse_kiro", "kiro", "sessions/cli/fuzz.jsonl"),
    ("parse_cursor_agent_text", "cursor_agent", "projects/home-me-app/agent-transcripts/fuzz.txt"),
    ("parse_cursor_agent_jsonl", "cursor_agent", "projects/home-me-app/agent-transcripts/fuzz/fuzz.jsonl"),
];

/// Runs one connector target by name (what `fuzz/fuzz_targets/*.rs` call).
pub fn run_target(name: &str, data: &[u8]) -> Parsed {
    let &(_, agent, file) =
        CONNECTOR_TARGETS.iter().find(|t| t.0 == name).unwrap_or_else(|| panic!("no fuzz target {name}"));
    parse_as(agent, file, data)
}

/// A scratch file per thread, so parallel fuzzing jobs do not collide.
fn scratch(file_name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cass-fuzz-{}-{:?}", std::process::id(), std::thread::current().id()));
    let path = dir.join(file_name);
    std::fs::create_dir_all(path.parent().expect("a file name")).expect("create scratch dir");
    path
}

/// Parses `data` as the session file `file_name` of the connector for
/// `agent`, then checks that the parse ended inside the file and that a
/// resumed parse from its end neither moves past it nor finds more.
pub fn parse_as(agent: &str, file_name: &str, data: &[u8]) -> Parsed {
    let all = connectors::all();
    let connector = all.iter().find(|c| c.agent().slug() == agent).unwrap_or_else(|| panic!("no connector {agent}"));
    let mut path = scratch(file_name);
    std::fs::write(&path, data).expect("write scratch file");
    // An OpenHands event is read through its conversation's state file.
    if agent == "openhands" && file_name.contains("/events/") {
        let conversation = path.parent().and_then(Path::parent).expect("events/ in a conversation dir");
        path = conversation.join("base_state.json");
        std::fs::write(&path, b"{}").expect("write scratch state");
    }
    let mut sink = Counter::default();
    let req = ParseRequest { path: &path, start_offset: 0, start_line: 1, resume: None };
    let end = match connector.parse(&req, &mut sink) {
        Ok(end) => end,
        Err(e) => {
            sink.0.error = Some(e.to_string());
            return sink.0;
        }
    };
    let len = std::fs::metadata(&path).map_or(0, |m| m.len());
    assert!(end.offset <= len, "parse ended at {} past the file's {len} bytes", end.offset);
    assert!(end.next_line >= 1);
    if connector.layout(&path) == connectors::SourceLayout::AppendOnlyLines {
        // Everything before `offset` was consumed; resuming there must not
        // move past it, and can at most re-read what a connector
        // deliberately keeps open (Aider's last reply, which may still grow).
        let mut again = Counter::default();
        let resume = end.resume.clone();
        let req =
            ParseRequest { path: &path, start_offset: end.offset, start_line: end.next_line, resume: resume.as_ref() };
        if let Ok(end2) = connector.parse(&req, &mut again) {
            assert_eq!(end2.offset, end.offset, "a resumed parse moved past what a full parse consumed");
            assert!(again.0.messages <= sink.0.messages, "a resumed parse found more than the full parse");
        }
    }
    sink.0
}

/// Parses a query; an accepted query must yield terms to highlight without
/// panicking.
pub fn parse_query(input: &str) -> bool {
    match crate::search::query::parse(input) {
        Ok(q) => {
            std::hint::black_box(q.highlight_terms());
            true
        }
        Err(_) => false,
    }
}
