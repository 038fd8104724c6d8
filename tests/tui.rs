//! The terminal UI driven without a terminal: key events go through the real
//! session (search worker, read-only store) over a data dir built by the real
//! `cass index`, and each frame is drawn into ratatui's `TestBackend` and read
//! back as text and styles.

mod common;
use common::*;

use std::path::Path;
use std::time::Duration;

use cass::config::DataDir;
use cass::tui::{Effect, Session, Theme, view};

/// The library handle on a test data dir (the UI only reads: no agent roots).
fn handle(data: &std::path::Path) -> cass::Cass {
    cass::Cass::open(cass::Settings::new(DataDir::at(data), cass::connectors::AgentEnv::with_home(data)))
}
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier};

/// The own fixtures, indexed by the real binary (which also publishes the fast tier).
fn indexed() -> Sandbox {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    let out = sb.run(&["index"]);
    assert!(out.status.success(), "cass index: {}", String::from_utf8_lossy(&out.stderr));
    sb
}

struct Ui {
    session: Session,
    term: Terminal<TestBackend>,
}

impl Ui {
    fn open(data: &Path, theme: Theme) -> Ui {
        Ui {
            session: Session::open(handle(data), theme, Duration::ZERO),
            term: Terminal::new(TestBackend::new(120, 35)).unwrap(),
        }
    }

    fn press(&mut self, code: KeyCode) -> Effect {
        self.session.key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    /// Types `s` and waits for its search to answer.
    fn search(&mut self, s: &str) {
        for c in s.chars() {
            self.press(KeyCode::Char(c));
        }
        self.settle();
    }

    fn settle(&mut self) {
        assert!(self.session.wait_for_search(Duration::from_secs(20)), "search did not answer");
    }

    fn draw(&mut self) {
        self.term.draw(|f| view::render(f, &mut self.session.app)).unwrap();
    }

    /// The frame as text, one line per row.
    fn screen(&mut self) -> String {
        self.draw();
        common::frame_text(self.term.backend().buffer())
    }

    /// Rows of the frame that contain `needle`.
    fn rows_with(&mut self, needle: &str) -> Vec<String> {
        self.screen().lines().filter(|l| l.contains(needle)).map(str::to_string).collect()
    }
}

fn cli_total(sb: &Sandbox, args: &[&str]) -> u64 {
    let mut all = vec!["search"];
    all.extend_from_slice(args);
    sb.json(&all)["total"].as_u64().unwrap()
}

#[test]
fn typing_shows_hits_with_agent_time_title_workspace_and_highlighted_snippet() {
    let sb = indexed();
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    let welcome = ui.screen();
    let st = sb.json(&["status"]);
    let want = format!(
        "Type to search {} messages in {} conversations",
        st["store"]["messages"], st["store"]["conversations"]
    );
    assert!(welcome.contains(&want), "{want}\n{welcome}");
    ui.search("ECONNREFUSED");
    let screen = ui.screen();
    assert!(screen.contains("› ECONNREFUSED"), "{screen}");
    let head = ui.rows_with("Fix flaky websocket reconnect test");
    assert_eq!(head.len(), 1, "{screen}");
    assert!(head[0].contains("claude_code") && head[0].contains("ago") && head[0].contains("/home/dev/webapp"));
    let want = cli_total(&sb, &["ECONNREFUSED"]);
    assert!(screen.contains(&format!("{want} of {want} hits")), "{screen}");
    assert!(screen.contains("hybrid · fast tier"), "the default mode uses the published tier: {screen}");

    // The matched word in the snippet row is emphasised, the text around it is not.
    let buf = ui.term.backend().buffer().clone();
    let (y, line) = (0..buf.area.height)
        .map(|y| (y, (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect::<String>()))
        .find(|(_, l)| l.contains("tool: ") && l.contains("ECONNREFUSED"))
        .expect("snippet row");
    let col = line[..line.find("ECONNREFUSED").unwrap()].chars().count() as u16;
    let style_at = |x: u16| buf[(x, y)].modifier;
    assert!(style_at(col).contains(Modifier::UNDERLINED), "match not highlighted");
    assert!(!style_at(col - 2).contains(Modifier::UNDERLINED), "highlight spills before the match");
}

#[test]
fn enter_opens_the_conversation_at_the_hit_with_tool_blocks_collapsed_elsewhere() {
    let sb = indexed();
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.search("ECONNREFUSED");
    ui.press(KeyCode::Enter);
    let screen = ui.screen();
    // The hit (a tool message) is marked and open; the earlier tool call is one line.
    assert_eq!(ui.rows_with("▶ tool").len(), 1, "{screen}");
    assert_eq!(ui.rows_with("127.0.0.1:4010").len(), 1, "the hit's output is shown: {screen}");
    assert_eq!(ui.rows_with("▸ [tool: Bash] npm test -- --watch=false").len(), 1, "{screen}");
    assert!(screen.contains("Let me run the test suite once"), "context above the hit: {screen}");
    assert!(screen.contains("┌ Fix flaky websocket reconnect test · claude_code · /home/dev/web"), "{screen}");
    // The query's word is marked in the conversation too (the detail pane is the right 60 %).
    let buf = ui.term.backend().buffer().clone();
    let marked = (0..buf.area.height).any(|y| {
        let row: Vec<&str> = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        let line = row.concat();
        line.find("Error: connect ECONNREFUSED").is_some_and(|at| {
            let x = line[..at].chars().count() as u16 + "Error: connect ".len() as u16;
            x > 48 && buf[(x, y)].modifier.contains(Modifier::UNDERLINED)
        })
    });
    assert!(marked, "ECONNREFUSED is marked in the conversation");

    // Enter on the hit's header collapses its output to one summary line.
    ui.press(KeyCode::Enter);
    assert!(ui.rows_with("127.0.0.1:4010").is_empty());
    assert_eq!(ui.rows_with("▸ tool output · ").len(), 1, "{}", ui.screen());
    // `x` expands every tool block, including the Bash call above.
    ui.press(KeyCode::Char('x'));
    assert_eq!(ui.rows_with("▾ 1 tool call").len(), 1, "{}", ui.screen());
    assert_eq!(ui.rows_with("127.0.0.1:4010").len(), 1);

    // Esc goes back to the results.
    ui.press(KeyCode::Esc);
    let screen = ui.screen();
    assert!(!screen.contains("▶ tool"), "{screen}");
    assert!(ui.session.app.detail.is_none());
    let n = cli_total(&sb, &["ECONNREFUSED"]);
    assert!(screen.contains(&format!("results · {n} of {n}")), "{screen}");
}

#[test]
fn filters_narrow_the_search_and_show_as_chips() {
    let sb = indexed();
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.press(KeyCode::F(8)); // every message, to compare with the CLI's totals
    ui.search("cargo");
    let all = cli_total(&sb, &["cargo", "--mode", "lexical"]);
    let codex = cli_total(&sb, &["cargo", "--mode", "lexical", "--agent", "codex"]);
    assert!(codex > 0 && codex < all, "the fixtures need cargo in codex and elsewhere");

    ui.press(KeyCode::F(5));
    ui.settle();
    let screen = ui.screen();
    assert!(screen.contains("F5 mode: lexical"), "{screen}");
    assert!(screen.contains(&format!("{all} of {all} hits") as &str) && screen.contains("ms · lexical"), "{screen}");

    // Agents cycle in name order (aider, amp, claude_code, cline, codex, …):
    // step until codex, which takes as many presses as agents sort before it.
    let agents =
        sb.json(&["status"])["agents"].as_array().unwrap().iter().map(|a| a["agent"].to_string()).collect::<Vec<_>>();
    let presses = agents.iter().position(|a| a == "\"codex\"").expect("codex in the fixtures") + 1;
    for _ in 0..presses {
        ui.press(KeyCode::F(2));
        ui.settle();
    }
    let screen = ui.screen();
    assert!(screen.contains("F2 agent: codex"), "{screen}");
    assert!(screen.contains(&format!("{codex} of {codex} hits")), "{screen}");
    assert!(!screen.contains("claude_code "), "only codex rows remain: {screen}");

    // From the results pane the same filters are letters; `t` narrows to the last 24 h,
    // and the fixtures are older than that.
    ui.press(KeyCode::Tab);
    ui.press(KeyCode::Char('t'));
    ui.settle();
    let screen = ui.screen();
    assert!(screen.contains("F4 time: 24h"), "{screen}");
    assert!(screen.contains("No hits for “cargo”.") && screen.contains("Filters are on"), "{screen}");
}

#[test]
fn help_shows_the_key_map_and_esc_closes_it() {
    let sb = indexed();
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.press(KeyCode::F(1));
    let screen = ui.screen();
    assert!(screen.contains("keys · Esc closes"), "{screen}");
    assert!(screen.contains("copy the session file path (OSC 52)"), "{screen}");
    ui.press(KeyCode::Esc);
    assert!(!ui.screen().contains("keys · Esc closes"));
    // `?` opens help outside the query only: in the query it is a character.
    ui.press(KeyCode::Char('?'));
    assert!(!ui.screen().contains("keys · Esc closes"));
    assert_eq!(ui.session.app.query.text, "?");
}

#[test]
fn without_an_index_the_ui_says_to_run_cass_index() {
    let sb = Sandbox::new();
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    let screen = ui.screen();
    assert!(screen.contains("No index yet.") && screen.contains("Run `cass index`"), "{screen}");
    assert!(screen.contains("no index yet"), "status line: {screen}");
    ui.search("anything");
    let screen = ui.screen();
    assert!(screen.contains("No index yet.") && screen.contains("› anything"), "{screen}");

    // Indexing meanwhile is picked up without a restart.
    copy_tree(&own_fixtures(), &sb.home());
    assert!(sb.run(&["index"]).status.success());
    ui.session.refresh_status();
    ui.session.key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    ui.search("cargo");
    assert!(ui.screen().contains("results · "), "{}", ui.screen());

    // An index deleted under the UI is reported, not an error loop.
    std::fs::remove_dir_all(sb.data()).unwrap();
    ui.press(KeyCode::Backspace);
    ui.settle();
    assert!(ui.screen().contains("No index yet."), "{}", ui.screen());
}

#[test]
fn session_text_cannot_send_escape_sequences_to_the_terminal() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-evil");
    std::fs::create_dir_all(&dir).unwrap();
    let evil = "zzevil \u{1b}]52;c;QUFB\u{7} and \u{1b}[2J\u{1b}[31mred\u{9b}1m";
    let line = |role: &str, text: &str, ts: &str| {
        let record = serde_json::json!({
            "type": role, "sessionId": "ev1", "cwd": "/home/dev/\u{1b}[1mevil", "timestamp": ts,
            "message": { "role": role, "content": text },
        });
        format!("{record}\n")
    };
    let lines = [
        line("user", evil, "2026-01-10T10:00:00Z"),
        line("assistant", "```sh\necho \u{1b}[5m zzevil\n```", "2026-01-10T10:00:05Z"),
    ];
    std::fs::write(dir.join("ev1.jsonl"), lines.concat()).unwrap();
    assert!(sb.run(&["index"]).status.success());
    let mut ui = Ui::open(&sb.data(), Theme::colored());
    ui.search("zzevil");
    ui.press(KeyCode::Enter);
    let screen = ui.screen();
    assert!(screen.contains("zzevil ^[]52;c;QUFB^G"), "title, snippet and body show the escape: {screen}");
    assert!(screen.contains("^[[2J^[[31mred"), "{screen}");
    assert!(screen.contains("echo ^[[5m zzevil"), "and code blocks: {screen}");
    ui.press(KeyCode::F(3));
    let screen = ui.screen();
    assert!(screen.contains("F3 workspace: /home/dev/^[[1mevil"), "the workspace chip too: {screen}");
    let buf = ui.term.backend().buffer();
    for cell in buf.content() {
        assert!(!cell.symbol().chars().any(|c| c.is_control()), "control char in a cell: {:?}", cell.symbol());
    }
}

#[test]
fn no_color_gives_a_monochrome_frame() {
    let sb = indexed();
    let colours = |theme: Theme| {
        let mut ui = Ui::open(&sb.data(), theme);
        ui.search("cargo");
        ui.press(KeyCode::Enter);
        ui.draw();
        let buf = ui.term.backend().buffer();
        buf.content().iter().filter(|c| c.fg != Color::Reset || c.bg != Color::Reset).count()
    };
    assert!(colours(Theme::colored()) > 0, "the colour theme colours something");
    assert_eq!(colours(Theme::mono()), 0, "NO_COLOR: no cell has a colour");
}

#[test]
fn resizing_relayouts_and_narrow_screens_show_one_pane() {
    let sb = indexed();
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.search("cargo");
    ui.press(KeyCode::Enter);
    let wide = ui.screen();
    assert!(wide.contains("results · ") && wide.contains("▶ "), "side by side at 120 columns: {wide}");
    ui.term.backend_mut().resize(70, 20);
    let narrow = ui.screen();
    assert_eq!(narrow.lines().count(), 20);
    assert!(narrow.lines().all(|l| l.chars().count() == 70));
    assert!(!narrow.contains("results · ") && narrow.contains("▶ "), "the conversation alone: {narrow}");
    ui.press(KeyCode::Esc);
    assert!(ui.screen().contains("results · "));
    ui.term.backend_mut().resize(10, 4);
    assert!(ui.screen().contains("cass"), "a tiny window gets a message, not a panic");
}

#[test]
fn y_copies_and_o_opens_the_selected_session_file() {
    let sb = indexed();
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.search("ECONNREFUSED");
    ui.press(KeyCode::Tab);
    let Effect::Copy(path) = ui.press(KeyCode::Char('y')) else { panic!("y copies") };
    assert!(path.ends_with("7f3c2a10-1111-4a2b-9c3d-000000000001.jsonl") && Path::new(&path).is_file(), "{path}");
    assert!(ui.screen().contains("copied the session path (OSC 52)"));
    let Effect::Copy(id) = ui.press(KeyCode::Char('Y')) else { panic!("Y copies") };
    let view = sb.json(&["view", &id]);
    assert_eq!(view["conversation"]["title"], "Fix flaky websocket reconnect test");
    assert_eq!(ui.press(KeyCode::Char('o')), Effect::Edit(path.into()));
    assert_eq!(ui.press(KeyCode::Char('q')), Effect::Quit);
}

/// One indexed conversation of `n` user messages `line0` …, with
/// `needlezz` in place of `line200`.
fn long_conversation(n: usize) -> Sandbox {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-long");
    std::fs::create_dir_all(&dir).unwrap();
    let body: String = (0..n)
        .map(|i| {
            let word = if i == 200 { "needlezz".to_string() } else { format!("line{i}") };
            let ts = format!("2026-01-10T{:02}:{:02}:{:02}Z", i / 3600, i / 60 % 60, i % 60);
            claude_line("long1", "user", &word, &ts, "/w")
        })
        .collect();
    std::fs::write(dir.join("long1.jsonl"), body).unwrap();
    assert!(sb.run(&["index"]).status.success());
    sb
}

#[test]
fn the_next_page_of_hits_loads_when_the_selection_reaches_the_end() {
    let sb = long_conversation(300);
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.press(KeyCode::F(5));
    ui.press(KeyCode::F(8)); // every message, not one per session
    ui.search("line*");
    let page = cass::tui::app::PAGE_SIZE;
    assert_eq!(ui.session.app.results.hits.len(), page);
    assert!(ui.screen().contains(&format!("{page} of 299 hits")), "{}", ui.screen());
    ui.press(KeyCode::Tab);
    let mut shown = page;
    while shown < 299 {
        ui.press(KeyCode::End);
        ui.settle();
        let now = ui.session.app.results.hits.len();
        assert_eq!(now, (shown + page).min(299), "End loads one more page");
        shown = now;
    }
    assert!(ui.screen().contains("299 of 299 hits"), "{}", ui.screen());
    let mut ids: Vec<i64> = ui.session.app.results.hits.iter().map(|h| h.message_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 299, "pages neither repeat nor skip hits");
}

#[test]
fn a_long_query_scrolls_in_the_bar() {
    let sb = Sandbox::new();
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    let long = format!("{} tailword", "word ".repeat(40));
    for c in long.chars() {
        ui.press(KeyCode::Char(c));
    }
    let screen = ui.screen();
    assert!(screen.lines().nth(1).unwrap().contains("tailword"), "the end being typed is visible: {screen}");
    assert_eq!(ui.term.get_cursor_position().unwrap().y, 1);
}

#[test]
fn a_long_conversation_is_paged_around_the_hit() {
    let sb = long_conversation(300);
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.search("needlezz");
    ui.press(KeyCode::Enter);
    let screen = ui.screen();
    assert!(screen.contains("▶ user") && screen.contains("needlezz"), "{screen}");
    let d = ui.session.app.detail.as_ref().unwrap();
    assert!(d.messages.len() < 60 && d.more_before && d.more_after, "only a window is loaded");
    let first = d.messages.front().unwrap().ordinal;
    // Walking up past the window loads the previous page, and the cursor goes on.
    for _ in 0..(d.cursor + 1) {
        ui.press(KeyCode::Up);
    }
    let d = ui.session.app.detail.as_ref().unwrap();
    assert!(d.messages.front().unwrap().ordinal < first, "an earlier page was loaded");
    let screen = ui.screen();
    assert!(screen.contains(&format!("line{}", first - 1)), "the message above the old window shows: {screen}");
    // PgDn all the way reaches the end of the conversation.
    for _ in 0..200 {
        ui.press(KeyCode::PageDown);
    }
    let d = ui.session.app.detail.as_ref().unwrap();
    assert!(!d.more_after && d.messages.back().unwrap().ordinal == 299);
    assert!(d.messages.len() <= cass::tui::detail::MAX_WINDOW);
    assert!(ui.screen().contains("line299"));
}

#[test]
fn a_running_writer_shows_in_the_status_line() {
    let sb = indexed();
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    assert!(ui.screen().contains("index updated just now"), "{}", ui.screen());
    let lock = cass::lock::WriterLock::acquire(&DataDir::at(sb.data()).lock(), "semantic backfill").unwrap();
    ui.session.refresh_status();
    let screen = ui.screen();
    assert!(screen.contains(&format!("`cass semantic backfill` running (pid {})", std::process::id())), "{screen}");
    // Searching still works while the lock is held.
    ui.search("cargo");
    assert!(ui.screen().contains("hits ·"));
    drop(lock);
    ui.session.refresh_status();
    assert!(!ui.screen().contains("running (pid"));
}

#[test]
fn without_a_terminal_cass_prints_help_and_tui_refuses() {
    let sb = Sandbox::new();
    let out = sb.cass().stdin(std::process::Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: cass"));
    let out = sb.cass().arg("tui").stdin(std::process::Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs a terminal"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_burst_of_keystrokes_runs_one_search_for_the_last_query() {
    use cass::search::{Filters, SearchRequest};
    use cass::tui::worker::{Answer, SearchJob, SearchWorker};
    let sb = indexed();
    let worker = SearchWorker::spawn(handle(&sb.data()), Duration::from_millis(300));
    let prefixes = ["c", "ca", "car", "carg", "cargo"];
    for (generation, text) in prefixes.iter().enumerate() {
        let request = SearchRequest::new(text, Filters::default(), 10, 0).unwrap();
        worker.submit(SearchJob { generation: generation as u64, request, debounce: true, append: false });
    }
    // The first search shows its lexical results first (no hybrid time is
    // known yet), then its own: both answer the newest job.
    let Some(Answer::Search(early)) = worker.recv_timeout(Duration::from_secs(20)) else { panic!("a search's answer") };
    assert!(early.provisional && early.generation == 4, "only the newest job ran");
    let Some(Answer::Search(first)) = worker.recv_timeout(Duration::from_secs(20)) else { panic!("a search's answer") };
    assert_eq!(first.generation, 4, "only the newest job ran");
    assert!(!first.provisional);
    assert_eq!(first.result.expect("found").total as u64, cli_total(&sb, &["cargo"]));
    assert!(worker.recv_timeout(Duration::from_millis(600)).is_none(), "no answers to the older prefixes");
}

/// Until a hybrid search has been fast, a typed query is answered twice:
/// its lexical results first, marked provisional, then the hybrid ones.
/// With a threshold every search here beats: after the first search, once;
/// with the threshold at zero, always twice.
#[test]
fn until_hybrid_search_is_fast_typed_queries_show_lexical_results_first() {
    use cass::search::{Filters, SearchRequest};
    use cass::tui::worker::{Answer, SearchJob, SearchOutcome, SearchWorker};
    let sb = indexed();
    let job = |generation: u64, text: &str| SearchJob {
        generation,
        request: SearchRequest::new(text, Filters::default(), 10, 0).unwrap(),
        debounce: true,
        append: false,
    };
    let answer = |w: &SearchWorker| -> SearchOutcome {
        match w.recv_timeout(Duration::from_secs(20)) {
            Some(Answer::Search(o)) => o,
            other => panic!("a search's answer, not {other:?}"),
        }
    };
    // Any time under a minute counts as fast here (a test build is slow).
    let worker = SearchWorker::spawn_tuned(handle(&sb.data()), Duration::ZERO, Duration::from_secs(60));
    worker.submit(job(1, "cargo"));
    let (first, last) = (answer(&worker), answer(&worker));
    assert!(first.provisional && !last.provisional, "no time known yet: lexical first");
    worker.submit(job(2, "cargo"));
    let only = answer(&worker);
    assert!(!only.provisional, "hybrid was fast: one answer");
    assert_eq!(only.result.unwrap().mode, "hybrid");
    assert!(worker.recv_timeout(Duration::from_millis(300)).is_none(), "and only one");

    let worker = SearchWorker::spawn_tuned(handle(&sb.data()), Duration::ZERO, Duration::ZERO);
    worker.submit(job(1, "cargo"));
    let _ = (answer(&worker), answer(&worker));
    worker.submit(job(2, "cargo"));
    let (first, last) = (answer(&worker), answer(&worker));
    assert!(first.provisional && first.generation == 2);
    let first = first.result.unwrap();
    assert_eq!(first.mode, "lexical");
    assert_eq!(first.total as u64, cli_total(&sb, &["cargo", "--mode", "lexical"]));
    assert!(!last.provisional && last.generation == 2);
    assert_eq!(last.result.unwrap().mode, "hybrid");
}

#[test]
fn docs_list_every_key() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/TUI.md")).unwrap();
    for (keys, what) in cass::tui::keys::KEY_MAP {
        assert!(doc.contains(what), "docs/TUI.md lacks the key {keys}: {what}");
    }
}

#[test]
fn semantic_mode_without_a_published_tier_says_how_to_get_one() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    assert!(sb.run(&["index", "--no-semantic"]).status.success());
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.search("cargo");
    let screen = ui.screen();
    assert!(screen.contains("ms · lexical (fallback)"), "auto falls back: {screen}");
    assert!(screen.contains("the fast tier is not published yet"), "and says why, under the results: {screen}");
    ui.press(KeyCode::F(5));
    ui.settle();
    ui.press(KeyCode::F(5));
    ui.settle();
    let screen = ui.screen();
    assert!(screen.contains("F5 mode: semantic"), "{screen}");
    assert!(screen.contains("run `cass semantic backfill`, or press F5 for lexical"), "{screen}");
    assert!(ui.session.app.results.hits.is_empty());
}

#[test]
fn agents_and_roles_are_told_apart_by_colour() {
    let sb = indexed();
    let mut ui = Ui::open(&sb.data(), Theme::colored());
    ui.search("cargo");
    ui.press(KeyCode::Enter);
    ui.draw();
    let buf = ui.term.backend().buffer().clone();
    // The colour of the first cell of `word` found in columns `cols`.
    let colour_of = |word: &str, cols: std::ops::Range<u16>| -> Option<Color> {
        (0..buf.area.height).find_map(|y| {
            let row: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
            let at =
                row.char_indices().filter(|(i, _)| row[*i..].starts_with(word)).map(|(i, _)| row[..i].chars().count());
            at.map(|x| x as u16).find(|x| cols.contains(x)).map(|x| buf[(x, y)].fg)
        })
    };
    // The results are the left 40 % (48 columns), the conversation the rest.
    let codex = colour_of("codex ", 0..48).expect("a codex row");
    let claude = colour_of("claude_code ", 0..48).expect("a claude_code row");
    assert_ne!(codex, claude, "each agent has its own colour");
    assert!(codex != Color::Reset && claude != Color::Reset);
    let user = colour_of("user · ", 48..120).expect("a user header");
    let assistant = colour_of("assistant · ", 48..120).expect("an assistant header");
    assert_ne!(user, assistant, "roles are distinct");
}

#[test]
fn the_conversation_window_stays_bounded_however_far_one_scrolls() {
    use cass::tui::detail::MAX_WINDOW;
    let sb = long_conversation(1000);
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.search("needlezz");
    ui.press(KeyCode::Enter);
    ui.draw();
    for _ in 0..600 {
        ui.press(KeyCode::PageDown);
    }
    let d = ui.session.app.detail.as_ref().unwrap();
    assert_eq!(d.messages.back().unwrap().ordinal, 999, "reached the end");
    assert!(!d.more_after);
    assert_eq!(d.messages.len(), MAX_WINDOW, "the far side was dropped");
    assert!(d.more_before && d.messages.front().unwrap().ordinal > 200);
    assert!(ui.screen().contains("line999"));
    for _ in 0..800 {
        ui.press(KeyCode::PageUp);
    }
    let d = ui.session.app.detail.as_ref().unwrap();
    assert_eq!(d.messages.front().unwrap().ordinal, 0, "and back to the start");
    assert!(d.messages.len() <= MAX_WINDOW && d.more_after);
    assert!(ui.screen().contains("line0"));
}

/// (id, agent, title) of the most recently active conversations, as the
/// store orders them.
fn recent_sessions(sb: &Sandbox, n: usize) -> Vec<(i64, String, String)> {
    let db = sb.db();
    let mut stmt = db
        .prepare(
            "SELECT id, agent, COALESCE(title, '(untitled)') FROM conversations WHERE message_count > 0
             ORDER BY COALESCE(ended_at, started_at, updated_at) DESC, id DESC LIMIT ?1",
        )
        .unwrap();
    stmt.query_map([n as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
}

/// The first `n` characters of a title, as a row shows its start.
fn start(title: &str, n: usize) -> String {
    title.chars().take(n).collect()
}

#[test]
fn before_anything_is_typed_the_most_recent_sessions_are_listed_and_enter_opens_one() {
    let sb = indexed();
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.settle(); // the list is read on the search thread
    let screen = ui.screen();
    assert!(screen.contains("recent sessions · newest first"), "{screen}");
    let recent = recent_sessions(&sb, 3);
    // One row per session, newest first: agent, age, title, then workspace and messages.
    let rows: Vec<usize> = recent
        .iter()
        .map(|(_, agent, title)| {
            let lines: Vec<&str> = screen.lines().collect();
            lines
                .iter()
                .position(|l| l.contains(&format!("│{agent:<12}")) && l.contains(&start(title, 20)))
                .unwrap_or_else(|| panic!("no row for {agent} {title}: {screen}"))
        })
        .collect();
    assert!(rows.windows(2).all(|w| w[1] == w[0] + 1), "consecutive, newest first: {rows:?}\n{screen}");
    // Each row says how long ago its session was active; one whose format
    // records no time at all (Cursor Agent transcripts) shows `-` there,
    // placed by when cass saw it.
    let db = sb.db();
    for (&row, (id, _, _)) in rows.iter().zip(&recent) {
        let line = screen.lines().nth(row).unwrap();
        let timed: bool = db
            .query_row(
                "SELECT COALESCE(ended_at, started_at) IS NOT NULL FROM conversations WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        let age = if timed { line.contains(" ago  ") } else { line.contains("  -  ") };
        assert!(age && line.contains(" message"), "{line}");
    }

    // ↓ then Enter opens the second session from its first message.
    ui.press(KeyCode::Down);
    ui.press(KeyCode::Enter);
    let d = ui.session.app.detail.as_ref().expect("a conversation opens");
    assert_eq!(d.conversation.id, recent[1].0);
    assert_eq!(d.messages.front().unwrap().ordinal, 0, "from its start");
    assert!(d.hit_id.is_none());
    let screen = ui.screen();
    assert!(!screen.contains("▶ "), "nothing is marked as a hit: {screen}");
    // y copies that session's file; Esc closes it and the list is still there.
    let Effect::Copy(path) = ui.press(KeyCode::Char('y')) else { panic!("y copies") };
    assert_eq!(path, d_path(&sb, recent[1].0));
    ui.press(KeyCode::Esc);
    assert!(ui.session.app.detail.is_none());
    assert!(ui.screen().contains("recent sessions"));

    // Typing replaces the list with hits; clearing the query brings it back.
    ui.search("cargo");
    assert!(ui.screen().contains("results · "), "{}", ui.screen());
    ui.session.key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    ui.settle();
    assert!(ui.screen().contains("recent sessions"), "{}", ui.screen());
    assert_eq!(ui.session.app.browse.sessions.len(), recent_sessions(&sb, 100).len(), "all of them, on one page");
    // The agent chip narrows the list too.
    assert!(sb.json(&["status"])["agents"].as_array().unwrap().len() > 1, "several agents to filter");
    ui.press(KeyCode::F(2));
    ui.settle();
    let agent = ui.session.app.filters.agent.clone().expect("an agent");
    let listed: Vec<String> = ui.session.app.browse.sessions.iter().map(|c| c.agent.clone()).collect();
    assert!(!listed.is_empty() && listed.iter().all(|a| *a == agent), "{agent}: {listed:?}");
}

/// The stored source path of a conversation.
fn d_path(sb: &Sandbox, id: i64) -> String {
    sb.db().query_row("SELECT source_path FROM conversations WHERE id = ?1", [id], |r| r.get(0)).unwrap()
}

#[test]
fn typing_in_the_results_or_the_conversation_goes_to_the_query() {
    let sb = indexed();
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.search("ECONNREFUSED");
    let before = ui.session.app.results.meta.as_ref().unwrap().total;
    ui.press(KeyCode::Tab);
    // Space, O and R have no use in the results: they type, and the query
    // takes the focus, so the rest of the words type too.
    ui.search(" OR cargo");
    assert_eq!(ui.session.app.query.text, "ECONNREFUSED OR cargo");
    let after = ui.session.app.results.meta.as_ref().unwrap().total;
    assert!(after > before, "the new query ran: {before} → {after}");
    assert!(ui.screen().contains("› ECONNREFUSED OR cargo"));

    // In a conversation, typing starts a new search: the conversation closes.
    ui.press(KeyCode::Enter);
    assert!(ui.session.app.detail.is_some());
    ui.search("z");
    assert!(ui.session.app.detail.is_none());
    assert_eq!(ui.session.app.query.text, "ECONNREFUSED OR cargoz");
    // Keys the conversation uses still act there: j moves, x expands.
    ui.session.key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    ui.search("ECONNREFUSED");
    ui.press(KeyCode::Enter);
    ui.draw();
    let cursor = ui.session.app.detail.as_ref().unwrap().cursor;
    ui.press(KeyCode::Char('j'));
    assert_eq!(ui.session.app.detail.as_ref().unwrap().cursor, cursor + 1);
    assert_eq!(ui.session.app.query.text, "ECONNREFUSED");
}

#[test]
fn esc_esc_q_from_an_open_conversation_quits() {
    let sb = indexed();
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.search("ECONNREFUSED");
    ui.press(KeyCode::Enter);
    assert!(ui.session.app.detail.is_some());
    assert_eq!(ui.press(KeyCode::Esc), Effect::None);
    assert_eq!(ui.press(KeyCode::Esc), Effect::None);
    assert_eq!(ui.press(KeyCode::Char('q')), Effect::Quit, "q quits, it does not type");
    assert_eq!(ui.session.app.query.text, "ECONNREFUSED");

    // The same with the query focused over an open conversation.
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.search("ECONNREFUSED");
    ui.press(KeyCode::Enter);
    ui.press(KeyCode::Char('/'));
    ui.press(KeyCode::Esc);
    ui.press(KeyCode::Esc);
    assert_eq!(ui.press(KeyCode::Char('q')), Effect::Quit);
}

#[test]
fn a_query_typed_before_the_first_index_runs_when_the_index_appears() {
    let sb = Sandbox::new();
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.search("ECONNREFUSED");
    assert!(ui.screen().contains("No index yet."));
    copy_tree(&own_fixtures(), &sb.home());
    assert!(sb.run(&["index"]).status.success());
    // The status probe notices the index; nothing is typed again.
    ui.session.refresh_status();
    ui.settle();
    let want = cli_total(&sb, &["ECONNREFUSED"]);
    let screen = ui.screen();
    assert!(screen.contains(&format!("{want} of {want} hits")), "{screen}");
    assert!(screen.contains("Fix flaky websocket reconnect test"), "{screen}");
}

#[test]
fn the_recent_sessions_load_a_page_at_a_time() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-many");
    std::fs::create_dir_all(&dir).unwrap();
    let n = cass::tui::browse::PAGE as usize + 10;
    for i in 0..n {
        let ts = format!("2026-01-{:02}T{:02}:{:02}:00Z", 1 + i / 24, i % 24, i % 60);
        std::fs::write(
            dir.join(format!("s{i}.jsonl")),
            claude_line(&format!("s{i}"), "user", &format!("session {i}"), &ts, "/w"),
        )
        .unwrap();
    }
    assert!(sb.run(&["index", "--no-semantic"]).status.success());
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.settle();
    ui.draw();
    assert_eq!(ui.session.app.browse.sessions.len(), cass::tui::browse::PAGE as usize, "a first page");
    assert!(ui.screen().contains(&format!("session {}", n - 1)), "newest first: {}", ui.screen());
    ui.press(KeyCode::Tab);
    ui.press(KeyCode::End);
    ui.settle();
    let ids: std::collections::BTreeSet<i64> = ui.session.app.browse.sessions.iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), n, "End loads the rest, each session once");
    ui.press(KeyCode::End);
    ui.draw();
    assert!(
        ui.screen().contains("│claude_code") && ui.screen().contains("session 0 "),
        "the oldest is last: {}",
        ui.screen()
    );
}

/// F7 (or `s` outside the query) orders the hits as `cass search --sort`
/// does: recent, oldest, then back to relevance.
#[test]
fn the_order_chip_sorts_hits_by_time() {
    let sb = indexed();
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.search("cargo");
    ui.press(KeyCode::F(5)); // lexical: every match in time order
    ui.settle();
    let times = |ui: &Ui| -> Vec<i64> { ui.session.app.results.hits.iter().filter_map(|h| h.created_at).collect() };
    ui.press(KeyCode::F(7));
    ui.settle();
    assert!(ui.screen().contains("F7 sort: recent"));
    let recent = times(&ui);
    assert!(recent.len() > 2 && recent.windows(2).all(|w| w[0] >= w[1]), "newest first: {recent:?}");
    ui.press(KeyCode::F(7));
    ui.settle();
    assert!(ui.screen().contains("F7 sort: oldest"));
    let oldest = times(&ui);
    assert!(oldest.windows(2).all(|w| w[0] <= w[1]), "oldest first: {oldest:?}");
    assert_ne!(recent, oldest);
    ui.press(KeyCode::F(7));
    ui.settle();
    assert!(ui.screen().contains("F7 sort: relevance"));
}

/// Results are one hit per session by default, with how many more of its
/// messages matched; F8 (or Ctrl-G) lists every message.
#[test]
fn results_are_one_per_session_until_f8_asks_for_every_message() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".claude/projects/-home-dev-app");
    std::fs::create_dir_all(&dir).unwrap();
    let mut long = String::new();
    for i in 0..3 {
        long.push_str(&claude_line(
            "many",
            "user",
            &format!("needlezz number {i}"),
            &format!("2026-01-0{}T10:00:00Z", i + 1),
            "/w",
        ));
    }
    std::fs::write(dir.join("many.jsonl"), long).unwrap();
    std::fs::write(dir.join("one.jsonl"), claude_line("one", "user", "a needlezz alone", "2026-01-05T10:00:00Z", "/w"))
        .unwrap();
    assert!(sb.run(&["index", "--no-semantic"]).status.success());
    let mut ui = Ui::open(&sb.data(), Theme::mono());
    ui.press(KeyCode::F(5)); // lexical
    ui.search("needlezz");
    assert_eq!(ui.session.app.results.hits.len(), 2, "{}", ui.screen());
    assert!(ui.screen().contains("F8 per: session"));
    assert_eq!(ui.rows_with("+2 more").len(), 1, "{}", ui.screen());
    ui.press(KeyCode::F(8));
    ui.settle();
    assert_eq!(ui.session.app.results.hits.len(), 4, "{}", ui.screen());
    assert!(ui.screen().contains("F8 per: message"));
    assert!(ui.rows_with("more").is_empty(), "{}", ui.screen());
    ui.session.key(KeyEvent::new(KeyCode::Char('g'), KeyModifiers::CONTROL));
    ui.settle();
    assert_eq!(ui.session.app.results.hits.len(), 2);
}
