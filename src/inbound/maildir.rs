//! The embedded default source: a local Maildir. New mail is read from `new/`; once recorded it
//! moves to `cur/` with the standard flags (`S` when klachtd handled it, none when it is left
//! for people), or to the `.Quarantaine` sub-maildir. Only regular files are mail: anything
//! else in `new/` or `cur/` (a directory, a symbolic link — even to a real complaint —, a
//! FIFO) is never opened or followed, and is reported ([`Maildir::oddities`]); the Maildir's
//! own folders must be real directories, not links out of it.

use super::RawMail;
use crate::domain::Disposition;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The sub-maildir (Maildir++ style) where unreadable and spam mail is set aside.
pub const QUARANTINE: &str = ".Quarantaine";

/// The file name (before `:2,`) a ledger key gives a Maildir message: `maildir:NAME` →
/// `NAME`, `maildir:NAME#HASH` → `NAME.HASH`.
fn file_base(source_key: &str) -> Option<String> {
    source_key
        .strip_prefix("maildir:")
        .map(|k| k.replacen('#', ".", 1))
}

/// A Maildir on disk.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
}

/// Something in `new/` or `cur/` that is not a mail file: never read, never followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oddity {
    /// `new/NAME` or `cur/NAME`.
    pub entry: String,
    pub kind: &'static str,
}

fn kind_of(file_type: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_symlink() {
        "symbolic link"
    } else if file_type.is_dir() {
        "directory"
    } else if file_type.is_fifo() {
        "FIFO"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "device"
    } else {
        "not a regular file"
    }
}

/// Creates `dir` (0700) if missing; refuses when it is anything but a directory of its own —
/// a symbolic link would lead out of the Maildir.
fn own_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(meta) => Err(std::io::Error::other(format!(
            "{} is a {}, not a directory: klachtd never follows it out of the Maildir",
            dir.display(),
            kind_of(meta.file_type())
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::fsutil::create_private_dir(dir)
        }
        Err(e) => Err(e),
    }
}

/// [`Maildir::oddities`] of the Maildir at `root`, without creating anything (`klachtd status`).
pub fn oddities_in(root: &Path, subs: &[&str]) -> std::io::Result<Vec<Oddity>> {
    let mut out = Vec::new();
    for sub in subs {
        let dir = root.join(sub);
        if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let file_type = entry.file_type()?;
            if !file_type.is_file() {
                out.push(Oddity {
                    entry: format!("{sub}/{}", entry.file_name().to_string_lossy()),
                    kind: kind_of(file_type),
                });
            }
        }
    }
    out.sort_by(|a, b| a.entry.cmp(&b.entry));
    Ok(out)
}

/// A message waiting in `new/`.
#[derive(Debug, Clone)]
pub struct Pending {
    path: PathBuf,
    /// The unique part of the file name (before any `:2,` info).
    pub key: String,
}

impl Maildir {
    /// Opens the Maildir at `root`, creating `new/`, `cur/` and `tmp/` (mode 0700) if needed.
    pub fn open(root: &Path) -> std::io::Result<Maildir> {
        crate::fsutil::create_private_dir(root)?;
        for sub in ["new", "cur", "tmp"] {
            own_dir(&root.join(sub))?;
        }
        Ok(Maildir {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Messages in `new/`, oldest first (Maildir names start with the delivery time).
    pub fn pending(&self) -> std::io::Result<Vec<Pending>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.root.join("new"))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !entry.file_type()?.is_file() {
                continue;
            }
            let key = name.split(':').next().unwrap_or(&name).to_string();
            out.push(Pending {
                path: entry.path(),
                key,
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Entries of `new/` and `cur/` (those named in `subs`) that are not regular files, by name.
    pub fn oddities(&self, subs: &[&str]) -> std::io::Result<Vec<Oddity>> {
        oddities_in(&self.root, subs)
    }

    /// Reads a pending message: opened without following a symbolic link and without waiting
    /// on a FIFO, and read only when what was opened is a regular file (it may have been
    /// swapped since it was listed).
    pub fn read(&self, pending: &Pending) -> std::io::Result<RawMail> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags.bits() as i32)
            .open(&pending.path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::other(format!(
                "{} is a {}, not a mail file",
                pending.key,
                kind_of(meta.file_type())
            )));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut bytes)?;
        let arrived_at = meta.modified().ok().map(DateTime::<Utc>::from);
        Ok(RawMail {
            source_key: format!("maildir:{}", pending.key),
            bytes,
            arrived_at,
        })
    }

    /// Moves a recorded message out of `new/`, as its disposition says, under the name its
    /// ledger key gives it (`NAME`, or `NAME.HASH` for a reused file name with other content).
    /// It never replaces a file already there: a clash gets a `.dupN` suffix.
    pub fn finish(
        &self,
        pending: &Pending,
        source_key: &str,
        disposition: Disposition,
    ) -> std::io::Result<()> {
        let (dir, flags) = match disposition {
            Disposition::Processed => (self.root.join("cur"), "S"),
            Disposition::LeaveUnread => (self.root.join("cur"), ""),
            Disposition::Quarantine => {
                own_dir(&self.root.join(QUARANTINE))?;
                let q = Maildir::open(&self.root.join(QUARANTINE))?;
                (q.root.join("cur"), "S")
            }
        };
        let base = file_base(source_key).unwrap_or_else(|| pending.key.clone());
        let mut name = base.clone();
        let mut n = 0;
        while dir.join(format!("{name}:2,{flags}")).exists() {
            n += 1;
            name = format!("{base}.dup{n}");
        }
        std::fs::rename(&pending.path, dir.join(format!("{name}:2,{flags}")))
    }

    /// Delivers a message the way an MTA does (write to `tmp/`, then rename into `new/`).
    /// Used by `klachtd demo` and tests.
    pub fn deliver(&self, bytes: &[u8], now: DateTime<Utc>) -> std::io::Result<String> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let key = format!(
            "{}.M{}P{}Q{n}.klachtd",
            now.timestamp(),
            now.timestamp_subsec_micros(),
            std::process::id()
        );
        let tmp = self.root.join("tmp").join(&key);
        crate::fsutil::write_private_atomic(&tmp, bytes)?;
        std::fs::rename(&tmp, self.root.join("new").join(&key))?;
        Ok(key)
    }

    /// Deletes the stored copies of these mails (`maildir:<key>` source keys) from `cur/` and
    /// the quarantine, for the retention purge. Returns how many files went.
    pub fn remove_keys(&self, source_keys: &[&str]) -> std::io::Result<usize> {
        let keys: Vec<String> = source_keys.iter().filter_map(|k| file_base(k)).collect();
        let matches = |name: &str| {
            keys.iter().any(|k| {
                name == k
                    || name
                        .strip_prefix(k.as_str())
                        .and_then(|rest| rest.strip_prefix(".dup"))
                        .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
            })
        };
        let mut removed = 0;
        for dir in [
            self.root.join("cur"),
            self.root.join(QUARANTINE).join("cur"),
        ] {
            // Never into a folder that is a link out of the Maildir.
            let real = |d: &Path| std::fs::symlink_metadata(d).is_ok_and(|m| m.is_dir());
            if !real(&dir)
                || !real(&self.root.join(QUARANTINE)) && dir.starts_with(self.root.join(QUARANTINE))
            {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let key = name.split(':').next().unwrap_or(&name);
                // A directory under a mail's name is not its copy (and is reported as odd);
                // a symbolic link is removed itself, never what it points at.
                if matches(key) && !entry.file_type()?.is_dir() {
                    std::fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Number of messages in `dir` ("new", "cur") of this Maildir or its quarantine.
    pub fn count(&self, sub: &str) -> usize {
        std::fs::read_dir(self.root.join(sub))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliver_then_finish_moves_with_flags() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::open(dir.path()).unwrap();
        md.deliver(b"Subject: a\r\n\r\nx", DateTime::UNIX_EPOCH)
            .unwrap();
        md.deliver(b"Subject: b\r\n\r\nx", DateTime::UNIX_EPOCH)
            .unwrap();
        md.deliver(b"Subject: c\r\n\r\nx", DateTime::UNIX_EPOCH)
            .unwrap();
        let pending = md.pending().unwrap();
        assert_eq!(pending.len(), 3);
        let key = |p: &Pending| format!("maildir:{}", p.key);
        md.finish(&pending[0], &key(&pending[0]), Disposition::Processed)
            .unwrap();
        md.finish(&pending[1], &key(&pending[1]), Disposition::LeaveUnread)
            .unwrap();
        md.finish(&pending[2], &key(&pending[2]), Disposition::Quarantine)
            .unwrap();
        assert_eq!(md.pending().unwrap().len(), 0);
        let cur: Vec<String> = std::fs::read_dir(dir.path().join("cur"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(cur.iter().any(|n| n.ends_with(":2,S")));
        assert!(cur.iter().any(|n| n.ends_with(":2,")));
        assert_eq!(
            Maildir::open(&dir.path().join(QUARANTINE))
                .unwrap()
                .count("cur"),
            1
        );
    }
}
