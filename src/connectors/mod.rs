//! Connectors: one per agent. Each knows where its agent keeps sessions and
//! turns one source file into normalized conversations pushed into a
//! [`ParseSink`]. A connector never touches the store.

pub mod claude;
pub mod codex;
pub mod content;
pub mod gemini;
pub mod lines;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::model::{Agent, ConversationHeader, Message};

/// The environment connectors resolve agent locations from. Captured once so
/// tests can point cass at a fake home without touching the process.
#[derive(Debug, Clone)]
pub struct AgentEnv {
    pub home: PathBuf,
    vars: HashMap<String, OsString>,
}

impl AgentEnv {
    /// Reads `HOME` and the agents' overrides from the process environment.
    pub fn from_process() -> AgentEnv {
        let vars: HashMap<String, OsString> =
            std::env::vars_os().filter_map(|(k, v)| k.into_string().ok().map(|k| (k, v))).collect();
        let home = vars
            .get("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()))
            .unwrap_or_else(|| PathBuf::from("/"));
        AgentEnv { home, vars }
    }

    /// An environment with only a home directory (for tests).
    pub fn with_home(home: impl Into<PathBuf>) -> AgentEnv {
        AgentEnv { home: home.into(), vars: HashMap::new() }
    }

    pub fn set_var(&mut self, key: &str, value: impl Into<OsString>) {
        self.vars.insert(key.to_string(), value.into());
    }

    /// A non-empty environment variable as a path.
    pub fn path_var(&self, key: &str) -> Option<PathBuf> {
        self.vars.get(key).filter(|v| !v.to_string_lossy().trim().is_empty()).map(PathBuf::from)
    }
}

/// How a source file changes over time, which decides how it is re-read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceLayout {
    /// Lines are only ever appended: a grown file is read from the stored offset.
    AppendOnlyLines,
    /// The file is rewritten as a whole: any change means a full re-parse.
    WholeFile,
}

/// A place an agent may keep sessions, and why cass looks there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub path: PathBuf,
    /// Which setting produced this root (`CLAUDE_CONFIG_DIR`, `default`, …).
    pub origin: &'static str,
}

/// What a parse is asked to do.
pub struct ParseRequest<'a> {
    pub path: &'a Path,
    /// Byte offset to start reading at (0 for a full parse).
    pub start_offset: u64,
    /// Line number of the line at `start_offset` (1 for a full parse).
    pub start_line: u64,
    /// The connector's own state saved at the end of the previous parse of this
    /// file; present only when `start_offset > 0`.
    pub resume: Option<&'a Value>,
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
    fn message(&mut self, message: Message);
    /// A line (1-based; 0 for the whole file) that could not be used.
    fn malformed(&mut self, line: u64, error: String);
}

/// A parse that could not run at all (unreadable file). Valid earlier output
/// already pushed to the sink stays valid.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
}

pub trait Connector: Send + Sync {
    fn agent(&self) -> Agent;
    /// Places to look, in probe order, honouring the agent's own overrides.
    fn roots(&self, env: &AgentEnv) -> Vec<Root>;
    /// Whether a file found below `root` is one of this agent's sessions.
    fn is_source(&self, root: &Path, path: &Path) -> bool;
    fn layout(&self, path: &Path) -> SourceLayout;
    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError>;
}

/// Every connector cass ships, in report order.
pub fn all() -> Vec<Box<dyn Connector>> {
    vec![Box::new(claude::ClaudeCode), Box::new(codex::Codex), Box::new(gemini::Gemini)]
}
