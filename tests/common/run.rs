//! An in-process register for scenario tests of casework and sender proof: one world
//! (Anna and Pieter staff, a director, a committee, `mail.example.org` the trusted server),
//! an in-memory store, mail taken in one by one, and what was recorded and queued.
#![allow(dead_code)] // each test binary uses a different part of the helpers

use super::world::World;
use chrono::{DateTime, Utc};
use klachtd::domain::CaseRef;
use klachtd::inbound::{InboundMail, RawMail};
use klachtd::intake::IntakeResult;
use klachtd::store::outbox::{self, OutboxKind, QueuedMail};
use klachtd::store::{Store, cases};
use mail_parser::MessageParser;

pub const ANNA: &str = "anna.devries@example.org";
pub const PIETER: &str = "pieter.bakker@example.org";
pub const KLAGER: &str = "klager@example.net";

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T10:00:00+01:00")
        .unwrap()
        .to_utc()
}

pub fn world_in(language: &str) -> World {
    World::with_env(&[
        ("KLACHTD__ORGANISATION__LANGUAGE", language),
        (
            "KLACHTD__ROLES__STAFF",
            "anna.devries@example.org,pieter.bakker@example.org",
        ),
        ("KLACHTD__ROLES__DIRECTOR", "directie@example.org"),
        ("KLACHTD__ROLES__COMMITTEE", "examencommissie@example.org"),
        ("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", "mail.example.org"),
    ])
}

pub struct Run {
    pub world: World,
    pub store: Store,
    pub n: usize,
}

impl Run {
    pub fn new() -> Run {
        Run::in_language("nl")
    }

    pub fn in_language(language: &str) -> Run {
        Run::in_world(world_in(language))
    }

    /// A run in a world of its own (other roles, another platform).
    pub fn in_world(world: World) -> Run {
        Run {
            world,
            store: Store::open_in_memory().unwrap(),
            n: 0,
        }
    }

    pub fn take_at(&mut self, raw: String, at: DateTime<Utc>) -> IntakeResult {
        self.n += 1;
        self.world
            .intake()
            .process(
                &mut self.store,
                &RawMail {
                    source_key: format!("m{}", self.n),
                    bytes: raw.into_bytes(),
                    arrived_at: Some(at),
                },
                at,
            )
            .unwrap()
    }

    pub fn take(&mut self, raw: String) -> IntakeResult {
        self.take_at(raw, t0())
    }

    pub fn complaint(&mut self, from: &str) -> CaseRef {
        let r = self.take(format!(
            "From: Klager <{from}>\r\nTo: info@example.org\r\nSubject: Klacht over de cursus\r\n\
             Message-ID: <c{}@example.net>\r\n\r\nIk ben niet tevreden over de cursus.\r\n",
            self.n
        ));
        r.case.unwrap()
    }

    pub fn status(&self, case: CaseRef) -> String {
        cases::get(self.store.conn(), case)
            .unwrap()
            .unwrap()
            .status
            .as_str()
            .to_string()
    }

    pub fn events(&self, case: CaseRef, kind: &str) -> Vec<(Option<String>, String)> {
        let id = cases::get(self.store.conn(), case).unwrap().unwrap().id;
        cases::events(self.store.conn(), id)
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| (e.actor, e.detail))
            .collect()
    }

    pub fn outbox(&self) -> Vec<QueuedMail> {
        outbox::all(self.store.conn()).unwrap()
    }

    /// The newest queued mail of `kind` to `to`.
    pub fn newest(&self, kind: OutboxKind, to: &str) -> QueuedMail {
        self.outbox()
            .into_iter()
            .rev()
            .find(|m| m.kind == kind && m.recipients.iter().any(|r| r == to))
            .unwrap_or_else(|| panic!("no {kind:?} to {to}"))
    }

    pub fn count(&self, kind: OutboxKind, to: &str) -> usize {
        self.outbox()
            .iter()
            .filter(|m| m.kind == kind && m.recipients.iter().any(|r| r == to))
            .count()
    }
}

pub fn text(m: &QueuedMail) -> String {
    InboundMail::parse(&m.raw).unwrap().text
}

pub fn subject(m: &QueuedMail) -> String {
    InboundMail::parse(&m.raw).unwrap().subject
}

/// A reply to `original` from `from`: To its Reply-To, threaded to it, `extra` headers added.
pub fn reply(original: &QueuedMail, from: &str, extra: &str, body: &str) -> String {
    let m = MessageParser::default().parse(&original.raw).unwrap();
    let to = m
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address.as_deref())
        .unwrap()
        .to_string();
    let id = m.message_id().unwrap();
    let quoted: String = text(original)
        .lines()
        .map(|l| format!("> {l}\r\n"))
        .collect();
    format!(
        "{extra}From: <{from}>\r\nTo: <{to}>\r\nSubject: RE: {}\r\nMessage-ID: <re-{}@client.example>\r\n\
         In-Reply-To: <{id}>\r\nReferences: <{id}>\r\n\r\n{body}\r\n\r\nOp dinsdag schreef Klachtenregistratie:\r\n{quoted}",
        subject(original),
        rand_suffix(body),
    )
}

pub fn rand_suffix(s: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    format!("{:x}", h.finish())
}

/// A mail with this From and nothing that proves it.
pub fn forged(from: &str, subject: &str, id: &str, body: &str) -> String {
    format!(
        "Authentication-Results: mail.example.org; spf=none smtp.mailfrom=relay.evil.example\r\n\
         Received: from relay.evil.example (relay.evil.example [203.0.113.9]) by mail.example.org; Tue, 24 Nov 2026 10:00:00 +0100\r\n\
         From: <{from}>\r\nTo: info@example.org\r\nSubject: {subject}\r\nMessage-ID: <{id}@evil.example>\r\n\r\n{body}\r\n"
    )
}

pub fn code_of(request: &QueuedMail) -> String {
    let t = text(request);
    let at = t.find("Bevestig ").expect("the request names the code");
    t[at + 9..at + 13].to_string()
}
