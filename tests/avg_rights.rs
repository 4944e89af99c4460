//! The complainant's rights under the AVG (issue 25), on a real installation (a Maildir in,
//! `.eml` files out, the database on disk): `klachtd dossier` (art. 15) with its covering
//! letter in Dutch and English and nothing of anyone else; `klachtd erase` (art. 17) with and
//! without open cases and legal holds; and the generative properties — after an erasure no byte
//! of the address or of its cases' texts remains in any file klachtd keeps while every other
//! case is byte-identical, and a dossier holds none of another complainant's data.

mod common;

use chrono::Duration;
use common::avg::*;
use klachtd::domain::CaseRef;
use klachtd::store::{Store, cases, privacy};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

const JAN: &str = "jan.jansen@example.net";
const PIET: &str = "piet.pieters@example.net";
const TRUUS: &str = "truus@example.com";

fn complaint_raw(from: &str, name: &str, subject: &str, body: &str, id: &str) -> String {
    format!(
        "From: {name} <{from}>\r\nTo: info@example.org\r\nSubject: {subject}\r\nMessage-ID: <{id}@example.net>\r\n\r\n{body}\r\n"
    )
}

fn with_attachment(from: &str, subject: &str, body: &str, id: &str, file: &[u8]) -> String {
    use base64::Engine;
    format!(
        "From: <{from}>\r\nTo: info@example.org\r\nSubject: {subject}\r\nMessage-ID: <{id}@example.net>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\
         --b\r\nContent-Type: application/pdf; name=\"factuur.pdf\"\r\nContent-Disposition: attachment; filename=\"factuur.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64::engine::general_purpose::STANDARD.encode(file)
    )
}

fn reply_raw(from: &str, case: CaseRef, body: &str, id: &str, proven: bool) -> String {
    let auth = if proven {
        format!(
            "Authentication-Results: mail.example.org; auth=pass smtp.auth={from}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\n"
        )
    } else {
        String::new()
    };
    format!(
        "{auth}From: <{from}>\r\nTo: info@example.org\r\nSubject: Re: {}\r\nMessage-ID: <{id}@example.org>\r\n\r\n{}\r\n",
        case.tag(),
        body.replace('\n', "\r\n")
    )
}

fn refs_of(store: &Store, who: &str) -> Vec<CaseRef> {
    klachtd::store::person::cases_of(store.conn(), &who.parse().unwrap())
        .unwrap()
        .iter()
        .map(|c| c.reference)
        .collect()
}

/// Jan: two complaints (one with an attachment), a follow-up, staff notes and a reaction;
/// a third party wrote on his case; he himself wrote on Piet's case, and sent mail that was
/// quarantined. Piet: one complaint.
fn office_with_jan_and_piet() -> (Office, CaseRef, CaseRef, CaseRef) {
    let o = Office::new("");
    o.deliver(&with_attachment(
        JAN,
        "Factuur klopt niet jansubject",
        "Ik betaalde twee keer janeen.",
        "j1",
        b"%PDF-1.4 jan factuur",
    ));
    o.deliver(&complaint_raw(
        PIET,
        "Piet Pieters",
        "Lokaal pietsubject",
        "Het lokaal was koud pieteen.",
        "p1",
    ));
    o.run_once();
    let store = o.store();
    let jan1 = refs_of(&store, JAN)[0];
    let piet1 = refs_of(&store, PIET)[0];
    drop(store);
    o.clock.advance(Duration::hours(2));
    o.deliver(&complaint_raw(
        JAN,
        "Jan Jansen",
        "Ook het rooster jansubjecttwee",
        "Het rooster wisselt steeds jantwee.",
        "j2",
    ));
    o.deliver(&reply_raw(
        JAN,
        jan1,
        "Nog een aanvulling jandrie.",
        "j3",
        false,
    ));
    o.deliver(&reply_raw(
        JAN,
        piet1,
        "Ik was er ook bij janvier, het was echt koud.",
        "j4",
        false,
    ));
    o.deliver(&reply_raw(
        TRUUS,
        jan1,
        "Ik ben de buurvrouw van Jan truustekst.",
        "t1",
        false,
    ));
    o.deliver(&format!(
        "X-Spam-Flag: YES\r\nFrom: <{JAN}>\r\nTo: info@example.org\r\nSubject: spam janspam\r\nMessage-ID: <j5@example.net>\r\n\r\njanspamtekst\r\n"
    ));
    o.run_once();
    let jan2 = *refs_of(&o.store(), JAN).last().unwrap();
    o.clock.advance(Duration::hours(2));
    o.deliver(&reply_raw(
        ANNA,
        jan1,
        "Behandelaar: Anna de Vries\nNotitie: belde met meneer Jansen over de factuur\nReactie\n\nBeste heer Jansen, wij storten het terug.",
        "s1",
        true,
    ));
    o.run_once();
    (o, jan1, jan2, piet1)
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_dossier_holds_everything_on_the_person_and_nothing_of_anyone_else() {
    let (o, jan1, jan2, _piet1) = office_with_jan_and_piet();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("jan");
    let text = klachtd::cli::dossier::command(
        &o.settings,
        "Jan.Jansen@Example.net",
        Some(dir.clone()),
        None,
        o.now(),
    )
    .unwrap();
    assert!(
        text.contains("2 case(s), 5 mail(s) received, 2 sent"),
        "{text}"
    );
    assert_eq!(mode(&dir), 0o700);
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.clone()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                assert_eq!(mode(&p), 0o700, "{}", p.display());
                todo.push(p);
            } else {
                assert_eq!(mode(&p), 0o600, "{}", p.display());
                let rel = p.strip_prefix(&dir).unwrap().display().to_string();
                files.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let names: Vec<&String> = files.keys().collect();
    // Every mail of his as received, byte for byte: the complaints, the follow-up, his mail on
    // Piet's case, the quarantined one.
    let received: Vec<&String> = names
        .iter()
        .copied()
        .filter(|n| n.starts_with("ontvangen/"))
        .collect();
    assert_eq!(received.len(), 5, "{names:?}");
    let all_received: Vec<u8> = received.iter().flat_map(|n| files[*n].clone()).collect();
    for marker in ["janeen", "jantwee", "jandrie", "janvier", "janspamtekst"] {
        assert!(
            String::from_utf8_lossy(&all_received).contains(marker),
            "{marker}"
        );
    }
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("ontvangen/") && n.contains(&format!("{jan1}-klacht")))
    );
    // What was sent to him: the acknowledgement (one a day) and the reaction.
    let sent: Vec<&String> = names
        .iter()
        .copied()
        .filter(|n| n.starts_with("verzonden/"))
        .collect();
    assert_eq!(sent.len(), 2, "{names:?}");
    assert!(sent.iter().any(|n| n.ends_with("reactie.eml")));
    // His attachment, as it came.
    assert_eq!(
        files[&format!("bijlagen/{jan1}/1-factuur.pdf")],
        b"%PDF-1.4 jan factuur"
    );
    // The overview: both cases, the registration, staff notes.
    let overview = String::from_utf8(files["overzicht.txt"].clone()).unwrap();
    for expected in [
        jan1.to_string(),
        jan2.to_string(),
        "Anna de Vries".into(),
        "belde met meneer Jansen over de factuur".into(),
        "Beste heer Jansen, wij storten het terug.".into(),
        "Ik betaalde twee keer janeen.".into(),
        "Nog een aanvulling jandrie.".into(),
        "niet opgenomen, omdat het gegevens van die ander bevat".into(),
    ] {
        assert!(
            overview.contains(&expected),
            "{expected} not in\n{overview}"
        );
    }
    let json: serde_json::Value = serde_json::from_slice(&files["overzicht.json"]).unwrap();
    assert_eq!(json["cases"].as_array().unwrap().len(), 2);
    // Nothing of Piet, nothing of the third party.
    for (name, bytes) in &files {
        let s = String::from_utf8_lossy(bytes).to_lowercase();
        for other in [
            PIET,
            "pieteen",
            "pietsubject",
            "piet pieters",
            TRUUS,
            "truustekst",
            "buurvrouw",
        ] {
            assert!(!s.contains(other), "{other} in {name}");
        }
    }
    // The covering letter says what the Autoriteit Persoonsgegevens asks.
    let letter = String::from_utf8(files["brief.txt"].clone()).unwrap();
    for part in [
        "artikel 15",
        "Waarvoor",
        "Welke gegevens",
        "Wie de gegevens ziet",
        "de directeur",
        "examencommissie",
        "Tot 2 jaar nadat",
        "Waar de gegevens vandaan komen",
        "verbeteren",
        "verwijderen",
        "beperken",
        "bezwaar",
        "Autoriteit Persoonsgegevens",
        "Beste Jan Jansen,",
        &jan1.to_string(),
        "ontvangen/",
        "Over uw klacht ontvingen wij ook e-mail van een ander",
    ] {
        assert!(letter.contains(part), "{part} not in\n{letter}");
    }
    assert!(files["brief.html"].starts_with(b"<!DOCTYPE html>"));
    // Recorded on each case.
    let store = o.store();
    for r in [jan1, jan2] {
        let c = cases::get(store.conn(), r).unwrap().unwrap();
        let events = cases::events(store.conn(), c.id).unwrap();
        assert!(events.iter().any(|e| e.kind == "dossier"), "{r}");
    }
    // A directory that is not empty is never written into.
    let again = klachtd::cli::dossier::command(&o.settings, JAN, Some(dir.clone()), None, o.now());
    assert!(again.unwrap_err().to_string().contains("not empty"));
}

#[test]
fn the_covering_letter_in_english_and_for_someone_we_hold_nothing_on() {
    let (o, _, _, _) = office_with_jan_and_piet();
    let out = tempfile::tempdir().unwrap();
    klachtd::cli::dossier::command(
        &o.settings,
        JAN,
        Some(out.path().join("en")),
        Some("en"),
        o.now(),
    )
    .unwrap();
    let letter = std::fs::read_to_string(out.path().join("en/letter.txt")).unwrap();
    for part in [
        "Article 15",
        "What we use it for",
        "Who sees it",
        "How long we keep it",
        "Up to 2 years",
        "rectification",
        "erase",
        "restrict",
        "object",
        "Autoriteit Persoonsgegevens",
        "Dear Jan Jansen,",
    ] {
        assert!(letter.contains(part), "{part} not in\n{letter}");
    }
    let dutch = [
        "de", "het", "een", "uw", "klacht", "wij", "niet", "bewaren", "gegevens",
    ];
    let english_words: Vec<String> = letter
        .replace("Autoriteit Persoonsgegevens", "")
        .split(|c: char| !c.is_alphabetic())
        .map(str::to_lowercase)
        .collect();
    for d in dutch {
        assert!(!english_words.contains(&d.to_string()), "{d} in\n{letter}");
    }
    assert!(out.path().join("en/overview.txt").exists());
    klachtd::cli::dossier::command(
        &o.settings,
        "nobody@example.net",
        Some(out.path().join("none")),
        None,
        o.now(),
    )
    .unwrap();
    let letter = std::fs::read_to_string(out.path().join("none/brief.txt")).unwrap();
    assert!(
        letter.contains("Wij bewaren geen gegevens over u"),
        "{letter}"
    );
}

/// Everything the register holds of one case, as bytes, for before/after comparisons.
fn case_dump(store: &Store, r: CaseRef) -> Vec<String> {
    let conn = store.conn();
    let id: i64 = conn
        .query_row(
            "SELECT id FROM cases WHERE reference = ?1",
            [r.to_string()],
            |row| row.get(0),
        )
        .unwrap();
    let mut out = Vec::new();
    for (table, filter) in [
        ("cases", "id = ?1"),
        ("case_texts", "case_id = ?1"),
        ("case_privacy", "case_id = ?1"),
        ("attachments", "case_id = ?1"),
        ("events", "case_id = ?1"),
        ("outbox", "case_id = ?1"),
        (
            "outbox_bodies",
            "outbox_id IN (SELECT id FROM outbox WHERE case_id = ?1)",
        ),
        ("mails", "case_id = ?1"),
        (
            "mail_bodies",
            "mail_id IN (SELECT id FROM mails WHERE case_id = ?1)",
        ),
        ("acknowledgements", "case_id = ?1"),
        ("tokens", "case_id = ?1"),
    ] {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT * FROM {table} WHERE {filter} ORDER BY rowid"
            ))
            .unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([id]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let cells: Vec<String> = (0..n)
                .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                .collect();
            out.push(format!("{table}: {}", cells.join(" | ")));
        }
    }
    out
}

/// 24 bytes from the middle of every compressed body that holds `who`'s data: found anywhere
/// after an erasure, the body was not overwritten.
fn compressed_windows(store: &Store, who: &str) -> Vec<Vec<u8>> {
    let conn = store.conn();
    let person: klachtd::domain::EmailAddress = who.parse().unwrap();
    let mut ids: Vec<i64> = klachtd::store::person::mails_from(conn, &person)
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    let case_ids: Vec<i64> = klachtd::store::person::cases_of(conn, &person)
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    let mut blobs: Vec<Vec<u8>> = Vec::new();
    for c in &case_ids {
        let mut stmt = conn
            .prepare("SELECT id FROM mails WHERE case_id = ?1")
            .unwrap();
        ids.extend(
            stmt.query_map([c], |r| r.get::<_, i64>(0))
                .unwrap()
                .map(Result::unwrap),
        );
        for sql in [
            "SELECT deflated FROM case_texts WHERE case_id = ?1",
            "SELECT deflated FROM outbox_bodies WHERE outbox_id IN (SELECT id FROM outbox WHERE case_id = ?1)",
        ] {
            let mut stmt = conn.prepare(sql).unwrap();
            blobs.extend(
                stmt.query_map([c], |r| r.get::<_, Vec<u8>>(0))
                    .unwrap()
                    .map(Result::unwrap),
            );
        }
    }
    for id in ids {
        let mut stmt = conn
            .prepare("SELECT deflated FROM mail_bodies WHERE mail_id = ?1")
            .unwrap();
        blobs.extend(
            stmt.query_map([id], |r| r.get::<_, Vec<u8>>(0))
                .unwrap()
                .map(Result::unwrap),
        );
    }
    // Bodies packed on near-identical complaints can share runs of bytes: only a window no
    // other body holds says anything.
    let mut others: Vec<Vec<u8>> = Vec::new();
    for sql in [
        "SELECT deflated FROM mail_bodies",
        "SELECT deflated FROM case_texts",
        "SELECT deflated FROM outbox_bodies",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        others.extend(
            stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))
                .unwrap()
                .map(Result::unwrap)
                .filter(|b| !blobs.contains(b)),
        );
    }
    blobs
        .iter()
        .filter(|b| b.len() >= 48)
        .filter_map(|b| {
            (b.len() / 4..b.len() - 24)
                .step_by(8)
                .map(|at| b[at..at + 24].to_vec())
                .find(|w| others.iter().all(|o| memchr::memmem::find(o, w).is_none()))
        })
        .collect()
}

fn exact_in(files: &[(std::path::PathBuf, Vec<u8>)], needle: &[u8]) -> Vec<String> {
    files
        .iter()
        .filter(|(_, b)| memchr::memmem::find(b, needle).is_some())
        .map(|(p, _)| p.display().to_string())
        .collect()
}

#[test]
fn erase_removes_the_person_from_every_file_and_leaves_everyone_else_alone() {
    let (o, jan1, jan2, piet1) = office_with_jan_and_piet();
    // Jan's first case is still open (reacted): kept without --include-open.
    let (text, code) = klachtd::cli::erase::command(
        o.settings.clone(),
        JAN,
        "verzoek per brief van 1 december",
        false,
        false,
        std::sync::Arc::new(o.clock.clone()),
    )
    .unwrap();
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains(&format!("{jan1}  KEPT: still reacted")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{jan2}  KEPT: still open")),
        "{text}"
    );
    // His mail on Piet's case and his quarantined mail went already.
    let files = o.files();
    assert!(
        found_in(&files, b"janvier").is_empty(),
        "{:?}",
        found_in(&files, b"janvier")
    );
    assert!(found_in(&files, b"janspamtekst").is_empty());
    let piet_before = case_dump(&o.store(), piet1);
    let windows = compressed_windows(&o.store(), JAN);
    assert!(!windows.is_empty());
    let (text, code) = klachtd::cli::erase::command(
        o.settings.clone(),
        JAN,
        "verzoek per brief van 1 december",
        false,
        true,
        std::sync::Arc::new(o.clock.clone()),
    )
    .unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("{jan1}  erased (it was still running")),
        "{text}"
    );
    assert!(text.contains("the write-ahead log emptied"), "{text}");
    let files = o.files();
    for needle in [
        JAN.as_bytes(),
        b"jansubject",
        b"janeen",
        b"jantwee",
        b"jandrie",
        b"janvier",
        b"janspam",
        b"jan factuur",
        b"Jan Jansen",
        b"meneer Jansen",
    ] {
        assert!(
            found_in(&files, needle).is_empty(),
            "{} still in {:?}",
            String::from_utf8_lossy(needle),
            found_in(&files, needle)
        );
    }
    for w in &windows {
        assert!(
            exact_in(&files, w).is_empty(),
            "a compressed body of Jan's is still in {:?}",
            exact_in(&files, w)
        );
    }
    // Piet's case is byte for byte what it was, though Jan wrote on it (that line is neutral now).
    let store = o.store();
    let piet_after = case_dump(&store, piet1);
    assert_eq!(piet_before, piet_after);
    assert!(
        found_in(&files, b"pieteen")
            .iter()
            .any(|f| f.contains("outbox") || f.contains("mail"))
    );
    // The anonymous facts stay; a record of the erasure, without the address.
    let c = cases::get(store.conn(), jan1).unwrap().unwrap();
    assert_eq!(c.status, klachtd::domain::CaseStatus::Closed);
    assert!(c.complainant_address.is_none() && c.purged_at.is_some());
    assert_eq!(c.handler.as_deref(), Some("Anna de Vries"));
    let erasures = privacy::erasures(store.conn()).unwrap();
    assert_eq!(erasures.len(), 2);
    assert_eq!(erasures[1].cases, 2);
    assert_eq!(
        erasures[1].references,
        vec![jan1.to_string(), jan2.to_string()]
    );
    assert_eq!(erasures[1].reason, "verzoek per brief van 1 december");
    // A dossier of him now says we hold nothing.
    let out = tempfile::tempdir().unwrap();
    let said =
        klachtd::cli::dossier::command(&o.settings, JAN, Some(out.path().join("d")), None, o.now())
            .unwrap();
    assert!(said.contains("0 case(s), 0 mail(s) received"), "{said}");
}

#[test]
fn erase_refuses_a_held_case_with_the_holds_reason_and_a_reason_naming_the_person() {
    let (o, jan1, jan2, _) = office_with_jan_and_piet();
    o.deliver(&reply_raw(
        DIRECTOR,
        jan1,
        "Bewaren tot: 2029-06-30 — lopende procedure",
        "d1",
        true,
    ));
    o.run_once();
    let err = klachtd::cli::erase::command(
        o.settings.clone(),
        JAN,
        &format!("verzoek van {JAN}"),
        false,
        true,
        std::sync::Arc::new(o.clock.clone()),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("must not contain the address"),
        "{err}"
    );
    let err = klachtd::cli::erase::command(
        o.settings.clone(),
        ANNA,
        "x",
        false,
        true,
        std::sync::Arc::new(o.clock.clone()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("has a role"), "{err}");
    let (dry, code) = klachtd::cli::erase::command(
        o.settings.clone(),
        JAN,
        "verzoek",
        true,
        true,
        std::sync::Arc::new(o.clock.clone()),
    )
    .unwrap();
    assert_eq!(code, 3);
    assert!(dry.contains("dry run: nothing changed"), "{dry}");
    assert_eq!(refs_of(&o.store(), JAN).len(), 2, "nothing changed");
    let (text, code) = klachtd::cli::erase::command(
        o.settings.clone(),
        JAN,
        "verzoek",
        false,
        true,
        std::sync::Arc::new(o.clock.clone()),
    )
    .unwrap();
    assert_eq!(code, 3);
    assert!(
        text.contains(&format!(
            "{jan1}  KEPT: legal hold until 2029-06-30 — lopende procedure"
        )),
        "{text}"
    );
    assert!(text.contains(&format!("{jan2}  erased")), "{text}");
    assert_eq!(refs_of(&o.store(), JAN), vec![jan1]);
}

#[test]
fn erase_names_the_backups_it_cannot_reach() {
    let (o, _, _, _) = office_with_jan_and_piet();
    let backup = o.dir.path().join("klachtd-backup.sqlite");
    klachtd::store::maintenance::backup(&o.settings.store.path, &backup).unwrap();
    klachtd::cli::erase::note_backup(&o.settings, &backup, o.now()).unwrap();
    let (text, _) = klachtd::cli::erase::command(
        o.settings.clone(),
        JAN,
        "verzoek",
        true,
        true,
        std::sync::Arc::new(o.clock.clone()),
    )
    .unwrap();
    assert!(text.contains("backups klachtd cannot change"), "{text}");
    assert!(text.contains("klachtd-backup.sqlite"), "{text}");
}

/// One complainant's mail in a generated register.
#[derive(Debug, Clone)]
enum Act {
    Complaint { who: usize, with_file: bool },
    FollowUp { who: usize, case: usize },
    ThirdParty { who: usize, case: usize },
    Quarantined { who: usize },
    StaffNote { case: usize, close: bool },
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        3 => (0usize..4, any::<bool>()).prop_map(|(who, with_file)| Act::Complaint { who, with_file }),
        2 => (0usize..4, 0usize..8).prop_map(|(who, case)| Act::FollowUp { who, case }),
        1 => (0usize..4, 0usize..8).prop_map(|(who, case)| Act::ThirdParty { who, case }),
        1 => (0usize..4).prop_map(|who| Act::Quarantined { who }),
        2 => (0usize..8, any::<bool>()).prop_map(|(case, close)| Act::StaffNote { case, close }),
    ]
}

fn person(i: usize) -> String {
    format!("persoon{i}.q@voorbeeld{i}.nl")
}

fn marker(who: usize, n: usize) -> String {
    format!("mrk{who}x{n}zq")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// For any register and any address: after `erase` no byte of that address or of its
    /// cases' texts remains in any file klachtd keeps (the database, its log, the Maildir, the
    /// outbox), every case of everyone else that their mail never touched is byte-identical,
    /// and before it a dossier of each complainant holds none of another complainant's data.
    #[test]
    fn erase_leaves_no_byte_and_a_dossier_no_stranger(
        acts in proptest::collection::vec(act(), 1..14),
        victim in 0usize..4,
    ) {
        let o = Office::new("");
        let mut n = 0;
        // Markers of each person's own words.
        let mut words: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut marked = |who: usize, words: &mut BTreeMap<usize, Vec<String>>| {
            n += 1;
            let m = marker(who, n);
            words.entry(who).or_default().push(m.clone());
            m
        };
        // Complaints first, so later mail has cases to name.
        for a in &acts {
            if let Act::Complaint { who, with_file } = a {
                let m = marked(*who, &mut words);
                let raw = if *with_file {
                    with_attachment(&person(*who), &format!("onderwerp {m}"), &format!("tekst {m}"), &m, format!("%PDF-1.4 {m}").as_bytes())
                } else {
                    complaint_raw(&person(*who), "Klager", &format!("onderwerp {m}"), &format!("tekst {m}"), &m)
                };
                o.deliver(&raw);
            }
        }
        o.run_once();
        let store = o.store();
        let all: Vec<(CaseRef, Option<String>)> = cases::list(store.conn())
            .unwrap()
            .into_iter()
            .map(|c| (c.reference, c.complainant_address))
            .collect();
        drop(store);
        o.clock.advance(Duration::hours(1));
        let mut staff_n = 0;
        for a in &acts {
            match a {
                Act::Complaint { .. } => {}
                _ if all.is_empty() => {}
                Act::FollowUp { who, case } => {
                    // From the case's own complainant: a follow-up.
                    let (r, owner) = &all[case % all.len()];
                    let owner_i = (0..4).find(|i| owner.as_deref() == Some(person(*i).as_str())).unwrap_or(*who);
                    let m = marked(owner_i, &mut words);
                    o.deliver(&reply_raw(&person(owner_i), *r, &format!("aanvulling {m}"), &m, false));
                }
                Act::ThirdParty { who, case } => {
                    let (r, _) = &all[case % all.len()];
                    let m = marked(*who, &mut words);
                    o.deliver(&reply_raw(&person(*who), *r, &format!("derde {m}"), &m, false));
                }
                Act::Quarantined { who } => {
                    let m = marked(*who, &mut words);
                    o.deliver(&format!(
                        "X-Spam-Flag: YES\r\nFrom: <{}>\r\nTo: info@example.org\r\nSubject: {m}\r\nMessage-ID: <{m}@example.net>\r\n\r\n{m}\r\n",
                        person(*who)
                    ));
                }
                Act::StaffNote { case, close } => {
                    let (r, _) = &all[case % all.len()];
                    staff_n += 1;
                    let body = if *close {
                        "Behandelaar: Anna de Vries\nOorzaak: drukte\nOplossing: excuses\nAkkoord: ja\nAfgehandeld".to_string()
                    } else {
                        "Notitie: gebeld".to_string()
                    };
                    o.deliver(&reply_raw(ANNA, *r, &body, &format!("s{staff_n}"), true));
                }
            }
        }
        o.run_once();
        o.clock.advance(Duration::days(8));
        o.run_once();

        // Dossiers: none holds another complainant's address or words. A third party's mail
        // on someone's case is that third party's, so it is in neither's dossier's overview.
        for p in 0..4 {
            let out = tempfile::tempdir().unwrap();
            klachtd::cli::dossier::command(&o.settings, &person(p), Some(out.path().join("d")), None, o.now()).unwrap();
            let mut todo = vec![out.path().to_path_buf()];
            while let Some(d) = todo.pop() {
                for e in std::fs::read_dir(&d).unwrap() {
                    let path = e.unwrap().path();
                    if path.is_dir() { todo.push(path); continue; }
                    let bytes = std::fs::read(&path).unwrap();
                    let text = String::from_utf8_lossy(&bytes).to_lowercase().replace("=\r\n", "");
                    for other in (0..4).filter(|q| *q != p) {
                        prop_assert!(!text.contains(&person(other)), "{} in {}'s dossier {}", person(other), p, path.display());
                        for m in words.get(&other).into_iter().flatten() {
                            prop_assert!(!text.contains(m.as_str()), "{} of {} in {}'s dossier {}", m, other, p, path.display());
                        }
                    }
                }
            }
        }

        // The erasure.
        let store = o.store();
        let untouched: Vec<CaseRef> = {
            let mut out = Vec::new();
            for (r, owner) in &all {
                if owner.as_deref() == Some(person(victim).as_str()) { continue; }
                let id = cases::get(store.conn(), *r).unwrap().unwrap().id;
                let touched: i64 = store.conn().query_row(
                    "SELECT COUNT(*) FROM mails WHERE case_id = ?1 AND sender = ?2", rusqlite::params![id, person(victim)], |row| row.get(0)).unwrap();
                if touched == 0 { out.push(*r); }
            }
            out
        };
        let before: Vec<Vec<String>> = untouched.iter().map(|r| case_dump(&store, *r)).collect();
        let windows = compressed_windows(&store, &person(victim));
        drop(store);
        let (text, _) = klachtd::cli::erase::command(
            o.settings.clone(), &person(victim), "verzoek", false, true,
            std::sync::Arc::new(o.clock.clone()),
        ).unwrap();
        prop_assert!(text.contains("the write-ahead log emptied"), "{}", text);
        let files = o.files();
        let mut needles: Vec<Vec<u8>> = vec![person(victim).into_bytes()];
        needles.extend(words.get(&victim).into_iter().flatten().map(|m| m.clone().into_bytes()));
        for needle in &needles {
            let at = found_in(&files, needle);
            prop_assert!(at.is_empty(), "{} still in {:?}\n{}", String::from_utf8_lossy(needle), at, text);
        }
        for w in &windows {
            let at = exact_in(&files, w);
            prop_assert!(at.is_empty(), "a compressed body is still in {:?}", at);
        }
        let store = o.store();
        let after: Vec<Vec<String>> = untouched.iter().map(|r| case_dump(&store, *r)).collect();
        prop_assert_eq!(before, after);
    }
}
