//! Classification: what an [`InboundMail`] is (a new complaint, a follow-up, a staff reply, a
//! machine, spam, unreadable, or not for us) and why. Pure: lookups come in through a trait.

use super::conventions::{self, Convention, View};
use super::mail::InboundMail;
use crate::domain::{CaseRef, EmailAddress};
use crate::settings::{IntakeMode, Role, Settings};
use std::fmt;

/// What klachtd knows about mail it sent and cases it has; implemented by the store.
pub trait KnownCases {
    /// The case a Message-ID we sent belongs to.
    fn case_of_sent_message(&self, message_id: &str) -> Option<CaseRef>;
    /// Whether a case with this reference exists and can still be linked (a case purged
    /// after the retention period cannot: mail naming it is handled as new mail).
    fn case_exists(&self, case: CaseRef) -> bool;
    /// The complainant's address of a case (none once purged).
    fn complainant_of(&self, case: CaseRef) -> Option<String>;
    /// The case of a Message-ID we sent to that case's complainant.
    fn case_of_complainant_message(&self, message_id: &str) -> Option<CaseRef>;
}

/// How a reply was tied to its case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// `[KL-2026-0042]` in the subject.
    SubjectTag,
    /// In-Reply-To or References names a mail klachtd sent.
    Thread,
}

/// Machine-made mail, never answered: by a convention of [`super::conventions`], or our own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Automatic {
    Convention(&'static Convention),
    OwnMail,
}

/// Where a mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    NewComplaint,
    FollowUp {
        case: CaseRef,
        link: Link,
    },
    /// Names a case but is neither from its complainant nor an answer to our mail to them.
    ThirdParty {
        case: CaseRef,
        link: Link,
    },
    Staff {
        role: Role,
        case: Option<CaseRef>,
    },
    Automatic(Automatic),
    Spam,
    Malformed(String),
    NotAComplaint,
}

impl Classification {
    /// Stored next to the mail, so the register says why each mail went where it went.
    pub fn reason(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Classification::NewComplaint => f.write_str("new complaint"),
            Classification::FollowUp { case, link } => {
                let how = match link {
                    Link::SubjectTag => "subject tag",
                    Link::Thread => "In-Reply-To/References",
                };
                write!(f, "follow-up on {case} (by {how})")
            }
            Classification::ThirdParty { case, link } => {
                let how = match link {
                    Link::SubjectTag => "subject tag",
                    Link::Thread => "In-Reply-To/References",
                };
                write!(
                    f,
                    "third-party mail on {case} (by {how}; not the complainant)"
                )
            }
            Classification::Staff { role, case } => {
                let who = match role {
                    Role::Staff => "staff",
                    Role::Director => "director",
                    Role::Committee => "exam committee",
                };
                match case {
                    Some(c) => write!(f, "mail from {who} on {c}"),
                    None => write!(f, "mail from {who}, no case found"),
                }
            }
            Classification::Automatic(kind) => match kind {
                Automatic::Convention(c) => f.write_str(&c.reason()),
                Automatic::OwnMail => f.write_str("automatic: our own mail"),
            },
            Classification::Spam => f.write_str("spam flagged by the server (X-Spam-Flag)"),
            Classification::Malformed(why) => write!(f, "malformed: {why}"),
            Classification::NotAComplaint => {
                f.write_str("not a complaint (intake keywords absent)")
            }
        }
    }
}

/// Decides what `mail` is. The order matters: a machine's mail is never answered even when it
/// carries a case tag, and staff are recognised before anything that looks like a follow-up.
/// Spam and machines are recognised by their headers before the body is judged: a bounce or
/// newsletter whose text cannot be decoded is still a machine's (ignored, nobody told).
pub fn classify(mail: &InboundMail, settings: &Settings, known: &dyn KnownCases) -> Classification {
    if mail.sender().is_none() && mail.from_unusable.is_none() {
        return Classification::Malformed("no From address".into());
    }
    if let Some(verdict) = classify_by_headers(mail, settings) {
        return verdict;
    }
    if let Some(defect) = mail.defects.first() {
        return Classification::Malformed(defect.describe().into());
    }
    let Some(sender) = mail.sender() else {
        // A person whose address klachtd cannot write to: registered all the same, marked
        // "cannot be answered by mail" (never a role, never a follow-up: nothing proves who).
        return match settings.intake.mode == IntakeMode::Keywords
            && !mentions_keyword(mail, &settings.intake.keywords)
        {
            true => Classification::NotAComplaint,
            false => Classification::NewComplaint,
        };
    };
    let case = linked_case(mail, known);
    if let Some(role) = settings.roles.role_of(sender) {
        // On their own case a staff member (director, committee) is the complainant.
        if let Some((case, link)) = case
            && is_the_complainant(sender, case, known)
        {
            return Classification::FollowUp { case, link };
        }
        return Classification::Staff {
            role,
            case: case.map(|(c, _)| c),
        };
    }
    if let Some((case, link)) = case {
        return if from_complainant(mail, sender, case, known) {
            Classification::FollowUp { case, link }
        } else {
            Classification::ThirdParty { case, link }
        };
    }
    if settings.intake.mode == IntakeMode::Keywords
        && !mentions_keyword(mail, &settings.intake.keywords)
    {
        return Classification::NotAComplaint;
    }
    Classification::NewComplaint
}

/// The verdict the headers alone make certain — spam, or a machine's mail — or `None` when
/// the rest of [`classify`] must judge (which may need the body). Needs only what
/// [`InboundMail::parse_headers`] reads, and says the same as [`classify`] on the fully
/// decoded mail whenever it says something, so the body of an ignored or quarantined mail
/// is never decoded (`fast_verdict_equals_the_full_classification`).
pub fn classify_by_headers(mail: &InboundMail, settings: &Settings) -> Option<Classification> {
    if mail.sender().is_none() && mail.from_unusable.is_none() {
        return None;
    }
    if mail.signals.spam_flag {
        return Some(Classification::Spam);
    }
    automatic(mail, &settings.organisation.address).map(Classification::Automatic)
}

fn automatic(mail: &InboundMail, own: &EmailAddress) -> Option<Automatic> {
    let s = &mail.signals;
    // Our own address under any +tag (the reply addresses we hand out) is us as well: mail
    // "from" it is never answered, so a forger cannot make klachtd write to itself.
    if s.ours
        || mail
            .sender()
            .is_some_and(|sender| sender.without_tag() == own.without_tag())
    {
        return Some(Automatic::OwnMail);
    }
    let local = match (mail.sender(), &mail.from_unusable) {
        (Some(sender), _) => sender.local_part(),
        (None, Some(raw)) => raw.rsplit_once('@').map_or(raw.as_str(), |(l, _)| l),
        (None, None) => "",
    };
    let view = View {
        fields: &s.fields,
        subject: &mail.subject,
        sender_local: local,
        content_type: &s.content_type,
        content_params: &s.content_params,
        parts: mail.parts.as_deref(),
    };
    conventions::recognise(&view).map(Automatic::Convention)
}

fn linked_case(mail: &InboundMail, known: &dyn KnownCases) -> Option<(CaseRef, Link)> {
    if let Some(case) = CaseRef::find_in_subject(&mail.subject).filter(|c| known.case_exists(*c)) {
        return Some((case, Link::SubjectTag));
    }
    mail.thread_ids
        .iter()
        .find_map(|id| known.case_of_sent_message(id))
        .map(|case| (case, Link::Thread))
}

/// The mailbox an address names: without its `+tag`, lower case, the domain in its one ASCII
/// form — `Jan+klacht@X.nl` → `jan@x.nl` ([`EmailAddress::without_tag`]).
pub fn base_address(address: &str) -> String {
    match address.parse::<EmailAddress>() {
        Ok(a) => a.without_tag(),
        Err(_) => address.trim().to_lowercase(),
    }
}

/// Whether `sender` is the complainant of `case` (the mailbox: no +tag, any case).
fn is_the_complainant(sender: &EmailAddress, case: CaseRef, known: &dyn KnownCases) -> bool {
    known
        .complainant_of(case)
        .is_some_and(|c| base_address(&c) == base_address(sender.as_str()))
}

/// Only the complainant adds to a complaint: the mail comes from the complainant's address
/// (without +tag, case-insensitive), or answers a mail we sent the complainant on this case.
fn from_complainant(
    mail: &InboundMail,
    sender: &EmailAddress,
    case: CaseRef,
    known: &dyn KnownCases,
) -> bool {
    is_the_complainant(sender, case, known)
        || mail
            .thread_ids
            .iter()
            .any(|id| known.case_of_complainant_message(id) == Some(case))
}

fn mentions_keyword(mail: &InboundMail, keywords: &[String]) -> bool {
    let subject = mail.subject.to_lowercase();
    let text = mail.text.to_lowercase();
    keywords.iter().map(|k| k.to_lowercase()).any(|k| {
        let is_word = |hay: &str| {
            hay.match_indices(&k).any(|(i, _)| {
                let before = hay[..i].chars().next_back();
                !before.is_some_and(char::is_alphanumeric)
            })
        };
        is_word(&subject) || is_word(&text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct OneCase {
        complainant: String,
        our_ack: String,
    }

    impl KnownCases for OneCase {
        fn case_of_sent_message(&self, id: &str) -> Option<CaseRef> {
            (id == self.our_ack || id == "staff-notification@example.org")
                .then(|| CaseRef::new(2026, 1))
        }
        fn case_exists(&self, case: CaseRef) -> bool {
            case == CaseRef::new(2026, 1)
        }
        fn complainant_of(&self, _: CaseRef) -> Option<String> {
            Some(self.complainant.clone())
        }
        fn case_of_complainant_message(&self, id: &str) -> Option<CaseRef> {
            (id == self.our_ack).then(|| CaseRef::new(2026, 1))
        }
    }

    fn settings() -> Settings {
        Settings::load_with_env(None, Vec::<(String, String)>::new()).unwrap()
    }

    proptest! {
        /// A mail naming the case is the complainant's only from the complainant's address
        /// (any +tag, any case) or in answer to our mail to them; otherwise third-party.
        #[test]
        fn only_the_complainant_adds_to_a_complaint(
            local in "[a-z]{1,6}",
            other in "[a-z]{1,6}",
            tag in proptest::option::of("[a-z0-9]{1,5}"),
            upper in any::<bool>(),
            thread in prop_oneof![Just(None), Just(Some("ack@example.org")), Just(Some("staff-notification@example.org"))],
            by_subject in any::<bool>(),
        ) {
            let known = OneCase { complainant: format!("{local}@example.net"), our_ack: "ack@example.org".into() };
            let mut sender = format!("{other}{}@example.net", tag.map(|t| format!("+{t}")).unwrap_or_default());
            if upper {
                sender = sender.to_uppercase();
            }
            let subject = if by_subject || thread.is_none() { "RE: [KL-2026-0001] x" } else { "RE: x" };
            let raw = format!(
                "From: <{sender}>\r\nTo: info@example.org\r\nSubject: {subject}\r\n{}Message-ID: <m@x>\r\n\r\nTekst\r\n",
                thread.map(|t| format!("In-Reply-To: <{t}>\r\n")).unwrap_or_default()
            );
            let mail = InboundMail::parse(raw.as_bytes()).unwrap();
            let c = classify(&mail, &settings(), &known);
            let complainant = other == local || thread == Some("ack@example.org");
            match c {
                Classification::FollowUp { .. } => prop_assert!(complainant),
                Classification::ThirdParty { .. } => prop_assert!(!complainant),
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }

    /// One header field of a generated mail: its name (any case) and value.
    fn header_field() -> impl Strategy<Value = (String, String)> {
        let from = prop_oneof![
            Just("Jan Jansen <jan@example.net>".to_string()),
            Just("=?UTF-8?Q?Jos=C3=A9_Bakker?= <jose@example.net>".to_string()),
            Just("MAILER-DAEMON@mail.example.org (Mail Delivery System)".to_string()),
            Just("postmaster@example.net".to_string()),
            Just("Bank <noreply@bank.example>".to_string()),
            Just("Microsoft Exchange <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.example>".to_string()),
            Just("Klachten <info+kl-2026-0001.abc@example.org>".to_string()),
            Just("<a..b@example.net>".to_string()),
            Just("\"quoted local\"@example.net".to_string()),
            Just("undisclosed-recipients:;".to_string()),
            "[a-z]{1,8}@example\\.net",
        ];
        let subject = prop_oneof![
            Just("Klacht over de cursus".to_string()),
            Just("Automatisch antwoord: Ontvangstbevestiging klacht [KL-2026-0001]".to_string()),
            Just("=?iso-8859-1?B?TGVzZ2VsZCB0d2VlIGtlZXIgZ2XvbmNhc3NlZXJk?=".to_string()),
            Just("*****SPAM***** Klacht over uw betaling".to_string()),
            Just("Automatic reply: Klacht".to_string()),
            Just("Auto: Ontvangstbevestiging".to_string()),
            Just("Ticket Received - Klacht [#117904]".to_string()),
            Just("Report Domain: example.org Submitter: google.com Report-ID: 1".to_string()),
            Just("Undeliverable: Ontvangstbevestiging".to_string()),
            "[A-Za-z ]{0,30}",
        ];
        let field = prop_oneof![
            from.prop_map(|v| ("From".to_string(), v)),
            subject.prop_map(|v| ("Subject".to_string(), v)),
            Just(("To".to_string(), "info@example.org".to_string())),
            Just(("Message-ID".to_string(), "<m1@example.net>".to_string())),
            Just(("In-Reply-To".to_string(), "<ack@example.org>".to_string())),
            prop_oneof![
                Just("no"),
                Just("auto-replied"),
                Just("auto-generated"),
                Just("No")
            ]
            .prop_map(|v| ("Auto-Submitted".to_string(), v.to_string())),
            prop_oneof![
                Just("bulk"),
                Just("junk"),
                Just("list"),
                Just("first-class"),
                Just("Bulk")
            ]
            .prop_map(|v| ("Precedence".to_string(), v.to_string())),
            Just((
                "List-Id".to_string(),
                "Nieuws <nieuws.example.net>".to_string()
            )),
            Just((
                "List-Unsubscribe".to_string(),
                "<https://example.net/af>".to_string()
            )),
            Just(("X-Auto-Response-Suppress".to_string(), "All".to_string())),
            // Vendor conventions (issue 23): each alone, or with its companions.
            Just((
                "X-MS-Exchange-Inbox-Rules-Loop".to_string(),
                "lotte@contoso.example".to_string()
            )),
            Just((
                "Content-Class".to_string(),
                "urn:content-classes:calendarmessage".to_string()
            )),
            Just((
                "X-Zendesk-From-Account-Id".to_string(),
                "4ca1477".to_string()
            )),
            Just((
                "X-JIRA-FingerPrint".to_string(),
                "34ed612e0c4ee035f333de85b64c81ec".to_string()
            )),
            Just(("X-Loop".to_string(), "yes".to_string())),
            Just((
                "X-Failed-Recipients".to_string(),
                "a@example.net".to_string()
            )),
            Just(("X-Mailman-Version".to_string(), "3.3.9".to_string())),
            Just(("TLS-Report-Domain".to_string(), "example.org".to_string())),
            Just((
                "Sender".to_string(),
                "Google Calendar <calendar-notification@google.com>".to_string()
            )),
            prop_oneof![
                Just("auto-replied (zimbra; vacation)"),
                Just("auto-replied; owner-email=\"a@b.example\""),
                Just("auto-notified"),
            ]
            .prop_map(|v| ("Auto-Submitted".to_string(), v.to_string())),
            Just(("X-Autoreply".to_string(), "yes".to_string())),
            Just(("X-Autorespond".to_string(), "yes".to_string())),
            prop_oneof![Just("<>"), Just("<jan@example.net>"), Just("< >")]
                .prop_map(|v| ("Return-Path".to_string(), v.to_string())),
            prop_oneof![Just("YES"), Just("NO"), Just("yes")]
                .prop_map(|v| ("X-Spam-Flag".to_string(), v.to_string())),
            prop_oneof![
                Just("Yes, score=9.1 required=5.0"),
                Just("No, score=-1.0 required=5.0")
            ]
            .prop_map(|v| ("X-Spam-Status".to_string(), v.to_string())),
            Just(("X-Klachtd-Case".to_string(), "KL-2026-0001".to_string())),
            prop_oneof![
                Just("text/plain; charset=utf-8"),
                Just("multipart/report; report-type=delivery-status; boundary=\"b1\""),
                Just("multipart/mixed; boundary=\"b1\""),
                Just("Multipart/Report; boundary=b1"),
                Just("multipart/report; report-type=disposition-notification; boundary=\"b1\""),
                Just("text/calendar; method=REPLY"),
                Just(
                    "multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b1\""
                ),
            ]
            .prop_map(|v| ("Content-Type".to_string(), v.to_string())),
            Just((
                "Content-Transfer-Encoding".to_string(),
                "base64".to_string()
            )),
            Just((
                "Received".to_string(),
                "from a.example.net by mail.example.org; Mon, 30 Nov 2026 10:00:00 +0100"
                    .to_string()
            )),
            Just((
                "Date".to_string(),
                "Mon, 30 Nov 2026 10:00:00 +0100".to_string()
            )),
        ];
        (field, 0..3u8).prop_map(|((name, value), case)| {
            let name = match case {
                0 => name,
                1 => name.to_lowercase(),
                _ => name.to_uppercase(),
            };
            (name, value)
        })
    }

    /// A generated raw mail: header fields in any order and case, some folded, with a body
    /// that may not decode (broken base64, a boundary that never occurs, a NUL).
    fn generated_mail() -> impl Strategy<Value = Vec<u8>> {
        let body = prop_oneof![
            Just("Geachte heer, mevrouw,\r\n\r\nIk heb een klacht.\r\n".to_string()),
            Just("SGVsbG8g!*~%\r\nbroken=base64=\r\n".to_string()),
            Just("--b1\r\nContent-Type: text/plain\r\n\r\nTekst\r\n--b1\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--b1--\r\n".to_string()),
            Just("--other\r\nContent-Type: text/plain\r\n\r\nverkeerde grens\r\n".to_string()),
            Just("--b1\r\nContent-Type: text/plain\r\n\r\nUitnodiging\r\n--b1\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n--b1--\r\n".to_string()),
            Just(String::new()),
            "[ -~]{0,80}",
        ];
        (
            proptest::collection::vec((header_field(), any::<bool>()), 0..12),
            body,
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(fields, body, lf_only, blank_line)| {
                let mut raw = String::new();
                for ((name, value), fold) in fields {
                    let value = match value.find(' ') {
                        Some(at) if fold => format!("{}\r\n\t{}", &value[..at], &value[at + 1..]),
                        _ => value,
                    };
                    raw.push_str(&format!("{name}: {value}\r\n"));
                }
                if blank_line {
                    raw.push_str("\r\n");
                }
                raw.push_str(&body);
                if lf_only {
                    raw = raw.replace("\r\n", "\n");
                }
                raw.into_bytes()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// What the headers alone decide is what the full classification decides: whenever
        /// `classify_by_headers` gives a verdict on the header-only decoding, `classify` of
        /// the fully decoded mail gives the same; whenever `classify` makes a mail spam or a
        /// machine's, the headers alone say so too (no robot's body is ever decoded). And
        /// everything the header-only decoding reads equals the full decoding's.
        #[test]
        fn fast_verdict_equals_the_full_classification(raw in generated_mail()) {
            let known = OneCase { complainant: "jan@example.net".into(), our_ack: "ack@example.org".into() };
            let settings = settings();
            let Some(full) = InboundMail::parse(&raw) else {
                prop_assert!(InboundMail::parse_headers(&raw).is_none());
                return Ok(());
            };
            let verdict = classify(&full, &settings, &known);
            let head = InboundMail::parse_headers(&raw);
            let fast = head.as_ref().and_then(|h| classify_by_headers(h, &settings));
            if let Some(fast) = &fast {
                prop_assert_eq!(fast, &verdict);
            }
            // Only a convention that needs the MIME structure waits for the body.
            let by_structure = matches!(
                &verdict,
                Classification::Automatic(Automatic::Convention(c)) if c.needs_body()
            );
            if matches!(verdict, Classification::Spam | Classification::Automatic(_)) && !by_structure {
                prop_assert_eq!(fast.as_ref(), Some(&verdict));
            }
            if let Some(head) = head {
                prop_assert_eq!(&head.fingerprint, &full.fingerprint);
                prop_assert_eq!(&head.signals, &full.signals);
                prop_assert_eq!(&head.from, &full.from);
                prop_assert_eq!(&head.from_unusable, &full.from_unusable);
                prop_assert_eq!(head.several_senders, full.several_senders);
                prop_assert_eq!(&head.message_id, &full.message_id);
                prop_assert_eq!(&head.subject, &full.subject);
                prop_assert_eq!(&head.recipients, &full.recipients);
                prop_assert_eq!(&head.thread_ids, &full.thread_ids);
                prop_assert_eq!(&head.trace, &full.trace);
                prop_assert!(head.text.is_empty() && head.attachments.is_empty());
            }
        }
    }

    /// The sample corpus (and its robots in particular): the header-only decoding gives the
    /// full decoding's fingerprint, and the same verdict wherever it gives one.
    #[test]
    fn the_samples_are_judged_the_same_from_their_headers() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let known = OneCase {
            complainant: "x@example.net".into(),
            our_ack: "ack@example.org".into(),
        };
        let settings = settings();
        let mut decided = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "eml") {
                continue;
            }
            let raw = std::fs::read(&path).unwrap();
            let full = InboundMail::parse(&raw).unwrap();
            let head = InboundMail::parse_headers(&raw).unwrap();
            assert_eq!(head.fingerprint, full.fingerprint, "{}", path.display());
            if let Some(fast) = classify_by_headers(&head, &settings) {
                assert_eq!(
                    fast,
                    classify(&full, &settings, &known),
                    "{}",
                    path.display()
                );
                decided.push(path.file_name().unwrap().to_string_lossy().to_string());
            }
        }
        decided.sort();
        // The newsletter, the two auto-replies, the bounce and the spam; nothing else.
        assert_eq!(
            decided,
            [
                "12_nieuwsbrief_bulk_list_id.eml",
                "13_afwezig_outlook_automatisch_antwoord.eml",
                "14_vakantie_precedence_junk.eml",
                "15_dsn_bounce_postfix.eml",
                "16_spam_gemarkeerd_xspamflag.eml",
            ]
        );
    }

    #[test]
    fn base_addresses() {
        assert_eq!(base_address("Jan+Klacht@X.NL"), "jan@x.nl");
        assert_eq!(base_address("jan@x.nl"), "jan@x.nl");
    }
}
