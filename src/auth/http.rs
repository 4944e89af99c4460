//! The token endpoints' HTTP: one form POST (RFC 6749 §3.2) over ureq with rustls, and the
//! provider's answer read as a token response or as its whole error payload — Microsoft's
//! `error_codes` and `suberror` included, which name the cause (`AADSTS50194`, `consent_required`).

use crate::settings::Secret;
use std::time::Duration;

/// An error answer of the provider (RFC 6749 §5.2, with Microsoft's and Google's extra fields).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProviderError {
    pub status: u16,
    /// `invalid_grant`, `invalid_client`, `authorization_pending`, …
    pub error: String,
    /// The first line of `error_description` (Microsoft's further lines are trace ids).
    pub description: String,
    /// Microsoft's `error_codes` (the AADSTS numbers).
    pub codes: Vec<u64>,
    /// Microsoft's `suberror` (`consent_required`, `bad_token`, …).
    pub suberror: Option<String>,
}

impl ProviderError {
    /// The AADSTS number: from `error_codes`, or from the description's `AADSTS12345:` prefix.
    pub fn aadsts(&self) -> Option<u64> {
        if let Some(code) = self.codes.first() {
            return Some(*code);
        }
        let rest = self.description.split("AADSTS").nth(1)?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    }

    /// `invalid_grant: AADSTS70000: …` — what the provider said, for a message.
    pub fn said(&self) -> String {
        if self.description.is_empty() {
            self.error.clone()
        } else {
            format!("{}: {}", self.error, self.description)
        }
    }

    fn from_json(status: u16, v: &serde_json::Value) -> Option<ProviderError> {
        let error = v.get("error")?.as_str()?.to_string();
        let description = v
            .get("error_description")
            .and_then(|d| d.as_str())
            .map(|d| d.lines().next().unwrap_or_default().trim().to_string())
            .unwrap_or_default();
        let codes = v
            .get("error_codes")
            .and_then(|c| c.as_array())
            .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
            .unwrap_or_default();
        let suberror = v
            .get("suberror")
            .and_then(|s| s.as_str())
            .map(str::to_string);
        Some(ProviderError {
            status,
            error,
            description,
            codes,
            suberror,
        })
    }
}

/// Why a POST to a token endpoint gave no usable answer.
#[derive(Debug)]
pub enum PostError {
    /// No HTTP answer at all (DNS, TCP, TLS, timeout).
    Unreachable(String),
    /// An answer that is neither a token nor an OAuth2 error (an HTML page, a proxy's error).
    Unreadable(String),
    /// The provider's error payload.
    Provider(ProviderError),
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone)]
pub struct TokenAnswer {
    pub access_token: Secret,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<Secret>,
    /// The scopes granted, space-separated, when the provider says.
    pub scope: Option<String>,
    /// An OpenID id_token, when the provider sent one (its claims name the account).
    pub id_token: Option<String>,
}

impl std::fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAnswer")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// `application/x-www-form-urlencoded` (the WHATWG serializer: `*-._` and alphanumerics kept,
/// space as `+`, every other byte percent-encoded).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_into(&mut out, k);
        out.push('=');
        encode_into(&mut out, v);
    }
    out
}

fn encode_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

/// Decodes one form or query value (`+` is a space, `%XX` a byte); None when not UTF-8.
pub fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The pairs of a query string or form body.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((form_decode(k)?, form_decode(v)?))
        })
        .collect()
}

/// POSTs `form` to `url` and reads the JSON answer: Ok for a 2xx JSON object, the provider's
/// error payload for an OAuth2 error, else why the answer is unusable. Never follows redirects.
pub fn post_form(url: &str, form: &[(&str, &str)]) -> Result<serde_json::Value, PostError> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .redirects(0)
        .build();
    let response = match agent
        .post(url)
        .set("Content-Type", "application/x-www-form-urlencoded")
        .set("Accept", "application/json")
        .send_string(&form_encode(form))
    {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(PostError::Unreachable(e.to_string())),
    };
    let status = response.status();
    let mut body = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(response.into_reader(), 1 << 20),
        &mut body,
    )
    .map_err(|e| PostError::Unreachable(format!("reading the answer: {e}")))?;
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    match json {
        Some(v) if (200..300).contains(&status) && v.is_object() => Ok(v),
        Some(v) => Err(ProviderError::from_json(status, &v)
            .map(PostError::Provider)
            .unwrap_or_else(|| PostError::Unreadable(format!("HTTP {status} without an error")))),
        None => Err(PostError::Unreadable(format!(
            "HTTP {status}, not JSON: {}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
                .lines()
                .next()
                .unwrap_or_default()
        ))),
    }
}

/// Reads a token response; an answer without `access_token` is unreadable.
pub fn token_answer(v: &serde_json::Value) -> Result<TokenAnswer, PostError> {
    let access_token = v
        .get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| PostError::Unreadable("the answer holds no access_token".into()))?;
    // A number by the RFC; some servers send it as a string.
    let expires_in = v.get("expires_in").and_then(|e| {
        e.as_u64()
            .or_else(|| e.as_str().and_then(|s| s.trim().parse().ok()))
    });
    let text = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .filter(|x| !x.is_empty())
            .map(str::to_string)
    };
    Ok(TokenAnswer {
        access_token: Secret::new(access_token),
        expires_in,
        refresh_token: text("refresh_token").map(Secret::new),
        scope: text("scope"),
        id_token: text("id_token"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn microsofts_error_payload_keeps_its_code_and_first_line() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"error":"invalid_request","error_description":"AADSTS50194: Application 'x'(klachtd) is not configured as a multi-tenant application.\r\nTrace ID: 1\r\nCorrelation ID: 2","error_codes":[50194],"suberror":"x"}"#,
        )
        .unwrap();
        let e = ProviderError::from_json(400, &v).unwrap();
        assert_eq!(e.aadsts(), Some(50194));
        assert!(!e.description.contains("Trace ID"));
        assert_eq!(e.suberror.as_deref(), Some("x"));
        let no_codes = ProviderError {
            description: "AADSTS700016: Application with identifier".into(),
            ..Default::default()
        };
        assert_eq!(no_codes.aadsts(), Some(700016));
    }

    #[test]
    fn expires_in_as_a_string_is_read() {
        let v = serde_json::json!({"access_token": "a", "expires_in": "3599", "scope": "s"});
        let t = token_answer(&v).unwrap();
        assert_eq!(t.expires_in, Some(3599));
        assert_eq!(t.scope.as_deref(), Some("s"));
        assert!(token_answer(&serde_json::json!({"token_type": "Bearer"})).is_err());
    }

    proptest! {
        /// Whatever the values, encoding then decoding a form gives the same pairs back.
        #[test]
        fn form_encoding_round_trips(pairs in proptest::collection::vec(("[a-z_]{1,8}", "\\PC{0,40}"), 0..6)) {
            let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let encoded = form_encode(&borrowed);
            prop_assert!(encoded.bytes().all(|b| b.is_ascii_graphic()));
            let decoded = parse_query(&encoded);
            let expected: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| !k.is_empty()).collect();
            prop_assert_eq!(decoded, expected);
        }
    }
}
