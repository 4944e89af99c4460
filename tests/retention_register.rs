//! Retention over any register (issue 20): a register built by a random sequence of mails and
//! commands — complaints with attachments, follow-ups, third-party mail, proven and unproven
//! staff mail on a case and on none (held, with its confirmation token), confirmations,
//! robots, spam, unreadable and duplicate mail, outbox rows sent, queued and failed, sometimes
//! on top of a register written by an older schema — taken in by the real daemon (Maildir in,
//! file transport out) over weeks, then purged years later at a random moment. The purge must
//! succeed, leave the foreign keys and the file intact, and leave none of the data of a person
//! whose every trace is due in any file klachtd keeps: the database and its log after the
//! checkpoint (its columns read back, packed bodies unpacked, and its bytes searched for any
//! byte sequence of a purged value), the Maildir's copies and the file transport's `.eml` files
//! (searched raw and decoded). Data that is not due yet stays, and the yearly analysis of every
//! year is the same after the purge as before.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;
use klachtd::clock::FixedClock;
use klachtd::inbound::maildir::Maildir;
use klachtd::jobs::Jobs;
use klachtd::service::daemon::Daemon;
use klachtd::settings::Settings;
use klachtd::store::Store;
use klachtd::store::packed::{unpack, unpack_on};
use proptest::prelude::*;
use rusqlite::Connection;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const STAFF: &str = "anna@example.org";
const COMMITTEE: &str = "commissie@example.org";

fn local(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Amsterdam
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// One step of the generated history.
#[derive(Debug, Clone)]
enum Step {
    /// Person `p` complains (with a text attachment when set).
    Complaint { p: usize, attachment: bool },
    /// The complainant of case `c` writes again, under its tag.
    FollowUp { c: usize },
    /// Person `p` writes under case `c`'s tag without being its complainant.
    ThirdParty { p: usize, c: usize },
    /// Staff, proven by the trusted server, work case `c`.
    Staff { c: usize, command: Command },
    /// Staff mail without proof, naming case `c` or none: held, a confirmation requested.
    Unproven { c: Option<usize>, p: usize },
    /// The staff member confirms the latest held mail still open.
    Confirm,
    /// A robot (auto-reply) of person `p`.
    Robot { p: usize },
    /// Spam naming person `p`.
    Spam { p: usize },
    /// An unreadable mail (no From) whose subject names person `p`.
    Unreadable { p: usize },
    /// The `n`th mail delivered so far, delivered again.
    Duplicate { n: usize },
    /// An outbox row becomes a permanent failure (what a 5xx leaves), or — `later` — waits
    /// queued, tried and backed off far into the future (what a mailbox full for good leaves).
    Fail { n: usize, later: bool },
    /// Days pass.
    Wait { days: i64 },
}

#[derive(Debug, Clone, Copy)]
enum Command {
    Note,
    Reply,
    Close,
    Withdraw,
    Reopen,
    Appeal,
    /// From the committee.
    Verdict,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..6usize, any::<bool>()).prop_map(|(p, attachment)| Step::Complaint { p, attachment }),
        2 => (0..8usize).prop_map(|c| Step::FollowUp { c }),
        1 => (0..6usize, 0..8usize).prop_map(|(p, c)| Step::ThirdParty { p, c }),
        4 => (0..8usize, prop_oneof![
                Just(Command::Note), Just(Command::Reply), Just(Command::Close),
                Just(Command::Close), Just(Command::Withdraw), Just(Command::Reopen),
                Just(Command::Appeal), Just(Command::Verdict)
            ]).prop_map(|(c, command)| Step::Staff { c, command }),
        2 => (proptest::option::of(0..8usize), 0..6usize).prop_map(|(c, p)| Step::Unproven { c, p }),
        1 => Just(Step::Confirm),
        1 => (0..6usize).prop_map(|p| Step::Robot { p }),
        1 => (0..6usize).prop_map(|p| Step::Spam { p }),
        1 => (0..6usize).prop_map(|p| Step::Unreadable { p }),
        1 => (0..40usize).prop_map(|n| Step::Duplicate { n }),
        1 => (0..60usize, any::<bool>()).prop_map(|(n, later)| Step::Fail { n, later }),
        3 => (0i64..25).prop_map(|days| Step::Wait { days }),
    ]
}

/// A person's marker: unique to this run, so finding it anywhere means finding them.
fn marker(run: u32, p: usize) -> String {
    format!("pm{run:08x}x{p}")
}

struct Run {
    dir: tempfile::TempDir,
    settings: Settings,
    clock: FixedClock,
    daemon: Daemon,
    maildir: Maildir,
    runtime: tokio::runtime::Runtime,
    delivered: Vec<Vec<u8>>,
    seq: usize,
}

impl Run {
    fn new(start: DateTime<Utc>, old_register: bool) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("k.sqlite");
        if old_register {
            std::fs::copy(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/db/main-83095bd.sqlite"),
                &db,
            )
            .unwrap();
        }
        let env = [
            ("KLACHTD__ROLES__STAFF", STAFF.to_string()),
            ("KLACHTD__ROLES__DIRECTOR", "directie@example.org".into()),
            ("KLACHTD__ROLES__COMMITTEE", COMMITTEE.into()),
            (
                "KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID",
                "mail.example.org".into(),
            ),
            (
                "KLACHTD__INBOUND__MAILDIR",
                dir.path().join("mail").display().to_string(),
            ),
            (
                "KLACHTD__OUTBOUND__DIR",
                dir.path().join("outbox").display().to_string(),
            ),
            ("KLACHTD__STORE__PATH", db.display().to_string()),
        ];
        let settings =
            Settings::load_with_env(None, env.iter().map(|(k, v)| (k.to_string(), v.clone())))
                .unwrap();
        let clock = FixedClock::at(start);
        let daemon = Daemon::new(settings.clone(), Arc::new(clock.clone())).unwrap();
        let maildir = Maildir::open(&settings.inbound.maildir).unwrap();
        Run {
            dir,
            settings,
            clock,
            daemon,
            maildir,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            delivered: Vec::new(),
            seq: 0,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        klachtd::clock::Clock::now(&self.clock)
    }

    /// Delivers `raw` as the mail server would (the file's time is its arrival) and runs a
    /// `run --once` pass.
    fn deliver(&mut self, raw: Vec<u8>) {
        let key = self.maildir.deliver(&raw, self.now()).unwrap();
        let file = std::fs::File::options()
            .write(true)
            .open(self.maildir.root().join("new").join(&key))
            .unwrap();
        file.set_modified(self.now().into()).unwrap();
        self.delivered.push(raw);
        self.pass();
    }

    fn pass(&mut self) {
        self.runtime.block_on(self.daemon.run_once()).unwrap();
        self.clock.advance(Duration::minutes(7));
    }

    fn next_id(&mut self) -> usize {
        self.seq += 1;
        self.seq
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Store> {
        self.daemon.store()
    }

    /// The references of the cases in the register, oldest first.
    fn cases(&self) -> Vec<(String, Option<String>)> {
        let store = self.conn();
        let mut stmt = store
            .conn()
            .prepare("SELECT reference, complainant_address FROM cases ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

fn complaint(run: u32, p: usize, n: usize, attachment: bool) -> Vec<u8> {
    let m = marker(run, p);
    let body = format!(
        "Geachte heer, mevrouw,\r\n\r\nIk ben {m} en niet tevreden over de cursus: de docent kwam niet.\r\nMijn telefoon is {m}-tel.\r\n"
    );
    let head = format!(
        "From: {m} Jansen <{m}@example.net>\r\nTo: info@example.org\r\nSubject: Klacht van {m}\r\nMessage-ID: <c{n}.{m}@example.net>\r\nDate: Mon, 5 Jan 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
    );
    if attachment {
        format!(
            "{head}Content-Type: multipart/mixed; boundary=\"b{n}\"\r\n\r\n--b{n}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n--b{n}\r\nContent-Type: text/plain; name=\"bewijs-{m}.txt\"\r\nContent-Disposition: attachment; filename=\"bewijs-{m}.txt\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\nBewijsstuk van {m}: factuur 42.\r\n--b{n}--\r\n"
        )
        .into_bytes()
    } else {
        format!("{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}").into_bytes()
    }
}

fn staff_mail(from: &str, reference: &str, n: usize, text: &str, proven: bool) -> Vec<u8> {
    let proof = if proven {
        // The ESMTPSA entry line real servers write with the login (the sender proof reads both).
        format!(
            "Authentication-Results: mail.example.org; auth=pass smtp.auth={from}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\n"
        )
    } else {
        String::new()
    };
    format!(
        "{proof}From: Staf <{from}>\r\nTo: info@example.org\r\nSubject: RE: [{reference}]\r\nMessage-ID: <s{n}@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        text.replace('\n', "\r\n")
    )
    .into_bytes()
}

fn apply(r: &mut Run, id: u32, step: &Step) {
    let cases = r.cases();
    let case = |c: usize| cases.get(c % cases.len().max(1)).cloned();
    match step {
        Step::Complaint { p, attachment } => {
            let n = r.next_id();
            r.deliver(complaint(id, *p, n, *attachment));
        }
        Step::FollowUp { c } => {
            let Some((reference, Some(address))) = case(*c) else {
                return;
            };
            let n = r.next_id();
            let raw = format!(
                "From: <{address}>\r\nTo: info@example.org\r\nSubject: Re: [{reference}] mijn klacht\r\nMessage-ID: <f{n}@example.net>\r\n\r\nNog iets, {address} hier: het is nog niet opgelost.\r\n"
            );
            r.deliver(raw.into_bytes());
        }
        Step::ThirdParty { p, c } => {
            let Some((reference, _)) = case(*c) else {
                return;
            };
            let n = r.next_id();
            let m = marker(id, *p);
            let raw = format!(
                "From: {m} <{m}.derde@example.net>\r\nTo: info@example.org\r\nSubject: [{reference}] ik trek de klacht in\r\nMessage-ID: <t{n}@example.net>\r\n\r\nDit is {m}, een ander dan de klager.\r\n"
            );
            r.deliver(raw.into_bytes());
        }
        Step::Staff { c, command } => {
            let Some((reference, address)) = case(*c) else {
                return;
            };
            let who = address.unwrap_or_else(|| "de klager".into());
            let text = match command {
                Command::Note => format!("Notitie\n\nIk heb {who} gebeld."),
                Command::Reply => format!("Reactie\n\nGeachte {who}, wij kijken ernaar."),
                Command::Close => format!(
                    "Behandelaar: Anna de Vries\nOorzaak: planning\nOplossing: geld terug aan {who}\nAkkoord: ja\nAfgehandeld\n\nAfgesproken met {who}."
                ),
                Command::Withdraw => "Geen klacht".to_string(),
                Command::Reopen => "Heropen".to_string(),
                Command::Appeal => format!("Beroep: {who} gaat in beroep"),
                Command::Verdict => format!("Uitspraak: gegrond, {who} krijgt gelijk"),
            };
            let n = r.next_id();
            let from = match command {
                Command::Verdict => COMMITTEE,
                _ => STAFF,
            };
            r.deliver(staff_mail(from, &reference, n, &text, true));
        }
        Step::Unproven { c, p } => {
            let reference = c
                .and_then(case)
                .map(|(r, _)| r)
                .unwrap_or_else(|| "vraag".into());
            let n = r.next_id();
            let text = format!("Notitie\n\nGesprek met {} gehad.", marker(id, *p));
            r.deliver(staff_mail(STAFF, &reference, n, &text, false));
        }
        Step::Confirm => {
            let open: Option<(String, String)> = {
                let store = r.conn();
                store
                    .conn()
                    .query_row(
                        "SELECT h.code, o.message_id FROM held_commands h
                         JOIN tokens t ON t.held_id = h.id
                         JOIN outbox o ON o.kind = 'confirmation_request'
                              AND o.message_id LIKE '%' || t.token || '%'
                         WHERE h.resolved_at IS NULL ORDER BY h.id DESC LIMIT 1",
                        [],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .ok()
            };
            let Some((code, message_id)) = open else {
                return;
            };
            let n = r.next_id();
            let raw = format!(
                "From: Anna <{STAFF}>\r\nTo: info@example.org\r\nSubject: Re: bevestigen\r\nIn-Reply-To: <{message_id}>\r\nMessage-ID: <b{n}@example.org>\r\n\r\nBevestig {code}\r\n"
            );
            r.deliver(raw.into_bytes());
        }
        Step::Robot { p } => {
            let m = marker(id, *p);
            let n = r.next_id();
            let raw = format!(
                "From: {m} <{m}@example.net>\r\nTo: info@example.org\r\nSubject: Afwezig: {m}\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <r{n}@example.net>\r\n\r\nIk ben afwezig, {m}.\r\n"
            );
            r.deliver(raw.into_bytes());
        }
        Step::Spam { p } => {
            let m = marker(id, *p);
            let n = r.next_id();
            let raw = format!(
                "From: {m} <{m}@example.net>\r\nTo: info@example.org\r\nSubject: Win {m}\r\nX-Spam-Flag: YES\r\nMessage-ID: <x{n}@example.net>\r\n\r\nKoop nu, {m}.\r\n"
            );
            r.deliver(raw.into_bytes());
        }
        Step::Unreadable { p } => {
            let m = marker(id, *p);
            let n = r.next_id();
            let raw = format!(
                "To: info@example.org\r\nSubject: Klacht {m}\r\nMessage-ID: <u{n}@example.net>\r\n\r\nGeen afzender, {m}.\r\n"
            );
            r.deliver(raw.into_bytes());
        }
        Step::Duplicate { n } => {
            if r.delivered.is_empty() {
                return;
            }
            let raw = r.delivered[n % r.delivered.len()].clone();
            r.deliver(raw);
        }
        Step::Fail { n, later } => {
            let store = r.conn();
            let sql = if *later {
                "UPDATE outbox SET status = 'queued', attempts = 5, sent_at = NULL,
                     next_attempt_at = '2099-01-01T00:00:00Z', last_error = '452 mailbox full'
                 WHERE id = (SELECT id FROM outbox ORDER BY id LIMIT 1 OFFSET ?1)"
            } else {
                "UPDATE outbox SET status = 'failed', last_error = '550 no such user'
                 WHERE id = (SELECT id FROM outbox ORDER BY id LIMIT 1 OFFSET ?1)"
            };
            store.conn().execute(sql, [*n as i64]).unwrap();
        }
        Step::Wait { days } => {
            r.clock.advance(Duration::days(*days));
            r.pass();
        }
    }
}

/// Every text and blob in the database, packed bodies unpacked: (table, rowid, bytes).
fn database_values(conn: &Connection) -> Vec<(String, i64, Vec<u8>)> {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let basis: BTreeMap<i64, Vec<u8>> = conn
        .prepare("SELECT mail_id, deflated FROM mail_bodies")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, Vec<u8>>(1)?)))
        .unwrap()
        .map(|row| {
            let (id, packed) = row.unwrap();
            (id, unpack(&packed).unwrap())
        })
        .collect();
    let mut out = Vec::new();
    for table in tables {
        let packed_on = matches!(table.as_str(), "case_texts" | "outbox_bodies");
        let mut stmt = conn
            .prepare(&format!("SELECT rowid, * FROM \"{table}\""))
            .unwrap();
        let columns: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let rowid: i64 = row.get(0).unwrap();
            for (i, column) in columns.iter().enumerate().skip(1) {
                let value = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(t) => t.to_vec(),
                    rusqlite::types::ValueRef::Blob(b) => b.to_vec(),
                    _ => continue,
                };
                let value = if column == "deflated" && table == "mail_bodies" {
                    unpack(&value).unwrap()
                } else if column == "deflated" && packed_on {
                    let on: Option<i64> = row.get("basis").unwrap();
                    match on {
                        Some(b) => unpack_on(&value, &basis[&b]).unwrap(),
                        None => unpack(&value).unwrap(),
                    }
                } else {
                    value
                };
                out.push((format!("{table}.{column}"), rowid, value));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir`, with its bytes and (for mail) its decoded text.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            if meta.is_dir() {
                todo.push(entry.path());
            } else if meta.is_file() {
                let mut bytes = std::fs::read(entry.path()).unwrap();
                if let Some(mail) = mail_parser::MessageParser::default().parse(&bytes[..]) {
                    let mut decoded = Vec::new();
                    for part in mail.parts.iter() {
                        decoded.extend_from_slice(part.contents());
                    }
                    for h in mail.headers() {
                        decoded.extend_from_slice(format!("{:?}", h.value()).as_bytes());
                    }
                    bytes.extend(decoded);
                }
                out.push((entry.path(), bytes));
            }
        }
    }
    out
}

/// Byte sequences of a purged value that no kept value holds: windows of 24 bytes.
fn purged_windows(
    raw_before: &[(String, i64, Vec<u8>)],
    after: &[(String, i64, Vec<u8>)],
) -> Vec<(String, Vec<u8>)> {
    let kept: HashSet<(&str, i64, &[u8])> = after
        .iter()
        .map(|(c, id, v)| (c.as_str(), *id, v.as_slice()))
        .collect();
    let mut windows = Vec::new();
    for (column, id, value) in raw_before {
        if value.len() < 48 || kept.contains(&(column.as_str(), *id, value.as_slice())) {
            continue;
        }
        for at in [0, value.len() / 2, value.len() - 24] {
            windows.push((
                format!("{column} row {id} at {at}"),
                value[at..at + 24].to_vec(),
            ));
        }
    }
    // Only those no value kept holds as well (a shared prefix of two deflate streams).
    windows.retain(|(_, w)| !after.iter().any(|(_, _, v)| contains(v, w)));
    windows
}

/// The stored bytes as they lie in the file (packed, not unpacked): (column, rowid, bytes).
fn stored_values(conn: &Connection) -> Vec<(String, i64, Vec<u8>)> {
    let mut out = Vec::new();
    for (table, column) in [
        ("mail_bodies", "deflated"),
        ("case_texts", "deflated"),
        ("outbox_bodies", "deflated"),
        ("attachments", "data"),
        ("mails", "raw"),
        ("outbox", "raw"),
        ("cases", "body"),
    ] {
        let mut stmt = conn
            .prepare(&format!("SELECT rowid, \"{column}\" FROM \"{table}\""))
            .unwrap();
        let rows = stmt
            .query_map([], |r| {
                let v = match r.get_ref(1)? {
                    rusqlite::types::ValueRef::Text(t) => t.to_vec(),
                    rusqlite::types::ValueRef::Blob(b) => b.to_vec(),
                    _ => Vec::new(),
                };
                Ok((format!("{table}.{column}"), r.get::<_, i64>(0)?, v))
            })
            .unwrap();
        out.extend(rows.map(|r| r.unwrap()));
    }
    out
}

/// When each case ended, by the rule of the procedure (closed, verdict, or withdrawn at receipt).
fn ended(conn: &Connection) -> BTreeMap<i64, Option<DateTime<Utc>>> {
    conn.prepare("SELECT id, status, closed_at, verdict_at, received_at FROM cases")
        .unwrap()
        .query_map([], |r| {
            let status: String = r.get(1)?;
            let t = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
                Ok(r.get::<_, Option<String>>(i)?.map(|s| {
                    DateTime::parse_from_rfc3339(&s)
                        .unwrap()
                        .with_timezone(&Utc)
                }))
            };
            let end = match status.as_str() {
                "closed" => t(2)?,
                "final" => t(3)?.or(t(2)?),
                "withdrawn" => t(4)?,
                _ => None,
            };
            Ok((r.get(0)?, end))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Where a marker lies before the purge: the cases it is on, and the moments of the caseless
/// rows (received mail, mail sent to no case, held mail) that hold it.
#[derive(Debug, Default)]
struct Traces {
    cases: BTreeSet<i64>,
    caseless: Vec<DateTime<Utc>>,
}

fn traces(conn: &Connection, m: &str) -> Traces {
    let mut t = Traces::default();
    let at = |s: &Option<String>| {
        DateTime::parse_from_rfc3339(s.as_deref().unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    // Received mail, its sender and its bytes (packed or from before schema 7).
    let mut stmt = conn
        .prepare(
            "SELECT m.case_id, b.deflated, m.raw, COALESCE(m.sender, '') || m.reason, m.received_at
             FROM mails m LEFT JOIN mail_bodies b ON b.mail_id = m.id",
        )
        .unwrap();
    type Row = (Option<i64>, Option<Vec<u8>>, Vec<u8>, String, String);
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for (case, packed, raw, text, received) in rows {
        let bytes = match packed {
            Some(p) => unpack(&p).unwrap(),
            None => raw,
        };
        if contains(&bytes, m.as_bytes()) || text.contains(m) {
            match case {
                Some(c) => {
                    t.cases.insert(c);
                }
                None => t.caseless.push(at(&Some(received))),
            }
        }
    }
    // Mail sent: on a case, or to no case (a notice to the director about a quarantined mail).
    let all = database_values(conn);
    let outbox_rows: BTreeMap<i64, (Option<i64>, String)> = conn
        .prepare("SELECT id, case_id, created_at FROM outbox")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let held_rows: BTreeMap<i64, (Option<i64>, String)> = conn
        .prepare("SELECT id, case_id, held_at FROM held_commands")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let case_of: BTreeMap<(String, i64), i64> = [
        ("case_texts", "case_id"),
        ("events", "case_id"),
        ("attachments", "case_id"),
        ("acknowledgements", "case_id"),
    ]
    .iter()
    .flat_map(|(table, col)| {
        conn.prepare(&format!("SELECT rowid, {col} FROM {table}"))
            .unwrap()
            .query_map([], |r| Ok(((table.to_string(), r.get(0)?), r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect::<Vec<_>>()
    })
    .collect();
    for (column, rowid, value) in &all {
        if !contains(value, m.as_bytes()) {
            continue;
        }
        let table = column.split('.').next().unwrap();
        match table {
            "cases" => {
                t.cases.insert(*rowid);
            }
            "outbox" | "outbox_bodies" => {
                let (case, created) = &outbox_rows[rowid];
                match case {
                    Some(c) => {
                        t.cases.insert(*c);
                    }
                    None => t.caseless.push(at(&Some(created.clone()))),
                }
            }
            "held_commands" => {
                let (case, held) = &held_rows[rowid];
                if let Some(c) = case {
                    t.cases.insert(*c);
                }
                t.caseless.push(at(&Some(held.clone())));
            }
            "mails" | "mail_bodies" => {} // above
            // The outbound budget's counts (issue 22) name a mailbox for days only: pruned by
            // the budget and by every purge, they never decide whose data is due.
            "outbox_budget" | "outbox_rollup" => {}
            other => {
                let c = case_of
                    .get(&(other.to_string(), *rowid))
                    .unwrap_or_else(|| panic!("{column} holds a marker: where does it belong?"));
                t.cases.insert(*c);
            }
        }
    }
    t
}

proptest! {
    // 10 registers per CI run; `KLACHTD_LONG=1` builds 200.
    #![proptest_config(ProptestConfig {
        cases: if std::env::var("KLACHTD_LONG").is_ok_and(|v| v == "1") { 200 } else { 10 },
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_purge_succeeds_on_any_register_and_leaves_nothing_of_whom_it_purged(
        id in any::<u32>(),
        old_register in proptest::bool::weighted(0.3),
        steps in proptest::collection::vec(step(), 4..36),
        later in prop_oneof![0i64..240, 1000i64..1100],
        settle_all in any::<bool>(),
    ) {
        let start = local(2026, 12, 1, 9);
        let mut r = Run::new(start, old_register);
        for s in &steps {
            apply(&mut r, id, s);
        }
        if settle_all {
            // Half the histories end with every case closed, so that everything falls due.
            for c in 0..r.cases().len() {
                apply(&mut r, id, &Step::Staff { c, command: Command::Close });
                apply(&mut r, id, &Step::Staff { c, command: Command::Verdict });
            }
        }
        // Years later, at a moment after the nightly purge's time: some of the register is
        // due, some not yet.
        let end = local(2028, 12, 1, 3) + Duration::days(later);
        let cutoff = end.checked_sub_months(chrono::Months::new(24)).unwrap();
        let (markers_due, markers_kept, raw_before, years) = {
            let store = r.conn();
            let conn = store.conn();
            let ended = ended(conn);
            let mut due = Vec::new();
            let mut kept = Vec::new();
            for p in 0..6 {
                let m = marker(id, p);
                let t = traces(conn, &m);
                if t.cases.is_empty() && t.caseless.is_empty() {
                    continue;
                }
                let all_due = t.cases.iter().all(|c| ended[c].is_some_and(|e| e < cutoff))
                    && t.caseless.iter().all(|at| *at < cutoff);
                if all_due { due.push(m) } else { kept.push(m) }
            }
            let years: BTreeSet<i32> = conn
                .prepare("SELECT DISTINCT year FROM cases").unwrap()
                .query_map([], |r| r.get(0)).unwrap()
                .map(|r| r.unwrap()).collect();
            (due, kept, stored_values(conn), years)
        };
        let report = |r: &Run| -> Vec<String> {
            let intake = klachtd::intake::Intake {
                settings: &r.settings,
                calendar: &r.settings.working_calendar(),
                renderer: &klachtd::outbound::Renderer::load(None).unwrap(),
                tz: r.settings.timezone(),
            };
            let jobs = Jobs { intake: &intake };
            let store = r.conn();
            years.iter().map(|y| {
                let mut csv = Vec::new();
                jobs.write_report_csv(store.conn(), *y, &mut csv).unwrap();
                String::from_utf8(csv).unwrap()
            }).collect()
        };
        let analysis_before = report(&r);
        r.clock.set(end);
        r.pass();
        r.pass();
        let analysis_after = report(&r);
        prop_assert_eq!(analysis_before, analysis_after, "the analysis of a year changed");
        let (after, raw_after) = {
            let store = r.conn();
            let conn = store.conn();
            prop_assert!(store.integrity_ok().unwrap());
            let broken: Vec<String> = conn
                .prepare("PRAGMA foreign_key_check").unwrap()
                .query_map([], |r| r.get::<_, String>(0)).unwrap()
                .map(|r| r.unwrap()).collect();
            prop_assert!(broken.is_empty(), "foreign keys broken in {:?}", broken);
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
            (database_values(conn), stored_values(conn))
        };
        // The database, read back.
        for m in &markers_due {
            for (column, rowid, value) in &after {
                prop_assert!(!contains(value, m.as_bytes()), "{} (row {}) still holds {}", column, rowid, m);
            }
        }
        for m in &markers_kept {
            prop_assert!(
                after.iter().any(|(_, _, v)| contains(v, m.as_bytes())),
                "{} is not due yet, but went", m
            );
        }
        // Every file, byte by byte: the database, its log, the Maildir, the outbox.
        let windows = purged_windows(&raw_before, &raw_after);
        let all_files = files(r.dir.path());
        for (path, bytes) in &all_files {
            for m in &markers_due {
                prop_assert!(!contains(bytes, m.as_bytes()), "{} still holds {}", path.display(), m);
            }
            let name = path.file_name().unwrap().to_string_lossy();
            if name.starts_with("k.sqlite") {
                for (whence, w) in &windows {
                    let at = bytes.windows(w.len()).position(|x| x == w.as_slice());
                    let page = at.map(|a| a / 4096 + 1);
                    let owner: Option<String> = page.and_then(|p| {
                        Connection::open(path).ok().and_then(|c| {
                            c.query_row("SELECT name || ' ' || pagetype FROM dbstat WHERE pageno = ?1", [p as i64], |r| r.get(0)).ok()
                        })
                    });
                    prop_assert!(at.is_none(), "{} still holds bytes of a purged value ({}) at {:?}, page {:?} of {:?}", path.display(), whence, at, page, owner);
                }
            }
        }
        prop_assert_eq!(r.maildir.count("new"), 0);
    }
}

/// klachtd (the binary) on a Maildir and an outbox directory in `dir`, acting as of `now`.
fn klachtd(dir: &Path, now: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_klachtd"))
        .args(args)
        .args(["--now", now])
        .env("KLACHTD_LOG", "warn")
        .env("KLACHTD__STORE__PATH", dir.join("k.sqlite"))
        .env("KLACHTD__INBOUND__MAILDIR", dir.join("mail"))
        .env("KLACHTD__OUTBOUND__DIR", dir.join("outbox"))
        .env("KLACHTD__ROLES__STAFF", STAFF)
        .env("KLACHTD__ROLES__DIRECTOR", "directie@example.org")
        .output()
        .unwrap()
}

fn drop_mail(dir: &Path, name: &str, raw: &str, at: DateTime<Utc>) {
    let new = dir.join("mail/new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::write(new.join(name), raw).unwrap();
    std::fs::File::options()
        .write(true)
        .open(new.join(name))
        .unwrap()
        .set_modified(at.into())
        .unwrap();
}

fn outbox_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Issue 20, observed 1 and 3: a staff member writing to info@ directly (no case named, no
/// proof) leaves a held mail without a case and a confirmation token pointing at it. Two years
/// on, the purge deleted the held mail before the token (`FOREIGN KEY constraint failed`), so
/// every `purge` and `run --once` failed from then on and new acknowledgements stayed queued;
/// and the file transport kept every `.eml` it ever wrote.
#[test]
fn a_held_mail_without_a_case_is_purged_with_its_token_and_sending_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let then = local(2026, 12, 1, 10);
    drop_mail(
        d,
        "1.staff",
        &format!(
            "From: Anna <{STAFF}>\r\nTo: info@example.org\r\nSubject: vraag over de planning\r\nMessage-ID: <q1@example.org>\r\n\r\nNotitie\r\n\r\nMevrouw geheimenaam belde.\r\n"
        ),
        then,
    );
    let out = klachtd(d, "2026-12-01T10:05:00+01:00", &["run", "--once"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let old_files = outbox_files(d);
    assert!(
        old_files.iter().any(|f| f.contains(".confirm.")),
        "a confirmation request went out: {old_files:?}"
    );
    {
        let conn = Connection::open(d.join("k.sqlite")).unwrap();
        let held: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM held_commands h JOIN tokens t ON t.held_id = h.id
                 WHERE h.case_id IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(held, 1, "held without a case, a token pointing at it");
    }
    // Two years and a few days later a complaint arrives; the nightly purge is due.
    let later = local(2028, 12, 5, 10);
    drop_mail(
        d,
        "2.complaint",
        "From: Nieuwe Klager <nieuw@example.net>\r\nTo: info@example.org\r\nSubject: Klacht\r\nMessage-ID: <n1@example.net>\r\n\r\nDe cursus ging niet door.\r\n",
        later,
    );
    let out = klachtd(d, "2028-12-05T10:05:00+01:00", &["run", "--once"]);
    assert!(
        out.status.success(),
        "run --once failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = klachtd(d, "2028-12-05T10:06:00+01:00", &["purge"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = outbox_files(d);
    assert!(
        files.iter().any(|f| f.contains(".ack.")),
        "the new complaint was acknowledged: {files:?}"
    );
    for f in &old_files {
        assert!(!files.contains(f), "{f} was kept past the retention period");
    }
    let conn = Connection::open(d.join("k.sqlite")).unwrap();
    let left: i64 = conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM held_commands) + (SELECT COUNT(*) FROM tokens
                     WHERE issued_at < '2027-01-01')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "the held mail and its token went");
    let sender: Option<String> = conn
        .query_row(
            "SELECT sender FROM mails WHERE source_key = 'maildir:1.staff'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sender, None);
}
