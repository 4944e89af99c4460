//! The complainant never sees staff addresses or internal notes: a `Reactie` sends only the
//! staff member's own words, never the quoted original. README: "Quoted originals (`>` lines,
//! blockquotes, Outlook's header block) … never count — Outlook, Gmail, Apple Mail, iPhone and
//! Thunderbird formats". Outlook writes its header block in the language of its installation;
//! the Dutch and English blocks are recognised, a German or French one is not, and everything
//! below it — here the transcript with the handler's address and the internal cause — goes to
//! the complainant.
//!
//! Reproduce: a complaint; anna (with her token) sets `Behandelaar`/`Oorzaak`; then replies to
//! the transcript from an Outlook in German (or French): `Reactie`, an empty line, her text, an
//! empty line, then Outlook's `Von:/Gesendet:/An:/Betreff:` block and the quoted transcript.
//! The reaction letter in the outbox contains "Oorzaak", the cause and anna@example.org.

mod attack_lab;

use attack_lab::Lab;

fn reaction_with_quote(block: &str) -> String {
    let mut lab = Lab::new(&[]);
    lab.complaint("klager1@example.net", 1);
    lab.run();
    let token = lab
        .last_to("kl-2026-0001.new", "anna@example.org")
        .token_address();
    lab.deliver(&format!(
        "From: Anna <anna@example.org>\nTo: {token}\nSubject: Re: [KL-2026-0001] Klacht 1\n\
         Message-ID: <set@example.org>\n\nBehandelaar: anna@example.org\n\
         Oorzaak: roosterfout van collega Jansen INTERN\n"
    ));
    let transcript = lab
        .run()
        .into_iter()
        .find(|s| s.to == "anna@example.org")
        .expect("a transcript");
    let quoted = transcript.text.clone();
    assert!(quoted.contains("INTERN"), "{quoted}");
    let token = transcript.token_address();
    lab.deliver(&format!(
        "From: Anna <anna@example.org>\nTo: {token}\nSubject: AW: Verwerkt: [KL-2026-0001] Klacht 1\n\
         Message-ID: <reactie@example.org>\nContent-Type: text/plain; charset=utf-8\n\n\
         Reactie\n\nGeachte heer, wij betalen het cursusgeld terug.\n\n{block}\n\n{quoted}\n"
    ));
    let sent = lab.run();
    let reaction = sent
        .iter()
        .find(|s| s.to == "klager1@example.net")
        .expect("a reaction to the complainant");
    assert!(reaction.text.contains("wij betalen het cursusgeld terug"));
    reaction.text.clone()
}

fn assert_no_leak(text: &str) {
    for secret in ["INTERN", "anna@example.org", "Oorzaak", "Behandelaar"] {
        assert!(
            !text.contains(secret),
            "the complainant's letter contains {secret:?}:\n{text}"
        );
    }
}

#[test]
fn a_german_outlook_header_block_is_not_sent_to_the_complainant() {
    let text = reaction_with_quote(
        "Von: Klachtenregistratie <info@example.org>\nGesendet: Montag, 30. November 2026 04:00\n\
         An: Anna <anna@example.org>\nBetreff: Verwerkt: [KL-2026-0001] Klacht 1",
    );
    assert_no_leak(&text);
}

#[test]
fn a_french_outlook_header_block_is_not_sent_to_the_complainant() {
    let text = reaction_with_quote(
        "De : Klachtenregistratie <info@example.org>\nEnvoyé : lundi 30 novembre 2026 04:00\n\
         À : Anna <anna@example.org>\nObjet : Verwerkt: [KL-2026-0001] Klacht 1",
    );
    assert_no_leak(&text);
}

/// Control: the same reply from a Dutch Outlook keeps the transcript out (passes today).
#[test]
fn control_a_dutch_outlook_header_block_is_not_sent_to_the_complainant() {
    let text = reaction_with_quote(
        "Van: Klachtenregistratie <info@example.org>\nVerzonden: maandag 30 november 2026 04:00\n\
         Aan: Anna <anna@example.org>\nOnderwerp: Verwerkt: [KL-2026-0001] Klacht 1",
    );
    assert_no_leak(&text);
}
