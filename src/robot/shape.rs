//! Trimming robot output to what an agent asked for: a chosen set of
//! fields, texts cut to a length, one of three layouts, and a token budget.
//!
//! Shaping works on the JSON value of a command's output, so every command
//! trims the same way. A command's *items* (a search's hits, a
//! conversation's messages) are shaped one by one; a command without items
//! is shaped as a whole.

use serde_json::{Map, Value};

/// How a robot document is laid out on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// One pretty-printed document (the default).
    #[default]
    Json,
    /// One item per line, then one summary line (the document without its items).
    Jsonl,
    /// One document on one line, no whitespace.
    Compact,
}

/// The marker that ends a cut text. It counts towards the cut length, so a
/// cut text is never longer than asked.
pub const CUT_MARKER: char = '…';

/// Keys whose arrays are a document's items (a search's hits, a
/// conversation's messages, a usage report's rows, a session list, the
/// problems `sources --errors` lists): shaped one by one, one line each in
/// jsonl.
pub const ITEM_KEYS: [&str; 5] = ["hits", "messages", "rows", "sessions", "errors"];

/// Keys whose string values are session text, cut by `max_content_length`.
const TEXT_KEYS: [&str; 2] = ["text", "content"];

/// What to keep of each item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    /// Dotted paths to keep (`source_path`, `snippet.text`); `None` keeps all.
    pub fields: Option<Vec<Vec<String>>>,
    /// Longest session text, in characters, marker included.
    pub max_content_length: Option<usize>,
    /// Leave out `null` values and empty arrays, objects and strings.
    pub drop_empty: bool,
}

impl Shape {
    /// Parses `a,b.c` into paths; empty parts are refused.
    pub fn parse_fields(spec: &str) -> Result<Vec<Vec<String>>, String> {
        spec.split(',')
            .map(str::trim)
            .map(|f| {
                let path: Vec<String> = f.split('.').map(|p| p.trim().to_string()).collect();
                if path.iter().any(String::is_empty) {
                    Err(format!("--fields: '{f}' is not a field name or a dotted path (a,b.c)"))
                } else {
                    Ok(path)
                }
            })
            .collect()
    }

    /// True when shaping changes nothing.
    pub fn is_identity(&self) -> bool {
        self.fields.is_none() && self.max_content_length.is_none() && !self.drop_empty
    }

    /// Shapes one item (or a whole document): cuts texts, keeps the chosen
    /// fields, drops empty ones.
    pub fn apply(&self, value: Value) -> Value {
        let mut value = value;
        if let Some(n) = self.max_content_length {
            cut_texts(&mut value, n);
        }
        if let Some(fields) = &self.fields {
            value = project(&value, fields);
        }
        if self.drop_empty {
            drop_empty(&mut value);
        }
        value
    }
}

/// Shapes a document: its items one by one when it has some, else whole.
pub fn shape_document(value: Value, shape: &Shape) -> Value {
    if shape.is_identity() {
        return value;
    }
    match value {
        Value::Object(mut map) => {
            for key in ITEM_KEYS {
                if let Some(Value::Array(items)) = map.get_mut(key) {
                    for item in items.iter_mut() {
                        *item = shape.apply(std::mem::take(item));
                    }
                    return Value::Object(map);
                }
            }
            shape.apply(Value::Object(map))
        }
        other => shape.apply(other),
    }
}

/// Cuts `s` to at most `max` characters, the last being [`CUT_MARKER`];
/// returns whether it was cut.
pub fn cut(s: &mut String, max: usize) -> bool {
    if s.chars().count() <= max {
        return false;
    }
    let keep = max.saturating_sub(1);
    let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
    s.truncate(end);
    if max > 0 {
        s.push(CUT_MARKER);
    }
    true
}

/// Cuts every session text under `value`. A snippet's highlight ranges that
/// reach past the cut are clipped to it, so they still index its text.
fn cut_texts(value: &mut Value, max: usize) {
    match value {
        Value::Object(map) => {
            for key in TEXT_KEYS {
                if let Some(Value::String(s)) = map.get_mut(key)
                    && cut(s, max)
                {
                    let kept = s.len() - if max > 0 { CUT_MARKER.len_utf8() } else { 0 };
                    if key == "text"
                        && let Some(Value::Array(ranges)) = map.get_mut("highlights")
                    {
                        clip_ranges(ranges, kept);
                    }
                }
            }
            for (k, v) in map.iter_mut() {
                if !TEXT_KEYS.contains(&k.as_str()) {
                    cut_texts(v, max);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| cut_texts(v, max)),
        _ => {}
    }
}

/// Keeps `[from, to]` byte ranges that start before `len`, ending them there.
fn clip_ranges(ranges: &mut Vec<Value>, len: usize) {
    ranges.retain_mut(|r| match (r.get(0).and_then(Value::as_u64), r.get(1).and_then(Value::as_u64)) {
        (Some(from), Some(to)) if (from as usize) < len => {
            *r = Value::from(vec![from, to.min(len as u64)]);
            true
        }
        _ => false,
    });
}

/// The value with only the given paths (missing ones are left out).
fn project(value: &Value, fields: &[Vec<String>]) -> Value {
    let mut out = Map::new();
    for path in fields {
        if let Some(v) = lookup(value, path) {
            insert(&mut out, path, v.clone());
        }
    }
    Value::Object(out)
}

fn lookup<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key.as_str()))
}

fn insert(out: &mut Map<String, Value>, path: &[String], v: Value) {
    match path {
        [] => {}
        [last] => {
            out.insert(last.clone(), v);
        }
        [first, rest @ ..] => {
            let child = out.entry(first.clone()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = child {
                insert(m, rest, v);
            }
        }
    }
}

/// Removes `null`s and empty strings, arrays and objects, recursively.
pub fn drop_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.values_mut().for_each(drop_empty);
            map.retain(|_, v| !is_empty(v));
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty),
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Tokens an LLM will likely spend on `json`: one per four bytes, rounded
/// up. Tokenizers of current models average 3.5–4.5 bytes per token on
/// JSON with English text and identifiers, so this errs towards counting
/// more, which keeps a budget a budget.
pub fn estimate_tokens(json: &str) -> usize {
    json.len().div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cut_text_is_never_longer_than_asked_and_ends_with_the_marker() {
        let mut s = "héllo wörld".to_string();
        assert!(cut(&mut s, 5));
        assert_eq!(s, "héll…");
        assert_eq!(s.chars().count(), 5);
        let mut short = "abc".to_string();
        assert!(!cut(&mut short, 3));
        assert_eq!(short, "abc");
    }

    #[test]
    fn dotted_fields_keep_only_those_paths() {
        let shape =
            Shape { fields: Some(Shape::parse_fields("message_id, snippet.text").unwrap()), ..Default::default() };
        let hit = json!({"message_id": 7, "agent": "codex", "snippet": {"text": "abc", "highlights": [[0, 1]]}});
        assert_eq!(shape.apply(hit), json!({"message_id": 7, "snippet": {"text": "abc"}}));
        assert!(Shape::parse_fields("a,,b").is_err());
        assert!(Shape::parse_fields("a.").is_err());
    }

    #[test]
    fn cutting_a_snippet_clips_its_highlights() {
        let shape = Shape { max_content_length: Some(4), ..Default::default() };
        let hit =
            json!({"snippet": {"text": "abcdefgh", "highlights": [[1, 2], [2, 6], [6, 8]]}, "content": "0123456789"});
        let out = shape.apply(hit);
        assert_eq!(out["snippet"]["text"], "abc…");
        assert_eq!(out["snippet"]["highlights"], json!([[1, 2], [2, 3]]));
        assert_eq!(out["content"], "012…");
    }

    #[test]
    fn empty_fields_are_dropped_when_asked() {
        let shape = Shape { drop_empty: true, ..Default::default() };
        let v = json!({"a": null, "b": "", "c": [], "d": {"e": null}, "f": 0, "g": "x"});
        assert_eq!(shape.apply(v), json!({"f": 0, "g": "x"}));
    }
}
