//! The semantic tiers and the embedder that builds and searches each. Both
//! the indexer (which builds tiers) and search (which reads them) ask here,
//! so the read side never depends on the write side.

use std::path::PathBuf;

use serde::Serialize;

use super::{EmbedError, Embedder};
use crate::config::DataDir;

/// A semantic tier: the same pipeline with a different embedder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// potion-base-8M, a static embedding model shipped in the binary:
    /// always available, no download.
    Fast,
    /// all-MiniLM-L6-v2: needs the model installed.
    Quality,
}

impl Tier {
    /// Both tiers, fast first.
    pub const ALL: [Tier; 2] = [Tier::Fast, Tier::Quality];

    /// The tier's name in reports, manifests and its directory (`fast`, `quality`).
    pub fn name(self) -> &'static str {
        match self {
            Tier::Fast => "fast",
            Tier::Quality => "quality",
        }
    }

    /// Messages per batch by default: the fast tier embeds 100k+ rows a
    /// second, so big batches amortize fsyncs; the quality tier does tens
    /// a second, so small batches keep checkpoints (and cancellation)
    /// seconds apart.
    pub fn default_batch(self) -> usize {
        match self {
            Tier::Fast => 16_384,
            Tier::Quality => 256,
        }
    }

    /// Id of the embedder that builds this tier, known before it loads.
    pub fn embedder_id(self) -> &'static str {
        match self {
            Tier::Fast => super::static_model::STATIC_ID,
            Tier::Quality => super::minilm::MINILM_ID,
        }
    }

    /// The command that builds (or rebuilds) this tier.
    pub fn build_command(self) -> &'static str {
        match self {
            Tier::Fast => "cass index",
            Tier::Quality => "cass semantic backfill --tier quality",
        }
    }

    /// `semantic/<tier>/` under the data dir.
    pub fn dir(self, data: &DataDir) -> PathBuf {
        data.semantic().join(self.name())
    }
}

/// The embedder that builds (and searches) a tier. `threads` is the quality
/// model's thread count (`None`: every core).
pub fn embedder_for(data: &DataDir, tier: Tier, threads: Option<usize>) -> Result<Box<dyn Embedder>, EmbedError> {
    match tier {
        Tier::Fast => Ok(Box::new(super::static_model::StaticEmbedder::embedded()?)),
        Tier::Quality => super::load_quality(data, threads),
    }
}
