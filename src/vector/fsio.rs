//! The few functions that write, fsync and rename. Every durable step of the
//! semantic tier goes through here, so crash tests can stop the process at
//! each of them (`CASS_TEST_CRASH_AT=<point>`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::{Result, VectorError};
use crate::faults;

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync dir.
/// A crash leaves either the old file or the new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8], crash_prefix: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp).map_err(|e| VectorError::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| VectorError::io(&tmp, e))?;
        faults::point(&format!("{crash_prefix}.before_fsync"));
        f.sync_all().map_err(|e| VectorError::io(&tmp, e))?;
    }
    faults::point(&format!("{crash_prefix}.before_rename"));
    std::fs::rename(&tmp, path).map_err(|e| VectorError::io(path, e))?;
    faults::point(&format!("{crash_prefix}.after_rename"));
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Fsyncs a directory so a rename in it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| VectorError::io(dir, e))
}

/// Opens a file for appending, creating it.
pub fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new().create(true).append(true).open(path).map_err(|e| VectorError::io(path, e))
}
