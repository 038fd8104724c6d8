//! `cass index --watch`, `cass health` and `cass status` against a real
//! store, index and tier built by the real binary.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Sandbox, claude_line};

const CWD: &str = "/home/dev/app";

fn session(sb: &Sandbox, name: &str) -> std::path::PathBuf {
    sb.home().join(".claude/projects/-home-dev-app").join(format!("{name}.jsonl"))
}

fn write_session(path: &Path, lines: &[(&str, &str)]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let id = path.file_stem().unwrap().to_string_lossy().into_owned();
    let text: String = lines
        .iter()
        .enumerate()
        .map(|(i, (role, t))| claude_line(&id, role, t, &format!("2026-01-10T10:{i:02}:00Z"), CWD))
        .collect();
    std::fs::write(path, text).unwrap();
}

fn append(path: &Path, role: &str, text: &str) {
    let id = path.file_stem().unwrap().to_string_lossy().into_owned();
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(claude_line(&id, role, text, "2026-01-10T11:00:00Z", CWD).as_bytes()).unwrap();
}

fn lexical_hits(sb: &Sandbox, word: &str) -> usize {
    let out = sb.run(&["search", word, "--mode", "lexical", "--json"]);
    match out.status.code() {
        Some(1) => 0,
        Some(0) => serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["hits"].as_array().unwrap().len(),
        other => panic!("search failed ({other:?}): {}", String::from_utf8_lossy(&out.stderr)),
    }
}

/// Polls until `word` is found (lexically) or `limit` passes; returns how long it took.
fn wait_for(sb: &Sandbox, word: &str, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if lexical_hits(sb, word) > 0 {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

struct Watcher(Child);

impl Watcher {
    fn start(sb: &Sandbox) -> Watcher {
        let child = sb
            .cass()
            .args(["index", "--watch", "--json", "--debounce-ms", "100"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Watcher(child)
    }

    /// Blocks until the catch-up cycle printed its line, so later appends
    /// are changes the watcher must notice (not part of its first pass).
    fn wait_ready(&mut self) {
        use std::io::BufRead;
        let out = self.0.stdout.as_mut().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(out).read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["event"], "cycle", "{line}");
    }

    fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        let start = Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "the watcher ignored SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_appended_line_is_searchable_within_two_seconds() {
    let sb = Sandbox::new();
    let f = session(&sb, "w1");
    write_session(&f, &[("user", "the cache layer is flaky"), ("assistant", "let us pin the toolchain")]);
    let mut w = Watcher::start(&sb);
    w.wait_ready();
    assert_eq!(lexical_hits(&sb, "toolchain"), 1, "the catch-up cycle indexed the session");

    for (round, word) in ["quokkafrost", "narwhalbeam", "ibexlantern"].iter().enumerate() {
        append(&f, "user", &format!("round {round}: {word} appears now"));
        let took = wait_for(&sb, word, Duration::from_secs(2));
        assert!(took.is_some(), "round {round}: '{word}' not searchable within 2 s of the append");
    }
    // The fast tier follows the store.
    let start = Instant::now();
    loop {
        let st = sb.json(&["status"]);
        let fast = st["tiers"].as_array().unwrap().iter().find(|t| t["tier"] == "fast").unwrap().clone();
        if fast["published_rows"] == 5 && fast["pending_rows"] == 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "fast tier did not follow: {fast}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // While it runs, status names the watcher as the writer.
    let st = sb.json(&["status"]);
    assert_eq!(st["writer"]["command"], "index --watch", "{st}");
    assert_eq!(st["writer"]["pid"], w.0.id());
    // A second writer is refused at once with the lock-busy code.
    assert_eq!(sb.run(&["index"]).status.code(), Some(4));
    // Ctrl-C ends the watch with 130, and the lock is released.
    assert_eq!(w.interrupt().code(), Some(130));
    assert!(sb.json(&["status"])["writer"].is_null());
}

#[test]
fn a_root_deleted_and_recreated_is_watched_again() {
    let sb = Sandbox::new();
    let root = sb.home().join(".claude");
    // No agent directory at all when watching starts.
    let mut w = Watcher::start(&sb);
    w.wait_ready();
    let f = session(&sb, "w2");
    write_session(&f, &[("user", "first appearance of wombatspire")]);
    assert!(wait_for(&sb, "wombatspire", Duration::from_secs(5)).is_some(), "a root that appeared later");

    std::fs::remove_dir_all(&root).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let w3 = session(&sb, "w3");
    write_session(&w3, &[("user", "second life of platypusdawn")]);
    assert!(wait_for(&sb, "platypusdawn", Duration::from_secs(5)).is_some(), "a root that was recreated");
    // The recreated directories are watched themselves (new inodes), not
    // only found by a cycle that something else started.
    append(&w3, "assistant", "and then came marmotquill");
    assert!(wait_for(&sb, "marmotquill", Duration::from_secs(5)).is_some(), "an append in the recreated root");
    // History survives the deletion of the agent's files.
    assert_eq!(lexical_hits(&sb, "wombatspire"), 1);
}

#[test]
fn health_is_ok_when_everything_agrees_and_names_a_lagging_lexical_index() {
    let sb = Sandbox::new();
    let f = session(&sb, "h1");
    write_session(&f, &[("user", "health check one"), ("assistant", "all good")]);
    // Before any index: no store at all.
    assert_eq!(sb.run(&["health"]).status.code(), Some(3));
    sb.json(&["index"]);
    let h = sb.json(&["health"]);
    assert_eq!((h["healthy"].as_bool(), h["problems"].as_array().unwrap().len()), (Some(true), 0), "{h}");

    // The store moves ahead and the process dies before the lexical commit.
    append(&f, "user", "a message the lexical index has not seen");
    let crashed = sb.cass().env("CASS_TEST_CRASH_AT", "index.after_store_commit").arg("index").output().unwrap();
    assert!(!crashed.status.success());
    let out = sb.run(&["health", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = h["problems"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"lexical_behind"), "{h}");
    assert!(kinds.contains(&"tier_behind"), "the fast tier is behind too: {h}");
    assert_eq!(h["status"]["lexical"]["lag"], 1, "{h}");
    let human = String::from_utf8_lossy(&sb.run(&["health"]).stdout).into_owned();
    assert!(human.contains("lexical_behind") && human.contains("1 behind"), "{human}");

    // The next index heals it.
    sb.json(&["index"]);
    assert_eq!(sb.run(&["health"]).status.code(), Some(0));
    // --max-age turns an old last run into a problem.
    std::thread::sleep(Duration::from_millis(1100));
    let out = sb.run(&["health", "--max-age", "1s", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(h["problems"][0]["kind"], "stale", "{h}");
    assert_eq!(sb.run(&["health", "--max-age", "soon"]).status.code(), Some(2));
}

#[test]
fn status_reports_counts_lag_and_tiers_without_a_writer() {
    let sb = Sandbox::new();
    write_session(&session(&sb, "s1"), &[("user", "one"), ("assistant", "two"), ("user", "three")]);
    write_session(&session(&sb, "s2"), &[("user", "four")]);
    sb.json(&["index", "--no-semantic"]);
    let st = sb.json(&["status"]);
    assert_eq!(st["store"]["messages"], 4);
    assert_eq!(st["store"]["conversations"], 2);
    assert_eq!(st["agents"][0]["agent"], "claude_code");
    assert_eq!(st["lexical"]["lag"], 0);
    assert_eq!(st["lexical"]["high_message_id"], 4);
    let fast = &st["tiers"][0];
    assert_eq!(
        (fast["tier"].as_str(), fast["built"].as_bool(), fast["pending_rows"].as_u64()),
        (Some("fast"), Some(false), Some(4))
    );
    assert!(st["writer"].is_null());
    assert!(st["store"]["last_index_at"].as_str().unwrap().starts_with("20"));
    // An unbuilt tier is not a health problem; a built one that lags is.
    assert_eq!(sb.run(&["health"]).status.code(), Some(0));
    let text = String::from_utf8_lossy(&sb.run(&["status"]).stdout).into_owned();
    assert!(text.contains("4 messages") && text.contains("fast tier") && text.contains("not built"), "{text}");
}

#[test]
fn many_small_publishes_do_not_pile_up_tier_segments() {
    let sb = Sandbox::new();
    let f = session(&sb, "m1");
    write_session(&f, &[("user", "opening remarks about the plan")]);
    sb.json(&["index"]);
    for i in 0..12 {
        append(&f, "user", &format!("incremental message number {i}"));
        sb.json(&["index"]);
    }
    let m = cass::vector::manifest::Manifest::load(&sb.data().join("semantic/fast")).unwrap().unwrap();
    assert!(m.segments.len() < 8, "{} segments after 13 small publishes", m.segments.len());
    assert_eq!(m.published_rows(), 13, "every message once");
    let hits = sb.json(&["search", "incremental message number", "--mode", "semantic", "--limit", "50"]);
    assert_eq!(hits["hits"].as_array().unwrap().len(), 12, "{hits}");
}
