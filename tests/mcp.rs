//! `cass mcp` driven by a real MCP client (the official Rust SDK's, over
//! stdio, as Claude Code or Codex would run it): the tools are listed,
//! each is called, and each answer is checked against the CLI's output
//! for the same request.

mod common;

use std::borrow::Cow;

use common::{Sandbox, copy_tree, own_fixtures};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

fn indexed() -> Sandbox {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    let out = sb.run(&["index", "--no-semantic", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    sb
}

fn params(name: &'static str, args: Value) -> CallToolRequestParams {
    let mut p = CallToolRequestParams::new(Cow::Borrowed(name));
    p.arguments = args.as_object().cloned();
    p
}

/// The JSON of a tool's one text answer.
fn text_json(result: &rmcp::model::CallToolResult) -> Value {
    let block = result.content.first().expect("one content block");
    let text = block.as_text().expect("a text block");
    serde_json::from_str(&text.text).expect("the answer is JSON")
}

fn ids(v: &Value, list: &str, key: &str) -> Vec<i64> {
    v[list].as_array().unwrap().iter().map(|x| x[key].as_i64().unwrap()).collect()
}

#[test]
fn every_tool_answers_as_the_cli_does() {
    let sb = indexed();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cass"));
        cmd.arg("mcp").env("HOME", sb.home()).env("CASS_DATA_DIR", sb.data()).env_remove("CASS_SEARCH_MODE");
        let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.expect("handshake");

        let info = client.peer_info().expect("server info");
        assert_eq!(info.server_info.as_ref().map(|i| i.name.as_str()), Some("cass"));
        let mut names: Vec<String> =
            client.list_all_tools().await.unwrap().into_iter().map(|t| t.name.to_string()).collect();
        names.sort();
        assert_eq!(names, ["expand", "get_conversation", "list_sessions", "search", "status"]);

        // search: the same hits, in the same order, as `cass search --json`.
        let cli = sb.json(&["search", "the", "--limit", "7", "--mode", "lexical"]);
        let mcp = text_json(&client.call_tool(params("search", json!({"query": "the", "limit": 7, "mode": "lexical"}))).await.unwrap());
        assert_eq!(ids(&mcp, "hits", "message_id"), ids(&cli, "hits", "message_id"));
        assert_eq!(mcp["total"], cli["total"]);
        assert_eq!(mcp["next_offset"], cli["next_offset"]);
        let hit = &mcp["hits"][0];
        assert!(hit["conversation_id"].is_i64() && hit.get("workspace").is_none_or(|w| !w.is_null()), "no empty fields");
        let trimmed = text_json(
            &client
                .call_tool(params(
                    "search",
                    json!({"query": "the", "limit": 20, "mode": "lexical", "fields": ["message_id", "snippet.text"], "max_content_length": 25}),
                ))
                .await
                .unwrap(),
        );
        for h in trimmed["hits"].as_array().unwrap() {
            assert_eq!(h.as_object().unwrap().len(), 2, "{h}");
            assert!(h["snippet"]["text"].as_str().unwrap().chars().count() <= 25);
        }
        let grouped = text_json(
            &client.call_tool(params("search", json!({"query": "the", "limit": 50, "group_by": "session"}))).await.unwrap(),
        );
        let convs = ids(&grouped, "hits", "conversation_id");
        let mut unique = convs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), convs.len(), "one hit per session");

        // get_conversation: the messages `cass view` prints, a page at a time.
        let conv_id = hit["conversation_id"].as_i64().unwrap();
        let view = sb.json(&["view", &conv_id.to_string()]);
        let all = ids(&view, "messages", "id");
        let page = text_json(
            &client.call_tool(params("get_conversation", json!({"id": conv_id, "limit": 2}))).await.unwrap(),
        );
        assert_eq!(ids(&page, "messages", "id"), all[..all.len().min(2)]);
        assert_eq!(page["conversation"]["id"], conv_id);
        if all.len() > 2 {
            assert_eq!(page["next_offset"], 2);
            let rest = text_json(
                &client
                    .call_tool(params("get_conversation", json!({"id": conv_id, "offset": 2, "limit": 500})))
                    .await
                    .unwrap(),
            );
            assert_eq!(ids(&rest, "messages", "id"), all[2..]);
        }

        // expand: the messages `cass expand -C 1` prints.
        let msg_id = hit["message_id"].as_i64().unwrap();
        let cli = sb.json(&["expand", &msg_id.to_string(), "-C", "1"]);
        let mcp = text_json(&client.call_tool(params("expand", json!({"message_id": msg_id, "context": 1}))).await.unwrap());
        assert_eq!(ids(&mcp, "messages", "id"), ids(&cli, "messages", "id"));
        assert_eq!(mcp["target_message_id"], cli["target_message_id"]);

        // list_sessions: every conversation, most recently active first.
        let sessions = text_json(&client.call_tool(params("list_sessions", json!({"limit": 200}))).await.unwrap());
        let listed = ids(&sessions, "sessions", "id");
        let expect: Vec<i64> = {
            let db = sb.db();
            let mut stmt = db
                .prepare(
                    "SELECT id FROM conversations WHERE message_count > 0
                     ORDER BY COALESCE(ended_at, started_at, updated_at) DESC, id DESC",
                )
                .unwrap();
            stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        };
        assert_eq!(listed, expect);
        let codex = text_json(&client.call_tool(params("list_sessions", json!({"agents": ["codex"]}))).await.unwrap());
        assert!(codex["sessions"].as_array().unwrap().iter().all(|s| s["agent"] == "codex"));
        assert!(!codex["sessions"].as_array().unwrap().is_empty());
        // The workspace rule is the CLI's: a directory's name selects as in `cass sessions`.
        let by_name =
            text_json(&client.call_tool(params("list_sessions", json!({"workspace": "webapp"}))).await.unwrap());
        let cli = sb.json(&["sessions", "--workspace", "webapp"]);
        assert_eq!(ids(&by_name, "sessions", "id"), ids(&cli, "sessions", "id"));
        assert_eq!(ids(&cli, "sessions", "id").len(), 2, "{cli}");
        // An empty query with a filter browses, as `cass search` does.
        let browse = text_json(
            &client.call_tool(params("search", json!({"query": "", "agents": ["codex"], "limit": 3}))).await.unwrap(),
        );
        let cli = sb.json(&["search", "--agent", "codex", "--limit", "3"]);
        assert_eq!(ids(&browse, "hits", "message_id"), ids(&cli, "hits", "message_id"));
        assert_eq!((browse["browse"].as_bool(), browse["hits"].as_array().map(Vec::len)), (Some(true), Some(3)));

        // status: the counts `cass status` reports.
        let cli = sb.json(&["status"]);
        let mcp = text_json(&client.call_tool(params("status", json!({}))).await.unwrap());
        assert_eq!(mcp["store"]["messages"], cli["store"]["messages"]);
        assert_eq!(mcp["agents"], cli["agents"]);

        // Errors carry the CLI's kind.
        let cli = sb.run(&["expand", "99999999", "--json"]);
        let cli_err: Value = serde_json::from_slice(&cli.stderr).unwrap();
        let err = client.call_tool(params("expand", json!({"message_id": 99999999}))).await.unwrap_err();
        let rmcp::ServiceError::McpError(data) = err else { panic!("an MCP error: {err:?}") };
        assert_eq!(data.data.as_ref().unwrap()["kind"], cli_err["error"]["kind"]);
        let bad = client.call_tool(params("search", json!({"query": "x", "mode": "fuzzy"}))).await.unwrap_err();
        let rmcp::ServiceError::McpError(data) = bad else { panic!("an MCP error: {bad:?}") };
        assert_eq!(data.data.as_ref().unwrap()["kind"], "usage");

        client.cancel().await.unwrap();
    });
}
