//! The default semantic path with no model installed: the fast tier's
//! static embedder finds paraphrases the hash embedder cannot, random
//! letters find nothing in any mode, and queries with no word to embed
//! never fail.

mod common;

use cass::embed::Embedder;
use cass::embed::hash::HashEmbedder;
use cass::embed::static_model::StaticEmbedder;
use common::*;

/// (query, target): no content word of the query is in its target.
const PAIRS: &[(&str, &str)] = &[
    (
        "notebook power cell depletes fast during standby",
        "My laptop battery drains very quickly overnight even when it is asleep.",
    ),
    ("put a box in the middle of the page", "How do I center a div horizontally and vertically with CSS flexbox?"),
    (
        "database ignores lookup structure on purchases",
        "The Postgres query planner does a sequential scan and never uses my index on the orders table.",
    ),
    (
        "ownership error when transferring variable in iteration",
        "The borrow checker complains that I move a value inside a for loop.",
    ),
    (
        "attempt again after failures waiting longer each time",
        "Add retries with exponential backoff to the HTTP client.",
    ),
    (
        "container too heavy, make it smaller",
        "Our Docker build produces a 2 GB image; use a multi-stage build to reduce the size.",
    ),
    (
        "website sluggish on phones",
        "The landing page loads slowly on mobile devices because of huge unoptimized images.",
    ),
    ("forgot credentials, cannot sign in", "Implement a password reset flow that emails the user a one-time link."),
    (
        "unit checks randomly break sometimes",
        "The test suite is flaky: a few tests pass locally but fail intermittently in CI.",
    ),
    ("memory keeps growing until process dies", "The worker leaks RAM and gets OOM-killed after a few hours."),
    (
        "translate interface into several languages",
        "Add i18n support so the UI can be localized to French, German and Japanese.",
    ),
    ("schedule job every night at midnight", "Set up a cron entry that runs the backup script daily at 00:00."),
    ("undo last change in version control", "How do I revert the most recent git commit without losing my work?"),
    (
        "secure traffic between browser and machine",
        "Configure TLS certificates with Let's Encrypt so the site serves HTTPS.",
    ),
    ("tabular file parsing with commas", "Read the CSV export and load each row into a struct."),
    (
        "speed up slow lookups by remembering answers",
        "Cache the expensive API responses in Redis with a TTL of five minutes.",
    ),
];

const DISTRACTORS: &[&str] = &[
    "Refactor the authentication middleware to use async functions.",
    "Rename the config module and update every import.",
    "The build fails with an unresolved import of serde_json.",
    "Write a README section about installing from source.",
    "Bump the tokio dependency to the latest minor version.",
    "Generate TypeScript types from the OpenAPI schema.",
    "The linter complains about unused variables in utils.py.",
    "Split the monolithic main.rs into smaller modules.",
    "Add a dark theme toggle to the settings screen.",
    "Migrate the tests from unittest to pytest fixtures.",
    "Explain what this regular expression matches.",
    "Draw a sequence diagram of the checkout process.",
    "Format the JSON output with two spaces of indentation.",
    "Upgrade the React router and fix the broken links.",
    "The websocket connection drops behind the corporate proxy.",
    "Count the words in every markdown file of the docs folder.",
    "Sort the leaderboard by score, then by name.",
    "Publish the crate to crates.io with a new version tag.",
    "Plot the latency histogram with matplotlib.",
    "Add pagination to the admin users endpoint.",
    "The Kubernetes pod is stuck in CrashLoopBackOff.",
    "Write a shell script that renames photos by their EXIF date.",
    "Validate email addresses in the signup form.",
    "Convert the callbacks into promises.",
    "Show a spinner while the report is generated.",
    "Compare two branches and list the changed files.",
    "Parse command-line flags with clap derive.",
    "Our GraphQL resolver returns null for nested fields.",
    "Lint the Terraform files before applying them.",
    "Measure code coverage for the Go packages.",
];

/// Random-letter queries: no word of any language, no shared token.
const NONSENSE: &[&str] = &["zzznotfound", "xyzzy plugh", "qwxv jkzpt", "fhqwhgads", "vrrbltq mxyzptlk", "zqxjkv"];

fn words(s: &str) -> Vec<String> {
    s.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 2).map(String::from).collect()
}

fn embed(e: &dyn Embedder, texts: &[&str]) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    e.embed(texts, &mut out).unwrap();
    out.chunks(e.dims()).map(<[f32]>::to_vec).collect()
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn documents() -> Vec<&'static str> {
    PAIRS.iter().map(|p| p.1).chain(DISTRACTORS.iter().copied()).collect()
}

/// Targets in the top 3 by cosine alone, and the mean reciprocal rank.
fn rank_targets(e: &dyn Embedder) -> (usize, f64) {
    let docs = embed(e, &documents());
    let mut top3 = 0;
    let mut mrr = 0.0;
    for (i, (q, _)) in PAIRS.iter().enumerate() {
        let qv = &embed(e, &[q])[0];
        let target = cos(qv, &docs[i]);
        let rank = 1 + docs.iter().enumerate().filter(|(j, d)| *j != i && cos(qv, d) > target).count();
        top3 += usize::from(rank <= 3);
        mrr += 1.0 / rank as f64;
    }
    (top3, mrr / PAIRS.len() as f64)
}

#[test]
fn the_queries_share_no_content_word_with_their_targets() {
    let mut shared = Vec::new();
    for (q, t) in PAIRS {
        let tw = words(t);
        shared.extend(words(q).into_iter().filter(|w| tw.contains(w)).map(|w| format!("{w:?} in {q:?} and {t:?}")));
    }
    assert!(shared.is_empty(), "{shared:#?}");
}

#[test]
fn the_static_embedder_finds_paraphrases_the_hash_embedder_does_not() {
    let fast = StaticEmbedder::embedded().unwrap();
    let (s3, smrr) = rank_targets(&fast);
    let (h3, hmrr) = rank_targets(&HashEmbedder);
    println!("top-3 of {}: static {s3} (MRR {smrr:.2}), hash {h3} (MRR {hmrr:.2})", PAIRS.len());
    assert!(s3 * 3 > PAIRS.len() * 2, "static embedder: only {s3} of {} targets in the top 3", PAIRS.len());
    assert!(h3 + 4 <= s3, "hash {h3} is not measurably below static {s3}");
}

/// Checks one embedder's floor: every nonsense query's best score is below
/// it, and it keeps at least three quarters of the paraphrase targets.
fn check_floor(name: &str, e: &dyn Embedder) {
    let docs = embed(e, &documents());
    let floor = e.similarity_floor();
    let nonsense_max = NONSENSE
        .iter()
        .map(|q| {
            let qv = &embed(e, &[q])[0];
            let best = if e.knows_a_word(q) { docs.iter().map(|d| cos(qv, d)).fold(f32::MIN, f32::max) } else { 0.0 };
            println!("{name} {q:?}: best {best:.3}");
            best
        })
        .fold(f32::MIN, f32::max);
    let mut targets: Vec<f32> = PAIRS.iter().enumerate().map(|(i, (q, _))| cos(&embed(e, &[q])[0], &docs[i])).collect();
    targets.sort_by(f32::total_cmp);
    println!("{name} floor {floor}: nonsense max {nonsense_max:.3}; paraphrase targets {targets:.3?}");
    assert!(nonsense_max < floor, "{name}: a nonsense query scores {nonsense_max} >= floor {floor}");
    let kept = targets.iter().filter(|t| **t >= floor).count();
    assert!(kept * 4 >= PAIRS.len() * 3, "{name}: the floor drops {} of {} targets", PAIRS.len() - kept, PAIRS.len());
}

#[test]
fn the_floor_separates_nonsense_from_paraphrases() {
    check_floor("static", &StaticEmbedder::embedded().unwrap());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/models/all-MiniLM-L6-v2");
    if dir.join("model.safetensors").exists() {
        check_floor("minilm", &cass::embed::minilm::MiniLm::load(&dir, "test", Some(2)).unwrap());
    } else {
        eprintln!("skipping the quality model: ../shared/models is not present");
    }
}

fn corpus(sb: &Sandbox) {
    let dir = sb.home().join(".claude/projects/-home-dev-app");
    std::fs::create_dir_all(&dir).unwrap();
    for (n, chunk) in documents().chunks(4).enumerate() {
        let text: String = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let ts = format!("2026-05-{:02}T10:{:02}:00Z", n + 1, i);
                claude_line(&format!("s{n}"), "user", m, &ts, "/home/dev/app")
            })
            .collect();
        std::fs::write(dir.join(format!("s{n}.jsonl")), text).unwrap();
    }
    sb.json(&["index"]);
}

fn content(sb: &Sandbox, id: i64) -> String {
    sb.db().query_row("SELECT content FROM messages WHERE id = ?1", [id], |r| r.get(0)).unwrap()
}

#[test]
fn default_hybrid_search_finds_paraphrases_with_no_model_installed() {
    let sb = Sandbox::new();
    corpus(&sb);
    let mut found = 0;
    for (q, target) in PAIRS {
        let out = sb.run(&["search", q, "--limit", "3", "--json"]);
        let res: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!((res["mode"].as_str(), res["tier"].as_str()), (Some("hybrid"), Some("fast")), "{res}");
        let hits = res["hits"].as_array().unwrap();
        found += usize::from(hits.iter().any(|h| content(&sb, h["message_id"].as_i64().unwrap()) == *target));
    }
    println!("default hybrid: {found} of {} targets in the top 3", PAIRS.len());
    assert!(found * 3 > PAIRS.len() * 2, "only {found} of {} targets in the top 3", PAIRS.len());
}

#[test]
fn random_letters_find_nothing_in_any_mode() {
    let sb = Sandbox::new();
    corpus(&sb);
    for q in NONSENSE {
        for mode in ["lexical", "semantic", "hybrid"] {
            let out = sb.run(&["search", q, "--mode", mode, "--json"]);
            let res: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(res["hits"].as_array().map(Vec::len), Some(0), "{q:?} in {mode}: {res}");
            assert_eq!(out.status.code(), Some(1), "{q:?} in {mode}");
        }
    }
}

#[test]
fn random_letters_find_nothing_with_the_quality_tier() {
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/models/all-MiniLM-L6-v2");
    if !model.join("model.safetensors").exists() {
        eprintln!("skipping: ../shared/models is not present");
        return;
    }
    let sb = Sandbox::new();
    corpus(&sb);
    sb.json(&["models", "install", "--from", model.to_str().unwrap()]);
    sb.json(&["semantic", "backfill", "--tier", "quality"]);
    for q in NONSENSE {
        for args in [&["--mode", "semantic"][..], &["--mode", "hybrid"], &[]] {
            let mut argv = vec!["search", q, "--json"];
            argv.extend_from_slice(args);
            let out = sb.run(&argv);
            let res: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(res["tier"], "quality", "{q:?} {args:?}: {res}");
            assert_eq!(res["hits"].as_array().map(Vec::len), Some(0), "{q:?} {args:?}: {res}");
            assert_eq!(out.status.code(), Some(1), "{q:?} {args:?}");
        }
    }
}

#[test]
fn queries_with_no_word_to_embed_never_fail() {
    let sb = Sandbox::new();
    corpus(&sb);
    for q in ["C++", "C#", "a", "???"] {
        let out = sb.run(&["search", q, "--json"]);
        let code = out.status.code();
        assert!(matches!(code, Some(0 | 1)), "{q:?} exited {code:?}: {}", String::from_utf8_lossy(&out.stderr));
        let res: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(res["mode"], "lexical", "{q:?}: {res}");
        assert!(res["fallback"].as_str().unwrap().contains("no word"), "{q:?}: {res}");
        let sem = sb.run(&["search", q, "--mode", "semantic", "--json"]);
        assert_eq!(sem.status.code(), Some(1), "{q:?} in semantic mode");
    }
}

#[test]
fn human_output_names_the_mode_and_tier_that_ran() {
    let sb = Sandbox::new();
    corpus(&sb);
    let out = sb.run(&["search", "postgres index"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(hybrid, fast tier)"), "{text}");
    let out = sb.run(&["search", "C++"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(lexical)") && text.contains("no word"), "{text}");
}
