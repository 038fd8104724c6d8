//! The browse list: before anything is typed (and whenever the query is
//! cleared), the most recently active sessions, newest first, narrowed by
//! the agent, workspace and time chips. Enter opens one from its start.
//!
//! Pages are read on the search thread ([`super::worker`]) through a
//! [`crate::Reader`] ([`crate::Reader::sessions`]): the query reads the
//! conversations table only, but sorts all of it by last activity (about
//! 100 ms at 100,000 conversations, with no index on that order), which
//! the UI thread must not wait for. Answers carry the UI's search
//! generation, so a page asked for before the query changed is dropped.

use crate::SessionFilter;
use crate::model::Conversation;

/// Sessions read per page.
pub const PAGE: i64 = 50;

/// A page of the browse list to read.
#[derive(Debug, Clone)]
pub struct BrowseRequest {
    /// The UI's search counter when it was asked for; the answer carries it back.
    pub generation: u64,
    /// The chips' agent, workspace and time, as a session filter.
    pub filter: SessionFilter,
    /// Sessions to skip (those already listed); 0 reads the list afresh.
    pub offset: i64,
}

/// The sessions listed, the selection, and what is on its way.
#[derive(Debug, Default)]
pub struct Browse {
    /// Sessions read so far, most recently active first.
    pub sessions: Vec<Conversation>,
    /// Index of the selected session.
    pub selected: usize,
    /// First visible session (kept by the view so the selection stays in sight).
    pub scroll: usize,
    /// The last page was full: more sessions may follow.
    pub more: bool,
    /// A page is on its way.
    pub pending: bool,
    /// Why the last read failed, in words.
    pub failure: Option<String>,
    /// The filter of the listed sessions; later pages reuse it.
    filter: Option<SessionFilter>,
}

impl Browse {
    /// The session under the selection.
    pub fn selected(&self) -> Option<&Conversation> {
        self.sessions.get(self.selected)
    }

    /// Takes a page read for `request`: the first replaces the list (the
    /// selection stays on the same session when it is still listed, as
    /// when the list is read again after an index run), later ones extend it.
    pub fn apply(&mut self, request: &BrowseRequest, page: Result<Vec<Conversation>, String>) {
        self.pending = false;
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                self.failure = Some(e);
                self.more = false;
                return;
            }
        };
        self.failure = None;
        self.more = page.len() as i64 == PAGE;
        if request.offset > 0 {
            self.sessions.extend(page);
            return;
        }
        let keep = self.selected().map(|c| c.id);
        self.sessions = page;
        self.filter = Some(request.filter.clone());
        self.selected = keep.and_then(|id| self.sessions.iter().position(|c| c.id == id)).unwrap_or(0);
        self.scroll = self.scroll.min(self.selected);
    }

    /// Moves the selection by `delta`; when it comes within `visible` rows
    /// of the end and more may follow, the next page to ask for (as of
    /// `generation`).
    pub fn move_selection(&mut self, delta: isize, visible: usize, generation: u64) -> Option<BrowseRequest> {
        let n = self.sessions.len();
        if n == 0 {
            return None;
        }
        self.selected = (self.selected as isize + delta).clamp(0, n as isize - 1) as usize;
        let near_end = self.selected + visible.max(1) >= n;
        let filter = self.filter.as_ref().filter(|_| near_end && self.more && !self.pending)?;
        self.pending = true;
        Some(BrowseRequest { generation, filter: filter.clone(), offset: n as i64 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(id: i64) -> Conversation {
        Conversation {
            id,
            agent: "codex".into(),
            external_id: id.to_string(),
            source_path: format!("/s/{id}.jsonl").into(),
            title: None,
            workspace: None,
            started_at: None,
            ended_at: None,
            message_count: 1,
            source: crate::filters::LOCAL_SOURCE.to_string(),
            origin_path: None,
        }
    }

    #[test]
    fn pages_extend_the_list_and_a_reload_keeps_the_selected_session() {
        let first = BrowseRequest { generation: 1, filter: SessionFilter::default(), offset: 0 };
        let mut b = Browse::default();
        b.apply(&first, Ok((1..=PAGE).map(conv).collect()));
        assert!(b.more);
        assert!(b.move_selection(3, 10, 1).is_none(), "far from the end");
        let next = b.move_selection(PAGE as isize, 10, 1).expect("the end asks for more");
        assert_eq!(next.offset, PAGE);
        assert!(b.move_selection(-1, 10, 1).is_none(), "asked once while it is on its way");
        b.apply(&next, Ok(vec![conv(PAGE + 1)]));
        assert_eq!(b.sessions.len() as i64, PAGE + 1);
        assert!(!b.more && !b.pending, "a short page is the last");
        // Read again (the index changed): the same session stays selected where it now is.
        b.selected = 2;
        b.apply(&first, Ok(vec![conv(99), conv(1), conv(2), conv(3)]));
        assert_eq!(b.selected().map(|c| c.id), Some(3));
        b.apply(&first, Err("busy".into()));
        assert_eq!(b.failure.as_deref(), Some("busy"));
        assert_eq!(b.sessions.len(), 4, "a failed read keeps what was listed");
    }
}
