//! The command-line front end: parses flags into validated requests, calls
//! the library, prints human or robot output. Wiring only.

mod error;
mod index;
mod models;
mod search;
mod semantic;
mod sources;
mod style;
mod view;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use error::{CliError, exit};

#[derive(Debug, Parser)]
#[command(name = "cass", version, about = "Search every coding agent's history, locally.", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Data directory (default: the platform data dir + `cass`).
    #[arg(long, global = true, env = "CASS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Only print errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find agent sessions on this machine and index what changed.
    Index(index::IndexArgs),
    /// Search every indexed conversation.
    Search(search::SearchArgs),
    /// Print a whole conversation (by id or session file) as markdown.
    View(view::ViewArgs),
    /// Print the messages around one message.
    Expand(view::ExpandArgs),
    /// The quality tier's model: install, list, verify, remove.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Semantic tiers: backfill, status, report, compact.
    #[command(subcommand)]
    Semantic(semantic::SemanticCommand),
    /// Where each agent's sessions are looked for, and what was found there.
    Sources(sources::SourcesArgs),
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    // `.env` in the working directory fills in settings the process
    // environment does not already have (dotenv semantics).
    let _ = dotenvy::dotenv();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { exit::OK };
            let _ = e.print();
            return code;
        }
    };
    let Some(command) = cli.command else {
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        return exit::USAGE;
    };
    let (json, result) = match command {
        Command::Index(args) => (args.json, index::run(&cli.global, &args)),
        Command::Search(args) => (args.json, search::run(&cli.global, &args)),
        Command::View(args) => (args.json, view::view(&cli.global, &args)),
        Command::Expand(args) => (args.json, view::expand(&cli.global, &args)),
        Command::Semantic(cmd) => (cmd.json(), semantic::run(&cli.global, &cmd)),
        Command::Models(cmd) => (cmd.json(), models::run(&cli.global, &cmd)),
        Command::Sources(args) => (args.json, sources::run(&cli.global, &args)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            e.print(json);
            e.code
        }
    }
}

/// Writes to stdout; a closed pipe (`cass search x | head -1`) ends quietly.
pub(crate) fn write_stdout(s: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(exit::OK),
        Err(e) => Err(CliError::new("io", exit::USAGE, format!("cannot write output: {e}"))),
    }
}

/// Prints one JSON document (robot output) on stdout.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> Result<(), CliError> {
    let mut s =
        serde_json::to_string_pretty(value).map_err(|e| CliError::new("internal", exit::USAGE, e.to_string()))?;
    s.push('\n');
    write_stdout(&s)
}

/// A local wall-clock time for people.
pub(crate) fn local_time(ms: i64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => ms.to_string(),
    }
}

/// A single line of session text, safe to print.
pub(crate) fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        crate::search::snippet::push_visible(&mut out, if c == '\n' { ' ' } else { c });
    }
    out
}

/// A progress bar on stderr when it is a terminal and `show` holds; a
/// hidden (free) one otherwise, so callers update it unconditionally.
pub(crate) fn progress_bar(show: bool, template: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !show || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(0);
    pb.set_style(
        indicatif::ProgressStyle::with_template(template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb
}
