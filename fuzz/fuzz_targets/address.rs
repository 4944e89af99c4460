//! The address parser (every sender, every `Klacht:` line, every role in the configuration)
//! and the display-name cleaner (every greeting): any text. An address that parses is one klachtd
//! can write to — within RFC 5321's lengths, no white space, control or invisible characters —,
//! parses again to itself, and its untagged form parses too; a cleaned name is one line without
//! anything that looks like an address.
#![no_main]

use klachtd::domain::EmailAddress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(address) = text.parse::<EmailAddress>() {
        let s = address.as_str();
        assert!(s.len() <= klachtd::domain::address::MAX_ADDRESS, "{s:?}");
        assert!(address.local_part().len() <= klachtd::domain::address::MAX_LOCAL_PART);
        assert!(!address.local_part().is_empty() && !address.domain().is_empty());
        assert!(
            !s.chars().any(|c| c.is_whitespace()
                || c.is_control()
                || klachtd::domain::address::is_invisible(c)),
            "{s:?}"
        );
        assert_eq!(s.parse::<EmailAddress>().as_ref(), Ok(&address), "not idempotent");
        let _ = address.without_tag();
        let _ = address.ascii_domain();
    }
    if let Some(name) = klachtd::domain::display_name::clean(&text) {
        assert!(!name.contains(['\r', '\n', '<', '>']), "{name:?}");
        assert!(!name.trim().is_empty());
    }
});
