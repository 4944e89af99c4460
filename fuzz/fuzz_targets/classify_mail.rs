//! Any bytes as a received mail: decoding and classification must never panic.
#![no_main]

use klachtd::inbound::classify::{KnownCases, classify};
use klachtd::inbound::InboundMail;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Nothing;
impl KnownCases for Nothing {
    fn case_of_sent_message(&self, _: &str) -> Option<klachtd::domain::CaseRef> {
        None
    }
    fn case_exists(&self, _: klachtd::domain::CaseRef) -> bool {
        true
    }
    fn complainant_of(&self, _: klachtd::domain::CaseRef) -> Option<String> {
        Some("klager@example.net".into())
    }
    fn case_of_complainant_message(&self, _: &str) -> Option<klachtd::domain::CaseRef> {
        None
    }
}

fn settings() -> &'static klachtd::settings::Settings {
    static S: OnceLock<klachtd::settings::Settings> = OnceLock::new();
    S.get_or_init(|| klachtd::settings::Settings::load_with_env(None, Vec::<(String, String)>::new()).unwrap())
}

fuzz_target!(|data: &[u8]| {
    if let Some(mail) = InboundMail::parse(data) {
        let _ = classify(&mail, settings(), &Nothing);
    }
});
