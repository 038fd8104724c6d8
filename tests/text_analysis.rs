//! Text analysis and the query language (docs/ROBOT.md "Query language"):
//! accents fold, word forms meet with exact forms ranked first, and AND /
//! NOT / parentheses / wildcards select what they say.

mod common;

use common::{Sandbox, claude_line, index_no_semantic};

/// A sandbox with one Claude Code session per text, in order.
fn sessions(texts: &[&str]) -> Sandbox {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-app");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, t) in texts.iter().enumerate() {
        let ts = format!("2026-01-{:02}T10:00:00.000Z", i + 1);
        std::fs::write(dir.join(format!("s{i}.jsonl")), claude_line(&format!("s{i}"), "user", t, &ts, "/w")).unwrap();
    }
    index_no_semantic(&sb);
    sb
}

/// The texts of the hits that match the whole query (not partial
/// matches), in rank order, and their highlighted words.
fn search(sb: &Sandbox, q: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let out = sb.run(&["search", q, "--mode", "lexical", "--group", "message", "--limit", "50", "--json"]);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{q}: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hits: Vec<&serde_json::Value> =
        v["hits"].as_array().unwrap_or_else(|| panic!("{q}: {v:#}")).iter().filter(|h| h["partial"] != true).collect();
    let texts = hits.iter().map(|h| h["snippet"]["text"].as_str().unwrap().to_string()).collect();
    let marks = hits
        .iter()
        .map(|h| {
            let text = h["snippet"]["text"].as_str().unwrap();
            h["snippet"]["highlights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| text[r[0].as_u64().unwrap() as usize..r[1].as_u64().unwrap() as usize].to_string())
                .collect()
        })
        .collect();
    (texts, marks)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn accents_fold_in_both_unicode_forms_and_are_highlighted() {
    let texts = [
        "met at the café downtown",      // precomposed é
        "met at the cafe\u{301} uptown", // e + combining acute
        "a naïve implementation",
        "update the Résumé parser",
        "plain cafe and resume words",
    ];
    let sb = sessions(&texts);
    let cafes = sorted(vec![texts[0].into(), texts[1].into(), texts[4].into()]);
    for q in ["cafe", "café", "cafe\u{301}", "CAFÉ"] {
        let (found, marks) = search(&sb, q);
        assert_eq!(sorted(found.clone()), cafes, "{q}");
        let precomposed = found.iter().position(|t| t == texts[0]).unwrap();
        assert_eq!(marks[precomposed], ["café"], "{q}: the accented word is highlighted");
        let decomposed = found.iter().position(|t| t == texts[1]).unwrap();
        assert_eq!(marks[decomposed], ["cafe\u{301}"], "{q}");
    }
    assert_eq!(search(&sb, "naive").0, [texts[2]]);
    assert_eq!(sorted(search(&sb, "resume").0), sorted(vec![texts[3].into(), texts[4].into()]));
    assert_eq!(sorted(search(&sb, "résumé").0), sorted(vec![texts[3].into(), texts[4].into()]));
}

#[test]
fn word_forms_match_and_exact_forms_rank_first() {
    let texts = [
        "publishing crates to the registry took a token",
        "publish the crate after the tag",
        "TODO fixes for the parser",
        "fixed the flaky test",
        "a crate of apples",
    ];
    let sb = sessions(&texts);
    let (found, marks) = search(&sb, "publish crate");
    assert_eq!(found, [texts[1], texts[0]], "exact forms first, then the other forms");
    assert_eq!(marks[1], ["publishing", "crates"]);
    let (found, _) = search(&sb, "crates");
    assert_eq!(found[0], texts[0], "the exact word ranks above its stem: {found:?}");
    assert_eq!(sorted(found), sorted(vec![texts[0].into(), texts[1].into(), texts[4].into()]));
    assert_eq!(sorted(search(&sb, "TODO fix").0), [texts[2]]);
    assert_eq!(sorted(search(&sb, "fix").0), sorted(vec![texts[2].into(), texts[3].into()]));
    // Phrases stay exact.
    assert_eq!(search(&sb, "\"publish crate\"").0, Vec::<String>::new());
    assert_eq!(search(&sb, "\"publish the crate\"").0, [texts[1]]);
}

#[test]
fn and_not_parentheses_and_wildcards() {
    let texts = [
        "tokio runtime panicked with IoError",        // 0
        "async-std runtime with ParseError",          // 1
        "tokio runtime is fine",                      // 2
        "reconnecting after the socket disconnected", // 3
        "jwt refresh flow",                           // 4
        "session cookie flow",                        // 5
        "jwt cookie flow",                            // 6
        "unwrap() on a None value in foo(bar)",       // 7
    ];
    let sb = sessions(&texts);
    let s = |q: &str| sorted(search(&sb, q).0);
    let of = |idx: &[usize]| sorted(idx.iter().map(|&i| texts[i].to_string()).collect());
    assert_eq!(s("tokio AND runtime"), of(&[0, 2]));
    assert_eq!(s("tokio AND runtime NOT IoError"), of(&[2]));
    assert_eq!(s("runtime NOT (tokio OR async-std)"), of(&[]));
    assert_eq!(s("runtime -(IoError OR ParseError)"), of(&[2]));
    assert_eq!(s("(jwt refresh) OR (session cookie)"), of(&[4, 5]));
    assert_eq!(s("flow (jwt OR session) cookie"), of(&[5, 6]));
    assert_eq!(s("*Error"), of(&[0, 1]));
    assert_eq!(s("*onnect*"), of(&[3]));
    assert_eq!(s("recon*"), of(&[3]));
    assert_eq!(s("*Error NOT tokio"), of(&[1]));
    assert_eq!(s("unwrap()"), of(&[7]));
    assert_eq!(s("foo(bar)"), of(&[7]));
    // The term list wildcards scan follows the index: a new word is found
    // after the next index run, and one list (of this generation) is kept.
    let dir = sb.home().join(".claude/projects/-home-dev-app");
    let line = claude_line("late", "user", "then a QuotaExceededError appeared", "2026-02-01T10:00:00.000Z", "/w");
    std::fs::write(dir.join("late.jsonl"), line).unwrap();
    index_no_semantic(&sb);
    assert!(s("*Error").contains(&"then a QuotaExceededError appeared".to_string()));
    assert_eq!(std::fs::read_dir(sb.data().join("lexical-terms")).unwrap().count(), 1);
    // Operators in lowercase are words; errors say what is wrong.
    let bad = sb.run(&["search", "tokio AND", "--mode", "lexical", "--json"]);
    assert_eq!(bad.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&bad.stderr).unwrap();
    assert!(err["error"]["message"].as_str().unwrap().contains("'AND' needs a term"), "{err:#}");
    let short = sb.run(&["search", "*e", "--mode", "lexical", "--json"]);
    assert_eq!(short.status.code(), Some(2));
}
