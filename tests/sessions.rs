//! `cass sessions` and the workspace filter as people name workspaces (a
//! path, a directory's name, `.`), run through the real binary against a
//! sandbox.

mod common;

use std::path::PathBuf;

use common::{Sandbox, claude_line};
use serde_json::Value;

/// A sandbox with Claude Code sessions in five workspaces under
/// `<sandbox>/src` (real directories, so `.` can be run from inside them)
/// and the project's Codex fixture (`/home/dev/api-server`), indexed.
///
/// | session | workspace | last message |
/// |---|---|---|
/// | `s-app` | `src/webapp` | 2026-03-10 10:02 |
/// | `s-front` | `src/webapp/frontend` | 2026-03-12 10:02 |
/// | `s-web` | `src/web` | 2026-03-11 10:02 |
/// | `s-old` | `src/webapp-old` | 2026-03-09 10:02 |
/// | `s-other` | `src/other/webapp` | 2026-03-08 10:02 |
/// | codex | `/home/dev/api-server` | 2026-03-14 09:13 |
struct Corpus {
    sb: Sandbox,
    /// `<sandbox>/src`, as the sessions record it.
    src: PathBuf,
}

const CLAUDE: [(&str, &str, &str); 5] = [
    ("s-app", "webapp", "2026-03-10"),
    ("s-front", "webapp/frontend", "2026-03-12"),
    ("s-web", "web", "2026-03-11"),
    ("s-old", "webapp-old", "2026-03-09"),
    ("s-other", "other/webapp", "2026-03-08"),
];

fn corpus() -> Corpus {
    let sb = Sandbox::new();
    let src = std::fs::canonicalize(sb.dir.path()).unwrap().join("src");
    for (id, rel, day) in CLAUDE {
        let cwd = src.join(rel);
        std::fs::create_dir_all(&cwd).unwrap();
        let cwd = cwd.to_str().unwrap();
        let text = [
            claude_line(
                id,
                "user",
                &format!("question in {id} about the deploy script"),
                &format!("{day}T10:00:00Z"),
                cwd,
            ),
            claude_line(id, "assistant", &format!("answer in {id}: run make deploy"), &format!("{day}T10:01:00Z"), cwd),
            claude_line(id, "user", &format!("thanks from {id}"), &format!("{day}T10:02:00Z"), cwd),
        ]
        .concat();
        let dir = sb.home().join(".claude/projects").join(id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{id}.jsonl")), text).unwrap();
    }
    common::install_own(&sb.home(), ".codex");
    common::index_no_semantic(&sb);
    Corpus { sb, src }
}

impl Corpus {
    fn ws(&self, rel: &str) -> String {
        self.src.join(rel).to_str().unwrap().to_string()
    }

    /// The workspaces of a search's hits (`deploy` is in every Claude session), sorted and deduplicated.
    fn searched(&self, workspace: &str) -> Vec<String> {
        let v = found(&self.sb, &["search", "deploy", "--mode", "lexical", "--limit", "100", "--workspace", workspace]);
        workspaces(&v["hits"])
    }
}

/// `cass ARGS --json` that may find nothing (exit 1) but must not fail.
fn found(sb: &Sandbox, args: &[&str]) -> Value {
    let out = sb.cass().args(args).arg("--json").output().unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "cass {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn workspaces(items: &Value) -> Vec<String> {
    let mut w: Vec<String> =
        items.as_array().unwrap().iter().map(|i| i["workspace"].as_str().unwrap().into()).collect();
    w.sort();
    w.dedup();
    w
}

#[test]
fn search_by_workspace_name_matches_whole_directory_names_only() {
    let c = corpus();
    let (app, front, other) = (c.ws("webapp"), c.ws("webapp/frontend"), c.ws("other/webapp"));
    assert_eq!(c.searched("webapp"), [other.as_str(), &app, &front], "the name, wherever it is, and below it");
    assert_eq!(c.searched("webapp/"), [other.as_str(), &app, &front]);
    assert_eq!(c.searched("web"), [c.ws("web")], "`web` is not `webapp`");
    assert_eq!(c.searched("src/webapp"), [app.as_str(), &front], "several components in a row");
    assert_eq!(c.searched("frontend"), [front.as_str()]);
    assert!(c.searched("webap").is_empty(), "no partial names");
    // Paths keep their meaning: the directory and below it, no sibling.
    assert_eq!(c.searched(&app), [app.as_str(), &front]);
    assert_eq!(c.searched(&c.ws("web")), [c.ws("web")]);
}

#[test]
fn dot_is_the_project_of_the_current_directory() {
    let c = corpus();
    let (app, front) = (c.ws("webapp"), c.ws("webapp/frontend"));
    let deep = c.src.join("webapp/lib/deep");
    std::fs::create_dir_all(&deep).unwrap();
    let search_in = |dir: &PathBuf, ws: &str| -> Vec<String> {
        let out =
            c.sb.cass()
                .current_dir(dir)
                .args(["search", "deploy", "--mode", "lexical", "--limit", "100", "--json", "--workspace", ws])
                .output()
                .unwrap();
        assert!(out.status.success() || out.status.code() == Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        workspaces(&serde_json::from_slice::<Value>(&out.stdout).unwrap()["hits"])
    };
    // Below a project's directory, `.` is that project (and what is below it).
    assert_eq!(search_in(&deep, "."), [app.as_str(), &front]);
    assert_eq!(search_in(&c.src.join("webapp"), "./"), [app.as_str(), &front]);
    // The nearest project wins: frontend has sessions of its own.
    assert_eq!(search_in(&c.src.join("webapp/frontend"), "."), [front.as_str()]);
    // No project at or above: the directory itself, and everything below it.
    assert_eq!(search_in(&c.src, ".").len(), 5);
    // Other relative paths resolve against the current directory.
    assert_eq!(search_in(&c.src, "./web"), [c.ws("web")]);
    assert_eq!(search_in(&c.src.join("web"), "../webapp-old"), [c.ws("webapp-old")]);
}

/// `cass sessions ARGS --json`, which may list nothing (exit 1).
fn listed(sb: &Sandbox, args: &[&str]) -> Value {
    let mut all = vec!["sessions"];
    all.extend_from_slice(args);
    found(sb, &all)
}

/// The external ids of a listing, in order.
fn ids(doc: &Value) -> Vec<String> {
    doc["sessions"].as_array().unwrap().iter().map(|s| s["external_id"].as_str().unwrap().to_string()).collect()
}

/// The Codex fixture's session id.
const CODEX: &str = "0194a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

#[test]
fn sessions_lists_every_conversation_newest_first_with_its_facts() {
    let c = corpus();
    let out = c.sb.run(&["sessions", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ids(&doc), [CODEX, "s-front", "s-web", "s-app", "s-old", "s-other"]);
    assert_eq!(
        (doc["total"].as_i64(), doc["next_offset"].is_null(), doc["workspace"].is_null()),
        (Some(6), true, true)
    );
    let app = &doc["sessions"][3];
    assert_eq!(app["agent"], "claude_code");
    assert_eq!(app["title"], "question in s-app about the deploy script");
    assert_eq!(app["workspace"], c.ws("webapp"));
    assert_eq!(app["started_at"], "2026-03-10T10:00:00.000Z");
    assert_eq!(app["ended_at"], "2026-03-10T10:02:00.000Z");
    assert_eq!(app["message_count"], 3);
    assert!(app["source_path"].as_str().unwrap().ends_with(".claude/projects/s-app/s-app.jsonl"));
    // `id` is what `cass view` takes.
    let id = app["id"].as_i64().unwrap().to_string();
    let view = c.sb.json(&["view", &id]);
    assert_eq!(view["conversation"]["external_id"], "s-app");
}

#[test]
fn sessions_filter_by_agent_workspace_time_and_page() {
    let c = corpus();
    let sb = &c.sb;
    assert_eq!(ids(&listed(sb, &["--agent", "codex"])), [CODEX]);
    assert_eq!(ids(&listed(sb, &["--agent", "claude_code"])).len(), 5);
    assert_eq!(ids(&listed(sb, &["--agent", "claude_code", "--agent", "codex"])).len(), 6);
    assert_eq!(ids(&listed(sb, &["--workspace", "webapp"])), ["s-front", "s-app", "s-other"]);
    assert_eq!(ids(&listed(sb, &["--workspace", "web"])), ["s-web"], "`web` is not `webapp`");
    assert_eq!(ids(&listed(sb, &["--workspace", &c.ws("webapp")])), ["s-front", "s-app"]);
    assert_eq!(ids(&listed(sb, &["--workspace", "/home/dev"])), [CODEX]);
    // Time is the last activity.
    assert_eq!(ids(&listed(sb, &["--since", "2026-03-11T00:00:00Z"])), [CODEX, "s-front", "s-web"]);
    assert_eq!(ids(&listed(sb, &["--until", "2026-03-10T10:02:00Z"])), ["s-old", "s-other"]);
    assert_eq!(ids(&listed(sb, &["--until", "2026-03-10T10:02:00.001Z"])), ["s-app", "s-old", "s-other"]);
    let both = ["--since", "2026-03-09T00:00:00Z", "--until", "2026-03-12T00:00:00Z", "--agent", "claude_code"];
    assert_eq!(ids(&listed(sb, &both)), ["s-web", "s-app", "s-old"]);
    // The limit, and what tells a caller that it cut the list.
    let page = listed(sb, &["--limit", "2"]);
    assert_eq!(ids(&page), [CODEX, "s-front"]);
    assert_eq!((page["total"].as_i64(), page["next_offset"].as_i64()), (Some(6), Some(2)));
    let last = listed(sb, &["--limit", "2", "--offset", "4"]);
    assert_eq!(ids(&last), ["s-old", "s-other"]);
    assert!(last["next_offset"].is_null());
    // Nothing matches: an empty list and exit 1, as a search without hits.
    let out = sb.run(&["sessions", "--agent", "gemini", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let none: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((none["sessions"].as_array().unwrap().len(), none["total"].as_i64()), (0, Some(0)));
    // Bad values are usage errors, as in search.
    for bad in [&["--agent", "nobody"][..], &["--since", "last tuesday"], &["--limit", "0"]] {
        let mut args = vec!["sessions", "--json"];
        args.extend_from_slice(bad);
        assert_eq!(sb.run(&args).status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn sessions_list_twenty_by_default() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/many");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..25 {
        let line = claude_line(&format!("m{i:02}"), "user", "hello", &format!("2026-01-{:02}T10:00:00Z", i + 1), "/w");
        std::fs::write(dir.join(format!("m{i:02}.jsonl")), line).unwrap();
    }
    common::index_no_semantic(&sb);
    let doc = sb.json(&["sessions"]);
    assert_eq!(ids(&doc).len(), 20);
    assert_eq!(
        (ids(&doc)[0].as_str(), doc["total"].as_i64(), doc["next_offset"].as_i64()),
        ("m24", Some(25), Some(20))
    );
}

#[test]
fn sessions_dot_is_the_project_of_the_current_directory() {
    let c = corpus();
    let deep = c.src.join("webapp/lib");
    std::fs::create_dir_all(&deep).unwrap();
    let out = c.sb.cass().current_dir(&deep).args(["sessions", "--workspace", ".", "--json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ids(&doc), ["s-front", "s-app"]);
    assert_eq!(doc["workspace"], c.ws("webapp"), "the answer says what `.` was taken to be");
}

#[test]
fn sessions_print_one_aligned_line_each_in_colour_on_request() {
    let c = corpus();
    let out = c.sb.run(&["sessions", "--color", "never"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\x1b'), "no colour when asked for none:\n{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6 + 2, "a line per session, then the count and a hint:\n{text}");
    assert!(lines[6].starts_with("6 of 6 sessions"), "{text}");
    let column = |line: &str, needle: &str| line.find(needle).map(|i| line[..i].chars().count());
    for (line, (id, rel, _)) in lines[1..6].iter().zip([CLAUDE[1], CLAUDE[2], CLAUDE[0], CLAUDE[3], CLAUDE[4]]) {
        assert!(line.contains("claude_code") && line.contains("3 msgs"), "{line}");
        assert!(line.contains(&format!("{id}.jsonl")), "the source path: {line}");
        assert_eq!(column(line, "question in"), column(lines[1], "question in"), "titles align:\n{text}");
        assert_eq!(column(line, &c.ws(rel)), column(lines[1], &c.ws("webapp/frontend")), "workspaces align:\n{text}");
    }
    assert!(lines[0].contains("codex") && lines[0].contains("/home/dev/api-server"), "{text}");
    let coloured = c.sb.run(&["sessions", "--color", "always"]);
    assert!(String::from_utf8_lossy(&coloured.stdout).contains("\x1b["), "colour on request");
    let no_color = c.sb.cass().env("NO_COLOR", "1").args(["sessions"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&no_color.stdout).contains('\x1b'));
}

#[test]
fn sessions_before_any_index_exit_3_and_trim_like_other_commands() {
    let sb = Sandbox::new();
    let out = sb.run(&["sessions", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "no_index");
    let c = corpus();
    let out = c.sb.run(&["sessions", "--format", "jsonl", "--fields", "external_id,message_count", "--limit", "2"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], serde_json::json!({"external_id": CODEX, "message_count": 5}));
    assert_eq!((lines[2]["sessions_returned"].as_i64(), lines[2]["total"].as_i64()), (Some(2), Some(6)));
}

#[test]
fn an_empty_query_with_a_filter_browses_the_newest_messages() {
    let c = corpus();
    let sb = &c.sb;
    let words = sb.json(&["search", "deploy", "--mode", "lexical", "--limit", "1"]);
    let out = sb.run(&["search", "--agent", "claude_code", "--json", "--limit", "100"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((doc["schema"].as_str(), doc["browse"].as_bool()), (Some("cass.search.v1"), Some(true)));
    assert_eq!(words["browse"], false, "a search with words says it was not a browse");
    let hits = doc["hits"].as_array().unwrap();
    assert_eq!((hits.len(), doc["total"].as_i64()), (15, Some(15)), "every message of the five sessions");
    let keys = |h: &Value| h.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&hits[0]), keys(&words["hits"][0]), "hits keep the search schema");
    let times: Vec<&str> = hits.iter().map(|h| h["created_at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "newest first: {times:?}");
    assert_eq!(hits[0]["snippet"]["text"], "thanks from s-front");
    assert!(hits.iter().all(|h| h["agent"] == "claude_code" && h["score"] == 0.0));
    // `*` is empty too; every filter narrows; paging works as in a search.
    let star = sb.json(&["search", "*", "--workspace", "web"]);
    let texts: Vec<&str> =
        star["hits"].as_array().unwrap().iter().map(|h| h["snippet"]["text"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        ["thanks from s-web", "answer in s-web: run make deploy", "question in s-web about the deploy script"]
    );
    let narrow = ["--agent", "claude_code", "--role", "assistant", "--since", "2026-03-10T00:00:00Z"];
    let roles = sb.json(&[&["search", "--limit", "2", "--offset", "1"][..], &narrow].concat());
    let texts: Vec<&str> =
        roles["hits"].as_array().unwrap().iter().map(|h| h["snippet"]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["answer in s-web: run make deploy", "answer in s-app: run make deploy"], "s-front's skipped");
    assert_eq!((roles["total"].as_i64(), &roles["next_offset"]), (Some(3), &Value::Null));
    // One hit per session: the sessions, by their newest message.
    let grouped = sb.json(&["search", "--agent", "claude_code", "--group-by", "session", "--limit", "3"]);
    let snippets: Vec<&str> =
        grouped["hits"].as_array().unwrap().iter().map(|h| h["snippet"]["text"].as_str().unwrap()).collect();
    assert_eq!(snippets, ["thanks from s-front", "thanks from s-web", "thanks from s-app"]);
    // A filter that matches nothing: exit 1, as any search without hits.
    let none = sb.run(&["search", "--agent", "gemini"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stdout).contains("0 of 0 hits"));
    let human = sb.run(&["search", "--agent", "codex"]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("newest messages"), "the person is told what ran");
}

#[test]
fn an_empty_query_without_a_filter_is_a_usage_error_that_points_at_sessions() {
    let c = corpus();
    for args in [&["search"][..], &["search", "*"], &["search", ""], &["search", "  ", "*"]] {
        let out = c.sb.cass().args(args).arg("--json").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err: Value = serde_json::from_slice(&out.stderr).unwrap();
        assert_eq!(err["error"]["kind"], "usage");
        assert!(err["error"]["hint"].as_str().unwrap().contains("cass sessions"), "{err}");
    }
    let human = c.sb.run(&["search"]);
    assert!(String::from_utf8_lossy(&human.stderr).contains("hint: "), "people get the hint too");
    // A browse has nothing to rank by meaning: asking for it is an error, not a silent lexical run.
    for demand in [&["--mode", "semantic"][..], &["--mode", "hybrid"], &["--tier", "fast"]] {
        let mut args = vec!["search", "--agent", "codex"];
        args.extend_from_slice(demand);
        assert_eq!(c.sb.run(&args).status.code(), Some(2), "{demand:?}");
    }
    assert_eq!(c.sb.run(&["search", "--agent", "codex", "--mode", "lexical"]).status.code(), Some(0));
}
