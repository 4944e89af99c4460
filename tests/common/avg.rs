//! A small organisation for the privacy tests (issue 25): two staff members with names, a
//! director, a committee, our own server vouching for staff mail, and helpers to take in a
//! complaint, a follow-up, a staff reply, and to read what was sent to whom.
#![allow(dead_code)] // each test binary uses a different part of the helpers

use super::world::World;
use chrono::{DateTime, TimeZone, Timelike, Utc};
use klachtd::domain::CaseRef;
use klachtd::inbound::{InboundMail, RawMail};
use klachtd::intake::IntakeResult;
use klachtd::settings::Settings;
use klachtd::store::outbox::{self, OutboxKind};
use klachtd::store::{CaseRecord, Store, cases};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const ANNA: &str = "anna.devries@example.org";
pub const PIETER: &str = "pieter.bakker@example.org";
pub const DIRECTOR: &str = "directie@example.org";
pub const COMMITTEE: &str = "examencommissie@example.org";

/// The organisation's configuration, with `extra` TOML appended (a `[privacy]` section …).
pub fn settings_with(extra: &str, env: &[(&str, &str)]) -> Settings {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("klachtd.toml");
    std::fs::write(
        &config,
        format!(
            "[roles]\nstaff = [\"{ANNA}\", \"{PIETER}\"]\ndirector = \"{DIRECTOR}\"\ncommittee = \"{COMMITTEE}\"\n\n\
             [roles.names]\n\"Anna de Vries\" = \"{ANNA}\"\n\"Pieter Bakker\" = \"{PIETER}\"\n\"Piet\" = \"{PIETER}\"\n\
             \"Marjolein Dijkstra\" = \"{DIRECTOR}\"\n\n[security]\ntrusted_authserv_id = \"mail.example.org\"\n\n{extra}\n"
        ),
    )
    .unwrap();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::load_with_env(Some(&config), env).unwrap()
}

pub fn world() -> World {
    World::new(settings_with("", &[]))
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Takes in `raw` as a new mailbox file.
pub fn take(world: &World, store: &mut Store, raw: String, now: DateTime<Utc>) -> IntakeResult {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    world
        .intake()
        .process(
            store,
            &RawMail {
                source_key: format!("m{n}"),
                bytes: raw.into_bytes(),
                arrived_at: Some(now),
            },
            now,
        )
        .unwrap()
}

/// A plain-text complaint from `from`.
pub fn complaint(
    world: &World,
    store: &mut Store,
    from: &str,
    subject: &str,
    body: &str,
    now: DateTime<Utc>,
) -> CaseRef {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let raw = format!(
        "From: Klager <{from}>\r\nTo: info@example.org\r\nSubject: {subject}\r\nMessage-ID: <c{n}.{}@example.net>\r\n\r\n{}\r\n",
        now.timestamp(),
        body.replace('\n', "\r\n")
    );
    take(world, store, raw, now).case.expect("a case")
}

/// A reply from the complainant on `case`.
pub fn follow_up(
    world: &World,
    store: &mut Store,
    from: &str,
    case: CaseRef,
    body: &str,
    now: DateTime<Utc>,
) -> IntakeResult {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let raw = format!(
        "From: <{from}>\r\nTo: info@example.org\r\nSubject: Re: {}\r\nMessage-ID: <f{n}@example.net>\r\n\r\n{}\r\n",
        case.tag(),
        body.replace('\n', "\r\n")
    );
    take(world, store, raw, now)
}

/// A reply from a role address on `case`, proven by our own server (`proven`) or not.
pub fn staff_reply(
    world: &World,
    store: &mut Store,
    from: &str,
    case: CaseRef,
    body: &str,
    proven: bool,
    now: DateTime<Utc>,
) -> IntakeResult {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let auth = if proven {
        format!(
            "Authentication-Results: mail.example.org; auth=pass smtp.auth={from}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\n"
        )
    } else {
        String::new()
    };
    let raw = format!(
        "{auth}From: <{from}>\r\nTo: info@example.org\r\nSubject: RE: {}\r\nMessage-ID: <s{n}@example.org>\r\n\r\n{}\r\n",
        case.tag(),
        body.replace('\n', "\r\n")
    );
    take(world, store, raw, now)
}

pub fn case(store: &Store, r: CaseRef) -> CaseRecord {
    cases::get(store.conn(), r).unwrap().unwrap()
}

/// Every mail queued so far: kind, recipients, and the decoded mail.
pub fn sent(store: &Store) -> Vec<(OutboxKind, Vec<String>, InboundMail)> {
    outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .map(|m| (m.kind, m.recipients, InboundMail::parse(&m.raw).unwrap()))
        .collect()
}

/// Everything a reader sees of a mail: subject, text and the HTML's text.
pub fn readable(mail: &InboundMail) -> String {
    format!(
        "{}\n{}\n{}",
        mail.subject,
        mail.text,
        klachtd::commands::new_text::html_to_lines(mail.html.as_deref().unwrap_or_default())
    )
}

/// The mails queued to `address` (of `kind`, when given).
pub fn to(store: &Store, address: &str, kind: Option<OutboxKind>) -> Vec<InboundMail> {
    sent(store)
        .into_iter()
        .filter(|(k, r, _)| r.iter().any(|a| a == address) && kind.is_none_or(|x| *k == x))
        .map(|(_, _, m)| m)
        .collect()
}

/// Who got a mail of `kind`, in queue order.
pub fn recipients_of(store: &Store, kind: OutboxKind) -> Vec<String> {
    sent(store)
        .into_iter()
        .filter(|(k, _, _)| *k == kind)
        .flat_map(|(_, r, _)| r)
        .collect()
}

/// A klachtd installation in a temporary directory (issue 25's dossier and erasure tests):
/// a Maildir in, `.eml` files out, the database on disk, a clock the test moves.
pub struct Office {
    pub dir: tempfile::TempDir,
    pub settings: Settings,
    pub clock: klachtd::clock::FixedClock,
}

impl Office {
    pub fn new(extra: &str) -> Office {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let settings = settings_with(
            &format!(
                "[store]\npath = \"{root}/klachtd.sqlite\"\n[inbound]\nmaildir = \"{root}/mail\"\n\
                 [outbound]\ndir = \"{root}/outbox\"\n{extra}"
            ),
            &[],
        );
        // The clock starts at the last 09:00 of the organisation's day before the real time, so
        // a test that moves it a few hours stays within one working day whenever it runs (at
        // 22:00 two hours crossed midnight: a second acknowledgement the same test did not
        // expect). A Maildir file's own time is the real one, later than the clock, so the
        // clock decides when mail arrived.
        let real = klachtd::clock::Clock::now(&klachtd::clock::SystemClock);
        let tz = settings.timezone();
        let local = real.with_timezone(&tz);
        let day = if local.hour() < 9 {
            local.date_naive().pred_opt().unwrap()
        } else {
            local.date_naive()
        };
        let start = tz
            .from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap())
            .earliest()
            .unwrap()
            .with_timezone(&Utc);
        let clock = klachtd::clock::FixedClock::at(start);
        Office {
            dir,
            settings,
            clock,
        }
    }

    pub fn daemon(&self) -> klachtd::service::daemon::Daemon {
        klachtd::service::daemon::Daemon::new(
            self.settings.clone(),
            std::sync::Arc::new(self.clock.clone()),
        )
        .unwrap()
    }

    /// Drops `raw` into the Maildir's `new/`.
    pub fn deliver(&self, raw: &str) {
        let md = klachtd::inbound::maildir::Maildir::open(&self.settings.inbound.maildir).unwrap();
        md.deliver(raw.as_bytes(), klachtd::clock::Clock::now(&self.clock))
            .unwrap();
    }

    /// `klachtd run --once`: takes in what waits, runs the jobs, sends (writes the files).
    pub fn run_once(&self) -> klachtd::service::daemon::RunReport {
        let daemon = self.daemon();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(daemon.run_once())
            .unwrap()
    }

    pub fn store(&self) -> Store {
        Store::open(&self.settings.store.path).unwrap()
    }

    pub fn now(&self) -> DateTime<Utc> {
        klachtd::clock::Clock::now(&self.clock)
    }

    /// Every file of the installation, with its bytes.
    pub fn files(&self) -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut todo = vec![self.dir.path().to_path_buf()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                let p = e.path();
                if p.is_dir() {
                    todo.push(p);
                } else if p.extension().is_none_or(|x| x != "toml") {
                    out.push((p.clone(), std::fs::read(&p).unwrap()));
                }
            }
        }
        out
    }
}

/// Where `needle` occurs in `files`, in any case, also across a quoted-printable soft line
/// break (a `.eml` file may wrap a long line anywhere).
pub fn found_in(files: &[(std::path::PathBuf, Vec<u8>)], needle: &[u8]) -> Vec<String> {
    let needle = needle.to_ascii_lowercase();
    files
        .iter()
        .filter(|(_, bytes)| {
            let lower = bytes.to_ascii_lowercase();
            if memchr::memmem::find(&lower, &needle).is_some() {
                return true;
            }
            let unwrapped: Vec<u8> = String::from_utf8_lossy(&lower)
                .replace("=\r\n", "")
                .replace("=\n", "")
                .into_bytes();
            memchr::memmem::find(&unwrapped, &needle).is_some()
        })
        .map(|(p, _)| p.display().to_string())
        .collect()
}
