//! The command line shows what is stored: `case REF` and `case REF --json` list attachments
//! (name, type, size, readable), `attachment REF N --out FILE` writes one out; both JSON
//! listings write times as RFC 3339 with `Z`; `help-commands` follows `--config`'s language and
//! `demo` refuses a `--config` it would not read.

mod common;

use chrono::{DateTime, Utc};
use common::world::World;
use klachtd::inbound::RawMail;
use klachtd::store::Store;
use std::path::Path;
use std::process::{Command, Output};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn klachtd(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_klachtd"))
        .args(args)
        .env_remove("KLACHTD_CONFIG")
        .env("KLACHTD_LOG", "warn")
        .env("KLACHTD__STORE__PATH", db)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// A store with the Apple Mail complaint (a PDF) and one attachment whose bytes are broken.
fn seeded(dir: &Path) -> (std::path::PathBuf, String) {
    let db = dir.join("klachtd.sqlite");
    let world = World::with_env(&[]);
    let mut store = Store::open(&db).unwrap();
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-24T10:00:00+01:00")
        .unwrap()
        .to_utc();
    let case = world
        .intake()
        .process(
            &mut store,
            &RawMail {
                source_key: "pdf".into(),
                bytes: fixture("06_klacht_herinnering_applemail_pdf.eml"),
                arrived_at: Some(at),
            },
            at,
        )
        .unwrap()
        .case
        .unwrap();
    store
        .transaction(|tx| {
            let c = klachtd::store::cases::get(tx, case)?.unwrap();
            klachtd::store::cases::add_attachment(
                tx,
                c.id,
                1,
                &klachtd::domain::Attachment::new(
                    "scan.pdf",
                    "application/pdf",
                    b"this is not a pdf".to_vec(),
                ),
            )
        })
        .unwrap();
    (db, case.to_string())
}

#[test]
fn case_lists_attachments_and_attachment_writes_one_out() {
    let dir = tempfile::tempdir().unwrap();
    let (db, reference) = seeded(dir.path());

    let text = stdout(&klachtd(&db, &["case", &reference]));
    assert!(text.contains("Attachments:"), "{text}");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("application/pdf"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains(".pdf") && !lines[0].contains("NOT READABLE"),
        "{text}"
    );
    assert!(
        lines[1].contains("scan.pdf") && lines[1].contains("NOT READABLE"),
        "{text}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&stdout(&klachtd(&db, &["case", &reference, "--json"]))).unwrap();
    let attachments = json["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 2);
    assert_eq!(attachments[0]["number"], 1);
    assert_eq!(attachments[0]["content_type"], "application/pdf");
    assert_eq!(attachments[0]["readable"], true);
    assert_eq!(attachments[1]["readable"], false);
    assert_eq!(attachments[1]["size"], 17);

    let out = dir.path().join("out.pdf");
    let written = stdout(&klachtd(
        &db,
        &[
            "attachment",
            &reference,
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    assert!(written.contains("written to"), "{written}");
    let bytes = std::fs::read(&out).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a complainant's file is for its owner only");
    assert!(bytes.starts_with(b"%PDF-"));
    assert_eq!(bytes.len() as u64, attachments[0]["size"].as_u64().unwrap());
    // Never overwrites, and a missing number is a clear error.
    let again = klachtd(
        &db,
        &[
            "attachment",
            &reference,
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!again.status.success());
    let missing = klachtd(&db, &["attachment", &reference, "3", "--out", "/tmp/never"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no attachment 3"));
}

#[test]
fn both_json_listings_write_times_with_z() {
    let dir = tempfile::tempdir().unwrap();
    let (db, reference) = seeded(dir.path());
    let cases: serde_json::Value =
        serde_json::from_str(&stdout(&klachtd(&db, &["cases", "--json"]))).unwrap();
    let listed = cases[0]["received_at"].as_str().unwrap().to_string();
    let case: serde_json::Value =
        serde_json::from_str(&stdout(&klachtd(&db, &["case", &reference, "--json"]))).unwrap();
    let shown = case["case"]["received_at"].as_str().unwrap().to_string();
    assert!(
        listed.ends_with('Z') && !listed.contains("+00:00"),
        "{listed}"
    );
    assert_eq!(listed, shown, "one format");
    for e in case["events"].as_array().unwrap() {
        assert!(e["at"].as_str().unwrap().ends_with('Z'), "{e}");
    }
}

#[test]
fn help_commands_follows_the_configured_language_and_demo_refuses_a_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("klachtd.toml");
    std::fs::write(&config, "[organisation]\nlanguage = \"en\"\n").unwrap();
    let db = dir.path().join("db.sqlite");
    let en = stdout(&klachtd(
        &db,
        &["--config", config.to_str().unwrap(), "help-commands"],
    ));
    assert!(en.starts_with("Working complaints by e-mail"), "{en}");
    let nl = stdout(&klachtd(&db, &["help-commands"]));
    assert!(nl.starts_with("Klachten afhandelen per e-mail"), "{nl}");
    let forced = stdout(&klachtd(
        &db,
        &[
            "--config",
            config.to_str().unwrap(),
            "help-commands",
            "--lang",
            "nl",
        ],
    ));
    assert!(forced.starts_with("Klachten afhandelen"));
    let demo = klachtd(&db, &["--config", config.to_str().unwrap(), "demo"]);
    assert_eq!(demo.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&demo.stderr).contains("never reads a configuration"));
}
