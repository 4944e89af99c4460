//! A purged case stays purged (issue 20, observed 6): after the retention purge, proven staff
//! mail reopened a case (OVERDUE again, new reminders and an overdue alert), changed its
//! category and cause (the yearly analysis changed), stored new personal text no purge would
//! ever remove, and answered a `Reactie` with "wordt naar de klager gestuurd" while nothing was
//! queued. Here any sequence of mail that names a purged case — every staff command proven by
//! the trusted server or by nobody, from staff, director and committee; the complainant
//! writing again; a stranger; a reply to one of our old Message-IDs; a robot — with days
//! passing and the scheduler running, leaves the case as the purge left it (row, history,
//! mail, attachments, tokens, held mail), the analysis of its year unchanged; each staff mail
//! gets a transcript saying the complaint was deleted after the retention period, and a
//! person's mail is registered as a new complaint whose acknowledgement says the same.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;
use klachtd::clock::FixedClock;
use klachtd::inbound::maildir::Maildir;
use klachtd::jobs::Jobs;
use klachtd::service::daemon::Daemon;
use klachtd::settings::Settings;
use proptest::prelude::*;
use std::path::Path;
use std::sync::Arc;

const STAFF: &str = "anna@example.org";
const DIRECTOR: &str = "directie@example.org";
const COMMITTEE: &str = "commissie@example.org";
const CASE: &str = "KL-2026-0001";

fn local(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Amsterdam
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

struct Setup {
    dir: tempfile::TempDir,
    settings: Settings,
    clock: FixedClock,
    daemon: Daemon,
    maildir: Maildir,
    runtime: tokio::runtime::Runtime,
    n: usize,
}

impl Setup {
    fn with_language(language: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let env = [
            ("KLACHTD__ORGANISATION__LANGUAGE", language.to_string()),
            ("KLACHTD__ROLES__STAFF", STAFF.to_string()),
            ("KLACHTD__ROLES__DIRECTOR", DIRECTOR.into()),
            ("KLACHTD__ROLES__COMMITTEE", COMMITTEE.into()),
            (
                "KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID",
                "mail.example.org".into(),
            ),
            (
                "KLACHTD__INBOUND__MAILDIR",
                dir.path().join("mail").display().to_string(),
            ),
            (
                "KLACHTD__OUTBOUND__DIR",
                dir.path().join("outbox").display().to_string(),
            ),
            (
                "KLACHTD__STORE__PATH",
                dir.path().join("k.sqlite").display().to_string(),
            ),
        ];
        let settings =
            Settings::load_with_env(None, env.iter().map(|(k, v)| (k.to_string(), v.clone())))
                .unwrap();
        let clock = FixedClock::at(local(2026, 12, 1, 10));
        let daemon = Daemon::new(settings.clone(), Arc::new(clock.clone())).unwrap();
        let maildir = Maildir::open(&settings.inbound.maildir).unwrap();
        Setup {
            dir,
            settings,
            clock,
            daemon,
            maildir,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            n: 0,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        klachtd::clock::Clock::now(&self.clock)
    }

    fn deliver(&mut self, raw: &str) {
        let key = self.maildir.deliver(raw.as_bytes(), self.now()).unwrap();
        std::fs::File::options()
            .write(true)
            .open(self.maildir.root().join("new").join(&key))
            .unwrap()
            .set_modified(self.now().into())
            .unwrap();
        self.runtime.block_on(self.daemon.run_once()).unwrap();
        self.clock.advance(Duration::minutes(5));
    }

    fn next(&mut self) -> usize {
        self.n += 1;
        self.n
    }

    fn query<T: rusqlite::types::FromSql>(&self, sql: &str) -> Vec<T> {
        let store = self.daemon.store();
        let mut stmt = store.conn().prepare(sql).unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Everything the register holds of the case, as text.
    fn case_state(&self) -> Vec<String> {
        let mut out = Vec::new();
        {
            let store = self.daemon.store();
            let mut stmt = store
                .conn()
                .prepare(&format!("SELECT * FROM cases WHERE reference = '{CASE}'"))
                .unwrap();
            let columns = stmt.column_count();
            let mut rows = stmt.query([]).unwrap();
            let row = rows.next().unwrap().unwrap();
            for i in 0..columns {
                out.push(format!("{:?}", row.get_ref(i).unwrap()));
            }
        }
        for (table, column) in [
            ("events", "case_id"),
            ("attachments", "case_id"),
            ("outbox", "case_id"),
            ("held_commands", "case_id"),
            ("tokens", "case_id"),
            ("case_texts", "case_id"),
            ("acknowledgements", "case_id"),
            ("recommendations", "case_id"),
            ("mails", "case_id"),
        ] {
            out.extend(self.query::<String>(&format!(
                "SELECT '{table}' || ':' || COUNT(*) FROM {table}
                 WHERE {column} = (SELECT id FROM cases WHERE reference = '{CASE}')"
            )));
        }
        out.extend(self.query::<String>(&format!(
            "SELECT detail || '|' || kind || '|' || at FROM events
             WHERE case_id = (SELECT id FROM cases WHERE reference = '{CASE}') ORDER BY id"
        )));
        out
    }

    fn analysis(&self, year: i32) -> String {
        let calendar = self.settings.working_calendar();
        let renderer = klachtd::outbound::Renderer::load(None).unwrap();
        let intake = klachtd::intake::Intake {
            settings: &self.settings,
            calendar: &calendar,
            renderer: &renderer,
            tz: self.settings.timezone(),
        };
        let jobs = Jobs { intake: &intake };
        let store = self.daemon.store();
        let mut csv = Vec::new();
        jobs.write_report_csv(store.conn(), year, &mut csv).unwrap();
        let report = jobs
            .year_report(store.conn(), year, self.now().date_naive())
            .unwrap();
        format!("{}\n{report:?}", String::from_utf8(csv).unwrap())
    }

    /// The mails written to the outbox directory since `before` (by name).
    fn sent_since(&self, before: &[String]) -> Vec<String> {
        outbox_files(self.dir.path())
            .into_iter()
            .filter(|f| !before.contains(f))
            .map(|f| std::fs::read_to_string(self.dir.path().join("outbox").join(f)).unwrap())
            .collect()
    }
}

fn outbox_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("outbox"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Mail `from` under the purged case's tag, proven by the trusted server or not.
fn staff(from: &str, n: usize, text: &str, proven: bool) -> String {
    let proof = if proven {
        // The ESMTPSA entry line real servers write with the login (the sender proof reads both).
        format!(
            "Authentication-Results: mail.example.org; auth=pass smtp.auth={from}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\n"
        )
    } else {
        String::new()
    };
    format!(
        "{proof}From: <{from}>\r\nTo: info@example.org\r\nSubject: RE: Nieuwe klacht [{CASE}]\r\nMessage-ID: <p{n}@example.org>\r\n\r\n{}\r\n",
        text.replace('\n', "\r\n")
    )
}

#[derive(Debug, Clone)]
enum Mail {
    /// A command block from a role address.
    Staff {
        from: &'static str,
        text: &'static str,
        proven: bool,
    },
    /// The old complainant writes again under the tag.
    Complainant,
    /// Someone else writes under the tag.
    Stranger,
    /// A reply to the acknowledgement we sent years ago (by its Message-ID only).
    OldThread,
    /// An out-of-office under the tag.
    Robot,
    Wait(i64),
}

const COMMANDS: &[(&str, &str)] = &[
    (STAFF, "Heropen"),
    (STAFF, "Heropen\nCategorie: docent\nOorzaak: nieuwe oorzaak"),
    (STAFF, "Categorie: examen"),
    (STAFF, "Oorzaak: iets anders\nOplossing: niets"),
    (
        STAFF,
        "Reactie\n\nGeachte heer, uw BSN 123456789 is genoteerd.",
    ),
    (STAFF, "Notitie: de klager belde, BSN 123456789"),
    (STAFF, "Escaleer: graag naar de directeur"),
    (STAFF, "Beroep: de klager gaat in beroep"),
    (STAFF, "Behandelaar: Anna de Vries"),
    (STAFF, "Geen klacht"),
    (STAFF, "Afgehandeld"),
    (STAFF, "Taal: en"),
    (STAFF, "Akkoord: nee"),
    (
        STAFF,
        "Klacht: nieuwe.klager@example.net\n\nZij belde over de cursus.",
    ),
    (DIRECTOR, "Verleng: 5 de docent is ziek"),
    (DIRECTOR, "Aanbeveling: plan beter"),
    (COMMITTEE, "Uitspraak: gegrond, de klager had gelijk"),
    (STAFF, ""),
    (STAFF, "Zomaar een bericht zonder opdrachten."),
];

fn mail() -> impl Strategy<Value = Mail> {
    prop_oneof![
        6 => (proptest::sample::select(COMMANDS), any::<bool>())
            .prop_map(|((from, text), proven)| Mail::Staff { from, text, proven }),
        1 => Just(Mail::Complainant),
        1 => Just(Mail::Stranger),
        1 => Just(Mail::OldThread),
        1 => Just(Mail::Robot),
        2 => (1i64..12).prop_map(Mail::Wait),
    ]
}

/// A case registered, closed and, two years on, purged; what its last acknowledgement was.
fn purged_case() -> (Setup, String) {
    purged_case_in("nl")
}

fn purged_case_in(language: &str) -> (Setup, String) {
    let mut s = Setup::with_language(language);
    s.deliver(
        "From: Jan Jansen <jan@example.net>\r\nTo: info@example.org\r\nSubject: De cursus ging niet door\r\nMessage-ID: <k1@example.net>\r\n\r\nIk ben niet tevreden.\r\n",
    );
    let n = s.next();
    s.deliver(&staff(
        STAFF,
        n,
        "Behandelaar: Anna de Vries\nCategorie: planning\nOorzaak: planning\nOplossing: geld terug\nAkkoord: ja\nAfgehandeld",
        true,
    ));
    let ack: String = s.query::<String>(
        "SELECT message_id FROM outbox WHERE kind = 'acknowledgement' ORDER BY id LIMIT 1",
    )[0]
    .clone();
    s.clock.set(local(2029, 1, 8, 3));
    s.runtime.block_on(s.daemon.run_once()).unwrap();
    let purged: Vec<Option<String>> = s.query(&format!(
        "SELECT purged_at FROM cases WHERE reference = '{CASE}'"
    ));
    assert!(purged[0].is_some(), "the case was purged");
    s.clock.set(local(2029, 1, 8, 10));
    (s, ack)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, max_shrink_iters: 32, ..ProptestConfig::default() })]

    #[test]
    fn no_mail_and_no_job_changes_a_purged_case(mails in proptest::collection::vec(mail(), 1..10)) {
        let (mut s, ack) = purged_case();
        let state = s.case_state();
        let analysis = s.analysis(2026);
        for m in &mails {
            let before = outbox_files(s.dir.path());
            let cases_before: Vec<String> = s.query("SELECT reference FROM cases");
            let n = s.next();
            match m {
                Mail::Staff { from, text, proven } => {
                    s.deliver(&staff(from, n, text, *proven));
                    let sent = s.sent_since(&before);
                    if *proven && !text.starts_with("Klacht:") && !text.starts_with("Aanbeveling") {
                        // Answered truthfully: the transcript says the case was deleted.
                        prop_assert!(
                            sent.iter().any(|m| m.contains("na de bewaartermijn verwijderd")),
                            "no truthful transcript for {:?}: {:?}", text, sent
                        );
                        prop_assert!(
                            !sent.iter().any(|m| m.contains("naar de klager")),
                            "a transcript promises mail to the complainant"
                        );
                    }
                }
                Mail::Complainant | Mail::Stranger | Mail::OldThread | Mail::Robot => {
                    let (from, subject, extra) = match m {
                        Mail::Complainant => ("jan@example.net", format!("Re: [{CASE}] nog steeds"), String::new()),
                        Mail::Stranger => ("piet@example.net", format!("[{CASE}] ik trek de klacht in"), String::new()),
                        Mail::OldThread => ("jan@example.net", "Re: uw bericht".to_string(), format!("In-Reply-To: <{ack}>\r\n")),
                        _ => ("jan@example.net", format!("Afwezig: [{CASE}]"), "Auto-Submitted: auto-replied\r\n".to_string()),
                    };
                    s.deliver(&format!(
                        "From: <{from}>\r\nTo: info@example.org\r\nSubject: {subject}\r\n{extra}Message-ID: <m{n}@example.net>\r\n\r\nOver mijn klacht van toen, BSN 123456789.\r\n"
                    ));
                    let new_cases: Vec<String> = s.query("SELECT reference FROM cases");
                    if matches!(m, Mail::Robot) {
                        prop_assert_eq!(new_cases.len(), cases_before.len(), "a robot opened a case");
                    } else {
                        // Handled as the new mail it is: a new complaint, told about the old one.
                        prop_assert_eq!(new_cases.len(), cases_before.len() + 1);
                        let noted: Vec<String> = s.query(
                            "SELECT detail FROM events WHERE kind = 'names_purged' ORDER BY id DESC LIMIT 1",
                        );
                        prop_assert!(noted.first().is_some_and(|d| d.contains(CASE)));
                        let sent = s.sent_since(&before);
                        let acknowledged = sent.iter().any(|m| m.contains("Auto-Submitted: auto-replied"));
                        if acknowledged {
                            prop_assert!(
                                sent.iter().any(|m| m.contains("na de bewaartermijn verwijderd")),
                                "the acknowledgement does not say the old complaint was deleted"
                            );
                        }
                    }
                }
                Mail::Wait(days) => {
                    s.clock.advance(Duration::days(*days));
                    s.runtime.block_on(s.daemon.run_once()).unwrap();
                }
            }
            prop_assert_eq!(&s.case_state(), &state, "the purged case changed after {:?}", m);
        }
        prop_assert_eq!(s.analysis(2026), analysis, "the analysis of 2026 changed");
        // The text sent in never landed on the purged case, nor anywhere the purge will not look.
        let on_purged: Vec<i64> = s.query(
            "SELECT COUNT(*) FROM events WHERE detail LIKE '%123456789%'
               AND case_id IN (SELECT id FROM cases WHERE purged_at IS NOT NULL)",
        );
        prop_assert_eq!(on_purged[0], 0);
    }
}

/// The schema itself refuses any change to a purged case, whatever code path tries it: the
/// last line of defence behind the checks in intake and casework.
#[test]
fn the_database_refuses_to_change_a_purged_case() {
    let (s, _) = purged_case();
    let store = s.daemon.store();
    let conn = store.conn();
    let id: i64 = conn
        .query_row(
            &format!("SELECT id FROM cases WHERE reference = '{CASE}'"),
            [],
            |r| r.get(0),
        )
        .unwrap();
    for sql in [
        "UPDATE cases SET status = 'reacted' WHERE id = ?1",
        "UPDATE cases SET category = 'docent' WHERE id = ?1",
        "INSERT INTO events (case_id, at, kind, detail) VALUES (?1, '2029-01-01T00:00:00Z', 'note', 'BSN')",
        "INSERT INTO outbox (message_id, case_id, kind, envelope_from, recipients, raw, status, next_attempt_at, created_at)
         VALUES ('x@y', ?1, 'reaction', 'a@b', 'c@d', x'', 'queued', '2029', '2029')",
        "UPDATE mails SET case_id = ?1 WHERE id = (SELECT MAX(id) FROM mails)",
        "INSERT INTO tokens (token, case_id, address, issued_at) VALUES ('t', ?1, 'a@b', '2029')",
    ] {
        let e = conn.execute(sql, [id]).unwrap_err();
        assert!(e.to_string().contains("purged"), "{sql}: {e}");
    }
}

/// The answers about a purged case are in the organisation's language for staff and in the
/// writer's language for a complainant, Dutch and English alike (templates nl and en).
#[test]
fn the_answers_about_a_purged_case_speak_dutch_and_english() {
    for (org, transcript_says) in [
        ("nl", "na de bewaartermijn verwijderd"),
        ("en", "deleted after the retention period"),
    ] {
        let (mut s, _) = purged_case_in(org);
        let before = outbox_files(s.dir.path());
        let n = s.next();
        s.deliver(&staff(STAFF, n, "Heropen", true));
        let sent = s.sent_since(&before);
        assert!(
            sent.iter().any(|m| m.contains(transcript_says)),
            "{org}: {sent:?}"
        );
        for (text, says) in [
            (
                "I am still not happy with the course, nobody called me back about it.",
                "deleted after the retention period",
            ),
            (
                "Ik ben nog steeds niet tevreden over de cursus, niemand heeft mij teruggebeld.",
                "na de bewaartermijn verwijderd",
            ),
        ] {
            let before = outbox_files(s.dir.path());
            let n = s.next();
            // A new sender each time: one acknowledgement a day per mailbox.
            s.deliver(&format!(
                "From: <writer{n}@example.net>\r\nTo: info@example.org\r\nSubject: Re: [{CASE}]\r\nMessage-ID: <w{n}@example.net>\r\n\r\n{text}\r\n"
            ));
            let ack = s
                .sent_since(&before)
                .into_iter()
                .find(|m| m.contains("Auto-Submitted: auto-replied"))
                .expect("acknowledged");
            let decoded = mail_parser::MessageParser::default()
                .parse(ack.as_bytes())
                .unwrap()
                .body_text(0)
                .unwrap()
                .into_owned();
            assert!(decoded.contains(says), "{org}: {decoded}");
            assert!(decoded.contains(CASE), "{decoded}");
        }
    }
}

/// `purge_case` (which `klachtd erase` builds on) may be called again on a purged case: it
/// succeeds and changes nothing — the triggers stop only changes that are not a purge.
#[test]
fn purging_a_purged_case_again_succeeds_and_changes_nothing() {
    let (s, _) = purged_case();
    let before = s.case_state();
    let id: i64 = s.query(&format!("SELECT id FROM cases WHERE reference = '{CASE}'"))[0];
    let later = local(2029, 6, 1, 10);
    s.daemon
        .store()
        .transaction(|tx| klachtd::store::purge::purge_case(tx, id, later))
        .unwrap();
    assert_eq!(s.case_state(), before);
}

/// A case erased on its complainant's request (`klachtd erase`, issue 25, which ends in the
/// purge's own routine with an `erased` line) is a purged case too — but the answers about it
/// say it was deleted on request, not after the retention period: that is what happened.
#[test]
fn the_answers_about_an_erased_case_say_it_was_deleted_on_request() {
    let mut s = Setup::with_language("nl");
    s.deliver(
        "From: Jan Jansen <jan@example.net>\r\nTo: info@example.org\r\nSubject: De cursus ging niet door\r\nMessage-ID: <k1@example.net>\r\n\r\nIk ben niet tevreden.\r\n",
    );
    let id: i64 = s.query(&format!("SELECT id FROM cases WHERE reference = '{CASE}'"))[0];
    let now = local(2026, 12, 10, 10);
    s.clock.set(now);
    s.daemon
        .store()
        .transaction(|tx| {
            klachtd::store::purge::purge_case_noting(
                tx,
                id,
                now,
                Some((
                    "erased",
                    "persoonsgegevens verwijderd op verzoek (AVG artikel 17)",
                )),
            )
        })
        .unwrap();
    let before = outbox_files(s.dir.path());
    let n = s.next();
    s.deliver(&staff(STAFF, n, "Heropen", true));
    let sent = s.sent_since(&before);
    assert!(
        sent.iter()
            .any(|m| m.contains("op verzoek van de klager verwijderd")),
        "{sent:?}"
    );
    assert!(
        !sent.iter().any(|m| m.contains("bewaartermijn")),
        "{sent:?}"
    );
    let before = outbox_files(s.dir.path());
    let n = s.next();
    s.deliver(&format!(
        "From: <piet{n}@example.net>\r\nTo: info@example.org\r\nSubject: Re: [{CASE}]\r\nMessage-ID: <w{n}@example.net>\r\n\r\nIk ben nog steeds niet tevreden over de cursus, niemand heeft mij teruggebeld.\r\n"
    ));
    let ack = s
        .sent_since(&before)
        .into_iter()
        .find(|m| m.contains("Auto-Submitted: auto-replied"))
        .expect("acknowledged");
    let decoded = mail_parser::MessageParser::default()
        .parse(ack.as_bytes())
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned();
    assert!(decoded.contains("op verzoek verwijderd"), "{decoded}");
    assert!(!decoded.contains("bewaartermijn"), "{decoded}");
}
