//! Word forms: `crate` finds `crates`, `publish` finds `publishing`.
//!
//! The index keeps every word as written and, for an English word whose
//! stem (Snowball English) differs from it, also the stem, marked with
//! [`STEM_MARK`] at the word's position. The marked stem lives in the same
//! field, so a query asks for the word itself (full weight) or its stem
//! (reduced weight): a message holding the exact word matches both and
//! ranks above one that only shares the stem. Words that are their own
//! stem add nothing to the index; a query reaches them through the plain
//! term. Phrases, prefixes and wildcards stay exact.

use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;

/// Starts every stem term. No token can contain it (the tokenizer only
/// keeps letters, digits and joiners), so stems never collide with words,
/// and every stem term sorts before every word in the term dictionary,
/// where wildcard scans skip them.
pub const STEM_MARK: char = '\u{1}';

/// Words shorter than this are left alone: stems of two-letter words are
/// the words, and `as`/`is` should not meet.
const MIN_BYTES: usize = 3;

/// Longer "words" are identifiers or noise, not English.
const MAX_BYTES: usize = 32;

/// Distinct words remembered before the cache starts over; a session
/// corpus's vocabulary is Zipfian, so the common words stay cheap.
const CACHE_WORDS: usize = 1 << 17;

/// True for a folded token the English stemmer applies to: ASCII letters only.
pub fn eligible(word: &str) -> bool {
    (MIN_BYTES..=MAX_BYTES).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_lowercase())
}

/// The stem of a folded word, when it is eligible and differs from it.
pub fn stem(word: &str) -> Option<String> {
    if !eligible(word) {
        return None;
    }
    let stem = Stemmer::create(Algorithm::English).stem(word).into_owned();
    (stem != word && !stem.is_empty()).then_some(stem)
}

/// The term a word's stem is indexed and searched under.
pub fn stem_term(stem: &str) -> String {
    let mut t = String::with_capacity(stem.len() + 1);
    t.push(STEM_MARK);
    t.push_str(stem);
    t
}

/// Stems with a cache, for the indexing tokenizer: the stemmer costs far
/// more than a hash lookup, and the same few thousand words recur.
pub struct Stems {
    stemmer: Stemmer,
    cache: FxHashMap<Box<str>, Option<Box<str>>>,
}

impl Default for Stems {
    fn default() -> Self {
        Stems { stemmer: Stemmer::create(Algorithm::English), cache: FxHashMap::default() }
    }
}

impl Clone for Stems {
    /// A clone starts with an empty cache: each indexing thread fills its own.
    fn clone(&self) -> Self {
        Stems::default()
    }
}

impl Stems {
    /// The stem of a folded word, when it is eligible and differs from it.
    pub fn of(&mut self, word: &str) -> Option<&str> {
        if !eligible(word) {
            return None;
        }
        if !self.cache.contains_key(word) {
            if self.cache.len() >= CACHE_WORDS {
                self.cache.clear();
            }
            let stem = self.stemmer.stem(word);
            let stem = (stem != word && !stem.is_empty()).then(|| Box::<str>::from(stem.as_ref()));
            self.cache.insert(word.into(), stem);
        }
        self.cache.get(word).and_then(|s| s.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_forms_share_a_stem() {
        assert_eq!(stem("crates").as_deref(), Some("crate"));
        assert_eq!(stem("publishing").as_deref(), Some("publish"));
        assert_eq!(stem("fixes").as_deref(), Some("fix"));
        assert_eq!(stem("fixed").as_deref(), Some("fix"));
        assert_eq!(stem("crate"), None, "a word that is its own stem adds nothing");
        assert_eq!(stem("is"), None);
        assert_eq!(stem("useeffect2"), None, "only letters");
    }

    #[test]
    fn the_cache_agrees_with_the_stemmer() {
        let mut stems = Stems::default();
        for w in ["running", "runs", "run", "connections", "connection", "running"] {
            assert_eq!(stems.of(w).map(str::to_string), stem(w), "{w}");
        }
    }
}
