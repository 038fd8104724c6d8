//! The real binary on a real (pseudo) terminal: tmux runs `cass`, keys go in
//! with `send-keys`, the screen comes back with `capture-pane`. This covers
//! what TestBackend cannot: raw mode and the alternate screen entered and
//! left, the event loop, OSC 52 reaching the terminal, and the editor hand-off.
//! Skips (saying so) where tmux is not installed.

mod common;
use common::*;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A private tmux server (its own socket), killed on drop and its socket
/// file removed (tmux leaves it behind when the server is killed).
struct Tmux {
    socket: String,
    socket_path: String,
}

impl Tmux {
    fn start(command: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("skipping: tmux is not installed");
            return None;
        }
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut t = Tmux { socket: format!("cass-test-{}-{n}", std::process::id()), socket_path: String::new() };
        let ok = t.cmd(&["-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "120", "-y", "35", command]);
        assert!(ok, "tmux new-session");
        t.socket_path = t.format("#{socket_path}");
        assert!(t.cmd(&["set-option", "-g", "set-clipboard", "on"]));
        assert!(t.cmd(&["set-option", "-g", "remain-on-exit", "on"]));
        Some(t)
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("run tmux")
    }

    fn cmd(&self, args: &[&str]) -> bool {
        self.run(args).status.success()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args));
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    /// The screen with its SGR escapes (`capture-pane -e`).
    fn screen_styled(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-e", "-t", "t"]).stdout).into_owned()
    }

    fn format(&self, f: &str) -> String {
        String::from_utf8_lossy(&self.run(&["display-message", "-p", "-t", "t", f]).stdout).trim().to_string()
    }

    /// Waits until the screen satisfies `ok`; panics with the screen after 15 s.
    fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}:\n{s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
        if !self.socket_path.is_empty() {
            let _ = std::fs::remove_file(&self.socket_path);
        }
    }
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn cass_runs_on_a_terminal_copies_edits_and_restores_the_terminal() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    assert!(sb.run(&["index"]).status.success());
    // An "editor" that records what it was asked to open.
    let opened = sb.dir.path().join("opened.txt");
    let editor = sb.dir.path().join("editor.sh");
    std::fs::write(&editor, format!("#!/bin/sh\nprintf '%s' \"$1\" > {}\n", shell_quote(&opened))).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // The exit status goes to a file: tmux does not always record a dead pane's status.
    let status = sb.dir.path().join("status.txt");
    let command = format!(
        "env -u NO_COLOR -u VISUAL HOME={} CASS_DATA_DIR={} EDITOR={} TERM=xterm-256color {}; echo $? > {}",
        shell_quote(&sb.home()),
        shell_quote(&sb.data()),
        shell_quote(&editor),
        shell_quote(Path::new(env!("CARGO_BIN_EXE_cass"))),
        shell_quote(&status),
    );
    let Some(tmux) = Tmux::start(&command) else { return };

    tmux.wait("the empty query screen", |s| s.contains("Type to search ") && s.contains(" messages in "));
    assert_eq!(tmux.format("#{alternate_on}"), "1", "the UI runs on the alternate screen");
    tmux.keys(&["-l", "ECONNREFUSED"]);
    tmux.wait("results", |s| s.contains("Fix flaky websocket reconnect test") && s.contains("hits ·"));

    // y: the path reaches the terminal as OSC 52; tmux turns it into a paste buffer.
    tmux.keys(&["Tab", "y"]);
    tmux.wait("the copy notice", |s| s.contains("copied the session path"));
    let buffer = String::from_utf8_lossy(&tmux.run(&["show-buffer"]).stdout).into_owned();
    assert!(buffer.ends_with("7f3c2a10-1111-4a2b-9c3d-000000000001.jsonl"), "clipboard: {buffer:?}");

    // o: the editor gets the session file, and the UI comes back.
    tmux.keys(&["o"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::fs::read_to_string(&opened).unwrap_or_default().is_empty() {
        assert!(Instant::now() < deadline, "the editor never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&opened).unwrap(), buffer);
    // The UI left the alternate screen for the editor; raw mode is back once it returns.
    while tmux.format("#{alternate_on}") != "1" {
        assert!(Instant::now() < deadline, "the UI did not come back after the editor");
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux.keys(&["Enter"]);
    tmux.wait("the conversation after the editor", |s| s.contains("▶ tool"));

    // q quits with status 0 and leaves the alternate screen.
    tmux.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::fs::read_to_string(&status).unwrap_or_default().trim().is_empty() {
        assert!(Instant::now() < deadline, "cass did not quit:\n{}", tmux.screen());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&status).unwrap().trim(), "0", "exit status");
    assert_eq!(tmux.format("#{alternate_on}"), "0", "the terminal left the alternate screen");
}

/// SGR parameters that set a colour (38/48 extended, 30–37, 40–47, 90–97,
/// 100–107); 39 and 49 (back to the default) are not colours.
fn colour_codes(styled: &str) -> usize {
    let mut n = 0;
    for seq in styled.split("\x1b[").skip(1) {
        let Some(end) = seq.find(|c: char| !(c.is_ascii_digit() || c == ';')) else { continue };
        if !seq[end..].starts_with('m') {
            continue;
        }
        let colour = seq[..end]
            .split(';')
            .filter_map(|p| p.parse::<u32>().ok())
            .any(|p| matches!(p, 30..=38 | 40..=48 | 90..=97 | 100..=107));
        n += usize::from(colour);
    }
    n
}

#[test]
fn no_color_reaches_the_terminal_as_a_monochrome_screen() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    assert!(sb.run(&["index"]).status.success());
    let cass = shell_quote(Path::new(env!("CARGO_BIN_EXE_cass")));
    let env = format!("HOME={} CASS_DATA_DIR={} TERM=xterm-256color", shell_quote(&sb.home()), shell_quote(&sb.data()));
    let mut counts = Vec::new();
    for no_color in ["", "1"] {
        let Some(tmux) = Tmux::start(&format!("env NO_COLOR={no_color} {env} {cass}")) else { return };
        tmux.keys(&["-l", "cargo"]);
        tmux.wait("results", |s| s.contains("hits ·"));
        counts.push(colour_codes(&tmux.screen_styled()));
        tmux.keys(&["C-c"]);
    }
    assert!(counts[0] > 0, "with colour, agents and chips are coloured");
    assert_eq!(counts[1], 0, "NO_COLOR=1: no colour escapes at all");
}

#[test]
fn sigterm_restores_the_terminal() {
    let sb = Sandbox::new();
    let status = sb.dir.path().join("status.txt");
    let command = format!(
        "env CASS_DATA_DIR={} TERM=xterm-256color {}; echo $? > {}",
        shell_quote(&sb.data()),
        shell_quote(Path::new(env!("CARGO_BIN_EXE_cass"))),
        shell_quote(&status),
    );
    let Some(tmux) = Tmux::start(&command) else { return };
    tmux.wait("the no-index screen", |s| s.contains("No index yet."));
    assert_eq!(tmux.format("#{alternate_on}"), "1");
    // The pane runs `sh -c`; cass is its child.
    let shell = tmux.format("#{pane_pid}");
    let out = Command::new("pgrep").args(["-P", &shell]).output().expect("pgrep");
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!pid.is_empty(), "cass's pid under {shell}");
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::fs::read_to_string(&status).unwrap_or_default().trim().is_empty() {
        assert!(Instant::now() < deadline, "cass did not exit on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&status).unwrap().trim(), "130");
    assert_eq!(tmux.format("#{alternate_on}"), "0", "the terminal left the alternate screen");
}

#[test]
fn esc_esc_q_from_a_conversation_quits_on_a_real_terminal() {
    let sb = Sandbox::new();
    copy_tree(&own_fixtures(), &sb.home());
    assert!(sb.run(&["index"]).status.success());
    let status = sb.dir.path().join("status.txt");
    let command = format!(
        "env HOME={} CASS_DATA_DIR={} TERM=xterm-256color {}; echo $? > {}",
        shell_quote(&sb.home()),
        shell_quote(&sb.data()),
        shell_quote(Path::new(env!("CARGO_BIN_EXE_cass"))),
        shell_quote(&status),
    );
    let Some(tmux) = Tmux::start(&command) else { return };
    tmux.wait("the recent sessions", |s| s.contains("recent sessions · newest first"));
    tmux.keys(&["-l", "ECONNREFUSED"]);
    tmux.wait("results", |s| s.contains("Fix flaky websocket reconnect test") && s.contains("hits ·"));
    tmux.keys(&["Enter"]);
    tmux.wait("the conversation", |s| s.contains("▶ tool"));
    // Each Esc on its own, as a person types them (an Esc followed at once
    // by a key reads as Alt and that key).
    tmux.keys(&["Escape"]);
    tmux.wait("the conversation closed", |s| !s.contains("▶ tool"));
    tmux.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    tmux.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::fs::read_to_string(&status).unwrap_or_default().trim().is_empty() {
        assert!(Instant::now() < deadline, "q did not quit:\n{}", tmux.screen());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&status).unwrap().trim(), "0", "exit status");
}
