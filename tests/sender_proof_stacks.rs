//! Issue 19 against the real thing: klachtd's sender decision on mail exactly as the real
//! sender-authentication stacks of the test harness delivered it — stack A (Postfix with
//! OpenDKIM, OpenDMARC and policyd-spf, `own_server = "milters"`) and stack B (Postfix with
//! rspamd, `own_server = "rspamd"`), with a local DNS server — asserting the case state and the
//! mail klachtd queues. The headers themselves are pinned by tests/authstack_headers.rs.

mod common;

use common::authstack::{AUTHSERV_ID, AuthStack, FORGER_IP, LIST_ADDRESS, Stack};
use common::run::Run;
use common::world::World;
use klachtd::store::outbox::OutboxKind;
use klachtd::store::{MailOutcome, cases};
use mail_parser::MessageParser;

const INFO: &str = "info@example.org";
const STAFF: &str = "staff@example.org";

fn klachtd_for(stack: Stack) -> Run {
    Run::in_world(World::with_env(&[
        ("KLACHTD__ORGANISATION__ADDRESS", INFO),
        (
            "KLACHTD__ROLES__STAFF",
            "staff@example.org,staff2@example.org",
        ),
        ("KLACHTD__ROLES__DIRECTOR", "director@example.org"),
        ("KLACHTD__ROLES__COMMITTEE", "committee@example.org"),
        ("KLACHTD__SECURITY__PLATFORM", "own-server"),
        ("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", AUTHSERV_ID),
        (
            "KLACHTD__SECURITY__OWN_SERVER",
            match stack {
                Stack::A => "milters",
                Stack::B => "rspamd",
            },
        ),
    ]))
}

/// A staff mail with the given subject and body, in reply to `in_reply_to`.
fn staff_mail(from: &str, to: &str, subject: &str, in_reply_to: &str, body: &str) -> Vec<u8> {
    let id = subject.replace([' ', '[', ']'], "-");
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}@mail.example.org>\r\n\
         In-Reply-To: <{in_reply_to}>\r\nReferences: <{in_reply_to}>\r\n\
         Date: Mon, 7 Dec 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn run(stack_kind: Stack) {
    let stack = AuthStack::start(stack_kind);
    let mut k = klachtd_for(stack_kind);
    let case = k.complaint("klager@example.net");
    let notice = k.newest(OutboxKind::StaffNotification, STAFF);
    let token_id = MessageParser::default()
        .parse(&notice.raw)
        .unwrap()
        .message_id()
        .unwrap()
        .to_string();
    let take = |k: &mut Run, raw: Vec<u8>| k.take(String::from_utf8(raw).unwrap());
    let notes = |k: &Run| k.events(case, "note").len();
    let held = |k: &Run| k.events(case, "held").len();

    // (a) The staff member's own reply, submitted with a login: no Authentication-Results on
    // either stack; the token proves it.
    stack
        .submit(
            STAFF,
            &staff_mail(
                STAFF,
                INFO,
                &format!("RE: {} a", case.tag()),
                &token_id,
                "Notitie: klager gebeld",
            ),
            &[INFO],
        )
        .unwrap();
    let r = take(
        &mut k,
        stack.delivered(INFO, &format!("RE: {} a", case.tag())),
    );
    assert_eq!(
        r.outcome,
        MailOutcome::AddedToCase,
        "{stack_kind:?}: {}",
        r.reason
    );
    assert_eq!(notes(&k), 1, "{stack_kind:?}: the genuine reply is applied");

    // (b) The same token, From the staff member, through a bulk mailer signing with its own
    // domain: the server's dmarc=fail outweighs the token.
    stack
        .send_via_bulk_mailer(
            "bounce@bulkmailer.example.net",
            &staff_mail(
                STAFF,
                INFO,
                &format!("RE: {} b", case.tag()),
                &token_id,
                "Oorzaak: x\nOplossing: alles terug\nAkkoord: ja\nAfgehandeld",
            ),
            &[INFO],
        )
        .unwrap();
    take(
        &mut k,
        stack.delivered(INFO, &format!("RE: {} b", case.tag())),
    );
    assert_eq!(k.status(case), "open", "{stack_kind:?}: b changed the case");
    assert_eq!(held(&k), 1, "{stack_kind:?}");
    assert!(
        k.events(case, "held")[0].1.contains("dmarc=fail"),
        "{stack_kind:?}"
    );

    // (c) Forged and unsigned, straight to port 25 with the token.
    stack
        .send_direct(
            FORGER_IP,
            "forger.example.net",
            "x@forger.example.net",
            &staff_mail(
                STAFF,
                INFO,
                &format!("RE: {} c", case.tag()),
                &token_id,
                "Afgehandeld",
            ),
            &[INFO],
        )
        .unwrap();
    take(
        &mut k,
        stack.delivered(INFO, &format!("RE: {} c", case.tag())),
    );
    assert_eq!(k.status(case), "open", "{stack_kind:?}: c changed the case");
    assert_eq!(held(&k), 2, "{stack_kind:?}");

    // (d) Forged, carrying Authentication-Results of "our" server that say dmarc=pass.
    let mut forged = b"Authentication-Results: mx.example.org; dmarc=pass (p=reject) header.from=example.org\r\n\
        Authentication-Results: mx.example.org; auth=pass smtp.auth=staff@example.org\r\n"
        .to_vec();
    forged.extend(staff_mail(
        STAFF,
        INFO,
        &format!("NIEUW {} d", case.tag()),
        "nothing@example.org",
        "Geen klacht",
    ));
    stack
        .send_direct(
            FORGER_IP,
            "forger.example.net",
            "x@forger.example.net",
            &forged,
            &[INFO],
        )
        .unwrap();
    take(
        &mut k,
        stack.delivered(INFO, &format!("NIEUW {} d", case.tag())),
    );
    assert_eq!(k.status(case), "open", "{stack_kind:?}: d changed the case");
    assert_eq!(held(&k), 3, "{stack_kind:?}");

    // (e) The staff member's post to an outside list, which comes back ARC-sealed with
    // dmarc=pass in the list's own results (and dmarc=fail in the server's): list mail is a
    // machine's, recorded and ignored before it could be anything else — never applied.
    stack
        .post_to_list(
            STAFF,
            &staff_mail(
                STAFF,
                LIST_ADDRESS,
                &format!("RE: {} e", case.tag()),
                &token_id,
                "Notitie: via de lijst",
            ),
        )
        .unwrap();
    let r = take(
        &mut k,
        stack.delivered(INFO, &format!("[leden] RE: {} e", case.tag())),
    );
    assert_eq!(
        r.outcome,
        MailOutcome::Ignored,
        "{stack_kind:?}: {}",
        r.reason
    );
    assert!(
        r.reason.contains("mailing list"),
        "{stack_kind:?}: {}",
        r.reason
    );
    assert_eq!(notes(&k), 1, "{stack_kind:?}: e applied a note");
    assert_eq!(held(&k), 3, "{stack_kind:?}");

    // Nothing reached the complainant but the acknowledgement, and the staff member was asked
    // to confirm, within the daily limit.
    let c = cases::get(k.store.conn(), case).unwrap().unwrap();
    assert!(c.cause.is_none() && c.solution.is_none());
    assert_eq!(k.count(OutboxKind::ClosingLetter, "klager@example.net"), 0);
    let asked = k.count(OutboxKind::ConfirmationRequest, STAFF);
    assert!((1..=5).contains(&asked), "{stack_kind:?}: {asked} requests");
}

#[test]
fn through_stack_a_milters_only_the_real_sender_changes_a_case() {
    run(Stack::A);
}

#[test]
fn through_stack_b_rspamd_only_the_real_sender_changes_a_case() {
    run(Stack::B);
}
