//! PII mapper: finds e-mail addresses and IPv4 / IPv6 addresses, counts them and optionally
//! replaces them (the rule FineWeb applied before release: anonymise e-mails and public IPs).
//!
//! Hand-written scanners rather than regular expressions: one left-to-right pass, no backtracking.
//!
//! IPv6: a run of hex digits, `:` and `.` (not glued to a letter, digit, `_`, `:` or `.` before
//! it, nor to a letter or digit after it) that `std::net::Ipv6Addr` parses: full, `::`-compressed
//! and IPv4-mapped / embedded forms. To keep times (`12:30:45`), MAC addresses and C++ scopes
//! (`std::string`, `a::b`) out, a candidate needs a decimal digit, must not be `::` alone, and
//! eight groups of exactly two hex digits without `::` (an EUI-64 / MAC layout) are not taken.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pii {
    /// Replace matches in the output text (otherwise only count them).
    pub redact: bool,
    pub email_replacement: String,
    pub ip_replacement: String,
    pub ipv6_replacement: String,
    /// Count (and replace) private, loopback and link-local addresses too (IPv4 10/8, 127/8,
    /// 0/8, 169.254/16, 172.16/12, 192.168/16; IPv6 ::1, ::, fe80::/10, fc00::/7, and
    /// IPv4-mapped private addresses).
    pub include_private_ips: bool,
}

impl Default for Pii {
    fn default() -> Self {
        Self {
            redact: false,
            email_replacement: "email@example.com".into(),
            ip_replacement: "0.0.0.0".into(),
            ipv6_replacement: "::".into(),
            include_private_ips: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiKind {
    Email,
    Ip,
    Ipv6,
}

fn is_local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// Byte span of the e-mail address around the `@` at `at`, if there is one.
fn email_at(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut s = at;
    while s > 0 && is_local_char(b[s - 1]) {
        s -= 1;
    }
    while s < at && b[s] == b'.' {
        s += 1;
    }
    if s == at {
        return None;
    }
    let mut e = at + 1;
    while e < b.len() && is_domain_char(b[e]) {
        e += 1;
    }
    while e > at + 1 && matches!(b[e - 1], b'.' | b'-') {
        e -= 1;
    }
    let domain = &b[at + 1..e];
    let last_dot = domain.iter().rposition(|&c| c == b'.')?;
    let tld = &domain[last_dot + 1..];
    if last_dot == 0 || tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) || domain.windows(2).any(|w| w == b"..") {
        return None;
    }
    Some((s, e))
}

/// IPv4 dotted quad starting at `s` (which must not follow a digit, letter or '.').
fn ipv4_at(b: &[u8], s: usize) -> Option<(usize, [u16; 4])> {
    let mut octets = [0u16; 4];
    let mut i = s;
    for (k, oct) in octets.iter_mut().enumerate() {
        let start = i;
        let mut v: u16 = 0;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 3 {
            v = v * 10 + (b[i] - b'0') as u16;
            i += 1;
        }
        if i == start || v > 255 || (i < b.len() && b[i].is_ascii_digit()) {
            return None;
        }
        *oct = v;
        if k < 3 {
            if i >= b.len() || b[i] != b'.' {
                return None;
            }
            i += 1;
        }
    }
    // "1.2.3.4.5" or "1.2.3.4a" is not an address
    if i < b.len() && (b[i].is_ascii_alphanumeric() || (b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))) {
        return None;
    }
    Some((i, octets))
}

fn is_private(o: [u16; 4]) -> bool {
    matches!(o, [10, ..] | [127, ..] | [0, ..] | [169, 254, ..] | [192, 168, ..]) || (o[0] == 172 && (16..=31).contains(&o[1]))
}

fn is_hex_or_sep(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// IPv6 address starting at `s` (which must not follow a letter, digit, `_`, `:` or `.`... except
/// that a leading `::` may start it): the end offset and the address.
fn ipv6_at(b: &[u8], s: usize) -> Option<(usize, std::net::Ipv6Addr)> {
    let mut e = s;
    while e < b.len() && is_hex_or_sep(b[e]) {
        e += 1;
    }
    if e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'_') {
        return None;
    }
    // a sentence may end right after the address ("... at fe80::1." or "2001:db8::1:")
    let mut cands = vec![e];
    if e > s + 1 && matches!(b[e - 1], b'.' | b':') && !(b[e - 1] == b':' && b[e - 2] == b':') {
        cands.push(e - 1);
    }
    for end in cands {
        let t = std::str::from_utf8(&b[s..end]).ok()?;
        if t.matches(':').count() < 2 || !t.bytes().any(|c| c.is_ascii_digit()) || t == "::" {
            continue;
        }
        if !t.contains("::") && t.split(':').all(|g| g.len() == 2) {
            continue; // EUI-64 / MAC layout
        }
        if let Ok(a) = t.parse::<std::net::Ipv6Addr>() {
            return Some((end, a));
        }
    }
    None
}

fn is_private_v6(a: std::net::Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped() {
        return is_private(v4.octets().map(u16::from));
    }
    let s = a.segments();
    a.is_loopback() || a.is_unspecified() || (s[0] & 0xffc0) == 0xfe80 || (s[0] & 0xfe00) == 0xfc00
}

/// All PII matches in `text` as (start, end, kind), in order, non-overlapping.
pub fn find_pii(text: &str, p: &Pii) -> Vec<(usize, usize, PiiKind)> {
    let b = text.as_bytes();
    let mut out: Vec<(usize, usize, PiiKind)> = Vec::new();
    let mut i = 0;
    let mut floor = 0; // no match may start before the end of the previous one
    while i < b.len() {
        let c = b[i];
        if c == b'@' {
            if let Some((s, e)) = email_at(b, i) {
                if s >= floor {
                    out.push((s, e, PiiKind::Email));
                    floor = e;
                    i = e;
                    continue;
                }
            }
        } else if (c.is_ascii_hexdigit() || c == b':')
            && i >= floor
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'.' | b':' | b'_')))
        {
            if let Some((e, a)) = ipv6_at(b, i) {
                if b.get(e) != Some(&b'@') && (p.include_private_ips || !is_private_v6(a)) {
                    out.push((i, e, PiiKind::Ipv6));
                    floor = e;
                    i = e;
                    continue;
                }
                // a private IPv6 is skipped whole, so its embedded IPv4 is not counted on its own
                i = e;
                continue;
            }
        }
        if c.is_ascii_digit() && i >= floor && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.')) {
            if let Some((e, o)) = ipv4_at(b, i) {
                // an address that is the domain of an e-mail is left to the e-mail scanner
                if b.get(e) != Some(&b'@') && (p.include_private_ips || !is_private(o)) {
                    out.push((i, e, PiiKind::Ip));
                    floor = e;
                    i = e;
                    continue;
                }
            }
        }
        i += 1;
    }
    // an e-mail found later may start inside an IP that was emitted before it: drop the IP
    out.dedup_by(|later, earlier| later.0 < earlier.1);
    out
}

/// Counts of (emails, ips) and the redacted text when `p.redact`.
pub fn pii(text: &str, p: &Pii) -> (u32, u32, Option<String>) {
    let found = find_pii(text, p);
    let emails = found.iter().filter(|f| f.2 == PiiKind::Email).count() as u32;
    let ips = found.len() as u32 - emails;
    let redacted = p.redact.then(|| {
        let mut s = String::with_capacity(text.len());
        let mut last = 0;
        for (a, e, k) in &found {
            s.push_str(&text[last..*a]);
            s.push_str(match k {
                PiiKind::Email => &p.email_replacement,
                PiiKind::Ip => &p.ip_replacement,
                PiiKind::Ipv6 => &p.ipv6_replacement,
            });
            last = *e;
        }
        s.push_str(&text[last..]);
        s
    });
    (emails, ips, redacted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_emails_and_public_ips() {
        let p = Pii { redact: true, ..Pii::default() };
        let (e, i, t) = pii("Mail john.doe+x@mail.example.org. Server 8.8.8.8, local 192.168.1.1, v1.2.3.4.5", &p);
        assert_eq!((e, i), (1, 1));
        assert_eq!(t.unwrap(), "Mail email@example.com. Server 0.0.0.0, local 192.168.1.1, v1.2.3.4.5");
        let all = Pii { include_private_ips: true, ..Pii::default() };
        assert_eq!(pii("10.0.0.1 and 256.1.1.1 and 1.2.3", &all).1, 1);
        assert_eq!(pii("not@email and a@b.c and @x.com", &Pii::default()).0, 0);
        assert_eq!(pii("x@1.2.3.4.com y", &Pii::default()), (1, 0, None));
    }

    fn ips(text: &str, include_private_ips: bool) -> Vec<&str> {
        let p = Pii { include_private_ips, ..Pii::default() };
        find_pii(text, &p).into_iter().filter(|f| f.2 != PiiKind::Email).map(|(a, e, _)| &text[a..e]).collect()
    }

    #[test]
    fn ipv6_forms() {
        let text = "full 2001:0db8:85a3:0000:0000:8a2e:0370:7334, short 2001:db8::1. \
                    mapped ::ffff:192.0.2.128 and [2606:4700::6810:84e5]:443 zone fe80::1%eth0 end 2001:db8::2:";
        assert_eq!(
            ips(text, false),
            ["2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:db8::1", "::ffff:192.0.2.128", "2606:4700::6810:84e5", "2001:db8::2"]
        );
        let p = Pii { redact: true, ..Pii::default() };
        assert_eq!(pii("at 2001:db8::1 or 8.8.8.8", &p), (0, 2, Some("at :: or 0.0.0.0".to_string())));
    }

    #[test]
    fn ipv6_no_false_positives() {
        for t in [
            "at 12:30:45 or 23:59",
            "mac 00:1a:2b:3c:4d:5e and eui 00:1a:2b:ff:fe:3c:4d:5e",
            "std::string s; a::b; dead::beef; Foo::Bar::baz",
            "c++ std::vector<int> v; ::operator new",
            "ratio 1:2:3 and 2001:db8::1g and x2001:db8::1",
            ":: alone and ::",
        ] {
            assert!(ips(t, true).is_empty(), "{t}: {:?}", ips(t, true));
        }
    }

    #[test]
    fn ipv6_private_ranges() {
        let text = "::1 fe80::1 febf::1 fc00::1 fdff::2 ::ffff:10.0.0.1 ::ffff:8.8.8.8 fec0::1 fe00::1";
        assert_eq!(ips(text, false), ["::ffff:8.8.8.8", "fec0::1", "fe00::1"]);
        assert_eq!(ips(text, true).len(), 9);
    }
}
