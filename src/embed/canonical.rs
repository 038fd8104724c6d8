//! Canonical text: what a message looks like to an embedder.
//!
//! Models see a bounded window, and noise (ANSI colour codes, markdown
//! punctuation, 500-line logs, base64) crowds out meaning. So: strip escape
//! sequences and control characters, drop markdown decoration, keep fenced
//! code blocks to their first 20 and last 10 lines, collapse whitespace,
//! skip messages that carry no signal ("ok", "thanks"), and cut at 2,000
//! characters. An empty result means "do not embed".

use std::borrow::Cow;

/// Longest canonical text, in characters.
pub const MAX_CHARS: usize = 2000;
const CODE_HEAD: usize = 20;
const CODE_TAIL: usize = 10;
/// Unbroken runs longer than this (base64, hashes) are dropped.
const MAX_WORD_CHARS: usize = 80;

const LOW_SIGNAL: &[&str] = &[
    "ok",
    "okay",
    "k",
    "thanks",
    "thank you",
    "thx",
    "ty",
    "done",
    "yes",
    "no",
    "y",
    "n",
    "sure",
    "continue",
    "go on",
    "go ahead",
    "got it",
    "great",
    "nice",
    "cool",
    "perfect",
    "lgtm",
    "proceed",
    "next",
];

/// The canonical form of a message, or `None` when it should not be embedded.
pub fn canonical(text: &str) -> Option<String> {
    // Most messages have no escapes and no fences: skip those copies.
    let stripped: Cow<'_, str> = if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        Cow::Owned(strip_escapes(text))
    } else {
        Cow::Borrowed(text)
    };
    let trimmed: Cow<'_, str> =
        if stripped.contains("```") { Cow::Owned(trim_code_blocks(&stripped)) } else { stripped };
    let mut out = String::with_capacity(trimmed.len().min(MAX_CHARS * 4));
    let mut chars = 0;
    'lines: for line in trimmed.lines() {
        let line = strip_markdown(line);
        for word in line.split_whitespace() {
            let n = if word.is_ascii() { word.len() } else { word.chars().count() };
            if n > MAX_WORD_CHARS {
                continue;
            }
            if !out.is_empty() {
                if chars >= MAX_CHARS {
                    break 'lines;
                }
                out.push(' ');
                chars += 1;
            }
            if chars + n <= MAX_CHARS {
                out.push_str(word);
                chars += n;
            } else {
                for c in word.chars().take(MAX_CHARS - chars) {
                    out.push(c);
                }
                break 'lines;
            }
        }
    }
    let out = out.trim().to_string();
    let key = out.trim_end_matches(['.', '!', '?']).to_lowercase();
    if out.is_empty() || LOW_SIGNAL.contains(&key.as_str()) || !out.chars().any(char::is_alphanumeric) {
        return None;
    }
    Some(out)
}

/// Removes ANSI/VT escape sequences and control characters (keeping line
/// breaks and tabs as whitespace).
fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    // CSI: parameters and intermediates, then one final byte.
                    for n in chars.by_ref() {
                        if ('@'..='~').contains(&n) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    chars.next();
                    // OSC: up to BEL or ESC \.
                    while let Some(n) = chars.next() {
                        if n == '\u{7}' {
                            break;
                        }
                        if n == '\u{1b}' {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {
                    chars.next();
                }
            },
            '\n' | '\t' => out.push(c),
            '\r' => out.push('\n'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Keeps each fenced code block to its first 20 and last 10 lines.
fn trim_code_blocks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut block: Vec<&str> = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        let fence = line.trim_start().starts_with("```");
        if in_block {
            if fence {
                flush_block(&mut out, &block);
                block.clear();
                in_block = false;
            } else {
                block.push(line);
            }
        } else if fence {
            in_block = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    flush_block(&mut out, &block); // an unclosed fence runs to the end
    out
}

fn flush_block(out: &mut String, block: &[&str]) {
    let keep: Box<dyn Iterator<Item = &&str>> = if block.len() > CODE_HEAD + CODE_TAIL {
        Box::new(block[..CODE_HEAD].iter().chain(block[block.len() - CODE_TAIL..].iter()))
    } else {
        Box::new(block.iter())
    };
    for line in keep {
        out.push_str(line);
        out.push('\n');
    }
}

/// Drops markdown decoration: heading and quote markers, list bullets,
/// emphasis and inline-code punctuation, link targets.
fn strip_markdown(line: &str) -> Cow<'_, str> {
    let mut l = line.trim_start();
    l = l.trim_start_matches('#').trim_start_matches('>').trim_start();
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = l.strip_prefix(bullet) {
            l = rest;
        }
    }
    if !l.contains(['*', '`', '|', '_', '[', ']']) {
        return Cow::Borrowed(l);
    }
    let mut out = String::with_capacity(l.len());
    let mut chars = l.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' | '`' | '|' => out.push(' '),
            '_' if chars.peek() == Some(&'_') => {
                chars.next();
                out.push(' ');
            }
            ']' if chars.peek() == Some(&'(') => {
                // [text](url): keep the text, drop the url
                for n in chars.by_ref() {
                    if n == ')' {
                        break;
                    }
                }
            }
            '[' => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_escapes_markdown_and_collapses_whitespace() {
        let t = "## Title\n\n\u{1b}[31mred\u{1b}[0m **bold** and `code`\t[link](http://x.y)\u{7}";
        assert_eq!(canonical(t).unwrap(), "Title red bold and code link");
    }

    #[test]
    fn long_code_blocks_keep_head_and_tail() {
        let body: Vec<String> = (0..100).map(|i| format!("line{i}")).collect();
        let t = format!("Look:\n```rust\n{}\n```\nafter", body.join("\n"));
        let c = canonical(&t).unwrap();
        assert!(c.contains("line0 ") && c.contains("line19 ") && !c.contains("line20 ") && !c.contains("line89 "));
        assert!(c.contains("line90 ") && c.contains("line99 after"));
    }

    #[test]
    fn low_signal_and_empty_messages_are_not_embedded() {
        for t in ["ok", "Thanks!", "  done. ", "", "   \n ", "```\n```", "…"] {
            assert_eq!(canonical(t), None, "{t:?}");
        }
        assert!(canonical("ok, now fix the parser").is_some());
    }

    #[test]
    fn truncates_and_drops_base64() {
        let blob = "QUJD".repeat(100);
        let t = format!("see {blob} {}", "word ".repeat(1000));
        let c = canonical(&t).unwrap();
        assert!(!c.contains("QUJD"));
        assert_eq!(c.chars().count(), MAX_CHARS);
    }
}
