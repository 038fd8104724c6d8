//! Searches run on their own thread so typing never waits for one.
//!
//! The UI sends a [`SearchJob`] per change; the worker keeps only the newest
//! job (a burst of keystrokes runs one search), waits for a short quiet spell
//! before a debounced job, and sends back a [`SearchOutcome`] tagged with the
//! job's generation so the UI can drop answers to queries it has moved past.
//! Pages of the browse list (the recent sessions shown while the query is
//! empty, [`super::browse`]) are jobs of the same queue, answered the same way.
//! The searcher is opened on first use and reopened while the index is
//! missing, so `cass index` run elsewhere is picked up without a restart;
//! [`SearchWorker::reopen`] drops it after a writer finished, so tiers the
//! writer published (which a searcher caches) are seen too.
//!
//! Until hybrid searches have turned out fast (under [`LEXICAL_FIRST_AFTER`];
//! at ten million messages the semantic scan is not), a typed query is answered twice:
//! its lexical results first, marked provisional, then the hybrid ones,
//! unless a newer keystroke came in between.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use super::browse::{self, BrowseRequest};
use crate::Cass;
use crate::model::Conversation;
use crate::search::{Mode, SearchError, SearchRequest, SearchResults, Searcher, TierError};

/// Quiet time after a keystroke before its search runs: long enough to
/// fold a paste or a burst of keys into one search, short enough that a
/// warm search at ten million messages (20-35 ms) shows its results within
/// 100 ms of the last key (#28; with 70 ms it took 105-125 ms).
pub const DEBOUNCE: Duration = Duration::from_millis(40);

/// A hybrid search that took this long makes the next typed queries show
/// their lexical results first: the lexical index answers in a few
/// milliseconds at any size, and the UI owes a first answer within 100 ms
/// of a keystroke (#28). Below it a second answer would only flicker.
pub const LEXICAL_FIRST_AFTER: Duration = Duration::from_millis(25);

/// One search for the worker to run.
#[derive(Debug, Clone)]
pub struct SearchJob {
    /// The UI's search counter when the job was made; answers carry it back.
    pub generation: u64,
    /// The validated request, page offset included.
    pub request: SearchRequest,
    /// Wait for [`DEBOUNCE`] of quiet first (typing); filter changes and
    /// paging run at once.
    pub debounce: bool,
    /// Append to the current results (the next page) instead of replacing them.
    pub append: bool,
}

/// Why a search gave no results, in words for the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchFailure {
    /// No store or lexical index yet.
    NoIndex(String),
    /// The mode needs a semantic tier that is not published.
    NoTier(String),
    /// Any other error, as its message.
    Other(String),
}

impl SearchFailure {
    fn from_error(e: SearchError) -> SearchFailure {
        match e {
            e if e.is_missing_index() => SearchFailure::NoIndex(e.to_string()),
            SearchError::Tier(TierError::NotPublished(t)) => SearchFailure::NoTier(format!(
                "no semantic tier '{t}' is published: run `cass semantic backfill`, or press F5 for lexical"
            )),
            other => SearchFailure::Other(other.to_string()),
        }
    }

    /// The failure in words, for the results pane.
    pub fn message(&self) -> &str {
        match self {
            SearchFailure::NoIndex(m) | SearchFailure::NoTier(m) | SearchFailure::Other(m) => m,
        }
    }
}

/// The worker's answer to one job.
#[derive(Debug)]
pub struct SearchOutcome {
    /// The generation of the job it answers.
    pub generation: u64,
    /// Whether the job asked to append (a next page).
    pub append: bool,
    /// Lexical results shown while the job's hybrid search runs; its final
    /// answer follows with the same generation.
    pub provisional: bool,
    /// The results, or why there are none.
    pub result: Result<SearchResults, SearchFailure>,
}

/// A page of the browse list, read for a [`BrowseRequest`].
#[derive(Debug)]
pub struct BrowseOutcome {
    /// What was asked (its generation, filter and offset).
    pub request: BrowseRequest,
    /// The sessions, or why they could not be read.
    pub result: Result<Vec<Conversation>, String>,
}

/// Work for the thread: a search, or a page of the browse list.
#[derive(Debug)]
enum Job {
    Search(SearchJob),
    Browse(BrowseRequest),
}

impl Job {
    fn debounce(&self) -> bool {
        matches!(self, Job::Search(j) if j.debounce)
    }
}

/// What the thread sends back.
#[derive(Debug)]
pub enum Answer {
    /// A search's results.
    Search(SearchOutcome),
    /// A page of the browse list.
    Browse(BrowseOutcome),
}

/// The handle the UI holds. Dropping it lets the thread end after the
/// search it is running (quitting never waits for a search).
pub struct SearchWorker {
    jobs: Sender<Job>,
    outcomes: Receiver<Answer>,
    stale: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl SearchWorker {
    /// Starts the search thread; `debounce` is the quiet time typed jobs
    /// wait for; lexical results come first after hybrid searches of
    /// [`LEXICAL_FIRST_AFTER`].
    pub fn spawn(cass: Cass, debounce: Duration) -> SearchWorker {
        Self::spawn_tuned(cass, debounce, LEXICAL_FIRST_AFTER)
    }

    /// [`SearchWorker::spawn`] with the hybrid time from which typed
    /// queries get lexical results first (zero: always).
    pub fn spawn_tuned(cass: Cass, debounce: Duration, lexical_first_after: Duration) -> SearchWorker {
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let (out_tx, out_rx) = mpsc::channel();
        let stale = Arc::new(AtomicBool::new(false));
        let flag = stale.clone();
        let thread = std::thread::Builder::new()
            .name("cass-search".into())
            .spawn(move || serve(&cass, debounce, lexical_first_after, &flag, &jobs_rx, &out_tx))
            .expect("spawn the search thread");
        SearchWorker { jobs: jobs_tx, outcomes: out_rx, stale, thread }
    }

    /// Makes the next search open the index afresh (semantic tiers included).
    pub fn reopen(&self) {
        self.stale.store(true, Ordering::Relaxed);
    }

    /// Queues a job; a newer job replaces one not yet started.
    pub fn submit(&self, job: SearchJob) {
        let _ = self.jobs.send(Job::Search(job));
    }

    /// Queues the reading of a page of the browse list (in the same queue:
    /// a newer job, of either kind, replaces it if it has not started).
    pub fn browse(&self, request: BrowseRequest) {
        let _ = self.jobs.send(Job::Browse(request));
    }

    /// An answer, if one is waiting.
    pub fn try_recv(&self) -> Option<Answer> {
        self.outcomes.try_recv().ok()
    }

    /// Waits up to `timeout` for an answer.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Answer> {
        self.outcomes.recv_timeout(timeout).ok()
    }

    /// False once the thread has ended (it only ends early by panicking).
    pub fn is_alive(&self) -> bool {
        !self.thread.is_finished()
    }
}

fn serve(
    cass: &Cass,
    debounce: Duration,
    lexical_first_after: Duration,
    stale: &AtomicBool,
    jobs: &Receiver<Job>,
    out: &Sender<Answer>,
) {
    let mut searcher: Option<Searcher> = None;
    // How long the last hybrid search took. None yet counts as slow: the
    // first search also opens the index and the tier, the slowest of all.
    let mut hybrid_took: Option<Duration> = None;
    // A job that arrived while a provisional answer was sent.
    let mut next: Option<Job> = None;
    while let Some(mut job) = next.take().or_else(|| jobs.recv().ok()) {
        // Keep only the newest job; for typing, wait until the keys pause.
        loop {
            while let Ok(newer) = jobs.try_recv() {
                job = newer;
            }
            if !job.debounce() {
                break;
            }
            match jobs.recv_timeout(debounce) {
                Ok(newer) => job = newer,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        if stale.swap(false, Ordering::Relaxed) {
            searcher = None;
        }
        let answer = match job {
            Job::Search(job) => {
                let hybrid = !job.request.browse && matches!(job.request.mode, None | Some(Mode::Hybrid));
                if hybrid && job.debounce && !job.append && hybrid_took.is_none_or(|t| t >= lexical_first_after) {
                    let mut lexical = job.request.clone();
                    lexical.mode = Some(Mode::Lexical);
                    if let Ok(found) = run(cass, &mut searcher, &lexical) {
                        let first = SearchOutcome {
                            generation: job.generation,
                            append: false,
                            provisional: true,
                            result: Ok(found),
                        };
                        if out.send(Answer::Search(first)).is_err() {
                            return;
                        }
                        // A newer keystroke makes the hybrid answer moot.
                        if let Ok(newer) = jobs.try_recv() {
                            next = Some(newer);
                            continue;
                        }
                    }
                }
                let started = std::time::Instant::now();
                let result = run(cass, &mut searcher, &job.request);
                if hybrid && result.as_ref().is_ok_and(|r| r.mode == Mode::Hybrid.name()) {
                    hybrid_took = Some(started.elapsed());
                }
                Answer::Search(SearchOutcome {
                    generation: job.generation,
                    append: job.append,
                    provisional: false,
                    result,
                })
            }
            Job::Browse(request) => {
                // A reader per page: opening one is cheap, and it always
                // sees the store as it is now (rebuilt or not).
                let result = cass
                    .reader()
                    .and_then(|r| r.sessions(&request.filter, browse::PAGE, request.offset))
                    .map_err(|e| e.to_string());
                Answer::Browse(BrowseOutcome { request, result })
            }
        };
        if out.send(answer).is_err() {
            return;
        }
    }
}

fn run(cass: &Cass, searcher: &mut Option<Searcher>, req: &SearchRequest) -> Result<SearchResults, SearchFailure> {
    // A searcher that cannot reload (its index was deleted or rebuilt) is
    // dropped and the index opened afresh.
    if searcher.as_ref().is_some_and(|s| s.refresh().is_err()) {
        *searcher = None;
    }
    let s = match searcher {
        Some(s) => s,
        None => searcher.insert(cass.searcher().map_err(SearchFailure::from_error)?),
    };
    s.search(req).map_err(SearchFailure::from_error)
}
