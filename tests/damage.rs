//! Damaged files, each from a copy of a good data dir: flipped bytes in a
//! tantivy file, in a vector segment, in a tier's manifest and in the
//! SQLite store, and a deleted tantivy file. No panic reaches the user
//! (exit 101 never appears), `health --deep` names the damaged part, and
//! the command the error names brings back an index whose searches equal
//! the good one's.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Sandbox, copy_tree, own_fixtures};
use serde_json::Value;

const QUERIES: [(&str, &str); 6] = [
    ("the", "lexical"),
    ("settings page", "lexical"),
    ("toggle", "hybrid"),
    ("dark mode toggle", "semantic"),
    ("test", "hybrid"),
    ("watchdog reset", "semantic"),
];

struct Fixture {
    sb: Sandbox,
    good: PathBuf,
    answers: Vec<Vec<i64>>,
}

fn cass(sb: &Sandbox, data: &Path) -> Command {
    let mut c = sb.cass();
    c.env("CASS_DATA_DIR", data);
    c
}

/// Hit ids for every query, or the exit code a query failed with.
fn answers(sb: &Sandbox, data: &Path) -> Result<Vec<Vec<i64>>, String> {
    let mut out = Vec::new();
    for (q, mode) in QUERIES {
        let run = cass(sb, data).args(["search", q, "--mode", mode, "--json", "--limit", "20"]).output().unwrap();
        assert_ne!(run.status.code(), Some(101), "a panic reached the user: {}", String::from_utf8_lossy(&run.stderr));
        assert!(run.status.code().is_some(), "killed by a signal");
        match run.status.code() {
            Some(0) | Some(1) => {
                let v: Value = serde_json::from_slice(&run.stdout).unwrap();
                out.push(v["hits"].as_array().unwrap().iter().map(|h| h["message_id"].as_i64().unwrap()).collect());
            }
            code => {
                let err = String::from_utf8_lossy(&run.stderr);
                assert_eq!(err.lines().count(), 1, "one line of error: {err}");
                return Err(format!("exit {code:?}: {err}"));
            }
        }
    }
    Ok(out)
}

fn fixture() -> Fixture {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    let good = sb.dir.path().join("good");
    assert!(cass(&sb, &good).args(["index", "-q"]).status().unwrap().success());
    // Everything in the main database file, none in the WAL.
    rusqlite::Connection::open(good.join("cass.db"))
        .unwrap()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let answers = answers(&sb, &good).unwrap();
    assert!(answers.iter().all(|a| !a.is_empty()), "every query finds something: {answers:?}");
    Fixture { sb, good, answers }
}

impl Fixture {
    /// A copy of the good data dir to damage.
    fn copy(&self, name: &str) -> PathBuf {
        let dir = self.sb.dir.path().join(name);
        copy_tree(&self.good, &dir);
        dir
    }

    /// `health --deep` exits 1 and names `kind`.
    fn deep_names(&self, data: &Path, kind: &str) {
        let out = cass(&self.sb, data).args(["health", "--deep", "--json"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        let text = if out.stdout.is_empty() { &out.stderr } else { &out.stdout };
        let v: Value = serde_json::from_slice(text).unwrap();
        let kinds: Vec<&str> = match v.get("problems") {
            Some(p) => p.as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap()).collect(),
            None => vec![v["error"]["kind"].as_str().unwrap()],
        };
        assert!(kinds.contains(&kind), "{kind} not in {kinds:?}");
    }

    /// After `args`, searches answer as the good dir did and health is green.
    fn repaired_by(&self, data: &Path, args: &[&str]) {
        let out = cass(&self.sb, data).args(args).output().unwrap();
        assert!(out.status.success(), "cass {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(answers(&self.sb, data).unwrap(), self.answers, "searches equal the good index's");
        let deep = cass(&self.sb, data).args(["health", "--deep"]).output().unwrap();
        assert!(deep.status.success(), "{}", String::from_utf8_lossy(&deep.stdout));
    }
}

/// Flips `n` bytes spread over the middle of a file.
fn flip(path: &Path, n: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let len = bytes.len();
    assert!(len > 64, "{} is too small to damage", path.display());
    for i in 0..n {
        let at = len / 4 + i * (len / 2) / n.max(1);
        bytes[at] ^= 0x5a;
    }
    std::fs::write(path, bytes).unwrap();
}

fn file_with(dir: &Path, ext: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == ext))
        .unwrap_or_else(|| panic!("no .{ext} in {}", dir.display()))
}

#[test]
fn flipped_bytes_in_tantivy_files_are_found_and_repaired() {
    let f = fixture();
    for ext in ["fast", "term", "idx", "store", "pos"] {
        let data = f.copy(&format!("flip-{ext}"));
        flip(&file_with(&data.join("lexical"), ext), 6);
        let _ = answers(&f.sb, &data); // whatever it says, it does not panic
        f.deep_names(&data, "lexical_damaged");
        f.repaired_by(&data, &["index", "--repair", "-q"]);
    }
}

#[test]
fn a_deleted_tantivy_file_is_found_and_repaired() {
    let f = fixture();
    let data = f.copy("deleted-idx");
    std::fs::remove_file(file_with(&data.join("lexical"), "idx")).unwrap();
    if let Err(e) = answers(&f.sb, &data) {
        assert!(e.contains("cass index --repair") || e.contains("damaged"), "{e}");
    }
    f.deep_names(&data, "lexical_damaged");
    f.repaired_by(&data, &["index", "--repair", "-q"]);
}

#[test]
fn a_flipped_vector_segment_is_found_and_repaired() {
    let f = fixture();
    let data = f.copy("flip-segment");
    flip(&file_with(&data.join("semantic/fast/segments"), "cvs"), 8);
    let _ = answers(&f.sb, &data);
    f.deep_names(&data, "tier_damaged");
    f.repaired_by(&data, &["index", "--repair", "-q"]);
}

#[test]
fn a_damaged_manifest_is_rebuilt_by_the_next_index() {
    let f = fixture();
    let data = f.copy("flip-manifest");
    flip(&data.join("semantic/fast/manifest.json"), 4);
    let _ = answers(&f.sb, &data);
    f.deep_names(&data, "tier_damaged");
    f.repaired_by(&data, &["index", "-q"]);
}

#[test]
fn a_damaged_store_is_named_and_recovered_from_the_agents_files() {
    let f = fixture();
    let data = f.copy("flip-db");
    flip(&data.join("cass.db"), 24);
    let _ = answers(&f.sb, &data);
    f.deep_names(&data, "store_damaged");
    // The documented recovery: move the store away, read every file again.
    std::fs::rename(data.join("cass.db"), data.join("cass.db.damaged")).unwrap();
    let out = cass(&f.sb, &data).args(["index", "--full", "-q"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A new store: ids are new, so compare what the hits say, not their ids.
    let good = texts(&f.sb, &f.good);
    assert_eq!(texts(&f.sb, &data), good);
    assert!(cass(&f.sb, &data).args(["health", "--deep"]).status().unwrap().success());
}

/// The snippet texts of every query's hits, all of them: a new store
/// numbers messages in another order, so hits of equal score may be cut
/// differently at a limit.
fn texts(sb: &Sandbox, data: &Path) -> Vec<Vec<String>> {
    QUERIES
        .iter()
        .map(|(q, mode)| {
            let out = cass(sb, data).args(["search", q, "--mode", mode, "--json", "--limit", "1000"]).output().unwrap();
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            let mut t: Vec<String> = v["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["snippet"]["text"].as_str().unwrap().to_string())
                .collect();
            t.sort();
            t
        })
        .collect()
}
