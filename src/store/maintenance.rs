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
/// a consistent snapshot even while another process commits. Nothing may be at `to` yet — not
/// a file, not a symbolic link (never followed): the copy is made and checked in a private
/// directory beside `to` and only then given its name, which replaces nothing.
pub fn backup(from: &Path, to: &Path) -> anyhow::Result<Inspection> {
    anyhow::ensure!(
        from.is_file(),
        "no database at {} (store.path)",
        from.display()
    );
    refuse_existing(to)?;
    let work = crate::fsutil::private_work_dir(parent_of(to))
        .with_context(|| format!("cannot write in {}", parent_of(to).display()))?;
    let copy = work.path().join("copy.sqlite");
    let inspection = copy_checked(from, &copy)?;
    crate::fsutil::move_new(&copy, to).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            anyhow::anyhow!("{} already exists: give a new file name", to.display())
        }
        _ => anyhow::Error::new(e).context(format!("cannot create {}", to.display())),
    })?;
    Ok(inspection)
}

fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn refuse_existing(to: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(to) {
        Ok(meta) if meta.file_type().is_symlink() => anyhow::bail!(
            "{} is a symbolic link: klachtd never writes through one; give a new file name",
            to.display()
        ),
        Ok(_) => anyhow::bail!("{} already exists: give a new file name", to.display()),
        Err(_) => Ok(()),
    }
}

/// Copies the database `from` to the new file `copy` (mode 0600, in a directory of ours) and
/// checks the copy whole.
fn copy_checked(from: &Path, copy: &Path) -> anyhow::Result<Inspection> {
    let src = open_existing(from)?;
    crate::fsutil::touch_private(copy)
        .with_context(|| format!("cannot create {}", copy.display()))?;
    {
        let mut dst =
            Connection::open(copy).with_context(|| format!("cannot open {}", copy.display()))?;
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
    let inspection = inspect(copy, true)?;
    anyhow::ensure!(inspection.intact, "the copy failed its integrity check");
    Ok(inspection)
}

/// The files SQLite keeps beside a database (its log, the log's index, a rollback journal).
const SIDE_FILES: [&str; 3] = ["-wal", "-shm", "-journal"];

fn with_suffix(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub inspection: Inspection,
    /// Where the database it replaced is kept (none when there was none).
    pub kept: Option<std::path::PathBuf>,
}

/// Puts the backup `from` in place as the database `to` (which no daemon may be using: the
/// caller holds the store's lock). The backup is copied and checked first; then the current
/// database, with its log, is kept under a name of its own —
/// `<to>.before-restore-20261207T102000Z` (`-2`, `-3`… if that is taken) — which never replaces
/// anything, so a second restore keeps the first one's database too; then the copy takes its
/// place. Nothing is deleted and no file readable by others is written.
pub fn restore(
    from: &Path,
    to: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Restored> {
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
    let dir = parent_of(to);
    crate::fsutil::create_private_dir(dir)?;
    let work = crate::fsutil::private_work_dir(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let staged = work.path().join("restore.sqlite");
    copy_checked(from, &staged)?;
    let kept = if crate::fsutil::anything_at(to) {
        Some(keep_aside(to, now)?)
    } else {
        None
    };
    // The restored file takes the name; a log of the database it replaced is gone from
    // beside it (kept with that database above), so it can never be applied to this one.
    crate::fsutil::move_new(&staged, to)
        .with_context(|| format!("cannot put the backup in place as {}", to.display()))?;
    Ok(Restored { inspection, kept })
}

/// The databases `restore` kept beside the one at `store`, with the moment each was set aside
/// (from its name: `<store>.before-restore-20261207T102000Z[-N]`).
pub fn kept_databases(
    store: &Path,
) -> std::io::Result<Vec<(std::path::PathBuf, chrono::DateTime<chrono::Utc>)>> {
    let dir = parent_of(store);
    let Some(name) = store.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(Vec::new());
    };
    let prefix = format!("{name}.before-restore-");
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        if SIDE_FILES.iter().any(|side| rest.ends_with(side)) {
            continue;
        }
        let stamp = rest.get(..16).unwrap_or_default();
        if let Ok(at) = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ") {
            out.push((entry.path(), at.and_utc()));
        }
    }
    out.sort();
    Ok(out)
}

/// Removes the databases `restore` kept that were set aside before `cutoff`, with their side
/// files (retention: they hold the same personal data as the register did then, and the
/// purge never reaches into them). A symbolic link under such a name is removed itself.
/// Returns how many went.
pub fn remove_kept_before(
    store: &Path,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> std::io::Result<usize> {
    let mut removed = 0;
    for (path, at) in kept_databases(store)? {
        if at >= cutoff {
            continue;
        }
        for side in SIDE_FILES {
            match std::fs::remove_file(with_suffix(&path, side)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        std::fs::remove_file(&path)?;
        removed += 1;
    }
    Ok(removed)
}

/// Moves the database `to` and its side files to the first free
/// `<to>.before-restore-<time>[-N]`; returns that name.
fn keep_aside(to: &Path, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<std::path::PathBuf> {
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    for n in 1.. {
        let suffix = if n == 1 {
            format!(".before-restore-{stamp}")
        } else {
            format!(".before-restore-{stamp}-{n}")
        };
        let keep = with_suffix(to, &suffix);
        if SIDE_FILES
            .iter()
            .any(|side| crate::fsutil::anything_at(&with_suffix(&keep, side)))
        {
            continue;
        }
        match crate::fsutil::move_new(to, &keep) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("cannot move {} aside", to.display()));
            }
        }
        // Its log may hold commits not yet in the main file: it goes aside with it.
        for side in SIDE_FILES {
            let from = with_suffix(to, side);
            if crate::fsutil::anything_at(&from) {
                crate::fsutil::move_new(&from, &with_suffix(&keep, side))
                    .with_context(|| format!("cannot move {} aside", from.display()))?;
            }
        }
        return Ok(keep);
    }
    unreachable!("some suffix is free")
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
