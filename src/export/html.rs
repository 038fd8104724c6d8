//! One self-contained HTML file per conversation: inline CSS (light and
//! dark by `prefers-color-scheme`), code highlighted at export time,
//! tool calls and output collapsible with `<details>`, and print styles.
//! It makes no network request: no fonts, scripts or images from anywhere.

use std::fmt::Write;

use syntect::highlighting::ThemeSet;
use syntect::html::{ClassStyle, ClassedHTMLGenerator, css_for_theme_with_class_style};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

use super::HtmlOptions;
use super::segments::{Segment, segments};
use crate::model::{Conversation, StoredMessage};
use crate::search::snippet::sanitize_multiline as safe;

/// Code blocks longer than this stay plain: highlighting is regex work per
/// line, and a pasted log is not code.
const MAX_HIGHLIGHT_BYTES: usize = 64 * 1024;

/// Class prefix of highlighted tokens, so they never clash with the page's.
const HL: ClassStyle = ClassStyle::SpacedPrefixed { prefix: "hl-" };

const PAGE_CSS: &str = r#"
:root { color-scheme: light dark; --bg: #fff; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --user: #0969da; --assistant: #1a7f37; --system: #8250df; --tool: #9a6700; --code-bg: #f6f8fa; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #3d444d;
    --user: #4493f8; --assistant: #3fb950; --system: #ab7df8; --tool: #d29922; --code-bg: #161b22; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 58rem; padding: 1.5rem; background: var(--bg); color: var(--fg);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { border-bottom: 1px solid var(--line); margin-bottom: 1rem; }
h1 { font-size: 1.45rem; margin: 0 0 .3rem; }
.meta, .src, footer { color: var(--muted); font-size: .85rem; }
.src code { overflow-wrap: anywhere; }
article { border-left: 3px solid var(--line); padding: .1rem 0 .1rem .9rem; margin: 1.1rem 0; }
article.user { border-color: var(--user); } article.assistant { border-color: var(--assistant); }
article.system { border-color: var(--system); } article.tool { border-color: var(--tool); }
article h2 { font-size: .9rem; font-weight: 600; margin: 0 0 .35rem; }
article h2 .role { text-transform: uppercase; letter-spacing: .04em; }
article.user .role { color: var(--user); } article.assistant .role { color: var(--assistant); }
article.system .role { color: var(--system); } article.tool .role { color: var(--tool); }
article h2 .when, article h2 a { color: var(--muted); font-weight: 400; text-decoration: none; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; margin: .3rem 0; }
pre { background: var(--code-bg); border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem;
  overflow-x: auto; font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; margin: .4rem 0; }
pre .lang { float: right; color: var(--muted); font-size: .75rem; }
details { margin: .4rem 0; }
details summary { cursor: pointer; color: var(--tool); font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  overflow-wrap: anywhere; }
footer { border-top: 1px solid var(--line); margin-top: 2rem; padding-top: .5rem; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  article { break-inside: auto; } article h2 { break-after: avoid; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; border-color: #999; }
  details summary { list-style: none; }
}
"#;

/// Opens every `<details>` before printing, so printed tool output is not
/// hidden (inline: the file still loads nothing).
const PRINT_SCRIPT: &str =
    "addEventListener('beforeprint',()=>document.querySelectorAll('details').forEach(d=>d.open=true));";

/// The conversation as one HTML document.
pub fn html(c: &Conversation, msgs: &[StoredMessage], opts: HtmlOptions) -> String {
    let syntaxes = SyntaxSet::load_defaults_newlines();
    let title = safe(c.title.as_deref().unwrap_or("(untitled)"));
    let mut out = String::with_capacity(16 * 1024 + msgs.iter().map(|m| m.content.len() * 2).sum::<usize>());
    out.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"color-scheme\" content=\"light dark\">\n");
    let _ = writeln!(out, "<title>{}</title>", esc(&title));
    let _ = writeln!(out, "<style>{PAGE_CSS}{}</style>\n</head>\n<body>", code_css());
    let mut facts = vec![esc(&c.agent)];
    if let Some(ws) = &c.workspace {
        facts.push(esc(&safe(ws)));
    }
    if let Some(t) = c.started_at {
        facts.push(format!("<time datetime=\"{}\">{}</time>", crate::time::to_rfc3339(t), crate::time::local_clock(t)));
    }
    facts.push(crate::words::count(c.message_count, "message"));
    let _ = writeln!(
        out,
        "<header>\n<h1>{}</h1>\n<p class=\"meta\">{}</p>\n<p class=\"src\"><code>{}</code> · conversation {}</p>\n</header>\n<main>",
        esc(&title),
        facts.join(" · "),
        esc(&safe(&c.source_path.display().to_string())),
        c.id
    );
    for m in msgs {
        let lines: Vec<String> = safe(m.content.trim_end()).lines().map(str::to_string).collect();
        let parts: Vec<Segment> = segments(m.role, lines).into_iter().filter(|s| opts.tools || !s.is_tool()).collect();
        if parts.iter().all(|s| matches!(s, Segment::Text(l) if l.iter().all(|l| l.trim().is_empty()))) {
            continue;
        }
        let role = m.role.as_str();
        let _ = write!(out, "<article class=\"{role}\" id=\"m{}\">\n<h2><span class=\"role\">{role}</span>", m.id);
        if let Some(a) = &m.author {
            let _ = write!(out, " <span class=\"author\">{}</span>", esc(&safe(a)));
        }
        if let Some(t) = m.created_at {
            let _ = write!(
                out,
                " <time class=\"when\" datetime=\"{}\">{}</time>",
                crate::time::to_rfc3339(t),
                crate::time::local_clock(t)
            );
        }
        let _ = writeln!(out, " <a href=\"#m{0}\">#{0}</a></h2>", m.id);
        for part in &parts {
            segment_html(&mut out, part, &syntaxes);
        }
        out.push_str("</article>\n");
    }
    let _ = writeln!(
        out,
        "</main>\n<footer>Exported by cass {} on {}.</footer>\n<script>{PRINT_SCRIPT}</script>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION"),
        crate::time::local_clock(crate::time::now_ms())
    );
    out
}

fn segment_html(out: &mut String, part: &Segment, syntaxes: &SyntaxSet) {
    match part {
        Segment::Text(lines) => {
            let _ = writeln!(out, "<div class=\"text\">{}</div>", esc(lines.join("\n").trim_matches('\n')));
        }
        Segment::Code { lang, lines } => {
            let code = lines.join("\n");
            let label =
                if lang.is_empty() { String::new() } else { format!("<span class=\"lang\">{}</span>", esc(lang)) };
            let body = highlight(lang, &code, syntaxes).unwrap_or_else(|| esc(&code));
            let _ = writeln!(out, "<pre>{label}<code>{body}</code></pre>");
        }
        Segment::ToolCalls { lines, .. } | Segment::ToolOutput(lines) => {
            let _ = writeln!(
                out,
                "<details>\n<summary>{}</summary>\n<pre><code>{}</code></pre>\n</details>",
                esc(&part.summary()),
                esc(&lines.join("\n"))
            );
        }
    }
}

/// `code` as highlighted HTML spans, or `None` for an unknown language or
/// a block too long to be code.
fn highlight(lang: &str, code: &str, syntaxes: &SyntaxSet) -> Option<String> {
    if lang.trim().is_empty() || code.len() > MAX_HIGHLIGHT_BYTES {
        return None;
    }
    let syntax = syntaxes.find_syntax_by_token(lang.trim())?;
    let mut generator = ClassedHTMLGenerator::new_with_class_style(syntax, syntaxes, HL);
    for line in LinesWithEndings::from(code) {
        generator.parse_html_for_line_which_includes_newline(line).ok()?;
    }
    if !code.ends_with('\n') {
        // The generator needs each line's newline; the last may lack one.
        generator.parse_html_for_line_which_includes_newline("\n").ok()?;
    }
    Some(generator.finalize().trim_end_matches('\n').to_string())
}

/// Token colours for both schemes: a light theme, and a dark one under
/// `prefers-color-scheme: dark`.
fn code_css() -> String {
    let themes = ThemeSet::load_defaults();
    let css = |name: &str| themes.themes.get(name).and_then(|t| css_for_theme_with_class_style(t, HL).ok());
    let light = css("InspiredGitHub").unwrap_or_default();
    let dark = css("base16-ocean.dark").unwrap_or_default();
    format!("{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n")
}

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    fn msg(id: i64, role: Role, content: &str) -> StoredMessage {
        StoredMessage {
            id,
            conversation_id: 1,
            ordinal: id,
            role,
            author: None,
            created_at: Some(1_700_000_000_000 + id),
            content: content.into(),
        }
    }

    fn conv() -> Conversation {
        Conversation {
            id: 1,
            agent: "codex".into(),
            external_id: "x".into(),
            source_path: "/s/x.jsonl".into(),
            title: Some("Fix <the> \"bug\"".into()),
            workspace: None,
            started_at: Some(1_700_000_000_000),
            ended_at: None,
            message_count: 3,
            source: crate::filters::LOCAL_SOURCE.to_string(),
            origin_path: None,
        }
    }

    #[test]
    fn text_is_escaped_code_is_highlighted_and_tools_collapse() {
        let msgs = vec![
            msg(1, Role::User, "why does <script>alert(1)</script> run?"),
            msg(2, Role::Assistant, "Look:\n```rust\nfn main() { let x = 1; }\n```\n[tool: Bash] cargo test"),
            msg(3, Role::Tool, "test result: ok"),
        ];
        let page = html(&conv(), &msgs, HtmlOptions { tools: true });
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.contains("<script>alert"));
        assert!(page.contains("<title>Fix &lt;the&gt; &quot;bug&quot;</title>"));
        assert!(page.contains("<span class=\"hl-"), "code highlighted");
        assert_eq!(page.matches("<details>").count(), 2, "one tool-call run, one tool output");
        assert!(!page.contains("http://") && !page.contains("https://"));
        let without = html(&conv(), &msgs, HtmlOptions { tools: false });
        assert_eq!(without.matches("<details>").count(), 0);
        assert!(!without.contains("id=\"m3\""), "the tool message is left out");
    }
}
