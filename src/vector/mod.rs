//! On-disk vectors for the semantic tiers, laid out like tantivy's segments:
//! immutable, checksummed segment files listed by one `manifest.json` (the
//! commit point), plus one append-only staging file that batches grow until
//! the tier is published.

pub mod fsio;
pub mod manifest;
pub mod scan;
pub mod segment;
pub mod staging;

#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Corrupt { path: String, message: String },
}

impl VectorError {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> VectorError {
        VectorError::Io { path: path.display().to_string(), source }
    }
    pub fn corrupt(path: &std::path::Path, message: impl Into<String>) -> VectorError {
        VectorError::Corrupt { path: path.display().to_string(), message: message.into() }
    }
    /// True when the disk (or a quota) is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, VectorError::Io { source, .. } if source.raw_os_error() == Some(28) || source.raw_os_error() == Some(122))
    }
}

pub type Result<T> = std::result::Result<T, VectorError>;
