//! The forgery suite of issue 9, in process: each attack as an attacker would try it, asserting
//! that nothing changed, what was recorded on the case, and what each party received.

mod common;

use chrono::Duration;
use common::run::*;
use klachtd::store::outbox::OutboxKind;
use klachtd::store::{MailOutcome, cases};
use mail_parser::MessageParser;
use proptest::prelude::*;

#[test]
fn any_reply_but_an_explicit_confirmation_refuses_the_held_mail() {
    let mut r = Run::new();
    let case = r.complaint(KLAGER);
    let long_text = "Wij hebben dit intern besproken. ".repeat(30);
    let h = r.take(forged(
        ANNA,
        &format!("RE: {}", case.tag()),
        "f1",
        &format!("Geen klacht: spam\n\n{long_text}"),
    ));
    assert_eq!(h.outcome, MailOutcome::Ignored);
    assert_eq!(r.status(case), "open", "nothing changed");
    let held = r.events(case, "held");
    assert_eq!(held.len(), 1, "the held mail is recorded on the case");
    assert_eq!(held[0].0.as_deref(), Some(ANNA));
    assert!(held[0].1.contains("Geen klacht: spam") && held[0].1.contains("203.0.113.9"));

    // The request shows the whole mail, where it came from, and the code.
    let request = r.newest(OutboxKind::ConfirmationRequest, ANNA);
    let t = text(&request);
    assert!(t.contains("Geen klacht: spam"));
    assert!(
        t.contains(long_text.trim()),
        "the held text in full, not an excerpt"
    );
    // The relay's name as the sender's server gave it: inert (issue 22).
    assert!(
        t.contains("relay[.]evil[.]example") && t.contains("spf=none"),
        "{t}"
    );
    let code = code_of(&request);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));

    // Anna says no, in plain words: refused, recorded with her text, answered.
    r.take(reply(
        &request,
        ANNA,
        "",
        "NEE, dit heb ik NIET gestuurd! Niet uitvoeren.",
    ));
    assert_eq!(r.status(case), "open");
    let refused = r.events(case, "held_refused");
    assert_eq!(refused.len(), 1);
    assert!(
        refused[0].1.contains("NIET gestuurd"),
        "her own words are recorded"
    );
    let transcript = r.newest(OutboxKind::Transcript, ANNA);
    assert!(subject(&transcript).starts_with("Niet uitgevoerd"));
    assert!(text(&transcript).contains("NIET uitgevoerd"));
    assert!(!text(&transcript).contains("zijn verwerkt"));
    // A later "Bevestig" to the same request changes nothing: the held mail is settled.
    r.take(reply(&request, ANNA, "", &format!("Bevestig {code}")));
    assert_eq!(r.status(case), "open");
    // The complainant heard nothing but the acknowledgement.
    assert_eq!(
        r.outbox()
            .iter()
            .filter(|m| m.recipients == [KLAGER])
            .count(),
        1
    );

    // Another forgery; an empty reply, another command, a wrong code: all refuse. (One a day:
    // a role address gets only a few confirmation requests a day.)
    for (i, answer) in ["", "Notitie: klopt dit?", "Bevestig 0000x", "Bevestig"]
        .into_iter()
        .enumerate()
    {
        let day = t0() + chrono::Duration::days(i as i64 + 1);
        r.take_at(
            forged(
                ANNA,
                &format!("RE: {}", case.tag()),
                &format!("g{i}"),
                "Geen klacht: spam",
            ),
            day,
        );
        let request = r.newest(OutboxKind::ConfirmationRequest, ANNA);
        let wrong = if answer == "Bevestig" {
            let c: u32 = code_of(&request).parse().unwrap();
            format!("Bevestig {:04}", (c + 1) % 10_000)
        } else {
            answer.to_string()
        };
        r.take_at(reply(&request, ANNA, "", &wrong), day);
        assert_eq!(r.status(case), "open", "answer {wrong:?} confirmed");
        assert!(
            r.events(case, "note").is_empty(),
            "a command in the reply is not applied"
        );
    }

    // Only the explicit line with the right code applies the held mail.
    let day = t0() + chrono::Duration::days(5);
    r.take_at(
        forged(
            ANNA,
            &format!("RE: {}", case.tag()),
            "yes",
            "Geen klacht: spam",
        ),
        day,
    );
    let request = r.newest(OutboxKind::ConfirmationRequest, ANNA);
    r.take_at(
        reply(
            &request,
            ANNA,
            "",
            &format!("Bevestig {}", code_of(&request)),
        ),
        day,
    );
    assert_eq!(r.status(case), "withdrawn");
    assert_eq!(r.events(case, "confirmed").len(), 1);
    assert!(subject(&r.newest(OutboxKind::Transcript, ANNA)).starts_with("Verwerkt"));
}

#[test]
fn a_confirmation_works_on_its_own_case_only_and_expires() {
    let mut r = Run::new();
    let one = r.complaint(KLAGER);
    let two = r.complaint("ander@example.net");
    r.take(forged(
        ANNA,
        &format!("RE: {}", one.tag()),
        "f1",
        "Geen klacht",
    ));
    let request = r.newest(OutboxKind::ConfirmationRequest, ANNA);
    let code = code_of(&request);
    // The request for KL-0001, answered under KL-0002's tag.
    let moved =
        reply(&request, ANNA, "", &format!("Bevestig {code}")).replace(&one.tag(), &two.tag());
    r.take(moved);
    assert_eq!(
        (r.status(one).as_str(), r.status(two).as_str()),
        ("open", "open")
    );

    // Held for longer than security.hold_days (7): too late.
    r.take(forged(
        ANNA,
        &format!("RE: {}", one.tag()),
        "f2",
        "Geen klacht",
    ));
    let request = r.newest(OutboxKind::ConfirmationRequest, ANNA);
    let late = t0() + Duration::days(8);
    r.take_at(
        reply(
            &request,
            ANNA,
            "",
            &format!("Bevestig {}", code_of(&request)),
        ),
        late,
    );
    assert_eq!(r.status(one), "open");
    assert!(text(&r.newest(OutboxKind::Transcript, ANNA)).contains("termijn"));
}

#[test]
fn a_leaked_token_works_for_nobody() {
    let mut r = Run::new();
    let case = r.complaint(KLAGER);
    let notification = r.newest(OutboxKind::StaffNotification, ANNA);

    // Anna replies-all with the complainant in Cc: the token is out. Her mail is held, the
    // token revoked, and she is told.
    let leaked = reply(
        &notification,
        ANNA,
        &format!("Cc: {KLAGER}\r\n"),
        "Notitie: gebeld",
    );
    r.take(leaked.clone());
    assert!(r.events(case, "note").is_empty());
    assert_eq!(r.count(OutboxKind::ConfirmationRequest, ANNA), 1);
    let told = r
        .outbox()
        .into_iter()
        .filter(|m| subject(m).starts_with("Antwoordadres ingetrokken"))
        .count();
    assert_eq!(told, 1);

    // The complainant forges Anna's From to the leaked address: held, nothing changed.
    let forgery = reply(
        &notification,
        ANNA,
        "",
        "Behandelaar: anna.devries@example.org\nOorzaak: x\nOplossing: volledige terugbetaling van 2.500 euro\nAkkoord: ja\nAfgehandeld",
    );
    r.take(forgery);
    assert_eq!(r.status(case), "open");
    assert_eq!(r.count(OutboxKind::ClosingLetter, KLAGER), 0);
    assert_eq!(r.count(OutboxKind::ConfirmationRequest, ANNA), 2);
    // Told once only.
    let told = r
        .outbox()
        .into_iter()
        .filter(|m| subject(m).starts_with("Antwoordadres ingetrokken"))
        .count();
    assert_eq!(told, 1);
}

#[test]
fn a_token_shown_by_the_complainant_is_revoked() {
    let mut r = Run::new();
    let case = r.complaint(KLAGER);
    let notification = r.newest(OutboxKind::StaffNotification, ANNA);
    let id = MessageParser::default()
        .parse(&notification.raw)
        .unwrap()
        .message_id()
        .unwrap()
        .to_string();
    // The complainant quotes the notification's Message-ID (with Anna's token) in a follow-up.
    r.take(format!(
        "From: <{KLAGER}>\r\nTo: info@example.org\r\nSubject: RE: {}\r\nReferences: <{id}>\r\nMessage-ID: <k2@example.net>\r\n\r\nNog een vraag.\r\n",
        case.tag()
    ));
    assert_eq!(r.events(case, "follow_up").len(), 1);
    // Now the same token with Anna's From is no proof.
    r.take(reply(&notification, ANNA, "", "Geen klacht"));
    assert_eq!(r.status(case), "open");
    assert_eq!(r.count(OutboxKind::ConfirmationRequest, ANNA), 1);
}

#[test]
fn a_token_does_not_outweigh_a_dmarc_fail() {
    let mut r = Run::new();
    let case = r.complaint(KLAGER);
    let notification = r.newest(OutboxKind::StaffNotification, ANNA);
    r.take(reply(
        &notification,
        ANNA,
        "Authentication-Results: mail.example.org; spf=fail smtp.mailfrom=example.org; dmarc=fail (p=reject) header.from=example.org\r\n",
        "Geen klacht",
    ));
    assert_eq!(r.status(case), "open");
    let held = r.events(case, "held");
    assert!(held[0].1.contains("dmarc=fail"), "{}", held[0].1);
    // Without the contrary evidence the same token proves Anna.
    r.take(reply(&notification, ANNA, "", "Geen klacht: dubbel"));
    assert_eq!(r.status(case), "withdrawn");
}

#[test]
fn a_token_works_on_its_own_case_only_and_never_for_one_that_does_not_exist() {
    let mut r = Run::new();
    let one = r.complaint(KLAGER);
    let two = r.complaint("ander@example.net");
    let notification = r.newest(OutboxKind::StaffNotification, ANNA);
    assert_eq!(notification.case, Some(two));
    // KL-0002's token under KL-0001's tag.
    let other = reply(&notification, ANNA, "", "Geen klacht").replace(&two.tag(), &one.tag());
    r.take(other);
    assert_eq!(
        (r.status(one).as_str(), r.status(two).as_str()),
        ("open", "open")
    );

    // A token addressed to a case that does not exist, registering complaints for strangers.
    let m = MessageParser::default().parse(&notification.raw).unwrap();
    let reply_to = m
        .reply_to()
        .unwrap()
        .first()
        .unwrap()
        .address
        .as_deref()
        .unwrap()
        .to_string();
    let ghost = reply_to.replace("kl-2026-0002", "kl-2026-0099");
    let before = r.outbox().len();
    let res = r.take(format!(
        "From: <{ANNA}>\r\nTo: <{ghost}>\r\nSubject: doorgestuurd\r\nMessage-ID: <ghost@x>\r\n\r\nKlacht: slachtoffer@example.com\r\n\r\nU heeft een klacht ingediend.\r\n"
    ));
    assert_ne!(res.outcome, MailOutcome::CaseCreated);
    let new: Vec<_> = r.outbox().into_iter().skip(before).collect();
    assert!(
        new.iter()
            .all(|m| m.kind == OutboxKind::ConfirmationRequest),
        "{new:?}"
    );
    assert!(new.iter().all(|m| m.recipients == [ANNA]));
}

#[test]
fn strangers_do_not_write_into_a_case() {
    let mut r = Run::new();
    let case = r.complaint(KLAGER);
    let res = r.take(format!(
        "From: Mallory <mallory@evil.example>\r\nTo: info@example.org\r\nSubject: {} Ik trek mijn klacht in\r\n\
         Message-ID: <m1@evil.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nIk trek mijn klacht in.\r\n--b\r\nContent-Type: application/pdf; name=brief.pdf\r\n\
         Content-Disposition: attachment; filename=brief.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n",
        case.tag()
    ));
    assert_eq!(res.case, Some(case));
    assert!(res.reason.contains("third-party"), "{}", res.reason);
    assert!(
        r.events(case, "follow_up").is_empty(),
        "never the complainant's words"
    );
    let third = r.events(case, "third_party");
    assert_eq!(third.len(), 1);
    assert!(
        third[0].1.starts_with(
            "E-mail van een derde (niet de klager). Van: Mallory <mallory@evil.example>"
        )
    );
    let id = cases::get(r.store.conn(), case).unwrap().unwrap().id;
    assert!(
        cases::attachments_of(r.store.conn(), id)
            .unwrap()
            .is_empty()
    );
    // Staff are told who really wrote; Mallory gets nothing.
    let note = r.newest(OutboxKind::FollowUpNotification, ANNA);
    assert!(subject(&note).starts_with("Let op: e-mail van een ander dan de klager"));
    assert!(text(&note).contains("NIET de klager"));
    assert!(!text(&note).contains("De klager van"));
    assert!(
        r.outbox()
            .iter()
            .all(|m| m.recipients != ["mallory@evil.example"])
    );

    // The complainant, with a +tag and capitals, is the complainant.
    r.take(format!(
        "From: <Klager+school@Example.NET>\r\nTo: info@example.org\r\nSubject: RE: {}\r\nMessage-ID: <k3@example.net>\r\n\r\nAanvulling.\r\n",
        case.tag()
    ));
    assert_eq!(r.events(case, "follow_up").len(), 1);
    // Someone answering our acknowledgement to the complainant (forwarded to them) counts too.
    let ack = r.newest(OutboxKind::Acknowledgement, KLAGER);
    r.take(format!(
        "From: <partner@example.com>\r\nTo: info@example.org\r\nSubject: RE: ontvangst\r\nIn-Reply-To: <{}>\r\nMessage-ID: <p1@example.com>\r\n\r\nNamens mijn partner.\r\n",
        ack.message_id
    ));
    assert_eq!(r.events(case, "follow_up").len(), 2);
}

#[test]
fn authentication_results_are_read_as_rfc_8601_says() {
    let mut r = Run::new();
    let case = r.complaint(KLAGER);
    // Put the case in appeal, properly (Pieter, logged in).
    let auth = |user: &str| {
        format!(
            "Authentication-Results: mail.example.org; auth=pass (plain) smtp.auth={user}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\n"
        )
    };
    let by = |r: &mut Run, from: &str, header: String, body: &str, id: &str| {
        r.take(format!(
            "{header}From: <{from}>\r\nTo: info@example.org\r\nSubject: RE: {}\r\nMessage-ID: <{id}@example.org>\r\n\r\n{body}\r\n",
            case.tag()
        ))
    };
    by(
        &mut r,
        PIETER,
        auth(PIETER),
        "Behandelaar: pieter.bakker@example.org\nOorzaak: x\nOplossing: y\nAkkoord: nee\nAfgehandeld",
        "a1",
    );
    by(
        &mut r,
        PIETER,
        auth(PIETER),
        "Beroep: klager gaat in beroep",
        "a2",
    );
    assert_eq!(r.status(case), "appealed");

    // Pieter logged in, DKIM and DMARC pass for the domain, From the committee: no verdict.
    by(
        &mut r,
        "examencommissie@example.org",
        format!(
            "Authentication-Results: mail.example.org; auth=pass smtp.auth={PIETER}; dkim=pass header.d=example.org; dmarc=pass header.from=example.org\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\n"
        ),
        "Uitspraak: gegrond",
        "v1",
    );
    assert_eq!(r.status(case), "appealed");
    assert_eq!(r.count(OutboxKind::VerdictLetter, KLAGER), 0);
    assert_eq!(
        r.count(
            OutboxKind::ConfirmationRequest,
            "examencommissie@example.org"
        ),
        1
    );

    // A sender address echoed in a comment, carrying ";dkim=pass header.d=example.org".
    by(
        &mut r,
        "examencommissie@example.org",
        "Authentication-Results: mail.example.org; spf=fail (sender \"x;dkim=pass header.d=example.org\" not permitted) smtp.mailfrom=evil.example\r\n".into(),
        "Uitspraak: gegrond",
        "v2",
    );
    assert_eq!(r.status(case), "appealed");

    // A copied header below our server's newest one counts for nothing.
    by(
        &mut r,
        "examencommissie@example.org",
        "Authentication-Results: mail.example.org; none\r\nAuthentication-Results: mail.example.org; dmarc=pass header.from=example.org\r\n".into(),
        "Uitspraak: gegrond",
        "v3",
    );
    assert_eq!(r.status(case), "appealed");

    // The committee itself, logged in: the verdict binds.
    by(
        &mut r,
        "examencommissie@example.org",
        auth("examencommissie@example.org"),
        "Uitspraak: ongegrond",
        "v4",
    );
    assert_eq!(r.status(case), "final");
}

#[test]
fn a_staff_mail_that_applies_nothing_is_never_silent() {
    let mut r = Run::new();
    let case = r.complaint(KLAGER);
    let header = format!(
        "Authentication-Results: mail.example.org; auth=pass smtp.auth={ANNA}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\n"
    );
    // Only a quote: nothing of her own.
    r.take(format!(
        "{header}From: <{ANNA}>\r\nTo: info@example.org\r\nSubject: RE: {}\r\nMessage-ID: <e1@example.org>\r\n\r\n> Afgehandeld\r\n",
        case.tag()
    ));
    let t = r.newest(OutboxKind::Transcript, ANNA);
    assert!(subject(&t).starts_with("Niets verwerkt"), "{}", subject(&t));
    assert!(text(&t).contains("geen opdrachten"));
    assert_eq!(r.events(case, "staff_mail_unused").len(), 1);

    // A refused mail: recorded with the failing line and the text; valid lines "zou".
    r.take(format!(
        "{header}From: <{ANNA}>\r\nTo: info@example.org\r\nSubject: RE: {}\r\nMessage-ID: <e2@example.org>\r\n\r\nOorzaak: planning\r\nOplosing: geld terug\r\n\r\nIk heb de klager gebeld.\r\n",
        case.tag()
    ));
    let refused = r.events(case, "refused");
    assert_eq!(refused.len(), 1);
    assert!(refused[0].1.contains("regel 2: Oplosing: geld terug"));
    assert!(refused[0].1.contains("Ik heb de klager gebeld."));
    assert!(r.events(case, "note").is_empty(), "no note was stored");
    let t = text(&r.newest(OutboxKind::Transcript, ANNA));
    assert!(t.contains("zou verwerkt zijn (oorzaak vastgelegd)"), "{t}");
    assert!(!t.contains("als interne notitie opgeslagen"), "{t}");
    assert!(t.contains("De tekst is geen interne notitie geworden"));
    assert!(
        !t.contains("  OK "),
        "no OK under a heading that says nothing was applied"
    );
}

#[test]
fn every_new_letter_reads_in_english_for_an_english_organisation() {
    let mut r = Run::in_language("en");
    let case = r.complaint(KLAGER);
    let notification = r.newest(OutboxKind::StaffNotification, ANNA);
    // A reply-all leak (revocation notice + confirmation request), a stranger, a refusal.
    r.take(reply(
        &notification,
        ANNA,
        &format!("Cc: {KLAGER}\r\n"),
        "Note: called",
    ));
    r.take(format!(
        "From: <mallory@evil.example>\r\nTo: info@example.org\r\nSubject: RE: {}\r\nMessage-ID: <m@evil.example>\r\n\r\nI withdraw.\r\n",
        case.tag()
    ));
    r.take(format!(
        "Authentication-Results: mail.example.org; auth=pass smtp.auth={ANNA}\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\nFrom: <{ANNA}>\r\nTo: info@example.org\r\nSubject: RE: {}\r\nMessage-ID: <e@example.org>\r\n\r\nCause: x\r\nSolutoin: y\r\n",
        case.tag()
    ));
    let subjects: Vec<String> = r.outbox().iter().map(subject).collect();
    for want in [
        "Reply address revoked",
        "Confirmation needed",
        "Note: mail from someone other than the complainant",
        "Not processed (1 error)",
    ] {
        assert!(
            subjects.iter().any(|s| s.starts_with(want)),
            "{want}: {subjects:?}"
        );
    }
    let refused = text(&r.newest(OutboxKind::Transcript, ANNA));
    assert!(refused.contains("would have been carried out"), "{refused}");
    for m in r.outbox().iter().filter(|m| !m.kind.to_complainant()) {
        let t = text(m);
        for dutch in [
            "Opgeslagen:",
            "Bevestiging nodig",
            "NIET de klager",
            "ingetrokken",
        ] {
            assert!(!t.contains(dutch), "Dutch in English mail: {t}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    /// Whatever a reply to a confirmation request says, only `Bevestig <code>` on a line of its
    /// own applies the held mail.
    #[test]
    fn only_the_exact_confirmation_line_confirms(
        noise in "[a-zA-Z0-9 ,.!:\n]{0,60}",
        line in prop_oneof![Just(None), Just(Some("Bevestig {}")), Just(Some("  bevestig: {}.")), Just(Some("> Bevestig {}")), Just(Some("Bevestig {} graag"))],
    ) {
        let mut r = Run::new();
        let case = r.complaint(KLAGER);
        r.take(forged(ANNA, &format!("RE: {}", case.tag()), "f", "Geen klacht"));
        let request = r.newest(OutboxKind::ConfirmationRequest, ANNA);
        let code = code_of(&request);
        let answer = match line {
            Some(l) => format!("{}\n{noise}", l.replace("{}", &code)),
            None => noise,
        };
        let confirms = klachtd::casework::confirmation_code(&answer).as_deref() == Some(code.as_str());
        r.take(reply(&request, ANNA, "", &answer));
        prop_assert_eq!(r.status(case) == "withdrawn", confirms);
        if let Some(l) = line {
            // A line of its own (any case, a colon, a full stop) confirms; quoted or with
            // more words it does not.
            prop_assert_eq!(confirms, !l.starts_with('>') && !l.ends_with("graag"));
        }
    }
}
