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

/// A file written to a temporary name beside the `path` it is for (mode 0600), neither synced
/// nor named yet: [`write_unnamed`], then [`Unnamed::sync`], then [`Unnamed::name`], and one
/// [`sync_dir`] for a batch of names. Splitting the steps lets a batch write all of its files
/// before syncing any: the first sync then writes the inode block the batch shares, and the
/// others find it clean (ext4 writes an inode's block with each `fdatasync` it is dirty for).
/// A reader of the directory never sees a part of a file; after a crash before the directory's
/// sync the file may be there or not, and never in part. Dropped before it is named, the
/// temporary file is removed.
pub struct Unnamed {
    file: std::fs::File,
    tmp: std::path::PathBuf,
    path: std::path::PathBuf,
    named: bool,
}

/// Writes `bytes` to the temporary name of `path` (`.<name>.tmp`: one per file, so a run killed
/// while writing leaves nothing the next write of the same file does not take away). Created
/// new (`O_EXCL`: never through a link someone placed there); a leftover under that name is
/// removed first (a link itself, never what it points to).
pub fn write_unnamed(path: &Path, bytes: &[u8]) -> std::io::Result<Unnamed> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let create = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
    };
    let file = match create() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&tmp)?;
            create()?
        }
        other => other?,
    };
    let mut unnamed = Unnamed {
        file,
        tmp,
        path: path.to_path_buf(),
        named: false,
    };
    unnamed.file.write_all(bytes)?;
    Ok(unnamed)
}

impl Unnamed {
    /// Puts the file's data on disk.
    pub fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// Gives the file its name (the directory not synced: see [`sync_dir`]).
    pub fn name(mut self) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, &self.path)?;
        self.named = true;
        Ok(())
    }
}

impl Drop for Unnamed {
    fn drop(&mut self) {
        if !self.named {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Makes the names in `dir` durable (the renames of [`Unnamed::name`]).
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
