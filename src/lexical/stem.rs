//! Word forms: `crate` finds `crates`, `publish` finds `publishing`.
//!
//! The index keeps words as written; forms meet at query time. A bare
//! query word asks for itself at full weight and, at reduced weight, for
//! every indexed word with the same Snowball English stem: those are found
//! in the term dictionary under [`prefix`] of the stem (a stemmer only
//! strips suffixes, turns a final `y` into `i` and adds a final `e`, so
//! every word with a stem starts with it, less such a last letter), then
//! stemmed and compared. Indexing pays nothing; a query pays a short range
//! scan of the dictionary per word. Phrases, prefixes and wildcards stay
//! exact.

use rust_stemmers::{Algorithm, Stemmer};

/// Words shorter than this are left alone: stems of two-letter words are
/// the words, and `as`/`is` should not meet.
const MIN_BYTES: usize = 3;

/// Longer "words" are identifiers or noise, not English.
const MAX_BYTES: usize = 32;

/// The most a word's form adds to its stem (`generalizations` over
/// `general`: 8 bytes); longer words under a stem's prefix are not forms.
pub const MAX_SUFFIX_BYTES: usize = 10;

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

/// What forms of a word share: its stem, or the word itself when it is
/// its own stem; `None` for words the stemmer does not apply to.
pub fn key(word: &str) -> Option<String> {
    eligible(word).then(|| stem(word).unwrap_or_else(|| word.to_string()))
}

/// The prefix every word whose stem is `stem` starts with.
pub fn prefix(stem: &str) -> &str {
    match stem.as_bytes().last() {
        Some(b'i' | b'e') if stem.len() > MIN_BYTES => &stem[..stem.len() - 1],
        _ => stem,
    }
}

/// The dictionary terms that can be forms of a word with stem `key`: its
/// [`prefix`], then ASCII lowercase letters only, at most
/// [`MAX_SUFFIX_BYTES`] longer than the stem. As an automaton over a term
/// dictionary (an FST) it prunes whole subtrees: in logs most terms under
/// a short prefix are compounds (`parse_args`, `parse-2`, `parser.rs`),
/// and a plain range scan walked every one of them in every segment.
#[derive(Debug, Clone)]
pub struct FormCandidates {
    prefix: Vec<u8>,
    longest: usize,
}

impl FormCandidates {
    /// The candidates for the forms of words whose stem is `key`.
    pub fn new(key: &str) -> FormCandidates {
        FormCandidates { prefix: prefix(key).as_bytes().to_vec(), longest: key.len() + MAX_SUFFIX_BYTES }
    }
}

impl tantivy_fst::Automaton for FormCandidates {
    /// Bytes read so far; `None` once the term cannot be a candidate.
    type State = Option<usize>;

    fn start(&self) -> Option<usize> {
        Some(0)
    }

    fn is_match(&self, state: &Option<usize>) -> bool {
        state.is_some_and(|n| n >= self.prefix.len())
    }

    fn can_match(&self, state: &Option<usize>) -> bool {
        state.is_some()
    }

    fn accept(&self, state: &Option<usize>, byte: u8) -> Option<usize> {
        let n = (*state)?;
        let fits = match self.prefix.get(n) {
            Some(&want) => byte == want,
            None => n < self.longest && byte.is_ascii_lowercase(),
        };
        fits.then_some(n + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy_fst::Automaton;

    impl FormCandidates {
        /// True when the automaton accepts `term`.
        fn accepts(&self, term: &[u8]) -> bool {
            let state = term.iter().fold(self.start(), |state, &b| self.accept(&state, b));
            self.is_match(&state)
        }
    }

    #[test]
    fn word_forms_share_a_stem() {
        assert_eq!(stem("crates").as_deref(), Some("crate"));
        assert_eq!(stem("publishing").as_deref(), Some("publish"));
        assert_eq!(stem("fixes").as_deref(), Some("fix"));
        assert_eq!(stem("fixed").as_deref(), Some("fix"));
        assert_eq!(stem("crate"), None, "a word that is its own stem");
        assert_eq!(stem("is"), None);
        assert_eq!(stem("useeffect2"), None, "only letters");
        assert_eq!(key("crating").as_deref(), Some("crate"));
    }

    #[test]
    fn form_candidates_are_the_prefix_then_letters_within_the_length() {
        let c = FormCandidates::new("crate"); // prefix `crat`, at most 15 bytes
        for yes in ["crate", "crates", "crating", "crat", "cratesandmore"] {
            assert!(c.accepts(yes.as_bytes()), "{yes}");
        }
        for no in ["cra", "crate_io", "crates-io", "crate2", "crate.rs", "cratesandmoremore", "scrate"] {
            assert!(!c.accepts(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn every_form_starts_with_the_prefix_of_its_stem() {
        for w in [
            "crating",
            "crates",
            "happiness",
            "happy",
            "cries",
            "hopping",
            "generalizations",
            "internationalization",
            "publishing",
        ] {
            let k = key(w).unwrap();
            assert!(w.starts_with(prefix(&k)), "{w} → {k} → {}", prefix(&k));
            assert!(w.len() <= k.len() + MAX_SUFFIX_BYTES, "{w} → {k}");
            assert!(FormCandidates::new(&k).accepts(w.as_bytes()), "{w} → {k}");
        }
    }
}
