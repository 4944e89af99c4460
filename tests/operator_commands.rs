//! Operator commands never destroy data (issue 20, observed 2): `restore` keeps every database
//! it replaces under a name of its own and refuses while the daemon runs; `backup`, `restore`,
//! `purge` and `attachment` never follow a symbolic link out of their directory and never write
//! a file others can read. And the Maildir holds no secrets from `status` (observed 4): what in
//! `new/` or `cur/` is not a mail file is never read or followed, is logged once and is shown by
//! `klachtd status`. Each test is a private installation (Maildir in, files out), the binary run
//! as an administrator would.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

struct Install {
    dir: tempfile::TempDir,
}

impl Install {
    fn new() -> Install {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["mail/new", "mail/cur", "mail/tmp"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Install { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// klachtd with umask 000, so any file it makes readable by others would show.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("umask 000; exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_klachtd"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("KLACHTD_FAILPOINT")
            .env_remove("KLACHTD_CONFIG")
            .env("KLACHTD__ROLES__STAFF", "staff@example.org")
            .env("KLACHTD__ROLES__DIRECTOR", "directie@example.org")
            .env("KLACHTD__INBOUND__MAILDIR", "mail")
            .env("KLACHTD__OUTBOUND__DIR", "outbox")
            .env("KLACHTD__STORE__PATH", "var/klachtd.sqlite")
            .env("KLACHTD_LOG", "info");
        cmd
    }

    fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "klachtd {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn deliver(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.path(&format!("mail/tmp/{name}")), bytes).unwrap();
        std::fs::rename(
            self.path(&format!("mail/tmp/{name}")),
            self.path(&format!("mail/new/{name}")),
        )
        .unwrap();
    }

    fn cases(&self, db: &Path) -> i64 {
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM cases", [], |r| r.get(0))
            .unwrap()
    }
}

fn complaint(n: usize) -> Vec<u8> {
    format!(
        "From: Klager {n} <klager{n}@example.net>\r\nTo: info@example.org\r\nSubject: Klacht {n}\r\nMessage-ID: <c{n}@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nDe cursus ging niet door.\r\n--b\r\nContent-Type: text/plain; name=bewijs.txt\r\nContent-Disposition: attachment; filename=bewijs.txt\r\n\r\nfactuur {n}\r\n--b--\r\n"
    )
    .into_bytes()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

fn kept_databases(k: &Install) -> Vec<PathBuf> {
    let mut kept: Vec<PathBuf> = std::fs::read_dir(k.path("var"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("klachtd.sqlite.before-restore-")
                && !["-wal", "-shm", "-journal"]
                    .iter()
                    .any(|s| name.ends_with(s))
        })
        .collect();
    kept.sort();
    kept
}

/// Observed 2: a second restore (after restoring the wrong backup first) overwrote the kept
/// production database. Every restore now keeps what it replaced under a name of its own.
#[test]
fn every_restore_keeps_the_database_it_replaced_and_none_is_overwritten() {
    let k = Install::new();
    let db = k.path("var/klachtd.sqlite");
    let mut backups = Vec::new();
    for n in 1..=3 {
        k.deliver(&format!("{n}.eml"), &complaint(n));
        k.run(&["run", "--once"]);
        let b = k.path(&format!("backup-{n}.sqlite"));
        k.run(&["backup", b.to_str().unwrap()]);
        assert_eq!(mode(&b), 0o600);
        backups.push(b);
    }
    k.deliver("4.eml", &complaint(4));
    k.run(&["run", "--once"]);
    assert_eq!(k.cases(&db), 4, "production");
    // The wrong backup first, then the right one, then another: in the same second, mostly.
    let mut expected = vec![4];
    for (b, cases) in [(&backups[0], 1), (&backups[2], 3), (&backups[1], 2)] {
        let out = k.run(&["restore", b.to_str().unwrap()]);
        assert!(out.contains("the previous database is kept as"), "{out}");
        assert_eq!(k.cases(&db), cases);
        assert_eq!(mode(&db), 0o600);
        expected.push(cases);
    }
    expected.pop();
    let kept = kept_databases(&k);
    assert_eq!(kept.len(), 3, "{kept:?}");
    let mut found: Vec<i64> = kept.iter().map(|p| k.cases(p)).collect();
    found.sort();
    expected.sort();
    assert_eq!(
        found, expected,
        "production (4) and each restored state are all kept"
    );
    for p in &kept {
        assert_eq!(mode(p), 0o600, "{}", p.display());
    }
}

/// `restore` refuses while the daemon runs on the database, which stays as it is.
#[test]
fn restore_refuses_while_the_daemon_runs() {
    let k = Install::new();
    k.deliver("1.eml", &complaint(1));
    k.run(&["run", "--once"]);
    let b = k.path("b.sqlite");
    k.run(&["backup", b.to_str().unwrap()]);
    k.deliver("2.eml", &complaint(2));
    let mut daemon = k
        .command(&["run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The daemon holds the lock once it has taken the mail in.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(k.path("mail/new")).unwrap().count() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon never took the mail in"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = k.output(&["restore", b.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("already running"), "{stderr}");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(daemon.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    daemon.wait().unwrap();
    assert_eq!(k.cases(&k.path("var/klachtd.sqlite")), 2);
    assert!(kept_databases(&k).is_empty());
}

/// `backup` writes only a new file: never over one, never through a symbolic link (dangling
/// or not), never deleting a file beside it; and only its owner can read it.
#[test]
fn backup_never_writes_through_a_link_or_over_a_file() {
    let k = Install::new();
    k.deliver("1.eml", &complaint(1));
    k.run(&["run", "--once"]);
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, b"someone else's file").unwrap();
    std::os::unix::fs::symlink(&victim, k.path("to-victim.sqlite")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("nothing"), k.path("dangling.sqlite")).unwrap();
    std::fs::write(k.path("existing.sqlite"), b"keep me").unwrap();
    // A file the old backup removed as its "partial" copy.
    std::fs::write(k.path("fresh.partial"), b"mine").unwrap();
    for target in ["to-victim.sqlite", "dangling.sqlite", "existing.sqlite"] {
        let out = k.output(&["backup", target]);
        assert!(!out.status.success(), "{target}");
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"someone else's file");
    assert!(!outside.path().join("nothing").exists());
    assert_eq!(
        std::fs::read(k.path("existing.sqlite")).unwrap(),
        b"keep me"
    );
    k.run(&["backup", "fresh.sqlite"]);
    assert_eq!(std::fs::read(k.path("fresh.partial")).unwrap(), b"mine");
    assert_eq!(mode(&k.path("fresh.sqlite")), 0o600);
    // Nothing left behind: no work directory, no journal.
    let left: Vec<String> = std::fs::read_dir(k.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".klachtd") || n.ends_with("-journal"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// `attachment --out` writes a new file only its owner can read, never through a link.
#[test]
fn attachment_never_writes_through_a_link_or_over_a_file() {
    let k = Install::new();
    k.deliver("1.eml", &complaint(1));
    k.run(&["run", "--once"]);
    let reference = "KL-2026-0001";
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, b"someone else's file").unwrap();
    std::os::unix::fs::symlink(&victim, k.path("link.txt")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("nothing"), k.path("dangling.txt")).unwrap();
    for target in ["link.txt", "dangling.txt"] {
        let out = k.output(&["attachment", reference, "1", "--out", target]);
        assert!(!out.status.success(), "{target}");
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"someone else's file");
    assert!(!outside.path().join("nothing").exists());
    k.run(&["attachment", reference, "1", "--out", "bewijs.txt"]);
    assert_eq!(mode(&k.path("bewijs.txt")), 0o600);
    assert!(
        String::from_utf8_lossy(&std::fs::read(k.path("bewijs.txt")).unwrap())
            .contains("factuur 1")
    );
}

/// The purge removes the copies of purged mail by name: a symbolic link placed under such a
/// name (in the Maildir, in the outgoing directory) is removed itself, never what it points at.
#[test]
fn purge_never_follows_a_link_out_of_its_directory() {
    let k = Install::new();
    k.deliver("1.eml", &complaint(1));
    k.run(&["run", "--once", "--now", "2026-12-01T10:00:00+01:00"]);
    let db = rusqlite::Connection::open(k.path("var/klachtd.sqlite")).unwrap();
    db.execute(
        "UPDATE cases SET status = 'closed', reacted_at = received_at, closed_at = received_at",
        [],
    )
    .unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victims: Vec<PathBuf> = (0..2)
        .map(|i| {
            let v = outside.path().join(format!("victim{i}"));
            std::fs::write(&v, b"someone else's file").unwrap();
            v
        })
        .collect();
    // The Maildir copy replaced by a link to a file outside, under the very same name.
    let copy = std::fs::read_dir(k.path("mail/cur"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(&copy).unwrap();
    std::os::unix::fs::symlink(&victims[0], &copy).unwrap();
    // The acknowledgement's .eml likewise.
    let eml = std::fs::read_dir(k.path("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(".ack."))
        .unwrap();
    std::fs::remove_file(&eml).unwrap();
    std::os::unix::fs::symlink(&victims[1], &eml).unwrap();
    let out = k.run(&["purge", "--now", "2029-01-01T10:00:00+01:00"]);
    assert!(out.contains("1 case(s) purged"), "{out}");
    for v in &victims {
        assert_eq!(std::fs::read(v).unwrap(), b"someone else's file");
    }
    assert!(!k.path("mail/cur").join(copy.file_name().unwrap()).exists());
    assert!(
        std::fs::symlink_metadata(&eml).is_err(),
        "the link itself went"
    );
}

/// Observed 4: a directory, symbolic links (one to a real complaint outside the Maildir, one
/// to a system file, one dangling) and a FIFO in `new/`, and odd entries in `cur/`, stayed
/// forever, unlogged and unseen. They are never read or followed, each is logged once (not on
/// every pass), `klachtd status` lists them, and intake goes on around them.
#[test]
fn what_is_not_a_mail_file_is_never_followed_logged_once_and_shown_by_status() {
    let k = Install::new();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("complaint.eml");
    std::fs::write(
        &secret,
        b"From: Geheim <geheim.buiten@example.net>\r\nSubject: buiten de Maildir\r\n\r\nniet lezen\r\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&secret, k.path("mail/new/100.link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", k.path("mail/new/101.passwd")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("nothing"),
        k.path("mail/new/102.dangling"),
    )
    .unwrap();
    std::fs::create_dir(k.path("mail/new/103.dir")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        k.path("mail/new/104.fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    std::fs::create_dir(k.path("mail/cur/105.dir:2,S")).unwrap();
    k.deliver("200.eml", &complaint(1));
    let run = || {
        let out = k.output(&["run", "--once"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let log = run();
    let warnings = |log: &str| {
        log.lines()
            .filter(|l| l.contains("not a mail file"))
            .count()
    };
    assert_eq!(warnings(&log), 6, "each once: {log}");
    assert!(!log.contains("geheim.buiten"), "{log}");
    // The real complaint was taken in; nothing else was read.
    let db = k.path("var/klachtd.sqlite");
    assert_eq!(k.cases(&db), 1);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mails: i64 = conn
        .query_row("SELECT COUNT(*) FROM mails", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mails, 1, "only the mail file was recorded");
    for name in [
        "100.link",
        "101.passwd",
        "102.dangling",
        "103.dir",
        "104.fifo",
    ] {
        assert!(
            std::fs::symlink_metadata(k.path(&format!("mail/new/{name}"))).is_ok(),
            "{name} left alone"
        );
    }
    assert!(secret.exists());
    // Once: the next pass logs nothing about them.
    k.deliver("201.eml", &complaint(2));
    assert_eq!(warnings(&run()), 0);
    let status = k.run(&["status"]);
    assert!(
        status.contains("maildir       6 entries that are not mail files"),
        "{status}"
    );
    assert!(status.contains("new/100.link (symbolic link)"), "{status}");
    assert!(
        status.contains("(FIFO)") || status.contains("and 1 more"),
        "{status}"
    );
}

/// A Maildir whose `new/` is a link to a directory elsewhere is never read through: intake
/// refuses (and says why), the rest of the pass goes on, and the mail out there is untouched.
#[test]
fn a_maildir_folder_that_links_out_of_the_maildir_is_refused() {
    let k = Install::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("1.eml"),
        b"From: Buiten <buiten@example.net>\r\nSubject: x\r\n\r\ny\r\n",
    )
    .unwrap();
    std::fs::remove_dir(k.path("mail/new")).unwrap();
    std::os::unix::fs::symlink(outside.path(), k.path("mail/new")).unwrap();
    let out = k.output(&["run", "--once"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("never follows it out of the Maildir"),
        "{stderr}"
    );
    assert!(outside.path().join("1.eml").exists());
    let conn = rusqlite::Connection::open(k.path("var/klachtd.sqlite")).unwrap();
    let mails: i64 = conn
        .query_row("SELECT COUNT(*) FROM mails", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mails, 0);
}

/// Every file and directory klachtd creates is its owner's only (issue 21): an installation
/// run with umask 000 through every command that writes — intake and sending, the register
/// views, the analysis in each format, the digest, an attachment, a backup, a dossier, an
/// erasure, a purge, a restore and intake again — holds afterwards no path that anyone but its
/// owner could read, list or write. One walk over the whole tree, so a file a future command
/// writes is covered without a test of its own.
#[test]
fn every_file_and_directory_klachtd_creates_is_owner_only() {
    let k = Install::new();
    // What the test itself makes is private too, so any open path in the end is klachtd's.
    for dir in ["", "mail", "mail/new", "mail/cur", "mail/tmp"] {
        std::fs::set_permissions(k.path(dir), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let deliver = |name: &str, bytes: &[u8]| {
        k.deliver(name, bytes);
        let path = k.path(&format!("mail/new/{name}"));
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    for n in 1..=3 {
        deliver(&format!("{n}.eml"), &complaint(n));
    }
    deliver(
        "news.eml",
        b"From: Nieuwsbrief <news@example.com>\r\nTo: info@example.org\r\nSubject: Aanbieding\r\nList-Unsubscribe: <mailto:u@example.com>\r\nPrecedence: bulk\r\nMessage-ID: <n1@example.com>\r\n\r\nKorting!\r\n",
    );
    deliver("junk.eml", b"\x00\x01 not a mail at all\r\n");
    let reference = "KL-2026-0001";
    let steps: &[&[&str]] = &[
        &["run", "--once"],
        &["cases"],
        &["case", reference],
        &["status"],
        &["report", "--year", "2026", "--out", "reports/html"],
        &[
            "report",
            "--year",
            "2026",
            "--format",
            "md",
            "--out",
            "reports/md",
        ],
        &[
            "report",
            "--year",
            "2026",
            "--format",
            "csv",
            "--out",
            "reports/csv",
        ],
        &["report", "--year", "2026", "--send"],
        &["digest", "--send-now"],
        &["attachment", reference, "1", "--out", "bewijs.txt"],
        &["backup", "k-backup.sqlite"],
        &[
            "dossier",
            "klager1@example.net",
            "--out",
            "dossiers/klager1",
        ],
        &["dossier", "klager2@example.net"],
        &[
            "erase",
            "--include-open",
            "--reason",
            "verzoek van de klager",
            "klager3@example.net",
        ],
        &["purge", "--now", "2031-06-01T12:00:00Z"],
        &["restore", "k-backup.sqlite"],
        &["run", "--once"],
    ];
    for args in steps {
        k.run(args);
    }
    deliver("4.eml", &complaint(4));
    k.run(&["run", "--once"]);

    let mut open = Vec::new();
    let mut seen = Vec::new();
    let mut todo = vec![k.path("")];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let shown = path.strip_prefix(k.path("")).unwrap().display().to_string();
            let m = mode(&path);
            if m & 0o077 != 0 {
                open.push(format!("{m:o} {shown}"));
            }
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                todo.push(path);
            }
            seen.push(shown);
        }
    }
    assert!(open.is_empty(), "readable by others:\n{}", open.join("\n"));
    // The walk saw what the commands wrote: the store and its lock, the mail sent, the
    // analysis in three formats with its charts, the dossiers, the export, the backup, the
    // database the restore kept.
    for written in [
        "var/klachtd.sqlite",
        "var/klachtd.sqlite.lock",
        "reports/html",
        "reports/md",
        "reports/csv",
        "dossiers/klager1",
        "bewijs.txt",
        "k-backup.sqlite",
    ] {
        assert!(seen.iter().any(|s| s == written), "{written} not written");
    }
    for prefix in ["dossier-", "outbox/", "reports/html/", "dossiers/klager1/"] {
        assert!(
            seen.iter().any(|s| s.starts_with(prefix)),
            "nothing under {prefix}: {seen:#?}"
        );
    }
    assert_eq!(kept_databases(&k).len(), 1);
}
