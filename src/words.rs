//! Words for people: a count and its noun in agreement (`1 file`, `2
//! files`, `0 files`), for every line the CLI, the TUI and the reports
//! print for a person to read. Robot output has numbers, not words.

use std::fmt::Display;

/// `noun`, made plural unless `n` is one: regular English plurals (`-s`;
/// `-es` after s, x, z, ch, sh; `-ies` after a consonant and y).
pub fn noun(n: impl Display, noun: &str) -> String {
    if n.to_string() == "1" {
        return noun.to_string();
    }
    let b = noun.as_bytes();
    let vowel = |c: u8| b"aeiou".contains(&c);
    match b {
        [.., c, b'y'] if !vowel(*c) => format!("{}ies", &noun[..noun.len() - 1]),
        [.., b's' | b'x' | b'z'] | [.., b'c' | b's', b'h'] => format!("{noun}es"),
        _ => format!("{noun}s"),
    }
}

/// `n` and its `noun` in agreement: `count(1, "file")` is `1 file`,
/// `count(3, "batch")` is `3 batches`.
pub fn count(n: impl Display, noun: &str) -> String {
    let plural = self::noun(&n, noun);
    format!("{n} {plural}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_everything_else_plural() {
        assert_eq!(count(1, "file"), "1 file");
        assert_eq!(count(0, "file"), "0 files");
        assert_eq!(count(2_usize, "message"), "2 messages");
        assert_eq!(count(1_i64, "conversation"), "1 conversation");
        assert_eq!(count(3_u64, "batch"), "3 batches");
        assert_eq!(count(2, "entry"), "2 entries");
        assert_eq!(count(2, "day"), "2 days");
        assert_eq!(count(2, "error"), "2 errors");
        assert_eq!(count(1, "batch"), "1 batch");
        assert_eq!(noun(11, "segment"), "segments");
    }
}
