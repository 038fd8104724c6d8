//! Patterns users add in the config file, and the errors of building a
//! redactor.

use serde::Deserialize;

/// A pattern from the config file:
///
/// ```toml
/// [redact]
/// patterns = [{ kind = "acme_token", regex = "acme_[A-Za-z0-9]{32}" }]
/// ```
///
/// Every match is replaced by `[REDACTED:<kind>]`; when the regex has a
/// group named `secret`, only that group is, so `(?:ACME_KEY=)(?P<secret>\S+)`
/// keeps the name searchable.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPattern {
    /// Written into the text as `[REDACTED:<kind>]`: lowercase ASCII
    /// letters, digits and `_`, so the marker itself never looks like a secret.
    pub kind: String,
    /// The regex, in the syntax of the Rust `regex` crate.
    pub regex: String,
}

/// Why a redactor could not be built. Each names the pattern, so a person
/// can find it in the config file.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    /// The regex does not compile.
    #[error("redact pattern {index} (kind {kind:?}): invalid regex: {message}")]
    InvalidRegex {
        /// Position in `[redact] patterns`, from 1; 0 for a built-in rule.
        index: usize,
        /// The pattern's kind.
        kind: String,
        /// The regex compiler's message, on one line.
        message: String,
    },
    /// The kind is not `[a-z0-9_]+`.
    #[error(
        "redact pattern {index}: kind {kind:?} must be lowercase letters, digits and '_' (it becomes [REDACTED:{kind}])"
    )]
    InvalidKind {
        /// Position in `[redact] patterns`, from 1.
        index: usize,
        /// The kind as given.
        kind: String,
    },
    /// The anchor scan of the built-in rules could not be built.
    #[error("redact anchors: {message}")]
    Anchors {
        /// Why, from aho-corasick.
        message: String,
    },
    /// The regex matches the empty string, which would put a marker between
    /// every two characters.
    #[error("redact pattern {index} (kind {kind:?}): the regex matches empty text")]
    MatchesEmpty {
        /// Position in `[redact] patterns`, from 1.
        index: usize,
        /// The pattern's kind.
        kind: String,
    },
}

/// Whether `kind` can be written into a marker: `[a-z0-9_]+`.
pub(super) fn valid_kind(kind: &str) -> bool {
    !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The regex compiler's message on one line (it draws a caret under the
/// problem across several lines).
pub(super) fn one_line(e: &regex::Error) -> String {
    e.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}
