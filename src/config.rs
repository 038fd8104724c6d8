//! Where cass keeps its data, and the layout inside the data directory.

use std::io;
use std::path::{Path, PathBuf};

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
