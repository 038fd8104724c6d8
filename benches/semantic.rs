//! Semantic benchmark (fast tier): backfill throughput and peak RSS with the
//! fast tier's embedder (the static potion-base-8M model), vector bytes on
//! disk per message, and exact top-K search latency.
//!
//! `cargo bench --bench semantic` (1M messages; `CASS_BENCH_MESSAGES=100000`
//! for the 100k point). Reuses the corpus of `cargo bench --bench lexical`.

#[path = "corpus.rs"]
mod corpus;

use std::process::Command;
use std::time::Instant;

use cass::search::{Mode, SearchRequest, Searcher};

const ENGLISH: &[&str] = &[
    "database connection times out",
    "fix the failing unit test",
    "memory leak in the parser",
    "how to retry a network request",
    "compile error about lifetimes",
    "slow query on the orders table",
    "deploy the service to production",
    "the build cache is stale",
    "parse a date string",
    "authentication token expired",
    "refactor the error handling",
    "race condition between threads",
    "upgrade the dependency version",
    "read a large file line by line",
    "the docker container keeps restarting",
    "sort results by score",
    "permission denied when writing",
    "add logging to the request handler",
    "flaky integration test on CI",
    "serialize the struct to json",
];

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let messages = env_usize("CASS_BENCH_MESSAGES", 1_000_000);
    let (dir, home) = corpus::cached(messages);
    let data = dir.join("data");
    let cass = env!("CARGO_BIN_EXE_cass");
    if !data.join("cass.db").exists() {
        let st = Command::new(cass)
            .args(["index", "--no-semantic", "-q"])
            .env("HOME", &home)
            .env("CASS_DATA_DIR", &data)
            .status()
            .unwrap();
        assert!(st.success());
    }
    let _ = std::fs::remove_dir_all(data.join("semantic"));
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-v", cass, "semantic", "backfill", "--tier", "fast", "--json"])
        .env("HOME", &home)
        .env("CASS_DATA_DIR", &data)
        .env_remove("CASS_SEMANTIC_PROGRESS_JSONL")
        .output()
        .unwrap();
    let wall = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rss_mib = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes): "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = r["rows_processed"].as_u64().unwrap();
    let embedded = r["published_rows"].as_u64().unwrap();
    println!(
        "fast backfill: {rows} messages ({embedded} embedded) in {wall:.2} s = {:.0} rows/s, peak RSS {rss_mib:.0} MiB",
        rows as f64 / wall
    );
    let seg_bytes: u64 = std::fs::read_dir(data.join("semantic/fast/segments"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!(
        "vectors on disk: {:.1} MiB, {:.0} bytes per embedded message (256 × f16 for the static model, + id + filter metadata)",
        seg_bytes as f64 / 1048576.0,
        seg_bytes as f64 / embedded as f64
    );

    let searcher = Searcher::open(&cass::config::DataDir::at(&data), None).unwrap();
    // The corpus's prose is made of invented words, which the static model
    // does not know (such a query finds nothing by meaning at once): search
    // by meaning with English a user would type, cycled to the count.
    let queries: Vec<String> =
        ENGLISH.iter().cycle().take(env_usize("CASS_BENCH_QUERIES", 200)).map(|q| q.to_string()).collect();
    let run = |mode: Mode| -> Vec<f64> {
        let mut lat = Vec::new();
        for rep in 0..4 {
            for q in &queries {
                let mut req = SearchRequest::new(q, Default::default(), 10, 0).unwrap();
                req.mode = Some(mode);
                let t = Instant::now();
                let res = searcher.search(&req).unwrap();
                if rep > 0 {
                    lat.push(t.elapsed().as_secs_f64() * 1e3); // first pass warms the page cache
                }
                std::hint::black_box(res);
            }
        }
        lat.sort_by(|a, b| a.total_cmp(b));
        lat
    };
    for mode in [Mode::Semantic, Mode::Hybrid] {
        let lat = run(mode);
        println!(
            "{} search over {embedded} vectors ({} queries × 3, warm, top 10 hydrated): p50 {:.2} ms, p99 {:.2} ms",
            mode.name(),
            queries.len(),
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        );
    }
}
