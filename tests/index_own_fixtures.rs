//! Indexes the project's own fixtures (tests/fixtures/home, described line by
//! line in tests/fixtures/EXPECTED.md) and checks the store exactly. Runs on
//! any checkout: it needs nothing outside the repo.

mod common;
use common::*;

fn roles(db: &rusqlite::Connection, id: &str) -> Vec<String> {
    messages_of(db, id).into_iter().map(|(r, _)| r).collect()
}

#[test]
fn own_fixtures_index_exactly() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    let report = sb.json(&["index"]);
    // Claude, Codex and Gemini: 6 files, 6 conversations, 28 messages, 3
    // malformed lines, 1 unterminated last line. The other agents' own
    // fixtures (checked one by one in tests/connectors_*.rs) add 15 files,
    // 16 conversations, 69 messages and 3 malformed records; the encrypted
    // ChatGPT file and a VS Code workspace database without chats are found
    // but yield nothing. Goose, Crush, Kimi, Qwen, OpenHands and Grok
    // (tests/connectors_more_a.rs) add 10 files, 10 conversations, 37
    // messages and 5 malformed records; Antigravity, OpenClaw, Clawdbot,
    // Vibe, Hermes, Claude Desktop and Kiro (tests/connectors_more_b.rs)
    // 9 files, 10 conversations, 40 messages and 6 malformed records; Cursor
    // Agent transcripts (tests/connectors_cursor_agent.rs) 2 files, 2
    // conversations, 7 messages and 1 malformed record.
    assert_eq!(report["files_scanned"], 6 + 15 + 10 + 9 + 2);
    assert_eq!(report["conversations"], 6 + 16 + 10 + 10 + 2);
    assert_eq!(report["messages"], 28 + 69 + 37 + 40 + 7);
    assert_eq!(report["malformed"], 3 + 3 + 5 + 6 + 1);
    assert_eq!(report["partial_tails"], 1);
    let db = sb.db();

    // Claude: isMeta → system, tool_result → tool, thinking dropped, summary → title.
    let main = "7f3c2a10-1111-4a2b-9c3d-000000000001";
    assert_eq!(roles(&db, main), ["system", "user", "assistant", "tool", "assistant", "user", "assistant"]);
    assert_eq!(
        conversation_row(&db, main),
        (
            Some("Fix flaky websocket reconnect test".into()),
            Some("/home/dev/webapp".into()),
            Some(ms("2026-03-10T14:02:10.880Z")),
            Some(ms("2026-03-10T14:05:40.915Z")),
            7
        )
    );
    let msgs = messages_of(&db, main);
    assert_eq!(
        msgs[2].1,
        "Let me run the test suite once, without watch mode, to see the real failure.\n[tool: Bash] npm test -- --watch=false"
    );
    assert!(msgs[3].1.contains("ECONNREFUSED 127.0.0.1:4010"));
    assert!(msgs[1].1.contains("田中さん") && msgs[1].1.contains("cafe\u{301}"));
    let all: String = msgs.iter().map(|m| m.1.clone()).collect();
    assert!(!all.contains("Intermittent"), "thinking must stay out of the text");

    // The sidechain is its own conversation, named by its file.
    assert_eq!(roles(&db, "agent-a1b2c3"), ["user", "assistant", "assistant"]);
    assert_eq!(messages_of(&db, "agent-a1b2c3")[1].1, "[tool: Grep] unwrap_or_default");
    let side = conversation_row(&db, "agent-a1b2c3");
    assert!(side.0.unwrap().starts_with("Search the Rust mock server for places that call unwrap_or_default"));
    assert_eq!(side.1.as_deref(), Some("/home/dev/webapp"));

    // Broken file: valid lines kept, invalid UTF-8 kept (replaced) and
    // reported, the unterminated last line left for later.
    let broken = "0000bad0-0000-0000-0000-000000000002";
    assert_eq!(roles(&db, broken), ["user", "assistant", "assistant", "user"]);
    assert!(messages_of(&db, broken)[2].1.contains("MOJIBAKE_MARKER\u{FFFD}\u{FFFD}"));
    let errs: Vec<(i64, String)> = db
        .prepare("SELECT line, message FROM ingest_errors WHERE path LIKE '%0000bad0%' ORDER BY line")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(errs.iter().map(|e| e.0).collect::<Vec<_>>(), [2, 4, 5]);
    assert!(errs[1].1.contains("number") && errs[2].1.contains("UTF-8"));
    let offset: i64 =
        db.query_row("SELECT offset FROM file_state WHERE path LIKE '%0000bad0%'", [], |r| r.get(0)).unwrap();
    assert_eq!(offset, 2382);

    // Codex: injected context is system, doubled turns are dropped, the
    // function call is one line and its output is decoded.
    let codex = "0194a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    assert_eq!(roles(&db, codex), ["system", "user", "assistant", "tool", "assistant"]);
    let cm = messages_of(&db, codex);
    assert_eq!(cm[2].1, "[tool: shell] bash -lc cargo test -p api");
    assert!(cm[3].1.starts_with("running 14 tests"), "{}", cm[3].1);
    let c = conversation_row(&db, codex);
    assert!(c.0.unwrap().starts_with("Pick up bd-q3fy"));
    assert_eq!(
        (c.1.as_deref(), c.2, c.3),
        (Some("/home/dev/api-server"), Some(ms("2026-03-14T09:12:33.420Z")), Some(ms("2026-03-14T09:13:30.250Z")))
    );
    let author: String =
        db.query_row("SELECT author FROM messages WHERE content LIKE 'Found it.%'", [], |r| r.get(0)).unwrap();
    assert_eq!(author, "gpt-5-codex");

    // Gemini legacy JSON: tool calls appended, results as tool messages.
    let legacy = "a1b2c3d4-gem-legacy";
    assert_eq!(roles(&db, legacy), ["user", "assistant", "tool", "assistant", "system"]);
    assert_eq!(messages_of(&db, legacy)[1].1, "I'll read the parser first.\n[tool: read_file] src/lib.rs");
    let g = conversation_row(&db, legacy);
    assert_eq!((g.1, g.2, g.3), (None, Some(ms("2026-02-02T10:00:04.118Z")), Some(ms("2026-02-02T10:03:20.502Z"))));

    // Gemini event log: replayed, the rewind dropped m3 and m4.
    let events = "e5f6a7b8-gem-events";
    assert_eq!(roles(&db, events), ["user", "assistant", "user", "assistant"]);
    let em = messages_of(&db, events);
    assert!(
        em[1].1.starts_with("The file is read with the locale default encoding"),
        "streamed rewrite kept: {}",
        em[1].1
    );
    assert!(!em.iter().any(|m| m.1.contains("serde_yaml")), "rewound turns must be gone");
}
