//! A JSON tree that borrows its keys and strings from the line it was
//! parsed from, and the read-only view connectors share with
//! `serde_json::Value`.
//!
//! `Value` allocates every key and every string, and with `preserve_order`
//! (robot output keeps its documented key order) hashes each key into an
//! index map: building and dropping those trees was about a tenth of an
//! index build's CPU on Claude Code and Codex sessions, the bulk of what
//! people index. [`Json`] keeps unescaped strings and keys borrowed and an
//! object as a short list of pairs (a session record has a dozen keys at
//! most), and answers every question the way `Value` does: the last of
//! duplicate keys wins, in the first one's place; numbers are
//! `serde_json::Number`s; printed, it is the same text.
//!
//! [`JsonView`] is that shared surface, so the rules in
//! [`super::content`] are written once for both trees.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Number, Value};

/// A parsed JSON value whose strings borrow from the parsed text where
/// they hold no escape.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` reads it.
    Number(Number),
    /// A string.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object: its keys in first-seen order, each once.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// Parses `text`, borrowing from it.
    pub fn parse(text: &'a str) -> serde_json::Result<Json<'a>> {
        serde_json::from_str(text)
    }
}

/// The kind of a JSON value, for messages that say what was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl Kind {
    /// The kind with its article: "an array", "a string".
    pub fn described(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

/// What the connectors' shared rules read of a JSON value, answered alike
/// by `serde_json::Value` and [`Json`], under `Value`'s own names (on a
/// `Value` its inherent methods answer first, with the same answers).
pub trait JsonView: Sized {
    /// Its kind.
    fn kind(&self) -> Kind;
    /// The value under `key`, when this is an object that has it.
    fn get(&self, key: &str) -> Option<&Self>;
    /// The string, when this is one.
    fn as_str(&self) -> Option<&str>;
    /// The elements, when this is an array.
    fn as_array(&self) -> Option<&[Self]>;
    /// The number, when this is one.
    fn number(&self) -> Option<&Number>;
    /// The boolean, when this is one.
    fn as_bool(&self) -> Option<bool>;
    /// True for an object without keys.
    fn is_empty_object(&self) -> bool;
    /// The value as compact JSON text, as `serde_json` prints it.
    fn compact(&self) -> String;

    /// The number as a `u64`, when it is one (as `Value::as_u64`).
    fn as_u64(&self) -> Option<u64> {
        self.number().and_then(Number::as_u64)
    }
    /// True for an object.
    fn is_object(&self) -> bool {
        self.kind() == Kind::Object
    }
    /// The time a number (epoch seconds or milliseconds) or a string of
    /// any supported shape names (as [`crate::time::parse_value`]).
    fn timestamp(&self) -> Option<crate::model::TimestampMs> {
        match self.number() {
            Some(n) => crate::time::parse_number(n),
            None => self.as_str().and_then(crate::time::parse_str),
        }
    }
}

impl JsonView for Value {
    fn kind(&self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }
    fn get(&self, key: &str) -> Option<&Self> {
        Value::as_object(self)?.get(key)
    }
    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }
    fn as_array(&self) -> Option<&[Self]> {
        Value::as_array(self).map(Vec::as_slice)
    }
    fn number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }
    fn as_bool(&self) -> Option<bool> {
        Value::as_bool(self)
    }
    fn is_empty_object(&self) -> bool {
        self.as_object().is_some_and(serde_json::Map::is_empty)
    }
    fn compact(&self) -> String {
        self.to_string()
    }
}

impl JsonView for Json<'_> {
    fn kind(&self) -> Kind {
        match self {
            Json::Null => Kind::Null,
            Json::Bool(_) => Kind::Bool,
            Json::Number(_) => Kind::Number,
            Json::String(_) => Kind::String,
            Json::Array(_) => Kind::Array,
            Json::Object(_) => Kind::Object,
        }
    }
    fn get(&self, key: &str) -> Option<&Self> {
        match self {
            Json::Object(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }
    fn as_array(&self) -> Option<&[Self]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }
    fn number(&self) -> Option<&Number> {
        match self {
            Json::Number(n) => Some(n),
            _ => None,
        }
    }
    fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn is_empty_object(&self) -> bool {
        matches!(self, Json::Object(pairs) if pairs.is_empty())
    }
    fn compact(&self) -> String {
        // Writing to a String cannot fail, and every value prints.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Json<'de>, E> {
        // As `Value`: a float JSON cannot hold is null.
        Ok(Number::from_f64(n).map_or(Json::Null, Json::Number))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }
    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        Json::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        // serde_json gives no size hint for objects; session records have
        // up to a dozen keys, and growing the list 4, 8, 16 reallocated it
        // twice per record.
        let mut pairs: Vec<(Cow<'de, str>, Json<'de>)> = Vec::with_capacity(map.size_hint().unwrap_or(OBJECT_KEYS));
        // A duplicate key is found by a scan of the few keys a record has;
        // past OBJECT_KEYS by an index, so a damaged line with a million
        // keys costs what it costs `Value`, not a million scans.
        let mut index: Option<HashMap<Cow<'de, str>, usize>> = None;
        while let Some(Key(key)) = map.next_key()? {
            let value = map.next_value()?;
            let seen = match &index {
                Some(index) => index.get(&key).copied(),
                None => pairs.iter().position(|(k, _)| *k == key),
            };
            match seen {
                Some(at) => pairs[at].1 = value,
                None => {
                    if let Some(index) = &mut index {
                        index.insert(key.clone(), pairs.len());
                    }
                    pairs.push((key, value));
                    if index.is_none() && pairs.len() > OBJECT_KEYS {
                        index = Some(pairs.iter().enumerate().map(|(at, (k, _))| (k.clone(), at)).collect());
                    }
                }
            }
        }
        Ok(Json::Object(pairs))
    }
}

/// Room an object's list starts with.
const OBJECT_KEYS: usize = 12;

/// An object key, borrowed unless it holds an escape.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(pairs) => {
                let mut map = serializer.serialize_map(Some(pairs.len()))?;
                for (k, v) in pairs {
                    map.serialize_entry(k.as_ref(), v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines a session file may hold, odd ones included.
    const LINES: &[&str] = &[
        r#"{"type":"user","message":{"role":"user","content":"héllo\nworld \"quoted\" \u00e9"},"n":[1,-2,3.5,1e300,18446744073709551615,0.1,-0.0]}"#,
        r#"{"a":1,"b":{"c":[true,false,null]},"a":2}"#,
        r#"{"esc\u0061ped key":"v","":{}}"#,
        r#"[1,"two",{"three":3}]"#,
        r#""just a string""#,
        r#"12.50"#,
        r#"{"deep":[[[[{"x":"y"}]]]],"empty":[],"obj":{}}"#,
    ];

    #[test]
    fn reads_and_prints_as_value_does() {
        for line in LINES {
            let value: Value = serde_json::from_str(line).unwrap();
            let json = Json::parse(line).unwrap();
            assert_eq!(json.compact(), value.compact(), "{line}");
            assert_eq!(json.kind(), value.kind(), "{line}");
        }
    }

    #[test]
    fn the_last_duplicate_key_wins_in_the_first_place() {
        let line = r#"{"a":1,"b":2,"a":3}"#;
        let value: Value = serde_json::from_str(line).unwrap();
        let json = Json::parse(line).unwrap();
        assert_eq!(json.get("a").and_then(JsonView::as_u64), Some(3));
        assert_eq!(json.compact(), value.compact());
        assert_eq!(json.compact(), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn a_wide_object_keeps_the_last_duplicate_in_the_first_place_too() {
        // Past the keys a record has, duplicates are found by an index.
        let keys: Vec<String> = (0..300).map(|i| format!("\"k{i}\":{i}")).collect();
        let line = format!("{{{},\"k7\":\"late\",\"k250\":null,\"new\":1}}", keys.join(","));
        let value: Value = serde_json::from_str(&line).unwrap();
        let json = Json::parse(&line).unwrap();
        assert_eq!(json.compact(), value.compact());
        assert_eq!(json.get("k7").and_then(Json::as_str), Some("late"));
        let Json::Object(pairs) = &json else { panic!("not an object") };
        assert_eq!((pairs.len(), pairs[7].0.as_ref(), pairs[300].0.as_ref()), (301, "k7", "new"));
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let json = Json::parse(r#"{"plain":"text","escaped":"a\nb"}"#).unwrap();
        assert!(matches!(json.get("plain"), Some(Json::String(Cow::Borrowed("text")))));
        assert!(matches!(json.get("escaped"), Some(Json::String(Cow::Owned(s))) if s == "a\nb"));
        let Json::Object(pairs) = &json else { panic!("not an object") };
        assert!(pairs.iter().all(|(k, _)| matches!(k, Cow::Borrowed(_))));
    }

    #[test]
    fn bad_lines_fail_with_the_same_error() {
        for line in [r#"{"a":"#, r#"{"a":1} x"#, "nul", r#"{"a":"\ud800"}"#, "[1,]"] {
            let value = serde_json::from_str::<Value>(line).unwrap_err().to_string();
            let json = Json::parse(line).unwrap_err().to_string();
            assert_eq!(json, value, "{line}");
        }
    }

    #[test]
    fn views_agree_on_every_question() {
        let line = LINES[0];
        let value: Value = serde_json::from_str(line).unwrap();
        let json = Json::parse(line).unwrap();
        let (vm, jm) = (value.get("message").unwrap(), json.get("message").unwrap());
        assert_eq!(vm.get("content").and_then(JsonView::as_str), jm.get("content").and_then(JsonView::as_str));
        let (vn, jn) = (value.get("n").unwrap().as_array().unwrap(), json.get("n").unwrap().as_array().unwrap());
        assert_eq!(vn.len(), jn.len());
        for (v, j) in vn.iter().zip(jn) {
            assert_eq!((v.as_u64(), v.kind()), (j.as_u64(), j.kind()));
        }
        assert!(Json::parse("{}").unwrap().is_empty_object() && !json.is_empty_object());
    }
}
