//! Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language Models", App. A,
//! Table A1), with the thresholds and order of checks of datatrove's `GopherQualityFilter` and
//! `GopherRepetitionFilter`, so decisions and reason names line up with that reference.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::chars::{char_len, py_isalpha, py_strip};
use super::doc::Doc;

/// Gopher quality thresholds. `None` disables a check.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GopherQuality {
    pub min_doc_words: Option<usize>,
    pub max_doc_words: Option<usize>,
    pub min_avg_word_length: Option<f64>,
    pub max_avg_word_length: Option<f64>,
    pub max_symbol_word_ratio: Option<f64>,
    pub max_bullet_lines_ratio: Option<f64>,
    pub max_ellipsis_lines_ratio: Option<f64>,
    pub min_alpha_words_ratio: Option<f64>,
    pub min_stop_words: Option<usize>,
    pub stop_words: Vec<String>,
}

impl Default for GopherQuality {
    /// The paper's values: 50..100,000 words, mean word length 3..10, hash/ellipsis-to-word
    /// ratio <= 0.1, <= 90% bullet lines, <= 30% lines ending in an ellipsis, >= 80% words with a
    /// letter, >= 2 of the 8 stop words.
    fn default() -> Self {
        Self {
            min_doc_words: Some(50),
            max_doc_words: Some(100_000),
            min_avg_word_length: Some(3.0),
            max_avg_word_length: Some(10.0),
            max_symbol_word_ratio: Some(0.1),
            max_bullet_lines_ratio: Some(0.9),
            max_ellipsis_lines_ratio: Some(0.3),
            min_alpha_words_ratio: Some(0.8),
            min_stop_words: Some(2),
            stop_words: ["the", "be", "to", "of", "and", "that", "have", "with"].map(String::from).to_vec(),
        }
    }
}

/// Signals the quality rule measures on the way (null where the check order stopped earlier).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GopherQualityStats {
    pub n_words: usize,
    pub mean_word_length: Option<f64>,
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        f64::INFINITY
    } else {
        num as f64 / den as f64
    }
}

/// Apply the quality rules; `Err(reason)` names the first failed check.
pub fn gopher_quality(doc: &Doc, p: &GopherQuality) -> (Result<(), &'static str>, GopherQualityStats) {
    let words = doc.words();
    let n_words = words.len();
    let wc = doc.word_chars();
    let (mut n_ns, mut ns_chars) = (0usize, 0usize);
    for (i, _) in doc.non_symbol_words() {
        n_ns += 1;
        ns_chars += wc[i] as usize;
    }
    let mean = if n_ns > 0 { Some(ns_chars as f64 / n_ns as f64) } else { None };
    let stats = GopherQualityStats { n_words: n_ns, mean_word_length: mean };
    let r = (|| {
        if p.min_doc_words.is_some_and(|m| m > 0 && n_ns < m) {
            return Err("gopher_short_doc");
        }
        if p.max_doc_words.is_some_and(|m| m > 0 && n_ns > m) {
            return Err("gopher_long_doc");
        }
        // NaN mean (no word) compares false, as numpy's does
        if let Some(mean) = mean {
            if p.min_avg_word_length.is_some_and(|m| m > 0.0 && mean < m) {
                return Err("gopher_below_avg_threshold");
            }
            if p.max_avg_word_length.is_some_and(|m| m > 0.0 && mean > m) {
                return Err("gopher_above_avg_threshold");
            }
        }
        if let Some(max) = p.max_symbol_word_ratio.filter(|m| *m > 0.0) {
            if ratio(doc.text.matches('#').count(), n_words) > max {
                return Err("gopher_too_many_hashes");
            }
            let ell = doc.text.matches("...").count() + doc.text.matches('…').count();
            if ratio(ell, n_words) > max {
                return Err("gopher_too_many_ellipsis");
            }
        }
        let lines = doc.lines();
        if let Some(max) = p.max_bullet_lines_ratio.filter(|m| *m > 0.0) {
            let n = lines
                .iter()
                .filter(|l| {
                    let l = l.trim_start_matches(super::chars::py_isspace);
                    l.starts_with('•') || l.starts_with('-')
                })
                .count();
            if ratio(n, lines.len()) > max {
                return Err("gopher_too_many_bullets");
            }
        }
        if let Some(max) = p.max_ellipsis_lines_ratio.filter(|m| *m > 0.0) {
            let n = lines
                .iter()
                .filter(|l| {
                    let l = l.trim_end_matches(super::chars::py_isspace);
                    l.ends_with("...") || l.ends_with('…')
                })
                .count();
            if ratio(n, lines.len()) > max {
                return Err("gopher_too_many_end_ellipsis");
            }
        }
        if let Some(min) = p.min_alpha_words_ratio.filter(|m| *m > 0.0) {
            let n_alpha = words.iter().filter(|w| w.chars().any(py_isalpha)).count();
            if n_words == 0 || (n_alpha as f64 / n_words as f64) < min {
                return Err("gopher_below_alpha_threshold");
            }
        }
        if let Some(min) = p.min_stop_words.filter(|m| *m > 0) {
            let present: HashSet<&str> = words.iter().copied().filter(|w| p.stop_words.iter().any(|s| s == w)).collect();
            if present.len() < min {
                return Err("gopher_enough_stop_words");
            }
        }
        Ok(())
    })();
    (r, stats)
}

/// Gopher repetition thresholds. `None` disables a check. `top_n_grams` takes n in 2..=4,
/// `dup_n_grams` n in 5..=10 (the paper's ranges, and the reason codes that exist).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GopherRepetition {
    pub dup_line_frac: Option<f64>,
    pub dup_para_frac: Option<f64>,
    pub dup_line_char_frac: Option<f64>,
    pub dup_para_char_frac: Option<f64>,
    pub top_n_grams: Vec<(usize, f64)>,
    pub dup_n_grams: Vec<(usize, f64)>,
}

impl Default for GopherRepetition {
    /// Table A1 of the Gopher paper.
    fn default() -> Self {
        Self {
            dup_line_frac: Some(0.3),
            dup_para_frac: Some(0.3),
            dup_line_char_frac: Some(0.2),
            dup_para_char_frac: Some(0.2),
            top_n_grams: vec![(2, 0.2), (3, 0.18), (4, 0.16)],
            dup_n_grams: vec![(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)],
        }
    }
}

const TOP_REASONS: [&str; 3] = ["top_2_gram", "top_3_gram", "top_4_gram"];
const DUP_REASONS: [&str; 6] = [
    "duplicated_5_n_grams",
    "duplicated_6_n_grams",
    "duplicated_7_n_grams",
    "duplicated_8_n_grams",
    "duplicated_9_n_grams",
    "duplicated_10_n_grams",
];

impl GopherRepetition {
    /// Reject n-gram sizes that have no reason code.
    pub fn validate(&self) -> Result<(), String> {
        if let Some((n, _)) = self.top_n_grams.iter().find(|(n, _)| !(2..=4).contains(n)) {
            return Err(format!("top_n_grams: n={n} outside 2..=4"));
        }
        if let Some((n, _)) = self.dup_n_grams.iter().find(|(n, _)| !(5..=10).contains(n)) {
            return Err(format!("dup_n_grams: n={n} outside 5..=10"));
        }
        Ok(())
    }
}

/// Count elements seen before and the characters they hold (datatrove `find_duplicates`).
pub fn find_duplicates<'a>(items: impl Iterator<Item = &'a str>) -> (usize, usize) {
    let mut seen: HashSet<&str> = HashSet::new();
    let (mut n, mut chars) = (0, 0);
    for it in items {
        if !seen.insert(it) {
            n += 1;
            chars += char_len(it);
        }
    }
    (n, chars)
}

/// Polynomial hashing modulo the Mersenne prime 2^61-1, so the hash of a concatenation is
/// computed from the hashes of its parts without building the string.
const MOD: u64 = (1 << 61) - 1;
const BASE: u64 = 1_000_003;

#[inline]
fn mulmod(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    let lo = (p as u64) & MOD;
    let hi = (p >> 61) as u64;
    let s = lo + hi;
    if s >= MOD {
        s - MOD
    } else {
        s
    }
}

#[inline]
fn addmod(a: u64, b: u64) -> u64 {
    let s = a + b;
    if s >= MOD {
        s - MOD
    } else {
        s
    }
}

/// (hash, BASE^len) of a byte string.
fn poly(bytes: &[u8]) -> (u64, u64) {
    let (mut h, mut p) = (0u64, 1u64);
    for &b in bytes {
        h = addmod(mulmod(h, BASE), b as u64 + 1);
        p = mulmod(p, BASE);
    }
    (h, p)
}

/// Apply the repetition rules; `Err(reason)` names the first failed check.
pub fn gopher_repetition(doc: &Doc, p: &GopherRepetition) -> Result<(), &'static str> {
    let text = doc.text;
    if text.is_empty() {
        return Err("empty");
    }
    let n_chars = doc.n_chars() as f64;
    // paragraphs: re.split(r"\n{2,}", text.strip())
    let stripped = py_strip(text);
    let paragraphs = split_runs(stripped, 2);
    let (pd, pc) = find_duplicates(paragraphs.iter().copied());
    if p.dup_para_frac.is_some_and(|t| t > 0.0 && pd as f64 / paragraphs.len() as f64 > t) {
        return Err("dup_para_frac");
    }
    if p.dup_para_char_frac.is_some_and(|t| t > 0.0 && pc as f64 / n_chars > t) {
        return Err("dup_para_char_frac");
    }
    // lines: re.split("\n+", text)
    let lines = split_runs(text, 1);
    let (ld, lc) = find_duplicates(lines.iter().copied());
    if p.dup_line_frac.is_some_and(|t| t > 0.0 && ld as f64 / lines.len() as f64 > t) {
        return Err("dup_line_frac");
    }
    if p.dup_line_char_frac.is_some_and(|t| t > 0.0 && lc as f64 / n_chars > t) {
        return Err("dup_line_char_frac");
    }
    let words = doc.words();
    let wc = doc.word_chars();
    let hp: Vec<(u64, u64)> = words.iter().map(|w| poly(w.as_bytes())).collect();
    let (space_h, space_p) = poly(b" ");
    for &(n, frac) in &p.top_n_grams {
        if words.len() < n {
            continue;
        }
        // most common space-joined n-gram; ties go to the first seen (Counter.most_common)
        let mut counts: HashMap<u64, (u32, usize)> = HashMap::with_capacity(words.len());
        let mut best: (u32, usize, usize) = (0, usize::MAX, 0); // (count, first index, char len)
        for i in 0..=words.len() - n {
            let mut h = hp[i].0;
            for j in i + 1..i + n {
                h = addmod(mulmod(h, space_p), space_h);
                h = addmod(mulmod(h, hp[j].1), hp[j].0);
            }
            let e = counts.entry(h).or_insert((0, i));
            e.0 += 1;
            let (c, first) = *e;
            if c > best.0 || (c == best.0 && first < best.1) {
                let len: usize = wc[first..first + n].iter().map(|&x| x as usize).sum::<usize>() + n - 1;
                best = (c, first, len);
            }
        }
        if (best.2 * best.0 as usize) as f64 / n_chars > frac {
            return Err(TOP_REASONS[n - 2]);
        }
    }
    for &(n, frac) in &p.dup_n_grams {
        // datatrove joins with "" here, so ["ab","c"] and ["a","bc"] are the same n-gram
        let mut seen: HashSet<u64> = HashSet::with_capacity(words.len());
        let mut repeated = 0usize;
        let mut idx = 0usize;
        while idx + n <= words.len() {
            let mut h = 0u64;
            for j in idx..idx + n {
                h = addmod(mulmod(h, hp[j].1), hp[j].0);
            }
            if seen.contains(&h) {
                repeated += wc[idx..idx + n].iter().map(|&x| x as usize).sum::<usize>();
                idx += n;
            } else {
                seen.insert(h);
                idx += 1;
            }
        }
        if repeated as f64 / n_chars > frac {
            return Err(DUP_REASONS[n - 5]);
        }
    }
    Ok(())
}

/// `re.split("\n{min,}", s)`.
fn split_runs(s: &str, min: usize) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        if b[i] == b'\n' {
            let mut j = i;
            while j < b.len() && b[j] == b'\n' {
                j += 1;
            }
            if j - i >= min {
                out.push(&s[start..i]);
                start = j;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Result<(), &'static str> {
        gopher_quality(&Doc::new(text), &GopherQuality::default()).0
    }

    fn good_doc(n: usize) -> String {
        let base = ["the", "cat", "sat", "with", "a", "dog", "and", "ran", "to", "house"];
        let mut s = String::new();
        for i in 0..n {
            s.push_str(base[i % base.len()]);
            s.push_str(if i % 10 == 9 { ".\n" } else { " " });
        }
        s
    }

    #[test]
    fn quality_word_count_boundaries() {
        // 50 non-symbol words pass, 49 fail (periods are symbol words and do not count)
        let mk = |n: usize| (0..n).map(|i| if i % 2 == 0 { "the" } else { "house" }).collect::<Vec<_>>().join(" ") + " with and";
        assert_eq!(q(&mk(48)), Ok(()));
        assert_eq!(q(&mk(47)), Err("gopher_short_doc"));
        assert_eq!(q(&good_doc(100)), Ok(()));
    }

    #[test]
    fn quality_reasons() {
        let long_words = "the and ".to_string() + &"extraordinarily ".repeat(60);
        assert_eq!(q(&long_words), Err("gopher_above_avg_threshold"));
        let short_words = "the and ".to_string() + &"a b ".repeat(40);
        assert_eq!(q(&short_words), Err("gopher_below_avg_threshold"));
        let hashes = good_doc(60) + &"#tag ".repeat(10);
        assert_eq!(q(&hashes), Err("gopher_too_many_hashes"));
        let bullets = (0..20).map(|_| "- the house stands with garden").collect::<Vec<_>>().join("\n");
        assert_eq!(q(&bullets), Err("gopher_too_many_bullets"));
        let no_stop = "cat dog house ran sat ".repeat(12);
        assert_eq!(q(&no_stop), Err("gopher_enough_stop_words"));
        let digits = "the and ".to_string() + &"1234 5678 ".repeat(30);
        assert_eq!(q(&digits), Err("gopher_below_alpha_threshold"));
    }

    #[test]
    fn repetition_reasons() {
        let r = |t: &str| gopher_repetition(&Doc::new(t), &GopherRepetition::default());
        assert_eq!(r(""), Err("empty"));
        assert_eq!(r(&"same paragraph here\n\n".repeat(5)), Err("dup_para_frac"));
        // "line two line" twice: 13 chars x 2 / 86 chars > 0.18
        assert_eq!(r("alpha beta gamma delta\nline two\nline two\nline three\nline four\nline five\nline six"), Err("top_3_gram"));
        // the most common 3-gram of a short page, even seen once, can exceed 18% of its characters
        assert_eq!(r("alpha beta gamma delta epsilon\nline two\nline two\nzeta eta theta iota kappa lambda"), Err("top_3_gram"));
        let varied: String = (0..120).map(|i| format!("w{i}x ")).collect();
        assert_eq!(r(&varied), Ok(()));
        assert_eq!(r(&good_doc(200)), Err("dup_line_frac"));
    }

    #[test]
    fn split_runs_matches_re_split() {
        assert_eq!(split_runs("a\n\nb\nc\n\n\nd", 2), vec!["a", "b\nc", "d"]);
        assert_eq!(split_runs("\na\n", 1), vec!["", "a", ""]);
    }

    #[test]
    fn concatenation_hash_is_consistent() {
        let (ha, pa) = poly(b"ab");
        let (hb, _) = poly(b"c");
        let (hc, _) = poly(b"abc");
        let (_, pc1) = poly(b"c");
        assert_eq!(addmod(mulmod(ha, pc1), hb), hc);
        let _ = pa;
    }
}
