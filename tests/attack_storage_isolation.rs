//! Attack on schema 10's packing on the complaint (issue 12): many complaints from different
//! people, of any bytes (odd charsets, NUL and 8-bit bytes, bodies beyond the 32 KiB dictionary,
//! binary attachments), taken in with restarts between them (the store reopened, the thread's
//! codecs released as when the daemon idles), then half of them closed and purged two years on.
//! Every case's text and queued mail must read back; no mail of one case may carry another
//! case's words; the purge must succeed and leave none of the purged cases' words anywhere.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::world::World;
use klachtd::domain::CaseStatus;
use klachtd::inbound::RawMail;
use klachtd::jobs::Jobs;
use klachtd::store::{Store, cases, outbox, packed};
use proptest::prelude::*;

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Amsterdam
        .with_ymd_and_hms(2026, 11, day, hour, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// A complaint from person `n` whose text carries its marker, padded with `filler` (any bytes,
/// as Latin-1 text) and, when `attach` is given, a base64 attachment of those bytes.
fn complaint(n: usize, filler: &[u8], attach: Option<&[u8]>) -> Vec<u8> {
    use base64::Engine;
    let marker = format!("GEHEIM{n:04}X");
    let text: String = filler
        .iter()
        .map(|b| match *b {
            b'\r' | b'\n' | 0 => ' ',
            b => b as char,
        })
        .collect();
    let mut body = format!("Mijn klacht {marker}: {text}\r\nGroet, {marker}\r\n").into_bytes();
    let mut raw = format!(
        "From: Persoon {n} <p{n}@example.net>\r\nTo: info@example.org\r\nSubject: Klacht {marker}\r\n\
         Message-ID: <iso-{n}@example.net>\r\nMIME-Version: 1.0\r\n"
    )
    .into_bytes();
    match attach {
        None => {
            raw.extend_from_slice(b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\n");
            raw.append(&mut body);
        }
        Some(bytes) => {
            raw.extend_from_slice(
                b"Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\n\
                  Content-Type: text/plain; charset=iso-8859-1\r\n\r\n",
            );
            raw.append(&mut body);
            raw.extend_from_slice(
                b"\r\n--XX\r\nContent-Type: application/octet-stream; name=\"b.bin\"\r\n\
                  Content-Disposition: attachment; filename=\"b.bin\"\r\n\
                  Content-Transfer-Encoding: base64\r\n\r\n",
            );
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            for line in encoded.as_bytes().chunks(76) {
                raw.extend_from_slice(line);
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(b"--XX--\r\n");
        }
    }
    raw
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, .. ProptestConfig::default() })]
    #[test]
    fn many_cases_restarts_and_a_purge_never_mix_or_leave_data(
        mails in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..40_000),
             proptest::option::weighted(0.3, proptest::collection::vec(any::<u8>(), 1..50_000)),
             any::<bool>()),
            2..12,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("k.sqlite");
        let world = World::with_env(&[
            ("KLACHTD__STORE__PATH", db.to_str().unwrap()),
            ("KLACHTD__ROLES__STAFF", "anna@example.org"),
            ("KLACHTD__ROLES__DIRECTOR", "directie@example.org"),
        ]);
        let mut store = Store::open(&db).unwrap();
        let mut refs = Vec::new();
        for (n, (filler, attach, restart)) in mails.iter().enumerate() {
            if *restart {
                drop(store);
                packed::release();
                store = Store::open(&db).unwrap();
            }
            let raw = RawMail {
                source_key: format!("m{n}"),
                bytes: complaint(n, filler, attach.as_deref()),
                arrived_at: Some(at(2, 9)),
            };
            let outcome = world.intake().process(&mut store, &raw, at(2, 9)).unwrap();
            refs.push(outcome.case.expect("a case"));
        }
        // Every case reads back with its own marker; every queued mail of a case carries no
        // other case's marker.
        let all = cases::list(store.conn()).unwrap();
        prop_assert_eq!(all.len(), refs.len());
        let marker_of = |r: &klachtd::domain::CaseRef| {
            let i = refs.iter().position(|x| x == r).unwrap();
            format!("GEHEIM{i:04}X")
        };
        for c in &all {
            prop_assert!(c.body.contains(&marker_of(&c.reference)), "{} lost its text", c.reference);
        }
        for m in outbox::all(store.conn()).unwrap() {
            let Some(case) = m.case else { continue };
            for (i, _) in refs.iter().enumerate() {
                let other = format!("GEHEIM{i:04}X");
                if other != marker_of(&case) {
                    prop_assert!(!contains(&m.raw, &other), "mail of {} carries {}", case, other);
                }
            }
        }
        // Half of them closed and purged two years on: the purge succeeds; none of their
        // markers is left in any body; the others still read.
        let purged: Vec<usize> = (0..refs.len()).filter(|i| i % 2 == 0).collect();
        store.transaction(|tx| {
            for &i in &purged {
                let mut c = cases::get(tx, refs[i])?.unwrap();
                c.status = CaseStatus::Closed;
                c.reacted_at = Some(c.received_at + Duration::days(1));
                c.closed_at = Some(at(3, 10));
                cases::update(tx, &c)?;
            }
            Ok(())
        }).unwrap();
        drop(store);
        packed::release();
        let mut store = Store::open(&db).unwrap();
        let intake = world.intake();
        let jobs = Jobs { intake: &intake };
        let report = jobs.run_due(&mut store, at(3, 3) + Duration::days(3 * 365)).unwrap();
        prop_assert_eq!(report.purged, purged.len());
        let mut left: Vec<Vec<u8>> = Vec::new();
        for query in [
            "SELECT deflated, NULL FROM mail_bodies",
            "SELECT t.deflated, b.deflated FROM case_texts t LEFT JOIN mail_bodies b ON b.mail_id = t.basis",
            "SELECT t.deflated, b.deflated FROM outbox_bodies t LEFT JOIN mail_bodies b ON b.mail_id = t.basis",
        ] {
            let mut stmt = store.conn().prepare(query).unwrap();
            let rows: Vec<(Vec<u8>, Option<Vec<u8>>)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            for (body, basis) in rows {
                left.push(match basis {
                    Some(basis) => packed::unpack_on(&body, &packed::unpack(&basis).unwrap()).unwrap(),
                    None => packed::unpack(&body).unwrap(),
                });
            }
        }
        for &i in &purged {
            let marker = format!("GEHEIM{i:04}X");
            prop_assert!(!left.iter().any(|b| contains(b, &marker)), "{} left after the purge", marker);
        }
        let kept = cases::list(store.conn()).unwrap();
        for (i, r) in refs.iter().enumerate() {
            if i % 2 == 1 {
                let c = kept.iter().find(|c| c.reference == *r).unwrap();
                let marker = format!("GEHEIM{i:04}X");
                prop_assert!(c.body.contains(&marker), "{} lost its text after the purge", r);
            }
        }
        outbox::all(store.conn()).unwrap();
    }
}
