//! `cass index --watch`: file-system notifications on every agent root,
//! debounced into index cycles.
//!
//! Each directory discovery would walk is watched on its own (not
//! recursively), by the connector's own rules (depth, directories it skips),
//! so a connector that searches `$HOME` shallowly for Aider histories does
//! not put a watch on every directory of every project. A root that does not
//! exist yet is watched through its nearest existing ancestor, so the
//! agent's first session is noticed; a root deleted or replaced (a new
//! inode) is watched again when it is back. Every cycle is an ordinary
//! incremental index run, so nothing depends on an event having been
//! delivered: a missed event only delays a change to the next cycle. Where a
//! watch cannot be placed (the inotify limit, no notification backend), the
//! place is polled every 30 s instead. Between events the loop sleeps in the
//! kernel, so an idle watcher costs no CPU.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use super::discover;
use crate::connectors::{self, AgentEnv, Connector};

/// How the loop batches events.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Quiet time after the last relevant event before a cycle starts.
    pub debounce: Duration,
    /// A cycle also runs this long after the last timed one (remote
    /// machines are synced then; their changes raise no local event).
    pub every: Option<Duration>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions { debounce: Duration::from_millis(200), every: None }
    }
}

impl WatchOptions {
    /// A steady stream of events still starts a cycle this long after the
    /// first one, so an agent writing continuously stays searchable.
    fn max_delay(&self) -> Duration {
        (self.debounce * 5).max(Duration::from_secs(1))
    }
}

/// Why a cycle runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The catch-up cycle when watching starts.
    Start,
    /// Session files changed (or a poll found a place it cannot watch).
    Changes {
        /// File events in the burst that could concern a source.
        events: usize,
    },
    /// [`WatchOptions::every`] passed since the last timed cycle.
    Timer,
}

/// How often places that could not be watched are polled.
const POLL_EVERY: Duration = Duration::from_secs(30);
/// Cycles shorter than this are never spaced out.
const SHORT_CYCLE: Duration = Duration::from_millis(250);
/// The longest pause forced between two cycles.
const MAX_GAP: Duration = Duration::from_secs(30);
/// The stop flag is checked at least this often.
const TICK: Duration = Duration::from_secs(1);
/// How often an idle watcher tells `cass status` it is alive.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// One agent root and the connector that owns it.
struct WatchedRoot {
    connector: usize,
    path: PathBuf,
}

/// Watches until `stop` is set, calling `cycle` once at start and then after
/// each debounced burst of relevant events. A failing cycle is the caller's
/// to report; watching goes on.
pub fn watch(env: &AgentEnv, opts: &WatchOptions, stop: &AtomicBool, mut cycle: impl FnMut(Trigger)) {
    let connectors = connectors::configured(env);
    let roots: Vec<WatchedRoot> = connectors
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.roots(env).into_iter().map(move |r| WatchedRoot { connector: i, path: r.path }))
        .collect();
    let (tx, rx) = mpsc::channel();
    let config = notify::Config::default().with_follow_symlinks(false);
    let mut watcher = match notify::RecommendedWatcher::new(
        move |ev| {
            let _ = tx.send(ev);
        },
        config,
    ) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!("file-system notifications unavailable ({e}); polling every {}s", POLL_EVERY.as_secs());
            None
        }
    };
    let mut state = Armed::default();
    state.arm(watcher.as_mut(), &roots, &connectors, env);
    let mut last_cycle = timed(&mut cycle, Trigger::Start);
    let mut last_end = Instant::now();
    let mut last_beat = Instant::now();
    let mut last_timed = Instant::now();

    while !stop.load(Ordering::SeqCst) {
        if opts.every.is_some_and(|every| last_timed.elapsed() >= every) {
            last_cycle = timed(&mut cycle, Trigger::Timer);
            last_timed = Instant::now();
            last_end = last_timed;
            last_beat = last_timed;
            continue;
        }
        if last_beat.elapsed() >= HEARTBEAT {
            crate::lock::note_progress("watching");
            last_beat = Instant::now();
        }
        let mut burst = Burst::default();
        match rx.recv_timeout(TICK) {
            Ok(ev) => burst.add(ev, &roots, &connectors, &state),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) if watcher.is_some() => return,
            Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(TICK),
        }
        if !state.complete && last_end.elapsed() >= POLL_EVERY {
            burst.rearm = true;
        }
        if burst.relevant == 0 && !burst.rearm {
            continue;
        }
        // Debounce: wait for a quiet moment, but not past max_delay.
        let started = Instant::now();
        loop {
            let left = opts.max_delay().saturating_sub(started.elapsed()).min(opts.debounce);
            if left.is_zero() || stop.load(Ordering::SeqCst) {
                break;
            }
            match rx.recv_timeout(left) {
                Ok(ev) => burst.add(ev, &roots, &connectors, &state),
                Err(_) => break,
            }
        }
        // A source rewritten continuously (an editor's database) must not
        // keep cass busy: after a long cycle the next waits four times its
        // length, so indexing takes at most a fifth of the time. Short
        // cycles (an appended line) wait for nothing.
        let gap = if last_cycle < SHORT_CYCLE { Duration::ZERO } else { (last_cycle * 4).min(MAX_GAP) };
        loop {
            let left = gap.saturating_sub(last_end.elapsed()).min(TICK);
            if left.is_zero() || stop.load(Ordering::SeqCst) {
                break;
            }
            match rx.recv_timeout(left) {
                Ok(ev) => burst.add(ev, &roots, &connectors, &state),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if burst.rearm {
            state.arm(watcher.as_mut(), &roots, &connectors, env);
        }
        tracing::debug!(events = burst.relevant, rearm = burst.rearm, "change burst");
        last_cycle = timed(&mut cycle, Trigger::Changes { events: burst.relevant });
        last_end = Instant::now();
        last_beat = last_end;
        if burst.created {
            // New files may be companions of known sources (OpenCode's
            // message files): learn them.
            state.learn_companions(&connectors, env);
        }
    }
}

fn timed(cycle: &mut impl FnMut(Trigger), trigger: Trigger) -> Duration {
    let t = Instant::now();
    cycle(trigger);
    t.elapsed()
}

/// What one burst of events asks for.
#[derive(Default)]
struct Burst {
    relevant: usize,
    /// A watched directory (or one above a root) appeared or vanished, or
    /// the kernel dropped events: watches must be re-armed.
    rearm: bool,
    created: bool,
}

impl Burst {
    fn add(
        &mut self,
        ev: notify::Result<notify::Event>,
        roots: &[WatchedRoot],
        connectors: &[Box<dyn Connector>],
        state: &Armed,
    ) {
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
        self.created |= matches!(ev.kind, notify::EventKind::Create(_));
        for p in &ev.paths {
            if roots.iter().any(|r| r.path.starts_with(p)) || state.watched.contains_key(p) {
                // A root, a directory above one, or a watched directory
                // itself changed (created, removed, renamed).
                self.rearm = true;
                self.relevant += 1;
            } else if let Some(r) = roots.iter().find(|r| p.starts_with(&r.path)) {
                let c = connectors[r.connector].as_ref();
                if p.is_dir() {
                    // A new directory inside a root: watch it (and look in it).
                    self.rearm = true;
                    self.relevant += 1;
                } else if is_relevant(c, &r.path, p, state) {
                    self.relevant += 1;
                }
            }
        }
    }
}

/// A session file, a file a source reads with it (a companion), a SQLite
/// sidecar (`-wal`, `-journal`) of a session database, or any file in a
/// tree that belongs to the agent alone (a connector walking the default
/// depth owns its root). A connector that searches a shared tree shallowly
/// (Aider in `$HOME`) only counts its own files, so editing a project does
/// not start cycles.
fn is_relevant(connector: &dyn Connector, root: &Path, path: &Path, state: &Armed) -> bool {
    if connector.is_source(root, path) || state.companions.contains(path) {
        return true;
    }
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let sidecar = ["-wal", "-journal"].iter().any(|suffix| {
        name.strip_suffix(suffix).is_some_and(|base| connector.is_source(root, &path.with_file_name(base)))
    });
    sidecar || connector.walk_depth() >= crate::connectors::DEFAULT_WALK_DEPTH
}

/// The watches in place, and what is known about the files below them.
#[derive(Default)]
struct Armed {
    /// Watched directory → its inode when the watch was placed.
    watched: HashMap<PathBuf, u64>,
    /// Files some source reads along with itself.
    companions: HashSet<PathBuf>,
    /// Every wanted place is watched (else it is polled).
    complete: bool,
}

impl Armed {
    /// Watches every directory discovery walks (each on its own), and for a
    /// missing root its nearest existing ancestor. Watches on directories
    /// that vanished or were replaced (another inode) are renewed.
    fn arm(
        &mut self,
        watcher: Option<&mut notify::RecommendedWatcher>,
        roots: &[WatchedRoot],
        connectors: &[Box<dyn Connector>],
        env: &AgentEnv,
    ) {
        let Some(watcher) = watcher else {
            self.complete = false;
            return;
        };
        let mut want: HashSet<PathBuf> = HashSet::new();
        for r in roots {
            let c = &connectors[r.connector];
            if r.path.is_dir() {
                want.extend(discover::dirs_below(&r.path, c.walk_depth(), &|d: &Path| c.descend(d)));
            } else if let Some(a) = r.path.ancestors().skip(1).find(|a| a.is_dir()) {
                want.insert(a.to_path_buf());
            }
        }
        self.watched.retain(|path, ino| {
            let keep = want.contains(path) && inode_of(path) == Some(*ino);
            if !keep {
                let _ = watcher.unwatch(path);
            }
            keep
        });
        self.complete = true;
        for path in want {
            if self.watched.contains_key(&path) {
                continue;
            }
            let Some(ino) = inode_of(&path) else { continue };
            match watcher.watch(&path, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(path, ino);
                }
                Err(e) => {
                    if self.complete {
                        tracing::warn!(
                            "cannot watch {} ({e}); polling every {}s",
                            path.display(),
                            POLL_EVERY.as_secs()
                        );
                    }
                    self.complete = false;
                }
            }
        }
        tracing::debug!(watches = self.watched.len(), complete = self.complete, "armed");
        self.learn_companions(connectors, env);
    }

    fn learn_companions(&mut self, connectors: &[Box<dyn Connector>], env: &AgentEnv) {
        let mut problems = Vec::new();
        let (_, candidates) = discover::discover(connectors, env, &[], &mut problems);
        self.companions =
            candidates.iter().flat_map(|c| connectors[c.connector].companions(&c.path)).collect::<HashSet<_>>();
    }
}

#[cfg(unix)]
fn inode_of(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().filter(|m| m.is_dir()).map(|m| m.ino())
}

#[cfg(not(unix))]
fn inode_of(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().filter(|m| m.is_dir()).map(|_| 0)
}
