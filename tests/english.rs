//! English is available throughout: an organisation set to `en` gets every mail in English,
//! and an English complaint gets an English acknowledgement from a Dutch organisation.

mod common;

use chrono::{DateTime, Utc};
use common::world::World;
use klachtd::inbound::{InboundMail, RawMail};
use klachtd::jobs::Jobs;
use klachtd::settings::Settings;
use klachtd::store::outbox::{self, OutboxKind};
use klachtd::store::{MailOutcome, Store};
use std::path::Path;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn subjects(store: &Store, kind: OutboxKind) -> Vec<String> {
    outbox::all(store.conn())
        .unwrap()
        .iter()
        .filter(|m| m.kind == kind)
        .map(|m| InboundMail::parse(&m.raw).unwrap().subject)
        .collect()
}

fn settings(language: &str) -> Settings {
    let env = [
        ("KLACHTD__ORGANISATION__LANGUAGE", language),
        ("KLACHTD__ROLES__STAFF", "anna.devries@example.org"),
        ("KLACHTD__ROLES__DIRECTOR", "directie@example.org"),
        ("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", "mail.example.org"),
    ];
    Settings::load_with_env(None, env.map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
}

#[test]
fn an_english_organisation_writes_english_everywhere() {
    let settings = settings("en");
    let world = World::new(settings);
    let intake = world.intake();
    let mut store = Store::open_in_memory().unwrap();
    let now = at("2026-11-24T10:00:00+01:00");
    let complaint = RawMail {
        source_key: "c".into(),
        // No Content-Language: the organisation's language decides.
        bytes: b"From: Jo <jo@example.net>\r\nTo: info@example.org\r\nSubject: Late certificate\r\nMessage-ID: <c1@example.net>\r\n\r\nMy certificate never came.\r\n".to_vec(),
        arrived_at: None,
    };
    let case = intake
        .process(&mut store, &complaint, now)
        .unwrap()
        .case
        .unwrap();
    assert_eq!(
        subjects(&store, OutboxKind::Acknowledgement)[0]
            .split(':')
            .next()
            .unwrap(),
        format!("Acknowledgement of receipt {}", case.tag())
    );
    assert!(
        subjects(&store, OutboxKind::StaffNotification)[0]
            .starts_with("New complaint [KL-2026-0001]")
    );

    // Anna replies through our own server: cause, solution, agreement, close.
    let reply = format!(
        "Authentication-Results: mail.example.org; auth=pass smtp.auth=anna.devries@example.org\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\n\
         From: Anna <anna.devries@example.org>\r\nTo: info@example.org\r\nSubject: RE: New complaint {}\r\n\
         Message-ID: <r1@example.org>\r\n\r\nHandler: anna.devries@example.org\r\nCause: planning\r\nSolution: refund\r\nAgreement: yes\r\nClose\r\n",
        case.tag()
    );
    let raw = RawMail {
        source_key: "r".into(),
        bytes: reply.into_bytes(),
        arrived_at: None,
    };
    assert_eq!(
        intake.process(&mut store, &raw, now).unwrap().outcome,
        MailOutcome::AddedToCase
    );
    assert!(subjects(&store, OutboxKind::Transcript)[0].starts_with("Processed: [KL-2026-0001]"));
    assert!(
        subjects(&store, OutboxKind::ClosingLetter)[0]
            .starts_with("Your complaint has been resolved")
    );

    let jobs = Jobs { intake: &intake };
    store
        .transaction(|tx| jobs.send_digest_now(tx, at("2026-11-30T08:00:00+01:00")))
        .unwrap();
    assert!(subjects(&store, OutboxKind::Digest)[0].starts_with("Complaints week"));
    store
        .transaction(|tx| {
            jobs.send_report(
                tx,
                2026,
                chrono::NaiveDate::from_ymd_opt(2027, 1, 4).unwrap(),
                now,
            )
        })
        .unwrap();
    assert_eq!(
        subjects(&store, OutboxKind::AnnualReport)[0],
        "Complaints analysis 2026: 1 complaint"
    );
}

#[test]
fn an_english_complaint_gets_an_english_acknowledgement_from_a_dutch_organisation() {
    let settings = settings("nl");
    let world = World::new(settings);
    let intake = world.intake();
    let mut store = Store::open_in_memory().unwrap();
    let raw = RawMail {
        source_key: "e".into(),
        bytes: fixture("09_complaint_english_outlookcom.eml"),
        arrived_at: None,
    };
    intake
        .process(&mut store, &raw, at("2026-11-24T10:00:00+01:00"))
        .unwrap();
    let ack = &subjects(&store, OutboxKind::Acknowledgement)[0];
    assert!(ack.starts_with("Acknowledgement of receipt"), "{ack}");
    assert!(
        subjects(&store, OutboxKind::StaffNotification)[0].starts_with("Nieuwe klacht"),
        "staff read Dutch"
    );
}

/// The body text of the first queued mail of `kind`.
fn body(store: &Store, kind: OutboxKind) -> String {
    outbox::all(store.conn())
        .unwrap()
        .iter()
        .filter(|m| m.kind == kind)
        .map(|m| InboundMail::parse(&m.raw).unwrap().text)
        .next()
        .unwrap()
}

#[test]
fn an_english_iphone_complaint_without_content_language_is_answered_in_english() {
    let world = World::new(settings("nl"));
    let intake = world.intake();
    let mut store = Store::open_in_memory().unwrap();
    let raw = RawMail {
        source_key: "i".into(),
        bytes: b"From: Emily Carter <emily@example.net>\r\nTo: info@example.org\r\nSubject: Exam results\r\nMessage-ID: <i1@example.net>\r\nContent-Type: text/plain; charset=utf-8\r\nX-Mailer: iPhone Mail (22B91)\r\n\r\nHi, I took the exam on 3 November and still have not received my results. Could you let me know when they will be sent?\r\n\r\nSent from my iPhone\r\n".to_vec(),
        arrived_at: None,
    };
    let case = intake
        .process(&mut store, &raw, at("2026-11-24T10:00:00+01:00"))
        .unwrap()
        .case
        .unwrap();
    let record = klachtd::store::cases::get(store.conn(), case)
        .unwrap()
        .unwrap();
    assert_eq!(record.language, "en", "stored on the case");
    let ack = body(&store, OutboxKind::Acknowledgement);
    assert!(ack.starts_with("Dear Emily Carter,"), "{ack}");
}

#[test]
fn a_dutch_complaint_with_an_english_content_language_is_answered_in_dutch() {
    let world = World::new(settings("nl"));
    let intake = world.intake();
    let mut store = Store::open_in_memory().unwrap();
    let raw = RawMail {
        source_key: "d".into(),
        bytes: "From: Kees <kees@example.net>\r\nTo: info@example.org\r\nSubject: Examenuitslag\r\nMessage-ID: <d1@example.net>\r\nContent-Language: en-US\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIk heb mijn examenuitslag na acht weken nog steeds niet ontvangen. Wanneer krijg ik die?\r\n".as_bytes().to_vec(),
        arrived_at: None,
    };
    intake
        .process(&mut store, &raw, at("2026-11-24T10:00:00+01:00"))
        .unwrap();
    assert!(body(&store, OutboxKind::Acknowledgement).starts_with("Beste Kees,"));
}

#[test]
fn an_injected_display_name_is_not_in_the_greeting() {
    let world = World::new(settings("nl"));
    let intake = world.intake();
    let mut store = Store::open_in_memory().unwrap();
    for (key, from, greeting) in [
        (
            "a",
            "=?utf-8?Q?Piet=0D=0ABcc=3A_directie=40example=2Eorg=2C_examencommissie=40example=2Eorg=0D=0AX-Injected=3A_1?= <piet@example.net>",
            "Beste Piet,",
        ),
        (
            "b",
            "\"jan@example.net\" <jan@example.net>",
            "Geachte heer, mevrouw,",
        ),
    ] {
        let raw = RawMail {
            source_key: key.into(),
            bytes: format!("From: {from}\r\nTo: info@example.org\r\nSubject: Klacht\r\nMessage-ID: <{key}@example.net>\r\n\r\nIk ben niet tevreden over de cursus.\r\n").into_bytes(),
            arrived_at: None,
        };
        intake
            .process(&mut store, &raw, at("2026-11-24T10:00:00+01:00"))
            .unwrap();
        let acks: Vec<String> = outbox::all(store.conn())
            .unwrap()
            .iter()
            .filter(|m| m.kind == OutboxKind::Acknowledgement)
            .map(|m| InboundMail::parse(&m.raw).unwrap().text)
            .collect();
        let ack = acks.last().unwrap();
        assert!(ack.starts_with(greeting), "{ack}");
        assert!(!ack.contains("Bcc") && !ack.contains("X-Injected"), "{ack}");
    }
}

#[test]
fn staff_set_the_complainants_language_with_taal() {
    let world = World::new(settings("nl"));
    let intake = world.intake();
    let mut store = Store::open_in_memory().unwrap();
    let now = at("2026-11-24T10:00:00+01:00");
    let case = world.complaint(&mut store, "t", "jo@example.net", now);
    let reply = format!(
        "Authentication-Results: mail.example.org; auth=pass smtp.auth=anna.devries@example.org\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\n\
         From: Anna <anna.devries@example.org>\r\nTo: info@example.org\r\nSubject: RE: Nieuwe klacht {}\r\n\
         Message-ID: <t1@example.org>\r\n\r\nTaal: en\r\nReactie\r\n\r\nDear Jo, we are looking into it.\r\n",
        case.tag()
    );
    let raw = RawMail {
        source_key: "tr".into(),
        bytes: reply.into_bytes(),
        arrived_at: None,
    };
    intake.process(&mut store, &raw, now).unwrap();
    let record = klachtd::store::cases::get(store.conn(), case)
        .unwrap()
        .unwrap();
    assert_eq!(record.language, "en");
    let reaction = &subjects(&store, OutboxKind::Reaction)[0];
    assert!(
        reaction.starts_with("Reply to your complaint"),
        "{reaction}"
    );
    assert!(body(&store, OutboxKind::Transcript).contains("in het Engels"));
}
