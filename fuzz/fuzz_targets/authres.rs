//! Any bytes as an Authentication-Results value: the parser never panics, and whatever it
//! reads, the evidence for a From address is one of the defined answers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(ar) = klachtd::inbound::authres::parse(&text) {
        assert!(!ar.authserv_id.is_empty());
        let from: klachtd::domain::EmailAddress = "anna@example.org".parse().unwrap();
        let _ = klachtd::inbound::authres::evaluate(&ar, &from);
    }
    let headers = vec![text.into_owned()];
    let _ = klachtd::inbound::authres::summary(&headers, Some("mail.example.org"));
});
