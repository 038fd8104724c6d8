//! What a new user hit on the command line (issue 29, point 9): the index
//! summary's time, counts and their nouns, a data dir that is a file, the
//! recorded errors (`sources --errors`), and `view` of a session file the
//! index does not hold. Each runs the real binary against a sandbox.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::time::Instant;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One Claude Code session of `texts` (user and assistant in turn) at
/// `home/.claude/projects/-w/<id>.jsonl`.
fn claude_session(home: &Path, id: &str, texts: &[&str]) -> PathBuf {
    let dir = home.join(".claude/projects/-w");
    std::fs::create_dir_all(&dir).unwrap();
    let body: String = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            claude_line(id, role, t, &format!("2026-02-01T10:00:{i:02}Z"), "/home/dev/w")
        })
        .collect();
    let path = dir.join(format!("{id}.jsonl"));
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn the_index_summary_gives_the_runs_wall_time_not_the_ingests() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    let started = Instant::now();
    let r = sb.json(&["index"]);
    let wall = started.elapsed().as_millis() as u64;
    let (elapsed, ingest) = (r["elapsed_ms"].as_u64().unwrap(), r["ingest_ms"].as_u64().unwrap());
    let backfill = r["semantic"]["elapsed_ms"].as_u64().unwrap();
    assert!(backfill > 0, "the fast tier took some time: {}", r["semantic"]);
    assert!(
        elapsed >= ingest + backfill,
        "the run's time holds the ingest and the backfill: {elapsed} < {ingest} + {backfill}"
    );
    assert!(elapsed <= wall, "and no more than the process took: {elapsed} > {wall}");

    // The human summary, on a first run (which embeds every message), is
    // at least the backfill's time printed above it.
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    let out = sb.run(&["index"]);
    let summary = stdout(&out);
    let secs: f64 = summary.trim().rsplit(" in ").next().unwrap().trim_end_matches('s').parse().unwrap();
    let err = stderr(&out);
    let fast = err.lines().find(|l| l.starts_with("fast tier")).unwrap_or_else(|| panic!("no fast tier line: {err}"));
    let fast: f64 = fast.split("s; ").next().unwrap().rsplit(", ").next().unwrap().parse().unwrap();
    assert!(fast > 0.0 && secs >= fast, "summary {secs}s is at least the backfill's {fast}s: {summary}{err}");
}

#[test]
fn counts_of_one_take_the_singular() {
    let sb = Sandbox::new();
    claude_session(&sb.home(), "one", &["a lone question"]);
    let out = sb.run(&["index"]);
    let line = stdout(&out);
    assert!(
        line.starts_with("indexed 1 file (")
            && line.contains("): 1 conversation, 1 message (+1), 0 malformed lines in"),
        "{line}"
    );
    let err = stderr(&out);
    assert!(err.contains("1 conversation, 1 message (+1) from ~/.claude/projects (1 file)"), "{err}");
    let sources = stdout(&sb.run(&["sources"]));
    assert!(sources.contains("Claude Code: 1 file, 1 conversation, 1 message indexed"), "{sources}");
    let status = stdout(&sb.run(&["status"]));
    assert!(status.contains("1 conversation, 1 message; last index"), "{status}");
    let row = status.lines().find(|l| l.trim_start().starts_with("claude_code")).unwrap();
    assert!(row.contains(" 1 conversation ") && row.ends_with(" 1 message"), "{status}");
    let search = stdout(&sb.run(&["search", "lone"]));
    assert!(search.contains("1 of 1 hit in"), "{search}");
    let view = stdout(&sb.run(&["view", "1"]));
    assert!(view.contains(" · 1 message  \n"), "{view}");

    claude_session(&sb.home(), "two", &["first", "second"]);
    let line = stdout(&sb.run(&["index"]));
    assert!(line.starts_with("indexed 2 files (") && line.contains("2 conversations, 3 messages (+2)"), "{line}");
}

#[test]
fn a_data_dir_that_is_a_file_is_one_clear_error_from_every_command() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    let file = sb.dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    for data in [file.clone(), file.join("cass")] {
        for args in [
            &["index"][..],
            &["search", "cargo"],
            &["view", "1"],
            &["expand", "1"],
            &["status"],
            &["health"],
            &["sources"],
            &["sources", "--errors"],
            &["usage"],
            &["forget", "--list"],
            &["semantic", "status"],
            &["models", "list"],
        ] {
            let out = sb.cass().env("CASS_DATA_DIR", &data).args(args).output().unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "cass {args:?}: {err}");
            assert!(
                err.starts_with(&format!(
                    "cass: the data dir {} cannot be used: {} is a file",
                    data.display(),
                    file.display()
                )),
                "cass {args:?}: {err}"
            );
            assert_eq!(err.lines().count(), 2, "one error and its hint: {err}");
            assert!(!err.contains("cass index"), "not taken for a missing index: {err}");
        }
        let out = sb.cass().env("CASS_DATA_DIR", &data).args(["search", "cargo", "--json"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let e: serde_json::Value = serde_json::from_slice(&out.stderr).expect("a JSON error");
        assert_eq!(e["error"]["kind"], "data_dir", "{e}");
        assert!(out.stdout.is_empty());
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x", "the file is left alone");
}

#[test]
fn sources_errors_lists_each_recorded_problem_newest_first() {
    let sb = Sandbox::new();
    let before = sb.json(&["sources", "--errors"]);
    assert_eq!((before["indexed"].clone(), before["total"].clone()), (false.into(), 0.into()));
    let out = sb.run(&["sources", "--errors"]);
    assert!(out.status.success() && stdout(&out).is_empty(), "{}", stderr(&out));
    assert!(stderr(&out).contains("no malformed lines or unreadable files recorded"));

    copy_tree(&own_fixtures(), &sb.home());
    let index = sb.json(&["index", "--no-semantic"]);
    let malformed: i64 =
        index["agents"].as_array().unwrap().iter().map(|a| a["malformed_total"].as_i64().unwrap()).sum();
    let unreadable: usize =
        index["agents"].as_array().unwrap().iter().map(|a| a["unreadable"].as_array().unwrap().len()).sum();
    assert!(malformed >= 3 && unreadable >= 1, "the fixtures hold both: {index}");

    let all = sb.json(&["sources", "--errors"]);
    assert_eq!(all["total"], malformed + unreadable as i64);
    let errors = all["errors"].as_array().unwrap();
    assert_eq!(errors.len(), malformed as usize + unreadable);
    let broken = sb.home().join(".claude/projects/-home-dev-broken/0000bad0-0000-0000-0000-000000000002.jsonl");
    let broken = broken.display().to_string();
    let mut lines: Vec<i64> =
        errors.iter().filter(|e| e["path"] == broken.as_str()).map(|e| e["line"].as_i64().unwrap()).collect();
    lines.sort_unstable();
    assert_eq!(lines, [2, 4, 5], "the broken Claude file's bad lines: {all}");
    let encrypted = errors.iter().find(|e| e["kind"] == "unreadable").expect("the encrypted ChatGPT store");
    assert!(encrypted["line"].is_null() && encrypted["agent"] == "chatgpt", "{encrypted}");
    assert!(encrypted["message"].as_str().unwrap().contains("encrypted"));

    // Human: one `path:line: message` line each.
    let human = stdout(&sb.run(&["sources", "--errors"]));
    assert_eq!(human.lines().count(), errors.len(), "{human}");
    assert!(human.contains(&format!("{broken}:2: invalid JSON")), "{human}");
    assert!(human.lines().any(|l| l.contains("com.openai.chat") && l.contains(": unreadable: encrypted")), "{human}");

    // A bad line appended later is the newest: listed first, and --limit cuts the rest.
    let mut f = std::fs::OpenOptions::new().append(true).open(&broken).unwrap();
    std::io::Write::write_all(&mut f, b"{not json either\n").unwrap();
    drop(f);
    sb.json(&["index", "--no-semantic"]);
    let out = sb.run(&["sources", "--errors", "--limit", "1"]);
    let first = stdout(&out);
    assert!(first.starts_with(&format!("{broken}:")) && first.lines().count() == 1, "{first}");
    assert!(stderr(&out).contains(&format!("1 of {} shown", errors.len() + 1)), "{}", stderr(&out));
    let jsonl = stdout(&sb.run(&["sources", "--errors", "--limit", "2", "--format", "jsonl", "--fields", "path,line"]));
    let rows: Vec<serde_json::Value> = jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 3, "two items, then the summary: {jsonl}");
    assert_eq!(rows[0].as_object().unwrap().len(), 2, "only the fields asked for: {jsonl}");
    assert_eq!(rows[2]["errors_returned"], 2);
}

#[test]
fn view_reads_a_session_file_that_is_not_indexed_without_writing_anything() {
    let sb = Sandbox::new();
    let elsewhere = sb.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let original = own_fixtures().join(".claude/projects/-home-dev-webapp/7f3c2a10-1111-4a2b-9c3d-000000000001.jsonl");
    let loose = elsewhere.join("session.jsonl");
    std::fs::copy(&original, &loose).unwrap();

    // Before any index: read now, and nothing written.
    let out = sb.run(&["view", loose.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let md = stdout(&out);
    assert!(md.starts_with("# Fix flaky websocket reconnect test\n"), "{md}");
    assert!(md.contains("· not indexed: read from the file now"), "{md}");
    assert!(md.contains("## user · "), "{md}");
    assert!(stderr(&out).contains("is not indexed: read now as claude_code"), "{}", stderr(&out));
    assert!(!sb.data().exists(), "view wrote nothing");

    // The same messages as the index gives for the same file, without ids.
    let read = sb.json(&["view", loose.to_str().unwrap()]);
    assert!(read["conversation"]["id"].is_null() && read["conversation"]["indexed"] == false, "{read}");
    assert!(!sb.data().exists(), "view --json wrote nothing");
    install_own(&sb.home(), ".claude/projects/-home-dev-webapp/7f3c2a10-1111-4a2b-9c3d-000000000001.jsonl");
    sb.json(&["index", "--no-semantic"]);
    let indexed_path = sb.home().join(".claude/projects/-home-dev-webapp/7f3c2a10-1111-4a2b-9c3d-000000000001.jsonl");
    let indexed = sb.json(&["view", indexed_path.to_str().unwrap()]);
    let strip = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| serde_json::json!([m["role"], m["author"], m["created_at"], m["content"]]))
            .collect()
    };
    assert_eq!(strip(&read), strip(&indexed));
    assert!(read["messages"].as_array().unwrap().iter().all(|m| m["id"].is_null()));
    for key in ["agent", "external_id", "title", "workspace", "started_at", "ended_at", "message_count"] {
        assert_eq!(read["conversation"][key], indexed["conversation"][key], "{key}");
    }
    // The loose copy is still not in the index afterwards.
    assert!(stderr(&sb.run(&["view", loose.to_str().unwrap()])).contains("is not indexed"));
}

#[test]
fn view_of_an_unindexed_file_picks_the_agent_by_location_then_by_content() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    sb.json(&["index", "--no-semantic"]);
    let elsewhere = sb.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    // Pi-Agent, Factory and Claude Code all write JSONL message records, and
    // each parser reads the others' messages: content decides.
    for (from, agent) in [
        (
            ".pi/agent/sessions/--home-dev-notes--/2026-03-25T19-02-00-000Z_6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d.jsonl",
            "pi_agent",
        ),
        (".factory/sessions/-home-dev-api-server/5b0c9d2e-7a41-4c1e-9f3a-2d8e6b1c4f70.jsonl", "factory"),
        (".claude/projects/-home-dev-webapp/7f3c2a10-1111-4a2b-9c3d-000000000001.jsonl", "claude_code"),
        (".codex/sessions/2026/03/14/rollout-2026-03-14T09-12-33-0194a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b.jsonl", "codex"),
        (".local/share/amp/threads/T-7c1d9e2a-4b3f-4a6e-8d2c-5f0b1a9e3c7d.json", "amp"),
    ] {
        let to = elsewhere.join(Path::new(from).file_name().unwrap());
        std::fs::copy(sb.home().join(from), &to).unwrap();
        let v = sb.json(&["view", to.to_str().unwrap()]);
        assert_eq!(v["conversation"]["agent"], agent, "{from}: {v}");
        assert!(v["conversation"]["indexed"] == false && v["conversation"]["message_count"].as_i64().unwrap() > 0);
    }
    // Under an agent's roots, after the last index, that agent reads it,
    // whatever the content would say: a Pi-Agent session in Factory's folder.
    let pi =
        ".pi/agent/sessions/--home-dev-notes--/2026-03-25T19-02-00-000Z_6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d.jsonl";
    let under = sb.home().join(".factory/sessions/-home-dev-new/late.jsonl");
    std::fs::create_dir_all(under.parent().unwrap()).unwrap();
    std::fs::copy(sb.home().join(pi), &under).unwrap();
    let v = sb.json(&["view", under.to_str().unwrap()]);
    assert_eq!(v["conversation"]["agent"], "factory", "{v}");
    // A file no agent reads is not found (exit 1), and says so.
    let text = elsewhere.join("notes.txt");
    std::fs::write(&text, "just some notes\n").unwrap();
    let out = sb.run(&["view", text.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no agent's session format reads this file"), "{}", stderr(&out));
}

#[test]
fn view_of_an_unindexed_file_hides_the_secrets_the_index_would() {
    let sb = Sandbox::new();
    let pat = "ghp_R8mZp2Qw7Xv4Lk9Nc3Bt6Hy1Js5Df0Ga2Ue8";
    let path =
        claude_session(&sb.dir.path().join("elsewhere"), "s1", &[&format!("my token is {pat} keep it"), "noted"]);
    let md = stdout(&sb.run(&["view", path.to_str().unwrap()]));
    assert!(md.contains("my token is [REDACTED:github_pat] keep it"), "{md}");
    assert!(!md.contains(pat), "{md}");
    let json = stdout(&sb.run(&["view", path.to_str().unwrap(), "--json"]));
    assert!(!json.contains(pat) && json.contains("[REDACTED:github_pat]"), "{json}");
    // As the index stores it.
    let indexed = claude_session(&sb.home(), "s1", &[&format!("my token is {pat} keep it"), "noted"]);
    sb.json(&["index", "--no-semantic"]);
    let stored = sb.json(&["view", indexed.to_str().unwrap()]);
    assert_eq!(stored["messages"][0]["content"], "my token is [REDACTED:github_pat] keep it");
}
