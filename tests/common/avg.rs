//! A small organisation for the privacy tests (issue 25): two staff members with names, a
//! director, a committee, our own server vouching for staff mail, and helpers to take in a
//! complaint, a follow-up, a staff reply, and to read what was sent to whom.
#![allow(dead_code)] // each test binary uses a different part of the helpers

use super::world::World;
use chrono::{DateTime, Utc};
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
        format!("Authentication-Results: mail.example.org; auth=pass smtp.auth={from}\r\n")
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
        klachtd::commands::reply::html_to_lines(mail.html.as_deref().unwrap_or_default())
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
