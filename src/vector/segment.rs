//! The immutable segment format.
//!
//! ```text
//! 0    magic "CASSVEC\0"
//! 8    version u32 (2)          12  dims u32
//! 16   count u64                24  checksum u64 (of every byte after the header)
//! 32   embedder id: len u16 + up to 62 bytes
//! 96   meta_len u32             100 reserved, zero, to 128
//! 128  meta: JSON {"agents": [...], "workspaces": [...]}, padded to 8
//!      message ids   i64 × count
//!      created_at    i64 × count (i64::MIN: unknown)
//!      workspace     u32 × count (index into meta.workspaces; u32::MAX: none), padded to 8
//!      agent         u8 × count  (index into meta.agents)
//!      role          u8 × count
//!      padding to a 64-byte boundary
//!      vectors       f16 × count × dims (each row 64-byte aligned when dims is a multiple of 32)
//!      padding to a 64-byte boundary
//!      codes         u8 × count × code_len(dims): each row's 4-bit code ([`super::quant`])
//!      quantizer     f32 × dims (each dimension's lowest level), f32 × dims (its step)
//! ```
//! All integers little-endian. Per-row metadata lives beside the vectors so
//! filters apply during the scan, without a round trip to SQLite. A search
//! scans the codes (a quarter of the vectors' bytes) and reads only its
//! best candidates' f16 rows, to rescore them exactly ([`super::scan`]).
//!
//! Version 1 had no codes and no quantizer. A version-1 segment is refused
//! by [`Segment::open`], and the manifest records its segments' version
//! ([`super::manifest::Manifest::segment_version`]), so a tier written by an
//! older cass is rebuilt by the next backfill rather than misread.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use half::f16;
use memmap2::Mmap;
use serde::{Deserialize, Serialize};

use super::quant::{DimStats, Quantizer, code_len};
use super::{Result, VectorError};
use crate::model::Role;

/// The first eight bytes of every segment file.
pub const MAGIC: &[u8; 8] = b"CASSVEC\0";
/// The format version this build writes and reads (2: with codes).
pub const VERSION: u32 = 2;
/// Bytes before the body; the checksum covers everything after them.
pub const HEADER_LEN: usize = 128;
const MAX_ID_LEN: usize = 62;

/// Per-row attributes for filtering during the scan, column by column,
/// with agent and workspace names interned (a million rows share a few
/// dozen of each).
#[derive(Debug, Clone, Default)]
pub struct RowTable {
    /// Message ids, ascending.
    pub ids: Vec<i64>,
    /// Creation times in milliseconds since the Unix epoch; `i64::MIN` when unknown.
    pub created_at: Vec<i64>,
    /// Role codes (user 0, assistant 1, system 2, tool 3).
    pub roles: Vec<u8>,
    /// Indexes into the interned agent names.
    pub agents: Vec<u8>,
    /// Indexes into the interned workspace names; `u32::MAX` when none.
    pub workspaces: Vec<u32>,
    agent_names: Vec<String>,
    workspace_names: Vec<String>,
    agent_index: std::collections::HashMap<String, u8>,
    workspace_index: std::collections::HashMap<String, u32>,
}

impl RowTable {
    /// Rows so far.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when no row was pushed.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Appends a row. Fails past 256 distinct agents.
    pub fn push(&mut self, id: i64, created_at: Option<i64>, role: Role, agent: &str, workspace: Option<&str>) -> bool {
        let a = match self.agent_index.get(agent) {
            Some(&a) => a,
            None => {
                let Ok(a) = u8::try_from(self.agent_names.len()) else { return false };
                self.agent_names.push(agent.to_string());
                self.agent_index.insert(agent.to_string(), a);
                a
            }
        };
        let w = match workspace {
            None => u32::MAX,
            Some(ws) => match self.workspace_index.get(ws) {
                Some(&w) => w,
                None => {
                    let w = self.workspace_names.len() as u32;
                    self.workspace_names.push(ws.to_string());
                    self.workspace_index.insert(ws.to_string(), w);
                    w
                }
            },
        };
        self.ids.push(id);
        self.created_at.push(created_at.unwrap_or(i64::MIN));
        self.roles.push(role_code(role));
        self.agents.push(a);
        self.workspaces.push(w);
        true
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Tables {
    agents: Vec<String>,
    workspaces: Vec<String>,
}

fn role_code(r: Role) -> u8 {
    match r {
        Role::User => 0,
        Role::Assistant => 1,
        Role::System => 2,
        Role::Tool => 3,
    }
}

/// The role a stored code stands for; an unknown code reads as `Tool`.
pub fn role_from_code(c: u8) -> Role {
    match c {
        0 => Role::User,
        1 => Role::Assistant,
        2 => Role::System,
        _ => Role::Tool,
    }
}

fn pad_to(n: usize, align: usize) -> usize {
    n.div_ceil(align) * align
}

/// A checksum of the body: FNV-1a 64 folded over little-endian u64 words
/// (a tail shorter than 8 bytes is zero-padded). Word-wise so checking a
/// gigabyte segment takes a fraction of a second.
#[derive(Debug, Clone, Copy)]
pub struct Checksum {
    state: u64,
    pending: [u8; 8],
    pending_len: usize,
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum { state: 0xcbf2_9ce4_8422_2325, pending: [0; 8], pending_len: 0 }
    }
}

impl Checksum {
    fn word(&mut self, w: u64) {
        self.state ^= w;
        self.state = self.state.wrapping_mul(0x0100_0000_01b3);
    }
    /// Folds more body bytes in; chunking does not change the result.
    pub fn update(&mut self, mut bytes: &[u8]) {
        if self.pending_len > 0 {
            let take = (8 - self.pending_len).min(bytes.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&bytes[..take]);
            self.pending_len += take;
            bytes = &bytes[take..];
            if self.pending_len < 8 {
                return;
            }
            self.word(u64::from_le_bytes(self.pending));
            self.pending_len = 0;
        }
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }
    /// The checksum of every byte given, its tail zero-padded.
    pub fn finish(mut self) -> u64 {
        if self.pending_len > 0 {
            self.pending[self.pending_len..].fill(0);
            self.word(u64::from_le_bytes(self.pending));
        }
        self.state
    }
}

/// Writes a segment file from rows given in ascending id order. The
/// vectors are streamed (`vectors` yields one row of f16 at a time), so a
/// million-row segment never sits in memory.
pub fn write(
    path: &Path,
    embedder_id: &str,
    dims: usize,
    rows: &RowTable,
    mut vectors: impl FnMut(usize, &mut [f16]) -> Result<()>,
) -> Result<u64> {
    if embedder_id.len() > MAX_ID_LEN {
        return Err(VectorError::corrupt(path, "embedder id too long"));
    }
    let tables = Tables { agents: rows.agent_names.clone(), workspaces: rows.workspace_names.clone() };
    let meta_json = serde_json::to_vec(&tables).expect("tables serialize");
    let io = |e| VectorError::io(path, e);
    let file = File::create(path).map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    w.write_all(&[0u8; HEADER_LEN]).map_err(io)?;
    let mut sum = Checksum::default();
    let mut put = |w: &mut BufWriter<File>, bytes: &[u8]| -> Result<()> {
        sum.update(bytes);
        w.write_all(bytes).map_err(io)
    };
    let n = rows.len();
    let mut body = 0usize;
    let padded_meta = pad_to(meta_json.len(), 8);
    put(&mut w, &meta_json)?;
    put(&mut w, &vec![0u8; padded_meta - meta_json.len()])?;
    body += padded_meta;
    let mut buf: Vec<u8> = Vec::with_capacity(n * 8);
    buf.extend(rows.ids.iter().flat_map(|i| i.to_le_bytes()));
    buf.extend(rows.created_at.iter().flat_map(|t| t.to_le_bytes()));
    buf.extend(rows.workspaces.iter().flat_map(|x| x.to_le_bytes()));
    buf.resize(pad_to(buf.len(), 8), 0);
    buf.extend(rows.agents.iter());
    buf.extend(rows.roles.iter());
    let vec_start = pad_to(HEADER_LEN + body + buf.len(), 64);
    buf.resize(vec_start - HEADER_LEN - body, 0);
    put(&mut w, &buf)?;
    drop(buf);
    let mut row = vec![f16::ZERO; dims];
    let mut bytes = vec![0u8; dims * 2];
    let mut stats = DimStats::new(dims);
    for i in 0..n {
        vectors(i, &mut row)?;
        stats.push(&row);
        for (b, v) in bytes.chunks_exact_mut(2).zip(&row) {
            b.copy_from_slice(&v.to_bits().to_le_bytes());
        }
        put(&mut w, &bytes)?;
    }
    let vec_end = vec_start + n * dims * 2;
    put(&mut w, &vec![0u8; pad_to(vec_end, 64) - vec_end])?;
    // The quantizer needs every row's range first; the codes are computed
    // from the rows just written, read back through the page cache, so a
    // segment of any size is written in bounded memory.
    let quantizer = Quantizer::fit(&stats);
    w.flush().map_err(io)?;
    let mut back = std::io::BufReader::with_capacity(1 << 20, File::open(path).map_err(io)?);
    back.seek(SeekFrom::Start(vec_start as u64)).map_err(io)?;
    let mut code = vec![0u8; code_len(dims)];
    for _ in 0..n {
        std::io::Read::read_exact(&mut back, &mut bytes).map_err(io)?;
        for (v, b) in row.iter_mut().zip(bytes.chunks_exact(2)) {
            *v = f16::from_bits(u16::from_le_bytes([b[0], b[1]]));
        }
        quantizer.encode(&row, &mut code);
        put(&mut w, &code)?;
    }
    put(&mut w, &quantizer.to_bytes())?;
    let checksum = sum.finish();
    let mut header = [0u8; HEADER_LEN];
    header[0..8].copy_from_slice(MAGIC);
    header[8..12].copy_from_slice(&VERSION.to_le_bytes());
    header[12..16].copy_from_slice(&(dims as u32).to_le_bytes());
    header[16..24].copy_from_slice(&(n as u64).to_le_bytes());
    header[24..32].copy_from_slice(&checksum.to_le_bytes());
    header[32..34].copy_from_slice(&(embedder_id.len() as u16).to_le_bytes());
    header[34..34 + embedder_id.len()].copy_from_slice(embedder_id.as_bytes());
    header[96..100].copy_from_slice(&(meta_json.len() as u32).to_le_bytes());
    let mut file = w.into_inner().map_err(|e| io(e.into_error()))?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(&header).map_err(io)?;
    crate::faults::point("segment.before_fsync");
    file.sync_all().map_err(io)?;
    Ok(checksum)
}

/// An open, memory-mapped segment.
pub struct Segment {
    map: Mmap,
    /// Floats per vector.
    pub dims: usize,
    /// Rows in the segment.
    pub count: usize,
    /// The checksum its header records for the body.
    pub checksum: u64,
    /// Id of the embedder that produced its vectors.
    pub embedder_id: String,
    /// Agent slugs, indexed by [`Segment::agent_index`].
    pub agents: Vec<String>,
    /// Workspace paths, indexed by [`Segment::workspace_index`].
    pub workspaces: Vec<String>,
    ids_at: usize,
    created_at: usize,
    ws_at: usize,
    agent_at: usize,
    role_at: usize,
    vec_at: usize,
    codes_at: usize,
    /// The quantizer its codes were written with.
    pub quantizer: Quantizer,
    /// Its format: [`VERSION`], or 1 when opened by [`Segment::open_older`].
    pub version: u32,
}

impl Segment {
    /// Maps a segment and checks its header and size (not its checksum:
    /// that reads every byte; see [`Segment::verify`]).
    pub fn open(path: &Path) -> Result<Segment> {
        Self::open_format(path, false)
    }

    /// [`Segment::open`], also for a segment of format 1 (before codes):
    /// its rows, metadata and vectors read as in this format, and it has
    /// no codes ([`Segment::codes`] must not be asked). For rewriting such
    /// a tier in this format from its own vectors instead of embedding
    /// every message again.
    pub fn open_older(path: &Path) -> Result<Segment> {
        Self::open_format(path, true)
    }

    fn open_format(path: &Path, older: bool) -> Result<Segment> {
        let file = File::open(path).map_err(|e| VectorError::io(path, e))?;
        // SAFETY: segments are immutable once renamed into place; cass
        // never writes to a published segment file, only replaces the list.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| VectorError::io(path, e))?;
        let bad = |m: &str| VectorError::corrupt(path, m.to_string());
        if map.len() < HEADER_LEN || &map[0..8] != MAGIC {
            return Err(bad("not a cass vector segment"));
        }
        let u32_at = |o: usize| u32::from_le_bytes(map[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(map[o..o + 8].try_into().expect("8 bytes"));
        let version = u32_at(8);
        if version != VERSION && !(older && version == 1) {
            return Err(bad(&format!(
                "segment format {version}, and this build reads {VERSION} (the tier is rebuilt by the next backfill)"
            )));
        }
        let dims = u32_at(12) as usize;
        let count = u64_at(16) as usize;
        let checksum = u64_at(24);
        let id_len = u16::from_le_bytes([map[32], map[33]]) as usize;
        if id_len > MAX_ID_LEN {
            return Err(bad("bad embedder id length"));
        }
        let embedder_id = String::from_utf8_lossy(&map[34..34 + id_len]).into_owned();
        let meta_len = u32_at(96) as usize;
        let meta_end = HEADER_LEN + meta_len;
        if meta_end > map.len() {
            return Err(bad("truncated metadata"));
        }
        let tables: Tables =
            serde_json::from_slice(&map[HEADER_LEN..meta_end]).map_err(|e| bad(&format!("bad metadata: {e}")))?;
        let ids_at = HEADER_LEN + pad_to(meta_len, 8);
        let created_at = ids_at + count * 8;
        let ws_at = created_at + count * 8;
        let agent_at = ws_at + pad_to(count * 4, 8);
        let role_at = agent_at + count;
        let vec_at = pad_to(role_at + count, 64);
        let vec_end = vec_at + count * dims * 2;
        // Format 1 ends with the vectors.
        let (codes_at, quant_at) = if version == 1 {
            (vec_end, vec_end)
        } else {
            let codes_at = pad_to(vec_end, 64);
            (codes_at, codes_at + count * code_len(dims))
        };
        let end = if version == 1 { vec_end } else { quant_at + dims * 8 };
        if end != map.len() {
            return Err(bad("size does not match the header (truncated or corrupt)"));
        }
        let quantizer = if version == 1 {
            Quantizer { low: vec![0.0; dims], step: vec![0.0; dims] }
        } else {
            Quantizer::from_bytes(&map[quant_at..], dims)
        };
        Ok(Segment {
            map,
            dims,
            count,
            checksum,
            embedder_id,
            agents: tables.agents,
            workspaces: tables.workspaces,
            ids_at,
            created_at,
            ws_at,
            agent_at,
            role_at,
            vec_at,
            codes_at,
            quantizer,
            version,
        })
    }

    /// Recomputes the checksum over every byte after the header, a window
    /// at a time, releasing each window once read: checking a 6 GB segment
    /// must not hold 6 GB of it in the process's resident set.
    pub fn verify(&self) -> bool {
        const WINDOW: usize = 64 << 20;
        let mut sum = Checksum::default();
        let mut at = HEADER_LEN;
        while at < self.map.len() {
            let end = (at + WINDOW).min(self.map.len());
            sum.update(&self.map[at..end]);
            self.release_range(at, end);
            at = end;
        }
        sum.finish() == self.checksum
    }

    /// Drops the pages this process has read of the segment from its
    /// resident set; they stay in the page cache, and a later read maps
    /// them again. For passes that read a whole segment once (verifying,
    /// merging, rewriting), so their memory is a window, not the files:
    /// at ten million rows those files are 6 GB.
    pub fn release(&self) {
        self.release_range(0, self.map.len());
    }

    /// [`Segment::release`] for bytes `start .. end` (from the 64 KiB
    /// boundary at or below `start`, a multiple of every page size in use).
    fn release_range(&self, start: usize, end: usize) {
        #[cfg(unix)]
        {
            let from = start / (64 << 10) * (64 << 10);
            if end > from {
                // SAFETY: a read-only mapping of a file cass never changes
                // while it is published (see `open`): MADV_DONTNEED only
                // removes this process's mappings of those pages, and the
                // next access reads the same bytes back from the page cache
                // or the file, so no slice into the map sees anything else.
                // A refusal (e.g. another page size) only keeps the pages.
                let _ =
                    unsafe { self.map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, end - from) };
            }
        }
        #[cfg(not(unix))]
        let _ = (start, end);
    }

    fn i64_at(&self, base: usize, i: usize) -> i64 {
        let o = base + i * 8;
        i64::from_le_bytes(self.map[o..o + 8].try_into().expect("8 bytes"))
    }

    /// Message id of row `i`.
    pub fn message_id(&self, i: usize) -> i64 {
        self.i64_at(self.ids_at, i)
    }

    /// Creation time of row `i`'s message, when known.
    pub fn created_at(&self, i: usize) -> Option<i64> {
        Some(self.i64_at(self.created_at, i)).filter(|&t| t != i64::MIN)
    }

    /// Index of row `i`'s workspace in `workspaces`, if it has one.
    pub fn workspace_index(&self, i: usize) -> Option<usize> {
        let o = self.ws_at + i * 4;
        let v = u32::from_le_bytes(self.map[o..o + 4].try_into().expect("4 bytes"));
        (v != u32::MAX).then_some(v as usize)
    }

    /// Index of row `i`'s agent in `agents`.
    pub fn agent_index(&self, i: usize) -> usize {
        self.map[self.agent_at + i] as usize
    }

    /// Who spoke row `i`'s message.
    pub fn role(&self, i: usize) -> Role {
        role_from_code(self.map[self.role_at + i])
    }

    /// Row `i`'s vector.
    pub fn vector(&self, i: usize) -> &[f16] {
        let bytes = &self.map[self.vec_at + i * self.dims * 2..self.vec_at + (i + 1) * self.dims * 2];
        // SAFETY: `f16` is `repr(transparent)` over `u16`; the map is page
        // aligned and `vec_at` and row sizes are even, so the pointer is
        // 2-byte aligned; the length is exactly `dims` elements. The file is
        // little-endian, as is every platform cass supports (checked below).
        debug_assert_eq!(bytes.as_ptr() as usize % 2, 0);
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<f16>(), self.dims) }
    }

    /// The codes of rows `start .. start + rows`, `code_len(dims)` bytes each.
    pub fn codes(&self, start: usize, rows: usize) -> &[u8] {
        assert_eq!(self.version, VERSION, "a segment of format {} has no codes", self.version);
        let n = code_len(self.dims);
        &self.map[self.codes_at + start * n..self.codes_at + (start + rows) * n]
    }

    /// Row `i`'s metadata, appended to `rows` as [`write`] takes it.
    pub fn push_row_to(&self, i: usize, rows: &mut RowTable) -> bool {
        let workspace = self.workspace_index(i).and_then(|w| self.workspaces.get(w)).map(String::as_str);
        let agent = self.agents.get(self.agent_index(i)).map_or("", String::as_str);
        rows.push(self.message_id(i), self.created_at(i), self.role(i), agent, workspace)
    }

    /// Every row's message id, in row order (ascending).
    pub fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.count).map(|i| self.message_id(i))
    }
}

#[cfg(not(target_endian = "little"))]
compile_error!("cass vector segments are little-endian; big-endian targets are not supported");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rows_metadata_and_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.cvs");
        let ids = [3, 7, 9];
        let mut rows = RowTable::default();
        rows.push(3, Some(100), Role::User, "codex", Some("/a"));
        rows.push(7, Some(200), Role::Tool, "claude_code", None);
        rows.push(9, Some(300), Role::Assistant, "codex", Some("/b"));
        let sum = write(&p, "hash", 64, &rows, |i, row| {
            for (j, v) in row.iter_mut().enumerate() {
                *v = f16::from_f32((i * 64 + j) as f32 / 256.0);
            }
            Ok(())
        })
        .unwrap();
        let s = Segment::open(&p).unwrap();
        assert_eq!((s.count, s.dims, s.checksum, s.embedder_id.as_str()), (3, 64, sum, "hash"));
        assert!(s.verify());
        assert_eq!(s.ids().collect::<Vec<_>>(), ids);
        assert_eq!(s.agents[s.agent_index(1)], "claude_code");
        assert_eq!(s.workspace_index(1), None);
        assert_eq!(s.workspaces[s.workspace_index(2).unwrap()], "/b");
        assert_eq!((s.created_at(0), s.role(1)), (Some(100), Role::Tool));
        assert_eq!(s.vector(2)[5].to_f32(), (2 * 64 + 5) as f32 / 256.0);
        // Released pages read back the same bytes.
        s.release();
        assert_eq!(s.vector(2)[5].to_f32(), (2 * 64 + 5) as f32 / 256.0);
        assert!(s.verify() && s.verify());
        assert_eq!((s.vec_at % 64, s.codes_at % 64), (0, 0));
        // Each row's code is what the quantizer makes of its vector.
        let mut code = vec![0u8; code_len(64)];
        for i in 0..3 {
            s.quantizer.encode(s.vector(i), &mut code);
            assert_eq!(s.codes(i, 1), code);
        }
        assert_eq!(s.codes(0, 3).len(), 3 * code_len(64));
    }

    #[test]
    fn a_segment_of_the_format_before_codes_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.cvs");
        let mut rows = RowTable::default();
        rows.push(1, Some(1), Role::User, "a", None);
        write(&p, "hash", 32, &rows, |_, row| {
            row.fill(f16::ONE);
            Ok(())
        })
        .unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        std::fs::write(&p, &bytes).unwrap();
        let err = Segment::open(&p).err().expect("refused").to_string();
        assert!(err.contains("segment format 1"), "{err}");
    }

    #[test]
    fn detects_truncation_and_flipped_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.cvs");
        let mut rows = RowTable::default();
        rows.push(1, Some(1), Role::User, "a", None);
        write(&p, "hash", 32, &rows, |_, row| {
            row.fill(f16::ONE);
            Ok(())
        })
        .unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&p, &bytes).unwrap();
        assert!(!Segment::open(&p).unwrap().verify());
        bytes.pop();
        std::fs::write(&p, &bytes).unwrap();
        assert!(Segment::open(&p).is_err());
    }
}
