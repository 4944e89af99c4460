//! The `cases`, `events` and `attachments` tables: registering a case, its history, reading
//! the register.

use super::{parse_date, parse_ts, ts};
use crate::domain::{CaseRef, CaseStatus, EmailAddress};
use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

/// What intake knows when it registers a case.
#[derive(Debug, Clone)]
pub struct NewCase<'a> {
    pub language: &'a str,
    pub complainant: Complainant<'a>,
    pub complainant_name: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    pub received_at: DateTime<Utc>,
    pub reaction_due: NaiveDate,
}

/// Where a new case's complainant can be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Complainant<'a> {
    /// An address klachtd can write to.
    Reachable(&'a EmailAddress),
    /// What the From header said, when it names no address klachtd can write to: the case
    /// is registered and marked "cannot be answered by mail".
    Unreachable(&'a str),
}

/// A case as the register shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRecord {
    #[serde(skip)]
    pub id: i64,
    #[serde(serialize_with = "as_display")]
    pub reference: CaseRef,
    #[serde(serialize_with = "as_display")]
    pub status: CaseStatus,
    pub language: String,
    pub complainant_address: Option<String>,
    pub complainant_name: Option<String>,
    pub subject: String,
    pub body: String,
    pub received_at: DateTime<Utc>,
    pub reaction_due: NaiveDate,
    pub reacted_at: Option<DateTime<Utc>>,
    pub closing_due: Option<NaiveDate>,
    pub closed_at: Option<DateTime<Utc>>,
    pub handler: Option<String>,
    pub category: Option<String>,
    pub cause: Option<String>,
    pub solution: Option<String>,
    pub measure: Option<String>,
    pub agreement: Option<bool>,
    pub escalated_at: Option<DateTime<Utc>>,
    pub appealed_at: Option<DateTime<Utc>>,
    pub verdict: Option<String>,
    pub verdict_at: Option<DateTime<Utc>>,
    /// When the retention purge removed the personal data; the anonymous facts remain.
    pub purged_at: Option<DateTime<Utc>>,
    /// The sender as the From header gave it, when klachtd cannot write to it (then
    /// `complainant_address` is empty and the case cannot be answered by mail).
    pub unreachable_from: Option<String>,
}

fn as_display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// One line of a case's history.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub actor: Option<String>,
    pub detail: String,
}

/// Hands out the next reference for `year`, inside the caller's transaction.
pub fn next_reference(conn: &Connection, year: i32) -> anyhow::Result<CaseRef> {
    conn.prepare_cached(
        "INSERT INTO case_sequences (year, last) VALUES (?1, 1)
         ON CONFLICT (year) DO UPDATE SET last = last + 1",
    )?
    .execute(params![year])?;
    let last: u32 = conn
        .prepare_cached("SELECT last FROM case_sequences WHERE year = ?1")?
        .query_row(params![year], |r| r.get(0))?;
    Ok(CaseRef::new(year, last))
}

/// Registers a case; returns its row id.
pub fn insert(conn: &Connection, reference: CaseRef, case: &NewCase<'_>) -> anyhow::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO cases (reference, year, seq, status, language, complainant_address,
             complainant_name, subject, body, received_at, reaction_due, unreachable_from)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        reference.to_string(),
        reference.year(),
        reference.seq(),
        CaseStatus::Open.as_str(),
        case.language,
        match case.complainant {
            Complainant::Reachable(a) => Some(a.as_str()),
            Complainant::Unreachable(_) => None,
        },
        case.complainant_name,
        case.subject,
        "",
        ts(case.received_at),
        case.reaction_due.to_string(),
        match case.complainant {
            Complainant::Reachable(_) => None,
            Complainant::Unreachable(raw) => Some(raw),
        },
    ])
    .context("registering the case")?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached("INSERT INTO case_texts (case_id, deflated) VALUES (?1, ?2)")?
        .execute(params![id, super::packed::pack(case.body.as_bytes())])?;
    Ok(id)
}

/// Appends to a case's history.
pub fn add_event(
    conn: &Connection,
    case_id: i64,
    at: DateTime<Utc>,
    kind: &str,
    actor: Option<&str>,
    detail: &str,
) -> anyhow::Result<()> {
    conn.prepare_cached(
        "INSERT INTO events (case_id, at, kind, actor, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![case_id, ts(at), kind, actor, detail])?;
    Ok(())
}

/// Keeps a file that came with a mail on a case.
pub fn add_attachment(
    conn: &Connection,
    case_id: i64,
    mail_id: i64,
    attachment: &crate::inbound::Attachment,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO attachments (case_id, mail_id, filename, content_type, data, readable) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![case_id, mail_id, attachment.filename, attachment.content_type, attachment.data, attachment.readable],
    )?;
    Ok(())
}

/// How many files are kept on a case.
pub fn attachment_count(conn: &Connection, case_id: i64) -> anyhow::Result<usize> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM attachments WHERE case_id = ?1")?
        .query_row(params![case_id], |r| r.get::<_, i64>(0))? as usize)
}

/// The files kept on a case, in arrival order.
pub fn attachments_of(
    conn: &Connection,
    case_id: i64,
) -> anyhow::Result<Vec<crate::inbound::Attachment>> {
    let mut stmt = conn.prepare(
        "SELECT filename, content_type, data, readable FROM attachments WHERE case_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![case_id], |r| {
        Ok(crate::inbound::Attachment {
            filename: r.get(0)?,
            content_type: r.get(1)?,
            data: r.get(2)?,
            readable: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const COLUMNS: &str =
    "id, reference, status, language, complainant_address, complainant_name, subject,
    body, received_at, reaction_due, reacted_at, closing_due, closed_at, handler, category, cause,
    solution, measure, agreement, escalated_at, appealed_at, verdict, verdict_at, purged_at,
    unreachable_from, (SELECT deflated FROM case_texts WHERE case_id = cases.id)";

fn from_row(r: &Row<'_>) -> rusqlite::Result<CaseRecord> {
    let conv = |i: usize, e: Box<dyn std::error::Error + Send + Sync>| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e)
    };
    let opt_ts = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        r.get::<_, Option<String>>(i)?
            .as_deref()
            .map(parse_ts)
            .transpose()
    };
    Ok(CaseRecord {
        id: r.get(0)?,
        reference: r
            .get::<_, String>(1)?
            .parse()
            .map_err(|e| conv(1, Box::new(e)))?,
        status: r
            .get::<_, String>(2)?
            .parse()
            .map_err(|e| conv(2, Box::new(e)))?,
        language: r.get(3)?,
        complainant_address: r.get(4)?,
        complainant_name: r.get(5)?,
        subject: r.get(6)?,
        // The text packed apart (schema 7 on), or in the row as written before.
        body: match r.get::<_, Option<Vec<u8>>>(25)? {
            Some(packed) => super::packed::unpack(&packed)
                .and_then(|bytes| Ok(String::from_utf8(bytes)?))
                .map_err(|e| conv(25, e.into()))?,
            None => r.get(7)?,
        },
        received_at: parse_ts(&r.get::<_, String>(8)?)?,
        reaction_due: parse_date(&r.get::<_, String>(9)?)?,
        reacted_at: opt_ts(10)?,
        closing_due: r
            .get::<_, Option<String>>(11)?
            .as_deref()
            .map(parse_date)
            .transpose()?,
        closed_at: opt_ts(12)?,
        handler: r.get(13)?,
        category: r.get(14)?,
        cause: r.get(15)?,
        solution: r.get(16)?,
        measure: r.get(17)?,
        agreement: r.get(18)?,
        escalated_at: opt_ts(19)?,
        appealed_at: opt_ts(20)?,
        verdict: r.get(21)?,
        verdict_at: opt_ts(22)?,
        purged_at: opt_ts(23)?,
        unreachable_from: r.get(24)?,
    })
}

/// Writes back everything about a case that casework can change.
pub fn update(conn: &Connection, case: &CaseRecord) -> anyhow::Result<()> {
    let opt_ts = |t: Option<DateTime<Utc>>| t.map(ts);
    conn.execute(
        "UPDATE cases SET status = ?2, reaction_due = ?3, reacted_at = ?4, closing_due = ?5, closed_at = ?6,
             handler = ?7, category = ?8, cause = ?9, solution = ?10, measure = ?11, agreement = ?12,
             escalated_at = ?13, appealed_at = ?14, verdict = ?15, verdict_at = ?16, language = ?17
         WHERE id = ?1",
        params![
            case.id,
            case.status.as_str(),
            case.reaction_due.to_string(),
            opt_ts(case.reacted_at),
            case.closing_due.map(|d| d.to_string()),
            opt_ts(case.closed_at),
            case.handler,
            case.category,
            case.cause,
            case.solution,
            case.measure,
            case.agreement,
            opt_ts(case.escalated_at),
            opt_ts(case.appealed_at),
            case.verdict,
            opt_ts(case.verdict_at),
            case.language,
        ],
    )?;
    Ok(())
}

/// A case by row id.
pub fn by_id(conn: &Connection, id: i64) -> anyhow::Result<Option<CaseRecord>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM cases WHERE id = ?1"))?
        .query_row(params![id], from_row)
        .optional()?)
}

/// The Message-ID of the mail that opened the case, for threading our answers to it.
pub fn origin_message_id(conn: &Connection, case_id: i64) -> anyhow::Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT message_id FROM mails WHERE case_id = ?1 AND outcome = 'case_created' ORDER BY id LIMIT 1")?
        .query_row(
            params![case_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// One case by reference.
pub fn get(conn: &Connection, reference: CaseRef) -> anyhow::Result<Option<CaseRecord>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM cases WHERE reference = ?1"))?
        .query_row(params![reference.to_string()], from_row)
        .optional()?)
}

/// The whole register, oldest first.
pub fn list(conn: &Connection) -> anyhow::Result<Vec<CaseRecord>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM cases ORDER BY year, seq"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The cases with a deadline running (open or reacted), oldest first: those
/// [`running_deadline`] gives a date for.
pub fn with_running_deadline(conn: &Connection) -> anyhow::Result<Vec<CaseRecord>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM cases WHERE status IN ('open', 'reacted') ORDER BY year, seq"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The date by which the case must next move, and which deadline that is.
pub fn running_deadline(case: &CaseRecord) -> Option<(Deadline, NaiveDate)> {
    match case.status {
        CaseStatus::Open => Some((Deadline::Reaction, case.reaction_due)),
        CaseStatus::Reacted => case.closing_due.map(|d| (Deadline::Closing, d)),
        _ => None,
    }
}

/// The procedure's two deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Deadline {
    /// A reaction within 5 working days of receipt.
    Reaction,
    /// Closed within 14 working days of the reaction.
    Closing,
}

impl Deadline {
    pub fn as_str(self) -> &'static str {
        match self {
            Deadline::Reaction => "reaction",
            Deadline::Closing => "closing",
        }
    }

    pub fn dutch(self) -> &'static str {
        match self {
            Deadline::Reaction => "reactie aan de klager",
            Deadline::Closing => "afhandeling",
        }
    }

    /// The label in `lang`.
    pub fn label(self, lang: crate::settings::Language) -> &'static str {
        match (self, lang) {
            (_, crate::settings::Language::Nl) => self.dutch(),
            (Deadline::Reaction, _) => "reply to the complainant",
            (Deadline::Closing, _) => "closure",
        }
    }
}

/// Whether the running deadline has passed on `today` (the end of the due day counts).
pub fn is_overdue(case: &CaseRecord, today: NaiveDate) -> bool {
    running_deadline(case).is_some_and(|(_, due)| today > due)
}

/// A case's history, oldest first.
pub fn events(conn: &Connection, case_id: i64) -> anyhow::Result<Vec<Event>> {
    let mut stmt =
        conn.prepare("SELECT at, kind, actor, detail FROM events WHERE case_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map(params![case_id], |r| {
        Ok(Event {
            at: parse_ts(&r.get::<_, String>(0)?)?,
            kind: r.get(1)?,
            actor: r.get(2)?,
            detail: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The case of a mail we sent to its complainant (acknowledgement, reaction, letters), by
/// Message-ID: a reply to it counts as the complainant's, whoever forwarded it on.
pub fn case_of_complainant_message(
    conn: &Connection,
    message_id: &str,
) -> anyhow::Result<Option<CaseRef>> {
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT o.kind, c.reference FROM outbox o JOIN cases c ON c.id = o.case_id WHERE o.message_id = ?1")?
        .query_row(
            params![message_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row.and_then(|(kind, reference)| {
        let kind: super::outbox::OutboxKind = kind.parse().ok()?;
        kind.to_complainant().then(|| reference.parse().ok())?
    }))
}

/// Whether a case with this reference exists.
pub fn exists(conn: &Connection, reference: CaseRef) -> bool {
    conn.prepare_cached("SELECT 1 FROM cases WHERE reference = ?1")
        .and_then(|mut stmt| {
            stmt.query_row(params![reference.to_string()], |_| Ok(()))
                .optional()
        })
        .ok()
        .flatten()
        .is_some()
}

/// Claims the one acknowledgement `address` may receive on `day`; false if it was used. The
/// mailbox counts, not the spelling: `jan+1@` and `Jan+2@` are both `jan@`.
pub fn claim_acknowledgement(
    conn: &Connection,
    address: &EmailAddress,
    day: NaiveDate,
    case_id: i64,
) -> anyhow::Result<bool> {
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO acknowledgements (address, day, case_id) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![address.without_tag(), day.to_string(), case_id])?;
    Ok(inserted == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use proptest::prelude::*;

    proptest! {
        /// The scheduler's narrow query finds exactly the cases the whole register would give
        /// a running deadline, in the same order, whatever their statuses.
        #[test]
        fn running_deadline_query_matches_the_register(
            cases in proptest::collection::vec((0usize..6, any::<bool>()), 0..30),
        ) {
            let mut store = Store::open_in_memory().unwrap();
            store
                .transaction(|tx| {
                    for (i, (status, closing)) in cases.iter().enumerate() {
                        tx.execute(
                            "INSERT INTO cases (reference, year, seq, status, language, subject,
                                 body, received_at, reaction_due, closing_due)
                             VALUES (?1, 2026, ?2, ?3, 'nl', 's', 'b', '2026-11-24T09:00:00Z',
                                 '2026-12-01', ?4)",
                            params![
                                format!("KL-2026-{:04}", i + 1),
                                i as i64 + 1,
                                crate::domain::CaseStatus::ALL[*status].as_str(),
                                closing.then_some("2026-12-15"),
                            ],
                        )?;
                    }
                    Ok(())
                })
                .unwrap();
            let narrow: Vec<i64> =
                with_running_deadline(store.conn()).unwrap().iter().map(|c| c.id).collect();
            let wide: Vec<i64> = list(store.conn())
                .unwrap()
                .iter()
                .filter(|c| running_deadline(c).is_some())
                .map(|c| c.id)
                .collect();
            // A reacted case without a closing date has no running deadline but is read: the
            // loop skips it, as before.
            let read_but_skipped: Vec<i64> = with_running_deadline(store.conn())
                .unwrap()
                .iter()
                .filter(|c| running_deadline(c).is_none())
                .map(|c| c.id)
                .collect();
            let mut narrowed = narrow.clone();
            narrowed.retain(|id| !read_but_skipped.contains(id));
            prop_assert_eq!(narrowed, wide);
        }
    }

    #[test]
    fn references_count_per_year_and_restart_in_a_new_year() {
        let mut store = Store::open_in_memory().unwrap();
        let refs = store
            .transaction(|tx| {
                Ok(vec![
                    next_reference(tx, 2026)?,
                    next_reference(tx, 2026)?,
                    next_reference(tx, 2027)?,
                    next_reference(tx, 2026)?,
                ])
            })
            .unwrap();
        let shown: Vec<String> = refs.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "KL-2026-0001",
                "KL-2026-0002",
                "KL-2027-0001",
                "KL-2026-0003"
            ]
        );
    }

    #[test]
    fn a_rolled_back_registration_does_not_use_up_a_number() {
        let mut store = Store::open_in_memory().unwrap();
        let failed: anyhow::Result<()> = store.transaction(|tx| {
            next_reference(tx, 2026)?;
            anyhow::bail!("crash before commit")
        });
        assert!(failed.is_err());
        let r = store.transaction(|tx| next_reference(tx, 2026)).unwrap();
        assert_eq!(r.to_string(), "KL-2026-0001");
    }
}
