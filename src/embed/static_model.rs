//! The `fast` tier's embedder: a model2vec static embedding model.
//!
//! A static model is one vector per token: a text's embedding is the mean of
//! its tokens' vectors, L2-normalized. No network runs, so it costs little
//! more than tokenizing, yet it carries meaning the hash embedder cannot
//! (potion-base-8M is distilled from bge-base-en-v1.5). The model ships
//! inside the binary (`assets/potion-base-8M`, MIT), packed as int8 with a
//! scale per row, so the default needs no download.
//!
//! The recipe follows model2vec's `encode`: cut the text at
//! `max_tokens × median token length` characters, tokenize without special
//! tokens, drop unknown tokens, keep the first `max_tokens` ids.

use std::sync::OnceLock;

use tokenizers::Tokenizer;

use super::wordpiece::WordPiece;
use super::{EmbedError, Embedder, l2_normalize};

/// The embedder id recorded in the fast tier's manifest.
pub const STATIC_ID: &str = "potion-base-8M";
/// Width of its vectors.
pub const STATIC_DIMS: usize = 256;
/// sha256 of the packed matrix and of the tokenizer, as embedded (checked
/// by a test): the fast tier's manifest records it, so a build with another
/// model rebuilds the tier instead of mixing vectors.
pub const STATIC_CHECKSUM: &str = "922850b4cb8ca519ccac61b2aa854a30cf02540809b03927674ed602f826fe4e-e67e803f624fb4d67dea1c730d06e1067e1b14d830e2c2202569e3ef0f70bb50";
/// Cosine below which a row is no match (see [`Embedder::similarity_floor`]).
pub const STATIC_FLOOR: f32 = 0.33;
/// Tokens per text, as model2vec's default.
const MAX_TOKENS: usize = 512;

const PACKED: &[u8] = include_bytes!("../../assets/potion-base-8M/embeddings.i8");
const TOKENIZER: &[u8] = include_bytes!("../../assets/potion-base-8M/tokenizer.json");
/// The model's licence, for `cass --version --verbose`.
pub const LICENSE: &str = include_str!("../../assets/potion-base-8M/LICENSE");
/// One line of attribution for the embedded model.
pub const ATTRIBUTION: &str =
    "fast tier: potion-base-8M by MinishLab (model2vec, MIT), https://huggingface.co/minishlab/potion-base-8M";

/// A static embedding model: per-row int8 vectors and their scales.
pub struct StaticModel {
    tokenizer: Tokenizer,
    /// The tokenizer's ASCII fast path, when it is BERT WordPiece.
    wordpiece: Option<WordPiece>,
    rows: usize,
    dims: usize,
    /// Characters kept before tokenizing: `MAX_TOKENS × median token length`.
    max_chars: usize,
    unk: Option<u32>,
    scales: Vec<f32>,
    values: &'static [i8],
}

impl std::fmt::Debug for StaticModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticModel").field("rows", &self.rows).field("dims", &self.dims).finish_non_exhaustive()
    }
}

fn model_err(message: impl std::fmt::Display) -> EmbedError {
    EmbedError::Model { model: STATIC_ID.into(), message: message.to_string() }
}

impl StaticModel {
    /// The model embedded in the binary, parsed once per process.
    pub fn embedded() -> Result<&'static StaticModel, EmbedError> {
        static MODEL: OnceLock<Result<StaticModel, String>> = OnceLock::new();
        MODEL
            .get_or_init(|| StaticModel::parse(PACKED, TOKENIZER).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(model_err)
    }

    /// Parses the packed form (see `scripts/pack-static-model.py`).
    fn parse(packed: &'static [u8], tokenizer: &[u8]) -> Result<StaticModel, EmbedError> {
        let header = packed.get(..20).ok_or_else(|| model_err("packed model is truncated"))?;
        if &header[..8] != b"CASSM2V1" {
            return Err(model_err("packed model has the wrong magic"));
        }
        let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().expect("4 bytes")) as usize;
        let (rows, dims, median) = (word(8), word(12), word(16));
        let scales_end = 20 + rows * 4;
        if packed.len() != scales_end + rows * dims {
            return Err(model_err("packed model's size does not match its header"));
        }
        let scales = packed[20..scales_end]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        // SAFETY: i8 and u8 have the same size and alignment, and every
        // byte pattern is a valid i8.
        let values = unsafe { std::slice::from_raw_parts(packed[scales_end..].as_ptr().cast::<i8>(), rows * dims) };
        let tokenizer = Tokenizer::from_bytes(tokenizer).map_err(model_err)?;
        let unk = tokenizer.token_to_id("[UNK]");
        let wordpiece = WordPiece::for_tokenizer(&tokenizer);
        Ok(StaticModel { tokenizer, wordpiece, rows, dims, max_chars: MAX_TOKENS * median.max(1), unk, scales, values })
    }

    /// Token ids of `text` as model2vec counts them: no special tokens, no
    /// unknown tokens, at most [`MAX_TOKENS`].
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, EmbedError> {
        let cut = match text.char_indices().nth(self.max_chars) {
            Some((i, _)) => &text[..i],
            None => text,
        };
        if let Some(wp) = &self.wordpiece {
            let mut ids = Vec::new();
            wp.encode(cut, &self.tokenizer, self.unk, MAX_TOKENS, &mut ids).map_err(model_err)?;
            ids.retain(|&id| (id as usize) < self.rows);
            return Ok(ids);
        }
        self.reference_ids(cut)
    }

    /// [`Self::token_ids`] through the `tokenizers` crate alone: the
    /// reference the fast path is checked against.
    fn reference_ids(&self, cut: &str) -> Result<Vec<u32>, EmbedError> {
        let enc = self.tokenizer.encode_fast(cut, false).map_err(model_err)?;
        Ok(enc
            .get_ids()
            .iter()
            .copied()
            .filter(|&id| Some(id) != self.unk && (id as usize) < self.rows)
            .take(MAX_TOKENS)
            .collect())
    }

    /// Writes the normalized mean of `ids`' vectors into `row` (zeroed by
    /// the caller; left zero when `ids` is empty).
    fn pool(&self, ids: &[u32], row: &mut [f32]) {
        for &id in ids {
            let id = id as usize;
            let scale = self.scales[id];
            for (acc, &q) in row.iter_mut().zip(&self.values[id * self.dims..(id + 1) * self.dims]) {
                *acc += f32::from(q) * scale;
            }
        }
        // The mean's 1/n cancels in normalization.
        l2_normalize(row);
    }
}

/// The fast tier's embedder over the embedded [`StaticModel`].
#[derive(Debug, Clone, Copy)]
pub struct StaticEmbedder {
    model: &'static StaticModel,
}

impl StaticEmbedder {
    /// The embedder of the model shipped in the binary.
    pub fn embedded() -> Result<StaticEmbedder, EmbedError> {
        Ok(StaticEmbedder { model: StaticModel::embedded()? })
    }
}

impl Embedder for StaticEmbedder {
    fn id(&self) -> &str {
        STATIC_ID
    }

    fn dims(&self) -> usize {
        self.model.dims
    }

    fn model_checksum(&self) -> Option<String> {
        // Pinned, not hashed at run time: every search process opens the
        // tier, and hashing 8 MB there would cost more than the search.
        Some(STATIC_CHECKSUM.to_string())
    }

    fn similarity_floor(&self) -> f32 {
        STATIC_FLOOR
    }

    /// A word the vocabulary holds whole: letters that only split into
    /// sub-word pieces (`vrrbltq`) carry no meaning a static model learned,
    /// and their pieces' vectors land near everything at once.
    fn knows_a_word(&self, text: &str) -> bool {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().nth(1).is_some())
            .any(|w| self.model.tokenizer.token_to_id(&w.to_lowercase()).is_some())
    }

    fn embed(&self, texts: &[&str], out: &mut Vec<f32>) -> Result<(), EmbedError> {
        let dims = self.model.dims;
        for text in texts {
            let ids = self.model.token_ids(text)?;
            let start = out.len();
            out.resize(start + dims, 0.0);
            self.model.pool(&ids, &mut out[start..]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn embed(text: &str) -> Vec<f32> {
        let e = StaticEmbedder::embedded().unwrap();
        let mut out = Vec::new();
        e.embed(&[text], &mut out).unwrap();
        out
    }

    #[test]
    fn vectors_are_unit_length_and_carry_meaning() {
        let a = embed("the database connection keeps timing out");
        let b = embed("postgres queries hang until the socket times out");
        let c = embed("a recipe for chocolate cake with strawberries");
        assert_eq!(a.len(), 256);
        assert!((cos(&a, &a) - 1.0).abs() < 1e-5);
        assert!(cos(&a, &b) > cos(&a, &c) + 0.1, "{} vs {}", cos(&a, &b), cos(&a, &c));
    }

    #[test]
    fn text_with_only_unknown_tokens_is_the_zero_vector() {
        assert!(embed("").iter().all(|x| *x == 0.0));
        assert!(embed("   ").iter().all(|x| *x == 0.0));
    }

    /// The fast path must give the crate's ids on everything agents write:
    /// every line of every fixture (several agents' real formats: JSON,
    /// escapes, code, paths, Unicode), and the edge cases below.
    #[test]
    fn the_wordpiece_fast_path_gives_the_reference_ids() {
        let m = StaticModel::embedded().unwrap();
        assert!(m.wordpiece.is_some(), "potion's tokenizer is BERT WordPiece");
        let mut texts: Vec<String> = [
            "Hello, World! It's 3.14 -- fn main() { println!(\"{x:?}\"); }",
            "tab\tseparated\r\nlines\x07bell\x1b[31mred\x1b[0m\x7fdel\x0bvt\x0cff",
            "café naïve résumé Ünïcödé — “quotes” and ‘single’ … ellipsis",
            "中文字符 mixed with English and 日本語のテキスト",
            "emoji 🦀 rocket 🚀 in text, and NBSP\u{a0}here, and zero\u{200b}width",
            "supercalifragilisticexpialidocious antidisestablishmentarianism",
            &"x".repeat(150),
            "snake_case_identifier CamelCaseIdentifier kebab-case-name path/to/file.rs:42:7",
            "0x7fff_ffff 1e-9 v1.2.3-beta+build.5 sha256:9f86d081884c7d659a2feaa0c55ad015",
            "",
            "   ",
            "\u{0}\u{fffd}nul and replacement",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(bytes) = std::fs::read(&p) {
                    let text = String::from_utf8_lossy(&bytes);
                    texts.extend(text.lines().take(2000).map(str::to_string));
                }
            }
        }
        assert!(texts.len() > 1000, "only {} texts: is ../shared/fixtures present?", texts.len());
        for t in &texts {
            let cut = match t.char_indices().nth(m.max_chars) {
                Some((i, _)) => &t[..i],
                None => t.as_str(),
            };
            assert_eq!(m.token_ids(t).unwrap(), m.reference_ids(cut).unwrap(), "{t:?}");
        }
    }

    #[test]
    fn the_pinned_checksum_is_the_embedded_files_sha256() {
        use sha2::{Digest, Sha256};
        let hex = |b: &[u8]| Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(STATIC_CHECKSUM, format!("{}-{}", hex(PACKED), hex(TOKENIZER)));
    }

    #[test]
    fn long_text_is_cut_to_the_token_limit() {
        let model = StaticModel::embedded().unwrap();
        let long = "word ".repeat(5000);
        assert_eq!(model.token_ids(&long).unwrap().len(), MAX_TOKENS);
    }
}
