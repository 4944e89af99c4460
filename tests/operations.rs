//! Running klachtd as an administrator would: one instance per database, read-only commands
//! that never create one, `klachtd check`, `klachtd status`, `klachtd backup` and restore.
//! Each test is a private installation in a temporary directory (Maildir in, files out).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A private klachtd installation in a temporary directory.
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

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_klachtd"));
        cmd.current_dir(self.dir.path())
            .env_remove("KLACHTD_FAILPOINT")
            .env_remove("KLACHTD_CONFIG")
            .env("KLACHTD__ROLES__STAFF", "staff@example.org")
            .env("KLACHTD__INBOUND__MAILDIR", "mail")
            .env(
                "KLACHTD__TEMPLATES__DIR",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"),
            )
            .env("KLACHTD_LOG", "info");
        cmd
    }

    fn output(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
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
        let tmp = self.path(&format!("mail/tmp/{name}"));
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, self.path(&format!("mail/new/{name}"))).unwrap();
    }

    /// Starts `klachtd run` and returns once it watches the Maildir.
    fn start_daemon(&self) -> Child {
        let mut child = self
            .command()
            .arg("run")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the daemon starts");
            if line.contains("watching the Maildir") {
                break;
            }
        }
        std::thread::spawn(move || for _ in rx {});
        child
    }
}

/// Stops a daemon (SIGTERM; whether its handler was installed yet does not matter here).
fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
}

fn complaint(n: usize) -> Vec<u8> {
    format!(
        "From: Klager {n} <klager{n}@example.net>\r\nTo: info@example.org\r\n\
         Subject: Klacht nummer {n}\r\nMessage-ID: <ops-{n}@example.net>\r\n\
         Date: Mon, 30 Nov 2026 10:00:00 +0100\r\n\r\nIk ben ontevreden over cursus {n}.\r\n"
    )
    .into_bytes()
}

#[test]
fn a_second_daemon_on_the_same_database_exits_at_once_naming_the_first() {
    let k = Install::new();
    let first = k.start_daemon();
    let out = k.output(&["run", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "another klachtd (pid {}) is already running",
            first.id()
        )) && err.contains("klachtd.sqlite.lock"),
        "{err}"
    );
    stop(first);
    k.run(&["run", "--once"]);
}

#[test]
fn daemons_started_together_on_a_new_database_leave_exactly_one_running() {
    let k = Install::new();
    let children: Vec<Child> = (0..4)
        .map(|_| {
            k.command()
                .arg("run")
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // The losers exit by themselves; the winner keeps running until told.
    let mut running = Vec::new();
    let mut refused = 0;
    for mut child in children {
        let mut stderr = String::new();
        let reader = BufReader::new(child.stderr.take().unwrap());
        let mut lines = reader.lines().map_while(Result::ok);
        let verdict =
            lines.find(|l| l.contains("watching the Maildir") || l.contains("already running"));
        match verdict {
            Some(l) if l.contains("already running") => {
                assert!(!child.wait().unwrap().success());
                refused += 1;
            }
            Some(_) => {
                std::thread::spawn(move || for _ in lines {});
                running.push(child);
            }
            None => {
                stderr.push_str("no verdict");
                panic!("{stderr}");
            }
        }
    }
    assert_eq!((running.len(), refused), (1, 3));
    stop(running.pop().unwrap());
}

#[test]
fn read_only_commands_never_create_a_database_and_say_where_they_looked() {
    let k = Install::new();
    for args in [
        &["cases"][..],
        &["case", "KL-2026-0001"],
        &["status"],
        &["digest", "--print"],
        &["report", "--year", "2026"],
        &["purge", "--dry-run"],
        &["backup", "copy.sqlite"],
    ] {
        let out = k.output(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            err.contains(&format!(
                "no database at {}",
                k.path("var/klachtd.sqlite").display()
            )),
            "{args:?}: {err}"
        );
    }
    assert!(!k.path("var").exists(), "nothing was created");
    k.deliver("1.eml", &complaint(1));
    k.run(&["run", "--once"]);
    assert!(k.run(&["cases"]).contains("KL-2026-0001"));
}

#[test]
fn check_passes_on_a_fresh_installation_and_names_each_part() {
    let k = Install::new();
    let out = k.output(&["check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for part in [
        "configuration",
        "store",
        "templates",
        "roles",
        "inbound Maildir",
        "outbound directory",
    ] {
        assert!(text.contains(&format!("✔ {part}: ")), "{part}: {text}");
    }
    assert!(!text.contains('✘'));
    assert!(!k.path("var").exists(), "check created nothing");
}

#[test]
fn check_fails_with_one_line_and_a_fix_for_each_broken_part() {
    let k = Install::new();
    // A configuration error: the key and where it came from, and nothing else checked.
    let out = k
        .command()
        .args(["check"])
        .env("KLACHTD__INBOUND__KIND", "imapp")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with("✘ configuration:") && text.contains("KLACHTD__INBOUND__KIND"),
        "{text}"
    );

    // A mailbox nobody listens on: DNS passes, TCP fails with its fix, and the exit status says so.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = k
        .command()
        .args(["check"])
        .env("KLACHTD__INBOUND__KIND", "imap")
        .env("KLACHTD__INBOUND__IMAP__HOST", "127.0.0.1")
        .env("KLACHTD__INBOUND__IMAP__PORT", port.to_string())
        .env("KLACHTD__INBOUND__IMAP__PASSWORD", "x")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        text.contains("✔ IMAP DNS: 127.0.0.1 is 127.0.0.1"),
        "{text}"
    );
    assert!(
        text.contains(&format!("✘ IMAP TCP: cannot reach 127.0.0.1:{port}"))
            && text.contains("— fix: check inbound.imap.port"),
        "{text}"
    );

    // A store others can read.
    k.deliver("1.eml", &complaint(1));
    k.run(&["run", "--once"]);
    let db = k.path("var/klachtd.sqlite");
    std::fs::set_permissions(&db, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = k.output(&["check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        text.contains(&format!("chmod 600 {}", db.display())),
        "{text}"
    );
    // The daemon refuses to start on it, with that line.
    let out = k.output(&["run", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("✘ store:") && err.contains("chmod 600"),
        "{err}"
    );
}

#[test]
fn send_test_writes_one_test_mail() {
    let k = Install::new();
    let out = k.output(&["check", "--send-test", "beheer@example.org"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("✔ test mail: sent to beheer@example.org"),
        "{text}"
    );
    let files: Vec<_> = std::fs::read_dir(k.path("var/outbox"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(files.len(), 1);
    let raw = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(raw.contains("To: beheer@example.org"), "{raw}");
    assert!(
        raw.contains("Testbericht van de klachtenregistratie"),
        "{raw}"
    );
    let out = k.output(&["check", "--send-test", "not an address"]);
    assert!(!out.status.success());
}

/// SMTP points at a port nobody listens on; time passes by `run --once --now`. The director's
/// alert is queued once the failure has lasted `alerts.after_minutes`, never twice, `status`
/// shows it, and when mail flows again exactly one all-clear follows.
#[test]
fn the_director_is_alerted_once_and_told_once_when_it_works_again() {
    let k = Install::new();
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let smtp = |cmd: &mut Command| {
        cmd.env("KLACHTD__OUTBOUND__KIND", "smtp")
            .env("KLACHTD__OUTBOUND__SMTP__HOST", "127.0.0.1")
            .env("KLACHTD__OUTBOUND__SMTP__PORT", dead.to_string())
            .env("KLACHTD__OUTBOUND__SMTP__TLS", "none")
            .env("KLACHTD__OUTBOUND__RETRY_MIN_SECONDS", "60")
            .env("KLACHTD__OUTBOUND__RETRY_MAX_SECONDS", "600");
    };
    let run_at = |minutes: i64, broken: bool| {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00+01:00").unwrap()
            + chrono::Duration::minutes(minutes);
        let mut cmd = k.command();
        if broken {
            smtp(&mut cmd);
        }
        let out = cmd
            .args(["run", "--once", "--now", &at.to_rfc3339()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let status = |minutes: i64| {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00+01:00").unwrap()
            + chrono::Duration::minutes(minutes);
        k.run(&["status", "--now", &at.to_rfc3339()])
    };
    k.deliver("1.eml", &complaint(1));
    run_at(0, true);
    run_at(30, true);
    assert!(!status(30).contains("alert "), "not yet: {}", status(30));
    assert!(
        status(30).contains("sending       PAUSED since 2026-12-01 10:00"),
        "{}",
        status(30)
    );
    run_at(61, true);
    let s = status(61);
    assert!(
        s.contains("alert         outbound failing since 2026-12-01 10:00"),
        "{s}"
    );
    run_at(90, true);
    run_at(200, true);
    // The server is back (here: the file transport); the queue drains, then the all-clear.
    run_at(300, false);
    run_at(301, false);
    run_at(400, false);
    let subjects: Vec<String> = std::fs::read_dir(k.path("var/outbox"))
        .unwrap()
        .flatten()
        .map(|f| std::fs::read_to_string(f.path()).unwrap())
        .filter_map(|raw| {
            raw.lines()
                .find(|l| l.starts_with("Subject: "))
                .map(str::to_string)
        })
        .collect();
    let alerts = subjects
        .iter()
        .filter(|s| s.contains("Storing klachtenregistratie: er kan geen mail worden verstuurd"))
        .count();
    let clears = subjects
        .iter()
        .filter(|s| s.contains("Opgelost: er kan geen mail worden verstuurd"))
        .count();
    assert_eq!((alerts, clears), (1, 1), "{subjects:#?}");
    let s = status(400);
    assert!(!s.contains("FAILING") && !s.contains("alert "), "{s}");
    assert!(s.contains("queue         empty"), "{s}");
}

#[test]
fn status_tells_the_state_of_things() {
    let k = Install::new();
    k.deliver("1.eml", &complaint(1));
    k.run(&["run", "--once", "--now", "2026-12-01T10:00:00+01:00"]);
    let s = k.run(&["status", "--now", "2026-12-20T10:00:00+01:00"]);
    for expected in [
        "daemon        NOT running",
        "last fetch    2026-12-01 10:00 CET",
        "last send     2026-12-01 10:00 CET",
        "queue         empty",
        "failed mail   0",
        "quarantined   0",
        "cases         1 open, 1 overdue",
    ] {
        assert!(s.contains(expected), "{expected}: {s}");
    }
    let daemon = k.start_daemon();
    let s = k.run(&["status"]);
    assert!(
        s.contains(&format!("daemon        running (pid {})", daemon.id())),
        "{s}"
    );
    // The daemon's first look at the Maildir (by the real clock) replaces the simulated time
    // of the last `run --once`; it is recorded just after the daemon says it watches.
    let before = "last fetch    2026-12-01 10:00 CET";
    let start = std::time::Instant::now();
    let mut s = s;
    while s.contains(before) && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
        s = k.run(&["status"]);
    }
    assert!(
        !s.contains(before) && s.contains("last fetch    20"),
        "the daemon read the Maildir: {s}"
    );
    stop(daemon);
}

fn case_count(k: &Install, db: &Path) -> usize {
    let out = k
        .command()
        .env("KLACHTD__STORE__PATH", db)
        .args(["cases", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
        .unwrap()
        .len()
}

/// Backups taken while the daemon takes in a stream of complaints: each is intact and
/// consistent (every case with its ledger entry and its one acknowledgement, as committed
/// together), and later ones hold at least as much as earlier ones.
#[test]
fn backups_taken_during_intake_are_consistent_snapshots() {
    let k = Install::new();
    let daemon = {
        let mut cmd = k.command();
        cmd.env("KLACHTD__INBOUND__MAILDIR_POLL_SECONDS", "1");
        let mut child = cmd.arg("run").stderr(Stdio::null()).spawn().unwrap();
        // Wait for the database to exist.
        while !k.path("var/klachtd.sqlite").exists() {
            assert!(child.try_wait().unwrap().is_none(), "the daemon died");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    };
    const N: usize = 40;
    let mut previous = 0;
    std::thread::scope(|s| {
        s.spawn(|| {
            for n in 1..=N {
                k.deliver(&format!("{n}.eml"), &complaint(n));
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        for i in 0..8 {
            let file = k.path(&format!("backup-{i}.sqlite"));
            let out = k.run(&["backup", file.to_str().unwrap()]);
            assert!(out.contains("intact"), "{out}");
            let mode = std::fs::metadata(&file).unwrap().permissions();
            assert_eq!(
                std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
                0o600
            );
            let store = klachtd::store::Store::open(&file).unwrap();
            let summary = common::invariants::check(&store);
            assert_eq!(summary.acknowledged, summary.cases, "backup {i}");
            assert!(summary.mails >= summary.cases);
            assert!(summary.cases >= previous, "backup {i} went back in time");
            previous = summary.cases;
        }
    });
    while case_count(&k, &k.path("var/klachtd.sqlite")) < N {
        std::thread::sleep(Duration::from_millis(100));
    }
    let last = k.path("backup-final.sqlite");
    k.run(&["backup", last.to_str().unwrap()]);
    assert_eq!(case_count(&k, &last), N);
    // An existing file is never overwritten.
    let out = k.output(&["backup", last.to_str().unwrap()]);
    assert!(!out.status.success());
    // Restoring under a running daemon is refused.
    let out = k.output(&["restore", last.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already running"));
    stop(daemon);
}

#[test]
fn a_restore_puts_the_backup_back_and_keeps_what_it_replaced() {
    let k = Install::new();
    k.deliver("1.eml", &complaint(1));
    k.run(&["run", "--once"]);
    let backup = k.path("b.sqlite");
    k.run(&["backup", backup.to_str().unwrap()]);
    k.deliver("2.eml", &complaint(2));
    k.run(&["run", "--once"]);
    let db = k.path("var/klachtd.sqlite");
    assert_eq!(case_count(&k, &db), 2);
    let out = k.run(&["restore", backup.to_str().unwrap()]);
    assert!(out.contains("restored"), "{out}");
    assert_eq!(case_count(&k, &db), 1);
    let kept: Vec<_> = std::fs::read_dir(k.path("var"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("klachtd.sqlite.before-restore-")
                && !name.contains("-wal")
                && !name.contains("-shm")
        })
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(case_count(&k, &kept[0]), 2);
    // The daemon goes on from the restored state: the next complaint gets the next number.
    k.deliver("3.eml", &complaint(3));
    k.run(&["run", "--once"]);
    assert!(k.run(&["cases"]).contains("KL-2026-0002"));
    // Garbage is not restored.
    std::fs::write(k.path("junk.sqlite"), b"not a database, not at all, really").unwrap();
    let out = k.output(&["restore", k.path("junk.sqlite").to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(case_count(&k, &db), 2);
}

#[test]
fn logs_name_where_klachtd_looks_carry_references_plainly_and_have_no_colour_in_a_pipe() {
    let k = Install::new();
    k.deliver("1.eml", &complaint(1));
    let out = k.output(&["run", "--once"]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        !log.contains('\x1b'),
        "no ANSI escapes when stderr is not a terminal"
    );
    let first: Vec<&str> = log.lines().take(4).collect();
    assert!(
        first[0].contains("configuration: built-in defaults + environment KLACHTD__"),
        "{log}"
    );
    assert!(
        first[1].contains(&format!(
            "store: {}",
            k.path("var/klachtd.sqlite").display()
        )),
        "{log}"
    );
    assert!(
        first[2].contains(&format!("mailbox: Maildir {}", k.path("mail").display())),
        "{log}"
    );
    assert!(first[3].contains("transport: .eml files in"), "{log}");
    assert!(log.contains("case=KL-2026-0001"), "{log}");
    assert!(!log.contains("Some(") && !log.contains("case=\""), "{log}");

    k.deliver("2.eml", &complaint(2));
    let out = k
        .command()
        .env("KLACHTD_LOG_FORMAT", "json")
        .args(["run", "--once"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        events.iter().any(|e| e["fields"]["case"] == "KL-2026-0002"),
        "{log}"
    );
}

#[test]
fn a_config_file_error_names_the_file_the_key_and_the_allowed_values() {
    let k = Install::new();
    let file = k.path("klachtd.toml");
    std::fs::write(&file, "[inbound]\nkind = \"imapp\"\n").unwrap();
    let out = k.output(&["--config", file.to_str().unwrap(), "cases"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        format!(
            "klachtd: invalid configuration: inbound.kind must be \"maildir\" or \"imap\", not \"imapp\" (in {})",
            file.display()
        )
    );
}

/// A database made by an earlier klachtd (tests/fixtures/db/README.md) is taken over by this one:
/// checked, migrated at start, and worked on — its cases and deadlines intact, the numbering
/// going on where it stopped.
#[test]
fn a_database_from_the_previous_release_is_migrated_and_worked_on() {
    let k = Install::new();
    let db = k.path("var/klachtd.sqlite");
    std::fs::create_dir_all(k.path("var")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/db/main-83095bd.sqlite"),
        &db,
    )
    .unwrap();
    std::fs::set_permissions(&db, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let check = k.run(&["check"]);
    assert!(
        check.contains("✔ store:") && check.contains("intact"),
        "{check}"
    );
    // (1.eml to 3.eml are recorded in the fixture's ledger already.)
    k.deliver("4.eml", &complaint(3));
    let out = k.run(&["run", "--once", "--now", "2026-12-02T09:00:00+01:00"]);
    assert!(out.contains("case_created: 1"), "{out}");
    assert!(
        out.contains("overdue alerts: 2"),
        "the old cases' deadlines still run: {out}"
    );
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&k.run(&["cases", "--json", "--now", "2026-12-02T09:00:00+01:00"]))
            .unwrap();
    let refs: Vec<&str> = cases
        .iter()
        .map(|c| c["reference"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["KL-2026-0001", "KL-2026-0002", "KL-2026-0003"]);
    assert_eq!(cases[0]["complainant"], "bas@example.net");
    assert_eq!(cases[0]["reaction_due"], "2026-12-01");
    assert_eq!(cases[0]["overdue"], true);
    let store = klachtd::store::Store::open(&db).unwrap();
    let summary = common::invariants::check(&store);
    assert_eq!((summary.cases, summary.acknowledged), (3, 3));
    assert_eq!(summary.mails, 4, "three complaints and the newsletter");
    // Bodies written before schema 7 (in the row) and after (packed apart) both read back.
    let conn = store.conn();
    for seq in 1..=3 {
        let reference = format!("KL-2026-{seq:04}").parse().unwrap();
        let case = klachtd::store::cases::get(conn, reference)
            .unwrap()
            .unwrap();
        assert!(!case.body.trim().is_empty(), "{reference} lost its text");
    }
    let new_case = klachtd::store::cases::get(conn, "KL-2026-0003".parse().unwrap());
    assert!(
        new_case
            .unwrap()
            .unwrap()
            .body
            .contains("ontevreden over cursus 3")
    );
    for id in 1..=4 {
        let raw = klachtd::store::mails::raw_of(conn, id).unwrap().unwrap();
        assert!(raw.starts_with(b"From:") || raw.windows(5).any(|w| w == b"From:"));
    }
    let outbox = klachtd::store::outbox::all(conn).unwrap();
    assert!(outbox.iter().any(|m| m.case.map(|c| c.seq()) == Some(1)));
    assert!(outbox.iter().any(|m| m.case.map(|c| c.seq()) == Some(3)));
    for mail in &outbox {
        let text = String::from_utf8_lossy(&mail.raw);
        assert!(
            text.contains(&mail.message_id),
            "{} lost its body",
            mail.message_id
        );
    }
    assert!(
        k.run(&["status", "--now", "2026-12-02T09:00:00+01:00"])
            .contains("cases         3 open, 2 overdue")
    );
}

/// Under systemd (`Type=notify`, `WatchdogSec`), the daemon says READY=1 once it is set up,
/// WATCHDOG=1 while it lives, and STOPPING=1 on SIGTERM — here to an abstract socket, as
/// systemd uses, and to one in the file system.
#[test]
fn the_daemon_notifies_systemd_ready_watchdog_and_stopping() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let k = Install::new();
    let abstract_name = format!("klachtd-test-{}", std::process::id());
    let path_socket = k.path("notify.sock");
    for (socket, env_value) in [
        (
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&abstract_name).unwrap())
                .unwrap(),
            format!("@{abstract_name}"),
        ),
        (
            UnixDatagram::bind(&path_socket).unwrap(),
            path_socket.display().to_string(),
        ),
    ] {
        socket
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let child = k
            .command()
            .env("NOTIFY_SOCKET", &env_value)
            .env("WATCHDOG_USEC", "100000")
            .arg("run")
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut buf = [0u8; 256];
        let mut next = || {
            let n = socket.recv(&mut buf).expect("a notification");
            String::from_utf8_lossy(&buf[..n]).into_owned()
        };
        assert_eq!(next(), "READY=1", "{env_value}");
        assert_eq!(next(), "WATCHDOG=1");
        assert_eq!(next(), "WATCHDOG=1");
        stop(child);
        let mut rest = Vec::new();
        while let Ok(n) = socket.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = m == "STOPPING=1";
            rest.push(m);
            if done {
                break;
            }
        }
        assert_eq!(
            rest.last().map(String::as_str),
            Some("STOPPING=1"),
            "{rest:?}"
        );
    }
}
