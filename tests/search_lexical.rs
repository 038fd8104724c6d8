//! Lexical search through the real binary: tokens for code, filters inside
//! retrieval, phrases, robot output, view/expand, and healing after a crash
//! between the store commit and the index commit.

mod common;
use common::*;

use std::path::Path;

fn codex_session(home: &Path, text: &str) {
    let dir = home.join(".codex/sessions/2026/02/01");
    std::fs::create_dir_all(&dir).unwrap();
    let lines = [
        r#"{"timestamp":"2026-02-01T09:00:00Z","type":"session_meta","payload":{"id":"cx1","cwd":"/srv/api"}}"#.to_string(),
        serde_json::json!({"timestamp":"2026-02-01T09:00:01Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":text}]}}).to_string(),
    ];
    std::fs::write(dir.join("rollout-2026-02-01T09-00-00-cx1.jsonl"), lines.join("\n") + "\n").unwrap();
}

/// A corpus with known tokens, agents, workspaces, times and roles.
fn corpus() -> Sandbox {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-app");
    std::fs::create_dir_all(&dir).unwrap();
    let s1 = [
        claude_line(
            "c1",
            "user",
            "why does unwrap_or_default hide the error?",
            "2026-01-10T10:00:00Z",
            "/home/dev/app",
        ),
        claude_line(
            "c1",
            "assistant",
            "In useEffect the cleanup runs first; see bd-q3fy.",
            "2026-01-10T10:00:05Z",
            "/home/dev/app",
        ),
        claude_line("c1", "user", "the server said ECONNREFUSED again", "2026-01-10T10:00:10Z", "/home/dev/app"),
        claude_line(
            "c1",
            "assistant",
            "Open src/main.rs and map std::io::Error properly.",
            "2026-01-10T10:00:15Z",
            "/home/dev/app",
        ),
        claude_line("c1", "user", "quick brown fox jumps over the lazy dog", "2026-01-10T10:00:20Z", "/home/dev/app"),
        claude_line(
            "c1",
            "assistant",
            "the fox was quick but the dog was brown",
            "2026-01-10T10:00:25Z",
            "/home/dev/app",
        ),
    ];
    std::fs::write(dir.join("c1.jsonl"), s1.concat()).unwrap();
    let dir2 = sb.home().join(".claude/projects/-home-dev-other");
    std::fs::create_dir_all(&dir2).unwrap();
    std::fs::write(
        dir2.join("c2.jsonl"),
        [
            claude_line("c2", "user", "ECONNREFUSED in the other project", "2026-03-05T08:00:00Z", "/home/dev/other"),
            claude_line("c2", "assistant", "retry with backoff", "2026-03-05T08:00:01Z", "/home/dev/other"),
        ]
        .concat(),
    )
    .unwrap();
    codex_session(&sb.home(), "ECONNREFUSED from the codex side");
    sb.json(&["index"]);
    sb
}

fn hits(sb: &Sandbox, args: &[&str]) -> Vec<serde_json::Value> {
    let out =
        sb.cass().arg("search").args(args).args(["--json", "--limit", "50", "--mode", "lexical"]).output().unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["hits"].as_array().unwrap().clone()
}

fn contents(sb: &Sandbox, args: &[&str]) -> Vec<String> {
    let db = sb.db();
    hits(sb, args)
        .iter()
        .map(|h| {
            db.query_row("SELECT content FROM messages WHERE id = ?1", [h["message_id"].as_i64().unwrap()], |r| {
                r.get(0)
            })
            .unwrap()
        })
        .collect()
}

#[test]
fn code_tokens_are_found_whole_and_by_each_part() {
    let sb = corpus();
    let cases: &[(&str, &[&str], &str)] = &[
        ("unwrap_or_default", &["unwrap", "default"], "unwrap_or_default hide"),
        ("useEffect", &["use", "effect", "useeffect"], "useEffect the cleanup"),
        ("bd-q3fy", &["bd", "q3fy"], "see bd-q3fy"),
        ("ECONNREFUSED", &["econnrefused"], "the server said"),
        ("src/main.rs", &["src", "main", "rs", "main.rs"], "Open src/main.rs"),
        ("std::io::Error", &["std", "io", "Error", "io::Error"], "map std::io::Error"),
    ];
    for (whole, parts, needle) in cases {
        for q in std::iter::once(whole).chain(parts.iter()) {
            let found = contents(&sb, &[q]);
            assert!(found.iter().any(|c| c.contains(needle)), "query {q:?} did not find {needle:?}: {found:?}");
        }
    }
    // `or` is a part of unwrap_or_default too, but a word of its own elsewhere
    // would also match; the whole form must not match unrelated text.
    assert_eq!(contents(&sb, &["unwrap_or_default"]).len(), 1);
}

/// The index holds a compound (`src/lexical/sync.rs`, `bd-q3fy`) by its
/// parts only; a prefix, wildcard or phrase over one still finds it, and
/// only where its parts stand in order.
#[test]
fn compounds_match_by_prefix_wildcard_and_phrase_through_their_parts() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-cass");
    std::fs::create_dir_all(&dir).unwrap();
    let texts = [
        "edit src/lexical/sync.rs before the commit",
        "then src/lexical/schema.rs gets the version",
        "sync the src tree, lexical too",
        "closed bd-q3fy yesterday",
        "unwrap_or_default everywhere",
    ];
    let lines: Vec<String> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| claude_line("k1", "user", t, &format!("2026-01-10T10:00:0{i}Z"), "/home/dev/cass"))
        .collect();
    std::fs::write(dir.join("k1.jsonl"), lines.concat()).unwrap();
    sb.json(&["index"]);
    let found = |q: &str| {
        let mut v = contents(&sb, &[q]);
        v.sort();
        v
    };
    let (sync, schema) = (texts[0], texts[1]);
    assert_eq!(found("src/lexical/sync*"), [sync]);
    assert_eq!(found("src/lexical/s*"), [sync, schema]);
    assert_eq!(found("src/lexical/sync.rs"), [sync]);
    assert_eq!(found("lexical/sync"), [sync]);
    assert_eq!(found("*lexical/sync.rs"), [sync]);
    assert_eq!(found("*xical/syn*"), [sync]);
    assert_eq!(found("*/schema.rs"), [schema]);
    assert_eq!(found("\"edit src/lexical/sync.rs\""), [sync]);
    assert_eq!(found("bd-q3fy"), [texts[3]]);
    assert_eq!(found("bd-q3*"), [texts[3]]);
    assert_eq!(found("\"closed bd-q3fy\""), [texts[3]]);
    assert_eq!(found("*q3fy"), [texts[3]]);
    // An identifier keeps its whole form: a prefix of it is a term prefix.
    assert_eq!(found("unwrap_or_d*"), [texts[4]]);
    // The parts out of order, or apart, are not the compound.
    assert!(found("sync/lexical").is_empty());
    assert!(found("lexical/src*").is_empty());
}

#[test]
fn phrases_need_adjacent_words() {
    let sb = corpus();
    assert_eq!(contents(&sb, &["\"quick brown fox\""]), ["quick brown fox jumps over the lazy dog"]);
    // Both words occur in the second message, far apart and out of order.
    assert_eq!(contents(&sb, &["\"brown fox\""]).len(), 1);
    assert_eq!(contents(&sb, &["fox brown"]).len(), 2);
    assert!(contents(&sb, &["\"fox brown\""]).is_empty());
}

#[test]
fn boolean_operators_and_prefixes() {
    let sb = corpus();
    assert_eq!(contents(&sb, &["fox -lazy"]), ["the fox was quick but the dog was brown"]);
    assert_eq!(contents(&sb, &["backoff OR cleanup"]).len(), 2);
    let pre = contents(&sb, &["econn*"]);
    assert_eq!(pre.len(), 3, "{pre:?}");
}

/// A lexical index of an older version (v4 indexed every message's time as
/// a term; v5 keeps it as a column only) is rebuilt by the next index run,
/// and its time filters then read the column.
#[test]
fn an_index_of_an_older_version_is_rebuilt_and_filters_by_time_as_before() {
    let sb = corpus();
    let version = cass::lexical::LEXICAL_VERSION;
    let rw = rusqlite::Connection::open(sb.data().join("cass.db")).unwrap();
    rw.execute("UPDATE meta SET value = ?1 WHERE key = 'lexical_version'", [(version - 1).to_string()]).unwrap();
    drop(rw);
    assert_eq!(sb.json(&["status"])["lexical"]["current_schema"], false);
    let report = sb.json(&["index"]);
    assert_eq!(report["lexical"]["rebuilt"], true, "{report}");
    assert_eq!(sb.json(&["status"])["lexical"]["current_schema"], true);
    let since = hits(&sb, &["ECONNREFUSED", "--since", "2026-03-01"]);
    assert_eq!(since.len(), 1);
    assert_eq!(since[0]["created_at"], "2026-03-05T08:00:00.000Z");
    assert_eq!(hits(&sb, &["ECONNREFUSED", "--since", "2026-01-11", "--until", "2026-02-28"]).len(), 1);
}

#[test]
fn every_filter_narrows_inside_retrieval() {
    let sb = corpus();
    assert_eq!(hits(&sb, &["ECONNREFUSED"]).len(), 3);
    let by_agent = hits(&sb, &["ECONNREFUSED", "--agent", "codex"]);
    assert_eq!(by_agent.len(), 1);
    assert_eq!(by_agent[0]["agent"], "codex");
    assert_eq!(by_agent[0]["workspace"], "/srv/api");
    assert_eq!(hits(&sb, &["ECONNREFUSED", "--agent", "claude", "--agent", "codex"]).len(), 3);
    let ws = hits(&sb, &["ECONNREFUSED", "--workspace", "/home/dev/other"]);
    assert_eq!(ws.len(), 1);
    assert_eq!(ws[0]["workspace"], "/home/dev/other");
    assert_eq!(hits(&sb, &["ECONNREFUSED", "--workspace", "/home/dev"]).len(), 2);
    assert_eq!(hits(&sb, &["ECONNREFUSED", "--workspace", "/home/dev/ot"]).len(), 0);
    let since = hits(&sb, &["ECONNREFUSED", "--since", "2026-03-01"]);
    assert_eq!(since.len(), 1);
    assert_eq!(since[0]["created_at"], "2026-03-05T08:00:00.000Z");
    let until = hits(&sb, &["ECONNREFUSED", "--until", "2026-01-10"]);
    assert_eq!(until.len(), 1);
    assert_eq!(until[0]["created_at"], "2026-01-10T10:00:10.000Z");
    assert_eq!(hits(&sb, &["ECONNREFUSED", "--since", "2026-01-11", "--until", "2026-02-28"]).len(), 1);
    // Filters apply before the top-K cut: with limit 1 the only hit is the
    // filtered one, not the best overall hit filtered away.
    let out = sb.json(&["search", "fox", "--role", "assistant", "--limit", "1", "--mode", "lexical"]);
    assert_eq!(out["total"], 1);
    assert_eq!(out["hits"][0]["role"], "assistant");
    assert_eq!(hits(&sb, &["fox", "--role", "user"]).len(), 1);
}

#[test]
fn robot_output_has_the_documented_shape_and_exit_codes() {
    let sb = corpus();
    let v = sb.json(&["search", "ECONNREFUSED", "--limit", "2", "--mode", "lexical"]);
    assert_eq!(v["schema"], "cass.search.v1");
    assert_eq!(v["query"], "ECONNREFUSED");
    assert_eq!(v["mode"], "lexical");
    assert_eq!(v["total"], 3);
    assert_eq!(v["next_offset"], 2);
    assert!(v["elapsed_ms"].as_f64().is_some());
    let hit = &v["hits"][0];
    for key in [
        "message_id",
        "conversation_id",
        "agent",
        "workspace",
        "title",
        "role",
        "created_at",
        "source_path",
        "score",
        "snippet",
    ] {
        assert!(hit.get(key).is_some(), "missing {key}");
    }
    let text = hit["snippet"]["text"].as_str().unwrap();
    let (a, b) = (
        hit["snippet"]["highlights"][0][0].as_u64().unwrap() as usize,
        hit["snippet"]["highlights"][0][1].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[a..b], "ECONNREFUSED");
    let page2 = sb.json(&["search", "ECONNREFUSED", "--limit", "2", "--offset", "2", "--mode", "lexical"]);
    assert_eq!(page2["hits"].as_array().unwrap().len(), 1);
    assert_eq!(page2["next_offset"], serde_json::Value::Null);

    let none = sb.run(&["search", "zzzznothing", "--json", "--mode", "lexical"]);
    assert_eq!(none.status.code(), Some(1));
    let bad = sb.run(&["search", "foo OR", "--json"]);
    assert_eq!(bad.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&bad.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "usage");
    let empty = Sandbox::new();
    let out = empty.run(&["search", "x", "--json"]);
    assert_eq!(out.status.code(), Some(cass::cli::exit::NO_INDEX));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "no_index");
}

#[test]
fn human_output_never_writes_session_escapes_raw() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-x");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("e.jsonl"),
        claude_line("e1", "user", "evil \u{1b}]0;pwned\u{7} \u{1b}[2J payload", "2026-01-01T00:00:00Z", "/x"),
    )
    .unwrap();
    sb.json(&["index"]);
    for args in [vec!["search", "payload", "--color", "always"], vec!["view", "1"], vec!["expand", "1"]] {
        let out = sb.run(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !stdout.contains("\u{1b}]") && !stdout.contains("\u{1b}[2J") && !stdout.contains('\u{7}'),
            "{args:?}: {stdout:?}"
        );
    }
    let plain = sb.run(&["search", "payload", "--color", "never"]);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains('\u{1b}'));
}

#[test]
fn view_and_expand_print_the_right_messages() {
    let sb = corpus();
    let hit = &hits(&sb, &["useEffect"])[0];
    let (mid, cid) = (hit["message_id"].as_i64().unwrap(), hit["conversation_id"].as_i64().unwrap());

    let view = sb.json(&["view", &cid.to_string()]);
    let msgs = view["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 6);
    assert_eq!(msgs[0]["content"], "why does unwrap_or_default hide the error?");
    assert_eq!(view["conversation"]["workspace"], "/home/dev/app");

    let out = sb.run(&["view", &cid.to_string()]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains("## user") && md.contains("## assistant") && md.contains("In useEffect the cleanup runs first")
    );

    // By session file path, too.
    let path = sb.home().join(".claude/projects/-home-dev-app/c1.jsonl");
    let by_path = sb.json(&["view", path.to_str().unwrap()]);
    assert_eq!(by_path["conversation"]["id"], cid);

    let ex = sb.json(&["expand", &mid.to_string(), "-C", "1"]);
    let around: Vec<&str> = ex["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(
        around,
        [
            "why does unwrap_or_default hide the error?",
            "In useEffect the cleanup runs first; see bd-q3fy.",
            "the server said ECONNREFUSED again"
        ]
    );
    assert_eq!(ex["target_message_id"], mid);
    let text = String::from_utf8_lossy(&sb.run(&["expand", &mid.to_string(), "-C", "0"]).stdout).into_owned();
    assert!(text.contains("## ▶ assistant") && text.contains("useEffect"), "{text}");
    assert_eq!(text.matches("\n## ").count(), 1, "{text}");
    assert_eq!(sb.run(&["expand", "999999"]).status.code(), Some(1));
}

/// Each crash point, in a sync after ingest and in a bulk build beside
/// ingest (`--bulk-rows 0`: any new message starts one), whose documents
/// are added before ingest ends but committed only after it.
#[test]
fn a_crash_between_store_and_index_commits_heals_on_the_next_run() {
    let points = ["index.after_store_commit", "lexical.before_commit", "lexical.after_commit"];
    let cases = points.iter().map(|&p| (p, "50000")).chain(
        ["lexical.beside_ingest", "index.after_store_commit", "lexical.before_commit", "lexical.after_commit"]
            .iter()
            .map(|&p| (p, "0")),
    );
    for (point, bulk) in cases {
        let sb = corpus();
        let f = sb.home().join(".claude/projects/-home-dev-app/c1.jsonl");
        let mut text = std::fs::read_to_string(&f).unwrap();
        text.push_str(&claude_line("c1", "user", "zebracorn appears once", "2026-01-10T11:00:00Z", "/home/dev/app"));
        std::fs::write(&f, text).unwrap();
        let crashed = sb.cass().env("CASS_TEST_CRASH_AT", point).args(["index", "--bulk-rows", bulk]).output().unwrap();
        assert!(!crashed.status.success(), "{point}: the crash point was not reached");
        let healed = sb.json(&["index"]);
        assert_eq!(healed["messages_added"], 0, "{point}: the store already had it");
        let found = hits(&sb, &["zebracorn"]);
        assert_eq!(found.len(), 1, "{point}: {found:?}");
        // And nothing else was duplicated.
        assert_eq!(hits(&sb, &["ECONNREFUSED"]).len(), 3, "{point}");
        // Hits are one per message even when a message has two documents:
        // the deep check counts the documents themselves.
        assert_deep_health_counts_agree(&sb, point);
    }
}

/// `cass health --deep` passes and finds the lexical index's message
/// documents as many as the store's messages.
fn assert_deep_health_counts_agree(sb: &Sandbox, context: &str) {
    let deep = sb.cass().args(["health", "--deep", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&deep.stdout).unwrap();
    assert!(deep.status.success(), "{context}: {v}");
    assert_eq!(v.to_string().matches("count_mismatch").count(), 0, "{context}: {v}");
}

/// A bulk build beside ingest (`--bulk-rows 0`) over a `--full` re-read
/// that rewrites one session and extends another: documents fed before
/// ingest ended are re-derived where ingest changed them, so every message
/// is found once and the rewritten text not at all.
#[test]
fn a_bulk_build_beside_ingest_leaves_each_message_once() {
    let sb = corpus();
    let other = sb.home().join(".claude/projects/-home-dev-other/c2.jsonl");
    std::fs::write(
        &other,
        claude_line("c2", "user", "totally different now", "2026-03-06T08:00:00Z", "/home/dev/other"),
    )
    .unwrap();
    let app = sb.home().join(".claude/projects/-home-dev-app/c1.jsonl");
    let mut text = std::fs::read_to_string(&app).unwrap();
    text.push_str(&claude_line("c1", "user", "zebracorn appears once", "2026-01-10T11:00:00Z", "/home/dev/app"));
    std::fs::write(&app, text).unwrap();
    let out = sb.cass().args(["index", "--full", "--json", "--bulk-rows", "0"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["lexical"]["beside_ingest"].as_u64().unwrap() > 0, "{}", report["lexical"]);
    assert!(report["lexical"]["rederived_conversations"].as_u64().unwrap() >= 1, "{}", report["lexical"]);
    assert_eq!(hits(&sb, &["zebracorn"]).len(), 1);
    assert_eq!(hits(&sb, &["backoff"]).len(), 0, "the rewritten message is gone");
    assert_eq!(hits(&sb, &["different"]).len(), 1);
    assert_eq!(hits(&sb, &["ECONNREFUSED"]).len(), 2);
    let messages: i64 = sb.db().query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0)).unwrap();
    let v = sb.json(&["search", "*", "--since", "2000-01-01", "--limit", "1"]);
    assert_eq!(v["total"], messages, "every stored message indexed once: {v}");
}

#[test]
fn rewritten_sessions_leave_no_stale_hits() {
    let sb = corpus();
    let f = sb.home().join(".claude/projects/-home-dev-other/c2.jsonl");
    std::fs::write(&f, claude_line("c2", "user", "totally different now", "2026-03-06T08:00:00Z", "/home/dev/other"))
        .unwrap();
    sb.json(&["index"]);
    assert_eq!(hits(&sb, &["backoff"]).len(), 0);
    assert_eq!(hits(&sb, &["different"]).len(), 1);
    assert_eq!(hits(&sb, &["ECONNREFUSED"]).len(), 2);
}

#[test]
fn many_small_runs_do_not_pile_up_segments() {
    let sb = corpus();
    let f = sb.home().join(".claude/projects/-home-dev-app/c1.jsonl");
    let mut segments = 0;
    for i in 0..40 {
        let mut text = std::fs::read_to_string(&f).unwrap();
        text.push_str(&claude_line(
            "c1",
            "user",
            &format!("incremental note {i}"),
            "2026-01-10T12:00:00Z",
            "/home/dev/app",
        ));
        std::fs::write(&f, text).unwrap();
        let r = sb.json(&["index"]);
        assert_eq!(r["lexical"]["added"], 1);
        segments = r["lexical"]["segments"].as_u64().unwrap();
    }
    assert!(segments <= 12, "{segments} segments after 40 incremental runs");
    assert_eq!(hits(&sb, &["incremental"]).len(), 40);
}

/// A conversation's title is indexed once (v6), not on each message, and
/// still ranks that conversation's hits higher: two messages alike in
/// text and time tie on content, and the one whose title holds the query's
/// words comes first although its id is higher (a tie goes to the lower
/// id). A title alone matches nothing. When the title changes, the old
/// one no longer counts, and `health --deep` counts messages, not titles.
#[test]
fn a_title_ranks_its_conversations_hits_higher_but_never_matches_alone() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-srv");
    std::fs::create_dir_all(&dir).unwrap();
    let ts = "2026-02-01T09:00:00Z";
    let text = "the consumer lag grew after the deploy";
    let plain = claude_line("p1", "user", "what happened overnight", ts, "/srv")
        + &claude_line("p1", "assistant", text, ts, "/srv");
    std::fs::write(dir.join("p1.jsonl"), plain).unwrap();
    sb.json(&["index"]);
    let titled = |title: &str| {
        format!("{{\"type\":\"summary\",\"summary\":\"{title}\"}}\n")
            + &claude_line("t1", "user", "look at this please", ts, "/srv")
            + &claude_line("t1", "assistant", text, ts, "/srv")
    };
    std::fs::write(dir.join("t1.jsonl"), titled("consumer lag during rebalance")).unwrap();
    sb.json(&["index"]);
    let first = |sb: &Sandbox| {
        let found = hits(sb, &["consumer lag"]);
        assert_eq!(found.len(), 2, "{found:?}");
        found[0]["title"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(first(&sb), "consumer lag during rebalance", "the titled conversation's hit ranks first");
    assert!(hits(&sb, &["rebalance"]).is_empty(), "a word only in a title matches no message");

    // A new title: the old one's words no longer raise the hit.
    std::fs::write(dir.join("t1.jsonl"), titled("weekly notes about the deploy")).unwrap();
    sb.json(&["index"]);
    let found = hits(&sb, &["consumer lag"]);
    assert_eq!(found[1]["title"], "weekly notes about the deploy", "the new title is stored: {found:?}");
    assert_eq!(found[0]["title"], "what happened overnight", "a tie again: the lower id first");

    assert_deep_health_counts_agree(&sb, "titles");
}
