//! Reliability harnesses (issue #9): SIGKILL at random instants, readers
//! racing a writer, hostile files, escape sequences, a full disk. Each runs
//! in a bounded form here; `CASS_CRASH_INSTANTS`, `CASS_CONCURRENCY_SECS`
//! and `CASS_RELIABILITY_SEED` scale or replay them (docs/RELIABILITY.md).

mod common;
#[path = "../benches/corpus.rs"]
mod corpus;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Sandbox, claude_line};

/// The heavy harnesses take turns: run side by side on two cores they
/// would distort each other's timing (the crash harness's kill instants).
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn seed() -> u64 {
    let s = env_u64(
        "CASS_RELIABILITY_SEED",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64,
    );
    eprintln!("reliability seed {s} (replay with CASS_RELIABILITY_SEED={s})");
    s
}

/// A `cass` command on `home` with its data in `data`.
fn cass_at(sb: &Sandbox, data: &Path) -> Command {
    let mut c = sb.cass();
    c.env("CASS_DATA_DIR", data);
    c
}

/// Every message in a store, keyed by where it came from, with its content.
fn messages_by_key(db: &Path) -> BTreeMap<(String, String, i64), (String, String)> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT c.source_path, c.external_id, m.ordinal, m.role, m.content
             FROM messages m JOIN conversations c ON c.id = m.conversation_id",
        )
        .unwrap();
    let mut out = BTreeMap::new();
    let rows = stmt
        .query_map([], |r| Ok(((r.get(0)?, r.get(1)?, r.get(2)?), (r.get(3)?, r.get(4)?))))
        .unwrap()
        .map(Result::unwrap);
    for (k, v) in rows {
        assert!(out.insert(k, v).is_none(), "a message is stored twice");
    }
    out
}

/// Message id → key, for mapping index contents back to messages.
fn key_of_id(db: &Path) -> HashMap<i64, (String, String, i64)> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT m.id, c.source_path, c.external_id, m.ordinal FROM messages m
             JOIN conversations c ON c.id = m.conversation_id",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))).unwrap().map(Result::unwrap).collect()
}

/// The message ids of every live message document in the lexical index,
/// and the conversation of every live title document; each document is
/// one or the other.
fn lexical_docs(data: &Path) -> (Vec<i64>, Vec<i64>) {
    let idx = cass::lexical::LexicalIndex::open(&data.join("lexical")).unwrap();
    let reader = idx.index.reader().unwrap();
    let searcher = reader.searcher();
    let (mut ids, mut titles) = (Vec::new(), Vec::new());
    for seg in searcher.segment_readers() {
        let col = seg.fast_fields().i64("message_id").unwrap();
        let conversations = seg.fast_fields().i64("conversation_id").unwrap();
        for doc in seg.doc_ids_alive() {
            match (col.first(doc), conversations.first(doc)) {
                (Some(id), Some(_)) if id > 0 => ids.push(id),
                // A title document: message id 0 (no message's).
                (Some(0), Some(conversation)) => titles.push(conversation),
                other => panic!("a document is neither a message nor a title: {other:?}"),
            }
        }
    }
    ids.sort_unstable();
    titles.sort_unstable();
    (ids, titles)
}

/// The message ids of every live message document in the lexical index.
fn lexical_ids(data: &Path) -> Vec<i64> {
    lexical_docs(data).0
}

/// The conversations whose title the lexical index must hold once: a
/// title and at least one message.
fn titled_conversations(db: &Path) -> Vec<i64> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT id FROM conversations c WHERE title <> ''
               AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id) ORDER BY id",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

/// The message ids in a tier's published segments (dead rows included).
fn tier_ids(data: &Path, tier: &str) -> Vec<i64> {
    let dir = data.join("semantic").join(tier);
    let Some(m) = cass::vector::manifest::Manifest::load(&dir).unwrap() else { return Vec::new() };
    let mut ids = Vec::new();
    for s in &m.segments {
        let seg = cass::vector::segment::Segment::open(&dir.join("segments").join(&s.file)).unwrap();
        ids.extend((0..seg.count).map(|r| seg.message_id(r)));
    }
    ids.sort_unstable();
    ids
}

/// Store, lexical index and fast tier of `got` hold exactly what a clean
/// index (`want`) of the same files holds, each message once.
fn assert_same_index(got: &Path, want: &Path) {
    let (g, w) = (messages_by_key(&got.join("cass.db")), messages_by_key(&want.join("cass.db")));
    assert_eq!(g.len(), w.len(), "message count");
    for (k, v) in &w {
        assert_eq!(g.get(k), Some(v), "message {k:?} lost or changed");
    }
    let got_keys = key_of_id(&got.join("cass.db"));
    let want_keys = key_of_id(&want.join("cass.db"));
    // Lexical: every live message exactly once, nothing else.
    let lex = lexical_ids(got);
    let mut store_ids: Vec<i64> = got_keys.keys().copied().collect();
    store_ids.sort_unstable();
    assert_eq!(lex, store_ids, "the lexical index holds each stored message exactly once");
    let titles = lexical_docs(got).1;
    assert!(!titles.is_empty(), "the corpus has titled conversations");
    assert_eq!(titles, titled_conversations(&got.join("cass.db")), "each title exactly once");
    // Fast tier: each live message at most once, and the same messages as
    // the clean run embedded (dead rows of replaced messages may remain
    // until compaction; they never match a live id).
    let tier = tier_ids(got, "fast");
    let live: Vec<i64> = tier.iter().copied().filter(|id| got_keys.contains_key(id)).collect();
    let mut dedup = live.clone();
    dedup.dedup();
    assert_eq!(live.len(), dedup.len(), "a live message is in the tier twice");
    let got_set: std::collections::BTreeSet<_> = live.iter().map(|id| got_keys[id].clone()).collect();
    let want_set: std::collections::BTreeSet<_> =
        tier_ids(want, "fast").iter().filter_map(|id| want_keys.get(id).cloned()).collect();
    assert_eq!(got_set.len(), want_set.len(), "fast tier coverage");
    assert!(got_set == want_set, "the fast tier embeds other messages than a clean run");
}

fn claude_sessions(home: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![home.join(".claude/projects")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Appends `n` well-formed lines to a random Claude session.
fn append_some(rng: &mut corpus::Rng, sessions: &[PathBuf], n: usize, tag: &str) {
    use std::io::Write;
    let f = &sessions[rng.below(sessions.len())];
    let id = f.file_stem().unwrap().to_string_lossy().into_owned();
    let mut out = std::fs::OpenOptions::new().append(true).open(f).unwrap();
    for i in 0..n {
        let line = claude_line(&id, "user", &format!("{tag} appended {i}"), "2026-06-01T10:00:00Z", "/home/dev/crash");
        out.write_all(line.as_bytes()).unwrap();
    }
}

#[test]
fn sigkill_at_random_instants_then_rerun_converges_to_a_clean_index() {
    let _turn = heavy();
    let instants = env_u64("CASS_CRASH_INSTANTS", 50) as usize;
    let seed = seed();
    let mut rng = corpus::Rng::new(seed);
    let sb = Sandbox::new();
    let stats = corpus::generate_shaped(&sb.home(), 14_000, seed, (2, 10)).unwrap();
    assert!(stats.files >= 2000, "a few thousand sessions: {}", stats.files);
    let sessions = claude_sessions(&sb.home());

    // How long one whole run (ingest, lexical, fast tier) takes here.
    let calib = sb.dir.path().join("data-calibrate");
    let t = Instant::now();
    assert!(cass_at(&sb, &calib).args(["index", "-q"]).status().unwrap().success());
    let whole = t.elapsed();
    // And a run with little to do (a few appended lines).
    append_some(&mut rng, &sessions, 3, "calibrate");
    let t = Instant::now();
    assert!(cass_at(&sb, &calib).args(["index", "-q"]).status().unwrap().success());
    let small = t.elapsed();
    // And a --full over an indexed store (it reconciles, so it writes
    // little and is quicker than a first run).
    let t = Instant::now();
    assert!(cass_at(&sb, &calib).args(["index", "--full", "-q"]).status().unwrap().success());
    let full_span = t.elapsed();
    std::fs::remove_dir_all(&calib).unwrap();

    let crash = sb.dir.path().join("data-crash");
    let (mut killed, mut finished, mut full_runs) = (0usize, 0usize, 0usize);
    let started = Instant::now();
    while killed < instants {
        assert!(killed + finished < instants * 4, "runs keep finishing before their kill instant");
        if rng.chance(0.4) {
            let n = 1 + rng.below(5);
            append_some(&mut rng, &sessions, n, &format!("round{}", killed + finished));
        }
        // Half the runs re-read everything (reconciled with the store: only
        // what changed is rewritten); the others pick up appends, or a
        // previous crash's leftovers.
        let full = killed == 0 || rng.chance(0.5);
        let mut cmd = cass_at(&sb, &crash);
        cmd.args(["index", "-q"]).stdout(Stdio::null()).stderr(Stdio::null());
        if full {
            cmd.arg("--full");
            full_runs += 1;
        }
        let mut child = cmd.spawn().unwrap();
        // Kill within the run's expected length (the first run is a whole
        // run, a --full one reconciling every file; others have a few
        // appends and whatever a previous kill left to redo).
        let span = if !crash.join("cass.db").exists() {
            whole
        } else if full {
            full_span
        } else {
            small.max(whole / 8)
        };
        std::thread::sleep(span.mul_f64(rng.below(1000) as f64 / 1000.0));
        if kill_unless_done(&mut child) {
            killed += 1;
        } else {
            finished += 1;
        }
    }
    let out = cass_at(&sb, &crash).args(["index", "--json"]).output().unwrap();
    assert!(out.status.success(), "the run after the last kill: {}", String::from_utf8_lossy(&out.stderr));
    let clean = sb.dir.path().join("data-clean");
    assert!(cass_at(&sb, &clean).args(["index", "-q"]).status().unwrap().success());
    assert_same_index(&crash, &clean);
    eprintln!(
        "crash harness: {killed} SIGKILLs, {finished} runs finished first, {full_runs} --full runs, \
         {} sessions, {} messages, whole run {whole:?}, loop {:?}",
        stats.files,
        messages_by_key(&clean.join("cass.db")).len(),
        started.elapsed()
    );
}

/// SIGKILLs `child` unless it already finished; true when it was killed.
fn kill_unless_done(child: &mut std::process::Child) -> bool {
    if child.try_wait().unwrap().is_some() {
        return false;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    true
}

/// Rewrites one line in the middle of a random Claude session (its text
/// changed, the JSON still valid): a re-read must replace that message and
/// keep the others.
fn rewrite_one(rng: &mut corpus::Rng, sessions: &[PathBuf], tag: &str) {
    let f = &sessions[rng.below(sessions.len())];
    let text = std::fs::read_to_string(f).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let k = rng.below(lines.len());
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&lines[k]) else { return };
    if let Some(content) = v.pointer_mut("/message/content")
        && content.is_string()
    {
        *content = serde_json::Value::from(format!("{tag} rewritten: {}", content.as_str().unwrap()));
        lines[k] = v.to_string();
        std::fs::write(f, lines.join("\n") + "\n").unwrap();
    }
}

/// A sandbox with about 20,500 generated messages in Claude sessions (5 to
/// 40 a session), the session files, and a generator seeded apart by `salt`.
fn corpus_20k(salt: u64) -> (Sandbox, Vec<PathBuf>, corpus::Rng) {
    let seed = seed();
    let sb = Sandbox::new();
    corpus::generate_shaped(&sb.home(), 20_500, seed, (5, 40)).unwrap();
    let sessions = claude_sessions(&sb.home());
    (sb, sessions, corpus::Rng::new(seed ^ salt))
}

/// The writer's phase as `cass.lock` says, if one is running.
fn phase(data: &Path) -> Option<String> {
    cass::lock::current_holder(&data.join("cass.lock")).and_then(|h| h.phase)
}

/// True when the lexical index and the fast tier hold each stored message
/// exactly once (what `health` claims when it is green).
fn derived_agree(data: &Path) -> bool {
    let keys = key_of_id(&data.join("cass.db"));
    let mut store: Vec<i64> = keys.keys().copied().collect();
    store.sort_unstable();
    let titled = titled_conversations(&data.join("cass.db"));
    let lexical_ok =
        std::panic::catch_unwind(|| lexical_docs(data)).is_ok_and(|(lex, titles)| lex == store && titles == titled);
    let mut tier: Vec<i64> = tier_ids(data, "fast").into_iter().filter(|id| keys.contains_key(id)).collect();
    let n = tier.len();
    tier.dedup();
    lexical_ok && tier.len() == n && tier == store
}

#[test]
fn a_full_reindex_killed_in_every_phase_converges_after_each_rerun() {
    let _turn = heavy();
    let instants = env_u64("CASS_FULL_CRASH_INSTANTS", 50) as usize;
    let (sb, sessions, mut rng) = corpus_20k(0x5eed);
    let clean = sb.dir.path().join("data-clean");
    let crash = sb.dir.path().join("data-crash");
    assert!(cass_at(&sb, &clean).args(["index", "-q"]).status().unwrap().success());
    assert!(cass_at(&sb, &crash).args(["index", "-q"]).status().unwrap().success());
    let total = messages_by_key(&clean.join("cass.db")).len();
    assert!(total >= 20_000, "a corpus of 20k messages or more: {total}");

    // How long each phase of an undisturbed --full takes here.
    let mut span: HashMap<String, Duration> = HashMap::new();
    let mut child = cass_at(&sb, &clean).args(["index", "--full", "-q"]).spawn().unwrap();
    let (mut last, mut at) = (None::<String>, Instant::now());
    while child.try_wait().unwrap().is_none() {
        let now = phase(&clean);
        if now != last {
            if let Some(p) = last.take() {
                span.insert(p, at.elapsed());
            }
            (last, at) = (now, Instant::now());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if let Some(p) = last {
        span.insert(p, at.elapsed());
    }
    eprintln!("--full phases here: {span:?}");

    // Three in five kills aim at ingest and one at the lexical sync, each
    // at a random instant of its phase (SIGKILL). The fast tier's backfill
    // and the lexical commit take milliseconds here, too short to hit by
    // timing: those runs abort (as abruptly) at one of the named write
    // points of the backfill, the publish, the checkpoint or the commits.
    let targets = ["ingest", "ingest", "ingest", "lexical", "points"];
    let points: Vec<&str> = common::BACKFILL_CRASH_POINTS
        .iter()
        .copied()
        .chain(["lexical.beside_ingest", "lexical.before_commit", "lexical.after_commit", "index.after_store_commit"])
        .collect();
    let mut killed_in: BTreeMap<String, usize> = BTreeMap::new();
    let kills_in = |killed_in: &BTreeMap<String, usize>, prefixes: &[&str]| {
        killed_in.iter().filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p))).map(|(_, n)| n).sum::<usize>()
    };
    let backfill = ["staging", "manifest", "segment", "publish"];
    let (mut killed, mut finished, mut round) = (0usize, 0usize, 0usize);
    let started = Instant::now();
    // A backfill point is not reached when a run has nothing to publish,
    // and the points are drawn at random: rounds go on (up to the cap)
    // until three kills landed in the backfill, rather than leaving that
    // to the draw.
    while killed < instants || kills_in(&killed_in, &backfill) < 3 {
        assert!(round < instants * 4, "runs keep finishing before their kill instant: {killed_in:?}");
        round += 1;
        // Change a few files, so --full has real work: rewritten messages
        // (new ids, dirty conversations, dead tier rows) and appends.
        for _ in 0..1 + rng.below(4) {
            rewrite_one(&mut rng, &sessions, &format!("round{round}"));
        }
        if rng.chance(0.5) {
            let n = 1 + rng.below(3);
            append_some(&mut rng, &sessions, n, &format!("round{round}"));
        }
        assert!(cass_at(&sb, &clean).args(["index", "-q"]).status().unwrap().success());

        let target = targets[round % targets.len()];
        let mut cmd = cass_at(&sb, &crash);
        cmd.args(["index", "--full", "-q"]).stdout(Stdio::null()).stderr(Stdio::null());
        // Every other run builds the lexical index beside ingest (any new
        // message starts the bulk build), so kills land inside it too.
        if round % 2 == 0 {
            cmd.args(["--bulk-rows", "0"]);
        }
        if target == "points" {
            let point = points[rng.below(points.len())];
            let child = cmd.env("CASS_TEST_CRASH_AT", point).status().unwrap();
            if child.success() {
                finished += 1;
            } else {
                killed += 1;
                *killed_in.entry(point.to_string()).or_default() += 1;
            }
            check_and_rerun(&sb, &crash, &clean);
            continue;
        }
        let mut child = cmd.spawn().unwrap();
        while child.try_wait().unwrap().is_none() && phase(&crash).as_deref() != Some(target) {
            std::thread::sleep(Duration::from_micros(500));
        }
        let len = span.get(target).copied().unwrap_or(Duration::from_millis(20));
        std::thread::sleep(len.mul_f64(rng.below(1000) as f64 / 1000.0));
        let at = phase(&crash);
        if kill_unless_done(&mut child) {
            killed += 1;
            *killed_in.entry(at.unwrap_or_else(|| "before the lock".into())).or_default() += 1;
        } else {
            finished += 1;
        }
        check_and_rerun(&sb, &crash, &clean);
    }
    // And the end state equals a fresh index of the same files.
    let fresh = sb.dir.path().join("data-fresh");
    assert!(cass_at(&sb, &fresh).args(["index", "-q"]).status().unwrap().success());
    assert_same_index(&crash, &fresh);
    eprintln!(
        "--full crash harness: {killed} SIGKILLs by phase {killed_in:?}, {finished} runs finished first, \
         {} sessions, {total} messages, loop {:?}",
        sessions.len(),
        started.elapsed()
    );
    let in_ingest = killed_in.get("ingest").copied().unwrap_or(0);
    assert!(in_ingest >= 20, "at least 20 kills inside ingest: {killed_in:?}");
    assert!(kills_in(&killed_in, &["lexical"]) >= 3, "kills in the lexical sync: {killed_in:?}");
    assert!(kills_in(&killed_in, &backfill) >= 3, "kills in the backfill: {killed_in:?}");
}

/// After a kill: `health` may be green only if every index agrees with the
/// store; a rerun of `cass index` ends in the clean index, and green.
fn check_and_rerun(sb: &Sandbox, crash: &Path, clean: &Path) {
    if cass_at(sb, crash).args(["health", "-q"]).status().unwrap().success() {
        assert!(derived_agree(crash), "health is green while the indexes disagree with the store");
    }
    let rerun = cass_at(sb, crash).args(["index", "-q"]).output().unwrap();
    assert!(rerun.status.success(), "the run after a kill: {}", String::from_utf8_lossy(&rerun.stderr));
    assert_same_index(crash, clean);
    assert!(derived_agree(crash));
    assert!(cass_at(sb, crash).args(["health", "-q"]).status().unwrap().success(), "green after the rerun");
}

#[test]
fn every_needle_is_found_by_every_search_while_full_reindexes_run() {
    let _turn = heavy();
    let searches = env_u64("CASS_NEEDLE_SEARCHES", 200) as usize;
    let (sb, sessions, mut rng) = corpus_20k(0x0ddba11);
    // Twenty needles, each a word no generated message holds, in a session
    // of its own choosing.
    let needles: Vec<String> = (0..20).map(|i| format!("zqneedle{i}x{}", rng.below(1_000_000))).collect();
    for needle in &needles {
        use std::io::Write;
        let f = &sessions[rng.below(sessions.len())];
        let id = f.file_stem().unwrap().to_string_lossy().into_owned();
        let line = claude_line(&id, "user", &format!("where is {needle} now"), "2026-06-01T10:00:00Z", "/home/dev/n");
        std::fs::OpenOptions::new().append(true).open(f).unwrap().write_all(line.as_bytes()).unwrap();
    }
    assert!(sb.run(&["index", "-q"]).status.success());
    let total: usize = {
        let db = sb.db();
        db.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get::<_, i64>(0)).unwrap() as usize
    };
    assert!(total >= 20_000, "{total} messages");

    // --full runs back to back while the searches run.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let mut cmd = sb.cass();
        cmd.args(["index", "--full", "-q"]).stdout(Stdio::null()).stderr(Stdio::null());
        std::thread::spawn(move || {
            let mut runs = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                assert!(cmd.status().unwrap().success());
                runs += 1;
            }
            runs
        })
    };
    let mut misses = Vec::new();
    for i in 0..searches {
        let needle = &needles[i % needles.len()];
        let mode = ["lexical", "hybrid"][i % 2];
        let out = sb.run(&["search", needle, "--mode", mode, "--json"]);
        let found = out.status.success()
            && serde_json::from_slice::<serde_json::Value>(&out.stdout).is_ok_and(|v| {
                v["hits"].as_array().is_some_and(|h| {
                    h.iter().any(|h| h["snippet"]["text"].as_str().unwrap_or("").contains(needle.as_str()))
                })
            });
        if !found {
            misses.push(format!(
                "{needle} ({mode}): exit {:?} {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let runs = writer.join().unwrap();
    eprintln!("needles: {searches} searches during {runs} --full runs over {total} messages, {} missed", misses.len());
    assert!(runs >= 2, "the searches overlapped --full runs ({runs})");
    assert!(
        misses.is_empty(),
        "{} of {searches} searches missed their needle: {:?}",
        misses.len(),
        &misses[..misses.len().min(5)]
    );
}

#[test]
fn four_readers_never_fail_while_a_writer_indexes_and_backfills() {
    let _turn = heavy();
    let secs = env_u64("CASS_CONCURRENCY_SECS", 8);
    let seed = seed();
    let sb = Sandbox::new();
    corpus::generate_shaped(&sb.home(), 3000, seed, (5, 30)).unwrap();
    assert!(sb.run(&["index", "-q"]).status.success());
    let sessions = claude_sessions(&sb.home());
    let words = corpus::queries(64, seed);

    // The writer: a watcher that ingests, syncs and backfills on every change.
    let mut writer =
        sb.cass().args(["index", "--watch", "-q"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let runs: Vec<_> = (0..4)
        .map(|r| {
            let cmd = sb.cass();
            let words = words.clone();
            std::thread::spawn(move || {
                let mut cmd = cmd;
                let (mut ok, mut failures) = (0usize, Vec::new());
                let mut i = r;
                while Instant::now() < deadline {
                    let q = &words[i % words.len()];
                    let mode = ["lexical", "hybrid", "semantic"][i % 3];
                    i += 1;
                    let out = cmd_output(&mut cmd, &["search", q, "--mode", mode, "--json", "--limit", "20"]);
                    match out.status.code() {
                        Some(0) | Some(1) => match check_results(&out.stdout) {
                            Ok(()) => ok += 1,
                            Err(e) => failures.push(format!("{q} ({mode}): torn result: {e}")),
                        },
                        code => failures
                            .push(format!("{q} ({mode}): exit {code:?}: {}", String::from_utf8_lossy(&out.stderr))),
                    }
                }
                (ok, failures)
            })
        })
        .collect();
    // Meanwhile, keep the writer busy: appends and brand-new sessions.
    let mut rng = corpus::Rng::new(seed ^ 1);
    let mut busy = 0;
    let mut lock_checks = 0;
    while Instant::now() < deadline {
        append_some(&mut rng, &sessions, 20, &format!("busy{busy}"));
        busy += 1;
        if busy % 10 == 0 {
            let t = Instant::now();
            let second = sb.run(&["index"]);
            assert_eq!(second.status.code(), Some(4), "a second writer gets lock-busy");
            assert!(t.elapsed() < Duration::from_secs(5), "and gets it at once");
            lock_checks += 1;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (mut searches, mut failures) = (0, Vec::new());
    for r in runs {
        let (ok, f) = r.join().unwrap();
        searches += ok;
        failures.extend(f);
    }
    let _ = Command::new("kill").args(["-INT", &writer.id().to_string()]).status();
    assert_eq!(writer.wait().unwrap().code(), Some(130));
    eprintln!(
        "concurrency: {searches} searches ok, {} failed, {busy} append rounds, {lock_checks} lock checks",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} searches failed, e.g. {:?}",
        failures.len(),
        searches + failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert!(searches >= 20, "only {searches} searches ran");
    assert!(lock_checks >= 1);
}

fn cmd_output(cmd: &mut Command, args: &[&str]) -> std::process::Output {
    let mut c = Command::new(cmd.get_program());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        c.current_dir(d);
    }
    c.args(args).output().unwrap()
}

/// A search result is whole: valid JSON, every hit hydrated.
fn check_results(stdout: &[u8]) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_slice(stdout).map_err(|e| e.to_string())?;
    let hits = v["hits"].as_array().ok_or("no hits array")?;
    if v["total"].as_u64().ok_or("no total")? < hits.len() as u64 {
        return Err("total below the hits returned".into());
    }
    for h in hits {
        if h["message_id"].as_i64().unwrap_or(0) <= 0
            || h["conversation_id"].as_i64().unwrap_or(0) <= 0
            || h["source_path"].as_str().unwrap_or("").is_empty()
            || h["agent"].as_str().unwrap_or("").is_empty()
        {
            return Err(format!("half a hit: {h}"));
        }
    }
    Ok(())
}

#[test]
fn hostile_files_are_reported_once_and_never_stop_the_run() {
    let _turn = heavy();
    use std::io::Write;
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let good = |text: &str| claude_line("h", "user", text, "2026-02-01T10:00:00Z", "/home/dev/hostile");
    let mut rng = corpus::Rng::new(seed());

    // Binary garbage, and an empty file.
    let garbage: Vec<u8> = (0..65_536).map(|_| rng.below(256) as u8).collect();
    std::fs::write(dir.join("garbage.jsonl"), &garbage).unwrap();
    std::fs::write(dir.join("empty.jsonl"), b"").unwrap();
    // One 200 MiB line between two good ones (streamed: never in memory).
    let huge_mib = env_u64("CASS_HOSTILE_HUGE_MIB", 200) as usize;
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("huge-line.jsonl")).unwrap());
        f.write_all(good("before the giant line").as_bytes()).unwrap();
        f.write_all(b"{\"type\":\"user\",\"message\":{\"content\":\"").unwrap();
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..huge_mib {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"\"}}\n").unwrap();
        f.write_all(good("after the giant line").as_bytes()).unwrap();
    }
    // JSON nested 100k deep, then a good line.
    let deep = format!("{}{}\n{}", "[".repeat(100_000), "]".repeat(100_000), good("after the deep nesting"));
    std::fs::write(dir.join("deep.jsonl"), deep).unwrap();
    // Invalid UTF-8 inside a string.
    let mut bad_utf8 = good("valid line one").into_bytes();
    bad_utf8.extend_from_slice(b"{\"type\":\"user\",\"sessionId\":\"h\",\"message\":{\"role\":\"user\",\"content\":\"caf\xe9 \xff\xfe broken\"}}\n");
    std::fs::write(dir.join("utf8.jsonl"), bad_utf8).unwrap();
    // Symlink loops and a link pointing outside the agent's root.
    std::os::unix::fs::symlink(".", dir.join("loop")).unwrap();
    std::os::unix::fs::symlink(dir.join("b.jsonl"), dir.join("a.jsonl")).unwrap();
    std::os::unix::fs::symlink(dir.join("a.jsonl"), dir.join("b.jsonl")).unwrap();
    let outside = sb.dir.path().join("outside.jsonl");
    std::fs::write(&outside, good("secret outside the root")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("escape.jsonl")).unwrap();
    // A FIFO: opening it for reading would block forever.
    assert!(Command::new("mkfifo").arg(dir.join("fifo.jsonl")).status().unwrap().success());
    // A file that vanishes between discovery and reading (test hook).
    std::fs::write(dir.join("vanishing.jsonl"), good("here and gone")).unwrap();
    // Unreadable: as root, permission bits do not stop reads, so the same
    // check runs as an unprivileged user where `setpriv` can make one.
    std::fs::write(dir.join("good.jsonl"), good("the valid session survives")).unwrap();

    let t = Instant::now();
    let out = sb.cass().env("CASS_TEST_VANISH", "vanishing.jsonl").args(["index", "--json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the run must not abort: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(t.elapsed() < Duration::from_secs(120), "the FIFO or the giant line stalled the run");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let texts: Vec<String> = {
        let db = sb.db();
        let mut st = db.prepare("SELECT content FROM messages ORDER BY id").unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    for want in [
        "before the giant line",
        "after the giant line",
        "after the deep nesting",
        "valid line one",
        "the valid session survives",
    ] {
        assert!(texts.iter().any(|t| t == want), "'{want}' was lost: {texts:?}");
    }
    assert!(
        texts.iter().any(|t| t.contains("caf\u{fffd}") && t.contains("broken")),
        "invalid UTF-8 kept lossily: {texts:?}"
    );
    assert!(!texts.iter().any(|t| t.contains("secret outside")), "a symlink led outside the root");
    assert!(!texts.iter().any(|t| t.contains("here and gone")));
    // Each problem is reported, once: the garbage, the giant line, the deep
    // nesting are malformed lines; the vanished file is unreadable.
    assert!(r["malformed"].as_u64().unwrap() >= 3, "{r}");
    let unreadable = r["unreadable"].as_array().unwrap();
    assert_eq!(unreadable.len(), 1, "{unreadable:?}");
    assert!(unreadable[0]["path"].as_str().unwrap().ends_with("vanishing.jsonl"));
    let errors: i64 = sb.db().query_row("SELECT COUNT(*) FROM ingest_errors", [], |r| r.get(0)).unwrap();
    assert!(errors >= 4, "problems are recorded in the store");
    // A second run reports nothing again and changes nothing.
    let again = sb.json(&["index"]);
    assert_eq!((again["malformed"].as_u64(), again["messages_added"].as_u64()), (Some(0), Some(0)), "{again}");
    assert_eq!(again["unreadable"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(sb.db().query_row("SELECT COUNT(*) FROM ingest_errors", [], |r| r.get::<_, i64>(0)).unwrap(), errors);
}

#[test]
fn an_unreadable_file_is_reported_and_the_rest_indexed() {
    // Permission bits only bind a non-root user: drop to `nobody` when we
    // are root (as in CI), run as ourselves otherwise.
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-perm");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ok.jsonl"), claude_line("p", "user", "readable words", "2026-02-01T10:00:00Z", "/p"))
        .unwrap();
    std::fs::write(dir.join("locked.jsonl"), claude_line("q", "user", "locked words", "2026-02-01T10:00:00Z", "/p"))
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("locked.jsonl"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let root = is_root();
    let mut cmd = sb.cass();
    if root {
        if Command::new("setpriv").arg("--version").output().is_err() {
            panic!("running as root without setpriv: cannot drop privileges to test permissions");
        }
        // nobody must reach the sandbox.
        for p in [
            sb.dir.path().to_path_buf(),
            sb.home(),
            sb.home().join(".claude"),
            sb.home().join(".claude/projects"),
            dir.clone(),
        ] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        std::fs::set_permissions(dir.join("ok.jsonl"), std::fs::Permissions::from_mode(0o644)).unwrap();
        // A copy of the binary nobody can reach (the checkout may sit
        // under a directory only root may enter).
        let exe = sb.dir.path().join("cass");
        std::fs::copy(env!("CARGO_BIN_EXE_cass"), &exe).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(&exe);
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.current_dir(sb.dir.path());
        cmd = c;
    }
    let out = cmd.args(["index", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let unreadable = r["unreadable"].as_array().unwrap();
    assert_eq!(unreadable.len(), 1, "{r}");
    assert!(unreadable[0]["path"].as_str().unwrap().ends_with("locked.jsonl"));
    assert!(unreadable[0]["error"].as_str().unwrap().to_lowercase().contains("permission"), "{r}");
    assert_eq!(r["messages_added"], 1, "the readable file is indexed");
}

/// Whether this process holds CAP_SYS_ADMIN (bit 21 of CapEff), which
/// mounting needs.
fn can_mount() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("CapEff:").map(|v| v.trim().to_string())))
        .and_then(|hex| u64::from_str_radix(&hex, 16).ok())
        .is_some_and(|caps| caps & (1 << 21) != 0)
}

fn is_root() -> bool {
    // The effective uid, from /proc (no libc dependency).
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false)
}

#[test]
fn session_text_never_reaches_the_terminal_raw_and_nothing_is_written_outside() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-esc");
    std::fs::create_dir_all(&dir).unwrap();
    let evil = "pwnword \u{1b}]0;owned title\u{7} \u{1b}[2J\u{1b}[31mred\u{1b}[0m \u{1b}]52;c;Y29weQ==\u{7} \u{9b}31m c1 \r overwrite";
    std::fs::write(
        dir.join("esc.jsonl"),
        claude_line("e", "user", evil, "2026-02-01T10:00:00Z", "../../../../tmp/escape"),
    )
    .unwrap();
    let before = tree(sb.home().as_path());
    assert!(sb.run(&["index", "-q"]).status.success());
    assert_eq!(before, tree(sb.home().as_path()), "cass wrote inside an agent root");
    let top: Vec<String> = std::fs::read_dir(sb.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut top = top;
    top.sort();
    assert_eq!(top, ["data", "home"], "cass wrote outside its data dir");

    for args in [
        vec!["search", "pwnword", "--mode", "lexical", "--color", "always"],
        vec!["search", "pwnword", "--mode", "lexical", "--color", "never"],
        vec!["view", "1"],
        vec!["expand", "1", "--color", "always"],
    ] {
        let out = sb.run(&args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        // Our own styling is SGR (`ESC [ … m`) and nothing else.
        let mut rest = text.as_ref();
        while let Some(i) = rest.find('\u{1b}') {
            let seq = &rest[i + 1..];
            let end = seq.find('m').unwrap_or(seq.len());
            assert!(
                seq.starts_with('[') && seq[1..end].chars().all(|c| c.is_ascii_digit() || c == ';'),
                "{args:?}: raw escape from session text: {:?}",
                &seq[..seq.len().min(12)]
            );
            rest = &seq[end..];
        }
        assert!(!text.contains('\u{9b}') && !text.contains('\u{7}') && !text.contains('\r'), "{args:?}: {text:?}");
        assert!(text.contains("pwnword"), "{args:?}: the text itself is shown");
    }
    let json = sb.run(&["search", "pwnword", "--mode", "lexical", "--json"]);
    assert!(!json.stdout.contains(&0x1b), "JSON escapes control characters");
}

fn tree(dir: &Path) -> BTreeMap<PathBuf, (u64, Option<std::time::SystemTime>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            }
            out.insert(e.path(), (m.len(), m.modified().ok()));
        }
    }
    out
}

#[test]
fn the_data_dir_is_private_and_cass_listens_on_no_socket() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.home().join(".claude/projects/-x")).unwrap();
    std::fs::write(
        sb.home().join(".claude/projects/-x/s.jsonl"),
        claude_line("s", "user", "private words", "2026-02-01T10:00:00Z", "/x"),
    )
    .unwrap();
    let mut w =
        sb.cass().args(["index", "--watch", "--json"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(w.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    }
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", w.id()))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .map(|p| p.display().to_string())
        .collect();
    let _ = w.kill();
    let _ = w.wait();
    assert!(!fds.iter().any(|f| f.starts_with("socket:")), "a socket is open: {fds:?}");
    assert_eq!(std::fs::metadata(sb.data()).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(sb.data().join("cass.db")).unwrap().permissions().mode() & 0o777, 0o600);
}

/// A small tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_clearly_and_the_published_state_still_answers() {
    let _turn = heavy();
    let sb = Sandbox::new();
    let Some(_disk) = Tmpfs::mount(&sb.data(), "3m") else {
        assert!(!can_mount(), "could not mount a tmpfs though this process may");
        eprintln!("skipped: mounting a tmpfs needs CAP_SYS_ADMIN (root outside a restricted container)");
        return;
    };
    let dir = sb.home().join(".claude/projects/-disk");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("small.jsonl"),
        claude_line("s", "user", "kestrelword before the disk fills", "2026-02-01T10:00:00Z", "/d"),
    )
    .unwrap();
    assert!(sb.run(&["index", "-q"]).status.success());
    // Far more text than 3 MiB of store, index and tier can hold.
    corpus::generate_shaped(&sb.home(), 8000, 5, (20, 60)).unwrap();
    let out = sb.run(&["index", "--json"]);
    assert_eq!(out.status.code(), Some(2), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    let err: serde_json::Value =
        serde_json::from_slice(&out.stderr).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(err["error"]["kind"], "disk_full", "{err}");
    let human = sb.run(&["index"]);
    let line = String::from_utf8_lossy(&human.stderr).into_owned();
    assert!(line.to_lowercase().contains("full") && !line.contains("panicked"), "{line}");
    // What was published before still answers, lexically and semantically.
    // (The semantic query uses words the fast tier's model knows: a made-up
    // word alone has no meaning to match.)
    for (mode, query) in [("lexical", "kestrelword"), ("semantic", "before the disk fills")] {
        let found = sb.run(&["search", query, "--mode", mode, "--json"]);
        assert_eq!(found.status.code(), Some(0), "{mode}: {}", String::from_utf8_lossy(&found.stderr));
    }
}

/// One seeded mutation of `input` (a fraction of what libFuzzer does, but
/// on stable Rust and inside the time CI has): byte flips, insertions,
/// truncation, duplication, splicing with another corpus entry.
fn mutate(rng: &mut corpus::Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = if v.is_empty() { 0 } else { rng.below(v.len()) };
        match rng.below(7) {
            0 if !v.is_empty() => v[at] ^= 1 << rng.below(8),
            1 => v.insert(at, [b'{', b'}', b'[', b']', b'"', b'\\', b'\n', b',', b':', 0xff][rng.below(10)]),
            2 => v.truncate(at),
            3 if !v.is_empty() => {
                let end = (at + 1 + rng.below(64)).min(v.len());
                let chunk = v[at..end].to_vec();
                v.splice(at..at, chunk).for_each(drop);
            }
            4 if !other.is_empty() => {
                let from = rng.below(other.len());
                v.splice(at.., other[from..].iter().copied()).for_each(drop);
            }
            5 => v.splice(at..at, b"\"type\":null,".iter().copied()).for_each(drop),
            _ => v.insert(at, rng.below(256) as u8),
        }
    }
    v
}

fn corpus_of(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Runs `check` on `input`; a panic is saved as a reproducer and fails the test.
fn survives(target: &str, input: &[u8], check: impl FnOnce(&[u8]) + std::panic::UnwindSafe) {
    let owned = input.to_vec();
    if std::panic::catch_unwind(move || check(&owned)).is_err() {
        let path = std::env::temp_dir().join(format!("cass-fuzz-crash-{target}-{}.bin", std::process::id()));
        std::fs::write(&path, input).unwrap();
        panic!("{target} panicked on an input saved at {}", path.display());
    }
}

/// Every fuzz target the replay knows is a binary of the fuzz crate, once:
/// `cargo fuzz` reads fuzz/Cargo.toml, which the replay never builds, so a
/// broken entry there would go unnoticed.
#[test]
fn every_fuzz_target_is_declared_in_the_fuzz_crate() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml")).unwrap();
    let manifest: toml::Value = toml::from_str(&text).expect("fuzz/Cargo.toml is valid TOML");
    let bins: Vec<(String, String)> = manifest["bin"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].as_str().unwrap().to_string(), b["path"].as_str().unwrap().to_string()))
        .collect();
    let mut names: Vec<&str> = cass::fuzzing::CONNECTOR_TARGETS.iter().map(|t| t.0).collect();
    names.push("query");
    for name in &names {
        let path = format!("fuzz_targets/{name}.rs");
        assert_eq!(bins.iter().filter(|(n, p)| n == name && *p == path).count(), 1, "{name} in fuzz/Cargo.toml");
        let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(&path)).unwrap();
        assert!(source.contains(&format!("\"{name}\"")) || *name == "query", "{path} runs {name}");
    }
    assert_eq!(bins.len(), names.len(), "no binary without a replayed target");
}

#[test]
fn fuzz_corpora_and_seeded_mutations_never_panic() {
    let rounds = env_u64("CASS_FUZZ_MUTATIONS", 3000) as usize;
    let mut rng = corpus::Rng::new(seed());
    let mut tried = 0;
    for &(target, _, _) in cass::fuzzing::CONNECTOR_TARGETS {
        let inputs = corpus_of(target);
        assert!(!inputs.is_empty(), "{target} has no corpus");
        for input in &inputs {
            survives(target, input, |d| {
                cass::fuzzing::run_target(target, d);
            });
        }
        for _ in 0..rounds {
            let a = &inputs[rng.below(inputs.len())];
            let b = &inputs[rng.below(inputs.len())];
            let m = mutate(&mut rng, a, b);
            survives(target, &m, |d| {
                cass::fuzzing::run_target(target, d);
            });
            tried += 1;
        }
    }
    let queries = corpus_of("query");
    for _ in 0..rounds * 4 {
        let a = &queries[rng.below(queries.len())];
        let b = &queries[rng.below(queries.len())];
        let m = mutate(&mut rng, a, b);
        survives("query", &m, |d| {
            cass::fuzzing::parse_query(&String::from_utf8_lossy(d));
        });
        tried += 1;
    }
    eprintln!("fuzz replay: {tried} mutated inputs");
}
