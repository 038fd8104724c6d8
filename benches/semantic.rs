//! Semantic benchmark (fast tier): backfill throughput and peak RSS with the
//! fast tier's embedder (the static potion-base-8M model), vector bytes on
//! disk per message, semantic and hybrid search latency with the search's
//! peak RSS, and the two-pass scan's recall@10 against the exact scan
//! (with both scans' times, in process).
//!
//! `cargo bench --bench semantic` (1M messages; `CASS_BENCH_MESSAGES=100000`
//! for the 100k point, `10000000` for 10M). Reuses the corpus of `cargo
//! bench --bench lexical`. `CASS_BENCH_DEPTHS=200,500` measures recall at
//! other candidate depths; `CASS_BENCH_KEEP_TIER=1` reuses a fast tier the
//! last run built instead of backfilling again.

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
    if std::env::var_os("CASS_BENCH_KEEP_TIER").is_some() && data.join("semantic/fast/manifest.json").exists() {
        search(&data);
        return;
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
        "vectors on disk: {:.1} MiB, {:.0} bytes per embedded message (256 × f16 and a 128-byte code for the static model, + id + filter metadata)",
        seg_bytes as f64 / 1048576.0,
        seg_bytes as f64 / embedded as f64
    );

    search(&data);
}

/// The semantic and hybrid search latencies, the search's peak RSS, then
/// the two-pass scan's recall.
fn search(data: &std::path::Path) {
    let searcher = Searcher::open(&cass::config::DataDir::at(data), None).unwrap();
    let embedded = searcher_rows(data);
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
            "{} search over {embedded} vectors ({} queries × 3, warm, top 10 hydrated): p50 {:.2} ms, p99 {:.2} ms; peak RSS so far {:.0} MiB",
            mode.name(),
            queries.len(),
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            // Mapped pages count: semantic maps the codes (and candidates'
            // rows), hybrid adds the lexical index's.
            peak_rss_mib()
        );
    }
    recall(data, &queries);
}

/// Rows published in the fast tier.
fn searcher_rows(data: &std::path::Path) -> u64 {
    let dir = cass::embed::Tier::Fast.dir(&cass::config::DataDir::at(data));
    cass::vector::manifest::Manifest::load(&dir).unwrap().map_or(0, |m| m.published_rows())
}

/// This process's peak resident set (VmHWM), in MiB: the searcher, its
/// store and the mapped pages it touched (before the exact scans of [`recall`]).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Recall@10 of the two-pass scan (codes, then exact rescoring) against
/// scoring every row exactly, over the distinct English queries and as
/// many queries made of the corpus's own words that the model knows, with
/// no filter and with a role filter; and both scans' times.
fn recall(data: &std::path::Path, english: &[String]) {
    use cass::embed::Tier;
    use cass::vector::{manifest::Manifest, scan, segment::Segment};
    let dd = cass::config::DataDir::at(data);
    let dir = Tier::Fast.dir(&dd);
    let manifest = Manifest::load(&dir).unwrap().expect("a fast tier");
    let segments: Vec<Segment> =
        manifest.segments.iter().map(|s| Segment::open(&dir.join("segments").join(&s.file)).unwrap()).collect();
    let embedder = cass::embed::embedder_for(&dd, Tier::Fast, None).unwrap();
    let mut distinct: Vec<String> = english.to_vec();
    distinct.sort();
    distinct.dedup();
    let n_english = distinct.len();
    distinct.extend(corpus::queries(400, 7).into_iter().filter(|q| embedder.knows_a_word(q)).take(n_english));
    let mut vectors = Vec::new();
    for q in &distinct {
        let mut v = Vec::new();
        embedder.embed(&[q.as_str()], &mut v).unwrap();
        if v.iter().any(|x| *x != 0.0) {
            vectors.push(v);
        }
    }
    let depths: Vec<usize> = std::env::var("CASS_BENCH_DEPTHS")
        .ok()
        .map(|d| d.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![scan::candidates(10)]);
    let filters = [
        ("no filter", cass::filters::Filters::default()),
        ("role user", cass::filters::Filters { roles: vec![cass::model::Role::User], ..Default::default() }),
    ];
    for (name, f) in &filters {
        let mut exact_ms = Vec::new();
        let exact: Vec<Vec<i64>> = vectors
            .iter()
            .map(|v| {
                let t = Instant::now();
                let top = scan::exact_top_k_among(&segments, v, 10, f, None);
                exact_ms.push(t.elapsed().as_secs_f64() * 1e3);
                top.into_iter().map(|s| s.message_id).collect()
            })
            .collect();
        exact_ms.sort_by(|a, b| a.total_cmp(b));
        for &depth in &depths {
            let (mut found, mut wanted, mut worst) = (0usize, 0usize, 1.0f64);
            let mut ms = Vec::new();
            for _rep in 0..3 {
                for v in &vectors {
                    let t = Instant::now();
                    std::hint::black_box(scan::top_k_rescoring(&segments, v, 10, depth, f, None));
                    ms.push(t.elapsed().as_secs_f64() * 1e3);
                }
            }
            for (v, want) in vectors.iter().zip(&exact) {
                let fast = scan::top_k_rescoring(&segments, v, 10, depth, f, None);
                let hit = fast.iter().filter(|s| want.contains(&s.message_id)).count();
                found += hit;
                wanted += want.len();
                if !want.is_empty() {
                    worst = worst.min(hit as f64 / want.len() as f64);
                }
            }
            ms.sort_by(|a, b| a.total_cmp(b));
            println!(
                "recall@10 against the exact scan ({name}, {depth} candidates rescored): {:.4} over {} queries (worst query {:.1}); two-pass scan p50 {:.2} ms, exact scan p50 {:.2} ms",
                found as f64 / wanted.max(1) as f64,
                vectors.len(),
                worst,
                pct(&ms, 0.5),
                pct(&exact_ms, 0.5)
            );
        }
    }
}
