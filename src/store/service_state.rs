//! The daemon's record of its own connections — when the mailbox was last read, since when
//! reading it fails and why — the open administrator alerts, since when the login settings
//! are as they are, and the outbox seen as a whole. Its tables are made on first write
//! (`CREATE TABLE IF NOT EXISTS`), so they need no schema number of their own; readers treat a
//! missing table as "nothing recorded yet".

use super::{parse_ts, ts};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

const TABLES: &str = "
    CREATE TABLE IF NOT EXISTS health (
        component     TEXT PRIMARY KEY,
        last_ok       TEXT,
        failing_since TEXT,
        last_error    TEXT,
        login_refused INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS alerts (
        component TEXT PRIMARY KEY,
        raised_at TEXT NOT NULL,
        reason    TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS login_setup (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        fingerprint TEXT NOT NULL,
        since       TEXT NOT NULL
    );";

fn ensure(conn: &Connection) -> anyhow::Result<()> {
    conn.execute_batch(TABLES)?;
    Ok(())
}

fn has_table(conn: &Connection, name: &str) -> anyhow::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// What is recorded about one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub last_ok: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub login_refused: bool,
}

/// `component` worked at `now`: its failure, if any, is over. While all is well the time is
/// written at most once a minute (a Maildir is polled every few seconds) — and at once if the
/// recorded time lies ahead (a clock set back, or a run `--now` a later moment).
pub fn record_ok(conn: &Connection, component: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
    ensure(conn)?;
    conn.execute(
        "INSERT INTO health (component, last_ok) VALUES (?1, ?2)
         ON CONFLICT (component) DO UPDATE SET last_ok = ?2, failing_since = NULL,
             last_error = NULL, login_refused = 0
         WHERE failing_since IS NOT NULL OR last_ok IS NULL OR last_ok <= ?3 OR last_ok > ?2",
        params![component, ts(now), ts(now - chrono::Duration::minutes(1))],
    )?;
    Ok(())
}

/// `component` worked at `now` after failing: its failure is over. Writes only when a failure
/// is recorded (a job that always works costs no write per pass).
pub fn record_recovered(
    conn: &Connection,
    component: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    if !has_table(conn, "health")? {
        return Ok(());
    }
    conn.execute(
        "UPDATE health SET last_ok = ?2, failing_since = NULL, last_error = NULL, login_refused = 0
         WHERE component = ?1 AND failing_since IS NOT NULL",
        params![component, ts(now)],
    )?;
    Ok(())
}

/// `component` failed at `now`; the failure counts from its first occurrence.
pub fn record_failure(
    conn: &Connection,
    component: &str,
    now: DateTime<Utc>,
    error: &str,
    login_refused: bool,
) -> anyhow::Result<()> {
    ensure(conn)?;
    conn.execute(
        "INSERT INTO health (component, failing_since, last_error, login_refused)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (component) DO UPDATE SET failing_since = COALESCE(failing_since, ?2),
             last_error = ?3, login_refused = ?4",
        params![component, ts(now), error, login_refused],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, component: &str) -> anyhow::Result<Health> {
    if !has_table(conn, "health")? {
        return Ok(Health::default());
    }
    let row = conn
        .query_row(
            "SELECT last_ok, failing_since, last_error, login_refused FROM health
             WHERE component = ?1",
            [component],
            |r| {
                Ok(Health {
                    last_ok: r
                        .get::<_, Option<String>>(0)?
                        .map(|s| parse_ts(&s))
                        .transpose()?,
                    failing_since: r
                        .get::<_, Option<String>>(1)?
                        .map(|s| parse_ts(&s))
                        .transpose()?,
                    last_error: r.get(2)?,
                    login_refused: r.get(3)?,
                })
            },
        )
        .optional()?;
    Ok(row.unwrap_or_default())
}

/// The open alert for `component`: when it was raised and why.
pub fn open_alert(
    conn: &Connection,
    component: &str,
) -> anyhow::Result<Option<(DateTime<Utc>, String)>> {
    if !has_table(conn, "alerts")? {
        return Ok(None);
    }
    Ok(conn
        .query_row(
            "SELECT raised_at, reason FROM alerts WHERE component = ?1",
            [component],
            |r| Ok((parse_ts(&r.get::<_, String>(0)?)?, r.get(1)?)),
        )
        .optional()?)
}

pub fn raise_alert(
    conn: &Connection,
    component: &str,
    since: DateTime<Utc>,
    reason: &str,
) -> anyhow::Result<()> {
    ensure(conn)?;
    conn.execute(
        "INSERT OR REPLACE INTO alerts (component, raised_at, reason) VALUES (?1, ?2, ?3)",
        params![component, ts(since), reason],
    )?;
    Ok(())
}

pub fn clear_alert(conn: &Connection, component: &str) -> anyhow::Result<()> {
    ensure(conn)?;
    conn.execute("DELETE FROM alerts WHERE component = ?1", [component])?;
    Ok(())
}

/// Records the login settings' fingerprint as seen at `now` and returns since when they are
/// as they are: `now` when they are new or changed (the first start counts as a change), else
/// the moment they were first seen.
pub fn note_login_setup(
    conn: &Connection,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<DateTime<Utc>> {
    ensure(conn)?;
    conn.execute(
        "INSERT INTO login_setup (id, fingerprint, since) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET fingerprint = ?1, since = ?2
         WHERE fingerprint <> ?1",
        params![fingerprint, ts(now)],
    )?;
    Ok(login_setup_since(conn)?.unwrap_or(now))
}

/// Since when the login settings are as last recorded, if recorded.
pub fn login_setup_since(conn: &Connection) -> anyhow::Result<Option<DateTime<Utc>>> {
    if !has_table(conn, "login_setup")? {
        return Ok(None);
    }
    conn.query_row("SELECT since FROM login_setup WHERE id = 1", [], |r| {
        r.get::<_, String>(0)
    })
    .optional()?
    .map(|s| Ok(parse_ts(&s)?))
    .transpose()
}

/// The outbox as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxHealth {
    pub queued: usize,
    pub oldest_queued: Option<DateTime<Utc>>,
    /// Queued mail that was tried and waits for its next attempt.
    pub retrying: usize,
    /// Why the whole queue is paused (the server could not be used), while it is.
    pub paused: Option<String>,
    pub failed: usize,
    pub last_sent: Option<DateTime<Utc>>,
}

/// The last mail sent, from the partial index of sent mail: without `INDEXED BY` the planner
/// (no statistics) takes `outbox_due` and reads every sent row with its bytes.
pub(crate) const LAST_SENT_SQL: &str =
    "SELECT MAX(sent_at) FROM outbox INDEXED BY outbox_sent WHERE status = 'sent'";

pub fn outbox(conn: &Connection) -> anyhow::Result<OutboxHealth> {
    let opt_ts = |s: Option<String>| s.map(|s| parse_ts(&s)).transpose();
    let (queued, oldest): (usize, Option<String>) = conn.query_row(
        "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status = 'queued'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let retrying: usize = conn.query_row(
        "SELECT COUNT(*) FROM outbox WHERE status = 'queued' AND attempts > 0",
        [],
        |r| r.get(0),
    )?;
    let paused: Option<String> = if has_table(conn, "outbox_pause")? {
        conn.query_row("SELECT reason FROM outbox_pause WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?
    } else {
        None
    };
    let failed: usize = conn.query_row(
        "SELECT COUNT(*) FROM outbox WHERE status = 'failed'",
        [],
        |r| r.get(0),
    )?;
    let last_sent: Option<String> = conn.query_row(LAST_SENT_SQL, [], |r| r.get(0))?;
    Ok(OutboxHealth {
        queued,
        oldest_queued: opt_ts(oldest)?,
        retrying,
        paused,
        failed,
        last_sent: opt_ts(last_sent)?,
    })
}

/// How many received mails were quarantined.
pub fn quarantined(conn: &Connection) -> anyhow::Result<usize> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM mails WHERE outcome = 'quarantined'",
        [],
        |r| r.get(0),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn the_login_setup_counts_from_its_last_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("k.sqlite")).unwrap();
        let t = |m: i64| {
            "2026-12-01T09:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::minutes(m)
        };
        assert_eq!(login_setup_since(store.conn()).unwrap(), None);
        assert_eq!(note_login_setup(store.conn(), "a", t(0)).unwrap(), t(0));
        assert_eq!(note_login_setup(store.conn(), "a", t(30)).unwrap(), t(0));
        assert_eq!(note_login_setup(store.conn(), "b", t(40)).unwrap(), t(40));
        assert_eq!(login_setup_since(store.conn()).unwrap(), Some(t(40)));
    }

    #[test]
    fn a_failure_counts_from_its_first_occurrence_until_success() {
        let store = Store::open_in_memory().unwrap();
        let c = store.conn();
        assert_eq!(
            get(c, "inbound").unwrap(),
            Health::default(),
            "nothing yet, no table"
        );
        let t0: DateTime<Utc> = "2026-12-01T09:00:00Z".parse().unwrap();
        record_failure(c, "inbound", t0, "cannot reach", false).unwrap();
        record_failure(
            c,
            "inbound",
            t0 + chrono::Duration::minutes(5),
            "refused",
            true,
        )
        .unwrap();
        let h = get(c, "inbound").unwrap();
        assert_eq!(h.failing_since, Some(t0));
        assert_eq!(h.last_error.as_deref(), Some("refused"));
        assert!(h.login_refused);
        record_ok(c, "inbound", t0 + chrono::Duration::minutes(9)).unwrap();
        let h = get(c, "inbound").unwrap();
        assert_eq!(h.failing_since, None);
        assert_eq!(h.last_ok, Some(t0 + chrono::Duration::minutes(9)));
        assert!(!h.login_refused);
        // Within the minute nothing is written; a minute on, or back in time, it is.
        let at = |m: i64| t0 + chrono::Duration::minutes(9) + chrono::Duration::seconds(m);
        record_ok(c, "inbound", at(30)).unwrap();
        assert_eq!(get(c, "inbound").unwrap().last_ok, Some(at(0)));
        record_ok(c, "inbound", at(60)).unwrap();
        assert_eq!(get(c, "inbound").unwrap().last_ok, Some(at(60)));
        record_ok(c, "inbound", at(-600)).unwrap();
        assert_eq!(get(c, "inbound").unwrap().last_ok, Some(at(-600)));
    }
}
