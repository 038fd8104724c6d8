//! `cass sources`: where cass looks for each agent, what it finds there, and
//! what the index holds — including what it found but could not read; with
//! `--errors`, each skipped line and unreadable file the store recorded. A
//! reader: it walks the roots and reads the store, never indexes, never
//! takes the writer lock.

use clap::Args;

use super::{CliError, Context, exit};
use crate::indexer::sources::SourcesReport;
use crate::words::count;

#[derive(Debug, Args)]
pub struct SourcesArgs {
    /// List the malformed lines and unreadable files index runs recorded
    /// (path, line, message), newest first.
    #[arg(long)]
    pub errors: bool,
    /// With --errors: at most this many.
    #[arg(long, value_name = "N", default_value_t = 50, requires = "errors")]
    #[arg(value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: i64,
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

pub fn run(cx: &Context, args: &SourcesArgs) -> Result<i32, CliError> {
    if args.errors {
        return errors(cx, args);
    }
    let report = cx.cass()?.sources()?;
    if args.robot.on() {
        super::robot::print(&report, &args.robot)?;
    } else {
        super::write_stdout(&describe(&report))?;
    }
    Ok(exit::OK)
}

fn describe(r: &SourcesReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for a in &r.agents {
        let _ = write!(s, "{}: {}", a.name, count(a.files, "file"));
        if r.indexed {
            let _ = write!(s, ", {}, {} indexed", count(a.conversations, "conversation"), count(a.messages, "message"));
        }
        if a.files_pending > 0 {
            let _ = write!(s, ", {} new or changed", a.files_pending);
        }
        if a.health.malformed > 0 {
            let _ = write!(s, ", {}", count(a.health.malformed, "malformed line"));
        }
        s.push('\n');
        for root in &a.roots {
            let state = if root.exists { count(root.files, "file") } else { "not found".into() };
            let _ = writeln!(s, "    {} ({}; {state})", root.path.display(), root.origin);
        }
        for p in &a.health.unreadable {
            let _ = writeln!(s, "    unreadable: {}: {}", p.path.display(), p.error);
        }
    }
    if !r.indexed {
        let _ = writeln!(s, "not indexed yet ({}): run `cass index`", r.data_dir.display());
    }
    s
}

/// `--errors`: what the store recorded against source files, newest first.
fn errors(cx: &Context, args: &SourcesArgs) -> Result<i32, CliError> {
    let cass = cx.cass()?;
    let (list, total) = match cass.reader() {
        Ok(reader) => reader.ingest_errors(args.limit)?,
        // Nothing indexed yet: nothing recorded.
        Err(crate::store::StoreError::Missing(_)) => (Vec::new(), 0),
        Err(e) => return Err(e.into()),
    };
    if args.robot.on() {
        let items: Vec<serde_json::Value> = list
            .iter()
            .map(|e| {
                serde_json::json!({
                    "path": e.path,
                    "line": e.line,
                    "kind": if e.line.is_some() { "malformed" } else { "unreadable" },
                    "message": e.message,
                    "agent": e.agent,
                    "recorded_at": crate::time::to_rfc3339(e.recorded_at),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "data_dir": cass.data_dir().root(),
            "indexed": cass.is_indexed(),
            "total": total,
            "errors": items,
        });
        super::robot::print(&doc, &args.robot)?;
        return Ok(exit::OK);
    }
    let mut out = String::new();
    for e in &list {
        let path = super::visible(&e.path);
        let message = super::visible(&e.message);
        // Line 0 is a record of a whole-document source: the message names it.
        match e.line {
            Some(line) if line > 0 => out.push_str(&format!("{path}:{line}: {message}\n")),
            Some(_) => out.push_str(&format!("{path}: {message}\n")),
            None => out.push_str(&format!("{path}: unreadable: {message}\n")),
        }
    }
    super::write_stdout(&out)?;
    if !cx.global.quiet {
        let shown = list.len() as i64;
        if total == 0 {
            eprintln!("no malformed lines or unreadable files recorded");
        } else if total > shown {
            eprintln!("{shown} of {total} shown, newest first (--limit N shows more)");
        }
    }
    Ok(exit::OK)
}
