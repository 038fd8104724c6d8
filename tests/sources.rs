//! `cass sources`: every agent is listed with where cass looked, whether
//! that place exists, what was found, and what the index holds — on an empty
//! home as on a full one. It reads only: no index, no data dir created.

mod common;
use common::*;

const AGENTS: &[&str] = &[
    "claude_code",
    "codex",
    "gemini",
    "cline",
    "opencode",
    "amp",
    "aider",
    "cursor",
    "chatgpt",
    "pi_agent",
    "factory",
    "copilot_cli",
    "copilot",
    "goose",
    "crush",
    "kimi",
    "qwen",
    "openhands",
    "grok",
    "antigravity",
    "openclaw",
    "clawdbot",
    "vibe",
    "hermes",
    "claude_desktop",
    "kiro",
    "cursor_agent",
];

fn slugs(report: &serde_json::Value) -> Vec<String> {
    report["agents"].as_array().unwrap().iter().map(|a| a["agent"].as_str().unwrap().to_string()).collect()
}

#[test]
fn empty_home_says_where_it_looked_for_every_agent() {
    let sb = Sandbox::new();
    let report = sb.json(&["sources"]);
    assert_eq!(slugs(&report), AGENTS);
    assert_eq!(report["indexed"], false);
    let home = sb.home().to_string_lossy().into_owned();
    for a in report["agents"].as_array().unwrap() {
        let roots = a["roots"].as_array().unwrap();
        assert!(!roots.is_empty(), "{} lists no roots", a["agent"]);
        for r in roots {
            assert!(r["path"].as_str().unwrap().starts_with(&home), "{r}");
            assert!(!r["origin"].as_str().unwrap().is_empty());
            // Aider's root is $HOME itself, which exists (and holds nothing).
            if a["agent"] != "aider" {
                assert_eq!(r["exists"], false, "{r}");
            }
        }
        assert_eq!((a["files"].as_u64(), a["conversations"].as_u64()), (Some(0), Some(0)), "{a}");
        assert_eq!(a["unreadable"].as_array().unwrap().len(), 0);
    }
    let claude = agent_entry(&report, "claude_code");
    assert_eq!(claude["roots"][0]["path"].as_str().unwrap(), format!("{home}/.claude/projects"));
    assert_eq!(claude["roots"][0]["origin"], "default");
    // A reader: nothing was written.
    assert!(!sb.data().exists(), "cass sources created the data dir");

    // The human form names every agent and where it looked.
    let out = sb.run(&["sources"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for name in
        ["Claude Code:", "Cline / Roo Code:", "OpenCode:", "Cursor:", "ChatGPT desktop:", "Copilot Chat (VS Code):"]
    {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(text.contains(&format!("{home}/.factory/sessions (default; not found)")), "{text}");
    assert!(text.contains("not indexed yet"), "{text}");
}

#[test]
fn env_overrides_show_as_origins() {
    let sb = Sandbox::new();
    let out = sb
        .cass()
        .args(["sources", "--json"])
        .env("CODEX_HOME", sb.home().join("cx"))
        .env("OPENCODE_SQLITE_DB", sb.home().join("oc/my.db"))
        .env("CASS_AIDER_DATA_ROOT", sb.home().join("projects"))
        .env("COPILOT_HOME", sb.home().join("cp"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let origin =
        |agent: &str, i: usize| agent_entry(&report, agent)["roots"][i]["origin"].as_str().unwrap().to_string();
    assert_eq!(origin("codex", 0), "CODEX_HOME");
    assert_eq!(origin("opencode", 1), "OPENCODE_SQLITE_DB");
    assert_eq!(origin("aider", 0), "CASS_AIDER_DATA_ROOT");
    assert_eq!(origin("copilot_cli", 0), "COPILOT_HOME");
    let codex_root = agent_entry(&report, "codex")["roots"][0]["path"].as_str().unwrap().to_string();
    assert!(codex_root.ends_with("/cx/sessions"), "{codex_root}");
}

#[test]
fn fixtures_list_every_agent_before_and_after_indexing() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    let before = sb.json(&["sources"]);
    assert_eq!(slugs(&before), AGENTS);
    assert_eq!(before["indexed"], false);
    for a in before["agents"].as_array().unwrap() {
        assert!(a["files"].as_u64().unwrap() >= 1, "own fixtures have no {} files", a["agent"]);
        assert_eq!(a["files_pending"], a["files"], "{a}");
        assert!(a["roots"].as_array().unwrap().iter().any(|r| r["exists"] == true));
    }

    let index = sb.json(&["index", "--no-semantic"]);
    let after = sb.json(&["sources"]);
    assert_eq!(after["indexed"], true);
    for slug in AGENTS {
        let (i, s) = (agent_entry(&index, slug), agent_entry(&after, slug));
        assert_eq!(s["files"], i["files"], "{slug}");
        assert_eq!(s["conversations"], i["conversations"], "{slug}");
        assert_eq!(s["messages"], i["messages"], "{slug}");
        assert_eq!(s["malformed"], i["malformed_total"], "{slug}");
        assert_eq!(s["unreadable"], i["unreadable"], "{slug}");
        assert_eq!(s["files_pending"], 0, "{slug}");
        assert!(s["conversations"].as_i64().unwrap() >= 1 || *slug == "chatgpt", "{slug} indexed nothing");
    }
    // Stored counters, not this run's: bad lines recorded earlier still show.
    assert_eq!(agent_entry(&after, "claude_code")["malformed"], 3);
    assert_eq!(agent_entry(&after, "factory")["malformed"], 1);
    assert_eq!(agent_entry(&after, "opencode")["malformed"], 1);
    let gpt = agent_entry(&after, "chatgpt");
    assert_eq!(gpt["files"], 1);
    assert!(gpt["unreadable"][0]["error"].as_str().unwrap().starts_with("encrypted"));

    // A new session shows as pending until the next index.
    install_own(&sb.home().join("more"), ".factory");
    std::fs::rename(
        sb.home().join("more/.factory/sessions/-home-dev-api-server"),
        sb.home().join(".factory/sessions/-home-dev-other"),
    )
    .unwrap();
    let pending = sb.json(&["sources"]);
    let f = agent_entry(&pending, "factory");
    assert_eq!((f["files"].as_u64(), f["files_pending"].as_u64()), (Some(2), Some(1)));
}

#[test]
fn answers_while_a_writer_holds_the_lock() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    sb.json(&["index", "--no-semantic"]);
    let _held = cass::lock::WriterLock::acquire(&sb.data().join("cass.lock"), "test").unwrap();
    let started = std::time::Instant::now();
    let report = sb.json(&["sources"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(report["indexed"], true);
    assert_eq!(agent_entry(&report, "factory")["conversations"], 1);
}
