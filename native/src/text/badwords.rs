//! C4's bad-words rule (Raffel et al. 2020, §2.2): drop a page that contains any word or phrase of
//! the "List of Dirty, Naughty, Obscene or Otherwise Bad Words" (LDNOOBW), as datatrove's
//! `C4BadWordsFilter` does it:
//!
//! - the page is lower-cased (Unicode `lower`), the list is used as given (one entry per line,
//!   stripped; datatrove's ja/zh allow-list removed from every list);
//! - an entry matches only when flanked by a non-word character or the page's start/end
//!   (Python `re`'s `(?:\W|^)(...)(?:\W|$)`), except for Japanese, Thai and Chinese, where any
//!   occurrence matches;
//! - a page whose language has no list is kept and its `has_badwords` is unknown (datatrove's
//!   `fail_on_missing_language=False`; raising for one row is not an option here);
//! - `keep_fraction` keeps that share of matching pages: a page is kept when
//!   `xxh3(text, seed) / 2^64 < keep_fraction` (deterministic per document, where datatrove draws
//!   from one RNG stream per worker in document order).
//!
//! All entries of a language are searched in one Aho–Corasick pass over the page.

use std::collections::BTreeMap;

use aho_corasick::AhoCorasick;
use serde::{Deserialize, Serialize};
use unicode_normalization::char::is_combining_mark;

/// Words datatrove removes from every list: common sub-words of Japanese and Chinese.
pub const ALLOWLIST: [&str; 4] = ["sm", "グロ", "女の子", "性"];

/// Languages matched without word boundaries (datatrove's choice for scripts without spaces).
pub const NO_BOUNDARY_LANGUAGES: [&str; 3] = ["ja", "th", "zh"];

/// Bad-words settings: the lists themselves (read by the caller), per language code.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BadWords {
    pub lists: BTreeMap<String, Vec<String>>,
    /// Language of a row whose language is null (or of every row when no language column is given).
    pub default_language: String,
    /// Share of matching pages to keep anyway, in [0, 1].
    pub keep_fraction: f64,
    pub seed: u64,
}

/// Python `re`'s `\w` for one character: letters, numbers and `_` (combining marks are not).
#[inline]
pub fn is_word_char(c: char) -> bool {
    c == '_' || (c.is_alphanumeric() && !is_combining_mark(c))
}

/// One language's compiled list.
#[derive(Debug)]
pub struct Matcher {
    ac: Option<AhoCorasick>,
    boundaries: bool,
}

impl Matcher {
    /// Compile `words` for `language` (blank entries and the allow-list are left out).
    pub fn new(language: &str, words: &[String]) -> Self {
        let mut entries: Vec<&str> = words.iter().map(|w| w.trim()).filter(|w| !w.is_empty() && !ALLOWLIST.contains(w)).collect();
        entries.sort_unstable();
        entries.dedup();
        let ac = (!entries.is_empty()).then(|| AhoCorasick::new(&entries).expect("list entries are plain strings"));
        Self { ac, boundaries: !NO_BOUNDARY_LANGUAGES.contains(&language) }
    }

    /// Whether the lower-cased `lower` contains an entry (flanked by non-word characters when the
    /// language needs boundaries).
    pub fn matches(&self, lower: &str) -> bool {
        let Some(ac) = &self.ac else { return false };
        if !self.boundaries {
            return ac.is_match(lower);
        }
        ac.find_overlapping_iter(lower).any(|m| {
            let before = lower[..m.start()].chars().next_back();
            let after = lower[m.end()..].chars().next();
            !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
        })
    }
}

/// The compiled lists of a [`BadWords`] setting.
pub struct Prepared {
    matchers: BTreeMap<String, Matcher>,
}

impl Prepared {
    pub fn new(p: &BadWords) -> Self {
        Self { matchers: p.lists.iter().map(|(lang, words)| (lang.clone(), Matcher::new(lang, words))).collect() }
    }

    /// `None` when `language` has no list; otherwise whether `text` contains a bad word.
    pub fn has_badwords(&self, text: &str, language: &str) -> Option<bool> {
        let m = self.matchers.get(language)?;
        Some(m.matches(&text.to_lowercase()))
    }
}

/// Whether a matching page is kept by `keep_fraction` (a deterministic draw per document).
pub fn kept_by_fraction(text: &str, p: &BadWords) -> bool {
    if p.keep_fraction <= 0.0 {
        return false;
    }
    let u = xxhash_rust::xxh3::xxh3_64_with_seed(text.as_bytes(), p.seed) as f64 / 18_446_744_073_709_551_616.0;
    u < p.keep_fraction
}

/// Decision for one page: (`has_badwords`, verdict).
pub fn badwords(text: &str, language: &str, prepared: &Prepared, p: &BadWords) -> (Option<bool>, Result<(), &'static str>) {
    match prepared.has_badwords(text, language) {
        Some(true) if !kept_by_fraction(text, p) => (Some(true), Err("document_removed_with_badwords")),
        found => (found, Ok(())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(words: &[&str]) -> BadWords {
        let mut lists = BTreeMap::new();
        lists.insert("en".to_string(), words.iter().map(|w| w.to_string()).collect());
        lists.insert("zh".to_string(), vec!["坏".to_string()]);
        BadWords { lists, default_language: "en".into(), keep_fraction: 0.0, seed: 0 }
    }

    fn found(text: &str, words: &[&str]) -> Option<bool> {
        let p = setting(words);
        Prepared::new(&p).has_badwords(text, "en")
    }

    #[test]
    fn whole_words_and_phrases_only() {
        let words = ["darn", "dang it", "heck"];
        assert_eq!(found("Well, DARN.", &words), Some(true));
        assert_eq!(found("darn", &words), Some(true));
        assert_eq!(found("oh dang it!", &words), Some(true));
        assert_eq!(found("Dang It all", &words), Some(true));
        // a list word inside a longer word does not match
        assert_eq!(found("darned socks and a heckler", &words), Some(false));
        assert_eq!(found("undarn", &words), Some(false));
        assert_eq!(found("dang itself", &words), Some(false));
        // `_` and digits are word characters, punctuation and line breaks are not
        assert_eq!(found("darn_it heck2", &words), Some(false));
        assert_eq!(found("x\nheck\ny", &words), Some(true));
        assert_eq!(found("(heck)", &words), Some(true));
        // a non-ASCII letter is a word character; a combining mark is not (Python's \w)
        assert_eq!(found("éheck", &words), Some(false));
        assert_eq!(found("heck\u{301}", &words), Some(true));
    }

    #[test]
    fn overlapping_candidates_are_all_tried() {
        // "ass" fails the boundary inside "assess", the later "ass" matches
        assert_eq!(found("assess the ass", &["ass", "assess me"]), Some(true));
        assert_eq!(found("assessment", &["ass", "assess"]), Some(false));
    }

    #[test]
    fn languages_without_boundaries_and_missing_lists() {
        let p = setting(&["darn"]);
        let prep = Prepared::new(&p);
        assert_eq!(prep.has_badwords("这是坏的", "zh"), Some(true));
        assert_eq!(prep.has_badwords("darn", "fr"), None);
        assert_eq!(badwords("darn", "fr", &prep, &p), (None, Ok(())));
        assert_eq!(badwords("darn", "en", &prep, &p), (Some(true), Err("document_removed_with_badwords")));
        // blank entries and the allow-list never match
        assert_eq!(found("sm x", &["", " ", "sm"]), Some(false));
    }

    #[test]
    fn keep_fraction_is_deterministic_and_proportional() {
        let mut p = setting(&["darn"]);
        p.keep_fraction = 0.3;
        let prep = Prepared::new(&p);
        let docs: Vec<String> = (0..4000).map(|i| format!("darn {i}")).collect();
        let kept = docs.iter().filter(|d| badwords(d, "en", &prep, &p).1.is_ok()).count();
        assert!((1000..1400).contains(&kept), "{kept}");
        let again = docs.iter().filter(|d| badwords(d, "en", &prep, &p).1.is_ok()).count();
        assert_eq!(kept, again);
        p.keep_fraction = 1.0;
        assert!(docs.iter().all(|d| badwords(d, "en", &prep, &p).1.is_ok()));
    }
}
