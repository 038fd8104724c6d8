//! A message body cut into what a reader tells apart: prose, fenced code,
//! runs of tool-call lines, and a tool's output. Connectors write a tool
//! call as one line, `[tool: Name] args` (`connectors::content`), so the
//! cut needs no per-agent knowledge.

use crate::model::Role;

/// Prefix connectors give the one-line form of a tool call.
pub const TOOL_CALL_PREFIX: &str = "[tool: ";

/// One part of a message body.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// Lines of prose.
    Text(Vec<String>),
    /// A fenced code block and its fence tag (`rust`, `sh`, or empty).
    Code {
        /// The fence tag.
        lang: String,
        /// The code lines, without the fences.
        lines: Vec<String>,
    },
    /// Consecutive tool-call lines, with the tools' names in order.
    ToolCalls {
        /// `Bash`, `Read`, …
        names: Vec<String>,
        /// The whole lines.
        lines: Vec<String>,
    },
    /// The whole body of a `tool` message.
    ToolOutput(Vec<String>),
}

impl Segment {
    /// True for tool calls and tool output (what `--include-tools` governs).
    pub fn is_tool(&self) -> bool {
        matches!(self, Segment::ToolCalls { .. } | Segment::ToolOutput(_))
    }

    /// One line saying what a tool segment holds (`2 tool calls: Bash,
    /// Read`, `tool output · 3 lines · Error: …`).
    pub fn summary(&self) -> String {
        let first = |lines: &[String]| lines.iter().find(|l| !l.trim().is_empty()).cloned().unwrap_or_default();
        match self {
            Segment::ToolCalls { names, lines } if names.len() == 1 => first(lines),
            Segment::ToolCalls { names, .. } => format!("{} tool calls: {}", names.len(), names.join(", ")),
            Segment::ToolOutput(lines) => {
                let n = lines.len();
                format!("tool output · {n} line{} · {}", if n == 1 { "" } else { "s" }, first(lines).trim())
            }
            Segment::Text(lines) | Segment::Code { lines, .. } => first(lines),
        }
    }
}

/// `Bash` for `[tool: Bash] npm test`.
pub fn tool_name(line: &str) -> Option<String> {
    let rest = line.strip_prefix(TOOL_CALL_PREFIX)?;
    rest.find(']').map(|end| rest[..end].to_string())
}

/// Cuts `lines` of a message of `role` into segments. A `tool` message is
/// one [`Segment::ToolOutput`]; an unclosed fence runs to the end.
pub fn segments(role: Role, lines: Vec<String>) -> Vec<Segment> {
    if role == Role::Tool {
        return vec![Segment::ToolOutput(lines)];
    }
    let mut out = Vec::new();
    let mut text: Vec<String> = Vec::new();
    let mut it = lines.into_iter().peekable();
    while let Some(line) = it.next() {
        if let Some(tag) = line.trim_start().strip_prefix("```") {
            flush(&mut text, &mut out);
            let lang = tag.trim().to_string();
            let mut code = Vec::new();
            for l in it.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
                code.push(l);
            }
            out.push(Segment::Code { lang, lines: code });
        } else if let Some(name) = tool_name(&line) {
            flush(&mut text, &mut out);
            let mut names = vec![name];
            let mut calls = vec![line];
            while let Some(name) = it.peek().and_then(|next| tool_name(next)) {
                names.push(name);
                calls.push(it.next().expect("peeked"));
            }
            out.push(Segment::ToolCalls { names, lines: calls });
        } else {
            text.push(line);
        }
    }
    flush(&mut text, &mut out);
    out
}

fn flush(text: &mut Vec<String>, out: &mut Vec<Segment>) {
    if !text.is_empty() {
        out.push(Segment::Text(std::mem::take(text)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn prose_code_and_tool_calls_are_told_apart() {
        let body = "Let me check.\n```rust\nfn x() {}\n```\n[tool: Bash] cargo test\n[tool: Read] src/lib.rs\nDone.";
        let s = segments(Role::Assistant, lines(body));
        assert_eq!(s.len(), 4);
        assert_eq!(s[0], Segment::Text(vec!["Let me check.".into()]));
        assert_eq!(s[1], Segment::Code { lang: "rust".into(), lines: vec!["fn x() {}".into()] });
        assert_eq!(s[2].summary(), "2 tool calls: Bash, Read");
        assert!(s[2].is_tool() && !s[3].is_tool());
    }

    #[test]
    fn a_tool_message_is_one_output_segment() {
        let s = segments(Role::Tool, lines("\nError: connect ECONNREFUSED\n  at x"));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].summary(), "tool output · 3 lines · Error: connect ECONNREFUSED");
    }
}
