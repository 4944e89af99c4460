//! Signed mail reads as its text, encrypted mail is a case that says so, Outlook's winmail.dat
//! gives up its files (issue 23). The signed and encrypted fixtures in `tests/fixtures/formats/`
//! were made with the real tools — `openssl smime` (OpenSSL 3.0) and GnuPG 2.2 — the TNEF ones
//! written per [MS-OXTNEF], all in the shapes their specifications give: each test names its
//! convention. klachtd verifies no signature and decrypts nothing.

mod common;

use chrono::{DateTime, Utc};
use common::world::World;
use klachtd::inbound::{InboundMail, RawMail};
use klachtd::store::outbox::OutboxKind;
use klachtd::store::{MailOutcome, Store, cases, mails, outbox};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/formats")
            .join(name),
    )
    .unwrap()
}

/// What one mail became: the case, its files, its history, and the mail it queued (decoded).
struct Taken {
    body: String,
    files: Vec<(String, String)>,
    events: Vec<(String, String)>,
    sent: Vec<(OutboxKind, InboundMail)>,
    raw_kept: bool,
}

fn take(world: &World, name: &str) -> Taken {
    let mut store = Store::open_in_memory().unwrap();
    let now = at("2026-11-24T10:00:00Z");
    let raw = RawMail {
        source_key: name.into(),
        bytes: fixture(name),
        arrived_at: Some(now),
    };
    let result = world.intake().process(&mut store, &raw, now).unwrap();
    assert_eq!(
        result.outcome,
        MailOutcome::CaseCreated,
        "{name}: {}",
        result.reason
    );
    let case = cases::get(store.conn(), result.case.unwrap())
        .unwrap()
        .unwrap();
    let files = cases::attachments_of(store.conn(), case.id)
        .unwrap()
        .into_iter()
        .map(|a| (a.filename, a.content_type))
        .collect();
    let events = cases::events(store.conn(), case.id)
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.detail))
        .collect();
    let sent = outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .map(|m| (m.kind, InboundMail::parse(&m.raw).unwrap()))
        .collect();
    let id: i64 = store
        .conn()
        .query_row("SELECT id FROM mails WHERE source_key = ?1", [name], |r| {
            r.get(0)
        })
        .unwrap();
    let raw_kept = mails::raw_of(store.conn(), id).unwrap().unwrap() == raw.bytes;
    Taken {
        body: case.body,
        files,
        events,
        sent,
        raw_kept,
    }
}

/// A signed complaint: its text is the case's text, the signature a file of the case and
/// never part of the text; acknowledged as any complaint.
fn assert_reads_as_text(name: &str, phrase: &str, signature: &str) {
    let world = World::with_env(&[]);
    let t = take(&world, name);
    assert!(t.body.contains(phrase), "{name}: {:?}", t.body);
    for armor in ["BEGIN PGP", "END PGP", "MII", "Hash: SHA"] {
        assert!(!t.body.contains(armor), "{name}: {armor} in {:?}", t.body);
    }
    assert!(
        t.files.iter().any(|(f, _)| f == signature),
        "{name}: {:?}",
        t.files
    );
    let ack = t
        .sent
        .iter()
        .find(|(k, _)| *k == OutboxKind::Acknowledgement)
        .expect("acknowledged");
    assert!(!ack.1.text.contains("versleuteld"), "{name}");
    assert!(t.raw_kept, "{name}");
}

/// RFC 8551 §3.5.3 (as `openssl smime -sign` writes it): `multipart/signed;
/// protocol="application/x-pkcs7-signature"`, the text first, `smime.p7s` second.
#[test]
fn smime_multipart_signed_reads_as_its_text() {
    assert_reads_as_text(
        "smime_multipart_signed.eml",
        "Mijn certificaat is nooit aangekomen",
        "smime.p7s",
    );
}

/// RFC 8551 §3.5.2 (`openssl smime -sign -nodetach`): `application/pkcs7-mime;
/// smime-type=signed-data`, the signed entity inside the CMS SignedData (RFC 5652 §5).
#[test]
fn smime_opaque_signed_data_reads_as_the_entity_inside() {
    assert_reads_as_text(
        "smime_opaque_signed.eml",
        "Mijn certificaat is nooit aangekomen",
        "smime.p7m",
    );
}

/// RFC 3156 §5 (Thunderbird's shape): `multipart/signed; protocol="application/pgp-signature"`.
#[test]
fn pgp_mime_signed_reads_as_its_text() {
    assert_reads_as_text(
        "pgp_mime_signed.eml",
        "De docent kwam drie keer te laat",
        "OpenPGP_signature.asc",
    );
}

/// RFC 4880 §7 (`gpg --clearsign`): the armor headers and dash-escaping go, the signature
/// becomes a file.
#[test]
fn pgp_cleartext_signed_reads_as_its_text() {
    assert_reads_as_text(
        "pgp_inline_signed.eml",
        "Ik wil een klacht indienen over de cursus Excel.\n\n- Jan",
        "pgp-handtekening.asc",
    );
}

/// An encrypted complaint is registered (never lost because it cannot be read), the original
/// kept, the case and the staff notice say "versleuteld — niet leesbaar voor klachtd", and the
/// acknowledgement asks, courteously, to send it again without encryption or to call.
fn assert_encrypted_case(name: &str, kept_file: &str) {
    let world = World::with_env(&[
        ("KLACHTD__ORGANISATION__PHONE", "030 123 45 67"),
        ("KLACHTD__ROLES__STAFF", "anna@example.org"),
    ]);
    let t = take(&world, name);
    assert_eq!(
        t.body, "(versleuteld — niet leesbaar voor klachtd)",
        "{name}"
    );
    assert!(
        t.events.iter().any(
            |(k, d)| k == "encrypted" && d.contains("versleuteld — niet leesbaar voor klachtd")
        ),
        "{name}: {:?}",
        t.events
    );
    assert!(t.raw_kept, "{name}: original kept");
    assert!(
        t.files.iter().any(|(f, _)| f == kept_file),
        "{name}: {:?}",
        t.files
    );
    let staff = t
        .sent
        .iter()
        .find(|(k, _)| *k == OutboxKind::StaffNotification)
        .expect("staff told");
    assert!(
        staff.1.text.contains("versleuteld") && staff.1.text.contains("niet leesbaar voor klachtd"),
        "{name}: {}",
        staff.1.text
    );
    let ack = &t
        .sent
        .iter()
        .find(|(k, _)| *k == OutboxKind::Acknowledgement)
        .expect("acknowledged")
        .1;
    for phrase in [
        "Uw bericht was versleuteld",
        "zonder versleuteling",
        "U kunt ons ook bellen: 030 123 45 67.",
        "Beste Jan Jansen,",
    ] {
        assert!(
            ack.text
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .contains(phrase),
            "{name}: {phrase:?} not in {}",
            ack.text
        );
    }
}

/// RFC 3156 §4 (Thunderbird's shape): `multipart/encrypted; protocol="application/pgp-encrypted"`.
#[test]
fn pgp_mime_encrypted_is_a_case_that_says_so() {
    assert_encrypted_case("pgp_mime_encrypted.eml", "encrypted.asc");
}

/// RFC 8551 §3.3 (`openssl smime -encrypt`): `application/pkcs7-mime; smime-type=enveloped-data`,
/// recognised by its CMS content type (RFC 5652 §6), not by the parameter alone.
#[test]
fn smime_enveloped_data_is_a_case_that_says_so() {
    assert_encrypted_case("smime_enveloped.eml", "smime.p7m");
}

/// RFC 4880 §6.2 (`gpg --armor --encrypt` pasted into a plain-text mail).
#[test]
fn inline_pgp_message_is_a_case_that_says_so() {
    assert_encrypted_case("pgp_inline_encrypted.eml", "versleuteld.asc");
}

/// Without a configured telephone number the acknowledgement still offers to call, and in
/// English for an English organisation.
#[test]
fn encrypted_acknowledgement_without_a_number_and_in_english() {
    let world = World::with_env(&[("KLACHTD__ORGANISATION__LANGUAGE", "en")]);
    let t = take(&world, "smime_enveloped.eml");
    assert_eq!(t.body, "(encrypted — klachtd cannot read it)");
    let ack = &t
        .sent
        .iter()
        .find(|(k, _)| *k == OutboxKind::Acknowledgement)
        .unwrap()
        .1;
    let text = ack.text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("Your message was encrypted (S/MIME)"),
        "{text}"
    );
    assert!(text.contains("You are also welcome to call us."), "{text}");
}

/// [MS-OXTNEF] (Outlook sending rich text to an outside address: `text/plain` and
/// `application/ms-tnef` named `winmail.dat`): the files inside become files of the case, by
/// their long names; `winmail.dat` itself is kept.
#[test]
fn outlook_winmail_dat_gives_up_its_files() {
    let world = World::with_env(&[]);
    let t = take(&world, "outlook_winmail_dat.eml");
    assert!(t.body.contains("twee keer is afgeschreven"), "{}", t.body);
    let names: Vec<&str> = t.files.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        names,
        [
            "winmail.dat",
            "factuur oktober 2026.pdf",
            "bankafschrift.png"
        ]
    );
    assert_eq!(t.files[1].1, "application/pdf");
    let staff = &t
        .sent
        .iter()
        .find(|(k, _)| *k == OutboxKind::StaffNotification)
        .unwrap()
        .1;
    assert!(
        staff
            .attachments
            .iter()
            .any(|a| a.filename == "factuur oktober 2026.pdf" && a.data.starts_with(b"%PDF")),
        "staff get the file itself"
    );
}

/// [MS-OXTNEF] §2.1.3.5 `PR_BODY`: when a gateway dropped the text part, the text is read from
/// the TNEF stream's message properties.
#[test]
fn a_body_only_in_winmail_dat_is_read() {
    let world = World::with_env(&[]);
    let t = take(&world, "outlook_winmail_only.eml");
    assert_eq!(
        t.body,
        "Ik wil een klacht indienen: de docent kwam niet opdagen."
    );
}

/// A `winmail.dat` that cannot be read is kept and named; the complaint is registered as any.
#[test]
fn a_damaged_winmail_dat_is_kept_and_named() {
    let world = World::with_env(&[]);
    let t = take(&world, "outlook_winmail_damaged.eml");
    assert!(t.body.contains("twee keer is afgeschreven"));
    assert_eq!(t.files.len(), 1);
    assert_eq!(t.files[0].0, "winmail.dat");
    let staff = &t
        .sent
        .iter()
        .find(|(k, _)| *k == OutboxKind::StaffNotification)
        .unwrap()
        .1;
    // Named inert, as every file name a stranger chose (issue 22).
    assert!(staff.text.contains("winmail[.]dat"), "{}", staff.text);
}
