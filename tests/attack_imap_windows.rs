//! Attack on the windowed IMAP intake of issue 12 (batches committed one by one, one move per
//! window of 5,000 UIDs, a second connection moving window k while window k+1 is taken in,
//! leftovers finished after a restart), against real Dovecot: klachtd SIGKILLed at random
//! moments (and at the mover's `after-mark`) over a backlog spanning two windows, and a mail the
//! server cannot hand over in the middle of a backlog. The promises checked at the end: every
//! mail recorded exactly once, every mail in exactly one place (Verwerkt or Quarantaine, never
//! left in INBOX, never copied twice), one case and one acknowledgement per distinct complaint,
//! and one failing mail never blocks the others.

mod common;

use common::klachtd::Klachtd;
use common::mailserver::MailServer;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Mail `n`: a complaint from its own sender, or (every ninth) spam for Quarantaine.
fn mail(n: usize) -> Vec<u8> {
    let spam = if n % 9 == 4 {
        "X-Spam-Flag: YES\r\n"
    } else {
        ""
    };
    format!(
        "From: Klager {n} <c{n}@example.org>\r\nTo: info@example.org\r\n\
         Subject: Klacht over cursus {n}\r\nMessage-ID: <attack-{n}@example.org>\r\n{spam}\
         Date: Mon, 30 Nov 2026 08:00:00 +0100\r\n\r\n\
         Geachte heer, mevrouw,\r\n\r\nIk ben niet tevreden over cursus {n}: de docent kwam niet.\r\n"
    )
    .into_bytes()
}

fn is_spam(n: usize) -> bool {
    n % 9 == 4
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid, gid);
        }
    }
}

/// Writes mails `range` straight into info@'s INBOX (Maildir `new/`), owned like Dovecot's
/// mail; Dovecot gives them UIDs in file-name order on the next SELECT.
fn fill_inbox(server: &MailServer, range: std::ops::Range<usize>) -> Vec<std::path::PathBuf> {
    // Make sure the Maildir exists (a login creates it).
    server.count("info@example.org");
    let root = server.maildir("info@example.org");
    let owner = std::fs::metadata(server.state_dir.join("dovecot")).unwrap();
    let mut paths = Vec::new();
    for n in range {
        let raw = mail(n);
        let path = root
            .join("new")
            .join(format!("1800000000.M{n:06}P1.attack,S={}", raw.len()));
        std::fs::write(&path, &raw).unwrap();
        paths.push(path);
    }
    chown_tree(&root, owner.uid(), owner.gid());
    paths
}

/// klachtd writing its outgoing mail to files ([`Klachtd::with_file_outbox`]).
fn command(k: &Klachtd<'_>, outbox: &Path) -> Command {
    k.with_file_outbox(outbox)
}

/// Runs `run --once` and SIGKILLs it after `delay`, or at `failpoint` when given. Returns
/// whether it was killed (rather than having finished by itself).
fn run_and_kill(k: &Klachtd<'_>, outbox: &Path, delay: Duration, failpoint: Option<&str>) -> bool {
    let mut cmd = command(k, outbox);
    cmd.args(["run", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(point) = failpoint {
        cmd.env("KLACHTD_FAILPOINT", point);
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let last = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let kept = last.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("failpoint reached") {
                let _ = tx.send(());
            }
            *kept.lock().unwrap() = line;
        }
    });
    let deadline = std::time::Instant::now() + delay;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            // Ended by itself before its moment: said, so a run that keeps failing shows why.
            eprintln!("run ended by itself ({status}): {}", last.lock().unwrap());
            return false;
        }
        let reached = rx.try_recv().is_ok();
        if reached || (failpoint.is_none() && std::time::Instant::now() >= deadline) {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The Message-ID of a raw mail.
fn message_id(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .unwrap_or("(none)")
        .trim()
        .to_string()
}

/// Every promise of the intake over mails `0..n`, checked on the mailbox and the register.
fn check_end_state(server: &MailServer, k: &Klachtd<'_>, n: usize) {
    assert_eq!(server.count("info@example.org"), 0, "mail left in INBOX");
    let mut places: HashMap<String, Vec<&str>> = HashMap::new();
    for folder in ["Verwerkt", "Quarantaine"] {
        for raw in server.fetch_folder("info@example.org", folder) {
            places.entry(message_id(&raw)).or_default().push(folder);
        }
    }
    let mut wrong = Vec::new();
    for i in 0..n {
        let id = format!("<attack-{i}@example.org>");
        let want = if is_spam(i) {
            "Quarantaine"
        } else {
            "Verwerkt"
        };
        let got = places.get(&id).cloned().unwrap_or_default();
        if got != [want] {
            wrong.push(format!("{id}: {got:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mails not exactly once where their disposition says (first: {:?})",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
    let store = klachtd::store::Store::open(&k.db()).unwrap();
    let summary = common::invariants::check(&store);
    assert_eq!(summary.mails, n, "every mail recorded exactly once");
    let complaints = (0..n).filter(|i| !is_spam(*i)).count();
    assert_eq!(summary.cases, complaints, "one case per distinct complaint");
    assert_eq!(
        summary.acknowledged, complaints,
        "one acknowledgement per distinct complaint"
    );
}

/// Finishes the backlog without kills: `run --once` until it succeeds (a run that fails, e.g.
/// because a connection was cut, is simply followed by the next).
fn finish(k: &Klachtd<'_>, outbox: &Path) {
    for _ in 0..5 {
        let out = command(k, outbox).args(["run", "--once"]).output().unwrap();
        if out.status.success() {
            return;
        }
        eprintln!(
            "run --once failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    panic!("run --once never succeeded");
}

/// A backlog of 6,300 mails (two windows, so the second connection moves window 1 while window
/// 2 is taken in), klachtd SIGKILLed at the mover's `after-mark`; then, with 200 new mails
/// arriving before each restart (so every run has work, however fast the machine took in the
/// rest), SIGKILLed at crash points reached part-way through a run (after a commit, before a
/// move, after a letter's file) and at pseudo-random moments; after the last restart every
/// promise holds over every mail.
#[test]
fn sigkilled_at_random_over_a_two_window_backlog() {
    let n: usize = std::env::var("ATTACK_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6_300);
    const ARRIVING: usize = 200;
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let outbox = tempfile::tempdir().unwrap();
    fill_inbox(&server, 0..n);
    // First: stop dead where the second connection has moved window 1 (window 2 half in).
    assert!(
        run_and_kill(&k, outbox.path(), Duration::ZERO, Some("after-mark")),
        "the first run reached the mover's after-mark"
    );
    let mut total = n;
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let points = [
        "after-commit",
        "before-move",
        "after-file",
        "after-commit@2",
    ];
    let mut at_points = 0;
    let mut at_moments = 0;
    for round in 0..8 {
        fill_inbox(&server, total..total + ARRIVING);
        total += ARRIVING;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if round % 2 == 0 {
            // A crash point every run with new mail reaches: it must be reached.
            let point = points[(seed % points.len() as u64) as usize];
            assert!(
                run_and_kill(&k, outbox.path(), Duration::ZERO, Some(point)),
                "round {round}: the run reached {point}"
            );
            at_points += 1;
        } else {
            // A moment early in the run; a run that finished before it is simply counted out.
            let delay = Duration::from_millis(20 + seed % 300);
            at_moments += usize::from(run_and_kill(&k, outbox.path(), delay, None));
        }
    }
    fill_inbox(&server, total..total + ARRIVING);
    total += ARRIVING;
    assert!(
        run_and_kill(&k, outbox.path(), Duration::ZERO, Some("after-commit")),
        "the last run reached after-commit"
    );
    finish(&k, outbox.path());
    eprintln!(
        "{total} mails, SIGKILLed {} times: after-mark, {at_points} crash points part-way, \
         {at_moments} moments, after-commit",
        2 + at_points + at_moments
    );
    check_end_state(&server, &k, total);
}

/// One mail in the middle of a backlog that Dovecot cannot hand over (its file unreadable to
/// the server: `UID FETCH` answers NO for the batch it is in) must not keep every other mail
/// from being taken in: "a failing mail never blocks the others".
#[test]
fn one_mail_the_server_cannot_hand_over_does_not_block_the_backlog() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let outbox = tempfile::tempdir().unwrap();
    let paths = fill_inbox(&server, 0..600);
    make_unreadable(&server, &paths, 250);
    for _ in 0..3 {
        let out = command(&k, outbox.path())
            .args(["run", "--once"])
            .output()
            .unwrap();
        eprintln!(
            "run --once: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = klachtd::store::Store::open(&k.db()).unwrap();
    let recorded = klachtd::store::mails::all(store.conn()).unwrap().len();
    let left = server.count("info@example.org");
    assert!(
        recorded >= 599 && left <= 1,
        "one unreadable mail blocked the others: {recorded} of 600 recorded, {left} left in INBOX"
    );
}

/// Makes mail `n` of the INBOX unreadable to Dovecot after it has indexed the folder (the file
/// is known to it), wherever Maildir has put it by now.
fn make_unreadable(server: &MailServer, paths: &[std::path::PathBuf], n: usize) {
    assert_eq!(server.count("info@example.org"), paths.len());
    let mode = || <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o000);
    std::fs::set_permissions(&paths[n], mode()).unwrap();
    let root = server.maildir("info@example.org");
    let marker = format!("M{n:06}P1");
    for sub in ["new", "cur"] {
        for entry in std::fs::read_dir(root.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .contains(&marker)
            {
                std::fs::set_permissions(&path, mode()).unwrap();
            }
        }
    }
}

/// With no processed folder (mail stays in the INBOX, flagged \Seen), a mail the server cannot
/// read holds the cursor back, so every later pass fetches the mail after it again: each must
/// be recognised as already recorded — never a second entry, case or acknowledgement.
#[test]
fn mail_fetched_again_behind_a_held_back_mail_is_recorded_once() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let outbox = tempfile::tempdir().unwrap();
    let n = 600;
    let paths = fill_inbox(&server, 0..n);
    make_unreadable(&server, &paths, 250);
    for _ in 0..3 {
        let out = command(&k, outbox.path())
            .env("KLACHTD__INBOUND__IMAP__PROCESSED_FOLDER", "")
            .args(["run", "--once"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "run --once: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = klachtd::store::Store::open(&k.db()).unwrap();
    let summary = common::invariants::check(&store);
    assert_eq!(
        summary.mails,
        n - 1,
        "every readable mail recorded exactly once"
    );
    let complaints = (0..n).filter(|i| *i != 250 && !is_spam(*i)).count();
    assert_eq!(summary.cases, complaints, "one case per complaint");
    assert_eq!(
        summary.acknowledged, complaints,
        "one acknowledgement per complaint"
    );
    // Nothing moved: the readable complaints stay in the INBOX, and so does the unreadable one.
    let spam = (0..n).filter(|i| *i != 250 && is_spam(*i)).count();
    assert_eq!(server.count("info@example.org"), n - spam);
}

/// Adds settings to the test Dovecot's configuration and restarts it (same ports, same mail).
fn reconfigure_dovecot(server: &MailServer, extra: &str) {
    let conf = server.state_dir.join("dovecot/dovecot.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str(extra);
    std::fs::write(&conf, text).unwrap();
    server.stop_dovecot();
    server.start_dovecot();
}

/// The process-title prefix of this test server's imap processes: `dovecot-<instance_name>/imap [`
/// (only this instance's, never another test's servers).
fn imap_title(server: &MailServer) -> String {
    let conf = std::fs::read_to_string(server.state_dir.join("dovecot/dovecot.conf")).unwrap();
    let name = conf
        .lines()
        .find_map(|l| l.trim().strip_prefix("instance_name = "))
        .expect("instance_name in dovecot.conf")
        .trim();
    format!("dovecot-{name}/imap [")
}

/// The daemon (`klachtd run`) SIGKILLed at pseudo-random moments over a backlog of 12,000
/// mails (three windows: the second connection moves windows 1 and 2 while 2 and 3 are taken
/// in), restarted each time; then left to finish and stopped with SIGTERM.
#[test]
fn the_daemon_sigkilled_at_random_over_a_three_window_backlog() {
    let n: usize = std::env::var("ATTACK_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12_000);
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let outbox = tempfile::tempdir().unwrap();
    fill_inbox(&server, 0..n);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut kills = 0;
    for _ in 0..8 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = command(&k, outbox.path())
            .arg("run")
            .env("KLACHTD__INBOUND__IMAP__POLL_SECONDS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(400 + seed % 3_000));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    // Left to finish: the daemon runs until every mail is recorded and INBOX is empty.
    let mut child = command(&k, outbox.path())
        .arg("run")
        .env("KLACHTD__INBOUND__IMAP__POLL_SECONDS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        let recorded = klachtd::store::Store::open(&k.db())
            .ok()
            .and_then(|s| klachtd::store::mails::all(s.conn()).ok())
            .map_or(0, |m| m.len());
        if recorded >= n && server.count("info@example.org") == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "the daemon did not finish: {recorded} of {n} recorded"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    child.wait().unwrap();
    eprintln!("{n} mails, {kills} SIGKILLs of the daemon");
    assert!(kills >= 2, "the daemon was really killed ({kills})");
    check_end_state(&server, &k, n);
}

/// The second connection's Dovecot process is SIGKILLed while it runs the window's UID MOVE
/// (the connection dies mid-MOVE); klachtd is then run until it succeeds. Every mail must end
/// in exactly one place: none left in INBOX, none copied twice.
#[test]
fn the_second_connection_dying_mid_move_leaves_every_mail_in_exactly_one_place() {
    let n = 6_300;
    let server = MailServer::start();
    reconfigure_dovecot(&server, "\nverbose_proctitle = yes\n");
    let k = Klachtd::new(&server);
    let outbox = tempfile::tempdir().unwrap();
    fill_inbox(&server, 0..n);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let watcher = {
        let (stop, killed) = (stop.clone(), killed.clone());
        let prefix = imap_title(&server);
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed)
                && killed.load(std::sync::atomic::Ordering::Relaxed) == 0
            {
                for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                    let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                        continue;
                    };
                    let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                        continue;
                    };
                    let title = String::from_utf8_lossy(&cmdline);
                    if title.starts_with(&prefix) && title.contains("MOVE") {
                        let _ = Command::new("kill")
                            .args(["-KILL", &pid.to_string()])
                            .status();
                        killed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let first = command(&k, outbox.path())
        .args(["run", "--once"])
        .output()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    watcher.join().unwrap();
    eprintln!(
        "first run: {} ({} MOVE processes killed): {}",
        first.status,
        killed.load(std::sync::atomic::Ordering::Relaxed),
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        killed.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "a MOVE was caught and killed"
    );
    finish(&k, outbox.path());
    check_end_state(&server, &k, n);
}

/// A MOVE broken off after the server had copied part of it (its process dying between the
/// copies and the expunge of the originals) leaves those mails in Verwerkt and in INBOX. The
/// restart must remove the originals of what was copied, not move them again: every mail in
/// exactly one place. Deterministic twin of the test above, whose kill lands wherever it does.
#[test]
fn a_move_broken_off_after_copying_part_of_a_window_leaves_one_copy_of_each_mail() {
    let n = 600;
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let outbox = tempfile::tempdir().unwrap();
    fill_inbox(&server, 0..n);
    // Killed just before the window's move: every mail recorded, none moved.
    assert!(run_and_kill(
        &k,
        outbox.path(),
        Duration::ZERO,
        Some("before-move")
    ));
    assert_eq!(server.count("info@example.org"), n, "nothing moved yet");
    // What the server had done of that MOVE when it died: the first 400 UIDs' processed
    // mail copied (mail i has UID i + 1), no original expunged.
    let copied: Vec<u32> = (0..400)
        .filter(|i| !is_spam(*i))
        .map(|i| i as u32 + 1)
        .collect();
    let set = klachtd::inbound::imap::uid_set(&copied);
    server.imap_session(
        "info@example.org",
        &["SELECT INBOX", &format!("UID COPY {set} Verwerkt")],
    );
    finish(&k, outbox.path());
    check_end_state(&server, &k, n);
}

/// Dovecot allows one connection per user and IP: the second connection is refused, so the
/// moves go over the first; every promise still holds over a two-window backlog.
#[test]
fn a_refused_second_connection_still_moves_every_mail_once() {
    let n = 6_300;
    let server = MailServer::start();
    reconfigure_dovecot(&server, "\nmail_max_userip_connections = 1\n");
    let k = Klachtd::new(&server);
    let outbox = tempfile::tempdir().unwrap();
    fill_inbox(&server, 0..n);
    finish(&k, outbox.path());
    check_end_state(&server, &k, n);
}

/// While `run --once` takes in a two-window backlog, another client expunges 300 mails of it
/// (their files removed, as a mail client's delete does in Maildir) and 200 new mails arrive.
/// Every mail that was not expunged ends up recorded once and in exactly one place; the new
/// mail is taken in (by the same run or the next); an expunged mail is recorded at most once
/// and is nowhere in the mailbox.
#[test]
fn expunges_by_another_client_and_new_mail_during_a_backlog() {
    let n = 6_300;
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let outbox = tempfile::tempdir().unwrap();
    let paths = fill_inbox(&server, 0..n);
    let expunged: Vec<usize> = (0..300).map(|i| 2_000 + i * 13).collect();
    let mut child = command(&k, outbox.path())
        .args(["run", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    let root = server.maildir("info@example.org");
    for &i in &expunged {
        // The file may have moved from new/ to cur/ (with flags appended) meanwhile.
        let stem = paths[i].file_name().unwrap().to_string_lossy().into_owned();
        for sub in ["new", "cur"] {
            for entry in std::fs::read_dir(root.join(sub)).unwrap().flatten() {
                if entry.file_name().to_string_lossy().starts_with(&stem) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
    for i in n..n + 200 {
        server.append("info@example.org", "INBOX", &mail(i));
    }
    let status = child.wait().unwrap();
    eprintln!("the run during the changes: {status}");
    finish(&k, outbox.path());
    assert_eq!(server.count("info@example.org"), 0, "mail left in INBOX");
    let mut places: HashMap<String, Vec<&str>> = HashMap::new();
    for folder in ["Verwerkt", "Quarantaine"] {
        for raw in server.fetch_folder("info@example.org", folder) {
            places.entry(message_id(&raw)).or_default().push(folder);
        }
    }
    let mut wrong = Vec::new();
    for i in 0..n + 200 {
        let id = format!("<attack-{i}@example.org>");
        let want = if is_spam(i) {
            "Quarantaine"
        } else {
            "Verwerkt"
        };
        let got = places.get(&id).cloned().unwrap_or_default();
        let ok = if expunged.contains(&i) {
            got.is_empty() || got == [want]
        } else {
            got == [want]
        };
        if !ok {
            wrong.push(format!("{id}: {got:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mails not where they belong (first: {:?})",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
    let store = klachtd::store::Store::open(&k.db()).unwrap();
    let summary = common::invariants::check(&store);
    let kept = n + 200 - expunged.len();
    assert!(
        summary.mails >= kept && summary.mails <= n + 200,
        "{} recorded, between {kept} and {} expected",
        summary.mails,
        n + 200
    );
}

/// Dovecot's capabilities after login, without MOVE: a server where klachtd moves by COPY,
/// STORE \Deleted and UID EXPUNGE.
const CAPABILITIES_WITHOUT_MOVE: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT \
    SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL \
    CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC \
    ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY LITERAL+ SPECIAL-USE";

/// On a server without MOVE, klachtd SIGKILLed after a UID COPY, while the server flags the
/// copied mail \Deleted (the UID EXPUNGE never comes): after the restart every mail is
/// recorded once and in exactly its folder — the restart finds the copies already made and
/// removes only their originals (this attack found the whole 5,000-mail window copied twice
/// once, and one batch while the restart copied blindly).
#[test]
fn killed_between_copy_and_expunge_on_a_server_without_move_copies_nothing_twice() {
    let n = 1_500;
    let server = MailServer::start();
    reconfigure_dovecot(
        &server,
        &format!("\nverbose_proctitle = yes\nimap_capability = {CAPABILITIES_WITHOUT_MOVE}\n"),
    );
    let k = Klachtd::new(&server);
    let outbox = tempfile::tempdir().unwrap();
    fill_inbox(&server, 0..n);
    let prefix = imap_title(&server);
    let mut child = command(&k, outbox.path())
        .args(["run", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once the server has answered the COPY and runs the STORE \Deleted that follows it.
    let mut copied = false;
    let mut killed = false;
    'watch: while child.try_wait().unwrap().is_none() {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let title = String::from_utf8_lossy(&cmdline);
            if !title.starts_with(&prefix) {
                continue;
            }
            if title.contains("COPY") {
                copied = true;
            } else if copied && (title.contains("STORE") || title.contains("EXPUNGE")) {
                child.kill().unwrap();
                killed = true;
                break 'watch;
            }
        }
    }
    child.wait().unwrap();
    assert!(
        killed,
        "klachtd was killed after the COPY (copy seen: {copied})"
    );
    // Let the server finish the copy it was running.
    std::thread::sleep(Duration::from_secs(2));
    finish(&k, outbox.path());
    check_end_state(&server, &k, n);
}

/// A server without MOVE and a two-window backlog: the second connection copies, flags and
/// expunges window 1 while window 2 is taken in; every promise holds.
#[test]
fn a_server_without_move_over_two_windows_keeps_every_promise() {
    let n = 5_300;
    let server = MailServer::start();
    reconfigure_dovecot(
        &server,
        &format!("\nimap_capability = {CAPABILITIES_WITHOUT_MOVE}\n"),
    );
    let k = Klachtd::new(&server);
    let outbox = tempfile::tempdir().unwrap();
    fill_inbox(&server, 0..n);
    finish(&k, outbox.path());
    check_end_state(&server, &k, n);
}

/// The same complaint delivered two and three times (the copies side by side in one batch, and
/// again a few batches on): one case and one acknowledgement per distinct complaint, every copy
/// recorded once and moved once.
#[test]
fn redeliveries_in_the_same_batch_make_one_case_and_one_acknowledgement() {
    let distinct = 300;
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let outbox = tempfile::tempdir().unwrap();
    // Order: 0,0,1,1,…,299,299 then 0..100 once more.
    let order: Vec<usize> = (0..distinct).flat_map(|i| [i, i]).chain(0..100).collect();
    server.count("info@example.org");
    let root = server.maildir("info@example.org");
    let owner = std::fs::metadata(server.state_dir.join("dovecot")).unwrap();
    for (pos, &i) in order.iter().enumerate() {
        let raw = mail(i);
        std::fs::write(
            root.join("new")
                .join(format!("1800000000.M{pos:06}P1.dup,S={}", raw.len())),
            &raw,
        )
        .unwrap();
    }
    chown_tree(&root, owner.uid(), owner.gid());
    finish(&k, outbox.path());
    assert_eq!(server.count("info@example.org"), 0, "mail left in INBOX");
    let moved = server.count_folder("info@example.org", "Verwerkt")
        + server.count_folder("info@example.org", "Quarantaine");
    assert_eq!(moved, order.len(), "every copy moved exactly once");
    let store = klachtd::store::Store::open(&k.db()).unwrap();
    let summary = common::invariants::check(&store);
    assert_eq!(summary.mails, order.len(), "every copy recorded once");
    let complaints = (0..distinct).filter(|i| !is_spam(*i)).count();
    assert_eq!(summary.cases, complaints, "one case per distinct complaint");
    assert_eq!(summary.acknowledged, complaints, "one acknowledgement each");
}

/// The daemon (IDLE, as configured by default) takes in a two-window backlog; 20 new mails
/// arrive while it does. They must be taken in as soon as the backlog is done — not only when
/// IDLE is renewed (`idle_renew_seconds`, 540 s by default): the server told of them during the
/// pass, and IDLE does not tell again. (The one bound below, 270 s after the backlog is
/// done, is half the renewal period: a slow machine cannot lose it, a missed wake-up must.)
#[test]
fn new_mail_arriving_during_a_backlog_is_taken_in_without_waiting_for_the_idle_renewal() {
    let n = 5_300;
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let outbox = tempfile::tempdir().unwrap();
    fill_inbox(&server, 0..n);
    // The daemon's log, shown should it end early.
    let logs = tempfile::tempdir().unwrap();
    let log_path = logs.path().join("daemon.log");
    let mut child = command(&k, outbox.path())
        .arg("run")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    // Once the pass has started (some mail recorded), new mail arrives.
    let recorded = || {
        klachtd::store::Store::open(&k.db())
            .ok()
            .and_then(|s| klachtd::store::mails::all(s.conn()).ok())
            .map_or(0, |m| m.len())
    };
    // No clock in the waits that a slow machine could lose: the pass is awaited for as long as
    // the daemon lives (a daemon that died fails the test at once); only the last wait, for 20
    // mails after the backlog is done, is bounded, and by half the renewal period it tests.
    let alive = |child: &mut std::process::Child| child.try_wait().unwrap().is_none();
    while recorded() == 0 {
        assert!(
            alive(&mut child),
            "the daemon ended before it took in any mail: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for i in n..n + 20 {
        server.append("info@example.org", "INBOX", &mail(i));
    }
    while recorded() < n {
        assert!(
            alive(&mut child),
            "the daemon ended during the backlog: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let start = std::time::Instant::now();
    while recorded() < n + 20 && start.elapsed() < Duration::from_secs(270) {
        std::thread::sleep(Duration::from_millis(500));
    }
    let got = recorded();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
    assert_eq!(
        got,
        n + 20,
        "mail that arrived during the backlog still waits for the IDLE renewal"
    );
    check_end_state(&server, &k, n + 20);
}

/// klachtd SIGKILLed while the second connection's UID MOVE of window 1 runs on the server
/// (window 2 half taken in): after the restart every promise holds.
#[test]
fn klachtd_killed_during_the_second_connections_move() {
    let n = 5_300;
    let server = MailServer::start();
    reconfigure_dovecot(&server, "\nverbose_proctitle = yes\n");
    let k = Klachtd::new(&server);
    let outbox = tempfile::tempdir().unwrap();
    fill_inbox(&server, 0..n);
    let prefix = imap_title(&server);
    let mut child = command(&k, outbox.path())
        .args(["run", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut killed = false;
    'watch: while child.try_wait().unwrap().is_none() {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let title = String::from_utf8_lossy(&cmdline);
            if title.starts_with(&prefix) && title.contains("MOVE") {
                child.kill().unwrap();
                killed = true;
                break 'watch;
            }
        }
    }
    child.wait().unwrap();
    assert!(killed, "klachtd was killed during a MOVE");
    std::thread::sleep(Duration::from_secs(1));
    finish(&k, outbox.path());
    check_end_state(&server, &k, n);
}
