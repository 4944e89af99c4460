//! `EmailAddress`: a mailbox address checked once at the boundary and compared case-insensitively.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A syntactically plausible `local@domain` address, stored lower-cased.
///
/// Lower-casing the local part is technically lossy, but every mail system klachtd meets
/// treats it case-insensitively, and comparing staff addresses must never depend on case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an e-mail address")]
pub struct InvalidAddress(pub String);

impl EmailAddress {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map(|(l, _)| l).unwrap_or_default()
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl FromStr for EmailAddress {
    type Err = InvalidAddress;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim().trim_start_matches('<').trim_end_matches('>');
        let invalid = || InvalidAddress(s.to_string());
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(invalid)?;
        let bad_char = |c: char| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c);
        if local.is_empty()
            || domain.is_empty()
            || !domain.contains('.') && domain != "localhost"
            || domain.starts_with('.')
            || domain.ends_with('.')
            || trimmed.chars().any(bad_char)
            || local.contains('@')
            || trimmed.len() > 254
        {
            return Err(invalid());
        }
        Ok(Self(trimmed.to_lowercase()))
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = InvalidAddress;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<EmailAddress> for String {
    fn from(a: EmailAddress) -> Self {
        a.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_brackets() {
        let a: EmailAddress = " <Anna.deVries@Example.org> ".parse().unwrap();
        assert_eq!(a.as_str(), "anna.devries@example.org");
        assert_eq!(a.domain(), "example.org");
        assert_eq!(a.local_part(), "anna.devries");
    }

    #[test]
    fn refuses_what_is_no_address() {
        for bad in [
            "",
            "anna",
            "@example.org",
            "anna@",
            "anna@example",
            "a b@example.org",
            "anna@example.org\r\nBcc: x@y.z",
            "a,b@example.org",
        ] {
            assert!(bad.parse::<EmailAddress>().is_err(), "{bad:?} accepted");
        }
    }
}
