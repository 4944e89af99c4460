//! The whole `klachtd` binary on the embedded default: a Maildir in, files out. Scenarios from
//! the procedure, including a crash (SIGKILL) between the commit and the move out of `new/`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

/// A private klachtd installation in a temporary directory.
struct Install {
    dir: tempfile::TempDir,
    /// Settings of this installation beyond the defaults, as environment variables.
    env: Vec<(&'static str, String)>,
}

impl Install {
    fn new() -> Install {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["mail/new", "mail/cur", "mail/tmp"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Install {
            dir,
            env: Vec::new(),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_klachtd"));
        cmd.current_dir(self.dir.path())
            .env_remove("KLACHTD_FAILPOINT")
            .env("KLACHTD__ROLES__STAFF", "staff@example.org")
            .env("KLACHTD__INBOUND__MAILDIR", "mail")
            .env("KLACHTD_LOG", "info");
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "klachtd {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Puts a message into `new/` the way an MTA would.
    fn deliver(&self, name: &str, bytes: &[u8]) {
        let tmp = self.path(&format!("mail/tmp/{name}"));
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, self.path(&format!("mail/new/{name}"))).unwrap();
    }

    /// The mails the file transport delivered (`.eml`); a `.tmp` is a write a kill cut short.
    fn outbox(&self) -> Vec<String> {
        let mut files: Vec<String> = std::fs::read_dir(self.path("var/outbox"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|name| name.ends_with(".eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    fn cases_json(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["cases", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Starts `run --once` with a failpoint and kills it (SIGKILL) once it is reached.
    fn crash_at(&self, failpoint: &str) {
        self.crash_at_with(failpoint, &["run", "--once"]);
    }

    /// Starts klachtd with `args` and a failpoint, and kills it (SIGKILL) once it is reached.
    fn crash_at_with(&self, failpoint: &str, args: &[&str]) {
        let mut child: Child = self
            .command()
            .args(args)
            .env("KLACHTD_FAILPOINT", failpoint)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let reached = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains(&format!("failpoint reached: {failpoint}")));
        assert!(reached, "failpoint {failpoint} was never reached");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
}

#[test]
fn a_complaint_becomes_a_case_and_an_acknowledgement_file() {
    let k = Install::new();
    k.deliver(
        "1.eml",
        &fixture("01_klacht_workshop_geannuleerd_thunderbird_plain_utf8.eml"),
    );
    k.deliver(
        "2.eml",
        &fixture("13_afwezig_outlook_automatisch_antwoord.eml"),
    );
    k.deliver("3.eml", &fixture("15_dsn_bounce_postfix.eml"));
    let out = k.run(&["run", "--once", "--now", "2026-11-24T10:00:00+01:00"]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("KL-2026-0001"),
        "the log names the reference: {log}"
    );
    for secret in [
        "bas.vanleeuwen",
        "Via een collega",
        "Workshop Timemanagement",
        "lotte.dekker",
    ] {
        assert!(
            !log.contains(secret),
            "the info log leaks {secret:?}: {log}"
        );
    }

    let cases = k.cases_json();
    assert_eq!(cases.len(), 1, "only the complaint becomes a case");
    assert_eq!(cases[0]["reference"], "KL-2026-0001");
    assert_eq!(cases[0]["complainant"], "bas.vanleeuwen@ziggo.example");
    assert_eq!(
        cases[0]["reaction_due"], "2026-12-01",
        "Tuesday + 5 working days"
    );

    let files = k.outbox();
    assert_eq!(
        files.len(),
        2,
        "an acknowledgement and a staff notification: {files:?}"
    );
    let ack = files
        .iter()
        .find(|f| f.contains(".ack."))
        .expect("acknowledgement file");
    let text = std::fs::read_to_string(k.path("var/outbox").join(ack)).unwrap();
    assert!(
        text.contains("To: bas.vanleeuwen@ziggo.example")
            || text.contains("<bas.vanleeuwen@ziggo.example>")
    );
    assert!(text.contains("Auto-Submitted: auto-replied"));
    assert!(text.contains("[KL-2026-0001]"));

    // Everything left new/: processed mail is in cur/ with the Seen flag.
    assert_eq!(std::fs::read_dir(k.path("mail/new")).unwrap().count(), 0);
    let cur: Vec<String> = std::fs::read_dir(k.path("mail/cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(cur.len(), 3);
    assert!(cur.iter().all(|n| n.ends_with(":2,S")), "{cur:?}");

    // The register and one case in detail.
    let table = String::from_utf8(k.run(&["cases"]).stdout).unwrap();
    assert!(
        table.contains("KL-2026-0001") && table.contains("2026-12-01"),
        "{table}"
    );
    let detail = String::from_utf8(k.run(&["case", "KL-2026-0001"]).stdout).unwrap();
    assert!(
        detail.contains("registered") && detail.contains("acknowledgement"),
        "{detail}"
    );
}

#[test]
fn files_holding_complaints_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let k = Install::new();
    k.deliver(
        "1.eml",
        &fixture("02_klacht_factuur_gmail_alternative_qp.eml"),
    );
    k.run(&["run", "--once"]);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&k.path("var/klachtd.sqlite")), 0o600);
    assert_eq!(mode(&k.path("var/outbox")), 0o700);
    for f in k.outbox() {
        assert_eq!(mode(&k.path("var/outbox").join(f)), 0o600);
    }
}

#[test]
fn killed_between_commit_and_move_makes_no_duplicate() {
    let k = Install::new();
    k.deliver(
        "1.eml",
        &fixture("01_klacht_workshop_geannuleerd_thunderbird_plain_utf8.eml"),
    );
    k.crash_at("after-commit");
    // The mail is recorded but still in new/.
    assert_eq!(std::fs::read_dir(k.path("mail/new")).unwrap().count(), 1);
    k.run(&["run", "--once"]);
    assert_eq!(k.cases_json().len(), 1, "one case, not two");
    let acks = k.outbox().iter().filter(|f| f.contains(".ack.")).count();
    assert_eq!(acks, 1, "one acknowledgement, not two");
    assert_eq!(
        std::fs::read_dir(k.path("mail/new")).unwrap().count(),
        0,
        "finished after restart"
    );
}

#[test]
fn killed_after_sending_before_recording_resends_the_same_message() {
    let k = Install::new();
    k.deliver(
        "1.eml",
        &fixture("01_klacht_workshop_geannuleerd_thunderbird_plain_utf8.eml"),
    );
    k.crash_at("after-send");
    // The ack and the staff notification are heads of different chains and are written in
    // one batch (outbound::worker::FILE_BATCH): both were when the crash came.
    let before = k.outbox();
    assert!(
        (1..=2).contains(&before.len()),
        "a mail was written when the crash came: {before:?}"
    );
    k.run(&["run", "--once"]);
    let after = k.outbox();
    assert_eq!(
        after.len(),
        2,
        "ack + staff notification, the resent ones under the same Message-ID: {after:?}"
    );
    assert!(before.iter().all(|b| after.contains(b)));
}

#[test]
fn a_redelivered_mail_makes_no_second_case() {
    let k = Install::new();
    k.deliver(
        "a.eml",
        &fixture("02_klacht_factuur_gmail_alternative_qp.eml"),
    );
    k.deliver(
        "b.eml",
        &fixture("34_kapot_dubbele_message_id_herlevering.eml"),
    );
    k.run(&["run", "--once"]);
    assert_eq!(k.cases_json().len(), 1);
    assert_eq!(k.outbox().iter().filter(|f| f.contains(".ack.")).count(), 1);
}

#[test]
fn an_invalid_configuration_names_the_key() {
    let k = Install::new();
    let out = k
        .command()
        .args(["cases"])
        .env("KLACHTD__DEADLINES__REACTION_WORKING_DAYS", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("deadlines.reaction_working_days"), "{err}");
}

#[test]
fn the_demo_shows_the_path_end_to_end() {
    let k = Install::new();
    let out = k.run(&["demo"]);
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "case_created: 2, ignored: 2",
        "automatic: out-of-office or vacation reply (Microsoft Exchange / Outlook",
        "uiterlijk dinsdag 1 december 2026",
        "added_to_case: 1",
        "KL-2026-0002",
    ] {
        assert!(
            text.contains(expected),
            "demo output lacks {expected:?}:\n{text}"
        );
    }
}

/// Outside review: after the retention purge, no copy of a purged mail stays in the mailbox —
/// not when klachtd is killed between the purge's commit and the removal (it is queued and
/// retried), not a duplicate delivery that never became part of the case, not a robot's or a
/// spam mail that belonged to no case; and mail sent to no case (a notice to the director)
/// goes after the same period.
#[test]
fn a_purge_leaves_no_copy_in_the_mailbox_even_after_a_crash() {
    let k = Install::new();
    let complaint = b"From: Jan Geheim <jan.geheim@example.net>\r\nTo: info@example.org\r\n\
        Subject: Klacht over de cursus\r\nMessage-ID: <purge-1@example.net>\r\n\
        Date: Mon, 30 Nov 2026 09:00:00 +0100\r\n\r\nIk ben ontevreden over de cursus.\r\n";
    k.deliver("1.host", complaint);
    k.deliver("2.host", complaint); // the same bytes delivered twice
    k.deliver(
        "3.host",
        b"From: Jan Geheim <jan.geheim@example.net>\r\nTo: info@example.org\r\n\
          Subject: Automatisch antwoord: afwezig\r\nAuto-Submitted: auto-replied\r\n\
          Message-ID: <purge-3@example.net>\r\n\r\nIk ben afwezig.\r\n",
    );
    k.deliver(
        "4.host",
        b"From: Jan Geheim <jan.geheim@example.net>\r\nTo: info@example.org\r\n\
          Subject: Klacht Jan Geheim BSN 123456782\r\nX-Spam-Flag: YES\r\n\
          Message-ID: <purge-4@example.net>\r\n\r\nKoop nu.\r\n",
    );
    k.deliver(
        "5.host",
        b"To: info@example.org\r\nSubject: Klacht zonder afzender, Jan Geheim\r\n\
          Message-ID: <purge-5@example.net>\r\n\r\nWie ben ik?\r\n",
    );
    k.run(&["run", "--once", "--now", "2026-11-30T10:00:00+01:00"]);
    let mailbox = |k: &Install| -> Vec<String> {
        ["mail/cur", "mail/.Quarantaine/cur"]
            .iter()
            .flat_map(|d| std::fs::read_dir(k.path(d)).into_iter().flatten())
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(mailbox(&k).len(), 5, "{:?}", mailbox(&k));
    let db = rusqlite::Connection::open(k.path("var/klachtd.sqlite")).unwrap();
    db.execute(
        "UPDATE cases SET status = 'withdrawn', closed_at = received_at",
        [],
    )
    .unwrap();
    let no_case_mail: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE case_id IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        no_case_mail > 0,
        "the director was told of the mail without a sender"
    );
    // Two years on, the purge commits and klachtd dies before it touches the mailbox.
    let later = "2029-01-01T03:00:00+01:00";
    k.crash_at_with("before_mailbox_removal", &["run", "--once", "--now", later]);
    assert_eq!(mailbox(&k).len(), 5, "killed before the removal");
    let purged: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM cases WHERE purged_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(purged, 1, "the purge itself was committed");
    // The next pass (any pass: the nightly purge is already done) removes what is queued.
    k.run(&["run", "--once", "--now", "2029-01-01T03:05:00+01:00"]);
    assert_eq!(mailbox(&k), Vec::<String>::new());
    let (pending, no_case_mail): (i64, i64) = db
        .query_row(
            "SELECT (SELECT COUNT(*) FROM mailbox_removals),
                    (SELECT COUNT(*) FROM outbox WHERE case_id IS NULL
                         AND created_at < '2027-01-01')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((pending, no_case_mail), (0, 0));
}

/// A backlog over several intake batches (issue 26: the Maildir is taken in as IMAP is, at
/// most `BATCH_MAILS` mails a commit), killed after the first mail of a batch is moved out of
/// `new/` and again right after the next batch's commit: every mail is recorded once, every
/// complaint gets one case and one acknowledgement, and nothing stays in `new/`.
#[test]
fn a_backlog_over_several_batches_survives_kills_between_commit_and_moves() {
    use klachtd::inbound::imap::BATCH_MAILS;
    let mut k = Install::new();
    // Every complaint here is real: no hourly ceiling on their acknowledgements, and a staff
    // notice for each (no budget for unproven senders, issue 22).
    k.env.push((
        "KLACHTD__OUTBOUND__ACKNOWLEDGEMENTS_PER_HOUR",
        "100000".into(),
    ));
    k.env
        .push(("KLACHTD__OUTBOUND__UNPROVEN_PER_DAY", "100000".into()));
    let n = 2 * BATCH_MAILS + 50;
    for i in 0..n {
        let mail = format!(
            "From: Klager {i} <klager{i}@example.net>\r\nTo: info@example.org\r\n\
             Subject: Klacht {i}\r\nMessage-ID: <batch-{i}@example.net>\r\n\
             Date: Tue, 24 Nov 2026 09:00:00 +0100\r\n\r\nDe cursus van les {i} begon te laat.\r\n"
        );
        k.deliver(&format!("{i:05}.host"), mail.as_bytes());
    }
    let count = |sub: &str| std::fs::read_dir(k.path(sub)).unwrap().count();
    let recorded = || -> i64 {
        rusqlite::Connection::open(k.path("var/klachtd.sqlite"))
            .unwrap()
            .query_row("SELECT COUNT(*) FROM mails", [], |r| r.get(0))
            .unwrap()
    };
    let now = "2026-11-24T10:00:00+01:00";
    // The first batch is committed whole before its first mail is moved.
    k.crash_at_with("after-mark", &["run", "--once", "--now", now]);
    assert_eq!(recorded(), BATCH_MAILS as i64, "one commit for the batch");
    assert_eq!(count("mail/new"), n - 1, "only the first mail was moved");
    // The next pass finds the rest of that batch recorded, and commits one new mail with it.
    k.crash_at_with("after-commit", &["run", "--once", "--now", now]);
    assert_eq!(recorded(), BATCH_MAILS as i64 + 1);
    assert_eq!(count("mail/new"), n - 1, "killed before any move");
    k.run(&["run", "--once", "--now", now]);
    assert_eq!(count("mail/new"), 0);
    assert_eq!(count("mail/cur"), n);
    assert_eq!(recorded(), n as i64, "every mail recorded once");
    let cases = k.cases_json();
    assert_eq!(cases.len(), n, "one case per complaint");
    let files = k.outbox();
    for case in &cases {
        let reference = case["reference"].as_str().unwrap().to_lowercase();
        let acks = files
            .iter()
            .filter(|f| f.starts_with(&format!("{reference}.ack.")))
            .count();
        assert_eq!(acks, 1, "{reference}: {acks} acknowledgements");
    }
    assert_eq!(
        files.len(),
        2 * n,
        "an acknowledgement and a staff notice each"
    );
}

/// Two complaints taken in, and the run that sends their four mails killed after the first
/// file of its batch was named (before the directory is synced and anything recorded).
fn killed_inside_a_batch_of_two_complaints() -> Install {
    let k = Install::new();
    for (i, name) in [
        "01_klacht_workshop_geannuleerd_thunderbird_plain_utf8.eml",
        "02_klacht_factuur_gmail_alternative_qp.eml",
    ]
    .iter()
    .enumerate()
    {
        k.deliver(&format!("{i}.eml"), &fixture(name));
    }
    k.crash_at("after-file");
    k
}

/// Attack on "never kept too long" (the review of issue 26's batches): a run killed inside a
/// batch leaves the batch's unfinished files, each holding a letter about a complaint; when
/// those mails then leave the queue another way (given up, erased) nothing writes them again.
/// The next start removes them all: nothing of them stays in the outbox directory.
#[test]
fn a_killed_batchs_unfinished_files_go_at_the_next_start_even_for_mail_no_longer_queued() {
    let k = killed_inside_a_batch_of_two_complaints();
    let names = || -> Vec<String> {
        std::fs::read_dir(k.path("var/outbox"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let unfinished = names().iter().filter(|n| n.ends_with(".tmp")).count();
    assert!(
        unfinished >= 1,
        "the kill left unfinished files: {:?}",
        names()
    );
    // The queued mail leaves the queue without being written again.
    let db = rusqlite::Connection::open(k.path("var/klachtd.sqlite")).unwrap();
    db.execute(
        "UPDATE outbox SET status = 'failed' WHERE status = 'queued'",
        [],
    )
    .unwrap();
    drop(db);
    k.run(&["run", "--once"]);
    let left = names();
    assert!(
        left.iter()
            .all(|n| n.ends_with(".eml") && !n.starts_with('.')),
        "nothing unfinished stays: {left:?}"
    );
}

/// The file transport writes a batch of due mail before it records any of it (issue 26): killed
/// after a file of a batch, before the directory is synced and anything recorded, the
/// next run writes every message of the batch again under its own name: one file per queued
/// message, none twice, no temporary file left.
#[test]
fn killed_inside_a_batch_of_files_rewrites_it_under_the_same_names() {
    let k = killed_inside_a_batch_of_two_complaints();
    // Killed after a file of the batch, before the directory is synced and anything is
    // recorded (the other writers of the batch may have written theirs by then).
    let before = k.outbox();
    assert!((1..=4).contains(&before.len()), "{before:?}");
    k.run(&["run", "--once"]);
    let after = k.outbox();
    let db = rusqlite::Connection::open(k.path("var/klachtd.sqlite")).unwrap();
    let mut queued: Vec<String> = db
        .prepare("SELECT message_id FROM outbox WHERE status = 'sent'")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|id| {
            klachtd::outbound::transport::file_copy(Path::new(""), &id.unwrap())
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    queued.sort();
    assert_eq!(queued.len(), 4, "two acknowledgements, two staff notices");
    assert_eq!(after, queued, "one file per message, none twice");
    assert!(before.iter().all(|b| after.contains(b)));
    let all: Vec<String> = std::fs::read_dir(k.path("var/outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(all.len(), 4, "no temporary file left: {all:?}");
}
