//! Text normalisation for near-duplicate detection, and word n-gram shingles.
//!
//! Matches the steps of datatrove's `simplify_text` with its default `TextNormConfig` (the
//! normalisation FineWeb's MinHash stage runs before shingling), in one pass:
//! 1. lowercase (Unicode, `char::to_lowercase`);
//! 2. drop punctuation: all ASCII punctuation, C0/C1 control characters other than whitespace,
//!    and the non-ASCII punctuation blocks (General Punctuation U+2010–U+205E, CJK symbols and
//!    punctuation U+3001–U+303F, fullwidth ASCII punctuation, « » ´ ∶ ━ ►) — a superset of
//!    datatrove's list;
//! 3. diacritics: canonical decomposition (NFD) with combining marks removed (datatrove removes
//!    category `Mn`; we remove every combining mark, `Mn`/`Mc`/`Me`);
//! 4. every run of digits becomes `0` (datatrove: `\d+`; we treat every Unicode numeric char as
//!    a digit);
//! 5. whitespace runs become one space, trimmed at both ends.
//!
//! Differences, on purpose: whitespace is collapsed *after* punctuation removal (datatrove does it
//! before, which leaves double spaces where a lone dash was), and words are split on spaces
//! instead of datatrove's language-specific word tokenizer (spaCy/nltk) — for Latin-script text
//! with punctuation already removed the two agree.

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// Whether `c` is removed as punctuation (see the module docs for the set).
pub fn is_dedup_punct(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation() || (c.is_ascii_control() && !c.is_ascii_whitespace());
    }
    matches!(c,
        '\u{80}'..='\u{9f}'
        | '\u{ab}' | '\u{b4}' | '\u{bb}'
        | '\u{2010}'..='\u{2027}'
        | '\u{2030}'..='\u{205e}'
        | '\u{2236}' | '\u{2501}' | '\u{25ba}'
        | '\u{3001}'..='\u{303f}'
        | '\u{ff01}'..='\u{ff0f}'
        | '\u{ff1a}'..='\u{ff20}'
        | '\u{ff3b}'..='\u{ff40}'
        | '\u{ff5b}'..='\u{ff65}')
}

// Byte classes of ASCII for the fast path.
const KEEP: u8 = 0;
const SPACE: u8 = 1;
const DROP: u8 = 2;
const DIGIT: u8 = 3;

const fn ascii_classes() -> [u8; 128] {
    let mut t = [KEEP; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_whitespace() || c == 0x0b {
            SPACE
        } else if c.is_ascii_digit() {
            DIGIT
        } else if c.is_ascii_punctuation() || c.is_ascii_control() {
            DROP
        } else {
            KEEP
        };
        b += 1;
    }
    t
}

static ASCII_CLASS: [u8; 128] = ascii_classes();

/// Receives the normalised text as events; [`normalize_with`] decides what is what.
pub trait NormSink {
    /// Plain ASCII word bytes, already lowercased.
    fn bytes(&mut self, run: &[u8]);
    /// A non-ASCII word character (already lowercased, decomposed, not a mark or punctuation).
    fn char(&mut self, c: char);
    /// The first digit of a run of digits (the run stands for a single `0`).
    fn zero(&mut self);
    /// Whitespace: a word boundary.
    fn space(&mut self);
}

/// The one normalisation pass: classifies `text` and feeds `sink`.
///
/// ASCII bytes take a table-driven fast path (runs of word bytes are passed in one call); other
/// characters are lowercased, decomposed and classified one by one.
pub fn normalize_with<S: NormSink>(text: &str, sink: &mut S) {
    let bytes = text.as_bytes();
    let mut in_digits = false;
    let mut lower = [0u8; 64];
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 128 {
            match ASCII_CLASS[b as usize] {
                KEEP => {
                    let start = i;
                    while i < bytes.len() && i - start < lower.len() && bytes[i] < 128 && ASCII_CLASS[bytes[i] as usize] == KEEP {
                        lower[i - start] = bytes[i].to_ascii_lowercase();
                        i += 1;
                    }
                    in_digits = false;
                    sink.bytes(&lower[..i - start]);
                    continue;
                }
                SPACE => {
                    in_digits = false;
                    sink.space();
                }
                DIGIT => {
                    if !in_digits {
                        sink.zero();
                    }
                    in_digits = true;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        let c = text[i..].chars().next().expect("char boundary");
        i += c.len_utf8();
        for lc in c.to_lowercase() {
            decompose_canonical(lc, |d| {
                if is_combining_mark(d) {
                    return;
                }
                if d.is_ascii() {
                    // e.g. the base letter of a decomposed accented letter
                    match ASCII_CLASS[d as usize] {
                        KEEP => {
                            in_digits = false;
                            sink.bytes(&[d as u8]);
                        }
                        SPACE => {
                            in_digits = false;
                            sink.space();
                        }
                        DIGIT => {
                            if !in_digits {
                                sink.zero();
                            }
                            in_digits = true;
                        }
                        _ => {}
                    }
                } else if d.is_whitespace() {
                    in_digits = false;
                    sink.space();
                } else if is_dedup_punct(d) {
                } else if d.is_numeric() {
                    if !in_digits {
                        sink.zero();
                    }
                    in_digits = true;
                } else {
                    in_digits = false;
                    sink.char(d);
                }
            });
        }
    }
}

/// Builds the normalised string: words joined by single spaces, trimmed.
struct StringSink {
    out: Vec<u8>,
    pending_space: bool,
}

impl StringSink {
    #[inline(always)]
    fn word(&mut self) {
        if self.pending_space {
            self.out.push(b' ');
            self.pending_space = false;
        }
    }
}

impl NormSink for StringSink {
    #[inline(always)]
    fn bytes(&mut self, run: &[u8]) {
        self.word();
        self.out.extend_from_slice(run);
    }
    fn char(&mut self, c: char) {
        self.word();
        let mut buf = [0u8; 4];
        self.out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    #[inline(always)]
    fn zero(&mut self) {
        self.word();
        self.out.push(b'0');
    }
    #[inline(always)]
    fn space(&mut self) {
        self.pending_space = !self.out.is_empty();
    }
}

/// Appends the normalised form of `text` to `out` (cleared first).
///
/// ```
/// use _native::dedup::normalize::normalize_into;
/// let mut s = String::new();
/// normalize_into("  Héllo,  WORLD!\n 2024-01-05 ", &mut s);
/// assert_eq!(s, "hello world 0");
/// ```
pub fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    let mut buf = std::mem::take(out).into_bytes();
    buf.reserve(text.len());
    let mut sink = StringSink { out: buf, pending_space: false };
    normalize_with(text, &mut sink);
    // Only ASCII bytes and whole encoded chars were pushed, so the bytes are valid UTF-8.
    *out = String::from_utf8(sink.out).expect("normaliser emits valid UTF-8");
}

/// The normalised form of `text` (allocating convenience over [`normalize_into`]).
pub fn normalize(text: &str) -> String {
    let mut s = String::new();
    normalize_into(text, &mut s);
    s
}

/// Calls `f` with every word `n`-gram of an already normalised string, as the substring it spans
/// (words joined by single spaces). A text with fewer than `n` (but at least one) words yields one
/// shingle, the whole text, so short documents still dedup; an empty text yields nothing.
///
/// ```
/// use _native::dedup::normalize::for_each_shingle;
/// let mut v = Vec::new();
/// for_each_shingle("a b c d", 3, |s| v.push(s.to_string()));
/// assert_eq!(v, ["a b c", "b c d"]);
/// ```
pub fn for_each_shingle<'a, F: FnMut(&'a str)>(normalised: &'a str, n: usize, mut f: F) {
    if normalised.is_empty() {
        return;
    }
    let bytes = normalised.as_bytes();
    // starts[i] = byte offset of word i; word i ends one byte before starts[i + 1].
    let mut starts: Vec<usize> = Vec::with_capacity(bytes.len() / 5 + 1);
    starts.push(0);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b' ' {
            starts.push(i + 1);
        }
    }
    let words = starts.len();
    if words < n {
        f(normalised);
        return;
    }
    for i in 0..=(words - n) {
        let end = if i + n < words { starts[i + n] - 1 } else { bytes.len() };
        f(&normalised[starts[i]..end]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_strips_punct_and_diacritics() {
        assert_eq!(normalize("Ça  VA? Très—bien…"), "ca va tresbien");
        assert_eq!(normalize("naïve café"), "naive cafe");
        assert_eq!(normalize("«Hello» 「world」"), "hello world");
    }

    #[test]
    fn numbers_collapse_to_zero_and_whitespace_collapses() {
        assert_eq!(normalize("Call 555-1234 now\t\n\r ok"), "call 0 now ok");
        assert_eq!(normalize("v1.2.3 and 4 5"), "v0 and 0 0");
        assert_eq!(normalize("   "), "");
        assert_eq!(normalize("a - b"), "a b");
        assert_eq!(normalize("x\u{0}y\u{85}z"), "xy z"); // NEL is whitespace, NUL is removed
    }

    #[test]
    fn shingles_are_contiguous_word_ngrams() {
        let mut v = Vec::new();
        for_each_shingle("one two three four five six", 5, |s| v.push(s));
        assert_eq!(v, ["one two three four five", "two three four five six"]);
        let mut v = Vec::new();
        for_each_shingle("short doc", 5, |s| v.push(s));
        assert_eq!(v, ["short doc"]);
        let mut n = 0;
        for_each_shingle("", 5, |_| n += 1);
        assert_eq!(n, 0);
    }
}
