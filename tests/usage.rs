//! Token usage: what each agent's format records, counted once per call
//! across files, kept right through re-reads, appends, deletions and an
//! upgrade from a store written before usage, and reported by
//! `cass usage` with hand-computed totals and costs.

mod common;

use std::path::Path;

use common::{Sandbox, index_no_semantic};
use serde_json::{Value, json};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn lines(records: &[Value]) -> String {
    records.iter().map(|r| format!("{}\n", serde_json::to_string(r).unwrap())).collect()
}

/// The row of `report` (`cass usage … --json`) whose `field` is `key`.
fn row<'a>(report: &'a Value, field: &str, key: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[field] == key)
        .unwrap_or_else(|| panic!("no row {field}={key} in {report:#}"))
}

fn tokens(r: &Value) -> [u64; 5] {
    ["input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens", "reasoning_tokens"]
        .map(|k| r[k].as_u64().unwrap_or_else(|| panic!("{k} missing in {r}")))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9_f64.max(b.abs() * 1e-9)
}

fn claude_call(session: &str, uuid: &str, ts: &str, msg_id: &str, req: &str, model: &str, usage: Value) -> Value {
    json!({"type":"assistant","uuid":uuid,"sessionId":session,"timestamp":ts,"cwd":"/home/dev/app","requestId":req,
           "message":{"id":msg_id,"type":"message","role":"assistant","model":model,
                      "content":[{"type":"text","text":format!("answer {uuid}")}],"usage":usage}})
}

fn claude_user(session: &str, uuid: &str, ts: &str, text: &str) -> Value {
    json!({"type":"user","uuid":uuid,"sessionId":session,"timestamp":ts,"cwd":"/home/dev/app",
           "message":{"role":"user","content":text}})
}

fn usage(input: u64, output: u64, write: u64, read: u64) -> Value {
    json!({"input_tokens":input,"output_tokens":output,"cache_creation_input_tokens":write,"cache_read_input_tokens":read})
}

fn claude_totals(sb: &Sandbox) -> [u64; 5] {
    tokens(&sb.json(&["usage", "agents", "--timezone", "UTC"])["totals"])
}

/// A resumed session copies the calls of the one it resumes; a response is
/// logged as one line per content block. Each call counts once, and keeps
/// counting once when the file that held it first is deleted, on `--full`,
/// and when the session grows.
#[test]
fn claude_calls_count_once_across_files_and_runs() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-app");
    let first = [
        claude_user("s1", "u1", "2025-10-01T10:00:00.000Z", "fix the parser"),
        claude_call(
            "s1",
            "a1",
            "2025-10-01T10:00:05.000Z",
            "msg_1",
            "req_1",
            "claude-sonnet-4-5-20250929",
            usage(100, 50, 1000, 0),
        ),
        // The same response's second block: same ids, same usage.
        claude_call(
            "s1",
            "a1b",
            "2025-10-01T10:00:06.000Z",
            "msg_1",
            "req_1",
            "claude-sonnet-4-5-20250929",
            usage(100, 50, 1000, 0),
        ),
        claude_call(
            "s1",
            "a2",
            "2025-10-01T10:01:00.000Z",
            "msg_2",
            "req_2",
            "claude-sonnet-4-5-20250929",
            usage(10, 20, 0, 1000),
        ),
    ];
    write(&dir.join("s1.jsonl"), &lines(&first));
    let mut resumed = first.to_vec();
    resumed.push(claude_call(
        "s2",
        "a3",
        "2025-10-02T09:00:00.000Z",
        "msg_3",
        "req_3",
        "claude-opus-4-1-20250805",
        usage(1, 2, 0, 0),
    ));
    write(&dir.join("s2.jsonl"), &lines(&resumed));
    index_no_semantic(&sb);
    let want = [111, 72, 1000, 1000, 0];
    assert_eq!(claude_totals(&sb), want);
    let daily = sb.json(&["usage", "daily", "--timezone", "UTC"]);
    assert_eq!(row(&daily, "period", "2025-10-01")["calls"], 2);
    assert_eq!(row(&daily, "period", "2025-10-02")["calls"], 1);
    // Sonnet 4.5: 110 in at $3, 70 out at $15, 1000 writes at $3.75, 1000 reads at $0.30 per million.
    let sonnet = (110.0 * 3.0 + 70.0 * 15.0 + 1000.0 * 3.75 + 1000.0 * 0.3) / 1e6;
    let day1 = row(&daily, "period", "2025-10-01")["cost_usd"].as_f64().unwrap();
    assert!(close(day1, sonnet), "{day1} != {sonnet}");

    // The first file goes: its calls still count, through the copy.
    std::fs::remove_file(dir.join("s1.jsonl")).unwrap();
    index_no_semantic(&sb);
    assert_eq!(claude_totals(&sb), want, "after the first file was deleted");
    let rows = |sb: &Sandbox| -> String {
        sb.db()
            .query_row("SELECT group_concat(id || ':' || counted) FROM (SELECT * FROM usage ORDER BY id)", [], |r| {
                r.get(0)
            })
            .unwrap()
    };
    let before = rows(&sb);
    sb.json(&["index", "--full", "--no-semantic"]);
    assert_eq!(claude_totals(&sb), want, "after --full");
    assert_eq!(rows(&sb), before, "--full over unchanged files keeps every call's row");

    // An append is read as a tail: one more call.
    let mut f = std::fs::OpenOptions::new().append(true).open(dir.join("s2.jsonl")).unwrap();
    use std::io::Write;
    f.write_all(
        lines(&[claude_call(
            "s2",
            "a4",
            "2025-10-02T09:05:00.000Z",
            "msg_4",
            "req_4",
            "claude-opus-4-1-20250805",
            usage(5, 5, 0, 0),
        )])
        .as_bytes(),
    )
    .unwrap();
    let report = index_no_semantic(&sb);
    assert_eq!(report["files_appended"], 1, "{report}");
    assert_eq!(claude_totals(&sb), [116, 77, 1000, 1000, 0]);
    let models = sb.json(&["usage", "models", "--timezone", "UTC"]);
    assert_eq!(row(&models, "model", "claude-opus-4-1-20250805")["calls"], 2);
}

/// Codex writes cumulative totals and per-call counts; cached tokens are
/// part of its input. A repeated total and a rate-limit-only event add
/// nothing; a call without per-call counts is the change in the totals.
#[test]
fn codex_token_counts() {
    let sb = Sandbox::new();
    let tc = |ts: &str, total: [u64; 4], last: Option<[u64; 4]>| {
        let t = |v: [u64; 4]| json!({"input_tokens":v[0],"cached_input_tokens":v[1],"output_tokens":v[2],"reasoning_output_tokens":v[3],"total_tokens":v[0]+v[2]});
        let mut info = json!({"total_token_usage": t(total), "model_context_window": 272000});
        if let Some(l) = last {
            info["last_token_usage"] = t(l);
        }
        json!({"timestamp":ts,"type":"event_msg","payload":{"type":"token_count","info":info}})
    };
    let records = [
        json!({"timestamp":"2025-10-01T10:00:00.000Z","type":"session_meta","payload":{"id":"c1","timestamp":"2025-10-01T10:00:00.000Z","cwd":"/home/dev/api"}}),
        json!({"timestamp":"2025-10-01T10:00:01.000Z","type":"turn_context","payload":{"cwd":"/home/dev/api","model":"gpt-5-codex"}}),
        json!({"timestamp":"2025-10-01T10:00:02.000Z","type":"event_msg","payload":{"type":"user_message","message":"add a health endpoint"}}),
        json!({"timestamp":"2025-10-01T10:00:03.000Z","type":"event_msg","payload":{"type":"agent_message","message":"Added /health."}}),
        tc("2025-10-01T10:00:04.000Z", [1000, 200, 300, 100], Some([1000, 200, 300, 100])),
        tc("2025-10-01T10:00:05.000Z", [1000, 200, 300, 100], Some([1000, 200, 300, 100])), // repeated
        json!({"timestamp":"2025-10-01T10:00:06.000Z","type":"event_msg","payload":{"type":"token_count","info":null}}),
        json!({"timestamp":"2025-10-01T10:00:07.000Z","type":"turn_context","payload":{"cwd":"/home/dev/api","model":"gpt-5-mini"}}),
        tc("2025-10-01T10:00:08.000Z", [3000, 1200, 500, 150], None), // the change: 2000/1000/200/50
    ];
    write(&sb.home().join(".codex/sessions/2025/10/01/rollout-2025-10-01T10-00-00-c1.jsonl"), &lines(&records));
    index_no_semantic(&sb);
    let models = sb.json(&["usage", "models", "--timezone", "UTC"]);
    let codex = row(&models, "model", "gpt-5-codex");
    assert_eq!(tokens(codex), [800, 300, 0, 200, 100]);
    assert_eq!(codex["calls"], 1);
    let mini = row(&models, "model", "gpt-5-mini");
    assert_eq!(tokens(mini), [1000, 200, 0, 1000, 50]);
    let cost = (800.0 * 1.25 + 200.0 * 0.125 + 300.0 * 10.0) / 1e6;
    assert!(close(codex["cost_usd"].as_f64().unwrap(), cost), "{codex}");
    let projects = sb.json(&["usage", "projects"]);
    assert_eq!(row(&projects, "project", "/home/dev/api")["calls"], 2);
}

/// Gemini, Pi-Agent, OpenCode and Cline record usage each their own way;
/// every count below is computed by hand from the records.
#[test]
fn other_agents_record_usage() {
    let sb = Sandbox::new();
    let home = sb.home();
    // Gemini: cached inside input, thoughts apart from output, tool prompt tokens are input.
    let gemini = json!({"sessionId":"g1","projectHash":"p","startTime":"2025-10-03T08:00:00.000Z","messages":[
        {"id":"q1","timestamp":"2025-10-03T08:00:00.000Z","type":"user","content":"summarise the log"},
        {"id":"q2","timestamp":"2025-10-03T08:00:10.000Z","type":"gemini","content":"It failed twice.","model":"gemini-2.5-pro",
         "tokens":{"input":1200,"output":40,"cached":200,"thoughts":60,"tool":10,"total":1310}},
        {"id":"q3","timestamp":"2025-10-03T08:01:00.000Z","type":"gemini","content":"Done.","model":"gemini-2.5-pro",
         "tokens":{"input":300000,"output":100,"cached":0,"thoughts":0,"tool":0,"total":300100}}]});
    write(&home.join(".gemini/tmp/p/chats/session-2025-10-03T08-00-g1.json"), &gemini.to_string());
    // Pi-Agent: four disjoint counts.
    let pi = [
        json!({"type":"session","id":"p1","timestamp":"2025-10-04T07:00:00.000Z","cwd":"/home/dev/notes","modelId":"claude-haiku-4-5"}),
        json!({"type":"message","id":"m1","timestamp":"2025-10-04T07:00:01.000Z","message":{"role":"user","content":[{"type":"text","text":"send it"}]}}),
        json!({"type":"message","id":"m2","timestamp":"2025-10-04T07:00:03.000Z","message":{"role":"assistant","content":[{"type":"text","text":"Sent."}],
               "model":"claude-haiku-4-5","usage":{"input":120,"output":8,"cacheRead":1000,"cacheWrite":500,"cost":{"total":0.0}}}}),
    ];
    write(&home.join(".pi/agent/sessions/--home-dev-notes--/2025-10-04T07-00-00-000Z_p1.jsonl"), &lines(&pi));
    // OpenCode (JSON storage): cache apart from input, reasoning apart from output.
    let storage = home.join(".local/share/opencode/storage");
    write(
        &storage.join("session/proj/ses_1.json"),
        &json!({"id":"ses_1","title":"refactor","directory":"/home/dev/web","time":{"created":1759564800000u64}})
            .to_string(),
    );
    write(
        &storage.join("message/ses_1/msg_1.json"),
        &json!({"id":"msg_1","sessionID":"ses_1","role":"user","time":{"created":1759564800000u64}}).to_string(),
    );
    write(
        &storage.join("part/msg_1/prt_1.json"),
        &json!({"id":"prt_1","type":"text","text":"refactor the router"}).to_string(),
    );
    write(&storage.join("message/ses_1/msg_2.json"), &json!({"id":"msg_2","sessionID":"ses_1","role":"assistant","modelID":"gpt-5","providerID":"openai",
        "time":{"created":1759564805000u64},"tokens":{"input":700,"output":90,"reasoning":30,"cache":{"read":300,"write":0}}}).to_string());
    write(
        &storage.join("part/msg_2/prt_2.json"),
        &json!({"id":"prt_2","type":"text","text":"Split into modules."}).to_string(),
    );
    // Cline: one api_req_started per request; Claude counts cache apart from input.
    let task = home.join(".config/Code/User/globalStorage/saoudrizwan.claude-dev/tasks/1759651200000");
    let req =
        json!({"request":"…","tokensIn":50,"tokensOut":25,"cacheWrites":400,"cacheReads":600,"cost":0.01}).to_string();
    write(
        &task.join("ui_messages.json"),
        &json!([
        {"ts":1759651200000u64,"type":"say","say":"task","text":"rename the module"},
        {"ts":1759651201000u64,"type":"say","say":"api_req_started","text":req},
        {"ts":1759651205000u64,"type":"say","say":"text","text":"Renamed."}])
        .to_string(),
    );
    write(&task.join("task_metadata.json"), &json!({"model_usage":[{"ts":1759651199000u64,"model_id":"claude-sonnet-4-20250514","model_provider_id":"anthropic","mode":"act"}]}).to_string());
    index_no_semantic(&sb);

    let agents = sb.json(&["usage", "agents", "--timezone", "UTC"]);
    let g = row(&agents, "agent", "gemini");
    assert_eq!(tokens(g), [1000 + 10 + 300000, 40 + 60 + 100, 0, 200, 60]);
    // gemini-2.5-pro: the 300k call is past 200k, so all of it at the long rates.
    let g_cost = (1010.0 * 1.25 + 200.0 * 0.125 + 100.0 * 10.0) / 1e6 + (300000.0 * 2.5 + 100.0 * 15.0) / 1e6;
    assert!(close(g["cost_usd"].as_f64().unwrap(), g_cost), "{g} vs {g_cost}");
    let p = row(&agents, "agent", "pi_agent");
    assert_eq!(tokens(p), [120, 8, 500, 1000, 0]);
    let p_cost = (120.0 * 1.0 + 8.0 * 5.0 + 500.0 * 1.25 + 1000.0 * 0.1) / 1e6;
    assert!(close(p["cost_usd"].as_f64().unwrap(), p_cost), "{p}");
    let o = row(&agents, "agent", "opencode");
    assert_eq!(tokens(o), [700, 120, 0, 300, 30]);
    let c = row(&agents, "agent", "cline");
    assert_eq!(tokens(c), [50, 25, 400, 600, 0]);
    assert_eq!(row(&agents, "agent", "cline")["models"][0]["model"], "claude-sonnet-4-20250514");
    let sessions = sb.json(&["usage", "sessions"]);
    assert_eq!(sessions["rows"].as_array().unwrap().len(), 4, "{sessions:#}");
    assert_eq!(sessions["rows"][0]["agent"], "gemini", "most expensive first");
}

/// A store written before usage existed (schema v3) is upgraded, and the
/// next index run reads the files of agents that record usage once more,
/// and only those; the run after reads nothing.
#[test]
fn an_upgraded_store_backfills_usage_once() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-app");
    write(
        &dir.join("s1.jsonl"),
        &lines(&[
            claude_user("s1", "u1", "2025-10-01T10:00:00.000Z", "hello"),
            claude_call(
                "s1",
                "a1",
                "2025-10-01T10:00:05.000Z",
                "msg_1",
                "req_1",
                "claude-sonnet-4-5-20250929",
                usage(100, 50, 0, 0),
            ),
        ]),
    );
    write(
        &sb.home().join("proj/.aider.chat.history.md"),
        "# aider chat started at 2025-10-01 10:00:00\n\n#### hi\n\nHello.\n",
    );
    let first = index_no_semantic(&sb);
    assert_eq!(first["files_parsed"], 2, "{first}");
    {
        // Back to what a v3 store looked like (without v4's usage, v5's
        // machines and v6's per-agent index).
        let db = rusqlite::Connection::open(sb.data().join("cass.db")).unwrap();
        db.execute_batch(
            "DROP INDEX conversations_agent_messages;
             DROP INDEX conversations_remote; ALTER TABLE conversations DROP COLUMN source;
             ALTER TABLE conversations DROP COLUMN origin_path; ALTER TABLE conversations DROP COLUMN origin_workspace;
             DROP TRIGGER conversations_usage_workspace; DROP TRIGGER conversations_usage_gone;
             DROP TABLE usage; DROP TABLE usage_slots; DROP TABLE usage_sessions;
             DELETE FROM meta WHERE key = 'usage_reader'; PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let upgrade = index_no_semantic(&sb);
    assert_eq!(upgrade["files_parsed"], 1, "only the Claude file is read again: {upgrade}");
    assert_eq!(upgrade["messages_added"], 0, "nothing changed in the text: {upgrade}");
    assert_eq!(claude_totals(&sb), [100, 50, 0, 0, 0]);
    let again = index_no_semantic(&sb);
    assert_eq!(again["files_parsed"], 0, "{again}");
    assert_eq!(claude_totals(&sb), [100, 50, 0, 0, 0]);
}

/// Filters, zones, unknown models and bad arguments.
#[test]
fn report_filters_and_errors() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-app");
    write(
        &dir.join("s1.jsonl"),
        &lines(&[
            claude_user("s1", "u1", "2025-10-01T23:30:00.000Z", "late night"),
            claude_call(
                "s1",
                "a1",
                "2025-10-01T23:40:00.000Z",
                "msg_1",
                "req_1",
                "claude-sonnet-4-5-20250929",
                usage(100, 0, 0, 0),
            ),
            claude_call("s1", "a2", "2025-10-02T00:20:00.000Z", "msg_2", "req_2", "my-local-model", usage(7, 0, 0, 0)),
        ]),
    );
    index_no_semantic(&sb);
    let utc = sb.json(&["usage", "daily", "--timezone", "UTC"]);
    assert_eq!(utc["rows"].as_array().unwrap().len(), 2);
    assert_eq!(utc["unpriced_models"], json!(["my-local-model"]));
    // In New York both calls are on the evening of the 1st.
    let ny = sb.json(&["usage", "daily", "--timezone", "America/New_York"]);
    assert_eq!(ny["rows"].as_array().unwrap().len(), 1, "{ny:#}");
    assert_eq!(ny["rows"][0]["period"], "2025-10-01");
    let since = sb.json(&["usage", "daily", "--timezone", "UTC", "--since", "2025-10-02"]);
    assert_eq!(since["totals"]["input_tokens"], 7);
    let until = sb.json(&["usage", "daily", "--timezone", "UTC", "--until", "2025-10-01"]);
    assert_eq!(until["totals"]["input_tokens"], 100);
    let elsewhere = sb.json(&["usage", "--workspace", "/home/dev/other"]);
    assert_eq!(elsewhere["totals"]["calls"], 0);
    let here = sb.json(&["usage", "--workspace", "/home/dev"]);
    assert_eq!(here["totals"]["calls"], 2);
    assert_eq!(sb.json(&["usage", "--source", "remote"])["totals"]["calls"], 0);
    // A price from the config file.
    let config = sb.dir.path().join("config.toml");
    std::fs::write(&config, "[prices.\"my-local-model\"]\ninput = 1000000.0\noutput = 0.0\n").unwrap();
    let out = sb.cass().env("CASS_CONFIG", &config).args(["usage", "models", "--json"]).output().unwrap();
    let priced: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(priced["unpriced_models"], json!([]));
    assert!(close(row(&priced, "model", "my-local-model")["cost_usd"].as_f64().unwrap(), 7.0));
    // Errors: one line, JSON in robot mode, usage exit code.
    let bad = sb.run(&["usage", "--timezone", "Mars/Olympus", "--json"]);
    assert_eq!(bad.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&bad.stderr).unwrap();
    assert!(err["error"]["message"].as_str().unwrap().contains("Mars/Olympus"));
    assert_eq!(sb.run(&["usage", "--source", "laptop"]).status.code(), Some(1));
    // The table: a total row and a bar per row.
    let table = sb.run(&["usage", "daily", "--timezone", "UTC", "--color", "never"]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains("Total") && text.contains('█') && text.contains("2025-10-02"), "{text}");
    assert!(text.contains("unpriced") && text.contains("my-local-model"), "{text}");
}

/// Sums that drifted from the calls (a damaged page, a hand edit) turn
/// `health --deep` red, and `index --repair` recounts them.
#[test]
fn deep_health_checks_the_sums_and_repair_recounts() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-app");
    let calls = [
        claude_user("s1", "u1", "2025-10-01T10:00:00.000Z", "hello"),
        claude_call(
            "s1",
            "a1",
            "2025-10-01T10:00:05.000Z",
            "msg_1",
            "req_1",
            "claude-sonnet-4-5-20250929",
            usage(100, 50, 0, 0),
        ),
    ];
    write(&dir.join("s1.jsonl"), &lines(&calls));
    write(&dir.join("s2.jsonl"), &lines(&calls)); // a copy: one call
    index_no_semantic(&sb);
    let healthy = sb.run(&["health", "--deep", "--json"]);
    assert_eq!(healthy.status.code(), Some(0), "{}", String::from_utf8_lossy(&healthy.stdout));
    for tamper in [
        "UPDATE usage_slots SET input = input + 5",
        "UPDATE usage_sessions SET output = output + 1",
        // Both copies counted: the sums get the second copy too.
        "UPDATE usage SET counted = 1",
    ] {
        {
            let db = rusqlite::Connection::open(sb.data().join("cass.db")).unwrap();
            db.execute_batch(tamper).unwrap();
        }
        let sick = sb.run(&["health", "--deep", "--json"]);
        assert_eq!(sick.status.code(), Some(1), "{tamper}");
        let body: Value = serde_json::from_slice(&sick.stdout).unwrap();
        assert!(body.to_string().contains("usage_mismatch"), "{tamper}: {body}");
        let repaired = sb.json(&["index", "--repair", "--no-semantic"]);
        assert!(repaired["repaired"].to_string().contains("recounted"), "{repaired}");
        assert_eq!(sb.run(&["health", "--deep", "--json"]).status.code(), Some(0), "after repairing {tamper}");
        assert_eq!(claude_totals(&sb), [100, 50, 0, 0, 0], "after repairing {tamper}");
    }
}
