//! The command-line front end: parses flags into validated requests, calls
//! the library, prints human or robot output. Wiring only.

mod config_file;
mod error;
mod index;
mod info;
mod mcp;
mod models;
mod privacy;
mod query_words;
mod robot;
mod search;
mod semantic;
mod sessions;
mod settings;
mod signal;
mod sources;
mod status;
mod style;
mod tui;
mod usage;
mod view;
mod workspace;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use error::{CliError, Print, exit};

#[derive(Debug, Parser)]
#[command(name = "cass", version, about = "Search every coding agent's history, locally.", long_about = None)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct GlobalArgs {
    /// Data directory (default: the platform data dir + `cass`).
    #[arg(long, global = true, env = "CASS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Only print errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More log lines on stderr (-v info, -vv debug, -vvv trace); `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to colour output (`NO_COLOR` turns `auto` off).
    #[arg(long, global = true, value_enum, env = "CASS_COLOR", default_value_t = style::ColorChoice::Auto)]
    pub color: style::ColorChoice,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Find agent sessions on this machine and index what changed.
    Index(index::IndexArgs),
    /// Search every indexed conversation.
    Search(search::SearchArgs),
    /// List sessions, most recently active first (by agent, workspace, time).
    Sessions(sessions::SessionsArgs),
    /// Print a whole conversation (by id or session file) as markdown.
    View(view::ViewArgs),
    /// Print the messages around one message.
    Expand(view::ExpandArgs),
    /// Write a whole conversation as Markdown, JSON or one HTML file.
    Export(view::ExportArgs),
    /// The quality tier's model: install, list, verify, remove.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Semantic tiers: backfill, status, report, compact.
    #[command(subcommand)]
    Semantic(semantic::SemanticCommand),
    /// Per agent counts, index lag, tiers, and who is writing.
    Status(status::StatusArgs),
    /// Exit 0 when the store and every index agree, 1 with the reasons otherwise.
    Health(status::HealthArgs),
    /// What this build supports, as JSON: versions, schemas, agents, modes, tiers.
    Capabilities(info::CapabilitiesArgs),
    /// The robot JSON contract, as plain text for agents.
    RobotDocs,
    /// Shell completions: bash, zsh, fish, elvish, powershell.
    Completions(info::CompletionsArgs),
    /// The manual page (roff), for `man -l -` or a man directory.
    Man(info::ManArgs),
    /// The terminal UI: search as you type (what `cass` alone opens on a terminal).
    Tui,
    /// Where each agent's sessions are looked for, and what was found there.
    Sources(sources::SourcesArgs),
    /// Redact secrets in text already indexed (index runs do it by themselves after an upgrade).
    Redact(privacy::RedactArgs),
    /// Remove conversations from the index and keep them out of later runs; --list, --undo.
    Forget(privacy::ForgetArgs),
    /// Tokens and cost by day, week, month, session, model, project or agent.
    Usage(usage::UsageArgs),
    /// Serve the Model Context Protocol on stdio, for agents (read-only).
    #[command(after_help = mcp::SETUP)]
    Mcp,
}

/// What every command gets: the global flags and the resolved variable
/// layers, from which it builds the library handle it needs.
pub(crate) struct Context {
    pub global: GlobalArgs,
    pub env: settings::Env,
}

impl Context {
    /// The handle on the data dir, with the settings resolved.
    pub fn cass(&self) -> Result<crate::Cass, CliError> {
        Ok(crate::Cass::open(self.settings()?))
    }

    /// The resolved settings, for a command that adjusts them first. Every
    /// command that touches the data dir comes through here, so this is
    /// where a data dir that cannot be used is refused, once for all.
    pub fn settings(&self) -> Result<crate::Settings, CliError> {
        let settings = self.env.settings(&self.global)?;
        settings.data_dir.check()?;
        Ok(settings)
    }
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    private_files();
    let env = match settings::Env::load() {
        Ok(env) => env,
        Err(e) => {
            e.print(std::env::args_os().any(|a| a == "--json"));
            return e.code;
        }
    };
    let mut cli = match env.parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { exit::OK };
            let _ = e.print();
            return code;
        }
    };
    cli.global.color = env.color(cli.global.color);
    quiet_caught_panics();
    crate::faults::arm(env.faults());
    init_logging(&cli.global, env.log_filter());
    signal::install();
    let command = match cli.command {
        Some(command) => command,
        None if tui::on_terminal() => Command::Tui,
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            return exit::USAGE;
        }
    };
    let cx = Context { global: cli.global, env };
    let robot = command.robot().cloned().unwrap_or_default();
    // A bad --fields is a usage error before anything runs.
    if let Err(e) = robot.shape() {
        e.print(robot.on());
        return e.code;
    }
    let json = robot.on() || matches!(command, Command::Capabilities(_));
    // Before anything embeds: the kernels' level is chosen once per process.
    let isa = cx.env.embed_isa().and_then(|limit| {
        crate::embed::minilm::limit_isa(limit).map_err(|e| CliError::new("config", exit::USAGE, e.to_string()))
    });
    if let Err(e) = isa {
        e.print(json);
        return e.code;
    }
    let result = match command {
        Command::Index(args) => index::run(&cx, &args),
        Command::Search(args) => search::run(&cx, &args),
        Command::Sessions(args) => sessions::run(&cx, &args),
        Command::View(args) => view::view(&cx, &args),
        Command::Expand(args) => view::expand(&cx, &args),
        Command::Export(args) => view::export(&cx, &args),
        Command::Semantic(cmd) => semantic::run(&cx, &cmd),
        Command::Models(cmd) => models::run(&cx, &cmd),
        Command::Status(args) => status::status(&cx, &args),
        Command::Health(args) => status::health(&cx, &args),
        Command::Capabilities(args) => info::capabilities(&cx, &args),
        Command::RobotDocs => info::robot_docs(),
        Command::Completions(args) => info::completions(&args),
        Command::Man(args) => info::man(&args),
        Command::Tui => tui::run(&cx),
        Command::Sources(args) => sources::run(&cx, &args),
        Command::Redact(args) => privacy::redact(&cx, &args),
        Command::Forget(args) => privacy::forget(&cx, &args),
        Command::Usage(args) => usage::run(&cx, &args),
        Command::Mcp => mcp::run(&cx),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            e.print(json);
            e.code
        }
    }
}

impl Command {
    /// The robot flags of a command that answers a question.
    fn robot(&self) -> Option<&robot::RobotArgs> {
        match self {
            Command::Index(a) => Some(&a.robot),
            Command::Search(a) => Some(&a.robot),
            Command::Sessions(a) => Some(&a.robot),
            Command::View(a) => Some(&a.robot),
            Command::Expand(a) => Some(&a.robot),
            Command::Semantic(c) => Some(c.robot()),
            Command::Models(c) => Some(c.robot()),
            Command::Status(a) => Some(&a.robot),
            Command::Health(a) => Some(&a.robot),
            Command::Capabilities(a) => Some(&a.robot),
            Command::Sources(a) => Some(a.robot()),
            Command::Usage(a) => Some(&a.robot),
            Command::Redact(a) => Some(&a.robot),
            Command::Forget(a) => Some(&a.robot),
            Command::Export(_)
            | Command::Mcp
            | Command::RobotDocs
            | Command::Completions(_)
            | Command::Man(_)
            | Command::Tui => None,
        }
    }
}

/// Session histories are private: every file and directory cass creates
/// (store, indexes, segments, lock, exports) is 0600/0700 whatever the
/// user's umask, including those tantivy and SQLite create themselves.
fn private_files() {
    #[cfg(unix)]
    // SAFETY: umask only swaps the process's file-creation mask; it cannot
    // fail and touches no memory.
    unsafe {
        libc::umask(0o077);
    }
}

/// Panics that the library catches and reports as errors (tantivy on a
/// damaged segment, a parser on a hostile file) print nothing; any other
/// still prints, as a bug should.
fn quiet_caught_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !crate::guard::is_guarded() {
            default(info);
        }
    }));
}

/// Logs go to stderr through `tracing`: warnings by default, more with
/// `-v`, errors only with `-q`, or exactly what `RUST_LOG` says.
fn init_logging(global: &GlobalArgs, rust_log: Option<String>) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = rust_log.and_then(|v| EnvFilter::try_new(v).ok()).unwrap_or_else(|| EnvFilter::new(level));
    let ansi = std::io::stderr().is_terminal() && style::color_allowed(global.color);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
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

/// A local wall-clock time for people.
pub(crate) fn local_time(ms: i64) -> String {
    crate::time::local_clock(ms)
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
