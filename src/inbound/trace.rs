//! The trace a mail carries: its `Received` lines and every header in which a receiving
//! server reported what it checked (`Authentication-Results` and its ARC and Microsoft
//! variants, Exchange's organisation headers), kept in the order the mail has them — topmost,
//! that is newest, first — because *where* a header sits says who can have written it.

/// Which kind of trace header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceKind {
    /// `Received`.
    Received,
    /// `Authentication-Results` (RFC 8601).
    AuthResults,
    /// `ARC-Authentication-Results` (RFC 8617): what an earlier hop says it saw.
    ArcAuthResults,
    /// `Authentication-Results-Original`: Exchange Online's name for results another hop
    /// wrote before it.
    OriginalAuthResults,
    /// `X-MS-Exchange-Organization-AuthAs`: Exchange's word on how the sender was
    /// authenticated (`Internal`, `Anonymous`, `Partner`, …). Exchange's header firewall
    /// removes every `X-MS-Exchange-Organization-*` header from mail arriving from outside.
    ExchangeAuthAs,
    /// `X-MS-Exchange-Organization-AuthSource`: the Exchange server that authenticated it.
    ExchangeAuthSource,
    /// `X-MS-Exchange-Organization-AuthMechanism`: how (`04` a login, …).
    ExchangeAuthMechanism,
}

impl TraceKind {
    /// The kind of a header by its name (any case), if it is a trace header.
    pub fn of(name: &str) -> Option<TraceKind> {
        const NAMES: [(&str, TraceKind); 7] = [
            ("received", TraceKind::Received),
            ("authentication-results", TraceKind::AuthResults),
            ("arc-authentication-results", TraceKind::ArcAuthResults),
            (
                "authentication-results-original",
                TraceKind::OriginalAuthResults,
            ),
            (
                "x-ms-exchange-organization-authas",
                TraceKind::ExchangeAuthAs,
            ),
            (
                "x-ms-exchange-organization-authsource",
                TraceKind::ExchangeAuthSource,
            ),
            (
                "x-ms-exchange-organization-authmechanism",
                TraceKind::ExchangeAuthMechanism,
            ),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
            .map(|(_, k)| *k)
    }

    /// Whether a receiving server reports results in it.
    pub fn is_results(self) -> bool {
        matches!(
            self,
            TraceKind::AuthResults | TraceKind::ArcAuthResults | TraceKind::OriginalAuthResults
        )
    }
}

/// One trace header: its value unfolded (line breaks of folding replaced by a space).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    pub kind: TraceKind,
    pub value: String,
    /// For `Received`: the host that wrote it (`by`), lower case, when it names one.
    pub by: Option<String>,
    /// For `Received`: the host (and address) it came from, as one short line.
    pub from: Option<String>,
}

impl TraceHeader {
    /// For `Received`: the host name it came from (the first word of `from`), lower case.
    pub fn from_host(&self) -> Option<String> {
        let from = self.from.as_deref()?;
        let host = from.split_whitespace().next()?;
        Some(host.trim_end_matches('.').to_ascii_lowercase())
    }

    /// A header of `kind` with its raw value; `Received` lines are read for `from` and `by`.
    pub fn new(kind: TraceKind, raw_value: &str) -> TraceHeader {
        let value = unfold(raw_value);
        let (from, by) = match kind {
            TraceKind::Received => received_parts(&value),
            _ => (None, None),
        };
        TraceHeader {
            kind,
            value,
            by,
            from,
        }
    }
}

/// Folding undone, control characters dropped, runs of white space collapsed.
fn unfold(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut space = false;
    for c in raw.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out
}

/// `from` and `by` of a `Received` line (RFC 5321 §4.4): the clauses before the `;` and its
/// date. `from HOST (COMMENT)`, `by HOST (COMMENT)`; comments may nest and hold anything.
fn received_parts(value: &str) -> (Option<String>, Option<String>) {
    let clauses = value.rsplit_once(';').map_or(value, |(c, _)| c);
    let tokens = tokens_outside_comments(clauses);
    let mut from = None;
    let mut by = None;
    let mut i = 0;
    while i < tokens.len() {
        let (word, _) = &tokens[i];
        let next = tokens.get(i + 1);
        if word.eq_ignore_ascii_case("from")
            && let Some((host, comment)) = next
        {
            let mut line = host.clone();
            if let Some(c) = comment {
                line.push_str(&format!(" ({c})"));
            }
            from = Some(line.chars().take(200).collect());
            i += 2;
            continue;
        }
        if word.eq_ignore_ascii_case("by")
            && let Some((host, _)) = next
        {
            by = Some(host.trim_end_matches('.').to_ascii_lowercase());
            i += 2;
            continue;
        }
        i += 1;
    }
    (from, by)
}

/// The words of `s` outside comments, each with the comment that follows it (if any).
fn tokens_outside_comments(s: &str) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    let mut word = String::new();
    let mut comment = String::new();
    let mut depth = 0usize;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if depth > 0 {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        comment.push(n);
                    }
                }
                '(' => {
                    depth += 1;
                    comment.push(c);
                }
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        let text = std::mem::take(&mut comment).trim().to_string();
                        if let Some(last) = out.last_mut()
                            && last.1.is_none()
                        {
                            last.1 = Some(text);
                        }
                    } else {
                        comment.push(c);
                    }
                }
                _ => comment.push(c),
            }
            continue;
        }
        match c {
            '(' => {
                if !word.is_empty() {
                    out.push((std::mem::take(&mut word), None));
                }
                depth = 1;
            }
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    out.push((std::mem::take(&mut word), None));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push((word, None));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_from_and_by_of_the_lines_servers_write() {
        let postfix = TraceHeader::new(
            TraceKind::Received,
            "from relay.bulk.example (relay.bulk.example [127.0.0.5])\r\n\tby mx.example.org (Postfix) with ESMTP id 4F1C2A0;\r\n\tMon,  7 Dec 2026 09:12:00 +0100 (CET)",
        );
        assert_eq!(postfix.by.as_deref(), Some("mx.example.org"));
        assert_eq!(
            postfix.from.as_deref(),
            Some("relay.bulk.example (relay.bulk.example [127.0.0.5])")
        );
        let google = TraceHeader::new(
            TraceKind::Received,
            "from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS id a1sor123;        Mon, 07 Dec 2026 00:12:00 -0800 (PST)",
        );
        assert_eq!(google.by.as_deref(), Some("mx.google.com"));
        let microsoft = TraceHeader::new(
            TraceKind::Received,
            "from AM0PR02MB1234.eurprd02.prod.outlook.com (2603:10a6:208:1::1) by AM9PR02MB5678.eurprd02.prod.outlook.com with HTTPS; Mon, 7 Dec 2026 08:12:00 +0000",
        );
        assert_eq!(
            microsoft.by.as_deref(),
            Some("am9pr02mb5678.eurprd02.prod.outlook.com")
        );
        // A comment can say anything, "by" included; it never counts.
        let sneaky = TraceHeader::new(
            TraceKind::Received,
            "from evil.example (helo by mx.example.org) by relay.evil.example; Mon, 7 Dec 2026",
        );
        assert_eq!(sneaky.by.as_deref(), Some("relay.evil.example"));
    }

    #[test]
    fn names_are_matched_in_any_case() {
        assert_eq!(
            TraceKind::of("X-MS-Exchange-Organization-AuthAs"),
            Some(TraceKind::ExchangeAuthAs)
        );
        assert_eq!(
            TraceKind::of("arc-authentication-results"),
            Some(TraceKind::ArcAuthResults)
        );
        assert_eq!(TraceKind::of("X-Authentication-Results"), None);
    }

    proptest! {
        #[test]
        fn any_text_is_read_without_panicking(s in "\\PC{0,300}") {
            let h = TraceHeader::new(TraceKind::Received, &s);
            prop_assert!(h.from.as_ref().is_none_or(|f| f.chars().count() <= 200));
        }
    }
}
