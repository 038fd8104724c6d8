//! Discovery: which files each agent has, and which of them need reading.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::connectors::{AgentEnv, Connector, Root, SourceLayout};
use crate::remote::Origin;
use crate::store::ingest::FileState;

/// Bytes hashed at the head of a file to notice a rewrite.
pub const HEAD_BYTES: u64 = 4096;

/// One root and what was found there, for the per-agent report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RootReport {
    /// The root directory.
    pub path: PathBuf,
    /// Which setting produced it (`CLAUDE_CONFIG_DIR`, `default`, …).
    pub origin: &'static str,
    /// True when it is a directory that exists.
    pub exists: bool,
    /// Source files found below it (a file under two roots counts once).
    pub files: usize,
}

/// A file found below a root, with the stat facts change detection needs.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Index of its connector in [`crate::connectors::all`].
    pub connector: usize,
    /// The source file.
    pub path: PathBuf,
    /// Its size in bytes, its companions' sizes added.
    pub size: u64,
    /// Latest modification time of it and its companions, ns since the Unix epoch.
    pub mtime_ns: i64,
    /// Its inode number (0 where the platform has none).
    pub inode: u64,
    /// The machine it comes from: 0 for this one, `i + 1` for the `i`-th
    /// remote [`Origin`] handed to [`discover`].
    pub origin: usize,
}

/// Walks every root of every connector: this machine's (reported per
/// agent), then each synced remote machine's, located by its probed
/// environment inside its mirror (`remotes/NAME/files/…`), for the agents
/// it syncs. Symlinks are not followed (no loops, no escaping the agent's
/// root); unreadable directories are reported. A local walk never enters a
/// mirror, so a remote file is never taken for a local one.
pub fn discover(
    connectors: &[Box<dyn Connector>],
    env: &AgentEnv,
    remotes: &[Origin],
    problems: &mut Vec<(PathBuf, String)>,
) -> (Vec<Vec<RootReport>>, Vec<Candidate>) {
    let mut reports = Vec::new();
    let mut found = Vec::new();
    let mut seen: std::collections::HashSet<PathBuf> = Default::default();
    let mirrors: Vec<&Path> = remotes.iter().map(|o| o.mirror.as_path()).collect();
    for (ci, conn) in connectors.iter().enumerate() {
        let mut agent_roots = Vec::new();
        for Root { path, origin } in conn.roots(env) {
            let before = found.len();
            let exists = walk_root(&**conn, ci, 0, &path, &mirrors, &mut seen, &mut found, problems);
            agent_roots.push(RootReport { path, origin, exists, files: found.len() - before });
        }
        reports.push(agent_roots);
    }
    for (oi, remote) in remotes.iter().enumerate() {
        for (ci, conn) in connectors.iter().enumerate().filter(|(_, c)| remote.reads(c.agent().slug())) {
            for root in conn.roots(&remote.env).into_iter().filter(|r| r.path.is_absolute()) {
                let path = crate::remote::mirrored(&remote.mirror, &root.path);
                walk_root(&**conn, ci, oi + 1, &path, &[], &mut seen, &mut found, problems);
            }
        }
    }
    (reports, found)
}

/// Walks one root of one connector into `found`; whether the root exists.
#[allow(clippy::too_many_arguments)]
fn walk_root(
    conn: &dyn Connector,
    ci: usize,
    origin: usize,
    path: &Path,
    skip: &[&Path],
    seen: &mut std::collections::HashSet<PathBuf>,
    found: &mut Vec<Candidate>,
    problems: &mut Vec<(PathBuf, String)>,
) -> bool {
    if !path.is_dir() {
        return false;
    }
    walk(
        path,
        conn.walk_depth(),
        &|dir: &Path| conn.descend(dir) && !skip.contains(&dir),
        &mut |file: &Path, meta: &fs::Metadata| {
            if conn.is_source(path, file) && seen.insert(file.to_path_buf()) {
                let mut c = Candidate {
                    connector: ci,
                    path: file.to_path_buf(),
                    size: meta.len(),
                    mtime_ns: mtime_ns(meta),
                    inode: inode(meta),
                    origin,
                };
                fold_companions(&mut c, &conn.companions(file));
                found.push(c);
            }
        },
        problems,
    );
    true
}

/// The directories discovery walks below `root` (the root included), by the
/// same rules: at most `depth` levels, only where `descend` agrees, never
/// through a symlink. `cass index --watch` watches exactly these.
pub fn dirs_below(root: &Path, depth: usize, descend: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut stack = vec![(root.to_path_buf(), depth)];
    while let Some((dir, left)) = stack.pop() {
        if left == 0 {
            continue;
        }
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) && descend(&e.path()) {
                out.push(e.path());
                stack.push((e.path(), left - 1));
            }
        }
    }
    out
}

/// Folds companion files (a `-wal`, a task's sibling files) into the
/// candidate's change signal: sizes add up, the newest mtime wins, so any
/// change to any of them changes the candidate. Missing and empty companions
/// hold nothing and count for nothing (a reader of a WAL database leaves an
/// empty `-wal` behind, which must not look like a change).
fn fold_companions(c: &mut Candidate, companions: &[PathBuf]) {
    for p in companions {
        if let Ok(meta) = fs::metadata(p)
            && meta.len() > 0
        {
            c.size += meta.len();
            c.mtime_ns = c.mtime_ns.max(mtime_ns(&meta));
        }
    }
}

/// Walks `dir`, descending at most `depth_left` more levels.
fn walk(
    dir: &Path,
    depth_left: usize,
    descend: &dyn Fn(&Path) -> bool,
    on_file: &mut dyn FnMut(&Path, &fs::Metadata),
    problems: &mut Vec<(PathBuf, String)>,
) {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push((dir.to_path_buf(), format!("cannot list directory: {e}")));
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            if depth_left > 0 && descend(&path) {
                walk(&path, depth_left - 1, descend, on_file, problems);
            }
        } else if ft.is_file() {
            match entry.metadata() {
                Ok(meta) => on_file(&path, &meta),
                Err(e) => problems.push((path, format!("cannot stat: {e}"))),
            }
        }
    }
}

#[cfg(unix)]
fn inode(meta: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}
#[cfg(not(unix))]
fn inode(_meta: &fs::Metadata) -> u64 {
    0
}

fn mtime_ns(meta: &fs::Metadata) -> i64 {
    meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as i64)
}

/// What to do with one file this run.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Unchanged since the last run.
    Skip,
    /// Parse from the start, replacing what this file produced before.
    Full,
    /// Parse only what was appended after the stored offset.
    Tail {
        /// Byte offset to resume at: past the last complete line read.
        offset: u64,
        /// Line number of the line at `offset`.
        line: u64,
        /// The connector's saved state (JSON).
        resume: Option<String>,
    },
    /// Re-read a database: the connector emits only conversations changed
    /// since the state it saved, and each replaces its earlier version.
    Refresh {
        /// The connector's saved state (JSON), naming what it read last time.
        resume: Option<String>,
    },
}

/// Decides how to read a candidate given what the store remembers of it.
pub fn plan(c: &Candidate, layout: SourceLayout, prev: Option<&FileState>, full: bool) -> Plan {
    let Some(prev) = prev else { return Plan::Full };
    if full {
        return Plan::Full;
    }
    if prev.size == c.size && prev.mtime_ns == c.mtime_ns && prev.inode == c.inode {
        return Plan::Skip;
    }
    if layout == SourceLayout::AppendOnlyLines
        && prev.inode == c.inode
        && c.size >= prev.offset
        && head_hash(&c.path, prev.offset.min(HEAD_BYTES)).ok() == Some(prev.head_hash)
        && (prev.tail_hash == 0 || tail_hash(&c.path, prev.offset).ok() == Some(prev.tail_hash))
    {
        return Plan::Tail { offset: prev.offset, line: prev.next_line, resume: prev.resume.clone() };
    }
    if layout == SourceLayout::Database && prev.resume.is_some() {
        return Plan::Refresh { resume: prev.resume.clone() };
    }
    Plan::Full
}

/// FNV-1a 64 of the first `len` bytes of a file.
pub fn head_hash(path: &Path, len: u64) -> std::io::Result<u64> {
    let mut buf = Vec::with_capacity(len as usize);
    crate::connectors::lines::open_source(path)?.take(len).read_to_end(&mut buf)?;
    Ok(crate::checksum::fnv1a64(&buf))
}

/// FNV-1a 64 of the (up to) [`HEAD_BYTES`] bytes just before `offset`:
/// with the head hash, a rewrite that keeps the first block and grows the
/// file is told apart from an append.
pub fn tail_hash(path: &Path, offset: u64) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let start = offset.saturating_sub(HEAD_BYTES);
    let mut file = crate::connectors::lines::open_source(path)?;
    file.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::with_capacity((offset - start) as usize);
    file.take(offset - start).read_to_end(&mut buf)?;
    Ok(crate::checksum::fnv1a64(&buf))
}

/// Indexes previous states by path for quick lookup.
pub type StateMap = HashMap<String, FileState>;
