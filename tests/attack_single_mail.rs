//! Attacks on "no single mail can stop klachtd" (brief a8), each one a mail an outsider can send
//! to info@. Every test here failed on the commit it was written against.

mod common;

use chrono::{DateTime, Utc};
use klachtd::clock::{Clock, FixedClock};
use klachtd::daemon::Daemon;
use klachtd::inbound::maildir::Maildir;
use klachtd::settings::Settings;
use klachtd::store::mails;
use klachtd::store::outbox::{self, OutboxKind, OutboxStatus};
use std::path::Path;
use std::sync::Arc;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn settings(dir: &Path) -> Settings {
    let env: Vec<(String, String)> = vec![
        ("KLACHTD__ROLES__STAFF".into(), "anna@example.org".into()),
        (
            "KLACHTD__ROLES__DIRECTOR".into(),
            "directie@example.org".into(),
        ),
        (
            "KLACHTD__INBOUND__MAILDIR".into(),
            dir.join("mail").display().to_string(),
        ),
        (
            "KLACHTD__STORE__PATH".into(),
            dir.join("k.sqlite").display().to_string(),
        ),
        (
            "KLACHTD__OUTBOUND__DIR".into(),
            dir.join("outbox").display().to_string(),
        ),
    ];
    Settings::load_with_env(None, env).unwrap()
}

fn world() -> (tempfile::TempDir, Daemon, Maildir, FixedClock) {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path());
    let clock = FixedClock::at(at("2026-11-24T09:00:00Z"));
    let daemon = Daemon::new(settings.clone(), Arc::new(clock.clone())).unwrap();
    let maildir = Maildir::open(&settings.inbound.maildir).unwrap();
    (dir, daemon, maildir, clock)
}

fn one_pass(daemon: &Daemon) {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(daemon.run_once())
        .expect("run --once succeeds");
}

fn good(n: usize) -> Vec<u8> {
    format!(
        "From: Goede Klager <goed{n}@example.net>\r\nTo: info@example.org\r\nSubject: Gewone klacht {n}\r\n\
         Message-ID: <goed-{n}@example.net>\r\n\r\nDe les van dinsdag is zonder bericht uitgevallen.\r\n"
    )
    .into_bytes()
}

fn assert_answered(daemon: &Daemon, n: usize) {
    let store = daemon.store();
    let acks: Vec<_> = outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .filter(|m| {
            m.kind == OutboxKind::Acknowledgement
                && m.recipients == vec![format!("goed{n}@example.net")]
        })
        .collect();
    assert_eq!(acks.len(), 1, "good complaint {n} acknowledged once");
    assert_eq!(
        acks[0].status,
        OutboxStatus::Sent,
        "and the acknowledgement was sent"
    );
}

/// A mail from `from` (a whole From header value) with this subject and body.
fn mail(from: &str, subject: &str, body: &str, id: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: info@example.org\r\nSubject: {subject}\r\nMessage-ID: <{id}@example.net>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

// ----- headers klachtd writes stay within 998 characters ----------------------------------------

/// Repro: a complaint whose Subject is one 5000-character word (`Subject: xxxx…`). The
/// acknowledgement shortens it, but the staff notification ("Nieuwe klacht [KL-…]: …") copies it
/// whole, and the folding can only break at spaces: a 5001-character header line goes out.
#[test]
fn attack_long_unbroken_subject_never_makes_a_header_line_over_998() {
    let (_dir, daemon, maildir, clock) = world();
    let subject = "x".repeat(5000);
    maildir
        .deliver(
            &mail(
                "Klager <lang@example.net>",
                &subject,
                "Mijn klacht.",
                "lang",
            ),
            clock.now(),
        )
        .unwrap();
    one_pass(&daemon);
    let store = daemon.store();
    let all = outbox::all(store.conn()).unwrap();
    assert!(!all.is_empty());
    for m in all {
        let text = String::from_utf8_lossy(&m.raw);
        let head = text.split("\r\n\r\n").next().unwrap();
        for line in head.split("\r\n") {
            assert!(
                line.len() <= 998,
                "{:?} mail has a {}-character header line: {:?}…",
                m.kind,
                line.len(),
                &line[..line.len().min(60)]
            );
        }
    }
}

// ----- no single mail stalls intake ---------------------------------------------------------------

/// Repro: a 4.5 MB plain-text complaint of 1,500,000 one-letter lines (`a\r\n` repeated; well under
/// `inbound.max_message_bytes`, 50 MB). Composing the staff notification spends minutes in
/// lettre's `in_place_crlf_line_endings` (a `String::insert` of `\r` per line: quadratic,
/// memmove-bound, so a release build is no faster). The pass, and with it every complaint behind
/// this mail, is stalled: 106 s for a 4 MB mail of `> a` lines here, over 10 minutes (killed) for
/// a 50 MB one of 700,000 lines. A linear pass over 4.5 MB takes a second or two (a 5 MB one-line mail: 1.3 s, debug build).
#[test]
fn attack_a_mail_of_many_short_lines_does_not_stall_the_complaint_behind_it() {
    let (_dir, daemon, maildir, clock) = world();
    let mut raw = mail("Klager <regels@example.net>", "Veel regels", "", "regels");
    raw.extend(std::iter::repeat_n(b"a\r\n".as_slice(), 1_500_000).flatten());
    maildir.deliver(&raw, clock.now()).unwrap();
    maildir.deliver(&good(1), clock.now()).unwrap();
    let started = std::time::Instant::now();
    one_pass(&daemon);
    let took = started.elapsed();
    assert_answered(&daemon, 1);
    assert!(
        took < std::time::Duration::from_secs(15),
        "one 4.5 MB mail stalled intake for {took:?}"
    );
}

// ----- one acknowledgement per mailbox per day ----------------------------------------------------

/// Repro: four mails, From `victim@bücher.de` written four ways that all name one mailbox (IDNA:
/// the Unicode domain, its A-label `xn--bcher-kva.de`, the decomposed `bu\u{308}cher.de` and a
/// full-width `ｂücher.de`, both mapped to `bücher.de` by UTS #46). Each gets an acknowledgement:
/// four mails to one mailbox on one day.
#[test]
fn attack_one_idn_mailbox_in_several_spellings_gets_one_acknowledgement() {
    let (_dir, daemon, maildir, clock) = world();
    let spellings = [
        "victim@bücher.de",
        "victim@xn--bcher-kva.de",
        "victim@bu\u{308}cher.de",
        "victim@\u{ff42}ücher.de",
    ];
    for (i, addr) in spellings.iter().enumerate() {
        let raw = mail(
            &format!("Jan <{addr}>"),
            "Klacht",
            "Mijn klacht.",
            &format!("idn{i}"),
        );
        maildir.deliver(&raw, clock.now()).unwrap();
    }
    one_pass(&daemon);
    let store = daemon.store();
    assert_eq!(mails::all(store.conn()).unwrap().len(), spellings.len());
    let acks: Vec<Vec<String>> = outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == OutboxKind::Acknowledgement)
        .map(|m| m.recipients)
        .collect();
    assert_eq!(
        acks.len(),
        1,
        "one mailbox, one acknowledgement a day; got {acks:?}"
    );
}

// ----- no relayed text for unverified senders -----------------------------------------------------

/// Repro: forged From `"Jan (www.evil.example)" <v1@example.net>` and, separately, Subject
/// `bezoek evil.example/buy nu`. klachtd removes links from what it echoes (`Bezoek
/// www.evil.example` as a name becomes "Bezoek"; `http://…` and `www.…` vanish from a subject),
/// but these two pass: the acknowledgement to the forged address reads "Beste Jan
/// (www.evil.example)," and "Ontvangstbevestiging [KL-…]: bezoek evil.example/buy nu" — a
/// spammer's link delivered by info@ to anyone.
#[test]
fn attack_an_unverified_sender_cannot_put_a_link_into_the_acknowledgement() {
    let (_dir, daemon, maildir, clock) = world();
    maildir
        .deliver(
            &mail(
                "\"Jan (www.evil.example)\" <v1@example.net>",
                "Klacht",
                "Mijn klacht.",
                "r1",
            ),
            clock.now(),
        )
        .unwrap();
    maildir
        .deliver(
            &mail(
                "Jan <v2@example.net>",
                "bezoek evil.example/buy nu",
                "Mijn klacht.",
                "r2",
            ),
            clock.now(),
        )
        .unwrap();
    one_pass(&daemon);
    let store = daemon.store();
    let acks: Vec<_> = outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == OutboxKind::Acknowledgement)
        .collect();
    assert_eq!(acks.len(), 2);
    for ack in acks {
        let text = String::from_utf8_lossy(&ack.raw).replace("=\r\n", "");
        assert!(
            !text.contains("evil.example"),
            "the acknowledgement to {:?} relays the sender's link:\n{}",
            ack.recipients,
            text.lines()
                .filter(|l| l.contains("evil.example"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
