//! The usage view (F6, `u`): tokens and cost per day over the last
//! [`DAYS`] days in the local zone, for the agent, workspace and machine
//! the chips name. The numbers are the library's usage report, the same one
//! `cass usage daily --since <first day>` prints; this module only turns
//! it into rows: a line per day with a bar, a line per model under it, and
//! a total.

use chrono::{Duration, NaiveDate};
use ratatui::style::Style;

use super::app::FilterState;
use super::text::{self, Styled};
use super::theme::Theme;
use crate::model::{TimestampMs, TokenSums};
use crate::usage::format::{bar, dollars, thousands};
use crate::usage::{Grouping, ModelLine, PRICES_AS_OF, Report, ReportRequest, ReportRow, Zone};

/// Calendar days the view covers, today included.
pub const DAYS: i64 = 30;
/// Cells of the longest bar (the biggest day's).
const BAR_WIDTH: usize = 20;
/// Below this many cells left for the bar, the bar is left out.
const BAR_MIN: usize = 4;
/// Model names longer than this are cut, so one long name cannot push the
/// numbers off the screen.
const MODEL_WIDTH: usize = 34;
/// Columns between cells.
const GAP: &str = "  ";

/// The open usage view: what it asked for, what came back, and where it is
/// scrolled to.
#[derive(Debug, Clone)]
pub struct UsageView {
    /// The report it shows (kept to read it again when the index changes).
    pub request: ReportRequest,
    /// The first day of the window, in the local zone.
    pub first_day: NaiveDate,
    /// The report, or why it could not be read; `None` until it is read.
    pub report: Option<Result<Report, String>>,
    /// First body line shown; past the end means "show the end" (the
    /// latest days, next to the total), which is where the view opens.
    pub scroll: usize,
    /// Largest useful `scroll` at the last render.
    pub(super) max_scroll: usize,
    /// Body lines visible at the last render, for paging.
    pub(super) page: usize,
    /// A chip changed while the view was open: the results need a new
    /// search when it closes.
    pub(super) refilter: bool,
}

impl UsageView {
    /// A view of the [`DAYS`] days up to `now`'s local day, filtered like the
    /// chips; the report is read by the session ([`super::app::Action::Usage`]).
    pub fn new(filters: &FilterState, now: TimestampMs) -> UsageView {
        let (request, first_day) = request(filters, now);
        UsageView { request, first_day, report: None, scroll: usize::MAX, max_scroll: 0, page: 1, refilter: false }
    }

    /// Moves the first shown line by `delta`, within what the last frame allowed.
    pub(super) fn scroll_by(&mut self, delta: isize) {
        self.scroll = self.scroll.min(self.max_scroll).saturating_add_signed(delta).min(self.max_scroll);
    }
}

/// The daily report over the [`DAYS`] local days ending with `now`'s, for the
/// chips' agent, workspace and machine, and its first day. Whole days, so the first
/// row is not a partial day.
pub fn request(filters: &FilterState, now: TimestampMs) -> (ReportRequest, NaiveDate) {
    let zone = Zone::Local;
    let today = zone.date(now);
    let first_day = today.checked_sub_signed(Duration::days(DAYS - 1)).unwrap_or(today);
    let request = ReportRequest {
        grouping: Grouping::Daily,
        since: Some(zone.day_start(first_day)),
        until: None,
        agents: filters.agent.iter().cloned().collect(),
        workspace: filters.workspace.clone(),
        zone,
        limit: None,
        source: filters.source_filter(),
    };
    (request, first_day)
}

/// The view's lines: `head` (column names) stays on top, `body` (a line
/// per day, a line per model under it) scrolls, `foot` (rule, total,
/// unpriced models, where the numbers come from) follows the body.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// The column names.
    pub head: Styled,
    /// Day and model lines, oldest day first.
    pub body: Vec<Styled>,
    /// The rule, the total and the notes.
    pub foot: Vec<Styled>,
}

/// The cells of a line: label, calls, input, output, cache write, cache
/// read, total, cost.
type Cells = [String; 8];

const HEAD: [&str; 8] = ["Day", "Calls", "Input", "Output", "Cache write", "Cache read", "Total", "Cost"];

fn cells(label: String, t: &TokenSums, cost: String) -> Cells {
    [
        label,
        thousands(t.calls),
        thousands(t.input),
        thousands(t.output),
        thousands(t.cache_write),
        thousands(t.cache_read),
        thousands(t.total()),
        cost,
    ]
}

/// A model's name as a cell: made safe (it comes from session files) and cut.
fn model_name(model: &str) -> String {
    if model.is_empty() { "(model not recorded)".into() } else { text::fit(&text::one_line(model), MODEL_WIDTH) }
}

fn day_cells(row: &ReportRow) -> Cells {
    cells(row.key.clone(), &row.tokens, dollars(row.cost))
}

/// Indented under its day; an unpriced model says so instead of `$0.00`.
fn model_cells(m: &ModelLine) -> Cells {
    let cost = if m.priced { dollars(m.cost) } else { "unpriced".into() };
    cells(format!("  {}", model_name(&m.model)), &m.tokens, cost)
}

/// Pads each cell to its column: the label left, numbers right.
fn align(c: &Cells, widths: &[usize; 8]) -> String {
    let mut s = format!("{}{}", c[0], " ".repeat(widths[0].saturating_sub(text::width(&c[0]))));
    for (w, cell) in widths.iter().zip(c).skip(1) {
        s.push_str(GAP);
        s.push_str(&" ".repeat(w.saturating_sub(text::width(cell))));
        s.push_str(cell);
    }
    s
}

/// Lays `report` out for a pane `width` cells wide. The bar is scaled to
/// the most expensive day, or to the most tokens when nothing is priced,
/// and gets what room the numbers leave (up to [`BAR_WIDTH`] cells).
pub fn table(report: &Report, theme: Theme, width: usize) -> Table {
    let days: Vec<(Cells, Vec<Cells>)> =
        report.rows.iter().map(|r| (day_cells(r), r.models.iter().map(model_cells).collect())).collect();
    let total = cells("Total".into(), &report.totals, dollars(report.cost));
    let mut widths = HEAD.map(text::width);
    let all = days.iter().flat_map(|(d, ms)| std::iter::once(d).chain(ms)).chain(std::iter::once(&total));
    for c in all {
        for (w, cell) in widths.iter_mut().zip(c) {
            *w = (*w).max(text::width(cell));
        }
    }
    let numbers = widths.iter().sum::<usize>() + GAP.len() * (widths.len() - 1);
    let room = width.saturating_sub(numbers + GAP.len());
    let bar_width = if room >= BAR_MIN { room.min(BAR_WIDTH) } else { 0 };
    let by_cost = report.cost > 0.0;
    let measure = |r: &ReportRow| if by_cost { r.cost } else { r.tokens.total() as f64 };
    let max = report.rows.iter().map(measure).fold(0.0, f64::max);

    let mut head_text = align(&HEAD.map(String::from), &widths);
    if bar_width > 0 {
        head_text.push_str(GAP);
        head_text.push_str(if by_cost { "cost" } else { "tokens" });
    }
    let mut body = Vec::new();
    for ((day, models), row) in days.iter().zip(&report.rows) {
        let mut line: Styled = vec![(theme.bold(), align(day, &widths))];
        if bar_width > 0 {
            line.push((Style::new(), GAP.into()));
            line.push((theme.bar(), bar(measure(row), max, bar_width)));
        }
        body.push(line);
        body.extend(models.iter().map(|m| vec![(theme.dim(), align(m, &widths))]));
    }
    Table { head: vec![(theme.bold(), head_text)], body, foot: foot(report, theme, &align(&total, &widths), numbers) }
}

fn foot(report: &Report, theme: Theme, total: &str, rule: usize) -> Vec<Styled> {
    let mut lines = vec![vec![(theme.dim(), "─".repeat(rule))], vec![(theme.bold(), total.to_string())]];
    if !report.unpriced.is_empty() {
        let names: Vec<String> = report.unpriced.iter().map(|m| model_name(m)).collect();
        lines.push(vec![
            (theme.matched(), "unpriced".to_string()),
            (
                Style::new(),
                format!(" (counted at $0; add them under [prices] in the config file): {}", names.join(", ")),
            ),
        ]);
    }
    lines
}

/// Where the numbers come from, for the pane's foot: the zone, the price
/// table's date, and the command that prints the same report.
pub fn source_note(view: &UsageView) -> String {
    let first = view.first_day.format("%Y-%m-%d");
    let mut cmd = format!("cass usage daily --since {first}");
    for a in &view.request.agents {
        cmd.push_str(&format!(" --agent {a}"));
    }
    if let Some(w) = &view.request.workspace {
        cmd.push_str(&format!(" --workspace {}", shell_word(&text::one_line(w))));
    }
    if let Some(source) = &view.request.source {
        cmd.push_str(&format!(" --source {}", source.spec()));
    }
    format!("days in local time · prices as of {PRICES_AS_OF} · the same as `{cmd}`")
}

/// `s` as one shell word, so the command can be pasted as shown: quoted
/// when it holds anything but plain path characters.
fn shell_word(s: &str) -> String {
    let plain = |c: char| c.is_alphanumeric() || "/._-+:@%,=".contains(c);
    if !s.is_empty() && s.chars().all(plain) { s.to_string() } else { format!("'{}'", s.replace('\'', "'\\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(calls: u64, input: u64, output: u64, cache_write: u64, cache_read: u64) -> TokenSums {
        TokenSums { calls, input, output, cache_write, cache_read, ..TokenSums::default() }
    }

    fn line_text(l: &Styled) -> String {
        l.iter().map(|p| p.1.as_str()).collect()
    }

    fn report() -> Report {
        let model = |name: &str, t: TokenSums, cost: f64, priced: bool| ModelLine {
            model: name.into(),
            tokens: t,
            cost,
            priced,
        };
        let rows = vec![
            ReportRow {
                key: "2026-01-01".into(),
                session: None,
                tokens: tokens(1, 1000, 10, 0, 0),
                cost: 0.5,
                models: vec![model("m-a", tokens(1, 1000, 10, 0, 0), 0.5, true)],
            },
            ReportRow {
                key: "2026-01-03".into(),
                session: None,
                tokens: tokens(3, 2_000_000, 20, 5, 7),
                cost: 2.0,
                models: vec![
                    model("m-b", tokens(2, 1_999_000, 20, 5, 7), 2.0, true),
                    model("\u{1b}[31mlocal", tokens(1, 1000, 0, 0, 0), 0.0, false),
                ],
            },
        ];
        Report {
            grouping: Grouping::Daily,
            zone: "local".into(),
            rows,
            rows_omitted: 0,
            totals: tokens(4, 2_001_000, 30, 5, 7),
            cost: 2.5,
            unpriced: vec!["\u{1b}[31mlocal".into()],
        }
    }

    #[test]
    fn a_line_per_day_with_its_models_under_it_and_a_total() {
        let t = table(&report(), Theme::mono(), 120);
        let body: Vec<String> = t.body.iter().map(line_text).collect();
        assert_eq!(body.len(), 5, "{body:#?}");
        let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(words(&body[0])[..8], ["2026-01-01", "1", "1,000", "10", "0", "0", "1,010", "$0.5000"]);
        assert_eq!(words(&body[1])[..1], ["m-a"]);
        assert!(body[1].starts_with("  m-a"), "models are indented: {body:?}");
        assert_eq!(words(&body[2])[..8], ["2026-01-03", "3", "2,000,000", "20", "5", "7", "2,000,032", "$2.00"]);
        assert_eq!(words(&body[4]), ["^[[31mlocal", "1", "1,000", "0", "0", "0", "1,000", "unpriced"]);
        // The biggest day has the whole bar; a quarter of its cost, a quarter of it.
        assert!(body[2].ends_with(&"█".repeat(BAR_WIDTH)), "{}", body[2]);
        assert!(body[0].ends_with(&format!(" {}", "█".repeat(BAR_WIDTH / 4))), "{}", body[0]);
        let foot: Vec<String> = t.foot.iter().map(line_text).collect();
        assert_eq!(words(&foot[1]), ["Total", "4", "2,001,000", "30", "5", "7", "2,001,042", "$2.50"]);
        assert!(foot[2].starts_with("unpriced") && foot[2].ends_with(": ^[[31mlocal"), "{}", foot[2]);
        assert!(line_text(&t.head).ends_with("Cost  cost"));
    }

    #[test]
    fn bars_scale_by_tokens_when_nothing_is_priced_and_give_way_when_narrow() {
        let mut r = report();
        r.cost = 0.0;
        for row in &mut r.rows {
            row.cost = 0.0;
        }
        let t = table(&r, Theme::mono(), 120);
        assert!(line_text(&t.head).ends_with("tokens"));
        assert!(line_text(&t.body[2]).ends_with(&"█".repeat(BAR_WIDTH)));
        assert!(line_text(&t.body[0]).ends_with(" ▏"), "a small day keeps a sliver: {}", line_text(&t.body[0]));
        let narrow = table(&r, Theme::mono(), 60);
        assert!(!line_text(&narrow.body[2]).contains('█'), "no room, no bar");
    }

    #[test]
    fn the_window_is_thirty_whole_local_days_with_the_chips_filters() {
        let filters = FilterState {
            agent: Some("codex".into()),
            workspace: Some("/home/dev/api".into()),
            source: Some("box".into()),
            ..FilterState::default()
        };
        let now = crate::time::now_ms();
        let (req, first) = request(&filters, now);
        let today = Zone::Local.date(now);
        assert_eq!((today - first).num_days(), DAYS - 1);
        assert_eq!(req.since, Some(Zone::Local.day_start(first)));
        assert_eq!((req.grouping, req.until, req.limit), (Grouping::Daily, None, None));
        assert_eq!(req.agents, vec!["codex".to_string()]);
        assert_eq!(req.workspace.as_deref(), Some("/home/dev/api"));
        assert_eq!(req.source, Some(crate::filters::SourceFilter::Named("box".into())));
        let view = UsageView::new(&filters, now);
        let note = source_note(&view);
        assert!(note.ends_with(&format!(
            "`cass usage daily --since {} --agent codex --workspace /home/dev/api --source box`",
            first.format("%Y-%m-%d")
        )));
        assert_eq!(shell_word("/home/dev/my app"), "'/home/dev/my app'");
        assert_eq!(shell_word("/tmp/it's"), "'/tmp/it'\\''s'");
    }

    #[test]
    fn scrolling_stays_within_what_the_last_frame_showed() {
        let mut v = UsageView::new(&FilterState::default(), crate::time::now_ms());
        v.max_scroll = 10;
        v.scroll_by(-1);
        assert_eq!(v.scroll, 9, "opens at the end; up moves from there");
        v.scroll_by(-100);
        assert_eq!(v.scroll, 0);
        v.scroll_by(100);
        assert_eq!(v.scroll, 10);
    }
}
