//! `cass sessions`: conversations, most recently active first, without a
//! query. The listing is the store's (`Reader::sessions`, which the MCP
//! server's `list_sessions` also uses); this module only renders it.

use clap::Args;
use serde_json::json;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::style::Style;
use super::{CliError, Context, exit};
use crate::export::ConversationJson;
use crate::filters::FilterSpec;
use crate::model::Conversation;
use crate::reader::SessionFilter;

#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// Only these agents (repeatable): claude_code, codex, gemini, …
    #[arg(long = "agent", value_name = "AGENT")]
    pub agents: Vec<String>,
    /// Only sessions in this workspace directory or below it (`.`: this
    /// project), or in a directory of this name (`webapp`).
    #[arg(long, value_name = "DIR|NAME")]
    pub workspace: Option<String>,
    /// Only sessions last active at or after this time: 2026-01-15, RFC 3339, 7d, 12h, today, yesterday.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only sessions last active before this time (a bare date includes that whole day).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only sessions from this machine: local (this one), remote (any
    /// other), or a machine's name (`cass sources list`).
    #[arg(long, value_name = "NAME|local|remote")]
    pub source: Option<String>,
    /// Most sessions to list.
    #[arg(long, short = 'n', default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: u64,
    /// Sessions to skip (for paging: use the previous `next_offset`).
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    #[command(flatten)]
    pub robot: super::robot::RobotArgs,
}

/// Lists the sessions; exit 0 when there is at least one, 1 when none
/// matches (as `search` with no hits).
pub fn run(cx: &Context, args: &SessionsArgs) -> Result<i32, CliError> {
    let cass = cx.cass()?;
    let workspace = super::workspace::resolve(&cass, args.workspace.as_deref())?;
    let f = FilterSpec {
        agents: args.agents.clone(),
        workspace,
        since: args.since.clone(),
        until: args.until.clone(),
        roles: Vec::new(),
        source: super::sources::check_source(&cass, args.source.as_deref())?,
    }
    .build()
    .map_err(CliError::usage)?;
    let filter =
        SessionFilter { agents: f.agents, workspace: f.workspace, since: f.since, until: f.until, source: f.source };
    let reader = cass.reader()?;
    let (limit, offset) = (args.limit.min(i64::MAX as u64) as i64, args.offset.min(i64::MAX as u64) as i64);
    let sessions = reader.sessions(&filter, limit, offset)?;
    let total = reader.session_count(&filter)?;
    let next = offset + sessions.len() as i64;
    let next_offset = (next < total).then_some(next);
    if args.robot.on() {
        let doc = json!({
            "sessions": sessions.iter().map(ConversationJson::new).collect::<Vec<_>>(),
            "total": total,
            "next_offset": next_offset,
            "workspace": filter.workspace,
        });
        super::robot::print(&doc, &args.robot)?;
    } else {
        super::write_stdout(&table(&sessions, total, next_offset, Style::for_stdout(cx.global.color)))?;
    }
    Ok(if sessions.is_empty() { exit::NOT_FOUND } else { exit::OK })
}

/// Widest a title column grows before titles are cut with `…`.
const TITLE_WIDTH: usize = 48;
/// Widest the workspace column is padded to (longer paths push the source path right).
const WORKSPACE_WIDTH: usize = 40;

/// One line per session, columns aligned: id, first → last activity,
/// agent, messages, title, workspace, source file.
fn table(sessions: &[Conversation], total: i64, next_offset: Option<i64>, style: Style) -> String {
    let rows: Vec<[String; 7]> = sessions
        .iter()
        .map(|c| {
            [
                c.id.to_string(),
                span(c.started_at, c.ended_at),
                c.agent.clone(),
                format!("{} msg{}", c.message_count, if c.message_count == 1 { "" } else { "s" }),
                cut(&c.title.as_deref().map(super::visible).unwrap_or_else(|| "(untitled)".into()), TITLE_WIDTH),
                c.workspace.as_deref().map(super::visible).unwrap_or_else(|| "-".into()),
                super::visible(&c.source_path.display().to_string()),
            ]
        })
        .collect();
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.width());
        }
    }
    widths[5] = widths[5].min(WORKSPACE_WIDTH);
    let pad = |s: &str, w: usize| " ".repeat(w.saturating_sub(s.width()));
    let mut out = String::new();
    for r in &rows {
        let [id, when, agent, msgs, title, ws, source] = r;
        out.push_str(&format!(
            "{}{id}  {}{}  {}{}  {}{msgs}  {}{}  {}{}  {}\n",
            pad(id, widths[0]),
            style.dim(when),
            pad(when, widths[1]),
            style.agent(agent),
            pad(agent, widths[2]),
            pad(msgs, widths[3]),
            style.bold(title),
            pad(title, widths[4]),
            style.dim(ws),
            pad(ws, widths[5]),
            style.dim(source),
        ));
    }
    if rows.is_empty() {
        let why = if total > 0 { "no session past --offset" } else { "no session matches these filters" };
        return format!("{why} ({total} in all)\n");
    }
    let more = next_offset.map(|o| format!("; more with --offset {o}")).unwrap_or_default();
    let noun = if total == 1 { "session" } else { "sessions" };
    out.push_str(&format!("{} of {total} {noun}, most recently active first{more}\n", rows.len()));
    out.push_str(&style.dim("`cass view ID` prints one"));
    out.push('\n');
    out
}

/// `2026-03-10 14:02 → 15:30` (same day), `2026-03-08 09:00 → 03-10 15:30`
/// (same year), else both in full; one time when both read the same; `-`
/// when the agent recorded no time.
fn span(start: Option<i64>, end: Option<i64>) -> String {
    match (start, end) {
        (Some(a), Some(b)) if super::local_time(a) != super::local_time(b) => {
            let (a, b) = (super::local_time(a), super::local_time(b));
            let last = if a.get(..10) == b.get(..10) {
                b.get(11..).unwrap_or(&b)
            } else if a.get(..5) == b.get(..5) {
                b.get(5..).unwrap_or(&b)
            } else {
                &b
            };
            format!("{a} → {last}")
        }
        (Some(t), _) | (None, Some(t)) => super::local_time(t),
        (None, None) => "-".into(),
    }
}

/// `s` in at most `width` columns, the last being `…` when cut.
fn cut(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_cut_to_their_column() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("a longer title", 8), "a longe…");
        assert_eq!(cut("日本語のタイトル", 7).width(), 7);
    }
}
