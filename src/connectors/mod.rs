//! Connectors: one per agent. Each knows where its agent keeps sessions and
//! turns one source file into normalized conversations pushed into a
//! [`ParseSink`]. A connector never touches the store.

pub mod aider;
pub mod amp;
mod announce;
pub mod antigravity;
pub mod chatgpt;
pub mod claude;
pub mod claude_desktop;
pub mod cline;
pub mod codex;
pub mod content;
pub mod copilot;
pub mod copilot_cli;
pub mod crush;
pub mod cursor;
pub mod cursor_agent;
pub mod document;
pub mod factory;
pub mod gemini;
pub mod goose;
pub mod grok;
pub mod hermes;
pub mod json;
pub mod kimi;
pub mod kiro;
pub mod lines;
pub mod openclaw;
mod openclaw_db;
pub mod opencode;
pub mod openhands;
pub mod pi_agent;
pub mod qwen;
mod runs;
pub mod sqlite;
pub mod vibe;
pub mod vscode;

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::model::{Agent, ConversationHeader, Message, Usage};

/// The environment connectors resolve agent locations from. Captured once so
/// tests can point cass at a fake home without touching the process.
#[derive(Debug, Clone)]
pub struct AgentEnv {
    /// The user's home directory, the base of most default locations.
    pub home: PathBuf,
    vars: HashMap<String, OsString>,
    /// Which operating system's conventions locate application data.
    pub platform: Platform,
    /// When set, every variable name a connector asks for is noted here
    /// ([`variables_read`]).
    asked: Option<Arc<Mutex<BTreeSet<String>>>>,
    /// The user's key to the ChatGPT app's encrypted stores (none by
    /// default; the command line reads it from its settings).
    pub chatgpt_key: chatgpt::ChatGptKey,
}

/// The operating-system conventions that decide where applications keep
/// their data. The running one by default; settable so every platform's
/// locations can be checked anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// XDG directories under the home directory.
    Linux,
    /// `~/Library/Application Support`.
    MacOs,
    /// `%APPDATA%`, else `AppData/Roaming` under the home directory.
    Windows,
}

impl Platform {
    /// The platform cass was built for.
    pub fn current() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::MacOs
        } else if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Linux
        }
    }
}

impl AgentEnv {
    /// An environment from variables the caller read (the CLI: the process
    /// environment, filled in from `.env`): `HOME` and the agents' overrides.
    /// Without `HOME`, the platform's idea of the home directory.
    pub fn from_vars(vars: HashMap<String, OsString>) -> AgentEnv {
        let home = vars
            .get("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| absolute(PathBuf::from(h)))
            .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()))
            .unwrap_or_else(|| PathBuf::from("/"));
        AgentEnv { home, vars, platform: Platform::current(), asked: None, chatgpt_key: Default::default() }
    }

    /// An environment with only a home directory (for tests).
    pub fn with_home(home: impl Into<PathBuf>) -> AgentEnv {
        AgentEnv {
            home: home.into(),
            vars: HashMap::new(),
            platform: Platform::current(),
            asked: None,
            chatgpt_key: Default::default(),
        }
    }

    /// The same environment, locating application data as `platform` does.
    pub fn on(mut self, platform: Platform) -> AgentEnv {
        self.platform = platform;
        self
    }

    /// Sets a variable as if the caller had read it (for tests).
    pub fn set_var(&mut self, key: &str, value: impl Into<OsString>) {
        self.vars.insert(key.to_string(), value.into());
    }

    /// Where per-user application state lives on this platform, and why:
    /// `~/Library/Application Support` on macOS, `%APPDATA%` on Windows,
    /// `$XDG_CONFIG_HOME` (default `~/.config`) elsewhere. Editors (VS Code,
    /// Cursor) keep their `User/` directory there.
    pub fn app_config_dir(&self) -> (PathBuf, &'static str) {
        match self.platform {
            Platform::MacOs => (self.home.join("Library/Application Support"), "default (macOS)"),
            Platform::Windows => match self.path_var("APPDATA") {
                Some(dir) => (dir, "APPDATA"),
                None => (self.home.join("AppData/Roaming"), "default (Windows)"),
            },
            Platform::Linux => match self.path_var("XDG_CONFIG_HOME") {
                Some(dir) => (dir, "XDG_CONFIG_HOME"),
                None => (self.home.join(".config"), "default"),
            },
        }
    }

    /// Where per-user application data lives: `$XDG_DATA_HOME` (default
    /// `~/.local/share`) on Linux, `~/Library/Application Support` on macOS,
    /// `%APPDATA%` on Windows.
    pub fn app_data_dir(&self) -> (PathBuf, &'static str) {
        if self.platform != Platform::Linux {
            self.app_config_dir()
        } else {
            match self.path_var("XDG_DATA_HOME") {
                Some(dir) => (dir, "XDG_DATA_HOME"),
                None => (self.home.join(".local/share"), "default"),
            }
        }
    }

    /// The Windows user profiles visible from WSL, where Windows apps keep
    /// their data when cass runs inside WSL: the directories of
    /// `$CASS_WSL_WINDOWS_USERS`, else of `/mnt/c/Users` (WSL's default
    /// mount of drive C:, moved by `automount.root` in `wsl.conf`), minus
    /// Windows' own `Public`, `Default`, `Default User` and `All Users`.
    /// Empty where there is no such directory (any non-WSL machine), sorted.
    pub fn wsl_windows_profiles(&self) -> Vec<PathBuf> {
        let users = self.path_var("CASS_WSL_WINDOWS_USERS").unwrap_or_else(|| PathBuf::from("/mnt/c/Users"));
        let Ok(entries) = std::fs::read_dir(&users) else { return Vec::new() };
        let mut profiles: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                !["Public", "Default", "Default User", "All Users"].iter().any(|n| name == *n)
                    && e.file_type().is_ok_and(|t| t.is_dir())
            })
            .map(|e| e.path())
            .collect();
        profiles.sort();
        profiles
    }

    /// A non-empty environment variable as a path.
    pub fn path_var(&self, key: &str) -> Option<PathBuf> {
        if let Some(asked) = &self.asked {
            asked.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_string());
        }
        self.vars.get(key).filter(|v| !v.to_string_lossy().trim().is_empty()).map(|v| absolute(PathBuf::from(v)))
    }
}

/// `path` made absolute against the working directory, without touching
/// the file system (symlinks stay as named). Conversations are keyed by
/// their file's path: a relative `HOME` or `CODEX_HOME` would name every
/// file anew, and the next run from the same directory with the absolute
/// spelling (or from another directory) would index them all twice.
fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

/// Every environment variable some connector reads to find its agent's
/// sessions, on any platform, `HOME` first. Found by asking every
/// connector for its roots on each platform, first with nothing set and
/// then with everything it asked for set (a variable read only when
/// another is set is found the second time), so the list is the
/// connectors' own rules and cannot fall behind them. A remote machine is
/// probed for exactly these ([`crate::remote`]).
pub fn variables_read() -> Vec<String> {
    let asked = Arc::new(Mutex::new(BTreeSet::new()));
    for platform in [Platform::Linux, Platform::MacOs, Platform::Windows] {
        for pass in 0..2 {
            let mut env = AgentEnv::with_home("/home").on(platform);
            env.asked = Some(asked.clone());
            if pass == 1 {
                let names: Vec<String> = asked.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect();
                for name in names {
                    env.set_var(&name, "/set");
                }
            }
            for c in all() {
                c.roots(&env);
            }
        }
    }
    let names = asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    std::iter::once("HOME".to_string()).chain(names.into_iter().filter(|n| n != "HOME")).collect()
}

/// How a source file changes over time, which decides how it is re-read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceLayout {
    /// Lines are only ever appended: a grown file is read from the stored offset.
    AppendOnlyLines,
    /// The file is rewritten as a whole: any change means a full re-parse.
    WholeFile,
    /// A database holding many conversations, each with its own change
    /// marker (Cursor's `lastUpdatedAt`, OpenCode's `time_updated`). On a
    /// change the connector gets back the state it saved last time and
    /// emits only the conversations that changed; each one emitted replaces
    /// its earlier version, the others stay as they are.
    Database,
}

impl SourceLayout {
    /// For agents that write a log as JSONL (appended) and older or
    /// exported sessions as one JSON document (rewritten).
    pub fn by_extension(path: &Path) -> SourceLayout {
        if path.extension().is_some_and(|e| e == "jsonl") {
            SourceLayout::AppendOnlyLines
        } else {
            SourceLayout::WholeFile
        }
    }
}

/// A place an agent may keep sessions, and why cass looks there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// The directory to walk.
    pub path: PathBuf,
    /// Which setting produced this root (`CLAUDE_CONFIG_DIR`, `default`, …).
    pub origin: &'static str,
}

/// What a parse is asked to do.
pub struct ParseRequest<'a> {
    /// The source file to read.
    pub path: &'a Path,
    /// Byte offset to start reading at (0 for a full parse).
    pub start_offset: u64,
    /// Line number of the line at `start_offset` (1 for a full parse).
    pub start_line: u64,
    /// The connector's own state saved at the end of the previous parse of this
    /// file: present for a tail read (`start_offset > 0`) and for a refresh
    /// of a [`SourceLayout::Database`]; absent for a full read.
    pub resume: Option<&'a Value>,
}

impl ParseRequest<'_> {
    /// The connector's saved state; a fresh one for a full read, or when the
    /// saved one no longer reads (the fresh state re-derives what it can from
    /// the lines that follow).
    pub fn resume_state<S: serde::de::DeserializeOwned + Default>(&self) -> S {
        self.resume.and_then(|r| S::deserialize(r).ok()).unwrap_or_default()
    }
}

/// How a parse ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParseEnd {
    /// Byte offset after the last complete line consumed (file length for
    /// whole-file formats).
    pub offset: u64,
    /// Line number of the next unread line.
    pub next_line: u64,
    /// State to hand back on the next incremental parse.
    pub resume: Option<Value>,
    /// A final line without its newline was left for the next run.
    pub partial_tail: bool,
}

/// Receives what a connector reads, as it reads it, so a 100 MiB session never
/// has to be held in memory.
pub trait ParseSink {
    /// Starts (or updates) a conversation; following messages belong to it.
    fn conversation(&mut self, header: ConversationHeader);
    /// Adds a message to the conversation last started.
    fn message(&mut self, message: Message);
    /// A line (1-based) that could not be used; 0 for a record of a
    /// whole-document or database source (the error names it).
    fn malformed(&mut self, line: u64, error: String);
    /// The tokens a model call used, belonging to the conversation last
    /// started and to the message last added to it (if any). Sinks that
    /// only read text (discovery's counters, the fuzzers) drop it.
    fn usage(&mut self, usage: Usage) {
        let _ = usage;
    }
}

/// A parse that could not run at all (unreadable file). Valid earlier output
/// already pushed to the sink stays valid.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The source file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not in the format the connector expects (bad JSON, wrong schema).
    #[error("{path}: {message}")]
    Format {
        /// The source file.
        path: PathBuf,
        /// What was wrong, for the report.
        message: String,
    },
    /// The source exists and is the agent's, but its state keeps cass out
    /// (encrypted, locked by the running agent). Reported, never skipped
    /// silently; what an earlier run read stays indexed. `retry`: the cause
    /// may pass by itself (a lock), so the next run reads it again; otherwise
    /// (encryption) only a change to the file brings it back.
    #[error("{path}: {reason}")]
    Unreadable {
        /// The source file.
        path: PathBuf,
        /// Why cass cannot read it (encrypted, locked by another process), for the report.
        reason: String,
        /// The cause may pass by itself: read it again next run.
        retry: bool,
    },
}

impl ParseError {
    /// Whether the next run should read the source again even if it has not
    /// changed. Everything but a permanent condition (encryption) is worth a
    /// retry: an I/O error or a half-written document may pass.
    pub fn retry(&self) -> bool {
        !matches!(self, ParseError::Unreadable { retry: false, .. })
    }

    /// What went wrong, without the path (reports show the path beside it).
    pub fn reason(&self) -> String {
        match self {
            ParseError::Io { source, .. } => format!("cannot read: {source}"),
            ParseError::Format { message, .. } => message.clone(),
            ParseError::Unreadable { reason, .. } => reason.clone(),
        }
    }
}

/// Knows where one agent keeps its sessions and how to read them.
pub trait Connector: Send + Sync {
    /// The agent this connector reads.
    fn agent(&self) -> Agent;
    /// Places to look, in probe order, honouring the agent's own overrides.
    fn roots(&self, env: &AgentEnv) -> Vec<Root>;
    /// Whether a file found below `root` is one of this agent's sessions.
    fn is_source(&self, root: &Path, path: &Path) -> bool;
    /// How a source file changes over time, which decides how it is re-read.
    fn layout(&self, path: &Path) -> SourceLayout;
    /// Whether the parser reports token usage (see [`ParseSink::usage`]).
    /// Files of such agents that a store read before it did are read once
    /// more, so an upgraded store has the usage of its whole history.
    fn reads_usage(&self) -> bool {
        false
    }
    /// Whether a conversation read from `path` replaces the same agent's
    /// conversation of the same id read from another of its files on the
    /// same machine. An agent that moved its sessions from files into a
    /// database (OpenClaw 2.0) leaves the earlier file's conversation in
    /// the store otherwise (it keeps what vanished files held), and every
    /// migrated session would be found twice.
    fn supersedes_others(&self, path: &Path) -> bool {
        let _ = path;
        false
    }
    /// What this connector was given that changes what it can read (a key
    /// to encrypted sources), as a short text that never reveals it. When it
    /// differs from the run before, the agent's files are read again, also
    /// unchanged ones a lasting condition (encryption) kept out.
    fn reader_config(&self) -> Option<String> {
        None
    }
    /// Other files whose changes are changes of this source: a SQLite
    /// database's `-wal` (recent writes sit there until a checkpoint), a Cline
    /// task's sibling files, an OpenCode session's message and part files.
    /// Discovery folds their sizes and mtimes into the source's own, so a
    /// change to any of them re-reads the source.
    fn companions(&self, _path: &Path) -> Vec<PathBuf> {
        Vec::new()
    }
    /// [`Connector::companions`], with directories read through `list`
    /// (the files directly in a directory, sorted) rather than the local
    /// file system: a sync computes a remote source's companions from the
    /// remote's listing with it. A connector whose companions come from
    /// reading directories implements this and has `companions` call it
    /// with [`local_files`]; the others need not.
    fn companions_listed(&self, path: &Path, list: &dyn Fn(&Path) -> Vec<PathBuf>) -> Vec<PathBuf> {
        let _ = list;
        self.companions(path)
    }
    /// How many directory levels below a root are walked. Agents whose files
    /// sit anywhere in a project tree (Aider) use a shallow walk of `$HOME`.
    fn walk_depth(&self) -> usize {
        DEFAULT_WALK_DEPTH
    }
    /// Whether to walk into a directory below a root. Lets a connector that
    /// walks `$HOME` stay out of caches, dependency trees and app data.
    fn descend(&self, _dir: &Path) -> bool {
        true
    }
    /// Reads `req.path` from `req.start_offset`, pushing what it finds into `sink`.
    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError>;
}

/// The files directly in `dir`, sorted by name (none when it cannot be
/// listed): the local listing [`Connector::companions_listed`] reads.
pub fn local_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

/// Directory levels walked below a root unless a connector says otherwise.
/// A connector at this depth owns its tree: `index --watch` treats any file
/// change there as possibly relevant.
pub const DEFAULT_WALK_DEPTH: usize = 12;

/// Every connector cass ships, in report order, as `env` configures them
/// (the keys it holds).
pub fn configured(env: &AgentEnv) -> Vec<Box<dyn Connector>> {
    with_chatgpt_key(env.chatgpt_key.clone())
}

/// Every connector cass ships, in report order, with nothing configured:
/// for naming agents and reading what needs no key.
pub fn all() -> Vec<Box<dyn Connector>> {
    with_chatgpt_key(chatgpt::ChatGptKey::Absent)
}

fn with_chatgpt_key(key: chatgpt::ChatGptKey) -> Vec<Box<dyn Connector>> {
    vec![
        Box::new(claude::ClaudeCode),
        Box::new(codex::Codex),
        Box::new(gemini::Gemini),
        Box::new(cline::Cline),
        Box::new(opencode::OpenCode),
        Box::new(amp::Amp),
        Box::new(aider::Aider),
        Box::new(cursor::Cursor),
        Box::new(chatgpt::ChatGpt::new(key)),
        Box::new(pi_agent::PiAgent),
        Box::new(factory::Factory),
        Box::new(copilot_cli::CopilotCli),
        Box::new(copilot::CopilotChat),
        Box::new(goose::Goose),
        Box::new(crush::Crush),
        Box::new(kimi::Kimi),
        Box::new(qwen::Qwen),
        Box::new(openhands::OpenHands),
        Box::new(grok::Grok),
        Box::new(antigravity::Antigravity),
        Box::new(openclaw::OpenClaw),
        Box::new(openclaw::Clawdbot),
        Box::new(vibe::Vibe),
        Box::new(hermes::Hermes),
        Box::new(claude_desktop::ClaudeDesktop),
        Box::new(kiro::Kiro),
        Box::new(cursor_agent::CursorAgent),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first place each agent is looked for, relative to home.
    fn first_roots(env: &AgentEnv) -> Vec<(&'static str, String)> {
        all()
            .iter()
            .map(|c| {
                let root = &c.roots(env)[0];
                let rel = root.path.strip_prefix(&env.home).unwrap_or(&root.path);
                (c.agent().slug(), rel.to_string_lossy().replace('\\', "/"))
            })
            .collect()
    }

    #[test]
    fn every_platform_has_its_locations() {
        let linux = first_roots(&AgentEnv::with_home("/h").on(Platform::Linux));
        let mac = first_roots(&AgentEnv::with_home("/h").on(Platform::MacOs));
        let mut win_env = AgentEnv::with_home("/h").on(Platform::Windows);
        win_env.set_var("APPDATA", "/h/AppData/Roaming");
        let win = first_roots(&win_env);
        let expect = |v: &[(&str, String)], agent: &str, path: &str| {
            let got = &v.iter().find(|(a, _)| *a == agent).unwrap().1;
            assert_eq!(got, path, "{agent}");
        };
        expect(&linux, "cline", ".config/Code/User/globalStorage/saoudrizwan.claude-dev/tasks");
        expect(&mac, "cline", "Library/Application Support/Code/User/globalStorage/saoudrizwan.claude-dev/tasks");
        expect(&win, "cline", "AppData/Roaming/Code/User/globalStorage/saoudrizwan.claude-dev/tasks");
        expect(&linux, "cursor", ".config/Cursor/User/globalStorage");
        expect(&mac, "cursor", "Library/Application Support/Cursor/User/globalStorage");
        expect(&win, "cursor", "AppData/Roaming/Cursor/User/globalStorage");
        expect(&linux, "opencode", ".local/share/opencode/storage");
        // OpenCode uses the XDG layout on every platform.
        expect(&mac, "opencode", ".local/share/opencode/storage");
        expect(&win, "opencode", ".local/share/opencode/storage");
        expect(&linux, "amp", ".local/share/amp");
        expect(&mac, "amp", "Library/Application Support/amp");
        expect(&win, "amp", "AppData/Roaming/amp");
        expect(&linux, "copilot", ".config/Code/User/workspaceStorage");
        expect(&mac, "copilot", "Library/Application Support/Code/User/workspaceStorage");
        // Goose and Crush keep the XDG layout on macOS.
        expect(&linux, "goose", ".local/share/goose/sessions");
        expect(&mac, "goose", ".local/share/goose/sessions");
        expect(&win, "goose", "AppData/Roaming/Block/goose/data/sessions");
        expect(&linux, "crush", ".local/share/crush/.crush");
        expect(&mac, "crush", ".local/share/crush/.crush");
        expect(&win, "crush", "AppData/Local/crush/.crush");
        // Home-relative everywhere.
        for v in [&linux, &mac, &win] {
            expect(v, "chatgpt", "Library/Application Support/com.openai.chat");
            expect(v, "pi_agent", ".pi/agent/sessions");
            expect(v, "factory", ".factory/sessions");
            expect(v, "copilot_cli", ".copilot/session-state");
            expect(v, "kimi", ".kimi-code/sessions");
            expect(v, "qwen", ".qwen/projects");
            expect(v, "openhands", ".openhands/conversations");
            expect(v, "antigravity", ".gemini/antigravity-cli/brain");
            expect(v, "openclaw", ".openclaw/agents");
            expect(v, "clawdbot", ".clawdbot/agents");
            expect(v, "vibe", ".vibe/logs/session");
            expect(v, "hermes", ".hermes");
            expect(v, "kiro", ".kiro/sessions/cli");
            expect(v, "grok", ".grok/sessions");
            expect(v, "cursor_agent", ".cursor/projects");
        }
        expect(&linux, "claude_desktop", ".config/Claude/claude-code-sessions");
        expect(&mac, "claude_desktop", "Library/Application Support/Claude/claude-code-sessions");
        expect(&win, "claude_desktop", "AppData/Roaming/Claude/claude-code-sessions");
    }

    #[test]
    fn overrides_replace_defaults() {
        let mut env = AgentEnv::with_home("/h").on(Platform::Linux);
        env.set_var("XDG_DATA_HOME", "/data");
        env.set_var("XDG_CONFIG_HOME", "/conf");
        env.set_var("PI_CODING_AGENT_DIR", "/pi");
        env.set_var("OPENCODE_STORAGE_ROOT", "/oc/storage");
        let roots: HashMap<&str, Vec<Root>> = all().iter().map(|c| (c.agent().slug(), c.roots(&env))).collect();
        assert_eq!(roots["amp"][0], Root { path: "/data/amp".into(), origin: "XDG_DATA_HOME" });
        assert_eq!(roots["cursor"][0].path, PathBuf::from("/conf/Cursor/User/globalStorage"));
        assert_eq!(roots["pi_agent"][0], Root { path: "/pi/sessions".into(), origin: "PI_CODING_AGENT_DIR" });
        assert_eq!(roots["opencode"][0], Root { path: "/oc/storage".into(), origin: "OPENCODE_STORAGE_ROOT" });
        assert_eq!(roots["opencode"][1].path, PathBuf::from("/data/opencode"));
        // XDG_DATA_HOME moves Goose's and Crush's data (on macOS too).
        assert_eq!(roots["goose"][0], Root { path: "/data/goose/sessions".into(), origin: "XDG_DATA_HOME" });
        assert_eq!(roots["crush"][0], Root { path: "/data/crush/.crush".into(), origin: "XDG_DATA_HOME" });

        env.set_var("OPENCLAW_STATE_DIR", "/oc-state");
        env.set_var("VIBE_HOME", "/vibe");
        env.set_var("HERMES_HOME", "/hermes");
        env.set_var("CASS_ANTIGRAVITY_DATA_ROOT", "/agy");
        let roots: HashMap<&str, Vec<Root>> = all().iter().map(|c| (c.agent().slug(), c.roots(&env))).collect();
        assert_eq!(roots["openclaw"][0], Root { path: "/oc-state/agents".into(), origin: "OPENCLAW_STATE_DIR" });
        assert_eq!(roots["openclaw"][1], Root { path: "/oc-state/sessions".into(), origin: "OPENCLAW_STATE_DIR" });
        assert_eq!(roots["vibe"], [Root { path: "/vibe/logs/session".into(), origin: "VIBE_HOME" }]);
        assert_eq!(roots["hermes"], [Root { path: "/hermes".into(), origin: "HERMES_HOME" }]);
        assert_eq!(roots["antigravity"], [Root { path: "/agy/brain".into(), origin: "CASS_ANTIGRAVITY_DATA_ROOT" }]);
        // Claude Desktop follows the platform's app folder.
        assert_eq!(roots["claude_desktop"][1].path, PathBuf::from("/conf/Claude/local-agent-mode-sessions"));

        // Each agent's own override.
        let mut env = AgentEnv::with_home("/h").on(Platform::MacOs);
        for (var, value) in [
            ("GOOSE_PATH_ROOT", "/g"),
            ("CRUSH_GLOBAL_DATA", "/c"),
            ("KIMI_CODE_HOME", "/k"),
            ("KIMI_SHARE_DIR", "/kc"),
            ("QWEN_RUNTIME_DIR", "/qr"),
            ("QWEN_HOME", "/q"),
            ("OPENHANDS_PERSISTENCE_DIR", "/oh"),
            ("GROK_HOME", "/x"),
        ] {
            env.set_var(var, value);
        }
        let roots: HashMap<&str, Vec<Root>> = all().iter().map(|c| (c.agent().slug(), c.roots(&env))).collect();
        let first = |agent: &str, i: usize| (roots[agent][i].path.clone(), roots[agent][i].origin);
        assert_eq!(first("goose", 0), ("/g/data/sessions".into(), "GOOSE_PATH_ROOT"));
        assert_eq!(roots["goose"].len(), 1, "GOOSE_PATH_ROOT replaces every default");
        assert_eq!(first("crush", 0), ("/c/.crush".into(), "CRUSH_GLOBAL_DATA"));
        assert_eq!(first("kimi", 0), ("/k/sessions".into(), "KIMI_CODE_HOME"));
        assert_eq!(first("kimi", 1), ("/kc/sessions".into(), "KIMI_SHARE_DIR"));
        assert_eq!(first("qwen", 0), ("/qr/projects".into(), "QWEN_RUNTIME_DIR"));
        assert_eq!(first("qwen", 1), ("/q/projects".into(), "QWEN_HOME"));
        assert_eq!(first("qwen", 2), ("/q/tmp".into(), "QWEN_HOME"));
        assert_eq!(first("openhands", 0), ("/oh/conversations".into(), "OPENHANDS_PERSISTENCE_DIR"));
        assert_eq!(first("grok", 0), ("/x/sessions".into(), "GROK_HOME"));
        env.set_var("OPENHANDS_CONVERSATIONS_DIR", "/ohc");
        let oh = openhands::OpenHands.roots(&env);
        assert_eq!((oh[0].path.clone(), oh[0].origin), ("/ohc".into(), "OPENHANDS_CONVERSATIONS_DIR"));
    }

    #[test]
    fn every_override_is_among_the_variables_read() {
        let read = variables_read();
        assert_eq!(read[0], "HOME");
        for var in [
            "CLAUDE_CONFIG_DIR",
            "CODEX_HOME",
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
            "APPDATA",
            "LOCALAPPDATA",
            "OPENCODE_STORAGE_ROOT",
            "OPENHANDS_CONVERSATIONS_DIR",
            "OPENHANDS_PERSISTENCE_DIR",
            "CASS_AIDER_DATA_ROOT",
            "GOOSE_PATH_ROOT",
        ] {
            assert!(read.iter().any(|v| v == var), "{var} missing from {read:?}");
        }
    }

    #[test]
    fn windows_profiles_are_probed_on_linux_only() {
        let drive = tempfile::tempdir().unwrap();
        for profile in ["ana", "Public", "Default", "bo"] {
            std::fs::create_dir_all(drive.path().join(profile).join("AppData/Roaming/Cursor/User")).unwrap();
        }
        std::fs::write(drive.path().join("desktop.ini"), "").unwrap();
        let wsl_roots = |platform: Platform| {
            let mut env = AgentEnv::with_home("/h").on(platform);
            env.set_var("CASS_WSL_WINDOWS_USERS", drive.path());
            assert_eq!(env.wsl_windows_profiles(), [drive.path().join("ana"), drive.path().join("bo")]);
            cursor::Cursor.roots(&env).into_iter().filter(|r| r.origin == "WSL (Windows profile)").count()
        };
        assert_eq!(wsl_roots(Platform::Linux), 4, "two profiles, two storage folders each");
        assert_eq!(wsl_roots(Platform::MacOs), 0);
        assert_eq!(wsl_roots(Platform::Windows), 0);
        let mut env = AgentEnv::with_home("/h").on(Platform::Linux);
        env.set_var("CASS_WSL_WINDOWS_USERS", drive.path().join("absent"));
        assert!(env.wsl_windows_profiles().is_empty());
    }
}
