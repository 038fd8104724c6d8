//! Connectors for editor-hosted agents (Cline / Roo Code, Amp, Copilot Chat,
//! Cursor): their fixtures (the shared samples in ../shared/fixtures where
//! present, and the project's own in tests/fixtures/home, described in
//! tests/fixtures/EXPECTED.md) are laid out where the agent keeps them,
//! indexed by the real binary, and the store is checked exactly: counts,
//! roles, authors, times, titles and workspaces. Cursor's live database is
//! also read while the editor holds it (locked, and in WAL mode).

mod common;
use common::*;

#[test]
fn cline_and_roo_code() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".config/Code/User/globalStorage");
    let shared = copy_shared(&sb, "cline/globalStorage", ".config/Code - Insiders/User/globalStorage");
    let report = index_no_semantic(&sb);
    let db = sb.db();
    let cline = agent_entry(&report, "cline");
    assert_eq!(cline["files"], 2 + u64::from(shared));
    assert_eq!(cline["malformed_total"], 0);

    // Real say/ask transcript: api_req_started and reasoning are left out,
    // tool asks are tool lines, command output is a tool message.
    let task = "1741613400000";
    assert_eq!(
        conversation_row(&db, task),
        conv(
            "Add dark-mode toggle to the settings page — store the choice in localStorage 🌙",
            Some("/home/dev/dashboard"),
            1741613400000,
            1741613440000,
            8
        )
    );
    let model = Some("claude-sonnet-4-5");
    assert_eq!(
        full_messages(&db, task),
        vec![
            row(
                "user",
                None,
                Some(1741613400000),
                "Add dark-mode toggle to the settings page — store the choice in localStorage 🌙"
            ),
            row("assistant", model, Some(1741613404000), "I'll start by reading the settings page component."),
            row("assistant", model, Some(1741613404500), "[tool: readFile] src/pages/Settings.tsx"),
            row(
                "assistant",
                model,
                Some(1741613415000),
                "The page has no theme state yet. I'll add a `useTheme` hook and a toggle."
            ),
            row("assistant", model, Some(1741613416000), "[tool: execute_command] npm run test -- Settings"),
            row("tool", None, Some(1741613425000), "PASS src/pages/Settings.test.tsx\n  ✓ renders toggle (23 ms)"),
            row("user", None, Some(1741613430000), "Default to the OS preference please"),
            row(
                "assistant",
                model,
                Some(1741613440000),
                "Dark mode toggle added; it defaults to `prefers-color-scheme` and persists in localStorage."
            ),
        ]
    );

    // Roo Code task with only its API history: blocks split, the <task>
    // names it, environment_details give the workspace.
    let roo = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f";
    assert_eq!(
        conversation_row(&db, roo),
        conv(
            "Explain why `make release` rebuilds everything",
            Some("/home/dev/firmware"),
            1741700000000,
            1741700012000,
            4
        )
    );
    let msgs = full_messages(&db, roo);
    assert_eq!(msgs.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), ["user", "assistant", "tool", "assistant"]);
    assert!(msgs[0].3.starts_with("<task>\nExplain why `make release` rebuilds everything\n</task>"));
    assert_eq!(msgs[1].3, "Let me look at the Makefile.\n[tool: read_file] Makefile");
    assert_eq!(msgs[2].3, "release: clean all\n\tstrip build/fw.elf");
    assert!(msgs[3].3.ends_with("größere Builds werden dann inkrementell."));

    // A UI transcript cut off mid-write: the API history is read instead and
    // the break is reported.
    let task = sb.home().join(".config/Code/User/globalStorage/saoudrizwan.claude-dev/tasks/1741613400000");
    std::fs::write(task.join("ui_messages.json"), r#"[{"ts":1741613400000,"type":"say","say":"task","te"#).unwrap();
    let again = index_no_semantic(&sb);
    assert_eq!(agent_entry(&again, "cline")["malformed_total"], 1);
    let m = messages_of(&sb.db(), "1741613400000");
    assert_eq!(m.len(), 2, "{m:?}");
    assert_eq!(m[1].1, "I'll start by reading the settings page component.\n[tool: read_file] src/pages/Settings.tsx");

    if shared {
        // The simplified sample: role/content records, metadata title. Its
        // API history duplicates the UI transcript and is not read.
        assert_eq!(
            full_messages(&db, "task1"),
            vec![
                row("user", None, Some(1700000000000), "Hello Cline"),
                row("assistant", None, Some(1700000001000), "Hi from Cline"),
            ]
        );
        assert_eq!(
            conversation_row(&db, "task1"),
            (Some("Cline fixture task".into()), None, Some(1700000000000), Some(1700000001000), 2)
        );
    }
}

#[test]
fn amp_threads() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".local/share/amp");
    let shared = copy_shared(&sb, "amp/threads", ".local/share/amp/threads");
    // A thread cut off mid-write: reported with its reason, the rest indexed.
    std::fs::write(
        sb.home().join(".local/share/amp/threads/T-cut.json"),
        r#"{"id":"T-cut","messages":[{"role":"user","#,
    )
    .unwrap();
    let report = index_no_semantic(&sb);
    let db = sb.db();
    let amp = agent_entry(&report, "amp");
    assert_eq!(amp["files"], 2 + u64::from(shared));
    assert_eq!(amp["conversations"], 1 + u64::from(shared));
    let unreadable = amp["unreadable"].as_array().unwrap();
    assert_eq!(unreadable.len(), 1);
    assert!(unreadable[0]["path"].as_str().unwrap().ends_with("T-cut.json"));
    assert!(unreadable[0]["error"].as_str().unwrap().starts_with("invalid JSON"), "{}", unreadable[0]);

    let t = "T-7c1d9e2a-4b3f-4a6e-8d2c-5f0b1a9e3c7d";
    // Only user turns carry `meta.sentAt`; assistant turns have no time.
    assert_eq!(
        conversation_row(&db, t),
        conv("Flaky snapshot test in the renderer", Some("/home/dev/renderer"), 1742800001000, 1742800009000, 4)
    );
    let sonnet = Some("claude-sonnet-4-5");
    assert_eq!(
        full_messages(&db, t),
        vec![
            row(
                "user",
                None,
                Some(1742800001000),
                "snapshot_test::glyphs fails ~1 in 5 runs on CI — can you find the nondeterminism?"
            ),
            row("assistant", sonnet, None, "Checking how glyphs are collected.\n[tool: Grep] HashMap<char"),
            row("tool", None, Some(1742800009000), "src/atlas.rs:14:    glyphs: HashMap<char, Glyph>,"),
            row(
                "assistant",
                sonnet,
                None,
                "`atlas.rs` iterates a `HashMap<char, Glyph>`, whose order is random per process. Switching to \
                 `BTreeMap` makes the snapshot stable (ß, é and 字 included)."
            ),
        ]
    );
    if shared {
        assert_eq!(
            conversation_row(&db, "thread-001"),
            conv("Amp sample thread", None, 1700000000000, 1700000005000, 2)
        );
        assert_eq!(
            full_messages(&db, "thread-001"),
            vec![
                row("user", None, Some(1700000000000), "Hello"),
                row("assistant", None, Some(1700000005000), "Hi there"),
            ]
        );
    }
}

#[test]
fn copilot_chat_sessions() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".config/Code/User/workspaceStorage");
    let report = index_no_semantic(&sb);
    let db = sb.db();
    let c = agent_entry(&report, "copilot");
    // Two session files and two workspace databases (one without chats).
    assert_eq!((c["files"].as_u64(), c["malformed_total"].as_u64()), (Some(4), Some(0)));
    assert_eq!(c["conversations"], 3);

    // Flat .json: another extension's request is left out.
    let flat = "0c6f3b2a-5d4e-4f1a-9b8c-7e6d5c4b3a21";
    assert_eq!(
        conversation_row(&db, flat),
        conv("Fix the navbar overflow", Some("/home/dev/résumé-site"), 1742460012000, 1742460090000, 4)
    );
    let gpt = Some("copilot/gpt-4.1");
    assert_eq!(
        full_messages(&db, flat),
        vec![
            row("user", None, Some(1742460012000), "The navbar overflows on phones < 360px — why?"),
            row(
                "assistant",
                gpt,
                Some(1742460012000),
                "The `.nav-links` flex row never wraps.\n[tool: copilot_readFile] Reading [](file:///home/dev/r%C3%A9sum%C3%A9-site/src/nav.css)\nAdd `flex-wrap: wrap` and drop the fixed `width: 420px`."
            ),
            row("user", None, Some(1742460090000), "Also make the logo 😀 scale down"),
            row(
                "assistant",
                gpt,
                Some(1742460090000),
                "Use `max-width: 30vw` on `.logo` so it shrinks with the viewport."
            ),
        ]
    );
    assert!(!full_messages(&db, flat).iter().any(|m| m.3.contains("another chat extension")));

    // Mutation log: replayed; the set replaced the streamed draft, the
    // truncating push dropped the retracted request, the torn last line waits.
    let log = "7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6";
    assert_eq!(
        conversation_row(&db, log),
        conv("Double charge on retry", Some("/srv/payments"), 1742550010000, 1742550060000, 4)
    );
    let claude = Some("copilot/claude-sonnet-4");
    assert_eq!(
        full_messages(&db, log),
        vec![
            row("user", None, Some(1742550010000), "Why does `settle()` double-charge on retry?"),
            row(
                "assistant",
                claude,
                Some(1742550010000),
                "The retry path re-sends the charge without the idempotency key.\n[tool: copilot_findTextInFiles] Searching for idempotency_key"
            ),
            row("user", None, Some(1742550060000), "Write the fix — keep it ≤ 20 lines"),
            row(
                "assistant",
                claude,
                Some(1742550060000),
                "Pass `charge.idempotency_key` through `retry_with_backoff` and reuse it on every attempt."
            ),
        ]
    );

    // The oldest store: sessions under `interactive.sessions` in the
    // workspace database; no per-request time (the session's is used), the
    // responder names the author, another provider's session is skipped.
    let legacy = "b7e2c9d4-1a3f-4e5b-9c8d-7f6e5d4c3b2a";
    assert_eq!(
        conversation_row(&db, legacy),
        conv(
            "Why does the watchdog reset the board every 8 s?",
            Some("/home/dev/kiosk-fw"),
            1706000000000,
            1706000000000,
            4
        )
    );
    let copilot = Some("GitHub Copilot");
    assert_eq!(
        full_messages(&db, legacy),
        vec![
            row("user", None, Some(1706000000000), "Why does the watchdog reset the board every 8 s?"),
            row(
                "assistant",
                copilot,
                Some(1706000000000),
                "`wdt_feed()` is only called from the idle task, which starves while `flash_write()` busy-waits. Feed it inside the write loop."
            ),
            row("user", None, Some(1706000000000), "Show the change — größer als 4 KiB Seiten?"),
            row(
                "assistant",
                copilot,
                Some(1706000000000),
                "Call `wdt_feed()` after each 4 KiB page in `flash_write()`; pages larger than that don't exist on this part."
            ),
        ]
    );
    let other: i64 = db
        .query_row("SELECT COUNT(*) FROM conversations WHERE external_id = 'other-provider-1'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(other, 0);

    // VS Code rewrites its state database often; an unrelated key changing
    // re-reads the database but re-emits no session.
    let state = sb.home().join(".config/Code/User/workspaceStorage/1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f/state.vscdb");
    let vscode = rusqlite::Connection::open(&state).unwrap();
    vscode.execute("INSERT INTO ItemTable VALUES ('workbench.sideBar.width', '300')", []).unwrap();
    let again = index_no_semantic(&sb);
    assert_eq!((again["files_parsed"].as_u64(), again["conversations_touched"].as_u64()), (Some(1), Some(0)));
    assert_eq!(conversation_row(&sb.db(), legacy).4, 4);
}

#[test]
fn cursor_composers_and_legacy_chats() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".config/Cursor");
    let report = index_no_semantic(&sb);
    let db = sb.db();
    let cursor = agent_entry(&report, "cursor");
    assert_eq!((cursor["files"].as_u64(), cursor["conversations"].as_u64()), (Some(2), Some(3)));
    assert_eq!(cursor["malformed_total"], 1, "a listed bubble without its row");
    assert_eq!(cursor["unreadable"].as_array().unwrap().len(), 0);

    // Composer with bubble rows: thinking stays out, the tool bubble is a
    // tool line plus its (JSON-encoded) result, times are ISO strings.
    let comp = "9f3e1c2a-7b6d-4e5f-8a9b-0c1d2e3f4a5b";
    let sonnet = Some("claude-4-sonnet");
    assert_eq!(
        conversation_row(&db, comp),
        conv(
            "Speed up the image resize worker",
            Some("/home/dev/media-pipeline"),
            ms("2025-04-18T18:13:20Z"),
            ms("2025-04-18T18:14:55Z"),
            5
        )
    );
    assert_eq!(
        full_messages(&db, comp),
        vec![
            row(
                "user",
                None,
                Some(ms("2025-04-18T18:13:20Z")),
                "resize_worker.py takes 40 s per batch — profile it and fix the hot spot 🔥"
            ),
            row(
                "assistant",
                sonnet,
                Some(ms("2025-04-18T18:13:31Z")),
                "[tool: run_terminal_cmd] python -m cProfile -s cumtime resize_worker.py | head -5"
            ),
            row(
                "tool",
                None,
                Some(ms("2025-04-18T18:13:31Z")),
                "  ncalls  tottime  cumtime\n     500   31.204   38.911 Image.py:3412(open)"
            ),
            row(
                "assistant",
                sonnet,
                Some(ms("2025-04-18T18:14:02Z")),
                "`Image.open` dominates: each image is decoded twice. Switching to `Image.draft()` plus one decode cuts it to ~6 s."
            ),
            row(
                "assistant",
                sonnet,
                Some(ms("2025-04-18T18:14:55Z")),
                "Done — batch time is now 5.8 s (straße-Bilder included)."
            ),
        ]
    );
    // An older composer keeps its bubbles inline; an empty one is no conversation.
    assert_eq!(
        conversation_row(&db, "c-inline-0417"),
        (Some("What does `--frozen-lockfile` do in pnpm?".into()), None, Some(1744900000000), Some(1744900020000), 2)
    );
    let n: i64 =
        db.query_row("SELECT COUNT(*) FROM conversations WHERE external_id = 'c-empty'", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0);

    // Refreshes keep the malformed count exact: the broken composer's report
    // is replayed when another composer changes, and replaced (not added to)
    // when it changes itself.
    let state = sb.home().join(".config/Cursor/User/globalStorage/state.vscdb");
    let editor = rusqlite::Connection::open(&state).unwrap();
    let bump = |key: &str, at: i64| {
        editor
            .execute(
                "UPDATE cursorDiskKV SET value = json_set(value, '$.lastUpdatedAt', ?2) WHERE key = ?1",
                rusqlite::params![key, at],
            )
            .unwrap();
    };
    bump("composerData:c-inline-0417", 1744900099000);
    let again = index_no_semantic(&sb);
    assert_eq!(again["conversations_touched"], 1);
    assert_eq!(agent_entry(&again, "cursor")["malformed_total"], 1);
    bump(&format!("composerData:{comp}"), 1745000099000);
    let third = index_no_semantic(&sb);
    assert_eq!(third["conversations_touched"], 1);
    assert_eq!(agent_entry(&third, "cursor")["malformed_total"], 1);
    assert_eq!(conversation_row(&sb.db(), comp).4, 5);

    // The oldest store: chat tabs under one ItemTable key of a per-workspace
    // database, whose folder comes from workspace.json. The empty tab is no
    // conversation; NULL values in cursorDiskKV are ignored.
    assert_eq!(
        conversation_row(&db, "tab-7f2a"),
        conv("Why is the journal list empty?", Some("/home/dev/日誌-app"), 1715000000000, 1715000030000, 3)
    );
    assert_eq!(
        full_messages(&db, "tab-7f2a"),
        vec![
            row(
                "user",
                None,
                Some(1715000000000),
                "The journal list renders nothing after the 日誌 migration — any idea?"
            ),
            row(
                "assistant",
                Some("gpt-4"),
                Some(1715000012000),
                "The migration renamed `entries` to `journal_entries`, but `useEntries()` still queries the old table."
            ),
            row("user", None, Some(1715000030000), "Fixed, thanks 🙏"),
        ]
    );
}

#[test]
fn cursor_shared_sample() {
    let Some(shared) = shared_fixtures() else { return };
    let sb = Sandbox::new();
    copy_tree(&shared.join("cursor/globalStorage"), &sb.home().join(".config/Cursor/User/globalStorage"));
    let report = index_no_semantic(&sb);
    let db = sb.db();
    let cursor = agent_entry(&report, "cursor");
    assert_eq!((cursor["files"].as_u64(), cursor["conversations"].as_u64()), (Some(1), Some(3)));
    assert_eq!(
        conversation_row(&db, "comp-fixture-headers"),
        conv("Cursor Headers Fixture", Some("/workspace/cursor-fixture"), 1700000000000, 1700000002000, 3)
    );
    assert_eq!(
        full_messages(&db, "comp-fixture-headers"),
        vec![
            row("user", None, Some(1700000000000), "User content from rawText"),
            row("assistant", Some("claude-3.5-sonnet"), Some(1700000001000), "Assistant content from content"),
            row("assistant", None, Some(1700000002000), "Tool output from message field"),
        ]
    );
    assert_eq!(
        conversation_row(&db, "comp-fixture-file-uri"),
        conv("Cursor File URI Fixture", Some("/home/tester/cursor project"), 1700000100000, 1700000100000, 1)
    );
    assert_eq!(
        full_messages(&db, "comp-fixture-file-uri"),
        vec![row("user", None, Some(1700000100000), "Workspace from file URI")]
    );
    assert_eq!(
        conversation_row(&db, "comp-fixture-remote-uri"),
        conv("Cursor Remote URI Fixture", Some("/home/ubuntu/remote-cursor"), 1700000200000, 1700000200000, 1)
    );
    assert_eq!(
        full_messages(&db, "comp-fixture-remote-uri"),
        vec![row("assistant", None, Some(1700000200000), "Workspace from vscode remote URI")]
    );
}

/// Runs `cass index --json`, failing (and killing it) if it runs for more
/// than a minute: a reader waiting on a locked database forever would hang.
fn index_within_a_minute(sb: &Sandbox) -> serde_json::Value {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = sb
        .cass()
        .args(["index", "--no-semantic", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("cass index waited on a locked database");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn cursor_database_locked_by_the_editor_is_reported_then_read() {
    let Some(shared) = shared_fixtures() else { return };
    let sb = Sandbox::new();
    let dir = sb.home().join(".config/Cursor/User/globalStorage");
    copy_tree(&shared.join("cursor/globalStorage"), &dir);
    // The sample is in rollback-journal mode: an exclusive write transaction
    // shuts every reader out until it ends.
    let editor = rusqlite::Connection::open(dir.join("state.vscdb")).unwrap();
    editor
        .execute_batch("BEGIN EXCLUSIVE; INSERT INTO ItemTable (key, value) VALUES ('cursor.lastOpened', '1');")
        .unwrap();
    let report = index_within_a_minute(&sb);
    let cursor = agent_entry(&report, "cursor");
    assert_eq!(cursor["files"], 1);
    assert_eq!(cursor["conversations"], 0);
    let unreadable = cursor["unreadable"].as_array().unwrap();
    assert_eq!(unreadable.len(), 1);
    assert!(unreadable[0]["error"].as_str().unwrap().contains("locked"), "{}", unreadable[0]);
    // cass took no lock the editor has to wait for: its commit goes through.
    editor.execute_batch("COMMIT").unwrap();

    // The next run retries and reads it, and the lock report is gone.
    let again = index_within_a_minute(&sb);
    let cursor = agent_entry(&again, "cursor");
    assert_eq!(cursor["conversations"], 3);
    assert_eq!(cursor["unreadable"].as_array().unwrap().len(), 0);
    assert_eq!(conversation_row(&sb.db(), "comp-fixture-headers").4, 3);
}

#[test]
fn cursor_database_in_wal_mode_is_read_during_a_write() {
    let Some(shared) = shared_fixtures() else { return };
    let sb = Sandbox::new();
    let dir = sb.home().join(".config/Cursor/User/globalStorage");
    copy_tree(&shared.join("cursor/globalStorage"), &dir);
    let editor = rusqlite::Connection::open(dir.join("state.vscdb")).unwrap();
    let mode: String = editor.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    editor.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    // A write in progress: a new composer, not yet committed.
    editor
        .execute_batch(
            r#"BEGIN EXCLUSIVE;
            INSERT INTO cursorDiskKV VALUES ('composerData:comp-new', '{"name":"New composer","fullConversationHeadersOnly":[{"bubbleId":"b1"}]}');
            INSERT INTO cursorDiskKV VALUES ('bubbleId:comp-new:b1', '{"type":1,"text":"Added while cass was reading","timestamp":1700000300000}');"#,
        )
        .unwrap();
    let report = index_within_a_minute(&sb);
    let cursor = agent_entry(&report, "cursor");
    assert_eq!((cursor["conversations"].as_u64(), cursor["unreadable"].as_array().unwrap().len()), (Some(3), 0));
    editor.execute_batch("COMMIT").unwrap();

    // The commit sits in state.vscdb-wal; that change re-reads the database,
    // and of it only the new composer.
    let again = index_within_a_minute(&sb);
    assert_eq!(agent_entry(&again, "cursor")["conversations"], 4);
    assert_eq!(again["conversations_touched"], 1);
    assert_eq!(
        messages_of(&sb.db(), "comp-new"),
        vec![("user".to_string(), "Added while cass was reading".to_string())]
    );

    // A composer that grows (new bubble, lastUpdatedAt moved) replaces its
    // earlier version; the others keep their rows.
    let before: i64 =
        sb.db().query_row("SELECT MAX(m.id) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.external_id = 'comp-fixture-remote-uri'", [], |r| r.get(0)).unwrap();
    editor
        .execute_batch(
            r#"UPDATE cursorDiskKV SET value = json_set(value, '$.lastUpdatedAt', 1700000009000,
                 '$.fullConversationHeadersOnly', json('[{"bubbleId":"bubble-user"},{"bubbleId":"bubble-assistant"},{"bubbleId":"bubble-tool"},{"bubbleId":"bubble-more"}]'))
               WHERE key = 'composerData:comp-fixture-headers';
               INSERT INTO cursorDiskKV VALUES ('bubbleId:comp-fixture-headers:bubble-more', '{"type":1,"text":"One more question","timestamp":1700000009000}');"#,
        )
        .unwrap();
    let third = index_within_a_minute(&sb);
    assert_eq!(third["conversations_touched"], 1);
    let db = sb.db();
    let m = messages_of(&db, "comp-fixture-headers");
    assert_eq!(m.len(), 4);
    assert_eq!(m[3], ("user".to_string(), "One more question".to_string()));
    assert_eq!(m[0].1, "User content from rawText");
    let after: i64 =
        db.query_row("SELECT MAX(m.id) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.external_id = 'comp-fixture-remote-uri'", [], |r| r.get(0)).unwrap();
    assert_eq!(before, after, "an unchanged composer is not rewritten");
    // Search sees the refreshed conversation once, with its new message.
    let total = |q: &str| sb.json(&["search", q, "--mode", "lexical"])["total"].as_u64().unwrap();
    assert_eq!(total("\"One more question\""), 1);
    assert_eq!(total("rawText"), 1);
    assert_eq!(agent_entry(&third, "cursor")["messages"], 3 + 1 + 1 + 1 + 1);
}
