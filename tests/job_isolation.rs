//! A job fails alone (issue 20): reminders and overdue alerts, the digest, the yearly analysis
//! and the purge are isolated like mails. For any set of failing jobs (a fault injected in the
//! database where each job records its work), a pass still takes in every mail, runs the other
//! jobs and sends everything; the failing jobs are named, the director is alerted once per job
//! however many passes fail, each is tried again every pass, and once the fault is gone the
//! job does its work and the director hears once that it works again. `run --once` exits
//! non-zero naming the failed job, after taking in and sending everything.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;
use klachtd::clock::FixedClock;
use klachtd::inbound::maildir::Maildir;
use klachtd::jobs::Job;
use klachtd::service::daemon::Daemon;
use klachtd::settings::Settings;
use klachtd::store::outbox::{self, OutboxKind};
use proptest::prelude::*;
use std::path::Path;
use std::sync::Arc;

fn local(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Amsterdam
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// The jobs a fault can be injected into, and the `notices` key each records its work under.
const JOBS: [(Job, &str); 4] = [
    (Job::Deadlines, "overdue:%"),
    (Job::Digest, "digest:%"),
    (Job::Report, "report:%"),
    (Job::Purge, "purge:%"),
];

fn settings(dir: &Path) -> Settings {
    let env = [
        ("KLACHTD__ROLES__STAFF", "anna@example.org".to_string()),
        ("KLACHTD__ROLES__DIRECTOR", "directie@example.org".into()),
        (
            "KLACHTD__INBOUND__MAILDIR",
            dir.join("mail").display().to_string(),
        ),
        (
            "KLACHTD__OUTBOUND__DIR",
            dir.join("outbox").display().to_string(),
        ),
        (
            "KLACHTD__STORE__PATH",
            dir.join("k.sqlite").display().to_string(),
        ),
    ];
    Settings::load_with_env(None, env.iter().map(|(k, v)| (k.to_string(), v.clone()))).unwrap()
}

fn deliver(maildir: &Maildir, n: usize, at: DateTime<Utc>) {
    let raw = format!(
        "From: Klager {n} <klager{n}@example.net>\r\nTo: info@example.org\r\nSubject: Klacht {n}\r\nMessage-ID: <k{n}@example.net>\r\n\r\nDe cursus ging niet door.\r\n"
    );
    let key = maildir.deliver(raw.as_bytes(), at).unwrap();
    std::fs::File::options()
        .write(true)
        .open(maildir.root().join("new").join(key))
        .unwrap()
        .set_modified(at.into())
        .unwrap();
}

/// A fault in the database: the job cannot record its work, so it fails every time it runs.
fn break_job(conn: &rusqlite::Connection, job: Job, key: &str) {
    conn.execute_batch(&format!(
        "CREATE TRIGGER fault_{0} BEFORE INSERT ON notices WHEN new.key LIKE '{key}'
         BEGIN SELECT RAISE(ABORT, 'injected fault in {0}'); END;",
        job.as_str()
    ))
    .unwrap();
}

/// The director's notices whose subject names the task, by kind of notice.
fn notices_about(conn: &rusqlite::Connection, task: &str) -> (usize, usize) {
    let mut alerts = 0;
    let mut clears = 0;
    for m in outbox::all(conn).unwrap() {
        if m.kind != OutboxKind::DirectorNotice {
            continue;
        }
        let parsed = mail_parser::MessageParser::default()
            .parse(&m.raw[..])
            .unwrap();
        let subject = parsed.subject().unwrap_or_default();
        if subject.contains(task) {
            if subject.starts_with("Opgelost") {
                clears += 1;
            } else {
                alerts += 1;
            }
        }
    }
    (alerts, clears)
}

fn task(job: Job) -> &'static str {
    match job {
        Job::Deadlines => "herinneringen en termijnbewaking",
        Job::Digest => "het wekelijkse overzicht",
        Job::Report => "de jaaranalyse",
        Job::Purge => "het verwijderen van gegevens na de bewaartermijn",
        _ => unreachable!(),
    }
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Whether each job did its work (by what it leaves behind).
fn work_done(conn: &rusqlite::Connection, job: Job) -> bool {
    match job {
        Job::Deadlines => {
            count(
                conn,
                "SELECT COUNT(*) FROM outbox WHERE kind = 'overdue_alert'",
            ) > 0
        }
        Job::Digest => count(conn, "SELECT COUNT(*) FROM outbox WHERE kind = 'digest'") > 0,
        Job::Report => {
            count(
                conn,
                "SELECT COUNT(*) FROM outbox WHERE kind = 'annual_report'",
            ) > 0
        }
        Job::Purge => {
            count(
                conn,
                "SELECT COUNT(*) FROM notices WHERE key = 'purge:2027-01-04'",
            ) > 0
        }
        _ => unreachable!(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn any_set_of_failing_jobs_fails_alone(failing in proptest::array::uniform4(any::<bool>())) {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings(dir.path());
        // Installed before Christmas: the first week of January owes a digest, the analysis of
        // 2026 and an overdue alert for the complaint of 21 December; the purge runs nightly.
        let clock = FixedClock::at(local(2026, 12, 21, 10));
        let daemon = Daemon::new(settings.clone(), Arc::new(clock.clone())).unwrap();
        let maildir = Maildir::open(&settings.inbound.maildir).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        deliver(&maildir, 1, clock.now_utc());
        runtime.block_on(daemon.run_once()).unwrap();
        let broken: Vec<(Job, &str)> = JOBS
            .iter()
            .zip(failing)
            .filter(|(_, f)| *f)
            .map(|(j, _)| *j)
            .collect();
        for (job, key) in &broken {
            break_job(daemon.store().conn(), *job, key);
        }
        // Monday 4 January 2027, 09:00: every job is due. A complaint arrives too.
        clock.set(local(2027, 1, 4, 9));
        for pass in 0..3 {
            deliver(&maildir, 10 + pass, clock.now_utc());
            let report = runtime.block_on(daemon.run_once()).unwrap();
            let failed: Vec<Job> = report.jobs.failed.iter().map(|f| f.job).collect();
            prop_assert_eq!(&failed, &broken.iter().map(|(j, _)| *j).collect::<Vec<_>>());
            prop_assert_eq!(report.intake_failed.as_deref(), None);
            // Intake and sending went on: this pass's complaint is registered and answered.
            prop_assert_eq!(maildir.count("new"), 0);
            let store = daemon.store();
            let conn = store.conn();
            prop_assert_eq!(
                count(conn, "SELECT COUNT(*) FROM outbox WHERE kind = 'acknowledgement' AND status = 'sent'"),
                2 + pass as i64
            );
            prop_assert_eq!(count(conn, "SELECT COUNT(*) FROM outbox WHERE status = 'queued'"), 0);
            for (job, _) in JOBS {
                let is_broken = broken.iter().any(|(j, _)| *j == job);
                prop_assert_eq!(work_done(conn, job), !is_broken, "{:?}", job);
                // Alerted once, however many passes fail.
                prop_assert_eq!(notices_about(conn, task(job)), (usize::from(is_broken), 0), "{:?}", job);
            }
            drop(store);
            clock.advance(Duration::minutes(1));
        }
        // The fault is mended: each job does its work on the next pass, and the director hears
        // once that it works again.
        for (job, _) in &broken {
            daemon
                .store()
                .conn()
                .execute_batch(&format!("DROP TRIGGER fault_{}", job.as_str()))
                .unwrap();
        }
        for _ in 0..2 {
            let report = runtime.block_on(daemon.run_once()).unwrap();
            prop_assert!(report.jobs.failed.is_empty(), "{:?}", report.jobs.failed);
            clock.advance(Duration::minutes(1));
        }
        let store = daemon.store();
        for (job, _) in JOBS {
            let was_broken = broken.iter().any(|(j, _)| *j == job);
            prop_assert!(work_done(store.conn(), job));
            prop_assert_eq!(notices_about(store.conn(), task(job)), (usize::from(was_broken), usize::from(was_broken)));
        }
    }
}

trait Now {
    fn now_utc(&self) -> DateTime<Utc>;
}

impl Now for FixedClock {
    fn now_utc(&self) -> DateTime<Utc> {
        klachtd::clock::Clock::now(self)
    }
}

/// `run --once` (the binary, as cron runs it) with a failing purge: every mail is taken in and
/// answered, then it exits non-zero naming the failed job.
#[test]
fn run_once_sends_everything_then_exits_non_zero_naming_the_failed_job() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |now: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_klachtd"))
            .args(["run", "--once", "--now", now])
            .env("KLACHTD_LOG", "warn")
            .env("KLACHTD__STORE__PATH", d.join("k.sqlite"))
            .env("KLACHTD__INBOUND__MAILDIR", d.join("mail"))
            .env("KLACHTD__OUTBOUND__DIR", d.join("outbox"))
            .env("KLACHTD__ROLES__STAFF", "anna@example.org")
            .env("KLACHTD__ROLES__DIRECTOR", "directie@example.org")
            .output()
            .unwrap()
    };
    let out = run("2026-12-01T10:00:00+01:00");
    assert!(out.status.success());
    break_job(
        &rusqlite::Connection::open(d.join("k.sqlite")).unwrap(),
        Job::Purge,
        "purge:%",
    );
    let maildir = Maildir::open(&d.join("mail")).unwrap();
    deliver(&maildir, 1, local(2026, 12, 2, 10));
    let out = run("2026-12-02T10:05:00+01:00");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("job purge failed"), "{stderr}");
    assert!(stderr.contains("injected fault"), "{stderr}");
    assert_eq!(maildir.count("new"), 0, "the complaint was taken in");
    let sent: Vec<String> = std::fs::read_dir(d.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        sent.iter().any(|f| f.contains(".ack.")),
        "the acknowledgement went: {sent:?}"
    );
    assert!(
        sent.iter().any(|f| f.contains(".new.")),
        "staff were told: {sent:?}"
    );
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_klachtd"))
        .args(["status", "--now", "2026-12-02T10:06:00+01:00"])
        .env("KLACHTD__STORE__PATH", d.join("k.sqlite"))
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("job purge     FAILING since"), "{status}");
}
