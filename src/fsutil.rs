//! Creating files and directories that only their owner can read: the database, the outbox
//! and the Maildir hold complaint content.

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

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename), mode 0600.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_private_atomic_with(path, |f| f.write_all(bytes).map_err(Into::into))
        .map_err(std::io::Error::other)
}

/// As [`write_private_atomic`], the content written by `write` as it goes (a large file
/// never held in memory whole).
pub fn write_private_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        let mut buffered = std::io::BufWriter::new(f);
        write(&mut buffered)?;
        buffered
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
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
    let tmp = path.with_extension("tmp");
    {
        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
    }
    std::fs::rename(&tmp, path)
}

/// Makes the names in `dir` durable (the renames of [`write_private_unsynced_name`]).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}
