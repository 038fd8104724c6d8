//! `cass index --watch`: file-system notifications on every agent root,
//! debounced into index cycles.
//!
//! A root that does not exist yet is watched through its nearest existing
//! ancestor (non-recursively), so the agent's first session is noticed; a
//! root that is deleted falls back the same way and is watched again when it
//! comes back. Every cycle is an ordinary incremental index run, so nothing
//! depends on an event having been delivered: a missed event only delays a
//! change to the next cycle. Between events the loop sleeps in the kernel
//! (inotify, FSEvents, ReadDirectoryChangesW), so an idle watcher costs no CPU.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use crate::connectors::{self, AgentEnv, Connector};

/// How the loop batches events.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Quiet time after the last relevant event before a cycle starts.
    pub debounce: Duration,
    /// A steady stream of events still starts a cycle this long after the
    /// first one, so an agent writing continuously stays searchable.
    pub max_delay: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions { debounce: Duration::from_millis(200), max_delay: Duration::from_millis(1000) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot start file-system notifications: {0}")]
    Notify(#[from] notify::Error),
}

/// Why a cycle runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The catch-up cycle when watching starts.
    Start,
    /// Session files changed.
    Changes { events: usize },
}

/// One agent root and the connector that owns it.
struct WatchedRoot {
    connector: usize,
    path: PathBuf,
}

/// Watches until `stop` is set (checked at least once a second), calling
/// `cycle` once at start and then after each debounced burst of relevant
/// events. A failing cycle is the caller's to report; watching goes on.
pub fn watch(
    env: &AgentEnv,
    opts: &WatchOptions,
    stop: &AtomicBool,
    mut cycle: impl FnMut(Trigger),
) -> Result<(), WatchError> {
    let connectors = connectors::all();
    let roots: Vec<WatchedRoot> = connectors
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.roots(env).into_iter().map(move |r| WatchedRoot { connector: i, path: r.path }))
        .collect();
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |ev| {
        let _ = tx.send(ev);
    })?;
    let mut armed: HashMap<PathBuf, RecursiveMode> = HashMap::new();
    let mut complete = arm(&mut watcher, &roots, &mut armed);
    let mut last_cycle = timed(&mut cycle, Trigger::Start);
    let mut last_end = Instant::now();

    let tick = Duration::from_secs(1);
    while !stop.load(Ordering::SeqCst) {
        let first = match rx.recv_timeout(tick) {
            Ok(ev) => Some(ev),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut burst = Burst::default();
        match first {
            Some(ev) => burst.add(ev, &roots, &connectors),
            // Some place could not be watched (inotify's watch limit, an
            // unreadable directory): poll it instead, every POLL_EVERY.
            None if !complete && last_end.elapsed() >= POLL_EVERY => burst.rearm = true,
            None => continue,
        }
        if burst.relevant == 0 && !burst.rearm {
            continue;
        }
        // A source rewritten continuously (an editor's database) must not
        // keep cass busy: cycles are spaced by four times the last one's
        // length, so indexing takes at most a fifth of the time.
        let gap = (last_cycle * 4).min(MAX_GAP);
        while last_end.elapsed() < gap {
            match rx.recv_timeout(gap - last_end.elapsed()) {
                Ok(ev) => burst.add(ev, &roots, &connectors),
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
        // Debounce: wait for a quiet moment, but not past max_delay.
        let started = Instant::now();
        loop {
            let left = opts.max_delay.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            match rx.recv_timeout(opts.debounce.min(left)) {
                Ok(ev) => burst.add(ev, &roots, &connectors),
                Err(_) => break,
            }
        }
        if burst.rearm {
            complete = arm(&mut watcher, &roots, &mut armed);
        }
        tracing::debug!(events = burst.relevant, rearm = burst.rearm, "change burst");
        last_cycle = timed(&mut cycle, Trigger::Changes { events: burst.relevant });
        last_end = Instant::now();
    }
    Ok(())
}

/// How often places that could not be watched are polled.
const POLL_EVERY: Duration = Duration::from_secs(30);
/// The longest pause forced between two cycles.
const MAX_GAP: Duration = Duration::from_secs(30);

fn timed(cycle: &mut impl FnMut(Trigger), trigger: Trigger) -> Duration {
    let t = Instant::now();
    cycle(trigger);
    t.elapsed()
}

/// What one burst of events asks for.
#[derive(Default)]
struct Burst {
    relevant: usize,
    /// A root (or a directory above one) appeared or vanished, or the
    /// kernel dropped events: watches must be re-armed.
    rearm: bool,
}

impl Burst {
    fn add(&mut self, ev: notify::Result<notify::Event>, roots: &[WatchedRoot], connectors: &[Box<dyn Connector>]) {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                // Lost events (queue overflow) or a watch gone bad: a cycle
                // and a re-arm recover whatever was missed.
                tracing::warn!("file-system notification error: {e}");
                self.rearm = true;
                self.relevant += 1;
                return;
            }
        };
        if matches!(ev.kind, notify::EventKind::Access(_)) {
            return; // our own reads of session files: never a change
        }
        if ev.need_rescan() {
            self.rearm = true;
            self.relevant += 1;
            return;
        }
        for p in &ev.paths {
            if roots.iter().any(|r| r.path.starts_with(p)) {
                // The root itself, or a directory above it, changed.
                self.rearm = true;
                self.relevant += 1;
            } else if let Some(r) = roots.iter().find(|r| p.starts_with(&r.path)) {
                if is_relevant(connectors[r.connector].as_ref(), &r.path, p) {
                    self.relevant += 1;
                }
                // New directories inside a root are covered by the recursive
                // watch, but re-arming is cheap and also catches a
                // directory that was moved in whole.
                if p.is_dir() {
                    self.rearm = true;
                }
            }
        }
    }
}

/// A session file, a directory that may hold them, or a SQLite sidecar
/// (`-wal`, `-journal`) of a session database.
fn is_relevant(connector: &dyn Connector, root: &Path, path: &Path) -> bool {
    if connector.is_source(root, path) || path.is_dir() {
        return true;
    }
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    ["-wal", "-journal"].iter().any(|suffix| {
        name.strip_suffix(suffix).is_some_and(|base| connector.is_source(root, &path.with_file_name(base)))
    })
}

/// Watches each existing root recursively and, for a missing one, its
/// nearest existing ancestor non-recursively. Stale watches are dropped.
/// Returns false when some place could not be watched.
fn arm(watcher: &mut impl Watcher, roots: &[WatchedRoot], armed: &mut HashMap<PathBuf, RecursiveMode>) -> bool {
    let mut want: HashMap<PathBuf, RecursiveMode> = HashMap::new();
    for r in roots {
        if r.path.is_dir() {
            want.insert(r.path.clone(), RecursiveMode::Recursive);
        } else if let Some(a) = r.path.ancestors().skip(1).find(|a| a.is_dir()) {
            want.entry(a.to_path_buf()).or_insert(RecursiveMode::NonRecursive);
        }
    }
    armed.retain(|path, mode| {
        let keep = want.get(path) == Some(mode) && path.is_dir();
        if !keep {
            let _ = watcher.unwatch(path);
        }
        keep
    });
    let mut complete = true;
    for (path, mode) in want {
        if armed.contains_key(&path) {
            continue;
        }
        match watcher.watch(&path, mode) {
            Ok(()) => {
                tracing::debug!(path = %path.display(), recursive = (mode == RecursiveMode::Recursive), "watching");
                armed.insert(path, mode);
            }
            Err(e) => {
                tracing::warn!("cannot watch {} ({e}); polling it every {}s", path.display(), POLL_EVERY.as_secs());
                complete = false;
            }
        }
    }
    complete
}
