//! Snippets: a one-line window of a message around its best match, with the
//! matched byte ranges, made from the stored text (the index keeps no copy).

use serde::Serialize;

use super::query::HighlightTerms;
use crate::lexical::tokenizer::tokenize;

/// Target snippet length in characters.
const WINDOW_CHARS: usize = 180;

/// A message cut to about 180 characters around its best match, for a hit line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snippet {
    /// One line; control characters made visible; whitespace collapsed.
    pub text: String,
    /// Byte ranges of `text` that matched the query.
    pub highlights: Vec<(usize, usize)>,
}

/// Builds a snippet of `content` around the tokens `terms` matches.
pub fn make(content: &str, terms: &HighlightTerms) -> Snippet {
    let mut matches: Vec<(usize, usize)> = Vec::new();
    if !terms.is_empty() {
        tokenize(content, |t| {
            if terms.matches(&t.text) {
                matches.push((t.from, t.to));
            }
        });
    }
    matches.sort_unstable();
    // Merge nested and touching ranges (a part inside its whole, CJK runs).
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (a, b) in matches {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    // Start the window a little before the densest run of matches.
    let start = best_window_start(content, &merged);
    render(content, start, &merged)
}

fn best_window_start(content: &str, matches: &[(usize, usize)]) -> usize {
    let Some(&(first, _)) = matches.first() else {
        return 0;
    };
    let mut best = (0usize, first);
    let approx_bytes = WINDOW_CHARS * 2;
    for (i, &(a, _)) in matches.iter().enumerate() {
        let count = matches[i..].iter().take_while(|m| m.0 < a + approx_bytes).count();
        if count > best.0 {
            best = (count, a);
        }
    }
    // Back up about 40 characters for context, to a char boundary.
    let mut start = best.1;
    let mut backed = 0;
    for (i, _) in content[..best.1].char_indices().rev() {
        start = i;
        backed += 1;
        if backed >= 40 {
            break;
        }
    }
    start
}

fn render(content: &str, start: usize, matches: &[(usize, usize)]) -> Snippet {
    let mut text = String::new();
    let mut highlights = Vec::new();
    if start > 0 {
        text.push('…');
    }
    let mut chars = 0;
    let mut last_space = true;
    let mut open: Option<usize> = None;
    let mut mi = matches.iter().position(|m| m.1 > start).unwrap_or(matches.len());
    let mut end_reached = true;
    for (i, c) in content[start..].char_indices() {
        let at = start + i;
        if chars >= WINDOW_CHARS && open.is_none() {
            end_reached = false;
            break;
        }
        if let Some(o) = open
            && at >= matches[mi].1
        {
            highlights.push((o, text.len()));
            open = None;
            mi += 1;
        }
        if open.is_none() && mi < matches.len() && at >= matches[mi].0 && at < matches[mi].1 {
            open = Some(text.len());
        }
        if c.is_whitespace() {
            if !last_space {
                text.push(' ');
                last_space = true;
                chars += 1;
            }
            continue;
        }
        last_space = false;
        push_visible(&mut text, c);
        chars += 1;
    }
    if let Some(o) = open {
        highlights.push((o, text.len()));
    }
    let trimmed = text.trim_end().len();
    text.truncate(trimmed);
    if !end_reached {
        text.push('…');
    }
    Snippet { text, highlights }
}

/// Appends `c`, showing control characters as `^X` (or U+FFFD for C1), so
/// session text can never drive the terminal.
pub fn push_visible(out: &mut String, c: char) {
    match c as u32 {
        0x00..=0x1F => {
            out.push('^');
            out.push(char::from_u32(c as u32 + 0x40).unwrap_or('?'));
        }
        0x7F => out.push_str("^?"),
        0x80..=0x9F => out.push('\u{FFFD}'),
        _ => out.push(c),
    }
}

/// Makes a multi-line text safe for a terminal: keeps newlines and tabs,
/// shows every other control character.
pub fn sanitize_multiline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\n' || c == '\t' {
            out.push(c);
        } else if c == '\r' {
            continue;
        } else {
            push_visible(&mut out, c);
        }
    }
    out
}

/// The words a query looks for, found in any text the way snippets find
/// them (the TUI marks them across a whole conversation).
#[derive(Debug, Clone, Default)]
pub struct QueryMarks {
    terms: HighlightTerms,
}

impl QueryMarks {
    /// The words of `query` (none when it does not parse).
    pub fn from_query(query: &str) -> QueryMarks {
        match super::query::parse(query) {
            Ok(q) => QueryMarks { terms: q.highlight_terms() },
            Err(_) => QueryMarks::default(),
        }
    }

    /// Sorted, merged byte ranges of `line` whose tokens match.
    pub fn ranges(&self, line: &str) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        if self.terms.is_empty() {
            return out;
        }
        tokenize(line, |t| {
            if self.terms.matches(&t.text) {
                match out.last_mut() {
                    Some(last) if t.from <= last.1 => last.1 = last.1.max(t.to),
                    _ => out.push((t.from, t.to)),
                }
            }
        });
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(words: &[&str]) -> HighlightTerms {
        HighlightTerms { exact: words.iter().map(|w| w.to_string()).collect(), ..Default::default() }
    }

    #[test]
    fn highlights_matches_in_a_single_line_window() {
        let s = make("first line\nthe ECONNREFUSED error\n\n again", &exact(&["econnrefused"]));
        assert_eq!(s.text, "first line the ECONNREFUSED error again");
        assert_eq!(s.highlights.len(), 1);
        let (a, b) = s.highlights[0];
        assert_eq!(&s.text[a..b], "ECONNREFUSED");
    }

    #[test]
    fn escapes_terminal_control_sequences() {
        let s = make("\u{1b}[31mred\u{7} alert", &exact(&["alert"]));
        assert!(!s.text.contains('\u{1b}') && !s.text.contains('\u{7}'));
        assert!(s.text.starts_with("^[[31mred^G"));
    }

    #[test]
    fn windows_around_a_late_match() {
        let content = format!("{} needle tail", "word ".repeat(200));
        let s = make(&content, &exact(&["needle"]));
        assert!(s.text.starts_with('…'));
        let (a, b) = s.highlights[0];
        assert_eq!(&s.text[a..b], "needle");
    }

    #[test]
    fn prefix_matches_are_highlighted() {
        let terms = HighlightTerms { prefixes: vec!["recon".into()], ..Default::default() };
        let s = make("reconnect and recompile", &terms);
        assert_eq!(s.highlights.len(), 1);
    }

    #[test]
    fn accented_word_forms_and_wildcards_are_highlighted() {
        let q = super::super::query::parse("cafe publish *Error").unwrap().highlight_terms();
        let s = make("the Cafe\u{301} was publishing an IoError", &q);
        let marked: Vec<&str> = s.highlights.iter().map(|&(a, b)| &s.text[a..b]).collect();
        assert_eq!(marked, ["Cafe\u{301}", "publishing", "IoError"]);
    }
}
