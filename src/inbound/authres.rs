//! `Authentication-Results` (RFC 8601): a parser that knows comments, quoted strings and
//! folding, the choice of the one header that counts (the newest from the trusted server),
//! and what it says about a From address. No crate on crates.io parses the header on its own
//! (mail-auth verifies, it does not read others' results), so this is a small recursive
//! descent over the RFC's grammar, fuzzed (`fuzz/fuzz_targets/authres.rs`) and property-tested.

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

/// Reads a header as servers really write it, never failing: a missing authserv-id
/// (Exchange Online writes none: `spf=pass (sender IP is …) smtp.mailfrom=…; dkim=…`), an
/// ARC instance tag in front (`i=1; mx.google.com; …`), stray words between results
/// (`…; hotmail.com; dkim=…`), properties without a `ptype.` (`action=none`), and a result
/// that cannot be read (skipped up to the next `;`). For evidence *against* a sender, and
/// for the platforms whose syntax is not RFC 8601's; [`parse`] stays the strict reading.
pub fn parse_lenient(header: &str) -> AuthResults {
    let mut c = Cursor {
        s: header.as_bytes(),
        i: 0,
    };
    let mut authserv_id = String::new();
    let mut results = Vec::new();
    let mut first = true;
    loop {
        let parsed = c.lenient_segment();
        match parsed {
            Ok(Some(Segment::Result(r))) => results.push(r),
            Ok(Some(Segment::Word(w))) if first && authserv_id.is_empty() => authserv_id = w,
            Ok(Some(Segment::Instance)) if first => {
                c.skip_past_semicolon();
                continue;
            }
            _ => {}
        }
        first = false;
        c.skip_past_semicolon();
        if c.peek().is_none() {
            break;
        }
    }
    AuthResults {
        authserv_id,
        results,
    }
}

enum Segment {
    Result(MethodResult),
    /// A word that is no `method=result`: an authserv-id, or a stray word.
    Word(String),
    /// An ARC instance tag, `i=N`.
    Instance,
}

impl Cursor<'_> {
    /// One `;`-separated piece, read as far as it goes.
    fn lenient_segment(&mut self) -> Result<Option<Segment>, ParseError> {
        self.skip_cfws()?;
        if matches!(self.peek(), None | Some(b';')) {
            return Ok(None);
        }
        let start = self.i;
        let word = self.value(b"=/")?;
        self.skip_cfws()?;
        if self.peek() == Some(b'/') {
            self.i += 1;
            self.skip_cfws()?;
            self.keyword(false, "expected a method version")?;
            self.skip_cfws()?;
        }
        if self.peek() != Some(b'=') {
            // An authserv-id (perhaps with a version), or a stray word.
            return Ok(Some(Segment::Word(word)));
        }
        self.i += 1;
        self.skip_cfws()?;
        let method = word.to_ascii_lowercase();
        if method == "i" {
            return Ok(Some(Segment::Instance));
        }
        if method.is_empty()
            || !method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            self.i = start;
            return self.fail("expected a method");
        }
        let result = self.keyword(false, "expected a result")?;
        let mut props = Vec::new();
        loop {
            self.skip_cfws()?;
            if matches!(self.peek(), None | Some(b';')) {
                break;
            }
            let Ok(key) = self.keyword(true, "expected a property") else {
                // Something no property looks like: keep what was read.
                break;
            };
            self.skip_cfws()?;
            if self.peek() != Some(b'=') {
                continue;
            }
            self.i += 1;
            self.skip_cfws()?;
            let value = self.value(&[])?;
            if key.contains('.') {
                props.push((key, value));
            }
        }
        Ok(Some(Segment::Result(MethodResult {
            method,
            result,
            props,
        })))
    }

    /// Moves past the next `;` that is outside comments and quoted strings (or to the end).
    fn skip_past_semicolon(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b';' => {
                    self.i += 1;
                    return;
                }
                b'(' => {
                    if self.comment().is_err() {
                        self.i = self.s.len();
                    }
                }
                b'"' => {
                    if self.quoted().is_err() {
                        self.i = self.s.len();
                    }
                }
                _ => self.i += 1,
            }
        }
    }
}

/// The organisational domain of `domain` (RFC 7489 §3.2): its registrable domain under the
/// Public Suffix List (the `psl` crate, the list compiled in), lower case, without a trailing
/// dot. A domain the list cannot place counts as its own organisational domain (strict).
pub fn organisational_domain(domain: &str) -> String {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&d).map(str::to_string).unwrap_or(d)
}

/// Relaxed alignment (RFC 7489 §3.1): the same organisational domain. `a` may be a domain,
/// an address, or an identity such as `header.i=@example.org`.
pub fn aligned(a: &str, b: &str) -> bool {
    let a = a.trim_start_matches('@');
    let a = a.rsplit_once('@').map_or(a, |(_, d)| d);
    !a.is_empty() && organisational_domain(a) == organisational_domain(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        assert_eq!(ar.results[0].result, "none");
        assert!(parse("mail.example.org; dkim=pass (unterminated header.d=example.org").is_err());
    }

    #[test]
    fn reads_what_servers_really_write_leniently() {
        // Exchange Online: no authserv-id, properties without a ptype, a stray word.
        let ms = parse_lenient(
            "spf=fail (sender IP is 192.0.2.7) smtp.mailfrom=bulk.example; dkim=pass (signature was verified) header.d=bulk.example;dmarc=fail action=oreject header.from=example.org;compauth=fail reason=000",
        );
        assert_eq!(ms.authserv_id, "");
        let got: Vec<(&str, &str)> = ms
            .results
            .iter()
            .map(|r| (r.method.as_str(), r.result.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("spf", "fail"),
                ("dkim", "pass"),
                ("dmarc", "fail"),
                ("compauth", "fail")
            ]
        );
        assert_eq!(ms.results[2].prop("header.from"), Some("example.org"));
        let hotmail = parse_lenient(
            "spf=none (sender IP is 192.0.2.1) smtp.mailfrom=example.net; hotmail.com; dkim=none header.d=example.net;hotmail.com; dmarc=none action=none header.from=example.net;compauth=fail reason=001",
        );
        assert_eq!(hotmail.results.len(), 4);
        // ARC: the instance tag first.
        let arc = parse_lenient(
            "i=1; mx.google.com;\r\n       dkim=pass header.i=@example.org header.s=s1 header.b=abc;\r\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.org",
        );
        assert_eq!(arc.authserv_id, "mx.google.com");
        assert_eq!(arc.results.len(), 2);
        // The strict reading of a well-formed header is the lenient one.
        let strict = "mx.example.org 1; dkim=pass (good) header.d=example.org; spf=fail smtp.mailfrom=x.example";
        assert_eq!(parse(strict).unwrap(), parse_lenient(strict));
        // A result that cannot be read is skipped, the next one still read.
        let broken = parse_lenient("mx; dkim=; dmarc=fail header.from=example.org");
        assert_eq!(broken.results.len(), 1);
        assert_eq!(broken.results[0].method, "dmarc");
        let empty = parse_lenient("mx;;dmarc=fail header.from=example.org");
        assert_eq!(empty.results.len(), 1);
    }

    #[test]
    fn organisational_domains() {
        assert_eq!(organisational_domain("a.b.example.org"), "example.org");
        assert_eq!(organisational_domain("mail.example.co.uk"), "example.co.uk");
        assert_eq!(organisational_domain("example.org."), "example.org");
        assert!(!aligned("co.uk", "example.co.uk"));
        assert!(aligned("@example.org", "x.example.org"));
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
            prop_assert_eq!(&parse_lenient(&decorated), &p);
            prop_assert_eq!(p.results.len(), parts.len());
            prop_assert!(p.authserv_id.eq_ignore_ascii_case(&id));
            for (r, ((m, res, k, v), ..)) in p.results.iter().zip(&parts) {
                prop_assert_eq!(&r.method, m);
                prop_assert_eq!(&r.result, res);
                prop_assert_eq!(r.prop(k).unwrap(), v.trim_matches('"'));
            }
        }

        /// Arbitrary text never panics the parser.
        #[test]
        fn any_text_parses_or_fails_cleanly(s in "\\PC{0,200}") {
            let _ = parse(&s);
            let lenient = parse_lenient(&s);
            prop_assert!(lenient.results.iter().all(|r| !r.method.is_empty()));
        }
    }
}
