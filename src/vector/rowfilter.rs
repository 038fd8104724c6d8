//! Search filters compiled against one segment's string tables, checked
//! per row from the columns beside the vectors (no round trip to SQLite).

use super::segment::Segment;
use crate::filters::{Filters, workspace_matches};

/// A filter on message ids for what rows do not carry (the machine a
/// message comes from): checked per row with the others, before scoring.
pub type KeepId<'a> = &'a (dyn Fn(i64) -> bool + Sync);

/// The filters and the id filter, compiled for one segment.
pub(super) struct RowFilter<'a> {
    agents: Option<Vec<bool>>,
    workspaces: Option<Vec<bool>>,
    since: Option<i64>,
    until: Option<i64>,
    roles: Vec<crate::model::Role>,
    keep: Option<KeepId<'a>>,
    /// Nothing to check: every row is accepted.
    pub everything: bool,
}

impl<'a> RowFilter<'a> {
    pub(super) fn new(seg: &Segment, f: &Filters, keep: Option<KeepId<'a>>) -> RowFilter<'a> {
        RowFilter {
            agents: (!f.agents.is_empty()).then(|| seg.agents.iter().map(|a| f.agents.contains(a)).collect()),
            workspaces: f.workspace.as_ref().map(|w| seg.workspaces.iter().map(|s| workspace_matches(w, s)).collect()),
            since: f.since,
            until: f.until,
            roles: f.roles.clone(),
            keep,
            everything: f.is_empty() && keep.is_none(),
        }
    }

    /// Whether row `i` of `seg` passes every filter.
    pub(super) fn accepts(&self, seg: &Segment, i: usize) -> bool {
        if self.everything {
            return true;
        }
        if let Some(a) = &self.agents
            && !a.get(seg.agent_index(i)).copied().unwrap_or(false)
        {
            return false;
        }
        if let Some(w) = &self.workspaces
            && !seg.workspace_index(i).is_some_and(|x| w.get(x).copied().unwrap_or(false))
        {
            return false;
        }
        if self.since.is_some() || self.until.is_some() {
            let Some(t) = seg.created_at(i) else {
                return false;
            };
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t >= u) {
                return false;
            }
        }
        if !self.roles.is_empty() && !self.roles.contains(&seg.role(i)) {
            return false;
        }
        self.keep.is_none_or(|keep| keep(seg.message_id(i)))
    }
}
