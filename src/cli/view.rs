//! `cass view`, `cass expand` and `cass export`: read a conversation, the
//! messages around a hit, or write a conversation as a document.

use std::path::{Path, PathBuf};

use clap::Args;

use super::search::usage;
use super::{CliError, Context, exit};
use crate::Reader;
use crate::export::{self, ConversationJson, ExportFormat, HtmlOptions, MessageJson};
use crate::model::Conversation;

#[derive(Debug, Args)]
pub struct ViewArgs {
    /// A conversation id (from search results) or a session file path (a
    /// file not indexed is read now, nothing written).
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

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A conversation id (from search results) or a session file path.
    pub target: String,
    /// md (as `cass view` prints), json (the robot shape) or html (one
    /// self-contained file).
    #[arg(long, value_enum, default_value_t = ExportFormat::Md)]
    pub format: ExportFormat,
    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep tool calls and tool output (collapsed in HTML). JSON always
    /// holds every message.
    #[arg(long)]
    pub include_tools: bool,
}

fn open_reader(cx: &Context) -> Result<Reader, CliError> {
    Ok(cx.cass()?.reader()?)
}

fn not_found(what: String) -> CliError {
    CliError::not_found(what)
}

/// The conversations `target` names: an id, or the session file they were
/// read from (as given, or made absolute).
fn conversations(reader: &Reader, target: &str) -> Result<Vec<Conversation>, CliError> {
    let convs: Vec<Conversation> = match target.parse::<i64>() {
        Ok(id) => reader.conversation(id)?.into_iter().collect(),
        Err(_) => {
            let path = Path::new(target);
            let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            let mut found = reader.conversations_by_source(&abs.to_string_lossy())?;
            if found.is_empty() {
                found = reader.conversations_by_source(target)?;
            }
            found
        }
    };
    if convs.is_empty() {
        return Err(not_found(format!("no conversation '{target}' in the index"))
            .hint("use an id from `cass search`, or the path of an indexed session file"));
    }
    Ok(convs)
}

pub fn view(cx: &Context, args: &ViewArgs) -> Result<i32, CliError> {
    let cass = cx.cass()?;
    // A session file the index does not hold (or before the first index)
    // is read now; an id, or a path that is no file, needs the index.
    let unindexed_file = args.target.parse::<i64>().is_err() && Path::new(&args.target).is_file();
    let reader = match cass.reader() {
        Ok(reader) => reader,
        Err(crate::store::StoreError::Missing(_)) if unindexed_file => {
            return view_unindexed(&cass, args, cx.global.quiet);
        }
        Err(e) => return Err(e.into()),
    };
    let convs = match conversations(&reader, &args.target) {
        Err(e) if e.kind == "not_found" && unindexed_file => return view_unindexed(&cass, args, cx.global.quiet),
        found => found?,
    };
    if args.robot.on() {
        let items: Vec<serde_json::Value> =
            convs.iter().map(|c| Ok(export::json(c, &reader.messages(c.id)?))).collect::<Result<_, CliError>>()?;
        let out = if items.len() == 1 {
            items.into_iter().next().expect("one")
        } else {
            serde_json::json!({ "conversations": items })
        };
        super::robot::print(&out, &args.robot)?;
    } else {
        let mut out = String::new();
        for c in &convs {
            out.push_str(&export::markdown(c, &reader.messages(c.id)?, None, true));
        }
        super::write_stdout(&out)?;
    }
    Ok(exit::OK)
}

/// `cass view FILE` of a session file the index does not hold: parsed now
/// by its agent's connector (nothing is written), printed as an indexed
/// conversation is, redacted as the index would have it.
fn view_unindexed(cass: &crate::Cass, args: &ViewArgs, quiet: bool) -> Result<i32, CliError> {
    let path = Path::new(&args.target);
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let file = cass.read_session_file(&abs)?;
    if file.conversations.is_empty() {
        return Err(not_found(format!("{}: no messages in this file (read as {})", abs.display(), file.agent)));
    }
    if args.robot.on() {
        let mut items: Vec<serde_json::Value> =
            file.conversations.iter().map(|f| export::json_unindexed(&f.conversation, &f.messages)).collect();
        let out = if items.len() == 1 { items.remove(0) } else { serde_json::json!({ "conversations": items }) };
        super::robot::print(&out, &args.robot)?;
    } else {
        let out: String =
            file.conversations.iter().map(|f| export::markdown_unindexed(&f.conversation, &f.messages)).collect();
        super::write_stdout(&out)?;
        if !quiet {
            let skipped = match file.malformed {
                0 => String::new(),
                n => format!("; {} skipped", crate::words::count(n, "malformed line")),
            };
            eprintln!(
                "cass: {} is not indexed: read now as {}{skipped} (`cass index` adds it when it is under an agent's roots)",
                abs.display(),
                file.agent
            );
        }
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
                "conversation": ConversationJson::new(&conv),
                "target_message_id": target.id,
                "messages": msgs.iter().map(MessageJson::new).collect::<Vec<_>>(),
            }),
            &args.robot,
        )?;
    } else {
        super::write_stdout(&export::markdown(&conv, &msgs, Some(target.id), true))?;
    }
    Ok(exit::OK)
}

pub fn export(cx: &Context, args: &ExportArgs) -> Result<i32, CliError> {
    let reader = open_reader(cx)?;
    let convs = conversations(&reader, &args.target)?;
    let [conv] = convs.as_slice() else {
        let ids: Vec<String> = convs.iter().map(|c| c.id.to_string()).collect();
        return Err(usage(format!("{} holds {}", args.target, crate::words::count(convs.len(), "conversation")))
            .hint(format!("export one by id: {}", ids.join(", "))));
    };
    let msgs = reader.messages(conv.id)?;
    let doc = match args.format {
        ExportFormat::Md => export::markdown(conv, &msgs, None, args.include_tools),
        ExportFormat::Json => {
            let mut s = serde_json::to_string_pretty(&export::json(conv, &msgs)).unwrap_or_default();
            s.push('\n');
            s
        }
        ExportFormat::Html => export::html(conv, &msgs, HtmlOptions { tools: args.include_tools }),
    };
    match &args.output {
        Some(path) => std::fs::write(path, doc)
            .map_err(|e| CliError::new("io", exit::USAGE, format!("cannot write {}: {e}", path.display())))?,
        None => super::write_stdout(&doc)?,
    }
    Ok(exit::OK)
}
