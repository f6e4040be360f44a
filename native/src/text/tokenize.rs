//! English word tokenisation and sentence counting, modelled on spaCy's rule-based tokenizer.
//!
//! The Gopher, C4 and FineWeb reference filters (datatrove) count words and sentences with
//! `spacy.blank("en")` plus its `sentencizer`. Running spaCy costs most of their time; this module
//! re-implements the same *kind* of rules (whitespace split, then prefix / suffix / infix
//! punctuation splitting, URL protection, contraction and abbreviation special cases) so counts
//! agree on real text while running at memory speed. Exact token-for-token equality is not a
//! goal; docs/web_text.md reports how often the filter decisions agree.

use super::chars::{py_isspace, PUNCTUATION};

/// Single characters split off the front of a word (spaCy: punctuation, quotes, currency, ...).
fn is_prefix_char(c: char) -> bool {
    matches!(
        c,
        '§' | '%' | '=' | '—' | '–' | '…' | ',' | ':' | ';' | '!' | '?' | '¿' | '؟' | '¡' | '(' | ')' | '[' | ']'
            | '{' | '}' | '<' | '>' | '_' | '#' | '*' | '&' | '。' | '？' | '！' | '，' | '、' | '；' | '：'
            | '～' | '·' | '।' | '،' | '۔' | '؛' | '٪'
    ) || is_quote(c)
        || is_currency(c)
        || is_icon(c)
}

fn is_quote(c: char) -> bool {
    matches!(
        c,
        '\'' | '"' | '”' | '“' | '`' | '‘' | '´' | '’' | '‚' | '„' | '»' | '«' | '「' | '」' | '『' | '』' | '（'
            | '）' | '〔' | '〕' | '【' | '】' | '《' | '》' | '〈' | '〉' | '⟦' | '⟧'
    )
}

fn is_currency(c: char) -> bool {
    matches!(c, '$' | '£' | '€' | '¥' | '฿' | '₽' | '₹' | '₩' | '₪' | '₫' | '₱' | '₴' | '₺' | '₿' | '¢')
}

/// Symbols of category So that spaCy splits off anywhere in a word (its `LIST_ICONS`):
/// emoji, dingbats, arrows, geometric shapes, the replacement character, ©, ®, ™.
fn is_icon(c: char) -> bool {
    matches!(c, '\u{a6}' | '\u{a9}' | '\u{ae}' | '\u{2122}' | '\u{2190}'..='\u{21ff}' | '\u{2300}'..='\u{23ff}'
        | '\u{2500}'..='\u{27bf}' | '\u{2b00}'..='\u{2bff}' | '\u{fffc}' | '\u{fffd}' | '\u{1f000}'..='\u{1faff}')
        && !matches!(c, '\u{25a0}'..='\u{25a1}' if false)
}

/// Single characters split off the end of a word.
fn is_suffix_char(c: char) -> bool {
    matches!(
        c,
        '…' | ',' | ':' | ';' | '!' | '?' | '¿' | '؟' | '¡' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | '_'
            | '#' | '*' | '&' | '。' | '？' | '！' | '，' | '、' | '；' | '：' | '～' | '·' | '।' | '،' | '۔' | '؛'
            | '٪' | '—' | '–'
    ) || is_quote(c)
        || is_icon(c)
}

/// Units spaCy splits off a preceding number ("10km" -> "10", "km"); the ASCII subset.
const UNITS: &[&str] = &[
    "km", "km²", "km³", "m", "m²", "m³", "dm", "cm", "mm", "ha", "µm", "nm", "yd", "in", "ft", "kg", "g", "mg",
    "µg", "t", "lb", "oz", "m/s", "km/h", "kmh", "mph", "hPa", "Pa", "mbar", "mb", "MB", "kb", "KB", "gb", "GB",
    "tb", "TB", "T", "G", "M", "K", "%",
];

/// Abbreviations kept whole although they end in a period (spaCy tokenizer exceptions).
const ABBREVIATIONS: &[&str] = &[
    "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "St.", "Jr.", "Sr.", "vs.", "etc.", "Inc.", "Ltd.", "Co.", "Corp.",
    "Jan.", "Feb.", "Mar.", "Apr.", "Jun.", "Jul.", "Aug.", "Sep.", "Sept.", "Oct.", "Nov.", "Dec.", "Mt.",
    "e.g.", "i.e.", "a.m.", "p.m.", "Mass.", "Calif.", "Gov.", "Gen.", "Rep.", "Sen.", "Rev.", "Ph.D.", "No.",
    "vs", "v.", "U.S.", "E.g.", "I.e.", "Bros.", "Ave.", "Dept.", "Fig.", "approx.", "est.",
];

/// Sentence-final tokens of spaCy's `sentencizer` (its default `punct_chars`, main scripts).
fn is_sentence_punct(tok: &str) -> bool {
    let mut it = tok.chars();
    let (Some(c), None) = (it.next(), it.next()) else { return false };
    matches!(
        c,
        '.' | '!' | '?' | '։' | '؟' | '۔' | '܀' | '܁' | '܂' | '߹' | '।' | '॥' | '။' | '።' | '፧' | '፨' | '᙮' | '‼'
            | '‽' | '⁇' | '⁈' | '⁉' | '⸮' | '꓿' | '꘎' | '꘏' | '﹒' | '﹖' | '﹗' | '！' | '．' | '？' | '｡' | '。'
    )
}

/// Unicode general category P* (what spaCy's `is_punct` tests), approximated: ASCII exactly,
/// beyond ASCII the datatrove punctuation table and the General Punctuation block.
fn is_p_char(c: char) -> bool {
    if c.is_ascii() {
        return matches!(c, '!' | '"' | '#' | '%' | '&' | '\'' | '(' | ')' | '*' | ',' | '-' | '.' | '/' | ':' | ';' | '?' | '@' | '[' | '\\' | ']' | '_' | '{' | '}');
    }
    matches!(c, '\u{2010}'..='\u{2027}' | '\u{2030}'..='\u{205e}' | '\u{3001}'..='\u{3003}' | '\u{3008}'..='\u{3011}')
        || (PUNCTUATION.binary_search(&c).is_ok() && !is_currency(c) && !matches!(c, '+' | '<' | '=' | '>' | '^' | '`' | '|' | '~' | '$' | '►' | '━' | '～' | '＄'))
}

/// spaCy's `Token.is_punct`: every character is punctuation.
pub fn is_punct_token(tok: &str) -> bool {
    !tok.is_empty() && tok.chars().all(is_p_char)
}

/// spaCy's URL matcher, simplified: a scheme, or lowercase host labels ending in a 2+ letter
/// lowercase TLD, optionally followed by a path/query/fragment; `user@host` forms included.
fn is_url(s: &str) -> bool {
    if s.len() < 4 {
        return false;
    }
    if let Some(p) = s.find("://") {
        return p > 0 && s[..p].chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) && s.len() > p + 3;
    }
    let host_start = s.find('@').map(|i| i + 1).unwrap_or(0);
    if host_start == s.len() {
        return false;
    }
    let rest = &s[host_start..];
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..host_end];
    let host = host.split(':').next().unwrap_or("");
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let ok_label = |l: &str| {
        !l.is_empty() && !l.starts_with('-') && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (c as u32) >= 0xa1)
    };
    let tld = labels[labels.len() - 1];
    labels.iter().all(|l| ok_label(l))
        && tld.chars().count() >= 2
        && tld.chars().all(|c| c.is_ascii_lowercase() || ((c as u32) >= 0xa1 && c.is_alphabetic()))
}

fn is_abbreviation(s: &str) -> bool {
    if ABBREVIATIONS.contains(&s) {
        return true;
    }
    // single letters with periods: "a.", "e.g.", "U.S.A."
    let b = s.as_bytes();
    b.len() >= 2 && b.len() % 2 == 0 && b.chunks(2).all(|p| p[0].is_ascii_alphabetic() && p[1] == b'.')
}

/// Length in bytes of a leading run of 2+ periods or a "…".
fn leading_ellipsis(s: &str) -> usize {
    if s.starts_with('…') {
        return '…'.len_utf8();
    }
    let n = s.bytes().take_while(|&b| b == b'.').count();
    if n >= 2 {
        n
    } else {
        0
    }
}

fn trailing_ellipsis(s: &str) -> usize {
    if s.ends_with('…') {
        return '…'.len_utf8();
    }
    let n = s.bytes().rev().take_while(|&b| b == b'.').count();
    if n >= 2 {
        n
    } else {
        0
    }
}

fn last_two(s: &str) -> (Option<char>, Option<char>) {
    let mut it = s.chars().rev();
    let last = it.next();
    (last, it.next())
}

/// Byte length of a suffix to split off `s`, or 0.
fn suffix_len(s: &str) -> usize {
    let n = trailing_ellipsis(s);
    if n > 0 && n < s.len() {
        return n;
    }
    for sfx in ["'s", "'S", "’s", "’S"] {
        if s.len() > sfx.len() && s.ends_with(sfx) {
            return sfx.len();
        }
    }
    for sfx in ["n't", "n’t", "N'T"] {
        if s.len() > sfx.len() && s.ends_with(sfx) {
            let base = &s[..s.len() - sfx.len()];
            if base.chars().all(char::is_alphabetic) {
                return sfx.len();
            }
        }
    }
    for sfx in ["'m", "'re", "'ve", "'ll", "'d", "’m", "’re", "’ve", "’ll", "’d"] {
        if s.len() > sfx.len() && s.ends_with(sfx) {
            let base = &s[..s.len() - sfx.len()];
            if base.chars().all(char::is_alphabetic) {
                return sfx.len();
            }
        }
    }
    let (Some(last), prev) = last_two(s) else { return 0 };
    if is_suffix_char(last) && s.len() > last.len_utf8() {
        return last.len_utf8();
    }
    if last == '.' && s.len() > 1 {
        let prev = prev.unwrap();
        let split = prev.is_lowercase()
            || prev.is_ascii_digit()
            || matches!(prev, '%' | '²' | '-' | '+')
            || is_quote(prev)
            || is_suffix_char(prev);
        if split {
            return 1;
        }
        // two capitals before the period: "USA." -> "USA", "."
        let mut it = s[..s.len() - 1].chars().rev();
        if let (Some(a), Some(b)) = (it.next(), it.next()) {
            if a.is_uppercase() && b.is_uppercase() {
                return 1;
            }
        }
    }
    if last == '+' && prev.is_some_and(|p| p.is_ascii_digit()) {
        return 1;
    }
    // units after a number: "10km", "50%"
    for u in UNITS {
        if s.len() > u.len() && s.ends_with(u) {
            let before = s[..s.len() - u.len()].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_digit()) {
                return u.len();
            }
        }
    }
    0
}

/// Byte length of a prefix to split off `s`, or 0.
fn prefix_len(s: &str) -> usize {
    let n = leading_ellipsis(s);
    if n > 0 {
        return n;
    }
    let mut it = s.chars();
    let Some(c) = it.next() else { return 0 };
    if is_prefix_char(c) {
        return c.len_utf8();
    }
    if c == '+' && !it.next().is_some_and(|d| d.is_ascii_digit()) {
        return 1;
    }
    0
}

/// Split a word that has no prefix/suffix left on infix punctuation (hyphens between letters,
/// commas between letters, "lower.Upper", `:<>=/` before letters, ellipses, arithmetic between
/// digits).
fn split_infixes<'a>(s: &'a str, out: &mut Vec<&'a str>) {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut start = 0usize;
    let mut i = 0usize;
    while i < chars.len() {
        let (pos, c) = chars[i];
        let prev = if i > 0 { Some(chars[i - 1].1) } else { None };
        let next = chars.get(i + 1).map(|x| x.1);
        let mut infix_end: Option<usize> = None; // index (in chars) one past the infix
        if c == '…' || is_icon(c) {
            infix_end = Some(i + 1);
        } else if c == '.' && next == Some('.') {
            let mut j = i;
            while j < chars.len() && chars[j].1 == '.' {
                j += 1;
            }
            infix_end = Some(j);
        } else if let (Some(p), Some(n)) = (prev, next) {
            let alpha_p = p.is_alphabetic();
            let alpha_n = n.is_alphabetic();
            let hit = match c {
                '+' | '*' | '^' => p.is_ascii_digit() && (n.is_ascii_digit() || n == '-'),
                '-' => (p.is_ascii_digit() && (n.is_ascii_digit() || n == '-')) || ((alpha_p || p.is_ascii_digit()) && alpha_n),
                '.' => (p.is_lowercase() || is_quote(p)) && (n.is_uppercase() || is_quote(n)),
                ',' => alpha_p && alpha_n,
                '–' | '—' | '~' => (alpha_p || p.is_ascii_digit()) && alpha_n,
                ':' | '<' | '>' | '=' | '/' => (alpha_p || p.is_ascii_digit()) && alpha_n,
                _ => false,
            };
            if hit {
                // "--", "---" and "——" are one infix
                let mut j = i + 1;
                if c == '-' || c == '—' {
                    while j < chars.len() && chars[j].1 == c && j - i < 3 {
                        j += 1;
                    }
                    if j < chars.len() && !chars[j].1.is_alphabetic() {
                        j = i + 1;
                    }
                }
                infix_end = Some(j);
            }
        }
        if let Some(end) = infix_end {
            let end_byte = chars.get(end).map(|x| x.0).unwrap_or(s.len());
            if pos > start {
                out.push(&s[start..pos]);
            }
            out.push(&s[pos..end_byte]);
            start = end_byte;
            i = end;
        } else {
            i += 1;
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
}

fn tokenize_chunk<'a>(chunk: &'a str, out: &mut Vec<&'a str>) {
    let mut cur = chunk;
    let mut suffixes: Vec<&'a str> = Vec::new();
    loop {
        if cur.is_empty() || is_abbreviation(cur) || is_url(cur) {
            break;
        }
        let p = prefix_len(cur);
        if p > 0 && p < cur.len() {
            out.push(&cur[..p]);
            cur = &cur[p..];
            continue;
        }
        if p == cur.len() {
            break; // the whole remainder is one prefix token
        }
        let s = suffix_len(cur);
        if s > 0 {
            suffixes.push(&cur[cur.len() - s..]);
            cur = &cur[..cur.len() - s];
            continue;
        }
        break;
    }
    if !cur.is_empty() {
        if is_abbreviation(cur) || is_url(cur) {
            out.push(cur);
        } else {
            split_infixes(cur, out);
        }
    }
    out.extend(suffixes.into_iter().rev());
}

/// Words of `text` as spaCy's English tokenizer would cut them, whitespace tokens dropped
/// (datatrove's `split_into_words`).
///
/// ```
/// use _native::text::tokenize::words;
/// assert_eq!(words("It's well-known, e.g. U.S. don't."), vec!["It", "'s", "well", "-", "known", ",", "e.g.", "U.S.", "do", "n't", "."]);
/// ```
pub fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::with_capacity(text.len() / 5 + 1);
    for chunk in text.split(py_isspace) {
        if !chunk.is_empty() {
            tokenize_chunk(chunk, &mut out);
        }
    }
    out
}

/// Number of sentences spaCy's `sentencizer` finds in `text`: a new sentence starts at the first
/// non-punctuation token after a sentence-final mark. 0 for text without tokens.
pub fn count_sentences(text: &str) -> usize {
    let toks = words(text);
    if toks.is_empty() {
        return 0;
    }
    let mut n = 1;
    let mut seen_period = false;
    for t in toks {
        let in_punct_chars = is_sentence_punct(t);
        if seen_period && !in_punct_chars && !is_punct_token(t) {
            n += 1;
            seen_period = false;
        } else if in_punct_chars {
            seen_period = true;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_spacy_on_common_cases() {
        assert_eq!(
            words("Hello, world! It's a well-known U.S. e.g. don't http://x.com/a?b=1 (test) \"quote\" 10km $5 end.Next A. 3.5 self-driving... ok"),
            vec![
                "Hello", ",", "world", "!", "It", "'s", "a", "well", "-", "known", "U.S.", "e.g.", "do", "n't",
                "http://x.com/a?b=1", "(", "test", ")", "\"", "quote", "\"", "10", "km", "$", "5", "end", ".", "Next",
                "A.", "3.5", "self", "-", "driving", "...", "ok"
            ]
        );
    }

    #[test]
    fn whitespace_of_any_kind_separates() {
        assert_eq!(words("a\nb\u{a0}c\t\td"), vec!["a", "b", "c", "d"]);
        assert!(words(" \n ").is_empty());
    }

    #[test]
    fn counts_sentences_like_the_sentencizer() {
        assert_eq!(count_sentences("One. Two! Three? Four"), 4);
        assert_eq!(count_sentences("Wait... what?! Yes."), 2);
        assert_eq!(count_sentences("Dr. Smith went home."), 1);
        assert_eq!(count_sentences(""), 0);
        assert_eq!(count_sentences("no end mark"), 1);
    }
}
