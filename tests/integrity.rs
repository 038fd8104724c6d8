//! The store and its derived indexes agree, whatever happens to them:
//! ids stay stable across `--full` and rewrites (so tiers re-embed only real
//! changes), a rewrite that keeps the head of a file is not taken for an
//! append, and a store deleted and built again is never answered from
//! tiers of the old one.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Sandbox, claude_line, copy_tree, own_fixtures};
use serde_json::Value;

/// (conversation external id, ordinal) → (message id, conversation id, content).
fn messages(sb: &Sandbox) -> BTreeMap<(String, i64), (i64, i64, String)> {
    let db = sb.db();
    let mut stmt = db
        .prepare(
            "SELECT c.agent || ':' || c.external_id, m.ordinal, m.id, c.id, m.content FROM messages m
             JOIN conversations c ON c.id = m.conversation_id",
        )
        .unwrap();
    stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?, r.get(4)?))))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn hit_ids(v: &Value) -> Vec<i64> {
    v["hits"].as_array().unwrap().iter().map(|h| h["message_id"].as_i64().unwrap()).collect()
}

#[test]
fn a_full_reindex_keeps_every_id_and_reembeds_nothing() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    let first = sb.json(&["index"]);
    assert!(first["semantic"]["published"].as_bool().unwrap(), "{first}");
    let before = messages(&sb);
    assert!(before.len() > 50);
    let semantic = sb.json(&["search", "dark mode toggle", "--mode", "semantic", "--limit", "10"]);
    let hybrid = sb.json(&["search", "settings page", "--limit", "10"]);

    let full = sb.json(&["index", "--full"]);
    assert_eq!(full["messages_added"], 0, "nothing changed, nothing written: {full}");
    assert_eq!(full["semantic"]["rows_embedded"], 0, "no row re-embedded");
    assert_eq!(full["semantic"]["rebuilt"], false);
    assert_eq!(messages(&sb), before, "every message and conversation keeps its id");
    assert_eq!(
        hit_ids(&sb.json(&["search", "dark mode toggle", "--mode", "semantic", "--limit", "10"])),
        hit_ids(&semantic)
    );
    assert_eq!(hit_ids(&sb.json(&["search", "settings page", "--limit", "10"])), hit_ids(&hybrid));
    assert!(sb.run(&["health"]).status.success());
}

/// A Claude Code session of `n` messages whose head (the first 4 KiB) is
/// long, so a rewrite past it is invisible to a head hash.
fn long_session(dir: &Path, n: usize, tag: &str) -> String {
    let mut text = String::new();
    for i in 0..n {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        let body = format!("{tag} message {i}: {}", "padding words for a long head ".repeat(14));
        text.push_str(&claude_line("sess-1", role, &body, &format!("2026-03-01T10:{:02}:00Z", i % 60), "/w"));
    }
    std::fs::create_dir_all(dir).unwrap();
    text
}

#[test]
fn a_rewrite_past_the_head_is_not_taken_for_an_append_and_keeps_unchanged_ids() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-w");
    let text = long_session(&dir, 40, "v1");
    let file = dir.join("sess-1.jsonl");
    std::fs::write(&file, &text).unwrap();
    sb.json(&["index", "--no-semantic"]);
    let before = messages(&sb);
    assert_eq!(before.len(), 40);

    // Same inode, same first 4 KiB, one message past the head changed, and
    // the file grown: the old length's tail is no longer what was read.
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[..10].iter().map(|l| l.len() + 1).sum::<usize>() > 4096, "the head holds ten lines");
    let mut rewritten: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let changed = lines[30].replace("v1 message 30", "v2 message 30 rewritten");
    rewritten = rewritten.replace(lines[30], &changed);
    rewritten.push_str(&claude_line("sess-1", "user", "one more at the end", "2026-03-01T11:00:00Z", "/w"));
    {
        use std::io::{Seek, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.write_all(rewritten.as_bytes()).unwrap();
    }
    let report = sb.json(&["index", "--no-semantic"]);
    assert_eq!(report["files_parsed"], 1, "read again in full, not as an append: {report}");
    let after = messages(&sb);
    assert_eq!(after.len(), 41);
    let contents: Vec<&str> = after.values().map(|(_, _, c)| c.as_str()).collect();
    assert!(contents.iter().any(|c| c.contains("v2 message 30 rewritten")));
    assert!(!contents.iter().any(|c| c.contains("v1 message 30:")), "no stale message kept");
    for (key, (id, conv, content)) in &before {
        let (new_id, new_conv, new_content) = &after[key];
        assert_eq!(new_conv, conv, "the conversation keeps its id");
        if key.1 == 30 {
            assert!(new_id > id, "the changed message gets a new, larger id");
        } else {
            assert_eq!((new_id, new_content), (id, content), "unchanged message {key:?} keeps its id");
        }
    }
    // The lexical index follows: the old text is gone, the new found.
    assert_eq!(sb.run(&["search", "v1", "message", "30", "--mode", "lexical"]).status.code(), Some(1));
    let found = sb.json(&["search", "rewritten", "--mode", "lexical"]);
    assert_eq!(hit_ids(&found), vec![after[&("claude_code:sess-1".to_string(), 30)].0]);
}

#[test]
fn a_recreated_store_is_never_answered_from_the_old_tiers() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    sb.json(&["index"]);
    let before = sb.json(&["search", "dark mode toggle", "--mode", "semantic", "--limit", "5"]);
    assert!(!hit_ids(&before).is_empty());

    // The obvious repair for a damaged db: delete it and index again,
    // here without the tier backfill, so the old tier is still on disk.
    for f in ["cass.db", "cass.db-wal", "cass.db-shm"] {
        let _ = std::fs::remove_file(sb.data().join(f));
    }
    // A different set of files this time, so old ids name other messages.
    std::fs::remove_dir_all(sb.home().join(".claude")).unwrap();
    sb.json(&["index", "--no-semantic"]);

    let asked = sb.run(&["search", "dark mode toggle", "--mode", "semantic", "--json"]);
    assert_eq!(asked.status.code(), Some(cass::cli::exit::NO_INDEX), "{}", String::from_utf8_lossy(&asked.stdout));
    let err: Value = serde_json::from_slice(&asked.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "stale_index");
    let default = sb.json(&["search", "toggle", "--limit", "20"]);
    assert_eq!(default["mode"], "lexical", "the default falls back to words");
    assert!(default["fallback"].as_str().unwrap().contains("another store"), "{default}");
    for h in default["hits"].as_array().unwrap() {
        assert!(h["snippet"]["text"].as_str().unwrap().to_lowercase().contains("toggle"), "{h}");
    }
    let health = sb.run(&["health", "--json"]);
    assert_eq!(health.status.code(), Some(1));
    let h: Value = serde_json::from_slice(&health.stdout).unwrap();
    assert!(h["problems"].as_array().unwrap().iter().any(|p| p["kind"] == "tier_stale"), "{h}");

    // The next index rebuilds the tier from the new store.
    let report = sb.json(&["index"]);
    assert_eq!(report["semantic"]["rebuilt"], true, "{report}");
    // Hybrid: the lexical half guarantees hits, the semantic half adds the
    // rebuilt tier's ids above its floor.
    let now = sb.json(&["search", "toggle", "--mode", "hybrid", "--tier", "fast", "--limit", "20"]);
    assert!(!hit_ids(&now).is_empty());
    let db = sb.db();
    for id in hit_ids(&now) {
        let exists: i64 = db.query_row("SELECT COUNT(*) FROM messages WHERE id = ?1", [id], |r| r.get(0)).unwrap();
        assert_eq!(exists, 1);
    }
    assert!(sb.run(&["health"]).status.success());
}

#[test]
fn every_file_cass_creates_is_private_whatever_the_umask() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    // Through a shell that sets the loosest umask first.
    let exe = env!("CARGO_BIN_EXE_cass");
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("umask 000; exec '{exe}' index -q")])
        .env("HOME", sb.home())
        .env("CASS_DATA_DIR", sb.data())
        .current_dir(sb.dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let mut checked = 0;
    let mut stack = vec![sb.data()];
    while let Some(p) = stack.pop() {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", p.display());
        checked += 1;
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    assert!(checked > 10, "store, lexical and tier files checked: {checked}");
}

/// Runs `cass index --json` with `CASS_TEST_SWAP` set, failing if it takes
/// longer than 30 s (a FIFO opened for reading blocks until a writer comes).
fn index_with_swap(sb: &Sandbox, swap: &str) -> Value {
    let mut child = sb
        .cass()
        .env("CASS_TEST_SWAP", swap)
        .args(["index", "--no-semantic", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("cass index hung on a swapped file ({swap})");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_fifo_or_symlink_swapped_in_after_discovery_is_refused_every_time() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-w");
    std::fs::create_dir_all(&dir).unwrap();
    let secret = sb.dir.path().join("outside-secret.jsonl");
    std::fs::write(
        &secret,
        claude_line("s", "user", "topsecretvalue outside the agent root", "2026-03-01T10:00:00Z", "/w"),
    )
    .unwrap();
    std::fs::write(
        dir.join("keep.jsonl"),
        claude_line("k", "user", "an ordinary session", "2026-03-01T10:00:00Z", "/w"),
    )
    .unwrap();
    for round in 0..20 {
        for swap in ["fifo", "link"] {
            let victim = dir.join("victim.jsonl");
            let _ = std::fs::remove_file(&victim);
            let text = format!("round {round} {swap} victim text");
            std::fs::write(&victim, claude_line("v", "user", &text, "2026-03-01T10:00:00Z", "/w")).unwrap();
            let spec = match swap {
                "fifo" => "fifo:victim.jsonl".to_string(),
                _ => format!("link:victim.jsonl:{}", secret.display()),
            };
            let report = index_with_swap(&sb, &spec);
            let unreadable = report["unreadable"].to_string();
            assert!(unreadable.contains("victim.jsonl"), "the swapped file is reported: {report}");
            assert!(
                unreadable.contains(if swap == "fifo" { "FIFO" } else { "symlink" }),
                "reported as what it is: {unreadable}"
            );
            let found = sb.run(&["search", "topsecretvalue", "--mode", "lexical"]);
            assert_eq!(found.status.code(), Some(1), "nothing outside the agent root is indexed");
            assert!(sb.run(&["search", "ordinary", "--mode", "lexical"]).status.success(), "the rest is indexed");
        }
    }
}

#[test]
fn a_giant_message_is_stored_cut_and_marked() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-w");
    std::fs::create_dir_all(&dir).unwrap();
    let giant = format!("needle-at-start {} needle-at-end", "x".repeat(3 << 20));
    let mut text = claude_line("g", "user", &giant, "2026-03-01T10:00:00Z", "/w");
    text.push_str(&claude_line("g", "assistant", "a normal answer", "2026-03-01T10:01:00Z", "/w"));
    std::fs::write(dir.join("g.jsonl"), text).unwrap();
    sb.json(&["index", "--no-semantic"]);
    let stored: String = sb.db().query_row("SELECT content FROM messages WHERE ordinal = 0", [], |r| r.get(0)).unwrap();
    assert!(stored.len() < (2 << 20) + 200, "cut to 2 MiB: {}", stored.len());
    assert!(stored.starts_with("needle-at-start") && stored.ends_with("are in the session file]"), "the cut is marked");
    assert!(sb.run(&["search", "needle-at-start", "--mode", "lexical"]).status.success());
    assert_eq!(sb.run(&["search", "needle-at-end", "--mode", "lexical"]).status.code(), Some(1));
    assert_eq!(messages(&sb).len(), 2, "the rest of the session is indexed");
}

#[test]
fn a_restored_store_backup_is_not_served_from_newer_indexes() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-w");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("s.jsonl");
    std::fs::write(&file, claude_line("s", "user", "first alpha message", "2026-03-01T10:00:00Z", "/w")).unwrap();
    sb.json(&["index"]);
    let backup = sb.dir.path().join("cass.db.bak");
    rusqlite::Connection::open(sb.data().join("cass.db"))
        .unwrap()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    std::fs::copy(sb.data().join("cass.db"), &backup).unwrap();
    // Newer messages indexed, then the old store put back.
    let mut more = std::fs::read_to_string(&file).unwrap();
    more.push_str(&claude_line("s", "assistant", "second bravo message", "2026-03-01T10:01:00Z", "/w"));
    std::fs::write(&file, more).unwrap();
    sb.json(&["index"]);
    for f in ["cass.db-wal", "cass.db-shm"] {
        let _ = std::fs::remove_file(sb.data().join(f));
    }
    std::fs::copy(&backup, sb.data().join("cass.db")).unwrap();
    let out = sb.run(&["search", "bravo", "--mode", "lexical", "--json"]);
    assert_eq!(out.status.code(), Some(cass::cli::exit::NO_INDEX), "{}", String::from_utf8_lossy(&out.stdout));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "stale_index");
    // The next index rebuilds both indexes from the restored store (and
    // reads the grown file again), after which every answer is consistent.
    sb.json(&["index"]);
    let found = sb.json(&["search", "bravo", "--mode", "lexical"]);
    assert!(found["hits"][0]["snippet"]["text"].as_str().unwrap().contains("bravo"));
    let sem = sb.json(&["search", "alpha", "--mode", "hybrid", "--tier", "fast", "--limit", "5"]);
    for h in sem["hits"].as_array().unwrap() {
        let id = h["message_id"].as_i64().unwrap();
        let n: i64 = sb.db().query_row("SELECT COUNT(*) FROM messages WHERE id = ?1", [id], |r| r.get(0)).unwrap();
        assert_eq!(n, 1, "every semantic hit is a stored message");
    }
    assert!(sb.run(&["health"]).status.success());
}
