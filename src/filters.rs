//! Filters that narrow a search inside retrieval (never after truncation).

use chrono::{Duration, Local, NaiveDate, NaiveTime, TimeZone};

use crate::model::{Role, TimestampMs};

/// Narrowing applied by every retrieval mode.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    /// Any of these agents (empty: all).
    pub agents: Vec<String>,
    /// A workspace filter, as [`workspace_matches`] reads it.
    pub workspace: Option<String>,
    /// Inclusive lower bound.
    pub since: Option<TimestampMs>,
    /// Exclusive upper bound.
    pub until: Option<TimestampMs>,
    /// Any of these roles (empty: all).
    pub roles: Vec<Role>,
    /// Which machine the conversation comes from (none: every machine).
    pub source: Option<SourceFilter>,
}

/// Which machine's conversations a filter keeps: this one (`local`), any
/// other (`remote`), or one configured machine by name. Every conversation
/// carries its machine (`local`, or the name `cass sources add` gave).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceFilter {
    /// Read on this machine.
    Local,
    /// Synced from any remote machine.
    Remote,
    /// Synced from the machine of this name.
    Named(String),
}

/// The source of conversations read on this machine.
pub const LOCAL_SOURCE: &str = "local";

impl SourceFilter {
    /// `local`, `remote`, or a machine's name (letters, digits, `-`, `_`).
    pub fn parse(spec: &str) -> Result<SourceFilter, String> {
        match spec.trim() {
            "local" => Ok(SourceFilter::Local),
            "remote" => Ok(SourceFilter::Remote),
            name if crate::remote::valid_name(name) => Ok(SourceFilter::Named(name.to_string())),
            other => {
                Err(format!("'{other}' is not a source: local, remote, or a machine's name (`cass sources list`)"))
            }
        }
    }

    /// The text [`SourceFilter::parse`] reads back as this filter (what
    /// `--source` takes).
    pub fn spec(&self) -> &str {
        match self {
            SourceFilter::Local => LOCAL_SOURCE,
            SourceFilter::Remote => "remote",
            SourceFilter::Named(n) => n,
        }
    }

    /// Whether a conversation from `source` passes.
    pub fn accepts(&self, source: &str) -> bool {
        match self {
            SourceFilter::Local => source == LOCAL_SOURCE,
            SourceFilter::Remote => source != LOCAL_SOURCE,
            SourceFilter::Named(n) => source == n,
        }
    }
}

impl Filters {
    /// True when nothing is narrowed.
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
            && self.workspace.is_none()
            && self.since.is_none()
            && self.until.is_none()
            && self.roles.is_empty()
            && self.source.is_none()
    }

    /// Whether a message's attributes pass (used by scans outside tantivy).
    pub fn accepts(&self, agent: &str, workspace: Option<&str>, created_at: Option<TimestampMs>, role: Role) -> bool {
        if !self.agents.is_empty() && !self.agents.iter().any(|a| a == agent) {
            return false;
        }
        if let Some(ws) = &self.workspace
            && !workspace.is_some_and(|w| workspace_matches(ws, w))
        {
            return false;
        }
        if self.since.is_some() || self.until.is_some() {
            let Some(t) = created_at else { return false };
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t >= u) {
                return false;
            }
        }
        self.roles.is_empty() || self.roles.contains(&role)
    }
}

/// Filters as people and agents write them: agent ids or names, role
/// names, time specs (`2026-01-15`, RFC 3339, `7d`, `today`). Every front
/// end validates through [`FilterSpec::build`], so a bad value reads the
/// same in the CLI and the MCP server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterSpec {
    /// Agent ids (`claude_code`) or names (`Claude Code`).
    pub agents: Vec<String>,
    /// A workspace directory (it and everything below it match) or a
    /// directory's name ([`workspace_matches`]).
    pub workspace: Option<String>,
    /// Messages at or after this time.
    pub since: Option<String>,
    /// Messages before this time (a bare date includes that whole day).
    pub until: Option<String>,
    /// `user`, `assistant`, `system`, `tool`.
    pub roles: Vec<String>,
    /// `local`, `remote`, or a machine's name ([`SourceFilter::parse`]).
    pub source: Option<String>,
}

impl FilterSpec {
    /// Validates every part into [`Filters`]; the error is one line.
    pub fn build(&self) -> Result<Filters, String> {
        let mut filters = Filters::default();
        for a in &self.agents {
            let agent: crate::model::Agent = a.parse()?;
            filters.agents.push(agent.slug().to_string());
        }
        for r in &self.roles {
            filters.roles.push(r.parse::<Role>()?);
        }
        // A blank workspace (an MCP client sending "") filters nothing.
        filters.workspace = self.workspace.clone().filter(|w| !w.trim().is_empty());
        filters.since = self.since.as_deref().map(|s| parse_time(s, Bound::Since)).transpose()?;
        filters.until = self.until.as_deref().map(|s| parse_time(s, Bound::Until)).transpose()?;
        // A blank source (an MCP client sending "") filters nothing.
        filters.source =
            self.source.as_deref().filter(|s| !s.trim().is_empty()).map(SourceFilter::parse).transpose()?;
        Ok(filters)
    }
}

/// A workspace filter read the one way every caller reads it (docs/ROBOT.md,
/// "Workspace filter"). [`workspace_matches`] applies it in Rust; the store
/// turns it into SQL (`store::query::sessions`), and a test holds the two to
/// the same answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkspaceFilter<'a> {
    /// An absolute path (it starts with `/`; trailing `/` dropped, so `/`
    /// is `""`, every absolute workspace): that directory and everything
    /// below it.
    Path(&'a str),
    /// Whole path components (`webapp`, `src/webapp`; trailing `/`
    /// dropped): a workspace with a directory of that name anywhere in its
    /// path, and everything below that directory. An empty name matches
    /// nothing.
    Name(&'a str),
}

impl<'a> WorkspaceFilter<'a> {
    /// Reads a filter as typed. Relative paths (`.`, `./x`) are not
    /// resolved here: the front end knows the current directory, the
    /// library does not.
    pub fn parse(filter: &'a str) -> WorkspaceFilter<'a> {
        let f = filter.trim_end_matches('/');
        if filter.starts_with('/') { WorkspaceFilter::Path(f) } else { WorkspaceFilter::Name(f) }
    }
}

/// Whether `filter` selects `workspace`: a path names the workspace or a
/// directory above it (`/home/me/src/webapp` selects itself and
/// `/home/me/src/webapp/sub`); a name is a run of whole components of the
/// workspace's path (`webapp` and `src/webapp` select both of those, `web`
/// and `webapp-old` neither). Case-sensitive, `/` separated, as the paths are.
pub fn workspace_matches(filter: &str, workspace: &str) -> bool {
    match WorkspaceFilter::parse(filter) {
        WorkspaceFilter::Path("") => workspace.starts_with('/'),
        WorkspaceFilter::Path(p) => {
            workspace == p || workspace.strip_prefix(p).is_some_and(|rest| rest.starts_with('/'))
        }
        WorkspaceFilter::Name(n) => !n.is_empty() && format!("/{workspace}/").contains(&format!("/{n}/")),
    }
}

/// Which end of a range a time spec is for: a bare date means the start of
/// that day for `--since` and the end of it for `--until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// `--since`: a bare date is the start of that day.
    Since,
    /// `--until`: a bare date is the end of that day (the next day's start, exclusive).
    Until,
}

/// Parses `2026-01-15`, RFC 3339, `7d`, `12h`, `30m`, `2w`, `today`, `yesterday`
/// (days in local time).
pub fn parse_time(spec: &str, bound: Bound) -> Result<TimestampMs, String> {
    let s = spec.trim().to_ascii_lowercase();
    let now = Local::now();
    let day_start =
        |d: NaiveDate| Local.from_local_datetime(&d.and_time(NaiveTime::MIN)).earliest().map(|t| t.timestamp_millis());
    let bad = || format!("cannot read time '{spec}' (try 2026-01-15, 2026-01-15T10:00:00Z, 7d, 12h, today, yesterday)");
    let day = |d: NaiveDate| -> Result<TimestampMs, String> {
        let d = if bound == Bound::Until { d.succ_opt().ok_or_else(bad)? } else { d };
        day_start(d).ok_or_else(bad)
    };
    match s.as_str() {
        "today" => return day(now.date_naive()),
        "yesterday" => return day(now.date_naive() - Duration::days(1)),
        "now" => return Ok(now.timestamp_millis()),
        _ => {}
    }
    if let Some(ms) = crate::time::parse_duration_ms(&s) {
        return Ok(now.timestamp_millis() - ms);
    }
    if let Ok(d) = NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
        return day(d);
    }
    crate::time::parse_str(spec).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute_times() {
        let now = Local::now().timestamp_millis();
        let week = parse_time("7d", Bound::Since).unwrap();
        assert!((now - week - 7 * 86_400_000).abs() < 5_000);
        let since = parse_time("2026-01-15", Bound::Since).unwrap();
        let until = parse_time("2026-01-15", Bound::Until).unwrap();
        assert_eq!(until - since, 86_400_000);
        assert_eq!(parse_time("2026-01-15T10:00:00Z", Bound::Since).unwrap(), 1_768_471_200_000);
        assert!(parse_time("today", Bound::Since).unwrap() <= now);
        assert!(parse_time("yesterday", Bound::Until).unwrap() <= now);
        assert!(parse_time("last tuesday", Bound::Since).is_err());
    }

    #[test]
    fn workspace_filter_matches_the_dir_and_below_only() {
        assert!(workspace_matches("/home/dev/api", "/home/dev/api"));
        assert!(workspace_matches("/home/dev/api/", "/home/dev/api/sub"));
        assert!(!workspace_matches("/home/dev/api", "/home/dev/api-server"));
        assert!(workspace_matches("/", "/home/dev/api"));
    }

    #[test]
    fn workspace_filter_by_name_matches_whole_components() {
        assert!(workspace_matches("webapp", "/home/me/src/webapp"));
        assert!(workspace_matches("webapp", "/home/me/src/webapp/sub"));
        assert!(workspace_matches("webapp/", "/home/me/src/webapp"));
        assert!(workspace_matches("src/webapp", "/home/me/src/webapp/sub"));
        assert!(!workspace_matches("web", "/home/me/src/webapp"));
        assert!(!workspace_matches("webapp", "/home/me/src/webapp-old"));
        assert!(!workspace_matches("webapp", "/home/me/src/old-webapp"));
        assert!(!workspace_matches("me/webapp", "/home/me/src/webapp"));
        assert!(!workspace_matches("WebApp", "/home/me/src/webapp"));
        assert!(!workspace_matches("", "/home/me/src/webapp"));
    }
}
