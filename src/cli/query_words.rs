//! `cass search a -> b`, `cass search tokio -async`: words that start with
//! `-` are query text when they are none of search's flags.
//!
//! clap cannot tell on its own: a query argument that accepts hyphen values
//! also swallows every flag after it (`--json` would become a word). So the
//! command line is parsed as usual, and only when clap rejects an unknown
//! argument of `search` is it parsed again with the flags (known to the
//! command, with their values) first and every other word after `--`, in
//! the order typed.

use std::ffi::{OsStr, OsString};

use clap::Command;

/// The command line with search's query words moved after `--`, or `None`
/// when the command is not `search` (or has nothing to move).
pub fn after_dashes(root: &Command, args: &[OsString]) -> Option<Vec<OsString>> {
    let mut root = root.clone();
    root.build();
    let mut out: Vec<OsString> = Vec::with_capacity(args.len() + 1);
    let mut i = 0;
    // The program name and top-level flags, up to the subcommand.
    if let Some(program) = args.first() {
        out.push(program.clone());
        i = 1;
    }
    while i < args.len() {
        let a = args[i].to_str()?;
        if !a.starts_with('-') {
            break;
        }
        out.push(args[i].clone());
        if takes_value(&root, a)? && !a.contains('=') {
            i += 1;
            out.push(args.get(i)?.clone());
        }
        i += 1;
    }
    let name = args.get(i)?.to_str()?;
    let search = root.find_subcommand(name).filter(|c| c.get_name() == "search")?;
    out.push(args[i].clone());
    i += 1;
    let mut words: Vec<OsString> = Vec::new();
    while i < args.len() {
        let a = args[i].as_os_str();
        if a == OsStr::new("--") {
            words.extend(args[i + 1..].iter().cloned());
            break;
        }
        match a.to_str().filter(|s| s.starts_with('-') && s.len() > 1).and_then(|s| takes_value(search, s)) {
            Some(value) => {
                out.push(args[i].clone());
                if value && !a.to_str().is_some_and(attached_value) {
                    i += 1;
                    out.push(args.get(i)?.clone());
                }
            }
            // A mistyped long flag (`--limt`) stays clap's error rather
            // than becoming words; `-- --release` searches for it.
            None if a.to_str().is_some_and(looks_like_long_flag) => return None,
            None => words.push(args[i].clone()),
        }
        i += 1;
    }
    if words.is_empty() {
        return None;
    }
    out.push("--".into());
    out.extend(words);
    Some(out)
}

/// `--word…`: what a long flag looks like.
fn looks_like_long_flag(s: &str) -> bool {
    s.strip_prefix("--").and_then(|r| r.chars().next()).is_some_and(|c| c.is_ascii_alphabetic())
}

/// `--flag=value` or `-nVALUE`: the value is in the same word.
fn attached_value(s: &str) -> bool {
    if s.starts_with("--") { s.contains('=') } else { s.len() > 2 }
}

/// For a word that names a flag of `cmd` (`--long`, `--long=v`, `-s`,
/// `-sVALUE`): whether that flag takes a value; `None` when it names none.
fn takes_value(cmd: &Command, word: &str) -> Option<bool> {
    let arg = if let Some(long) = word.strip_prefix("--") {
        let name = long.split('=').next().unwrap_or(long);
        cmd.get_arguments()
            .find(|a| a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|al| al.contains(&name)))?
    } else {
        let short = word.strip_prefix('-')?.chars().next()?;
        cmd.get_arguments()
            .find(|a| a.get_short() == Some(short) || a.get_all_short_aliases().is_some_and(|al| al.contains(&short)))?
    };
    Some(arg.get_action().takes_values())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn fixed(line: &[&str]) -> Option<Vec<String>> {
        let args: Vec<OsString> = line.iter().map(OsString::from).collect();
        after_dashes(&crate::cli::Cli::command(), &args)
            .map(|v| v.into_iter().map(|s| s.into_string().unwrap()).collect())
    }

    #[test]
    fn query_words_move_after_dashes_and_flags_keep_their_values() {
        assert_eq!(
            fixed(&["cass", "search", "a", "->", "b", "--json", "--limit", "3"]).unwrap(),
            ["cass", "search", "--json", "--limit", "3", "--", "a", "->", "b"]
        );
        assert_eq!(
            fixed(&["cass", "--data-dir", "/d", "search", "tokio", "-async", "-n", "5", "--agent=codex"]).unwrap(),
            ["cass", "--data-dir", "/d", "search", "-n", "5", "--agent=codex", "--", "tokio", "-async"]
        );
        assert_eq!(fixed(&["cass", "index", "--bogus"]), None, "only search's words are query text");
        assert_eq!(fixed(&["cass", "search", "foo", "--limt", "3"]), None, "a mistyped flag stays an error");
        assert_eq!(
            fixed(&["cass", "search", "foo", "-x", "--", "--release"]).unwrap(),
            ["cass", "search", "--", "foo", "-x", "--release"]
        );
    }
}
