//! IMAP intake in windows and batches, against a real Dovecot: whatever the backlog (longer
//! than one window of new UIDs, mail of any size, some larger than a batch may hold), every
//! mail is handed over exactly once, in UID order, in batches that keep both bounds (count and
//! bytes; a larger mail alone) and never span two windows, and the cursor ends on the last UID.
//! This is what keeps `run --once` flat in memory over a backlog of any length.

mod common;

use common::mailserver::MailServer;
use klachtd::domain::Disposition;
use klachtd::inbound::RawMail;
use klachtd::inbound::imap::{BATCH_BYTES, BATCH_MAILS, Cursor, ImapSource, MailSink, WINDOW_UIDS};
use klachtd::settings::Settings;
use proptest::prelude::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Records what intake would be handed, and keeps the cursor in memory.
#[derive(Default)]
struct Recorder {
    /// (UID, bytes) of every mail handed over, in order.
    taken: Vec<(u32, Vec<u8>)>,
    /// Each batch: its UIDs.
    batches: Vec<Vec<u32>>,
    cursor: Option<Cursor>,
}

/// What becomes of a mail: every fifth goes to quarantine, the rest is processed.
fn disposition(uid: u32) -> Disposition {
    if uid.is_multiple_of(5) {
        Disposition::Quarantine
    } else {
        Disposition::Processed
    }
}

fn uid_of(raw: &RawMail) -> u32 {
    raw.source_key.rsplit('/').next().unwrap().parse().unwrap()
}

impl MailSink for Recorder {
    fn take(&mut self, raw: &RawMail) -> anyhow::Result<Disposition> {
        self.batches.push(vec![uid_of(raw)]);
        self.taken.push((uid_of(raw), raw.bytes.clone()));
        Ok(disposition(uid_of(raw)))
    }

    fn take_batch(&mut self, raws: &[RawMail]) -> (Vec<Disposition>, Option<anyhow::Error>) {
        self.batches.push(raws.iter().map(uid_of).collect());
        self.taken
            .extend(raws.iter().map(|r| (uid_of(r), r.bytes.clone())));
        (raws.iter().map(|r| disposition(uid_of(r))).collect(), None)
    }

    fn recorded(&mut self, _source_key: &str) -> anyhow::Result<Option<Disposition>> {
        Ok(None)
    }

    fn cursor(&mut self, _mailbox: &str) -> anyhow::Result<Option<Cursor>> {
        Ok(self.cursor)
    }

    fn set_cursor(&mut self, _mailbox: &str, cursor: Cursor) -> anyhow::Result<()> {
        self.cursor = Some(cursor);
        Ok(())
    }
}

/// A distinct mail of exactly `size` bytes (CRLF line ends, so the server's RFC822.SIZE is the
/// file's size).
fn mail(n: usize, size: usize) -> Vec<u8> {
    let mut raw = format!(
        "From: Klager {n} <c{n}@example.org>\r\nTo: info@example.org\r\n\
         Subject: Klacht {n}\r\nMessage-ID: <batch-{n}@example.org>\r\n\r\n"
    )
    .into_bytes();
    while raw.len() < size {
        let line = format!("regel {n} {}\r\n", raw.len());
        raw.extend_from_slice(line.as_bytes());
    }
    raw
}

/// Writes the mails into a Maildir++ folder of info@ (owned like the rest of Dovecot's mail).
fn fill_folder(server: &MailServer, folder: &str, mails: &[Vec<u8>]) {
    let root = server.maildir("info@example.org");
    let dir = root.join(format!(".{folder}"));
    let owner = std::fs::metadata(server.state_dir.join("dovecot")).unwrap();
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for (i, raw) in mails.iter().enumerate() {
        let path = dir
            .join("new")
            .join(format!("1800000000.M{i}P1.batches,S={}", raw.len()));
        std::fs::write(&path, raw).unwrap();
    }
    chown_tree(&root, owner.uid(), owner.gid());
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid, gid);
        }
    }
}

fn source(server: &MailServer, folder: &str) -> ImapSource {
    let env = [
        ("KLACHTD__INBOUND__IMAP__HOST", "127.0.0.1".to_string()),
        (
            "KLACHTD__INBOUND__IMAP__PORT",
            server.imaps_port.to_string(),
        ),
        ("KLACHTD__INBOUND__IMAP__TLS", "implicit".to_string()),
        (
            "KLACHTD__INBOUND__IMAP__CA_FILE",
            server.ca_cert.display().to_string(),
        ),
        (
            "KLACHTD__INBOUND__IMAP__USERNAME",
            "info@example.org".into(),
        ),
        ("KLACHTD__INBOUND__IMAP__PASSWORD", "secret".into()),
        ("KLACHTD__INBOUND__IMAP__FOLDER", folder.into()),
    ]
    .map(|(k, v)| (k.to_string(), v));
    let settings = Settings::load_with_env(None, env).unwrap();
    ImapSource::from_settings(&settings.inbound.imap).unwrap()
}

/// Takes in the folder over IMAP as the daemon does; returns what the sink saw.
fn take_in(server: &MailServer, folder: &str) -> Recorder {
    klachtd::install_crypto_provider();
    let source = source(server, folder);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut session = source.connect().await.unwrap();
        let before = folder_sizes(&mut session, folder).await;
        let mut sink = Recorder::default();
        let taken = source
            .process_folder(&mut session, &mut sink, true)
            .await
            .unwrap();
        assert_eq!(taken, sink.taken.len());
        // Nothing is left for a second pass: all of it was moved after being handed over.
        let mut again = Recorder {
            cursor: sink.cursor,
            ..Recorder::default()
        };
        source
            .process_folder(&mut session, &mut again, false)
            .await
            .unwrap();
        assert!(again.taken.is_empty(), "mail handed over twice");
        // And every mail was moved where its disposition says (over two connections when the
        // backlog spans more than one window), the folder left empty.
        let quarantined = sink
            .taken
            .iter()
            .filter(|(uid, _)| disposition(*uid) == Disposition::Quarantine)
            .count() as u32;
        let processed = sink.taken.len() as u32 - quarantined;
        let after = folder_sizes(&mut session, folder).await;
        assert_eq!(after.0, 0, "mail left in {folder}");
        assert_eq!(
            (after.1 - before.1, after.2 - before.2),
            (processed, quarantined),
            "(processed, quarantined) moved"
        );
        let _ = session.logout().await;
        sink
    })
}

/// How many mails are in the folder, in Verwerkt and in Quarantaine.
async fn folder_sizes(session: &mut klachtd::auth::ImapSession, folder: &str) -> (u32, u32, u32) {
    let mut sizes = [0; 3];
    for (i, name) in [folder, "Verwerkt", "Quarantaine"].iter().enumerate() {
        sizes[i] = match session.examine(name).await {
            Ok(mailbox) => mailbox.exists,
            Err(_) => 0, // not created yet
        };
    }
    (sizes[0], sizes[1], sizes[2])
}

fn check(mails: &[Vec<u8>], seen: &Recorder) -> Result<(), TestCaseError> {
    // Exactly once each.
    let mut got: Vec<&Vec<u8>> = seen.taken.iter().map(|(_, b)| b).collect();
    let mut want: Vec<&Vec<u8>> = mails.iter().collect();
    got.sort();
    want.sort();
    prop_assert_eq!(got.len(), want.len());
    prop_assert!(
        got == want,
        "the mail handed over is not the mail in the folder"
    );
    // In UID order.
    let uids: Vec<u32> = seen.taken.iter().map(|(uid, _)| *uid).collect();
    prop_assert!(uids.windows(2).all(|w| w[0] < w[1]), "not in UID order");
    prop_assert_eq!(seen.cursor.map(|c| c.last_uid), uids.last().copied());
    // Batches: both bounds, a larger mail alone, never across a window.
    let size: std::collections::HashMap<u32, u64> = seen
        .taken
        .iter()
        .map(|(uid, b)| (*uid, b.len() as u64))
        .collect();
    let position = |uid: &u32| uids.binary_search(uid).unwrap();
    for batch in &seen.batches {
        prop_assert!(!batch.is_empty() && batch.len() <= BATCH_MAILS);
        let bytes: u64 = batch.iter().map(|uid| size[uid]).sum();
        prop_assert!(
            bytes <= BATCH_BYTES || batch.len() == 1,
            "a batch of {} mails holds {bytes} bytes",
            batch.len()
        );
        let (first, last) = (position(&batch[0]), position(batch.last().unwrap()));
        prop_assert_eq!(
            first / WINDOW_UIDS,
            last / WINDOW_UIDS,
            "a batch spans two windows"
        );
    }
    Ok(())
}

/// Any backlog of up to 2.5 windows, of mail from 200 bytes to 20 KB with now and then one
/// larger than half a batch (or a whole one), is handed over exactly once, in order, in bounded
/// batches. Each case fills a folder of its own on one Dovecot: a few cases, each a real backlog.
#[test]
fn a_backlog_of_any_length_and_sizes_goes_in_bounded_batches_exactly_once() {
    let server = MailServer::start();
    let sizes = proptest::collection::vec(
        prop_oneof![
            400 => 200usize..20_000,
            1 => (BATCH_BYTES as usize / 2)..(BATCH_BYTES as usize + 300_000),
        ],
        1..(WINDOW_UIDS * 5 / 2),
    );
    let config = ProptestConfig {
        cases: 3,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let folders = std::sync::atomic::AtomicU32::new(0);
    proptest::test_runner::TestRunner::new(config)
        .run(&sizes, |sizes| {
            let n = folders.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let folder = format!("Backlog{n}");
            let mails: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(n, s)| mail(n, *s)).collect();
            fill_folder(&server, &folder, &mails);
            let seen = take_in(&server, &folder);
            check(&mails, &seen)
        })
        .unwrap();
}
