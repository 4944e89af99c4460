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
    /// `Return-Path`: the envelope sender, as the delivering server wrote it (the topmost).
    ReturnPath,
}

impl TraceKind {
    /// The kind of a header by its name (any case), if it is a trace header.
    pub fn of(name: &str) -> Option<TraceKind> {
        const NAMES: [(&str, TraceKind); 8] = [
            ("received", TraceKind::Received),
            ("return-path", TraceKind::ReturnPath),
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
    /// For `Received`: the protocol (`with`), upper case: `ESMTPSA`, `LMTP`, `HTTPS`, ….
    pub with: Option<String>,
    /// For `Received`: the comments of its `from` clause, in order (`unknown [192.0.2.1]`,
    /// `Authenticated sender: anna@example.org`); never text of another clause.
    pub from_comments: Vec<String>,
    /// The field name was written oddly (white space before the colon): a header a server
    /// matching names exactly may not have recognised as the one it removes.
    pub odd_name: bool,
}

impl TraceHeader {
    /// A header of `kind` with its raw value; `Received` lines are read for their clauses.
    pub fn new(kind: TraceKind, raw_value: &str) -> TraceHeader {
        let value = unfold(raw_value);
        let mut header = TraceHeader {
            kind,
            value,
            by: None,
            from: None,
            with: None,
            from_comments: Vec::new(),
            odd_name: false,
        };
        if kind == TraceKind::Received {
            header.read_clauses();
        }
        header
    }

    /// For `Received`: a hop inside the receiving system, not a hand-over over SMTP: a
    /// delivery (`LMTP`, `LOCAL`) or an internal protocol (Exchange's `HTTPS`, `MAPI`).
    pub fn internal_hop(&self) -> bool {
        self.with
            .as_deref()
            .is_some_and(|w| ["LMTP", "LOCAL", "HTTP", "HTTPS", "MAPI"].contains(&w))
    }

    /// For `Received`: an SMTP session in which the client logged in (RFC 3848: `ESMTPA`,
    /// `ESMTPSA`, `UTF8SMTPA`, `UTF8SMTPSA`, …).
    pub fn authenticated_hop(&self) -> bool {
        self.with
            .as_deref()
            .is_some_and(|w| w.contains("SMTP") && w.ends_with('A'))
    }

    /// For `Received`: the host name it came from (the first word of `from`), lower case.
    pub fn from_host(&self) -> Option<String> {
        let from = self.from.as_deref()?;
        let host = from.split_whitespace().next()?;
        Some(host.trim_end_matches('.').to_ascii_lowercase())
    }

    /// The clauses of a `Received` line (RFC 5321 §4.4): `from HOST (COMMENT)…`, `by HOST`,
    /// `with PROTOCOL`, … before the `;` and its date. Comments may nest and hold anything;
    /// quoted strings and `<…>` (a recipient in the `for` clause) are taken whole, so no text
    /// inside them is read as a clause or a comment.
    fn read_clauses(&mut self) {
        let tokens = received_tokens(&self.value);
        let mut clause: Option<String> = None;
        let mut from_words: Vec<String> = Vec::new();
        for token in tokens {
            match token {
                Token::Date => break,
                Token::Word(w) => {
                    let keyword = w.to_ascii_lowercase();
                    let is_keyword =
                        ["from", "by", "via", "with", "id", "for"].contains(&keyword.as_str());
                    match clause.as_deref() {
                        _ if is_keyword && clause.as_deref() != Some(keyword.as_str()) => {
                            clause = Some(keyword);
                        }
                        Some("from") if from_words.is_empty() => from_words.push(w),
                        Some("by") if self.by.is_none() => {
                            self.by = Some(w.trim_end_matches('.').to_ascii_lowercase());
                        }
                        Some("with") if self.with.is_none() => {
                            self.with = Some(w.to_ascii_uppercase());
                        }
                        _ => {}
                    }
                }
                Token::Comment(c) => {
                    if clause.as_deref() == Some("from") {
                        self.from_comments.push(c);
                    }
                }
            }
        }
        if let Some(host) = from_words.first() {
            let mut line = host.clone();
            if let Some(c) = self.from_comments.first() {
                line.push_str(&format!(" ({c})"));
            }
            self.from = Some(line.chars().take(200).collect());
        }
    }
}

enum Token {
    Word(String),
    Comment(String),
    /// The `;` before the date: nothing after it is a clause.
    Date,
}

/// The words and comments of a `Received` value, quoted strings and `<…>` kept inside words.
fn received_tokens(s: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = s.chars().peekable();
    let flush = |word: &mut String, out: &mut Vec<Token>| {
        if !word.is_empty() {
            out.push(Token::Word(std::mem::take(word)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '(' => {
                flush(&mut word, &mut out);
                let mut depth = 1usize;
                let mut comment = String::new();
                while let Some(c) = chars.next() {
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
                                break;
                            }
                            comment.push(c);
                        }
                        _ => comment.push(c),
                    }
                }
                out.push(Token::Comment(comment.trim().to_string()));
            }
            '"' => {
                word.push(c);
                while let Some(c) = chars.next() {
                    word.push(c);
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                word.push(n);
                            }
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '<' => {
                word.push(c);
                let mut quoted = false;
                for c in chars.by_ref() {
                    word.push(c);
                    match c {
                        '"' => quoted = !quoted,
                        '>' if !quoted => break,
                        _ => {}
                    }
                }
            }
            ';' => {
                flush(&mut word, &mut out);
                out.push(Token::Date);
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    out
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
        assert_eq!(postfix.with.as_deref(), Some("ESMTP"));
        assert_eq!(
            postfix.from_comments,
            ["relay.bulk.example [127.0.0.5]".to_string()]
        );
        // Postfix with smtpd_sasl_authenticated_header = yes, and a recipient that carries the
        // same words in its quoted local part: only the from clause's comments are its own.
        let login = TraceHeader::new(
            TraceKind::Received,
            "from laptop.example.org (unknown [192.0.2.10]) (Authenticated sender: anna@example.org) by mx.example.org (Postfix) with ESMTPSA id C2C for <\"info+(Authenticated sender: pieter@example.org)\"@example.org>; Mon, 7 Dec 2026 10:31:30 +0000 (UTC)",
        );
        assert_eq!(login.with.as_deref(), Some("ESMTPSA"));
        assert_eq!(
            login.from_comments,
            [
                "unknown [192.0.2.10]".to_string(),
                "Authenticated sender: anna@example.org".to_string()
            ]
        );
        let planted = TraceHeader::new(
            TraceKind::Received,
            "from x.example (x [192.0.2.1]) by mx.example.org (Postfix) with ESMTP id 1 for <\"info+(Authenticated sender: anna@example.org)\"@example.org>; Mon, 7 Dec 2026",
        );
        assert_eq!(planted.from_comments, ["x [192.0.2.1]".to_string()]);
        assert_eq!(planted.by.as_deref(), Some("mx.example.org"));
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
