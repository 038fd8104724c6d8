//! Connectors for Goose, Crush, Kimi, Qwen Code, OpenHands and Grok Build:
//! the project's own fixtures (tests/fixtures/home, EXPECTED.md sections
//! 21–27) laid out where each agent keeps them, indexed by the real binary,
//! the store checked exactly, then each format's way of growing replayed.

mod common;
use common::*;
use std::io::Write;

fn append(path: &std::path::Path, text: &str) {
    std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap();
}

fn usage_rows(db: &rusqlite::Connection, agent: &str) -> Vec<(Option<String>, i64, i64, i64, i64, i64)> {
    db.prepare(
        "SELECT model, input, output, cache_write, cache_read, reasoning FROM usage WHERE agent = ?1 ORDER BY ts",
    )
    .unwrap()
    .query_map([agent], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn goose_database_and_legacy_files() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".local/share/goose");
    let report = index_no_semantic(&sb);
    let g = agent_entry(&report, "goose");
    assert_eq!((g["files"].as_u64(), g["conversations"].as_u64()), (Some(3), Some(3)));
    assert_eq!(g["malformed_total"], 1, "the row with cut-off content_json");
    let db = sb.db();
    let sonnet = Some("claude-sonnet-4-5");
    assert_eq!(
        conversation_row(&db, "20260812_3"),
        conv("Rename the config module", Some("/home/dev/hub"), 1786525590000, 1786525620000, 6)
    );
    // Tool responses sit in `user` rows: they are tool messages; the hidden
    // summary row and the thinking block stay out.
    assert_eq!(
        full_messages(&db, "20260812_3"),
        vec![
            row(
                "user",
                None,
                Some(1786525590000),
                "Rename src/conf.rs to src/config.rs and fix every import — über-careful with the re-exports"
            ),
            row(
                "assistant",
                sonnet,
                Some(1786525600000),
                "Renaming it.\n[tool: developer__shell] git mv src/conf.rs src/config.rs"
            ),
            row("tool", None, Some(1786525601000), "renamed 'src/conf.rs' -> 'src/config.rs'"),
            row("assistant", sonnet, Some(1786525610000), "[tool: developer__text_editor] str_replace"),
            row("tool", None, Some(1786525611000), "[tool error] no match for 'mod conf;' in src/lib.rs"),
            row("assistant", sonnet, Some(1786525620000), "Done: `pub mod config;` now points at the new file."),
        ]
    );
    // Empty name and description: titled after the first prompt.
    assert_eq!(
        conversation_row(&db, "20260813_1"),
        conv("why is the header blue?", Some("/home/dev/site"), 1786636800000, 1786636830000, 2)
    );
    // The legacy file the database does not hold is read; the one it
    // imported (20260813_1.jsonl) is not read twice.
    assert_eq!(
        conversation_row(&db, "20240610_1"),
        conv("Fix the RSS feed dates", Some("/home/dev/blog"), 1718000000000, 1718000012000, 2)
    );
    let copies: i64 =
        db.query_row("SELECT COUNT(*) FROM messages WHERE content LIKE '%imported copy%'", [], |r| r.get(0)).unwrap();
    assert_eq!(copies, 0);

    // Goose appends a message: only that session is read again.
    let path = sb.home().join(".local/share/goose/sessions/sessions.db");
    let writer = rusqlite::Connection::open(&path).unwrap();
    writer
        .execute(
            "INSERT INTO messages (session_id, role, content_json, created_timestamp, metadata_json) VALUES ('20260813_1', 'user', '[{\"type\":\"text\",\"text\":\"make it teal\"}]', 1786636900, NULL)",
            [],
        )
        .unwrap();
    drop(writer);
    let again = index_no_semantic(&sb);
    assert_eq!(again["conversations_touched"], 1);
    assert_eq!(messages_of(&sb.db(), "20260813_1")[2], ("user".to_string(), "make it teal".to_string()));
    assert_eq!(agent_entry(&again, "goose")["malformed_total"], 1);
}

#[test]
fn crush_server_workspace_and_registered_projects() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".local/share/crush");
    // A project Crush registered in projects.json, outside any default root.
    let project = sb.home().join("code/hub");
    std::fs::create_dir_all(project.join(".crush")).unwrap();
    std::fs::copy(own_fixtures().join(".local/share/crush/.crush/crush.db"), project.join(".crush/crush.db")).unwrap();
    let registry = serde_json::json!({"projects": [
        {"path": project, "data_dir": project.join(".crush"), "last_accessed": "2026-08-12T09:00:00Z"},
        {"path": sb.home().join("gone"), "data_dir": sb.home().join("gone/.crush"), "last_accessed": "2026-01-01T00:00:00Z"}
    ]});
    std::fs::write(sb.home().join(".local/share/crush/projects.json"), registry.to_string()).unwrap();

    let report = index_no_semantic(&sb);
    let c = agent_entry(&report, "crush");
    let roots: Vec<(&str, bool)> =
        c["roots"].as_array().unwrap().iter().map(|r| (r["origin"].as_str().unwrap(), r["exists"] == true)).collect();
    assert_eq!(roots, [("default", true), ("projects.json", true), ("projects.json", false)]);
    assert_eq!((c["files"].as_u64(), c["malformed_total"].as_u64()), (Some(2), Some(2)));
    let db = sb.db();
    let workspaces: Vec<String> = db
        .prepare("SELECT workspace FROM conversations WHERE agent = 'crush' ORDER BY workspace")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let home = sb.home().to_string_lossy().into_owned();
    assert_eq!(workspaces, [format!("{home}/.local/share/crush"), format!("{home}/code/hub")]);
    let sonnet = Some("claude-sonnet-4-5");
    let id = "c41a6f0e-0000-4000-8000-000000000001";
    // The same session is in both databases: each is its own conversation.
    let msgs: Vec<Row> = db
        .prepare(
            "SELECT m.role, m.author, m.created_at, m.content FROM messages m JOIN conversations c
             ON c.id = m.conversation_id WHERE c.external_id = ?1 AND c.source_path LIKE '%code/hub%' ORDER BY m.ordinal",
        )
        .unwrap()
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(full_messages(&db, id).len(), 8);
    assert_eq!(
        msgs,
        [
            row("user", None, Some(1786539990000), "The CI job fails on `go test ./...` — make it green"),
            row("assistant", sonnet, Some(1786539995000), "Running the tests first.\n[tool: bash] go test ./..."),
            row(
                "tool",
                None,
                Some(1786539998000),
                "[tool error] --- FAIL: TestParse (0.00s)\n    parse_test.go:12: want 3, got 2"
            ),
            row("assistant", sonnet, Some(1786540004000), "Fixed the off-by-one in `Parse`; `go test ./...` passes."),
        ]
    );
    let titles: Vec<Option<String>> = db
        .prepare("SELECT title FROM conversations WHERE agent = 'crush'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(titles.iter().all(|t| t.as_deref() == Some("Make the tests pass on CI")), "{titles:?}");

    // A message row updated in place while it streams (Crush does not
    // touch the session row) is a change: the session is read again.
    let writer = rusqlite::Connection::open(project.join(".crush/crush.db")).unwrap();
    writer
        .execute(
            "UPDATE messages SET parts = '[{\"type\":\"text\",\"data\":{\"text\":\"Fixed the off-by-one in `Parse`; all green now.\"}}]', updated_at = 1786540100 WHERE id = 'm4'",
            [],
        )
        .unwrap();
    drop(writer);
    let again = index_no_semantic(&sb);
    assert_eq!(again["conversations_touched"], 1);
    let text: i64 = sb
        .db()
        .query_row("SELECT COUNT(*) FROM messages WHERE content LIKE '%all green now%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(text, 1);
}

#[test]
fn kimi_code_and_kimi_cli() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".kimi-code");
    install_own(&sb.home(), ".kimi");
    let report = index_no_semantic(&sb);
    let k = agent_entry(&report, "kimi");
    assert_eq!((k["files"].as_u64(), k["conversations"].as_u64()), (Some(3), Some(3)));
    assert_eq!(k["malformed_total"], 1, "the cut-off line of the main agent's log");
    let db = sb.db();
    let main = "session_7b1e9c";
    let t = 1785662040000;
    assert_eq!(conversation_row(&db, main), conv("List the src files", Some("/home/dev/shop"), t + 1000, t + 3000, 4));
    // The prompt's echo is dropped, thinking stays out, a step's parts and
    // calls are one message; the model is known from the first call on.
    assert_eq!(
        full_messages(&db, main),
        vec![
            row("user", None, Some(t + 1000), "What is in src/? Keep it short 🙂"),
            row("assistant", None, Some(t + 1300), "Listing src/ first.\n[tool: Shell] ls src"),
            row("tool", None, Some(t + 2500), "cart.rs\nmain.rs"),
            row("assistant", Some("kimi-k2-0905"), Some(t + 3000), "Two files: `cart.rs` and `main.rs`."),
        ]
    );
    // A sub-agent is its own conversation, titled by its task.
    assert_eq!(
        conversation_row(&db, "session_7b1e9c:agent-0"),
        conv("Count the lines of src/cart.rs", Some("/home/dev/shop"), t + 5000, t + 6000, 2)
    );
    let legacy = "4d2c8e1a-1111-4c3b-9a2d-5e6f7a8b9c0d";
    assert_eq!(
        conversation_row(&db, legacy),
        conv("Tidy the notes index", Some("/home/dev/notes"), 1786000000500, 1786000004000, 4)
    );
    assert_eq!(
        messages_of(&db, legacy),
        vec![
            ("user".to_string(), "Sort index.md alphabetically".to_string()),
            ("assistant".into(), "Reading index.md first.\n[tool: ReadFile] index.md".into()),
            ("tool".into(), "- zebra\n- apple".into()),
            ("assistant".into(), "Sorted: apple, zebra.".into()),
        ]
    );
    // One row per model call; Kimi keeps uncached input and cache apart.
    let k2 = Some("kimi-k2-0905".to_string());
    // Kimi CLI's status updates name no model (stored as empty).
    assert_eq!(
        usage_rows(&db, "kimi"),
        vec![(k2.clone(), 1200, 40, 0, 800, 0), (k2, 60, 12, 0, 2000, 0), (Some(String::new()), 900, 30, 100, 0, 0)]
    );

    // A step streamed in two reads: the open message is read again and
    // grows, nothing doubles.
    let wire = sb.home().join(".kimi-code/sessions/wd_2f1c/session_7b1e9c/agents/agent-0/wire.jsonl");
    append(
        &wire,
        r#"{"type":"context.append_loop_event","event":{"type":"content.part","stepUuid":"a1","part":{"type":"text","text":"Counted with wc -l."}},"time":1785662046500}
"#,
    );
    let again = index_no_semantic(&sb);
    assert_eq!(again["files_appended"], 1);
    assert_eq!(
        messages_of(&sb.db(), "session_7b1e9c:agent-0")[1],
        ("assistant".to_string(), "It has 42 lines.\nCounted with wc -l.".to_string())
    );
    assert_eq!(conversation_row(&sb.db(), "session_7b1e9c:agent-0").4, 2);
    // A renamed session: state.json alone changes, the title follows.
    let state = sb.home().join(".kimi-code/sessions/wd_2f1c/session_7b1e9c/state.json");
    let text = std::fs::read_to_string(&state).unwrap().replace("List the src files", "Inventory of src");
    std::fs::write(&state, text).unwrap();
    index_no_semantic(&sb);
    assert_eq!(conversation_row(&sb.db(), main).0.as_deref(), Some("Inventory of src"));
}

#[test]
fn qwen_code_jsonl() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".qwen");
    let report = index_no_semantic(&sb);
    let q = agent_entry(&report, "qwen");
    assert_eq!((q["files"].as_u64(), q["malformed_total"].as_u64()), (Some(1), Some(1)));
    let db = sb.db();
    let id = "5b7e0c1d-2222-4e3f-8a9b-0c1d2e3f4a5b";
    let at = |s: &str| Some(ms(s));
    assert_eq!(
        conversation_row(&db, id),
        conv("slugify tests", Some("/home/dev/app"), ms("2026-08-03T10:00:00Z"), ms("2026-08-03T10:00:09Z"), 4)
    );
    let coder = Some("qwen3-coder-plus");
    assert_eq!(
        full_messages(&db, id),
        vec![
            row("user", None, at("2026-08-03T10:00:00Z"), "Add a unit test for `slugify`"),
            row(
                "assistant",
                coder,
                at("2026-08-03T10:00:04Z"),
                "Reading the module first.\n[tool: read_file] {\"absolute_path\":\"/home/dev/app/slug.py\"}"
            ),
            row("tool", None, at("2026-08-03T10:00:04.500Z"), "def slugify(s):\n    return s.lower()"),
            row(
                "assistant",
                coder,
                at("2026-08-03T10:00:09Z"),
                "Added `test_slugify_lowercases` to tests/test_slug.py."
            ),
        ]
    );
    // Cached tokens come out of the prompt; thoughts are output.
    let m = Some("qwen3-coder-plus".to_string());
    assert_eq!(usage_rows(&db, "qwen"), vec![(m.clone(), 200, 35, 0, 1000, 0), (m, 1500, 28, 0, 0, 8)]);

    // Appended records are read from the stored offset.
    let file = sb.home().join(".qwen/projects/-home-dev-app/chats").join(format!("{id}.jsonl"));
    append(
        &file,
        &format!(
            "{}\n",
            serde_json::json!({"uuid": "r6", "parentUuid": "r5", "sessionId": id, "timestamp": "2026-08-03T10:01:00.000Z",
                "type": "user", "cwd": "/home/dev/app", "message": {"role": "user", "parts": [{"text": "Now run it"}]}})
        ),
    );
    let again = index_no_semantic(&sb);
    assert_eq!(again["files_appended"], 1);
    assert_eq!(messages_of(&sb.db(), id).len(), 5);
    assert_eq!(conversation_row(&sb.db(), id).0.as_deref(), Some("slugify tests"));
}

#[test]
fn openhands_conversation_directory() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".openhands");
    let report = index_no_semantic(&sb);
    let o = agent_entry(&report, "openhands");
    assert_eq!((o["files"].as_u64(), o["malformed_total"].as_u64()), (Some(1), Some(1)));
    let db = sb.db();
    let id = "5c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
    // Naive ISO times are UTC.
    let at = |s: &str| Some(ms(&format!("{s}Z")));
    assert_eq!(
        conversation_row(&db, id),
        conv(
            "Run the test suite and tell me what fails",
            Some("/home/dev/api"),
            ms("2026-07-01T12:00:01.500Z"),
            ms("2026-07-01T12:00:12.250Z"),
            4
        )
    );
    let model = Some("anthropic/claude-sonnet-4-5");
    assert_eq!(
        full_messages(&db, id),
        vec![
            row("user", None, at("2026-07-01T12:00:01.500"), "Run the test suite and tell me what fails"),
            row("assistant", model, at("2026-07-01T12:00:04.120"), "Run the tests first.\n[tool: terminal] pytest -q"),
            row("tool", None, at("2026-07-01T12:00:09"), "FAILED tests/test_api.py::test_auth - KeyError: 'token'"),
            row(
                "assistant",
                model,
                at("2026-07-01T12:00:12.250"),
                "One failure: `test_auth` expects a `token` key the fixture never sets."
            ),
        ]
    );
    // The call's tokens, at the time of the event that carries its response id.
    assert_eq!(usage_rows(&db, "openhands"), vec![(model.map(str::to_string), 500, 60, 500, 2000, 0)]);

    // A new event file is a change of the conversation.
    let events = sb.home().join(".openhands/conversations/5c1d2e3f4a5b4c6d8e9f0a1b2c3d4e5f/events");
    std::fs::write(
        events.join("event-00006-0a000000-0000-4000-8000-000000000006.json"),
        r#"{"kind":"MessageEvent","id":"0a000000-0000-4000-8000-000000000006","timestamp":"2026-07-01T12:01:00.000000","source":"user","llm_message":{"role":"user","content":[{"type":"text","text":"Fix it"}]}}"#,
    )
    .unwrap();
    let again = index_no_semantic(&sb);
    assert_eq!(again["files_parsed"], 1);
    assert_eq!(messages_of(&sb.db(), id).last().unwrap(), &("user".to_string(), "Fix it".to_string()));
}

#[test]
fn grok_build_updates_stream() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".grok");
    let report = index_no_semantic(&sb);
    let g = agent_entry(&report, "grok");
    assert_eq!((g["files"].as_u64(), g["malformed_total"].as_u64()), (Some(1), Some(0)));
    let db = sb.db();
    let id = "0c9d8e7f-3333-4a5b-8c6d-7e8f9a0b1c2d";
    let t = 1784538000000;
    assert_eq!(conversation_row(&db, id), conv("Fix footer links", Some("/home/dev/site"), t + 1100, t + 6000, 5));
    let grok = Some("grok-code-fast-1");
    // Chunks join into messages; thoughts stay out; the call's output is
    // its last one, indexed when the call completes.
    assert_eq!(
        full_messages(&db, id),
        vec![
            row("user", None, Some(t + 1100), "The footer links point to /old/ — fix them"),
            row("assistant", grok, Some(t + 2500), "Searching for the old prefix."),
            row("assistant", grok, Some(t + 3000), "[tool: grep] src"),
            row("tool", None, Some(t + 4000), "src/footer.html:3: <a href=\"/old/about\">"),
            row("assistant", grok, Some(t + 6000), "Patch applied: the footer now links to /about."),
        ]
    );

    // The answer keeps streaming after a read: one message, grown.
    let file = sb.home().join(".grok/sessions/%2Fhome%2Fdev%2Fsite").join(id).join("updates.jsonl");
    let chunk = |ms: i64, text: &str| {
        format!(
            "{}\n",
            serde_json::json!({"timestamp": ms / 1000, "method": "session/update", "params": {"sessionId": id,
                "update": {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": text}},
                "_meta": {"agentTimestampMs": ms}}})
        )
    };
    append(&file, &chunk(t + 6100, " Also fixed the header."));
    let again = index_no_semantic(&sb);
    assert_eq!(again["files_appended"], 1);
    let m = messages_of(&sb.db(), id);
    assert_eq!(m.len(), 5);
    assert_eq!(m[4].1, "Patch applied: the footer now links to /about. Also fixed the header.");
}
