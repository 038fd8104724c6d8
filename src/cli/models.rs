//! `cass models …`: install, list, verify, remove.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::search::usage;
use super::{CliError, Context, Print, exit};
use crate::models::{self, ModelError, Source};

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Install all-MiniLM-L6-v2 for the quality tier, from a directory or a URL.
    Install(InstallArgs),
    /// Installed models.
    List(JsonArg),
    /// Re-hash the installed files against the pinned checksums.
    Verify(JsonArg),
    /// Delete the installed model.
    Remove(JsonArg),
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// A directory holding the model files (e.g. a downloaded snapshot).
    #[arg(long, value_name = "DIR", conflicts_with = "url")]
    pub from: Option<PathBuf>,
    /// A base URL serving the model files (`URL/config.json`, …). Only
    /// fetched because you ask; interrupted downloads resume.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

#[derive(Debug, Args)]
pub struct JsonArg {
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

impl ModelsCommand {
    pub fn robot(&self) -> &super::robot::RobotArgs {
        match self {
            ModelsCommand::Install(a) => &a.robot,
            ModelsCommand::List(a) | ModelsCommand::Verify(a) | ModelsCommand::Remove(a) => &a.robot,
        }
    }
}

fn model_error(e: ModelError) -> CliError {
    match e {
        ModelError::Mismatch { .. } => CliError::new("checksum_mismatch", exit::USAGE, e.to_string())
            .hint("the files are not all-MiniLM-L6-v2 as published; get them again"),
        ModelError::NotInstalled(_) => CliError::new("model_missing", exit::NOT_FOUND, e.to_string()),
        other => CliError::new("model", exit::USAGE, other.to_string()),
    }
}

pub fn run(cx: &Context, cmd: &ModelsCommand) -> Result<i32, CliError> {
    let cass = cx.cass()?;
    let data = cass.data_dir();
    match cmd {
        ModelsCommand::Install(a) => {
            let source = match (&a.from, &a.url) {
                (Some(dir), None) => Source::Dir(dir),
                (None, Some(url)) => Source::Url(url),
                _ => return Err(usage("say where the model comes from: --from DIR or --url URL")),
            };
            data.create().map_err(|e| CliError::new("io", exit::USAGE, e.to_string()))?;
            let bar = super::progress_bar(
                !a.robot.on() && !cx.global.quiet,
                "{msg} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec}",
            );
            let progress = |url: &str, done: u64, total: u64| {
                bar.set_message(url.rsplit('/').next().unwrap_or(url).to_string());
                bar.set_length(total.max(done));
                bar.set_position(done);
            };
            let r = models::install(data, source, &progress).map_err(model_error)?;
            bar.finish_and_clear();
            if a.robot.on() {
                super::robot::print(&r, &a.robot)?;
            } else if !cx.global.quiet {
                super::write_stdout(&format!(
                    "installed {} ({}, {:.1} MiB, every sha256 verified) in {}\n",
                    r.model,
                    crate::words::count(r.files.len(), "file"),
                    r.bytes as f64 / 1048576.0,
                    r.dir.display()
                ))?;
            }
            Ok(exit::OK)
        }
        ModelsCommand::List(a) => {
            let l = models::list(data);
            if a.robot.on() {
                super::robot::print(&serde_json::json!({ "models": l }), &a.robot)?;
            } else {
                let mut out = String::new();
                for m in &l {
                    let state = if m.installed {
                        format!("installed, {:.1} MiB", m.bytes as f64 / 1048576.0)
                    } else {
                        "not installed".into()
                    };
                    out.push_str(&format!("{} ({} tier): {state} — {}\n", m.model, m.tier, m.dir.display()));
                }
                super::write_stdout(&out)?;
            }
            Ok(exit::OK)
        }
        ModelsCommand::Verify(a) => {
            let checks = models::verify(data).map_err(model_error)?;
            let bad = checks.iter().filter(|c| !c.ok).count();
            if a.robot.on() {
                super::robot::print(
                    &serde_json::json!({ "model": models::MINILM_ID, "ok": bad == 0, "files": checks }),
                    &a.robot,
                )?;
            } else {
                let mut out = String::new();
                for c in &checks {
                    out.push_str(&format!("{:<36} {}\n", c.path, c.detail));
                }
                super::write_stdout(&out)?;
            }
            if bad > 0 {
                let e = CliError::new(
                    "checksum_mismatch",
                    exit::USAGE,
                    format!("{bad} model file(s) do not match the pinned checksums"),
                )
                .hint("reinstall with `cass models install --from DIR`");
                if !a.robot.on() {
                    e.print(false);
                }
                return Ok(e.code);
            }
            Ok(exit::OK)
        }
        ModelsCommand::Remove(a) => {
            let removed = models::remove(data).map_err(model_error)?;
            if a.robot.on() {
                super::robot::print(&serde_json::json!({ "model": models::MINILM_ID, "removed": removed }), &a.robot)?;
            } else {
                super::write_stdout(if removed { "removed minilm-384\n" } else { "minilm-384 was not installed\n" })?;
            }
            Ok(exit::OK)
        }
    }
}
