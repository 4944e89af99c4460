//! Scenarios against real servers: Dovecot (IMAP) and Postfix (SMTP) on 127.0.0.1, started per
//! test by the harness in `tests/mailserver/`. A complaint travels SMTP → info@'s IMAP INBOX →
//! klachtd → SMTP → the complainant's IMAP INBOX.

mod common;

use common::klachtd::{Klachtd, PATIENCE, from_local};
use common::mailserver::MailServer;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn subject_of(raw: &[u8]) -> String {
    klachtd::inbound::InboundMail::parse(raw).unwrap().subject
}

#[test]
fn a_complaint_sent_to_info_is_registered_and_acknowledged_in_the_complainants_inbox() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    server.deliver(
        &from_local(
            "01_klacht_workshop_geannuleerd_thunderbird_plain_utf8.eml",
            "complainant@example.org",
        ),
        "complainant@example.org",
        &["info@example.org"],
    );
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    let summary = k.run_once();
    assert!(
        summary.contains("case_created: 1") && summary.contains("mail sent: 3"),
        "{summary}"
    );

    let cases = k.cases();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0]["complainant"], "complainant@example.org");

    let acks = server.wait_for_messages("complainant@example.org", 1, PATIENCE);
    assert_eq!(acks.len(), 1);
    let subject = subject_of(&acks[0]);
    assert!(
        subject.starts_with("Ontvangstbevestiging [KL-2026-0001]") || subject.contains("[KL-"),
        "{subject}"
    );
    let ack = klachtd::inbound::InboundMail::parse(&acks[0]).unwrap();
    assert!(
        ack.text.contains("uiterlijk"),
        "the acknowledgement names the reaction date"
    );
    assert_eq!(ack.signals.field("auto-submitted"), Some("auto-replied"));

    let staff = server.wait_for_messages("staff@example.org", 1, PATIENCE);
    assert!(subject_of(&staff[0]).starts_with("Nieuwe klacht [KL-"));

    // The complaint left INBOX for the processed folder, after it was recorded.
    assert_eq!(server.count("info@example.org"), 0);
}

#[test]
fn an_out_of_office_and_a_bounce_get_nothing() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    for name in [
        "13_afwezig_outlook_automatisch_antwoord.eml",
        "15_dsn_bounce_postfix.eml",
        "12_nieuwsbrief_bulk_list_id.eml",
    ] {
        server.append(
            "info@example.org",
            "INBOX",
            &from_local(name, "complainant2@example.org"),
        );
    }
    let summary = k.run_once();
    assert!(
        summary.contains("ignored: 3") && summary.contains("mail sent: 0"),
        "{summary}"
    );
    assert!(k.cases().is_empty());
    let store = klachtd::store::Store::open(&k.db()).unwrap();
    assert!(
        klachtd::store::outbox::all(store.conn())
            .unwrap()
            .is_empty(),
        "nothing was even queued"
    );
}

#[test]
fn the_same_mail_delivered_twice_makes_one_case() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let mail = from_local(
        "02_klacht_factuur_gmail_alternative_qp.eml",
        "complainant@example.org",
    );
    server.deliver(&mail, "complainant@example.org", &["info@example.org"]);
    server.deliver(&mail, "complainant@example.org", &["info@example.org"]);
    server.wait_for_messages("info@example.org", 2, PATIENCE);
    let summary = k.run_once();
    assert!(
        summary.contains("case_created: 1") && summary.contains("ignored: 1"),
        "{summary}"
    );
    assert_eq!(k.cases().len(), 1);
    server.wait_for_messages("complainant@example.org", 1, PATIENCE);
    let store = klachtd::store::Store::open(&k.db()).unwrap();
    let acks = klachtd::store::outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == klachtd::store::OutboxKind::Acknowledgement)
        .count();
    assert_eq!(acks, 1);
}

#[test]
fn killed_between_commit_and_move_then_restarted_makes_no_duplicate() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    server.append(
        "info@example.org",
        "INBOX",
        &from_local(
            "03_klacht_examenuitslag_outlookcom_iso88591.eml",
            "complainant3@example.org",
        ),
    );
    k.crash_at("after-commit");
    assert_eq!(
        server.count("info@example.org"),
        1,
        "recorded but not yet moved"
    );
    let summary = k.run_once();
    assert!(
        summary.contains("mail sent: 3"),
        "the queued mail goes out after the restart: {summary}"
    );
    assert_eq!(k.cases().len(), 1, "one case");
    assert_eq!(
        server.count("info@example.org"),
        0,
        "moved after the restart"
    );
    let acks = server.wait_for_messages("complainant3@example.org", 1, PATIENCE);
    assert_eq!(acks.len(), 1);
    // A second pass finds nothing more to do.
    let again = k.run_once();
    assert!(
        again.contains("mail taken in: none") && again.contains("mail sent: 0"),
        "{again}"
    );
    assert_eq!(
        server.count("complainant3@example.org"),
        1,
        "exactly one acknowledgement"
    );
}

#[test]
fn while_smtp_is_down_acknowledgements_wait_and_go_out_when_it_returns() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    server.stop_smtp();
    server.append(
        "info@example.org",
        "INBOX",
        &from_local(
            "06_klacht_herinnering_applemail_pdf.eml",
            "complainant@example.org",
        ),
    );
    let summary = k.run_once();
    assert!(
        summary.contains("case_created: 1") && summary.contains("deferred: 1"),
        "{summary}"
    );
    let case = k.case("KL-2026-0001");
    let mail = case["mail"].as_array().unwrap();
    assert!(mail.iter().all(|m| m["status"] == "queued"), "{mail:?}");
    assert!(
        mail.iter().any(|m| m["last_error"].is_string()),
        "the failure is recorded: {mail:?}"
    );

    server.start_smtp();
    // The first retry is due a minute after the failure: act as of five minutes later.
    let later =
        klachtd::clock::Clock::now(&klachtd::clock::SystemClock) + chrono::Duration::minutes(5);
    let out = k.run(&["run", "--once", "--now", &later.to_rfc3339()]);
    let summary = String::from_utf8(out.stdout).unwrap();
    assert!(summary.contains("mail sent: 3"), "{summary}");
    let acks = server.wait_for_messages("complainant@example.org", 1, PATIENCE);
    assert_eq!(acks.len(), 1);
    let staff = server.wait_for_messages("staff@example.org", 1, PATIENCE);
    let notification = klachtd::inbound::InboundMail::parse(&staff[0]).unwrap();
    assert!(
        notification
            .attachments
            .iter()
            .any(|a| a.content_type == "application/pdf"),
        "staff get the complaint with its attachment"
    );
}

#[test]
fn the_daemon_watches_with_idle_and_stops_cleanly_on_sigterm() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let mut daemon = k
        .command()
        .arg("run")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = daemon.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Wait until it is connected, then send a complaint over SMTP.
    let connected = rx.iter().find(|l| l.contains("connected to IMAP"));
    assert!(connected.is_some(), "the daemon connected");
    server.deliver(
        &from_local(
            "07_klacht_docent_iphone_png.eml",
            "complainant2@example.org",
        ),
        "complainant2@example.org",
        &["info@example.org"],
    );
    let acks = server.wait_for_messages("complainant2@example.org", 1, PATIENCE);
    assert!(subject_of(&acks[0]).contains("[KL-2026-0001]"));

    let pid = daemon.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = daemon.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let log: Vec<String> = rx.try_iter().collect();
    assert!(log.iter().any(|l| l.contains("shutting down")), "{log:?}");
}

#[test]
fn the_director_receives_the_overdue_alert_and_the_digest_in_her_mailbox() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    server.append(
        "info@example.org",
        "INBOX",
        &from_local(
            "05_klacht_dubbele_incasso_wlm_cp1252_b_subject.eml",
            "complainant@example.org",
        ),
    );
    // Received Tuesday 24 November 2026 → reaction due Tuesday 1 December; nobody reacts.
    let summary = String::from_utf8(
        k.run(&["run", "--once", "--now", "2026-11-24T10:00:00+01:00"])
            .stdout,
    )
    .unwrap();
    assert!(summary.contains("case_created: 1"), "{summary}");
    for (now, reminders, overdue) in [
        ("2026-11-30T08:30:00+01:00", 1, 0), // the working day before
        ("2026-12-01T08:30:00+01:00", 1, 0), // the morning of the deadline
        ("2026-12-01T17:00:00+01:00", 0, 0),
        ("2026-12-02T08:30:00+01:00", 0, 1), // the next working morning
        ("2026-12-03T08:30:00+01:00", 0, 0),
    ] {
        let summary = String::from_utf8(k.run(&["run", "--once", "--now", now]).stdout).unwrap();
        assert!(
            summary.contains(&format!(
                "reminders: {reminders}, overdue alerts: {overdue},"
            )),
            "{now}: {summary}"
        );
    }
    let alert = server.wait_for_subject(
        "director@example.org",
        "Termijn verstreken: 1 klacht",
        PATIENCE,
    );
    let text = klachtd::inbound::InboundMail::parse(&alert).unwrap().text;
    assert!(text.contains("KL-2026-0001"), "{text}");
    let register: serde_json::Value = serde_json::from_slice(
        &k.run(&["cases", "--json", "--now", "2026-12-03T09:00:00+01:00"])
            .stdout,
    )
    .unwrap();
    assert_eq!(
        register[0]["overdue"], true,
        "the register shows it as overdue"
    );

    let out = String::from_utf8(
        k.run(&["digest", "--send-now", "--now", "2026-12-07T08:00:00+01:00"])
            .stdout,
    )
    .unwrap();
    assert!(out.contains("mail sent: 1"), "{out}");
    // The scheduled digest went out on Monday 30 November by itself; --send-now adds this week's.
    let subjects: Vec<String> = server
        .wait_for_messages("director@example.org", 3, PATIENCE)
        .iter()
        .map(|m| subject_of(m))
        .filter(|s| s.starts_with("Klachten week"))
        .collect();
    assert_eq!(
        subjects,
        [
            "Klachten week 2026-W48: 1 open, 0 over tijd",
            "Klachten week 2026-W49: 1 open, 1 over tijd"
        ]
    );
}

#[test]
fn a_robot_mailbox_answering_everything_ping_pongs_for_a_simulated_day() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let robot = "robot@example.org";
    let robot_reply = |n: usize, subject: &str| {
        // A naive autoresponder: no Auto-Submitted, no Precedence, just "Re:".
        format!(
            "From: Auto Robot <{robot}>\r\nTo: info@example.org\r\nSubject: Re: {subject}\r\nMessage-ID: <robot-{n}@example.org>\r\n\r\nBedankt voor uw bericht; wij nemen contact op. ({n})\r\n"
        )
        .into_bytes()
    };
    server.deliver(&robot_reply(0, "hallo"), robot, &["info@example.org"]);
    let sent_to_robot = |k: &Klachtd<'_>| {
        let store = klachtd::store::Store::open(&k.db()).unwrap();
        klachtd::store::outbox::all(store.conn())
            .unwrap()
            .iter()
            .filter(|m| m.recipients.iter().any(|r| r == robot))
            .count()
    };
    let (mut answered, mut robot_sent, mut pending) = (0, 1, 1);
    // Every simulated half hour of a working day: klachtd runs, the robot answers what it got.
    for step in 0..20 {
        if pending > 0 {
            server.wait_for_messages("info@example.org", 1, PATIENCE);
        }
        let now = format!(
            "2026-11-24T{:02}:{:02}:00+01:00",
            8 + step / 2,
            (step % 2) * 30
        );
        k.run(&["run", "--once", "--now", &now]);
        let inbox = server.wait_for_messages(robot, sent_to_robot(&k), PATIENCE);
        pending = 0;
        for m in &inbox[answered..] {
            server.deliver(
                &robot_reply(robot_sent, &subject_of(m)),
                robot,
                &["info@example.org"],
            );
            robot_sent += 1;
            pending += 1;
        }
        answered = inbox.len();
        if pending == 0 {
            break;
        }
    }
    let store = klachtd::store::Store::open(&k.db()).unwrap();
    let acks = klachtd::store::outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == klachtd::store::OutboxKind::Acknowledgement)
        .count();
    assert_eq!(
        acks, 1,
        "one acknowledgement per sender per day: the ping-pong stops at once"
    );
    assert_eq!(
        server.count(robot),
        1,
        "the robot received exactly one mail"
    );
    common::invariants::check(&store);
}

/// Attack on the retention clean-up over IMAP: a redelivery (or a stranger's mail copying the
/// Message-ID) falls due two years after it arrived, while the complaint it copies is kept
/// longer. Removing it must never take the kept complaint's copy with it (copies are told
/// apart by their bytes, not only by Message-ID); once the complaint is purged too, it goes.
#[test]
fn purging_a_redelivery_never_removes_the_complaint_it_copies() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let mail = from_local(
        "02_klacht_factuur_gmail_alternative_qp.eml",
        "complainant@example.org",
    );
    server.deliver(&mail, "complainant@example.org", &["info@example.org"]);
    server.deliver(&mail, "complainant@example.org", &["info@example.org"]);
    server.wait_for_messages("info@example.org", 2, PATIENCE);
    let summary = k.run_once();
    assert!(summary.contains("ignored: 1"), "{summary}");
    assert_eq!(server.count_folder("info@example.org", "Verwerkt"), 2);
    // The case ends in mid-2028: it is kept until mid-2030.
    let db = rusqlite::Connection::open(k.db()).unwrap();
    db.execute(
        "UPDATE cases SET status = 'closed', reacted_at = '2026-12-01T10:00:00Z',
             closed_at = '2028-06-01T10:00:00Z'",
        [],
    )
    .unwrap();
    // 2029: the redelivery's two years are over, the complaint's are not.
    k.run(&["run", "--once", "--now", "2029-01-01T03:00:00+01:00"]);
    assert_eq!(
        server.count_folder("info@example.org", "Verwerkt"),
        1,
        "the redelivery's copy went (its own bytes), the kept complaint's copy stays"
    );
    let kept = server.fetch_folder("info@example.org", "Verwerkt");
    let case_copy: Vec<u8> = db
        .query_row(
            "SELECT m.content_sha256 FROM mails m JOIN cases c ON c.id = m.case_id",
            [],
            |r| r.get::<_, String>(0),
        )
        .map(|s| s.into_bytes())
        .unwrap();
    use sha2::Digest;
    assert_eq!(
        klachtd::hex::encode(&sha2::Sha256::digest(&kept[0])).into_bytes(),
        case_copy,
        "the copy left is the complaint's"
    );
    let waiting: i64 = db
        .query_row("SELECT COUNT(*) FROM mailbox_removals", [], |r| r.get(0))
        .unwrap();
    assert_eq!(waiting, 0);
    // 2031: the complaint is purged as well; its copy goes.
    k.run(&["run", "--once", "--now", "2031-01-01T03:00:00+01:00"]);
    assert_eq!(server.count_folder("info@example.org", "Verwerkt"), 0);
    let waiting: i64 = db
        .query_row("SELECT COUNT(*) FROM mailbox_removals", [], |r| r.get(0))
        .unwrap();
    assert_eq!(waiting, 0);
}

/// Retention over IMAP: a complaint whose Message-ID is written as an encoded word
/// (`=?UTF-8?B?…?=`, which Dovecot decodes before a header search compares it) still has its
/// copy removed when it is purged — found among all mails by its bytes — and a complaint
/// whose case stays open keeps its copy. (Found by the attack on the broken-off move: the
/// header search never matched such an ID, so the copy would have stayed for good.)
#[test]
fn over_imap_the_purge_removes_a_copy_whose_message_id_is_an_encoded_word() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let complaint = "From: Klager <complainant@example.org>\r\nTo: info@example.org\r\nSubject: Klacht\r\nMessage-ID: =?UTF-8?B?PGMxLmV3QGV4YW1wbGUub3JnPg==?=\r\n\r\nIk ben niet tevreden.\r\n";
    let open = "From: Ander <other@example.org>\r\nTo: info@example.org\r\nSubject: Klacht loopt\r\nMessage-ID: <open.ew@example.org>\r\n\r\nMijn klacht loopt nog.\r\n";
    for raw in [complaint, open] {
        server.append("info@example.org", "INBOX", raw.as_bytes());
    }
    k.run_once();
    assert_eq!(server.count_folder("info@example.org", "Verwerkt"), 2);
    let db = rusqlite::Connection::open(k.db()).unwrap();
    db.execute(
        "UPDATE cases SET status = 'closed', reacted_at = received_at, closed_at = received_at
         WHERE complainant_address = 'complainant@example.org'",
        [],
    )
    .unwrap();
    k.run(&["run", "--once", "--now", "2029-01-01T03:00:00+01:00"]);
    let left: Vec<String> = server
        .fetch_folder("info@example.org", "Verwerkt")
        .iter()
        .map(|raw| String::from_utf8_lossy(raw).into_owned())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        left[0].contains("Klacht loopt"),
        "the open case's copy stays: {left:?}"
    );
    let waiting: i64 = db
        .query_row("SELECT COUNT(*) FROM mailbox_removals", [], |r| r.get(0))
        .unwrap();
    assert_eq!(waiting, 0);
}

/// Retention over IMAP (issue 20): every copy of purged mail goes from the processed and
/// quarantine folders — also a quarantined mail without a Message-ID (found among the mails
/// without one, recognised by its bytes) — and nothing of the purged people is left in any
/// message file of the mailbox.
#[test]
fn over_imap_the_purge_removes_every_copy_even_without_a_message_id() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let m = "geheimpersoonx7";
    let complaint = format!(
        "From: {m} <complainant@example.org>\r\nTo: info@example.org\r\nSubject: Klacht {m}\r\nMessage-ID: <c1.{m}@example.org>\r\n\r\nIk ben {m} en niet tevreden.\r\n"
    );
    let no_id_no_from = format!(
        "To: info@example.org\r\nSubject: Klacht zonder afzender {m}\r\n\r\nGeen afzender: {m}.\r\n"
    );
    let spam_no_id = format!(
        "From: {m} <{m}@example.net>\r\nTo: info@example.org\r\nSubject: Win {m}\r\nX-Spam-Flag: YES\r\n\r\nKoop nu, {m}.\r\n"
    );
    for raw in [&complaint, &no_id_no_from, &spam_no_id] {
        server.append("info@example.org", "INBOX", raw.as_bytes());
    }
    let summary = k.run_once();
    assert!(summary.contains("quarantined: 2"), "{summary}");
    assert_eq!(server.count_folder("info@example.org", "Verwerkt"), 1);
    assert_eq!(server.count_folder("info@example.org", "Quarantaine"), 2);
    // Another complaint without a Message-ID, whose case stays open: its copy must stay.
    let open = "From: Ander <other@example.org>\r\nTo: info@example.org\r\nSubject: Klacht zonder kenmerk\r\n\r\nMijn klacht loopt nog.\r\n";
    server.append("info@example.org", "INBOX", open.as_bytes());
    k.run_once();
    assert_eq!(server.count_folder("info@example.org", "Verwerkt"), 2);
    let db = rusqlite::Connection::open(k.db()).unwrap();
    db.execute(
        "UPDATE cases SET status = 'closed', reacted_at = received_at, closed_at = received_at
         WHERE complainant_address = 'complainant@example.org'",
        [],
    )
    .unwrap();
    k.run(&["run", "--once", "--now", "2029-01-01T03:00:00+01:00"]);
    assert_eq!(server.count_folder("info@example.org", "Quarantaine"), 0);
    assert_eq!(
        server.count_folder("info@example.org", "Verwerkt"),
        1,
        "the open case's mail without a Message-ID is not due and stays"
    );
    let waiting: i64 = db
        .query_row("SELECT COUNT(*) FROM mailbox_removals", [], |r| r.get(0))
        .unwrap();
    assert_eq!(waiting, 0);
    // No message file of the mailbox holds them any more.
    let mut todo = vec![server.maildir("info@example.org")];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().unwrap().is_dir() {
                todo.push(path);
            } else if !name.starts_with("dovecot") && !name.starts_with("subscriptions") {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes.windows(m.len()).any(|w| w == m.as_bytes()),
                    "{} still holds a purged person",
                    path.display()
                );
            }
        }
    }
}
