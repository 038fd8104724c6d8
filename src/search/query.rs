//! The query language: words (implicit AND), `OR` between alternatives,
//! `-word` / `-"phrase"` to exclude, `"exact phrase"`, and `prefix*`. A
//! pasted command's flags (`ulimit -n`, `ls -la`, `--force`) and `->` are
//! searched as text, not taken as exclusions (see [`dash`]).

/// One searchable unit of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atom {
    /// A bare word: its token, or for an identifier its whole form or its parts in order.
    Term(String),
    /// A quoted phrase: its tokens in order, adjacent.
    Phrase(String),
    /// `stem*`: any token starting with the stem.
    Prefix(String),
}

/// Atoms joined by OR; the clause matches when any of them does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// Excluded with `-`: the message must not match.
    pub negated: bool,
    /// The alternatives; at least one.
    pub any_of: Vec<Atom>,
}

/// A parsed query: every non-negated clause must match, no negated one may.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedQuery {
    /// The clauses in the order typed; at least one is not negated.
    pub clauses: Vec<Clause>,
}

/// Why a query string cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Nothing to look for: blank, or only lone `-` and `*`.
    #[error("the query is empty")]
    Empty,
    /// Every clause is excluded with `-`.
    #[error("the query only excludes terms; add at least one term to look for")]
    OnlyNegative,
    /// `OR` at either end, next to another `OR`, or beside an excluded term.
    #[error("'OR' needs a term on each side")]
    DanglingOr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Lexeme {
    Or,
    Atom { negated: bool, atom: Atom },
}

/// What a `-` at the start of a word means.
#[derive(Debug, PartialEq, Eq)]
enum Dash {
    /// Exclude the word after it: `tokio -async`, `-"phrase"`, `-panic`.
    Negates,
    /// Text to search: a pasted command's flag (`ulimit -n`, `ls -la`,
    /// `git commit -m`, `--force`) or punctuation (`->`, `-=`).
    Literal,
    /// A lone `-`: nothing.
    Nothing,
}

/// The rule for a `-` starting a word, given the rest of the word and
/// whether a word came before it. A `-` negates when a letter, digit or
/// quote follows and the word is not a command flag; a flag is `--word`,
/// or one to three letters or digits after a single `-` following another
/// word (a short option, as shells take them). Anything else after the
/// `-` (`->`, `-=`) makes the whole word literal text.
fn dash(rest: &str, after_word: bool) -> Dash {
    let Some(first) = rest.chars().next() else { return Dash::Nothing };
    if first == '"' {
        return Dash::Negates;
    }
    if first == '-' {
        return Dash::Literal;
    }
    if !first.is_alphanumeric() {
        return Dash::Literal;
    }
    let short_option = rest.len() <= 3 && rest.chars().all(|ch| ch.is_ascii_alphanumeric());
    if after_word && short_option { Dash::Literal } else { Dash::Negates }
}

fn lex(input: &str) -> Vec<Lexeme> {
    let mut out = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut negated = false;
        if c == '-' {
            let rest: String = chars.clone().skip(1).take_while(|ch| !ch.is_whitespace()).collect();
            match dash(&rest, !out.is_empty()) {
                Dash::Negates => {
                    chars.next();
                    negated = true;
                }
                // Part of the word (a flag, `->`): searched as typed.
                Dash::Literal => {}
                Dash::Nothing => {
                    chars.next();
                    continue;
                }
            }
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut phrase = String::new();
            for ch in chars.by_ref() {
                if ch == '"' {
                    break;
                }
                phrase.push(ch);
            }
            // An unclosed quote runs to the end of the query.
            if !phrase.trim().is_empty() {
                out.push(Lexeme::Atom { negated, atom: Atom::Phrase(phrase.trim().to_string()) });
            }
            continue;
        }
        let mut word = String::new();
        while let Some(&ch) = chars.peek() {
            if ch.is_whitespace() || ch == '"' {
                break;
            }
            word.push(ch);
            chars.next();
        }
        if word == "OR" && !negated {
            out.push(Lexeme::Or);
        } else if let Some(stem) = word.strip_suffix('*').filter(|s| !s.is_empty() && !s.ends_with('*')) {
            out.push(Lexeme::Atom { negated, atom: Atom::Prefix(stem.to_string()) });
        } else {
            let word = word.trim_end_matches('*').to_string();
            if !word.is_empty() {
                out.push(Lexeme::Atom { negated, atom: Atom::Term(word) });
            }
        }
    }
    out
}

/// Parses a query string.
pub fn parse(input: &str) -> Result<ParsedQuery, QueryError> {
    let lexemes = lex(input);
    if lexemes.is_empty() {
        return Err(QueryError::Empty);
    }
    let mut clauses: Vec<Clause> = Vec::new();
    let mut join_next = false;
    for (i, lx) in lexemes.iter().enumerate() {
        match lx {
            Lexeme::Or => {
                let prev_ok = i > 0 && matches!(lexemes[i - 1], Lexeme::Atom { negated: false, .. });
                let next_ok = matches!(lexemes.get(i + 1), Some(Lexeme::Atom { negated: false, .. }));
                if !prev_ok || !next_ok {
                    return Err(QueryError::DanglingOr);
                }
                join_next = true;
            }
            Lexeme::Atom { negated, atom } => {
                if join_next {
                    clauses.last_mut().expect("OR follows a clause").any_of.push(atom.clone());
                    join_next = false;
                } else {
                    clauses.push(Clause { negated: *negated, any_of: vec![atom.clone()] });
                }
            }
        }
    }
    if clauses.iter().all(|c| c.negated) {
        return Err(QueryError::OnlyNegative);
    }
    Ok(ParsedQuery { clauses })
}

impl ParsedQuery {
    /// What to highlight: exact lowercase tokens and lowercase prefixes of
    /// every atom that is looked for (not excluded).
    pub fn highlight_terms(&self) -> (Vec<String>, Vec<String>) {
        let mut exact = Vec::new();
        let mut prefixes = Vec::new();
        for clause in self.clauses.iter().filter(|c| !c.negated) {
            for atom in &clause.any_of {
                match atom {
                    Atom::Term(t) | Atom::Phrase(t) => {
                        crate::lexical::tokenizer::tokenize(t, |tok| exact.push(tok.text));
                    }
                    Atom::Prefix(p) => prefixes.push(p.to_lowercase()),
                }
            }
        }
        // Stopwords are not highlighted, unless the query is nothing else.
        if exact.iter().any(|w| !super::stopwords::is_stopword(w)) || !prefixes.is_empty() {
            exact.retain(|w| !super::stopwords::is_stopword(w));
        }
        (exact, prefixes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dash_excludes_only_where_a_person_means_it() {
        let negated = |q: &str| -> Vec<bool> { parse(q).unwrap().clauses.iter().map(|c| c.negated).collect() };
        assert_eq!(negated("tokio -async"), [false, true]);
        assert_eq!(negated("panic -\"stack overflow\""), [false, true]);
        assert_eq!(negated("ulimit -n"), [false, false]);
        assert_eq!(negated("ls -la"), [false, false]);
        assert_eq!(negated("git commit -m \"fix\""), [false, false, false, false]);
        assert_eq!(negated("cargo build --release"), [false, false, false]);
        assert_eq!(negated("a -> b"), [false, false, false]);
        assert_eq!(negated("rust -go"), [false, false], "two letters after a word read as a flag");
        assert_eq!(negated("rust -golang"), [false, true]);
        assert_eq!(parse("-n"), Err(QueryError::OnlyNegative), "a first word is never a flag");
        assert_eq!(negated("bd-q3fy"), [false]);
    }

    #[test]
    fn stopwords_are_not_highlighted_unless_they_are_the_whole_query() {
        let (exact, _) = parse("a data pipeline into S3").unwrap().highlight_terms();
        assert_eq!(exact, ["data", "pipeline", "s3"]);
        let (exact, _) = parse("to be or not").unwrap().highlight_terms();
        assert!(exact.contains(&"be".to_string()), "{exact:?}");
    }

    fn term(s: &str) -> Atom {
        Atom::Term(s.into())
    }

    #[test]
    fn implicit_and_or_negation_phrase_prefix() {
        let q = parse(r#"tokio OR async-std -panic "connection reset" recon*"#).unwrap();
        assert_eq!(
            q.clauses,
            vec![
                Clause { negated: false, any_of: vec![term("tokio"), term("async-std")] },
                Clause { negated: true, any_of: vec![term("panic")] },
                Clause { negated: false, any_of: vec![Atom::Phrase("connection reset".into())] },
                Clause { negated: false, any_of: vec![Atom::Prefix("recon".into())] },
            ]
        );
    }

    #[test]
    fn rejects_queries_that_cannot_match_anything_useful() {
        assert_eq!(parse("   "), Err(QueryError::Empty));
        assert_eq!(parse("-foo"), Err(QueryError::OnlyNegative));
        assert_eq!(parse("foo OR"), Err(QueryError::DanglingOr));
        assert_eq!(parse("OR foo"), Err(QueryError::DanglingOr));
    }

    #[test]
    fn lowercase_or_is_a_word_and_unclosed_quotes_run_to_the_end() {
        let q = parse(r#"this or "that thing"#).unwrap();
        assert_eq!(q.clauses.len(), 3);
        assert_eq!(q.clauses[2].any_of, vec![Atom::Phrase("that thing".into())]);
    }
}
