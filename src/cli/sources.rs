//! `cass sources`: where cass looks for each agent, what it finds there, and
//! what the index holds — including what it found but could not read. A
//! reader: it walks the roots and reads the store, never indexes, never
//! takes the writer lock.

use clap::Args;

use super::{CliError, Context, exit};
use crate::indexer::sources::SourcesReport;
use crate::words::count;

#[derive(Debug, Args)]
pub struct SourcesArgs {
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

pub fn run(cx: &Context, args: &SourcesArgs) -> Result<i32, CliError> {
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
