//! Semantic retrieval over a published tier, and reciprocal-rank fusion.

use std::collections::HashMap;

use crate::config::DataDir;
use crate::embed::Embedder;
use crate::embed::Tier;
use crate::store::Store;
use crate::vector::manifest::Manifest;
use crate::vector::scan::{KeepId, Scored, top_k_among};
use crate::vector::segment::Segment;

use super::Filters;

/// RRF's constant: ranks matter, scores across engines are not compared.
pub const RRF_K: f64 = 60.0;

/// A tier opened for searching: its published segments and its embedder.
pub struct LoadedTier {
    /// Which tier this is.
    pub tier: Tier,
    /// The manifest the segments were opened from.
    pub manifest: Manifest,
    /// Its published segments, memory-mapped, in manifest order.
    pub segments: Vec<Segment>,
    /// The embedder that built the tier, for embedding queries.
    pub embedder: Box<dyn Embedder>,
}

/// Why a semantic tier cannot be searched.
#[derive(Debug, thiserror::Error)]
pub enum TierError {
    /// The tier has no published segment yet.
    #[error("the {0} tier is not published yet (run `cass index` or `cass semantic backfill --tier {0}`)")]
    NotPublished(&'static str),
    /// The tier exists but cannot run: unreadable, or built with another embedder than the installed one.
    #[error("the {tier} tier cannot be searched: {message}")]
    Unavailable {
        /// The tier's name.
        tier: &'static str,
        /// Why, and what to run to fix it when there is a fix.
        message: String,
    },
    /// The tier was built from another store (the store was deleted and
    /// re-created): its rows point at other messages, so it is not served.
    #[error("the {} tier was built from another store and is not served until `{}` rebuilds it", .0.name(), .0.build_command())]
    Stale(Tier),
    /// A listed segment vanished: a writer merged or republished the tier.
    #[error("{0}")]
    SegmentGone(String),
}

impl LoadedTier {
    /// Opens a tier's published state. Searches read only this: a running
    /// backfill's staging file and checkpoints are invisible until publish.
    pub fn open(
        data: &DataDir,
        tier: Tier,
        embed_threads: Option<usize>,
        store: &Store,
    ) -> Result<LoadedTier, TierError> {
        // A writer may publish or merge between reading the manifest and
        // opening its segments, deleting files the old manifest listed:
        // read the new manifest and try again.
        let mut attempt = 0;
        loop {
            match Self::open_once(data, tier, embed_threads, store) {
                Err(TierError::SegmentGone(_)) if attempt < 5 => attempt += 1,
                Err(TierError::SegmentGone(message)) => {
                    return Err(TierError::Unavailable { tier: tier.name(), message });
                }
                other => return other,
            }
        }
    }

    fn open_once(
        data: &DataDir,
        tier: Tier,
        embed_threads: Option<usize>,
        store: &Store,
    ) -> Result<LoadedTier, TierError> {
        let dir = tier.dir(data);
        let unavailable = |message: String| TierError::Unavailable { tier: tier.name(), message };
        let manifest = match Manifest::load(&dir) {
            Ok(Some(m)) if !m.segments.is_empty() => m,
            Ok(_) => return Err(TierError::NotPublished(tier.name())),
            Err(e) => return Err(unavailable(e.to_string())),
        };
        if !store.built_from_here(manifest.store_generation.as_deref()).map_err(|e| unavailable(e.to_string()))? {
            return Err(TierError::Stale(tier));
        }
        if manifest.segment_version != crate::vector::segment::VERSION {
            return Err(unavailable(format!(
                "its vectors are in segment format {} and this build reads {}; `{}` rebuilds it",
                manifest.segment_version,
                crate::vector::segment::VERSION,
                tier.build_command()
            )));
        }
        let embedder = crate::embed::embedder_for(data, tier, embed_threads).map_err(|e| unavailable(e.to_string()))?;
        if !manifest.matches(embedder.id(), embedder.dims(), embedder.model_checksum().as_deref()) {
            return Err(unavailable(format!(
                "it was built with {} and the installed embedder is {}; run `cass semantic backfill --tier {}`",
                manifest.embedder_id,
                embedder.id(),
                tier.name()
            )));
        }
        let seg_dir = dir.join("segments");
        let segments = manifest
            .segments
            .iter()
            .map(|s| {
                let path = seg_dir.join(&s.file);
                Segment::open(&path).map_err(|e| {
                    if path.exists() {
                        unavailable(e.to_string())
                    } else {
                        TierError::SegmentGone(format!("{} was replaced while it was opened", path.display()))
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LoadedTier { tier, manifest, segments, embedder })
    }

    /// Embeds the query and finds the best published rows (codes first,
    /// candidates rescored exactly: [`crate::vector::scan`]), keeping rows
    /// at or above the embedder's similarity floor. The caller has already sent
    /// queries with no word ([`crate::embed::has_words`]) elsewhere.
    /// `keep` narrows by message id what the rows cannot tell (the machine).
    pub fn search(
        &self,
        query_text: &str,
        filters: &Filters,
        keep: Option<KeepId<'_>>,
        k: usize,
    ) -> Result<Vec<Scored>, String> {
        if !self.embedder.knows_a_word(query_text) {
            return Ok(Vec::new());
        }
        let mut q = Vec::with_capacity(self.embedder.dims());
        self.embedder.embed(&[query_text], &mut q).map_err(|e| e.to_string())?;
        if q.iter().all(|x| *x == 0.0) {
            // No token the model knows: nothing matches by meaning.
            return Ok(Vec::new());
        }
        let floor = self.embedder.similarity_floor();
        let mut hits = top_k_among(&self.segments, &q, k, filters, keep);
        hits.retain(|s| s.score >= floor);
        Ok(hits)
    }
}

/// Fuses ranked id lists by reciprocal rank: each list adds `1 / (k + rank)`.
pub fn rrf(lists: &[Vec<i64>]) -> Vec<(i64, f64)> {
    let mut scores: HashMap<i64, f64> = HashMap::new();
    for list in lists {
        for (rank, id) in list.iter().enumerate() {
            *scores.entry(*id).or_default() += 1.0 / (RRF_K + rank as f64 + 1.0);
        }
    }
    let mut fused: Vec<(i64, f64)> = scores.into_iter().collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_rewards_agreement() {
        let fused = rrf(&[vec![1, 2, 3], vec![3, 4, 1]]);
        assert_eq!(fused[0].0, 1); // rank 1 + rank 3
        assert_eq!(fused[1].0, 3); // rank 3 + rank 1, higher id loses the tie
        assert_eq!(fused.len(), 4);
        assert!((fused[0].1 - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-12);
    }
}
