//! FineWeb's own quality rules (Penedo et al. 2024, §3.4; datatrove `FineWebQualityFilter`):
//! share of lines ending in terminal punctuation, share of short lines, duplicated-line
//! characters, and newlines per word (list-like pages).

use serde::{Deserialize, Serialize};

use super::chars::{char_len, is_terminal_punctuation, py_strip};
use super::doc::Doc;
use super::gopher::find_duplicates;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FineWeb {
    pub line_punct_thr: f64,
    pub line_punct_exclude_zero: bool,
    /// Line-final characters that count as punctuation; `None` = all terminal punctuation.
    pub stop_chars: Option<Vec<String>>,
    pub short_line_thr: f64,
    pub short_line_length: usize,
    pub char_duplicates_ratio: f64,
    pub new_line_ratio: f64,
}

impl Default for FineWeb {
    /// The values FineWeb ran with.
    fn default() -> Self {
        Self {
            line_punct_thr: 0.12,
            line_punct_exclude_zero: false,
            stop_chars: None,
            short_line_thr: 0.67,
            short_line_length: 30,
            char_duplicates_ratio: 0.01,
            new_line_ratio: 0.3,
        }
    }
}

pub fn fineweb(doc: &Doc, p: &FineWeb) -> Result<(), &'static str> {
    let text = doc.text;
    let lines: Vec<&str> = text.split('\n').filter(|l| !py_strip(l).is_empty()).collect();
    if lines.is_empty() {
        return Err("empty");
    }
    let n = lines.len() as f64;
    let ends = |l: &str| match &p.stop_chars {
        None => l.chars().next_back().is_some_and(is_terminal_punctuation),
        Some(s) => s.iter().any(|c| l.ends_with(c.as_str())),
    };
    let r = lines.iter().filter(|l| ends(l)).count() as f64 / n;
    if r < p.line_punct_thr && !(r == 0.0 && p.line_punct_exclude_zero) {
        return Err("line_punct_ratio");
    }
    let r = lines.iter().filter(|l| char_len(l) <= p.short_line_length).count() as f64 / n;
    if r > p.short_line_thr {
        return Err("short_line_ratio");
    }
    let (_, dup_chars) = find_duplicates(lines.iter().copied());
    let n_newlines = text.bytes().filter(|&b| b == b'\n').count();
    let denom = doc.n_chars() - n_newlines;
    if dup_chars as f64 / denom as f64 > p.char_duplicates_ratio {
        return Err("char_dup_ratio");
    }
    let n_words = doc.words().len();
    if n_words == 0 || n_newlines as f64 / n_words as f64 > p.new_line_ratio {
        return Err("list_ratio");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(t: &str) -> Result<(), &'static str> {
        fineweb(&Doc::new(t), &FineWeb::default())
    }

    #[test]
    fn reasons_and_boundaries() {
        assert_eq!(f("\n \n"), Err("empty"));
        let long = "a reasonably long line of prose that goes on and on";
        // 1 of 8 lines punctuated = 0.125 >= 0.12 passes; 1 of 9 = 0.111 fails
        let mk = |n: usize| {
            let mut v = vec![format!("{long}.")];
            for i in 0..n - 1 {
                v.push(format!("{long} {i}"));
            }
            v.join("\n")
        };
        assert_eq!(f(&mk(8)), Ok(()));
        assert_eq!(f(&mk(9)), Err("line_punct_ratio"));
        assert_eq!(f("short.\nshort two.\nshort three.\na longer line that has more than thirty chars."), Err("short_line_ratio"));
        assert_eq!(f(&format!("{long}.\n{long}.")), Err("char_dup_ratio"));
        let listy = (0..10).map(|i| format!("item number {i} of a list that is long enough.")).collect::<Vec<_>>().join("\n");
        assert_eq!(f(&listy), Ok(()));
        let listy = (0..10).map(|i| format!("abcdefghijklmnopqrstuvwxyzabcdefghijklmn{i}!")).collect::<Vec<_>>().join("\n");
        assert_eq!(f(&listy), Err("list_ratio"));
    }
}
