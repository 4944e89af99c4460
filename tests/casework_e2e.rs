//! A case's whole life by e-mail against real Dovecot and Postfix: staff press Reply on what
//! klachtd sent them, the complainant receives our letters, the committee's verdict binds.
//! Also: a forged command changes nothing until the real address confirms it.

mod common;

use common::klachtd::{Klachtd, PATIENCE, from_local};
use common::mailserver::MailServer;
use mail_parser::MessageParser;

const STAFF: &str = "staff@example.org";
const COMPLAINANT: &str = "complainant@example.org";
const COMMITTEE: &str = "committee@example.org";

/// What a mail client puts in a reply: To the Reply-To, In-Reply-To/References the original,
/// "RE:" + subject, and the original quoted below the new text.
fn reply(original: &[u8], from: &str, new_text: &str, outlook_html: bool) -> (Vec<u8>, String) {
    let m = MessageParser::default().parse(original).unwrap();
    let to = m
        .reply_to()
        .or(m.from())
        .and_then(|a| a.first())
        .and_then(|a| a.address.as_deref())
        .unwrap()
        .to_string();
    let id = m.message_id().unwrap();
    let subject = m.subject().unwrap_or_default();
    let quoted: String = m
        .body_text(0)
        .unwrap_or_default()
        .lines()
        .map(|l| format!("> {l}\r\n"))
        .collect();
    let nonce = rand_id(new_text);
    let head = format!(
        "From: Medewerker <{from}>\r\nTo: <{to}>\r\nSubject: RE: {subject}\r\nMessage-ID: <{nonce}@client.example.org>\r\n\
         In-Reply-To: <{id}>\r\nReferences: <{id}>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
    );
    let body = if outlook_html {
        let paragraphs: String = new_text
            .lines()
            .map(|l| {
                if l.is_empty() {
                    "<p class=MsoNormal><o:p>&nbsp;</o:p></p>".to_string()
                } else {
                    format!("<p class=MsoNormal>{l}<o:p></o:p></p>")
                }
            })
            .collect();
        format!(
            "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><div class=WordSection1>{paragraphs}\
             <div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>\
             <p class=MsoNormal><b>Van:</b> Klachtenregistratie &lt;info@example.org&gt;<br><b>Verzonden:</b> dinsdag<br>\
             <b>Onderwerp:</b> {subject}</p></div><p>Afgehandeld</p><p>Geen klacht</p></div></body></html>\r\n"
        )
    } else {
        format!(
            "Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n\r\nOp 25 nov. 2026 om 09:00 heeft Klachtenregistratie het volgende geschreven:\r\n\r\n{quoted}",
            new_text.replace('\n', "\r\n")
        )
    };
    (format!("{head}{body}").into_bytes(), to)
}

fn rand_id(seed: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut h);
    std::time::SystemTime::UNIX_EPOCH
        .elapsed()
        .unwrap()
        .as_nanos()
        .hash(&mut h);
    format!("reply-{:x}", h.finish())
}

fn subject(raw: &[u8]) -> String {
    klachtd::inbound::InboundMail::parse(raw).unwrap().subject
}

fn text(raw: &[u8]) -> String {
    klachtd::inbound::InboundMail::parse(raw).unwrap().text
}

/// The newest message in `user`'s INBOX whose subject starts with `prefix`, once there are at
/// least `count` messages (and that one among them: mail to one address arrives in any order).
fn newest(server: &MailServer, user: &str, count: usize, prefix: &str) -> Vec<u8> {
    server.wait_for_messages(user, count, PATIENCE);
    server.wait_for_subject(user, prefix, PATIENCE)
}

/// Sends a staff reply to where the original pointed, and lets klachtd take it in.
fn answer(
    server: &MailServer,
    k: &Klachtd<'_>,
    original: &[u8],
    from: &str,
    new_text: &str,
    html: bool,
) {
    let (mail, to) = reply(original, from, new_text, html);
    assert!(
        to.starts_with("info+kl-2026-0001."),
        "replies go to the token address: {to}"
    );
    server.deliver(&mail, from, &[&to]);
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    let summary = k.run_once();
    assert!(summary.contains("added_to_case: 1"), "{summary}");
}

#[test]
fn a_complaint_lives_from_registration_to_a_binding_verdict() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    server.deliver(
        &from_local(
            "01_klacht_workshop_geannuleerd_thunderbird_plain_utf8.eml",
            COMPLAINANT,
        ),
        COMPLAINANT,
        &["info@example.org"],
    );
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    assert!(k.run_once().contains("case_created: 1"));
    let notification = newest(&server, STAFF, 1, "Nieuwe klacht [KL-2026-0001]");

    // 1. The handler takes it, replying from Outlook (HTML); the quoted notification below
    //    holds keyword lines that must not count.
    answer(
        &server,
        &k,
        &notification,
        STAFF,
        "Behandelaar: staff@example.org\nCategorie: planning",
        true,
    );
    let transcript = newest(&server, STAFF, 2, "Verwerkt: [KL-2026-0001]");
    assert!(
        text(&transcript).contains("behandelaar is nu staff@example.org"),
        "{}",
        text(&transcript)
    );
    let case = k.case("KL-2026-0001");
    assert_eq!(case["case"]["handler"], "staff@example.org");
    assert_eq!(
        case["case"]["status"], "open",
        "the quoted 'Afgehandeld' did not count"
    );

    // 2. Our reaction, written below "Reactie", reaches the complainant.
    answer(
        &server,
        &k,
        &transcript,
        STAFF,
        "Reactie\n\nBeste meneer Van Leeuwen,\n\nOnze excuses: de annulering had u moeten bereiken. U krijgt uw cursusgeld terug.\n\nMet vriendelijke groet,\nAnna",
        false,
    );
    let reaction = newest(
        &server,
        COMPLAINANT,
        2,
        "Reactie op uw klacht [KL-2026-0001]",
    );
    let reaction_text = text(&reaction);
    assert!(
        reaction_text.starts_with("Beste meneer Van Leeuwen,"),
        "{reaction_text}"
    );
    assert!(
        !reaction_text.contains("Op 25 nov. 2026"),
        "no quote in the reaction"
    );
    assert_eq!(k.case("KL-2026-0001")["case"]["status"], "reacted");

    // 3. Closing without cause and solution is refused, naming what is missing.
    let transcript = newest(&server, STAFF, 3, "Verwerkt: [KL-2026-0001]");
    answer(&server, &k, &transcript, STAFF, "Afgehandeld", false);
    let refused = newest(&server, STAFF, 4, "Niet verwerkt (1 fout): [KL-2026-0001]");
    let refused_text = text(&refused);
    assert!(
        refused_text.contains("oorzaak, oplossing, akkoord"),
        "{refused_text}"
    );
    assert_eq!(
        k.case("KL-2026-0001")["case"]["status"],
        "reacted",
        "nothing applied"
    );

    // 4. Cause, solution, agreement, closed: the complainant gets the closing letter.
    answer(
        &server,
        &k,
        &refused,
        STAFF,
        "Oorzaak: de annulering ging alleen per sms\nOplossing: cursusgeld volledig terugbetaald\nAkkoord: ja\nAfgehandeld",
        false,
    );
    let closing = newest(
        &server,
        COMPLAINANT,
        3,
        "Uw klacht is afgehandeld [KL-2026-0001]",
    );
    let closing_text = text(&closing);
    assert!(closing_text.contains("cursusgeld volledig terugbetaald"));
    assert!(
        closing_text.contains("examencommissie"),
        "the appeal route is named"
    );
    assert_eq!(k.case("KL-2026-0001")["case"]["status"], "closed");

    // 5. The complainant appeals (registered by staff); the committee gets the case in full.
    let transcript = newest(&server, STAFF, 5, "Verwerkt: [KL-2026-0001]");
    answer(
        &server,
        &k,
        &transcript,
        STAFF,
        "Beroep: de klager wil ook de reiskosten vergoed",
        false,
    );
    let appeal = newest(&server, COMMITTEE, 1, "Beroep ingesteld [KL-2026-0001]");
    assert!(
        text(&appeal).contains("Via een collega hoorde ik vandaag"),
        "the complaint in full"
    );

    // 6. The committee's verdict binds: sent to the complainant, the case is final.
    answer(
        &server,
        &k,
        &appeal,
        COMMITTEE,
        "Uitspraak: gegrond, de reiskosten worden vergoed.",
        false,
    );
    let verdict = newest(
        &server,
        COMPLAINANT,
        4,
        "Uitspraak van de examencommissie [KL-2026-0001]",
    );
    assert!(text(&verdict).contains("gegrond: de reiskosten worden vergoed."));
    let case = k.case("KL-2026-0001");
    assert_eq!(case["case"]["status"], "final");
    assert_eq!(case["case"]["agreement"], true);
    assert_eq!(case["case"]["cause"], "de annulering ging alleen per sms");

    // 7. After a binding verdict, nothing changes any more.
    let transcript = newest(&server, COMMITTEE, 2, "Verwerkt: [KL-2026-0001]");
    answer(
        &server,
        &k,
        &transcript,
        COMMITTEE,
        "Heropen: toch nog iets",
        false,
    );
    newest(
        &server,
        COMMITTEE,
        3,
        "Niet verwerkt (1 fout): [KL-2026-0001]",
    );
    assert_eq!(k.case("KL-2026-0001")["case"]["status"], "final");

    // The complainant saw exactly four letters, never a staff address.
    let inbox = server.fetch_all(COMPLAINANT);
    assert_eq!(inbox.len(), 4, "ack, reaction, closing letter, verdict");
    for m in &inbox {
        let raw = String::from_utf8_lossy(m);
        assert!(
            !raw.contains(STAFF) && !raw.contains(COMMITTEE),
            "a staff address leaked to the complainant"
        );
        assert!(!raw.contains("interne notitie"));
    }
}

#[test]
fn a_forged_command_changes_nothing_until_the_real_address_confirms_it() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    server.deliver(
        &from_local("02_klacht_factuur_gmail_alternative_qp.eml", COMPLAINANT),
        COMPLAINANT,
        &["info@example.org"],
    );
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    k.run_once();
    newest(&server, STAFF, 1, "Nieuwe klacht [KL-2026-0001]");

    // Right From, right subject, but no token and no trusted Authentication-Results.
    let forged = "From: Medewerker <staff@example.org>\r\nTo: info@example.org\r\n\
        Subject: RE: Ontvangstbevestiging [KL-2026-0001]\r\nMessage-ID: <forged-1@attacker.example>\r\n\
        Authentication-Results: mail.example.org; auth=pass smtp.auth=staff@example.org\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\r\nGeen klacht: spam\r\n";
    server.deliver(
        forged.as_bytes(),
        "staff@example.org",
        &["info@example.org"],
    );
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    let summary = k.run_once();
    assert!(summary.contains("ignored: 1"), "{summary}");
    assert_eq!(
        k.case("KL-2026-0001")["case"]["status"],
        "open",
        "nothing changed"
    );

    // The real address is asked to confirm. "Yes" in other words is not a confirmation: the
    // held mail is refused, recorded on the case, and she gets a transcript saying so.
    let request = newest(&server, STAFF, 2, "Bevestiging nodig [KL-2026-0001]");
    let request_text = text(&request);
    assert!(request_text.contains("Geen klacht: spam"));
    assert!(
        request_text.contains("forged-1") || request_text.contains("Herkomst:"),
        "where it came from"
    );
    answer(&server, &k, &request, STAFF, "Ja, dat was ik.", false);
    assert_eq!(k.case("KL-2026-0001")["case"]["status"], "open");
    newest(&server, STAFF, 3, "Niet uitgevoerd: [KL-2026-0001]");
    let history = k.case("KL-2026-0001").to_string();
    assert!(history.contains("held_refused"), "{history}");

    // Forged again; this time she confirms with the code: the held commands apply.
    server.deliver(
        forged.replace("forged-1", "forged-2").as_bytes(),
        "staff@example.org",
        &["info@example.org"],
    );
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    k.run_once();
    let request = newest(&server, STAFF, 4, "Bevestiging nodig [KL-2026-0001]");
    let t = text(&request);
    let at = t.find("Bevestig ").expect("the code is named");
    let code = &t[at + 9..at + 13];
    answer(
        &server,
        &k,
        &request,
        STAFF,
        &format!("Bevestig {code}"),
        false,
    );
    assert_eq!(k.case("KL-2026-0001")["case"]["status"], "withdrawn");
    newest(&server, STAFF, 5, "Verwerkt: [KL-2026-0001]");

    // A token issued to one address proves nothing for another.
    let notification = server
        .fetch_all(STAFF)
        .into_iter()
        .find(|m| subject(m).starts_with("Nieuwe klacht"))
        .unwrap();
    let (stolen, to) = reply(
        &notification,
        "staff2@example.org",
        "Heropen: ik wil meedoen",
        false,
    );
    server.deliver(&stolen, "staff2@example.org", &[&to]);
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    k.run_once();
    assert_eq!(
        k.case("KL-2026-0001")["case"]["status"],
        "withdrawn",
        "staff2 used staff's token"
    );
    newest(&server, "staff2@example.org", 1, "Bevestiging nodig");
}

#[test]
fn a_token_leaked_by_reply_all_is_revoked_and_a_forgery_with_it_changes_nothing() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    server.deliver(
        &from_local("02_klacht_factuur_gmail_alternative_qp.eml", COMPLAINANT),
        COMPLAINANT,
        &["info@example.org"],
    );
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    k.run_once();
    let notification = newest(&server, STAFF, 1, "Nieuwe klacht [KL-2026-0001]");

    // Staff press "reply all" with the complainant in Cc: the complainant sees the token.
    let (mail, to) = reply(&notification, STAFF, "Notitie: klager gebeld", false);
    let mut leaked = format!("Cc: <{COMPLAINANT}>\r\n").into_bytes();
    leaked.extend_from_slice(&mail);
    server.deliver(&leaked, STAFF, &[&to, COMPLAINANT]);
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    let summary = k.run_once();
    assert!(
        summary.contains("ignored: 1"),
        "held, not applied: {summary}"
    );
    newest(&server, STAFF, 2, "Bevestiging nodig [KL-2026-0001]");
    newest(
        &server,
        STAFF,
        3,
        "Antwoordadres ingetrokken [KL-2026-0001]",
    );

    // The complainant forges the staff member's From to the leaked address.
    let forged = format!(
        "From: Medewerker <{STAFF}>\r\nTo: <{to}>\r\nSubject: RE: Nieuwe klacht [KL-2026-0001]\r\n\
         Message-ID: <forged-2@attacker.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Behandelaar: {STAFF}\r\nOorzaak: x\r\nOplossing: volledige terugbetaling van 2.500 euro\r\nAkkoord: ja\r\nAfgehandeld\r\n"
    );
    server.deliver(forged.as_bytes(), COMPLAINANT, &[&to]);
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    k.run_once();
    let case = k.case("KL-2026-0001");
    assert_eq!(case["case"]["status"], "open", "nothing changed");
    assert!(case["case"]["solution"].is_null());
    // The complainant received the acknowledgement and the reply-all copy, no closing letter.
    let inbox = server.fetch_all(COMPLAINANT);
    assert!(
        inbox
            .iter()
            .all(|m| !subject(m).starts_with("Uw klacht is afgehandeld")),
        "no closing letter"
    );
    assert_eq!(inbox.len(), 2, "acknowledgement and the reply-all copy");
    newest(&server, STAFF, 4, "Bevestiging nodig [KL-2026-0001]");
}

#[test]
fn codes_tokens_and_case_tags_work_only_where_they_belong() {
    const SECOND: &str = "complainant2@example.org";
    const VICTIM: &str = "complainant3@example.org";
    const STRANGER: &str = "robot@example.org";
    let server = MailServer::start();
    // Six unproven mails to staff@ in minutes: past the default budget the third-party notice
    // would wait for the summary (tests/attack_megaphone.rs); here each notice itself counts.
    let k = Klachtd::with_env(&server, &[("KLACHTD__OUTBOUND__UNPROVEN_PER_DAY", "20")]);
    for (file, from) in [
        (
            "01_klacht_workshop_geannuleerd_thunderbird_plain_utf8.eml",
            COMPLAINANT,
        ),
        ("02_klacht_factuur_gmail_alternative_qp.eml", SECOND),
    ] {
        server.deliver(&from_local(file, from), from, &["info@example.org"]);
        server.wait_for_messages("info@example.org", 1, PATIENCE);
        assert!(k.run_once().contains("case_created: 1"));
    }
    let notification = newest(&server, STAFF, 2, "Nieuwe klacht [KL-2026-0001]");

    // A forgery on KL-0001; its confirmation code sent back under KL-0002's tag.
    let forged = format!(
        "From: <{STAFF}>\r\nTo: info@example.org\r\nSubject: RE: [KL-2026-0001]\r\n\
         Message-ID: <forged-9@attacker.example>\r\nContent-Type: text/plain\r\n\r\nGeen klacht\r\n"
    );
    server.deliver(forged.as_bytes(), STAFF, &["info@example.org"]);
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    k.run_once();
    let request = newest(&server, STAFF, 3, "Bevestiging nodig [KL-2026-0001]");
    let t = text(&request);
    let at = t.find("Bevestig ").unwrap();
    let code = t[at + 9..at + 13].to_string();
    let (moved, to) = reply(&request, STAFF, &format!("Bevestig {code}"), false);
    let moved = String::from_utf8(moved)
        .unwrap()
        .replace("[KL-2026-0001]", "[KL-2026-0002]");
    server.deliver(moved.as_bytes(), STAFF, &[&to]);
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    k.run_once();
    assert_eq!(k.case("KL-2026-0001")["case"]["status"], "open");
    assert_eq!(k.case("KL-2026-0002")["case"]["status"], "open");

    // A real token, addressed to a case that does not exist, registering a stranger.
    let (_, to) = reply(&notification, STAFF, "", false);
    let ghost = to.replace("kl-2026-0001", "kl-2026-0099");
    let klacht = format!(
        "From: <{STAFF}>\r\nTo: <{ghost}>\r\nSubject: Doorgestuurd\r\nMessage-ID: <ghost-1@attacker.example>\r\n\
         Content-Type: text/plain\r\n\r\nKlacht: {VICTIM}\r\n\r\nU heeft een klacht ingediend.\r\n"
    );
    server.deliver(klacht.as_bytes(), COMPLAINANT, &[&ghost]);
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    k.run_once();
    assert_eq!(k.cases().len(), 2, "no case registered");
    assert_eq!(
        server.count(VICTIM),
        0,
        "no acknowledgement to the stranger"
    );

    // A stranger writing under KL-0001's tag: third-party mail, the handler told as such.
    let third = format!(
        "From: <{STRANGER}>\r\nTo: info@example.org\r\nSubject: [KL-2026-0001] Ik trek mijn klacht in\r\n\
         Message-ID: <third-1@example.org>\r\nContent-Type: text/plain\r\n\r\nIk trek mijn klacht in.\r\n"
    );
    server.deliver(third.as_bytes(), STRANGER, &["info@example.org"]);
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    assert!(k.run_once().contains("added_to_case: 1"));
    // The handler hears who really wrote (waits for that mail; panics if it never comes).
    server.wait_for_subject(
        STAFF,
        "Let op: e-mail van een ander dan de klager [KL-2026-0001]",
        PATIENCE,
    );
    assert_eq!(server.count(STRANGER), 0, "the stranger gets nothing");
    assert_eq!(k.case("KL-2026-0001")["case"]["status"], "open");
    let history = k.case("KL-2026-0001")["events"].to_string();
    assert!(history.contains("third_party") && history.contains(STRANGER));
}
