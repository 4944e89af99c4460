//! MIME intake and classification: any bytes as a received mail go the way intake takes them
//! (`Prepared::new`): the headers decoded and judged alone first, then the whole mail decoded
//! and classified, and — for a role address — its new text cut out and read as a command block.
//! Nothing may panic, and what the decoder promises must hold: a one-line subject (no header
//! injection), a sender klachtd can write to, and a verdict from the headers alone that the full
//! classification confirms.
#![no_main]

use klachtd::inbound::InboundMail;
use klachtd::inbound::classify::{Classification, KnownCases, classify, classify_by_headers};
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
    S.get_or_init(|| {
        klachtd::settings::Settings::load_with_env(
            None,
            [("KLACHTD__ROLES__STAFF", "anna@example.org")]
                .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap()
    })
}

fn one_line(mail: &InboundMail) {
    assert!(
        !mail.subject.contains(['\r', '\n']),
        "a subject with a line break: {:?}",
        mail.subject
    );
    if let Some(sender) = mail.sender() {
        assert!(
            sender.as_str().parse::<klachtd::domain::EmailAddress>().is_ok(),
            "a sender klachtd cannot write to: {sender:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let fast = InboundMail::parse_headers(data).map(|mail| {
        one_line(&mail);
        classify_by_headers(&mail, settings())
    });
    let Some(mail) = InboundMail::parse(data) else {
        return;
    };
    one_line(&mail);
    let verdict = classify(&mail, settings(), &Nothing);
    if let Some(Some(by_headers)) = fast {
        assert_eq!(by_headers, verdict, "the headers' verdict differs from the full one");
    }
    if let Classification::Staff { .. } = verdict {
        let plain = mail.has_plain_text.then_some(mail.text.as_str());
        let text = klachtd::commands::new_text::new_text(plain, mail.html.as_deref()).text;
        let _ = klachtd::commands::parse_block(&text);
    }
});
