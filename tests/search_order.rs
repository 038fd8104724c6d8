//! Hit order and grouping: `--sort relevance|recent|oldest`, the gentle
//! preference for recent sessions among comparable scores, and one hit
//! per session (the default on a terminal) with how many more matched.

mod common;

use common::{Sandbox, claude_line, index_no_semantic};
use serde_json::Value;

fn session(sb: &Sandbox, id: &str, ts: &str, texts: &[&str]) {
    let dir = sb.home().join(".claude/projects/-home-dev-app");
    std::fs::create_dir_all(&dir).unwrap();
    let mut body = claude_line(id, "user", "question", ts, "/home/dev/app");
    for t in texts {
        body.push_str(&claude_line(id, "assistant", t, ts, "/home/dev/app"));
    }
    std::fs::write(dir.join(format!("{id}.jsonl")), body).unwrap();
}

fn iso(days_ago: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days_ago)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn sessions_of(result: &Value) -> Vec<String> {
    result["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["source_path"].as_str().unwrap().rsplit('/').next().unwrap().to_string())
        .collect()
}

#[test]
fn sort_by_time_and_group_by_session() {
    let sb = Sandbox::new();
    session(&sb, "old", &iso(400), &["kafka rebalance storm", "another kafka rebalance", "kafka rebalance again"]);
    session(&sb, "new", &iso(1), &["kafka rebalance fixed"]);
    session(&sb, "mid", &iso(100), &["kafka rebalance halfway"]);
    index_no_semantic(&sb);

    let recent = sb.json(&["search", "kafka rebalance", "--mode", "lexical", "--sort", "recent"]);
    assert_eq!(recent["sort"], "recent");
    assert_eq!(recent["group"], "message", "--json keeps every message unless asked");
    assert_eq!(sessions_of(&recent)[..2], ["new.jsonl", "mid.jsonl"], "{recent:#}");
    assert_eq!(recent["total"], 5);
    let oldest = sb.json(&["search", "kafka rebalance", "--mode", "lexical", "--sort", "oldest"]);
    assert_eq!(sessions_of(&oldest)[0], "old.jsonl");
    assert_eq!(sessions_of(&oldest).last().unwrap(), "new.jsonl");

    let grouped = sb.json(&["search", "kafka rebalance", "--mode", "lexical", "--group", "conversation"]);
    assert_eq!(grouped["group"], "conversation");
    let hits = grouped["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3, "{grouped:#}");
    let old = hits.iter().find(|h| h["source_path"].as_str().unwrap().ends_with("old.jsonl")).unwrap();
    assert_eq!(old["more_in_conversation"], 2);

    // On a terminal (no --json) hits are grouped by default.
    let out = sb.run(&["search", "kafka rebalance", "--mode", "lexical", "--color", "never"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("cass expand").count(), 3, "{text}");
    assert!(text.contains("2 more matches in this session"), "{text}");
    let flat = sb.run(&["search", "kafka rebalance", "--mode", "lexical", "--color", "never", "--group-by", "message"]);
    assert_eq!(String::from_utf8(flat.stdout).unwrap().matches("cass expand").count(), 5);
}

/// Between equal matches the newer session comes first; a clearly better
/// match still beats a recent weak one.
#[test]
fn relevance_prefers_recent_only_among_comparable_scores() {
    let sb = Sandbox::new();
    session(&sb, "a-old", &iso(300), &["the flaky websocket test again"]);
    session(&sb, "b-new", &iso(2), &["the flaky websocket test again"]);
    let filler = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore";
    let weak = format!("{filler} {filler} {filler} {filler} quorum {filler} {filler} {filler} {filler}");
    session(&sb, "c-strong-old", &iso(500), &["quorum quorum lost"]);
    session(&sb, "d-weak-new", &iso(0), &[weak.as_str()]);
    index_no_semantic(&sb);

    let equal = sb.json(&["search", "flaky websocket", "--mode", "lexical"]);
    assert_eq!(sessions_of(&equal), ["b-new.jsonl", "a-old.jsonl"], "{equal:#}");
    let strong = sb.json(&["search", "quorum", "--mode", "lexical"]);
    assert_eq!(sessions_of(&strong), ["c-strong-old.jsonl", "d-weak-new.jsonl"], "{strong:#}");
}
