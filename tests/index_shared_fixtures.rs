//! Indexes the shared fixtures (../shared/fixtures) and checks what the store
//! holds against what the files say. Skips where ../shared is absent.

mod common;
use common::*;

#[test]
fn shared_fixtures_index_to_exact_conversations_and_messages() {
    let Some(shared) = shared_fixtures() else {
        return;
    };
    let sb = Sandbox::new();
    install_shared(&sb.home(), &shared);
    let report = sb.json(&["index"]);

    // 10 Claude files, 2 Codex, 1 Gemini; empty_session.jsonl yields nothing.
    assert_eq!(report["files_scanned"], 13);
    assert_eq!(report["conversations"], 12);
    assert_eq!(report["messages"], 1031 + 5 + 2);
    // invalid_json: 2, missing_fields: 2, truncated: 1, wrong_types: 2.
    assert_eq!(report["malformed"], 7);
    let db = sb.db();

    // Claude Code, native shape: summary gives the title, tool_use is one line.
    // `agent-*.jsonl` is a sidechain transcript: its file name is its id.
    assert_eq!(
        conversation_row(&db, "agent-test123"),
        (
            Some("Discussed matrix completion".into()),
            Some("/test/project".into()),
            Some(ms("2025-11-12T18:31:18.697Z")),
            Some(ms("2025-11-12T18:31:32.217Z")),
            2
        )
    );
    assert_eq!(
        messages_of(&db, "agent-test123"),
        vec![
            ("user".into(), "Help me implement smartedgar matrix completion".into()),
            (
                "assistant".into(),
                "I'll help you implement matrix completion using CMA-ES optimization.\n[tool: Read] /test/file.rs"
                    .into()
            ),
        ]
    );
    let author: String =
        db.query_row("SELECT author FROM messages WHERE content LIKE 'I''ll help%'", [], |r| r.get(0)).unwrap();
    assert_eq!(author, "claude-opus-4");

    // Every role, including the generic-export tool record.
    let roles: Vec<String> = messages_of(&db, "all-types-001").into_iter().map(|(r, _)| r).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "assistant"]);
    let tool = &messages_of(&db, "all-types-001")[3].1;
    assert!(tool.starts_with("[tool: Read] /home/dev/project/src/main.rs\nfn main()"), "{tool}");
    assert_eq!(
        conversation_row(&db, "all-types-001").0.as_deref(),
        Some("Demonstrated all message types: system, user, assistant, and tool with Read operation.")
    );

    // Malformed files: everything valid is kept.
    let kept: Vec<String> = messages_of(&db, "invalid-001").into_iter().map(|(_, c)| c).collect();
    assert_eq!(kept, ["Valid first message", "Valid third message after invalid one", "Final valid message"]);
    assert_eq!(conversation_row(&db, "truncated-001").4, 2);
    assert_eq!(conversation_row(&db, "missing_fields").4, 5);
    // wrong_types: its first sessionId is a number, so the file stem names it;
    // a numeric timestamp (epoch seconds) is understood.
    let wt = conversation_row(&db, "wrong_types");
    assert_eq!(wt.4, 5);
    assert_eq!(wt.2, Some(1_705_315_200_000));
    let errors: Vec<(String, i64)> = db
        .prepare("SELECT path, line FROM ingest_errors ORDER BY path, line")
        .unwrap()
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .map(|(p, l)| (p.rsplit('/').next().unwrap().to_string(), l))
        .collect();
    assert_eq!(
        errors,
        [
            ("invalid_json.jsonl".to_string(), 2),
            ("invalid_json.jsonl".into(), 4),
            ("missing_fields.jsonl".into(), 5),
            ("missing_fields.jsonl".into(), 7),
            ("truncated.jsonl".into(), 3),
            ("wrong_types.jsonl".into(), 5),
            ("wrong_types.jsonl".into(), 7),
        ]
    );

    // Edge cases: unicode survives, a 1000-message session is whole.
    assert_eq!(conversation_row(&db, "unicode-001").4, 8);
    assert!(messages_of(&db, "unicode-001")[0].1.starts_with("日本語でコードを書いてください"));
    let large = conversation_row(&db, "large-session-001");
    assert_eq!(large.4, 1000);
    assert_eq!((large.2, large.3), (Some(ms("2026-01-15T10:00:00Z")), Some(ms("2026-01-15T18:19:30Z"))));
    assert_eq!(conversation_row(&db, "single-001").4, 1);

    // Codex: reasoning and token counts stay out; the tool call is one line.
    assert_eq!(
        conversation_row(&db, "test-session-id"),
        (
            Some("Help me implement soldier matrix completion cma-es".into()),
            Some("/test/soldier/project".into()),
            Some(ms("2025-09-30T15:42:36.190Z")),
            Some(ms("2025-09-30T15:43:00Z")),
            2
        )
    );
    assert_eq!(
        messages_of(&db, "tool-call-session-id"),
        vec![
            (
                "user".into(),
                "Please trace the tool_call branch in the Codex connector and confirm invocation extraction.".into()
            ),
            ("assistant".into(), "[tool: bash] rg -n tool_call src/connectors/codex.rs".into()),
            (
                "assistant".into(),
                "I traced the tool_call branch and confirmed the invocation is emitted from event_msg payloads.".into()
            ),
        ]
    );

    // Gemini legacy JSON: model → assistant.
    assert_eq!(
        conversation_row(&db, "test-session-1"),
        (Some("Gemini hello".into()), None, Some(ms("2024-01-01T12:00:00Z")), Some(ms("2024-01-01T12:01:00Z")), 2)
    );
    assert_eq!(
        messages_of(&db, "test-session-1"),
        vec![("user".into(), "Gemini hello".into()), ("assistant".into(), "Hello from Gemini!".into())]
    );

    // The per-agent report says where each agent was looked for.
    let agents = report["agents"].as_array().unwrap();
    let claude = agents.iter().find(|a| a["agent"] == "claude_code").unwrap();
    assert_eq!(claude["files"], 10);
    assert_eq!(claude["conversations"], 9);
    assert_eq!(claude["roots"][0]["exists"], true);
}
