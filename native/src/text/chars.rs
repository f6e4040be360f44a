//! Character classes and Python-compatible string helpers shared by every text rule.
//!
//! The rules reproduce reference implementations written in Python, so "whitespace", "line" and
//! "punctuation" must mean what they mean there: `str.isspace`, `str.splitlines`, and the
//! punctuation sets the datatrove filters test against (data, listed below by code point).

/// Characters datatrove counts as punctuation (`PUNCTUATION_SET`): symbol-only words are those
/// made of these alone. Sorted, for binary search.
pub(crate) const PUNCTUATION: &[char] = &['\u{0}', '\u{1}', '\u{2}', '\u{3}', '\u{4}', '\u{5}', '\u{6}', '\u{7}', '\u{8}', '\u{b}', '\u{c}', '\u{d}', '\u{e}', '\u{f}', '\u{10}', '\u{11}', '\u{12}', '\u{13}', '\u{14}', '\u{15}', '\u{16}', '\u{17}', '\u{18}', '\u{19}', '\u{1a}', '\u{1b}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{1f}', '\u{21}', '\u{22}', '\u{23}', '\u{24}', '\u{25}', '\u{26}', '\u{27}', '\u{28}', '\u{29}', '\u{2a}', '\u{2b}', '\u{2c}', '\u{2d}', '\u{2e}', '\u{2f}', '\u{3a}', '\u{3b}', '\u{3c}', '\u{3d}', '\u{3e}', '\u{3f}', '\u{40}', '\u{5b}', '\u{5c}', '\u{5d}', '\u{5e}', '\u{5f}', '\u{60}', '\u{7b}', '\u{7c}', '\u{7d}', '\u{7e}', '\u{7f}', '\u{80}', '\u{81}', '\u{82}', '\u{83}', '\u{84}', '\u{85}', '\u{86}', '\u{87}', '\u{88}', '\u{89}', '\u{8a}', '\u{8b}', '\u{8c}', '\u{8d}', '\u{8e}', '\u{8f}', '\u{90}', '\u{91}', '\u{92}', '\u{93}', '\u{94}', '\u{95}', '\u{96}', '\u{97}', '\u{98}', '\u{99}', '\u{9a}', '\u{9b}', '\u{9c}', '\u{9d}', '\u{9e}', '\u{9f}', '\u{ab}', '\u{b4}', '\u{bb}', '\u{589}', '\u{61d}', '\u{61e}', '\u{61f}', '\u{6d4}', '\u{700}', '\u{701}', '\u{702}', '\u{7f9}', '\u{837}', '\u{839}', '\u{83d}', '\u{83e}', '\u{964}', '\u{965}', '\u{104a}', '\u{104b}', '\u{1362}', '\u{1367}', '\u{1368}', '\u{166e}', '\u{1735}', '\u{1736}', '\u{17d4}', '\u{17d5}', '\u{17d6}', '\u{17d9}', '\u{17da}', '\u{1803}', '\u{1809}', '\u{1944}', '\u{1945}', '\u{1aa8}', '\u{1aa9}', '\u{1aaa}', '\u{1aab}', '\u{1b5a}', '\u{1b5b}', '\u{1b5e}', '\u{1b5f}', '\u{1b7d}', '\u{1b7e}', '\u{1c3b}', '\u{1c3c}', '\u{1c7e}', '\u{1c7f}', '\u{2013}', '\u{2014}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{201e}', '\u{2026}', '\u{203c}', '\u{203d}', '\u{2047}', '\u{2048}', '\u{2049}', '\u{2236}', '\u{2501}', '\u{25ba}', '\u{2e2e}', '\u{2e3c}', '\u{2e53}', '\u{2e54}', '\u{3001}', '\u{3002}', '\u{3008}', '\u{3009}', '\u{300a}', '\u{300b}', '\u{300c}', '\u{300d}', '\u{3010}', '\u{3011}', '\u{a4ff}', '\u{a60e}', '\u{a60f}', '\u{a6f3}', '\u{a6f7}', '\u{a876}', '\u{a877}', '\u{a8ce}', '\u{a8cf}', '\u{a92f}', '\u{a9c8}', '\u{a9c9}', '\u{aa5d}', '\u{aa5e}', '\u{aa5f}', '\u{aaf0}', '\u{aaf1}', '\u{abeb}', '\u{fe52}', '\u{fe56}', '\u{fe57}', '\u{ff01}', '\u{ff05}', '\u{ff08}', '\u{ff09}', '\u{ff0c}', '\u{ff0e}', '\u{ff11}', '\u{ff1a}', '\u{ff1b}', '\u{ff1f}', '\u{ff5e}', '\u{ff61}', '\u{10a56}', '\u{10a57}', '\u{10f55}', '\u{10f56}', '\u{10f57}', '\u{10f58}', '\u{10f59}', '\u{10f86}', '\u{10f87}', '\u{10f88}', '\u{10f89}', '\u{11047}', '\u{11048}', '\u{110be}', '\u{110bf}', '\u{110c0}', '\u{110c1}', '\u{11141}', '\u{11142}', '\u{11143}', '\u{111c5}', '\u{111c6}', '\u{111cd}', '\u{111de}', '\u{111df}', '\u{11238}', '\u{11239}', '\u{1123b}', '\u{1123c}', '\u{112a9}', '\u{1144b}', '\u{1144c}', '\u{115c2}', '\u{115c3}', '\u{115c9}', '\u{115ca}', '\u{115cb}', '\u{115cc}', '\u{115cd}', '\u{115ce}', '\u{115cf}', '\u{115d0}', '\u{115d1}', '\u{115d2}', '\u{115d3}', '\u{115d4}', '\u{115d5}', '\u{115d6}', '\u{115d7}', '\u{11641}', '\u{11642}', '\u{1173c}', '\u{1173d}', '\u{1173e}', '\u{11944}', '\u{11946}', '\u{11a42}', '\u{11a43}', '\u{11a9b}', '\u{11a9c}', '\u{11c41}', '\u{11c42}', '\u{11ef7}', '\u{11ef8}', '\u{11f43}', '\u{11f44}', '\u{16a6e}', '\u{16a6f}', '\u{16af5}', '\u{16b37}', '\u{16b38}', '\u{16b44}', '\u{16e98}', '\u{1bc9f}', '\u{1da88}'];
pub(crate) const TERMINAL_PUNCTUATION: &[char] = &['\u{21}', '\u{2e}', '\u{3f}', '\u{589}', '\u{61d}', '\u{61e}', '\u{61f}', '\u{6d4}', '\u{700}', '\u{701}', '\u{702}', '\u{7f9}', '\u{837}', '\u{839}', '\u{83d}', '\u{83e}', '\u{964}', '\u{965}', '\u{104a}', '\u{104b}', '\u{1362}', '\u{1367}', '\u{1368}', '\u{166e}', '\u{1735}', '\u{1736}', '\u{17d4}', '\u{17d5}', '\u{17d6}', '\u{17d9}', '\u{17da}', '\u{1803}', '\u{1809}', '\u{1944}', '\u{1945}', '\u{1aa8}', '\u{1aa9}', '\u{1aaa}', '\u{1aab}', '\u{1b5a}', '\u{1b5b}', '\u{1b5e}', '\u{1b5f}', '\u{1b7d}', '\u{1b7e}', '\u{1c3b}', '\u{1c3c}', '\u{1c7e}', '\u{1c7f}', '\u{203c}', '\u{203d}', '\u{2047}', '\u{2048}', '\u{2049}', '\u{2e2e}', '\u{2e3c}', '\u{2e53}', '\u{2e54}', '\u{3002}', '\u{a4ff}', '\u{a60e}', '\u{a60f}', '\u{a6f3}', '\u{a6f7}', '\u{a876}', '\u{a877}', '\u{a8ce}', '\u{a8cf}', '\u{a92f}', '\u{a9c8}', '\u{a9c9}', '\u{aa5d}', '\u{aa5e}', '\u{aa5f}', '\u{aaf0}', '\u{aaf1}', '\u{abeb}', '\u{fe52}', '\u{fe56}', '\u{fe57}', '\u{ff01}', '\u{ff0e}', '\u{ff1f}', '\u{ff61}', '\u{10a56}', '\u{10a57}', '\u{10f55}', '\u{10f56}', '\u{10f57}', '\u{10f58}', '\u{10f59}', '\u{10f86}', '\u{10f87}', '\u{10f88}', '\u{10f89}', '\u{11047}', '\u{11048}', '\u{110be}', '\u{110bf}', '\u{110c0}', '\u{110c1}', '\u{11141}', '\u{11142}', '\u{11143}', '\u{111c5}', '\u{111c6}', '\u{111cd}', '\u{111de}', '\u{111df}', '\u{11238}', '\u{11239}', '\u{1123b}', '\u{1123c}', '\u{112a9}', '\u{1144b}', '\u{1144c}', '\u{115c2}', '\u{115c3}', '\u{115c9}', '\u{115ca}', '\u{115cb}', '\u{115cc}', '\u{115cd}', '\u{115ce}', '\u{115cf}', '\u{115d0}', '\u{115d1}', '\u{115d2}', '\u{115d3}', '\u{115d4}', '\u{115d5}', '\u{115d6}', '\u{115d7}', '\u{11641}', '\u{11642}', '\u{1173c}', '\u{1173d}', '\u{1173e}', '\u{11944}', '\u{11946}', '\u{11a42}', '\u{11a43}', '\u{11a9b}', '\u{11a9c}', '\u{11c41}', '\u{11c42}', '\u{11ef7}', '\u{11ef8}', '\u{11f43}', '\u{11f44}', '\u{16a6e}', '\u{16a6f}', '\u{16af5}', '\u{16b37}', '\u{16b38}', '\u{16b44}', '\u{16e98}', '\u{1bc9f}', '\u{1da88}'];

/// `c in PUNCTUATION_SET` (datatrove's definition of a symbol character).
#[inline]
pub fn is_punctuation(c: char) -> bool {
    PUNCTUATION.binary_search(&c).is_ok()
}

/// `c in TERMINAL_PUNCTUATION` (sentence-final marks in many scripts).
#[inline]
pub fn is_terminal_punctuation(c: char) -> bool {
    TERMINAL_PUNCTUATION.binary_search(&c).is_ok()
}

/// Python's `str.isspace` for one character (wider than Rust's `char::is_whitespace`: it also
/// counts the information separators U+001C..U+001F).
#[inline]
pub fn py_isspace(c: char) -> bool {
    matches!(c, '\t'..='\r' | '\u{1c}'..='\u{1f}' | ' ' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
        | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

/// Python's `str.strip()` (no argument).
#[inline]
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// Python's `str.split()` (no argument): runs of whitespace separate, empty pieces dropped.
pub fn py_split_whitespace(s: &str) -> impl Iterator<Item = &str> {
    s.split(py_isspace).filter(|w| !w.is_empty())
}

/// Python's `str.splitlines()` (no `keepends`): `\n`, `\r`, `\r\n`, `\v`, `\f`, U+001C..U+001E,
/// U+0085, U+2028, U+2029 end a line; a trailing terminator adds no empty line.
pub fn py_splitlines(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let is_break = matches!(c, '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}');
        if is_break {
            out.push(&s[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r' && bytes.get(end) == Some(&b'\n') {
                it.next();
                end += 1;
            }
            start = end;
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// Python's `str.isalpha` for one character (letters; Rust's `is_alphabetic` is close enough and
/// differs only on a few combining marks).
#[inline]
pub fn py_isalpha(c: char) -> bool {
    c.is_alphabetic()
}

/// Number of Unicode code points (Python's `len`).
#[inline]
pub fn char_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitlines_matches_python() {
        assert_eq!(py_splitlines("a\nb\r\nc\rd\n"), vec!["a", "b", "c", "d"]);
        assert_eq!(py_splitlines("\n\nx"), vec!["", "", "x"]);
        assert_eq!(py_splitlines(""), Vec::<&str>::new());
        assert_eq!(py_splitlines("a\u{2028}b"), vec!["a", "b"]);
    }

    #[test]
    fn punctuation_tables_are_sorted_and_classify() {
        assert!(PUNCTUATION.windows(2).all(|w| w[0] < w[1]));
        assert!(TERMINAL_PUNCTUATION.windows(2).all(|w| w[0] < w[1]));
        assert!(is_punctuation('#') && is_punctuation('…') && !is_punctuation('a'));
        assert!(is_terminal_punctuation('.') && is_terminal_punctuation('。') && !is_terminal_punctuation('"'));
        assert!(py_isspace('\u{1f}') && !'\u{1f}'.is_whitespace());
        assert_eq!(py_strip("\u{a0} x \n"), "x");
        assert_eq!(py_split_whitespace(" a  b\tc ").collect::<Vec<_>>(), vec!["a", "b", "c"]);
    }
}
