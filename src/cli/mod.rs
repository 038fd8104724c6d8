//! The command-line front end: parses flags into validated requests, calls
//! the library, prints human or robot output. Wiring only.

mod error;
mod index;

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
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    // `.env` in the working directory fills in settings the process
    // environment does not already have (dotenv semantics).
    let _ = dotenvy::dotenv();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
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
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            e.print(json);
            e.code
        }
    }
}
