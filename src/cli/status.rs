//! `cass status` and `cass health`.

use clap::Args;

use super::{CliError, Context, exit};
use crate::status::{Status, StatusError};
use crate::words::{count, noun};

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Also read every byte: SQLite's integrity check and row checksums, the lexical index's and
    /// every tier segment's checksums, counts compared (slower; says how long).
    #[arg(long)]
    pub deep: bool,
    /// Also unhealthy when the last index run finished longer ago than
    /// this: 30m, 12h, 7d.
    #[arg(long, value_name = "SPAN")]
    pub max_age: Option<String>,
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

fn status_error(e: StatusError) -> CliError {
    e.into()
}

pub fn status(cx: &Context, args: &StatusArgs) -> Result<i32, CliError> {
    let s = cx.cass()?.status().map_err(status_error)?;
    if args.robot.on() {
        super::robot::print(&s, &args.robot)?;
    } else {
        super::write_stdout(&render(&s))?;
    }
    Ok(exit::OK)
}

pub fn health(cx: &Context, args: &HealthArgs) -> Result<i32, CliError> {
    let max_age = args
        .max_age
        .as_deref()
        .map(|s| {
            crate::time::parse_duration_ms(s)
                .ok_or_else(|| super::search::usage(format!("cannot read span '{s}' (try 30m, 12h, 7d)")))
        })
        .transpose()?;
    let cass = cx.cass()?;
    let h = if args.deep { cass.health_deep(max_age)? } else { cass.health(max_age).map_err(status_error)? };
    if args.robot.on() {
        super::robot::print(&h, &args.robot)?;
    } else if h.healthy {
        if !cx.global.quiet {
            super::write_stdout(&format!(
                "healthy: {}, lexical index and {} up to date\n",
                count(h.status.store.messages, "message"),
                count(h.status.tiers.iter().filter(|t| t.built).count(), "published tier")
            ))?;
        }
    } else {
        let mut out = String::from("unhealthy:\n");
        for p in &h.problems {
            out.push_str(&format!("  {}: {}\n", p.kind, p.message));
        }
        super::write_stdout(&out)?;
    }
    if let Some(ms) = h.deep_ms
        && !args.robot.on()
        && !cx.global.quiet
    {
        eprintln!("deep check: every checksum read in {:.1} s", ms as f64 / 1000.0);
    }
    Ok(if h.healthy { exit::OK } else { exit::NOT_FOUND })
}

fn render(s: &Status) -> String {
    let mut out = String::new();
    let age = s
        .store
        .last_index_at_ms
        .map(|t| {
            format!("{} ({} ago)", super::local_time(t), crate::time::human_duration_ms(crate::time::now_ms() - t))
        })
        .unwrap_or_else(|| "never".into());
    out.push_str(&format!("{:<13}{}\n", "data dir", s.data_dir.display()));
    out.push_str(&format!(
        "{:<13}{}, {}; last index {age}\n",
        "store",
        count(s.store.conversations, "conversation"),
        count(s.store.messages, "message")
    ));
    for a in &s.agents {
        // Nouns padded to the plural's width, so the columns stay aligned.
        out.push_str(&format!(
            "  {:<14} {:>8} {:<13} {:>10} {}\n",
            a.agent,
            a.conversations,
            noun(a.conversations, "conversation"),
            a.messages,
            noun(a.messages, "message")
        ));
    }
    let lex = &s.lexical.state;
    if lex.exists {
        out.push_str(&format!(
            "{:<13}up to message {} ({} behind, {} to re-index), {}\n",
            "lexical",
            lex.high_message_id,
            s.lexical.lag,
            count(lex.dirty_conversations, "conversation"),
            count(lex.segments, "segment")
        ));
    } else {
        out.push_str(&format!("{:<13}not built\n", "lexical"));
    }
    for t in &s.tiers {
        if t.built {
            let lag = t.behind_since_ms.map_or(String::new(), |since| {
                format!(" (behind for {})", crate::time::human_duration_ms(crate::time::now_ms() - since))
            });
            let order = if t.checkpoint.as_ref().is_some_and(|c| c.sweep.is_some()) { ", newest first" } else { "" };
            out.push_str(&format!(
                "{:<13}{} published, {} pending{lag}, cursor at message {}{order}\n",
                format!("{} tier", t.tier),
                t.published_rows,
                t.pending_rows,
                t.checkpoint.as_ref().map_or(0, |c| c.last_message_id)
            ));
        } else {
            out.push_str(&format!("{:<13}not built\n", format!("{} tier", t.tier)));
        }
    }
    let p = &s.privacy;
    let kinds: Vec<String> = p.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    out.push_str(&format!(
        "{:<13}redaction {}: {} in {}{}; {} forgotten\n",
        "privacy",
        p.redaction,
        count(p.secrets_redacted, "secret"),
        count(p.messages_redacted, "message"),
        if kinds.is_empty() { String::new() } else { format!(" ({})", kinds.join(", ")) },
        p.forgotten
    ));
    match &s.writer {
        Some(w) => out.push_str(&format!(
            "{:<13}pid {} `cass {}` since {}, {} at {}\n",
            "writer",
            w.pid,
            w.command,
            w.started_at,
            w.phase.as_deref().unwrap_or("?"),
            w.last_progress_at.as_deref().unwrap_or("?")
        )),
        None => out.push_str(&format!("{:<13}none\n", "writer")),
    }
    out
}
