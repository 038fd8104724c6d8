//! Secret redaction: API keys, tokens, passwords and private keys in
//! message text become typed markers (`[REDACTED:aws_access_key]`) before
//! anything is stored or indexed, so a search history never holds them.
//!
//! # What is covered
//!
//! The rules are one table, [`RULES`] (listed with examples in
//! docs/PRIVACY.md): provider formats (AWS, GitHub, GitLab, Slack, Stripe,
//! OpenAI, Anthropic, Google, Azure, npm, PyPI, crates.io, Hugging Face),
//! JWTs, PEM and PGP private key blocks (with real or JSON-escaped `\n`, as
//! in Google service-account files), URLs with a password,
//! `Authorization` headers, and values assigned to names such as
//! `password`, `secret`, `token` and `api_key` in env files, YAML, JSON,
//! TOML and CLI flags. Users add their own with [`UserPattern`].
//!
//! Where it helps search, the text around a secret stays: the name of an
//! assignment (`password=[REDACTED:password]`), the scheme, user and host
//! of a URL (`postgres://app:[REDACTED:url_password]@db/app`), the header
//! and scheme (`Authorization: Bearer [REDACTED:bearer_token]`). A PEM
//! block goes whole, BEGIN and END lines included.
//!
//! # No false alarms
//!
//! Developers search for hashes, ids and code, so only text shaped like a
//! secret is touched. Git SHAs, UUIDs, hex digests, base64 image data,
//! paths, identifiers and version strings match no rule. A keyword needs a
//! separator and a value (`reset your password` is prose), and the value
//! must be written out: placeholders and references (`""`, `${PASSWORD}`,
//! `<your-password>`, `****`, `os.environ["TOKEN"]`, an `ENV_VAR_NAME`)
//! and code handing a variable along (`password = user.password`,
//! `f(password=pw)`, `password: str`) stay. Names ending in `token` or
//! `secret` also carry non-secrets (`"token": "the"`, `max_token: 4096`,
//! `"progressToken": "step-1"`), so their values must look like
//! credentials: 8 or more characters with a letter and a digit, not built
//! of words. PEM blocks need key material (test and doc blocks are often
//! empty). On 170 MB of crate sources (code, docs, tests) the rules redact
//! 30 lines, all credentials of tests and docs (`http://a:b@host`, codecov
//! badge tokens).
//!
//! # The entropy threshold
//!
//! Any other name containing key, secret, token or password has its value
//! redacted only when it looks random: 16 or more characters, Shannon
//! entropy of at least 3.5 bits per character (3.0 for all-hex values,
//! whose alphabet has only 16 symbols), and case or digit changes at least
//! every 4 characters on average. 3.5 bits is where random base62 values
//! of 16 characters pass in 95 % of draws (20 characters: 99 %); entropy
//! alone would also pass many identifiers (`AbstractSingletonProxyFactoryBean`
//! scores 4.0), which the run length rejects (6.6 for it, about 2 for
//! random values).
//!
//! # Speed and guarantees
//!
//! Every message passes through [`Redactor::redact`] at index time. One
//! SIMD scan for the rules' anchors (`AKIA`, `ghp_`, `-----BEGIN`, `://`,
//! `passw`, `token`, …) decides which regexes run at all, and where: a rule
//! searches only the lines holding one of its anchors (PEM blocks, which
//! span lines, the whole text), and assignment rules only where the anchor
//! is part of a name given a value. Anchors are exact strings (that is what
//! the SIMD search takes), so keywords are listed in the case forms people
//! write (`token`, `Token`, `TOKEN`). Text without an anchor is returned
//! borrowed, without allocating.
//!
//! Markers match no rule and text inside a marker is never redacted, so
//! redacting twice changes nothing. The report names kinds and counts,
//! never a secret.

mod checks;
mod prefilter;
mod rules;
mod user;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use regex::{Regex, RegexBuilder};

pub use rules::{Check, RULES, Rule};
pub use user::{RedactError, UserPattern};

use checks::Candidate;
use prefilter::Prefilter;

/// Opens every marker; a kind and `]` close it.
const MARKER_OPEN: &str = "[REDACTED:";

/// Finds and replaces secrets. Build it once and share it: it is `Send +
/// Sync`, and the regexes keep per-thread caches internally.
pub struct Redactor {
    /// User patterns first (they win overlaps), then [`RULES`] in order.
    rules: Vec<Compiled>,
    /// How many of `rules` are user patterns; they have no anchors and run
    /// on every text.
    user: usize,
    /// The anchors of the built-in rules (bit i of a mask: `RULES[i]`).
    prefilter: Prefilter,
    /// Names this rule set: see [`Redactor::fingerprint`].
    fingerprint: String,
}

/// Raised whenever a rule's check code changes what it accepts without a
/// change to the rule table, so stores redacted before are scanned again.
const CHECKS_REVISION: u32 = 1;

struct Compiled {
    kind: Arc<str>,
    regex: Regex,
    check: Option<Check>,
    /// Searched in the whole text, not only the lines of its anchors.
    multiline: bool,
    /// Runs only for anchors that are part of a name given a value.
    assignment: bool,
    /// Groups `secret`, `secret_sq`, `secret_bare` (the last one is bare).
    secret_groups: [Option<usize>; 3],
    /// Whether the regex has groups at all; without, matches need no captures.
    has_groups: bool,
}

/// A text after redaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted<'t> {
    /// The text with each secret replaced by `[REDACTED:<kind>]`; borrowed
    /// from the input when nothing was found.
    pub text: Cow<'t, str>,
    /// What was replaced.
    pub report: Report,
}

impl Redacted<'_> {
    /// Whether anything was replaced.
    pub fn is_redacted(&self) -> bool {
        !self.report.is_empty()
    }
}

/// Kinds and counts of what was replaced; never the secrets themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// (kind, markers written), sorted by kind.
    kinds: Vec<(Arc<str>, usize)>,
}

impl Report {
    /// Markers written in all.
    pub fn count(&self) -> usize {
        self.kinds.iter().map(|(_, n)| n).sum()
    }
    /// Whether nothing was replaced.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }
    /// Each kind found and how many times, sorted by kind.
    pub fn kinds(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.kinds.iter().map(|(k, n)| (&**k, *n))
    }
    /// Adds `other`'s counts, to total the reports of many texts.
    pub fn add(&mut self, other: &Report) {
        for (kind, n) in &other.kinds {
            self.bump(kind, *n);
        }
    }
    fn bump(&mut self, kind: &Arc<str>, n: usize) {
        match self.kinds.binary_search_by(|(k, _)| (**k).cmp(kind)) {
            Ok(i) => self.kinds[i].1 += n,
            Err(i) => self.kinds.insert(i, (kind.clone(), n)),
        }
    }
}

/// A part of the text to replace, and the rule (index into
/// `Redactor::rules`) that found it.
#[derive(Debug, Clone)]
struct Found {
    span: Range<usize>,
    rule: usize,
}

impl Redactor {
    /// The built-in rules only.
    pub fn new() -> Result<Redactor, RedactError> {
        Redactor::with_extra(&[])
    }

    /// The built-in rules and `extra` patterns from the config file; the
    /// extra ones win where matches overlap. Fails on the first pattern
    /// whose kind or regex is unusable, naming it.
    pub fn with_extra(extra: &[UserPattern]) -> Result<Redactor, RedactError> {
        let mut rules = Vec::with_capacity(extra.len() + RULES.len());
        for (i, p) in extra.iter().enumerate() {
            rules.push(compile_user(i + 1, p)?);
        }
        for r in RULES {
            let regex = Regex::new(r.pattern).map_err(|e| RedactError::InvalidRegex {
                index: 0,
                kind: r.kind.into(),
                message: user::one_line(&e),
            })?;
            let compiled = Compiled::new(r.kind.into(), regex, Some(r.check));
            rules.push(Compiled { multiline: r.multiline, assignment: r.assignment, ..compiled });
        }
        let prefilter = Prefilter::new(RULES).map_err(|e| RedactError::Anchors { message: e.to_string() })?;
        Ok(Redactor { rules, user: extra.len(), prefilter, fingerprint: fingerprint(extra) })
    }

    /// A short name of what this redactor finds: the built-in rules, their
    /// checks' revision and the user patterns. A store records the one it
    /// was redacted with; a different one (new rules, a pattern added in
    /// the config file) means its text is scanned again.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// `text` with every secret replaced by `[REDACTED:<kind>]`, and what
    /// was replaced. Borrows `text` when nothing is found.
    pub fn redact<'t>(&self, text: &'t str) -> Redacted<'t> {
        let mut hits = Vec::new();
        let wanted = self.prefilter.hits(text, &mut hits);
        if wanted == 0 && self.user == 0 {
            return unchanged(text);
        }
        let mut found = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let Some(bit) = i.checked_sub(self.user).map(|b| 1u64 << b) else {
                rule.find(text, 0, i, &mut found); // a user pattern: no anchors
                continue;
            };
            if wanted & bit == 0 {
                continue;
            }
            if rule.multiline {
                rule.find(text, 0, i, &mut found);
                continue;
            }
            // Only the lines holding an anchor: most of a long message is
            // never searched, even when a keyword occurs in it.
            let mut searched_to = 0;
            for hit in &hits {
                if hit.rules & bit == 0 || hit.at < searched_to {
                    continue;
                }
                if rule.assignment && !prefilter::names_a_value(text, hit) {
                    continue;
                }
                let line = prefilter::line_around(text, hit.at);
                searched_to = line.end;
                rule.find(&text[line.clone()], line.start, i, &mut found);
            }
        }
        if found.is_empty() {
            return unchanged(text);
        }
        if text.contains(MARKER_OPEN) {
            let markers = markers(text);
            found.retain(|f| !markers.iter().any(|m| f.span.start < m.end && m.start < f.span.end));
        }
        let merged = merge(found);
        if merged.is_empty() {
            return unchanged(text);
        }
        self.render(text, &merged)
    }

    fn render<'t>(&self, text: &'t str, merged: &[Found]) -> Redacted<'t> {
        let mut out = String::with_capacity(text.len() + 24 * merged.len());
        let mut report = Report::default();
        let mut at = 0;
        for f in merged {
            let kind = &self.rules[f.rule].kind;
            out.push_str(&text[at..f.span.start]);
            out.push_str(MARKER_OPEN);
            out.push_str(kind);
            out.push(']');
            at = f.span.end;
            report.bump(kind, 1);
        }
        out.push_str(&text[at..]);
        Redacted { text: Cow::Owned(out), report }
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor").field("builtin_rules", &RULES.len()).field("user_patterns", &self.user).finish()
    }
}

impl Compiled {
    fn new(kind: Arc<str>, regex: Regex, check: Option<Check>) -> Compiled {
        let group = |name: &str| regex.capture_names().position(|n| n == Some(name));
        let secret_groups = [group("secret"), group("secret_sq"), group("secret_bare")];
        let has_groups = regex.captures_len() > 1;
        Compiled { kind, regex, check, multiline: true, assignment: false, secret_groups, has_groups }
    }

    /// Pushes the secrets this rule finds in `text`, which starts at byte
    /// `offset` of the message. The checks see only `text`: a whole line
    /// or the whole message, so what they look at around a value is there.
    fn find(&self, text: &str, offset: usize, rule: usize, out: &mut Vec<Found>) {
        // Most searches find nothing; this one allocates nothing.
        if !self.regex.is_match(text) {
            return;
        }
        let mut push = |candidate: Candidate, caps: Option<&regex::Captures<'_>>| {
            if candidate.span.is_empty() || self.check.is_some_and(|c| !checks::passes(c, text, caps, &candidate)) {
                return;
            }
            out.push(Found { span: candidate.span.start + offset..candidate.span.end + offset, rule });
        };
        if !self.has_groups {
            // Spans only: cheaper than captures, which need a second engine.
            for m in self.regex.find_iter(text) {
                push(Candidate { span: m.range(), bare: false }, None);
            }
            return;
        }
        for caps in self.regex.captures_iter(text) {
            let group = self.secret_groups.iter().enumerate().find_map(|(g, i)| Some((g, caps.get((*i)?)?)));
            let candidate = match (group, caps.get(0)) {
                (Some((g, m)), _) => Candidate { span: m.range(), bare: g == 2 },
                (None, Some(m)) => Candidate { span: m.range(), bare: false },
                (None, None) => continue,
            };
            push(candidate, Some(&caps));
        }
    }
}

fn compile_user(index: usize, p: &UserPattern) -> Result<Compiled, RedactError> {
    if !user::valid_kind(&p.kind) {
        return Err(RedactError::InvalidKind { index, kind: p.kind.clone() });
    }
    let regex = RegexBuilder::new(&p.regex).build().map_err(|e| RedactError::InvalidRegex {
        index,
        kind: p.kind.clone(),
        message: user::one_line(&e),
    })?;
    if regex.is_match("") {
        return Err(RedactError::MatchesEmpty { index, kind: p.kind.clone() });
    }
    Ok(Compiled::new(p.kind.as_str().into(), regex, None))
}

fn fingerprint(extra: &[UserPattern]) -> String {
    use crate::checksum::{fnv1a64, fnv1a64_more};
    let mut h = fnv1a64(&CHECKS_REVISION.to_le_bytes());
    let mut part = |s: &str| h = fnv1a64_more(fnv1a64_more(h, s.as_bytes()), b"\0");
    for r in RULES {
        part(r.kind);
        part(r.pattern);
        r.anchors.iter().for_each(|a| part(a));
    }
    part("user");
    for p in extra {
        part(&p.kind);
        part(&p.regex);
    }
    format!("{h:016x}")
}

fn unchanged(text: &str) -> Redacted<'_> {
    Redacted { text: Cow::Borrowed(text), report: Report::default() }
}

/// The markers already in `text` (`[REDACTED:kind]`).
fn markers(text: &str) -> Vec<Range<usize>> {
    memchr::memmem::find_iter(text.as_bytes(), MARKER_OPEN.as_bytes())
        .filter_map(|start| {
            let rest = &text[start + MARKER_OPEN.len()..];
            let n = rest.bytes().take_while(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_').count();
            (n > 0 && rest[n..].starts_with(']')).then(|| start..start + MARKER_OPEN.len() + n + 1)
        })
        .collect()
}

/// Overlapping finds become one replacement covering their union, named
/// by the highest-priority rule among them, so no part of a secret found
/// by two rules is left behind.
fn merge(mut found: Vec<Found>) -> Vec<Found> {
    found.sort_by_key(|f| (f.span.start, f.rule));
    let mut merged: Vec<Found> = Vec::with_capacity(found.len());
    for f in found {
        match merged.last_mut() {
            Some(last) if f.span.start < last.span.end => {
                last.span.end = last.span.end.max(f.span.end);
                last.rule = last.rule.min(f.rule);
            }
            _ => merged.push(f),
        }
    }
    merged
}
