//! SMTP connections kept open between sends (password or no login): connecting, STARTTLS
//! and AUTH once instead of for every message, and TCP_NODELAY on the socket, which lettre
//! 0.11 never sets — without it the message's final `.` waits for the server's delayed ACK
//! (~40 ms a message). A kept connection is checked with NOOP before it is used again; one that
//! failed in any way is dropped, never reused.

use crate::settings::{Smtp, TlsMode};
use lettre::address::Envelope;
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
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
    idle: std::sync::Mutex<Vec<AsyncSmtpConnection>>,
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

    async fn connect(&self) -> Result<AsyncSmtpConnection, ConnectionError> {
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
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await?;
        }
        Ok(conn)
    }

    /// Sends one message over a kept connection (made first if none is free, or if the kept
    /// one no longer answers NOOP). Concurrent sends each use a connection of their own.
    pub async fn send(&self, envelope: &Envelope, raw: &[u8]) -> Result<Response, ConnectionError> {
        let mut kept = self.idle.lock().expect("connection list").pop();
        if let Some(conn) = kept.as_mut() {
            let alive = tokio::time::timeout(self.timeout, conn.test_connected())
                .await
                .unwrap_or(false);
            if !alive {
                conn.abort().await;
                kept = None;
            }
        }
        let mut conn = match kept {
            Some(conn) => conn,
            None => tokio::time::timeout(self.timeout * 2, self.connect())
                .await
                .map_err(|_| timed_out("connecting"))??,
        };
        match tokio::time::timeout(self.timeout * 4, conn.send(envelope, raw)).await {
            Ok(Ok(response)) => {
                if !conn.has_broken() {
                    self.idle.lock().expect("connection list").push(conn);
                }
                Ok(response)
            }
            Ok(Err(e)) => {
                conn.abort().await;
                Err(e.into())
            }
            Err(_) => {
                conn.abort().await;
                Err(ConnectionError::Stalled(format!(
                    "no answer from the server within {} s while sending",
                    (self.timeout * 4).as_secs()
                )))
            }
        }
    }
}

fn timed_out(what: &str) -> ConnectionError {
    ConnectionError::Connect(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("{what} timed out"),
    ))
}
