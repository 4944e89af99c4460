//! The guarantees of docs/RELIABILITY.md, checked on a database after a scenario: every mail
//! recorded once with a final outcome and its reason, every case acknowledged at most once,
//! no command mail applied twice, and an intact database.
#![allow(dead_code)] // each test binary uses a different part of the helpers

use klachtd::store::outbox::{self, OutboxKind, OutboxStatus};
use klachtd::store::{Store, cases, mails};
use std::collections::{HashMap, HashSet};

/// What the check found, for the report.
#[derive(Debug, Default)]
#[allow(dead_code)]
pub struct Summary {
    pub mails: usize,
    pub cases: usize,
    pub acknowledged: usize,
}

/// Panics with the first broken guarantee.
#[allow(dead_code)]
pub fn check(store: &Store) -> Summary {
    assert!(store.integrity_ok().unwrap(), "PRAGMA integrity_check");
    let ledger = mails::all(store.conn()).unwrap();
    let keys: HashSet<&str> = ledger.iter().map(|m| m.source_key.as_str()).collect();
    assert_eq!(keys.len(), ledger.len(), "a mail recorded twice");
    for m in &ledger {
        assert!(
            !m.reason.is_empty() && m.reason != "being processed",
            "{} has no final reason",
            m.source_key
        );
    }
    let all_cases = cases::list(store.conn()).unwrap();
    let mut acks: HashMap<String, usize> = HashMap::new();
    for m in outbox::all(store.conn()).unwrap() {
        if m.kind == OutboxKind::Acknowledgement {
            assert!(m.status != OutboxStatus::Queued || m.attempts == 0 || m.last_error.is_some());
            *acks.entry(m.case.unwrap().to_string()).or_default() += 1;
        }
    }
    for (case, n) in &acks {
        assert_eq!(*n, 1, "{case} has {n} acknowledgements queued");
    }
    // A staff command mail (by Message-ID) is applied to a case at most once.
    let applied: i64 = store
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM (SELECT message_id FROM mails WHERE message_id IS NOT NULL
               AND reason LIKE 'staff commands applied%' GROUP BY message_id HAVING COUNT(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(applied, 0, "a command mail was applied twice");
    Summary {
        mails: ledger.len(),
        cases: all_cases.len(),
        acknowledged: acks.len(),
    }
}
