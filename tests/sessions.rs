//! The workspace filter as people name workspaces (a path, a directory's
//! name, `.`), run through the real binary against a sandbox.

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
