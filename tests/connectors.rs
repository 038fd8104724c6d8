//! One test per connector: its fixtures (the shared samples in
//! ../shared/fixtures where present, and the project's own in
//! tests/fixtures/home, described in tests/fixtures/EXPECTED.md) are laid out
//! where the agent keeps them, indexed by the real binary, and the store is
//! checked exactly: counts, roles, authors, times, titles and workspaces.

mod common;
use common::*;

type Row = (String, Option<String>, Option<i64>, String);

fn row(role: &str, author: Option<&str>, ts: Option<i64>, content: &str) -> Row {
    (role.into(), author.map(Into::into), ts, content.into())
}

/// Indexes the sandbox (no semantic backfill: not under test here).
fn index(sb: &Sandbox) -> serde_json::Value {
    sb.json(&["index", "--no-semantic"])
}

/// (title, workspace, started_at, ended_at, message_count).
type Conv = (Option<String>, Option<String>, Option<i64>, Option<i64>, i64);

fn conv(title: &str, workspace: Option<&str>, started: i64, ended: i64, n: i64) -> Conv {
    (Some(title.into()), workspace.map(Into::into), Some(started), Some(ended), n)
}

fn copy_shared(sb: &Sandbox, from: &str, to: &str) -> bool {
    match shared_fixtures() {
        Some(shared) => {
            copy_tree(&shared.join(from), &sb.home().join(to));
            true
        }
        None => false,
    }
}

#[test]
fn cline_and_roo_code() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".config/Code/User/globalStorage");
    let shared = copy_shared(&sb, "cline/globalStorage", ".config/Code - Insiders/User/globalStorage");
    let report = index(&sb);
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
fn opencode_json_tree_and_sqlite() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".local/share/opencode");
    let shared = copy_shared(&sb, "opencode/storage", ".local/share/opencode/storage");
    let report = index(&sb);
    let db = sb.db();
    let oc = agent_entry(&report, "opencode");
    assert_eq!(oc["files"], 1 + u64::from(shared));
    assert_eq!(oc["malformed_total"], 1, "msg_04 has broken JSON in its data column");

    let main = "ses_01JQ8T4K2M";
    assert_eq!(
        conversation_row(&db, main),
        conv("Port the CLI flags parser to clap 4", Some("/home/dev/tooling"), 1742700000500, 1742700040000, 4)
    );
    let sonnet = Some("claude-sonnet-4-5");
    assert_eq!(
        full_messages(&db, main),
        vec![
            row(
                "user",
                None,
                Some(1742700000500),
                "Port src/cli.rs from argh to clap 4 derive — keep `--verbose` and `-q`.\n[file: cli.rs]"
            ),
            row(
                "assistant",
                sonnet,
                Some(1742700004000),
                "Reading the current argh struct first.\n[tool: read] /home/dev/tooling/src/cli.rs"
            ),
            row(
                "tool",
                None,
                Some(1742700004000),
                "#[derive(FromArgs)]\nstruct Cli {\n    #[argh(switch, short = 'q')]\n    quiet: bool,\n}"
            ),
            row(
                "assistant",
                sonnet,
                Some(1742700040000),
                "Done: `Cli` now derives `clap::Parser`; `-q/--quiet` and `--verbose` keep their meaning. ✅"
            ),
        ]
    );
    // The child session has TEXT times in its rows; they read the same.
    assert_eq!(
        full_messages(&db, "ses_01JQ8T9Z7P"),
        vec![
            row("user", None, Some(1742700100500), "Find every `argh::` usage under src/"),
            row(
                "assistant",
                Some("claude-haiku-4-5"),
                Some(1742700104000),
                "[tool: grep] argh::\nOne usage, in src/cli.rs."
            ),
            row("tool", None, Some(1742700104000), "src/cli.rs:1:use argh::FromArgs;"),
        ]
    );

    if shared {
        assert_eq!(
            conversation_row(&db, "ses_test1"),
            conv("OpenCode JSON Session", Some("/tmp/test-project"), 1700000001000, 1700000002000, 2)
        );
        assert_eq!(
            full_messages(&db, "ses_test1"),
            vec![
                row("user", None, Some(1700000001000), "Hello, can you help me with Rust?"),
                row(
                    "assistant",
                    Some("claude-3-opus"),
                    Some(1700000002000),
                    "Of course! I'd be happy to help you with Rust. What would you like to know?"
                ),
            ]
        );
    }

    // Unchanged database: skipped (the empty -wal a reader leaves is no change).
    let again = index(&sb);
    assert_eq!(again["files_skipped"], again["files_scanned"]);

    // OpenCode writes in WAL mode: a new message lands in opencode.db-wal
    // (its session's time_updated moves with it), and that alone must bring
    // the database back for reading. Only the changed session is re-read.
    let ids_of = |db: &rusqlite::Connection, ext: &str| -> Vec<i64> {
        db.prepare("SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.external_id = ?1 ORDER BY m.ordinal")
            .unwrap()
            .query_map([ext], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let child_ids = ids_of(&sb.db(), "ses_01JQ8T9Z7P");
    let path = sb.home().join(".local/share/opencode/opencode.db");
    let writer = rusqlite::Connection::open(&path).unwrap();
    writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    writer
        .execute_batch(
            r#"BEGIN;
            INSERT INTO message VALUES ('msg_05', 'ses_01JQ8T4K2M', 1742700060000, 1742700060000, '{"role":"user","time":{"created":1742700060000}}');
            INSERT INTO part VALUES ('prt_05a', 'msg_05', 'ses_01JQ8T4K2M', 1742700060000, 1742700060000, '{"type":"text","text":"Now add shell completions (zsh, fish)."}');
            UPDATE session SET time_updated = 1742700060000 WHERE id = 'ses_01JQ8T4K2M';
            COMMIT;"#,
        )
        .unwrap();
    assert!(std::fs::metadata(path.with_file_name("opencode.db-wal")).unwrap().len() > 0);
    let third = index(&sb);
    assert_eq!(third["files_parsed"], 1);
    assert_eq!(third["conversations_touched"], 1, "only the changed session is re-read");
    let db = sb.db();
    let m = messages_of(&db, main);
    assert_eq!(m.len(), 5);
    assert_eq!(m[4], ("user".to_string(), "Now add shell completions (zsh, fish).".to_string()));
    assert_eq!(ids_of(&db, "ses_01JQ8T9Z7P"), child_ids, "the unchanged session kept its rows");
    assert_eq!(conversation_row(&db, main).3, Some(1742700060000));
    // --full re-reads everything and comes to the same result.
    let full = sb.json(&["index", "--full", "--no-semantic"]);
    assert_eq!(full["conversations_touched"], 2 + u64::from(shared));
    assert_eq!(messages_of(&sb.db(), main).len(), 5);
    drop(writer);
}

#[test]
fn amp_threads() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".local/share/amp");
    let shared = copy_shared(&sb, "amp/threads", ".local/share/amp/threads");
    let report = index(&sb);
    let db = sb.db();
    assert_eq!(agent_entry(&report, "amp")["files"], 1 + u64::from(shared));

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
fn aider_sessions_and_appends() {
    let sb = Sandbox::new();
    install_own(&sb.home(), "code/shop");
    let shared = copy_shared(&sb, "aider", "projects/demo");
    // Caches and dependency trees are not walked: these are never found.
    for dir in [".cache/aider-old", "code/shop/node_modules/left-pad"] {
        std::fs::create_dir_all(sb.home().join(dir)).unwrap();
        std::fs::write(sb.home().join(dir).join(".aider.chat.history.md"), "#### not a project\n").unwrap();
    }
    let report = index(&sb);
    let db = sb.db();
    assert_eq!(agent_entry(&report, "aider")["files"], 1 + u64::from(shared));
    let shop = sb.home().join("code/shop").to_string_lossy().into_owned();

    // Two sessions in one file, each from its `chat started` header.
    let first = "2026-03-05 09:14:27";
    let t1 = ms("2026-03-05T09:14:27Z");
    assert_eq!(
        conversation_row(&db, first),
        conv("Add a `--dry-run` flag to scripts/deploy.py", Some(&shop), t1, t1, 6)
    );
    let msgs = full_messages(&db, first);
    assert_eq!(
        msgs.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(),
        ["tool", "user", "assistant", "tool", "user", "tool"]
    );
    assert!(msgs.iter().all(|m| m.2 == Some(t1) && m.1.is_none()));
    assert_eq!(
        msgs[1].3,
        "Add a `--dry-run` flag to scripts/deploy.py\nit should print the rsync command instead of running it"
    );
    // The edit's `>>>>>>> REPLACE` sits in a code fence: it is the reply's.
    assert!(msgs[2].3.starts_with("I'll add the flag with argparse"));
    assert!(msgs[2].3.ends_with(">>>>>>> REPLACE\n```"), "{}", msgs[2].3);
    assert_eq!(
        msgs[3].3,
        "Applied edit to scripts/deploy.py\nCommit 3f9c2ab feat: add --dry-run flag to deploy script"
    );
    assert_eq!(msgs[4].3, "/run python scripts/deploy.py --dry-run");

    let second = "2026-03-06 17:40:02";
    let t2 = ms("2026-03-06T17:40:02Z");
    assert_eq!(
        conversation_row(&db, second),
        conv("Why does the checkout page show “Prix: 0,00 €” for free items?", Some(&shop), t2, t2, 3)
    );

    if shared {
        // The simplified sample has no session header: one conversation
        // named after its directory; `>` lines are aider's output.
        assert_eq!(
            messages_of(&db, "demo"),
            vec![
                ("tool".to_string(), "/add src/main.rs".to_string()),
                ("assistant".into(), "Added src/main.rs to the chat.".into()),
                ("user".into(), "/add src/main.rs".into()),
                ("tool".into(), "Please refactor.".into()),
                ("assistant".into(), "Sure, here is the code.".into()),
            ]
        );
    }

    // Appending: the last reply grows and a new turn starts. Only the tail
    // is read; the grown reply replaces its earlier version, nothing doubles.
    use std::io::Write;
    let file = sb.home().join("code/shop/.aider.chat.history.md");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all("Applied to templates/checkout.html.\n\n#### merci, ça marche\n".as_bytes())
        .unwrap();
    let again = index(&sb);
    assert_eq!(again["files_appended"], 1);
    let m = messages_of(&sb.db(), second);
    assert_eq!(m.len(), 4);
    assert!(m[2].1.ends_with("Guard it with `{% if price %}`.\nApplied to templates/checkout.html."), "{}", m[2].1);
    assert_eq!(m[3], ("user".to_string(), "merci, ça marche".to_string()));
    assert_eq!(conversation_row(&sb.db(), first).4, 6, "the first session is untouched");
}

#[test]
fn cursor_composers_and_legacy_chats() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".config/Cursor");
    let report = index(&sb);
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
    let report = index(&sb);
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

#[test]
fn chatgpt_plain_and_encrypted() {
    let sb = Sandbox::new();
    let app = "Library/Application Support/com.openai.chat";
    install_own(&sb.home(), app);
    let shared = copy_shared(&sb, "chatgpt/conversations-real", &format!("{app}/conversations-real"));
    let report = index(&sb);
    let db = sb.db();
    let gpt = agent_entry(&report, "chatgpt");
    assert_eq!(gpt["files"], 1 + 3 * u64::from(shared));

    // The v3 file is found and reported as encrypted, with the reason.
    let unreadable = gpt["unreadable"].as_array().unwrap();
    assert_eq!(unreadable.len(), 1);
    assert!(unreadable[0]["path"].as_str().unwrap().ends_with("8c1e5a3f-7b2d-4e6a-9f1c-3d5b7a9e0c2e.data"));
    assert!(unreadable[0]["error"].as_str().unwrap().starts_with("encrypted"), "{}", unreadable[0]);
    // An unchanged encrypted file is not re-read, and stays reported.
    let again = index(&sb);
    assert_eq!(again["files_skipped"], again["files_scanned"]);
    assert_eq!(agent_entry(&again, "chatgpt")["unreadable"].as_array().unwrap().len(), 1);

    if shared {
        assert_eq!(gpt["conversations"], 3);
        assert_eq!(
            conversation_row(&db, "chatgpt-desktop-conv-alt-001"),
            conv("Conversation ID Fixture", None, 1701000000250, 1701000001750, 2)
        );
        assert_eq!(
            full_messages(&db, "chatgpt-desktop-conv-alt-001"),
            vec![
                row("user", None, Some(1701000000250), "Use conversation_id as the stable external id."),
                row(
                    "assistant",
                    Some("gpt-4o"),
                    Some(1701000001750),
                    "Confirmed.\nThe connector should prefer conversation_id when id is absent."
                ),
            ]
        );
        assert_eq!(
            full_messages(&db, "chatgpt-multipart-001"),
            vec![row(
                "user",
                None,
                Some(1701000100000),
                "First paragraph.\nSecond paragraph.\n```rust\nfn main() {}\n```"
            )]
        );
        // Text objects among the parts are kept; the image pointer is not text.
        assert_eq!(
            full_messages(&db, "chatgpt-structured-parts-001"),
            vec![
                row(
                    "user",
                    None,
                    Some(1702000000500),
                    "Leading plain text.\nStructured text block that current parsing does not flatten.\nTrailing plain text."
                ),
                row(
                    "assistant",
                    Some("gpt-4o"),
                    Some(1702000001500),
                    "Assistant structured-only block currently drops."
                ),
            ]
        );
        assert_eq!(
            conversation_row(&db, "chatgpt-structured-parts-001").0.as_deref(),
            Some("Structured Parts Fixture")
        );
    }
}

#[test]
fn pi_agent_tree_session() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".pi");
    let report = index(&sb);
    assert_eq!(agent_entry(&report, "pi_agent")["files"], 1);
    let db = sb.db();
    let id = "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d";
    assert_eq!(
        conversation_row(&db, id),
        conv(
            "Rename every `TODO(ana)` to `TODO(ana.m)` in notes/*.md — ñ and ü must survive",
            Some("/home/dev/notes"),
            ms("2026-03-25T19:02:03.500Z"),
            ms("2026-03-25T19:02:12Z"),
            4
        )
    );
    // A model_change re-attributes later turns; compaction entries are not messages.
    assert_eq!(
        full_messages(&db, id),
        vec![
            row(
                "user",
                None,
                Some(ms("2026-03-25T19:02:03.500Z")),
                "Rename every `TODO(ana)` to `TODO(ana.m)` in notes/*.md — ñ and ü must survive"
            ),
            row(
                "assistant",
                Some("gpt-5"),
                Some(ms("2026-03-25T19:02:07Z")),
                "[tool: bash] sed -i 's/TODO(ana)/TODO(ana.m)/g' notes/*.md"
            ),
            row(
                "tool",
                None,
                Some(ms("2026-03-25T19:02:07.400Z")),
                "[tool error] sed: can't read notes/*.md: No such file or directory"
            ),
            row(
                "assistant",
                Some("gpt-5-mini"),
                Some(ms("2026-03-25T19:02:12Z")),
                "The notes live in `docs/notes/`; renamed 7 occurrences there (straße.md, niño.md included)."
            ),
        ]
    );
}

#[test]
fn pi_agent_sessions_and_override() {
    let Some(shared) = shared_fixtures() else { return };
    let sb = Sandbox::new();
    // PI_CODING_AGENT_DIR relocates ~/.pi/agent.
    copy_tree(&shared.join("pi_agent/sessions"), &sb.home().join("elsewhere/pi/sessions"));
    let out = sb
        .cass()
        .args(["index", "--no-semantic", "--json"])
        .env("PI_CODING_AGENT_DIR", sb.home().join("elsewhere/pi"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pi = agent_entry(&report, "pi_agent");
    assert_eq!(pi["roots"][0]["origin"], "PI_CODING_AGENT_DIR");
    assert_eq!(pi["files"], 1);
    let db = sb.db();
    let id = "abc12345-1234-5678-9abc-def012345678";
    assert_eq!(
        conversation_row(&db, id),
        conv(
            "How do I create a Rust struct with a generic lifetime parameter?",
            Some("/Users/test/project"),
            ms("2024-01-15T10:30:01Z"),
            ms("2024-01-15T10:30:16Z"),
            5
        )
    );
    let sonnet = Some("claude-sonnet-4-20250514");
    let msgs = full_messages(&db, id);
    assert_eq!(
        msgs.iter().map(|m| (m.0.as_str(), m.1.as_deref(), m.2)).collect::<Vec<_>>(),
        [
            ("user", None, Some(ms("2024-01-15T10:30:01Z"))),
            ("assistant", sonnet, Some(ms("2024-01-15T10:30:05Z"))),
            ("user", None, Some(ms("2024-01-15T10:30:10Z"))),
            ("assistant", sonnet, Some(ms("2024-01-15T10:30:15Z"))),
            ("tool", None, Some(ms("2024-01-15T10:30:16Z"))),
        ]
    );
    // Thinking stays out; the tool call is one line; the result is a tool message.
    assert!(msgs[1].3.starts_with("Here's how to create a Rust struct") && !msgs[1].3.contains("Let me explain"));
    assert_eq!(msgs[3].3, "Let me read a file to demonstrate:\n[tool: read] /src/main.rs");
    assert_eq!(msgs[4].3, "fn main() {\n    println!(\"Hello, world!\");\n}");
}

#[test]
fn factory_droid_session() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".factory");
    let report = index(&sb);
    let db = sb.db();
    let f = agent_entry(&report, "factory");
    assert_eq!((f["files"].as_u64(), f["malformed"].as_u64()), (Some(1), Some(1)));
    let id = "5b0c9d2e-7a41-4c1e-9f3a-2d8e6b1c4f70";
    assert_eq!(
        conversation_row(&db, id),
        conv(
            "Rate-limit the /upload endpoint",
            Some("/home/dev/api-server"),
            ms("2026-03-20T08:15:02.114Z"),
            ms("2026-03-20T08:17:00Z"),
            7
        )
    );
    let model = Some("claude-sonnet-4-5-20250929");
    assert_eq!(
        full_messages(&db, id),
        vec![
            row(
                "user",
                None,
                Some(ms("2026-03-20T08:15:02.114Z")),
                "Add a per-IP rate limit to POST /upload — 10 req/min, return 429 with Retry-After. Paths like /tmp/über must keep working."
            ),
            row(
                "assistant",
                model,
                Some(ms("2026-03-20T08:15:09.530Z")),
                "I'll look at how routes are wired.\n[tool: Read] /home/dev/api-server/src/routes.rs"
            ),
            row(
                "tool",
                None,
                Some(ms("2026-03-20T08:15:10.002Z")),
                "pub fn router() -> Router {\n    Router::new().route(\"/upload\", post(upload))\n}"
            ),
            row(
                "assistant",
                model,
                Some(ms("2026-03-20T08:15:31.877Z")),
                "Adding a `tower_governor` layer on the upload route.\n[tool: Execute] cargo add tower_governor@0.4"
            ),
            row(
                "tool",
                None,
                Some(ms("2026-03-20T08:15:40.250Z")),
                "[tool error] error: failed to select a version for `tower_governor`"
            ),
            row(
                "assistant",
                model,
                Some(ms("2026-03-20T08:16:02.004Z")),
                "Version 0.4 needs axum 0.8, so I pinned 0.3.2. The route now answers 429 with `Retry-After: 60` after 10 requests per minute; 日本語 paths are untouched."
            ),
            row("user", None, Some(ms("2026-03-20T08:17:00Z")), "Thanks, ship it."),
        ]
    );
    let line: i64 = db.query_row("SELECT line FROM ingest_errors", [], |r| r.get(0)).unwrap();
    assert_eq!(line, 9);
}

#[test]
fn copilot_cli_events_and_legacy() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".copilot");
    let shared = copy_shared(&sb, "copilot_cli", ".copilot");
    let report = index(&sb);
    let db = sb.db();
    let c = agent_entry(&report, "copilot_cli");
    assert_eq!(c["files"], 1 + 3 * u64::from(shared));

    let id = "3e9d2c1b-8a7f-4e6d-b5c4-a3f2e1d0c9b8";
    assert_eq!(
        conversation_row(&db, id),
        conv(
            "Which Terraform modules still pin the aws provider below 5.0?",
            Some("/home/dev/infra"),
            ms("2026-03-22T11:00:05.120Z"),
            ms("2026-03-22T11:00:15.050Z"),
            4
        )
    );
    assert_eq!(
        full_messages(&db, id),
        vec![
            row(
                "user",
                None,
                Some(ms("2026-03-22T11:00:05.120Z")),
                "Which Terraform modules still pin the aws provider below 5.0?"
            ),
            row(
                "assistant",
                None,
                Some(ms("2026-03-22T11:00:09.800Z")),
                "I'll search the module version constraints.\n[tool: bash] grep -rn 'version *= *\"~> 4' modules/"
            ),
            row(
                "tool",
                None,
                Some(ms("2026-03-22T11:00:11.300Z")),
                "modules/vpc/versions.tf:4:      version = \"~> 4.67\"\nmodules/dns/versions.tf:4:      version = \"~> 4.0\""
            ),
            row(
                "assistant",
                None,
                Some(ms("2026-03-22T11:00:15.050Z")),
                "Two modules: `vpc` (~> 4.67) and `dns` (~> 4.0). Everything else is on 5.x ✔️"
            ),
        ]
    );

    if shared {
        assert_eq!(c["malformed_total"], 1, "the truncated second line");
        assert_eq!(
            full_messages(&db, "cli-session-001"),
            vec![
                row("user", None, Some(1700001000000), "How should Copilot handle cafe\u{301} ✅ and emoji?"),
                row("assistant", None, Some(1700001001000), "Keep Unicode intact: cafe\u{301} ✅ should round-trip."),
            ]
        );
        assert_eq!(conversation_row(&db, "cli-session-001").1.as_deref(), Some("/workspaces/demo-unicode"));
        assert_eq!(
            full_messages(&db, "cli-session-truncated"),
            vec![
                row("user", None, Some(1700002000000), "Recover after truncated line"),
                row("assistant", None, Some(1700002002000), "Recovered after truncation."),
            ]
        );
        assert_eq!(
            conversation_row(&db, "legacy-human"),
            conv(
                "Summarize unicode Ω handling 🚀",
                Some("/workspaces/legacy-copilot"),
                1700003000000,
                1700003001000,
                2
            )
        );
        assert_eq!(messages_of(&db, "legacy-human")[0].0, "user");
    }
}

#[test]
fn copilot_chat_sessions() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".config/Code/User/workspaceStorage");
    let report = index(&sb);
    let db = sb.db();
    let c = agent_entry(&report, "copilot");
    assert_eq!((c["files"].as_u64(), c["malformed_total"].as_u64()), (Some(2), Some(0)));

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
