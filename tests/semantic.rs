//! The semantic backfill through the real binary: the progress JSONL
//! contract, crash safety under SIGKILL, incremental segments, the report,
//! and semantic / hybrid search.

mod common;
use common::*;

#[path = "../benches/corpus.rs"]
mod corpus;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

const EVENTS: &[(&str, &str, &str)] = &[
    ("selection_start", "selection", "start"),
    ("selection_done", "selection", "done"),
    ("packet_replay_start", "packet_replay", "start"),
    ("packet_replay_progress", "packet_replay", "progress"),
    ("packet_replay_done", "packet_replay", "done"),
    ("embed_batch_start", "embed", "start"),
    ("embed_batch_done", "embed", "done"),
    ("staging_write_start", "staging", "start"),
    ("staging_write_done", "staging", "done"),
    ("checkpoint_save_start", "checkpoint", "start"),
    ("checkpoint_save_done", "checkpoint", "done"),
    ("publish_start", "publish", "start"),
    ("publish_done", "publish", "done"),
    ("error", "error", "error"),
    ("cancelled", "cancelled", "cancelled"),
    ("complete", "complete", "complete"),
];
const BASE_KEYS: &[&str] = &["schema", "event", "phase", "sub_phase", "ts_ms", "elapsed_ms", "tier", "embedder_id"];
const OPTIONAL_KEYS: &[&str] = &[
    "batch_index",
    "batch_rows",
    "rows_processed",
    "rows_total",
    "last_conversation_id",
    "last_message_id",
    "conversations_in_batch",
    "note",
    "bytes",
    "error",
];

/// Top-level keys of a one-line JSON object, in the order written.
fn keys_in_order(line: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut depth = 0;
    let mut in_str = false;
    let mut esc = false;
    let mut cur = String::new();
    let mut expect_key = false;
    let mut reading_key = false;
    for c in line.chars() {
        if in_str {
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
                if reading_key {
                    keys.push(std::mem::take(&mut cur));
                    reading_key = false;
                }
                continue;
            }
            if reading_key {
                cur.push(c);
            }
            continue;
        }
        match c {
            '{' | '[' => {
                depth += 1;
                expect_key = c == '{' && depth == 1;
            }
            '}' | ']' => depth -= 1,
            ',' if depth == 1 => expect_key = true,
            '"' => {
                in_str = true;
                reading_key = expect_key && depth == 1;
                expect_key = false;
            }
            _ => {}
        }
    }
    keys
}

/// Checks every line of a progress file against the contract; returns the
/// events grouped by run.
fn check_contract(path: &Path) -> Vec<Vec<Value>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut runs: Vec<Vec<Value>> = vec![Vec::new()];
    for line in text.lines() {
        assert!(!line.contains("null"), "null in {line}");
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line {line}: {e}"));
        assert_eq!(v["schema"], "cass.semantic.progress.v1");
        let name = v["event"].as_str().unwrap().to_string();
        let name = name.as_str();
        let &(_, phase, sub) = EVENTS.iter().find(|e| e.0 == name).unwrap_or_else(|| panic!("unknown event {name}"));
        assert_eq!((v["phase"].as_str().unwrap(), v["sub_phase"].as_str().unwrap()), (phase, sub), "{line}");
        let keys = keys_in_order(line);
        assert_eq!(&keys[..8], BASE_KEYS, "{line}");
        let mut rest = &keys[8..];
        if rest.first().map(String::as_str) == Some("rss_mib") {
            assert!(v["rss_mib"].is_u64());
            rest = &rest[1..];
        }
        let positions: Vec<usize> = rest
            .iter()
            .map(|k| OPTIONAL_KEYS.iter().position(|o| o == k).unwrap_or_else(|| panic!("unknown key {k} in {line}")))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "optional keys out of order: {line}");
        assert!(v["ts_ms"].is_u64() && v["elapsed_ms"].is_u64());
        assert!(["fast", "quality", "unknown"].contains(&v["tier"].as_str().unwrap()));
        runs.last_mut().unwrap().push(v);
        if ["complete", "cancelled", "error"].contains(&name) {
            runs.push(Vec::new());
        }
    }
    assert!(runs.last().unwrap().is_empty(), "the last run has no terminal event");
    runs.pop();
    for run in &runs {
        let terminals =
            run.iter().filter(|e| ["complete", "cancelled", "error"].contains(&e["event"].as_str().unwrap())).count();
        assert_eq!(terminals, 1, "exactly one terminal event per run");
        // Start/done pairs balance, and never nest within a phase.
        let mut open: std::collections::HashMap<String, bool> = Default::default();
        for e in run {
            let phase = e["phase"].as_str().unwrap().to_string();
            match e["sub_phase"].as_str().unwrap() {
                "start" => assert!(!open.insert(phase.clone(), true).unwrap_or(false), "{phase} started twice"),
                "done" => assert_eq!(open.insert(phase.clone(), false), Some(true), "{phase} done without start"),
                _ => {}
            }
        }
        let last = run.last().unwrap()["event"].as_str().unwrap();
        if last == "complete" {
            assert!(open.values().all(|o| !o), "unbalanced phases in a complete run");
        }
        // Counters never go backwards.
        for key in ["rows_processed", "last_message_id", "batch_index", "elapsed_ms", "ts_ms"] {
            let vals: Vec<u64> = run.iter().filter_map(|e| e[key].as_u64()).collect();
            assert!(vals.windows(2).all(|w| w[0] <= w[1]), "{key} went backwards: {vals:?}");
        }
    }
    runs
}

fn corpus_sandbox(messages: usize) -> Sandbox {
    let sb = Sandbox::new();
    corpus::generate(&sb.home(), messages, 7).unwrap();
    let r = sb.json(&["index", "--no-semantic"]);
    assert!(r["messages"].as_u64().unwrap() >= messages as u64);
    sb
}

/// (ids in the published fast tier with duplicates kept, expected live embeddable ids).
fn tier_ids(sb: &Sandbox) -> (Vec<i64>, BTreeSet<i64>) {
    let dir = sb.data().join("semantic/fast");
    let m = cass::vector::manifest::Manifest::load(&dir).unwrap().expect("manifest");
    assert_eq!(m.checkpoint.staged_rows, 0, "everything staged was published");
    let mut ids = Vec::new();
    for s in &m.segments {
        let seg = cass::vector::segment::Segment::open(&dir.join("segments").join(&s.file)).unwrap();
        assert!(seg.verify(), "segment {} checksum", s.file);
        ids.extend(seg.ids());
    }
    let db = sb.db();
    let mut stmt = db.prepare("SELECT id, content FROM messages").unwrap();
    let want: BTreeSet<i64> = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .filter(|(_, c)| cass::embed::canonical::canonical(c).is_some())
        .map(|(id, _)| id)
        .collect();
    (ids, want)
}

fn assert_exactly_once(sb: &Sandbox) {
    let (mut ids, want) = tier_ids(sb);
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate message ids in the published tier");
    let got: BTreeSet<i64> = ids.into_iter().collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "published ids differ from the live messages");
}

#[test]
fn progress_file_follows_the_contract() {
    let sb = corpus_sandbox(3000);
    let p = sb.dir.path().join("telemetry/deep/progress.jsonl");
    let out = sb
        .cass()
        .env("CASS_SEMANTIC_PROGRESS_JSONL", format!("  {}  ", p.display()))
        .args(["semantic", "backfill", "--batch-size", "500", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Nothing to do: a second run is its own run with one terminal event.
    let again = sb.cass().env("CASS_SEMANTIC_PROGRESS_JSONL", &p).args(["semantic", "backfill"]).output().unwrap();
    assert!(again.status.success());
    let runs = check_contract(&p);
    assert_eq!(runs.len(), 2);
    let first = &runs[0];
    let names: Vec<&str> = first.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(names.last(), Some(&"complete"));
    assert_eq!(names[names.len() - 2], "publish_done");
    assert!(names.contains(&"publish_start"));
    let rows: u64 =
        first.iter().filter(|e| e["event"] == "selection_done").map(|e| e["batch_rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, first[0]["rows_total"].as_u64().unwrap());
    assert_eq!(first.iter().filter(|e| e["event"] == "checkpoint_save_done").count(), rows.div_ceil(500) as usize);
    let second: Vec<&str> = runs[1].iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(second, ["selection_start", "selection_done", "complete"]);
}

#[test]
fn telemetry_off_when_unset_or_blank_and_never_fatal() {
    let sb = corpus_sandbox(200);
    let p = sb.dir.path().join("never.jsonl");
    for value in ["", "   ", "\t"] {
        let out = sb.cass().env("CASS_SEMANTIC_PROGRESS_JSONL", value).args(["semantic", "backfill"]).output().unwrap();
        assert!(out.status.success());
        assert!(!p.exists());
    }
    assert!(
        std::fs::read_dir(sb.dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".jsonl"))
    );
    // An unwritable path: one warning, a successful backfill.
    let blocker = sb.dir.path().join("file-not-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let bad = blocker.join("sub/progress.jsonl");
    let more = "{\"type\":\"user\",\"sessionId\":\"n\",\"message\":{\"role\":\"user\",\"content\":\"fresh words for the tier\"},\"timestamp\":\"2026-01-01T00:00:00Z\"}\n";
    std::fs::create_dir_all(sb.home().join(".claude/projects/-n")).unwrap();
    std::fs::write(sb.home().join(".claude/projects/-n/n.jsonl"), more).unwrap();
    let out = sb.cass().env("CASS_SEMANTIC_PROGRESS_JSONL", &bad).args(["index"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("warning: semantic progress file").count(), 1, "{stderr}");
    // From a .env file in the working directory.
    let from_env = sb.dir.path().join("dotenv.jsonl");
    std::fs::write(sb.dir.path().join(".env"), format!("CASS_SEMANTIC_PROGRESS_JSONL={}\n", from_env.display()))
        .unwrap();
    let out = sb.cass().args(["semantic", "backfill"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(check_contract(&from_env).len(), 1);
}

#[test]
fn sigkill_at_random_instants_never_loses_or_duplicates_a_vector() {
    let sb = corpus_sandbox(12_000);
    let named = common::BACKFILL_CRASH_POINTS;
    let mut rng = corpus::Rng::new(2024);
    let mut kills = 0;
    let mut extra = 0;
    let mut round = 0;
    while kills < 24 || round < named.len() {
        let mut cmd = sb.cass();
        cmd.args(["semantic", "backfill", "--batch-size", "64"]).stdout(Stdio::null()).stderr(Stdio::null());
        if round < named.len() {
            // Deterministic: abort exactly at a durable step.
            let status = cmd.env("CASS_TEST_CRASH_AT", named[round]).status().unwrap();
            let _ = status;
        } else {
            let mut child = cmd.spawn().unwrap();
            std::thread::sleep(Duration::from_millis(rng.range(5, 250) as u64));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL
                kills += 1;
            }
            child.wait().unwrap();
        }
        round += 1;
        // When the tier caught up, give it more to do (and test incremental segments).
        let m = cass::vector::manifest::Manifest::load(&sb.data().join("semantic/fast")).unwrap();
        let max_id: i64 = sb.db().query_row("SELECT MAX(id) FROM messages", [], |r| r.get(0)).unwrap();
        if m.is_some_and(|m| m.checkpoint.last_message_id >= max_id && m.checkpoint.staged_rows == 0) {
            extra += 1;
            add_sessions(&sb, &format!("more{extra}"), 1500, 100 + extra);
        }
        assert!(round < 400, "too many rounds");
    }
    let done = sb.json(&["semantic", "backfill"]);
    assert_eq!(done["outcome"], "complete");
    eprintln!("{kills} random SIGKILLs and {} crash points over {round} rounds", named.len());
    assert!(kills >= 20);
    assert_exactly_once(&sb);
}

#[test]
fn new_sessions_after_a_publish_embed_only_the_new_messages() {
    let sb = corpus_sandbox(2000);
    let first = sb.json(&["semantic", "backfill"]);
    assert_eq!(first["published"], true);
    let before = first["published_rows"].as_u64().unwrap();
    let added = add_sessions(&sb, "extra", 300, 99);
    assert!(added >= 300);
    let p = sb.dir.path().join("inc.jsonl");
    let out =
        sb.cass().env("CASS_SEMANTIC_PROGRESS_JSONL", &p).args(["semantic", "backfill", "--json"]).output().unwrap();
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = check_contract(&p);
    let selected: u64 =
        runs[0].iter().filter(|e| e["event"] == "selection_done").map(|e| e["batch_rows"].as_u64().unwrap()).sum();
    assert_eq!(selected, added, "only the new messages are selected");
    assert_eq!(runs[0][0]["rows_total"].as_u64().unwrap(), added);
    assert_eq!(second["rows_processed"].as_u64().unwrap(), added);
    let m = cass::vector::manifest::Manifest::load(&sb.data().join("semantic/fast")).unwrap().unwrap();
    assert_eq!(m.segments.len(), 2, "the new messages went into a new segment");
    assert_eq!(m.published_rows(), before + second["rows_embedded"].as_u64().unwrap());
    assert_exactly_once(&sb);
}

#[test]
fn report_phase_totals_add_up_to_the_wall_time() {
    let sb = corpus_sandbox(20_000);
    let p = sb.dir.path().join("report.jsonl");
    let out = sb
        .cass()
        .env("CASS_SEMANTIC_PROGRESS_JSONL", &p)
        .args(["semantic", "backfill", "--batch-size", "1000"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let r = sb.json(&["semantic", "report", p.to_str().unwrap()]);
    let run = &r["runs"][0];
    let wall = run["wall_ms"].as_f64().unwrap();
    let phases: f64 = run["phases"].as_array().unwrap().iter().map(|p| p["ms"].as_f64().unwrap()).sum();
    assert!(wall >= 100.0, "run too short to measure: {wall} ms");
    assert!((phases - wall).abs() <= wall * 0.05, "phases {phases} ms vs wall {wall} ms");
    assert_eq!(run["outcome"], "complete");
    // The model loads after the sink opens and before the first event.
    let load = run["model_load_ms"].as_u64().unwrap();
    let first: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&p).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(Some(load), first["elapsed_ms"].as_u64());
    assert_eq!(run["rows_processed"].as_u64().unwrap(), 20_000u64.max(run["rows_processed"].as_u64().unwrap()));
    let text = String::from_utf8_lossy(&sb.run(&["semantic", "report", p.to_str().unwrap()]).stdout).into_owned();
    for word in [
        "model load",
        "selection",
        "packet_replay",
        "embed",
        "staging",
        "checkpoint",
        "publish",
        "rows/s",
        "peak RSS",
        "model-side",
        "storage-side",
    ] {
        assert!(text.contains(word), "report lacks {word}: {text}");
    }
}

#[test]
fn signals_and_time_budgets_stop_between_batches() {
    let sb = corpus_sandbox(12_000);
    let p = sb.dir.path().join("cancel.jsonl");
    let out = sb
        .cass()
        .env("CASS_SEMANTIC_PROGRESS_JSONL", &p)
        .args(["semantic", "backfill", "--batch-size", "16", "--max-seconds", "0.3", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(130));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["outcome"], "cancelled");
    let runs = check_contract(&p);
    assert_eq!(runs[0].last().unwrap()["event"], "cancelled");
    // SIGTERM and SIGINT: cooperative, exit 130, checkpoint kept.
    for sig in ["-TERM", "-INT"] {
        let child = sb
            .cass()
            .env("CASS_SEMANTIC_PROGRESS_JSONL", &p)
            .args(["semantic", "backfill", "--batch-size", "16"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        std::process::Command::new("kill").arg(sig).arg(child.id().to_string()).status().unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130), "{sig}");
    }
    let runs = check_contract(&p);
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r.last().unwrap()["event"] == "cancelled"));
    let done = sb.json(&["semantic", "backfill"]);
    assert_eq!(done["outcome"], "complete");
    assert_exactly_once(&sb);
}

#[test]
fn a_manifest_of_another_embedder_is_rebuilt_not_mixed() {
    let sb = corpus_sandbox(500);
    sb.json(&["semantic", "backfill"]);
    let path = sb.data().join("semantic/fast/manifest.json");
    let mut m: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["embedder_id"] = "some-other-model".into();
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    let r = sb.json(&["semantic", "backfill"]);
    assert_eq!(r["rebuilt"], true);
    assert_exactly_once(&sb);
    let m = cass::vector::manifest::Manifest::load(&sb.data().join("semantic/fast")).unwrap().unwrap();
    assert_eq!((m.embedder_id.as_str(), m.segments.len()), ("potion-base-8M", 1));
}

/// A tier whose manifest and headers say format 1 but whose files are not
/// intact format-1 segments (here: this format's bodies) is never read:
/// search says to rebuild it, health names it, and the next backfill,
/// unable to rewrite it from its vectors, builds it again.
#[test]
fn a_tier_in_the_format_before_codes_is_rebuilt_not_misread() {
    let sb = corpus_sandbox(500);
    sb.json(&["semantic", "backfill"]);
    let dir = sb.data().join("semantic/fast");
    let path = dir.join("manifest.json");
    let mut m: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(m["segment_version"], cass::vector::segment::VERSION);
    m.as_object_mut().unwrap().remove("segment_version");
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    for e in std::fs::read_dir(dir.join("segments")).unwrap() {
        let p = e.unwrap().path();
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        std::fs::write(&p, &bytes).unwrap();
    }
    let out = sb.run(&["search", "fix the failing test", "--mode", "semantic", "--json"]);
    assert_eq!(out.status.code(), Some(cass::cli::exit::USAGE), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("segment format 1") && err.contains("cass index"), "{err}");
    let health = sb.run(&["health", "--json"]);
    assert_eq!(health.status.code(), Some(cass::cli::exit::NOT_FOUND), "health is not fooled");
    assert!(String::from_utf8_lossy(&health.stdout).contains("tier_format"));
    let r = sb.json(&["semantic", "backfill"]);
    assert_eq!(r["rebuilt"], true);
    assert_exactly_once(&sb);
    let hits = sb.json(&["search", "fix the failing test", "--mode", "semantic"]);
    assert!(!hits["hits"].as_array().unwrap().is_empty(), "{hits}");
}

/// A tier written by a cass before segments carried codes (format 1: no
/// `segment_version` in its manifest, headers saying 1, files ending with
/// the vectors) is rewritten by the next backfill from its own vectors, not
/// embedded again: nothing is embedded, every message is there once, and
/// search returns exactly what it returned before.
#[test]
fn a_tier_in_the_format_before_codes_is_rewritten_from_its_own_vectors() {
    let sb = corpus_sandbox(500);
    sb.json(&["semantic", "backfill"]);
    let query = ["search", "fix the failing test", "--mode", "semantic", "--limit", "20"];
    let hits = |v: &Value| -> Vec<(i64, String)> {
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h["message_id"].as_i64().unwrap(), h["score"].to_string()))
            .collect()
    };
    let before = hits(&sb.json(&query));
    assert!(!before.is_empty());

    // Turn the tier into what the older cass wrote.
    let dir = sb.data().join("semantic/fast");
    let path = dir.join("manifest.json");
    let mut m: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m.as_object_mut().unwrap().remove("segment_version");
    for entry in m["segments"].as_array_mut().unwrap() {
        let p = dir.join("segments").join(entry["file"].as_str().unwrap());
        let mut bytes = std::fs::read(&p).unwrap();
        let dims = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
        let count = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
        assert_eq!(dims * 2 % 64, 0, "rows end on a 64-byte boundary, so the codes follow the vectors directly");
        let end = bytes.len() - dims * 8 - count * cass::vector::quant::code_len(dims);
        bytes.truncate(end);
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        let mut sum = cass::vector::segment::Checksum::default();
        sum.update(&bytes[cass::vector::segment::HEADER_LEN..]);
        let sum = sum.finish();
        bytes[24..32].copy_from_slice(&sum.to_le_bytes());
        entry["checksum"] = sum.into();
        std::fs::write(&p, &bytes).unwrap();
    }
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    let out = sb.run(&query);
    assert_eq!(out.status.code(), Some(cass::cli::exit::USAGE), "not read before it is rewritten");

    // Killed inside the rewrite: after its first new segment is written
    // (the old manifest still rules), then after the new manifest is
    // written (old files not yet removed). Each next run finishes the job.
    for point in ["semantic.rewrite.segment_written", "semantic.rewrite.manifest_saved"] {
        let st = sb.cass().args(["semantic", "backfill", "--json"]).env("CASS_TEST_CRASH_AT", point).output().unwrap();
        assert!(!st.status.success(), "{point} was reached: {}", String::from_utf8_lossy(&st.stderr));
        assert!(String::from_utf8_lossy(&st.stderr).contains(point));
    }

    let r = sb.json(&["semantic", "backfill"]);
    assert_eq!((r["rebuilt"].as_bool(), r["rows_embedded"].as_u64()), (Some(false), Some(0)), "{r}");
    let m = cass::vector::manifest::Manifest::load(&dir).unwrap().unwrap();
    assert_eq!(m.segment_version, cass::vector::segment::VERSION);
    assert_exactly_once(&sb);
    assert_eq!(hits(&sb.json(&query)), before, "the same vectors, so the same hits and scores");
    let health = sb.run(&["health", "--json"]);
    assert!(!String::from_utf8_lossy(&health.stdout).contains("tier_format"));
    let files = std::fs::read_dir(dir.join("segments")).unwrap().count();
    assert_eq!(files, m.segments.len(), "the format-1 files are gone");
}

/// The two-pass scan (codes first, then the best candidates rescored from
/// their f16 rows) returns what scoring every row exactly returns, with
/// and without filters, and every filter holds for what it returns.
#[test]
fn the_two_pass_scan_finds_what_the_exact_scan_finds() {
    use cass::filters::Filters;
    use cass::model::Role;
    use cass::vector::{scan, segment::Segment};
    let sb = corpus_sandbox(3000);
    sb.json(&["semantic", "backfill"]);
    let dir = sb.data().join("semantic/fast");
    let m = cass::vector::manifest::Manifest::load(&dir).unwrap().unwrap();
    let segments: Vec<Segment> =
        m.segments.iter().map(|s| Segment::open(&dir.join("segments").join(&s.file)).unwrap()).collect();
    let dd = cass::config::DataDir::at(sb.data());
    let embedder = cass::embed::embedder_for(&dd, cass::embed::Tier::Fast, None).unwrap();
    let role_of = |id: i64| -> Role {
        let seg = segments.iter().find(|s| s.ids().any(|x| x == id)).unwrap();
        seg.role((0..seg.count).find(|&i| seg.message_id(i) == id).unwrap())
    };
    let odd = |id: i64| id % 2 == 1;
    let tool = Filters { roles: vec![Role::Tool], ..Default::default() };
    let cases: [(&Filters, Option<scan::KeepId<'_>>); 3] =
        [(&Filters::default(), None), (&tool, None), (&Filters::default(), Some(&odd))];
    let (mut found, mut wanted) = (0, 0);
    for q in ["fix the failing unit test", "database connection times out", "parse a date string", "memory leak"] {
        let mut v = Vec::new();
        embedder.embed(&[q], &mut v).unwrap();
        for (f, keep) in &cases {
            let exact = scan::exact_top_k_among(&segments, &v, 10, f, *keep);
            let fast = scan::top_k_among(&segments, &v, 10, f, *keep);
            assert!(!exact.is_empty(), "{q}");
            for s in &fast {
                // Rescored exactly: a hit both scans return has the same score.
                if let Some(e) = exact.iter().find(|e| e.message_id == s.message_id) {
                    assert_eq!(e.score, s.score);
                }
                assert!(f.roles.is_empty() || f.roles.contains(&role_of(s.message_id)), "{q}: role filter");
                assert!(keep.is_none_or(|k| k(s.message_id)), "{q}: id filter");
            }
            found += fast.iter().filter(|s| exact.iter().any(|e| e.message_id == s.message_id)).count();
            wanted += exact.len();
        }
    }
    assert!(found as f64 >= 0.98 * wanted as f64, "recall@10 {found}/{wanted}");
}

#[test]
fn semantic_and_hybrid_search_with_filters_and_fallbacks() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    // Lexical only first: the default falls back and says so.
    sb.json(&["index", "--no-semantic"]);
    let lex = sb.json(&["search", "websocket"]);
    assert_eq!(lex["mode"], "lexical");
    assert!(lex["fallback"].as_str().unwrap().contains("not published"));
    let out = sb.run(&["search", "websocket", "--mode", "semantic", "--json"]);
    assert_eq!(out.status.code(), Some(cass::cli::exit::NO_INDEX));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "no_semantic_tier");

    sb.json(&["index"]);
    let hybrid = sb.json(&["search", "websocket reconnect"]);
    assert_eq!((hybrid["mode"].as_str(), hybrid["tier"].as_str()), (Some("hybrid"), Some("fast")));
    assert_eq!(hybrid["fallback"], Value::Null);
    let sem = sb.json(&["search", "reconnect websocket test", "--mode", "semantic", "--limit", "3"]);
    assert_eq!(sem["mode"], "semantic");
    assert!(sem["hits"][0]["title"].as_str().unwrap().contains("websocket"), "{sem}");
    // Filters apply during the scan.
    let only_codex = sb.json(&["search", "test failures", "--mode", "semantic", "--agent", "codex", "--limit", "50"]);
    let hits = only_codex["hits"].as_array().unwrap();
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| h["agent"] == "codex"));
    let tools = sb.json(&["search", "test output", "--mode", "semantic", "--role", "tool", "--limit", "50"]);
    assert!(tools["hits"].as_array().unwrap().iter().all(|h| h["role"] == "tool"));
    // Words the model does not know: no semantic hits, not an error, in
    // either mode. A query without a word to embed finds nothing in
    // semantic mode (exit 1) and says why.
    let cancelled = sb.run(&["search", "ithxantesith monosargul", "--mode", "semantic", "--json"]);
    assert_eq!(
        cancelled.status.code(),
        Some(cass::cli::exit::NOT_FOUND),
        "{}",
        String::from_utf8_lossy(&cancelled.stderr)
    );
    let empty: Value = serde_json::from_slice(&cancelled.stdout).unwrap();
    assert_eq!(empty["hits"].as_array().map(Vec::len), Some(0), "{empty}");
    let hybrid = sb.run(&["search", "ithxantesith monosargul", "--mode", "hybrid", "--json"]);
    assert_eq!(hybrid.status.code(), Some(cass::cli::exit::NOT_FOUND), "{}", String::from_utf8_lossy(&hybrid.stderr));
    let no_words = sb.run(&["search", "a . !", "--mode", "semantic", "--json"]);
    assert_eq!(no_words.status.code(), Some(cass::cli::exit::NOT_FOUND));
    let none: Value = serde_json::from_slice(&no_words.stdout).unwrap();
    assert!(none["fallback"].as_str().unwrap().contains("no word"), "{none}");
    let quality = sb.run(&["search", "x", "--tier", "quality", "--json"]);
    assert_eq!(quality.status.code(), Some(cass::cli::exit::NO_INDEX));

    // Searches never wait for a writer.
    let _held = cass::lock::WriterLock::acquire(&sb.data().join("cass.lock"), "test").unwrap();
    let t = std::time::Instant::now();
    let r = sb.json(&["search", "websocket", "--mode", "hybrid"]);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(!r["hits"].as_array().unwrap().is_empty());
}

#[test]
fn status_and_compact() {
    let sb = corpus_sandbox(800);
    let st = sb.json(&["semantic", "status"]);
    let fast = &st["tiers"][0];
    assert_eq!((fast["tier"].as_str(), fast["built"].as_bool()), (Some("fast"), Some(false)));
    assert!(fast["pending_rows"].as_u64().unwrap() >= 800);
    sb.json(&["semantic", "backfill"]);
    let st = sb.json(&["semantic", "status"]);
    assert_eq!(st["tiers"][0]["pending_rows"], 0);
    assert!(st["tiers"][0]["published_rows"].as_u64().unwrap() > 700);
    // Rewrite one session: its old vectors become dead rows until compact.
    let f = walk_first_jsonl(&sb.home().join(".claude"));
    std::fs::write(&f, "{\"type\":\"user\",\"sessionId\":\"r\",\"message\":{\"role\":\"user\",\"content\":\"rewritten completely\"}}\n").unwrap();
    sb.json(&["index"]);
    // Without --tier, every tier with a manifest (only fast here).
    let all = sb.json(&["semantic", "compact"]);
    let tiers = all["tiers"].as_array().unwrap();
    assert_eq!(tiers.len(), 1, "{all}");
    let c = &tiers[0];
    assert_eq!(c["tier"], "fast");
    assert!(c["dropped_dead"].as_u64().unwrap() > 0);
    assert_eq!(c["segments_after"], 1);
    assert_exactly_once(&sb);
    assert_eq!(sb.json(&["semantic", "compact", "--tier", "fast"])["dropped_dead"], 0);
}

/// Generates more sessions under new paths (nothing existing is rewritten)
/// and indexes them without the backfill; returns the messages added.
fn add_sessions(sb: &Sandbox, name: &str, messages: usize, seed: u64) -> u64 {
    let tmp = sb.dir.path().join(format!("gen-{name}"));
    corpus::generate(&tmp, messages, seed).unwrap();
    for (agent_root, sub) in [(".claude", "projects"), (".codex", "sessions")] {
        let from = tmp.join(agent_root).join(sub);
        if from.is_dir() {
            copy_tree(&from, &sb.home().join(agent_root).join(sub).join(name));
        }
    }
    std::fs::remove_dir_all(&tmp).unwrap();
    sb.json(&["index", "--no-semantic"])["messages_added"].as_u64().unwrap()
}

fn walk_first_jsonl(dir: &Path) -> std::path::PathBuf {
    let mut stack = vec![dir.to_path_buf()];
    let mut found = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                found.push(p);
            }
        }
    }
    found.sort();
    found.remove(0)
}

/// Records every (done, total) a backfill reports.
#[derive(Default)]
struct Counts(std::sync::Mutex<Vec<(u64, u64)>>);
impl cass::indexer::IndexProgress for Counts {
    fn batch_done(&self, done: u64, total: u64) {
        self.0.lock().unwrap().push((done, total));
    }
}

#[test]
fn the_progress_bar_knows_its_length_before_the_first_batch() {
    let sb = corpus_sandbox(3000);
    let settings =
        cass::Settings::new(cass::config::DataDir::at(sb.data()), cass::connectors::AgentEnv::with_home(sb.home()));
    let handle = cass::Cass::open(settings);
    let writer = handle.writer("test").unwrap();
    let counts = Counts::default();
    let run = cass::BackfillRun { batch_size: 1000, ..cass::BackfillRun::for_tier(cass::embed::Tier::Fast) };
    let r = writer.backfill(cass::embed::Tier::Fast, &run, &counts).unwrap();
    let seen = counts.0.into_inner().unwrap();
    let total = seen[0].1;
    assert_eq!(seen[0].0, 0, "{seen:?}");
    assert!(total >= 3000, "{seen:?}");
    assert_eq!(seen.last().unwrap(), &(r.rows_processed, total), "{seen:?}");
    assert!(seen.len() >= 4, "one report at the start and one per batch: {seen:?}");
}
