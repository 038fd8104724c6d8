//! Hermes Agent (Nous Research): every session of every front end (CLI,
//! Telegram, Discord, …) in one SQLite database, `$HERMES_HOME/state.db`
//! (default `~/.hermes`), WAL mode, kept open by the agent.
//!
//! `sessions` has one row per session (`id`, `source`, `model`, `title`,
//! `parent_session_id`, `started_at`/`ended_at` as REAL epoch seconds,
//! token totals, and in newer builds `cwd`); `messages` one row per message
//! (`role`, `content`, `tool_calls` JSON, `tool_name`, `timestamp` REAL
//! seconds; `reasoning` is kept out). Rows of role `session_meta` are
//! metadata. Newer builds keep rewound messages with `active = 0`; only the
//! rows the agent still shows (`active = 1 OR compacted = 1`) are read.
//! Context compression continues a conversation in a child session
//! (`parent_session_id`): each is indexed as the session it is, with its
//! own messages and tokens, so nothing is counted twice.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::Value;

use super::content::{self, str_field};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout, sqlite};
use crate::model::{Agent, ConversationHeader, Role, Usage};
use crate::time;

/// Reads Hermes Agent's `state.db`.
pub struct Hermes;

/// The database's file name inside the Hermes home.
const DB: &str = "state.db";

impl Connector for Hermes {
    fn agent(&self) -> Agent {
        Agent::Hermes
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        match env.path_var("HERMES_HOME") {
            Some(dir) => vec![Root { path: dir, origin: "HERMES_HOME" }],
            None => vec![Root { path: env.home.join(".hermes"), origin: "default" }],
        }
    }

    fn is_source(&self, root: &Path, path: &Path) -> bool {
        path.parent() == Some(root) && path.file_name().is_some_and(|n| n == DB)
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::Database
    }

    fn companions(&self, path: &Path) -> Vec<PathBuf> {
        sqlite::wal_of(path)
    }

    fn walk_depth(&self) -> usize {
        1
    }

    fn reads_usage(&self) -> bool {
        true
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let mut end = super::document::whole_file_end(req.path);
        end.resume = Some(parse_db(req.path, req.resume, sink)?);
        Ok(end)
    }
}

/// Reads the sessions whose change marker moved since `resume` (all of
/// them on a full read) and returns the markers to save.
fn parse_db(path: &Path, resume: Option<&Value>, sink: &mut dyn ParseSink) -> Result<Value, ParseError> {
    let mut reads = sqlite::SessionReads::resume(resume);
    let conn = sqlite::open_readonly(path)?;
    let err = |e| sqlite::error(path, e);
    let session_cols = sqlite::columns(&conn, "sessions").map_err(err)?;
    let message_cols = sqlite::columns(&conn, "messages").map_err(err)?;
    for (table, cols, needed) in [
        ("sessions", &session_cols, &["id", "started_at"][..]),
        ("messages", &message_cols, &["session_id", "role", "content", "timestamp"][..]),
    ] {
        if let Some(missing) = needed.iter().find(|c| !cols.iter().any(|have| have == *c)) {
            return Err(ParseError::Format {
                path: path.into(),
                message: format!("not a Hermes state database ({table} has no {missing} column)"),
            });
        }
    }
    let shown = if ["active", "compacted"].iter().all(|c| message_cols.iter().any(|have| have == c)) {
        "AND (active = 1 OR compacted = 1)"
    } else {
        ""
    };
    for session in sessions(&conn).map_err(err)? {
        let sid = str_field(&session, "id").unwrap_or_default().to_string();
        let marker = marker(&conn, &session, &sid).map_err(err)?;
        if !reads.changed(&sid, marker, sink) {
            continue;
        }
        let sink = &mut reads.errors.recorder(&sid, sink);
        emit_session(&conn, &session, &sid, &message_cols, shown, sink).map_err(err)?;
    }
    Ok(reads.state())
}

/// Session rows as JSON objects, whatever columns this build has.
fn sessions(conn: &Connection) -> rusqlite::Result<Vec<Value>> {
    let mut stmt = conn.prepare("SELECT * FROM sessions ORDER BY started_at, id")?;
    let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
    let rows = stmt.query_map([], |r| {
        let mut obj = serde_json::Map::new();
        for (i, name) in names.iter().enumerate() {
            let v = match r.get_ref(i)? {
                rusqlite::types::ValueRef::Integer(n) => Value::from(n),
                rusqlite::types::ValueRef::Real(f) => Value::from(f),
                other => sqlite::text_of(other).map_or(Value::Null, Value::String),
            };
            obj.insert(name.clone(), v);
        }
        Ok(Value::Object(obj))
    })?;
    rows.collect()
}

/// What changes when a session does: its row (title, end, counters) and
/// its newest message id (messages are appended; a rewind flips `active`,
/// which the row's counters follow).
fn marker(conn: &Connection, session: &Value, sid: &str) -> rusqlite::Result<String> {
    let (last, count): (Option<i64>, i64) = conn
        .prepare_cached("SELECT MAX(id), COUNT(*) FROM messages WHERE session_id = ?1")?
        .query_row([sid], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(format!("{}:{count}:{}", last.unwrap_or(0), session))
}

fn emit_session(
    conn: &Connection,
    session: &Value,
    sid: &str,
    message_cols: &[String],
    shown: &str,
    sink: &mut dyn ParseSink,
) -> rusqlite::Result<()> {
    let has = |c: &str| message_cols.iter().any(|have| have == c);
    let optional = |c: &str| if has(c) { c.to_string() } else { format!("NULL AS {c}") };
    let sql = format!(
        "SELECT id, role, content, {}, timestamp FROM messages WHERE session_id = ?1 {shown} ORDER BY timestamp, id",
        optional("tool_calls"),
    );
    let model = str_field(session, "model").map(str::to_string);
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([sid], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            sqlite::text_of(r.get_ref(1)?).unwrap_or_default(),
            sqlite::text_of(r.get_ref(2)?),
            sqlite::text_of(r.get_ref(3)?),
            sqlite::text_of(r.get_ref(4)?).and_then(|t| time::parse_str(&t)),
        ))
    })?;
    let mut messages = Vec::new();
    for row in rows {
        let (id, label, body, calls, at) = row?;
        if label == "session_meta" {
            continue;
        }
        let Some(role) = Role::from_agent_label(&label) else {
            sink.malformed(0, format!("session {sid} message {id}: unknown role '{label}'"));
            continue;
        };
        let body = body.unwrap_or_default();
        let text = match role {
            Role::Tool => content::cap_bytes(&body, content::TOOL_OUTPUT_CAP),
            _ => {
                let calls = match calls.as_deref().map(serde_json::from_str::<Value>) {
                    Some(Ok(v)) => call_lines(&v),
                    Some(Err(e)) => {
                        sink.malformed(0, format!("session {sid} message {id}: tool_calls is not JSON: {e}"));
                        Vec::new()
                    }
                    None => Vec::new(),
                };
                std::iter::once(body.trim().to_string())
                    .chain(calls)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        let author = if role == Role::Assistant { model.clone() } else { None };
        messages.push(super::document::message(role, author, at, text));
    }
    let title = str_field(session, "title").map(str::to_string);
    let header = ConversationHeader {
        external_id: sid.to_string(),
        title_explicit: title.is_some(),
        title,
        workspace: str_field(session, "cwd").map(str::to_string),
    };
    let usage = session_usage(session, &messages, model);
    let calls = usage.map(|u| (messages.len(), u)).into_iter().collect();
    super::document::emit_with_usage(sink, header, messages, calls);
    Ok(())
}

/// One `[tool: name] summary` line per call: Hermes stores its calls as
/// `[{name, arguments, id}]` or OpenAI-style `[{id, type, function: {name,
/// arguments}}]`.
fn call_lines(calls: &Value) -> Vec<String> {
    let Value::Array(calls) = calls else { return Vec::new() };
    calls
        .iter()
        .map(|c| {
            let f = c.get("function").filter(|f| f.is_object()).unwrap_or(c);
            content::tool_call_line(str_field(f, "name").unwrap_or("tool"), f.get("arguments"))
        })
        .collect()
}

/// The session's tokens as one call: Hermes keeps totals per session
/// only. Its usage accounting (`agent/usage_pricing.py`, `CanonicalUsage`)
/// keeps cache reads and writes out of `input_tokens`, as cass does.
/// Reasoning is taken as part of `output_tokens` (as OpenAI-style APIs
/// report it; Hermes's own docs call it telemetry), so it is never added
/// twice. None without any count, or without a time to date it by.
fn session_usage(session: &Value, messages: &[crate::model::Message], model: Option<String>) -> Option<Usage> {
    let n = |k: &str| session.get(k).and_then(Value::as_i64).map_or(0, |v| v.max(0) as u64);
    let (input, output, read, write, reasoning) =
        (n("input_tokens"), n("output_tokens"), n("cache_read_tokens"), n("cache_write_tokens"), n("reasoning_tokens"));
    if input + output + read + write + reasoning == 0 {
        return None;
    }
    let at = session
        .get("ended_at")
        .and_then(time::parse_value)
        .or_else(|| messages.iter().filter_map(|m| m.created_at).max())
        .or_else(|| session.get("started_at").and_then(time::parse_value))?;
    Some(Usage {
        created_at: at,
        model,
        input,
        output,
        cache_write: write,
        cache_write_1h: 0,
        cache_read: read,
        reasoning: reasoning.min(output),
        request_key: None,
        line_offset: None,
    })
}
