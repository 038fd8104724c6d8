//! Code block highlighting with syntect's bundled Sublime grammars.
//!
//! The grammars and theme load once, on first use (tens of milliseconds), and
//! only when a conversation with a fenced code block of a known language is
//! opened. Blocks longer than [`MAX_LINES`] or [`MAX_BYTES`] stay plain:
//! highlighting is regex work per line and a pasted log must not stall the UI.

use std::sync::OnceLock;

use ratatui::style::{Color, Style};
use syntect::easy::HighlightLines;
use syntect::highlighting::{Theme as SyntectTheme, ThemeSet};
use syntect::parsing::SyntaxSet;

use super::text::Styled;

/// Longest block that is highlighted, in lines.
pub const MAX_LINES: usize = 400;
/// Longest block that is highlighted, in bytes (minified code is one huge line).
pub const MAX_BYTES: usize = 32 * 1024;

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

fn theme() -> &'static SyntectTheme {
    static THEME: OnceLock<SyntectTheme> = OnceLock::new();
    THEME.get_or_init(|| {
        let mut set = ThemeSet::load_defaults();
        set.themes.remove("base16-ocean.dark").unwrap_or_default()
    })
}

/// Highlights already-sanitized `lines` as `lang` (a fence tag such as `rust`,
/// `ts`, `sh`). `None` when the language is unknown or the block too long,
/// so the caller shows it plain.
pub fn highlight(lang: &str, lines: &[String]) -> Option<Vec<Styled>> {
    let lang = lang.trim();
    if lang.is_empty() || lines.len() > MAX_LINES || lines.iter().map(String::len).sum::<usize>() > MAX_BYTES {
        return None;
    }
    let set = syntaxes();
    let syntax = set.find_syntax_by_token(lang)?;
    let mut h = HighlightLines::new(syntax, theme());
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        let with_nl = format!("{line}\n");
        let ranges = h.highlight_line(&with_nl, set).ok()?;
        let styled: Styled = ranges
            .into_iter()
            .map(|(s, t)| {
                let fg = s.foreground;
                (Style::new().fg(Color::Rgb(fg.r, fg.g, fg.b)), t.trim_end_matches('\n').to_string())
            })
            .filter(|(_, t)| !t.is_empty())
            .collect();
        out.push(styled);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_language_gets_several_colours_and_keeps_text() {
        let lines = vec!["fn main() { let x = \"hi\"; }".to_string()];
        let out = highlight("rust", &lines).expect("rust is bundled");
        let text: String = out[0].iter().map(|p| p.1.as_str()).collect();
        assert_eq!(text, lines[0]);
        let colours: std::collections::HashSet<_> = out[0].iter().map(|p| p.0.fg).collect();
        assert!(colours.len() > 1, "{colours:?}");
    }

    #[test]
    fn unknown_or_missing_language_is_plain() {
        assert!(highlight("", &["x".into()]).is_none());
        assert!(highlight("no-such-language", &["x".into()]).is_none());
        assert!(highlight("rust", &vec!["x".to_string(); MAX_LINES + 1]).is_none());
        assert!(highlight("rust", &["x".repeat(MAX_BYTES + 1)]).is_none());
    }
}
