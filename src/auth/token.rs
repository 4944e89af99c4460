//! OAuth2 access tokens for the mail servers: obtained by a client-credentials grant, a
//! (rotating) refresh token, or a command; cached until shortly before they expire; renewed at
//! once when a server refuses one. Tokens and secrets never reach a log line.

use crate::clock::SharedClock;
use crate::settings::{OAuth2, Secret, TokenSourceKind};
use anyhow::Context;
use chrono::{DateTime, Utc};
use oauth2::basic::{BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, RefreshToken, RequestTokenError, Scope,
    StandardErrorResponse, TokenResponse, TokenUrl,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The provider refused the grant itself (revoked or expired refresh token, wrong client secret):
/// retrying cannot help, an administrator has to act.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GrantRefused(pub String);

/// An access token and when klachtd stops using it.
#[derive(Clone)]
struct Cached {
    token: Secret,
    renew_at: DateTime<Utc>,
}

/// One configured token source with its cache. Shared by the IMAP and SMTP logins.
pub struct TokenSource {
    settings: OAuth2,
    /// Token lifetimes run in real time, also when klachtd acts `--now` another moment:
    /// production passes the system clock here, tests a fixed one.
    clock: SharedClock,
    /// Held across a renewal, so two logins never exchange the same (rotating) refresh token.
    cache: tokio::sync::Mutex<Option<Cached>>,
    #[cfg(test)]
    fake: Option<Box<dyn Fn() -> anyhow::Result<Fetched> + Send + Sync>>,
}

/// What one exchange produced.
pub struct Fetched {
    pub token: Secret,
    /// Seconds the provider says the token lives, if it says.
    pub expires_in: Option<u64>,
}

impl TokenSource {
    pub fn new(settings: OAuth2, clock: SharedClock) -> TokenSource {
        TokenSource {
            settings,
            clock,
            cache: tokio::sync::Mutex::new(None),
            #[cfg(test)]
            fake: None,
        }
    }

    /// A valid access token: the cached one, or a new one.
    pub async fn access_token(&self) -> anyhow::Result<Secret> {
        let mut cache = self.cache.lock().await;
        let now = self.clock.now();
        if let Some(c) = cache.as_ref().filter(|c| now < c.renew_at) {
            return Ok(c.token.clone());
        }
        let fetched = self.fetch().await?;
        let renew_at = now + self.lifetime(fetched.expires_in);
        tracing::info!(source = ?self.settings.source, %renew_at, "OAuth2 access token obtained");
        *cache = Some(Cached {
            token: fetched.token.clone(),
            renew_at,
        });
        Ok(fetched.token)
    }

    /// Forgets the cached token (a server refused it), so the next call obtains a new one.
    pub async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }

    /// How long a token with this lifetime is used: until `refresh_before_seconds` before it
    /// expires, but at least half its life (quickly expiring tokens are still used at all).
    fn lifetime(&self, expires_in: Option<u64>) -> chrono::Duration {
        let secs = match (self.settings.source, expires_in) {
            (TokenSourceKind::TokenCommand, _) => self.settings.token_command_cache_seconds,
            (_, Some(life)) => life
                .saturating_sub(self.settings.refresh_before_seconds)
                .max(life / 2),
            (_, None) => 300,
        };
        chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 2_000))
    }

    async fn fetch(&self) -> anyhow::Result<Fetched> {
        #[cfg(test)]
        if let Some(fake) = &self.fake {
            return fake();
        }
        let settings = self.settings.clone();
        tokio::task::spawn_blocking(move || exchange(&settings))
            .await
            .context("the token exchange panicked")?
    }
}

/// One token exchange (blocking: HTTP through ureq, or the token command).
fn exchange(o: &OAuth2) -> anyhow::Result<Fetched> {
    match o.source {
        TokenSourceKind::TokenCommand => {
            run_token_command(o.token_command.as_deref().unwrap_or(""))
        }
        TokenSourceKind::ClientCredentials => {
            let secret = o
                .client_secret_source()
                .resolve_as("oauth2", "client_secret")?
                .context("oauth2.client_secret is required for client_credentials")?;
            let client = oauth2::basic::BasicClient::new(ClientId::new(o.client_id.clone()))
                .set_client_secret(ClientSecret::new(secret.expose().to_string()))
                .set_auth_type(AuthType::RequestBody)
                .set_token_uri(token_url(o)?);
            let response = client
                .exchange_client_credentials()
                .add_scopes(o.scopes.iter().cloned().map(Scope::new))
                .request(&http_client);
            Ok(fetched(response.map_err(|e| explain(e, o, None))?))
        }
        TokenSourceKind::RefreshToken => {
            let file = o
                .refresh_token_file
                .clone()
                .context("oauth2.refresh_token_file is required for refresh_token")?;
            let stored = read_refresh_token(&file)?;
            let mut client = oauth2::basic::BasicClient::new(ClientId::new(o.client_id.clone()))
                .set_auth_type(AuthType::RequestBody)
                .set_token_uri(token_url(o)?);
            if let Some(secret) = o
                .client_secret_source()
                .resolve_as("oauth2", "client_secret")?
            {
                client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
            }
            let refresh = RefreshToken::new(stored);
            let response = client
                .exchange_refresh_token(&refresh)
                .add_scopes(o.scopes.iter().cloned().map(Scope::new))
                .request(&http_client)
                .map_err(|e| explain(e, o, Some(&file)))?;
            if let Some(new) = response.refresh_token()
                && new.secret() != refresh.secret()
            {
                crate::fsutil::write_private_atomic(&file, new.secret().as_bytes()).with_context(
                    || {
                        format!(
                            "the provider rotated the refresh token, but it cannot be saved in \
                             {} (oauth2.refresh_token_file must be writable)",
                            file.display()
                        )
                    },
                )?;
                tracing::info!(file = %file.display(), "OAuth2 refresh token rotated");
            }
            Ok(fetched(response))
        }
    }
}

fn token_url(o: &OAuth2) -> anyhow::Result<TokenUrl> {
    TokenUrl::new(o.token_url.trim().to_string())
        .with_context(|| format!("oauth2.token_url is not a URL: {}", o.token_url))
}

fn fetched(response: BasicTokenResponse) -> Fetched {
    Fetched {
        token: Secret::new(response.access_token().secret().clone()),
        expires_in: response.expires_in().map(|d| d.as_secs()),
    }
}

fn read_refresh_token(file: &PathBuf) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(file).with_context(|| {
        format!(
            "oauth2.refresh_token_file: cannot read {} (put the refresh token there, mode 0600)",
            file.display()
        )
    })?;
    let token = text.trim().to_string();
    anyhow::ensure!(
        !token.is_empty(),
        "oauth2.refresh_token_file {} is empty: put the refresh token there",
        file.display()
    );
    Ok(token)
}

/// Turns an exchange error into one an administrator can act on, naming no secret.
fn explain(
    e: RequestTokenError<
        oauth2::HttpClientError<ureq::Error>,
        StandardErrorResponse<BasicErrorResponseType>,
    >,
    o: &OAuth2,
    refresh_file: Option<&PathBuf>,
) -> anyhow::Error {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let code = r.error().as_ref().to_string();
            let detail = r
                .error_description()
                .map(|d| format!(": {}", d.lines().next().unwrap_or_default()))
                .unwrap_or_default();
            let what = match (r.error(), refresh_file) {
                (BasicErrorResponseType::InvalidGrant, Some(file)) => format!(
                    "the provider refused the refresh token in {} ({code}{detail}): it was \
                     revoked or has expired. Obtain a new one and put it in that file \
                     (docs/oauth2.md)",
                    file.display()
                ),
                (BasicErrorResponseType::InvalidClient, _)
                | (BasicErrorResponseType::UnauthorizedClient, _) => format!(
                    "the provider refused oauth2.client_id {} or its secret ({code}{detail}): \
                     check the app registration and oauth2.client_secret",
                    o.client_id
                ),
                _ => format!("the token endpoint refused the request ({code}{detail})"),
            };
            GrantRefused(what).into()
        }
        RequestTokenError::Request(e) => {
            let why = match e {
                oauth2::HttpClientError::Reqwest(inner) => inner.to_string(),
                other => other.to_string(),
            };
            anyhow::anyhow!("cannot reach the token endpoint {}: {why}", o.token_url)
        }
        RequestTokenError::Parse(e, _) => {
            anyhow::anyhow!(
                "the token endpoint {} gave an unreadable answer: {e}",
                o.token_url
            )
        }
        RequestTokenError::Other(e) => {
            anyhow::anyhow!("the token endpoint {}: {e}", o.token_url)
        }
    }
}

/// oauth2's HTTP client: ureq (rustls with ring), where an error status is an answer to read
/// (ureq 2 would turn the provider's `400 invalid_grant` into a bare transport error).
fn http_client(
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, oauth2::HttpClientError<ureq::Error>> {
    use oauth2::HttpClientError;
    use oauth2::http::{self, header::CONTENT_TYPE};
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .redirects(0)
        .build();
    let mut req = agent.request(request.method().as_str(), &request.uri().to_string());
    for (name, value) in request.headers() {
        let value = value
            .to_str()
            .map_err(|_| HttpClientError::Other(format!("header {name} is not text")))?;
        req = req.set(name.as_str(), value);
    }
    let response = match req.send_bytes(request.body()) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(HttpClientError::Reqwest(Box::new(e))),
    };
    let mut builder = http::Response::builder().status(response.status());
    if let Some(ct) = response.header(CONTENT_TYPE.as_str()) {
        builder = builder.header(CONTENT_TYPE, ct);
    }
    let mut body = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(response.into_reader(), 1 << 20),
        &mut body,
    )?;
    builder.body(body).map_err(HttpClientError::Http)
}

/// Runs `token_command`; its first line is the token.
fn run_token_command(command: &str) -> anyhow::Result<Fetched> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .output()
        .context("oauth2.token_command: cannot run it")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        anyhow::bail!(
            "oauth2.token_command exited with {}: {}",
            out.status,
            err.lines().next().unwrap_or_default()
        );
    }
    let text =
        String::from_utf8(out.stdout).context("oauth2.token_command: output is not UTF-8")?;
    let token = text.lines().next().unwrap_or_default().trim().to_string();
    anyhow::ensure!(!token.is_empty(), "oauth2.token_command printed no token");
    Ok(Fetched {
        token: Secret::new(token),
        expires_in: None,
    })
}

/// The token source for this configuration, shared by every login in the process (IMAP and
/// SMTP ask for the same token; a rotating refresh token must be exchanged by one at a time).
pub fn shared(settings: &OAuth2) -> Arc<TokenSource> {
    use std::sync::{Mutex, OnceLock};
    type Registry = Mutex<Vec<(String, Arc<TokenSource>)>>;
    static SOURCES: OnceLock<Registry> = OnceLock::new();
    let key = format!(
        "{:?}|{}|{}|{:?}|{:?}|{:?}",
        settings.source,
        settings.token_url,
        settings.client_id,
        settings.scopes,
        settings.refresh_token_file,
        settings.token_command
    );
    let mut all = SOURCES
        .get_or_init(Mutex::default)
        .lock()
        .expect("token sources");
    if let Some((_, s)) = all.iter().find(|(k, _)| *k == key) {
        return Arc::clone(s);
    }
    let source = Arc::new(TokenSource::new(
        settings.clone(),
        Arc::new(crate::clock::SystemClock),
    ));
    all.push((key, Arc::clone(&source)));
    source
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::settings::SaslMechanism;
    use proptest::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn settings(source: TokenSourceKind) -> OAuth2 {
        OAuth2 {
            source,
            mechanism: SaslMechanism::Xoauth2,
            token_url: "http://127.0.0.1:9/token".into(),
            client_id: "c".into(),
            client_secret: None,
            client_secret_file: None,
            client_secret_command: None,
            scopes: vec![],
            refresh_token_file: None,
            token_command: None,
            refresh_before_seconds: 300,
            token_command_cache_seconds: 300,
        }
    }

    fn counting(
        source: TokenSourceKind,
        expires_in: Option<u64>,
    ) -> (TokenSource, FixedClock, Arc<AtomicUsize>) {
        let clock = FixedClock::at("2026-12-01T09:00:00Z".parse().unwrap());
        let calls = Arc::new(AtomicUsize::new(0));
        let mut s = TokenSource::new(settings(source), Arc::new(clock.clone()));
        let c = Arc::clone(&calls);
        s.fake = Some(Box::new(move || {
            let n = c.fetch_add(1, Ordering::SeqCst);
            Ok(Fetched {
                token: Secret::new(format!("token-{n}")),
                expires_in,
            })
        }));
        (s, clock, calls)
    }

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_token_is_reused_until_shortly_before_it_expires() {
        let (s, clock, calls) = counting(TokenSourceKind::ClientCredentials, Some(3600));
        block(async {
            assert_eq!(s.access_token().await.unwrap().expose(), "token-0");
            clock.advance(chrono::Duration::seconds(3299));
            assert_eq!(s.access_token().await.unwrap().expose(), "token-0");
            clock.advance(chrono::Duration::seconds(1));
            assert_eq!(s.access_token().await.unwrap().expose(), "token-1");
        });
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_refused_token_is_replaced_at_once() {
        let (s, _clock, calls) = counting(TokenSourceKind::RefreshToken, Some(3600));
        block(async {
            s.access_token().await.unwrap();
            s.invalidate().await;
            assert_eq!(s.access_token().await.unwrap().expose(), "token-1");
        });
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_token_command_prints_the_token() {
        let f = run_token_command("printf 'abc.def\\nignored\\n'").unwrap();
        assert_eq!(f.token.expose(), "abc.def");
        let err = run_token_command("echo oops >&2; exit 3").err().unwrap();
        assert!(format!("{err:#}").contains("oops"), "{err:#}");
        assert!(run_token_command("true").is_err());
    }

    #[test]
    fn an_unreachable_token_endpoint_names_it() {
        let mut o = settings(TokenSourceKind::ClientCredentials);
        o.client_secret = Some(Secret::new("s3cr3t-value"));
        let err = format!("{:#}", exchange(&o).err().unwrap());
        assert!(
            err.contains("cannot reach the token endpoint http://127.0.0.1:9/token"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t-value"));
    }

    proptest! {
        /// Whatever lifetime the provider gives, the token is used for at least half of it and
        /// never past `refresh_before_seconds` before its end (when it lives longer than twice that).
        #[test]
        fn renewal_falls_inside_the_lifetime(life in 1u64..200_000, margin in 10u64..3000) {
            let mut o = settings(TokenSourceKind::ClientCredentials);
            o.refresh_before_seconds = margin;
            let s = TokenSource::new(o, Arc::new(FixedClock::at(DateTime::<Utc>::MIN_UTC)));
            let used = s.lifetime(Some(life)).num_seconds() as u64;
            prop_assert!(used <= life);
            prop_assert!(used >= life / 2);
            if life >= 2 * margin {
                prop_assert_eq!(used, life - margin);
            }
        }
    }
}
