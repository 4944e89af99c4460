//! The scheduled jobs with an injected clock: reminders and overdue alerts across a weekend
//! and Easter 2026, catching up after downtime, the weekly digest, the yearly analysis of a
//! seeded year checked against hand-computed figures, and the retention purge.

mod common;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;
use common::world::World;
use klachtd::domain::{CaseStatus, EmailAddress};
use klachtd::jobs::Jobs;
use klachtd::settings::Settings;
use klachtd::store::outbox::{self, OutboxKind};
use klachtd::store::{NewCase, Store, cases};

/// A moment in Amsterdam local time.
fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Amsterdam
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn settings(db: Option<&std::path::Path>) -> Settings {
    let mut env = vec![
        (
            "KLACHTD__ROLES__STAFF".to_string(),
            "anna@example.org,pieter@example.org".to_string(),
        ),
        (
            "KLACHTD__ROLES__DIRECTOR".to_string(),
            "directie@example.org".to_string(),
        ),
    ];
    if let Some(db) = db {
        env.push(("KLACHTD__STORE__PATH".into(), db.display().to_string()));
    }
    Settings::load_with_env(None, env).unwrap()
}

fn kinds_sent(store: &Store, kind: OutboxKind) -> Vec<klachtd::store::QueuedMail> {
    outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == kind)
        .collect()
}

#[test]
fn reminders_and_one_overdue_alert_across_easter_2026_and_a_weekend() {
    let world = World::new(settings(None));
    let intake = world.intake();
    let jobs = Jobs { intake: &intake };
    let mut store = Store::open_in_memory().unwrap();
    // Thursday 2 April 2026: five working days skip Easter Monday → due Friday 10 April.
    let received = local(2026, 4, 2, 10, 0);
    let case = world.complaint(&mut store, "easter", "klager@example.net", received);
    assert_eq!(
        cases::get(store.conn(), case)
            .unwrap()
            .unwrap()
            .reaction_due,
        NaiveDate::from_ymd_opt(2026, 4, 10).unwrap()
    );
    // Walk the clock hour by hour for two weeks, running the scheduler each time.
    let mut reminders_at = Vec::new();
    let mut alerts_at = Vec::new();
    let mut now = received;
    while now < local(2026, 4, 17, 0, 0) {
        let report = jobs.run_due(&mut store, now).unwrap();
        for _ in 0..report.reminders {
            reminders_at.push(
                now.with_timezone(&Amsterdam)
                    .format("%a %d %b %H:%M")
                    .to_string(),
            );
        }
        for _ in 0..report.overdue {
            alerts_at.push(
                now.with_timezone(&Amsterdam)
                    .format("%a %d %b %H:%M")
                    .to_string(),
            );
        }
        now += Duration::hours(1);
    }
    assert_eq!(
        reminders_at,
        ["Thu 09 Apr 08:00", "Fri 10 Apr 08:00"],
        "1 working day before, and the morning of"
    );
    assert_eq!(
        alerts_at,
        ["Mon 13 Apr 08:00"],
        "the next working morning, after the weekend"
    );
    // Each reminder went to both staff (no handler), each alert to the director.
    assert_eq!(kinds_sent(&store, OutboxKind::Reminder).len(), 4);
    let alerts = kinds_sent(&store, OutboxKind::OverdueAlert);
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].recipients,
        vec!["directie@example.org".to_string()]
    );
    let text = klachtd::inbound::InboundMail::parse(&alerts[0].raw)
        .unwrap()
        .text;
    assert!(
        text.contains(&case.to_string()) && text.contains("1 werkdag te laat"),
        "{text}"
    );
}

#[test]
fn a_daemon_stopped_over_the_deadline_sends_the_missed_reminder_once() {
    let world = World::new(settings(None));
    let intake = world.intake();
    let jobs = Jobs { intake: &intake };
    let mut store = Store::open_in_memory().unwrap();
    let received = local(2026, 4, 2, 10, 0);
    world.complaint(&mut store, "down", "klager@example.net", received);
    jobs.run_due(&mut store, received).unwrap();
    // Down from Thursday 2 April until Monday 13 April 09:00.
    let back = local(2026, 4, 13, 9, 0);
    let first = jobs.run_due(&mut store, back).unwrap();
    assert_eq!(
        (first.reminders, first.overdue),
        (1, 1),
        "one catch-up reminder and the alert"
    );
    for later in [back, back + Duration::minutes(1), back + Duration::days(1)] {
        let again = jobs.run_due(&mut store, later).unwrap();
        assert_eq!((again.reminders, again.overdue), (0, 0), "never twice");
    }
    assert!(cases::is_overdue(
        &cases::list(store.conn()).unwrap()[0],
        NaiveDate::from_ymd_opt(2026, 4, 13).unwrap()
    ));
}

#[test]
fn the_weekly_digest_for_a_known_week() {
    let world = World::new(settings(None));
    let intake = world.intake();
    let jobs = Jobs { intake: &intake };
    let mut store = Store::open_in_memory().unwrap();
    jobs.run_due(&mut store, local(2026, 11, 1, 12, 0)).unwrap(); // installed before the week
    // Week of Monday 16 – Sunday 22 November 2026; the digest goes out Monday 23 at 08:00.
    let old = world.complaint(&mut store, "old", "a@example.net", local(2026, 11, 9, 9, 0)); // overdue by then
    let new1 = world.complaint(
        &mut store,
        "new1",
        "b@example.net",
        local(2026, 11, 17, 11, 0),
    );
    let new2 = world.complaint(
        &mut store,
        "new2",
        "c@example.net",
        local(2026, 11, 20, 15, 0),
    );
    let closed = world.complaint(
        &mut store,
        "closed",
        "d@example.net",
        local(2026, 11, 10, 9, 0),
    );
    store
        .transaction(|tx| {
            let mut c = cases::get(tx, closed)?.unwrap();
            c.status = CaseStatus::Closed;
            c.reacted_at = Some(local(2026, 11, 12, 10, 0));
            c.closed_at = Some(local(2026, 11, 18, 10, 0));
            c.agreement = Some(true);
            cases::update(tx, &c)?;
            let mut e = cases::get(tx, new1)?.unwrap();
            e.escalated_at = Some(local(2026, 11, 19, 10, 0));
            cases::update(tx, &e)
        })
        .unwrap();
    let before = jobs
        .run_due(&mut store, local(2026, 11, 23, 7, 59))
        .unwrap();
    assert_eq!(before.digests, 0, "not before Monday 08:00");
    let content = jobs
        .digest_content(store.conn(), local(2026, 11, 23, 8, 0))
        .unwrap();
    let refs = |lines: &[klachtd::jobs::digest::DigestLine]| {
        lines
            .iter()
            .map(|l| l.reference.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        refs(&content.new_cases),
        [new1.to_string(), new2.to_string()]
    );
    assert_eq!(refs(&content.closed), [closed.to_string()]);
    assert_eq!(content.closed[0].agreement, "ja");
    assert_eq!(refs(&content.escalated), [new1.to_string()]);
    assert_eq!(content.open_count, 3);
    assert_eq!(content.overdue_count, 1);
    assert_eq!(
        content.open_cases[0].reference,
        old.to_string(),
        "overdue first"
    );
    assert!(content.open_cases[0].overdue);
    assert_eq!(content.median_reaction_days, Some(2.0), "10 Nov → 12 Nov");
    assert_eq!(content.week, "2026-W47", "named after the week it covers");
    let sent = jobs.run_due(&mut store, local(2026, 11, 23, 8, 0)).unwrap();
    assert_eq!(sent.digests, 1);
    assert_eq!(
        jobs.run_due(&mut store, local(2026, 11, 23, 9, 0))
            .unwrap()
            .digests,
        0,
        "once a week"
    );
    let digest = &kinds_sent(&store, OutboxKind::Digest)[0];
    assert_eq!(digest.recipients, vec!["directie@example.org".to_string()]);
    let mail = klachtd::inbound::InboundMail::parse(&digest.raw).unwrap();
    assert_eq!(mail.subject, "Klachten week 2026-W47: 3 open, 1 over tijd");
    assert!(
        mail.html.unwrap().contains("viewport"),
        "readable on a phone"
    );
}

/// 200 cases in 2026 with known working days to reaction (i mod 8) and to closing (i mod 20).
fn seed_year(world: &World, store: &mut Store) {
    let cal = &world.calendar;
    let categories = ["planning", "docent", "examen", "financieel"];
    store
        .transaction(|tx| {
            for i in 0..200u32 {
                let month = i % 12 + 1;
                let day0 =
                    cal.working_day_on_or_after(NaiveDate::from_ymd_opt(2026, month, 3).unwrap());
                let received = Amsterdam
                    .from_local_datetime(&day0.and_hms_opt(10, 0, 0).unwrap())
                    .unwrap()
                    .with_timezone(&Utc);
                let reference = cases::next_reference(tx, 2026)?;
                let who: EmailAddress = format!("klager{i}@example.net").parse()?;
                let id = cases::insert(
                    tx,
                    reference,
                    &NewCase {
                        language: "nl",
                        complainant: klachtd::store::Complainant::Reachable(&who),
                        complainant_name: Some("Klager"),
                        subject: "Klacht",
                        body: "tekst",
                        received_at: received,
                        reaction_due: cal.deadline(day0, 5),
                        basis: None,
                    },
                )?;
                let at = |d: NaiveDate| {
                    Amsterdam
                        .from_local_datetime(&d.and_hms_opt(11, 0, 0).unwrap())
                        .unwrap()
                        .with_timezone(&Utc)
                };
                let reacted = cal.add_working_days(day0, i % 8);
                let closed = cal.add_working_days(reacted, i % 20);
                let mut c = cases::by_id(tx, id)?.unwrap();
                c.status = if i % 25 == 0 {
                    CaseStatus::Final
                } else {
                    CaseStatus::Closed
                };
                c.reacted_at = Some(at(reacted));
                c.closed_at = Some(at(closed));
                c.closing_due = Some(cal.deadline(reacted, 14));
                c.category = Some(categories[(i % 4) as usize].into());
                c.handler = Some(if i % 2 == 0 { "Anna" } else { "Pieter" }.into());
                c.agreement = Some(i % 3 != 0);
                c.cause = (i % 40 == 0).then(|| format!("oorzaak {i}"));
                c.measure = (i % 50 == 0).then(|| format!("maatregel {i}"));
                c.escalated_at = (i % 10 == 0).then(|| at(reacted));
                c.appealed_at = (i % 25 == 0).then(|| at(closed));
                c.verdict = (i % 25 == 0).then(|| {
                    if i % 50 == 0 {
                        "gegrond: ja"
                    } else {
                        "ongegrond: nee"
                    }
                    .to_string()
                });
                c.verdict_at = c.appealed_at;
                cases::update(tx, &c)?;
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_yearly_analysis_matches_hand_computed_figures() {
    let world = World::new(settings(None));
    let intake = world.intake();
    let jobs = Jobs { intake: &intake };
    let mut store = Store::open_in_memory().unwrap();
    seed_year(&world, &mut store);
    let r = jobs
        .year_report(
            store.conn(),
            2026,
            NaiveDate::from_ymd_opt(2027, 1, 4).unwrap(),
        )
        .unwrap();
    assert_eq!(r.total, 200);
    // Months: 200 = 12 × 16 + 8, so January–August have 17, the rest 16.
    let months: Vec<usize> = r.per_month.iter().map(|m| m.count).collect();
    assert_eq!(months, [17, 17, 17, 17, 17, 17, 17, 17, 16, 16, 16, 16]);
    assert!(r.per_category.iter().all(|c| c.count == 50));
    assert!(r.per_handler.iter().all(|c| c.count == 100));
    // Reaction days 0..7, 25 each: 150 within 5; median (3+4)/2; p90 = 180th value = 7.
    assert_eq!((r.reaction.within, r.reaction.measured), (150, 200));
    assert_eq!(r.reaction.median, Some(3.5));
    assert_eq!(r.reaction.p90, Some(7));
    // Closing days 0..19, 10 each: 150 within 14; median (9+10)/2; p90 = 180th value = 17.
    assert_eq!((r.closing.within, r.closing.measured), (150, 200));
    assert_eq!(r.closing.median, Some(9.5));
    assert_eq!(r.closing.p90, Some(17));
    // Agreement: i mod 3 ≠ 0 → 133 of 200.
    assert_eq!((r.agreement_yes, r.agreement_no), (133, 67));
    assert_eq!(r.escalations, 20);
    assert_eq!((r.appeals, r.upheld, r.rejected), (8, 4, 4));
    assert_eq!(r.causes.len(), 5);
    assert_eq!(r.measures.len(), 4);
    let csv = jobs.report_csv(store.conn(), 2026).unwrap();
    assert_eq!(csv.lines().count(), 201, "a header and a line per case");
    assert!(!csv.contains("klager0@"), "the CSV is anonymous");
    let html = jobs.report_context(&r);
    assert_eq!(html.get("reaction_share").unwrap(), "75%");
    let charts = jobs.report_charts(&r);
    assert_eq!(charts.len(), 2);
    assert!(charts.iter().all(|(_, svg)| svg.starts_with("<svg")));
    // Sent by itself in the first working week of January.
    assert!(
        !jobs
            .report_if_due(store.conn(), local(2027, 1, 1, 12, 0))
            .unwrap(),
        "New Year's Day is no working day"
    );
    store
        .transaction(|tx| {
            jobs.report_if_due(tx, local(2027, 1, 4, 8, 0))
                .map(|sent| assert!(sent))
        })
        .unwrap();
    store
        .transaction(|tx| {
            jobs.report_if_due(tx, local(2027, 1, 5, 8, 0))
                .map(|sent| assert!(!sent))
        })
        .unwrap();
    let mail = &kinds_sent(&store, OutboxKind::AnnualReport)[0];
    let parsed = klachtd::inbound::InboundMail::parse(&mail.raw).unwrap();
    let names: Vec<&str> = parsed
        .attachments
        .iter()
        .map(|a| a.filename.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "klachten-per-maand-2026.svg",
            "termijnen-2026.svg",
            "klachtanalyse-2026.html",
            "klachten-2026.csv"
        ]
    );
}

#[test]
fn the_retention_purge_leaves_no_personal_data_and_the_analysis_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    let world = World::new(settings(Some(&db)));
    let intake = world.intake();
    let jobs = Jobs { intake: &intake };
    let mut store = Store::open(&db).unwrap();
    let address = "geheim.adres@example.net";
    let old = world.complaint(&mut store, "old", address, local(2024, 10, 1, 10, 0));
    let recent = world.complaint(
        &mut store,
        "recent",
        "recent@example.net",
        local(2026, 10, 1, 10, 0),
    );
    store
        .transaction(|tx| {
            for (r, closed) in [
                (old, local(2024, 11, 1, 10, 0)),
                (recent, local(2026, 10, 20, 10, 0)),
            ] {
                let mut c = cases::get(tx, r)?.unwrap();
                c.status = CaseStatus::Closed;
                c.reacted_at = Some(c.received_at + Duration::days(2));
                c.closed_at = Some(closed);
                c.cause = Some("planning liep mis".into());
                c.solution = Some("geld terug voor geheim.adres".into());
                c.agreement = Some(true);
                c.category = Some("planning".into());
                cases::update(tx, &c)?;
            }
            Ok(())
        })
        .unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let before = jobs.year_report(store.conn(), 2024, today).unwrap();
    let due = jobs
        .purgeable(store.conn(), local(2026, 11, 25, 3, 0))
        .unwrap();
    assert_eq!(
        due.iter().map(|p| p.reference).collect::<Vec<_>>(),
        [old],
        "only the case closed over 2 years ago"
    );
    let report = jobs.run_due(&mut store, local(2026, 11, 25, 3, 0)).unwrap();
    assert_eq!(report.purged, 1);
    assert_eq!(
        jobs.run_due(&mut store, local(2026, 11, 25, 4, 0))
            .unwrap()
            .purged,
        0,
        "once a night"
    );
    let after = jobs.year_report(store.conn(), 2024, today).unwrap();
    assert_eq!(before, after, "the analysis of 2024 is unchanged");
    let purged = cases::get(store.conn(), old).unwrap().unwrap();
    assert!(
        purged.complainant_address.is_none()
            && purged.body.is_empty()
            && purged.purged_at.is_some()
    );
    assert!(
        cases::get(store.conn(), recent)
            .unwrap()
            .unwrap()
            .complainant_address
            .is_some(),
        "recent kept"
    );
    // Bodies are stored compressed, so the byte search below cannot see them: unpack every
    // body left (on the complaint it is packed on, if any) and look there.
    use klachtd::store::packed::{unpack, unpack_on};
    for (table, query) in [
        ("mail_bodies", "SELECT deflated, NULL FROM mail_bodies"),
        (
            "case_texts",
            "SELECT t.deflated, b.deflated FROM case_texts t LEFT JOIN mail_bodies b ON b.mail_id = t.basis",
        ),
        (
            "outbox_bodies",
            "SELECT t.deflated, b.deflated FROM outbox_bodies t LEFT JOIN mail_bodies b ON b.mail_id = t.basis",
        ),
    ] {
        let mut stmt = store.conn().prepare(query).unwrap();
        let bodies: Vec<Vec<u8>> = stmt
            .query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
            })
            .unwrap()
            .map(|row| match row.unwrap() {
                (body, Some(basis)) => unpack_on(&body, &unpack(&basis).unwrap()).unwrap(),
                (body, None) => unpack(&body).unwrap(),
            })
            .collect();
        assert!(
            !bodies.is_empty() || table == "case_texts",
            "{table} is empty"
        );
        for body in bodies {
            assert!(
                !body.windows(address.len()).any(|w| w == address.as_bytes()),
                "{table} still holds the address"
            );
        }
    }
    drop(store);
    // Search the bytes of the database and its WAL for the address.
    for file in ["k.sqlite", "k.sqlite-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(file)) {
            let needle = address.as_bytes();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{file} still holds the address"
            );
        }
    }
}

/// A staff reply proven by our own server's Authentication-Results.
fn staff_reply(
    world: &World,
    store: &mut Store,
    key: &str,
    case: klachtd::domain::CaseRef,
    from: &str,
    text: &str,
    at: DateTime<Utc>,
) {
    let raw = format!(
        "Authentication-Results: mail.example.org; auth=pass smtp.auth={from}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\n\
         From: <{from}>\r\nTo: info@example.org\r\nSubject: RE: Nieuwe klacht {}\r\n\
         Message-ID: <{key}@example.org>\r\n\r\n{}\r\n",
        case.tag(),
        text.replace('\n', "\r\n")
    );
    let raw = klachtd::inbound::RawMail {
        source_key: key.into(),
        bytes: raw.into_bytes(),
        arrived_at: Some(at),
    };
    let result = world.intake().process(store, &raw, at).unwrap();
    assert!(
        result.reason.contains("applied"),
        "{key}: {}",
        result.reason
    );
}

fn proven_settings() -> Settings {
    let env = [
        (
            "KLACHTD__ROLES__STAFF",
            "anna@example.org,pieter@example.org",
        ),
        ("KLACHTD__ROLES__DIRECTOR", "directie@example.org"),
        ("KLACHTD__ROLES__COMMITTEE", "examencommissie@example.org"),
        ("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", "mail.example.org"),
    ];
    Settings::load_with_env(None, env.map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
}

#[test]
fn a_case_reopened_on_a_saturday_is_reported_on_monday_morning() {
    let world = World::new(proven_settings());
    let intake = world.intake();
    let jobs = Jobs { intake: &intake };
    let mut store = Store::open_in_memory().unwrap();
    // Monday 2 November: received; reaction due Monday 9 November.
    let received = local(2026, 11, 2, 10, 0);
    let case = world.complaint(&mut store, "reopen", "klager@example.net", received);
    staff_reply(
        &world,
        &mut store,
        "close",
        case,
        "anna@example.org",
        "Behandelaar: anna@example.org\nOorzaak: planning\nOplossing: geld terug\nAkkoord: ja\nAfgehandeld",
        local(2026, 11, 3, 10, 0),
    );
    let mut alerts_at = Vec::new();
    let mut reminders_at = Vec::new();
    // The closing letter of 3 November was the reaction: closing due Monday 23 November.
    let reopen_at = local(2026, 11, 28, 11, 0); // Saturday
    let mut now = received;
    let mut reopened = false;
    while now < local(2026, 12, 2, 0, 0) {
        if !reopened && now >= reopen_at {
            staff_reply(
                &world,
                &mut store,
                "heropen",
                case,
                "pieter@example.org",
                "Heropen: klager belde opnieuw",
                now,
            );
            reopened = true;
        }
        let report = jobs.run_due(&mut store, now).unwrap();
        let stamp = now
            .with_timezone(&Amsterdam)
            .format("%a %d %b %H:%M")
            .to_string();
        alerts_at.extend(std::iter::repeat_n(stamp.clone(), report.overdue));
        reminders_at.extend(std::iter::repeat_n(stamp, report.reminders));
        now += Duration::hours(1);
    }
    assert_eq!(alerts_at, ["Mon 30 Nov 08:00"], "not at once on Saturday");
    assert!(
        reminders_at
            .iter()
            .all(|r| r.starts_with("Mon") || r.starts_with("Tue")),
        "no reminder at the weekend: {reminders_at:?}"
    );
    // The director's alert is written on Monday; nothing of it was queued on Saturday or Sunday.
    for mail in kinds_sent(&store, OutboxKind::OverdueAlert)
        .iter()
        .chain(kinds_sent(&store, OutboxKind::Reminder).iter())
    {
        let day = mail
            .created_at
            .with_timezone(&Amsterdam)
            .format("%a")
            .to_string();
        assert!(day != "Sat" && day != "Sun", "queued on {day}");
    }
}

#[test]
fn the_digest_covers_seven_days_and_counts_a_final_verdict_as_ended() {
    let world = World::new(proven_settings());
    let intake = world.intake();
    let jobs = Jobs { intake: &intake };
    let mut store = Store::open_in_memory().unwrap();
    jobs.run_due(&mut store, local(2026, 11, 1, 12, 0)).unwrap();
    // Closed in the week before, appealed, and decided on Thursday 26 November.
    let case = world.complaint(
        &mut store,
        "v",
        "klager@example.net",
        local(2026, 11, 9, 9, 0),
    );
    staff_reply(
        &world,
        &mut store,
        "v1",
        case,
        "anna@example.org",
        "Behandelaar: anna@example.org\nOorzaak: planning\nOplossing: geld terug\nAkkoord: nee\nAfgehandeld",
        local(2026, 11, 13, 10, 0),
    );
    staff_reply(
        &world,
        &mut store,
        "v2",
        case,
        "anna@example.org",
        "Beroep: klager is het oneens",
        local(2026, 11, 20, 10, 0),
    );
    staff_reply(
        &world,
        &mut store,
        "v3",
        case,
        "examencommissie@example.org",
        "Uitspraak: gegrond, herbeoordeling volgt",
        local(2026, 11, 26, 15, 0),
    );
    // A case closed on Sunday 29 November at 23:30 and one on Monday 30 November 07:00 (next week).
    let sunday = world.complaint(&mut store, "s", "s@example.net", local(2026, 11, 24, 9, 0));
    staff_reply(
        &world,
        &mut store,
        "s1",
        sunday,
        "anna@example.org",
        "Behandelaar: anna@example.org\nOorzaak: x\nOplossing: y\nAkkoord: ja\nAfgehandeld",
        local(2026, 11, 29, 23, 30),
    );
    let monday = world.complaint(&mut store, "m", "m@example.net", local(2026, 11, 24, 9, 0));
    staff_reply(
        &world,
        &mut store,
        "m1",
        monday,
        "anna@example.org",
        "Behandelaar: anna@example.org\nOorzaak: x\nOplossing: y\nAkkoord: ja\nAfgehandeld",
        local(2026, 11, 30, 7, 0),
    );

    let content = jobs
        .digest_content(store.conn(), local(2026, 11, 30, 8, 0))
        .unwrap();
    assert_eq!(content.from, "maandag 23 november 2026");
    assert_eq!(content.to, "zondag 29 november 2026", "7 days, not 8");
    assert_eq!(content.week, "2026-W48");
    let ended: Vec<String> = content.closed.iter().map(|l| l.reference.clone()).collect();
    assert_eq!(
        ended,
        [case.to_string(), sunday.to_string()],
        "the verdict ended a case"
    );
    assert_eq!(content.closed[0].verdict, "gegrond");
    assert_eq!(content.verdicts.len(), 1);
    let new: Vec<String> = content
        .new_cases
        .iter()
        .map(|l| l.reference.clone())
        .collect();
    assert_eq!(new, [sunday.to_string(), monday.to_string()]);

    let sent = jobs.run_due(&mut store, local(2026, 11, 30, 8, 0)).unwrap();
    assert_eq!(sent.digests, 1);
    let digest = &kinds_sent(&store, OutboxKind::Digest)[0];
    let text = klachtd::inbound::InboundMail::parse(&digest.raw)
        .unwrap()
        .text;
    assert!(
        text.contains("maandag 23 november 2026 tot en met zondag 29 november 2026"),
        "{text}"
    );
    assert!(text.contains("Afgehandeld deze week:    2"), "{text}");
    assert!(text.contains("uitspraak: gegrond"), "{text}");
}
