//! The `outbox` table: mail waiting to be sent, queued in the same transaction as the change
//! that caused it, with its Message-ID fixed at queue time, then marked by the sender.

use super::packed::Basis;
use super::{parse_ts, ts};
use crate::domain::CaseRef;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use std::fmt;
use std::str::FromStr;

/// What a queued mail is for; the sender does not care, the register and the tests do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxKind {
    Acknowledgement,
    StaffNotification,
    FollowUpNotification,
    DirectorNotice,
    Reaction,
    ClosingLetter,
    VerdictLetter,
    ExtensionNotice,
    Transcript,
    Escalation,
    Appeal,
    ConfirmationRequest,
    /// A notice to a role address about mail in its name that proves nothing (a "Niet
    /// verwerkt" notice): limited per day together with confirmation requests.
    UnprovenNotice,
    Reminder,
    OverdueAlert,
    Digest,
    AnnualReport,
    /// The summary of mail the outbound budget held back (issue 22).
    Summary,
}

impl OutboxKind {
    pub const ALL: [OutboxKind; 18] = [
        Self::Acknowledgement,
        Self::StaffNotification,
        Self::FollowUpNotification,
        Self::DirectorNotice,
        Self::Reaction,
        Self::ClosingLetter,
        Self::VerdictLetter,
        Self::ExtensionNotice,
        Self::Transcript,
        Self::Escalation,
        Self::Appeal,
        Self::ConfirmationRequest,
        Self::UnprovenNotice,
        Self::Reminder,
        Self::OverdueAlert,
        Self::Digest,
        Self::AnnualReport,
        Self::Summary,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledgement => "acknowledgement",
            Self::StaffNotification => "staff_notification",
            Self::FollowUpNotification => "follow_up_notification",
            Self::DirectorNotice => "director_notice",
            Self::Reaction => "reaction",
            Self::ClosingLetter => "closing_letter",
            Self::VerdictLetter => "verdict_letter",
            Self::ExtensionNotice => "extension_notice",
            Self::Transcript => "transcript",
            Self::Escalation => "escalation",
            Self::Appeal => "appeal",
            Self::ConfirmationRequest => "confirmation_request",
            Self::UnprovenNotice => "unproven_notice",
            Self::Reminder => "reminder",
            Self::OverdueAlert => "overdue_alert",
            Self::Digest => "digest",
            Self::AnnualReport => "annual_report",
            Self::Summary => "summary",
        }
    }

    /// The short word in our Message-IDs (`<kl-2026-0042.ack.…@example.org>`).
    pub fn id_tag(self) -> &'static str {
        match self {
            Self::Acknowledgement => "ack",
            Self::StaffNotification => "new",
            Self::FollowUpNotification => "followup",
            Self::DirectorNotice => "notice",
            Self::Reaction => "reaction",
            Self::ClosingLetter => "closed",
            Self::VerdictLetter => "verdict",
            Self::ExtensionNotice => "extended",
            Self::Transcript => "transcript",
            Self::Escalation => "escalation",
            Self::Appeal => "appeal",
            Self::ConfirmationRequest => "confirm",
            Self::UnprovenNotice => "unproven",
            Self::Reminder => "reminder",
            Self::OverdueAlert => "overdue",
            Self::Digest => "digest",
            Self::AnnualReport => "report",
            Self::Summary => "summary",
        }
    }

    /// Whether the mail goes to the complainant.
    pub fn to_complainant(self) -> bool {
        matches!(
            self,
            Self::Acknowledgement
                | Self::Reaction
                | Self::ClosingLetter
                | Self::VerdictLetter
                | Self::ExtensionNotice
        )
    }
}

impl FromStr for OutboxKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown outbox kind '{s}'"))
    }
}

/// Where a queued mail stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    Queued,
    Sent,
    Failed,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for OutboxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutboxStatus {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Queued, Self::Sent, Self::Failed]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown outbox status '{s}'"))
    }
}

/// A mail in the outbox.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: i64,
    pub message_id: String,
    pub case: Option<CaseRef>,
    pub kind: OutboxKind,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub raw: Vec<u8>,
    pub status: OutboxStatus,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A finished message ready to queue.
pub struct Outgoing<'a> {
    pub message_id: &'a str,
    pub case_id: Option<i64>,
    pub kind: OutboxKind,
    pub envelope_from: &'a str,
    pub recipients: &'a [String],
    pub raw: &'a [u8],
    /// The case's complaint, when the mail is for a case with one kept: packed on it when that
    /// is worth it ([`super::packed::worth_packing_on`]), else alone.
    pub basis: Option<&'a Basis>,
}

/// Queues a mail, due at once.
pub fn queue(conn: &Connection, mail: &Outgoing<'_>, now: DateTime<Utc>) -> anyhow::Result<i64> {
    queue_at(conn, mail, now, now)
}

/// Queues a mail, due at `due` (not before `now`).
pub fn queue_at(
    conn: &Connection,
    mail: &Outgoing<'_>,
    now: DateTime<Utc>,
    due: DateTime<Utc>,
) -> anyhow::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO outbox (message_id, case_id, kind, envelope_from, recipients, raw, status, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?8, ?7)",
    )?
    .execute(params![
            mail.message_id,
            mail.case_id,
            mail.kind.as_str(),
            mail.envelope_from,
            serde_json::to_string(mail.recipients)?,
            &[] as &[u8],
            ts(now),
            ts(due.max(now)),
    ])?;
    let id = conn.last_insert_rowid();
    let (packed, basis) = match mail.basis {
        Some(basis) if super::packed::worth_packing_on(mail.raw, &basis.raw) => (
            super::packed::pack_on(mail.raw, &basis.raw),
            Some(basis.mail_id),
        ),
        _ => (super::packed::pack(mail.raw), None),
    };
    conn.prepare_cached(
        "INSERT INTO outbox_bodies (outbox_id, deflated, basis) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![id, packed, basis])?;
    Ok(id)
}

const COLUMNS: &str = "o.id, o.message_id, c.reference, o.kind, o.envelope_from, o.recipients,
    COALESCE(b.deflated, o.raw), o.status, o.attempts, o.next_attempt_at, o.last_error,
    o.created_at, o.sent_at, b.deflated IS NOT NULL, b.basis, mb.deflated";

/// The complaint last unpacked while reading queued mail: the mails of one case packed on it
/// (its staff notices, a reaction quoting it) are usually read together.
type LastBasis = Option<(i64, Vec<u8>)>;

fn from_row(r: &rusqlite::Row<'_>, last: &mut LastBasis) -> anyhow::Result<QueuedMail> {
    Ok(QueuedMail {
        id: r.get(0)?,
        message_id: r.get(1)?,
        case: r
            .get::<_, Option<String>>(2)?
            .map(|s| s.parse())
            .transpose()?,
        kind: r.get::<_, String>(3)?.parse()?,
        envelope_from: r.get(4)?,
        recipients: serde_json::from_str(&r.get::<_, String>(5)?)?,
        // Packed on its case's complaint (schema 10 on), packed alone (7 on), or as written
        // before.
        raw: match (
            r.get::<_, Option<i64>>(14)?,
            r.get_ref(15)?.as_blob_or_null()?,
        ) {
            (Some(mail_id), Some(basis)) => {
                if last.as_ref().is_none_or(|(id, _)| *id != mail_id) {
                    *last = Some((mail_id, super::packed::unpack(basis)?));
                }
                let basis = last
                    .as_ref()
                    .map(|(_, raw)| raw.as_slice())
                    .unwrap_or_default();
                super::packed::unpack_on(&r.get::<_, Vec<u8>>(6)?, basis)?
            }
            (Some(_), None) => {
                anyhow::bail!("the complaint this queued mail is packed on is gone")
            }
            (None, _) => super::packed::stored(r.get(6)?, r.get(13)?)?,
        },
        status: r.get::<_, String>(7)?.parse()?,
        attempts: r.get(8)?,
        next_attempt_at: parse_ts(&r.get::<_, String>(9)?)?,
        last_error: r.get(10)?,
        created_at: parse_ts(&r.get::<_, String>(11)?)?,
        sent_at: r
            .get::<_, Option<String>>(12)?
            .as_deref()
            .map(parse_ts)
            .transpose()?,
    })
}

fn select(
    conn: &Connection,
    filter: &str,
    args: impl rusqlite::Params,
) -> anyhow::Result<Vec<QueuedMail>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox o LEFT JOIN cases c ON c.id = o.case_id
         LEFT JOIN outbox_bodies b ON b.outbox_id = o.id
         LEFT JOIN mail_bodies mb ON mb.mail_id = b.basis {filter}"
    ))?;
    let mut rows = stmt.query(args)?;
    let mut out = Vec::new();
    let mut last = None;
    while let Some(row) = rows.next()? {
        out.push(from_row(row, &mut last)?);
    }
    Ok(out)
}

/// The heads' ids first (the subquery), walking only the queued rows in id order
/// (outbox_queued), each checked against its own case's rows; then the whole rows and bodies
/// of those ids only. One statement, so one read transaction (and one pair of lock calls) for
/// the batch instead of one per mail.
static DUE_HEADS_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS} FROM outbox o LEFT JOIN cases c ON c.id = o.case_id
         LEFT JOIN outbox_bodies b ON b.outbox_id = o.id
         LEFT JOIN mail_bodies mb ON mb.mail_id = b.basis
         WHERE o.id IN (
             SELECT q.id FROM outbox q INDEXED BY outbox_queued
             WHERE q.status = 'queued' AND q.next_attempt_at <= ?1
               AND NOT EXISTS (
                   SELECT 1 FROM outbox p INDEXED BY outbox_case
                   WHERE p.case_id = q.case_id AND p.status = 'queued' AND p.id < q.id
                     AND p.recipients = q.recipients)
             ORDER BY q.id LIMIT ?2)
         ORDER BY o.id"
    )
});

/// Up to `limit` queued mails due at `now`, oldest first, each the first still waiting of its
/// case and recipients: no two of the same chain, so they may be sent side by side without
/// changing the order anyone sees.
pub fn due_heads(
    conn: &Connection,
    now: DateTime<Utc>,
    limit: usize,
) -> anyhow::Result<Vec<QueuedMail>> {
    let mut stmt = conn.prepare_cached(&DUE_HEADS_SQL)?;
    let mut rows = stmt.query(params![ts(now), limit as i64])?;
    let mut out = Vec::with_capacity(limit);
    let mut last = None;
    while let Some(row) = rows.next()? {
        out.push(from_row(row, &mut last)?);
    }
    Ok(out)
}

/// When the next queued mail falls due, if anything is queued.
pub fn next_attempt_at(conn: &Connection) -> anyhow::Result<Option<DateTime<Utc>>> {
    let s: Option<String> = conn
        .query_row(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'queued'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok(s.as_deref().map(parse_ts).transpose()?)
}

/// Until when sending is paused because the server itself could not be used (connection,
/// TLS, login, or several recipients failing in a row), if it is.
pub fn paused_until(
    conn: &Connection,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let s: Option<String> = conn
        .query_row("SELECT until FROM outbox_pause WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(s.as_deref()
        .map(parse_ts)
        .transpose()?
        .filter(|until| *until > now))
}

/// How many times in a row the server has been found unusable (0 when it works).
pub fn server_failures(conn: &Connection) -> anyhow::Result<u32> {
    Ok(conn
        .query_row("SELECT failures FROM outbox_pause WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(0))
}

/// Pauses all sending until `until` after the server failed (`failures` in a row).
pub fn pause(
    conn: &Connection,
    until: DateTime<Utc>,
    reason: &str,
    failures: u32,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO outbox_pause (id, until, reason, failures) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET until = excluded.until, reason = excluded.reason,
             failures = excluded.failures",
        params![ts(until), reason, failures],
    )?;
    Ok(())
}

/// The server works again.
pub fn unpause(conn: &Connection) -> anyhow::Result<()> {
    // By its key: a DELETE of the whole table rewrites its root page even when it is empty,
    // and this runs with every batch of mail marked sent.
    conn.prepare_cached("DELETE FROM outbox_pause WHERE id = 1")?
        .execute([])?;
    Ok(())
}

/// When the worker next has something to do.
pub fn resume_at(conn: &Connection, now: DateTime<Utc>) -> anyhow::Result<Option<DateTime<Utc>>> {
    match paused_until(conn, now)? {
        Some(until) => Ok(Some(until)),
        None => next_attempt_at(conn),
    }
}

/// Everything in the outbox, oldest first.
pub fn all(conn: &Connection) -> anyhow::Result<Vec<QueuedMail>> {
    select(conn, "ORDER BY o.id", [])
}

/// Mail queued after the row `id`, oldest first (what one step of a test caused).
pub fn after(conn: &Connection, id: i64) -> anyhow::Result<Vec<QueuedMail>> {
    select(conn, "WHERE o.id > ?1 ORDER BY o.id", params![id])
}

/// Queued mail `id`, however its body is stored (alone, on its complaint, as written before).
pub fn by_id(conn: &Connection, id: i64) -> anyhow::Result<Option<QueuedMail>> {
    Ok(select(conn, "WHERE o.id = ?1", params![id])?.pop())
}

/// How many of a case's mails failed for good (indexed on `case_id`; no bodies read).
pub fn failed_count(conn: &Connection, case_id: i64) -> anyhow::Result<usize> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM outbox WHERE case_id = ?1 AND status = 'failed'",
        params![case_id],
        |r| r.get(0),
    )?;
    Ok(n as usize)
}

/// Mail queued for one case, oldest first.
pub fn for_case(conn: &Connection, case_id: i64) -> anyhow::Result<Vec<QueuedMail>> {
    select(conn, "WHERE o.case_id = ?1 ORDER BY o.id", params![case_id])
}

/// The case a Message-ID we sent belongs to.
/// The row id of the case a Message-ID we sent belongs to (no join, no case read).
pub fn case_id_of_message(conn: &Connection, message_id: &str) -> anyhow::Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT case_id FROM outbox WHERE message_id = ?1")?
        .query_row(params![message_id], |r| r.get::<_, Option<i64>>(0))
        .optional()?
        .flatten())
}

pub fn case_of_message(conn: &Connection, message_id: &str) -> anyhow::Result<Option<CaseRef>> {
    let s: Option<String> = conn
        .prepare_cached("SELECT c.reference FROM outbox o JOIN cases c ON c.id = o.case_id WHERE o.message_id = ?1")?
        .query_row(
            params![message_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(s.map(|s| s.parse()).transpose()?)
}

pub fn mark_sent(conn: &Connection, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
    conn.prepare_cached("UPDATE outbox SET status = 'sent', sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1")?
        .execute(
        params![id, ts(now)],
    )?;
    Ok(())
}

pub fn mark_retry(
    conn: &Connection,
    id: i64,
    next: DateTime<Utc>,
    error: &str,
) -> anyhow::Result<()> {
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
        params![id, ts(next), error],
    )?;
    Ok(())
}

pub fn mark_failed(conn: &Connection, id: i64, error: &str) -> anyhow::Result<()> {
    conn.execute(
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
        params![id, error],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use proptest::prelude::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000 + minute * 60, 0).unwrap()
    }

    /// A store with cases 1..=3 and the given queue: (case or none, recipient, due minute,
    /// already sent).
    fn store_with(queue: &[(Option<i64>, u8, i64, bool)]) -> Store {
        let mut store = Store::open_in_memory().unwrap();
        store
            .transaction(|tx| {
                for id in 1..=3i64 {
                    tx.execute(
                        "INSERT INTO cases (id, reference, year, seq, status, language, subject,
                             body, received_at, reaction_due)
                         VALUES (?1, ?2, 2026, ?1, 'open', 'nl', 's', 'b', ?3, ?3)",
                        params![id, format!("KL-2026-{id:04}"), ts(at(0))],
                    )?;
                }
                for (i, (case, to, due, sent)) in queue.iter().enumerate() {
                    let recipients = vec![format!("r{to}@example.org")];
                    let id = queue_at(
                        tx,
                        &Outgoing {
                            message_id: &format!("<m{i}@example.org>"),
                            case_id: *case,
                            kind: OutboxKind::StaffNotification,
                            envelope_from: "info@example.org",
                            recipients: &recipients,
                            raw: b"x",
                            basis: None,
                        },
                        at(0),
                        at(*due),
                    )?;
                    if *sent {
                        mark_sent(tx, id, at(0))?;
                    }
                }
                Ok(())
            })
            .unwrap();
        store
    }

    /// Mail queued by a klachtd before schema 7 (its body in the row), mail queued after
    /// (packed apart) and mail packed on a complaint (schema 10) are all sent byte for byte
    /// as they were stored — odd bytes included.
    #[test]
    fn mail_queued_before_the_bodies_moved_is_sent_as_stored() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for sql in &crate::store::schema::MIGRATIONS[..6] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 6).unwrap();
        let old_raw: Vec<u8> = b"Subject: oud\r\n\r\n\x00\xff\xfe caf\xc3\xa9\r\n".to_vec();
        conn.execute(
            "INSERT INTO outbox (message_id, kind, envelope_from, recipients, raw, status,
                 next_attempt_at, created_at)
             VALUES ('<old@example.org>', 'digest', 'info@example.org', '[\"d@example.org\"]',
                 ?1, 'queued', ?2, ?2)",
            params![old_raw, ts(at(0))],
        )
        .unwrap();
        let mut store = Store::setup(conn).unwrap();
        let new_raw: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        store
            .transaction(|tx| {
                queue(
                    tx,
                    &Outgoing {
                        message_id: "<new@example.org>",
                        case_id: None,
                        kind: OutboxKind::Digest,
                        envelope_from: "info@example.org",
                        recipients: &["d@example.org".to_string()],
                        raw: &new_raw,
                        basis: None,
                    },
                    at(0),
                )
            })
            .unwrap();
        // And mail packed on a complaint (schema 10), that complaint's body kept while it does.
        let complaint: Vec<u8> = b"From: k@example.org\r\n\r\n\x00\xff ik klaag\r\n".repeat(50);
        store
            .conn()
            .execute(
                "INSERT INTO mails (id, source_key, fingerprint, received_at, outcome, disposition,
                     reason, raw)
                 VALUES (7, 'k', 'f', '2026-01-01T00:00:00Z', 'case_created', 'processed', '', x'')",
                [],
            )
            .unwrap();
        store
            .conn()
            .execute(
                "INSERT INTO mail_bodies (mail_id, deflated) VALUES (7, ?1)",
                params![crate::store::packed::pack(&complaint)],
            )
            .unwrap();
        let basis = Basis {
            mail_id: 7,
            raw: complaint.clone().into(),
        };
        let mut on_raw = complaint.clone();
        on_raw.extend_from_slice(&new_raw);
        store
            .transaction(|tx| {
                queue(
                    tx,
                    &Outgoing {
                        message_id: "<on@example.org>",
                        case_id: None,
                        kind: OutboxKind::Digest,
                        envelope_from: "info@example.org",
                        recipients: &["e@example.org".to_string()],
                        raw: &on_raw,
                        basis: Some(&basis),
                    },
                    at(0),
                )?;
                // Shorter than half its complaint (an acknowledgement): packed alone.
                queue(
                    tx,
                    &Outgoing {
                        message_id: "<short@example.org>",
                        case_id: None,
                        kind: OutboxKind::Digest,
                        envelope_from: "info@example.org",
                        recipients: &["f@example.org".to_string()],
                        raw: &complaint[..complaint.len() / 2 - 1],
                        basis: Some(&basis),
                    },
                    at(0),
                )
            })
            .unwrap();
        let bases: Vec<Option<i64>> = store
            .conn()
            .prepare("SELECT basis FROM outbox_bodies ORDER BY outbox_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(bases[bases.len() - 2..], [Some(7), None]);
        let heads = due_heads(store.conn(), at(1), 5).unwrap();
        let bodies: Vec<(&str, &[u8])> = heads
            .iter()
            .map(|m| (m.message_id.as_str(), m.raw.as_slice()))
            .collect();
        assert_eq!(
            bodies,
            [
                ("<old@example.org>", old_raw.as_slice()),
                ("<new@example.org>", new_raw.as_slice()),
                ("<on@example.org>", on_raw.as_slice()),
                ("<short@example.org>", &complaint[..complaint.len() / 2 - 1])
            ]
        );
        assert!(
            store
                .conn()
                .execute("DELETE FROM mail_bodies WHERE mail_id = 7", [])
                .is_err(),
            "the complaint a queued mail is packed on cannot go before it"
        );
    }

    /// The statements run for every batch and every complaint are compiled once: calling
    /// them again with other values (another `now`, another limit) never recompiles them.
    #[test]
    fn hot_statements_are_not_compiled_again_for_new_values() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .transaction(|tx| {
                for i in 0..6 {
                    queue_at(
                        tx,
                        &Outgoing {
                            message_id: &format!("<m{i}@example.org>"),
                            case_id: None,
                            kind: OutboxKind::Acknowledgement,
                            envelope_from: "info@example.org",
                            recipients: &[format!("c{i}@example.org")],
                            raw: b"x",
                            basis: None,
                        },
                        at(0),
                        at(i),
                    )?;
                }
                Ok(())
            })
            .unwrap();
        let conn = store.conn();
        for (round, minute) in [1, 3, 5, 2, 6].into_iter().enumerate() {
            let heads = due_heads(conn, at(minute), 2 + round % 3).unwrap();
            assert_eq!(heads.len(), (minute as usize + 1).min(2 + round % 3));
        }
        let recompiled = conn
            .prepare_cached(DUE_HEADS_SQL.as_str())
            .unwrap()
            .get_status(rusqlite::StatementStatus::RePrepare);
        assert_eq!(recompiled, 0);
    }

    proptest! {
        /// Whatever the queue: the heads are due, queued, oldest first, at most `limit`, no
        /// two of one chain (case and recipients), none behind a waiting mail of its chain —
        /// and every due chain head is among them when the limit allows.
        #[test]
        fn due_heads_are_independent_chain_heads(
            queue in proptest::collection::vec(
                (proptest::option::of(1i64..=3), 0u8..3, 0i64..3, any::<bool>()), 0..25),
            limit in 1usize..8,
        ) {
            let store = store_with(&queue);
            let now = at(1);
            let heads = due_heads(store.conn(), now, limit).unwrap();
            prop_assert!(heads.len() <= limit);
            prop_assert!(heads.windows(2).all(|w| w[0].id < w[1].id));
            let all = all(store.conn()).unwrap();
            let chain = |m: &QueuedMail| (m.case, m.recipients.clone());
            let is_head = |m: &QueuedMail| {
                m.status == OutboxStatus::Queued
                    && m.next_attempt_at <= now
                    && !all.iter().any(|p| {
                        p.case.is_some()
                            && chain(p) == chain(m)
                            && p.status == OutboxStatus::Queued
                            && p.id < m.id
                    })
            };
            for (i, h) in heads.iter().enumerate() {
                prop_assert!(is_head(h));
                prop_assert!(heads[..i].iter().all(|o| o.case.is_none() || chain(o) != chain(h)));
            }
            let expected: Vec<i64> = all.iter().filter(|m| is_head(m)).map(|m| m.id).take(limit).collect();
            prop_assert_eq!(heads.iter().map(|m| m.id).collect::<Vec<_>>(), expected);
        }
    }
}
