//! Deep verification: every byte of the store and the derived indexes
//! checked against its own checksums, and their counts compared. This is
//! `cass health --deep` and the first step of `cass index --repair`; plain
//! `health` never reads this much (it answers from counters in
//! milliseconds).

use std::time::Instant;

use serde::Serialize;

use crate::config::DataDir;
use crate::embed::Tier;
use crate::lexical::LexicalIndex;
use crate::status::Problem;
use crate::store::Store;
use crate::vector::manifest::Manifest;
use crate::vector::segment::Segment;

/// What a deep check found.
#[derive(Debug, Clone, Serialize)]
pub struct DeepReport {
    /// Problems, with the same kinds `health` uses (`store_damaged`,
    /// `lexical_damaged`, `tier_damaged`, `count_mismatch`, `usage_mismatch`).
    pub problems: Vec<Problem>,
    /// Live documents in the lexical index (when it could be read).
    pub lexical_docs: Option<u64>,
    /// Messages in the store (when it could be read).
    pub store_messages: Option<u64>,
    /// Damaged derived indexes: what `cass index --repair` rebuilds.
    pub damaged: Vec<Damage>,
    /// Why the usage sums are off, when they are: `--repair` recounts them.
    pub usage_wrong: Option<String>,
    /// How long the check took, in milliseconds.
    pub elapsed_ms: u64,
}

/// One damaged derived index.
#[derive(Debug, Clone, Serialize)]
pub struct Damage {
    /// `lexical`, `fast` or `quality`.
    pub index: String,
    /// What was found.
    pub why: String,
}

/// Checks the store (SQLite `integrity_check` and the message rows'
/// checksums), the lexical index (tantivy's
/// checksums, and every segment file it lists opened), each tier (its
/// manifest, each segment's checksum), compares the lexical index's
/// document count with the store's messages, and the usage sums with the
/// calls they sum.
pub fn deep(data: &DataDir) -> DeepReport {
    let started = Instant::now();
    let mut problems = Vec::new();
    let mut damaged = Vec::new();
    let mut add = |kind: &'static str, message: String| problems.push(Problem { kind, message });

    let store_damaged = |why: String| {
        format!(
            "the store {} is damaged ({why}); recover: move it away and run `cass index --full`, which re-reads \
             every agent's files",
            data.db().display()
        )
    };
    let store = match Store::open_readonly(&data.db()) {
        Ok(s) => Some(s),
        Err(crate::store::StoreError::Missing(_)) => None,
        Err(e) => {
            add("store_damaged", store_damaged(e.to_string()));
            None
        }
    };
    let mut store_messages = None;
    let mut usage_wrong = None;
    if let Some(store) = &store {
        match crate::store::query::integrity(store) {
            Ok(None) => {}
            Ok(Some(why)) => add("store_damaged", store_damaged(why)),
            Err(e) => add("store_damaged", store_damaged(e.to_string())),
        }
        store_messages = crate::store::query::message_count(store).ok();
        if let Ok(Some(why)) = crate::store::usage::check_sums(store) {
            add("usage_mismatch", format!("{why}; `cass index --repair` recomputes them from the calls"));
            usage_wrong = Some(why);
        }
    }

    // A running writer merges and deletes files under a check: what looks
    // damaged then is read again once it had a moment to settle.
    let writing = crate::lock::current_holder(&data.lock()).is_some();
    let settle = |first: Result<Option<u64>, String>| match first {
        Err(_) if writing => {
            std::thread::sleep(std::time::Duration::from_secs(1));
            lexical(data)
        }
        other => other,
    };
    let lexical_docs = match settle(lexical(data)) {
        Ok(docs) => docs,
        Err(why) => {
            add("lexical_damaged", format!("the lexical index is damaged ({why}); `cass index --repair` rebuilds it"));
            damaged.push(Damage { index: "lexical".into(), why });
            None
        }
    };
    if let (Some(docs), Some(messages), Some(store)) = (lexical_docs, store_messages, &store)
        && docs != messages
        && crate::lexical::state(store, &data.lexical())
            .is_ok_and(|s| s.dirty_conversations == 0 && s.high_message_id > 0)
    {
        let docs = crate::words::count(docs, "message");
        add("count_mismatch", format!("the lexical index holds {docs}, the store {messages}"));
    }

    for tier in Tier::ALL {
        let checked = match tier_segments(data, tier) {
            Err(_) if writing => {
                std::thread::sleep(std::time::Duration::from_secs(1));
                tier_segments(data, tier)
            }
            other => other,
        };
        if let Err(why) = checked {
            add(
                "tier_damaged",
                format!("the {} tier is damaged ({why}); `cass index --repair` rebuilds it", tier.name()),
            );
            damaged.push(Damage { index: tier.name().into(), why });
        }
    }
    DeepReport {
        problems,
        lexical_docs,
        store_messages,
        damaged,
        usage_wrong,
        elapsed_ms: started.elapsed().as_millis() as u64,
    }
}

/// The lexical index's live message documents (`None`: no index), or why
/// it is damaged. Guarded: tantivy may panic on corrupted files.
fn lexical(data: &DataDir) -> Result<Option<u64>, String> {
    let idx = match LexicalIndex::open(&data.lexical()) {
        Ok(idx) => idx,
        Err(crate::lexical::LexicalError::Missing(_)) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    crate::guard::catch(|| -> Result<Option<u64>, String> {
        let bad = idx.index.validate_checksum().map_err(|e| e.to_string())?;
        if !bad.is_empty() {
            let mut names: Vec<String> = bad.iter().map(|p| p.display().to_string()).collect();
            names.sort();
            return Err(format!("checksum mismatch in {}", names.join(", ")));
        }
        // Opening every segment reader opens every file the index lists,
        // so a deleted one shows here.
        let reader = idx.index.reader().map_err(|e| e.to_string())?;
        let searcher = reader.searcher();
        // Messages only: each conversation has a document too.
        let others = crate::lexical::conversation_documents(&idx.fields);
        let others = searcher.search(&others, &tantivy::collector::Count).map_err(|e| e.to_string())?;
        Ok(Some(searcher.num_docs() - others as u64))
    })
    .unwrap_or_else(|panic| Err(format!("reading it panicked: {panic}")))
}

/// Checks a tier's manifest and every published segment's checksum.
fn tier_segments(data: &DataDir, tier: Tier) -> Result<(), String> {
    let dir = tier.dir(data);
    let Some(manifest) = Manifest::load(&dir).map_err(|e| e.to_string())? else { return Ok(()) };
    for entry in &manifest.segments {
        let path = dir.join("segments").join(&entry.file);
        let seg = Segment::open(&path).map_err(|e| e.to_string())?;
        if seg.checksum != entry.checksum || !seg.verify() {
            return Err(format!("checksum mismatch in {}", path.display()));
        }
    }
    Ok(())
}
