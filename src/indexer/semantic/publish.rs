//! Publishing staged vectors as a segment, and compacting segments.

use std::path::Path;

use half::f16;
use serde::Serialize;

use super::BackfillError;
use super::tier::{segment_dir, staging_path};
use crate::model::Role;
use crate::store::Store;
use crate::vector::manifest::{Manifest, SegmentEntry};
use crate::vector::segment::{self, RowMeta, Segment};
use crate::vector::staging::StagedRows;
use crate::vector::{VectorError, fsio};

/// Metadata for live message ids (ascending); ids not in the store are
/// absent from the result (replaced or deleted since they were embedded).
fn live_meta(store: &Store, ids: &[i64]) -> Result<Vec<Option<RowMeta>>, BackfillError> {
    let mut out = Vec::with_capacity(ids.len());
    let conn = store.conn();
    let mut stmt = conn.prepare_cached(
        "SELECT m.id, m.created_at, m.role, c.agent, c.workspace FROM messages m
         JOIN conversations c ON c.id = m.conversation_id WHERE m.id BETWEEN ?1 AND ?2 ORDER BY m.id",
    )?;
    for chunk in ids.chunks(8192) {
        let (lo, hi) = (chunk[0], chunk[chunk.len() - 1]);
        let mut rows = stmt.query(rusqlite::params![lo, hi])?;
        let mut want = chunk.iter().peekable();
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            while want.peek().is_some_and(|&&w| w < id) {
                want.next();
                out.push(None);
            }
            if want.peek() == Some(&&id) {
                want.next();
                let role: String = r.get(2)?;
                out.push(Some(RowMeta {
                    created_at: r.get(1)?,
                    role: role.parse().unwrap_or(Role::System),
                    agent: r.get(3)?,
                    workspace: r.get(4)?,
                }));
            }
        }
        out.extend(want.map(|_| None));
    }
    Ok(out)
}

/// Makes the staged rows a published segment. Order: segment file written
/// and fsynced under a temp name, renamed, directory fsynced; then the
/// manifest listing it (with no staged rows) replaces the old one — the
/// commit point; then the staging file goes. A crash before the manifest
/// write leaves an unlisted file (removed on the next run) and the staging
/// rows intact; after it, a stale staging file that the checkpoint ignores.
pub(super) fn publish(store: &Store, dir: &Path, manifest: &mut Manifest) -> Result<u64, BackfillError> {
    let staged = StagedRows::open(&staging_path(dir), manifest.dims, manifest.checkpoint.staged_rows)?;
    let ids: Vec<i64> = (0..staged.rows).map(|i| staged.id(i)).collect();
    let metas = live_meta(store, &ids)?;
    let keep: Vec<usize> = (0..ids.len()).filter(|&i| metas[i].is_some()).collect();
    let name = format!("seg-{:06}.cvs", manifest.next_segment);
    let segs = segment_dir(dir);
    let final_path = segs.join(&name);
    let tmp = segs.join(format!("{name}.tmp"));
    let kept_ids: Vec<i64> = keep.iter().map(|&i| ids[i]).collect();
    let kept_meta: Vec<RowMeta> = keep.iter().map(|&i| metas[i].clone().expect("kept")).collect();
    let checksum =
        segment::write(&tmp, &manifest.embedder_id, manifest.dims, &kept_ids, &kept_meta, |k, row: &mut [f16]| {
            staged.vector_into(keep[k], row);
            Ok(())
        })?;
    crate::faults::point("publish.before_rename");
    std::fs::rename(&tmp, &final_path).map_err(|e| VectorError::io(&final_path, e))?;
    fsio::sync_dir(&segs)?;
    crate::faults::point("publish.before_manifest");
    let bytes = std::fs::metadata(&final_path).map(|m| m.len()).unwrap_or(0);
    if !kept_ids.is_empty() {
        manifest.segments.push(SegmentEntry {
            file: name,
            rows: kept_ids.len() as u64,
            min_message_id: kept_ids[0],
            max_message_id: kept_ids[kept_ids.len() - 1],
            checksum,
        });
    }
    manifest.next_segment += 1;
    manifest.checkpoint.staged_rows = 0;
    manifest.save(dir)?;
    crate::faults::point("publish.after_manifest");
    drop(staged);
    if kept_ids.is_empty() {
        let _ = std::fs::remove_file(&final_path);
    }
    let _ = std::fs::remove_file(staging_path(dir));
    Ok(bytes)
}

#[derive(Debug, Clone, Serialize)]
pub struct CompactReport {
    pub tier: &'static str,
    pub segments_before: usize,
    pub segments_after: usize,
    pub rows_before: u64,
    pub rows_after: u64,
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
    let segs = segment_dir(dir);
    let opened: Vec<Segment> =
        manifest.segments.iter().map(|s| Segment::open(&segs.join(&s.file))).collect::<Result<_, _>>()?;
    let rows_before: u64 = opened.iter().map(|s| s.count as u64).sum();
    let mut all: Vec<(i64, usize, usize)> =
        opened.iter().enumerate().flat_map(|(si, s)| (0..s.count).map(move |r| (s.message_id(r), si, r))).collect();
    all.sort_unstable();
    all.dedup_by_key(|x| x.0);
    let ids: Vec<i64> = all.iter().map(|x| x.0).collect();
    let metas = if ids.is_empty() { Vec::new() } else { live_meta(store, &ids)? };
    let keep: Vec<usize> = (0..ids.len()).filter(|&i| metas[i].is_some()).collect();
    let before = manifest.segments.len();
    let old_files: Vec<String> = manifest.segments.iter().map(|s| s.file.clone()).collect();
    manifest.segments.clear();
    if !keep.is_empty() {
        let name = format!("seg-{:06}.cvs", manifest.next_segment);
        let tmp = segs.join(format!("{name}.tmp"));
        let kept_ids: Vec<i64> = keep.iter().map(|&i| ids[i]).collect();
        let kept_meta: Vec<RowMeta> = keep.iter().map(|&i| metas[i].clone().expect("kept")).collect();
        let checksum = segment::write(&tmp, &manifest.embedder_id, manifest.dims, &kept_ids, &kept_meta, |k, row| {
            let (_, si, r) = all[keep[k]];
            row.copy_from_slice(opened[si].vector(r));
            Ok(())
        })?;
        let final_path = segs.join(&name);
        std::fs::rename(&tmp, &final_path).map_err(|e| VectorError::io(&final_path, e))?;
        fsio::sync_dir(&segs)?;
        manifest.segments.push(SegmentEntry {
            file: name,
            rows: kept_ids.len() as u64,
            min_message_id: kept_ids[0],
            max_message_id: kept_ids[kept_ids.len() - 1],
            checksum,
        });
    }
    manifest.next_segment += 1;
    manifest.save(dir)?;
    drop(opened);
    for f in old_files {
        let _ = std::fs::remove_file(segs.join(f));
    }
    let rows_after = keep.len() as u64;
    Ok(CompactReport {
        tier: tier.name(),
        segments_before: before,
        segments_after: manifest.segments.len(),
        rows_before,
        rows_after,
        dropped_dead: rows_before - rows_after,
    })
}
