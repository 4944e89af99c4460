//! OAuth2 access tokens for the mail servers, from the configured source ([`super::grants`]):
//! cached until shortly before they expire; renewed at once when a server refuses one. Tokens
//! and secrets never reach a log line.

use crate::clock::SharedClock;
use crate::settings::{OAuth2, Secret, TokenSourceKind};
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub use super::grants::GrantRefused;

/// An access token, when klachtd stops using it, and what the provider said it grants.
#[derive(Clone)]
struct Cached {
    token: Secret,
    renew_at: DateTime<Utc>,
    scope: Option<String>,
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
    /// The scopes granted, if the provider says.
    pub scope: Option<String>,
}

/// What the current token says about itself, for `klachtd check` (never the token).
#[derive(Debug, Clone, Default)]
pub struct TokenFacts {
    /// The claims of a JWT-shaped token (Microsoft's); None for an opaque one (Google's).
    pub claims: Option<serde_json::Value>,
    /// The scopes the provider said it granted.
    pub scope: Option<String>,
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

    /// The `[oauth2]` settings it obtains tokens with.
    pub fn settings(&self) -> &OAuth2 {
        &self.settings
    }

    /// A valid access token: the cached one, or a new one.
    pub async fn access_token(&self) -> anyhow::Result<Secret> {
        Ok(self.current().await?.token)
    }

    /// What the current (or a new) token says about itself.
    pub async fn facts(&self) -> anyhow::Result<TokenFacts> {
        let c = self.current().await?;
        Ok(TokenFacts {
            claims: super::jwt::claims(c.token.expose()),
            scope: c.scope,
        })
    }

    async fn current(&self) -> anyhow::Result<Cached> {
        let mut cache = self.cache.lock().await;
        let now = self.clock.now();
        if let Some(c) = cache.as_ref().filter(|c| now < c.renew_at) {
            return Ok(c.clone());
        }
        let fetched = self.fetch(now).await?;
        let renew_at = now + self.lifetime(fetched.expires_in);
        tracing::info!(source = ?self.settings.source, %renew_at, "OAuth2 access token obtained");
        let c = Cached {
            token: fetched.token,
            renew_at,
            scope: fetched.scope,
        };
        *cache = Some(c.clone());
        Ok(c)
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

    async fn fetch(&self, now: DateTime<Utc>) -> anyhow::Result<Fetched> {
        #[cfg(test)]
        if let Some(fake) = &self.fake {
            return fake();
        }
        let settings = self.settings.clone();
        let answer = tokio::task::spawn_blocking(move || super::grants::exchange(&settings, now))
            .await
            .context("the token exchange panicked")??;
        Ok(Fetched {
            token: answer.access_token,
            expires_in: answer.expires_in,
            scope: answer.scope,
        })
    }
}

/// The token source for this configuration, shared by every login in the process (IMAP and
/// SMTP ask for the same token; a rotating refresh token must be exchanged by one at a time).
pub fn shared(settings: &OAuth2) -> Arc<TokenSource> {
    use std::sync::{Mutex, OnceLock};
    type Registry = Mutex<Vec<(String, Arc<TokenSource>)>>;
    static SOURCES: OnceLock<Registry> = OnceLock::new();
    let key = format!(
        "{:?}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        settings.source,
        settings.token_url,
        settings.client_id,
        settings.scopes,
        settings.refresh_token_file,
        settings.token_command,
        settings.private_key_file,
        settings.certificate_file,
        settings.service_account_key_file,
        settings.impersonate,
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
            device_code_url: String::new(),
            authorize_url: String::new(),
            private_key_file: None,
            certificate_file: None,
            service_account_key_file: None,
            impersonate: None,
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
                scope: None,
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
