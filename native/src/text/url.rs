//! URL filter after RefinedWeb (Penedo et al. 2023, App. G.1): domain and URL blocklists in the
//! UT1 layout, banned words on normalised URL tokens, soft-banned words counted against a
//! threshold, banned sub-words on the normalised URL, and optional exclusion of the
//! high-quality sources a curated corpus already covers.
//!
//! Domain and URL lists can hold millions of entries (UT1: ~4.6M domains), so they are stored as
//! sorted 64-bit xxh3 hashes: 8 bytes per entry, no per-entry allocation, binary-search lookups
//! (a false hit needs a 64-bit collision). Loading reads each file once with one reused buffer. Registered domain / host extraction is
//! the caller's (a public-suffix library), so this module only compares.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;

use std::sync::Arc;

use aho_corasick::AhoCorasick;
use arrow_array::builder::{BooleanBuilder, Int32Builder, StringBuilder};
use arrow_array::{Array, ArrayRef, StructArray};
use arrow_schema::{DataType, Field, Fields};

use crate::error::KernelError;
type Result<T> = crate::error::Result<T>;
use serde::{Deserialize, Serialize};

fn h64(s: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(s.as_bytes())
}

/// A set of 64-bit hashes as a sorted vector (8 bytes per entry; a hash set would take ~2x).
#[derive(Debug, Default)]
struct HashList(Vec<u64>);

impl HashList {
    fn from_vec(mut v: Vec<u64>) -> Self {
        v.sort_unstable();
        v.dedup();
        v.shrink_to_fit();
        Self(v)
    }
    fn contains(&self, h: &u64) -> bool {
        self.0.binary_search(h).is_ok()
    }
    fn extend(&mut self, more: impl IntoIterator<Item = u64>) {
        let mut v = std::mem::take(&mut self.0);
        v.extend(more);
        *self = Self::from_vec(v);
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Keep ASCII letters and digits, lowercased (the normalisation RefinedWeb applies to URL
/// tokens and word lists).
///
/// ```
/// assert_eq!(_native::text::url::normalize("Hot-Dog!"), "hotdog");
/// ```
pub fn normalize(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// Loaded block lists.
pub struct UrlLists {
    domains: HashList,
    urls: HashList,
    banned_words: HashSet<String>,
    soft_banned_words: HashSet<String>,
    subwords: Option<AhoCorasick>,
    n_subwords: usize,
}

/// Decision settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UrlRule {
    pub soft_word_threshold: usize,
    /// Domains (and their subdomains) of high-quality sources to exclude; empty = keep them.
    pub high_quality_domains: Vec<String>,
}

impl Default for UrlRule {
    fn default() -> Self {
        Self { soft_word_threshold: 2, high_quality_domains: Vec::new() }
    }
}

/// Read a list file: one entry per line, `#` lines are comments, blank lines skipped; entries
/// are ASCII-lower-cased first when `lower`.
fn read_list(path: &Path, lower: bool, mut f: impl FnMut(&str)) -> std::io::Result<usize> {
    let file = std::fs::File::open(path)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut n = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        if lower {
            buf.make_ascii_lowercase();
        }
        let line = match std::str::from_utf8(&buf) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(&buf),
        };
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        f(t);
        n += 1;
    }
    Ok(n)
}

/// Hashes of every entry of `files` (capacity guessed from the file sizes).
fn hash_files(files: &[&Path], lower: bool) -> std::io::Result<Vec<u64>> {
    let bytes: u64 = files.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    let mut v = Vec::with_capacity((bytes / 20) as usize);
    for p in files {
        read_list(p, lower, |e| v.push(h64(e)))?;
    }
    Ok(v)
}

impl UrlLists {
    /// Build from list files (UT1 `domains` / `urls` files) and word lists.
    pub fn load(
        domain_files: &[&Path],
        url_files: &[&Path],
        banned_words: &[String],
        soft_banned_words: &[String],
        banned_subwords: &[String],
    ) -> std::io::Result<Self> {
        let domains = hash_files(domain_files, true)?;
        let urls = hash_files(url_files, false)?;
        Ok(Self::from_parts(domains, urls, banned_words, soft_banned_words, banned_subwords))
    }

    /// Build from in-memory lists (tests, small user lists).
    pub fn from_lists(
        domains: &[&str],
        urls: &[&str],
        banned_words: &[String],
        soft_banned_words: &[String],
        banned_subwords: &[String],
    ) -> Self {
        let d = domains.iter().map(|d| h64(&d.to_ascii_lowercase())).collect();
        let u = urls.iter().map(|u| h64(u)).collect();
        Self::from_parts(d, u, banned_words, soft_banned_words, banned_subwords)
    }

    fn from_parts(
        domains: Vec<u64>,
        urls: Vec<u64>,
        banned_words: &[String],
        soft_banned_words: &[String],
        banned_subwords: &[String],
    ) -> Self {
        let norm = |v: &[String]| -> HashSet<String> {
            v.iter().filter(|w| !w.starts_with('#')).map(|w| normalize(w)).filter(|w| !w.is_empty()).collect()
        };
        let sub: Vec<String> = norm(banned_subwords).into_iter().collect();
        let n_subwords = sub.len();
        let subwords = if sub.is_empty() { None } else { Some(AhoCorasick::new(&sub).expect("valid patterns")) };
        Self {
            domains: HashList::from_vec(domains),
            urls: HashList::from_vec(urls),
            banned_words: norm(banned_words), soft_banned_words: norm(soft_banned_words),
            subwords,
            n_subwords,
        }
    }

    /// Add entries given inline (recipe `extra_domains` / `extra_urls`).
    pub fn extend(&mut self, domains: &[String], urls: &[String]) {
        self.domains.extend(domains.iter().map(|d| h64(&d.trim().to_ascii_lowercase())));
        self.urls.extend(urls.iter().map(|u| h64(u.trim())));
    }

    /// Sizes: (domains, urls, banned words, soft-banned words, banned sub-words).
    pub fn sizes(&self) -> (usize, usize, usize, usize, usize) {
        (self.domains.len(), self.urls.len(), self.banned_words.len(), self.soft_banned_words.len(), self.n_subwords)
    }
}

fn under(host: &str, domain: &str) -> bool {
    host == domain || (host.len() > domain.len() && host.ends_with(domain) && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

/// Decide one URL. `registered_domain` and `fqdn` come from a public-suffix parser (empty when
/// the host has none, e.g. an IP address). Returns the reason when the URL is rejected, and the
/// number of soft-banned words found.
pub fn url_decision(url: &str, registered_domain: &str, fqdn: &str, lists: &UrlLists, p: &UrlRule) -> (std::result::Result<(), &'static str>, u32) {
    let rd = registered_domain.to_ascii_lowercase();
    let fq = fqdn.to_ascii_lowercase();
    if !rd.is_empty() && lists.domains.contains(&h64(&rd)) {
        return (Err("domain"), 0);
    }
    if !fq.is_empty() && lists.domains.contains(&h64(&fq)) {
        return (Err("subdomain"), 0);
    }
    // UT1 lists URLs without their scheme; datatrove's list holds them with it: try both
    let bare = url.split_once("://").map(|x| x.1).unwrap_or(url);
    if lists.urls.contains(&h64(url)) || lists.urls.contains(&h64(bare)) {
        return (Err("url"), 0);
    }
    let lower = url.to_ascii_lowercase();
    let tokens: HashSet<&str> = lower.split(|c: char| !c.is_ascii_alphanumeric()).filter(|t| !t.is_empty()).collect();
    if tokens.iter().any(|t| lists.banned_words.contains(*t)) {
        return (Err("hard_blacklisted"), 0);
    }
    let n_soft = lists.soft_banned_words.iter().filter(|w| tokens.contains(w.as_str())).count() as u32;
    if n_soft as usize >= p.soft_word_threshold {
        return (Err("soft_blacklisted"), n_soft);
    }
    if let Some(ac) = &lists.subwords {
        if ac.is_match(&normalize(url)) {
            return (Err("blacklisted_subword"), n_soft);
        }
    }
    let host = if fq.is_empty() { rd.as_str() } else { fq.as_str() };
    if !host.is_empty() && p.high_quality_domains.iter().any(|d| under(host, &d.to_ascii_lowercase())) {
        return (Err("high_quality_source"), n_soft);
    }
    (Ok(()), n_soft)
}

/// Decide every row of a URL column; `registered_domains` and `fqdns` are aligned string
/// columns. Output fields: `<name>_soft_words`, `<name>_ok`, `<name>_reason`, `error`.
pub fn url_filter(
    name: &str,
    urls: &dyn Array,
    registered_domains: &dyn Array,
    fqdns: &dyn Array,
    lists: &UrlLists,
    p: &UrlRule,
) -> Result<StructArray> {
    let collect = |a: &dyn Array| -> Result<Vec<Option<String>>> {
        let mut v = Vec::with_capacity(a.len());
        super::for_each_str("url_filter", a, |s| v.push(s.map(str::to_owned)))?;
        Ok(v)
    };
    let rds = collect(registered_domains)?;
    let fqs = collect(fqdns)?;
    if rds.len() != urls.len() || fqs.len() != urls.len() {
        return Err(KernelError::InvalidInput { kernel: "url_filter", expected: "aligned columns", got: "different lengths".into() });
    }
    let n = urls.len();
    let mut soft = Int32Builder::with_capacity(n);
    let mut ok = BooleanBuilder::with_capacity(n);
    let mut reason = StringBuilder::new();
    let mut error = StringBuilder::new();
    let mut i = 0;
    super::for_each_str("url_filter", urls, |u| {
        match u {
            None => {
                soft.append_null();
                ok.append_null();
                reason.append_null();
                error.append_value("null url");
            }
            Some(u) => {
                let (r, s) = url_decision(u, rds[i].as_deref().unwrap_or(""), fqs[i].as_deref().unwrap_or(""), lists, p);
                soft.append_value(s as i32);
                ok.append_value(r.is_ok());
                reason.append_option(r.err());
                error.append_null();
            }
        }
        i += 1;
    })?;
    let fields = Fields::from(vec![
        Field::new(format!("{name}_soft_words"), DataType::Int32, true),
        Field::new(format!("{name}_ok"), DataType::Boolean, true),
        Field::new(format!("{name}_reason"), DataType::Utf8, true),
        Field::new("error", DataType::Utf8, true),
    ]);
    let cols: Vec<ArrayRef> = vec![Arc::new(soft.finish()), Arc::new(ok.finish()), Arc::new(reason.finish()), Arc::new(error.finish())];
    Ok(StructArray::try_new(fields, cols, None)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists() -> UrlLists {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        UrlLists::from_lists(
            &["bad.com", "sub.meh.org"],
            &["http://ok.net/evil.html"],
            &s(&["porn", "#comment"]),
            &s(&["sex", "nude", "hot"]),
            &s(&["two words"]),
        )
    }

    #[test]
    fn every_reason() {
        let l = lists();
        let p = UrlRule { soft_word_threshold: 2, high_quality_domains: vec!["wikipedia.org".into()] };
        let d = |u: &str, rd: &str, fq: &str| url_decision(u, rd, fq, &l, &p).0;
        assert_eq!(d("http://www.bad.com/x", "bad.com", "www.bad.com"), Err("domain"));
        assert_eq!(d("http://sub.meh.org/x", "meh.org", "sub.meh.org"), Err("subdomain"));
        assert_eq!(d("http://ok.net/evil.html", "ok.net", "ok.net"), Err("url"));
        assert_eq!(d("http://ok.net/Porn/page", "ok.net", "ok.net"), Err("hard_blacklisted"));
        assert_eq!(d("http://ok.net/pornography", "ok.net", "ok.net"), Ok(()));
        assert_eq!(d("http://ok.net/hot-sex", "ok.net", "ok.net"), Err("soft_blacklisted"));
        assert_eq!(d("http://ok.net/hot-dog", "ok.net", "ok.net"), Ok(()));
        assert_eq!(d("http://ok.net/two-words-here", "ok.net", "ok.net"), Err("blacklisted_subword"));
        assert_eq!(d("https://en.wikipedia.org/wiki/X", "wikipedia.org", "en.wikipedia.org"), Err("high_quality_source"));
        assert_eq!(d("https://notwikipedia.org/", "notwikipedia.org", "notwikipedia.org"), Ok(()));
        assert_eq!(l.sizes(), (2, 1, 1, 3, 1));
    }

    #[test]
    fn loads_ut1_files() {
        let dir = std::env::temp_dir().join(format!("spark_mm_ut1_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("domains"), "# comment\nbad.com\n\nOther.NET\n").unwrap();
        std::fs::write(dir.join("urls"), "ok.net/evil\n").unwrap();
        let l = UrlLists::load(&[&dir.join("domains")], &[&dir.join("urls")], &[], &[], &[]).unwrap();
        assert_eq!(l.sizes().0, 2);
        assert_eq!(url_decision("https://ok.net/evil", "ok.net", "ok.net", &l, &UrlRule::default()).0, Err("url"));
        assert_eq!(url_decision("http://other.net/", "other.net", "other.net", &l, &UrlRule::default()).0, Err("domain"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
