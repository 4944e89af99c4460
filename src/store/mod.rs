//! SQLite persistence: opening the database safely, migrations, and one module per table
//! group. rusqlite types stay inside this module tree.

pub mod budget;
pub mod cases;
pub mod health;
pub mod mails;
pub mod maintenance;
pub mod notices;
pub mod outbox;
pub mod packed;
pub mod person;
pub mod privacy;
mod schema;
pub mod tokens;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, Transaction};
use std::path::Path;

pub use cases::{CaseRecord, Complainant, Event, NewCase};
pub use mails::{MailOutcome, RecordedMail};
pub use outbox::{OutboxKind, OutboxStatus, QueuedMail};

/// The database. One connection; callers hold it briefly, never across an await on I/O.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating it readable by its owner only) and migrates the database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::fsutil::create_private_dir(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        crate::fsutil::touch_private(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let conn =
            Connection::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        // WAL with synchronous=FULL: a commit is on disk before we mark or move the mail that
        // caused it, so a crash (even a power cut) can never lose a recorded complaint.
        // A new register gets 1 KiB pages: a commit writes every page it touches whole, twice
        // (log, then database), and most of ours touch a few small rows (marking a mail sent)
        // or one compressed body of 1-4 KiB; 4 KiB pages wrote 25 % more and left a quarter of
        // each body page empty (scripts/bench, issue 12). No effect on an existing file.
        conn.pragma_update(None, "page_size", 1024)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Copy the log into the database every 16 MiB rather than every 1 MiB: a page that
        // many commits touch (an index leaf, the newest table page) is copied once per
        // checkpoint, so fewer checkpoints write less (5.3x the mail's size instead of 5.7x).
        conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Self::setup(conn)
    }

    /// A private in-memory database, for tests and the dry parts of the CLI.
    pub fn open_in_memory() -> anyhow::Result<Store> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> anyhow::Result<Store> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Deleted personal data is overwritten, not left in free pages (retention).
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // The statements of intake and sending, prepared once each instead of for every mail.
        conn.set_prepared_statement_cache_capacity(64);
        // Plans that never depend on the values bound: without this, SQLite 3.50 reads a
        // bound LIMIT or OFFSET as a constant and so compiles the statement again every time
        // it is bound anew (the outbox heads, the acknowledgement slot: 8 % of the CPU a
        // complaint cost over IMAP and SMTP). Our queries name their partial indexes'
        // conditions literally, so no plan needs a bound value.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        migrate(&mut conn)?;
        Ok(Store { conn })
    }

    /// Runs `f` in one transaction: everything it writes lands together or not at all.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let tx = self.conn.transaction()?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Read-only access for queries.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Hands back the memory of SQLite's page cache (up to 2 MB; the pages are read again from
    /// the file, usually the OS cache, when next needed). Called when the daemon goes idle, so a
    /// quiet daemon does not keep the pages of its last busy spell.
    pub fn release_memory(&self) {
        packed::release();
        if let Err(e) = self.conn.release_memory() {
            tracing::debug!("releasing SQLite's page cache: {e}");
        }
    }

    /// `PRAGMA integrity_check` reports "ok".
    pub fn integrity_ok(&self) -> anyhow::Result<bool> {
        let result: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(result == "ok")
    }
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > schema::MIGRATIONS.len() {
        anyhow::bail!(
            "the database is from a newer klachtd (schema {version}, this one knows {})",
            schema::MIGRATIONS.len()
        );
    }
    for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .with_context(|| format!("migration {}", i + 1))?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// How instants are stored: RFC 3339 in UTC, which also sorts correctly as text.
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(crate) fn parse_ts(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}

pub(crate) fn parse_date(s: &str) -> rusqlite::Result<NaiveDate> {
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_the_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/k.sqlite");
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        let version: usize = store
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema::MIGRATIONS.len());
        assert!(store.integrity_ok().unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let journal: String = store
            .conn()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(journal, "wal");
        let page_size: u32 = store
            .conn()
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .unwrap();
        assert_eq!(page_size, 1024);
    }
}
