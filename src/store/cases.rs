//! The `cases`, `events` and `attachments` tables: registering a case, its history, reading
//! the register.

use super::packed::Basis;
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
    /// The complaint's raw mail, when kept: the text is packed on it.
    pub basis: Option<&'a Basis>,
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
    /// Working days the director extended the reaction deadline by, and the closing deadline
    /// by, in all (schema 11 on; at most `domain::calendar::MAX_EXTENSION` each).
    pub reaction_extended: u32,
    pub closing_extended: u32,
    /// When the retention purge removed the personal data; the anonymous facts remain.
    pub purged_at: Option<DateTime<Utc>>,
    /// The sender as the From header gave it, when klachtd cannot write to it (then
    /// `complainant_address` is empty and the case cannot be answered by mail).
    pub unreachable_from: Option<String>,
    /// The complaint's raw mail the text is packed on (cases from schema 10 on); mail queued
    /// for the case is packed on it too.
    #[serde(skip)]
    pub basis: Option<Basis>,
    /// Whom the complaint concerns, a legal hold, a privacy request (issue 25).
    pub privacy: crate::domain::privacy::Privacy,
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
    let (packed, basis) = match case.basis {
        Some(basis) => (
            super::packed::pack_on(case.body.as_bytes(), &basis.raw),
            Some(basis.mail_id),
        ),
        None => (super::packed::pack(case.body.as_bytes()), None),
    };
    conn.prepare_cached("INSERT INTO case_texts (case_id, deflated, basis) VALUES (?1, ?2, ?3)")?
        .execute(params![id, packed, basis])?;
    Ok(id)
}

/// Registers a case and returns it as [`get`] would read it back (seconds precision, no
/// deadlines or fields beyond what a new case has), without reading and unpacking its text
/// again.
pub fn insert_record(
    conn: &Connection,
    reference: CaseRef,
    case: &NewCase<'_>,
) -> anyhow::Result<CaseRecord> {
    let id = insert(conn, reference, case)?;
    Ok(CaseRecord {
        id,
        reference,
        status: CaseStatus::Open,
        language: case.language.to_string(),
        complainant_address: match case.complainant {
            Complainant::Reachable(a) => Some(a.as_str().to_string()),
            Complainant::Unreachable(_) => None,
        },
        complainant_name: case.complainant_name.map(str::to_string),
        subject: case.subject.to_string(),
        body: case.body.to_string(),
        received_at: parse_ts(&ts(case.received_at))?,
        reaction_due: case.reaction_due,
        reacted_at: None,
        closing_due: None,
        closed_at: None,
        handler: None,
        category: None,
        cause: None,
        solution: None,
        measure: None,
        agreement: None,
        escalated_at: None,
        appealed_at: None,
        verdict: None,
        verdict_at: None,
        reaction_extended: 0,
        closing_extended: 0,
        purged_at: None,
        unreachable_from: match case.complainant {
            Complainant::Reachable(_) => None,
            Complainant::Unreachable(raw) => Some(raw.to_string()),
        },
        basis: case.basis.cloned(),
        privacy: Default::default(),
    })
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
    attachment: &crate::domain::Attachment,
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
) -> anyhow::Result<Vec<crate::domain::Attachment>> {
    let mut stmt = conn.prepare(
        "SELECT filename, content_type, data, readable FROM attachments WHERE case_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![case_id], |r| {
        Ok(crate::domain::Attachment {
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
    unreachable_from, (SELECT deflated FROM case_texts WHERE case_id = cases.id),
    (SELECT t.basis FROM case_texts t WHERE t.case_id = cases.id),
    (SELECT b.deflated FROM case_texts t JOIN mail_bodies b ON b.mail_id = t.basis
     WHERE t.case_id = cases.id), reaction_extended, closing_extended";

/// [`COLUMNS`] and the case's privacy side (issue 25), as `from_row` reads them.
fn columns() -> &'static str {
    static ALL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ALL.get_or_init(|| format!("{COLUMNS}, {}", super::privacy::PRIVACY_COLUMN))
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<CaseRecord> {
    let basis = match (
        r.get::<_, Option<i64>>(26)?,
        r.get::<_, Option<Vec<u8>>>(27)?,
    ) {
        (Some(mail_id), Some(packed)) => Some(Basis {
            mail_id,
            raw: super::packed::unpack(&packed)
                .map_err(|e| conversion(27, e.into()))?
                .into(),
        }),
        (Some(_), None) => {
            return Err(conversion(
                26,
                "the complaint this case's text is packed on is gone".into(),
            ));
        }
        (None, _) => None,
    };
    Ok(CaseRecord {
        id: r.get(0)?,
        reference: parsed(r, 1)?,
        status: parsed(r, 2)?,
        language: r.get(3)?,
        complainant_address: r.get(4)?,
        complainant_name: r.get(5)?,
        subject: r.get(6)?,
        // The text packed apart (schema 7 on; on its complaint from 10), or in the row as
        // written before.
        body: match r.get::<_, Option<Vec<u8>>>(25)? {
            Some(packed) => match &basis {
                Some(basis) => super::packed::unpack_on(&packed, &basis.raw),
                None => super::packed::unpack(&packed),
            }
            .and_then(|bytes| Ok(String::from_utf8(bytes)?))
            .map_err(|e| conversion(25, e.into()))?,
            None => r.get(7)?,
        },
        basis,
        received_at: parse_ts(&r.get::<_, String>(8)?)?,
        reaction_due: parse_date(&r.get::<_, String>(9)?)?,
        reacted_at: opt_instant(r, 10)?,
        closing_due: opt_day(r, 11)?,
        closed_at: opt_instant(r, 12)?,
        handler: r.get(13)?,
        category: r.get(14)?,
        cause: r.get(15)?,
        solution: r.get(16)?,
        measure: r.get(17)?,
        agreement: r.get(18)?,
        escalated_at: opt_instant(r, 19)?,
        appealed_at: opt_instant(r, 20)?,
        verdict: r.get(21)?,
        verdict_at: opt_instant(r, 22)?,
        reaction_extended: r.get(28)?,
        closing_extended: r.get(29)?,
        purged_at: opt_instant(r, 23)?,
        unreachable_from: r.get(24)?,
        privacy: super::privacy::from_json(r.get::<_, Option<String>>(30)?.as_deref())?,
    })
}

/// A column that did not convert, as rusqlite reports it.
fn conversion(i: usize, e: Box<dyn std::error::Error + Send + Sync>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e)
}

/// Column `i` read as text and parsed (a reference, a status).
fn parsed<T>(r: &Row<'_>, i: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    r.get::<_, String>(i)?
        .parse()
        .map_err(|e| conversion(i, Box::new(e)))
}

/// Column `i`: an instant, if set.
fn opt_instant(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    r.get::<_, Option<String>>(i)?
        .as_deref()
        .map(parse_ts)
        .transpose()
}

/// Column `i`: a day, if set.
fn opt_day(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<NaiveDate>> {
    r.get::<_, Option<String>>(i)?
        .as_deref()
        .map(parse_date)
        .transpose()
}

/// Writes back everything about a case that casework can change.
pub fn update(conn: &Connection, case: &CaseRecord) -> anyhow::Result<()> {
    let opt_ts = |t: Option<DateTime<Utc>>| t.map(ts);
    conn.execute(
        "UPDATE cases SET status = ?2, reaction_due = ?3, reacted_at = ?4, closing_due = ?5, closed_at = ?6,
             handler = ?7, category = ?8, cause = ?9, solution = ?10, measure = ?11, agreement = ?12,
             escalated_at = ?13, appealed_at = ?14, verdict = ?15, verdict_at = ?16, language = ?17,
             reaction_extended = ?18, closing_extended = ?19
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
            case.reaction_extended,
            case.closing_extended,
        ],
    )?;
    super::privacy::save(conn, case.id, &case.privacy)?;
    Ok(())
}

/// A case by row id.
pub fn by_id(conn: &Connection, id: i64) -> anyhow::Result<Option<CaseRecord>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {} FROM cases WHERE id = ?1", columns()))?
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
        .prepare_cached(&format!(
            "SELECT {} FROM cases WHERE reference = ?1",
            columns()
        ))?
        .query_row(params![reference.to_string()], from_row)
        .optional()?)
}

/// A case's row id, without reading (or unpacking) the case.
pub fn id_of(conn: &Connection, reference: CaseRef) -> anyhow::Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM cases WHERE reference = ?1")?
        .query_row(params![reference.to_string()], |r| r.get(0))
        .optional()?)
}

/// The whole register, oldest first.
pub fn list(conn: &Connection) -> anyhow::Result<Vec<CaseRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM cases ORDER BY year, seq",
        columns()
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// `watch_on` of a case the scheduler owes nothing more until its deadline or status changes.
pub const WATCH_NEVER: &str = "9999-12-31";

/// A case the scheduler must look at: just what it needs to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    pub id: i64,
    pub reference: CaseRef,
    pub status: CaseStatus,
    pub reaction_due: NaiveDate,
    pub closing_due: Option<NaiveDate>,
}

/// At most `limit` cases whose `case_watch` day has come by `today` (or that are new, or
/// whose deadline or status changed), from the `case_watch_due` index. The scheduler moves
/// each one's day past today, so asking again gives the next ones.
pub fn due_for_watch(
    conn: &Connection,
    today: NaiveDate,
    limit: usize,
) -> anyhow::Result<Vec<Watched>> {
    let mut stmt = conn.prepare(WATCH_SQL)?;
    let rows = stmt.query_map(params![today.to_string(), limit as i64], |r| {
        Ok(Watched {
            id: r.get(0)?,
            reference: parsed(r, 1)?,
            status: parsed(r, 2)?,
            reaction_due: parse_date(&r.get::<_, String>(3)?)?,
            closing_due: opt_day(r, 4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The next day the scheduler must look at a case (None: not before its deadline or status
/// changes).
pub fn set_watch_on(conn: &Connection, id: i64, day: Option<NaiveDate>) -> anyhow::Result<()> {
    let day = day.map_or_else(|| WATCH_NEVER.to_string(), |d| d.to_string());
    conn.prepare_cached("INSERT OR REPLACE INTO case_watch (case_id, watch_on) VALUES (?1, ?2)")?
        .execute(params![id, day])?;
    Ok(())
}

/// The date by which the case must next move, and which deadline that is.
pub fn running_deadline(case: &CaseRecord) -> Option<(Deadline, NaiveDate)> {
    deadline_of(case.status, case.reaction_due, case.closing_due)
}

/// [`running_deadline`] from the three columns it depends on.
pub fn deadline_of(
    status: CaseStatus,
    reaction_due: NaiveDate,
    closing_due: Option<NaiveDate>,
) -> Option<(Deadline, NaiveDate)> {
    match status {
        CaseStatus::Open => Some((Deadline::Reaction, reaction_due)),
        CaseStatus::Reacted => closing_due.map(|d| (Deadline::Closing, d)),
        _ => None,
    }
}

/// One line of the register, as `klachtd cases` shows it: no text, no history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRow {
    pub reference: CaseRef,
    pub status: CaseStatus,
    pub complainant_address: Option<String>,
    pub unreachable_from: Option<String>,
    pub subject: String,
    pub received_at: DateTime<Utc>,
    pub reaction_due: NaiveDate,
    pub closing_due: Option<NaiveDate>,
    /// Mail for this case that failed for good.
    pub failed_mail: usize,
}

impl RegisterRow {
    /// Whether the running deadline has passed on `today`, as [`is_overdue`].
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        deadline_of(self.status, self.reaction_due, self.closing_due)
            .is_some_and(|(_, due)| today > due)
    }
}

/// The register row by row, oldest first, handed to `f` one at a time: read from the
/// `cases_register` index (never the rows and their text), failed mail counted in one pass
/// over the failed outbox rows. Memory does not grow with the register.
pub fn for_each_in_register(
    conn: &Connection,
    mut f: impl FnMut(RegisterRow) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut stmt = conn.prepare(REGISTER_QUERY)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        f(RegisterRow {
            reference: parsed(r, 0)?,
            status: parsed(r, 1)?,
            complainant_address: r.get(2)?,
            unreachable_from: r.get(3)?,
            subject: r.get(4)?,
            received_at: parse_ts(&r.get::<_, String>(5)?)?,
            reaction_due: parse_date(&r.get::<_, String>(6)?)?,
            closing_due: opt_day(r, 7)?,
            failed_mail: r.get::<_, i64>(8)? as usize,
        })?;
    }
    Ok(())
}

pub(crate) const REGISTER_QUERY: &str = "SELECT c.reference, c.status, c.complainant_address, c.unreachable_from, c.subject,
        c.received_at, c.reaction_due, c.closing_due, COALESCE(f.n, 0)
     FROM cases c INDEXED BY cases_register
     LEFT JOIN (SELECT case_id, COUNT(*) AS n FROM outbox WHERE status = 'failed' GROUP BY case_id) f
         ON f.case_id = c.id
     ORDER BY c.year, c.seq";

// The queries that run per scheduler pass or per command, each answered from an index (see
// `every_pass_and_command_query_uses_an_index` below).
const WATCH_SQL: &str = "SELECT c.id, c.reference, c.status, c.reaction_due, c.closing_due
     FROM case_watch w JOIN cases c ON c.id = w.case_id
     WHERE w.watch_on <= ?1
     LIMIT ?2";
const COUNT_ACTIVE_SQL: &str = "SELECT
     (SELECT COUNT(*) FROM cases WHERE status IN ('open', 'reacted', 'appealed')),
     (SELECT COUNT(*) FROM cases WHERE status = 'open' AND reaction_due < ?1)
     + (SELECT COUNT(*) FROM cases WHERE status = 'reacted' AND closing_due < ?1)";
const COUNT_RUNNING_SQL: &str = "SELECT
     (SELECT COUNT(*) FROM cases WHERE status = 'open')
     + (SELECT COUNT(*) FROM cases WHERE status = 'reacted' AND closing_due IS NOT NULL),
     (SELECT COUNT(*) FROM cases WHERE status = 'open' AND reaction_due < ?1)
     + (SELECT COUNT(*) FROM cases WHERE status = 'reacted' AND closing_due < ?1)";
/// The most urgent first: overdue (by deadline), then no running deadline, then by deadline;
/// the running deadline is `CASE status WHEN 'open' THEN reaction_due WHEN 'reacted' THEN
/// closing_due END`, as [`deadline_of`] gives it.
const URGENT_IDS_SQL: &str = "SELECT id FROM cases WHERE status IN ('open', 'reacted', 'appealed')
     ORDER BY
         CASE WHEN (CASE status WHEN 'open' THEN reaction_due WHEN 'reacted' THEN closing_due END) < ?1
             THEN 0
             WHEN (CASE status WHEN 'open' THEN reaction_due WHEN 'reacted' THEN closing_due END) IS NULL
             THEN 1 ELSE 2 END,
         CASE status WHEN 'open' THEN reaction_due WHEN 'reacted' THEN closing_due END, year, seq
     LIMIT ?2";
const REACTED_SQL: &str =
    "SELECT received_at, reacted_at FROM cases WHERE reacted_at >= ?1 AND reacted_at < ?2";
const ENDED_IDS_SQL: &str = "SELECT id FROM cases
     WHERE status IN ('closed', 'final', 'withdrawn') AND purged_at IS NULL AND (
     (status = 'closed' AND closed_at < ?1)
     OR (status = 'final' AND COALESCE(verdict_at, closed_at) < ?1)
     OR (status = 'withdrawn' AND received_at < ?1))";
const FACTS_SQL: &str =
    "SELECT reference, status, received_at, reaction_due, reacted_at, closing_due, closed_at,
             handler, category, cause, measure, agreement, escalated_at IS NOT NULL,
             appealed_at IS NOT NULL, verdict,
             EXISTS (SELECT 1 FROM events e WHERE e.case_id = cases.id AND e.kind = 'extended')
         FROM cases INDEXED BY cases_register
         WHERE received_at >= ?1 AND received_at < ?2
         ORDER BY year, seq";

/// Counts of the active cases (open, reacted, appealed) and of those overdue on `today`,
/// from the `cases_status_due` index.
pub fn count_active(conn: &Connection, today: NaiveDate) -> anyhow::Result<(usize, usize)> {
    let (active, overdue): (i64, i64) =
        conn.query_row(COUNT_ACTIVE_SQL, params![today.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    Ok((active as usize, overdue as usize))
}

/// Counts of the cases with a deadline running (those [`running_deadline`] gives a date
/// for) and of those overdue on `today`, from the `cases_status_due` index.
pub fn count_running(conn: &Connection, today: NaiveDate) -> anyhow::Result<(usize, usize)> {
    let (running, overdue): (i64, i64) =
        conn.query_row(COUNT_RUNNING_SQL, params![today.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    Ok((running as usize, overdue as usize))
}

/// The ended cases not yet purged whose retention period began before
/// `cutoff` (closing, the verdict, or for a withdrawn case its receipt), oldest first,
/// decided on the `cases_ended` index.
pub fn ended_before(conn: &Connection, cutoff: DateTime<Utc>) -> anyhow::Result<Vec<CaseRecord>> {
    by_ids(conn, ENDED_IDS_SQL, params![ts(cutoff)])
}

/// The `limit` most urgent active cases on `today`: overdue first (earliest deadline first),
/// then those without a running deadline, then by deadline; ties by reference. Ranked on the
/// index, only the cases shown are read.
pub fn most_urgent(
    conn: &Connection,
    today: NaiveDate,
    limit: usize,
) -> anyhow::Result<Vec<CaseRecord>> {
    let mut found = by_ids(
        conn,
        URGENT_IDS_SQL,
        params![today.to_string(), limit as i64],
    )?;
    found.sort_by_key(|c| urgency(c, today));
    Ok(found)
}

/// The order of [`most_urgent`], for one case.
pub fn urgency(case: &CaseRecord, today: NaiveDate) -> (bool, Option<NaiveDate>, CaseRef) {
    (
        !is_overdue(case, today),
        running_deadline(case).map(|(_, d)| d),
        case.reference,
    )
}

/// The cases selected by `ids_sql` (a query of row ids), read in full, oldest first.
fn by_ids(
    conn: &Connection,
    ids_sql: &str,
    params: impl rusqlite::Params,
) -> anyhow::Result<Vec<CaseRecord>> {
    // Cached: `ids_sql` is one of a few fixed queries.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM cases WHERE id IN ({ids_sql}) ORDER BY year, seq",
        columns()
    ))?;
    let rows = stmt.query_map(params, from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// An instant column of `cases` a digest counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    Received,
    Closed,
    Escalated,
    Appealed,
    Verdict,
    /// A case ended: closed, or the committee's final verdict came in.
    Ended,
}

impl Stamp {
    fn condition(self) -> &'static str {
        match self {
            Stamp::Received => "received_at >= ?1 AND received_at < ?2",
            Stamp::Closed => "closed_at >= ?1 AND closed_at < ?2",
            Stamp::Escalated => "escalated_at >= ?1 AND escalated_at < ?2",
            Stamp::Appealed => "appealed_at >= ?1 AND appealed_at < ?2",
            Stamp::Verdict => "verdict_at >= ?1 AND verdict_at < ?2",
            Stamp::Ended => {
                "id IN (SELECT id FROM cases WHERE closed_at >= ?1 AND closed_at < ?2
                        UNION SELECT id FROM cases WHERE verdict_at >= ?1 AND verdict_at < ?2)"
            }
        }
    }
}

/// How many cases have `stamp` in [`from`, `to`), and the first `limit` of them (oldest
/// reference first), each found on that column's index.
pub fn stamped_between(
    conn: &Connection,
    stamp: Stamp,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> anyhow::Result<(usize, Vec<CaseRecord>)> {
    let (from, to) = (ts(from), ts(to));
    let count: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM cases WHERE {}", stamp.condition()),
        params![from, to],
        |r| r.get(0),
    )?;
    let first = by_ids(
        conn,
        &format!(
            "SELECT id FROM cases WHERE {} ORDER BY year, seq LIMIT ?3",
            stamp.condition()
        ),
        params![from, to, limit as i64],
    )?;
    Ok((count as usize, first))
}

/// Every case reacted to in [`from`, `to`): its receipt and reaction, one at a time, from the
/// `cases_reacted` index.
pub fn for_each_reacted(
    conn: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    mut f: impl FnMut(DateTime<Utc>, DateTime<Utc>),
) -> anyhow::Result<()> {
    let mut stmt = conn.prepare(REACTED_SQL)?;
    let mut rows = stmt.query(params![ts(from), ts(to)])?;
    while let Some(r) = rows.next()? {
        f(
            parse_ts(&r.get::<_, String>(0)?)?,
            parse_ts(&r.get::<_, String>(1)?)?,
        );
    }
    Ok(())
}

/// What the yearly analysis needs of one case: its facts, never its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactsRow {
    pub reference: CaseRef,
    pub status: CaseStatus,
    pub received_at: DateTime<Utc>,
    pub reaction_due: NaiveDate,
    pub reacted_at: Option<DateTime<Utc>>,
    pub closing_due: Option<NaiveDate>,
    pub closed_at: Option<DateTime<Utc>>,
    pub handler: Option<String>,
    pub category: Option<String>,
    pub cause: Option<String>,
    pub measure: Option<String>,
    pub agreement: Option<bool>,
    pub escalated: bool,
    pub appealed: bool,
    pub verdict: Option<String>,
    /// The director extended its deadline (an `extended` event).
    pub extended: bool,
}

/// Every case received in [`from`, `to`), oldest reference first, handed to `f` one at a
/// time (found in reference order on the `cases_register` index, which holds the receipt).
pub fn for_each_received(
    conn: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    mut f: impl FnMut(FactsRow) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut stmt = conn.prepare(FACTS_SQL)?;
    let mut rows = stmt.query(params![ts(from), ts(to)])?;
    while let Some(r) = rows.next()? {
        f(FactsRow {
            reference: parsed(r, 0)?,
            status: parsed(r, 1)?,
            received_at: parse_ts(&r.get::<_, String>(2)?)?,
            reaction_due: parse_date(&r.get::<_, String>(3)?)?,
            reacted_at: opt_instant(r, 4)?,
            closing_due: opt_day(r, 5)?,
            closed_at: opt_instant(r, 6)?,
            handler: r.get(7)?,
            category: r.get(8)?,
            cause: r.get(9)?,
            measure: r.get(10)?,
            agreement: r.get(11)?,
            escalated: r.get(12)?,
            appealed: r.get(13)?,
            verdict: r.get(14)?,
            extended: r.get(15)?,
        })?;
    }
    Ok(())
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
    pub fn label(self, lang: crate::domain::Language) -> &'static str {
        match (self, lang) {
            (_, crate::domain::Language::Nl) => self.dutch(),
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

/// Whether the case with this reference was erased on its complainant's request (`klachtd
/// erase`, issue 25) rather than purged after the retention period: the answer to mail that
/// names it says which.
pub fn erased_on_request(conn: &Connection, reference: CaseRef) -> bool {
    conn.prepare_cached(
        "SELECT 1 FROM events e JOIN cases c ON c.id = e.case_id
         WHERE c.reference = ?1 AND e.kind = 'erased' LIMIT 1",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![reference.to_string()], |_| Ok(()))
            .optional()
    })
    .ok()
    .flatten()
    .is_some()
}

/// Whether the case with this reference was purged after the retention period: then it is
/// never linked to a mail again, nor changed (issue 20; triggers in the schema hold the same).
pub fn is_purged(conn: &Connection, reference: CaseRef) -> bool {
    conn.prepare_cached("SELECT 1 FROM cases WHERE reference = ?1 AND purged_at IS NOT NULL")
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
        .execute(params![address.delivery_key(), day.to_string(), case_id])?;
    Ok(inserted == 1)
}

/// Whether `address` (its mailbox, without `+tag`) was acknowledged before `day`: a
/// complainant of an earlier case (one primary-key lookup).
pub fn acknowledged_before(
    conn: &Connection,
    address: &EmailAddress,
    day: NaiveDate,
) -> anyhow::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM acknowledgements WHERE address = ?1 AND day < ?2 LIMIT 1")?
        .query_row(params![address.delivery_key(), day.to_string()], |_| Ok(()))
        .optional()?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use proptest::prelude::*;

    proptest! {
        /// The record registering hands on is exactly the one reading the case back gives,
        /// whatever the complainant, name, subject, text and moment of arrival.
        #[test]
        fn a_registered_case_is_what_reading_it_back_gives(
            language in prop_oneof![Just("nl"), Just("en")],
            address in proptest::option::of("[a-z]{1,12}(\\.[a-z]{1,5})?@[a-z]{1,10}\\.(nl|org|example)"),
            unreachable in "\\PC{0,40}",
            name in proptest::option::of("\\PC{0,40}"),
            subject in "\\PC{0,120}",
            body in "(\\PC|\r|\n){0,3000}",
            seconds in 0i64..4_000_000_000,
            nanos in 0u32..1_000_000_000,
            due_days in 0i64..40_000,
            year in 2000i32..2100,
        ) {
            let mut store = Store::open_in_memory().unwrap();
            let address: Option<EmailAddress> = address.map(|a| a.parse().unwrap());
            let complainant = match &address {
                Some(a) => Complainant::Reachable(a),
                None => Complainant::Unreachable(&unreachable),
            };
            let new = NewCase {
                language,
                complainant,
                complainant_name: name.as_deref(),
                subject: &subject,
                body: &body,
                received_at: DateTime::from_timestamp(seconds, nanos).unwrap(),
                reaction_due: NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()
                    + chrono::Duration::days(due_days),
                basis: None,
            };
            let (made, read) = store.transaction(|tx| {
                let reference = next_reference(tx, year)?;
                let made = insert_record(tx, reference, &new)?;
                let read = by_id(tx, made.id)?.expect("the case just registered");
                Ok((made, read))
            }).unwrap();
            prop_assert_eq!(format!("{made:?}"), format!("{read:?}"));
        }
    }

    /// The query plan of `sql`: one line per step.
    fn plan(conn: &Connection, sql: &str) -> Vec<String> {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let mut rows = stmt.raw_query();
        let mut steps = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            steps.push(r.get::<_, String>(3).unwrap());
        }
        steps
    }

    /// No query that runs per scheduler pass or per command walks `cases` or `outbox` row by
    /// row (the rows hold the complaint's text and the mail's bytes): each one searches an
    /// index, or reads one in order. Only the register and the yearly analysis walk the
    /// register's whole index.
    #[test]
    fn every_pass_and_command_query_uses_an_index() {
        let store = Store::open_in_memory().unwrap();
        let conn = store.conn();
        let by_ids = |ids: &str| {
            format!(
                "SELECT {} FROM cases WHERE id IN ({ids}) ORDER BY year, seq",
                columns()
            )
        };
        let stamps = [
            Stamp::Received,
            Stamp::Closed,
            Stamp::Escalated,
            Stamp::Appealed,
            Stamp::Verdict,
            Stamp::Ended,
        ];
        let mut queries: Vec<(String, String)> = vec![
            ("watch".into(), WATCH_SQL.into()),
            ("count active".into(), COUNT_ACTIVE_SQL.into()),
            ("count running".into(), COUNT_RUNNING_SQL.into()),
            ("most urgent".into(), by_ids(URGENT_IDS_SQL)),
            ("reacted".into(), REACTED_SQL.into()),
            ("ended".into(), by_ids(ENDED_IDS_SQL)),
            ("facts".into(), FACTS_SQL.into()),
            ("register".into(), REGISTER_QUERY.into()),
            // As `notices::installed_at` asks on every pass, for the first case.
            (
                "first case".into(),
                "SELECT MIN(received_at) FROM cases".into(),
            ),
            // As `service_state::quarantined` counts for `klachtd status`.
            (
                "quarantined".into(),
                "SELECT COUNT(*) FROM mails WHERE outcome = 'quarantined'".into(),
            ),
            // As the nightly purge sweeps old tokens.
            (
                "old tokens".into(),
                "DELETE FROM tokens WHERE issued_at < ?1".into(),
            ),
            // As `service_state::outbox` asks for the last mail sent.
            (
                "last sent".into(),
                super::super::service_state::LAST_SENT_SQL.into(),
            ),
        ];
        for stamp in stamps {
            let c = stamp.condition();
            queries.push((
                format!("{stamp:?} count"),
                format!("SELECT COUNT(*) FROM cases WHERE {c}"),
            ));
            queries.push((
                format!("{stamp:?} list"),
                by_ids(&format!(
                    "SELECT id FROM cases WHERE {c} ORDER BY year, seq LIMIT ?3"
                )),
            ));
        }
        for (name, sql) in &queries {
            let steps = plan(conn, sql);
            for step in &steps {
                let walks = (step.starts_with("SCAN cases")
                    || step.starts_with("SCAN c")
                    || step.starts_with("SCAN outbox")
                    || step.starts_with("SCAN w")
                    || step.starts_with("SCAN mails")
                    || step.starts_with("SCAN tokens"))
                    && !step.contains(" INDEX ");
                assert!(!walks, "{name} walks a table: {steps:?}");
            }
            if name == "last sent" {
                assert!(
                    steps.len() == 1 && steps[0].contains("INDEX outbox_sent"),
                    "{name}: {steps:?}"
                );
            }
            // The register, and the yearly analysis (every case of a year, in reference
            // order), read the register's index from end to end; nothing else does.
            if name != "register" && name != "facts" {
                assert!(
                    !steps
                        .iter()
                        .any(|s| s.starts_with("SCAN")
                            && s.contains("COVERING INDEX cases_register")),
                    "{name} walks the whole register index: {steps:?}"
                );
            }
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
