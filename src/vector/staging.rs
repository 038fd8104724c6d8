//! The staging file: rows `(message id: i64 LE, vector: f16 × dims)` that
//! backfill batches append to until the tier is published. Only rows the
//! checkpoint counts are real; a crash may leave a torn tail, which
//! [`Staging::open`] truncates away.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use half::f16;

use super::{Result, VectorError};

/// The open staging file of one tier, appended to by backfill batches.
pub struct Staging {
    path: PathBuf,
    dims: usize,
    file: File,
}

/// Bytes per staged row: an 8-byte id and `dims` f16 values.
pub fn row_len(dims: usize) -> usize {
    8 + dims * 2
}

impl Staging {
    /// Opens the staging file keeping exactly `rows` rows (creating it, or
    /// cutting off whatever a crashed batch wrote past the checkpoint).
    pub fn open(path: &Path, dims: usize, rows: u64) -> Result<Staging> {
        let file =
            OpenOptions::new().create(true).read(true).append(true).open(path).map_err(|e| VectorError::io(path, e))?;
        let want = rows * row_len(dims) as u64;
        let have = file.metadata().map_err(|e| VectorError::io(path, e))?.len();
        if have < want {
            return Err(VectorError::corrupt(
                path,
                format!("staging holds {have} bytes but the checkpoint counts {rows} rows ({want} bytes)"),
            ));
        }
        if have > want {
            file.set_len(want).map_err(|e| VectorError::io(path, e))?;
        }
        Ok(Staging { path: path.to_path_buf(), dims, file })
    }

    /// Appends rows (vectors as f32, converted to f16) in one write.
    /// Returns the bytes written.
    pub fn append(&mut self, ids: &[i64], vectors: &[f32]) -> Result<u64> {
        assert_eq!(ids.len() * self.dims, vectors.len());
        let mut buf = Vec::with_capacity(ids.len() * row_len(self.dims));
        let mut half_row = vec![f16::ZERO; self.dims];
        for (id, row) in ids.iter().zip(vectors.chunks_exact(self.dims)) {
            buf.extend_from_slice(&id.to_le_bytes());
            half::slice::HalfFloatSliceExt::convert_from_f32_slice(&mut half_row[..], row);
            // SAFETY: `f16` is `repr(transparent)` over `u16`, and cass only
            // builds for little-endian targets (see `segment.rs`), so these
            // are the row's bytes as the file stores them.
            let bytes = unsafe { std::slice::from_raw_parts(half_row.as_ptr().cast::<u8>(), half_row.len() * 2) };
            buf.extend_from_slice(bytes);
        }
        self.file.write_all(&buf).map_err(|e| VectorError::io(&self.path, e))?;
        Ok(buf.len() as u64)
    }

    /// Makes appended rows durable (before the checkpoint that counts them).
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| VectorError::io(&self.path, e))
    }
}

/// Sequential reader of a staging file's first `rows` rows, for publishing.
/// Buffered reads rather than a map, so publishing a gigabyte of staged
/// vectors does not show up as a gigabyte of resident memory.
pub struct StagedReader {
    reader: std::io::BufReader<File>,
    path: PathBuf,
    /// Rows it will read: those the checkpoint counts.
    pub rows: usize,
    next: usize,
    buf: Vec<u8>,
}

impl StagedReader {
    /// Opens the file to read its first `rows` rows; fails if it holds fewer.
    pub fn open(path: &Path, dims: usize, rows: u64) -> Result<StagedReader> {
        let file = File::open(path).map_err(|e| VectorError::io(path, e))?;
        let have = file.metadata().map_err(|e| VectorError::io(path, e))?.len();
        if have < rows * row_len(dims) as u64 {
            return Err(VectorError::corrupt(path, "staging file shorter than its checkpoint"));
        }
        Ok(StagedReader {
            reader: std::io::BufReader::with_capacity(1 << 20, file),
            path: path.to_path_buf(),
            rows: rows as usize,
            next: 0,
            buf: vec![0; row_len(dims)],
        })
    }

    /// Reads row `index`, returning its id and filling `out` with its
    /// vector. In ascending order the reads are sequential; a newest-first
    /// sweep staged its rows by descending id and is read back by ascending
    /// id, which seeks (within the buffer when it can).
    pub fn read_row(&mut self, index: usize, out: &mut [f16]) -> Result<i64> {
        use std::io::Read;
        if index >= self.rows {
            return Err(VectorError::corrupt(&self.path, format!("row {index} past the {} staged", self.rows)));
        }
        if index != self.next {
            let delta = (index as i64 - self.next as i64) * self.buf.len() as i64;
            self.reader.seek_relative(delta).map_err(|e| VectorError::io(&self.path, e))?;
        }
        self.reader.read_exact(&mut self.buf).map_err(|e| VectorError::io(&self.path, e))?;
        self.next = index + 1;
        for (o, b) in out.iter_mut().zip(self.buf[8..].chunks_exact(2)) {
            *o = f16::from_bits(u16::from_le_bytes([b[0], b[1]]));
        }
        Ok(i64::from_le_bytes(self.buf[..8].try_into().expect("8 bytes")))
    }

    /// Every staged id, in order (one sequential pass; rewinds afterwards).
    pub fn ids(&mut self) -> Result<Vec<i64>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut ids = Vec::with_capacity(self.rows);
        self.reader.seek(SeekFrom::Start(0)).map_err(|e| VectorError::io(&self.path, e))?;
        for _ in 0..self.rows {
            self.reader.read_exact(&mut self.buf).map_err(|e| VectorError::io(&self.path, e))?;
            ids.push(i64::from_le_bytes(self.buf[..8].try_into().expect("8 bytes")));
        }
        self.reader.seek(SeekFrom::Start(0)).map_err(|e| VectorError::io(&self.path, e))?;
        self.next = 0;
        Ok(ids)
    }
}
