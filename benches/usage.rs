//! Usage report benchmark: `cass usage` at a million messages.
//!
//! `cargo bench --bench usage` (1M messages by default;
//! `CASS_BENCH_MESSAGES=100000` for a quick run). Writes a year of Claude
//! Code and Codex sessions whose every answer carries token usage (Claude:
//! `message.usage` with message and request ids, a fifth of the calls
//! logged twice as resumed sessions do; Codex: `token_count` events), indexes
//! them once (cached under `target/bench/usage-<n>`), then times each report
//! in process (`cass::usage::build`, the work of the command) and
//! `cass usage monthly --json` as a process (start-up included), p50/p99.
//! With `CASS_BENCH_USAGE_OVERHEAD=1` it also indexes the same sessions
//! without their usage records, alternately with them, to show what
//! recording usage adds to `cass index`.

#[path = "corpus.rs"]
mod corpus;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use corpus::Rng;

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    format!("p50 {:.2} ms, p99 {:.2} ms over {} runs", percentile(&ms, 0.5), percentile(&ms, 0.99), ms.len())
}

fn cass(home: &Path, data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cass"));
    c.env("HOME", home).env("CASS_DATA_DIR", data).env("CASS_CONFIG", "/nonexistent");
    for v in ["CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_HOME", "RUST_LOG", "CASS_NO_SEMANTIC"] {
        c.env_remove(v);
    }
    c
}

const CLAUDE_MODELS: [&str; 3] =
    ["claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001"];
const CODEX_MODELS: [&str; 2] = ["gpt-5-codex", "gpt-5-mini"];

fn ts(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).expect("time").to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn line(out: &mut impl Write, v: &serde_json::Value) -> std::io::Result<()> {
    writeln!(out, "{v}")
}

/// Writes about `messages` messages (half of them answers with usage)
/// under `home`; with `usage` false the same sessions without usage.
fn generate(home: &Path, messages: usize, usage: bool) -> std::io::Result<usize> {
    let mut rng = Rng::new(7);
    let (mut written, mut session, mut calls) = (0usize, 0usize, 0usize);
    let year_start: i64 = 1_735_689_600_000; // 2025-01-01T00:00:00Z
    while written < messages {
        let n = rng.range(20, 400).min(messages - written).max(2);
        let codex = rng.chance(0.4);
        let start = year_start + (rng.below(365 * 24 * 60) as i64) * 60_000;
        let cwd = format!("/home/dev/proj{}", session % 40);
        let path = if codex {
            let d = chrono::DateTime::from_timestamp_millis(start).expect("time").format("%Y/%m/%d").to_string();
            home.join(format!(".codex/sessions/{d}/rollout-{session:08x}.jsonl"))
        } else {
            home.join(format!(".claude/projects/-home-dev-proj{}/{session:08x}.jsonl", session % 40))
        };
        fs::create_dir_all(path.parent().expect("parent"))?;
        let mut out = BufWriter::new(File::create(&path)?);
        let model = if codex {
            CODEX_MODELS[rng.below(CODEX_MODELS.len())]
        } else {
            CLAUDE_MODELS[rng.below(CLAUDE_MODELS.len())]
        };
        if codex {
            line(
                &mut out,
                &serde_json::json!({"timestamp": ts(start), "type": "session_meta", "payload": {"id": format!("cx-{session}"), "cwd": cwd}}),
            )?;
            line(
                &mut out,
                &serde_json::json!({"timestamp": ts(start), "type": "turn_context", "payload": {"cwd": cwd, "model": model}}),
            )?;
        }
        let mut total = [0u64; 4];
        for i in 0..n {
            let t = start + i as i64 * 20_000;
            let text = format!("message {i} of session {session} about proj{}", session % 40);
            let (input, output, cached) =
                (rng.range(10, 5000) as u64, rng.range(10, 2000) as u64, rng.range(0, 50_000) as u64);
            if codex {
                let (role, kind) = if i % 2 == 0 { ("user", "user_message") } else { ("assistant", "agent_message") };
                let _ = role;
                line(
                    &mut out,
                    &serde_json::json!({"timestamp": ts(t), "type": "event_msg", "payload": {"type": kind, "message": text}}),
                )?;
                if i % 2 == 1 && usage {
                    let last = [input + cached, cached, output, output / 4];
                    for (a, b) in total.iter_mut().zip(last) {
                        *a += b;
                    }
                    let u = |v: [u64; 4]| serde_json::json!({"input_tokens": v[0], "cached_input_tokens": v[1], "output_tokens": v[2], "reasoning_output_tokens": v[3], "total_tokens": v[0] + v[2]});
                    line(
                        &mut out,
                        &serde_json::json!({"timestamp": ts(t + 1000), "type": "event_msg", "payload": {"type": "token_count", "info": {"total_token_usage": u(total), "last_token_usage": u(last)}}}),
                    )?;
                    calls += 1;
                }
            } else if i % 2 == 0 {
                line(
                    &mut out,
                    &serde_json::json!({"type": "user", "sessionId": format!("s-{session}"), "cwd": cwd, "timestamp": ts(t), "message": {"role": "user", "content": text}}),
                )?;
            } else {
                let mut rec = serde_json::json!({"type": "assistant", "sessionId": format!("s-{session}"), "cwd": cwd, "timestamp": ts(t), "requestId": format!("req_{session}_{i}"),
                    "message": {"id": format!("msg_{session}_{i}"), "role": "assistant", "model": model, "content": [{"type": "text", "text": text}]}});
                if usage {
                    rec["message"]["usage"] = serde_json::json!({"input_tokens": input, "output_tokens": output, "cache_creation_input_tokens": cached / 10, "cache_read_input_tokens": cached});
                    calls += 1;
                }
                line(&mut out, &rec)?;
                // A resumed session's copy of the call: counted once. Drawn
                // either way, so both variants hold the same sessions.
                if rng.chance(0.2) {
                    line(&mut out, &rec)?;
                }
            }
        }
        out.flush()?;
        written += n;
        session += 1;
    }
    Ok(calls)
}

fn indexed(messages: usize, usage: bool) -> (PathBuf, PathBuf, f64) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("target/bench/usage-{messages}{}", if usage { "" } else { "-bare" }));
    let (home, data) = (dir.join("home"), dir.join("data"));
    let marker = dir.join(".indexed-v3");
    let mut secs = 0.0;
    if !marker.exists() {
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&home).expect("dir");
        let calls = generate(&home, messages, usage).expect("generate");
        eprintln!("generated {messages} messages, {calls} calls with usage");
        let t = Instant::now();
        let out = cass(&home, &data).args(["index", "--no-semantic", "--json"]).output().expect("index");
        assert!(out.status.success(), "index failed: {}", String::from_utf8_lossy(&out.stderr));
        secs = t.elapsed().as_secs_f64();
        fs::write(&marker, b"").expect("marker");
    }
    (home, data, secs)
}

fn time_report(
    store: &cass::store::Store,
    grouping: cass::usage::Grouping,
    zone: &str,
    source: Option<cass::filters::SourceFilter>,
    runs: usize,
) -> String {
    let label = source.as_ref().map(|s| format!(" --source {}", s.spec())).unwrap_or_default();
    let req = cass::usage::ReportRequest {
        grouping,
        since: None,
        until: None,
        agents: Vec::new(),
        workspace: None,
        zone: cass::usage::Zone::parse(zone).expect("zone"),
        limit: None,
        source,
    };
    let prices = cass::usage::PriceTable::default();
    let mut ms = Vec::new();
    let mut rows = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let r = std::hint::black_box(cass::usage::build(store, &req, &prices).expect("report"));
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        rows = r.rows.len();
    }
    format!("{:<9} {zone:<13}{label} {rows:>5} rows  {}", grouping.name(), summary(ms))
}

fn main() {
    let messages = env_usize("CASS_BENCH_MESSAGES", 1_000_000);
    let runs = env_usize("CASS_BENCH_RUNS", 50);
    let (home, data, secs) = indexed(messages, true);
    if secs > 0.0 {
        println!("indexed {messages} messages with usage in {secs:.1}s");
    }
    let store = cass::store::Store::open_readonly(&data.join("cass.db")).expect("open store");
    let count = |sql: &str| -> i64 {
        let db =
            rusqlite::Connection::open_with_flags(data.join("cass.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .expect("open");
        db.query_row(sql, [], |r| r.get(0)).expect("count")
    };
    println!(
        "store: {} messages, {} calls stored ({} counted), {} quarter-hour sums, {} session sums",
        count("SELECT COUNT(*) FROM messages"),
        count("SELECT COUNT(*) FROM usage"),
        count("SELECT COUNT(*) FROM usage WHERE counted = 1"),
        count("SELECT COUNT(*) FROM usage_slots"),
        count("SELECT COUNT(*) FROM usage_sessions"),
    );
    use cass::usage::Grouping;
    for (g, zone) in [
        (Grouping::Monthly, "UTC"),
        (Grouping::Daily, "UTC"),
        (Grouping::Daily, "Asia/Kolkata"),
        (Grouping::Weekly, "UTC"),
        (Grouping::Models, "UTC"),
        (Grouping::Projects, "UTC"),
        (Grouping::Sessions, "UTC"),
    ] {
        println!("in process: {}", time_report(&store, g, zone, None, runs));
    }
    // This machine's calls: every machine's sums minus the remote
    // conversations' (none here), so the cost of the subtraction itself.
    for g in [Grouping::Monthly, Grouping::Sessions] {
        println!("in process: {}", time_report(&store, g, "UTC", Some(cass::filters::SourceFilter::Local), runs));
    }
    let mut ms = Vec::new();
    for _ in 0..runs.min(30) {
        let t = Instant::now();
        let out = cass(&home, &data).args(["usage", "monthly", "--json", "--timezone", "UTC"]).output().expect("run");
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(out.status.success());
    }
    println!("process:    cass usage monthly --json  {}", summary(ms));

    if std::env::var("CASS_BENCH_USAGE_OVERHEAD").is_ok_and(|v| v == "1") {
        // Alternate `index --full` on the same sessions with and without
        // usage records: what recording usage adds to a full index.
        let (bare_home, bare_data, _) = indexed(messages, false);
        let pairs = env_usize("CASS_BENCH_USAGE_PAIRS", 3);
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for _ in 0..pairs {
            for (h, d, into) in [(&bare_home, &bare_data, &mut without), (&home, &data, &mut with)] {
                let t = Instant::now();
                let out = cass(h, d).args(["index", "--full", "--no-semantic", "--json"]).output().expect("index");
                assert!(out.status.success());
                into.push(t.elapsed().as_secs_f64());
            }
        }
        with.sort_by(f64::total_cmp);
        without.sort_by(f64::total_cmp);
        let (w, wo) = (with[with.len() / 2], without[without.len() / 2]);
        println!(
            "index --full: with usage {w:.2}s, without {wo:.2}s (median of {pairs} alternating pairs): {:+.1}%",
            (w / wo - 1.0) * 100.0
        );
    }
}
