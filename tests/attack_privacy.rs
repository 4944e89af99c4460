//! Outside review of issue 25, kept as tests. The reviewer was told only the README and the
//! promise "a complaint's content reaches only those who need it; a person's data can be
//! shown and erased completely", and tried to break it: names written to slip past the
//! check (initials, look-alike letters, HTML entities, encoded subjects, a forwarded mail or a
//! text file attached), a colleague confirming a mail held before the complaint was marked, an
//! old token, forged mail in the colleague's name; erasure of an address written in other
//! spellings, a Message-ID that is the address, a complaint handed in by phone, a reply to our
//! mail from another address, a reader holding the database during the erasure, a reason that
//! names the person; a dossier with a hostile file name and a staff note about someone else.
//! Each test names the attack and what klachtd does.

mod common;

use chrono::Duration;
use common::avg::*;
use common::world::World;
use klachtd::domain::CaseRef;
use klachtd::inbound::InboundMail;
use klachtd::store::outbox::{self, OutboxKind};
use klachtd::store::{Store, cases};
use std::sync::Arc;

const KLAGER: &str = "klager@example.net";

fn now() -> chrono::DateTime<chrono::Utc> {
    at("2026-11-24T10:00:00+01:00")
}

/// Takes in a raw complaint; returns its case and whom it concerns.
fn concerns_of(world: &World, raw: String) -> (CaseRef, Vec<String>, Store) {
    let mut store = Store::open_in_memory().unwrap();
    let r = take(world, &mut store, raw, now()).case.unwrap();
    let c = case(&store, r);
    (r, c.privacy.concerns, store)
}

fn plain(subject: &str, body: &str) -> String {
    format!(
        "From: <{KLAGER}>\r\nTo: info@example.org\r\nSubject: {subject}\r\nMessage-ID: <x@example.net>\r\n\r\n{body}\r\n"
    )
}

#[test]
fn attack_initials_and_title_with_initial() {
    for text in [
        "A. de Vries was onbeleefd.",
        "Mevr. A. de Vries gaf geen antwoord.",
    ] {
        let (_, concerns, store) = concerns_of(&world(), plain("Les", text));
        assert_eq!(concerns, vec![ANNA], "{text}");
        assert!(to(&store, ANNA, None).is_empty());
    }
}

#[test]
fn attack_look_alike_letters() {
    // A Cyrillic А and е, and full-width letters.
    for text in [
        "\u{0410}nna de Vri\u{0435}s was onbeleefd.",
        "\u{FF30}\u{FF49}\u{FF45}\u{FF54}er Bakker kwam niet.",
    ] {
        let (_, concerns, _) = concerns_of(&world(), plain("Les", text));
        assert_eq!(concerns.len(), 1, "{text}");
    }
}

#[test]
fn attack_html_entities_and_encoded_subject() {
    let html = format!(
        "From: <{KLAGER}>\r\nTo: info@example.org\r\nSubject: Les\r\nMessage-ID: <h@example.net>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <p>De docent &#65;nna&nbsp;de&#x20;Vri&euml;s was onaardig.</p>\r\n"
    );
    assert_eq!(concerns_of(&world(), html).1, vec![ANNA]);
    let subject = format!(
        "From: <{KLAGER}>\r\nTo: info@example.org\r\nSubject: =?utf-8?B?{}?=\r\nMessage-ID: <s@example.net>\r\n\r\nZie onderwerp.\r\n",
        base64_of("Klacht over Pieter Bakker")
    );
    assert_eq!(concerns_of(&world(), subject).1, vec![PIETER]);
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn attack_the_name_only_in_a_forwarded_mail_or_a_text_file() {
    let forwarded = format!(
        "From: <{KLAGER}>\r\nTo: info@example.org\r\nSubject: Zie bijlage\r\nMessage-ID: <f@example.net>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nZie het doorgestuurde bericht.\r\n\
         --b\r\nContent-Type: message/rfc822\r\n\r\n\
         From: <iemand@example.net>\r\nSubject: Over de les\r\nMessage-ID: <in@example.net>\r\n\r\nPieter Bakker was er niet.\r\n\
         --b--\r\n"
    );
    assert_eq!(concerns_of(&world(), forwarded).1, vec![PIETER]);
    let text_file = format!(
        "From: <{KLAGER}>\r\nTo: info@example.org\r\nSubject: Mijn brief\r\nMessage-ID: <t@example.net>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMijn klacht staat in de bijlage.\r\n\
         --b\r\nContent-Type: text/plain; name=\"brief.txt\"\r\nContent-Disposition: attachment; filename=\"brief.txt\"\r\n\r\n\
         Mevrouw de Vries schreeuwde tegen mij.\r\n--b--\r\n"
    );
    let (_, concerns, store) = concerns_of(&world(), text_file);
    assert_eq!(concerns, vec![ANNA]);
    // The file went to the others, not to her.
    assert!(to(&store, ANNA, None).is_empty());
}

/// A mail of Anna's held (no proof) before anyone knew the case concerned her, confirmed by
/// her after the director marked it: nothing is carried out, nothing goes back.
#[test]
fn attack_confirming_a_held_mail_after_the_case_was_marked() {
    let world = world();
    let mut store = Store::open_in_memory().unwrap();
    let r = complaint(
        &world,
        &mut store,
        KLAGER,
        "Geheim onderwerp",
        "De les was rommelig.",
        now(),
    );
    staff_reply(
        &world,
        &mut store,
        ANNA,
        r,
        "Behandelaar: Anna de Vries",
        false,
        now(),
    );
    let request = outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .find(|m| m.kind == OutboxKind::ConfirmationRequest)
        .expect("a confirmation request");
    staff_reply(
        &world,
        &mut store,
        DIRECTOR,
        r,
        "Betreft: Anna de Vries",
        true,
        now(),
    );
    let before = to(&store, ANNA, None).len();
    // Her reply to the request, with its code, through its own reply address.
    let parsed = mail_parser::MessageParser::default()
        .parse(&request.raw)
        .unwrap();
    let reply_to = parsed
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address.as_deref())
        .unwrap()
        .to_string();
    let text = InboundMail::parse(&request.raw).unwrap().text;
    let at = text.find("Bevestig ").unwrap();
    let code = &text[at + 9..at + 13];
    take(
        &world,
        &mut store,
        format!(
            "From: <{ANNA}>\r\nTo: <{reply_to}>\r\nSubject: RE: {}\r\nMessage-ID: <conf@example.org>\r\nIn-Reply-To: <{}>\r\n\r\nBevestig {code}\r\n",
            r.tag(),
            parsed.message_id().unwrap()
        ),
        now(),
    );
    assert_eq!(case(&store, r).handler, None);
    let events = cases::events(store.conn(), case(&store, r).id).unwrap();
    assert_eq!(events.last().unwrap().kind, "not_involved", "{events:?}");
    // Marking the case revoked every token she held for it, the request's included: her
    // confirmation proves nothing, so it is not answered either.
    assert!(events.last().unwrap().detail.contains("niet bewezen"));
    assert_eq!(to(&store, ANNA, None).len(), before);
    for m in to(&store, ANNA, None).iter().skip(before) {
        assert!(!readable(m).contains("Geheim onderwerp"), "{}", readable(m));
        assert!(!readable(m).contains("rommelig"));
    }
}

/// Anna got the notice of a complaint that did not name her; a follow-up then does. Her old
/// token proves nothing any more, and nothing more about the case reaches her.
#[test]
fn attack_an_old_token_after_a_later_mail_names_the_colleague() {
    let world = world();
    let mut store = Store::open_in_memory().unwrap();
    let r = complaint(
        &world,
        &mut store,
        KLAGER,
        "Les",
        "De les was rommelig.",
        now(),
    );
    let notice = outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .find(|m| m.kind == OutboxKind::StaffNotification && m.recipients == vec![ANNA.to_string()])
        .unwrap();
    follow_up(
        &world,
        &mut store,
        KLAGER,
        r,
        "Het was Anna de Vries die schreeuwde, vertrouwelijk.",
        now(),
    );
    assert_eq!(case(&store, r).privacy.concerns, vec![ANNA]);
    let before = to(&store, ANNA, None).len();
    let parsed = mail_parser::MessageParser::default()
        .parse(&notice.raw)
        .unwrap();
    let reply_to = parsed
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address.as_deref())
        .unwrap()
        .to_string();
    take(
        &world,
        &mut store,
        format!(
            "From: <{ANNA}>\r\nTo: <{reply_to}>\r\nSubject: RE: {}\r\nMessage-ID: <old@example.org>\r\nIn-Reply-To: <{}>\r\n\r\nGeen klacht: onzin\r\n",
            r.tag(),
            parsed.message_id().unwrap()
        ),
        now(),
    );
    assert_eq!(case(&store, r).status, klachtd::domain::CaseStatus::Open);
    assert_eq!(
        to(&store, ANNA, None).len(),
        before,
        "no answer to an unproven mail"
    );
    let mut t = now();
    let intake = world.intake();
    let jobs = klachtd::jobs::Jobs { intake: &intake };
    while t < now() + Duration::days(10) {
        jobs.run_due(&mut store, t).unwrap();
        t += Duration::hours(6);
    }
    for m in to(&store, ANNA, None).iter().skip(before) {
        assert!(!readable(m).contains("schreeuwde"), "{}", readable(m));
    }
}

#[test]
fn attack_a_named_member_of_the_intake_group_and_the_director_only_mode() {
    let world = World::new(settings_with(
        "[privacy]\nnew_complaints_to = \"group\"\nintake_group = [\"anna.devries@example.org\"]",
        &[],
    ));
    let mut store = Store::open_in_memory().unwrap();
    complaint(
        &world,
        &mut store,
        KLAGER,
        "Les",
        "Anna de Vries was onbeleefd.",
        now(),
    );
    assert_eq!(
        recipients_of(&store, OutboxKind::StaffNotification),
        vec![DIRECTOR]
    );
    let world = World::new(settings_with(
        "[privacy]\nnew_complaints_to = \"director\"",
        &[],
    ));
    let mut store = Store::open_in_memory().unwrap();
    complaint(
        &world,
        &mut store,
        KLAGER,
        "Les",
        "Mevrouw Dijkstra was onbeleefd.",
        now(),
    );
    assert_eq!(
        recipients_of(&store, OutboxKind::StaffNotification),
        vec![DIRECTOR, COMMITTEE]
    );
}

// --- erasure and the dossier -------------------------------------------------------------

fn raw(from: &str, subject: &str, body: &str, id: &str) -> String {
    format!(
        "From: <{from}>\r\nTo: info@example.org\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\r\n{body}\r\n"
    )
}

fn erase(o: &Office, address: &str, reason: &str) -> (String, u8) {
    klachtd::cli::erase::command(
        o.settings.clone(),
        address,
        reason,
        false,
        true,
        Arc::new(o.clock.clone()),
    )
    .unwrap()
}

#[test]
fn attack_erase_with_other_spellings_of_the_address_and_a_message_id_that_is_the_address() {
    let o = Office::new("");
    o.deliver(&raw(
        "Jan+1@Example.NET",
        "Eerste janeen",
        "tekst janeen",
        "jan@example.net",
    ));
    o.deliver(&raw(
        "jan+2@example.net",
        "Tweede jantwee",
        "tekst jantwee",
        "jan+2@example.net",
    ));
    o.run_once();
    let (text, _) = erase(&o, "JAN@example.net", "verzoek");
    assert!(text.contains("erased"), "{text}");
    let files = o.files();
    for needle in [
        &b"jan@example.net"[..],
        b"jan+1@",
        b"jan+2@",
        b"janeen",
        b"jantwee",
    ] {
        assert!(
            found_in(&files, needle).is_empty(),
            "{}: {:?}",
            String::from_utf8_lossy(needle),
            found_in(&files, needle)
        );
    }
}

#[test]
fn attack_erase_a_complaint_handed_in_by_phone() {
    let o = Office::new("");
    o.deliver(&format!(
        "Authentication-Results: mail.example.org; auth=pass smtp.auth={ANNA}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\nFrom: <{ANNA}>\r\nTo: info@example.org\r\n\
         Subject: Telefonische klacht telsubject\r\nMessage-ID: <tel@example.org>\r\n\r\nKlacht: beller@example.net\r\n\r\nDe beller klaagt over teltekst.\r\n"
    ));
    o.run_once();
    assert_eq!(cases::list(o.store().conn()).unwrap().len(), 1);
    erase(&o, "beller@example.net", "verzoek");
    let files = o.files();
    for needle in [&b"beller@example.net"[..], b"teltekst", b"telsubject"] {
        assert!(
            found_in(&files, needle).is_empty(),
            "{}: {:?}",
            String::from_utf8_lossy(needle),
            found_in(&files, needle)
        );
    }
}

/// Someone replies from their own address to our acknowledgement to another complainant: it
/// counts as that complainant's follow-up (README, "Who may add to a complaint"). Erasing the
/// one who wrote it takes their words out of that case, and out of the handler's copy.
#[test]
fn attack_erase_a_reply_to_our_mail_from_another_address() {
    let o = Office::new("");
    o.deliver(&raw(
        KLAGER,
        "Les",
        "De les was rommelig.",
        "k1@example.net",
    ));
    o.run_once();
    let store = o.store();
    let ack = outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .find(|m| m.kind == OutboxKind::Acknowledgement)
        .unwrap();
    let r = ack.case.unwrap();
    drop(store);
    o.deliver(&format!(
        "From: <partner@example.com>\r\nTo: info@example.org\r\nSubject: RE: ontvangst\r\nIn-Reply-To: <{}>\r\nMessage-ID: <p1@example.com>\r\n\r\nNamens mijn partner partnertekst.\r\n",
        ack.message_id
    ));
    o.run_once();
    let store = o.store();
    let events = cases::events(store.conn(), case(&store, r).id).unwrap();
    assert!(events.iter().any(|e| e.detail.contains("partnertekst")));
    drop(store);
    erase(&o, "partner@example.com", "verzoek");
    let files = o.files();
    for needle in [&b"partner@example.com"[..], b"partnertekst"] {
        assert!(
            found_in(&files, needle).is_empty(),
            "{}: {:?}",
            String::from_utf8_lossy(needle),
            found_in(&files, needle)
        );
    }
    // The complainant's own case goes on.
    assert!(case(&o.store(), r).complainant_address.is_some());
    assert!(!found_in(&files, b"rommelig").is_empty());
}

#[test]
fn attack_erase_while_another_process_reads_the_database() {
    let o = Office::new("");
    o.deliver(&raw(
        "lezer@example.net",
        "Onderwerp lezertekst",
        "tekst lezertekst",
        "l1@example.net",
    ));
    o.run_once();
    // Another process holds a read transaction open: the log cannot be emptied past it.
    let reader = rusqlite::Connection::open(&o.settings.store.path).unwrap();
    reader
        .execute_batch("BEGIN; SELECT COUNT(*) FROM cases;")
        .unwrap();
    let _: i64 = reader
        .query_row("SELECT COUNT(*) FROM cases", [], |r| r.get(0))
        .unwrap();
    let (text, _) = erase(&o, "lezer@example.net", "verzoek");
    assert!(text.contains("could NOT be emptied"), "{text}");
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    // Run again, as the message says: now it is.
    let (text, _) = erase(&o, "lezer@example.net", "verzoek");
    assert!(text.contains("the write-ahead log emptied"), "{text}");
    let files = o.files();
    for needle in [&b"lezer@example.net"[..], b"lezertekst"] {
        assert!(
            found_in(&files, needle).is_empty(),
            "{}: {:?}",
            String::from_utf8_lossy(needle),
            found_in(&files, needle)
        );
    }
}

#[test]
fn attack_a_reason_that_names_the_person() {
    let o = Office::new("");
    o.deliver(
        "From: Jan Jansen <jan@example.net>\r\nTo: info@example.org\r\nSubject: Les\r\nMessage-ID: <j@example.net>\r\n\r\nRommelig.\r\n",
    );
    o.run_once();
    let err = klachtd::cli::erase::command(
        o.settings.clone(),
        "jan@example.net",
        "brief van Jan Jansen, 1 december",
        false,
        true,
        Arc::new(o.clock.clone()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("the person's name"), "{err}");
}

#[test]
fn attack_another_complainant_mentions_the_address() {
    let o = Office::new("");
    o.deliver(&raw("jan@example.net", "Les", "Rommelig.", "j@example.net"));
    o.deliver(&raw(
        "piet@example.net",
        "Ook ik",
        "Net als jan@example.net vond ik het rommelig.",
        "p@example.net",
    ));
    o.run_once();
    let store = o.store();
    let piet = klachtd::store::person::cases_of(store.conn(), &"piet@example.net".parse().unwrap())
        .unwrap()[0]
        .reference;
    drop(store);
    let (text, _) = erase(&o, "jan@example.net", "verzoek");
    assert!(
        text.contains(&format!("still mentioned in other complainants' cases (their data, not erased; look at them): {piet}")),
        "{text}"
    );
    assert!(case(&o.store(), piet).body.contains("jan@example.net"));
}

#[test]
fn attack_a_dossier_with_a_hostile_file_name_and_a_note_about_someone_else() {
    use base64::Engine;
    let o = Office::new("");
    o.deliver(&format!(
        "From: <jan@example.net>\r\nTo: info@example.org\r\nSubject: Les\r\nMessage-ID: <j@example.net>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nZie bijlage.\r\n\
         --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"../../../../tmp/evil.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4 x")
    ));
    o.run_once();
    let r = klachtd::store::person::cases_of(o.store().conn(), &"jan@example.net".parse().unwrap())
        .unwrap()[0]
        .reference;
    o.deliver(&format!(
        "Authentication-Results: mail.example.org; auth=pass smtp.auth={ANNA}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\nFrom: <{ANNA}>\r\nTo: info@example.org\r\n\
         Subject: RE: {}\r\nMessage-ID: <n@example.org>\r\n\r\nNotitie: ook piet@example.net klaagde hierover\r\n",
        r.tag()
    ));
    o.run_once();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("d");
    klachtd::cli::dossier::command(
        &o.settings,
        "jan@example.net",
        Some(dir.clone()),
        None,
        o.now(),
    )
    .unwrap();
    let mut all = Vec::new();
    let mut todo = vec![out.path().to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                assert!(p.starts_with(&dir), "{}", p.display());
                all.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    assert!(
        all.iter()
            .any(|(p, _)| p.display().to_string().ends_with("evil.pdf"))
    );
    assert!(
        found_in(&all, b"piet@example.net").is_empty(),
        "{:?}",
        found_in(&all, b"piet@example.net")
    );
    let overview = std::fs::read_to_string(dir.join("overzicht.txt")).unwrap();
    assert!(
        overview.contains("ook (adres van een ander) klaagde hierover"),
        "{overview}"
    );
}

/// Pointed at an installation that has no database yet, neither command creates one (nor the
/// dossier's directory): they say where they looked.
#[test]
fn attack_dossier_and_erase_on_a_missing_database_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["dossier", "jan@example.net", "--out", "d"][..],
        &["erase", "jan@example.net", "--reason", "verzoek"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_klachtd"))
            .current_dir(dir.path())
            .env("KLACHTD_LOG", "warn")
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains("no database at"), "{args:?}: {err}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was created"
    );
}
