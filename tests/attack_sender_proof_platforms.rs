//! Outside review of issue 19's promise, on every platform setting: "A forged From header
//! alone never changes a case: a mail in the name of a staff member, the director or the exam
//! committee changes a case (cause, solution, agreement, closing, a verdict, a reaction to the
//! complainant, a note in their name) only when the real sender sent it; and klachtd never
//! writes more than 5 mails a day to a role address because of mail in its name that proves
//! nothing."
//!
//! Written from the documentation only (README, docs/sender-proof.md, docs/authstack.md), as a
//! stranger, a complainant (who gets klachtd's mail to them) or a colleague (who gets their own
//! mail, not other people's). Each test is one attack; its doc comment says the attack and the
//! outcome. An attack that breaks the promise asserts the promised behaviour and is ignored
//! with `BREAKS: …` so the suite stays green until it is fixed.
//!
//! Header layouts are those docs/authstack.md measured (stack A: Postfix + OpenDKIM +
//! OpenDMARC + policyd-spf with `Header_Type = AR`; stack B: Postfix + rspamd) and those
//! tests/fixtures/platforms documents (Microsoft 365, Google Workspace), with the receiving
//! server called `mail.example.org` as in tests/common/run.rs.

mod common;

use chrono::Duration;
use common::run::*;
use common::world::World;
use klachtd::domain::CaseRef;
use klachtd::store::cases;
use klachtd::store::outbox::{OutboxKind, QueuedMail};
use mail_parser::MessageParser;

const COMMITTEE: &str = "examencommissie@example.org";
const DIRECTOR: &str = "directie@example.org";
const ROLES: [&str; 4] = [ANNA, PIETER, DIRECTOR, COMMITTEE];

// ---------------------------------------------------------------- helpers

fn message_id(m: &QueuedMail) -> String {
    MessageParser::default()
        .parse(&m.raw)
        .unwrap()
        .message_id()
        .unwrap()
        .to_string()
}

fn reply_to(m: &QueuedMail) -> String {
    MessageParser::default()
        .parse(&m.raw)
        .unwrap()
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address.as_deref())
        .unwrap()
        .to_string()
}

fn run_with(extra: &[(&str, &str)]) -> Run {
    let mut env: Vec<(&str, &str)> = vec![
        (
            "KLACHTD__ROLES__STAFF",
            "anna.devries@example.org,pieter.bakker@example.org",
        ),
        ("KLACHTD__ROLES__DIRECTOR", DIRECTOR),
        ("KLACHTD__ROLES__COMMITTEE", COMMITTEE),
    ];
    env.extend_from_slice(extra);
    Run::in_world(World::with_env(&env))
}

/// Own server, stack A (milters), the documented settings.
fn milters() -> Run {
    run_with(&[
        ("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", "mail.example.org"),
        ("KLACHTD__SECURITY__OWN_SERVER", "milters"),
    ])
}

/// Own server, stack B (rspamd), the documented settings.
fn rspamd() -> Run {
    run_with(&[
        ("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", "mail.example.org"),
        ("KLACHTD__SECURITY__OWN_SERVER", "rspamd"),
    ])
}

fn platform(p: &str) -> Run {
    run_with(&[("KLACHTD__SECURITY__PLATFORM", p)])
}

/// The fields the promise protects, and the number of letters to the complainant.
fn snapshot(r: &Run, case: CaseRef) -> String {
    format!(
        "{} letters to the complainant: {}",
        fields(r, case),
        letters_to_complainant(r)
    )
}

/// The fields the promise protects on one case.
fn fields(r: &Run, case: CaseRef) -> String {
    let c = cases::get(r.store.conn(), case).unwrap().unwrap();
    format!(
        "{:?}",
        (
            c.status,
            c.handler,
            c.cause,
            c.solution,
            c.agreement,
            c.verdict,
            c.closing_due,
            c.category,
            c.measure,
        )
    )
}

fn letters_to_complainant(r: &Run) -> usize {
    [
        OutboxKind::Reaction,
        OutboxKind::ClosingLetter,
        OutboxKind::VerdictLetter,
        OutboxKind::ExtensionNotice,
    ]
    .iter()
    .map(|k| r.count(*k, KLAGER))
    .sum()
}

/// Notes (or any event) stored in `who`'s name that are not marked as held.
fn unmarked_events_by(r: &Run, case: CaseRef, who: &str) -> Vec<(String, String)> {
    let id = cases::get(r.store.conn(), case).unwrap().unwrap().id;
    cases::events(r.store.conn(), id)
        .unwrap()
        .into_iter()
        .filter(|e| e.actor.as_deref() == Some(who))
        .filter(|e| e.kind != "held")
        // Recorded as not proven, with its origin (a colleague the case concerns: issue 25).
        .filter(|e| !(e.detail.contains("niet bewezen") && e.detail.contains("Herkomst")))
        .map(|e| (e.kind, e.detail))
        .collect()
}

fn mails_to(r: &Run, since: usize, who: &str) -> Vec<String> {
    r.outbox()[since..]
        .iter()
        .filter(|m| m.recipients.iter().any(|a| a == who))
        .map(|m| format!("{:?}: {}", m.kind, subject(m)))
        .collect()
}

/// A complaint taken to appeal by Pieter through his own token (works everywhere).
fn appealed(r: &mut Run) -> CaseRef {
    let case = r.complaint(KLAGER);
    let notification = r.newest(OutboxKind::StaffNotification, PIETER);
    for body in [
        "Behandelaar: pieter.bakker@example.org\nOorzaak: x\nOplossing: y\nAkkoord: nee\nAfgehandeld",
        "Beroep: klager gaat in beroep",
    ] {
        r.take(reply(&notification, PIETER, "", body));
    }
    assert_eq!(r.status(case), "appealed");
    case
}

/// What stack A (Postfix + OpenDKIM + OpenDMARC + policyd-spf, `Header_Type = AR`) writes
/// for mail from an outside host, as docs/authstack.md measured it (fixture a/c-forged.eml):
/// Dovecot's LMTP line, OpenDMARC's and policyd-spf's headers, then Postfix's entry line.
/// `dmarc` is OpenDMARC's result text, `envelope` the SMTP envelope sender, `helo` the name
/// the client gave, `rdns` the client's (forward-confirmed) reverse name or "unknown",
/// `rcpt` the recipient of the `for` clause.
fn stack_a(dmarc: &str, envelope: &str, helo: &str, rdns: &str, rcpt: &str) -> String {
    let domain = envelope.rsplit('@').next().unwrap();
    format!(
        "Return-Path: <{envelope}>\r\nDelivered-To: info@example.org\r\n\
         Received: from mail.example.org ([127.0.0.1])\r\n\tby vm with LMTP\r\n\tid cEYdJwOLFmvfJgAAg+zDdQ\r\n\t(envelope-from <{envelope}>)\r\n\tfor <info@example.org>; Mon, 07 Dec 2026 10:31:31 +0000\r\n\
         Authentication-Results: mail.example.org; {dmarc}\r\n\
         Authentication-Results: mail.example.org; spf=pass (sender SPF authorized) smtp.mailfrom={domain} (client-ip=203.0.113.66; helo={helo}; envelope-from={envelope}; receiver=example.org)\r\n\
         Received: from {helo} ({rdns} [203.0.113.66])\r\n\tby mail.example.org (Postfix) with ESMTP id 9D2169905BA\r\n\tfor <{rcpt}>; Mon,  7 Dec 2026 10:31:31 +0000 (UTC)\r\n"
    )
}

/// OpenDMARC's header for a domain without a DMARC record.
const DMARC_NONE: &str = "dmarc=none (p=none dis=none) header.from=example.org";
/// OpenDMARC's header for a forgery of a domain that publishes p=reject.
const DMARC_FAIL: &str = "dmarc=fail (p=reject dis=none) header.from=example.org";

fn body_mail(headers: &str, from: &str, subject: &str, id: &str, body: &str) -> String {
    format!(
        "{headers}From: {from}\r\nTo: info@example.org\r\nSubject: {subject}\r\n\
         Message-ID: <{id}>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

/// The stranger's goal on a case: cause set and the case closed, with a closing letter.
const CLOSE_IT: &str = "Behandelaar: anna.devries@example.org\nOorzaak: vervalst\nOplossing: niets\nAkkoord: ja\nAfgehandeld";

/// Asserts the forgery changed nothing on `case` and stored nothing in `who`'s name.
fn assert_unchanged(r: &Run, case: CaseRef, before: &str, who: &str) {
    assert_eq!(
        snapshot(r, case),
        before,
        "the case changed or a letter went out"
    );
    let unmarked = unmarked_events_by(r, case, who);
    assert!(unmarked.is_empty(), "stored in {who}'s name: {unmarked:?}");
}

// ------------------------------------------------ own server, stack A (milters)

/// Attack: policyd-spf (`Header_Type = AR`) writes the envelope sender unescaped into a
/// comment of its Authentication-Results (`(client-ip=…; envelope-from=<sender>; …)`, see
/// docs/authstack.md and python3-authres, which never escapes comments). A stranger sends from
/// their own domain (SPF pass) with the envelope sender
/// `"x);dmarc=pass header.from=example.org (x"@forger.example.net` — a legal quoted local part
/// — so the comment closes early and the trusted header, above the entry line, reads
/// `…; dmarc=pass header.from=example.org (…)` per RFC 8601. The organisation publishes no
/// DMARC record (OpenDMARC: `dmarc=none`), nothing speaks against the From domain.
/// Outcome: BROKEN — a `)` in the envelope sender ends policyd-spf's comment; the injected
/// `dmarc=pass` in the trusted header proves the forged From (no DMARC record).
#[test]
fn policyd_spf_comment_injection_of_dmarc_pass_via_the_envelope_sender() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    let envelope = "x);dmarc=pass header.from=example.org (x@forger.example.net";
    r.take(body_mail(
        &stack_a(
            DMARC_NONE,
            envelope,
            "forger.example.net",
            "unknown",
            "info@example.org",
        ),
        &format!("Anna de Vries <{ANNA}>"),
        &format!("RE: {} notitie", case.tag()),
        "inj-1@forger.example.net",
        CLOSE_IT,
    ));
    assert_unchanged(&r, case, &before, ANNA);
    assert_eq!(r.events(case, "held").len(), 1);
}

/// Attack: as above, but the injected result is an aligned DKIM pass
/// (`;dkim=pass header.d=example.org (`), the other kind of proof rule 6 accepts.
/// Outcome: BROKEN — a `)` in the envelope sender ends policyd-spf's comment; the injected aligned
/// `dkim=pass` in the trusted header proves the forged From.
#[test]
fn policyd_spf_comment_injection_of_aligned_dkim_pass_via_the_envelope_sender() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    let envelope = "x);dkim=pass header.d=example.org header.i=@example.org (x@forger.example.net";
    r.take(body_mail(
        &stack_a(
            DMARC_NONE,
            envelope,
            "forger.example.net",
            "unknown",
            "info@example.org",
        ),
        &format!("Anna de Vries <{ANNA}>"),
        &format!("RE: {} notitie", case.tag()),
        "inj-2@forger.example.net",
        CLOSE_IT,
    ));
    assert_unchanged(&r, case, &before, ANNA);
}

/// Attack: the same comment injection carrying a login (`;auth=pass smtp.auth=anna…`), which
/// rule 3 says "alone decides". Outcome: BROKEN — a `)` in the envelope sender ends policyd-spf's
/// comment; the injected `auth=pass smtp.auth=anna` is taken as her login.
#[test]
fn policyd_spf_comment_injection_of_a_login_via_the_envelope_sender() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    let envelope = "x);auth=pass smtp.auth=anna.devries@example.org (x@forger.example.net";
    r.take(body_mail(
        &stack_a(
            DMARC_NONE,
            envelope,
            "forger.example.net",
            "unknown",
            "info@example.org",
        ),
        &format!("Anna de Vries <{ANNA}>"),
        &format!("RE: {} notitie", case.tag()),
        "inj-3@forger.example.net",
        CLOSE_IT,
    ));
    assert_unchanged(&r, case, &before, ANNA);
}

/// Control for the injections: with DMARC published, OpenDMARC's `dmarc=fail` outweighs the
/// injected pass (rule 4). Holds.
#[test]
fn policyd_spf_comment_injection_is_outweighed_by_dmarc_fail_when_dmarc_is_published() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    let envelope = "x);dmarc=pass header.from=example.org (x@forger.example.net";
    r.take(body_mail(
        &stack_a(
            DMARC_FAIL,
            envelope,
            "forger.example.net",
            "unknown",
            "info@example.org",
        ),
        &format!("Anna de Vries <{ANNA}>"),
        &format!("RE: {} notitie", case.tag()),
        "inj-4@forger.example.net",
        CLOSE_IT,
    ));
    assert_unchanged(&r, case, &before, ANNA);
}

/// Attack: the client says `HELO localhost` (Postfix keeps it: only ` <>()\";@` are
/// neutered), so the real entry line reads `Received: from localhost (unknown [203.0.113.66])
/// by mail.example.org`, which looks like "a content filter handing back on localhost" that
/// the entry-line search skips. Below it the stranger planted a Received line "by
/// mail.example.org" from another host with `(Authenticated sender: anna…)` and above that a
/// `mail.example.org; dmarc=pass` (OpenDMARC removes neither). No DMARC record.
/// Outcome: BROKEN — `HELO localhost` makes the real entry line look like a local hand-back; a
/// planted Received with `(Authenticated sender: anna)` and a planted dmarc=pass below it then
/// count.
#[test]
fn helo_localhost_makes_a_planted_entry_line_and_planted_results_count() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    let planted = "Authentication-Results: mail.example.org; dmarc=pass (p=none dis=none) header.from=example.org\r\n\
         Received: from laptop.example.org (laptop.example.org [198.51.100.10])\r\n\t(Authenticated sender: anna.devries@example.org)\r\n\tby mail.example.org (Postfix) with ESMTPSA id 11111111\r\n\tfor <info@example.org>; Mon,  7 Dec 2026 10:30:00 +0000 (UTC)\r\n";
    let headers = stack_a(
        DMARC_NONE,
        "x@forger.example.net",
        "localhost",
        "unknown",
        "info@example.org",
    ) + planted;
    r.take(body_mail(
        &headers,
        &format!("Anna de Vries <{ANNA}>"),
        &format!("RE: {} notitie", case.tag()),
        "helo-1@forger.example.net",
        CLOSE_IT,
    ));
    assert_unchanged(&r, case, &before, ANNA);
}

/// Attack: as above with `HELO [127.0.0.1]` and a reverse name `localhost.forger.example.net`
/// (forward-confirmed by the forger's own DNS): the entry line is
/// `from [127.0.0.1] (localhost.forger.example.net [203.0.113.66])`.
/// Outcome: held — the real entry line is found; the planted one below does not count.
#[test]
fn helo_address_literal_127_0_0_1_makes_a_planted_entry_line_count() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    let planted = "Authentication-Results: mail.example.org; dmarc=pass (p=none dis=none) header.from=example.org\r\n\
         Received: from laptop.example.org (laptop.example.org [198.51.100.10])\r\n\t(Authenticated sender: anna.devries@example.org)\r\n\tby mail.example.org (Postfix) with ESMTPSA id 11111111\r\n\tfor <info@example.org>; Mon,  7 Dec 2026 10:30:00 +0000 (UTC)\r\n";
    let headers = stack_a(
        DMARC_NONE,
        "x@forger.example.net",
        "[127.0.0.1]",
        "localhost.forger.example.net",
        "info@example.org",
    ) + planted;
    r.take(body_mail(
        &headers,
        &format!("Anna de Vries <{ANNA}>"),
        &format!("RE: {} notitie", case.tag()),
        "helo-2@forger.example.net",
        CLOSE_IT,
    ));
    assert_unchanged(&r, case, &before, ANNA);
}

/// Attack: the recipient is the forger's to choose (info+anything@ is delivered to info@), and
/// Postfix writes it into the entry line's `for <…>` clause. RCPT TO
/// `<"info+(Authenticated sender: anna.devries@example.org)"@example.org>` puts the words of a
/// login into the one line klachtd reads logins from. No DMARC record.
/// Outcome: BROKEN — `(Authenticated sender: anna)` inside the quoted recipient of the entry line's
/// `for <…>` clause is read as a login.
#[test]
fn authenticated_sender_text_in_the_for_clause_of_the_entry_line_is_no_login() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    // Postfix writes the recipient with quote_822_local (smtpd.c), so quoted.
    for (i, rcpt) in ["\"info+(Authenticated sender: anna.devries@example.org)\"@example.org"]
        .iter()
        .enumerate()
    {
        r.take(body_mail(
            &stack_a(
                DMARC_NONE,
                "x@forger.example.net",
                "forger.example.net",
                "unknown",
                rcpt,
            ),
            &format!("Anna de Vries <{ANNA}>"),
            &format!("RE: {} notitie", case.tag()),
            &format!("for-{i}@forger.example.net"),
            CLOSE_IT,
        ));
    }
    assert_unchanged(&r, case, &before, ANNA);
}

/// Attack: From with two mailboxes in one header, the forger's own first (which OpenDMARC
/// evaluates, and which passes: the forger's own domain) and Anna's second; the trusted server
/// says `dmarc=pass header.from=forger.example.net`. Outcome: held — none of the three layouts
/// proves Anna.
#[test]
fn two_mailboxes_in_one_from_header_never_borrow_the_first_ones_pass() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    for (i, from) in [
        format!("Evil <x@forger.example.net>, Anna <{ANNA}>"),
        format!("Anna <{ANNA}>, Evil <x@forger.example.net>"),
        format!("team: x@forger.example.net, {ANNA};"),
    ]
    .iter()
    .enumerate()
    {
        r.take(body_mail(
            &stack_a(
                "dmarc=pass (p=reject dis=none) header.from=forger.example.net",
                "x@forger.example.net",
                "forger.example.net",
                "unknown",
                "info@example.org",
            ),
            from,
            &format!("RE: {} notitie", case.tag()),
            &format!("two-{i}@forger.example.net"),
            CLOSE_IT,
        ));
    }
    assert_unchanged(&r, case, &before, ANNA);
}

/// Attack: a From whose address klachtd may decode from an encoded-word while the forger's
/// own address is what OpenDMARC evaluates (`dmarc=pass header.from=forger.example.net`).
/// Outcome: held — no spelling changes the case or stores anything in Anna's name.
#[test]
fn an_encoded_word_from_never_borrows_another_domains_pass() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    for (i, from) in [
        "=?utf-8?q?anna.devries=40example.org?= <x@forger.example.net>".to_string(),
        "=?utf-8?q?anna.devries@example.org?=".to_string(),
        format!("=?utf-8?b?{}?=", "YW5uYS5kZXZyaWVzQGV4YW1wbGUub3Jn"),
        "\"anna.devries@example.org\" <x@forger.example.net>".to_string(),
    ]
    .iter()
    .enumerate()
    {
        r.take(body_mail(
            &stack_a(
                "dmarc=pass (p=reject dis=none) header.from=forger.example.net",
                "x@forger.example.net",
                "forger.example.net",
                "unknown",
                "info@example.org",
            ),
            from,
            &format!("RE: {} notitie", case.tag()),
            &format!("ew-{i}@forger.example.net"),
            CLOSE_IT,
        ));
    }
    assert_unchanged(&r, case, &before, ANNA);
}

// ------------------------------------------------ own server, stack B (rspamd)

/// What rspamd writes for mail from an outside host (fixture b/c-forged.eml): the entry line,
/// then its one combined header. rspamd quotes the envelope sender in `smtp.mailfrom=` but puts
/// it into the SPF comment as well (lua_auth_results.lua: `domain of %s designates …`), where
/// quotes mean nothing and a `)` ends the comment.
fn stack_b(envelope_quoted: &str, dmarc: &str) -> String {
    format!(
        "Return-Path: <x@forger.example.net>\r\nDelivered-To: info@example.org\r\n\
         Received: from mail.example.org ([127.0.0.1])\r\n\tby vm with LMTP\r\n\tid 8EhXHyCLFmuUNgAAg+zDdQ\r\n\tfor <info@example.org>; Mon, 07 Dec 2026 10:32:00 +0000\r\n\
         Received: from forger.example.net (unknown [203.0.113.66])\r\n\tby mail.example.org (Postfix) with ESMTP id 73112990B35\r\n\tfor <info@example.org>; Mon,  7 Dec 2026 10:32:00 +0000 (UTC)\r\n\
         Authentication-Results: mail.example.org;\r\n\tdkim=none;\r\n\
         \tspf=pass (mail.example.org: domain of {envelope_quoted} designates 203.0.113.66 as permitted sender) smtp.mailfrom={envelope_quoted};\r\n\
         \t{dmarc}\r\n\
         ARC-Authentication-Results: i=1;\r\n\tmail.example.org;\r\n\tdkim=none;\r\n\tspf=pass smtp.mailfrom=forger.example.net;\r\n\t{dmarc}\r\n"
    )
}

/// Attack: rspamd's SPF comment carries the envelope sender; a `)` in a quoted local part
/// ends the comment and `;dmarc=pass header.from=example.org` becomes a result of the one
/// header that counts. No DMARC record (rspamd: `dmarc=none`). Outcome: BROKEN — a `)` in the
/// envelope sender ends rspamd's SPF comment; the injected `dmarc=pass` in rspamd's header proves
/// the forged From (no DMARC record).
#[test]
fn rspamd_spf_comment_injection_of_dmarc_pass_via_the_envelope_sender() {
    let mut r = rspamd();
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    r.take(body_mail(
        &stack_b(
            "\"x);dmarc=pass header.from=example.org (x@forger.example.net\"",
            "dmarc=none reason=\"No policy\" header.from=example.org",
        ),
        &format!("Anna de Vries <{ANNA}>"),
        &format!("RE: {} notitie", case.tag()),
        "rsp-1@forger.example.net",
        CLOSE_IT,
    ));
    assert_unchanged(&r, case, &before, ANNA);
    assert_eq!(r.events(case, "held").len(), 1);
}

/// Attack: on rspamd, a header the forger added that rspamd does not remove — an
/// `Authentication-Results` with a space before the colon, or an `X-Original-…` copy — sits
/// right below rspamd's own, i.e. "right below the entry line" if rspamd's is not recognised
/// first. Outcome: held.
#[test]
fn rspamd_planted_lookalike_results_headers_never_count() {
    let mut r = rspamd();
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    let planted = "Authentication-Results : mail.example.org; dmarc=pass header.from=example.org; auth=pass smtp.auth=anna.devries@example.org\r\n\
         X-Original-Authentication-Results: mail.example.org; dmarc=pass header.from=example.org\r\n\
         Authentication-Results-Original: mail.example.org; dmarc=pass header.from=example.org\r\n";
    let headers = stack_b(
        "x@forger.example.net",
        "dmarc=none reason=\"No policy\" header.from=example.org",
    ) + planted;
    r.take(body_mail(
        &headers,
        &format!("Anna de Vries <{ANNA}>"),
        &format!("RE: {} notitie", case.tag()),
        "rsp-2@forger.example.net",
        CLOSE_IT,
    ));
    assert_unchanged(&r, case, &before, ANNA);
}

// ------------------------------------------------ Microsoft 365

/// What Exchange Online writes for mail from outside (tests/fixtures/platforms): its
/// Received lines, its Authentication-Results on top, `X-MS-Exchange-Organization-AuthAs:
/// Anonymous`. `ar` is Microsoft's results text; `extra` what the forger's mail carries (and
/// Exchange's header firewall does not remove: only `X-MS-Exchange-Organization-*`).
fn m365_outside(ar: &str, extra: &str) -> String {
    format!(
        "Received: from AM3PEPF0000A78E.eurprd04.prod.outlook.com (2603:10a6:20b:5c0::12)\r\n by AM0PR02MB1234.eurprd02.prod.outlook.com with HTTPS; Mon, 7 Dec 2026\r\n 09:40:05 +0000\r\n\
         Received: from mail.forger.example.net (203.0.113.66) by\r\n AM3PEPF0000A78E.mail.protection.outlook.com (10.167.16.117) with Microsoft SMTP\r\n Server id 15.20.8207.13 via Frontend Transport; Mon, 7 Dec 2026 09:40:04 +0000\r\n\
         Authentication-Results: {ar}\r\n\
         X-MS-Exchange-Organization-AuthSource: AM3PEPF0000A78E.eurprd04.prod.outlook.com\r\n\
         X-MS-Exchange-Organization-AuthAs: Anonymous\r\n\
         {extra}"
    )
}

fn m365_forged_verdict(extra: &str) -> (Run, CaseRef, String) {
    let mut r = platform("microsoft365");
    let case = appealed(&mut r);
    let before = snapshot(&r, case);
    r.take(body_mail(
        &m365_outside(
            "spf=pass (sender IP is 203.0.113.66)\r\n smtp.mailfrom=forger.example.net; dkim=none (message not signed)\r\n header.d=none;dmarc=none action=none header.from=example.org;compauth=none reason=405",
            extra,
        ),
        &format!("Examencommissie <{COMMITTEE}>"),
        &format!("RE: {} Uitspraak", case.tag()),
        "m365-1@forger.example.net",
        "Uitspraak: gegrond",
    ));
    (r, case, before)
}

/// Attack: Exchange's header firewall strips `X-MS-Exchange-Organization-*` from outside mail,
/// but not `X-MS-Exchange-CrossTenant-*` (those travel between tenants). A forger from outside
/// adds `X-MS-Exchange-CrossTenant-AuthAs: Internal` (and `-AuthSource`), as a genuine internal
/// mail also carries (fixture internal-staff-reply.eml); Exchange's own
/// `X-MS-Exchange-Organization-AuthAs: Anonymous` is there too. The domain has no DMARC record
/// (`dmarc=none`). Outcome: held — CrossTenant headers are not read as a login.
#[test]
fn microsoft_365_cross_tenant_authas_internal_from_outside_proves_nothing() {
    let (r, case, before) = m365_forged_verdict(
        "X-MS-Exchange-CrossTenant-AuthAs: Internal\r\nX-MS-Exchange-CrossTenant-AuthSource: AM9PR02MB5678.eurprd02.prod.outlook.com\r\n",
    );
    assert_unchanged(&r, case, &before, COMMITTEE);
}

/// Attack: the organisation header itself with a space before the colon
/// (`X-MS-Exchange-Organization-AuthAs : Internal`, obsolete but legal RFC 5322 syntax), which
/// a header firewall matching the field name exactly may let through, while a lenient parser
/// reads it as the same field. Exchange's own `X-MS-Exchange-Organization-AuthAs: Anonymous`
/// is in the same mail. Outcome: BROKEN — `X-MS-Exchange-Organization-AuthAs : Internal` (space
/// before colon) is read as Exchange's login although Exchange's own header in the mail says
/// Anonymous.
#[test]
fn microsoft_365_organization_authas_with_a_space_before_the_colon_proves_nothing() {
    let (r, case, before) = m365_forged_verdict("X-MS-Exchange-Organization-AuthAs : Internal\r\n");
    assert_unchanged(&r, case, &before, COMMITTEE);
}

/// Attack: a second `X-MS-Exchange-Organization-AuthAs: Internal` below Exchange's own
/// `Anonymous` (what the mail shows if anything on the way fails to strip the forger's copy):
/// two answers to "did the sender log in?" that disagree can only mean one is not Exchange's.
/// Outcome: BROKEN — a second `X-MS-Exchange-Organization-AuthAs: Internal` outweighs Exchange's
/// own `Anonymous` in the same mail (defence in depth: only if the firewall misses a copy).
#[test]
fn microsoft_365_a_second_organization_authas_internal_below_exchanges_anonymous_proves_nothing() {
    let (r, case, before) = m365_forged_verdict("x-ms-exchange-organization-authas: Internal\r\n");
    assert_unchanged(&r, case, &before, COMMITTEE);
}

/// Attack: Microsoft's topmost header as a forged mail gets it, with the forger's planted
/// "pass" lines below it written the way Microsoft writes `Authentication-Results` (no
/// authserv-id) and as `ARC-Authentication-Results`; the top one says `dmarc=none`
/// (no record). Only the topmost counts. Outcome: held — only the topmost header counts.
#[test]
fn microsoft_365_planted_pass_below_exchanges_own_header_never_counts() {
    let mut r = platform("microsoft365");
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    r.take(body_mail(
        &m365_outside(
            "spf=pass (sender IP is 203.0.113.66)\r\n smtp.mailfrom=forger.example.net; dkim=none (message not signed)\r\n header.d=none;dmarc=none action=none header.from=example.org;compauth=none reason=405",
            "Authentication-Results: spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org;dmarc=pass action=none header.from=example.org;compauth=pass reason=100\r\n\
             ARC-Authentication-Results: i=1; mx.microsoft.com 1; spf=pass smtp.mailfrom=example.org; dmarc=pass action=none header.from=example.org; dkim=pass header.d=example.org\r\n",
        ),
        &format!("Anna de Vries <{ANNA}>"),
        &format!("RE: {} notitie", case.tag()),
        "m365-2@forger.example.net",
        CLOSE_IT,
    ));
    assert_unchanged(&r, case, &before, ANNA);
}

fn m365_internal_two_from(from: &str) -> (Run, CaseRef, String) {
    let mut r = platform("microsoft365");
    let case = appealed(&mut r);
    let before = snapshot(&r, case);
    let headers = "Received: from AM9PR02MB5678.eurprd02.prod.outlook.com (2603:10a6:20b:3a1::7)\r\n by AM0PR02MB1234.eurprd02.prod.outlook.com with HTTPS; Mon, 7 Dec 2026\r\n 09:20:03 +0000\r\n\
         Authentication-Results: dkim=none (message not signed)\r\n header.d=none;dmarc=none action=none header.from=example.org;\r\n\
         X-MS-Exchange-Organization-AuthSource: AM9PR02MB5678.eurprd02.prod.outlook.com\r\n\
         X-MS-Exchange-Organization-AuthAs: Internal\r\nX-MS-Exchange-Organization-AuthMechanism: 04\r\n";
    r.take(body_mail(
        headers,
        from,
        &format!("RE: {} Uitspraak", case.tag()),
        "m365-two@AM9PR02MB5678.eurprd02.prod.outlook.com",
        "Uitspraak: gegrond",
    ));
    (r, case, before)
}

/// Attack (colleague, Microsoft 365): Pieter, inside the tenant (`AuthAs: Internal`), submits a
/// mail whose one From header names himself first and the committee second
/// (`From: Pieter <pieter@…>, Examencommissie <examencommissie@…>`); Exchange's Send As check
/// is satisfied by his own mailbox. klachtd must never take it for the committee's.
/// Outcome: held — no verdict.
#[test]
fn microsoft_365_internal_mail_from_pieter_and_the_committee_is_not_the_committees() {
    let (r, case, before) =
        m365_internal_two_from(&format!("Pieter <{PIETER}>, Examencommissie <{COMMITTEE}>"));
    assert_unchanged(&r, case, &before, COMMITTEE);
}

/// Attack: as above with the committee first and Pieter second. Outcome: held — no verdict.
#[test]
fn microsoft_365_internal_mail_from_the_committee_and_pieter_is_not_the_committees() {
    let (r, case, before) =
        m365_internal_two_from(&format!("Examencommissie <{COMMITTEE}>, Pieter <{PIETER}>"));
    assert_unchanged(&r, case, &before, COMMITTEE);
}

// ------------------------------------------------ Google Workspace

/// What Gmail writes for mail from outside (fixture google/forgery-planted-pass.eml): its
/// Received line, then `Authentication-Results: mx.google.com; …` below it. `ar` is Google's
/// results text.
fn google_outside(ar: &str) -> String {
    format!(
        "Delivered-To: info@example.org\r\n\
         Received: by 2002:a05:7300:6c8a:b0:1a2:3b4c:5d6e with SMTP id f10csp123999dyb;\r\n        Mon, 7 Dec 2026 01:30:05 -0800 (PST)\r\n\
         ARC-Authentication-Results: i=1; mx.google.com;\r\n       {ar}\r\n\
         Return-Path: <x@forger.example.net>\r\n\
         Received: from mail.forger.example.net (mail.forger.example.net. [203.0.113.66])\r\n        by mx.google.com with ESMTPS id b2c3d4e5f6a7-aa1b2c3d4e5si654321ejc.9.2026.12.07.01.30.05\r\n        for <info@example.org>\r\n        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);\r\n        Mon, 07 Dec 2026 01:30:05 -0800 (PST)\r\n\
         Authentication-Results: mx.google.com;\r\n       {ar}\r\n"
    )
}

/// Attack: the forger signs with their own domain, choosing the DKIM `i=` identity
/// `@example.org.forger.example.net` (a subdomain of their `d=`, so valid); Gmail writes
/// `dkim=pass header.i=@example.org.forger.example.net`. An alignment check on `header.i` that
/// looks at the wrong end, or at a substring, takes it for example.org. Outcome: held — none of the
/// identities is taken as aligned.
#[test]
fn google_dkim_identity_under_the_forgers_domain_that_starts_with_ours_is_not_aligned() {
    let mut r = platform("google");
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    for (i, ident) in [
        "@example.org.forger.example.net",
        "anna.devries@example.org.forger.example.net",
        "@xexample.org",
        "\"anna.devries@example.org\"@forger.example.net",
    ]
    .iter()
    .enumerate()
    {
        r.take(body_mail(
            &google_outside(&format!(
                "dkim=pass header.i={ident} header.s=s1 header.b=AbC;\r\n       spf=pass (google.com: domain of x@forger.example.net designates 203.0.113.66 as permitted sender) smtp.mailfrom=x@forger.example.net"
            )),
            &format!("Anna de Vries <{ANNA}>"),
            &format!("RE: {} notitie", case.tag()),
            &format!("g-{i}@forger.example.net"),
            CLOSE_IT,
        ));
    }
    assert_unchanged(&r, case, &before, ANNA);
}

/// Attack: Gmail names the envelope sender in the SPF comment (`(google.com: domain of <sender>
/// designates …)`); a `)` in a quoted local part ends the comment there and the rest reads as
/// `;dmarc=pass header.from=example.org`. No DMARC record for example.org. Outcome: BROKEN — a `)`
/// in the envelope sender ends the SPF comment of mx.google.com's header; the injected `dmarc=pass`
/// proves the forged From (no DMARC record).
#[test]
fn google_spf_comment_injection_of_dmarc_pass_via_the_envelope_sender() {
    let mut r = platform("google");
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    let sender = "\"x);dmarc=pass header.from=example.org (x\"@forger.example.net";
    r.take(body_mail(
        &google_outside(&format!(
            "spf=pass (google.com: domain of {sender} designates 203.0.113.66 as permitted sender) smtp.mailfrom={sender}"
        )),
        &format!("Anna de Vries <{ANNA}>"),
        &format!("RE: {} notitie", case.tag()),
        "g-inj@forger.example.net",
        CLOSE_IT,
    ));
    assert_unchanged(&r, case, &before, ANNA);
}

/// Attack (colleague with a copy of a genuine mail): Anna's Google-signed command mail (it
/// closed the case) was Cc'd to Pieter. After the case is reopened, Pieter sends the very same
/// signed mail to info@ again (DKIM still passes; Gmail writes a fresh `dmarc=pass`). Same
/// Message-ID, same body; only the trace headers on top differ, as on every redelivery.
/// Outcome: held — the redelivery is not applied again.
#[test]
fn google_replay_of_a_genuine_signed_command_mail_does_not_act_again() {
    let mut r = platform("google");
    let case = r.complaint(KLAGER);
    let anna_mail = |trace: &str| {
        format!(
            "Delivered-To: info@example.org\r\n\
             Received: by 2002:a05:7300:6c8a:b0:1a2:3b4c:5d6e with SMTP id {trace};\r\n        Mon, 7 Dec 2026 01:12:05 -0800 (PST)\r\n\
             Return-Path: <anna.devries@example.org>\r\n\
             Received: from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41])\r\n        by mx.google.com with SMTPS id {trace}\r\n        for <info@example.org>;\r\n        Mon, 07 Dec 2026 01:12:05 -0800 (PST)\r\n\
             Authentication-Results: mx.google.com;\r\n       dkim=pass header.i=@example.org header.s=google header.b=Qr5tUv;\r\n       spf=pass (google.com: domain of anna.devries@example.org designates 209.85.220.41 as permitted sender) smtp.mailfrom=anna.devries@example.org;\r\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.org\r\n\
             DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=google; h=to:cc:subject:message-id:date:from:mime-version; bh=AbC=; b=Qr5tUv==\r\n\
             MIME-Version: 1.0\r\nFrom: Anna de Vries <{ANNA}>\r\nDate: Mon, 7 Dec 2026 10:12:04 +0100\r\n\
             Message-ID: <CAG1anna-closes@mail.gmail.com>\r\nSubject: {} afhandeling\r\nTo: info@example.org\r\nCc: {PIETER}\r\n\
             Content-Type: text/plain; charset=\"UTF-8\"\r\n\r\nBehandelaar: anna.devries@example.org\nOorzaak: planning\nOplossing: excuses\nAkkoord: ja\nAfgehandeld\r\n",
            case.tag()
        )
    };
    r.take(anna_mail("f10csp1"));
    assert_eq!(r.status(case), "closed");
    assert_eq!(r.count(OutboxKind::ClosingLetter, KLAGER), 1);
    // Pieter reopens it (genuinely, with his token).
    let notice = r.newest(OutboxKind::StaffNotification, PIETER);
    r.take(reply(&notice, PIETER, "", "Heropen: klager belde terug"));
    assert_ne!(r.status(case), "closed");
    // The replay.
    r.take_at(anna_mail("f10csp2"), t0() + Duration::hours(3));
    assert_ne!(r.status(case), "closed", "the replay closed the case again");
    assert_eq!(r.count(OutboxKind::ClosingLetter, KLAGER), 1);
}

/// Attack (complainant): the complainant's own subject names another case
/// (`[KL-2026-0003] inschrijving`, a case that does not exist yet), so klachtd's notice reads
/// `Nieuwe klacht [KL-2026-0002]: [KL-2026-0003] inschrijving`. When Anna's Google-proven reply
/// to that notice arrives (`RE: Nieuwe klacht [KL-2026-0002]: [KL-2026-0003] …`, threaded to
/// the notice), her commands must go to KL-2026-0002, never to the other complainant's
/// KL-2026-0003. Outcome: held — the commands go to the case the reply is threaded to.
#[test]
fn a_second_case_tag_planted_in_the_complainants_subject_never_redirects_staff_commands() {
    let mut r = platform("google");
    let _first = r.complaint("eerste@example.net");
    let attacker = r
        .take(
            "From: Klager <klager@example.net>\r\nTo: info@example.org\r\nSubject: [KL-2026-0003] inschrijving\r\nMessage-ID: <att@example.net>\r\n\r\nIk ben niet tevreden over de inschrijving.\r\n"
                .into(),
        )
        .case
        .unwrap();
    let victim = r.complaint("slachtoffer@example.net");
    assert_eq!(victim.to_string(), "KL-2026-0003");
    let before_victim = fields(&r, victim);
    let notice = r
        .outbox()
        .into_iter()
        .rfind(|m| {
            m.kind == OutboxKind::StaffNotification
                && m.recipients.iter().any(|a| a == ANNA)
                && subject(m).contains(&attacker.tag())
        })
        .unwrap();
    let google = "Delivered-To: info@example.org\r\n\
         Received: from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41])\r\n        by mx.google.com with SMTPS id x\r\n        for <info@example.org>;\r\n        Mon, 07 Dec 2026 01:12:05 -0800 (PST)\r\n\
         Authentication-Results: mx.google.com;\r\n       dkim=pass header.i=@example.org header.s=google header.b=Qr5tUv;\r\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.org\r\n";
    r.take(reply(
        &notice,
        ANNA,
        google,
        "Behandelaar: anna.devries@example.org\nOorzaak: inschrijving liep mis\nOplossing: excuses\nAkkoord: ja\nAfgehandeld",
    ));
    assert_eq!(fields(&r, victim), before_victim, "the other case changed");
    assert!(
        r.outbox().iter().all(
            |m| !m.recipients.iter().any(|a| a == "slachtoffer@example.net")
                || m.kind == OutboxKind::Acknowledgement
        ),
        "a letter meant for one complainant went to another"
    );
    assert_eq!(r.status(attacker), "closed");
}

// ------------------------------------------------ tokens (every platform)

/// Attack (colleague): the committee answers the appeal mail with a note and, as people do,
/// puts the handler (Pieter, a role address) in Cc. Rule 1 revokes a token only when the mail
/// also went to someone *without* a role, so Pieter now holds the committee's live token
/// (its reply address in To, its Message-ID in In-Reply-To). He submits, as himself, to his
/// own server (stack A writes no Authentication-Results for submissions, and the default
/// `smtpd_sasl_authenticated_header = no` names no login) a mail `From: examencommissie@…`
/// with that token and `Uitspraak: gegrond`. README: the token "stops … a colleague reusing
/// someone else's mail". Outcome: BROKEN — a colleague Cc'd on the committee's reply keeps its live
/// token and records a binding verdict as the committee.
#[test]
fn a_colleague_in_cc_of_the_committees_reply_cannot_record_a_verdict_with_its_token() {
    let mut r = milters();
    let case = appealed(&mut r);
    let appeal = r.newest(OutboxKind::Appeal, COMMITTEE);
    // The committee's genuine reply, Cc the handler.
    r.take(reply(
        &appeal,
        COMMITTEE,
        &format!("Cc: Pieter Bakker <{PIETER}>\r\n"),
        "Notitie: wij behandelen het beroep op 10 december",
    ));
    assert_eq!(r.status(case), "appealed");
    assert_eq!(
        r.events(case, "note").len(),
        1,
        "the committee's note: {:?}",
        r.events(case, "note")
    );
    let before = snapshot(&r, case);
    let genuine = unmarked_events_by(&r, case, COMMITTEE);
    // Pieter's forgery, through his own submission port.
    let token_address = reply_to(&appeal);
    let id = message_id(&appeal);
    r.take_at(
        format!(
            "Return-Path: <{PIETER}>\r\nDelivered-To: info@example.org\r\n\
             Received: from mail.example.org ([127.0.0.1])\r\n\tby vm with LMTP\r\n\tid b2KPNQKLFmvfJgAAg+zDdQ\r\n\tfor <info@example.org>; Mon, 07 Dec 2026 10:31:30 +0000\r\n\
             DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=example.org; s=mail; h=From:To:Subject:Date:From; bh=5=; b=i8=\r\n\
             Received: from laptop.example.org (unknown [192.0.2.10])\r\n\tby mail.example.org (Postfix) with ESMTPA id C2C699904ED\r\n\tfor <{token_address}>; Mon,  7 Dec 2026 10:31:30 +0000 (UTC)\r\n\
             From: Examencommissie <{COMMITTEE}>\r\nTo: <{token_address}>\r\nSubject: RE: Beroep ingesteld {}\r\n\
             Message-ID: <pieter-forges@example.org>\r\nIn-Reply-To: <{id}>\r\nReferences: <{id}>\r\n\r\nUitspraak: gegrond\r\n",
            case.tag()
        ),
        t0() + Duration::hours(2),
    );
    assert_eq!(
        snapshot(&r, case),
        before,
        "the case changed or a letter went out"
    );
    assert_eq!(
        unmarked_events_by(&r, case, COMMITTEE),
        genuine,
        "stored in the committee's name"
    );
}

/// Attack (colleague): Anna replies to her notice with Pieter in Cc; Pieter later uses Anna's
/// token (now in his mailbox) to store a note in Anna's name and close the case.
/// Outcome: BROKEN — a colleague Cc'd on Anna's reply keeps her live token and closes the case and
/// writes notes in her name.
#[test]
fn a_colleague_in_cc_of_a_staff_reply_cannot_write_in_her_name_with_her_token() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let notice = r.newest(OutboxKind::StaffNotification, ANNA);
    r.take(reply(
        &notice,
        ANNA,
        &format!("Cc: <{PIETER}>\r\n"),
        "Notitie: ik bel de klager morgen",
    ));
    let before = snapshot(&r, case);
    let notes_before = r.events(case, "note").len();
    let token_address = reply_to(&notice);
    let id = message_id(&notice);
    r.take_at(
        format!(
            "Received: from laptop.example.org (unknown [192.0.2.10])\r\n\tby mail.example.org (Postfix) with ESMTPA id C2C6999\r\n\tfor <{token_address}>; Mon,  7 Dec 2026 10:31:30 +0000 (UTC)\r\n\
             From: Anna de Vries <{ANNA}>\r\nTo: <{token_address}>\r\nSubject: RE: {} \r\n\
             Message-ID: <pieter-as-anna@example.org>\r\nIn-Reply-To: <{id}>\r\n\r\n{CLOSE_IT}\n\nDe klager heeft gelijk, ik heb een fout gemaakt.\r\n",
            case.tag()
        ),
        t0() + Duration::hours(2),
    );
    assert_eq!(snapshot(&r, case), before, "the case changed");
    assert_eq!(
        r.events(case, "note").len(),
        notes_before,
        "a note in Anna's name"
    );
    assert_eq!(r.count(OutboxKind::ClosingLetter, KLAGER), 0);
}

/// Attack (complainant): the complainant holds every Message-ID klachtd sent them
/// (acknowledgement, reaction); a forgery `From: anna` threaded to them and to the reply
/// address pattern of their case must prove nothing. Outcome: held.
#[test]
fn the_complainants_own_message_ids_are_no_token_for_staff() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let notice = r.newest(OutboxKind::StaffNotification, PIETER);
    r.take(reply(
        &notice,
        PIETER,
        "",
        "Reactie:\n\nBeste klager, wij bellen u.",
    ));
    let before = snapshot(&r, case);
    let letters = letters_to_complainant(&r);
    let ack = r.newest(OutboxKind::Acknowledgement, KLAGER);
    let reaction = r.newest(OutboxKind::Reaction, KLAGER);
    for (i, m) in [ack, reaction].iter().enumerate() {
        let id = message_id(m);
        let token = id.split('.').nth(2).unwrap().split('@').next().unwrap();
        let headers = format!(
            "Authentication-Results: mail.example.org; spf=pass smtp.mailfrom=example.net\r\n\
             Received: from mx.example.net (mx.example.net [198.51.100.77]) by mail.example.org (Postfix) with ESMTP id {i}; Mon, 7 Dec 2026 10:00:00 +0100\r\n"
        );
        r.take(format!(
            "{headers}From: Anna de Vries <{ANNA}>\r\nTo: <info+{}.{token}@example.org>\r\nSubject: RE: {}\r\n\
             Message-ID: <cp-{i}@example.net>\r\nIn-Reply-To: <{id}>\r\nReferences: <{id}>\r\n\r\n{CLOSE_IT}\r\n",
            case.tag().trim_matches(|c| c == '[' || c == ']').to_lowercase(),
            case.tag()
        ));
    }
    assert_eq!(snapshot(&r, case), before);
    assert_eq!(letters_to_complainant(&r), letters);
    assert!(unmarked_events_by(&r, case, ANNA).is_empty());
}

/// Attack (time): a reply with Anna's genuine token 31 days after it was issued
/// (`security.token_days = 30`), sent from a host klachtd cannot vouch for. Outcome: held.
#[test]
fn an_expired_token_proves_nothing() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let notice = r.newest(OutboxKind::StaffNotification, ANNA);
    let before = snapshot(&r, case);
    r.take_at(
        reply(
            &notice,
            ANNA,
            "Authentication-Results: mail.example.org; spf=none smtp.mailfrom=relay.evil.example\r\n\
             Received: from relay.evil.example (relay.evil.example [203.0.113.9]) by mail.example.org; Thu, 24 Dec 2026 11:00:00 +0100\r\n",
            CLOSE_IT,
        ),
        t0() + Duration::days(31),
    );
    assert_unchanged(&r, case, &before, ANNA);
}

// ------------------------------------------------ confirmation

/// Attack: Anna genuinely sends an unprovable mail (held, request R1 with code c1). Before she
/// confirms, a forger sends another mail in her name on the same case (held, request R2). Anna
/// confirms R1 with `Bevestig c1`: only her own held mail may be applied, never the forger's
/// (a reaction to the complainant). Outcome: held — only the confirmed mail is applied.
#[test]
fn confirming_ones_own_held_mail_never_applies_a_forgery_held_on_the_same_case() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    r.take(forged(
        ANNA,
        &format!("RE: {}", case.tag()),
        "anna-own",
        "Oorzaak: planning liep mis",
    ));
    let r1 = r.newest(OutboxKind::ConfirmationRequest, ANNA);
    let c1 = code_of(&r1);
    r.take(forged(
        ANNA,
        &format!("RE: {}", case.tag()),
        "forger-1",
        "Reactie:\n\nBeste klager, u krijgt het volledige cursusgeld terug plus een vergoeding.",
    ));
    r.take(reply(&r1, ANNA, "", &format!("Bevestig {c1}")));
    let c = cases::get(r.store.conn(), case).unwrap().unwrap();
    assert_eq!(
        c.cause.as_deref(),
        Some("planning liep mis"),
        "Anna's own mail applies"
    );
    assert_eq!(
        r.count(OutboxKind::Reaction, KLAGER),
        0,
        "the forged reaction went out"
    );
}

/// Attack (stranger): a confirmation needs a four-digit code (10,000 values). The forger sends
/// a held mail, then forged confirmations in Anna's name — here even with the right code, as if
/// guessed, in every form a guesser could send (subject of the request, case tag, no thread,
/// English keyword). Without Anna's token nothing may be applied. Outcome: held — a code without
/// the request's token confirms nothing.
#[test]
fn a_forged_confirmation_with_the_right_code_applies_nothing() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    r.take(forged(
        ANNA,
        &format!("RE: {}", case.tag()),
        "held-1",
        CLOSE_IT,
    ));
    let request = r.newest(OutboxKind::ConfirmationRequest, ANNA);
    let code = code_of(&request);
    for (i, (subj, body)) in [
        (subject(&request), format!("Bevestig {code}")),
        (
            format!("RE: {}", subject(&request)),
            format!("Confirm {code}"),
        ),
        (format!("RE: {}", case.tag()), format!("Bevestig {code}")),
    ]
    .iter()
    .enumerate()
    {
        r.take(forged(ANNA, subj, &format!("guess-{i}"), body));
    }
    assert_unchanged(&r, case, &before, ANNA);
}

/// Attack (time): Anna confirms a held mail after `security.hold_days` (7). Outcome: held.
#[test]
fn a_confirmation_after_hold_days_applies_nothing() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    r.take(forged(
        ANNA,
        &format!("RE: {}", case.tag()),
        "held-late",
        CLOSE_IT,
    ));
    let request = r.newest(OutboxKind::ConfirmationRequest, ANNA);
    let code = code_of(&request);
    r.take_at(
        reply(&request, ANNA, "", &format!("Bevestig {code}")),
        t0() + Duration::days(8),
    );
    assert_eq!(snapshot(&r, case), before);
    assert_eq!(letters_to_complainant(&r), 0);
}

// ------------------------------------------------ the 5-a-day ceiling

/// Attack: five forgeries in Anna's name at 23:50, five more at 00:10 the next day. README:
/// "at most 5 mails in 24 hours"; the promise: "never more than 5 mails a day".
/// Outcome: held — at most 5 mails to Anna across midnight.
#[test]
fn the_ceiling_is_24_hours_not_a_calendar_day() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let start = r.outbox().len();
    let evening = chrono::DateTime::parse_from_rfc3339("2026-11-24T23:50:00+01:00")
        .unwrap()
        .to_utc();
    for i in 0..10 {
        let at = if i < 5 {
            evening + Duration::seconds(i)
        } else {
            evening + Duration::minutes(20) + Duration::seconds(i)
        };
        r.take_at(
            forged(
                ANNA,
                &format!("RE: {}", case.tag()),
                &format!("night-{i}"),
                "Afgehandeld",
            ),
            at,
        );
    }
    let to_anna = mails_to(&r, start, ANNA);
    assert!(
        to_anna.len() <= 5,
        "{} mails to Anna in 20 minutes: {to_anna:?}",
        to_anna.len()
    );
}

/// Attack: the ceiling must count every spelling and every kind of unproven mail in one role's
/// name together — case, `+tag`, full-width letters, quoted local part; replies, new mails,
/// confirmations with wrong codes, mail naming a case that does not exist, mail naming no case,
/// `Klacht:` on someone's behalf. Outcome: held (the quoted local part is left out here: see
/// a_quoted_local_part_…, which breaks).
#[test]
fn the_ceiling_counts_every_spelling_and_every_kind_of_unproven_mail_together() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let other = r.complaint("ander@example.net");
    let start = r.outbox().len();
    let spellings = [
        ANNA.to_string(),
        ANNA.to_uppercase(),
        "anna.devries+x@example.org".to_string(),
        "\u{ff41}nna.devries@example.org".to_string(),
        "anna.devries@EXAMPLE.org".to_string(),
    ];
    let subjects = [
        format!("RE: {}", case.tag()),
        format!("RE: {}", other.tag()),
        "RE: [KL-2026-9999] iets".to_string(),
        "Vraag".to_string(),
    ];
    let bodies = [
        "Afgehandeld",
        "Bevestig 0000",
        "Klacht: iemand@example.net\n\nMevrouw belde met een klacht.",
        "",
        "Hoi, even een vraag.",
    ];
    let mut n = 0;
    for s in &spellings {
        for subj in &subjects {
            for b in &bodies {
                n += 1;
                r.take(forged(s, subj, &format!("mix-{n}"), b));
            }
        }
    }
    for role in ROLES {
        let to = mails_to(&r, start, role);
        assert!(to.len() <= 5, "{} mails to {role}: {to:?}", to.len());
    }
}

/// Attack: `"anna.devries"@example.org` is, by RFC 5321 (4.1.2: quoting changes nothing in a
/// local part that needs none), the same mailbox as `anna.devries@example.org`, and mail
/// servers deliver it there. README lists "every spelling of a role address … is that role
/// address (never a complainant)". A stranger sends twelve mails in that spelling: each must be
/// held as Anna's (at most 5 mails to her), never registered as a complaint that notifies every
/// role address. Outcome: BROKEN — `"anna.devries"@example.org` (Anna's mailbox) is registered as a
/// new complaint each time, notifying every staff member without limit.
#[test]
fn a_quoted_local_part_of_a_role_address_is_that_role_and_floods_nobody() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let cases_before = cases::list(r.store.conn()).unwrap().len();
    let start = r.outbox().len();
    for i in 0..12 {
        r.take(forged(
            "\"anna.devries\"@example.org",
            if i % 2 == 0 {
                "Vraag"
            } else {
                "RE: [KL-2026-0001] notitie"
            },
            &format!("quoted-{i}"),
            "Notitie: de klager heeft gelijk\n\nIk heb een fout gemaakt.",
        ));
    }
    assert_eq!(
        cases::list(r.store.conn()).unwrap().len(),
        cases_before,
        "mail in Anna's name was registered as complaints"
    );
    for role in ROLES {
        let to = mails_to(&r, start, role);
        assert!(to.len() <= 5, "{} mails to {role}: {to:?}", to.len());
    }
    assert!(unmarked_events_by(&r, case, ANNA).is_empty());
}

/// Attack: unreadable mail in the director's name (undecodable text, no text at all) is
/// quarantined, and "the director told once" — per mail? Twelve such forgeries in the
/// director's name must not make klachtd write to the director more than 5 times.
/// Outcome: BROKEN — each unreadable forgery in the director's name sends the director a quarantine
/// notice outside the 5-a-day ceiling.
#[test]
fn unreadable_forgeries_in_the_directors_name_do_not_flood_the_director() {
    let mut r = milters();
    let _case = r.complaint(KLAGER);
    let start = r.outbox().len();
    for i in 0..12 {
        let body = if i % 2 == 0 {
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!not base64 at all ~~~~\r\n"
        } else {
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQF\r\n"
        };
        r.take(format!(
            "Authentication-Results: mail.example.org; spf=none smtp.mailfrom=relay.evil.example\r\n\
             Received: from relay.evil.example (relay.evil.example [203.0.113.9]) by mail.example.org; Tue, 24 Nov 2026 10:00:00 +0100\r\n\
             From: Directie <{DIRECTOR}>\r\nTo: info@example.org\r\nSubject: Onleesbaar {i}\r\nMessage-ID: <unread-{i}@evil.example>\r\nMIME-Version: 1.0\r\n{body}"
        ));
    }
    let to = mails_to(&r, start, DIRECTOR);
    assert!(to.len() <= 5, "{} mails to the director: {to:?}", to.len());
}

/// Attack: the same flood of unreadable mail in a staff member's name: "the director told
/// once (and a staff member whose own mail it was)" — must not reach Anna more than 5 times.
/// Outcome: held.
#[test]
fn unreadable_forgeries_in_a_staff_members_name_do_not_flood_her() {
    let mut r = milters();
    let _case = r.complaint(KLAGER);
    let start = r.outbox().len();
    for i in 0..12 {
        r.take(format!(
            "Authentication-Results: mail.example.org; spf=none smtp.mailfrom=relay.evil.example\r\n\
             Received: from relay.evil.example (relay.evil.example [203.0.113.9]) by mail.example.org; Tue, 24 Nov 2026 10:00:00 +0100\r\n\
             From: Anna <{ANNA}>\r\nTo: info@example.org\r\nSubject: Onleesbaar {i}\r\nMessage-ID: <unread-a-{i}@evil.example>\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!not base64 at all ~~~~\r\n"
        ));
    }
    let to = mails_to(&r, start, ANNA);
    assert!(to.len() <= 5, "{} mails to Anna: {to:?}", to.len());
}

/// Attack: forged mail in Anna's name on a case Pieter handles: besides the capped mails to
/// Anna, does each forgery also make klachtd write to the handler (a role address), so that a
/// flood in one role's name reaches another without limit? Outcome: held.
#[test]
fn forgeries_in_one_roles_name_do_not_flood_another_role() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let notice = r.newest(OutboxKind::StaffNotification, PIETER);
    r.take(reply(
        &notice,
        PIETER,
        "",
        "Behandelaar: pieter.bakker@example.org",
    ));
    let start = r.outbox().len();
    for i in 0..12 {
        r.take(forged(
            ANNA,
            &format!("RE: {}", case.tag()),
            &format!("flood-{i}"),
            &format!("Notitie: vervalst {i}"),
        ));
    }
    for role in ROLES {
        let to = mails_to(&r, start, role);
        assert!(to.len() <= 5, "{} mails to {role}: {to:?}", to.len());
    }
}

/// Attack: automatic-looking and list mail in a role's name (`Auto-Submitted`, `List-Id`,
/// `Precedence: bulk`, `Return-Path: <>`) with commands: ignored or held, never applied.
/// Outcome: held.
#[test]
fn robot_and_list_markers_on_a_forgery_apply_nothing() {
    let mut r = milters();
    let case = r.complaint(KLAGER);
    let before = snapshot(&r, case);
    for (i, marker) in [
        "Auto-Submitted: auto-replied\r\n",
        "List-Id: <staff.lists.example.com>\r\nPrecedence: list\r\n",
        "Precedence: bulk\r\n",
        "Return-Path: <>\r\n",
        "X-Autoreply: yes\r\n",
    ]
    .iter()
    .enumerate()
    {
        r.take(format!(
            "{marker}{}",
            forged(
                ANNA,
                &format!("RE: {}", case.tag()),
                &format!("robot-{i}"),
                CLOSE_IT
            )
        ));
    }
    assert_unchanged(&r, case, &before, ANNA);
}
