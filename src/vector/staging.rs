//! The staging file: rows `(message id: i64 LE, vector: f16 × dims)` that
//! backfill batches append to until the tier is published. Only rows the
//! checkpoint counts are real; a crash may leave a torn tail, which
//! [`Staging::open`] truncates away.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use half::f16;
use memmap2::Mmap;

use super::{Result, VectorError};

pub struct Staging {
    path: PathBuf,
    dims: usize,
    file: File,
}

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
            for h in &half_row {
                buf.extend_from_slice(&h.to_bits().to_le_bytes());
            }
        }
        self.file.write_all(&buf).map_err(|e| VectorError::io(&self.path, e))?;
        Ok(buf.len() as u64)
    }

    /// Makes appended rows durable (before the checkpoint that counts them).
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| VectorError::io(&self.path, e))
    }
}

/// Read access to a staging file's first `rows` rows, for publishing.
pub struct StagedRows {
    map: Option<Mmap>,
    dims: usize,
    pub rows: usize,
}

impl StagedRows {
    pub fn open(path: &Path, dims: usize, rows: u64) -> Result<StagedRows> {
        if rows == 0 {
            return Ok(StagedRows { map: None, dims, rows: 0 });
        }
        let file = File::open(path).map_err(|e| VectorError::io(path, e))?;
        // SAFETY: only this process (the lock holder) writes the staging
        // file, and it does not append while publishing.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| VectorError::io(path, e))?;
        if (map.len() as u64) < rows * row_len(dims) as u64 {
            return Err(VectorError::corrupt(path, "staging file shorter than its checkpoint"));
        }
        Ok(StagedRows { map: Some(map), dims, rows: rows as usize })
    }

    fn row(&self, i: usize) -> &[u8] {
        let len = row_len(self.dims);
        &self.map.as_ref().expect("rows > 0")[i * len..(i + 1) * len]
    }

    pub fn id(&self, i: usize) -> i64 {
        i64::from_le_bytes(self.row(i)[..8].try_into().expect("8 bytes"))
    }

    pub fn vector_into(&self, i: usize, out: &mut [f16]) {
        for (o, b) in out.iter_mut().zip(self.row(i)[8..].chunks_exact(2)) {
            *o = f16::from_bits(u16::from_le_bytes([b[0], b[1]]));
        }
    }
}
