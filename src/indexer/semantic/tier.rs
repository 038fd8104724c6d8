//! Where a tier's files live, and what state it is in.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::embed::{Embedder, Tier};
use crate::vector::manifest::Manifest;
use crate::vector::{Result, VectorError};

/// The highest `N` of a `seg-N.cvs` file in the tier's segment folder (0: none).
fn highest_segment_number(dir: &Path) -> u64 {
    std::fs::read_dir(segment_dir(dir))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_prefix("seg-")?.split('.').next()?.parse::<u64>().ok()
                })
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

pub(super) fn staging_path(dir: &Path) -> PathBuf {
    dir.join("staging.bin")
}

pub(super) fn segment_dir(dir: &Path) -> PathBuf {
    dir.join("segments")
}

/// Loads the tier's manifest, or starts a new one when there is none or it
/// was built by another embedder, model or dimension (never mix vectors).
/// Also removes files a crash left behind: segments the manifest does not
/// list, and temp files. Returns (manifest, rebuilt).
pub(super) fn open_manifest(
    dir: &Path,
    tier: Tier,
    embedder: &dyn Embedder,
    store: &crate::store::Store,
) -> std::result::Result<(Manifest, bool), super::BackfillError> {
    let checksum = embedder.model_checksum();
    let generation = store.generation()?;
    let existing = match Manifest::load(dir) {
        Ok(m) => m,
        Err(e) => {
            // A damaged commit point cannot be trusted: build the tier again
            // from the store (the old segments go with it).
            tracing::warn!("the {} tier's manifest is damaged ({e}); rebuilding the tier from the store", tier.name());
            Some(Manifest::new(tier.name(), "damaged", 0, None))
        }
    };
    // A tier in the format before codes, otherwise this one's: rewritten
    // from its own vectors (seconds) rather than embedded again (hours on
    // the quality tier). If that fails, it is built again below.
    let existing = match existing {
        Some(mut m)
            if m.segment_version == 1
                && Manifest { segment_version: crate::vector::segment::VERSION, ..m.clone() }.matches(
                    embedder.id(),
                    embedder.dims(),
                    checksum.as_deref(),
                )
                && store.built_from_here(m.store_generation.as_deref())? =>
        {
            m.next_segment = m.next_segment.max(highest_segment_number(dir) + 1);
            match super::publish::rewrite_older_format(dir, &mut m) {
                Ok(()) => {
                    tracing::info!("the {} tier's segments were rewritten in format {}", tier.name(), m.segment_version)
                }
                Err(e) => tracing::warn!(
                    "the {} tier could not be rewritten in this format ({e}); rebuilding it",
                    tier.name()
                ),
            }
            Some(m)
        }
        other => other,
    };
    let (mut manifest, rebuilt) = match existing {
        Some(m)
            if m.matches(embedder.id(), embedder.dims(), checksum.as_deref())
                && store.built_from_here(m.store_generation.as_deref())?
                && m.checkpoint.last_message_id <= crate::store::query::id_high_water(store)? =>
        {
            (m, false)
        }
        other => {
            let rebuilt = other.is_some();
            let _ = std::fs::remove_file(staging_path(dir));
            let mut m = Manifest::new(tier.name(), embedder.id(), embedder.dims(), checksum);
            // Never reuse a file name (a reader may still map an old one):
            // past the old manifest's count and every file on disk.
            let on_disk = highest_segment_number(dir);
            m.next_segment = other.map_or(1, |old| old.next_segment).max(on_disk + 1);
            m.store_generation = Some(generation.clone());
            m.save(dir)?;
            (m, rebuilt)
        }
    };
    if manifest.store_generation.is_none() {
        // Built before generations, from this (upgraded) store: stamp it.
        manifest.store_generation = Some(generation);
        manifest.save(dir)?;
    }
    let listed: std::collections::HashSet<String> = manifest.segments.iter().map(|s| s.file.clone()).collect();
    let segs = segment_dir(dir);
    if let Ok(entries) = std::fs::read_dir(&segs) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !listed.contains(&name) {
                std::fs::remove_file(e.path()).map_err(|err| VectorError::io(&e.path(), err))?;
            }
        }
    }
    if rebuilt {
        manifest.save(dir)?;
    }
    Ok((manifest, rebuilt))
}

/// What `semantic status` shows for a tier, from its manifest and one
/// indexed count (no scan of vectors or messages).
#[derive(Debug, Clone, Serialize)]
pub struct TierState {
    /// The tier's name.
    pub tier: &'static str,
    /// A manifest exists: a backfill has started or finished.
    pub built: bool,
    /// Id of the embedder the tier is built with, once built.
    pub embedder_id: Option<String>,
    /// Floats per vector, once built.
    pub dims: Option<usize>,
    /// Rows in published segments (searchable).
    pub published_rows: u64,
    /// Published segments.
    pub segments: usize,
    /// Rows in the staging file counted by the checkpoint, not yet searchable.
    pub staged_rows: u64,
    /// Messages not yet published: past the checkpoint, left to a
    /// newest-first sweep, or staged.
    pub pending_rows: u64,
    /// Since when the tier has had messages pending after a backfill run
    /// (RFC 3339); absent when it is current.
    pub behind_since: Option<String>,
    /// The same as milliseconds since the Unix epoch, for health's `--max-age`.
    #[serde(skip)]
    pub behind_since_ms: Option<i64>,
    /// The backfill's checkpoint, once built.
    pub checkpoint: Option<crate::vector::manifest::Checkpoint>,
    /// When the manifest was last saved, RFC 3339.
    pub updated_at: Option<String>,
    /// Built from another store (deleted and created again): not served
    /// until `cass index` rebuilds it.
    pub stale: bool,
    /// Why the manifest cannot be read, when it is damaged.
    pub damaged: Option<String>,
    /// The format of its segment files, once built; one other than this
    /// build's ([`crate::vector::segment::VERSION`]) is rebuilt, not served.
    pub segment_format: Option<u32>,
}

/// A tier's state; pending counts need the store (without one, 0).
pub fn tier_state(data: &crate::config::DataDir, tier: Tier, store: Option<&crate::store::Store>) -> Result<TierState> {
    let dir = tier.dir(data);
    let (m, damaged) = match Manifest::load(&dir) {
        Ok(m) => (m, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let stale = match (&m, store) {
        (Some(m), Some(s)) => !s.built_from_here(m.store_generation.as_deref()).unwrap_or(false),
        _ => false,
    };
    let cursor = m.as_ref().map_or(0, |m| m.checkpoint.last_message_id);
    let past_cursor = store.and_then(|s| crate::store::semantic::messages_past(s, cursor).ok()).unwrap_or(0);
    Ok(match m {
        None => TierState {
            tier: tier.name(),
            built: false,
            embedder_id: None,
            dims: None,
            published_rows: 0,
            segments: 0,
            staged_rows: 0,
            pending_rows: past_cursor,
            behind_since: None,
            behind_since_ms: None,
            checkpoint: None,
            updated_at: None,
            stale,
            damaged,
            segment_format: None,
        },
        Some(m) => {
            let pending = past_cursor + m.checkpoint.unpublished_below_cursor();
            let behind_since_ms = (pending > 0).then(|| m.behind_since_or_saved());
            TierState {
                tier: tier.name(),
                built: true,
                embedder_id: Some(m.embedder_id.clone()),
                dims: Some(m.dims),
                published_rows: m.published_rows(),
                segments: m.segments.len(),
                staged_rows: m.checkpoint.staged_rows,
                pending_rows: pending,
                behind_since: behind_since_ms.map(crate::time::to_rfc3339),
                behind_since_ms,
                updated_at: Some(crate::time::to_rfc3339(m.updated_at_ms)),
                segment_format: Some(m.segment_version),
                checkpoint: Some(m.checkpoint),
                stale,
                damaged,
            }
        }
    })
}
