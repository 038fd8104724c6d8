//! `cass sources`: where cass looks for each agent, what it finds there, and
//! what the index holds — including what it found but could not read; with
//! `--errors`, each skipped line and unreadable file the store recorded; and
//! the remote machines (`add`, `list`, `remove`, `sync`, `map`). The
//! listing is a reader: it walks the roots and reads the store, never
//! indexes, never takes the writer lock. `sync`, `remove` and `map` write,
//! under the lock.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CliError, Context, exit};
use crate::indexer::sources::{RemoteSources, SourcesReport};
use crate::remote::sync::MachineSync;
use crate::remote::{Machine, PathMap};
use crate::words::count;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = false)]
pub struct SourcesArgs {
    #[command(subcommand)]
    pub command: Option<SourcesCommand>,
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

/// The remote machines.
#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Record a remote machine to sync agent sessions from over SSH (nothing
    /// is contacted until `cass sources sync` or `cass index --sync`).
    Add(AddArgs),
    /// Local roots and remote machines with their last sync (as `cass sources`).
    List {
        #[command(flatten)]
        robot: super::robot::RobotArgs,
    },
    /// Forget a remote machine: its mirrored files and its conversations go.
    Remove {
        /// The machine's name.
        name: String,
        #[command(flatten)]
        robot: super::robot::RobotArgs,
    },
    /// Copy the agents' session files from the machines (or one) now.
    Sync {
        /// Only this machine.
        name: Option<String>,
        #[command(flatten)]
        robot: super::robot::RobotArgs,
    },
    /// Set a machine's workspace mappings (replacing the old ones), and
    /// re-map what is indexed: `REMOTE=LOCAL`, e.g. `/home/me=~`.
    Map {
        /// The machine's name.
        name: String,
        /// `REMOTE_DIR=LOCAL_DIR` (none: remove every mapping).
        #[arg(value_name = "REMOTE=LOCAL")]
        paths: Vec<String>,
        #[command(flatten)]
        robot: super::robot::RobotArgs,
    },
}

impl SourcesArgs {
    /// The robot flags of the command that runs (a subcommand's own).
    pub fn robot(&self) -> &super::robot::RobotArgs {
        match &self.command {
            Some(SourcesCommand::Add(a)) => &a.robot,
            Some(
                SourcesCommand::List { robot }
                | SourcesCommand::Remove { robot, .. }
                | SourcesCommand::Sync { robot, .. }
                | SourcesCommand::Map { robot, .. },
            ) => robot,
            None => &self.robot,
        }
    }
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The machine's name: the `source` of its conversations (`--source NAME`).
    pub name: String,
    /// `USER@HOST` (or a `HOST` alias of your ssh config).
    #[arg(value_name = "USER@HOST")]
    pub destination: String,
    /// The SSH port.
    #[arg(long, short = 'p', value_name = "N")]
    pub port: Option<u16>,
    /// The private key to log in with.
    #[arg(long, short = 'i', value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Only these agents' sessions (comma-separated slugs, as `cass sources` names them).
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub agents: Vec<String>,
    /// A workspace mapping `REMOTE=LOCAL` (repeatable), e.g. `/home/me=~`.
    #[arg(long = "map", value_name = "REMOTE=LOCAL")]
    pub paths: Vec<String>,
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

pub fn run(cx: &Context, args: &SourcesArgs) -> Result<i32, CliError> {
    let robot = args.robot();
    match &args.command {
        Some(SourcesCommand::Add(a)) => return add(cx, robot, a),
        Some(SourcesCommand::Remove { name, .. }) => return remove(cx, robot, name),
        Some(SourcesCommand::Sync { name, .. }) => return sync(cx, robot, name.as_deref()),
        Some(SourcesCommand::Map { name, paths, .. }) => return map(cx, robot, name, paths),
        Some(SourcesCommand::List { .. }) | None => {}
    }
    if args.errors {
        return errors(cx, args);
    }
    let report = cx.cass()?.sources()?;
    if robot.on() {
        super::robot::print(&report, robot)?;
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
    if !r.remotes.is_empty() {
        let _ = writeln!(s, "remote machines:");
    }
    for m in &r.remotes {
        describe_remote(&mut s, m);
    }
    if !r.indexed {
        let _ = writeln!(s, "not indexed yet ({}): run `cass index`", r.data_dir.display());
    }
    s
}

fn describe_remote(s: &mut String, m: &RemoteSources) {
    use std::fmt::Write;
    let port = m.port.map(|p| format!(" port {p}")).unwrap_or_default();
    let _ = write!(s, "{}: {}{port}", m.name, m.destination);
    let _ = write!(s, ", {}, {}", count(m.conversations, "conversation"), count(m.messages, "message"));
    match &m.last_sync {
        Some(t) => {
            let _ = write!(s, ", last synced {t}");
        }
        None => {
            let _ = write!(s, ", never synced (`cass sources sync {}`)", m.name);
        }
    }
    s.push('\n');
    if let Some(e) = &m.last_error {
        let _ = writeln!(s, "    last attempt failed: {e}");
    }
    if !m.agents.is_empty() {
        let _ = writeln!(s, "    agents: {}", m.agents.join(", "));
    }
    for p in &m.paths {
        let _ = writeln!(s, "    workspace {} there is {} here", p.remote, p.local);
    }
}

/// Reads `REMOTE=LOCAL`: both absolute once `~` (this machine's home) is expanded.
fn parse_map(spec: &str, home: &std::path::Path) -> Result<PathMap, CliError> {
    let bad = || CliError::usage(format!("'{spec}' is not a mapping REMOTE=LOCAL (e.g. /home/me=~)"));
    let (remote, local) = spec.split_once('=').ok_or_else(bad)?;
    let local = match local.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{}{rest}", home.display()),
        _ => local.to_string(),
    };
    if !remote.starts_with('/') || !local.starts_with('/') {
        return Err(bad().hint("both sides are absolute directories; `~` on the right is this machine's home"));
    }
    Ok(PathMap { remote: remote.trim_end_matches('/').to_string(), local: local.trim_end_matches('/').to_string() })
}

fn add(cx: &Context, robot: &super::robot::RobotArgs, a: &AddArgs) -> Result<i32, CliError> {
    let cass = cx.cass()?;
    let (user, host) = Machine::parse_destination(&a.destination)?;
    let known: Vec<&str> = crate::connectors::all().iter().map(|c| c.agent().slug()).collect();
    let mut agents = Vec::new();
    for name in a.agents.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let agent: crate::model::Agent = name.parse().map_err(|e: String| CliError::usage(e))?;
        if !known.contains(&agent.slug()) {
            return Err(CliError::usage(format!("unknown agent '{name}'")));
        }
        agents.push(agent.slug().to_string());
    }
    let home = cass.settings().agents.home.clone();
    let paths = a.paths.iter().map(|p| parse_map(p, &home)).collect::<Result<Vec<_>, _>>()?;
    let identity = match &a.identity {
        Some(p) => Some(std::path::absolute(p).map_err(|e| CliError::usage(format!("{}: {e}", p.display())))?),
        None => None,
    };
    let machine = Machine { name: a.name.clone(), user, host, port: a.port, identity, agents, paths };
    cass.add_machine(machine.clone())?;
    if robot.on() {
        super::robot::print(&serde_json::json!({ "added": machine }), robot)?;
    } else if !cx.global.quiet {
        eprintln!(
            "added {} ({}); `cass sources sync {}` copies its sessions, `cass index --sync` syncs and indexes",
            machine.name,
            machine.destination(),
            machine.name
        );
    }
    Ok(exit::OK)
}

fn remove(cx: &Context, robot: &super::robot::RobotArgs, name: &str) -> Result<i32, CliError> {
    let cass = cx.cass()?;
    let writer = cass.writer("sources remove")?;
    let (conversations, messages) = writer.remove_machine(name)?;
    if robot.on() {
        let doc = serde_json::json!({"removed": name, "conversations": conversations, "messages": messages});
        super::robot::print(&doc, robot)?;
    } else if !cx.global.quiet {
        eprintln!(
            "removed {name}: {} and {} out of the index, its mirrored files deleted",
            count(conversations, "conversation"),
            count(messages, "message")
        );
    }
    Ok(exit::OK)
}

fn sync(cx: &Context, robot: &super::robot::RobotArgs, name: Option<&str>) -> Result<i32, CliError> {
    let cass = cx.cass()?;
    if name.is_none() && cass.machines()?.machines.is_empty() {
        return Err(CliError::not_found("no remote machine is configured")
            .hint("`cass sources add NAME USER@HOST` records one"));
    }
    let writer = cass.writer("sources sync")?;
    let synced = writer.sync_remotes(name)?;
    let failed = synced.iter().any(|m| !m.ok);
    if robot.on() {
        super::robot::print(&serde_json::json!({ "synced": synced }), robot)?;
    } else {
        print_syncs(&synced, cx.global.quiet);
    }
    // Some machine could not be synced: the others were.
    Ok(if failed { exit::USAGE } else { exit::OK })
}

fn map(cx: &Context, robot: &super::robot::RobotArgs, name: &str, specs: &[String]) -> Result<i32, CliError> {
    let cass = cx.cass()?;
    let home = cass.settings().agents.home.clone();
    let paths = specs.iter().map(|p| parse_map(p, &home)).collect::<Result<Vec<_>, _>>()?;
    let writer = cass.writer("sources map")?;
    let changed = writer.set_paths(name, paths.clone())?;
    if robot.on() {
        super::robot::print(&serde_json::json!({"machine": name, "paths": paths, "remapped": changed}), robot)?;
    } else if !cx.global.quiet {
        eprintln!("{name}: {} re-mapped", count(changed, "conversation"));
    }
    Ok(exit::OK)
}

/// One line per machine synced: what was copied, or why it could not be
/// (on stderr; an unreachable machine is one line, whatever `quiet` says).
pub(crate) fn print_syncs(synced: &[MachineSync], quiet: bool) {
    for m in synced {
        match (&m.error, &m.transfer) {
            (Some(e), _) => eprintln!("cass: remote {}: {e}", m.name),
            (None, Some(t)) if !quiet => eprintln!(
                "remote {}: {} of {} selected copied ({} bytes, {}) in {} ms",
                m.name,
                count(t.files_copied, "file"),
                t.files_selected,
                t.bytes_copied,
                t.method,
                t.elapsed_ms
            ),
            _ => {}
        }
        for w in m.warnings.iter().filter(|_| !quiet) {
            eprintln!("remote {}: {w}", m.name);
        }
    }
}

/// `--source`, checked against the machines configured: `local`, `remote`,
/// or a machine's name (a name that is no machine is a usage error with the
/// names in the hint, not a search that silently finds nothing).
pub(crate) fn check_source(cass: &crate::Cass, spec: Option<&str>) -> Result<Option<String>, CliError> {
    let Some(spec) = spec.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
    if let Ok(crate::filters::SourceFilter::Named(name)) = crate::filters::SourceFilter::parse(spec) {
        let machines = cass.machines()?;
        if machines.get(&name).is_none() {
            let names: Vec<&str> = machines.machines.iter().map(|m| m.name.as_str()).collect();
            let hint = if names.is_empty() {
                "sources: local, remote (no remote machine is configured)".to_string()
            } else {
                format!("sources: local, remote, {}", names.join(", "))
            };
            return Err(CliError::not_found(format!("no source named '{name}'")).hint(hint));
        }
    }
    Ok(Some(spec.to_string()))
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
    let robot = &args.robot;
    if robot.on() {
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
        super::robot::print(&doc, robot)?;
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
