//! Session text made safe and sized for terminal cells.
//!
//! Every string that comes from a session (titles, paths, message bodies)
//! passes through here before it reaches a cell: control characters become
//! visible (`^[`, `^G`, U+FFFD for C1) so a session can never drive the
//! terminal, and tabs become spaces so widths are what ratatui measures.

use ratatui::style::Style;
use unicode_width::UnicodeWidthChar;

use crate::search::snippet::push_visible;

/// Spaces a tab stands for in the detail pane.
const TAB: &str = "    ";

/// One line: newlines and tabs become spaces, other controls become visible.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\t' => out.push(' '),
            '\r' => {}
            c => push_visible(&mut out, c),
        }
    }
    out
}

/// The lines of a multi-line text, each safe for a cell.
pub fn safe_lines(s: &str) -> Vec<String> {
    s.split('\n').map(safe_line_of_many).collect()
}

/// One line of a multi-line text: tabs expanded, controls made visible.
fn safe_line_of_many(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '\t' => out.push_str(TAB),
            '\r' => {}
            c => push_visible(&mut out, c),
        }
    }
    out
}

/// Display width of a character in cells (controls were made visible
/// before this is asked, so zero-width here means combining marks).
fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// Display width of a string in cells.
pub fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Cuts `s` to at most `max` cells, ending with `…` when cut.
pub fn fit(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = char_width(c);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// A line as styled pieces, before it is wrapped to a pane's width.
pub type Styled = Vec<(Style, String)>;

/// Wraps styled pieces at `width` cells (by character: code and logs have
/// long unbroken runs, and word wrapping would hide where a line really ends).
/// Continuation lines start with `indent` spaces.
pub fn wrap(pieces: &Styled, width: usize, indent: usize) -> Vec<Styled> {
    let width = width.max(indent + 8);
    let mut lines: Vec<Styled> = vec![Vec::new()];
    let mut used = 0;
    for (style, text) in pieces {
        let mut run = String::new();
        for c in text.chars() {
            let w = char_width(c);
            if used + w > width {
                if !run.is_empty() {
                    lines.last_mut().expect("a line").push((*style, std::mem::take(&mut run)));
                }
                lines.push(vec![(Style::default(), " ".repeat(indent))]);
                used = indent;
            }
            run.push(c);
            used += w;
        }
        if !run.is_empty() {
            lines.last_mut().expect("a line").push((*style, run));
        }
    }
    lines
}

/// Wraps prose at word boundaries: each line breaks after the last space
/// that fits, and only a word longer than a line is cut by character.
/// Continuation lines start with `indent` spaces.
pub fn wrap_words(pieces: &Styled, width: usize, indent: usize) -> Vec<Styled> {
    let width = width.max(indent + 8);
    let chars: Vec<(Style, char)> = pieces.iter().flat_map(|(s, t)| t.chars().map(move |c| (*s, c))).collect();
    let mut lines = Vec::new();
    let mut start = 0;
    loop {
        let first = lines.is_empty();
        let room = if first { width } else { width - indent };
        let (mut used, mut end, mut space) = (0, start, None);
        while end < chars.len() {
            let w = char_width(chars[end].1);
            if used + w > room {
                break;
            }
            if chars[end].1 == ' ' {
                space = Some(end);
            }
            used += w;
            end += 1;
        }
        let (stop, next) = match space {
            Some(sp) if end < chars.len() && sp > start => (sp, sp + 1),
            // A character wider than the room still takes a line of its own.
            _ if end == start && end < chars.len() => (end + 1, end + 1),
            _ => (end, end),
        };
        let mut line: Styled = if first { Vec::new() } else { vec![(Style::default(), " ".repeat(indent))] };
        for &(style, c) in &chars[start..stop] {
            match line.last_mut() {
                Some(last) if last.0 == style => last.1.push(c),
                _ => line.push((style, c.to_string())),
            }
        }
        lines.push(line);
        start = next;
        if start >= chars.len() {
            return lines;
        }
    }
}

/// The first `max` cells of styled pieces, ending with `…` when cut.
pub fn truncate(pieces: &Styled, max: usize) -> Styled {
    let mut lines = wrap(pieces, max, 0);
    let cut = lines.len() > 1;
    let mut first = lines.swap_remove(0);
    if cut {
        while let Some(last) = first.last_mut() {
            if last.1.pop().is_some() {
                last.1.push('…');
                break;
            }
            first.pop();
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible() {
        assert_eq!(one_line("a\u{1b}[31mb\nc\u{9b}"), "a^[[31mb c\u{FFFD}");
        assert_eq!(safe_lines("x\ty\r\n\u{7}"), vec!["x    y".to_string(), "^G".to_string()]);
    }

    #[test]
    fn fit_counts_cells_not_bytes() {
        assert_eq!(fit("田中さん", 5), "田中…");
        assert_eq!(fit("short", 10), "short");
        assert_eq!(width("🤔a"), 3);
    }

    #[test]
    fn wrap_breaks_at_width_and_keeps_styles() {
        let bold = Style::default().add_modifier(ratatui::style::Modifier::BOLD);
        let pieces = vec![(bold, "abcdefghij".to_string()), (Style::default(), "klmno".to_string())];
        let lines = wrap(&pieces, 12, 2);
        assert_eq!(lines.len(), 2);
        let text: Vec<String> = lines.iter().map(|l| l.iter().map(|p| p.1.as_str()).collect()).collect();
        assert_eq!(text, vec!["abcdefghijkl", "  mno"]);
        assert_eq!(lines[0][0].0, bold);
        let words = vec![(bold, "the quick brown".to_string()), (Style::default(), " fox jumps over".to_string())];
        let lines = wrap_words(&words, 12, 2);
        let text: Vec<String> = lines.iter().map(|l| l.iter().map(|p| p.1.as_str()).collect()).collect();
        assert_eq!(text, vec!["the quick", "  brown fox", "  jumps over"]);
        let long = vec![(bold, "abcdefghijklmnopqrstuvwxyz".to_string())];
        let text: Vec<String> =
            wrap_words(&long, 10, 0).iter().map(|l| l.iter().map(|p| p.1.as_str()).collect()).collect();
        assert_eq!(text, vec!["abcdefghij", "klmnopqrst", "uvwxyz"], "a long word is cut");
        assert_eq!(wrap_words(&Vec::new(), 10, 2), vec![Vec::new()], "an empty line stays one line");
        let cut = truncate(&pieces, 12);
        assert_eq!(cut.iter().map(|p| p.1.as_str()).collect::<String>(), "abcdefghijk…");
    }
}
