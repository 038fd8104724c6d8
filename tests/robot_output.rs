//! Robot output trimmed the way an agent asks (`--fields`,
//! `--max-content-length`, `--format`, `--max-tokens`), and `cass export`
//! as Markdown, JSON and one self-contained HTML file — all through the
//! real binary on the project's fixtures.

mod common;

use common::{Sandbox, copy_tree, own_fixtures};
use serde_json::Value;

/// The project's fixtures (every agent's real layout), indexed.
fn indexed() -> Sandbox {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    let out = sb.run(&["index", "--no-semantic", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    sb
}

fn stdout(sb: &Sandbox, args: &[&str]) -> String {
    let out = sb.run(args);
    assert!(out.status.success(), "cass {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn jsonl_with_fields_and_a_cut_has_only_those_fields_and_no_longer_text() {
    let sb = indexed();
    let text = stdout(
        &sb,
        &[
            "search",
            "the",
            "--json",
            "--fields",
            "source_path,message_id",
            "--max-content-length",
            "80",
            "--format",
            "jsonl",
            "--limit",
            "20",
        ],
    );
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("every line parses")).collect();
    let (summary, hits) = lines.split_last().expect("a summary line");
    assert!(hits.len() >= 10, "the fixtures hold many 'the': {}", hits.len());
    for hit in hits {
        let keys: Vec<&String> = hit.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["source_path", "message_id"], "{hit}");
    }
    assert_eq!(summary["hits_returned"], hits.len());
    assert!(summary.get("hits").is_none() && summary["total"].as_u64().unwrap() >= hits.len() as u64);

    // Texts: every snippet and message text is cut to 80 characters at most.
    let text = stdout(&sb, &["search", "the", "--format", "jsonl", "--max-content-length", "80", "--limit", "50"]);
    let mut cut = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(t) = v.pointer("/snippet/text").and_then(Value::as_str) {
            assert!(t.chars().count() <= 80, "{t}");
            cut += usize::from(t.ends_with('…'));
            for r in v["snippet"]["highlights"].as_array().unwrap() {
                assert!(r[1].as_u64().unwrap() as usize <= t.len(), "highlight inside the cut text");
            }
        }
    }
    let full = stdout(&sb, &["search", "the", "--format", "jsonl", "--limit", "50"]);
    let long = full
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.pointer("/snippet/text").and_then(Value::as_str).is_some_and(|t| t.chars().count() > 80));
    assert_eq!(long.count(), cut, "exactly the longer snippets were cut");
    let msgs = stdout(&sb, &["view", "1", "--json", "--max-content-length", "20"]);
    let v: Value = serde_json::from_str(&msgs).unwrap();
    assert!(v["messages"].as_array().unwrap().iter().all(|m| m["content"].as_str().unwrap().chars().count() <= 20));
}

#[test]
fn a_token_budget_returns_fewer_hits_and_says_so() {
    let sb = indexed();
    let all: Value = serde_json::from_str(&stdout(&sb, &["search", "the", "--json", "--limit", "30"])).unwrap();
    let n_all = all["hits"].as_array().unwrap().len();
    let out = stdout(&sb, &["search", "the", "--json", "--limit", "30", "--max-tokens", "500"]);
    let some: Value = serde_json::from_str(&out).unwrap();
    let n_some = some["hits"].as_array().unwrap().len();
    assert!(n_some < n_all, "{n_some} of {n_all}");
    assert_eq!(some["budget"]["hits_dropped"].as_u64().unwrap() as usize, n_all - n_some);
    assert_eq!(some["budget"]["max_tokens"], 500);
    assert_eq!(some["next_offset"], n_some, "paging goes on after the last hit shown");
    assert!(out.len().div_ceil(4) <= 500, "the answer fits the budget: {} bytes", out.len());
    let ids = |v: &Value| v["hits"].as_array().unwrap().iter().map(|h| h["message_id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&some), ids(&all)[..n_some], "the best hits are kept");
}

#[test]
fn compact_is_one_line_and_a_bad_field_list_fails_before_anything_runs() {
    let sb = indexed();
    let out = stdout(&sb, &["status", "--format", "compact", "--fields", "store.messages,lexical.lag"]);
    assert_eq!(out.lines().count(), 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 2, "{v}");
    assert!(v["store"]["messages"].as_u64().unwrap() > 0 && v["store"].as_object().unwrap().len() == 1);
    let bad = sb.run(&["index", "--json", "--fields", "a,,b"]);
    assert_eq!(bad.status.code(), Some(cass::cli::exit::USAGE));
    let err: Value = serde_json::from_slice(&bad.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "usage");
}

/// The conversation of the fixtures with the most messages and a tool call.
fn rich_conversation(sb: &Sandbox) -> i64 {
    sb.db()
        .query_row(
            "SELECT c.id FROM conversations c WHERE EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id
               AND m.role = 'tool') ORDER BY c.message_count DESC, c.id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("a conversation with tool output")
}

#[test]
fn markdown_and_json_exports_round_trip_the_messages() {
    let sb = indexed();
    let id = rich_conversation(&sb);
    let roles: Vec<String> = {
        let db = sb.db();
        let mut stmt = db.prepare("SELECT role FROM messages WHERE conversation_id = ?1 ORDER BY ordinal").unwrap();
        stmt.query_map([id], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let json: Value = serde_json::from_str(&stdout(&sb, &["export", &id.to_string(), "--format", "json"])).unwrap();
    let got: Vec<&str> = json["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(got, roles);
    assert_eq!(json["conversation"]["id"], id);

    let header = regex_free_headers(&stdout(&sb, &["export", &id.to_string(), "--include-tools"]));
    assert_eq!(header, roles, "one `## role … · #id` header per message, in order");
    let without = regex_free_headers(&stdout(&sb, &["export", &id.to_string()]));
    assert!(!without.iter().any(|r| r == "tool") && without.len() < roles.len());
}

/// The role of each message header (`## assistant · 2026-… · #12`).
fn regex_free_headers(md: &str) -> Vec<String> {
    md.lines()
        .filter_map(|l| l.strip_prefix("## "))
        .filter(|l| l.rsplit_once(" · #").is_some_and(|(_, id)| id.parse::<i64>().is_ok()))
        .map(|l| l.split([' ', '(']).next().unwrap().to_string())
        .collect()
}

#[test]
fn html_export_is_one_file_that_loads_nothing() {
    let sb = indexed();
    let id = rich_conversation(&sb);
    let path = sb.dir.path().join("conv.html");
    let out = sb.run(&["export", &id.to_string(), "--format", "html", "--include-tools", "-o", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.trim_end().ends_with("</html>"));
    assert!(html.contains("<details>"), "tool calls and output collapse");
    // Every URL in the page must come from the conversation's own text.
    let texts: String = {
        let db = sb.db();
        let mut stmt = db.prepare("SELECT content FROM messages WHERE conversation_id = ?1").unwrap();
        stmt.query_map([id], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect::<Vec<_>>().join("\n")
    };
    for scheme in ["http://", "https://"] {
        for (at, _) in html.match_indices(scheme) {
            let url: String = html[at..].chars().take_while(|c| !c.is_whitespace() && *c != '<' && *c != '&').collect();
            assert!(texts.contains(&url), "{url} is not from the conversation");
        }
    }
    // Session text is escaped, so any tag here is the page's own.
    for tag in ["<link", "<img", "<iframe", "<object", "<embed", "<script src"] {
        assert!(!html.contains(tag), "{tag} would load something");
    }
    let style = &html[html.find("<style>").unwrap()..html.find("</style>").unwrap()];
    assert!(!style.contains("url(") && !style.contains("@import"), "the CSS loads nothing");
}
