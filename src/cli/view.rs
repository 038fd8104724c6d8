//! `cass view` and `cass expand`: read a conversation, or the messages around a hit.

use std::path::Path;

use clap::Args;
use serde::Serialize;

use super::search::usage;
use super::{CliError, Context, exit};
use crate::Reader;
use crate::model::{Conversation, StoredMessage};

#[derive(Debug, Args)]
pub struct ViewArgs {
    /// A conversation id (from search results) or a session file path.
    pub target: String,
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

#[derive(Debug, Args)]
pub struct ExpandArgs {
    /// A message id (from search results).
    pub message_id: i64,
    /// Messages of context on each side.
    #[arg(short = 'C', long = "context", default_value_t = 3)]
    pub context: i64,
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

#[derive(Serialize)]
struct ConversationJson<'a> {
    id: i64,
    agent: &'a str,
    external_id: &'a str,
    title: Option<&'a str>,
    workspace: Option<&'a str>,
    source_path: String,
    started_at: Option<String>,
    ended_at: Option<String>,
    message_count: i64,
}

#[derive(Serialize)]
struct MessageJson<'a> {
    id: i64,
    ordinal: i64,
    role: &'a str,
    author: Option<&'a str>,
    created_at: Option<String>,
    content: &'a str,
}

fn conv_json(c: &Conversation) -> ConversationJson<'_> {
    ConversationJson {
        id: c.id,
        agent: &c.agent,
        external_id: &c.external_id,
        title: c.title.as_deref(),
        workspace: c.workspace.as_deref(),
        source_path: c.source_path.display().to_string(),
        started_at: c.started_at.map(crate::time::to_rfc3339),
        ended_at: c.ended_at.map(crate::time::to_rfc3339),
        message_count: c.message_count,
    }
}

fn msg_json(m: &StoredMessage) -> MessageJson<'_> {
    MessageJson {
        id: m.id,
        ordinal: m.ordinal,
        role: m.role.as_str(),
        author: m.author.as_deref(),
        created_at: m.created_at.map(crate::time::to_rfc3339),
        content: &m.content,
    }
}

fn open_reader(cx: &Context) -> Result<Reader, CliError> {
    Ok(cx.cass()?.reader()?)
}

fn not_found(what: String) -> CliError {
    CliError::new("not_found", exit::NOT_FOUND, what)
}

pub fn view(cx: &Context, args: &ViewArgs) -> Result<i32, CliError> {
    let reader = open_reader(cx)?;
    let convs: Vec<Conversation> = match args.target.parse::<i64>() {
        Ok(id) => reader.conversation(id)?.into_iter().collect(),
        Err(_) => {
            let path = Path::new(&args.target);
            let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            let mut found = reader.conversations_by_source(&abs.to_string_lossy())?;
            if found.is_empty() {
                found = reader.conversations_by_source(&args.target)?;
            }
            found
        }
    };
    if convs.is_empty() {
        return Err(not_found(format!("no conversation '{}' in the index", args.target))
            .hint("use an id from `cass search`, or the path of an indexed session file"));
    }
    if args.robot.on() {
        let items: Vec<serde_json::Value> = convs
            .iter()
            .map(|c| -> Result<serde_json::Value, CliError> {
                let msgs = reader.messages(c.id)?;
                Ok(serde_json::json!({
                    "conversation": conv_json(c),
                    "messages": msgs.iter().map(msg_json).collect::<Vec<_>>(),
                }))
            })
            .collect::<Result<_, _>>()?;
        let out = if items.len() == 1 {
            items.into_iter().next().expect("one")
        } else {
            serde_json::json!({ "conversations": items })
        };
        super::robot::print(&out, &args.robot)?;
    } else {
        let mut out = String::new();
        for c in &convs {
            out.push_str(&render(c, &reader.messages(c.id)?, None));
        }
        super::write_stdout(&out)?;
    }
    Ok(exit::OK)
}

pub fn expand(cx: &Context, args: &ExpandArgs) -> Result<i32, CliError> {
    if args.context < 0 {
        return Err(usage("-C must be 0 or more"));
    }
    let reader = open_reader(cx)?;
    let Some(target) = reader.message(args.message_id)? else {
        return Err(not_found(format!("no message {} in the index", args.message_id)));
    };
    let conv = reader
        .conversation(target.conversation_id)?
        .ok_or_else(|| not_found(format!("message {} has no conversation", args.message_id)))?;
    let msgs = reader.messages_around(conv.id, target.ordinal, args.context, args.context)?;
    if args.robot.on() {
        super::robot::print(
            &serde_json::json!({
                "conversation": conv_json(&conv),
                "target_message_id": target.id,
                "messages": msgs.iter().map(msg_json).collect::<Vec<_>>(),
            }),
            &args.robot,
        )?;
    } else {
        super::write_stdout(&render(&conv, &msgs, Some(target.id)))?;
    }
    Ok(exit::OK)
}

/// A conversation as readable markdown; session text is made terminal-safe.
fn render(c: &Conversation, msgs: &[StoredMessage], mark: Option<i64>) -> String {
    use crate::search::snippet::sanitize_multiline as safe;
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", safe(c.title.as_deref().unwrap_or("(untitled)")));
    let mut facts = vec![c.agent.clone()];
    if let Some(ws) = &c.workspace {
        facts.push(safe(ws));
    }
    if let Some(t) = c.started_at {
        facts.push(super::local_time(t));
    }
    facts.push(format!("{} messages", c.message_count));
    let _ = writeln!(
        out,
        "{}  \n`{}` · conversation {}\n",
        facts.join(" · "),
        safe(&c.source_path.display().to_string()),
        c.id
    );
    for m in msgs {
        let marker = if Some(m.id) == mark { "▶ " } else { "" };
        let author = m.author.as_deref().map(|a| format!(" ({})", safe(a))).unwrap_or_default();
        let when = m.created_at.map(|t| format!(" · {}", super::local_time(t))).unwrap_or_default();
        let _ = writeln!(out, "## {marker}{}{author}{when} · #{}\n", m.role, m.id);
        let _ = writeln!(out, "{}\n", safe(m.content.trim_end()));
    }
    out
}
