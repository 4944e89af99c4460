//! Attacks on README's "sender proof": a forged From header, or a token that reached someone
//! else, must never change a case.

mod attack_lab;

use attack_lab::Lab;

/// The case's cause as `klachtd case --json` shows it (null when unset).
fn cause(lab: &Lab, reference: &str) -> serde_json::Value {
    lab.case_json(reference)["case"]["cause"].clone()
}

/// Rule 4: with the trusted server set, "evidence against the From domain outweighs a token".
/// The trusted server evaluates the first From header (evil.com, which passes DMARC); klachtd
/// attributes the mail to the *last* From header (anna@example.org), so a leaked token of anna's
/// is accepted although the From domain klachtd acts on was never authenticated, and the mail
/// is, for the server and for every mail client, from evil.com.
///
/// Reproduce: trusted_authserv_id = mx.example.org; a complaint; take the token address from
/// anna's notice; send a mail with the server's AR (dmarc=pass header.from=evil.com), then
/// `From: Evil <evil@evil.com>` and `From: Anna <anna@example.org>`, to the token address, with
/// `Oorzaak: …`. The cause is set.
#[test]
fn two_from_headers_never_let_a_leaked_token_past_the_trusted_server() {
    let mut lab = Lab::new(&[("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", "mx.example.org")]);
    lab.complaint("klager1@example.net", 1);
    lab.run();
    let token = lab
        .last_to("kl-2026-0001.new", "anna@example.org")
        .token_address();

    // Control: the same leaked token under a single forged From is held (dmarc=fail).
    lab.deliver(&format!(
        "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=evil.com; dkim=none; dmarc=fail header.from=example.org\n\
         From: Anna <anna@example.org>\nTo: {token}\nSubject: Re: [KL-2026-0001] Klacht 1\n\
         Message-ID: <control@evil.com>\n\nOorzaak: vervalst-controle\n"
    ));
    lab.run();
    assert!(cause(&lab, "KL-2026-0001").is_null(), "control: held");

    // The attack: two From headers; the server's verdict is about the first one.
    lab.deliver(&format!(
        "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=evil.com; dkim=pass header.d=evil.com; dmarc=pass header.from=evil.com\n\
         From: Evil <evil@evil.com>\nFrom: Anna <anna@example.org>\nTo: {token}\n\
         Subject: Re: [KL-2026-0001] Klacht 1\nMessage-ID: <attack@evil.com>\n\nOorzaak: vervalst\n"
    ));
    lab.run();
    assert!(
        cause(&lab, "KL-2026-0001").is_null(),
        "a mail the trusted server authenticated as evil.com was applied as anna's: {}",
        cause(&lab, "KL-2026-0001")
    );
}

/// Rule 1: a token in staff mail that also went to someone without a role is revoked. The
/// recipient check sees only the last Cc header, so a reply whose first Cc is the complainant
/// does not revoke the token; the complainant, who got a copy with the token in its To, then
/// forges From: anna and the case changes.
///
/// Reproduce: a complaint; anna replies to her notice's token address with `Cc: klager` and a
/// second `Cc: Piet <piet@…>`; then a mail `From: anna` to the same token address with
/// `Oorzaak: …`. The cause is set (with a single `Cc: klager` the token is revoked and it is held).
#[test]
fn a_reply_all_with_the_complainant_in_the_first_of_two_cc_headers_revokes_the_token() {
    let mut lab = Lab::new(&[]);
    lab.complaint("klager1@example.net", 1);
    lab.run();
    let token = lab
        .last_to("kl-2026-0001.new", "anna@example.org")
        .token_address();
    lab.deliver(&format!(
        "From: Anna <anna@example.org>\nTo: {token}\nCc: Klager 1 <klager1@example.net>\n\
         Cc: Piet <piet@example.org>\nSubject: Re: [KL-2026-0001] Klacht 1\n\
         Message-ID: <reply-all@example.org>\n\nNotitie: ik bel u morgen\n"
    ));
    lab.run();
    // The complainant now holds the token; they forge anna's From.
    lab.deliver(&format!(
        "From: Anna <anna@example.org>\nTo: {token}\nSubject: Re: [KL-2026-0001] Klacht 1\n\
         Message-ID: <forged@example.net>\n\nOorzaak: door de klager zelf gezet\n"
    ));
    lab.run();
    assert!(
        cause(&lab, "KL-2026-0001").is_null(),
        "the token that went to the complainant was still accepted: {}",
        cause(&lab, "KL-2026-0001")
    );
}

/// The same with two To headers: the first one names the complainant.
#[test]
fn a_reply_with_the_complainant_in_the_first_of_two_to_headers_revokes_the_token() {
    let mut lab = Lab::new(&[]);
    lab.complaint("klager1@example.net", 1);
    lab.run();
    let token = lab
        .last_to("kl-2026-0001.new", "anna@example.org")
        .token_address();
    lab.deliver(&format!(
        "From: Anna <anna@example.org>\nTo: Klager 1 <klager1@example.net>\nTo: {token}\n\
         Subject: Re: [KL-2026-0001] Klacht 1\nMessage-ID: <reply-to-both@example.org>\n\n\
         Notitie: ik bel u morgen\n"
    ));
    lab.run();
    lab.deliver(&format!(
        "From: Anna <anna@example.org>\nTo: {token}\nSubject: Re: [KL-2026-0001] Klacht 1\n\
         Message-ID: <forged@example.net>\n\nOorzaak: door de klager zelf gezet\n"
    ));
    lab.run();
    assert!(
        cause(&lab, "KL-2026-0001").is_null(),
        "the token that went to the complainant was still accepted: {}",
        cause(&lab, "KL-2026-0001")
    );
}
