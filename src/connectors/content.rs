//! Shared rules for turning agent content into searchable text: parts
//! flattened, tool calls as one compact line, tool output capped, reasoning
//! kept out.

use super::json::{Json, JsonView, Kind};
use crate::model::Role;

/// Tool output beyond this is cut (and the cut marked): long logs drown search.
pub const TOOL_OUTPUT_CAP: usize = 8 * 1024;
/// Titles derived from a user line are cut to this many characters.
pub const TITLE_CHARS: usize = 100;
/// A tool call's argument summary is cut to this many characters.
const TOOL_ARG_CHARS: usize = 200;

/// Text of a message body: a string, or an array of typed parts.
///
/// Keeps `text`, `input_text`, `output_text` and untyped text parts; renders
/// `tool_use` / `toolCall` parts as `[tool: Name] summary`; drops reasoning
/// (`thinking`, `reasoning`), images and tool results (which connectors emit
/// as their own `tool` messages).
pub fn flatten<J: JsonView>(value: &J) -> Option<String> {
    match value.kind() {
        Kind::String => value.as_str().map(str::to_string),
        Kind::Array => Some(flatten_parts(value.as_array().unwrap_or_default())),
        Kind::Object => flatten_part(value),
        _ => None,
    }
}

/// The text of `parts`, as [`flatten`] reads an array of them: each
/// part's text that is not blank, one per line.
pub fn flatten_parts<'j, J: JsonView + 'j>(parts: impl IntoIterator<Item = &'j J>) -> String {
    let mut pieces = parts.into_iter().filter_map(flatten_part).filter(|t| !t.trim().is_empty());
    // Most bodies have one part: its text is the body, with no copy.
    let Some(first) = pieces.next() else { return String::new() };
    let mut out = first;
    for piece in pieces {
        out.push('\n');
        out.push_str(&piece);
    }
    out
}

fn flatten_part<J: JsonView>(part: &J) -> Option<String> {
    match part.kind() {
        Kind::String => part.as_str().map(str::to_string),
        Kind::Object => {
            let kind = part.get("type").and_then(J::as_str).unwrap_or("");
            match kind {
                "text" | "input_text" | "output_text" | "" => part.get("text").and_then(J::as_str).map(str::to_string),
                "tool_use" | "toolCall" | "tool_call" | "function_call" => {
                    let name = part.get("name").and_then(J::as_str).unwrap_or("tool");
                    let args = part.get("input").or_else(|| part.get("arguments"));
                    Some(tool_call_line(name, args))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// One compact line for a tool call: `[tool: Bash] cargo test`.
///
/// The summary is the argument a person would recognise (command, path,
/// pattern, query, URL, description), else the arguments as compact JSON.
pub fn tool_call_line<J: JsonView>(name: &str, args: Option<&J>) -> String {
    let summary = args.map(tool_args_summary).unwrap_or_default();
    if summary.is_empty() { format!("[tool: {name}]") } else { format!("[tool: {name}] {summary}") }
}

fn tool_args_summary<J: JsonView>(args: &J) -> String {
    // Codex encodes arguments as a JSON string.
    if let Some(s) = args.as_str() {
        return match Json::parse(s) {
            Ok(v @ Json::Object(_)) => tool_args_summary(&v),
            _ => truncate_chars(&one_line(s), TOOL_ARG_CHARS),
        };
    }
    const KEYS: &[&str] =
        &["command", "cmd", "file_path", "filePath", "path", "pattern", "query", "url", "description", "prompt"];
    if args.is_object() {
        for key in KEYS {
            let Some(v) = args.get(key) else { continue };
            if let Some(s) = v.as_str().filter(|s| !s.trim().is_empty()) {
                return truncate_chars(&one_line(s), TOOL_ARG_CHARS);
            }
            if let Some(items) = v.as_array().filter(|items| !items.is_empty()) {
                let joined: Vec<&str> = items.iter().filter_map(J::as_str).collect();
                if !joined.is_empty() {
                    return truncate_chars(&one_line(&joined.join(" ")), TOOL_ARG_CHARS);
                }
            }
        }
        if args.is_empty_object() {
            return String::new();
        }
    }
    truncate_chars(&args.compact(), TOOL_ARG_CHARS)
}

/// Text of a tool result, capped at [`TOOL_OUTPUT_CAP`] bytes with the cut marked.
pub fn tool_output<J: JsonView>(value: &J) -> Option<String> {
    let text = match value.kind() {
        Kind::String => value.as_str().unwrap_or_default().to_string(),
        Kind::Array => flatten(value)?,
        Kind::Object => {
            if let Some(inner) = value.get("content").or_else(|| value.get("output")) {
                return tool_output(inner);
            }
            value.compact()
        }
        Kind::Null => return None,
        _ => value.compact(),
    };
    Some(cap_owned(text, TOOL_OUTPUT_CAP))
}

/// [`cap_bytes`] of a text owned already: returned as it is when it fits.
fn cap_owned(text: String, cap: usize) -> String {
    if text.len() <= cap { text } else { cap_bytes(&text, cap) }
}

/// Cuts text to at most `cap` bytes on a char boundary, saying how much was cut.
pub fn cap_bytes(text: &str, cap: usize) -> String {
    if text.len() <= cap {
        return text.to_string();
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = word_end(text, end);
    format!("{}\n[… {} bytes cut]", &text[..end], text.len() - end)
}

/// Where to cut `text` at `end` without keeping part of a word: when `end`
/// falls inside a run of non-space characters, the run goes whole. Text is
/// redacted after connectors cut it, and the redactor cannot recognise
/// the first half of a token (`GH_TOKEN=ghp_5iWKzB…`); dropping the run
/// keeps that half out of the store. A run longer than 512 bytes (base64
/// data), or one that is all the kept text (a title of one long word), is
/// cut where it is.
pub fn word_end(text: &str, end: usize) -> usize {
    let bytes = text.as_bytes();
    if end == 0 || end >= text.len() || bytes[end].is_ascii_whitespace() || bytes[end - 1].is_ascii_whitespace() {
        return end;
    }
    let start = text[..end].rfind(|c: char| c.is_whitespace()).map_or(0, |i| i + 1);
    if start == 0 || end - start > 512 { end } else { start }
}

/// Cuts to at most `n` characters, adding `…` when cut.
pub fn truncate_chars(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", s[..word_end(s, i)].trim_end()),
        None => s.to_string(),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text the agent's harness injected into a user turn (environment blocks,
/// instructions files, command caveats). Indexed, but never used as a title.
pub fn is_injected_context(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with('<')
        || t.starts_with("# AGENTS.md")
        || t.starts_with("Caveat:")
        || t.starts_with("[Request interrupted")
}

/// A title from a user message: its first non-empty line, cut to 100 chars.
pub fn title_from_user_text(text: &str) -> Option<String> {
    if is_injected_context(text) {
        return None;
    }
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(truncate_chars(line, TITLE_CHARS))
}

/// The `message` object of a `{"type": "message", "message": {role,
/// content}}` record (Factory, Pi-Agent) and its role. A record without a
/// usable one is reported on `line` and yields nothing.
pub fn role_message<'a, J: JsonView>(rec: &'a J, line: u64, sink: &mut dyn super::ParseSink) -> Option<(&'a J, Role)> {
    let Some(msg) = rec.get("message").filter(|m| m.is_object()) else {
        sink.malformed(line, "message record has no message object".into());
        return None;
    };
    let label = str_field(msg, "role").unwrap_or("");
    let Some(role) = Role::from_agent_label(label) else {
        sink.malformed(line, format!("unknown role '{label}'"));
        return None;
    };
    Some((msg, role))
}

/// A string field, ignoring values of the wrong type (a number where a string
/// belongs is treated as absent, not as text).
pub fn str_field<'a, J: JsonView>(v: &'a J, key: &str) -> Option<&'a str> {
    v.get(key).and_then(J::as_str).filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cut_never_keeps_half_a_token() {
        let line = format!("npm test && GH_TOKEN=ghp_{} gh release create next", "a1B2".repeat(9));
        let cut = truncate_chars(&line, 30);
        assert_eq!(cut, "npm test &&…", "the token's word goes whole");
        let capped = cap_bytes(&line, 30);
        assert!(capped.starts_with("npm test && \n[…") && !capped.contains("ghp_"), "{capped}");
        // A cut at a space keeps everything before it; a huge run is cut where it is.
        assert_eq!(truncate_chars("abc def", 3), "abc…");
        let blob = "A".repeat(2000);
        assert_eq!(word_end(&blob, 1000), 1000);
    }

    #[test]
    fn flattens_parts_and_renders_tool_calls() {
        let v = json!([
            {"type": "thinking", "thinking": "secret plan"},
            {"type": "text", "text": "Running tests."},
            {"type": "tool_use", "name": "Bash", "input": {"command": "cargo   test\n--all"}},
            {"type": "image", "source": {}},
        ]);
        assert_eq!(flatten(&v).unwrap(), "Running tests.\n[tool: Bash] cargo test --all");
    }

    #[test]
    fn codex_string_arguments_are_decoded() {
        let args = json!("{\"command\":[\"bash\",\"-lc\",\"ls -la\"]}");
        assert_eq!(tool_call_line("shell", Some(&args)), "[tool: shell] bash -lc ls -la");
    }

    #[test]
    fn caps_tool_output_and_marks_the_cut() {
        let long = "é".repeat(5000); // 10,000 bytes
        let out = tool_output(&json!(long)).unwrap();
        assert!(out.len() < TOOL_OUTPUT_CAP + 40);
        assert!(out.ends_with("[… 1808 bytes cut]"), "{}", &out[out.len() - 30..]);
    }

    #[test]
    fn titles_skip_injected_context() {
        assert_eq!(title_from_user_text("<environment_context>x</environment_context>"), None);
        assert_eq!(title_from_user_text("\n\n  Fix the bug\nmore").as_deref(), Some("Fix the bug"));
        let long = "x".repeat(150);
        assert_eq!(title_from_user_text(&long).unwrap().chars().count(), TITLE_CHARS + 1);
    }
}
