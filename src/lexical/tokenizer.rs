//! Tokens for code and logs.
//!
//! People search their agent histories for identifiers: `unwrap_or_default`,
//! `useEffect`, `bd-q3fy`, `src/main.rs`, `std::io::Error`. A prose tokenizer
//! splits those into fragments and loses the whole; a whitespace tokenizer
//! keeps the whole and loses the parts. This one emits both: the whole
//! identifier at position `p`, and its parts at `p, p+1, …`, so the whole, each
//! part, and a phrase of the parts all match. Everything is lowercased.
//!
//! The index keeps the whole form of identifiers only: words joined by `_`
//! (`unwrap_or_default`) and camelCase (`useEffect`, whose whole cannot be
//! rebuilt from its parts). A *compound* — parts joined by `-`, `.`, `/`,
//! `:` or `\\` (`src/main.rs:42`, `2026-12-07T10:00`, `a::b::c`) — is
//! indexed by its parts alone: logs hold millions of one-off compounds, and
//! their wholes were half the cost of building the index
//! (docs/PERFORMANCE.md). A query for one searches its parts as a phrase,
//! which matches everywhere the whole did.
//! CJK ideographs and kana become one token each, since those scripts do not
//! separate words with spaces. Token text is folded ([`super::fold`]):
//! lowercase, accents dropped.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

use super::fold::push_folded;

/// Tokens longer than this (base64, hashes of hashes) are not indexed whole.
const MAX_TOKEN_BYTES: usize = 64;

/// One token with its byte span in the source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeToken {
    /// The token, folded (lowercase, accents dropped).
    pub text: String,
    /// Byte offset where it starts in the source text.
    pub from: usize,
    /// Byte offset just past its end.
    pub to: usize,
    /// Its position; a whole identifier shares position `p` with its first part.
    pub position: usize,
    /// True for the whole identifier, false for a part of it.
    pub whole: bool,
    /// True for the whole of a compound (parts joined by a joiner other
    /// than `_`): the index does not hold it, only its parts.
    pub compound: bool,
}

/// True for characters that are a word each (CJK ideographs, kana, hangul).
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF   // hiragana, katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xF900..=0xFAFF // compatibility ideographs
        | 0xAC00..=0xD7AF // hangul syllables
        | 0x20000..=0x2FFFF)
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

/// A combining mark continues the word it follows: `cafe\u{301}` is one
/// word, spelled `café` decomposed.
fn is_mark(c: char) -> bool {
    !c.is_ascii() && unicode_normalization::char::is_combining_mark(c)
}

/// Characters that join the parts of one identifier.
const fn is_joiner(c: char) -> bool {
    matches!(c, '_' | '-' | '.' | '/' | ':' | '\\')
}

/// Where a token lies in the text; its text is the span lowercased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Byte offset where the token starts.
    pub from: usize,
    /// Byte offset just past its end.
    pub to: usize,
    /// Its position, as in [`CodeToken::position`].
    pub position: usize,
    /// True for the whole identifier (or a plain word), false for a part of it.
    pub whole: bool,
    /// True for the whole of a compound, which the index does not hold
    /// ([`CodeToken::compound`]).
    pub compound: bool,
    /// The span is ASCII with no capital letter: folded, it is itself
    /// (most words of most messages), so it is copied as it is.
    pub folded: bool,
}

/// Calls `emit` for every token of `text`, in position order.
pub fn tokenize(text: &str, mut emit: impl FnMut(CodeToken)) {
    scan(text, |sp| {
        let mut t = String::new();
        push_folded(&mut t, &text[sp.from..sp.to]);
        if !t.is_empty() {
            emit(CodeToken {
                text: t,
                from: sp.from,
                to: sp.to,
                position: sp.position,
                whole: sp.whole,
                compound: sp.compound,
            })
        }
    });
}

/// Finds every token span of `text`, in position order; allocates only a
/// scratch list for the parts of identifiers, once per text.
///
/// ASCII, most of what agents write, is scanned and split byte by byte; a
/// run that meets a non-ASCII character is scanned again by characters
/// ([`char_run_end`]), so both give the same tokens. Tokenizing was a
/// sixth of the index build's CPU when every byte went through `char`
/// decoding and Unicode tables.
pub fn scan(text: &str, mut emit: impl FnMut(Span)) {
    let bytes = text.as_bytes();
    let mut position = 0usize;
    let mut i = 0;
    // The parts of one identifier at a time, in one buffer for the text.
    let mut parts = Vec::new();
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii() {
            if !b.is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let (end, shape) = match ascii_run_end(bytes, i) {
                Some((end, has_parts, lowercase)) => (end, Shape::Ascii { has_parts, lowercase }),
                None => (char_run_end(text, i), Shape::Unicode),
            };
            position = emit_run(text, i, end, position, shape, &mut parts, &mut emit);
            i = end;
            continue;
        }
        (i, position) = scan_char(text, i, position, &mut parts, &mut emit);
    }
}

/// Scans from the character at `i` (not ASCII, or any character when
/// scanning by characters only): a CJK token, a run of words, or a
/// character skipped. Returns where scanning goes on and the next position.
fn scan_char(
    text: &str,
    i: usize,
    position: usize,
    parts: &mut Vec<(usize, usize)>,
    emit: &mut impl FnMut(Span),
) -> (usize, usize) {
    let Some(c) = text[i..].chars().next() else { return (text.len(), position) };
    if is_cjk(c) {
        emit(Span { from: i, to: i + c.len_utf8(), position, whole: true, compound: false, folded: false });
        (i + c.len_utf8(), position + 1)
    } else if is_word(c) {
        let end = char_run_end(text, i);
        (end, emit_run(text, i, end, position, Shape::Unicode, parts, emit))
    } else {
        (i + c.len_utf8(), position)
    }
}

/// What the scan learned about a run while finding its end.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// All ASCII; `has_parts` when it joins words or holds a capital after
    /// its first byte (`Word` is one part, `useEffect` two), `lowercase`
    /// when it holds no capital at all (then it is its own folded form).
    Ascii { has_parts: bool, lowercase: bool },
    /// Not known to be ASCII: looked at by characters.
    Unicode,
}

/// What [`ascii_run_end`] needs to know of a byte, looked up in one load.
const WORD: u8 = 1;
const UPPER: u8 = 2;
const JOINER: u8 = 4;
const NOT_ASCII: u8 = 8;

/// [`WORD`], [`UPPER`], [`JOINER`] and [`NOT_ASCII`] of every byte.
static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if !c.is_ascii() {
            NOT_ASCII
        } else if c.is_ascii_uppercase() {
            WORD | UPPER
        } else if c.is_ascii_alphanumeric() {
            WORD
        } else if is_joiner(c as char) {
            JOINER
        } else {
            0
        };
        b += 1;
    }
    table
};

/// The class of the byte at `i`; 0 past the end.
fn class_at(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).map_or(0, |&b| CLASS[b as usize])
}

/// The end of the run of ASCII words and joiners starting at `start` (an
/// ASCII letter or digit), ending on a word character; whether it may have
/// parts (it holds a joiner, or a capital after its first byte: a
/// capitalised word is one part) and whether it is all lowercase. `None`
/// when a non-ASCII character could continue it.
fn ascii_run_end(bytes: &[u8], start: usize) -> Option<(usize, bool, bool)> {
    let first_upper = CLASS[bytes[start] as usize] & UPPER != 0;
    let (mut j, mut joined, mut upper_after_first) = (start + 1, false, false);
    let end = |j, joined: bool, upper_after_first: bool| {
        Some((j, joined || upper_after_first, !first_upper && !upper_after_first))
    };
    loop {
        // The classes of the word's bytes, or-ed: one test for a capital
        // after the loop instead of one per byte (words are most of a text).
        let mut seen = 0;
        let mut c = class_at(bytes, j);
        while c & WORD != 0 {
            seen |= c;
            j += 1;
            c = class_at(bytes, j);
        }
        upper_after_first |= seen & UPPER != 0;
        if c & NOT_ASCII != 0 {
            return None;
        }
        if c & JOINER == 0 {
            return end(j, joined, upper_after_first);
        }
        // Only join when a word character follows the joiners.
        let mut k = j + 1;
        while class_at(bytes, k) & JOINER != 0 {
            k += 1;
        }
        let next = class_at(bytes, k);
        if next & NOT_ASCII != 0 {
            return None;
        }
        if next & WORD == 0 {
            return end(j, joined, upper_after_first);
        }
        joined = true;
        j = k;
    }
}

/// The end of the run of words, marks and joiners starting at `start` (a
/// word character), ending on a word character or mark.
fn char_run_end(text: &str, start: usize) -> usize {
    let mut chars = text[start..].char_indices().map(|(i, c)| (start + i, c)).peekable();
    let Some((_, c)) = chars.next() else { return start };
    let mut end = start + c.len_utf8();
    while let Some(&(i, n)) = chars.peek() {
        if is_word(n) || is_mark(n) {
            end = i + n.len_utf8();
            chars.next();
        } else if is_joiner(n) {
            // Only join when a word character follows the joiners.
            let rest = &text[i..];
            let after = rest.trim_start_matches(is_joiner);
            if after.chars().next().is_some_and(is_word) {
                let skip = rest.len() - after.len();
                while chars.peek().is_some_and(|&(j, _)| j < i + skip) {
                    chars.next();
                }
            } else {
                break;
            }
        } else {
            break;
        }
    }
    end
}

/// Emits one identifier run; returns the next free position. `parts` is
/// scratch space, reused across runs so a run with parts allocates nothing.
/// An ASCII run (the common case) is split by bytes, with the same answers
/// as by characters and no decoding: the index build tokenizes every word
/// of every message.
fn emit_run(
    text: &str,
    start: usize,
    end: usize,
    position: usize,
    shape: Shape,
    parts: &mut Vec<(usize, usize)>,
    emit: &mut impl FnMut(Span),
) -> usize {
    let run = &text[start..end];
    let whole_fits = run.len() <= MAX_TOKEN_BYTES;
    let has_parts = match shape {
        Shape::Ascii { has_parts, .. } => has_parts,
        Shape::Unicode => run.contains(|c: char| is_joiner(c) || c.is_uppercase()),
    };
    // A lowercase ASCII run, its parts too, is its own folded form.
    let folded = matches!(shape, Shape::Ascii { lowercase: true, .. });
    if !has_parts {
        // The common case: a plain word or number, or a capitalised word,
        // has no parts.
        if whole_fits {
            emit(Span { from: start, to: end, position, whole: true, compound: false, folded });
        }
        return position + 1;
    }
    parts.clear();
    match shape {
        Shape::Ascii { lowercase: true, .. } => split_at_joiners(run.as_bytes(), parts),
        Shape::Ascii { lowercase: false, .. } => split_ascii_parts(run.as_bytes(), parts),
        Shape::Unicode => split_parts(run, parts),
    }
    if whole_fits {
        let compound = parts.len() > 1 && run.contains(|c: char| is_joiner(c) && c != '_');
        emit(Span { from: start, to: end, position, whole: true, compound, folded });
    }
    if parts.len() <= 1 {
        return position + 1;
    }
    for (i, &(a, b)) in parts.iter().enumerate() {
        if b - a <= MAX_TOKEN_BYTES {
            let (from, to) = (start + a, start + b);
            emit(Span { from, to, position: position + i, whole: false, compound: false, folded });
        }
    }
    position + parts.len()
}

/// Pushes the byte ranges of the parts of an identifier onto `parts`: split
/// at joiners and at case changes (`useEffect` → use|Effect, `HTTPServer` →
/// HTTP|Server).
fn split_parts(run: &str, parts: &mut Vec<(usize, usize)>) {
    let chars: Vec<(usize, char)> = run.char_indices().collect();
    let mut part_start: Option<usize> = None;
    for (k, &(i, c)) in chars.iter().enumerate() {
        if is_joiner(c) {
            if let Some(s) = part_start.take() {
                parts.push((s, i));
            }
            continue;
        }
        if let Some(s) = part_start {
            if is_mark(c) {
                continue;
            }
            // The letter before, past any marks on it.
            let prev = chars[..k].iter().rev().map(|&(_, p)| p).find(|&p| !is_mark(p)).unwrap_or(c);
            let next = chars.get(k + 1).map(|&(_, n)| n);
            let lower_to_upper = prev.is_lowercase() && c.is_uppercase();
            let acronym_end = prev.is_uppercase() && c.is_uppercase() && next.is_some_and(char::is_lowercase);
            if lower_to_upper || acronym_end {
                parts.push((s, i));
                part_start = Some(i);
            }
        } else {
            part_start = Some(i);
        }
    }
    if let Some(s) = part_start {
        parts.push((s, run.len()));
    }
}

/// [`split_parts`] for an ASCII run, by bytes: ASCII has no marks, so the
/// letter before a letter in a part is simply the byte before it.
fn split_ascii_parts(run: &[u8], parts: &mut Vec<(usize, usize)>) {
    let mut part_start: Option<usize> = None;
    for (i, &c) in run.iter().enumerate() {
        let class = CLASS[c as usize];
        if class & JOINER != 0 {
            if let Some(s) = part_start.take() {
                parts.push((s, i));
            }
            continue;
        }
        let Some(s) = part_start else {
            part_start = Some(i);
            continue;
        };
        // Only a capital starts a part inside a word.
        if class & UPPER == 0 {
            continue;
        }
        let prev = run[i - 1];
        let lower_to_upper = prev.is_ascii_lowercase();
        let acronym_end = prev.is_ascii_uppercase() && run.get(i + 1).is_some_and(u8::is_ascii_lowercase);
        if lower_to_upper || acronym_end {
            parts.push((s, i));
            part_start = Some(i);
        }
    }
    if let Some(s) = part_start {
        parts.push((s, run.len()));
    }
}

/// [`split_ascii_parts`] for an ASCII run without capitals (paths, most
/// compounds): its parts are what lies between its joiners.
fn split_at_joiners(run: &[u8], parts: &mut Vec<(usize, usize)>) {
    let mut start = 0;
    for (i, &c) in run.iter().enumerate() {
        if CLASS[c as usize] & JOINER != 0 {
            if start < i {
                parts.push((start, i));
            }
            start = i + 1;
        }
    }
    if start < run.len() {
        parts.push((start, run.len()));
    }
}

/// Convenience: all tokens of a text.
pub fn tokens(text: &str) -> Vec<CodeToken> {
    let mut out = Vec::new();
    tokenize(text, |t| out.push(t));
    out
}

/// The tantivy side of the tokenizer, registered as [`super::schema::TOKENIZER`].
///
/// Indexing spends most of its time here and in tantivy's postings, so the
/// stream reuses one buffer of tokens and their strings across documents
/// instead of allocating a `String` per token.
#[derive(Clone, Default)]
pub struct CodeTokenizer {
    buf: Vec<Token>,
}

/// The tokens of one text, borrowed from the tokenizer's reused buffer.
pub struct CodeTokenStream<'a> {
    tokens: &'a mut Vec<Token>,
    len: usize,
    index: usize,
}

impl Tokenizer for CodeTokenizer {
    type TokenStream<'a> = CodeTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CodeTokenStream<'a> {
        let mut len = 0;
        let buf = &mut self.buf;
        scan(text, |sp| {
            if sp.compound {
                return; // indexed by its parts only (module doc)
            }
            if len == buf.len() {
                buf.push(Token::default());
            }
            let t = &mut buf[len];
            t.offset_from = sp.from;
            t.offset_to = sp.to;
            t.position = sp.position;
            t.position_length = 1;
            t.text.clear();
            if sp.folded {
                t.text.push_str(&text[sp.from..sp.to]);
            } else {
                push_folded(&mut t.text, &text[sp.from..sp.to]);
            }
            // A word of only marks folds to nothing: not a token.
            if !t.text.is_empty() {
                len += 1;
            }
        });
        // Do not let one giant document pin a huge buffer forever.
        if self.buf.len() > 1 << 16 && len < 1 << 12 {
            self.buf.truncate(1 << 12);
        }
        CodeTokenStream { tokens: &mut self.buf, len, index: usize::MAX }
    }
}

impl TokenStream for CodeTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.index = self.index.wrapping_add(1);
        self.index < self.len
    }
    fn token(&self) -> &Token {
        &self.tokens[self.index]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<(String, usize)> {
        tokens(s).into_iter().map(|t| (t.text, t.position)).collect()
    }

    #[test]
    fn identifiers_are_whole_and_parts() {
        let t = |s: &str| texts(s).into_iter().map(|(t, _)| t).collect::<Vec<_>>();
        assert_eq!(t("unwrap_or_default"), ["unwrap_or_default", "unwrap", "or", "default"]);
        assert_eq!(t("useEffect"), ["useeffect", "use", "effect"]);
        assert_eq!(t("bd-q3fy"), ["bd-q3fy", "bd", "q3fy"]);
        assert_eq!(t("ECONNREFUSED"), ["econnrefused"]);
        assert_eq!(t("src/main.rs"), ["src/main.rs", "src", "main", "rs"]);
        assert_eq!(t("std::io::Error"), ["std::io::error", "std", "io", "error"]);
        assert_eq!(t("HTTPServer"), ["httpserver", "http", "server"]);
    }

    #[test]
    fn the_index_holds_identifier_wholes_but_only_the_parts_of_compounds() {
        let indexed = |s: &str| {
            let mut tk = CodeTokenizer::default();
            let mut stream = tk.token_stream(s);
            let mut out = Vec::new();
            while stream.advance() {
                out.push((stream.token().text.clone(), stream.token().position));
            }
            out
        };
        let at = |v: &[(&str, usize)]| v.iter().map(|&(t, p)| (t.to_string(), p)).collect::<Vec<_>>();
        assert_eq!(
            indexed("unwrap_or_default"),
            at(&[("unwrap_or_default", 0), ("unwrap", 0), ("or", 1), ("default", 2)])
        );
        assert_eq!(indexed("useEffect"), at(&[("useeffect", 0), ("use", 0), ("effect", 1)]));
        assert_eq!(indexed("see bd-q3fy"), at(&[("see", 0), ("bd", 1), ("q3fy", 2)]));
        assert_eq!(indexed("src/my_mod.rs:42"), at(&[("src", 0), ("my", 1), ("mod", 2), ("rs", 3), ("42", 4)]));
        // The query side still sees the whole, marked as not indexed.
        let whole = tokens("bd-q3fy").into_iter().find(|t| t.whole).unwrap();
        assert!(whole.compound && whole.text == "bd-q3fy");
        assert!(!tokens("unwrap_or_default")[0].compound);
    }

    /// The scan by characters alone, as before the ASCII path.
    fn scan_by_chars(text: &str) -> Vec<Span> {
        let mut out = Vec::new();
        let (mut i, mut position) = (0, 0);
        let mut parts = Vec::new();
        while i < text.len() {
            (i, position) = scan_char(text, i, position, &mut parts, &mut |sp| out.push(sp));
        }
        out
    }

    #[test]
    fn the_ascii_scan_finds_what_the_scan_by_characters_finds() {
        let samples = [
            "plain words, and src/main.rs:42:7 then std::io::Error",
            "caf\u{e9}-bar foo_\u{e9}t\u{e9} na\u{ef}ve.rs x--y a__ b/ /c",
            "e\u{301}clair a.\u{301}b HTTPServer useEffect bd-q3fy 2026-12-07T10:00:00Z",
            "\u{65e5}\u{672c}abc\u{8a9e} \u{2014}dash\u{2014}word \u{1f600}emoji_ok",
            "trailing joiner. and:: ::leading and_\u{e9} \u{e9}_and x.\u{3042}",
            "Ａ full-width ﬁle ligature ok_Ö_ok AbcDEFGhi 123abc-9",
            "longwordsovereightbytes parseHTTPResponseHeaders abcdefgh\u{e9}ijk abcdefghijklmnoP_q src/abcdefghij/klmnopqr.rs",
        ];
        let mut long = String::new();
        for i in 0..400u32 {
            // Every pair of a few interesting characters, in every position.
            let set = ['a', 'Z', '9', '_', '-', '.', '/', ':', '\\', ' ', '\u{e9}', '\u{301}', '\u{3042}', '!'];
            long.push(set[(i as usize * 7) % set.len()]);
            long.push(set[(i as usize * 3 + 1) % set.len()]);
        }
        for s in samples.iter().copied().chain([long.as_str()]) {
            let mut fast = Vec::new();
            scan(s, |sp| fast.push(sp));
            // The ASCII path also knows which spans need no folding; the
            // scan by characters never claims it. Such a span is its own
            // folded form.
            for sp in fast.iter().filter(|sp| sp.folded) {
                assert_eq!(crate::lexical::fold::folded(&s[sp.from..sp.to]), &s[sp.from..sp.to], "{s:?}");
            }
            let unflagged: Vec<Span> = fast.iter().map(|&sp| Span { folded: false, ..sp }).collect();
            assert_eq!(unflagged, scan_by_chars(s), "{s:?}");
        }
        assert!(
            samples.iter().any(|s| {
                let mut any = false;
                scan(s, |sp| any |= sp.folded);
                any
            }),
            "some spans are taken as they are"
        );
    }

    #[test]
    fn ascii_runs_split_by_bytes_as_by_characters() {
        // Every run of up to four characters from a set that exercises
        // joiners, case changes, acronyms and digits.
        let set = ['a', 'b', 'Z', 'Q', '9', '_', '-', '.', '/', ':', '\\'];
        let mut runs = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = runs.iter().flat_map(|r| set.iter().map(move |c| format!("{r}{c}"))).collect();
            runs.extend(longer);
        }
        runs.extend(
            ["HTTPServer", "parseHTTPResponse", "a_B-cD.EFg/hI", "ABCdef", "x9Y", "getURLs2Go"].map(String::from),
        );
        let mut checked = 0;
        for run in &runs {
            let (mut by_bytes, mut by_chars) = (Vec::new(), Vec::new());
            split_ascii_parts(run.as_bytes(), &mut by_bytes);
            split_parts(run, &mut by_chars);
            assert_eq!(by_bytes, by_chars, "{run:?}");
            if !run.bytes().any(|b| b.is_ascii_uppercase()) {
                let mut at_joiners = Vec::new();
                split_at_joiners(run.as_bytes(), &mut at_joiners);
                assert_eq!(at_joiners, by_chars, "{run:?}");
            }
            checked += usize::from(by_chars.len() > 1);
        }
        assert!(checked > 1000, "the runs split into parts: {checked}");
    }

    fn stream_texts(tk: &mut CodeTokenizer, text: &str) -> Vec<(String, usize, usize)> {
        let mut stream = tk.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            let t = stream.token();
            out.push((t.text.clone(), t.position, t.offset_from));
        }
        out
    }

    #[test]
    fn each_text_gets_its_own_tokens_from_the_shared_buffer() {
        let fresh = |text: &str| stream_texts(&mut CodeTokenizer::default(), text);
        let mut tk = CodeTokenizer::default();
        // The same text again, another of the same length, an empty one, a
        // long one, then a short one over the long one's leftover tokens.
        let long = "word ".repeat(200);
        for text in ["Fix useEffect loop", "Fix useEffect loop", "Add parseHTTP test", "", &long, "Fix useEffect loop"]
        {
            assert_eq!(stream_texts(&mut tk, text), fresh(text), "{text:?}");
        }
    }

    #[test]
    fn a_token_changed_through_the_stream_does_not_change_the_next_text() {
        let mut tk = CodeTokenizer::default();
        {
            let mut stream = tk.token_stream("Alpha beta");
            while stream.advance() {
                stream.token_mut().text.push('!');
            }
        }
        assert_eq!(stream_texts(&mut tk, "Alpha beta"), [("alpha".to_string(), 0, 0), ("beta".to_string(), 1, 6)]);
    }

    #[test]
    fn punctuation_around_words_is_not_part_of_them() {
        assert_eq!(
            texts("(see src/main.rs.) -- done"),
            [
                ("see".into(), 0),
                ("src/main.rs".into(), 1),
                ("src".into(), 1),
                ("main".into(), 2),
                ("rs".into(), 3),
                ("done".into(), 4)
            ]
        );
    }

    #[test]
    fn positions_continue_after_parts() {
        let toks = texts("call unwrap_or_default now");
        assert_eq!(toks.last().unwrap(), &("now".to_string(), 4));
    }

    #[test]
    fn cjk_characters_are_single_tokens_and_spans_are_exact() {
        let s = "日本語 code";
        let toks = tokens(s);
        assert_eq!(toks.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(), ["日", "本", "語", "code"]);
        for t in toks {
            assert_eq!(s[t.from..t.to].to_lowercase(), t.text);
        }
    }

    #[test]
    fn accents_fold_and_a_combining_mark_stays_in_its_word() {
        let s = "Cafe\u{301}s naïve";
        let toks = tokens(s);
        assert_eq!(toks.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(), ["cafes", "naive"]);
        assert_eq!(&s[toks[0].from..toks[0].to], "Cafe\u{301}s");
        assert_eq!(texts("RésuméParser"), [("resumeparser".into(), 0), ("resume".into(), 0), ("parser".into(), 1)]);
    }
}
