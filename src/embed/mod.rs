//! Embedders: text in, unit vectors out. The semantic tiers and query-time
//! search share this trait, so a tier is always searched with the embedder
//! that built it.

pub mod canonical;
pub mod hash;
pub mod minilm;
pub mod static_model;
mod tier;
mod wordpiece;

pub use tier::{Tier, embedder_for};

/// Why a batch could not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model's files are unusable (bad config or weights) or inference failed.
    #[error("model {model}: {message}")]
    Model {
        /// The model's id, or the path of its files.
        model: String,
        /// What went wrong.
        message: String,
    },
    /// A file the model needs could not be found or read.
    #[error("model files missing at {path}: {message}")]
    Missing {
        /// Where the file was looked for.
        path: String,
        /// Why it could not be used (and how to install the model).
        message: String,
    },
}

/// Turns texts into unit vectors; one implementation per tier.
pub trait Embedder: Send + Sync {
    /// Stable id recorded in tier manifests (`hash`, `minilm-384`).
    fn id(&self) -> &str;
    /// Length of every vector it produces.
    fn dims(&self) -> usize;
    /// Checksum of the model files, when there is a model; a manifest whose
    /// checksum differs means the tier is rebuilt rather than mixed.
    fn model_checksum(&self) -> Option<String> {
        None
    }
    /// Embeds each text into `dims()` floats, appended to `out` row by row.
    /// Every row is L2-normalized (or all zeros for a text with no tokens).
    fn embed(&self, texts: &[&str], out: &mut Vec<f32>) -> Result<(), EmbedError>;
    /// Largest `rows × longest input (in tokens)` one call should take, so
    /// memory stays flat for models whose cost grows with padding. `None`
    /// means batches need no such bound.
    fn batch_token_budget(&self) -> Option<usize> {
        None
    }
    /// Cosine below which a row is not a match by meaning. Every text has
    /// a nearest neighbour, so without a floor a query of random letters
    /// "finds" something; each model's floor is calibrated on data of our
    /// own (docs/SEMANTIC.md).
    fn similarity_floor(&self) -> f32 {
        0.0
    }
    /// Whether the model has learned any word of `text`; when not, nothing
    /// can match it by meaning. Models that read sub-word context (MiniLM)
    /// say yes.
    fn knows_a_word(&self, _text: &str) -> bool {
        true
    }
}

/// Whether a query has anything to search by meaning: a word of two or
/// more letters or digits. `C++`, `C#`, `a` and `???` do not; they are
/// searched lexically.
pub fn has_words(text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric()).any(|t| t.chars().nth(1).is_some())
}

/// Scales a vector to unit length; leaves an all-zero vector as it is.
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in v {
            *x /= norm;
        }
    }
}

/// Loads the `quality` tier's embedder from the data dir's installed model.
pub fn load_quality(data: &crate::config::DataDir, threads: Option<usize>) -> Result<Box<dyn Embedder>, EmbedError> {
    let dir = crate::models::minilm_dir(data);
    if !dir.join("model.safetensors").exists() {
        return Err(EmbedError::Missing {
            path: dir.display().to_string(),
            message: "the quality model is not installed; run `cass models install --from DIR`".into(),
        });
    }
    Ok(Box::new(minilm::MiniLm::load(&dir, crate::models::minilm_checksum(), threads)?))
}
