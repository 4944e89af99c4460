//! Any bytes as an Authentication-Results value or a Received line: the parsers never panic,
//! and whatever they read, the evidence for a From address is one of the defined answers on
//! every platform.
#![no_main]

use klachtd::inbound::server_evidence::{self, Layout, Receiver};
use klachtd::inbound::trace::{TraceHeader, TraceKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(ar) = klachtd::inbound::authres::parse(&text) {
        assert!(!ar.authserv_id.is_empty());
    }
    let _ = klachtd::inbound::authres::parse_lenient(&text);
    let from: klachtd::domain::EmailAddress = "anna@example.org".parse().unwrap();
    let trace = [
        TraceHeader::new(TraceKind::AuthResults, &text),
        TraceHeader::new(TraceKind::Received, &text),
        TraceHeader::new(TraceKind::ArcAuthResults, &text),
    ];
    for receiver in [
        Receiver::OwnServer {
            authserv_id: "mail.example.org".into(),
            layout: Layout::Milters,
        },
        Receiver::OwnServer {
            authserv_id: "mail.example.org".into(),
            layout: Layout::Rspamd,
        },
        Receiver::Google,
        Receiver::Microsoft365,
        Receiver::Untrusted,
    ] {
        let reading = server_evidence::read(&trace, &receiver, &from);
        let _ = reading.evidence(&from);
        let _ = reading.results_for_people();
    }
});
