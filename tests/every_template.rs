//! Every template, rendered from a real run of the procedure in a Dutch and in an English
//! organisation: a complaint, a follow-up, a quarantined mail, a reaction, an escalation, an
//! extension, closing, appeal and verdict, a held mail, a reminder and an overdue alert, the
//! digest and the yearly analysis. Each mail is checked for words of the other language, for
//! UTC times (every event happens at a minute no local time shares), and the courtesies.

mod common;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;
use common::world::World;
use klachtd::inbound::{InboundMail, RawMail};
use klachtd::jobs::Jobs;
use klachtd::store::Store;
use klachtd::store::outbox::{self, OutboxKind};
use std::collections::BTreeSet;

/// November: Amsterdam is UTC+1, so "HH:MM" in UTC never equals a local time of these minutes.
fn utc(d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, min, 0).unwrap()
}

struct Lang {
    code: &'static str,
    complaint: &'static str,
    follow_up: &'static str,
    reaction: &'static str,
    keywords: [&'static str; 10],
}

const NL: Lang = Lang {
    code: "nl",
    complaint: "Ik ben niet tevreden over de cursus Projectmanagement. De docent was er niet en niemand heeft ons gebeld.",
    follow_up: "Ik wil nog toevoegen dat ik ook de reiskosten heb betaald.",
    reaction: "Beste Piet,\n\nDank voor uw bericht. Wij bellen u morgen.\n\nMet vriendelijke groet,\nAnna",
    keywords: [
        "Behandelaar",
        "Reactie",
        "Escaleer",
        "Verleng",
        "Oorzaak",
        "Oplossing",
        "Akkoord: ja",
        "Afgehandeld",
        "Beroep",
        "Uitspraak: gegrond, de docent was ziek",
    ],
};

const EN: Lang = Lang {
    code: "en",
    complaint: "I am not happy with the project management course. The teacher did not turn up and nobody called us.",
    follow_up: "I would like to add that I also paid the travel costs.",
    reaction: "Dear Piet,\n\nThank you for your message. We will call you tomorrow.\n\nKind regards,\nAnna",
    keywords: [
        "Handler",
        "Reply",
        "Escalate",
        "Extend",
        "Cause",
        "Solution",
        "Agreement: yes",
        "Close",
        "Appeal",
        "Verdict: upheld, the teacher was ill",
    ],
};

fn world(lang: &Lang) -> World {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("klachtd.toml");
    std::fs::write(
        &config,
        "[roles]\nstaff = [\"anna.devries@example.org\"]\ndirector = \"directie@example.org\"\ncommittee = \"examencommissie@example.org\"\n\n[roles.names]\n\"Anna de Vries\" = \"anna.devries@example.org\"\n\"Marjolein Dijkstra\" = \"directie@example.org\"\n",
    )
    .unwrap();
    let env = [
        ("KLACHTD__ORGANISATION__LANGUAGE", lang.code),
        ("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", "mail.example.org"),
        // Two complaints in one minute spread the acknowledgements: the director's notice.
        ("KLACHTD__OUTBOUND__ACKNOWLEDGEMENTS_PER_HOUR", "1"),
    ];
    World::new(
        klachtd::settings::Settings::load_with_env(
            Some(&config),
            env.map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap(),
    )
}

fn take(world: &World, store: &mut Store, key: &str, bytes: String, at: DateTime<Utc>) {
    world
        .intake()
        .process(
            store,
            &RawMail {
                source_key: key.into(),
                bytes: bytes.into_bytes(),
                arrived_at: Some(at),
            },
            at,
        )
        .unwrap();
}

fn staff(from: &str, tag: &str, key: &str, body: &str, proven: bool) -> String {
    let auth = if proven {
        format!(
            "Authentication-Results: mail.example.org; auth=pass smtp.auth={from}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\n"
        )
    } else {
        String::new()
    };
    format!(
        "{auth}From: <{from}>\r\nTo: info@example.org\r\nSubject: RE: {tag}\r\nMessage-ID: <{key}@example.org>\r\n\r\n{}\r\n",
        body.replace('\n', "\r\n")
    )
}

/// Runs the whole procedure and returns every mail queued, with the instants used.
fn run(lang: &Lang) -> (Vec<(OutboxKind, InboundMail)>, Vec<DateTime<Utc>>) {
    let world = world(lang);
    let intake = world.intake();
    let jobs = Jobs { intake: &intake };
    let mut store = Store::open_in_memory().unwrap();
    let mut instants = Vec::new();
    let mut at = |d, h, m| {
        let t = utc(d, h, m);
        instants.push(t);
        t
    };
    jobs.run_due(&mut store, at(1, 11, 7)).unwrap();
    let t = at(2, 9, 17);
    take(
        &world,
        &mut store,
        "c1",
        format!(
            "From: Piet Jansen <piet@example.net>\r\nTo: info@example.org\r\nSubject: Cursus\r\nMessage-ID: <c1@example.net>\r\n\r\n{}\r\n",
            lang.complaint
        ),
        t,
    );
    let case = klachtd::store::cases::list(store.conn()).unwrap()[0].reference;
    let tag = case.tag();
    take(
        &world,
        &mut store,
        "f1",
        format!(
            "From: Piet Jansen <piet@example.net>\r\nTo: info@example.org\r\nSubject: Re: {tag}\r\nMessage-ID: <f1@example.net>\r\n\r\n{}\r\n",
            lang.follow_up
        ),
        at(2, 10, 23),
    );
    take(
        &world,
        &mut store,
        "q1",
        "To: info@example.org\r\nSubject: Cursus\r\nMessage-ID: <q1@example.net>\r\n\r\nzonder afzender\r\n".into(),
        at(2, 11, 31),
    );
    // An encrypted complaint (issue 23): the acknowledgement asks to send it again.
    take(
        &world,
        &mut store,
        "e1",
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/formats/pgp_mime_encrypted.eml"),
        )
        .unwrap(),
        at(2, 12, 37),
    );
    let k = lang.keywords;
    let anna = "anna.devries@example.org";
    let steps = [
        (
            anna,
            format!("{}: {anna}\n{}\n\n{}", k[0], k[1], lang.reaction),
            (3, 8, 41),
        ),
        (
            anna,
            format!(
                "{}: {}",
                k[2],
                if lang.code == "nl" {
                    "graag meekijken"
                } else {
                    "please have a look"
                }
            ),
            (3, 9, 43),
        ),
        (
            "directie@example.org",
            format!(
                "{}: 3 {}",
                k[3],
                if lang.code == "nl" { "drukte" } else { "busy" }
            ),
            (3, 10, 47),
        ),
        // Refused as a whole: a misspelt keyword, the director's command, closing too early.
        (
            anna,
            if lang.code == "nl" {
                "Oplosing: x\nVerleng: 3\nAfgehandeld"
            } else {
                "Soluton: x\nExtend: 3\nClose"
            }
            .to_string(),
            (4, 8, 3),
        ),
        (
            anna,
            format!("{}: planning\n{}: refund\n{}\n{}", k[4], k[5], k[6], k[7]),
            (4, 12, 53),
        ),
        (
            anna,
            format!(
                "{}: {}",
                k[8],
                if lang.code == "nl" {
                    "klager is het oneens"
                } else {
                    "the complainant disagrees"
                }
            ),
            (5, 13, 59),
        ),
        ("examencommissie@example.org", k[9].to_string(), (6, 14, 13)),
    ];
    for (i, (from, body, (d, h, m))) in steps.iter().enumerate() {
        take(
            &world,
            &mut store,
            &format!("s{i}"),
            staff(from, &tag, &format!("s{i}"), body, true),
            at(*d, *h, *m),
        );
    }
    // An unproven staff mail is held.
    take(
        &world,
        &mut store,
        "u1",
        staff(anna, &tag, "u1", k[7], false),
        at(6, 15, 19),
    );
    // A second case that runs late: a reminder, then the overdue alert.
    take(
        &world,
        &mut store,
        "c2",
        format!(
            "From: <marie@example.net>\r\nTo: info@example.org\r\nSubject: Certificaat\r\nMessage-ID: <c2@example.net>\r\n\r\n{}\r\n",
            lang.complaint
        ),
        at(9, 9, 29),
    );
    // issue 25: a privacy request on the first case, extended once (the letter to the
    // requester), and one on the second case that runs late (its reminders and notice).
    let (request, erasure) = if lang.code == "nl" {
        (
            "Verzoek: inzage 20-10-2026\nVerzoek: verlengen 1 drukte",
            "Verzoek: verwijdering 19-10-2026",
        )
    } else {
        (
            "Request: access 20-10-2026\nRequest: extend 1 busy",
            "Request: erasure 19-10-2026",
        )
    };
    take(
        &world,
        &mut store,
        "v1",
        staff(anna, &tag, "v1", request, true),
        at(9, 10, 31),
    );
    let tag2 = klachtd::store::cases::list(store.conn()).unwrap()[1]
        .reference
        .tag();
    take(
        &world,
        &mut store,
        "v2",
        staff(anna, &tag2, "v2", erasure, true),
        at(9, 11, 33),
    );
    // Issue 22: a third complaint in the same minute waits for the hourly maximum (the
    // director told once), and six unreadable mails in a day go past the budget for unproven
    // senders: five notices to the director, then one summary.
    take(
        &world,
        &mut store,
        "c3",
        format!(
            "From: <joost@example.net>\r\nTo: info@example.org\r\nSubject: Rooster\r\nMessage-ID: <c3@example.net>\r\n\r\n{}\r\n",
            lang.complaint
        ),
        at(9, 9, 29),
    );
    for i in 0..6 {
        take(
            &world,
            &mut store,
            &format!("q{}", i + 2),
            format!(
                "To: info@example.org\r\nSubject: Cursus\r\nMessage-ID: <q{}@example.net>\r\n\r\nzonder afzender\r\n",
                i + 2
            ),
            at(9, 10, 51),
        );
    }
    let mut now = utc(9, 12, 0);
    while now < utc(20, 0, 0) {
        jobs.run_due(&mut store, now).unwrap();
        now += Duration::hours(1);
    }
    store
        .transaction(|tx| jobs.send_digest_now(tx, utc(23, 7, 37)))
        .unwrap();
    store
        .transaction(|tx| {
            jobs.send_report(
                tx,
                2026,
                NaiveDate::from_ymd_opt(2027, 1, 4).unwrap(),
                utc(23, 7, 37),
            )
        })
        .unwrap();
    instants.push(utc(23, 7, 37));
    let mails = outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .map(|m| (m.kind, InboundMail::parse(&m.raw).unwrap()))
        .collect();
    (mails, instants)
}

/// English words that have no business in a Dutch letter (and are no Dutch words themselves).
const ENGLISH_WORDS: &[&str] = &[
    "the",
    "and",
    "your",
    "you",
    "complaint",
    "complaints",
    "registered",
    "command",
    "commands",
    "reminder",
    "overdue",
    "reply",
    "received",
    "from",
    "with",
    "please",
    "dear",
    "handler",
    "deadline",
    "history",
    "event",
    "none",
    "yes",
    "agreement",
    "cause",
    "solution",
    "verdict",
    "appeal",
    "upheld",
    "rejected",
    "closed",
    "resolved",
    "by",
    "new",
    "acknowledgement",
    "note",
    "reaction",
    "escalated",
    "appealed",
    "extended",
    "follow",
    "sent",
    "awaiting",
];

/// Dutch words that have no business in an English letter.
const DUTCH_WORDS: &[&str] = &[
    "de",
    "het",
    "een",
    "klacht",
    "klachten",
    "uw",
    "van",
    "niet",
    "geen",
    "afgehandeld",
    "behandelaar",
    "reactie",
    "uiterlijk",
    "ontvangen",
    "werkdagen",
    "herinnering",
    "termijn",
    "geregistreerd",
    "opdracht",
    "notitie",
    "verstreken",
    "ja",
    "nee",
    "gegrond",
    "ongegrond",
    "voor",
    "naar",
    "bij",
    "met",
    "wacht",
    "verstuurd",
    "geschiedenis",
    "afhandeling",
];

/// The mail's own words: without the complainant's and staff's texts quoted in it.
fn own_text(text: &str, quoted: &[&str]) -> String {
    let mut t = text.to_string();
    for q in quoted {
        for line in q.lines().filter(|l| l.trim().len() > 3) {
            t = t.replace(line.trim(), " ");
        }
    }
    t
}

fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn html_text(html: &str) -> String {
    klachtd::commands::new_text::html_to_lines(html)
}

#[test]
fn every_template_in_both_languages_speaks_one_language_in_local_time() {
    for (lang, foreign) in [(&NL, ENGLISH_WORDS), (&EN, DUTCH_WORDS)] {
        let (mails, instants) = run(lang);
        // issue 25's mails are among them: the requester's letter and the reminders.
        let privacy = |kind: OutboxKind, word: &str| {
            mails
                .iter()
                .any(|(k, m)| *k == kind && m.subject.contains(word))
        };
        let (more_time, avg) = if lang.code == "nl" {
            ("Meer tijd voor uw verzoek", "(AVG)")
        } else {
            ("More time for your", "(GDPR)")
        };
        assert!(
            privacy(OutboxKind::ExtensionNotice, more_time),
            "{}",
            lang.code
        );
        assert!(privacy(OutboxKind::Reminder, avg), "{}", lang.code);
        let kinds: BTreeSet<&str> = mails.iter().map(|(k, _)| k.as_str()).collect();
        for expected in [
            OutboxKind::Acknowledgement,
            OutboxKind::StaffNotification,
            OutboxKind::FollowUpNotification,
            OutboxKind::DirectorNotice,
            OutboxKind::Reaction,
            OutboxKind::Transcript,
            OutboxKind::Escalation,
            OutboxKind::ExtensionNotice,
            OutboxKind::ClosingLetter,
            OutboxKind::Appeal,
            OutboxKind::VerdictLetter,
            OutboxKind::ConfirmationRequest,
            OutboxKind::Reminder,
            OutboxKind::OverdueAlert,
            OutboxKind::Digest,
            OutboxKind::AnnualReport,
            OutboxKind::Summary,
        ] {
            assert!(
                kinds.contains(expected.as_str()),
                "{}: no {}",
                lang.code,
                expected.as_str()
            );
        }
        // The director's notice of the spread acknowledgements (issue 22), once.
        let flood = if lang.code == "nl" {
            "Veel klachten tegelijk"
        } else {
            "Many complaints at once"
        };
        assert_eq!(
            mails
                .iter()
                .filter(|(k, m)| *k == OutboxKind::DirectorNotice && m.subject.starts_with(flood))
                .count(),
            1,
            "{}",
            lang.code
        );
        let quoted = [
            "klachtd help-commands",
            "Anna de Vries",
            "klachtd cases",
            lang.complaint,
            lang.follow_up,
            lang.reaction,
            "zonder afzender",
            "graag meekijken",
            "please have a look",
            "drukte",
            "klager is het oneens",
            "the complainant disagrees",
            "de docent was ziek",
            "the teacher was ill",
        ];
        let utc_times: Vec<String> = instants
            .iter()
            .map(|t| t.format("%H:%M").to_string())
            .collect();
        for (kind, mail) in &mails {
            let what = format!("{} {}", lang.code, kind.as_str());
            for (part, text) in [
                ("subject", mail.subject.clone()),
                ("text", mail.text.clone()),
                ("html", html_text(mail.html.as_deref().unwrap_or_default())),
            ] {
                // Command lines echoed in transcripts and confirmation requests are as typed.
                let mut own = own_text(&text, &quoted);
                for k in lang.keywords {
                    own = own.replace(k, " ");
                }
                let found: Vec<&str> = foreign
                    .iter()
                    .copied()
                    .filter(|w| words(&own).contains(*w))
                    .collect();
                assert!(found.is_empty(), "{what} {part}: {found:?} in\n{text}");
                for t in &utc_times {
                    assert!(
                        !text.contains(t.as_str()),
                        "{what} {part}: UTC time {t} in\n{text}"
                    );
                }
                assert!(
                    !text.contains("UTC") && !text.contains("+00:00"),
                    "{what} {part}: {text}"
                );
            }
        }
        // The history the director and committee read: local time, the language's words.
        let escalation = &mails
            .iter()
            .find(|(k, _)| *k == OutboxKind::Escalation)
            .unwrap()
            .1
            .text;
        let received_local = utc(2, 9, 17)
            .with_timezone(&Amsterdam)
            .format("%H:%M")
            .to_string();
        assert_eq!(received_local, "10:17");
        assert!(escalation.contains(&received_local), "{escalation}");
        // The refused mail's transcript says why per line, in the organisation's language, and
        // the committee's history tells of it in the same language.
        let refused = mails
            .iter()
            .filter(|(k, _)| *k == OutboxKind::Transcript)
            .map(|(_, m)| &m.text)
            .find(|t| t.contains("Oplosing: x") || t.contains("Soluton: x"))
            .expect("a transcript of the refused mail");
        let appeal = &mails
            .iter()
            .find(|(k, _)| *k == OutboxKind::Appeal)
            .unwrap()
            .1
            .text;
        let expected = if lang.code == "nl" {
            [
                "onbekend trefwoord 'Oplosing' — bedoelt u Oplossing?",
                "een termijn verlengen kan alleen de directeur",
                "kan niet afhandelen, nog niet vastgelegd: oorzaak, oplossing, akkoord (ja/nee)",
            ]
        } else {
            [
                "unknown keyword 'Soluton' — did you mean Solution?",
                "only the director can extend a period",
                "cannot resolve yet, still to be recorded: cause, solution, agreement (yes/no)",
            ]
        };
        for e in expected {
            assert!(refused.contains(e), "{e}\n{refused}");
        }
        let history_line = if lang.code == "nl" {
            "opdrachten geweigerd (anna.devries@example.org): Opdracht-mail geweigerd, niets gewijzigd."
        } else {
            "commands refused (anna.devries@example.org): Command e-mail refused, nothing changed."
        };
        assert!(appeal.contains(history_line), "{appeal}");
        if lang.code == "nl" {
            assert!(
                escalation.starts_with("Beste Marjolein Dijkstra,"),
                "{escalation}"
            );
            assert!(
                escalation.contains("Anna de Vries (anna.devries@example.org) legt klacht"),
                "{escalation}"
            );
            assert!(escalation.contains("klacht geregistreerd"), "{escalation}");
            let quarantine = &mails
                .iter()
                .find(|(k, _)| *k == OutboxKind::DirectorNotice)
                .unwrap()
                .1
                .text;
            assert!(quarantine.contains("geen afzenderadres"), "{quarantine}");
            assert!(quarantine.starts_with("Geachte directeur,"), "{quarantine}");
            let alert = &mails
                .iter()
                .find(|(k, _)| *k == OutboxKind::OverdueAlert)
                .unwrap()
                .1
                .text;
            assert!(alert.starts_with("Beste Marjolein Dijkstra,"), "{alert}");
        } else {
            assert!(
                escalation.starts_with("Dear Marjolein Dijkstra,"),
                "{escalation}"
            );
            assert!(escalation.contains("complaint registered"), "{escalation}");
        }
    }
}

/// Issue 22, item 5: each field line of the notice to staff carries its own value only —
/// whatever else the mail has to say (repaired, unreachable, not acknowledged, attachments
/// left out) stands on lines of its own, never inside "Van:" or another field.
#[test]
fn notice_fields_carry_only_their_own_value() {
    use klachtd::domain::Language;
    use klachtd::outbound::{Renderer, Template};
    let renderer = Renderer::load(None).unwrap();
    for lang in [Language::Nl, Language::En] {
        for flags in 0u8..32 {
            let on = |bit: u8| flags & (1 << bit) != 0;
            let mut c = tera::Context::new();
            c.insert("address", "info@example.org");
            c.insert("reference", "KL-2026-0001");
            c.insert("tag", "[KL-2026-0001]");
            c.insert("name", &on(0).then_some("«Piet Jansen»"));
            c.insert("complainant", "piet@example.net");
            c.insert("received", "maandag 2 november 2026 om 10:17");
            c.insert("subject", "«Cursus»");
            c.insert("reaction_due", "maandag 9 november 2026");
            c.insert("reaction_days", &5);
            c.insert("acknowledged", &on(1));
            c.insert("repaired", &on(2));
            c.insert(
                "unreachable",
                &on(3).then_some("\"Piet\" <piet@@example.net>"),
            );
            let attachments: Vec<serde_json::Value> = if on(4) {
                vec![
                    serde_json::json!({"number": 1, "name": "scan.pdf", "size": "6.0 MB",
                    "attached": false, "readable": true, "fetch": ""}),
                ]
            } else {
                Vec::new()
            };
            c.insert("attachments", &attachments);
            c.insert("example_handler", "anna@example.org");
            c.insert("body", "Ik ben niet tevreden.");
            let text = renderer
                .render(Template::StaffNotification, lang, &c)
                .unwrap()
                .text;
            let field = |label: &str| {
                text.lines()
                    .find(|l| l.starts_with(label))
                    .map(|l| l[label.len()..].trim().to_string())
                    .unwrap_or_else(|| panic!("no {label} in\n{text}"))
            };
            let (from, received, subject) = match lang {
                Language::Nl => ("Van:", "Ontvangen:", "Onderwerp:"),
                Language::En => ("From:", "Received:", "Subject:"),
            };
            let expected_from = match (on(3), on(0), lang) {
                (true, _, Language::Nl) => {
                    "\"Piet\" <piet@@example.net> (kan niet per e-mail worden beantwoord)"
                }
                (true, _, Language::En) => {
                    "\"Piet\" <piet@@example.net> (cannot be answered by e-mail)"
                }
                (_, true, _) => "«Piet Jansen» <piet@example.net>",
                _ => "piet@example.net",
            };
            assert_eq!(field(from), expected_from, "{flags:05b}\n{text}");
            assert_eq!(
                field(received),
                "maandag 2 november 2026 om 10:17",
                "{text}"
            );
            assert_eq!(field(subject), "«Cursus»", "{text}");
        }
    }
}
