//! Scenarios against real servers: Dovecot (IMAP) and Postfix (SMTP) on 127.0.0.1, started per
//! test by the harness in `tests/mailserver/`. A complaint travels SMTP → info@'s IMAP INBOX →
//! klachtd → SMTP → the complainant's IMAP INBOX.

mod common;

use common::mailserver::MailServer;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Safety net for waiting on real delivery; never an assertion about speed.
const PATIENCE: Duration = Duration::from_secs(60);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

/// A sample with its From replaced by a local test mailbox, so our answer stays on loopback.
fn from_local(name: &str, sender: &str) -> Vec<u8> {
    let raw = fixture(name);
    let text = String::from_utf8_lossy(&raw);
    let mut out = String::new();
    let mut replaced = false;
    let mut in_from = false;
    for line in text.split_inclusive("\r\n") {
        if !replaced && line.to_ascii_lowercase().starts_with("from:") {
            out.push_str(&format!("From: Test Klager <{sender}>\r\n"));
            replaced = true;
            in_from = true;
            continue;
        }
        if in_from && line.starts_with([' ', '\t']) {
            continue;
        }
        in_from = false;
        out.push_str(line);
    }
    assert!(replaced, "{name} has a From header");
    out.into_bytes()
}

/// klachtd configured for the running servers: IMAP (implicit TLS) in, SMTP (STARTTLS, AUTH) out.
struct Klachtd<'a> {
    server: &'a MailServer,
    dir: tempfile::TempDir,
}

impl<'a> Klachtd<'a> {
    fn new(server: &'a MailServer) -> Self {
        Klachtd {
            server,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("klachtd.sqlite")
    }

    fn command(&self) -> Command {
        let s = self.server;
        let ca = s.ca_cert.display().to_string();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_klachtd"));
        cmd.current_dir(self.dir.path())
            .env_remove("KLACHTD_FAILPOINT")
            .env("KLACHTD_LOG", "info")
            .env("KLACHTD__STORE__PATH", self.db())
            .env("KLACHTD__ORGANISATION__ADDRESS", "info@example.org")
            .env("KLACHTD__ROLES__STAFF", "staff@example.org")
            .env("KLACHTD__ROLES__DIRECTOR", "director@example.org")
            .env("KLACHTD__ROLES__COMMITTEE", "committee@example.org")
            .env("KLACHTD__INBOUND__KIND", "imap")
            .env("KLACHTD__INBOUND__IMAP__HOST", "127.0.0.1")
            .env("KLACHTD__INBOUND__IMAP__PORT", s.imaps_port.to_string())
            .env("KLACHTD__INBOUND__IMAP__TLS", "implicit")
            .env("KLACHTD__INBOUND__IMAP__CA_FILE", &ca)
            .env("KLACHTD__INBOUND__IMAP__USERNAME", "info@example.org")
            .env("KLACHTD__INBOUND__IMAP__PASSWORD", "secret")
            .env("KLACHTD__INBOUND__IMAP__RECONNECT_MIN_SECONDS", "1")
            .env("KLACHTD__OUTBOUND__KIND", "smtp")
            .env("KLACHTD__OUTBOUND__SMTP__HOST", "127.0.0.1")
            .env("KLACHTD__OUTBOUND__SMTP__PORT", s.smtp_port.to_string())
            .env("KLACHTD__OUTBOUND__SMTP__TLS", "starttls")
            .env("KLACHTD__OUTBOUND__SMTP__CA_FILE", &ca)
            .env("KLACHTD__OUTBOUND__SMTP__USERNAME", "info@example.org")
            .env("KLACHTD__OUTBOUND__SMTP__PASSWORD", "secret")
            .env("KLACHTD__OUTBOUND__SMTP__TIMEOUT_SECONDS", "10");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "klachtd {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn run_once(&self) -> String {
        String::from_utf8(self.run(&["run", "--once"]).stdout).unwrap()
    }

    fn cases(&self) -> Vec<serde_json::Value> {
        serde_json::from_slice(&self.run(&["cases", "--json"]).stdout).unwrap()
    }

    fn case(&self, reference: &str) -> serde_json::Value {
        serde_json::from_slice(&self.run(&["case", reference, "--json"]).stdout).unwrap()
    }

    /// Starts `run --once` with a failpoint and SIGKILLs it once the point is reached.
    fn crash_at(&self, failpoint: &str) {
        let mut child: Child = self
            .command()
            .args(["run", "--once"])
            .env("KLACHTD_FAILPOINT", failpoint)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let reached = BufReader::new(child.stderr.take().unwrap())
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains(&format!("failpoint reached: {failpoint}")));
        assert!(reached, "failpoint {failpoint} was never reached");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

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
        summary.contains("case_created: 1") && summary.contains("mail sent: 2"),
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
    assert_eq!(ack.signals.auto_submitted.as_deref(), Some("auto-replied"));

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
        summary.contains("mail sent: 2"),
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
    assert!(summary.contains("mail sent: 2"), "{summary}");
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
