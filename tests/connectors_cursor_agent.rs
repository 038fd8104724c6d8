//! Cursor's agent transcripts (`cursor_agent`): the Cursor Agent CLI's
//! `~/.cursor/projects/<slug>/agent-transcripts/<id>.txt` (older, plain
//! text) and `<id>/<id>.jsonl` (newer, append-only). Each test writes its
//! transcripts where Cursor keeps them, in a sandbox home, indexes them with
//! the real binary and checks the store exactly. Neither format records
//! times, so messages and conversations have none.

mod common;
use common::*;

/// The project folder name Cursor gives a workspace path.
fn slug(path: &std::path::Path) -> String {
    let s = path.to_str().unwrap().trim_start_matches('/');
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

fn write(sb: &Sandbox, rel: &str, text: &str) -> std::path::PathBuf {
    let path = sb.home().join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

const TEXT: &str = "user:
<user_info>
OS Version: linux 6.8
</user_info>
<user_query>
The nightly export job times out after 30 minutes; where is the limit set?
</user_query>

assistant:
[Thinking] The limit is probably in the scheduler config.
I'll search the repository for the timeout.
[Tool call] Grep
  pattern: timeout
  path: deploy/

[Tool result] Grep
deploy/cron.yaml:12:    timeout: 30m

assistant:
It is `timeout: 30m` in deploy/cron.yaml. Raise it or split the export per region.

user:
<user_query>
Split it per region.
</user_query>

assistant:
Done: three jobs, one per region.
";

#[test]
fn text_and_jsonl_transcripts_with_their_workspace() {
    let sb = Sandbox::new();
    // The workspace exists here, so its lossy folder name decodes to it.
    let workspace = sb.home().join("src/export.jobs");
    std::fs::create_dir_all(&workspace).unwrap();
    let project = format!(".cursor/projects/{}", slug(&workspace));
    let text_id = "0d6f3c1e-2a4b-4c8d-9e1f-3a5b7c9d1e2f";
    write(&sb, &format!("{project}/agent-transcripts/{text_id}.txt"), TEXT);
    let jsonl_id = "7b2e9d4a-1c3f-4e5a-8b6c-0d2e4f6a8b1c";
    let jsonl_rel = format!(".cursor/projects/home-nobody-gone/agent-transcripts/{jsonl_id}/{jsonl_id}.jsonl");
    let jsonl = write(
        &sb,
        &jsonl_rel,
        concat!(
            r#"{"role":"user","message":{"content":[{"type":"text","text":"<user_query>\nRename fetch_all to fetch_pages everywhere\n</user_query>"}]}}"#,
            "\n",
            r#"{"role":"assistant","message":{"content":[{"type":"text","text":"Renaming it across the crate."},{"type":"tool_use","name":"Grep","input":{"pattern":"fetch_all"}}]}}"#,
            "\n",
            r#"{"role":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"src/api.rs:40\nsrc/sync.rs:12"}]}}"#,
            "\n",
            r#"{"type":"turn_ended"}"#,
            "\n",
            r#"{"role":"robot","message":{"content":"?"}}"#,
            "\n",
        ),
    );
    // Other files of a project folder are not transcripts.
    write(&sb, &format!("{project}/terminals/1.txt"), "user:\nnot a transcript\n");
    write(&sb, &format!("{project}/agent-transcripts/{text_id}/notes.jsonl"), "{}\n");

    let report = index_no_semantic(&sb);
    let ca = agent_entry(&report, "cursor_agent");
    assert_eq!((ca["files"].as_u64(), ca["conversations"].as_u64()), (Some(2), Some(2)), "{ca}");
    assert_eq!((ca["messages"].as_u64(), ca["malformed_total"].as_u64()), (Some(9), Some(1)), "{ca}");
    let db = sb.db();
    assert_eq!(
        full_messages(&db, text_id),
        vec![
            row("user", None, None, "The nightly export job times out after 30 minutes; where is the limit set?"),
            row("assistant", None, None, "I'll search the repository for the timeout.\n[tool: Grep] deploy/"),
            row("tool", None, None, "deploy/cron.yaml:12:    timeout: 30m"),
            row(
                "assistant",
                None,
                None,
                "It is `timeout: 30m` in deploy/cron.yaml. Raise it or split the export per region."
            ),
            row("user", None, None, "Split it per region."),
            row("assistant", None, None, "Done: three jobs, one per region."),
        ]
    );
    let ws = workspace.to_str().unwrap();
    let row_of = |id: &str| -> (Option<String>, Option<String>, i64) {
        db.query_row(
            "SELECT title, workspace, message_count FROM conversations WHERE external_id = ?1 AND agent = 'cursor_agent'",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    };
    assert_eq!(
        row_of(text_id),
        (Some("The nightly export job times out after 30 minutes; where is the limit set?".into()), Some(ws.into()), 6)
    );
    // No such directory here: no workspace rather than a guess.
    assert_eq!(row_of(jsonl_id), (Some("Rename fetch_all to fetch_pages everywhere".into()), None, 3));
    assert_eq!(
        messages_of(&db, jsonl_id),
        [
            ("user".to_string(), "Rename fetch_all to fetch_pages everywhere".to_string()),
            ("assistant".to_string(), "Renaming it across the crate.\n[tool: Grep] fetch_all".to_string()),
            ("tool".to_string(), "src/api.rs:40\nsrc/sync.rs:12".to_string()),
        ]
    );

    // The JSONL transcript grows: only the new lines are read.
    let mut more = std::fs::read_to_string(&jsonl).unwrap();
    more.push_str(
        r#"{"role":"assistant","message":{"content":[{"type":"text","text":"Renamed in src/api.rs and src/sync.rs."}]}}"#,
    );
    more.push('\n');
    std::fs::write(&jsonl, more).unwrap();
    let next = index_no_semantic(&sb);
    assert_eq!((next["files_appended"].as_u64(), next["messages_added"].as_u64()), (Some(1), Some(1)), "{next}");
    assert_eq!(row_of(jsonl_id).2, 4);
    let hits = sb.json(&["search", "fetch_pages", "--mode", "lexical"]);
    assert_eq!(hits["hits"][0]["agent"], "cursor_agent", "{hits}");
}

/// The project's own fixtures (tests/fixtures/EXPECTED.md §36), exactly.
#[test]
fn own_fixtures() {
    let sb = Sandbox::new();
    install_own(&sb.home(), ".cursor/projects");
    let report = index_no_semantic(&sb);
    let ca = agent_entry(&report, "cursor_agent");
    assert_eq!((ca["files"].as_u64(), ca["conversations"].as_u64()), (Some(2), Some(2)), "{ca}");
    assert_eq!((ca["messages"].as_u64(), ca["malformed_total"].as_u64()), (Some(7), Some(1)), "{ca}");
    let db = sb.db();
    let text = "9a4c2e1b-5d3f-4b7a-8c6e-1f0a2b3c4d5e";
    assert_eq!(
        full_messages(&db, text),
        vec![
            row("user", None, None, "The login form submits twice on Enter. Why?"),
            row("assistant", None, None, "Checking the form's handlers.\n[tool: Read] src/LoginForm.tsx"),
            row(
                "tool",
                None,
                None,
                "41  <form onSubmit={submit}>\n  42    <input onKeyDown={e => e.key === 'Enter' && submit()} />"
            ),
            row(
                "assistant",
                None,
                None,
                "Both `onKeyDown` and the form's `onSubmit` call `submit()`. Drop the `onKeyDown` handler; Enter already submits the form."
            ),
        ]
    );
    let jsonl = "2e8f6a4c-0b1d-4e3f-a5c7-9d2b4f6e8a0c";
    assert_eq!(
        messages_of(&db, jsonl),
        [
            ("user".to_string(), "Add a debounce to the search box, 250 ms".to_string()),
            ("assistant".to_string(), "Adding a useDebounce hook.\n[tool: Write] src/hooks/useDebounce.ts".to_string()),
            ("tool".to_string(), "Wrote src/hooks/useDebounce.ts".to_string()),
        ]
    );
    let expect_ws: Option<String> =
        std::path::Path::new("/home/dev/webapp").is_dir().then(|| "/home/dev/webapp".to_string());
    for (id, title, n) in [
        (text, "The login form submits twice on Enter. Why?", 4),
        (jsonl, "Add a debounce to the search box, 250 ms", 3),
    ] {
        assert_eq!(conversation_row(&db, id), (Some(title.to_string()), expect_ws.clone(), None, None, n), "{id}");
    }
    let errors: Vec<(i64, String)> = db
        .prepare("SELECT line, message FROM ingest_errors WHERE path LIKE '%agent-transcripts%'")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, 5, "{errors:?}");
}
