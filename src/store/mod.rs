//! SQLite persistence: opening the database safely, migrations, and one module per table
//! group. rusqlite types stay inside this module tree.

pub mod budget;
pub mod cases;
pub mod mails;
pub mod maintenance;
pub mod notices;
pub mod outbox;
pub mod packed;
pub mod person;
pub mod privacy;
pub mod purge;
mod schema;
pub mod service_state;
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
    writes: WriteHealth,
}

/// How the writes to the database went: counted by [`Store::transaction`], so the daemon can
/// tell when the database cannot be written (disk full, read-only) and when it can again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteHealth {
    /// Transactions that failed because the database could not be written.
    pub failed: u64,
    /// Transactions committed.
    pub committed: u64,
    /// The last failure's error text.
    pub last_error: String,
    /// The last failure was a full disk (the file itself is fine: no need to open it again).
    pub last_full: bool,
}

/// Whether opening or writing the database failed because its disk is full or read-only (or
/// will not let it write): [`is_unwritable`], or the same from the file system directly.
pub fn disk_refused(error: &anyhow::Error) -> bool {
    is_unwritable(error)
        || error.chain().any(|cause| {
            cause.downcast_ref::<std::io::Error>().is_some_and(|e| {
                matches!(
                    e.kind(),
                    std::io::ErrorKind::ReadOnlyFilesystem
                        | std::io::ErrorKind::StorageFull
                        | std::io::ErrorKind::PermissionDenied
                )
            })
        })
}

/// Whether `error` says the database cannot be written — the disk is full, the file or its
/// file system is read-only, the file cannot be opened, an I/O error — rather than anything
/// about what was written. Such a failure is the environment's: nothing is lost, the work is
/// tried again.
pub fn is_unwritable(error: &anyhow::Error) -> bool {
    use rusqlite::ErrorCode::*;
    error.chain().any(|cause| {
        cause
            .downcast_ref::<rusqlite::Error>()
            .and_then(|e| e.sqlite_error_code())
            .is_some_and(|code| {
                matches!(
                    code,
                    DiskFull | SystemIoFailure | CannotOpen | ReadOnly | PermissionDenied
                )
            })
    })
}

/// How long an opening or a write waits for another process's lock before it fails.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

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
        // Before anything that locks: switching a new file to WAL takes the write lock, and
        // another process opening it at the same moment must wait for it, not fail (a CI run
        // found `database is locked` here).
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // WAL with synchronous=FULL: a commit is on disk before we mark or move the mail that
        // caused it, so a crash (even a power cut) can never lose a recorded complaint.
        // A new register gets 1 KiB pages: a commit writes every page it touches whole, twice
        // (log, then database), and most of ours touch a few small rows (marking a mail sent)
        // or one compressed body of 1-4 KiB; 4 KiB pages wrote 25 % more and left a quarter of
        // each body page empty (scripts/bench, issue 12). No effect on an existing file.
        conn.pragma_update(None, "page_size", 1024)?;
        set_wal(&conn)?;
        // Copy the log into the database every 16 MiB rather than every 1 MiB: a page that
        // many commits touch (an index leaf, the newest table page) is copied once per
        // checkpoint, so fewer checkpoints write less (5.3x the mail's size instead of 5.7x).
        conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Self::setup(conn)
    }

    /// Opens the database at `path` for a command that only reads: a missing database is an error
    /// naming the path looked at, never a new empty one.
    ///
    /// When the disk is full or read-only — just when someone runs `klachtd status` to see why —
    /// it is read as it stood at its last checkpoint ([`Store::open_snapshot`]), with a note saying
    /// so, instead of failing.
    pub fn open_existing(path: &Path) -> anyhow::Result<Store> {
        require_existing(path)?;
        match Store::open(path) {
            Ok(store) => Ok(store),
            Err(e) if disk_refused(&e) => {
                eprintln!(
                    "klachtd: note: the database cannot be written now (its disk is full or read-only: {}); shown as it stood at its last checkpoint",
                    format!("{e:#}").replace(['\r', '\n'], " ")
                );
                Store::open_snapshot(path)
            }
            Err(e) => Err(e),
        }
    }

    /// The database at `path` as it stood at its last checkpoint, read without writing
    /// anything beside it (SQLite's `immutable`: no lock, no shared-memory index, no log): for
    /// the commands that only look, when the disk is full or read-only and the database cannot
    /// be opened the usual way. Commits still in the log are not seen.
    pub fn open_snapshot(path: &Path) -> anyhow::Result<Store> {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let uri = format!(
            "file:{}?immutable=1",
            absolute
                .to_string_lossy()
                .replace('%', "%25")
                .replace('?', "%3f")
                .replace('#', "%23")
        );
        let conn = Connection::open_with_flags(
            uri,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                | rusqlite::OpenFlags::SQLITE_OPEN_URI
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("cannot open {} read-only", path.display()))?;
        Ok(Store {
            conn,
            writes: WriteHealth::default(),
        })
    }

    /// A private in-memory database, for tests and the dry parts of the CLI.
    pub fn open_in_memory() -> anyhow::Result<Store> {
        Self::setup(Connection::open_in_memory()?)
    }

    /// A private in-memory copy of this register, made by SQLite's backup rather than by
    /// migrating a new one: for runs that start many times from one state (each of the
    /// procedure model's sequences starts from an empty register; migrating one costs 3 ms,
    /// and 2,000 sequences took 21.4 s with copies instead of 28.0 s).
    pub fn copy_in_memory(&self) -> anyhow::Result<Store> {
        let mut conn = Connection::open_in_memory()?;
        {
            let backup = rusqlite::backup::Backup::new(&self.conn, &mut conn)?;
            backup.run_to_completion(i32::MAX, std::time::Duration::ZERO, None)?;
        }
        Self::setup(conn)
    }

    /// What the daemon holds while its database's file system has failed under it (I/O
    /// errors, taken read-only by the kernel): the real file let go, so that it can be
    /// repaired and mounted again, and in its place an empty register that refuses every
    /// write (`query_only`) — so whatever runs meanwhile reads nothing, records nothing, marks
    /// nothing processed and sends nothing, and tries again.
    pub fn unavailable() -> anyhow::Result<Store> {
        let store = Self::open_in_memory()?;
        store.conn.pragma_update(None, "query_only", true)?;
        Ok(store)
    }

    fn setup(mut conn: Connection) -> anyhow::Result<Store> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Deleted personal data is overwritten, not left in free pages (retention).
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // The statements of intake, casework, the jobs and sending, prepared once each instead
        // of for every mail. Room for all of them: with 64, the procedure model's mix of
        // commands and jobs pushed statements out of the cache faster than they came back, and
        // compiling SQL took a quarter of its time.
        conn.set_prepared_statement_cache_capacity(256);
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
        Ok(Store {
            conn,
            writes: WriteHealth::default(),
        })
    }

    /// Runs `f` in one transaction: everything it writes lands together or not at all.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let result = (|| {
            let tx = self.conn.transaction()?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        match &result {
            Ok(_) => self.writes.committed += 1,
            Err(e) if is_unwritable(e) => {
                self.writes.failed += 1;
                self.writes.last_error = format!("{e:#}");
                self.writes.last_full = e.chain().any(|c| {
                    c.downcast_ref::<rusqlite::Error>()
                        .and_then(|e| e.sqlite_error_code())
                        == Some(rusqlite::ErrorCode::DiskFull)
                });
            }
            Err(_) => {}
        }
        result
    }

    /// How writing to the database has gone so far.
    pub fn write_health(&self) -> WriteHealth {
        self.writes.clone()
    }

    /// Takes over the write counts of `before`, the connection this one replaces (the
    /// database opened again after its file system failed), adding its own.
    pub fn continue_counts(&mut self, before: &WriteHealth) {
        self.writes.failed += before.failed;
        self.writes.committed += before.committed;
        if self.writes.last_error.is_empty() {
            self.writes.last_error = before.last_error.clone();
        }
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

/// Fails, naming the path looked at, when there is no database at `path`.
pub fn require_existing(path: &Path) -> anyhow::Result<()> {
    if !path.is_file() {
        let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        anyhow::bail!(
            "no database at {} (store.path): klachtd has not run with this configuration yet, \
             or store.path / --config point elsewhere",
            shown.display()
        );
    }
    Ok(())
}

/// Switches the database to WAL. On a new file this needs the file to itself, and SQLite
/// answers "locked" at once, without the busy handler, while another process opening it at
/// the same moment holds it: so the switch is tried again until `BUSY_TIMEOUT` (a CI run
/// found the daemon and a reader failing here).
fn set_wal(conn: &Connection) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => return Ok(other?),
        }
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
        // Under the write lock, and read again there: another process opening the same new
        // database at the same moment (the daemon and `klachtd cases`) may have taken this
        // step already.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if done > i {
            tx.commit()?;
            continue;
        }
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

    /// Several processes opening one new database at the same moment (the daemon starting
    /// while `klachtd cases` looks): each migration is taken once, and every opening succeeds
    /// (a CI run found the second one failing on a trigger the first had made).
    #[test]
    fn openings_at_the_same_moment_migrate_once() {
        for _ in 0..32 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("k.sqlite");
            let start = std::sync::Barrier::new(4);
            std::thread::scope(|scope| {
                let openers: Vec<_> = (0..4)
                    .map(|_| {
                        scope.spawn(|| {
                            start.wait();
                            Store::open(&path).map(drop)
                        })
                    })
                    .collect();
                for opener in openers {
                    opener.join().unwrap().unwrap();
                }
            });
            let store = Store::open(&path).unwrap();
            let version: usize = store
                .conn()
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap();
            assert_eq!(version, schema::MIGRATIONS.len());
        }
    }

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
