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
        let mut taken = 0;
        for uid in uids {
            let Some(raw) = self.fetch(session, uidvalidity, uid).await? else {
                continue; // expunged meanwhile
            };
            let disposition = sink.take(&raw)?;
            crate::failpoint::hit("after-commit");
            cursor.last_uid = uid;
            sink.set_cursor(folder, cursor)?;
            self.apply(session, uid, disposition).await?;
            crate::failpoint::hit("after-mark");
            taken += 1;
        }
        Ok(taken)
    }

    fn source_key(&self, uidvalidity: u32, uid: u32) -> String {
        format!("imap:{}/{uidvalidity}/{uid}", self.settings.folder)
    }

    async fn fetch(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        uid: u32,
    ) -> anyhow::Result<Option<RawMail>> {
        let fetches: Vec<_> = session
            .uid_fetch(uid.to_string(), "(UID INTERNALDATE BODY.PEEK[])")
            .await?
            .try_collect()
            .await?;
        let Some(fetch) = fetches.into_iter().find(|f| f.uid == Some(uid)) else {
            return Ok(None);
        };
        let bytes = fetch.body().context("FETCH returned no body")?.to_vec();
        let arrived_at = fetch.internal_date().map(|d| d.with_timezone(&Utc));
        Ok(Some(RawMail {
            source_key: self.source_key(uidvalidity, uid),
            bytes,
            arrived_at: arrived_at.map(|d: DateTime<Utc>| d),
        }))
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
        let target = match disposition {
            Disposition::LeaveUnread => return Ok(()),
            Disposition::Processed => &self.settings.processed_folder,
            Disposition::Quarantine => &self.settings.quarantine_folder,
        };
        let set = uid.to_string();
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
        let caps = session.capabilities().await?;
        if caps.has_str("MOVE") {
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
