//! Where outgoing mail goes: an SMTP server (lettre) or a directory of `.eml` files. Each
//! attempt ends in success, or a failure that says whose it is: the server's (the whole
//! queue waits), this message's for now (it alone backs off), or this message's for good.

use crate::settings::{Outbound, OutboundKind, TlsMode};
use crate::store::QueuedMail;
use anyhow::Context;
use lettre::address::Envelope;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

/// Why a send did not succeed, and so what to try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The server could not be used at all (no connection, TLS, login refused, 421): no
    /// message can go now, so the whole queue waits.
    #[error("server unavailable: {0}")]
    Unavailable(String),
    /// This message failed for now (a 4xx for it, e.g. the recipient's mailbox is full): it
    /// backs off alone, the rest goes on.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// This message can never go: a 5xx for it, or an address or encoding this server cannot
    /// take (no SMTPUTF8) — no retry fixes that.
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// This machine cannot take it now: the file transport's directory is full or read-only.
    /// The whole queue waits, for as long as it takes — it is never given up (the mail is not
    /// the problem, and the disk mends when space is freed).
    #[error("cannot be written here: {0}")]
    Local(String),
}

/// Reply codes that speak of the server or the session, not of the message: 421 (closing),
/// 454 (TLS/auth temporarily unavailable), 530/534/535/538 (authentication).
const SERVER_CODES: [u16; 6] = [421, 454, 530, 534, 535, 538];

/// Sorts a lettre SMTP error into whose failure it is.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let text = e.to_string();
    if e.is_client() {
        return SendError::Permanent(text);
    }
    match e.status() {
        Some(code) if SERVER_CODES.contains(&u16::from(code)) => SendError::Unavailable(text),
        Some(_) if e.is_permanent() => SendError::Permanent(text),
        Some(_) => SendError::Transient(text),
        // A timeout may be one recipient's (a slow check at RCPT): that mail backs off alone,
        // and three in a row pause the queue, as for any per-message failure.
        None if e.is_timeout() => SendError::Transient(text),
        None => SendError::Unavailable(text),
    }
}

/// The longest one message may take from connecting to the server's 250: a few times the
/// per-command `timeout_seconds`, so a command the server never answers (lettre does not
/// always apply its own timeout to each reply) cannot hold the queue.
fn send_deadline(timeout_seconds: u64) -> Duration {
    // The kept connection bounds connecting (2×) and sending (4×) itself; this is the net
    // under both, for the paths that do not keep a connection (OAuth2 logins).
    Duration::from_secs(timeout_seconds.max(1) * 7)
}

/// The configured way out.
pub enum Transport {
    /// An SMTP server, and the longest one message may take ([`send_deadline`]).
    Smtp(crate::auth::SmtpClient, Duration),
    /// Writes `<message-id>.eml` files; rewriting the same mail replaces the file, so a resend
    /// after a crash never makes a second copy.
    File(PathBuf),
}

impl Transport {
    pub fn from_settings(settings: &Outbound) -> anyhow::Result<Transport> {
        match settings.kind {
            OutboundKind::File => {
                crate::fsutil::create_private_dir(&settings.dir).with_context(|| {
                    format!("cannot create outbound.dir {}", settings.dir.display())
                })?;
                Ok(Transport::File(settings.dir.clone()))
            }
            OutboundKind::Smtp => {
                let smtp = &settings.smtp;
                let mut params = TlsParameters::builder(smtp.host.clone());
                if let Some(ca) = &smtp.ca_file {
                    let pem = std::fs::read(ca).with_context(|| {
                        format!("outbound.smtp.ca_file: cannot read {}", ca.display())
                    })?;
                    params = params.add_root_certificate(
                        Certificate::from_pem(&pem)
                            .context("outbound.smtp.ca_file: not a PEM certificate")?,
                    );
                }
                let params = params.build().context("outbound.smtp: TLS set-up")?;
                let kept_params = params.clone();
                let tls = match smtp.tls {
                    TlsMode::Implicit => Tls::Wrapper(params),
                    TlsMode::Starttls => Tls::Required(params),
                    TlsMode::None => Tls::None,
                };
                let builder =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
                        .port(smtp.port)
                        .tls(tls)
                        .timeout(Some(Duration::from_secs(smtp.timeout_seconds.max(1))));
                Ok(Transport::Smtp(
                    crate::auth::SmtpClient::new(builder, kept_params, smtp)?,
                    send_deadline(smtp.timeout_seconds),
                ))
            }
        }
    }

    /// Hands one mail over. Success means the server accepted it (250) or the file is on disk.
    pub async fn send(&self, mail: &QueuedMail) -> Result<(), SendError> {
        match self {
            Transport::Smtp(smtp, deadline) => {
                let envelope = envelope(mail).map_err(|e| SendError::Permanent(e.to_string()))?;
                let sent = tokio::time::timeout(*deadline, smtp.send_raw(&envelope, &mail.raw))
                    .await
                    .map_err(|_| {
                        SendError::Transient(format!(
                            "no answer from the server within {} s",
                            deadline.as_secs()
                        ))
                    })?;
                sent.map(|_| ()).map_err(|e| match e {
                    crate::auth::SmtpSendError::Smtp(e) if !crate::auth::is_auth_failure(&e) => {
                        classify(&e)
                    }
                    // One message's stall backs that message off; three in a row pause all.
                    crate::auth::SmtpSendError::Stalled(why) => SendError::Transient(why),
                    // A refused login, or no token to log in with: no mail can go now.
                    other => SendError::Unavailable(other.to_string()),
                })
            }
            Transport::File(dir) => {
                let path = file_copy(dir, &mail.message_id);
                let raw = mail.raw.clone();
                tokio::task::spawn_blocking(move || {
                    crate::fsutil::write_private_atomic(&path, &raw)
                })
                .await
                .map_err(|e| SendError::Local(e.to_string()))?
                .map_err(|e| SendError::Local(format!("writing {}: {e}", dir.display())))
            }
        }
    }
}

impl Transport {
    /// Hands over a batch of queued mails, each the head of its own chain (so they may go in
    /// any order); one result per mail, in the batch's order. Over SMTP they are sent side by
    /// side, each over a connection of its own. The file transport writes them in one blocking
    /// task ([`write_files`]: synced [`FILE_WRITERS`] at a time, the directory synced once for
    /// them all): a file whose result is `Ok` is on disk, under its own name, before anything
    /// is recorded. After the first failure to write a file it writes no more (the disk is full
    /// or the directory gone: the rest waits with the queue); a file whose sync or naming fails
    /// fails alone.
    pub async fn send_batch(&self, mails: &[QueuedMail]) -> Vec<Result<(), SendError>> {
        let Transport::File(dir) = self else {
            return futures::future::join_all(mails.iter().map(|mail| async move {
                crate::failpoint::hit("before-send");
                let result = self.send(mail).await;
                if result.is_ok() {
                    crate::failpoint::hit("after-send");
                }
                result
            }))
            .await;
        };
        let files: Vec<(PathBuf, Vec<u8>)> = mails
            .iter()
            .map(|mail| (file_copy(dir, &mail.message_id), mail.raw.clone()))
            .collect();
        let dir = dir.clone();
        let n = files.len();
        tokio::task::spawn_blocking(move || write_files(&dir, &files))
            .await
            .unwrap_or_else(|e| vec![Err(SendError::Local(e.to_string())); n])
    }
}

/// How many files of a batch the file transport syncs at once: each waits for its own data to
/// reach the disk, so one after the other a batch took the disk's latency a file (6 ms here:
/// 26 s for 4,000 files against 3.6 s four at a time before the batches).
pub const FILE_WRITERS: usize = 4;

/// The file transport's batch, each file under its name ([`file_copy`]): every file written to
/// its temporary name first, then their data synced, [`FILE_WRITERS`] at a time, then each
/// given its name, then one sync of the directory for all of the names. Writing them all before
/// syncing any lets the first sync write the inode block they share and the others find it
/// clean. After the first failure to write, no more files are written (the disk is full or the
/// directory gone: the rest waits with the queue). A run killed before the names leaves the
/// batch's temporary files: the next write of the same mail replaces its own, and the next
/// start removes them all ([`remove_unnamed`]).
fn write_files(dir: &std::path::Path, files: &[(PathBuf, Vec<u8>)]) -> Vec<Result<(), SendError>> {
    use crate::fsutil::Unnamed;
    use std::sync::atomic::{AtomicUsize, Ordering};
    fn local<T>(why: String) -> Result<T, SendError> {
        Err(SendError::Local(why))
    }
    let mut failed: Option<String> = None;
    let mut written: Vec<Result<Unnamed, SendError>> = Vec::with_capacity(files.len());
    for (path, raw) in files {
        if let Some(why) = &failed {
            written.push(local(format!(
                "not written after an earlier failure: {why}"
            )));
            continue;
        }
        crate::failpoint::hit("before-send");
        match crate::fsutil::write_unnamed(path, raw) {
            Ok(file) => written.push(Ok(file)),
            Err(e) => {
                let why = format!("writing {}: {e}", dir.display());
                failed = Some(why.clone());
                written.push(local(why));
            }
        }
    }
    // Each file's data on disk, FILE_WRITERS at a time.
    let next = AtomicUsize::new(0);
    let sync_some = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(file) = written.get(i) else {
                return done;
            };
            if let Ok(file) = file {
                done.push((i, file.sync()));
            }
        }
    };
    let mut synced: Vec<Option<std::io::Result<()>>> = (0..files.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let writers = FILE_WRITERS.min(files.len()).max(1);
        let others: Vec<_> = (1..writers).map(|_| scope.spawn(sync_some)).collect();
        let mut done = sync_some();
        for other in others {
            done.extend(other.join().expect("file syncer"));
        }
        for (i, result) in done {
            synced[i] = Some(result);
        }
    });
    let mut results: Vec<Result<(), SendError>> = written
        .into_iter()
        .zip(synced)
        .map(|(file, synced)| {
            let file = file?;
            let named = match synced {
                Some(Ok(())) => file.name(),
                Some(Err(e)) => Err(e),
                None => unreachable!("every written file is synced"),
            };
            match named {
                Ok(()) => {
                    crate::failpoint::hit("after-file");
                    Ok(())
                }
                Err(e) => local(format!("writing {}: {e}", dir.display())),
            }
        })
        .collect();
    if results.iter().any(Result::is_ok) {
        match crate::fsutil::sync_dir(dir) {
            Ok(()) => crate::failpoint::hit("after-send"),
            Err(e) => {
                let why = format!("syncing {}: {e}", dir.display());
                for result in results.iter_mut().filter(|r| r.is_ok()) {
                    *result = Err(SendError::Local(why.clone()));
                }
            }
        }
    }
    results
}

/// The file the file transport writes a mail to: `<Message-ID>.eml`, with every character but
/// letters, digits and `.-_@` replaced by `_` (never a path separator).
pub fn file_name(message_id: &str) -> String {
    let name: String = message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}.eml")
}

/// Removes what a killed run left of its last batch in `dir`: the temporary files
/// (`.<name>.eml.tmp`) written but never named, which hold the text of mail that may never be
/// written again under that name (erased or purged since). Called with the store's lock held,
/// when no batch of this store is being written; a symbolic link under such a name is removed
/// itself. Returns how many went.
pub fn remove_unnamed(dir: &std::path::Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        entries => entries?,
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(".eml.tmp") && !entry.file_type()?.is_dir() {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// Removes the file transport's copies of these mails from `dir` (retention): each
/// `<Message-ID>.eml`, never following a symbolic link (one is removed itself, as a name in
/// our directory). A copy already gone counts as removed. Returns how many files went.
pub fn remove_sent_files(dir: &std::path::Path, message_ids: &[&str]) -> std::io::Result<usize> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        // No directory (the transport never wrote one, or it is not ours to enter).
        Ok(_) => return Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    }
    let mut removed = 0;
    for id in message_ids {
        let path = dir.join(file_name(id));
        // A directory under that name is not a copy of ours: left alone, and forgotten.
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// Where the file transport writes the mail with this Message-ID ([`file_name`] in `dir`).
pub fn file_copy(dir: &std::path::Path, message_id: &str) -> PathBuf {
    dir.join(file_name(message_id))
}

fn envelope(mail: &QueuedMail) -> anyhow::Result<Envelope> {
    let to = mail
        .recipients
        .iter()
        .map(|r| r.parse())
        .collect::<Result<Vec<lettre::Address>, _>>()?;
    Ok(Envelope::new(Some(mail.envelope_from.parse()?), to)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A killed run's unfinished files go; nothing else in the directory does.
    #[test]
    fn only_the_unfinished_files_of_a_batch_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for name in [
            ".a@example.org.eml.tmp",
            "b@example.org.eml",
            ".hidden",
            "c.tmp",
        ] {
            std::fs::write(d.join(name), "x").unwrap();
        }
        std::os::unix::fs::symlink("/etc/passwd", d.join(".l@example.org.eml.tmp")).unwrap();
        std::fs::create_dir(d.join(".dir.eml.tmp")).unwrap();
        assert_eq!(remove_unnamed(d).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [".dir.eml.tmp", ".hidden", "b@example.org.eml", "c.tmp"]
        );
        assert!(std::path::Path::new("/etc/passwd").exists());
        assert_eq!(remove_unnamed(&d.join("gone")).unwrap(), 0);
    }
}
