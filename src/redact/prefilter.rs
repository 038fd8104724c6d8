//! Which rules a text needs, and where: one scan for every rule's anchors.
//!
//! The scan runs on every message, so it must be much faster than the
//! regexes it spares. A case-insensitive automaton reads one byte at a time
//! (about 350 MB/s here); exact literals let aho-corasick use Teddy, a SIMD
//! search (about 1.3 GB/s on the same text), as long as there are at most 64
//! of them. Anchors are therefore case-sensitive, and a test keeps their
//! number within the limit.

use aho_corasick::{AhoCorasick, Input, MatchKind};

use super::rules::Rule;

/// Teddy's limit in aho-corasick; beyond it the scan falls back to the
/// automaton, correct but about 4 times slower.
#[cfg(test)]
pub(super) const SIMD_ANCHOR_LIMIT: usize = 64;

/// The anchors of a rule table, each with the rules it gates.
pub(super) struct Prefilter {
    anchors: AhoCorasick,
    /// Per anchor, the rules (bit i: rule i) whose matches may contain it.
    rules: Vec<u64>,
}

/// An anchor found in the text: where it is, and the rules it gates.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hit {
    pub at: usize,
    pub end: usize,
    pub rules: u64,
}

impl Prefilter {
    /// Builds the scan for `rules` (at most 64). An anchor that contains
    /// another (`sk-ant-` contains `sk-`) is dropped and its rules are gated
    /// by the shorter one: every text with the longer has the shorter. With
    /// no anchor inside another, at most one matches at any position, so
    /// restarting one byte after each hit finds them all.
    pub fn new(rules: &[Rule]) -> Result<Prefilter, aho_corasick::BuildError> {
        let mut all: Vec<(&str, u64)> = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            for a in r.anchors {
                match all.iter_mut().find(|(x, _)| x == a) {
                    Some((_, mask)) => *mask |= 1 << i,
                    None => all.push((a, 1 << i)),
                }
            }
        }
        all.sort_by_key(|(a, _)| a.len());
        let mut kept: Vec<(&str, u64)> = Vec::new();
        for (a, mask) in all {
            let mut inside = false;
            for (_, kmask) in kept.iter_mut().filter(|(k, _)| a.contains(*k)) {
                *kmask |= mask;
                inside = true;
            }
            if !inside {
                kept.push((a, mask));
            }
        }
        let anchors = AhoCorasick::builder().match_kind(MatchKind::LeftmostFirst).build(kept.iter().map(|(a, _)| a))?;
        Ok(Prefilter { anchors, rules: kept.iter().map(|(_, m)| *m).collect() })
    }

    /// How many distinct anchors the scan looks for.
    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.rules.len()
    }

    /// Every anchor in `text`, in order; the union of their rules.
    pub fn hits(&self, text: &str, out: &mut Vec<Hit>) -> u64 {
        let mut wanted = 0;
        let mut at = 0;
        while let Some(m) = self.anchors.find(Input::new(text).span(at..text.len())) {
            let rules = self.rules[m.pattern().as_usize()];
            out.push(Hit { at: m.start(), end: m.end(), rules });
            wanted |= rules;
            at = m.start() + 1;
        }
        wanted
    }
}

/// The line around byte `at` of `text`, with its `\n`: the window a
/// single-line rule searches.
pub(super) fn line_around(text: &str, at: usize) -> std::ops::Range<usize> {
    let b = text.as_bytes();
    let start = memchr::memrchr(b'\n', &b[..at]).map_or(0, |i| i + 1);
    let end = memchr::memchr(b'\n', &b[at..]).map_or(b.len(), |i| at + i + 1);
    start..end
}

/// Whether the anchor at `hit` is part of a name given a value: the rest
/// of the name, an optional closing quote (JSON-escaped too), blanks, then
/// `:` or `=`; or a `--flag` followed by a blank. The shape the assignment
/// regexes start with, checked on bytes before any regex runs.
pub(super) fn names_a_value(text: &str, hit: &Hit) -> bool {
    let b = text.as_bytes();
    let name = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-');
    let mut i = hit.end;
    while i < b.len() && name(b[i]) {
        i += 1;
    }
    let name_end = i;
    if b.get(i) == Some(&b'\\') {
        i += 1;
    }
    if matches!(b.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    let blanks_from = i;
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if matches!(b.get(i), Some(b':' | b'=')) {
        return true;
    }
    let mut start = hit.at;
    while start > 0 && name(b[start - 1]) {
        start -= 1;
    }
    i > blanks_from && name_end == blanks_from && b[start..].starts_with(b"--")
}
