//! A full or read-only disk loses nothing (issue 20). On real small file systems (a tmpfs of a
//! few MB, an ext4 image on a loop device; tests/common/smallfs.rs), with the real daemon:
//!
//! - the store's disk full: nothing is marked processed that is not committed, a mail the server
//!   accepted while the store could not record it is never sent again, the daemon keeps running
//!   and retrying, the administrator is alerted once (directly: the outbox is in that store), and
//!   everything completes by itself, with one all-clear, when space returns;
//! - the store read-only when the daemon starts: it waits (alive), alerts once, and starts working
//!   by itself once the disk is writable;
//! - the Maildir's disk full: a recorded mail that cannot be moved is recorded once and moved
//!   when space returns, the mail after it goes on, the administrator is told once;
//! - the outgoing directory's disk full: no partial file is left, nothing is given up however
//!   long it lasts, each mail is written once when space returns, alert and all-clear once.
//!
//! The tests run as root (they mount); their mounts are undone when they end, also on failure.

mod common;

use chrono::{DateTime, Duration as Days, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;
use common::klachtd::PATIENCE;
use common::mailserver::MailServer;
use common::smallfs::SmallFs;
use klachtd::clock::FixedClock;
use klachtd::inbound::maildir::Maildir;
use klachtd::service::daemon::Daemon;
use klachtd::settings::Settings;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Waits for `what` to hold (a safety net, never a claim about speed).
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE * 4;
    while !cond() {
        assert!(Instant::now() < deadline, "waited in vain: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn complaint(n: usize, from: &str) -> Vec<u8> {
    format!(
        "From: Klager {n} <{from}>\r\nTo: info@example.org\r\nSubject: Klacht {n}\r\nMessage-ID: <d{n}@example.net>\r\n\r\nDe cursus ging niet door ({n}).\r\n"
    )
    .into_bytes()
}

fn deliver(maildir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(maildir.join("tmp").join(name), bytes).unwrap();
    std::fs::rename(
        maildir.join("tmp").join(name),
        maildir.join("new").join(name),
    )
    .unwrap();
}

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// `klachtd run` as a child process; stopped (SIGTERM, then waited for) when dropped, so a
/// failing test still lets go of its file systems.
struct Running(Child);

impl Running {
    fn alive(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }

    fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if self.alive() {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_raw(self.0.id() as i32).unwrap(),
                rustix::process::Signal::TERM,
            );
        }
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A failing test shows what the daemon logged.
impl Drop for Setup {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- daemon log ---\n{}", self.log());
        }
    }
}

/// klachtd for a test: a Maildir, a store and an outgoing directory where the test puts them.
struct Setup {
    dir: tempfile::TempDir,
    store: PathBuf,
    maildir: PathBuf,
    outbox: PathBuf,
    extra: Vec<(String, String)>,
}

impl Setup {
    fn new(store_dir: Option<&Path>, maildir: Option<&Path>, outbox: Option<&Path>) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let store = store_dir.unwrap_or(dir.path()).join("k.sqlite");
        let maildir = maildir.map_or(dir.path().join("mail"), Path::to_path_buf);
        let outbox = outbox.map_or(dir.path().join("outbox"), Path::to_path_buf);
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        Setup {
            dir,
            store,
            maildir,
            outbox,
            extra: Vec::new(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_klachtd"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("KLACHTD_FAILPOINT")
            .env_remove("KLACHTD_CONFIG")
            .env("KLACHTD_LOG", "info")
            .env("KLACHTD__STORE__PATH", &self.store)
            .env("KLACHTD__INBOUND__MAILDIR", &self.maildir)
            .env("KLACHTD__INBOUND__MAILDIR_POLL_SECONDS", "1")
            .env("KLACHTD__OUTBOUND__DIR", &self.outbox)
            .env("KLACHTD__OUTBOUND__RETRY_MIN_SECONDS", "1")
            .env("KLACHTD__OUTBOUND__RETRY_MAX_SECONDS", "2")
            .env("KLACHTD__ALERTS__AFTER_MINUTES", "1")
            .env("KLACHTD__ROLES__STAFF", "staff@example.org")
            .env("KLACHTD__ROLES__DIRECTOR", "director@example.org");
        for (k, v) in &self.extra {
            cmd.env(k, v);
        }
        cmd
    }

    fn start(&self) -> Running {
        let log = std::fs::File::create(self.dir.path().join("daemon.log")).unwrap();
        Running(
            self.command(&["run"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    fn run_once(&self) {
        let out = self.command(&["run", "--once"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The files in the outgoing directory, decoded: (file name, subject, recipients).
    fn sent(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        let Ok(dir) = std::fs::read_dir(&self.outbox) else {
            return out;
        };
        for entry in dir {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".eml") {
                continue;
            }
            let bytes = std::fs::read(entry.path()).unwrap();
            let mail = mail_parser::MessageParser::default()
                .parse(&bytes[..])
                .unwrap();
            let to = mail
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_string();
            out.push((name, mail.subject().unwrap_or_default().to_string(), to));
        }
        out
    }

    fn sent_with(&self, subject_part: &str) -> usize {
        self.sent()
            .iter()
            .filter(|(_, s, _)| s.contains(subject_part))
            .count()
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.store).unwrap()
    }
}

const STORE_ALERT: &str = "de database kan niet worden bijgewerkt";

/// The store's disk fills while the daemon runs, with a mail queued while the mail server was
/// away: that mail is sent when the server returns, though the store cannot record it — and
/// never again; the complaint arriving meanwhile stays in the Maildir; the administrator is
/// alerted once, directly; when space returns everything completes, with one all-clear.
#[test]
fn the_stores_disk_full_loses_nothing_and_sends_nothing_twice() {
    let server = MailServer::start();
    let fs = SmallFs::tmpfs(4096);
    let mut k = Setup::new(Some(&fs.dir), None, None);
    let ca = server.ca_cert.display().to_string();
    k.extra = [
        ("KLACHTD__OUTBOUND__KIND", "smtp".to_string()),
        ("KLACHTD__OUTBOUND__SMTP__HOST", "127.0.0.1".into()),
        (
            "KLACHTD__OUTBOUND__SMTP__PORT",
            server.smtp_port.to_string(),
        ),
        ("KLACHTD__OUTBOUND__SMTP__TLS", "starttls".into()),
        ("KLACHTD__OUTBOUND__SMTP__CA_FILE", ca),
        (
            "KLACHTD__OUTBOUND__SMTP__USERNAME",
            "info@example.org".into(),
        ),
        ("KLACHTD__OUTBOUND__SMTP__PASSWORD", "secret".into()),
        ("KLACHTD__ORGANISATION__ADDRESS", "info@example.org".into()),
    ]
    .map(|(a, b)| (a.to_string(), b))
    .to_vec();
    let mut daemon = k.start();
    deliver(&k.maildir, "1", &complaint(1, "complainant@example.org"));
    server.wait_for_subject("complainant@example.org", "Ontvangstbevestiging", PATIENCE);
    // The mail server goes away; a complaint is taken in, its acknowledgement queued.
    server.stop_smtp();
    deliver(&k.maildir, "2", &complaint(2, "complainant2@example.org"));
    wait_until("complaint 2 taken in", || {
        count(&k.maildir.join("new")) == 0
    });
    fs.fill();
    server.start_smtp();
    deliver(&k.maildir, "3", &complaint(3, "complainant3@example.org"));
    server.wait_for_subject(
        "director@example.org",
        "Storing klachtenregistratie",
        PATIENCE,
    );
    assert!(daemon.alive(), "the daemon keeps running");
    assert_eq!(
        count(&k.maildir.join("new")),
        1,
        "complaint 3 is not marked processed: nothing recorded it"
    );
    server.wait_for_subject("complainant2@example.org", "Ontvangstbevestiging", PATIENCE);
    // `status` works on the full disk (the database as at its last checkpoint) and says so.
    let status = k.command(&["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(text.contains("store disk    FULL"), "{text}");
    // Space returns: everything completes by itself.
    fs.free();
    wait_until("complaint 3 taken in", || {
        count(&k.maildir.join("new")) == 0
    });
    server.wait_for_subject("complainant3@example.org", "Ontvangstbevestiging", PATIENCE);
    wait_until("the all-clear", || {
        server
            .fetch_all("director@example.org")
            .iter()
            .any(|m| String::from_utf8_lossy(m).contains("Subject: Opgelost"))
    });
    assert!(daemon.alive());
    daemon.stop();
    for who in [
        "complainant@example.org",
        "complainant2@example.org",
        "complainant3@example.org",
    ] {
        assert_eq!(server.count(who), 1, "{who} got one acknowledgement");
    }
    assert_eq!(
        server.count("staff@example.org"),
        3,
        "one notice per complaint"
    );
    let director: Vec<String> = server
        .fetch_all("director@example.org")
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    let alerts = director
        .iter()
        .filter(|m| m.contains("Subject: Storing klachtenregistratie"))
        .count();
    let clears = director
        .iter()
        .filter(|m| m.contains("Subject: Opgelost"))
        .count();
    assert_eq!(
        (alerts, clears),
        (1, 1),
        "alerted once, told once it works: {director:?}"
    );
    let store = klachtd::store::Store::open(&k.store).unwrap();
    common::invariants::check(&store);
    let kept: i64 = store
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'director_notice' AND status = 'sent'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        kept, 2,
        "the direct alert is on record as sent, with the all-clear"
    );
    let log = k.log();
    assert!(log.contains("the database cannot be written"), "{log}");
}

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Amsterdam
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// In process, deterministically: the store full at the moment a mail is handed over. The
/// mail is sent (written) once; every later pass while the store is full sends nothing (the
/// first send waits to be recorded); once space returns it is recorded as sent, still once.
#[test]
fn a_mail_sent_while_the_store_cannot_record_it_is_never_sent_again() {
    let fs = SmallFs::tmpfs(4096);
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("KLACHTD__ROLES__STAFF", "staff@example.org".to_string()),
        ("KLACHTD__ROLES__DIRECTOR", "director@example.org".into()),
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
            fs.path("k.sqlite").display().to_string(),
        ),
    ];
    let settings =
        Settings::load_with_env(None, env.iter().map(|(k, v)| (k.to_string(), v.clone()))).unwrap();
    let clock = FixedClock::at(at(2026, 12, 1, 10));
    let daemon = Daemon::new(settings.clone(), Arc::new(clock.clone())).unwrap();
    let maildir = Maildir::open(&settings.inbound.maildir).unwrap();
    maildir
        .deliver(&complaint(1, "klager@example.net"), clock_now(&clock))
        .unwrap();
    daemon
        .process_maildir(&maildir, &mut Default::default())
        .unwrap();
    // Nothing sent yet. The log emptied into the database, then every block taken.
    daemon
        .store()
        .conn()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    fs.fill();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let first = runtime.block_on(daemon.deliver());
    assert!(first.is_err(), "the store could not record the sends");
    let written = || -> Vec<(String, u64)> {
        let mut files: Vec<(String, u64)> = std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().ino(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let once = written();
    assert_eq!(once.len(), 2, "acknowledgement and staff notice: {once:?}");
    for _ in 0..5 {
        clock.advance(Days::minutes(10));
        assert!(runtime.block_on(daemon.deliver()).is_err());
        assert_eq!(
            written(),
            once,
            "nothing written again (same files, same inodes)"
        );
    }
    fs.free();
    let report = runtime.block_on(daemon.deliver()).unwrap();
    assert_eq!(report.sent, 0, "nothing more to send");
    assert_eq!(written(), once);
    let queued: i64 = daemon
        .store()
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE status <> 'sent'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(queued, 0, "recorded as sent");
}

fn clock_now(clock: &FixedClock) -> DateTime<Utc> {
    klachtd::clock::Clock::now(clock)
}

/// The store's file system is read-only when the daemon starts: it does not exit, takes
/// nothing in, alerts once (directly), and starts working by itself once it is writable.
#[test]
fn a_read_only_store_at_start_is_waited_for_and_alerted_once() {
    let fs = SmallFs::tmpfs(8192);
    let k = Setup::new(Some(&fs.dir), None, None);
    k.run_once();
    fs.read_only();
    deliver(&k.maildir, "1", &complaint(1, "klager@example.net"));
    let mut daemon = k.start();
    wait_until("the alert", || {
        k.sent_with("Storing klachtenregistratie") == 1
    });
    assert!(daemon.alive(), "waiting, not exited");
    assert_eq!(count(&k.maildir.join("new")), 1, "nothing taken in");
    // `status` works on the read-only store, and says what is wrong.
    let status = k.command(&["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(text.contains("store disk    READ-ONLY"), "{text}");
    assert!(text.contains("daemon        running"), "{text}");
    let alert = k
        .sent()
        .into_iter()
        .find(|(_, s, _)| s.contains("Storing"))
        .unwrap();
    assert!(alert.1.contains(STORE_ALERT), "{alert:?}");
    assert_eq!(alert.2, "director@example.org");
    fs.writable();
    wait_until("the complaint taken in", || {
        count(&k.maildir.join("new")) == 0
    });
    wait_until("the acknowledgement", || {
        k.sent_with("Ontvangstbevestiging") == 1
    });
    wait_until("the all-clear", || k.sent_with("Opgelost") == 1);
    assert!(daemon.alive());
    daemon.stop();
    assert_eq!(
        k.sent_with("Storing klachtenregistratie"),
        1,
        "alerted once"
    );
    assert_eq!(k.sent_with("Ontvangstbevestiging"), 1);
}

/// The Maildir's disk is full: a spam mail is recorded but cannot be moved into the quarantine
/// folder (it cannot be made); it stays in new/, recorded once, while the complaint after it is
/// taken in and answered; the administrator is told once, and when space returns the spam is
/// moved and the all-clear follows.
#[test]
fn the_maildirs_disk_full_moves_recorded_mail_when_space_returns() {
    let fs = SmallFs::ext4(2048);
    let k = Setup::new(None, Some(&fs.dir), None);
    deliver(
        &k.maildir,
        "1.spam",
        b"From: Spammer <spam@example.net>\r\nTo: info@example.org\r\nSubject: Win\r\nX-Spam-Flag: YES\r\nMessage-ID: <s1@example.net>\r\n\r\nKoop nu.\r\n",
    );
    deliver(
        &k.maildir,
        "2.complaint",
        &complaint(2, "klager@example.net"),
    );
    fs.fill();
    let mut daemon = k.start();
    wait_until("the acknowledgement", || {
        k.sent_with("Ontvangstbevestiging") == 1
    });
    assert_eq!(count(&k.maildir.join("new")), 1, "the spam waits in new/");
    wait_until("the alert", || {
        k.sent_with("Storing klachtenregistratie") == 1
    });
    assert!(daemon.alive());
    let recorded: i64 = k
        .db()
        .query_row(
            "SELECT COUNT(*) FROM mails WHERE outcome = 'quarantined'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(recorded, 1, "recorded once, however many passes");
    fs.free();
    wait_until("the spam moved", || count(&k.maildir.join("new")) == 0);
    assert_eq!(count(&k.maildir.join(".Quarantaine/cur")), 1);
    wait_until("the all-clear", || k.sent_with("Opgelost") == 1);
    daemon.stop();
    assert_eq!(
        k.sent_with("Storing klachtenregistratie"),
        1,
        "alerted once"
    );
    let mails: i64 = k
        .db()
        .query_row("SELECT COUNT(*) FROM mails", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mails, 2, "each mail recorded once");
}

/// The outgoing directory's disk is full: no partial file is left behind, the queue waits
/// without giving up, and when space returns each mail is written once — the acknowledgement,
/// the staff notice, the alert that sending failed and the all-clear.
#[test]
fn the_outgoing_disk_full_writes_each_mail_once_when_space_returns() {
    let fs = SmallFs::tmpfs(1024);
    let k = Setup::new(None, None, Some(&fs.dir));
    fs.fill();
    let mut daemon = k.start();
    deliver(&k.maildir, "1", &complaint(1, "klager@example.net"));
    wait_until("the complaint taken in", || {
        count(&k.maildir.join("new")) == 0
    });
    // The failure lasts the alert threshold (one minute): the alert is queued, and waits too.
    wait_until("the outbound failure recorded as alerted", || {
        k.db()
            .query_row(
                "SELECT COUNT(*) FROM alerts WHERE component = 'outbound'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(0)
            == 1
    });
    let status = String::from_utf8(k.command(&["status"]).output().unwrap().stdout).unwrap();
    assert!(status.contains("sending       PAUSED"), "{status}");
    let left: Vec<String> = std::fs::read_dir(&fs.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".filler" && n != "lost+found")
        .collect();
    assert!(left.is_empty(), "no partial file left: {left:?}");
    assert!(daemon.alive());
    fs.free();
    wait_until("everything written", || {
        k.sent_with("Ontvangstbevestiging") == 1 && k.sent_with("Opgelost") == 1
    });
    daemon.stop();
    assert_eq!(k.sent_with("Ontvangstbevestiging"), 1);
    assert_eq!(
        k.sent_with("Storing klachtenregistratie"),
        1,
        "alerted once"
    );
    assert_eq!(k.sent_with("Opgelost"), 1);
    let failed: i64 = k
        .db()
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE status <> 'sent'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(failed, 0, "nothing given up, nothing left queued");
}

/// In process, days on the clock: while the outgoing directory's disk stays full the mail waits
/// — paused, never given up, however long (give_up_after_hours is for a mail server that keeps
/// refusing, not for our own disk) — and is written once space returns.
#[test]
fn the_outgoing_disk_full_for_days_gives_nothing_up() {
    let fs = SmallFs::tmpfs(1024);
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("KLACHTD__ROLES__STAFF", "staff@example.org".to_string()),
        ("KLACHTD__ROLES__DIRECTOR", "director@example.org".into()),
        (
            "KLACHTD__INBOUND__MAILDIR",
            dir.path().join("mail").display().to_string(),
        ),
        ("KLACHTD__OUTBOUND__DIR", fs.dir.display().to_string()),
        (
            "KLACHTD__STORE__PATH",
            dir.path().join("k.sqlite").display().to_string(),
        ),
    ];
    let settings =
        Settings::load_with_env(None, env.iter().map(|(k, v)| (k.to_string(), v.clone()))).unwrap();
    let clock = FixedClock::at(at(2026, 12, 1, 10));
    let daemon = Daemon::new(settings.clone(), Arc::new(clock.clone())).unwrap();
    let maildir = Maildir::open(&settings.inbound.maildir).unwrap();
    maildir
        .deliver(&complaint(1, "klager@example.net"), clock_now(&clock))
        .unwrap();
    daemon
        .process_maildir(&maildir, &mut Default::default())
        .unwrap();
    fs.fill();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for _ in 0..(5 * 24) {
        let report = runtime.block_on(daemon.deliver()).unwrap();
        assert_eq!(report.failed, 0, "nothing given up");
        clock.advance(Days::hours(1));
    }
    let state: Vec<String> = daemon
        .store()
        .conn()
        .prepare("SELECT status FROM outbox")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(state.iter().all(|s| s == "queued"), "{state:?}");
    fs.free();
    clock.advance(Days::hours(1));
    let report = runtime.block_on(daemon.deliver()).unwrap();
    assert_eq!(
        report.sent, 2,
        "the acknowledgement and the staff notice, after five days"
    );
    let files = std::fs::read_dir(&fs.dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".eml")
        })
        .count();
    assert_eq!(files, 2);
}

/// The store's file system fails under the running daemon — ext4 takes it read-only after an
/// error, under the open database. Nothing is marked processed, the daemon keeps running and
/// alerts once (directly), and lets go of the database, so the administrator can unmount,
/// repair and mount the file system again without stopping klachtd; then the daemon opens its
/// database anew and completes by itself, with one all-clear.
#[test]
fn the_stores_file_system_failing_under_the_daemon_loses_nothing() {
    let fs = SmallFs::ext4(16384);
    let k = Setup::new(Some(&fs.dir), None, None);
    let mut daemon = k.start();
    deliver(&k.maildir, "1", &complaint(1, "klager1@example.net"));
    wait_until("the first acknowledgement", || {
        k.sent_with("Ontvangstbevestiging") == 1
    });
    fs.fail();
    deliver(&k.maildir, "2", &complaint(2, "klager2@example.net"));
    wait_until("the alert", || {
        k.sent_with("Storing klachtenregistratie") == 1
    });
    assert!(daemon.alive(), "the daemon keeps running");
    assert_eq!(
        count(&k.maildir.join("new")),
        1,
        "complaint 2 is not marked processed"
    );
    assert_eq!(k.sent_with("Ontvangstbevestiging"), 1);
    fs.repair_and_remount();
    wait_until("complaint 2 taken in", || {
        count(&k.maildir.join("new")) == 0
    });
    wait_until("its acknowledgement", || {
        k.sent_with("Ontvangstbevestiging") == 2
    });
    wait_until("the all-clear", || k.sent_with("Opgelost") == 1);
    assert!(daemon.alive());
    daemon.stop();
    assert_eq!(
        k.sent_with("Storing klachtenregistratie"),
        1,
        "alerted once"
    );
    let store = klachtd::store::Store::open(&k.store).unwrap();
    let summary = common::invariants::check(&store);
    assert_eq!((summary.mails, summary.cases), (2, 2));
}
