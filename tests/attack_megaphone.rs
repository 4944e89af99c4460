//! Issue 22: info@ is never a megaphone, a relay or a spam cannon. Every mail klachtd sends
//! passes one budget where it is queued (`outbound::budget`): mail caused by senders that are
//! not proven is limited per recipient per 24 hours and the rest summarised once; every message
//! has a hard size; a sender's subject or name reaches staff inert; no token leaves for anyone
//! but its owner. The generative property runs any sequence of hostile mail through the real
//! intake; each observed attack of the issue, and each of the outside review, is a test.
//! `KLACHTD_LONG=1` runs the property over 50,000 mails (docs/RELIABILITY.md has the figures).

mod common;

use chrono::{DateTime, Duration, Utc};
use common::world::World;
use klachtd::domain::CaseRef;
use klachtd::inbound::{InboundMail, RawMail};
use klachtd::jobs::Jobs;
use klachtd::store::outbox::{self, OutboxKind, QueuedMail};
use klachtd::store::{MailOutcome, Store, cases};
use proptest::prelude::*;
use std::collections::HashMap;

const STAFF: [&str; 2] = ["anna@example.org", "pieter@example.org"];
const DIRECTOR: &str = "directie@example.org";
const COMMITTEE: &str = "examencommissie@example.org";
/// The forger's link, address and domain: in subjects and names only, never in a text.
const LINK: &str = "http://evil.example/login";
const EVIL: &str = "evil.example";

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T08:03:00Z")
        .unwrap()
        .to_utc()
}

fn long() -> bool {
    std::env::var("KLACHTD_LONG").is_ok_and(|v| v == "1")
}

fn world(extra: &[(&str, &str)]) -> World {
    let mut env = vec![
        (
            "KLACHTD__ROLES__STAFF",
            "anna@example.org,pieter@example.org",
        ),
        ("KLACHTD__ROLES__DIRECTOR", DIRECTOR),
        ("KLACHTD__ROLES__COMMITTEE", COMMITTEE),
        ("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", "mail.example.org"),
    ];
    env.extend_from_slice(extra);
    World::with_env(&env)
}

fn take(world: &World, store: &mut Store, key: &str, bytes: Vec<u8>, at: DateTime<Utc>) {
    let raw = RawMail {
        source_key: key.into(),
        bytes,
        arrived_at: Some(at),
    };
    world.intake().process(store, &raw, at).unwrap();
}

fn run_jobs(world: &World, store: &mut Store, at: DateTime<Utc>) {
    let intake = world.intake();
    Jobs { intake: &intake }.run_due(store, at).unwrap();
}

/// Everything queued, with its decoded text (subject, plain and HTML).
fn sent(store: &Store) -> Vec<(QueuedMail, String)> {
    outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .map(|m| {
            let parsed = InboundMail::parse(&m.raw).expect("our own mail parses");
            let text = format!(
                "{}\n{}\n{}",
                parsed.subject,
                parsed.text,
                parsed.html.unwrap_or_default()
            );
            (m, text)
        })
        .collect()
}

fn to(m: &QueuedMail) -> &str {
    &m.recipients[0]
}

/// A mail as a stranger sends it.
fn mail(from: &str, subject: &str, headers: &str, body: &str, id: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: info@example.org\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n{headers}MIME-Version: 1.0\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// A text part and one attachment of `size` bytes.
fn with_attachment(from: &str, subject: &str, text: &str, size: usize, id: &str) -> Vec<u8> {
    use base64::Engine;
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    mail(
        from,
        subject,
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n",
        &format!(
            "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--b\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\nContent-Disposition: attachment; filename=\"scan.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--",
            lines.join("\r\n")
        ),
        id,
    )
}

// ----- the generative property over all paths ----------------------------------------------------

/// One hostile mail: whoever sends it proves nothing.
#[derive(Debug, Clone)]
enum Hostile {
    /// A complaint from one of a few strangers (or a victim under `+tags`).
    Complaint {
        sender: u8,
        link_in_name: bool,
        link_in_subject: bool,
        attachment_kb: u16,
    },
    /// `From:` a role address, no proof: commands or not, on a case or not, a Message-ID
    /// used before or not, its text readable or not.
    Forgery {
        role: u8,
        case: Option<u8>,
        reused_id: Option<u8>,
        undecodable: bool,
        link_in_subject: bool,
    },
    /// A stranger's mail under an existing case's tag, with text and a file.
    ThirdParty {
        sender: u8,
        case: u8,
        text_kb: u16,
        attachment_kb: u16,
    },
    /// A complainant's reply on their own case.
    FollowUp { case: u8, attachment_kb: u16 },
    /// A text that does not decode, from anyone.
    Undecodable { sender: u8, link_in_subject: bool },
    /// Over `inbound.max_message_bytes`.
    Oversized,
    /// An earlier mail again, as it was or with other content under its Message-ID.
    Duplicate { of: u16, changed: bool },
}

fn hostile() -> impl Strategy<Value = Hostile> {
    prop_oneof![
        5 => (any::<u8>(), any::<bool>(), any::<bool>(), prop_oneof![9 => Just(0u16), 1 => 1u16..400])
            .prop_map(|(sender, link_in_name, link_in_subject, attachment_kb)| Hostile::Complaint {
                sender, link_in_name, link_in_subject, attachment_kb }),
        3 => (any::<u8>(), proptest::option::of(any::<u8>()), proptest::option::of(0u8..4), any::<bool>(), any::<bool>())
            .prop_map(|(role, case, reused_id, undecodable, link_in_subject)| Hostile::Forgery {
                role, case, reused_id, undecodable, link_in_subject }),
        2 => (any::<u8>(), any::<u8>(), 0u16..300, prop_oneof![Just(0u16), 1u16..600])
            .prop_map(|(sender, case, text_kb, attachment_kb)| Hostile::ThirdParty {
                sender, case, text_kb, attachment_kb }),
        1 => (any::<u8>(), prop_oneof![Just(0u16), 1u16..400])
            .prop_map(|(case, attachment_kb)| Hostile::FollowUp { case, attachment_kb }),
        1 => (any::<u8>(), any::<bool>())
            .prop_map(|(sender, link_in_subject)| Hostile::Undecodable { sender, link_in_subject }),
        1 => Just(Hostile::Oversized),
        1 => (any::<u16>(), any::<bool>()).prop_map(|(of, changed)| Hostile::Duplicate { of, changed }),
    ]
}

/// What the run keeps to build the next mail: the mails so far, the cases and their senders.
#[derive(Default)]
struct Flood {
    mails: Vec<Vec<u8>>,
    cases: Vec<(CaseRef, String)>,
}

fn stranger(n: u8) -> String {
    match n % 8 {
        // One victim under many tags, and a few others.
        0..=2 => format!("slachtoffer+{n}@example.net"),
        k => format!("klager{k}@attacker.example"),
    }
}

fn subject(link: bool, n: usize) -> String {
    if link {
        format!("URGENT: reset your password at {LINK} or mail boss@{EVIL} (www.{EVIL}) {n}")
    } else {
        format!("Klacht over de cursus {n}")
    }
}

impl Flood {
    fn case(&self, n: u8) -> Option<&(CaseRef, String)> {
        (!self.cases.is_empty()).then(|| &self.cases[n as usize % self.cases.len()])
    }

    fn build(&self, h: &Hostile, i: usize) -> Vec<u8> {
        let id = format!("h{i}@attacker.example");
        match h {
            Hostile::Complaint {
                sender,
                link_in_name,
                link_in_subject,
                attachment_kb,
            } => {
                let name = if *link_in_name {
                    format!("\"Bank: log in at {LINK}\"")
                } else {
                    "Piet Jansen".to_string()
                };
                let from = format!("{name} <{}>", stranger(*sender));
                let subject = subject(*link_in_subject, i);
                if *attachment_kb > 0 {
                    with_attachment(
                        &from,
                        &subject,
                        "Mijn klacht, zie de scan.",
                        *attachment_kb as usize * 1024,
                        &id,
                    )
                } else {
                    mail(
                        &from,
                        &subject,
                        "Content-Type: text/plain; charset=utf-8\r\n",
                        "Ik ben niet tevreden over de cursus.",
                        &id,
                    )
                }
            }
            Hostile::Forgery {
                role,
                case,
                reused_id,
                undecodable,
                link_in_subject,
            } => {
                let from = match role % 4 {
                    0 | 1 => STAFF[*role as usize % 2].to_string(),
                    2 => DIRECTOR.to_uppercase(),
                    _ => COMMITTEE.to_string(),
                };
                let tag = case
                    .and_then(|c| self.case(c))
                    .map(|(r, _)| r.tag())
                    .unwrap_or_default();
                let id = reused_id.map_or(id, |k| format!("reused{k}@example.org"));
                let subject = format!("RE: {tag} {}", subject(*link_in_subject, i));
                if *undecodable {
                    mail(
                        &from,
                        &subject,
                        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
                        "!!!! dit is geen base64 ####",
                        &id,
                    )
                } else {
                    mail(
                        &from,
                        &subject,
                        "Content-Type: text/plain; charset=utf-8\r\n",
                        &format!("Oorzaak: vervalst {i}\r\nAkkoord: ja\r\nAfgehandeld"),
                        &id,
                    )
                }
            }
            Hostile::ThirdParty {
                sender,
                case,
                text_kb,
                attachment_kb,
            } => {
                let tag = self.case(*case).map(|(r, _)| r.tag()).unwrap_or_default();
                let text = "Ik trek deze klacht in. ".repeat(*text_kb as usize * 1024 / 24 + 1);
                let from = format!("\"Derde {LINK}\" <derde{}@attacker.example>", sender % 16);
                let subject = format!("{tag} {}", subject(true, i));
                if *attachment_kb > 0 {
                    with_attachment(&from, &subject, &text, *attachment_kb as usize * 1024, &id)
                } else {
                    mail(
                        &from,
                        &subject,
                        "Content-Type: text/plain; charset=utf-8\r\n",
                        &text,
                        &id,
                    )
                }
            }
            Hostile::FollowUp {
                case,
                attachment_kb,
            } => {
                let Some((r, from)) = self.case(*case) else {
                    return mail(&stranger(0), "Vraag", "", "Een vraag.", &id);
                };
                let subject = format!("Re: {}", r.tag());
                if *attachment_kb > 0 {
                    with_attachment(
                        from,
                        &subject,
                        "Nog een scan.",
                        *attachment_kb as usize * 1024,
                        &id,
                    )
                } else {
                    mail(
                        from,
                        &subject,
                        "Content-Type: text/plain; charset=utf-8\r\n",
                        "Nog een aanvulling.",
                        &id,
                    )
                }
            }
            Hostile::Undecodable {
                sender,
                link_in_subject,
            } => mail(
                &stranger(*sender),
                &subject(*link_in_subject, i),
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
                "%%%% geen base64 %%%%",
                &id,
            ),
            Hostile::Oversized => mail(
                &stranger(1),
                &subject(true, i),
                "Content-Type: text/plain; charset=utf-8\r\n",
                &"x".repeat(2_100_000),
                &id,
            ),
            Hostile::Duplicate { of, changed } => {
                match self.mails.get(*of as usize % self.mails.len().max(1)) {
                    Some(earlier) if !changed => earlier.clone(),
                    Some(earlier) => {
                        let mut other = earlier.clone();
                        other.extend_from_slice(b"\r\nnog iets anders\r\n");
                        other
                    }
                    None => mail(&stranger(2), "Eerste", "", "Tekst.", &id),
                }
            }
        }
    }
}

/// What the flood made klachtd send, per 1,000 hostile mails and at most.
#[derive(Debug)]
struct Figures {
    hostile: usize,
    mails: usize,
    bytes: usize,
    largest: usize,
    most_to_one_in_24h: usize,
}

/// Runs `sequence` (each mail after `minutes`) through the intake, the scheduler passing now
/// and then, and checks the promise; returns what was sent.
fn flood_within_budget(sequence: &[(Hostile, u16)]) -> Result<Figures, TestCaseError> {
    const BUDGET: usize = 5;
    const ATTACH_MAX: usize = 200_000;
    let world = world(&[
        ("KLACHTD__OUTBOUND__ATTACH_MAX_BYTES", "200000"),
        ("KLACHTD__INBOUND__MAX_MESSAGE_BYTES", "2000000"),
    ]);
    let cap = ATTACH_MAX + 1024 * 1024;
    let mut store = Store::open_in_memory().unwrap();
    let mut flood = Flood::default();
    let mut now = start();
    for (i, (h, minutes)) in sequence.iter().enumerate() {
        now += Duration::minutes(i64::from(*minutes));
        let bytes = flood.build(h, i);
        let result = world
            .intake()
            .process(
                &mut store,
                &RawMail {
                    source_key: format!("m{i}"),
                    bytes: bytes.clone(),
                    arrived_at: Some(now),
                },
                now,
            )
            .unwrap();
        if result.outcome == MailOutcome::CaseCreated
            && let Some(case) = result.case
            && let Some(c) = cases::get(store.conn(), case).unwrap()
            && let Some(from) = c.complainant_address
        {
            flood.cases.push((case, from));
        }
        // Duplicates are drawn from the smaller mails (a long run keeps memory flat).
        if bytes.len() < 64 * 1024 {
            flood.mails.push(bytes);
        }
        if i % 25 == 24 {
            run_jobs(&world, &mut store, now);
        }
    }
    // Long enough for every summary that is due, not for the deadlines of the cases.
    run_jobs(&world, &mut store, now + Duration::hours(2));
    let summary = common::invariants::check(&store);
    prop_assert_eq!(summary.mails, sequence.len(), "every mail recorded once");

    let sent = sent(&store);
    let mut per: HashMap<String, Vec<(DateTime<Utc>, OutboxKind)>> = HashMap::new();
    let mut bytes = 0;
    let mut largest = 0;
    for (m, text) in &sent {
        prop_assert!(
            m.raw.len() <= cap,
            "{} of {} bytes",
            m.kind.as_str(),
            m.raw.len()
        );
        prop_assert!(
            !text.contains(EVIL),
            "a link from a sender's subject or name relayed in {} to {}:\n{text}",
            m.kind.as_str(),
            to(m)
        );
        bytes += m.raw.len();
        largest = largest.max(m.raw.len());
        let mailbox = to(m).split_once('+').map_or(to(m).to_string(), |(l, d)| {
            format!("{l}@{}", d.rsplit_once('@').map_or(d, |(_, d)| d))
        });
        per.entry(mailbox)
            .or_default()
            .push((m.next_attempt_at.max(m.created_at), m.kind));
    }
    let mut most = 0;
    for (address, mails) in &per {
        for (t, _) in mails {
            let window = |k: &dyn Fn(OutboxKind) -> bool| {
                mails
                    .iter()
                    .filter(|(u, kind)| k(*kind) && *u <= *t && *t - *u < Duration::hours(24))
                    .count()
            };
            // klachtd's own schedule, one mail each at most a day whatever arrives (the
            // overdue cases rolled up, the weekly digest, the yearly analysis): not caused by
            // any one mail, and never more often.
            let scheduled = |k: OutboxKind| {
                matches!(
                    k,
                    OutboxKind::OverdueAlert | OutboxKind::Digest | OutboxKind::AnnualReport
                )
            };
            let caused = window(&|k| k != OutboxKind::Summary && !scheduled(k));
            let summaries = window(&|k| k == OutboxKind::Summary);
            prop_assert!(caused <= BUDGET, "{address}: {caused} mails in 24 hours");
            prop_assert!(
                summaries <= 1,
                "{address}: {summaries} summaries in 24 hours"
            );
            // Those go once a local day at most (a scheduler pass that comes late one morning
            // may bring them closer than 24 hours to the next day's).
            let day =
                |u: &DateTime<Utc>| u.with_timezone(&chrono_tz::Europe::Amsterdam).date_naive();
            for kind in [
                OutboxKind::OverdueAlert,
                OutboxKind::Digest,
                OutboxKind::AnnualReport,
            ] {
                let n = mails
                    .iter()
                    .filter(|(u, k)| *k == kind && day(u) == day(t))
                    .count();
                prop_assert!(n <= 1, "{address}: {n} {} on one day", kind.as_str());
            }
            most = most.max(caused + summaries);
        }
    }
    // Linear in the flood, with a small constant: every mail holds one text of its own, the
    // files within the cap only in the few the budget lets through.
    let role_mails = per
        .iter()
        .filter(|(a, _)| STAFF.contains(&a.as_str()) || *a == DIRECTOR || *a == COMMITTEE)
        .map(|(_, m)| m.len())
        .sum::<usize>();
    prop_assert!(
        bytes <= sequence.len() * 16 * 1024 + role_mails * cap,
        "{bytes} bytes for {} mails",
        sequence.len()
    );
    Ok(Figures {
        hostile: sequence.len(),
        mails: sent.len(),
        bytes,
        largest,
        most_to_one_in_24h: most,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if long() { 1 } else { 6 }))]

    /// Any sequence of up to N mails from senders that are not proven — complaints, role
    /// address forgeries, third-party mail, undecodable, oversized, duplicates — makes klachtd
    /// send no address more than the budget in any 24 hours plus one summary, no message over
    /// `outbound.attach_max_bytes` + 1 MB, bytes linear in N, and nothing that carries a link
    /// from a sender's subject or name. N = 500 here, 50,000 with `KLACHTD_LONG=1`.
    #[test]
    fn no_sequence_of_unproven_mail_makes_info_a_megaphone(
        sequence in proptest::collection::vec(
            (hostile(), prop_oneof![3 => 0u16..3, 1 => 3u16..90]),
            if long() { 50_000..=50_000 } else { 1..=500 },
        )
    ) {
        let f = flood_within_budget(&sequence)?;
        eprintln!(
            "flood: {} hostile mails -> {} mails sent ({:.0} per 1,000), {} bytes ({:.1} MB per 1,000), largest {} bytes, at most {} to one address in 24 h",
            f.hostile,
            f.mails,
            f.mails as f64 * 1000.0 / f.hostile as f64,
            f.bytes,
            f.bytes as f64 / f.hostile as f64 * 1000.0 / 1_048_576.0,
            f.largest,
            f.most_to_one_in_24h
        );
    }
}

// ----- each attack of the issue, and of the outside review ---------------------------------------

/// The mails to `address` (any `+tag`), in queue order.
fn mails_to<'a>(sent: &'a [(QueuedMail, String)], address: &str) -> Vec<&'a (QueuedMail, String)> {
    let (local, domain) = address.split_once('@').unwrap();
    sent.iter()
        .filter(|(m, _)| {
            let r = to(m);
            r == address
                || (r.starts_with(&format!("{local}+")) && r.ends_with(&format!("@{domain}")))
        })
        .collect()
}

fn held_back(store: &Store, mailbox: &str) -> i64 {
    store
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM outbox_rollup WHERE mailbox = ?1",
            [mailbox],
            |r| r.get(0),
        )
        .unwrap()
}

/// Issue item 1: 20 forged mails `From:` a staff address whose text is not valid base64, the
/// forger's link in the subject. Before: 20 "Niet verwerkt" notices to her and 20 to the
/// director, each repeating the link from info@. Now: five each, the subject inert and marked
/// as the sender's, the rest recorded and reported in one summary an hour later.
#[test]
fn item1_undecodable_forgeries_relay_no_link_and_stay_within_the_budget() {
    let world = world(&[]);
    let mut store = Store::open_in_memory().unwrap();
    let t = start();
    for i in 0..20 {
        take(
            &world,
            &mut store,
            &format!("f{i}"),
            mail(
                STAFF[0],
                &format!("URGENT: reset your password at {LINK}"),
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
                "!!!! dit is geen base64 ####",
                &format!("f{i}@attacker.example"),
            ),
            t + Duration::seconds(i),
        );
    }
    let before_summary = sent(&store);
    for who in [STAFF[0], DIRECTOR] {
        let mine = mails_to(&before_summary, who);
        assert_eq!(mine.len(), 5, "{who}");
        for (m, text) in &mine {
            assert!(!text.contains(EVIL), "{text}");
            assert!(
                text.contains("«URGENT: reset your password at hxxp[:]//evil[.]example/login»"),
                "{}: {text}",
                m.kind.as_str()
            );
        }
        assert_eq!(held_back(&store, who), 15, "{who}: recorded, not dropped");
    }
    // An hour later, one summary each: counts and references, none of the forger's words.
    run_jobs(&world, &mut store, t + Duration::minutes(61));
    run_jobs(&world, &mut store, t + Duration::hours(5));
    let after = sent(&store);
    for who in [STAFF[0], DIRECTOR] {
        let summaries: Vec<_> = mails_to(&after, who)
            .into_iter()
            .filter(|(m, _)| m.kind == OutboxKind::Summary)
            .collect();
        assert_eq!(summaries.len(), 1, "{who}");
        let text = &summaries[0].1;
        assert!(
            text.contains("15 berichten van niet-bewezen afzenders"),
            "{text}"
        );
        assert!(text.contains("klachtd status"), "{text}");
        assert!(!text.contains("URGENT"), "{text}");
    }
}

/// Issue item 2: a forged role mail reusing one Message-ID with another text each time was
/// answered with a transcript each (11 of 12). Now whatever proof and duplicate handling decide,
/// the staff member hears of them within the budget.
#[test]
fn item2_one_message_id_reused_twelve_times_stays_within_the_budget() {
    let world = world(&[]);
    let mut store = Store::open_in_memory().unwrap();
    let t = start();
    take(
        &world,
        &mut store,
        "c",
        mail(
            "Piet <piet@example.net>",
            "Cursus",
            "",
            "Ik ben niet tevreden.",
            "c@example.net",
        ),
        t,
    );
    for i in 0..12 {
        take(
            &world,
            &mut store,
            &format!("f{i}"),
            mail(
                STAFF[0],
                "RE: [KL-2026-0001] Cursus",
                "Content-Type: text/plain\r\n",
                &format!("Notitie: vervalst {i}"),
                "hergebruikt@attacker.example",
            ),
            t + Duration::minutes(1 + i),
        );
    }
    let to_anna = mails_to(&sent(&store), STAFF[0]).len();
    assert!(to_anna <= 5, "{to_anna} mails to anna@");
    assert!(held_back(&store, STAFF[0]) >= 8);
}

/// Issue item 3: a stranger's mail under an existing case's tag with a 20 MB file and 3 MB of
/// text reached each staff member as a 35 MB mail. Now: no stranger's file leaves info@ (named
/// with its size), the text cut where the complainant's is, every mail within the hard size.
#[test]
fn item3_third_party_mail_with_20_mb_and_3_mb_of_text_stays_small() {
    let world = world(&[]);
    let mut store = Store::open_in_memory().unwrap();
    let t = start();
    take(
        &world,
        &mut store,
        "c",
        mail(
            "Piet <piet@example.net>",
            "Cursus",
            "",
            "Ik ben niet tevreden.",
            "c@example.net",
        ),
        t,
    );
    let text = "Ik trek de klacht in. ".repeat(3 * 1024 * 1024 / 22);
    take(
        &world,
        &mut store,
        "tp",
        with_attachment(
            "Derde <derde@attacker.example>",
            "[KL-2026-0001] Intrekking",
            &text,
            20 * 1024 * 1024,
            "tp@attacker.example",
        ),
        t + Duration::minutes(1),
    );
    let cap = world.settings.outbound.attach_max_bytes + 1024 * 1024;
    let all = sent(&store);
    let notices: Vec<_> = all
        .iter()
        .filter(|(m, text)| m.kind == OutboxKind::FollowUpNotification && text.contains("Let op"))
        .collect();
    assert_eq!(notices.len(), 2, "both staff members are told");
    for (m, text) in notices {
        assert!(m.raw.len() <= cap, "{} bytes", m.raw.len());
        assert!(
            m.raw.len() < 1024 * 1024,
            "no file, text cut: {} bytes",
            m.raw.len()
        );
        assert!(text.contains("scan[.]pdf (20.0 MB)"), "{text}");
        assert!(
            text.contains("klachtd case"),
            "the cut says where the rest is"
        );
        let parsed = InboundMail::parse(&m.raw).unwrap();
        assert!(parsed.attachments.is_empty());
    }
}

/// Issue item 3: the limit was per file — a complaint with ten 1 MB scans gave every staff
/// member a 14 MB mail. Now the files go while their total fits `attach_max_bytes`; the rest
/// are named with their size and the command that fetches each.
#[test]
fn item3_ten_one_mb_scans_go_within_the_total_and_the_rest_are_named() {
    use base64::Engine;
    let world = world(&[]);
    let mut store = Store::open_in_memory().unwrap();
    let mut body = String::from(
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMijn klacht, met de scans.\r\n",
    );
    for n in 1..=10 {
        let data: Vec<u8> = (0..1024 * 1024).map(|i| ((i * n) % 253) as u8).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        body.push_str(&format!(
            "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"scan{n}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            lines.join("\r\n")
        ));
    }
    body.push_str("--b--");
    take(
        &world,
        &mut store,
        "c",
        mail(
            "Piet <piet@example.net>",
            "Klacht met scans",
            "Content-Type: multipart/mixed; boundary=\"b\"\r\n",
            &body,
            "c@example.net",
        ),
        start(),
    );
    let limit = world.settings.outbound.attach_max_bytes;
    for (m, text) in sent(&store)
        .iter()
        .filter(|(m, _)| m.kind == OutboxKind::StaffNotification)
    {
        assert!(m.raw.len() <= limit + 1024 * 1024, "{} bytes", m.raw.len());
        let parsed = InboundMail::parse(&m.raw).unwrap();
        let attached = parsed.attachments.len();
        assert_eq!(attached, 3, "three of 1 MB fit 5 MB as sent");
        for n in attached + 1..=10 {
            assert!(
                text.contains(&format!("{n}. «scan{n}[.]pdf» (1.0 MB) — niet meegestuurd")),
                "scan{n} named: {text}"
            );
        }
        assert!(text.contains("klachtd attachment KL-2026-0001 <nummer> --out <bestand>"));
    }
}

fn complaint_from(from: &str, extra_headers: &str, id: &str) -> Vec<u8> {
    mail(
        from,
        "Klacht over de cursus",
        &format!("{extra_headers}Content-Type: text/plain; charset=utf-8\r\n"),
        "Ik ben niet tevreden over de cursus.",
        id,
    )
}

/// Issue item 4: behind a wave of spam complaints a genuine acknowledgement waited its turn at
/// 100 an hour — behind enough of them past the reaction date it promised. Now a sender the
/// trusted server vouches for (DMARC pass), and a complainant of an earlier case, are never
/// held back; the backlog shows in `klachtd status`, the director hears once per wave, and an
/// acknowledgement that leaves on or after its reaction date names no date it cannot keep.
#[test]
fn item4_genuine_complainants_first_and_no_impossible_date() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite").display().to_string();
    let world = world(&[
        ("KLACHTD__OUTBOUND__ACKNOWLEDGEMENTS_PER_HOUR", "1"),
        ("KLACHTD__STORE__PATH", &db),
    ]);
    let mut store = Store::open(std::path::Path::new(&db)).unwrap();
    let t = start();
    // A complainant of last week.
    take(
        &world,
        &mut store,
        "earlier",
        complaint_from("Oud <eerder@example.net>", "", "earlier@example.net"),
        t - Duration::days(7),
    );
    for i in 0..250 {
        take(
            &world,
            &mut store,
            &format!("s{i}"),
            complaint_from(
                &format!("<spam{i}@attacker.example>"),
                "",
                &format!("s{i}@attacker.example"),
            ),
            t + Duration::seconds(i),
        );
    }
    let at = t + Duration::minutes(5);
    take(
        &world,
        &mut store,
        "genuine",
        complaint_from(
            "Echt <jan@echt.example>",
            "Authentication-Results: mail.example.org; spf=pass smtp.mailfrom=echt.example; dkim=pass header.d=echt.example; dmarc=pass header.from=echt.example\r\n",
            "genuine@echt.example",
        ),
        at,
    );
    take(
        &world,
        &mut store,
        "again",
        complaint_from("Oud <eerder@example.net>", "", "again@example.net"),
        at,
    );
    let all = sent(&store);
    let ack_to = |who: &str| {
        all.iter()
            .rev()
            .filter(|(m, _)| m.kind == OutboxKind::Acknowledgement && to(m) == who)
            .map(|(m, text)| (m.next_attempt_at, text.clone()))
            .next()
            .unwrap()
    };
    assert_eq!(ack_to("jan@echt.example").0, at, "vouched: at once");
    assert_eq!(
        ack_to("eerder@example.net").0,
        at,
        "an earlier complainant: at once"
    );
    let (last_at, last_text) = ack_to("spam249@attacker.example");
    assert!(
        last_at > t + Duration::days(7),
        "the hourly maximum holds: {last_at}"
    );
    assert!(last_text.contains("zo spoedig mogelijk"), "{last_text}");
    assert!(
        !last_text.contains("uiterlijk"),
        "no date it cannot keep: {last_text}"
    );
    let (first_at, first_text) = ack_to("spam0@attacker.example");
    assert_eq!(first_at, t);
    assert!(first_text.contains("uiterlijk"), "{first_text}");
    // The director hears of the wave once.
    let waves = all
        .iter()
        .filter(|(m, text)| {
            m.kind == OutboxKind::DirectorNotice && text.contains("Veel klachten tegelijk")
        })
        .count();
    assert_eq!(waves, 1);
    // `klachtd status` shows the backlog.
    drop(store);
    let status = klachtd::cli::status::report(&world.settings, at).unwrap();
    assert!(
        status.contains(
            "acks waiting  249 acknowledgement(s) spread by outbound.acknowledgements_per_hour"
        ),
        "{status}"
    );
    assert!(status.contains("held back"), "{status}");
}

/// The reply address of the newest role mail to `address` on `case`: its token.
fn token_of(store: &Store, address: &str) -> String {
    let raw = outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .rev()
        .find(|m| to(m) == address)
        .unwrap()
        .raw;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let at = text.find("info+kl-2026-0001.").unwrap() + "info+kl-2026-0001.".len();
    text[at..at + 24].to_string()
}

/// Issue 19's goal, at the one place mail is queued: a `Reactie` whose text carries the staff
/// member's own reply address (her client quoted it where no quote parser looks) goes to the
/// complainant without it; the token is revoked and she is told once; a forgery with it later
/// proves nothing.
#[test]
fn a_token_never_leaves_for_anyone_but_its_owner() {
    let world = world(&[]);
    let mut store = Store::open_in_memory().unwrap();
    let t = start();
    take(
        &world,
        &mut store,
        "c",
        complaint_from("Piet <piet@example.net>", "", "c@example.net"),
        t,
    );
    let token = token_of(&store, STAFF[0]);
    let reactie = format!(
        "Authentication-Results: mail.example.org; auth=pass smtp.auth={a}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\nFrom: <{a}>\r\nTo: info+kl-2026-0001.{token}@example.org\r\nSubject: RE: [KL-2026-0001]\r\nMessage-ID: <r1@example.org>\r\n\r\nReactie\r\n\r\nBeste Piet,\r\nWij bellen u morgen. Antwoorden kan via Klachtenregistratie info+kl-2026-0001.{token}@example.org (ref kl-2026-0001.new.{token}@example.org).\r\n\r\nMet vriendelijke groet,\r\nAnna\r\n",
        a = STAFF[0]
    );
    take(
        &world,
        &mut store,
        "r1",
        reactie.into_bytes(),
        t + Duration::minutes(5),
    );
    let all = sent(&store);
    let (reaction, text) = all
        .iter()
        .find(|(m, _)| m.kind == OutboxKind::Reaction)
        .expect("the reaction is sent");
    assert_eq!(to(reaction), "piet@example.net");
    assert!(!text.contains(&token), "{text}");
    assert!(
        !String::from_utf8_lossy(&reaction.raw)
            .to_lowercase()
            .contains(&token)
    );
    assert!(
        text.contains("[antwoordadres van klachtd verwijderd]"),
        "{text}"
    );
    let revoked = klachtd::store::tokens::find(store.conn(), &token)
        .unwrap()
        .unwrap();
    assert!(revoked.revoked);
    let told = all
        .iter()
        .filter(|(m, text)| to(m) == STAFF[0] && text.contains("Antwoordadres ingetrokken"))
        .count();
    assert_eq!(told, 1, "the owner is told once");
    // The complainant forges her address with the token: held, the case unchanged.
    let forged = format!(
        "From: <{a}>\r\nTo: info+kl-2026-0001.{token}@example.org\r\nSubject: RE: [KL-2026-0001]\r\nMessage-ID: <x1@example.net>\r\n\r\nBehandelaar: {a}\r\nOorzaak: x\r\nOplossing: y\r\nAkkoord: ja\r\nAfgehandeld\r\n",
        a = STAFF[0]
    );
    take(
        &world,
        &mut store,
        "x1",
        forged.into_bytes(),
        t + Duration::minutes(9),
    );
    let case = cases::get(store.conn(), CaseRef::new(2026, 1))
        .unwrap()
        .unwrap();
    assert_ne!(case.status.as_str(), "closed");
}

/// Outside review: the forger's address as a victim's `+tags`, and as a role address written
/// in capitals — one mailbox, one budget, whatever the spelling.
#[test]
fn attack_tags_and_capitals_of_one_mailbox_share_its_budget() {
    let world = world(&[]);
    let mut store = Store::open_in_memory().unwrap();
    let t = start();
    for i in 0..30 {
        let from = match i % 3 {
            0 => format!("<anna+{i}@example.org>"),
            1 => "<ANNA@Example.org>".to_string(),
            _ => "<anna@example.org>".to_string(),
        };
        take(
            &world,
            &mut store,
            &format!("m{i}"),
            mail(
                &from,
                &format!("RE: iets {i}"),
                "Content-Type: text/plain\r\n",
                "Notitie: x",
                &format!("m{i}@attacker.example"),
            ),
            t + Duration::minutes(i),
        );
    }
    let to_anna = mails_to(&sent(&store), STAFF[0]).len();
    assert!(to_anna <= 5, "{to_anna} mails to anna's mailbox");
}

/// Outside review: a link in the display name and in an attachment's file name reach staff
/// only inert.
#[test]
fn attack_links_in_a_name_and_a_file_name_reach_staff_inert() {
    let world = world(&[]);
    let mut store = Store::open_in_memory().unwrap();
    let from = format!("\"Bank: log in at {LINK}\" <piet@example.net>");
    let mut raw = with_attachment(&from, "Klacht", "Zie bijlage.", 2000, "c@example.net");
    let text = String::from_utf8(raw.clone())
        .unwrap()
        .replace("filename=\"scan.pdf\"", &format!("filename=\"{LINK}.pdf\""));
    raw = text.into_bytes();
    take(&world, &mut store, "c", raw, start());
    let all = sent(&store);
    for (m, text) in &all {
        assert!(!text.contains(EVIL), "{}: {text}", m.kind.as_str());
    }
    let (_, notice) = all
        .iter()
        .find(|(m, _)| m.kind == OutboxKind::StaffNotification)
        .unwrap();
    assert!(notice.contains("evil[.]example_login[.]pdf»"), "{notice}");
}

/// Outside review: a header line broken into the subject (an encoded CR LF and `Bcc:`) never
/// adds a recipient or a header to klachtd's mail.
#[test]
fn attack_a_header_smuggled_in_the_subject_adds_no_recipient() {
    let world = world(&[]);
    let mut store = Store::open_in_memory().unwrap();
    take(
        &world,
        &mut store,
        "c",
        mail(
            "Piet <piet@example.net>",
            "=?utf-8?q?Klacht=0D=0ABcc:_victim@example.com=0D=0A?=",
            "Content-Type: text/plain\r\n",
            "Tekst.",
            "c@example.net",
        ),
        start(),
    );
    for (m, _) in sent(&store) {
        assert_eq!(m.recipients.len(), 1);
        let head = String::from_utf8_lossy(&m.raw);
        let head = head.split("\r\n\r\n").next().unwrap();
        assert!(
            !head
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
            "{head}"
        );
    }
}

/// Outside review: a flood of complaints nobody takes on became a flood of reminders two
/// working days later. A case without a handler exists only because of unproven mail: its
/// reminders count against the budget; a handled case's never do.
#[test]
fn attack_a_flood_of_complaints_gives_no_flood_of_reminders() {
    let world = world(&[]);
    let mut store = Store::open_in_memory().unwrap();
    let t = start();
    for i in 0..30 {
        take(
            &world,
            &mut store,
            &format!("c{i}"),
            complaint_from(
                &format!("<k{i}@attacker.example>"),
                "",
                &format!("c{i}@attacker.example"),
            ),
            t + Duration::seconds(i),
        );
    }
    // Past the reminders of the reaction deadline (the working day before, and the day).
    let mut now = t + Duration::hours(3);
    while now < t + Duration::days(9) {
        run_jobs(&world, &mut store, now);
        now += Duration::hours(1);
    }
    let all = sent(&store);
    for who in STAFF {
        let mut times: Vec<DateTime<Utc>> = mails_to(&all, who)
            .iter()
            .filter(|(m, _)| m.kind != OutboxKind::Summary)
            .map(|(m, _)| m.created_at)
            .collect();
        times.sort();
        for (i, t) in times.iter().enumerate() {
            let in_day = times[..=i]
                .iter()
                .filter(|u| *t - **u < Duration::hours(24))
                .count();
            assert!(in_day <= 5, "{who}: {in_day} in 24 hours");
        }
        let reminders = mails_to(&all, who)
            .iter()
            .filter(|(m, _)| m.kind == OutboxKind::Reminder)
            .count();
        assert!(reminders <= 10, "{who}: {reminders} reminders");
    }
}

/// Outside review: files that fill `attach_max_bytes` as sent, and beside them a text made of
/// what HTML must escape and base64 must spread (`&` and four-byte characters): the total still
/// stays within `attach_max_bytes` + 1 MB — the texts are cut shorter, the files stay.
#[test]
fn attack_files_and_a_text_of_escapes_together_stay_within_the_cap() {
    use base64::Engine;
    let world = world(&[("KLACHTD__OUTBOUND__ATTACH_MAX_BYTES", "1000000")]);
    let mut store = Store::open_in_memory().unwrap();
    let text = "&\u{1F600}<>\"'/".repeat(14_000);
    let mut body = format!("--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n");
    for n in 1..=3 {
        let data: Vec<u8> = (0..240_000).map(|i| ((i * n) % 253) as u8).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        body.push_str(&format!(
            "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"s{n}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            lines.join("\r\n")
        ));
    }
    body.push_str("--b--");
    take(
        &world,
        &mut store,
        "c",
        mail(
            "Piet <piet@example.net>",
            "Klacht",
            "Content-Type: multipart/mixed; boundary=\"b\"\r\n",
            &body,
            "c@example.net",
        ),
        start(),
    );
    let cap = 1_000_000 + 1024 * 1024;
    let all = sent(&store);
    for (m, _) in &all {
        assert!(
            m.raw.len() <= cap,
            "{}: {} bytes",
            m.kind.as_str(),
            m.raw.len()
        );
    }
    let (notice, text) = all
        .iter()
        .find(|(m, _)| m.kind == OutboxKind::StaffNotification)
        .unwrap();
    assert_eq!(
        InboundMail::parse(&notice.raw).unwrap().attachments.len(),
        3
    );
    assert!(
        text.contains("klachtd case"),
        "the cut says where the rest is"
    );
}

/// Mail caused by proven people is never starved by the budget: with anna's budget for unproven
/// mail spent by forgeries, her own proven command still gets its transcript at once, and the
/// reaction it orders reaches the complainant.
#[test]
fn proven_mail_is_never_starved_by_a_flood() {
    let world = world(&[]);
    let mut store = Store::open_in_memory().unwrap();
    let t = start();
    take(
        &world,
        &mut store,
        "c",
        complaint_from("Piet <piet@example.net>", "", "c@example.net"),
        t,
    );
    for i in 0..10 {
        take(
            &world,
            &mut store,
            &format!("f{i}"),
            mail(
                STAFF[0],
                "RE: [KL-2026-0001]",
                "Content-Type: text/plain\r\n",
                "Notitie: vervalst",
                &format!("f{i}@attacker.example"),
            ),
            t + Duration::minutes(1 + i),
        );
    }
    assert!(held_back(&store, STAFF[0]) > 0, "the budget is spent");
    let proven = format!(
        "Authentication-Results: mail.example.org; auth=pass smtp.auth={a}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\nFrom: <{a}>\r\nTo: info@example.org\r\nSubject: RE: [KL-2026-0001]\r\nMessage-ID: <p1@example.org>\r\n\r\nReactie\r\n\r\nBeste Piet,\r\nWij bellen u morgen.\r\n",
        a = STAFF[0]
    );
    let at = t + Duration::minutes(30);
    take(&world, &mut store, "p1", proven.into_bytes(), at);
    let all = sent(&store);
    assert!(all.iter().any(|(m, _)| m.kind == OutboxKind::Reaction
        && to(m) == "piet@example.net"
        && m.next_attempt_at == at));
    assert!(
        all.iter().any(|(m, _)| m.kind == OutboxKind::Transcript
            && to(m) == STAFF[0]
            && m.created_at == at),
        "her own transcript"
    );
}

/// Outside review: Gmail delivers every dotted spelling of a username (and googlemail.com) to one
/// inbox; 40 complaints "from" such spellings of a victim's address gave her 40
/// acknowledgements. They are one mailbox: one acknowledgement a day.
#[test]
fn attack_gmail_spellings_of_a_victim_are_one_mailbox() {
    let world = world(&[]);
    let mut store = Store::open_in_memory().unwrap();
    let t = start();
    let local = "slachtofferjansen";
    for i in 0..40usize {
        let mut spelled = String::new();
        for (k, c) in local.chars().enumerate() {
            spelled.push(c);
            if k + 1 < local.len() && (i >> (k % 12)) & 1 == 1 {
                spelled.push('.');
            }
        }
        let domain = if i % 5 == 0 {
            "googlemail.com"
        } else {
            "gmail.com"
        };
        take(
            &world,
            &mut store,
            &format!("g{i}"),
            complaint_from(
                &format!("<{spelled}@{domain}>"),
                "",
                &format!("g{i}@attacker.example"),
            ),
            t + Duration::minutes(i as i64),
        );
    }
    let acks = sent(&store)
        .iter()
        .filter(|(m, _)| m.kind == OutboxKind::Acknowledgement)
        .count();
    assert_eq!(acks, 1, "one inbox, one acknowledgement a day");
}

/// Outside review: a link written with the dots IDNA reads as dots (`evil。example`,
/// `evil．example`) slipped past the acknowledgement's link filter to the forged sender — info@
/// relaying a link to a victim. The acknowledgement repeats no such word; staff see it inert.
#[test]
fn attack_a_link_with_ideographic_dots_reaches_nobody() {
    let world = world(&[]);
    let mut store = Store::open_in_memory().unwrap();
    take(
        &world,
        &mut store,
        "d",
        mail(
            "<ander@example.net>",
            "=?utf-8?q?Bezoek_evil=E3=80=82example_of_evil=EF=BC=8Eexample_nu?=",
            "Content-Type: text/plain; charset=utf-8\r\n",
            "Ik ben niet tevreden.",
            "d@attacker.example",
        ),
        start(),
    );
    for (m, text) in sent(&store) {
        for form in ["evil.example", "evil\u{3002}example", "evil\u{ff0e}example"] {
            assert!(
                !text.contains(form),
                "{} to {}: {text}",
                m.kind.as_str(),
                to(&m)
            );
        }
    }
}

/// Staff are told the truth about a spread acknowledgement: when it will leave, not that the
/// complainant has it.
#[test]
fn staff_hear_when_a_spread_acknowledgement_leaves() {
    let world = world(&[("KLACHTD__OUTBOUND__ACKNOWLEDGEMENTS_PER_HOUR", "1")]);
    let mut store = Store::open_in_memory().unwrap();
    for i in 0..2 {
        take(
            &world,
            &mut store,
            &format!("c{i}"),
            complaint_from(
                &format!("<k{i}@example.net>"),
                "",
                &format!("c{i}@example.net"),
            ),
            start(),
        );
    }
    let notices: Vec<String> = sent(&store)
        .into_iter()
        .filter(|(m, _)| m.kind == OutboxKind::StaffNotification && to(m) == STAFF[0])
        .map(|(_, text)| text)
        .collect();
    assert!(notices[0].contains("De afzender heeft een ontvangstbevestiging gekregen"));
    assert!(
        notices[1].contains(
            "De afzender krijgt een ontvangstbevestiging vanaf dinsdag 24 november 2026 om 10:03"
        ),
        "{}",
        notices[1]
    );
}
