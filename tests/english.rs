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
        "Authentication-Results: mail.example.org; auth=pass smtp.auth=anna.devries@example.org\r\n\
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
