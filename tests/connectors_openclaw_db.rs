//! OpenClaw 2.0's SQLite transcript store: databases built here with real
//! SQLite and real Zstandard frames, in OpenClaw's own layout
//! (`~/.openclaw/agents/<agent>/agent/openclaw-agent.sqlite`, file archives
//! in `agents/<agent>/sessions/cold/`), indexed by the real binary, and the
//! store checked exactly: live rows, a compressed event, a damaged one,
//! cold archives in a file and in the database, a session both stores
//! hold, and a refresh that reads only the session that grew.

mod common;
use std::path::Path;

use common::*;
use rusqlite::{Connection, params};
use serde_json::json;
use sha2::Digest;

const HOT: &str = "3c9e7a52-1d84-4b6f-9a20-6e5f1b2c7d01";
const COLD: &str = "3c9e7a52-1d84-4b6f-9a20-6e5f1b2c7d02";
const W1: &str = "3c9e7a52-1d84-4b6f-9a20-6e5f1b2c7d03";
const W0: &str = "3c9e7a52-1d84-4b6f-9a20-6e5f1b2c7d04";
const W2: &str = "3c9e7a52-1d84-4b6f-9a20-6e5f1b2c7d05";

/// The tables cass reads, with the columns OpenClaw's schema gives them
/// (and the active-event projection and session windows beside them).
const SCHEMA: &str = "
    CREATE TABLE session_windows(session_id TEXT PRIMARY KEY, session_key TEXT, created_at INTEGER);
    CREATE TABLE transcript_events(session_id TEXT NOT NULL, seq INTEGER NOT NULL, event_json TEXT,
        created_at INTEGER NOT NULL, event_zstd BLOB, event_utf8_bytes INTEGER, navigation_json TEXT,
        PRIMARY KEY(session_id, seq));
    CREATE TABLE session_transcript_active_events(session_id TEXT NOT NULL, active_position INTEGER NOT NULL,
        event_seq INTEGER NOT NULL, message_position INTEGER, context_eligible INTEGER,
        PRIMARY KEY(session_id, active_position));
    CREATE TABLE session_transcript_cold_archives(session_id TEXT PRIMARY KEY, generation TEXT NOT NULL,
        archive_name TEXT NOT NULL, archive_sha256 TEXT NOT NULL, event_count INTEGER NOT NULL,
        raw_bytes INTEGER NOT NULL, archive_bytes INTEGER NOT NULL, last_seq INTEGER NOT NULL,
        archived_at INTEGER NOT NULL, storage TEXT NOT NULL, archive_blob BLOB);";

fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

fn sha256_hex(data: &[u8]) -> String {
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn header(id: &str, ts: &str, cwd: &str) -> serde_json::Value {
    json!({"type": "session", "version": 3, "id": id, "timestamp": ts, "cwd": cwd})
}

fn user(id: &str, ts: &str, text: &str) -> serde_json::Value {
    json!({"type": "message", "id": id, "timestamp": ts,
           "message": {"role": "user", "content": [{"type": "text", "text": text}]}})
}

fn assistant(id: &str, ts: &str, text: &str, model: &str, usage: Option<[u64; 4]>) -> serde_json::Value {
    let mut msg = json!({"role": "assistant", "content": [{"type": "text", "text": text}], "model": model});
    if let Some([input, output, read, write]) = usage {
        msg["usage"] = json!({"input": input, "output": output, "cacheRead": read, "cacheWrite": write});
    }
    json!({"type": "message", "id": id, "timestamp": ts, "message": msg})
}

fn open_db(home: &Path, agent: &str) -> Connection {
    let path = home.join(format!(".openclaw/agents/{agent}/agent/openclaw-agent.sqlite"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let db = Connection::open(path).unwrap();
    db.execute_batch(SCHEMA).unwrap();
    db
}

fn insert(db: &Connection, sid: &str, seq: i64, event: &serde_json::Value, created_at: i64) {
    db.execute(
        "INSERT INTO transcript_events (session_id, seq, event_json, created_at, event_utf8_bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![sid, seq, event.to_string(), created_at, event.to_string().len() as i64],
    )
    .unwrap();
}

/// A compressed row as OpenClaw writes a large event; `claimed` is the
/// decoded length the row records.
fn insert_zstd(db: &Connection, sid: &str, seq: i64, event: &serde_json::Value, created_at: i64, claimed: i64) {
    let text = event.to_string();
    db.execute(
        "INSERT INTO transcript_events (session_id, seq, event_json, created_at, event_zstd, event_utf8_bytes)
         VALUES (?1, ?2, NULL, ?3, ?4, ?5)",
        params![sid, seq, created_at, zstd(text.as_bytes()), claimed],
    )
    .unwrap();
}

/// A cold envelope as OpenClaw's archiver writes it: a header line, event
/// lines, then its own index records, zstd-compressed.
fn envelope(sid: &str, events: &[serde_json::Value]) -> Vec<u8> {
    let mut lines = vec![json!({"kind": "header", "version": 1, "sessionId": sid, "generation": "g1"})];
    for (seq, e) in events.iter().enumerate() {
        lines.push(json!({"kind": "event", "row": {"seq": seq, "event_json": e.to_string(), "created_at": 0}}));
    }
    lines.push(json!({"kind": "active", "row": {"active_position": 0, "event_seq": 1, "message_position": 0, "context_eligible": 1}}));
    lines.push(json!({"kind": "index", "row": {"indexed_seq": 2, "leaf_event_id": null, "needs_rebuild": 0,
        "active_event_count": 1, "active_message_count": 1, "updated_at": 0}}));
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    zstd(text.as_bytes())
}

fn archive_row(db: &Connection, sid: &str, bytes: &[u8], sha: &str, storage: &str) -> String {
    let name = format!("{}.jsonl.zst", sha256_hex(bytes));
    let blob = (storage == "sqlite").then_some(bytes);
    db.execute(
        "INSERT INTO session_transcript_cold_archives (session_id, generation, archive_name, archive_sha256,
           event_count, raw_bytes, archive_bytes, last_seq, archived_at, storage, archive_blob)
         VALUES (?1, 'g1', ?2, ?3, 3, 0, ?4, 2, 0, ?5, ?6)",
        params![sid, name, sha, bytes.len() as i64, storage, blob],
    )
    .unwrap();
    name
}

/// The compressed event whose row records 3 bytes more than it holds.
fn lost_event() -> serde_json::Value {
    assistant("a2", "2026-08-03T09:00:30.000Z", &"lost ".repeat(300), "claude-sonnet-4-5", None)
}

/// The long answer stored compressed (over OpenClaw's 1 KiB threshold).
fn long_plan() -> String {
    (1..=40).map(|d| format!("Day {d}: water the beds at 06:00 for 12 minutes.")).collect::<Vec<_>>().join("\n")
}

fn build(home: &Path) {
    let main = open_db(home, "main");
    let sonnet = "claude-sonnet-4-5";
    insert(&main, HOT, 0, &header(HOT, "2026-08-03T09:00:00.000Z", "/home/dev/garden"), ms("2026-08-03T09:00:00Z"));
    insert(
        &main,
        HOT,
        1,
        &json!({"type": "model_change", "id": "mc1", "timestamp": "2026-08-03T09:00:00.100Z", "provider": "anthropic", "modelId": sonnet}),
        ms("2026-08-03T09:00:00.100Z"),
    );
    insert(
        &main,
        HOT,
        2,
        &user("u1", "2026-08-03T09:00:01.000Z", "Plan the irrigation for next week"),
        ms("2026-08-03T09:00:01Z"),
    );
    let plan = assistant("a1", "2026-08-03T09:00:09.000Z", &long_plan(), sonnet, Some([900, 640, 2000, 300]));
    insert_zstd(&main, HOT, 3, &plan, ms("2026-08-03T09:00:09Z"), plan.to_string().len() as i64);
    // Damaged: the frame decodes to fewer bytes than the row records.
    let lost = lost_event();
    insert_zstd(&main, HOT, 4, &lost, ms("2026-08-03T09:00:30Z"), lost.to_string().len() as i64 + 3);
    // No time of its own: the row's created_at dates it.
    let untimed = json!({"type": "message", "id": "u2", "message": {"role": "user", "content": "Skip Sunday"}});
    insert(&main, HOT, 5, &untimed, ms("2026-08-03T09:01:00Z"));
    let done =
        assistant("a3", "2026-08-03T09:01:02.000Z", "Done: Sunday is skipped.", sonnet, Some([1000, 12, 2600, 0]));
    insert(&main, HOT, 6, &done, ms("2026-08-03T09:01:02Z"));

    // A session moved to a cold file archive.
    let cold = envelope(
        COLD,
        &[
            header(COLD, "2026-06-01T18:00:00.000Z", "/home/dev/shed"),
            user("u1", "2026-06-01T18:00:01.000Z", "When did I last oil the mower?"),
            assistant(
                "a1",
                "2026-06-01T18:00:04.000Z",
                "On 12 May, per your notes.",
                "gpt-5-mini",
                Some([210, 9, 0, 0]),
            ),
        ],
    );
    let name = archive_row(&main, COLD, &cold, &sha256_hex(&cold), "file");
    let dir = home.join(".openclaw/agents/main/sessions/cold");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), &cold).unwrap();

    // The pre-migration JSONL of the live session, still beside it.
    let stale = format!(
        "{}\n{}\n",
        header(HOT, "2026-08-03T09:00:00.000Z", "/home/dev/garden"),
        user("u1", "2026-08-03T09:00:01.000Z", "Plan the irrigation for next week")
    );
    std::fs::write(home.join(format!(".openclaw/agents/main/sessions/{HOT}.jsonl")), stale).unwrap();

    let work = open_db(home, "work");
    insert(&work, W1, 0, &header(W1, "2026-07-15T21:10:00.000Z", "/srv/ops"), ms("2026-07-15T21:10:00Z"));
    insert(
        &work,
        W1,
        1,
        &user("u1", "2026-07-15T21:10:02.000Z", "Is the disk on nas02 above 80%?"),
        ms("2026-07-15T21:10:02Z"),
    );
    insert(
        &work,
        W1,
        2,
        &assistant("a1", "2026-07-15T21:10:06.000Z", "nas02 is at 64%.", "gpt-5-mini", None),
        ms("2026-07-15T21:10:06Z"),
    );
    // A cold archive kept in the database.
    let blob = envelope(
        W0,
        &[
            header(W0, "2026-05-20T07:00:00.000Z", "/srv/ops"),
            user("u1", "2026-05-20T07:00:01.000Z", "Rotate the nginx logs"),
            assistant("a1", "2026-05-20T07:00:03.000Z", "Rotated; 3 files compressed.", "gpt-5-mini", None),
        ],
    );
    archive_row(&work, W0, &blob, &sha256_hex(&blob), "sqlite");
    // One whose bytes do not match their digest: reported, nothing indexed.
    let bad = envelope(
        W2,
        &[header(W2, "2026-05-21T07:00:00.000Z", "/srv/ops"), user("u1", "2026-05-21T07:00:01.000Z", "garbage")],
    );
    archive_row(&work, W2, &bad, &"0".repeat(64), "sqlite");
}

fn errors(db: &Connection) -> Vec<String> {
    db.prepare("SELECT message FROM ingest_errors WHERE path LIKE '%openclaw-agent.sqlite' ORDER BY message")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn usage_rows(db: &Connection) -> Vec<(String, i64, i64, i64, i64)> {
    db.prepare("SELECT model, input, output, cache_write, cache_read FROM usage WHERE agent = 'openclaw' AND counted = 1 ORDER BY ts")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn openclaw_sqlite_store_hot_cold_compressed_and_refresh() {
    let sb = Sandbox::new();
    build(&sb.home());
    let report = index_no_semantic(&sb);
    let o = agent_entry(&report, "openclaw");
    // Two databases and the stale JSONL (left to the database).
    assert_eq!(
        (o["files"].as_u64(), o["conversations"].as_u64(), o["malformed_total"].as_u64()),
        (Some(3), Some(4), Some(2)),
        "{o}"
    );
    let db = sb.db();
    let n: i64 = db.query_row("SELECT COUNT(*) FROM conversations WHERE agent = 'openclaw'", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 4, "the session both stores hold is one conversation");
    let sonnet = Some("claude-sonnet-4-5");
    assert_eq!(
        conversation_row(&db, HOT),
        conv(
            "Plan the irrigation for next week",
            Some("/home/dev/garden"),
            ms("2026-08-03T09:00:01Z"),
            ms("2026-08-03T09:01:02Z"),
            4
        )
    );
    assert_eq!(
        full_messages(&db, HOT),
        vec![
            row("user", None, Some(ms("2026-08-03T09:00:01Z")), "Plan the irrigation for next week"),
            row("assistant", sonnet, Some(ms("2026-08-03T09:00:09Z")), &long_plan()),
            row("user", None, Some(ms("2026-08-03T09:01:00Z")), "Skip Sunday"),
            row("assistant", sonnet, Some(ms("2026-08-03T09:01:02Z")), "Done: Sunday is skipped."),
        ]
    );
    let src: String =
        db.query_row("SELECT source_path FROM conversations WHERE external_id = ?1", [HOT], |r| r.get(0)).unwrap();
    assert!(src.ends_with("agents/main/agent/openclaw-agent.sqlite"), "{src}");
    // The cold file archive: the whole session.
    assert_eq!(
        conversation_row(&db, COLD),
        conv(
            "When did I last oil the mower?",
            Some("/home/dev/shed"),
            ms("2026-06-01T18:00:01Z"),
            ms("2026-06-01T18:00:04Z"),
            2
        )
    );
    assert_eq!(messages_of(&db, COLD)[1], ("assistant".to_string(), "On 12 May, per your notes.".to_string()));
    // The other agent's sessions carry its name, hot and archived in the database.
    let w1 = format!("work/{W1}");
    assert_eq!(
        conversation_row(&db, &w1),
        conv(
            "Is the disk on nas02 above 80%?",
            Some("/srv/ops"),
            ms("2026-07-15T21:10:02Z"),
            ms("2026-07-15T21:10:06Z"),
            2
        )
    );
    assert_eq!(
        full_messages(&db, &format!("work/{W0}")),
        vec![
            row("user", None, Some(ms("2026-05-20T07:00:01Z")), "Rotate the nginx logs"),
            row("assistant", Some("gpt-5-mini"), Some(ms("2026-05-20T07:00:03Z")), "Rotated; 3 files compressed."),
        ]
    );
    let errs = errors(&db);
    assert_eq!(errs.len(), 2, "{errs:?}");
    let n = lost_event().to_string().len();
    assert_eq!(
        errs[0],
        format!("session {HOT} seq 4: compressed event decodes to {n} bytes, not the {} recorded", n + 3)
    );
    assert!(
        errs[1].starts_with(&format!("session {W2} cold archive ")) && errs[1].ends_with("fails its SHA-256 check")
    );
    assert_eq!(
        usage_rows(&db),
        [
            ("gpt-5-mini".to_string(), 210, 9, 0, 0),
            ("claude-sonnet-4-5".to_string(), 900, 640, 300, 2000),
            ("claude-sonnet-4-5".to_string(), 1000, 12, 0, 2600),
        ]
    );
    drop(db);

    // Unchanged: skipped. Rows appended to the live session (the agent
    // writes in WAL mode, so only the -wal changes) re-read that session only.
    let again = index_no_semantic(&sb);
    assert_eq!(again["files_skipped"], again["files_scanned"]);
    let path = sb.home().join(".openclaw/agents/main/agent/openclaw-agent.sqlite");
    let writer = Connection::open(&path).unwrap();
    writer.pragma_update(None, "journal_mode", "wal").unwrap();
    writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    insert(&writer, HOT, 7, &user("u3", "2026-08-03T10:00:00.000Z", "And Monday?"), ms("2026-08-03T10:00:00Z"));
    let monday = assistant(
        "a4",
        "2026-08-03T10:00:02.000Z",
        "Monday stays as planned.",
        "claude-sonnet-4-5",
        Some([1100, 8, 2600, 0]),
    );
    insert(&writer, HOT, 8, &monday, ms("2026-08-03T10:00:02Z"));
    let third = index_no_semantic(&sb);
    assert_eq!(third["conversations_touched"], 1, "only the session that grew is read: {third}");
    assert_eq!(agent_entry(&third, "openclaw")["malformed_total"], 2, "each error still counts once");
    let db = sb.db();
    assert_eq!(conversation_row(&db, HOT).4, 6);
    assert_eq!(messages_of(&db, HOT)[5], ("assistant".to_string(), "Monday stays as planned.".to_string()));
    assert_eq!(usage_rows(&db).len(), 4);
    assert_eq!(errors(&db).len(), 2);
    drop(writer);
}

#[test]
fn a_database_without_the_transcript_table_is_refused_and_jsonl_is_still_read() {
    let sb = Sandbox::new();
    let home = sb.home();
    let path = home.join(".openclaw/agents/main/agent/openclaw-agent.sqlite");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    Connection::open(&path).unwrap().execute_batch("CREATE TABLE kv(key TEXT, value TEXT);").unwrap();
    std::fs::create_dir_all(home.join(".openclaw/agents/main/sessions")).unwrap();
    std::fs::write(
        home.join(".openclaw/agents/main/sessions/s9.jsonl"),
        format!(
            "{}\n{}\n",
            header("s9", "2026-08-01T08:00:00.000Z", "/w"),
            user("u1", "2026-08-01T08:00:01.000Z", "hello there")
        ),
    )
    .unwrap();
    let report = index_no_semantic(&sb);
    let o = agent_entry(&report, "openclaw");
    assert_eq!((o["files"].as_u64(), o["conversations"].as_u64()), (Some(2), Some(1)), "{o}");
    let db = sb.db();
    assert_eq!(messages_of(&db, "s9"), [("user".to_string(), "hello there".to_string())]);
    let unreadable: String = db
        .query_row("SELECT message FROM ingest_errors WHERE path LIKE '%openclaw-agent.sqlite'", [], |r| r.get(0))
        .unwrap();
    assert!(unreadable.contains("not an OpenClaw agent database"), "{unreadable}");
}

#[test]
fn the_fuzz_seed_reaches_every_path() {
    let seed = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse_openclaw_db/seed0.sqlite"))
        .unwrap();
    let parsed = cass::fuzzing::run_target("parse_openclaw_db", &seed);
    // fz0 (archived in the row): 2 messages; fz1: 3, one of them
    // compressed; its second compressed row records a wrong length.
    assert_eq!((parsed.messages, parsed.malformed, parsed.error), (5, 1, None));
}

/// A session cass read from its JSONL transcript before OpenClaw moved it
/// into the agent's database is the database's from then on: one
/// conversation, not two, whether the old file is still there or gone.
#[test]
fn a_session_indexed_from_jsonl_before_the_migration_is_not_doubled() {
    let sb = Sandbox::new();
    let sessions = sb.home().join(".openclaw/agents/main/sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    let events = [
        header(HOT, "2026-08-01T08:00:00Z", "/home/dev/gw"),
        user("m1", "2026-08-01T08:00:01Z", "rotate the gateway's pelican token"),
        assistant("m2", "2026-08-01T08:00:05Z", "Rotated; the old token is revoked.", "claude-sonnet-4-5", None),
    ];
    let jsonl: String = events.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(sessions.join(format!("{HOT}.jsonl")), &jsonl).unwrap();
    let other = "3c9e7a52-1d84-4b6f-9a20-6e5f1b2c7d99";
    std::fs::write(
        sessions.join(format!("{other}.jsonl")),
        format!(
            "{}\n{}\n",
            header(other, "2026-08-01T09:00:00Z", "/home/dev/gw"),
            user("o1", "2026-08-01T09:00:01Z", "not migrated yet")
        ),
    )
    .unwrap();
    index_no_semantic(&sb);
    let count = |id: &str| -> i64 {
        sb.db().query_row("SELECT COUNT(*) FROM conversations WHERE external_id = ?1", [id], |r| r.get(0)).unwrap()
    };
    assert_eq!((count(HOT), count(other)), (1, 1));

    // The migration: the session moves into the database, the file goes.
    let db = open_db(&sb.home(), "main");
    for (seq, e) in events.iter().enumerate() {
        insert(&db, HOT, seq as i64 + 1, e, 1_785_571_200_000 + seq as i64);
    }
    drop(db);
    std::fs::remove_file(sessions.join(format!("{HOT}.jsonl"))).unwrap();
    index_no_semantic(&sb);
    assert_eq!((count(HOT), count(other)), (1, 1), "one conversation per session");
    let path: String =
        sb.db().query_row("SELECT source_path FROM conversations WHERE external_id = ?1", [HOT], |r| r.get(0)).unwrap();
    assert!(path.ends_with("openclaw-agent.sqlite"), "{path}");
    let hits = sb.json(&["search", "pelican", "--mode", "lexical"]);
    assert_eq!(hits["total"], 1, "found once: {hits}");
    assert_eq!(messages_of(&sb.db(), HOT).len(), 2);
}
