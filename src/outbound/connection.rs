//! SMTP connections kept open between sends (password or no login): connecting, STARTTLS
//! and AUTH once instead of for every message, and TCP_NODELAY on the socket, which lettre
//! 0.11 never sets — without it the message's final `.` waits for the server's delayed ACK
//! (~40 ms a message). Where the server offers PIPELINING (RFC 2920), `MAIL`, `RCPT` and
//! `DATA` go in one write and the message follows the `354`: two round trips a message
//! instead of five. A kept connection the server has dropped then fails before `MAIL` is
//! answered, with nothing of the message sent, and the message goes once more over a new
//! connection; without PIPELINING a kept connection is checked with NOOP before it is used
//! again. One that failed in any way is dropped, never reused.

use crate::settings::{Smtp, TlsMode};
use lettre::address::Envelope;
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use std::time::Duration;

/// Why a send over a kept connection failed.
#[derive(Debug)]
pub enum ConnectionError {
    /// No TCP connection could be made.
    Connect(std::io::Error),
    /// Connected, but the server did not answer this message in time (a recipient check that
    /// hangs, say): this message's trouble, not the server's.
    Stalled(String),
    /// What lettre (or the server) said.
    Smtp(SmtpError),
}

impl From<SmtpError> for ConnectionError {
    fn from(e: SmtpError) -> Self {
        ConnectionError::Smtp(e)
    }
}

/// Connection settings and the connection kept between sends.
pub struct KeptConnection {
    host: String,
    port: u16,
    tls: TlsMode,
    timeout: Duration,
    params: TlsParameters,
    credentials: Option<Credentials>,
    idle: std::sync::Mutex<Vec<Open>>,
}

/// A logged-in connection, and whether its server takes commands pipelined.
struct Open {
    conn: AsyncSmtpConnection,
    pipelining: bool,
}

/// How one attempt over one connection ended badly.
enum Failure {
    /// The server never answered `MAIL` (closed, reset, silent, or `421`): nothing of the
    /// message was sent, so it may go over another connection.
    BeforeMail(ConnectionError),
    /// Anything later, or a refusal: this attempt's outcome.
    Failed(ConnectionError),
}

impl Failure {
    fn error(self) -> ConnectionError {
        match self {
            Failure::BeforeMail(e) | Failure::Failed(e) => e,
        }
    }
}

impl KeptConnection {
    pub fn new(
        smtp: &Smtp,
        params: TlsParameters,
        credentials: Option<Credentials>,
    ) -> KeptConnection {
        KeptConnection {
            host: smtp.host.clone(),
            port: smtp.port,
            tls: smtp.tls,
            timeout: Duration::from_secs(smtp.timeout_seconds.max(1)),
            params,
            credentials,
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    async fn connect(&self) -> Result<Open, ConnectionError> {
        let hello = ClientId::default();
        let address = (self.host.as_str(), self.port);
        let mut conn = match self.tls {
            // Implicit TLS must wrap the socket before the greeting, which lettre only does
            // itself: no TCP_NODELAY there, but the connection is still kept.
            TlsMode::Implicit => {
                AsyncSmtpConnection::connect_tokio1(
                    address,
                    Some(self.timeout),
                    &hello,
                    Some(self.params.clone()),
                    None,
                )
                .await?
            }
            TlsMode::Starttls | TlsMode::None => {
                let tcp =
                    tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(address))
                        .await
                        .map_err(|_| timed_out("connecting"))?
                        .map_err(ConnectionError::Connect)?;
                tcp.set_nodelay(true).map_err(ConnectionError::Connect)?;
                let mut conn =
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello).await?;
                if self.tls == TlsMode::Starttls {
                    conn.starttls(self.params.clone(), &hello).await?;
                }
                conn
            }
        };
        // lettre keeps only the EHLO keywords it knows, and PIPELINING is not among them:
        // ask once more (before AUTH, which a new EHLO must not undo).
        let pipelining = offers_pipelining(conn.command(Ehlo::new(hello.clone())).await?.message());
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await?;
        }
        Ok(Open { conn, pipelining })
    }

    /// Sends one message over a kept connection (made first if none is free). Concurrent
    /// sends each use a connection of their own.
    pub async fn send(&self, envelope: &Envelope, raw: &[u8]) -> Result<Response, ConnectionError> {
        let kept = self.idle.lock().expect("connection list").pop();
        if let Some(mut open) = kept {
            if open.pipelining {
                match self.send_over(open, envelope, raw).await {
                    // The server dropped the kept connection: nothing went, try a new one.
                    Err(Failure::BeforeMail(_)) => {}
                    other => return other.map_err(Failure::error),
                }
            } else {
                let alive = tokio::time::timeout(self.timeout, open.conn.test_connected())
                    .await
                    .unwrap_or(false);
                if alive {
                    return self
                        .send_over(open, envelope, raw)
                        .await
                        .map_err(Failure::error);
                }
                open.conn.abort().await;
            }
        }
        let open = tokio::time::timeout(self.timeout * 2, self.connect())
            .await
            .map_err(|_| timed_out("connecting"))??;
        self.send_over(open, envelope, raw)
            .await
            .map_err(Failure::error)
    }

    /// One attempt over `open`, which is kept for the next message if all went well.
    async fn send_over(
        &self,
        mut open: Open,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<Response, Failure> {
        let limit = self.timeout * 4;
        let stalled = || {
            ConnectionError::Stalled(format!(
                "no answer from the server within {} s while sending",
                limit.as_secs()
            ))
        };
        let result = match pipelined_commands(&open, envelope, raw) {
            Some(commands) if open.pipelining => {
                // The first answer alone decides whether the server still holds the session.
                match tokio::time::timeout(self.timeout, open.conn.command(commands)).await {
                    Err(_) => Err(Failure::BeforeMail(stalled())),
                    Ok(Err(e)) if dropped_session(&e) => Err(Failure::BeforeMail(e.into())),
                    Ok(Err(e)) => Err(Failure::Failed(e.into())),
                    Ok(Ok(_)) => tokio::time::timeout(
                        limit,
                        finish_pipelined(&mut open.conn, envelope.to().len(), raw),
                    )
                    .await
                    .unwrap_or_else(|_| Err(stalled()))
                    .map_err(Failure::Failed),
                }
            }
            // No PIPELINING, or an envelope or body lettre must refuse itself (a non-ASCII
            // address without SMTPUTF8, 8-bit text without 8BITMIME): one command at a time.
            _ => match tokio::time::timeout(limit, open.conn.send(envelope, raw)).await {
                Ok(sent) => sent.map_err(|e| Failure::Failed(e.into())),
                Err(_) => Err(Failure::Failed(stalled())),
            },
        };
        match result {
            Ok(response) => {
                if !open.conn.has_broken() {
                    self.idle.lock().expect("connection list").push(open);
                }
                Ok(response)
            }
            Err(failure) => {
                open.conn.abort().await;
                Err(failure)
            }
        }
    }
}

/// Whether an EHLO answer's keyword lines include PIPELINING.
fn offers_pipelining<'a>(mut lines: impl Iterator<Item = &'a str>) -> bool {
    lines.any(|line| {
        line.split_ascii_whitespace()
            .next()
            .is_some_and(|keyword| keyword.eq_ignore_ascii_case("PIPELINING"))
    })
}

/// `MAIL`, one `RCPT` per recipient and `DATA`, as one write; `None` when the envelope or the
/// body needs an extension the server lacks (lettre's own send then refuses it).
fn pipelined_commands(open: &Open, envelope: &Envelope, raw: &[u8]) -> Option<String> {
    let info = open.conn.server_info();
    let mut parameters = Vec::new();
    let non_ascii = |a: &lettre::Address| !AsRef::<str>::as_ref(a).is_ascii();
    if envelope.from().is_some_and(non_ascii) || envelope.to().iter().any(non_ascii) {
        if !info.supports_feature(Extension::SmtpUtfEight) {
            return None;
        }
        parameters.push(MailParameter::SmtpUtfEight);
    }
    if !raw.is_ascii() {
        if !info.supports_feature(Extension::EightBitMime) {
            return None;
        }
        parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let mut commands = Mail::new(envelope.from().cloned(), parameters).to_string();
    for to in envelope.to() {
        commands.push_str(&Rcpt::new(to.clone(), Vec::new()).to_string());
    }
    commands.push_str("DATA\r\n");
    Some(commands)
}

/// After `MAIL` was accepted: the answers to the `RCPT`s and `DATA` (a refusal ends it there,
/// before any of the message is sent), then the message and the server's answer to it.
async fn finish_pipelined(
    conn: &mut AsyncSmtpConnection,
    recipients: usize,
    raw: &[u8],
) -> Result<Response, ConnectionError> {
    for _ in 0..recipients {
        conn.read_response().await?;
    }
    let go_on = conn.read_response().await?;
    if u16::from(go_on.code()) != 354 {
        return Err(ConnectionError::Stalled(format!(
            "the server answered DATA with {} instead of 354",
            go_on.code()
        )));
    }
    match std::str::from_utf8(raw) {
        // The message and its final `.` in one write (lettre writes them apart).
        Ok(text) => Ok(conn.command(DataBlock(&dot_stuffed(text))).await?),
        Err(_) => Ok(conn.message(raw).await?),
    }
}

/// The message as the DATA block carries it: a `.` that begins a line (after CRLF, or at the
/// very start) doubled, as lettre's codec does byte by byte, then `CRLF . CRLF`.
fn dot_stuffed(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 64 + 8);
    let mut start = 0;
    if text.starts_with('.') {
        out.push('.');
    }
    for at in memchr::memmem::find_iter(text.as_bytes(), b"\r\n.") {
        out.push_str(&text[start..at + 2]);
        out.push('.');
        start = at + 2;
    }
    out.push_str(&text[start..]);
    out.push_str("\r\n.\r\n");
    out
}

/// A finished DATA block, written as it is.
struct DataBlock<'a>(&'a str);

impl std::fmt::Display for DataBlock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// An error that says the server no longer holds the session: no reply at all (closed, reset,
/// cut off) or `421` (closing, such as after an idle timeout).
fn dropped_session(e: &SmtpError) -> bool {
    match e.status() {
        None => !e.is_client(),
        Some(code) => u16::from(code) == 421,
    }
}

fn timed_out(what: &str) -> ConnectionError {
    ConnectionError::Connect(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("{what} timed out"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// How the fake server ends a connection after some messages, as a server with an idle
    /// timeout or a restart would.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Drop {
        /// Closes the socket right after the 250 of its last message.
        Close,
        /// Answers the next command with 421 and closes.
        Say421,
    }

    struct Fake {
        port: u16,
        delivered: Arc<Mutex<Vec<String>>>,
        connections: Arc<AtomicUsize>,
        /// MAIL commands that arrived together with their DATA (pipelined), and alone.
        grouped: Arc<AtomicUsize>,
        single: Arc<AtomicUsize>,
    }

    /// A plain SMTP server on 127.0.0.1: `reject@` gets 550 and `busy@` 450 at RCPT, DATA
    /// without a valid recipient 554; every connection ends as `drop` says after `after`
    /// messages.
    fn fake(pipelining: bool, drop: Option<(Drop, usize)>) -> Fake {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let delivered = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let grouped = Arc::new(AtomicUsize::new(0));
        let single = Arc::new(AtomicUsize::new(0));
        let state = (
            delivered.clone(),
            connections.clone(),
            grouped.clone(),
            single.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let state = state.clone();
                state.1.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    serve(stream, pipelining, drop, &state.0, &state.2, &state.3)
                });
            }
        });
        Fake {
            port,
            delivered,
            connections,
            grouped,
            single,
        }
    }

    fn serve(
        stream: std::net::TcpStream,
        pipelining: bool,
        drop: Option<(Drop, usize)>,
        delivered: &Mutex<Vec<String>>,
        grouped: &AtomicUsize,
        single: &AtomicUsize,
    ) {
        let mut out = stream.try_clone().unwrap();
        let mut lines = BufReader::new(stream);
        let _ = out.write_all(b"220 fake ESMTP\r\n");
        let (mut messages, mut accepted) = (0, 0);
        loop {
            let mut line = String::new();
            if lines.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let upper = line.to_ascii_uppercase();
            if drop.is_some_and(|(how, after)| how == Drop::Say421 && messages == after) {
                let _ = out.write_all(b"421 4.4.2 fake: timeout exceeded\r\n");
                return;
            }
            let reply: &[u8] = if upper.starts_with("EHLO") {
                if pipelining {
                    b"250-fake\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                } else {
                    b"250-fake\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                }
            } else if upper.starts_with("MAIL") {
                let waiting = String::from_utf8_lossy(lines.buffer()).into_owned();
                if waiting.contains("DATA\r\n") {
                    grouped.fetch_add(1, Ordering::SeqCst);
                } else {
                    single.fetch_add(1, Ordering::SeqCst);
                }
                accepted = 0;
                b"250 ok\r\n"
            } else if upper.starts_with("RCPT") {
                if upper.contains("<REJECT@") {
                    b"550 5.1.1 no such user\r\n"
                } else if upper.contains("<BUSY@") {
                    b"450 4.2.1 mailbox busy\r\n"
                } else {
                    accepted += 1;
                    b"250 ok\r\n"
                }
            } else if upper.starts_with("DATA") {
                if accepted == 0 {
                    b"554 5.5.1 no valid recipients\r\n"
                } else {
                    let _ = out.write_all(b"354 go on\r\n");
                    let mut data = String::new();
                    loop {
                        let mut l = String::new();
                        if lines.read_line(&mut l).unwrap_or(0) == 0 {
                            return; // cut off in DATA: nothing delivered
                        }
                        if l == ".\r\n" {
                            break;
                        }
                        data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    }
                    delivered.lock().unwrap().push(data);
                    messages += 1;
                    let _ = out.write_all(b"250 queued\r\n");
                    if drop.is_some_and(|(how, after)| how == Drop::Close && messages == after) {
                        return;
                    }
                    continue;
                }
            } else if upper.starts_with("QUIT") {
                let _ = out.write_all(b"221 bye\r\n");
                return;
            } else {
                b"250 ok\r\n"
            };
            let _ = out.write_all(reply);
        }
    }

    fn kept(port: u16) -> KeptConnection {
        let mut settings = crate::settings::Settings::load_with_env(None, Vec::new()).unwrap();
        let smtp = &mut settings.outbound.smtp;
        smtp.host = "127.0.0.1".into();
        smtp.port = port;
        smtp.tls = TlsMode::None;
        smtp.timeout_seconds = 30;
        let params = TlsParameters::new("127.0.0.1".into()).unwrap();
        KeptConnection::new(smtp, params, None)
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Reader {
        Ok,
        Reject,
        Busy,
    }

    fn raw(i: usize, eight_bit: bool) -> String {
        let word = if eight_bit { "geïnd" } else { "betaald" };
        format!(
            "Message-ID: <m{i}@example.org>\r\nSubject: t{i}\r\n\r\nregel {word}\r\n.begint met een punt\r\n..twee\r\n"
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever the server offers and however it drops kept connections, every message
        /// is delivered exactly once when its send succeeds and never when it fails (a
        /// refusal names the server's code), a kept connection is used again until the server
        /// drops it or a send on it fails, and with PIPELINING every MAIL arrives together
        /// with its DATA.
        #[test]
        fn each_message_goes_once_over_kept_and_replaced_connections(
            pipelining in any::<bool>(),
            drop in proptest::option::of((prop_oneof![Just(Drop::Close), Just(Drop::Say421)], 1..4usize)),
            readers in proptest::collection::vec(
                (prop_oneof![4 => Just(Reader::Ok), 1 => Just(Reader::Reject), 1 => Just(Reader::Busy)], any::<bool>()),
                1..10,
            ),
        ) {
            let server = fake(pipelining, drop);
            let conn = kept(server.port);
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let mut expected = Vec::new();
            let (mut connections, mut on_connection) = (0, None::<usize>);
            for (i, (reader, eight_bit)) in readers.iter().enumerate() {
                let to = match reader {
                    Reader::Ok => format!("k{i}@example.net"),
                    Reader::Reject => "reject@example.net".to_string(),
                    Reader::Busy => "busy@example.net".to_string(),
                };
                let envelope = Envelope::new(
                    Some("info@example.org".parse().unwrap()),
                    vec![to.parse().unwrap()],
                ).unwrap();
                let raw = raw(i, *eight_bit);
                let result = runtime.block_on(conn.send(&envelope, raw.as_bytes()));
                // The model: a new connection when none is kept or the server dropped it.
                if on_connection.is_none() || drop.is_some_and(|(_, after)| on_connection == Some(after)) {
                    connections += 1;
                    on_connection = Some(0);
                }
                match reader {
                    Reader::Ok => {
                        prop_assert!(result.is_ok(), "message {i}: {:?}", result.err());
                        expected.push(raw);
                        on_connection = on_connection.map(|n| n + 1);
                    }
                    refused => {
                        let code = match result {
                            Err(ConnectionError::Smtp(e)) => e.status().map(u16::from),
                            other => panic!("message {i}: {other:?}"),
                        };
                        prop_assert_eq!(code, Some(if *refused == Reader::Reject { 550 } else { 450 }));
                        on_connection = None;
                    }
                }
            }
            // The server records a message before its 250, so nothing is still on its way.
            let delivered = server.delivered.lock().unwrap().clone();
            prop_assert_eq!(delivered.len(), expected.len());
            for (got, sent) in delivered.iter().zip(&expected) {
                prop_assert_eq!(got.trim_end(), sent.trim_end());
            }
            prop_assert_eq!(server.connections.load(Ordering::SeqCst), connections);
            let (grouped, single) = (server.grouped.load(Ordering::SeqCst), server.single.load(Ordering::SeqCst));
            if pipelining {
                prop_assert_eq!(single, 0);
                prop_assert_eq!(grouped, readers.len());
            } else {
                prop_assert_eq!(grouped, 0);
                prop_assert_eq!(single, readers.len());
            }
        }
    }

    /// lettre's transparency codec (`ClientCodec::encode`), byte by byte, and its terminator.
    fn lettre_stuffing(raw: &[u8]) -> Vec<u8> {
        #[derive(Clone, Copy, PartialEq)]
        enum At {
            LineStart,
            AfterCr,
            Middle,
        }
        let (mut out, mut at) = (Vec::new(), At::LineStart);
        for &b in raw {
            out.push(b);
            at = match (b, at) {
                (b'\r', _) => At::AfterCr,
                (b'\n', At::AfterCr) => At::LineStart,
                (b'.', At::LineStart) => {
                    out.push(b'.');
                    At::Middle
                }
                (_, At::AfterCr | At::LineStart) => At::Middle,
                (_, At::Middle) => At::Middle,
            };
        }
        out.extend_from_slice(b"\r\n.\r\n");
        out
    }

    proptest! {
        /// The DATA block is byte for byte what lettre's codec makes of any text of dots,
        /// CRs, LFs and other characters.
        #[test]
        fn dot_stuffing_equals_lettres_codec(text in "(\\.|\r|\n|\r\n\\.|[a-z ]|é){0,300}") {
            prop_assert_eq!(dot_stuffed(&text).into_bytes(), lettre_stuffing(text.as_bytes()));
        }
    }

    #[test]
    fn pipelining_is_read_from_the_ehlo_keywords() {
        assert!(offers_pipelining(
            ["fake", "SIZE 1000", "PIPELINING"].into_iter()
        ));
        assert!(offers_pipelining(["fake", "pipelining"].into_iter()));
        assert!(!offers_pipelining(
            ["fake", "8BITMIME", "XPIPELINING"].into_iter()
        ));
        assert!(!offers_pipelining(["PIPELINING-NOT"].into_iter()));
    }
}
