//! The database seen from outside the daemon: inspecting a file without changing its content
//! (for `klachtd check` and `status`), and consistent copies with SQLite's online backup API
//! (for `klachtd backup` and `restore`), which work while the daemon writes.

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// The schema version this klachtd migrates a database to.
pub fn schema_version() -> usize {
    super::schema::MIGRATIONS.len()
}

/// What a database file holds, read without writing to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// `PRAGMA user_version`: how far its migrations got.
    pub version: usize,
    /// `PRAGMA quick_check` said "ok" (or was not asked for: then the header and schema
    /// could be read).
    pub intact: bool,
}

/// Opens `path` (never creating it) and inspects it; `whole_file` runs `PRAGMA quick_check`,
/// which reads every page.
pub fn inspect(path: &Path, whole_file: bool) -> anyhow::Result<Inspection> {
    let conn = open_existing(path)?;
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let intact = if whole_file {
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        check == "ok"
    } else {
        // The schema must at least parse.
        conn.query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| {
            r.get::<_, i64>(0)
        })?;
        true
    };
    Ok(Inspection { version, intact })
}

/// Opens an existing database for reading. Read-write when the file may be written: a commit
/// cut off by a crash (a database in rollback-journal mode — one from before WAL, a backup
/// copy — left with a hot journal) is then rolled back on the first read, as any opener does,
/// instead of making every later start fail with "attempt to write a readonly database".
/// Read-only when it may not be written.
fn open_existing(path: &Path) -> anyhow::Result<Connection> {
    match Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) {
        Ok(conn) => {
            conn.busy_timeout(Duration::from_secs(10))?;
            Ok(conn)
        }
        Err(_) => open_read_only(path),
    }
}

fn open_read_only(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {} read-only", path.display()))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

/// Copies the database at `from` to a new file `to` (mode 0600) with the online backup API:
/// a consistent snapshot even while another process commits. `to` must not exist yet.
pub fn backup(from: &Path, to: &Path) -> anyhow::Result<Inspection> {
    anyhow::ensure!(
        from.is_file(),
        "no database at {} (store.path)",
        from.display()
    );
    anyhow::ensure!(
        !to.exists(),
        "{} already exists: give a new file name",
        to.display()
    );
    let src = open_existing(from)?;
    let tmp = to.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    crate::fsutil::touch_private(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    {
        let mut dst =
            Connection::open(&tmp).with_context(|| format!("cannot open {}", tmp.display()))?;
        let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
        // Pages in steps, pausing between them so the daemon's commits go on meanwhile; a commit
        // during the copy makes SQLite restart it, so the result is one consistent moment.
        backup
            .run_to_completion(256, Duration::from_millis(5), None)
            .context("copying the database")?;
        drop(backup);
        // The copy is a plain file, not in WAL mode, so it is complete on its own.
        dst.pragma_update(None, "journal_mode", "DELETE")?;
    }
    let inspection = inspect(&tmp, true)?;
    anyhow::ensure!(inspection.intact, "the copy failed its integrity check");
    std::fs::rename(&tmp, to).with_context(|| format!("cannot create {}", to.display()))?;
    Ok(inspection)
}

/// Puts the backup `from` in place as the database `to` (which no daemon may be using): the
/// backup is checked first, the current file is kept beside it as `<to>.before-restore`.
pub fn restore(from: &Path, to: &Path) -> anyhow::Result<Inspection> {
    let inspection =
        inspect(from, true).with_context(|| format!("{} is no database", from.display()))?;
    anyhow::ensure!(
        inspection.intact,
        "{} fails its integrity check: not restored",
        from.display()
    );
    anyhow::ensure!(
        inspection.version <= schema_version(),
        "{} is from a newer klachtd (schema {}): not restored",
        from.display(),
        inspection.version
    );
    if to.exists() {
        let mut keep = to.as_os_str().to_owned();
        keep.push(".before-restore");
        std::fs::rename(to, &keep)
            .with_context(|| format!("cannot move {} aside", to.display()))?;
        // Its WAL may hold commits not yet in the main file: it goes aside with it.
        for suffix in ["-wal", "-shm"] {
            let mut side = to.as_os_str().to_owned();
            side.push(suffix);
            let mut kept = keep.clone();
            kept.push(suffix);
            if Path::new(&side).exists() {
                std::fs::rename(&side, &kept)
                    .with_context(|| format!("cannot move {} aside", Path::new(&side).display()))?;
            }
        }
    } else if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::fsutil::create_private_dir(dir)?;
    }
    backup(from, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database in rollback-journal mode copied, with its journal, in the middle of a
    /// commit: what a crash leaves behind.
    fn with_hot_journal(dir: &Path) -> std::path::PathBuf {
        let live = dir.join("live.sqlite");
        let conn = Connection::open(&live).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = DELETE; PRAGMA cache_size = 1;
             CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('before'); PRAGMA user_version = 3;",
        )
        .unwrap();
        conn.execute_batch("BEGIN; UPDATE t SET x = 'during';")
            .unwrap();
        // Enough changed pages that the cache spills them into the file before the commit.
        for _ in 0..200 {
            conn.execute("INSERT INTO t VALUES (?1)", [&"y".repeat(2000)])
                .unwrap();
        }
        let crashed = dir.join("crashed.sqlite");
        std::fs::copy(&live, &crashed).unwrap();
        std::fs::copy(
            dir.join("live.sqlite-journal"),
            dir.join("crashed.sqlite-journal"),
        )
        .unwrap();
        crashed
    }

    #[test]
    fn a_commit_cut_off_by_a_crash_is_rolled_back_not_reported_as_damage() {
        let dir = tempfile::tempdir().unwrap();
        let crashed = with_hot_journal(dir.path());
        let seen = inspect(&crashed, true).unwrap();
        assert_eq!(
            seen,
            Inspection {
                version: 3,
                intact: true
            }
        );
        let conn = Connection::open(&crashed).unwrap();
        let rows: Vec<String> = conn
            .prepare("SELECT x FROM t")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            ["before"],
            "the cut-off commit is gone, the one before kept"
        );
        // A backup of it works too.
        let copy = dir.path().join("copy.sqlite");
        assert_eq!(backup(&crashed, &copy).unwrap().version, 3);
    }
}
