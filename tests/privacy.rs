//! Confidential by design (issue 25), in process: who hears of a new complaint (need to
//! know), a complaint about a colleague that never reaches that colleague (named in the text,
//! the subject, HTML, by alias, as "mevrouw De Vries"), the director's `Betreft:`, the committee
//! for a complaint about the director, privacy requests with their legal deadline and one
//! extension, and legal holds against the retention purge.

mod common;

use chrono::{Duration, NaiveDate};
use common::avg::*;
use common::world::World;
use klachtd::jobs::Jobs;
use klachtd::store::outbox::OutboxKind;
use klachtd::store::{MailOutcome, Store, cases};
use proptest::prelude::*;

const KLAGER: &str = "klager@example.net";
const TEXT: &str = "Mijn docent Anna de Vries was tijdens de les erg onvriendelijk tegen mij.";

fn now() -> chrono::DateTime<chrono::Utc> {
    at("2026-11-24T10:00:00+01:00")
}

#[test]
fn a_complaint_naming_a_colleague_never_reaches_that_colleague() {
    let world = world();
    let mut store = Store::open_in_memory().unwrap();
    let r = complaint(
        &world,
        &mut store,
        KLAGER,
        "De les van dinsdag",
        TEXT,
        now(),
    );
    let c = case(&store, r);
    assert_eq!(c.privacy.concerns, vec![ANNA.to_string()]);
    assert_eq!(
        recipients_of(&store, OutboxKind::StaffNotification),
        vec![PIETER, DIRECTOR]
    );
    assert!(to(&store, ANNA, None).is_empty());
    let director = &to(&store, DIRECTOR, Some(OutboxKind::StaffNotification))[0];
    assert!(
        director.text.starts_with(
            "Vertrouwelijk: deze klacht gaat over Anna de Vries (anna.devries@example.org). Die krijgt geen berichten over deze klacht"
        ),
        "{}",
        director.text
    );
    assert!(readable(director).contains("onvriendelijk"));
    let history: Vec<String> = cases::events(store.conn(), c.id)
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.kind, e.detail))
        .collect();
    assert!(
        history.contains(
            &"concerns de klacht noemt Anna de Vries (anna.devries@example.org)".to_string()
        ),
        "{history:?}"
    );
}

/// Every way the issue lists of naming a colleague: the subject, an alias, a title with the
/// surname, HTML only (the name split over tags), the HTML part of an alternative whose text
/// part does not name them, and the address.
#[test]
fn a_colleague_is_recognised_in_the_subject_html_alias_title_and_address() {
    let plain = |subject: &str, body: &str| {
        format!(
            "From: <{KLAGER}>\r\nTo: info@example.org\r\nSubject: {subject}\r\nMessage-ID: <x@example.net>\r\n\r\n{body}\r\n"
        )
    };
    let html_only = format!(
        "From: <{KLAGER}>\r\nTo: info@example.org\r\nSubject: Les\r\nMessage-ID: <h@example.net>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <html><body><p>Mijn docent was <b>Anna</b> <i>de</i><br>Vries en zij was onaardig.</p></body></html>\r\n"
    );
    let alternative = format!(
        "From: <{KLAGER}>\r\nTo: info@example.org\r\nSubject: Les\r\nMessage-ID: <a@example.net>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDe docent was onaardig.\r\n\
         --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>De docent (Pieter&nbsp;Bakker) was onaardig.</p>\r\n--b--\r\n"
    );
    for (what, raw, who) in [
        (
            "subject",
            plain("Klacht over Anna de Vries", "De les was slecht."),
            ANNA,
        ),
        ("alias", plain("Les", "Piet kwam weer te laat."), PIETER),
        (
            "title",
            plain("Les", "Mevrouw De Vries gaf geen antwoord."),
            ANNA,
        ),
        (
            "title abbreviated",
            plain("Les", "dhr. bakker was er niet"),
            PIETER,
        ),
        ("html only", html_only, ANNA),
        ("html part", alternative, PIETER),
        (
            "address",
            plain("Les", &format!("Ik mailde {PIETER} maar kreeg niets.")),
            PIETER,
        ),
    ] {
        let world = world();
        let mut store = Store::open_in_memory().unwrap();
        let r = take(&world, &mut store, raw, now()).case.unwrap();
        assert_eq!(
            case(&store, r).privacy.concerns,
            vec![who.to_string()],
            "{what}"
        );
        assert!(to(&store, who, None).is_empty(), "{what}");
        assert!(
            recipients_of(&store, OutboxKind::StaffNotification).contains(&DIRECTOR.to_string()),
            "{what}"
        );
    }
}

#[test]
fn the_colleague_cannot_be_made_its_handler() {
    let world = world();
    let mut store = Store::open_in_memory().unwrap();
    let r = complaint(&world, &mut store, KLAGER, "Les", TEXT, now());
    staff_reply(
        &world,
        &mut store,
        PIETER,
        r,
        "Behandelaar: Anna de Vries",
        true,
        now(),
    );
    assert_eq!(case(&store, r).handler, None);
    let transcript = &to(&store, PIETER, Some(OutboxKind::Transcript))[0];
    assert!(
        transcript.text.contains(
            "Anna de Vries kan deze klacht niet behandelen: de klacht gaat over Anna de Vries"
        ),
        "{}",
        transcript.text
    );
    // By address too, and the director cannot either.
    staff_reply(
        &world,
        &mut store,
        DIRECTOR,
        r,
        &format!("Behandelaar: {ANNA}"),
        true,
        now(),
    );
    assert_eq!(case(&store, r).handler, None);
    assert!(to(&store, ANNA, None).is_empty());
}

#[test]
fn the_colleagues_own_commands_are_refused_and_tell_them_nothing_of_it() {
    let world = world();
    let mut store = Store::open_in_memory().unwrap();
    let r = complaint(
        &world,
        &mut store,
        KLAGER,
        "Zeer onvriendelijke les",
        TEXT,
        now(),
    );
    let result = staff_reply(
        &world,
        &mut store,
        ANNA,
        r,
        "Behandelaar: Anna de Vries\nGeen klacht: onzin\n\nIk was er niet eens.",
        true,
        now(),
    );
    assert_eq!(result.outcome, MailOutcome::AddedToCase);
    let c = case(&store, r);
    assert_eq!(c.handler, None);
    assert_eq!(c.status, klachtd::domain::CaseStatus::Open);
    let mails = to(&store, ANNA, None);
    assert_eq!(mails.len(), 1, "one transcript");
    let seen = readable(&mails[0]);
    assert!(seen.contains("u kunt deze klacht niet bewerken"), "{seen}");
    for secret in ["onvriendelijk", "Zeer onvriendelijke les", KLAGER, "Klager"] {
        assert!(!seen.contains(secret), "{secret} in {seen}");
    }
    // Recorded for the director, with what she wrote.
    let events = cases::events(store.conn(), c.id).unwrap();
    let e = events.iter().find(|e| e.kind == "not_involved").unwrap();
    assert!(e.detail.contains("Ik was er niet eens."), "{}", e.detail);
    // Unproven mail in her name is not answered at all.
    staff_reply(&world, &mut store, ANNA, r, "Oorzaak: x", false, now());
    assert_eq!(to(&store, ANNA, None).len(), 1);
}

#[test]
fn later_mail_reminders_and_the_digest_skip_the_colleague() {
    let world = World::new(settings_with(
        "",
        &[("KLACHTD__DIGEST__EXTRA_RECIPIENTS", ANNA)],
    ));
    let intake = world.intake();
    let jobs = Jobs { intake: &intake };
    let mut store = Store::open_in_memory().unwrap();
    jobs.run_due(&mut store, at("2026-11-20T09:00:00+01:00"))
        .unwrap();
    let subject = "Vertrouwelijk onderwerp zeventien";
    let r = complaint(&world, &mut store, KLAGER, subject, TEXT, now());
    follow_up(
        &world,
        &mut store,
        KLAGER,
        r,
        "En nog iets: het was erg.",
        now(),
    );
    let mut t = now();
    while t < at("2026-12-08T12:00:00+01:00") {
        jobs.run_due(&mut store, t).unwrap();
        t += Duration::hours(3);
    }
    assert!(!recipients_of(&store, OutboxKind::Reminder).is_empty());
    assert!(!recipients_of(&store, OutboxKind::Reminder).contains(&ANNA.to_string()));
    assert!(!recipients_of(&store, OutboxKind::FollowUpNotification).contains(&ANNA.to_string()));
    // Her digest lists the case without its subject; the director's with it.
    let hers = to(&store, ANNA, Some(OutboxKind::Digest));
    assert!(!hers.is_empty());
    for d in &hers {
        let seen = readable(d);
        assert!(!seen.contains(subject), "{seen}");
    }
    assert!(hers.iter().any(|d| readable(d).contains(&r.to_string())));
    assert!(hers.iter().any(|d| readable(d).contains("(vertrouwelijk)")));
    let directors = to(&store, DIRECTOR, Some(OutboxKind::Digest));
    assert!(directors.iter().any(|d| readable(d).contains(subject)));
    // Nothing else reached her.
    for m in to(&store, ANNA, None) {
        assert!(!readable(&m).contains(subject), "{}", m.subject);
        assert!(!readable(&m).contains("onvriendelijk"));
    }
}

#[test]
fn the_director_marks_and_lifts_whom_a_complaint_concerns() {
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
    assert!(case(&store, r).privacy.concerns.is_empty());
    staff_reply(
        &world,
        &mut store,
        ANNA,
        r,
        "Behandelaar: Pieter Bakker",
        true,
        now(),
    );
    assert_eq!(case(&store, r).handler.as_deref(), Some("Pieter Bakker"));
    // Only the director may.
    staff_reply(
        &world,
        &mut store,
        ANNA,
        r,
        "Betreft: Pieter Bakker",
        true,
        now(),
    );
    assert!(case(&store, r).privacy.concerns.is_empty());
    staff_reply(
        &world,
        &mut store,
        DIRECTOR,
        r,
        "Betreft: Pieter Bakker",
        true,
        now(),
    );
    let c = case(&store, r);
    assert_eq!(c.privacy.concerns, vec![PIETER.to_string()]);
    assert!(c.privacy.concerns_fixed);
    assert_eq!(c.handler, None, "he was the handler and no longer is");
    let before = to(&store, PIETER, None).len();
    follow_up(&world, &mut store, KLAGER, r, "Nog een vraag.", now());
    assert_eq!(
        to(&store, PIETER, None).len(),
        before,
        "nothing more to him"
    );
    // His commands are refused.
    staff_reply(
        &world,
        &mut store,
        PIETER,
        r,
        "Oorzaak: drukte",
        true,
        now(),
    );
    assert_eq!(case(&store, r).cause, None);
    // Lifted: he may handle it again.
    staff_reply(
        &world,
        &mut store,
        DIRECTOR,
        r,
        "Betreft: niemand\nBehandelaar: Pieter Bakker",
        true,
        now(),
    );
    let c = case(&store, r);
    assert!(c.privacy.concerns.is_empty());
    assert_eq!(c.handler.as_deref(), Some("Pieter Bakker"));
    // A name that is nobody's is refused.
    staff_reply(
        &world,
        &mut store,
        DIRECTOR,
        r,
        "Betreft: Klaas Vaak",
        true,
        now(),
    );
    assert!(case(&store, r).privacy.concerns.is_empty());
}

#[test]
fn a_complaint_naming_the_director_goes_to_the_committee_as_well() {
    for (setting, committee) in [
        ("", true),
        ("[privacy]\ndirector_named_to_committee = false", false),
    ] {
        let world = World::new(settings_with(setting, &[]));
        let mut store = Store::open_in_memory().unwrap();
        complaint(
            &world,
            &mut store,
            KLAGER,
            "Directie",
            "Mevrouw Dijkstra beantwoordt mijn mails niet.",
            now(),
        );
        let got = recipients_of(&store, OutboxKind::StaffNotification);
        assert_eq!(got.contains(&COMMITTEE.to_string()), committee, "{got:?}");
        assert!(got.contains(&ANNA.to_string()) && got.contains(&PIETER.to_string()));
        if committee {
            let m = &to(&store, COMMITTEE, None)[0];
            assert!(
                m.text
                    .contains("daarom ontvangt ook de examencommissie haar"),
                "{}",
                m.text
            );
        }
    }
}

#[test]
fn who_receives_a_new_complaint_is_a_setting() {
    for (setting, expected) in [
        ("", vec![ANNA, PIETER]),
        (
            "[privacy]\nnew_complaints_to = \"group\"\nintake_group = [\"pieter.bakker@example.org\"]",
            vec![PIETER],
        ),
        (
            "[privacy]\nnew_complaints_to = \"director\"",
            vec![DIRECTOR],
        ),
    ] {
        let world = World::new(settings_with(setting, &[]));
        let mut store = Store::open_in_memory().unwrap();
        let r = complaint(
            &world,
            &mut store,
            KLAGER,
            "Les",
            "De les was rommelig.",
            now(),
        );
        assert_eq!(
            recipients_of(&store, OutboxKind::StaffNotification),
            expected,
            "{setting}"
        );
        // Without a handler, later mail goes to the same readers; with one, to the handler.
        follow_up(&world, &mut store, KLAGER, r, "Aanvulling.", now());
        assert_eq!(
            recipients_of(&store, OutboxKind::FollowUpNotification),
            expected,
            "{setting}"
        );
    }
    // A group member without a role is refused at start.
    let err = std::panic::catch_unwind(|| {
        settings_with(
            "[privacy]\nnew_complaints_to = \"group\"\nintake_group = [\"iemand@example.org\"]",
            &[],
        )
    });
    assert!(err.is_err());
}

#[test]
fn once_handled_mail_goes_to_the_handler_and_after_escalation_the_director_too() {
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
    staff_reply(
        &world,
        &mut store,
        ANNA,
        r,
        "Behandelaar: Pieter Bakker",
        true,
        now(),
    );
    follow_up(&world, &mut store, KLAGER, r, "Aanvulling een.", now());
    assert_eq!(
        recipients_of(&store, OutboxKind::FollowUpNotification),
        vec![PIETER]
    );
    staff_reply(
        &world,
        &mut store,
        PIETER,
        r,
        "Escaleer: graag meekijken",
        true,
        now(),
    );
    follow_up(&world, &mut store, KLAGER, r, "Aanvulling twee.", now());
    assert_eq!(
        recipients_of(&store, OutboxKind::FollowUpNotification),
        vec![PIETER, PIETER, DIRECTOR]
    );
}

#[test]
fn a_colleague_named_in_later_mail_is_kept_from_it_but_the_handler_is_not() {
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
    assert_eq!(
        recipients_of(&store, OutboxKind::StaffNotification),
        vec![ANNA, PIETER]
    );
    // No handler yet: naming Pieter keeps it from him from now on.
    follow_up(
        &world,
        &mut store,
        KLAGER,
        r,
        "Het was Piet die niet kwam.",
        now(),
    );
    assert_eq!(case(&store, r).privacy.concerns, vec![PIETER.to_string()]);
    assert_eq!(
        recipients_of(&store, OutboxKind::FollowUpNotification),
        vec![ANNA, DIRECTOR]
    );
    // Anna handles it; a thank-you naming her still reaches her.
    staff_reply(
        &world,
        &mut store,
        ANNA,
        r,
        "Behandelaar: Anna de Vries",
        true,
        now(),
    );
    follow_up(
        &world,
        &mut store,
        KLAGER,
        r,
        "Dank u, mevrouw De Vries.",
        now(),
    );
    assert_eq!(case(&store, r).privacy.concerns, vec![PIETER.to_string()]);
    assert!(to(&store, ANNA, Some(OutboxKind::FollowUpNotification)).len() == 2);
}

fn reply_kinds(store: &Store) -> Vec<OutboxKind> {
    klachtd::store::outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .map(|m| m.kind)
        .collect()
}

#[test]
fn a_privacy_request_has_its_legal_deadline_one_extension_and_reminders() {
    let world = world();
    let intake = world.intake();
    let jobs = Jobs { intake: &intake };
    let mut store = Store::open_in_memory().unwrap();
    jobs.run_due(&mut store, at("2026-11-01T09:00:00+01:00"))
        .unwrap();
    let r = complaint(
        &world,
        &mut store,
        KLAGER,
        "Les",
        "De les was rommelig.",
        now(),
    );
    staff_reply(
        &world,
        &mut store,
        ANNA,
        r,
        "Verzoek: inzage, ontvangen 20-11-2026",
        true,
        now(),
    );
    let req = case(&store, r).privacy.request.unwrap();
    assert_eq!(req.received, NaiveDate::from_ymd_opt(2026, 11, 20).unwrap());
    assert_eq!(req.due, NaiveDate::from_ymd_opt(2026, 12, 20).unwrap());
    // A second one while it is open is refused; a date in the future too.
    staff_reply(
        &world,
        &mut store,
        ANNA,
        r,
        "Verzoek: verwijdering",
        true,
        now(),
    );
    assert_eq!(case(&store, r).privacy.request.unwrap().kind, req.kind);
    // The committee may not; staff may extend once, within the first month, with a reason.
    let before = reply_kinds(&store).len();
    staff_reply(
        &world,
        &mut store,
        COMMITTEE,
        r,
        "Verzoek: verlengen 1 druk",
        true,
        now(),
    );
    assert_eq!(
        case(&store, r).privacy.request.unwrap().extended_months,
        None
    );
    let _ = before;
    staff_reply(
        &world,
        &mut store,
        PIETER,
        r,
        "Verzoek: verlengen 2 de stukken liggen in het archief in Zwolle",
        true,
        at("2026-12-01T10:00:00+01:00"),
    );
    let req = case(&store, r).privacy.request.unwrap();
    assert_eq!(req.due, NaiveDate::from_ymd_opt(2027, 2, 20).unwrap());
    let letter = &to(&store, KLAGER, Some(OutboxKind::ExtensionNotice))[0];
    assert!(
        letter
            .text
            .contains("de stukken liggen in het archief in Zwolle"),
        "{}",
        letter.text
    );
    assert!(
        letter.text.contains("zaterdag 20 februari 2027"),
        "{}",
        letter.text
    );
    assert!(letter.text.contains("Autoriteit Persoonsgegevens"));
    staff_reply(
        &world,
        &mut store,
        PIETER,
        r,
        "Verzoek: verlengen 1 nog meer",
        true,
        now(),
    );
    assert_eq!(
        case(&store, r).privacy.request.unwrap().extended_months,
        Some(2)
    );
    // Reminders before the deadline, the overdue notice to the director after it.
    let mut t = at("2026-12-01T07:00:00+01:00");
    while t < at("2027-02-24T12:00:00+01:00") {
        jobs.run_due(&mut store, t).unwrap();
        t += Duration::hours(6);
    }
    let reminders: Vec<_> = klachtd::store::outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == OutboxKind::Reminder)
        .map(|m| {
            (
                m.recipients,
                klachtd::inbound::InboundMail::parse(&m.raw).unwrap(),
            )
        })
        .filter(|(_, m)| m.subject.contains("verzoek om inzage"))
        .collect();
    assert!(
        reminders
            .iter()
            .any(|(_, m)| m.subject.starts_with("Herinnering")),
        "{reminders:?}"
    );
    let late: Vec<_> = reminders
        .iter()
        .filter(|(_, m)| m.subject.starts_with("Termijn verstreken"))
        .collect();
    assert!(late.iter().any(|(r, _)| r.contains(&DIRECTOR.to_string())));
    assert!(
        late[0]
            .1
            .text
            .contains("klachtd dossier klager@example.net"),
        "{}",
        late[0].1.text
    );
    // Shown in the digest, the case and the status until done.
    let digest = jobs
        .digest_text(
            &jobs
                .digest_content(store.conn(), at("2027-02-22T09:00:00+01:00"))
                .unwrap(),
        )
        .unwrap();
    assert!(digest.contains(&format!("!! {r}  inzage")), "{digest}");
    staff_reply(
        &world,
        &mut store,
        ANNA,
        r,
        "Verzoek: afgehandeld",
        true,
        at("2027-02-22T10:00:00+01:00"),
    );
    assert!(!case(&store, r).privacy.request.unwrap().is_open());
    let digest = jobs
        .digest_text(
            &jobs
                .digest_content(store.conn(), at("2027-02-23T09:00:00+01:00"))
                .unwrap(),
        )
        .unwrap();
    assert!(!digest.contains(&format!("{r}  inzage")), "{digest}");
}

#[test]
fn an_extension_after_the_first_month_is_refused() {
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
    staff_reply(
        &world,
        &mut store,
        ANNA,
        r,
        "Verzoek: verwijdering",
        true,
        now(),
    );
    staff_reply(
        &world,
        &mut store,
        ANNA,
        r,
        "Verzoek: verlengen 1 druk",
        true,
        at("2026-12-25T10:00:00+01:00"),
    );
    let req = case(&store, r).privacy.request.unwrap();
    assert_eq!(req.extended_months, None);
    let t = to(&store, ANNA, Some(OutboxKind::Transcript));
    assert!(
        t.last()
            .unwrap()
            .text
            .contains("verlengen kan alleen binnen de eerste maand, tot en met 24-12-2026")
    );
    assert!(to(&store, KLAGER, Some(OutboxKind::ExtensionNotice)).is_empty());
}

#[test]
fn a_legal_hold_keeps_a_case_past_the_retention_purge_until_its_day() {
    let world = world();
    let intake = world.intake();
    let jobs = Jobs { intake: &intake };
    let mut store = Store::open_in_memory().unwrap();
    let r = complaint(
        &world,
        &mut store,
        KLAGER,
        "Les",
        "De les was rommelig.",
        now(),
    );
    staff_reply(
        &world,
        &mut store,
        ANNA,
        r,
        "Behandelaar: Anna de Vries\nOorzaak: x\nOplossing: y\nAkkoord: nee\nAfgehandeld",
        true,
        now(),
    );
    // Staff cannot; a date that has passed cannot; the director can.
    staff_reply(
        &world,
        &mut store,
        ANNA,
        r,
        "Bewaren tot: 2029-06-30 — lopende procedure",
        true,
        now(),
    );
    assert!(case(&store, r).privacy.hold.is_none());
    staff_reply(
        &world,
        &mut store,
        DIRECTOR,
        r,
        "Bewaren tot: 2026-01-01 — te laat",
        true,
        now(),
    );
    assert!(case(&store, r).privacy.hold.is_none());
    staff_reply(
        &world,
        &mut store,
        DIRECTOR,
        r,
        "Bewaren tot: 2029-06-30 — lopende procedure",
        true,
        now(),
    );
    let hold = case(&store, r).privacy.hold.unwrap();
    assert_eq!(hold.until, NaiveDate::from_ymd_opt(2029, 6, 30).unwrap());
    // Two years on the purge leaves it; after its last day it goes.
    assert!(
        jobs.purgeable(store.conn(), at("2029-06-30T23:00:00+02:00"))
            .unwrap()
            .is_empty()
    );
    jobs.purge(&mut store, at("2029-06-30T12:00:00+02:00"))
        .unwrap();
    assert!(case(&store, r).purged_at.is_none());
    let shown = klachtd::cli::cases::case(&store, &world.settings, now(), r, false)
        .unwrap()
        .unwrap();
    assert!(
        shown.contains("legal hold:    until 2029-06-30 — lopende procedure"),
        "{shown}"
    );
    let digest = jobs
        .digest_text(
            &jobs
                .digest_content(store.conn(), at("2027-01-04T09:00:00+01:00"))
                .unwrap(),
        )
        .unwrap();
    assert!(digest.contains("lopende procedure"), "{digest}");
    jobs.purge(&mut store, at("2029-07-01T12:00:00+02:00"))
        .unwrap();
    assert!(case(&store, r).purged_at.is_some());
    // Lifted by the director: purged at the next night.
    let r2 = complaint(
        &world,
        &mut store,
        "ander@example.net",
        "Les",
        "Ook rommelig.",
        now(),
    );
    staff_reply(
        &world,
        &mut store,
        DIRECTOR,
        r2,
        "Geen klacht\nBewaren tot: 2030-01-01 — x",
        true,
        now(),
    );
    staff_reply(
        &world,
        &mut store,
        DIRECTOR,
        r2,
        "Bewaren: nee",
        true,
        now(),
    );
    assert!(case(&store, r2).privacy.hold.is_none());
    jobs.purge(&mut store, at("2029-01-01T12:00:00+01:00"))
        .unwrap();
    assert!(case(&store, r2).purged_at.is_some());
}

/// A piece of text that names nobody: letters no staff name is made of.
const FILLER: &str = "[xqzkw ,.\n]{0,30}";

#[derive(Debug, Clone)]
enum Step {
    FollowUp { names: Vec<usize>, filler: String },
    StaffReply { who: usize, text: usize },
    Days(u8),
}

/// Ways a text names staff member `i`: name, alias, title + surname, address.
fn naming(i: usize, form: usize) -> String {
    let forms: [[&str; 4]; 2] = [
        ["Anna de Vries", "ANNA DE VRIES", "mevrouw de Vries", ANNA],
        ["Pieter Bakker", "Piet", "Dhr. Bakker", PIETER],
    ];
    forms[i % 2][form % 4].to_string()
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (proptest::collection::vec(0usize..8, 0..2), FILLER)
            .prop_map(|(names, filler)| Step::FollowUp { names, filler }),
        (0usize..4, 0usize..5).prop_map(|(who, text)| Step::StaffReply { who, text }),
        (1u8..6).prop_map(Step::Days),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// For any complaint that names any of the staff, in any of the ways, in its subject,
    /// text or HTML, and anything that follows (later mail naming staff, staff and the
    /// director replying with any command, days passing with reminders and digests): no mail
    /// to a member it names ever carries the complaint's subject or text.
    #[test]
    fn no_mail_to_a_named_colleague_carries_the_complaint(
        named in proptest::collection::vec((0usize..2, 0usize..4, 0usize..3), 1..3),
        before in FILLER,
        after in FILLER,
        steps in proptest::collection::vec(step(), 0..8),
    ) {
        let world = World::new(settings_with("", &[("KLACHTD__DIGEST__EXTRA_RECIPIENTS", "anna.devries@example.org,pieter.bakker@example.org")]));
        let intake = world.intake();
        let jobs = Jobs { intake: &intake };
        let mut store = Store::open_in_memory().unwrap();
        let mut t = at("2026-11-23T07:00:00+01:00");
        jobs.run_due(&mut store, t).unwrap();
        let secret_subject = "Geheim onderwerp kwartel";
        let secret_text = "geheime tekst fazant";
        let mut subject = secret_subject.to_string();
        let mut text = format!("{before} {secret_text} {after}");
        let mut html = String::new();
        for (who, form, place) in &named {
            let n = naming(*who, *form);
            match place {
                0 => subject.push_str(&format!(" {n}")),
                1 => text.push_str(&format!("\n{n} was onaardig.")),
                _ => html.push_str(&format!("<p>{}</p>", n.replace(' ', " <b></b>"))),
            }
        }
        let raw = if html.is_empty() {
            format!("From: <{KLAGER}>\r\nTo: info@example.org\r\nSubject: {subject}\r\nMessage-ID: <p@example.net>\r\n\r\n{}\r\n", text.replace('\n', "\r\n"))
        } else {
            format!(
                "From: <{KLAGER}>\r\nTo: info@example.org\r\nSubject: {subject}\r\nMessage-ID: <p@example.net>\r\nMIME-Version: 1.0\r\n\
                 Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n\
                 --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>{secret_text}</p>{html}\r\n--b--\r\n",
                text.replace('\n', "\r\n")
            )
        };
        let r = take(&world, &mut store, raw, t).case.unwrap();
        let who_named: std::collections::BTreeSet<&str> =
            named.iter().map(|(w, _, _)| [ANNA, PIETER][*w % 2]).collect();
        let texts = [
            "Oorzaak: drukte",
            "Behandelaar: Anna de Vries",
            "Behandelaar: Pieter Bakker",
            "Notitie: gebeld",
            "Reactie\n\nBeste klager, excuses.",
        ];
        let people = [ANNA, PIETER, DIRECTOR, COMMITTEE];
        for s in &steps {
            match s {
                Step::FollowUp { names, filler } => {
                    let body: Vec<String> = names.iter().map(|n| naming(*n / 4, *n)).collect();
                    follow_up(&world, &mut store, KLAGER, r, &format!("{filler} {}", body.join(" en ")), t);
                }
                Step::StaffReply { who, text } => {
                    staff_reply(&world, &mut store, people[*who], r, texts[*text], true, t);
                }
                Step::Days(d) => {
                    let end = t + Duration::days(i64::from(*d));
                    while t < end {
                        t += Duration::hours(4);
                        jobs.run_due(&mut store, t).unwrap();
                    }
                }
            }
        }
        // Whom it concerns now (later mail may have added someone, never removed anyone).
        let concerned = case(&store, r).privacy.concerns;
        for who in &who_named {
            prop_assert!(concerned.iter().any(|c| c == who), "{} not marked: {:?}", who, concerned);
        }
        for (kind, recipients, mail) in sent(&store) {
            for who in &who_named {
                if recipients.iter().any(|a| a == who) {
                    let seen = readable(&mail);
                    prop_assert!(!seen.contains("kwartel") && !seen.contains("fazant"),
                        "{:?} to {} carries the complaint:\n{}", kind, who, seen);
                }
            }
        }
    }
}
