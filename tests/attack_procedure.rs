//! Issue 21: what the issue saw, and the attacks of a review briefed only with the seed
//! procedure and README's command table, each kept as a test. Every mail goes through the real
//! intake (in process, proven by the trusted server's `smtp.auth` unless said otherwise); each
//! test asserts the state the procedure forbids is not reached, and what everyone was sent.

mod common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::world::World;
use klachtd::domain::{CaseRef, CaseStatus};
use klachtd::inbound::{InboundMail, RawMail};
use klachtd::intake::IntakeResult;
use klachtd::jobs::Jobs;
use klachtd::settings::Settings;
use klachtd::store::outbox::{self, OutboxKind, QueuedMail};
use klachtd::store::{CaseRecord, MailOutcome, Store, cases};

const ANNA: &str = "anna@example.org";
const PIETER: &str = "pieter@example.org";
const DIRECTOR: &str = "directie@example.org";
const COMMITTEE: &str = "examencommissie@example.org";
const KLANT: &str = "klant@example.net";

/// Monday 7 December 2026, 10:00 in Amsterdam.
fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-07T10:00:00+01:00")
        .unwrap()
        .to_utc()
}

struct Office {
    world: World,
    store: Store,
    n: usize,
    now: DateTime<Utc>,
    seen: i64,
}

impl Office {
    fn new() -> Office {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("klachtd.toml");
        std::fs::write(
            &file,
            "[roles.names]\n\"Anna de Vries\" = \"anna@example.org\"\n",
        )
        .unwrap();
        let env = [
            (
                "KLACHTD__ROLES__STAFF",
                "anna@example.org,pieter@example.org",
            ),
            ("KLACHTD__ROLES__DIRECTOR", DIRECTOR),
            ("KLACHTD__ROLES__COMMITTEE", COMMITTEE),
            ("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", "mail.example.org"),
        ];
        let settings = Settings::load_with_env(
            Some(&file),
            env.map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap();
        Office {
            world: World::new(settings),
            store: Store::open_in_memory().unwrap(),
            n: 0,
            now: t0(),
            seen: 0,
        }
    }

    fn take(&mut self, raw: String) -> IntakeResult {
        self.n += 1;
        self.world
            .intake()
            .process(
                &mut self.store,
                &RawMail {
                    source_key: format!("m{}", self.n),
                    bytes: raw.into_bytes(),
                    arrived_at: Some(self.now),
                },
                self.now,
            )
            .unwrap()
    }

    /// A complaint from `from`.
    fn complaint(&mut self, from: &str) -> CaseRef {
        let raw = format!(
            "From: <{from}>\r\nTo: info@example.org\r\nSubject: Klacht over de cursus\r\nMessage-ID: <k{}@example.net>\r\n\r\nIk ben niet tevreden over de cursus.\r\n",
            self.n
        );
        let r = self.take(raw);
        assert_eq!(r.outcome, MailOutcome::CaseCreated, "{}", r.reason);
        r.case.unwrap()
    }

    /// A proven mail from a role address, about `case` (or a new mail), with `body`.
    fn mail(&mut self, from: &str, case: Option<CaseRef>, body: &str) -> IntakeResult {
        let subject = match case {
            Some(c) => format!("RE: {} Klacht over de cursus", c.tag()),
            None => "Telefonische klacht".into(),
        };
        let raw = format!(
            "Authentication-Results: mail.example.org; auth=pass smtp.auth={from}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\nFrom: <{from}>\r\nTo: info@example.org\r\nSubject: {subject}\r\nMessage-ID: <s{}@example.org>\r\n\r\n{}\r\n",
            self.n,
            body.replace('\n', "\r\n")
        );
        self.take(raw)
    }

    fn case(&self, r: CaseRef) -> CaseRecord {
        cases::get(self.store.conn(), r).unwrap().unwrap()
    }

    /// The mail queued since the last call.
    fn sent(&mut self) -> Vec<QueuedMail> {
        let new = outbox::after(self.store.conn(), self.seen).unwrap();
        if let Some(last) = new.last() {
            self.seen = last.id;
        }
        new
    }

    /// The text of the one transcript among `sent` to `to`.
    fn transcript(sent: &[QueuedMail], to: &str) -> String {
        let t: Vec<_> = sent
            .iter()
            .filter(|m| m.kind == OutboxKind::Transcript && m.recipients[0] == to)
            .collect();
        assert_eq!(t.len(), 1, "one transcript to {to}: {sent:?}");
        InboundMail::parse(&t[0].raw).unwrap().text
    }

    fn later(&mut self, working_days: u32) {
        let cal = &self.world.calendar;
        let tz = self.world.settings.timezone();
        let today = self.now.with_timezone(&tz).date_naive();
        let day = cal.add_working_days(today, working_days);
        self.now += Duration::days((day - today).num_days());
    }
}

fn kinds(sent: &[QueuedMail]) -> Vec<(OutboxKind, String)> {
    sent.iter()
        .map(|m| (m.kind, m.recipients[0].clone()))
        .collect()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

// ----- what the issue saw ----------------------------------------------------------------------

/// Four `Verleng: 60` lines in one director mail moved the reaction date from 14 December 2026
/// to 23 November 2027 and sent four identical notices. Now the mail is refused as a whole;
/// one `Verleng: 60` extends once and is told once, with its numbers; a 61st day is refused.
#[test]
fn four_extensions_in_one_mail_extend_nothing_and_a_deadline_gets_at_most_60_days() {
    let mut o = Office::new();
    let case = o.complaint(KLANT);
    assert_eq!(o.case(case).reaction_due, date(2026, 12, 14));
    o.sent();
    o.mail(
        DIRECTOR,
        Some(case),
        "Verleng: 60\nVerleng: 60\nVerleng: 60\nVerleng: 60",
    );
    let sent = o.sent();
    assert_eq!(
        o.case(case).reaction_due,
        date(2026, 12, 14),
        "nothing moved"
    );
    assert_eq!(kinds(&sent), [(OutboxKind::Transcript, DIRECTOR.into())]);
    let t = Office::transcript(&sent, DIRECTOR);
    assert!(t.contains("één Verleng per e-mail"), "{t}");

    o.mail(DIRECTOR, Some(case), "Verleng: 60 wachten op de docent");
    let sent = o.sent();
    let c = o.case(case);
    let until = o.world.calendar.add_working_days(date(2026, 12, 14), 60);
    assert_eq!((c.reaction_due, c.reaction_extended), (until, 60));
    let notices: Vec<_> = sent
        .iter()
        .filter(|m| m.kind == OutboxKind::ExtensionNotice)
        .collect();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].recipients, [KLANT]);
    let notice = InboundMail::parse(&notices[0].raw).unwrap().text;
    assert!(
        notice.contains("met 60 werkdagen verlengd")
            && notice.contains(&klachtd::outbound::templates::long_date(
                until,
                klachtd::domain::Language::Nl
            )),
        "{notice}"
    );

    o.mail(DIRECTOR, Some(case), "Verleng: 1");
    let sent = o.sent();
    assert_eq!(o.case(case).reaction_due, until, "no 61st day");
    assert!(
        Office::transcript(&sent, DIRECTOR)
            .contains("al met 60 verlengd, dus nu nog met hoogstens 0")
    );
    // The closing period is another deadline, with its own 60 days.
    o.mail(ANNA, Some(case), "Reactie\n\nBeste klant, excuses.");
    o.mail(DIRECTOR, Some(case), "Verleng: 60");
    assert_eq!(o.case(case).closing_extended, 60);
    o.mail(DIRECTOR, Some(case), "Verleng: 5");
    assert_eq!(o.case(case).closing_extended, 60);
}

/// `Klacht: info@example.org` registered a case whose acknowledgement went to info@ itself;
/// `Klacht: info+kl-2026-0001.abc@…` was taken as a complainant.
#[test]
fn our_own_address_is_never_a_complainant() {
    let mut o = Office::new();
    for address in [
        "info@example.org",
        "INFO@Example.org",
        "info+kl-2026-0001.abcdefabcdefabcdefabcdef@example.org",
        "info+x@example.org",
    ] {
        let r = o.mail(
            ANNA,
            None,
            &format!("Klacht: {address}\n\nDe klant belde over de factuur."),
        );
        assert_eq!(r.outcome, MailOutcome::Ignored, "{address}");
        let sent = o.sent();
        assert_eq!(kinds(&sent), [(OutboxKind::Transcript, ANNA.into())]);
        assert!(Office::transcript(&sent, ANNA).contains("het adres van de organisatie zelf"));
    }
    assert!(cases::list(o.store.conn()).unwrap().is_empty());
}

/// `Klacht: directie@…` made the director a complainant who then worked her own complaint as
/// director. Now she is its complainant only: her mail about it is her follow-up, nothing she
/// writes extends it, staff cannot put it before her, and no staff mail about it reaches her.
#[test]
fn the_director_as_complainant_cannot_work_her_own_complaint() {
    let mut o = Office::new();
    let r = o.mail(
        ANNA,
        None,
        &format!("Klacht: {DIRECTOR}\n\nDe directeur klaagt over de schoonmaak."),
    );
    assert_eq!(r.outcome, MailOutcome::CaseCreated);
    let case = r.case.unwrap();
    let sent = o.sent();
    assert!(
        !sent
            .iter()
            .any(|m| m.recipients[0] == DIRECTOR && m.kind != OutboxKind::Acknowledgement)
    );
    let due = o.case(case).reaction_due;
    let r = o.mail(
        DIRECTOR,
        Some(case),
        "Verleng: 30\nAanbeveling: meer schoonmakers",
    );
    assert_eq!(r.outcome, MailOutcome::AddedToCase);
    assert!(r.reason.starts_with("follow-up"), "{}", r.reason);
    assert_eq!(o.case(case).reaction_due, due, "not extended");
    let sent = o.sent();
    assert_eq!(
        kinds(&sent),
        [
            (OutboxKind::FollowUpNotification, ANNA.into()),
            (OutboxKind::FollowUpNotification, PIETER.into())
        ],
        "her mail goes to staff as the complainant's"
    );
    o.mail(ANNA, Some(case), "Escaleer");
    let sent = o.sent();
    assert!(Office::transcript(&sent, ANNA).contains("de directeur is zelf de klager"));
    assert!(o.case(case).escalated_at.is_none());
    assert!(!sent.iter().any(|m| m.recipients[0] == DIRECTOR));
}

/// A staff member registered herself and closed her own case with `Akkoord: ja`. Now an
/// internal complaint is registered by a colleague or comes from another address of hers; she
/// never handles or closes it.
#[test]
fn a_staff_member_is_a_complainant_but_never_handles_or_closes_her_own_complaint() {
    let mut o = Office::new();
    let r = o.mail(
        ANNA,
        None,
        &format!("Klacht: {ANNA}\n\nIk klaag over mijn rooster."),
    );
    assert_eq!(r.outcome, MailOutcome::Ignored, "not in her own name");
    assert!(Office::transcript(&o.sent(), ANNA).contains("geen klacht op uw eigen adres"));
    let r = o.mail(ANNA, None, "Klacht: anna+prive@example.org\n\nIk klaag.");
    assert_eq!(r.outcome, MailOutcome::Ignored, "nor under a +tag");
    o.sent();

    // Registered by a colleague.
    let r = o.mail(
        PIETER,
        None,
        &format!("Klacht: {ANNA}\n\nAnna klaagt over haar rooster."),
    );
    let case = r.case.unwrap();
    let sent = o.sent();
    assert_eq!(
        kinds(&sent),
        [
            (OutboxKind::Acknowledgement, ANNA.into()),
            (OutboxKind::StaffNotification, PIETER.into()),
            (OutboxKind::Transcript, PIETER.into()),
        ]
    );
    // She tries to close it herself, naming herself as handler: it is her follow-up.
    let r = o.mail(
        ANNA,
        Some(case),
        &format!("Behandelaar: {ANNA}\nOorzaak: x\nOplossing: y\nAkkoord: ja\nAfgehandeld"),
    );
    assert!(r.reason.starts_with("follow-up"), "{}", r.reason);
    assert_eq!(o.case(case).status, CaseStatus::Open);
    assert_eq!(
        kinds(&o.sent()),
        [(OutboxKind::FollowUpNotification, PIETER.into())]
    );
    // A colleague cannot make her the handler either, by address, tag or name.
    for handler in [ANNA, "Anna de Vries"] {
        o.mail(PIETER, Some(case), &format!("Behandelaar: {handler}"));
        assert!(
            Office::transcript(&o.sent(), PIETER).contains("niet de klager zelf zijn"),
            "{handler}"
        );
        assert!(o.case(case).handler.is_none());
    }
    // Pieter handles it; nothing about it goes to Anna but what a complainant gets.
    o.mail(
        PIETER,
        Some(case),
        &format!("Behandelaar: {PIETER}\nOorzaak: rooster\nOplossing: nieuw rooster\nAkkoord: ja\nAfgehandeld"),
    );
    let sent = o.sent();
    assert_eq!(
        kinds(&sent),
        [
            (OutboxKind::ClosingLetter, ANNA.into()),
            (OutboxKind::Transcript, PIETER.into())
        ]
    );
}

/// From a private address she is a complainant like anyone (a `+tag` spelling of her work
/// address is that role address: issue 19); her work address is then still hers on that case,
/// as its complainant.
#[test]
fn an_internal_complaint_from_another_address_of_hers() {
    let mut o = Office::new();
    let r = o.take(
        "From: <anna+thuis@example.org>\r\nTo: info@example.org\r\nSubject: Klacht\r\nMessage-ID: <tag@example.net>\r\n\r\nIk ben niet tevreden.\r\n".into(),
    );
    assert_eq!(
        r.outcome,
        MailOutcome::Ignored,
        "a +tag is her role address: held"
    );
    o.sent();
    // From an address klachtd does not know as hers (a private mailbox elsewhere) it is an
    // outsider's complaint; registered by the director in her work address, it is hers.
    o.complaint("anna.thuis@example.net");
    o.sent();
    let r = o.mail(
        DIRECTOR,
        None,
        &format!("Klacht: {ANNA}\n\nAnna klaagt over haar rooster."),
    );
    let case = r.case.unwrap();
    let sent = o.sent();
    assert_eq!(
        kinds(&sent),
        [
            (OutboxKind::Acknowledgement, ANNA.into()),
            (OutboxKind::StaffNotification, PIETER.into()),
            (OutboxKind::Transcript, DIRECTOR.into()),
        ],
        "no staff notice of her own complaint to her"
    );
    let r = o.mail(
        ANNA,
        Some(case),
        "Notitie: ik regel het zelf wel\nAfgehandeld",
    );
    assert!(r.reason.starts_with("follow-up"), "{}", r.reason);
    o.mail(PIETER, Some(case), &format!("Behandelaar: {ANNA}"));
    assert!(Office::transcript(&o.sent(), PIETER).contains("niet de klager zelf zijn"));
    // Reminders of its deadline go to her colleagues, not to her.
    o.later(5);
    o.now += Duration::hours(1);
    let intake = o.world.intake();
    Jobs { intake: &intake }
        .run_due(&mut o.store, o.now)
        .unwrap();
    let reminders: Vec<_> = o
        .sent()
        .into_iter()
        .filter(|m| m.kind == OutboxKind::Reminder && m.case == Some(case))
        .map(|m| m.recipients[0].clone())
        .collect();
    assert_eq!(reminders, [PIETER]);
}

/// `Beroep` was accepted on an open case, so a case could reach a binding verdict without the
/// complainant ever receiving a reaction.
#[test]
fn an_appeal_comes_only_after_the_reaction_or_its_deadline() {
    let mut o = Office::new();
    let case = o.complaint(KLANT);
    o.mail(ANNA, Some(case), "Beroep: de klant is boos");
    assert!(
        Office::transcript(&o.sent(), ANNA).contains("beroep kan pas als de klager een reactie")
    );
    assert_eq!(o.case(case).status, CaseStatus::Open);
    // Once the reaction deadline has passed without one, the complainant may go on.
    o.later(6);
    o.mail(ANNA, Some(case), "Beroep: geen reactie gekregen");
    assert_eq!(o.case(case).status, CaseStatus::Appealed);
    o.mail(
        COMMITTEE,
        Some(case),
        "Uitspraak: gegrond, er kwam geen reactie",
    );
    let c = o.case(case);
    assert_eq!(c.status, CaseStatus::Final);
    assert_eq!(c.reacted_at, c.verdict_at, "the verdict was the reaction");
    // After a reaction, at once.
    let other = o.complaint("klant2@example.net");
    o.mail(ANNA, Some(other), "Reactie\n\nBeste klant, excuses.");
    o.mail(ANNA, Some(other), "Beroep");
    assert_eq!(o.case(other).status, CaseStatus::Appealed);
}

/// 36 complaints of 2026, each closed by its handler within 1–8 days with `Afgehandeld`: the
/// yearly analysis said "Reactie binnen 5 werkdagen: 0% (0 van 36)" and "Afgehandeld binnen 14
/// werkdagen na de reactie: - (0 van 0)", its chart drawn empty. The closing letter is the
/// reaction.
#[test]
fn the_yearly_figure_counts_the_closing_letter_as_the_reaction() {
    let mut o = Office::new();
    o.now = DateTime::parse_from_rfc3339("2026-02-02T10:00:00+01:00")
        .unwrap()
        .to_utc();
    let mut within = 0;
    for i in 0..36u32 {
        let case = o.complaint(&format!("klant{i}@example.net"));
        let start = o.now;
        let days = 1 + i % 8;
        within += usize::from(days <= 5);
        o.later(days);
        o.mail(
            ANNA,
            Some(case),
            &format!("Behandelaar: {ANNA}\nOorzaak: x\nOplossing: y\nMaatregel: z\nAkkoord: ja\nAfgehandeld"),
        );
        assert_eq!(o.case(case).status, CaseStatus::Closed);
        o.now = start + Duration::days(7);
    }
    let intake = o.world.intake();
    let jobs = Jobs { intake: &intake };
    let report = jobs
        .year_report(o.store.conn(), 2026, date(2027, 1, 5))
        .unwrap();
    assert_eq!(report.total, 36);
    assert_eq!(
        (report.reaction.within, report.reaction.measured),
        (within, 36)
    );
    assert_eq!((report.closing.within, report.closing.measured), (36, 36));
    let text = o
        .world
        .renderer
        .render_markdown(
            klachtd::outbound::Template::AnnualReport,
            klachtd::domain::Language::Nl,
            &jobs.report_context(&report),
        )
        .unwrap();
    assert!(
        text.contains(&format!(
            "Reactie binnen 5 werkdagen: **{}%** ({within} van 36)",
            within * 100 / 36 + usize::from(within * 100 % 36 >= 18)
        )),
        "{text}"
    );
    assert!(text.contains("Afgehandeld binnen 14 werkdagen na de reactie: **100%** (36 van 36)"));
    let charts = jobs.report_charts(&report);
    assert!(charts[1].1.matches("<rect").count() == 3, "two bars drawn");
}

/// `report --format md` wrote staff-typed HTML unescaped while the HTML report and the digest
/// escaped it. Now one function escapes it in all three.
#[test]
fn every_report_format_escapes_what_people_typed_the_same_way() {
    let mut o = Office::new();
    o.now = DateTime::parse_from_rfc3339("2026-03-02T10:00:00+01:00")
        .unwrap()
        .to_utc();
    let raw = format!(
        "From: <{KLANT}>\r\nTo: info@example.org\r\nSubject: <img src=x onerror=alert(1)> *vet* [link](javascript:alert(1))\r\nMessage-ID: <x@example.net>\r\n\r\nKlacht.\r\n"
    );
    let case = o.take(raw).case.unwrap();
    let cause = "<script>alert(1)</script> | *vet*";
    let measure = "<svg onload=alert(1)>";
    o.mail(
        ANNA,
        Some(case),
        &format!("Behandelaar: {ANNA}\nOorzaak: {cause}\nOplossing: y\nMaatregel: {measure}\nAkkoord: ja\nAfgehandeld"),
    );
    assert_eq!(o.case(case).status, CaseStatus::Closed);
    let intake = o.world.intake();
    let jobs = Jobs { intake: &intake };
    let report = jobs
        .year_report(o.store.conn(), 2026, date(2027, 1, 5))
        .unwrap();
    let context = jobs.report_context(&report);
    let lang = klachtd::domain::Language::Nl;
    let md = o
        .world
        .renderer
        .render_markdown(klachtd::outbound::Template::AnnualReport, lang, &context)
        .unwrap();
    let html = o
        .world
        .renderer
        .render(klachtd::outbound::Template::AnnualReport, lang, &context)
        .unwrap()
        .html;
    let digest = jobs
        .digest_content(o.store.conn(), o.now + Duration::days(2))
        .unwrap();
    let digest_html = o
        .world
        .renderer
        .render(
            klachtd::outbound::Template::Digest,
            lang,
            &jobs.digest_context(&digest),
        )
        .unwrap()
        .html;
    let esc = klachtd::outbound::templates::escape_typed;
    for (name, out, typed) in [
        ("md", &md, vec![cause, measure]),
        ("html", &html, vec![cause, measure]),
        (
            "digest",
            &digest_html,
            vec!["<img src=x onerror=alert(1)> *vet* [link](javascript:alert(1))"],
        ),
    ] {
        for t in typed {
            assert!(
                out.contains(&esc(t)),
                "{name}: {t} not escaped as one: {out}"
            );
        }
        for raw in ["<script", "<svg onload", "<img src=x", "](javascript"] {
            assert!(!out.contains(raw), "{name} holds {raw}");
        }
    }
}

// ----- the review's attacks --------------------------------------------------------------------

/// Withdrawing and reopening does not buy a second 60 days, nor an early appeal.
#[test]
fn withdrawing_and_reopening_resets_neither_the_extension_nor_the_appeal_rule() {
    let mut o = Office::new();
    let case = o.complaint(KLANT);
    o.mail(DIRECTOR, Some(case), "Verleng: 60");
    o.mail(ANNA, Some(case), "Geen klacht: een vraag");
    o.mail(ANNA, Some(case), "Heropen: toch een klacht");
    assert_eq!(o.case(case).status, CaseStatus::Open);
    o.sent();
    o.mail(DIRECTOR, Some(case), "Verleng: 1");
    assert_eq!(o.case(case).reaction_extended, 60);
    o.mail(ANNA, Some(case), "Beroep");
    assert_eq!(
        o.case(case).status,
        CaseStatus::Open,
        "the extended deadline has not passed"
    );
}

/// A held mail with two extensions, confirmed later, is refused as a whole like a proven one.
#[test]
fn a_confirmed_held_mail_obeys_the_same_rules() {
    let mut o = Office::new();
    let case = o.complaint(KLANT);
    o.sent();
    let raw = format!(
        "From: <{DIRECTOR}>\r\nTo: info@example.org\r\nSubject: RE: {} x\r\nMessage-ID: <h1@example.org>\r\n\r\nVerleng: 30\r\nVerleng: 30\r\n",
        case.tag()
    );
    o.take(raw);
    let request = o
        .sent()
        .into_iter()
        .find(|m| m.kind == OutboxKind::ConfirmationRequest)
        .unwrap();
    let text = InboundMail::parse(&request.raw).unwrap().text;
    let code: String = text
        .split("Bevestig ")
        .nth(1)
        .unwrap()
        .chars()
        .take(4)
        .collect();
    let raw = String::from_utf8_lossy(&request.raw).to_string();
    let reply_to = raw
        .lines()
        .find_map(|l| l.strip_prefix("Reply-To: "))
        .and_then(|l| l.split('<').nth(1))
        .and_then(|l| l.split('>').next())
        .unwrap()
        .to_string();
    o.take(format!(
        "From: <{DIRECTOR}>\r\nTo: <{reply_to}>\r\nSubject: Re: {} bevestigen\r\nIn-Reply-To: <{}>\r\nMessage-ID: <h2@example.org>\r\n\r\nBevestig {code}\r\n",
        case.tag(),
        request.message_id.trim_matches(['<', '>'])
    ));
    let sent = o.sent();
    assert_eq!(o.case(case).reaction_extended, 0);
    assert!(!sent.iter().any(|m| m.kind == OutboxKind::ExtensionNotice));
    assert!(Office::transcript(&sent, DIRECTOR).contains("één Verleng per e-mail"));
}

/// After the verdict nothing but a note changes the case: no reopening, no second appeal or
/// verdict, no new handler or language, no extension.
#[test]
fn a_verdict_is_final_whatever_anyone_sends() {
    let mut o = Office::new();
    let case = o.complaint(KLANT);
    o.mail(ANNA, Some(case), "Reactie\n\nBeste klant, excuses.");
    o.mail(ANNA, Some(case), "Beroep");
    o.mail(
        COMMITTEE,
        Some(case),
        "Uitspraak: ongegrond, de planning was juist",
    );
    let at_verdict = o.case(case);
    for (who, body) in [
        (ANNA, "Heropen: nieuwe informatie"),
        (ANNA, "Beroep: nog een keer"),
        (COMMITTEE, "Uitspraak: gegrond"),
        (PIETER, &format!("Behandelaar: {PIETER}") as &str),
        (ANNA, "Taal: en"),
        (DIRECTOR, "Verleng: 5"),
        (ANNA, "Oorzaak: toch iets anders"),
    ] {
        o.mail(who, Some(case), body);
        let now = o.case(case);
        assert_eq!(
            (
                now.status,
                &now.verdict,
                &now.handler,
                &now.language,
                &now.cause,
                now.reaction_extended
            ),
            (
                CaseStatus::Final,
                &at_verdict.verdict,
                &at_verdict.handler,
                &at_verdict.language,
                &at_verdict.cause,
                0
            ),
            "{body}"
        );
    }
    o.sent();
    o.mail(ANNA, Some(case), "Notitie: voor het archief");
    assert!(Office::transcript(&o.sent(), ANNA).contains("OK"));
}

/// The committee's address as complainant: the appeal would go to the complainant, so it is
/// refused; nothing for the committee about the case goes to it.
#[test]
fn the_committee_as_complainant_gets_no_appeal_of_its_own() {
    let mut o = Office::new();
    let r = o.mail(
        PIETER,
        None,
        &format!("Klacht: {COMMITTEE}\n\nDe commissie klaagt."),
    );
    let case = r.case.unwrap();
    o.mail(PIETER, Some(case), "Reactie\n\nBeste commissie, excuses.");
    o.sent();
    o.mail(PIETER, Some(case), "Beroep");
    let sent = o.sent();
    assert!(Office::transcript(&sent, PIETER).contains("examencommissie is zelf de klager"));
    assert_eq!(o.case(case).status, CaseStatus::Reacted);
    assert!(!sent.iter().any(|m| m.kind == OutboxKind::Appeal));
}

/// A complainant klachtd cannot write to: lines whose letter cannot go say nothing was sent,
/// and nothing is queued for them.
#[test]
fn a_transcript_never_claims_a_letter_that_cannot_go() {
    let mut o = Office::new();
    let case = o.complaint("a..b@example.net");
    assert!(o.case(case).complainant_address.is_none());
    o.sent();
    o.mail(ANNA, Some(case), "Reactie\n\nWij belden u.");
    o.mail(DIRECTOR, Some(case), "Verleng: 3");
    o.mail(
        ANNA,
        Some(case),
        &format!("Behandelaar: {ANNA}\nOorzaak: x\nOplossing: y\nAkkoord: ja\nAfgehandeld"),
    );
    let sent = o.sent();
    assert!(
        sent.iter().all(|m| m.kind == OutboxKind::Transcript),
        "{:?}",
        kinds(&sent)
    );
    let texts: Vec<String> = sent
        .iter()
        .map(|m| InboundMail::parse(&m.raw).unwrap().text)
        .collect();
    for t in &texts {
        assert!(!t.contains("de klager krijgt"), "{t}");
    }
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("er is NIETS verstuurd"))
            .count(),
        // The reaction to Anna; the extension to the director; the closing to Anna (and the
        // handler's copy is Anna's own).
        3
    );
    assert!(o.case(case).reacted_at.is_some());
}

/// With one staff member, her own complaint is told to the director: a complaint never goes
/// unnoticed because its complainant is the only colleague.
#[test]
fn the_only_staff_members_own_complaint_goes_to_the_director() {
    let world = World::with_env(&[
        ("KLACHTD__ROLES__STAFF", ANNA),
        ("KLACHTD__ROLES__DIRECTOR", DIRECTOR),
        ("KLACHTD__ROLES__COMMITTEE", COMMITTEE),
        ("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", "mail.example.org"),
    ]);
    let mut store = Store::open_in_memory().unwrap();
    // Registered by the director (a `+tag` of her work address is her role address: issue 19).
    let raw = format!(
        "Authentication-Results: mail.example.org; auth=pass smtp.auth={DIRECTOR}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\nFrom: <{DIRECTOR}>\r\nTo: info@example.org\r\nSubject: Telefonische klacht\r\nMessage-ID: <eigen@example.org>\r\n\r\nKlacht: {ANNA}\r\n\r\nAnna klaagt over haar rooster.\r\n"
    );
    let case = world
        .intake()
        .process(
            &mut store,
            &RawMail {
                source_key: "eigen".into(),
                bytes: raw.into_bytes(),
                arrived_at: Some(t0()),
            },
            t0(),
        )
        .unwrap()
        .case
        .unwrap();
    let told: Vec<(OutboxKind, String)> = outbox::all(store.conn())
        .unwrap()
        .iter()
        .map(|m| (m.kind, m.recipients[0].clone()))
        .collect();
    assert_eq!(
        told,
        [
            (OutboxKind::Acknowledgement, ANNA.into()),
            (OutboxKind::StaffNotification, DIRECTOR.into()),
            (OutboxKind::Transcript, DIRECTOR.into()),
        ],
        "{case}"
    );
}

/// The committee is the independent appeal body: it cannot handle the complaint it may judge,
/// nor be made its handler.
#[test]
fn the_committee_never_handles_what_it_may_judge() {
    let mut o = Office::new();
    let case = o.complaint(KLANT);
    o.sent();
    o.mail(
        COMMITTEE,
        Some(case),
        &format!("Behandelaar: {COMMITTEE}\nOorzaak: x\nOplossing: y\nAkkoord: nee\nAfgehandeld"),
    );
    let t = Office::transcript(&o.sent(), COMMITTEE);
    assert!(t.contains("onafhankelijke beroepsinstantie"), "{t}");
    o.mail(
        COMMITTEE,
        Some(case),
        "Reactie\n\nBeste klant, wij van de commissie...",
    );
    assert!(Office::transcript(&o.sent(), COMMITTEE).contains("behandelt de klacht niet zelf"));
    o.mail(PIETER, Some(case), &format!("Behandelaar: {COMMITTEE}"));
    assert!(Office::transcript(&o.sent(), PIETER).contains("kan daarom niet de behandelaar zijn"));
    let c = o.case(case);
    assert_eq!(
        (c.status, c.handler, c.reacted_at),
        (CaseStatus::Open, None, None)
    );
    // Notes and the appeal's verdict remain the committee's.
    o.mail(COMMITTEE, Some(case), "Notitie: dossier ontvangen");
    assert!(Office::transcript(&o.sent(), COMMITTEE).contains("OK"));
}

/// Found by the model run: with the clock set back two hours after a closing letter, an appeal
/// is stamped before the reaction it follows. The rule goes by what happened (the reaction was
/// given), and the invariant by the same order, not by the stamps.
#[test]
fn an_appeal_after_the_reaction_holds_with_the_clock_set_back() {
    let mut o = Office::new();
    let case = o.complaint(KLANT);
    o.mail(
        ANNA,
        Some(case),
        &format!("Behandelaar: {ANNA}\nOorzaak: x\nOplossing: y\nAkkoord: nee\nAfgehandeld"),
    );
    o.now -= Duration::hours(2);
    o.mail(ANNA, Some(case), "Beroep: de klant is het er niet mee eens");
    let c = o.case(case);
    assert_eq!(c.status, CaseStatus::Appealed);
    assert!(c.appealed_at < c.reacted_at, "stamped before the reaction");
    let settings = &o.world.settings;
    assert_eq!(
        klachtd::casework::procedure::broken(
            &c,
            &settings.organisation.address,
            &settings.roles,
            settings.timezone()
        ),
        Vec::<String>::new()
    );
}

/// Found merging issue 25 (the procedure model): a staff member's follow-up on her own
/// complaint that named herself marked her as someone the complaint concerns, and the director
/// was told of every later mail as of a complaint about a colleague. The complainant is who
/// complains, never whom it concerns.
#[test]
fn the_complainant_is_never_whom_her_own_complaint_concerns() {
    let mut o = Office::new();
    let r = o.mail(
        DIRECTOR,
        None,
        &format!("Klacht: {PIETER}\n\nPieter klaagt over zijn rooster."),
    );
    let case = r.case.unwrap();
    o.sent();
    let r = o.mail(
        PIETER,
        Some(case),
        &format!("Behandelaar: {PIETER}\n\nGroet, {PIETER}"),
    );
    assert!(r.reason.starts_with("follow-up"), "{}", r.reason);
    assert!(o.case(case).privacy.concerns.is_empty());
    assert_eq!(
        kinds(&o.sent()),
        [(OutboxKind::FollowUpNotification, ANNA.into())],
        "to the colleague who would hear of it, not to the director as a complaint about Pieter"
    );
}
