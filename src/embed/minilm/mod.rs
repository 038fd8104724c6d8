//! The `quality` tier's embedder: sentence-transformers all-MiniLM-L6-v2
//! (BERT, 6 layers, hidden 384), in pure Rust. The tokenizer is the model's
//! own `tokenizer.json` through the `tokenizers` crate (truncation at 256,
//! no padding, as sentence-transformers runs it); the forward pass is our
//! own on the `gemm` crate, or where the kernels are AVX2 on our own panel
//! kernel (`forward`, `panels`); weights come from `model.safetensors`
//! (`weights`).
//!
//! The forward pass's `unsafe` stays inside this module tree: the SIMD
//! kernels (`math`, `attention`, `panels`) and the raw-pointer GEMM views they take
//! are private. Its surface is [`MiniLm`] (an [`Embedder`]), its
//! [`BertConfig`] and [`StageTimes`], and a few constants, all safe to call.

mod attention;
mod forward;
mod math;
mod panels;
mod weights;

use std::path::Path;

use tokenizers::{Tokenizer, TruncationParams};

use super::{EmbedError, Embedder};
pub use forward::StageTimes;
pub use math::{IsaError, IsaLimit, limit_isa};
pub use weights::BertConfig;
use weights::Weights;

/// The embedder id of all-MiniLM-L6-v2, recorded in manifests; also its folder under `models/`.
pub const MINILM_ID: &str = "minilm-384";
/// sentence-transformers' `max_seq_length` for this model.
pub const MAX_TOKENS: usize = 256;
/// Largest padded-free batch, in tokens: bounds the `[tokens × 1536]`
/// intermediate activations (about 100 MB here) whatever the input mix.
pub const BATCH_TOKEN_BUDGET: usize = 16_384;

/// The widest instruction set the forward pass's kernels use on this CPU
/// in this build, under [`limit_isa`]'s limit: "AVX-512" (only with the
/// default `avx512` feature), "AVX2+FMA" or "baseline". For reports.
pub fn kernel_isa() -> &'static str {
    math::isa()
}

/// all-MiniLM-L6-v2 loaded and ready: tokenizer, weights and its own thread pool.
pub struct MiniLm {
    tokenizer: Tokenizer,
    weights: Weights,
    pool: rayon::ThreadPool,
    threads: usize,
    checksum: String,
    id: String,
    /// Activation buffers reused across batches (one batch runs at a time).
    scratch: std::sync::Mutex<forward::Scratch>,
}

fn model_err(dir: &Path, message: impl std::fmt::Display) -> EmbedError {
    EmbedError::Model { model: dir.display().to_string(), message: message.to_string() }
}

impl MiniLm {
    /// Loads the model in `dir`. `checksum` is what tier manifests record
    /// for it (the pinned sha256 of `model.safetensors` for an installed
    /// model). `threads`: `None` means every core.
    pub fn load(dir: &Path, checksum: &str, threads: Option<usize>) -> Result<MiniLm, EmbedError> {
        let tok_path = dir.join("tokenizer.json");
        if !tok_path.exists() {
            return Err(EmbedError::Missing {
                path: tok_path.display().to_string(),
                message: "no tokenizer.json".into(),
            });
        }
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| model_err(&tok_path, e))?;
        // The shipped tokenizer.json truncates and pads to 128; the model
        // was trained and is served truncating at 256, padding to nothing.
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| model_err(&tok_path, e))?;
        tokenizer.with_padding(None);
        let weights = Weights::load(dir)?;
        let threads =
            threads.filter(|&n| n > 0).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("cass-embed-{i}"))
            .build()
            .map_err(|e| model_err(dir, e))?;
        let id = if weights.config.hidden_size == 384 {
            MINILM_ID.to_string()
        } else {
            format!("bert-{}", weights.config.hidden_size)
        };
        Ok(MiniLm {
            tokenizer,
            weights,
            pool,
            threads,
            checksum: checksum.to_string(),
            id,
            scratch: Default::default(),
        })
    }

    /// The model's shape, as its `config.json` gives it.
    pub fn config(&self) -> &BertConfig {
        &self.weights.config
    }

    /// Threads the forward pass runs on.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Token ids per text: `[CLS] … [SEP]`, at most 256.
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, EmbedError> {
        let enc = self
            .pool
            .install(|| self.tokenizer.encode_batch(texts.to_vec(), true))
            .map_err(|e| EmbedError::Model { model: self.id.clone(), message: e.to_string() })?;
        Ok(enc.into_iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// Embeds already-tokenized sequences.
    pub fn embed_tokens(&self, seqs: &[Vec<u32>]) -> Vec<f32> {
        // A poisoned lock only means a batch panicked midway; the buffers
        // carry no state between batches, so they are still fine to reuse.
        let mut scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let scratch: &mut forward::Scratch = &mut scratch;
        self.pool.install(|| forward::embed(&self.weights, seqs, self.threads, scratch))
    }

    /// The forward pass's wall time per stage, summed over the batches
    /// embedded since the last call: for benchmarks and profiling.
    pub fn take_stage_times(&self) -> StageTimes {
        self.scratch.lock().unwrap_or_else(|e| e.into_inner()).take_times()
    }
}

/// Cosine below which a row is no match (see [`Embedder::similarity_floor`]),
/// calibrated in `tests/semantic_default.rs`.
pub const MINILM_FLOOR: f32 = 0.3;

impl Embedder for MiniLm {
    fn id(&self) -> &str {
        &self.id
    }
    fn dims(&self) -> usize {
        self.weights.config.hidden_size
    }
    fn model_checksum(&self) -> Option<String> {
        Some(self.checksum.clone())
    }
    fn similarity_floor(&self) -> f32 {
        MINILM_FLOOR
    }
    fn embed(&self, texts: &[&str], out: &mut Vec<f32>) -> Result<(), EmbedError> {
        let seqs = self.tokenize(texts)?;
        out.extend(self.embed_tokens(&seqs));
        Ok(())
    }
    fn batch_token_budget(&self) -> Option<usize> {
        Some(BATCH_TOKEN_BUDGET)
    }
}
