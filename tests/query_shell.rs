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
}
