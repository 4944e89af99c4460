//! Keeping addresses out of the logs: every `local@domain` in a text becomes a short hash
//! (`<addr:1a2b3c4d>`), the same for the same address, so a log can still be followed.

use sha2::Digest;

/// A short, stable stand-in for an address.
pub fn address_hash(address: &str) -> String {
    let h = sha2::Sha256::digest(address.trim().to_lowercase().as_bytes());
    format!("<addr:{}>", crate::hex::encode(&h[..4]))
}

/// `text` with every e-mail address replaced by its [`address_hash`]. The local part is read
/// as RFC 5322 allows it: any `atext` (`jan&els/b=c+d@…`), or a quoted string (`"bob x"@…`);
/// the domain as labels, IDN included. Linear in the length of the text.
pub fn addresses(text: &str) -> String {
    addresses_with(text, |a| Some(address_hash(a)))
}

/// `text` with every e-mail address for which `replace` gives a stand-in replaced by it (the
/// others kept as written); addresses found as [`addresses`] finds them.
pub fn addresses_with(text: &str, replace: impl Fn(&str) -> Option<String>) -> String {
    let is_atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' {
            // The local part is what `out` ends with: a quoted string, or atext.
            let local_len = if out.last() == Some(&'"') {
                out[..out.len() - 1]
                    .iter()
                    .rposition(|c| *c == '"')
                    .map_or(0, |start| out.len() - start)
            } else {
                out.iter().rev().take_while(|c| is_atext(**c)).count()
            };
            let mut j = i + 1;
            while j < chars.len()
                && (chars[j].is_alphanumeric() || chars[j] == '.' || chars[j] == '-')
            {
                j += 1;
            }
            let domain: String = chars[i + 1..j].iter().collect();
            let domain = domain.trim_end_matches('.');
            if local_len > 0 && domain.contains('.') {
                let keep = out.len() - local_len;
                let local: String = out[keep..].iter().collect();
                if let Some(stand_in) = replace(&format!("{local}@{domain}")) {
                    out.truncate(keep);
                    out.extend(stand_in.chars());
                    // A trailing dot ends the sentence, not the address.
                    i = i + 1 + domain.chars().count();
                    continue;
                }
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_local_part_rfc_5322_allows_is_hashed_whole() {
        for addr in [
            "jan&els.devries@example.net",
            "a/b=c@example.net",
            "x!#$%*+?^_`{|}~y@example.net",
            "\"bob x\"@example.net",
        ] {
            let line = format!("550 5.1.1 <{addr}>: Recipient address rejected.");
            let out = addresses(&line);
            assert!(!out.contains("example.net"), "{out}");
            assert!(
                !out.contains("bob") && !out.contains("jan") && !out.contains("a/b"),
                "{out}"
            );
        }
    }

    #[test]
    fn addresses_become_hashes() {
        let s =
            addresses("550 5.1.1 <Anna.deVries@example.org>: unknown; cc piet+x@mail.example.nl.");
        assert!(!s.contains('@'), "{s}");
        assert!(s.starts_with("550 5.1.1 <<addr:"));
        assert_eq!(
            address_hash("Anna.deVries@example.org"),
            address_hash("anna.devries@example.org")
        );
        assert_eq!(addresses("no address @ all"), "no address @ all");
    }

    proptest! {
        #[test]
        fn no_address_survives(
            pre in "[ a-z<:;]{0,10}",
            local in "[a-z0-9._+-]{1,12}",
            domain in "[a-z0-9-]{1,8}\\.[a-z]{2,4}",
            post in "[ >;:,]{0,5}[a-z ]{0,10}",
        ) {
            let address = format!("{local}@{domain}");
            let s = addresses(&format!("{pre}{address}{post}"));
            prop_assert!(!s.contains(&address), "{s}");
            prop_assert!(!s.contains(&domain), "{s}");
        }
    }
}
