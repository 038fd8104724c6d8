//! `cass redact` and `cass forget`.

use clap::Args;

use super::{CliError, Context, exit};
use crate::store::privacy::{ForgetTarget, Forgotten};
use crate::words::count;

#[derive(Debug, Args)]
pub struct RedactArgs {
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// A conversation id (from search results) or a session file path.
    #[arg(required_unless_present_any = ["workspace", "list", "undo"], conflicts_with_all = ["workspace", "list", "undo"])]
    pub target: Option<String>,
    /// Forget every conversation of this workspace (and of the directories below it).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["list", "undo"])]
    pub workspace: Option<String>,
    /// List what is forgotten, with the numbers `--undo` takes.
    #[arg(long, conflicts_with = "undo")]
    pub list: bool,
    /// Lift forget N (from --list): its sessions are indexed again at once.
    #[arg(long, value_name = "N")]
    pub undo: Option<i64>,
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

/// Redacts the text already stored, with the settings' rules.
pub fn redact(cx: &Context, args: &RedactArgs) -> Result<i32, CliError> {
    let cass = cx.cass()?;
    let writer = cass.writer("redact")?;
    let report = writer.redact_store(&crate::indexer::NoProgress)?;
    if args.robot.on() {
        super::robot::print(&report, &args.robot)?;
    } else if !cx.global.quiet {
        let r = &report.rewrite;
        super::write_stdout(&format!(
            "redacted {} in {} and {} ({} read); \
             the next `cass index` embeds the {} again\n",
            count(r.secrets, "secret"),
            count(r.messages_redacted, "message"),
            count(r.titles_redacted, "title"),
            count(r.messages_scanned, "message"),
            count(r.messages_redacted, "rewritten message")
        ))?;
    }
    Ok(exit::OK)
}

/// Forgets conversations, lists forgets, or lifts one.
pub fn forget(cx: &Context, args: &ForgetArgs) -> Result<i32, CliError> {
    let cass = cx.cass()?;
    if args.list {
        let list = cass.forgotten()?;
        if args.robot.on() {
            super::robot::print(&serde_json::json!({ "forgotten": list }), &args.robot)?;
        } else if list.is_empty() {
            super::write_stdout("nothing is forgotten\n")?;
        } else {
            super::write_stdout(&list.iter().map(|f| format!("{}\n", describe(f))).collect::<String>())?;
        }
        return Ok(exit::OK);
    }
    let writer = cass.writer("forget")?;
    if let Some(n) = args.undo {
        let Some((entry, report)) = writer.unforget(n, &crate::indexer::NoProgress)? else {
            return Err(CliError::not_found(format!("no forget number {n}")).hint("`cass forget --list` numbers them"));
        };
        if args.robot.on() {
            super::robot::print(&serde_json::json!({ "undone": entry, "index": report }), &args.robot)?;
        } else if !cx.global.quiet {
            super::write_stdout(&format!(
                "undone: {}; indexed again: {} added\n",
                describe(&entry),
                count(report.messages_added, "message")
            ))?;
        }
        return Ok(exit::OK);
    }
    let target = match (&args.workspace, &args.target) {
        (Some(w), _) => ForgetTarget::Workspace(absolute(w)),
        (None, Some(t)) => match t.parse::<i64>() {
            Ok(id) => ForgetTarget::Conversation(id),
            Err(_) => ForgetTarget::File(absolute(t)),
        },
        (None, None) => return Err(super::search::usage("name a conversation id, a session file or --workspace")),
    };
    let Some(entry) = writer.forget(&target)? else {
        return Err(CliError::not_found(match &target {
            ForgetTarget::Conversation(id) => format!("no conversation {id} in the index"),
            ForgetTarget::File(p) => format!("no indexed session file {p}"),
            ForgetTarget::Workspace(w) => format!("no conversation in workspace {w}"),
        })
        .hint("use an id from `cass search`, or the path of an indexed session file"));
    };
    if args.robot.on() {
        super::robot::print(&serde_json::json!({ "forgotten": entry }), &args.robot)?;
    } else if !cx.global.quiet {
        super::write_stdout(&format!("forgot {} (undo: cass forget --undo {})\n", describe(&entry), entry.id))?;
    }
    Ok(exit::OK)
}

/// A path as stored: absolute, symlinks resolved where it exists.
fn absolute(p: &str) -> String {
    let path = std::path::Path::new(p);
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .map_or_else(|_| p.to_string(), |a| a.to_string_lossy().into_owned())
}

/// One line for a person: number, what, how much, when.
fn describe(f: &Forgotten) -> String {
    let what = match f.kind.as_str() {
        "conversation" => format!(
            "conversation {:?} ({} {})",
            f.title.as_deref().unwrap_or("untitled"),
            f.agent.as_deref().unwrap_or("?"),
            f.source_path.as_deref().unwrap_or("?")
        ),
        "file" => format!("session file {}", f.source_path.as_deref().unwrap_or("?")),
        _ => format!("workspace {}", f.workspace.as_deref().unwrap_or("?")),
    };
    format!(
        "{:>4}  {what}: {}, {}, {}",
        f.id,
        count(f.conversations, "conversation"),
        count(f.messages, "message"),
        super::local_time(f.forgotten_at)
    )
}
