//! The UI's state and the pure key handler.
//!
//! [`handle_key`] changes [`App`] and returns the one [`Action`] that needs
//! the outside world (a search, a store read, the clipboard, an editor).
//! Nothing here touches the terminal, the disk or a thread, so tests drive
//! the whole interaction with key events and a real store.

use std::path::PathBuf;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::detail::{Detail, Edge};
use super::status::IndexStatus;
use super::theme::Theme;
use super::worker::{SearchFailure, SearchJob, SearchOutcome};
use crate::model::TimestampMs;
use crate::search::{Filters, Hit, Mode, SearchRequest};

/// Hits fetched per request; the next page loads when the selection nears
/// the end. A screen shows about 15, and each hit costs a snippet, so a
/// small page keeps a keystroke's search within a frame on a large corpus.
pub const PAGE_SIZE: usize = 50;

/// Every key, as the help overlay and docs/TUI.md show it.
pub const KEY_MAP: &[(&str, &str)] = &[
    ("type", "search as you type (words, \"phrases\", prefix*, a OR b, -exclude)"),
    ("↑ ↓  j k", "move in the results or the conversation"),
    ("PgUp PgDn", "move a page"),
    ("Home End  g G", "first / last"),
    ("Enter", "open the selected hit; in a conversation, expand or collapse a tool block"),
    ("x", "expand or collapse every tool block in the conversation"),
    ("Esc", "back: close the conversation, leave the query"),
    ("Tab  Shift-Tab", "switch pane: query, results, conversation"),
    ("/", "focus the query"),
    ("F2  a", "filter by agent (cycles through the indexed agents)"),
    ("F3  w", "filter by workspace (cycles through the busiest workspaces)"),
    ("F4  t", "filter by time: any, 24 h, 7 d, 30 d, 1 year"),
    ("F5  m", "search mode: auto, lexical, semantic, hybrid"),
    ("Ctrl-U  Ctrl-W", "clear the query / delete a word"),
    ("y", "copy the session file path (OSC 52)"),
    ("Y", "copy the conversation id (for `cass view ID`)"),
    ("o", "open the session file in $VISUAL / $EDITOR"),
    ("?  F1", "this help"),
    ("q  Ctrl-C", "quit (q outside the query)"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Query,
    Results,
    Detail,
}

/// The time filter's steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeRange {
    #[default]
    Any,
    Day,
    Week,
    Month,
    Year,
}

impl TimeRange {
    fn next(self) -> TimeRange {
        match self {
            TimeRange::Any => TimeRange::Day,
            TimeRange::Day => TimeRange::Week,
            TimeRange::Week => TimeRange::Month,
            TimeRange::Month => TimeRange::Year,
            TimeRange::Year => TimeRange::Any,
        }
    }

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
    pub agent: Option<String>,
    pub workspace: Option<String>,
    pub time: TimeRange,
    /// `None`: the search's default (hybrid with the best tier, else lexical).
    pub mode: Option<Mode>,
}

impl FilterState {
    fn to_filters(&self, now: TimestampMs) -> Filters {
        Filters {
            agents: self.agent.iter().cloned().collect(),
            workspace: self.workspace.clone(),
            since: self.time.since(now),
            ..Filters::default()
        }
    }
}

/// What the filters can cycle through, read from the store.
#[derive(Debug, Clone, Default)]
pub struct FilterOptions {
    pub agents: Vec<String>,
    pub workspaces: Vec<String>,
}

/// Size of the indexed corpus, for the empty-query screen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Corpus {
    pub conversations: i64,
    pub messages: i64,
}

/// The query being typed; `cursor` is a byte index on a char boundary.
#[derive(Debug, Clone, Default)]
pub struct QueryInput {
    pub text: String,
    pub cursor: usize,
}

impl QueryInput {
    fn insert(&mut self, c: char) {
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
    }

    fn prev_boundary(&self) -> usize {
        self.text[..self.cursor].char_indices().next_back().map(|(i, _)| i).unwrap_or(0)
    }

    fn next_boundary(&self) -> usize {
        self.text[self.cursor..].chars().next().map(|c| self.cursor + c.len_utf8()).unwrap_or(self.cursor)
    }

    fn backspace(&mut self) -> bool {
        if self.cursor == 0 {
            return false;
        }
        let at = self.prev_boundary();
        self.text.replace_range(at..self.cursor, "");
        self.cursor = at;
        true
    }

    fn delete(&mut self) -> bool {
        let end = self.next_boundary();
        if end == self.cursor {
            return false;
        }
        self.text.replace_range(self.cursor..end, "");
        true
    }

    fn delete_word(&mut self) -> bool {
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
    pub total: usize,
    pub elapsed_ms: f64,
    pub mode: &'static str,
    pub tier: Option<&'static str>,
    pub fallback: Option<String>,
    pub next_offset: Option<usize>,
}

#[derive(Debug, Default)]
pub struct ResultList {
    pub hits: Vec<Hit>,
    pub selected: usize,
    /// First visible hit (kept by the view so the selection stays in sight).
    pub scroll: usize,
    pub meta: Option<ResultsMeta>,
    pub failure: Option<SearchFailure>,
    /// A search for the current query is on its way.
    pub pending: bool,
    /// The next page is on its way.
    pub loading_more: bool,
}

/// Effects [`handle_key`] asks the runtime to carry out.
#[derive(Debug)]
pub enum Action {
    None,
    Quit,
    Search(SearchJob),
    /// Open the conversation of this message in the detail pane.
    Open(i64),
    /// Load more of the open conversation at this edge.
    Extend(Edge),
    /// Put this text on the clipboard; `what` names it for the notice.
    Copy {
        text: String,
        what: &'static str,
    },
    /// Open this file in the user's editor.
    Edit(PathBuf),
}

pub struct App {
    pub query: QueryInput,
    pub focus: Focus,
    pub filters: FilterState,
    pub options: FilterOptions,
    pub results: ResultList,
    pub detail: Option<Detail>,
    pub help: bool,
    pub status: IndexStatus,
    /// `None` until a store is found.
    pub corpus: Option<Corpus>,
    /// A one-off message for the status line (copied, editor failed, …).
    pub notice: Option<String>,
    pub theme: Theme,
    /// Rows of the detail pane at the last render, for paging.
    pub detail_rows: usize,
    /// Hits visible at the last render, for paging.
    pub result_rows: usize,
    generation: u64,
}

impl App {
    pub fn new(theme: Theme) -> App {
        App {
            query: QueryInput::default(),
            focus: Focus::Query,
            filters: FilterState::default(),
            options: FilterOptions::default(),
            results: ResultList::default(),
            detail: None,
            help: false,
            status: IndexStatus::default(),
            corpus: None,
            notice: None,
            theme,
            detail_rows: 20,
            result_rows: 10,
            generation: 0,
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn selected_hit(&self) -> Option<&Hit> {
        self.results.hits.get(self.results.selected)
    }

    /// Starts a new search for the current query and filters. Answers to
    /// earlier searches are dropped from here on (their generation is old).
    pub fn new_search(&mut self, debounce: bool) -> Action {
        self.generation += 1;
        self.results.loading_more = false;
        let text = self.query.text.trim();
        if text.is_empty() {
            self.results = ResultList::default();
            return Action::None;
        }
        let filters = self.filters.to_filters(crate::time::now_ms());
        match SearchRequest::new(text, filters, PAGE_SIZE, 0) {
            Ok(mut request) => {
                request.mode = self.filters.mode;
                self.results.pending = true;
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
    fn more_if_needed(&mut self) -> Action {
        let near_end = self.results.selected + self.result_rows.max(1) >= self.results.hits.len();
        let Some(offset) = self.results.meta.as_ref().and_then(|m| m.next_offset) else { return Action::None };
        if !near_end || self.results.loading_more || self.results.pending {
            return Action::None;
        }
        let filters = self.filters.to_filters(crate::time::now_ms());
        let Ok(mut request) = SearchRequest::new(self.query.text.trim(), filters, PAGE_SIZE, offset) else {
            return Action::None;
        };
        request.mode = self.filters.mode;
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
            r.pending = false;
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

    fn move_selection(&mut self, delta: isize) -> Action {
        let n = self.results.hits.len();
        if n == 0 {
            return Action::None;
        }
        self.results.selected = (self.results.selected as isize + delta).clamp(0, n as isize - 1) as usize;
        self.more_if_needed()
    }

    fn cycle_filter(&mut self, which: char) -> Action {
        fn next(options: &[String], current: &Option<String>) -> Option<String> {
            match current {
                None => options.first().cloned(),
                Some(c) => options.iter().position(|o| o == c).and_then(|i| options.get(i + 1)).cloned(),
            }
        }
        let f = &mut self.filters;
        match which {
            'a' => f.agent = next(&self.options.agents, &f.agent),
            'w' => f.workspace = next(&self.options.workspaces, &f.workspace),
            't' => f.time = f.time.next(),
            _ => {
                f.mode = match f.mode {
                    None => Some(Mode::Lexical),
                    Some(Mode::Lexical) => Some(Mode::Semantic),
                    Some(Mode::Semantic) => Some(Mode::Hybrid),
                    Some(Mode::Hybrid) => None,
                }
            }
        }
        self.new_search(false)
    }

    /// The session file and conversation id of what is selected: the open
    /// conversation in the detail pane, else the selected hit.
    fn target(&self) -> Option<(PathBuf, i64)> {
        if self.focus == Focus::Detail
            && let Some(d) = &self.detail
        {
            return Some((d.conversation.source_path.clone(), d.conversation.id));
        }
        self.selected_hit().map(|h| (PathBuf::from(&h.source_path), h.conversation_id))
    }

    fn next_focus(&self, back: bool) -> Focus {
        let mut order = vec![Focus::Query, Focus::Results];
        if self.detail.is_some() {
            order.push(Focus::Detail);
        }
        let i = order.iter().position(|f| *f == self.focus).unwrap_or(0);
        let n = order.len();
        order[if back { (i + n - 1) % n } else { (i + 1) % n }]
    }
}

/// Applies one key press to the state.
pub fn handle_key(app: &mut App, key: KeyEvent) -> Action {
    if key.kind == KeyEventKind::Release {
        return Action::None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    app.notice = None;
    if ctrl && key.code == KeyCode::Char('c') {
        return Action::Quit;
    }
    if app.help {
        if matches!(key.code, KeyCode::Esc | KeyCode::F(1) | KeyCode::Char('?') | KeyCode::Char('q')) {
            app.help = false;
        }
        return Action::None;
    }
    match key.code {
        KeyCode::F(1) => {
            app.help = true;
            return Action::None;
        }
        KeyCode::F(2) => return app.cycle_filter('a'),
        KeyCode::F(3) => return app.cycle_filter('w'),
        KeyCode::F(4) => return app.cycle_filter('t'),
        KeyCode::F(5) => return app.cycle_filter('m'),
        KeyCode::Tab => {
            app.focus = app.next_focus(false);
            return Action::None;
        }
        KeyCode::BackTab => {
            app.focus = app.next_focus(true);
            return Action::None;
        }
        _ => {}
    }
    match app.focus {
        Focus::Query => query_key(app, key, ctrl),
        Focus::Results => results_key(app, key),
        Focus::Detail => detail_key(app, key),
    }
}

fn query_key(app: &mut App, key: KeyEvent, ctrl: bool) -> Action {
    let q = &mut app.query;
    let changed = match key.code {
        KeyCode::Char('u') if ctrl => {
            let had = !q.text.is_empty();
            *q = QueryInput::default();
            had
        }
        KeyCode::Char('w') if ctrl => q.delete_word(),
        KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) && !c.is_control() => {
            q.insert(c);
            true
        }
        KeyCode::Backspace => q.backspace(),
        KeyCode::Delete => q.delete(),
        KeyCode::Left => {
            q.cursor = q.prev_boundary();
            false
        }
        KeyCode::Right => {
            q.cursor = q.next_boundary();
            false
        }
        KeyCode::Home => {
            q.cursor = 0;
            false
        }
        KeyCode::End => {
            q.cursor = q.text.len();
            false
        }
        KeyCode::Up => return app.move_selection(-1),
        KeyCode::Down => return app.move_selection(1),
        KeyCode::PageUp => return app.move_selection(-(app.result_rows.max(1) as isize)),
        KeyCode::PageDown => return app.move_selection(app.result_rows.max(1) as isize),
        KeyCode::Enter => return open_selected(app),
        KeyCode::Esc => {
            if app.detail.take().is_none() {
                app.focus = Focus::Results;
            }
            false
        }
        _ => false,
    };
    if changed { app.new_search(true) } else { Action::None }
}

fn open_selected(app: &App) -> Action {
    app.selected_hit().map(|h| Action::Open(h.message_id)).unwrap_or(Action::None)
}

/// Keys that mean the same in the results and the conversation.
fn common_key(app: &mut App, key: KeyEvent) -> Option<Action> {
    let action = match key.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => {
            app.help = true;
            Action::None
        }
        KeyCode::Char('/') => {
            app.focus = Focus::Query;
            Action::None
        }
        KeyCode::Char(c @ ('a' | 'w' | 't' | 'm')) => app.cycle_filter(c),
        KeyCode::Char('y') => match app.target() {
            Some((path, _)) => Action::Copy { text: path.display().to_string(), what: "session path" },
            None => Action::None,
        },
        KeyCode::Char('Y') => match app.target() {
            Some((_, id)) => Action::Copy { text: id.to_string(), what: "conversation id" },
            None => Action::None,
        },
        KeyCode::Char('o') => match app.target() {
            Some((path, _)) => Action::Edit(path),
            None => Action::None,
        },
        _ => return None,
    };
    Some(action)
}

fn results_key(app: &mut App, key: KeyEvent) -> Action {
    if let Some(a) = common_key(app, key) {
        return a;
    }
    let page = app.result_rows.max(1) as isize;
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => app.move_selection(-1),
        KeyCode::Down | KeyCode::Char('j') => app.move_selection(1),
        KeyCode::PageUp => app.move_selection(-page),
        KeyCode::PageDown => app.move_selection(page),
        KeyCode::Home | KeyCode::Char('g') => app.move_selection(-(app.results.hits.len() as isize)),
        KeyCode::End | KeyCode::Char('G') => app.move_selection(app.results.hits.len() as isize),
        KeyCode::Enter => open_selected(app),
        KeyCode::Esc => {
            if app.detail.take().is_none() {
                app.focus = Focus::Query;
            }
            Action::None
        }
        _ => Action::None,
    }
}

fn detail_key(app: &mut App, key: KeyEvent) -> Action {
    if let Some(a) = common_key(app, key) {
        return a;
    }
    let page = app.detail_rows.saturating_sub(2).max(1) as isize;
    let Some(d) = app.detail.as_mut() else {
        app.focus = Focus::Results;
        return Action::None;
    };
    let edge = match key.code {
        KeyCode::Up | KeyCode::Char('k') => d.move_cursor(-1),
        KeyCode::Down | KeyCode::Char('j') => d.move_cursor(1),
        KeyCode::PageUp => d.move_cursor(-page),
        KeyCode::PageDown => d.move_cursor(page),
        KeyCode::Home | KeyCode::Char('g') => d.move_cursor(-(d.cursor as isize)),
        KeyCode::End | KeyCode::Char('G') => d.move_cursor(isize::MAX / 2),
        KeyCode::Enter | KeyCode::Char(' ') => {
            d.toggle_at_cursor();
            None
        }
        KeyCode::Char('x') => {
            d.toggle_all();
            None
        }
        KeyCode::Esc => {
            app.detail = None;
            app.focus = Focus::Results;
            None
        }
        _ => None,
    };
    edge.map(Action::Extend).unwrap_or(Action::None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{SearchResults, Snippet};
    use std::path::Path;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn hit(id: i64) -> Hit {
        Hit {
            message_id: id,
            conversation_id: id * 10,
            agent: "codex".into(),
            workspace: None,
            title: None,
            role: "user".into(),
            created_at: None,
            source_path: format!("/s/{id}.jsonl"),
            score: 1.0,
            snippet: Snippet { text: String::new(), highlights: vec![] },
        }
    }

    fn outcome(generation: u64, ids: &[i64]) -> SearchOutcome {
        SearchOutcome {
            generation,
            append: false,
            result: Ok(SearchResults {
                schema: "",
                query: String::new(),
                mode: "lexical",
                tier: None,
                fallback: None,
                total: ids.len(),
                elapsed_ms: 1.0,
                hits: ids.iter().map(|&i| hit(i)).collect(),
                next_offset: None,
            }),
        }
    }

    #[test]
    fn typing_asks_for_a_debounced_search_and_stale_answers_are_dropped() {
        let mut app = App::new(Theme::mono());
        let mut generations = Vec::new();
        for c in "err".chars() {
            match handle_key(&mut app, key(KeyCode::Char(c))) {
                Action::Search(job) => {
                    assert!(job.debounce && !job.append);
                    assert_eq!(job.request.query_text, app.query.text);
                    generations.push(job.generation);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(app.query.text, "err");
        assert!(!app.apply(outcome(generations[0], &[1])), "an answer to 'e' is stale");
        assert!(app.results.hits.is_empty() && app.results.pending);
        assert!(app.apply(outcome(generations[2], &[2, 3])));
        assert_eq!(app.results.hits.len(), 2);
        assert!(!app.results.pending);
    }

    #[test]
    fn half_typed_queries_keep_the_results_and_say_why() {
        let mut app = App::new(Theme::mono());
        let Action::Search(job) = handle_key(&mut app, key(KeyCode::Char('x'))) else { panic!() };
        app.apply(outcome(job.generation, &[7]));
        app.query = QueryInput { text: "x OR".into(), cursor: 4 };
        assert!(matches!(app.new_search(true), Action::None));
        assert_eq!(app.results.hits.len(), 1);
        assert!(app.results.failure.as_ref().unwrap().message().contains("OR"));
    }

    #[test]
    fn query_editing_respects_char_boundaries() {
        let mut app = App::new(Theme::mono());
        for c in "café x".chars() {
            handle_key(&mut app, key(KeyCode::Char(c)));
        }
        handle_key(&mut app, key(KeyCode::Left));
        handle_key(&mut app, key(KeyCode::Left));
        handle_key(&mut app, key(KeyCode::Backspace));
        assert_eq!(app.query.text, "caf x");
        handle_key(&mut app, KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(app.query.text, " x");
        handle_key(&mut app, KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!((app.query.text.as_str(), app.query.cursor), ("", 0));
    }

    #[test]
    fn focus_keys_and_quit() {
        let mut app = App::new(Theme::mono());
        assert!(matches!(handle_key(&mut app, key(KeyCode::Char('q'))), Action::Search(_)), "q types in the query");
        handle_key(&mut app, key(KeyCode::Tab));
        assert_eq!(app.focus, Focus::Results);
        handle_key(&mut app, key(KeyCode::Tab));
        assert_eq!(app.focus, Focus::Query, "no detail pane to visit");
        handle_key(&mut app, key(KeyCode::Esc));
        assert_eq!(app.focus, Focus::Results);
        handle_key(&mut app, key(KeyCode::Char('/')));
        assert_eq!(app.focus, Focus::Query);
        handle_key(&mut app, key(KeyCode::Esc));
        assert!(matches!(handle_key(&mut app, key(KeyCode::Char('q'))), Action::Quit));
        assert!(matches!(handle_key(&mut app, KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Action::Quit));
    }

    #[test]
    fn help_opens_and_swallows_keys_until_closed() {
        let mut app = App::new(Theme::mono());
        handle_key(&mut app, key(KeyCode::F(1)));
        assert!(app.help);
        assert!(matches!(handle_key(&mut app, key(KeyCode::Char('z'))), Action::None));
        assert_eq!(app.query.text, "");
        handle_key(&mut app, key(KeyCode::Esc));
        assert!(!app.help);
    }

    #[test]
    fn filters_cycle_through_options_and_back_to_all() {
        let mut app = App::new(Theme::mono());
        app.options.agents = vec!["claude_code".into(), "codex".into()];
        app.query = QueryInput { text: "x".into(), cursor: 1 };
        let Action::Search(job) = handle_key(&mut app, key(KeyCode::F(2))) else { panic!() };
        assert!(!job.debounce);
        assert_eq!(job.request.filters.agents, vec!["claude_code".to_string()]);
        handle_key(&mut app, key(KeyCode::F(2)));
        assert_eq!(app.filters.agent.as_deref(), Some("codex"));
        handle_key(&mut app, key(KeyCode::F(2)));
        assert_eq!(app.filters.agent, None);
        let Action::Search(job) = handle_key(&mut app, key(KeyCode::F(4))) else { panic!() };
        assert!(job.request.filters.since.is_some());
        let Action::Search(job) = handle_key(&mut app, key(KeyCode::F(5))) else { panic!() };
        assert_eq!(job.request.mode, Some(Mode::Lexical));
    }

    #[test]
    fn copy_and_edit_name_the_selected_session() {
        let mut app = App::new(Theme::mono());
        let Action::Search(job) = handle_key(&mut app, key(KeyCode::Char('x'))) else { panic!() };
        app.apply(outcome(job.generation, &[1, 2]));
        app.focus = Focus::Results;
        handle_key(&mut app, key(KeyCode::Char('j')));
        match handle_key(&mut app, key(KeyCode::Char('y'))) {
            Action::Copy { text, .. } => assert_eq!(text, "/s/2.jsonl"),
            other => panic!("{other:?}"),
        }
        match handle_key(&mut app, key(KeyCode::Char('Y'))) {
            Action::Copy { text, .. } => assert_eq!(text, "20"),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(handle_key(&mut app, key(KeyCode::Char('o'))), Action::Edit(p) if p == Path::new("/s/2.jsonl"))
        );
        assert!(matches!(handle_key(&mut app, key(KeyCode::Enter)), Action::Open(2)));
    }
}
