//! On-disk vectors for the semantic tiers, laid out like tantivy's segments:
//! immutable, checksummed segment files listed by one `manifest.json` (the
//! commit point), plus one append-only staging file that batches grow until
//! the tier is published.

pub mod firstpass;
pub mod fsio;
pub mod manifest;
pub mod nibble;
pub mod quant;
mod rowfilter;
pub mod scan;
pub mod segment;
pub mod staging;

/// Why a tier's files could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file, as displayed.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not what it should be (bad header, checksum, length or JSON), or a write was refused.
    #[error("{path}: {message}")]
    Corrupt {
        /// The file, as displayed.
        path: String,
        /// What is wrong with it.
        message: String,
    },
}

impl VectorError {
    /// A [`VectorError::Io`] naming `path`.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> VectorError {
        VectorError::Io { path: path.display().to_string(), source }
    }
    /// A [`VectorError::Corrupt`] naming `path`.
    pub fn corrupt(path: &std::path::Path, message: impl Into<String>) -> VectorError {
        VectorError::Corrupt { path: path.display().to_string(), message: message.into() }
    }
    /// True when the disk (or a quota) is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, VectorError::Io { source, .. } if source.raw_os_error() == Some(28) || source.raw_os_error() == Some(122))
    }
}

/// Result of a vector file operation.
pub type Result<T> = std::result::Result<T, VectorError>;
