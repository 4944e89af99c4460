//! `Authentication-Results` (RFC 8601): a parser that knows comments, quoted strings and
//! folding, the choice of the one header that counts (the newest from the trusted server),
//! and what it says about a From address. No crate on crates.io parses the header on its own
//! (mail-auth verifies, it does not read others' results), so this is a small recursive
//! descent over the RFC's grammar, fuzzed (`fuzz/fuzz_targets/authres.rs`) and property-tested.

use crate::domain::EmailAddress;

/// One parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// The authserv-id, as written (compare case-insensitively).
    pub authserv_id: String,
    pub results: Vec<MethodResult>,
}

/// One `method=result` with its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// Lower case, without a method version.
    pub method: String,
    /// Lower case.
    pub result: String,
    /// `(ptype.property, value)`: the key lower case, the value as written.
    pub props: Vec<(String, String)>,
}

impl MethodResult {
    pub fn prop(&self, key: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable Authentication-Results at byte {at}: {what}")]
pub struct ParseError {
    pub at: usize,
    pub what: &'static str,
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn fail<T>(&self, what: &'static str) -> Result<T, ParseError> {
        Err(ParseError { at: self.i, what })
    }

    /// Skips white space, folding (CRLF followed by white space) and nested comments.
    fn skip_cfws(&mut self) -> Result<(), ParseError> {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => self.i += 1,
                b'(' => self.comment()?,
                _ => break,
            }
        }
        Ok(())
    }

    fn comment(&mut self) -> Result<(), ParseError> {
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'\\' => self.i += 1,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
        self.fail("unterminated comment")
    }

    fn quoted(&mut self) -> Result<String, ParseError> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.i += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.i += 1;
                    }
                }
                b'"' => return Ok(String::from_utf8_lossy(&out).into_owned()),
                b'\r' | b'\n' => {}
                _ => out.push(c),
            }
        }
        self.fail("unterminated quoted string")
    }

    /// A run of bytes up to white space, a comment, a quote, `;` or any of `stop`.
    fn run(&mut self, stop: &[u8]) -> String {
        let start = self.i;
        while let Some(c) = self.peek() {
            if matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'(' | b')' | b'"' | b';')
                || stop.contains(&c)
            {
                break;
            }
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    /// A keyword: letters, digits, `-`, `_` (and `.` where `dotted`).
    fn keyword(&mut self, dotted: bool, what: &'static str) -> Result<String, ParseError> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || (dotted && c == b'.') {
                self.i += 1;
            } else {
                break;
            }
        }
        if self.i == start {
            return self.fail(what);
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).to_ascii_lowercase())
    }

    fn expect(&mut self, c: u8, what: &'static str) -> Result<(), ParseError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.fail(what)
        }
    }

    /// A value: a quoted string or a token; for a property also `"local"@domain`.
    fn value(&mut self, stop: &[u8]) -> Result<String, ParseError> {
        let mut v = if self.peek() == Some(b'"') {
            self.quoted()?
        } else {
            String::new()
        };
        if v.is_empty() || self.peek() == Some(b'@') {
            v.push_str(&self.run(stop));
        }
        Ok(v)
    }
}

/// Parses one header value (what follows `Authentication-Results:`).
pub fn parse(header: &str) -> Result<AuthResults, ParseError> {
    let mut c = Cursor {
        s: header.as_bytes(),
        i: 0,
    };
    c.skip_cfws()?;
    let authserv_id = c.value(&[])?;
    if authserv_id.is_empty() {
        return c.fail("missing authserv-id");
    }
    c.skip_cfws()?;
    // An optional version number after the authserv-id.
    if c.peek().is_some_and(|b| b.is_ascii_digit()) {
        let v = c.run(&[]);
        if !v.bytes().all(|b| b.is_ascii_digit()) {
            return c.fail("bad version");
        }
        c.skip_cfws()?;
    }
    let mut results = Vec::new();
    loop {
        c.skip_cfws()?;
        if c.peek().is_none() {
            break;
        }
        c.expect(b';', "expected ';'")?;
        c.skip_cfws()?;
        if c.peek().is_none() {
            break; // a trailing ';' is common and harmless
        }
        let method = c.keyword(false, "expected a method")?;
        c.skip_cfws()?;
        if c.peek() == Some(b'/') {
            c.i += 1;
            c.skip_cfws()?;
            c.keyword(false, "expected a method version")?;
            c.skip_cfws()?;
        }
        if method == "none" && matches!(c.peek(), None | Some(b';')) {
            continue; // no-result
        }
        c.expect(b'=', "expected '=' after the method")?;
        c.skip_cfws()?;
        let result = c.keyword(false, "expected a result")?;
        let mut props = Vec::new();
        loop {
            c.skip_cfws()?;
            if matches!(c.peek(), None | Some(b';')) {
                break;
            }
            let key = c.keyword(true, "expected a property")?;
            c.skip_cfws()?;
            c.expect(b'=', "expected '=' after a property")?;
            c.skip_cfws()?;
            let value = c.value(&[])?;
            if key == "reason" {
                continue;
            }
            if !key.contains('.') {
                return c.fail("a property is ptype.property");
            }
            props.push((key, value));
        }
        results.push(MethodResult {
            method,
            result,
            props,
        });
    }
    Ok(AuthResults {
        authserv_id,
        results,
    })
}

/// The authserv-id alone, read leniently (a header of another server need not parse).
fn authserv_id_of(header: &str) -> Option<String> {
    let mut c = Cursor {
        s: header.as_bytes(),
        i: 0,
    };
    c.skip_cfws().ok()?;
    c.value(&[]).ok().filter(|v| !v.is_empty())
}

/// The newest header (topmost; `headers` come newest first) whose authserv-id is `trusted`,
/// parsed. Older copies never count: a forger can add any number below.
pub fn newest_trusted(
    headers: &[String],
    trusted: &str,
) -> Option<Result<AuthResults, ParseError>> {
    headers
        .iter()
        .find(|h| authserv_id_of(h).is_some_and(|id| id.eq_ignore_ascii_case(trusted)))
        .map(|h| parse(h))
}

/// The organisational domain of `domain` (RFC 7489 §3.2): its registrable domain under the
/// Public Suffix List (the `psl` crate, the list compiled in), lower case, without a trailing
/// dot. A domain the list cannot place counts as its own organisational domain (strict).
pub fn organisational_domain(domain: &str) -> String {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&d).map(str::to_string).unwrap_or(d)
}

/// Relaxed alignment (RFC 7489 §3.1): the same organisational domain.
pub fn aligned(a: &str, b: &str) -> bool {
    let a = a.trim_start_matches('@');
    let a = a.rsplit_once('@').map_or(a, |(_, d)| d);
    !a.is_empty() && organisational_domain(a) == organisational_domain(b)
}

/// What the trusted server's header says about a mail's From address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvidence {
    /// No header of the trusted server (or none configured).
    Absent,
    /// The trusted server's header could not be read: counts as saying nothing.
    Unreadable,
    /// The sender logged in (`auth=pass`) as this user; it alone decides.
    SmtpAuth { user: String, matches_from: bool },
    /// DMARC passed for the From domain, or DKIM passed with an aligned `header.d`.
    Aligned { method: &'static str },
    /// Evidence against the From domain: `dmarc=fail`, or SPF/DKIM failing for it with
    /// nothing aligned passing.
    Contrary { why: String },
    /// Nothing that proves or disproves the From domain.
    Neutral,
}

/// Reads one parsed header against the From address.
pub fn evaluate(ar: &AuthResults, from: &EmailAddress) -> ServerEvidence {
    let domain = from.domain();
    let is = |r: &MethodResult, m: &str, res: &str| r.method == m && r.result == res;
    if let Some(user) = ar
        .results
        .iter()
        .find(|r| is(r, "auth", "pass"))
        .and_then(|r| r.prop("smtp.auth"))
    {
        return ServerEvidence::SmtpAuth {
            user: user.to_string(),
            matches_from: user.eq_ignore_ascii_case(from.as_str()),
        };
    }
    let for_from = |r: &MethodResult, key: &str| r.prop(key).is_none_or(|d| aligned(d, domain));
    if let Some(r) = ar
        .results
        .iter()
        .find(|r| is(r, "dmarc", "fail") && for_from(r, "header.from"))
    {
        return ServerEvidence::Contrary {
            why: format!(
                "dmarc=fail voor {}",
                r.prop("header.from").unwrap_or(domain)
            ),
        };
    }
    if ar.results.iter().any(|r| {
        is(r, "dmarc", "pass")
            && r.prop("header.from")
                .is_some_and(|d| d.eq_ignore_ascii_case(domain))
    }) {
        return ServerEvidence::Aligned { method: "dmarc" };
    }
    if ar
        .results
        .iter()
        .any(|r| is(r, "dkim", "pass") && r.prop("header.d").is_some_and(|d| aligned(d, domain)))
    {
        return ServerEvidence::Aligned { method: "dkim" };
    }
    if let Some(r) = ar.results.iter().find(|r| {
        (is(r, "spf", "fail") && for_from(r, "smtp.mailfrom"))
            || (is(r, "dkim", "fail") && for_from(r, "header.d"))
    }) {
        return ServerEvidence::Contrary {
            why: format!("{}=fail", r.method),
        };
    }
    ServerEvidence::Neutral
}

/// The trusted server's word on `from`, from all of a mail's headers (newest first).
pub fn evidence(headers: &[String], trusted: Option<&str>, from: &EmailAddress) -> ServerEvidence {
    match trusted.and_then(|t| newest_trusted(headers, t)) {
        None => ServerEvidence::Absent,
        Some(Err(_)) => ServerEvidence::Unreadable,
        Some(Ok(ar)) => evaluate(&ar, from),
    }
}

/// One plain line for people: the results of the trusted header, comments left out.
pub fn summary(headers: &[String], trusted: Option<&str>) -> Option<String> {
    let ar = trusted.and_then(|t| newest_trusted(headers, t))?.ok()?;
    let parts: Vec<String> = ar
        .results
        .iter()
        .map(|r| format!("{}={}", r.method, r.result))
        .collect();
    Some(format!(
        "{}: {}",
        ar.authserv_id,
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn from(s: &str) -> EmailAddress {
        s.parse().unwrap()
    }

    #[test]
    fn reads_the_rfc_8601_examples() {
        let ar = parse("example.com; spf=pass smtp.mailfrom=example.net").unwrap();
        assert_eq!(ar.authserv_id, "example.com");
        assert_eq!(ar.results[0].method, "spf");
        assert_eq!(ar.results[0].prop("smtp.mailfrom"), Some("example.net"));
        let ar = parse(
            "example.com;\r\n          auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n          spf=pass smtp.mailfrom=example.net",
        )
        .unwrap();
        assert_eq!(ar.results.len(), 2);
        assert_eq!(ar.results[0].prop("smtp.auth"), Some("sender@example.net"));
        let ar = parse("example.com 1; none").unwrap();
        assert!(ar.results.is_empty());
        let ar = parse(
            "mail-router.example.net; dkim=pass (good signature) header.d=newyork.example.com header.b=oINEO8hg; dkim=fail (bad signature) header.d=newyork.example.net",
        )
        .unwrap();
        assert_eq!(ar.results[1].result, "fail");
        let ar =
            parse("example.com; dkim/1=pass reason=\"good; really\" header.d=a.example").unwrap();
        assert_eq!(ar.results[0].prop("header.d"), Some("a.example"));
    }

    #[test]
    fn a_semicolon_in_a_comment_or_quoted_string_starts_no_result() {
        // The attack: the sender's address, echoed by the server in a comment.
        let ar = parse(
            "mail.example.org; spf=fail (sender x;dkim=pass header.d=example.org is not allowed) smtp.mailfrom=evil.example",
        )
        .unwrap();
        assert_eq!(ar.results.len(), 1);
        assert_eq!(ar.results[0].method, "spf");
        let ar = parse(
            "mail.example.org; spf=none smtp.mailfrom=\"x;dkim=pass header.d=example.org\"@evil.example",
        )
        .unwrap();
        assert_eq!(ar.results.len(), 1);
        assert_eq!(
            evaluate(&ar, &from("directie@example.org")),
            ServerEvidence::Neutral
        );
        assert!(parse("mail.example.org; dkim=pass (unterminated header.d=example.org").is_err());
    }

    #[test]
    fn smtp_auth_alone_decides_when_present() {
        let ar = parse(
            "mail.example.org; auth=pass smtp.auth=pieter.bakker@example.org; dkim=pass header.d=example.org; dmarc=pass header.from=example.org",
        )
        .unwrap();
        assert_eq!(
            evaluate(&ar, &from("examencommissie@example.org")),
            ServerEvidence::SmtpAuth {
                user: "pieter.bakker@example.org".into(),
                matches_from: false
            }
        );
    }

    #[test]
    fn dkim_counts_only_aligned_and_dmarc_fail_is_contrary() {
        let anna = from("anna@mail.example.org");
        let dkim = |d: &str| {
            evaluate(
                &parse(&format!("s; dkim=pass header.d={d}")).unwrap(),
                &anna,
            )
        };
        assert_eq!(
            dkim("example.org"),
            ServerEvidence::Aligned { method: "dkim" }
        );
        assert_eq!(
            dkim("other.example.org"),
            ServerEvidence::Aligned { method: "dkim" }
        );
        assert_eq!(dkim("example.org.evil.example"), ServerEvidence::Neutral);
        assert_eq!(dkim("gmail.com"), ServerEvidence::Neutral);
        let fail =
            parse("s; dmarc=fail header.from=mail.example.org; dkim=pass header.d=example.org")
                .unwrap();
        assert!(matches!(
            evaluate(&fail, &anna),
            ServerEvidence::Contrary { .. }
        ));
        let spf = parse("s; spf=fail smtp.mailfrom=mail.example.org").unwrap();
        assert!(matches!(
            evaluate(&spf, &anna),
            ServerEvidence::Contrary { .. }
        ));
        let spf_but_dkim =
            parse("s; spf=fail smtp.mailfrom=mail.example.org; dkim=pass header.d=example.org")
                .unwrap();
        assert_eq!(
            evaluate(&spf_but_dkim, &anna),
            ServerEvidence::Aligned { method: "dkim" }
        );
    }

    #[test]
    fn organisational_domains() {
        assert_eq!(organisational_domain("a.b.example.org"), "example.org");
        assert_eq!(organisational_domain("mail.example.co.uk"), "example.co.uk");
        assert_eq!(organisational_domain("example.org."), "example.org");
        assert!(!aligned("co.uk", "example.co.uk"));
        assert!(aligned("@example.org", "x.example.org"));
    }

    #[test]
    fn only_the_newest_header_of_the_trusted_server() {
        let headers = vec![
            "other.example; dkim=pass header.d=example.org".to_string(),
            "Mail.Example.Org; dkim=none".to_string(),
            "mail.example.org; dkim=pass header.d=example.org".to_string(),
        ];
        let ar = newest_trusted(&headers, "mail.example.org")
            .unwrap()
            .unwrap();
        assert_eq!(ar.results[0].result, "none");
        assert_eq!(
            evidence(&headers, Some("mail.example.org"), &from("a@example.org")),
            ServerEvidence::Neutral
        );
        assert_eq!(
            evidence(&headers, None, &from("a@example.org")),
            ServerEvidence::Absent
        );
    }

    /// A result as a server might write it, and the comments/folding to put around its parts.
    fn ws() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(" ".to_string()),
            Just("\r\n\t".to_string()),
            Just("  ".to_string()),
            "[ a-z;=@.\"]{0,12}".prop_map(|c| format!(" ({})", c.replace('"', "\\\""))),
            "[ a-z;=@.]{0,8}".prop_map(|c| format!(" (nested ({c}) x;y) ")),
        ]
    }

    fn method() -> impl Strategy<Value = (String, String, String, String)> {
        (
            prop_oneof![
                Just("spf"),
                Just("dkim"),
                Just("dmarc"),
                Just("auth"),
                Just("arc")
            ],
            prop_oneof![
                Just("pass"),
                Just("fail"),
                Just("none"),
                Just("softfail"),
                Just("neutral")
            ],
            prop_oneof![
                Just("header.d"),
                Just("header.from"),
                Just("smtp.mailfrom"),
                Just("smtp.auth")
            ],
            prop_oneof![
                "[a-z]{1,8}\\.(org|example|co\\.uk)".prop_map(|s| s),
                "[a-z]{1,5}@[a-z]{1,5}\\.org".prop_map(|s| s),
                "[a-z; =]{0,10}".prop_map(|s| format!("\"{s}\"")),
            ],
        )
            .prop_map(|(m, r, k, v)| (m.to_string(), r.to_string(), k.to_string(), v))
    }

    proptest! {
        /// Comments, folding and quoted values anywhere between the parts never change what
        /// the header says.
        #[test]
        fn decoration_never_changes_the_results(
            id in prop_oneof![Just("mail.example.org".to_string()), "[a-z]{1,8}\\.example".prop_map(|s| s)],
            version in proptest::option::of(1u8..3),
            parts in proptest::collection::vec((method(), ws(), ws(), ws()), 0..5),
            lead in ws(),
        ) {
            let mut plain = id.clone();
            let mut decorated = format!("{lead}{id}");
            if let Some(v) = version {
                plain.push_str(&format!(" {v}"));
                decorated.push_str(&format!(" {v}"));
            }
            if parts.is_empty() {
                plain.push_str("; none");
                decorated.push_str(";none");
            }
            for ((m, r, k, v), a, b, c) in &parts {
                plain.push_str(&format!("; {m}={r} {k}={v}"));
                decorated.push_str(&format!("{a};{b}{m}{c}={b}{r}{a}{k}={v}{c}"));
            }
            let p = parse(&plain).unwrap();
            let d = parse(&decorated).unwrap();
            prop_assert_eq!(&p, &d);
            prop_assert_eq!(p.results.len(), parts.len());
            prop_assert!(p.authserv_id.eq_ignore_ascii_case(&id));
            for (r, ((m, res, k, v), ..)) in p.results.iter().zip(&parts) {
                prop_assert_eq!(&r.method, m);
                prop_assert_eq!(&r.result, res);
                prop_assert_eq!(r.prop(k).unwrap(), v.trim_matches('"'));
            }
        }

        /// Whatever other headers say, only the topmost of the trusted server counts.
        #[test]
        fn only_the_topmost_trusted_header_decides(
            others in proptest::collection::vec("[a-z]{1,6}\\.example; dkim=pass header\\.d=example\\.org", 0..3),
            older in proptest::collection::vec(Just("mail.example.org; auth=pass smtp.auth=a@example.org".to_string()), 0..3),
        ) {
            let mut headers = others.clone();
            headers.push("mail.example.org; dkim=none".into());
            headers.extend(older);
            prop_assert_eq!(
                evidence(&headers, Some("mail.example.org"), &from("a@example.org")),
                ServerEvidence::Neutral
            );
        }

        /// Arbitrary text never panics the parser.
        #[test]
        fn any_text_parses_or_fails_cleanly(s in "\\PC{0,200}") {
            let _ = parse(&s);
            let _ = evidence(std::slice::from_ref(&s), Some("x"), &from("a@example.org"));
        }
    }
}
