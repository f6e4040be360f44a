//! RefinedWeb line-wise corrections (Penedo et al. 2023, §3.2 and App. G.2).
//!
//! The paper removes lines that are mainly upper-case, only numerical, a counter ("3 likes") or a
//! single word; short lines (at most 10 words) that match a pattern at their start ("sign-in"),
//! end ("Read more...") or anywhere ("items in cart") are edited, the pattern being cut out; when
//! the words taken out exceed 5% of the document's words, the document is removed.
//!
//! The paper publishes neither its pattern lists nor the "mainly upper-case" threshold, so
//! [`LineCorrections::default`] holds our documented choices (docs/web_text.md):
//! - words are whitespace-separated tokens (Python `str.split()`), lines Python `splitlines`;
//! - "mainly upper-case": upper-case letters are more than `max_uppercase_ratio` (0.5) of the
//!   line's letters;
//! - "only numerical": every non-space character is numeric;
//! - "counter": two words, a number (digits with `,`/`.` separators, an optional `k`/`m`/`b`
//!   suffix) then a counter noun (`likes`, `shares`, `views`, ...), trailing punctuation ignored;
//! - patterns match ASCII-case-insensitively at word boundaries; a line left without a letter or
//!   digit after its edits is removed;
//! - the document is dropped when removed words / words > `max_removed_words_frac` (exactly 5% is kept).
//!
//! The corrected page is the kept and edited lines joined by `\n`.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde::{Deserialize, Serialize};

use super::chars::{py_split_whitespace, py_splitlines, py_strip};

/// Line-correction settings (defaults: our reading of App. G.2, see the module docs).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LineCorrections {
    /// Remove a line whose upper-case share of letters is above this; `None` disables.
    pub max_uppercase_ratio: Option<f64>,
    pub remove_numeric: bool,
    pub remove_counters: bool,
    /// Nouns that make "<number> <noun>" a counter line (lower-case).
    pub counter_words: Vec<String>,
    pub remove_single_word: bool,
    /// Patterns are applied to lines of at most this many words.
    pub max_words_for_patterns: usize,
    pub start_patterns: Vec<String>,
    pub end_patterns: Vec<String>,
    pub anywhere_patterns: Vec<String>,
    /// Drop the document when removed words / document words exceed this.
    pub max_removed_words_frac: f64,
}

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

impl Default for LineCorrections {
    fn default() -> Self {
        Self {
            max_uppercase_ratio: Some(0.5),
            remove_numeric: true,
            remove_counters: true,
            counter_words: strings(&[
                "like", "likes", "share", "shares", "comment", "comments", "view", "views", "reply", "replies",
                "retweet", "retweets", "follower", "followers", "following", "vote", "votes", "point", "points",
                "favorite", "favorites", "favourite", "favourites", "review", "reviews", "reaction", "reactions",
                "subscriber", "subscribers", "pin", "pins", "repost", "reposts", "answer", "answers", "read", "reads",
                "download", "downloads", "star", "stars", "fork", "forks", "clap", "claps", "upvote", "upvotes",
            ]),
            remove_single_word: true,
            max_words_for_patterns: 10,
            start_patterns: strings(&[
                "sign in", "sign-in", "sign up", "sign-up", "log in", "log-in", "login", "logout", "log out",
                "register", "subscribe", "share this", "share on", "skip to", "posted by", "posted on",
                "posted in", "filed under", "tagged", "tags:", "advertisement", "sponsored",
            ]),
            end_patterns: strings(&[
                "read more", "read more...", "read more…", "read more »", "continue reading", "click here",
                "show more", "see more", "view more", "learn more", "load more", "(more)", "more...", "[...]",
            ]),
            anywhere_patterns: strings(&[
                "items in cart", "item in cart", "items in your cart", "add to cart", "add to basket",
                "add to wishlist", "add to wish list", "back to top", "all rights reserved", "print this page",
                "leave a comment", "leave a reply", "share this post", "share this article",
            ]),
            max_removed_words_frac: 0.05,
        }
    }
}

/// Why a line was removed or edited (per-kind counts are kept by [`Outcome`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Uppercase,
    Numeric,
    Counter,
    SingleWord,
    Pattern,
}

/// Compiled patterns of a [`LineCorrections`] setting.
pub struct Prepared {
    start: Option<AhoCorasick>,
    end: Option<AhoCorasick>,
    anywhere: Option<AhoCorasick>,
}

fn automaton(patterns: &[String], kind: MatchKind) -> Option<AhoCorasick> {
    let pats: Vec<&str> = patterns.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect();
    (!pats.is_empty()).then(|| {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(kind)
            .build(&pats)
            .expect("patterns are plain strings")
    })
}

impl Prepared {
    pub fn new(p: &LineCorrections) -> Self {
        Self {
            start: automaton(&p.start_patterns, MatchKind::Standard),
            end: automaton(&p.end_patterns, MatchKind::Standard),
            anywhere: automaton(&p.anywhere_patterns, MatchKind::LeftmostLongest),
        }
    }
}

/// Result of the corrections on one document.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub verdict: Result<(), &'static str>,
    pub text: String,
    pub lines_removed: usize,
    pub lines_edited: usize,
    pub words_removed: usize,
    pub words: usize,
}

fn is_number(w: &str) -> bool {
    let w = w.strip_suffix(['k', 'K', 'm', 'M', 'b', 'B']).unwrap_or(w);
    let b = w.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_digit()
        && b[b.len() - 1].is_ascii_digit()
        && b.iter().all(|c| c.is_ascii_digit() || *c == b',' || *c == b'.')
}

fn is_counter(words: &[&str], nouns: &[String]) -> bool {
    if words.len() != 2 || !is_number(words[0]) {
        return false;
    }
    let noun = words[1].trim_end_matches(|c: char| c.is_ascii_punctuation()).to_lowercase();
    nouns.contains(&noun)
}

/// The discard rule that removes a whole line, if any.
fn discard_kind(line: &str, words: &[&str], p: &LineCorrections) -> Option<LineKind> {
    if let Some(thr) = p.max_uppercase_ratio {
        let (mut letters, mut upper) = (0usize, 0usize);
        for c in line.chars().filter(|c| c.is_alphabetic()) {
            letters += 1;
            upper += c.is_uppercase() as usize;
        }
        if letters > 0 && upper as f64 / letters as f64 > thr {
            return Some(LineKind::Uppercase);
        }
    }
    if p.remove_numeric && line.chars().all(|c| c.is_numeric() || c.is_whitespace()) {
        return Some(LineKind::Numeric);
    }
    if p.remove_counters && is_counter(words, &p.counter_words) {
        return Some(LineKind::Counter);
    }
    if p.remove_single_word && words.len() == 1 {
        return Some(LineKind::SingleWord);
    }
    None
}

fn alnum_at_edge(s: &str, end: bool) -> bool {
    let c = if end { s.chars().next_back() } else { s.chars().next() };
    c.is_some_and(char::is_alphanumeric)
}

/// A pattern match at [a, b) of `line` stands alone when an alphanumeric edge of the pattern is
/// not glued to another alphanumeric character.
fn at_boundary(line: &str, a: usize, b: usize) -> bool {
    let m = &line[a..b];
    let before_ok = !alnum_at_edge(m, false) || !line[..a].chars().next_back().is_some_and(char::is_alphanumeric);
    let after_ok = !alnum_at_edge(m, true) || !line[b..].chars().next().is_some_and(char::is_alphanumeric);
    before_ok && after_ok
}

/// Cut the start / end / anywhere patterns out of `line`; `None` when nothing matched.
fn edit_line(line: &str, pre: &Prepared) -> Option<String> {
    let mut s = line.to_string();
    let mut changed = false;
    if let Some(ac) = &pre.start {
        // the longest pattern that starts the line
        let best = ac.find_overlapping_iter(s.as_str()).filter(|m| m.start() == 0 && at_boundary(&s, 0, m.end())).map(|m| m.end()).max();
        if let Some(b) = best {
            s = py_strip(&s[b..]).to_string();
            changed = true;
        }
    }
    if let Some(ac) = &pre.end {
        // the longest pattern that ends the line
        let best = ac.find_overlapping_iter(s.as_str()).filter(|m| m.end() == s.len() && at_boundary(&s, m.start(), m.end())).map(|m| m.start()).min();
        if let Some(a) = best {
            s = py_strip(&s[..a]).to_string();
            changed = true;
        }
    }
    if let Some(ac) = &pre.anywhere {
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for m in ac.find_iter(s.as_str()) {
            if m.start() >= last && at_boundary(&s, m.start(), m.end()) {
                out.push_str(&s[last..m.start()]);
                last = m.end();
                // "a <cut> b" becomes "a b", not "a  b"
                if out.is_empty() || out.ends_with(char::is_whitespace) {
                    last += s[last..].len() - s[last..].trim_start().len();
                }
                changed = true;
            }
        }
        if changed && last > 0 {
            out.push_str(&s[last..]);
            s = py_strip(&out).to_string();
        }
    }
    changed.then_some(s)
}

/// Apply the corrections to `text`.
pub fn line_corrections(text: &str, p: &LineCorrections, pre: &Prepared) -> Outcome {
    let mut kept: Vec<std::borrow::Cow<'_, str>> = Vec::new();
    let (mut lines_removed, mut lines_edited, mut words_removed, mut words_total) = (0, 0, 0, 0);
    for raw in py_splitlines(text) {
        let line = py_strip(raw);
        let words: Vec<&str> = py_split_whitespace(line).collect();
        words_total += words.len();
        if words.is_empty() {
            kept.push(std::borrow::Cow::Borrowed(raw));
            continue;
        }
        if discard_kind(line, &words, p).is_some() {
            lines_removed += 1;
            words_removed += words.len();
            continue;
        }
        if words.len() <= p.max_words_for_patterns {
            if let Some(edited) = edit_line(line, pre) {
                let left = py_split_whitespace(&edited).count();
                words_removed += words.len().saturating_sub(left);
                if edited.chars().any(char::is_alphanumeric) {
                    lines_edited += 1;
                    kept.push(std::borrow::Cow::Owned(edited));
                } else {
                    lines_removed += 1;
                    words_removed += left;
                }
                continue;
            }
        }
        kept.push(std::borrow::Cow::Borrowed(raw));
    }
    let verdict = if words_total > 0 && words_removed as f64 / words_total as f64 > p.max_removed_words_frac {
        Err("too_many_removed_words")
    } else {
        Ok(())
    };
    Outcome { verdict, text: kept.join("\n"), lines_removed, lines_edited, words_removed, words: words_total }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Outcome {
        let p = LineCorrections::default();
        line_corrections(text, &p, &Prepared::new(&p))
    }

    /// A line of `n` ordinary words.
    fn words(n: usize) -> String {
        (0..n).map(|i| format!("word{i}")).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn discard_rules() {
        let body = words(40);
        for (line, expect_removed) in [
            ("THIS IS ALL CAPS", true),
            ("HALF upper", false),   // 4 of 9 letters upper-case
            ("ABCD efgh", false),    // exactly 0.5 is not "mainly"
            ("ABCDE efgh", true),    // 5 of 9
            ("12 345 6", true),
            ("12:30 pm", false),
            ("3 likes", true),
            ("1,204 Views.", true),
            ("2.5K shares", true),
            ("3 apples", false),
            ("likes 3", false),
            ("Home", true),
            ("two words", false),
        ] {
            let out = run(&format!("{body}\n{line}"));
            assert_eq!(out.lines_removed == 1, expect_removed, "{line:?}: {out:?}");
            assert_eq!(out.text == body, expect_removed, "{line:?}");
        }
    }

    #[test]
    fn patterns_edit_short_lines_only() {
        let body = words(200);
        let out = run(&format!("{body}\nSign in to see your basket now\nGreat story here. Read more..."));
        assert_eq!(out.text, format!("{body}\nto see your basket now\nGreat story here."));
        assert_eq!((out.lines_edited, out.lines_removed, out.words_removed), (2, 0, 4));
        // exactly 10 words: edited; 11 words: left alone
        let ten = "Nice post about cats and dogs and birds. Read more";
        let eleven = "Nice post about cats and dogs and small birds. Read more";
        assert_eq!(run(&format!("{body}\n{ten}")).text, format!("{body}\nNice post about cats and dogs and birds."));
        assert_eq!(run(&format!("{body}\n{eleven}")).text, format!("{body}\n{eleven}"));
        // anywhere, case-insensitive; not inside a longer word
        assert_eq!(run(&format!("{body}\nYou have 3 Items In Cart today")).text, format!("{body}\nYou have 3 today"));
        assert_eq!(run(&format!("{body}\nThe register shows loginname values")).lines_edited, 0);
        assert_eq!(run(&format!("{body}\nRegistered users get more")).lines_edited, 0);
        // a line left without letters or digits is removed
        let out = run(&format!("{body}\nAdd to cart | Add to wishlist"));
        assert_eq!((out.text.as_str(), out.lines_removed, out.words_removed), (body.as_str(), 1, 7));
    }

    #[test]
    fn five_percent_boundary() {
        // 100 words in total; the removed one-word lines carry 5 (kept) or 6 (dropped) of them
        let keep = format!("{}\n{}", words(95), ["Home"; 5].join("\n"));
        let out = run(&keep);
        assert_eq!((out.words, out.words_removed, out.verdict), (100, 5, Ok(())));
        let drop = format!("{}\n{}", words(94), ["Home"; 6].join("\n"));
        let out = run(&drop);
        assert_eq!((out.words, out.words_removed, out.verdict), (100, 6, Err("too_many_removed_words")));
        assert_eq!(out.text, words(94));
    }

    #[test]
    fn blank_lines_kept_and_empty_document_passes() {
        let body = words(30);
        assert_eq!(run(&format!("{body}\n\n{body}")).text, format!("{body}\n\n{body}"));
        let out = run("");
        assert_eq!((out.verdict, out.text.as_str(), out.words), (Ok(()), "", 0));
        let p = LineCorrections { max_uppercase_ratio: None, remove_single_word: false, ..LineCorrections::default() };
        assert_eq!(line_corrections("ALL CAPS HERE\nHome", &p, &Prepared::new(&p)).lines_removed, 0);
    }
}
