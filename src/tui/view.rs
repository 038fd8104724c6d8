//! Drawing: the query bar, filter chips, results, the conversation, the
//! status line and the help overlay. Layout follows the frame size on every
//! draw, so resizing needs nothing special. Session strings reach cells only
//! through `text` (sanitized) or as snippets (made visible when built).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::app::{App, Focus, TimeRange};
use super::keys::KEY_MAP;
use super::status::relative_time;
use super::text::{self, Styled};
use super::theme::Theme;
use super::usage::{self, UsageView};
use super::worker::SearchFailure;
use crate::model::Conversation;
use crate::search::Hit;
use crate::words::{count, noun};

/// Below this width the conversation replaces the results instead of sitting beside them.
const SIDE_BY_SIDE_MIN_WIDTH: u16 = 100;
/// Rows per hit in the results list.
const HIT_ROWS: usize = 2;

fn to_line(pieces: Styled) -> Line<'static> {
    Line::from(pieces.into_iter().map(|(s, t)| Span::styled(t, s)).collect::<Vec<_>>())
}

/// Draws the whole UI. Takes the state mutably to record what the frame
/// showed (pane heights, scroll offsets) for the next key's paging.
pub fn render(frame: &mut Frame, app: &mut App) {
    let area = frame.area();
    if area.width < 20 || area.height < 8 {
        frame.render_widget(Paragraph::new("cass: window too small"), area);
        return;
    }
    let [query, chips, main, status] =
        Layout::vertical([Constraint::Length(3), Constraint::Length(1), Constraint::Min(3), Constraint::Length(1)])
            .areas(area);
    render_query(frame, app, query);
    render_chips(frame, app, chips);
    match (&app.detail, area.width >= SIDE_BY_SIDE_MIN_WIDTH) {
        _ if app.usage.is_some() => render_usage(frame, app, main),
        (None, _) => render_results(frame, app, main),
        (Some(_), true) => {
            let [left, right] =
                Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(main);
            render_results(frame, app, left);
            render_detail(frame, app, right);
        }
        (Some(_), false) => render_detail(frame, app, main),
    }
    render_status(frame, app, status);
    if app.help {
        render_help(frame, app.theme, area);
    }
}

fn pane(theme: Theme, title: String, focused: bool) -> Block<'static> {
    Block::default().borders(Borders::ALL).border_style(theme.border(focused)).title(title)
}

fn render_query(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme;
    let focused = app.focus == Focus::Query && !app.help && app.usage.is_none();
    let block = pane(theme, " cass · search every agent ".into(), focused);
    let inner = block.inner(area);
    // A query longer than the bar scrolls so the cursor stays in sight.
    let room = (inner.width as usize).saturating_sub(3);
    let q = &app.query;
    let mut start = 0;
    while text::width(&q.text[start..q.cursor]) > room {
        start += q.text[start..].chars().next().map_or(1, char::len_utf8);
    }
    let line = if q.text.is_empty() {
        Line::from(vec![Span::styled("› ", theme.bold()), Span::styled("type to search…", theme.dim())])
    } else {
        Line::from(vec![Span::styled("› ", theme.bold()), Span::raw(q.text[start..].to_string())])
    };
    frame.render_widget(Paragraph::new(line).block(block), area);
    if focused {
        let before = text::width(&q.text[start..q.cursor]) as u16;
        let x = (inner.x + 2 + before).min(inner.right().saturating_sub(1));
        frame.set_cursor_position(Position::new(x, inner.y));
    }
}

fn render_chips(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme;
    let f = &app.filters;
    let chips = [
        ("F2 agent", f.agent.as_deref().map(text::one_line), "all"),
        ("F3 workspace", f.workspace.as_deref().map(|w| text::fit(&text::one_line(w), 32)), "all"),
        ("F4 time", (f.time != TimeRange::Any).then(|| f.time.label().to_string()), "any"),
        ("F5 mode", f.mode.map(|m| m.name().to_string()), "auto"),
        ("F7 sort", f.sort.map(|s| s.name().to_string()), "relevance"),
        ("F8 per", f.per_message.then(|| "message".to_string()), "session"),
        ("F9 machine", f.source.clone(), "all"),
    ];
    let mut spans = Vec::new();
    // The machine chip only once a remote machine is indexed.
    let shown = if app.options.sources.is_empty() && f.source.is_none() { chips.len() - 1 } else { chips.len() };
    for (name, value, default) in chips.into_iter().take(shown) {
        let active = value.is_some();
        spans.push(Span::styled(format!(" {name}: {} ", value.as_deref().unwrap_or(default)), theme.chip(active)));
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn render_results(frame: &mut Frame, app: &mut App, area: Rect) {
    if app.browsing() {
        return render_browse(frame, app, area);
    }
    let theme = app.theme;
    let r = &app.results;
    let title = match (&r.meta, r.hits.is_empty()) {
        (Some(m), false) => format!(" results · {} of {} ", r.hits.len(), m.total),
        _ => " results ".to_string(),
    };
    let mut block = pane(theme, title, app.focus == Focus::Results && !app.help);
    if let Some(note) = r.meta.as_ref().and_then(|m| m.fallback.as_deref()) {
        let note = text::fit(&format!(" {} ", text::one_line(note)), area.width.saturating_sub(4) as usize);
        block = block.title_bottom(Line::styled(note, theme.dim()));
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if r.hits.is_empty() {
        frame.render_widget(Paragraph::new(empty_message(app)), inner);
        return;
    }
    let visible = (inner.height as usize / HIT_ROWS).max(1);
    app.result_rows = visible;
    let r = &mut app.results;
    if r.selected < r.scroll {
        r.scroll = r.selected;
    } else if r.selected >= r.scroll + visible {
        r.scroll = r.selected + 1 - visible;
    }
    let now = crate::time::now_ms();
    let width = inner.width as usize;
    let mut lines = Vec::new();
    for hit in r.hits.iter().skip(r.scroll).take(visible) {
        let (head, snippet) = hit_lines(hit, theme, now);
        lines.push(to_line(text::truncate(&head, width)));
        lines.push(to_line(text::truncate(&snippet, width)));
    }
    frame.render_widget(Paragraph::new(lines), inner);
    let row = (r.selected - r.scroll) * HIT_ROWS;
    let sel = Rect::new(inner.x, inner.y + row as u16, inner.width, (HIT_ROWS as u16).min(inner.height - row as u16));
    frame.buffer_mut().set_style(sel, theme.selected());
}

/// Before anything is typed: the most recent sessions, one row each
/// (agent, when last active, title, workspace, messages), newest first;
/// under them, what typing searches.
fn render_browse(frame: &mut Frame, app: &mut App, area: Rect) {
    let theme = app.theme;
    let mut block = pane(theme, " recent sessions · newest first ".into(), app.focus == Focus::Results && !app.help);
    if let Some(c) = &app.corpus {
        let hint = format!(
            " Type to search {} in {} · Enter opens a session ",
            count(c.messages, "message"),
            count(c.conversations, "conversation")
        );
        block = block.title_bottom(Line::styled(text::fit(&hint, area.width.saturating_sub(4) as usize), theme.dim()));
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let b = &mut app.browse;
    if b.sessions.is_empty() {
        let lines = match (&b.failure, &app.corpus) {
            (Some(e), _) => vec![Line::styled(text::one_line(&format!("cannot list sessions: {e}")), theme.error())],
            (None, _) if b.pending => vec![Line::styled("reading the recent sessions…", theme.dim())],
            (None, None) => no_index(theme),
            (None, Some(_)) if app.filters != Default::default() => vec![
                Line::raw("No sessions for these filters."),
                Line::styled("F2–F4 change them; type to search.", theme.dim()),
            ],
            (None, Some(_)) => {
                vec![Line::raw("No sessions yet."), Line::styled("F1 or ? lists every key.", theme.dim())]
            }
        };
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    }
    let visible = (inner.height as usize).max(1);
    app.result_rows = visible;
    if b.selected < b.scroll {
        b.scroll = b.selected;
    } else if b.selected >= b.scroll + visible {
        b.scroll = b.selected + 1 - visible;
    }
    let now = crate::time::now_ms();
    let width = inner.width as usize;
    let lines: Vec<Line> = b
        .sessions
        .iter()
        .skip(b.scroll)
        .take(visible)
        .map(|c| to_line(text::truncate(&session_line(c, theme, now, width), width)))
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
    let sel = Rect::new(inner.x, inner.y + (b.selected - b.scroll) as u16, inner.width, 1);
    frame.buffer_mut().set_style(sel, theme.selected());
}

/// A session's row: agent, when it was last active, title, then its
/// workspace and how many messages. A long title is cut so the facts
/// after it stay in sight (the workspace gives way first on narrow panes).
fn session_line(c: &Conversation, theme: Theme, now: i64, width: usize) -> Styled {
    /// Columns a title keeps before the workspace gives way.
    const MIN_TITLE: usize = 24;
    let agent = text::one_line(&c.agent);
    let when = c.ended_at.or(c.started_at).map(|t| relative_time(now, t)).unwrap_or_else(|| "-".into());
    let title = c.title.as_deref().map(text::one_line).unwrap_or_else(|| "(untitled)".into());
    let messages = count(c.message_count, "message");
    let room = width.saturating_sub(12 + 11);
    let mut facts = match &c.workspace {
        Some(ws) => format!("  {} · {messages}", text::one_line(ws)),
        None => format!("  {messages}"),
    };
    if room.saturating_sub(text::width(&facts)) < MIN_TITLE {
        facts = format!("  {messages}");
    }
    let title = text::fit(&title, room.saturating_sub(text::width(&facts)).max(1));
    vec![
        (theme.agent(&c.agent), format!("{agent:<12}")),
        (theme.dim(), format!("{when:>9}  ")),
        (theme.bold(), title),
        (theme.dim(), facts),
    ]
}

/// A hit's two rows: agent, age, title and workspace; then role and snippet.
fn hit_lines(hit: &Hit, theme: Theme, now: i64) -> (Styled, Styled) {
    let agent = text::one_line(&hit.agent);
    let when = hit.created_at.map(|t| relative_time(now, t)).unwrap_or_else(|| "-".into());
    let title = hit.title.as_deref().map(text::one_line).unwrap_or_else(|| "(untitled)".into());
    let mut head: Styled = vec![
        (theme.agent(&hit.agent), format!("{agent:<12}")),
        (theme.dim(), format!("{when:>9}  ")),
        (theme.bold(), title),
    ];
    // Before the workspace, which a narrow screen cuts first.
    if let Some(more) = hit.more_in_conversation.filter(|&n| n > 0) {
        head.push((theme.dim(), format!("  +{more} more")));
    }
    if hit.source != crate::filters::LOCAL_SOURCE {
        head.push((theme.dim(), format!("  @{}", text::one_line(&hit.source))));
    }
    if let Some(ws) = &hit.workspace {
        head.push((theme.dim(), format!("  {}", text::one_line(ws))));
    }
    let mut snippet: Styled = vec![(theme.dim(), format!("  {}: ", text::one_line(&hit.role)))];
    // Snippet text was made visible when it was built; ranges are byte offsets into it.
    let s = &hit.snippet;
    let mut last = 0;
    for &(a, b) in &s.highlights {
        if a < last || b > s.text.len() || !s.text.is_char_boundary(a) || !s.text.is_char_boundary(b) {
            continue;
        }
        snippet.push((Style::new(), s.text[last..a].to_string()));
        snippet.push((theme.matched(), s.text[a..b].to_string()));
        last = b;
    }
    snippet.push((Style::new(), s.text[last..].to_string()));
    (head, snippet)
}

fn no_index(theme: Theme) -> Vec<Line<'static>> {
    vec![
        Line::styled("No index yet.", theme.bold()),
        Line::raw(""),
        Line::raw("Run `cass index` (in another terminal) to index your agents' sessions;"),
        Line::raw("the UI picks the index up without a restart (and runs what you typed meanwhile)."),
    ]
}

fn empty_message(app: &App) -> Vec<Line<'static>> {
    let theme = app.theme;
    let r = &app.results;
    match &r.failure {
        Some(SearchFailure::NoIndex(_)) => return no_index(theme),
        Some(f) => return vec![Line::styled(text::one_line(f.message()), theme.error())],
        None => {}
    }
    if r.pending {
        return vec![Line::styled("searching…", theme.dim())];
    }
    let mut lines = vec![Line::raw(format!("No hits for “{}”.", app.query.text.trim()))];
    if app.filters != Default::default() {
        lines.push(Line::styled("Filters are on: F2–F5 change them.", theme.dim()));
    }
    lines
}

fn render_detail(frame: &mut Frame, app: &mut App, area: Rect) {
    let theme = app.theme;
    let focused = app.focus == Focus::Detail && !app.help;
    let Some(d) = app.detail.as_mut() else { return };
    let c = &d.conversation;
    let mut facts = vec![c.title.as_deref().map(text::one_line).unwrap_or_else(|| "(untitled)".into())];
    facts.push(text::one_line(&c.agent));
    if c.source != crate::filters::LOCAL_SOURCE {
        facts.push(format!("@{}", text::one_line(&c.source)));
    }
    if let Some(ws) = &c.workspace {
        facts.push(text::one_line(ws));
    }
    facts.push(crate::words::count(c.message_count, "message"));
    let title = text::fit(&format!(" {} ", facts.join(" · ")), area.width.saturating_sub(4) as usize);
    let block = pane(theme, title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = inner.height as usize;
    app.detail_rows = height;
    let width = inner.width as usize;
    let n = d.lines(width).len();
    if d.reveal_cursor {
        // A quarter of the pane above the hit shows how the exchange got there.
        d.scroll = d.cursor.saturating_sub(height / 4);
        d.reveal_cursor = false;
    }
    if d.cursor < d.scroll {
        d.scroll = d.cursor;
    } else if d.cursor >= d.scroll + height {
        d.scroll = d.cursor + 1 - height;
    }
    d.scroll = d.scroll.min(n.saturating_sub(1));
    let (scroll, cursor) = (d.scroll, d.cursor);
    let lines: Vec<Line> = d.lines(width).iter().skip(scroll).take(height).map(|l| to_line(l.text.clone())).collect();
    frame.render_widget(Paragraph::new(lines), inner);
    if focused && cursor >= scroll && cursor < scroll + height {
        let row = Rect::new(inner.x, inner.y + (cursor - scroll) as u16, inner.width, 1);
        frame.buffer_mut().set_style(row, theme.selected());
    }
}

/// The usage view in the main area, under the chips it follows: column
/// names on top, the days scrolling below them, the total right after the
/// last day (at the bottom once the days fill the pane).
fn render_usage(frame: &mut Frame, app: &mut App, area: Rect) {
    let theme = app.theme;
    let focused = !app.help;
    let Some(u) = app.usage.as_mut() else { return };
    let first = u.first_day.format("%Y-%m-%d");
    let title = format!(" usage · last {} days, from {first} ", usage::DAYS);
    let keys = " ↑↓ PgUp PgDn scroll · F2 agent · F3 workspace · Esc closes ";
    let block = pane(theme, title, focused).title_bottom(Line::styled(keys, theme.dim()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    let note = Line::styled(text::fit(&usage::source_note(u), width), theme.dim());
    let report = match &u.report {
        Some(Ok(r)) if !r.rows.is_empty() => r,
        other => {
            let lines = match other {
                Some(Err(e)) => vec![Line::styled(text::fit(&text::one_line(e), width), theme.error())],
                Some(Ok(_)) => no_usage(theme, note),
                None => vec![Line::styled("reading usage…", theme.dim())],
            };
            frame.render_widget(Paragraph::new(lines), inner);
            return;
        }
    };
    let t = usage::table(report, theme, width);
    let mut lines = vec![to_line(text::truncate(&t.head, width))];
    lines.extend(visible_body(u, &t, inner.height as usize).iter().map(|l| to_line(text::truncate(l, width))));
    lines.extend(t.foot.iter().map(|l| to_line(text::truncate(l, width))));
    lines.push(note);
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The body lines that fit beside the head and the foot (and the note
/// under it), scrolled as the view says; records the page and the scroll
/// limit for the next key.
fn visible_body<'a>(u: &mut UsageView, t: &'a usage::Table, height: usize) -> &'a [Styled] {
    let rows = height.saturating_sub(t.foot.len() + 2).max(1);
    u.page = rows;
    u.max_scroll = t.body.len().saturating_sub(rows);
    u.scroll = u.scroll.min(u.max_scroll);
    let end = (u.scroll + rows).min(t.body.len());
    &t.body[u.scroll..end]
}

fn no_usage(theme: Theme, note: Line<'static>) -> Vec<Line<'static>> {
    vec![
        Line::styled("No token usage in these days for these filters.", theme.bold()),
        Line::raw(""),
        Line::raw("Agents that record tokens include Claude Code and Codex; `cass index` reads new sessions."),
        Line::raw("F2 and F3 change the agent and workspace."),
        Line::raw(""),
        note,
    ]
}

fn render_status(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme;
    let r = &app.results;
    let left: Line = if let Some(n) = &app.notice {
        Line::styled(text::one_line(n), theme.matched())
    } else if app.usage.is_some() {
        // The results' counts belong to a pane the view hides, and `q` closes the view.
        Line::styled("F1 help · Esc or q closes the usage view", theme.dim())
    } else if let (Some(f), false) = (&r.failure, r.hits.is_empty()) {
        Line::styled(text::one_line(f.message()), theme.error())
    } else if let Some(m) = &r.meta {
        let mode = match m.tier {
            Some(t) => format!("{} · {t} tier", m.mode),
            None => m.mode.to_string(),
        };
        let mut s = format!("{} of {} hits · {:.1} ms · {mode}", r.hits.len(), m.total, m.elapsed_ms);
        if r.pending {
            s.push_str(" · searching…");
        }
        if m.fallback.is_some() {
            // The reason is under the results, where there is room for it.
            s.push_str(" (fallback)");
        }
        Line::raw(s)
    } else if r.pending {
        Line::styled("searching…", theme.dim())
    } else if app.browsing() && !app.browse.sessions.is_empty() {
        let more = if app.browse.more { "+" } else { "" };
        let n = app.browse.sessions.len();
        Line::styled(format!("{n}{more} recent {} · ↑↓ Enter open · F1 help", noun(n, "session")), theme.dim())
    } else {
        Line::styled("F1 help · q quit", theme.dim())
    };
    let right = app.status.describe(crate::time::now_ms());
    // The left part (counts, latency, mode) keeps at least 40 columns.
    let right_width = (text::width(&right) as u16 + 1).min(area.width.saturating_sub(40));
    let [l, rt] = Layout::horizontal([Constraint::Min(1), Constraint::Length(right_width)]).areas(area);
    frame.render_widget(Paragraph::new(left), l);
    let style = if app.status.writer.is_some() { theme.matched() } else { theme.dim() };
    frame.render_widget(Paragraph::new(Line::styled(text::fit(&right, rt.width as usize), style)).right_aligned(), rt);
}

fn render_help(frame: &mut Frame, theme: Theme, area: Rect) {
    let width = area.width.saturating_sub(4).min(104);
    let height = (KEY_MAP.len() as u16 + 4).min(area.height.saturating_sub(2));
    let rect = Rect::new(area.x + (area.width - width) / 2, area.y + (area.height - height) / 2, width, height);
    let mut lines = vec![Line::raw("")];
    for (keys, what) in KEY_MAP {
        lines.push(Line::from(vec![Span::styled(format!("  {keys:<22}"), theme.bold()), Span::raw(*what)]));
    }
    let block = pane(theme, " keys · Esc closes ".into(), true);
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
