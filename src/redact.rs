//! Keeping addresses out of the logs: every `local@domain` in a text becomes a short hash
//! (`<addr:1a2b3c4d>`), the same for the same address, so a log can still be followed.

use sha2::Digest;

/// A short, stable stand-in for an address.
pub fn address_hash(address: &str) -> String {
    let h = sha2::Sha256::digest(address.trim().to_lowercase().as_bytes());
    format!("<addr:{}>", crate::inbound::hex(&h[..4]))
}

/// `text` with every e-mail address replaced by its [`address_hash`].
pub fn addresses(text: &str) -> String {
    let is_part = |c: char| c.is_alphanumeric() || "._%+-'".contains(c);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' {
            // The local part is what `out` ends with; the domain follows.
            let local_len = out.chars().rev().take_while(|c| is_part(*c)).count();
            let mut j = i + 1;
            while j < chars.len()
                && (chars[j].is_alphanumeric() || chars[j] == '.' || chars[j] == '-')
            {
                j += 1;
            }
            let domain: String = chars[i + 1..j].iter().collect();
            if local_len > 0 && domain.contains('.') {
                let keep = out.chars().count() - local_len;
                let local: String = out.chars().skip(keep).collect();
                out = out.chars().take(keep).collect();
                out.push_str(&address_hash(&format!("{local}@{domain}")));
                i = j;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
