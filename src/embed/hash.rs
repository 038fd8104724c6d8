//! The `fast` tier's embedder: feature hashing, no model, always available.
//!
//! Lowercase, split on non-alphanumerics, drop tokens under 2 characters,
//! FNV-1a 64 of each token picks a bucket (`hash mod 384`) and a sign (the
//! top bit: set means −1), then the vector is L2-normalized. A text with no
//! token of two or more characters maps to the all-zero vector, which scores
//! 0 against everything; canonical text never sends such a text (it is not
//! embedded), and a query that yields it is refused with a clear error. So,
//! rarely, does a text whose tokens cancel (two in one bucket with opposite
//! signs, about 1 in 768 two-word queries): semantic search answers such a
//! query with no hits rather than an error.

use super::{EmbedError, Embedder, l2_normalize};

/// Length of a hash vector: 384 buckets, the same width as the quality tier.
pub const HASH_DIMS: usize = 384;
/// The embedder id recorded in the fast tier's manifest.
pub const HASH_ID: &str = "hash";

/// The fast tier's embedder: feature hashing of tokens, no model files.
#[derive(Debug, Default, Clone, Copy)]
pub struct HashEmbedder;

pub use crate::checksum::fnv1a64;

impl HashEmbedder {
    /// Whether the recipe counts any token of `text` (a run of two or more
    /// alphanumeric characters). A text with tokens can still embed to the
    /// zero vector: two tokens in one bucket with opposite signs cancel.
    pub fn has_tokens(text: &str) -> bool {
        // The same rule as a query's words: runs of two or more alphanumerics.
        super::has_words(text)
    }

    /// Embeds one text into `row` (length [`HASH_DIMS`], zeroed by the caller).
    pub fn embed_one(text: &str, row: &mut [f32]) {
        let mut add = |token: &[u8]| {
            let h = fnv1a64(token);
            let bucket = (h % HASH_DIMS as u64) as usize;
            row[bucket] += if h >> 63 == 1 { -1.0 } else { 1.0 };
        };
        if text.is_ascii() {
            // Fast path: bytes, lowercased into a small stack buffer.
            let mut buf = [0u8; 256];
            for token in text.as_bytes().split(|b| !b.is_ascii_alphanumeric()) {
                if token.len() < 2 {
                    continue;
                }
                if token.len() <= buf.len() {
                    let t = &mut buf[..token.len()];
                    t.copy_from_slice(token);
                    t.make_ascii_lowercase();
                    add(t);
                } else {
                    add(token.to_ascii_lowercase().as_slice());
                }
            }
        } else {
            let mut token = String::new();
            let mut chars = 0;
            for c in text.chars().chain(std::iter::once(' ')) {
                if c.is_alphanumeric() {
                    token.extend(c.to_lowercase());
                    chars += 1;
                } else if !token.is_empty() {
                    if chars >= 2 {
                        add(token.as_bytes());
                    }
                    token.clear();
                    chars = 0;
                }
            }
        }
        l2_normalize(row);
    }
}

impl Embedder for HashEmbedder {
    fn id(&self) -> &str {
        HASH_ID
    }
    fn dims(&self) -> usize {
        HASH_DIMS
    }
    fn embed(&self, texts: &[&str], out: &mut Vec<f32>) -> Result<(), EmbedError> {
        let start = out.len();
        out.resize(start + texts.len() * HASH_DIMS, 0.0);
        for (text, row) in texts.iter().zip(out[start..].chunks_exact_mut(HASH_DIMS)) {
            Self::embed_one(text, row);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embed(s: &str) -> Vec<f32> {
        let mut out = Vec::new();
        HashEmbedder.embed(&[s], &mut out).unwrap();
        out
    }

    #[test]
    fn follows_the_documented_recipe() {
        let v = embed("Hello, hello WORLD a");
        // "a" is dropped; hello twice, world once.
        let h = fnv1a64(b"hello");
        let w = fnv1a64(b"world");
        let (hb, wb) = ((h % 384) as usize, (w % 384) as usize);
        let (hs, ws) = (if h >> 63 == 1 { -1.0 } else { 1.0 }, if w >> 63 == 1 { -1.0 } else { 1.0 });
        let norm = (4.0f32 + 1.0).sqrt();
        assert!((v[hb] - 2.0 * hs / norm).abs() < 1e-6);
        assert!((v[wb] - ws / norm).abs() < 1e-6);
        assert_eq!(v.iter().filter(|x| **x != 0.0).count(), 2);
        assert!((v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn ascii_and_unicode_paths_agree() {
        // The same tokens reached through the byte path and the char path.
        let a = embed("Hello WORLD parser_error x");
        let b = embed("Hello WORLD parser_error x é");
        assert_eq!(a, b, "a one-char token is dropped on both paths");
        let c = embed("naïve café");
        assert_eq!(c.iter().filter(|x| **x != 0.0).count(), 2);
    }

    #[test]
    fn text_without_tokens_is_the_zero_vector() {
        assert!(embed("a . ! ?").iter().all(|x| *x == 0.0));
        assert_eq!(embed("").len(), HASH_DIMS);
    }

    #[test]
    fn tokens_in_one_bucket_with_opposite_signs_cancel() {
        // Both hash to bucket 8, "ithxantesith" with the sign bit set.
        let v = embed("ithxantesith monosargul");
        assert!(v.iter().all(|x| *x == 0.0), "{:?}", v.iter().filter(|x| **x != 0.0).collect::<Vec<_>>());
        assert!(HashEmbedder::has_tokens("ithxantesith monosargul"));
        assert!(HashEmbedder::has_tokens("naïve x"));
        assert!(!HashEmbedder::has_tokens("a . ! ? é"));
    }

    #[test]
    fn fnv_matches_the_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
    }
}
