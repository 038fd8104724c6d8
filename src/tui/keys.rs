//! The key map: [`handle_key`] applies one key press to [`App`] and returns
//! the one [`Action`] that needs the outside world (a search, a store read,
//! the clipboard, an editor). Pure, so tests drive it without a terminal.
//!
//! In the query every printable key types. In the results and the
//! conversation the keys [`KEY_MAP`] lists act (moving, filters, copy,
//! quit…), and any other printable key (and Backspace) goes to the query,
//! which takes the focus: typing never needs `/` first. From the
//! conversation that starts a new search, so the conversation closes.
//! Esc steps back towards the results (it closes the conversation, and
//! leaves the query) and never leaves them, so Esc Esc q quits from
//! anywhere.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Action, App, Chip, Focus, QueryInput};

/// Every key, as the help overlay and docs/TUI.md show it.
pub const KEY_MAP: &[(&str, &str)] = &[
    ("type", "search as you type (words, \"phrases\", prefix*, a OR b, -exclude), in any pane"),
    ("↑ ↓  j k", "move in the results, the conversation or the usage view"),
    ("PgUp PgDn", "move a page"),
    ("Home End  g G", "first / last"),
    ("Enter", "open the selected session or hit; in a conversation, toggle a tool block"),
    ("x", "expand or collapse every tool block in the conversation"),
    ("Esc", "back: close the conversation, leave the query (Esc Esc q quits from anywhere)"),
    ("Tab  Shift-Tab", "switch pane: query, results, conversation"),
    ("/", "focus the query"),
    ("F2  a", "filter by agent (cycles through the indexed agents)"),
    ("F3  w", "filter by workspace (cycles through the busiest workspaces)"),
    ("F4  t", "filter by time: any, 24 h, 7 d, 30 d, 1 year"),
    ("F5  m", "search mode: auto, lexical, semantic, hybrid"),
    ("F7  s", "order: relevance (recent sessions gently first), recent, oldest"),
    ("F8  ^G", "results: one per session (+N more matched in it) or every message"),
    ("F9  r", "filter by machine: local, remote, each synced machine (once one is indexed)"),
    ("Shift-F2…5  A W T M", "the same filters, cycled backwards"),
    ("Ctrl-U  Ctrl-W", "clear the query / delete a word"),
    ("y", "copy the session file path (OSC 52)"),
    ("Y", "copy the conversation id (for `cass view ID`)"),
    ("o", "open the session file in $VISUAL / $EDITOR"),
    ("F6  u", "usage: tokens and cost per day over the last 30 days (Esc, q, F6 or u closes)"),
    ("?  F1", "this help"),
    ("q  Ctrl-C", "quit (q outside the query)"),
];

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
    if app.usage.is_some() {
        return usage_key(app, key);
    }
    match key.code {
        KeyCode::F(1) => {
            app.help = true;
            return Action::None;
        }
        KeyCode::F(n @ 2..=5) => {
            let chip = [Chip::Agent, Chip::Workspace, Chip::Time, Chip::Mode][usize::from(n - 2)];
            return app.cycle_filter(chip, key.modifiers.contains(KeyModifiers::SHIFT));
        }
        KeyCode::F(6) => return app.open_usage(),
        KeyCode::F(7) => return app.cycle_filter(Chip::Sort, key.modifiers.contains(KeyModifiers::SHIFT)),
        KeyCode::F(8) => return app.cycle_filter(Chip::Group, false),
        KeyCode::F(9) => return app.cycle_filter(Chip::Source, key.modifiers.contains(KeyModifiers::SHIFT)),
        // A control key: letters in the results type into the query.
        KeyCode::Char('g') if ctrl => return app.cycle_filter(Chip::Group, false),
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
        KeyCode::Char(c) if printable(key) => {
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
        KeyCode::Enter => return app.open_selected(),
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

/// A key that types a character: no Ctrl or Alt, not a control character.
fn printable(key: KeyEvent) -> bool {
    let held = key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    matches!(key.code, KeyCode::Char(c) if !held && !c.is_control())
}

/// A key the results or the conversation have no use for: a printable one
/// (or Backspace) edits the query, which takes the focus; others do nothing.
fn to_query(app: &mut App, key: KeyEvent) -> Action {
    if !printable(key) && key.code != KeyCode::Backspace {
        return Action::None;
    }
    app.focus = Focus::Query;
    query_key(app, key, false)
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
        KeyCode::Char(c @ ('a' | 'w' | 't' | 'm' | 's' | 'r' | 'A' | 'W' | 'T' | 'M' | 'S' | 'R')) => {
            let chip = match c.to_ascii_lowercase() {
                'a' => Chip::Agent,
                'w' => Chip::Workspace,
                't' => Chip::Time,
                's' => Chip::Sort,
                'r' => Chip::Source,
                _ => Chip::Mode,
            };
            app.cycle_filter(chip, c.is_ascii_uppercase())
        }
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
        KeyCode::Char('u') => app.open_usage(),
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
        KeyCode::Home | KeyCode::Char('g') => app.move_selection(isize::MIN / 2),
        KeyCode::End | KeyCode::Char('G') => app.move_selection(isize::MAX / 2),
        KeyCode::Enter => app.open_selected(),
        KeyCode::Esc => {
            // Back as far as the results, never past them: Esc Esc q quits.
            app.detail = None;
            Action::None
        }
        _ => to_query(app, key),
    }
}

/// Keys while the usage view is open: it scrolls, the agent, workspace and
/// machine chips re-read it, help opens over it, and the keys that opened it (or
/// Esc, `q`) close it; everything else is ignored, so nothing changes
/// unseen behind it.
fn usage_key(app: &mut App, key: KeyEvent) -> Action {
    let back = key.modifiers.contains(KeyModifiers::SHIFT);
    let chip = match key.code {
        KeyCode::F(2) => Some((Chip::Agent, back)),
        KeyCode::F(3) => Some((Chip::Workspace, back)),
        KeyCode::F(9) => Some((Chip::Source, back)),
        KeyCode::Char(c @ ('a' | 'A')) => Some((Chip::Agent, c == 'A')),
        KeyCode::Char(c @ ('w' | 'W')) => Some((Chip::Workspace, c == 'W')),
        KeyCode::Char(c @ ('r' | 'R')) => Some((Chip::Source, c == 'R')),
        _ => None,
    };
    if let Some((chip, back)) = chip {
        return app.refilter_usage(chip, back);
    }
    match key.code {
        KeyCode::Esc | KeyCode::F(6) | KeyCode::Char('q' | 'u') => return app.close_usage(),
        KeyCode::F(1) | KeyCode::Char('?') => {
            app.help = true;
            return Action::None;
        }
        _ => {}
    }
    let Some(u) = app.usage.as_mut() else { return Action::None };
    let page = u.page.max(1) as isize;
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => u.scroll_by(-1),
        KeyCode::Down | KeyCode::Char('j') => u.scroll_by(1),
        KeyCode::PageUp => u.scroll_by(-page),
        KeyCode::PageDown => u.scroll_by(page),
        KeyCode::Home | KeyCode::Char('g') => u.scroll = 0,
        KeyCode::End | KeyCode::Char('G') => u.scroll = usize::MAX,
        _ => {}
    }
    Action::None
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
        _ => {
            // Typing starts a new search: the conversation belongs to the old one.
            if printable(key) || key.code == KeyCode::Backspace {
                app.detail = None;
            }
            return to_query(app, key);
        }
    };
    edge.map(Action::Extend).unwrap_or(Action::None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{Hit, Mode, SearchResults, Snippet};
    use crate::tui::theme::Theme;
    use crate::tui::worker::SearchOutcome;
    use std::path::Path;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn the_machine_chip_cycles_through_local_and_the_machines() {
        let mut app = App::new(Theme::mono());
        app.options.sources = vec!["local".into(), "box".into()];
        handle_key(&mut app, key(KeyCode::F(9)));
        assert_eq!(app.filters.source.as_deref(), Some("local"));
        handle_key(&mut app, key(KeyCode::F(9)));
        assert_eq!(app.filters.source.as_deref(), Some("box"));
        handle_key(&mut app, key(KeyCode::F(9)));
        assert_eq!(app.filters.source, None, "back to every machine");
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
            source: "local".into(),
            origin_path: None,
            score: 1.0,
            snippet: Snippet { text: String::new(), highlights: vec![] },
            more_in_conversation: None,
            partial: false,
        }
    }

    fn outcome(generation: u64, ids: &[i64]) -> SearchOutcome {
        SearchOutcome {
            generation,
            append: false,
            provisional: false,
            result: Ok(SearchResults {
                schema: "",
                query: String::new(),
                browse: false,
                mode: "lexical",
                tier: None,
                fallback: None,
                tier_lag: None,
                total: ids.len(),
                elapsed_ms: 1.0,
                hits: ids.iter().map(|&i| hit(i)).collect(),
                next_offset: None,
                group: "message",
                sort: crate::search::Sort::Relevance,
                partial_matches: 0,
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
        // Lexical results shown first are drawn, but the search is still
        // pending (no next page is asked for) until its own answer.
        let early = SearchOutcome { provisional: true, ..outcome(generations[2], &[9]) };
        assert!(app.apply(early));
        assert_eq!(app.results.hits.len(), 1);
        assert!(app.results.pending);
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
    fn keys_without_a_use_in_the_results_or_the_conversation_type_in_the_query() {
        let mut app = App::new(Theme::mono());
        let Action::Search(job) = handle_key(&mut app, key(KeyCode::Char('x'))) else { panic!() };
        app.apply(outcome(job.generation, &[1, 2, 3]));
        app.focus = Focus::Results;
        // Listed keys act: j moves, a cycles the agent (none to cycle here).
        handle_key(&mut app, key(KeyCode::Char('j')));
        assert_eq!((app.results.selected, app.query.text.as_str()), (1, "x"));
        // Any other printable key types, and the query takes the focus.
        let Action::Search(job) = handle_key(&mut app, key(KeyCode::Char('z'))) else { panic!("z searches") };
        assert!(job.debounce);
        assert_eq!((app.query.text.as_str(), app.focus), ("xz", Focus::Query));
        // From there every key types, those listed too.
        handle_key(&mut app, key(KeyCode::Char('j')));
        assert_eq!(app.query.text, "xzj");
        // Backspace from the results edits the query too; Ctrl and Alt keys do not type.
        app.focus = Focus::Results;
        handle_key(&mut app, key(KeyCode::Backspace));
        assert_eq!((app.query.text.as_str(), app.focus), ("xz", Focus::Query));
        app.focus = Focus::Results;
        assert!(matches!(handle_key(&mut app, KeyEvent::new(KeyCode::Char('e'), KeyModifiers::ALT)), Action::None));
        assert_eq!((app.query.text.as_str(), app.focus), ("xz", Focus::Results));
    }

    #[test]
    fn esc_goes_back_to_the_results_and_no_further_so_esc_esc_q_quits() {
        let mut app = App::new(Theme::mono());
        for c in "err".chars() {
            handle_key(&mut app, key(KeyCode::Char(c)));
        }
        // From the query: Esc leaves it, Esc again stays in the results, q quits.
        handle_key(&mut app, key(KeyCode::Esc));
        handle_key(&mut app, key(KeyCode::Esc));
        assert_eq!(app.focus, Focus::Results);
        assert!(matches!(handle_key(&mut app, key(KeyCode::Char('q'))), Action::Quit));
        assert_eq!(app.query.text, "err", "q did not type");
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
        handle_key(&mut app, KeyEvent::new(KeyCode::F(2), KeyModifiers::SHIFT));
        assert_eq!(app.filters.agent.as_deref(), Some("codex"), "Shift goes back, past all to the last");
        app.focus = Focus::Results;
        handle_key(&mut app, key(KeyCode::Char('A')));
        assert_eq!(app.filters.agent.as_deref(), Some("claude_code"));
        handle_key(&mut app, key(KeyCode::Char('T')));
        assert_eq!(app.filters.time.label(), "1y", "back from any is the widest range");
        handle_key(&mut app, key(KeyCode::Char('t')));
        app.focus = Focus::Query;
        let Action::Search(job) = handle_key(&mut app, key(KeyCode::F(4))) else { panic!() };
        assert!(job.request.filters.since.is_some());
        let Action::Search(job) = handle_key(&mut app, key(KeyCode::F(5))) else { panic!() };
        assert_eq!(job.request.mode, Some(Mode::Lexical));
    }

    #[test]
    fn usage_opens_from_f6_anywhere_and_u_outside_the_query_and_takes_the_keys() {
        let mut app = App::new(Theme::mono());
        app.options.agents = vec!["claude_code".into(), "codex".into()];
        assert!(matches!(handle_key(&mut app, key(KeyCode::Char('u'))), Action::Search(_)), "u types in the query");
        app.query = QueryInput::default();
        let Action::Usage(req) = handle_key(&mut app, key(KeyCode::F(6))) else { panic!("F6 reads a report") };
        assert!(req.agents.is_empty() && req.since.is_some());
        assert!(app.usage.is_some());
        // Keys that would act behind the view do nothing while it is open.
        assert!(matches!(handle_key(&mut app, key(KeyCode::Char('o'))), Action::None));
        assert!(matches!(handle_key(&mut app, key(KeyCode::Char('x'))), Action::None));
        assert_eq!(app.query.text, "");
        // The agent chip re-reads the report, for the chosen agent.
        let Action::Usage(req) = handle_key(&mut app, key(KeyCode::F(2))) else { panic!("F2 re-reads") };
        assert_eq!(req.agents, vec!["claude_code".to_string()]);
        assert_eq!(app.filters.agent.as_deref(), Some("claude_code"));
        let Action::Usage(req) = handle_key(&mut app, key(KeyCode::Char('a'))) else { panic!("a re-reads") };
        assert_eq!(req.agents, vec!["codex".to_string()]);
        // Help opens over it; Esc closes help, then the view.
        handle_key(&mut app, key(KeyCode::Char('?')));
        assert!(app.help && app.usage.is_some());
        handle_key(&mut app, key(KeyCode::Esc));
        assert!(!app.help && app.usage.is_some());
        // `q` closes the view (it does not quit); the chips changed, so the
        // results follow (with an empty query, the browse list is read again).
        let Action::Browse(req) = handle_key(&mut app, key(KeyCode::Char('q'))) else { panic!("q re-lists") };
        assert_eq!(req.filter.agents, vec!["codex".to_string()]);
        assert!(app.usage.is_none());
        app.query = QueryInput { text: "x".into(), cursor: 1 };
        app.focus = Focus::Results;
        assert!(matches!(handle_key(&mut app, key(KeyCode::Char('u'))), Action::Usage(_)));
        handle_key(&mut app, key(KeyCode::F(3)));
        let Action::Search(job) = handle_key(&mut app, key(KeyCode::Char('u'))) else {
            panic!("u closes and searches")
        };
        assert_eq!(job.request.filters.agents, vec!["codex".to_string()]);
        assert!(app.usage.is_none());
        // Closing without a chip change searches nothing.
        handle_key(&mut app, key(KeyCode::F(6)));
        assert!(matches!(handle_key(&mut app, key(KeyCode::F(6))), Action::None));
        handle_key(&mut app, key(KeyCode::Char('u')));
        assert!(matches!(handle_key(&mut app, key(KeyCode::Esc)), Action::None));
        assert!(app.usage.is_none() && app.focus == Focus::Results);
    }

    #[test]
    fn usage_scrolls_within_the_last_frame() {
        let mut app = App::new(Theme::mono());
        handle_key(&mut app, key(KeyCode::F(6)));
        let u = app.usage.as_mut().unwrap();
        (u.max_scroll, u.page) = (30, 10);
        handle_key(&mut app, key(KeyCode::PageUp));
        assert_eq!(app.usage.as_ref().unwrap().scroll, 20, "opens at the end; a page up from there");
        handle_key(&mut app, key(KeyCode::Char('k')));
        handle_key(&mut app, key(KeyCode::Up));
        assert_eq!(app.usage.as_ref().unwrap().scroll, 18);
        handle_key(&mut app, key(KeyCode::Home));
        handle_key(&mut app, key(KeyCode::Char('j')));
        handle_key(&mut app, key(KeyCode::Down));
        assert_eq!(app.usage.as_ref().unwrap().scroll, 2);
        handle_key(&mut app, key(KeyCode::PageDown));
        handle_key(&mut app, key(KeyCode::PageDown));
        handle_key(&mut app, key(KeyCode::PageDown));
        assert_eq!(app.usage.as_ref().unwrap().scroll, 30);
        handle_key(&mut app, key(KeyCode::Home));
        handle_key(&mut app, key(KeyCode::End));
        handle_key(&mut app, key(KeyCode::Up));
        assert_eq!(app.usage.as_ref().unwrap().scroll, 29, "End goes to the last page");
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
