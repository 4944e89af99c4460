//! `cargo bench --bench ingest`: how fast klachtd takes in mail, from raw bytes to a committed
//! case with its outbox rows, on a file-backed database (WAL, synchronous=FULL) like production.
//! Prints figures for docs; asserts nothing about time.

use chrono::{DateTime, Utc};
use klachtd::inbound::{InboundMail, RawMail};
use klachtd::intake::Intake;
use klachtd::outbound::Renderer;
use klachtd::settings::Settings;
use klachtd::store::Store;
use std::path::Path;
use std::time::Instant;

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// Gives copy `n` of a mail its own Message-ID and sender, so it is neither a duplicate nor
/// limited by the one-acknowledgement-per-day rule.
fn variant(raw: &[u8], n: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let mut out = format!("X-Bench-Copy: {n}\r\n");
    for line in text.split_inclusive('\n') {
        if line.to_ascii_lowercase().starts_with("message-id:") {
            out.push_str(&format!("Message-ID: <bench-{n}@example.net>\r\n"));
        } else {
            out.push_str(&line.replace("@ziggo.example", &format!("+{n}@ziggo.example")));
        }
    }
    out.into_bytes()
}

fn main() {
    let corpus = corpus();
    let rounds = 25;
    let mails: Vec<Vec<u8>> = (0..rounds)
        .flat_map(|r| {
            corpus
                .iter()
                .enumerate()
                .map(move |(i, m)| (r * 1000 + i, m))
        })
        .map(|(n, m)| variant(m, n))
        .collect();
    let bytes: usize = mails.iter().map(Vec::len).sum();

    let start = Instant::now();
    for m in &mails {
        std::hint::black_box(InboundMail::parse(m));
    }
    let parse = start.elapsed();

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.sqlite").display().to_string();
    let env = [
        ("KLACHTD__ROLES__STAFF", "anna.devries@example.org"),
        ("KLACHTD__STORE__PATH", db.as_str()),
    ];
    let settings =
        Settings::load_with_env(None, env.map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
    let calendar = settings.working_calendar();
    let renderer = Renderer::load(None).unwrap();
    let intake = Intake {
        settings: &settings,
        calendar: &calendar,
        renderer: &renderer,
        tz: settings.timezone(),
    };
    let mut store = Store::open(&settings.store.path).unwrap();
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-25T10:00:00+01:00")
        .unwrap()
        .to_utc();
    let start = Instant::now();
    let mut cases = 0;
    for (i, m) in mails.iter().enumerate() {
        let raw = RawMail {
            source_key: format!("bench:{i}"),
            bytes: m.clone(),
            arrived_at: None,
        };
        let result = intake.process(&mut store, &raw, now).unwrap();
        cases += usize::from(result.case.is_some());
    }
    let ingest = start.elapsed();
    let n = mails.len() as f64;
    println!(
        "corpus: {} mails ({} copies of {} samples), {:.1} MB",
        mails.len(),
        rounds,
        corpus.len(),
        bytes as f64 / 1e6
    );
    println!(
        "parse + decode:          {:>8.0} mails/s  ({:.2} ms/mail)",
        n / parse.as_secs_f64(),
        parse.as_secs_f64() * 1e3 / n
    );
    println!(
        "intake, committed (WAL, synchronous=FULL): {:>6.0} mails/s  ({:.2} ms/mail), {cases} cases",
        n / ingest.as_secs_f64(),
        ingest.as_secs_f64() * 1e3 / n
    );
}
