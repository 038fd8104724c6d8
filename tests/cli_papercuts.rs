//! What a new user hit on the command line (issue 29, point 9): the index
//! summary's time, counts and their nouns, a data dir that is a file, and
//! the recorded errors (`sources --errors`). Each runs the real binary
//! against a sandbox.

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
