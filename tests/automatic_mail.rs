//! Mail no person wrote (issue 23): every convention in `src/inbound/conventions.rs` has a mail
//! here written in its system's shape, with the documentation or source that shape comes from
//! named beside it; each is recorded as ignored with the convention as its reason, answered by
//! no one, noted on the case it names, and kept whole. A property over the whole table: no
//! mail that matches any entry, whoever sends it and whatever else it says, ever causes mail.

mod common;

use chrono::{DateTime, Utc};
use common::world::World;
use klachtd::domain::CaseRef;
use klachtd::inbound::conventions::{CONVENTIONS, Convention, Test};
use klachtd::inbound::{InboundMail, RawMail};
use klachtd::store::{MailOutcome, Store, cases, mails, outbox};
use proptest::prelude::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A raw mail from header lines and a body written with `\n`.
fn eml(head: &str, body: &str) -> String {
    format!("{}\n\n{}", head.trim_end(), body).replace('\n', "\r\n")
}

struct Sample {
    /// The convention this mail must be recognised by (the first entry it matches).
    id: &'static str,
    /// Where this shape comes from.
    shape: &'static str,
    raw: String,
    /// Whether the mail names the case (subject tag or In-Reply-To our acknowledgement).
    names_case: bool,
}

/// One mail per convention, each in the shape its system writes. `tag` is the case's tag,
/// `ack` the Message-ID of our acknowledgement of it.
fn samples(tag: &str, ack: &str) -> Vec<Sample> {
    let s = |id, shape, raw: String, names_case| Sample {
        id,
        shape,
        raw,
        names_case,
    };
    vec![
        s(
            "exchange-oof",
            "Exchange Online out-of-office reply; Zammad out_of_office_check.rb",
            eml(
                &format!(
                    "From: Lotte Dekker <lotte.dekker@contoso.example>\nTo: Klachtenregistratie <info@example.org>\nSubject: Automatisch antwoord: Ontvangstbevestiging {tag}\nThread-Topic: Ontvangstbevestiging {tag}\nThread-Index: AQHbPzV0c2VhbXBsZQ==\nDate: Tue, 24 Nov 2026 10:31:00 +0000\nMessage-ID: <AM0PR01MB1234.oof@AM0PR01MB1234.eurprd01.prod.exchangelabs.com>\nIn-Reply-To: <{ack}>\nReferences: <{ack}>\nAuto-Submitted: auto-generated\nX-MS-Has-Attach:\nX-Auto-Response-Suppress: All\nX-MS-Exchange-Inbox-Rules-Loop: lotte.dekker@contoso.example\nContent-Language: nl-NL\nMIME-Version: 1.0\nContent-Type: text/plain; charset=\"us-ascii\""
                ),
                "Ik ben tot en met maandag 30 november afwezig.\n",
            ),
            true,
        ),
        s(
            "exchange-oof-subject",
            "Outlook's automatic reply (its Dutch subject), relayed by a server that dropped Auto-Submitted",
            eml(
                &format!(
                    "From: Kees Brouwer <kees.brouwer@hotmail.example>\nTo: info@example.org\nSubject: Automatisch antwoord: Ontvangstbevestiging {tag}\nThread-Topic: Ontvangstbevestiging {tag}\nDate: Tue, 24 Nov 2026 10:32:00 +0000\nMessage-ID: <DB9P.oof2@DB9P.eurprd.prod.outlook.com>\nContent-Type: text/plain; charset=\"iso-8859-1\"\nContent-Transfer-Encoding: quoted-printable"
                ),
                "Ik ben afwezig tot 1 december.\n",
            ),
            true,
        ),
        s(
            "zimbra-vacation",
            "Zimbra's vacation reply (Notification.java: Auto-Submitted: auto-replied (zimbra; vacation))",
            eml(
                &format!(
                    "Date: Tue, 24 Nov 2026 10:33:00 +0100 (CET)\nFrom: Joke Meijer <joke.meijer@zimbra.example>\nTo: info@example.org\nMessage-ID: <1431.1606210380@zimbra.example>\nIn-Reply-To: <{ack}>\nSubject: Re: Ontvangstbevestiging {tag}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nAuto-Submitted: auto-replied (zimbra; vacation)\nPrecedence: bulk"
                ),
                "Ik ben met vakantie.\n",
            ),
            true,
        ),
        s(
            "hosted-vacation-owner",
            "a hosted vacation responder (Zammad: auto-replied; owner-email=)",
            eml(
                &format!(
                    "From: henk.smit@cloud.example\nTo: info@example.org\nSubject: Re: Ontvangstbevestiging {tag}\nMessage-ID: <vac-1@cloud.example>\nAuto-Submitted: auto-replied; owner-email=\"henk.smit@cloud.example\"\nContent-Type: text/plain"
                ),
                "Afwezig.\n",
            ),
            true,
        ),
        s(
            "sieve-vacation",
            "Dovecot Pigeonhole vacation (RFC 5230 §5.2: subject \"Auto: \" + the original)",
            eml(
                &format!(
                    "Return-Path: <>\nMessage-ID: <dovecot-sieve-1606210380-1@mail.kpn.example>\nDate: Tue, 24 Nov 2026 10:34:00 +0100\nFrom: <marieke.deboer@kpn.example>\nTo: <info@example.org>\nSubject: Auto: Ontvangstbevestiging {tag}\nIn-Reply-To: <{ack}>\nReferences: <{ack}>\nAuto-Submitted: auto-replied (vacation)\nPrecedence: bulk\nX-Auto-Response-Suppress: All\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8"
                ),
                "Ik ben er niet.\n",
            ),
            true,
        ),
        s(
            "gmail-vacation",
            "Gmail's vacation responder (Auto-Submitted: auto-replied, Gmail's own headers)",
            eml(
                &format!(
                    "MIME-Version: 1.0\nFrom: Fatima Yilmaz <fatima.yilmaz@gmail.example>\nDate: Tue, 24 Nov 2026 10:35:00 +0100\nReferences: <{ack}>\nIn-Reply-To: <{ack}>\nAuto-Submitted: auto-replied\nX-Gm-Message-State: AOJu0YxSample\nX-Google-Smtp-Source: AGHT+IESample\nMessage-ID: <CAJvac1@mail.gmail.example>\nSubject: Re: Ontvangstbevestiging {tag}\nTo: info@example.org\nContent-Type: text/plain; charset=\"UTF-8\""
                ),
                "Bedankt voor uw bericht. Ik ben op vakantie tot 7 december.\n",
            ),
            true,
        ),
        s(
            "exchange-ndr",
            "Exchange Online NDR (Microsoft Learn: non-delivery reports in Exchange Online)",
            eml(
                &format!(
                    "From: Microsoft Outlook <postmaster@contoso.example>\nTo: <info@example.org>\nSubject: Onbestelbaar: Ontvangstbevestiging {tag}\nX-MS-Exchange-Message-Is-Ndr:\nContent-Language: nl-NL\nMessage-ID: <ndr-1@AM0PR01.prod.exchangelabs.com>\nIn-Reply-To: <{ack}>\nReferences: <{ack}>\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"ndr1\""
                ),
                "--ndr1\nContent-Type: text/plain; charset=utf-8\n\nUw bericht kon niet worden bezorgd.\n--ndr1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns;AM0PR01.prod.exchangelabs.com\n\nFinal-recipient: RFC822; c1@contoso.example\nAction: failed\nStatus: 5.1.10\n--ndr1--\n",
            ),
            true,
        ),
        s(
            "exim-failed-recipients",
            "Exim's bounce (Exim specification ch. 51: X-Failed-Recipients, Auto-Submitted: auto-replied)",
            eml(
                "Return-path: <>\nFrom: Mail Delivery System <Mailer-Daemon@mx.provider.example>\nTo: info@example.org\nSubject: Mail delivery failed: returning message to sender\nMessage-Id: <E1kxyz-0001@mx.provider.example>\nX-Failed-Recipients: c1@provider.example\nAuto-Submitted: auto-replied\nDate: Tue, 24 Nov 2026 10:36:00 +0100",
                "This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  c1@provider.example\n    mailbox is full\n",
            ),
            false,
        ),
        s(
            "rfc3464-dsn",
            "Postfix bounce(5) with an RFC 3464 delivery-status part",
            eml(
                "Return-Path: <>\nFrom: MAILER-DAEMON@mail.example.org (Mail Delivery System)\nSubject: Undelivered Mail Returned to Sender\nTo: info@example.org\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"4j7lX.1/mail.example.org\"\nMessage-Id: <4j7lX.2@mail.example.org>",
                "--4j7lX.1/mail.example.org\nContent-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\nThis is the mail system at host mail.example.org.\n\n--4j7lX.1/mail.example.org\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mail.example.org\n\nFinal-Recipient: rfc822; c1@hotmial.example\nAction: failed\nStatus: 5.4.4\n\n--4j7lX.1/mail.example.org--\n",
            ),
            false,
        ),
        s(
            "rfc8098-mdn",
            "Thunderbird's read receipt (RFC 8098 §3; Thunderbird writes \"Return Receipt (displayed)\")",
            eml(
                &format!(
                    "From: Bas van Leeuwen <bas.vanleeuwen@ziggo.example>\nTo: info@example.org\nSubject: Return Receipt (displayed) - Ontvangstbevestiging {tag}\nMessage-ID: <mdn-1@ziggo.example>\nDate: Tue, 24 Nov 2026 10:37:00 +0100\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=disposition-notification;\n boundary=\"------------mdn1\""
                ),
                &format!(
                    "--------------mdn1\nContent-Type: text/plain; charset=UTF-8\n\nThis is a Return Receipt for the mail that you sent.\n--------------mdn1\nContent-Type: message/disposition-notification\n\nReporting-UA: ziggo.example; Thunderbird 128.0\nFinal-Recipient: rfc822;bas.vanleeuwen@ziggo.example\nOriginal-Message-ID: <{ack}>\nDisposition: manual-action/MDN-sent-manually; displayed\n--------------mdn1--\n"
                ),
            ),
            true,
        ),
        s(
            "rfc5965-arf",
            "an abuse feedback-loop report (RFC 5965 §2, Appendix B)",
            eml(
                "From: <feedback@arf.mail.provider.example>\nTo: info@example.org\nSubject: FW: Ontvangstbevestiging\nMessage-ID: <arf-1@provider.example>\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report;\n boundary=\"part1_13d.2e68ed54_boundary\"",
                "--part1_13d.2e68ed54_boundary\nContent-Type: text/plain\n\nThis is an email abuse report.\n--part1_13d.2e68ed54_boundary\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: SomeGenerator/1.0\nVersion: 1\n--part1_13d.2e68ed54_boundary--\n",
            ),
            false,
        ),
        s(
            "rfc8460-tlsrpt",
            "an SMTP TLS report (RFC 8460 §5.3: TLS-Report-Domain, TLS-Report-Submitter)",
            eml(
                "From: tlsrpt-noreply@google.example\nTo: info@example.org\nSubject: Report Domain: example.org Submitter: google.example Report-ID: <2026.11.24T00.00.00Z+example.org@google.example>\nTLS-Report-Domain: example.org\nTLS-Report-Submitter: google.example\nMessage-ID: <tlsrpt-1@google.example>\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=tlsrpt; boundary=\"tls1\"",
                "--tls1\nContent-Type: text/plain\n\nThis is an aggregate TLS report from google.example\n--tls1\nContent-Type: application/tlsrpt+gzip\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"google.example!example.org!1.json.gz\"\n\nH4sIAAAAAAAAA6tWKkktLlGyUlAqS8wpTVWqBQBKpVeNEQAAAA==\n--tls1--\n",
            ),
            false,
        ),
        s(
            "rfc7489-dmarc-report",
            "a DMARC aggregate report (RFC 7489 §7.2.1.1 subject; as Google sends it)",
            eml(
                "From: noreply-dmarc-support@google.example\nTo: info@example.org\nSubject: Report domain: example.org Submitter: google.example Report-ID: 17354129843372018735\nMessage-ID: <dmarc-1@google.example>\nMIME-Version: 1.0\nContent-Type: application/zip; name=\"google.example!example.org!1732406400!1732492799.zip\"\nContent-Disposition: attachment; filename=\"google.example!example.org!1732406400!1732492799.zip\"\nContent-Transfer-Encoding: base64",
                "UEsDBBQAAAAIAA==\n",
            ),
            false,
        ),
        s(
            "exchange-calendar",
            "Outlook's meeting acceptance, Dutch (Content-Class: urn:content-classes:calendarmessage, [MS-OXCMAIL])",
            eml(
                &format!(
                    "From: Anna Jansen <anna.jansen@contoso.example>\nTo: Klachtenregistratie <info@example.org>\nSubject: Geaccepteerd: Gesprek over uw klacht {tag}\nThread-Topic: Gesprek over uw klacht {tag}\nMessage-ID: <cal-1@contoso.example>\nIn-Reply-To: <{ack}>\nContent-Class: urn:content-classes:calendarmessage\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"_000_cal1_\""
                ),
                "--_000_cal1_\nContent-Type: text/plain; charset=\"us-ascii\"\n\n\n--_000_cal1_\nContent-Type: text/calendar; charset=\"utf-8\"; method=REPLY\n\nBEGIN:VCALENDAR\nMETHOD:REPLY\nBEGIN:VEVENT\nATTENDEE;PARTSTAT=ACCEPTED:mailto:anna.jansen@contoso.example\nUID:040000008200E00074C5B7101A82E008\nEND:VEVENT\nEND:VCALENDAR\n--_000_cal1_--\n",
            ),
            true,
        ),
        s(
            "google-calendar",
            "Google Calendar's reply to an invitation (Sender: Google Calendar <calendar-notification@google.com>)",
            eml(
                &format!(
                    "Sender: Google Calendar <calendar-notification@google.com>\nFrom: Yasmina Bouzid <yasmina.bouzid@gmail.example>\nTo: info@example.org\nSubject: Accepted: Gesprek over uw klacht {tag} @ Tue 1 Dec 2026 10am - 11am (CET) (info@example.org)\nMessage-ID: <000000000000cal2@google.com>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"000000000000cal2\""
                ),
                "--000000000000cal2\nContent-Type: text/plain; charset=\"UTF-8\"\n\nYasmina Bouzid has accepted this invitation.\n--000000000000cal2--\n",
            ),
            true,
        ),
        s(
            "imip-calendar",
            "a calendar client sending its cancellation as a bare text/calendar (RFC 6047 §2.4)",
            eml(
                &format!(
                    "From: Agenda <agenda@school.example>\nTo: info@example.org\nSubject: Geannuleerd: Gesprek {tag}\nMessage-ID: <cal-3@school.example>\nMIME-Version: 1.0\nContent-Type: text/calendar; charset=utf-8; method=CANCEL"
                ),
                "BEGIN:VCALENDAR\nMETHOD:CANCEL\nBEGIN:VEVENT\nUID:cal-3\nSTATUS:CANCELLED\nEND:VEVENT\nEND:VCALENDAR\n",
            ),
            true,
        ),
        s(
            "zendesk",
            "a Zendesk ticket notification (Zendesk: headers that persist on outbound mail)",
            eml(
                &format!(
                    "Date: Tue, 24 Nov 2026 09:38:00 +0000\nFrom: Acme Support <support@acme.example>\nReply-To: Acme Support <support+id12345@acme.zendesk.example>\nTo: info@example.org\nMessage-ID: <M7W4K4OZLY_5e41e7@zendesk.example>\nIn-Reply-To: <{ack}>\nSubject: [Acme Support] Re: Ontvangstbevestiging {tag}\nMime-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nX-Delivery-Context: event-id-1030766596754\nAuto-Submitted: auto-generated\nX-Auto-Response-Suppress: All\nX-Mailer: Zendesk Mailer\nX-Zendesk-From-Account-Id: 4ca1477\nX-Zendesk-Email-Id: 01M3Q58ZANF2HQSGH9BZZ4ZS8S"
                ),
                "Uw verzoek (12345) is ontvangen en wordt door ons supportteam bekeken.\n",
            ),
            true,
        ),
        s(
            "jira",
            "a Jira Service Management notification (X-JIRA-FingerPrint, Auto-Submitted, Precedence: bulk)",
            eml(
                &format!(
                    "From: \"Helpdesk (Jira)\" <jira@leverancier.atlassian.example>\nTo: info@example.org\nMessage-ID: <JIRA.590899.1460652300154@Atlassian.JIRA>\nIn-Reply-To: <{ack}>\nSubject: [JIRA] (HELP-579) Ontvangstbevestiging {tag}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nX-JIRA-FingerPrint: 34ed612e0c4ee035f333de85b64c81ec\nAuto-Submitted: auto-generated\nPrecedence: bulk"
                ),
                "Uw verzoek is aangemaakt als HELP-579.\n",
            ),
            true,
        ),
        s(
            "freshdesk-ticket-received",
            "Freshdesk's \"Ticket Received\" reply, no machine header at all (FreeScout issue #2445)",
            eml(
                &format!(
                    "Date: Tue, 06 Dec 2026 08:01:09 +0000\nFrom: Corporate Support Ticket <corporatesupport@leverancier.example>\nReply-To: Corporate Support Ticket <corporatesupport@leverancier.example>\nTo: info@example.org\nMessage-ID: <638ef6c58b985_1bc2.sidekiq-frequent-fd-poduseast1@leverancier.example>\nSubject: Ticket Received - Ontvangstbevestiging {tag} [#117904]\nContent-Type: text/plain; charset=UTF-8"
                ),
                "Thank you for contacting us. Your ticket has been received.\n",
            ),
            true,
        ),
        s(
            "request-tracker",
            "Request Tracker's autoreply (X-RT-Loop-Prevention, RT-Ticket)",
            eml(
                &format!(
                    "Subject: [rt.leverancier.example #1234] AutoReply: Ontvangstbevestiging {tag}\nFrom: \"Helpdesk via RT\" <helpdesk@leverancier.example>\nReply-To: helpdesk@leverancier.example\nTo: info@example.org\nMessage-ID: <rt-5.0.1-1234-1606210380-1.1234-6-0@leverancier.example>\nIn-Reply-To: <{ack}>\nRT-Ticket: rt.leverancier.example #1234\nX-RT-Loop-Prevention: rt.leverancier.example\nContent-Type: text/plain; charset=\"utf-8\""
                ),
                "This message has been automatically generated in response to the\ncreation of a trouble ticket.\n",
            ),
            true,
        ),
        s(
            "x-loop",
            "an OTRS auto-response (X-Loop: yes; Zammad auto_response_check.rb, osTicket issue #532)",
            eml(
                &format!(
                    "From: Servicedesk <servicedesk@gemeente.example>\nTo: info@example.org\nSubject: [Ticket#2026112410000012] RE: Ontvangstbevestiging {tag}\nMessage-ID: <1606210380.123@otrs.gemeente.example>\nX-Loop: yes\nX-Mailer: OTRS Mail Service (6.0)\nContent-Type: text/plain; charset=\"utf-8\""
                ),
                "Uw e-mail is ontvangen en geregistreerd.\n",
            ),
            true,
        ),
        s(
            "mailman",
            "a Mailman 3 list post (X-Mailman-Version, List-Id, Precedence: list)",
            eml(
                "From: Jan Pieters <jan@cursisten.example>\nTo: cursisten@lists.example.net\nSubject: [Cursisten] Rooster december\nMessage-ID: <list-1@cursisten.example>\nX-Mailman-Version: 3.3.9\nPrecedence: list\nList-Id: Cursisten <cursisten.lists.example.net>\nList-Post: <mailto:cursisten@lists.example.net>\nX-BeenThere: cursisten@lists.example.net\nContent-Type: text/plain; charset=utf-8",
                "Weet iemand al het rooster voor december?\n",
            ),
            false,
        ),
        s(
            "x-beenthere",
            "a Mailman 2 list post as some gateways pass it (X-BeenThere)",
            eml(
                "From: Jan Pieters <jan@cursisten.example>\nTo: cursisten@lists.example.net\nSubject: [Cursisten] Examendata\nMessage-ID: <list-2@cursisten.example>\nX-BeenThere: cursisten@lists.example.net\nContent-Type: text/plain; charset=utf-8",
                "De examendata staan online.\n",
            ),
            false,
        ),
        s(
            "google-groups",
            "a Google Groups post (X-Google-Group-Id, Mailing-list, List-ID)",
            eml(
                "From: Docent <docent@school.example>\nTo: docenten@googlegroups.example\nSubject: Vergadering\nMessage-ID: <gg-1@school.example>\nX-Google-Group-Id: 123456789\nMailing-list: list docenten@googlegroups.example; contact docenten+owners@googlegroups.example\nList-ID: <docenten.googlegroups.example>\nPrecedence: list\nContent-Type: text/plain",
                "Vergadering verzet.\n",
            ),
            false,
        ),
        s(
            "mailing-list-header",
            "an ezmlm list post (Mailing-List: contact …; run by ezmlm)",
            eml(
                "From: lid@example.net\nTo: leden@lists.example.net\nSubject: Jaarvergadering\nMessage-ID: <ezmlm-1@example.net>\nMailing-List: contact leden-help@lists.example.net; run by ezmlm\nDelivered-To: mailing list leden@lists.example.net\nContent-Type: text/plain",
                "Graag tot ziens.\n",
            ),
            false,
        ),
        s(
            "rfc2919-list-id",
            "a Sympa list post (RFC 2919 List-Id)",
            eml(
                "From: Secretariaat <secretariaat@branche.example>\nTo: leden@sympa.branche.example\nSubject: Klachtenregeling branche\nMessage-ID: <sympa-1@branche.example>\nList-Id: <leden.sympa.branche.example>\nX-Loop: leden@sympa.branche.example\nContent-Type: text/plain",
                "Nieuwe klachtenregeling.\n",
            ),
            false,
        ),
        s(
            "rfc2369-list-headers",
            "a newsletter with one-click unsubscribe (RFC 2369, RFC 8058)",
            eml(
                "From: Opleidingsvak <nieuws@opleidingsvak.example>\nTo: info@example.org\nSubject: Nieuwsbrief november: zo ga je om met klachten van cursisten\nMessage-ID: <news-1@opleidingsvak.example>\nList-Unsubscribe: <https://opleidingsvak.example/afmelden?u=1>\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\nContent-Type: text/html; charset=utf-8",
                "<p>Zo ga je om met klachten.</p>\n",
            ),
            false,
        ),
        s(
            "rfc2369-list-post",
            "a list post carrying only List-Post (RFC 2369 §3.4)",
            eml(
                "From: a@lists.example.net\nTo: info@example.org\nSubject: Bijeenkomst\nMessage-ID: <lp-1@example.net>\nList-Post: <mailto:forum@lists.example.net>\nContent-Type: text/plain",
                "Tot dan.\n",
            ),
            false,
        ),
        s(
            "rfc2369-list-other",
            "a LISTSERV post with List-Help (RFC 2369 §3.1)",
            eml(
                "From: b@lists.example.net\nTo: info@example.org\nSubject: Bericht aan de lijst\nMessage-ID: <lh-1@example.net>\nList-Help: <mailto:listserv@lists.example.net?body=INFO%20FORUM>\nContent-Type: text/plain",
                "Informatie.\n",
            ),
            false,
        ),
        s(
            "rfc2369-list-subscribe",
            "a list post with List-Subscribe (RFC 2369 §3.3)",
            eml(
                "From: c@lists.example.net\nTo: info@example.org\nSubject: Lijstbericht\nMessage-ID: <ls-1@example.net>\nList-Subscribe: <mailto:forum-request@lists.example.net?subject=subscribe>\nContent-Type: text/plain",
                "Lijst.\n",
            ),
            false,
        ),
        s(
            "rfc2369-list-owner",
            "a list post with List-Owner (RFC 2369 §3.6)",
            eml(
                "From: d@lists.example.net\nTo: info@example.org\nSubject: Lijstbericht 2\nMessage-ID: <lo-1@example.net>\nList-Owner: <mailto:forum-owner@lists.example.net>\nContent-Type: text/plain",
                "Lijst.\n",
            ),
            false,
        ),
        s(
            "rfc2369-list-archive",
            "a list post with List-Archive (RFC 2369 §3.6.2)",
            eml(
                "From: e@lists.example.net\nTo: info@example.org\nSubject: Lijstbericht 3\nMessage-ID: <la-1@example.net>\nList-Archive: <https://lists.example.net/archive/forum/>\nContent-Type: text/plain",
                "Lijst.\n",
            ),
            false,
        ),
        s(
            "precedence-bulk",
            "a web shop's bulk mail (Precedence: bulk, RFC 2076 §3.9)",
            eml(
                "From: Webwinkel <service@webwinkel.example>\nTo: info@example.org\nSubject: Uw bestelling is verzonden\nMessage-ID: <bulk-1@webwinkel.example>\nPrecedence: bulk\nContent-Type: text/plain",
                "Uw pakket is onderweg.\n",
            ),
            false,
        ),
        s(
            "rfc3834-auto-replied",
            "an iCloud vacation reply (RFC 3834 §5: Auto-Submitted: auto-replied)",
            eml(
                &format!(
                    "From: Sanne Jansen <sanne.jansen@icloud.example>\nTo: info@example.org\nSubject: Re: Ontvangstbevestiging {tag}\nMessage-ID: <vac-2@icloud.example>\nIn-Reply-To: <{ack}>\nAuto-Submitted: auto-replied\nContent-Type: text/plain"
                ),
                "Ik ben op vakantie.\n",
            ),
            true,
        ),
        s(
            "x-autoreply",
            "a Yahoo-style autoresponder (X-Autoreply: yes; osTicket's auto headers)",
            eml(
                &format!(
                    "From: ruud.hermans@yahoo.example\nTo: info@example.org\nSubject: Re: Ontvangstbevestiging {tag}\nMessage-ID: <yvac-1@yahoo.example>\nX-Autoreply: yes\nContent-Type: text/plain"
                ),
                "Ik ben er even niet.\n",
            ),
            true,
        ),
        s(
            "x-autorespond",
            "a cPanel/Exim autoresponder (X-Autorespond)",
            eml(
                &format!(
                    "From: info@bakkerij.example\nTo: info@example.org\nSubject: Autoreply: Ontvangstbevestiging {tag}\nMessage-ID: <cp-1@bakkerij.example>\nX-Autorespond: Ontvangstbevestiging {tag}\nContent-Type: text/plain"
                ),
                "Bedankt voor uw mail, wij reageren binnen twee dagen.\n",
            ),
            true,
        ),
        s(
            "x-autoresponder",
            "an OpenSRS autoresponder via Amazon SES (FreeScout issue #4226)",
            eml(
                &format!(
                    "From: hr@bedrijf.example\nTo: info@example.org\nSubject: Out of office Re: Ontvangstbevestiging {tag}\nMessage-ID: <ses-1@email.amazonses.example>\nX-Autoresponder: Will not send another autoreply for 86400 seconds\nContent-Type: text/plain"
                ),
                "Niet aanwezig.\n",
            ),
            true,
        ),
        s(
            "x-autoresponse",
            "an autoresponder marking X-Autoresponse (osTicket's auto headers)",
            eml(
                &format!(
                    "From: klant@provider.example\nTo: info@example.org\nSubject: Re: Ontvangstbevestiging {tag}\nMessage-ID: <ar-1@provider.example>\nX-Autoresponse: yes\nContent-Type: text/plain"
                ),
                "Niet aanwezig.\n",
            ),
            true,
        ),
        s(
            "x-autoreply-from",
            "an autoresponder marking X-AutoReply-From (osTicket pull request #5320)",
            eml(
                &format!(
                    "From: klant2@provider.example\nTo: info@example.org\nSubject: Re: Ontvangstbevestiging {tag}\nMessage-ID: <arf-2@provider.example>\nX-AutoReply-From: klant2@provider.example\nContent-Type: text/plain"
                ),
                "Niet aanwezig.\n",
            ),
            true,
        ),
        s(
            "x-mail-autoreply",
            "an autoresponder marking X-Mail-Autoreply",
            eml(
                &format!(
                    "From: klant3@provider.example\nTo: info@example.org\nSubject: Re: Ontvangstbevestiging {tag}\nMessage-ID: <mar-1@provider.example>\nX-Mail-Autoreply: yes\nContent-Type: text/plain"
                ),
                "Niet aanwezig.\n",
            ),
            true,
        ),
        s(
            "x-auto-reply",
            "an autoresponder marking X-Auto-Reply",
            eml(
                &format!(
                    "From: klant4@provider.example\nTo: info@example.org\nSubject: Re: Ontvangstbevestiging {tag}\nMessage-ID: <xar-1@provider.example>\nX-Auto-Reply: yes\nContent-Type: text/plain"
                ),
                "Niet aanwezig.\n",
            ),
            true,
        ),
        s(
            "precedence-auto-reply",
            "vacation(1) (Precedence: junk and nothing else; sample 14's shape)",
            eml(
                &format!(
                    "From: ilse.verbeek@kpnmail.example\nTo: info@example.org\nSubject: Re: Ontvangstbevestiging {tag}\nPrecedence: junk\nX-Mailer: vacation 1.2.7\nMessage-ID: <vac-3@kpnmail.example>"
                ),
                "Ik ben op vakantie.\n",
            ),
            true,
        ),
        s(
            "mailer-daemon",
            "qmail's bounce (\"Hi. This is the qmail-send program\", From MAILER-DAEMON, plain text)",
            eml(
                "From: MAILER-DAEMON@mx.provider.example\nTo: info@example.org\nSubject: failure notice\nMessage-ID: <qmail-1@mx.provider.example>",
                "Hi. This is the qmail-send program at mx.provider.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\n",
            ),
            false,
        ),
        s(
            "exchange-system-mailbox",
            "Exchange 2010's NDR from its system mailbox (MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e)",
            eml(
                &format!(
                    "From: Microsoft Exchange <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.example>\nTo: info@example.org\nSubject: Kan niet worden bezorgd: Ontvangstbevestiging {tag}\nMessage-ID: <ex2010-1@contoso.example>\nContent-Type: text/plain"
                ),
                "Bezorging is mislukt voor deze ontvangers of groepen.\n",
            ),
            true,
        ),
        s(
            "bounce-subject",
            "a Postfix bounce passed on by a forwarder that rewrote its sender (Postfix bounce(5) subject)",
            eml(
                "From: Mail Delivery System <noreply@forwarder.example>\nTo: info@example.org\nSubject: Undelivered Mail Returned to Sender\nMessage-ID: <fw-bounce-1@forwarder.example>\nContent-Type: text/plain",
                "This is the mail system at host forwarder.example.\n",
            ),
            false,
        ),
        s(
            "null-return-path",
            "a delivery notice sent with an empty envelope sender (RFC 5321 §4.5.5)",
            eml(
                "Return-Path: <>\nFrom: Mailsysteem <noreply@mail.provider.example>\nTo: info@example.org\nSubject: Bericht vertraagd\nMessage-ID: <delay-1@mail.provider.example>\nContent-Type: text/plain",
                "Uw bericht is nog niet afgeleverd; wij proberen het opnieuw.\n",
            ),
            false,
        ),
        s(
            "multipart-report",
            "a Lotus Domino report without a report-type (RFC 6522 multipart/report)",
            eml(
                "From: Mailsysteem <domino@bedrijf.example>\nTo: info@example.org\nSubject: DELIVERY FAILURE: User c1 not listed\nMessage-ID: <domino-1@bedrijf.example>\nMIME-Version: 1.0\nContent-Type: multipart/report; boundary=\"dom1\"",
                "--dom1\nContent-Type: text/plain\n\nYour message was not delivered.\n--dom1--\n",
            ),
            false,
        ),
        s(
            "noreply-sender",
            "a bank's notice from a no-reply address, no machine header (FreeScout issue #3670)",
            eml(
                "From: Bank <noreply@bank.example>\nTo: info@example.org\nSubject: Uw betaling is ontvangen\nMessage-ID: <nr-1@bank.example>\nContent-Type: text/plain",
                "Uw betaling is verwerkt. Dit bericht kunt u niet beantwoorden.\n",
            ),
            false,
        ),
        s(
            "rfc3834-auto-generated",
            "a system notice (RFC 3834 §5: Auto-Submitted: auto-generated)",
            eml(
                "From: Facturatie <facturen@leverancier.example>\nTo: info@example.org\nSubject: Uw factuur 2026-1187 staat klaar\nMessage-ID: <inv-1@leverancier.example>\nAuto-Submitted: auto-generated\nContent-Type: text/plain",
                "Uw factuur staat klaar in het portaal.\n",
            ),
            false,
        ),
        s(
            "imip-calendar-part",
            "Apple Calendar's reply to an invitation, Dutch UI (RFC 6047 §2.4: text/calendar; method=REPLY)",
            eml(
                &format!(
                    "From: Henk Smit <henk.smit@icloud.example>\nTo: info@example.org\nSubject: Geaccepteerd: Gesprek over uw klacht {tag}\nMessage-Id: <cal-4@icloud.example>\nMime-Version: 1.0 (Mac OS X Mail 16.0)\nContent-Type: multipart/alternative; boundary=\"Apple-Mail=_cal4\""
                ),
                "--Apple-Mail=_cal4\nContent-Type: text/plain; charset=utf-8\n\nHenk Smit heeft uw uitnodiging geaccepteerd.\n--Apple-Mail=_cal4\nContent-Type: text/calendar; charset=utf-8; method=REPLY\n\nBEGIN:VCALENDAR\nMETHOD:REPLY\nBEGIN:VEVENT\nUID:cal-4\nATTENDEE;PARTSTAT=ACCEPTED:mailto:henk.smit@icloud.example\nEND:VEVENT\nEND:VCALENDAR\n--Apple-Mail=_cal4--\n",
            ),
            true,
        ),
        s(
            "mdn-part",
            "a read receipt wrapped in multipart/mixed by a gateway (RFC 8098 §3.1 part)",
            eml(
                &format!(
                    "From: Zoe van Dijk <zoe.vandijk@hotmail.example>\nTo: info@example.org\nSubject: Gelezen: Ontvangstbevestiging {tag}\nMessage-ID: <mdn-2@hotmail.example>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"mdn2\""
                ),
                &format!(
                    "--mdn2\nContent-Type: text/plain\n\nUw bericht is gelezen.\n--mdn2\nContent-Type: message/disposition-notification\n\nFinal-Recipient: rfc822;zoe.vandijk@hotmail.example\nOriginal-Message-ID: <{ack}>\nDisposition: automatic-action/MDN-sent-automatically; displayed\n--mdn2--\n"
                ),
            ),
            true,
        ),
        s(
            "dsn-part",
            "a delivery report wrapped in multipart/mixed by a gateway (RFC 3464 §2.1 part)",
            eml(
                &format!(
                    "From: Postmeester <mail@gateway.example>\nTo: info@example.org\nSubject: Bezorgrapport: Ontvangstbevestiging {tag}\nMessage-ID: <dsn-2@gateway.example>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"dsn2\""
                ),
                "--dsn2\nContent-Type: text/plain\n\nNiet afgeleverd.\n--dsn2\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; gateway.example\n\nFinal-Recipient: rfc822; c1@example.net\nAction: failed\nStatus: 5.1.1\n--dsn2--\n",
            ),
            true,
        ),
    ]
}

thread_local! {
    /// Built once per test thread (loading the templates is the costly part); the staff
    /// address is a role, so a staff member's automatic mail is generated too.
    static WORLD: World = World::with_env(&[("KLACHTD__ROLES__STAFF", "staff@example.org")]);
}

/// A register with one complaint (and its acknowledgement queued): the case every sample names.
fn world_with_case() -> (World, Store, CaseRef, String) {
    let world = World::with_env(&[]);
    let (store, case, ack) = register_case(&world);
    (world, store, case, ack)
}

fn register_case(world: &World) -> (Store, CaseRef, String) {
    let mut store = Store::open_in_memory().unwrap();
    let now = at("2026-11-23T09:00:00Z");
    let case = world.complaint(&mut store, "complaint", "klager@example.net", now);
    let ack = outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .find(|m| m.kind == outbox::OutboxKind::Acknowledgement)
        .unwrap()
        .message_id;
    (store, case, ack)
}

#[test]
fn every_convention_has_a_sample_and_each_is_recognised_by_its_own() {
    let (world, _, case, ack) = world_with_case();
    let samples = samples(&format!("[{case}]"), &ack);
    for c in CONVENTIONS {
        let n = samples.iter().filter(|s| s.id == c.id).count();
        assert_eq!(n, 1, "{}: {n} samples", c.id);
        assert!(!c.source.is_empty() && !c.system.is_empty(), "{}", c.id);
    }
    for s in &samples {
        assert!(
            CONVENTIONS.iter().any(|c| c.id == s.id),
            "{}: no such convention",
            s.id
        );
        let mail = InboundMail::parse(s.raw.as_bytes()).unwrap();
        let verdict = klachtd::inbound::classify::classify(&mail, &world.settings, &NoCases);
        assert_eq!(
            verdict.reason(),
            convention(s.id).reason(),
            "{} ({})",
            s.id,
            s.shape
        );
    }
}

/// No case exists for the pure classification above.
struct NoCases;

impl klachtd::inbound::classify::KnownCases for NoCases {
    fn case_of_sent_message(&self, _: &str) -> Option<CaseRef> {
        None
    }
    fn case_exists(&self, _: CaseRef) -> bool {
        false
    }
    fn complainant_of(&self, _: CaseRef) -> Option<String> {
        None
    }
    fn case_of_complainant_message(&self, _: &str) -> Option<CaseRef> {
        None
    }
}

fn convention(id: &str) -> &'static Convention {
    CONVENTIONS.iter().find(|c| c.id == id).unwrap()
}

/// Each sample through the real intake: ignored with its convention as the reason, judged from
/// the headers alone unless the convention needs the body, kept whole, nothing queued, and —
/// when it names the case — noted in the case's history.
#[test]
fn each_sample_is_ignored_kept_and_noted_on_the_case_it_names() {
    let (world, mut store, case, ack) = world_with_case();
    let intake = world.intake();
    let now = at("2026-11-24T11:00:00Z");
    let case_id = cases::get(store.conn(), case).unwrap().unwrap().id;
    for (i, s) in samples(&format!("[{case}]"), &ack).into_iter().enumerate() {
        let c = convention(s.id);
        let queued = outbox::all(store.conn()).unwrap().len();
        let notes_before = automatic_notes(&store, case_id);
        let raw = RawMail {
            source_key: format!("sample-{i}"),
            bytes: s.raw.clone().into_bytes(),
            arrived_at: Some(now),
        };
        let prepared = intake.prepare(&raw);
        assert_eq!(prepared.decided_by_headers(), !c.needs_body(), "{}", s.id);
        let result = intake.record(&mut store, &prepared, now).unwrap();
        assert_eq!(result.outcome, MailOutcome::Ignored, "{}", s.id);
        assert_eq!(result.reason, c.reason(), "{}", s.id);
        assert_eq!(result.case, None, "{}", s.id);
        assert_eq!(
            outbox::all(store.conn()).unwrap().len(),
            queued,
            "{}: mail queued",
            s.id
        );
        let id: i64 = store
            .conn()
            .query_row(
                "SELECT id FROM mails WHERE source_key = ?1",
                [&raw.source_key],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            mails::raw_of(store.conn(), id).unwrap().unwrap(),
            raw.bytes,
            "{}: kept whole",
            s.id
        );
        let notes = automatic_notes(&store, case_id);
        if s.names_case {
            assert_eq!(notes.len(), notes_before.len() + 1, "{}: not noted", s.id);
            assert_eq!(notes.last().unwrap(), &c.history_note(), "{}", s.id);
        } else {
            assert_eq!(notes.len(), notes_before.len(), "{}: noted", s.id);
        }
    }
    assert_eq!(cases::list(store.conn()).unwrap().len(), 1);
}

fn automatic_notes(store: &Store, case_id: i64) -> Vec<String> {
    cases::events(store.conn(), case_id)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "automatic_mail")
        .map(|e| e.detail)
        .collect()
}

/// How a generated mail meets one test of the table.
#[derive(Debug, Clone, Default)]
struct Shape {
    headers: Vec<(String, String)>,
    subject_start: Option<String>,
    subject_inner: Vec<String>,
    sender_local: Option<String>,
    content_type: Option<String>,
    part: Option<String>,
}

/// A strategy for the changes that make a mail meet `test`.
fn meet(test: &'static Test) -> BoxedStrategy<Shape> {
    let word = "[a-z0-9]{1,8}";
    match *test {
        Test::Header(name) => (word, 0..3u8)
            .prop_map(move |(v, case)| Shape {
                headers: vec![(cased(name, case), v)],
                ..Shape::default()
            })
            .boxed(),
        Test::HeaderStarts(name, starts) => (proptest::sample::select(starts), word)
            .prop_map(move |(s, v)| Shape {
                headers: vec![(name.to_string(), format!("{s} {v}"))],
                ..Shape::default()
            })
            .boxed(),
        Test::HeaderContains(name, parts) => (proptest::sample::select(parts), word)
            .prop_map(move |(p, v)| Shape {
                headers: vec![(name.to_string(), format!("auto-replied ({v}; {p})"))],
                ..Shape::default()
            })
            .boxed(),
        Test::HeaderNot(name, _) => proptest::sample::select(
            &["auto-generated", "auto-replied", "auto-notified", "yes"][..],
        )
        .prop_map(move |v| Shape {
            headers: vec![(name.to_string(), v.to_string())],
            ..Shape::default()
        })
        .boxed(),
        Test::HeaderNull(name) => proptest::sample::select(&["<>", "< >", ""][..])
            .prop_map(move |v| Shape {
                headers: vec![(name.to_string(), v.to_string())],
                ..Shape::default()
            })
            .boxed(),
        Test::Subject(starts) => (proptest::sample::select(starts), any::<bool>())
            .prop_map(|(s, upper)| Shape {
                subject_start: Some(if upper {
                    s.to_uppercase()
                } else {
                    s.to_string()
                }),
                ..Shape::default()
            })
            .boxed(),
        Test::SubjectContains(parts) => proptest::sample::select(parts)
            .prop_map(|p| Shape {
                subject_inner: vec![p.to_string()],
                ..Shape::default()
            })
            .boxed(),
        Test::Sender(locals) => proptest::sample::select(locals)
            .prop_map(|l| Shape {
                sender_local: Some(l.to_uppercase()),
                ..Shape::default()
            })
            .boxed(),
        Test::SenderStarts(starts) => (proptest::sample::select(starts), "[a-z0-9-]{0,8}")
            .prop_map(|(s, tail)| Shape {
                sender_local: Some(format!("{}{tail}", s.to_uppercase())),
                ..Shape::default()
            })
            .boxed(),
        Test::SenderHex(prefix, n) => proptest::collection::vec(0..16u32, n)
            .prop_map(move |digits| Shape {
                sender_local: Some(format!(
                    "MicrosoftExchange{}",
                    digits
                        .iter()
                        .map(|d| char::from_digit(*d, 16).unwrap())
                        .collect::<String>()
                ))
                .filter(|_| prefix == "microsoftexchange"),
                ..Shape::default()
            })
            .boxed(),
        Test::ContentType(ct, param) => {
            let value = match param {
                Some((_, values)) if !values.is_empty() => {
                    proptest::sample::select(values).prop_map(Some).boxed()
                }
                Some(_) => Just(Some("REQUEST")).boxed(),
                None => Just(None).boxed(),
            };
            value
                .prop_map(move |v| Shape {
                    content_type: Some(match (param, v) {
                        (Some((name, _)), Some(v)) => format!("{ct}; {name}={v}"),
                        _ => ct.to_string(),
                    }),
                    ..Shape::default()
                })
                .boxed()
        }
        Test::Part(ct, param) => Just(Shape {
            part: Some(match param {
                Some(p) => format!("{ct}; {p}=REPLY"),
                None => ct.to_string(),
            }),
            ..Shape::default()
        })
        .boxed(),
        Test::All(tests) => tests
            .iter()
            .map(meet)
            .collect::<Vec<_>>()
            .prop_map(|shapes| {
                let mut all = Shape::default();
                for s in shapes {
                    all.headers.extend(s.headers);
                    all.subject_start = all.subject_start.or(s.subject_start);
                    all.subject_inner.extend(s.subject_inner);
                    all.sender_local = all.sender_local.or(s.sender_local);
                    all.content_type = all.content_type.or(s.content_type);
                    all.part = all.part.or(s.part);
                }
                all
            })
            .boxed(),
    }
}

fn cased(name: &str, case: u8) -> String {
    match case {
        0 => name.to_string(),
        1 => name.to_uppercase(),
        _ => name
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("-"),
    }
}

/// Who sends the generated mail.
#[derive(Debug, Clone, Copy)]
enum Writer {
    Stranger,
    Complainant,
    Staff,
}

/// A whole mail meeting `shape`, from `from`, naming the case or not, with a complaint's text.
fn render(shape: &Shape, from: Writer, tag: Option<&str>, ack: Option<&str>, text: &str) -> String {
    let domain = match from {
        Writer::Staff => "example.org",
        _ => "example.net",
    };
    let local = shape.sender_local.clone().unwrap_or_else(|| {
        match from {
            Writer::Stranger => "iemand",
            Writer::Complainant => "klager",
            Writer::Staff => "staff",
        }
        .to_string()
    });
    let mut subject = shape.subject_start.clone().unwrap_or_default();
    subject.push_str(" Klacht over de cursus ");
    for inner in &shape.subject_inner {
        subject.push_str(inner);
        subject.push(' ');
    }
    if let Some(tag) = tag {
        subject.push_str(tag);
    }
    let mut head = format!(
        "From: Iemand <{local}@{domain}>\nTo: info@example.org\nSubject: {}\nMessage-ID: <gen-{}@{domain}>\n",
        subject.trim(),
        subject.len()
    );
    if let Some(ack) = ack {
        head.push_str(&format!("In-Reply-To: <{ack}>\n"));
    }
    for (name, value) in &shape.headers {
        head.push_str(&format!("{name}: {value}\n"));
    }
    head.push_str("MIME-Version: 1.0\n");
    let body = match (&shape.content_type, &shape.part) {
        (Some(ct), _) if ct.starts_with("multipart/") => {
            head.push_str(&format!("Content-Type: {ct}; boundary=\"g1\"\n"));
            format!("--g1\nContent-Type: text/plain\n\n{text}\n--g1--\n")
        }
        (Some(ct), _) => {
            head.push_str(&format!("Content-Type: {ct}\n"));
            format!("{text}\n")
        }
        (None, Some(part)) => {
            head.push_str("Content-Type: multipart/mixed; boundary=\"g2\"\n");
            format!(
                "--g2\nContent-Type: text/plain\n\n{text}\n--g2\nContent-Type: {part}\n\nBEGIN:VCALENDAR\nEND:VCALENDAR\n--g2--\n"
            )
        }
        (None, None) => {
            head.push_str("Content-Type: text/plain; charset=utf-8\n");
            format!("{text}\n")
        }
    };
    eml(&head, &body)
}

fn any_convention() -> impl Strategy<Value = (usize, Shape)> {
    (0..CONVENTIONS.len()).prop_flat_map(|i| (Just(i), meet(&CONVENTIONS[i].test)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever the mail says and whoever sends it — a stranger, the complainant replying on the
    /// case, a staff member — a mail that matches any convention of the table is recorded as
    /// ignored with a machine's reason, and no mail is queued for anyone.
    #[test]
    fn no_mail_matching_a_convention_ever_causes_mail(
        (i, shape) in any_convention(),
        from in prop_oneof![Just(Writer::Stranger), Just(Writer::Complainant), Just(Writer::Staff)],
        by_tag in any::<bool>(),
        by_thread in any::<bool>(),
        text in "[A-Za-z ,.]{0,60}",
    ) {
        let (mut store, case, ack) = WORLD.with(register_case);
        let queued_at_start = outbox::all(store.conn()).unwrap().len();
        let tag = format!("[{case}]");
        let raw = render(
            &shape,
            from,
            by_tag.then_some(tag.as_str()),
            by_thread.then_some(ack.as_str()),
            &format!("Ik wil een klacht indienen. {text}"),
        );
        let queued = queued_at_start;
        let now = at("2026-11-24T11:00:00Z");
        let raw_mail = RawMail { source_key: "gen".into(), bytes: raw.clone().into_bytes(), arrived_at: Some(now) };
        let result = WORLD.with(|world| world.intake().process(&mut store, &raw_mail, now)).unwrap();
        prop_assert_eq!(result.outcome, MailOutcome::Ignored, "{}: {}\n{}", CONVENTIONS[i].id, &result.reason, raw);
        prop_assert!(result.reason.starts_with("automatic: "), "{}", &result.reason);
        prop_assert_eq!(outbox::all(store.conn()).unwrap().len(), queued, "{}", CONVENTIONS[i].id);
        prop_assert_eq!(cases::list(store.conn()).unwrap().len(), 1);
    }
}

/// What people write is never taken for a machine's: the signals real people's mail carries
/// too are not in the table (see `src/inbound/conventions.rs`), and each of these is a case
/// with an acknowledgement.
#[test]
fn people_are_not_taken_for_machines() {
    let (world, mut store, _, _) = world_with_case();
    let intake = world.intake();
    let now = at("2026-11-24T11:00:00Z");
    let people = [
        // Outlook puts X-Auto-Response-Suppress on ordinary mail (Jitbit: "we've lost tens of
        // perfectly good emails" filtering on it; [MS-OXCMAIL] §2.1.3.2.20: it asks the
        // recipient not to auto-reply).
        (
            "xars",
            "From: Kees <kees@hotmail.example>\nSubject: Klacht over het examen\nX-Auto-Response-Suppress: DR, OOF, AutoReply\nThread-Index: AQHbPz",
        ),
        // A person asking for a read receipt (RFC 8098 §2.1).
        (
            "dnt",
            "From: Jan <jan@ziggo.example>\nSubject: Klacht cursus\nDisposition-Notification-To: jan@ziggo.example\nReturn-Receipt-To: jan@ziggo.example",
        ),
        // Calendar words without calendar data: a complaint about a cancellation.
        (
            "geannuleerd",
            "From: Bas <bas@ziggo.example>\nSubject: Geannuleerd: workshop Timemanagement 2 december",
        ),
        (
            "geweigerd",
            "From: Henk <henk@ziggo.example>\nSubject: Geweigerd: mijn verzoek om restitutie",
        ),
        (
            "accepted",
            "From: Oliver <oliver@outlook.example>\nSubject: Accepted: but the refund never came",
        ),
        // "Auto:" is only Sieve's with Auto-Submitted beside it.
        (
            "auto",
            "From: Piet <piet@kpn.example>\nSubject: Auto: schade aan mijn auto op het parkeerterrein",
        ),
        // Auto-Submitted: no is RFC 3834's way of saying a person sent it.
        (
            "as-no",
            "From: Ria <ria@gmail.example>\nSubject: Klacht\nAuto-Submitted: no",
        ),
        // A sender whose local part merely starts like Exchange's system mailbox.
        (
            "msx",
            "From: M <microsoftexchangefan@example.net>\nSubject: Klacht",
        ),
    ];
    for (key, head) in people {
        let raw = eml(
            &format!(
                "{head}\nTo: info@example.org\nMessage-ID: <{key}@example.net>\nContent-Type: text/plain; charset=utf-8"
            ),
            "Geachte heer, mevrouw,\n\nIk ben niet tevreden over de cursus.\n",
        );
        let result = intake
            .process(
                &mut store,
                &RawMail {
                    source_key: key.into(),
                    bytes: raw.into_bytes(),
                    arrived_at: Some(now),
                },
                now,
            )
            .unwrap();
        assert_eq!(
            result.outcome,
            MailOutcome::CaseCreated,
            "{key}: {}",
            result.reason
        );
    }
    // An .ics file a person attaches (no METHOD: not an invitation, RFC 6047 §2.4).
    let raw = eml(
        "From: Yasmina <yasmina@gmail.example>\nTo: info@example.org\nSubject: De les stond in mijn agenda\nMessage-ID: <ics@example.net>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"x\"",
        "--x\nContent-Type: text/plain\n\nDe les ging niet door, zie de afspraak.\n--x\nContent-Type: text/calendar; name=\"les.ics\"\nContent-Disposition: attachment; filename=\"les.ics\"\n\nBEGIN:VCALENDAR\nEND:VCALENDAR\n--x--\n",
    );
    let result = intake
        .process(
            &mut store,
            &RawMail {
                source_key: "ics".into(),
                bytes: raw.into_bytes(),
                arrived_at: Some(now),
            },
            now,
        )
        .unwrap();
    assert_eq!(
        result.outcome,
        MailOutcome::CaseCreated,
        "{}",
        result.reason
    );
    // A forwarded bounce inside a person's complaint is the forwarded message's, not theirs.
    let raw = eml(
        "From: Wouter <wouter@ziggo.example>\nTo: info@example.org\nSubject: Fwd: mijn mail aan jullie kwam terug\nMessage-ID: <fwd-bounce@example.net>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"f\"",
        "--f\nContent-Type: text/plain\n\nMijn klacht kwam terug, zie hieronder.\n--f\nContent-Type: message/rfc822\n\nFrom: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail Returned to Sender\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: message/delivery-status\n\nAction: failed\n--b--\n--f--\n",
    );
    let result = intake
        .process(
            &mut store,
            &RawMail {
                source_key: "fwd".into(),
                bytes: raw.into_bytes(),
                arrived_at: Some(now),
            },
            now,
        )
        .unwrap();
    assert_eq!(
        result.outcome,
        MailOutcome::CaseCreated,
        "{}",
        result.reason
    );
    let acks = outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == outbox::OutboxKind::Acknowledgement)
        .count();
    assert_eq!(acks, 1 + 10, "every person acknowledged");
}

/// A person who answers on the case through a mailing list or a service desk is a machine's
/// mail by its headers — but never lost: the ledger keeps it whole, and the case's history
/// notes it, so staff see it; only the reply is withheld.
#[test]
fn a_person_writing_through_a_list_is_recorded_and_noted_not_lost() {
    let (world, mut store, case, ack) = world_with_case();
    let intake = world.intake();
    let now = at("2026-11-24T11:00:00Z");
    let raw = eml(
        &format!(
            "From: Klager via Cursisten <cursisten@lists.example.net>\nReply-To: klager@example.net\nTo: info@example.org\nSubject: Re: Ontvangstbevestiging [{case}]\nIn-Reply-To: <{ack}>\nMessage-ID: <list-reply@example.net>\nList-Id: <cursisten.lists.example.net>\nContent-Type: text/plain"
        ),
        "Ik heb nog steeds niets gehoord over mijn klacht.\n",
    );
    let raw = RawMail {
        source_key: "list-reply".into(),
        bytes: raw.into_bytes(),
        arrived_at: Some(now),
    };
    let result = intake.process(&mut store, &raw, now).unwrap();
    assert_eq!(result.outcome, MailOutcome::Ignored);
    let record = cases::get(store.conn(), case).unwrap().unwrap();
    let notes = automatic_notes(&store, record.id);
    assert_eq!(notes, [convention("rfc2919-list-id").history_note()]);
    let id: i64 = store
        .conn()
        .query_row(
            "SELECT id FROM mails WHERE source_key = 'list-reply'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(mails::raw_of(store.conn(), id).unwrap().unwrap(), raw.bytes);
}
