//! `cass usage`: tokens and cost by day, week, month, model, project,
//! agent or session, as a table with a bar per row or as JSON.

use chrono::NaiveDate;
use clap::Args;
use serde_json::{Value, json};
use unicode_width::UnicodeWidthStr;

use super::style::Style;
use super::{CliError, Context, exit};
use crate::filters::{Bound, parse_time};
use crate::model::TokenSums;
use crate::usage::format::{bar, dollars, thousands};
use crate::usage::{Grouping, PRICES_AS_OF, Report, ReportRequest, ReportRow, Zone};

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// How to group: by day (default), ISO week, month, session (most
    /// expensive first), model, project (workspace) or agent.
    #[arg(value_enum, default_value_t)]
    pub report: Grouping,
    /// Calls at or after this time: 2026-01-15 (a day in --timezone), 7d, 12h, RFC 3339.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Calls before this time; a bare date includes that whole day.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only these agents (repeatable): claude_code, codex, gemini, …
    #[arg(long = "agent", value_name = "AGENT")]
    pub agents: Vec<String>,
    /// Only conversations in this workspace directory or below it (`.`:
    /// this project), or in a directory of this name (`webapp`).
    #[arg(long, value_name = "DIR|NAME")]
    pub workspace: Option<String>,
    /// Only calls from this machine: `local`, `remote` (any other), or a
    /// machine's name (`cass sources list`); `all` or none: every machine.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// The time zone days are cut in: an IANA name (UTC, Europe/Berlin) or local.
    #[arg(long, value_name = "TZ", default_value = "local")]
    pub timezone: String,
    /// At most N rows (the latest periods; the biggest models, projects, sessions).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

/// Prints the report the arguments ask for.
pub fn run(cx: &Context, args: &UsageArgs) -> Result<i32, CliError> {
    let cass = cx.cass()?;
    let source = match args.source.as_deref().map(str::trim) {
        None | Some("all") => None,
        spec => super::sources::check_source(&cass, spec)?
            .map(|s| crate::filters::SourceFilter::parse(&s).map_err(super::search::usage))
            .transpose()?,
    };
    let mut req = request(args, super::workspace::resolve(&cass, args.workspace.as_deref())?)?;
    req.source = source;
    let report = cass.usage(&req)?;
    if args.robot.on() {
        super::robot::print(&document(&report, args), &args.robot)?;
    } else {
        super::write_stdout(&table(&report, Style::for_stdout(cx.global.color)))?;
    }
    Ok(exit::OK)
}

/// The report asked for; `workspace` is `--workspace` resolved (`.`, `./x`).
fn request(args: &UsageArgs, workspace: Option<String>) -> Result<ReportRequest, CliError> {
    let zone = Zone::parse(&args.timezone).map_err(|e| super::search::usage(e).hint("e.g. --timezone UTC"))?;
    let mut agents = Vec::new();
    for a in &args.agents {
        let agent: crate::model::Agent = a.parse().map_err(super::search::usage)?;
        agents.push(agent.slug().to_string());
    }
    let time = |spec: &Option<String>, bound: Bound| -> Result<Option<i64>, CliError> {
        spec.as_deref().map(|s| when(s, bound, zone)).transpose().map_err(super::search::usage)
    };
    Ok(ReportRequest {
        grouping: args.report,
        since: time(&args.since, Bound::Since)?,
        until: time(&args.until, Bound::Until)?,
        agents,
        workspace: workspace.filter(|w| !w.trim().is_empty()),
        zone,
        limit: args.limit,
        source: None,
    })
}

/// A bare date is a day in the report's zone (as its rows are); anything
/// else as `--since` takes it everywhere.
fn when(spec: &str, bound: Bound, zone: Zone) -> Result<i64, String> {
    let s = spec.trim();
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(s, "%Y%m%d"));
    match day {
        Ok(d) => {
            let d = if bound == Bound::Until { d.succ_opt().unwrap_or(d) } else { d };
            Ok(zone.day_start(d))
        }
        Err(_) => parse_time(s, bound),
    }
}

/// The field that names a row, per grouping.
fn key_field(g: Grouping) -> &'static str {
    match g {
        Grouping::Daily | Grouping::Weekly | Grouping::Monthly => "period",
        Grouping::Sessions => "session",
        Grouping::Models => "model",
        Grouping::Projects => "project",
        Grouping::Agents => "agent",
    }
}

fn counts(t: &TokenSums, cost: f64) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("calls".into(), t.calls.into());
    m.insert("input_tokens".into(), t.input.into());
    m.insert("output_tokens".into(), t.output.into());
    m.insert("cache_write_tokens".into(), t.cache_write.into());
    m.insert("cache_read_tokens".into(), t.cache_read.into());
    m.insert("reasoning_tokens".into(), t.reasoning.into());
    m.insert("total_tokens".into(), t.total().into());
    m.insert("cost_usd".into(), json!(cost));
    m
}

fn row_json(g: Grouping, row: &ReportRow) -> Value {
    let mut m = serde_json::Map::new();
    match (&row.session, g) {
        (Some(s), _) => {
            m.insert("session".into(), s.id.into());
            m.insert("agent".into(), s.agent.clone().into());
            m.insert("external_id".into(), s.external_id.clone().into());
            m.insert("title".into(), json!(s.title));
            m.insert("workspace".into(), json!(s.workspace));
            m.insert("source_path".into(), s.source_path.to_string_lossy().into_owned().into());
            m.insert("started_at".into(), json!(s.started_at.map(crate::time::to_rfc3339)));
            m.insert("ended_at".into(), json!(s.ended_at.map(crate::time::to_rfc3339)));
        }
        (None, g) => {
            m.insert(key_field(g).into(), row.key.clone().into());
        }
    }
    m.extend(counts(&row.tokens, row.cost));
    let models: Vec<Value> = row
        .models
        .iter()
        .map(|l| {
            let mut mm = serde_json::Map::new();
            mm.insert("model".into(), l.model.clone().into());
            mm.extend(counts(&l.tokens, l.cost));
            mm.insert("priced".into(), l.priced.into());
            Value::Object(mm)
        })
        .collect();
    m.insert("models".into(), models.into());
    Value::Object(m)
}

fn document(report: &Report, args: &UsageArgs) -> Value {
    json!({
        "report": report.grouping.name(),
        "timezone": report.zone,
        "since": args.since,
        "until": args.until,
        "prices_as_of": PRICES_AS_OF,
        "rows": report.rows.iter().map(|r| row_json(report.grouping, r)).collect::<Vec<_>>(),
        "rows_omitted": report.rows_omitted,
        "totals": Value::Object(counts(&report.totals, report.cost)),
        "unpriced_models": report.unpriced,
    })
}

fn label(g: Grouping, row: &ReportRow) -> String {
    match (&row.session, g) {
        (Some(s), _) => {
            let title = s.title.as_deref().unwrap_or("untitled");
            let title: String = title.chars().take(40).collect();
            format!("{} {} {}", s.id, s.agent, title)
        }
        (None, Grouping::Models) if row.key.is_empty() => "(model not recorded)".into(),
        (None, Grouping::Projects) if row.key.is_empty() => "(no workspace)".into(),
        _ => row.key.clone(),
    }
}

fn table(report: &Report, style: Style) -> String {
    let g = report.grouping;
    if report.rows.is_empty() {
        return "no usage recorded for these filters (agents that record tokens: Claude Code, Codex, …; run `cass index` first)\n"
            .to_string();
    }
    let by_cost = report.cost > 0.0;
    let max = report.rows.iter().map(|r| if by_cost { r.cost } else { r.tokens.total() as f64 }).fold(0.0, f64::max);
    let head = ["", "Input", "Output", "Cache write", "Cache read", "Total", "Cost"];
    let mut lines: Vec<[String; 7]> = Vec::new();
    let mut bars = Vec::new();
    let mut models = Vec::new();
    for r in &report.rows {
        lines.push([
            label(g, r),
            thousands(r.tokens.input),
            thousands(r.tokens.output),
            thousands(r.tokens.cache_write),
            thousands(r.tokens.cache_read),
            thousands(r.tokens.total()),
            dollars(r.cost),
        ]);
        bars.push(bar(if by_cost { r.cost } else { r.tokens.total() as f64 }, max, 20));
        models.push(if g == Grouping::Models {
            String::new()
        } else {
            r.models
                .iter()
                .map(|m| if m.model.is_empty() { "?" } else { m.model.as_str() })
                .collect::<Vec<_>>()
                .join(", ")
        });
    }
    let t = &report.totals;
    let total = [
        "Total".to_string(),
        thousands(t.input),
        thousands(t.output),
        thousands(t.cache_write),
        thousands(t.cache_read),
        thousands(t.total()),
        dollars(report.cost),
    ];
    let mut widths = [0usize; 7];
    for l in lines.iter().chain(std::iter::once(&total)) {
        for (w, cell) in widths.iter_mut().zip(l) {
            *w = (*w).max(cell.width());
        }
    }
    for (w, h) in widths.iter_mut().zip(head) {
        *w = (*w).max(h.width());
    }
    let first = match g {
        Grouping::Daily => "Day",
        Grouping::Weekly => "Week of",
        Grouping::Monthly => "Month",
        Grouping::Sessions => "Session",
        Grouping::Models => "Model",
        Grouping::Projects => "Project",
        Grouping::Agents => "Agent",
    };
    let render = |cells: &[String; 7]| -> String {
        let mut s = format!("{}{}", cells[0], " ".repeat(widths[0] - cells[0].width()));
        for (w, c) in widths.iter().zip(cells).skip(1) {
            s.push_str("  ");
            s.push_str(&" ".repeat(w - c.width()));
            s.push_str(c);
        }
        s
    };
    let mut out = String::new();
    let mut heading = head.map(str::to_string);
    heading[0] = first.to_string();
    out.push_str(&style.bold(&render(&heading)));
    out.push_str(&format!("  {}\n", style.bold(if by_cost { "cost" } else { "tokens" })));
    for ((l, b), m) in lines.iter().zip(&bars).zip(&models) {
        out.push_str(&render(l));
        out.push_str("  ");
        out.push_str(&style.highlight_bar(b));
        if !m.is_empty() {
            out.push_str(&format!("{}{}", " ".repeat(21 - b.chars().count().min(21)), style.dim(m)));
        }
        out.push('\n');
    }
    let rule: usize = widths.iter().sum::<usize>() + 2 * 6;
    out.push_str(&style.dim(&"─".repeat(rule)));
    out.push('\n');
    out.push_str(&style.bold(&render(&total)));
    out.push('\n');
    if report.rows_omitted > 0 {
        out.push_str(&style.dim(&format!("({} more rows in the total; --limit)\n", report.rows_omitted)));
    }
    if !report.unpriced.is_empty() {
        let names: Vec<&str> =
            report.unpriced.iter().map(|m| if m.is_empty() { "(not recorded)" } else { m.as_str() }).collect();
        out.push_str(&format!(
            "unpriced (counted at $0; add them under [prices] in the config file): {}\n",
            names.join(", ")
        ));
    }
    out.push_str(&style.dim(&format!("days in {}; prices as of {PRICES_AS_OF}\n", report.zone)));
    out
}
