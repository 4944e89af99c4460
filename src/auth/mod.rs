//! How klachtd proves who it is to the mail servers: a password, or an OAuth2 access token
//! presented with SASL XOAUTH2 or OAUTHBEARER ([`token`] caches it, [`grants`] obtains it over
//! [`http`], signing assertions with [`jwt`]; [`sasl`] words it). A refused token is renewed and
//! tried once more; a second refusal is a [`LoginRefused`] that names the likely cause
//! ([`diagnose`]).

pub mod diagnose;
pub mod grants;
pub mod http;
pub mod jwt;
pub mod sasl;
pub mod token;

use crate::settings::{AuthKind, Imap, SaslMechanism, Secret, Smtp};
use anyhow::Context;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::response::Response;
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, Error as SmtpError};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::sync::Arc;
use token::TokenSource;

/// Any byte stream an IMAP session can run over (plain TCP or TLS): what the IMAP source
/// connects and this module logs in on.
pub trait ImapIo:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + std::fmt::Debug
{
}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + std::fmt::Debug> ImapIo
    for T
{
}

/// A logged-in IMAP session.
pub type ImapSession = async_imap::Session<Box<dyn ImapIo>>;

/// The server refused our credentials (a wrong or expired password, a refused token): retrying
/// will not help until an administrator acts.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LoginRefused(pub String);

/// A server refused a fresh OAuth2 token: its words kept apart, so `klachtd check` can judge
/// them against the token's claims and the age of the set-up; displayed as the whole sentence.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TokenRefused {
    pub protocol: diagnose::Protocol,
    pub user: String,
    /// The server's answer, as it gave it.
    pub answer: String,
    message: String,
}

impl TokenRefused {
    pub fn new(
        protocol: diagnose::Protocol,
        user: &str,
        answer: &str,
        o: &crate::settings::OAuth2,
    ) -> TokenRefused {
        TokenRefused {
            protocol,
            user: user.to_string(),
            answer: answer.trim().to_string(),
            message: refused_token(protocol, user, answer, o),
        }
    }
}

/// Whether an error is a refusal of our credentials (password, token, or the grant behind the
/// token): retrying will not help until an administrator acts.
pub fn is_login_refused(error: &anyhow::Error) -> bool {
    error.downcast_ref::<LoginRefused>().is_some()
        || error.downcast_ref::<TokenRefused>().is_some()
        || error.downcast_ref::<token::GrantRefused>().is_some()
        || mailbox_refused(error)
}

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
                    server_words(&why)
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
                    Err(Refusal::Refused(_, why)) => Err(TokenRefused::new(
                        diagnose::Protocol::Imap,
                        user,
                        &why,
                        tokens.settings(),
                    )
                    .into()),
                    Err(Refusal::Failed(e)) => Err(e),
                }
            }
        }
    }
}

/// A token source as the configuration names it.
pub fn source_name(kind: crate::settings::TokenSourceKind) -> &'static str {
    use crate::settings::TokenSourceKind::*;
    match kind {
        ClientCredentials => "client_credentials",
        RefreshToken => "refresh_token",
        TokenCommand => "token_command",
        ClientCertificate => "client_certificate",
        ServiceAccount => "service_account",
    }
}

/// The files holding the login credentials in use (passwords, client secret, key, certificate,
/// service account key) — not the refresh token, which klachtd itself rewrites.
pub fn credential_files(s: &crate::settings::Settings) -> Vec<(&'static str, std::path::PathBuf)> {
    use crate::settings::{InboundKind, OutboundKind};
    let imap = (s.inbound.kind == InboundKind::Imap).then_some(&s.inbound.imap);
    let smtp = (s.outbound.kind == OutboundKind::Smtp).then_some(&s.outbound.smtp);
    let mut files = Vec::new();
    if let Some(p) = imap
        .filter(|i| i.auth == AuthKind::Password)
        .and_then(|i| i.password_file.clone())
    {
        files.push(("inbound.imap.password_file", p));
    }
    if let Some(p) = smtp
        .filter(|m| m.auth == AuthKind::Password && m.username.is_some())
        .and_then(|m| m.password_file.clone())
    {
        files.push(("outbound.smtp.password_file", p));
    }
    let oauth2 = imap.is_some_and(|i| i.auth == AuthKind::Oauth2)
        || smtp.is_some_and(|m| m.auth == AuthKind::Oauth2);
    if oauth2 {
        let o = &s.oauth2;
        for (key, path) in [
            ("oauth2.client_secret_file", &o.client_secret_file),
            ("oauth2.private_key_file", &o.private_key_file),
            ("oauth2.certificate_file", &o.certificate_file),
            (
                "oauth2.service_account_key_file",
                &o.service_account_key_file,
            ),
        ] {
            if let Some(p) = path {
                files.push((key, p.clone()));
            }
        }
    }
    files
}

/// A digest of everything that decides how klachtd logs in — servers, users, the `[oauth2]`
/// settings, and the credential files' size and modification time — never a secret itself.
/// The daemon records when it changes: a refused login right after a change waits out
/// `alerts.login_grace_minutes` before the director is told.
pub fn login_fingerprint(s: &crate::settings::Settings) -> String {
    use sha2::Digest;
    let i = &s.inbound.imap;
    let m = &s.outbound.smtp;
    let o = &s.oauth2;
    let mut text = format!(
        "{:?}|{}|{}|{}|{:?}|{}|{:?}|{}|{}|{:?}|{:?}|{}|{:?}|",
        s.inbound.kind,
        i.host,
        i.port,
        i.username,
        i.auth,
        i.password.is_some(),
        s.outbound.kind,
        m.host,
        m.port,
        m.username,
        m.auth,
        m.password.is_some(),
        o.source,
    );
    text.push_str(&format!(
        "{}|{}|{:?}|{:?}|{:?}|{:?}|{}|",
        o.token_url,
        o.client_id,
        o.scopes,
        o.mechanism,
        o.impersonate,
        o.refresh_token_file,
        o.client_secret.is_some(),
    ));
    for (key, path) in credential_files(s) {
        let meta = std::fs::metadata(&path).ok();
        let mtime = meta
            .as_ref()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs());
        text.push_str(&format!(
            "{key}={}:{:?}:{:?}|",
            path.display(),
            meta.map(|m| m.len()),
            mtime
        ));
    }
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// When the login set-up last changed on disk: the newest modification time of the
/// configuration file and the credential files (for `klachtd check`'s "not yet active").
pub fn setup_changed_at(
    s: &crate::settings::Settings,
    config_file: Option<&std::path::Path>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let mut paths: Vec<std::path::PathBuf> =
        credential_files(s).into_iter().map(|(_, p)| p).collect();
    paths.extend(config_file.map(std::path::Path::to_path_buf));
    paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok()?.modified().ok())
        .max()
        .map(chrono::DateTime::<chrono::Utc>::from)
}

/// The message of a server's second refusal of a token: its words, the cause they name (or the
/// settings that each give such an answer), and the fix (docs/oauth2.md has the same).
pub fn refused_token(
    protocol: diagnose::Protocol,
    user: &str,
    answer: &str,
    o: &crate::settings::OAuth2,
) -> String {
    let server = match protocol {
        diagnose::Protocol::Imap => "IMAP",
        diagnose::Protocol::Smtp => "SMTP",
    };
    let finding = diagnose::server_answer(protocol, answer, user).unwrap_or_else(|| {
        diagnose::unexplained(
            protocol,
            answer,
            user,
            Some(o),
            None,
            chrono::Duration::zero(),
        )
    });
    // The finding of a refusal without a named cause already says which server refused what.
    if finding
        .detail
        .starts_with(&format!("the {server} server refused"))
    {
        format!("{finding} (docs/oauth2.md)")
    } else {
        format!(
            "the {server} server refused a fresh OAuth2 token for {user}: {finding} \
             (docs/oauth2.md)"
        )
    }
}

/// Exchange Online's answer to the first command after a token login it accepted but whose
/// identity may not open the mailbox (no FullAccess, IMAP off for it, not yet applied): a
/// refused login in all but name.
pub fn mailbox_refused(error: &anyhow::Error) -> bool {
    format!("{error:#}").contains("authenticated but not connected")
}

/// The server's own words in async-imap's `NO` error (`code: Some(X), info: Some("text")`):
/// `[X] text`, or the text as it came when it has another shape.
pub fn server_words(why: &str) -> String {
    let why = why.trim();
    let Some(rest) = why.strip_prefix("code: ") else {
        return why.to_string();
    };
    let Some((code, info)) = rest.split_once(", info: ") else {
        return why.to_string();
    };
    let text = info
        .strip_prefix("Some(\"")
        .and_then(|t| t.strip_suffix("\")"))
        .map(|t| t.replace("\\\"", "\"").replace("\\\\", "\\"))
        .unwrap_or_default();
    match code.strip_prefix("Some(").and_then(|c| c.strip_suffix(')')) {
        Some(c) if !text.contains('[') => format!("[{c}] {text}").trim().to_string(),
        _ => text,
    }
}

/// lettre's words for an SMTP login refused by an error challenge (a 334 before the 535): it
/// keeps neither the challenge nor the final answer.
pub fn smtp_words(error: &str) -> String {
    if error.contains("does not expect a challenge") {
        error.replace(
            "internal client error: This mechanism does not expect a challenge",
            "the server answered the token with an error challenge (334), a refusal",
        )
    } else {
        error.to_string()
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
            Err(Refusal::Refused(
                client,
                format!("{}{detail}", server_words(&why)),
            ))
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
            Err(e) if is_auth_failure(&e) => Err(SmtpSendError::Refused(refused_token(
                diagnose::Protocol::Smtp,
                user,
                &smtp_words(&e.to_string()),
                tokens.settings(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn async_imaps_debug_shape_becomes_the_servers_words() {
        assert_eq!(
            server_words(
                r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#
            ),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
        assert_eq!(
            server_words(
                r#"code: Some(Alert), info: Some("Your account is not enabled for IMAP use.")"#
            ),
            "[Alert] Your account is not enabled for IMAP use."
        );
        assert_eq!(
            server_words(" AUTHENTICATE failed. "),
            "AUTHENTICATE failed."
        );
    }
}
