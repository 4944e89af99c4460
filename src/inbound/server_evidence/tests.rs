//! The sender-evidence rules over the header layouts platforms really write. Layouts marked
//! "as written by" follow the platforms' documentation or the real stacks in the test harness
//! (tests/authstack_headers.rs keeps those honest against the servers themselves).

use super::*;
use proptest::prelude::*;

fn from(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

/// A trace from `(name, value)` pairs, topmost first.
fn trace(headers: &[(&str, &str)]) -> Vec<TraceHeader> {
    headers
        .iter()
        .map(|(n, v)| TraceHeader::new(TraceKind::of(n).expect("a trace header"), v))
        .collect()
}

fn own() -> Receiver {
    Receiver::OwnServer {
        authserv_id: "mx.example.org".into(),
        layout: Layout::Milters,
    }
}

fn rspamd() -> Receiver {
    Receiver::OwnServer {
        authserv_id: "mx.example.org".into(),
        layout: Layout::Rspamd,
    }
}

const COMMITTEE: &str = "examencommissie@example.org";
const ANNA: &str = "anna@example.org";

/// Issue 19, item 1: three headers of the trusted server, one per milter; the newest says
/// DKIM passed for the bulk mailer's own domain, the next that DMARC failed for ours.
#[test]
fn a_dmarc_fail_below_the_newest_trusted_header_still_counts() {
    let t = trace(&[
        (
            "Received",
            "from mx.example.org by mx.example.org with LMTP id x; Mon, 7 Dec 2026 09:00:01 +0100",
        ),
        (
            "Authentication-Results",
            "mx.example.org; dkim=pass (2048-bit key) header.d=bulkmailer.example header.i=@bulkmailer.example",
        ),
        (
            "Authentication-Results",
            "mx.example.org; dmarc=fail (p=reject dis=none) header.from=example.org",
        ),
        (
            "Authentication-Results",
            "mx.example.org; spf=pass smtp.mailfrom=bounce.bulkmailer.example",
        ),
        (
            "Received",
            "from relay.bulkmailer.example (relay.bulkmailer.example [127.0.0.5]) by mx.example.org (Postfix) with ESMTP id 4F1; Mon, 7 Dec 2026 09:00:00 +0100",
        ),
    ]);
    let r = read(&t, &own(), &from(COMMITTEE));
    assert!(
        matches!(
            r.evidence(&from(COMMITTEE)),
            ServerEvidence::Contrary { .. }
        ),
        "{r:?}"
    );
    assert!(!r.vouches(&from(COMMITTEE)));
    assert_eq!(
        r.handed_in_by.as_deref(),
        Some("relay.bulkmailer.example (relay.bulkmailer.example [127.0.0.5])")
    );
    // Failures come first in what people see.
    assert!(r.results_for_people()[0].starts_with("dmarc=fail"));
}

#[test]
fn evidence_against_counts_from_any_header_evidence_for_only_from_the_receiver() {
    // A genuine pass from our server, and a failure somebody else wrote: not proven.
    let t = trace(&[
        (
            "Authentication-Results",
            "mx.example.org; dkim=pass header.d=example.org",
        ),
        (
            "Received",
            "from out.example.org (out.example.org [127.0.0.2]) by mx.example.org (Postfix); Mon, 7 Dec 2026",
        ),
        (
            "Authentication-Results",
            "other.example; dmarc=fail header.from=example.org",
        ),
    ]);
    assert!(matches!(
        read(&t, &own(), &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Contrary { .. }
    ));
    // A pass somebody else wrote never counts.
    let t = trace(&[
        (
            "Authentication-Results",
            "mx.example.org; spf=none smtp.mailfrom=x.example",
        ),
        (
            "Received",
            "from x.example (x.example [127.0.0.9]) by mx.example.org (Postfix); Mon, 7 Dec 2026",
        ),
        (
            "Authentication-Results",
            "other.example; dmarc=pass header.from=example.org",
        ),
        (
            "ARC-Authentication-Results",
            "i=1; mx.example.org; dmarc=pass header.from=example.org",
        ),
    ]);
    assert_eq!(
        read(&t, &own(), &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Neutral
    );
}

#[test]
fn a_header_with_the_trusted_id_from_before_the_mail_reached_us_never_counts() {
    // The forger's own header, below the line where our server took the mail in (and the
    // forger's own Received line below that).
    let t = trace(&[
        (
            "Authentication-Results",
            "mx.example.org; spf=none smtp.mailfrom=evil.example",
        ),
        (
            "Received",
            "from evil.example (evil.example [127.0.0.9]) by mx.example.org (Postfix); Mon, 7 Dec 2026",
        ),
        ("Received", "from laptop by evil.example; Mon, 7 Dec 2026"),
        (
            "Authentication-Results",
            "mx.example.org; dmarc=pass header.from=example.org",
        ),
    ]);
    assert_eq!(
        read(&t, &own(), &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Neutral
    );
}

#[test]
fn spf_pass_alone_proves_nothing_and_a_login_decides() {
    let t = trace(&[(
        "Authentication-Results",
        "mx.example.org; spf=pass smtp.mailfrom=example.org",
    )]);
    let r = read(&t, &own(), &from(ANNA));
    assert_eq!(r.evidence(&from(ANNA)), ServerEvidence::Neutral);
    assert!(!r.vouches(&from(ANNA)));
    let t = trace(&[
        (
            "Authentication-Results",
            "mx.example.org; auth=pass smtp.auth=pieter@example.org; dmarc=pass header.from=example.org",
        ),
        (
            "Received",
            "from laptop.example.org (unknown [192.0.2.10]) by mx.example.org (Postfix) with ESMTPSA id 1; Mon, 7 Dec 2026",
        ),
    ]);
    assert_eq!(
        read(&t, &own(), &from(COMMITTEE)).evidence(&from(COMMITTEE)),
        ServerEvidence::SmtpAuth {
            user: "pieter@example.org".into(),
            matches_from: false
        }
    );
}

#[test]
fn gmail_writes_header_i_and_its_header_counts_once() {
    // As Gmail writes it: the result below its own Received line, DKIM with header.i.
    let t = trace(&[
        (
            "ARC-Authentication-Results",
            "i=1; mx.google.com; dkim=pass header.i=@example.org header.s=google header.b=AbC; spf=pass (google.com: domain of anna@example.org designates 209.85.220.41 as permitted sender) smtp.mailfrom=anna@example.org; dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.org",
        ),
        (
            "Received",
            "from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS id a1sor; Mon, 07 Dec 2026 00:12:00 -0800 (PST)",
        ),
        (
            "Authentication-Results",
            "mx.google.com; dkim=pass header.i=@example.org header.s=google header.b=AbC; spf=pass (google.com: domain of anna@example.org designates 209.85.220.41 as permitted sender) smtp.mailfrom=anna@example.org; dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.org",
        ),
    ]);
    let r = read(&t, &Receiver::Google, &from(ANNA));
    assert_eq!(
        r.evidence(&from(ANNA)),
        ServerEvidence::Aligned { method: "dmarc" }
    );
    assert!(
        r.handed_in_by
            .unwrap()
            .starts_with("mail-sor-f41.google.com")
    );
    // A forger's "mx.google.com" header travels below Google's own: not counted.
    let forged = trace(&[
        (
            "Received",
            "from evil.example (evil.example [192.0.2.9]) by mx.google.com with ESMTPS id b2; Mon, 07 Dec 2026",
        ),
        (
            "Authentication-Results",
            "mx.google.com; spf=softfail (google.com: domain of transitioning x@evil.example does not designate 192.0.2.9 as permitted sender) smtp.mailfrom=x@evil.example",
        ),
        (
            "Authentication-Results",
            "mx.google.com; dmarc=pass header.from=example.org",
        ),
    ]);
    assert_eq!(
        read(&forged, &Receiver::Google, &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Neutral
    );
    // DMARC failing for our domain.
    let fail = trace(&[(
        "Authentication-Results",
        "mx.google.com; spf=pass (google.com: domain of b@bulk.example designates 192.0.2.1 as permitted sender) smtp.mailfrom=b@bulk.example; dmarc=fail (p=NONE sp=NONE dis=NONE) header.from=example.org",
    )]);
    assert!(matches!(
        read(&fail, &Receiver::Google, &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Contrary { .. }
    ));
}

#[test]
fn microsoft_365_is_read_in_its_own_syntax() {
    // Mail from inside the tenant: Exchange's organisation headers (which its header firewall
    // strips from mail arriving from outside).
    let internal = trace(&[
        (
            "Received",
            "from AM0PR02MB1234.eurprd02.prod.outlook.com (2603:10a6:208:1::1) by AM9PR02MB5678.eurprd02.prod.outlook.com with HTTPS; Mon, 7 Dec 2026 08:12:00 +0000",
        ),
        (
            "Authentication-Results",
            "dkim=none (message not signed) header.d=none;dmarc=none action=none header.from=example.org;",
        ),
        ("X-MS-Exchange-Organization-AuthAs", "Internal"),
        ("X-MS-Exchange-Organization-AuthMechanism", "04"),
        (
            "X-MS-Exchange-Organization-AuthSource",
            "AM0PR02MB1234.eurprd02.prod.outlook.com",
        ),
    ]);
    let r = read(&internal, &Receiver::Microsoft365, &from(ANNA));
    assert_eq!(r.evidence(&from(ANNA)), ServerEvidence::OrganisationLogin);
    // The same headers on another platform mean nothing.
    assert_eq!(
        read(&internal, &own(), &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Absent
    );
    // From outside, through a bulk mailer: composite authentication fails.
    let outside = trace(&[
        (
            "Authentication-Results",
            "spf=pass (sender IP is 192.0.2.7) smtp.mailfrom=bounce.bulk.example; dkim=pass (signature was verified) header.d=bulk.example;dmarc=fail action=oreject header.from=example.org;compauth=fail reason=000",
        ),
        (
            "Received",
            "from relay.bulk.example (192.0.2.7) by AM3PEPF0000A78E.mail.protection.outlook.com (10.167.16.117) with Microsoft SMTP Server id 15.20.8; Mon, 7 Dec 2026 08:12:00 +0000",
        ),
        ("X-MS-Exchange-Organization-AuthAs", "Anonymous"),
    ]);
    let r = read(&outside, &Receiver::Microsoft365, &from(COMMITTEE));
    assert!(matches!(
        r.evidence(&from(COMMITTEE)),
        ServerEvidence::Contrary { .. }
    ));
    assert!(r.handed_in_by.unwrap().starts_with("relay.bulk.example"));
    // bestguesspass (no DMARC record) is no proof; only the topmost header is Microsoft's.
    let guess = trace(&[
        (
            "Authentication-Results",
            "spf=pass (sender IP is 192.0.2.8) smtp.mailfrom=example.org; dkim=none (message not signed) header.d=none;dmarc=bestguesspass action=none header.from=example.org;compauth=pass reason=109",
        ),
        (
            "Authentication-Results",
            "spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org",
        ),
    ]);
    assert_eq!(
        read(&guess, &Receiver::Microsoft365, &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Neutral
    );
}

#[test]
fn an_unreadable_trusted_header_proves_nothing_but_its_failures_count() {
    let t = trace(&[(
        "Authentication-Results",
        "mx.example.org; dkim=pass header.d=example.org (unterminated",
    )]);
    assert_eq!(
        read(&t, &own(), &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Unreadable
    );
    let t = trace(&[(
        "Authentication-Results",
        "mx.example.org; dkim=pass header.d=example.org x; dmarc=fail header.from=example.org",
    )]);
    assert!(matches!(
        read(&t, &own(), &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Contrary { .. }
    ));
}

/// As stack B (rspamd) writes it: one header right below its entry line.
#[test]
fn rspamd_writes_one_header_below_its_entry_line() {
    let t = trace(&[
        (
            "Received",
            "from mx.example.org ([127.0.0.1]) by vm with LMTP id b2K; Mon, 07 Dec 2026 10:31:30 +0000",
        ),
        (
            "Received",
            "from out.bulkmailer.example.net (unknown [127.0.0.2]) by mx.example.org (Postfix) with ESMTP id 4F1; Mon, 7 Dec 2026 10:31:30 +0000",
        ),
        (
            "Authentication-Results",
            "mx.example.org; dkim=pass header.d=example.org header.s=s1 header.b=abc; dmarc=pass header.from=example.org (policy=reject); spf=pass smtp.mailfrom=bounce@example.org",
        ),
        (
            "ARC-Authentication-Results",
            "i=1; mx.example.org; dkim=pass header.d=example.org; dmarc=pass header.from=example.org",
        ),
    ]);
    assert_eq!(
        read(&t, &rspamd(), &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Aligned { method: "dmarc" }
    );
    // Read as milters, the same header came with the mail: it proves nothing.
    assert_eq!(
        read(&t, &own(), &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Absent
    );
    // Only the first one below the entry line, never one below another Received line.
    let t = trace(&[
        (
            "Received",
            "from evil.example (evil.example [192.0.2.9]) by mx.example.org (Postfix) with ESMTP id 4F2; Mon, 7 Dec 2026",
        ),
        ("Received", "from laptop by evil.example; Mon, 7 Dec 2026"),
        (
            "Authentication-Results",
            "mx.example.org; dmarc=pass header.from=example.org",
        ),
    ]);
    assert_eq!(
        read(&t, &rspamd(), &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Absent
    );
}

/// A forger can add lines that look like our server's entry line, but only below the real one.
#[test]
fn the_entry_line_is_the_topmost_one_from_another_host() {
    let t = trace(&[
        (
            "Received",
            "from mx.example.org ([127.0.0.1]) by mx.example.org with LMTP; Mon, 7 Dec 2026",
        ),
        (
            "Authentication-Results",
            "mx.example.org; spf=none smtp.mailfrom=evil.example",
        ),
        (
            "Received",
            "from evil.example (evil.example [192.0.2.9]) by mx.example.org (Postfix) with ESMTP; Mon, 7 Dec 2026",
        ),
        (
            "Authentication-Results",
            "mx.example.org; dmarc=pass header.from=example.org",
        ),
        (
            "Received",
            "from anything (Authenticated sender: anna@example.org) by mx.example.org (Postfix) with ESMTPSA; Mon, 7 Dec 2026",
        ),
    ]);
    let r = read(&t, &own(), &from(ANNA));
    assert_eq!(r.evidence(&from(ANNA)), ServerEvidence::Neutral);
    assert_eq!(r.login, None);
    assert!(r.handed_in_by.unwrap().starts_with("evil.example"));
}

/// Postfix with `smtpd_sasl_authenticated_header = yes` names the login in its entry line.
#[test]
fn an_authenticated_sender_in_our_entry_line_is_a_login() {
    let line = |who: &str| {
        format!(
            "from laptop.example.org (unknown [192.0.2.10]) (Authenticated sender: {who}) by mx.example.org (Postfix) with ESMTPSA id C2C; Mon, 7 Dec 2026"
        )
    };
    let anna = line(ANNA);
    let t = trace(&[("Received", anna.as_str())]);
    assert_eq!(
        read(&t, &own(), &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::SmtpAuth {
            user: ANNA.into(),
            matches_from: true
        }
    );
    assert!(matches!(
        read(&t, &own(), &from(COMMITTEE)).evidence(&from(COMMITTEE)),
        ServerEvidence::SmtpAuth {
            matches_from: false,
            ..
        }
    ));
    // Debian's OpenDMARC default (IgnoreAuthenticatedClients false) fails our own domain on
    // such mail: the failure outweighs the login (docs/sender-proof.md says what to set).
    let t = trace(&[
        (
            "Authentication-Results",
            "mx.example.org; dmarc=fail (p=reject dis=none) header.from=example.org",
        ),
        ("Received", anna.as_str()),
    ]);
    assert!(matches!(
        read(&t, &own(), &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Contrary { .. }
    ));
    // Only a server of our own says so in its Received line.
    assert_eq!(
        read(
            &[TraceHeader::new(
                TraceKind::Received,
                &line(ANNA).replace("mx.example.org", "mx.google.com")
            )],
            &Receiver::Google,
            &from(ANNA)
        )
        .login,
        None
    );
}

// ---- properties over any layout ----

/// A result: the ones that would prove the sender often, anything else besides.
fn result() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any_result(),
        1 => Just("dmarc=pass header.from=example.org".to_string()),
        1 => Just("dkim=pass header.d=example.org".to_string()),
        1 => Just("dkim=pass header.i=@example.org".to_string()),
        1 => Just("auth=pass smtp.auth=anna@example.org".to_string()),
    ]
}

fn any_result() -> impl Strategy<Value = String> {
    let domain = prop_oneof![
        Just("example.org"),
        Just("mail.example.org"),
        Just("bulk.example"),
        Just("evil.example")
    ];
    (
        prop_oneof![
            Just("dmarc"),
            Just("dkim"),
            Just("spf"),
            Just("auth"),
            Just("compauth"),
            Just("arc")
        ],
        prop_oneof![
            Just("pass"),
            Just("fail"),
            Just("softfail"),
            Just("none"),
            Just("quarantine"),
            Just("bestguesspass")
        ],
        prop_oneof![
            Just("header.from"),
            Just("header.d"),
            Just("header.i"),
            Just("smtp.mailfrom"),
            Just("smtp.auth")
        ],
        domain,
        prop_oneof![
            Just(""),
            Just(" (a comment; dkim=pass header.d=example.org)")
        ],
    )
        .prop_map(|(m, r, k, d, c)| {
            let v = if k == "smtp.auth" {
                format!("anna@{d}")
            } else if k == "header.i" {
                format!("@{d}")
            } else {
                d.to_string()
            };
            format!("{m}={r}{c} {k}={v}")
        })
}

fn results_header(id: &'static str) -> impl Strategy<Value = (String, String)> {
    (
        prop_oneof![
            Just("Authentication-Results"),
            Just("ARC-Authentication-Results"),
            Just("Authentication-Results-Original")
        ],
        proptest::collection::vec(result(), 0..4),
        prop_oneof![3 => Just(id), 1 => Just(""), 1 => Just("other.example")],
    )
        .prop_map(|(name, rs, id)| {
            let mut v = String::new();
            if name == "ARC-Authentication-Results" {
                v.push_str("i=1; ");
            }
            if !id.is_empty() {
                v.push_str(id);
            }
            for r in rs {
                if !v.is_empty() && !v.ends_with("; ") {
                    v.push_str("; ");
                }
                v.push_str(&r);
            }
            (name.to_string(), v)
        })
}

fn receiver() -> impl Strategy<Value = Receiver> {
    prop_oneof![
        Just(own()),
        Just(rspamd()),
        Just(Receiver::Google),
        Just(Receiver::Microsoft365),
        Just(Receiver::Untrusted)
    ]
}

fn id_of(r: &Receiver) -> &'static str {
    match r {
        Receiver::Google => "mx.google.com",
        Receiver::OwnServer { .. } => "mx.example.org",
        _ => "",
    }
}

fn by_of(r: &Receiver) -> &'static str {
    match r {
        Receiver::Google => "mx.google.com",
        Receiver::Microsoft365 => "am3pepf0000a78e.mail.protection.outlook.com",
        _ => "mx.example.org",
    }
}

fn proves(e: &ServerEvidence) -> bool {
    matches!(
        e,
        ServerEvidence::SmtpAuth {
            matches_from: true,
            ..
        } | ServerEvidence::OrganisationLogin
            | ServerEvidence::Aligned { .. }
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Whatever a sender put in the mail before it reached our receiver — any results
    /// headers, any ids, any Exchange headers — never turns a reading that does not prove the
    /// sender into one that does, and never removes a failure the receiver reported.
    #[test]
    fn what_the_sender_wrote_never_helps_the_sender(
        receiver in receiver(),
        first in proptest::collection::vec(result(), 0..3),
        more in proptest::collection::vec(results_header("mx.example.org"), 0..3),
        planted in proptest::collection::vec(
            prop_oneof![
                results_header("mx.example.org"),
                results_header("mx.google.com"),
                results_header(""),
                Just(("X-MS-Exchange-Organization-AuthAs".to_string(), "Internal".to_string())),
                Just(("Received".to_string(), "from laptop by evil.example; Mon, 7 Dec 2026".to_string())),
            ],
            1..5,
        ),
        from_addr in prop_oneof![Just(ANNA), Just(COMMITTEE), Just("anna@mail.example.org")],
    ) {
        let from = from(from_addr);
        let id = id_of(&receiver);
        // The receiver's own results header on top (a platform writes one for every mail
        // from outside), perhaps more of its own, then its Received line: the mail as the
        // receiver alone wrote it.
        let mut top = id.to_string();
        for r in &first {
            if !top.is_empty() {
                top.push_str("; ");
            }
            top.push_str(r);
        }
        let entry = (
            "Received".to_string(),
            format!("from relay.example (relay.example [192.0.2.1]) by {} with ESMTP; Mon, 7 Dec 2026", by_of(&receiver)),
        );
        let mut headers: Vec<(String, String)> = vec![("Authentication-Results".into(), top)];
        headers.extend(more.into_iter().map(|(n, v)| (n, v.replacen("mx.example.org", id, 1))));
        if receiver == rspamd() {
            // rspamd: its one header right below its entry line.
            headers.truncate(1);
            headers.insert(0, entry);
        } else {
            headers.push(entry);
        }
        let honest: Vec<TraceHeader> = headers
            .iter()
            .map(|(n, v)| TraceHeader::new(TraceKind::of(n).unwrap(), v))
            .collect();
        // What the sender planted travels below it (an Exchange header only when the
        // platform is not Microsoft's, whose header firewall removes them).
        let mut with_planted = honest.clone();
        for (n, v) in &planted {
            let kind = TraceKind::of(n).unwrap();
            if kind == TraceKind::ExchangeAuthAs && receiver == Receiver::Microsoft365 {
                continue;
            }
            // rspamd removes every Authentication-Results that arrived with the mail.
            if kind == TraceKind::AuthResults && receiver == rspamd() {
                continue;
            }
            with_planted.push(TraceHeader::new(kind, v));
        }
        let before = read(&honest, &receiver, &from);
        let after = read(&with_planted, &receiver, &from);
        if !proves(&before.evidence(&from)) {
            prop_assert!(!proves(&after.evidence(&from)), "{:?} → {:?}", before, after);
        }
        prop_assert!(after.failures.len() >= before.failures.len());
        prop_assert_eq!(&before.passes, &after.passes);
        prop_assert_eq!(&before.login, &after.login);
    }

    /// A failure for the From domain in any results header, wherever it sits, means the
    /// sender is not proven, whatever else the mail carries.
    #[test]
    fn any_failure_for_the_from_domain_outweighs_every_pass(
        receiver in receiver(),
        headers in proptest::collection::vec(results_header("mx.example.org"), 0..4),
        failure in prop_oneof![
            Just("dmarc=fail header.from=example.org"),
            Just("dmarc=quarantine header.from=example.org"),
            Just("compauth=fail reason=000 header.from=example.org"),
        ],
        at in 0usize..5,
        header_name in prop_oneof![Just("Authentication-Results"), Just("ARC-Authentication-Results")],
    ) {
        let id = id_of(&receiver);
        let mut t: Vec<TraceHeader> = headers
            .iter()
            .map(|(n, v)| TraceHeader::new(TraceKind::of(n).unwrap(), &v.replacen("mx.example.org", id, 1)))
            .collect();
        let value = if header_name == "ARC-Authentication-Results" {
            format!("i=1; {id}; {failure}")
        } else if id.is_empty() {
            failure.to_string()
        } else {
            format!("{id}; {failure}")
        };
        t.insert(at.min(t.len()), TraceHeader::new(TraceKind::of(header_name).unwrap(), &value));
        let from = from(ANNA);
        let r = read(&t, &receiver, &from);
        let e = r.evidence(&from);
        prop_assert!(!proves(&e), "{:?}", r);
        prop_assert!(!r.vouches(&from));
    }

    /// Any text in any trace header is read without panicking.
    #[test]
    fn any_text_is_read(
        values in proptest::collection::vec(("\\PC{0,120}", 0usize..7), 0..6),
        receiver in receiver(),
    ) {
        let kinds = [
            TraceKind::Received, TraceKind::AuthResults, TraceKind::ArcAuthResults,
            TraceKind::OriginalAuthResults, TraceKind::ExchangeAuthAs,
            TraceKind::ExchangeAuthSource, TraceKind::ExchangeAuthMechanism,
        ];
        let t: Vec<TraceHeader> = values.iter().map(|(v, k)| TraceHeader::new(kinds[*k], v)).collect();
        let r = read(&t, &receiver, &from(ANNA));
        let _ = r.evidence(&from(ANNA));
        let _ = r.results_for_people();
    }
}

// ---- what the real stacks delivered (tests/fixtures/authstack, made by the test harness) ----

/// Every mail the harness's real stacks delivered, read as the matching `own_server` setting
/// says: nothing a forger sent proves its sender; the staff member's own mail carries nothing
/// for or against (its token or login proves it); with Debian's OpenDMARC default the staff
/// member's own mail says dmarc=fail (docs/sender-proof.md: IgnoreAuthenticatedClients true).
#[test]
fn what_the_real_stacks_delivered() {
    fn fixture(path: &str) -> Vec<TraceHeader> {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/authstack")
            .join(path);
        let raw = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        crate::inbound::InboundMail::parse(&raw).unwrap().trace
    }
    #[derive(Debug, PartialEq)]
    enum Expect {
        Nothing,
        Against,
    }
    use Expect::*;
    let cases = [
        (
            "a/a-staff-submission.eml",
            Layout::Milters,
            "staff@example.org",
            Nothing,
        ),
        (
            "a/b-outside-relay.eml",
            Layout::Milters,
            "committee@example.org",
            Against,
        ),
        (
            "a/c-forged.eml",
            Layout::Milters,
            "staff@example.org",
            Against,
        ),
        (
            "a/d-forged-authres.eml",
            Layout::Milters,
            "staff@example.org",
            Against,
        ),
        (
            "a/e-mailing-list-arc.eml",
            Layout::Milters,
            "staff@example.org",
            Against,
        ),
        (
            "a-debian-defaults/a-staff-submission.eml",
            Layout::Milters,
            "staff@example.org",
            Against,
        ),
        (
            "a-debian-defaults/b-outside-relay.eml",
            Layout::Milters,
            "committee@example.org",
            Against,
        ),
        (
            "b/a-staff-submission.eml",
            Layout::Rspamd,
            "staff@example.org",
            Nothing,
        ),
        (
            "b/b-outside-relay.eml",
            Layout::Rspamd,
            "committee@example.org",
            Against,
        ),
        (
            "b/c-forged-org-envelope.eml",
            Layout::Rspamd,
            "staff@example.org",
            Against,
        ),
        (
            "b/c-forged.eml",
            Layout::Rspamd,
            "staff@example.org",
            Against,
        ),
        (
            "b/d-forged-authres.eml",
            Layout::Rspamd,
            "staff@example.org",
            Against,
        ),
        (
            "b/e-mailing-list-arc.eml",
            Layout::Rspamd,
            "staff@example.org",
            Against,
        ),
    ];
    for (path, layout, sender, expect) in cases {
        let receiver = Receiver::OwnServer {
            authserv_id: "mx.example.org".into(),
            layout,
        };
        let t = fixture(path);
        let sender = from(sender);
        let r = read(&t, &receiver, &sender);
        let e = r.evidence(&sender);
        assert!(!proves(&e), "{path}: {e:?}");
        assert!(r.passes.is_empty(), "{path}: {r:?}");
        match expect {
            Nothing => assert!(
                matches!(e, ServerEvidence::Absent | ServerEvidence::Neutral),
                "{path}: {e:?}"
            ),
            Against => assert!(
                matches!(e, ServerEvidence::Contrary { .. }),
                "{path}: {e:?}"
            ),
        }
        // The relay shown to people is the one that handed the mail to the server.
        let relay = r.handed_in_by.unwrap_or_default();
        let expected_relay = match path.split('/').nth(1).unwrap().chars().next() {
            Some('a') => "laptop.example.org",
            Some('b') => "out.bulkmailer.example.net",
            Some('c') | Some('d') => "forger.example.net",
            _ => "lists.example.com",
        };
        assert!(relay.contains(expected_relay), "{path}: {relay}");
    }
}

/// Text the sender controls, echoed by the server into a comment of its own header (the
/// envelope sender in policyd-spf's, rspamd's and Gmail's SPF comments), never writes a
/// result: the envelope sender or a value holding a comment-ending character makes the
/// server's headers unbelievable for that mail; what speaks against still counts.
#[test]
fn sender_text_echoed_into_the_servers_comment_never_proves() {
    let injected = "\"x);dmarc=pass header.from=example.org (x\"@forger.example.net";
    let t = trace(&[
        ("Return-Path", &format!("<{injected}>")),
        (
            "Authentication-Results",
            "mx.example.org; dmarc=none (p=none dis=none) header.from=example.org",
        ),
        (
            "Authentication-Results",
            &format!(
                "mx.example.org; spf=pass (sender SPF authorized) smtp.mailfrom=forger.example.net (client-ip=203.0.113.66; envelope-from={injected}; receiver=example.org)"
            ),
        ),
        (
            "Received",
            "from forger.example.net (unknown [203.0.113.66]) by mx.example.org (Postfix) with ESMTP id 9D2; Mon, 7 Dec 2026",
        ),
    ]);
    let r = read(&t, &own(), &from(ANNA));
    assert!(r.poisoned.is_some());
    assert_eq!(r.evidence(&from(ANNA)), ServerEvidence::Unreadable);
    // Without the Return-Path: the quoted envelope in a value gives it away (rspamd, Gmail).
    let t = trace(&[
        (
            "Received",
            "from forger.example.net (unknown [203.0.113.66]) by mx.example.org (Postfix) with ESMTP id 9D2; Mon, 7 Dec 2026",
        ),
        (
            "Authentication-Results",
            &format!(
                "mx.example.org; dkim=none; dmarc=none header.from=example.org; spf=pass (mx.example.org: domain of {injected} designates 203.0.113.66 as permitted sender) smtp.mailfrom={injected}"
            ),
        ),
    ]);
    assert_eq!(
        read(&t, &rspamd(), &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Unreadable
    );
    // Two DMARC verdicts in the server's own headers: one is not the server's.
    let t = trace(&[
        (
            "Authentication-Results",
            "mx.example.org; dmarc=none header.from=example.org",
        ),
        (
            "Authentication-Results",
            "mx.example.org; spf=pass smtp.mailfrom=forger.example.net; dmarc=pass header.from=example.org",
        ),
        (
            "Received",
            "from forger.example.net (unknown [203.0.113.66]) by mx.example.org (Postfix) with ESMTP id 9D2; Mon, 7 Dec 2026",
        ),
    ]);
    assert_eq!(
        read(&t, &own(), &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Unreadable
    );
    // A login reported for a session that was not authenticated.
    let t = trace(&[
        (
            "Authentication-Results",
            "mx.example.org; auth=pass smtp.auth=anna@example.org",
        ),
        (
            "Received",
            "from forger.example.net (unknown [203.0.113.66]) by mx.example.org (Postfix) with ESMTP id 9D2; Mon, 7 Dec 2026",
        ),
    ]);
    assert_eq!(
        read(&t, &own(), &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Unreadable
    );
    // A sending host whose given name no host can have (Postfix shows the rest as '?').
    let t = trace(&[
        (
            "Authentication-Results",
            "mx.example.org; dmarc=pass header.from=example.org",
        ),
        (
            "Received",
            "from x??dmarc=pass (unknown [203.0.113.66]) by mx.example.org (Postfix) with ESMTP id 9D2; Mon, 7 Dec 2026",
        ),
    ]);
    assert_eq!(
        read(&t, &own(), &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Unreadable
    );
}

/// The entry line is found by its protocol, never by the name the client gave: `HELO
/// localhost` does not make a hop from outside look like the server's own.
#[test]
fn a_client_calling_itself_localhost_is_still_the_entry_line() {
    let t = trace(&[
        (
            "Received",
            "from mx.example.org ([127.0.0.1]) by vm with LMTP id x; Mon, 7 Dec 2026",
        ),
        (
            "Authentication-Results",
            "mx.example.org; dmarc=none header.from=example.org",
        ),
        (
            "Received",
            "from localhost (unknown [203.0.113.66]) by mx.example.org (Postfix) with ESMTP id 9D2; Mon, 7 Dec 2026",
        ),
        (
            "Authentication-Results",
            "mx.example.org; dmarc=pass header.from=example.org",
        ),
        (
            "Received",
            "from laptop.example.org (unknown [198.51.100.10]) (Authenticated sender: anna@example.org) by mx.example.org (Postfix) with ESMTPSA id 1; Mon, 7 Dec 2026",
        ),
    ]);
    let r = read(&t, &own(), &from(ANNA));
    assert_eq!(r.login, None);
    assert_eq!(r.evidence(&from(ANNA)), ServerEvidence::Neutral);
    assert!(r.handed_in_by.unwrap().starts_with("localhost"));
}

/// Exchange's word counts only when every `AuthAs` says Internal and each is written so
/// the header firewall would have recognised it.
#[test]
fn one_exchange_auth_as_saying_anonymous_outweighs_any_saying_internal() {
    let mut odd = TraceHeader::new(TraceKind::ExchangeAuthAs, "Internal");
    odd.odd_name = true;
    let base = trace(&[(
        "Authentication-Results",
        "spf=none smtp.mailfrom=forger.example.net; dmarc=none action=none header.from=example.org",
    )]);
    let mut with_odd = base.clone();
    with_odd.push(odd);
    assert_eq!(
        read(&with_odd, &Receiver::Microsoft365, &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Neutral
    );
    let mut mixed = base.clone();
    mixed.push(TraceHeader::new(TraceKind::ExchangeAuthAs, "Anonymous"));
    mixed.push(TraceHeader::new(TraceKind::ExchangeAuthAs, "Internal"));
    assert_eq!(
        read(&mixed, &Receiver::Microsoft365, &from(ANNA)).evidence(&from(ANNA)),
        ServerEvidence::Neutral
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    /// Whatever envelope sender a forger chooses, echoed by the server into a comment of its
    /// own results header (and written as the Return-Path), the server's headers never prove
    /// a sender they did not prove before.
    #[test]
    fn no_envelope_sender_writes_a_result_into_the_servers_header(
        local in "[a-z();=\\. \"@-]{1,40}",
        receiver in prop_oneof![Just(own()), Just(rspamd()), Just(Receiver::Google)],
    ) {
        let id = id_of(&receiver);
        let envelope = format!("\"{local}\"@forger.example.net");
        let entry = format!("from forger.example.net (unknown [203.0.113.66]) by {} with ESMTP id 1; Mon, 7 Dec 2026", by_of(&receiver));
        let spf = format!("{id}; spf=pass (sender SPF authorized) smtp.mailfrom={envelope} (client-ip=203.0.113.66; envelope-from={envelope}); dmarc=none header.from=example.org");
        let mut t = vec![TraceHeader::new(TraceKind::ReturnPath, &format!("<{envelope}>"))];
        if receiver == rspamd() {
            t.push(TraceHeader::new(TraceKind::Received, &entry));
            t.push(TraceHeader::new(TraceKind::AuthResults, &spf));
        } else {
            t.push(TraceHeader::new(TraceKind::AuthResults, &spf));
            t.push(TraceHeader::new(TraceKind::Received, &entry));
        }
        let r = read(&t, &receiver, &from(ANNA));
        prop_assert!(!proves(&r.evidence(&from(ANNA))), "{:?}", r);
        prop_assert!(r.login.is_none());
    }
}
