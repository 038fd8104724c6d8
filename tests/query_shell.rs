//! Pasted shell text searches as text: a command's flags are not taken as
//! exclusions, while `word -other` still excludes (docs/ROBOT.md).

mod common;

use common::{Sandbox, claude_line, index_no_semantic};

#[test]
fn flags_and_arrows_search_literally_and_dash_words_still_exclude() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-app");
    std::fs::create_dir_all(&dir).unwrap();
    let texts = [
        "raise the limit: ulimit -n 65535",
        "list it with ls -la /tmp",
        "then git commit -m \"fix parser\"",
        "the arrow a -> b maps",
        "tokio with async runtime",
        "tokio without it",
        "cargo build --release finished",
    ];
    for (i, t) in texts.iter().enumerate() {
        let line = claude_line(&format!("s{i}"), "user", t, &format!("2026-01-0{}T10:00:00.000Z", i + 1), "/w");
        std::fs::write(dir.join(format!("s{i}.jsonl")), line).unwrap();
    }
    index_no_semantic(&sb);
    let found = |q: &str| -> Vec<String> {
        let v = sb.json(&["search", q, "--mode", "lexical", "--group", "message"]);
        v["hits"].as_array().unwrap().iter().map(|h| h["snippet"]["text"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(found("ulimit -n"), [texts[0]]);
    assert_eq!(found("ls -la"), [texts[1]]);
    assert_eq!(found("git commit -m \"fix parser\""), [texts[2]]);
    assert_eq!(found("a -> b"), [texts[3]]);
    assert_eq!(found("cargo build --release"), [texts[6]]);
    assert_eq!(found("tokio -async"), [texts[5]]);
    assert_eq!(found("tokio -\"async runtime\""), [texts[5]]);
    // The same words as separate arguments: `-` words that are not search's
    // flags are query text, and the flags after them still count.
    let v = sb.json(&["search", "a", "->", "b", "--mode", "lexical", "--group", "message"]);
    assert_eq!(v["query"], "a -> b");
    assert_eq!(v["hits"][0]["snippet"]["text"], texts[3]);
    let v = sb.json(&["search", "tokio", "-async", "--mode", "lexical", "-n", "5"]);
    assert_eq!(v["hits"].as_array().unwrap().len(), 1);
    assert_eq!(v["hits"][0]["snippet"]["text"], texts[5]);
    let typo = sb.run(&["search", "tokio", "--limt", "5"]);
    assert_eq!(typo.status.code(), Some(2), "a mistyped flag is an error, not words");
}

/// A question typed as a sentence: stopwords never have to match, and when
/// all the words together find fewer than a handful of messages, those
/// holding most of them follow, marked partial.
#[test]
fn sentence_queries_find_most_of_their_words() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-app");
    std::fs::create_dir_all(&dir).unwrap();
    let texts = [
        "handle rate limiting in async rust with a semaphore",
        "rate limiting an async rust client",
        "async rate limiting in python",
        "rust lifetimes explained",
        "fix flaky test quickly",
    ];
    for (i, t) in texts.iter().enumerate() {
        let line = claude_line(&format!("s{i}"), "user", t, &format!("2026-01-0{}T10:00:00.000Z", i + 1), "/w");
        std::fs::write(dir.join(format!("s{i}.jsonl")), line).unwrap();
    }
    index_no_semantic(&sb);
    let v =
        sb.json(&["search", "how to handle rate limiting in async rust", "--mode", "lexical", "--group", "message"]);
    let hits = v["hits"].as_array().unwrap();
    let texts_found: Vec<&str> = hits.iter().map(|h| h["snippet"]["text"].as_str().unwrap()).collect();
    assert_eq!(texts_found[0], texts[0], "the full match first: {v:#}");
    assert_eq!(hits[0].get("partial"), None);
    assert_eq!(hits.len(), 3, "{v:#}");
    assert!(hits[1..].iter().all(|h| h["partial"] == true), "{v:#}");
    assert_eq!(v["partial_matches"], 2);
    assert!(!texts_found.contains(&texts[3]), "one word of five is not most of them");
    // Stopwords need not match.
    let s = sb.json(&["search", "how to fix the flaky test", "--mode", "lexical"]);
    assert_eq!(s["hits"][0]["snippet"]["text"], texts[4]);
    assert_eq!(s["partial_matches"], 0);
    // Only partial matches: shown, but the exit code says nothing matched all the words.
    let only = sb.run(&["search", "rate limiting rust tokio", "--mode", "lexical", "--json"]);
    assert_eq!(only.status.code(), Some(1));
    let body: serde_json::Value = serde_json::from_slice(&only.stdout).unwrap();
    assert!(body["partial_matches"].as_u64().unwrap() > 0, "{body:#}");
    // Enough full matches: no partial ones.
    let two = sb.json(&["search", "rate limiting async", "--mode", "lexical"]);
    assert_eq!(two["partial_matches"], 0);
}
