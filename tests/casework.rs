//! Staff commands that stand on their own, in process: a complaint handed in by phone
//! (`Klacht:`), the director's recommendations, a mail that names no case, and the same
//! command mail arriving twice.

mod common;

use chrono::{DateTime, Utc};
use common::world::World;
use klachtd::inbound::{InboundMail, RawMail};
use klachtd::store::outbox::{self, OutboxKind};
use klachtd::store::{MailOutcome, Store, cases};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn world() -> World {
    World::with_env(&[
        ("KLACHTD__ROLES__STAFF", "anna@example.org"),
        ("KLACHTD__ROLES__DIRECTOR", "directie@example.org"),
        ("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", "mail.example.org"),
    ])
}

/// A mail from `from`, submitted through our own server with a login.
fn authenticated(from: &str, subject: &str, id: &str, body: &str) -> Vec<u8> {
    format!(
        "Authentication-Results: mail.example.org; auth=pass (plain) smtp.auth={from}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\nFrom: <{from}>\r\n\
         To: info@example.org\r\nSubject: {subject}\r\nMessage-ID: <{id}@example.org>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn take(
    world: &World,
    store: &mut Store,
    key: &str,
    bytes: Vec<u8>,
) -> klachtd::intake::IntakeResult {
    world
        .intake()
        .process(
            store,
            &RawMail {
                source_key: key.into(),
                bytes,
                arrived_at: None,
            },
            at("2026-11-24T10:00:00+01:00"),
        )
        .unwrap()
}

fn transcripts(store: &Store) -> Vec<String> {
    outbox::all(store.conn())
        .unwrap()
        .iter()
        .filter(|m| m.kind == OutboxKind::Transcript)
        .map(|m| InboundMail::parse(&m.raw).unwrap().text)
        .collect()
}

#[test]
fn a_complaint_by_phone_is_registered_on_the_complainants_behalf() {
    let world = world();
    let mut store = Store::open_in_memory().unwrap();
    let mail = authenticated(
        "anna@example.org",
        "Telefonische klacht mevrouw Smit",
        "phone-1",
        "Klacht: Jans.Smit@Example.net\n\nMevrouw Smit belde: haar examen werd twee keer verzet zonder bericht.",
    );
    let r = take(&world, &mut store, "p1", mail);
    assert_eq!(r.outcome, MailOutcome::CaseCreated);
    let case = cases::get(store.conn(), r.case.unwrap()).unwrap().unwrap();
    assert_eq!(
        case.complainant_address.as_deref(),
        Some("jans.smit@example.net")
    );
    assert!(case.body.starts_with("Mevrouw Smit belde"));
    let acks: Vec<_> = outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == OutboxKind::Acknowledgement)
        .collect();
    assert_eq!(
        acks[0].recipients,
        ["jans.smit@example.net"],
        "the complainant is acknowledged"
    );
    assert!(transcripts(&store)[0].contains("klacht geregistreerd als KL-2026-0001"));
}

#[test]
fn the_director_records_recommendations_and_staff_cannot() {
    let world = world();
    let mut store = Store::open_in_memory().unwrap();
    let r = take(
        &world,
        &mut store,
        "r1",
        authenticated(
            "directie@example.org",
            "Aanbeveling",
            "rec-1",
            "Aanbeveling: annuleringen ook per e-mail melden",
        ),
    );
    assert_eq!(r.outcome, MailOutcome::Ignored);
    let n: i64 = store
        .conn()
        .query_row("SELECT COUNT(*) FROM recommendations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    take(
        &world,
        &mut store,
        "r2",
        authenticated(
            "anna@example.org",
            "Aanbeveling",
            "rec-2",
            "Aanbeveling: meer koffie",
        ),
    );
    let n: i64 = store
        .conn()
        .query_row("SELECT COUNT(*) FROM recommendations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "only the director");
    assert!(
        transcripts(&store)
            .iter()
            .any(|t| t.contains("alleen de directeur"))
    );
}

#[test]
fn commands_without_a_case_are_refused_with_an_explanation() {
    let world = world();
    let mut store = Store::open_in_memory().unwrap();
    let r = take(
        &world,
        &mut store,
        "n1",
        authenticated("anna@example.org", "Even iets", "none-1", "Afgehandeld"),
    );
    assert_eq!(r.outcome, MailOutcome::Ignored);
    assert!(transcripts(&store)[0].contains("geen klacht gevonden"));
}

#[test]
fn the_same_command_mail_twice_changes_nothing_the_second_time() {
    let world = world();
    let mut store = Store::open_in_memory().unwrap();
    let complaint = b"From: k@example.net\r\nTo: info@example.org\r\nSubject: Klacht\r\nMessage-ID: <k1@example.net>\r\n\r\nKlacht.\r\n";
    let case = take(&world, &mut store, "c", complaint.to_vec())
        .case
        .unwrap();
    let command = |body: &str| {
        authenticated(
            "anna@example.org",
            &format!("RE: {}", case.tag()),
            "same-id",
            body,
        )
    };
    assert_eq!(
        take(&world, &mut store, "a", command("Notitie: eerste")).outcome,
        MailOutcome::AddedToCase
    );
    // Re-sent by a client with the same Message-ID but other text: not applied again.
    let again = take(&world, &mut store, "b", command("Notitie: tweede"));
    assert_eq!(again.outcome, MailOutcome::Ignored);
    let notes: Vec<String> = cases::events(store.conn(), 1)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "note")
        .map(|e| e.detail)
        .collect();
    assert_eq!(notes, ["eerste"]);
    // Not silent: the sender hears it was not processed again, and the case records it.
    assert!(
        transcripts(&store)
            .last()
            .unwrap()
            .contains("niet opnieuw verwerkt")
    );
    assert!(
        cases::events(store.conn(), 1)
            .unwrap()
            .iter()
            .any(|e| e.kind == "staff_mail_unused" && e.detail.contains("tweede"))
    );
}
