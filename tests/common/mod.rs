//! Helpers shared by the integration tests: a fake home, a data dir, and a
//! way to run the real `cass` binary against them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temp dir holding `home/` (agent files) and `data/` (cass's data dir).
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `cass` with a clean environment pointing at this sandbox.
    pub fn cass(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cass"));
        for var in [
            "CLAUDE_CONFIG_DIR",
            "CODEX_HOME",
            "GEMINI_HOME",
            "GEMINI_DIR",
            "PI_CODING_AGENT_DIR",
            "PI_SESSIONS_DIR",
            "OPENCODE_STORAGE_ROOT",
            "OPENCODE_SQLITE_DB",
            "CASS_AIDER_DATA_ROOT",
            "CHATGPT_ENCRYPTION_KEY",
            "COPILOT_HOME",
            "OPENCLAW_STATE_DIR",
            "VIBE_HOME",
            "HERMES_HOME",
            "CASS_ANTIGRAVITY_DATA_ROOT",
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
            "APPDATA",
            "CASS_SEMANTIC_PROGRESS_JSONL",
            "RUST_LOG",
            "NO_COLOR",
            // The config file and every variable it can set.
            "CASS_CONFIG",
            "XDG_CONFIG_HOME",
            "CASS_COLOR",
            "CASS_EMBED_THREADS",
            "CASS_EMBED_ISA",
            "CASS_CHATGPT_KEY_FILE",
            "CASS_SEARCH_LIMIT",
            "CASS_SEARCH_MODE",
            "CASS_SEARCH_TIER",
            "CASS_NO_SEMANTIC",
            "CASS_NO_REDACT",
            "CASS_WATCH_DEBOUNCE_MS",
            "CASS_SSH",
            "CASS_SSH_CONFIG",
            "CASS_SSH_CONNECT_TIMEOUT_SECS",
            "CASS_REMOTE_COPY",
            "CASS_SYNC_ON_INDEX",
            "CASS_SYNC_INTERVAL_SECS",
        ] {
            cmd.env_remove(var);
        }
        std::fs::create_dir_all(self.home()).unwrap();
        cmd.env("HOME", self.home()).env("CASS_DATA_DIR", self.data()).current_dir(self.dir.path());
        // Keeps a WSL machine's real Windows profiles (/mnt/c/Users) out.
        cmd.env("CASS_WSL_WINDOWS_USERS", self.dir.path().join("no-windows-drive"));
        cmd
    }

    /// Runs `cass ARGS`, returning the output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cass().args(args).output().expect("run cass")
    }

    /// Runs `cass ARGS --json`, asserting success, and parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cass().args(args).arg("--json").output().expect("run cass");
        assert!(
            out.status.success(),
            "cass {args:?} failed ({:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("bad JSON from cass {args:?}: {e}\n{}", String::from_utf8_lossy(&out.stdout)))
    }

    /// Opens the store read-only.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(self.data().join("cass.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open db")
    }
}

/// Copies a directory tree (files become writable copies).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::write(&target, std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

/// `../shared/fixtures`, when this checkout sits beside a shared folder.
/// Tests that need it skip (saying so) where it is absent.
pub fn shared_fixtures() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: ../shared/fixtures is not present");
        None
    }
}

/// The project's own fixtures: a fake home with sessions of each agent.
pub fn own_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/home")
}

/// Lays out the shared fixtures for Claude, Codex and Gemini in a fake home,
/// with `edge_cases/` and `malformed/` as one Claude project folder.
pub fn install_shared(home: &Path, shared: &Path) {
    copy_tree(&shared.join("claude"), &home.join(".claude"));
    copy_tree(&shared.join("codex"), &home.join(".codex"));
    copy_tree(&shared.join("gemini"), &home.join(".gemini"));
    let proj = home.join(".claude/projects/-home-dev-project");
    copy_tree(&shared.join("edge_cases"), &proj);
    copy_tree(&shared.join("malformed"), &proj);
}

/// A message as `full_messages` returns it.
pub type Row = (String, Option<String>, Option<i64>, String);

pub fn row(role: &str, author: Option<&str>, ts: Option<i64>, content: &str) -> Row {
    (role.into(), author.map(Into::into), ts, content.into())
}

/// (title, workspace, started_at, ended_at, message_count), as `conversation_row` returns it.
pub type Conv = (Option<String>, Option<String>, Option<i64>, Option<i64>, i64);

pub fn conv(title: &str, workspace: Option<&str>, started: i64, ended: i64, n: i64) -> Conv {
    (Some(title.into()), workspace.map(Into::into), Some(started), Some(ended), n)
}

/// Indexes the sandbox without the semantic backfill.
pub fn index_no_semantic(sb: &Sandbox) -> serde_json::Value {
    sb.json(&["index", "--no-semantic"])
}

/// Copies `../shared/fixtures/<from>` to `home/<to>`; false (and nothing
/// copied) where ../shared is absent.
pub fn copy_shared(sb: &Sandbox, from: &str, to: &str) -> bool {
    match shared_fixtures() {
        Some(shared) => {
            copy_tree(&shared.join(from), &sb.home().join(to));
            true
        }
        None => false,
    }
}

/// Copies `own_fixtures()/<rel>` to the same place in `home`.
pub fn install_own(home: &Path, rel: &str) {
    let from = own_fixtures().join(rel);
    if from.is_dir() {
        copy_tree(&from, &home.join(rel));
    } else {
        std::fs::create_dir_all(home.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(&from, home.join(rel)).unwrap();
    }
}

/// (role, author, created_at, content) of each message of a conversation.
pub fn full_messages(
    db: &rusqlite::Connection,
    external_id: &str,
) -> Vec<(String, Option<String>, Option<i64>, String)> {
    let mut stmt = db
        .prepare(
            "SELECT m.role, m.author, m.created_at, m.content FROM messages m
             JOIN conversations c ON c.id = m.conversation_id WHERE c.external_id = ?1 ORDER BY m.ordinal",
        )
        .unwrap();
    stmt.query_map([external_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The per-agent entry of an index or sources report.
pub fn agent_entry<'a>(report: &'a serde_json::Value, agent: &str) -> &'a serde_json::Value {
    report["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == agent)
        .unwrap_or_else(|| panic!("no agent {agent} in {report}"))
}

/// Rows of (role, content) of the conversation with this external id.
pub fn messages_of(db: &rusqlite::Connection, external_id: &str) -> Vec<(String, String)> {
    let mut stmt = db
        .prepare(
            "SELECT m.role, m.content FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE c.external_id = ?1 ORDER BY m.ordinal",
        )
        .unwrap();
    stmt.query_map([external_id], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

/// (title, workspace, started_at, ended_at, message_count) of a conversation.
pub fn conversation_row(
    db: &rusqlite::Connection,
    external_id: &str,
) -> (Option<String>, Option<String>, Option<i64>, Option<i64>, i64) {
    db.query_row(
        "SELECT title, workspace, started_at, ended_at, message_count FROM conversations WHERE external_id = ?1",
        [external_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )
    .unwrap_or_else(|e| panic!("conversation {external_id}: {e}"))
}

/// Milliseconds for an RFC 3339 string, for readable assertions.
pub fn ms(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
}

/// One Claude Code JSONL record (with its newline) for a message.
pub fn claude_line(session: &str, role: &str, text: &str, ts: &str, cwd: &str) -> String {
    format!(
        "{{\"type\":\"{role}\",\"sessionId\":\"{session}\",\"cwd\":\"{cwd}\",\"timestamp\":\"{ts}\",\"message\":{{\"role\":\"{role}\",\"content\":{}}}}}\n",
        serde_json::to_string(text).unwrap()
    )
}

/// The named crash points of a tier backfill, in the order a run reaches
/// them: staging, checkpoint, segment write, publish.
pub const BACKFILL_CRASH_POINTS: [&str; 8] = [
    "staging.before_sync",
    "manifest.before_fsync",
    "manifest.before_rename",
    "manifest.after_rename",
    "segment.before_fsync",
    "publish.before_rename",
    "publish.before_manifest",
    "publish.after_manifest",
];

/// A rendered TUI frame as text, one line per row (what a person sees).
pub fn frame_text(buf: &ratatui::buffer::Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}
