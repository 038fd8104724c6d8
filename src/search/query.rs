//! The query language, field-free:
//!
//! - words: every one must match (implicit AND; `AND` may be written);
//! - `a OR b`: either (binds tighter than AND: `rust tokio OR async-std`
//!   is `rust AND (tokio OR async-std)`);
//! - `NOT word`, `-word`, `-"phrase"`, `NOT (a OR b)`: must not match;
//! - `( … )`: grouping; `"exact phrase"`;
//! - `prefix*`, `*suffix`, `*infix*`: wildcards over the term dictionary.
//!
//! `AND`, `OR` and `NOT` are operators only in capitals. A pasted command's
//! flags (`ulimit -n`, `ls -la`, `--force`) and `->` are searched as text,
//! not taken as exclusions (see [`dash`]); parentheses inside a word
//! (`unwrap()`, `foo(bar)`) are text too.

/// One searchable unit of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atom {
    /// A bare word: its token, or for an identifier its whole form or its parts in order.
    Term(String),
    /// A quoted phrase: its tokens in order, adjacent.
    Phrase(String),
    /// `stem*`: any token starting with the stem.
    Prefix(String),
    /// `*end`: any token ending with it.
    Suffix(String),
    /// `*middle*`: any token containing it.
    Infix(String),
    /// `( … )`: a nested query; matches when all of its clauses do.
    Group(ParsedQuery),
}

/// Atoms joined by OR; the clause matches when any of them does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// Excluded with `-` or `NOT`: the message must not match.
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
    /// Every clause (of the query or of a group) is excluded.
    #[error("the query only excludes terms; add at least one term to look for")]
    OnlyNegative,
    /// `OR` at either end, next to another operator, or beside an excluded term.
    #[error("'OR' needs a term on each side (to exclude alternatives, write NOT (a OR b))")]
    DanglingOr,
    /// `AND` at either end or next to another operator.
    #[error("'AND' needs a term on each side")]
    DanglingAnd,
    /// `NOT` at the end or before an operator.
    #[error("'NOT' needs a term after it")]
    DanglingNot,
    /// `()` with nothing inside.
    #[error("empty parentheses")]
    EmptyGroup,
    /// `*x*` or `*x` with fewer than two letters: it would match nearly everything.
    #[error("the wildcard '{0}' needs at least two letters or digits besides '*'")]
    ShortWildcard(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Lexeme {
    Or,
    And,
    Not,
    Open { negated: bool },
    Close,
    Atom { negated: bool, atom: Atom },
}

/// What a `-` at the start of a word means.
#[derive(Debug, PartialEq, Eq)]
enum Dash {
    /// Exclude the word after it: `tokio -async`, `-"phrase"`, `-panic`, `-(a b)`.
    Negates,
    /// Text to search: a pasted command's flag (`ulimit -n`, `ls -la`,
    /// `git commit -m`, `--force`) or punctuation (`->`, `-=`).
    Literal,
    /// A lone `-`: nothing.
    Nothing,
}

/// The rule for a `-` starting a word, given the rest of the word and
/// whether a word came before it. A `-` negates when a letter, digit,
/// quote or parenthesis follows and the word is not a command flag; a flag
/// is `--word`, or one to three letters or digits after a single `-`
/// following another word (a short option, as shells take them). Anything
/// else after the `-` (`->`, `-=`) makes the whole word literal text.
fn dash(rest: &str, after_word: bool) -> Dash {
    let Some(first) = rest.chars().next() else { return Dash::Nothing };
    if first == '"' || first == '(' {
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

fn lex(input: &str) -> Result<Vec<Lexeme>, QueryError> {
    let mut out = Vec::new();
    let mut open_groups = 0usize;
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == ')' && open_groups > 0 {
            chars.next();
            open_groups -= 1;
            out.push(Lexeme::Close);
            continue;
        }
        let mut negated = false;
        if c == '-' {
            let rest: String = chars.clone().skip(1).take_while(|ch| !ch.is_whitespace()).collect();
            let after_word = out.iter().any(|l| matches!(l, Lexeme::Atom { .. }));
            match dash(&rest, after_word) {
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
        match chars.peek() {
            Some('(') => {
                chars.next();
                open_groups += 1;
                out.push(Lexeme::Open { negated });
                continue;
            }
            Some('"') => {
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
            _ => {}
        }
        // A word runs to whitespace, a quote, or a `)` that closes a group
        // (one that does not close a `(` of the word itself: `foo(bar)`).
        let mut word = String::new();
        let mut depth = 0usize;
        while let Some(&ch) = chars.peek() {
            if ch.is_whitespace() || ch == '"' || (ch == ')' && depth == 0 && open_groups > 0) {
                break;
            }
            match ch {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ => {}
            }
            word.push(ch);
            chars.next();
        }
        if !negated {
            match word.as_str() {
                "OR" => {
                    out.push(Lexeme::Or);
                    continue;
                }
                "AND" => {
                    out.push(Lexeme::And);
                    continue;
                }
                "NOT" => {
                    out.push(Lexeme::Not);
                    continue;
                }
                _ => {}
            }
        }
        if let Some(atom) = word_atom(&word)? {
            out.push(Lexeme::Atom { negated, atom });
        }
    }
    Ok(out)
}

/// The atom a bare word stands for; `None` for a word of only `*`.
fn word_atom(word: &str) -> Result<Option<Atom>, QueryError> {
    let lead = word.starts_with('*');
    let trail = word.ends_with('*');
    let core = word.trim_matches('*');
    if core.is_empty() {
        return Ok(None);
    }
    if lead {
        if core.chars().filter(|c| c.is_alphanumeric()).count() < 2 {
            return Err(QueryError::ShortWildcard(word.to_string()));
        }
        let core = core.to_string();
        return Ok(Some(if trail { Atom::Infix(core) } else { Atom::Suffix(core) }));
    }
    Ok(Some(if trail { Atom::Prefix(core.to_string()) } else { Atom::Term(core.to_string()) }))
}

/// A recursive-descent parser over the lexemes.
struct Parser {
    lexemes: Vec<Lexeme>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Lexeme> {
        self.lexemes.get(self.at)
    }

    fn next(&mut self) -> Option<Lexeme> {
        let l = self.lexemes.get(self.at).cloned();
        self.at += 1;
        l
    }

    /// Clauses up to the end or a `)`: `clause ([AND] clause)*`.
    fn sequence(&mut self) -> Result<ParsedQuery, QueryError> {
        let mut clauses = Vec::new();
        loop {
            match self.peek() {
                None | Some(Lexeme::Close) => break,
                Some(Lexeme::And) => {
                    self.next();
                    if clauses.is_empty()
                        || matches!(self.peek(), None | Some(Lexeme::Close | Lexeme::And | Lexeme::Or))
                    {
                        return Err(QueryError::DanglingAnd);
                    }
                }
                Some(Lexeme::Or) => return Err(QueryError::DanglingOr),
                Some(_) => clauses.push(self.clause()?),
            }
        }
        Ok(ParsedQuery { clauses })
    }

    /// `unary (OR unary)*`; alternatives may not be excluded.
    fn clause(&mut self) -> Result<Clause, QueryError> {
        let (negated, first) = self.unary()?;
        let mut any_of = first;
        while matches!(self.peek(), Some(Lexeme::Or)) {
            self.next();
            if negated || matches!(self.peek(), None | Some(Lexeme::Close | Lexeme::And | Lexeme::Or)) {
                return Err(QueryError::DanglingOr);
            }
            let (next_negated, more) = self.unary()?;
            if next_negated {
                return Err(QueryError::DanglingOr);
            }
            any_of.extend(more);
        }
        Ok(Clause { negated, any_of })
    }

    /// `NOT unary | -atom | ( sequence ) | atom`: whether it is excluded,
    /// and its alternatives (a group of one clause opens into that clause's).
    fn unary(&mut self) -> Result<(bool, Vec<Atom>), QueryError> {
        match self.next() {
            Some(Lexeme::Not) => {
                if matches!(self.peek(), None | Some(Lexeme::Close | Lexeme::And | Lexeme::Or)) {
                    return Err(QueryError::DanglingNot);
                }
                let (negated, atoms) = self.unary()?;
                Ok((!negated, atoms))
            }
            Some(Lexeme::Atom { negated, atom }) => Ok((negated, vec![atom])),
            Some(Lexeme::Open { negated }) => {
                let inner = self.sequence()?;
                // The lexer only emits `)` for an open group; a missing one
                // closes at the end, as an unclosed quote does.
                if matches!(self.peek(), Some(Lexeme::Close)) {
                    self.next();
                }
                if inner.clauses.is_empty() {
                    return Err(QueryError::EmptyGroup);
                }
                if inner.clauses.iter().all(|c| c.negated) {
                    return Err(QueryError::OnlyNegative);
                }
                let mut inner = inner;
                if inner.clauses.len() == 1 {
                    let only = inner.clauses.pop().expect("one clause");
                    return Ok((negated, only.any_of));
                }
                Ok((negated, vec![Atom::Group(inner)]))
            }
            Some(Lexeme::Or) => Err(QueryError::DanglingOr),
            Some(Lexeme::And) => Err(QueryError::DanglingAnd),
            Some(Lexeme::Close) | None => Err(QueryError::Empty),
        }
    }
}

/// Parses a query string.
pub fn parse(input: &str) -> Result<ParsedQuery, QueryError> {
    let lexemes = lex(input)?;
    if lexemes.is_empty() {
        return Err(QueryError::Empty);
    }
    let mut parser = Parser { lexemes, at: 0 };
    let query = parser.sequence()?;
    if parser.at < parser.lexemes.len() {
        // A stray `)` cannot reach here (the lexer keeps it as text), so
        // this is an operator the sequence stopped at.
        return Err(QueryError::DanglingOr);
    }
    if query.clauses.is_empty() {
        return Err(QueryError::Empty);
    }
    if query.clauses.iter().all(|c| c.negated) {
        return Err(QueryError::OnlyNegative);
    }
    Ok(query)
}

/// What a snippet highlights for a query: folded words and their stems,
/// and wildcard pieces, of every atom that is looked for (not excluded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HighlightTerms {
    /// Tokens matched exactly.
    pub exact: Vec<String>,
    /// Stems: a token whose stem (or itself) is one of these matches.
    pub stems: Vec<String>,
    /// Tokens starting with one of these.
    pub prefixes: Vec<String>,
    /// Tokens ending with one of these.
    pub suffixes: Vec<String>,
    /// Tokens containing one of these.
    pub infixes: Vec<String>,
}

impl HighlightTerms {
    /// True when nothing would be highlighted.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
            && self.stems.is_empty()
            && self.prefixes.is_empty()
            && self.suffixes.is_empty()
            && self.infixes.is_empty()
    }

    /// Whether a (folded) token of a text is one the query looks for.
    pub fn matches(&self, token: &str) -> bool {
        self.exact.iter().any(|e| e == token)
            || self.prefixes.iter().any(|p| token.starts_with(p.as_str()))
            || self.suffixes.iter().any(|p| token.ends_with(p.as_str()))
            || self.infixes.iter().any(|p| token.contains(p.as_str()))
            || self.stems.iter().any(|s| {
                // The prefix test first: stemming every word of a long
                // message would cost more than the rest of the snippet.
                token.starts_with(crate::lexical::stem::prefix(s))
                    && crate::lexical::stem::key(token).as_deref() == Some(s.as_str())
            })
    }
}

impl ParsedQuery {
    /// What to highlight for this query (see [`HighlightTerms`]).
    pub fn highlight_terms(&self) -> HighlightTerms {
        let mut h = HighlightTerms::default();
        self.collect_highlights(&mut h);
        // Stopwords are not highlighted, unless the query is nothing else.
        let stop = super::stopwords::is_stopword;
        if h.exact.iter().any(|w| !stop(w)) || !h.prefixes.is_empty() || !h.suffixes.is_empty() || !h.infixes.is_empty()
        {
            h.exact.retain(|w| !stop(w));
            h.stems.retain(|w| !stop(w));
        }
        h
    }

    fn collect_highlights(&self, h: &mut HighlightTerms) {
        let fold = crate::lexical::fold::folded;
        for clause in self.clauses.iter().filter(|c| !c.negated) {
            for atom in &clause.any_of {
                match atom {
                    Atom::Term(t) => crate::lexical::tokenizer::tokenize(t, |tok| {
                        h.stems.extend(crate::lexical::stem::key(&tok.text));
                        h.exact.push(tok.text);
                    }),
                    Atom::Phrase(t) => crate::lexical::tokenizer::tokenize(t, |tok| h.exact.push(tok.text)),
                    Atom::Prefix(p) => h.prefixes.push(fold(p)),
                    Atom::Suffix(p) => h.suffixes.push(fold(p)),
                    Atom::Infix(p) => h.infixes.push(fold(p)),
                    Atom::Group(q) => q.collect_highlights(h),
                }
            }
        }
    }

    /// The text of every atom that is looked for (not excluded), in order,
    /// operators and exclusions removed: what a semantic tier embeds.
    pub fn positive_text(&self) -> Vec<&str> {
        let mut parts = Vec::new();
        for clause in self.clauses.iter().filter(|c| !c.negated) {
            for atom in &clause.any_of {
                match atom {
                    Atom::Term(t) | Atom::Phrase(t) | Atom::Prefix(t) | Atom::Suffix(t) | Atom::Infix(t) => {
                        parts.push(t.as_str())
                    }
                    Atom::Group(q) => parts.extend(q.positive_text()),
                }
            }
        }
        parts
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
        let exact = parse("a data pipeline into S3").unwrap().highlight_terms().exact;
        assert_eq!(exact, ["data", "pipeline", "s3"]);
        let exact = parse("to be or not").unwrap().highlight_terms().exact;
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
    fn and_or_not_and_parentheses() {
        let q = parse("rust AND (tokio OR async-std) NOT panic").unwrap();
        assert_eq!(
            q.clauses,
            vec![
                Clause { negated: false, any_of: vec![term("rust")] },
                Clause { negated: false, any_of: vec![term("tokio"), term("async-std")] },
                Clause { negated: true, any_of: vec![term("panic")] },
            ]
        );
        let q = parse("(jwt refresh) OR (session cookie)").unwrap();
        let group = |a: &str, b: &str| {
            Atom::Group(ParsedQuery {
                clauses: vec![
                    Clause { negated: false, any_of: vec![term(a)] },
                    Clause { negated: false, any_of: vec![term(b)] },
                ],
            })
        };
        assert_eq!(
            q.clauses,
            vec![Clause { negated: false, any_of: vec![group("jwt", "refresh"), group("session", "cookie")] }]
        );
        let q = parse("deploy -(staging OR test)").unwrap();
        assert_eq!(q.clauses[1], Clause { negated: true, any_of: vec![term("staging"), term("test")] });
        let q = parse("deploy NOT (staging OR test)").unwrap();
        assert_eq!(q.clauses[1], Clause { negated: true, any_of: vec![term("staging"), term("test")] });
        assert_eq!(parse("a AND").unwrap_err(), QueryError::DanglingAnd);
        assert_eq!(parse("AND a").unwrap_err(), QueryError::DanglingAnd);
        assert_eq!(parse("a NOT").unwrap_err(), QueryError::DanglingNot);
        assert_eq!(parse("NOT a").unwrap_err(), QueryError::OnlyNegative);
        assert_eq!(parse("a OR -beta").unwrap_err(), QueryError::DanglingOr);
        assert_eq!(parse("a ()").unwrap_err(), QueryError::EmptyGroup);
        assert_eq!(parse("a (-beta)").unwrap_err(), QueryError::OnlyNegative);
        // An unclosed group closes at the end.
        assert_eq!(
            parse("(a OR b").unwrap().clauses,
            vec![Clause { negated: false, any_of: vec![term("a"), term("b")] }]
        );
    }

    #[test]
    fn parentheses_inside_words_are_text() {
        assert_eq!(parse("unwrap()").unwrap().clauses[0].any_of, vec![term("unwrap()")]);
        assert_eq!(parse("call foo(bar)").unwrap().clauses[1].any_of, vec![term("foo(bar)")]);
        // Inside a group, a word's own parentheses stay with it.
        assert_eq!(parse("(foo(bar) OR baz)").unwrap().clauses[0].any_of, vec![term("foo(bar)"), term("baz")]);
        // A `)` with no open group is text.
        assert_eq!(parse("smile :)").unwrap().clauses.len(), 2);
    }

    #[test]
    fn wildcards_at_either_end() {
        let atoms = |q: &str| parse(q).unwrap().clauses.into_iter().flat_map(|c| c.any_of).collect::<Vec<_>>();
        assert_eq!(atoms("recon*"), [Atom::Prefix("recon".into())]);
        assert_eq!(atoms("*Error"), [Atom::Suffix("Error".into())]);
        assert_eq!(atoms("*onnect*"), [Atom::Infix("onnect".into())]);
        assert_eq!(parse("*e").unwrap_err(), QueryError::ShortWildcard("*e".into()));
        assert_eq!(parse("*"), Err(QueryError::Empty));
    }

    #[test]
    fn highlights_cover_stems_and_wildcards_but_not_exclusions() {
        let h = parse("publish crates *Error -panic").unwrap().highlight_terms();
        assert!(h.matches("publishing") && h.matches("crate") && h.matches("crates"));
        assert!(h.matches("ioerror") && !h.matches("panic") && !h.matches("errors"));
        let h = parse("café").unwrap().highlight_terms();
        assert!(h.matches("cafe"));
    }

    #[test]
    fn lowercase_or_is_a_word_and_unclosed_quotes_run_to_the_end() {
        let q = parse(r#"this or "that thing"#).unwrap();
        assert_eq!(q.clauses.len(), 3);
        assert_eq!(q.clauses[2].any_of, vec![Atom::Phrase("that thing".into())]);
    }
}
