//! What real sender-authentication stacks write into a mail (issue 19), pinned: every scenario
//! (a staff member's own mail, a forged From through a bulk mailer, forged mail straight to
//! port 25, a forged Authentication-Results, a mailing list with ARC) through stack A (Postfix +
//! OpenDKIM + OpenDMARC + postfix-policyd-spf-python) and stack B (Postfix + rspamd) as Debian 12
//! ships them, asserting on the headers as Dovecot stored them: which methods and results, which
//! authserv-ids, in which order relative to Postfix's `Received`, and what happened to headers the
//! sender put in. A Debian update that changes any of it fails here. docs/authstack.md explains
//! the facts; `scripts/authstack-fixtures` saves the delivered mails under
//! tests/fixtures/authstack/ for unit tests without servers.

mod common;

use common::authstack::{AUTHSERV_ID, AuthStack, FORGER_IP, Field, Setup, Stack, fields};

/// A plain mail (CRLF), with `extra` header lines (each ending in CRLF) on top.
fn mail(from: &str, to: &str, subject: &str, extra: &str) -> Vec<u8> {
    let id = subject.replace(' ', "-");
    format!(
        "{extra}From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Message-ID: <{id}@mail.example.org>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0100\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Geachte heer, mevrouw,\r\n\r\nDit is de tekst van {subject}.\r\n"
    )
    .into_bytes()
}

/// Headers a forger puts in: two with the receiving server's own authserv-id (one with a DKIM
/// result, one with DMARC only) and one with another id.
const FORGED_AUTHRES: &str = "Authentication-Results: mx.example.org; dmarc=pass (p=reject) \
     header.from=example.org\r\n\
     Authentication-Results: mx.example.org; dkim=pass header.d=example.org header.s=mail; \
     spf=pass smtp.mailfrom=example.org\r\n\
     Authentication-Results: other.example.net; dkim=pass header.d=example.org\r\n";

/// Saves a delivered mail as tests/fixtures/authstack/<dir>/<name> when the fixtures are being
/// regenerated (`scripts/authstack-fixtures` sets AUTHSTACK_WRITE_FIXTURES).
fn save(dir: &str, name: &str, bytes: &[u8]) {
    if std::env::var_os("AUTHSTACK_WRITE_FIXTURES").is_none_or(|v| v.is_empty()) {
        return;
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/authstack")
        .join(dir);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join(name), bytes).unwrap();
}

/// The scenarios' delivered mails (None: refused, with the server's reply).
struct Delivered {
    staff: Vec<u8>,
    relay: Vec<u8>,
    forged_org_envelope: Result<Vec<u8>, String>,
    forged: Vec<u8>,
    forged_authres: Vec<u8>,
    list: Vec<u8>,
}

/// Runs every scenario through `stack` and returns what Dovecot stored for info@example.org.
fn run_scenarios(stack: &AuthStack, fixtures: &str) -> Delivered {
    let info = "info@example.org";
    // (a) A staff member's own mail, submitted with SMTP AUTH.
    let raw = mail("Staff <staff@example.org>", info, "a staff", "");
    stack.submit("staff@example.org", &raw, &[info]).unwrap();
    let staff = stack.delivered(info, "a staff");
    // (b) The committee's From, through a bulk mailer signing with its own domain.
    let raw = mail(
        "Examencommissie <committee@example.org>",
        info,
        "b relay",
        "",
    );
    stack
        .send_via_bulk_mailer("bounce@bulkmailer.example.net", &raw, &[info])
        .unwrap();
    let relay = stack.delivered(info, "b relay");
    // (c) Forged, unsigned, straight to port 25 from an address outside the org's SPF: with the
    // organisation's own envelope sender, then with the forger's own domain (no SPF record).
    let raw = mail(
        "Staff <staff@example.org>",
        info,
        "c forged org envelope",
        "",
    );
    let forged_org_envelope = stack
        .send_direct(
            FORGER_IP,
            "forger.example.net",
            "staff@example.org",
            &raw,
            &[info],
        )
        .map(|()| stack.delivered(info, "c forged org envelope"));
    let raw = mail("Staff <staff@example.org>", info, "c forged", "");
    stack
        .send_direct(
            FORGER_IP,
            "forger.example.net",
            "x@forger.example.net",
            &raw,
            &[info],
        )
        .unwrap();
    let forged = stack.delivered(info, "c forged");
    // (d) Forged, with Authentication-Results headers of its own.
    let raw = mail(
        "Staff <staff@example.org>",
        info,
        "d forged authres",
        FORGED_AUTHRES,
    );
    stack
        .send_direct(
            FORGER_IP,
            "forger.example.net",
            "x@forger.example.net",
            &raw,
            &[info],
        )
        .unwrap();
    let forged_authres = stack.delivered(info, "d forged authres");
    // (e) A staff member's post to an outside mailing list, which sends it back to info@.
    let raw = mail(
        "Staff <staff@example.org>",
        common::authstack::LIST_ADDRESS,
        "e list",
        "",
    );
    stack.post_to_list("staff@example.org", &raw).unwrap();
    let list = stack.delivered(info, "[leden] e list");

    save(fixtures, "a-staff-submission.eml", &staff);
    save(fixtures, "b-outside-relay.eml", &relay);
    match &forged_org_envelope {
        Ok(m) => save(fixtures, "c-forged-org-envelope.eml", m),
        Err(reply) => save(
            fixtures,
            "c-forged-org-envelope.refused.txt",
            reply.as_bytes(),
        ),
    }
    save(fixtures, "c-forged.eml", &forged);
    save(fixtures, "d-forged-authres.eml", &forged_authres);
    save(fixtures, "e-mailing-list-arc.eml", &list);
    Delivered {
        staff,
        relay,
        forged_org_envelope,
        forged,
        forged_authres,
        list,
    }
}

/// Index of the first field named `name` whose value contains every one of `parts`.
fn find(f: &[Field], name: &str, parts: &[&str]) -> Option<usize> {
    f.iter()
        .position(|x| x.is(name) && parts.iter().all(|p| x.value.contains(p)))
}

/// Index of the receiving Postfix's own `Received` for the last hop (the topmost one it wrote).
fn postfix_received(f: &[Field]) -> usize {
    find(f, "Received", &["by mx.example.org (Postfix)"])
        .unwrap_or_else(|| panic!("no Received by the receiving Postfix in {f:#?}"))
}

/// The Authentication-Results fields, with their indexes.
fn authres(f: &[Field]) -> Vec<(usize, &Field)> {
    f.iter()
        .enumerate()
        .filter(|(_, x)| x.is("Authentication-Results"))
        .collect()
}

/// Every mail starts with what Dovecot's LMTP adds (Return-Path, Delivered-To, its Received);
/// returns the index of that Received (2).
fn lmtp_received(f: &[Field]) -> usize {
    assert!(f[0].is("Return-Path") && f[1].is("Delivered-To"), "{f:#?}");
    assert!(
        f[2].is("Received") && f[2].value.contains("with LMTP"),
        "then Dovecot's LMTP Received: {f:#?}"
    );
    2
}

#[test]
fn stack_a_opendkim_opendmarc_policyd_spf() {
    let stack = AuthStack::start(Stack::A);
    let d = run_scenarios(&stack, "a");

    // (a) Own mail: signed, and no Authentication-Results at all (OpenDMARC ignores SMTP AUTH
    // clients as administered; OpenDKIM signs instead of verifying; SPF is not asked).
    let f = fields(&d.staff);
    lmtp_received(&f);
    assert!(authres(&f).is_empty(), "{f:#?}");
    let rcvd = postfix_received(&f);
    assert!(f[rcvd].value.contains("with ESMTPA"), "{f:#?}");
    let sig = find(&f, "DKIM-Signature", &["d=example.org", "s=mail"]).expect("signed");
    assert!(
        sig < rcvd,
        "OpenDKIM's signature sits above Postfix's Received: {f:#?}"
    );

    // (b) Bulk mailer: three headers, one per checker, all above Postfix's Received, newest on
    // top: OpenDMARC, OpenDKIM, the SPF policy server.
    let f = fields(&d.relay);
    let lmtp = lmtp_received(&f);
    let rcvd = postfix_received(&f);
    assert!(f[rcvd].value.contains("[127.0.0.2]"), "{f:#?}");
    let ar = authres(&f);
    assert_eq!(ar.len(), 3, "{f:#?}");
    assert_eq!(
        ar.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![lmtp + 1, lmtp + 2, lmtp + 3],
        "right below the LMTP Received, above Postfix's: {f:#?}"
    );
    assert_eq!(rcvd, lmtp + 4, "{f:#?}");
    assert!(
        ar.iter().all(|(_, a)| a.authserv_id() == AUTHSERV_ID),
        "{ar:#?}"
    );
    let [dmarc, dkim, spf] = [ar[0].1, ar[1].1, ar[2].1];
    assert!(
        dmarc
            .value
            .contains("dmarc=fail (p=reject dis=none) header.from=example.org")
    );
    assert!(
        dkim.value
            .contains("dkim=pass (2048-bit key; unprotected) header.d=bulkmailer.example.net")
    );
    assert!(
        spf.value
            .contains("spf=pass (sender SPF authorized) smtp.mailfrom=bulkmailer.example.net")
    );

    // (c) The organisation's envelope from outside its SPF: refused at RCPT by the SPF policy
    // server (Debian's Mail_From_reject = Fail); nothing is delivered.
    let refused = d.forged_org_envelope.expect_err("refused by policyd-spf");
    assert!(
        refused.contains("550 5.7.23") && refused.contains("SPF fail"),
        "{refused}"
    );
    // With the forger's own envelope: delivered, dmarc=fail, spf=none, and no DKIM header at all
    // (OpenDKIM writes nothing for an unsigned mail).
    let f = fields(&d.forged);
    let ar = authres(&f);
    assert_eq!(ar.len(), 2, "{f:#?}");
    assert!(
        ar[0]
            .1
            .value
            .contains("dmarc=fail (p=reject dis=none) header.from=example.org")
    );
    assert!(
        ar[1]
            .1
            .value
            .contains("spf=none (no SPF record) smtp.mailfrom=forger.example.net")
    );
    assert!(ar.iter().all(|(i, _)| *i < postfix_received(&f)));

    // (d) Forged Authentication-Results: OpenDKIM removes the one with its own authserv-id and
    // a DKIM result; the DMARC-only one with that same id stays, as does the one with another
    // id -- both below Postfix's Received, where the sender put them.
    let f = fields(&d.forged_authres);
    let rcvd = postfix_received(&f);
    let ar = authres(&f);
    let own: Vec<_> = ar.iter().filter(|(i, _)| *i < rcvd).collect();
    let below: Vec<_> = ar.iter().filter(|(i, _)| *i > rcvd).collect();
    assert_eq!(own.len(), 2, "the stack's own (dmarc, spf): {f:#?}");
    assert!(own[0].1.value.contains("dmarc=fail"));
    assert_eq!(below.len(), 2, "{f:#?}");
    assert_eq!(
        below[0].1.value, "mx.example.org; dmarc=pass (p=reject) header.from=example.org",
        "the forged DMARC pass with the trusted id is still there"
    );
    assert_eq!(
        below[1].1.value,
        "other.example.net; dkim=pass header.d=example.org"
    );
    assert!(
        find(
            &f,
            "Authentication-Results",
            &["spf=pass smtp.mailfrom=example.org"]
        )
        .is_none()
    );

    // (e) Mailing list: the list broke the organisation's signature; the receiving server sees
    // dmarc=fail and does not evaluate ARC at all (no ARC milter in Debian 12: OpenARC is not
    // packaged). The list's ARC set and its own A-R (dmarc=pass) sit below Postfix's Received.
    let f = fields(&d.list);
    let rcvd = postfix_received(&f);
    assert!(f[rcvd].value.contains("[127.0.0.3]"), "{f:#?}");
    let ar = authres(&f);
    let own: Vec<_> = ar
        .iter()
        .filter(|(i, _)| *i < rcvd)
        .map(|(_, a)| *a)
        .collect();
    assert_eq!(own.len(), 3, "{f:#?}");
    assert!(own.iter().all(|a| a.authserv_id() == AUTHSERV_ID));
    assert!(
        own[0]
            .value
            .contains("dmarc=fail (p=reject dis=none) header.from=example.org")
    );
    assert!(
        own[1].value.contains("dkim=pass") && own[1].value.contains("header.d=lists.example.com")
    );
    assert!(
        own[1]
            .value
            .contains("dkim=fail reason=\"signature verification failed\"")
    );
    assert!(
        own[2]
            .value
            .contains("spf=pass (sender SPF authorized) smtp.mailfrom=lists.example.com")
    );
    let arc_result = |a: &Field| a.value.split(';').any(|r| r.trim().starts_with("arc="));
    assert!(
        !own.iter().any(|a| arc_result(a)),
        "no ARC result: {own:#?}"
    );
    let seal = find(&f, "ARC-Seal", &["i=1", "d=lists.example.com"]).expect("list's seal");
    let aar = find(
        &f,
        "ARC-Authentication-Results",
        &["i=1", "lists.example.com", "dmarc=pass"],
    )
    .expect("list's AAR");
    let list_ar = find(
        &f,
        "Authentication-Results",
        &["lists.example.com;", "dmarc=pass"],
    )
    .expect("the list's own A-R");
    assert!(seal > rcvd && aar > rcvd && list_ar > rcvd);
}

#[test]
fn stack_b_rspamd() {
    let stack = AuthStack::start(Stack::B);
    let d = run_scenarios(&stack, "b");

    // (a) Own mail: signed by rspamd, no Authentication-Results (skip_authenticated), no ARC;
    // rspamd's headers sit BELOW Postfix's Received.
    let f = fields(&d.staff);
    let lmtp = lmtp_received(&f);
    assert!(authres(&f).is_empty(), "{f:#?}");
    let rcvd = postfix_received(&f);
    assert_eq!(rcvd, lmtp + 1, "{f:#?}");
    assert!(f[rcvd].value.contains("with ESMTPA"));
    let sig = find(&f, "DKIM-Signature", &["d=example.org", "s=mail"]).expect("signed");
    assert_eq!(sig, rcvd + 1, "{f:#?}");
    assert!(find(&f, "ARC-Seal", &[]).is_none());

    // (b) Bulk mailer: one combined header right below Postfix's Received, then the server's own
    // ARC set (i=1, d=example.org) repeating the results as ARC-Authentication-Results.
    let f = fields(&d.relay);
    let rcvd = postfix_received(&f);
    assert_eq!(rcvd, lmtp_received(&f) + 1, "{f:#?}");
    let ar = authres(&f);
    assert_eq!(ar.len(), 1, "{f:#?}");
    let (i, a) = ar[0];
    assert_eq!(i, rcvd + 1);
    assert_eq!(a.authserv_id(), AUTHSERV_ID);
    assert!(
        a.value
            .contains("dkim=pass header.d=bulkmailer.example.net header.s=s1")
    );
    assert!(a.value.contains(
        "dmarc=fail reason=\"SPF not aligned (relaxed), DKIM not aligned (relaxed)\" \
         header.from=example.org (policy=reject)"
    ));
    assert!(
        a.value.contains("spf=pass")
            && a.value
                .contains("smtp.mailfrom=bounce@bulkmailer.example.net")
    );
    // The three ARC fields follow it, in an order that changes from mail to mail.
    let mut names: Vec<&str> = f[i + 1..i + 4].iter().map(|x| x.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "ARC-Authentication-Results",
            "ARC-Message-Signature",
            "ARC-Seal"
        ]
    );
    let aar = find(&f, "ARC-Authentication-Results", &[]).unwrap();
    assert!(f[aar].value.starts_with("i=1; mx.example.org;"));
    let seal = find(&f, "ARC-Seal", &[]).unwrap();
    assert!(f[seal].value.contains("d=example.org") && f[seal].value.contains("cv=none"));

    // (c) The organisation's envelope from outside its SPF: NOT refused (rspamd scores; the
    // total stays below its reject threshold); spf=fail, dmarc=fail, and X-Spam: Yes.
    let m = d.forged_org_envelope.expect("rspamd delivers it");
    let f = fields(&m);
    let ar = authres(&f);
    assert_eq!(ar.len(), 1, "{f:#?}");
    assert!(ar[0].1.value.contains("spf=fail"));
    assert!(
        ar[0]
            .1
            .value
            .contains("dmarc=fail reason=\"No valid SPF, No valid DKIM\"")
    );
    assert!(find(&f, "X-Spam", &["Yes"]).is_some(), "{f:#?}");
    // With the forger's own envelope: dkim=none, spf=none, dmarc=fail.
    let f = fields(&d.forged);
    let ar = authres(&f);
    assert_eq!(ar.len(), 1, "{f:#?}");
    assert!(ar[0].1.value.contains("dkim=none"));
    assert!(ar[0].1.value.contains("spf=none"));
    assert!(ar[0].1.value.contains(
        "dmarc=fail reason=\"No valid SPF, No valid DKIM\" header.from=example.org (policy=reject)"
    ));

    // (d) Forged Authentication-Results: rspamd removes EVERY Authentication-Results the mail
    // brought, whatever its authserv-id (milter_headers' `remove = 0` means "all").
    let f = fields(&d.forged_authres);
    let ar = authres(&f);
    assert_eq!(ar.len(), 1, "{f:#?}");
    assert!(ar[0].1.value.contains("dmarc=fail"));
    assert!(!f.iter().any(|x| x.value.contains("other.example.net")));

    // (e) Mailing list: dmarc=fail for the organisation, arc=pass for the list's seal, and a new
    // seal i=2 by the receiving server (cv=pass); the list's AAR (i=1, dmarc=pass) stays below.
    let f = fields(&d.list);
    let rcvd = postfix_received(&f);
    let ar = authres(&f);
    let own: Vec<_> = ar
        .iter()
        .filter(|(i, _)| *i < rcvd + 2)
        .map(|(_, a)| *a)
        .collect();
    assert_eq!(own.len(), 1, "{f:#?}");
    let a = own[0];
    assert!(a.value.contains("dkim=pass header.d=lists.example.com"));
    assert!(
        a.value
            .contains("dkim=fail (\"body hash did not verify\") header.d=example.org")
    );
    assert!(a.value.contains("dmarc=fail reason=\"SPF not aligned (relaxed), DKIM not aligned (relaxed)\" header.from=example.org (policy=reject)"));
    assert!(
        a.value
            .contains("arc=pass (\"lists.example.com:s=list:i=1\")")
    );
    assert!(find(&f, "ARC-Seal", &["i=2", "d=example.org", "cv=pass"]).is_some());
    let list_aar = find(
        &f,
        "ARC-Authentication-Results",
        &["i=1", "lists.example.com", "dmarc=pass"],
    )
    .expect("the list's AAR");
    assert!(list_aar > rcvd);
    // The list's own A-R (lists.example.com; dmarc=pass) arrived in the mail: removed too.
    assert!(
        !authres(&f)
            .iter()
            .any(|(_, a)| a.authserv_id() == "lists.example.com"),
        "{f:#?}"
    );
}

#[test]
fn stack_a_with_debian_defaults() {
    let stack = AuthStack::start_with(Stack::A, Setup::DebianDefaults);
    let info = "info@example.org";
    // A staff member's own mail, submitted with SMTP AUTH: OpenDMARC (IgnoreAuthenticatedClients
    // false) writes dmarc=fail for it -- with the trusted authserv-id.
    let raw = mail("Staff <staff@example.org>", info, "a staff", "");
    stack.submit("staff@example.org", &raw, &[info]).unwrap();
    let staff = stack.delivered(info, "a staff");
    let f = fields(&staff);
    let ar = authres(&f);
    assert_eq!(ar.len(), 1, "{f:#?}");
    assert_eq!(
        ar[0].1.value,
        "mx.example.org; dmarc=fail (p=reject dis=none) header.from=example.org"
    );
    // The bulk mailer: OpenDKIM's and OpenDMARC's authserv-id default to the MTA's name
    // (Postfix's myhostname); the SPF policy server writes Received-SPF, with no authserv-id.
    let raw = mail(
        "Examencommissie <committee@example.org>",
        info,
        "b relay",
        "",
    );
    stack
        .send_via_bulk_mailer("bounce@bulkmailer.example.net", &raw, &[info])
        .unwrap();
    let relay = stack.delivered(info, "b relay");
    let f = fields(&relay);
    let ar = authres(&f);
    assert_eq!(ar.len(), 2, "{f:#?}");
    assert!(ar.iter().all(|(_, a)| a.authserv_id() == AUTHSERV_ID));
    assert!(ar[0].1.value.contains("dmarc=fail"));
    assert!(ar[1].1.value.contains("dkim=pass"));
    let spf = find(
        &f,
        "Received-SPF",
        &["Pass (mailfrom)", "client-ip=127.0.0.2"],
    )
    .expect("Received-SPF");
    assert!(spf < postfix_received(&f));
    save("a-debian-defaults", "a-staff-submission.eml", &staff);
    save("a-debian-defaults", "b-outside-relay.eml", &relay);
}

#[test]
fn stack_b_with_debian_defaults() {
    let stack = AuthStack::start_with(Stack::B, Setup::DebianDefaults);
    let info = "info@example.org";
    // milter_headers `use = []`: rspamd checks everything and writes no Authentication-Results.
    let raw = mail(
        "Examencommissie <committee@example.org>",
        info,
        "b relay",
        "",
    );
    stack
        .send_via_bulk_mailer("bounce@bulkmailer.example.net", &raw, &[info])
        .unwrap();
    let relay = stack.delivered(info, "b relay");
    let f = fields(&relay);
    assert!(authres(&f).is_empty(), "{f:#?}");
    save("b-debian-defaults", "b-outside-relay.eml", &relay);
}
