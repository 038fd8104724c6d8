//! A fast path through the static model's BERT WordPiece tokenizer.
//!
//! The `tokenizers` crate runs BERT's normalizer, pre-tokenizer and
//! WordPiece with character offsets tracked through every step; the fast
//! tier needs only the ids, and that bookkeeping was most of its backfill
//! time (about 250 µs a message). Almost all agent text is ASCII, and for
//! ASCII the pipeline is short: drop control characters, split on
//! whitespace and on each punctuation character, lowercase, then greedy
//! longest-match WordPiece. This module does exactly that for ASCII words
//! and hands every whitespace-separated chunk holding any other byte to the
//! `tokenizers` crate, so accents, CJK and Unicode punctuation keep the
//! reference behaviour. Everything BERT does is local to such a chunk, so
//! the ids are the same as tokenizing the whole text (a test checks this on
//! the fixture corpora).

use rustc_hash::FxHashMap;
use tokenizers::Tokenizer;

/// The vocabulary split for greedy matching: word-initial pieces and
/// `##` continuations (stored without the prefix).
#[derive(Debug)]
pub struct WordPiece {
    initial: FxHashMap<Box<str>, u32>,
    continuing: FxHashMap<Box<str>, u32>,
    /// Longest piece, in bytes: no longer match can exist.
    longest: usize,
    /// Words longer than this are one unknown token.
    max_word_chars: usize,
}

impl WordPiece {
    /// The fast path for `tokenizer`, when it is the BERT pipeline this
    /// module reproduces (lowercasing BERT normalizer, BERT pre-tokenizer,
    /// WordPiece with `##`); `None` for anything else.
    pub fn for_tokenizer(tokenizer: &Tokenizer) -> Option<WordPiece> {
        let json: serde_json::Value = serde_json::from_str(&tokenizer.to_string(false).ok()?).ok()?;
        let norm = &json["normalizer"];
        let bert_normalizer = norm["type"] == "BertNormalizer"
            && norm["clean_text"] == true
            && norm["lowercase"] == true
            && norm["strip_accents"] != false;
        let model = &json["model"];
        let supported = bert_normalizer
            && json["pre_tokenizer"]["type"] == "BertPreTokenizer"
            && model["type"] == "WordPiece"
            && model["continuing_subword_prefix"] == "##";
        if !supported {
            return None;
        }
        let mut initial = FxHashMap::default();
        let mut continuing = FxHashMap::default();
        let mut longest = 0;
        for (piece, id) in tokenizer.get_vocab(false) {
            longest = longest.max(piece.len());
            match piece.strip_prefix("##") {
                Some(rest) if !rest.is_empty() => continuing.insert(rest.into(), id),
                _ => initial.insert(piece.into(), id),
            };
        }
        let max_word_chars = model["max_input_chars_per_word"].as_u64().unwrap_or(100) as usize;
        Some(WordPiece { initial, continuing, longest, max_word_chars })
    }

    /// Appends the ids of `text` to `out`: `unk` ids are left out, as the
    /// static model drops them; stops once `out` holds `limit` ids.
    pub fn encode(
        &self,
        text: &str,
        tokenizer: &Tokenizer,
        unk: Option<u32>,
        limit: usize,
        out: &mut Vec<u32>,
    ) -> Result<(), tokenizers::Error> {
        let mut word = String::new();
        for chunk in text.split([' ', '\t', '\n', '\r']) {
            if out.len() >= limit {
                break;
            }
            if chunk.is_empty() {
                continue;
            }
            if !chunk.is_ascii() {
                let enc = tokenizer.encode_fast(chunk, false)?;
                out.extend(enc.get_ids().iter().copied().filter(|&id| Some(id) != unk));
                continue;
            }
            // Control characters vanish (joining what they separated);
            // each punctuation character is a word of its own.
            word.clear();
            for b in chunk.bytes() {
                if b.is_ascii_control() {
                    continue;
                }
                if b.is_ascii_punctuation() {
                    self.push_word(&word, out);
                    word.clear();
                    self.push_word(std::str::from_utf8(&[b]).expect("ASCII"), out);
                } else {
                    word.push(b.to_ascii_lowercase() as char);
                }
            }
            self.push_word(&word, out);
        }
        out.truncate(limit);
        Ok(())
    }

    /// Greedy longest-match-first pieces of one lowercase ASCII word; a
    /// word with an unmatched stretch, or too long, is unknown (nothing).
    fn push_word(&self, word: &str, out: &mut Vec<u32>) {
        if word.is_empty() || word.len() > self.max_word_chars {
            return;
        }
        let mark = out.len();
        let mut start = 0;
        while start < word.len() {
            let table = if start == 0 { &self.initial } else { &self.continuing };
            let mut end = word.len().min(start + self.longest);
            let found = loop {
                if end == start {
                    break None;
                }
                if let Some(&id) = table.get(&word[start..end]) {
                    break Some(id);
                }
                end -= 1;
            };
            match found {
                Some(id) => {
                    out.push(id);
                    start = end;
                }
                None => {
                    out.truncate(mark);
                    return;
                }
            }
        }
    }
}
