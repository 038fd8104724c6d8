//! `manifest.json`: a tier's commit point. It names the embedder the tier
//! was built with, the published segments, and the backfill's checkpoint.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Result, VectorError, fsio};

/// The manifest format version this build writes and reads; any other is refused.
pub const MANIFEST_VERSION: u32 = 1;

/// Where the backfill has got to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Conversation of the last message processed.
    pub last_conversation_id: i64,
    /// Every message with an id at or below this has been processed, except
    /// those a newest-first [`Sweep`] has yet to reach.
    pub last_message_id: i64,
    /// Messages processed over the tier's life (embedded or skipped).
    pub rows_processed: u64,
    /// Rows in the staging file that belong to this checkpoint; bytes past
    /// them are from a crashed batch and are truncated on resume.
    pub staged_rows: u64,
    /// A newest-first pass over the messages that were pending when it
    /// began, while it lasts (absent in manifests written before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Sweep>,
}

/// A newest-first pass: the messages with an id in `floor + 1 ..= top`
/// are embedded in descending (time, id) order, so a long quality backfill
/// serves the last weeks first. Those at or past the position
/// (`at_created`, `at_id`) in that order are done; messages past `top`
/// arrived after the sweep began and are taken first, by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// Messages at or below this id were done before the sweep began.
    pub floor: i64,
    /// The highest message id when the sweep began.
    pub top: i64,
    /// Time key (`created_at`, -1 when unknown) of the last message embedded.
    pub at_created: i64,
    /// Id of the last message embedded.
    pub at_id: i64,
    /// Messages the sweep has still to reach (counted when it began, less
    /// those processed; over by the few replaced meanwhile).
    pub rows_left: u64,
}

/// One published segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentEntry {
    /// File name of the segment, inside the tier's directory.
    pub file: String,
    /// Rows (messages) it holds.
    pub rows: u64,
    /// Lowest message id in it.
    pub min_message_id: i64,
    /// Highest message id in it.
    pub max_message_id: i64,
    /// Checksum of its body, as its header records it.
    pub checksum: u64,
}

/// A tier's commit point: what it was built with, its segments, its checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version ([`MANIFEST_VERSION`]).
    pub version: u32,
    /// The tier's name (`fast`, `quality`).
    pub tier: String,
    /// Id of the embedder that built every segment.
    pub embedder_id: String,
    /// Floats per vector.
    pub dims: usize,
    /// Checksum of the embedder's model files, when it has a model.
    pub model_checksum: Option<String>,
    /// Published segments in publish order; a merged one takes its first part's place.
    pub segments: Vec<SegmentEntry>,
    /// Number for the next segment's file name; never reused.
    pub next_segment: u64,
    /// How far the backfill has got.
    pub checkpoint: Checkpoint,
    /// When it was last saved, milliseconds since the Unix epoch.
    pub updated_at_ms: i64,
    /// Generation of the store its rows were embedded from (absent in
    /// manifests written before generations): rows of another store's
    /// messages must never be served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_generation: Option<String>,
    /// Since when (ms since the Unix epoch) the tier has had messages
    /// pending after a backfill run: how long it has been behind, for
    /// `health --max-age` and the search JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behind_since_ms: Option<i64>,
    /// Format of its segment files ([`super::segment::VERSION`]); manifests
    /// written before this field list version-1 segments. A tier of another
    /// version is rebuilt, never read.
    #[serde(default = "first_segment_version")]
    pub segment_version: u32,
}

fn first_segment_version() -> u32 {
    1
}

impl Checkpoint {
    /// Messages at or below the id cursor that are not yet published: left
    /// to a newest-first sweep, or staged. Add the messages past the cursor
    /// for all that is pending.
    pub fn unpublished_below_cursor(&self) -> u64 {
        self.sweep.as_ref().map_or(0, |s| s.rows_left) + self.staged_rows
    }
}

impl Manifest {
    /// Since when the tier has been behind, given that it is: as its last
    /// backfill recorded, else (messages arrived since the last run) its
    /// last save at the latest.
    pub fn behind_since_or_saved(&self) -> i64 {
        self.behind_since_ms.unwrap_or(self.updated_at_ms)
    }

    /// An empty manifest for a tier about to be built: no segments, checkpoint at zero.
    pub fn new(tier: &str, embedder_id: &str, dims: usize, model_checksum: Option<String>) -> Manifest {
        Manifest {
            version: MANIFEST_VERSION,
            tier: tier.to_string(),
            embedder_id: embedder_id.to_string(),
            dims,
            model_checksum,
            segments: Vec::new(),
            next_segment: 1,
            checkpoint: Checkpoint::default(),
            updated_at_ms: 0,
            store_generation: None,
            behind_since_ms: None,
            segment_version: super::segment::VERSION,
        }
    }

    /// Where a tier directory's manifest lives.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("manifest.json")
    }

    /// Reads a tier's manifest; `Ok(None)` when the tier was never built.
    pub fn load(dir: &Path) -> Result<Option<Manifest>> {
        let path = Self::path(dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(VectorError::io(&path, e)),
        };
        let m: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| VectorError::corrupt(&path, format!("bad manifest: {e}")))?;
        if m.version != MANIFEST_VERSION {
            return Err(VectorError::corrupt(
                &path,
                format!("manifest version {} (expected {MANIFEST_VERSION})", m.version),
            ));
        }
        Ok(Some(m))
    }

    /// Saves atomically (temp file, fsync, rename, fsync dir).
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        self.updated_at_ms = crate::time::now_ms();
        let bytes = serde_json::to_vec_pretty(self).expect("manifest serializes");
        fsio::write_atomic(&Self::path(dir), &bytes, "manifest")
    }

    /// Whether this tier was built by the given embedder into segments of
    /// this build's format (else: rebuild).
    pub fn matches(&self, embedder_id: &str, dims: usize, model_checksum: Option<&str>) -> bool {
        self.embedder_id == embedder_id
            && self.dims == dims
            && self.model_checksum.as_deref() == model_checksum
            && self.segment_version == super::segment::VERSION
    }

    /// Rows in all published segments.
    pub fn published_rows(&self) -> u64 {
        self.segments.iter().map(|s| s.rows).sum()
    }
}
