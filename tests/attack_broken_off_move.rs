//! Attack on the restart after a broken-off MOVE (README: "A mail is marked or moved in the
//! mailbox only after the commit that recorded it…"), against real Dovecot. Each test records
//! a small INBOX, stops klachtd right before its move (`before-move`: every mail recorded,
//! nothing moved), then makes the server's state what a MOVE broken off part-way leaves (some
//! originals copied to their target with `UID COPY`, every original still in the INBOX), with
//! a twist the restart must cope with: odd Message-IDs, shared Message-IDs, byte-identical
//! redeliveries, a target changed by another client, a quarantine leftover. After the restart,
//! the promise is checked on what the server holds: every mail in exactly one place (its
//! target, once), none left in the INBOX, every mail recorded exactly once.

mod common;

use common::klachtd::Klachtd;
use common::mailserver::MailServer;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

const USER: &str = "info@example.org";

/// A complaint tagged `tag` (its subject and a line of its body), with `message_id` as the
/// raw text after `Message-ID:` (None: no such header), spam when `spam`.
fn complaint(tag: &str, message_id: Option<&str>, spam: bool) -> Vec<u8> {
    let id = message_id
        .map(|v| format!("Message-ID:{v}\r\n"))
        .unwrap_or_default();
    let spam = if spam { "X-Spam-Flag: YES\r\n" } else { "" };
    format!(
        "From: Klager {tag} <c-{tag}@example.org>\r\nTo: info@example.org\r\n\
         Subject: Klacht {tag}\r\n{id}{spam}Date: Mon, 30 Nov 2026 08:00:00 +0100\r\n\r\n\
         Geachte heer, mevrouw,\r\n\r\nIk ben niet tevreden (kenmerk {tag}): de docent kwam niet.\r\n"
    )
    .into_bytes()
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid, gid);
        }
    }
}

/// Writes `raws` straight into info@'s INBOX (Maildir `new/`), in order: on a fresh INBOX,
/// `raws[i]` gets UID `i + 1`. `received[i]`, when given, is the file's mtime (Dovecot's
/// INTERNALDATE for Maildir).
fn fill_inbox(server: &MailServer, raws: &[Vec<u8>], received: Option<&[SystemTime]>) {
    server.count(USER);
    let root = server.maildir(USER);
    let owner = std::fs::metadata(server.state_dir.join("dovecot")).unwrap();
    for (n, raw) in raws.iter().enumerate() {
        let path = root
            .join("new")
            .join(format!("1800000000.M{n:06}P1.broken,S={}", raw.len()));
        std::fs::write(&path, raw).unwrap();
        if let Some(times) = received {
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_times(
                std::fs::FileTimes::new()
                    .set_modified(times[n])
                    .set_accessed(times[n]),
            )
            .unwrap();
        }
    }
    chown_tree(&root, owner.uid(), owner.gid());
}

/// klachtd writing its outgoing mail to files ([`Klachtd::with_file_outbox`]).
fn command(k: &Klachtd<'_>, outbox: &Path) -> Command {
    k.with_file_outbox(outbox)
}

/// Runs `run --once` with `failpoint` and SIGKILLs it there. Returns whether it got there.
fn run_and_kill(k: &Klachtd<'_>, outbox: &Path, failpoint: &str) -> bool {
    common::klachtd::kill_at_failpoint(command(k, outbox).args(["run", "--once"]), failpoint)
}

/// `run --once` until it succeeds (at most five times); panics with the last error if never.
fn finish(k: &Klachtd<'_>, outbox: &Path) {
    let mut last = String::new();
    for _ in 0..5 {
        let out = command(k, outbox).args(["run", "--once"]).output().unwrap();
        if out.status.success() {
            if std::env::var_os("ATTACK_LOG").is_some() {
                eprintln!("run --once: {}", String::from_utf8_lossy(&out.stderr));
            }
            return;
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        eprintln!("run --once failed: {last}");
    }
    panic!("run --once never succeeded: {last}");
}

/// What a broken-off move leaves: the originals with these UIDs copied to `folder`.
fn copy_to(server: &MailServer, uids: &[u32], folder: &str) {
    let set = klachtd::inbound::imap::uid_set(uids);
    server.imap_session(USER, &["SELECT INBOX", &format!("UID COPY {set} {folder}")]);
}

/// The subject of a raw mail (for messages).
fn subject(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or("(none)")
        .trim()
        .to_string()
}

/// The promise over `mails` (raw bytes, target folder): the INBOX empty, each folder holding
/// exactly the mails meant for it (as a multiset of byte strings: a mail delivered twice is
/// there twice), every mail recorded exactly once.
fn check_end_state(
    server: &MailServer,
    k: &Klachtd<'_>,
    mails: &[(Vec<u8>, &str)],
    recorded: usize,
) {
    let left: Vec<String> = server.fetch_all(USER).iter().map(|m| subject(m)).collect();
    assert!(left.is_empty(), "mail left in INBOX: {left:?}");
    for folder in ["Verwerkt", "Quarantaine"] {
        let mut want: BTreeMap<&[u8], usize> = BTreeMap::new();
        for (raw, target) in mails {
            if *target == folder {
                *want.entry(raw.as_slice()).or_default() += 1;
            }
        }
        let held = server.fetch_folder(USER, folder);
        let mut got: BTreeMap<&[u8], usize> = BTreeMap::new();
        for raw in &held {
            *got.entry(raw.as_slice()).or_default() += 1;
        }
        let describe = |m: &BTreeMap<&[u8], usize>| -> Vec<String> {
            m.iter()
                .map(|(raw, n)| format!("{} x{n}", subject(raw)))
                .collect()
        };
        assert!(
            want == got,
            "{folder} holds {:?}, should hold {:?}",
            describe(&got),
            describe(&want)
        );
    }
    let store = klachtd::store::Store::open(&k.db()).unwrap();
    let summary = common::invariants::check(&store);
    assert_eq!(summary.mails, recorded, "every mail recorded exactly once");
}

/// The common attack: `raws` in the INBOX (UIDs 1…), klachtd killed before its move, the
/// originals with UIDs `copied` copied to their target (Verwerkt, or Quarantaine for spam) as a
/// broken-off MOVE leaves them, `meanwhile` run on the server before the restart, then the
/// restart and the promise checked.
fn broken_off(
    raws: &[(Vec<u8>, bool)],
    received: Option<&[SystemTime]>,
    copied: &[u32],
    meanwhile: impl FnOnce(&MailServer),
    added: &[(Vec<u8>, &'static str)],
) {
    broken_off_on(
        MailServer::start(),
        raws,
        received,
        copied,
        meanwhile,
        added,
    );
}

/// [`broken_off`] on a server already started (and configured).
fn broken_off_on(
    server: MailServer,
    raws: &[(Vec<u8>, bool)],
    received: Option<&[SystemTime]>,
    copied: &[u32],
    meanwhile: impl FnOnce(&MailServer),
    added: &[(Vec<u8>, &'static str)],
) {
    let k = Klachtd::new(&server);
    let outbox = tempfile::tempdir().unwrap();
    let bytes: Vec<Vec<u8>> = raws.iter().map(|(raw, _)| raw.clone()).collect();
    fill_inbox(&server, &bytes, received);
    assert!(
        run_and_kill(&k, outbox.path(), "before-move"),
        "klachtd reached before-move"
    );
    assert_eq!(server.count(USER), raws.len(), "nothing moved yet");
    let target = |spam: bool| if spam { "Quarantaine" } else { "Verwerkt" };
    for spam in [false, true] {
        let uids: Vec<u32> = copied
            .iter()
            .copied()
            .filter(|uid| raws[*uid as usize - 1].1 == spam)
            .collect();
        if !uids.is_empty() {
            copy_to(&server, &uids, target(spam));
        }
    }
    meanwhile(&server);
    finish(&k, outbox.path());
    let mails: Vec<(Vec<u8>, &str)> = raws
        .iter()
        .map(|(raw, spam)| (raw.clone(), target(*spam)))
        .chain(added.iter().cloned())
        .collect();
    check_end_state(&server, &k, &mails, raws.len());
}

fn ham(raw: Vec<u8>) -> (Vec<u8>, bool) {
    (raw, false)
}

/// Baseline: mails without any Message-ID, half of them copied before the break.
#[test]
fn mails_without_a_message_id() {
    let raws: Vec<_> = (0..6)
        .map(|i| ham(complaint(&format!("none-{i}"), None, false)))
        .collect();
    broken_off(&raws, None, &[1, 3, 5], |_| {}, &[]);
}

/// A Message-ID written as an RFC 2047 encoded word: the envelope gives it raw, a header
/// SEARCH may compare against the decoded header.
#[test]
fn a_message_id_written_as_an_encoded_word() {
    let raws = vec![
        ham(complaint(
            "ew-b",
            Some(" =?UTF-8?B?PGVuY29kZWQtYkBleGFtcGxlLm9yZz4=?="),
            false,
        )),
        ham(complaint(
            "ew-q",
            Some(" =?us-ascii?Q?=3Cencoded-q@example.org=3E?="),
            false,
        )),
        ham(complaint("plain", Some(" <plain@example.org>"), false)),
    ];
    broken_off(&raws, None, &[1, 2, 3], |_| {}, &[]);
}

/// A Message-ID header that is there but empty (or only blanks): neither "no Message-ID" nor
/// a Message-ID to search for.
#[test]
fn an_empty_message_id_header() {
    let raws = vec![
        ham(complaint("empty", Some(""), false)),
        ham(complaint("blank", Some("   "), false)),
        ham(complaint("none", None, false)),
        ham(complaint("plain", Some(" <plain@example.org>"), false)),
    ];
    broken_off(&raws, None, &[1, 2, 3, 4], |_| {}, &[]);
}

/// Message-IDs folded over lines, with a comment, with trailing blanks, with two blanks inside.
#[test]
fn folded_commented_and_padded_message_ids() {
    let raws = vec![
        ham(complaint(
            "folded",
            Some("\r\n <folded@example.org>"),
            false,
        )),
        ham(complaint(
            "folded-inside",
            Some(" <folded-inside@\r\n example.org>"),
            false,
        )),
        ham(complaint(
            "comment",
            Some(" (de server) <comment@example.org>"),
            false,
        )),
        ham(complaint(
            "trailing",
            Some(" <trailing@example.org>   "),
            false,
        )),
        ham(complaint(
            "double",
            Some(" <double  blank@example.org>"),
            false,
        )),
        ham(complaint("bare", Some("bare-without-brackets"), false)),
    ];
    broken_off(&raws, None, &[1, 2, 3, 4, 5, 6], |_| {}, &[]);
}

/// Message-IDs with a quote, a backslash, non-ASCII bytes (the searches become `ALL`).
#[test]
fn message_ids_with_quotes_backslashes_and_eight_bit_bytes() {
    let raws = vec![
        ham(complaint("quote", Some(" <\"q uote\"@example.org>"), false)),
        ham(complaint(
            "backslash",
            Some(" <back\\slash@example.org>"),
            false,
        )),
        ham(complaint("utf8", Some(" <klacht-é@example.org>"), false)),
        ham(complaint("plain", Some(" <plain@example.org>"), false)),
    ];
    broken_off(&raws, None, &[1, 3], |_| {}, &[]);
}

/// Two different mails sharing one Message-ID (a redelivery with other content): only the
/// second was copied; the first must still get there.
#[test]
fn two_different_mails_sharing_a_message_id() {
    let raws = vec![
        ham(complaint("first", Some(" <shared@example.org>"), false)),
        ham(complaint("second", Some(" <shared@example.org>"), false)),
        ham(complaint("third", Some(" <shared@example.org>"), false)),
    ];
    broken_off(&raws, None, &[2], |_| {}, &[]);
}

/// The same bytes delivered three times, an hour apart: only the middle one was copied. Each
/// delivery must end in Verwerkt once: three copies there.
#[test]
fn byte_identical_redeliveries_at_different_times() {
    let raw = complaint("same", Some(" <same@example.org>"), false);
    let raws = vec![ham(raw.clone()), ham(raw.clone()), ham(raw)];
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let times: Vec<SystemTime> = (0..3)
        .map(|i| base + Duration::from_secs(3600 * i))
        .collect();
    broken_off(&raws, Some(&times), &[2], |_| {}, &[]);
}

/// The same bytes delivered twice in one second: one copied. Both must end in Verwerkt.
#[test]
fn byte_identical_redeliveries_in_one_second() {
    let raw = complaint("twin", Some(" <twin@example.org>"), false);
    let raws = vec![ham(raw.clone()), ham(raw)];
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    broken_off(&raws, Some(&[at, at]), &[1], |_| {}, &[]);
}

/// A quarantine leftover: spam and complaints mixed, part of each copied.
#[test]
fn a_quarantine_leftover_copied_in_part() {
    let raws: Vec<_> = (0..8)
        .map(|i| {
            let spam = i % 2 == 1;
            (
                complaint(
                    &format!("mix-{i}"),
                    Some(&format!(" <mix-{i}@example.org>")),
                    spam,
                ),
                spam,
            )
        })
        .collect();
    broken_off(&raws, None, &[1, 2, 4, 5], |_| {}, &[]);
}

/// Verwerkt deleted by another client between the crash and the restart (with the copies in
/// it): the restart must make it again and move everything there.
#[test]
fn the_target_deleted_between_crash_and_restart() {
    let raws: Vec<_> = (0..4)
        .map(|i| {
            ham(complaint(
                &format!("gone-{i}"),
                Some(&format!(" <gone-{i}@example.org>")),
                false,
            ))
        })
        .collect();
    broken_off(
        &raws,
        None,
        &[1, 2],
        |server| {
            server.imap_command(USER, "DELETE Verwerkt");
        },
        &[],
    );
}

/// Another client expunges one of the copies from Verwerkt and adds a stranger's mail with the
/// same Message-ID as another copied one, between the crash and the restart.
#[test]
fn another_client_changes_the_target_between_crash_and_restart() {
    let raws: Vec<_> = (0..4)
        .map(|i| {
            ham(complaint(
                &format!("busy-{i}"),
                Some(&format!(" <busy-{i}@example.org>")),
                false,
            ))
        })
        .collect();
    let stranger = complaint("stranger", Some(" <busy-1@example.org>"), false);
    let added = stranger.clone();
    broken_off(
        &raws,
        None,
        &[1, 2, 3],
        |server| {
            // The copy of UID 1 (UID 1 in the fresh Verwerkt) expunged by another client.
            server.imap_session(
                USER,
                &[
                    "SELECT Verwerkt",
                    "UID STORE 1 +FLAGS.SILENT (\\Deleted)",
                    "UID EXPUNGE 1",
                ],
            );
            server.append(USER, "Verwerkt", &added);
        },
        &[(stranger, "Verwerkt")],
    );
}

/// 48 mails with long (but deliverable: under Postfix's 2,048-byte line limit) Message-IDs
/// in one leftover window with two ordinary complaints whose originals were copied before the
/// break: the 50 Message-IDs go into one `UID SEARCH`, longer than Dovecot takes (64 KB).
#[test]
fn long_message_ids_in_a_leftover_window() {
    let long = "x".repeat(1_400);
    let mut raws = vec![
        ham(complaint("legit-0", Some(" <legit-0@example.org>"), false)),
        ham(complaint("legit-1", Some(" <legit-1@example.org>"), false)),
    ];
    raws.extend((0..48).map(|i| {
        ham(complaint(
            &format!("long-{i}"),
            Some(&format!(" <{long}-{i}@example.org>")),
            false,
        ))
    }));
    broken_off(&raws, None, &[1, 2], |_| {}, &[]);
}

/// Dovecot's capabilities after login, without MOVE (klachtd then copies, flags, expunges).
const CAPABILITIES_WITHOUT_MOVE: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT \
    SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL \
    CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC \
    ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY LITERAL+ SPECIAL-USE";

/// The encoded-word Message-ID on a server without MOVE: a COPY broken off before its
/// `\Deleted` and `UID EXPUNGE`.
#[test]
fn an_encoded_word_message_id_on_a_server_without_move() {
    let server = MailServer::start();
    let conf = server.state_dir.join("dovecot/dovecot.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str(&format!(
        "\nimap_capability = {CAPABILITIES_WITHOUT_MOVE}\n"
    ));
    std::fs::write(&conf, text).unwrap();
    server.stop_dovecot();
    server.start_dovecot();
    let raws = vec![
        ham(complaint(
            "ew-b",
            Some(" =?UTF-8?B?PGVuY29kZWQtYkBleGFtcGxlLm9yZz4=?="),
            false,
        )),
        ham(complaint("plain", Some(" <plain@example.org>"), false)),
    ];
    broken_off_on(server, &raws, None, &[1, 2], |_| {}, &[]);
}

/// A mail taken in and moved, then copied back into the INBOX by a member of staff (to have it
/// looked at again: COPY keeps its bytes and INTERNALDATE); klachtd killed before moving it
/// again. Without the crash it would be moved (two alike in Verwerkt). After the crash the
/// restart cannot tell the old copy in Verwerkt from one a broken-off move made, so it takes
/// it for that and removes the original: the accepted limit (README) — the bytes stay once in
/// Verwerkt, nothing is left in the INBOX, both mails are recorded. Telling them apart would
/// take the target's UIDNEXT recorded before every move.
#[test]
fn a_mail_copied_back_from_verwerkt_then_a_crash_before_its_move_keeps_its_bytes_once() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let outbox = tempfile::tempdir().unwrap();
    let raw = complaint("back", Some(" <back@example.org>"), false);
    fill_inbox(&server, std::slice::from_ref(&raw), None);
    finish(&k, outbox.path());
    assert_eq!(server.count_folder(USER, "Verwerkt"), 1);
    server.imap_session(USER, &["SELECT Verwerkt", "UID COPY 1:* INBOX"]);
    assert_eq!(server.count(USER), 1);
    assert!(
        run_and_kill(&k, outbox.path(), "before-move"),
        "klachtd reached before-move"
    );
    finish(&k, outbox.path());
    check_end_state(&server, &k, &[(raw, "Verwerkt")], 2);
}

/// Different mails alike in everything the restart matches cheaply — the same size, the same
/// received second, the same Message-ID — only their bytes differ; for any subset of them
/// copied before the break, each must end in Verwerkt exactly once. A match on size and time
/// alone (or on the Message-ID) would take a copy of one for another and remove an original
/// whose bytes are nowhere else: a lost complaint.
#[test]
fn look_alikes_differing_only_in_their_bytes_are_never_taken_for_each_others_copy() {
    use proptest::prelude::*;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 6,
        ..ProptestConfig::default()
    });
    runner
        .run(&proptest::collection::vec(any::<bool>(), 5), |copied| {
            let raws: Vec<_> = (0..5)
                .map(|i| {
                    ham(complaint(
                        &format!("alike{i}"),
                        Some(" <alike@example.org>"),
                        false,
                    ))
                })
                .collect();
            assert!(raws.windows(2).all(|w| w[0].0.len() == w[1].0.len()));
            let copied: Vec<u32> = (1..=5).filter(|uid| copied[*uid as usize - 1]).collect();
            broken_off(&raws, Some(&[at; 5]), &copied, |_| {}, &[]);
            Ok(())
        })
        .unwrap();
}
