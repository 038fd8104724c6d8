//! Keeping sessions out: `cass forget` (by conversation, file, workspace;
//! `--list`, `--undo`), the `exclude` settings, and redaction patterns
//! added in the config file, each through the real binary on real stores.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::Sandbox;
use serde_json::Value;

/// Writes a Claude Code session of `turns` (user, assistant) in workspace
/// `cwd`, under project folder `project`; returns its path.
fn claude_session(sb: &Sandbox, project: &str, id: &str, cwd: &str, turns: &[(&str, &str)]) -> PathBuf {
    let dir = sb.home().join(".claude/projects").join(project);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{id}.jsonl"));
    let mut out = String::new();
    for (i, (user, assistant)) in turns.iter().enumerate() {
        let line = |role: &str, text: &str, sec: usize| {
            serde_json::json!({
                "type": role, "sessionId": id, "cwd": cwd,
                "timestamp": format!("2026-11-0{}T10:00:{:02}Z", 1 + i % 9, sec),
                "message": { "role": role, "content": text },
            })
            .to_string()
        };
        out.push_str(&line("user", user, 0));
        out.push('\n');
        out.push_str(&line("assistant", assistant, 5));
        out.push('\n');
    }
    std::fs::write(&path, out).unwrap();
    path
}

/// Appends one more user turn to a session file.
fn append_turn(path: &Path, id: &str, cwd: &str, text: &str) {
    use std::io::Write;
    let line = serde_json::json!({
        "type": "user", "sessionId": id, "cwd": cwd, "timestamp": "2026-11-09T11:00:00Z",
        "message": { "role": "user", "content": text },
    });
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    writeln!(f, "{line}").unwrap();
}

/// Conversation ids of the hits of `query` in `mode` (exit 1 = no hits).
fn hit_conversations(sb: &Sandbox, query: &str, mode: &str) -> Vec<i64> {
    let out = sb.run(&["search", query, "--mode", mode, "--json", "--limit", "50"]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "search {query} {mode}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["hits"].as_array().unwrap().iter().map(|h| h["conversation_id"].as_i64().unwrap()).collect()
}

/// The conversation ids whose session file is `path`.
fn conversations_of(sb: &Sandbox, path: &Path) -> Vec<i64> {
    let db = sb.db();
    let mut stmt = db.prepare("SELECT id FROM conversations WHERE source_path = ?1").unwrap();
    stmt.query_map([path.to_string_lossy()], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

fn healthy(sb: &Sandbox) -> bool {
    let out = sb.run(&["health"]);
    if !out.status.success() {
        eprintln!("health: {}", String::from_utf8_lossy(&out.stdout));
    }
    out.status.success()
}

fn ok(out: &Output) -> Value {
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

const KEPT: &[(&str, &str)] = &[
    ("the nightly backup job fails with a permission error", "the cron user cannot write to the archive volume"),
    ("how do I rotate the nginx logs weekly", "add a logrotate stanza with weekly and rotate 4"),
];
const FORGOTTEN: &[(&str, &str)] = &[
    (
        "zebracorn migration keeps timing out on the orders table",
        "batch the zebracorn backfill in chunks of ten thousand rows",
    ),
    ("the zebracorn dashboard shows stale numbers", "the cache never expires; set a time to live on the query"),
];

#[test]
fn a_forgotten_conversation_is_found_by_no_mode_stays_out_after_full_and_comes_back_on_undo() {
    let sb = Sandbox::new();
    claude_session(&sb, "-home-u-ops", "kept", "/home/u/ops", KEPT);
    let path = claude_session(&sb, "-home-u-shop", "gone", "/home/u/shop", FORGOTTEN);
    sb.json(&["index"]);
    let conv = conversations_of(&sb, &path)[0];
    for mode in ["lexical", "semantic", "hybrid"] {
        assert!(hit_conversations(&sb, "zebracorn migration", mode).contains(&conv), "{mode} finds it before");
    }

    let forgot = sb.json(&["forget", &conv.to_string()]);
    let number = forgot["forgotten"]["id"].as_i64().unwrap();
    assert_eq!(forgot["forgotten"]["messages"], 4);
    let check_absent = |when: &str| {
        for mode in ["lexical", "semantic", "hybrid"] {
            for q in ["zebracorn migration", "orders table timing out", "dashboard shows stale numbers"] {
                let hits = hit_conversations(&sb, q, mode);
                assert!(hits.iter().all(|&c| c != conv), "{when}: {mode} search {q:?} still finds it: {hits:?}");
            }
        }
        assert!(conversations_of(&sb, &path).is_empty(), "{when}: still in the store");
        assert!(healthy(&sb), "{when}: health is not green");
    };
    check_absent("after forget");
    // The other conversation is untouched.
    assert!(!hit_conversations(&sb, "logrotate", "lexical").is_empty());

    let full = sb.json(&["index", "--full"]);
    assert_eq!(full["privacy"]["conversations_held_back"], 1, "{}", full["privacy"]);
    check_absent("after index --full");
    append_turn(&path, "gone", "/home/u/shop", "zebracorn question appended after the forget");
    sb.json(&["index"]);
    check_absent("after an append to its file");

    let list = sb.json(&["forget", "--list"]);
    assert_eq!(list["forgotten"].as_array().unwrap().len(), 1);
    assert_eq!(list["forgotten"][0]["kind"], "conversation");

    let undone = sb.json(&["forget", "--undo", &number.to_string()]);
    assert_eq!(undone["undone"]["id"], number);
    let back = conversations_of(&sb, &path);
    assert_eq!(back.len(), 1, "undo brings the conversation back");
    for mode in ["lexical", "semantic", "hybrid"] {
        assert!(hit_conversations(&sb, "zebracorn migration", mode).contains(&back[0]), "{mode} finds it after undo");
    }
    assert!(!hit_conversations(&sb, "appended after the forget", "lexical").is_empty(), "the appended turn too");
    assert!(sb.json(&["forget", "--list"])["forgotten"].as_array().unwrap().is_empty());
    assert!(healthy(&sb));
}

#[test]
fn forget_by_session_file_and_by_workspace() {
    let sb = Sandbox::new();
    let a = claude_session(&sb, "-home-u-a", "a", "/home/u/a", KEPT);
    let b = claude_session(&sb, "-home-u-client", "b", "/home/u/client/api", FORGOTTEN);
    let c = claude_session(
        &sb,
        "-home-u-client2",
        "c",
        "/home/u/client",
        &[("client billing export", "use the csv writer")],
    );
    sb.json(&["index", "--no-semantic"]);

    let by_file = sb.json(&["forget", a.to_str().unwrap()]);
    assert_eq!(by_file["forgotten"]["kind"], "file");
    assert!(conversations_of(&sb, &a).is_empty());
    let by_ws = sb.json(&["forget", "--workspace", "/home/u/client"]);
    assert_eq!(by_ws["forgotten"]["conversations"], 2, "the workspace and the one below it");
    assert!(conversations_of(&sb, &b).is_empty() && conversations_of(&sb, &c).is_empty());
    assert!(hit_conversations(&sb, "logrotate", "lexical").is_empty());
    assert!(hit_conversations(&sb, "billing", "lexical").is_empty());

    // A new session in the forgotten workspace is kept out too.
    let d = claude_session(
        &sb,
        "-home-u-client3",
        "d",
        "/home/u/client/web",
        &[("client header colours", "use the theme")],
    );
    let run = sb.json(&["index", "--no-semantic"]);
    assert_eq!(run["privacy"]["conversations_held_back"], 1);
    assert!(conversations_of(&sb, &d).is_empty());

    let n = by_ws["forgotten"]["id"].as_i64().unwrap().to_string();
    sb.json(&["forget", "--undo", &n]);
    assert_eq!(conversations_of(&sb, &b).len() + conversations_of(&sb, &c).len() + conversations_of(&sb, &d).len(), 3);
    assert!(conversations_of(&sb, &a).is_empty(), "the file forget still holds");
    assert!(healthy(&sb));
}

#[test]
fn forgetting_what_is_not_there_is_a_not_found_error() {
    let sb = Sandbox::new();
    claude_session(&sb, "-home-u-a", "a", "/home/u/a", KEPT);
    sb.json(&["index", "--no-semantic"]);
    for args in [&["forget", "999"][..], &["forget", "/no/such/session.jsonl"], &["forget", "--undo", "7"]] {
        let out = sb.cass().args(args).arg("--json").output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
        let err: Value = serde_json::from_slice(&out.stderr).unwrap();
        assert_eq!(err["error"]["kind"], "not_found", "{err}");
    }
    let out = sb.run(&["forget"]);
    assert_eq!(out.status.code(), Some(2), "no target is a usage error");
}

/// Writes a config file (one per text) and returns its path.
fn config(sb: &Sandbox, text: &str) -> PathBuf {
    let path = sb.dir.path().join(format!("config-{:016x}.toml", cass::checksum::fnv1a64(text.as_bytes())));
    std::fs::write(&path, text).unwrap();
    path
}

fn index_with(sb: &Sandbox, config: &Path, extra: &[&str]) -> Value {
    ok(&sb.cass().env("CASS_CONFIG", config).arg("index").args(extra).arg("--json").output().unwrap())
}

#[test]
fn exclusions_keep_sessions_out_remove_what_was_stored_and_release_it_when_lifted() {
    let sb = Sandbox::new();
    let kept = claude_session(&sb, "-home-u-ops", "kept", "/home/u/ops", KEPT);
    let by_glob = claude_session(&sb, "-home-u-secret", "glob", "/home/u/elsewhere", FORGOTTEN);
    let by_ws = claude_session(&sb, "-home-u-x", "ws", "/home/u/work/secret-client/api", &[("quokka tariff", "ok")]);
    let none = config(&sb, "");
    index_with(&sb, &none, &["--no-semantic"]);
    assert_eq!(sb.json(&["status"])["store"]["conversations"], 3);

    let projects = sb.home().join(".claude/projects");
    let rules = config(
        &sb,
        &format!("exclude = [\"{}/-home-u-secret/**\", \"/home/u/work/secret-client/**\"]\n", projects.display()),
    );
    let run = index_with(&sb, &rules, &["--no-semantic"]);
    assert_eq!(run["privacy"]["removed"]["conversations"], 2, "{}", run["privacy"]);
    assert_eq!(run["privacy"]["files_excluded"], 1);
    assert!(conversations_of(&sb, &by_glob).is_empty() && conversations_of(&sb, &by_ws).is_empty());
    assert_eq!(conversations_of(&sb, &kept).len(), 1);
    assert!(hit_conversations(&sb, "zebracorn", "lexical").is_empty());
    assert!(hit_conversations(&sb, "quokka", "lexical").is_empty());
    assert!(healthy(&sb));

    // Still out on the next runs, appends included.
    append_turn(&by_ws, "ws", "/home/u/work/secret-client/api", "quokka again");
    index_with(&sb, &rules, &["--no-semantic"]);
    assert!(conversations_of(&sb, &by_ws).is_empty());

    // Lifted: both come back without --full.
    index_with(&sb, &none, &["--no-semantic"]);
    assert_eq!(conversations_of(&sb, &by_glob).len(), 1);
    assert_eq!(conversations_of(&sb, &by_ws).len(), 1);
    // Both turns, the one appended while excluded included.
    assert_eq!(hit_conversations(&sb, "quokka", "lexical"), vec![conversations_of(&sb, &by_ws)[0]; 2]);

    // A whole agent.
    let agents = config(&sb, "exclude_agents = [\"claude_code\"]\n");
    let run = index_with(&sb, &agents, &["--no-semantic"]);
    assert_eq!(run["conversations"], 0, "{run}");
    // An unknown agent is refused, not silently ignored.
    let typo = config(&sb, "exclude_agents = [\"claude\"]\n");
    let out = sb.cass().env("CASS_CONFIG", &typo).args(["index", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown agent"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_pattern_added_in_the_config_redacts_text_already_stored() {
    let sb = Sandbox::new();
    let token = "acme_5f0c2a9e7b1d4c3a8e6f0b2d9c7a1e3f";
    claude_session(
        &sb,
        "-home-u-a",
        "a",
        "/home/u/a",
        &[("deploy with the acme key", &format!("set ACME={token}")), KEPT[0]],
    );
    let none = config(&sb, "");
    index_with(&sb, &none, &[]);
    let view = sb.run(&["view", "1"]);
    assert!(String::from_utf8_lossy(&view.stdout).contains(token), "no built-in rule knows this format");

    let rules = config(&sb, "[redact]\npatterns = [{ kind = \"acme_token\", regex = \"acme_[0-9a-f]{32}\" }]\n");
    let run = index_with(&sb, &rules, &[]);
    assert_eq!(run["privacy"]["rewrite"]["messages_redacted"], 1, "{}", run["privacy"]);
    assert_eq!(run["semantic"]["rows_embedded"], 1, "only the rewritten message is embedded again");
    let view = String::from_utf8_lossy(&sb.run(&["view", "1"]).stdout).into_owned();
    assert!(!view.contains(token) && view.contains("[REDACTED:acme_token]"), "{view}");
    let status = sb.json(&["status"]);
    assert_eq!(status["privacy"]["kinds"]["acme_token"], 1, "{}", status["privacy"]);
    // The same rules again: nothing is rescanned.
    let again = index_with(&sb, &rules, &[]);
    assert!(again["privacy"].get("rewrite").is_none(), "{}", again["privacy"]);
    assert!(healthy(&sb));
    // A bad pattern is a config error naming it.
    let bad = config(&sb, "[redact]\npatterns = [{ kind = \"x\", regex = \"(\" }]\n");
    let out = sb.cass().env("CASS_CONFIG", &bad).args(["index", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(err["error"]["message"].as_str().unwrap().contains("redact pattern 1"), "{err}");
}
