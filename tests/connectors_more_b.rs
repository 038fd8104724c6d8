//! Connectors for Antigravity, OpenClaw, Clawdbot, Mistral Vibe, Hermes
//! Agent, Claude Desktop's session records and Kiro CLI: the project's own
//! fixtures (tests/fixtures/home, described in tests/fixtures/EXPECTED.md
//! sections 28–35) are laid out where each agent keeps them, indexed by the
//! real binary, and the store is checked exactly. Also: no fuzz seed is a
//! copy of a ../shared/fixtures file.

mod common;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;

fn append(path: &Path, text: &str) {
    std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap();
}

/// (model, input, output, cache_write, cache_read, reasoning) of each usage row of an agent.
fn usage_rows(db: &rusqlite::Connection, agent: &str) -> Vec<(String, i64, i64, i64, i64, i64)> {
    db.prepare("SELECT model, input, output, cache_write, cache_read, reasoning FROM usage WHERE agent = ?1 AND counted = 1 ORDER BY ts")
        .unwrap()
        .query_map([agent], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn error_lines(db: &rusqlite::Connection, path_part: &str) -> Vec<(i64, String)> {
    db.prepare("SELECT line, message FROM ingest_errors WHERE path LIKE ?1 ORDER BY line, message")
        .unwrap()
        .query_map([format!("%{path_part}%")], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn antigravity_transcript_steps_and_tail() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".gemini/antigravity-cli");
    let report = index_no_semantic(&sb);
    let a = agent_entry(&report, "antigravity");
    // transcript_full.jsonl repeats the transcript and is not a source.
    assert_eq!(
        (a["files"].as_u64(), a["conversations"].as_u64(), a["malformed_total"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    let db = sb.db();
    let id = "5c1e9a70-3d2b-4f8e-a6c4-9b0d7e2f1a38";
    assert_eq!(
        conversation_row(&db, id),
        conv(
            "Why does `make release` rebuild the docs every time?",
            None,
            ms("2026-05-04T13:20:11Z"),
            ms("2026-05-04T13:20:25Z"),
            7
        )
    );
    let flash = Some("Gemini 3 Flash");
    assert_eq!(
        full_messages(&db, id),
        vec![
            // The request unwrapped; metadata and settings blocks dropped.
            row("user", None, Some(ms("2026-05-04T13:20:11Z")), "Why does `make release` rebuild the docs every time?"),
            // Thinking stays out; the model comes from the settings change.
            row(
                "assistant",
                flash,
                Some(ms("2026-05-04T13:20:14Z")),
                "Let me look at the docs target in the Makefile."
            ),
            row(
                "tool",
                None,
                Some(ms("2026-05-04T13:20:15Z")),
                "File Path: `file:///home/dev/site/Makefile`\n12: docs: FORCE\n13: \tmkdocs build"
            ),
            row("assistant", flash, Some(ms("2026-05-04T13:20:19Z")), "[tool: run_command] make -q docs; echo $?"),
            row("tool", None, Some(ms("2026-05-04T13:20:19Z")), "make: 'docs' is up to date."),
            row(
                "assistant",
                flash,
                Some(ms("2026-05-04T13:20:24Z")),
                "`docs` depends on `FORCE`, a phony target, so it is always out of date. Depend on `$(wildcard docs/*.md)` instead — Grüße an die Doku ✅"
            ),
            row(
                "system",
                None,
                Some(ms("2026-05-04T13:20:25Z")),
                "The following is an <EPHEMERAL_MESSAGE>. Keep answers short."
            ),
        ]
    );
    assert_eq!(error_lines(&db, "transcript.jsonl").iter().map(|e| e.0).collect::<Vec<_>>(), [5]);

    // The transcript grows: only the new step is read, the model switch
    // read earlier still names the author.
    let path = sb.home().join(format!(".gemini/antigravity-cli/brain/{id}/.system_generated/logs/transcript.jsonl"));
    append(
        &path,
        "{\"step_index\":9,\"source\":\"MODEL\",\"type\":\"PLANNER_RESPONSE\",\"status\":\"DONE\",\"created_at\":\"2026-05-04T13:21:00Z\",\"content\":\"Also add `.PHONY: docs` only if you want the old behaviour.\"}\n",
    );
    let again = index_no_semantic(&sb);
    assert_eq!(again["files_appended"], 1);
    assert_eq!(agent_entry(&again, "antigravity")["malformed_total"], 1, "the bad line is not read twice");
    let m = full_messages(&sb.db(), id);
    assert_eq!(m.len(), 8);
    assert_eq!(
        m[7],
        row(
            "assistant",
            flash,
            Some(ms("2026-05-04T13:21:00Z")),
            "Also add `.PHONY: docs` only if you want the old behaviour."
        )
    );
}

#[test]
fn openclaw_agents_usage_and_state_dir() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".openclaw");
    let report = index_no_semantic(&sb);
    let o = agent_entry(&report, "openclaw");
    // sessions.json (the session map) is not a transcript.
    assert_eq!(
        (o["files"].as_u64(), o["conversations"].as_u64(), o["malformed_total"].as_u64()),
        (Some(2), Some(2), Some(1))
    );
    let db = sb.db();
    let main = "0f6d2b8e-91a4-4c3e-b7d5-2e8a1c9f4b60";
    assert_eq!(
        conversation_row(&db, main),
        conv(
            "Water the tomatoes at 6 and text me when done",
            Some("/home/dev/garden"),
            ms("2026-05-02T07:00:01Z"),
            ms("2026-05-02T07:00:05Z"),
            4
        )
    );
    let sonnet = Some("claude-sonnet-4-5");
    assert_eq!(
        full_messages(&db, main),
        vec![
            row("user", None, Some(ms("2026-05-02T07:00:01Z")), "Water the tomatoes at 6 and text me when done"),
            row(
                "assistant",
                sonnet,
                Some(ms("2026-05-02T07:00:03Z")),
                "Scheduling it.\n[tool: cron_add] valve open tomatoes"
            ),
            row("tool", None, Some(ms("2026-05-02T07:00:03.400Z")), "job 17 added for 18:00"),
            row(
                "assistant",
                sonnet,
                Some(ms("2026-05-02T07:00:05Z")),
                "Done: job 17 opens the tomato valve at 18:00 and I'll text you after."
            ),
        ]
    );
    // A non-default agent's sessions carry its name.
    let ops = "ops/7a3c5e91-2b4d-4f60-8e1a-c9d7b5f3a214";
    assert_eq!(
        conversation_row(&db, ops),
        conv(
            "Is the disk on nas01 above 80%?",
            Some("/srv/ops"),
            ms("2026-05-03T21:10:02Z"),
            ms("2026-05-03T21:10:06Z"),
            2
        )
    );
    assert_eq!(messages_of(&db, ops)[1], ("assistant".to_string(), "nas01 is at 71% (2.8 of 3.9 TB).".to_string()));
    assert_eq!(error_lines(&db, "7a3c5e91"), [(3, "message record has no message object".to_string())]);
    // Per-call usage: input without cache, both cache counts.
    assert_eq!(
        usage_rows(&db, "openclaw"),
        [
            ("claude-sonnet-4-5".to_string(), 1200, 48, 500, 3000, 0),
            ("claude-sonnet-4-5".to_string(), 1300, 22, 0, 3000, 0),
            ("gpt-5-mini".to_string(), 410, 19, 0, 0, 0),
        ]
    );

    // OPENCLAW_STATE_DIR relocates ~/.openclaw.
    let sb2 = Sandbox::new();
    copy_tree(&own_fixtures().join(".openclaw"), &sb2.home().join("state/oc"));
    let out = sb2
        .cass()
        .args(["index", "--no-semantic", "--json"])
        .env("OPENCLAW_STATE_DIR", sb2.home().join("state/oc"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let o = agent_entry(&report, "openclaw");
    assert_eq!(o["roots"][0]["origin"], "OPENCLAW_STATE_DIR");
    assert_eq!(o["files"], 2);
}

#[test]
fn clawdbot_flat_lines_with_bom() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".clawdbot");
    let report = index_no_semantic(&sb);
    let c = agent_entry(&report, "clawdbot");
    assert_eq!(
        (c["files"].as_u64(), c["conversations"].as_u64(), c["malformed_total"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    let db = sb.db();
    // Id: the path below sessions/, without the extension.
    let id = "telegram/chat-4471";
    assert_eq!(
        conversation_row(&db, id),
        conv("remind me to call the plumber at 9", None, ms("2026-01-10T17:00:00Z"), ms("2026-01-10T17:01:03Z"), 4)
    );
    assert_eq!(
        full_messages(&db, id),
        vec![
            // The first line starts with a byte order mark and still counts.
            row("user", None, Some(ms("2026-01-10T17:00:00Z")), "remind me to call the plumber at 9"),
            row(
                "assistant",
                None,
                Some(ms("2026-01-10T17:00:04Z")),
                "Reminder set for 09:00 tomorrow: call the plumber."
            ),
            row("user", None, Some(ms("2026-01-10T17:01:00Z")), "and buy Dübel for the shelf"),
            row("assistant", None, Some(ms("2026-01-10T17:01:03Z")), "Added Dübel to the shopping list."),
        ]
    );
    assert_eq!(error_lines(&db, "chat-4471").iter().map(|e| e.0).collect::<Vec<_>>(), [3]);

    // The agents/<agent>/sessions layout of the first Clawdbot builds is
    // found too, in OpenClaw's wrapped format.
    let dir = sb.home().join(".clawdbot/agents/main/sessions");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("s-9.jsonl"),
        "{\"type\":\"session\",\"version\":3,\"id\":\"s-9\",\"timestamp\":\"2026-01-11T08:00:00Z\",\"cwd\":\"/home/dev\"}\n\
         {\"type\":\"message\",\"id\":\"u\",\"timestamp\":\"2026-01-11T08:00:01Z\",\"message\":{\"role\":\"user\",\"content\":\"good morning\"}}\n",
    )
    .unwrap();
    let again = index_no_semantic(&sb);
    assert_eq!(agent_entry(&again, "clawdbot")["files"], 2);
    assert_eq!(
        conversation_row(&sb.db(), "s-9"),
        conv("good morning", Some("/home/dev"), ms("2026-01-11T08:00:01Z"), ms("2026-01-11T08:00:01Z"), 1)
    );
}

#[test]
fn vibe_both_layouts_and_appends() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".vibe");
    let report = index_no_semantic(&sb);
    let v = agent_entry(&report, "vibe");
    assert_eq!(
        (v["files"].as_u64(), v["conversations"].as_u64(), v["malformed_total"].as_u64()),
        (Some(2), Some(2), Some(0))
    );
    let db = sb.db();
    let id = "3fa2c1d8-77e0-4b1a-9c52-d0e4f6a8b913";
    let (start, end) = (ms("2026-04-02T09:15:00.120Z"), ms("2026-04-02T09:21:42.900Z"));
    assert_eq!(
        conversation_row(&db, id),
        conv("The `pytest -k slow` run hangs on CI — find out why", Some("/home/dev/netlib"), start, end, 5)
    );
    let devstral = Some("devstral-2");
    assert_eq!(
        full_messages(&db, id),
        vec![
            row("user", None, Some(start), "The `pytest -k slow` run hangs on CI — find out why"),
            // Reasoning stays out; the call's arguments are a JSON string.
            row("assistant", devstral, Some(end), "Let me look at the slow tests.\n[tool: grep] tests"),
            row("tool", None, Some(end), "tests/test_net.py:14:@pytest.mark.slow"),
            // A message Vibe injected itself is the harness speaking.
            row("system", None, Some(end), "Project context: uses uv"),
            row(
                "assistant",
                devstral,
                Some(end),
                "`test_net.py` opens a socket to 10.0.0.9 with no timeout; CI has no route there. Add `timeout=5` — ça devrait suffire."
            ),
        ]
    );
    // The older one-document layout: the system prompt is not a message.
    let old = "7b9e0a4c-1d2f-4e3a-8b5c-6d7e8f9a0b1c";
    assert_eq!(
        conversation_row(&db, old),
        conv(
            "Export the report as CSV with a BOM",
            Some("/home/dev/reports"),
            ms("2025-12-15T10:10:10.500Z"),
            ms("2025-12-15T10:12:30Z"),
            2
        )
    );
    assert_eq!(full_messages(&db, old)[1].1.as_deref(), Some("mistral-medium-3"));

    // Vibe appends the next turn and rewrites meta.json (a new end time, a
    // title the user chose): only the new lines are read, dated by the new end.
    let dir = sb.home().join(".vibe/logs/session/session_20260402_091500_3fa2c1d8");
    append(
        &dir.join("messages.jsonl"),
        "{\"role\":\"user\",\"content\":\"add the timeout then\"}\n{\"role\":\"assistant\",\"content\":\"Added `timeout=5`.\"}\n",
    );
    let meta = std::fs::read_to_string(dir.join("meta.json")).unwrap();
    let meta = meta
        .replace("2026-04-02T09:21:42.900000+00:00", "2026-04-02T09:25:00.000000+00:00")
        .replace("\"title_source\": \"auto\"", "\"title_source\": \"manual\"")
        .replace(
            "\"title\": \"The `pytest -k slow` run hangs on CI — find out why\"",
            "\"title\": \"Slow tests hang on CI\"",
        );
    std::fs::write(dir.join("meta.json"), meta).unwrap();
    let again = index_no_semantic(&sb);
    assert_eq!(again["files_appended"], 1);
    let db = sb.db();
    let later = ms("2026-04-02T09:25:00Z");
    assert_eq!(conversation_row(&db, id), conv("Slow tests hang on CI", Some("/home/dev/netlib"), start, later, 7));
    assert_eq!(full_messages(&db, id)[6], row("assistant", devstral, Some(later), "Added `timeout=5`."));
}

#[test]
fn hermes_sessions_usage_and_changes() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".hermes");
    let report = index_no_semantic(&sb);
    let h = agent_entry(&report, "hermes");
    assert_eq!(
        (h["files"].as_u64(), h["conversations"].as_u64(), h["malformed_total"].as_u64()),
        (Some(1), Some(2), Some(2))
    );
    let db = sb.db();
    let a = "20260410_081500_a1b2c3";
    let sonnet = Some("anthropic/claude-sonnet-4.5");
    // Times are REAL epoch seconds; the rewound row and the session_meta row are not messages.
    assert_eq!(
        conversation_row(&db, a),
        conv(
            "Rotate the nightly backup cron",
            Some("/home/dev/ops"),
            ms("2026-04-10T08:15:01.500Z"),
            ms("2026-04-10T08:16:30Z"),
            5
        )
    );
    assert_eq!(
        full_messages(&db, a),
        vec![
            row(
                "user",
                None,
                Some(ms("2026-04-10T08:15:01.500Z")),
                "Move the nightly backup from 03:00 to 02:30 and keep 14 days"
            ),
            row(
                "assistant",
                sonnet,
                Some(ms("2026-04-10T08:15:04Z")),
                "Checking the current crontab.\n[tool: terminal] crontab -l"
            ),
            row("tool", None, Some(ms("2026-04-10T08:15:05.250Z")), "0 3 * * * /usr/bin/backup --keep 7"),
            row(
                "assistant",
                sonnet,
                Some(ms("2026-04-10T08:16:00.750Z")),
                "Changed it to `30 2 * * *` with `--keep 14`; the old line is commented out."
            ),
            // Its tool_calls are cut short (reported); the text stays.
            row("assistant", sonnet, Some(ms("2026-04-10T08:16:30Z")), "Verified with `crontab -l`."),
        ]
    );
    let errors = error_lines(&db, "state.db");
    assert_eq!(errors.len(), 2);
    assert!(
        errors[0].1.contains("unknown role 'narrator'") && errors[1].1.contains("tool_calls is not JSON"),
        "{errors:?}"
    );
    // The compression child: its own conversation, titled by its first
    // prompt, with Hermes's own tool-call shape.
    let b = "20260410_090000_d4e5f6";
    assert_eq!(
        conversation_row(&db, b),
        conv("Did the 02:30 run finish?", None, ms("2026-04-10T09:00:01Z"), ms("2026-04-10T09:00:06Z"), 4)
    );
    assert_eq!(messages_of(&db, b)[1], ("assistant".to_string(), "[tool: read_file] /var/log/backup.log".to_string()));
    // Session totals, one row per session: cache apart from input, reasoning inside output.
    assert_eq!(
        usage_rows(&db, "hermes"),
        [
            ("anthropic/claude-sonnet-4.5".to_string(), 5200, 640, 800, 12000, 120),
            ("hermes-4-405b".to_string(), 300, 50, 0, 0, 0),
        ]
    );

    // Unchanged: skipped. A new message in session B (the agent writes in
    // WAL mode; the -wal alone must bring the database back) re-reads
    // only B, and its usage is replaced, not added.
    let again = index_no_semantic(&sb);
    assert_eq!(again["files_skipped"], again["files_scanned"]);
    let path = sb.home().join(".hermes/state.db");
    let writer = rusqlite::Connection::open(&path).unwrap();
    writer.pragma_update(None, "journal_mode", "wal").unwrap();
    writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    writer
        .execute_batch(&format!(
            "INSERT INTO messages (session_id, role, content, timestamp) VALUES ('{b}', 'user', 'and tomorrow too?', 1775811700.0);
             UPDATE sessions SET input_tokens = 420, output_tokens = 70 WHERE id = '{b}';"
        ))
        .unwrap();
    let third = index_no_semantic(&sb);
    assert_eq!(third["conversations_touched"], 1, "only the changed session is re-read");
    assert_eq!(agent_entry(&third, "hermes")["malformed_total"], 2, "the unchanged session's errors still count once");
    let db = sb.db();
    assert_eq!(messages_of(&db, b).len(), 5);
    assert_eq!(usage_rows(&db, "hermes")[1], ("hermes-4-405b".to_string(), 420, 70, 0, 0, 0));
    assert_eq!(usage_rows(&db, "hermes").len(), 2);
    drop(writer);
}

#[test]
fn claude_desktop_session_records() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".config/Claude");
    let report = index_no_semantic(&sb);
    let c = agent_entry(&report, "claude_desktop");
    // Upload folders (local_<uuid>/) and skills-plugin/ are not walked.
    assert_eq!((c["files"].as_u64(), c["conversations"].as_u64()), (Some(1), Some(1)));
    let db = sb.db();
    // Keyed by the Claude Code session it stands for.
    let id = "e4a1c9d2-5b6f-4a70-8c3e-1f2a3b4c5d6e";
    let t = ms("2026-04-29T23:00:00Z");
    assert_eq!(conversation_row(&db, id), conv("Tidy the logging setup", Some("/Users/me/app"), t, t, 1));
    assert_eq!(
        full_messages(&db, id),
        vec![row(
            "system",
            None,
            Some(t),
            "Claude Desktop session: Tidy the logging setup\nworkspace: /Users/me/app\nmodel: claude-opus-4-1\nClaude Code session: e4a1c9d2-5b6f-4a70-8c3e-1f2a3b4c5d6e\nClaude Desktop id: local_2b8d4f60-1a3c-4e5f-9a7b-c0d1e2f3a4b5"
        )]
    );
}

#[test]
fn kiro_event_log_and_snapshot() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".kiro");
    let report = index_no_semantic(&sb);
    let k = agent_entry(&report, "kiro");
    // The .json snapshot and the .lock are not logs.
    assert_eq!(
        (k["files"].as_u64(), k["conversations"].as_u64(), k["malformed_total"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    let db = sb.db();
    let id = "6d1f3b2a-8c4e-4a5f-9b0d-2e7c1a6f8b34";
    let (t1, t2) = (ms("2026-08-06T09:53:20Z"), ms("2026-08-06T10:02:50Z"));
    assert_eq!(conversation_row(&db, id), conv("Add retries", Some("/home/dev/svc"), t1, t2, 6));
    let sonnet = Some("claude-sonnet-4.5");
    assert_eq!(
        full_messages(&db, id),
        vec![
            row("user", None, Some(t1), "Add retries to the S3 upload in uploader.py"),
            // Thinking stays out; replies and results take the prompt's time.
            row("assistant", sonnet, Some(t1), "Reading the uploader first.\n[tool: fs_read] svc/uploader.py"),
            row("tool", None, Some(t1), "def upload(path):\n    s3.put_object(Bucket=B, Key=path)"),
            row("assistant", sonnet, Some(t1), "Wrapped `put_object` in a retry with exponential backoff (3 tries)."),
            row("user", None, Some(t2), "Thanks — also log each retry"),
            row("assistant", sonnet, Some(t2), "Each retry now logs at WARNING with the attempt number."),
        ]
    );
    assert_eq!(error_lines(&db, ".jsonl"), [(6, "record has no kind".to_string())]);

    // Appended records are read from where the last read stopped; they
    // keep the last prompt's time.
    append(
        &sb.home().join(format!(".kiro/sessions/cli/{id}.jsonl")),
        "{\"version\":\"v1\",\"kind\":\"AssistantMessage\",\"data\":{\"message_id\":\"m4\",\"content\":[{\"kind\":\"text\",\"data\":\"Also added a unit test.\"}]}}\n",
    );
    let again = index_no_semantic(&sb);
    assert_eq!(again["files_appended"], 1);
    assert_eq!(full_messages(&sb.db(), id)[6], row("assistant", sonnet, Some(t2), "Also added a unit test."));
}

/// Every regular file below `dir`.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            out.extend(files_below(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The file's SHA-256, and the SHA-256 of its bytes without ASCII
/// whitespace (a copy re-indented or with other line ends is still a copy).
fn digests(path: &Path) -> [[u8; 32]; 2] {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).unwrap();
    let squeezed: Vec<u8> = bytes.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    [Sha256::digest(&bytes).into(), Sha256::digest(&squeezed).into()]
}

/// ../shared/fixtures are another project's files under their own licence:
/// a fuzz seed must be written for cass, never copied from there.
#[test]
fn no_fuzz_seed_is_a_copy_of_a_shared_fixture() {
    let Some(shared) = shared_fixtures() else { return };
    let mut theirs = std::collections::HashMap::new();
    for path in files_below(&shared) {
        for d in digests(&path) {
            theirs.insert(d, path.clone());
        }
    }
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let copies: Vec<String> = files_below(&corpus)
        .into_iter()
        .filter_map(|seed| {
            let d = digests(&seed);
            d.iter().find_map(|d| theirs.get(d)).map(|from| format!("{} = {}", seed.display(), from.display()))
        })
        .collect();
    assert!(copies.is_empty(), "fuzz seeds copied from ../shared/fixtures:\n{}", copies.join("\n"));
}
