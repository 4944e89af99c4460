//! Attack on schema 10 (bodies packed on the case's complaint) from an older register: a
//! database made by klachtd b9fdf96 (schema 9; tests/fixtures/db/attack-b9fdf96.sqlite, made
//! by tests/fixtures/db/make-attack-b9fdf96.sh) holds 30 queued mails of ten complaints in odd
//! charsets, with attachments, a NUL byte, a 30 KB and a 120 KB one (binary attachment). Today's
//! klachtd must migrate it, send every queued mail byte for byte as it was stored, read every
//! old case, take new mail for the old cases, and purge them two years after closing without
//! failing and without leaving personal data.

use klachtd::store::packed;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Install {
    dir: tempfile::TempDir,
}

impl Install {
    fn new() -> Install {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["mail/new", "mail/cur", "mail/tmp", "var", "outbox"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let db = dir.path().join("var/klachtd.sqlite");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/db/attack-b9fdf96.sqlite"),
            &db,
        )
        .unwrap();
        std::fs::set_permissions(&db, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        Install { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_klachtd"))
            .current_dir(self.dir.path())
            .env_remove("KLACHTD_FAILPOINT")
            .env("KLACHTD__INBOUND__MAILDIR", "mail")
            .env(
                "KLACHTD__ROLES__STAFF",
                "staff@example.org,staff2@example.org",
            )
            .env("KLACHTD__ROLES__DIRECTOR", "director@example.org")
            .env("KLACHTD__ORGANISATION__ADDRESS", "info@example.org")
            .env("KLACHTD__OUTBOUND__KIND", "file")
            .env("KLACHTD__OUTBOUND__DIR", self.path("outbox"))
            .env("KLACHTD_LOG", "warn")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "klachtd {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// The queued mail of the old database as it stored it: Message-ID → bytes (schema 7-9: the
/// body raw-DEFLATE in `outbox_bodies`, or in the row before 7).
fn queued_before(db: &Path) -> HashMap<String, Vec<u8>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert!(
        version < 10,
        "the fixture is older than schema 10 ({version})"
    );
    let mut stmt = conn
        .prepare(
            "SELECT o.message_id, COALESCE(b.deflated, o.raw), b.deflated IS NOT NULL
             FROM outbox o LEFT JOIN outbox_bodies b ON b.outbox_id = o.id
             WHERE o.status = 'queued'",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, bool>(2)?,
        ))
    })
    .unwrap()
    .map(|row| {
        let (id, bytes, packed) = row.unwrap();
        (id, packed::stored(bytes, packed).unwrap())
    })
    .collect()
}

fn file_name(message_id: &str) -> String {
    let name: String = message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}.eml")
}

#[test]
fn an_old_register_upgrades_sends_its_queued_mail_byte_for_byte_and_purges_cleanly() {
    let k = Install::new();
    let db = k.path("var/klachtd.sqlite");
    let queued = queued_before(&db);
    assert_eq!(queued.len(), 30, "the fixture's queued mail");
    // Migrated and sent (the acknowledgements of one hour are under the hourly limit).
    k.run(&["run", "--once", "--now", "2026-11-24T11:00:00+01:00"]);
    let mut differ = Vec::new();
    for (id, want) in &queued {
        match std::fs::read(k.path("outbox").join(file_name(id))) {
            Ok(got) if &got == want => {}
            Ok(got) => differ.push(format!(
                "{id}: {} bytes sent, {} stored",
                got.len(),
                want.len()
            )),
            Err(e) => differ.push(format!("{id}: not sent ({e})")),
        }
    }
    assert!(
        differ.is_empty(),
        "queued mail not sent byte for byte: {differ:?}"
    );
    // Every old case reads back.
    let cases: Vec<serde_json::Value> =
        serde_json::from_slice(&k.run(&["cases", "--json"]).stdout).unwrap();
    assert_eq!(cases.len(), 10);
    for c in &cases {
        let reference = c["reference"].as_str().unwrap();
        let case: serde_json::Value =
            serde_json::from_slice(&k.run(&["case", reference, "--json"]).stdout).unwrap();
        assert!(case.is_object(), "{reference}");
    }
    // New mail for an old case (a reply with its reference) and a new complaint, then all of
    // them closed long ago: the purge two years on must succeed and leave no body behind.
    let first = cases[0]["reference"].as_str().unwrap().to_string();
    std::fs::write(
        k.path("mail/new/1764100000.M1.host"),
        format!(
            "From: Kees Brouwer <kees.brouwer@hotmail.example>\r\nTo: info@example.org\r\n\
             Subject: Re: [{first}] nog steeds niets\r\nMessage-ID: <na-upgrade-1@example.net>\r\n\r\n\
             Ik wacht nog steeds. GEHEIM-NA-UPGRADE\r\n"
        ),
    )
    .unwrap();
    std::fs::write(
        k.path("mail/new/1764100001.M2.host"),
        "From: Nieuw <nieuw@example.net>\r\nTo: info@example.org\r\nSubject: Nieuwe klacht\r\n\
         Message-ID: <na-upgrade-2@example.net>\r\n\r\nNieuwe klacht. GEHEIM-NIEUW\r\n",
    )
    .unwrap();
    k.run(&["run", "--once", "--now", "2026-11-25T10:00:00+01:00"]);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute(
            "UPDATE cases SET status = 'closed', closed_at = received_at",
            [],
        )
        .unwrap();
    }
    k.run(&["purge", "--now", "2029-06-01T03:00:00+02:00"]);
    let store = klachtd::store::Store::open(&db).unwrap();
    let conn = store.conn();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count("SELECT COUNT(*) FROM cases WHERE purged_at IS NULL"),
        0
    );
    assert_eq!(count("SELECT COUNT(*) FROM case_texts"), 0);
    assert_eq!(count("SELECT COUNT(*) FROM outbox_bodies"), 0);
    assert_eq!(
        count("SELECT COUNT(*) FROM mail_bodies"),
        0,
        "a mail body left after the purge"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM mails WHERE length(raw) > 0 OR sender IS NOT NULL"),
        0
    );
}
