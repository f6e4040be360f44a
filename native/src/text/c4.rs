//! C4 line and page rules (Raffel et al. 2020, §2.2; TFDS `c4_utils.clean_page`).
//!
//! Lines are kept only if they pass the line rules; the page is dropped for "lorem ipsum", a
//! curly bracket, or too few sentences in the kept lines. Two variants exist: the original TFDS
//! code (end marks `. ? ! "`, >= 5 words per line, >= 3 sentences) and datatrove's
//! `C4QualityFilter` (adds `'` as end mark, >= 3 words per line, >= 5 sentences), which FineWeb
//! ran with `filter_no_terminal_punct=False`. [`C4::tfds`] and [`C4::datatrove`] build both.

use serde::{Deserialize, Serialize};

use super::chars::{char_len, py_split_whitespace, py_splitlines, py_strip};
use super::tokenize::count_sentences;

const POLICY_SUBSTRINGS: [&str; 6] =
    ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"];

/// C4 settings. Negative integers disable a check (as in the references).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct C4 {
    pub remove_citations: bool,
    pub filter_no_terminal_punct: bool,
    pub end_marks: Vec<String>,
    pub min_num_sentences: i64,
    pub min_words_per_line: i64,
    pub max_word_length: i64,
    pub filter_lorem_ipsum: bool,
    pub filter_javascript: bool,
    pub filter_curly_bracket: bool,
    pub filter_policy: bool,
}

impl C4 {
    /// The original TFDS defaults.
    pub fn tfds() -> Self {
        Self {
            remove_citations: true,
            filter_no_terminal_punct: true,
            end_marks: [".", "?", "!", "\""].map(String::from).to_vec(),
            min_num_sentences: 3,
            min_words_per_line: 5,
            max_word_length: 1000,
            filter_lorem_ipsum: true,
            filter_javascript: true,
            filter_curly_bracket: true,
            filter_policy: true,
        }
    }

    /// datatrove's `C4QualityFilter` defaults.
    pub fn datatrove() -> Self {
        Self {
            end_marks: [".", "?", "!", "\"", "'"].map(String::from).to_vec(),
            min_num_sentences: 5,
            min_words_per_line: 3,
            ..Self::tfds()
        }
    }
}

/// Remove `[<digits>]`, `[edit]` and `[citation needed]` (Wikipedia-style citation marks).
fn remove_citations(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.contains('[') {
        return std::borrow::Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(p) = rest.find('[') {
        out.push_str(&rest[..p]);
        let tail = &rest[p..];
        let skip = if let Some(close) = tail.find(']') {
            let inner = &tail[1..close];
            if inner.chars().all(|c| c.is_numeric()) || inner == "edit" || inner == "citation needed" {
                Some(close + 1)
            } else {
                None
            }
        } else {
            None
        };
        match skip {
            Some(n) => rest = &tail[n..],
            None => {
                out.push('[');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Outcome of the C4 rules on one page.
#[derive(Debug, Clone, PartialEq)]
pub struct C4Outcome {
    pub verdict: Result<(), &'static str>,
    /// Sentences counted in kept lines.
    pub sentences: usize,
    /// The kept lines joined by "\n" (the cleaned page C4 emits). Lines that trigger a page rule
    /// are left out, so later rules can still read the page when it was dropped.
    pub text: Option<String>,
}

/// Apply the C4 rules to `text`.
pub fn c4(text: &str, p: &C4) -> C4Outcome {
    let mut kept: Vec<String> = Vec::new();
    let mut sentences = 0usize;
    // the first page-level rule that fired; scanning goes on so the cleaned text is complete
    let mut page_reason: Option<&'static str> = None;
    for raw in py_splitlines(text) {
        let line = py_strip(raw);
        let words: Vec<&str> = py_split_whitespace(line).collect();
        if p.max_word_length >= 0 && words.iter().any(|w| char_len(w) as i64 > p.max_word_length) {
            continue;
        }
        let line = if p.remove_citations { remove_citations(line) } else { std::borrow::Cow::Borrowed(line) };
        if p.filter_no_terminal_punct && (!p.end_marks.iter().any(|m| line.ends_with(m.as_str())) || line.ends_with("...")) {
            continue;
        }
        if (words.len() as i64) < p.min_words_per_line {
            continue;
        }
        let lower = line.to_lowercase();
        if p.filter_lorem_ipsum && lower.contains("lorem ipsum") {
            page_reason.get_or_insert("lorem_ipsum");
            continue;
        }
        if p.filter_javascript && lower.contains("javascript") {
            continue;
        }
        if p.filter_curly_bracket && line.contains('{') {
            page_reason.get_or_insert("curly_bracket");
            continue;
        }
        if p.filter_policy && POLICY_SUBSTRINGS.iter().any(|s| lower.contains(s)) {
            continue;
        }
        if p.min_num_sentences != -1 {
            sentences += count_sentences(&line);
        }
        kept.push(line.into_owned());
    }
    let joined = kept.join("\n");
    let text = Some(py_strip(&joined).to_string());
    let verdict = match page_reason {
        Some(r) => Err(r),
        None if (sentences as i64) < p.min_num_sentences => Err("too_few_sentences"),
        None => Ok(()),
    };
    C4Outcome { verdict, sentences, text }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "This is a fine sentence here.";

    #[test]
    fn sentence_threshold_boundary_per_variant() {
        let five = [S; 5].join("\n");
        let four = [S; 4].join("\n");
        assert!(c4(&five, &C4::datatrove()).verdict.is_ok());
        assert_eq!(c4(&four, &C4::datatrove()).verdict, Err("too_few_sentences"));
        let three = [S; 3].join("\n");
        let two = [S; 2].join("\n");
        assert!(c4(&three, &C4::tfds()).verdict.is_ok());
        assert_eq!(c4(&two, &C4::tfds()).verdict, Err("too_few_sentences"));
    }

    #[test]
    fn line_rules_drop_lines_and_page_rules_drop_pages() {
        let page = format!("{S}\nno terminal mark\nEnable JavaScript to view this.\nRead our privacy policy now.\nTwo words.\n{S}[1]\n{S}[edit]\nWait for it...\n{S}\n{S}");
        let out = c4(&page, &C4::datatrove());
        assert_eq!(out.verdict, Ok(()));
        assert_eq!(out.text.unwrap(), [S; 5].join("\n"));
        assert_eq!(c4(&format!("{S}\nLorem ipsum dolor sit amet."), &C4::tfds()).verdict, Err("lorem_ipsum"));
        assert_eq!(c4(&format!("{S}\nvar x = {{ a: 1 }} is code."), &C4::tfds()).verdict, Err("curly_bracket"));
    }

    #[test]
    fn apostrophe_end_mark_differs_between_variants() {
        let line = "He said it was 'fine'";
        let page = [line; 6].join("\n");
        assert!(c4(&page, &C4::datatrove()).verdict.is_ok());
        assert_eq!(c4(&page, &C4::tfds()).verdict, Err("too_few_sentences"));
        let no_punct = C4 { filter_no_terminal_punct: false, ..C4::datatrove() };
        assert!(c4(&["one two three four"; 5].join("\n"), &no_punct).verdict.is_ok());
    }

    #[test]
    fn citations_removed() {
        assert_eq!(remove_citations("a[1] b[edit] c[citation needed] d[x]"), "a b c d[x]");
        assert_eq!(remove_citations("[] e"), " e");
    }
}
