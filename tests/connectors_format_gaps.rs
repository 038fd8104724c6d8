//! Format details of already-supported agents that are easy to miss
//! (`agent-formats-more.md` §1; the table in docs/CONNECTORS.md says which
//! test covers which). Each test writes its own session files where the
//! agent keeps them, indexes them with the real binary and checks the store
//! exactly: counts, roles, titles, workspaces and times.

mod common;
use common::*;
use serde_json::{Value, json};

/// Writes `records` as JSONL (one compact JSON object a line) at `home/rel`.
fn write_jsonl(sb: &Sandbox, rel: &str, records: &[Value]) {
    let path = sb.home().join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut text = String::new();
    for r in records {
        text.push_str(&r.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

fn roles(db: &rusqlite::Connection, id: &str) -> Vec<String> {
    messages_of(db, id).into_iter().map(|(r, _)| r).collect()
}

fn claude(session: &str, kind: &str, ts: &str, extra: Value) -> Value {
    let mut rec = json!({"type": kind, "sessionId": session, "cwd": "/home/dev/ledger", "timestamp": ts,
                         "uuid": format!("u-{ts}"), "isSidechain": false, "userType": "external"});
    for (k, v) in extra.as_object().unwrap() {
        rec[k] = v.clone();
    }
    rec
}

fn user(text: &str) -> Value {
    json!({"message": {"role": "user", "content": text}})
}

fn assistant(text: &str) -> Value {
    json!({"message": {"role": "assistant", "model": "claude-opus-4-1", "content": [{"type": "text", "text": text}]}})
}

/// Claude Code compaction: the `compact_boundary` system record is no
/// message, and the summary written after it (`isCompactSummary`) is a
/// system message, not a prompt, so it never becomes the title, also when
/// a continued session's file starts with it. `isMeta` records are system;
/// a byte order mark before the first record is ignored.
#[test]
fn claude_compaction_summary_is_system_not_a_prompt() {
    let sb = Sandbox::new();
    let dir = ".claude/projects/-home-dev-ledger";
    let a = "3c1f0d2e-5b6a-4e7f-8a9b-0c1d2e3f4a51";
    let summary = "This session is being continued from a previous conversation that ran out of context. \
                   Summary: the user asked to round ledger totals half-to-even; rounding.rs was changed.";
    write_jsonl(
        &sb,
        &format!("{dir}/{a}.jsonl"),
        &[
            claude(a, "user", "2026-04-02T08:00:00.000Z", user("Round the ledger totals half-to-even")),
            claude(
                a,
                "assistant",
                "2026-04-02T08:00:05.000Z",
                assistant("Switching rounding.rs to banker's rounding."),
            ),
            claude(
                a,
                "system",
                "2026-04-02T09:10:00.000Z",
                json!({"subtype": "compact_boundary", "content": "Conversation compacted", "level": "info",
                       "compactMetadata": {"trigger": "auto", "preTokens": 151000}, "parentUuid": null,
                       "logicalParentUuid": "u-2026-04-02T08:00:05.000Z"}),
            ),
            claude(
                a,
                "user",
                "2026-04-02T09:10:01.000Z",
                json!({"isCompactSummary": true, "isVisibleInTranscriptOnly": true,
                       "message": {"role": "user", "content": summary}}),
            ),
            claude(
                a,
                "user",
                "2026-04-02T09:10:02.000Z",
                json!({"isMeta": true, "message": {"role": "user",
                       "content": "<local-command-stdout>Compacted</local-command-stdout>"}}),
            ),
            claude(a, "user", "2026-04-02T09:11:00.000Z", user("Now the CSV export too")),
            claude(a, "assistant", "2026-04-02T09:11:04.000Z", assistant("Export uses the same rounding now.")),
        ],
    );
    // A continued session whose file begins with the summary.
    let b = "3c1f0d2e-5b6a-4e7f-8a9b-0c1d2e3f4a52";
    write_jsonl(
        &sb,
        &format!("{dir}/{b}.jsonl"),
        &[
            claude(
                b,
                "user",
                "2026-04-03T07:00:00.000Z",
                json!({"isCompactSummary": true, "message": {"role": "user", "content": summary}}),
            ),
            claude(b, "user", "2026-04-03T07:00:30.000Z", user("Add a test for negative halves")),
            claude(b, "assistant", "2026-04-03T07:00:41.000Z", assistant("Added rounding_negative_half.")),
        ],
    );
    // Its first line starts with a UTF-8 byte order mark, which is no part of the JSON.
    let path = sb.home().join(format!("{dir}/{b}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("\u{feff}{text}")).unwrap();

    let report = index_no_semantic(&sb);
    let cc = agent_entry(&report, "claude_code");
    assert_eq!((cc["files"].as_u64(), cc["malformed_total"].as_u64()), (Some(2), Some(0)), "{cc}");

    let db = sb.db();
    assert_eq!(roles(&db, a), ["user", "assistant", "system", "system", "user", "assistant"]);
    assert_eq!(messages_of(&db, a)[2].1, summary);
    assert_eq!(
        conversation_row(&db, a),
        conv(
            "Round the ledger totals half-to-even",
            Some("/home/dev/ledger"),
            ms("2026-04-02T08:00:00Z"),
            ms("2026-04-02T09:11:04Z"),
            6
        )
    );
    assert_eq!(roles(&db, b), ["system", "user", "assistant"]);
    assert_eq!(
        conversation_row(&db, b),
        conv(
            "Add a test for negative halves",
            Some("/home/dev/ledger"),
            ms("2026-04-03T07:00:00Z"),
            ms("2026-04-03T07:00:41Z"),
            3
        )
    );
}

fn codex(ts: &str, kind: &str, payload: Value) -> Value {
    json!({"timestamp": ts, "type": kind, "payload": payload})
}

fn codex_msg(ts: &str, role: &str, text: &str) -> Value {
    let part = if role == "user" { "input_text" } else { "output_text" };
    codex(ts, "response_item", json!({"type": "message", "role": role, "content": [{"type": part, "text": text}]}))
}

/// Codex: archived rollouts sit flat in `archived_sessions/`; a sub-agent
/// rollout (its `session_meta.source` names the parent thread) and a
/// headless `exec` run are conversations of their own; a `compacted` line
/// adds its summary as a system message and its replacement history (copies
/// of earlier turns) adds nothing.
#[test]
fn codex_archived_subagent_exec_and_compacted() {
    let sb = Sandbox::new();
    let parent = "019b2c3d-4e5f-7a6b-8c9d-0e1f2a3b4c5d";
    let child = "019b2c3d-9999-7a6b-8c9d-0e1f2a3b4c5e";
    let exec = "019b2c3d-aaaa-7a6b-8c9d-0e1f2a3b4c5f";
    let summary = "Summary so far: the flaky retry test depended on wall-clock time; it now uses a paused clock.";
    write_jsonl(
        &sb,
        &format!(".codex/archived_sessions/rollout-2026-04-05T10-00-00-{parent}.jsonl"),
        &[
            codex(
                "2026-04-05T10:00:00.000Z",
                "session_meta",
                json!({"id": parent, "timestamp": "2026-04-05T10:00:00.000Z", "cwd": "/home/dev/queue",
                       "originator": "codex_cli_rs", "cli_version": "0.99.0", "source": "cli"}),
            ),
            codex(
                "2026-04-05T10:00:00.100Z",
                "turn_context",
                json!({"cwd": "/home/dev/queue", "model": "gpt-5-codex", "approval_policy": "on-request"}),
            ),
            codex_msg("2026-04-05T10:00:03.000Z", "user", "Why does test_retry_backoff flake?"),
            codex_msg(
                "2026-04-05T10:00:09.000Z",
                "assistant",
                "It sleeps on the real clock; pausing tokio time fixes it.",
            ),
            codex(
                "2026-04-05T11:30:00.000Z",
                "compacted",
                json!({"message": summary, "replacement_history": [
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Why does test_retry_backoff flake?"}]},
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": summary}]}
                ]}),
            ),
            // A remote compaction leaves the summary on the server: nothing to add.
            codex("2026-04-05T11:30:01.000Z", "compacted", json!({"message": "", "replacement_history": []})),
            codex_msg("2026-04-05T11:31:00.000Z", "user", "Apply the same to test_retry_jitter"),
            codex_msg("2026-04-05T11:31:07.000Z", "assistant", "Done: both tests run on a paused clock."),
        ],
    );
    write_jsonl(
        &sb,
        &format!(".codex/sessions/2026/04/05/rollout-2026-04-05T10-05-00-{child}.jsonl"),
        &[
            codex(
                "2026-04-05T10:05:00.000Z",
                "session_meta",
                json!({"id": child, "timestamp": "2026-04-05T10:05:00.000Z", "cwd": "/home/dev/queue",
                       "originator": "codex_cli_rs", "cli_version": "0.99.0",
                       "source": {"subagent": {"thread_spawn": {"parent_thread_id": parent, "depth": 1,
                                  "agent_nickname": "Scout", "agent_role": "explorer"}}}}),
            ),
            codex_msg("2026-04-05T10:05:01.000Z", "user", "List every test that calls tokio::time::sleep"),
            codex_msg("2026-04-05T10:05:20.000Z", "assistant", "Two: test_retry_backoff and test_retry_jitter."),
        ],
    );
    write_jsonl(
        &sb,
        &format!(".codex/sessions/2026/04/06/rollout-2026-04-06T07-00-00-{exec}.jsonl"),
        &[
            codex(
                "2026-04-06T07:00:00.000Z",
                "session_meta",
                json!({"id": exec, "timestamp": "2026-04-06T07:00:00.000Z", "cwd": "/srv/ci/queue",
                       "originator": "codex_exec", "cli_version": "0.99.0", "source": "exec"}),
            ),
            codex_msg("2026-04-06T07:00:01.000Z", "user", "Summarise the failing CI job"),
            codex_msg("2026-04-06T07:00:15.000Z", "assistant", "The lint step fails on an unused import."),
        ],
    );
    // The TypeScript CLI's whole-document rollout: no per-item times (the
    // session's is used), no workspace.
    let legacy = "5d8e2f10-3b4a-4c5d-9e6f-7a8b9c0d1e2f";
    let doc = json!({
        "session": {"timestamp": "2025-04-20T15:00:00.000Z", "id": legacy, "instructions": ""},
        "items": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Explain the Makefile's dist target"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "It tars build/ with the version in the name."}]},
            {"type": "reasoning", "summary": []}
        ]
    });
    std::fs::write(sb.home().join(format!(".codex/sessions/rollout-2025-04-20-{legacy}.json")), doc.to_string())
        .unwrap();

    let report = index_no_semantic(&sb);
    let cx = agent_entry(&report, "codex");
    assert_eq!((cx["files"].as_u64(), cx["malformed_total"].as_u64()), (Some(4), Some(0)), "{cx}");
    let origins: Vec<&str> = cx["roots"].as_array().unwrap().iter().filter_map(|r| r["path"].as_str()).collect();
    assert!(origins.iter().any(|p| p.ends_with(".codex/archived_sessions")), "{cx}");

    let db = sb.db();
    assert_eq!(roles(&db, parent), ["user", "assistant", "system", "user", "assistant"]);
    assert_eq!(messages_of(&db, parent)[2].1, summary);
    let gpt = Some("gpt-5-codex");
    assert_eq!(
        full_messages(&db, parent)[3..],
        [
            row("user", None, Some(ms("2026-04-05T11:31:00Z")), "Apply the same to test_retry_jitter"),
            row("assistant", gpt, Some(ms("2026-04-05T11:31:07Z")), "Done: both tests run on a paused clock."),
        ]
    );
    assert_eq!(
        conversation_row(&db, parent),
        conv(
            "Why does test_retry_backoff flake?",
            Some("/home/dev/queue"),
            ms("2026-04-05T10:00:03Z"),
            ms("2026-04-05T11:31:07Z"),
            5
        )
    );
    assert_eq!(
        conversation_row(&db, child),
        conv(
            "List every test that calls tokio::time::sleep",
            Some("/home/dev/queue"),
            ms("2026-04-05T10:05:01Z"),
            ms("2026-04-05T10:05:20Z"),
            2
        )
    );
    assert_eq!(
        conversation_row(&db, exec),
        conv(
            "Summarise the failing CI job",
            Some("/srv/ci/queue"),
            ms("2026-04-06T07:00:01Z"),
            ms("2026-04-06T07:00:15Z"),
            2
        )
    );
    let at = Some(ms("2025-04-20T15:00:00Z"));
    assert_eq!(
        full_messages(&db, legacy),
        [
            row("user", None, at, "Explain the Makefile's dist target"),
            row("assistant", None, at, "It tars build/ with the version in the name."),
        ]
    );
    assert_eq!(conversation_row(&db, legacy).0.as_deref(), Some("Explain the Makefile's dist target"));
    let total: i64 = db.query_row("SELECT COUNT(*) FROM conversations", [], |r| r.get(0)).unwrap();
    assert_eq!(total, 4);
}

/// Cursor under WSL: the Windows app keeps its data in the Windows profile,
/// `/mnt/c/Users/<name>/AppData/Roaming/Cursor/User` (here a sandbox folder
/// named by `CASS_WSL_WINDOWS_USERS`); it is read as on Windows. Windows'
/// own `Public` profile is not a user's, and a profile without Cursor adds
/// no root.
#[cfg(target_os = "linux")]
#[test]
fn cursor_windows_profile_is_read_under_wsl() {
    let sb = Sandbox::new();
    let users = sb.dir.path().join("mnt/c/Users");
    let global = "AppData/Roaming/Cursor/User/globalStorage";
    let db = own_fixtures().join(".config/Cursor/User/globalStorage/state.vscdb");
    for profile in ["dev", "Public"] {
        std::fs::create_dir_all(users.join(profile).join(global)).unwrap();
        std::fs::copy(&db, users.join(profile).join(global).join("state.vscdb")).unwrap();
    }
    std::fs::create_dir_all(users.join("guest/AppData/Roaming")).unwrap();
    let out =
        sb.cass().args(["index", "--no-semantic", "--json"]).env("CASS_WSL_WINDOWS_USERS", &users).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cursor = agent_entry(&report, "cursor");
    assert_eq!((cursor["files"].as_u64(), cursor["conversations"].as_u64()), (Some(1), Some(2)), "{cursor}");
    let wsl: Vec<&str> = cursor["roots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["origin"] == "WSL (Windows profile)")
        .filter_map(|r| r["path"].as_str())
        .collect();
    let profile = users.join("dev/AppData/Roaming/Cursor/User");
    assert_eq!(
        wsl,
        [profile.join("globalStorage").to_str().unwrap(), profile.join("workspaceStorage").to_str().unwrap()]
    );

    let db = sb.db();
    let comp = "9f3e1c2a-7b6d-4e5f-8a9b-0c1d2e3f4a5b";
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
    assert_eq!(roles(&db, comp), ["user", "assistant", "tool", "assistant", "assistant"]);
    let source: String =
        db.query_row("SELECT source_path FROM conversations WHERE external_id = ?1", [comp], |r| r.get(0)).unwrap();
    assert!(source.contains("/Users/dev/AppData/Roaming/Cursor/"), "{source}");
}

/// Pi-Agent: sessions in `PI_SESSIONS_DIR` are read besides the default
/// `~/.pi/agent/sessions`, and Oh My Pi's `~/.omp/agent/sessions` too.
#[test]
fn pi_sessions_dir_and_oh_my_pi() {
    let sb = Sandbox::new();
    let pi = |id: &str, ts: &str, cwd: &str, prompt: &str, reply: &str| -> Vec<Value> {
        vec![
            json!({"type": "session", "version": 3, "id": id, "timestamp": ts, "cwd": cwd,
                   "provider": "anthropic", "modelId": "claude-sonnet-4-5"}),
            json!({"type": "message", "id": "m1", "parentId": null, "timestamp": ts,
                   "message": {"role": "user", "content": [{"type": "text", "text": prompt}]}}),
            json!({"type": "message", "id": "m2", "parentId": "m1", "timestamp": ts,
                   "message": {"role": "assistant", "content": [{"type": "text", "text": reply}],
                               "provider": "anthropic", "model": "claude-sonnet-4-5"}}),
        ]
    };
    let custom = "1e2d3c4b-5a69-4788-9aab-bccddeeff001";
    let omp = "1e2d3c4b-5a69-4788-9aab-bccddeeff002";
    let home = "1e2d3c4b-5a69-4788-9aab-bccddeeff003";
    write_jsonl(
        &sb,
        &format!("pi-runs/--srv-bot--/2026-04-07T12-00-00-000Z_{custom}.jsonl"),
        &pi(custom, "2026-04-07T12:00:00.000Z", "/srv/bot", "Rotate the bot's API key", "Rotated; old key revoked."),
    );
    write_jsonl(
        &sb,
        &format!(".omp/agent/sessions/--home-dev-site--/2026-04-08T09-30-00-000Z_{omp}.jsonl"),
        &pi(omp, "2026-04-08T09:30:00.000Z", "/home/dev/site", "Fix the footer overlap", "Footer now clears the fold."),
    );
    write_jsonl(
        &sb,
        &format!(".pi/agent/sessions/--home-dev-site--/2026-04-09T16-45-00-000Z_{home}.jsonl"),
        &pi(home, "2026-04-09T16:45:00.000Z", "/home/dev/site", "Bump the linter", "Linter bumped to 9.1."),
    );
    let out = sb
        .cass()
        .args(["index", "--no-semantic", "--json"])
        .env("PI_SESSIONS_DIR", sb.home().join("pi-runs"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = agent_entry(&report, "pi_agent");
    assert_eq!((entry["files"].as_u64(), entry["conversations"].as_u64()), (Some(3), Some(3)), "{entry}");
    let origins: Vec<&str> = entry["roots"].as_array().unwrap().iter().filter_map(|r| r["origin"].as_str()).collect();
    assert_eq!(origins, ["default", "PI_SESSIONS_DIR", "default (Oh My Pi)"]);

    let db = sb.db();
    for (id, title, cwd, ts, n) in [
        (custom, "Rotate the bot's API key", "/srv/bot", "2026-04-07T12:00:00Z", 2),
        (omp, "Fix the footer overlap", "/home/dev/site", "2026-04-08T09:30:00Z", 2),
        (home, "Bump the linter", "/home/dev/site", "2026-04-09T16:45:00Z", 2),
    ] {
        assert_eq!(conversation_row(&db, id), conv(title, Some(cwd), ms(ts), ms(ts), n), "{id}");
        assert_eq!(roles(&db, id), ["user", "assistant"]);
    }
}

/// Amp rewrites a thread file as it grows, and its modification time does
/// not always move: a thread whose size changed is read again even with
/// the same mtime.
#[test]
fn amp_thread_grown_without_a_new_mtime_is_read_again() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".local/share/amp");
    let t = "T-7c1d9e2a-4b3f-4a6e-8d2c-5f0b1a9e3c7d";
    let path = sb.home().join(format!(".local/share/amp/threads/{t}.json"));
    index_no_semantic(&sb);
    assert_eq!(conversation_row(&sb.db(), t).4, 4);

    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    doc["messages"].as_array_mut().unwrap().push(json!({"role": "user", "messageId": 4,
        "content": [{"type": "text", "text": "Also pin the font in the CI image"}], "meta": {"sentAt": 1742800020000i64}}));
    std::fs::write(&path, doc.to_string()).unwrap();
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);

    index_no_semantic(&sb);
    let db = sb.db();
    assert_eq!(
        conversation_row(&db, t),
        conv("Flaky snapshot test in the renderer", Some("/home/dev/renderer"), 1742800001000, 1742800020000, 5)
    );
    assert_eq!(messages_of(&db, t)[4], ("user".to_string(), "Also pin the font in the CI image".to_string()));
}

/// Older Claude Code versions wrote a subagent's (Task tool's) records into
/// the main session file, marked `isSidechain: true`. They are the
/// subagent's conversation (`<session>/agent-<agentId>`), titled by its
/// prompt, with its own token usage; the session keeps only its own
/// records, also when more of both arrive and are read as a tail.
#[test]
fn claude_sidechain_records_inside_a_main_file_are_their_own_conversation() {
    let sb = Sandbox::new();
    let s = "5d2e1f0a-7b6c-4d8e-9f0a-1b2c3d4e5f61";
    let rel = format!(".claude/projects/-home-dev-ledger/{s}.jsonl");
    let side = |ts: &str, kind: &str, extra: Value| {
        let mut r = claude(s, kind, ts, extra);
        r["isSidechain"] = json!(true);
        r["agentId"] = json!("9f3a1c");
        r
    };
    let usage = |text: &str, id: &str| {
        json!({"requestId": format!("req-{id}"), "message": {"role": "assistant", "model": "claude-sonnet-4-5", "id": id,
               "content": [{"type": "text", "text": text}],
               "usage": {"input_tokens": 120, "output_tokens": 40, "cache_read_input_tokens": 0,
                         "cache_creation_input_tokens": 0}}})
    };
    write_jsonl(
        &sb,
        &rel,
        &[
            claude(s, "user", "2026-05-01T10:00:00.000Z", user("Find every caller of round_half_even")),
            claude(s, "assistant", "2026-05-01T10:00:02.000Z", assistant("Delegating the search to a subagent.")),
            side("2026-05-01T10:00:03.000Z", "user", user("Search the repository for callers of round_half_even")),
            side(
                "2026-05-01T10:00:09.000Z",
                "assistant",
                usage("Three callers: export.rs, totals.rs, report.rs.", "msg_side_1"),
            ),
            claude(
                s,
                "assistant",
                "2026-05-01T10:00:12.000Z",
                usage("The subagent found three callers.", "msg_main_1"),
            ),
        ],
    );
    let report = index_no_semantic(&sb);
    let cc = agent_entry(&report, "claude_code");
    assert_eq!((cc["files"].as_u64(), cc["malformed_total"].as_u64()), (Some(1), Some(0)), "{cc}");
    let db = sb.db();
    let sidechain = format!("{s}/agent-9f3a1c");
    assert_eq!(roles(&db, s), ["user", "assistant", "assistant"]);
    assert_eq!(messages_of(&db, s)[2].1, "The subagent found three callers.");
    assert_eq!(
        conversation_row(&db, s),
        conv(
            "Find every caller of round_half_even",
            Some("/home/dev/ledger"),
            ms("2026-05-01T10:00:00Z"),
            ms("2026-05-01T10:00:12Z"),
            3
        )
    );
    assert_eq!(
        messages_of(&db, &sidechain),
        [
            ("user".to_string(), "Search the repository for callers of round_half_even".to_string()),
            ("assistant".to_string(), "Three callers: export.rs, totals.rs, report.rs.".to_string()),
        ]
    );
    assert_eq!(
        conversation_row(&db, &sidechain),
        conv(
            "Search the repository for callers of round_half_even",
            Some("/home/dev/ledger"),
            ms("2026-05-01T10:00:03Z"),
            ms("2026-05-01T10:00:09Z"),
            2
        )
    );
    let usage_of = |db: &rusqlite::Connection, id: &str| -> i64 {
        db.query_row(
            "SELECT COUNT(*) FROM usage u JOIN conversations c ON c.id = u.conversation_id WHERE c.external_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!((usage_of(&db, s), usage_of(&db, &sidechain)), (1, 1));

    // More of both arrive; the next run reads only the tail.
    let path = sb.home().join(&rel);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for r in [
        side("2026-05-01T10:01:00.000Z", "user", user("Also check the benches")),
        side("2026-05-01T10:01:04.000Z", "assistant", assistant("benches/rounding.rs calls it too.")),
        claude(s, "user", "2026-05-01T10:02:00.000Z", user("Update all four callers")),
    ] {
        text.push_str(&r.to_string());
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    index_no_semantic(&sb);
    let db = sb.db();
    assert_eq!(roles(&db, s), ["user", "assistant", "assistant", "user"]);
    assert_eq!(roles(&db, &sidechain), ["user", "assistant", "user", "assistant"]);
    assert_eq!(
        conversation_row(&db, &sidechain).0.as_deref(),
        Some("Search the repository for callers of round_half_even"),
        "a tail's first prompt never renames the subagent's conversation"
    );
    let total: i64 =
        db.query_row("SELECT COUNT(*) FROM conversations WHERE agent = 'claude_code'", [], |r| r.get(0)).unwrap();
    assert_eq!(total, 2);
}
