//! Folding: the form of a word that matching compares.
//!
//! Sessions hold `café` precomposed (U+00E9) or decomposed (`e` + U+0301),
//! and people type `cafe`. Every token the index stores, every query word
//! and every word a snippet compares goes through [`push_folded`], so all
//! three spellings meet: compatibility decomposition (NFKD: `ﬁ` → `fi`,
//! full-width `Ａ` → `a`), combining marks dropped, lowercase, and the few
//! Latin letters that carry their mark inside the letter (`ø`, `ł`, `ß`…)
//! spelled as their base letters. CJK characters keep their marks (a
//! dakuten changes the kana), and ASCII text, the common case, is only
//! lowercased.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Pushes the folded form of `s` onto `out`.
pub fn push_folded(out: &mut String, s: &str) {
    if s.is_ascii() {
        out.push_str(s);
        let start = out.len() - s.len();
        out[start..].make_ascii_lowercase();
        return;
    }
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else if super::tokenizer::is_cjk(c) {
            out.push(c);
        } else {
            for d in std::iter::once(c).nfkd() {
                if is_combining_mark(d) {
                    continue;
                }
                match letter_with_built_in_mark(d) {
                    Some(base) => out.push_str(base),
                    None => out.extend(d.to_lowercase()),
                }
            }
        }
    }
}

/// The folded form of `s`, as a new string.
pub fn folded(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_folded(&mut out, s);
    out
}

/// Letters that NFKD leaves whole although readers see a base letter with
/// a mark (or a ligature) in them.
fn letter_with_built_in_mark(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' | 'ẞ' => "ss",
        'æ' | 'Æ' => "ae",
        'œ' | 'Œ' => "oe",
        'ø' | 'Ø' => "o",
        'ł' | 'Ł' => "l",
        'đ' | 'Đ' | 'ð' | 'Ð' => "d",
        'þ' | 'Þ' => "th",
        'ı' => "i",
        'ħ' | 'Ħ' => "h",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_an_accented_word_folds_to_its_base_letters() {
        assert_eq!(folded("café"), "cafe");
        assert_eq!(folded("cafe\u{301}"), "cafe");
        assert_eq!(folded("CAFÉ"), "cafe");
        assert_eq!(folded("naïve"), "naive");
        assert_eq!(folded("Résumé"), "resume");
        assert_eq!(folded("Straße"), "strasse");
        assert_eq!(folded("Łódź"), "lodz");
        assert_eq!(folded("ﬁle"), "file");
        assert_eq!(folded("ＡＢＣ"), "abc");
    }

    #[test]
    fn ascii_is_only_lowercased_and_cjk_keeps_its_marks() {
        assert_eq!(folded("useEffect_2"), "useeffect_2");
        assert_eq!(folded("が"), "が");
        assert_eq!(folded("日本"), "日本");
    }

    #[test]
    fn folding_appends_and_a_late_accent_folds_the_whole_word() {
        // Folding appends to what the buffer holds, ASCII or not.
        let mut out = String::from("Keep|");
        push_folded(&mut out, "ParseCafÉ");
        push_folded(&mut out, "|OK");
        assert_eq!(out, "Keep|parsecafe|ok");
    }
}
