//! Incremental indexing: unchanged files are skipped without a single write,
//! appended lines are read from the stored offset, rewritten files replace
//! their conversation, and only one writer runs at a time.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

fn write_session(home: &Path, name: &str, lines: &[String]) -> std::path::PathBuf {
    let dir = home.join(".claude/projects/-w");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, lines.concat()).unwrap();
    path
}

/// Every file under the data dir (but the lock file) with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if e.file_name() != "cass.lock" {
                out.insert(e.path().display().to_string(), std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

#[test]
fn rerun_with_nothing_changed_writes_nothing() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    let first = sb.json(&["index"]);
    assert!(first["messages_added"].as_u64().unwrap() > 0);
    let before = snapshot(&sb.data());
    let second = sb.json(&["index"]);
    assert_eq!(second["files_skipped"], second["files_scanned"]);
    assert_eq!(second["messages_added"], 0);
    let after = snapshot(&sb.data());
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (path, bytes) in &before {
        assert!(bytes == &after[path], "{path} changed on a no-op run");
    }
}

#[test]
fn a_relative_home_names_the_same_files_as_the_absolute_one() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    let first = sb.json(&["index", "--no-semantic"]);
    assert!(first["files_parsed"].as_u64().unwrap() > 1, "{first}");
    // The same home spelled relative to the working directory (the
    // sandbox's), and an agent's own variable too.
    let out = sb
        .cass()
        .env("HOME", "home")
        .env("CODEX_HOME", "home/.codex")
        .args(["index", "--no-semantic", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let second: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(second["files_parsed"], 0, "every file is the one already indexed: {second}");
    assert_eq!(second["messages_added"], 0, "{second}");
    assert_eq!(second["conversations"], first["conversations"], "no conversation twice: {second}");
}

#[test]
fn appended_lines_become_new_messages_with_higher_ids() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    let s = write_session(
        &sb.home(),
        "s1.jsonl",
        &[
            claude_line("s1", "user", "first question", "2026-01-01T00:00:00Z", "/w"),
            claude_line("s1", "assistant", "first answer", "2026-01-01T00:00:01Z", "/w"),
        ],
    );
    sb.json(&["index"]);
    let db = sb.db();
    let (max_before, count_before): (i64, i64) =
        db.query_row("SELECT MAX(id), COUNT(*) FROM messages", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    drop(db);

    let mut f = std::fs::OpenOptions::new().append(true).open(&s).unwrap();
    for i in 0..3 {
        f.write_all(claude_line("s1", "user", &format!("appended {i}"), "2026-01-01T00:01:00Z", "/w").as_bytes())
            .unwrap();
    }
    // A line still being written is not consumed yet.
    f.write_all(b"{\"type\":\"user\",\"sessionId\":\"s1\",\"mess").unwrap();
    drop(f);

    let report = sb.json(&["index"]);
    assert_eq!(report["files_appended"], 1);
    assert_eq!(report["files_parsed"], 0);
    assert_eq!(report["messages_added"], 3);
    assert_eq!(report["malformed"], 0);
    let db = sb.db();
    let count_after: i64 = db.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0)).unwrap();
    assert_eq!(count_after, count_before + 3);
    let new_ids: Vec<i64> = db
        .prepare("SELECT id FROM messages WHERE content LIKE 'appended %' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(new_ids.len(), 3);
    assert!(new_ids.iter().all(|&id| id > max_before));
    // Ordinals continue the conversation.
    let ords: Vec<i64> = db
        .prepare("SELECT m.ordinal FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.external_id = 's1' ORDER BY m.ordinal")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ords, [0, 1, 2, 3, 4]);
    drop(db);

    // Finishing the partial line adds exactly that message.
    let mut f = std::fs::OpenOptions::new().append(true).open(&s).unwrap();
    f.write_all(b"age\":{\"role\":\"user\",\"content\":\"completed later\"}}\n").unwrap();
    drop(f);
    let report = sb.json(&["index"]);
    assert_eq!(report["messages_added"], 1);
    assert_eq!(messages_of(&sb.db(), "s1").last().unwrap().1, "completed later");
}

#[test]
fn a_rewritten_file_replaces_its_conversation() {
    let sb = Sandbox::new();
    let s = write_session(
        &sb.home(),
        "s2.jsonl",
        &[
            claude_line("s2", "user", "old one", "2026-01-01T00:00:00Z", "/w"),
            claude_line("s2", "assistant", "old two", "2026-01-01T00:00:01Z", "/w"),
        ],
    );
    sb.json(&["index"]);
    let old_max: i64 = sb.db().query_row("SELECT MAX(id) FROM messages", [], |r| r.get(0)).unwrap();
    // Shorter, different content: a shrunk file is a rewrite.
    std::fs::write(&s, claude_line("s2", "user", "new only", "2026-01-02T00:00:00Z", "/w")).unwrap();
    let report = sb.json(&["index"]);
    assert_eq!(report["files_parsed"], 1);
    let db = sb.db();
    assert_eq!(messages_of(&db, "s2"), vec![("user".to_string(), "new only".to_string())]);
    let id: i64 = db.query_row("SELECT id FROM messages", [], |r| r.get(0)).unwrap();
    assert!(id > old_max, "replaced messages get new ids");
    assert_eq!(conversation_row(&db, "s2").2, Some(ms("2026-01-02T00:00:00Z")));
}

#[test]
fn full_flag_rebuilds_every_file() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    let first = sb.json(&["index"]);
    let again = sb.json(&["index", "--full"]);
    assert_eq!(again["files_parsed"], first["files_scanned"]);
    assert_eq!(again["messages"], first["messages"]);
}

#[test]
fn empty_home_succeeds_and_says_where_it_looked() {
    let sb = Sandbox::new();
    let out = sb.run(&["index"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("No agent sessions found."), "says so first: {stderr}");
    // One short line per place looked, the home written `~`, the agent
    // named on its first place.
    for (name, place) in
        [("Claude Code", "~/.claude/projects"), ("Codex CLI", "~/.codex/sessions"), ("Gemini CLI", "~/.gemini/tmp")]
    {
        let line = stderr
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}: {stderr}"));
        assert!(line.ends_with(&format!("{place} (not found)")), "{line}");
    }
    let report = sb.json(&["index"]);
    let places: usize = report["agents"].as_array().unwrap().iter().map(|a| a["roots"].as_array().unwrap().len()).sum();
    let listed = stderr.lines().filter(|l| l.ends_with("(not found)") || l.ends_with("(0 files)")).count();
    assert_eq!(listed, places, "every place, one line each: {stderr}");
    assert!(!stderr.contains(&sb.home().display().to_string()), "paths under the home are short: {stderr}");
    assert_eq!(report["messages"], 0);
    for agent in report["agents"].as_array().unwrap() {
        assert_eq!(agent["files"], 0);
        // Aider keeps its history inside projects, so its root is $HOME itself.
        if agent["agent"] != "aider" {
            assert!(agent["roots"].as_array().unwrap().iter().all(|r| r["exists"] == false));
        }
    }
}

#[test]
fn agent_overrides_are_honoured() {
    let sb = Sandbox::new();
    let elsewhere = sb.dir.path().join("claude-config");
    std::fs::create_dir_all(elsewhere.join("projects/-x")).unwrap();
    std::fs::write(
        elsewhere.join("projects/-x/a.jsonl"),
        claude_line("ov", "user", "from override", "2026-01-01T00:00:00Z", "/w"),
    )
    .unwrap();
    // A session in the default place must be ignored when the override is set.
    write_session(
        &sb.home(),
        "b.jsonl",
        &[claude_line("default", "user", "from default", "2026-01-01T00:00:00Z", "/w")],
    );
    let out = sb.cass().env("CLAUDE_CONFIG_DIR", &elsewhere).args(["index", "--json"]).output().unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let claude = report["agents"].as_array().unwrap().iter().find(|a| a["agent"] == "claude_code").unwrap().clone();
    assert_eq!(claude["roots"][0]["origin"], "CLAUDE_CONFIG_DIR");
    assert_eq!(claude["messages"], 1);
    assert_eq!(messages_of(&sb.db(), "ov")[0].1, "from override");
}

#[test]
fn a_second_writer_fails_at_once_with_the_lock_busy_code() {
    let sb = Sandbox::new();
    sb.json(&["index"]);
    let _held = cass::lock::WriterLock::acquire(&sb.data().join("cass.lock"), "test").unwrap();
    let started = std::time::Instant::now();
    let out = sb.run(&["index"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(cass::cli::exit::LOCK_BUSY));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("another cass is writing") && stderr.contains("pid"), "{stderr}");
    let out = sb.run(&["index", "--json"]);
    assert_eq!(out.status.code(), Some(cass::cli::exit::LOCK_BUSY));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "lock_busy");
}

#[test]
fn data_dir_and_database_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    sb.json(&["index"]);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&sb.data()), 0o700);
    assert_eq!(mode(&sb.data().join("cass.db")), 0o600);
}

/// A `--full` re-read of a file that grew compares the stored messages and
/// writes the new ones past them: old ids stay, each message is stored and
/// indexed once, and the new ones are found.
#[test]
fn a_full_re_read_of_a_grown_file_keeps_old_ids_and_adds_the_rest_once() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-w");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("g1.jsonl");
    let line = |i: usize, text: &str| claude_line("g1", "user", text, &format!("2026-01-0{}T00:00:00Z", i + 1), "/w");
    std::fs::write(&f, [line(0, "alpha first"), line(1, "bravo second")].concat()).unwrap();
    sb.json(&["index"]);
    let ids = |db: &rusqlite::Connection| -> Vec<i64> {
        db.prepare("SELECT id FROM messages ORDER BY ordinal")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let before = ids(&sb.db());
    let grown = [line(0, "alpha first"), line(1, "bravo second"), line(2, "charlie third"), line(3, "delta fourth")];
    std::fs::write(&f, grown.concat()).unwrap();
    let report = sb.json(&["index", "--full"]);
    assert_eq!(report["messages"], 4, "{report}");
    let after = ids(&sb.db());
    assert_eq!(after.len(), 4);
    assert_eq!(after[..2], before[..], "stored messages keep their ids");
    assert!(after[2] > before[1] && after[3] > after[2]);
    for word in ["alpha", "bravo", "charlie", "delta"] {
        let v = sb.json(&["search", word, "--mode", "lexical"]);
        assert_eq!(v["total"], 1, "{word}: {v}");
    }
}
