//! An outside review of issue 20's promises — "no data kept past its time", "no operator
//! command loses data", "a full disk loses nothing" — briefed with the README only. Each attack
//! it tried is kept here, with what klachtd does about it.
//!
//! 1. Every restore now keeps the database it replaced: full copies of the register, with every
//!    complainant in them, that the purge never reached — kept for ever. Now the nightly purge
//!    removes each two years (`retention.years`) after it was set aside, and `status` lists them.
//! 2. Restore right after a crash: the replaced database's newest commits are still in its log
//!    (`-wal`) only. They must be kept with it, not lost with the log.
//! 3. A full disk during `backup` or `restore`: no half-written file under the target's name, no
//!    database moved aside for a copy that never came; the register as it was.
//! 4. A full store disk when the nightly purge is due (`run --once` from cron): nothing is half
//!    purged, and it completes when space returns. The review found `run --once` refusing to
//!    start with "restore the last backup" as the fix — the wrong cure for a full disk (a
//!    restore would set the newest register aside for an older one). It now says the disk is
//!    full or read-only and that nothing is lost meanwhile.

mod common;

use common::smallfs::SmallFs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Install {
    dir: tempfile::TempDir,
    store: PathBuf,
}

impl Install {
    fn new(store_dir: Option<&Path>) -> Install {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["mail/new", "mail/cur", "mail/tmp"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let store = store_dir.unwrap_or(dir.path()).join("klachtd.sqlite");
        Install { dir, store }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn output(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_klachtd"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("KLACHTD_FAILPOINT")
            .env_remove("KLACHTD_CONFIG")
            .env("KLACHTD_LOG", "warn")
            .env("KLACHTD__STORE__PATH", &self.store)
            .env("KLACHTD__INBOUND__MAILDIR", "mail")
            .env("KLACHTD__OUTBOUND__DIR", "outbox")
            .env("KLACHTD__ROLES__STAFF", "staff@example.org")
            .env("KLACHTD__ROLES__DIRECTOR", "directie@example.org")
            .output()
            .unwrap()
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "klachtd {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn deliver(&self, n: usize) {
        let raw = format!(
            "From: Klager {n} <klager{n}@example.net>\r\nTo: info@example.org\r\nSubject: Klacht {n}\r\nMessage-ID: <a{n}@example.net>\r\n\r\nDe cursus ging niet door.\r\n"
        );
        std::fs::write(self.path(&format!("mail/tmp/{n}")), raw).unwrap();
        std::fs::rename(
            self.path(&format!("mail/tmp/{n}")),
            self.path(&format!("mail/new/{n}")),
        )
        .unwrap();
    }

    fn cases(&self, db: &Path) -> i64 {
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM cases", [], |r| r.get(0))
            .unwrap()
    }

    fn kept(&self) -> Vec<PathBuf> {
        klachtd::store::maintenance::kept_databases(&self.store)
            .unwrap()
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }
}

/// Attack 1: the databases kept by restore hold everyone; they go after the retention period.
#[test]
fn a_database_kept_by_restore_goes_after_the_retention_period() {
    let k = Install::new(None);
    k.deliver(1);
    k.run(&["run", "--once"]);
    let backup = k.path("b.sqlite");
    k.run(&["backup", backup.to_str().unwrap()]);
    k.run(&["restore", backup.to_str().unwrap()]);
    let kept = k.kept();
    assert_eq!(kept.len(), 1);
    let status = k.run(&["status"]);
    assert!(
        status.contains("kept          1 database(s) set aside by restore"),
        "{status}"
    );
    // A year on the purge leaves it; past two years it goes, with its log.
    let year = (chrono_now() + chrono::Duration::days(365)).to_rfc3339();
    k.run(&["purge", "--now", &year]);
    assert!(kept[0].exists(), "kept within the retention period");
    let later = (chrono_now() + chrono::Duration::days(2 * 366 + 2)).to_rfc3339();
    k.run(&["purge", "--now", &later]);
    assert!(!kept[0].exists(), "removed after the retention period");
    assert!(k.kept().is_empty());
    assert!(!k.run(&["status"]).contains("kept "));
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    klachtd::clock::Clock::now(&klachtd::clock::SystemClock)
}

/// Attack 2: restore right after a crash — the newest commits are in the log only.
#[test]
fn restore_after_a_crash_keeps_the_commits_still_in_the_log() {
    let k = Install::new(None);
    k.deliver(1);
    k.run(&["run", "--once"]);
    let backup = k.path("b.sqlite");
    k.run(&["backup", backup.to_str().unwrap()]);
    // A process that dies with commits in the log (no checkpoint): a connection that writes
    // and is never closed, as a killed daemon leaves it.
    let conn = rusqlite::Connection::open(&k.store).unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    conn.execute(
        "INSERT INTO notices (key, done_at) VALUES ('written-before-the-crash', '2026-12-01T10:00:00Z')",
        [],
    )
    .unwrap();
    let wal = PathBuf::from(format!("{}-wal", k.store.display()));
    assert!(
        std::fs::metadata(&wal).unwrap().len() > 0,
        "the commit is in the log"
    );
    std::mem::forget(conn);
    k.run(&["restore", backup.to_str().unwrap()]);
    let kept = k.kept();
    assert_eq!(kept.len(), 1);
    let found: i64 = rusqlite::Connection::open(&kept[0])
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM notices WHERE key = 'written-before-the-crash'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(found, 1, "the commit in the log is kept with the database");
    assert_eq!(k.cases(&k.store), 1);
}

/// Attack 3: a full disk during backup and during restore.
#[test]
fn a_full_disk_during_backup_or_restore_leaves_everything_as_it_was() {
    let fs = SmallFs::tmpfs(4096);
    let k = Install::new(Some(&fs.dir));
    for n in 1..=3 {
        k.deliver(n);
    }
    k.run(&["run", "--once"]);
    let elsewhere = k.path("b.sqlite");
    k.run(&["backup", elsewhere.to_str().unwrap()]);
    fs.fill();
    let before = std::fs::read(&k.store).unwrap();
    // Backup onto the full disk: refused, nothing left under the name or beside it.
    let target = fs.path("copy.sqlite");
    let out = k.output(&["backup", target.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(!target.exists());
    // Restore onto the full disk: the copy cannot be made, so nothing is moved aside.
    let out = k.output(&["restore", elsewhere.to_str().unwrap()]);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        k.kept().is_empty(),
        "nothing set aside for a copy that never came"
    );
    assert_eq!(
        std::fs::read(&k.store).unwrap(),
        before,
        "the database as it was"
    );
    let left: Vec<String> = std::fs::read_dir(&fs.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".klachtd") || n.ends_with(".partial"))
        .collect();
    assert!(left.is_empty(), "no work files left: {left:?}");
    fs.free();
    assert_eq!(k.cases(&k.store), 3);
}

/// Attack 4: the store's disk full when the purge is due: nothing half purged, the right advice,
/// and the purge completes when space returns.
#[test]
fn a_full_disk_when_the_purge_is_due_purges_nothing_by_halves() {
    let fs = SmallFs::tmpfs(4096);
    let k = Install::new(Some(&fs.dir));
    k.deliver(1);
    k.run(&["run", "--once", "--now", "2026-12-01T10:00:00+01:00"]);
    rusqlite::Connection::open(&k.store)
        .unwrap()
        .execute(
            "UPDATE cases SET status = 'closed', reacted_at = received_at, closed_at = received_at",
            [],
        )
        .unwrap();
    let store = klachtd::store::Store::open(&k.store).unwrap();
    store
        .conn()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(store);
    fs.fill();
    let out = k.output(&["run", "--once", "--now", "2029-01-08T10:00:00+01:00"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("job purge failed") || stderr.contains("full or read-only"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("restore"),
        "never the advice to restore a backup: {stderr}"
    );
    fs.free();
    let conn = rusqlite::Connection::open(&k.store).unwrap();
    let (address, purged): (Option<String>, Option<String>) = conn
        .query_row(
            "SELECT complainant_address, purged_at FROM cases",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        address.is_some() && purged.is_none(),
        "nothing purged by halves"
    );
    drop(conn);
    k.run(&["run", "--once", "--now", "2029-01-08T10:05:00+01:00"]);
    let conn = rusqlite::Connection::open(&k.store).unwrap();
    let (address, purged): (Option<String>, Option<String>) = conn
        .query_row(
            "SELECT complainant_address, purged_at FROM cases",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        address.is_none() && purged.is_some(),
        "purged once space returned"
    );
    assert!(
        std::fs::read_dir(k.path("mail/cur")).unwrap().count() == 0,
        "its mailbox copy went too"
    );
}
