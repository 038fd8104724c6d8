//! Connectors for terminal and desktop agents (OpenCode, Aider, ChatGPT,
//! Pi-Agent, Factory Droid, Copilot CLI): their fixtures (the shared samples
//! in ../shared/fixtures where present, and the project's own in
//! tests/fixtures/home, described in tests/fixtures/EXPECTED.md) are laid out
//! where the agent keeps them, indexed by the real binary, and the store is
//! checked exactly: counts, roles, authors, times, titles and workspaces.

mod common;
use common::*;

#[test]
fn opencode_json_tree_and_sqlite() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".local/share/opencode");
    let shared = copy_shared(&sb, "opencode/storage", ".local/share/opencode/storage");
    let report = index_no_semantic(&sb);
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
    let again = index_no_semantic(&sb);
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
    let third = index_no_semantic(&sb);
    assert_eq!(third["files_parsed"], 1);
    assert_eq!(third["conversations_touched"], 1, "only the changed session is re-read");
    let db = sb.db();
    let m = messages_of(&db, main);
    assert_eq!(m.len(), 5);
    assert_eq!(m[4], ("user".to_string(), "Now add shell completions (zsh, fish).".to_string()));
    assert_eq!(ids_of(&db, "ses_01JQ8T9Z7P"), child_ids, "the unchanged session kept its rows");
    assert_eq!(conversation_row(&db, main).3, Some(1742700060000));
    // The broken row of the re-read session is counted once, not twice.
    assert_eq!(agent_entry(&third, "opencode")["malformed_total"], 1);
    // Only the other session changes: the first one's broken row, not read
    // again, is still counted.
    writer.execute("UPDATE session SET time_updated = 1742700130000 WHERE id = 'ses_01JQ8T9Z7P'", []).unwrap();
    let fourth = index_no_semantic(&sb);
    assert_eq!(fourth["conversations_touched"], 1);
    assert_eq!(agent_entry(&fourth, "opencode")["malformed_total"], 1);
    // --full re-reads everything and comes to the same result.
    let full = sb.json(&["index", "--full", "--no-semantic"]);
    assert_eq!(full["conversations_touched"], 2 + u64::from(shared));
    assert_eq!(messages_of(&sb.db(), main).len(), 5);
    drop(writer);
}

#[test]
fn opencode_session_in_both_stores_is_indexed_once() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".local/share/opencode");
    // A tree session that the database also holds (OpenCode 1.2 imported it).
    let storage = sb.home().join(".local/share/opencode/storage");
    let write = |rel: &str, text: &str| {
        std::fs::create_dir_all(storage.join(rel).parent().unwrap()).unwrap();
        std::fs::write(storage.join(rel), text).unwrap();
    };
    write(
        "session/prj_tooling/ses_01JQ8T4K2M.json",
        r#"{"id":"ses_01JQ8T4K2M","title":"Port the CLI flags parser to clap 4","directory":"/home/dev/tooling","time":{"created":1742700000000,"updated":1742700300000}}"#,
    );
    write(
        "message/ses_01JQ8T4K2M/msg_01.json",
        r#"{"id":"msg_01","sessionID":"ses_01JQ8T4K2M","role":"user","time":{"created":1742700000500}}"#,
    );
    write(
        "part/msg_01/prt_01a.json",
        r#"{"id":"prt_01a","messageID":"msg_01","type":"text","text":"Port src/cli.rs from argh to clap 4 derive"}"#,
    );
    // And one only the tree has.
    write(
        "session/prj_tooling/ses_old.json",
        r#"{"id":"ses_old","title":"Before the upgrade","directory":"/home/dev/tooling","time":{"created":1700000000000,"updated":1700000000000}}"#,
    );
    write(
        "message/ses_old/msg_a.json",
        r#"{"id":"msg_a","sessionID":"ses_old","role":"user","time":{"created":1700000000000}}"#,
    );
    write("part/msg_a/prt_a.json", r#"{"id":"prt_a","messageID":"msg_a","type":"text","text":"An old question"}"#);
    let report = index_no_semantic(&sb);
    let oc = agent_entry(&report, "opencode");
    assert_eq!((oc["files"].as_u64(), oc["conversations"].as_u64()), (Some(3), Some(3)));
    let db = sb.db();
    let sources: Vec<String> = db
        .prepare("SELECT source_path FROM conversations WHERE external_id = 'ses_01JQ8T4K2M'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(sources.len(), 1, "{sources:?}");
    assert!(sources[0].ends_with("opencode.db"));
    assert_eq!(messages_of(&db, "ses_old"), vec![("user".to_string(), "An old question".to_string())]);
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
    let report = index_no_semantic(&sb);
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
    let again = index_no_semantic(&sb);
    assert_eq!(again["files_appended"], 1);
    let m = messages_of(&sb.db(), second);
    assert_eq!(m.len(), 4);
    assert!(m[2].1.ends_with("Guard it with `{% if price %}`.\nApplied to templates/checkout.html."), "{}", m[2].1);
    assert_eq!(m[3], ("user".to_string(), "merci, ça marche".to_string()));
    assert_eq!(conversation_row(&sb.db(), first).4, 6, "the first session is untouched");

    // A reply with invalid UTF-8 that is still being written: reported once,
    // even though its block is read again when it grows.
    let mut f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
    f.write_all(b"\nDe rien \xff\xfe!\n").unwrap();
    let third = index_no_semantic(&sb);
    assert_eq!(agent_entry(&third, "aider")["malformed_total"], 1);
    f.write_all(b"Bonne journ\xc3\xa9e.\n").unwrap();
    let fourth = index_no_semantic(&sb);
    assert_eq!(fourth["files_appended"], 1);
    assert_eq!(agent_entry(&fourth, "aider")["malformed_total"], 1);
    let last = messages_of(&sb.db(), second).pop().unwrap();
    assert_eq!(last, ("assistant".to_string(), "De rien \u{FFFD}\u{FFFD}!\nBonne journée.".to_string()));
}

#[test]
fn chatgpt_plain_and_encrypted() {
    let sb = Sandbox::new();
    let app = "Library/Application Support/com.openai.chat";
    install_own(&sb.home(), app);
    let shared = copy_shared(&sb, "chatgpt/conversations-real", &format!("{app}/conversations-real"));
    let report = index_no_semantic(&sb);
    let db = sb.db();
    let gpt = agent_entry(&report, "chatgpt");
    assert_eq!(gpt["files"], 1 + 3 * u64::from(shared));

    // The v3 file is found and reported as encrypted, with the reason.
    let unreadable = gpt["unreadable"].as_array().unwrap();
    assert_eq!(unreadable.len(), 1);
    assert!(unreadable[0]["path"].as_str().unwrap().ends_with("8c1e5a3f-7b2d-4e6a-9f1c-3d5b7a9e0c2e.data"));
    assert!(unreadable[0]["error"].as_str().unwrap().starts_with("encrypted"), "{}", unreadable[0]);
    // The human report says so under the agent.
    let out = sb.run(&["index", "--no-semantic"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.lines().any(|l| l.contains("found but unreadable") && l.contains(".data: encrypted")), "{stderr}");
    // An unchanged encrypted file is not re-read, and stays reported.
    let again = index_no_semantic(&sb);
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
    let report = index_no_semantic(&sb);
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
    let report = index_no_semantic(&sb);
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
    let report = index_no_semantic(&sb);
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
