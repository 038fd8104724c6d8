//! The detail pane: a window of one conversation around a hit.
//!
//! Only a window of messages is loaded (a page either side of the hit), and it
//! grows a page at a time when the cursor reaches an edge, up to
//! [`MAX_WINDOW`] messages, dropping the far side beyond that: a session with
//! a hundred thousand messages costs no more memory than a short one.

use std::collections::VecDeque;

use ratatui::style::Style;

use super::blocks::{self, Block, BlockKind, Marks};
use super::text::{self, Styled};
use super::theme::Theme;
use crate::model::{Conversation, Role, StoredMessage, TimestampMs};
use crate::{ReadError, Reader};

/// Messages loaded per step.
pub const PAGE: i64 = 40;
/// Most messages held at once.
pub const MAX_WINDOW: usize = 10 * PAGE as usize;
/// Messages loaded above the hit when a conversation opens.
const BEFORE_HIT: i64 = 10;

/// One message, cut into blocks.
#[derive(Debug, Clone)]
pub struct MessageView {
    /// Message id in the store.
    pub id: i64,
    /// Its position in the conversation.
    pub ordinal: i64,
    /// Who spoke it.
    pub role: Role,
    /// The model or person that wrote it, on one line.
    pub author: Option<String>,
    /// When it was written, if known.
    pub created_at: Option<TimestampMs>,
    /// Its content cut into text, code and tool blocks.
    pub blocks: Vec<Block>,
}

impl MessageView {
    fn new(m: StoredMessage, theme: Theme, marks: &Marks) -> MessageView {
        MessageView {
            blocks: blocks::parse(m.role, &m.content, theme, marks),
            id: m.id,
            ordinal: m.ordinal,
            role: m.role,
            author: m.author.map(|a| text::one_line(&a)),
            created_at: m.created_at,
        }
    }
}

/// Which part of the transcript a display line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// "More messages above/below" marker.
    Edge,
    /// The message's header line: role, author, time, id.
    Header,
    /// One of the message's blocks, by index (every line of it).
    Block(usize),
    /// The blank line after a message.
    Gap,
}

/// The part of a message a display line shows, so the cursor keeps its
/// place when lines re-wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// The message the line belongs to.
    pub message_id: i64,
    /// Which part of it.
    pub part: Part,
}

/// One wrapped display line and what it shows.
#[derive(Debug, Clone)]
pub struct DetailLine {
    /// The line's styled text, already cut to the pane's width.
    pub text: Styled,
    /// What it shows.
    pub anchor: Anchor,
}

/// An end of the loaded window, where more messages may be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// Towards the conversation's start.
    Before,
    /// Towards its end.
    After,
}

/// One conversation open in the detail pane, a window of its messages loaded.
pub struct Detail {
    /// The conversation, as the store has it.
    pub conversation: Conversation,
    /// The loaded messages, in ordinal order.
    pub messages: VecDeque<MessageView>,
    /// Id of the hit the conversation was opened on (marked `▶`); `None`
    /// when it was opened from the browse list, at its start.
    pub hit_id: Option<i64>,
    /// Earlier messages exist that are not loaded.
    pub more_before: bool,
    /// Later messages exist that are not loaded.
    pub more_after: bool,
    /// Index of the cursor line in the layout.
    pub cursor: usize,
    /// First visible line.
    pub scroll: usize,
    /// Scroll so the hit shows near the top at the next render.
    pub reveal_cursor: bool,
    theme: Theme,
    marks: Marks,
    /// Width of the last layout, kept when the layout is dropped so the
    /// cursor is placed against the width the pane really has.
    width: usize,
    layout: Option<(usize, Vec<DetailLine>)>,
}

impl Detail {
    /// Loads the conversation of `message_id` around it, marking the words
    /// of `query`; `None` when the message is gone (replaced by a re-index
    /// since the search ran).
    pub fn load(reader: &Reader, message_id: i64, query: &str, theme: Theme) -> Result<Option<Detail>, ReadError> {
        let marks = Marks::from_query(query);
        let Some(hit) = reader.message(message_id)? else { return Ok(None) };
        let Some(conversation) = reader.conversation(hit.conversation_id)? else { return Ok(None) };
        let before = reader.messages_before(conversation.id, hit.ordinal, BEFORE_HIT + 1)?;
        let after = reader.messages_after(conversation.id, hit.ordinal, PAGE + 1)?;
        let more_before = before.len() as i64 > BEFORE_HIT;
        let more_after = after.len() as i64 > PAGE;
        let skip = before.len().saturating_sub(BEFORE_HIT as usize);
        let mut messages = before
            .into_iter()
            .skip(skip)
            .chain(std::iter::once(hit))
            .chain(after.into_iter().take(PAGE as usize))
            .map(|m| MessageView::new(m, theme, &marks))
            .collect::<VecDeque<_>>();
        // The hit is what the reader came for: its tool blocks open expanded.
        for m in messages.iter_mut().filter(|m| m.id == message_id) {
            m.blocks.iter_mut().for_each(|b| b.expanded = true);
        }
        let mut detail = Detail {
            conversation,
            messages,
            hit_id: Some(message_id),
            more_before,
            more_after,
            cursor: 0,
            scroll: 0,
            reveal_cursor: true,
            theme,
            marks,
            width: 80,
            layout: None,
        };
        detail.cursor_to(Anchor { message_id, part: Part::Header });
        Ok(Some(detail))
    }

    /// Loads conversation `id` from its first message (a session opened
    /// from the browse list: no hit, nothing marked); `None` when it is
    /// gone (removed by an index run since the list was read).
    pub fn load_session(reader: &Reader, id: i64, theme: Theme) -> Result<Option<Detail>, ReadError> {
        let Some(conversation) = reader.conversation(id)? else { return Ok(None) };
        let rows = reader.messages_after(id, -1, PAGE + 1)?;
        let more_after = rows.len() as i64 > PAGE;
        let marks = Marks::default();
        let messages: VecDeque<MessageView> =
            rows.into_iter().take(PAGE as usize).map(|m| MessageView::new(m, theme, &marks)).collect();
        let Some(first) = messages.front().map(|m| m.id) else { return Ok(None) };
        let mut detail = Detail {
            conversation,
            messages,
            hit_id: None,
            more_before: false,
            more_after,
            cursor: 0,
            scroll: 0,
            reveal_cursor: true,
            theme,
            marks,
            width: 80,
            layout: None,
        };
        detail.cursor_to(Anchor { message_id: first, part: Part::Header });
        Ok(Some(detail))
    }

    /// Loads a page more at `edge` and steps the cursor onto it.
    pub fn extend(&mut self, reader: &Reader, edge: Edge) -> Result<(), ReadError> {
        // The edge marker belongs to the message next to it; after loading,
        // the cursor goes back to that message and one line on.
        let keep = self
            .cursor_anchor()
            .map(|a| Anchor { part: if a.part == Part::Edge { Part::Header } else { a.part }, ..a });
        let at = self.cursor;
        let mut dropped_front = false;
        match edge {
            Edge::Before => {
                let Some(first) = self.messages.front() else { return Ok(()) };
                let rows = reader.messages_before(self.conversation.id, first.ordinal, PAGE + 1)?;
                self.more_before = rows.len() as i64 > PAGE;
                let skip = rows.len().saturating_sub(PAGE as usize);
                for m in rows.into_iter().skip(skip).rev() {
                    self.messages.push_front(MessageView::new(m, self.theme, &self.marks));
                }
                while self.messages.len() > MAX_WINDOW {
                    self.messages.pop_back();
                    self.more_after = true;
                }
            }
            Edge::After => {
                let Some(last) = self.messages.back() else { return Ok(()) };
                let rows = reader.messages_after(self.conversation.id, last.ordinal, PAGE + 1)?;
                self.more_after = rows.len() as i64 > PAGE;
                for m in rows.into_iter().take(PAGE as usize) {
                    self.messages.push_back(MessageView::new(m, self.theme, &self.marks));
                }
                while self.messages.len() > MAX_WINDOW {
                    self.messages.pop_front();
                    self.more_before = true;
                    dropped_front = true;
                }
            }
        }
        self.layout = None;
        if edge == Edge::After && !dropped_front {
            // Lines above were untouched: the marker's line now starts the new page.
            self.cursor = at;
        } else if let Some(a) = keep {
            self.cursor_to(a);
        }
        if edge == Edge::Before {
            self.move_cursor(-1);
        }
        Ok(())
    }

    /// The display lines at `width` (cached until width or content changes).
    pub fn lines(&mut self, width: usize) -> &[DetailLine] {
        self.width = width;
        if self.layout.as_ref().is_none_or(|(w, _)| *w != width) {
            let keep = self.layout.as_ref().and_then(|(_, l)| l.get(self.cursor)).map(|l| l.anchor);
            self.layout = Some((width, layout(self, width)));
            if let Some(a) = keep {
                self.cursor_to(a);
            }
        }
        &self.layout.as_ref().expect("just built").1
    }

    fn width(&self) -> usize {
        self.width
    }

    fn cursor_anchor(&mut self) -> Option<Anchor> {
        let w = self.width();
        let cursor = self.cursor;
        self.lines(w).get(cursor).map(|l| l.anchor)
    }

    /// Puts the cursor on the first line of `anchor`, if it is shown.
    fn cursor_to(&mut self, anchor: Anchor) {
        let w = self.width();
        if let Some(i) = self.lines(w).iter().position(|l| l.anchor == anchor) {
            self.cursor = i;
        }
    }

    /// Moves the cursor; returns the edge to load when it runs past the
    /// loaded window and more messages exist there.
    pub fn move_cursor(&mut self, delta: isize) -> Option<Edge> {
        let w = self.width();
        let n = self.lines(w).len();
        let target = self.cursor as isize + delta;
        if target < 0 && self.more_before {
            return Some(Edge::Before);
        }
        if target >= n as isize && self.more_after {
            return Some(Edge::After);
        }
        self.cursor = target.clamp(0, n.saturating_sub(1) as isize) as usize;
        None
    }

    /// Expands or collapses the tool block under the cursor; on a message
    /// header, every tool block of that message.
    pub fn toggle_at_cursor(&mut self) -> bool {
        let Some(anchor) = self.cursor_anchor() else { return false };
        let Some(msg) = self.messages.iter_mut().find(|m| m.id == anchor.message_id) else { return false };
        match anchor.part {
            Part::Block(b) => {
                let Some(block) = msg.blocks.get_mut(b).filter(|b| b.collapsible()) else { return false };
                block.expanded = !block.expanded;
            }
            Part::Header => {
                let tools = || msg.blocks.iter().filter(|b| b.collapsible());
                if tools().next().is_none() {
                    return false;
                }
                let expand = tools().any(|b| !b.expanded);
                msg.blocks.iter_mut().filter(|b| b.collapsible()).for_each(|b| b.expanded = expand);
            }
            Part::Edge | Part::Gap => return false,
        }
        self.layout = None;
        self.cursor_to(anchor);
        true
    }

    /// Expands every tool block, or collapses them all when any is open.
    pub fn toggle_all(&mut self) {
        let keep = self.cursor_anchor();
        let any_open = self.messages.iter().flat_map(|m| &m.blocks).any(|b| b.collapsible() && b.expanded);
        for b in self.messages.iter_mut().flat_map(|m| m.blocks.iter_mut()).filter(|b| b.collapsible()) {
            b.expanded = !any_open;
        }
        self.layout = None;
        if let Some(a) = keep {
            self.cursor_to(a);
        }
    }
}

/// How a line meets the pane's width.
#[derive(Clone, Copy)]
enum Fit {
    /// One line, cut with `…` (headers, collapsed blocks, markers).
    Cut,
    /// Wrapped between words (prose), continuation indented.
    Words(usize),
    /// Wrapped at any character (code, tool output: where a line ends matters).
    Chars(usize),
}

/// Lays the window out as wrapped lines: a header per message, its blocks
/// indented under it, collapsed blocks as one line.
fn layout(d: &Detail, width: usize) -> Vec<DetailLine> {
    let theme = d.theme;
    let mut out = Vec::new();
    let mut push = |text: Styled, anchor: Anchor, fit: Fit| {
        let lines = match fit {
            Fit::Cut => vec![text::truncate(&text, width)],
            Fit::Words(indent) => text::wrap_words(&text, width, indent),
            Fit::Chars(indent) => text::wrap(&text, width, indent),
        };
        out.extend(lines.into_iter().map(|t| DetailLine { text: t, anchor }));
    };
    if let (true, Some(first)) = (d.more_before, d.messages.front()) {
        let a = Anchor { message_id: first.id, part: Part::Edge };
        push(vec![(theme.dim(), "  ↑ earlier messages: move up to load them".into())], a, Fit::Cut);
    }
    for m in &d.messages {
        let anchor = Anchor { message_id: m.id, part: Part::Header };
        let mut header: Styled = vec![
            (theme.matched(), if Some(m.id) == d.hit_id { "▶ ".into() } else { "  ".into() }),
            (theme.role(m.role), m.role.as_str().to_string()),
        ];
        let mut facts = Vec::new();
        if let Some(a) = &m.author {
            facts.push(a.clone());
        }
        if let Some(t) = m.created_at {
            facts.push(super::status::clock_time(t));
        }
        facts.push(format!("#{}", m.id));
        header.push((theme.dim(), format!(" · {}", facts.join(" · "))));
        push(header, anchor, Fit::Cut);
        for (bi, block) in m.blocks.iter().enumerate() {
            let anchor = Anchor { message_id: m.id, part: Part::Block(bi) };
            if block.collapsible() && !block.expanded {
                push(vec![(theme.tool(), format!("  ▸ {}", block.summary()))], anchor, Fit::Cut);
                continue;
            }
            let (prefix, fit) = match &block.kind {
                BlockKind::Text => ("  ", Fit::Words(2)),
                BlockKind::Code { .. } => ("  │ ", Fit::Chars(4)),
                BlockKind::ToolCalls { .. } | BlockKind::ToolOutput => ("    ", Fit::Chars(4)),
            };
            match &block.kind {
                BlockKind::ToolOutput => {
                    let n = block.lines.len();
                    let n = crate::words::count(n, "line");
                    push(vec![(theme.tool(), format!("  ▾ tool output · {n}"))], anchor, Fit::Cut);
                }
                BlockKind::ToolCalls { names } => {
                    let n = crate::words::count(names.len(), "tool call");
                    push(vec![(theme.tool(), format!("  ▾ {n}"))], anchor, Fit::Cut);
                }
                BlockKind::Code { lang } if !lang.is_empty() => {
                    push(vec![(theme.dim(), format!("  ┌ {lang}"))], anchor, Fit::Cut);
                }
                _ => {}
            }
            for line in &block.lines {
                let mut pieces: Styled = vec![(theme.dim(), prefix.to_string())];
                pieces.extend(line.iter().cloned());
                push(pieces, anchor, fit);
            }
        }
        push(vec![(Style::new(), String::new())], Anchor { message_id: m.id, part: Part::Gap }, Fit::Cut);
    }
    if let (true, Some(last)) = (d.more_after, d.messages.back()) {
        let a = Anchor { message_id: last.id, part: Part::Edge };
        push(vec![(theme.dim(), "  ↓ later messages: move down to load them".into())], a, Fit::Cut);
    }
    out
}
