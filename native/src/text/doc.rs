//! One analysed document: the single normalisation/tokenisation pass every text rule reads.
//!
//! Rules never split or count on their own; they ask the [`Doc`] for words, lines or lengths,
//! each computed at most once per document (lazily, so a C4-only pass never tokenises words).

use std::cell::OnceCell;

use super::chars::{char_len, is_punctuation, py_splitlines};
use super::tokenize::words;

/// A document and the views of it the rules share.
pub struct Doc<'a> {
    pub text: &'a str,
    n_chars: OnceCell<usize>,
    words: OnceCell<Vec<&'a str>>,
    lines: OnceCell<Vec<&'a str>>,
    word_chars: OnceCell<Vec<u32>>,
}

impl<'a> Doc<'a> {
    pub fn new(text: &'a str) -> Self {
        Self { text, n_chars: OnceCell::new(), words: OnceCell::new(), lines: OnceCell::new(), word_chars: OnceCell::new() }
    }

    /// Length in code points (Python's `len(text)`).
    pub fn n_chars(&self) -> usize {
        *self.n_chars.get_or_init(|| char_len(self.text))
    }

    /// spaCy-style English words (punctuation tokens included).
    pub fn words(&self) -> &[&'a str] {
        self.words.get_or_init(|| words(self.text))
    }

    /// Code-point length of each word, aligned with [`Doc::words`].
    pub fn word_chars(&self) -> &[u32] {
        self.word_chars.get_or_init(|| self.words().iter().map(|w| char_len(w) as u32).collect())
    }

    /// Python `str.splitlines()` lines.
    pub fn lines(&self) -> &[&'a str] {
        self.lines.get_or_init(|| py_splitlines(self.text))
    }

    /// Words with at least one non-punctuation character.
    pub fn non_symbol_words(&self) -> impl Iterator<Item = (usize, &&'a str)> {
        self.words().iter().enumerate().filter(|(_, w)| w.chars().any(|c| !is_punctuation(c)))
    }
}
