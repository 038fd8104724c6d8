//! What each segment's dictionary held under a word's stem, kept across
//! queries.
//!
//! Finding a word's other forms walks every segment's term dictionary
//! ([`crate::lexical::stem::FormCandidates`]); at ten million messages (43
//! segments) the walks were a quarter of a word query's time. A segment
//! never changes once written, so what a walk found in it stays true for as
//! long as the segment lives: a searcher that is reused (the TUI, the MCP
//! server, a watch) walks each segment once per word, and after a sync
//! only the new segments. Merged-away segments' entries are dropped when
//! the cache fills.

use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;
use tantivy::index::SegmentId;

/// Candidate terms of one word in one segment, with their document counts.
pub type Found = Arc<Vec<(Vec<u8>, u64)>>;

/// Terms held before the cache is emptied. A held term costs about 50
/// bytes (its bytes, a `Vec`, its count), so at most ~13 MiB whatever the
/// queries; a walk typically finds a few dozen terms per segment.
const MAX_HELD_TERMS: usize = 1 << 18;

/// The walks already made, by segment and word.
#[derive(Default)]
pub struct FormWalks {
    inner: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    /// By segment, then word: a lookup borrows the word, no key is built.
    walks: FxHashMap<SegmentId, FxHashMap<String, Found>>,
    terms: usize,
}

impl FormWalks {
    /// What the walk of `word` found in `segment`, if one was made.
    pub fn get(&self, segment: SegmentId, word: &str) -> Option<Found> {
        let held = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        held.walks.get(&segment)?.get(word).cloned()
    }

    /// Keeps what the walk of `word` found in `segment`.
    pub fn put(&self, segment: SegmentId, word: &str, found: Found) {
        let mut held = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // Two queries may walk the same segment for the same word at once.
        let old = held.walks.get_mut(&segment).and_then(|words| words.remove(word));
        if let Some(old) = old {
            held.terms -= old.len();
        }
        if held.terms + found.len() > MAX_HELD_TERMS {
            held.walks.clear();
            held.terms = 0;
        }
        held.terms += found.len();
        held.walks.entry(segment).or_default().insert(word.to_string(), found);
    }

    /// Walks held (for tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).walks.values().map(|words| words.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(terms: usize) -> Found {
        Found::new((0..terms).map(|i| (i.to_le_bytes().to_vec(), 1)).collect())
    }

    /// The cache never holds more than [`MAX_HELD_TERMS`] terms: the walk
    /// that would pass the cap empties it first; a walk put again replaces
    /// the old one, in the count too.
    #[test]
    fn the_held_terms_stay_under_the_cap() {
        let walks = FormWalks::default();
        let (a, b) = (SegmentId::generate_random(), SegmentId::generate_random());
        walks.put(b, "fox", walk(3));
        walks.put(a, "crate", walk(MAX_HELD_TERMS - 13));
        walks.put(a, "crate", walk(MAX_HELD_TERMS - 10)); // replaces the first: nothing emptied
        assert_eq!(walks.len(), 2);
        assert_eq!(walks.inner.lock().unwrap().terms, MAX_HELD_TERMS - 7);
        walks.put(b, "fox", walk(10));
        assert_eq!(walks.len(), 2, "exactly at the cap: both kept");
        assert_eq!(walks.get(a, "crate").map(|f| f.len()), Some(MAX_HELD_TERMS - 10));
        walks.put(b, "parser", walk(1));
        assert_eq!(walks.len(), 1, "past the cap: emptied, then the new walk kept");
        assert!(walks.get(a, "crate").is_none());
        assert_eq!(walks.get(b, "parser").map(|f| f.len()), Some(1));
        assert_eq!(walks.inner.lock().unwrap().terms, 1);
    }
}
