//! PII mapper: finds e-mail addresses and IPv4 addresses, counts them and optionally replaces
//! them (the rule FineWeb applied before release: anonymise e-mails and public IPs).
//!
//! Hand-written scanners rather than regular expressions: one left-to-right pass, no backtracking.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pii {
    /// Replace matches in the output text (otherwise only count them).
    pub redact: bool,
    pub email_replacement: String,
    pub ip_replacement: String,
    /// Count (and replace) private, loopback and link-local IPv4 addresses too.
    pub include_private_ips: bool,
}

impl Default for Pii {
    fn default() -> Self {
        Self {
            redact: false,
            email_replacement: "email@example.com".into(),
            ip_replacement: "0.0.0.0".into(),
            include_private_ips: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiKind {
    Email,
    Ip,
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
        } else if c.is_ascii_digit() && i >= floor && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.')) {
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
            s.push_str(if *k == PiiKind::Email { &p.email_replacement } else { &p.ip_replacement });
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
}
