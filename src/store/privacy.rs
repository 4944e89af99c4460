//! The `case_privacy`, `erasures` and `backups_made` tables (issue 25): a case's privacy side
//! (whom the complaint concerns, a legal hold, a privacy request), the record that an erasure
//! happened (without the address), and the backups `klachtd backup` made (so `erase` can name
//! the copies it cannot reach).

use super::{parse_date, parse_ts, ts};
use crate::domain::privacy::{Hold, Privacy, PrivacyRequest, RequestKind};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, params};

/// The subquery that reads a case's privacy side as one JSON array, beside the case's own
/// columns (`store::cases`), from the `case_privacy` primary key.
pub(crate) const PRIVACY_COLUMN: &str = "(SELECT json_array(p.concerns, p.concerns_fixed,
    p.hold_until, p.hold_reason, p.request_kind, p.request_received, p.request_due,
    p.request_extended_months, p.request_extension_reason, p.request_done_at)
    FROM case_privacy p WHERE p.case_id = cases.id)";

type Stored = (
    String,
    u8,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<u32>,
    Option<String>,
    Option<String>,
);

/// Reads [`PRIVACY_COLUMN`]'s value (NULL: nothing set).
pub(crate) fn from_json(json: Option<&str>) -> rusqlite::Result<Privacy> {
    let Some(json) = json else {
        return Ok(Privacy::default());
    };
    let bad = |e: Box<dyn std::error::Error + Send + Sync>| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e)
    };
    let (concerns, fixed, hold_until, hold_reason, kind, received, due, months, why, done): Stored =
        serde_json::from_str(json).map_err(|e| bad(Box::new(e)))?;
    let hold = match hold_until {
        Some(until) => Some(Hold {
            until: parse_date(&until)?,
            reason: hold_reason.unwrap_or_default(),
        }),
        None => None,
    };
    let request = match (kind.as_deref().and_then(RequestKind::parse), received, due) {
        (Some(kind), Some(received), Some(due)) => Some(PrivacyRequest {
            kind,
            received: parse_date(&received)?,
            due: parse_date(&due)?,
            extended_months: months,
            extension_reason: why,
            done_at: done.as_deref().map(parse_ts).transpose()?,
        }),
        _ => None,
    };
    Ok(Privacy {
        concerns: concerns
            .split(',')
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect(),
        concerns_fixed: fixed != 0,
        hold,
        request,
    })
}

/// Writes a case's privacy side (nothing set: no row).
pub fn save(conn: &Connection, case_id: i64, p: &Privacy) -> anyhow::Result<()> {
    if *p == Privacy::default() {
        conn.prepare_cached("DELETE FROM case_privacy WHERE case_id = ?1")?
            .execute(params![case_id])?;
        return Ok(());
    }
    let r = p.request.as_ref();
    conn.prepare_cached(
        "INSERT OR REPLACE INTO case_privacy (case_id, concerns, concerns_fixed, hold_until,
             hold_reason, request_kind, request_received, request_due, request_extended_months,
             request_extension_reason, request_done_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        case_id,
        p.concerns.join(","),
        p.concerns_fixed,
        p.hold.as_ref().map(|h| h.until.to_string()),
        p.hold.as_ref().map(|h| h.reason.clone()),
        r.map(|r| r.kind.as_str()),
        r.map(|r| r.received.to_string()),
        r.map(|r| r.due.to_string()),
        r.and_then(|r| r.extended_months),
        r.and_then(|r| r.extension_reason.clone()),
        r.and_then(|r| r.done_at).map(ts),
    ])?;
    Ok(())
}

/// The ids of the cases with a privacy request still open, soonest deadline first (a few
/// rows, from their own partial index).
pub fn open_requests(conn: &Connection) -> anyhow::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT case_id FROM case_privacy
         WHERE request_kind IS NOT NULL AND request_done_at IS NULL ORDER BY request_due, case_id",
    )?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The ids of the cases under a legal hold on `today`, soonest end first.
pub fn held(conn: &Connection, today: NaiveDate) -> anyhow::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT case_id FROM case_privacy WHERE hold_until IS NOT NULL AND hold_until >= ?1
         ORDER BY hold_until, case_id",
    )?;
    let rows = stmt.query_map(params![today.to_string()], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether case `case_id` is under a legal hold on `today`.
pub fn is_held(conn: &Connection, case_id: i64, today: NaiveDate) -> anyhow::Result<bool> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM case_privacy WHERE case_id = ?1 AND hold_until >= ?2",
        )?
        .query_row(params![case_id, today.to_string()], |r| r.get(0))?;
    Ok(n > 0)
}

/// That an erasure happened, kept without the address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Erasure {
    pub at: DateTime<Utc>,
    pub reason: String,
    pub cases: usize,
    pub mails: usize,
    /// The references of the cases erased (their anonymous facts remain in the register).
    pub references: Vec<String>,
}

pub fn record_erasure(conn: &Connection, e: &Erasure) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO erasures (at, reason, cases, mails, refs) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            ts(e.at),
            e.reason,
            e.cases as i64,
            e.mails as i64,
            e.references.join(",")
        ],
    )?;
    Ok(())
}

/// Every erasure recorded, oldest first.
pub fn erasures(conn: &Connection) -> anyhow::Result<Vec<Erasure>> {
    let mut stmt =
        conn.prepare("SELECT at, reason, cases, mails, refs FROM erasures ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(Erasure {
            at: parse_ts(&r.get::<_, String>(0)?)?,
            reason: r.get(1)?,
            cases: r.get::<_, i64>(2)? as usize,
            mails: r.get::<_, i64>(3)? as usize,
            references: r
                .get::<_, String>(4)?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Notes a backup written by `klachtd backup` (its path as given, made absolute).
pub fn record_backup(conn: &Connection, path: &str, at: DateTime<Utc>) -> anyhow::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO backups_made (path, made_at) VALUES (?1, ?2)",
        params![path, ts(at)],
    )?;
    Ok(())
}

/// The backups made at or after `since`, oldest first.
pub fn backups_since(
    conn: &Connection,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<(String, DateTime<Utc>)>> {
    let mut stmt = conn.prepare(
        "SELECT path, made_at FROM backups_made WHERE made_at >= ?1 ORDER BY made_at, path",
    )?;
    let rows = stmt.query_map(params![ts(since)], |r| {
        Ok((r.get::<_, String>(0)?, parse_ts(&r.get::<_, String>(1)?)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn the_privacy_side_reads_back_as_written() {
        let mut store = Store::open_in_memory().unwrap();
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let p = Privacy {
            concerns: vec!["anna@example.org".into(), "piet@example.org".into()],
            concerns_fixed: true,
            hold: Some(Hold {
                until: day("2029-06-30"),
                reason: "lopende procedure, \"x\"".into(),
            }),
            request: Some(PrivacyRequest {
                extended_months: Some(2),
                extension_reason: Some("veel stukken".into()),
                done_at: Some(DateTime::from_timestamp(1_800_000_000, 0).unwrap()),
                ..PrivacyRequest::new(RequestKind::Erasure, day("2026-11-24"))
            }),
        };
        store
            .transaction(|tx| {
                tx.execute_batch(
                    "INSERT INTO cases (id, reference, year, seq, status, language, subject, body,
                         received_at, reaction_due)
                     VALUES (1, 'KL-2026-0001', 2026, 1, 'open', 'nl', 's', '',
                         '2026-11-24T09:00:00Z', '2026-12-01')",
                )?;
                save(tx, 1, &p)
            })
            .unwrap();
        let c = crate::store::cases::by_id(store.conn(), 1)
            .unwrap()
            .unwrap();
        assert_eq!(c.privacy, p);
        assert_eq!(open_requests(store.conn()).unwrap(), Vec::<i64>::new());
        assert_eq!(held(store.conn(), day("2029-06-30")).unwrap(), vec![1]);
        assert!(held(store.conn(), day("2029-07-01")).unwrap().is_empty());
        store
            .transaction(|tx| save(tx, 1, &Privacy::default()))
            .unwrap();
        let c = crate::store::cases::by_id(store.conn(), 1)
            .unwrap()
            .unwrap();
        assert_eq!(c.privacy, Privacy::default());
    }
}
