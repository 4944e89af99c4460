//! The token requests, one function per grant: client credentials with a secret (RFC 6749
//! §4.4) or with a certificate-signed client assertion (RFC 7523 §2.2, Microsoft's certificate
//! credentials), a Google service account's JWT bearer grant (RFC 7523 §2.1, domain-wide
//! delegation), a (rotating) refresh token (§6), the token command, and — for `klachtd oauth2
//! login` — the device authorization grant (RFC 8628) and the authorization code with PKCE
//! (RFC 7636). Blocking (ureq); a refusal becomes a [`GrantRefused`] naming cause and fix.

use super::diagnose;
use super::http::{PostError, TokenAnswer, post_form, token_answer};
use super::jwt;
use crate::settings::{OAuth2, Secret, TokenSourceKind};
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// The provider refused the grant itself (revoked or expired refresh token, wrong client secret,
/// no delegation): retrying cannot help, an administrator has to act. Its text names the cause
/// and the fix ([`diagnose::token_endpoint`]).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GrantRefused(pub String);

/// `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1).
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` (RFC 7523 §2.2).
const CLIENT_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4).
const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// One token exchange for the configured source, as of `now` (assertions carry it).
pub fn exchange(o: &OAuth2, now: DateTime<Utc>) -> anyhow::Result<TokenAnswer> {
    match o.source {
        TokenSourceKind::TokenCommand => {
            run_token_command(o.token_command.as_deref().unwrap_or(""))
        }
        TokenSourceKind::ClientCredentials => {
            let secret = client_secret(o)?
                .context("oauth2.client_secret is required for client_credentials")?;
            let scope = o.scopes.join(" ");
            post(
                o,
                &token_url(o)?,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", o.client_id.trim()),
                    ("client_secret", secret.expose()),
                    ("scope", &scope),
                ],
                None,
            )
        }
        TokenSourceKind::ClientCertificate => {
            let url = token_url(o)?;
            let assertion = client_assertion(o, &url, now)?;
            let scope = o.scopes.join(" ");
            post(
                o,
                &url,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", o.client_id.trim()),
                    ("client_assertion_type", CLIENT_ASSERTION),
                    ("client_assertion", &assertion),
                    ("scope", &scope),
                ],
                None,
            )
        }
        TokenSourceKind::ServiceAccount => {
            let (url, assertion) = service_account_assertion(o, now)?;
            post(
                o,
                &url,
                &[("grant_type", JWT_BEARER), ("assertion", &assertion)],
                None,
            )
        }
        TokenSourceKind::RefreshToken => refresh(o),
    }
}

fn token_url(o: &OAuth2) -> anyhow::Result<String> {
    let url = o.token_url.trim();
    anyhow::ensure!(!url.is_empty(), "oauth2.token_url is not set");
    Ok(url.to_string())
}

fn client_secret(o: &OAuth2) -> anyhow::Result<Option<Secret>> {
    o.client_secret_source()
        .resolve_as("oauth2", "client_secret")
}

/// POSTs one token request; a refusal is explained, never quoting a secret.
fn post(
    o: &OAuth2,
    url: &str,
    form: &[(&str, &str)],
    refresh_file: Option<&Path>,
) -> anyhow::Result<TokenAnswer> {
    post_form(url, form)
        .and_then(|v| token_answer(&v))
        .map_err(|e| refused(e, o, url, refresh_file))
}

/// Turns a failed request into an error an administrator can act on.
pub fn refused(e: PostError, o: &OAuth2, url: &str, refresh_file: Option<&Path>) -> anyhow::Error {
    match e {
        PostError::Provider(p) => {
            GrantRefused(diagnose::token_endpoint(&p, o, refresh_file).to_string()).into()
        }
        PostError::Unreachable(why) => {
            anyhow::anyhow!("cannot reach the token endpoint {url}: {why}")
        }
        PostError::Unreadable(why) => {
            anyhow::anyhow!("the token endpoint {url} gave an unreadable answer: {why}")
        }
    }
}

fn refresh(o: &OAuth2) -> anyhow::Result<TokenAnswer> {
    let file = o
        .refresh_token_file
        .clone()
        .context("oauth2.refresh_token_file is required for refresh_token")?;
    let stored = read_refresh_token(&file)?;
    let secret = client_secret(o)?;
    let scope = o.scopes.join(" ");
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", o.client_id.trim()),
        ("refresh_token", stored.as_str()),
    ];
    if let Some(s) = &secret {
        form.push(("client_secret", s.expose()));
    }
    if !scope.is_empty() {
        form.push(("scope", &scope));
    }
    let answer = post(o, &token_url(o)?, &form, Some(&file))?;
    if let Some(new) = &answer.refresh_token
        && new.expose() != stored
    {
        store_refresh_token(&file, new).with_context(|| {
            format!(
                "the provider rotated the refresh token, but it cannot be saved in {} \
                 (oauth2.refresh_token_file must be writable)",
                file.display()
            )
        })?;
        tracing::info!(file = %file.display(), "OAuth2 refresh token rotated");
    }
    Ok(answer)
}

/// Writes a refresh token, owner-only, replacing the file atomically. Run as root (a `klachtd
/// check` or `oauth2 login` without `sudo -u klachtd`), the file keeps the owner it had — or
/// gets its directory's — so the daemon's user can still read and rotate it.
pub fn store_refresh_token(file: &Path, token: &Secret) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let keep = std::fs::metadata(file)
        .or_else(|_| std::fs::metadata(file.parent().unwrap_or(Path::new("."))))
        .ok()
        .map(|m| (m.uid(), m.gid()));
    crate::fsutil::write_private_atomic(file, format!("{}\n", token.expose()).as_bytes())
        .with_context(|| format!("cannot write {}", file.display()))?;
    if let Some((uid, gid)) = keep
        && uid != 0
        && rustix::process::geteuid().is_root()
    {
        std::os::unix::fs::chown(file, Some(uid), Some(gid))
            .with_context(|| format!("cannot give {} back to uid {uid}", file.display()))?;
    }
    Ok(())
}

fn read_refresh_token(file: &PathBuf) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(file).with_context(|| {
        format!(
            "oauth2.refresh_token_file: cannot read {} (run `klachtd oauth2 login` to obtain \
             the refresh token)",
            file.display()
        )
    })?;
    let token = text.trim().to_string();
    anyhow::ensure!(
        !token.is_empty(),
        "oauth2.refresh_token_file {} is empty: run `klachtd oauth2 login`",
        file.display()
    );
    Ok(token)
}

/// The key and certificate of a `client_certificate` source, read and matched.
pub fn certificate_credentials(o: &OAuth2) -> anyhow::Result<(jwt::RsaKey, jwt::Certificate)> {
    let key_file = o
        .private_key_file
        .as_deref()
        .context("oauth2.private_key_file is required for client_certificate")?;
    let cert_file = o
        .certificate_file
        .as_deref()
        .context("oauth2.certificate_file is required for client_certificate")?;
    let key = jwt::RsaKey::from_pem(&read(key_file, "oauth2.private_key_file")?)
        .with_context(|| format!("oauth2.private_key_file {}", key_file.display()))?;
    let cert = jwt::Certificate::from_pem(&read(cert_file, "oauth2.certificate_file")?)
        .with_context(|| format!("oauth2.certificate_file {}", cert_file.display()))?;
    anyhow::ensure!(
        cert.belongs_to(&key),
        "oauth2.private_key_file {} is not the key of oauth2.certificate_file {} (SHA-1 \
         thumbprint {}): give the key the certificate was made with",
        key_file.display(),
        cert_file.display(),
        cert.sha1_hex()
    );
    Ok((key, cert))
}

fn read(path: &Path, key: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{key}: cannot read {}", path.display()))
}

/// Microsoft's client assertion: PS256, `x5t#S256` of the registered certificate; `aud` the
/// token endpoint, `iss` = `sub` = the client id, valid ten minutes from `now`.
/// (learn.microsoft.com/entra/identity-platform/certificate-credentials)
pub fn client_assertion(o: &OAuth2, url: &str, now: DateTime<Utc>) -> anyhow::Result<String> {
    let (key, cert) = certificate_credentials(o)?;
    let mut header = serde_json::Map::new();
    header.insert("x5t#S256".into(), cert.x5t_s256().into());
    let t = now.timestamp();
    let claims = serde_json::json!({
        "aud": url,
        "iss": o.client_id.trim(),
        "sub": o.client_id.trim(),
        "jti": jwt::random_id(16),
        "nbf": t,
        "iat": t,
        "exp": t + 600,
    });
    jwt::sign(jwt::Alg::Ps256, header, &claims, &key)
}

/// A Google service account's assertion (RS256): `iss` the account, `sub` the mailbox it acts
/// as, the scopes, `aud` the token endpoint, valid one hour from `now` (Google's maximum).
/// Returns the endpoint too: `token_url` if set, else the key file's `token_uri`.
/// (developers.google.com/identity/protocols/oauth2/service-account)
pub fn service_account_assertion(
    o: &OAuth2,
    now: DateTime<Utc>,
) -> anyhow::Result<(String, String)> {
    let file = o
        .service_account_key_file
        .as_deref()
        .context("oauth2.service_account_key_file is required for service_account")?;
    let text =
        String::from_utf8(read(file, "oauth2.service_account_key_file")?).with_context(|| {
            format!(
                "oauth2.service_account_key_file {} is not text",
                file.display()
            )
        })?;
    let sa = jwt::ServiceAccountKey::from_json(&text)
        .with_context(|| format!("oauth2.service_account_key_file {}", file.display()))?;
    let url = match o.token_url.trim() {
        "" => sa
            .token_uri
            .clone()
            .unwrap_or_else(|| "https://oauth2.googleapis.com/token".into()),
        set => set.to_string(),
    };
    let subject = o
        .impersonate
        .as_deref()
        .context("oauth2.impersonate: the mailbox the service account acts as")?;
    let mut header = serde_json::Map::new();
    if let Some(kid) = &sa.private_key_id {
        header.insert("kid".into(), kid.clone().into());
    }
    let t = now.timestamp();
    let claims = serde_json::json!({
        "iss": sa.client_email,
        "sub": subject,
        "scope": o.scopes.join(" "),
        "aud": url,
        "iat": t,
        "exp": t + 3600,
    });
    Ok((url, jwt::sign(jwt::Alg::Rs256, header, &claims, &sa.key)?))
}

/// Runs `token_command`; its first line is the token.
pub fn run_token_command(command: &str) -> anyhow::Result<TokenAnswer> {
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
    Ok(TokenAnswer {
        access_token: Secret::new(token),
        expires_in: None,
        refresh_token: None,
        scope: None,
        id_token: None,
    })
}

/// What the device authorization endpoint hands out (RFC 8628 §3.2).
#[derive(Debug, Clone)]
pub struct DeviceCode {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in: u64,
    pub interval: u64,
}

/// Asks `url` for a device code for the configured client and scopes.
pub fn device_code(o: &OAuth2, url: &str) -> anyhow::Result<DeviceCode> {
    let scope = o.scopes.join(" ");
    let v = post_form(url, &[("client_id", o.client_id.trim()), ("scope", &scope)])
        .map_err(|e| refused(e, o, url, None))?;
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let number = |k: &str| {
        v.get(k).and_then(|x| {
            x.as_u64()
                .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
        })
    };
    Ok(DeviceCode {
        device_code: Secret::new(text("device_code").context("the answer has no device_code")?),
        user_code: text("user_code").context("the answer has no user_code")?,
        verification_uri: text("verification_uri")
            .or_else(|| text("verification_url"))
            .context("the answer has no verification_uri")?,
        expires_in: number("expires_in").unwrap_or(900),
        // RFC 8628 §3.2: 5 seconds when the server names none.
        interval: number("interval").unwrap_or(5),
    })
}

/// One poll of the token endpoint for a device code.
pub enum Poll {
    Token(TokenAnswer),
    /// `authorization_pending`: ask again after the interval.
    Pending,
    /// `slow_down`: ask again after a longer interval (RFC 8628 §3.5: +5 s).
    SlowDown,
}

pub fn poll_device_code(o: &OAuth2, code: &DeviceCode) -> anyhow::Result<Poll> {
    let url = token_url(o)?;
    match post_form(
        &url,
        &[
            ("grant_type", DEVICE_CODE),
            ("client_id", o.client_id.trim()),
            ("device_code", code.device_code.expose()),
        ],
    )
    .and_then(|v| token_answer(&v))
    {
        Ok(t) => Ok(Poll::Token(t)),
        Err(PostError::Provider(p)) if p.error == "authorization_pending" => Ok(Poll::Pending),
        Err(PostError::Provider(p)) if p.error == "slow_down" => Ok(Poll::SlowDown),
        Err(e) => Err(refused(e, o, &url, None)),
    }
}

/// Redeems an authorization code (with its PKCE verifier) for tokens.
pub fn authorization_code(
    o: &OAuth2,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> anyhow::Result<TokenAnswer> {
    let url = token_url(o)?;
    let secret = client_secret(o)?;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", o.client_id.trim()),
        ("code", code),
        ("code_verifier", verifier),
        ("redirect_uri", redirect_uri),
    ];
    if let Some(s) = &secret {
        form.push(("client_secret", s.expose()));
    }
    post(o, &url, &form, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `klachtd oauth2 login` or `check` run as root leaves the refresh token to the user the
    /// file (or its directory) belongs to, so the daemon can still read and rotate it.
    #[test]
    fn a_refresh_token_written_as_root_keeps_its_owner() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let root = rustix::process::geteuid().is_root();
        if root {
            std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
        }
        let file = dir.path().join("oauth2-refresh-token");
        store_refresh_token(&file, &Secret::new("rt-1")).unwrap();
        let me = rustix::process::geteuid().as_raw();
        let owner = |f: &Path| std::fs::metadata(f).unwrap().uid();
        assert_eq!(owner(&file), if root { 65534 } else { me });
        store_refresh_token(&file, &Secret::new("rt-2")).unwrap();
        assert_eq!(owner(&file), if root { 65534 } else { me });
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "rt-2\n");
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn the_token_command_prints_the_token() {
        let f = run_token_command("printf 'abc.def\\nignored\\n'").unwrap();
        assert_eq!(f.access_token.expose(), "abc.def");
        let err = run_token_command("echo oops >&2; exit 3").err().unwrap();
        assert!(format!("{err:#}").contains("oops"), "{err:#}");
        assert!(run_token_command("true").is_err());
    }

    #[test]
    fn an_unreachable_token_endpoint_names_it() {
        let mut o = crate::settings::Settings::load_with_env(None, Vec::new())
            .unwrap()
            .oauth2;
        o.token_url = "http://127.0.0.1:9/token".into();
        o.client_id = "c".into();
        o.client_secret = Some(Secret::new("s3cr3t-value"));
        let err = format!(
            "{:#}",
            exchange(&o, "2026-12-01T09:00:00Z".parse().unwrap())
                .err()
                .unwrap()
        );
        assert!(
            err.contains("cannot reach the token endpoint http://127.0.0.1:9/token"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t-value"));
    }
}
