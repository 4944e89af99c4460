//! The production source: an IMAP mailbox over TLS, watched with IDLE (re-issued well before
//! servers drop it) or by polling. A cursor (UIDVALIDITY, last UID) remembers how far we got;
//! a message is flagged or moved only after the commit that recorded it.

use super::Disposition;
use super::RawMail;
use crate::settings::{Imap, TlsMode};
use anyhow::Context;
use async_imap::{Client, Session};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};

/// Any byte stream an IMAP session can run over (plain TCP or TLS).
pub trait ImapIo: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> ImapIo for T {}

pub type ImapSession = Session<Box<dyn ImapIo>>;

/// How far processing of a folder got: a UID is only meaningful with its UIDVALIDITY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub uidvalidity: u32,
    pub last_uid: u32,
}

/// What the daemon gives the source: recording a mail, and remembering the cursor.
pub trait MailSink {
    /// Records one mail durably; returns what to do with it in the mailbox.
    fn take(&mut self, raw: &RawMail) -> anyhow::Result<Disposition>;
    /// Records several mails durably, in one commit where it can: the dispositions of those
    /// recorded, in order, and the failure that stopped it early, if one did.
    fn take_batch(&mut self, raws: &[RawMail]) -> (Vec<Disposition>, Option<anyhow::Error>) {
        let mut done = Vec::with_capacity(raws.len());
        for raw in raws {
            match self.take(raw) {
                Ok(disposition) => done.push(disposition),
                Err(e) => return (done, Some(e)),
            }
        }
        (done, None)
    }
    /// The disposition recorded earlier for a copy, if it was recorded.
    fn recorded(&mut self, source_key: &str) -> anyhow::Result<Option<Disposition>>;
    fn cursor(&mut self, mailbox: &str) -> anyhow::Result<Option<Cursor>>;
    fn set_cursor(&mut self, mailbox: &str, cursor: Cursor) -> anyhow::Result<()>;
}

/// A configured IMAP account.
pub struct ImapSource {
    settings: Imap,
    login: crate::auth::Login,
    tls: TlsConnector,
}

/// Context of an error before any session existed: the log says "cannot reach", not "lost".
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("cannot reach the IMAP server")]
pub struct NeverConnected;

/// Why the wait for new mail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    NewMail,
    Timeout,
    Shutdown,
}

/// At most this many mails are fetched, recorded and moved together.
pub const BATCH_MAILS: usize = 200;
/// And at most this many bytes of them (a larger mail is a batch of its own), so memory stays
/// flat however large the backlog: the raw mails, their decoded form and the server's response
/// buffers of one batch are what intake holds at a time.
pub const BATCH_BYTES: u64 = 4 << 20;
/// The new UIDs are sized (one `UID FETCH … RFC822.SIZE`) and batched this many at a time, so
/// what is held for a backlog of any length is one window's sizes, not the whole backlog's.
pub const WINDOW_UIDS: usize = 1000;

/// Drops the untagged answers async-imap set aside (EXPUNGE, EXISTS, COPYUID …): nothing here
/// reads them, and each holds the buffer it was read into until dropped.
fn drain_unsolicited(session: &ImapSession) {
    while session.unsolicited_responses.try_recv().is_ok() {}
}

/// A UID set in IMAP syntax, runs written as ranges: `[1, 2, 3, 7]` → `1:3,7`. `uids` must be
/// sorted and without repeats.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if end == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Consecutive batches of `(uid, size)` in order, each at most `max_mails` long and at most
/// `max_bytes` in total, unless a single mail is larger (then it is alone).
pub fn batch_by_size(sized: &[(u32, u64)], max_mails: usize, max_bytes: u64) -> Vec<Vec<u32>> {
    let mut batches = Vec::new();
    let mut batch = Vec::new();
    let mut bytes = 0u64;
    for &(uid, size) in sized {
        if !batch.is_empty() && (batch.len() >= max_mails || bytes + size > max_bytes) {
            batches.push(std::mem::take(&mut batch));
            bytes = 0;
        }
        batch.push(uid);
        bytes += size;
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

impl ImapSource {
    pub fn from_settings(settings: &Imap) -> anyhow::Result<ImapSource> {
        let login = crate::auth::Login::for_imap(settings)?;
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(ca) = &settings.ca_file {
            let certs = CertificateDer::pem_file_iter(ca)
                .with_context(|| format!("inbound.imap.ca_file: cannot read {}", ca.display()))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("inbound.imap.ca_file: {} is not PEM", ca.display()))?;
            for cert in certs {
                roots
                    .add(cert)
                    .context("inbound.imap.ca_file: unusable certificate")?;
            }
        }
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(ImapSource {
            settings: settings.clone(),
            login,
            tls: TlsConnector::from(Arc::new(config)),
        })
    }

    pub fn folder(&self) -> &str {
        &self.settings.folder
    }

    async fn tls_wrap(&self, stream: Box<dyn ImapIo>) -> anyhow::Result<Box<dyn ImapIo>> {
        let name = ServerName::try_from(self.settings.host.clone()).context("inbound.imap.host")?;
        let tls = self
            .tls
            .connect(name, stream)
            .await
            .context("TLS handshake with the IMAP server")?;
        Ok(Box::new(tls))
    }

    /// Connects, secures, logs in and makes sure the folders klachtd moves mail to exist.
    pub async fn connect(&self) -> anyhow::Result<ImapSession> {
        let s = &self.settings;
        let tcp = tokio::time::timeout(
            Duration::from_secs(30),
            TcpStream::connect((s.host.as_str(), s.port)),
        )
        .await
        .context("connecting to the IMAP server timed out")?
        .with_context(|| format!("cannot connect to IMAP server {}:{}", s.host, s.port))?;
        let stream: Box<dyn ImapIo> = Box::new(tcp);
        let stream = match s.tls {
            TlsMode::Implicit => self.tls_wrap(stream).await?,
            TlsMode::None => stream,
            TlsMode::Starttls => {
                let mut client = Client::new(stream);
                client.read_response().await?.context("no IMAP greeting")?;
                client
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .context("STARTTLS refused")?;
                self.tls_wrap(client.into_inner()).await?
            }
        };
        let mut client = Client::new(stream);
        if s.tls != TlsMode::Starttls {
            client.read_response().await?.context("no IMAP greeting")?;
        }
        let mut session = self.login.imap(client, &s.host, s.port).await?;
        for folder in [&s.processed_folder, &s.quarantine_folder] {
            if !folder.is_empty() {
                // "Already exists" is the common answer; a real problem shows when moving.
                let _ = session.create(folder).await;
            }
        }
        Ok(session)
    }

    /// Takes in everything new in the folder. On a fresh connection (`startup`), it also
    /// finishes mail that was recorded before a crash but not yet moved.
    pub async fn process_folder(
        &self,
        session: &mut ImapSession,
        sink: &mut dyn MailSink,
        startup: bool,
    ) -> anyhow::Result<usize> {
        let folder = &self.settings.folder;
        let mailbox = session
            .select(folder)
            .await
            .with_context(|| format!("selecting {folder}"))?;
        let uidvalidity = mailbox.uid_validity.context("server gave no UIDVALIDITY")?;
        let mut cursor = match sink.cursor(folder)? {
            Some(c) if c.uidvalidity == uidvalidity => c,
            Some(old) => {
                tracing::warn!(
                    old = old.uidvalidity,
                    new = uidvalidity,
                    "UIDVALIDITY changed: rescanning the folder (known mail is recognised as duplicate)"
                );
                Cursor {
                    uidvalidity,
                    last_uid: 0,
                }
            }
            None => Cursor {
                uidvalidity,
                last_uid: 0,
            },
        };
        if startup && cursor.last_uid > 0 {
            self.finish_leftovers(session, sink, cursor).await?;
        }
        let mut uids: Vec<u32> = session
            .uid_search(format!("UID {}:*", cursor.last_uid + 1))
            .await?
            .into_iter()
            .filter(|uid| *uid > cursor.last_uid)
            .collect();
        uids.sort_unstable();
        let has_move = session.capabilities().await?.has_str("MOVE");
        let mut taken = 0;
        for window in uids.chunks(WINDOW_UIDS) {
            for batch in self.batches(session, window).await? {
                taken += self
                    .take_batch(session, sink, uidvalidity, &mut cursor, &batch, has_move)
                    .await?;
            }
        }
        drain_unsolicited(session);
        Ok(taken)
    }

    /// Fetches one batch, records it with one commit (each mail alone should one fail), then
    /// moves the cursor and flags/moves the recorded mail. Returns how many were recorded;
    /// the failure that stopped the batch, if any, after finishing what was recorded.
    async fn take_batch(
        &self,
        session: &mut ImapSession,
        sink: &mut dyn MailSink,
        uidvalidity: u32,
        cursor: &mut Cursor,
        batch: &[u32],
        has_move: bool,
    ) -> anyhow::Result<usize> {
        let folder = &self.settings.folder;
        // One FETCH for the batch, one commit for its mails (each alone should one fail);
        // the cursor and the flags/moves follow once for the batch, after that commit.
        let fetched = self.fetch_set(session, uidvalidity, batch).await?;
        let (uids, raws): (Vec<u32>, Vec<RawMail>) = fetched.into_iter().unzip();
        let (dispositions, failure) = sink.take_batch(&raws);
        drop(raws);
        if !dispositions.is_empty() {
            crate::failpoint::hit("after-commit");
        }
        let done: Vec<(u32, Disposition)> = uids.into_iter().zip(dispositions).collect();
        // Past the batch (or up to the mail that failed): the mail recorded so far is
        // finished now; a failed one stays unread for the next attempt.
        let last = match &failure {
            None => batch.last().copied(),
            Some(_) => done.last().map(|(uid, _)| *uid),
        };
        if let Some(last) = last {
            cursor.last_uid = last;
            sink.set_cursor(folder, *cursor)?;
        }
        for disposition in [Disposition::Processed, Disposition::Quarantine] {
            let set: Vec<u32> = done
                .iter()
                .filter(|(_, d)| *d == disposition)
                .map(|(uid, _)| *uid)
                .collect();
            self.apply_set(session, &set, disposition, has_move).await?;
        }
        crate::failpoint::hit("after-mark");
        // The server's untagged answers to the moves (EXPUNGE, COPYUID) are not needed.
        drain_unsolicited(session);
        match failure {
            Some(e) => Err(e),
            None => Ok(done.len()),
        }
    }

    /// The UIDs of one window (sorted) in batches of at most [`BATCH_MAILS`] mails and
    /// [`BATCH_BYTES`] bytes (a mail larger than that alone), asking the server for the sizes
    /// in one command. Each answer is read and dropped in turn: async-imap keeps a buffer of
    /// at least 4 KB with every response, so collecting them would hold 4 KB per mail.
    async fn batches(
        &self,
        session: &mut ImapSession,
        uids: &[u32],
    ) -> anyhow::Result<Vec<Vec<u32>>> {
        if uids.len() <= 1 {
            return Ok(uids.iter().map(|u| vec![*u]).collect());
        }
        let mut sized: Vec<(u32, u64)> = Vec::with_capacity(uids.len());
        let mut answers = session
            .uid_fetch(uid_set(uids), "(UID RFC822.SIZE)")
            .await?;
        while let Some(fetch) = answers.try_next().await? {
            if let Some(uid) = fetch.uid.filter(|uid| uids.binary_search(uid).is_ok()) {
                sized.push((uid, u64::from(fetch.size.unwrap_or(0))));
            }
        }
        drop(answers);
        sized.sort_unstable_by_key(|(uid, _)| *uid);
        sized.dedup_by_key(|(uid, _)| *uid);
        Ok(batch_by_size(&sized, BATCH_MAILS, BATCH_BYTES))
    }

    /// Fetches a set of UIDs in one command, in UID order (expunged ones are missing). Each
    /// answer's body is copied out and the answer (with its buffer) dropped at once. A response
    /// for one of them without its body (the server telling of a flag change in the middle of
    /// the answer) is no error: those UIDs are fetched once more, and only a UID that still
    /// comes without its body fails the batch.
    async fn fetch_set(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        uids: &[u32],
    ) -> anyhow::Result<Vec<(u32, RawMail)>> {
        let mut out = Vec::with_capacity(uids.len());
        let mut wanted = uids.to_vec();
        for attempt in 0..2 {
            let mut bodiless = Vec::new();
            let mut answers = session
                .uid_fetch(uid_set(&wanted), "(UID INTERNALDATE BODY.PEEK[])")
                .await?;
            while let Some(fetch) = answers.try_next().await? {
                let Some(uid) = fetch.uid.filter(|uid| wanted.binary_search(uid).is_ok()) else {
                    continue; // an unsolicited FETCH (flags of another message)
                };
                let Some(body) = fetch.body() else {
                    // Read the rest of the answer first, so the session stays usable.
                    bodiless.push(uid);
                    continue;
                };
                let arrived_at = fetch.internal_date().map(|d| d.with_timezone(&Utc));
                out.push((
                    uid,
                    RawMail {
                        source_key: self.source_key(uidvalidity, uid),
                        bytes: body.to_vec(),
                        arrived_at: arrived_at.map(|d: DateTime<Utc>| d),
                    },
                ));
            }
            drop(answers);
            let got: std::collections::HashSet<u32> = out.iter().map(|(uid, _)| *uid).collect();
            bodiless.retain(|uid| !got.contains(uid));
            bodiless.sort_unstable();
            bodiless.dedup();
            if bodiless.is_empty() {
                break;
            }
            anyhow::ensure!(
                attempt == 0,
                "FETCH returned no body for UID {}",
                bodiless[0]
            );
            wanted = bodiless;
        }
        out.sort_by_key(|(uid, _)| *uid);
        out.dedup_by_key(|(uid, _)| *uid);
        Ok(out)
    }

    fn source_key(&self, uidvalidity: u32, uid: u32) -> String {
        format!("imap:{}/{uidvalidity}/{uid}", self.settings.folder)
    }

    /// Mail at or below the cursor still in the folder was recorded but not yet moved or
    /// flagged when klachtd stopped: finish it now, as recorded.
    async fn finish_leftovers(
        &self,
        session: &mut ImapSession,
        sink: &mut dyn MailSink,
        cursor: Cursor,
    ) -> anyhow::Result<()> {
        let query = if self.settings.processed_folder.is_empty() {
            format!("UID 1:{} UNSEEN", cursor.last_uid)
        } else {
            format!("UID 1:{}", cursor.last_uid)
        };
        let mut uids: Vec<u32> = session.uid_search(query).await?.into_iter().collect();
        uids.sort_unstable();
        for uid in uids.into_iter().filter(|u| *u <= cursor.last_uid) {
            match sink.recorded(&self.source_key(cursor.uidvalidity, uid))? {
                Some(Disposition::LeaveUnread) | None => {}
                Some(disposition) => {
                    tracing::info!(uid, "finishing mail recorded before a restart");
                    self.apply(session, uid, disposition).await?;
                }
            }
        }
        Ok(())
    }

    async fn apply(
        &self,
        session: &mut ImapSession,
        uid: u32,
        disposition: Disposition,
    ) -> anyhow::Result<()> {
        let has_move = session.capabilities().await?.has_str("MOVE");
        self.apply_set(session, &[uid], disposition, has_move).await
    }

    /// Flags and moves a set of recorded mails, all with the same disposition, in one
    /// command each.
    async fn apply_set(
        &self,
        session: &mut ImapSession,
        uids: &[u32],
        disposition: Disposition,
        has_move: bool,
    ) -> anyhow::Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let target = match disposition {
            Disposition::LeaveUnread => return Ok(()),
            Disposition::Processed => &self.settings.processed_folder,
            Disposition::Quarantine => &self.settings.quarantine_folder,
        };
        let set = uid_set(uids);
        if disposition == Disposition::Processed {
            let _: Vec<_> = session
                .uid_store(&set, "+FLAGS.SILENT (\\Seen)")
                .await?
                .try_collect()
                .await?;
        }
        if target.is_empty() {
            return Ok(());
        }
        if has_move {
            session
                .uid_mv(&set, target)
                .await
                .with_context(|| format!("moving to {target}"))?;
        } else {
            session
                .uid_copy(&set, target)
                .await
                .with_context(|| format!("copying to {target}"))?;
            let _: Vec<_> = session
                .uid_store(&set, "+FLAGS.SILENT (\\Seen \\Deleted)")
                .await?
                .try_collect()
                .await?;
            let _: Vec<_> = session.uid_expunge(&set).await?.try_collect().await?;
        }
        Ok(())
    }

    /// Deletes the mails with these Message-IDs from the processed and quarantine folders
    /// (retention purge). Returns how many were expunged.
    pub async fn expunge_message_ids(
        &self,
        session: &mut ImapSession,
        ids: &[&str],
    ) -> anyhow::Result<usize> {
        let mut removed = 0;
        for folder in [
            &self.settings.processed_folder,
            &self.settings.quarantine_folder,
        ] {
            if folder.is_empty() || session.select(folder).await.is_err() {
                continue;
            }
            let mut uids = Vec::new();
            for id in ids {
                let quoted = id.replace(['"', '\\'], "");
                uids.extend(
                    session
                        .uid_search(format!("HEADER Message-ID \"{quoted}\""))
                        .await?,
                );
            }
            if uids.is_empty() {
                continue;
            }
            let set = uids
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let _: Vec<_> = session
                .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                .await?
                .try_collect()
                .await?;
            let _: Vec<_> = session.uid_expunge(&set).await?.try_collect().await?;
            removed += uids.len();
        }
        Ok(removed)
    }

    /// Waits for new mail: IDLE (renewed every `idle_renew_seconds`) when the server offers it
    /// and it is enabled, otherwise a poll interval. Returns the session for the next round.
    pub async fn wait(
        &self,
        mut session: ImapSession,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<(ImapSession, Wake)> {
        let use_idle = self.settings.idle && session.capabilities().await?.has_str("IDLE");
        if !use_idle {
            let poll = Duration::from_secs(self.settings.poll_seconds);
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => return Ok((session, Wake::Shutdown)),
            }
            session.noop().await?;
            return Ok((session, Wake::Timeout));
        }
        let mut idle = session.idle();
        idle.init().await.context("starting IDLE")?;
        let renew = Duration::from_secs(self.settings.idle_renew_seconds);
        let wake = {
            let (wait, _stop) = idle.wait_with_timeout(renew);
            tokio::select! {
                r = wait => match r.context("waiting in IDLE")? {
                    async_imap::extensions::idle::IdleResponse::NewData(_) => Wake::NewMail,
                    _ => Wake::Timeout,
                },
                _ = shutdown.changed() => Wake::Shutdown,
            }
        };
        let session = idle.done().await.context("ending IDLE")?;
        Ok((session, wake))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reads an IMAP UID set back into its UIDs.
    fn expand(set: &str) -> Vec<u32> {
        set.split(',')
            .flat_map(|part| match part.split_once(':') {
                Some((a, b)) => (a.parse::<u32>().unwrap()..=b.parse().unwrap()).collect(),
                None => vec![part.parse().unwrap()],
            })
            .collect()
    }

    #[test]
    fn uid_set_writes_runs_as_ranges() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[]), "");
    }

    proptest! {
        /// Any sorted set of UIDs comes back exactly, each run as one range.
        #[test]
        fn uid_set_names_exactly_the_uids(set in proptest::collection::btree_set(1u32..5000, 1..300)) {
            let uids: Vec<u32> = set.into_iter().collect();
            let text = uid_set(&uids);
            prop_assert_eq!(expand(&text), uids.clone());
            let runs = 1 + uids.windows(2).filter(|w| w[1] != w[0] + 1).count();
            prop_assert_eq!(text.split(',').count(), runs);
        }

        /// Batches keep every UID once and in order, and stay within both limits unless one
        /// mail alone is larger.
        #[test]
        fn batches_keep_order_and_limits(
            sizes in proptest::collection::vec(0u64..10_000, 0..400),
            max_mails in 1usize..50,
            max_bytes in 1u64..50_000,
        ) {
            let sized: Vec<(u32, u64)> =
                sizes.iter().enumerate().map(|(i, s)| (i as u32 + 1, *s)).collect();
            let batches = batch_by_size(&sized, max_mails, max_bytes);
            let flat: Vec<u32> = batches.iter().flatten().copied().collect();
            prop_assert_eq!(flat, sized.iter().map(|(u, _)| *u).collect::<Vec<_>>());
            for batch in &batches {
                prop_assert!(!batch.is_empty() && batch.len() <= max_mails);
                let bytes: u64 = batch.iter().map(|u| sized[*u as usize - 1].1).sum();
                prop_assert!(bytes <= max_bytes || batch.len() == 1);
            }
        }
    }
}
