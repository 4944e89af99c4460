//! The `notices` table: one row per scheduled thing done (a reminder, an overdue alert, a digest,
//! a report, a purge), keyed so that doing it again is recognised and skipped.

use super::{parse_ts, ts};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

/// Claims `key` inside the caller's transaction: true the first time, false ever after.
pub fn claim(conn: &Connection, key: &str, now: DateTime<Utc>) -> anyhow::Result<bool> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO notices (key, done_at) VALUES (?1, ?2)",
        params![key, ts(now)],
    )? == 1)
}

/// Releases `key`, so that it can be claimed again (a flood that ended).
pub fn release(conn: &Connection, key: &str) -> anyhow::Result<()> {
    conn.prepare_cached("DELETE FROM notices WHERE key = ?1")?
        .execute(params![key])?;
    Ok(())
}

/// Whether `key` was claimed.
pub fn done(conn: &Connection, key: &str) -> anyhow::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM notices WHERE key = ?1")?
        .query_row(params![key], |_| Ok(()))
        .optional()?
        .is_some())
}

/// When the scheduler first ran on this database (recorded on the first call): periods that
/// ended before it, such as last week's digest on a fresh installation, are not reported.
/// A database that already holds cases was in use since the first of them.
pub fn installed_at(conn: &Connection, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    claim(conn, "installed", now)?;
    let at: String = conn.query_row(
        "SELECT done_at FROM notices WHERE key = 'installed'",
        [],
        |r| r.get(0),
    )?;
    let first_case: Option<String> =
        conn.query_row("SELECT MIN(received_at) FROM cases", [], |r| r.get(0))?;
    let mut installed = parse_ts(&at)?;
    if let Some(first) = first_case {
        installed = installed.min(parse_ts(&first)?);
    }
    Ok(installed)
}
