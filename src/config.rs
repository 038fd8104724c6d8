//! Where cass keeps its data, and the layout inside the data directory.

use std::io;
use std::path::{Path, PathBuf};

/// Why a data directory cannot hold cass's data.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// The path, or the ancestor it would be created under, is a file.
    #[error("the data dir {} cannot be used: {} is a file, not a directory", .path.display(), .file.display())]
    NotADirectory {
        /// The data dir.
        path: PathBuf,
        /// The file in the way: the data dir itself or an ancestor.
        file: PathBuf,
    },
    /// It exists but cannot be listed (permissions, a broken mount).
    #[error("the data dir {} cannot be read: {source}", .path.display())]
    Unreadable {
        /// The data dir.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// The data directory and the files inside it (see DESIGN.md, "Data directory").
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// `explicit` (from `--data-dir` or `CASS_DATA_DIR`), else the platform data
    /// dir + `cass` (`~/.local/share/cass` on Linux).
    pub fn resolve(explicit: Option<PathBuf>) -> io::Result<DataDir> {
        let root = match explicit.filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => p,
            None => directories::BaseDirs::new()
                .map(|b| b.data_dir().join("cass"))
                .ok_or_else(|| io::Error::other("cannot find a home directory; set CASS_DATA_DIR"))?,
        };
        Ok(DataDir { root })
    }

    /// A data directory at exactly `root`, with no default applied.
    pub fn at(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    /// Checks that the directory can hold cass's data: a directory that can
    /// be listed, or not there yet with a directory as its nearest existing
    /// ancestor (the first `cass index` creates it). Front ends run it once
    /// before any command, so a data dir that is a file is one clear error
    /// everywhere rather than "no index yet" from a reader and "file exists"
    /// from the writer.
    pub fn check(&self) -> Result<(), DataDirError> {
        let root = &self.root;
        match std::fs::metadata(root) {
            Ok(meta) if meta.is_dir() => match std::fs::read_dir(root) {
                Ok(_) => Ok(()),
                Err(source) => Err(DataDirError::Unreadable { path: root.clone(), source }),
            },
            Ok(_) => Err(DataDirError::NotADirectory { path: root.clone(), file: root.clone() }),
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory => {
                // Not there: whatever exists above it must be a directory.
                match root.ancestors().skip(1).find(|a| a.as_os_str().is_empty() || a.exists()) {
                    Some(a) if !a.as_os_str().is_empty() && !a.is_dir() => {
                        Err(DataDirError::NotADirectory { path: root.clone(), file: a.to_path_buf() })
                    }
                    _ => Ok(()),
                }
            }
            Err(source) => Err(DataDirError::Unreadable { path: root.clone(), source }),
        }
    }

    /// Creates the directory (mode 0700: session histories are private).
    pub fn create(&self) -> io::Result<()> {
        std::fs::create_dir_all(&self.root)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The SQLite store, the source of truth.
    pub fn db(&self) -> PathBuf {
        self.root.join("cass.db")
    }
    /// The lexical (tantivy) index directory.
    pub fn lexical(&self) -> PathBuf {
        self.root.join("lexical")
    }
    /// Parent of the semantic tiers' directories, one per tier.
    pub fn semantic(&self) -> PathBuf {
        self.root.join("semantic")
    }
    /// Where downloaded embedding models are installed.
    pub fn models(&self) -> PathBuf {
        self.root.join("models")
    }
    /// The writer lock file, also naming its holder.
    pub fn lock(&self) -> PathBuf {
        self.root.join("cass.lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_in_the_way_is_refused_and_a_missing_dir_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(DataDir::at(dir.path()).check().is_ok());
        assert!(DataDir::at(dir.path().join("not/yet")).check().is_ok(), "created by the first index");
        let e = DataDir::at(&file).check().unwrap_err().to_string();
        assert!(e.contains("is a file, not a directory"), "{e}");
        let below = DataDir::at(file.join("cass")).check().unwrap_err();
        assert!(matches!(&below, DataDirError::NotADirectory { file: f, .. } if f == &file), "{below}");
    }
}
