//! Where each agent's sessions are and what became of them: the facts behind
//! `cass sources` and the per-agent part of `cass index`. Built from
//! discovery (a stat walk of every root) and the store's counters, so it
//! never indexes and never takes the writer lock.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use super::Problem;
use super::discover::{Candidate, Plan, RootReport, StateMap, discover, plan};
use crate::config::DataDir;
use crate::connectors::{self, AgentEnv, Connector};
use crate::store::query::{self, SourceErrors};
use crate::store::{Store, StoreError};

/// Recorded problems of one agent's sources.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AgentHealth {
    /// Bad lines or records recorded against its files (valid ones indexed).
    pub malformed: i64,
    /// Files (or directories) found but not readable, with the reason.
    pub unreadable: Vec<Problem>,
}

/// Attributes recorded errors and walk problems to the agent whose source
/// (or root) they concern. Only sources found now are counted.
pub fn agent_health(
    roots: &[Vec<RootReport>],
    candidates: &[Candidate],
    walk_problems: &[(PathBuf, String)],
    errors: &HashMap<String, SourceErrors>,
) -> Vec<AgentHealth> {
    let mut out = vec![AgentHealth::default(); roots.len()];
    for c in candidates {
        if let Some(e) = errors.get(c.path.to_string_lossy().as_ref()) {
            let h = &mut out[c.connector];
            h.malformed += e.malformed;
            if let Some(reason) = &e.unreadable {
                h.unreadable.push(Problem { path: c.path.clone(), error: reason.clone() });
            }
        }
    }
    // A walk problem belongs to the agent with the most specific root above
    // it (Aider's root is $HOME, which holds every other agent's).
    for (path, error) in walk_problems {
        let owner = roots
            .iter()
            .enumerate()
            .flat_map(|(i, rs)| rs.iter().map(move |r| (i, r)))
            .filter(|(_, r)| path.starts_with(&r.path))
            .max_by_key(|(_, r)| r.path.components().count());
        if let Some((i, _)) = owner {
            out[i].unreadable.push(Problem { path: path.clone(), error: error.clone() });
        }
    }
    out
}

/// One agent in `cass sources`.
#[derive(Debug, Clone, Serialize)]
pub struct AgentSources {
    /// The agent's slug.
    pub agent: &'static str,
    /// The agent's display name.
    pub name: &'static str,
    /// Every place looked, whether it exists, and how many sources it holds.
    pub roots: Vec<RootReport>,
    /// Sources found now.
    pub files: usize,
    /// Sources found that are new or changed since the last `cass index`.
    pub files_pending: usize,
    /// What the store holds for this agent.
    pub conversations: i64,
    /// Messages the store holds for this agent.
    pub messages: i64,
    /// Bad records and unreadable files or directories among its sources.
    #[serde(flatten)]
    pub health: AgentHealth,
}

/// The whole `cass sources` answer.
#[derive(Debug, Clone, Serialize)]
pub struct SourcesReport {
    /// The data directory surveyed.
    pub data_dir: PathBuf,
    /// False before the first `cass index` (counts are then zero).
    pub indexed: bool,
    /// Every agent cass knows, in connector order (their roots are this
    /// machine's; their counts include what remote machines contributed).
    pub agents: Vec<AgentSources>,
    /// The remote machines `cass sources add` configured, in that order.
    pub remotes: Vec<RemoteSources>,
}

/// One remote machine in `cass sources`.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteSources {
    /// The machine's name (the `source` of its conversations).
    pub name: String,
    /// `user@host` as ssh takes it.
    pub destination: String,
    /// The SSH port, when set.
    pub port: Option<u16>,
    /// The private key, when set.
    pub identity: Option<PathBuf>,
    /// The agents synced (empty: all).
    pub agents: Vec<String>,
    /// Workspace mappings.
    pub paths: Vec<crate::remote::PathMap>,
    /// Where its files are mirrored.
    pub mirror: PathBuf,
    /// When it was last synced successfully (RFC 3339), if ever.
    pub last_sync: Option<String>,
    /// When the last attempt ended, if any.
    pub last_attempt: Option<String>,
    /// The last attempt's error; absent when it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The last successful sync's counts.
    pub last_transfer: Option<crate::remote::sync::Transfer>,
    /// Its conversations in the store.
    pub conversations: i64,
    /// Their messages.
    pub messages: i64,
}

/// Every configured machine with its last sync and what the store holds of it.
pub fn remote_sources(data: &DataDir, store: Option<&Store>) -> Result<Vec<RemoteSources>, crate::remote::RemoteError> {
    let totals = match store {
        Some(s) => crate::store::remote::source_totals(s).unwrap_or_default(),
        None => Vec::new(),
    };
    let rfc = |t: Option<i64>| t.map(crate::time::to_rfc3339);
    let mut out = Vec::new();
    for m in crate::remote::Machines::load(data)?.machines {
        let state = crate::remote::SyncState::load(data, &m.name).unwrap_or_default();
        let t = totals.iter().find(|t| t.source == m.name);
        out.push(RemoteSources {
            destination: m.destination(),
            port: m.port,
            identity: m.identity.clone(),
            agents: m.agents.clone(),
            paths: m.paths.clone(),
            mirror: crate::remote::mirror_dir(data, &m.name),
            last_sync: rfc(state.last_sync_at),
            last_attempt: rfc(state.last_attempt_at),
            last_error: state.last_error.clone(),
            last_transfer: state.last.clone(),
            conversations: t.map_or(0, |t| t.conversations),
            messages: t.map_or(0, |t| t.messages),
            name: m.name,
        });
    }
    Ok(out)
}

/// Why `cass sources` could not survey.
#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The machines list could not be read.
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
}

/// Surveys every agent: discovery plus the store's counters, read-only.
pub fn survey(data: &DataDir, env: &AgentEnv) -> Result<SourcesReport, SourcesError> {
    let connectors = connectors::configured(env);
    let mut problems = Vec::new();
    let remotes = crate::remote::Origin::all(data)?;
    let (roots, candidates) = discover(&connectors, env, &remotes, &mut problems);
    let store = match Store::open_readonly(&data.db()) {
        Ok(s) => Some(s),
        Err(StoreError::Missing(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let (totals, errors, states) = match &store {
        Some(s) => (query::agent_totals(s)?, query::source_errors(s)?, crate::store::ingest::load_file_states(s)?),
        None => (Vec::new(), HashMap::new(), StateMap::new()),
    };
    let health = agent_health(&roots, &candidates, &problems, &errors);
    let agents = connectors
        .iter()
        .zip(roots)
        .zip(health)
        .enumerate()
        .map(|(i, ((c, roots), health))| {
            let t = totals.iter().find(|t| t.agent == c.agent().slug());
            AgentSources {
                agent: c.agent().slug(),
                name: c.agent().display_name(),
                files: roots.iter().map(|r| r.files).sum(),
                files_pending: pending(&**c, i, &candidates, &states),
                roots,
                conversations: t.map_or(0, |t| t.conversations),
                messages: t.map_or(0, |t| t.messages),
                health,
            }
        })
        .collect();
    let remotes = remote_sources(data, store.as_ref())?;
    Ok(SourcesReport { data_dir: data.root().to_path_buf(), indexed: store.is_some(), agents, remotes })
}

fn pending(conn: &dyn Connector, index: usize, candidates: &[Candidate], states: &StateMap) -> usize {
    candidates
        .iter()
        .filter(|c| c.connector == index && c.origin == 0)
        .filter(|c| plan(c, conn.layout(&c.path), states.get(c.path.to_string_lossy().as_ref()), false) != Plan::Skip)
        .count()
}
