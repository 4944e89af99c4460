//! `EmailAddress`: a mailbox address checked once at the boundary, by the same rules lettre
//! applies when it builds an outgoing message, and compared case-insensitively.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A `local@domain` address that klachtd can also write to, stored lower-cased.
///
/// Construction goes through lettre's address parser (RFC 5321 local part of at most 64
/// octets, dot-atom without leading, trailing or doubled dots, domain labels of 1–63
/// characters without a leading or trailing hyphen, IDN allowed) plus our own rules (no
/// white space or control characters, a dotted domain, at most 254 octets). So every address
/// klachtd registers can be answered: a sender whose address fails here is recorded as
/// "cannot be answered by mail" instead (see `inbound::mail::Sender`).
///
/// Lower-casing the local part is technically lossy, but every mail system klachtd meets
/// treats it case-insensitively, and comparing staff addresses must never depend on case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an e-mail address klachtd can write to")]
pub struct InvalidAddress(pub String);

/// RFC 5321 §4.5.3.1.1: the local part is at most 64 octets.
pub const MAX_LOCAL_PART: usize = 64;

/// What a reply address (`outbound::mailer::reply_address`) adds to the organisation's local
/// part at most: `+kl-2026-0042.` (14) and a 24-character token. The configuration check
/// keeps the organisation's local part short enough for it.
pub const REPLY_ADDRESS_EXTRA: usize = 14 + 24;

/// RFC 5321 §4.5.3.1.3 (path of 256 octets, minus the angle brackets).
pub const MAX_ADDRESS: usize = 254;

impl EmailAddress {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or_default()
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }

    /// The address without a `+tag` in its local part (`jan+1@x.nl` → `jan@x.nl`): one
    /// mailbox however many tags a sender invents, for rate limits and for recognising a
    /// complainant.
    pub fn without_tag(&self) -> String {
        let local = self.local_part();
        let base = local.split_once('+').map_or(local, |(b, _)| b);
        let base = if base.is_empty() { local } else { base };
        format!("{base}@{}", self.ascii_domain())
    }

    /// The mailbox this address delivers to, as mail systems compare addresses: the local
    /// part in Unicode compatibility form (NFKC: full-width and other compatibility
    /// spellings become their plain letters), lower case, without a `+tag`; the domain in its
    /// one ASCII form. `Anna+x@ＥＸＡＭＰＬＥ.org` and `anna@example.org` are one mailbox.
    pub fn mailbox(&self) -> String {
        // Most addresses are plain ASCII with a domain of letters, digits, dots and hyphens:
        // there NFKC, lower-casing and IDNA change nothing (IDNA may refuse such a domain, and
        // then it is kept as written too), so only the tag is taken off.
        let (local, domain) = (self.local_part(), self.domain());
        if local
            .bytes()
            .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
            && domain
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            let base = local.split_once('+').map_or(local, |(b, _)| b);
            let base = if base.is_empty() { local } else { base };
            return format!("{base}@{domain}");
        }
        self.mailbox_by_unicode()
    }

    /// [`Self::mailbox`] by its definition, for any address.
    fn mailbox_by_unicode(&self) -> String {
        use unicode_normalization::UnicodeNormalization;
        let local: String = self.local_part().nfkc().collect::<String>().to_lowercase();
        let base = local.split_once('+').map_or(local.as_str(), |(b, _)| b);
        let base = if base.is_empty() {
            local.as_str()
        } else {
            base
        };
        format!("{base}@{}", self.ascii_domain().to_ascii_lowercase())
    }

    /// Whether this address delivers to the same mailbox as `other` ([`Self::mailbox`]).
    pub fn same_mailbox(&self, other: &EmailAddress) -> bool {
        self == other || self.mailbox() == other.mailbox()
    }

    /// What the address looks like to a reader (Unicode's confusable skeleton, UTS #39, of
    /// its mailbox with the domain in Unicode): `аnna@example.org` with a Cyrillic `а` looks
    /// like `anna@example.org`. Two addresses that look alike but are not the same mailbox
    /// are a look-alike: one of them imitates the other.
    pub fn appearance(&self) -> String {
        let mailbox = self.mailbox();
        let (local, domain) = mailbox.rsplit_once('@').unwrap_or((&mailbox, ""));
        let (unicode_domain, _) = idna::domain_to_unicode(domain);
        let shown = format!("{local}@{unicode_domain}");
        unicode_security::skeleton(&shown)
            .collect::<String>()
            .to_lowercase()
    }

    /// The mailbox mail to this address reaches, as far as klachtd can know it: its mailbox
    /// ([`EmailAddress::mailbox`]: case, `+tag`, compatibility forms, IDNA), and for Gmail without the dots of the username
    /// and with googlemail.com as gmail.com — Google's help: "Google Mail does not recognise
    /// dots (.) as characters within a username … your.username@googlemail.com and
    /// y.o.u.r.u.s.e.r.n.a.m.e@googlemail.com are delivered to the same inbox". Limits per
    /// mailbox (one acknowledgement a day, the outbound budget) count by it, so spellings of
    /// one inbox share them (issue 22).
    pub fn delivery_key(&self) -> String {
        let plain = self.mailbox();
        let (local, domain) = plain.rsplit_once('@').unwrap_or((&plain, ""));
        match domain {
            "gmail.com" | "googlemail.com" => {
                let undotted: String = local.chars().filter(|c| *c != '.').collect();
                format!("{undotted}@gmail.com")
            }
            _ => plain,
        }
    }

    /// The domain in its one ASCII form (IDNA, UTS #46): `bücher.de`, its decomposed and
    /// full-width spellings and `xn--bcher-kva.de` are all `xn--bcher-kva.de`.
    pub fn ascii_domain(&self) -> String {
        idna::domain_to_ascii(self.domain()).unwrap_or_else(|_| self.domain().to_string())
    }
}

impl FromStr for EmailAddress {
    type Err = InvalidAddress;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let trimmed = trimmed
            .strip_prefix('<')
            .and_then(|t| t.strip_suffix('>'))
            .unwrap_or(trimmed);
        let invalid = || InvalidAddress(s.to_string());
        let unquoted = unquote_local_part(trimmed);
        let lowered = unquoted.as_deref().unwrap_or(trimmed).to_lowercase();
        let (local, domain) = lowered.rsplit_once('@').ok_or_else(invalid)?;
        let bad_char = |c: char| {
            c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c) || is_invisible(c)
        };
        if local.is_empty()
            || local.len() > MAX_LOCAL_PART
            || lowered.len() > MAX_ADDRESS
            || domain.is_empty()
            || !domain.contains('.') && domain != "localhost"
            || lowered.chars().any(bad_char)
            || local.contains('@')
            // The rules lettre checks again when the answer is built.
            || lowered.parse::<lettre::Address>().is_err()
        {
            return Err(invalid());
        }
        Ok(Self(lowered))
    }
}

/// `"anna.devries"@example.org` is `anna.devries@example.org` (RFC 5321 §4.1.2: a quoted
/// local part that needs no quoting names the same mailbox): the dot-atom, when the quoted
/// text is one. A local part that needs its quotes stays refused.
fn unquote_local_part(address: &str) -> Option<String> {
    let (local, domain) = address.rsplit_once('@')?;
    let inner = local.strip_prefix('"')?.strip_suffix('"')?;
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom = !inner.is_empty()
        && !inner.starts_with('.')
        && !inner.ends_with('.')
        && !inner.contains("..")
        && inner.chars().all(|c| c == '.' || atext(c));
    dot_atom.then(|| format!("{inner}@{domain}"))
}

/// Invisible characters that change how text reads without being seen: Unicode's format
/// characters (general category Cf: bidi embeddings, overrides and isolates —
/// `factuur\u{202e}fdp.exe` shows as `factuurexe.pdf` —, zero-width characters, the soft
/// hyphen, the byte-order mark, the tag characters that can carry hidden text, musical and
/// shorthand format controls). Never part of an address; removed from names, subjects, file
/// names and everything klachtd prints.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{0600}'..='\u{0605}' | '\u{061C}' | '\u{06DD}' | '\u{070F}'
        | '\u{0890}'..='\u{0891}' | '\u{08E2}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{110BD}' | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
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
mod mailbox_tests {
    use super::*;
    use proptest::prelude::*;

    fn a(s: &str) -> EmailAddress {
        s.parse().unwrap()
    }

    #[test]
    fn one_mailbox_however_it_is_written() {
        assert_eq!(
            a("\"anna.devries\"@example.org").as_str(),
            "anna.devries@example.org"
        );
        assert!(
            "\"anna devries\"@example.org"
                .parse::<EmailAddress>()
                .is_err()
        );
        assert!(
            "\"x);dmarc=pass\"@example.org"
                .parse::<EmailAddress>()
                .is_err()
        );
        for variant in [
            "Anna@Example.org",
            "anna+klacht@example.org",
            "ａｎｎａ@example.org",
            "anna@ＥＸＡＭＰＬＥ.ORG",
            "anna@example.org",
        ] {
            assert_eq!(a(variant).mailbox(), "anna@example.org", "{variant}");
            assert!(a(variant).same_mailbox(&a("anna@example.org")), "{variant}");
        }
        assert_eq!(a("anna@bücher.de").mailbox(), "anna@xn--bcher-kva.de");
        assert!(!a("anna@example.org").same_mailbox(&a("anne@example.org")));
    }

    #[test]
    fn look_alikes_look_alike_but_are_other_mailboxes() {
        let real = a("anna@example.org");
        // Cyrillic а in the local part, Cyrillic е in the domain.
        for fake in ["\u{430}nna@example.org", "anna@\u{435}xample.org"] {
            let fake = a(fake);
            assert!(!fake.same_mailbox(&real));
            assert_eq!(fake.appearance(), real.appearance());
        }
        assert_ne!(a("anne@example.org").appearance(), real.appearance());
    }

    proptest! {
        /// Any address klachtd accepts: the mailbox from the ASCII shortcut is the one by
        /// definition (NFKC, lower case, IDNA) — punycode labels, hyphens, digits, tags, dots
        /// and odd ASCII included.
        #[test]
        fn the_ascii_shortcut_gives_the_mailbox_by_definition(
            local in "[a-z0-9.!#$%&'*/=?^_`{|}~+-]{1,12}",
            labels in proptest::collection::vec(
                prop_oneof!["[a-z0-9-]{1,8}", Just("xn--bcher-kva".to_string()), Just("xn--zz".to_string()), Just("xn--".to_string()), "[a-z]{1,3}--[a-z]{1,3}"],
                1..4),
            tld in "[a-z]{2,4}",
        ) {
            let written = format!("{local}@{}.{tld}", labels.join("."));
            if let Ok(address) = written.parse::<EmailAddress>() {
                prop_assert_eq!(address.mailbox(), address.mailbox_by_unicode());
            }
        }

        /// The mailbox key is stable: the key of the key is itself, and case and tags never
        /// change it.
        #[test]
        fn the_mailbox_key_is_a_fixed_point(local in "[a-z][a-z0-9.]{0,10}[a-z0-9]", tag in "[a-z0-9]{0,6}", upper in any::<bool>()) {
            prop_assume!(!local.contains(".."));
            let plain = a(&format!("{local}@example.org"));
            let tagged = if tag.is_empty() { format!("{local}@example.org") } else { format!("{local}+{tag}@example.org") };
            let written = if upper { tagged.to_uppercase() } else { tagged };
            let written = a(&written);
            prop_assert_eq!(written.mailbox(), plain.mailbox());
            prop_assert_eq!(a(&plain.mailbox()).mailbox(), plain.mailbox());
            prop_assert_eq!(written.appearance(), plain.appearance());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_case_and_brackets() {
        let a: EmailAddress = " <Anna.deVries@Example.org> ".parse().unwrap();
        assert_eq!(a.as_str(), "anna.devries@example.org");
        assert_eq!(a.domain(), "example.org");
        assert_eq!(a.local_part(), "anna.devries");
    }

    #[test]
    fn refuses_what_is_no_address() {
        let long_local = format!("{}@example.org", "a".repeat(65));
        let long_label = format!("a@{}.nl", "b".repeat(64));
        for bad in [
            "",
            "anna",
            "@example.org",
            "anna@",
            "anna@example",
            "a b@example.org",
            "anna@example.org\r\nBcc: x@y.z",
            "a,b@example.org",
            // Issue 8: what lettre refuses when it builds the answer.
            long_local.as_str(),
            "a..b@example.org",
            ".a@example.org",
            "a.@example.org",
            "a@-example.org",
            "a@example-.org",
            long_label.as_str(),
            "x@a..b",
            "x@.example.org",
            "x@example.org.",
            "jan\u{202e}@example.org",
        ] {
            assert!(bad.parse::<EmailAddress>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn one_idn_mailbox_in_any_spelling_is_one_mailbox() {
        let spellings = [
            "victim@bücher.de",
            "victim@xn--bcher-kva.de",
            "victim@bu\u{308}cher.de",
            "victim@\u{ff42}ücher.de",
        ];
        for s in spellings {
            let a: EmailAddress = s.parse().unwrap();
            assert_eq!(a.without_tag(), "victim@xn--bcher-kva.de", "{s}");
        }
    }

    #[test]
    fn gmail_spellings_of_one_inbox_are_one_mailbox() {
        let key = |s: &str| s.parse::<EmailAddress>().unwrap().delivery_key();
        for spelling in [
            "victim@gmail.com",
            "v.i.c.t.i.m@gmail.com",
            "Vic.Tim+klacht@GMAIL.com",
            "victim@googlemail.com",
        ] {
            assert_eq!(key(spelling), "victim@gmail.com", "{spelling}");
        }
        // Dots count everywhere else.
        assert_eq!(key("v.ictim@example.net"), "v.ictim@example.net");
    }

    #[test]
    fn without_tag_strips_plus_addressing() {
        let a: EmailAddress = "Victim+17@Example.org".parse().unwrap();
        assert_eq!(a.without_tag(), "victim@example.org");
        let b: EmailAddress = "+x@example.org".parse().unwrap();
        assert_eq!(b.without_tag(), "+x@example.org");
    }

    proptest! {
        /// Whatever string comes in, an accepted address is one lettre builds mail to.
        #[test]
        fn every_accepted_address_is_one_lettre_can_address(s in "\\PC{0,80}|[a-zA-Z0-9.+_-]{0,70}@[a-zA-Z0-9.-]{0,70}") {
            if let Ok(a) = s.parse::<EmailAddress>() {
                prop_assert!(a.as_str().parse::<lettre::Address>().is_ok());
                prop_assert!(lettre::message::Mailbox::new(Some("x".into()), a.as_str().parse().unwrap()).to_string().len() < 998);
                prop_assert!(a.local_part().len() <= MAX_LOCAL_PART);
            }
        }
    }
}
