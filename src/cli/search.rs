//! `cass search`.

use clap::Args;

use super::style::Style;
use super::{CliError, Context, exit};
use crate::filters::FilterSpec;
use crate::search::{SearchError, SearchRequest, SearchResults};

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words (all must match), `a OR b`, `AND`, `NOT x` / `-x`, `( … )`,
    /// `"a phrase"`, `prefix*`, `*suffix`, `*infix*` (docs/ROBOT.md). Words
    /// starting with `-` that are not search's flags (`->`, `-async`) are
    /// query text. None (or `*`) with a filter lists the newest messages it
    /// matches.
    #[arg(num_args = 0.., value_name = "QUERY")]
    pub query: Vec<String>,
    /// Only these agents (repeatable): claude_code, codex, gemini, …
    #[arg(long = "agent", value_name = "AGENT")]
    pub agents: Vec<String>,
    /// Only sessions in this workspace directory or below it (`.`: this
    /// project), or in a directory of this name (`webapp`).
    #[arg(long, value_name = "DIR|NAME")]
    pub workspace: Option<String>,
    /// Only messages at or after this time: 2026-01-15, RFC 3339, 7d, 12h, today, yesterday.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only messages before this time (a bare date includes that whole day).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only messages of this role (repeatable): user, assistant, system, tool.
    #[arg(long = "role", value_name = "ROLE")]
    pub roles: Vec<String>,
    /// Only conversations from this machine: local (this one), remote (any
    /// other), or a machine's name (`cass sources list`).
    #[arg(long, value_name = "NAME|local|remote")]
    pub source: Option<String>,
    /// Most hits to return.
    #[arg(long, short = 'n', default_value_t = 10, env = "CASS_SEARCH_LIMIT")]
    pub limit: usize,
    /// Hits to skip (for paging: use the previous `next_offset`).
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// lexical, semantic or hybrid (default: hybrid with the best published
    /// semantic tier, else lexical).
    #[arg(long, value_enum)]
    pub mode: Option<crate::search::Mode>,
    /// The semantic tier to use (default: quality if published, else fast).
    #[arg(long, value_enum)]
    pub tier: Option<crate::embed::Tier>,
    /// session (the best hit of each session, with how many more matched;
    /// the default on a terminal) or message (every matching message; the
    /// default with --json).
    #[arg(long, visible_alias = "group", value_enum, value_name = "BY")]
    pub group_by: Option<GroupBy>,
    /// relevance (best first; recent sessions gently preferred among
    /// comparable scores), recent (newest first) or oldest.
    #[arg(long, value_enum, default_value_t, value_name = "ORDER")]
    pub sort: crate::search::Sort,
    /// Robot output: stop adding hits once the answer's estimated size
    /// reaches N tokens (a token per 4 bytes, as laid out by --format).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tokens: Option<u64>,
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

/// What one hit stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    /// Every matching message.
    Message,
    /// The best hit of each session.
    #[value(alias = "conversation")]
    Session,
}

pub(crate) fn usage(msg: impl Into<String>) -> CliError {
    CliError::usage(msg)
}

/// Turns flags into a validated request: every error surfaces here, before
/// any index is opened. Without `--mode`/`--tier`, the settings' preferred
/// mode and tier apply (used when they can run, else the default and a note).
pub fn build_request(cass: &crate::Cass, args: &SearchArgs) -> Result<SearchRequest, CliError> {
    let filters = FilterSpec {
        agents: args.agents.clone(),
        workspace: super::workspace::resolve(cass, args.workspace.as_deref())?,
        since: args.since.clone(),
        until: args.until.clone(),
        roles: args.roles.clone(),
        source: super::sources::check_source(cass, args.source.as_deref())?,
    }
    .build()
    .map_err(usage)?;
    let text = args.query.join(" ");
    let mut req = cass.request(&text, filters, args.limit, args.offset).map_err(search_error)?;
    if args.mode.is_some() || args.tier.is_some() {
        req.mode = args.mode;
        req.tier = args.tier;
        req.preferred = false;
    }
    // People read sessions; programs get every message unless they ask.
    let group = args.group_by.unwrap_or(if args.robot.on() { GroupBy::Message } else { GroupBy::Session });
    req.one_per_conversation = group == GroupBy::Session;
    req.sort = args.sort;
    Ok(req)
}

pub(crate) fn search_error(e: SearchError) -> CliError {
    e.into()
}

pub fn run(cx: &Context, args: &SearchArgs) -> Result<i32, CliError> {
    let mut settings = cx.settings()?;
    if args.mode.is_none() && args.tier.is_none() {
        settings.search = cx.env.search_settings()?;
    }
    let cass = crate::Cass::open(settings);
    let req = build_request(&cass, args)?;
    let searcher = cass.searcher().map_err(search_error)?;
    let results = searcher.search(&req).map_err(search_error)?;
    // "Not found" stays a precise answer: partial matches (most of the
    // words) are shown, but only a message matching them all is a hit.
    let full = results.total.saturating_sub(results.partial_matches);
    let code = if results.hits.is_empty() || full == 0 { exit::NOT_FOUND } else { exit::OK };
    if args.robot.on() {
        let doc = serde_json::to_value(&results).map_err(|e| CliError::new("internal", exit::USAGE, e.to_string()))?;
        let mut doc = super::robot::shape_document(doc, &args.robot.shape()?);
        if let Some(budget) = args.max_tokens {
            crate::robot::fit(&mut doc, "hits", budget as usize, args.robot.layout(), req.offset);
        }
        super::write_stdout(&super::robot::render(doc, args.robot.layout()))?;
    } else {
        print_human(&results, Style::for_stdout(cx.global.color))?;
    }
    Ok(code)
}

fn print_human(r: &SearchResults, style: Style) -> Result<(), CliError> {
    use std::fmt::Write;
    let mut out = String::new();
    for hit in &r.hits {
        let when = hit.created_at.map(super::local_time).unwrap_or_else(|| "-".into());
        let title = hit.title.as_deref().map(super::visible).unwrap_or_else(|| "(untitled)".into());
        let ws = hit.workspace.as_deref().map(super::visible).unwrap_or_default();
        // A remote machine's hit says where it comes from.
        let machine =
            if hit.source == crate::filters::LOCAL_SOURCE { String::new() } else { format!("@{} ", hit.source) };
        let _ = writeln!(
            out,
            "{} {}{} {} {}",
            style.agent(&hit.agent),
            style.dim(&machine),
            style.dim(&when),
            style.bold(&title),
            style.dim(&ws)
        );
        let mut snippet = String::new();
        let mut last = 0;
        for &(a, b) in &hit.snippet.highlights {
            snippet.push_str(&hit.snippet.text[last..a]);
            snippet.push_str(&style.highlight(&hit.snippet.text[a..b]));
            last = b;
        }
        snippet.push_str(&hit.snippet.text[last..]);
        let _ = writeln!(out, "  {} {}", style.dim(&format!("{}:", hit.role)), snippet);
        let partial = if hit.partial { " · partial match (most of the words)" } else { "" };
        let more = match hit.more_in_conversation {
            Some(n) if n > 0 => format!(" · {n} more {} in this session", if n == 1 { "match" } else { "matches" }),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {}",
            style.dim(&format!("cass expand {} · cass view {}{more}{partial}", hit.message_id, hit.conversation_id))
        );
        out.push('\n');
    }
    let more = r.next_offset.map(|o| format!("; more with --offset {o}")).unwrap_or_default();
    // Which engine answered: a person comparing runs needs it as much as a robot.
    let ran = match r.tier {
        Some(t) => format!("{}, {t} tier", r.mode),
        None => r.mode.to_string(),
    };
    let ran = if r.browse { "no words: the newest messages the filters match".to_string() } else { ran };
    let hits = crate::words::noun(r.total, "hit");
    let _ = writeln!(out, "{} of {} {hits} in {:.1} ms ({ran}){more}", r.hits.len(), r.total, r.elapsed_ms);
    if let Some(why) = &r.fallback {
        let _ = writeln!(out, "{}", style.dim(&format!("note: {why}")));
    }
    if let (Some(t), Some(lag)) = (r.tier, &r.tier_lag) {
        let new = crate::words::count(lag.pending_rows, "new message");
        let why = format!("the {t} tier does not hold {new} yet (see `cass status`)");
        let _ = writeln!(out, "{}", style.dim(&format!("note: {why}")));
    }
    super::write_stdout(&out)
}
