//! What a regex match must also pass to count as a secret.
//!
//! Regexes find the shape (a name, a separator, a value); these checks
//! keep the false alarms out: placeholders and references people write
//! instead of a secret, code that passes a variable along, words and
//! identifiers that merely sit next to a key-like name.

use std::ops::Range;

use regex::Captures;

use super::rules::Check;

/// Where the part to replace is, and whether it was a bare (unquoted) value.
pub(super) struct Candidate {
    pub span: Range<usize>,
    pub bare: bool,
}

/// Whether `found` (a match of a rule with `check`) is a secret.
/// `caps` is `None` for a regex without groups (found with the cheaper
/// `find`); the assignment checks need them.
pub(super) fn passes(check: Check, text: &str, caps: Option<&Captures<'_>>, found: &Candidate) -> bool {
    let value = &text[found.span.clone()];
    match check {
        Check::Bounded => bounded(text, &found.span),
        // Provider tokens put ids before the random part
        // (`xoxb-51585335699-2681833052188-lwCPRben…`): long digit runs
        // that fail the run-length test, so the last segment may pass alone.
        Check::BoundedRandom => {
            bounded(text, &found.span) && (looks_random(value) || value.rsplit('-').next().is_some_and(looks_random))
        }
        Check::NotPlaceholder => !is_placeholder(value),
        Check::KeyBlock => has_key_material(value),
        Check::Encoded => !is_placeholder(value) && !value.bytes().all(|b| b.is_ascii_lowercase()),
        Check::Literal => literal(text, caps, found),
        Check::TokenLike => literal(text, caps, found) && token_like(value),
        Check::HighEntropy => {
            literal(text, caps, found)
                && token_like(value)
                && looks_random(value)
                && !is_path(value)
                && !value.contains("://")
                && !is_uuid(value)
                && caps.and_then(|c| c.name("name")).is_none_or(|n| credential_name(n.as_str()))
        }
    }
}

/// Not glued to letters or digits around it: `xAKIA…` or a 40-letter run
/// that starts with `AIza` is not a key. A JSON escape (`\n`, `\r`, `\t`)
/// before it counts as a separator.
fn bounded(text: &str, span: &Range<usize>) -> bool {
    let glue = |c: char| c.is_ascii_alphanumeric() || c == '+';
    let before = text[..span.start].chars().next_back();
    let ok_before = match before {
        Some(c @ ('n' | 'r' | 't')) => text[..span.start - c.len_utf8()].ends_with('\\'),
        Some(c) => !glue(c),
        None => true,
    };
    ok_before && !text[span.end..].chars().next().is_some_and(glue)
}

/// Whether a PEM or PGP block holds a run of 24 or more base64
/// characters: real keys have lines of 64; test and doc blocks are often
/// empty (`BEGIN…\nEND`) or a few characters.
fn has_key_material(block: &str) -> bool {
    let mut run = 0;
    for b in block.bytes() {
        run = if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' { run + 1 } else { 0 };
        if run >= 24 {
            return true;
        }
    }
    false
}

/// Words people write where a secret would go, compared lowercased.
const PLACEHOLDER_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "key",
    "apikey",
    "api_key",
    "api-key",
    "value",
    "null",
    "none",
    "nil",
    "undefined",
    "true",
    "false",
    "empty",
    "changeme",
    "change_me",
    "example",
    "test",
    "dummy",
    "foo",
    "bar",
    "baz",
    "todo",
    "tbd",
    "fixme",
    "unset",
    "notset",
    "n/a",
    "default",
    "hidden",
    "masked",
    "required",
    "optional",
    "env",
    "string",
    "str",
    "&str",
    "bytes",
    "int",
    "number",
    "bool",
    "boolean",
    "any",
    "object",
    "char",
    "text",
    "secretstr",
];

/// A placeholder or reference rather than a secret: empty, `${X}`, `$X`,
/// `%X%`, `{{ x }}`, `{x}`, `<your-token>`, `[REDACTED]`, `***`, `xxx`,
/// `abc...`, an `ENV_VAR_NAME`, a word from [`PLACEHOLDER_WORDS`], or a
/// short value saying `your`, `example`, `placeholder` or `redacted`.
fn is_placeholder(value: &str) -> bool {
    let v = value.trim();
    let wrapped = |open: char, close: char| v.starts_with(open) && v.ends_with(close);
    if v.is_empty()
        || v.starts_with('$')
        || v.starts_with("#{")
        || v.contains("${")
        || v.contains("{{")
        || v.contains("$(")
        || (v.len() > 1 && wrapped('%', '%'))
        || wrapped('{', '}')
        || wrapped('<', '>')
        || wrapped('[', ']')
        || v.contains("...")
        || v.contains('…')
        || (v.chars().count() >= 3 && v.chars().all(|c| matches!(c, '*' | 'x' | 'X' | '.' | '-' | '_' | '#' | '•')))
    {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    is_constant_name(v)
        || PLACEHOLDER_WORDS.contains(&lower.as_str())
        || (v.len() < 40 && ["your", "example", "placeholder", "redacted"].iter().any(|w| lower.contains(w)))
}

/// `GITHUB_TOKEN`, `FTS5_MAX_TOKEN_SIZE`: the name of an environment
/// variable or constant, which refers to a secret rather than being one.
fn is_constant_name(v: &str) -> bool {
    let b = v.as_bytes();
    b.first().is_some_and(u8::is_ascii_uppercase)
        && b.contains(&b'_')
        && !v.contains("__")
        && !v.ends_with('_')
        && b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// A value assigned to a secret-like name that is written out, not a
/// placeholder, and not code handing a variable along.
fn literal(text: &str, caps: Option<&Captures<'_>>, found: &Candidate) -> bool {
    let value = &text[found.span.clone()];
    if is_placeholder(value) {
        return false;
    }
    let Some(caps) = caps else {
        return true; // no groups: not an assignment
    };
    let Some(sep) = caps.name("sep").map(|m| m.as_str()) else {
        return true; // not an assignment: nothing more to judge
    };
    // `password hunter2` is prose unless it is a flag: `--password hunter2`.
    if sep.trim().is_empty() && caps.name("flag").is_none() {
        return false;
    }
    if let Some(name) = caps.name("name") {
        // `--password PASSWORD`, `password=password`, `token: Token`.
        if squeeze(name.as_str()).eq(squeeze(value)) {
            return false;
        }
        // `https://x-access-token:…@host` is a URL's user, not a name.
        if text[..name.start()].ends_with("://") {
            return false;
        }
    }
    !found.bare || bare_literal(text, value, sep.trim(), caps.name("next").map(|m| m.as_str()), found.span.end)
}

/// An unquoted value is a literal unless it reads as code: another flag,
/// a path (`::`), a comparison (`==`), a call or index after it, a dotted
/// reference (`self.password`, `os.environ`), or a plain variable name
/// passed along (`password = pw`, `f(password=pw)`). After a colon it must
/// end its line (as in YAML) or a quoted string (`-H 'x-api-key: abc123'`);
/// a colon followed by more words is prose.
fn bare_literal(text: &str, value: &str, sep: &str, next: Option<&str>, end: usize) -> bool {
    if value.starts_with(['-', ':', '=', '!']) {
        return false;
    }
    let escaped_eol = next == Some("\\") && text[end + 1..].starts_with(['n', 'r']);
    if next.is_some_and(|n| n.starts_with(['(', '[', '{', '`', '<', '>', '$', '\\'])) && !escaped_eol {
        return false;
    }
    // `f"…"`, `b'…'`: a string prefix, not a value; other quotes close an
    // enclosing string (`-H 'x-api-key: abc123'`).
    let prefix = ["f", "r", "b", "u", "rb", "br", "fr", "rf"].iter().any(|p| value.eq_ignore_ascii_case(p));
    if prefix && next.is_some_and(|n| n.starts_with(['"', '\''])) {
        return false;
    }
    if is_dotted_reference(value) {
        return false;
    }
    // A variable or a number in code: `password = pw`, `f(password=pw)`,
    // `ATTR_PASSWORD = 277,`.
    let variable = is_identifier(value) && !value.bytes().any(|b| b.is_ascii_digit());
    if variable || value.bytes().all(|b| b.is_ascii_digit()) {
        let spaced = sep.contains('=') && text[..end - value.len()].ends_with([' ', '\t']);
        if spaced || next.is_some_and(|n| n.starts_with([')', ',', ';', ']', '}'])) {
            return false;
        }
    }
    if sep.contains(':') {
        let rest = &text[end..];
        let line = rest.split(['\n', '\r']).next().unwrap_or("");
        let line = line.split("\\n").next().unwrap_or("").split("\\r").next().unwrap_or("").trim();
        let closes_string = next.is_some_and(|n| n.starts_with(['"', '\'']));
        return closes_string || line.is_empty() || line.starts_with('#') || line.starts_with("//");
    }
    true
}

/// Lowercase, without separators or a leading `--`: `DB-Password` and
/// `db_password` are the same name.
fn squeeze(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes().filter(u8::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase())
}

fn is_identifier(v: &str) -> bool {
    let mut b = v.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

fn is_dotted_reference(v: &str) -> bool {
    let mut parts = v.split(['.', ':']).filter(|p| !p.is_empty());
    v.contains(['.', ':']) && parts.clone().nth(1).is_some() && parts.all(is_identifier)
}

/// At least 8 characters with a letter and a digit, no spaces, and short
/// character runs: what tokens and keys look like, unlike `"token": "the"`,
/// `max_token: 4096` or `"progressToken": "progress-1"`.
fn token_like(v: &str) -> bool {
    v.len() >= 8
        && v.bytes().any(|b| b.is_ascii_alphabetic())
        && v.bytes().any(|b| b.is_ascii_digit())
        && !v.chars().any(char::is_whitespace)
        && mean_run(v) < MAX_MEAN_RUN
}

/// Entropy floor in bits per character for values that are not all hex.
/// Random base62 values of 16 characters score ≥ 3.5 in 95 % of draws
/// and of 20 or more in 99 %; words and identifiers of that length mostly
/// score 3.2–3.6, so entropy alone does not separate them;
/// [`MAX_MEAN_RUN`] does.
const ENTROPY_BITS: f64 = 3.5;
/// Entropy floor for all-hex values: their alphabet has 16 symbols, so a
/// random 32-hex value scores only 3.6 on median (≥ 3.3 in 99 % of draws).
const HEX_ENTROPY_BITS: f64 = 3.0;
/// Random values change between upper case, lower case and digits about
/// every 2 characters (base62 of 16+ characters: mean run ≤ 2.7 in 95 % of
/// draws); identifiers and words run 4–16 (`snake_case_long_names` 4.5,
/// `AbstractSingletonProxyFactoryBean` 6.6).
const MAX_MEAN_RUN: f64 = 4.0;

/// Whether `v` looks like random key material: 16 or more characters, a
/// letter and a digit or both cases, entropy over [`ENTROPY_BITS`] (or
/// [`HEX_ENTROPY_BITS`] for hex), and short character runs.
fn looks_random(v: &str) -> bool {
    let has = |f: fn(&u8) -> bool| v.as_bytes().iter().any(f);
    let alnum_mixed = has(u8::is_ascii_digit) || (has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase));
    if v.len() < 16 || !has(u8::is_ascii_alphabetic) || !alnum_mixed || mean_run(v) >= MAX_MEAN_RUN {
        return false;
    }
    let floor = if v.bytes().all(|b| b.is_ascii_hexdigit()) { HEX_ENTROPY_BITS } else { ENTROPY_BITS };
    shannon_entropy(v) >= floor
}

/// Shannon entropy of the bytes of `v`, in bits per byte.
fn shannon_entropy(v: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in v.bytes() {
        counts[b as usize] += 1;
    }
    let n = v.len() as f64;
    counts.iter().filter(|&&c| c > 0).map(|&c| c as f64 / n).map(|p| -p * p.log2()).sum()
}

/// Mean length of the letter-case and digit runs of `v` (`AbcDef12` has
/// runs `Abc`, `Def`, `12`); other characters only separate runs.
fn mean_run(v: &str) -> f64 {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Upper,
        Lower,
        Digit,
        Other,
    }
    let class = |b: u8| match b {
        b'A'..=b'Z' => Class::Upper,
        b'a'..=b'z' => Class::Lower,
        b'0'..=b'9' => Class::Digit,
        _ => Class::Other,
    };
    let (mut runs, mut chars, mut prev) = (0usize, 0usize, Class::Other);
    for c in v.bytes().map(class) {
        if c != Class::Other {
            chars += 1;
            let continues = c == prev || (prev == Class::Upper && c == Class::Lower);
            if !continues {
                runs += 1;
            }
        }
        prev = c;
    }
    if runs == 0 { 0.0 } else { chars as f64 / runs as f64 }
}

/// A file path: absolute, home- or dot-relative, Windows, or ending in a
/// file extension after a slash (`photos/2024/img_1234.jpg`).
fn is_path(v: &str) -> bool {
    let b = v.as_bytes();
    let drive = b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\';
    let extension = v.rsplit_once('/').is_some_and(|(_, file)| {
        file.rsplit_once('.')
            .is_some_and(|(_, ext)| (1..=5).contains(&ext.len()) && ext.bytes().all(|c| c.is_ascii_alphanumeric()))
    });
    v.starts_with(['/', '~', '.']) || drive || extension
}

/// `8-4-4-4-12` hex digits: an identifier far more often than a secret.
fn is_uuid(v: &str) -> bool {
    let groups: Vec<&str> = v.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Parts of names whose values are not secrets even when the name has
/// `key` or `token` in it.
const NOT_CREDENTIAL_NAMES: &[&str] = &[
    "public",
    "pubkey",
    "primary",
    "foreign",
    "partition",
    "sort",
    "cache",
    "idempoten",
    "tokeniz",
    "keyword",
    "keyboard",
    "hotkey",
    "keyframe",
    "keystroke",
    "keycode",
    "keymap",
    "monkey",
    "turkey",
    "lookup",
    "hash",
    "checksum",
    "digest",
    "keyid",
    "key_id",
    "tokens",
    "max_token",
    "count",
    "limit",
    "type",
    "file",
    "path",
    "url",
    "name",
    "length",
    "size",
];

/// Whether a name containing key, secret, token or password names a
/// credential, not a map key, a public key or an LLM token setting.
fn credential_name(name: &str) -> bool {
    let lower = name.trim_start_matches('-').to_ascii_lowercase();
    let bare = lower.trim_matches(['_', '-', '.']);
    bare != "key" && bare != "keys" && !NOT_CREDENTIAL_NAMES.iter().any(|w| lower.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_recognised() {
        for v in [
            "",
            "${PASSWORD}",
            "$TOKEN",
            "%PASSWORD%",
            "{{ .Values.password }}",
            "{password}",
            "<your-password>",
            "[REDACTED]",
            "********",
            "xxxxxxxx",
            "abc...",
            "YOUR_API_KEY",
            "changeme",
            "null",
            "example-token",
        ] {
            assert!(is_placeholder(v), "{v:?}");
        }
        for v in ["hunter2", "Tr0ub4dor3", "9a7Fq2LmX8", "p@ss%word"] {
            assert!(!is_placeholder(v), "{v:?}");
        }
    }

    #[test]
    fn random_values_pass_and_words_do_not() {
        for v in
            ["Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1", "3f9a1c7e5b2d8f4a6c0e9b1d7a3f5c8e", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]
        {
            assert!(looks_random(v), "{v}");
        }
        for v in [
            "AbstractSingletonProxyFactoryBean",
            "snake_case_long_names",
            "development_secret_key_123",
            "claude-3-5-sonnet-20241022",
            "user-123456789-abc",
            "short1A",
        ] {
            assert!(!looks_random(v), "{v}");
        }
    }

    #[test]
    fn entropy_is_in_bits_per_character() {
        assert_eq!(shannon_entropy("aaaa"), 0.0);
        assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-9);
        assert!((shannon_entropy("0123456789abcdef") - 4.0).abs() < 1e-9);
    }

    #[test]
    fn paths_uuids_and_names() {
        assert!(is_path("/home/user/.ssh/id_ed25519") && is_path("photos/2024/img_1234.jpg") && is_path("C:\\keys"));
        assert!(!is_path("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
        assert!(is_uuid("550e8400-e29b-41d4-a716-446655440000") && !is_uuid("550e8400e29b41d4a716446655440000"));
        assert!(credential_name("SIGNING_KEY_V2") && credential_name("db_password") && credential_name("--api-key"));
        assert!(!credential_name("key") && !credential_name("public_key") && !credential_name("max_tokens"));
    }
}
