//! How klachtd proves who it is to the mail servers: a password, or an OAuth2 access token
//! presented with SASL XOAUTH2 or OAUTHBEARER ([`token`] obtains and caches it, [`sasl`] words
//! it). A refused token is renewed and tried once more; a second refusal is a [`LoginRefused`].

pub mod sasl;
pub mod token;

use crate::inbound::imap::{ImapIo, ImapSession};
use crate::settings::{AuthKind, Imap, SaslMechanism, Secret, Smtp};
use anyhow::Context;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::response::Response;
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, Error as SmtpError};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::sync::Arc;
use token::TokenSource;

/// The server refused our credentials (a wrong or expired password, a refused token): retrying
/// will not help until an administrator acts.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LoginRefused(pub String);

/// How to log in to one server.
#[derive(Clone)]
pub enum Login {
    Password {
        user: String,
        password: Secret,
    },
    OAuth2 {
        user: String,
        tokens: Arc<TokenSource>,
        mechanism: SaslMechanism,
    },
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Login::Password { user, .. } => write!(f, "Login::Password({user})"),
            Login::OAuth2 {
                user, mechanism, ..
            } => {
                write!(f, "Login::OAuth2({user}, {})", mechanism.name())
            }
        }
    }
}

impl Login {
    /// The IMAP login as configured.
    pub fn for_imap(s: &Imap) -> anyhow::Result<Login> {
        match (s.auth, &s.oauth2) {
            (AuthKind::Oauth2, Some(o)) => Ok(Login::OAuth2 {
                user: s.username.clone(),
                tokens: token::shared(o),
                mechanism: o.mechanism,
            }),
            (AuthKind::Oauth2, None) => {
                anyhow::bail!("inbound.imap.auth = \"oauth2\" but no [oauth2] section was loaded")
            }
            (AuthKind::Password, _) => Ok(Login::Password {
                user: s.username.clone(),
                password: s
                    .password_source()
                    .resolve("inbound.imap")?
                    .context("inbound.imap: no password configured")?,
            }),
        }
    }

    /// The SMTP login as configured, if the server takes one (XOAUTH2 for tokens: lettre
    /// offers no OAUTHBEARER, and Microsoft 365 and Google both take XOAUTH2).
    pub fn for_smtp(s: &Smtp) -> anyhow::Result<Option<Login>> {
        let Some(user) = &s.username else {
            return Ok(None);
        };
        match (s.auth, &s.oauth2) {
            (AuthKind::Oauth2, Some(o)) => Ok(Some(Login::OAuth2 {
                user: user.clone(),
                tokens: token::shared(o),
                mechanism: SaslMechanism::Xoauth2,
            })),
            (AuthKind::Oauth2, None) => {
                anyhow::bail!("outbound.smtp.auth = \"oauth2\" but no [oauth2] section was loaded")
            }
            (AuthKind::Password, _) => Ok(Some(Login::Password {
                user: user.clone(),
                password: s
                    .password_source()
                    .resolve("outbound.smtp")?
                    .context("outbound.smtp: a username needs a password")?,
            })),
        }
    }

    pub fn user(&self) -> &str {
        match self {
            Login::Password { user, .. } | Login::OAuth2 { user, .. } => user,
        }
    }

    /// Logs in on a greeted IMAP connection. A refused token is renewed and tried once more on
    /// the same connection.
    pub async fn imap(
        &self,
        client: async_imap::Client<Box<dyn ImapIo>>,
        host: &str,
        port: u16,
    ) -> anyhow::Result<ImapSession> {
        match self {
            Login::Password { user, password } => match client.login(user, password.expose()).await
            {
                Ok(session) => Ok(session),
                Err((async_imap::error::Error::No(why), _)) if temporary(&why) => Err(
                    anyhow::anyhow!("the IMAP server cannot check logins now: {}", why.trim()),
                ),
                Err((async_imap::error::Error::No(why), _)) => Err(LoginRefused(format!(
                    "the IMAP server refused the login as {user} ({}): check the password \
                     (inbound.imap.password…)",
                    why.trim()
                ))
                .into()),
                Err((e, _)) => Err(anyhow::anyhow!("IMAP login as {user} failed: {e}")),
            },
            Login::OAuth2 {
                user,
                tokens,
                mechanism,
            } => {
                let token = tokens.access_token().await?;
                let client = match authenticate(client, *mechanism, user, &token, host, port).await
                {
                    Ok(session) => return Ok(session),
                    Err(Refusal::Refused(client, why)) => {
                        tracing::warn!(
                            user = user.as_str(),
                            "the IMAP server refused the OAuth2 token ({why}); renewing it"
                        );
                        client
                    }
                    Err(Refusal::Failed(e)) => return Err(e),
                };
                tokens.invalidate().await;
                let token = tokens.access_token().await?;
                match authenticate(client, *mechanism, user, &token, host, port).await {
                    Ok(session) => Ok(session),
                    Err(Refusal::Refused(_, why)) => Err(LoginRefused(format!(
                        "the IMAP server refused a fresh OAuth2 token for {user} ({why}): check \
                         that the app may use IMAP for this mailbox (docs/oauth2.md)"
                    ))
                    .into()),
                    Err(Refusal::Failed(e)) => Err(e),
                }
            }
        }
    }
}

/// `NO [UNAVAILABLE]` (RFC 5530): the server could not check the login (its password or token
/// service is down) — not a verdict on our credentials.
fn temporary(why: &str) -> bool {
    why.contains("[UNAVAILABLE]")
}

enum Refusal {
    Refused(async_imap::Client<Box<dyn ImapIo>>, String),
    Failed(anyhow::Error),
}

async fn authenticate(
    client: async_imap::Client<Box<dyn ImapIo>>,
    mechanism: SaslMechanism,
    user: &str,
    token: &Secret,
    host: &str,
    port: u16,
) -> Result<ImapSession, Refusal> {
    let mut auth = sasl::TokenAuthenticator::new(mechanism, user, token.expose(), host, port);
    match client.authenticate(mechanism.name(), &mut auth).await {
        Ok(session) => Ok(session),
        Err((async_imap::error::Error::No(why), _)) if temporary(&why) => Err(Refusal::Failed(
            anyhow::anyhow!("the IMAP server cannot check logins now: {}", why.trim()),
        )),
        Err((async_imap::error::Error::No(why), client)) => {
            let detail = auth.error.map(|e| format!(" {e}")).unwrap_or_default();
            Err(Refusal::Refused(client, format!("{}{detail}", why.trim())))
        }
        Err((e, _)) => Err(Refusal::Failed(anyhow::anyhow!(
            "IMAP AUTHENTICATE {} as {user} failed: {e}",
            mechanism.name()
        ))),
    }
}

/// Why an SMTP hand-over failed: the server (lettre's error), or no token to log in with.
/// A refused login reads `login refused: …`, also where it is kept as text (the outbox's
/// last error), so `klachtd status` and the administrator's alert can tell it apart.
#[derive(Debug)]
pub enum SmtpSendError {
    Smtp(SmtpError),
    /// No TCP connection to the server (or it timed out).
    Connect(std::io::Error),
    /// The server stopped answering while this message was being sent.
    Stalled(String),
    Token(anyhow::Error),
    Refused(String),
}

/// How every refused login's message begins.
pub const LOGIN_REFUSED: &str = "login refused: ";

impl From<SmtpError> for SmtpSendError {
    fn from(e: SmtpError) -> Self {
        SmtpSendError::Smtp(e)
    }
}

impl std::error::Error for SmtpSendError {}

impl std::fmt::Display for SmtpSendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_login_refused() {
            f.write_str(LOGIN_REFUSED)?;
        }
        match self {
            SmtpSendError::Smtp(e) => write!(f, "{e}"),
            SmtpSendError::Connect(e) => write!(f, "cannot reach the SMTP server: {e}"),
            SmtpSendError::Token(e) => write!(f, "no OAuth2 token for SMTP: {e:#}"),
            SmtpSendError::Refused(why) | SmtpSendError::Stalled(why) => f.write_str(why),
        }
    }
}

impl SmtpSendError {
    /// Only the server's verdict on the mail itself is permanent; a refused login or a missing
    /// token leaves the mail queued until an administrator has fixed it.
    pub fn is_permanent(&self) -> bool {
        match self {
            SmtpSendError::Smtp(e) => e.is_permanent() && !is_auth_failure(e),
            SmtpSendError::Token(_)
            | SmtpSendError::Refused(_)
            | SmtpSendError::Connect(_)
            | SmtpSendError::Stalled(_) => false,
        }
    }

    /// True when the server refused our login.
    pub fn is_login_refused(&self) -> bool {
        match self {
            SmtpSendError::Smtp(e) => is_auth_failure(e),
            SmtpSendError::Refused(_) => true,
            SmtpSendError::Connect(_) | SmtpSendError::Stalled(_) => false,
            SmtpSendError::Token(e) => e.downcast_ref::<token::GrantRefused>().is_some(),
        }
    }
}

/// A login refusal from lettre: 535/534/530, or an XOAUTH2 error challenge (lettre answers a
/// challenge to XOAUTH2 with a client error; the server's 334 carries the JSON reason).
pub fn is_auth_failure(e: &SmtpError) -> bool {
    let code = e.status().map(|c| c.to_string());
    matches!(code.as_deref(), Some("530" | "534" | "535"))
        || (e.is_client() && e.to_string().contains("does not expect a challenge"))
}

/// An SMTP sender that logs in as configured; with OAuth2 it builds its lettre transport with
/// the current token, and renews the token once when the server refuses it (the login comes
/// before MAIL FROM, so nothing was sent yet).
/// Boxed: lettre's builder and transport are large, and the transport enum holds this beside
/// a path.
pub struct SmtpClient(Box<SmtpParts>);

struct SmtpParts {
    builder: AsyncSmtpTransportBuilder,
    login: Option<Login>,
    /// Built once for password or no login.
    fixed: Option<AsyncSmtpTransport<Tokio1Executor>>,
    /// For [`SmtpClient::probe_sender`], which speaks SMTP step by step.
    settings: Smtp,
    /// The connection kept between sends (password or no login).
    kept: Option<crate::outbound::connection::KeptConnection>,
}

impl SmtpClient {
    /// `builder` has host, port, TLS and timeout; the credentials part is added here.
    pub fn new(
        builder: AsyncSmtpTransportBuilder,
        params: lettre::transport::smtp::client::TlsParameters,
        smtp: &Smtp,
    ) -> anyhow::Result<SmtpClient> {
        let login = Login::for_smtp(smtp)?;
        let kept = match &login {
            None => Some(None),
            Some(Login::Password { user, password }) => Some(Some(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ))),
            Some(Login::OAuth2 { .. }) => None,
        }
        .map(|credentials| {
            crate::outbound::connection::KeptConnection::new(smtp, params, credentials)
        });
        let fixed = match &login {
            None => Some(builder.clone().build()),
            Some(Login::Password { user, password }) => Some(
                builder
                    .clone()
                    .credentials(Credentials::new(
                        user.clone(),
                        password.expose().to_string(),
                    ))
                    .build(),
            ),
            Some(Login::OAuth2 { .. }) => None,
        };
        Ok(SmtpClient(Box::new(SmtpParts {
            builder,
            login,
            fixed,
            settings: smtp.clone(),
            kept,
        })))
    }

    fn with_token(&self, user: &str, token: &Secret) -> AsyncSmtpTransport<Tokio1Executor> {
        self.0
            .builder
            .clone()
            .credentials(Credentials::new(
                user.to_string(),
                token.expose().to_string(),
            ))
            .authentication(vec![Mechanism::Xoauth2])
            .build()
    }

    /// Hands one message to the server.
    pub async fn send_raw(
        &self,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<Response, SmtpSendError> {
        if let Some(kept) = &self.0.kept {
            return kept.send(envelope, raw).await.map_err(|e| match e {
                crate::outbound::connection::ConnectionError::Smtp(e) => SmtpSendError::Smtp(e),
                crate::outbound::connection::ConnectionError::Connect(e) => {
                    SmtpSendError::Connect(e)
                }
                crate::outbound::connection::ConnectionError::Stalled(why) => {
                    SmtpSendError::Stalled(why)
                }
            });
        }
        let Some(Login::OAuth2 { user, tokens, .. }) = &self.0.login else {
            unreachable!("a transport is fixed unless the login is OAuth2");
        };
        let token = tokens.access_token().await.map_err(SmtpSendError::Token)?;
        match self.with_token(user, &token).send_raw(envelope, raw).await {
            Err(e) if is_auth_failure(&e) => {
                tracing::warn!(
                    user = user.as_str(),
                    "the SMTP server refused the OAuth2 token; renewing it"
                );
            }
            other => return Ok(other?),
        }
        tokens.invalidate().await;
        let token = tokens.access_token().await.map_err(SmtpSendError::Token)?;
        match self.with_token(user, &token).send_raw(envelope, raw).await {
            Err(e) if is_auth_failure(&e) => Err(SmtpSendError::Refused(format!(
                "the SMTP server refused a fresh OAuth2 token for {user} ({e}): check that the \
                 app may send as this mailbox (docs/oauth2.md)"
            ))),
            other => Ok(other?),
        }
    }

    /// Connects, secures, logs in and says `MAIL FROM:<from>`, then `RSET` and `QUIT`: whether
    /// the server would take mail from our address (for `klachtd check`). Nothing is sent.
    pub async fn probe_sender(&self, from: &str) -> anyhow::Result<()> {
        use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
        use lettre::transport::smtp::extension::ClientId;
        let s = &self.0.settings;
        let mut params = TlsParameters::builder(s.host.clone());
        if let Some(ca) = &s.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                SmtpSendError::Refused(format!("cannot read {}: {e}", ca.display()))
            })?;
            let cert = lettre::transport::smtp::client::Certificate::from_pem(&pem)?;
            params = params.add_root_certificate(cert);
        }
        let params = params.build()?;
        let hello = ClientId::default();
        let timeout = Some(std::time::Duration::from_secs(s.timeout_seconds.max(1)));
        let implicit = (s.tls == crate::settings::TlsMode::Implicit).then(|| params.clone());
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (s.host.as_str(), s.port),
            timeout,
            &hello,
            implicit,
            None,
        )
        .await?;
        if s.tls == crate::settings::TlsMode::Starttls {
            conn.starttls(params, &hello).await?;
        }
        match &self.0.login {
            None => {}
            Some(Login::Password { user, password }) => {
                let creds = Credentials::new(user.clone(), password.expose().to_string());
                conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
                    .await?;
            }
            Some(Login::OAuth2 { user, tokens, .. }) => {
                let token = tokens.access_token().await?;
                let creds = Credentials::new(user.clone(), token.expose().to_string());
                conn.auth(&[Mechanism::Xoauth2], &creds).await?;
            }
        }
        let verdict = conn.command(format!("MAIL FROM:<{from}>\r\n")).await;
        let _ = conn.command("RSET\r\n").await;
        let _ = conn.quit().await;
        verdict
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("the server refuses mail from <{from}>: {e}"))
    }

    /// Connects and logs in without sending (for `klachtd check`).
    pub async fn test_login(&self) -> Result<bool, SmtpSendError> {
        if let Some(transport) = &self.0.fixed {
            return Ok(transport.test_connection().await?);
        }
        let Some(Login::OAuth2 { user, tokens, .. }) = &self.0.login else {
            unreachable!("a transport is fixed unless the login is OAuth2");
        };
        let token = tokens.access_token().await.map_err(SmtpSendError::Token)?;
        match self.with_token(user, &token).test_connection().await {
            Err(e) if is_auth_failure(&e) => {}
            other => return Ok(other?),
        }
        tokens.invalidate().await;
        let token = tokens.access_token().await.map_err(SmtpSendError::Token)?;
        Ok(self.with_token(user, &token).test_connection().await?)
    }
}
