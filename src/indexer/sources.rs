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
    /// Every agent cass knows, in connector order.
    pub agents: Vec<AgentSources>,
}

/// Surveys every agent: discovery plus the store's counters, read-only.
pub fn survey(data: &DataDir, env: &AgentEnv) -> Result<SourcesReport, StoreError> {
    let connectors = connectors::all();
    let mut problems = Vec::new();
    let (roots, candidates) = discover(&connectors, env, &mut problems);
    let store = match Store::open_readonly(&data.db()) {
        Ok(s) => Some(s),
        Err(StoreError::Missing(_)) => None,
        Err(e) => return Err(e),
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
    Ok(SourcesReport { data_dir: data.root().to_path_buf(), indexed: store.is_some(), agents })
}

fn pending(conn: &dyn Connector, index: usize, candidates: &[Candidate], states: &StateMap) -> usize {
    candidates
        .iter()
        .filter(|c| c.connector == index)
        .filter(|c| plan(c, conn.layout(&c.path), states.get(c.path.to_string_lossy().as_ref()), false) != Plan::Skip)
        .count()
}
