//! The embedded default source: a local Maildir. New mail is read from `new/`; once recorded it
//! moves to `cur/` with the standard flags (`S` when klachtd handled it, none when it is left
//! for people), or to the `.Quarantaine` sub-maildir.

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
        for sub in ["new", "cur", "tmp"] {
            crate::fsutil::create_private_dir(&root.join(sub))?;
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

    /// Reads a pending message.
    pub fn read(&self, pending: &Pending) -> std::io::Result<RawMail> {
        let bytes = std::fs::read(&pending.path)?;
        let arrived_at = std::fs::metadata(&pending.path)?
            .modified()
            .ok()
            .map(DateTime::<Utc>::from);
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
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let key = name.split(':').next().unwrap_or(&name);
                if matches(key) {
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
