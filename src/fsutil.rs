//! Creating files and directories that only their owner can read: the database, the outbox
//! and the Maildir hold complaint content. A file is only ever created new (never through a
//! symbolic link planted under its name, never over another file unless replacing it is the
//! point), and a half-written one never stays behind.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` (and parents) with mode 0700 where it does not exist yet.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Creates `path` empty with mode 0600 if it does not exist; tightens it if it does.
pub fn touch_private(path: &Path) -> std::io::Result<()> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename), mode 0600. A file at
/// `path` is replaced (a symbolic link there is replaced itself, never followed).
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_private_atomic_with(path, |f| f.write_all(bytes).map_err(Into::into))
        .map_err(std::io::Error::other)
}

/// As [`write_private_atomic`], the content written by `write` as it goes (a large file
/// never held in memory whole). The temporary file beside `path` gets a name of its own,
/// created new (`O_EXCL`: never through a link someone placed there), and is removed again
/// when anything fails — a full disk leaves no partial copy behind.
pub fn write_private_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let written = (|| -> anyhow::Result<()> {
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let mut buffered = std::io::BufWriter::new(f);
        write(&mut buffered)?;
        buffered
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        sync_dir(dir)?;
    }
    Ok(())
}

/// [`write_private_atomic`] without its last step: `bytes` go to a temporary file beside
/// `path` (mode 0600, its data synced) that is then renamed to `path`, but the directory is
/// not synced, so the caller makes a batch of such files durable with one [`sync_dir`]. A
/// reader of the directory never sees a part of a file; after a crash before that sync, the
/// file may be there or not, and never in part.
pub fn write_private_unsynced_name(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // One temporary name per file, so a run killed while writing leaves nothing the next
    // write of the same mail does not take away; created new (`O_EXCL`: never through a link
    // someone placed there) after whatever had that name is removed (a link itself, not what
    // it points to), and removed again when anything fails.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Makes the names in `dir` durable (the renames of [`write_private_unsynced_name`]).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// A directory only its owner can enter (0700), with a random name, inside `dir`: work files
/// (a copy being checked, SQLite's journal beside it) live there, where nobody can have placed
/// anything under their names. Removed with everything in it when dropped.
pub fn private_work_dir(dir: &Path) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(".klachtd-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(dir)
}

/// Gives the file `from` the new name `to`, never replacing anything there (a file, a
/// directory, a symbolic link — even one pointing nowhere): a hard link, then `from` goes.
/// Where the filesystem has no hard links, a rename to a name found free a moment before.
pub fn move_new(from: &Path, to: &Path) -> std::io::Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => std::fs::remove_file(from),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            if std::fs::symlink_metadata(to).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!("{} already exists", to.display()),
                ));
            }
            std::fs::rename(from, to)
        }
    }
}

/// Whether anything at all is at `path` (a file, a directory, a symbolic link, a dangling one).
pub fn anything_at(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}
