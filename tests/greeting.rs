//! The acknowledgement greets with the sender's display name (RFC 5322 §3.4 `display-name`)
//! only when it reads as a person's name (issue 23); a sentence, a call to act, a link or
//! domain, an amount, an organisation or anything too long gets the neutral "Geachte heer,
//! mevrouw,". The shapes: Outlook's "Surname, Given" and initials, Dutch tussenvoegsels, the
//! display names spam and phishing use (a sentence, a domain, an amount).

mod common;

use chrono::{DateTime, Utc};
use common::world::World;
use klachtd::inbound::{InboundMail, RawMail};
use klachtd::store::outbox::OutboxKind;
use klachtd::store::{Store, outbox};
use proptest::prelude::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

thread_local! {
    static WORLD: World = World::with_env(&[]);
}

/// The first line of the acknowledgement a complaint from `display` gets.
fn greeting(display: &str) -> String {
    let mut store = Store::open_in_memory().unwrap();
    let now = at("2026-11-24T10:00:00Z");
    let quoted = display.replace('\\', "\\\\").replace('"', "\\\"");
    let raw = format!(
        "From: \"{quoted}\" <klager@example.net>\r\nTo: info@example.org\r\nSubject: Klacht\r\nMessage-ID: <g@example.net>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIk ben niet tevreden over de cursus.\r\n"
    );
    WORLD.with(|world| {
        world
            .intake()
            .process(
                &mut store,
                &RawMail {
                    source_key: "g".into(),
                    bytes: raw.into_bytes(),
                    arrived_at: Some(now),
                },
                now,
            )
            .unwrap()
    });
    let ack = outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .find(|m| m.kind == OutboxKind::Acknowledgement)
        .unwrap();
    let text = InboundMail::parse(&ack.raw).unwrap().text;
    text.lines().next().unwrap().to_string()
}

#[test]
fn names_greet_and_everything_else_is_neutral() {
    for (display, expected) in [
        ("Jansen, Piet", "Beste Jansen, Piet,"),
        ("J. de Vries", "Beste J. de Vries,"),
        ("Lotte in 't Veld", "Beste Lotte in 't Veld,"),
        ("Zoë van Dijk", "Beste Zoë van Dijk,"),
        // Spam and phishing display names.
        ("Klik hier voor uw terugbetaling", "Geachte heer, mevrouw,"),
        ("U heeft € 500 gewonnen!", "Geachte heer, mevrouw,"),
        (
            "PayPal Service www.paypal-veilig.example",
            "Geachte heer, mevrouw,",
        ),
        ("Claim your refund now", "Geachte heer, mevrouw,"),
        ("Klantenservice Gemeente", "Geachte heer, mevrouw,"),
        ("Piet 0612345678", "Geachte heer, mevrouw,"),
        (
            "Ik wacht al zes weken op mijn certificaat",
            "Geachte heer, mevrouw,",
        ),
        (
            "Anna Maria Theodora Wilhelmina Sophia Jansen",
            "Geachte heer, mevrouw,",
        ),
    ] {
        assert_eq!(greeting(display), expected, "{display:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Over generated display names — names, sentences, links, amounts, anything printable —
    /// the greeting is the neutral one or names exactly what the display name said, and what
    /// it names holds no digit, link or sentence mark.
    #[test]
    fn the_greeting_is_a_name_or_neutral(display in prop_oneof![
        "[A-Z][a-z]{1,8}( (van |de |van der )?[A-Z][a-z]{1,10}){0,2}",
        "[A-Za-z €!?.,:/0-9-]{0,60}",
        "\\PC{0,40}",
    ]) {
        let line = greeting(&display);
        if line != "Geachte heer, mevrouw," {
            let name = line.strip_prefix("Beste ").and_then(|l| l.strip_suffix(',')).unwrap();
            let squashed = display.split_whitespace().collect::<Vec<_>>().join(" ");
            prop_assert!(squashed.contains(name), "{:?} from {:?}", name, display);
            prop_assert!(!name.chars().any(|c| c.is_numeric()), "{:?}", name);
            prop_assert!(!name.contains(['!', '?', ':', '/', '€', '@']), "{:?}", name);
        }
    }
}
