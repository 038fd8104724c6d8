//! A message body cut into the blocks the detail pane shows: prose, fenced
//! code (highlighted), runs of tool calls and tool output. Tool blocks are
//! collapsed to one line until expanded: they are most of a session's bulk
//! and the least of what a reader looks for.

use ratatui::style::Style;

use super::highlight;
use super::text::{Styled, safe_lines};
use super::theme::Theme;
use crate::export::segments::{Segment, segments};
use crate::model::Role;
use crate::search::snippet::QueryMarks;

/// Lines of one message shown at most; the rest is summarized in one line
/// (the whole text is one `o` away, in the editor).
pub const MAX_MESSAGE_LINES: usize = 2000;
/// Bytes of one message shown at most: a single minified line can be
/// megabytes, which the line cap alone would not bound.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// What a block holds, which decides how it is drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockKind {
    /// Prose (and the note on what was cut from a long message).
    Text,
    /// A fenced code block, highlighted when colour is on.
    Code {
        /// The fence's language tag (empty when none).
        lang: String,
    },
    /// Consecutive `[tool: Name] args` lines; the names in order.
    ToolCalls {
        /// One name per call line.
        names: Vec<String>,
    },
    /// The whole body of a `tool` message.
    ToolOutput,
}

/// One block of a message body.
#[derive(Debug, Clone)]
pub struct Block {
    /// What it holds.
    pub kind: BlockKind,
    /// Sanitized, styled lines (wrapping happens at layout time).
    pub lines: Vec<Styled>,
    /// Shown in full; a collapsed block shows only its [`Block::summary`] line.
    pub expanded: bool,
    /// That one line, from the segment it was cut from.
    summary: String,
}

impl Block {
    /// True for tool blocks, which start collapsed (except in the hit's message).
    pub fn collapsible(&self) -> bool {
        matches!(self.kind, BlockKind::ToolCalls { .. } | BlockKind::ToolOutput)
    }

    /// The one line a collapsed block shows.
    pub fn summary(&self) -> String {
        self.summary.clone()
    }
}

/// The query's words, marked wherever they occur in the conversation.
#[derive(Debug, Clone, Default)]
pub struct Marks(QueryMarks);

impl Marks {
    /// The words a query looks for (none when it does not parse).
    pub fn from_query(text: &str) -> Marks {
        Marks(QueryMarks::from_query(text))
    }

    /// Byte ranges of `line` whose tokens match, the way snippets match them.
    fn ranges(&self, line: &str) -> Vec<(usize, usize)> {
        self.0.ranges(line)
    }

    /// Re-styles the matched parts of a line with `mark` on top of their style.
    fn apply(&self, pieces: Styled, mark: Style) -> Styled {
        let line: String = pieces.iter().map(|p| p.1.as_str()).collect();
        let ranges = self.ranges(&line);
        if ranges.is_empty() {
            return pieces;
        }
        let mut out = Vec::new();
        let mut offset = 0;
        for (style, text) in pieces {
            let (start, end) = (offset, offset + text.len());
            offset = end;
            let mut cut = start;
            for &(a, b) in ranges.iter().filter(|r| r.0 < end && r.1 > start) {
                let (a, b) = (a.max(start), b.min(end));
                if a > cut {
                    out.push((style, text[cut - start..a - start].to_string()));
                }
                out.push((style.patch(mark), text[a - start..b - start].to_string()));
                cut = b;
            }
            if cut < end {
                out.push((style, text[cut - start..].to_string()));
            }
        }
        out
    }
}

fn plain(style: Style, line: String) -> Styled {
    vec![(style, line)]
}

/// Cuts a message body into blocks, marking the query's words. Every line
/// is sanitized here, once.
pub fn parse(role: Role, content: &str, theme: Theme, marks: &Marks) -> Vec<Block> {
    let content = content.trim_end();
    let mut end = content.len().min(MAX_MESSAGE_BYTES);
    while !content.is_char_boundary(end) {
        end -= 1;
    }
    let cut_bytes = content.len() - end;
    let mut lines = safe_lines(&content[..end]);
    let cut = lines.len().saturating_sub(MAX_MESSAGE_LINES);
    lines.truncate(MAX_MESSAGE_LINES);
    let mut blocks: Vec<Block> = segments(role, lines).into_iter().map(|seg| block(seg, theme)).collect();
    for block in &mut blocks {
        let lines = std::mem::take(&mut block.lines);
        block.lines = lines.into_iter().map(|l| marks.apply(l, theme.matched())).collect();
    }
    let more = |n: usize, noun: &str| crate::words::count(n, &format!("more {noun}"));
    let note = match (cut, cut_bytes) {
        (0, 0) => None,
        (0, bytes) => Some(format!("… {} (o opens the session file)", more(bytes, "byte"))),
        (lines, 0) => Some(format!("… {} (o opens the session file)", more(lines, "line"))),
        (lines, bytes) => {
            Some(format!("… {} and {} (o opens the session file)", more(lines, "line"), more(bytes, "byte")))
        }
    };
    if let Some(note) = note {
        blocks.push(Block {
            kind: BlockKind::Text,
            lines: vec![plain(theme.dim(), note.clone())],
            expanded: true,
            summary: note,
        });
    }
    blocks
}

/// A segment of the message, styled for the pane: tool blocks start
/// collapsed, code is highlighted when colour is on.
fn block(seg: Segment, theme: Theme) -> Block {
    let summary = seg.summary();
    let styled = |style: Style, lines: Vec<String>| lines.into_iter().map(|l| plain(style, l)).collect();
    let (kind, lines, expanded) = match seg {
        Segment::Text(lines) => (BlockKind::Text, styled(Style::new(), lines), true),
        Segment::Code { lang, lines } => {
            let highlighted = if theme.color { highlight::highlight(&lang, &lines) } else { None };
            (BlockKind::Code { lang }, highlighted.unwrap_or_else(|| styled(theme.code(), lines)), true)
        }
        Segment::ToolCalls { names, lines } => (BlockKind::ToolCalls { names }, styled(theme.tool(), lines), false),
        Segment::ToolOutput(lines) => (BlockKind::ToolOutput, styled(theme.dim(), lines), false),
    };
    Block { kind, lines, expanded, summary }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(b: &Block) -> Vec<String> {
        b.lines.iter().map(|l| l.iter().map(|p| p.1.as_str()).collect()).collect()
    }

    #[test]
    fn prose_code_and_tool_calls_become_blocks() {
        let body = "Let me check.\n```rust\nfn x() {}\n```\n[tool: Bash] cargo test\n[tool: Read] src/lib.rs\nDone.";
        let blocks = parse(Role::Assistant, body, Theme::mono(), &Marks::default());
        let kinds: Vec<&BlockKind> = blocks.iter().map(|b| &b.kind).collect();
        assert_eq!(
            kinds,
            vec![
                &BlockKind::Text,
                &BlockKind::Code { lang: "rust".into() },
                &BlockKind::ToolCalls { names: vec!["Bash".into(), "Read".into()] },
                &BlockKind::Text,
            ]
        );
        assert_eq!(texts(&blocks[1]), vec!["fn x() {}"]);
        assert!(!blocks[2].expanded && blocks[2].collapsible());
        assert_eq!(blocks[2].summary(), "2 tool calls: Bash, Read");
    }

    #[test]
    fn tool_messages_collapse_to_a_summary() {
        let blocks = parse(Role::Tool, "\nError: connect ECONNREFUSED\n  at x\n", Theme::mono(), &Marks::default());
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].summary(), "tool output · 3 lines · Error: connect ECONNREFUSED");
    }

    #[test]
    fn escape_sequences_never_survive() {
        let blocks = parse(
            Role::User,
            "red \u{1b}[31mtext\u{7}\n```sh\n\u{1b}]52;c;AAAA\u{7}\n```",
            Theme::colored(),
            &Marks::default(),
        );
        for b in &blocks {
            for l in texts(b) {
                assert!(!l.chars().any(|c| c.is_control()), "{l:?}");
            }
        }
        assert_eq!(texts(&blocks[0]), vec!["red ^[[31mtext^G"]);
    }

    #[test]
    fn query_words_are_marked_across_style_pieces() {
        let marks = Marks::from_query("econnrefused conn*");
        let bold = Style::new().add_modifier(ratatui::style::Modifier::BOLD);
        let pieces = vec![(bold, "x ECONN".to_string()), (Style::new(), "REFUSED y connect".to_string())];
        let out = marks.apply(pieces, Theme::mono().matched());
        let marked: Vec<&str> = out
            .iter()
            .filter(|p| p.0.add_modifier.contains(ratatui::style::Modifier::UNDERLINED))
            .map(|p| p.1.as_str())
            .collect();
        assert_eq!(marked, vec!["ECONN", "REFUSED", "connect"]);
        assert_eq!(out.iter().map(|p| p.1.as_str()).collect::<String>(), "x ECONNREFUSED y connect");
        assert!(out[1].0.add_modifier.contains(ratatui::style::Modifier::BOLD), "marks keep the piece's style");
        assert_eq!(Marks::from_query("-only").apply(vec![(bold, "only".into())], bold).len(), 1);
    }

    #[test]
    fn long_messages_are_cut_with_a_note() {
        let body = "x\n".repeat(MAX_MESSAGE_LINES + 5);
        let blocks = parse(Role::User, &body, Theme::mono(), &Marks::default());
        let last = texts(blocks.last().unwrap());
        assert_eq!(last, vec!["… 5 more lines (o opens the session file)"]);
        let one_line = "é".repeat(MAX_MESSAGE_BYTES); // two bytes a char: cut mid-way, on a boundary
        let blocks = parse(Role::User, &one_line, Theme::mono(), &Marks::default());
        let shown: usize = blocks[0].lines.iter().flatten().map(|p| p.1.len()).sum();
        assert_eq!(shown, MAX_MESSAGE_BYTES);
        let half = MAX_MESSAGE_BYTES.to_string();
        assert_eq!(texts(blocks.last().unwrap()), vec![format!("… {half} more bytes (o opens the session file)")]);
    }
}
