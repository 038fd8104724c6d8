//! Lexical benchmark: index throughput, peak RSS and warm search latency on a
//! generated corpus, with `rg` on the same files and queries for comparison.
//!
//! `cargo bench --bench lexical` (1M messages by default;
//! `CASS_BENCH_MESSAGES=100000` for a quick run, `CASS_BENCH_DIR` for where
//! the corpus lives, `CASS_BENCH_RG_QUERIES` to bound the rg side,
//! `CASS_BENCH_REDACT_PAIRS` for the redaction-cost runs, 0 to skip them;
//! `CASS_BENCH_BASELINE=/path/to/cass` to compare index time with another
//! build, `CASS_BENCH_ANALYSIS_PAIRS` pairs of runs;
//! `CASS_BENCH_SEARCH_ONLY=1` to time searches on the index an earlier run
//! left, without indexing again: at 10M messages indexing takes minutes;
//! `CASS_BENCH_WILDCARDS=0` to skip the wildcard queries).

#[path = "corpus.rs"]
mod corpus;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Runs a command under `/usr/bin/time -v`; returns (wall seconds, peak RSS
/// MiB, user + system CPU seconds, stdout).
fn timed(cmd: &mut Command) -> (f64, f64, f64, String) {
    let started = Instant::now();
    let out = cmd.output().expect("run command");
    let wall = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "command failed: {stderr}");
    let rss_kb: f64 = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes): "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN);
    let cpu: f64 = ["User time (seconds): ", "System time (seconds): "]
        .iter()
        .map(|k| stderr.lines().find_map(|l| l.trim().strip_prefix(k)).and_then(|v| v.trim().parse::<f64>().ok()))
        .map(|v| v.unwrap_or(f64::NAN))
        .sum();
    (wall, rss_kb / 1024.0, cpu, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What tantivy alone costs on the same text, as a floor under `cass index`:
/// every message's content, read back from the store into memory first,
/// indexed into a throwaway index with tantivy's stock tokenizer, one field,
/// no frequencies and no positions (less than cass needs: it also indexes
/// titles, identifier parts and positions for phrases), two indexing
/// threads, one commit. Reported against the raw JSONL size, like `cass
/// index`: if this floor is below a throughput target, no amount of work on
/// the rest of the pipeline reaches it.
fn tantivy_floor(db: &std::path::Path, raw: u64) {
    use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
    let conn = rusqlite::Connection::open(db).expect("open store");
    let texts: Vec<String> = conn
        .prepare("SELECT content FROM messages ORDER BY id")
        .and_then(|mut st| st.query_map([], |r| r.get::<_, String>(0))?.collect())
        .expect("read contents");
    let content_bytes: usize = texts.iter().map(String::len).sum();
    let mut b = Schema::builder();
    let opts = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer("default").set_index_option(IndexRecordOption::Basic),
    );
    let field = b.add_text_field("content", opts);
    let dir = tempfile::tempdir().expect("temp dir");
    let index = tantivy::Index::create_in_dir(dir.path(), b.build()).expect("create index");
    let cpu0 = process_cpu_seconds();
    let started = Instant::now();
    let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(2, 512 << 20).expect("writer");
    writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
    for t in texts {
        writer.add_document(tantivy::doc!(field => t)).expect("add");
    }
    writer.commit().expect("commit");
    let secs = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu0;
    println!(
        "tantivy floor (stock tokenizer, content only, no positions, 2 threads): {secs:.2} s wall, {cpu:.1} s CPU = {:.1} MB/s of raw JSONL ({:.1} MB/s of message text, {:.1} MiB)",
        raw as f64 / 1e6 / secs,
        content_bytes as f64 / 1e6 / secs,
        content_bytes as f64 / 1048576.0
    );
}

/// What redaction costs an index run: `cass index --full --no-semantic`
/// with redaction (the default) and with `--no-redact`, each from an empty
/// data dir, in `pairs` alternating pairs (the order flips every pair, so
/// drift on a shared machine falls on both sides); medians and their ratio.
fn redaction_cost(cass: &str, home: &Path, dir: &Path, raw: u64, pairs: usize) {
    if pairs == 0 {
        return;
    }
    let run = |redact: bool| {
        let data = dir.join("data-redact");
        let _ = std::fs::remove_dir_all(&data);
        let mut cmd = Command::new("/usr/bin/time");
        cmd.arg("-v").arg(cass).args(["index", "--full", "--json", "--no-semantic"]);
        if !redact {
            cmd.arg("--no-redact");
        }
        let (wall, rss, _, stdout) =
            timed(cmd.env("HOME", home).env("CASS_DATA_DIR", &data).env("CASS_CONFIG", "/dev/null"));
        let report: serde_json::Value = serde_json::from_str(&stdout).expect("index report");
        let _ = std::fs::remove_dir_all(&data);
        (wall, rss, report["privacy"]["secrets_redacted"].as_u64().unwrap_or(0))
    };
    let (mut on, mut off) = (Vec::new(), Vec::new());
    let mut secrets = 0;
    for i in 0..pairs {
        for redact in if i % 2 == 0 { [false, true] } else { [true, false] } {
            let (wall, rss, found) = run(redact);
            println!(
                "  {} run {}: {wall:.2} s, peak RSS {rss:.0} MiB",
                if redact { "redact" } else { "no-redact" },
                i + 1
            );
            if redact {
                on.push(wall);
                secrets = found;
            } else {
                off.push(wall);
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (on, off) = (median(&mut on), median(&mut off));
    println!(
        "redaction cost ({pairs} alternating pairs, medians): index --full {on:.2} s = {:.1} MB/s with redaction ({secrets} secrets found), {off:.2} s = {:.1} MB/s with --no-redact; {:+.1} %",
        raw as f64 / 1e6 / on,
        raw as f64 / 1e6 / off,
        (on / off - 1.0) * 100.0
    );
}

/// Index cost of this build's text analysis against another build of cass
/// (`CASS_BENCH_BASELINE=/path/to/cass`, e.g. one built before folding and
/// stemming): `pairs` alternating pairs of `index --full --no-semantic`.
fn analysis_cost(cass: &str, baseline: &str, home: &Path, dir: &Path, raw: u64, pairs: usize) {
    let run = |bin: &str| -> (f64, f64, f64) {
        let data = dir.join("data-analysis");
        let _ = std::fs::remove_dir_all(&data);
        let mut cmd = Command::new("/usr/bin/time");
        cmd.arg("-v").arg(bin).args(["index", "--full", "--json", "--no-semantic"]);
        let (wall, rss, _, _) =
            timed(cmd.env("HOME", home).env("CASS_DATA_DIR", &data).env("CASS_CONFIG", "/dev/null"));
        let lexical = corpus::tree_bytes(&data.join("lexical")) as f64 / 1048576.0;
        let _ = std::fs::remove_dir_all(&data);
        (wall, rss, lexical)
    };
    let (mut new, mut old) = (Vec::new(), Vec::new());
    let (mut new_mib, mut old_mib) = (0.0, 0.0);
    for i in 0..pairs {
        for this in if i % 2 == 0 { [false, true] } else { [true, false] } {
            let (wall, rss, mib) = run(if this { cass } else { baseline });
            println!(
                "  {} run {}: {wall:.2} s, peak RSS {rss:.0} MiB, lexical index {mib:.0} MiB",
                if this { "this build" } else { "baseline" },
                i + 1
            );
            if this {
                new.push(wall);
                new_mib = mib;
            } else {
                old.push(wall);
                old_mib = mib;
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (new, old) = (median(&mut new), median(&mut old));
    println!(
        "text analysis cost ({pairs} alternating pairs, medians): index --full {new:.2} s = {:.1} MB/s this build, {old:.2} s = {:.1} MB/s baseline; {:+.1} % time; lexical index {new_mib:.0} vs {old_mib:.0} MiB",
        raw as f64 / 1e6 / new,
        raw as f64 / 1e6 / old,
        (new / old - 1.0) * 100.0
    );
}

/// Wildcard queries built from the query words: `*end` (last four
/// letters) and `*middle*` (three letters from the middle).
fn wildcard_queries(queries: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for q in queries {
        let w = q.split_whitespace().next().unwrap_or(q);
        if w.len() < 6 || !w.is_ascii() {
            continue;
        }
        out.push(format!("*{}", &w[w.len() - 4..]));
        let mid = w.len() / 2 - 1;
        out.push(format!("*{}*", &w[mid..mid + 3]));
    }
    out
}

/// User + system CPU time of this process so far, from /proc/self/stat.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line, in clock ticks (100 per second).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|v| v.parse().unwrap_or(0.0)).collect();
    if f.len() < 13 { f64::NAN } else { (f[11] + f[12]) / 100.0 }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists targets: nothing to list here
    }
    let messages = env_usize("CASS_BENCH_MESSAGES", 1_000_000);
    let seed = 42;
    let (dir, home) = corpus::cached(messages);
    let raw = corpus::tree_bytes(&home);
    let data = dir.join("data");
    let cass = env!("CARGO_BIN_EXE_cass");
    let search_only = std::env::var("CASS_BENCH_SEARCH_ONLY").is_ok_and(|v| v == "1");
    if !(search_only && data.join("lexical").join("meta.json").exists()) {
        index_and_compare(cass, &home, &dir, &data, raw);
    }
    search(&data, &home, seed);
}

/// Indexes the corpus from scratch and prints its cost, then the
/// comparisons the environment asks for (redaction, a baseline build, the
/// tantivy floor).
fn index_and_compare(cass: &str, home: &Path, dir: &Path, data: &Path, raw: u64) {
    let _ = std::fs::remove_dir_all(data);

    let (wall, rss, cpu, stdout) = timed(
        Command::new("/usr/bin/time")
            .arg("-v")
            .arg(cass)
            .args(["index", "--full", "--json", "--no-semantic"])
            .env("HOME", home)
            .env("CASS_DATA_DIR", data)
            .env_remove("CLAUDE_CONFIG_DIR")
            .env_remove("CODEX_HOME"),
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("index report");
    let indexed = report["messages"].as_u64().unwrap_or(0);
    println!(
        "corpus: {} files, {:.1} MiB raw JSONL, {} messages indexed",
        report["files_scanned"],
        raw as f64 / 1048576.0,
        indexed
    );
    println!(
        "index --full: {:.2} s wall, {:.1} MB/s raw JSONL, {:.0} messages/s, peak RSS {:.0} MiB; {:.1} s CPU; ingest {:.2} s of it",
        wall,
        raw as f64 / 1e6 / wall,
        indexed as f64 / wall,
        rss,
        cpu,
        report["ingest_ms"].as_f64().unwrap_or(f64::NAN) / 1e3
    );
    let lexical_bytes = corpus::tree_bytes(&data.join("lexical"));
    let db_bytes = std::fs::metadata(data.join("cass.db")).map(|m| m.len()).unwrap_or(0);
    println!(
        "on disk: store {:.1} MiB, lexical index {:.1} MiB",
        db_bytes as f64 / 1048576.0,
        lexical_bytes as f64 / 1048576.0
    );

    redaction_cost(cass, home, dir, raw, env_usize("CASS_BENCH_REDACT_PAIRS", 3));
    if let Ok(baseline) = std::env::var("CASS_BENCH_BASELINE") {
        analysis_cost(cass, &baseline, home, dir, raw, env_usize("CASS_BENCH_ANALYSIS_PAIRS", 3));
    }

    if std::env::var("CASS_BENCH_FLOOR").map_or(true, |v| v != "0") {
        tantivy_floor(&data.join("cass.db"), raw);
    }
}

/// Warm search latency of word and wildcard queries, then `rg` on the same
/// files for comparison.
fn search(data: &Path, home: &Path, seed: u64) {
    // Warm search latency, in process (what the TUI and a long-lived agent see).
    let queries = corpus::queries(env_usize("CASS_BENCH_QUERIES", 300), seed);
    let searcher = cass::search::Searcher::open(&cass::config::DataDir::at(data), None).expect("open searcher");
    // Lexical mode named: a data dir left by the semantic bench has a fast
    // tier, and the default would then be hybrid.
    let req = |q: &str| {
        let mut r = cass::search::SearchRequest::new(q, Default::default(), 10, 0).expect("query");
        r.mode = Some(cass::search::Mode::Lexical);
        r
    };
    // The first pass is each query's first sight: the searcher has not yet
    // kept the walks of the dictionaries for its words' forms.
    let mut total_hits = 0;
    let mut first = Vec::new();
    for q in &queries {
        let r = req(q);
        let t = Instant::now();
        total_hits += searcher.search(&r).expect("search").total;
        first.push(t.elapsed().as_secs_f64() * 1e3);
    }
    first.sort_by(|a, b| a.total_cmp(b));
    println!(
        "search (first sight, {} queries, fresh searcher): p50 {:.2} ms, p99 {:.2} ms",
        queries.len(),
        percentile(&first, 0.5),
        percentile(&first, 0.99)
    );
    let mut lat = Vec::new();
    for _ in 0..3 {
        for q in &queries {
            let r = req(q);
            let t = Instant::now();
            let res = searcher.search(&r).expect("search");
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(res);
        }
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "search (warm, {} queries × 3, top 10 + total, hydrated with snippets): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; mean hits/query {:.0}",
        queries.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN),
        total_hits as f64 / queries.len() as f64
    );

    // Wildcards scan the term dictionary: reported apart from word queries
    // (`CASS_BENCH_WILDCARDS=0` skips them: at 10M they take minutes).
    let wild = if env_usize("CASS_BENCH_WILDCARDS", 1) == 0 { Vec::new() } else { wildcard_queries(&queries) };
    let mut wlat = Vec::new();
    let mut wild_hits = 0;
    for q in &wild {
        let r = req(q);
        let t = Instant::now();
        let res = searcher.search(&r).expect("search");
        wlat.push(t.elapsed().as_secs_f64() * 1e3);
        wild_hits += res.total;
    }
    wlat.sort_by(|a, b| a.total_cmp(b));
    if !wild.is_empty() {
        println!(
            "wildcard search (*suffix and *infix*, {} queries, warm): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; mean hits/query {:.0}",
            wild.len(),
            percentile(&wlat, 0.5),
            percentile(&wlat, 0.99),
            wlat.last().copied().unwrap_or(f64::NAN),
            wild_hits as f64 / wild.len().max(1) as f64
        );
    }

    // rg over the same files: the first term of each query, case-insensitive,
    // counting matching lines (less work than an AND of all terms).
    let rg_n = env_usize("CASS_BENCH_RG_QUERIES", 200).min(queries.len());
    if Command::new("rg").arg("--version").output().is_ok() && rg_n > 0 {
        let mut rg = Vec::new();
        for q in queries.iter().take(rg_n) {
            let term = q.split_whitespace().next().unwrap_or(q);
            let t = Instant::now();
            let out = Command::new("rg")
                .args(["--hidden", "--no-ignore", "-i", "-F", "-c", "--", term])
                .arg(home)
                .output()
                .expect("rg");
            rg.push(t.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(out);
        }
        rg.sort_by(|a, b| a.total_cmp(b));
        println!(
            "rg (same files, first term of {} queries): p50 {:.1} ms, p99 {:.1} ms; cass p50 is {:.0}× faster",
            rg_n,
            percentile(&rg, 0.5),
            percentile(&rg, 0.99),
            percentile(&rg, 0.5) / percentile(&lat, 0.5)
        );
    } else {
        println!("rg not found: skipping the comparison");
    }
}
