//! A flat list of the content field's terms, for `*suffix` and `*infix*`.
//!
//! tantivy's term dictionary is a finite-state transducer: it finds terms
//! by prefix in microseconds, but a suffix or a piece in the middle means
//! walking every term, about 200 ns each (1.8 s for a million messages).
//! So the first wildcard query of an index generation writes the terms
//! once, one per line with the number of messages holding each
//! (`term\tcount\n`, segments merged), to `lexical-terms/<generation>`
//! beside the index; every later query of that generation scans the file
//! with `memchr`'s substring search at memory speed. The file is derived
//! and disposable: written atomically, older generations removed, any
//! failure to write it falls back to walking the dictionary.

use std::collections::BinaryHeap;
use std::io::Write;
use std::path::Path;

use memmap2::Mmap;
use tantivy::Searcher;
use tantivy::schema::Field;

/// The terms of one index generation: the file mapped, or the bytes
/// collected when the file could not be written (a read-only data dir).
pub enum TermList {
    /// The list file, mapped.
    Mapped(Mmap),
    /// The list, in memory.
    Owned(Vec<u8>),
}

/// A name for the searcher's index generation: its segments and their deletes.
fn generation(searcher: &Searcher) -> String {
    let mut h = crate::checksum::fnv1a64(b"cass-terms-1");
    for s in searcher.segment_readers() {
        h = crate::checksum::fnv1a64_more(h, s.segment_id().uuid_string().as_bytes());
        h = crate::checksum::fnv1a64_more(h, &s.delete_opstamp().unwrap_or(0).to_le_bytes());
    }
    format!("{h:016x}")
}

impl TermList {
    /// The list for `searcher`'s generation, from `cache` (a directory
    /// beside the index), written first when missing.
    pub fn open_or_build(cache: &Path, searcher: &Searcher, field: Field) -> tantivy::Result<TermList> {
        let path = cache.join(generation(searcher));
        if let Some(list) = Self::map(&path) {
            return Ok(list);
        }
        let bytes = Self::collect(searcher, field)?;
        if Self::write(cache, &path, &bytes).is_ok()
            && let Some(list) = Self::map(&path)
        {
            return Ok(list);
        }
        // Not writable (a read-only data dir): scan what was collected.
        Ok(TermList::Owned(bytes))
    }

    fn map(path: &Path) -> Option<TermList> {
        let file = std::fs::File::open(path).ok()?;
        // SAFETY: a list file is written once under a temporary name and
        // renamed into place; it is never modified afterwards.
        let map = unsafe { Mmap::map(&file) }.ok()?;
        Some(TermList::Mapped(map))
    }

    /// Every term of the field across segments, merged, with its count.
    fn collect(searcher: &Searcher, field: Field) -> tantivy::Result<Vec<u8>> {
        let dictionaries =
            searcher.segment_readers().iter().map(|s| s.inverted_index(field)).collect::<tantivy::Result<Vec<_>>>()?;
        let mut streams = Vec::with_capacity(dictionaries.len());
        for d in &dictionaries {
            streams.push(d.terms().stream()?);
        }
        // A k-way merge of the sorted streams: (term, stream), smallest first.
        let mut heap: BinaryHeap<std::cmp::Reverse<(Vec<u8>, usize)>> = BinaryHeap::new();
        for (i, s) in streams.iter_mut().enumerate() {
            if s.advance() {
                heap.push(std::cmp::Reverse((s.key().to_vec(), i)));
            }
        }
        let mut out = Vec::new();
        let mut current: Option<(Vec<u8>, u64)> = None;
        while let Some(std::cmp::Reverse((key, i))) = heap.pop() {
            let freq = u64::from(streams[i].value().doc_freq);
            match &mut current {
                Some((k, f)) if *k == key => *f += freq,
                _ => {
                    if let Some((k, f)) = current.take() {
                        push_line(&mut out, &k, f);
                    }
                    current = Some((key, freq));
                }
            }
            if streams[i].advance() {
                heap.push(std::cmp::Reverse((streams[i].key().to_vec(), i)));
            }
        }
        if let Some((k, f)) = current {
            push_line(&mut out, &k, f);
        }
        Ok(out)
    }

    fn write(cache: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(cache)?;
        let tmp = cache.join(format!(".tmp-{}", std::process::id()));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Older generations are of no use to anyone.
        for e in std::fs::read_dir(cache)?.flatten() {
            if e.path() != *path && !e.file_name().to_string_lossy().starts_with(".tmp-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(())
    }

    /// Terms containing `pattern` (ending with it when `!infix`), with
    /// their counts: the `limit` most frequent.
    pub fn matches(&self, pattern: &[u8], infix: bool, limit: usize) -> Vec<String> {
        match self {
            TermList::Mapped(m) => scan(m, pattern, infix, limit),
            TermList::Owned(v) => scan(v, pattern, infix, limit),
        }
    }
}

fn push_line(out: &mut Vec<u8>, term: &[u8], freq: u64) {
    // Terms never hold a tab or a newline (the tokenizer keeps neither).
    out.extend_from_slice(term);
    out.push(b'\t');
    out.extend_from_slice(freq.to_string().as_bytes());
    out.push(b'\n');
}

fn scan(list: &[u8], pattern: &[u8], infix: bool, limit: usize) -> Vec<String> {
    let mut found: Vec<(u64, &[u8])> = Vec::new();
    let mut last_line = usize::MAX;
    for at in memchr::memmem::find_iter(list, pattern) {
        let start = memchr::memrchr(b'\n', &list[..at]).map_or(0, |p| p + 1);
        if start == last_line {
            continue;
        }
        let Some(tab) = memchr::memchr(b'\t', &list[at..]).map(|p| at + p) else { continue };
        let end = at + pattern.len();
        // Within the term, not its count; at its end for a suffix.
        if end > tab || (!infix && end != tab) {
            continue;
        }
        let stop = memchr::memchr(b'\n', &list[tab..]).map_or(list.len(), |p| tab + p);
        let freq = std::str::from_utf8(&list[tab + 1..stop]).ok().and_then(|f| f.parse().ok()).unwrap_or(0);
        found.push((freq, &list[start..tab]));
        last_line = start;
    }
    found.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    found.truncate(limit);
    found.into_iter().filter_map(|(_, t)| String::from_utf8(t.to_vec()).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_end_terms_and_infixes_stay_inside_them() {
        let mut list = Vec::new();
        for (t, f) in [("ioerror", 5), ("errors", 9), ("parseerror", 7), ("reconnect", 2), ("x12", 120)] {
            push_line(&mut list, t.as_bytes(), f);
        }
        assert_eq!(scan(&list, b"error", false, 10), ["parseerror", "ioerror"]);
        assert_eq!(scan(&list, b"error", true, 10), ["errors", "parseerror", "ioerror"]);
        assert_eq!(scan(&list, b"error", true, 1), ["errors"], "the most frequent first");
        assert_eq!(scan(&list, b"onnec", true, 10), ["reconnect"]);
        assert_eq!(scan(&list, b"12", true, 10), ["x12"], "never a count");
        assert!(scan(&list, b"20", true, 10).is_empty());
    }
}
