//! The UI's state: query, filters, results, the open conversation, and
//! the effects ([`Action`]) a key can ask for. `keys::handle_key` changes it;
//! nothing here touches the terminal, the disk or a thread, so tests drive
//! the whole interaction with key events and a real store.

use std::path::PathBuf;

use super::browse::{Browse, BrowseRequest};
use super::detail::{Detail, Edge};
use super::status::IndexStatus;
use super::theme::Theme;
use super::usage::UsageView;
use super::worker::{BrowseOutcome, SearchFailure, SearchJob, SearchOutcome};
use crate::SessionFilter;
use crate::model::TimestampMs;
use crate::search::{Filters, Hit, Mode, SearchRequest};
use crate::usage::ReportRequest;

/// Hits fetched per request; the next page loads when the selection nears
/// the end. A screen shows about 15, and each hit costs a snippet, so a
/// small page keeps a keystroke's search within a frame on a large corpus.
pub const PAGE_SIZE: usize = 50;

/// The pane that receives keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The query line: typed keys edit the query.
    Query,
    /// The results list.
    Results,
    /// The open conversation.
    Detail,
}

/// The time filter's steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeRange {
    /// No time bound.
    #[default]
    Any,
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
    /// The last 365 days.
    Year,
}

impl TimeRange {
    /// The chip's text (`any`, `24h`, `7d`, `30d`, `1y`).
    pub fn label(self) -> &'static str {
        match self {
            TimeRange::Any => "any",
            TimeRange::Day => "24h",
            TimeRange::Week => "7d",
            TimeRange::Month => "30d",
            TimeRange::Year => "1y",
        }
    }

    fn since(self, now: TimestampMs) -> Option<TimestampMs> {
        let days = match self {
            TimeRange::Any => return None,
            TimeRange::Day => 1,
            TimeRange::Week => 7,
            TimeRange::Month => 30,
            TimeRange::Year => 365,
        };
        Some(now - days * 86_400_000)
    }
}

/// The filters as chips show them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterState {
    /// Only this agent's messages (a slug); `None`: every agent.
    pub agent: Option<String>,
    /// Only this workspace or below; `None`: any.
    pub workspace: Option<String>,
    /// How far back messages may be.
    pub time: TimeRange,
    /// `None`: the search's default (hybrid with the best tier, else lexical).
    pub mode: Option<Mode>,
    /// `None`: by relevance (recent sessions gently preferred).
    pub sort: Option<crate::search::Sort>,
    /// Every matching message; `false` (the default): the best hit of each
    /// session, with how many more of its messages matched.
    pub per_message: bool,
    /// Only this machine's conversations (`local`, `remote` or a machine's
    /// name); `None`: every machine.
    pub source: Option<String>,
}

impl FilterState {
    /// The machine chip as a filter (its values are valid by construction).
    pub(super) fn source_filter(&self) -> Option<crate::filters::SourceFilter> {
        self.source.as_deref().and_then(|s| crate::filters::SourceFilter::parse(s).ok())
    }
}

impl FilterState {
    fn to_filters(&self, now: TimestampMs) -> Filters {
        Filters {
            agents: self.agent.iter().cloned().collect(),
            workspace: self.workspace.clone(),
            since: self.time.since(now),
            source: self.source_filter(),
            ..Filters::default()
        }
    }

    /// The same chips for the browse list (the mode chip has no say there).
    fn to_session_filter(&self, now: TimestampMs) -> SessionFilter {
        SessionFilter {
            agents: self.agent.iter().cloned().collect(),
            workspace: self.workspace.clone(),
            since: self.time.since(now),
            source: self.source_filter(),
            ..SessionFilter::default()
        }
    }
}

/// One filter chip, as keys name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chip {
    /// The agent filter (F2, `a`).
    Agent,
    /// The workspace filter (F3, `w`).
    Workspace,
    /// The time filter (F4, `t`).
    Time,
    /// The search mode (F5, `m`).
    Mode,
    /// The order of hits (F7, `s`).
    Sort,
    /// One hit per session or every message (F8, Ctrl-G).
    Group,
    /// The machine (F9, `r`), shown once a remote machine is indexed.
    Source,
}

/// What the filters can cycle through, read from the store.
#[derive(Debug, Clone, Default)]
pub struct FilterOptions {
    /// Agent slugs with conversations in the store, sorted.
    pub agents: Vec<String>,
    /// The workspaces with the most conversations, most first.
    pub workspaces: Vec<String>,
    /// The machines to cycle through: `local`, each remote machine with
    /// conversations, and `remote` when there are several (empty: no
    /// remote machine is indexed, and the chip is hidden).
    pub sources: Vec<String>,
}

/// Size of the indexed corpus, for the empty-query screen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Corpus {
    /// Conversations in the store.
    pub conversations: i64,
    /// Messages in the store.
    pub messages: i64,
}

/// The query being typed; `cursor` is a byte index on a char boundary.
#[derive(Debug, Clone, Default)]
pub struct QueryInput {
    /// What is typed.
    pub text: String,
    /// Where the cursor is, as a byte index into `text`.
    pub cursor: usize,
}

impl QueryInput {
    pub(super) fn insert(&mut self, c: char) {
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
    }

    pub(super) fn prev_boundary(&self) -> usize {
        self.text[..self.cursor].char_indices().next_back().map(|(i, _)| i).unwrap_or(0)
    }

    pub(super) fn next_boundary(&self) -> usize {
        self.text[self.cursor..].chars().next().map(|c| self.cursor + c.len_utf8()).unwrap_or(self.cursor)
    }

    pub(super) fn backspace(&mut self) -> bool {
        if self.cursor == 0 {
            return false;
        }
        let at = self.prev_boundary();
        self.text.replace_range(at..self.cursor, "");
        self.cursor = at;
        true
    }

    pub(super) fn delete(&mut self) -> bool {
        let end = self.next_boundary();
        if end == self.cursor {
            return false;
        }
        self.text.replace_range(self.cursor..end, "");
        true
    }

    pub(super) fn delete_word(&mut self) -> bool {
        let before = &self.text[..self.cursor];
        let kept = before.trim_end().rfind(char::is_whitespace).map(|i| i + 1).unwrap_or(0);
        if kept == self.cursor {
            return false;
        }
        self.text.replace_range(kept..self.cursor, "");
        self.cursor = kept;
        true
    }
}

/// What the last search said besides its hits.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultsMeta {
    /// Matches found (see [`crate::search::SearchResults::total`]).
    pub total: usize,
    /// Wall time of the search, in milliseconds.
    pub elapsed_ms: f64,
    /// The mode that ran (`lexical`, `semantic`, `hybrid`).
    pub mode: &'static str,
    /// The semantic tier that ran, if any.
    pub tier: Option<&'static str>,
    /// Why the search ran in another mode or tier than asked, if it did.
    pub fallback: Option<String>,
    /// Offset of the next page, when there is one.
    pub next_offset: Option<usize>,
}

/// The hits of the current query, the selection, and what is on its way.
#[derive(Debug, Default)]
pub struct ResultList {
    /// Hits loaded so far, every page appended.
    pub hits: Vec<Hit>,
    /// Index of the selected hit.
    pub selected: usize,
    /// First visible hit (kept by the view so the selection stays in sight).
    pub scroll: usize,
    /// What the last answered search said besides its hits.
    pub meta: Option<ResultsMeta>,
    /// Why the last search failed; the hits shown may be from an earlier one.
    pub failure: Option<SearchFailure>,
    /// A search for the current query is on its way.
    pub pending: bool,
    /// The next page is on its way.
    pub loading_more: bool,
    /// The current search's request: later pages reuse it (same filters,
    /// same time bounds) with another offset.
    request: Option<SearchRequest>,
}

/// Effects [`handle_key`] asks the runtime to carry out.
#[derive(Debug)]
pub enum Action {
    /// Nothing to do.
    None,
    /// Leave the UI.
    Quit,
    /// Send this job to the search worker.
    Search(SearchJob),
    /// Open the conversation of this message in the detail pane.
    Open(i64),
    /// Read this page of the browse list (the query is empty).
    Browse(BrowseRequest),
    /// Open this conversation, from its start, in the detail pane.
    OpenSession(i64),
    /// Load more of the open conversation at this edge.
    Extend(Edge),
    /// Put this text on the clipboard; `what` names it for the notice.
    Copy {
        /// The text.
        text: String,
        /// What it is, e.g. `session path`.
        what: &'static str,
    },
    /// Open this file in the user's editor.
    Edit(PathBuf),
    /// Read this usage report into the usage view.
    Usage(ReportRequest),
}

/// The whole UI state: everything a frame draws and a key changes.
pub struct App {
    /// The query line.
    pub query: QueryInput,
    /// The pane that receives keys.
    pub focus: Focus,
    /// The filters as the chips show them.
    pub filters: FilterState,
    /// What the filters cycle through.
    pub options: FilterOptions,
    /// The results list.
    pub results: ResultList,
    /// The most recent sessions, listed while the query is empty.
    pub browse: Browse,
    /// The open conversation, if any.
    pub detail: Option<Detail>,
    /// The help overlay is shown.
    pub help: bool,
    /// The usage view, while it is open (it takes the keys until closed).
    pub usage: Option<UsageView>,
    /// Index freshness and the running writer, for the status line.
    pub status: IndexStatus,
    /// `None` until a store is found.
    pub corpus: Option<Corpus>,
    /// A one-off message for the status line (copied, editor failed, …).
    pub notice: Option<String>,
    /// Colours and emphasis.
    pub theme: Theme,
    /// Rows of the detail pane at the last render, for paging.
    pub detail_rows: usize,
    /// Hits visible at the last render, for paging.
    pub result_rows: usize,
    generation: u64,
}

impl App {
    /// An empty UI: no query, focus on the query line.
    pub fn new(theme: Theme) -> App {
        App {
            query: QueryInput::default(),
            focus: Focus::Query,
            filters: FilterState::default(),
            options: FilterOptions::default(),
            results: ResultList::default(),
            browse: Browse::default(),
            detail: None,
            help: false,
            usage: None,
            status: IndexStatus::default(),
            corpus: None,
            notice: None,
            theme,
            detail_rows: 20,
            result_rows: 10,
            generation: 0,
        }
    }

    /// The hit under the selection, if any.
    pub fn selected_hit(&self) -> Option<&Hit> {
        self.results.hits.get(self.results.selected)
    }

    /// True while nothing is typed: the results pane lists the most
    /// recent sessions instead of hits.
    pub fn browsing(&self) -> bool {
        self.query.text.trim().is_empty()
    }

    /// Reads the browse list afresh, for the chips as they are.
    pub fn reload_browse(&mut self) -> Action {
        self.browse.pending = true;
        let filter = self.filters.to_session_filter(crate::time::now_ms());
        Action::Browse(BrowseRequest { generation: self.generation, filter, offset: 0 })
    }

    /// Takes a page of the browse list; false when it was stale and dropped.
    pub fn apply_browse(&mut self, outcome: BrowseOutcome) -> bool {
        if outcome.request.generation != self.generation {
            return false;
        }
        self.browse.apply(&outcome.request, outcome.result);
        true
    }

    /// Starts a new search for the current query and filters (with no
    /// query, reads the browse list instead). Answers to earlier searches
    /// are dropped from here on (their generation is old).
    pub fn new_search(&mut self, debounce: bool) -> Action {
        self.generation += 1;
        self.results.loading_more = false;
        let text = self.query.text.trim();
        if text.is_empty() {
            self.results = ResultList::default();
            return self.reload_browse();
        }
        // A page of the list on its way is not wanted any more (the thread
        // may drop it for this search, which is newer).
        self.browse.pending = false;
        let filters = self.filters.to_filters(crate::time::now_ms());
        match SearchRequest::new(text, filters, PAGE_SIZE, 0) {
            Ok(mut request) => {
                request.mode = self.filters.mode;
                request.sort = self.filters.sort.unwrap_or_default();
                request.one_per_conversation = !self.filters.per_message;
                self.results.pending = true;
                self.results.request = Some(request.clone());
                Action::Search(SearchJob { generation: self.generation, request, debounce, append: false })
            }
            Err(e) => {
                // Half-typed queries (`foo OR`, `-bar`) keep the last results.
                self.results.pending = false;
                self.results.failure = Some(SearchFailure::Other(e.to_string()));
                Action::None
            }
        }
    }

    /// Asks for the next page when the selection is near the end of the hits.
    pub(super) fn more_if_needed(&mut self) -> Action {
        let near_end = self.results.selected + self.result_rows.max(1) >= self.results.hits.len();
        let Some(offset) = self.results.meta.as_ref().and_then(|m| m.next_offset) else { return Action::None };
        if !near_end || self.results.loading_more || self.results.pending {
            return Action::None;
        }
        let Some(mut request) = self.results.request.clone() else { return Action::None };
        request.offset = offset;
        self.results.loading_more = true;
        Action::Search(SearchJob { generation: self.generation, request, debounce: false, append: true })
    }

    /// Takes a search's answer; returns false when it was stale and dropped.
    pub fn apply(&mut self, outcome: SearchOutcome) -> bool {
        if outcome.generation != self.generation {
            return false;
        }
        let r = &mut self.results;
        if outcome.append {
            r.loading_more = false;
        } else {
            // Lexical results shown early: the search's own answer is
            // still on its way (and no page of it may be asked for yet).
            r.pending = outcome.provisional;
        }
        match outcome.result {
            Ok(found) => {
                r.meta = Some(ResultsMeta {
                    total: found.total,
                    elapsed_ms: found.elapsed_ms,
                    mode: found.mode,
                    tier: found.tier,
                    fallback: found.fallback,
                    next_offset: found.next_offset,
                });
                r.failure = None;
                if outcome.append {
                    r.hits.extend(found.hits);
                } else {
                    r.hits = found.hits;
                    r.selected = 0;
                    r.scroll = 0;
                }
            }
            Err(failure) => {
                if !outcome.append {
                    r.hits.clear();
                    r.meta = None;
                    r.selected = 0;
                }
                r.failure = Some(failure);
            }
        }
        true
    }

    /// Shows a loaded conversation and moves the focus to it.
    pub fn show_detail(&mut self, detail: Detail) {
        self.detail = Some(detail);
        self.focus = Focus::Detail;
    }

    pub(super) fn move_selection(&mut self, delta: isize) -> Action {
        if self.browsing() {
            let page = self.browse.move_selection(delta, self.result_rows, self.generation);
            return page.map_or(Action::None, Action::Browse);
        }
        let n = self.results.hits.len();
        if n == 0 {
            return Action::None;
        }
        self.results.selected = (self.results.selected as isize + delta).clamp(0, n as isize - 1) as usize;
        self.more_if_needed()
    }

    /// Moves a chip to its next value, or its previous one when `back`
    /// (past either end: all / any / auto), and searches.
    pub(super) fn cycle_filter(&mut self, chip: Chip, back: bool) -> Action {
        self.step_filter(chip, back);
        self.new_search(false)
    }

    /// Moves a chip without searching (the usage view reads a report instead).
    fn step_filter(&mut self, chip: Chip, back: bool) {
        /// One step through `all, values…` in a ring.
        fn step<T: Clone + PartialEq>(values: &[T], current: &Option<T>, back: bool) -> Option<T> {
            let ring: Vec<Option<T>> = std::iter::once(None).chain(values.iter().cloned().map(Some)).collect();
            let i = ring.iter().position(|v| v == current).unwrap_or(0);
            let n = ring.len();
            ring[if back { (i + n - 1) % n } else { (i + 1) % n }].clone()
        }
        const TIMES: &[TimeRange] = &[TimeRange::Day, TimeRange::Week, TimeRange::Month, TimeRange::Year];
        const MODES: &[Mode] = &[Mode::Lexical, Mode::Semantic, Mode::Hybrid];
        const SORTS: &[crate::search::Sort] = &[crate::search::Sort::Recent, crate::search::Sort::Oldest];
        let f = &mut self.filters;
        match chip {
            Chip::Agent => f.agent = step(&self.options.agents, &f.agent, back),
            Chip::Workspace => f.workspace = step(&self.options.workspaces, &f.workspace, back),
            Chip::Time => {
                let current = (f.time != TimeRange::Any).then_some(f.time);
                f.time = step(TIMES, &current, back).unwrap_or(TimeRange::Any);
            }
            Chip::Mode => f.mode = step(MODES, &f.mode, back),
            Chip::Sort => f.sort = step(SORTS, &f.sort, back),
            Chip::Group => f.per_message = !f.per_message,
            Chip::Source => f.source = step(&self.options.sources, &f.source, back),
        }
    }

    /// Opens the usage view for the chips' agent and workspace and asks
    /// for its report.
    pub(super) fn open_usage(&mut self) -> Action {
        let view = UsageView::new(&self.filters, crate::time::now_ms());
        let request = view.request.clone();
        self.usage = Some(view);
        Action::Usage(request)
    }

    /// Moves a chip from inside the usage view and asks for the report it
    /// now names; the results follow when the view closes.
    pub(super) fn refilter_usage(&mut self, chip: Chip, back: bool) -> Action {
        self.step_filter(chip, back);
        let action = self.open_usage();
        if let Some(u) = self.usage.as_mut() {
            u.refilter = true;
        }
        action
    }

    /// Closes the usage view; searches again if a chip changed in it, so
    /// the results match the chips.
    pub(super) fn close_usage(&mut self) -> Action {
        match self.usage.take() {
            Some(u) if u.refilter => self.new_search(false),
            _ => Action::None,
        }
    }

    /// The session file and conversation id of what is selected: the open
    /// conversation in the detail pane, else the selected session or hit.
    pub(super) fn target(&self) -> Option<(PathBuf, i64)> {
        if self.focus == Focus::Detail
            && let Some(d) = &self.detail
        {
            return Some((d.conversation.source_path.clone(), d.conversation.id));
        }
        if self.browsing() {
            return self.browse.selected().map(|c| (c.source_path.clone(), c.id));
        }
        self.selected_hit().map(|h| (PathBuf::from(&h.source_path), h.conversation_id))
    }

    /// What Enter opens: the selected session from its start, or the
    /// conversation of the selected hit at the hit.
    pub(super) fn open_selected(&self) -> Action {
        if self.browsing() {
            return self.browse.selected().map_or(Action::None, |c| Action::OpenSession(c.id));
        }
        self.selected_hit().map_or(Action::None, |h| Action::Open(h.message_id))
    }

    pub(super) fn next_focus(&self, back: bool) -> Focus {
        let mut order = vec![Focus::Query, Focus::Results];
        if self.detail.is_some() {
            order.push(Focus::Detail);
        }
        let i = order.iter().position(|f| *f == self.focus).unwrap_or(0);
        let n = order.len();
        order[if back { (i + n - 1) % n } else { (i + 1) % n }]
    }
}
