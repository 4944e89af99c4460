//! The SASL messages that present an OAuth2 access token: Google's and Microsoft's `XOAUTH2`
//! and RFC 7628's `OAUTHBEARER`, and the async-imap authenticator that sends them.

use crate::settings::SaslMechanism;

/// `XOAUTH2` initial client response: `user=…^Aauth=Bearer …^A^A`.
pub fn xoauth2(user: &str, token: &str) -> String {
    format!("user={user}\x01auth=Bearer {token}\x01\x01")
}

/// `OAUTHBEARER` initial client response (RFC 7628 §3.1): a GS2 header naming the user
/// (`,` and `=` escaped as `=2C` and `=3D`), then host, port and the bearer token.
pub fn oauthbearer(user: &str, token: &str, host: &str, port: u16) -> String {
    let authzid = user.replace('=', "=3D").replace(',', "=2C");
    format!("n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01")
}

impl SaslMechanism {
    /// The name in `AUTHENTICATE <name>`.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Xoauth2 => "XOAUTH2",
            SaslMechanism::Oauthbearer => "OAUTHBEARER",
        }
    }
}

/// Answers the server's challenges for one `AUTHENTICATE`: the token first; after that the
/// server is reporting an error (a JSON challenge), which the client acknowledges so the server
/// can finish with `NO` — an empty response for XOAUTH2, `^A` for OAUTHBEARER (RFC 7628 §3.2.3).
pub struct TokenAuthenticator {
    first: Option<String>,
    mechanism: SaslMechanism,
    /// The server's error challenge, if it sent one (e.g. `{"status":"401",…}`).
    pub error: Option<String>,
}

impl TokenAuthenticator {
    pub fn new(
        mechanism: SaslMechanism,
        user: &str,
        token: &str,
        host: &str,
        port: u16,
    ) -> TokenAuthenticator {
        let first = match mechanism {
            SaslMechanism::Xoauth2 => xoauth2(user, token),
            SaslMechanism::Oauthbearer => oauthbearer(user, token, host, port),
        };
        TokenAuthenticator {
            first: Some(first),
            mechanism,
            error: None,
        }
    }
}

impl async_imap::Authenticator for &mut TokenAuthenticator {
    type Response = Vec<u8>;

    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        match self.first.take() {
            Some(first) => first.into_bytes(),
            None => {
                self.error = Some(String::from_utf8_lossy(challenge).into_owned());
                match self.mechanism {
                    SaslMechanism::Xoauth2 => Vec::new(),
                    SaslMechanism::Oauthbearer => vec![0x01],
                }
            }
        }
    }
}

impl std::fmt::Debug for TokenAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAuthenticator")
            .field("mechanism", &self.mechanism)
            .field("token", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_imap::Authenticator;
    use proptest::prelude::*;

    #[test]
    fn xoauth2_is_the_documented_string() {
        // The example of Google's XOAUTH2 documentation.
        assert_eq!(
            xoauth2(
                "someuser@example.com",
                "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
            ),
            "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
    }

    #[test]
    fn oauthbearer_is_the_rfc_7628_example() {
        // RFC 7628 §4.1, without base64.
        assert_eq!(
            oauthbearer(
                "user@example.com",
                "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
                "server.example.com",
                143
            ),
            "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
    }

    #[test]
    fn after_the_token_the_client_acknowledges_the_error() {
        let mut a = TokenAuthenticator::new(SaslMechanism::Oauthbearer, "u@x", "t", "h", 1);
        let mut r = &mut a;
        assert!(r.process(b"").starts_with(b"n,a=u@x,"));
        assert_eq!(r.process(br#"{"status":"invalid_token"}"#), vec![1]);
        assert_eq!(a.error.as_deref(), Some(r#"{"status":"invalid_token"}"#));
        let mut x = TokenAuthenticator::new(SaslMechanism::Xoauth2, "u@x", "t", "h", 1);
        let mut r = &mut x;
        r.process(b"");
        assert!(r.process(b"{}").is_empty());
    }

    proptest! {
        /// Whatever the user name, the OAUTHBEARER header parses back to exactly it: the
        /// authzid holds no bare `,` and decodes to the user; the token is the last field.
        #[test]
        fn oauthbearer_user_round_trips(user in "[ -~]{1,40}", token in "[A-Za-z0-9._~+/=-]{1,60}") {
            let msg = oauthbearer(&user, &token, "imap.example.org", 993);
            let (gs2, rest) = msg.split_once('\x01').unwrap();
            let fields: Vec<&str> = gs2.split(',').collect();
            prop_assert_eq!(fields.len(), 3);
            prop_assert_eq!(fields[0], "n");
            let decoded = fields[1].strip_prefix("a=").unwrap().replace("=2C", ",").replace("=3D", "=");
            prop_assert_eq!(decoded, user);
            let expected = format!("auth=Bearer {token}\x01\x01");
            prop_assert!(rest.ends_with(&expected));
        }

        /// The authenticator never prints the token.
        #[test]
        fn debug_never_shows_the_token(token in "[A-Za-z0-9]{12,40}") {
            let a = TokenAuthenticator::new(SaslMechanism::Xoauth2, "u@example.org", &token, "h", 993);
            let shown = format!("{:?}", a);
            prop_assert!(!shown.contains(&token));
        }
    }
}
