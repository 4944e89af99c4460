//! One klachtd per database: an exclusive lock on `<store>.lock` next to the store, held for
//! the life of the process (the kernel releases it when the process ends, however it ends).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another klachtd{} is already running on the database {store} (it holds {lock}); \
         stop it first, or give this one another store.path",
        holder.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        store = store.display(),
        lock = lock.display()
    )]
    Held {
        store: PathBuf,
        lock: PathBuf,
        holder: Option<u32>,
    },
    #[error("cannot create the lock file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
    pub path: PathBuf,
}

/// `klachtd.sqlite` → `klachtd.sqlite.lock`.
pub fn lock_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl StoreLock {
    /// Takes the lock for the database at `store` or fails at once (never waits).
    pub fn acquire(store: &Path) -> Result<StoreLock, LockError> {
        let path = lock_path(store);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = store.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::fsutil::create_private_dir(dir).map_err(io)?;
        }
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path);
        // On a read-only file system an existing lock file still locks (a lock needs no write
        // access): the daemon waits there for the database to become writable.
        let (mut file, writable) = match opened {
            Ok(file) => (file, true),
            Err(e) => match OpenOptions::new().read(true).open(&path) {
                Ok(file) => (file, false),
                Err(_) => return Err(io(e)),
            },
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    store: store.to_path_buf(),
                    lock: path.clone(),
                    holder: holder_pid(&mut file),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        // Ours now: record who holds it, for the next one's message and `klachtd status`.
        if writable {
            file.set_len(0).map_err(io)?;
            file.rewind().map_err(io)?;
            writeln!(file, "{}", std::process::id()).map_err(io)?;
        }
        Ok(StoreLock { _file: file, path })
    }
}

fn holder_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Who holds the lock of the database at `store`: `Some(pid)` (0 if unknown) while a klachtd
/// runs on it, `None` when none does. Never creates anything.
pub fn holder(store: &Path) -> std::io::Result<Option<u32>> {
    let path = lock_path(store);
    let mut file = match OpenOptions::new().read(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(None),
        Err(std::fs::TryLockError::WouldBlock) => Ok(Some(holder_pid(&mut file).unwrap_or(0))),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_store_is_refused_with_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("new/k.sqlite");
        let first = StoreLock::acquire(&store).unwrap();
        let err = StoreLock::acquire(&store).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("(pid {})", std::process::id()))
                && text.contains("k.sqlite.lock")
                && text.contains("already running"),
            "{text}"
        );
        assert_eq!(holder(&store).unwrap(), Some(std::process::id()));
        drop(first);
        assert_eq!(holder(&store).unwrap(), None);
        StoreLock::acquire(&store).expect("free again once released");
    }

    #[test]
    fn of_many_started_together_exactly_one_gets_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("fresh.sqlite");
        let barrier = std::sync::Barrier::new(8);
        let won: Vec<bool> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        // Hold it until every thread has tried.
                        let got = StoreLock::acquire(&store);
                        barrier.wait();
                        got.is_ok()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    }

    #[test]
    fn reading_a_missing_store_names_it_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("var/klachtd.sqlite");
        let err = format!(
            "{:#}",
            crate::store::Store::open_existing(&path).err().unwrap()
        );
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(!dir.path().join("var").exists());
        assert_eq!(holder(&path).unwrap(), None);
        assert!(!lock_path(&path).exists());
    }
}
