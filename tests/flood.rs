//! The flood (issue 12): out-of-office replies, bounces, newsletters, duplicates and spam in
//! any mix and order are each recorded once with what became of them, make no case and no
//! mail, and — robots and spam — are judged from their headers without decoding the body; a
//! copy of the very same bytes is recorded by reference to the first instead of again.

mod common;

use chrono::{DateTime, Utc};
use common::world::World;
use klachtd::domain::Disposition;
use klachtd::inbound::RawMail;
use klachtd::store::outbox;
use klachtd::store::{MailOutcome, Store, cases, mails};
use proptest::prelude::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The complaint every duplicate repeats.
const COMPLAINT: &str = "From: Klager <klager@example.net>\r\nTo: info@example.org\r\nSubject: Klacht over de cursus\r\nMessage-ID: <klacht-1@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIk ben niet tevreden over de cursus.\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    OutOfOffice,
    Vacation,
    Bounce,
    BounceWithoutAutoSubmitted,
    Newsletter,
    Spam,
    ExactDuplicate,
    Redelivered,
}

impl Kind {
    /// What the mail must become, and the start of its recorded reason.
    fn expected(self) -> (MailOutcome, &'static str) {
        match self {
            Kind::OutOfOffice | Kind::Vacation => (
                MailOutcome::Ignored,
                "automatic: out-of-office or vacation reply",
            ),
            Kind::Bounce | Kind::BounceWithoutAutoSubmitted => {
                (MailOutcome::Ignored, "automatic: delivery report")
            }
            Kind::Newsletter => (MailOutcome::Ignored, "automatic: mailing list"),
            Kind::Spam => (MailOutcome::Quarantined, "spam flagged"),
            Kind::ExactDuplicate | Kind::Redelivered => {
                (MailOutcome::Ignored, "duplicate of an earlier delivery")
            }
        }
    }

    fn by_headers(self) -> bool {
        !matches!(self, Kind::ExactDuplicate | Kind::Redelivered)
    }
}

/// A header name in upper, lower or its usual case.
fn cased(name: &str, case: u8) -> String {
    match case % 3 {
        0 => name.to_string(),
        1 => name.to_lowercase(),
        _ => name.to_uppercase(),
    }
}

/// One mail of the flood; `ack` is the Message-ID of our acknowledgement of the complaint.
/// Robot bodies that do not decode (broken base64) must not matter.
fn mail(kind: Kind, i: usize, case: u8, broken_body: bool, ack: &str) -> Vec<u8> {
    let h = |name: &str| cased(name, case);
    let body = if broken_body {
        format!(
            "{}: base64\r\n\r\nSGVsbG8g!*~%\r\nbroken=base64=\r\n",
            h("Content-Transfer-Encoding")
        )
    } else {
        "\r\nIk ben afwezig tot maandag.\r\n".to_string()
    };
    let raw = match kind {
        Kind::OutOfOffice => format!(
            "{}: Medewerker <m{i}@outlook.example>\r\n{}: info@example.org\r\n{}: Automatisch antwoord: Ontvangstbevestiging klacht [KL-2026-0001]\r\n{}: <oof-{i}@outlook.example>\r\n{}: <{ack}>\r\n{}: auto-generated\r\n{}: All\r\n{body}",
            h("From"),
            h("To"),
            h("Subject"),
            h("Message-ID"),
            h("In-Reply-To"),
            h("Auto-Submitted"),
            h("X-Auto-Response-Suppress"),
        ),
        Kind::Vacation => format!(
            "{}: klager@example.net\r\n{}: Re: Ontvangstbevestiging klacht [KL-2026-0001]\r\n{}: junk\r\n{}: <vac-{i}@example.net>\r\n{body}",
            h("From"),
            h("Subject"),
            h("Precedence"),
            h("Message-ID"),
        ),
        Kind::Bounce | Kind::BounceWithoutAutoSubmitted => format!(
            "{}: <>\r\n{}: MAILER-DAEMON@mail.example.org (Mail Delivery System)\r\n{}: Undelivered Mail Returned to Sender\r\n{}{}: <dsn-{i}@mail.example.org>\r\n{}: multipart/report; report-type=delivery-status;\r\n\tboundary=\"b{i}\"\r\n\r\n--b{i}\r\nContent-Type: text/plain\r\n\r\nNiet afgeleverd.\r\n--b{i}\r\nContent-Type: message/rfc822\r\n\r\nFrom: info@example.org\r\nMessage-ID: <{ack}>\r\nSubject: Ontvangstbevestiging\r\n\r\nGeachte heer, mevrouw,\r\n--b{i}--\r\n",
            h("Return-Path"),
            h("From"),
            h("Subject"),
            if kind == Kind::Bounce {
                format!("{}: auto-replied\r\n", h("Auto-Submitted"))
            } else {
                String::new()
            },
            h("Message-ID"),
            h("Content-Type"),
        ),
        Kind::Newsletter => format!(
            "{}: Opleidingsvak <nieuws@opleidingsvak.example>\r\n{}: Nieuwsbrief {i}: klachten van cursisten\r\n{}: Nieuws <nieuws.opleidingsvak.example>\r\n{}: bulk\r\n{}: <news-{i}@opleidingsvak.example>\r\n{body}",
            h("From"),
            h("Subject"),
            h("List-Id"),
            h("Precedence"),
            h("Message-ID"),
        ),
        Kind::Spam => format!(
            "{}: YES\r\n{}: Incasso <debiteuren{i}@incasso.example>\r\n{}: *****SPAM***** Klacht over uw betaling\r\n{}: <spam-{i}@incasso.example>\r\n{body}",
            h("X-Spam-Flag"),
            h("From"),
            h("Subject"),
            h("Message-ID"),
        ),
        Kind::ExactDuplicate => COMPLAINT.to_string(),
        Kind::Redelivered => format!(
            "Return-Path: <klager@example.net>\r\nDelivered-To: info@example.org\r\nReceived: from mail.example.org by mail.example.org with LMTP id {i}\r\nX-Spam-Status: No, score=-1.0\r\n{COMPLAINT}"
        ),
    };
    raw.into_bytes()
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::OutOfOffice),
        Just(Kind::Vacation),
        Just(Kind::Bounce),
        Just(Kind::BounceWithoutAutoSubmitted),
        Just(Kind::Newsletter),
        Just(Kind::Spam),
        Just(Kind::ExactDuplicate),
        Just(Kind::Redelivered),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the mix, the order, the header case, and whether a robot's body decodes: every
    /// mail of the flood is recorded once with the outcome and reason it must have, no case is
    /// opened, nothing is queued for anyone, and robots and spam are judged from their
    /// headers alone.
    #[test]
    fn a_flood_makes_no_case_and_no_mail(
        flood in proptest::collection::vec((kind(), any::<u8>(), any::<bool>()), 1..40),
        batch in 1usize..12,
    ) {
        let world = World::with_env(&[]);
        let intake = world.intake();
        let mut store = Store::open_in_memory().unwrap();
        let now = at("2026-11-30T10:00:00Z");
        world.complaint(&mut store, "complaint", "klager@example.net", now);
        // The complaint's own copy keeps the Message-ID the duplicates repeat.
        let first = RawMail {
            source_key: "first".into(),
            bytes: COMPLAINT.as_bytes().to_vec(),
            arrived_at: Some(now),
        };
        let original = intake.process(&mut store, &first, now).unwrap();
        prop_assert_eq!(original.outcome, MailOutcome::CaseCreated);
        let ack = outbox::all(store.conn()).unwrap()
            .into_iter()
            .find(|m| m.kind == outbox::OutboxKind::Acknowledgement)
            .unwrap()
            .message_id;
        let first_sha: String = store
            .conn()
            .query_row("SELECT content_sha256 FROM mails WHERE source_key = 'first'", [], |r| r.get(0))
            .unwrap();
        let cases_before = cases::list(store.conn()).unwrap().len();
        let queued_before = outbox::all(store.conn()).unwrap().len();
        let ledger_before = mails::all(store.conn()).unwrap().len();

        let raws: Vec<RawMail> = flood
            .iter()
            .enumerate()
            .map(|(i, (kind, case, broken))| RawMail {
                source_key: format!("flood-{i}"),
                bytes: mail(*kind, i, *case, *broken, &ack),
                arrived_at: Some(now),
            })
            .collect();
        for chunk in raws.chunks(batch) {
            let prepared: Vec<_> = chunk.iter().map(|raw| intake.prepare(raw)).collect();
            for (p, raw) in prepared.iter().zip(chunk) {
                let i: usize = raw.source_key["flood-".len()..].parse().unwrap();
                prop_assert_eq!(p.decided_by_headers(), flood[i].0.by_headers(), "{:?}", flood[i]);
            }
            let (results, failure) = intake.record_batch(&mut store, &prepared, now);
            prop_assert!(failure.is_none());
            prop_assert_eq!(results.len(), chunk.len());
            for (result, raw) in results.iter().zip(chunk) {
                let i: usize = raw.source_key["flood-".len()..].parse().unwrap();
                let (outcome, reason) = flood[i].0.expected();
                prop_assert_eq!(result.outcome, outcome, "{:?}: {}", flood[i], &result.reason);
                prop_assert!(result.reason.starts_with(reason), "{:?}: {}", flood[i], &result.reason);
                prop_assert_eq!(result.case, None);
                let disposition = match outcome {
                    MailOutcome::Quarantined => Disposition::Quarantine,
                    _ => Disposition::Processed,
                };
                prop_assert_eq!(result.disposition, disposition);
            }
        }
        prop_assert_eq!(cases::list(store.conn()).unwrap().len(), cases_before);
        prop_assert_eq!(outbox::all(store.conn()).unwrap().len(), queued_before);
        let ledger = mails::all(store.conn()).unwrap();
        prop_assert_eq!(ledger.len(), ledger_before + flood.len());
        for (i, (kind, _, _)) in flood.iter().enumerate() {
            let key = format!("flood-{i}");
            let rows: Vec<_> = ledger.iter().filter(|m| m.source_key == key).collect();
            prop_assert_eq!(rows.len(), 1);
            prop_assert_eq!(rows[0].outcome, kind.expected().0);
            prop_assert!(rows[0].reason.starts_with(kind.expected().1), "{}", &rows[0].reason);
            prop_assert_eq!(rows[0].case_id, None);
            // Each mail's bytes are kept once: a copy of the very same bytes by reference to
            // the first (its content hash), anything else whole.
            let (id, sha): (i64, String) = store
                .conn()
                .query_row(
                    "SELECT id, content_sha256 FROM mails WHERE source_key = ?1",
                    [&key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            let raw = klachtd::store::mails::raw_of(store.conn(), id).unwrap().unwrap_or_default();
            if *kind == Kind::ExactDuplicate {
                prop_assert!(raw.is_empty());
                prop_assert_eq!(&sha, &first_sha);
                prop_assert!(rows[0].reason.contains("(first; the same bytes, kept there)"), "{}", &rows[0].reason);
            } else {
                prop_assert_eq!(&raw, &raws[i].bytes);
            }
        }
    }
}

/// A robot's raw mail is kept in the ledger exactly as it came, though its body was never
/// decoded, and taking the same copy in again changes nothing.
#[test]
fn a_robot_judged_by_its_headers_is_kept_whole_and_recorded_once() {
    let world = World::with_env(&[]);
    let intake = world.intake();
    let mut store = Store::open_in_memory().unwrap();
    let now = at("2026-11-30T10:00:00Z");
    let raw = RawMail {
        source_key: "bounce".into(),
        bytes: mail(Kind::Bounce, 7, 0, true, "kl-2026-0001.ack.1@example.org"),
        arrived_at: Some(now),
    };
    let prepared = intake.prepare(&raw);
    assert!(prepared.decided_by_headers());
    let first = intake.record(&mut store, &prepared, now).unwrap();
    assert_eq!(first.outcome, MailOutcome::Ignored);
    assert!(!first.already_recorded);
    let again = intake.process(&mut store, &raw, now).unwrap();
    assert!(again.already_recorded);
    let ledger = mails::all(store.conn()).unwrap();
    assert_eq!(ledger.len(), 1);
    let id: i64 = store
        .conn()
        .query_row(
            "SELECT id FROM mails WHERE source_key = 'bounce'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(mails::raw_of(store.conn(), id).unwrap().unwrap(), raw.bytes);
    assert!(outbox::all(store.conn()).unwrap().is_empty());
}
