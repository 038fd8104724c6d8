//! OpenClaw and Clawdbot (OpenClaw's earlier name), personal agents built on
//! pi-mono: one JSONL transcript per session, append-only, in Pi-Agent's
//! session format (a `session` header with id and cwd, then `message`
//! records of role `user | assistant | toolResult`).
//!
//! * OpenClaw: `$OPENCLAW_STATE_DIR` (default `~/.openclaw`)
//!   `/agents/<agent>/sessions/<session>.jsonl`; before per-agent folders,
//!   `<state>/sessions/<session>.jsonl` (OpenClaw's `doctor` migrates it).
//!   `sessions.json` beside the transcripts is the session map, not a log.
//!   From v2026.8.1 (OpenClaw 2.0) each agent's transcripts live in a SQLite
//!   store, `agents/<agent>/agent/openclaw-agent.sqlite`, read by
//!   [`super::openclaw_db`] as a `Database` source. A session both stores
//!   hold (a migration may briefly keep the JSONL) is read from the
//!   database only: its JSONL transcript is skipped while the database
//!   holds a session of the file's name.
//! * Clawdbot: `~/.clawdbot/agents/<agent>/sessions/*.jsonl` in the same
//!   format, and `~/.clawdbot/sessions/**/*.jsonl` whose lines may be flat
//!   `{role, content, timestamp}` messages without a wrapper.
//!
//! An agent other than the default `main` prefixes its session ids with
//! `<agent>/`: cass's `openclaw/<agent>` naming, kept in the id because a
//! conversation's agent is the connector's (see docs/CONNECTORS.md).

use std::path::{Component, Path, PathBuf};

use serde_json::json;

use super::openclaw_db::{self, DB_FILE};
use super::pi_agent::PiState;
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout, sqlite};
use crate::model::Agent;

/// Reads OpenClaw's JSONL transcripts.
pub struct OpenClaw;

/// Reads Clawdbot's JSONL transcripts (both of its layouts and line shapes).
pub struct Clawdbot;

/// The agent OpenClaw runs when none is named: its sessions keep bare ids.
const DEFAULT_AGENT: &str = "main";

impl Connector for OpenClaw {
    fn agent(&self) -> Agent {
        Agent::OpenClaw
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let (state, origin) = match env.path_var("OPENCLAW_STATE_DIR") {
            Some(dir) => (dir, "OPENCLAW_STATE_DIR"),
            None => (env.home.join(".openclaw"), "default"),
        };
        let legacy = if origin == "default" { "default (before per-agent folders)" } else { origin };
        vec![Root { path: state.join("agents"), origin }, Root { path: state.join("sessions"), origin: legacy }]
    }

    fn is_source(&self, root: &Path, path: &Path) -> bool {
        transcript_in(root, path, false) || agent_db_in(root, path)
    }

    fn layout(&self, path: &Path) -> SourceLayout {
        if is_db(path) { SourceLayout::Database } else { SourceLayout::AppendOnlyLines }
    }

    fn companions(&self, path: &Path) -> Vec<PathBuf> {
        if is_db(path) { sqlite::wal_of(path) } else { Vec::new() }
    }

    fn reads_usage(&self) -> bool {
        true
    }

    /// The database wins over the JSONL transcripts it replaced.
    fn supersedes_others(&self, path: &Path) -> bool {
        is_db(path)
    }

    fn walk_depth(&self) -> usize {
        3
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        if is_db(req.path) {
            let agent = req.path.parent().and_then(Path::parent).and_then(Path::file_name);
            let prefix = match agent.map(|a| a.to_string_lossy()) {
                Some(a) if a != DEFAULT_AGENT => format!("{a}/"),
                _ => String::new(),
            };
            let mut end = super::document::whole_file_end(req.path);
            end.resume = Some(openclaw_db::parse_db(req.path, &prefix, req.resume, sink)?);
            return Ok(end);
        }
        if held_by_db(req.path) {
            // Left to the database, so nothing is doubled; the offset stays
            // put, so a change to the file is read whole and checked again.
            return Ok(ParseEnd {
                offset: req.start_offset,
                next_line: req.start_line,
                resume: req.resume.cloned(),
                partial_tail: false,
            });
        }
        parse_transcript(req, sink)
    }
}

fn is_db(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == DB_FILE)
}

/// Whether `path` is an agent's database below an `agents` root:
/// `<agent>/agent/openclaw-agent.sqlite`.
fn agent_db_in(root: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else { return false };
    let parts: Vec<Component<'_>> = rel.components().collect();
    root.file_name().is_some_and(|n| n == "agents")
        && parts.len() == 3
        && parts[1].as_os_str() == "agent"
        && parts[2].as_os_str() == DB_FILE
}

/// Whether the database of the transcript's agent holds the session the
/// file is named after (OpenClaw names transcripts `<sessionId>.jsonl`).
fn held_by_db(path: &Path) -> bool {
    let Some(sessions) = path.parent() else { return false };
    let Some(agent) = sessions.parent() else { return false };
    let db = agent.join("agent").join(DB_FILE);
    let Some(sid) = path.file_stem().map(|s| s.to_string_lossy()) else { return false };
    agent_of(path).is_some() && db.is_file() && openclaw_db::holds_session(&db, &sid)
}

impl Connector for Clawdbot {
    fn agent(&self) -> Agent {
        Agent::Clawdbot
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let state = env.home.join(".clawdbot");
        vec![
            Root { path: state.join("agents"), origin: "default" },
            Root { path: state.join("sessions"), origin: "default (flat layout)" },
        ]
    }

    fn is_source(&self, root: &Path, path: &Path) -> bool {
        transcript_in(root, path, true)
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::AppendOnlyLines
    }

    fn reads_usage(&self) -> bool {
        true
    }

    fn walk_depth(&self) -> usize {
        4
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        parse_transcript(req, sink)
    }
}

/// Whether `path` is a transcript below `root`: `<agent>/sessions/<id>.jsonl`
/// under an `agents` root; `<id>.jsonl` under a `sessions` root (at any
/// depth when `nested`, as Clawdbot's flat layout allows).
fn transcript_in(root: &Path, path: &Path, nested: bool) -> bool {
    if path.extension().is_none_or(|e| e != "jsonl") {
        return false;
    }
    let Ok(rel) = path.strip_prefix(root) else { return false };
    let parts: Vec<Component<'_>> = rel.components().collect();
    if root.file_name().is_some_and(|n| n == "agents") {
        parts.len() == 3 && parts[1].as_os_str() == "sessions"
    } else {
        parts.len() == 1 || nested
    }
}

/// The agent a transcript belongs to, from `…/agents/<agent>/sessions/<file>`.
fn agent_of(path: &Path) -> Option<String> {
    let sessions = path.parent()?;
    let agent = sessions.parent()?;
    let agents = agent.parent()?;
    (sessions.file_name()? == "sessions" && agents.file_name()? == "agents")
        .then(|| agent.file_name().map(|n| n.to_string_lossy().into_owned()))
        .flatten()
}

/// The session id a transcript has until its `session` record names one:
/// its path below the nearest `sessions` folder, without the extension.
fn fallback_id(path: &Path) -> String {
    let mut rel = PathBuf::new();
    for dir in path.with_extension("").ancestors() {
        if dir.file_name().is_none_or(|n| n == "sessions") {
            break;
        }
        rel = Path::new(dir.file_name().unwrap_or_default()).join(rel);
    }
    rel.to_string_lossy().trim_end_matches(['/', '\\']).replace('\\', "/")
}

fn parse_transcript(req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
    let mut state: PiState = req.resume_state();
    if state.external_id.is_empty() {
        state.id_prefix = match agent_of(req.path) {
            Some(agent) if agent != DEFAULT_AGENT => format!("{agent}/"),
            _ => String::new(),
        };
        state.external_id = format!("{}{}", state.id_prefix, fallback_id(req.path));
    }
    let end = super::lines::parse_jsonl(req, sink, |rec, line, offset, sink| {
        // Clawdbot's flat lines are the message itself, without the wrapper.
        if rec.get("type").is_none() && rec.get("role").is_some() {
            let wrapped = json!({ "type": "message", "timestamp": rec.get("timestamp"), "message": rec });
            state.record(&wrapped, line, offset, sink);
        } else {
            state.record(rec, line, offset, sink);
        }
    })?;
    Ok(end.into_parse_end(json!(state)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_and_their_ids() {
        let agents = Path::new("/h/.openclaw/agents");
        assert!(transcript_in(agents, &agents.join("main/sessions/s1.jsonl"), false));
        assert!(!transcript_in(agents, &agents.join("main/agent/s1.jsonl"), false));
        assert!(!transcript_in(agents, &agents.join("main/sessions/sessions.json"), false));
        let flat = Path::new("/h/.clawdbot/sessions");
        assert!(transcript_in(flat, &flat.join("tg/chat.jsonl"), true));
        assert!(!transcript_in(flat, &flat.join("tg/chat.jsonl"), false));
        assert_eq!(agent_of(&agents.join("work/sessions/s1.jsonl")).as_deref(), Some("work"));
        assert_eq!(agent_of(&flat.join("s1.jsonl")), None);
        assert_eq!(fallback_id(&flat.join("tg/chat.jsonl")), "tg/chat");
        assert_eq!(fallback_id(&agents.join("main/sessions/s1.jsonl")), "s1");
    }
}
