//! Status, health and watch benchmark on the generated corpus.
//!
//! `cargo bench --bench health` (1M messages by default, sharing the corpus
//! of `--bench lexical`; `CASS_BENCH_MESSAGES=100000` for a quick run).
//! Reports: `status()` in process and `cass health --json` as a process
//! (p50/p99), the CPU an idle `cass index --watch` uses over
//! `CASS_BENCH_IDLE_SECS` (default 60), and how long an appended line takes
//! to become searchable under the watcher.

#[path = "corpus.rs"]
mod corpus;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn summary(mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    format!("p50 {:.2} ms, p99 {:.2} ms over {} runs", percentile(&ms, 0.5), percentile(&ms, 0.99), ms.len())
}

fn cass(home: &Path, data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cass"));
    c.env("HOME", home).env("CASS_DATA_DIR", data).env("CASS_CONFIG", "/nonexistent");
    for v in ["CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_HOME", "RUST_LOG"] {
        c.env_remove(v);
    }
    c
}

/// User + system CPU seconds a process has used, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc stat");
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ is 100 on Linux
}

fn newest_session(home: &Path) -> PathBuf {
    let mut stack = vec![home.join(".claude/projects")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read corpus").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                return p;
            }
        }
    }
    panic!("no Claude session in the corpus");
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let messages = env_usize("CASS_BENCH_MESSAGES", 1_000_000);
    let (dir, home) = corpus::cached(messages);
    let data = dir.join("data");
    // Bring store, lexical index and fast tier up to date (incremental).
    let t = Instant::now();
    let out = cass(&home, &data).args(["index", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    println!("corpus: {} messages indexed (catch-up run {:.1}s)", report["messages"], t.elapsed().as_secs_f64());

    let datadir = cass::config::DataDir::at(&data);
    let mut lat = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        std::hint::black_box(cass::status::status(&datadir).expect("status"));
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("status() in process: {}", summary(lat));

    let mut lat = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let out = cass(&home, &data).args(["health", "--json"]).output().unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(out.status.code(), Some(0), "unhealthy: {}", String::from_utf8_lossy(&out.stdout));
    }
    println!("`cass health --json` process: {}", summary(lat));

    // The watcher: idle CPU, then append-to-searchable latency.
    let mut child = cass(&home, &data)
        .args(["index", "--watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    lines.next().expect("catch-up cycle").unwrap();
    // Keep draining cycle lines so the watcher never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let pid = child.id();
    std::thread::sleep(Duration::from_secs(1));
    let idle = env_usize("CASS_BENCH_IDLE_SECS", 60) as f64;
    let before = cpu_seconds(pid);
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(idle));
    let used = cpu_seconds(pid) - before;
    let wall = t.elapsed().as_secs_f64();
    println!("idle watcher: {:.2} s CPU over {:.0} s = {:.3} % of one core", used, wall, used / wall * 100.0);

    let session = newest_session(&home);
    let id = session.file_stem().unwrap().to_string_lossy().into_owned();
    let mut lat = Vec::new();
    for i in 0..10 {
        let word = format!("watchprobe{i}x{}", std::process::id());
        let line = format!(
            "{{\"type\":\"user\",\"sessionId\":\"{id}\",\"cwd\":\"/bench\",\"timestamp\":\"2026-11-01T10:00:00Z\",\"message\":{{\"role\":\"user\",\"content\":\"{word}\"}}}}\n"
        );
        let t = Instant::now();
        std::fs::OpenOptions::new().append(true).open(&session).unwrap().write_all(line.as_bytes()).unwrap();
        loop {
            let out = cass(&home, &data).args(["search", &word, "--mode", "lexical", "--json"]).output().unwrap();
            if out.status.code() == Some(0) {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "'{word}' never became searchable");
            std::thread::sleep(Duration::from_millis(10));
        }
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("append → searchable under --watch: {}", summary(lat));
    let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
    let status = child.wait().unwrap();
    println!("watcher exit on SIGINT: {:?}", status.code());
}
