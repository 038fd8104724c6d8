//! Publishing staged vectors as a segment, and compacting segments.

use std::path::Path;

use half::f16;
use serde::Serialize;

use super::BackfillError;
use super::tier::{segment_dir, staging_path};
use crate::store::Store;
use crate::vector::manifest::{Manifest, SegmentEntry};
use crate::vector::segment::{self, RowTable, Segment};
use crate::vector::staging::StagedReader;
use crate::vector::{VectorError, fsio};

/// Rows copied out of mapped segments between releases of their pages
/// ([`Segment::release`]): 64k rows of 256 f16 are 32 MiB.
const RELEASE_EVERY: usize = 1 << 16;

/// Rows for the ids (ascending) that are still live in the store, with
/// fresh metadata, and the positions in `ids` they came from. Ids no longer
/// in the store (replaced or deleted since they were embedded) are left out.
fn live_rows(store: &Store, ids: &[i64]) -> Result<(RowTable, Vec<usize>), BackfillError> {
    let mut table = RowTable::default();
    let mut kept = Vec::with_capacity(ids.len());
    let mut pos = 0usize;
    for chunk in ids.chunks(8192) {
        let (lo, hi) = (chunk[0], chunk[chunk.len() - 1]);
        crate::store::semantic::for_each_row_meta(store, lo, hi, |r| -> Result<(), BackfillError> {
            while pos < ids.len() && ids[pos] < r.id {
                pos += 1;
            }
            if pos < ids.len() && ids[pos] == r.id {
                if table.push(r.id, r.created_at, r.role, r.agent, r.workspace) {
                    kept.push(pos);
                }
                pos += 1;
            }
            Ok(())
        })?;
    }
    Ok((table, kept))
}

/// Makes the staged rows a published segment. Order: segment file written
/// and fsynced under a temp name, renamed, directory fsynced; then the
/// manifest listing it (with no staged rows) replaces the old one — the
/// commit point; then the staging file goes. A crash before the manifest
/// write leaves an unlisted file (removed on the next run) and the staging
/// rows intact; after it, a stale staging file that the checkpoint ignores.
pub(super) fn publish(store: &Store, dir: &Path, manifest: &mut Manifest) -> Result<u64, BackfillError> {
    let mut staged = StagedReader::open(&staging_path(dir), manifest.dims, manifest.checkpoint.staged_rows)?;
    // Staged in the order embedded (a newest-first sweep goes down); a
    // segment holds its rows by ascending id.
    let ids = staged.ids()?;
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_unstable_by_key(|&i| ids[i]);
    let sorted: Vec<i64> = order.iter().map(|&i| ids[i]).collect();
    drop(ids);
    let (rows, keep) = live_rows(store, &sorted)?;
    drop(sorted);
    let name = format!("seg-{:06}.cvs", manifest.next_segment);
    let segs = segment_dir(dir);
    let final_path = segs.join(&name);
    let tmp = segs.join(format!("{name}.tmp"));
    let checksum = segment::write(&tmp, &manifest.embedder_id, manifest.dims, &rows, |k, row: &mut [f16]| {
        staged.read_row(order[keep[k]], row)?;
        Ok(())
    })?;
    // Verified before it is listed: a segment that does not read back as
    // written is never published.
    if !Segment::open(&tmp).is_ok_and(|seg| seg.checksum == checksum && seg.verify()) {
        let _ = std::fs::remove_file(&tmp);
        return Err(
            VectorError::io(&tmp, std::io::Error::other("the written segment does not match its checksum")).into()
        );
    }
    crate::faults::point("publish.before_rename");
    std::fs::rename(&tmp, &final_path).map_err(|e| VectorError::io(&final_path, e))?;
    fsio::sync_dir(&segs)?;
    crate::faults::point("publish.before_manifest");
    let bytes = std::fs::metadata(&final_path).map(|m| m.len()).unwrap_or(0);
    if !rows.is_empty() {
        manifest.segments.push(SegmentEntry {
            file: name,
            rows: rows.len() as u64,
            min_message_id: rows.ids[0],
            max_message_id: rows.ids[rows.len() - 1],
            checksum,
        });
    }
    manifest.next_segment += 1;
    manifest.checkpoint.staged_rows = 0;
    manifest.save(dir)?;
    crate::faults::point("publish.after_manifest");
    drop(staged);
    if rows.is_empty() {
        let _ = std::fs::remove_file(&final_path);
    }
    let _ = std::fs::remove_file(staging_path(dir));
    Ok(bytes)
}

/// What a merge of a tier's segments did (`cass semantic compact`, or the automatic merge after a publish).
#[derive(Debug, Clone, Serialize)]
pub struct CompactReport {
    /// The tier's name.
    pub tier: &'static str,
    /// Segments listed before the merge.
    pub segments_before: usize,
    /// Segments listed after it.
    pub segments_after: usize,
    /// Rows in the merged segments before.
    pub rows_before: u64,
    /// Rows in the merged segment after: those whose message is still in the store.
    pub rows_after: u64,
    /// Rows dropped because their message is gone (or was a duplicate).
    pub dropped_dead: u64,
}

/// Merges a tier's segments into one, dropping rows whose message is gone
/// and refreshing row metadata. The caller holds the writer lock.
pub fn compact(store: &Store, dir: &Path, tier: super::Tier) -> Result<CompactReport, BackfillError> {
    let Some(mut manifest) = Manifest::load(dir)? else {
        return Ok(CompactReport {
            tier: tier.name(),
            segments_before: 0,
            segments_after: 0,
            rows_before: 0,
            rows_after: 0,
            dropped_dead: 0,
        });
    };
    let all: Vec<usize> = (0..manifest.segments.len()).collect();
    merge_reported(store, dir, tier, &mut manifest, &all)
}

/// [`merge`], reported.
fn merge_reported(
    store: &Store,
    dir: &Path,
    tier: super::Tier,
    manifest: &mut Manifest,
    pick: &[usize],
) -> Result<CompactReport, BackfillError> {
    let before = manifest.segments.len();
    let (rows_before, rows_after) = merge(store, dir, manifest, pick)?;
    Ok(CompactReport {
        tier: tier.name(),
        segments_before: before,
        segments_after: manifest.segments.len(),
        rows_before,
        rows_after,
        dropped_dead: rows_before - rows_after,
    })
}

/// Segments are merged by size class (rows, in powers of eight): once this
/// many share a class they become one segment of the next class up.
const SEGMENTS_PER_CLASS: usize = 8;

/// Keeps frequent small publishes (`cass index --watch`, many incremental
/// runs) from piling up segments, as a log-structured merge does: segments
/// are grouped by size class (⌊log₈ rows⌋) and a class holding
/// [`SEGMENTS_PER_CLASS`] of them is merged into one, so a row is rewritten
/// about once per class it climbs — O(log n) times — and a tier keeps at
/// most 7 segments per class. Returns what was merged, if anything.
pub fn merge_small_segments(
    store: &Store,
    dir: &Path,
    tier: super::Tier,
) -> Result<Option<CompactReport>, BackfillError> {
    let Some(mut manifest) = Manifest::load(dir)? else { return Ok(None) };
    let class = |rows: u64| rows.max(1).ilog(8);
    let mut by_class: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for (i, s) in manifest.segments.iter().enumerate() {
        by_class.entry(class(s.rows)).or_default().push(i);
    }
    let Some(pick) = by_class.into_values().find(|v| v.len() >= SEGMENTS_PER_CLASS) else { return Ok(None) };
    merge_reported(store, dir, tier, &mut manifest, &pick).map(Some)
}

/// Replaces the segments at `pick` (ascending positions) with one segment
/// of their live rows, committed by the manifest write like a publish.
/// Returns (rows before, rows after).
fn merge(store: &Store, dir: &Path, manifest: &mut Manifest, pick: &[usize]) -> Result<(u64, u64), BackfillError> {
    if pick.is_empty() {
        return Ok((0, 0));
    }
    let segs = segment_dir(dir);
    let opened: Vec<Segment> =
        pick.iter().map(|&i| Segment::open(&segs.join(&manifest.segments[i].file))).collect::<Result<_, _>>()?;
    let rows_before: u64 = opened.iter().map(|s| s.count as u64).sum();
    let mut all: Vec<(i64, usize, usize)> =
        opened.iter().enumerate().flat_map(|(si, s)| (0..s.count).map(move |r| (s.message_id(r), si, r))).collect();
    all.sort_unstable();
    all.dedup_by_key(|x| x.0);
    let ids: Vec<i64> = all.iter().map(|x| x.0).collect();
    let (rows, keep) = if ids.is_empty() { (RowTable::default(), Vec::new()) } else { live_rows(store, &ids)? };
    let old_files: Vec<String> = pick.iter().map(|&i| manifest.segments[i].file.clone()).collect();
    let mut merged = if keep.is_empty() {
        None
    } else {
        let name = format!("seg-{:06}.cvs", manifest.next_segment);
        let tmp = segs.join(format!("{name}.tmp"));
        let kept_ids = &rows.ids;
        let checksum = segment::write(&tmp, &manifest.embedder_id, manifest.dims, &rows, |k, row| {
            let (_, si, r) = all[keep[k]];
            row.copy_from_slice(opened[si].vector(r));
            if k % RELEASE_EVERY == RELEASE_EVERY - 1 {
                opened.iter().for_each(Segment::release);
            }
            Ok(())
        })?;
        let final_path = segs.join(&name);
        std::fs::rename(&tmp, &final_path).map_err(|e| VectorError::io(&final_path, e))?;
        fsio::sync_dir(&segs)?;
        Some(SegmentEntry {
            file: name,
            rows: kept_ids.len() as u64,
            min_message_id: kept_ids[0],
            max_message_id: kept_ids[kept_ids.len() - 1],
            checksum,
        })
    };
    // The merged segment takes the place of the first one it replaces.
    let first = pick[0];
    let mut kept_entries = Vec::with_capacity(manifest.segments.len() + 1 - pick.len());
    for (i, e) in manifest.segments.drain(..).enumerate() {
        if i == first
            && let Some(m) = merged.take()
        {
            kept_entries.push(m);
        }
        if !pick.contains(&i) {
            kept_entries.push(e);
        }
    }
    manifest.segments = kept_entries;
    manifest.next_segment += 1;
    manifest.save(dir)?;
    drop(opened);
    for f in old_files {
        let _ = std::fs::remove_file(segs.join(f));
    }
    Ok((rows_before, keep.len() as u64))
}

/// Rewrites a tier whose segments are of format 1 (before codes) in this
/// build's format, from its own vectors: each segment's rows, metadata and
/// f16 vectors are copied into a new segment file, which [`segment::write`]
/// gives codes. Embedding every message again would give the same vectors
/// and take hours on the quality tier; this reads and writes each row once.
///
/// Committed like a merge: the new files first (names never used before),
/// then the manifest listing them with the new format, then the old files
/// removed. A crash before the manifest write leaves the old tier listed
/// and the new files unlisted, which the next open removes. A segment that
/// does not open, or whose checksum fails, stops the rewrite with an error:
/// the caller then builds the tier again from the store.
pub(super) fn rewrite_older_format(dir: &Path, manifest: &mut Manifest) -> Result<(), BackfillError> {
    let segs = segment_dir(dir);
    let mut entries = Vec::with_capacity(manifest.segments.len());
    let mut next = manifest.next_segment;
    for entry in &manifest.segments {
        let path = segs.join(&entry.file);
        let old = Segment::open_older(&path)?;
        if old.version != 1 || !old.verify() || old.dims != manifest.dims {
            return Err(VectorError::corrupt(&path, "not an intact format-1 segment of this tier".to_string()).into());
        }
        let mut rows = RowTable::default();
        for i in 0..old.count {
            if !old.push_row_to(i, &mut rows) {
                return Err(VectorError::corrupt(&path, "more than 256 agents".to_string()).into());
            }
        }
        let name = format!("seg-{next:06}.cvs");
        next += 1;
        let tmp = segs.join(format!("{name}.tmp"));
        let checksum = segment::write(&tmp, &manifest.embedder_id, manifest.dims, &rows, |k, row| {
            row.copy_from_slice(old.vector(k));
            if k % RELEASE_EVERY == RELEASE_EVERY - 1 {
                old.release();
            }
            Ok(())
        })?;
        let final_path = segs.join(&name);
        std::fs::rename(&tmp, &final_path).map_err(|e| VectorError::io(&final_path, e))?;
        entries.push(SegmentEntry { file: name, checksum, ..entry.clone() });
        crate::faults::point("semantic.rewrite.segment_written");
    }
    fsio::sync_dir(&segs)?;
    let old_files: Vec<String> = manifest.segments.iter().map(|s| s.file.clone()).collect();
    manifest.segments = entries;
    manifest.next_segment = next;
    manifest.segment_version = segment::VERSION;
    manifest.save(dir)?;
    crate::faults::point("semantic.rewrite.manifest_saved");
    for f in old_files {
        let _ = std::fs::remove_file(segs.join(f));
    }
    Ok(())
}
