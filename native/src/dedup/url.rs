//! URL keys for URL dedup: xxh3-128 of a canonical form of the URL.
//!
//! Canonical form: trimmed; scheme dropped (`http` and `https` of one page are one document);
//! host lowercased, a trailing dot and the default port (80/443) removed; fragment (`#...`)
//! removed; an empty path becomes `/`. Path and query keep their case and order (servers may
//! treat them case-sensitively). `www.` is kept: it can be a different site.

use std::sync::Arc;

use arrow_array::builder::BinaryBuilder;
use arrow_array::{Array, ArrayRef};

use super::exact::key128;
use super::for_each_str;
use crate::error::Result;

/// The canonical form of one URL, or `None` when it has no host.
///
/// ```
/// use _native::dedup::url::canonical_url;
/// assert_eq!(canonical_url("HTTPS://Example.COM:443/a/B?x=1#top").unwrap(), "example.com/a/B?x=1");
/// assert_eq!(canonical_url("http://example.com").unwrap(), "example.com/");
/// ```
pub fn canonical_url(url: &str) -> Option<String> {
    let url = url.trim();
    let url = url.split('#').next().unwrap_or("");
    let (scheme, rest) = match url.find("://") {
        Some(i) => (url[..i].to_ascii_lowercase(), &url[i + 3..]),
        None => (String::new(), url.strip_prefix("//").unwrap_or(url)),
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    // Drop userinfo; it does not identify the document.
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let (host, port) = match host_port.rfind(':') {
        Some(i) if !host_port.ends_with(']') => (&host_port[..i], &host_port[i + 1..]),
        _ => (host_port, ""),
    };
    let host = host.trim_end_matches('.').to_lowercase();
    if host.is_empty() {
        return None;
    }
    let default_port = matches!((scheme.as_str(), port), ("http", "80") | ("https", "443"));
    let mut out = String::with_capacity(url.len());
    out.push_str(&host);
    if !port.is_empty() && !default_port {
        out.push(':');
        out.push_str(port);
    }
    if !tail.starts_with('/') {
        out.push('/');
    }
    out.push_str(tail);
    Some(out)
}

/// xxh3-128 key of the canonical form of every URL; null for null URLs and URLs with no host.
pub fn url_key(urls: &dyn Array) -> Result<ArrayRef> {
    let mut out = BinaryBuilder::with_capacity(urls.len(), urls.len() * 16);
    for_each_str("url_key", urls, |row| match row.and_then(canonical_url) {
        Some(c) => out.append_value(key128(c.as_bytes())),
        None => out.append_null(),
    })?;
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::StringArray;

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_url("http://a.org:8080/x").unwrap(), "a.org:8080/x");
        assert_eq!(canonical_url("https://a.org:80/x").unwrap(), "a.org:80/x");
        assert_eq!(canonical_url("https://user:pw@A.org./?q").unwrap(), "a.org/?q");
        assert_eq!(canonical_url("//a.org/p#f").unwrap(), "a.org/p");
        assert!(canonical_url("https:///nohost").is_none());
        assert!(canonical_url("").is_none());
    }

    #[test]
    fn same_page_same_key() {
        let a = StringArray::from(vec![
            Some("http://Example.com/page#x"),
            Some("https://example.com/page"),
            Some("https://example.com/Page"),
            None,
        ]);
        let k = url_key(&a).unwrap();
        let k = k.as_binary::<i32>();
        assert_eq!(k.value(0), k.value(1));
        assert_ne!(k.value(1), k.value(2));
        assert!(k.is_null(3));
    }
}
