//! The production source: an IMAP mailbox over TLS, watched with IDLE (re-issued well before
//! servers drop it) or by polling. A cursor (UIDVALIDITY, last UID) remembers how far we got;
//! a message is flagged or moved only after the commit that recorded it.

use super::RawMail;
use crate::auth::{ImapIo, ImapSession};
use crate::domain::Disposition;
use crate::settings::{Imap, TlsMode};
use anyhow::Context;
use async_imap::Client;
use async_imap::types::Fetch;
use chrono::Utc;
use futures::{Stream, TryStreamExt};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};

/// How far processing of a folder got: a UID is only meaningful with its UIDVALIDITY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub uidvalidity: u32,
    pub last_uid: u32,
}

/// A purged mail whose mailbox copy is to go: its Message-ID, if it had one, and the SHA-256
/// of its bytes as they sat in the mailbox (none for mail recorded before schema 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyToRemove<'a> {
    pub message_id: Option<&'a str>,
    pub sha256: Option<&'a str>,
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

/// How long klachtd waits for the next byte of an answer it is waiting for, outside IDLE.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// A connection to the IMAP server that gives up on an answer the server never finishes: a
/// read that gets no byte for the limit fails (`TimedOut`). A server that stalls in the middle
/// of an answer, its connection still open, then ends that connection — reported, reconnected
/// with backoff — instead of stopping intake for good without a word (found by the
/// `imap_answers` fuzz target). The limit is shared with the source, which lengthens it while it
/// waits in IDLE (where silence is the point).
pub struct Patient {
    inner: Box<dyn ImapIo>,
    limit: Arc<std::sync::atomic::AtomicU64>,
    waiting: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl Patient {
    /// `inner` with reads limited to `limit` milliseconds without a byte.
    pub fn new(inner: Box<dyn ImapIo>, limit: Arc<std::sync::atomic::AtomicU64>) -> Patient {
        Patient {
            inner,
            limit,
            waiting: None,
        }
    }
}

impl Debug for Patient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Patient")
            .field("inner", &self.inner)
            .finish()
    }
}

impl AsyncRead for Patient {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::future::Future;
        use std::task::Poll;
        let this = self.get_mut();
        match std::pin::Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.waiting = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let limit =
                    Duration::from_millis(this.limit.load(std::sync::atomic::Ordering::Relaxed));
                let waiting = this
                    .waiting
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match waiting.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.waiting = None;
                        Poll::Ready(Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!(
                                "the IMAP server sent nothing for {} s in the middle of an answer",
                                limit.as_secs()
                            ),
                        )))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for Patient {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Runs one exchange with the server so that a panic while reading its answers — the IMAP
/// parser (imap-proto 0.17) slices a status text at byte 1 and panics when the server puts a
/// multibyte character right after a response code, `* OK [UIDNEXT 3]é` (found by the
/// `imap_answers` fuzz target) — is an error of that connection, not the end of klachtd: the
/// connection is dropped, the failure reported, and it is tried again with backoff.
async fn guarded<T>(
    exchange: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(exchange).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(anyhow::anyhow!(
                "the IMAP server sent an answer klachtd cannot read ({what}); the connection is dropped and tried again"
            ))
        }
    }
}

/// A configured IMAP account.
pub struct ImapSource {
    settings: Imap,
    login: crate::auth::Login,
    tls: TlsConnector,
    /// How long a read may wait without a byte, in milliseconds ([`Patient`]).
    answer_limit: Arc<std::sync::atomic::AtomicU64>,
    answer_timeout: Duration,
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
pub const WINDOW_UIDS: usize = 5000;
/// What a mail is fetched with: its body, without setting \Seen (that follows its record).
const FETCH_BODIES: &str = "(UID INTERNALDATE BODY.PEEK[])";

/// How far a pass over the folder got: the cursor, and the first mail the server would not hand
/// over in this pass — the cursor stays below it, so it is tried again next pass, while the
/// mail after it goes on.
#[derive(Debug)]
struct Progress {
    cursor: Cursor,
    held_back: Option<u32>,
}

/// One batch as fetched: the mails the server handed over (in UID order), and the UIDs it
/// would not hand over.
#[derive(Debug, Default)]
struct Fetched {
    mails: Vec<(u32, RawMail)>,
    refused: Vec<u32>,
}

impl Fetched {
    fn refused(uid: u32) -> Fetched {
        Fetched {
            mails: Vec::new(),
            refused: vec![uid],
        }
    }
}

/// Whether an error is the server refusing a command (`NO`): about the mail asked for, not
/// the connection, which stays usable. (async-imap reports a NO for a FETCH as the answer's
/// end, not as an error: such UIDs come back missing and are asked again.)
fn refused(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<async_imap::error::Error>(),
        Some(async_imap::error::Error::No(_))
    )
}

/// Recorded mail not yet flagged or moved, by what is to become of it.
#[derive(Debug, Default)]
struct Recorded {
    processed: Vec<u32>,
    quarantine: Vec<u32>,
}

impl Recorded {
    fn add(&mut self, uid: u32, disposition: Disposition) {
        match disposition {
            Disposition::Processed => self.processed.push(uid),
            Disposition::Quarantine => self.quarantine.push(uid),
            Disposition::LeaveUnread => {}
        }
    }

    fn is_empty(&self) -> bool {
        self.processed.is_empty() && self.quarantine.is_empty()
    }
}

/// What a copy keeps of its original and a server shows without sending the mail: its size
/// and the time the server received it (a MOVE and a COPY keep it; a redelivery of the same
/// bytes has its own). Mails alike in both are then told apart by their bytes.
type Received = (u32, i64);

/// The size and received time of `uids` (sorted) in the selected folder, in UID order, a
/// thousand a command; a UID the server no longer has, or shows without either, is left out
/// (an original without them is moved as usual).
async fn received_of(
    session: &mut ImapSession,
    uids: &[u32],
) -> anyhow::Result<Vec<(u32, Received)>> {
    let mut out = Vec::with_capacity(uids.len());
    for chunk in uids.chunks(1000) {
        let answers = session
            .uid_fetch(uid_set(chunk), "(UID RFC822.SIZE INTERNALDATE)")
            .await?;
        let fetched: Vec<Fetch> = answers.try_collect().await?;
        for fetch in &fetched {
            if let (Some(uid), Some(size), Some(at)) =
                (fetch.uid, fetch.size, fetch.internal_date())
            {
                out.push((uid, (size, at.timestamp())));
            }
        }
    }
    out.sort_by_key(|(uid, _)| *uid);
    Ok(out)
}

/// The SHA-256 of the bytes of `uids` (sorted) in the selected folder, twenty a command (a
/// mail may be large); a UID handed over without its body is left out.
async fn sha256_of(
    session: &mut ImapSession,
    uids: &[u32],
) -> anyhow::Result<HashMap<u32, [u8; 32]>> {
    use sha2::Digest;
    let mut out = HashMap::with_capacity(uids.len());
    for chunk in uids.chunks(20) {
        let answers = session
            .uid_fetch(uid_set(chunk), "(UID BODY.PEEK[])")
            .await?;
        let fetched: Vec<Fetch> = answers.try_collect().await?;
        for fetch in &fetched {
            if let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) {
                out.insert(uid, sha2::Sha256::digest(body).into());
            }
        }
    }
    Ok(out)
}

/// The `UID SEARCH` for the mails a server received between two times, a day wider on each
/// side (SEARCH compares dates only, in a time zone of the server's choosing).
fn received_between(first: i64, last: i64) -> String {
    let day = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap_or_default()
            .date_naive()
    };
    let since = day(first) - chrono::Days::new(1);
    let before = day(last) + chrono::Days::new(2);
    format!(
        "SINCE {} BEFORE {}",
        since.format("%-d-%b-%Y"),
        before.format("%-d-%b-%Y")
    )
}

/// Whether a header search finds this Message-ID as written: printable ASCII without the
/// quote and backslash IMAP would have to escape, and no encoded word (`=?…?=`), which
/// servers decode before they compare.
fn plainly_searchable(id: &str) -> bool {
    id.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        && !id.contains("=?")
}

/// Flags `set` (`+FLAGS.SILENT (\\Deleted)` and the like) and expunges it, each step answered
/// OK or an error: async-imap's streaming `uid_store` and `uid_expunge` read a NO as success,
/// so a mail would be taken for removed (an original, a purged copy) while it stays.
async fn flag_and_expunge(session: &mut ImapSession, set: &str, flags: &str) -> anyhow::Result<()> {
    session
        .run_command_and_check_ok(format!("UID STORE {set} {flags}"))
        .await
        .context("flagging mail for removal")?;
    session
        .run_command_and_check_ok(format!("UID EXPUNGE {set}"))
        .await
        .context("expunging mail")?;
    Ok(())
}

/// `UID SEARCH` whose refusal is an error. async-imap 0.12's `uid_search` ends its answer at
/// the tagged line without reading that line's status, so a NO or a BAD (a query the server
/// finds too long, a search it cannot run) came back as "found nothing": a mail then read as
/// expunged, leftovers as finished, copies as absent. Untagged answers but SEARCH are
/// dropped, as [`drain_unsolicited`] drops them. The UIDs come sorted, without repeats.
async fn uid_search(session: &mut ImapSession, query: &str) -> anyhow::Result<Vec<u32>> {
    use async_imap::imap_proto::{MailboxDatum, Response, Status};
    let tag = session.run_command(format!("UID SEARCH {query}")).await?;
    let mut uids = Vec::new();
    loop {
        let Some(answer) = session.read_response().await? else {
            anyhow::bail!("the connection ended during a search");
        };
        match answer.parsed() {
            Response::MailboxData(MailboxDatum::Search(found)) => uids.extend(found),
            Response::Done {
                tag: done,
                status,
                outcome,
            } if *done == tag => {
                anyhow::ensure!(
                    *status == Status::Ok,
                    "the server refused a search ({status:?}: {})",
                    crate::redact::addresses(outcome.information.as_deref().unwrap_or(""))
                );
                uids.sort_unstable();
                uids.dedup();
                return Ok(uids);
            }
            _ => {}
        }
    }
}

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
            answer_limit: Arc::new(std::sync::atomic::AtomicU64::new(
                ANSWER_TIMEOUT.as_millis() as u64,
            )),
            answer_timeout: ANSWER_TIMEOUT,
        })
    }

    /// The same source, waiting at most `timeout` for the next byte of an answer (tests).
    pub fn with_answer_timeout(mut self, timeout: Duration) -> ImapSource {
        self.answer_timeout = timeout;
        self.answer_limit = Arc::new(std::sync::atomic::AtomicU64::new(timeout.as_millis() as u64));
        self
    }

    /// Connects, secures, logs in and makes sure the folders klachtd moves mail to exist.
    pub async fn connect(&self) -> anyhow::Result<ImapSession> {
        guarded(self.connect_unguarded()).await
    }

    /// Takes in everything new in the folder. On a fresh connection (`startup`), it also
    /// finishes mail that was recorded before a crash but not yet moved.
    pub async fn process_folder(
        &self,
        session: &mut ImapSession,
        sink: &mut dyn MailSink,
        startup: bool,
    ) -> anyhow::Result<usize> {
        guarded(self.process_folder_unguarded(session, sink, startup)).await
    }

    /// Deletes the copies of purged mails ([`Self::expunge_copies_unguarded`]).
    pub async fn expunge_copies(
        &self,
        session: &mut ImapSession,
        copies: &[CopyToRemove<'_>],
        intake_up_to: Option<u32>,
    ) -> anyhow::Result<usize> {
        guarded(self.expunge_copies_unguarded(session, copies, intake_up_to)).await
    }

    /// Waits for new mail ([`Self::wait_unguarded`]).
    pub async fn wait(
        &self,
        session: ImapSession,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<(ImapSession, Wake)> {
        guarded(self.wait_unguarded(session, shutdown)).await
    }

    /// `stream` made [`Patient`] with this source's limit: every connection goes through it.
    pub fn patient(&self, stream: Box<dyn ImapIo>) -> Box<dyn ImapIo> {
        Box::new(Patient::new(stream, Arc::clone(&self.answer_limit)))
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
    async fn connect_unguarded(&self) -> anyhow::Result<ImapSession> {
        let s = &self.settings;
        let tcp = tokio::time::timeout(
            Duration::from_secs(30),
            TcpStream::connect((s.host.as_str(), s.port)),
        )
        .await
        .context("connecting to the IMAP server timed out")?
        .with_context(|| format!("cannot connect to IMAP server {}:{}", s.host, s.port))?;
        let stream: Box<dyn ImapIo> = self.patient(Box::new(tcp));
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

    /// A failed SELECT: Exchange Online's "User is authenticated but not connected" after a
    /// token login is a refused login (the app may not open the mailbox), named as such.
    fn refused_mailbox(&self, e: anyhow::Error, folder: &str) -> anyhow::Error {
        match &self.login {
            crate::auth::Login::OAuth2 { user, tokens, .. } if crate::auth::mailbox_refused(&e) => {
                crate::auth::TokenRefused::new(
                    crate::auth::diagnose::Protocol::Imap,
                    user,
                    &format!("{e:#}"),
                    tokens.settings(),
                )
                .into()
            }
            _ => e.context(format!("selecting {folder}")),
        }
    }

    /// Takes in everything new in the folder. On a fresh connection (`startup`), it also
    /// finishes mail that was recorded before a crash but not yet moved.
    async fn process_folder_unguarded(
        &self,
        session: &mut ImapSession,
        sink: &mut dyn MailSink,
        startup: bool,
    ) -> anyhow::Result<usize> {
        let folder = &self.settings.folder;
        let mailbox = match session.select(folder).await {
            Ok(m) => m,
            Err(e) => return Err(self.refused_mailbox(anyhow::Error::new(e), folder)),
        };
        let uidvalidity = mailbox.uid_validity.context("server gave no UIDVALIDITY")?;
        let cursor = match sink.cursor(folder)? {
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
        let mut uids: Vec<u32> = uid_search(session, &format!("UID {}:*", cursor.last_uid + 1))
            .await?
            .into_iter()
            .filter(|uid| *uid > cursor.last_uid)
            .collect();
        uids.sort_unstable();
        let has_move = session.capabilities().await?.has_str("MOVE");
        // Each window's mail is recorded batch by batch, each batch committed before the next
        // is fetched; it is flagged and moved once for the whole window, after the last of
        // those commits: a move makes the server rescan the folder, so one move per window
        // instead of one per batch is what keeps a flood cheap on its side. When the backlog
        // spans more windows, a second connection moves one window while this one takes in
        // the next.
        let mut mover: Option<ImapSession> = None;
        let mut unmoved = Recorded::default();
        let mut progress = Progress {
            cursor,
            held_back: None,
        };
        let mut taken = 0;
        // A server without MOVE copies, flags and expunges; there the window is one batch, so
        // a copy broken off between the copy and the expunge leaves at most one batch for the
        // restart to check (`already_copied`: it removes the originals of what was copied).
        let window_size = if has_move { WINDOW_UIDS } else { BATCH_MAILS };
        for window in uids.chunks(window_size) {
            let mut recorded = Recorded::default();
            // The previous window's moves go over the second connection, side by side with
            // this window's intake; first, over this one, when there is no second connection.
            if !unmoved.is_empty() && mover.is_none() {
                mover = self.open_mover(uidvalidity).await;
            }
            let beside = mover.as_mut().filter(|_| !unmoved.is_empty());
            let moved_first = match beside {
                None => self.finish_recorded(session, &unmoved, has_move).await,
                Some(_) => Ok(()),
            };
            let take = self.take_window(
                session,
                sink,
                uidvalidity,
                &mut progress,
                window,
                &mut recorded,
            );
            let (moved, outcome) = match beside {
                Some(mover) => tokio::join!(self.finish_recorded(mover, &unmoved, has_move), take),
                None => (moved_first, take.await),
            };
            unmoved = recorded;
            if let Err(e) = moved.and(outcome.map(|n| taken += n)) {
                // What was recorded is finished first (should that fail too, the next start
                // finishes it: `finish_leftovers`).
                self.finish_recorded(session, &unmoved, has_move).await?;
                return Err(e);
            }
        }
        self.finish_recorded(session, &unmoved, has_move).await?;
        if let Some(mut mover) = mover {
            let _ = mover.logout().await;
        }
        drain_unsolicited(session);
        Ok(taken)
    }

    /// The second connection that moves one window's mail while the next is taken in, on
    /// the same folder with the same UIDVALIDITY; none (the moves then wait their turn on the
    /// first connection) when it cannot be opened.
    async fn open_mover(&self, uidvalidity: u32) -> Option<ImapSession> {
        match self.reopen(uidvalidity).await {
            Ok(mover) => Some(mover),
            Err(e) => {
                tracing::warn!(
                    "no second IMAP connection for moving processed mail ({}); moving on this one",
                    crate::redact::addresses(&format!("{e:#}"))
                );
                None
            }
        }
    }

    /// Flags and moves the mail recorded so far, one command per disposition, then drops the
    /// server's untagged answers to those commands (EXPUNGE, COPYUID), which nothing reads.
    async fn finish_recorded(
        &self,
        session: &mut ImapSession,
        recorded: &Recorded,
        has_move: bool,
    ) -> anyhow::Result<()> {
        if recorded.is_empty() {
            return Ok(());
        }
        self.apply_set(
            session,
            &recorded.processed,
            Disposition::Processed,
            has_move,
        )
        .await?;
        self.apply_set(
            session,
            &recorded.quarantine,
            Disposition::Quarantine,
            has_move,
        )
        .await?;
        crate::failpoint::hit("after-mark");
        drain_unsolicited(session);
        Ok(())
    }

    /// Takes in one window of UIDs, batch by batch. The next batch's FETCH is sent before
    /// this batch is recorded, so the server reads those mails while klachtd records these
    /// (its answer waits in the socket); it is read in any case, so the session stays usable
    /// for the moves. Returns how many mails were recorded, or what stopped the window after
    /// the cursor and `recorded` took in what was recorded before it.
    async fn take_window(
        &self,
        session: &mut ImapSession,
        sink: &mut dyn MailSink,
        uidvalidity: u32,
        progress: &mut Progress,
        window: &[u32],
        recorded: &mut Recorded,
    ) -> anyhow::Result<usize> {
        let batches = self.batches(session, window).await?;
        let Some(first) = batches.first() else {
            return Ok(0);
        };
        let mut fetched = self.fetch_set(session, uidvalidity, first).await?;
        let mut taken = 0;
        for (i, batch) in batches.iter().enumerate() {
            let this = std::mem::take(&mut fetched);
            let Some(next) = batches.get(i + 1) else {
                taken += self.record_batch(sink, progress, batch, this, recorded)?;
                break;
            };
            let answers = session.uid_fetch(uid_set(next), FETCH_BODIES).await?;
            let outcome = self.record_batch(sink, progress, batch, this, recorded);
            let read = self
                .read_bodies(answers, uidvalidity, next, Vec::new())
                .await;
            taken += outcome?;
            let complete = match read {
                Ok((got, bodiless)) => {
                    self.fetch_missing(session, uidvalidity, got, bodiless)
                        .await
                }
                Err(e) => Err(e),
            };
            fetched = self
                .or_one_by_one(session, uidvalidity, next, complete)
                .await?;
        }
        Ok(taken)
    }

    /// Records one fetched batch with one commit (each mail alone should one fail), then moves
    /// the cursor past it and adds the recorded mail to `recorded`, to be flagged and moved by
    /// the caller. Returns how many were recorded, or the failure that stopped the batch.
    fn record_batch(
        &self,
        sink: &mut dyn MailSink,
        progress: &mut Progress,
        batch: &[u32],
        fetched: Fetched,
        recorded: &mut Recorded,
    ) -> anyhow::Result<usize> {
        let Progress { cursor, held_back } = progress;
        for uid in &fetched.refused {
            tracing::warn!(
                uid,
                folder = %self.settings.folder,
                "the IMAP server would not hand over this mail; it stays in the mailbox and is tried again next pass"
            );
        }
        if let Some(first) = fetched.refused.first() {
            *held_back = Some(held_back.map_or(*first, |h| h.min(*first)));
        }
        let (uids, raws): (Vec<u32>, Vec<RawMail>) = fetched.mails.into_iter().unzip();
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
        // Never past a mail the server would not hand over (nor back).
        let last = match *held_back {
            Some(held) => last.map(|last| last.min(held.saturating_sub(1)).max(cursor.last_uid)),
            None => last,
        };
        if let Some(last) = last.filter(|last| *last != cursor.last_uid) {
            cursor.last_uid = last;
            sink.set_cursor(&self.settings.folder, *cursor)?;
        }
        for (uid, disposition) in &done {
            recorded.add(*uid, *disposition);
        }
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
        loop {
            match answers.try_next().await {
                Ok(Some(fetch)) => {
                    if let Some(uid) = fetch.uid.filter(|uid| uids.binary_search(uid).is_ok()) {
                        sized.push((uid, u64::from(fetch.size.unwrap_or(0))));
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // Refused, or the connection dropped (a server that cannot read one mail
                    // may hang up): the fetches below find out which, mail by mail if need be.
                    tracing::warn!(
                        "sizing new mail failed ({}); the rest is taken in smaller batches",
                        crate::redact::addresses(&format!("{e:#}"))
                    );
                    break;
                }
            }
        }
        drop(answers);
        sized.sort_unstable_by_key(|(uid, _)| *uid);
        sized.dedup_by_key(|(uid, _)| *uid);
        // A UID the answer did not size (it ended early) is not left out: it counts as an
        // eighth of a batch's bytes. (One expunged meanwhile is simply missing from its FETCH.)
        if sized.len() < uids.len() {
            let known: std::collections::HashSet<u32> = sized.iter().map(|(uid, _)| *uid).collect();
            sized.extend(
                uids.iter()
                    .filter(|uid| !known.contains(uid))
                    .map(|uid| (*uid, BATCH_BYTES / 8)),
            );
            sized.sort_unstable_by_key(|(uid, _)| *uid);
        }
        Ok(batch_by_size(&sized, BATCH_MAILS, BATCH_BYTES))
    }

    /// Fetches a set of UIDs in one command, in UID order (expunged ones are missing). When
    /// the server refuses the command or drops the connection over it (one mail it cannot
    /// read fails the FETCH of all), the set is fetched mail by mail, so only that mail is
    /// left out.
    async fn fetch_set(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        uids: &[u32],
    ) -> anyhow::Result<Fetched> {
        let attempt = self.fetch_once(session, uidvalidity, uids).await;
        self.or_one_by_one(session, uidvalidity, uids, attempt)
            .await
    }

    /// The batch as fetched in one command, or — the server refused the command or dropped the
    /// connection over it — fetched mail by mail, so that one mail it cannot hand over does
    /// not hold up the rest.
    async fn or_one_by_one(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        uids: &[u32],
        attempt: anyhow::Result<Fetched>,
    ) -> anyhow::Result<Fetched> {
        match attempt {
            Ok(fetched) => Ok(fetched),
            Err(e) => {
                tracing::warn!(
                    "fetching a batch failed ({}); fetching its mails one by one",
                    crate::redact::addresses(&format!("{e:#}"))
                );
                self.fetch_one_by_one(session, uidvalidity, uids).await
            }
        }
    }

    /// One `UID FETCH` of the set, with the bodiless ones asked again.
    async fn fetch_once(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        uids: &[u32],
    ) -> anyhow::Result<Fetched> {
        let answers = session.uid_fetch(uid_set(uids), FETCH_BODIES).await?;
        let (got, bodiless) = self
            .read_bodies(answers, uidvalidity, uids, Vec::new())
            .await?;
        self.fetch_missing(session, uidvalidity, got, bodiless)
            .await
    }

    /// Fetches each UID in its own command. A UID the server refuses, hands over without a
    /// body, or drops the connection over twice (each time on a new connection, which then
    /// replaces `session`) is returned as refused; failing to connect again is an error.
    async fn fetch_one_by_one(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        uids: &[u32],
    ) -> anyhow::Result<Fetched> {
        let mut all = Fetched::default();
        for uid in uids {
            let mut attempt = 0;
            let one = loop {
                match self.fetch_once(session, uidvalidity, &[*uid]).await {
                    Ok(one) => break one,
                    Err(e) if refused(&e) => break Fetched::refused(*uid),
                    Err(_) => {
                        // The connection is gone (or unusable): a new one, then this mail once
                        // more, since the failure may have been another mail's.
                        *session = self.reopen(uidvalidity).await?;
                        attempt += 1;
                        if attempt == 2 {
                            break Fetched::refused(*uid);
                        }
                    }
                }
            };
            all.mails.extend(one.mails);
            all.refused.extend(one.refused);
        }
        Ok(all)
    }

    /// A new connection with the folder selected, as long as its UIDVALIDITY is unchanged.
    async fn reopen(&self, uidvalidity: u32) -> anyhow::Result<ImapSession> {
        let mut session = self.connect().await?;
        let mailbox = session.select(&self.settings.folder).await?;
        anyhow::ensure!(
            mailbox.uid_validity == Some(uidvalidity),
            "UIDVALIDITY changed during intake"
        );
        Ok(session)
    }

    /// A response without its body (the server telling of a flag change in the middle of the
    /// answer) is no error: those UIDs are fetched once more, and a UID that still comes
    /// without its body is refused. Returns the whole set in UID order.
    async fn fetch_missing(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        got: Vec<(u32, RawMail)>,
        bodiless: Vec<u32>,
    ) -> anyhow::Result<Fetched> {
        let mut out = got;
        let mut refused = Vec::new();
        if !bodiless.is_empty() {
            let answers = session.uid_fetch(uid_set(&bodiless), FETCH_BODIES).await?;
            let (all, still) = self
                .read_bodies(answers, uidvalidity, &bodiless, out)
                .await?;
            out = all;
            if !still.is_empty() {
                // Missing twice: expunged meanwhile (then gone from a search too), or a mail
                // the server will not hand over.
                refused = uid_search(session, &format!("UID {}", uid_set(&still)))
                    .await?
                    .into_iter()
                    .filter(|uid| still.binary_search(uid).is_ok())
                    .collect();
                refused.sort_unstable();
                // An answer cut short by a dropped connection reads as "nothing" (async-imap's
                // answer streams just end, and a tagged NO ends them too): only a connection
                // that still answers a NOOP with OK makes these "expunged".
                session
                    .run_command_and_check_ok("NOOP")
                    .await
                    .context("the IMAP connection ended in the middle of an answer")?;
            }
        }
        out.sort_by_key(|(uid, _)| *uid);
        out.dedup_by_key(|(uid, _)| *uid);
        Ok(Fetched {
            mails: out,
            refused,
        })
    }

    /// Reads a FETCH answer to its end, adding each wanted mail to `out`: each answer's body is
    /// copied out and the answer (with its buffer) dropped at once. Returns `out` and the
    /// wanted UIDs that did not come with a body (and are not in `out` already).
    async fn read_bodies(
        &self,
        mut answers: impl Stream<Item = async_imap::error::Result<Fetch>> + Unpin,
        uidvalidity: u32,
        wanted: &[u32],
        mut out: Vec<(u32, RawMail)>,
    ) -> anyhow::Result<(Vec<(u32, RawMail)>, Vec<u32>)> {
        let mut bodiless = Vec::new();
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
                    arrived_at,
                },
            ));
        }
        drop(answers);
        // Every wanted UID not handed over with its body: an answer that ends early (a server
        // that drops the connection without a word after a mail it cannot read) must not
        // pass for mail expunged meanwhile.
        let got: std::collections::HashSet<u32> = out.iter().map(|(uid, _)| *uid).collect();
        bodiless.extend(wanted.iter().filter(|uid| !got.contains(uid)));
        bodiless.sort_unstable();
        bodiless.dedup();
        Ok((out, bodiless))
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
        let mut uids: Vec<u32> = uid_search(session, &query).await?.into_iter().collect();
        uids.sort_unstable();
        // Up to a window of mail can be left (recorded, not yet moved): finished together.
        let mut recorded = Recorded::default();
        for uid in uids.into_iter().filter(|u| *u <= cursor.last_uid) {
            if let Some(disposition) = sink.recorded(&self.source_key(cursor.uidvalidity, uid))? {
                recorded.add(uid, disposition);
            }
        }
        if !recorded.is_empty() {
            tracing::info!(
                mails = recorded.processed.len() + recorded.quarantine.len(),
                "finishing mail recorded before a restart"
            );
            let copied = self
                .already_copied(session, &mut recorded, cursor.uidvalidity)
                .await?;
            self.remove_originals(session, &copied).await?;
            let has_move = session.capabilities().await?.has_str("MOVE");
            self.finish_recorded(session, &recorded, has_move).await?;
        }
        Ok(())
    }

    /// Takes out of `recorded` the mails a killed MOVE (or COPY) already copied to their
    /// target folder, and returns them by disposition: only their originals, in the watched
    /// folder, are left to remove. A connection that dies in the middle of a MOVE leaves the
    /// copies made so far in the target and every original in place; moving those again would
    /// put them in the target twice. A copy is told by what it keeps of its original — the
    /// very same bytes and the time the server received it (a redelivery has its own) — and
    /// each copy stands for one original, so no mail is removed unless its bytes stay in the
    /// target. (A mail staff copied back from the target, then taken in and broken off in its
    /// move, looks like such a copy: its bytes stay once in the target, and it is recorded.) (Two deliveries of the same bytes within one second look alike: at worst one of
    /// them is kept in the target, not both — their content is one, and both are recorded.)
    /// Leaves the watched folder selected.
    async fn already_copied(
        &self,
        session: &mut ImapSession,
        recorded: &mut Recorded,
        uidvalidity: u32,
    ) -> anyhow::Result<Recorded> {
        let mut copied = Recorded::default();
        for disposition in [Disposition::Processed, Disposition::Quarantine] {
            let (uids, target) = match disposition {
                Disposition::Processed => {
                    (&mut recorded.processed, &self.settings.processed_folder)
                }
                _ => (&mut recorded.quarantine, &self.settings.quarantine_folder),
            };
            if uids.is_empty() || target.is_empty() {
                continue;
            }
            // Candidates by what a copy keeps and a server shows cheaply (size, received
            // time), among the target's mails received in the originals' days; then the bytes
            // of those alike on both sides. No search by Message-ID: a server may decode the
            // header it searches (`=?UTF-8?B?…?=`), and a query of long IDs can be too long.
            let originals = received_of(session, uids).await?;
            let (Some(first), Some(last)) = (
                originals.iter().map(|(_, (_, at))| *at).min(),
                originals.iter().map(|(_, (_, at))| *at).max(),
            ) else {
                continue;
            };
            let wanted: std::collections::HashSet<Received> =
                originals.iter().map(|(_, r)| *r).collect();
            // A target that cannot be opened (not made yet) holds no copies.
            let mut in_target: HashMap<(Received, [u8; 32]), usize> = HashMap::new();
            if session.examine(target).await.is_ok() {
                let candidates = uid_search(session, &received_between(first, last)).await?;
                let alike: Vec<(u32, Received)> = received_of(session, &candidates)
                    .await?
                    .into_iter()
                    .filter(|(_, r)| wanted.contains(r))
                    .collect();
                let uids_alike: Vec<u32> = alike.iter().map(|(uid, _)| *uid).collect();
                let hashes = sha256_of(session, &uids_alike).await?;
                for (uid, r) in alike {
                    if let Some(sha) = hashes.get(&uid) {
                        *in_target.entry((r, *sha)).or_default() += 1;
                    }
                }
            }
            let mailbox = session.select(&self.settings.folder).await?;
            anyhow::ensure!(
                mailbox.uid_validity == Some(uidvalidity),
                "UIDVALIDITY changed during intake"
            );
            let found: std::collections::HashSet<Received> =
                in_target.keys().map(|(r, _)| *r).collect();
            let originals: Vec<(u32, Received)> = originals
                .into_iter()
                .filter(|(_, r)| found.contains(r))
                .collect();
            let uids_alike: Vec<u32> = originals.iter().map(|(uid, _)| *uid).collect();
            let hashes = sha256_of(session, &uids_alike).await?;
            for (uid, r) in originals {
                let Some(sha) = hashes.get(&uid) else {
                    continue;
                };
                if let Some(left) = in_target.get_mut(&(r, *sha)).filter(|left| **left > 0) {
                    *left -= 1;
                    copied.add(uid, disposition);
                }
            }
            uids.retain(|uid| {
                let done = match disposition {
                    Disposition::Processed => &copied.processed,
                    _ => &copied.quarantine,
                };
                done.binary_search(uid).is_err()
            });
        }
        if !copied.is_empty() {
            tracing::info!(
                mails = copied.processed.len() + copied.quarantine.len(),
                "mail a broken-off move had already copied is not copied again"
            );
        }
        Ok(copied)
    }

    /// Flags and expunges originals whose copy is already in their target folder (the
    /// processed ones marked read first, as a move would have left them).
    async fn remove_originals(
        &self,
        session: &mut ImapSession,
        copied: &Recorded,
    ) -> anyhow::Result<()> {
        for (uids, flags) in [
            (&copied.processed, "+FLAGS.SILENT (\\Seen \\Deleted)"),
            (&copied.quarantine, "+FLAGS.SILENT (\\Deleted)"),
        ] {
            if uids.is_empty() {
                continue;
            }
            flag_and_expunge(session, &uid_set(uids), flags).await?;
        }
        drain_unsolicited(session);
        Ok(())
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
            // Best effort (a refusal reads as success here): the move decides where the mail
            // is, and where processed mail stays in the folder, an unread one is finished
            // again at the next start.
            let _: Vec<_> = session
                .uid_store(&set, "+FLAGS.SILENT (\\Seen)")
                .await?
                .try_collect()
                .await?;
        }
        if target.is_empty() {
            return Ok(());
        }
        crate::failpoint::hit("before-move");
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
            flag_and_expunge(session, &set, "+FLAGS.SILENT (\\Seen \\Deleted)").await?;
        }
        Ok(())
    }

    /// Deletes the copies of purged mails from the processed and quarantine folders (and from
    /// the folder mail arrives in, at or below `intake_up_to`, when processed mail stays there):
    /// the candidates are found by Message-ID — or, for a mail without one, among the mails
    /// without any — and each is removed only when the SHA-256 of its bytes is that of a purged
    /// mail, so a redelivery or a stranger's mail with the same Message-ID is never taken with
    /// it. A mail recorded before content hashes were kept goes by Message-ID alone. Returns
    /// how many copies were removed.
    async fn expunge_copies_unguarded(
        &self,
        session: &mut ImapSession,
        copies: &[CopyToRemove<'_>],
        intake_up_to: Option<u32>,
    ) -> anyhow::Result<usize> {
        use sha2::Digest;
        let hashes: std::collections::HashSet<&str> =
            copies.iter().filter_map(|c| c.sha256).collect();
        let mut removed = 0;
        let mut folders = vec![
            (self.settings.processed_folder.as_str(), None),
            (self.settings.quarantine_folder.as_str(), None),
        ];
        if self.settings.processed_folder.is_empty()
            && let Some(last) = intake_up_to
        {
            folders.push((self.settings.folder.as_str(), Some(last)));
        }
        for (folder, up_to) in folders {
            if folder.is_empty() || session.select(folder).await.is_err() {
                continue;
            }
            // By Message-ID: those we can tell by their bytes, and those we cannot.
            let mut by_hash = std::collections::BTreeSet::new();
            let mut by_id_alone = std::collections::BTreeSet::new();
            for copy in copies {
                let query = match copy.message_id {
                    Some(id) if plainly_searchable(id) => format!("HEADER Message-ID \"{id}\""),
                    // A Message-ID a header search cannot find as written: among all mails,
                    // by its bytes (a mail without a hash then has to stay, as before).
                    Some(_) if copy.sha256.is_some() => "ALL".to_string(),
                    Some(id) => format!("HEADER Message-ID \"{}\"", id.replace(['"', '\\'], "")),
                    None if copy.sha256.is_some() => "NOT HEADER Message-ID \"\"".to_string(),
                    None => continue,
                };
                let found = uid_search(session, &query).await?;
                let found = found
                    .into_iter()
                    .filter(|uid| up_to.is_none_or(|last| *uid <= last));
                if copy.sha256.is_some() {
                    by_hash.extend(found);
                } else if up_to.is_none() {
                    by_id_alone.extend(found);
                }
            }
            let mut doomed: Vec<u32> = by_id_alone.into_iter().collect();
            let candidates: Vec<u32> = by_hash
                .into_iter()
                .filter(|u| !doomed.contains(u))
                .collect();
            for chunk in candidates.chunks(50) {
                let answers = session
                    .uid_fetch(uid_set(chunk), "(UID BODY.PEEK[])")
                    .await?;
                let fetched: Vec<Fetch> = answers.try_collect().await?;
                let mut compared = Vec::with_capacity(chunk.len());
                for fetch in fetched {
                    let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) else {
                        continue;
                    };
                    compared.push(uid);
                    let sha = crate::hex::encode(&sha2::Sha256::digest(body));
                    if chunk.contains(&uid) && hashes.contains(sha.as_str()) {
                        doomed.push(uid);
                    }
                }
                // A candidate not handed over is either gone (expunged meanwhile) or refused
                // (async-imap reads a refused FETCH as a short one): asked again, one still
                // there fails the removal, which is then tried again, rather than counting
                // a copy that may be a purged mail's as checked.
                let missing: Vec<u32> = chunk
                    .iter()
                    .copied()
                    .filter(|uid| !compared.contains(uid))
                    .collect();
                if !missing.is_empty() {
                    let still = uid_search(session, &format!("UID {}", uid_set(&missing))).await?;
                    anyhow::ensure!(
                        still.is_empty(),
                        "the server would not hand over {} mail(s) to compare with purged mail",
                        still.len()
                    );
                }
            }
            if doomed.is_empty() {
                continue;
            }
            doomed.sort_unstable();
            doomed.dedup();
            flag_and_expunge(session, &uid_set(&doomed), "+FLAGS.SILENT (\\Deleted)").await?;
            removed += doomed.len();
        }
        Ok(removed)
    }

    /// Waits for new mail: IDLE (renewed every `idle_renew_seconds`) when the server offers it
    /// and it is enabled, otherwise a poll interval. Returns the session for the next round.
    async fn wait_unguarded(
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
        // Silence is the point of IDLE: reads may wait until the renewal, and then some; the
        // usual limit is back however this ends.
        struct Restore<'a>(&'a ImapSource);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.answer_limit.store(
                    self.0.answer_timeout.as_millis() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
            }
        }
        self.answer_limit.store(
            (renew + self.answer_timeout).as_millis() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let restore = Restore(self);
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
        drop(restore);
        let session = idle.done().await.context("ending IDLE")?;
        Ok((session, wake))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    struct Sink;
    impl MailSink for Sink {
        fn take(&mut self, _: &RawMail) -> anyhow::Result<Disposition> {
            Ok(Disposition::Processed)
        }
        fn recorded(&mut self, _: &str) -> anyhow::Result<Option<Disposition>> {
            Ok(None)
        }
        fn cursor(&mut self, _: &str) -> anyhow::Result<Option<Cursor>> {
            Ok(None)
        }
        fn set_cursor(&mut self, _: &str, _: Cursor) -> anyhow::Result<()> {
            Ok(())
        }
    }

    /// A server that answers each command with the next chunk and a tagged OK, and then says
    /// nothing more, its connection left open.
    async fn scripted(io: tokio::io::DuplexStream, chunks: Vec<Vec<u8>>) {
        let (read, mut write) = tokio::io::split(io);
        let mut lines = BufReader::new(read);
        write.write_all(b"* OK ready\r\n").await.unwrap();
        let mut chunks = chunks.into_iter();
        let mut line = Vec::new();
        loop {
            line.clear();
            if lines.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let tag: Vec<u8> = line.split(|b| *b == b' ').next().unwrap().to_vec();
            let mut out = if line.windows(5).any(|w| w.eq_ignore_ascii_case(b"LOGIN")) {
                Vec::new()
            } else {
                match chunks.next() {
                    Some(chunk) => chunk,
                    None => std::future::pending().await,
                }
            };
            out.extend_from_slice(&tag);
            out.extend_from_slice(b" OK done\r\n");
            write.write_all(&out).await.unwrap();
        }
    }

    fn test_source() -> ImapSource {
        let settings = crate::settings::Settings::load_with_env(
            None,
            [
                ("KLACHTD__INBOUND__KIND", "imap"),
                ("KLACHTD__INBOUND__IMAP__HOST", "127.0.0.1"),
                ("KLACHTD__INBOUND__IMAP__PORT", "9"),
                ("KLACHTD__INBOUND__IMAP__TLS", "none"),
                ("KLACHTD__INBOUND__IMAP__PASSWORD", "x"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap();
        crate::install_crypto_provider();
        ImapSource::from_settings(&settings.inbound.imap)
            .unwrap()
            .with_answer_timeout(Duration::from_millis(200))
    }

    /// The crash the `imap_answers` fuzz target found: a multibyte character right after a
    /// response code (`* OK [UIDNEXT 3]é`) makes the IMAP parser (imap-proto 0.17) panic. It is
    /// an error of the pass now (the connection dropped, tried again), never the end of klachtd.
    #[tokio::test]
    async fn an_answer_the_imap_parser_panics_on_is_an_error_of_the_pass() {
        let source = test_source();
        let chunks = vec![
            "* 1 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 3]é +x\r\n"
                .as_bytes()
                .to_vec(),
        ];
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(scripted(server_io, chunks));
        let mut client = Client::new(source.patient(Box::new(client_io)));
        client.read_response().await.unwrap();
        let mut session = client.login("u", "p").await.map_err(|(e, _)| e).unwrap();
        let result = source.process_folder(&mut session, &mut Sink, false).await;
        let error = format!("{:#}", result.unwrap_err());
        assert!(error.contains("cannot read"), "{error}");
        server.abort();
    }

    /// A server that answers LOGIN with OK and every other command with `status` and nothing
    /// else (a SEARCH it refuses: `NO`, a line too long: `BAD`).
    async fn refusing(io: tokio::io::DuplexStream, status: &'static str) {
        let (read, mut write) = tokio::io::split(io);
        let mut lines = BufReader::new(read);
        write.write_all(b"* OK ready\r\n").await.unwrap();
        let mut line = Vec::new();
        loop {
            line.clear();
            if lines.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let tag =
                String::from_utf8_lossy(line.split(|b| *b == b' ').next().unwrap()).into_owned();
            let answer = if line.windows(5).any(|w| w.eq_ignore_ascii_case(b"LOGIN")) {
                format!("{tag} OK logged in\r\n")
            } else {
                format!("{tag} {status} refused\r\n")
            };
            write.write_all(answer.as_bytes()).await.unwrap();
        }
    }

    /// A session logged in to `serve` (a scripted server on an in-memory stream), and the
    /// server's task to abort when done.
    async fn logged_in<F>(
        serve: impl FnOnce(tokio::io::DuplexStream) -> F,
    ) -> (ImapSession, tokio::task::JoinHandle<()>)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(serve(server_io));
        let mut client = Client::new(Box::new(client_io) as Box<dyn ImapIo>);
        client.read_response().await.unwrap();
        let session = client.login("u", "p").await.map_err(|(e, _)| e).unwrap();
        (session, server)
    }

    /// async-imap's own `uid_search` read a tagged NO or BAD as "found nothing" (the
    /// attack on the broken-off move: a query Dovecot found too long made every leftover look
    /// uncopied). klachtd's search makes either an error, and an OK with its UIDs a result.
    #[tokio::test]
    async fn a_refused_search_is_an_error_not_nothing_found() {
        for status in ["NO", "BAD"] {
            let (mut session, server) = logged_in(|io| refusing(io, status)).await;
            let error = uid_search(&mut session, "ALL").await.unwrap_err();
            assert!(
                format!("{error:#}").contains("refused a search"),
                "{error:#}"
            );
            server.abort();
        }
        let (mut session, server) =
            logged_in(|io| scripted(io, vec![b"* SEARCH 7 3\r\n* 9 EXISTS\r\n".to_vec()])).await;
        assert_eq!(uid_search(&mut session, "ALL").await.unwrap(), vec![3, 7]);
        server.abort();
    }

    /// Likewise a refused STORE or EXPUNGE: the mail stays, so its removal must not count.
    #[tokio::test]
    async fn a_refused_removal_is_an_error_not_done() {
        for status in ["NO", "BAD"] {
            let (mut session, server) = logged_in(|io| refusing(io, status)).await;
            let result = flag_and_expunge(&mut session, "1:3", "+FLAGS.SILENT (\\Deleted)").await;
            assert!(result.is_err(), "{status} read as done");
            server.abort();
        }
        let (mut session, server) =
            logged_in(|io| scripted(io, vec![Vec::new(), b"* 1 EXPUNGE\r\n".to_vec()])).await;
        flag_and_expunge(&mut session, "1", "+FLAGS.SILENT (\\Deleted)")
            .await
            .unwrap();
        server.abort();
    }

    #[test]
    fn received_between_searches_a_day_wider_on_each_side() {
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        assert_eq!(
            received_between(at("2026-12-07T23:30:00Z"), at("2026-12-31T01:00:00Z")),
            "SINCE 6-Dec-2026 BEFORE 2-Jan-2027"
        );
    }

    /// The hang the `imap_answers` fuzz target found (its seed `cut_literal`): a FETCH answer
    /// whose literal is cut short, the connection kept open. klachtd waited for the rest for
    /// ever, intake stopped without a word; now the pass ends with an error after the limit.
    #[tokio::test]
    async fn a_server_that_stalls_in_the_middle_of_an_answer_ends_the_pass() {
        let source = test_source();
        let body = b"From: a@example.net\r\n\r\nx\r\n";
        let chunks = vec![
            b"* 1 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 2] ok\r\n".to_vec(),
            b"* SEARCH 1\r\n".to_vec(),
            format!("* 1 FETCH (UID 1 RFC822.SIZE {})\r\n", body.len()).into_bytes(),
            b"* 1 FETCH (UID 1 BODY[] {999}\r\nshort)".to_vec(),
        ];
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(scripted(server_io, chunks));
        let mut client = Client::new(source.patient(Box::new(client_io)));
        client.read_response().await.unwrap();
        let mut session = client.login("u", "p").await.map_err(|(e, _)| e).unwrap();
        // The pass ends (here with the fallback's second connection refused: nothing listens).
        let result = source.process_folder(&mut session, &mut Sink, false).await;
        assert!(result.is_err());
        server.abort();
    }

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
