//! What cass is and how to drive it: `capabilities`, `robot-docs`,
//! `completions`, `man`. None of these needs an index.

use clap::{Args, CommandFactory};
use serde_json::json;

use super::{Cli, CliError, Context, exit};
use crate::embed::Tier;

/// The robot contract, compiled in so agents get the text that matches the
/// binary they run.
const ROBOT_DOCS: &str = include_str!("../../docs/ROBOT.md");

#[derive(Debug, Args)]
pub struct CapabilitiesArgs {
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// A subcommand's page instead of the main one (e.g. `search`).
    pub command: Option<String>,
}

pub fn capabilities(cx: &Context, args: &CapabilitiesArgs) -> Result<i32, CliError> {
    // Without a data dir (no home directory), nothing is installed or published.
    let cass = cx.cass().ok();
    let tiers: Vec<_> = Tier::ALL
        .iter()
        .map(|&t| {
            let available = match (t, &cass) {
                (Tier::Fast, _) => true,
                (Tier::Quality, Some(c)) => c.quality_model_installed(),
                (Tier::Quality, None) => false,
            };
            let published = cass.as_ref().is_some_and(|c| c.published_rows(t) > 0);
            let (embedder, dims) = match t {
                Tier::Fast => (crate::embed::static_model::STATIC_ID, crate::embed::static_model::STATIC_DIMS),
                Tier::Quality => (crate::embed::minilm::MINILM_ID, 384),
            };
            let mut tier = json!({ "name": t.name(), "embedder": embedder, "dims": dims, "available": available, "published": published });
            match t {
                Tier::Fast => tier["model"] = json!(crate::embed::static_model::ATTRIBUTION),
                // Which kernels the model runs here (CASS_EMBED_ISA holds them to AVX2).
                Tier::Quality => tier["kernels"] = json!(crate::embed::minilm::kernel_isa()),
            }
            tier
        })
        .collect();
    let agents: Vec<_> =
        crate::model::Agent::ALL.iter().map(|a| json!({ "id": a.slug(), "name": a.display_name() })).collect();
    let commands: Vec<String> = Cli::command().get_subcommands().map(|c| c.get_name().to_string()).collect();
    let usage_agents: Vec<&str> =
        crate::connectors::all().iter().filter(|c| c.reads_usage()).map(|c| c.agent().slug()).collect();
    super::robot::print(
        &json!({
            "name": "cass",
            "version": env!("CARGO_PKG_VERSION"),
            "schemas": {
                "search": crate::search::ROBOT_SCHEMA,
                "semantic_progress": crate::indexer::semantic::progress::SCHEMA,
                "store": crate::store::SCHEMA_VERSION,
                "lexical": crate::lexical::LEXICAL_VERSION,
                "vector_manifest": crate::vector::manifest::MANIFEST_VERSION,
            },
            "agents": agents,
            "modes": ["lexical", "semantic", "hybrid"],
            "query_language": ["and", "or", "not", "parentheses", "phrase", "prefix*", "*suffix", "*infix*", "accent_folding", "stemming"],
            "tiers": tiers,
            "commands": commands,
            "usage": { "agents": usage_agents, "prices_as_of": crate::usage::PRICES_AS_OF },
            "exit_codes": {
                "ok": exit::OK, "no_hits_or_unhealthy": exit::NOT_FOUND, "usage_or_error": exit::USAGE,
                "no_index": exit::NO_INDEX, "lock_busy": exit::LOCK_BUSY, "interrupted": exit::INTERRUPTED,
            },
        }),
        &args.robot,
    )?;
    Ok(exit::OK)
}

pub fn robot_docs() -> Result<i32, CliError> {
    super::write_stdout(ROBOT_DOCS)?;
    Ok(exit::OK)
}

pub fn completions(args: &CompletionsArgs) -> Result<i32, CliError> {
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "cass", &mut buf);
    super::write_stdout(&String::from_utf8_lossy(&buf))?;
    Ok(exit::OK)
}

pub fn man(args: &ManArgs) -> Result<i32, CliError> {
    let root = Cli::command();
    let cmd = match &args.command {
        None => root,
        Some(name) => {
            let sub = root
                .find_subcommand(name)
                .cloned()
                .ok_or_else(|| super::search::usage(format!("no command '{name}' (see `cass --help`)")))?;
            // The page is titled `cass-search`, as man(1) looks it up.
            sub.name(format!("cass-{name}"))
        }
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| CliError::new("io", exit::USAGE, format!("cannot render the manual: {e}")))?;
    super::write_stdout(&String::from_utf8_lossy(&buf))?;
    Ok(exit::OK)
}
