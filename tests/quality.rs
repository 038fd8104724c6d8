//! The quality tier end to end: install the model (from a directory, and
//! from a URL served on 127.0.0.1 with an interrupted download resumed),
//! refuse tampered files, backfill, and find a paraphrase. Needs
//! ../shared/models (skips, saying so, where it is absent).

mod common;
use common::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

fn model_dir() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/models/all-MiniLM-L6-v2");
    if p.join("model.safetensors").exists() {
        Some(p)
    } else {
        eprintln!("skipping: ../shared/models is not present");
        None
    }
}

#[test]
fn install_backfill_and_find_a_paraphrase() {
    let Some(model) = model_dir() else { return };
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    let dir = sb.home().join(".claude/projects/-home-dev-misc");
    std::fs::create_dir_all(&dir).unwrap();
    let msgs = [
        "My laptop battery drains very quickly overnight even when it is asleep.",
        "How do I center a div horizontally with flexbox?",
        "Postgres query planner ignores my index on the orders table.",
        "The borrow checker complains that I move a value inside a loop.",
        "Add retries with exponential backoff to the HTTP client.",
    ];
    let text: String = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| claude_line("misc", "user", m, &format!("2026-04-0{}T10:00:00Z", i + 1), "/home/dev/misc"))
        .collect();
    std::fs::write(dir.join("misc.jsonl"), text).unwrap();
    sb.json(&["index"]);

    let installed = sb.json(&["models", "install", "--from", model.to_str().unwrap()]);
    assert_eq!(installed["model"], "minilm-384");
    assert!(installed["files"].as_array().unwrap().len() >= 3);
    assert_eq!(sb.json(&["models", "list"])["models"][0]["installed"], true);
    assert_eq!(sb.json(&["models", "verify"])["ok"], true);

    let r = sb.json(&["semantic", "backfill", "--tier", "quality"]);
    assert_eq!((r["outcome"].as_str(), r["published"].as_bool()), (Some("complete"), Some(true)));
    assert_eq!(r["embedder_id"], "minilm-384");
    let status = sb.json(&["semantic", "status"]);
    let q = status["tiers"].as_array().unwrap().iter().find(|t| t["tier"] == "quality").unwrap().clone();
    assert_eq!((q["built"].as_bool(), q["pending_rows"].as_u64()), (Some(true), Some(0)));

    // No word in common with the target message.
    let query = "notebook power cell depletes fast during standby";
    let target = msgs[0].to_lowercase();
    for w in query.split_whitespace() {
        assert!(!target.split(|c: char| !c.is_alphanumeric()).any(|t| t == w), "{w} is in the target");
    }
    let res = sb.json(&["search", query, "--mode", "semantic", "--tier", "quality", "--limit", "3"]);
    assert_eq!((res["mode"].as_str(), res["tier"].as_str()), (Some("semantic"), Some("quality")));
    let top: Vec<String> = res["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            sb.db()
                .query_row("SELECT content FROM messages WHERE id = ?1", [h["message_id"].as_i64().unwrap()], |r| {
                    r.get(0)
                })
                .unwrap()
        })
        .collect();
    assert!(top.iter().any(|c| c == msgs[0]), "target not in top 3: {top:?}");
    // A new session: the next `cass index` adds it to the published
    // quality tier within its budget, and a paraphrase finds it there.
    let later = claude_line(
        "later",
        "user",
        "Kubernetes evicts my pods because the node runs out of disk space.",
        "2026-04-09T10:00:00Z",
        "/home/dev/misc",
    );
    std::fs::write(dir.join("later.jsonl"), later).unwrap();
    let r = sb.json(&["index"]);
    assert_eq!(r["quality"]["pending_rows"], 0, "{r}");
    assert!(r["quality"]["rows_embedded"].as_u64().unwrap() >= 1, "{r}");
    let status = sb.json(&["semantic", "status"]);
    let q = status["tiers"].as_array().unwrap().iter().find(|t| t["tier"] == "quality").unwrap().clone();
    assert_eq!(q["pending_rows"], 0, "{status}");
    let res = sb.json(&[
        "search",
        "cluster removes containers when storage fills up",
        "--mode",
        "semantic",
        "--tier",
        "quality",
        "--limit",
        "1",
    ]);
    let id = res["hits"][0]["message_id"].as_i64().unwrap();
    let top: String = sb.db().query_row("SELECT content FROM messages WHERE id = ?1", [id], |r| r.get(0)).unwrap();
    assert!(top.starts_with("Kubernetes evicts"), "{top}");

    // With the quality tier published, the default picks it.
    let default = sb.json(&["search", "battery"]);
    assert_eq!((default["mode"].as_str(), default["tier"].as_str()), (Some("hybrid"), Some("quality")));

    // Removing the model: quality is published but cannot run. The default
    // says so and uses fast; asking for quality explicitly is an error.
    sb.json(&["models", "remove"]);
    let fallback = sb.json(&["search", "battery"]);
    assert_eq!(fallback["tier"], "fast");
    assert!(fallback["fallback"].as_str().unwrap().contains("quality"), "{fallback}");
    assert_eq!(sb.run(&["search", "battery", "--tier", "quality", "--json"]).status.code(), Some(2));
}

#[test]
fn tampered_model_files_are_refused() {
    let Some(model) = model_dir() else { return };
    let sb = Sandbox::new();
    // Installing from a copy with one byte flipped is refused, and nothing
    // is left installed.
    let bad = sb.dir.path().join("bad-model");
    copy_tree(&model, &bad);
    let tok = bad.join("tokenizer.json");
    let mut bytes = std::fs::read(&tok).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&tok, &bytes).unwrap();
    let out = sb.run(&["models", "install", "--from", bad.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "checksum_mismatch");
    assert!(err["error"]["message"].as_str().unwrap().contains("tokenizer.json"));
    assert_eq!(sb.json(&["models", "list"])["models"][0]["installed"], false);

    // A good install, then one byte flipped on disk: verify refuses it.
    sb.json(&["models", "install", "--from", model.to_str().unwrap()]);
    let installed = sb.data().join("models/minilm-384/model.safetensors");
    let mut f = std::fs::OpenOptions::new().read(true).write(true).open(&installed).unwrap();
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(4096)).unwrap();
    let mut b = [0u8; 1];
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(4096)).unwrap();
    f.write_all(&[b[0] ^ 0x80]).unwrap();
    drop(f);
    let out = sb.run(&["models", "verify", "--json"]);
    assert_ne!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let bad_files: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["ok"] == false)
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(bad_files, ["model.safetensors"]);
}

/// A tiny HTTP/1.1 file server on 127.0.0.1 with Range support, counting
/// the body bytes it sends. Bounded: it stops when the test drops it.
struct FileServer {
    port: u16,
    sent: Arc<AtomicU64>,
}

fn serve(root: PathBuf) -> FileServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut range_start = 0u64;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    range_start = v.trim().trim_end_matches('-').parse().unwrap_or(0);
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
            match std::fs::read(root.join(&path)) {
                Ok(body) => {
                    let start = (range_start as usize).min(body.len());
                    let status = if range_start > 0 { "206 Partial Content" } else { "200 OK" };
                    let part = &body[start..];
                    let head =
                        format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", part.len());
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(part);
                    counter.fetch_add(part.len() as u64, Ordering::SeqCst);
                }
                Err(_) => {
                    let _ =
                        stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
            }
        }
    });
    FileServer { port, sent }
}

#[test]
fn install_from_a_url_resumes_an_interrupted_download() {
    let Some(model) = model_dir() else { return };
    let sb = Sandbox::new();
    let server = serve(model.clone());
    // An earlier attempt got the first 10 MB of the weights.
    let dest = sb.data().join("models/minilm-384");
    std::fs::create_dir_all(&dest).unwrap();
    let weights = std::fs::read(model.join("model.safetensors")).unwrap();
    std::fs::write(dest.join("model.safetensors.partial"), &weights[..10_000_000]).unwrap();
    let url = format!("http://127.0.0.1:{}", server.port);
    let r = sb.json(&["models", "install", "--url", &url]);
    assert_eq!(r["model"], "minilm-384");
    let total: u64 = r["bytes"].as_u64().unwrap();
    let sent = server.sent.load(Ordering::SeqCst);
    assert_eq!(sent, total - 10_000_000, "only the missing part of the weights was fetched");
    assert_eq!(sb.json(&["models", "verify"])["ok"], true);
    assert!(!dest.join("model.safetensors.partial").exists());
}

/// A server whose every answer is an endless body (no Content-Length): it
/// stops after `cap` bytes so the test ends even if cass never does.
fn serve_endless(cap: u64) -> FileServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let chunk = vec![b'x'; 1 << 16];
            while counter.load(Ordering::SeqCst) < cap && stream.write_all(&chunk).is_ok() {
                counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            }
        }
    });
    FileServer { port, sent }
}

#[test]
fn an_endless_download_is_refused_past_the_pinned_size() {
    let sb = Sandbox::new();
    let server = serve_endless(512 << 20);
    let url = format!("http://127.0.0.1:{}", server.port);
    let out = sb.run(&["models", "install", "--url", &url, "--json"]);
    assert_eq!(out.status.code(), Some(cass::cli::exit::USAGE));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(err["error"]["message"].as_str().unwrap().contains("pinned"), "{err}");
    // config.json is pinned at 612 bytes: cass stopped reading right after.
    assert!(server.sent.load(Ordering::SeqCst) < 64 << 20, "read {} bytes", server.sent.load(Ordering::SeqCst));
    let dir = sb.data().join("models/minilm-384");
    let left: u64 = std::fs::read_dir(&dir).map_or(0, |d| d.flatten().map(|e| e.metadata().unwrap().len()).sum());
    assert!(left < 1 << 20, "nothing large left behind: {left} bytes");
}

/// Months of history: a quality backfill of more than one batch embeds the
/// newest messages first, publishes what it embedded when its time budget
/// runs out, and the lag is stated in status, in search JSON and (only
/// past `--max-age`) by health.
#[test]
fn a_backlog_is_embedded_newest_first_and_published_at_the_budget() {
    let Some(model) = model_dir() else { return };
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-hist");
    std::fs::create_dir_all(&dir).unwrap();
    // File names sort opposite to time, so ids (in reading order) do too.
    for (file, month) in [("a.jsonl", "2026-11"), ("b.jsonl", "2026-03"), ("c.jsonl", "2025-01")] {
        let text: String = (0..6)
            .map(|i| {
                let ts = format!("{month}-0{}T10:00:00Z", i + 1);
                claude_line(
                    file,
                    "user",
                    &format!("Note {i} from {month} about the build cache"),
                    &ts,
                    "/home/dev/hist",
                )
            })
            .collect();
        std::fs::write(dir.join(file), text).unwrap();
    }
    sb.json(&["index"]);
    sb.json(&["models", "install", "--from", model.to_str().unwrap()]);
    let progress = sb.home().join("progress.jsonl");
    let out = sb
        .cass()
        .env("CASS_SEMANTIC_PROGRESS_JSONL", &progress)
        .args(["semantic", "backfill", "--tier", "quality", "--batch-size", "4", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created = |id: i64| -> i64 {
        sb.db().query_row("SELECT created_at FROM messages WHERE id = ?1", [id], |r| r.get(0)).unwrap()
    };
    // The cursor of each checkpoint is the last message of its batch: by
    // time, never rising; the first batch is all from the newest month.
    let cursors: Vec<i64> = std::fs::read_to_string(&progress)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "checkpoint_save_done")
        .map(|e| e["last_message_id"].as_i64().unwrap())
        .collect();
    assert_eq!(cursors.len(), 5, "18 messages in batches of 4: {cursors:?}");
    let times: Vec<i64> = cursors.iter().map(|&id| created(id)).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "not newest first: {times:?}");
    assert!(times[0] >= ms("2026-11-01T00:00:00Z"), "first batch not from the newest month: {times:?}");
    let q = |sb: &Sandbox| -> serde_json::Value {
        let s = sb.json(&["semantic", "status"]);
        s["tiers"].as_array().unwrap().iter().find(|t| t["tier"] == "quality").unwrap().clone()
    };
    let state = q(&sb);
    assert_eq!((state["pending_rows"].as_u64(), state["published_rows"].as_u64()), (Some(0), Some(18)), "{state}");
    assert!(state["checkpoint"].get("sweep").is_none(), "the sweep is over: {state}");

    // A second backlog, stopped by a budget shorter than it: what was
    // embedded is published at the stop, and the rest is the stated lag.
    // Each note is long (the model's full 256 tokens), so the 40 take
    // seconds even in a release build on a fast CPU, well past the budget.
    let filler = "the rotation job reads the vault, writes the new key and restarts the agents; ".repeat(18);
    let text: String = (0..40)
        .map(|i| {
            let ts = format!("2026-12-0{}T{:02}:00:00Z", 1 + i / 20, i % 20);
            claude_line("d", "user", &format!("Later note {i} on deploy keys: {filler}"), &ts, "/home/dev/hist")
        })
        .collect();
    std::fs::write(dir.join("d.jsonl"), text).unwrap();
    sb.json(&["index", "--quality-budget", "0"]);
    let out =
        sb.run(&["semantic", "backfill", "--tier", "quality", "--batch-size", "4", "--max-seconds", "0.3", "--json"]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["outcome"], "cancelled", "the budget is shorter than 10 batches: {r}");
    assert_eq!(out.status.code(), Some(130), "a stopped backfill exits 130: {r}");
    assert_eq!(r["published"], true, "{r}");
    assert_eq!(r["published_rows"].as_u64().unwrap(), 18 + r["rows_embedded"].as_u64().unwrap(), "{r}");
    let pending = r["pending_rows"].as_u64().unwrap();
    assert_eq!(pending, 40 - r["rows_processed"].as_u64().unwrap(), "{r}");
    let state = q(&sb);
    assert_eq!(state["pending_rows"].as_u64(), Some(pending), "{state}");
    assert!(state["behind_since"].is_string(), "{state}");
    let res = sb.json(&["search", "deploy keys", "--tier", "quality"]);
    assert_eq!(res["tier_lag"]["pending_rows"].as_u64(), Some(pending), "{res}");
    // Behind, but only `--max-age` makes that a problem for the quality tier.
    let kinds = |args: &[&str]| -> Vec<String> {
        let out = sb.cass().args(args).output().unwrap();
        let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        h["problems"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap().to_string()).collect()
    };
    assert!(!kinds(&["health", "--json"]).contains(&"tier_behind".to_string()));
    assert!(!kinds(&["health", "--json", "--max-age", "1h"]).contains(&"tier_behind".to_string()));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(kinds(&["health", "--json", "--max-age", "1s"]).contains(&"tier_behind".to_string()));
}

/// Under `cass index --watch`, a new session reaches the published quality
/// tier within 30 s, after it is searchable by words.
#[test]
fn under_watch_a_new_session_reaches_the_quality_tier_within_30_s() {
    let Some(model) = model_dir() else { return };
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-w");
    std::fs::create_dir_all(&dir).unwrap();
    let first = claude_line("w0", "user", "How do I center a div with flexbox?", "2026-05-01T10:00:00Z", "/home/dev/w");
    std::fs::write(dir.join("w0.jsonl"), first).unwrap();
    sb.json(&["index"]);
    sb.json(&["models", "install", "--from", model.to_str().unwrap()]);
    sb.json(&["semantic", "backfill", "--tier", "quality"]);
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut watch = Kill(
        sb.cass()
            .args(["index", "--watch", "--json", "--debounce-ms", "100"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The catch-up cycle's line: later writes are changes it must notice.
    let mut line = String::new();
    BufReader::new(watch.0.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("\"cycle\""), "{line}");

    let text = "Kubernetes evicts my pods because the node runs out of disk space.";
    std::fs::write(dir.join("w1.jsonl"), claude_line("w1", "user", text, "2026-05-02T10:00:00Z", "/home/dev/w"))
        .unwrap();
    let start = std::time::Instant::now();
    let mut lexical_at = None;
    let quality_at = loop {
        if lexical_at.is_none() && sb.run(&["search", "evicts", "--mode", "lexical", "--json"]).status.code() == Some(0)
        {
            lexical_at = Some(start.elapsed());
        }
        let st = sb.json(&["semantic", "status"]);
        let q = st["tiers"].as_array().unwrap().iter().find(|t| t["tier"] == "quality").unwrap().clone();
        if q["published_rows"] == 2 && q["pending_rows"] == 0 {
            break start.elapsed();
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "not in the quality tier within 30 s: {q}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let lexical_at = lexical_at.expect("searchable by words no later than by meaning");
    assert!(lexical_at <= quality_at, "lexical {lexical_at:?}, quality {quality_at:?}");
    // And a paraphrase finds it there.
    let res = sb.json(&[
        "search",
        "cluster removes containers when storage fills up",
        "--mode",
        "semantic",
        "--tier",
        "quality",
        "--limit",
        "1",
    ]);
    let id = res["hits"][0]["message_id"].as_i64().unwrap();
    let content: String = sb.db().query_row("SELECT content FROM messages WHERE id = ?1", [id], |r| r.get(0)).unwrap();
    assert_eq!(content, text);
    eprintln!("under --watch: lexical after {lexical_at:?}, quality tier after {quality_at:?}");
}
