//! Signed JWTs for the two assertion grants — RS256 for a Google service account (RFC 7523),
//! PS256 with the certificate's `x5t#S256` for a Microsoft client assertion — signed with ring;
//! the RSA key and certificate read from PEM with rustls-pki-types; and a JWT's claims read
//! (not verified) to say what an access token is for.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::RsaKeyPair;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// An RSA private key that signs assertions.
pub struct RsaKey(RsaKeyPair);

impl RsaKey {
    /// From PEM: `BEGIN PRIVATE KEY` (PKCS#8) or `BEGIN RSA PRIVATE KEY` (PKCS#1). What the
    /// error says never quotes the key.
    pub fn from_pem(pem: &[u8]) -> anyhow::Result<RsaKey> {
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|_| {
            anyhow::anyhow!("holds no PEM private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)")
        })?;
        let pair = match &der {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            PrivateKeyDer::Sec1(_) => anyhow::bail!(
                "holds an EC key; Microsoft certificate credentials and Google service accounts \
                 here take an RSA key (2048 bits or more)"
            ),
            _ => anyhow::bail!("holds a key of a kind klachtd cannot use (an RSA key is needed)"),
        };
        pair.map(RsaKey)
            .map_err(|e| anyhow::anyhow!("holds a key ring refuses as an RSA key: {e}"))
    }

    /// The public key (DER RSAPublicKey), as it appears inside a certificate.
    fn public_der(&self) -> &[u8] {
        self.0.public().as_ref()
    }

    fn sign(&self, alg: Alg, msg: &[u8]) -> anyhow::Result<Vec<u8>> {
        let rng = ring::rand::SystemRandom::new();
        let mut sig = vec![0; self.0.public().modulus_len()];
        let padding: &'static dyn ring::signature::RsaEncoding = match alg {
            Alg::Rs256 => &ring::signature::RSA_PKCS1_SHA256,
            Alg::Ps256 => &ring::signature::RSA_PSS_SHA256,
        };
        self.0
            .sign(padding, &rng, msg, &mut sig)
            .map_err(|_| anyhow::anyhow!("signing the assertion failed"))?;
        Ok(sig)
    }
}

/// A certificate registered with an app (only its DER and thumbprints are needed).
pub struct Certificate(Vec<u8>);

impl Certificate {
    /// The first `BEGIN CERTIFICATE` block of a PEM file.
    pub fn from_pem(pem: &[u8]) -> anyhow::Result<Certificate> {
        let der = CertificateDer::from_pem_slice(pem)
            .map_err(|_| anyhow::anyhow!("holds no PEM certificate (BEGIN CERTIFICATE)"))?;
        Ok(Certificate(der.as_ref().to_vec()))
    }

    /// The SHA-1 thumbprint in upper-case hex: what the Entra admin center lists under
    /// Certificates & secrets.
    pub fn sha1_hex(&self) -> String {
        hex(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.0).as_ref())
    }

    /// `x5t#S256`: base64url of the SHA-256 of the DER.
    pub fn x5t_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &self.0))
    }

    /// Whether `key` is this certificate's private key: the certificate holds the key's public
    /// half (DER RSAPublicKey inside its SubjectPublicKeyInfo).
    pub fn belongs_to(&self, key: &RsaKey) -> bool {
        let public = key.public_der();
        !public.is_empty() && self.0.windows(public.len()).any(|w| w == public)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The two signature algorithms used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256: Google service accounts.
    Rs256,
    /// RSASSA-PSS with SHA-256: Microsoft's current certificate credential format.
    Ps256,
}

impl Alg {
    fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Ps256 => "PS256",
        }
    }
}

/// `header.claims.signature`, each part base64url; `alg` and `typ` are set here.
pub fn sign(
    alg: Alg,
    mut header: serde_json::Map<String, serde_json::Value>,
    claims: &serde_json::Value,
    key: &RsaKey,
) -> anyhow::Result<String> {
    header.insert("alg".into(), alg.name().into());
    header.insert("typ".into(), "JWT".into());
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
    );
    let sig = key.sign(alg, input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// The claims of a JWT-shaped token, unverified — only to tell the administrator what a token
/// says it is for (Microsoft's access tokens for Exchange are JWTs; Google's are opaque: None).
pub fn claims(token: &str) -> Option<serde_json::Value> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .filter(|v| v.is_object())
}

/// A random identifier (a JWT's `jti`, a PKCE verifier, an OAuth `state`): `bytes` random bytes,
/// base64url.
pub fn random_id(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut buf)
        .expect("the system's random source");
    URL_SAFE_NO_PAD.encode(buf)
}

/// A Google service account's JSON key file: the fields klachtd uses.
pub struct ServiceAccountKey {
    pub client_email: String,
    pub private_key_id: Option<String>,
    pub token_uri: Option<String>,
    pub key: RsaKey,
}

impl ServiceAccountKey {
    /// Parses the JSON Google hands out (`"type": "service_account"`).
    pub fn from_json(text: &str) -> anyhow::Result<ServiceAccountKey> {
        let v: serde_json::Value =
            serde_json::from_str(text).context("is not JSON (the key file Google hands out)")?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        if let Some(kind) = field("type")
            && kind != "service_account"
        {
            anyhow::bail!(
                "is a key of type \"{kind}\", not a service account key (\"type\": \
                 \"service_account\"); an OAuth client's JSON belongs with source = \
                 \"refresh_token\""
            );
        }
        let client_email = field("client_email").context("has no client_email")?;
        let pem = field("private_key").context("has no private_key")?;
        let key = RsaKey::from_pem(pem.as_bytes()).context("its private_key")?;
        Ok(ServiceAccountKey {
            client_email,
            private_key_id: field("private_key_id"),
            token_uri: field("token_uri"),
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_read_from_the_middle_part_only_when_it_is_json() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"tid":"t","roles":["IMAP.AccessAsApp"]}"#);
        let token = format!("eyJhbGciOiJub25lIn0.{payload}.sig");
        let c = claims(&token).unwrap();
        assert_eq!(c["tid"], "t");
        assert!(claims("at-opaque-token").is_none());
        assert!(claims("a.b.c.d").is_none());
        assert!(claims("a.bm90IGpzb24.c").is_none());
    }

    #[test]
    fn a_key_file_of_another_kind_is_named() {
        let err = ServiceAccountKey::from_json(r#"{"type":"authorized_user"}"#)
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("not a service account key"));
        assert!(ServiceAccountKey::from_json("not json").is_err());
        let err =
            RsaKey::from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .err()
                .unwrap();
        assert!(err.to_string().contains("no PEM private key"), "{err}");
    }
}
