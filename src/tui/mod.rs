//! The terminal UI: search as you type across every agent.
//!
//! [`app`] holds the state, [`keys`] is the pure key handler, [`view`] draws it,
//! [`worker`] runs searches (and reads the [`browse`] list of recent
//! sessions shown before anything is typed) off the UI thread, [`detail`]
//! pages a conversation around a hit, [`usage`] lays out the usage view, and
//! [`Session`] ties them to a data dir so the same loop runs under a real
//! terminal ([`run`]) or in tests (ratatui's `TestBackend`). The UI only
//! reads, through the library's handle: a [`crate::Searcher`] on the worker
//! thread, a [`crate::Reader`] for conversations and filter choices,
//! [`crate::Cass::usage`] for the usage view, and [`crate::Cass::freshness`]
//! to tell whether a writer runs, so it never waits for an index or a backfill.

pub mod app;
pub mod blocks;
pub mod browse;
pub mod detail;
pub mod highlight;
pub mod keys;
pub mod osc52;
pub mod status;
pub mod terminal;
pub mod text;
pub mod theme;
pub mod usage;
pub mod view;
pub mod worker;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyEvent};

use app::{Action, App, Corpus, FilterOptions};
use detail::Detail;
use keys::handle_key;
use status::IndexStatus;
pub use theme::Theme;
use worker::{Answer, SearchFailure, SearchWorker};

use crate::{Cass, Reader};

/// How often the status line re-reads index freshness and the writer lock.
const STATUS_EVERY: Duration = Duration::from_secs(2);
/// Workspaces the workspace filter cycles through.
const WORKSPACE_CHOICES: i64 = 20;

/// Why the terminal UI could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// The terminal could not be set up, read or drawn to.
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

/// What the terminal itself must do after a key.
#[derive(Debug, PartialEq)]
pub enum Effect {
    /// Nothing for the terminal to do.
    None,
    /// Restore the terminal and exit.
    Quit,
    /// Put this text on the clipboard.
    Copy(String),
    /// Open this file in the user's editor.
    Edit(PathBuf),
}

/// The UI over one data dir: state, search worker, and a reader for
/// conversations and filter choices (opened when the store appears).
pub struct Session {
    /// The UI state; tests read it directly.
    pub app: App,
    cass: Cass,
    worker: SearchWorker,
    reader: Option<Reader>,
    probed: Option<Instant>,
}

impl Session {
    /// Starts the search thread and reads the index status; the store is opened when found.
    pub fn open(cass: Cass, theme: Theme, debounce: Duration) -> Session {
        let worker = SearchWorker::spawn(cass.clone(), debounce);
        let mut s = Session { app: App::new(theme), cass, worker, reader: None, probed: None };
        s.refresh_status();
        s
    }

    /// Applies a key; searches and store reads happen here, terminal work
    /// is returned for the caller.
    pub fn key(&mut self, key: KeyEvent) -> Effect {
        match handle_key(&mut self.app, key) {
            Action::None => Effect::None,
            Action::Quit => Effect::Quit,
            Action::Search(job) => {
                self.worker.submit(job);
                Effect::None
            }
            Action::Open(message_id) => {
                self.open_detail(message_id);
                Effect::None
            }
            Action::OpenSession(id) => {
                self.open_session(id);
                Effect::None
            }
            Action::Browse(request) => {
                self.worker.browse(request);
                Effect::None
            }
            Action::Extend(edge) => {
                if let (Some(reader), Some(d)) = (&self.reader, self.app.detail.as_mut())
                    && let Err(e) = d.extend(reader, edge)
                {
                    self.app.notice = Some(format!("cannot read the conversation: {e}"));
                }
                Effect::None
            }
            Action::Copy { text, what } => {
                self.app.notice = Some(format!("copied the {what} (OSC 52): {}", text::one_line(&text)));
                Effect::Copy(text)
            }
            Action::Edit(path) => Effect::Edit(path),
            Action::Usage(request) => {
                self.load_usage(&request);
                Effect::None
            }
        }
    }

    /// Reads a usage report into the open view. Read here, like a
    /// conversation, rather than on the search thread: the report sums a
    /// few rows per quarter hour (at most 2,880 quarter hours in the
    /// window), read by primary key, so it takes milliseconds at any
    /// store size, and a search never waits behind it.
    fn load_usage(&mut self, request: &crate::usage::ReportRequest) {
        let report = self.cass.usage(request).map_err(|e| format!("cannot read usage: {e}"));
        if let Some(view) = self.app.usage.as_mut() {
            view.report = Some(report);
        }
    }

    fn open_detail(&mut self, message_id: i64) {
        let Some(reader) = &self.reader else {
            self.app.notice = Some("no index to read the conversation from".into());
            return;
        };
        match Detail::load(reader, message_id, &self.app.query.text, self.app.theme) {
            Ok(Some(d)) => self.app.show_detail(d),
            Ok(None) => self.app.notice = Some("that message was re-indexed since the search; search again".into()),
            Err(e) => self.app.notice = Some(format!("cannot read the conversation: {e}")),
        }
    }

    fn open_session(&mut self, id: i64) {
        let Some(reader) = &self.reader else {
            self.app.notice = Some("no index to read the conversation from".into());
            return;
        };
        match Detail::load_session(reader, id, self.app.theme) {
            Ok(Some(d)) => self.app.show_detail(d),
            Ok(None) => self.app.notice = Some("that session was removed since the list was read".into()),
            Err(e) => self.app.notice = Some(format!("cannot read the conversation: {e}")),
        }
    }

    /// Takes every finished search; true when the screen changed.
    pub fn pump(&mut self) -> bool {
        let mut changed = false;
        while let Some(answer) = self.worker.try_recv() {
            changed |= self.take(answer);
        }
        let r = &mut self.app.results;
        if (r.pending || r.loading_more || self.app.browse.pending) && !self.worker.is_alive() {
            // Without this the UI would say "searching…" forever.
            r.pending = false;
            r.loading_more = false;
            r.failure = Some(SearchFailure::Other("the search thread stopped; restart cass".into()));
            self.app.browse.pending = false;
            self.app.browse.failure = Some("the search thread stopped; restart cass".into());
            changed = true;
        }
        changed
    }

    /// Applies one answer of the search thread; true when it was current.
    fn take(&mut self, answer: Answer) -> bool {
        match answer {
            Answer::Search(outcome) => self.app.apply(outcome),
            Answer::Browse(outcome) => self.app.apply_browse(outcome),
        }
    }

    /// Waits until the current search (and page, and browse list page) has
    /// answered, or `timeout` passes; true when nothing is pending any more.
    pub fn wait_for_search(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.app.results.pending || self.app.results.loading_more || self.app.browse.pending {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.worker.recv_timeout(left) {
                Some(answer) => {
                    self.take(answer);
                }
                None => return false,
            }
        }
        true
    }

    /// Re-reads index status, and opens the store once it exists (for the
    /// corpus size and the filter choices, re-read when the index changed).
    pub fn refresh_status(&mut self) {
        self.probed = Some(Instant::now());
        let status = IndexStatus::from(self.cass.freshness());
        if self.app.status.writer.is_some() && status.writer.is_none() {
            // A writer finished: what it published (a tier) needs a fresh searcher.
            self.worker.reopen();
        }
        // Counts and filter choices change only when the index does: re-read
        // them then, not on every probe (they scan the conversations table).
        let index_changed = self.app.status.updated_at != status.updated_at || self.app.corpus.is_none();
        self.app.status = status;
        if index_changed && let Some(request) = self.app.usage.as_ref().map(|u| u.request.clone()) {
            // An index run adds calls: the open usage view shows them.
            self.load_usage(&request);
        }
        if self.reader.is_none() || index_changed {
            // Reopened when the index changed: a rebuilt data dir is a new file.
            self.reader = self.cass.reader().ok();
        }
        if !index_changed || self.reader.is_none() {
            return;
        }
        if self.app.browsing() {
            // New sessions show at the top of the list.
            if let Action::Browse(request) = self.app.reload_browse() {
                self.worker.browse(request);
            }
        } else if matches!(self.app.results.failure, Some(SearchFailure::NoIndex(_))) {
            // A query typed before the first index (or while it was rebuilt)
            // runs now that there is one, without retyping it.
            if let Action::Search(job) = self.app.new_search(false) {
                self.worker.submit(job);
            }
        }
        let Some(reader) = &self.reader else { return };
        if let Ok(totals) = reader.agent_totals() {
            self.app.corpus = Some(Corpus {
                conversations: totals.iter().map(|t| t.conversations).sum(),
                messages: totals.iter().map(|t| t.messages).sum(),
            });
            let workspaces = reader.top_workspaces(WORKSPACE_CHOICES).unwrap_or_default();
            let machines: Vec<String> = reader
                .source_totals()
                .unwrap_or_default()
                .into_iter()
                .map(|t| t.source)
                .filter(|s| s != crate::filters::LOCAL_SOURCE)
                .collect();
            let sources = match machines.len() {
                0 => Vec::new(),
                1 => std::iter::once(crate::filters::LOCAL_SOURCE.to_string()).chain(machines).collect(),
                _ => [crate::filters::LOCAL_SOURCE.to_string(), "remote".to_string()]
                    .into_iter()
                    .chain(machines)
                    .collect(),
            };
            self.app.options =
                FilterOptions { agents: totals.into_iter().map(|t| t.agent).collect(), workspaces, sources };
        }
    }

    /// Refreshes the status when it is due; true when it ran.
    fn tick(&mut self) -> bool {
        if self.probed.is_some_and(|t| t.elapsed() < STATUS_EVERY) {
            return false;
        }
        self.refresh_status();
        true
    }
}

/// Runs the UI on the process's terminal until the user quits. `editor`
/// is the command that opens a session file (`$VISUAL`, `$EDITOR` or `vi`,
/// resolved by the caller; it may carry arguments, as in `code -w`).
pub fn run(cass: Cass, theme: Theme, editor: &str) -> Result<(), TuiError> {
    let mut session = Session::open(cass, theme, worker::DEBOUNCE);
    let mut screen = terminal::Screen::enter()?;
    event_loop(&mut screen, &mut session, editor)?;
    drop(screen);
    Ok(())
}

fn event_loop(screen: &mut terminal::Screen, session: &mut Session, editor: &str) -> std::io::Result<()> {
    let mut dirty = true;
    loop {
        if dirty {
            screen.terminal.draw(|f| view::render(f, &mut session.app))?;
            dirty = false;
        }
        // Poll briefly while a search is out, so its answer is drawn within
        // a frame of arriving; idle, wake only for the status refresh.
        let searching = session.app.results.pending || session.app.results.loading_more;
        let wait = if searching { Duration::from_millis(8) } else { Duration::from_millis(250) };
        if event::poll(wait)? {
            match event::read()? {
                Event::Key(key) => {
                    dirty = true;
                    match session.key(key) {
                        Effect::None => {}
                        Effect::Quit => return Ok(()),
                        Effect::Copy(text) => screen.write_raw(osc52::sequence(&text).as_bytes())?,
                        Effect::Edit(path) => {
                            let result = screen.suspend(|| edit(editor, &path))?;
                            if let Err(e) = result {
                                session.app.notice = Some(e);
                            }
                        }
                    }
                }
                Event::Resize(..) => dirty = true,
                _ => {}
            }
        }
        dirty |= session.pump();
        dirty |= session.tick();
    }
}

/// Runs `editor` (a command, maybe with arguments) on `path`.
fn edit(editor: &str, path: &Path) -> Result<(), String> {
    let mut words = editor.split_whitespace();
    let program = words.next().unwrap_or("vi");
    match std::process::Command::new(program).args(words).arg(path).status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{editor} exited with {s}")),
        Err(e) => Err(format!("cannot run {editor}: {e}")),
    }
}
