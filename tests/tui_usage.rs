//! The TUI's usage view (F6, `u`) driven through the real session over a
//! data dir indexed by the real `cass index`: two Claude Code sessions and
//! a Codex session with token counts, dated a few days before now, drawn
//! into ratatui's `TestBackend` and read back as text. Every number below
//! is computed by hand from the records, and checked against
//! `cass usage daily --json` as well.

mod common;
use common::*;

use std::path::Path;
use std::time::Duration;

use cass::config::DataDir;
use cass::tui::{Effect, Session, Theme, view};
use chrono::{Local, NaiveDate, TimeZone, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::{Value, json};

const SONNET: &str = "claude-sonnet-4-5-20250929";
const OPUS: &str = "claude-opus-4-1-20250805";
const LOCAL_MODEL: &str = "my-local-model";
const CODEX: &str = "gpt-5-codex";

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn lines(records: &[Value]) -> String {
    records.iter().map(|r| format!("{}\n", serde_json::to_string(r).unwrap())).collect()
}

/// Noon, local time, `days` days before today: far from any day boundary,
/// so the day a call falls on is known. Returns the day and the instant
/// `secs` seconds after that noon, as RFC 3339.
fn noon(days: i64, secs: i64) -> (NaiveDate, String) {
    let day = Local::now().date_naive() - chrono::Duration::days(days);
    let t = Local.from_local_datetime(&day.and_hms_opt(12, 0, 0).unwrap()).earliest().unwrap()
        + chrono::Duration::seconds(secs);
    (day, t.with_timezone(&Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn claude_user(session: &str, uuid: &str, ts: &str, cwd: &str, text: &str) -> Value {
    json!({"type":"user","uuid":uuid,"sessionId":session,"timestamp":ts,"cwd":cwd,
           "message":{"role":"user","content":text}})
}

/// An assistant record with `message.usage`: input, output, cache writes, cache reads.
fn claude_call(session: &str, uuid: &str, ts: &str, cwd: &str, model: &str, tokens: [u64; 4]) -> Value {
    let [input, output, write, read] = tokens;
    json!({"type":"assistant","uuid":uuid,"sessionId":session,"timestamp":ts,"cwd":cwd,"requestId":format!("req_{uuid}"),
           "message":{"id":format!("msg_{uuid}"),"type":"message","role":"assistant","model":model,
                      "content":[{"type":"text","text":format!("answer {uuid}")}],
                      "usage":{"input_tokens":input,"output_tokens":output,
                               "cache_creation_input_tokens":write,"cache_read_input_tokens":read}}})
}

/// The days the calls fall on: two days ago and five days ago.
struct Days {
    recent: String,
    older: String,
}

/// Writes the sessions:
/// - two days ago, Claude `s1` in /home/dev/app: two Sonnet 4.5 calls; and
///   Codex `c1` in /home/dev/api: one gpt-5-codex call;
/// - five days ago, Claude `s2` in /home/dev/app: an Opus 4.1 call and a
///   call to a model no price table knows.
fn write_sessions(home: &Path) -> Days {
    let app = "/home/dev/app";
    let claude = home.join(".claude/projects/-home-dev-app");
    let (recent, t0) = noon(2, 0);
    let (_, t1) = noon(2, 5);
    let (_, t2) = noon(2, 60);
    write(
        &claude.join("s1.jsonl"),
        &lines(&[
            claude_user("s1", "u1", &t0, app, "tighten the parser"),
            claude_call("s1", "a1", &t1, app, SONNET, [150_000, 20_000, 10_000, 30_000]),
            claude_call("s1", "a2", &t2, app, SONNET, [2_000, 1_000, 0, 90_000]),
        ]),
    );
    let (older, t0) = noon(5, 0);
    let (_, t1) = noon(5, 5);
    let (_, t2) = noon(5, 60);
    write(
        &claude.join("s2.jsonl"),
        &lines(&[
            claude_user("s2", "u2", &t0, app, "plan the migration"),
            claude_call("s2", "b1", &t1, app, OPUS, [20_000, 10_000, 40_000, 0]),
            claude_call("s2", "b2", &t2, app, LOCAL_MODEL, [7_000, 3_000, 0, 0]),
        ]),
    );
    // Codex counts cached tokens inside input: 10,000 in, 4,000 of them cached.
    let (day, t0) = noon(2, 0);
    let (_, t1) = noon(2, 30);
    let last = json!({"input_tokens":10_000,"cached_input_tokens":4_000,"output_tokens":3_000,
                      "reasoning_output_tokens":1_000,"total_tokens":13_000});
    let codex = [
        json!({"timestamp":t0,"type":"session_meta","payload":{"id":"c1","timestamp":t0,"cwd":"/home/dev/api"}}),
        json!({"timestamp":t0,"type":"turn_context","payload":{"cwd":"/home/dev/api","model":CODEX}}),
        json!({"timestamp":t0,"type":"event_msg","payload":{"type":"user_message","message":"add a health endpoint"}}),
        json!({"timestamp":t1,"type":"event_msg","payload":{"type":"agent_message","message":"Added /health."}}),
        json!({"timestamp":t1,"type":"event_msg","payload":{"type":"token_count",
               "info":{"total_token_usage":last,"last_token_usage":last,"model_context_window":272_000}}}),
    ];
    let dir = home.join(".codex/sessions").join(day.format("%Y/%m/%d").to_string());
    write(&dir.join(format!("rollout-{}T12-00-00-c1.jsonl", day.format("%Y-%m-%d"))), &lines(&codex));
    Days { recent: recent.format("%Y-%m-%d").to_string(), older: older.format("%Y-%m-%d").to_string() }
}

/// The first day the view covers: 29 days before today (30 days, today included).
fn first_day() -> String {
    (Local::now().date_naive() - chrono::Duration::days(29)).format("%Y-%m-%d").to_string()
}

fn indexed() -> (Sandbox, Days) {
    let sb = Sandbox::new();
    let days = write_sessions(&sb.home());
    index_no_semantic(&sb);
    (sb, days)
}

struct Ui {
    session: Session,
    term: Terminal<TestBackend>,
}

impl Ui {
    fn open(data: &Path, width: u16, height: u16) -> Ui {
        let cass =
            cass::Cass::open(cass::Settings::new(DataDir::at(data), cass::connectors::AgentEnv::with_home(data)));
        Ui {
            session: Session::open(cass, Theme::mono(), Duration::ZERO),
            term: Terminal::new(TestBackend::new(width, height)).unwrap(),
        }
    }

    fn press(&mut self, code: KeyCode) -> Effect {
        self.session.key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    /// The frame as text, one line per row.
    fn screen(&mut self) -> String {
        self.term.draw(|f| view::render(f, &mut self.session.app)).unwrap();
        frame_text(self.term.backend().buffer())
    }
}

/// The words of a row inside the pane (borders dropped).
fn words(row: &str) -> Vec<String> {
    row.trim().trim_matches('│').split_whitespace().map(str::to_string).collect()
}

/// The words of the one row whose first word is `label`: the label and the
/// seven numbers after it (calls, input, output, cache write, cache read,
/// total, cost); a day's bar is left out.
fn row(screen: &str, label: &str) -> Vec<String> {
    let rows: Vec<Vec<String>> = screen.lines().map(words).filter(|w| w.first().is_some_and(|f| f == label)).collect();
    assert_eq!(rows.len(), 1, "one row for {label}:\n{screen}");
    rows[0].iter().take(8).cloned().collect()
}

fn has_row(screen: &str, label: &str) -> bool {
    screen.lines().map(words).any(|w| w.first().is_some_and(|f| f == label))
}

/// The bar at the end of a day's row, in eighths of a cell.
fn bar_eighths(screen: &str, day: &str) -> usize {
    let line = screen.lines().find(|l| words(l).first().is_some_and(|f| f == day)).unwrap();
    line.chars()
        .map(|c| match c {
            '█' => 8,
            '▏' => 1,
            '▎' => 2,
            '▍' => 3,
            '▌' => 4,
            '▋' => 5,
            '▊' => 6,
            '▉' => 7,
            _ => 0,
        })
        .sum()
}

fn expect(label: &str, numbers: [&str; 7]) -> Vec<String> {
    std::iter::once(label).chain(numbers).map(str::to_string).collect()
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A row of `cass usage daily --json` as the view prints it.
fn cli_row(label: &str, r: &Value) -> Vec<String> {
    let n = |k: &str| thousands(r[k].as_u64().unwrap());
    let cost = r["cost_usd"].as_f64().unwrap();
    let cost = if r["priced"] == false {
        "unpriced".to_string()
    } else if cost == 0.0 || cost >= 1.0 {
        format!("${cost:.2}")
    } else {
        format!("${cost:.4}")
    };
    let mut out = vec![label.to_string(), n("calls"), n("input_tokens"), n("output_tokens")];
    out.extend([n("cache_write_tokens"), n("cache_read_tokens"), n("total_tokens"), cost]);
    out
}

/// Every day, model and total the CLI reports for the same window and
/// filters is on the screen with the same numbers, and no other day is.
fn assert_same_as_cli(sb: &Sandbox, screen: &str, filters: &[&str]) {
    let mut args = vec!["usage", "daily", "--since"];
    let first = first_day();
    args.push(&first);
    args.extend_from_slice(filters);
    let report = sb.json(&args);
    let rows = report["rows"].as_array().unwrap();
    for r in rows {
        let day = r["period"].as_str().unwrap();
        assert_eq!(row(screen, day), cli_row(day, r), "{day} as `cass {args:?}`:\n{screen}");
        for m in r["models"].as_array().unwrap() {
            let model = m["model"].as_str().unwrap();
            assert_eq!(row(screen, model), cli_row(model, m), "{model} on {day}:\n{screen}");
        }
    }
    let days_shown = screen.lines().filter(|l| words(l).first().is_some_and(|w| w.len() == 10 && w.starts_with("20")));
    assert_eq!(days_shown.count(), rows.len(), "{screen}");
    assert_eq!(row(screen, "Total"), cli_row("Total", &report["totals"]), "{screen}");
}

#[test]
fn f6_shows_days_models_tokens_costs_and_the_total_as_the_cli_does() {
    let (sb, days) = indexed();
    let mut ui = Ui::open(&sb.data(), 120, 35);
    assert_eq!(ui.press(KeyCode::F(6)), Effect::None);
    let screen = ui.screen();
    assert!(screen.contains(&format!("usage · last 30 days, from {}", first_day())), "{screen}");
    assert_eq!(
        words(screen.lines().find(|l| l.contains("Cache write")).unwrap()),
        ["Day", "Calls", "Input", "Output", "Cache", "write", "Cache", "read", "Total", "Cost", "cost"]
    );

    // Two days ago: Sonnet 150,000 + 2,000 in, 20,000 + 1,000 out, 10,000 written,
    // 30,000 + 90,000 read at $3 / $15 / $3.75 / $0.30 per million: $0.8445;
    // gpt-5-codex 6,000 in, 4,000 cached, 3,000 out at $1.25 / $0.125 / $10: $0.0380.
    assert_eq!(
        row(&screen, &days.recent),
        expect(&days.recent, ["3", "158,000", "24,000", "10,000", "124,000", "316,000", "$0.8825"])
    );
    assert_eq!(
        row(&screen, SONNET),
        expect(SONNET, ["2", "152,000", "21,000", "10,000", "120,000", "303,000", "$0.8445"])
    );
    assert_eq!(row(&screen, CODEX), expect(CODEX, ["1", "6,000", "3,000", "0", "4,000", "13,000", "$0.0380"]));
    // Five days ago: Opus 4.1 20,000 in, 10,000 out, 40,000 written at $15 / $75 / $18.75: $1.80;
    // the local model is counted and shown unpriced.
    assert_eq!(
        row(&screen, &days.older),
        expect(&days.older, ["2", "27,000", "13,000", "40,000", "0", "80,000", "$1.80"])
    );
    assert_eq!(row(&screen, OPUS), expect(OPUS, ["1", "20,000", "10,000", "40,000", "0", "70,000", "$1.80"]));
    assert_eq!(row(&screen, LOCAL_MODEL), expect(LOCAL_MODEL, ["1", "7,000", "3,000", "0", "0", "10,000", "unpriced"]));
    assert_eq!(
        row(&screen, "Total"),
        expect("Total", ["5", "185,000", "37,000", "50,000", "124,000", "396,000", "$2.68"])
    );
    let unpriced = screen.lines().find(|l| l.contains("unpriced (counted at $0")).expect("an unpriced line");
    assert!(unpriced.contains(LOCAL_MODEL), "{unpriced}");

    // Oldest day first, each day's models under it, the most expensive first.
    let at = |label: &str| screen.lines().position(|l| words(l).first().is_some_and(|w| w == label)).unwrap();
    assert!(at(&days.older) < at(OPUS) && at(OPUS) < at(LOCAL_MODEL) && at(LOCAL_MODEL) < at(&days.recent));
    assert!(at(&days.recent) < at(SONNET) && at(SONNET) < at(CODEX) && at(CODEX) < at("Total"));
    assert!(screen.lines().nth(at(SONNET)).unwrap().contains(&format!("│  {SONNET}")), "models are indented");

    // The bars are scaled to the most expensive day: $1.80 is the whole bar, $0.8825 is 49 % of it.
    let (full, part) = (bar_eighths(&screen, &days.older), bar_eighths(&screen, &days.recent));
    assert!(full >= 8 * 8, "a bar of at least 8 cells: {full}/8\n{screen}");
    let want = (0.8825 / 1.80 * full as f64).round() as usize;
    assert_eq!(part, want, "{screen}");
    assert_eq!(bar_eighths(&screen, SONNET), 0, "models have no bar");

    assert_same_as_cli(&sb, &screen, &[]);
}

#[test]
fn the_view_closes_with_esc_q_f6_and_u_and_u_types_in_the_query() {
    let (sb, days) = indexed();
    let mut ui = Ui::open(&sb.data(), 120, 35);
    let welcome = ui.screen();
    assert!(welcome.contains("Type to search"), "{welcome}");
    ui.press(KeyCode::Char('u'));
    assert!(ui.session.app.usage.is_none(), "in the query, u is a letter");
    assert_eq!(ui.session.app.query.text, "u");
    ui.press(KeyCode::Backspace);
    ui.press(KeyCode::F(6));
    assert!(ui.screen().contains(&days.recent));
    assert_eq!(ui.press(KeyCode::Esc), Effect::None);
    let screen = ui.screen();
    assert!(!screen.contains("usage · ") && !screen.contains(&days.recent), "Esc closes: {screen}");
    assert!(screen.contains("Type to search"), "the results are back: {screen}");
    assert!(ui.session.app.usage.is_none());

    // From the results pane `u` opens it; `q` closes it (it does not quit), then F6 and `u` toggle.
    ui.press(KeyCode::Tab);
    ui.press(KeyCode::Char('u'));
    assert!(ui.screen().contains(&days.older));
    assert_eq!(ui.press(KeyCode::Char('q')), Effect::None, "q closes the view, not the UI");
    assert!(!ui.screen().contains(&days.older));
    ui.press(KeyCode::F(6));
    assert!(ui.screen().contains("usage · "));
    ui.press(KeyCode::F(6));
    assert!(!ui.screen().contains("usage · "));
    ui.press(KeyCode::Char('u'));
    assert!(ui.screen().contains("usage · "));
    ui.press(KeyCode::Char('u'));
    assert!(!ui.screen().contains("usage · "));
    assert_eq!(ui.press(KeyCode::Char('q')), Effect::Quit, "with the view closed, q quits");
}

#[test]
fn the_agent_and_workspace_chips_change_what_it_shows() {
    let (sb, days) = indexed();
    let mut ui = Ui::open(&sb.data(), 120, 35);
    // A chip set before opening applies: agents cycle in name order, claude_code first.
    ui.press(KeyCode::F(2));
    ui.press(KeyCode::F(6));
    let screen = ui.screen();
    assert!(screen.contains("F2 agent: claude_code"), "{screen}");
    assert!(!has_row(&screen, CODEX), "no Codex model under the Claude filter: {screen}");
    assert_eq!(
        row(&screen, &days.recent),
        expect(&days.recent, ["2", "152,000", "21,000", "10,000", "120,000", "303,000", "$0.8445"])
    );
    assert_eq!(
        row(&screen, "Total"),
        expect("Total", ["4", "179,000", "34,000", "50,000", "120,000", "383,000", "$2.64"])
    );
    assert_same_as_cli(&sb, &screen, &["--agent", "claude_code"]);

    // Inside the view, F2 moves on to codex and reads the report again: one day, one model.
    ui.press(KeyCode::F(2));
    let screen = ui.screen();
    assert!(screen.contains("F2 agent: codex"), "{screen}");
    assert!(!has_row(&screen, &days.older) && !has_row(&screen, SONNET) && !has_row(&screen, OPUS), "{screen}");
    assert_eq!(
        row(&screen, &days.recent),
        expect(&days.recent, ["1", "6,000", "3,000", "0", "4,000", "13,000", "$0.0380"])
    );
    assert_eq!(row(&screen, "Total"), expect("Total", ["1", "6,000", "3,000", "0", "4,000", "13,000", "$0.0380"]));
    assert!(!screen.contains("unpriced (counted"), "the unpriced model is Claude's: {screen}");
    assert_same_as_cli(&sb, &screen, &["--agent", "codex"]);

    // Back to every agent, then the busiest workspace (/home/dev/app, two conversations): Claude's calls only.
    ui.press(KeyCode::F(2));
    assert!(has_row(&ui.screen(), CODEX), "{}", ui.screen());
    ui.press(KeyCode::F(3));
    let screen = ui.screen();
    assert!(screen.contains("F3 workspace: /home/dev/app"), "{screen}");
    assert!(!has_row(&screen, CODEX), "{screen}");
    assert_eq!(
        row(&screen, "Total"),
        expect("Total", ["4", "179,000", "34,000", "50,000", "120,000", "383,000", "$2.64"])
    );
    assert_same_as_cli(&sb, &screen, &["--workspace", "/home/dev/app"]);
}

#[test]
fn it_scrolls_keeping_the_heading_and_the_total_in_sight() {
    let (sb, days) = indexed();
    // 14 rows leave two body lines: of the six (two days, four models), the view opens at the end.
    let mut ui = Ui::open(&sb.data(), 120, 14);
    ui.press(KeyCode::F(6));
    let screen = ui.screen();
    assert!(screen.contains("Cache write") && has_row(&screen, "Total"), "{screen}");
    assert!(has_row(&screen, SONNET) && has_row(&screen, CODEX) && !has_row(&screen, &days.older), "{screen}");
    ui.press(KeyCode::Home);
    let screen = ui.screen();
    assert!(has_row(&screen, &days.older) && has_row(&screen, OPUS) && !has_row(&screen, CODEX), "{screen}");
    assert!(screen.contains("Cache write") && has_row(&screen, "Total"), "{screen}");
    ui.press(KeyCode::Down);
    ui.press(KeyCode::Char('j'));
    let screen = ui.screen();
    assert!(has_row(&screen, LOCAL_MODEL) && has_row(&screen, &days.recent) && !has_row(&screen, OPUS), "{screen}");
    ui.press(KeyCode::Char('k'));
    assert!(has_row(&ui.screen(), OPUS));
    ui.press(KeyCode::PageDown);
    ui.press(KeyCode::PageDown);
    let screen = ui.screen();
    assert!(has_row(&screen, SONNET) && has_row(&screen, CODEX), "{screen}");
    ui.press(KeyCode::PageUp);
    let screen = ui.screen();
    assert!(has_row(&screen, &days.recent) && has_row(&screen, LOCAL_MODEL), "{screen}");
    ui.press(KeyCode::End);
    assert!(has_row(&ui.screen(), CODEX));
}

#[test]
fn calls_indexed_while_it_is_open_show_up() {
    let (sb, days) = indexed();
    let mut ui = Ui::open(&sb.data(), 120, 35);
    ui.press(KeyCode::F(6));
    assert_eq!(row(&ui.screen(), "Total")[1], "5");
    // One more Sonnet call a minute ago: 1,000 in, 100 out = $0.0045.
    let now = Utc::now() - chrono::Duration::seconds(60);
    let today = now.with_timezone(&Local).format("%Y-%m-%d").to_string();
    let t = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let app = "/home/dev/app";
    let extra = lines(&[
        claude_user("s3", "u3", &t, app, "one more thing"),
        claude_call("s3", "c1", &t, app, SONNET, [1_000, 100, 0, 0]),
    ]);
    write(&sb.home().join(".claude/projects/-home-dev-app/s3.jsonl"), &extra);
    std::thread::sleep(Duration::from_millis(5));
    index_no_semantic(&sb);
    ui.session.refresh_status();
    let screen = ui.screen();
    assert_eq!(row(&screen, &today), expect(&today, ["1", "1,000", "100", "0", "0", "1,100", "$0.0045"]), "{screen}");
    assert_eq!(
        row(&screen, "Total"),
        expect("Total", ["6", "186,000", "37,100", "50,000", "124,000", "397,100", "$2.69"])
    );
    assert!(has_row(&screen, &days.recent));
}

#[test]
fn without_usage_it_says_so() {
    let sb = Sandbox::new();
    let (_, t) = noon(1, 0);
    write(
        &sb.home().join(".claude/projects/-home-dev-quiet/q1.jsonl"),
        &claude_line("q1", "user", "no calls recorded here", &t, "/home/dev/quiet"),
    );
    index_no_semantic(&sb);
    let mut ui = Ui::open(&sb.data(), 120, 35);
    ui.press(KeyCode::F(6));
    let screen = ui.screen();
    assert!(screen.contains("No token usage in these days for these filters."), "{screen}");
    assert!(screen.contains(&format!("cass usage daily --since {}", first_day())), "{screen}");
    assert!(!has_row(&screen, "Total"), "{screen}");
    // The same without any index.
    let empty = Sandbox::new();
    let mut ui = Ui::open(&empty.data(), 120, 35);
    ui.press(KeyCode::F(6));
    assert!(ui.screen().contains("No token usage"), "{}", ui.screen());
}
